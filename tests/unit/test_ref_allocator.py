"""Unit tests of the reference allocator (hakmem_verify.models.ref): fast, tiny configurations."""
from __future__ import annotations

import random

import pytest

from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.contract.api import (Allocator, BadArgument, Config, DoubleFree, InvalidAddress,
                       InvalidFree, InvariantViolation, OutOfBounds, SizeError,
                       Stats)

TINY = Config(class_sizes=(8, 16), slab_size=64)             # 8 blocks of 8, 4 blocks of 16
TINY_1 = Config(class_sizes=(8, 16), slab_size=64, max_slabs_per_class=1)
BASE = TINY.base_address


def unchanged(a: RefAllocator, exc, fn, *args, **kwargs):
    """fn(*args) raises exactly exc (not a subclass) and leaves a's state as it was."""
    before = a.snapshot_state()
    with pytest.raises(exc) as info:
        fn(*args, **kwargs)
    assert type(info.value) is exc
    assert a.snapshot_state() == before
    a.check()


# ---- protocol and geometry ---------------------------------------------------

def test_ref_allocator_satisfies_the_allocator_protocol():
    assert isinstance(RefAllocator(), Allocator)


def test_first_block_is_at_the_base_address_and_blocks_follow_in_order():
    a = RefAllocator(TINY)
    assert [a.alloc(8) for _ in range(8)] == [BASE + 8 * i for i in range(8)]


def test_alloc_returns_the_lowest_free_address_of_the_class():
    a = RefAllocator(TINY)
    addrs = [a.alloc(8) for _ in range(8)]
    a.free(addrs[5])
    a.free(addrs[2])
    a.free(addrs[6])
    assert [a.alloc(8), a.alloc(8), a.alloc(8)] == [addrs[2], addrs[5], addrs[6]]


def test_lowest_slab_is_preferred_over_a_later_slab():
    a = RefAllocator(TINY)
    first = [a.alloc(8) for _ in range(8)]
    second = [a.alloc(8) for _ in range(3)]
    assert second[0] == BASE + 64
    a.free(second[1])
    a.free(first[7])
    assert a.alloc(8) == first[7]
    assert a.alloc(8) == second[1]


def test_size_zero_gets_an_eight_byte_block_of_class_zero():
    a = RefAllocator()
    p = a.alloc(0)
    assert a.usable_size(p) == 8
    assert a.live_blocks() == {p: 0}


@pytest.mark.parametrize("size, cls", [(0, 0), (1, 0), (8, 0), (9, 1), (16, 1), (17, 2),
                                       (100, 4), (512, 6), (513, 7), (1024, 7)])
def test_size_maps_to_the_smallest_class_that_holds_it(size, cls):
    a = RefAllocator()
    p = a.alloc(size)
    assert a.live_blocks()[p] == cls
    assert a.usable_size(p) == a.config.class_sizes[cls] >= size


def test_classes_get_separate_slabs_at_increasing_aligned_addresses():
    a = RefAllocator(TINY)
    p8, p16 = a.alloc(8), a.alloc(16)
    assert p8 == BASE and p16 == BASE + 64
    assert all(a.alloc(8) is not None for _ in range(7))
    assert a.alloc(8) == BASE + 128                           # third slab, next aligned address
    assert (a.slab_count(0), a.slab_count(1)) == (2, 1)


def test_a_new_slab_is_added_only_when_every_slab_of_the_class_is_full():
    a = RefAllocator(TINY)
    addrs = [a.alloc(16) for _ in range(4)]
    assert a.slab_count(1) == 1 and a.free_block_count(1) == 0
    a.free(addrs[1])
    assert a.alloc(16) == addrs[1] and a.slab_count(1) == 1
    assert a.alloc(16) == BASE + 64
    assert a.slab_count(1) == 2 and a.free_block_count(1) == 3


def test_out_of_memory_returns_none_and_changes_nothing():
    a = RefAllocator(TINY_1)
    addrs = [a.alloc(8) for _ in range(8)]
    assert not a.can_alloc(8) and a.can_alloc(16)
    before = a.snapshot_state()
    assert a.alloc(8) is None
    assert a.snapshot_state() == before
    a.free(addrs[3])
    assert a.can_alloc(8)
    assert a.alloc(8) == addrs[3]
    assert a.stats() == Stats((9, 0), (1, 0))


def test_stats_count_successful_allocs_and_frees_per_class_exactly():
    a = RefAllocator(TINY)
    p, q, r = a.alloc(1), a.alloc(8), a.alloc(16)
    a.free(q)
    with pytest.raises(DoubleFree):
        a.free(q)
    assert a.stats() == a.exact_stats() == Stats((2, 1), (1, 0))
    a.flush_stats()
    a.quiesce()
    a.thread_exit(0)
    assert a.stats() == Stats((2, 1), (1, 0))
    assert (a.live_count(0), a.live_count(1)) == (1, 1)
    assert a.live_blocks() == {p: 0, r: 1}


def test_written_bytes_read_back_anywhere_inside_the_block():
    a = RefAllocator(TINY)
    p = a.alloc(16)
    a.write(p, b"0123456789abcdef")
    assert a.read(p, 16) == b"0123456789abcdef"
    a.write(p + 4, bytearray(b"XY"))
    a.write(p + 15, memoryview(b"Z"))
    assert a.read(p + 3, 4) == b"3XY6"
    assert a.read(p + 15, 1) == b"Z"
    assert a.read(p + 16 - 1, 0) == b""
    assert isinstance(a.read(p, 2), bytes)


def test_neighbouring_blocks_do_not_share_bytes():
    a = RefAllocator(TINY)
    p, q = a.alloc(8), a.alloc(8)
    a.write(p, b"A" * 8)
    a.write(q, b"B" * 8)
    assert a.read(p, 8) == b"A" * 8 and a.read(q, 8) == b"B" * 8


def test_free_after_the_allocating_thread_exited_is_legal():
    a = RefAllocator(TINY)
    p = a.alloc(8, tid=3)
    a.thread_exit(3)
    a.thread_exit(7)                                          # a tid with no state: no-op
    assert a.usable_size(p) == 8
    a.free(p, tid=5)
    unchanged(a, DoubleFree, a.free, p, tid=3)


# ---- every bad input raises its own error and changes nothing -----------------

@pytest.mark.parametrize("size", [-1, 1025, 1.5, True, False, "8", None, 8.0])
def test_bad_size_raises_size_error_and_changes_nothing(size):
    a = RefAllocator()
    a.alloc(8)
    unchanged(a, SizeError, a.alloc, size)
    unchanged(a, SizeError, a.can_alloc, size)


@pytest.mark.parametrize("tid", [-1, True, 1.0, "0", None])
def test_bad_tid_raises_bad_argument_and_changes_nothing(tid):
    a = RefAllocator(TINY)
    p = a.alloc(8)
    unchanged(a, BadArgument, a.alloc, 8, tid)
    unchanged(a, BadArgument, a.free, p, tid)
    unchanged(a, BadArgument, a.thread_exit, tid)


@pytest.mark.parametrize("offset", [1, 4, 7])
def test_free_of_an_interior_address_raises_invalid_free(offset):
    a = RefAllocator(TINY)
    p = a.alloc(16)
    a.write(p, b"keep me!")
    unchanged(a, InvalidFree, a.free, p + offset)
    assert a.read(p, 8) == b"keep me!"


@pytest.mark.parametrize("addr", [None, True, 1.0 * BASE, str(BASE), 0, -8, BASE - 8,
                                  BASE + 64, BASE + 10 ** 9])
def test_free_of_a_foreign_or_non_int_address_raises_invalid_free(addr):
    a = RefAllocator(TINY)
    a.alloc(8)
    unchanged(a, InvalidFree, a.free, addr)


def test_free_of_a_never_allocated_block_in_an_existing_slab_is_a_double_free():
    a = RefAllocator(TINY)
    a.alloc(8)
    unchanged(a, DoubleFree, a.free, BASE + 8)


def test_double_free_raises_double_free_and_changes_nothing():
    a = RefAllocator(TINY)
    p, q = a.alloc(8), a.alloc(8)
    a.free(p)
    unchanged(a, DoubleFree, a.free, p)
    assert a.alloc(8) == p and a.live_blocks() == {p: 0, q: 0}


def test_usable_size_of_anything_but_a_live_block_start_raises_invalid_address():
    a = RefAllocator(TINY)
    p = a.alloc(8)
    q = a.alloc(8)
    a.free(q)
    for addr in (p + 1, q, BASE - 8, None, True, "x"):
        unchanged(a, InvalidAddress, a.usable_size, addr)


def test_read_or_write_past_the_usable_size_raises_out_of_bounds():
    a = RefAllocator(TINY)
    p = a.alloc(8)
    a.alloc(8)                                                # a live neighbour after p
    unchanged(a, OutOfBounds, a.write, p, b"x" * 9)
    unchanged(a, OutOfBounds, a.write, p + 7, b"xy")
    unchanged(a, OutOfBounds, a.read, p, 9)
    unchanged(a, OutOfBounds, a.read, p + 4, 5)


def test_read_or_write_of_a_freed_block_raises_out_of_bounds():
    a = RefAllocator(TINY)
    p = a.alloc(8)
    a.free(p)
    unchanged(a, OutOfBounds, a.write, p, b"x")
    unchanged(a, OutOfBounds, a.read, p + 2, 1)
    unchanged(a, OutOfBounds, a.read, p, 0)


@pytest.mark.parametrize("addr", [None, "x", BASE - 1, BASE + 64, 0])
def test_read_or_write_outside_every_slab_raises_out_of_bounds(addr):
    a = RefAllocator(TINY)
    a.alloc(8)
    unchanged(a, OutOfBounds, a.write, addr, b"x")
    unchanged(a, OutOfBounds, a.read, addr, 1)


def test_read_of_a_negative_count_raises_out_of_bounds():
    a = RefAllocator(TINY)
    p = a.alloc(8)
    unchanged(a, OutOfBounds, a.read, p, -1)


@pytest.mark.parametrize("n", [1.0, "1", None, True])
def test_read_of_a_non_int_count_raises_bad_argument(n):
    a = RefAllocator(TINY)
    p = a.alloc(8)
    unchanged(a, BadArgument, a.read, p, n)


@pytest.mark.parametrize("data", ["text", None, 7, [1, 2], bytes])
def test_write_of_non_bytes_data_raises_bad_argument(data):
    a = RefAllocator(TINY)
    p = a.alloc(8)
    unchanged(a, BadArgument, a.write, p, data)


def test_a_bad_tid_is_reported_before_a_bad_size_or_address():
    a = RefAllocator(TINY)
    unchanged(a, BadArgument, a.alloc, -1, -1)
    unchanged(a, BadArgument, a.free, None, -1)


def test_bad_data_or_count_is_reported_before_a_bad_address():
    a = RefAllocator(TINY)
    unchanged(a, BadArgument, a.write, None, "x")
    unchanged(a, BadArgument, a.read, None, "1")


# ---- self-check ------------------------------------------------------------

def test_check_level_runs_the_self_check_after_every_mutation():
    a = RefAllocator(Config(class_sizes=(8, 16), slab_size=64, check_level=1))
    p = a.alloc(8)
    a._live[p + 8] = 0                                        # plant a block that is still free
    with pytest.raises(InvariantViolation) as info:
        a.alloc(16)
    assert info.value.inv_id == "RALLOC-02"


def test_check_names_the_slab_when_the_accounting_identity_breaks():
    a = RefAllocator(TINY)
    a.alloc(8)
    a._slabs[0][0].nlive += 1
    with pytest.raises(InvariantViolation, match=r"\[RALLOC-01\] slab 0x100000000 class 0"):
        a.check()


# ---- randomized, against a dict of live blocks ---------------------------------

def test_twenty_thousand_random_ops_agree_with_a_dict_of_live_blocks():
    rng = random.Random(1234)
    cfg = Config(class_sizes=(8, 16, 32), slab_size=128, max_slabs_per_class=6)
    a = RefAllocator(cfg)
    live = {}                                                 # addr -> (class, contents)
    allocs, frees, ooms = [0, 0, 0], [0, 0, 0], 0
    for step in range(20_000):
        op = rng.random()
        if op < 0.5 or not live:
            size = rng.randint(0, 32)
            cls = 0 if size <= 8 else 1 if size <= 16 else 2
            expect_ok = a.can_alloc(size)
            p = a.alloc(size, tid=rng.randint(0, 3))
            assert (p is not None) == expect_ok
            if p is None:
                assert a.free_block_count(cls) == 0 and a.slab_count(cls) == 6
                ooms += 1
                continue
            assert p not in live
            assert p % cfg.class_sizes[cls] == 0 and a.usable_size(p) == cfg.class_sizes[cls]
            data = rng.randbytes(rng.randint(0, cfg.class_sizes[cls]))
            a.write(p, data)
            live[p] = (cls, data)
            allocs[cls] += 1
        elif op < 0.9:
            p = rng.choice(list(live))
            cls, data = live.pop(p)
            assert a.read(p, len(data)) == data
            a.free(p, tid=rng.randint(0, 3))
            frees[cls] += 1
        else:
            p = rng.choice(list(live))
            with pytest.raises(InvalidFree):
                a.free(p + rng.choice([1, 4, 7]) if rng.random() < 0.5 else p + 10 ** 6)
        if step % 2000 == 0:
            a.check()
            assert a.live_blocks() == {q: c for q, (c, _) in live.items()}
    a.check()
    assert a.live_blocks() == {q: c for q, (c, _) in live.items()}
    assert a.stats() == Stats(tuple(allocs), tuple(frees))
    assert [a.live_count(c) for c in range(3)] == [sum(1 for c, _ in live.values() if c == k)
                                                   for k in range(3)]
    assert ooms > 100                                         # the memory limit was reached


def test_random_allocs_always_take_the_lowest_free_address_of_the_class():
    rng = random.Random(99)
    a = RefAllocator(TINY)                                    # only class 0: slabs are contiguous
    live = set()
    for _ in range(3000):
        if rng.random() < 0.55 or not live:
            nslabs = a.slab_count(0)
            p = a.alloc(8)
            expect = min(q for q in range(BASE, BASE + 64 * (nslabs + 1), 8) if q not in live)
            assert p == expect
            assert a.slab_count(0) == nslabs + (len(live) == 8 * nslabs)
            live.add(p)
        else:
            p = rng.choice(sorted(live))
            live.remove(p)
            a.free(p)
        assert a.free_block_count(0) == 8 * a.slab_count(0) - len(live)
    a.check()


def test_one_hundred_thousand_ops_on_large_slabs_keep_exact_live_counts():
    """(Throughput is measured by bench/bench_allocators.py, not asserted here.)"""
    rng = random.Random(7)
    a = RefAllocator(Config())
    live = []
    for _ in range(100_000):
        if rng.random() < 0.6 or not live:
            live.append(a.alloc(rng.choice((1, 8))))          # 8192-block slabs of class 0
        else:
            i = rng.randrange(len(live))
            live[i], live[-1] = live[-1], live[i]
            a.free(live.pop())
    assert len(live) > 10_000
    assert a.live_count(0) == len(live)
    a.check()
