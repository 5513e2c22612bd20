"""hakmem-fuzz: fuzz the hakmem tiny-pool design against its reference, in lockstep.

    hakmem-fuzz run [--minutes M] [--workers N] [--seed S] [--shard K/N] [--db PATH_OR_URL]
                    [--db-shared PATH_OR_URL] [--report DIR] [--machine NAME]...
                    [--mutant NAME] [--op-timeout S] [--shrink-seconds S] [--promote]
                    [--list]
    hakmem-fuzz promote FILE... [--to DIR]
    hakmem-fuzz merge-reports DIR... [--out DIR]
    hakmem-fuzz contracts [--per-condition-timeout S] [crosshair options]
    hakmem-fuzz mutants ...          (see hakmem_verify.cli.mutants)
    hakmem-fuzz invariants [--json]  (see hakmem_verify.cli.invariants)
    hakmem-fuzz mutate --files GLOB  (see hakmem_verify.mutate.run)
    hakmem-fuzz mutate --c-file FILE --build CMD --prefix P  (see hakmem_verify.mutate.c_run)
    hakmem-fuzz replay ... / explore ...   (see hakmem_verify.cli.replay, hakmem_verify.cli.explore)
    hakmem-fuzz stress --impl native|malloc:LIB ...   (see hakmem_verify.cli.stress)
    hakmem-fuzz compare [--impl ...]...    (see hakmem_verify.cli.compare)

``run`` is the nightly runner (``hakmem_verify.runner.run``); with no options it is a
short campaign of one minute on every core with a report in ``fuzz-report/``.
"""
from __future__ import annotations

import argparse
import os
import sys

EXIT_USAGE = 2
DESCRIPTION = ("Fuzz the hakmem tiny-pool design: Hypothesis drives the fast model "
               "(hakmem_verify.models.fast) and the reference allocator (hakmem_verify.models.ref) through the same ops "
               "in lockstep and checks the invariant catalogue after every op; any C "
               "allocator library (--impl malloc:LIB[:PREFIX]) is checked against the "
               "contract of malloc. Failures are shrunk to a few ops, saved in an example "
               "database and written as runnable pytest reproducers.")
EXIT_CODES = ("exit status: 0 clean (the full budget ran, nothing found); 1 a failure was "
              "found (a HANG included); 2 usage error or unusable environment (nothing was "
              "run); 3 interrupted or incomplete (a signal, a worker crashed or was "
              "terminated), the report still written.")


class _Parser(argparse.ArgumentParser):
    """argparse, with the hint of where to look next on every usage error."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n"
                              f"Run '{self.prog} --help' for the options.\n")


def build_parser() -> argparse.ArgumentParser:
    from .run import add_run_parser
    from hakmem_verify.runner.run import DEFAULTS
    parser = _Parser(prog="hakmem-fuzz", description=DESCRIPTION, epilog=EXIT_CODES + (
        " Start with 'hakmem-fuzz run' (one minute on every core), then read "
        "fuzz-report/report.md."))
    sub = parser.add_subparsers(dest="command",
                                metavar="{run,promote,merge-reports,contracts,mutants,"
                                        "mutate,invariants,replay,explore,stress,compare}",
                                parser_class=_Parser)

    sub.add_parser("mutate", add_help=False,       # dispatched in main(), before parsing
                   help="random one-token mutants of Python files, or of a C allocator "
                        "(--c-file), each hunted: how much of the code the harness guards "
                        "(hakmem-fuzz mutate --help)")
    add_run_parser(sub, EXIT_CODES)

    p = sub.add_parser("promote", help="copy reproducers into tests/regressions",
                       description="Copy reproducer files (a report's reproducers/"
                       "test_repro_*.py) into the regression suite. Reproducers of planted "
                       "bugs (MUTANT is not None) are refused.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--to", default=DEFAULTS["regressions"], metavar="DIR",
                   help="destination (default: %(default)s)")

    _add_merge_reports(sub)
    _add_contracts(sub)
    sub.add_parser("mutants", help="the planted-bug catalogue (options: hakmem-fuzz mutants "
                   "--help)", add_help=False)
    sub.add_parser("invariants", help="the invariant catalogue (options: hakmem-fuzz "
                   "invariants --help)", add_help=False)
    from . import explore as explore_cmd
    from . import replay as replay_cmd
    replay_cmd.register(sub)           # replay (hakmem_verify/cli/replay.py)
    explore_cmd.register(sub)          # explore (hakmem_verify/cli/explore.py)
    from . import stress as stress_cmd
    stress_cmd.register(sub)           # stress (hakmem_verify/cli/stress.py, the C pool on pthreads)
    from . import compare as compare_cmd
    compare_cmd.register(sub)          # compare (hakmem_verify/cli/compare.py, C allocators side by side)
    return parser


def _add_merge_reports(sub) -> None:
    m = sub.add_parser("merge-reports", help="combine the reports of the shards of one "
                       "campaign (run --shard K/N)",
                       description="Combine report.json files of 'hakmem-fuzz run' (the "
                       "shards of one campaign) into one report: totals and counts summed, "
                       "failures deduplicated, plots over the union.", epilog=EXIT_CODES)
    m.add_argument("dirs", nargs="+", metavar="DIR", help="report directories of the shards")
    m.add_argument("--out", default="fuzz-report-merged", metavar="DIR",
                   help="where the merged report goes (default: %(default)s)")


def _merge_reports(args) -> int:
    from hakmem_verify.runner import merge as runner_merge
    from hakmem_verify.contract.cli import unwritable_dir, usage_error
    problem = unwritable_dir(args.out, "--out")
    if problem:
        return usage_error("hakmem-fuzz merge-reports", problem)
    return runner_merge.main(args.dirs, args.out)


def _add_contracts(sub) -> None:
    c = sub.add_parser("contracts", help="check the CrossHair contracts of the pure cores "
                       "and count the conditions confirmed",
                       description="Run 'crosshair check --report_all' on "
                       "the contracts (hakmem_verify/contracts/: bitmap.py, minimag.py, counters.py), "
                       "print each condition's verdict as it comes and a "
                       "count: checked, confirmed over all paths, not confirmed in the time "
                       "budget, failed. Exit status: 0 none failed, 1 a condition failed, "
                       "2 CrossHair missing or a bad value, 3 interrupted (the count so "
                       "far is printed).")
    from hakmem_verify.contract.cli import number, positive_int
    c.add_argument("--per-condition-timeout", type=number("--per-condition-timeout"),
                   default=3.0, metavar="S",
                   help="CrossHair's --per_condition_timeout (default: %(default)s)")
    c.add_argument("--per-path-timeout", type=number("--per-path-timeout"), default=2.0,
                   metavar="S", help="CrossHair's --per_path_timeout (default: %(default)s)")
    c.add_argument("--max-uninteresting-iterations",
                   type=positive_int("--max-uninteresting-iterations"), default=200, metavar="N",
                   help="CrossHair's --max_uninteresting_iterations (default: %(default)s)")
    c.add_argument("target", nargs="?", default=None, metavar="TARGET",
                   help="module file or module.function (default: the three contract "
                        "modules of hakmem_verify/contracts/)")


def _list(out=None) -> int:
    out = out or sys.stdout
    try:
        return _write_list(out)
    except BrokenPipeError:              # `hakmem-fuzz run --list | head`
        _silence_stdout()
        return 0


def _silence_stdout() -> None:
    """After a closed pipe: send the rest (and the interpreter's final flush) nowhere."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _write_list(out) -> int:
    from hakmem_verify import planted as mutants
    from hakmem_verify.runner.worker import FAMILIES
    out.write("machine families (--machine):\n")
    for name, attr in FAMILIES.items():
        out.write(f"  {name:<8} hakmem_verify.explore.machines.{attr}\n")
    out.write("  concurrent hakmem_verify.oracle.concurrent (threads interleaved; alone, or a third of the "
              "default run)\n")
    out.write("planted bugs (--mutant):\n")
    for name in mutants.names():
        m = mutants.get(name)
        if getattr(m, "c_name", None):          # compiled into the C pool: --impl runs it
            continue
        tag = "equivalent, cannot be killed" if m.equivalent else \
            "expect " + ", ".join(m.expect) if m.expect else ""
        out.write(f"  {name:<34} {tag}\n")
    out.write("the C pool's compile-time mutants: --impl hakmem_verify.models.native.mutants:NAME "
              "(hakmem-fuzz mutants --list)\n")
    return 0


def _run(args, parser) -> int:
    from hakmem_verify.runner import run as runner
    from hakmem_verify import planted as mutants
    from hakmem_verify.runner.worker import FAMILIES
    if args.list:
        return _list()
    from hakmem_verify.planted.races import RACES
    if "concurrent" in (args.machines or []):
        return _run_concurrent(args, parser)
    if args.mutant in RACES and args.machines:
        parser.error(f"--mutant {args.mutant} is a planted race: the lockstep families "
                     f"({' '.join(args.machines)}) cannot find it; drop --machine (the "
                     "default run hunts it with the concurrent machine) or use --machine "
                     "concurrent")
    machines = args.machines or ["any"]
    share = runner.DEFAULTS["concurrent_share"] if not args.machines else 0.0
    unknown = [m for m in machines if m not in FAMILIES]
    if unknown:
        parser.error(f"unknown --machine {unknown[0]!r}; choose from {', '.join(FAMILIES)}")
    if args.mutant is not None and args.mutant.partition(":")[0] in ("native", "native-stress",
                                                                     "native-tsan"):
        from hakmem_verify.planted import native
        parser.error(native.run_hint(args.mutant))
    if args.mutant is not None and args.mutant not in mutants.names():
        parser.error(f"unknown --mutant {args.mutant!r}; 'hakmem-fuzz run --list' lists the "
                     "planted bugs")
    if args.progress_every is not None and not args.progress_every > 0:
        parser.error("--progress-every must be > 0")
    if args.shard and args.seed is None:
        parser.error("--shard K/N needs --seed S, the same on every shard, so that the "
                     "shards' seeds are disjoint")
    problem = _unwritable_outputs(args)
    if problem:
        parser.exit(EXIT_USAGE, f"hakmem-fuzz run: error: {problem}. Nothing was run (exit "
                                f"status {EXIT_USAGE}).\n")
    from hakmem_verify.explore.impl import resolve_or_exit
    impl = resolve_or_exit(args.impl)          # prints the banner; exit 2 if unusable
    if args.mutant is not None and impl.spec != "hakmem_verify.models.fast:FastAllocator":
        parser.error(f"--mutant plants bugs in hakmem_verify.models.fast; it cannot apply to --impl "
                     f"{impl.spec}")
    if impl.tier == "malloc" and set(machines) != {"any"}:
        parser.error(f"--machine {' '.join(machines)}: the families are Configs of the tiny "
                     f"pool; a C library ({impl.spec}) has none: drop --machine")
    if args.promote and args.mutant:
        sys.stderr.write("hakmem-fuzz: --promote with --mutant: reproducers of a planted bug "
                         "fail only while the bug is applied, so they will not be promoted\n")
    params = runner.default_params(
        minutes=args.minutes, workers=args.workers, seed=args.seed, db=args.db,
        report=args.report, machines=sorted(set(machines), key=machines.index),
        mutant=args.mutant, promote=args.promote, regressions=args.regressions,
        chunk=args.chunk, steps=args.steps, l3_every=args.l3_every,
        progress_every=args.progress_every, db_local=args.db_local, db_shared=args.db_shared,
        op_timeout=args.op_timeout, shard=args.shard, tier=impl.tier,
        impl=None if impl.spec == "hakmem_verify.models.fast:FastAllocator" else impl.spec,
        shrink_seconds=args.shrink_seconds)
    params["concurrent_share"] = share         # 0 is a value, not "use the default"
    if args.coverage:
        from hakmem_verify.runner.coverage import CoverageError, check
        try:
            params["coverage"] = check(impl.spec)
        except CoverageError as exc:
            parser.exit(EXIT_USAGE, f"hakmem-fuzz run: error: {exc}. Nothing was run (exit "
                                    f"status {EXIT_USAGE}).\n")
    return runner.run(params)


def _unwritable_outputs(args):
    """The first of --report, a directory --db, --regressions (with --promote) that cannot
    be written, as one line; None when all can."""
    from hakmem_verify.contract.cli import first_unwritable
    from hakmem_verify.runner.db import is_url
    db = args.db if args.db and not is_url(args.db) else None
    return first_unwritable(dirs=[(args.report, "--report"), (db, "--db"),
                                  (args.regressions if args.promote else None,
                                   "--regressions")])


def _run_concurrent(args, parser) -> int:
    """``--machine concurrent``: random concurrent rounds in this process (exit 0 clean,
    1 finding, 2 usage)."""
    from hakmem_verify import planted as mutants
    from hakmem_verify.runner.concurrent import cli_run
    from hakmem_verify.planted.races import RACES
    if args.machines != ["concurrent"]:
        parser.error("--machine concurrent runs alone (its rounds are not lockstep examples); "
                     "drop --machine for the default run, which splits the budget between "
                     "the lockstep machine (family any) and the concurrent machine")
    if args.mutant is not None and args.mutant not in mutants.names(("model", "concurrency")):
        parser.error(f"unknown --mutant {args.mutant!r}; the planted races are "
                     f"{', '.join(RACES)}")
    return cli_run(args.minutes, args.seed, args.mutant, report=args.report, impl=args.impl,
                   shrink_seconds=args.shrink_seconds)


def _promote(args) -> int:
    from hakmem_verify.runner import run as runner
    from hakmem_verify.contract.cli import unwritable_dir, usage_error
    problem = unwritable_dir(args.to, "--to")
    if problem:
        return usage_error("hakmem-fuzz promote", problem)
    _, refused = runner.promote(args.files, args.to)
    return EXIT_USAGE if refused else 0


def _mutants(argv) -> int:
    try:
        from . import mutants as mutants_cmd
    except ImportError as exc:
        if getattr(exc, "name", None) not in ("hakmem_verify.cli.mutants", None):
            raise
        sys.stderr.write("hakmem-fuzz mutants: hakmem_verify.cli.mutants is not available in this "
                         f"installation ({exc}); 'hakmem-fuzz run --list' lists the planted "
                         "bugs\n")
        return EXIT_USAGE
    return mutants_cmd.main(argv)


#: flags of ``mutate`` that only the C path has: any of them selects it
C_MUTATE_FLAGS = ("--c-file", "--build", "--prefix", "--adapter", "--stress", "--build-timeout")


def _mutate(argv) -> int:
    """``mutate``: Python files (``cli.mutate``, ``hakmem_verify.mutate.run``), or with
    ``--c-file`` a C allocator (``hakmem_verify.mutate.c_run``); ``--help`` shows both."""
    from hakmem_verify.mutate import c_run as mutate_c_run

    from . import mutate as mutate_cmd
    if any(a.split("=", 1)[0] in C_MUTATE_FLAGS for a in argv):
        return mutate_c_run.main(argv)
    if "-h" in argv or "--help" in argv:
        code = mutate_cmd.main(["--help"])
        sys.stdout.write("\nMutating a C allocator (hakmem-fuzz mutate --c-file FILE ...):\n\n"
                         + mutate_c_run.parser().format_help())
        return code
    return mutate_cmd.main(argv)


def main(argv=None) -> int:
    """Run one subcommand; every one keeps the exit statuses of EXIT_CODES."""
    from hakmem_verify.contract.cli import interrupted, sigterm_as_interrupt
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        with sigterm_as_interrupt():
            return _dispatch(argv)
    except KeyboardInterrupt:
        name = " ".join(["hakmem-fuzz"] + argv[:1])
        return interrupted(name, "stopped before it finished; run it again to complete it")


def _dispatch(argv) -> int:
    if argv and argv[0] == "mutants":
        return _mutants(argv[1:])
    if argv and argv[0] == "invariants":
        from . import invariants as invariants_cmd
        return invariants_cmd.main(argv[1:])
    if argv and argv[0] == "mutate":
        return _mutate(argv[1:])
    parser = build_parser()
    if not argv:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:          # --help (0) or a usage error (2, message on stderr)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command == "run":
        try:
            return _run(args, args.subparser)
        except SystemExit as exc:      # a usage error found after parsing
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command == "promote":
        return _promote(args)
    if args.command == "merge-reports":
        return _merge_reports(args)
    if args.command == "contracts":
        from . import contracts as contracts_cmd
        return contracts_cmd.main(args)
    if getattr(args, "handler", None):   # subcommands registered by their own modules
        return args.handler(args)
    parser.error(f"unknown command {args.command!r}")   # pragma: no cover
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
