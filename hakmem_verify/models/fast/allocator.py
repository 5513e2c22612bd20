"""FastAllocator: the seed's tiny pool (hybrid bitmap + mini-magazine), executable.

Allocation, in the seed's order (Phase 2 hot path, then Phase 4 slow path):

  1. TLS magazine pop                       path ``tls_mag``
  2. active slab A's mini-magazine pop      path ``mini_mag``
  3. batch refill A's mini-mag from bitmap  path ``refill``
  4. slow path: drain A's remote stack, try B, refill the TLS magazine from
     the mini-magazines, adopt an unowned partial slab    path ``slow``
  5. a new slab                             path ``new_slab``
  6. out of memory (None)                   path ``oom``

Free routes: a block of a slab owned by *another* thread is pushed on that
slab's remote stack (``remote``); otherwise it goes to the TLS magazine if
there is room (``magazine``), else back to the slab (``local``: mini-mag if
the caller owns the slab and it has room, else the bitmap).

Ownership: a slab is owned by the thread whose active slab (A or B) it is;
only the owner touches its bitmap and mini-mag.  Unowned slabs are changed
only under the global pool lock (implicit in this model).  An evicted slab
spills its mini-magazine, drains its remote stack and becomes unowned; an
unowned slab that is entirely free is released to the pool.

Recording: the seed's debug counters (names in ``PATHS``) and the footprint of
every change (slabs, threads, magazine slots; ``hakmem_verify.contract.api.Footprint``) go
through one ``Probe`` (``hakmem_verify.models.fast.probe``), called at the counter points
and in the five idioms each written once: magazine pop and push, mini-mag
pop, batch refill, remote drain.

Concurrency.  Every public op is a generator of atomic steps
(``hakmem_verify.models.fast.steps``, which also lists the words shared between threads and
the owner-private ones); each sequential op is a thin driver that runs its
generator to completion (``run_steps``), so there is one code path.

SuperSlab mode (``Config.use_superslab``): slabs are carved from thread-owned
SuperSlabs, and a free into the caller's own SuperSlab goes first to its tls_sll,
which an alloc pops first (``hakmem_verify.models.fast.superslab``).

A debug table of handed-out blocks (``_live``) validates every free, read and
write so errors are raised with the state unchanged, as a debug allocator's
headers do; the invariants check that it agrees with the structures.
"""
from __future__ import annotations

from typing import Iterator, Mapping, Optional

from hakmem_verify.contract.api import BadArgument, Config, Footprint, InvalidAddress, Stats
from hakmem_verify.contract.unsupported import require_whole_blocks

from . import core as ops
from . import hooks, introspect, pool, steps, superslab, validate
from .probe import PATHS, Probe
from .steps import run_steps
from .validate import _hex
from .structs import NULL, ThreadState, TinySlab, store_word


class FastAllocator:
    """The seed design over simulated memory; implements ``hakmem_verify.contract.api.Allocator``
    and ``hakmem_verify.contract.api.Hooks``.  Every debug counter and every recorded change goes
    through ``self.probe``.

    A struct with the idioms, the hot path and the free route as methods; the rest of the
    model is functions over its fields, in the package's modules, each taking the allocator
    as its first argument ``fa``: its ops as atomic steps (``steps``), the pool of slabs
    (``pool``), SuperSlab mode (``superslab``), argument validation (``validate``), the
    white-box hooks (``hooks``).
    Its methods of the two protocols are its own; where their body is one of those functions
    they delegate to it.  The fields the modules share (set in ``__init__`` and
    ``superslab.init``): ``config``, ``probe``; the pool: ``_slabs``, ``_class_slabs``,
    ``_free_bases``, ``_next_base``, ``_slab_mask``; the threads: ``_threads``; the debug
    table and counts: ``_live``, ``g_alloc_count``, ``g_free_count``, ``_exact_alloc``,
    ``_exact_free``, ``_check_level``, ``_popped``; SuperSlab mode: ``_ss``, ``_superslabs``,
    ``_ss_pool``, ``_ss_unmapped``, ``_ss_mask``, ``_slow_thread``."""

    def __init__(self, config: Config = Config()):
        require_whole_blocks(config)
        self.config = config
        nc = config.num_classes
        self._slabs = {}                            # base -> TinySlab (all live slabs)
        self._class_slabs = [dict() for _ in range(nc)]  # per class: base -> TinySlab
        self._free_bases = []                       # released slab addresses (reused first)
        self._next_base = config.base_address       # next never-used slab address
        self._threads = {}                          # tid -> ThreadState
        self._live = {}                             # debug table: addr -> class of handed-out blocks
        self.g_alloc_count = [0] * nc               # global flushed counters
        self.g_free_count = [0] * nc
        self._exact_alloc = [0] * nc                # true counts (debug)
        self._exact_free = [0] * nc
        self._slab_mask = ~(config.slab_size - 1)   # addr & mask == base of its slab
        self._check_level = config.check_level      # own self-check after every call (0: off)
        self.probe = Probe(nc)                      # debug counters + footprint
        self._popped = None                         # (tid, addr) of the last magazine pop
        superslab.init(self)                        # SuperSlab mode (off: nothing else)

    # ========================================================================
    # Public API
    # ========================================================================

    def alloc(self, size: int, tid: int = 0) -> Optional[int]:
        """Block of at least ``size`` bytes for thread tid, None if out of memory.
        The steps of :meth:`alloc_steps`, run to completion.

        Cost: O(1) on the hot path; O(refill_batch) on refill; O(slabs of the
        class) on the slow path.
        """
        gen = steps.alloc_steps(self, size, tid)
        try:                                    # run_steps, inlined: the hot path's cost
            while True:
                next(gen)
        except StopIteration as stop:
            return stop.value

    def _handed_out(self, t: ThreadState, c: int, p: int) -> None:
        """Record block p handed to thread t (debug table, exact count, t's batch, and
        where it came from: t's magazine or a slab t owns, OWN-04)."""
        if self._popped != (t.tid, p):              # not from t's magazine: t's own slab?
            slab = self._slabs[p & self._slab_mask]
            if slab.owner != t.tid:
                self.probe.handout(slab.base, t.tid, slab.owner, p, False)
        self._popped = None
        self._live[p] = c
        self._exact_alloc[c] += 1
        self.probe.op(t.tid)
        ops.stats_record_alloc(t.alloc_batch, c)

    def free(self, addr: int, tid: int = 0) -> None:
        """Return a live block. Cost O(1) (O(nblocks) if it releases a slab).
        The steps of :meth:`free_steps`, run to completion."""
        for _ in steps.free_steps(self, addr, tid):     # run_steps, with no result to return
            pass

    def _free(self, addr: int, tid: int):
        """Validate, unlive, route, count.  Returns the remote push's steps, not yet run
        (the last thing a remote free does), or None when the block is already placed."""
        slab, c = validate.validate_free(self, addr, tid)
        t = self._threads.get(tid) or validate.thread(self, tid)
        del self._live[addr]
        self._exact_free[c] += 1
        self.probe.op(tid)
        ops.stats_record_free(t.free_batch, c)
        if ops.stats_flush_if_needed(t.free_batch, self.g_free_count, c,
                                     self.config.flush_interval):
            self.probe.hit("stat_flush")
        return self._free_route(t, slab, addr)

    def usable_size(self, addr: int) -> int:
        c = self._live.get(addr) if isinstance(addr, int) and not isinstance(addr, bool) else None
        if c is None:
            raise InvalidAddress(f"usable_size({_hex(addr)}): not the start of a live block")
        return self.config.class_sizes[c]

    def write(self, addr: int, data: bytes) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise BadArgument(f"write data must be bytes, got {type(data).__name__}")
        slab, off = validate.check_access(self, addr, len(data), "write")
        slab.mem[off:off + len(data)] = data

    def read(self, addr: int, n: int) -> bytes:
        if not isinstance(n, int) or isinstance(n, bool):
            raise BadArgument(f"read length must be an int, got {type(n).__name__}")
        slab, off = validate.check_access(self, addr, n, "read")
        return bytes(slab.mem[off:off + n])

    def thread_exit(self, tid: int) -> None:
        """Return every block tid caches, release its active slabs, flush its stats.
        The steps of :meth:`thread_exit_steps`, run to completion."""
        run_steps(steps.thread_exit_steps(self, tid))

    def stats(self) -> Stats:
        return Stats(tuple(self.g_alloc_count), tuple(self.g_free_count))

    def exact_stats(self) -> Stats:
        return Stats(tuple(self._exact_alloc), tuple(self._exact_free))

    def flush_stats(self) -> None:
        """Every thread flushes its stat batches (the steps of :meth:`flush_steps`)."""
        for tid in list(self._threads):
            run_steps(steps.flush_steps(self, tid))

    def quiesce(self) -> None:
        """Exit every thread, drain every remote stack, release every free slab.
        The steps of :meth:`quiesce_steps`, run to completion."""
        run_steps(steps.quiesce_steps(self))

    # ========================================================================
    # The ops as atomic steps (``steps``) and the white-box hooks: contract.api.Hooks
    # ========================================================================

    def alloc_steps(self, size: int, tid: int = 0) -> Iterator[str]:
        return steps.alloc_steps(self, size, tid)

    def free_steps(self, addr: int, tid: int = 0) -> Iterator[str]:
        return steps.free_steps(self, addr, tid)

    def drain_steps(self, tid: int, class_idx: int) -> Iterator[str]:
        return steps.drain_steps(self, tid, class_idx)

    def evict_steps(self, tid: int, class_idx: int) -> Iterator[str]:
        return steps.evict_steps(self, tid, class_idx)

    def thread_exit_steps(self, tid: int) -> Iterator[str]:
        return steps.thread_exit_steps(self, tid)

    def flush_steps(self, tid: int) -> Iterator[str]:
        return steps.flush_steps(self, tid)

    def quiesce_steps(self) -> Iterator[str]:
        return steps.quiesce_steps(self)

    @property
    def path_counts(self) -> Mapping[str, int]:
        """The seed's debug counters (read-only view; names in ``PATHS``)."""
        return self.probe.view

    def evict_active(self, tid: int, class_idx: int) -> bool:
        """Evict tid's active slab A of class_idx (spill + drain + unown); B moves to A.
        The steps of ``evict_steps``, run to completion."""
        return run_steps(steps.evict_steps(self, tid, class_idx))

    def refill_active(self, tid: int, class_idx: int) -> int:
        return hooks.refill_active(self, tid, class_idx)

    def drain_remote(self, tid: int, class_idx: int) -> int:
        """Owner tid drains the remote stacks of its active slabs of class_idx.
        The steps of ``drain_steps``, run to completion; blocks drained."""
        return run_steps(steps.drain_steps(self, tid, class_idx))

    def live_blocks(self) -> dict:
        return dict(self._live)

    def active_slab(self, tid: int, class_idx: int, which: str = "a") -> Optional[int]:
        return hooks.active_slab(self, tid, class_idx, which)

    def slab_bases(self, class_idx: Optional[int] = None) -> list:
        return hooks.slab_bases(self, class_idx)

    def pool_lists(self):
        return hooks.pool_lists(self)

    def take_footprint(self) -> Footprint:
        """What changed since the last call (``hakmem_verify.contract.api.Footprint``); resets it. O(1)."""
        return self.probe.take()

    def snapshot(self, bases=None, mags=None, tids=None):
        """Plain data: every slab and thread (``bases=None``); or the slabs in ``bases``,
        the threads in ``tids`` (all if None) and those named in ``mags``
        (``{(tid, class): lo}``), with the magazine slots from lo to the top of the
        named magazines (see ``introspect.snapshot``)."""
        return introspect.snapshot(self, bases, mags, tids)

    # ========================================================================
    # The idioms, each written once: magazine pop/push, mini-mag pop, refill, drain
    # ========================================================================

    def _mag_pop(self, t: ThreadState, c: int, path=None) -> int:
        """Pop tid's TLS magazine of class c (``items[--top]``), NULL when empty;
        a pop counts as debug counter ``path`` if given."""
        mag = t.mags[c]
        top = mag.top
        if top == 0:
            return NULL
        top -= 1
        mag.top = top
        self.probe.mag(t.tid, c, top, path)
        self._popped = (t.tid, mag.items[top])        # the last block a magazine gave out
        return mag.items[top]

    def _mag_push(self, t: ThreadState, c: int, addr: int, path=None) -> bool:
        """Push on tid's TLS magazine of class c (``items[top++]``); False when full;
        a push counts as debug counter ``path`` if given."""
        mag = t.mags[c]
        top = mag.top
        if top >= mag.cap:
            return False
        mag.items[top] = addr
        mag.top = top + 1
        self.probe.mag(t.tid, c, top, path)
        return True

    def _mini_mag_pop(self, slab: TinySlab, tid=None) -> int:
        """mini_mag_pop(&slab->mini_mag) (owner only): the head block, NULL when empty."""
        self.probe.priv(slab.base, tid, slab.owner)
        return ops.mini_mag_pop(slab, slab.mini_mag)

    def _refill(self, slab: TinySlab, tid=None) -> int:
        """batch_refill_from_bitmap(slab, &slab->mini_mag, refill_batch): blocks moved."""
        if slab.bitmap.free_count == 0:
            return 0
        self.probe.priv(slab.base, tid, slab.owner)
        return ops.batch_refill_from_bitmap(slab, slab.mini_mag, self.config.refill_batch)

    def _drain(self, slab: TinySlab, tid=None) -> int:
        """Splice slab's remote stack into its bitmap (``steps.drain_slab_steps`` run to
        completion); ``tid``: the draining thread (None: the pool, at quiescence)."""
        return run_steps(steps.drain_slab_steps(self, tid, slab))

    # ========================================================================
    # Allocation: hot path (Phase 2); the slow path (Phase 4) is ``steps`` and ``pool``
    # ========================================================================

    def _alloc_hot(self, t: ThreadState, c: int) -> int:
        """Fast path: TLS magazine, then A's mini-mag, then a batch refill of A (in
        SuperSlab mode the tls_sll first)."""
        if self._ss:
            p = superslab.sll_pop(self, t, c)
            if p != NULL:
                self.probe.hit("ss_alloc_tls_sll_hit")
                return p
        p = self._mag_pop(t, c, "tls_mag")
        if p != NULL:
            return p
        a = t.active_a[c]
        if a is None:
            return NULL
        p = self._hot_mini_mag(t, a)
        return p if p != NULL else self._hot_refill(t, a)

    def _hot_mini_mag(self, t: ThreadState, a: TinySlab) -> int:
        """Fast path, stage 2: a block popped from A's mini-mag, NULL when it is empty."""
        if a.mini_mag.count > 0:
            return self._pop_counted(t, a, "mini_mag")
        return NULL

    def _hot_refill(self, t: ThreadState, a: TinySlab) -> int:
        """Fast path, stage 3: a batch refill of A's mini-mag from its bitmap, then a
        block popped from it; NULL when the bitmap has no free block."""
        if self._refill(a, t.tid) > 0:
            return self._pop_counted(t, a, "refill")
        return NULL

    def _pop_counted(self, t: ThreadState, a: TinySlab, path: str) -> int:
        """Pop A's mini-mag (owner t); a block that comes out is counted ``path``."""
        p = self._mini_mag_pop(a, t.tid)
        if p != NULL:
            self.probe.hit(path)
        return p

    # ========================================================================
    # Free
    # ========================================================================

    def _free_route(self, t: ThreadState, slab: TinySlab, addr: int):
        """Route a freed block: remote push (its steps returned, not yet run) to a slab
        owned by another thread, else the TLS magazine, else back to the slab (SuperSlab
        mode: ``superslab.free_route``)."""
        if self._ss:
            return superslab.free_route(self, t, slab, addr)
        if slab.owner is not None and slab.owner != t.tid:
            return self._remote_push(slab, addr)
        self._keep_or_return(t, slab, addr)
        return None

    def _keep_or_return(self, t: ThreadState, slab: TinySlab, addr: int) -> bool:
        """A freed block the caller does not push remotely: into t's TLS magazine (True),
        else back to its slab (``mag_overflow``; False)."""
        if self._mag_push(t, slab.class_idx, addr, "free_magazine"):
            return True
        self.probe.hit("mag_overflow")
        self._return_block(t.tid, slab, addr)
        return False

    def _remote_push(self, slab: TinySlab, addr: int):
        """Route ``free_remote``: the steps of a push on slab's remote stack."""
        self.probe.slab_hit("free_remote", slab.base)
        return ops.remote_push_steps(slab, addr)

    def _return_block(self, tid: int, slab: TinySlab, addr: int) -> None:
        """Put a free block back into its slab from thread tid (not its magazine):
        ``steps.return_block_steps`` run to completion."""
        run_steps(steps.return_block_steps(self, tid, slab, addr))

    def _put_local(self, tid: int, slab: TinySlab, addr: int) -> None:
        """A free block back into slab tid owns (mini-mag or bitmap) or an unowned slab."""
        self.probe.priv(slab.base, tid, slab.owner)
        self.probe.slab_hit("free_local", slab.base)
        if slab.owner == tid and ops.mini_mag_push(slab, slab.mini_mag, addr):
            return
        slab.bitmap.set_free((addr - slab.base) // slab.block_size)
        pool.maybe_release(self, slab)


__all__ = ["FastAllocator", "PATHS", "store_word"]
