"""One worker process of ``hakmem-fuzz run``: hunt on its own seed stream, report back.

A worker runs ``fuzz.hunt.hunt`` (under a planted bug when the run names
one) from seed ``seed_start(params, index)`` upwards, one Hypothesis chunk
per seed, until its first failure, the shared stop event, or the end of the
budget.  Each op runs under the per-op watchdog (``--op-timeout``): an op
that never returns is a ``HANG`` failure.  It talks to the parent only through a ``multiprocessing.Queue`` of
plain tuples:

    ("progress", index, totals)       after every chunk (cumulative totals, the
                                      behaviours reached, the database's counts)
    ("failure", index, failure)       the shrunk failure, its reproducer written
    ("done", index, totals)           the worker returned normally
    ("error", index, traceback_text)  an exception outside ``hunt``: a harness bug

Failures are saved to the example database (``fuzz.runner_db``) under a key
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

SEED_STRIDE = 1_000_000           # one seed stream per worker of every shard


def seed_start(params: dict, index: int) -> int:
    """First seed of worker ``index``: stream ``index * N + K - 1`` of shard K/N.

    Streams of different (shard, worker) pairs never overlap, whatever the number of
    workers on each machine; without --shard (1/1) worker i uses stream i.
    """
    k, n = params.get("shard") or (1, 1)
    return params["seed"] + (index * n + k - 1) * SEED_STRIDE

FAMILIES = {                      # --machine NAME -> attribute of specs.machines
    "any": "configs",
    "tiny": "tiny_configs",
    "small": "small_configs",
    "seed": "seed_configs",
}


# ============================================================================
# Config strategies and the example database
# ============================================================================


def config_strategy(machines, mutant=None):
    """The Config strategy of a run: the mutant's own, else the union of the families."""
    from hypothesis import strategies as st

    from specs import machines as m
    if mutant:
        from fuzz.mutants import hang as mutants  # the catalogue and the planted hangs
        if mutants.get(mutant).configs is not None:
            return mutants.get(mutant).configs
    parts = [getattr(m, FAMILIES[name]) for name in machines]
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


def _totals(rec_or_result, started: tuple, database=None) -> dict:
    """Cumulative totals of a hunt record or result; started = (monotonic, process_time)."""
    get = rec_or_result.get if isinstance(rec_or_result, dict) else \
        (lambda k: getattr(rec_or_result, k))
    return {"examples": get("examples"), "steps": get("steps"),
            "events": dict(get("events")), "checks": dict(get("checks")),
            "paths": dict(get("paths")), "behaviours": sorted(get("behaviours")),
            "unsupported": dict(get("unsupported") or {}),
            "db": database.stats() if database is not None else None,
            "elapsed": time.monotonic() - started[0], "cpu": time.process_time() - started[1]}


def _failure_name(inv_id: str, seed: int) -> str:
    return f"{inv_id.replace('crash:', 'crash-')}-seed{seed}"


def _saved(database) -> str:
    """Where the failure's examples went, from the database's counts."""
    if database is None:
        return "NOT SAVED: the run has no database (--db '')"
    c = database.stats()
    if c["lost"]:
        return (f"NOT SAVED: {c['lost']} saves were refused by every database "
                f"({'; '.join(c['errors'][:2])})")
    if c["fallback"]:
        return f"saved only in --db-local ({c['fallback']} saves): the --db refused them"
    return "saved" if c["saves"] else "NOT SAVED: no save reached the database"


def _failure(index, result, params, mutant, database=None) -> dict:
    """The failure record; writes the reproducer and replays it to confirm."""
    from fuzz.replay import replay, write_reproducer
    from specs.lockstep import op_repr
    fail = {"worker": index, "inv_id": result.inv_id, "seed": result.seed,
            "message": result.message, "time_to_fail": round(result.time_to_fail, 3),
            "shrunk_steps": len(result.trace), "config": repr(result.config),
            "trace": [op_repr(op) for op in result.trace], "saved": _saved(database),
            "mutant": mutant, "reproducer": None, "reproduces": None,
            "passes_without_mutant": None, "note": "", "duplicates": []}
    if result.config is None:
        fail["note"] = "no trace was recorded for this failure; see the message"
        return fail
    try:
        fail["reproducer"] = write_reproducer(
            os.path.join(params["report"], "reproducers"), result.config, result.trace,
            name=_failure_name(result.inv_id, result.seed), inv_id=result.inv_id,
            message=result.message, mutant=mutant, seed=result.seed,
            op_timeout=params["op_timeout"], impl=params.get("impl"))
    except Exception as exc:  # noqa: BLE001 - the finding is still reported
        fail["note"] = f"could not write the reproducer: {exc!r}"
        return fail
    fail["reproduces"] = _replay_fails(replay, result, mutant, params)
    if mutant:
        fail["passes_without_mutant"] = not _replay_fails(replay, result, None, params)
    return fail


def _replay_fails(replay, result, mutant, params) -> bool:
    try:
        replay(result.config, result.trace, mutant=mutant, l3_every=params["l3_every"],
               op_timeout=params["op_timeout"], impl=params.get("impl"))
    except BaseException as exc:  # noqa: BLE001
        if isinstance(exc, KeyboardInterrupt):
            raise
        return True
    return False


def worker_main(index: int, params: dict, queue, stop_event) -> None:
    """Process entry point: hunt until the first failure, the stop event or the deadline."""
    local_stop = threading.Event()
    signal.signal(signal.SIGINT, signal.SIG_IGN)        # the parent coordinates Ctrl-C
    signal.signal(signal.SIGTERM, lambda *_: local_stop.set())
    parent = os.getppid()
    started = (time.monotonic(), time.process_time())
    try:
        _quiet_profile()
        from fuzz.mutants import hang as mutants  # the catalogue and the planted hangs
        from fuzz.hunt import hunt
        mutant = params["mutant"]
        from fuzz.runner_db import worker_database
        seed = seed_start(params, index)
        database = worker_database(params, namespace(params["machines"], mutant,
                                                     params.get("impl")),
                                   replay=(index == 0))

        def stop() -> bool:
            return local_stop.is_set() or stop_event.is_set() or os.getppid() != parent

        def on_chunk(rec) -> None:
            queue.put(("progress", index, _totals(rec, started, database)))

        kwargs = dict(budget=max(0.0, params["deadline"] - time.time()), seed=seed,
                      config_strategy=config_strategy(params["machines"], mutant),
                      chunk=params["chunk"], step_count=params["steps"],
                      l3_every=params["l3_every"], database=database, stop=stop,
                      on_chunk=on_chunk, op_timeout=params["op_timeout"],
                      impl=params.get("impl"))
        if mutant:
            with mutants.get(mutant).apply():
                result = hunt(**kwargs)
        else:
            result = hunt(**kwargs)
        totals = _totals(result, started, database)
        if result.killed:
            queue.put(("progress", index, totals))
            queue.put(("failure", index, _failure(index, result, params, mutant, database)))
            if mutant:
                stop_event.set()                          # one kill is all a mutant run needs
        queue.put(("done", index, totals))
    except BaseException:  # noqa: BLE001 - reported to the parent, then the worker ends
        queue.put(("error", index, traceback.format_exc()))
        raise SystemExit(1)
