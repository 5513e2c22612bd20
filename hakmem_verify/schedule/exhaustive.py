"""Every schedule with at most ``c`` preemptions (CHESS's bounded search), stateless:
each schedule on a fresh Run."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .run import Run

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
