"""hakmem-fuzz mutate: hunt a deterministic sample of source mutants, score the harness.

    hakmem-fuzz mutate --files 'hakmem_fast/*.py' [--n 100] [--budget 30] [--seed 0]
                       [--workers 2] [--out mutate-report] [--root .] [--write-md PATH]
                       [--oracle MODULE:CLASS] [--impl MODULE:FACTORY] [--min-score 0.9]
                       [--equivalent PATH|none]

Each mutant (``fuzz.mutate``) is written into its own scratch copy of the tree's
Python packages (the checkout is never written) and hunted there by the lockstep
machine (``fuzz.hunt``) in a separate process for ``--budget`` seconds, ``--workers``
at a time.  A mutant is *killed* when the machine fails (the invariant ID and the
time to the first failure are kept), *survives* when the budget ends first, and a
run that exceeds four budgets plus a minute counts as killed by ``timeout`` (a hang).
Mutants whose files fail to import, or whose allocator cannot be constructed, are
reported apart and not scored.

Output: ``report.json`` and ``report.md`` in ``--out``: the score (killed / scored),
each mutant's kill time and check, and the survivors with one-line diffs.
Functions that no code reachable from the API even names are not sampled, and
survivors on the committed list of equivalent mutants (``--equivalent``, default
``fuzz/mutate_equivalent.txt``) are not scored (``fuzz.mutate_reach``); the report
lists both.  Exit status: 0 done; 1 below ``--min-score``; 2 usage error (no file
matched, a file that does not parse, bad numbers, a malformed list); 130 interrupted
(Ctrl-C or SIGTERM: the workers are killed and their scratch copies removed).
"""
from __future__ import annotations

import argparse
import glob
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from fuzz.mutate import OPERATORS, Mutant, sample
from fuzz.mutate_reach import (EQUIVALENT_FILE, diff_key, in_unreachable, load_equivalent,
                               unreachable)

TAG = "MUTATE-RESULT "
USAGE, LOW_SCORE, INTERRUPTED = 2, 1, 130
LIVE = set()                    # running worker processes
STOP = threading.Event()        # set on Ctrl-C / SIGTERM
_SKIP = {"tests", "build", "dist", "docs", "bench", "node_modules"}


# ============================================================================
# One mutant, in its own scratch tree and process
# ============================================================================


def packages(root: str) -> list:
    """The top-level Python packages of a tree (directories with an ``__init__.py``)."""
    return sorted(d for d in os.listdir(root) if not d.startswith(".") and d not in _SKIP
                  and os.path.isfile(os.path.join(root, d, "__init__.py")))


def module_of(path: str) -> str:
    mod = os.path.splitext(path)[0].replace(os.sep, ".")
    return mod[:-len(".__init__")] if mod.endswith(".__init__") else mod


def run_one(m: Mutant, source: bytes, root: str, budget: float, seed: int,
            oracle: str = "", impl: str = "") -> dict:
    """Hunt one mutant in a scratch copy of ``root``'s packages; its result as a dict."""
    scratch = tempfile.mkdtemp(prefix="hakmem-mutant-")
    try:
        top = m.path.split(os.sep)[0]
        for pkg in sorted(set(packages(root)) | ({top} if top != m.path else set())):
            shutil.copytree(os.path.join(root, pkg), os.path.join(scratch, pkg),
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        target = os.path.join(scratch, m.path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(m.apply(source))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [scratch, root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]),
            PYTHONDONTWRITEBYTECODE="1")
        cmd = [sys.executable, "-B", "-m", "fuzz.mutate_run", "--worker", module_of(m.path),
               str(budget), str(seed), scratch, oracle, impl]
        t0 = time.monotonic()
        if STOP.is_set():
            return dict(status="interrupted", message="not run: the campaign was interrupted")
        p = subprocess.Popen(cmd, cwd=scratch, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        LIVE.add(p)
        try:
            out, err = p.communicate(timeout=4 * budget + 60)
        except subprocess.TimeoutExpired:
            _kill(p)
            return dict(status="killed", inv_id="timeout", kill_time=time.monotonic() - t0,
                        message=f"no result after {4 * budget + 60:.0f} s (a hang)")
        finally:
            LIVE.discard(p)
        if STOP.is_set():
            return dict(status="interrupted", message="stopped: the campaign was interrupted")
        for line in out.splitlines():
            if line.startswith(TAG):
                return json.loads(line[len(TAG):])
        tail = (err.strip().splitlines() or ["(no output)"])[-1]
        return dict(status="start", message=f"the worker exited {p.returncode}: {tail}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _kill(p) -> None:
    """Kill a worker and everything it started (its own session)."""
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    p.wait()


def interrupt() -> None:
    """Stop the campaign: no new mutant starts, every running worker is killed (each
    one's scratch copy is removed by its own ``run_one``)."""
    STOP.set()
    for p in list(LIVE):
        _kill(p)


def worker(module: str, budget: float, seed: int, scratch: str, oracle: str = "",
           impl: str = "") -> int:
    """In the scratch process: import, construct, hunt (with ``oracle``, ``module:Class``,
    as the machines' oracle, and ``impl``, ``module:factory``, as the implementation, if
    given); print one tagged JSON line."""
    def out(**kw):
        print(TAG + json.dumps(kw), flush=True)
        return 0
    try:
        mod = importlib.import_module(module)
        from fuzz.hunt import hunt
        from fuzz.impl import load_impl
    except BaseException as e:   # noqa: BLE001  (a mutant may break anything at import)
        return out(status="import", message=f"{type(e).__name__}: {e}")
    where = os.path.realpath(getattr(mod, "__file__", "") or "")
    if not where.startswith(os.path.realpath(scratch)):
        return out(status="start", message=f"{module} was imported from {where}, not the "
                                           f"scratch copy: the mutant was not applied")
    try:
        load_impl(impl or None)     # imports the factory and builds it on the probe Configs
    except BaseException as e:   # noqa: BLE001
        return out(status="start", message=f"the implementation {impl or 'hakmem_fast'} "
                                           f"cannot start: {type(e).__name__}: {e}")
    if oracle:
        from specs import machines
        mod_name, _, cls = oracle.partition(":")
        machines.Oracle = getattr(importlib.import_module(mod_name), cls)
    r = hunt(budget=budget, seed=seed, impl=impl or None)
    if r.killed:
        return out(status="killed", inv_id=r.inv_id, kill_time=round(r.time_to_fail, 2),
                   examples=r.examples, message=r.message[:300])
    return out(status="survived", examples=r.examples, steps=r.steps)


# ============================================================================
# The campaign and its report
# ============================================================================


def run(files: list, n: int, budget: float, seed: int, workers: int, root: str,
        oracle: str = "", impl: str = "", equivalent: str = "", log=sys.stderr) -> dict:
    sources = {}
    for path in files:
        with open(os.path.join(root, path), "rb") as f:
            sources[path] = f.read()
    dead = unreachable(sources)
    picked, candidates = sample(sources, n, seed, skip=lambda m: in_unreachable(m, dead))
    equiv = load_equivalent(equivalent) if equivalent else {}
    log.write(f"hakmem-fuzz mutate: {len(picked)} of {candidates} mutants of {len(files)} "
              f"files (seed {seed}), {budget:g} s each, {workers} workers; {len(dead)} "
              f"functions unreachable from the API left out; {len(equiv)} mutants listed "
              f"as equivalent{' in ' + equivalent if equivalent else ''}\n")
    rows = [None] * len(picked)
    done = [0]

    def one(i):
        m = picked[i]
        res = run_one(m, sources[m.path], root, budget, seed, oracle, impl)
        rows[i] = tag_equivalent(dict(m.as_dict(), diff=m.diff(sources[m.path]), **res), equiv)
        done[0] += 1
        what = (f"killed by {res['inv_id']} in {res.get('kill_time', 0):.1f} s"
                if res["status"] == "killed" else rows[i]["status"])
        log.write(f"[{done[0]}/{len(picked)}] {what}: {rows[i]['diff']}\n")
        log.flush()

    t0 = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        for f in [pool.submit(one, i) for i in range(len(picked))]:
            f.result()
    except KeyboardInterrupt:
        interrupt()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return summarize([r for r in rows if r is not None],
                     dict(files=files, n=n, budget=budget, seed=seed, workers=workers,
                          oracle=oracle or "specs.lockstep:Oracle",
                          impl=impl or "hakmem_fast:FastAllocator", equivalent_list=equivalent,
                          candidates=candidates, seconds=round(time.monotonic() - t0),
                          unreachable=[f"{f.path}:{f.first}-{f.last} {f.qualname}"
                                       for f in dead]))


def tag_equivalent(row: dict, equiv: dict) -> dict:
    """A survivor on the list becomes ``equivalent`` (with its reason); a listed mutant
    that was killed keeps ``killed`` and the reason, so the report names the wrong claim."""
    reason = equiv.get(diff_key(row["diff"]))
    if reason is not None:
        row["equivalent_reason"] = reason
        if row["status"] == "survived":
            row["status"] = "equivalent"
    return row


def summarize(rows: list, params: dict) -> dict:
    st = Counter(r["status"] for r in rows)
    scored = st["killed"] + st["survived"]
    return dict(params, score=(st["killed"] / scored) if scored else None, killed=st["killed"],
                survived=st["survived"], equivalent=st["equivalent"],
                import_errors=st["import"], start_crashes=st["start"],
                wrong_equivalence=[r["diff"] for r in rows if r["status"] == "killed"
                                   and "equivalent_reason" in r],
                by_check=dict(Counter(r["inv_id"] for r in rows if r["status"] == "killed")
                              .most_common()),
                by_operator={op: dict(Counter(r["status"] for r in rows
                                              if r["operator"] == op)) for op in OPERATORS},
                mutants=rows)


def markdown(rep: dict, command: str) -> str:
    pct = "n/a" if rep["score"] is None else f"{100 * rep['score']:.1f}%"
    total = rep["killed"] + rep["survived"] + rep["equivalent"]
    raw = f"{100 * rep['killed'] / total:.1f}%" if total else "n/a"
    out = [f"# Mutation score: {pct}", "",
           f"`{command}`", "",
           f"{rep['killed']} killed, {rep['survived']} survived of "
           f"{rep['killed'] + rep['survived']} scored mutants (sampled from "
           f"{rep['candidates']} candidates, seed {rep['seed']}, {rep['budget']:g} s each, "
           f"{rep['seconds']} s in all); {rep['equivalent']} survivors are on the list of "
           f"equivalent mutants (not scored; counted as survivors the score would be {raw}); "
           f"{rep['import_errors']} failed to import and {rep['start_crashes']} crashed at "
           f"start (not scored).", ""]
    if rep["n"] < 100 or rep["budget"] < 30:
        out += [f"A small sample ({rep['n']} mutants, {rep['budget']:g} s each): the score's "
                f"error is wide; the score to quote is a nightly run with --n 100 --budget 30.",
                ""]
    out += ["## Killed by", "", "| check | mutants |", "|---|---:|"]
    out += [f"| {k} | {v} |" for k, v in rep["by_check"].items()]
    out += ["", "## Survivors", ""]
    out += [f"- `{r['diff']}` ({r['operator']})" for r in rep["mutants"]
            if r["status"] == "survived"] or ["(none)"]
    out += ["", f"## Equivalent (on the list `{rep.get('equivalent_list') or '-'}`, not scored)",
            ""]
    out += [f"- `{r['diff']}`: {r['equivalent_reason']}" for r in rep["mutants"]
            if r["status"] == "equivalent"] or ["(none)"]
    if rep["wrong_equivalence"]:
        out += ["", "## Listed as equivalent, but killed (the list is wrong: remove them)", ""]
        out += [f"- `{d}`" for d in rep["wrong_equivalence"]]
    out += ["", "## Not scored (import error or crash at start)", ""]
    out += [f"- `{r['diff']}`: {r['message']}" for r in rep["mutants"]
            if r["status"] in ("import", "start")] or ["(none)"]
    out += ["", "## Unreachable from the API (not sampled)", "",
            "Functions no code reachable from the methods of `specs.api.Allocator` and "
            "`specs.api.Hooks` names (fuzz/mutate_reach.py):", ""]
    out += [f"- `{u}`" for u in rep.get("unreachable", [])] or ["(none)"]
    out += ["", "## Every mutant", "", "| mutant | operator | result | kill time (s) |",
            "|---|---|---|---:|"]
    for r in rep["mutants"]:
        res = r["inv_id"] if r["status"] == "killed" else r["status"]
        kt = f"{r['kill_time']:.1f}" if r["status"] == "killed" else ""
        diff = r["diff"].replace("|", "\\|")
        out.append(f"| `{diff}` | {r['operator']} | {res} | {kt} |")
    return "\n".join(out) + "\n"


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv) -> int:
    if argv and argv[0] == "--worker":
        return worker(argv[1], float(argv[2]), int(argv[3]), argv[4], argv[5], argv[6])
    ap = argparse.ArgumentParser(prog="hakmem-fuzz mutate",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", nargs="+", required=True,
                    help="source files or globs, relative to --root (e.g. 'hakmem_fast/*.py')")
    ap.add_argument("--n", type=int, default=100, help="mutants to sample (default 100)")
    ap.add_argument("--budget", type=float, default=30.0, help="seconds of hunting each")
    ap.add_argument("--seed", type=int, default=0, help="sample and hunt seed")
    ap.add_argument("--workers", type=int, default=2, help="mutants hunted at once")
    ap.add_argument("--root", default=".", help="the tree whose packages are copied")
    ap.add_argument("--out", default="mutate-report", help="report directory")
    ap.add_argument("--write-md", metavar="PATH", help="also write report.md to PATH")
    ap.add_argument("--oracle", default="", metavar="MODULE:CLASS",
                    help="the machines' oracle (a subclass of specs.lockstep.Oracle; "
                         "importable from the scratch tree or --root)")
    ap.add_argument("--impl", default="", metavar="MODULE:FACTORY",
                    help="the implementation hunted (as hakmem-fuzz run --impl; default "
                         "hakmem_fast): mutate its files with --files")
    ap.add_argument("--equivalent", metavar="PATH",
                    help=f"the list of equivalent mutants (default {EQUIVALENT_FILE} under "
                         f"--root, if it exists); 'none' for no list")
    ap.add_argument("--min-score", type=float, help="exit 1 below this score (0..1)")
    try:
        args = ap.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else USAGE

    def usage(msg):
        sys.stderr.write(f"hakmem-fuzz mutate: {msg}\n")
        return USAGE
    if args.n < 1 or args.budget <= 0 or args.workers < 1:
        return usage(f"--n and --workers must be >= 1 and --budget > 0, got --n {args.n} "
                     f"--workers {args.workers} --budget {args.budget}")
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
        from fuzz.impl import ImplError, load_impl
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
                     f"relative to --root, e.g. --files 'hakmem_fast/*.py'")
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
    try:
        rep = run(files, args.n, args.budget, args.seed, args.workers, root, args.oracle,
                  args.impl, equivalent)
    except SyntaxError as e:
        return usage(f"{e.filename} does not parse ({e}); fix it or leave it out of --files")
    except KeyboardInterrupt:
        sys.stderr.write("hakmem-fuzz mutate: interrupted; every worker was stopped and its "
                         "scratch copy removed; no report written (run again to score)\n")
        return INTERRUPTED
    command = "hakmem-fuzz mutate " + " ".join(
        ["--files"] + [f"'{p}'" for p in args.files]
        + [f"--n {args.n} --budget {args.budget:g} --seed {args.seed}"]
        + ([f"--oracle {args.oracle}"] if args.oracle else [])
        + ([f"--impl {args.impl}"] if args.impl else [])
        + ([f"--equivalent {args.equivalent}"] if args.equivalent else []))
    rep["command"] = command
    os.makedirs(args.out, exist_ok=True)
    md = markdown(rep, command)
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(rep, f, indent=1)
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write(md)
    if args.write_md:
        with open(args.write_md, "w") as f:
            f.write(md)
    pct = "n/a" if rep["score"] is None else f"{100 * rep['score']:.1f}%"
    print(f"hakmem-fuzz mutate: score {pct} ({rep['killed']} killed, {rep['survived']} "
          f"survived, {rep['equivalent']} equivalent, "
          f"{rep['import_errors'] + rep['start_crashes']} not scored); report in "
          f"{args.out}/report.md")
    if rep["wrong_equivalence"]:
        print(f"hakmem-fuzz mutate: {len(rep['wrong_equivalence'])} mutants listed as "
              f"equivalent were killed: remove them from {equivalent}")
    if args.min_score is not None and (rep["score"] or 0) < args.min_score:
        print(f"hakmem-fuzz mutate: score below --min-score {args.min_score}: read the "
              f"survivors in {args.out}/report.md and add a check that kills them")
        return LOW_SCORE
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
