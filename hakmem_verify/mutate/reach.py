"""Which functions of the mutated files the public API can reach, and which equivalent
mutants are already explained.

**Reachability.**  A mutant in a function nothing can call measures nothing: it is
left out of the sample and listed in the report.  The entry points are the methods of
``hakmem_verify.contract.api.Allocator`` and ``hakmem_verify.contract.api.Hooks`` (the API the harness drives), every
dunder method, and every name used at module or class level (decorators, aliases,
defaults).  A function is reachable when its name is referenced (``f``, ``x.f``, or
the string ``"f"``, for ``getattr``) from a reachable function.  Matching by name
over-approximates the calls, so a function called some other way is kept, never
dropped: only code no reachable code even names is left out.

**Equivalent mutants.**  A committed list (``hakmem_verify/mutate/equivalent.txt`` for this
repository) names survivors that no test can kill, each with a one-line reason::

    hakmem_verify/models/fast/bitmap.py::TwoTierBitmap.set_free: if w < self.hint_word:  ->  if w <= ...  ##  at equality ...

The key is the file, the enclosing function (``<module>`` outside any) and the mutated
line before and after (no line number, so the list survives edits elsewhere).  A listed mutant that survives is
reported as equivalent and not scored; one that is killed is reported as a wrong
claim, and scored as killed.
"""
from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass

EQUIVALENT_FILE = os.path.join("hakmem_verify", "mutate", "equivalent.txt")
_ENTRY_LINE = re.compile(r"^(\S+?\.py)::(\S+): (.*?)  ->  (.*?)  ##  (.+)$")


def api_names() -> set:
    """The methods of hakmem_verify.contract.api.Allocator and hakmem_verify.contract.api.Hooks."""
    from hakmem_verify.contract.api import Allocator, Hooks
    return {n for proto in (Allocator, Hooks) for n, v in vars(proto).items()
            if not n.startswith("_") and (callable(v) or isinstance(v, property))}


@dataclass(frozen=True)
class Function:
    path: str
    qualname: str
    first: int              # first and last line (decorators included)
    last: int


class _Defs(ast.NodeVisitor):
    """Every function of a file, the names each one references, and the names used
    outside any function."""

    def __init__(self, path: str):
        self.path = path
        self.stack = []
        self.funcs = {}         # Function -> set of names it references
        self.top_refs = set()

    def _refs(self) -> set:
        return self.funcs[self.stack[-1]] if self.stack and \
            isinstance(self.stack[-1], Function) else self.top_refs

    def visit_FunctionDef(self, node):
        for d in node.decorator_list + node.args.defaults + node.args.kw_defaults:
            if d is not None:
                self.visit(d)
        names = [s.qualname.rsplit(".", 1)[-1] if isinstance(s, Function) else s
                 for s in self.stack]
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        fn = Function(self.path, ".".join(names + [node.name]), first, node.end_lineno)
        self.funcs[fn] = set()
        self.stack.append(fn)
        for stmt in node.body:
            self.visit(stmt)
        self.stack.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        for d in node.decorator_list + node.bases:
            self.visit(d)
        self.stack.append(node.name)
        for stmt in node.body:
            self.visit(stmt)
        self.stack.pop()

    def visit_Name(self, node):
        self._refs().add(node.id)

    def visit_Attribute(self, node):
        self._refs().add(node.attr)
        self.visit(node.value)

    def visit_Constant(self, node):
        if isinstance(node.value, str) and node.value.isidentifier():
            self._refs().add(node.value)


def functions(sources: dict) -> list:
    """Every function of ``{path: source}`` (nested ones included)."""
    out = []
    for path, src in sources.items():
        d = _Defs(path)
        d.visit(ast.parse(src, filename=path))
        out.extend(d.funcs)
    return out


def enclosing(m, funcs: list) -> str:
    """Qualified name of the innermost function holding mutant ``m`` (``<module>``)."""
    best = None
    for f in funcs:
        if f.path == m.path and f.first <= m.line <= f.last and \
                (best is None or f.first >= best.first):
            best = f
    return best.qualname if best is not None else "<module>"


def unreachable(sources: dict, entries=None) -> list:
    """The functions of ``{path: source}`` that the entry names cannot reach (sorted by
    file and line)."""
    funcs, top = {}, set()
    for path, src in sources.items():
        d = _Defs(path)
        d.visit(ast.parse(src, filename=path))
        funcs.update(d.funcs)
        top |= d.top_refs
    by_name = {}
    for fn in funcs:
        by_name.setdefault(fn.qualname.rsplit(".", 1)[-1], []).append(fn)
    todo = set(api_names() if entries is None else entries) | top
    todo |= {n for n in by_name if n.startswith("__") and n.endswith("__")}
    seen_names, reached = set(), set()
    while todo:
        name = todo.pop()
        if name in seen_names:
            continue
        seen_names.add(name)
        for fn in by_name.get(name, ()):
            if fn not in reached:
                reached.add(fn)
                todo |= funcs[fn] - seen_names
    return sorted((f for f in funcs if f not in reached), key=lambda f: (f.path, f.first))


def in_unreachable(m, dead: list) -> bool:
    """Whether mutant ``m`` lies inside one of the ``dead`` functions (nested ones
    included)."""
    return any(f.path == m.path and f.first <= m.line <= f.last for f in dead)


# ============================================================================
# The committed list of equivalent mutants
# ============================================================================


def diff_key(diff: str, function: str) -> tuple:
    """(path, function, before, after) of a one-line diff ``path:line: before  ->  after``."""
    path, _, rest = diff.partition(":")
    rest = rest.partition(": ")[2]
    before, _, after = rest.partition("  ->  ")
    return path, function, before.strip(), after.strip()


def load_equivalent(path: str) -> dict:
    """{(path, function, before, after): reason} from the list; a malformed line raises
    ValueError naming it."""
    out = {}
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            m = _ENTRY_LINE.match(line)
            if m is None:
                raise ValueError(f"{path}:{i}: not 'FILE.py::FUNCTION: BEFORE  ->  AFTER  ##  "
                                 f"REASON' (two spaces around -> and ##): {line!r}")
            out[(m.group(1), m.group(2), m.group(3).strip(), m.group(4).strip())] = \
                m.group(5).strip()
    return out


__all__ = ["EQUIVALENT_FILE", "Function", "api_names", "diff_key", "enclosing", "functions",
           "in_unreachable", "load_equivalent", "unreachable"]
