"""Planted bugs in slab ownership (active slabs A and B), the slab pool and its memory
limit, and what a client sees directly: sizes, validation, data."""
from __future__ import annotations

from hakmem_verify.models.fast import core as ops
from hakmem_verify.models.fast import pool, steps, validate
from hakmem_verify.models.fast.bitmap import TwoTierBitmap
from hakmem_verify.models.fast.structs import NULL
from hakmem_verify.contract.api import DoubleFree, size_to_class

from . import mutant, patched
from .base import FA, _fa, _fn, around_steps, wide_block_configs


# ============================================================================
# Ownership: active slabs A and B
# ============================================================================

@mutant("active-a-equals-b", expect=("OWN-01",))
def _a_eq_b():
    """Adopting a slab makes it both A and B (the old A is dropped, not moved to B).
    Bug class: aliasing of two cache slots."""
    def adopt(self, t, slab):
        _fn["pool.adopt"](self, t, slab)
        old_b = t.active_b[slab.class_idx]
        if old_b is not None and old_b is not slab:
            pool.evict(self, t, old_b)
        t.active_b[slab.class_idx] = slab
    return patched((pool, "adopt", adopt))


@mutant("evict-keeps-active-pointer", expect=("OWN-01",))
def _evict_keeps_active():
    """evict_active releases the slab but leaves the thread's A pointer on it.
    Bug class: active slab kept after release (use after release, two owners)."""
    def evict_active_gen(self, t, slab, c):
        if slab is None:
            return False
        yield from steps.evict_slab_steps(self, t, slab)
        return True
    return patched((steps, "evict_active_gen", evict_active_gen))


@mutant("evict-keeps-owner", expect=("OWN-02", "OWN-01"))
def _evict_keeps_owner():
    """An evicted slab keeps its owner tid although it left the thread's A/B.
    Bug class: stale ownership (frees go remote to a thread that never drains)."""
    def keep_owner(self, result, t, slab):
        if slab.base in self._slabs:
            slab.owner = t.tid
    return patched(around_steps("evict_slab_steps", after=keep_owner))


@mutant("adopt-foreign-slab", expect=("OWN-01", "OWN-02", "CONF-01"))
def _adopt_foreign():
    """The slow path adopts a partial slab even when another thread owns it.
    Bug class: two owners of one slab (unsynchronised bitmap access).  The path check
    sees it first when the adoption serves an alloc the design sends to a new slab."""
    def find_partial(self, c):
        best = None
        for slab in self._class_slabs[c].values():
            if slab.bitmap.free_count > 0 or slab.mini_mag.count > 0:
                if best is None or slab.base < best.base:
                    best = slab
        return best
    return patched((pool, "find_partial", find_partial))


# ============================================================================
# Slab pool and memory limit
# ============================================================================

@mutant("release-with-live-block", expect=("LIVE-01",))
def _release_live():
    """An unowned slab is released when one block is still in use.
    Bug class: slab freed under a live block (use after free of the client's data)."""
    def maybe_release(self, slab):
        if slab.owner is None and slab.base in self._slabs and slab.mini_mag.count == 0 \
                and slab.remote_head == NULL and slab.bitmap.free_count >= slab.nblocks - 1 \
                and slab.nblocks > 1:
            return pool.release_slab(self, slab)
        return _fn["pool.maybe_release"](self, slab)
    return patched((pool, "maybe_release", maybe_release))


@mutant("slab-limit-off-by-one", expect=("OOM-01",))
def _limit_obo():
    """The memory limit check refuses the last slab (>= limit - 1).
    Bug class: spurious out of memory (off-by-one at a limit)."""
    def new_slab(self, c):
        lim = self.config.max_slabs_per_class
        if lim is not None and len(self._class_slabs[c]) >= lim - 1:
            return None
        return _fn["pool.new_slab"](self, c)
    return patched((pool, "new_slab", new_slab))


@mutant("partial-slabs-ignored", expect=("OOM-01", "CONF-01"))
def _partial_ignored():
    """The slow path never reuses an unowned partial slab: it asks for a new one.
    Bug class: fragmentation leak (out of memory with free blocks available).  The path
    check sees it at the first such alloc: a new slab where the design adopts (CONF-01)."""
    return patched((pool, "find_partial", lambda self, c: None))


@mutant("slab-geometry-off-by-one", expect=("SLAB-01",))
def _geometry():
    """A new slab is carved into one block fewer than slab_size / block_size (the last
    block is never used). Bug class: wrong slab geometry (header reservation miscount)."""
    def new_slab(self, c):
        slab = _fn["pool.new_slab"](self, c)
        if slab is not None and slab.nblocks > 1:
            slab.nblocks -= 1
            slab.bitmap = TwoTierBitmap(slab.nblocks, self.config.word_bits)
        return slab
    return patched((pool, "new_slab", new_slab))


@mutant("slab-released-twice", expect=("LIVE-02", "OWN-01", "MAG-02", "PART-01"))
def _released_twice():
    """Releasing a slab pushes its address on the free-slab list twice, so two later
    slab acquisitions get the same memory. Bug class: double release of a page/span
    (two owners of one address range, double allocation)."""
    def maybe_release(self, slab):
        n = len(self._free_bases)
        _fn["pool.maybe_release"](self, slab)
        if len(self._free_bases) > n:
            self._free_bases.insert(0, self._free_bases[-1])
    return patched((pool, "maybe_release", maybe_release))


@mutant("quiesce-skips-a-thread", expect=("QUI-01",))
def _quiesce_skip():
    """quiesce exits every thread but the last one.
    Bug class: incomplete teardown (a thread's caches never returned)."""
    def quiesce_gen(self):
        for tid in sorted(self._threads)[:-1]:
            yield from steps.thread_exit_gen(self, tid)
        for slab in list(self._slabs.values()):
            if slab.owner is None:
                yield from steps.drain_slab_steps(self, None, slab)
            pool.maybe_release(self, slab)
    return patched((steps, "quiesce_gen", quiesce_gen))


# ============================================================================
# Eviction sites: every slab that stops being owned is spilled and drained first
# ============================================================================

def _unown_undrained(self, t, slab):
    """Evict ``slab`` from thread t as the design does, but leave its remote stack
    undrained: spill the mini-magazine, clear the owner, release it if free."""
    if slab.mini_mag.count:
        self.probe.priv(slab.base, t.tid, slab.owner)
        self.probe.slab_hit("spill", slab.base)
        ops.batch_spill_to_bitmap(slab, slab.mini_mag)
    slab.owner = None
    self.probe.slab(slab.base)
    pool.maybe_release(self, slab)


def _unown_actives_undrained(self, t):
    """Every active slab of thread t evicted by :func:`_unown_undrained`."""
    self.probe.thread(t.tid)
    for c in range(self.config.num_classes):
        for slab in (t.active_a[c], t.active_b[c]):
            if slab is not None:
                _unown_undrained(self, t, slab)
        t.active_a[c] = t.active_b[c] = None


@mutant("thread-exit-skips-drain", expect=("EVICT-01",))
def _exit_skips_drain():
    """thread_exit spills its active slabs' mini-magazines and gives the slabs up but
    does not drain their remote stacks ("the next adopter drains them"): the blocks
    other threads freed stay on a slab nobody owns, which is then never released.
    Bug class: work left behind by an exiting thread (remote frees stranded)."""
    def unown_first(self, tid):
        t = self._threads.get(tid)
        if t is not None:
            _unown_actives_undrained(self, t)
    return patched(around_steps("thread_exit_gen", before=unown_first))


@mutant("adopt-evicts-b-undrained", equivalent=True)
def _adopt_b_undrained():
    """Adopting a slab evicts the old B (spill, unown) without draining B's remote
    stack. Equivalent in the model: adoption happens only on the slow path, which has
    just drained A's and B's remote stacks and emptied their bitmaps and mini-magazines
    (it adopts only when neither can serve), so the old B holds nothing to drain; a
    push racing in between is the design's allowed push onto an unowned slab, drained
    at the next adoption or quiesce.  EVICT-01 still checks the old B on every
    adopting alloc's footprint."""
    def adopt(self, t, slab):
        c = slab.class_idx
        old_b = t.active_b[c]
        if old_b is not None:
            _unown_undrained(self, t, old_b)
            t.active_b[c] = None
        _fn["pool.adopt"](self, t, slab)
    return patched((pool, "adopt", adopt))


@mutant("quiesce-skips-drains", expect=("EVICT-01",))
def _quiesce_no_drain():
    """quiesce hands every thread's active slabs back to the pool without draining
    their remote stacks, then exits the threads, and its pass over the pool only
    releases the free slabs (the drain of that pass is dropped): blocks freed remotely
    stay on stacks of unowned slabs after quiesce. Bug class: incomplete teardown."""
    def quiesce_gen(self):
        for tid in sorted(self._threads):
            _unown_actives_undrained(self, self._threads[tid])
            yield from steps.thread_exit_gen(self, tid)
        for slab in list(self._slabs.values()):
            pool.maybe_release(self, slab)
    return patched((steps, "quiesce_gen", quiesce_gen))


# ============================================================================
# Client-visible behaviour: sizes, validation, data
# ============================================================================

@mutant("size-class-off-by-one", expect=("LOCK-02",))
def _size_obo():
    """The size-class lookup maps size s to the class of s - 1 (s = 9 gets 8 bytes).
    Bug class: undersized block (heap overflow by the client)."""
    def size_to_cls(size, class_sizes):
        c = size_to_class(size, class_sizes)
        if size > 0 and size - 1 <= class_sizes[c - 1 if c else 0] and c:
            return c - 1
        return c
    return patched((steps, "size_to_class", size_to_cls))


@mutant("double-free-undetected", expect=("LOCK-01",))
def _double_free():
    """free() accepts a block start that is not live (no double-free detection);
    the block enters a cache twice. Bug class: undetected double free."""
    def validate_free(self, addr, tid):
        try:
            return _fn["validate.validate_free"](self, addr, tid)
        except DoubleFree:
            slab = validate.slab_of(self, addr)
            self._live[addr] = slab.class_idx
            return slab, slab.class_idx
    return patched((validate, "validate_free", validate_free))


@mutant("error-changes-state", expect=("LOCK-01",))
def _error_state():
    """free() creates the calling thread's state before validating the address, so a
    rejected free still changes the allocator. Bug class: side effect on an error path."""
    def validate_free(self, addr, tid):
        validate.check_tid(self, tid)
        validate.thread(self, tid)
        return _fn["validate.validate_free"](self, addr, tid)
    return patched((validate, "validate_free", validate_free))


@mutant("free-poisons-neighbour", expect=("DATA-01",), configs=wide_block_configs)
def _poison_neighbour():
    """free() poisons the freed block past its next pointer with the wrong length
    (block_size bytes from offset 8): the first 8 bytes past the block's end, in the
    neighbour, are overwritten. Bug class: allocator write into a live block."""
    def free_(self, addr, tid):
        push = _fa["_free"](self, addr, tid)
        slab = validate.slab_of(self, addr)
        if slab is not None:
            off = addr - slab.base + 8
            end = min(off + slab.block_size, len(slab.mem))
            slab.mem[off:end] = b"\xdd" * (end - off)
        return push
    return patched((FA, "_free", free_))
