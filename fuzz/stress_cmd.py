"""``hakmem-fuzz stress``: a workload on real threads inside the C pool (hakmem_native).

Exit codes: 0 clean; 1 a finding (the message names the check: STRESS-TAG,
STRESS-OVERWRITE, STRESS-EXACT, STRESS-STATS, STRESS-STATS1%, STRESS-CONSERVATION,
STRESS-EMPTY, RMT-01, or a ThreadSanitizer report with --tsan); 2 usage error or the C
pool cannot be built here."""
from __future__ import annotations

import sys

EXIT_USAGE = 2


def register(sub) -> None:
    s = sub.add_parser("stress", help="run a workload on pthreads inside the C pool "
                       "(--impl native) and check it",
                       description=__doc__.split("\n\n", 1)[1])
    s.add_argument("--impl", default="native", metavar="native|hakmem_native.mutants:NAME",
                   help="the C pool, or one of its compile-time mutants (default: native)")
    s.add_argument("--threads", type=int, default=4, help="pthreads (default: %(default)s)")
    s.add_argument("--workload", default="larson", choices=["larson", "prodcons",
                                                            "producer-consumer"],
                   help="larson-like (slots passed between threads) or producer/consumer "
                        "(every free remote; an even number of threads)")
    s.add_argument("--ops", type=int, default=1_000_000, help="alloc + free calls in total")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--small", action="store_true",
                   help="a small Config (4 KiB slabs, magazines of 8, flushes every 16 events) "
                        "so adoption, eviction, release and drains run all the time")
    s.add_argument("--tsan", action="store_true",
                   help="run the ThreadSanitizer build of the driver instead (slower)")
    s.set_defaults(handler=main)


def _mutant_of(spec: str):
    if spec in ("native", "hakmem_native:make"):
        return None
    module, _, name = spec.partition(":")
    from hakmem_native.build import MUTANTS
    for m in MUTANTS:
        if module == "hakmem_native.mutants" and name == m.replace("-", "_"):
            return m
    raise ValueError(f"--impl {spec!r}: stress runs the C pool only: native, or "
                     f"hakmem_native.mutants:NAME with NAME one of "
                     f"{', '.join(m.replace('-', '_') for m in MUTANTS)}")


def main(args) -> int:
    from hakmem_native import unavailable_reason
    try:
        mutant = _mutant_of(args.impl)
    except ValueError as e:
        print(f"hakmem-fuzz: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    reason = unavailable_reason(mutant)
    if reason:
        print(f"hakmem-fuzz: error: {reason}", file=sys.stderr)
        return EXIT_USAGE
    if args.threads < 1 or args.ops < 1:
        print("hakmem-fuzz: error: --threads and --ops must be >= 1", file=sys.stderr)
        return EXIT_USAGE
    from hakmem_native import stress
    print(f"stress: {args.workload} on {args.threads} pthreads, {args.ops:,} ops, C pool "
          f"{mutant or 'native'}{', small Config' if args.small else ''}"
          f"{' (ThreadSanitizer build)' if args.tsan else ''}",
          file=sys.stderr)
    if args.tsan:
        try:
            rc, reports, err = stress.run_tsan(args.threads, args.workload, args.ops, mutant,
                                               args.seed, args.small)
        except stress.TsanUnavailable as e:
            print(f"hakmem-fuzz: error: ThreadSanitizer unavailable: {e}", file=sys.stderr)
            return EXIT_USAGE
        if reports:
            sys.stderr.write(err[:4000])
            print(f"FAIL [TSAN] {reports} ThreadSanitizer report(s)", file=sys.stderr)
            return 1
        if rc:
            print(f"FAIL {err.strip()}", file=sys.stderr)
            return 1
        print("clean: no ThreadSanitizer report, every check passed")
        return 0
    r = stress.run(args.threads, args.workload, args.ops, args.seed, mutant,
                   stress.SMALL if args.small else stress.Config())
    if r.status == 2:
        print(f"hakmem-fuzz: error: {r.message}", file=sys.stderr)
        return EXIT_USAGE
    rate = f"{r.ops:,} ops in {r.seconds:.3f} s: {r.ops_per_s / 1e6:.2f} M ops/s"
    if r.status:
        print(f"FAIL {r.message} ({rate})", file=sys.stderr)
        print("the message names the check that failed; rerun with the same --seed to "
              "see it again, or with --tsan for a data-race report", file=sys.stderr)
        return 1
    print(f"clean: {rate}; checks: tags, exact stats, stats within 1%, conservation, "
          f"every slab free after thread exit and quiesce")
    return 0
