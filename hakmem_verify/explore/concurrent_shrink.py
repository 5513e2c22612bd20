"""Shrinking a concurrent reproducer after Hypothesis: delete rounds, threads and ops,
simplify their arguments and schedules, and keep each change that still fails the same way.

Hypothesis shrinks the drawn choices; a concurrent failure also carries rounds that only
set the heap up and schedule tokens that no longer matter once an op is gone, and its
shrinker stops at a time limit.  :func:`shrink_rounds` works on the reproducer itself
(Config and rounds, each a ``({tid: program}, schedule)``): it re-runs every candidate
with :func:`hakmem_verify.oracle.concurrent.replay`-style rounds (``Replay(schedule, strict=False)``, so
a schedule outlives a deleted op: a step it names for a thread that cannot run goes on
without preemption) and, once the cheap candidates are exhausted, with the schedules of
the round it changed that have at most 2 preemptions (fewest first, as
:func:`hakmem_verify.schedule.explore`), and each round with fewer preemptions than it has; it
keeps the candidate when it fails with the same invariant ID and is smaller by (ops,
preemptions, steps), or as small with a simpler Config.

A free names the handle of a block live at its round's start; handles are numbered in
the order allocs end, so deleting an alloc renumbers them.  Candidates therefore give
each op a fixed id (its round, thread and position in the reproducer it came from) and
name the *alloc op* a free frees by that id; each run maps it to the handle that op got;
a free whose alloc is gone (or did not return a block) is dropped.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import replace

from hakmem_verify.contract.api import InvariantViolation
from hakmem_verify.contract.ops import Alloc, Drain, Evict, Free
from hakmem_verify.schedule import Replay

#: Default wall-clock budget of a shrink, in seconds (``--shrink-seconds``)
SHRINK_SECONDS = 60.0


@contextmanager
def hypothesis_shrink_budget(seconds: float):
    """Bound Hypothesis's shrinking to ``seconds`` of wall-clock time (its
    ``engine.MAX_SHRINKING_SECONDS``, 300 by default) for the runs inside the block.

    Yields a dict filled as runs end: ``cut`` (True once a run's shrink stopped at the
    budget: the failure it reports is the smallest found so far) and ``seconds`` (time
    spent in shrink phases).  Hypothesis's own warning for a shrink stopped early (it says
    "five minutes" whatever the limit) is dropped; the caller reports the cut instead.
    """
    from hypothesis import reporting, statistics

    from .chunks import shrink_limits

    info = {"cut": False, "seconds": 0.0}
    outer_collect, outer_report = statistics.collector.value, reporting.current_reporter()

    def collect(stats):
        if "slow" in str(stats.get("stopped-because", "")) and \
                "shrink" in str(stats.get("stopped-because", "")):
            info["cut"] = True
        info["seconds"] += float((stats.get("shrink-phase") or {}).get("duration-seconds", 0))
        if outer_collect is not None:
            outer_collect(stats)

    def report(text):
        if "working to shrink" in str(text):
            info["cut"] = True
            return
        outer_report(text)

    with shrink_limits(seconds=seconds), statistics.collector.with_value(collect), \
            reporting.with_reporter(report):
        yield info


def failure_id(exc: BaseException) -> str:
    """The invariant ID of a failure, ``crash:<Type>`` for any other exception."""
    return exc.inv_id if isinstance(exc, InvariantViolation) else f"crash:{type(exc).__name__}"


def size(rounds, preemptions) -> tuple:
    """The order candidates are compared by: ops, then preemptions, then steps."""
    ops = sum(len(p) for progs, _ in rounds for p in progs.values())
    steps = sum(len((s or "").split()) for _, s in rounds)
    return ops, sum(preemptions), steps


class _Attempt:
    """One run of a symbolic candidate: did it fail with ``inv_id``, and its concrete
    rounds and preemptions."""

    def __init__(self, ref_factory, fast_factory, config, sym, inv_id, override=None):
        from hakmem_verify.oracle.concurrent import Harness
        self.config = config
        self.failed, self.rounds, self.preemptions = False, [], []
        try:
            h = Harness(ref_factory(config), fast_factory(config))
        except Exception:  # a Config the implementation refuses
            return
        amap = {}                                   # alloc op (round, tid, pos) -> handle
        try:
            for r, (progs, sched) in enumerate(sym):
                concrete, origin = {}, {}
                live = set(h.addr_handle.values())
                for tid, prog in progs.items():
                    out, pos = [], []
                    for uid, op in prog:
                        if type(op) is Free:
                            hd = amap.get(op.handle)
                            if hd is None or hd not in live:
                                continue
                            live.discard(hd)
                            op = replace(op, handle=hd)
                        out.append(op)
                        pos.append(uid)
                    if out:
                        concrete[tid], origin[tid] = out, pos
                if not concrete:
                    continue
                strategy = override[1] if override and override[0] == r else \
                    Replay(sched or "", strict=False)
                run = h.run_round(concrete, strategy)
                for rec in run.records:
                    if getattr(rec, "handle", None) is not None:
                        amap[origin[rec.tid][rec.index]] = rec.handle
            h.teardown()
        except Exception as exc:  # the failure is what is looked for
            self.failed = failure_id(exc) == inv_id
        self.rounds, self.preemptions = list(h.rounds), list(h.preemptions)


class _Deadline:
    """The end of a shrink's budget; a candidate is not started when the slowest one so
    far would not finish before it, so a shrink ends within its budget."""

    def __init__(self, at: float):
        self.at, self.slowest = at, 0.0

    def passed(self) -> bool:
        return time.monotonic() + self.slowest >= self.at


def _timed(deadline, *args) -> "_Attempt":
    """An _Attempt, its duration counted in ``deadline.slowest``."""
    t0 = time.monotonic()
    a = _Attempt(*args)
    if deadline is not None:
        deadline.slowest = max(deadline.slowest, time.monotonic() - t0)
    return a


class _Prefix:
    """Follow ``prefix`` (thread ids), then go on without preemption; record where another
    thread could have run (for :func:`_search_schedule`)."""

    def __init__(self, prefix):
        self.prefix, self.branches = prefix, []

    def choose(self, run, runnable: list) -> int:
        i = len(run.schedule)
        if i < len(self.prefix) and self.prefix[i] in runnable:
            return self.prefix[i]
        cur = run.schedule[-1] if run.schedule and run.schedule[-1] in runnable else None
        default = cur if cur is not None else runnable[0]
        self.branches += [(tuple(run.schedule) + (a,), cur is not None)
                          for a in runnable if a != default]
        return default


def _search_schedule(ref_factory, fast_factory, config, sym, inv_id, r: int,
                     max_preemptions: int = 2, max_schedules: int = 60, deadline=None):
    """The first schedule of round r, with at most ``max_preemptions`` preemptions
    (CHESS order: fewest first), under which ``sym`` fails with ``inv_id``; an _Attempt."""
    pending = [((), 0)]
    for _ in range(max_schedules):
        if not pending or (deadline is not None and deadline.passed()):
            return None
        prefix, pre = pending.pop(0)
        strat = _Prefix(prefix)
        a = _timed(deadline, ref_factory, fast_factory, config, sym, inv_id, (r, strat))
        if a.failed:
            return a
        for branch, preempts in strat.branches:
            if len(branch) > len(prefix) and pre + preempts <= max_preemptions:
                pending.append((branch, pre + preempts))
    return None


def symbolize(ref_factory, fast_factory, config, rounds):
    """Rounds whose frees name the alloc op (round, tid, pos) that made the block."""
    from hakmem_verify.oracle.concurrent import Harness, thread_op
    h = Harness(ref_factory(config), fast_factory(config))
    owner, sym = {}, []                              # handle -> alloc op
    for r, (progs, sched) in enumerate(rounds):
        progs = {tid: [thread_op(op, tid, config) for op in prog]
                 for tid, prog in progs.items()}
        sym.append(({tid: [((r, tid, k), replace(op, handle=owner.get(
                                op.handle, ("gone", op.handle))) if type(op) is Free else op)
                           for k, op in enumerate(prog)] for tid, prog in progs.items()},
                    sched))
        try:
            run = h.run_round(progs, Replay(sched or "", strict=False))
        except Exception:  # the failing round: nothing after it matters
            break
        for rec in run.records:
            if getattr(rec, "handle", None) is not None:
                owner[rec.handle] = (r, rec.tid, rec.index)
    return sym


def _candidates(sym):
    """Smaller variants of a symbolic reproducer, the biggest cuts first, each with the
    round whose schedule to search if its old schedules no longer fail (None: none)."""
    for r in range(len(sym)):                               # a whole round
        yield len(sym) - 2, sym[:r] + sym[r + 1:]
    for r, (progs, sched) in enumerate(sym):
        if len(progs) > 1:
            for tid in progs:                               # a thread's whole program
                yield r, _with(sym, r, {t: p for t, p in progs.items() if t != tid}, sched)
        for tid, prog in progs.items():                     # one op
            for k in range(len(prog)):
                rest = prog[:k] + prog[k + 1:]
                new = {t: (rest if t == tid else p) for t, p in progs.items()}
                yield r, _with(sym, r, {t: p for t, p in new.items() if p}, sched)
    for r, (progs, sched) in enumerate(sym):                # the schedule
        toks = (sched or "").split()
        if toks:
            yield None, _with(sym, r, progs, "")
            for k in range(len(toks)):
                yield None, _with(sym, r, progs, " ".join(toks[:k] + toks[k + 1:]))
    for r, (progs, sched) in enumerate(sym):                # simpler arguments
        for tid, prog in progs.items():
            for k, (uid, op) in enumerate(prog):
                field = _SIMPLER.get(type(op))
                if field is not None and getattr(op, field) != 0:
                    new = dict(progs)
                    new[tid] = prog[:k] + [(uid, replace(op, **{field: 0}))] + prog[k + 1:]
                    yield r, _with(sym, r, new, sched)


#: the argument of an op tried at 0 (the smallest size, the first class)
_SIMPLER = {Alloc: "size", Drain: "class_idx", Evict: "class_idx"}

#: Config fields tried at their simplest value (smaller caches need fewer ops to fill)
SIMPLEST = {"mini_mag_capacity": 1, "refill_batch": 1, "magazine_capacity": 1,
            "flush_interval": 1, "slab_size": 64, "word_bits": 64}


def _config_candidates(config):
    for name, value in SIMPLEST.items():
        cur = getattr(config, name)
        for v in sorted({value, cur - 1}):
            if value <= v < cur:
                try:
                    yield replace(config, **{name: v})
                except Exception:  # an invalid Config is no candidate
                    pass
    if len(config.class_sizes) > 1:
        yield replace(config, class_sizes=config.class_sizes[:1])


def _config_key(config) -> tuple:
    return (len(config.class_sizes),) + tuple(getattr(config, n) for n in SIMPLEST)


def _with(sym, r, progs, sched):
    return sym[:r] + [(progs, sched)] + sym[r + 1:]


def _improve(ref_factory, fast_factory, best, inv_id, search: bool, deadline):
    """The first candidate smaller than ``best`` that fails with ``inv_id`` (an
    _Attempt), None if none does.  ``search``: a candidate that does not fail under its
    old schedules gets a schedule search of its last round."""
    sym = symbolize(ref_factory, fast_factory, best.config, best.rounds)
    old = size(best.rounds, best.preemptions)
    worst = max(range(len(sym)), key=lambda r: best.preemptions[r]) if sym else None
    cands = [(c, worst, sym) for c in _config_candidates(best.config)]
    for cfg, r, cand in cands + [(best.config, r, c) for r, c in _candidates(sym)]:
        if deadline.passed():
            return None
        a = _timed(deadline, ref_factory, fast_factory, cfg, cand, inv_id)
        if not a.failed and search and r is not None and 0 <= r < len(cand):
            a = _search_schedule(ref_factory, fast_factory, cfg, cand, inv_id, r,
                                 deadline=deadline) or a
        new = size(a.rounds, a.preemptions)
        if a.failed and (new < old or new == old and
                         _config_key(cfg) < _config_key(best.config)):
            return a
    if search:                                  # a round's schedule with fewer preemptions
        for r, pre in enumerate(best.preemptions):
            if pre and not deadline.passed():
                a = _search_schedule(ref_factory, fast_factory, best.config, sym, inv_id, r,
                                     max_preemptions=pre - 1, max_schedules=400,
                                     deadline=deadline)
                if a is not None and size(a.rounds, a.preemptions) < old:
                    return a
    return None


def shrink_rounds(ref_factory, fast_factory, config, rounds, inv_id: str,
                  seconds: float = 10.0, stats: dict = None):
    """The smallest reproducer found within ``seconds`` that still fails with ``inv_id``:
    ``(config, rounds, preemptions per round)``; the input itself (and None) if it does
    not replay.  Config fields are also tried at their simplest values (``SIMPLEST``).

    The budget is wall-clock: when it ends the smallest failing reproducer found so far
    is returned.  ``stats``, if given, is filled with ``cut`` (True when the budget ended
    before no candidate was left) and ``seconds`` (the time spent)."""
    start = time.monotonic()
    deadline = _Deadline(start + max(0.0, seconds))
    done = False
    try:
        if deadline.passed():
            return config, list(rounds), None
        first = _timed(deadline, ref_factory, fast_factory, config,
                       symbolize(ref_factory, fast_factory, config, rounds), inv_id)
        if not first.failed:                 # does not replay: leave it as it is
            done = True
            return config, list(rounds), None
        best, search = first, False
        while not deadline.passed():
            better = _improve(ref_factory, fast_factory, best, inv_id, search, deadline)
            if better is not None:
                best, search = better, False    # cheap passes again on the smaller one
            elif deadline.passed():
                break                           # _improve stopped at the deadline
            elif search:
                done = True
                break
            else:
                search = True                   # stuck: let candidates find a schedule
        return best.config, best.rounds, best.preemptions
    finally:
        if stats is not None:
            stats["cut"] = not done
            stats["seconds"] = time.monotonic() - start


__all__ = ["SHRINK_SECONDS", "hypothesis_shrink_budget", "shrink_rounds", "symbolize",
           "failure_id", "size"]
