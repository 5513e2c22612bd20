"""Starvation: one thread runs alone, every other one descheduled, until the op it is
in ends (a spin that waits for a descheduled thread runs into the progress bound)."""
from __future__ import annotations

from .run import Run, keep_current
from .uniform import RandomStrategy

END_LABELS = ("end", "error")


class Starving:
    """Starve every thread but one: after :meth:`start` names thread T, :meth:`choose`
    returns T while T can run and has not ended the op it is in (its last step was not
    labelled "end" or "error"), then None (starvation over) and forgets T.

    A strategy that wraps it (``hakmem_verify.explore.concurrent_hunt.DrawnSchedule``) reaches what a
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
        return self.then.choose(run, runnable) if self.then else keep_current(run, runnable)


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
