"""The runner under stress: SIGTERM mid-run, crashing and killed workers, the database.

Crashes are planted by handing ``hakmem_verify.runner.run.run`` a worker target that
misbehaves for one worker index and runs the real worker for the others.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time

from hakmem_verify.runner import run as runner
from hakmem_verify.runner.db import open_database, worker_database
from hakmem_verify.runner.worker import namespace, worker_main

from .helpers import CLI, load_report, run_args


def test_sigterm_mid_run_leaves_a_complete_report(tmp_path):
    args = run_args(tmp_path, minutes="5")
    proc = subprocess.Popen(CLI + [str(a) for a in args], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    try:
        first_line = proc.stderr.readline()      # the implementation under test and its tier
        assert first_line.startswith("implementation: hakmem_verify.models.fast:FastAllocator"), first_line
        first_line = proc.stderr.readline()      # a progress line: the workers are running
        assert "[hakmem-fuzz]" in first_line, first_line
        time.sleep(max(0.0, 8 - (time.monotonic() - started)))
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, err              # interrupted: not a clean night
    assert "exit status 3" in out
    r = load_report(tmp_path)
    assert r["stop_reason"] == "SIGTERM" and r["status"] == "incomplete"
    assert r["exit_status"] == 3 and "SIGTERM" in r["incomplete"][0]
    assert r["elapsed_s"] < 30
    assert r["totals"]["steps"] > 0 and r["coverage"]["per_op"] and r["checks"]
    assert [w["status"] for w in r["workers"]] == ["finished"]
    assert (tmp_path / "report" / "report.md").exists()


def _raise_in_worker_1(index, params, queue, stop_event):
    if index == 1:
        raise RuntimeError("planted crash outside hunt")
    worker_main(index, params, queue, stop_event)


def _killed_worker_1(index, params, queue, stop_event):
    if index == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    worker_main(index, params, queue, stop_event)


def _hangs_in_worker_1(index, params, queue, stop_event):
    if index == 1:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(600)
    worker_main(index, params, queue, stop_event)


def _params(tmp_path, **kw):
    return runner.default_params(minutes=0.05, workers=2, seed=3, db=str(tmp_path / "db"),
                                 report=str(tmp_path / "report"), quiet=True, **kw)


def test_a_worker_dying_is_reported_and_the_others_go_on(tmp_path):
    status = runner.run(_params(tmp_path), target=_killed_worker_1)
    assert status == 3                             # incomplete: a worker's share never ran
    r = load_report(tmp_path)
    w0, w1 = r["workers"]
    assert w0["status"] == "finished" and w0["steps"] > 0
    assert w1["status"] == "crashed" and "SIGKILL" in w1["error"]
    assert r["status"] == "incomplete" and r["stop_reason"] == "budget"
    assert r["incomplete"] == ["worker 1 crashed"]


def test_an_exception_escaping_a_worker_is_reported_and_the_others_go_on(tmp_path):
    assert runner.run(_params(tmp_path), target=_raise_in_worker_1) == 3
    r = load_report(tmp_path)
    assert r["workers"][0]["status"] == "finished"
    assert r["workers"][1]["status"] == "crashed" and r["workers"][1]["exitcode"] == 1
    assert "exited with status 1" in r["workers"][1]["error"]


def test_a_worker_that_does_not_stop_is_terminated_after_the_grace_period(tmp_path,
                                                                         monkeypatch):
    monkeypatch.setattr(runner, "GRACE", 1.0)
    started = time.monotonic()
    assert runner.run(_params(tmp_path), target=_hangs_in_worker_1) == 3
    assert time.monotonic() - started < 15
    w0, w1 = load_report(tmp_path)["workers"]
    assert w0["status"] == "finished"
    assert w1["status"] == "terminated" and "example database" in w1["error"]


def test_the_real_worker_reports_its_own_crash(tmp_path):
    params = _params(tmp_path, machines=["no-such-family"])
    params["workers"] = 1
    assert runner.run(params) == 3
    (w,) = load_report(tmp_path)["workers"]
    assert w["status"] == "crashed" and "KeyError" in w["error"]


def test_the_database_is_namespaced_and_only_worker_0_replays(tmp_path):
    clean = namespace(["any"])
    planted = namespace(["any"], "active-a-equals-b")
    assert clean != planted
    params = {"db": str(tmp_path)}
    worker_database(params, planted, replay=False).save(b"k", b"v")
    assert list(worker_database(params, planted, replay=True).fetch(b"k")) == [b"v"]
    assert list(worker_database(params, planted, replay=False).fetch(b"k")) == []
    assert list(worker_database(params, clean, replay=True).fetch(b"k")) == []
    assert list(open_database(str(tmp_path)).fetch(planted + b"k")) == [b"v"]
    assert worker_database({"db": ""}, clean, replay=True) is None
