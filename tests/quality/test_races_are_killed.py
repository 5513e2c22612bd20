"""Every planted concurrency bug (hakmem_verify/planted/races.py) is killed by the concurrent
machine within 60 s, by an invariant it expects, with a short reproducer that replays."""
import pytest

from hakmem_verify import planted as mutants
from hakmem_verify.planted.races import RACES
from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.contract.api import InvariantViolation
from hakmem_verify.oracle.concurrent import replay
from hakmem_verify.explore.concurrent_hunt import hunt_concurrent
from hakmem_verify.contract.ops import Alloc


def test_every_concurrency_mutant_documents_its_bug_and_is_of_the_concurrency_kind():
    from hakmem_verify.cli.mutants import catalogue
    assert len([m for m in RACES.values() if not m.equivalent]) >= 10
    kinds = {r["name"]: r["kind"] for r in catalogue()}
    for name, m in RACES.items():
        assert len(m.doc) > 40 and m.kind == "concurrency", name
        assert m.expect or (m.equivalent and "quivalent" in m.doc), name
        assert name not in mutants.names("model"), f"{name} would be hunted by the sequential machine"
        assert name in mutants.names() and mutants.get(name) is m and kinds[name] == "concurrency"


@pytest.mark.quality
@pytest.mark.parametrize("name", sorted(n for n, m in RACES.items() if not m.equivalent), ids=str)
def test_the_concurrent_machine_kills_the_planted_race(name):
    m = RACES[name]
    with m.apply():
        r = hunt_concurrent(RefAllocator, FastAllocator, budget=60, seed=0, shrink_seconds=5,
                            post_shrink_seconds=10, config_strategy=m.configs)
    assert r.killed, f"{name} survived {r.examples} examples in {r.seconds:.0f} s"
    assert r.inv_id in m.expect, f"{name} was caught by {r.inv_id}, expected one of " \
                                 f"{m.expect}: {r.message[:300]}"
    scope = {}
    exec(r.reproducer, scope)
    n_ops = sum(len(p) for progs, _ in scope["rounds"] for p in progs.values())
    assert n_ops == r.ops
    print(f"\n{name}: {r.inv_id}, reproducer of {n_ops} ops, {r.preemptions} preemptions")
    # the bound; shrinking is capped in time (Hypothesis 5 s, then the post-pass of
    # hakmem_verify.explore.concurrent_shrink, which usually ends in 1-2 s)
    assert n_ops <= 10 and r.preemptions <= 3, f"{name}: reproducer of {n_ops} ops and " \
                                               f"{r.preemptions} preemptions:\n{r.reproducer}"
    with m.apply(), pytest.raises(InvariantViolation) as exc:
        replay(RefAllocator, FastAllocator, scope["config"], scope["rounds"])
    assert exc.value.inv_id in m.expect, f"the reproducer replays to {exc.value}"


def test_the_seed_stats_add_reproducer_of_seed_findings_fails_under_the_sample_only():
    from hakmem_verify.contract.api import Config
    cfg = Config(class_sizes=(8, 16), slab_size=64, word_bits=4, mini_mag_capacity=1,
                 refill_batch=1, magazine_capacity=1, flush_interval=1)
    rounds = [({0: [Alloc(0, 0)], 1: [Alloc(0, 1)]}, "0*4 1*4"),
              ({0: [Alloc(0, 0)], 1: [Alloc(0, 1)]}, "0 1*3 0*2")]
    with RACES["seed-stats-global-add"].apply(), pytest.raises(InvariantViolation) as exc:
        replay(RefAllocator, FastAllocator, cfg, rounds)
    assert exc.value.inv_id == "STAT-01"
    replay(RefAllocator, FastAllocator, cfg, rounds, strict=False)   # the fetch-add: clean


@pytest.mark.quality
def test_the_pop_one_drain_is_equivalent_under_the_single_consumer_remote_stack():
    m = RACES["drain-pops-one-by-cas"]
    assert m.equivalent
    with m.apply():
        r = hunt_concurrent(RefAllocator, FastAllocator, budget=5, seed=0)
    assert not r.killed, f"{r.inv_id} fired: the remote stack has a second consumer: " \
                         f"{r.message[:300]}\n{r.reproducer}"
    assert r.examples > 20
