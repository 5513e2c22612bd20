"""hakmem-fuzz run --machine concurrent: exit 0 on the clean model with the report, 1 with a
finding and its reproducer, 2 on a bad combination."""
from hakmem_verify.cli.main import main


def test_the_clean_model_exits_0_and_reports_schedules_preemptions_and_races(capsys, tmp_path):
    import json
    assert main(["run", "--machine", "concurrent", "--minutes", "0.02", "--seed", "3",
                 "--report", str(tmp_path)]) == 0
    cap = capsys.readouterr()
    out = cap.out
    assert "schedules" in out and "preemptions per schedule" in out
    assert "shared-word races fired: cas-retry" in out and "nothing found" in out
    assert "hakmem_verify.models.fast:FastAllocator" in cap.err           # the implementation banner
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["result"] == "clean" and doc["implementation"] == "hakmem_verify.models.fast:FastAllocator"
    assert doc["totals"]["schedules"] > 0 and doc["totals"]["steps"] > doc["totals"]["schedules"]
    assert sum(doc["preemptions"]["schedules_by_preemptions"].values()) == \
        doc["totals"]["schedules"]
    assert "cas-retry" in doc["races_fired"] and doc["races_fired"]["preempted_after"]


def test_a_planted_race_exits_1_with_its_reproducer(capsys, tmp_path):
    import json
    rc = main(["run", "--machine", "concurrent", "--mutant", "seed-stats-global-add",
               "--minutes", "0.5", "--report", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 1 and "FINDING [STAT-01]" in out and "rounds = [" in out
    # promote refuses a planted bug's reproducer, so it is not suggested
    assert "hakmem-fuzz promote" not in out and "planted bug 'seed-stats-global-add'" in out
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["result"] == "finding" and doc["finding"]["inv_id"] == "STAT-01"
    assert "rounds = [" in doc["finding"]["reproducer"]
    import runpy
    import pytest
    from hakmem_verify.contract.api import InvariantViolation
    scope = runpy.run_path(doc["finding"]["reproducer_file"])
    assert scope["MUTANT"] == "seed-stats-global-add"
    test = next(f for n, f in scope.items() if n.startswith("test_"))
    with pytest.raises(InvariantViolation) as exc:      # fails while the race is planted
        test()
    assert exc.value.inv_id == "STAT-01"


def test_without_seed_each_run_draws_a_fresh_seed_and_prints_it(capsys, tmp_path):
    import json
    import re
    seeds = []
    for k in range(2):
        assert main(["run", "--machine", "concurrent", "--minutes", "0.002",
                     "--report", str(tmp_path / str(k))]) == 0
        printed = int(re.search(r"seed (\d+)", capsys.readouterr().out).group(1))
        doc = json.loads((tmp_path / str(k) / "report.json").read_text())
        assert doc["seed"] == printed
        seeds.append(printed)
    assert seeds[0] != seeds[1]        # 1 in 10**9 to collide


def test_concurrent_with_another_family_is_a_usage_error(capsys):
    try:
        rc = main(["run", "--machine", "concurrent", "--machine", "tiny", "--minutes", "0.01"])
    except SystemExit as exc:
        rc = exc.code
    assert rc == 2
    assert "runs alone" in capsys.readouterr().err


def test_a_planted_race_in_the_default_run_is_hunted_by_the_concurrent_machine(capsys,
                                                                               tmp_path):
    import json
    from hakmem_verify.planted.races import RACES
    rc = main(["run", "--mutant", "new-slab-outside-lock", "--minutes", "0.5", "--workers",
               "1", "--seed", "1", "--db", str(tmp_path / "db"),
               "--report", str(tmp_path / "rep")])
    out = capsys.readouterr().out
    assert rc == 1 and "concurrent machine" in out
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    (f,) = doc["failures"]
    assert f["machine"] == "concurrent" and f["inv_id"] in RACES["new-slab-outside-lock"].expect
    assert f["reproduces"] is True and f["passes_without_mutant"] is True
    assert doc["machines"]["concurrent"]["ran"] and not doc["machines"]["lockstep"]["ran"]
    assert "planted race" in doc["machines"]["lockstep"]["note"]


def test_a_planted_race_with_a_lockstep_family_is_a_usage_error(capsys):
    rc = main(["run", "--mutant", "new-slab-outside-lock", "--machine", "tiny",
               "--minutes", "0.01"])
    assert rc == 2
    assert "planted race" in capsys.readouterr().err


def test_mutants_hunts_a_planted_race_with_the_concurrent_machine_and_its_rounds_replay(capsys):
    import json
    from hakmem_verify.planted.races import RACES
    from hakmem_verify.models.fast import FastAllocator
    from hakmem_verify.models.ref import RefAllocator
    from hakmem_verify.oracle.concurrent import replay
    from hakmem_verify.contract.api import InvariantViolation
    assert main(["mutants", "--workers", "1", "--budget", "30", "--json", "-",
                 "seed-stats-global-add"]) == 0
    row = json.loads(capsys.readouterr().out)["results"][0]
    assert row["machine"] == "concurrent" and row["inv_id"] == "STAT-01"
    assert row["repro_steps"] >= 2 and row["preemptions"] >= 1
    scope = {}
    exec(row["reproducer"], scope)
    with RACES["seed-stats-global-add"].apply():
        try:
            replay(RefAllocator, FastAllocator, scope["config"], scope["rounds"])
            raise AssertionError("the reproducer replays clean under the planted race")
        except InvariantViolation as exc:
            assert exc.inv_id == "STAT-01"
    replay(RefAllocator, FastAllocator, scope["config"], scope["rounds"], strict=False)
