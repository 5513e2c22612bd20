"""Every planted bug of the example C allocator (``examples/c/``) is found, with its check
named, by the malloc tier and by the stress driver; the correct build survives both.

The expected checks are the bug table of ``examples/c/README.md``.  The tier hunts each
build for at most 60 s (the kills take well under that); the stress driver runs every
workload at 4 threads until one reports."""
from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.usefixtures("c_library_shrink"),
              pytest.mark.skipif(not shutil.which("gcc") and not shutil.which("cc"),
                                 reason="no C compiler (gcc or cc)")]

#: bug -> (checks the tier may name, checks the stress driver may name)
EXPECTED = {
    "double-alloc-after-overflow": ({"MALLOC-01"}, {"STRESS-TAG", "STRESS-OVERWRITE"}),
    "collect-loses-tail": ({"MALLOC-07"}, {"STRESS-STATS"}),
    # past the end: a live neighbour is MALLOC-04 at once; a free one, calloc'd later,
    # MALLOC-06; the library's own header, a crash
    "realloc-shrink-copies-old-size": ({"MALLOC-04", "MALLOC-05", "MALLOC-06", "CRASH"},
                                       {"STRESS-OVERWRITE", "STRESS-REALLOC", "CRASH"}),
    "calloc-reused-not-zeroed": ({"MALLOC-06"}, {"STRESS-CALLOC"}),
    "aligned-alloc-class-too-small": ({"MALLOC-03"}, {"STRESS-USABLE"}),
    "exit-leaves-remote-list": ({"MALLOC-07", "MALLOC-01"},
                                {"STRESS-TAG", "STRESS-STATS", "STRESS-OVERWRITE", "CRASH",
                                 "ABORT"}),
    "realloc-not-counted": ({"MALLOC-07"}, {"STRESS-STATS"}),
    "class-boundary-off-by-one": ({"MALLOC-03"}, {"STRESS-USABLE"}),
}



def _builder():
    spec = importlib.util.spec_from_file_location("exalloc_build", ROOT / "examples/c/build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


BUILD = _builder()


def adapter_for(bug, tmp_path: Path) -> str:
    """An adapter file like examples/c/exalloc.json, naming the build of ``bug``."""
    data = json.loads(BUILD.ADAPTER.read_text())
    data["lib"] = str(BUILD.build(bug))
    path = tmp_path / f"exalloc-{bug or 'ok'}.json"
    path.write_text(json.dumps(data))
    return f"malloc:{path}"


def test_the_table_covers_every_planted_bug():
    assert set(EXPECTED) == set(BUILD.BUGS)
    readme = (ROOT / "examples/c/README.md").read_text()
    assert all(name in readme for name in BUILD.BUGS)


@pytest.mark.quality
@pytest.mark.parametrize("bug", sorted(EXPECTED))
def test_the_malloc_tier_names_the_check_each_planted_bug_breaks(bug, tmp_path):
    from hakmem_verify.explore.hunt import hunt
    r = hunt(budget=60.0, seed=0, impl=adapter_for(bug, tmp_path), chunk=20, step_count=40)
    assert r.killed, f"{bug} survived {r.examples} examples"
    assert r.inv_id in EXPECTED[bug][0], f"{bug}: {r.inv_id}: {r.message}"


@pytest.mark.quality
@pytest.mark.parametrize("bug", sorted(EXPECTED))
def test_the_stress_driver_names_the_check_each_planted_bug_breaks(bug, tmp_path):
    from hakmem_verify.models.malloc import stress
    spec = adapter_for(bug, tmp_path)
    found = []
    for seed in (1, 2, 3):
        for w in stress.WORKLOADS:
            r = stress.run(spec, w, 4, 40_000, seed=seed, timeout=60.0,
                           aligned=(w == "thread-churn"))
            if r.status == 1:
                found.append((w, r.check, r.message))
                break
        if found:
            break
    assert found, f"{bug}: every workload clean on seeds 1-3"
    assert found[0][1] in EXPECTED[bug][1], f"{bug}: {found[0]}"


@pytest.mark.quality
def test_the_correct_build_survives_the_tier_and_every_workload(tmp_path):
    from hakmem_verify.explore.hunt import hunt
    from hakmem_verify.models.malloc import stress
    spec = adapter_for(None, tmp_path)
    r = hunt(budget=6.0, seed=0, impl=spec, chunk=4, step_count=40)
    assert not r.killed, r.message
    for w in stress.WORKLOADS:
        s = stress.run(spec, w, 4, 40_000, seed=1, timeout=60.0, aligned=True)
        assert s.status == 0, s.message
