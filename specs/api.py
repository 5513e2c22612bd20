"""The contract both allocators implement: protocol, errors, Config, Stats, Snapshot.

The tiny pool serves sizes 0..1024 bytes from eight size classes.  Two
implementations meet this contract: ``hakmem_ref`` (simple, obviously
correct) and ``hakmem_fast`` (the seed design).  They never import each other;
``specs.lockstep`` drives both through the protocol below.

Decisions written here are the contract:

* ``alloc(0)`` returns a minimum block (class 0, usable size 8), as C's
  ``malloc(0)`` may; a size that is not an ``int`` (``bool`` included), is
  negative or exceeds the largest class raises :class:`SizeError`.
* ``alloc`` returns ``None`` only for out of memory.
* Every error is raised with the allocator's state unchanged.
* A tid is an int >= 0 (else :class:`BadArgument`).  Thread state is created
  on first use; ``thread_exit`` of a tid with no state is a no-op.  Freeing a
  live block after the thread that allocated it exited is legal (the block
  is still live); freeing it twice is a :class:`DoubleFree`.
* Argument errors are checked first: a bad tid, write data that is not
  bytes, a read length that is not an int (``bool`` included) raise
  :class:`BadArgument` before any size or address is looked at.  A negative
  read length is :class:`OutOfBounds`.  Freeing a block start of a slab that
  is not live (freed, or never handed out) is a :class:`DoubleFree`; once the
  slab itself was released the address is foreign and :class:`InvalidFree`
  (the parent of DoubleFree) is the answer.
* New blocks are not zeroed: only bytes the client wrote are defined.
* ``usable_size``/``read``/``write`` of an address that is not inside a live
  block raise :class:`InvalidAddress` (usable_size) or :class:`OutOfBounds`.
* Memory is simulated: addresses are plain ints, slabs are ``slab_size``
  aligned, block ``i`` of a slab lives at ``base + i * block_size``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Optional, Protocol, runtime_checkable

# ============================================================================
# Errors
# ============================================================================


class AllocatorError(Exception):
    """Base of every error an allocator raises for bad client input."""


class SizeError(AllocatorError, ValueError):
    """alloc() got a size that is not an int in 0..max class size."""


class InvalidAddress(AllocatorError):
    """An address that is not the start of a live block of this pool."""


class InvalidFree(InvalidAddress):
    """free() got an address that is not the start of a block of this pool."""


class DoubleFree(InvalidFree):
    """free() got the start of a block that is not live (already free)."""


class OutOfBounds(AllocatorError):
    """read()/write() outside a live block's usable size, or of a free block."""


class BadArgument(AllocatorError, TypeError):
    """A tid that is not an int >= 0, data that is not bytes, a count that is not an int."""


class ConfigError(ValueError):
    """An impossible Config (e.g. slab size not a multiple of a class size)."""


class ImplementationCrashed(Exception):
    """The implementation's process died under a call (a C library run in a child).

    ``kind`` is ``CRASH`` (killed by a signal, or exited) or ``ABORT`` (SIGABRT: the
    library's own check fired); ``detail`` says how; ``stderr`` is the tail of what it
    wrote (glibc and mimalloc name the corruption there before aborting).
    """

    def __init__(self, kind: str, detail: str, stderr: str = ""):
        self.kind, self.detail, self.stderr = kind, detail, stderr
        super().__init__(detail + (f"; its stderr ends: {stderr}" if stderr else ""))


class StructureCorrupted(AssertionError):
    """An implementation found one of its own structures corrupted, and stopped before
    changing anything (mimalloc's "corrupted thread-free list").

    ``structure`` names it with the design's word (``remote_head``: a slab's remote-free
    stack); ``detail`` says where and how.  Implementations raise this, not a catalogue
    ID: the harness maps the structure to the check that covers it
    (``specs.invariants.violation_of``).
    """

    def __init__(self, structure: str, detail: str):
        self.structure, self.detail = structure, detail
        super().__init__(f"{structure}: {detail}")


class InvariantViolation(AssertionError):
    """An invariant of the catalogue does not hold.

    ``inv_id`` is the catalogue ID (``SLAB-03``); the message starts with
    ``[ID]`` and names the offending block, slab, class and thread.
    """

    def __init__(self, inv_id: str, message: str, dump: str = ""):
        self.inv_id = inv_id
        self.detail = message
        self.dump = dump
        text = f"[{inv_id}] {message}"
        if dump:
            text += "\n" + dump
        super().__init__(text)


# ============================================================================
# Config: every limit of the design is a knob; defaults are the seed's numbers
# ============================================================================

SEED_CLASS_SIZES = (8, 16, 32, 64, 128, 256, 512, 1024)

#: The seed's switch of the SuperSlab mode: ``HAKMEM_TINY_USE_SUPERSLAB=1`` in the
#: environment when this module is loaded turns it on (off by default, as in the seed).
USE_SUPERSLAB_DEFAULT = os.environ.get("HAKMEM_TINY_USE_SUPERSLAB") == "1"


@dataclass(frozen=True)
class Config:
    """Geometry and limits of the tiny pool (defaults: the seed design).

    Tests shrink these to reach rare paths in a few steps: a 4-block slab,
    a magazine of 2, a flush interval of 4.

    SuperSlab mode (``use_superslab``, default from ``HAKMEM_TINY_USE_SUPERSLAB``): slabs
    are carved from ``superslab_size``-aligned SuperSlabs owned by one thread (slot 0 holds
    the header), at most ``superslab_pool_max`` empty ones are kept for reuse, and a local
    free goes first to the thread's free list of the class (at most ``tls_sll_capacity``
    blocks).  ``max_slabs_per_class`` bounds the slabs in use per class in both modes;
    SuperSlabs themselves are mapped on demand without a limit, so the client sees the same
    limit either way (the reference has no SuperSlabs and needs no change).
    """

    class_sizes: tuple = SEED_CLASS_SIZES  # block size per class, ascending
    slab_size: int = 64 * 1024             # bytes per slab; also its alignment
    word_bits: int = 64                    # bits per bitmap word
    mini_mag_capacity: int = 16            # PageMiniMag.capacity (seed: 16, up to 32)
    refill_batch: int = 16                 # blocks moved bitmap -> mini-mag per refill
    magazine_capacity: int = 2048          # TLS magazine items per class per thread
    flush_interval: int = 256              # stat events per thread batch before flush
    max_slabs_per_class: Optional[int] = None  # memory limit; None = unlimited
    check_level: int = 0                   # the implementation's own self-check after every call (0 = off)
    base_address: int = 0x1_0000_0000      # address of the first slab
    # SuperSlab mode (hakmem_fast.superslab): slabs carved from thread-owned aligned regions
    use_superslab: bool = USE_SUPERSLAB_DEFAULT  # env HAKMEM_TINY_USE_SUPERSLAB=1 at load
    superslab_size: int = 2 * 1024 * 1024  # bytes per SuperSlab; also its alignment
    superslab_pool_max: int = 2            # empty SuperSlabs kept for reuse (more: to the OS)
    tls_sll_capacity: int = 64             # bound of a thread's free list per class

    def __post_init__(self):
        def need(cond, what):
            if not cond:
                raise ConfigError(f"impossible Config: {what} (got {self!r})")

        need(isinstance(self.class_sizes, tuple) and len(self.class_sizes) >= 1,
             "class_sizes must be a non-empty tuple")
        need(all(isinstance(s, int) and not isinstance(s, bool) and s >= 8
                 for s in self.class_sizes),
             "every class size must be an int >= 8 (a free block holds an 8-byte next pointer)")
        need(all(s % 8 == 0 for s in self.class_sizes), "class sizes must be multiples of 8")
        need(list(self.class_sizes) == sorted(set(self.class_sizes)),
             "class_sizes must be strictly ascending")
        for name in ("slab_size", "word_bits", "mini_mag_capacity", "refill_batch",
                     "magazine_capacity", "flush_interval"):
            v = getattr(self, name)
            need(isinstance(v, int) and not isinstance(v, bool) and v >= 1,
                 f"{name} must be a positive int")
        need(self.slab_size & (self.slab_size - 1) == 0, "slab_size must be a power of two")
        need(self.slab_size // self.class_sizes[-1] >= 1, "a slab must hold a block")
        need(self.max_slabs_per_class is None
             or (isinstance(self.max_slabs_per_class, int)
                 and not isinstance(self.max_slabs_per_class, bool)
                 and self.max_slabs_per_class >= 1),
             "max_slabs_per_class must be None or a positive int")
        need(isinstance(self.check_level, int) and not isinstance(self.check_level, bool)
             and 0 <= self.check_level <= 3,
             "check_level must be 0..3")
        need(isinstance(self.base_address, int) and self.base_address > 0
             and self.base_address % self.slab_size == 0,
             "base_address must be a positive multiple of slab_size")
        need(isinstance(self.use_superslab, bool), "use_superslab must be a bool")
        need(isinstance(self.superslab_size, int) and not isinstance(self.superslab_size, bool)
             and self.superslab_size > 0 and self.superslab_size & (self.superslab_size - 1) == 0
             and self.superslab_size % self.slab_size == 0
             and self.superslab_size >= 2 * self.slab_size,
             "superslab_size must be a power of two, a multiple of slab_size, at least 2 slabs")
        for name in ("superslab_pool_max", "tls_sll_capacity"):
            v = getattr(self, name)
            need(isinstance(v, int) and not isinstance(v, bool) and v >= 0,
                 f"{name} must be an int >= 0")

    # ---- derived geometry -------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.class_sizes)

    @property
    def max_size(self) -> int:
        return self.class_sizes[-1]

    def blocks_per_slab(self, class_idx: int) -> int:
        return self.slab_size // self.class_sizes[class_idx]

    def words_per_slab(self, class_idx: int) -> int:
        return -(-self.blocks_per_slab(class_idx) // self.word_bits)

    @property
    def superslab_slots(self) -> int:
        """Slab-sized slots of a SuperSlab (slot 0 is its header)."""
        return self.superslab_size // self.slab_size


def size_to_class(size, class_sizes=SEED_CLASS_SIZES) -> int:
    """Smallest class whose block size holds ``size`` bytes (0 -> class 0).

    Raises SizeError for a non-int, negative or too-large size.

    >>> size_to_class(0), size_to_class(8), size_to_class(9), size_to_class(1024)
    (0, 0, 1, 7)
    """
    if not isinstance(size, int) or isinstance(size, bool):
        raise SizeError(f"size must be an int, got {type(size).__name__} {size!r}")
    if size < 0 or size > class_sizes[-1]:
        raise SizeError(f"size {size} outside the tiny pool's range 0..{class_sizes[-1]}; "
                        f"larger sizes belong to another pool")
    for idx, cs in enumerate(class_sizes):
        if size <= cs:
            return idx
    raise AssertionError("unreachable")  # pragma: no cover


# ============================================================================
# Statistics
# ============================================================================


@dataclass(frozen=True)
class Stats:
    """Alloc and free counts per class (tuples indexed by class)."""

    allocs: tuple
    frees: tuple

    @classmethod
    def zero(cls, num_classes: int) -> "Stats":
        return cls((0,) * num_classes, (0,) * num_classes)

    def live(self, class_idx: int) -> int:
        return self.allocs[class_idx] - self.frees[class_idx]


# ============================================================================
# Snapshot: plain data, the input of every invariant in specs.invariants
# ============================================================================


@dataclass(frozen=True)
class SlabSnap:
    """One slab. Bit = 1 means used; bits past nblocks are padding (must be 1).

    ``mini_mag`` and ``remote`` are the intrusive lists read from memory, head
    first, walked at most capacity + 1 (resp. nblocks + 1) steps; a walk that
    ends early on a cycle or a foreign pointer records it in ``walk_errors``.
    """

    base: int
    class_idx: int
    block_size: int
    nblocks: int
    words: tuple            # bitmap words
    summary: tuple          # summary words: bit w set <=> words[w] has a free bit
    hint_word: int          # scan start (lower bound of the first word with a free bit)
    free_count: int         # number of bitmap-free blocks
    mini_mag: tuple         # addresses, head first
    mini_mag_count: int
    mini_mag_capacity: int
    remote: tuple           # addresses, head first
    remote_count: int
    owner: Optional[int]    # tid whose active slab this is, None when unowned
    walk_errors: tuple = ()
    foreign_writes: tuple = ()  # (writer tid, owner tid) of owner-private writes by a
    #                             thread that did not own the slab (OWN-03); () if none
    foreign_handouts: tuple = ()  # (tid, owner tid, addr) of blocks handed to a thread
    #                               neither from its magazine nor from a slab it owns (OWN-04)
    superslab: Optional[int] = None  # base of its SuperSlab (SuperSlab mode), else None
    ss_owner: Optional[int] = None   # the owner its SuperSlab's header names (None: abandoned)
    tls_sll: tuple = ()     # its blocks on any thread's tls_sll (SuperSlab mode), sorted


@dataclass(frozen=True)
class ThreadSnap:
    """Per-thread state: magazines (bottom..top), active slabs, pending stats.

    ``magazines[c] == items[magazine_lo[c]:top]``: a complete snapshot has
    ``magazine_lo`` all 0 (or empty, meaning 0); a partial one copies only the
    slots at and above the lowest slot the op touched (``Footprint.mags``), and
    ``magazine_lo[c] == top`` for a magazine it does not copy at all.
    """

    tid: int
    magazines: tuple        # per class: tuple of addresses, bottom first
    magazine_tops: tuple    # per class: top index as stored
    active_a: tuple         # per class: slab base or None
    active_b: tuple
    pending_allocs: tuple   # per class: batched, not yet flushed
    pending_frees: tuple
    magazine_lo: tuple = ()  # per class: index of magazines[c][0] in the magazine
    tls_sll: tuple = ()     # SuperSlab mode, per class: the free list, head first (walked
    #                         at most tls_sll_capacity + 1 links)
    tls_sll_counts: tuple = ()  # per class: the list's count as stored
    superslabs: tuple = ()  # bases of the SuperSlabs the thread lists as its own
    walk_errors: tuple = ()  # a tls_sll walk that met a cycle or a foreign pointer


@dataclass(frozen=True)
class SuperSlabSnap:
    """One SuperSlab in use: ``nslots`` slab-sized slots, slot 0 its header.

    ``slabs[i]`` is ``(slab base, class)`` of the slab carved in slot i, or None;
    slots ``carved..nslots-1`` were never carved; ``free_slots`` are the slots below
    ``carved`` given back by released slabs.
    """

    base: int
    owner: Optional[int]    # tid of the owning thread, None: abandoned
    nslots: int
    slabs: tuple            # per slot: (base, class) or None; slabs[0] is the header
    free_slots: tuple       # released slots, reused first
    carved: int             # next never-carved slot


@dataclass(frozen=True)
class Snapshot:
    config: Config
    slabs: dict             # base -> SlabSnap (all, or the touched subset)
    threads: dict           # tid -> ThreadSnap (all, or the touched subset)
    flushed: Stats          # global counters (what flushes added)
    exact: Stats            # true counts
    reported: Stats = None  # what stats() returns to the client
    complete: bool = True   # False when only touched slabs/threads are included
    path_counts: dict = field(default_factory=dict)
    superslabs: dict = field(default_factory=dict)  # base -> SuperSlabSnap (SuperSlab mode)
    #   the headers in use: all of them on a complete snapshot; on a partial one those the
    #   included slab bases mask to, the pooled ones and those of the blocks on the included
    #   threads' tls_sll lists (a requested base missing from it is not in use)
    ss_pool: tuple = ()     # bases of the empty SuperSlabs kept for reuse
    ss_bad_releases: tuple = ()  # (SuperSlab base, slab base, blocks in use, remote blocks)
    #                              of slabs a SuperSlab release met (SS-04); () if none


# ============================================================================
# The protocol
# ============================================================================


@runtime_checkable
class Allocator(Protocol):
    config: Config

    def alloc(self, size: int, tid: int = 0) -> Optional[int]:
        """Address of a block of at least ``size`` bytes; None if out of memory."""

    def free(self, addr: int, tid: int = 0) -> None:
        """Return a live block. InvalidFree / DoubleFree on a bad address."""

    def usable_size(self, addr: int) -> int:
        """Block size of a live block (InvalidAddress if not a live block start)."""

    def write(self, addr: int, data: bytes) -> None:
        """Write client bytes at addr inside one live block (OutOfBounds otherwise)."""

    def read(self, addr: int, n: int) -> bytes:
        """Read n client bytes at addr inside one live block (OutOfBounds otherwise)."""

    def thread_exit(self, tid: int) -> None:
        """Return every block cached by tid and flush its stat batch."""

    def stats(self) -> Stats:
        """Reported statistics (may lag the exact ones by the pending batches)."""

    def exact_stats(self) -> Stats:
        """True alloc/free counts per class."""

    def flush_stats(self) -> None:
        """Flush every thread's pending stat batch to the global counters."""

    def quiesce(self) -> None:
        """Every thread's caches and batches returned, every remote stack drained."""


# ============================================================================
# The hooks protocol: white-box access for the oracle
# ============================================================================


@dataclass
class Footprint:
    """What an implementation changed since the last ``take_footprint()``.

    It is the unit of incremental (L2) checking: the oracle re-reads and
    re-checks exactly this, so an implementation must report every change:

    * ``slabs``: bases of slabs created, released, or whose bitmap, summary,
      hint, free_count, mini-magazine, remote stack or owner changed;
    * ``threads``: tids whose thread state was created, changed (active slabs,
      pending statistics) or removed (``thread_exit``);
    * ``mags``: ``(tid, class) -> lo``, the lowest magazine slot written or
      popped (and so the lowest slot whose content may differ; the top may
      have changed too).  Slots below ``lo`` are unchanged.
    """

    slabs: set = field(default_factory=set)
    threads: set = field(default_factory=set)
    mags: dict = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.slabs or self.threads or self.mags)


@runtime_checkable
class Steps(Protocol):
    """The ops as atomic steps: what the concurrent machine (``specs.concurrent``) runs,
    interleaving the steps of several threads under a scheduler.

    Each method returns a generator.  The call validates its arguments (an error is
    raised there, state unchanged); each ``next()`` then performs one atomic step and
    yields a label naming the shared word it accessed (``"load"``, ``"cas"``,
    ``"cas-retry"``, ``"lock"``...: the report counts races per label); the generator's
    return value (``StopIteration.value``) is the op's result.  Run to the end with no
    other thread's step in between, a generator must be its sequential op exactly:
    ``hakmem_fast`` runs every sequential op this way (``hakmem_fast.steps.run_steps``),
    and its generators are the example to follow.  A step that waits for another thread
    (a spin) yields too, so the scheduler can run that thread; an op that spins while the
    others are descheduled is a LIVELOCK finding.

    A foreign allocator offering these and :class:`Hooks` runs under the concurrent machine:
    ``hakmem-fuzz run --machine concurrent --impl MODULE:FACTORY``.
    """

    def free_steps(self, addr: int, tid: int = 0) -> Iterator[str]:
        """``free(addr, tid)`` as atomic steps: a generator that validates first (an error
        is raised, state unchanged, before the first step), then yields a label after
        each access to a word shared between threads (a remote push yields ``"load"``,
        ``"link"``, ``"cas-retry"``..., ``"cas"``).  Run to the end, it is ``free``;
        a scheduler may run other threads' steps between two of its steps."""


    def alloc_steps(self, size: int, tid: int = 0) -> Iterator[str]:
        """``alloc(size, tid)`` as atomic steps; the generator returns alloc's result
        (``StopIteration.value``).  Validates at the call (error raised, state unchanged)."""

    def drain_steps(self, tid: int, class_idx: int) -> Iterator[str]:
        """``drain_remote(tid, class_idx)`` as atomic steps; returns the blocks drained."""

    def evict_steps(self, tid: int, class_idx: int) -> Iterator[str]:
        """``evict_active(tid, class_idx)`` as atomic steps; returns True if evicted."""

    def thread_exit_steps(self, tid: int) -> Iterator[str]:
        """``thread_exit(tid)`` as atomic steps."""

    def flush_steps(self, tid: int) -> Iterator[str]:
        """Thread tid flushes its own stat batches, as atomic steps."""


@runtime_checkable
class Hooks(Steps, Protocol):
    """Everything the oracle may ask of an implementation beyond :class:`Allocator`
    (the step generators of :class:`Steps` included).

    An implementation that offers only ``Allocator`` is checked black-box
    (outcomes, usable sizes, client data, no double allocation, statistics).
    One that also implements these hooks gets the whole invariant catalogue,
    checked incrementally on each op's :class:`Footprint`.

    Optional, outside the protocol: ``pool_lists()`` returns the pool's list of released
    slab bases, the first slab address it carves and the next one it would carve
    (``(released, first_base, next_base)``), or None where slabs are not carved in one
    sequence (SuperSlab mode).  With it SLAB-ACCT also finds a slab that fell off every
    list (``specs.invariants.slab_accounting``).
    """

    @property
    def path_counts(self) -> Mapping[str, int]:
        """The design's debug counters: which stage served each alloc, which route each
        free took, and the refill / spill / drain / flush / release events.  A live view
        or a fresh copy at each read: the oracle reads it before and after every op."""

    def take_footprint(self) -> Footprint:
        """What changed since the last call (see :class:`Footprint`); resets it."""

    def snapshot(self, bases=None, mags=None, tids=None) -> Snapshot:
        """Plain-data state.  ``bases=None``: complete (every slab and thread, every
        magazine whole).  Otherwise partial: the slabs in ``bases``; the threads in
        ``tids`` (every thread if None) and those named in ``mags``, each with its
        tops, active slabs and pending stats; and of the magazines named in ``mags``
        (``(tid, class) -> lo``) the slots from ``lo`` to the top."""

    def slab_bases(self, class_idx: Optional[int] = None) -> list:
        """Sorted bases of the slabs in use (of one class, or all)."""

    def active_slab(self, tid: int, class_idx: int, which: str = "a") -> Optional[int]:
        """Base of tid's active slab A (``which="a"``) or B of class_idx, or None."""

    def evict_active(self, tid: int, class_idx: int) -> bool:
        """Evict tid's active slab A of class_idx (spill, drain, unown); B moves to A."""

    def drain_remote(self, tid: int, class_idx: int) -> int:
        """Owner tid drains the remote stacks of its active slabs of class_idx."""

    def refill_active(self, tid: int, class_idx: int) -> int:
        """Batch-refill tid's active slab A of class_idx from its bitmap; blocks moved."""


# ============================================================================
# What a foreign implementation promises
# ============================================================================


@dataclass(frozen=True)
class Capabilities:
    """The geometry and the checks an implementation promises, so that one whose sizes or
    error handling differ from the reference's is tested on its own terms.

    Declare it as the attribute ``capabilities`` of the factory (a function attribute, or
    a class attribute of the allocator class given as factory)::

        def make(config): return MyAllocator(config)
        make.capabilities = Capabilities(class_sizes=(16, 32, 64), detects_invalid_frees=False)

    * ``class_sizes``: the usable sizes the implementation hands out, ascending (any
      multiples of 8; a block of a size the slab does not divide leaves a tail unused).
      Every Config it is given has these classes (:meth:`adopt`), so the reference
      allocates from the same classes and usable sizes, and sizes range 0..the largest.
      ``None``: the implementation follows ``Config.class_sizes``.
    * ``detects_invalid_frees``: a double, unaligned, interior or foreign free, or
      ``free(None)``, raises the error the module doc names.  ``False``: the harness never
      sends one (such a free is undefined behaviour for it, as for C's ``free``).
    * ``bounds_checked``: a read or write outside a live block raises ``OutOfBounds``.
      ``False``: the harness never sends one.

    Undeclared, an implementation gets the strict default (``Capabilities()``): the
    Config's classes and every bad-input op.  Bad sizes and bad tids are always sent.
    """

    class_sizes: Optional[tuple] = None
    detects_invalid_frees: bool = True
    bounds_checked: bool = True

    def __post_init__(self):
        if self.class_sizes is not None:
            Config(class_sizes=self.class_sizes, slab_size=self.slab_size_for(1))  # validates

    def slab_size_for(self, slab_size: int) -> int:
        """The smallest power of two >= ``slab_size`` that holds the largest class."""
        need = max(slab_size, max(self.class_sizes) if self.class_sizes else 1)
        return 1 << (need - 1).bit_length()

    def adopt(self, config: Config) -> Config:
        """``config`` with the declared classes (the slab grown to hold the largest, the base
        address a multiple of it); unchanged when none are declared."""
        if self.class_sizes is None or tuple(self.class_sizes) == config.class_sizes:
            return config
        import dataclasses
        slab = self.slab_size_for(config.slab_size)
        base = -(-config.base_address // slab) * slab
        sss = max(config.superslab_size, 2 * slab)
        return dataclasses.replace(config, class_sizes=tuple(self.class_sizes),
                                   slab_size=slab, base_address=base, superslab_size=sss)


#: what an implementation that declares nothing is held to
STRICT = Capabilities()


def capabilities_of(factory) -> Capabilities:
    """The Capabilities ``factory`` declares (its ``capabilities`` attribute), else STRICT.
    A declaration of another type is a TypeError naming it."""
    caps = getattr(factory, "capabilities", None)
    if caps is None:
        return STRICT
    if not isinstance(caps, Capabilities):
        raise TypeError(f"{factory!r}.capabilities is {type(caps).__name__} {caps!r}; declare "
                        "a specs.api.Capabilities")
    return caps


def has_hooks(impl) -> bool:
    """True when impl offers the white-box hooks (the whole catalogue applies)."""
    return isinstance(impl, Hooks)
