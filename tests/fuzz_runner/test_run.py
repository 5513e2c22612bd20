"""Campaigns of ``hakmem-fuzz run``: clean runs, planted bugs, reproducers, resumption.

Each test runs the real command in a fresh process with its database and
report under tmp_path, and keeps to a few seconds of fuzzing.
"""
from __future__ import annotations

from .helpers import hakmem_fuzz, load_report, pytest_file, run_args

QUICK_MUTANT = "active-a-equals-b"        # killed by the first alloc of any config


def test_a_short_clean_run_exits_0_with_a_full_report(tmp_path):
    proc = hakmem_fuzz(*run_args(tmp_path, minutes="0.1"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "[hakmem-fuzz]" in proc.stderr and "steps/s" in proc.stderr   # progress line
    r = load_report(tmp_path)
    assert r["status"] == "clean" and r["exit_status"] == 0 and r["failures"] == []
    assert r["stop_reason"] == "budget"
    assert r["parameters"]["seed"] == 7 and r["parameters"]["workers"] == 1
    assert r["totals"]["examples"] > 0 and r["totals"]["steps"] > 0
    (w,) = r["workers"]
    assert w["status"] == "finished" and w["seed_start"] == 7 and w["steps_per_s"] > 0
    assert r["coverage"]["per_op"].get("new_slab", 0) > 0
    assert r["coverage"]["per_block"].get("new_slab", 0) >= r["coverage"]["per_op"]["new_slab"]
    assert r["checks"].get("L2", 0) > 0 and r["checks"].get("L3", 0) > 0
    md = (tmp_path / "report" / "report.md").read_text()
    for heading in ("## Parameters", "## Throughput", "## Failures", "## Path coverage",
                    "## Invariant checks", "## Behaviours", "## Progress",
                    "## Example database"):
        assert heading in md


def test_a_planted_bug_is_found_and_its_reproducer_fails_only_under_the_bug(tmp_path):
    proc = hakmem_fuzz(*run_args(tmp_path, "--mutant", QUICK_MUTANT, minutes="0.5"),
                       cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    r = load_report(tmp_path)
    assert r["status"] == "failures"
    assert r["stop_reason"] == "first failure of a --mutant run"
    assert r["elapsed_s"] < 25
    (f,) = r["failures"]
    assert f["inv_id"] == "OWN-01" and f["seed"] == 7 and f["mutant"] == QUICK_MUTANT
    assert f["reproduces"] is True and f["passes_without_mutant"] is True
    assert f["shrunk_steps"] >= 1 and f["message_head"].startswith("[OWN-01]")
    assert "OWN-01" in proc.stdout and "seed 7" in proc.stdout

    repro = tmp_path / "report" / "reproducers" / "test_repro_own_01_seed7.py"
    assert f["reproducer"] == str(repro)
    failing = pytest_file(repro, cwd=tmp_path)
    assert failing.returncode == 1, failing.stdout
    assert "OWN-01" in failing.stdout

    fixed = tmp_path / "fixed" / "test_repro_fixed.py"
    fixed.parent.mkdir()
    fixed.write_text(repro.read_text().replace(f"MUTANT = {QUICK_MUTANT!r}", "MUTANT = None"))
    passing = pytest_file(fixed, cwd=tmp_path)
    assert passing.returncode == 0, passing.stdout


def test_a_second_run_on_the_same_database_replays_the_saved_failure(tmp_path):
    first = hakmem_fuzz(*run_args(tmp_path, "--mutant", QUICK_MUTANT, minutes="0.5"),
                        cwd=tmp_path)
    assert first.returncode == 1
    assert load_report(tmp_path)["database"]["files_after"] > 0
    second = hakmem_fuzz(*run_args(tmp_path, "--mutant", QUICK_MUTANT, minutes="0.5",
                                   seed="99"), cwd=tmp_path)
    assert second.returncode == 1, second.stderr
    r = load_report(tmp_path)
    assert r["database"]["files_before"] > 0
    (f,) = r["failures"]
    assert f["inv_id"] == "OWN-01" and f["seed"] == 99
    assert r["database"]["replayed"] > 0      # the saved failure, replayed first
    clean = hakmem_fuzz(*run_args(tmp_path, minutes="0.05"), cwd=tmp_path)
    assert clean.returncode == 0, clean.stderr   # the planted bug's failures stay in its namespace


def test_promotion_refuses_planted_bug_reproducers_and_copies_real_ones(tmp_path):
    proc = hakmem_fuzz(*run_args(tmp_path, "--mutant", QUICK_MUTANT, "--promote",
                                 "--regressions", tmp_path / "regressions", minutes="0.5"),
                       cwd=tmp_path)
    assert proc.returncode == 1
    assert "will not be promoted" in proc.stderr and "refusing" in proc.stderr
    assert not (tmp_path / "regressions").exists()
    (f,) = load_report(tmp_path)["failures"]
    refused = hakmem_fuzz("promote", f["reproducer"], "--to", tmp_path / "regressions",
                          cwd=tmp_path)
    assert refused.returncode == 2 and "planted bug" in refused.stderr

    real = tmp_path / "test_repro_real.py"
    real.write_text(open(f["reproducer"]).read().replace(f"MUTANT = {QUICK_MUTANT!r}",
                                                         "MUTANT = None"))
    ok = hakmem_fuzz("promote", real, "--to", tmp_path / "regressions", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "regressions" / "test_repro_real.py").read_text() == real.read_text()
