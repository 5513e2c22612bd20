"""Every invariant ID is a checker only if a planted bug trips it.

For each ID of the catalogue, one planted bug (a mutant of fuzz/mutants, applied in
memory) is hunted by the lockstep machine; the shrunk failure must name that ID.
"""
import pytest

from fuzz import mutants
from fuzz.hunt import hunt
from specs.invariants import CATALOGUE

# invariant ID -> the planted bug that must trip it first
PLANTED = {
    "SLAB-01": "slab-geometry-off-by-one",
    "SLAB-02": "padding-bits-free",
    "SLAB-03": "free-count-drift",
    "SUM-01": "summary-not-set",
    "SUM-02": "stale-hint-never-wraps",
    "MM-01": "minimag-capacity-off-by-one",
    "MM-02": "minimag-double-push",
    "RMT-01": "remote-push-not-atomic",
    "RMT-02": "drain-forgets-remote-count",
    "MAG-01": "magazine-capacity-off-by-one",
    "MAG-02": "magazine-double-insert",
    "OWN-01": "active-a-equals-b",
    "OWN-02": "evict-keeps-owner",
    "PART-01": "drain-leaves-blocks-used",
    "LIVE-01": "release-with-live-block",
    "LIVE-02": "magazine-pop-stale-slot",
    "DATA-01": "free-poisons-neighbour",
    "REF-01": "hot-refill-loses-block",
    "SPL-01": "evict-skips-spill",
    "STAT-01": "stats-flush-off-by-one",
    "STAT-02": "stats-never-flushed",
    "STAT-03": "stats-reported-stale",
    "STAT-04": "exact-counts-failed-alloc",
    "QUI-01": "quiesce-skips-a-thread",
    "OOM-01": "partial-slabs-ignored",
    "LOCK-01": "error-changes-state",
    "LOCK-02": "size-class-off-by-one",
}


def test_every_catalogued_invariant_has_a_planted_bug():
    assert set(PLANTED) == set(CATALOGUE)


@pytest.mark.quality
@pytest.mark.parametrize("inv_id", sorted(PLANTED))
def test_the_machine_names_the_invariant_its_planted_bug_breaks(inv_id):
    m = mutants.get(PLANTED[inv_id])
    with m.apply():
        result = hunt(budget=60, seed=0, config_strategy=m.configs)
    assert result.killed, f"{m.name} survived {result.examples} examples: {inv_id} is not a checker"
    assert inv_id in result.found, f"{m.name} was caught by {sorted(result.found)}, not {inv_id}"
    assert result.found[inv_id].startswith(f"[{inv_id}]")
