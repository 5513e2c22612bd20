"""The scripted race of the lockstep machines, as one schedule of a Run: a remote free
whose push the slab's owner drains between its "link" step and its compare-and-swap."""
from __future__ import annotations

from .run import Run, Schedule

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


def race_free_with_drain(impl, addr: int, tid: int = 0, on_schedule=None) -> Schedule:
    """free(addr, tid), with the owner's drain of the block's slab between the remote
    push's "link" step and its CAS; returns the schedule that ran, and gives it to
    ``on_schedule`` also when the run raised (the lockstep oracle keeps it in the op).  A
    free that does not take the remote route (the slab is tid's own or unowned) runs to
    completion with no drain.

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
        if on_schedule is not None:
            on_schedule(run.schedule)
    return run.schedule
