"""Progress and crashes of the concurrent machine: nothing it misses silently.

    LIVELOCK: an op finishes within ``solo_bound(config)`` steps taken in a row with every
    other thread descheduled, and within ``op_budget(config, ops)`` steps in all
    CRASH-STEP: a step of an op (or a check between steps, or the quiescent point that
    ends a round) raises nothing but the contract's errors at the op's start

Both are checked by ``hakmem_verify.oracle.concurrent.Harness`` as it steps a round.  The bounds come
from the design's steps (``hakmem_verify.models.fast.steps``): running alone, an op takes a bounded
number of atomic steps -- the longest is a thread exit, which per class evicts two slabs
(a drain of 3 steps and a pool step each), returns each magazine block (a remote push of
3 steps, or one pool step) and flushes two stat batches (a step each).  A bitmap or list
walk is inside one step, so no bound grows with ``nblocks``.  A compare-and-swap loaded
before the thread ran alone may fail once more (3 steps).  ``solo_bound`` is twice that
sum: a planted step of a race (one extra yield) stays under it, a spin does not.  With
other threads interleaving, each failed compare-and-swap is another op's success, so an
op's steps in all are bounded by ``op_budget``: ``solo_bound`` times twice the round's
ops.
"""
from __future__ import annotations

from .registry import fail, invariant

def solo_bound(config) -> int:
    """More steps than any op takes running alone (see the module docstring)."""
    per_class = 2 * (3 + 1) + 3 * config.magazine_capacity + 2
    return 2 * (config.num_classes * per_class + 1 + 3)


def op_budget(config, ops: int) -> int:
    """More steps than any op takes in a round of ``ops`` ops, interleaved."""
    return solo_bound(config) * 2 * max(1, ops)


@invariant("LIVELOCK", level=1, scope="op", cost="O(1) per step",
           where="every atomic step of the concurrent machine (rounds, replays, shrinking); "
                 "every other chunk of a hunt starves the thread a preemption switches to",
           planted="push-waits-for-drain")
def livelock(run, tid: int, what: str, config, ops: int) -> None:
    """an op ends within solo_bound(config) steps taken in a row while the other threads are
    descheduled, and within op_budget(config, ops) steps in all: no op spins waiting for
    another thread

    Raise LIVELOCK when tid's op ran past either bound."""
    solo, total = run.solo_steps(tid), run.op_steps(tid)
    bound, budget = solo_bound(config), op_budget(config, ops)
    if solo <= bound and total <= budget:
        return
    waiting = [t for t in run.runnable() if t != tid]
    why = (f"{solo} steps in a row without ending (bound {bound}) while threads "
           f"{waiting} waited" if solo > bound else
           f"{total} steps in all without ending (budget {budget} for {ops} ops)")
    fail("LIVELOCK", f"{what} on tid {tid} made no progress: {why}; its last steps "
                     f"{_tail(run, tid)}; schedule {run.schedule}")


def _tail(run, tid: int, n: int = 6) -> list:
    labels = [lb for t, lb in zip(run.schedule, run.labels) if t == tid]
    return labels[-n:]


@invariant("CRASH-STEP", level=1, scope="op", cost="O(1) per step",
           where="every atomic step of the concurrent machine, the checks after it, and "
                 "the quiescent point that ends a round",
           planted="push-touches-exited-owner")
def crash_step(exc: BaseException, where: str, schedule) -> None:
    """a step raises nothing but a contract error at its op's start: any other exception
    (KeyError, IndexError, AttributeError, ...) of the model or the harness is a finding
    naming the op, the thread and the schedule, not a crash of the harness

    Raise CRASH-STEP for ``exc``, raised ``where`` (the op and thread, or the point)."""
    fail("CRASH-STEP", f"{type(exc).__name__}: {exc} raised in {where}; schedule "
                       f"{schedule}")
