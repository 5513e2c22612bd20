"""The command line of ``hakmem-fuzz explore`` (what it measures: ``hakmem_verify.workloads.design_space``; the
report: ``hakmem_verify.report.explore``)."""
from __future__ import annotations

import os
import sys

from hakmem_verify.workloads.design_space import __doc__ as explore_doc
from hakmem_verify.workloads.design_space import explore, parse_knobs, settings

PROG = "hakmem-fuzz explore"


def main(args) -> int:
    """Run ``hakmem-fuzz explore``; the exit status."""
    from hakmem_verify.contract.cli import interrupted, unwritable_dir, usage_error
    try:
        problem = unwritable_dir(args.report, "--report")
        if problem:
            raise ValueError(problem)
        sweep = parse_knobs(args.knob) if args.knob else None
        sources = _sources(args)
    except (ValueError, OSError) as e:
        return usage_error(PROG, str(e))
    def log(line):
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    runs = []
    try:
        explore(sources, sweep, args.samples, log=log, runs=runs)
    except KeyboardInterrupt:
        _write_report(args, sources, sweep, runs)
        total = len(sources) * len(settings(sweep))
        return interrupted(PROG, f"{len(runs)} of {total} runs finished; the report in "
                                 f"{args.report}/ covers them; run again for the rest")
    _write_report(args, sources, sweep, runs)
    return 0


def _sources(args) -> list:
    """[(name, ops)] of the workloads and traces the args name; ValueError if unusable."""
    from hakmem_verify.workloads.trace_import import load_trace, require_allocs, spread
    from hakmem_verify.workloads.seeded import generate
    if not 0.0 <= args.remote <= 1.0:
        raise ValueError(f"--remote is a share of frees in [0, 1], got {args.remote}")
    sources = []
    for name in args.workload or (["larson", "sh6bench"] if not args.trace else []):
        w = generate(name, args.scale, args.seed, args.threads or 4)
        ops = spread(w.ops, None, args.remote, args.seed) if args.remote else w.ops
        sources.append((name, ops))
    for path in args.trace or ():
        t = require_allocs(load_trace(path, skip_bad=True))
        ops = spread(t.ops, args.threads, args.remote, args.seed) \
            if (args.threads or args.remote) else t.ops
        sources.append((os.path.basename(path), ops))
    return sources


def _write_report(args, sources, sweep, runs) -> None:
    from hakmem_verify.report.explore import claims, write
    report = dict(parameters=dict(workloads=[n for n, _ in sources], scale=args.scale,
                                  seed=args.seed, threads=args.threads, remote=args.remote,
                                  samples=args.samples,
                                  settings=[label for label, _ in settings(sweep)]),
                  runs=runs, claims=claims(runs))
    files = write(args.report, report)
    print(f"explore: wrote {len(files)} files to {args.report}/: "
          + ", ".join(os.path.basename(f) for f in files))
    if report["plot_note"]:
        print(f"explore: plots {report['plot_note']}")
    for c in report["claims"]:
        print(f"explore: {c['workload']}: {c['claim']}: {c['measured']} -> {c['verdict']}")


def register(subparsers) -> None:
    """Add the ``explore`` subcommand to hakmem-fuzz's subparsers."""
    from .replay import KNOBS, add_common
    p = subparsers.add_parser(
        "explore", help="the design-space report: path mix, stranded blocks, memory, stats "
        "error per workload and knob setting",
        description=explore_doc.split("\n\n")[2].replace("\n", " "),
        epilog="Exit status: 0 report written; 2 usage error, unwritable --report or a trace "
               "with no allocation; 3 interrupted (the report covers the finished runs).")
    repeatable = (   # (flag, metavar, help) of the options given once per value
        ("--workload", "NAME", "a standard workload, repeatable (default: larson and "
         "sh6bench); NAME:PRESET picks a preset of its parameters: larson:tiny, "
         "larson:default (= larson), larson:churn (hakmem_verify.workloads.standard.LARSON_PRESETS)"),
        ("--trace", "FILE", "a valgrind --trace-malloc=yes log, repeatable (bad lines "
         "skipped)"),
        ("--knob", "KNOB=V1,V2", "replace the default sweep: each value of each knob alone "
         f"against the seed Config; knobs: {', '.join(KNOBS)}"))
    for flag, metavar, text in repeatable:
        p.add_argument(flag, action="append", metavar=metavar, help=text)
    add_common(p)
    p.set_defaults(scale=2)
    from hakmem_verify.contract.cli import at_least
    p.add_argument("--samples", type=at_least(2, "--samples"), default=100, metavar="K",
                   help="snapshots per run for the over-time plots (default: %(default)s)")
    p.add_argument("--report", default="explore-report", metavar="DIR",
                   help="report directory (default: %(default)s)")
    p.set_defaults(handler=main)
