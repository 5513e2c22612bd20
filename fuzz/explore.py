"""hakmem-fuzz explore: the design space, measured per workload and knob setting.

    hakmem-fuzz explore [--workload NAME]... [--trace FILE]... [--knob KNOB=V1,V2]...
                        [--scale S] [--threads N] [--remote P] [--samples K] --report DIR

Each workload (or recorded trace) is replayed on the fast model alone -- no
reference, no checks: this measures the design, ``replay`` checks it -- once
per knob setting (the seed Config, then one knob changed at a time).  Every op
is attributed through the design's path counters (``PATH_TABLE``): which stage
served each alloc, which route each free took.  The allocator is sampled
``--samples`` times for blocks stranded in caches and slabs in use, and the
reported statistics are compared with the exact ones after every op.  The
results go to ``DIR/report.json``, ``DIR/report.md``, ``DIR/report.html`` and
PNG plots (``fuzz.explore_report``; plots need the ``[report]`` extra).

Exit status: 0 report written; 2 usage error, an unwritable --report, or a trace
with no allocation; 3 interrupted (SIGINT, SIGTERM: the report covers the runs
that finished).
"""
from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections import Counter

from specs.api import Config
from specs.lockstep import Alloc, Free, Read, ThreadExit, Write

PROG = "hakmem-fuzz explore"

# ============================================================================
# The one table from the design's path counters to the report's categories.
# (kind, path counter name in hakmem_fast.allocator.PATHS, label)
# ============================================================================
PATH_TABLE = (
    ("stage", "tls_mag", "thread magazine"),
    ("stage", "mini_mag", "mini-magazine"),
    ("stage", "refill", "refill"),
    ("stage", "slow", "slow path"),
    ("stage", "new_slab", "new slab"),
    ("stage", "oom", "out of memory"),
    ("route", "free_magazine", "magazine"),
    ("route", "free_local", "local"),
    ("route", "free_remote", "remote"),
)
STAGES = tuple(p for k, p, _ in PATH_TABLE if k == "stage")
ROUTES = tuple(p for k, p, _ in PATH_TABLE if k == "route")
LABEL = {p: label for _, p, label in PATH_TABLE}
HOT_PATH = ("tls_mag", "mini_mag")       # the design's hot path (Phase 2)

# The default sweep: the seed Config, then one change at a time (a larger mini-magazine
# holds more only if a refill moves more, hence the pair).
SWEEP = ({"mini_mag_capacity": 32}, {"mini_mag_capacity": 32, "refill_batch": 32},
         {"magazine_capacity": 256}, {"magazine_capacity": 64}, {"refill_batch": 4},
         {"flush_interval": 64}, {"flush_interval": 1024})


def settings(sweep=None) -> list:
    """[(label, Config)]: the seed Config, then each change of ``sweep`` (dicts of knobs)."""
    out = [("seed", Config())]
    for change in (SWEEP if sweep is None else sweep):
        label = ",".join(f"{k}={v}" for k, v in change.items())
        out.append((label, dataclasses.replace(Config(), **change)))
    return out


def _stranded(snap) -> dict:
    """Free blocks held in caches (not in a bitmap): magazines, mini-mags, remote stacks."""
    mags = sum(len(m) for t in snap.threads.values() for m in t.magazines)
    return dict(magazine=mags, mini_mag=sum(s.mini_mag_count for s in snap.slabs.values()),
                remote=sum(s.remote_count for s in snap.slabs.values()))


def _stats_error(rep, ex, gate: float):
    """(worst class error %, total error %, worst error % over the classes whose exact
    count is >= gate) of reported vs exact statistics, allocs and frees."""
    worst = total = 0.0
    gated = None
    for r, e in ((rep.allocs, ex.allocs), (rep.frees, ex.frees)):
        for rc, ec in zip(r, e):
            if ec:
                pct = abs(ec - rc) * 100.0 / ec
                worst = max(worst, pct)
                if ec >= gate:
                    gated = max(gated or 0.0, pct)
        se = sum(e)
        if se:
            total = max(total, abs(se - sum(r)) * 100.0 / se)
    return worst, total, gated


def measure(ops: list, config: Config, make_fast=None, samples: int = 100) -> dict:
    """Replay ops on the allocator alone and measure the design (see the module doc).

    Takes the ops workloads and traces are made of (Alloc, Free, Write, Read,
    ThreadExit); ValueError for any other op.

    Cost: O(ops) plus ``samples`` complete snapshots (O(heap) each).
    """
    if make_fast is None:
        from fuzz.replay_cmd import default_fast
        make_fast = default_fast()
    fast = make_fast(config)
    pc = fast.path_counts
    stages, routes, exit_routes = Counter(), Counter(), Counter()
    live, live_bytes, tids = {}, 0, set()
    every = max(1, len(ops) // max(1, samples))
    series = []
    err = dict(max_worst=0.0, max_total=0.0, ops_over_1pct=0, last_over_1pct=None,
               first_over_1pct=None, max_worst_gated=None, intervals=[],
               end_worst=0.0, end_total=0.0)
    peak_slabs = threads_peak = handle = 0
    for i, op in enumerate(ops):
        kind = type(op)
        if kind is Alloc:
            before = [pc.get(k, 0) for k in STAGES]
            a = fast.alloc(op.size, op.tid)
            for k, b in zip(STAGES, before):
                if pc.get(k, 0) != b:
                    stages[k] += pc.get(k, 0) - b
            if a is not None:
                live[handle] = (a, op.size)
                live_bytes += op.size
            handle += 1
            tids.add(op.tid)
            if pc.get("new_slab", 0) != before[STAGES.index("new_slab")]:
                peak_slabs = max(peak_slabs, len(fast.slab_bases()))
        elif kind is Free:
            blk = live.pop(op.handle, None)
            if blk is None:
                continue
            before = [pc.get(k, 0) for k in ROUTES]
            fast.free(blk[0], op.tid)
            live_bytes -= blk[1]
            for k, b in zip(ROUTES, before):
                if pc.get(k, 0) != b:
                    routes[k] += pc.get(k, 0) - b
            tids.add(op.tid)
        elif kind is ThreadExit:
            before = [pc.get(k, 0) for k in ROUTES]
            fast.thread_exit(op.tid)
            for k, b in zip(ROUTES, before):
                exit_routes[k] += pc.get(k, 0) - b
            tids.discard(op.tid)
        elif kind is Write:
            if op.handle in live:
                fast.write(live[op.handle][0] + op.offset, op.data)
        elif kind is not Read:          # a read changes nothing the report measures
            raise ValueError(f"measure: {type(op).__name__} ops are not supported (op {i}: "
                             f"{op!r}); workloads and traces use Alloc, Free, Write, Read "
                             f"and ThreadExit")
        threads_peak = max(threads_peak, len(tids))
        # STAT-03's reading of the claim: it applies once exact >= 100 x the pending bound
        gate = 100 * max(1, len(tids)) * (config.flush_interval - 1)
        worst, total, gated = _stats_error(fast.stats(), fast.exact_stats(), gate)
        _track_error(err, i, worst, total, gated)
        if i % every == 0 or i == len(ops) - 1:
            series.append(dict(op=i + 1, live=len(live), live_bytes=live_bytes,
                               slabs=len(fast.slab_bases()), worst_error=worst,
                               total_error=total, **_stranded(fast.snapshot())))
    if err["intervals"] and err["intervals"][-1][1] is None:
        err["intervals"][-1][1] = len(ops)
    peak_stranded = max((s["magazine"] + s["mini_mag"] + s["remote"] for s in series),
                        default=0)
    peak_cached = max((s["magazine"] + s["mini_mag"] for s in series), default=0)
    peak_remote = max((s["remote"] for s in series), default=0)
    return dict(ops=len(ops), allocs=sum(stages.values()), frees=sum(routes.values()),
                stages=dict(stages), routes=dict(routes), exit_routes=dict(exit_routes),
                path_counts=dict(pc), series=series, stats_error=err,
                peak_slabs=peak_slabs, peak_bytes=peak_slabs * config.slab_size,
                peak_stranded=peak_stranded, peak_cached=peak_cached,
                peak_remote=peak_remote, slab_size=config.slab_size,
                threads_peak=threads_peak,
                # what the design can cache (remote stacks aside): every live thread's
                # magazines (classes x capacity) and a full mini-magazine in every slab
                stranded_bound=threads_peak * config.num_classes * config.magazine_capacity
                + peak_slabs * config.mini_mag_capacity)


def _track_error(err: dict, i: int, worst: float, total: float, gated) -> None:
    """Fold one op's statistics error into the running maxima and the intervals where
    the total error exceeds 1%."""
    err["max_worst"] = max(err["max_worst"], worst)
    err["max_total"] = max(err["max_total"], total)
    err["end_worst"], err["end_total"] = worst, total
    if gated is not None:
        err["max_worst_gated"] = max(err["max_worst_gated"] or 0.0, gated)
    iv = err["intervals"]
    if total > 1.0:
        err["ops_over_1pct"] += 1
        err["last_over_1pct"] = i + 1
        if err["first_over_1pct"] is None:
            err["first_over_1pct"] = i + 1
        if not iv or iv[-1][1] is not None:
            iv.append([i + 1, None])
    elif iv and iv[-1][1] is None:
        iv[-1][1] = i + 1


# ============================================================================
# The command
# ============================================================================


def explore(sources: list, sweep=None, samples: int = 100, make_fast=None,
            log=None, runs=None) -> list:
    """Measure every (name, ops) source under every setting; the runs, in order (appended
    to ``runs`` as each finishes, so an interrupted caller keeps them)."""
    runs = [] if runs is None else runs
    for name, ops in sources:
        for label, config in settings(sweep):
            t0 = time.monotonic()
            run = measure(ops, config, make_fast, samples)
            run.update(workload=name, setting=label, seconds=time.monotonic() - t0,
                       config={f.name: getattr(config, f.name)
                               for f in dataclasses.fields(Config)})
            runs.append(run)
            if log:
                hot = sum(run["stages"].get(k, 0) for k in HOT_PATH)
                log(f"explore: {name:<14} {label:<40} {run['ops']:>7,} ops in "
                    f"{run['seconds']:5.2f} s; hot path {100 * hot / max(1, run['allocs']):5.1f}%"
                    f", peak stranded {run['peak_stranded']:,}, peak slabs {run['peak_slabs']}")
    return runs


def parse_knobs(pairs) -> list:
    """--knob KNOB=V1,V2 strings -> sweep entries ({knob: value} each); ValueError if bad."""
    from fuzz.replay_cmd import KNOBS
    sweep = []
    for pair in pairs:
        name, sep, values = pair.partition("=")
        if not sep or name not in KNOBS or not values:
            raise ValueError(f"--knob {pair!r}: expected KNOB=V1,V2,... with KNOB one of "
                             f"{', '.join(KNOBS)}")
        for v in values.split(","):
            try:
                change = {name: int(v, 0)}
                dataclasses.replace(Config(), **change)
            except ValueError as e:
                raise ValueError(f"--knob {pair!r}: {name}={v!r} is not a valid setting: "
                                 f"{e}") from None
            sweep.append(change)
    return sweep


def main(args) -> int:
    """Run ``hakmem-fuzz explore``; the exit status."""
    from fuzz.cli_contract import interrupted, unwritable_dir, usage_error
    try:
        problem = unwritable_dir(args.report, "--report")
        if problem:
            raise ValueError(problem)
        sweep = parse_knobs(args.knob) if args.knob else None
        sources = _sources(args)
    except (ValueError, OSError) as e:
        return usage_error(PROG, str(e))
    log = lambda line: (sys.stderr.write(line + "\n"), sys.stderr.flush())  # noqa: E731
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
    from fuzz.trace_import import load_trace, require_allocs, spread
    from fuzz.workloads import generate
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
    from fuzz.explore_report import claims, write
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
    from fuzz.replay_cmd import KNOBS, add_common
    p = subparsers.add_parser(
        "explore", help="the design-space report: path mix, stranded blocks, memory, stats "
        "error per workload and knob setting",
        description=__doc__.split("\n\n")[2].replace("\n", " "),
        epilog="Exit status: 0 report written; 2 usage error, unwritable --report or a trace "
               "with no allocation; 3 interrupted (the report covers the finished runs).")
    p.add_argument("--workload", action="append", metavar="NAME",
                   help="a standard workload, repeatable (default: larson and sh6bench)")
    p.add_argument("--trace", action="append", metavar="FILE",
                   help="a valgrind --trace-malloc=yes log, repeatable (bad lines skipped)")
    p.add_argument("--knob", action="append", metavar="KNOB=V1,V2",
                   help=f"replace the default sweep: each value of each knob alone against "
                        f"the seed Config; knobs: {', '.join(KNOBS)}")
    add_common(p)
    p.set_defaults(scale=2)
    from fuzz.cli_contract import at_least
    p.add_argument("--samples", type=at_least(2, "--samples"), default=100, metavar="K",
                   help="snapshots per run for the over-time plots (default: %(default)s)")
    p.add_argument("--report", default="explore-report", metavar="DIR",
                   help="report directory (default: %(default)s)")
    p.set_defaults(handler=main)
