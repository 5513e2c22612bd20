"""The path-conformance checks (CONF-*) run in the stock lockstep oracle: the correct model
passes them on every op, the oracle turns them off for an implementation whose counters
are not the design's, and each planted conformance bug fails with its own ID
(tests/quality/test_every_invariant_catches_its_bug.py hunts those)."""
import pytest

from hakmem_verify import planted as mutants
from hakmem_verify.explore.hunt import hunt
from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.contract.api import Config
from hakmem_verify.check import REGISTRY
from hakmem_verify.oracle.lockstep import Oracle
from hakmem_verify.contract.ops import Alloc, AllocMany, Free, Quiesce

CONF = sorted(i for i, inv in REGISTRY.items() if inv.topic == "conformance")


def test_every_conformance_check_is_registered_with_its_own_planted_bug():
    assert CONF == ["CONF-01", "CONF-02", "CONF-03", "CONF-04", "CONF-05", "CONF-06", "CONF-07",
                    "CONF-08", "SS-06"]          # SS-06: SuperSlab mode's free pipeline
    planted = [REGISTRY[i].planted for i in CONF]
    assert len(set(planted)) == len(planted)
    for i in CONF:
        assert mutants.get(REGISTRY[i].planted).expect == (i,)


def test_a_stack_pushed_and_drained_within_a_quiesce_is_counted_and_not_a_finding():
    """Quiesce: tid 0's exit pushes its cached blocks onto the slab tid 1 adopted, and tid
    1's exit drains that stack; the checker never saw it non-empty, so the counter may
    exceed the stacks it saw taken there (and only there)."""
    cfg = Config(slab_size=1024, word_bits=8, mini_mag_capacity=2, refill_batch=2,
                 magazine_capacity=2, flush_interval=2)
    o = Oracle(RefAllocator(cfg), FastAllocator(cfg))
    o.run([AllocMany(65, 17, 0), Free(7, 0), Free(6, 0), Alloc(65, 1)])
    drains = o.fast.path_counts["drain"]
    o.run([Quiesce()])
    assert o.fast.path_counts["drain"] > drains and o.checks["CONF-08"] > 0
    assert o.checker.drained < o.fast.path_counts["drain"]


def _conf_runs(oracle) -> int:
    oracle.run([Alloc(16, 0), Alloc(16, 1), Free(0, 1), Free(1, 1)])
    return sum(oracle.checks[i] for i in CONF)


def test_the_stock_oracle_runs_the_conformance_checks_on_the_model():
    cfg = Config()
    assert _conf_runs(Oracle(RefAllocator(cfg), FastAllocator(cfg))) >= 4


def test_an_oracle_without_conformance_and_level_one_run_none_of_them():
    cfg = Config()
    assert _conf_runs(Oracle(RefAllocator(cfg), FastAllocator(cfg), conformance=False)) == 0
    assert _conf_runs(Oracle(RefAllocator(cfg), FastAllocator(cfg), check_level=1)) == 0


def test_an_allocator_without_the_design_counters_is_not_judged_by_them():
    class OwnCounters(FastAllocator):     # hooks, but counters of its own
        path_counts = property(lambda self: {"my_own_counter": 0})

    cfg = Config()
    assert _conf_runs(Oracle(RefAllocator(cfg), OwnCounters(cfg))) == 0


@pytest.mark.quality
def test_the_correct_model_takes_the_designs_path_on_every_op():
    result = hunt(budget=10, seed=1)
    assert not result.killed, result.message[:500]
    assert result.examples > 0
    assert all(result.checks[i] > 0 for i in CONF), dict(result.checks)
