"""A worker's failure: its totals, its record (the shrunk trace replayed to confirm it, the
reproducer written), where its examples were saved, and the trace post-pass of a long one."""
from __future__ import annotations

import os
import time


def totals_of(rec_or_result, started: tuple, database=None) -> dict:
    """Cumulative totals of a hunt record or result; started = (monotonic, process_time)."""
    get = rec_or_result.get if isinstance(rec_or_result, dict) else \
        (lambda k: getattr(rec_or_result, k))
    return {"examples": get("examples"), "steps": get("steps"),
            "events": dict(get("events")), "checks": dict(get("checks")),
            "paths": dict(get("paths")), "behaviours": sorted(get("behaviours")),
            "unsupported": dict(get("unsupported") or {}),
            "db": database.stats() if database is not None else None,
            "elapsed": time.monotonic() - started[0], "cpu": time.process_time() - started[1]}


def failure_name(inv_id: str, seed: int) -> str:
    return f"{inv_id.replace('crash:', 'crash-')}-seed{seed}"


def saved_where(database) -> str:
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


def failure_record(index, result, params, mutant, database=None, shrink_cut=False) -> dict:
    """The failure record; replays the shrunk trace to confirm it, and writes the
    reproducer with the message (heap dump included) of that replay: the shrunk
    failure's own, not the first one found."""
    from hakmem_verify.explore.hunt import classify
    from .replay import replay, write_reproducer
    from hakmem_verify.contract.ops import op_repr
    fail = {"worker": index, "inv_id": result.inv_id, "seed": result.seed,
            "message": result.message, "time_to_fail": round(result.time_to_fail, 3),
            "shrunk_steps": len(result.trace), "config": repr(result.config),
            "trace": [op_repr(op) for op in result.trace], "saved": saved_where(database),
            "mutant": mutant, "reproducer": None, "reproduces": None,
            "passes_without_mutant": None, "note": "", "duplicates": []}
    if result.config is None:
        fail["note"] = "no trace was recorded for this failure; see the message"
        return fail
    raised = replay_raises(replay, result, mutant, params)
    fail["reproduces"] = raised is not None
    if raised is not None and classify(raised)[0] == result.inv_id:
        fail["message"] = classify(raised)[1]
    try:
        fail["reproducer"] = write_reproducer(
            os.path.join(params["report"], "reproducers"), result.config, result.trace,
            name=failure_name(result.inv_id, result.seed), inv_id=result.inv_id,
            message=fail["message"], mutant=mutant, seed=result.seed,
            op_timeout=params["op_timeout"], impl=params.get("impl"), shrink_cut=shrink_cut)
    except Exception as exc:  # the finding is still reported
        fail["note"] = f"could not write the reproducer: {exc!r}"
        return fail
    if mutant:
        fail["passes_without_mutant"] = not replay_fails(replay, result, None, params)
    return fail


#: a lockstep failure longer than this gets the trace post-pass after Hypothesis's shrink
POST_SHRINK_OVER = 50


def post_shrink(result, seconds: float, mutant, params) -> tuple:
    """(trace, cut): ``result``'s trace after the passes of ``hakmem_verify.workloads.trace_shrink`` (whole
    kinds of op dropped, runs of allocations merged, chunks deleted) in what is left of the
    shrink budget, still failing with the same invariant; a deep history whose example
    Hypothesis shrinks slowly (each replay is thousands of ops) ends as a few bursts.
    ``cut``: the budget ended first."""
    from .replay import replay
    from hakmem_verify.workloads.trace_shrink import fails_like, shrink, simplify
    from hakmem_verify.contract.api import size_to_class
    cfg, t0 = result.config, time.monotonic()
    if seconds <= 0:
        return result.trace, True

    def run(ops):
        replay(cfg, ops, mutant=mutant, l3_every=params["l3_every"],
               op_timeout=params["op_timeout"], impl=params.get("impl"))
    fails = fails_like(run, result.inv_id)
    ops = simplify(list(result.trace), fails, lambda size: size_to_class(size, cfg.class_sizes),
                   seconds / 2)
    ops = shrink(ops, fails, seconds - (time.monotonic() - t0))
    return ops, time.monotonic() - t0 >= seconds


def replay_raises(replay, result, mutant, params):
    """What replaying the shrunk trace (under ``mutant``) raises, None when it passes."""
    try:
        replay(result.config, result.trace, mutant=mutant, l3_every=params["l3_every"],
               op_timeout=params["op_timeout"], impl=params.get("impl"))
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        return exc
    return None


def replay_fails(replay, result, mutant, params) -> bool:
    return replay_raises(replay, result, mutant, params) is not None


__all__ = ["POST_SHRINK_OVER", "failure_name", "failure_record", "post_shrink", "replay_fails",
           "replay_raises", "saved_where", "totals_of"]
