"""Unit tests of the fast model's structures and their operations.

They drive ``hakmem_verify.models.fast.core`` directly on a single TinySlab: the intrusive
mini-magazine (next pointers really stored in ``slab.mem``), batch refill and spill, the
remote-free MPSC stack (including a push interleaved with a drain), and stat batching.
The allocator's paths and routes are in ``test_fast_routes.py``.
"""
from __future__ import annotations

import pytest

from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.fast import core as ops
from hakmem_verify.models.fast.structs import NULL, TinySlab, load_word
from hakmem_verify.contract.api import Stats
from hakmem_verify.schedule import race_free_with_drain
from hakmem_verify.check import check_impl

from .fast_helpers import TINY, paths

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
