"""Replay a recorded schedule exactly (and go on without preemption past its end)."""
from __future__ import annotations

from .run import Run, Schedule, ScheduleError, keep_current

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
                return keep_current(run, runnable)
            if tid not in runnable:
                raise ScheduleError(f"schedule {self.schedule} names thread {tid} at step {i} "
                                    f"but only {runnable} can run: it does not replay here")
            return tid
        return keep_current(run, runnable)
