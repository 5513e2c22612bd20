"""Every check of the malloc tier fails on a C library with its planted bug.

``planted_malloc.c`` wraps glibc's malloc; each ``PL_<BUG>`` macro plants one fault
(the registry names it as the check's planted bug).  The hunt runs the malloc machine on
the built library and must stop with the check's ID; the clean build must survive the
same hunt."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from hakmem_verify.check import REGISTRY

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "planted_malloc.c"
MALLOC_IDS = sorted(i for i, inv in REGISTRY.items() if inv.topic == "malloc")

pytestmark = [pytest.mark.usefixtures("c_library_shrink"),
              pytest.mark.skipif(not shutil.which("gcc"), reason="no C compiler (gcc)")]



def build(tmp_path: Path, macro: str = "") -> str:
    """The library (with ``macro`` defined) and its adapter file; the spec to pass."""
    so = tmp_path / f"libplanted{('_' + macro) if macro else ''}.so"
    cmd = ["gcc", "-O1", "-shared", "-fPIC", "-o", str(so), str(SOURCE)]
    if macro:
        cmd.insert(1, f"-D{macro}")
    subprocess.run(cmd, check=True, capture_output=True)
    adapter = tmp_path / f"{so.stem}.json"
    detects = macro in ("PL_DETECTS", "PL_IGNORES_UNKNOWN")     # declared in the adapter
    adapter.write_text(json.dumps({"lib": str(so), "prefix": "pl_", "stats": "pl_allocated",
                                   "detects_invalid_free": detects}))
    return f"malloc:{adapter}"


def hunt_on(spec: str, budget: float = 60.0, chunk: int = 20):
    from hakmem_verify.explore.hunt import hunt
    return hunt(budget=budget, seed=0, impl=spec, chunk=chunk, step_count=40)


def test_every_check_of_the_malloc_tier_names_a_planted_bug_of_this_file():
    source = SOURCE.read_text()
    for inv_id in MALLOC_IDS:
        file, _, macro = REGISTRY[inv_id].planted.partition(":")
        assert file == SOURCE.name and macro in source.replace("defined(", "ifdef "), inv_id


@pytest.mark.quality
@pytest.mark.parametrize("inv_id", MALLOC_IDS)
def test_a_planted_bug_of_a_c_library_is_found_by_its_check(inv_id, tmp_path):
    macro = REGISTRY[inv_id].planted.partition(":")[2]
    r = hunt_on(build(tmp_path, macro))
    assert r.killed, f"{macro} survived {r.examples} examples"
    assert r.inv_id == inv_id, f"{macro}: expected {inv_id}, found {r.inv_id}: {r.message}"
    assert r.trace, "the shrunk failing trace is kept for the reproducer"


@pytest.mark.quality
@pytest.mark.parametrize("macro", ["", "PL_DETECTS"])
def test_the_clean_build_of_the_planted_library_survives_the_same_hunt(macro, tmp_path):
    r = hunt_on(build(tmp_path, macro), budget=5.0, chunk=4)
    assert not r.killed, r.message
    assert r.checks["MALLOC-07"] > 0, "the statistic was checked"
    if macro:
        assert r.checks["MALLOC-09"] > 0, "the declared detection was checked"
