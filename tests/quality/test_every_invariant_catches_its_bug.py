"""Every invariant ID is a checker only if a planted bug trips it.

For each ID of the catalogue, one planted bug (a mutant of hakmem_verify/planted, applied in
memory) is hunted by the lockstep machine; the shrunk failure must name that ID.  The
safety IDs are hunted with the design's path checks (CONF-*) off, so each shows it
catches its bug by itself.
"""

import pytest

from hakmem_verify import planted as mutants
from hakmem_verify.explore.hunt import hunt
from hakmem_verify.explore.concurrent_shrink import hypothesis_shrink_budget
from hakmem_verify.check import REGISTRY
from hakmem_verify.check.registry import CONCURRENT_TOPICS

# invariant ID -> the planted bug that must trip it first: declared with the check
# (the black-box checks' planted bugs are foreign allocators: tests/quality/test_foreign_bugs.py;
# the concurrent machine's are races: tests/quality/test_concurrent_findings.py)
PLANTED = {i: inv.planted for i, inv in REGISTRY.items()
           if inv.topic not in ("blackbox", "malloc") + CONCURRENT_TOPICS}


#: the test asks which invariant names the bug, not for a minimal example: most of a
#: hunt's time was Hypothesis shrinking a failure found in the first second
SHRINK_SECONDS = 2


def test_every_registered_invariant_names_a_catalogued_planted_bug():
    missing = {i: p for i, p in PLANTED.items() if p not in mutants.names()}
    assert not missing, f"planted bugs not in hakmem_verify/planted: {missing}"


@pytest.mark.quality
@pytest.mark.parametrize("inv_id", sorted(PLANTED))
def test_the_machine_names_the_invariant_its_planted_bug_breaks(inv_id):
    m = mutants.get(PLANTED[inv_id])
    # a safety ID must catch its bug by itself: the design's path checks, which often
    # see a wrong path before its consequence, are off for them
    conformance = REGISTRY[inv_id].topic == "conformance"
    with m.apply(), hypothesis_shrink_budget(SHRINK_SECONDS):
        result = hunt(budget=60, seed=0, config_strategy=m.configs, conformance=conformance)
    assert result.killed, f"{m.name} survived {result.examples} examples: {inv_id} is not a checker"
    assert inv_id in result.found, f"{m.name} was caught by {sorted(result.found)}, not {inv_id}"
    assert result.found[inv_id].startswith(f"[{inv_id}]")
