"""The conformance predictions read a slab or thread of the state before an op; when a
broken allocator has released, lost or corrupted it, the prediction names the
invariant the state breaks (an InvariantViolation with its ID), never crashes.

Each test builds the state a prediction reads (a kept ``View``: threads and slabs as
of the last check) from a healthy allocator's snapshot, then breaks one thing."""
import dataclasses

import pytest

from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.contract.api import Config, InvariantViolation
from hakmem_verify.check import View
from hakmem_verify.check import conformance as conf

CFG = Config(class_sizes=(8, 16), slab_size=64, word_bits=8, mini_mag_capacity=2,
             refill_batch=2, magazine_capacity=2, flush_interval=3)


def view_of(fast: FastAllocator) -> View:
    """The view a checker keeps after a check of the whole heap."""
    snap = fast.snapshot()
    v = View()
    v.threads = dict(snap.threads)
    v.prev = dict(snap.slabs)
    return v


def one_block():
    fast = FastAllocator(CFG)
    addr = fast.alloc(8, 0)
    return fast, addr, addr & ~(CFG.slab_size - 1)


def test_a_free_of_a_live_block_whose_slab_was_released_is_live_01():
    fast, addr, base = one_block()
    v = view_of(fast)
    del v.prev[base]                          # the slab left the pool, the block is live
    with pytest.raises(InvariantViolation) as e:
        conf.predict_free(conf.KeptView(v, CFG), addr, 1)
    assert e.value.inv_id == "LIVE-01" and hex(base) in str(e.value)


def test_a_free_into_a_slab_with_a_corrupted_class_is_slab_01():
    fast, addr, base = one_block()
    v = view_of(fast)
    v.prev[base] = dataclasses.replace(v.prev[base], class_idx=9)
    with pytest.raises(InvariantViolation) as e:
        conf.predict_free(conf.KeptView(v, CFG), addr, 0)
    assert e.value.inv_id == "SLAB-01" and "class 9" in str(e.value)


@pytest.mark.parametrize("pos", ["A", "B"])
def test_an_alloc_by_a_thread_whose_active_slab_was_released_is_own_01(pos):
    fast, addr, base = one_block()
    v = view_of(fast)
    t = v.threads[0]
    if pos == "B":                            # the slab is B (A is unset)
        v.threads[0] = dataclasses.replace(t, active_a=(None,) + t.active_a[1:],
                                           active_b=t.active_a)
    del v.prev[base]
    with pytest.raises(InvariantViolation) as e:
        conf.predict_alloc(conf.KeptView(v, CFG), 0, 0)
    assert e.value.inv_id == "OWN-01" and f"active slab {pos}" in str(e.value)


def test_the_predictions_of_a_healthy_state_raise_nothing():
    fast, addr, base = one_block()
    v = view_of(fast)
    assert conf.predict_free(conf.KeptView(v, CFG), addr, 0).route == "free_magazine"
    assert conf.predict_alloc(conf.KeptView(v, CFG), 0, 0).stage == "tls_mag"
    assert conf.predict_evict(conf.KeptView(v, CFG), [base], 0).kind == "evict"
