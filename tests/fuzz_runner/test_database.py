"""No silent loss: corrupt entries are named, refused saves fall back or are said loudly."""
from __future__ import annotations

from hakmem_verify.runner import db as runner_db
from hakmem_verify.runner.db import WorkerDatabase, scan_corrupt
from hakmem_verify.runner.failure import saved_where

from .helpers import hakmem_fuzz, load_report, run_args

QUICK_MUTANT = "active-a-equals-b"


class _Refusing:
    """A database that refuses every save, as a Redis that went away does."""

    def save(self, key, value):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    def fetch(self, key):
        raise ConnectionError("Connection refused.")

    def delete(self, key, value):
        raise ConnectionError("Connection refused.")


def test_corrupt_entries_are_counted_and_named_and_the_run_goes_on(tmp_path):
    db = runner_db.open_database(str(tmp_path / "db"))
    db.save(b"key", b"\xff")                   # a truncated header: does not decode
    (tmp_path / "db" / "stray-file").write_text("junk")
    entries, corrupt = scan_corrupt(str(tmp_path / "db"))
    assert entries == 1 and len(corrupt) == 2
    assert any("stray-file" in c for c in corrupt)
    assert any("does not decode" in c for c in corrupt)
    proc = hakmem_fuzz(*run_args(tmp_path, minutes="0.05"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "2 corrupt entries" in proc.stderr
    r = load_report(tmp_path)
    assert len(r["database"]["corrupt"]) == 2
    assert "corrupt entries" in (tmp_path / "report" / "report.md").read_text()


def test_a_refused_save_falls_back_to_the_local_directory(tmp_path):
    local = runner_db.open_database(str(tmp_path / "local"))
    wdb = WorkerDatabase(_Refusing(), local, None, b"ns/", replay=True)
    wdb.save(b"k", b"v")
    assert wdb.stats()["fallback"] == 1 and wdb.stats()["lost"] == 0
    assert "Connection refused" in wdb.stats()["errors"][0]
    assert list(wdb.fetch(b"k")) == [b"v"]                   # replayed from the fallback
    assert saved_where(wdb).startswith("saved only in --db-local")


def test_a_save_refused_everywhere_is_counted_as_lost_and_said(tmp_path):
    wdb = WorkerDatabase(_Refusing(), None, None, b"ns/", replay=True)
    wdb.save(b"k", b"v")
    assert wdb.stats()["lost"] == 1
    assert saved_where(wdb).startswith("NOT SAVED") and "Connection refused" in saved_where(wdb)


def test_a_failure_without_a_database_is_said_loudly(tmp_path):
    args = run_args(tmp_path, "--mutant", QUICK_MUTANT, minutes="0.5")
    args[args.index("--db") + 1] = ""
    proc = hakmem_fuzz(*args, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "WARNING: failure [OWN-01]" in proc.stderr and "NOT SAVED" in proc.stderr
    (f,) = load_report(tmp_path)["failures"]
    assert f["saved"].startswith("NOT SAVED")
    md = (tmp_path / "report" / "report.md").read_text()
    assert "no failure of this run was saved" in md
    assert "Saved failures are replayed first" not in md


def test_examples_reaching_new_behaviours_are_kept_and_replayed(tmp_path):
    first = hakmem_fuzz(*run_args(tmp_path, minutes="0.1"), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    r = load_report(tmp_path)
    assert r["database"]["pareto"] > 0 and r["database"]["lost"] == 0
    kept = max(len(list(p.iterdir())) for p in (tmp_path / "db").iterdir() if p.is_dir())
    assert kept > 1, "several examples kept under the .pareto key, not only the last chunk's"
    second = hakmem_fuzz(*run_args(tmp_path, minutes="0.05", seed="8"), cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    again = load_report(tmp_path)["database"]
    assert again["entries_before"] >= kept and again["replayed"] > 0


def test_kept_examples_are_never_deleted_and_read_at_most_twenty_at_a_time(tmp_path):
    wdb = WorkerDatabase(runner_db.open_database(str(tmp_path / "db")), None, None, b"ns/",
                         replay=True)
    for i in range(30):
        wdb.save(b"test.pareto", bytes([i]))
    assert wdb.stats()["pareto"] == 30 and wdb.stats()["saves"] == 30
    assert len(list(wdb.fetch(b"test.pareto"))) == runner_db.PARETO_FETCH == 20
    wdb.delete(b"test.pareto", bytes([0]))                  # refused: kept for good
    wdb.save(b"test", b"\x01")
    wdb.delete(b"test", b"\x01")                            # an ordinary key: deleted
    raw = runner_db.open_database(str(tmp_path / "db"))
    assert len(list(raw.fetch(b"ns/test.pareto"))) == 30 and list(raw.fetch(b"ns/test")) == []
