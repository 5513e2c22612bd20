"""The registry is the single source of the catalogue: the README table, the CLI and
every ID cited anywhere in the repository agree with it."""
import json
import os
import re
import subprocess
import sys
from collections import Counter

import pytest

from hakmem_verify import check as invariants
from hakmem_verify.check import REGISTRY, readme

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CITED = re.compile(r"\[([A-Z]{2,7}-\d{2})\]|(?:InvariantViolation|fail|_fail)\(\s*\"([A-Z]{2,7}-\d{2})\"")
# the reference allocator's own self-checks (hakmem_verify.models.ref.RefAllocator.check), not the catalogue
OWN_PREFIXES = ("RALLOC-",)
SCANNED = ("hakmem_verify", "tests", "bench", "README.md", "docs")


def cited_ids(text: str) -> set:
    return {a or b for a, b in CITED.findall(text)}


def unknown_citations(root: str = ROOT) -> dict:
    """{path: sorted unknown IDs} over code, docs and messages of the repository."""
    out = {}
    for top in SCANNED:
        path = os.path.join(root, top)
        files = [path] if os.path.isfile(path) else [
            os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs
            if f.endswith((".py", ".md")) and "__pycache__" not in d]
        for f in files:
            with open(f, encoding="utf-8") as fh:
                ids = cited_ids(fh.read())
            bad = sorted(i for i in ids if i not in REGISTRY and not i.startswith(OWN_PREFIXES))
            if bad:
                out[os.path.relpath(f, root)] = bad
    return out


def test_the_readme_table_is_the_registry():
    text = readme.current()
    assert readme.render(text, invariants.markdown_table()) == text, (
        "docs/CATALOGUE.md's catalogue differs from the registry: run "
        "'hakmem-fuzz invariants --markdown --write'")


def test_a_changed_declaration_changes_the_generated_table():
    text = readme.current()
    inv = REGISTRY["SLAB-03"]
    try:
        REGISTRY["SLAB-03"] = inv.__class__(**{**inv.__dict__, "level": 3})
        assert readme.render(text, invariants.markdown_table()) != text
    finally:
        REGISTRY["SLAB-03"] = inv


def test_every_cited_invariant_id_is_registered():
    assert unknown_citations() == {}


def test_an_unknown_citation_is_found(tmp_path):
    (tmp_path / "hakmem_verify").mkdir()
    bmp, xyz = "BMP" + "-02", "XYZ" + "-07"     # spelt apart: this file is scanned too
    (tmp_path / "hakmem_verify" / "x.py").write_text(f'"""bits [{bmp}]"""\nfail("{xyz}", "m")\n'
                                             '# [SLAB-03] [RALLOC-01]\n')
    assert unknown_citations(str(tmp_path)) == {os.path.join("hakmem_verify", "x.py"): [bmp, xyz]}


def test_every_planted_bug_expects_registered_ids():
    from hakmem_verify import planted as mutants
    bad = {n: [i for i in mutants.get(n).expect if i not in REGISTRY] for n in mutants.names("model")}
    assert {n: ids for n, ids in bad.items() if ids} == {}


def test_every_declaration_is_complete():
    for inv in REGISTRY.values():
        assert inv.level in (1, 2, 3) and inv.scope in ("op", "slab", "thread", "heap")
        assert inv.statement and inv.cost and inv.where and inv.planted, inv.id
        assert inv.fn.inv_id == inv.id


def test_a_second_declaration_of_an_id_is_refused():
    def check(*a):
        """s"""
    with pytest.raises(ValueError, match="declared twice"):
        invariants.registry.invariant("SLAB-03", level=2, scope="slab", cost="c",
                                      where="w", planted="p")(check)


def test_a_check_without_a_statement_is_refused():
    with pytest.raises(ValueError, match="no docstring"):
        invariants.registry.invariant("XYZ-" + "99", level=2, scope="slab", cost="c",
                                      where="w", planted="p")(lambda *a: None)
    assert "XYZ-" + "99" not in invariants.REGISTRY


def test_check_refuses_op_scope():
    from hakmem_verify.models.fast import FastAllocator
    with pytest.raises(ValueError, match="op-scope"):
        invariants.check(FastAllocator().snapshot(), 3, scope="op")


def test_the_cli_prints_every_id_with_its_quality_test():
    out = subprocess.run([sys.executable, "-m", "hakmem_verify.cli.main", "invariants", "--json"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    rows = json.loads(out)
    assert [r["id"] for r in rows] == [i.id for i in invariants.catalogue()]
    assert set(r["id"] for r in rows) == set(REGISTRY)
    for r in rows:
        assert set(r) >= {"id", "level", "scope", "cost", "statement", "quality_test"}
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly",
         "-p", "no:xdist", "tests/quality"], cwd=ROOT, capture_output=True, text=True).stdout
    missing = [r["id"] for r in rows if r["quality_test"] not in collected.split("\n")]
    assert not missing, f"quality tests that pytest does not collect, for {missing}"


# ============================================================================
# Every check runs through the registry, which counts it under its ID
# ============================================================================

HAND_COUNT = re.compile(r"""(?:runs|counts)\[\s*["'][A-Z]+(?:-[A-Z0-9]+)*["']\s*\]\s*\+=""")


def hand_counts(text: str) -> list:
    """Lines that count a check run by naming its ID by hand."""
    return [line.strip() for line in text.splitlines() if HAND_COUNT.search(line)]


def test_no_harness_module_counts_a_check_by_naming_its_id():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    found = {}
    for folder in ("hakmem_verify",):
        for dirpath, _, files in os.walk(os.path.join(root, folder)):
            for f in files:
                path = os.path.join(dirpath, f)
                if f.endswith(".py") and not path.endswith(os.path.join("check",
                                                                        "registry.py")):
                    with open(path) as fh:
                        lines = hand_counts(fh.read())
                    if lines:
                        found[os.path.relpath(path, root)] = lines
    assert not found, f"count checks with registry.run_op / registry.ran: {found}"


def test_the_scan_finds_a_check_counted_by_hand():
    assert hand_counts('        self.runs["STAT-04"] += 1\n        x = 1\n') == \
        ['self.runs["STAT-04"] += 1']
    assert hand_counts('self.counts["L3"] += 1') == []      # a level total, not an ID


def test_an_op_check_the_registry_does_not_know_is_refused_and_not_counted():
    runs = Counter()
    with pytest.raises(TypeError, match="not a check of the registry"):
        invariants.run_op(lambda: None, counts=runs)
    with pytest.raises(TypeError, match="not a check of the registry"):
        invariants.ran("NOPE-01", counts=runs)
    assert not runs


def test_a_form_runs_and_counts_under_its_invariant():
    from hakmem_verify.check import compare
    runs = Counter()
    invariants.run_op(compare.lock_01_unchanged, "free(x)", ValueError("x"), False, counts=runs)
    assert runs == Counter({"LOCK-01": 1})
    with pytest.raises(invariants.registry.InvariantViolation, match=r"\[LOCK-01\]"):
        invariants.run_op(compare.lock_01_unchanged, "free(x)", ValueError("x"), True,
                          counts=runs)
    assert runs == Counter({"LOCK-01": 2})
    with pytest.raises(ValueError, match="not a declared invariant"):
        invariants.form_of("NOPE-01")(lambda: None)


def test_a_clean_run_counts_every_check_under_a_registered_id():
    """Op-scope checks and their forms (STAT-01 after a flush) included."""
    from hakmem_verify.models.fast import FastAllocator
    from hakmem_verify.models.ref import RefAllocator
    from hakmem_verify.contract.api import Config
    from hakmem_verify.oracle.lockstep import Oracle
    from hakmem_verify.contract.ops import (Alloc, Drain, Evict, FlushStats, Free, Quiesce,
                                            Refill, ThreadExit)
    cfg = Config(class_sizes=(8, 16), slab_size=64, word_bits=4, mini_mag_capacity=2,
                 refill_batch=2, magazine_capacity=2, flush_interval=2)
    o = Oracle(RefAllocator(cfg), FastAllocator(cfg), l3_every=4)
    ops = [Alloc(8, 0) for _ in range(6)] + [Free(0, 1), Free(1, 0), Drain(0, 0),
                                             Refill(0, 0), Evict(0, 0), FlushStats(),
                                             Free(2, 0), ThreadExit(1), Quiesce()]
    o.run(ops)
    o.teardown()
    counted = {k for k in o.checks if k not in ("L1", "L2", "L3")}
    assert counted <= set(REGISTRY), f"not registered: {counted - set(REGISTRY)}"
    for inv_id in ("LOCK-01", "LOCK-02", "LIVE-02", "STAT-04", "STAT-01",
                   "HOOK-01", "HOOK-02", "EXIT-01", "QUI-01", "SPL-01", "CONF-01",
                   "CONF-02", "CONF-06", "CONF-07", "SLAB-ACCT"):
        assert o.checks[inv_id] > 0, f"{inv_id} never ran"
