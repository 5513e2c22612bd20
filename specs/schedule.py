"""A scheduler for an implementation's atomic steps: threads that really interleave.

The system under test only yields its steps (``Hooks.alloc_steps``,
``free_steps``, ``drain_steps``, ...: each a generator that yields after an
access to a shared word); the harness decides their order.  A :class:`Run`
holds the op programs of a few threads and steps the thread it is told to; a
strategy chooses that thread:

* :class:`RandomStrategy`: a uniformly random runnable thread at each step;
* :class:`PCT` (Burckhardt et al., ASPLOS 2010): random distinct thread
  priorities, ``depth - 1`` change points among the first ``k`` steps that had
  a choice; the highest-priority runnable thread runs, and at the i-th change
  point the running thread drops to priority i (below every initial one).
  One run finds a bug of depth d with probability >= 1/(n * k^(d-1));
* :func:`explore`: every schedule with at most ``c`` preemptions (CHESS);
  a preemption switches away from a thread that could have gone on.  It
  reports how many schedules it ran and whether it exhausted the space;
* :class:`Starving` (and :class:`Starve`): one thread alone, every other one
  descheduled, until the op it is in ends (a spin that waits for a descheduled thread
  then runs into the machine's progress bound, LIVELOCK in ``specs.concurrent``).

A :class:`Run` counts, per thread, the steps of the op it is in (``op_steps``) and
how many of them it has taken in a row with no other thread stepping
(``solo_steps``): what a progress bound compares.

A :class:`Schedule` is the list of the thread ids that took each step; it
prints as a short string (``0*3 1 0*2``: three steps of 0, one of 1, two of
0) and :meth:`Schedule.parse` reads it back; :class:`Replay` re-runs it exactly
(and goes on without preemption past its end).

Granularity: a step is what an implementation runs between two yields.  A
critical section of the pool lock is one step of the model, so lock-free
steps of other threads never run inside one: the interleavings explored are a
subset of the real ones, chosen at the shared words.

``race_free_with_drain`` is one schedule of this mechanism: the freeing
thread runs to its push's ``"link"`` step, the slab's owner drains, then the
push's compare-and-swap runs (and must fail and retry).  The schedule that ran
goes to ``RACE_RECORDERS``; the lockstep machines' ``RaceFree`` ops keep it
(``RaceFree(3, tid=1, schedule='1*2 0*4 1*3')`` in a reproducer).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Optional

from .api import AllocatorError


class ScheduleError(ValueError):
    """A schedule names a thread that is not runnable at that step, or is malformed."""


class Schedule(list):
    """Thread ids, one per step, in order."""

    def __str__(self) -> str:
        out, i = [], 0
        while i < len(self):
            j = i
            while j < len(self) and self[j] == self[i]:
                j += 1
            out.append(f"{self[i]}*{j - i}" if j - i > 1 else f"{self[i]}")
            i = j
        return " ".join(out)

    def __repr__(self) -> str:
        return f"Schedule.parse({str(self)!r})"

    @classmethod
    def parse(cls, text: str) -> "Schedule":
        """The schedule ``str(schedule)`` printed: ``"0*3 1 0*2"``."""
        out = cls()
        for tok in text.split():
            tid, _, n = tok.partition("*")
            try:
                tid_i, n_i = int(tid), int(n) if n else 1
            except ValueError:
                raise ScheduleError(f"bad schedule token {tok!r} in {text!r}: expected "
                                    f"TID or TID*COUNT (e.g. '0*3 1 0*2')") from None
            if tid_i < 0 or n_i < 1:
                raise ScheduleError(f"bad schedule token {tok!r} in {text!r}: tid >= 0 and "
                                    f"count >= 1")
            out.extend([tid_i] * n_i)
        return out

    def preemptions(self, finished_at=()) -> int:
        """Switches between threads, minus those at which the previous thread had just
        finished (``finished_at``: step indices after which a thread had no step left)."""
        done = set(finished_at)
        return sum(1 for i in range(1, len(self))
                   if self[i] != self[i - 1] and i - 1 not in done)


@dataclass
class OpRecord:
    """One op of a thread's program and what it did: real-time interval in steps."""

    tid: int
    index: int            # position in the thread's program
    what: str             # printable op
    start: int = -1       # step number of its first step
    end: int = -1         # step number of its last step
    kind: str = ""        # "ok" or the error class name
    value: object = None  # the op's return value (alloc: address or None)


@dataclass
class Run:
    """The op programs of a few threads, stepped one atomic step at a time.

    ``programs``: tid -> list of ``(what, start)`` where ``start()`` returns the op's
    step generator (it may raise a contract error: the op then ends at its first step
    with that outcome).  ``after_step(run, tid, label)`` runs after every step.
    """

    programs: dict
    after_step: Optional[Callable] = None
    schedule: Schedule = field(default_factory=Schedule)
    records: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    finished_at: list = field(default_factory=list)

    def __post_init__(self):
        self._pos = {tid: 0 for tid in self.programs}
        self._gen = {}
        self._rec = {}
        self._op_steps = {tid: 0 for tid in self.programs}
        self._streak = 0          # steps in a row of the thread that took the last one
        self.stepping = None      # the thread whose step is running (None between steps)
        self.stepping_at = 0      # len(schedule) when that step began

    def op_steps(self, tid: int) -> int:
        """Steps of thread tid's current (or last) op so far."""
        return self._op_steps[tid]

    def solo_steps(self, tid: int) -> int:
        """Steps of tid's current op taken in a row, no other thread stepping between."""
        if not self.schedule or self.schedule[-1] != tid:
            return 0
        return min(self._streak, self._op_steps[tid])

    def current_op(self, tid: int):
        """The OpRecord of the op tid is in (started, not ended), or None."""
        return self._rec.get(tid) if tid in self._gen else None

    def runnable(self) -> list:
        return sorted(t for t in self.programs
                      if t in self._gen or self._pos[t] < len(self.programs[t]))

    def step(self, tid: int) -> str:
        """Run one atomic step of thread tid; returns its label ("end" when an op ended)."""
        self.stepping, self.stepping_at = tid, len(self.schedule)
        label = self._step(tid)
        self.stepping = None
        return label

    def _step(self, tid: int) -> str:
        if tid not in self._gen:
            if tid not in self._pos or self._pos[tid] >= len(self.programs[tid]):
                raise ScheduleError(f"thread {tid} is not runnable at step "
                                    f"{len(self.schedule)} (runnable: {self.runnable()})")
            what, start = self.programs[tid][self._pos[tid]]
            rec = OpRecord(tid, self._pos[tid], what, start=len(self.schedule))
            self._pos[tid] += 1
            self.records.append(rec)
            self._rec[tid] = rec
            self._op_steps[tid] = 0
            try:
                self._gen[tid] = start()
            except AllocatorError as e:
                rec.kind = type(e).__name__
                return self._ended(tid, rec, "error")
        gen = self._gen[tid]
        try:
            label = next(gen)
        except StopIteration as stop:
            rec = self._rec[tid]
            rec.kind, rec.value = "ok", stop.value
            del self._gen[tid]
            return self._ended(tid, rec, "end")
        self._note(tid, label)
        return label

    def _ended(self, tid, rec, label) -> str:
        rec.end = len(self.schedule)
        self._gen.pop(tid, None)
        self._note(tid, label)
        if tid not in self.runnable():
            self.finished_at.append(len(self.schedule) - 1)
        return label

    def _note(self, tid, label) -> None:
        self._streak = self._streak + 1 if self.schedule and self.schedule[-1] == tid else 1
        self._op_steps[tid] += 1
        self.schedule.append(tid)
        self.labels.append(label)
        if self.after_step is not None:
            self.after_step(self, tid, label)

    @property
    def preemptions(self) -> int:
        return self.schedule.preemptions(self.finished_at)

    def run(self, strategy) -> "Run":
        """Step until no thread is runnable, asking ``strategy.choose(run, runnable)``."""
        while True:
            r = self.runnable()
            if not r:
                return self
            self.step(strategy.choose(self, r))


def _keep_current(run: Run, runnable: list) -> int:
    """The choice without preemption: the thread that took the last step, if runnable."""
    if run.schedule and run.schedule[-1] in runnable:
        return run.schedule[-1]
    return runnable[0]


class Replay:
    """Choose exactly the schedule's threads; past its end go on without preemption.
    ``strict=False``: where the schedule names a thread that cannot run (the code's
    steps changed), go on without preemption instead of raising."""

    def __init__(self, schedule, strict: bool = True):
        self.schedule = Schedule.parse(schedule) if isinstance(schedule, str) else schedule
        self.strict = strict

    def choose(self, run: Run, runnable: list) -> int:
        i = len(run.schedule)
        if i < len(self.schedule):
            tid = self.schedule[i]
            if tid not in runnable and not self.strict:
                return _keep_current(run, runnable)
            if tid not in runnable:
                raise ScheduleError(f"schedule {self.schedule} names thread {tid} at step {i} "
                                    f"but only {runnable} can run: it does not replay here")
            return tid
        return _keep_current(run, runnable)


END_LABELS = ("end", "error")


class Starving:
    """Starve every thread but one: after :meth:`start` names thread T, :meth:`choose`
    returns T while T can run and has not ended the op it is in (its last step was not
    labelled "end" or "error"), then None (starvation over) and forgets T.

    A strategy that wraps it (``specs.concurrent_hunt.DrawnSchedule``) reaches what a
    fair scheduler never shows: an op that waits for a descheduled thread spins until
    the machine's progress bound."""

    def __init__(self):
        self.tid = None
        self.count = 0            # starvations started

    def start(self, tid: int) -> None:
        self.tid = tid
        self.count += 1

    def choose(self, run: Run, runnable: list):
        t = self.tid
        if t is None:
            return None
        ended = bool(run.schedule) and run.schedule[-1] == t and run.labels[-1] in END_LABELS
        if t in runnable and not ended:
            return t
        self.tid = None
        return None


class Starve:
    """Run ``tid`` alone until its current (or next) op ends, then choose as ``then``
    does (default: without preemption)."""

    def __init__(self, tid: int, then=None):
        self.starving = Starving()
        self.starving.start(tid)
        self.then = then

    def choose(self, run: Run, runnable: list) -> int:
        t = self.starving.choose(run, runnable)
        if t is not None:
            return t
        return self.then.choose(run, runnable) if self.then else _keep_current(run, runnable)


class RandomStrategy:
    """A uniformly random runnable thread at every step."""

    def __init__(self, seed: int = 0):
        self.rng = random.Random(seed)

    def choose(self, run: Run, runnable: list) -> int:
        return runnable[0] if len(runnable) == 1 else self.rng.choice(runnable)


class StarvingRandom(RandomStrategy):
    """:class:`RandomStrategy` whose every switch starves the others: the thread switched
    to runs alone until its op ends (:class:`Starving`), as a scheduler that deschedules a
    thread for long does.  An op that waits for a descheduled thread spins into the
    machine's progress bound (LIVELOCK), which a fair random choice never shows."""

    def __init__(self, seed: int = 0):
        super().__init__(seed)
        self.starving = Starving()

    def choose(self, run: Run, runnable: list) -> int:
        t = self.starving.choose(run, runnable)
        if t is not None:
            return t
        t = super().choose(run, runnable)
        if run.schedule and run.schedule[-1] != t:
            self.starving.start(t)
        return t


class PCT:
    """Probabilistic concurrency testing with bug depth ``depth``: random distinct priorities
    for the ``tids``, ``depth - 1`` change points in [1, k] (k: an estimate of the number
    of steps with a choice, e.g. measured by a first run)."""

    def __init__(self, tids, depth: int = 2, k: int = 20, seed: int = 0):
        if depth < 1 or k < 1:
            raise ValueError(f"PCT needs depth >= 1 and k >= 1, got depth={depth}, k={k}")
        self.rng = random.Random(seed)
        order = list(tids)
        self.rng.shuffle(order)
        self.prio = {t: depth + i for i, t in enumerate(order)}   # all above depth - 1
        self.change = sorted(self.rng.sample(range(1, k + 1), min(depth - 1, k)))
        self.choices = 0                                          # steps that had a choice
        self.changed = 0                                          # change points passed

    def choose(self, run: Run, runnable: list) -> int:
        if len(runnable) > 1:
            self.choices += 1
            if self.change and self.choices == self.change[0]:
                self.change.pop(0)
                self.changed += 1
                cur = max(runnable, key=lambda t: self.prio[t])
                self.prio[cur] = self.changed   # i-th change point: priority i < depth
        return max(runnable, key=lambda t: self.prio[t])


@dataclass
class Exploration:
    schedules: int          # schedules run to the end
    exhausted: bool         # every schedule within the bound was run
    max_preemptions: int


def explore(make_run: Callable[[], Run], on_done: Callable[[Run], None],
            max_preemptions: int = 2, max_schedules: int = 10_000) -> Exploration:
    """Run every schedule of ``make_run()`` with at most ``max_preemptions`` preemptions
    (each on a fresh Run: stateless search); ``on_done(run)`` checks each one.
    Stops after ``max_schedules`` (then ``exhausted`` is False)."""
    pending = [()]
    n = 0
    while pending:
        if n >= max_schedules:
            return Exploration(n, False, max_preemptions)
        prefix = pending.pop()
        run = make_run()
        pre = 0
        while True:
            r = run.runnable()
            if not r:
                break
            i = len(run.schedule)
            cur = run.schedule[-1] if run.schedule and run.schedule[-1] in r else None
            default = cur if cur is not None else r[0]
            if i < len(prefix):
                t = prefix[i]
            else:
                t = default
                cost = 1 if cur is not None else 0
                if pre + cost <= max_preemptions:
                    pending.extend(tuple(run.schedule) + (a,) for a in r if a != default)
            if cur is not None and t != cur:
                pre += 1
            run.step(t)
        n += 1
        on_done(run)
    return Exploration(n, True, max_preemptions)


# ============================================================================
# The scripted race of the lockstep machines, as one schedule of a Run
# ============================================================================


class _DrainAtLink:
    """The freeing thread until its push has linked, then the owner, then the rest."""

    def __init__(self, freer: int, owner: int):
        self.freer, self.owner = freer, owner

    def choose(self, run: Run, runnable: list) -> int:
        linked = "link" in [lb for t, lb in zip(run.schedule, run.labels) if t == self.freer]
        if not linked and self.freer in runnable:
            return self.freer
        if self.owner in runnable:
            return self.owner
        return runnable[0]


def race_free_with_drain(impl, addr: int, tid: int = 0) -> Schedule:
    """free(addr, tid), with the owner's drain of the block's slab between the remote
    push's "link" step and its CAS; returns the schedule that ran.  A free that does
    not take the remote route (the slab is tid's own or unowned) runs to completion
    with no drain.

    Errors (bad tid, not a live block) are raised before any step, state unchanged.
    """
    base = addr & ~(impl.config.slab_size - 1) if isinstance(addr, int) else None
    slab = impl.snapshot([base], {}).slabs.get(base) if base is not None else None
    steps = impl.free_steps(addr, tid)
    programs = {tid: [(f"free({addr:#x}, tid={tid})", lambda: steps)]}
    owner = slab.owner if slab is not None else None
    if owner is not None and owner != tid:
        c = slab.class_idx
        programs[owner] = [(f"drain_remote({owner}, {c})",
                            lambda: impl.drain_steps(owner, c))]
    else:
        owner = tid
    run = Run(programs)
    try:
        run.run(_DrainAtLink(tid, owner))
    finally:
        for record in list(RACE_RECORDERS):
            record(run.schedule)
    return run.schedule


#: callables given the Schedule of every :func:`race_free_with_drain` (the lockstep
#: machines record it in their ``RaceFree`` op, so its reproducer shows the schedule)
RACE_RECORDERS: list = []


__all__ = ["Schedule", "ScheduleError", "Run", "OpRecord", "Replay", "RandomStrategy", "StarvingRandom", "PCT",
           "Starving", "Starve", "END_LABELS",
           "Exploration", "explore", "race_free_with_drain", "RACE_RECORDERS"]
