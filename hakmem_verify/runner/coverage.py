"""``hakmem-fuzz run --coverage``: line and branch coverage of the implementation's own
Python modules (coverage.py, the ``coverage`` extra), for any Python ``--impl``.

Each worker measures the package (or the single module) that holds the factory while it
hunts, and saves a data file in ``<report>/.coverage-data/``; the parent combines them
into the report: per file the lines and branches reached, and the lines never reached.
The implementation was imported before the workers started, so the statements that run
at import (module and class bodies: imports, ``def`` and ``class`` lines, constants) are
counted as reached; coverage is about what the ops ran.
"""
from __future__ import annotations

import ast
import glob
import importlib
import os

DATA_DIR = ".coverage-data"


class CoverageError(Exception):
    """--coverage cannot be honoured; the message says why and what to do."""


def source_of(impl_spec: str) -> str:
    """The directory of the factory's package (a regular package: its top-level one, or for
    a model of this harness ``hakmem_verify.models.NAME``), else its module's file
    (``impl_spec``: ``module:factory``)."""
    module = importlib.import_module(impl_spec.partition(":")[0])
    path = getattr(module, "__file__", None)
    if not path:
        raise CoverageError(f"--coverage: {impl_spec} has no Python source to measure")
    if os.path.basename(path) == "__init__.py" or "." in module.__name__:
        parts = module.__name__.split(".")
        # a model of this harness is its own package; any other package is measured whole
        top = 3 if parts[:2] == ["hakmem_verify", "models"] else 1
        package = importlib.import_module(".".join(parts[:top]))
        if getattr(package, "__file__", None):      # a regular package: all of it
            return os.path.dirname(package.__file__)
    return path                    # a module alone (also one of a namespace package)


def check(impl_spec: str) -> str:
    """The source to measure; CoverageError when coverage.py is missing or the
    implementation is a C library."""
    if impl_spec.startswith("malloc:"):
        raise CoverageError(f"--coverage measures Python code; {impl_spec} is a C library")
    try:
        import coverage  # noqa: F401  (is it installed?)
    except ImportError:
        raise CoverageError("--coverage needs coverage.py: .venv/bin/pip install -e "
                            "'.[coverage]'") from None
    return source_of(impl_spec)


def start(params: dict, index: int):
    """A started Coverage for worker ``index`` when the run asked for it, else None."""
    source = params.get("coverage")
    if not source:
        return None
    import coverage
    directory = os.path.join(params["report"], DATA_DIR)
    os.makedirs(directory, exist_ok=True)
    kw = {"source": [source]} if os.path.isdir(source) else {"include": [source]}
    cov = coverage.Coverage(data_file=os.path.join(directory, ".coverage"),
                            data_suffix=f"worker{index}.{os.getpid()}", branch=True, **kw)
    cov.start()
    return cov


def finish(cov) -> None:
    if cov is not None:
        cov.stop()
        cov.save()


def import_lines(path: str) -> set:
    """Line numbers of the statements run when ``path`` is imported: the module body and
    class bodies (a ``def``'s decorators and its ``def`` line, not its body)."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    out = set()

    def body(stmts):
        for node in stmts:
            first = min([node.lineno] + [d.lineno for d in
                                         getattr(node, "decorator_list", ())])
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.update(range(first, node.body[0].lineno))
            elif isinstance(node, ast.ClassDef):
                out.update(range(first, node.body[0].lineno))
                body(node.body)
            else:
                out.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    body(tree.body)
    return out


def summarize(params: dict) -> dict:
    """The combined coverage of the run's workers: per file (relative to the measured
    source) statements, reached, branches, branches taken, and the lines never reached as
    ranges; the totals.  An empty dict when nothing was measured."""
    import json

    import coverage
    directory = os.path.join(params["report"], DATA_DIR)
    if not glob.glob(os.path.join(directory, ".coverage.*")):
        return {}
    cov = coverage.Coverage(data_file=os.path.join(directory, ".coverage"), branch=True)
    cov.combine([directory], keep=False)
    cov.load()
    out_json = os.path.join(directory, "coverage.json")
    cov.json_report(outfile=out_json)                    # coverage.py's public report
    with open(out_json) as f:
        doc = json.load(f)
    source = params["coverage"]
    root = source if os.path.isdir(source) else os.path.dirname(source)
    files, tot = [], {"statements": 0, "reached": 0, "branches": 0, "taken": 0}
    for path, rec in sorted(doc["files"].items()):
        full = path if os.path.isabs(path) else os.path.abspath(path)
        missing = set(rec["missing_lines"])
        statements = missing | set(rec["executed_lines"])
        reached = statements - missing | (statements & import_lines(full))
        summary = rec["summary"]
        row = {"file": os.path.relpath(full, root), "statements": len(statements),
               "reached": len(reached), "branches": summary.get("num_branches", 0),
               "taken": summary.get("covered_branches", 0),
               "never_reached": _ranges(sorted(statements - reached))}
        files.append(row)
        for k in tot:
            tot[k] += row[k]
    return {"source": source, "files": files, "totals": tot}


def _ranges(lines: list) -> str:
    """``[1, 2, 3, 7]`` -> ``"1-3, 7"``."""
    out, start = [], None
    for i, n in enumerate(lines):
        if start is None:
            start = n
        if i + 1 == len(lines) or lines[i + 1] != n + 1:
            out.append(f"{start}" if start == n else f"{start}-{n}")
            start = None
    return ", ".join(out)
