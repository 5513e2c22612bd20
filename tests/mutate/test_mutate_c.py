"""hakmem-fuzz mutate --c-file: one-token mutants of C source, never inside comments,
literals or preprocessor lines; each one built in a scratch directory and hunted by the
malloc tier; a build identical to the unmutated one is equivalent; the report says the
score; usage errors are one line and exit status 2."""
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hakmem_verify.cli import main as cli
from hakmem_verify.mutate.operators import Mutant
from hakmem_verify.mutate.c_mutants import OPERATORS, mutants_of, sample, tokenize
from hakmem_verify.mutate.c_worker import Target, build_in, build_mutant, run_one

ROOT = Path(__file__).resolve().parents[2]
PLANTED = ROOT / "tests" / "quality" / "planted_malloc.c"
BUILD = "gcc -O1 -shared -fPIC -pthread -o {out} {src}"
needs_gcc = pytest.mark.skipif(not shutil.which("gcc"), reason="no C compiler (gcc)")

SRC = b"""\
#include <stddef.h>
#define TWICE(x) ((x) << 1)   /* a < b in a macro */
#if LIMIT > 3
#define SPLIT(a) \\
    ((a) + 1)
#endif
static int table[] = {4, 8};
struct s { int w[16]; };
void *f(char *p, size_t n, int a, int b) {
    size_t k = n;
    if (a == b && !p) return NULL;
    if (a < b || n >= 2) n += 1;
    g(n << 1, a & b, a - b);
    n++;
    puts("a < b && c || !d - 1");   // x == y + 2
    return p + n + k;
}
int h(int a, long *q) { return -a + (int)&a + (int)*q; }
"""


def edits(src=SRC):
    return {(m.operator, m.old, m.new) for m in mutants_of("t.c", src)}


def test_every_operator_makes_its_edit_at_its_token():
    e = edits()
    assert {("cmp", "==", "!="), ("cmp", "<", "<="), ("cmp", "<", ">="), ("cmp", ">=", "<"),
            ("cmp", ">=", ">"), ("bool", "&&", "||"), ("bool", "||", "&&"), ("bool", "!", ""),
            ("arith", "+=", "-="), ("arith", "<<", ">>"), ("arith", "&", "|"),
            ("arith", "-", "+"), ("arith", "++", "--"), ("const", "2", "3"),
            ("const", "2", "1"), ("delete", "g(n << 1, a & b, a - b);", ";"),
            ("delete", "n++;", ";"), ("return", "p + n + k", "NULL")} <= e
    assert {op for op, _, _ in e} == set(OPERATORS)


def test_file_scope_initializers_are_mutated_but_declarations_and_struct_bodies_are_not():
    e = edits()
    assert ("const", "4", "5") in e and ("const", "8", "7") in e      # static int table[]
    assert not any(old == "16" for _, old, _ in e)                    # struct s { int w[16]; }
    assert not any(op == "delete" and old.startswith("size_t") for op, old, _ in e)


def test_comments_string_literals_and_preprocessor_lines_are_never_mutated():
    toks, _ = tokenize(SRC)
    lines = SRC.split(b"\n")
    assert not any(t.line <= 6 for t in toks)           # #include, #define, #if, continued
    assert [t.text for t in toks if t.kind == "str"] == ['"a < b && c || !d - 1"']
    literal = SRC.index(b'"a < b')
    comment = SRC.index(b"// x == y")
    for m in mutants_of("t.c", SRC):
        assert m.line > 6, m
        assert not literal <= m.start < literal + 22, m
        assert m.start < comment or m.start > comment + len(b"// x == y + 2"), m
    assert b"puts" in lines[14] and not any(m.line == 15 and m.operator != "delete"
                                            for m in mutants_of("t.c", SRC))


def test_unary_minus_address_of_and_casts_are_not_taken_for_binary_operators():
    e = {(m.operator, m.old) for m in mutants_of("t.c", SRC) if m.line == 18}
    assert e == {("arith", "+")}                        # the two binary + of h, nothing else
    assert sum(1 for m in mutants_of("t.c", SRC) if m.line == 18) == 2


def test_returns_of_pointer_functions_become_null_and_a_null_return_is_left_alone():
    rets = [m for m in mutants_of("t.c", SRC) if m.operator == "return"]
    assert [(m.line, m.old, m.new) for m in rets] == [(16, "p + n + k", "NULL")]
    src = b"long *f(long *p) { if (!p) return 0; return p; }\n"
    assert [(m.old, m.new) for m in mutants_of("f.c", src) if m.operator == "return"] == \
        [("p", "0")]                                    # no NULL in the file: 0


def test_lines_marked_no_mutate_are_skipped():
    src = (b"int f(int a) {\n"
           b"    a += 1; /* no mutate */\n"
           b"    a -= 2; // no mutate\n"
           b"    return a < 3;\n"
           b"}\n")
    assert {m.line for m in mutants_of("f.c", src)} == {4}


def test_hex_constants_keep_their_base_and_suffix_and_floats_and_octals_are_left_alone():
    src = b"unsigned long f(void) { return 0x1fu + 10UL + 0XAB + 017 + (long)1.5; }\n"
    e = {(m.old, m.new) for m in mutants_of("f.c", src) if m.operator == "const"}
    assert e == {("0x1fu", "0x20u"), ("0x1fu", "0x1eu"), ("10UL", "11UL"), ("10UL", "9UL"),
                 ("0XAB", "0XAC"), ("0XAB", "0XAA")}


def test_a_mutant_changes_exactly_its_bytes_and_refuses_a_changed_source():
    m = next(m for m in mutants_of("t.c", SRC) if (m.old, m.new) == ("==", "!="))
    assert m.apply(SRC) == SRC.replace(b"a == b", b"a != b", 1)
    assert m.diff(SRC) == ("t.c:11: if (a == b && !p) return NULL;  ->  "
                           "if (a != b && !p) return NULL;")
    with pytest.raises(ValueError, match="source changed"):
        m.apply(SRC.replace(b"a == b", b"a <= b"))


def test_the_sample_is_deterministic_by_seed_and_a_smaller_sample_is_a_prefix():
    src = PLANTED.read_bytes()
    a, total = sample("p.c", src, 10, seed=3)
    b, _ = sample("p.c", src, 10, seed=3)
    c, _ = sample("p.c", src, 10, seed=4)
    every, _ = sample("p.c", src, None, seed=3)
    assert [m.id for m in a] == [m.id for m in b] != [m.id for m in c]
    assert [m.id for m in every[:10]] == [m.id for m in a] and len(every) == total


# ---- building and hunting (gcc) -------------------------------------------------------


def target(budget=8.0):
    adapter = dict(prefix="pl_", stats="pl_allocated", lib="replaced-by-each-build.so")
    return Target(str(PLANTED), str(PLANTED), BUILD, None, adapter, budget, 0, False, 60.0)


def reference(t, tmp_path):
    b = build_in(t, str(tmp_path), PLANTED.read_bytes(), "unmutated")
    assert b["ok"], b["message"]
    return b["out"]


def planted_mutant(old_line: bytes, old: bytes, new: str) -> Mutant:
    src = PLANTED.read_bytes()
    start = src.index(old_line) + old_line.index(old)
    return Mutant(str(PLANTED), src[:start].count(b"\n") + 1, "delete", start,
                  start + len(old), old.decode(), new)


@needs_gcc
def test_deleting_the_memset_of_calloc_is_killed_by_malloc_06(tmp_path):
    t = target()
    m = next(m for m in mutants_of(str(PLANTED), PLANTED.read_bytes())
             if m.operator == "delete" and m.old == "memset(p, 0, n * s);")
    row = run_one(m, PLANTED.read_bytes(), t, reference(t, tmp_path))
    assert row["status"] == "killed", row
    assert row["inv_id"] == "MALLOC-06" and row["kill_time"] >= 0
    assert row["diff"].endswith("memset(p, 0, n * s);  ->  ;")


@needs_gcc
def test_a_mutant_in_code_the_build_leaves_out_is_an_identical_build_not_hunted(tmp_path):
    t = target()
    m = next(m for m in mutants_of(str(PLANTED), PLANTED.read_bytes())
             if m.old == "abort();" and m.operator == "delete")     # under #ifdef PL_ABORT
    row, scratch, _ = build_mutant(m, PLANTED.read_bytes(), t, reference(t, tmp_path))
    assert row["status"] == "equivalent" and scratch is None


@needs_gcc
def test_a_mutant_that_does_not_compile_is_reported_apart_with_the_compiler_error(tmp_path):
    t = target()
    m = planted_mutant(b"    memset(p, 0, n * s);", b";", "")
    row, scratch, _ = build_mutant(m, PLANTED.read_bytes(), t, reference(t, tmp_path))
    assert row["status"] == "no-build" and scratch is None
    assert "error" in row["message"] and "hakmem-cmutant" not in row["message"]


def run_cli(tmp_path, capsys, *extra, n="3", budget="5"):
    adapter = tmp_path / "pl.json"
    adapter.write_text(json.dumps({"lib": "./libpl.so", "prefix": "pl_",
                                   "stats": "pl_allocated"}))
    code = cli.main(["mutate", "--c-file", str(PLANTED), "--build", BUILD, "--adapter",
                     str(adapter), "-n", n, "--budget", budget, "--workers", "2",
                     "--out", str(tmp_path / "rep"), *extra])
    return code, capsys.readouterr()


@needs_gcc
def test_the_command_on_the_planted_library_writes_a_scored_report(tmp_path, capsys):
    code, out = run_cli(tmp_path, capsys)
    assert code == 0, out.err
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert rep["sampled"] == 3 and rep["killed"] + rep["survived"] + rep["errors"] == 3
    assert rep["killed"] >= 1 and rep["score"] == rep["killed"] / (rep["killed"]
                                                                   + rep["survived"])
    assert sum(rep["by_check"].values()) == rep["killed"]
    assert all(r["status"] != "equivalent" or "identical" in r["equivalent_reason"]
               for r in rep["mutants"])
    md = (tmp_path / "rep" / "report.md").read_text()
    assert md.startswith("# Mutation score of ") and "## Survivors" in md
    assert "[3/3]" in out.err and "score" in out.out


@needs_gcc
@pytest.mark.parametrize("args, says", [
    (["--prefix", "pl_"], "needs --build"),
    (["--build", "gcc -shared -fPIC {src}", "--prefix", "pl_"], "has no {out}"),
    (["--build", BUILD], "name the entry points"),
    (["--build", "gcc -o {out} {src}", "--prefix", "pl_"], "does not build"),
    (["--build", BUILD.replace("gcc", "gcc -DPL_ABORT"), "--prefix", "pl_"],
     "already fails ABORT"),
])
def test_usage_errors_exit_2_with_one_line(args, says, tmp_path, capsys):
    code = cli.main(["mutate", "--c-file", str(PLANTED), *args, "--budget", "5",
                     "--out", str(tmp_path / "rep")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len([ln for ln in err if "must be clean" not in ln]) == 1 and says in err[-1]
    assert not (tmp_path / "rep").exists()


def test_a_c_file_that_does_not_exist_is_a_usage_error(tmp_path, capsys):
    code = cli.main(["mutate", "--c-file", str(tmp_path / "nope.c"), "--build", BUILD,
                     "--prefix", "pl_"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "no such file" in err[0]


def test_the_mutate_help_shows_the_python_and_the_c_options(capsys):
    assert cli.main(["mutate", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--files" in out and "--c-file" in out and "{out}" in out


@needs_gcc
def test_ctrl_c_stops_the_workers_and_writes_the_report_of_what_ran(tmp_path):
    adapter = tmp_path / "pl.json"
    adapter.write_text(json.dumps({"lib": "x.so", "prefix": "pl_", "stats": "pl_allocated"}))
    p = subprocess.Popen([sys.executable, "-m", "hakmem_verify.cli.main", "mutate", "--c-file",
                          str(PLANTED), "--build", BUILD, "--adapter", str(adapter), "-n", "8",
                          "--budget", "30", "--out", str(tmp_path / "rep")],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    for line in p.stderr:                   # the first verdict: then interrupt
        if line.startswith("[1/"):
            break
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=120)
    assert p.returncode == 3, out
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert rep["interrupted"] and 1 <= rep["hunted"] < 8
