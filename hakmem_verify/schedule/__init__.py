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
  then runs into the machine's progress bound, LIVELOCK in ``hakmem_verify.oracle.concurrent``).

One strategy per module, each behind the one method of :class:`Strategy`
(``choose(run, runnable) -> tid``, in ``run``): ``uniform`` (:class:`RandomStrategy`),
``pct``, ``exhaustive`` (:func:`explore`), ``starve``, ``replay`` and ``scripted``
(:func:`race_free_with_drain`).

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
push's compare-and-swap runs (and must fail and retry).  The schedule that ran is
returned and given to its ``on_schedule``; the lockstep oracle keeps it in the
``RaceFree`` op of its trace (``RaceFree(3, tid=1, schedule='1*2 0*4 1*3')`` in a
reproducer).
"""
from .exhaustive import Exploration, explore
from .pct import PCT
from .replay import Replay
from .run import OpRecord, Run, Schedule, ScheduleError, Strategy, keep_current
from .scripted import race_free_with_drain
from .starve import END_LABELS, Starve, Starving, StarvingRandom
from .uniform import RandomStrategy

__all__ = ["Schedule", "ScheduleError", "Run", "OpRecord", "Strategy", "keep_current", "Replay",
           "RandomStrategy", "StarvingRandom", "PCT", "Starving", "Starve", "END_LABELS",
           "Exploration", "explore", "race_free_with_drain"]
