"""The contract both allocators implement: protocol, errors, Config, Stats, Snapshot.

The protocols are here; the errors are in ``hakmem_verify.contract.errors``, ``Config`` in
``hakmem_verify.contract.config``, ``Stats`` and the snapshots in ``hakmem_verify.contract.snapshot``, and this module
re-exports them all: ``from hakmem_verify.contract.api import ...`` is the one import an implementation
needs.

The tiny pool serves sizes 0..1024 bytes from eight size classes.  Two
implementations meet this contract: ``hakmem_verify.models.ref`` (simple, obviously
correct) and ``hakmem_verify.models.fast`` (the seed design).  They never import each other;
``hakmem_verify.oracle.lockstep`` drives both through the protocol below.

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

from dataclasses import dataclass, field
from typing import Iterator, Mapping, Optional, Protocol, runtime_checkable

from .config import SEED_CLASS_SIZES, USE_SUPERSLAB_DEFAULT, Config, size_to_class
from .errors import (AllocatorError, BadArgument, ConfigError, DoubleFree, ImplementationCrashed,
                     InvalidAddress, InvalidFree, InvariantViolation, OutOfBounds, SizeError,
                     StructureCorrupted)
from .snapshot import SlabSnap, Snapshot, Stats, SuperSlabSnap, ThreadSnap, partial_threads

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
    """The ops as atomic steps: what the concurrent machine (``hakmem_verify.oracle.concurrent``) runs,
    interleaving the steps of several threads under a scheduler.

    Each method returns a generator.  The call validates its arguments (an error is
    raised there, state unchanged); each ``next()`` then performs one atomic step and
    yields a label naming the shared word it accessed (``"load"``, ``"cas"``,
    ``"cas-retry"``, ``"lock"``...: the report counts races per label); the generator's
    return value (``StopIteration.value``) is the op's result.  Run to the end with no
    other thread's step in between, a generator must be its sequential op exactly:
    ``hakmem_verify.models.fast`` runs every sequential op this way (``hakmem_verify.models.fast.steps.run_steps``),
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
    list (``hakmem_verify.check.slab_accounting``).
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
                        "a hakmem_verify.contract.api.Capabilities")
    return caps


def has_hooks(impl) -> bool:
    """True when impl offers the white-box hooks (the whole catalogue applies)."""
    return isinstance(impl, Hooks)


__all__ = [
    # the protocols and what a foreign implementation promises (here)
    "Allocator", "Steps", "Hooks", "Footprint", "Capabilities", "STRICT", "capabilities_of",
    "has_hooks",
    # hakmem_verify.contract.errors
    "AllocatorError", "SizeError", "InvalidAddress", "InvalidFree", "DoubleFree", "OutOfBounds",
    "BadArgument", "ConfigError", "ImplementationCrashed", "StructureCorrupted",
    "InvariantViolation",
    # hakmem_verify.contract.config
    "Config", "SEED_CLASS_SIZES", "USE_SUPERSLAB_DEFAULT", "size_to_class",
    # hakmem_verify.contract.snapshot
    "Stats", "SlabSnap", "ThreadSnap", "SuperSlabSnap", "Snapshot", "partial_threads",
]
