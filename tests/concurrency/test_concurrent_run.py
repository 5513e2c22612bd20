"""Random and PCT schedules over random concurrent rounds (the runner's concurrent family)."""
from hakmem_verify.runner.concurrent import run_concurrent
from hakmem_verify.planted.races import RACES
from hakmem_verify.contract.ops import Alloc


def test_random_and_pct_rounds_on_the_clean_model_find_nothing_and_count_their_schedules():
    for strategy in ("random", "pct"):
        rep = run_concurrent(60, strategy=strategy, seed=1, stop_after=15)
        assert rep.finding == "", "\n".join(rep.lines())
        assert rep.examples == 15 and rep.schedules == 45 and rep.steps > rep.schedules
        assert "schedules" in rep.lines()[0]


def test_random_rounds_find_the_seed_stats_add_and_print_a_replayable_reproducer():
    with RACES["seed-stats-global-add"].apply():
        rep = run_concurrent(30, strategy="random", seed=0)
    assert rep.inv_id == "STAT-01", "\n".join(rep.lines())
    assert "rounds = [" in rep.reproducer and "config = Config(" in rep.reproducer


def test_a_hunt_whose_shrink_budget_ends_keeps_the_smallest_failure_and_says_so(capsys):
    from hakmem_verify.planted.races import RACES
    from hakmem_verify.models.fast import FastAllocator
    from hakmem_verify.models.ref import RefAllocator
    from hakmem_verify.explore.concurrent_hunt import hunt_concurrent
    with RACES["seed-stats-global-add"].apply():
        r = hunt_concurrent(RefAllocator, FastAllocator, budget=60, seed=0,
                            shrink_seconds=1e-6)
    assert r.killed and r.inv_id == "STAT-01"
    assert r.shrink_cut and r.config is not None and "rounds = [" in r.reproducer
    assert "five minutes" not in capsys.readouterr().out


def test_the_post_pass_returns_its_input_at_once_when_its_budget_is_spent():
    from hakmem_verify.models.fast import FastAllocator
    from hakmem_verify.models.ref import RefAllocator
    from hakmem_verify.contract.api import Config
    from hakmem_verify.explore.concurrent_shrink import shrink_rounds
    rounds = [({0: [Alloc(8, 0)], 1: [Alloc(8, 1)]}, "0 1")]
    stats = {}
    cfg = Config(class_sizes=(8,), slab_size=64)
    assert shrink_rounds(RefAllocator, FastAllocator, cfg, rounds, "STAT-01", 0,
                         stats=stats) == (cfg, rounds, None)
    assert stats["cut"] is True


def test_a_concurrent_finding_reports_its_shrink_time_and_whether_it_was_cut():
    from hakmem_verify.planted.races import RACES
    with RACES["seed-stats-global-add"].apply():
        rep = run_concurrent(60, seed=0, shrink_seconds=1e-6)
    assert rep.finding and rep.shrink_cut
    doc = rep.to_json()["finding"]
    assert doc["shrink_cut"] is True and doc["shrink_seconds"] >= 0
    assert any("shrinking cut" in line for line in rep.lines())
