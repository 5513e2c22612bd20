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

A debug table of handed-out blocks (``_live``) validates every free, read and
write so errors are raised with the state unchanged, as a debug allocator's
headers do; the invariants check that it agrees with the structures.
"""
from __future__ import annotations

from typing import Optional

from specs.api import (BadArgument, Config, DoubleFree, InvalidAddress, InvalidFree,
                       OutOfBounds, Stats, size_to_class)

from . import ops
from .structs import NULL, ThreadState, TinySlab, store_word

PATHS = ("tls_mag", "mini_mag", "refill", "slow", "new_slab", "oom",
         "free_magazine", "free_local", "free_remote",
         "spill", "drain", "mag_overflow", "stat_flush", "slab_release", "tls_refill")


class FastAllocator:
    """The seed design over simulated memory; implements ``specs.api.Allocator``."""

    def __init__(self, config: Config = Config()):
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
        self.path_counts = dict.fromkeys(PATHS, 0)  # the seed's debug counters
        self._touched = set()                       # bases changed since take_touched()
        self._touched_tids = set()

    # ========================================================================
    # Public API
    # ========================================================================

    def alloc(self, size: int, tid: int = 0) -> Optional[int]:
        """Block of at least ``size`` bytes for thread tid, None if out of memory.

        Cost: O(1) on the hot path; O(refill_batch) on refill; O(slabs of the
        class) on the slow path.
        """
        self._check_tid(tid)
        c = size_to_class(size, self.config.class_sizes)
        t = self._thread(tid)
        p = self._alloc_hot(t, c)
        if p == NULL:
            p = self._alloc_slow(t, c)
            if p == NULL:
                self.path_counts["oom"] += 1
                return None
        self._live[p] = c
        self._touched.add(p & ~(self.config.slab_size - 1))
        self._exact_alloc[c] += 1
        ops.stats_record_alloc(t.alloc_batch, c)
        if ops.stats_flush_if_needed(t.alloc_batch, self.g_alloc_count, c,
                                     self.config.flush_interval):
            self.path_counts["stat_flush"] += 1
        self._self_check()
        return p

    def free(self, addr: int, tid: int = 0) -> None:
        """Return a live block. Cost O(1) (O(nblocks) if it releases a slab)."""
        self._free(addr, tid, race_drain=False)

    def free_racing_drain(self, addr: int, tid: int = 0) -> None:
        """free(), but if the block takes the remote route the owner drains the slab's
        remote stack between the push's load/link steps and its CAS: the interleaving
        a lock-free push must survive."""
        self._free(addr, tid, race_drain=True)

    def _free(self, addr: int, tid: int, race_drain: bool) -> None:
        self._check_tid(tid)
        slab, c = self._validate_free(addr)
        t = self._thread(tid)
        del self._live[addr]
        self._exact_free[c] += 1
        self._touched.add(slab.base)
        if race_drain and slab.owner is not None and slab.owner != tid:
            self.path_counts["free_remote"] += 1
            steps = ops.remote_push_steps(slab, addr)
            next(steps)          # load head
            next(steps)          # link ptr->next = head
            self.path_counts["drain"] += 1
            ops.remote_drain(slab)   # the owner drains concurrently
            for _ in steps:      # CAS (fails and retries if the head moved), count
                pass
        else:
            self._free_route(t, slab, addr)
        ops.stats_record_free(t.free_batch, c)
        if ops.stats_flush_if_needed(t.free_batch, self.g_free_count, c,
                                     self.config.flush_interval):
            self.path_counts["stat_flush"] += 1
        self._self_check()

    def usable_size(self, addr: int) -> int:
        c = self._live.get(addr) if isinstance(addr, int) and not isinstance(addr, bool) else None
        if c is None:
            raise InvalidAddress(f"usable_size({_hex(addr)}): not the start of a live block")
        return self.config.class_sizes[c]

    def write(self, addr: int, data: bytes) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise BadArgument(f"write data must be bytes, got {type(data).__name__}")
        slab, off = self._check_access(addr, len(data), "write")
        slab.mem[off:off + len(data)] = data

    def read(self, addr: int, n: int) -> bytes:
        if not isinstance(n, int) or isinstance(n, bool):
            raise BadArgument(f"read length must be an int, got {type(n).__name__}")
        slab, off = self._check_access(addr, n, "read")
        return bytes(slab.mem[off:off + n])

    def thread_exit(self, tid: int) -> None:
        """Return every block tid caches, release its active slabs, flush its stats."""
        self._check_tid(tid)
        t = self._threads.pop(tid, None)
        if t is None:
            return
        self._touched_tids.add(tid)
        for c in range(self.config.num_classes):
            for slab in (t.active_a[c], t.active_b[c]):
                if slab is not None:
                    self._evict(t, slab)
            t.active_a[c] = t.active_b[c] = None
            mag = t.mags[c]
            while mag.top > 0:
                mag.top -= 1
                p = mag.items[mag.top]
                self._return_block(tid, self._slab_of(p), p)
        ops.stats_flush_all(t.alloc_batch, self.g_alloc_count)
        ops.stats_flush_all(t.free_batch, self.g_free_count)

    def stats(self) -> Stats:
        return Stats(tuple(self.g_alloc_count), tuple(self.g_free_count))

    def exact_stats(self) -> Stats:
        return Stats(tuple(self._exact_alloc), tuple(self._exact_free))

    def flush_stats(self) -> None:
        for t in self._threads.values():
            ops.stats_flush_all(t.alloc_batch, self.g_alloc_count)
            ops.stats_flush_all(t.free_batch, self.g_free_count)

    def quiesce(self) -> None:
        """Exit every thread, drain every remote stack, release every free slab."""
        for tid in sorted(self._threads):
            self.thread_exit(tid)
        for slab in list(self._slabs.values()):
            if slab.remote_head != NULL:
                self.path_counts["drain"] += 1
                ops.remote_drain(slab)
                self._touched.add(slab.base)
            self._maybe_release(slab)

    # ---- maintenance operations the harness drives directly ----------------
    def _thread_and_active(self, tid: int, class_idx: int):
        """(thread state, its active slab A of class_idx); (None, None) if either is absent."""
        self._check_tid(tid)
        t = self._threads.get(tid)
        if t is None or not 0 <= class_idx < self.config.num_classes:
            return None, None
        return t, t.active_a[class_idx]

    def evict_active(self, tid: int, class_idx: int) -> bool:
        """Evict tid's active slab A of class_idx (spill + drain + unown); B moves to A."""
        t, slab = self._thread_and_active(tid, class_idx)
        if slab is None:
            return False
        self._touched_tids.add(tid)
        self._evict(t, slab)
        t.active_a[class_idx], t.active_b[class_idx] = t.active_b[class_idx], None
        return True

    def refill_active(self, tid: int, class_idx: int) -> int:
        """Batch-refill tid's active slab A of class_idx from its bitmap; blocks moved."""
        _, a = self._thread_and_active(tid, class_idx)
        if a is None:
            return 0
        self._touched.add(a.base)
        return ops.batch_refill_from_bitmap(a, a.mini_mag, self.config.refill_batch)

    def drain_remote(self, tid: int, class_idx: int) -> int:
        """Owner tid drains the remote stacks of its active slabs of class_idx."""
        t, _ = self._thread_and_active(tid, class_idx)
        if t is None:
            return 0
        n = 0
        for slab in (t.active_a[class_idx], t.active_b[class_idx]):
            if slab is not None and slab.remote_head != NULL:
                self.path_counts["drain"] += 1
                self._touched.add(slab.base)
                n += ops.remote_drain(slab)
        return n

    # ========================================================================
    # Allocation: hot path (Phase 2) and slow path (Phase 4)
    # ========================================================================

    def _alloc_hot(self, t: ThreadState, c: int) -> int:
        """Fast path: TLS magazine, then A's mini-mag, then a batch refill of A."""
        mag = t.mags[c]
        if mag.top > 0:
            mag.top -= 1
            self.path_counts["tls_mag"] += 1
            return mag.items[mag.top]
        a = t.active_a[c]
        if a is not None:
            if a.mini_mag.count > 0:
                p = ops.mini_mag_pop(a, a.mini_mag)
                if p != NULL:
                    self.path_counts["mini_mag"] += 1
                    return p
            if a.bitmap.free_count > 0:
                self._touched.add(a.base)
                if ops.batch_refill_from_bitmap(a, a.mini_mag, self.config.refill_batch) > 0:
                    p = ops.mini_mag_pop(a, a.mini_mag)
                    if p != NULL:
                        self.path_counts["refill"] += 1
                        return p
        return NULL

    def _alloc_slow(self, t: ThreadState, c: int) -> int:
        """Slow path: drain A and B, refill the TLS magazine, adopt or create a slab."""
        self._touched_tids.add(t.tid)
        for slab in (t.active_a[c], t.active_b[c]):
            if slab is not None and slab.remote_head != NULL:
                self.path_counts["drain"] += 1
                self._touched.add(slab.base)
                ops.remote_drain(slab)
        self._refill_tls_magazine(t, c)
        p = self._serve_from_actives(t, c)
        if p != NULL:
            self.path_counts["slow"] += 1
            return p
        slab = self._find_partial(c)
        path = "slow"
        if slab is None:
            slab = self._new_slab(c)
            path = "new_slab"
            if slab is None:
                return NULL
        self._adopt(t, slab)
        self._refill_tls_magazine(t, c)
        p = self._serve_from_actives(t, c)
        if p != NULL:
            self.path_counts[path] += 1
        return p

    def _serve_from_actives(self, t: ThreadState, c: int) -> int:
        """Slow path: a block from the TLS magazine, else straight from A's or B's
        mini-mag (refilled from the bitmap if empty), else NULL.  The slow path does not
        rely on the magazine refill having moved anything."""
        p = self._mag_pop(t.mags[c])
        if p != NULL:
            return p
        for slab in (t.active_a[c], t.active_b[c]):
            if slab is None:
                continue
            if slab.mini_mag.count == 0 and slab.bitmap.free_count > 0:
                self._touched.add(slab.base)
                ops.batch_refill_from_bitmap(slab, slab.mini_mag, self.config.refill_batch)
            if slab.mini_mag.count > 0:
                p = ops.mini_mag_pop(slab, slab.mini_mag)
                if p != NULL:
                    return p
        return NULL

    @staticmethod
    def _mag_pop(mag) -> int:
        if mag.top == 0:
            return NULL
        mag.top -= 1
        return mag.items[mag.top]

    def _refill_tls_magazine(self, t: ThreadState, c: int) -> int:
        """Slow path: move A's then B's mini-mag blocks into the TLS magazine.

        As Phase 4: pop each mini-mag into the magazine while there is room,
        and refill an emptied mini-mag from its bitmap for the next time.
        Returns the number of blocks moved.
        """
        mag = t.mags[c]
        moved = 0
        for slab in (t.active_a[c], t.active_b[c]):
            if slab is None:
                continue
            self._touched.add(slab.base)
            if slab.mini_mag.count == 0 and slab.bitmap.free_count > 0:
                ops.batch_refill_from_bitmap(slab, slab.mini_mag, self.config.refill_batch)
            while mag.top < mag.cap and slab.mini_mag.count > 0:
                p = ops.mini_mag_pop(slab, slab.mini_mag)
                if p == NULL:
                    break
                mag.items[mag.top] = p
                mag.top += 1
                moved += 1
            if slab.mini_mag.count == 0 and slab.bitmap.free_count > 0:
                ops.batch_refill_from_bitmap(slab, slab.mini_mag, self.config.refill_batch)
        if moved:
            self.path_counts["tls_refill"] += 1
        return moved

    def _find_partial(self, c: int) -> Optional[TinySlab]:
        """Slow path: lowest unowned slab of class c with a free block."""
        best = None
        for slab in self._class_slabs[c].values():
            if slab.owner is None and (slab.bitmap.free_count > 0 or slab.mini_mag.count > 0
                                       or slab.remote_head != NULL):
                if best is None or slab.base < best.base:
                    best = slab
        return best

    def _new_slab(self, c: int) -> Optional[TinySlab]:
        """Slow path: a fresh slab for class c, or None at the memory limit."""
        cfg = self.config
        if cfg.max_slabs_per_class is not None and \
                len(self._class_slabs[c]) >= cfg.max_slabs_per_class:
            return None
        if self._free_bases:
            base = self._free_bases.pop()
        else:
            base = self._next_base
            self._next_base += cfg.slab_size
        slab = TinySlab(base, c, cfg.class_sizes[c], cfg.slab_size, cfg.word_bits,
                        cfg.mini_mag_capacity)
        self._slabs[base] = slab
        self._class_slabs[c][base] = slab
        self._touched.add(base)
        return slab

    def _adopt(self, t: ThreadState, slab: TinySlab) -> None:
        """Make slab t's active A; old A becomes B; old B is evicted."""
        c = slab.class_idx
        old_b = t.active_b[c]
        if old_b is not None:
            self._evict(t, old_b)
        t.active_b[c] = t.active_a[c]
        t.active_a[c] = slab
        slab.owner = t.tid
        self._touched.add(slab.base)
        if slab.remote_head != NULL:
            self.path_counts["drain"] += 1
            ops.remote_drain(slab)

    def _evict(self, t: ThreadState, slab: TinySlab) -> None:
        """Spill the mini-mag, drain the remote stack, unown; release if empty."""
        self._touched.add(slab.base)
        if slab.mini_mag.count:
            self.path_counts["spill"] += 1
            ops.batch_spill_to_bitmap(slab, slab.mini_mag)
        if slab.remote_head != NULL:
            self.path_counts["drain"] += 1
            ops.remote_drain(slab)
        slab.owner = None
        self._maybe_release(slab)

    def _maybe_release(self, slab: TinySlab) -> None:
        if slab.owner is None and slab.fully_free() and slab.base in self._slabs:
            del self._slabs[slab.base]
            del self._class_slabs[slab.class_idx][slab.base]
            self._free_bases.append(slab.base)
            self._touched.discard(slab.base)
            self.path_counts["slab_release"] += 1

    # ========================================================================
    # Free
    # ========================================================================

    def _free_route(self, t: ThreadState, slab: TinySlab, addr: int) -> None:
        if slab.owner is not None and slab.owner != t.tid:
            self.path_counts["free_remote"] += 1
            ops.remote_push(slab, addr)
            return
        mag = t.mags[slab.class_idx]
        if mag.top < mag.cap:
            mag.items[mag.top] = addr
            mag.top += 1
            self.path_counts["free_magazine"] += 1
            return
        self.path_counts["mag_overflow"] += 1
        self._return_block(t.tid, slab, addr)

    def _return_block(self, tid: int, slab: TinySlab, addr: int) -> None:
        """Put a free block back into its slab from thread tid (not its magazine)."""
        self._touched.add(slab.base)
        if slab.owner is not None and slab.owner != tid:
            self.path_counts["free_remote"] += 1
            ops.remote_push(slab, addr)
            return
        self.path_counts["free_local"] += 1
        if slab.owner == tid and ops.mini_mag_push(slab, slab.mini_mag, addr):
            return
        slab.bitmap.set_free((addr - slab.base) // slab.block_size)
        self._maybe_release(slab)

    # ========================================================================
    # Validation
    # ========================================================================

    def _check_tid(self, tid) -> None:
        if not isinstance(tid, int) or isinstance(tid, bool) or tid < 0:
            raise BadArgument(f"tid must be an int >= 0, got {tid!r}")

    def _thread(self, tid: int) -> ThreadState:
        t = self._threads.get(tid)
        if t is None:
            self._check_tid(tid)
            t = ThreadState(tid, self.config.num_classes, self.config.magazine_capacity)
            self._threads[tid] = t
        self._touched_tids.add(tid)
        return t

    def _slab_of(self, addr: int) -> Optional[TinySlab]:
        return self._slabs.get(addr & ~(self.config.slab_size - 1))

    def _validate_free(self, addr):
        if not isinstance(addr, int) or isinstance(addr, bool):
            raise InvalidFree(f"free({addr!r}): not an address (expected an int)")
        slab = self._slab_of(addr)
        if slab is None:
            raise InvalidFree(f"free({_hex(addr)}): not inside any slab of the tiny pool")
        off = addr - slab.base
        if off % slab.block_size or off // slab.block_size >= slab.nblocks:
            raise InvalidFree(f"free({_hex(addr)}): not the start of a block "
                              f"(slab {_hex(slab.base)}, class {slab.class_idx}, "
                              f"block size {slab.block_size})")
        c = self._live.get(addr)
        if c is None:
            raise DoubleFree(f"free({_hex(addr)}): block is not live (double free?) "
                             f"(slab {_hex(slab.base)}, class {slab.class_idx})")
        return slab, c

    def _check_access(self, addr, n: int, what: str):
        if not isinstance(addr, int) or isinstance(addr, bool):
            raise OutOfBounds(f"{what} at {addr!r}: not an address")
        slab = self._slab_of(addr)
        if slab is not None:
            start = addr - (addr - slab.base) % slab.block_size
            if start in self._live and n >= 0 and addr + n <= start + slab.block_size:
                return slab, addr - slab.base
        raise OutOfBounds(f"{what} of {n} bytes at {_hex(addr)}: not inside one live block")

    # ========================================================================
    # Introspection
    # ========================================================================

    def live_blocks(self) -> dict:
        return dict(self._live)

    def active_slab(self, tid: int, class_idx: int, which: str = "a") -> Optional[int]:
        """Base of tid's active slab A (or B) of class_idx, or None."""
        t = self._threads.get(tid)
        if t is None:
            return None
        slab = (t.active_a if which == "a" else t.active_b)[class_idx]
        return None if slab is None else slab.base

    def slab_bases(self, class_idx: Optional[int] = None) -> list:
        if class_idx is None:
            return sorted(self._slabs)
        return sorted(self._class_slabs[class_idx])

    def take_touched(self):
        """(slab bases, tids) changed since the last call; resets the sets."""
        s, t = self._touched, self._touched_tids
        self._touched, self._touched_tids = set(), set()
        return s, t

    def snapshot(self, bases=None, tids=None):
        """Plain data of every slab and thread; or of the slabs in ``bases`` with the
        magazines of the threads in ``tids`` (see ``introspect.snapshot``)."""
        from .introspect import snapshot
        return snapshot(self, bases, tids)

    def check(self, level: int = 3) -> None:
        from .introspect import check
        check(self, level)

    def _self_check(self) -> None:
        if self.config.check_level:
            self.check(self.config.check_level)


def _hex(addr) -> str:
    return hex(addr) if isinstance(addr, int) else repr(addr)


__all__ = ["FastAllocator", "store_word"]
