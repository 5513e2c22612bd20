"""The default run splits its budget between the lockstep and the concurrent machine and
reports both; ``--machine`` chooses one; an implementation other than hakmem_verify.models.fast runs
the lockstep machine only."""
from __future__ import annotations

import time

import pytest

from hakmem_verify.runner import run as runner
from hakmem_verify.runner.campaign import Campaign
from hakmem_verify.runner.worker import plan

from .helpers import hakmem_fuzz, load_report, run_args


def test_the_default_run_reports_both_machines_with_their_throughput(tmp_path):
    proc = hakmem_fuzz(*run_args(tmp_path, minutes="0.1"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "lockstep:" in proc.stderr and "concurrent:" in proc.stderr   # progress line
    r = load_report(tmp_path)
    lock, conc = r["machines"]["lockstep"], r["machines"]["concurrent"]
    assert lock["ran"] and conc["ran"]
    assert abs(lock["share"] - 2 / 3) < 0.01 and abs(conc["share"] - 1 / 3) < 0.01
    assert lock["steps"] > 0 and lock["steps_per_s"] > 0
    assert conc["schedules"] > 0 and conc["schedules_per_s"] > 0 and conc["steps_per_s"] > 0
    c = r["concurrent"]
    assert c["schedules"] == conc["schedules"]
    assert sum(c["schedules_by_preemptions"].values()) == c["schedules"]
    assert "cas-retry" in c["races_fired"] and c["races_fired"]["preempted_after"]
    assert r["coverage"]["concurrent_per_block"]         # both machines feed the coverage
    (w,) = r["workers"]
    assert w["concurrent"]["schedules"] == conc["schedules"]
    md = (tmp_path / "report" / "report.md").read_text()
    assert "## Concurrent machine: schedules, preemptions, races" in md
    assert "| lockstep | 67% | yes |" in md and "| concurrent | 33% | yes |" in md
    assert "never reached by the machines that ran (lockstep, concurrent)" in md


def test_a_lockstep_family_runs_the_lockstep_machine_only(tmp_path):
    proc = hakmem_fuzz(*run_args(tmp_path, "--machine", "tiny", minutes="0.05"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    r = load_report(tmp_path)
    assert r["machines"]["lockstep"]["ran"] and not r["machines"]["concurrent"]["ran"]
    assert r["machines"]["concurrent"]["schedules"] == 0
    assert "concurrent machine: not run" in (tmp_path / "report" / "report.md").read_text()


def test_a_black_box_implementation_keeps_the_lockstep_machine_only_and_says_why():
    params = runner.split(runner.default_params(impl="examples.bump_alloc:make", seed=1))
    assert params["concurrent_share"] == 0
    assert "hakmem_verify.contract.api.Steps" in params["concurrent_note"]
    assert "--impl examples.bump_alloc:make" in params["concurrent_note"]


def test_a_white_box_implementation_gets_the_split_too():
    spec = "tests.concurrency.test_foreign_steps:make"
    params = runner.split(runner.default_params(impl=spec, seed=1))
    assert abs(params["concurrent_share"] - 1 / 3) < 1e-9 and not params.get("concurrent_note")


def test_a_planted_race_goes_to_the_concurrent_machine_and_a_sequential_bug_to_lockstep():
    race = runner.split(runner.default_params(mutant="drain-trusts-count", seed=1))
    assert race["concurrent_share"] == 1 and race["concurrent_first"]
    seq = runner.split(runner.default_params(mutant="active-a-equals-b", seed=1))
    assert seq["concurrent_share"] == 0 and "sequential" in seq["concurrent_note"]
    clean = runner.split(runner.default_params(seed=1))
    assert abs(clean["concurrent_share"] - 1 / 3) < 1e-9


def test_a_worker_alternates_two_thirds_lockstep_and_one_third_concurrent():
    params = {"deadline": time.time() + 600, "concurrent_share": 1 / 3, "cycle": 90}
    slices = plan(params)
    first = [next(slices) for _ in range(4)]
    assert [p for p, _ in first] == ["lockstep", "concurrent"] * 2
    assert abs(first[0][1] - 60) < 0.5 and abs(first[1][1] - 30) < 0.5
    params["concurrent_first"] = True
    assert next(plan(params))[0] == "concurrent"
    assert [p for p, _ in plan(dict(params, concurrent_share=0))] == ["lockstep"]
    assert [p for p, _ in plan(dict(params, concurrent_share=1))] == ["concurrent"]


def _failure(worker, machine, inv_id="OWN-01", trace=("x",)):
    return {"worker": worker, "machine": machine, "inv_id": inv_id, "seed": worker,
            "mutant": None, "config": f"cfg{worker}", "trace": list(trace), "message": "m",
            "reproducer": None, "duplicates": []}


def test_a_finding_of_both_machines_is_reported_once_with_the_other_as_duplicate():
    camp = Campaign(runner.default_params(workers=2, seed=1))
    camp.handle(("failure", 0, _failure(0, "lockstep")))
    camp.handle(("failure", 1, _failure(1, "concurrent")))
    camp.handle(("failure", 1, _failure(1, "concurrent", inv_id="RMT-01")))
    assert [f["inv_id"] for f in camp.failures] == ["OWN-01", "RMT-01"]
    (dup,) = camp.failures[0]["duplicates"]
    assert dup["machine"] == "concurrent" and dup["worker"] == 1


def test_a_clean_run_of_the_model_draws_both_modes_and_others_the_default_one():
    """The lockstep machine of a clean run draws SuperSlab mode as often as the default
    mode; a planted bug is hunted in its catalogue entry's Configs, another
    implementation in the default mode (the one every allocator serves)."""
    from hypothesis import find
    from hypothesis.errors import NoSuchExample

    from hakmem_verify.runner.worker import config_strategy
    for impl in (None, "fast", "hakmem_verify.models.fast:FastAllocator"):
        assert find(config_strategy(["any"], impl=impl), lambda c: c.use_superslab)
        assert not find(config_strategy(["tiny"], impl=impl),
                        lambda c: not c.use_superslab).use_superslab
    for kw in (dict(impl="examples.bump_alloc:make"), dict(mutant="magazine-double-insert")):
        with pytest.raises(NoSuchExample):
            find(config_strategy(["any"], **kw), lambda c: c.use_superslab)
