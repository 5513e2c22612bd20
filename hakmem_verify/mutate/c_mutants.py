"""Random one-token mutants of C source: how much of a C allocator the malloc tier guards.

The idea is the one of ``hakmem_verify.mutate.operators`` for Python: a mutant is one small edit of one
token, applied as bytes at the token's exact position, so the rest of the file is byte
for byte the same.  C has no syntax tree in the standard library, so a small tokenizer
finds the tokens: it knows comments, string and character literals and preprocessor
lines (directives and their continuation lines) and never mutates inside them.  A light
structural pass then finds the function bodies (a ``{`` at file scope right after a
``)``) and the file-scope initializers (after a ``=`` at file scope); only tokens there
are mutated.  The operators:

* ``cmp``     ``==``/``!=`` swapped, ``<``/``<=``/``>=`` and ``>``/``>=``/``<=`` moved
              across the boundary or negated;
* ``arith``   binary ``+``/``-``, ``<<``/``>>``, ``&``/``|`` swapped (unary ``-`` and
              ``&`` and casts are told apart and left alone), ``++``/``--`` and the
              compound assignments ``+=``/``-=``, ``<<=``/``>>=``, ``&=``/``|=``;
* ``bool``    ``&&``/``||`` swapped, a ``!`` removed;
* ``const``   an integer literal (decimal or hex, its suffix kept) plus or minus one;
* ``delete``  a simple one-line statement ``...;`` inside a function body (an expression
              statement, ``break``, ``continue``; never a declaration) made ``;``;
* ``return``  a ``return X;`` of a function returning a pointer made ``return NULL;``
              (``return 0;`` when the file never names ``NULL``).

Lines carrying ``/* no mutate */`` or ``// no mutate`` are never mutated (nor is a
``return`` whose expression spans one).  The sample is deterministic: the same source and
seed give the same mutants.  The mutants are :class:`hakmem_verify.mutate.operators.Mutant` (id, path, line,
operator, old, new, ``apply`` that refuses a changed source, ``diff``); code inside
``#ifdef`` blocks the build leaves out is sampled too, and ``hakmem_verify.mutate.c_run`` reports a
mutant whose build is identical to the unmutated build as equivalent, not scored.

>>> src = b"int f(int a) { return a < 2; }\\n"
>>> sorted((m.operator, m.old, m.new) for m in mutants_of("f.c", src))[:3]
[('cmp', '<', '<='), ('cmp', '<', '>='), ('const', '2', '1')]
"""
from __future__ import annotations

import random
import re

from .operators import Mutant
from .c_tokens import MARKER, Token, tokenize

OPERATORS = ("cmp", "arith", "bool", "const", "delete", "return")

KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for "
    "goto if inline int long register restrict return short signed sizeof static struct "
    "switch typedef union unsigned void volatile while _Alignas _Alignof _Atomic _Bool "
    "_Complex _Generic _Imaginary _Noreturn _Static_assert _Thread_local alignof "
    "__attribute__ __typeof__ typeof asm __asm__".split())
TYPE_WORDS = frozenset("void char short int long float double signed unsigned _Bool bool "
                       "const volatile struct union enum restrict _Atomic".split())

_CMP = {"==": ["!="], "!=": ["=="], "<": ["<=", ">="], "<=": ["<", ">"],
        ">": [">=", "<="], ">=": [">", "<"]}
_BINARY = {"+": "-", "-": "+", "&": "|", "|": "&", "<<": ">>", ">>": "<<"}   # need operands
_ALWAYS = {"++": "--", "--": "++", "+=": "-=", "-=": "+=", "<<=": ">>=", ">>=": "<<=",
           "&=": "|=", "|=": "&="}
_INT = re.compile(r"(0[xX][0-9a-fA-F]+|[1-9][0-9]*|0)([uUlL]*)\Z")
_NULLS = {"0", "NULL", "(void *)0", "(void*)0", "((void *)0)", "((void*)0)", "nullptr"}


# ============================================================================
# Where the code is: function bodies and file-scope initializers
# ============================================================================


def _structure(toks: list) -> tuple:
    """(match, parens, func): ``match`` pairs the indices of brackets; ``parens[i]`` is
    how many ``(``/``[`` token i is inside; ``func[i]`` is the index of the ``{`` opening
    the function body token i is in, -1 in a file-scope initializer, None elsewhere
    (declarations, struct bodies)."""
    match, stack, parens = {}, [], []
    for i, t in enumerate(toks):
        parens.append(sum(1 for j in stack if toks[j].text != "{") if stack else 0)
        if t.kind == "punct" and t.text in "([{":
            stack.append(i)
        elif t.kind == "punct" and t.text in ")]}" and stack:
            j = stack.pop()
            match[i], match[j] = j, i
    func = [None] * len(toks)
    i, init = 0, False
    while i < len(toks):
        t = toks[i]
        if t.text == "{" and t.kind == "punct" and not init and i > 0 \
                and toks[i - 1].text == ")" and i in match:
            for k in range(i + 1, match[i]):
                func[k] = i
            i = match[i] + 1
            continue
        if t.kind == "punct" and t.text == "=":
            init = True
        elif t.kind == "punct" and t.text == ";":
            init = False
        elif init:
            func[i] = -1
        if t.kind == "punct" and t.text in "([{" and i in match and not init:
            i = match[i]            # a struct body or a parameter list: not code
        i += 1
    return match, parens, func


def _returns_pointer(toks: list, match: dict, brace: int) -> bool:
    """Whether the function whose body opens at ``brace`` returns a pointer: its
    declarator reads ``* name ( ... ) {``."""
    close = brace - 1
    open_ = match.get(close)
    return (open_ is not None and open_ >= 2 and toks[open_ - 1].kind == "id"
            and toks[open_ - 2].text == "*")


def _type_like(toks: list) -> bool:
    """Whether tokens read as a type name (the inside of a cast)."""
    if not toks or not all(t.kind == "id" or t.text == "*" for t in toks):
        return False
    return any(t.text in TYPE_WORDS or t.text.endswith("_t") or t.text == "*" for t in toks)


def _operand_end(toks: list, match: dict, i: int) -> bool:
    """Whether token i ends an operand, so a following ``+ - &`` is binary."""
    if i < 0:
        return False
    t = toks[i]
    if t.kind in ("num", "str", "chr"):
        return True
    if t.kind == "id":
        return t.text not in KEYWORDS
    if t.text == "]":
        return True
    if t.text in ("++", "--"):          # postfix when it follows an operand
        return _operand_end(toks, match, i - 1)
    if t.text == ")" and i in match:
        o = match[i]
        before = toks[o - 1] if o > 0 else None
        if before is not None and before.text in ("if", "while", "for", "switch"):
            return False                # a statement follows the header
        if before is not None and ((before.kind == "id" and before.text not in KEYWORDS)
                                   or before.text in (")", "]", "sizeof", "_Alignof")):
            return True                 # a call, or sizeof(...)
        return not _type_like(toks[o + 1:i])
    return False


# ============================================================================
# Mutants
# ============================================================================


class _Finder:
    """Collects every mutant of one file (fast path: one pass over the tokens)."""

    def __init__(self, path: str, source: bytes):
        self.path, self.src = path, source
        self.toks, self.marked = tokenize(source)
        self.match, self.parens, self.func = _structure(self.toks)
        self.null = "NULL" if any(t.text == "NULL" for t in self.toks) else "0"
        self.out = []

    def add(self, operator: str, start: int, end: int, new: str, lines) -> None:
        if any(ln in self.marked for ln in lines):
            return
        try:
            old = self.src[start:end].decode("utf-8")
        except UnicodeDecodeError:
            return
        self.out.append(Mutant(self.path, lines[0], operator, start, end, old, new))

    def token(self, i: int) -> None:
        t, toks = self.toks[i], self.toks
        one = [t.line]
        if t.kind == "num":
            m = _INT.match(t.text)
            if m:
                digits, suffix = m.groups()
                hexa = digits[:2].lower() == "0x"
                v = int(digits, 16 if hexa else 10)
                for w in (v + 1, v - 1):
                    if w >= 0:
                        text = (digits[:2] + (f"{w:X}" if digits != digits.lower() else f"{w:x}")
                                if hexa else str(w))
                        self.add("const", t.start, t.end, text + suffix, one)
            return
        if t.kind == "id" and t.text == "return" and self.func[i] not in (None, -1):
            self.returned(i)
            return
        if t.kind != "punct":
            return
        if t.text in _CMP:
            for new in _CMP[t.text]:
                self.add("cmp", t.start, t.end, new, one)
        elif t.text in ("&&", "||"):
            self.add("bool", t.start, t.end, "||" if t.text == "&&" else "&&", one)
        elif t.text == "!":
            self.add("bool", t.start, t.end, "", one)
        elif t.text in _ALWAYS:
            self.add("arith", t.start, t.end, _ALWAYS[t.text], one)
        elif t.text in _BINARY and (t.text in ("|", "<<", ">>")
                                    or _operand_end(toks, self.match, i - 1)):
            self.add("arith", t.start, t.end, _BINARY[t.text], one)

    def returned(self, i: int) -> None:
        """``return X;`` in a pointer function: X becomes NULL."""
        brace = self.func[i]
        if not _returns_pointer(self.toks, self.match, brace):
            return
        end = self.statement_end(i)
        if end is None or end == i + 1:
            return
        first, last = self.toks[i + 1], self.toks[end - 1]
        text = self.src[first.start:last.end].decode("latin-1")
        if " ".join(text.split()) in _NULLS:
            return
        self.add("return", first.start, last.end, self.null,
                 list(range(first.line, last.line + 1)))

    def statement_end(self, i: int):
        """Index of the ``;`` ending the statement that starts at i (brackets skipped),
        or None if a brace comes first."""
        toks, k = self.toks, i
        while k < len(toks):
            t = toks[k]
            if t.kind == "punct":
                if t.text == ";":
                    return k
                if t.text in "{}":
                    return None
                if t.text in "([" and k in self.match:
                    k = self.match[k]
            k += 1
        return None

    def deleted(self, i: int) -> None:
        """A simple one-line statement starting at token i, alone on its line."""
        toks = self.toks
        t, prev = toks[i], toks[i - 1]
        if prev.line == t.line or not self.statement_start(i):
            return
        if t.kind == "id":
            if t.text in KEYWORDS and t.text not in ("break", "continue"):
                return
        elif t.text not in ("*", "(", "++", "--"):
            return
        end = self.statement_end(i)
        if end is None or toks[end].line != t.line:
            return
        if end + 1 < len(toks) and toks[end + 1].line == t.line:
            return                          # shares its line
        nxt = toks[i + 1] if i + 1 < end else None
        if t.kind == "id" and nxt is not None:
            if nxt.kind == "id" or nxt.text == ":":
                return                      # a declaration (T x ...) or a label
            if nxt.text == "*" and i + 3 <= end and toks[i + 2].kind == "id" \
                    and toks[i + 3].text in ("=", ";", ",", "["):
                return                      # a declaration T *p = ...
        self.add("delete", t.start, toks[end].end, ";", [t.line])

    def statement_start(self, i: int) -> bool:
        """Whether a statement can start at token i: after ``;``, a brace, ``else``, a
        label, or the header of ``if``/``while``/``for``; never inside brackets."""
        prev = self.toks[i - 1]
        if self.parens[i]:
            return False
        if prev.kind == "punct" and prev.text in (";", "{", "}"):
            return True
        if prev.text == "else":
            return True
        if prev.text == ":":
            return self.label_colon(i - 1)
        if prev.text == ")" and (i - 1) in self.match:
            o = self.match[i - 1]
            return o > 0 and self.toks[o - 1].text in ("if", "while", "for")
        return False

    def label_colon(self, j: int) -> bool:
        """Whether the ``:`` at j ends ``case X:``, ``default:`` or ``name:`` (not a
        ``?:`` or a bit-field)."""
        k = j - 1
        while k >= 0 and not (self.toks[k].kind == "punct"
                              and self.toks[k].text in (";", "{", "}", ":")):
            k -= 1
        first = self.toks[k + 1]
        return first.text in ("case", "default") or (k + 2 == j and first.kind == "id")

    def run(self) -> list:
        for i in range(len(self.toks)):
            if self.func[i] is None:
                continue
            self.token(i)
            if self.func[i] != -1 and i > 0:
                self.deleted(i)
        return self.out


def mutants_of(path: str, source: bytes) -> list:
    """Every mutant of one C file, in source order.  Cost: linear in the source."""
    return sorted(_Finder(path, source).run(), key=lambda m: (m.start, m.operator, m.new))


def sample(path: str, source: bytes, n, seed: int, operators=OPERATORS) -> tuple:
    """(the sample of ``n`` mutants, the number of candidates); the same source and seed
    give the same sample, and the sample of n is the first n of every larger one
    (``n`` None: every candidate, in sample order)."""
    cands = [m for m in mutants_of(path, source) if m.operator in operators]
    order = random.Random(seed).sample(range(len(cands)), len(cands))
    return [cands[i] for i in order[:n]], len(cands)


__all__ = ["MARKER", "OPERATORS", "Token", "mutants_of", "sample", "tokenize"]
