"""The six standard workloads: deterministic, scaled, faithful to their originals, clean."""
from __future__ import annotations

from collections import Counter

import pytest

from hakmem_verify.workloads.standard import _ladder, inverse_square_size
from hakmem_verify.workloads.seeded import WORKLOADS, generate
from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.contract.api import Config
from hakmem_verify.oracle.lockstep import Oracle
from hakmem_verify.contract.ops import Alloc, Free, ThreadExit, Write

NAMES = list(WORKLOADS)


def walk(ops):
    """Check every Free names a live handle; return (sizes, alloc tid per handle, frees)."""
    live, owner, sizes, frees = set(), [], [], []
    for op in ops:
        if type(op) is Alloc:
            live.add(len(owner))
            owner.append(op.tid)
            sizes.append(op.size)
        elif type(op) is Free:
            assert op.handle in live, f"{op} frees a handle that is not live"
            live.remove(op.handle)
            frees.append((op.handle, op.tid))
    return sizes, owner, frees


@pytest.mark.parametrize("name", NAMES)
def test_a_workload_is_a_function_of_its_seed(name):
    a, b = generate(name, 1, seed=5), generate(name, 1, seed=5)
    assert a.ops == b.ops and a.skipped == b.skipped
    assert generate(name, 1, seed=6).ops != a.ops


@pytest.mark.parametrize("name", NAMES)
def test_the_op_count_grows_linearly_with_the_scale(name):
    n1, n3 = len(generate(name, 1).ops), len(generate(name, 3).ops)
    assert 2.4 * n1 <= n3 <= 3.6 * n1, (n1, n3)


@pytest.mark.parametrize("name", NAMES)
def test_every_free_names_a_live_handle_and_sizes_are_tiny(name):
    sizes, _, frees = walk(generate(name, 2, seed=1).ops)
    assert frees and all(0 <= s <= 1024 for s in sizes)


@pytest.mark.parametrize("name", NAMES)
def test_a_workload_replays_clean_through_the_oracle(name):
    oracle = Oracle(RefAllocator(Config()), FastAllocator(Config()), check_level=2)
    oracle.run(generate(name, 1, seed=2, threads=2).ops)
    oracle.teardown()
    assert oracle.steps > 400


def test_larson_sizes_are_uniform_below_1000_and_successors_free_across_threads():
    w = generate("larson", 1, seed=0, threads=3)
    sizes, owner, frees = walk(w.ops)
    assert min(sizes) >= 8 and max(sizes) < 1000 and len(set(sizes)) > 300
    cross = sum(1 for h, tid in frees if owner[h] != tid)
    assert cross > len(frees) // 10
    assert sorted(op.tid for op in w.ops if type(op) is ThreadExit) == list(range(1, 10))


def test_xmalloc_frees_only_across_threads_and_needs_two_threads():
    _, owner, frees = walk(generate("xmalloc-test", 1, threads=4).ops)
    assert len(frees) == 2 * 4 * 64 and all(owner[h] != tid for h, tid in frees)
    with pytest.raises(ValueError, match="threads >= 2"):
        generate("xmalloc-test", 1, threads=1)


def test_mstress_counts_the_large_sizes_it_skips_and_exchanges_blocks():
    w = generate("mstress", 4, seed=0)
    assert w.skipped["alloc_out_of_range"] > 0
    assert w.skipped["free_of_skipped_block"] == w.skipped["alloc_out_of_range"]
    sizes, owner, frees = walk(w.ops)
    assert set(sizes) >= {8, 16, 32, 64, 128}
    assert sum(1 for h, tid in frees if owner[h] != tid) > 0


def test_cache_scratch_frees_the_inherited_object_then_writes_its_own():
    w = generate("cache-scratch", 1, threads=2)
    _, owner, frees = walk(w.ops)
    assert [owner[h] for h, tid in frees if owner[h] != tid] == [0, 0]
    assert sum(type(op) is Write for op in w.ops) == 2 * 100


def test_sh6bench_walks_the_ladder_and_never_frees_across_threads():
    assert _ladder()[:6] == [1, 2, 1, 4, 2, 1] and max(_ladder()) == 709
    sizes, owner, frees = walk(generate("sh6bench", 1, threads=2).ops)
    assert set(sizes) == set(_ladder())
    assert all(owner[h] == tid for h, tid in frees)


def test_sh6bench_empties_its_ring_half_oldest_first_half_newest_first():
    w = generate("sh6bench", 1, threads=1)
    freed = [op.handle for op in w.ops if type(op) is Free][:100]
    assert w.params["ring"] == 100
    assert freed[:50] == list(range(50)) and freed[50:] == list(range(99, 49, -1))


def test_glibc_thread_sizes_are_inverse_square_in_the_tiny_range():
    import random
    rng = random.Random(1)
    sizes = [inverse_square_size(rng) for _ in range(20000)]
    assert min(sizes) >= 4 and max(sizes) <= 1024
    assert 0.72 < sum(s <= 16 for s in sizes) / len(sizes) < 0.78
    _, owner, frees = walk(generate("glibc-thread", 1).ops)
    assert all(owner[h] == tid for h, tid in frees)


def test_an_unknown_workload_or_a_bad_scale_is_refused():
    with pytest.raises(ValueError, match="unknown workload 'nope'; choose from larson"):
        generate("nope")
    with pytest.raises(ValueError, match="scale must be an int >= 1, got 0"):
        generate("larson", 0)


def test_every_workload_is_documented_with_what_it_mimics_and_its_scaling():
    for name, gen in WORKLOADS.items():
        assert "Scaled" in gen.__doc__ and name.split("-")[0] in gen.__doc__, name
    assert Counter(type(op) for op in generate("larson").ops)[Alloc] > 1000
