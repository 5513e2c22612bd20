"""The registry is the single source of the catalogue: the README table, the CLI and
every ID cited anywhere in the repository agree with it."""
import json
import os
import re
import subprocess
import sys

import pytest

from specs import invariants
from specs.invariants import REGISTRY, readme

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CITED = re.compile(r"\[([A-Z]{2,7}-\d{2})\]|(?:InvariantViolation|fail|_fail)\(\s*\"([A-Z]{2,7}-\d{2})\"")
# the reference allocator's own self-checks (hakmem_ref.RefAllocator.check), not the catalogue
OWN_PREFIXES = ("RALLOC-",)
SCANNED = ("specs", "hakmem_fast", "hakmem_ref", "fuzz", "tests", "bench", "README.md", "docs")


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
        "specs/README.md's catalogue differs from the registry: run "
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
    (tmp_path / "specs").mkdir()
    bmp, xyz = "BMP" + "-02", "XYZ" + "-07"     # spelt apart: this file is scanned too
    (tmp_path / "specs" / "x.py").write_text(f'"""bits [{bmp}]"""\nfail("{xyz}", "m")\n'
                                             '# [SLAB-03] [RALLOC-01]\n')
    assert unknown_citations(str(tmp_path)) == {os.path.join("specs", "x.py"): [bmp, xyz]}


def test_every_planted_bug_expects_registered_ids():
    from fuzz import mutants
    bad = {n: [i for i in mutants.get(n).expect if i not in REGISTRY] for n in mutants.names()}
    assert {n: ids for n, ids in bad.items() if ids} == {}


def test_every_declaration_is_complete():
    for inv in REGISTRY.values():
        assert inv.level in (1, 2, 3) and inv.scope in ("op", "slab", "thread", "heap")
        assert inv.statement and inv.cost and inv.where and inv.planted, inv.id
        assert inv.fn.inv_id == inv.id


def test_a_second_declaration_of_an_id_is_refused():
    with pytest.raises(ValueError, match="declared twice"):
        invariants.registry.invariant("SLAB-03", level=2, scope="slab", cost="c",
                                      statement="s", where="w", planted="p")(lambda *a: None)


def test_check_refuses_op_scope():
    from hakmem_fast import FastAllocator
    with pytest.raises(ValueError, match="op-scope"):
        invariants.check(FastAllocator().snapshot(), 3, scope="op")


def test_the_cli_prints_every_id_with_its_quality_test():
    out = subprocess.run([sys.executable, "-m", "fuzz.cli", "invariants", "--json"],
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
