"""The path-conformance checks (CONF-*) are checkers: each planted conformance bug of
fuzz/mutants/conformance.py, hunted by the lockstep machine running the oracle with the
conformance checks wired in, fails with its own ID; the correct model passes them."""
import pytest

from fuzz import mutants
from fuzz.hunt import hunt
from specs.invariants import REGISTRY

from specs.conformance_oracle import conformance_machines

CONF = sorted(i for i, inv in REGISTRY.items() if inv.topic == "conformance")


def test_every_conformance_check_is_registered_with_its_own_planted_bug():
    assert CONF == ["CONF-01", "CONF-02", "CONF-03", "CONF-04", "CONF-05", "CONF-06"]
    planted = [REGISTRY[i].planted for i in CONF]
    assert len(set(planted)) == len(planted)
    for i in CONF:
        assert mutants.get(REGISTRY[i].planted).expect == (i,)


@pytest.mark.quality
@pytest.mark.parametrize("inv_id", CONF)
def test_the_planted_conformance_bug_fails_with_its_id(inv_id):
    m = mutants.get(REGISTRY[inv_id].planted)
    with conformance_machines(), m.apply():
        result = hunt(budget=60, seed=0, config_strategy=m.configs)
    assert result.killed, f"{m.name} survived {result.examples} examples: {inv_id} is not a checker"
    assert inv_id in result.found, f"{m.name} was caught by {sorted(result.found)}, not {inv_id}"
    assert result.found[inv_id].startswith(f"[{inv_id}]")


@pytest.mark.quality
def test_the_correct_model_takes_the_designs_path_on_every_op():
    with conformance_machines():
        result = hunt(budget=10, seed=1)
    assert not result.killed, result.message[:500]
    assert result.examples > 0
    assert all(result.checks[i] > 0 for i in CONF), dict(result.checks)
