"""The C pool makes the Python model's choices: the same ops on both give the same blocks
(the C address mapped by ``model_address``), the same debug counters, the same slabs."""
import pytest
from hypothesis import given, settings, strategies as st

from hakmem_fast import FastAllocator
from hakmem_native.allocator import NativeAllocator
from specs.api import Config
from specs.machines import small_configs, tiny_configs

OPS = st.lists(st.tuples(st.sampled_from(["alloc", "alloc", "alloc", "free", "free", "exit",
                                          "evict", "drain", "refill", "flush", "quiesce"]),
                         st.integers(0, 2), st.integers(0, 1024), st.integers(0, 10 ** 6)),
               min_size=10, max_size=150)


def run_both(cfg, ops, mutant=None):
    fast, nat = FastAllocator(cfg), NativeAllocator(cfg, mutant=mutant)
    held = []                  # (fast address, native address)
    for i, (kind, tid, size, pick) in enumerate(ops):
        c = size % cfg.num_classes
        if kind == "alloc":
            size = size % (cfg.max_size + 1)
            f, n = fast.alloc(size, tid), nat.alloc(size, tid)
            assert (f is None) == (n is None), f"op {i}: alloc({size}, {tid}): {f} vs {n}"
            if f is not None:
                assert nat.model_address(n) == f, f"op {i}: {hex(nat.model_address(n))} != {hex(f)}"
                held.append((f, n))
        elif kind == "free" and held:
            f, n = held.pop(pick % len(held))
            fast.free(f, tid)
            nat.free(n, tid)
        elif kind == "exit":
            fast.thread_exit(tid), nat.thread_exit(tid)
        elif kind == "evict":
            assert fast.evict_active(tid, c) == nat.evict_active(tid, c)
        elif kind == "drain":
            assert fast.drain_remote(tid, c) == nat.drain_remote(tid, c)
        elif kind == "refill":
            assert fast.refill_active(tid, c) == nat.refill_active(tid, c)
        elif kind == "flush":
            fast.flush_stats(), nat.flush_stats()
        elif kind == "quiesce":
            fast.quiesce(), nat.quiesce()
        assert dict(fast.path_counts) == dict(nat.path_counts), f"op {i} {kind}"
        assert fast.stats() == nat.stats() and fast.exact_stats() == nat.exact_stats()
    assert fast.slab_bases() == [nat.model_address(b) for b in nat.slab_bases()]


@settings(max_examples=300, deadline=None)
@given(cfg=st.one_of(tiny_configs, small_configs), ops=OPS)
def test_the_c_pool_hands_out_the_models_blocks_with_the_models_counters(cfg, ops):
    run_both(cfg, ops)


@pytest.mark.quality
def test_the_comparison_fails_when_the_c_pool_is_built_with_the_seeds_refill_sample():
    cfg = Config(class_sizes=(8, 16), slab_size=64, word_bits=4, mini_mag_capacity=1,
                 refill_batch=2, magazine_capacity=1, flush_interval=1)
    ops = [("alloc", 0, 0, 0)] * 6
    run_both(cfg, ops)                                    # the correct build agrees
    with pytest.raises(AssertionError, match="op "):
        run_both(cfg, ops, mutant="seed-batch_refill_from_bitmap")
