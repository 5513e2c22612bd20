"""A foreign Python allocator under the concurrent machine: any implementation offering
the step generators (``hakmem_verify.contract.api.Steps``, part of the white-box ``Hooks``) is interleaved
like the model; a black-box one is refused in one line.  The example is the model's own
generators behind a factory of another module."""
from __future__ import annotations

import json
import runpy

import pytest

from hakmem_verify.cli.main import main
from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.contract.api import InvariantViolation

SPEC = f"{__name__}:make"


class Mine(FastAllocator):
    """An allocator of another package that runs as atomic steps (here: the model's)."""


def make(config):
    return Mine(config)


def test_a_white_box_foreign_allocator_runs_clean_under_the_concurrent_machine(capsys,
                                                                               tmp_path):
    assert main(["run", "--machine", "concurrent", "--impl", SPEC, "--minutes", "0.03",
                 "--seed", "2", "--report", str(tmp_path)]) == 0
    cap = capsys.readouterr()
    assert SPEC in cap.err and "nothing found" in cap.out
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["implementation"] == SPEC and doc["totals"]["schedules"] > 0


@pytest.mark.quality
def test_a_race_in_a_foreign_allocators_steps_is_found_and_its_reproducer_names_it(
        capsys, tmp_path):
    # the planted race patches the step code Mine inherits: found through the foreign factory
    rc = main(["run", "--machine", "concurrent", "--impl", SPEC, "--mutant",
               "seed-stats-global-add", "--minutes", "0.5", "--report", str(tmp_path)])
    assert rc == 1 and "FINDING [STAT-01]" in capsys.readouterr().out
    doc = json.loads((tmp_path / "report.json").read_text())
    scope = runpy.run_path(doc["finding"]["reproducer_file"])
    assert scope["IMPL"] == SPEC and f"Implementation: {SPEC}" in scope["__doc__"]
    test = next(f for n, f in scope.items() if n.startswith("test_"))
    with pytest.raises(InvariantViolation) as exc:
        test()
    assert exc.value.inv_id == "STAT-01"


def test_a_black_box_allocator_is_refused_in_one_line(capsys):
    assert main(["run", "--machine", "concurrent", "--impl", "examples.bump_alloc:make",
                 "--minutes", "0.01"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert any("hakmem_verify.contract.api.Steps" in line and "black-box" in line for line in err)
