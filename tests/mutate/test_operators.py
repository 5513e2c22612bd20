"""hakmem_verify.mutate.operators finds one-token mutants of every classic kind, at the exact token, skips
pragma'd lines, and samples deterministically by seed."""
import glob

import pytest

from hakmem_verify.mutate.operators import OPERATORS, mutants_of, sample

SRC = b'''\
def f(a, b, xs):
    """doc"""
    if a < b and not xs:
        a += 2
    c = a * b
    g(c)
    h(c)  # pragma: no mutate
    return a == b or c in xs

X = 1
'''


def edits(src=SRC):
    return {(m.operator, m.old, m.new) for m in mutants_of("m.py", src)}


def test_every_operator_kind_is_found_at_its_token():
    e = edits()
    assert {("cmp", "<", ">="), ("cmp", "<", "<="), ("cmp", "==", "!="), ("cmp", "in", "not in"),
            ("arith", "+=", "-="), ("arith", "*", "//"), ("bool", "and", "or"),
            ("bool", "or", "and"), ("bool", "not ", ""), ("const", "2", "3"),
            ("const", "2", "1"), ("delete", "g(c)", "pass"), ("delete", "c = a * b", "pass"),
            ("return", "a == b or c in xs", "None")} <= e
    assert {op for op, _, _ in e} == set(OPERATORS)


def test_pragma_lines_docstrings_and_module_statements_are_not_mutated():
    e = edits()
    assert ("delete", "h(c)", "pass") not in e
    assert not any(old == '"""doc"""' for _, old, _ in e)
    assert ("delete", "X = 1", "pass") not in e            # module level: an import error
    assert ("const", "1", "2") in e                        # its constant still is


def test_a_mutant_changes_exactly_its_token_and_says_so_in_one_line():
    m = next(m for m in mutants_of("m.py", SRC) if (m.old, m.new) == ("<", ">="))
    out = m.apply(SRC)
    assert out == SRC.replace(b"a < b", b"a >= b", 1)
    assert m.diff(SRC) == "m.py:3: if a < b and not xs:  ->  if a >= b and not xs:"
    with pytest.raises(ValueError, match="source changed"):
        m.apply(SRC.replace(b"a < b", b"a<=b"))


def test_shift_and_comparison_tokens_are_not_confused():
    e = edits(b"def f(a, b):\n    return (a << 2) < b\n")
    assert ("arith", "<<", ">>") in e and ("cmp", "<", ">=") in e
    assert all(not (op == "cmp" and old == "<<") for op, old, _ in e)


def test_the_sample_is_deterministic_by_seed_and_every_mutant_compiles():
    srcs = {p: open(p, "rb").read() for p in sorted(glob.glob("hakmem_verify/models/fast/*.py"))}
    a, n = sample(srcs, 20, seed=3)
    b, _ = sample(srcs, 20, seed=3)
    c, _ = sample(srcs, 20, seed=4)
    assert [m.id for m in a] == [m.id for m in b] != [m.id for m in c]
    assert n > 500 and len(a) == 20
    for m in a:
        compile(m.apply(srcs[m.path]), m.path, "exec")


def test_a_file_that_does_not_parse_is_named():
    with pytest.raises(SyntaxError):
        mutants_of("broken.py", b"def f(:\n")
