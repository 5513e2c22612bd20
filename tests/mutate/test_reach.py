"""Code the API cannot reach is not sampled; survivors on the committed list of
equivalent mutants are not scored, and a listed mutant that is killed is a wrong claim;
an interrupted campaign leaves no worker and no scratch copy behind."""
import glob
import os
import tempfile
import threading
import time

import pytest

from hakmem_verify.mutate.operators import mutants_of, sample
from hakmem_verify.mutate.reach import (EQUIVALENT_FILE, diff_key, in_unreachable, load_equivalent,
                               unreachable)
from hakmem_verify.mutate.report import summarize, tag_equivalent
from hakmem_verify.mutate.run import STOP, interrupt, run_one

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TOY = b'''
class Pool:
    def alloc(self, size, tid=0):
        return self._carve(size)

    def _carve(self, size):
        return helper(size) + getattr(self, "by_name")()

    def by_name(self):
        return 1

    def __len__(self):
        return 0

    def only_tests_call_me(self):
        return nested()


def helper(n):
    return n * 2


def nested():
    return 3
'''


def names(dead):
    return {f.qualname for f in dead}


def test_a_function_nothing_reachable_names_is_unreachable_and_the_rest_is_kept():
    dead = unreachable({"toy.py": TOY}, entries={"alloc"})
    # nested() is named only by unreachable code: unreachable too
    assert names(dead) == {"Pool.only_tests_call_me", "nested"}


def test_a_mutant_inside_unreachable_code_is_not_sampled():
    dead = unreachable({"toy.py": TOY}, entries={"alloc"})
    every = mutants_of("toy.py", TOY)
    inside = [m for m in every if in_unreachable(m, dead)]
    assert inside, "the toy has mutants in its unreachable functions"
    picked, cands = sample({"toy.py": TOY}, 1000, 0, skip=lambda m: in_unreachable(m, dead))
    assert cands == len(every) - len(inside)
    assert not any(in_unreachable(m, dead) for m in picked)


def test_the_models_test_only_helpers_are_unreachable_and_its_api_is_not():
    src = {p: open(os.path.join(ROOT, p), "rb").read()
           for p in (os.path.relpath(f, ROOT) for f in glob.glob(os.path.join(ROOT, "hakmem_verify", "models", "fast",
                                                                               "*.py")))}
    dead = names(unreachable(src))
    assert "TwoTierBitmap.is_free" in dead            # called by the unit tests only
    assert not dead & {"FastAllocator.alloc", "FastAllocator.free", "FastAllocator._slow_path",
                       "FastAllocator.snapshot", "mini_mag_pop", "batch_refill_from_bitmap"}


def test_the_list_of_equivalent_mutants_parses_and_a_malformed_line_is_named(tmp_path):
    good = tmp_path / "eq.txt"
    good.write_text("# comment\n\nhakmem_verify/models/fast/bitmap.py::TwoTierBitmap.set_free: if w < "
                    "hint_word:  ->  if w <= hint_word:  ##  at equality it assigns the value\n")
    eq = load_equivalent(str(good))
    key = diff_key("hakmem_verify/models/fast/bitmap.py:92: if w < hint_word:  ->  if w <= hint_word:",
                   "TwoTierBitmap.set_free")
    assert eq == {key: "at equality it assigns the value"}
    bad = tmp_path / "bad.txt"
    bad.write_text("hakmem_verify/models/fast/bitmap.py::f: x -> y, no reason\n")
    with pytest.raises(ValueError, match="bad.txt:1"):
        load_equivalent(str(bad))


def test_the_committed_list_parses_and_names_only_files_of_the_model():
    eq = load_equivalent(os.path.join(ROOT, EQUIVALENT_FILE))
    assert eq, "the list is committed with the mutation report"
    assert all(p.startswith("hakmem_verify/models/fast/") and reason for (p, _, _, _), reason in eq.items())


def test_the_same_line_in_another_function_is_not_covered_by_a_listed_equivalence():
    eq = {("f.py", "A.dead", "x()", "pass"): "never reached"}
    row = tag_equivalent(dict(diff="f.py:3: x()  ->  pass", function="A.live", status="survived",
                              operator="delete"), eq)
    assert row["status"] == "survived" and "equivalent_reason" not in row


def test_a_listed_survivor_is_not_scored_and_a_listed_kill_is_reported_wrong():
    eq = {("f.py", "g", "a < b", "a <= b"): "same at equality", ("f.py", "g", "x", "y"): "claimed"}
    rows = [tag_equivalent(dict(diff="f.py:3: a < b  ->  a <= b", function="g",
                                status="survived", operator="cmp"), eq),
            tag_equivalent(dict(diff="f.py:9: x  ->  y", function="g", status="killed",
                                inv_id="LIVE-01", operator="const"), eq),
            tag_equivalent(dict(diff="f.py:12: p  ->  q", function="g", status="survived",
                                operator="const"), eq)]
    rep = summarize(rows, dict(n=3))
    assert [r["status"] for r in rows] == ["equivalent", "killed", "survived"]
    assert (rep["killed"], rep["survived"], rep["equivalent"]) == (1, 1, 1)
    assert rep["score"] == 0.5
    assert rep["wrong_equivalence"] == ["f.py:9: x  ->  y"]


def test_an_interrupted_campaign_kills_its_worker_and_removes_its_scratch_copy(monkeypatch):
    made = []
    real = tempfile.mkdtemp
    monkeypatch.setattr(tempfile, "mkdtemp", lambda **kw: made.append(real(**kw)) or made[-1])
    src = open(os.path.join(ROOT, "hakmem_verify/models/fast/bitmap.py"), "rb").read()
    m = next(x for x in mutants_of("hakmem_verify/models/fast/bitmap.py", src)
             if x.operator == "cmp" and "hint_word" in x.diff(src))
    out = {}
    t = threading.Thread(target=lambda: out.update(run_one(m, src, ROOT, 60, 0)))
    t0 = time.monotonic()
    t.start()
    time.sleep(3)
    try:
        interrupt()
        t.join(30)
    finally:
        STOP.clear()
    assert not t.is_alive() and time.monotonic() - t0 < 30
    assert out["status"] == "interrupted", out
    assert len(made) == 1 and not os.path.exists(made[0])


def test_callers_in_files_that_are_not_mutated_still_make_a_function_reachable():
    from hakmem_verify.mutate.run import package_sources
    path = os.path.join("hakmem_verify", "models", "fast", "probe.py")
    src = {path: open(os.path.join(ROOT, path), "rb").read()}
    alone = names(f for f in unreachable(src) if f.path == path)
    whole = names(f for f in unreachable(package_sources(ROOT, [path], src)) if f.path == path)
    assert "Probe.hit" in alone          # its callers are in allocator.py
    assert "Probe.hit" not in whole and not whole


def test_the_harness_around_a_model_is_not_a_caller_of_its_code():
    from hakmem_verify.mutate.run import implementation_dir, package_sources
    path = os.path.join("hakmem_verify", "models", "fast", "bitmap.py")
    assert implementation_dir(path) == os.path.join("hakmem_verify", "models", "fast")
    assert implementation_dir(os.path.join("mypool", "sub", "x.py")) == "mypool"
    src = {path: open(os.path.join(ROOT, path), "rb").read()}
    whole = package_sources(ROOT, [path], src)
    assert all(f.startswith(implementation_dir(path)) for f in whole)
    # called by the unit tests and the harness's checks only: not by the model's API
    assert "TwoTierBitmap.is_free" in names(f for f in unreachable(whole) if f.path == path)


def test_a_nested_function_is_named_after_its_parents():
    src = b"class A:\n    def f(self):\n        def g():\n            return 1\n        return g()\n"
    assert names(unreachable({"n.py": src}, entries=set())) == {"A.f", "A.f.g"}


def test_the_project_names_the_unit_tests_a_survivor_runs_by_default():
    from hakmem_verify.mutate.run import configured_tests
    assert configured_tests(ROOT) == ["tests/unit/test_fast_*.py",
                                     "tests/concurrency/test_steps_equal_ops.py"]
    assert configured_tests(os.path.join(ROOT, "tests")) == []      # no pyproject there
