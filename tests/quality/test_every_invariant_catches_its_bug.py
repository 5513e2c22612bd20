"""Every invariant ID is a checker only if a planted bug trips it.

For each ID of the catalogue, one planted bug (a mutant of fuzz/mutants, applied in
memory) is hunted by the lockstep machine; the shrunk failure must name that ID.
"""
import pytest

from fuzz import mutants
from fuzz.hunt import hunt
from specs.invariants import REGISTRY, conformance

# invariant ID -> the planted bug that must trip it first: declared with the check
# (the black-box checks' planted bugs are foreign allocators: tests/quality/test_foreign_bugs.py)
PLANTED = {i: inv.planted for i, inv in REGISTRY.items() if inv.topic != "blackbox"}


def test_every_registered_invariant_names_a_catalogued_planted_bug():
    missing = {i: p for i, p in PLANTED.items() if p not in mutants.names()}
    assert not missing, f"planted bugs not in fuzz/mutants: {missing}"


@pytest.mark.quality
@pytest.mark.parametrize("inv_id", sorted(PLANTED))
def test_the_machine_names_the_invariant_its_planted_bug_breaks(inv_id):
    if REGISTRY[inv_id].topic == "conformance" and not conformance.wired():
        pytest.skip("specs.lockstep.Oracle does not run the CONF checks yet: "
                    "tests/quality/test_conformance.py hunts their bugs under ConformanceOracle")
    m = mutants.get(PLANTED[inv_id])
    with m.apply():
        result = hunt(budget=60, seed=0, config_strategy=m.configs)
    assert result.killed, f"{m.name} survived {result.examples} examples: {inv_id} is not a checker"
    assert inv_id in result.found, f"{m.name} was caught by {sorted(result.found)}, not {inv_id}"
    assert result.found[inv_id].startswith(f"[{inv_id}]")
