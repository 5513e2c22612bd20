"""The concurrent machine's rounds: 2-4 threads whose atomic steps really interleave.

This module runs and checks rounds (:class:`Harness`) and replays recorded ones
(:func:`replay`); the Hypothesis machine that draws them and its hunt are in
``hakmem_verify.explore.concurrent_hunt``, the reproducers' shrinking in ``hakmem_verify.explore.concurrent_shrink``.

A round gives each thread a program of 1-4 ops of ``hakmem_verify.contract.ops``
(``CONCURRENT_OPS``: Alloc, a Free of a block live at the round's start -- local if
the thread allocated it, remote otherwise -- Drain, Evict, ThreadExit, FlushStats of
its own batches), each naming its thread, and runs them as a
``hakmem_verify.schedule.Run`` over the implementation's step generators
(``Hooks.alloc_steps``, ``free_steps``, ...).  Checks:

* after every atomic step: the invariants that hold between steps
  (``hakmem_verify.check.concurrency.BETWEEN_STEPS``, OWN-03 and OWN-04 among them); no address
  handed out while the client holds it (LIVE-02); a block's bytes intact when
  its free starts (DATA-01);
* at each quiescent point (the end of a round): linearizability against the
  reference -- some sequential order of the round's ops that respects their
  real-time order (A ended before B started => A first) gives the same
  outcomes (ok / out of memory / error type, usable size: LOCK-01, LOCK-02);
  the orders are searched depth first (Wing & Gong); then the whole catalogue
  at L2 on a complete snapshot (conservation PART-01, statistics STAT-01..03,
  the quiescence-only RMT-02, OWN-02, LIVE-01, MAG-02) and exact statistics
  equal to the reference's (STAT-04);
* at teardown: every block freed, ``quiesce``, every slab entirely free (QUI-01);
* progress (LIVELOCK, ``hakmem_verify.check.progress``): after every step, the op it
  belongs to has run at most ``solo_bound`` steps in a row with the other threads
  descheduled and at most ``op_budget`` steps in all;
* crashes (CRASH-STEP): an exception other than a contract error at an op's start,
  raised by a step, a check between steps or the quiescent point, is a finding naming
  the op, the thread and the schedule;
* slab accounting (SLAB-ACCT, ``hakmem_verify.check.slab_accounting``) at each quiescent
  point: every slab the pool carved is owned, adoptable or released.

Configs have no memory limit: out of memory would depend on blocks cached by
other threads, which the sequential oracle judges with OOM-01 and this machine
does not (yet).  The schedule is drawn step by step: "preempt?" (shrinks to
no), then which other thread, so a failure shrinks to few preemptions; the
reproducer (``note``) shows the Config, each round's programs and schedule, and
:func:`replay` re-runs it.
"""
from __future__ import annotations

from collections import Counter
from copy import deepcopy

from hypothesis.errors import HypothesisException

from hakmem_verify import check as inv
from hakmem_verify.contract.api import Config, InvariantViolation, StructureCorrupted
from hakmem_verify.check import REGISTRY
from hakmem_verify.check.concurrency import BETWEEN_STEPS
from hakmem_verify.check.registry import fail, violation_of
from hakmem_verify.check.progress import crash_step, livelock
from hakmem_verify.check.slab_accounting import check_pool
from hakmem_verify.contract.ops import (CONCURRENT_OPS, Alloc, Drain, Evict, FlushStats, Free,
                                        ThreadExit, op_repr)
from .blocks import fill_pattern
from hakmem_verify.schedule import Replay, Run, ScheduleError

#: totals over every round run in this process (``hakmem-fuzz`` and the notes report them)
TOTALS: Counter = Counter()


#: the printed name of each op of a thread program (``OpRecord.what``, messages)
_NAMES = {Alloc: "alloc", Free: "free", Drain: "drain", Evict: "evict", ThreadExit: "exit",
          FlushStats: "flush"}
#: the first field of each op that is printed before its tid (none for exit and flush)
_ARG = {Alloc: "size", Free: "handle", Drain: "class_idx", Evict: "class_idx"}
#: the op of each name: the tuple form earlier reproducers hold is (name, argument)
_TUPLE_KINDS = {name: cls for cls, name in _NAMES.items()}


def op_text(op) -> str:
    """``alloc(8, tid=0)``: how a thread program's op is printed in records and messages."""
    arg = _ARG.get(type(op))
    return f"{_NAMES[type(op)]}({'' if arg is None else f'{getattr(op, arg)}, '}tid={op.tid})"


def make_thread_op(kind: str, tid: int, arg=None):
    """The op of thread tid named ``kind`` (``OP_KINDS`` of the generators: alloc, free,
    drain, evict, exit, flush) with its one argument (size, handle or class), if any."""
    cls = _TUPLE_KINDS[kind]
    if cls in (ThreadExit, FlushStats):
        return cls(tid=tid)
    return cls(tid, arg) if cls in (Drain, Evict) else cls(arg, tid)


def thread_op(op, tid: int, config: Config):
    """The op of ``contract.ops`` that thread tid runs: ``op`` itself, checked to name tid;
    or its tuple form from an earlier reproducer (``("free", 3)``, ``("evict", 1)``: the
    class taken modulo the Config's classes, as it was run), converted."""
    if isinstance(op, tuple):
        kind = _TUPLE_KINDS.get(op[0] if op else None)
        if kind is None or len(op) != (1 if kind in (ThreadExit, FlushStats) else 2):
            raise ValueError(f"unknown op {op!r}: expected alloc, free, drain, evict, exit, "
                             "flush")
        arg = op[1] if len(op) == 2 else None
        return make_thread_op(op[0], tid, arg % config.num_classes
                              if kind in (Drain, Evict) else arg)
    if type(op) not in _NAMES:
        raise ValueError(f"{op!r} is not an op of a thread program: expected one of "
                         + ", ".join(k.__name__ for k in CONCURRENT_OPS))
    if op.tid != tid:
        raise ValueError(f"{op!r} is in the program of tid {tid}: an op runs on the thread "
                         "it names")
    return op


class Harness:
    """The reference and the implementation under concurrent rounds, with the checks."""

    def __init__(self, ref, fast, fill_len: int = 16):
        self.ref, self.fast, self.config = ref, fast, fast.config
        self.fill_len = fill_len
        self.handles = {}        # handle -> [fast addr, ref addr, class, tid, pattern]
        self.addr_handle = {}    # fast addr -> handle (live at the client)
        self.next_handle = 0
        self.rounds = []         # (programs, str(schedule)) of every round run
        self.preemptions = []    # preemptions of each round's schedule
        self.checks = Counter()
        self._ops = 0            # ops of the round being run (LIVELOCK's op budget)
        self._programs = {}      # the round's programs: tid -> ops

    # ---- a round ---------------------------------------------------------------------
    def run_round(self, programs: dict, strategy) -> Run:
        """Run ``programs`` (tid -> list of ops, ``CONCURRENT_OPS``) under ``strategy``;
        check it."""
        programs = {tid: [thread_op(op, tid, self.config) for op in prog]
                    for tid, prog in programs.items()}
        self._programs = programs
        run = Run(self._starts(programs), after_step=self._after_step)
        self._ops = sum(len(p) for p in programs.values())
        self.rounds.append((programs, None))
        try:
            run.run(strategy)
        except StructureCorrupted as exc:  # the implementation's own check: a finding
            raise violation_of(exc) from exc
        except _NOT_CRASHES:
            raise
        except Exception as exc:  # a crash inside the interleaving
            self._crashed(exc, run)
        finally:
            self.rounds[-1] = (programs, str(run.schedule))
            self.preemptions.append(run.preemptions)
        TOTALS["schedules"] += 1
        TOTALS["steps"] += len(run.schedule)
        TOTALS["preemptions"] += run.preemptions
        for lb in run.labels:
            TOTALS[f"label:{lb}"] += 1
        try:
            self._quiescent(run)
        except StructureCorrupted as exc:
            raise violation_of(exc) from exc
        except _NOT_CRASHES:
            raise
        except Exception as exc:  # a crash at the quiescent point
            crash_step(exc, "the quiescent point that ends the round", run.schedule)
        return run

    def _crashed(self, exc: Exception, run: Run) -> None:
        """CRASH-STEP for an exception raised while ``run`` stepped."""
        tid = run.stepping
        if tid is None:
            crash_step(exc, "the scheduler, between steps", run.schedule)
        if len(run.schedule) == run.stepping_at:    # raised before the step was recorded
            run.schedule.append(tid)
            run.labels.append("raised")
        rec = run.current_op(tid) or (run.records[-1] if run.records else None)
        what = rec.what if rec is not None and rec.tid == tid else "an op"
        crash_step(exc, f"{what} on tid {tid}, at its step {run.op_steps(tid) + 1} "
                        f"(step {len(run.schedule)} of the round)", run.schedule)

    def _starts(self, programs: dict) -> dict:
        return {tid: [(op_text(op), self._start(op)) for op in prog]
                for tid, prog in programs.items()}

    def _start(self, op):
        f, kind = self.fast, type(op)
        if kind is Alloc:
            return lambda: f.alloc_steps(op.size, op.tid)
        if kind is Free:
            return lambda: self._begin_free(op.handle, op.tid)
        if kind is Drain:
            return lambda: f.drain_steps(op.tid, op.class_idx)
        if kind is Evict:
            return lambda: f.evict_steps(op.tid, op.class_idx)
        if kind is ThreadExit:
            return lambda: f.thread_exit_steps(op.tid)
        return lambda: f.flush_steps(op.tid)

    def _begin_free(self, h: int, tid: int):
        """The client gives block h up at the free's first step (after checking it)."""
        addr = self.handles[h][0]
        self._check_data(h)
        del self.addr_handle[addr]
        return self.fast.free_steps(addr, tid)

    def _check_data(self, h: int) -> None:
        addr, _, usable, tid, pat = self.handles[h]
        got = self.fast.read(addr, len(pat))
        self.checks["DATA-01"] += 1
        if got != pat:
            fail("DATA-01", f"live handle {h} at {addr:#x} ({usable} B, allocated by tid "
                            f"{tid}) holds {got.hex()} but the client wrote {pat.hex()}")

    def _after_step(self, run: Run, tid: int, label: str) -> None:
        if label == "end":
            rec = next(r for r in reversed(run.records) if r.tid == tid)
            if type(self._op(rec)) is Alloc and rec.value is not None:
                self._handed_out(rec, tid)
        elif label != "error":
            self.checks["LIVELOCK"] += 1
            livelock(run, tid, run.current_op(tid).what, self.config, self._ops)
        snap = self.fast.snapshot()
        view = inv.View.whole(snap, self._live())
        for inv_id in BETWEEN_STEPS:
            i = REGISTRY[inv_id]
            self.checks[inv_id] += 1
            if i.scope == "slab":
                for s in snap.slabs.values():
                    i.fn(snap, s, view)
            elif i.scope == "thread":
                for t in snap.threads.values():
                    i.fn(snap, t, view)

    def _handed_out(self, rec, tid: int) -> None:
        addr = rec.value
        self.checks["LIVE-02"] += 1
        if addr in self.addr_handle:
            fail("LIVE-02", f"{rec.what} returned {addr:#x}, which the client still holds as "
                            f"handle {self.addr_handle[addr]} (handed out twice)")
        h = self.next_handle
        self.next_handle += 1
        pat = fill_pattern(h, min(self.fill_len, self.fast.usable_size(addr)))
        self.fast.write(addr, pat)
        self.handles[h] = [addr, None, self.fast.usable_size(addr), tid, pat]
        self.addr_handle[addr] = h
        rec.handle = h

    def _live(self):
        return inv.LiveSet.from_blocks(
            {a: self._cls(self.handles[h][2]) for a, h in self.addr_handle.items()},
            self.config)

    def _cls(self, usable: int) -> int:
        return self.config.class_sizes.index(usable)

    # ---- quiescence ------------------------------------------------------------------
    def _quiescent(self, run: Run) -> None:
        self._linearize(run)
        for h in list(self.addr_handle.values()):
            self._check_data(h)
        snap = self.fast.snapshot()
        view = inv.View.whole(snap, self._live())
        view.racing_pushes = True       # EVICT-01: a push may have raced an eviction's drain
        inv.registry.run_view(snap, view, 2)
        self.checks["SLAB-ACCT"] += 1
        check_pool(self.fast, snap)
        self.checks["quiescent"] += 1
        fe, re_ = self.fast.exact_stats(), self.ref.exact_stats()
        if fe != re_:
            fail("STAT-04", f"after a round the exact statistics are {fe} but the reference "
                            f"counted {re_}")

    def _linearize(self, run: Run) -> None:
        """LOCK-01/02: some order of the round's ops that respects real time explains
        every outcome; the reference is left in that order's state."""
        recs = [r for r in run.records if type(self._op(r)) in (Alloc, Free, ThreadExit)]
        budget = [5000]

        def dfs(left, ref, bound):
            if not left:
                return ref, bound
            for r in left:
                if any(q.end < r.start for q in left if q is not r):
                    continue            # some op still left finished before r started
                budget[0] -= 1
                if budget[0] < 0:
                    return None
                trial = deepcopy(ref) if len(left) > 1 else ref
                b = self._ref_apply(trial, r)
                if b is not None:
                    got = dfs([q for q in left if q is not r], trial, {**bound, **b})
                    if got is not None:
                        return got
            return None

        got = dfs(recs, self.ref, {})
        self.checks["LOCK-01"] += 1
        if got is None:
            fail("LOCK-01", "no sequential order of the round's ops that respects their "
                            "real-time order gives the implementation's outcomes: "
                            + "; ".join(f"{r.what} -> {r.kind}"
                                        f"{'' if r.value is None else f' {r.value:#x}'}"
                                        f" (steps {r.start}..{r.end})" for r in recs))
        self.ref, bound = got
        for h, ref_addr in bound.items():
            self.handles[h][1] = ref_addr

    def _op(self, rec):
        """The op of record rec (its thread's program, at its index)."""
        return self._programs[rec.tid][rec.index]

    def _ref_apply(self, ref, r):
        """Apply op record r to ``ref``; {handle: ref addr} if its outcome matches r's."""
        op = self._op(r)
        try:
            if type(op) is Alloc:
                a = ref.alloc(op.size, op.tid)
                if a is None:
                    return None if r.value is not None else {}
                if r.kind != "ok" or r.value is None or \
                        ref.usable_size(a) != self.handles[r.handle][2]:
                    return None
                return {r.handle: a}
            if type(op) is Free:
                ref.free(self.handles[op.handle][1], op.tid)
            else:
                ref.thread_exit(op.tid)
        except InvariantViolation:
            raise
        except Exception as e:  # a contract error is an outcome
            return {} if r.kind == type(e).__name__ else None
        return {} if r.kind == "ok" else None

    # ---- teardown ----------------------------------------------------------------------
    def teardown(self) -> None:
        """Free every block the client holds, quiesce, and every slab is entirely free."""
        for addr, h in sorted(self.addr_handle.items()):
            tid = self.handles[h][3]
            self.fast.free(addr, tid)
            self.ref.free(self.handles[h][1], tid)
        self.addr_handle.clear()
        self.fast.quiesce()
        self.checks["QUI-01"] += 1
        inv.qui_01_empty(self.fast.snapshot(), self._live())

    def reproducer(self) -> str:
        """Python source (runnable: its imports first) of the Config and the rounds run."""
        lines = ["from hakmem_verify.contract.api import Config"] + ops_import(self.rounds)
        lines += [f"config = {self.config!r}", "rounds = ["]
        lines += [f"    ({programs_repr(p)}, {s!r})," for p, s in self.rounds]
        lines.append("]  # replay: hakmem_verify.oracle.concurrent.replay(Ref, Fast, config, rounds)")
        return "\n".join(lines)


def ops_import(rounds) -> list:
    """The import line (a list of one, or empty) of the op classes that ``rounds`` use."""
    names = sorted({type(op).__name__ for progs, _ in rounds for p in progs.values() for op in p})
    return [f"from hakmem_verify.contract.ops import {', '.join(names)}"] if names else []


def programs_repr(programs: dict) -> str:
    """Python source of a round's programs (ops of ``hakmem_verify.contract.ops``)."""
    return "{" + ", ".join(f"{tid!r}: [{', '.join(op_repr(op) for op in prog)}]"
                           for tid, prog in programs.items()) + "}"


#: exceptions that are not crashes of a step: findings, a schedule that does not replay,
#: and Hypothesis's own control flow (its StopTest is a BaseException: never caught here)
_NOT_CRASHES = (InvariantViolation, ScheduleError, HypothesisException)


def replay(ref_factory, fast_factory, config: Config, rounds, strict: bool = True) -> Harness:
    """Re-run recorded rounds exactly (programs and schedule strings); raises the finding.
    ``strict=False`` lets a schedule outlive a change of the steps (``Replay``)."""
    h = Harness(ref_factory(config), fast_factory(config))
    for programs, schedule in rounds:
        h.run_round(programs, Replay(schedule or "", strict))
    h.teardown()
    return h


__all__ = ["Harness", "replay", "TOTALS", "thread_op", "make_thread_op", "op_text", "ops_import",
           "programs_repr"]
