"""hakmem-fuzz mutate --c-file: hunt one-token mutants of a C allocator, score the harness.

    hakmem-fuzz mutate --c-file FILE --build CMD (--prefix PREFIX | --adapter FILE)
                       [-n 100] [--budget 30] [--seed 0] [--workers 2] [--stress]
                       [--build-timeout 120] [--out mutate-report] [--write-md PATH]
                       [--min-score S]

Each mutant (``hakmem_verify.mutate.c_mutants``) is written into a scratch directory of its own, beside
copies of the headers of the C file's directory, and built there by ``--build``: a shell
command, run in the current directory, in which ``{src}`` is the mutated file and
``{out}`` the shared library to produce (each mutant its own path, so no cache confuses
two builds).  The sample is the first ``-n`` mutants, in the seed's order, whose build
differs from the unmutated build; those passed over on the way are reported apart and
not scored: builds that failed or ran past ``--build-timeout``, and builds identical to
the unmutated one (``hakmem_verify.mutate.c_worker.identical_build``: the edit was in code the
build leaves out, such as an ``#ifdef`` block; such a mutant is *equivalent*).  Each
one sampled is hunted by the malloc contract tier (``hakmem_verify.explore.hunt`` on
``malloc:{out}:PREFIX``, or on an adapter file written next to {out} from ``--adapter``
with its ``lib`` replaced by {out}) for ``--budget`` seconds in a worker process,
``--workers`` at a time; with ``--stress``, a survivor of the hunt then runs every
workload of the C stress driver (``hakmem_verify.models.malloc.stress``) on 4 threads, briefly.

A mutant is *killed* when a check fails (its ID and the time to the first failure are
kept; ``HANG`` is a check, and a worker still running after its watchdog counts as
killed by ``timeout``), *survives* when the budget ends first.  Score: killed / (killed +
survived).  Before any mutant, the unmutated file is built and hunted briefly: it must
build and be clean, else nothing is mutated (exit 2).

Output: ``report.json`` and ``report.md`` in ``--out``.  Exit status: 0 done; 1 below
``--min-score``; 2 usage error (one line: what to do); 3 interrupted (Ctrl-C or SIGTERM:
the workers are stopped, the report covers the mutants that finished).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from .c_mutants import sample
from .c_report import markdown, summarize_c
from .report import below_min_score, score_text
from .report import write as write_report
from .c_worker import (STOP, STRESS_THREADS, Target, build_in, build_mutant,
                                  hunt_in_worker, hunt_mutant, interrupt, raise_interrupt)

PROG = "hakmem-fuzz mutate"
USAGE, LOW_SCORE, INTERRUPTED = 2, 1, 3
#: the unmutated library is hunted this long at most before any mutant
CLEAN_BUDGET = 10.0


# ============================================================================
# The campaign
# ============================================================================


def clean_run(t: Target, source: bytes, scratch: str, log) -> tuple:
    """Slow path: build and hunt the unmutated file; (the build's .so, None) when it is
    clean, (None, one line saying what to do) when it is not."""
    b = build_in(t, scratch, source, "unmutated")
    if not b["ok"]:
        by_hand = t.build.replace("{src}", shlex.quote(t.path)).replace(
            "{out}", shlex.quote(os.path.basename(b["out"])))
        return None, (f"the unmutated {t.path} does not build with --build ({b['message']}); "
                      f"run the command by hand to see why: {by_hand}")
    budget = min(t.budget, CLEAN_BUDGET)
    log.write(f"{PROG}: the unmutated {t.path} built in {b['seconds']:.1f} s; hunting it "
              f"for {budget:g} s (it must be clean)\n")
    log.flush()
    r = hunt_in_worker(b["spec"], budget, t.seed, t.stress, scratch)
    if r["status"] == "killed":
        return None, (f"the unmutated library already fails {r['inv_id']} "
                      f"({r['message'].splitlines()[0] if r.get('message') else ''}): fix the "
                      f"library or its adapter first; no mutant was run")
    if r["status"] != "survived":
        return None, (f"the unmutated library cannot be hunted ({r['message']}); check "
                      f"--prefix/--adapter against its symbols")
    return b["out"], None


def build_sample(t: Target, order: list, n: int, source: bytes, reference: str, pool,
                 workers: int, log) -> tuple:
    """Slow path of the sample: (built, apart).  ``built``: [(row, scratch, spec)] of the
    first ``n`` mutants in sample order whose build differs from the unmutated build;
    ``apart``: the rows of those passed over on the way (identical builds, builds that
    failed or hung).  Builds run ``workers`` at a time, but which mutants are chosen
    depends on the order only, never on timing."""
    built, apart, k, t0 = [], [], 0, time.monotonic()
    futures, said = [], t0

    def say():
        log.write(f"{PROG}: built {len(built) + len(apart)} mutants in "
                  f"{time.monotonic() - t0:.0f} s: {len(built)} to hunt, "
                  f"{sum(r['status'] == 'equivalent' for r in apart)} identical to the "
                  f"unmutated build, {sum(r['status'] != 'equivalent' for r in apart)} "
                  f"did not build (not scored)\n")
        log.flush()
    try:
        while len(built) < n and k < len(order) and not STOP.is_set():
            batch = order[k:k + max(n - len(built), workers)]
            k += len(batch)
            futures = [pool.submit(build_mutant, m, source, t, reference) for m in batch]
            for f in futures:
                row, scratch, spec = f.result()
                if len(built) == n:                 # past the sample: not part of it
                    if scratch:
                        shutil.rmtree(scratch, ignore_errors=True)
                elif scratch is None:
                    apart.append(row)
                else:
                    built.append((row, scratch, spec))
            futures = []
            if time.monotonic() - said >= 10:
                said = time.monotonic()
                say()
    except BaseException:
        interrupt()                                 # stop the builds still running
        for f in futures:                           # then remove what they left
            try:
                if f.result()[1]:
                    shutil.rmtree(f.result()[1], ignore_errors=True)
            except BaseException:
                pass
        for _, scratch, _ in built:
            shutil.rmtree(scratch, ignore_errors=True)
        raise
    say()
    return built, apart


def campaign(t: Target, order: list, n: int, source: bytes, reference: str, workers: int,
             log) -> tuple:
    """(rows of the mutants that finished, how many were hunted or meant to be,
    interrupted?); progress lines on ``log``."""
    rows, apart, built = [], [], []
    counts = {"killed": 0, "survived": 0}
    lock = threading.Lock()

    def one(row, scratch, spec):
        if STOP.is_set():
            shutil.rmtree(scratch, ignore_errors=True)
            return
        row = hunt_mutant(row, scratch, spec, t)
        if STOP.is_set():
            return                          # stopped half-way: not a verdict
        with lock:
            rows.append(row)
            if row["status"] in counts:
                counts[row["status"]] += 1
            what = (f"killed by {row['inv_id']} in {row.get('kill_time', 0):.1f} s"
                    if row["status"] == "killed" else row["status"])
            log.write(f"[{len(rows)}/{len(built)}] {what} ({counts['killed']} killed, "
                      f"{counts['survived']} survived so far): {row['diff']}\n")
            log.flush()

    pool = ThreadPoolExecutor(max_workers=workers)
    interrupted = False
    try:
        built, apart = build_sample(t, order, n, source, reference, pool, workers, log)
        for f in [pool.submit(one, *b) for b in built]:
            f.result()
    except KeyboardInterrupt:
        interrupted = True
        interrupt()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for _, scratch, _ in built:         # those never started
            shutil.rmtree(scratch, ignore_errors=True)
    return rows + apart, len(built), interrupted


# ============================================================================
# The command line
# ============================================================================


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line on stderr and exit status 2."""

    def error(self, message):
        self.exit(USAGE, f"{PROG}: {message}; run '{PROG} --help' for the options\n")


#: the options that say how each mutant is built and loaded: (flag, metavar, help)
BUILD_OPTIONS = (
    ("--build", "CMD", "shell command that builds {src} into the shared library {out}, e.g. "
                       "'gcc -O1 -shared -fPIC -pthread -o {out} {src}'"),
    ("--prefix", "PREFIX", "entry-point prefix: PREFIXmalloc, PREFIXfree, ... (as --impl "
                           "malloc:LIB:PREFIX)"),
    ("--adapter", "FILE", "adapter JSON file (hakmem_verify.models.malloc.spec); its \"lib\" is replaced by "
                          "each build"),
)


def parser() -> argparse.ArgumentParser:
    ap = _Parser(prog=PROG, description=__doc__.split("\n\n")[0],
                 epilog="example: hakmem-fuzz mutate --c-file exalloc.c --build 'gcc -O1 "
                        "-shared -fPIC -pthread -o {out} {src}' --adapter exalloc.json -n 20 "
                        "--budget 10.  Exit status: 0 done; 1 below --min-score; 2 usage error, "
                        "or the unmutated file does not build or is not clean; 3 interrupted "
                        "(the report covers the mutants that finished).")
    ap.add_argument("--c-file", required=True, metavar="FILE",
                    help="the C source of the allocator to mutate")
    for flag, metavar, text in BUILD_OPTIONS:
        ap.add_argument(flag, metavar=metavar, help=text)
    ap.add_argument("-n", "--n", type=int, default=100, help="mutants to sample (default 100)")
    ap.add_argument("--budget", type=float, default=30.0, help="seconds of hunting each")
    ap.add_argument("--seed", type=int, default=0, help="sample and hunt seed")
    ap.add_argument("--workers", type=int, default=2, help="mutants hunted at once")
    ap.add_argument("--stress", action="store_true",
                    help="a survivor of the hunt also runs every stress workload on "
                         f"{STRESS_THREADS} threads")
    ap.add_argument("--build-timeout", type=float, default=120.0, metavar="S",
                    help="a build running longer is stopped and reported apart")
    ap.add_argument("--out", default="mutate-report", help="report directory")
    ap.add_argument("--write-md", metavar="PATH", help="also write report.md to PATH")
    ap.add_argument("--min-score", type=float, help="exit 1 below this score (0..1)")
    return ap


def _target(args) -> Target:
    """The checked arguments; ValueError with one line on a usage error."""
    if args.build is None:
        raise ValueError("--c-file needs --build CMD, the command that compiles {src} into "
                         "{out}, e.g. --build 'gcc -O1 -shared -fPIC -pthread -o {out} {src}'")
    for ph in ("{src}", "{out}"):
        if ph not in args.build:
            raise ValueError(f"--build {args.build!r} has no {ph}: write {{src}} where the "
                             f"mutated file goes and {{out}} where the .so is written")
    if not os.path.isfile(args.c_file):
        raise ValueError(f"--c-file {args.c_file}: no such file")
    from hakmem_verify.contract.cli import first_unwritable
    problem = first_unwritable(dirs=[(args.out, "--out")], files=[(args.write_md, "--write-md")])
    if problem:
        raise ValueError(problem)
    if args.n < 1 or args.budget <= 0 or args.workers < 1 or args.build_timeout <= 0:
        raise ValueError(f"--n and --workers must be >= 1, --budget and --build-timeout > 0; "
                         f"got --n {args.n} --workers {args.workers} --budget {args.budget} "
                         f"--build-timeout {args.build_timeout}")
    if args.prefix is None and args.adapter is None:
        raise ValueError("name the entry points: --prefix PREFIX (e.g. --prefix ex_ for "
                         "ex_malloc, ex_free) or --adapter FILE")
    adapter = None
    if args.adapter is not None:
        if not os.path.isfile(args.adapter):
            raise ValueError(f"--adapter {args.adapter}: no such file")
        try:
            with open(args.adapter) as f:
                adapter = json.load(f)
        except (OSError, ValueError) as e:
            raise ValueError(f"--adapter {args.adapter}: cannot read it as JSON ({e})") from None
        if not isinstance(adapter, dict):
            raise ValueError(f"--adapter {args.adapter}: expected a JSON object with the keys "
                             f"of hakmem_verify.models.malloc.spec (lib, prefix, symbols, stats, ...)")
    if args.stress:
        try:
            from hakmem_verify.models.malloc import stress
            stress.program()
        except ImportError:
            raise ValueError("--stress needs the stress driver (hakmem_verify.models.malloc.stress), "
                             "which this installation lacks; drop --stress") from None
        except RuntimeError as e:
            raise ValueError(f"--stress: {e}") from None
    return Target(args.c_file, os.path.abspath(args.c_file), args.build, args.prefix,
                  adapter, args.budget, args.seed, args.stress, args.build_timeout)


def main(argv) -> int:
    if "-h" in argv or "--help" in argv:
        parser().print_help()
        return 0
    if "--files" in argv:
        sys.stderr.write(f"{PROG}: --files mutates Python files and --c-file a C file: give "
                         f"one of them\n")
        return USAGE
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else USAGE
    try:
        t = _target(args)
    except ValueError as e:
        sys.stderr.write(f"{PROG}: {e}\n")
        return USAGE
    with open(t.abspath, "rb") as f:
        source = f.read()
    log = sys.stderr
    signal.signal(signal.SIGTERM, raise_interrupt)
    STOP.clear()
    ref_dir = tempfile.mkdtemp(prefix="hakmem-cmutant-ref-")
    t0 = time.monotonic()
    try:
        try:
            reference, problem = clean_run(t, source, ref_dir, log)
        except KeyboardInterrupt:
            interrupt()
            log.write(f"{PROG}: interrupted while checking the unmutated library; no "
                      f"mutant was run\n")
            return INTERRUPTED
        if problem:
            log.write(f"{PROG}: {problem}\n")
            return USAGE
        order, candidates = sample(t.path, source, None, args.seed)
        log.write(f"{PROG}: sampling {min(args.n, candidates)} of {candidates} mutants of "
                  f"{t.path} (seed {args.seed}) whose build differs from the unmutated "
                  f"build; {args.budget:g} s of hunting each"
                  f"{' plus the stress workloads' if t.stress else ''}, {args.workers} "
                  f"workers\n")
        rows, hunted, interrupted = campaign(t, order, args.n, source, reference,
                                             args.workers, log)
    finally:
        shutil.rmtree(ref_dir, ignore_errors=True)
    command = " ".join([PROG, "--c-file", shlex.quote(t.path), "--build", shlex.quote(t.build)]
                       + (["--prefix", shlex.quote(t.prefix)] if t.prefix is not None else [])
                       + (["--adapter", shlex.quote(args.adapter)] if args.adapter else [])
                       + [f"-n {args.n} --budget {args.budget:g} --seed {args.seed}"]
                       + (["--stress"] if t.stress else []))
    rep = summarize_c(rows, dict(
        command=command, c_file=t.path, build=t.build, prefix=t.prefix,
        adapter=args.adapter, n=args.n, budget=args.budget, seed=args.seed,
        workers=args.workers, stress=t.stress, candidates=candidates,
        sampled=hunted, seconds=round(time.monotonic() - t0),
        interrupted=interrupted))
    write_report(args.out, rep, markdown(rep), args.write_md)
    print(f"{PROG}: score {score_text(rep)} ({rep['killed']} killed, {rep['survived']} survived, "
          f"{rep['equivalent']} identical builds, {rep['did_not_build']} did not build, "
          f"{rep['errors']} not run); report in {args.out}/report.md")
    if interrupted:
        print(f"{PROG}: interrupted: {rep['hunted']} of {hunted} hunts finished; the report "
              f"covers them")
        return INTERRUPTED
    if below_min_score(PROG, rep, args.min_score, args.out):
        return LOW_SCORE
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
