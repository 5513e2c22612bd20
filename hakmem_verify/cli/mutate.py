"""The command line of ``hakmem-fuzz mutate`` on Python files: its options, their checks,
the campaign (``hakmem_verify.mutate.run.run``) and the report it writes."""
from __future__ import annotations

import argparse
import glob
import importlib
import os
import signal
import sys

from hakmem_verify.mutate.reach import EQUIVALENT_FILE, load_equivalent
from hakmem_verify.mutate.report import below_min_score, markdown, score_text
from hakmem_verify.mutate.report import write as write_report
from hakmem_verify.mutate.run import INTERRUPTED, LOW_SCORE, USAGE, configured_tests, run
from hakmem_verify.mutate.run import __doc__ as mutate_run_doc


def _raise_interrupt(signum, frame):
    """The SIGTERM handler: stop as Ctrl-C does."""
    raise KeyboardInterrupt


def main(argv) -> int:
    """Run ``hakmem-fuzz mutate`` on Python files; the exit status."""
    from hakmem_verify.contract.cli import at_least, first_unwritable, number, positive_int
    ap = argparse.ArgumentParser(prog="hakmem-fuzz mutate",
                                 description=mutate_run_doc.split("\n\n")[0])
    ap.add_argument("--files", nargs="+", required=True,
                    help="source files or globs, relative to --root (e.g. 'hakmem_verify/models/fast/*.py')")
    ap.add_argument("--n", type=positive_int("--n"), default=100,
                    help="mutants to sample (default 100)")
    ap.add_argument("--budget", type=number("--budget"), default=30.0,
                    help="seconds of hunting each")
    ap.add_argument("--seed", type=at_least(0, "--seed"), default=0,
                    help="sample and hunt seed")
    ap.add_argument("--workers", type=positive_int("--workers"), default=2,
                    help="mutants hunted at once")
    ap.add_argument("--root", default=".", help="the tree whose packages are copied")
    ap.add_argument("--out", default="mutate-report", help="report directory")
    ap.add_argument("--write-md", metavar="PATH", help="also write report.md to PATH")
    ap.add_argument("--oracle", default="", metavar="MODULE:CLASS",
                    help="the machines' oracle (a subclass of hakmem_verify.oracle.lockstep.Oracle; "
                         "importable from the scratch tree or --root)")
    ap.add_argument("--impl", default="", metavar="MODULE:FACTORY",
                    help="the implementation hunted (as hakmem-fuzz run --impl; default "
                         "hakmem_verify.models.fast): mutate its files with --files")
    ap.add_argument("--equivalent", metavar="PATH",
                    help=f"the list of equivalent mutants (default {EQUIVALENT_FILE} under "
                         f"--root, if it exists); 'none' for no list")
    ap.add_argument("--tests", nargs="+", default=None, metavar="PATH",
                    help="pytest files or globs (under --root) each survivor of the hunt then "
                         "runs against; a failing test kills it (default: tests in "
                         "[tool.hakmem-fuzz.mutate] of --root's pyproject.toml; 'none': no "
                         "tests)")
    ap.add_argument("--min-score", type=float, help="exit 1 below this score (0..1)")
    try:
        args = ap.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else USAGE

    def usage(msg):
        sys.stderr.write(f"hakmem-fuzz mutate: {msg}\n")
        return USAGE
    problem = first_unwritable(dirs=[(args.out, "--out")], files=[(args.write_md, "--write-md")])
    if problem:
        return usage(problem)
    root = os.path.abspath(args.root)
    if args.oracle:
        mod_name, _, cls = args.oracle.partition(":")
        sys.path.insert(0, root)
        try:
            ok = isinstance(getattr(importlib.import_module(mod_name), cls, None), type)
        except ImportError as e:
            return usage(f"--oracle {args.oracle}: cannot import {mod_name} ({e})")
        if not ok:
            return usage(f"--oracle {args.oracle}: {mod_name} has no class {cls!r}")
    if args.impl:
        from hakmem_verify.explore.impl import ImplError, load_impl
        if root not in sys.path:
            sys.path.insert(0, root)
        try:
            load_impl(args.impl)
        except ImplError as e:
            return usage(f"--impl: {e}")
    files = sorted({os.path.relpath(p, root) for pat in args.files
                    for p in glob.glob(os.path.join(root, pat)) if p.endswith(".py")})
    if not files:
        return usage(f"no Python file matches {args.files} under {root}; give paths "
                     f"relative to --root, e.g. --files 'hakmem_verify/models/fast/*.py'")
    bad = [f for f in files if f.startswith("..")]
    if bad:
        return usage(f"{bad} are outside --root {root}: give files inside the tree")
    equivalent = args.equivalent
    if equivalent is None:
        default = os.path.join(root, EQUIVALENT_FILE)
        equivalent = default if os.path.exists(default) else ""
    elif equivalent == "none":
        equivalent = ""
    elif not os.path.exists(equivalent):
        return usage(f"--equivalent {equivalent}: no such file")
    try:
        load_equivalent(equivalent) if equivalent else None
    except ValueError as e:
        return usage(f"--equivalent: {e}")
    signal.signal(signal.SIGTERM, _raise_interrupt)
    patterns = args.tests if args.tests is not None else configured_tests(root)
    if patterns == ["none"]:
        patterns = []
    tests = sorted({os.path.relpath(p, root) for pat in patterns
                    for p in glob.glob(os.path.join(root, pat))})
    if patterns and not tests:
        return usage(f"--tests {patterns}: no file matches under {root}")
    try:
        rep = run(files, args.n, args.budget, args.seed, args.workers, root, args.oracle,
                  args.impl, equivalent, tests)
    except SyntaxError as e:
        return usage(f"{e.filename} does not parse ({e}); fix it or leave it out of --files")
    except KeyboardInterrupt:
        sys.stderr.write("hakmem-fuzz mutate: interrupted: every worker was stopped and its "
                         "scratch copy removed; no report written (run again to score)\n")
        return INTERRUPTED
    command = "hakmem-fuzz mutate " + " ".join(
        ["--files"] + [f"'{p}'" for p in args.files]
        + [f"--n {args.n} --budget {args.budget:g} --seed {args.seed}"]
        + ([f"--oracle {args.oracle}"] if args.oracle else [])
        + ([f"--impl {args.impl}"] if args.impl else [])
        + ([f"--equivalent {args.equivalent}"] if args.equivalent else [])
        + (["--tests"] + [f"'{t}'" for t in args.tests] if args.tests is not None else []))
    rep["command"] = command
    write_report(args.out, rep, markdown(rep, command), args.write_md)
    print(f"hakmem-fuzz mutate: score {score_text(rep)} ({rep['killed']} killed, {rep['survived']} "
          f"survived, {rep['equivalent']} equivalent, "
          f"{rep['import_errors'] + rep['start_crashes']} not scored); report in "
          f"{args.out}/report.md")
    if rep["wrong_equivalence"]:
        print(f"hakmem-fuzz mutate: {len(rep['wrong_equivalence'])} mutants listed as "
              f"equivalent were killed: remove them from {equivalent}")
    if below_min_score("hakmem-fuzz mutate", rep, args.min_score, args.out):
        return LOW_SCORE
    return 0
