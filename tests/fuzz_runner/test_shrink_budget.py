"""Shrinking under a wall-clock budget: Hypothesis stops at ``--shrink-seconds``, the
smallest failing example so far is kept and the report says shrinking was cut; its
"five minutes" warning never appears."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from hakmem_verify.explore.concurrent_shrink import hypothesis_shrink_budget

from .helpers import hakmem_fuzz, load_report, run_args

QUICK_MUTANT = "active-a-equals-b"        # killed by the first alloc of any config


def test_a_shrink_past_its_budget_is_cut_without_the_five_minutes_warning(capsys):
    @settings(database=None, max_examples=50, deadline=None)
    @given(st.lists(st.integers(), min_size=5))
    def fails(xs):
        assert sum(xs) < 1000

    with hypothesis_shrink_budget(1e-6) as info:
        try:
            fails()
        except AssertionError:
            pass
    assert info["cut"] is True
    assert "five minutes" not in capsys.readouterr().out


def test_a_shrink_within_its_budget_is_not_cut():
    @settings(database=None, max_examples=50, deadline=None)
    @given(st.integers())
    def fails(x):
        assert x < 10

    with hypothesis_shrink_budget(60) as info:
        try:
            fails()
        except AssertionError:
            pass
    assert info["cut"] is False


def test_the_runner_keeps_a_cut_shrink_and_says_so_in_the_report(tmp_path):
    proc = hakmem_fuzz(*run_args(tmp_path, "--mutant", QUICK_MUTANT, "--shrink-seconds",
                                 "0.000001", minutes="0.5"), cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "five minutes" not in proc.stdout + proc.stderr
    r = load_report(tmp_path)
    (f,) = r["failures"]
    assert f["machine"] == "lockstep" and f["shrink_cut"] is True and f["reproduces"]
    assert r["parameters"]["shrink_seconds"] == 0.000001
    assert "shrinking cut" in (tmp_path / "report" / "report.md").read_text()
    # the reproducer says so too, and its message (heap dump included) is what replaying
    # its own trace raises, not the first failure's
    import runpy
    import textwrap

    import pytest
    from hakmem_verify.contract.api import InvariantViolation
    scope = runpy.run_path(f["reproducer"])
    assert "Shrinking cut" in scope["__doc__"]
    test = next(v for k, v in scope.items() if k.startswith("test_"))
    with pytest.raises(InvariantViolation) as exc:
        test()
    assert textwrap.indent(str(exc.value).strip()[:2000], "    ") in scope["__doc__"]
    assert f["message"] == str(exc.value)


def test_a_negative_shrink_budget_is_a_usage_error(tmp_path):
    proc = hakmem_fuzz(*run_args(tmp_path, "--shrink-seconds", "-1"), cwd=tmp_path)
    assert proc.returncode == 2 and "--shrink-seconds must be >= 0" in proc.stderr
