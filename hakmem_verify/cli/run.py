"""The options of ``hakmem-fuzz run`` (``hakmem_verify.cli.main`` adds its subparser with
:func:`add_run_parser`), with the argparse types that check them."""
from __future__ import annotations

import argparse
import os


def _positive_minutes(text: str) -> float:
    """The argparse type of --minutes: a finite number > 0."""
    from hakmem_verify.contract.cli import converted
    value = converted(float, text, "--minutes", "a number")
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"--minutes must be > 0 (fractions allowed, "
                                         f"e.g. 0.5), got {text!r}")
    return value


def _seconds(flag: str, *, zero_ok: bool = False):
    """An argparse type: a finite number of seconds > 0 (>= 0 with ``zero_ok``)."""
    from hakmem_verify.contract.cli import number
    return number(flag, zero_ok=zero_ok, kind="a number of seconds")


def _shard(text: str) -> tuple:
    """The argparse type of --shard: K/N as (K, N), 1 <= K <= N."""
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard must be K/N, e.g. 2/4, got {text!r}") \
            from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"--shard K/N needs 1 <= K <= N, got {text!r}")
    return (k, n)


def _at_least(low: int, flag: str):
    """An argparse type: an integer >= ``low`` (``hakmem_verify.contract.cli.at_least``)."""
    from hakmem_verify.contract.cli import at_least
    return at_least(low, flag)


def _database(flag: str):
    """An argparse type: a directory, '' for none, or a redis://, rediss://, unix:// URL."""
    def parse(text: str) -> str:
        from hakmem_verify.runner.db import is_url
        if "://" in text and not is_url(text):
            raise argparse.ArgumentTypeError(
                f"{flag} {text!r}: unsupported URL; give a directory, '' for none, or "
                f"redis://HOST:PORT/N")
        return text
    return parse


def add_run_parser(sub, exit_codes: str) -> argparse.ArgumentParser:
    """Add the ``run`` subparser, with every option of the runner, to ``sub`` (its
    epilog: ``exit_codes``); returns it (also as its own ``subparser`` default, for the
    usage errors found after parsing)."""
    from hakmem_verify.runner.run import DEFAULTS
    from hakmem_verify.runner.worker import FAMILIES
    r = sub.add_parser("run", help="fuzz the lockstep and the concurrent machine on every "
                       "core, write a report",
                       description="Run the lockstep machine (reference vs fast model) and "
                       "the concurrent machine (threads whose atomic steps interleave) across "
                       "worker processes until the budget ends: two thirds of each worker's "
                       "time to the lockstep machine, one third to the concurrent one, unless "
                       "--machine chooses. Failures (a HANG included) are shrunk for at most "
                       "--shrink-seconds, saved to the example database and written as "
                       "runnable pytest reproducers.", epilog=exit_codes)
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
                        "machine only (hakmem_verify/oracle/concurrent.py, one process, random schedules)")
    r.add_argument("--shrink-seconds", type=_seconds("--shrink-seconds", zero_ok=True),
                   dest="shrink_seconds",
                   default=DEFAULTS["shrink_seconds"], metavar="SECONDS",
                   help="wall-clock budget for shrinking a failure; then the smallest "
                        "failing example found so far is kept, its reproducer written and "
                        "the report says shrinking was cut (default: %(default)s)")
    from hakmem_verify.explore.impl import add_impl_argument
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
    r.add_argument("--op-timeout", type=_seconds("--op-timeout"), dest="op_timeout",
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
    return r


__all__ = ["add_run_parser"]
