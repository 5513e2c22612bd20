"""The schedule, the run of a few threads' op programs step by step, and the one method
every strategy implements (:class:`Strategy`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Protocol

from hakmem_verify.contract.api import AllocatorError

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


def keep_current(run: Run, runnable: list) -> int:
    """The choice without preemption: the thread that took the last step, if runnable."""
    if run.schedule and run.schedule[-1] in runnable:
        return run.schedule[-1]
    return runnable[0]


class Strategy(Protocol):
    """What :meth:`Run.run` asks at each step: which of the runnable threads steps next.
    Each strategy of this package is one module behind this one method."""

    def choose(self, run: "Run", runnable: list) -> int: ...
