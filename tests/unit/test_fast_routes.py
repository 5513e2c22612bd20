"""Unit tests of the fast model's routes: a FastAllocator on a tiny Config, and which path
served each alloc and which route each free took (``path_counts``, the seed's debug
counters), then eviction, thread exit and quiescence."""
from __future__ import annotations

from hakmem_verify import check as inv
from hakmem_verify.check import check_impl
from hakmem_verify.contract.api import Config
from hakmem_verify.models.fast import PATHS, FastAllocator

from .fast_helpers import TINY, live_set, paths

# ============================================================================
# The allocator: path counters for every alloc stage and free route
# ============================================================================

def test_alloc_stages_follow_the_seed_order_on_a_tiny_config():
    fa = FastAllocator(TINY)
    stages = []
    for _ in range(9):
        _, d = paths(fa, fa.alloc, 8, 0)
        stages.append(next(k for k in ("tls_mag", "mini_mag", "refill", "slow", "new_slab")
                           if k in d))
    # new slab (refills the TLS magazine with 2, refills the mini-mag with 2), magazine,
    # mini-mag x2, then batch refills of 2 from the bitmap, then slab 1 is exhausted
    assert stages == ["new_slab", "tls_mag", "mini_mag", "mini_mag", "refill", "mini_mag",
                      "refill", "mini_mag", "new_slab"]
    assert fa.path_counts["tls_refill"] == 2
    check_impl(fa, 3)


def test_the_slow_path_drains_the_remote_stack_and_serves_from_it():
    fa = FastAllocator(TINY)
    ps = [fa.alloc(8, 0) for _ in range(8)]     # slab 1 fully handed out to tid 0
    for p in ps[:3]:
        _, d = paths(fa, fa.free, p, 1)
        assert d == {"free_remote": 1}
    p, d = paths(fa, fa.alloc, 8, 0)            # A is exhausted: slow path drains A's stack
    assert d["slow"] == 1 and d["drain"] == 1 and d["tls_refill"] == 1
    assert p in ps[:3]
    check_impl(fa, 3)


def test_the_slow_path_serves_from_slab_b_when_a_is_exhausted():
    fa = FastAllocator(TINY)
    first = [fa.alloc(8, 0) for _ in range(9)]  # slab 1 exhausted, slab 2 is A, slab 1 is B
    b_base = fa.active_slab(0, 0, "b")
    assert b_base == first[0] & ~63
    for p in first[:2]:
        fa.free(p, 1)                           # remote frees into B
    while fa.snapshot().slabs[fa.active_slab(0, 0)].free_count or \
            fa.snapshot().threads[0].magazines[0] or \
            fa.snapshot().slabs[fa.active_slab(0, 0)].mini_mag:
        fa.alloc(8, 0)                          # use up A and the magazine
    p, d = paths(fa, fa.alloc, 8, 0)
    assert d.get("slow") == 1 and "new_slab" not in d
    assert p in first[:2]
    check_impl(fa, 3)


def test_out_of_memory_returns_none_and_counts_oom():
    fa = FastAllocator(Config(class_sizes=(8, 16), slab_size=64, word_bits=4,
                              mini_mag_capacity=2, refill_batch=2, magazine_capacity=2,
                              flush_interval=4, max_slabs_per_class=1))
    assert all(fa.alloc(8, 0) is not None for _ in range(8))
    p, d = paths(fa, fa.alloc, 8, 0)
    assert p is None and d == {"oom": 1}
    assert fa.exact_stats().allocs == (8, 0)
    assert fa.alloc(16, 0) is not None          # the other class is unaffected
    check_impl(fa, 3)


def test_free_routes_magazine_then_overflow_to_local_and_remote_for_another_owner():
    fa = FastAllocator(TINY)                    # magazine_capacity=2
    ps = [fa.alloc(16, 0) for _ in range(4)]    # tid 0: 2 from the magazine, 2 from A's mini-mag
    routes = []
    for p in ps[:3]:
        _, d = paths(fa, fa.free, p, 0)
        routes.append(d)
    assert routes[0] == {"free_magazine": 1} and routes[1] == {"free_magazine": 1}
    assert routes[2] == {"mag_overflow": 1, "free_local": 1}   # third free: the local route
    s = fa.snapshot()
    assert s.threads[0].magazines[1] == (ps[0], ps[1])
    assert ps[2] in s.slabs[fa.active_slab(0, 1)].mini_mag      # owner: into the mini-mag
    _, d = paths(fa, fa.free, ps[3], 1)
    assert d == {"free_remote": 1}
    check_impl(fa, 3)


def test_overflow_fills_the_owners_mini_mag_then_goes_to_the_bitmap():
    fa = FastAllocator(TINY)
    ps = [fa.alloc(8, 0) for _ in range(8)]     # the whole 8-block slab; nothing cached
    base = fa.active_slab(0, 0)
    s = fa.snapshot().slabs[base]
    assert s.free_count == 0 and s.mini_mag_count == 0
    routes = [paths(fa, fa.free, p, 0)[1] for p in ps]
    assert routes[:2] == [{"free_magazine": 1}] * 2
    assert routes[2:] == [{"mag_overflow": 1, "free_local": 1}] * 6
    s = fa.snapshot().slabs[base]
    assert s.mini_mag == (ps[3], ps[2])         # 2 into the mini-mag (LIFO) ...
    assert s.free_count == 4                    # ... the other 4 into the bitmap
    assert {base + 8 * i for i in range(8) if not s.words[i // 4] >> (i % 4) & 1} == set(ps[4:])
    check_impl(fa, 3)


def test_free_of_a_block_of_an_unowned_slab_goes_to_the_callers_magazine():
    fa = FastAllocator(TINY)
    p = fa.alloc(8, 0)
    fa.thread_exit(0)                           # the slab is evicted and unowned
    _, d = paths(fa, fa.free, p, 2)
    assert d == {"free_magazine": 1}
    assert fa.snapshot().threads[2].magazines[0] == (p,)
    check_impl(fa, 3)


def test_every_path_name_is_counted_and_starts_at_zero():
    fa = FastAllocator(TINY)
    assert set(fa.path_counts) == set(PATHS)
    assert all(v == 0 for v in fa.path_counts.values())


# ============================================================================
# Eviction, thread exit and quiescence
# ============================================================================

def test_evict_active_spills_the_mini_mag_and_drains_the_remote_stack():
    fa = FastAllocator(TINY)
    ps = [fa.alloc(8, 0) for _ in range(3)]     # A's mini-mag holds 1 block after these
    fa.free(ps[0], 1)                           # remote
    base = fa.active_slab(0, 0)
    before = fa.snapshot().slabs[base]
    assert before.mini_mag_count == 1 and before.remote == (ps[0],)
    r, d = paths(fa, fa.evict_active, 0, 0)
    assert r is True and d == {"spill": 1, "drain": 1}
    after = fa.snapshot().slabs[base]
    inv.spl_01_spill(fa.snapshot(), before, after)
    assert after.owner is None and fa.active_slab(0, 0) is None
    check_impl(fa, 3)


def test_thread_exit_returns_every_cached_block_and_flushes_its_stats():
    fa = FastAllocator(TINY)
    ps = [fa.alloc(8, 0) for _ in range(3)] + [fa.alloc(16, 0)]
    fa.free(ps[0], 0)
    fa.free(ps[1], 0)                           # tid 0's magazine: 2 blocks
    assert fa.stats() != fa.exact_stats()       # fewer than 4 events per class: all pending
    fa.thread_exit(0)
    snap = fa.snapshot()
    assert 0 not in snap.threads
    assert fa.stats() == fa.exact_stats()       # flushed == exact afterwards
    inv.qui_01_empty(snap, live_set(fa))        # nothing cached: bitmap-used == live, per slab
    for s in snap.slabs.values():
        assert s.owner is None and not s.mini_mag and not s.remote
    check_impl(fa, 3)


def test_thread_exit_of_a_thread_with_no_state_is_a_no_op():
    fa = FastAllocator(TINY)
    fa.alloc(8, 0)
    before = (fa.snapshot(), fa.stats())
    fa.thread_exit(7)
    assert (fa.snapshot(), fa.stats()) == before


def test_thread_exit_pushes_magazine_blocks_of_a_slab_another_thread_owns_to_its_remote_stack():
    fa = FastAllocator(TINY)
    p = fa.alloc(8, 0)
    fa.thread_exit(0)                           # slab unowned
    fa.free(p, 1)                               # p sits in tid 1's magazine
    q = fa.alloc(8, 2)                          # tid 2 adopts the slab (lowest partial)
    assert fa.active_slab(2, 0) == p & ~63 and q != p
    _, d = paths(fa, fa.thread_exit, 1)
    assert d == {"free_remote": 1}
    assert fa.snapshot().slabs[p & ~63].remote == (p,)
    check_impl(fa, 3)


def test_quiesce_with_live_blocks_leaves_only_live_blocks_bitmap_used():
    fa = FastAllocator(TINY)
    ps = [fa.alloc(8 * (1 + k % 2), k % 3) for k in range(30)]
    for k, p in enumerate(ps):
        if k % 3:
            fa.free(p, (k + 1) % 3)
    fa.quiesce()
    snap = fa.snapshot()
    inv.qui_01_empty(snap, live_set(fa))
    assert fa.stats() == fa.exact_stats()
    check_impl(fa, 3)


def test_quiesce_after_freeing_everything_releases_every_slab():
    fa = FastAllocator(TINY)
    ps = [(fa.alloc(8 * (1 + k % 2), k % 3), k) for k in range(40)]
    for p, k in ps:
        fa.free(p, (k * 7) % 3)
    fa.quiesce()
    snap = fa.snapshot()
    assert all(s.free_count == s.nblocks for s in snap.slabs.values())
    assert fa.slab_bases() == [] and fa.path_counts["slab_release"] >= 1
    assert fa.stats() == fa.exact_stats()
    assert fa.exact_stats().allocs == fa.exact_stats().frees


def test_a_released_slab_address_is_reused_by_the_next_new_slab():
    fa = FastAllocator(TINY)
    p = fa.alloc(16, 0)
    fa.free(p, 0)
    fa.quiesce()
    assert fa.slab_bases() == []
    q = fa.alloc(8, 0)                          # another class, the same address
    assert q & ~63 == p & ~63 and fa.slab_bases(0) == [p & ~63]
    check_impl(fa, 3)
