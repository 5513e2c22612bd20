"""The layout of ``hakmem_verify``: each sub-package says in its README what it may import,
the imports keep to it, the sub-packages import each other without a cycle, and no module is
longer than 400 lines."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "hakmem_verify"
MAX_LINES = 400
MAY_IMPORT = re.compile(r"^May import: (.*?)\.?$", re.M)


def units(pkg: Path = PKG) -> list:
    """The sub-packages whose imports the rule covers: every directory of the package, and
    each model of ``models/`` on its own."""
    out = [p.name for p in sorted(pkg.iterdir()) if (p / "__init__.py").exists() and p.name != "models"]
    models = pkg / "models"
    if models.exists():
        out += [f"models.{p.name}" for p in sorted(models.iterdir()) if (p / "__init__.py").exists()]
    return out


def unit_of(module: str, names: list) -> str | None:
    """The unit a dotted module name of the package belongs to (None: the package root)."""
    parts = module.split(".")
    if parts[0] != "hakmem_verify" or len(parts) < 2:
        return None
    if parts[1] == "models" and len(parts) > 2:
        return f"models.{parts[2]}"
    return parts[1] if parts[1] in names else None


def imports_of(path: Path, pkg: Path = PKG) -> set:
    """Every module the file imports, at any depth (a function's lazy import included),
    relative imports resolved."""
    rel = path.relative_to(pkg.parent).with_suffix("")
    here = list(rel.parts[:-1]) if rel.name != "__init__" else list(rel.parts[:-1])
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = here[:len(here) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names}
    return out


def declared(pkg: Path = PKG) -> dict:
    """{unit: the units its README says it may import}."""
    out = {}
    for u in units(pkg):
        readme = pkg.joinpath(*u.split("."), "README.md")
        m = MAY_IMPORT.search(readme.read_text()) if readme.exists() else None
        if m is None:
            out[u] = None
            continue
        text = m.group(1).strip()
        out[u] = set() if text == "nothing" else {w.strip().strip("`") for w in text.split(",")}
    return out


def actual(pkg: Path = PKG) -> dict:
    """{unit: {imported unit: [file -> module, ...]}} over every module of the package."""
    names = units(pkg)
    out = {u: {} for u in names}
    for path in sorted(pkg.rglob("*.py")):
        u = unit_of(".".join(path.relative_to(pkg.parent).with_suffix("").parts), names)
        if u is None:
            continue
        for mod in imports_of(path, pkg):
            v = unit_of(mod, names)
            if v is not None and v != u:
                out[u].setdefault(v, []).append(f"{path.relative_to(pkg.parent)} -> {mod}")
    return out


def cycle(graph: dict) -> list:
    """One cycle of the graph ({node: successors}) as a list of nodes, or []."""
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        state[n] = 2
        stack.pop()
        return []

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return []


def unnamed_modules(pkg: Path = PKG) -> list:
    """Modules of a sub-package whose README does not name them (``x.py`` or ``x``)."""
    out = []
    for u in units(pkg):
        d = pkg.joinpath(*u.split("."))
        readme = d / "README.md"
        text = readme.read_text() if readme.exists() else ""
        out += [f"{u}/{p.name}" for p in sorted(d.glob("*.py")) if p.name != "__init__.py"
                and not re.search(rf"\b{re.escape(p.stem)}\b", text)]
    return out


def long_modules(root: Path = ROOT) -> list:
    return [(str(p.relative_to(root)), n) for p in sorted([*(root / "hakmem_verify").rglob("*.py"),
                                                           *(root / "tests").rglob("*.py")])
            if (n := len(p.read_text().splitlines())) > MAX_LINES]


def test_every_sub_package_has_a_readme_that_says_what_it_may_import():
    missing = sorted(u for u, may in declared().items() if may is None)
    assert not missing, f"no README.md with a 'May import: ...' line in {missing}"


def test_the_imports_keep_to_what_each_readme_allows():
    may = declared()
    bad = {u: {v: where[:3] for v, where in deps.items() if v not in (may[u] or set())}
           for u, deps in actual().items()}
    bad = {u: b for u, b in bad.items() if b}
    assert not bad, f"imports a README does not allow: {bad}"


def test_the_sub_packages_import_each_other_without_a_cycle():
    assert cycle({u: set(d) for u, d in actual().items()}) == []
    assert cycle({u: may or set() for u, may in declared().items()}) == []


def test_every_module_is_named_in_its_sub_packages_readme():
    assert unnamed_modules() == []


def test_no_module_is_longer_than_400_lines():
    assert long_modules() == []


# ---------------------------------------------------------------------------
# the checks, on a planted layout
# ---------------------------------------------------------------------------


def plant(tmp_path, files: dict) -> Path:
    pkg = tmp_path / "hakmem_verify"
    for name, text in files.items():
        p = pkg / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return pkg


@pytest.mark.quality
def test_the_checks_find_a_forbidden_import_a_cycle_and_a_missing_readme(tmp_path):
    pkg = plant(tmp_path, {
        "__init__.py": "",
        "low/__init__.py": "", "low/README.md": "May import: nothing.\n",
        "low/a.py": "def f():\n    from ..high import b\n",          # lazy and relative
        "high/__init__.py": "", "high/README.md": "May import: `low`.\n",
        "high/b.py": "from hakmem_verify.low import a\n",
        "bare/__init__.py": "",
        "models/__init__.py": "", "models/m/__init__.py": "from hakmem_verify.high import b\n",
        "models/m/README.md": "May import: high.\n",
    })
    assert units(pkg) == ["bare", "high", "low", "models.m"]
    assert declared(pkg) == {"bare": None, "high": {"low"}, "low": set(), "models.m": {"high"}}
    got = actual(pkg)
    assert set(got["low"]) == {"high"} and set(got["high"]) == {"low"}
    assert set(got["models.m"]) == {"high"}
    assert cycle({u: set(d) for u, d in got.items()}) in (["high", "low", "high"],
                                                          ["low", "high", "low"])
    assert cycle({"a": {"b"}, "b": {"c"}, "c": set()}) == []


@pytest.mark.quality
def test_the_readme_check_finds_a_module_its_readme_does_not_name(tmp_path):
    pkg = plant(tmp_path, {"__init__.py": "", "low/__init__.py": "",
                           "low/README.md": "`named.py` and `other`.\nMay import: nothing.\n",
                           "low/named.py": "", "low/other.py": "", "low/hidden.py": ""})
    assert unnamed_modules(pkg) == ["low/hidden.py"]


@pytest.mark.quality
def test_the_length_check_finds_a_long_module(tmp_path):
    plant(tmp_path, {"x.py": "pass\n" * (MAX_LINES + 1), "y.py": "pass\n" * MAX_LINES})
    (tmp_path / "tests").mkdir()
    assert long_modules(tmp_path) == [("hakmem_verify/x.py", MAX_LINES + 1)]
