"""Shared databases: Redis for a team (a real redis-server), a read-only copy for CI."""
from __future__ import annotations

import os
import signal
import subprocess

import pytest

from hakmem_verify.runner import run as runner
from hakmem_verify.runner.worker import worker_main

from . import redis_server
from .helpers import CLI, hakmem_fuzz, load_report

FIRST, SECOND = "active-a-equals-b", "refill-loses-block"     # both die in a second


@pytest.fixture
def redis_url(tmp_path):
    proc, url = redis_server.start(tmp_path)
    yield url
    redis_server.stop(proc)


def _start(tmp_path, name, url, *extra, seed):
    d = tmp_path / name
    args = ["run", "--minutes", "0.5", "--workers", "1", "--seed", seed, "--db", url,
            "--db-local", d / "local", "--report", d / "report", "--progress-every", "1",
            *extra]
    return subprocess.Popen(CLI + [str(a) for a in args], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _both(*procs):
    """Wait for runners started together; returns their (returncode, stderr)."""
    out = []
    for p in procs:
        _, err = p.communicate(timeout=120)
        out.append((p.returncode, err))
    return out


def test_two_runners_on_one_redis_database_replay_each_others_failures(tmp_path, redis_url):
    # at once: a finds one planted bug, b another, both saving to the one Redis database
    (ca, ea), (cb, eb) = _both(_start(tmp_path, "a", redis_url, "--mutant", FIRST, seed="7"),
                               _start(tmp_path, "b", redis_url, "--mutant", SECOND, seed="8"))
    assert ca == 1 and cb == 1, ea + eb
    for who in ("a", "b"):
        db = load_report(tmp_path / who)["database"]
        assert db["saves"] > 0 and db["fallback"] == 0
        assert db["replayed"] == 0       # each bug has its own namespace: nothing to replay
    # at once again, each on the other's bug: it replays the failure the other saved
    (cb2, eb2), (ca2, ea2) = _both(
        _start(tmp_path, "b", redis_url, "--mutant", FIRST, seed="99"),
        _start(tmp_path, "a", redis_url, "--mutant", SECOND, seed="98"))
    for code, err, who, inv in ((cb2, eb2, "b", "OWN-01"), (ca2, ea2, "a", "PART-01")):
        assert code == 1, err
        r = load_report(tmp_path / who)
        (f,) = r["failures"]
        assert f["inv_id"] == inv and f["saved"] == "saved"
        assert r["database"]["replayed"] > 0, "the other runner's failure, read from Redis"
        # the first pair's saves are counted before the second run, as a directory's are
        assert r["database"]["entries_before"] > 0
        assert f"{r['database']['entries_before']} entries before the run" in \
            (tmp_path / who / "report" / "report.md").read_text()
    for who in ("a", "b"):                       # Redis took every save: no fallback
        assert not any((tmp_path / who / "local").rglob("*"))


def test_an_unreachable_redis_exits_2_before_running(tmp_path):
    pytest.importorskip("redis")
    url = f"redis://127.0.0.1:{redis_server.free_port()}/0"
    proc = hakmem_fuzz("run", "--minutes", "0.05", "--workers", "1", "--db", url,
                       "--report", tmp_path / "report", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Redis is not usable" in proc.stderr and "Nothing was run" in proc.stderr


_REDIS_PROC = None


def _redis_dies_first(index, params, queue, stop_event):
    os.kill(_REDIS_PROC.pid, signal.SIGKILL)            # Redis goes away mid-run
    _REDIS_PROC.wait()
    worker_main(index, params, queue, stop_event)


def test_when_redis_goes_away_failures_are_saved_locally_and_the_report_says_so(tmp_path):
    global _REDIS_PROC
    _REDIS_PROC, url = redis_server.start(tmp_path)
    try:
        params = runner.default_params(minutes=0.5, workers=1, seed=7, db=url,
                                       db_local=str(tmp_path / "local"), mutant=FIRST,
                                       report=str(tmp_path / "report"), quiet=True)
        assert runner.run(params, target=_redis_dies_first) == 1
    finally:
        redis_server.stop(_REDIS_PROC)
    r = load_report(tmp_path)
    (f,) = r["failures"]
    assert f["saved"].startswith("saved only in --db-local")
    assert r["database"]["fallback"] > 0 and r["database"]["lost"] == 0
    assert any("ConnectionError" in e or "Connection" in e for e in r["database"]["errors"])
    assert any((tmp_path / "local").iterdir())
    md = (tmp_path / "report" / "report.md").read_text()
    assert "fell back to `--db-local" in md


def test_a_shared_read_only_database_is_replayed_and_never_written(tmp_path):
    nightly = hakmem_fuzz("run", "--minutes", "0.5", "--workers", "1", "--seed", "7",
                          "--mutant", FIRST, "--db", tmp_path / "nightly",
                          "--report", tmp_path / "n-report", cwd=tmp_path)
    assert nightly.returncode == 1, nightly.stderr
    before = sorted(str(p) for p in (tmp_path / "nightly").rglob("*"))
    ci = hakmem_fuzz("run", "--minutes", "0.5", "--workers", "1", "--seed", "99",
                     "--mutant", FIRST, "--db", tmp_path / "ci-db",
                     "--db-shared", tmp_path / "nightly", "--report", tmp_path / "report",
                     cwd=tmp_path)
    assert ci.returncode == 1, ci.stderr
    r = load_report(tmp_path)
    assert r["database"]["fetched_shared"] > 0, "replayed from the shared database"
    assert r["database"]["replayed"] > 0
    assert sorted(str(p) for p in (tmp_path / "nightly").rglob("*")) == before
    assert r["database"]["shared"] == str(tmp_path / "nightly")
