"""hakmem-fuzz run --machine concurrent: exit 0 on the clean model with the report, 1 with a
finding and its reproducer, 2 on a bad combination."""
from fuzz.cli import main


def test_the_clean_model_exits_0_and_reports_schedules_preemptions_and_races(capsys):
    assert main(["run", "--machine", "concurrent", "--minutes", "0.02", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "schedules" in out and "preemptions per schedule" in out
    assert "shared-word races fired: cas-retry" in out and "nothing found" in out


def test_a_planted_race_exits_1_with_its_reproducer(capsys):
    rc = main(["run", "--machine", "concurrent", "--mutant", "seed-stats-global-add",
               "--minutes", "0.5"])
    out = capsys.readouterr().out
    assert rc == 1 and "FINDING [STAT-01]" in out and "rounds = [" in out


def test_concurrent_with_another_family_is_a_usage_error(capsys):
    try:
        rc = main(["run", "--machine", "concurrent", "--machine", "tiny", "--minutes", "0.01"])
    except SystemExit as exc:
        rc = exc.code
    assert rc == 2
    assert "runs alone" in capsys.readouterr().err
