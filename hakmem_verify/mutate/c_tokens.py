"""The tokenizer of ``hakmem_verify.mutate.c_mutants``: C source as tokens with their byte offsets.

Comments and preprocessor lines (directives and their continuation lines) yield no
tokens; string and character literals are one token each, so no mutant lands inside
them.  Lines whose comments carry :data:`MARKER` are returned apart: they are never
mutated.
"""
from __future__ import annotations

from dataclasses import dataclass

MARKER = "no mutate"            # in a comment: /* no mutate */ or // no mutate
#: punctuators, longest first (the tokenizer takes the longest match)
PUNCT = sorted("<<= >>= ... -> ++ -- << >> <= >= == != && || += -= *= /= %= &= ^= |= ## "
               "[ ] ( ) { } . & * + - ~ ! / % < > ^ | ? : ; = , #".split(),
               key=len, reverse=True)


@dataclass(frozen=True)
class Token:
    """One token: ``kind`` id, num, str, chr or punct; ``start:end`` byte offsets."""
    kind: str
    text: str
    start: int
    end: int
    line: int


def tokenize(source: bytes) -> tuple:
    """(tokens, marked lines) of a C source.  Comments and preprocessor lines yield no
    tokens; string and character literals are one token each.  The text is read as
    Latin-1, so character offsets are byte offsets.  Cost: one pass, O(len)."""
    s = source.decode("latin-1")
    n = len(s)
    toks, marked = [], set()
    i, line, bol = 0, 1, True           # bol: only blanks since the last newline

    def note_marker(body, first_line):
        k = body.find(MARKER)
        if k >= 0:
            marked.add(first_line + body.count("\n", 0, k))

    while i < n:
        c = s[i]
        if c == "\n":
            i, line, bol = i + 1, line + 1, True
        elif c in " \t\r\f\v":
            i += 1
        elif c == "\\" and s.startswith("\n", i + 1):
            i, line = i + 2, line + 1
        elif s.startswith("//", i):
            j = i
            while j < n and s[j] != "\n":
                j += 2 if s.startswith("\\\n", j) else 1
            note_marker(s[i:j], line)
            line += s.count("\n", i, j)        # only via backslash-newline
            i = j
        elif s.startswith("/*", i):
            i, line = _skip_block_comment(s, i, line, note_marker)
        elif c == "#" and bol:
            i, line = _skip_directive(s, i, line, note_marker)
        elif c in "\"'" or (c in "LuU" and _literal_prefix(s, i)):
            j = i
            while s[j] not in "\"'":
                j += 1
            q = s[j]
            j += 1
            while j < n and s[j] != q and s[j] != "\n":
                j += 2 if s[j] == "\\" else 1
            j = min(j + 1, n)
            toks.append(Token("str" if q == '"' else "chr", s[i:j], i, j, line))
            line += s.count("\n", i, j)         # only via escaped newlines
            i, bol = j, False
        elif c.isdigit() or (c == "." and s[i + 1:i + 2].isdigit()):
            j = i + 1
            while j < n and (s[j].isalnum() or s[j] in "._" or
                             (s[j] in "+-" and s[j - 1] in "eEpP")):
                j += 1
            toks.append(Token("num", s[i:j], i, j, line))
            i, bol = j, False
        elif c.isalpha() or c in "_$":
            j = i + 1
            while j < n and (s[j].isalnum() or s[j] in "_$"):
                j += 1
            toks.append(Token("id", s[i:j], i, j, line))
            i, bol = j, False
        else:
            p = next((p for p in PUNCT if s.startswith(p, i)), c)
            toks.append(Token("punct", p, i, i + len(p), line))
            i, bol = i + len(p), False
    return toks, marked


def _literal_prefix(s: str, i: int) -> bool:
    """Whether ``L"``, ``u"``, ``U"``, ``u8"`` (or with ``'``) starts at i."""
    for pre in ("u8", "L", "u", "U"):
        k = i + len(pre)
        if s.startswith(pre, i) and k < len(s) and s[k] in "\"'":
            return True
    return False


def _skip_directive(s: str, i: int, line: int, note_marker) -> tuple:
    """Slow path: (offset, line) after the preprocessor line starting at i, its
    backslash-continued lines and the comments inside it included."""
    n = len(s)
    while i < n and s[i] != "\n":
        if s.startswith("\\\n", i):
            i, line = i + 2, line + 1
        elif s.startswith("/*", i):
            i, line = _skip_block_comment(s, i, line, note_marker)
        else:
            i += 1
    return i, line


def _skip_block_comment(s: str, i: int, line: int, note_marker) -> tuple:
    """(offset, line) after the ``/* ... */`` comment starting at i (the end of s when it
    is not closed), once its text is passed to ``note_marker``."""
    j = s.find("*/", i + 2)
    j = len(s) if j < 0 else j + 2
    note_marker(s[i:j], line)
    return j, line + s.count("\n", i, j)


__all__ = ["MARKER", "PUNCT", "Token", "tokenize"]
