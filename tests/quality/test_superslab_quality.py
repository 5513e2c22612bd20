"""SuperSlab mode's planted bugs (hakmem_verify/planted/superslab.py), each shown caught by its
invariant on a short op sequence that reaches it: the same ops pass on the correct model
and fail, naming the expected ID, under the planted bug.  (The Hypothesis hunts of the
same bugs: tests/quality/test_every_invariant_catches_its_bug.py for the SS-* IDs'
planted bugs, test_mutants_are_killed.py for the others.)"""

import pytest

from hakmem_verify import planted as mutants
from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.contract.api import Config, InvariantViolation
from hakmem_verify.check import REGISTRY
from hakmem_verify.oracle.lockstep import Oracle
from hakmem_verify.contract.ops import Alloc, Evict, Free, ThreadExit

#: 4-block slabs, SuperSlabs of 3 slab slots, one-block caches: each path in a few ops
CFG = Config(class_sizes=(16,), slab_size=64, word_bits=8, mini_mag_capacity=1,
             refill_batch=1, magazine_capacity=1, flush_interval=8, use_superslab=True,
             superslab_size=256, superslab_pool_max=1, tls_sll_capacity=0)
SLL = Config(**{**CFG.__dict__, "tls_sll_capacity": 1})

FOUR = [Alloc(16, 0)] * 4
#: slab X filled and evicted by tid 0, then slab Y carved beside it; tid 1 frees Y's block
#: (a remote push onto tid 0's Y) and X's four blocks, and exits: X is released
TWO_SLABS = FOUR + [Evict(0, 0), Alloc(16, 0), Free(4, 1)] + [Free(h, 1) for h in range(4)] \
    + [ThreadExit(1)]

SCENARIOS = {   # mutant -> (Config, ops, the ID it must trip)
    "ss-slot-off-by-one": (CFG, [Alloc(16, 0)], "SS-01"),
    "ss-free-slot-lost": (CFG, TWO_SLABS, "SS-02"),
    "tls-sll-ignores-capacity": (SLL, [Alloc(16, 0)] * 2 + [Free(0, 0), Free(1, 0)], "SS-03"),
    "ss-release-ignores-remote": (CFG, TWO_SLABS, "SS-04"),
    "ss-remote-uncounted-when-abandoned": (CFG, [Alloc(16, 0), ThreadExit(0), Free(0, 1)],
                                           "SS-05"),
    "ss-counter-on-wrong-route": (CFG, [Alloc(16, 0), Free(0, 1)], "SS-06"),
    "ss-reclaim-keeps-owner": (CFG, [Alloc(16, 0), ThreadExit(0), Alloc(16, 1)], "SS-07"),
    "ss-map-uncounted": (CFG, [Alloc(16, 0)], "SS-09"),
    "ss-pool-pop-unlocked": (CFG, [Alloc(16, 0), Free(0, 0), ThreadExit(0), Alloc(16, 1)],
                             "SS-08"),
    "tls-sll-not-flushed-at-exit": (SLL, [Alloc(16, 0), Free(0, 0), ThreadExit(0)],
                                    "SS-05"),
    # tid 1 evicts its partial slab, tid 0 exits leaving its own partial: tid 1's next alloc
    # adopts its own slab back, not the abandoned SuperSlab's
    "ss-reclaim-before-own": (CFG, [Alloc(16, 0), Alloc(16, 1), Evict(1, 0), ThreadExit(0),
                                    Alloc(16, 1)], "CONF-01"),
}


def _run(cfg, ops, conformance: bool):
    oracle = Oracle(RefAllocator(cfg), FastAllocator(cfg), l3_every=1, conformance=conformance)
    oracle.run(ops)
    oracle.teardown()
    return oracle


def test_every_superslab_mutant_has_a_scenario_and_expects_its_id():
    names = {n for n in mutants.names() if mutants.get(n).doc and
             mutants.get(n).make.__module__ == "hakmem_verify.planted.superslab"}
    assert names == set(SCENARIOS)
    for name, (_, _, inv_id) in SCENARIOS.items():
        assert inv_id in mutants.get(name).expect, name
    planted = {inv.planted: i for i, inv in REGISTRY.items() if i.startswith("SS-")}
    assert set(planted) <= set(SCENARIOS)
    for name, inv_id in planted.items():
        assert SCENARIOS[name][2] == inv_id


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_scenario_passes_on_the_correct_model(name):
    """The ops pass, and the check that must catch the planted bug ran on them."""
    cfg, ops, inv_id = SCENARIOS[name]
    oracle = _run(cfg, ops, conformance=True)
    assert oracle.checks[inv_id] >= 1, f"{inv_id} never ran on the scenario of {name}"


@pytest.mark.quality
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_planted_superslab_bug_is_named_by_its_invariant(name):
    cfg, ops, inv_id = SCENARIOS[name]
    conformance = REGISTRY.get(inv_id) is not None and REGISTRY[inv_id].topic == "conformance"
    with mutants.apply(name), pytest.raises(InvariantViolation) as e:
        _run(cfg, ops, conformance)
    assert e.value.inv_id == inv_id, str(e.value)[:500]
