"""CrossHair on the contracts: every condition holds, none vacuously, every planted bug is refuted.

Two CrossHair runs, each started once per test process (without
pytest-xdist the first starts both, so they overlap on two cores):

* the check of the contract modules (``hakmem_verify/contracts/``) with the budget of ``CHECK_COMMAND``
  (the command documented in ``docs/CONTRACTS.md``), with ``--report_all`` so
  that a condition whose precondition CrossHair could never meet ("Unable to
  meet precondition") fails the test instead of passing vacuously;
* the refutation of the planted variants (``python -m tests.contracts.planted``),
  which runs CrossHair only on the conditions each variant must violate.
"""
from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys

import pytest

from hakmem_verify import contracts

from . import planted

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTRACT_FILES = [f"hakmem_verify/contracts/{m}.py" for m in contracts.MODULES]

# The budget: each condition gets at most 3 CPU seconds (2 per path) and stops
# earlier once 200 iterations in a row reach no new code; about 110 s in all.
BUDGET = ["--max_uninteresting_iterations", "200", "--per_path_timeout", "2",
          "--per_condition_timeout", "3"]
CHECK_COMMAND = ["crosshair", "check", *CONTRACT_FILES, *BUDGET]
PLANTED_COMMAND = [sys.executable, "-m", "tests.contracts.planted", "--timeout", "30"]
TIMEOUT = 900  # seconds: a hung solver fails the test instead of the CI job

_started: dict = {}   # name -> subprocess.Popen
_results: dict = {}   # name -> (returncode, stdout, stderr)


def _argv(name: str) -> list:
    if name == "contracts":
        return [sys.executable, "-m", *CHECK_COMMAND, "--report_all"]
    return PLANTED_COMMAND


def _start(*names: str) -> None:
    for name in names:
        if name not in _started:
            _started[name] = subprocess.Popen(_argv(name), cwd=ROOT, stdout=subprocess.PIPE,
                                              stderr=subprocess.PIPE, text=True)


def _result(name: str):
    """(returncode, stdout, stderr) of run ``name``, starting it if needed."""
    if name not in _results:
        _start(name)
        out, err = _started[name].communicate(timeout=TIMEOUT)
        _results[name] = (_started[name].returncode, out, err)
    return _results[name]


@pytest.fixture(scope="module", autouse=True)
def _stop_unfinished_runs():
    yield
    for proc in _started.values():
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _condition_lines() -> list:
    """(file name, line number) of every ``post:`` and ``inv:`` in the contract modules."""
    out = []
    for path in CONTRACT_FILES:
        with open(os.path.join(ROOT, path)) as f:
            out += [(os.path.basename(path), n) for n, line in enumerate(f, 1)
                    if line.strip().startswith(("post:", "inv:"))]
    return out


# ============================================================================
# The contracts hold
# ============================================================================


@pytest.mark.crosshair
@pytest.mark.slow          # about 2 CPU minutes: the nightly job runs it (pytest -m slow)
def test_crosshair_check_of_the_contracts_passes_and_is_not_vacuous():
    """No counterexample; every precondition met by some input; every post: and
    inv: line analysed (none dropped by a syntax slip); some confirmed over all paths."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):   # alone: let the planted run use core 2
        _start("contracts", "planted")
    code, out, err = _result("contracts")
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert code == 0 and not errors, (
        f"CrossHair refuted a contract of hakmem_verify/contracts/ (exit {code}); "
        f"replay with: {' '.join(CHECK_COMMAND)}\n" + "\n".join(errors) + err[-2000:])
    unmet = [line for line in out.splitlines() if "Unable to meet precondition" in line]
    assert not unmet, ("CrossHair found no input meeting these preconditions, so the conditions "
                       "behind them were checked vacuously:\n" + "\n".join(unmet))
    reported = {(m.group(1), int(m.group(2)))
                for m in re.finditer(r"([\w.]+\.py):(\d+): info: ", out)}
    missing = [n for n in _condition_lines() if n not in reported]
    assert not missing, f"contract lines CrossHair never reported on: {missing}"
    assert "Confirmed over all paths." in out


def test_contracts_md_shows_the_command_the_test_runs():
    with open(os.path.join(ROOT, "docs", "CONTRACTS.md")) as f:
        text = f.read()
    assert " ".join(CHECK_COMMAND) in text, "docs/CONTRACTS.md must show CHECK_COMMAND verbatim"


# ============================================================================
# Every planted bug is refuted
# ============================================================================


@pytest.mark.crosshair
@pytest.mark.quality
@pytest.mark.parametrize("name", sorted(planted.PLANTED))
def test_crosshair_refutes_planted_bug(name):
    _code, out, err = _result("planted")
    rows = [line.split("\t") for line in out.splitlines()]
    mine = [row for row in rows if len(row) > 1 and row[1] == name]
    fragments, bug = planted.PLANTED[name]
    assert mine, f"{name} ({bug}): no result; stderr:\n{err[-2000:]}"
    assert mine[0][0] != "NO-CONDITION", (
        f"{name}: none of its conditions {fragments} exists in hakmem_verify/contracts/ any more")
    survived = [row[3] for row in mine if row[0] != "REFUTED"]
    assert not survived, f"{name} ({bug}): CrossHair did not refute {survived}"
    for fragment in fragments:
        assert any(fragment in row[3] for row in mine), f"{name}: {fragment!r} not checked"


def _contract_lines(fn) -> list:
    return [line.strip() for line in inspect.getdoc(fn).splitlines()
            if line.strip().startswith(("pre:", "post:"))]


def test_planted_functions_repeat_the_contract_verbatim():
    assert _contract_lines(planted.size_to_class_off_by_one) == \
        _contract_lines(contracts.size_to_class)


def test_planted_variants_override_a_method_that_has_a_contract():
    """A method variant writes no contract of its own: it must inherit one."""
    for name in planted.PLANTED:
        owner, _, attr = name.rpartition(".")
        if owner:
            cls = getattr(planted, owner)
            base = cls.__mro__[1]
            assert attr in vars(cls) and "post:" in inspect.getdoc(getattr(base, attr)), name
