"""Every catalogued planted bug is killed by the lockstep machine, by an invariant it
expects; every mutant marked equivalent survives (its docstring argues why).
"""
import pytest

from hakmem_verify import planted as mutants
from hakmem_verify.explore.hunt import hunt

from hakmem_verify.explore.concurrent_shrink import hypothesis_shrink_budget

from .test_every_invariant_catches_its_bug import PLANTED, SHRINK_SECONDS

ALL = mutants.names("model")


def test_the_catalogue_holds_at_least_25_planted_bugs_and_every_seed_sample():
    killable = [n for n in ALL if not mutants.get(n).equivalent]
    assert len(killable) >= 25
    for sample in ("mini_mag_pop", "mini_mag_push", "batch_refill_from_bitmap",
                   "batch_spill_to_bitmap", "stats_flush_if_needed", "stats-phase3",
                   "hot-path", "refill_tls_magazine"):
        assert f"seed-{sample}" in ALL


def test_every_mutant_documents_its_bug_and_what_catches_it():
    for name in ALL:
        m = mutants.get(name)
        assert len(m.doc) > 40, name
        assert m.equivalent or m.expect, name
        if m.equivalent:
            assert "quivalent" in m.doc, f"{name}: an equivalent mutant must say why"


# the planted bugs of the invariant-ID test are hunted there; the rest here
OTHERS = [n for n in ALL if not mutants.get(n).equivalent and n not in set(PLANTED.values())]


@pytest.mark.parametrize("name", OTHERS, ids=str)
@pytest.mark.quality
def test_the_machine_kills_the_planted_bug(name):
    m = mutants.get(name)
    with m.apply(), hypothesis_shrink_budget(SHRINK_SECONDS):
        result = hunt(budget=60, seed=0, config_strategy=m.configs)
    assert result.killed, f"{name} survived {result.examples} examples ({result.steps} ops)"
    assert set(result.found) & set(m.expect), (
        f"{name} was caught by {sorted(result.found)}, expected one of {m.expect}: "
        f"{result.message[:300]}")


@pytest.mark.parametrize("name", [n for n in ALL if mutants.get(n).equivalent], ids=str)
@pytest.mark.quality
def test_an_equivalent_mutant_survives_a_short_hunt(name):
    m = mutants.get(name)
    with m.apply():
        result = hunt(budget=5, seed=0, config_strategy=m.configs)
    assert not result.killed, f"{name} is marked equivalent but {result.inv_id} fired: " \
                              f"{result.message[:300]}"
    assert result.examples > 0
