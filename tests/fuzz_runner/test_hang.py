"""Hangs are findings: the per-op watchdog turns an op that never returns into ``HANG``.

The planted hang ``drain-walk-loops-forever`` (``hakmem_verify/planted/hangs.py``) makes
the remote-stack drain walk a cycle forever.
"""
from __future__ import annotations

import time

import pytest

from hakmem_verify import planted as mutants
from hakmem_verify.explore.hunt import hunt
from hakmem_verify.runner.replay import replay
from hakmem_verify.explore.watchdog import Hang, Watchdog

from .helpers import hakmem_fuzz, load_report, pytest_file, run_args

PLANTED_HANG = "drain-walk-loops-forever"


def _spin_forever():
    while True:
        pass


def test_the_watchdog_interrupts_an_unbounded_loop_and_names_where_it_was():
    started = time.monotonic()
    with Watchdog(0.3) as wd:
        with pytest.raises(Hang) as info:
            with wd.guard("spinning"):
                _spin_forever()
    assert time.monotonic() - started < 5
    assert info.value.inv_id == "HANG" and "spinning" in str(info.value)
    assert "_spin_forever" in info.value.stack


def _spin(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_a_hang_swallowed_where_python_ignores_exceptions_is_raised_again():
    """A Hang that lands in a gc callback or a ``__del__`` is printed and dropped by
    Python; the op goes on running, and the alarm fires again until one leaves it."""
    started = time.monotonic()
    with Watchdog(0.3) as wd:
        with pytest.raises(Hang) as info:
            with wd.guard("spinning"):
                try:
                    _spin(10)
                except Hang:
                    pass                 # swallowed, as "Exception ignored in ..." does
                _spin(10)
    assert time.monotonic() - started < 5, "the second Hang never came"
    assert wd.hangs == 1 and "spinning" in str(info.value) and "_spin" in info.value.stack


def test_the_watchdog_lets_a_quick_op_finish_and_disarms():
    with Watchdog(0.3) as wd:
        with wd.guard("quick"):
            total = sum(range(1000))
        time.sleep(0.5)                   # no alarm left armed after the op
    assert total == 499500 and wd.hangs == 0


@pytest.mark.quality
def test_a_hunt_reports_the_planted_hang_with_the_stuck_op_and_its_stack():
    m = mutants.get(PLANTED_HANG)
    with m.apply():
        r = hunt(budget=60, seed=0, config_strategy=m.configs, op_timeout=2)
    assert r.killed and r.inv_id == "HANG", r.message[:500]
    assert "still running after" in r.message
    assert "drain" in r.message and "hangs.py" in r.message    # the stuck frame
    assert r.trace, "the trace up to the stuck op"
    with m.apply(), pytest.raises(Hang):
        replay(r.config, r.trace, op_timeout=2)
    replay(r.config, r.trace, op_timeout=2)                    # without the bug: clean


@pytest.mark.quality
def test_a_run_with_the_planted_hang_exits_1_with_a_hang_finding(tmp_path):
    proc = hakmem_fuzz(*run_args(tmp_path, "--mutant", PLANTED_HANG, "--op-timeout", "2",
                                 minutes="1"), cwd=tmp_path, timeout=170)
    assert proc.returncode == 1, proc.stderr
    r = load_report(tmp_path)
    assert r["status"] == "failures"
    (f,) = r["failures"]
    assert f["inv_id"] == "HANG" and f["reproduces"] is True
    assert f["passes_without_mutant"] is True
    assert "Python stack of the stuck op" in f["message_head"]
    assert "op_timeout=2.0" in open(f["reproducer"]).read()
    failing = pytest_file(f["reproducer"], cwd=tmp_path)
    assert failing.returncode == 1 and "HANG" in failing.stdout
