"""predict() names the design's stage of an alloc and route of a free from the state
before the op; check() accepts the model's counters and names what a wrong one broke."""
import pytest

from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.contract.api import Config, InvariantViolation
from hakmem_verify.check import conformance as conf
from hakmem_verify.oracle.lockstep import Oracle
from hakmem_verify.contract.ops import Alloc, Evict, Free

CFG = Config(class_sizes=(8,), slab_size=64, word_bits=8, mini_mag_capacity=2,
             refill_batch=2, magazine_capacity=2, flush_interval=3, max_slabs_per_class=2)


def oracle():
    return Oracle(RefAllocator(CFG), FastAllocator(CFG))


def step(o, op):
    """(prediction, counter deltas) of one op applied through the oracle."""
    p = o.conformance.predict(o, op)
    before = dict(o.fast.path_counts)
    out = o.apply(op)
    conf.check(p, before, o.fast.path_counts, o.fast.exact_stats())
    return p, {k: v - before[k] for k, v in o.fast.path_counts.items() if v != before[k]}, out


def test_allocs_walk_the_stages_in_the_designs_order():
    o = oracle()
    stages = [step(o, Alloc(8, 0))[0].stage for _ in range(12)]
    # a new slab (refill 2, Phase 4 moves them to the magazine, the mini-mag refills);
    # the magazine; A's mini-mag, refilled from the bitmap (8 blocks) only when empty;
    # then A is full: a second new slab
    assert stages == ["new_slab", "tls_mag", "mini_mag", "mini_mag", "refill", "mini_mag",
                      "refill", "mini_mag", "new_slab", "tls_mag", "mini_mag", "mini_mag"]


def test_a_block_freed_to_a_full_slab_is_served_by_the_slow_path():
    o = oracle()
    hs = [step(o, Alloc(8, 0))[2][0] for _ in range(8)]       # slab 1 handed out whole
    step(o, Free(hs[0], 1))                                   # remote: A's remote stack
    assert step(o, Alloc(8, 0))[0].stage == "slow"            # the slow path drains A


def test_a_full_pool_is_predicted_out_of_memory():
    o = oracle()
    got = [step(o, Alloc(8, 0)) for _ in range(17)]
    assert got[-1][0].stage == "oom" and got[-1][2] == []


def test_a_free_of_another_threads_slab_is_predicted_remote_and_an_own_one_local():
    o = oracle()
    h = step(o, Alloc(8, 0))[2][0]
    h2 = step(o, Alloc(8, 0))[2][0]
    assert step(o, Free(h, 1))[0].route == "free_remote"
    assert step(o, Free(h2, 0))[0].route == "free_magazine"


def test_evicting_a_slab_with_a_non_empty_mini_mag_predicts_one_spill():
    o = oracle()
    for _ in range(3):
        step(o, Alloc(8, 0))
    p, d, _ = step(o, Evict(0, 0))
    assert p.spills == d.get("spill", 0)


def test_check_names_a_wrong_stage_and_a_miscount():
    p = conf.Prediction("alloc", 0, 0, stage="mini_mag", a_mini_mag=1)
    with pytest.raises(InvariantViolation, match=r"\[CONF-01\]"):
        conf.check(p, {"refill": 0, "slow": 0}, {"refill": 0, "slow": 1})
    with pytest.raises(InvariantViolation, match=r"\[CONF-06\]"):
        conf.check(p, {"mini_mag": 0}, {"mini_mag": 2})
    with pytest.raises(InvariantViolation, match=r"\[CONF-03\]"):
        conf.check(p, {"refill": 0}, {"refill": 1})
    f = conf.Prediction("free", 0, 0, route="free_magazine", flushes=1)
    with pytest.raises(InvariantViolation, match=r"\[CONF-05\]"):
        conf.check(f, {"free_magazine": 0}, {"free_magazine": 1})


def test_predict_refuses_an_op_it_has_no_rule_for():
    from hakmem_verify.contract.ops import Read
    with pytest.raises(TypeError, match="no conformance prediction"):
        (o := oracle()).conformance.predict(o, Read(0, 0, 1))


def test_the_checkers_kept_view_predicts_what_a_fresh_snapshot_predicts():
    o = oracle()
    hs, compared = [], 0
    for i in range(14):
        view = o.checker.view
        if view is not None and i % 3 == 2 and hs:
            h = hs.pop(0)
            addr = o.handles[h].fast
            want = conf.predict(conf.ImplState(o.fast), Free(h, i % 2), addr)
            got = conf.predict_free(conf.KeptView(view, CFG), addr, i % 2)
            assert (got.route, got.flushes) == (want.route, want.flushes)
            compared += 1
            o.apply(Free(h, i % 2))
            continue
        if view is not None:
            got = conf.predict_alloc(conf.KeptView(view, CFG), 0, 0)
            want = conf.predict(conf.ImplState(o.fast), Alloc(8, 0))
            assert (got.stage, got.a_mini_mag, got.flushes) == \
                (want.stage, want.a_mini_mag, want.flushes)
            compared += 1
        hs += o.apply(Alloc(8, 0))
    assert compared == 13
