"""Random one-token source mutants: how much of *your* allocator's code the harness guards.

A mutant is one small edit of one source file, found on its syntax tree and applied
as text at the token's exact position, so the rest of the file is byte for byte the
same.  The operators are the classic ones:

* ``cmp``     a comparison negated (``==``/``!=``, ``<``/``>=``, ``is``/``is not``,
              ``in``/``not in``) or moved across its boundary (``<``/``<=``, ``>``/``>=``);
* ``arith``   an arithmetic or bitwise operator swapped (``+``/``-``, ``*``/``//``,
              ``<<``/``>>``, ``&``/``|`` ...), in expressions and augmented assignments;
* ``bool``    ``and``/``or`` swapped, a ``not`` removed, ``True``/``False`` swapped;
* ``const``   an integer constant plus or minus one;
* ``delete``  a one-line statement inside a function replaced by ``pass``;
* ``return``  a returned value replaced by ``None``.

Lines carrying ``# pragma: no mutate`` are never mutated (nor is a statement that
spans one).  The sample is deterministic: the same files and seed give the same
mutants.  ``hakmem_verify.mutate.run`` hunts each one on a scratch copy of the tree; the
checkout is never written.
"""
from __future__ import annotations

import ast
import random
import re
from dataclasses import asdict, dataclass

PRAGMA = "# pragma: no mutate"
OPERATORS = ("cmp", "arith", "bool", "const", "delete", "return")

_CMP = {ast.Eq: ("==", ["!="]), ast.NotEq: ("!=", ["=="]), ast.Lt: ("<", [">=", "<="]),
        ast.LtE: ("<=", [">", "<"]), ast.Gt: (">", ["<=", ">="]), ast.GtE: (">=", ["<", ">"]),
        ast.Is: ("is", ["is not"]), ast.IsNot: ("is not", ["is"]),
        ast.In: ("in", ["not in"]), ast.NotIn: ("not in", ["in"])}
_ARITH = {ast.Add: ("+", "-"), ast.Sub: ("-", "+"), ast.Mult: ("*", "//"),
          ast.FloorDiv: ("//", "*"), ast.Div: ("/", "*"), ast.Mod: ("%", "//"),
          ast.LShift: ("<<", ">>"), ast.RShift: (">>", "<<"), ast.BitAnd: ("&", "|"),
          ast.BitOr: ("|", "&"), ast.BitXor: ("^", "&")}
_DELETABLE = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Raise, ast.Continue,
              ast.Break)


@dataclass(frozen=True)
class Mutant:
    """One edit: bytes ``start:end`` of ``path`` become ``new`` (they were ``old``)."""
    path: str               # as given (relative to the tree root)
    line: int
    operator: str           # one of OPERATORS
    start: int              # byte offsets in the UTF-8 source
    end: int
    old: str
    new: str

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}:{self.start}:{self.operator}:{self.new!r}"

    def apply(self, source: bytes) -> bytes:
        if source[self.start:self.end].decode("utf-8") != self.old:
            raise ValueError(f"{self.path}:{self.line}: the source changed since the mutant "
                             f"was made (expected {self.old!r} at byte {self.start}); "
                             f"re-run the sample on the current files")
        return source[:self.start] + self.new.encode("utf-8") + source[self.end:]

    def diff(self, source: bytes) -> str:
        """One line: ``path:line: old line  ->  new line``."""
        lo = source.rfind(b"\n", 0, self.start) + 1
        hi = source.find(b"\n", self.end)
        hi = len(source) if hi < 0 else hi
        before = source[lo:hi].decode("utf-8").strip()
        after = (source[lo:self.start] + self.new.encode("utf-8")
                 + source[self.end:hi]).decode("utf-8").strip()
        return f"{self.path}:{self.line}: {before}  ->  {after}"

    def as_dict(self) -> dict:
        return dict(asdict(self), id=self.id)


class _Finder(ast.NodeVisitor):
    """Collects every mutant of one file."""

    def __init__(self, path: str, source: bytes):
        self.path = path
        self.src = source
        self.lines = source.split(b"\n")
        self.line_at = [0]
        for ln in self.lines:
            self.line_at.append(self.line_at[-1] + len(ln) + 1)
        self.skip = {i + 1 for i, ln in enumerate(self.lines) if PRAGMA.encode() in ln}
        self.out = []
        self.depth = 0          # function nesting: statements are deleted inside functions

    # ---- positions ------------------------------------------------------------------
    def off(self, line: int, col: int) -> int:
        return self.line_at[line - 1] + col

    def start(self, node) -> int:
        return self.off(node.lineno, node.col_offset)

    def end(self, node) -> int:
        return self.off(node.end_lineno, node.end_col_offset)

    def add(self, node, operator: str, start: int, end: int, new: str) -> None:
        lines = range(node.lineno, (node.end_lineno or node.lineno) + 1)
        if any(n in self.skip for n in lines):
            return
        old = self.src[start:end].decode("utf-8")
        self.out.append(Mutant(self.path, node.lineno, operator, start, end, old, new))

    def token_between(self, node, left, right, token: str):
        """(start, end) of the only ``token`` between two child nodes, else None."""
        lo, hi = self.end(left), self.start(right)
        gap = self.src[lo:hi].decode("utf-8")
        pat = r"\s+".join(re.escape(w) for w in token.split())
        if token.isalpha() or " " in token:
            pat = rf"\b{pat}\b"
        else:                       # do not match "<" inside "<<" or "<="
            pat = rf"(?<![<>=!*/&|^%+-]){pat}(?![<>=*/&|^%+-])"
        found = list(re.finditer(pat, gap))
        if len(found) != 1:
            return None
        m = found[0]
        return lo + len(gap[:m.start()].encode()), lo + len(gap[:m.end()].encode())

    # ---- operators ---------------------------------------------------------------
    def visit_Compare(self, node):
        if len(node.ops) == 1 and type(node.ops[0]) in _CMP:
            tok, news = _CMP[type(node.ops[0])]
            where = self.token_between(node, node.left, node.comparators[0], tok)
            if where:
                for new in news:
                    self.add(node, "cmp", *where, new)
        self.generic_visit(node)

    def visit_BinOp(self, node):
        if type(node.op) in _ARITH:
            tok, new = _ARITH[type(node.op)]
            where = self.token_between(node, node.left, node.right, tok)
            if where:
                self.add(node, "arith", *where, new)
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        if type(node.op) in _ARITH:
            tok, new = _ARITH[type(node.op)]
            where = self.token_between(node, node.target, node.value, tok + "=")
            if where:
                self.add(node, "arith", *where, new + "=")
        self._delete(node)
        self.generic_visit(node)

    def visit_BoolOp(self, node):
        tok, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
        where = self.token_between(node, node.values[0], node.values[1], tok)
        if where:
            self.add(node, "bool", *where, new)
        self.generic_visit(node)

    def visit_UnaryOp(self, node):
        if isinstance(node.op, ast.Not):
            self.add(node, "bool", self.start(node), self.start(node.operand), "")
        self.generic_visit(node)

    def visit_Constant(self, node):
        v = node.value
        if isinstance(v, bool):
            self.add(node, "bool", self.start(node), self.end(node), str(not v))
        elif isinstance(v, int):
            text = self.src[self.start(node):self.end(node)].decode()
            if text.isdigit():          # decimal literals only: keep 0x.. and 1_000 readable
                for n in (v + 1, v - 1):
                    if n >= 0:
                        self.add(node, "const", self.start(node), self.end(node), str(n))

    def visit_Return(self, node):
        if node.value is not None and not (isinstance(node.value, ast.Constant)
                                           and node.value.value is None):
            self.add(node, "return", self.start(node.value), self.end(node.value), "None")
        self.generic_visit(node)

    def _delete(self, node):
        if self.depth == 0 or node.lineno != node.end_lineno:
            return
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            return                      # a docstring
        line = self.lines[node.lineno - 1].decode("utf-8")
        text = self.src[self.start(node):self.end(node)].decode("utf-8")
        if line.split("#")[0].strip() != text:
            return                      # shares its line (``if x: y``, ``a; b``)
        self.add(node, "delete", self.start(node), self.end(node), "pass")

    def generic_visit(self, node):
        if isinstance(node, _DELETABLE) and not isinstance(node, ast.AugAssign):
            self._delete(node)
        super().generic_visit(node)

    def visit_FunctionDef(self, node):
        self.depth += 1
        for stmt in node.body:
            self.visit(stmt)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef


def mutants_of(path: str, source: bytes) -> list:
    """Every mutant of one file, in source order (a file that does not parse raises
    SyntaxError naming it)."""
    tree = ast.parse(source, filename=path)
    f = _Finder(path, source)
    f.visit(tree)
    return sorted(f.out, key=lambda m: (m.start, m.operator, m.new))


def sample(sources: dict, n: int, seed: int, operators=OPERATORS, skip=None) -> tuple:
    """(the sample of ``n`` mutants, the number of candidates) over ``{path: source}``;
    the same sources and seed give the same sample.  Mutants whose file would no longer
    compile, and those ``skip(mutant)`` rejects (code unreachable from the API), are
    left out of the candidates."""
    cands = []
    for path in sorted(sources):
        for m in mutants_of(path, sources[path]):
            if m.operator in operators and not (skip and skip(m)):
                cands.append(m)
    rng = random.Random(seed)
    order = rng.sample(range(len(cands)), len(cands))
    picked = []
    for i in order:
        if len(picked) == n:
            break
        m = cands[i]
        try:
            compile(m.apply(sources[m.path]), m.path, "exec")
        except (SyntaxError, ValueError):
            continue
        picked.append(m)
    return picked, len(cands)


__all__ = ["Mutant", "OPERATORS", "PRAGMA", "mutants_of", "sample"]
