"""The implementations under test know the contract, not the catalogue.

The model, the reference and the C pool's Python side import only ``hakmem_verify.contract.api`` and
``hakmem_verify.contract.unsupported`` from the harness, and raise only the contract's errors: a broken
structure of their own is a ``StructureCorrupted`` naming it, which the harness maps to
the check that covers it.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = {"hakmem_verify.contract.api", "hakmem_verify.contract.unsupported",
            "hakmem_verify.contract.paths"}
#: the implementations' own modules (hakmem_verify.models.native's differential, stress and mutants
#: modules are drivers of the harness, not the pool)
MODELS = sorted([*ROOT.glob("hakmem_verify/models/fast/*.py"), *ROOT.glob("hakmem_verify/models/ref/*.py"),
                 *(ROOT / "hakmem_verify" / "models" / "native" / n for n in ("__init__.py", "allocator.py",
                                                      "snapshot.py", "build.py"))])


def harness_imports(path: Path) -> list:
    """(line, module) of every absolute import of a harness module in the file (its own
    package's relative imports are not)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out += [(node.lineno, n) for n in names if n.split(".")[0] == "hakmem_verify"]
    return out


def catalogue_names(path: Path) -> list:
    """(line, name) of every import or use of the catalogue's exception in the file."""
    out = []
    for n in ast.walk(ast.parse(path.read_text())):
        name = n.id if isinstance(n, ast.Name) else n.name if isinstance(n, ast.alias) else None
        if name == "InvariantViolation":
            out.append((n.lineno, name))
    return out


@pytest.mark.parametrize("path", MODELS, ids=lambda p: str(p.relative_to(ROOT)))
def test_an_implementation_imports_only_the_contract_from_the_harness(path):
    bad = [(line, m) for line, m in harness_imports(path) if m not in CONTRACT]
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}: only {sorted(CONTRACT)}"


# (the reference raises InvariantViolation for its own identities, RALLOC-*: not the
# catalogue's IDs)
@pytest.mark.parametrize("path", [p for p in MODELS if p.parent.name != "ref"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_an_implementation_raises_no_catalogue_id(path):
    assert not catalogue_names(path), (
        f"{path.relative_to(ROOT)} raises InvariantViolation at lines "
        f"{[line for line, _ in catalogue_names(path)]}: raise StructureCorrupted instead")


def test_the_scan_sees_an_import_of_the_catalogue_and_a_catalogue_id(tmp_path):
    planted = tmp_path / "model.py"
    planted.write_text("from hakmem_verify.contract.api import InvariantViolation\n"
                       "def check():\n    from hakmem_verify import check\n"
                       "    raise InvariantViolation('RMT-01', 'x')\n")
    assert [m for _, m in harness_imports(planted)] == ["hakmem_verify.contract.api", "hakmem_verify"]
    assert len(catalogue_names(planted)) == 2
