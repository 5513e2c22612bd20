"""hakmem-fuzz: fuzz the hakmem tiny-pool design against its reference, in lockstep.

    hakmem-fuzz run [--minutes M] [--workers N] [--seed S] [--shard K/N] [--db PATH_OR_URL]
                    [--db-shared PATH_OR_URL] [--report DIR] [--machine NAME]...
                    [--mutant NAME] [--op-timeout S] [--shrink-seconds S] [--promote]
                    [--list]
    hakmem-fuzz promote FILE... [--to DIR]
    hakmem-fuzz merge-reports DIR... [--out DIR]
    hakmem-fuzz contracts [--per-condition-timeout S] [crosshair options]
    hakmem-fuzz mutants ...          (see fuzz.mutants_cmd)
    hakmem-fuzz invariants [--json]  (see fuzz.invariants_cmd)
    hakmem-fuzz mutate --files GLOB  (see fuzz.mutate_run)
    hakmem-fuzz mutate --c-file FILE --build CMD --prefix P  (see fuzz.mutate_c_run)
    hakmem-fuzz replay ... / explore ...   (see fuzz.replay_cmd, fuzz.explore)
    hakmem-fuzz stress --impl native|malloc:LIB ...   (see fuzz.stress_cmd)
    hakmem-fuzz compare [--impl ...]...    (see fuzz.compare_cmd)

``run`` is the nightly runner (``fuzz.runner``); with no options it is a
short campaign of one minute on every core with a report in ``fuzz-report/``.
"""
from __future__ import annotations

import argparse
import os
import sys

EXIT_USAGE = 2
DESCRIPTION = ("Fuzz the hakmem tiny-pool design: Hypothesis drives the fast model "
               "(hakmem_fast) and the reference allocator (hakmem_ref) through the same ops "
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


def _positive_minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--minutes must be a number, got {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"--minutes must be > 0 (fractions allowed, "
                                         f"e.g. 0.5), got {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--op-timeout must be a number of seconds, got "
                                         f"{text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"--op-timeout must be > 0, got {text!r}")
    return value


def _non_negative_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shrink-seconds must be a number of seconds, "
                                         f"got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"--shrink-seconds must be >= 0, got {text!r}")
    return value


def _shard(text: str) -> tuple:
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard must be K/N, e.g. 2/4, got {text!r}") \
            from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"--shard K/N needs 1 <= K <= N, got {text!r}")
    return (k, n)


def _at_least(low: int, flag: str):
    from fuzz.cli_contract import at_least
    return at_least(low, flag)


def _database(flag: str):
    """An argparse type: a directory, '' for none, or a redis://, rediss://, unix:// URL."""
    def parse(text: str) -> str:
        from fuzz.runner_db import is_url
        if "://" in text and not is_url(text):
            raise argparse.ArgumentTypeError(
                f"{flag} {text!r}: unsupported URL; give a directory, '' for none, or "
                f"redis://HOST:PORT/N")
        return text
    return parse


def build_parser() -> argparse.ArgumentParser:
    from fuzz.runner import DEFAULTS
    from fuzz.runner_worker import FAMILIES
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
    r = sub.add_parser("run", help="fuzz the lockstep and the concurrent machine on every "
                       "core, write a report",
                       description="Run the lockstep machine (reference vs fast model) and "
                       "the concurrent machine (threads whose atomic steps interleave) across "
                       "worker processes until the budget ends: two thirds of each worker's "
                       "time to the lockstep machine, one third to the concurrent one, unless "
                       "--machine chooses. Failures (a HANG included) are shrunk for at most "
                       "--shrink-seconds, saved to the example database and written as "
                       "runnable pytest reproducers.", epilog=EXIT_CODES)
    r.add_argument("--minutes", type=_positive_minutes, default=DEFAULTS["minutes"],
                   help="time budget in minutes, fractions allowed (default: %(default)s)")
    r.add_argument("--workers", type=_at_least(1, "--workers"), default=None,
                   help=f"worker processes (default: all cores, {os.cpu_count()} here)")
    r.add_argument("--seed", type=_at_least(0, "--seed"), default=None,
                   help="base seed: worker i uses seeds S + i*1000000 + k (default: random, "
                        "printed in the report)")
    r.add_argument("--shard", type=_shard, default=None, metavar="K/N",
                   help="this machine is shard K of N of one campaign: disjoint seeds (give "
                        "every shard the same --seed); merge the reports with "
                        "'hakmem-fuzz merge-reports'")
    r.add_argument("--db", type=_database("--db"), default=DEFAULTS["db"],
                   metavar="PATH_OR_URL",
                   help="example database shared by the workers and by later runs: a "
                        "directory, or redis://HOST:PORT/N for a team (extra 'redis'); '' for "
                        "none. Checked writable before the run (default: $HAKMEM_DB, else "
                        ".hypothesis/hakmem-examples; here %(default)s)")
    r.add_argument("--db-local", default=DEFAULTS["db_local"], metavar="PATH",
                   help="with a redis:// --db: the directory that keeps the saves Redis "
                        "refuses (default: %(default)s)")
    r.add_argument("--db-shared", type=_database("--db-shared"), default=None,
                   metavar="PATH_OR_URL",
                   help="a read-only database replayed after --db, e.g. a copy of the "
                        "nightly database in CI; never written")
    r.add_argument("--report", default=DEFAULTS["report"], metavar="DIR",
                   help="report directory: report.json, report.md, reproducers/ "
                        "(default: %(default)s)")
    r.add_argument("--machine", action="append", metavar="NAME", dest="machines",
                   help=f"default: both machines, the lockstep one (config family any) for "
                        f"two thirds of the budget and the concurrent one for a third. A "
                        f"config family, repeatable ({', '.join(FAMILIES)}): the lockstep "
                        "machine only, on those families; 'concurrent' alone: the concurrent "
                        "machine only (specs/concurrent.py, one process, random schedules)")
    r.add_argument("--shrink-seconds", type=_non_negative_seconds, dest="shrink_seconds",
                   default=DEFAULTS["shrink_seconds"], metavar="SECONDS",
                   help="wall-clock budget for shrinking a failure; then the smallest "
                        "failing example found so far is kept, its reproducer written and "
                        "the report says shrinking was cut (default: %(default)s)")
    from fuzz.impl import add_impl_argument
    add_impl_argument(r)
    r.add_argument("--mutant", metavar="NAME",
                   help="apply this planted bug in every worker and stop at its first kill "
                        "(tests the runner itself; see --list)")
    r.add_argument("--promote", action="store_true",
                   help="copy the reproducers of the failures found into --regressions "
                        "(refused for --mutant runs: they fail only under the planted bug)")
    r.add_argument("--regressions", default=DEFAULTS["regressions"], metavar="DIR",
                   help="where --promote copies reproducers (default: %(default)s)")
    r.add_argument("--chunk", type=_at_least(1, "--chunk"), default=DEFAULTS["chunk"],
                   help="examples per Hypothesis run, one seed each (default: %(default)s)")
    r.add_argument("--steps", type=_at_least(1, "--steps"), default=DEFAULTS["steps"],
                   help="max steps per example (default: %(default)s)")
    r.add_argument("--l3-every", type=_at_least(1, "--l3-every"), dest="l3_every",
                   default=DEFAULTS["l3_every"],
                   help="run the L3 (whole heap) invariants every N ops (default: %(default)s)")
    r.add_argument("--op-timeout", type=_positive_seconds, dest="op_timeout",
                   default=DEFAULTS["op_timeout"], metavar="SECONDS",
                   help="per-op watchdog: an op still running after this long is a HANG "
                        "finding (default: %(default)s)")
    r.add_argument("--progress-every", type=float, default=None, metavar="SECONDS",
                   help="progress line interval on stderr (default: 2 on a terminal, else 30)")
    r.add_argument("--coverage", action="store_true",
                   help="line and branch coverage of the implementation's own Python modules "
                        "(its package), with the lines never reached, in the report "
                        "(coverage.py: pip install -e '.[coverage]')")
    r.add_argument("--list", action="store_true",
                   help="list the machine families and the planted bugs, then exit")
    r.set_defaults(subparser=r)

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
    from fuzz import explore, replay_cmd
    replay_cmd.register(sub)           # replay (fuzz/replay_cmd.py)
    explore.register(sub)              # explore (fuzz/explore.py)
    from fuzz import stress_cmd
    stress_cmd.register(sub)           # stress (fuzz/stress_cmd.py, the C pool on pthreads)
    from fuzz import compare_cmd
    compare_cmd.register(sub)          # compare (fuzz/compare_cmd.py, C allocators side by side)
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
    from fuzz import runner_merge
    from fuzz.cli_contract import unwritable_dir, usage_error
    problem = unwritable_dir(args.out, "--out")
    if problem:
        return usage_error("hakmem-fuzz merge-reports", problem)
    return runner_merge.main(args.dirs, args.out)


def _add_contracts(sub) -> None:
    c = sub.add_parser("contracts", help="check the CrossHair contracts of the pure cores "
                       "and count the conditions confirmed",
                       description="Run 'crosshair check --report_all' on "
                       "the contracts (specs/contracts/: bitmap.py, minimag.py, counters.py), "
                       "print each condition's verdict as it comes and a "
                       "count: checked, confirmed over all paths, not confirmed in the time "
                       "budget, failed. Exit status: 0 none failed, 1 a condition failed, "
                       "2 CrossHair missing or a bad value, 3 interrupted (the count so "
                       "far is printed).")
    from fuzz.cli_contract import number, positive_int
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
                        "modules of specs/contracts/)")


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
    from fuzz.mutants import hang as mutants     # the catalogue and the planted hangs
    from fuzz.runner_worker import FAMILIES
    out.write("machine families (--machine):\n")
    for name, attr in FAMILIES.items():
        out.write(f"  {name:<8} specs.machines.{attr}\n")
    out.write("  concurrent specs.concurrent (threads interleaved; alone, or a third of the "
              "default run)\n")
    out.write("planted bugs (--mutant):\n")
    for name in mutants.names():
        m = mutants.get(name)
        if getattr(m, "c_name", None):          # compiled into the C pool: --impl runs it
            continue
        tag = "equivalent, cannot be killed" if m.equivalent else \
            "expect " + ", ".join(m.expect) if m.expect else ""
        out.write(f"  {name:<34} {tag}\n")
    out.write("the C pool's compile-time mutants: --impl hakmem_native.mutants:NAME "
              "(hakmem-fuzz mutants --list)\n")
    return 0


def _run(args, parser) -> int:
    from fuzz import runner
    from fuzz.mutants import hang as mutants     # the catalogue and the planted hangs
    from fuzz.runner_worker import FAMILIES
    if args.list:
        return _list()
    from fuzz.mutants.races import RACES
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
        from fuzz.mutants import native
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
    from fuzz.impl import resolve_or_exit
    impl = resolve_or_exit(args.impl)          # prints the banner; exit 2 if unusable
    if args.mutant is not None and impl.spec != "hakmem_fast:FastAllocator":
        parser.error(f"--mutant plants bugs in hakmem_fast; it cannot apply to --impl "
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
        impl=None if impl.spec == "hakmem_fast:FastAllocator" else impl.spec,
        shrink_seconds=args.shrink_seconds)
    params["concurrent_share"] = share         # 0 is a value, not "use the default"
    if args.coverage:
        from fuzz.runner_coverage import CoverageError, check
        try:
            params["coverage"] = check(impl.spec)
        except CoverageError as exc:
            parser.exit(EXIT_USAGE, f"hakmem-fuzz run: error: {exc}. Nothing was run (exit "
                                    f"status {EXIT_USAGE}).\n")
    return runner.run(params)


def _unwritable_outputs(args):
    """The first of --report, a directory --db, --regressions (with --promote) that cannot
    be written, as one line; None when all can."""
    from fuzz.cli_contract import first_unwritable
    from fuzz.runner_db import is_url
    db = args.db if args.db and not is_url(args.db) else None
    return first_unwritable(dirs=[(args.report, "--report"), (db, "--db"),
                                  (args.regressions if args.promote else None,
                                   "--regressions")])


def _run_concurrent(args, parser) -> int:
    """``--machine concurrent``: random concurrent rounds in this process (exit 0 clean,
    1 finding, 2 usage)."""
    from fuzz import mutants
    from fuzz.concurrent_run import cli_run
    from fuzz.mutants.races import RACES
    if args.machines != ["concurrent"]:
        parser.error("--machine concurrent runs alone (its rounds are not lockstep examples); "
                     "drop --machine for the default run, which splits the budget between "
                     "the lockstep machine (family any) and the concurrent machine")
    if args.mutant is not None and args.mutant not in RACES and \
            args.mutant not in mutants.names():
        parser.error(f"unknown --mutant {args.mutant!r}; the planted races are "
                     f"{', '.join(RACES)}")
    return cli_run(args.minutes, args.seed, args.mutant, report=args.report, impl=args.impl,
                   shrink_seconds=args.shrink_seconds)


def _promote(args) -> int:
    from fuzz import runner
    from fuzz.cli_contract import unwritable_dir, usage_error
    problem = unwritable_dir(args.to, "--to")
    if problem:
        return usage_error("hakmem-fuzz promote", problem)
    _, refused = runner.promote(args.files, args.to)
    return EXIT_USAGE if refused else 0


def _mutants(argv) -> int:
    try:
        from fuzz import mutants_cmd
    except ImportError as exc:
        if getattr(exc, "name", None) not in ("fuzz.mutants_cmd", None):
            raise
        sys.stderr.write("hakmem-fuzz mutants: fuzz.mutants_cmd is not available in this "
                         f"installation ({exc}); 'hakmem-fuzz run --list' lists the planted "
                         "bugs\n")
        return EXIT_USAGE
    return mutants_cmd.main(argv)


#: flags of ``mutate`` that only the C path has: any of them selects it
C_MUTATE_FLAGS = ("--c-file", "--build", "--prefix", "--adapter", "--stress", "--build-timeout")


def _mutate(argv) -> int:
    """``mutate``: Python files (fuzz.mutate_run), or with ``--c-file`` a C allocator
    (fuzz.mutate_c_run); ``--help`` shows both."""
    from fuzz import mutate_c_run, mutate_run
    if any(a.split("=", 1)[0] in C_MUTATE_FLAGS for a in argv):
        return mutate_c_run.main(argv)
    if "-h" in argv or "--help" in argv:
        code = mutate_run.main(["--help"])
        sys.stdout.write("\nMutating a C allocator (hakmem-fuzz mutate --c-file FILE ...):\n\n"
                         + mutate_c_run.parser().format_help())
        return code
    return mutate_run.main(argv)


def main(argv=None) -> int:
    """Run one subcommand; every one keeps the exit statuses of EXIT_CODES."""
    from fuzz.cli_contract import interrupted, sigterm_as_interrupt
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
        from fuzz import invariants_cmd
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
        from fuzz import contracts_cmd
        return contracts_cmd.main(args)
    if getattr(args, "handler", None):   # subcommands registered by their own modules
        return args.handler(args)
    parser.error(f"unknown command {args.command!r}")   # pragma: no cover
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
