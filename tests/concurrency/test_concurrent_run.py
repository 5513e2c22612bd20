"""Random and PCT schedules over random concurrent rounds (the runner's concurrent family)."""
from fuzz.concurrent_run import run_concurrent
from fuzz.mutants.races import RACES


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
