"""Unit tests of hakmem_fast's structures and their operations, then the allocator's routes.

The first half drives ``hakmem_fast.ops`` directly on a single TinySlab: the
intrusive mini-magazine (next pointers really stored in ``slab.mem``), batch
refill and spill, the remote-free MPSC stack (including a push interleaved
with a drain), and stat batching.  The second half drives a FastAllocator
with a tiny Config and asserts which path served each alloc and which route
each free took, using ``path_counts`` (the seed's debug counters).
"""
from __future__ import annotations

import pytest

from hakmem_fast import FastAllocator, PATHS
from hakmem_fast import ops
from hakmem_fast.structs import NULL, TinySlab, load_word
from specs import invariants as inv
from specs.api import Config, Stats
from specs.schedule import race_free_with_drain
from specs.invariants import check_impl

TINY = Config(class_sizes=(8, 16), slab_size=64, word_bits=4, mini_mag_capacity=2,
              refill_batch=2, magazine_capacity=2, flush_interval=4)
BASE = TINY.base_address


def new_slab(class_idx=0, cap=2, word_bits=4, slab_size=64, block_size=8) -> TinySlab:
    """A slab of slab_size // block_size blocks at BASE with a mini-mag of capacity cap."""
    return TinySlab(BASE, class_idx, block_size, slab_size, word_bits, cap)


def blk(i: int, block_size: int = 8) -> int:
    return BASE + i * block_size


def word_at(slab: TinySlab, addr: int) -> int:
    """The 8 bytes at addr as the little-endian word C would store there."""
    off = addr - slab.base
    return int.from_bytes(bytes(slab.mem[off:off + 8]), "little")


def bitmap_free(slab: TinySlab) -> set:
    return {slab.block_addr(i) for i in range(slab.nblocks) if slab.bitmap.is_free(i)}


def take(slab: TinySlab, n: int) -> list:
    """Mark the n lowest free blocks used (as handed out to the client); their addresses."""
    out = []
    for _ in range(n):
        i = slab.bitmap.find_free()
        slab.bitmap.set_used(i)
        out.append(slab.block_addr(i))
    return out


def mini_mag_list(slab: TinySlab) -> list:
    """Walk the intrusive mini-mag from head through slab.mem (bounded by capacity)."""
    out, p = [], slab.mini_mag.head
    while p != NULL and len(out) <= slab.mini_mag.capacity:
        out.append(p)
        p = word_at(slab, p)
    return out


def paths(fa: FastAllocator, fn, *args, flush: bool = False):
    """(result, {path: delta}) of one call; stat flushes left out unless ``flush``."""
    before = dict(fa.path_counts)
    r = fn(*args)
    return r, {k: v - before[k] for k, v in fa.path_counts.items()
               if v != before[k] and (flush or k != "stat_flush")}


def live_set(fa: FastAllocator) -> inv.LiveSet:
    return inv.LiveSet.from_blocks(fa.live_blocks(), fa.config)


# ============================================================================
# Mini-magazine: intrusive LIFO
# ============================================================================

def test_mini_mag_pops_in_lifo_order_and_then_returns_null():
    slab = new_slab(cap=5)
    mag = slab.mini_mag
    blocks = take(slab, 5)
    for k, b in enumerate(blocks):
        assert ops.mini_mag_push(slab, mag, b)
        assert mag.count == k + 1 and mag.head == b
    assert [ops.mini_mag_pop(slab, mag) for _ in range(5)] == blocks[::-1]
    assert mag.count == 0 and mag.head == NULL
    assert ops.mini_mag_pop(slab, mag) == NULL
    assert mag.count == 0


def test_mini_mag_next_pointers_are_stored_in_the_free_blocks_of_slab_mem():
    slab = new_slab(cap=3)
    a, b, c = take(slab, 3)
    for p in (a, b, c):
        ops.mini_mag_push(slab, slab.mini_mag, p)
    assert word_at(slab, c) == b and word_at(slab, b) == a and word_at(slab, a) == NULL
    assert load_word(slab, c) == b
    assert mini_mag_list(slab) == [c, b, a]
    slab.mem[c - BASE:c - BASE + 8] = a.to_bytes(8, "little")   # c -> a: pop follows memory
    assert ops.mini_mag_pop(slab, slab.mini_mag) == c
    assert ops.mini_mag_pop(slab, slab.mini_mag) == a


def test_mini_mag_push_to_a_full_mini_mag_returns_false_and_changes_nothing():
    slab = new_slab(cap=2)
    a, b, c = take(slab, 3)
    assert ops.mini_mag_push(slab, slab.mini_mag, a)
    assert ops.mini_mag_push(slab, slab.mini_mag, b)
    mem = bytes(slab.mem)
    assert not ops.mini_mag_push(slab, slab.mini_mag, c)
    assert (slab.mini_mag.head, slab.mini_mag.count) == (b, 2)
    assert bytes(slab.mem) == mem
    assert mini_mag_list(slab) == [b, a]


def test_mini_mag_interleaved_push_and_pop_stays_lifo():
    slab = new_slab(cap=4)
    a, b, c, d = take(slab, 4)
    mag = slab.mini_mag
    ops.mini_mag_push(slab, mag, a)
    ops.mini_mag_push(slab, mag, b)
    assert ops.mini_mag_pop(slab, mag) == b
    ops.mini_mag_push(slab, mag, c)
    ops.mini_mag_push(slab, mag, d)
    assert mini_mag_list(slab) == [d, c, a]
    assert [ops.mini_mag_pop(slab, mag) for _ in range(4)] == [d, c, a, NULL]


# ============================================================================
# Batch refill (bitmap -> mini-mag) and spill (mini-mag -> bitmap)
# ============================================================================

def test_refill_moves_the_lowest_free_blocks_and_the_bitmap_shrinks_by_exactly_those():
    slab = new_slab(cap=2)
    before = bitmap_free(slab)
    got = ops.batch_refill_from_bitmap(slab, slab.mini_mag, 2)
    assert got == 2
    assert set(mini_mag_list(slab)) == {blk(0), blk(1)}
    assert mini_mag_list(slab) == [blk(1), blk(0)]       # pushed in scan order: LIFO pops 1 first
    assert before - bitmap_free(slab) == {blk(0), blk(1)}
    assert bitmap_free(slab) <= before
    assert slab.bitmap.free_count == 6


@pytest.mark.parametrize("count,want", [(0, 5), (1, 2), (1, 100), (0, 3)])
def test_refill_with_want_larger_than_the_room_moves_only_capacity_minus_count(count, want):
    slab = new_slab(cap=2)
    held = take(slab, count)
    for p in held:
        ops.mini_mag_push(slab, slab.mini_mag, p)
    before, mm_before = bitmap_free(slab), set(mini_mag_list(slab))
    got = ops.batch_refill_from_bitmap(slab, slab.mini_mag, want)
    assert got == min(want, 2 - count)
    pushed = set(mini_mag_list(slab)) - mm_before
    assert before - bitmap_free(slab) == pushed           # nothing left the bitmap unpushed
    assert len(pushed) == got and slab.mini_mag.count == count + got
    assert slab.bitmap.free_count + slab.mini_mag.count == slab.nblocks   # nothing lost


@pytest.mark.parametrize("want", [0, -1])
def test_refill_with_nothing_wanted_moves_nothing(want):
    slab = new_slab(cap=2)
    assert ops.batch_refill_from_bitmap(slab, slab.mini_mag, want) == 0
    assert slab.bitmap.free_count == 8 and slab.mini_mag.count == 0


def test_refill_of_a_full_mini_mag_moves_nothing():
    slab = new_slab(cap=2)
    ops.batch_refill_from_bitmap(slab, slab.mini_mag, 2)
    before = bitmap_free(slab)
    assert ops.batch_refill_from_bitmap(slab, slab.mini_mag, 2) == 0
    assert bitmap_free(slab) == before


def test_refill_from_a_nearly_exhausted_bitmap_moves_what_is_left_across_the_word_boundary():
    slab = new_slab(cap=8)
    take(slab, 3)                               # blocks 0..2 used: 3 in word 0, 4..7 in word 1
    got = ops.batch_refill_from_bitmap(slab, slab.mini_mag, 8)
    assert got == 5
    assert sorted(mini_mag_list(slab)) == [blk(i) for i in range(3, 8)]
    assert slab.bitmap.free_count == 0 and bitmap_free(slab) == set()
    assert ops.batch_refill_from_bitmap(slab, slab.mini_mag, 8) == 0


def test_spill_returns_exactly_the_mini_mag_blocks_to_the_bitmap():
    slab = new_slab(cap=3)
    live = take(slab, 2)                        # two client blocks stay used
    ops.batch_refill_from_bitmap(slab, slab.mini_mag, 3)
    cached = set(mini_mag_list(slab))
    free_before = bitmap_free(slab)
    n = ops.batch_spill_to_bitmap(slab, slab.mini_mag)
    assert n == 3
    assert slab.mini_mag.count == 0 and slab.mini_mag.head == NULL
    assert bitmap_free(slab) == free_before | cached
    assert not set(live) & bitmap_free(slab)


def test_spill_of_an_empty_mini_mag_returns_zero():
    slab = new_slab(cap=2)
    assert ops.batch_spill_to_bitmap(slab, slab.mini_mag) == 0
    assert slab.bitmap.free_count == 8


def test_refill_then_spill_restores_the_bitmap_exactly():
    slab = new_slab(cap=4, block_size=16)
    take(slab, 1)
    words = list(slab.bitmap.words)
    ops.batch_refill_from_bitmap(slab, slab.mini_mag, 16)
    ops.batch_spill_to_bitmap(slab, slab.mini_mag)
    assert slab.bitmap.words == words and slab.bitmap.free_count == 3


# ============================================================================
# Remote free: MPSC stack through the freed blocks
# ============================================================================

def test_remote_push_links_blocks_through_memory_and_drain_frees_them_all():
    slab = new_slab()
    a, b, c = take(slab, 3)
    for p in (a, b, c):
        ops.remote_push(slab, p)
    assert slab.remote_head == c and slab.remote_count == 3
    assert word_at(slab, c) == b and word_at(slab, b) == a and word_at(slab, a) == NULL
    assert ops.remote_drain(slab) == 3
    assert slab.remote_head == NULL and slab.remote_count == 0
    assert {a, b, c} <= bitmap_free(slab) and slab.bitmap.free_count == 8


def test_remote_drain_of_an_empty_stack_returns_zero():
    slab = new_slab()
    assert ops.remote_drain(slab) == 0
    assert slab.remote_count == 0 and slab.bitmap.free_count == 8


def test_remote_push_steps_are_load_link_cas_when_nobody_interferes():
    slab = new_slab()
    (a,) = take(slab, 1)
    assert list(ops.remote_push_steps(slab, a)) == ["load", "link", "cas"]
    assert slab.remote_head == a and slab.remote_count == 1


def test_a_drain_between_link_and_cas_makes_the_cas_fail_and_retry_so_no_block_is_lost():
    slab = new_slab()
    x, y = take(slab, 2)
    ops.remote_push(slab, x)                    # the stack holds x
    steps = ops.remote_push_steps(slab, y)
    names = [next(steps), next(steps)]          # load head (x), link y->next = x
    assert names == ["load", "link"] and word_at(slab, y) == x
    assert ops.remote_drain(slab) == 1          # the owner takes x: head is NULL now
    names += list(steps)                        # CAS(x -> y) fails, reload, relink, CAS
    assert names == ["load", "link", "cas-retry", "load", "link", "cas"]
    assert slab.remote_head == y and word_at(slab, y) == NULL   # y no longer points at x
    assert slab.remote_count == 1
    assert ops.remote_drain(slab) == 1
    assert slab.bitmap.free_count == 8                 # x and y freed, each once


def test_a_free_racing_the_owners_drain_through_the_allocator_loses_no_block():
    fa = FastAllocator(TINY)
    a, b = fa.alloc(8, 0), fa.alloc(8, 0)       # slab owned by tid 0
    fa.free(a, 1)                               # remote push by tid 1
    _, d = paths(fa, race_free_with_drain, fa, b, 1)
    assert d == {"free_remote": 1, "drain": 1}
    base = fa.active_slab(0, 0)
    s = fa.snapshot().slabs[base]
    assert s.remote == (b,) and s.remote_count == 1
    assert s.words[0] & 1 == 0                  # a went to the bitmap in the drain
    check_impl(fa, 3)
    fa.thread_exit(0)
    fa.thread_exit(1)
    fa.quiesce()
    assert fa.slab_bases() == []                # every block came back: the slab was released


# ============================================================================
# Statistics batching
# ============================================================================

def test_stats_flush_exactly_when_the_batch_reaches_the_interval():
    batch, glob = [0, 0], [0, 0]
    for k in range(1, 12):
        ops.stats_record_alloc(batch, 1)
        flushed = ops.stats_flush_if_needed(batch, glob, 1, 4)
        assert flushed == (k % 4 == 0)
        assert glob[1] == 4 * (k // 4) and batch[1] == k % 4
        assert glob[1] + batch[1] == k          # conservation: flushed + pending == exact
    assert glob[0] == batch[0] == 0


def test_stats_flush_all_moves_every_pending_class():
    batch, glob = [3, 0, 2], [4, 1, 0]
    ops.stats_flush_all(batch, glob)
    assert batch == [0, 0, 0] and glob == [7, 1, 2]


def test_allocator_stats_lag_until_the_fourth_event_then_match_exactly():
    fa = FastAllocator(TINY)
    for k in range(1, 9):
        _, d = paths(fa, fa.alloc, 16, 0, flush=True)
        assert fa.exact_stats().allocs == (0, k)
        assert fa.stats().allocs == (0, 4 * (k // 4))
        assert ("stat_flush" in d) == (k % 4 == 0)
    fa.flush_stats()
    assert fa.stats() == fa.exact_stats()


def test_free_events_are_batched_and_flushed_separately_from_allocs():
    fa = FastAllocator(TINY)
    ps = [fa.alloc(8, 0) for _ in range(5)]
    for p in ps[:4]:
        fa.free(p, 0)
    assert fa.stats().frees == (4, 0) and fa.stats().allocs == (4, 0)
    assert fa.exact_stats() == Stats((5, 0), (4, 0))


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
