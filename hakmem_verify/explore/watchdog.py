"""The per-op watchdog: an op that runs longer than its budget is a finding (``HANG``).

A model that loops forever (a walk of a cyclic list that a bug created) would
otherwise stall a worker until the runner's deadline and be reported as
clean.  Like libFuzzer's ``-timeout``, the watchdog turns it into a failure:
``SIGALRM`` fires after ``seconds`` and raises ``Hang`` inside the stuck op,
carrying the Python stack of that op.  Hypothesis then shrinks the trace as
for any failure, each replay under the same watchdog.

The alarm needs the main thread of a process with ``signal.setitimer`` (every
worker of ``hakmem-fuzz run``, pytest's main thread); elsewhere the watchdog
is off and says so through ``Watchdog.active``.
"""
from __future__ import annotations

import signal
import threading
import time
import traceback

from hakmem_verify.contract.api import InvariantViolation

#: Default per-op budget in seconds.  The slowest legitimate op measured (a burst on the
#: seed's Config with an L3 check; 30 s of hunting on a 2-core machine at load 3.5) took
#: 0.18 s, so 5 s leaves a margin of over 25 for slower or busier machines.
OP_TIMEOUT = 5.0
#: Once an op has hung, shrinking replays the trace hundreds of times; each replay that
#: still hangs would cost the full budget.  From then on the budget is
#: ``max(SHRINK_FLOOR, SHRINK_FACTOR * slowest op that completed)``, never more than the
#: original: still far above every op that returned, so only a hang is called a hang.
SHRINK_FLOOR = 2.0
SHRINK_FACTOR = 10.0
#: Hanging replays may use this many times the per-op budget in all (30 s at the default
#: 5 s); then the hunt stops shrinking (``ShrinkBudgetSpent``) and keeps the shortest
#: hanging trace found so far, as Hypothesis itself stops a shrink after five minutes.
HANG_SHRINK_FACTOR = 6.0
#: A Hang raised where Python swallows exceptions (a gc callback, a ``__del__``, a
#: weakref callback: "Exception ignored in ...") leaves the op running; the alarm fires
#: again every RETRY seconds until the Hang leaves the op.
RETRY = 0.25


class ShrinkBudgetSpent(KeyboardInterrupt):
    """Raised before the next op once hanging replays used HANG_SHRINK_SECONDS.

    A KeyboardInterrupt, the one exception Hypothesis lets through without
    recording the aborted example as a test case: the run ends and
    ``hakmem_verify.explore.hunt`` reports the shortest hanging trace recorded so far (already
    saved in the example database as the current shrink).
    """


class Hang(InvariantViolation):
    """An op ran longer than the watchdog's budget; ``stack`` is where it was stuck.

    A finding with the ID ``HANG``, raised as an ``InvariantViolation`` so the oracle
    passes it through as the implementation's own finding (any other exception escaping
    the model would be reported as a crash, LOCK-03).
    """

    def __init__(self, what: str, seconds: float, stack: str):
        self.what, self.seconds, self.stack = what, seconds, stack
        super().__init__("HANG", f"{what} still running after {seconds:g} s (the per-op "
                         f"watchdog, --op-timeout): an unbounded loop?\n"
                         f"Python stack of the stuck op (innermost last):\n{stack}")


def _op_stack(frame) -> str:
    """The stack from the oracle's op handler down to the stuck frame."""
    frames = traceback.extract_stack(frame)
    start = next((i for i, f in enumerate(frames) if f.filename.endswith("lockstep.py")),
                 max(0, len(frames) - 20))
    return "".join(traceback.format_list(frames[start:])).rstrip()


class Watchdog:
    """``with Watchdog(seconds) as wd:`` then ``with wd.guard(what): <op>``."""

    def __init__(self, seconds):
        self.seconds = seconds or 0.0
        self.active = bool(self.seconds) and hasattr(signal, "setitimer") and \
            threading.current_thread() is threading.main_thread()
        self._what = None
        self._hang = None               # (what, budget) of the Hang raised in the current op
        self._old = None
        self.hangs = 0                  # Hang raised so far
        self.hang_seconds = 0.0         # time spent in ops that hung, after the first
        self.slowest = 0.0              # the slowest op that completed, in seconds
        self._t0 = 0.0

    @property
    def budget(self) -> float:
        """The current per-op budget: the full one until the first hang, then the shrink one."""
        if not self.hangs:
            return self.seconds
        return min(self.seconds, max(SHRINK_FLOOR, SHRINK_FACTOR * self.slowest))

    def __enter__(self):
        if self.active:
            self._old = signal.signal(signal.SIGALRM, self._on_alarm)
        return self

    def __exit__(self, *exc):
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._old or signal.SIG_DFL)
        return False

    def _on_alarm(self, _signum, frame):
        if self._what is not None:
            what, self._what = self._what, None
            budget = self.budget
            if self.hangs:
                self.hang_seconds += budget
            self.hangs += 1
            self._hang = (what() if callable(what) else str(what), budget)
        if self._hang is not None:          # until the guard exits: see RETRY
            signal.setitimer(signal.ITIMER_REAL, RETRY)
            raise Hang(*self._hang, _op_stack(frame))

    def guard(self, what):
        """Context manager: raise ``Hang`` if the body outlives the budget."""
        return _Guard(self, what)


class _Guard:
    __slots__ = ("wd", "what")

    def __init__(self, wd, what):
        self.wd, self.what = wd, what

    def __enter__(self):
        wd = self.wd
        if wd.active:
            if wd.hang_seconds >= HANG_SHRINK_FACTOR * wd.seconds:
                raise ShrinkBudgetSpent(f"{wd.hangs} hangs, {wd.hang_seconds:.1f} s of them "
                                        "while shrinking")
            wd._what = self.what
            signal.setitimer(signal.ITIMER_REAL, wd.budget)
            wd._t0 = time.perf_counter()

    def __exit__(self, exc_type, *exc):
        wd = self.wd
        if wd.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            wd._hang = None
            if wd._what is not None:            # returned (or failed) before the alarm
                wd._what = None
                wd.slowest = max(wd.slowest, time.perf_counter() - wd._t0)
        return False
