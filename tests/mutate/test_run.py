"""hakmem-fuzz mutate hunts each mutant on a scratch copy, never the checkout; import
errors and crashes at start are reported apart; the report says the score."""
import hashlib
import json
import os

from hakmem_verify.cli import main as cli
from hakmem_verify.contract.api import InvariantViolation
from hakmem_verify.explore.hunt import hunt
from hakmem_verify.oracle.lockstep import Oracle
from hakmem_verify.mutate.operators import Mutant
from hakmem_verify.mutate.run import run_one

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def source(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


def digest():
    h = hashlib.sha256()
    for d in ("hakmem_verify",):
        for base, _, files in sorted(os.walk(os.path.join(ROOT, d))):
            for f in sorted(files):
                if f.endswith(".py"):
                    h.update(source(os.path.join(base, f)))
    return h.hexdigest()


def edit(path, old, new, nth=0):
    src = source(path)
    start = -1
    for _ in range(nth + 1):
        start = src.index(old.encode(), start + 1)
    return Mutant(path, src[:start].count(b"\n") + 1, "const", start, start + len(old), old,
                  new), src


def test_a_mutant_that_breaks_import_is_reported_apart():
    m, src = edit("hakmem_verify/models/fast/probe.py", "1 << 62", "1 // 0")
    r = run_one(m, src, ROOT, budget=2, seed=0)
    assert r["status"] == "import" and "ZeroDivisionError" in r["message"]


def test_a_mutant_whose_allocator_cannot_start_is_reported_apart():
    m, src = edit("hakmem_verify/models/fast/allocator.py", "self._slabs = {}", "self._slabs = 1 // 0")
    r = run_one(m, src, ROOT, budget=2, seed=0)
    assert r["status"] == "start" and "cannot start" in r["message"]
    assert "ZeroDivisionError" in r["message"]


def test_a_free_that_places_its_block_twice_is_killed_on_a_scratch_copy_not_the_checkout():
    before = digest()
    m, src = edit("hakmem_verify/models/fast/allocator.py", "if self._mag_push(t, slab.class_idx, addr, "
                  "\"free_magazine\"):", "if not self._mag_push(t, slab.class_idx, addr, "
                  "\"free_magazine\"):")
    r = run_one(m, src, ROOT, budget=20, seed=0)
    assert r["status"] == "killed", r
    assert r["kill_time"] >= 0 and r["inv_id"]
    assert digest() == before


def test_the_command_writes_the_score_and_the_survivors(tmp_path, capsys):
    before = digest()
    rc = cli.main(["mutate", "--files", "hakmem_verify/models/fast/probe.py", "--n", "2", "--budget", "2",
                   "--root", ROOT, "--out", str(tmp_path)])
    assert rc == 0
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["killed"] + rep["survived"] + rep["import_errors"] + rep["start_crashes"] == 2
    assert len(rep["mutants"]) == 2 and all("diff" in m for m in rep["mutants"])
    md = (tmp_path / "report.md").read_text()
    assert md.startswith("# Mutation score:") and "## Survivors" in md
    assert "score" in capsys.readouterr().out
    assert digest() == before


def test_usage_errors_exit_2_and_say_what_to_do(tmp_path, capsys):
    assert cli.main(["mutate", "--files", "nothing/*.py", "--root", ROOT]) == 2
    assert "no Python file matches" in capsys.readouterr().err
    assert cli.main(["mutate", "--files", "hakmem_verify/models/fast/probe.py", "--n", "0"]) == 2
    assert cli.main(["mutate", "--files", "hakmem_verify/models/fast/probe.py", "--root", ROOT,
                     "--oracle", "no_such_module:X"]) == 2
    assert "cannot import" in capsys.readouterr().err
    assert cli.main(["mutate", "--files", "hakmem_verify/models/fast/probe.py", "--root", ROOT,
                     "--impl", "no_such_module:make"]) == 2
    assert "--impl" in capsys.readouterr().err


def test_an_implementation_outside_the_packages_is_mutated_and_hunted_with_impl(tmp_path):
    rc = cli.main(["mutate", "--files", "examples/bump_alloc.py", "--n", "1", "--budget", "2",
                   "--root", ROOT, "--out", str(tmp_path), "--impl", "examples.bump_alloc:make"])
    assert rc == 0
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["impl"] == "examples.bump_alloc:make"
    assert [m["status"] for m in rep["mutants"]] in (["killed"], ["survived"])


def test_a_survivor_of_the_hunt_is_killed_by_a_failing_test_given_with_tests():
    src = source("hakmem_verify/models/fast/introspect.py")
    from hakmem_verify.mutate.operators import mutants_of
    m = next(x for x in mutants_of("hakmem_verify/models/fast/introspect.py", src)
             if "seen.add(p)  ->  pass" in x.diff(src))
    r = run_one(m, src, ROOT, budget=2, seed=0, tests=["tests/unit/test_fast_walk.py"])
    assert r["status"] == "killed" and r["machine"] == "tests", r
    assert r["inv_id"] == ("test:tests/unit/test_fast_walk.py::"
                           "test_a_cycle_ends_the_walk_and_is_named_as_a_cycle")


class Tripwire(Oracle):
    """An oracle that fails its first op: shows which oracle class a hunt ran."""

    def apply(self, op):
        raise InvariantViolation("TRIPWIRE", f"the oracle class passed in ran {op!r}")


def test_a_hunt_runs_the_oracle_class_it_is_given_as_mutate_oracle_does():
    assert hunt(budget=5, seed=0, oracle=Tripwire).inv_id == "TRIPWIRE"
    assert not hunt(budget=1, seed=0).killed            # the default oracle: the clean model
