"""The nightly runner: the lockstep and the concurrent machine on every core until the
budget ends.

``run(params)`` starts ``params["workers"]`` processes (``hakmem_verify.runner.worker``),
each hunting on its own seed stream with a shared Hypothesis example
database.  Each worker splits its time between the lockstep machine (the
reference and the fast model in lockstep, ``hakmem_verify.explore.hunt``) and the concurrent
machine (threads whose atomic steps interleave, ``hakmem_verify.runner.concurrent``):
``concurrent_share`` of it, a third by default, goes to the concurrent one
(``split``: an implementation other than hakmem_verify.models.fast runs the lockstep machine
only; a planted race runs the concurrent machine only, a sequential planted
bug the lockstep one).  A failure is shrunk for at most ``shrink_seconds`` of
wall-clock time; then the smallest example found so far is kept and the
report says shrinking was cut.  The parent gathers what the workers send
through one queue: progress (a live
line on stderr), failures (each already shrunk, with a runnable reproducer
in ``<report>/reproducers/``) and the end of each worker.  It always writes
``report.json`` and ``report.md`` (``hakmem_verify.report.run``), also when it is
stopped by Ctrl-C or SIGTERM or a worker crashes.

Before any worker starts, ``hakmem_verify.runner.db.check`` proves the report
directory and the databases usable; if not, the run exits 2 having done
nothing.  Reproducers of the previous run in the same report directory are
moved to ``reproducers.previous/`` (one generation), so ``reproducers/``
holds this run's only.

Stopping: at the deadline, at the first failure of a ``--mutant`` run, or on
the first SIGINT/SIGTERM the shared stop event is set; workers return at the
end of their current chunk.  A worker still busy ``GRACE`` seconds later (by
default 30 s past the shrink budget), or any worker after a second signal, is terminated; what it
found so far is in the example database and is replayed first next time.

Exit status (``EXIT_*``): 0 clean, the full budget run; 1 a failure found
(a HANG included), even if the run was also cut short; 2 usage error or an
unusable environment, nothing run; 3 interrupted or incomplete (a signal, a
worker crashed or terminated) with the report written.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_mod
import random
import shutil
import signal
import sys
import time

from . import db as runner_db
from hakmem_verify.report import run as runner_report
from .campaign import Campaign
from .worker import worker_main
from hakmem_verify.explore.watchdog import OP_TIMEOUT
from hakmem_verify.oracle.lockstep import L3_EVERY

EXIT_CLEAN, EXIT_FAILURE, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3
GRACE = None                      # seconds a worker may take to stop after the stop event;
#                                   None: 30 s more than the shrink budget, at least 60 s
LOCAL_DB = os.environ.get("HAKMEM_DB") or os.path.join(".hypothesis", "hakmem-examples")
DEFAULTS = {
    "minutes": 1.0, "workers": None, "seed": None, "db": LOCAL_DB, "db_local": LOCAL_DB,
    "db_shared": None, "report": "fuzz-report", "machines": ["any"], "mutant": None,
    "impl": None, "tier": None,
    "promote": False, "regressions": os.path.join("tests", "regressions"), "chunk": 10,
    "steps": 50, "l3_every": L3_EVERY, "op_timeout": OP_TIMEOUT, "shard": None,
    "progress_every": None, "quiet": False, "concurrent_share": 1.0 / 3.0,
    "shrink_seconds": 60.0,
}
FAST = "hakmem_verify.models.fast:FastAllocator"


def default_params(**overrides) -> dict:
    """The parameters of a run: DEFAULTS, with workers = all cores and a fresh seed."""
    params = dict(DEFAULTS, **{k: v for k, v in overrides.items() if v is not None})
    params["workers"] = params["workers"] or os.cpu_count() or 1
    if params["seed"] is None:
        params["seed"] = random.SystemRandom().randrange(1_000_000_000)
    return params


# ============================================================================
# The run
# ============================================================================


def _tier(impl: str) -> str:
    from hakmem_verify.explore.impl import load_impl
    return load_impl(impl).tier


def split(params: dict) -> dict:
    """``params`` with the split between the machines settled: ``concurrent_share`` (0 to
    1), and ``concurrent_note`` / ``lockstep_note`` saying why a machine does not run."""
    params = dict(params)
    share = params.get("concurrent_share") or 0.0
    impl, mutant = params.get("impl"), params.get("mutant")
    if share > 0 and impl and impl != FAST and _tier(impl) != "white-box":
        params["concurrent_share"] = 0.0
        params["concurrent_note"] = (f"--impl {impl}: the concurrent machine interleaves the "
                                     f"step generators of hakmem_verify.contract.api.Steps, which a "
                                     f"{_tier(impl)} implementation does not offer, so this "
                                     f"run checks {impl} with the "
                                     f"{'malloc' if impl.startswith('malloc:') else 'lockstep'}"
                                     f" machine alone")
    elif 0 < share < 1 and mutant:
        from hakmem_verify.planted.races import RACES
        if mutant in RACES:
            params["concurrent_share"], params["concurrent_first"] = 1.0, True
            params["lockstep_note"] = (f"the planted race {mutant} shows only when threads "
                                       "interleave: the concurrent machine hunts it")
        else:
            params["concurrent_share"] = 0.0
            params["concurrent_note"] = (f"the planted bug {mutant} is sequential: the "
                                         "lockstep machine hunts it")
    return params


def run(params: dict, target=worker_main) -> int:
    """Run a campaign with ``params`` (see ``default_params``); returns the exit status."""
    params = split(params)
    try:
        db_check = runner_db.check(params)
    except runner_db.DatabaseError as exc:
        sys.stderr.write(f"hakmem-fuzz: {exc}\nNothing was run (exit status {EXIT_USAGE}).\n")
        return EXIT_USAGE
    if db_check["corrupt"]:
        sys.stderr.write(f"hakmem-fuzz: warning: {len(db_check['corrupt'])} corrupt entries in "
                         f"--db {params['db']} (listed in the report); Hypothesis drops them "
                         "when it next reads their key\n")
    _rotate_reproducers(params["report"])
    params["deadline"] = time.time() + params["minutes"] * 60.0
    _preload()
    camp = Campaign(params)
    camp.db_check = db_check
    db_files_before = _count_files(params["db"])
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    q = ctx.Queue()
    stop_event = ctx.Event()
    procs: list = []
    old_handlers = _install_signals(camp, stop_event, procs)
    try:
        for i in range(params["workers"]):
            p = ctx.Process(target=target, args=(i, params, q, stop_event),
                            name=f"hakmem-fuzz-worker-{i}", daemon=True)
            p.start()
            procs.append(p)
            camp.workers[i].update(pid=p.pid, status="running")
        _supervise(camp, procs, q, stop_event)
    finally:
        stop_event.set()
        _wind_down(camp, procs, q)
        _restore_signals(old_handlers)
        camp.finished = time.time()
        if not params.get("quiet"):
            sys.stderr.write(("\r" if sys.stderr.isatty() else "") + camp.progress_line() + "\n")
        promoted = _promote_found(camp) if params.get("promote") else None
        report = runner_report.build(camp, db_files_before, _count_files(params["db"]),
                                     promoted)
        if params.get("coverage"):
            from .coverage import summarize
            report["impl_coverage"] = summarize(params)
        try:
            paths = runner_report.write(report, params["report"])
        except OSError as exc:
            sys.stderr.write(f"hakmem-fuzz: could not write the report in {params['report']}: "
                             f"{exc}; the summary below is all there is\n")
            paths = ("(not written)", "(not written)")
            report["exit_status"] = max(report["exit_status"], EXIT_INCOMPLETE) \
                if report["exit_status"] != EXIT_FAILURE else EXIT_FAILURE
        if not params.get("quiet"):
            _print(runner_report.summary(report, paths))
        for line in runner_report.loud_lines(report):
            sys.stderr.write(line + "\n")
    return report["exit_status"]


def _print(text: str) -> None:
    """Print to stdout; a closed pipe (``| head``) is not an error."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass


def _rotate_reproducers(report_dir: str) -> None:
    """Move the previous run's reproducers to reproducers.previous/ (one generation)."""
    cur = os.path.join(report_dir, "reproducers")
    if not os.path.isdir(cur) or not os.listdir(cur):
        return
    prev = os.path.join(report_dir, "reproducers.previous")
    shutil.rmtree(prev, ignore_errors=True)
    os.replace(cur, prev)
    sys.stderr.write(f"hakmem-fuzz: moved the previous run's reproducers to {prev}/ "
                     f"({reproducers_hint()})\n")


def reproducers_hint() -> str:
    return ("promote the ones you want to keep with 'hakmem-fuzz promote FILE...'; the next "
            "run replaces that directory")


def _preload() -> None:
    """Import the machines before forking, so workers start hunting at once."""
    from hakmem_verify.explore import hunt  # noqa: F401
    from hakmem_verify import planted

    from . import concurrent, concurrent_repro, replay  # noqa: F401
    planted.names()


def _supervise(camp: Campaign, procs, q, stop_event) -> None:
    """Gather messages and print progress until every worker ended or the run must stop."""
    params = camp.params
    every = params.get("progress_every") or (2.0 if sys.stderr.isatty() else 30.0)
    next_line = time.time() + every
    while any(p.is_alive() for p in procs) or not q.empty():
        _drain(camp, q, timeout=0.25)
        _reap(camp, procs, q)
        now = time.time()
        if camp.stop_reason is None:
            if now >= params["deadline"]:
                camp.stop_reason = "budget"
            elif params["mutant"] and camp.failures:
                camp.stop_reason = "first failure of a --mutant run"
        if camp.stop_reason is not None:
            return                # _wind_down waits for the workers to return
        if now >= next_line and not params.get("quiet"):
            tty = sys.stderr.isatty()
            sys.stderr.write(("\r" if tty else "") + camp.progress_line() + ("" if tty else "\n"))
            sys.stderr.flush()
            next_line = now + every
    camp.stop_reason = camp.stop_reason or "every worker ended"


def _drain(camp: Campaign, q, timeout: float) -> None:
    try:
        camp.handle(q.get(timeout=timeout))
        while True:
            camp.handle(q.get_nowait())
    except queue_mod.Empty:
        pass
    except (EOFError, OSError):   # a worker died while writing to the queue
        pass


def _reap(camp: Campaign, procs, q) -> None:
    """Mark workers that ended without saying so (killed, or died in the interpreter)."""
    ended = [i for i, p in enumerate(procs) if p.exitcode is not None]
    if any(camp.workers[i]["status"] in ("running", "starting") for i in ended):
        _drain(camp, q, timeout=0.1)      # an ended worker's last messages are in the pipe
    for i in ended:
        w, code = camp.workers[i], procs[i].exitcode
        w["exitcode"] = code
        if w["status"] in ("running", "starting"):
            w["status"] = "crashed"
            w["error"] = w["error"] or _exit_text(code)


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code} without a result"


def _wind_down(camp: Campaign, procs, q) -> None:
    """Wait for the workers (GRACE at most, none after a second signal), then terminate."""
    grace = GRACE if GRACE is not None else \
        max(60.0, (camp.params.get("shrink_seconds") or 0.0) + 30.0)    # a shrink ends
    limit = time.time() + (0 if camp.signals >= 2 else grace)
    while any(p.is_alive() for p in procs) and time.time() < limit and camp.signals < 2:
        _drain(camp, q, timeout=0.2)
    for i, p in enumerate(procs):
        if p.is_alive():
            p.terminate()
            p.join(2)
            if p.is_alive():
                p.kill()
            w = camp.workers[i]
            if w["status"] in ("running", "starting"):
                w["status"] = "terminated"
                w["error"] = ("did not stop in time (a long shrink?) and was terminated; its "
                              "totals are from its last progress message, and a failure it "
                              "was shrinking is in the example database, replayed first by "
                              "the next run")
    for p in procs:
        p.join(5)
    _drain(camp, q, timeout=0.05)
    _reap(camp, procs, q)


def _install_signals(camp: Campaign, stop_event, procs):
    """SIGINT/SIGTERM: the first stops the workers cleanly, a second terminates them."""
    def handler(signum, _frame):
        camp.signals += 1
        if camp.stop_reason is None or camp.stop_reason == "budget":
            camp.stop_reason = signal.Signals(signum).name
        stop_event.set()
        if camp.signals >= 2:
            for p in procs:
                if p.is_alive():
                    p.terminate()
    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            old[sig] = signal.signal(sig, handler)
        except ValueError:        # not the main thread: no handlers, the stop event still works
            pass
    return old


def _restore_signals(old) -> None:
    for sig, h in old.items():
        signal.signal(sig, h)


def _count_files(path) -> int:
    if not path or not os.path.isdir(path):
        return 0
    return sum(len(files) for _, _, files in os.walk(path))


# ============================================================================
# Promotion of reproducers into tests/regressions
# ============================================================================


def reproducer_mutant(path: str):
    """The MUTANT named in a reproducer file (None for a clean-code failure)."""
    with open(path) as f:
        for line in f:
            if line.startswith("MUTANT = "):
                value = line[len("MUTANT = "):].strip()
                return None if value == "None" else value.strip("'\"")
    raise ValueError(f"{path} is not a hakmem-fuzz reproducer (no MUTANT line); "
                     "promote the test_repro_*.py files of a report's reproducers/ directory")


def promote(paths, dest: str, out=None, err=None) -> tuple:
    """Copy reproducers into ``dest``; returns (copied, refused) lists of paths."""
    out, err = out or sys.stdout, err or sys.stderr
    copied, refused = [], []
    for path in paths:
        try:
            mutant = reproducer_mutant(path)
        except OSError as exc:
            err.write(f"hakmem-fuzz promote: cannot read {path}: {exc.strerror}\n")
            refused.append(path)
            continue
        except ValueError as exc:
            err.write(f"hakmem-fuzz promote: {exc}\n")
            refused.append(path)
            continue
        if mutant is not None:
            err.write(f"hakmem-fuzz promote: refusing {path}: it fails only under the planted "
                      f"bug {mutant!r}, so as a regression test it would always pass; "
                      "promote reproducers of failures found on the real code\n")
            refused.append(path)
            continue
        os.makedirs(dest, exist_ok=True)
        target = os.path.join(dest, os.path.basename(path))
        shutil.copyfile(path, target)
        out.write(f"promoted {path} -> {target}\n")
        copied.append(target)
    return copied, refused


def _promote_found(camp: Campaign) -> dict:
    files = [f["reproducer"] for f in camp.failures if f.get("reproducer")]
    copied, refused = promote(files, camp.params["regressions"])
    return {"dest": camp.params["regressions"], "copied": copied, "refused": refused}
