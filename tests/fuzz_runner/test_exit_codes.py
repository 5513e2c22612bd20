"""Every exit status of ``hakmem-fuzz run`` is driven by a test, and the help lists them.

    0 clean, full budget      test_run.test_a_short_clean_run_exits_0_with_a_full_report
    1 failure found           test_run (a planted bug), test_hang (a planted hang)
    2 usage / environment     here, and test_usage
    3 interrupted/incomplete  test_robustness (SIGTERM, a crashed or a terminated worker)
"""
from __future__ import annotations

import os

import pytest

from hakmem_verify.cli.main import build_parser, main

from .helpers import hakmem_fuzz, load_report, run_args


def test_help_documents_the_four_exit_statuses(capsys):
    for argv in (["--help"], ["run", "--help"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(argv)
        out = " ".join(capsys.readouterr().out.split())
        for text in ("0 clean", "1 a failure was found", "2 usage error",
                     "3 interrupted or incomplete"):
            assert text in out, (argv, text)


def test_a_database_under_a_file_exits_2_before_running(tmp_path):
    (tmp_path / "a-file").write_text("not a directory")
    proc = hakmem_fuzz("run", "--minutes", "0.05", "--workers", "1", "--seed", "1",
                       "--db", tmp_path / "a-file" / "db", "--report", tmp_path / "report",
                       cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "--db" in proc.stderr and "not writable" in proc.stderr
    assert "Nothing was run" in proc.stderr
    assert not (tmp_path / "report" / "report.json").exists()
    assert "[hakmem-fuzz]" not in proc.stderr                 # no progress: never started


def test_a_report_directory_under_a_file_exits_2_before_running(tmp_path):
    (tmp_path / "a-file").write_text("")
    proc = hakmem_fuzz("run", "--minutes", "0.05", "--workers", "1", "--db", tmp_path / "db",
                       "--report", tmp_path / "a-file" / "report", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "--report" in proc.stderr and "not writable" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_database_directory_exits_2_before_running(tmp_path):
    db = tmp_path / "db"
    db.mkdir()
    db.chmod(0o500)
    try:
        proc = hakmem_fuzz(*run_args(tmp_path), cwd=tmp_path)
    finally:
        db.chmod(0o700)
    assert proc.returncode == 2 and "not writable" in proc.stderr


def test_shard_without_a_seed_is_a_usage_error(capsys):
    assert main(["run", "--shard", "1/2"]) == 2
    assert "--shard K/N needs --seed" in capsys.readouterr().err
    assert main(["run", "--shard", "3/2", "--seed", "1"]) == 2
    assert "1 <= K <= N" in capsys.readouterr().err


def test_a_clean_run_reports_exit_status_0_in_its_report(tmp_path):
    proc = hakmem_fuzz(*run_args(tmp_path, minutes="0.05"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    r = load_report(tmp_path)
    assert r["exit_status"] == 0 and r["incomplete"] == [] and r["stop_reason"] == "budget"
    assert "exit status 0: clean" in proc.stdout
