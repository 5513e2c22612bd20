"""Property tests of the pure cores in ``hakmem_verify.contracts``, under two backends.

Each property is a plain function ``prop_*``; it runs twice: with
Hypothesis' random generation (``test_*``), and with ``backend="crosshair"``
(``test_*_under_crosshair``, marked ``crosshair``), where hypothesis-crosshair
makes the draws symbolic and CrossHair steers them into branches random
generation rarely reaches (an exact class size, a batch one event short of a
flush, a word that just filled).  The ``crosshair`` profile is registered in
``conftest.py``.
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hakmem_verify import contracts
from hakmem_verify.contracts import (CLASS_SIZES, NULL, MiniMag, Slab, StatCounters, TwoTierBitmap,
                             mini_mag_blocks, size_to_class)

under_crosshair = settings(settings.get_profile("crosshair"), max_examples=60)  # conftest.py

# ---- size classes ------------------------------------------------------------

sizes = st.integers(0, CLASS_SIZES[-1])


def prop_size_class_is_the_smallest_that_holds_the_size(size):
    c = size_to_class(size)
    assert size <= CLASS_SIZES[c]
    assert c == 0 or CLASS_SIZES[c - 1] < size


@given(sizes)
def test_size_class_is_the_smallest_that_holds_the_size(size):
    prop_size_class_is_the_smallest_that_holds_the_size(size)


@pytest.mark.crosshair
@pytest.mark.slow         # CrossHair-backed: the nightly job runs it
@under_crosshair
@given(sizes)
def test_size_class_is_the_smallest_that_holds_the_size_under_crosshair(size):
    prop_size_class_is_the_smallest_that_holds_the_size(size)


# ---- statistics --------------------------------------------------------------

intervals = st.integers(1, 6)
stat_events = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 1)), max_size=20)


def prop_stat_batches_lose_and_invent_no_event(interval, events):
    """The allocator's pattern: record, then check; every thread flushes at exit."""
    stats = StatCounters(interval, [(0, 0)] * 3, (0, 0))
    for tid, c in events:
        stats.record_alloc(tid, c)
        stats.flush_if_needed(tid, c)
        assert all(stats.flushed[d] + sum(row[d] for row in stats.batches) == stats.exact[d]
                   for d in range(2))
        assert all(0 <= p < interval for row in stats.batches for p in row)
    for tid in range(3):
        stats.flush_all(tid)
    assert stats.flushed == stats.exact == [sum(c == d for _, c in events) for d in range(2)]


@given(intervals, stat_events)
def test_stat_batches_lose_and_invent_no_event(interval, events):
    prop_stat_batches_lose_and_invent_no_event(interval, events)


@pytest.mark.crosshair
@pytest.mark.slow         # CrossHair-backed: the nightly job runs it
@under_crosshair
@given(intervals, stat_events)
def test_stat_batches_lose_and_invent_no_event_under_crosshair(interval, events):
    prop_stat_batches_lose_and_invent_no_event(interval, events)


# ---- mini-magazine -----------------------------------------------------------

capacities = st.integers(1, 4)
address_gaps = st.lists(st.integers(0, 3), max_size=6)


def prop_mini_magazine_pops_in_reverse_push_order(capacity, gaps):
    addrs, a = [], 0
    for g in gaps:                        # distinct, non-NULL addresses
        a += 16 * (1 + g)
        addrs.append(a)
    mag = MiniMag(capacity, [], {})
    pushed = [addr for addr in addrs if mag.push(addr)]
    assert pushed == addrs[:capacity]
    assert mini_mag_blocks(mag) == pushed[::-1]
    popped = [mag.pop() for _ in range(len(pushed) + 1)]
    assert popped == pushed[::-1] + [NULL]
    assert mag.count == 0 and mag.head == NULL


@given(capacities, address_gaps)
def test_mini_magazine_pops_in_reverse_push_order(capacity, gaps):
    prop_mini_magazine_pops_in_reverse_push_order(capacity, gaps)


@pytest.mark.crosshair
@pytest.mark.slow         # CrossHair-backed: the nightly job runs it
@under_crosshair
@given(capacities, address_gaps)
def test_mini_magazine_pops_in_reverse_push_order_under_crosshair(capacity, gaps):
    prop_mini_magazine_pops_in_reverse_push_order(capacity, gaps)


# ---- bitmap ------------------------------------------------------------------

nblocks_2bit = st.integers(0, 8)
words_2bit = st.lists(st.integers(0, 3), min_size=1, max_size=3)
hints = st.integers(0, 2)


def prop_find_free_is_the_lowest_free_block(nblocks, words, hint):
    bm = TwoTierBitmap(nblocks, 2, words, hint)    # normalized into a valid bitmap
    contracts.check(bm)
    free = [i for i in range(bm.nblocks) if contracts.is_free(bm, i)]
    assert bm.find_free() == (free[0] if free else -1)
    contracts.check(bm)


@given(nblocks_2bit, words_2bit, hints)
def test_find_free_is_the_lowest_free_block(nblocks, words, hint):
    prop_find_free_is_the_lowest_free_block(nblocks, words, hint)


@pytest.mark.crosshair
@pytest.mark.slow         # CrossHair-backed: the nightly job runs it
@under_crosshair
@given(nblocks_2bit, words_2bit, hints)
def test_find_free_is_the_lowest_free_block_under_crosshair(nblocks, words, hint):
    prop_find_free_is_the_lowest_free_block(nblocks, words, hint)


# ---- refill and spill --------------------------------------------------------

slab_blocks = st.integers(1, 12)
wants = st.integers(-1, 8)
mag_capacities = st.integers(1, 6)


def prop_refill_then_spill_gives_every_block_back(nblocks, want, capacity):
    bm = contracts.fresh_bitmap(nblocks, 4)
    slab = Slab(bm, [], capacity, 1, 0x10000, {})
    got = slab.batch_refill(want)
    assert got == max(0, min(want, capacity, nblocks))
    assert bm.free_count == nblocks - got and slab.mini_mag.count == got
    contracts.check(slab)
    assert slab.spill() == got
    assert bm.free_count == nblocks and slab.mini_mag.count == 0
    contracts.check(slab)


@given(slab_blocks, wants, mag_capacities)
def test_refill_then_spill_gives_every_block_back(nblocks, want, capacity):
    prop_refill_then_spill_gives_every_block_back(nblocks, want, capacity)


@pytest.mark.crosshair
@pytest.mark.slow         # CrossHair-backed: the nightly job runs it
@under_crosshair
@given(slab_blocks, wants, mag_capacities)
def test_refill_then_spill_gives_every_block_back_under_crosshair(nblocks, want, capacity):
    prop_refill_then_spill_gives_every_block_back(nblocks, want, capacity)
