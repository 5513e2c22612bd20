"""One worker process of ``hakmem-fuzz run``: hunt on its own seed stream, report back.

A worker alternates slices of the two machines (``plan``): the lockstep
machine, ``hakmem_verify.explore.hunt.hunt`` from seed ``seed_start(params, index)`` upwards
(one Hypothesis chunk per seed), and the concurrent machine,
``hakmem_verify.runner.concurrent.run_concurrent`` (random rounds under random
schedules), both under the planted bug when the run names one, until its
first failure, the shared stop event, or the end of the budget.  Slice k
starts at seed ``seed_start + k * SLICE_SEEDS``.  Shrinking is bounded by
``params["shrink_seconds"]`` of wall-clock time in both machines.  Each op runs under the per-op watchdog (``--op-timeout``): an op
that never returns is a ``HANG`` failure.  It talks to the parent only through a ``multiprocessing.Queue`` of
plain tuples:

    ("progress", index, totals)       after every chunk (cumulative totals, the
                                      behaviours reached, the database's counts; the
                                      concurrent machine's under "concurrent")
    ("failure", index, failure)       the shrunk failure, its reproducer written
    ("done", index, totals)           the worker returned normally
    ("error", index, traceback_text)  an exception outside ``hunt``: a harness bug

Failures are saved to the example database (``hakmem_verify.runner.db``) under a key
namespaced by machine family and planted bug, so a clean run never replays a
trace that only fails under a planted bug.  Only worker 0 replays the
database (saved failures first, as Hypothesis does, then some of the
examples earlier runs kept for reaching a new behaviour); the others explore
fresh seeds.
"""
from __future__ import annotations

import os
import signal
import threading
import time
import traceback

from .failure import POST_SHRINK_OVER, failure_name, failure_record, post_shrink, totals_of

SEED_STRIDE = 1_000_000           # one seed stream per worker of every shard


def seed_start(params: dict, index: int) -> int:
    """First seed of worker ``index``: stream ``index * N + K - 1`` of shard K/N.

    Streams of different (shard, worker) pairs never overlap, whatever the number of
    workers on each machine; without --shard (1/1) worker i uses stream i.
    """
    k, n = params.get("shard") or (1, 1)
    return params["seed"] + (index * n + k - 1) * SEED_STRIDE

FAMILIES = {                      # --machine NAME -> attribute of hakmem_verify.explore.configs
    "any": "configs",
    "tiny": "tiny_configs",
    "small": "small_configs",
    "seed": "seed_configs",
    "deep": "deep_configs",       # and the deep-history rules: thousands of ops per example
}


# ============================================================================
# Config strategies and the example database
# ============================================================================


def config_strategy(machines, mutant=None, impl=None):
    """The Config strategy of a run: the mutant's own, else the union of the families.
    A clean run of the fast model draws both of its modes (default and SuperSlab, half
    each: ``hakmem_verify.explore.configs.both_modes``); a planted bug is hunted in the mode its
    catalogue entry names (the default mode unless it gives its own Configs), and another
    implementation gets the default mode."""
    from hypothesis import strategies as st

    from hakmem_verify.explore import configs as m
    if mutant:
        from hakmem_verify import planted as mutants
        if mutants.get(mutant).configs is not None:
            return mutants.get(mutant).configs
    parts = [getattr(m, FAMILIES[name]) for name in machines]
    if not mutant and impl in (None, "fast", "hakmem_verify.models.fast:FastAllocator"):
        parts = [m.both_modes(part) for part in parts]
    return parts[0] if len(parts) == 1 else st.one_of(*parts)


def namespace(machines, mutant=None, impl=None) -> bytes:
    """Database key prefix of a run: ``hakmem-fuzz/<families>/<mutant or clean>/``, and
    ``.../impl=<module:factory>/`` for an implementation other than the fast model."""
    key = f"hakmem-fuzz/{'+'.join(sorted(machines))}/{mutant or 'clean'}/"
    if impl:
        key += f"impl={impl}/"
    return key.encode()


# ============================================================================
# The worker
# ============================================================================


def _quiet_profile() -> None:
    """Hypothesis settings of a worker, whatever the environment (CI selects a 'ci' profile)."""
    from hypothesis import Verbosity, settings
    settings.register_profile("hakmem-fuzz-worker", verbosity=Verbosity.quiet, deadline=None,
                              derandomize=False, print_blob=False)
    settings.load_profile("hakmem-fuzz-worker")


def worker_main(index: int, params: dict, queue, stop_event) -> None:
    """Process entry point: hunt until the first failure, the stop event or the deadline.

    The budget is split between the machines by ``plan(params)``: slices of the lockstep
    hunt and of concurrent rounds alternate, the concurrent ones taking
    ``params["concurrent_share"]`` of the time (0: the lockstep machine only)."""
    local_stop = threading.Event()
    signal.signal(signal.SIGINT, signal.SIG_IGN)        # the parent coordinates Ctrl-C
    signal.signal(signal.SIGTERM, lambda *_: local_stop.set())
    parent = os.getppid()
    started = (time.monotonic(), time.process_time())
    from . import coverage as runner_coverage
    cov = runner_coverage.start(params, index)       # --coverage: the impl's own lines
    try:
        _quiet_profile()
        from .db import worker_database
        mutant = params["mutant"]
        database = worker_database(params, namespace(params["machines"], mutant,
                                                     params.get("impl")),
                                   replay=(index == 0))

        def stop() -> bool:
            return local_stop.is_set() or stop_event.is_set() or os.getppid() != parent

        acc = _Totals()
        for k, (part, seconds) in enumerate(plan(params)):
            if stop() or time.time() >= params["deadline"]:
                break
            seconds = min(seconds, max(0.0, params["deadline"] - time.time()))
            if part == "lockstep":
                failure = _lockstep_slice(index, params, queue, database, stop, acc, k,
                                          seconds, started)
            else:
                failure = _concurrent_slice(index, params, queue, database, stop, acc, k,
                                            seconds, started)
            if failure is not None:
                queue.put(("failure", index, failure))
                if mutant:
                    stop_event.set()                      # one kill is all a mutant run needs
                break
        runner_coverage.finish(cov)
        queue.put(("done", index, acc.message(started, database)))
    except BaseException:  # reported to the parent, then the worker ends
        runner_coverage.finish(cov)
        queue.put(("error", index, traceback.format_exc()))
        raise SystemExit(1) from None


# ============================================================================
# The split between the lockstep and the concurrent machine
# ============================================================================

#: One cycle of the split, in seconds: a lockstep slice and a concurrent slice in the
#: proportion of ``concurrent_share`` (a short run is one cycle).
CYCLE = 90.0
#: Seeds a lockstep slice may use (one per chunk) before the next slice's seeds start
SLICE_SEEDS = 10_000


def plan(params: dict):
    """The slices of a worker: ``(part, seconds)`` pairs, ``part`` "lockstep" or
    "concurrent", until the budget ends.  With a share of 0 (or 1) one part runs the whole
    budget; otherwise each cycle of ``min(CYCLE, budget)`` seconds runs the lockstep part
    for (1 - share) of it and the concurrent part for the rest, the concurrent part first
    when ``params["concurrent_first"]``."""
    share = params.get("concurrent_share") or 0.0
    budget = max(0.0, params["deadline"] - time.time())
    if share <= 0:
        yield "lockstep", budget
        return
    if share >= 1:
        yield "concurrent", budget
        return
    cycle = min(params.get("cycle") or CYCLE, budget) or budget
    order = ("concurrent", "lockstep") if params.get("concurrent_first") else \
        ("lockstep", "concurrent")
    while True:
        for part in order:
            yield part, cycle * (share if part == "concurrent" else 1.0 - share)


class _Totals:
    """A worker's cumulative totals over its slices (lockstep and concurrent)."""

    def __init__(self):
        from collections import Counter
        self.lock = {"examples": 0, "steps": 0, "events": Counter(), "checks": Counter(),
                     "paths": Counter(), "behaviours": set(), "unsupported": Counter()}
        self.lock_s = 0.0
        self.conc = {"examples": 0, "schedules": 0, "steps": 0, "preemptions": 0,
                     "seconds": 0.0, "labels": Counter(), "preempted_after": Counter(),
                     "per_schedule": Counter(), "paths": Counter(), "slices": 0}

    def add_lockstep(self, rec_or_result, seconds: float) -> None:
        get = rec_or_result.get if isinstance(rec_or_result, dict) else \
            (lambda k: getattr(rec_or_result, k))
        for k in ("examples", "steps"):
            self.lock[k] += get(k)
        for k in ("events", "checks", "paths", "unsupported"):
            self.lock[k].update(get(k) or {})
        self.lock["behaviours"] |= set(get("behaviours"))
        self.lock_s += seconds

    def with_lockstep(self, rec, seconds: float) -> "_Totals":
        """A copy with a slice still running added (for its progress messages)."""
        import copy
        view = copy.deepcopy(self)
        view.add_lockstep(rec, seconds)
        return view

    def add_concurrent(self, rep) -> None:
        c = self.conc
        for k in ("examples", "schedules", "steps", "preemptions"):
            c[k] += getattr(rep, k)
        c["seconds"] += rep.seconds
        c["labels"].update(rep.labels)
        c["preempted_after"].update(rep.preempted_at)
        c["per_schedule"].update(rep.per_schedule)
        c["paths"].update(rep.paths)
        c["slices"] += 1

    def message(self, started: tuple, database=None) -> dict:
        out = totals_of(self.lock, started, database)
        out["lockstep_s"] = round(self.lock_s, 3)
        c = self.conc
        out["concurrent"] = {
            "examples": c["examples"], "schedules": c["schedules"], "steps": c["steps"],
            "preemptions": c["preemptions"], "seconds": round(c["seconds"], 3),
            "slices": c["slices"], "cas_retry": c["labels"].get("cas-retry", 0),
            "preempted_after": dict(c["preempted_after"]),
            "schedules_by_preemptions": {str(k): v for k, v in c["per_schedule"].items()},
            "steps_by_label": dict(c["labels"]), "paths": dict(c["paths"])}
        return out


def _lockstep_slice(index, params, queue, database, stop, acc, k, seconds, started):
    """One slice of the lockstep hunt; returns its failure record, or None."""
    from hakmem_verify.explore.hunt import hunt
    from hakmem_verify import planted as mutants
    from hakmem_verify.explore.concurrent_shrink import hypothesis_shrink_budget
    mutant = params["mutant"]
    t0 = time.monotonic()

    def on_chunk(rec) -> None:
        view = acc.with_lockstep(rec, time.monotonic() - t0)
        queue.put(("progress", index, view.message(started, database)))

    kwargs = dict(budget=seconds, seed=seed_start(params, index) + k * SLICE_SEEDS,
                  config_strategy=config_strategy(params["machines"], mutant,
                                                  params.get("impl")),
                  chunk=params["chunk"], step_count=params["steps"],
                  l3_every=params["l3_every"], database=database, stop=stop,
                  on_chunk=on_chunk, op_timeout=params["op_timeout"],
                  impl=params.get("impl"), deep="deep" in params["machines"])
    with hypothesis_shrink_budget(params.get("shrink_seconds", 60.0)) as shrink:
        if mutant:
            with mutants.get(mutant).apply():
                result = hunt(**kwargs)
        else:
            result = hunt(**kwargs)
    acc.add_lockstep(result, time.monotonic() - t0)
    queue.put(("progress", index, acc.message(started, database)))
    if not result.killed:
        return None
    if (result.config is not None and len(result.trace) > POST_SHRINK_OVER
            and not result.inv_id.startswith(("crash:", "HANG"))):
        left = params.get("shrink_seconds", 60.0) - shrink["seconds"]
        result.trace, cut = post_shrink(result, left, mutant, params)
        shrink["cut"] = shrink["cut"] or cut
    fail = failure_record(index, result, params, mutant, database, shrink_cut=bool(shrink["cut"]))
    fail.update(machine="lockstep", shrink_cut=bool(shrink["cut"]),
                shrink_seconds=round(shrink["seconds"], 2))
    return fail


def _concurrent_slice(index, params, queue, database, stop, acc, k, seconds, started):
    """One slice of concurrent rounds (``hakmem_verify.runner.concurrent``); returns its failure
    record (the reproducer written and replayed), or None."""
    from contextlib import nullcontext

    from .concurrent import config_drawer, run_concurrent
    from hakmem_verify import planted as mutants
    mutant = params["mutant"]
    seed = seed_start(params, index) + k * SLICE_SEEDS
    ctx = mutants.get(mutant).apply() if mutant else nullcontext()
    def progress(partial) -> None:
        import copy
        view = copy.deepcopy(acc)
        view.add_concurrent(partial)
        queue.put(("progress", index, view.message(started, database)))

    impl = params.get("impl")
    factory = None
    if impl and impl != "hakmem_verify.models.fast:FastAllocator":
        from hakmem_verify.explore.impl import load_impl
        factory = load_impl(impl)          # white-box: runner.split checked it
    with ctx:
        rep = run_concurrent(seconds, seed=seed, stop=stop, progress=progress,
                             shrink_seconds=params.get("shrink_seconds", 60.0),
                             factory=factory, draw_config=config_drawer(mutant))
    acc.add_concurrent(rep)
    queue.put(("progress", index, acc.message(started, database)))
    if not rep.finding:
        return None
    return _concurrent_failure(index, rep, params, mutant, seed,
                               time.monotonic() - started[0] - rep.shrink_seconds)


def _concurrent_failure(index, rep, params, mutant, seed, elapsed) -> dict:
    """The failure record of a concurrent finding; writes its reproducer and replays it."""
    from .concurrent_repro import replay_rounds, write_reproducer
    n_ops = sum(len(p) for progs, _ in rep.rounds for p in progs.values())
    fail = {"worker": index, "machine": "concurrent", "inv_id": rep.inv_id, "seed": seed,
            "message": rep.finding, "time_to_fail": round(elapsed, 3),
            "shrunk_steps": n_ops, "config": repr(rep.config),
            "trace": [repr(r) for r in rep.rounds],
            "saved": "NOT SAVED: the concurrent machine keeps its findings as reproducers "
                     "only",
            "mutant": mutant, "reproducer": None, "reproduces": None,
            "passes_without_mutant": None, "note": "", "duplicates": [],
            "shrink_cut": rep.shrink_cut, "shrink_seconds": round(rep.shrink_seconds, 2)}
    try:
        fail["reproducer"] = write_reproducer(
            os.path.join(params["report"], "reproducers"), rep.config, rep.rounds,
            name=f"concurrent-{failure_name(rep.inv_id, seed)}", inv_id=rep.inv_id,
            message=rep.finding, mutant=mutant, shrink_cut=rep.shrink_cut,
            impl=params.get("impl") if params.get("impl") != "hakmem_verify.models.fast:FastAllocator"
            else None)
    except Exception as exc:  # the finding is still reported
        fail["note"] = f"could not write the reproducer: {exc!r}"
        return fail

    def fails(m) -> bool:
        """Replaying under ``m`` fails with the finding's invariant (a schedule that no
        longer fits the steps, ScheduleError, is not the finding)."""
        from hakmem_verify.explore.concurrent_shrink import failure_id
        try:
            replay_rounds(rep.config, rep.rounds, mutant=m)
        except Exception as exc:
            return failure_id(exc) == rep.inv_id
        return False
    fail["reproduces"] = fails(mutant)
    if mutant:
        fail["passes_without_mutant"] = not fails(None)
    return fail
