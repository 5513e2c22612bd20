"""``hakmem-fuzz compare``: C allocators side by side on the stress workloads.

Each workload x thread count x allocator runs --runs times (at least 3) in the C
stress driver (hakmem_verify.models.malloc.stress: real pthreads, every block tagged and checked),
so every timing comes with a correctness verdict on the same run.  The report gives ns
per op, ops per second and peak RSS as min / median / max of the clean runs, the verdict
(clean, or the check that failed), the seed design's ns/op claim beside the measured
numbers, and one bar plot per metric.  Runs of one (workload, threads, run) are issued
for every allocator in turn with the same seed, so load drift hits them all alike.

Exit status: 0 every run clean; 1 a finding (a run failed a check: tags, crash, hang);
2 usage error (bad --impl, --threads, --runs, unwritable --report): nothing was run;
3 interrupted (Ctrl-C, SIGTERM) or a run could not be made; the report covers what ran.
"""
from __future__ import annotations

import os
import platform
import sys
import time

from hakmem_verify.report.compare import CLAIM, _f, _mib, _mops, write

EXIT_CLEAN, EXIT_FINDING, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 3
#: the system allocators compared by default (each only if installed)
SYSTEM_LIBS = ("malloc:system", "malloc:libmimalloc.so.2", "malloc:libjemalloc.so.2",
               "malloc:libtcmalloc_minimal.so.4")
SHORT = {"native": "malloc:native", "system": "malloc:system",
         "mimalloc": "malloc:libmimalloc.so.2", "jemalloc": "malloc:libjemalloc.so.2",
         "tcmalloc": "malloc:libtcmalloc_minimal.so.4"}
DEFAULTS = dict(threads="1,2,4", runs=3, ops=2_000_000, max_size=1024, seed=1, timeout=60.0,
                report="compare-report")


class UsageError(Exception):
    """A bad flag or environment found before anything ran (exit 2, the message one line)."""


# ============================================================================
# Command line
# ============================================================================


def register(sub) -> None:
    c = sub.add_parser("compare", help="C allocators side by side on the stress workloads, "
                       "each run checked (ns/op, ops/s, peak RSS, verdict)",
                       description=__doc__.split("\n\n")[1].replace("\n", " "),
                       epilog=__doc__.split("\n\n")[2].replace("\n", " "))
    c.add_argument("--impl", action="append", metavar="native|malloc:LIB[:PREFIX]",
                   help="an allocator, repeatable: native (the C pool, malloc:native), "
                        "system, mimalloc, jemalloc, tcmalloc, or any malloc:LIB[:PREFIX] "
                        "(default: native and every installed one of malloc:system, "
                        "libmimalloc.so.2, libjemalloc.so.2, libtcmalloc_minimal.so.4)")
    c.add_argument("--workload", action="append", metavar="W",
                   help="a stress workload, repeatable (default: all of them)")
    c.add_argument("--threads", default=DEFAULTS["threads"], metavar="N,N,...",
                   help="thread counts (default: %(default)s)")
    c.add_argument("--runs", type=int, default=DEFAULTS["runs"],
                   help="runs per cell, at least 3 (default: %(default)s)")
    c.add_argument("--ops", type=int, default=DEFAULTS["ops"],
                   help="alloc + free calls per run (default: %(default)s)")
    c.add_argument("--max-size", type=int, default=DEFAULTS["max_size"], dest="max_size",
                   help="largest request in bytes (default: %(default)s, the tiny pool's "
                        "largest class)")
    c.add_argument("--seed", type=int, default=DEFAULTS["seed"],
                   help="run k of a cell uses seed S + k (default: %(default)s)")
    c.add_argument("--timeout", type=float, default=DEFAULTS["timeout"], metavar="S",
                   help="seconds per run before it is a HANG (default: %(default)s)")
    c.add_argument("--report", default=DEFAULTS["report"], metavar="DIR",
                   help="report directory: report.md, report.html, report.json, PNGs "
                        "(default: %(default)s)")
    c.set_defaults(handler=main)


def parse_threads(text: str) -> list:
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        out = []
    if not out or min(out) < 1:
        raise UsageError(f"--threads {text!r}: expected positive integers separated by "
                         f"commas, e.g. 1,2,4")
    return sorted(set(out))


def check_writable(path: str) -> None:
    """UsageError if the directory ``path`` can be neither written nor created."""
    from hakmem_verify.contract.cli import unwritable_dir
    problem = unwritable_dir(path, "--report")
    if problem:
        raise UsageError(problem)


def resolve_impls(names) -> tuple:
    """(specs, missing): the resolved allocators; with no names, native and the installed
    system libraries (missing: [(spec text, one-line reason)])."""
    from hakmem_verify.models.malloc.spec import MallocSpecError, resolve
    texts = [SHORT.get(n, n) for n in names] if names else ["malloc:native", *SYSTEM_LIBS]
    specs, missing, seen = [], [], set()
    for text in dict.fromkeys(texts):
        if not text.startswith("malloc:"):
            raise UsageError(f"--impl {text!r}: expected native, system, mimalloc, jemalloc, "
                             f"tcmalloc or malloc:LIB[:PREFIX]")
        try:
            spec = resolve(text)
        except MallocSpecError as e:
            if names or text == "malloc:native":
                raise UsageError(str(e)) from None
            missing.append((text, str(e)))
            continue
        if spec.name in seen:
            raise UsageError(f"--impl {text!r}: two allocators named {spec.name!r}; give "
                             f"each library once")
        seen.add(spec.name)
        specs.append(spec)
    return specs, missing


def main(args) -> int:
    try:
        if args.runs < 3:
            raise UsageError(f"--runs {args.runs}: at least 3 runs per cell (min, median and "
                             f"max need three)")
        if args.ops < 1 or args.max_size < 1 or not args.timeout > 0:
            raise UsageError("--ops, --max-size and --timeout must be > 0")
        threads = parse_threads(args.threads)
        try:
            from hakmem_verify.models.malloc import stress
        except ImportError as e:
            raise UsageError(f"the stress driver hakmem_verify.models.malloc.stress is not available in "
                             f"this installation ({e})") from None
        workloads = list(dict.fromkeys(args.workload or stress.WORKLOADS))
        bad = [w for w in workloads if w not in stress.WORKLOADS]
        if bad:
            raise UsageError(f"--workload {bad[0]!r}: unknown; the workloads are "
                             f"{', '.join(stress.WORKLOADS)}")
        check_writable(args.report)
        specs, missing = resolve_impls(args.impl)
        try:
            stress.program()
        except stress.StressUnavailable as e:
            raise UsageError(str(e)) from None
        plan, skipped = make_plan(stress, specs, workloads, threads, args)
        if not plan:
            raise UsageError(f"nothing to run: {skipped[0]['reason']}")
    except UsageError as e:
        print(f"hakmem-fuzz compare: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    for text, why in missing:
        print(f"compare: skipped {text}: {why}", file=sys.stderr)
    for x in skipped:
        print(f"compare: skipped {x['workload']} at {x['threads']} thread(s): {x['reason']}",
              file=sys.stderr)
    report = dict(command=command_line(args, threads, workloads),
                  parameters=dict(workloads=workloads, threads=threads, runs=args.runs,
                                  ops=args.ops, max_size=args.max_size, seed=args.seed,
                                  timeout=args.timeout),
                  impls=[dict(name=s.name, spec=s.text, path=s.path) for s in specs],
                  missing=[dict(spec=t, reason=w) for t, w in missing], skipped=skipped,
                  machine=machine(), claim=CLAIM, runs=[], status="running")
    status = run_all(stress, plan, args, report)
    report["machine"]["load_after"] = _load()
    files = write(args.report, report)
    print_summary(report, files)
    return status


def command_line(args, threads, workloads) -> str:
    """The command that repeats this comparison (every parameter spelled out)."""
    parts = ["hakmem-fuzz compare"] + [f"--impl {i}" for i in args.impl or []]
    parts += [f"--workload {w}" for w in args.workload or []]
    parts += [f"--threads {','.join(map(str, threads))}", f"--runs {args.runs}",
              f"--ops {args.ops}", f"--max-size {args.max_size}", f"--seed {args.seed}",
              f"--report {args.report}"]
    return " ".join(parts)


# ============================================================================
# Running
# ============================================================================


def make_plan(stress, specs, workloads, threads, args) -> tuple:
    """(plan, skipped): the runs in the order (workload, threads, run, allocator), and the
    (workload, threads) pairs the driver cannot run (xmalloc-test needs 2 threads)."""
    plan, skipped = [], []
    for w in workloads:
        for t in threads:
            why = stress.check_parameters(w, t, args.ops, args.max_size)
            if why:
                skipped.append(dict(workload=w, threads=t, reason=why))
                continue
            plan += [(w, t, k, s) for k in range(args.runs) for s in specs]
    return plan, skipped


def run_all(stress, plan, args, report) -> int:
    """Every run of the plan; the exit status."""
    from hakmem_verify.contract.cli import sigterm_as_interrupt
    interrupted = False
    try:
        with sigterm_as_interrupt():
            for i, (w, t, k, spec) in enumerate(plan, 1):
                seed = args.seed + k
                print(f"compare [{i}/{len(plan)}] {w}, {t} thread{'s' * (t > 1)}, run "
                      f"{k + 1}/{args.runs}: {spec.name} ...", file=sys.stderr, flush=True)
                r = stress.run(spec, w, t, args.ops, seed=seed, max_size=args.max_size,
                               timeout=args.timeout)
                row = dict(workload=w, threads=t, run=k, seed=seed, impl=spec.name,
                           status=r.status, check=r.check or "", message=r.message or "",
                           ops=r.ops, seconds=r.seconds, ns_per_op=r.ns_per_op,
                           ops_per_s=r.ops / r.seconds if r.seconds else None,
                           peak_rss_kb=r.peak_rss_kb, signal=r.signal)
                report["runs"].append(row)
                if row["status"] == 1:
                    print(f"\n*** FINDING: {_run_line(row)}\n", file=sys.stderr, flush=True)
                else:
                    print("  " + _run_line(row), file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        interrupted = True
        print(f"compare: interrupted after {len(report['runs'])} of {len(plan)} runs; "
              f"writing the report of what ran", file=sys.stderr)
    report["planned"] = len(plan)
    findings = [r for r in report["runs"] if r["status"] == 1]
    unusable = [r for r in report["runs"] if r["status"] not in (0, 1)]
    report["status"] = ("finding" if findings else "interrupted" if interrupted else
                        "incomplete" if unusable else "clean")
    if findings:
        return EXIT_FINDING
    return EXIT_INTERRUPTED if interrupted or unusable else EXIT_CLEAN


def _run_line(r: dict) -> str:
    if r["status"] == 1:                 # the message starts with the check's name
        plural = "s" * (r["threads"] > 1)
        return (f"{r['impl']}, {r['workload']}, {r['threads']} thread{plural}, seed "
                f"{r['seed']}: {r['message'] or '[' + (r['check'] or '?') + ']'}")
    if r["status"]:
        return f"UNUSABLE {r['impl']}: {r['message']}"
    return (f"{r['impl']}: {_f(r['ns_per_op'])} ns/op, {_f(_mops(r['ops_per_s']), 2)} M ops/s, "
            f"peak {_f(_mib(r['peak_rss_kb']))} MiB")


def _load():
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def machine() -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f
                          if ln.startswith("model name")), "")
    except OSError:
        pass
    return dict(cpus=os.cpu_count(), cpu=model, platform=platform.platform(),
                libc=" ".join(platform.libc_ver()), load_before=_load(),
                started=time.strftime("%Y-%m-%d %H:%M:%S"))


# ============================================================================
# Summaries
# ============================================================================


def print_summary(report: dict, files) -> None:
    out = sys.stdout
    print(f"compare: {report['status']}: {len(report['runs'])} of {report['planned']} runs",
          file=out)
    for c in report["cells"]:
        lo, med, hi = c["ns_per_op"]
        print(f"  {c['workload']:<14} {c['threads']:>2} thr  {c['impl']:<10} "
              f"{_f(med):>9} ns/op ({_f(lo)}..{_f(hi)})  {c['verdict']}", file=out)
    findings = [r for r in report["runs"] if r["status"] == 1]
    if findings:
        print(f"\n*** {len(findings)} FINDING(S): a run failed a check of the stress driver",
              file=sys.stderr)
        for r in findings:
            print(f"*** {_run_line(r)}", file=sys.stderr)
    print("report: " + ", ".join(files), file=out)
