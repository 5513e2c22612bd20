"""``hakmem-fuzz stress``: workloads on real threads, checked as they run.

Two drivers.  ``--impl native`` (the default) or ``hakmem_verify.models.native.mutants:NAME``: a
workload on pthreads inside the C pool (hakmem_verify.models.native), larson or producer/consumer, in
both of its modes in turn (the default mode, then SuperSlab mode; ``--mode`` picks one),
the ops/s of each printed beside the seed's own figures as reference rows; the checks:
STRESS-TAG, STRESS-OVERWRITE, STRESS-EXACT, STRESS-STATS, STRESS-STATS1%,
STRESS-CONSERVATION, STRESS-EMPTY, RMT-01, or a ThreadSanitizer report with --tsan.

``--impl malloc:LIB[:PREFIX]``: any C allocator library (malloc:system,
malloc:libmimalloc.so.2, malloc:libjemalloc.so.2, malloc:libtcmalloc_minimal.so.4, a
path to a .so, an adapter file) under the malloc stress driver (hakmem_verify.models.malloc.stress):
larson, xmalloc-test, mstress, cache-scratch, sh6bench, glibc-thread, thread-churn, or
all of them in turn (the default) followed by a summary.  Every live block carries its
owner and a sequence tag; the checks: STRESS-TAG, STRESS-OVERWRITE, STRESS-OOM,
STRESS-ALIGN, STRESS-USABLE, STRESS-CALLOC, STRESS-REALLOC, STRESS-STATS (jemalloc,
tcmalloc, or an adapter's stats symbol), and CRASH, ABORT, HANG (--timeout) of the
program.  A finding prints the command that reruns it.

Exit codes: 0 clean; 1 a finding (the message names the check); 2 usage error (a bad
--impl, bad numbers) or the driver cannot be built here; 3 interrupted (SIGINT or
SIGTERM: the running program is stopped and what ran is printed)."""
from __future__ import annotations

import shlex
import sys

from hakmem_verify.contract.cli import EXIT_INTERRUPTED, EXIT_USAGE, interrupted

PROG = "hakmem-fuzz stress"
NATIVE_WORKLOADS = ("larson", "prodcons", "producer-consumer")
DEFAULT_OPS = 1_000_000
#: the C pool's modes: --mode value -> (label, SuperSlab mode on)
NATIVE_MODES = {"default": ("default mode", False), "superslab": ("SuperSlab mode", True)}
#: the seed's own figures (larson, on the seed's machine): reference rows, not measured here
SEED_FIGURES = (("Phase 6-3 (no SuperSlab)", "4.79 M ops/s (has OOM risk)"),
                ("With SuperSlab", "3.13 M ops/s"))


def register(sub) -> None:
    from hakmem_verify.models.malloc.stress import DEFAULT_MAX_SIZE, DEFAULT_TIMEOUT, WORKLOADS
    s = sub.add_parser("stress", help="run workloads on pthreads inside the C pool "
                       "(--impl native) or any malloc library (--impl malloc:LIB) and check "
                       "them", description=__doc__.split("\n\n", 1)[1])
    s.add_argument("--impl", default="native",
                   metavar="native|hakmem_verify.models.native.mutants:NAME|malloc:LIB[:PREFIX]",
                   help="the C pool, one of its compile-time mutants, or a C allocator "
                        "library (default: native)")
    s.add_argument("--threads", type=int, default=4,
                   help="pthreads running at once (default: %(default)s)")
    s.add_argument("--workload", default=None, metavar="NAME",
                   choices=list(dict.fromkeys([*NATIVE_WORKLOADS, *WORKLOADS, "all"])),
                   help="the C pool: larson (default) or prodcons (every free remote; an even "
                        "number of threads); a malloc library: one of "
                        f"{', '.join(WORKLOADS)}, or all (default)")
    s.add_argument("--ops", type=int, default=None,
                   help=f"allocator calls in total, per workload (default: {DEFAULT_OPS:,})")
    s.add_argument("--seed", type=int, default=1,
                   help="every thread's choices follow from the seed (default: %(default)s)")
    s.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="malloc libraries: a run longer than this is a HANG (default: "
                        f"{DEFAULT_TIMEOUT:g} per workload)")
    s.add_argument("--max-size", type=int, default=None, metavar="BYTES",
                   help="malloc libraries: the largest size requested (default: "
                        f"{DEFAULT_MAX_SIZE}; 1024 compares with the tiny pool)")
    s.add_argument("--aligned", action="store_true",
                   help="malloc libraries: thread-churn also calls posix_memalign and "
                        "aligned_alloc (alignments 16..2048), checked against the alignment "
                        "asked for")
    s.add_argument("--small", action="store_true",
                   help="the C pool: a small Config (4 KiB slabs, magazines of 8, flushes "
                        "every 16 events) so adoption, eviction, release and drains run all "
                        "the time")
    s.add_argument("--tsan", action="store_true",
                   help="the C pool: run the ThreadSanitizer build of the driver instead "
                        "(slower)")
    s.add_argument("--mode", choices=["both", *NATIVE_MODES], default=None,
                   help="the C pool: its default mode, its SuperSlab mode "
                        "(Config.use_superslab), or both in turn (the default)")
    s.set_defaults(handler=main)


def _error(message: str) -> int:
    print(f"hakmem-fuzz: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _mutant_of(spec: str):
    if spec in ("native", "hakmem_verify.models.native:make"):
        return None
    module, _, name = spec.partition(":")
    from hakmem_verify.models.native.build import MUTANTS
    for m in MUTANTS:
        if module == "hakmem_verify.models.native.mutants" and name == m.replace("-", "_"):
            return m
    raise ValueError(f"--impl {spec!r}: stress runs the C pool only (native, or "
                     f"hakmem_verify.models.native.mutants:NAME with NAME one of "
                     f"{', '.join(m.replace('-', '_') for m in MUTANTS)}) and C allocator "
                     f"libraries (malloc:LIB[:PREFIX], e.g. malloc:libmimalloc.so.2)")


def main(args) -> int:
    from hakmem_verify.models.malloc.spec import is_malloc_spec
    if is_malloc_spec(args.impl):
        return _malloc_main(args)
    return _native_main(args)


# ============================================================================
# The C pool (hakmem_verify.models.native)
# ============================================================================


def _native_main(args) -> int:
    from hakmem_verify.models.native import unavailable_reason
    try:
        mutant = _mutant_of(args.impl)
    except ValueError as e:
        return _error(str(e))
    workload = args.workload or "larson"
    if workload not in NATIVE_WORKLOADS:
        return _error(f"--workload {workload}: the C pool's driver runs larson or prodcons; "
                      f"the other workloads need --impl malloc:LIB (malloc:native is the C "
                      f"pool behind a malloc front)")
    given = [f for f, v in (("--timeout", args.timeout), ("--max-size", args.max_size),
                            ("--aligned", args.aligned or None)) if v is not None]
    if given:
        return _error(f"{', '.join(given)} apply to --impl malloc:LIB only")
    ops = DEFAULT_OPS if args.ops is None else args.ops
    reason = unavailable_reason(mutant)
    if reason:
        return _error(reason)
    if args.threads < 1 or ops < 1:
        return _error("--threads and --ops must be >= 1")
    from hakmem_verify.models.native import stress
    modes = list(NATIVE_MODES) if args.mode in (None, "both") else [args.mode]
    print(f"stress: {workload} on {args.threads} pthreads, {ops:,} ops, C pool "
          f"{mutant or 'native'}{', small Config' if args.small else ''}"
          f"{' (ThreadSanitizer build)' if args.tsan else ''}; "
          f"{' then '.join(NATIVE_MODES[m][0] for m in modes)}",
          file=sys.stderr)
    if args.tsan:
        return _native_tsan(args, stress, workload, ops, mutant, modes)
    rates, failed = [], False
    for mode in modes:
        label, ss = NATIVE_MODES[mode]
        try:
            r = stress.run(args.threads, workload, ops, args.seed, mutant,
                           stress.config_for(args.small, ss))
        except KeyboardInterrupt:
            return interrupted(PROG, f"the {workload} run ({label}) was stopped before its "
                                     "checks; rerun it to completion, or with fewer --ops")
        if r.status == 2:
            return _error(r.message)
        rate = f"{r.ops:,} ops in {r.seconds:.3f} s: {r.ops_per_s / 1e6:.2f} M ops/s"
        if r.status:
            print(f"FAIL ({label}) {r.message} ({rate})", file=sys.stderr)
            print(f"the message names the check that failed; rerun with the same --seed "
                  f"and --mode {mode} to see it again, or with --tsan for a data-race "
                  "report", file=sys.stderr)
            failed = True
            continue
        print(f"clean ({label}): {rate}; checks: tags, exact stats, stats within 1%, "
              f"conservation, every slab free after thread exit and quiesce", flush=True)
        rates.append((label, r.ops_per_s))
    if rates:
        _print_rates(rates, workload, args.threads, args.small)
    return 1 if failed else 0


def _print_rates(rates, workload: str, threads: int, small: bool) -> None:
    """The measured rates, then the seed's figures as reference rows."""
    print(f"ops/s, {workload} on {threads} pthreads{', small Config' if small else ''} "
          f"(this machine, this run):")
    width = max(len(s) for s, _ in SEED_FIGURES) + 1
    for label, rate in rates:
        print(f"  {'C pool, ' + label + ':':<{width + 2}} {rate / 1e6:.2f} M ops/s")
    print("reference: the seed's figures (its larson benchmark on its own machine; not "
          "measured here, not comparable run for run):")
    for label, figure in SEED_FIGURES:
        print(f"  {label + ':':<{width + 2}} {figure}")


def _native_tsan(args, stress, workload: str, ops: int, mutant, modes) -> int:
    """The ThreadSanitizer build on each mode in turn."""
    failed = False
    for mode in modes:
        label, ss = NATIVE_MODES[mode]
        try:
            rc, reports, err = stress.run_tsan(args.threads, workload, ops, mutant,
                                               args.seed, args.small, ss)
        except stress.TsanUnavailable as e:
            return _error(f"ThreadSanitizer unavailable: {e}")
        if reports:
            sys.stderr.write(err[:4000])
            print(f"FAIL ({label}) [TSAN] {reports} ThreadSanitizer report(s)",
                  file=sys.stderr)
            failed = True
        elif rc:
            print(f"FAIL ({label}) {err.strip()}", file=sys.stderr)
            failed = True
        else:
            print(f"clean ({label}): no ThreadSanitizer report, every check passed",
                  flush=True)
    return 1 if failed else 0


# ============================================================================
# Any malloc library (hakmem_verify.models.malloc.stress)
# ============================================================================


def _malloc_options(args):
    """(workloads, ops, max_size, timeout) or a usage error's message."""
    from hakmem_verify.models.malloc import stress
    workload = args.workload or "all"
    if workload in ("prodcons", "producer-consumer"):
        workload = "xmalloc-test"           # the same shape: producers, remote frees
    names = list(stress.WORKLOADS) if workload == "all" else [workload]
    ops = DEFAULT_OPS if args.ops is None else args.ops
    max_size = stress.DEFAULT_MAX_SIZE if args.max_size is None else args.max_size
    timeout = stress.DEFAULT_TIMEOUT if args.timeout is None else args.timeout
    if args.small or args.tsan or getattr(args, "mode", None):
        flag = '--small' if args.small else '--tsan' if args.tsan else '--mode'
        return f"{flag} applies to the C pool only " \
               f"(--impl native); the malloc driver has no such build"
    if not 1 <= args.threads <= stress.MAX_THREADS:
        return f"--threads must be in 1..{stress.MAX_THREADS}, got {args.threads}"
    if ops < 1 or max_size < 1:
        return f"--ops and --max-size must be >= 1, got {ops} and {max_size}"
    if not timeout > 0:
        return f"--timeout must be > 0 seconds, got {timeout:g}"
    if args.seed < 0:
        return f"--seed must be >= 0, got {args.seed}"
    if args.threads < 2 and "xmalloc-test" in names:
        if workload != "all":
            return "xmalloc-test needs --threads >= 2 (producers and consumers)"
        names.remove("xmalloc-test")
        print("note: xmalloc-test needs --threads >= 2; left out of 'all'")
    return names, ops, max_size, timeout


def _rerun(args, workload: str, ops: int, max_size: int, timeout: float) -> str:
    from hakmem_verify.models.malloc import stress
    cmd = ["hakmem-fuzz", "stress", "--impl", args.impl, "--workload", workload,
           "--threads", str(args.threads), "--ops", str(ops), "--seed", str(args.seed)]
    if max_size != stress.DEFAULT_MAX_SIZE:
        cmd += ["--max-size", str(max_size)]
    if timeout != stress.DEFAULT_TIMEOUT:
        cmd += ["--timeout", f"{timeout:g}"]
    if args.aligned:
        cmd.append("--aligned")
    return " ".join(shlex.quote(c) for c in cmd)


def _line(r) -> str:
    """One workload's result: name, verdict, rate, memory, statistics."""
    if r.status == 0:
        head = (f"clean  {r.ops:>11,} ops in {r.seconds:7.3f} s  {r.ops_per_s / 1e6:6.2f} M "
                f"ops/s  {r.ns_per_op:7.1f} ns/op  peak RSS {r.peak_rss_kb / 1024:7.1f} MiB")
        st = r.stats or {}
        if "stats_after" in st:
            head += (f"  stats {st['stats_before']:,} -> {st['stats_live']:,} (with "
                     f"{st['leftover_bytes']:,} B live) -> {st['stats_after']:,}")
        return f"  {r.workload:<14} {head}"
    return f"  {r.workload:<14} FAIL   {r.message}"


def _malloc_main(args) -> int:
    from hakmem_verify.models.malloc import stress
    from hakmem_verify.models.malloc.spec import MallocSpecError, resolve
    opts = _malloc_options(args)
    if isinstance(opts, str):
        return _error(opts)
    names, ops, max_size, timeout = opts
    try:
        spec = resolve(args.impl)
        stress.program()
    except (MallocSpecError, stress.StressUnavailable) as e:
        return _error(str(e))
    except KeyboardInterrupt:
        print("interrupted: nothing ran; run it again")
        return EXIT_INTERRUPTED
    print(f"stress: {spec.name} ({spec.path or spec.lib}): {', '.join(names)} on "
          f"{args.threads} pthreads, {ops:,} ops each, seed {args.seed}, sizes 1..{max_size} "
          f"B, watchdog {timeout:g} s; entry points: {', '.join(spec.symbols)}; stats: "
          f"{spec.stats or 'none'}{'; aligned calls' if args.aligned else ''}")
    results = []
    try:
        for name in names:
            r = stress.run(spec, name, args.threads, ops, args.seed, max_size, timeout,
                           args.aligned)
            if r.status == 2:
                return _error(f"{name}: {r.message}")
            results.append(r)
            print(_line(r), flush=True)
            if r.status:
                print(f"  {'':<14} rerun: {_rerun(args, name, ops, max_size, timeout)}")
            if r.check == "HANG" and name != names[-1]:
                print(f"  {'':<14} stopped after a HANG: "
                      f"{', '.join(names[names.index(name) + 1:])} not run")
                break
    except KeyboardInterrupt:
        done = ", ".join(f"{r.workload} {'clean' if r.status == 0 else r.check}"
                         for r in results) or "nothing"
        print(f"interrupted: the running program was stopped; finished before: {done}; rerun "
              "the rest with --workload NAME")
        return EXIT_INTERRUPTED
    return _summary(spec, names, results)


def _summary(spec, names, results) -> int:
    found = [r for r in results if r.status]
    total_ops = sum(r.ops for r in results)
    total_s = sum(r.seconds for r in results)
    if len(names) > 1:
        clean = len(results) - len(found)
        what = "; ".join(f"{r.workload}: {r.check}" for r in found)
        print(f"summary: {clean} of {len(names)} workloads clean on {spec.name}"
              f"{f', findings: {what}' if found else ''}; {total_ops:,} ops in "
              f"{total_s:.3f} s")
    if found:
        print("the message names the check that failed; the rerun command repeats the run "
              "with the same seed")
        return 1
    return 0
