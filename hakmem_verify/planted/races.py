"""Planted concurrency bugs of hakmem_verify.models.fast: the bugs lock-free thread-caching allocators
have really shipped, each visible only when threads interleave (or, for the ownership
discipline, visible to OWN-03 in any run).

``free-writes-foreign-bitmap`` and ``alloc-serves-unowned-slab`` are registered in the
main catalogue (the sequential machine kills them through OWN-03 and OWN-04).  The
others are in ``RACES`` (``kind = "concurrency"``; the pool's races are in
``races_pool``): a sequential run cannot tell them from the correct code, so they are
hunted by the concurrent machine (``hakmem_verify.explore.concurrent_hunt``), not the lockstep one.
"""
from __future__ import annotations

from hakmem_verify.models.fast import core as ops
from hakmem_verify.models.fast import pool, steps
from hakmem_verify.models.fast.allocator import FastAllocator
from hakmem_verify.models.fast.structs import NULL, store_word

from . import KindView, Mutant, mutant, patched, register
from .base import _fa, _fn, pick_before_lock, take_pick

FA = FastAllocator

#: name -> Mutant of kind "concurrency" (hunted by hakmem_verify.oracle.concurrent)
RACES = KindView("concurrency")


def race(name: str, expect=(), equivalent: bool = False, configs=None, draw_config=None):
    """Register the decorated factory as a concurrency mutant (``kind`` "concurrency");
    ``equivalent``: the concurrent machine must not kill it (its docstring says why);
    ``configs``: the Config strategy of the concurrent machine that reaches it (default:
    ``hakmem_verify.explore.configs.concurrent_configs``), and ``draw_config`` (``rng -> Config``) the
    same Configs for the runner's concurrent machine (``hakmem_verify.runner.concurrent``)."""
    def deco(factory):
        register(Mutant(name, (factory.__doc__ or "").strip(), tuple(expect), factory,
                        equivalent=equivalent, configs=configs, draw_config=draw_config,
                        kind="concurrency"))
        return factory
    return deco


# ============================================================================
# The ownership discipline (sequentially visible to OWN-03)
# ============================================================================


@mutant("free-writes-foreign-bitmap", expect=("OWN-03",))
def _free_foreign():
    """A free of a block whose slab another thread owns sets its bitmap bit directly
    instead of pushing it on the slab's remote stack.
    Bug class: a non-owner writing an owner-private word (the bitmap is not atomic: the
    owner's concurrent refill loses the update or hands the block out twice)."""
    def route(self, t, slab, addr):
        if slab.owner is not None and slab.owner != t.tid:
            self._put_local(t.tid, slab, addr)
            return None
        return _fa["_free_route"](self, t, slab, addr)
    return patched((FA, "_free_route", route))


@mutant("alloc-serves-unowned-slab", expect=("OWN-04",))
def _serve_unowned():
    """When its own slabs are empty, the slow path takes one block straight from the
    bitmap of an unowned partial slab (under the pool lock) instead of adopting the slab.
    Bug class: a thread handed a block of a slab it does not own (the slab stays
    adoptable: another thread adopts it and its owner-private view no longer matches
    what was taken, or two threads carve the same slab)."""
    orig = steps.alloc_slow_steps

    def alloc_slow_steps(self, t, c):
        if t.mags[c].top == 0 and all(s is None or (s.bitmap.free_count == 0 and
                                                    s.mini_mag.count == 0)
                                      for s in (t.active_a[c], t.active_b[c])):
            slab = pool.find_partial(self, c)
            if slab is not None and slab.bitmap.free_count > 0:
                idx = slab.bitmap.find_free()
                slab.bitmap.set_used(idx)
                self.probe.priv(slab.base, t.tid, slab.owner)
                self.probe.hit("slow")
                yield "pool"
                return slab.block_addr(idx)
        return (yield from orig(self, t, c))
    return patched((steps, "alloc_slow_steps", alloc_slow_steps))


# ============================================================================
# The remote stack: push and drain
# ============================================================================


@race("push-publishes-before-link", expect=("RMT-01",))
def _publish_before_link():
    """The remote push compare-and-swaps its block in as the new head first and links the
    block's next pointer to the old head afterwards.
    Bug class: publication before initialisation (a drain or a concurrent reader walks
    into the block's stale first word: client data taken for a pointer)."""
    def push_steps(slab, ptr):
        while True:
            old = ops.atomic_load_head(slab)
            yield "load"
            if ops.atomic_cas_head(slab, old, ptr):
                break
            yield "cas-retry"
        yield "cas"
        store_word(slab, ptr, old)
        yield "link"
        ops.atomic_add_remote_count(slab, 1)
    return patched((ops, "remote_push_steps", push_steps))


@race("drain-load-then-store", expect=("PART-01", "RMT-02", "QUI-01"))
def _drain_load_store():
    """The owner drains by loading the head and later storing NULL, not by an atomic
    exchange (or a CAS from the loaded head): a push between the two is lost.
    Bug class: lost update of a lock-free stack head (the pushed block leaks)."""
    def drain_steps(slab):
        head = ops.atomic_load_head(slab)
        if head == NULL:
            return 0
        yield "load"
        idxs = ops.remote_blocks(slab, head)
        slab.remote_head = NULL
        yield "store"
        for idx in idxs:
            slab.bitmap.set_free(idx)
        ops.atomic_add_remote_count(slab, -len(idxs))
        yield "count"
        return len(idxs)
    return patched((ops, "remote_drain_steps", drain_steps))


@race("drain-trusts-count", expect=("RMT-02",))
def _drain_trusts_count():
    """The drain subtracts the remote_count it reads, not the number of blocks it took:
    a push that has swung the head but not yet added to the count is taken and never
    subtracted.
    Bug class: a counter kept apart from the structure it counts, trusted as if updated
    atomically with it (the design's separate head and count atomics)."""
    def drain_steps(slab):
        while True:
            head = ops.atomic_load_head(slab)
            if head == NULL:
                return 0
            yield "load"
            idxs = ops.remote_blocks(slab, head)
            if ops.atomic_cas_head(slab, head, NULL):
                break
            yield "cas-retry"
        yield "cas"
        n = slab.remote_count
        for idx in idxs:
            slab.bitmap.set_free(idx)
        ops.atomic_add_remote_count(slab, -n)
        yield "count"
        return len(idxs)
    return patched((ops, "remote_drain_steps", drain_steps))


# ============================================================================
# Global statistics and ownership hand-over
# ============================================================================


@race("seed-stats-global-add", expect=("STAT-01",))
def _seed_stats_add():
    """The seed's flush, transcribed literally: ``g_tiny_pool.alloc_count[c] +=
    t_alloc_batch[c]`` is a load and a store of the shared counter, not a fetch-add.
    Bug class: lost update of a shared counter (two threads flushing one class at once
    lose one batch)."""
    def add_steps(self, counters, c, n):
        old = counters[c]
        yield "stat-load"
        counters[c] = old + n
        yield "stat-add"

    def stats_steps(self, batch, counters, c):
        n = batch[c]
        if n >= self.config.flush_interval:
            batch[c] = 0
            self.probe.hit("stat_flush")
            yield from add_steps(self, counters, c, n)

    def flush_all_steps(self, t):
        for batch, counters in ((t.alloc_batch, self.g_alloc_count),
                                (t.free_batch, self.g_free_count)):
            for c in range(self.config.num_classes):
                n = batch[c]
                if n:
                    batch[c] = 0
                    yield from add_steps(self, counters, c, n)
    return patched((steps, "stats_steps", stats_steps), (steps, "flush_all_steps", flush_all_steps))


@race("evict-unowns-before-spill", expect=("OWN-03", "RMT-01"))
def _unown_first():
    """Eviction gives up ownership (the pool step) before spilling the mini-magazine and
    draining: a thread that adopts the slab in between owns it while the old owner still
    writes its bitmap (OWN-03; or the two threads' drains and spills leave a bitmap-free
    block on the remote stack, RMT-01).
    Bug class: ownership handed over before the last private writes (two writers of
    non-atomic words)."""
    def evict_steps(self, t, slab):
        slab.owner = None
        self.probe.slab(slab.base)
        yield "pool"
        if slab.mini_mag.count:
            self.probe.priv(slab.base, t.tid, slab.owner)
            self.probe.slab_hit("spill", slab.base)
            ops.batch_spill_to_bitmap(slab, slab.mini_mag)
        yield from steps.drain_slab_steps(self, t.tid, slab)
        pool.maybe_release(self, slab)
        yield "pool"
    return patched((steps, "evict_slab_steps", evict_steps))


@race("adopt-find-then-claim", expect=("OWN-01", "OWN-02", "OWN-03"))
def _adopt_split():
    """The slow path looks for an unowned partial slab in one pool-lock section and
    claims it in another: two threads can find the same slab and both adopt it.
    Bug class: check-then-act across a lock release (two owners of one slab)."""
    def find_partial(self, c):
        found = take_pick(self, "_found", self._slow_thread.tid)
        return found if found is not None else _fn["pool.find_partial"](self, c)
    # found in one pool-lock step, claimed in the next: the lock is dropped in between
    return patched(pick_before_lock("take_slab_steps", "_found", "pool",
                                    lambda self, t, c: _fn["pool.find_partial"](self, c)),
                   (pool, "find_partial", find_partial))


@race("free-acts-on-stale-owner", expect=("OWN-03",))
def _stale_owner():
    """A free that finds the block's slab unowned (and its magazine full) puts the block
    back into the slab in a later step, without re-reading the owner under the pool
    lock: a thread that adopted the slab in between owns it by then.
    Bug class: time-of-check to time-of-use on ownership (a non-owner writes the
    bitmap)."""
    def route(self, t, slab, addr):
        if slab.owner is None and t.mags[slab.class_idx].top >= t.mags[slab.class_idx].cap:
            def late():
                yield "owner"
                self._put_local(t.tid, slab, addr)
            return late()
        return _fa["_free_route"](self, t, slab, addr)
    return patched((FA, "_free_route", route))


# the pool's races and the equivalent pop-one drain (registered in RACES when imported)
from . import races_pool, races_superslab  # noqa: E402,F401  (they import RACES from here)
