"""The concurrent machine as a Hypothesis state machine, and the hunt that runs it.

The machine's rule is one concurrent round (``hakmem_verify.oracle.concurrent.Harness``): 2-4 threads,
each a program of 1-4 ops drawn so that they shrink to few, simple ops (the thread count
to 2, a program to one op, an op to an alloc of size 0), and a schedule drawn step by
step: "preempt?" (shrinks to no), then which other thread; in every other chunk of
examples of a hunt the thread a preemption switches to runs alone until its op ends, so
a spin waiting for the preempted thread meets the progress bound.  :func:`hunt_concurrent` runs it until it fails, then shrinks
the reproducer further (``hakmem_verify.explore.concurrent_shrink``: deletes rounds, threads, ops and
schedule tokens that the failure does not need).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from hypothesis import event, note, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from hakmem_verify.oracle.concurrent import TOTALS, Harness, make_thread_op

from .chunks import run_chunks
from .configs import concurrent_configs
from .concurrent_shrink import (SHRINK_SECONDS, failure_id, hypothesis_shrink_budget,
                                shrink_rounds, size)
from hakmem_verify.schedule import Starving


class ShrinkCut(KeyboardInterrupt):
    """Raised before the next round once shrinking has used its budget: a
    KeyboardInterrupt, the one exception Hypothesis lets through without recording the
    aborted example, so the hunt ends with the smallest failing round found so far."""


class DrawnSchedule:
    """The schedule drawn from Hypothesis, one decision per step with a choice:
    "preempt?" (shrinks to no), then which other thread.  With ``starve``, the thread a
    preemption switches to runs alone until its op ends (``hakmem_verify.schedule.Starving``):
    an op that waits for the preempted thread spins into the progress bound
    (LIVELOCK)."""

    def __init__(self, data, starve: bool = False):
        self.data = data
        self.starving = Starving() if starve else None

    def choose(self, run, runnable: list) -> int:
        if len(runnable) == 1:
            return runnable[0]
        if self.starving is not None:
            t = self.starving.choose(run, runnable)
            if t is not None:
                return t
        cur = run.schedule[-1] if run.schedule and run.schedule[-1] in runnable else None
        if cur is not None:
            if not self.data.draw(st.integers(0, 3), label="preempt?") == 3:
                return cur
            runnable = [t for t in runnable if t != cur]
        t = self._other(runnable)
        if cur is not None and self.starving is not None:
            self.starving.start(t)
            TOTALS["starved"] += 1
        return t

    def _other(self, runnable: list) -> int:
        if len(runnable) == 1:
            return runnable[0]
        return runnable[self.data.draw(st.integers(0, len(runnable) - 1), label="thread")]


#: every STARVE_EVERY-th chunk of a hunt's examples starves (``DrawnSchedule``)
STARVE_EVERY = 4

OP_KINDS = ("alloc", "alloc", "free", "free", "drain", "evict", "exit", "flush")
#: ops per thread program in one round (1..MAX_OPS)
MAX_OPS = 4


def draw_programs(data, h: Harness) -> dict:
    """tid -> program for one round, drawn to shrink towards 2 threads of one alloc."""
    n = data.draw(st.integers(2, 4), label="threads")
    free = sorted(h.addr_handle.values())
    programs = {}
    for tid in range(n):
        prog = []
        for _ in range(data.draw(st.integers(1, MAX_OPS), label=f"ops of {tid}")):
            kind = data.draw(st.sampled_from(OP_KINDS), label="op")
            if kind == "free" and free:
                prog.append(make_thread_op("free", tid, free.pop(data.draw(
                    st.integers(0, len(free) - 1), label="block"))))
            elif kind in ("drain", "evict"):
                k = data.draw(st.integers(0, 1), label="class")
                prog.append(make_thread_op(kind, tid, k % h.config.num_classes))
            elif kind in ("exit", "flush"):
                prog.append(make_thread_op(kind, tid))
            else:
                prog.append(make_thread_op("alloc", tid, data.draw(st.integers(
                    0, h.config.max_size), label="size")))
        programs[tid] = prog
    return programs


def make_concurrent_machine(ref_factory, fast_factory, config_strategy=concurrent_configs,
                            name: str = "ConcurrentMachine"):
    """A RuleBasedStateMachine whose rule is one concurrent round."""

    class Machine(RuleBasedStateMachine):
        record = {"last": None, "failed": None, "examples": 0, "rounds": 0,
                  "shrink_budget": None, "starve": False}

        def __init__(self):
            super().__init__()
            self.h = None
            self.broken = False      # a round failed: its finding is the result

        @initialize(cfg=config_strategy)
        def setup(self, cfg):
            self.h = Harness(ref_factory(cfg), fast_factory(cfg))
            type(self).record["examples"] += 1

        @rule(data=st.data())
        def concurrent_round(self, data):
            rec = type(self).record
            if rec["shrink_budget"] is not None and "first_fail" in rec and \
                    time.monotonic() - rec["first_fail"] >= rec["shrink_budget"]:
                self.broken = True
                raise ShrinkCut(f"shrinking used its {rec['shrink_budget']:g} s budget")
            h = self.h
            programs = draw_programs(data, h)
            type(self).record["last"] = h
            type(self).record["rounds"] += 1
            try:
                run = h.run_round(programs, DrawnSchedule(data, rec["starve"]))
            except Exception as exc:    # not Hypothesis's own StopTest (data ran out)
                type(self).record["failed"] = h     # the last failing run is the shrunk one
                type(self).record["error"] = exc
                type(self).record.setdefault("first_fail", time.monotonic())
                self.broken = True
                raise
            except BaseException:       # the round stopped half-way: no teardown
                self.broken = True
                raise
            finally:
                note(h.reproducer())
            event(f"preemptions {min(run.preemptions, 3)}{'+' if run.preemptions > 3 else ''}")
            for lb in ("cas-retry",):
                if lb in run.labels:
                    event(f"race fired: {lb}")

        def teardown(self):
            if self.h is not None and not self.broken:
                try:
                    self.h.teardown()
                except Exception as exc:
                    type(self).record["failed"] = self.h
                    type(self).record["error"] = exc
                    type(self).record.setdefault("first_fail", time.monotonic())
                    raise

    Machine.__name__ = Machine.__qualname__ = name
    return Machine


@dataclass
class ConcurrentHunt:
    """What :func:`hunt_concurrent` found: the shrunk reproducer (Config and rounds)."""

    killed: bool
    inv_id: str = ""               # invariant ID, or "crash:<ExceptionType>"
    message: str = ""
    seconds: float = 0.0           # the whole hunt, shrinking included
    examples: int = 0
    reproducer: str = ""           # Config and rounds, as ``Harness.reproducer`` prints them
    time_to_fail: float = 0.0      # seconds to the first failing example
    config: object = None
    rounds: list = field(default_factory=list)
    preemptions: int = 0           # in the reproducer's schedules
    shrink_seconds: float = 0.0    # of which shrinking (Hypothesis's and the post-pass)
    shrink_cut: bool = False       # the shrink budget ended first: the smallest found so far

    @property
    def ops(self) -> int:
        return sum(len(p) for progs, _ in self.rounds for p in progs.values())

    def __iter__(self):
        """The 7-tuple callers unpack: ``killed, inv_id, message, seconds, examples,
        reproducer, time_to_fail``."""
        return iter((self.killed, self.inv_id, self.message, self.seconds, self.examples,
                     self.reproducer, self.time_to_fail))


def hunt_concurrent(ref_factory, fast_factory, budget: float = 60.0, seed: int = 0,
                    chunk: int = 50, steps: int = 10, shrink_seconds: float = SHRINK_SECONDS,
                    post_shrink_seconds: float = None,
                    config_strategy=None, examples: int = None) -> ConcurrentHunt:
    """Run the concurrent machine until it fails or ``budget`` seconds pass, then shrink
    within ``shrink_seconds`` of wall-clock time: Hypothesis first
    (``engine.MAX_SHRINKING_SECONDS``), then ``hakmem_verify.explore.concurrent_shrink.shrink_rounds`` for
    what is left of the budget (or for ``post_shrink_seconds`` when given).  When the
    budget ends first the smallest failing example found so far is kept and
    ``shrink_cut`` says so.  Chunks of ``chunk`` examples alternate between schedules
    that only preempt and schedules in which the thread a preemption switches to runs
    alone until its op ends (``DrawnSchedule``'s ``starve``).  ``examples``: stop after
    the chunk in which that many examples have run, whatever is left of the budget."""
    Machine = make_concurrent_machine(ref_factory, fast_factory,
                                      config_strategy if config_strategy is not None
                                      else concurrent_configs,
                                      name="ConcurrentHunt")
    Machine.record["shrink_budget"] = shrink_seconds if shrink_seconds > 0 else None
    start = time.monotonic()
    with hypothesis_shrink_budget(shrink_seconds) as hyp:
        res = _hunt(Machine, budget, start, seed, chunk, steps, shrink_seconds > 0, examples)
    res.shrink_cut = res.shrink_cut or hyp["cut"]
    if res.killed and res.config is not None:
        t0 = time.monotonic()
        post = post_shrink_seconds if post_shrink_seconds is not None else \
            shrink_seconds - res.shrink_seconds
        info = {"cut": False}
        if post > 0:
            cfg, rounds, pre = shrink_rounds(ref_factory, fast_factory, res.config,
                                             res.rounds, res.inv_id, post, stats=info)
            if pre is not None:
                res.config, res.rounds, res.preemptions = cfg, rounds, sum(pre)
                h = Harness.__new__(Harness)             # only for its printing
                h.config, h.rounds = cfg, rounds
                res.reproducer = Harness.reproducer(h)
        else:
            info["cut"] = shrink_seconds > 0
        res.shrink_cut = res.shrink_cut or info["cut"]
        res.seconds = time.monotonic() - start
        res.shrink_seconds += time.monotonic() - t0
    return res


def _hunt(Machine, budget, start, s, chunk, steps, shrink=True,
          examples=None) -> ConcurrentHunt:
    def starve_or_not(seed):       # one chunk in STARVE_EVERY starves
        Machine.record["starve"] = (seed - s) % STARVE_EVERY == STARVE_EVERY - 1
    enough = None if examples is None else \
        (lambda: Machine.record["examples"] >= examples)
    exc, _ = run_chunks(Machine, budget, s, chunk, steps, shrink=shrink, cuts=(ShrinkCut,),
                        before_chunk=starve_or_not, start=start, stop=enough)
    if exc is None:
        return ConcurrentHunt(False, seconds=time.monotonic() - start,
                              examples=Machine.record["examples"])
    cut = isinstance(exc, ShrinkCut)
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    if Machine.record["failed"] is not None:   # the failure its reproducer shows
        exc = Machine.record.get("error", exc)
    last = Machine.record["failed"] or Machine.record["last"]
    first = Machine.record.get("first_fail", time.monotonic()) - start
    now = time.monotonic() - start
    res = ConcurrentHunt(True, failure_id(exc), str(exc), now, Machine.record["examples"],
                         last.reproducer() if last else "", first,
                         shrink_seconds=now - first, shrink_cut=cut)
    if last is not None:
        res.config, res.rounds = last.config, list(last.rounds)
        res.preemptions = sum(last.preemptions)
    return res


__all__ = ["ConcurrentHunt", "DrawnSchedule", "ShrinkCut", "OP_KINDS", "draw_programs",
           "hunt_concurrent", "make_concurrent_machine", "size"]
