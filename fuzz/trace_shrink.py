"""Cut a failing op list down: the shortest failing prefix, then delta debugging.

A long replay (a workload, a recorded trace) that fails is useless as a
reproducer at its full length.  ``shortest_failing_prefix`` finds, by binary
search, the shortest prefix that still fails when replayed and torn down (a
latent corruption may be caught by teardown's full check well before the op
that tripped over it); ``shrink`` then removes chunks of ops, halving the
chunk size, while the list keeps failing, within a time budget.

Removing an ``Alloc`` shifts the handle of every later alloc, so ops are
removed with :func:`drop`, which renumbers the surviving handles and drops the
ops that name a removed block.  The predicate decides what "still fails"
means (``fails_like`` keeps the invariant ID of the original failure).
"""
from __future__ import annotations

import dataclasses
import time
from typing import Callable, Optional

from specs.api import InvariantViolation
from specs.lockstep import Alloc, AllocMany

_HANDLE_OPS = ("Free", "RaceFree", "Write", "Read", "BadAccess", "BadFree", "BadTid")


def drop(ops: list, remove) -> list:
    """ops without the indices in ``remove``; later handles renumbered, orphans dropped.

    >>> from specs.lockstep import Alloc, Free
    >>> drop([Alloc(8), Alloc(16), Free(1), Free(0)], {0})
    [Alloc(size=16, tid=0), Free(handle=0, tid=0)]
    """
    remove = set(remove)
    out, new_of, old, new = [], {}, 0, 0
    for i, op in enumerate(ops):
        kind = type(op)
        if kind is Alloc or kind is AllocMany:
            n = 1 if kind is Alloc else op.n
            if i not in remove:
                for k in range(n):
                    new_of[old + k] = new + k
                new += n
                out.append(op)
            old += n
        elif i in remove:
            continue
        elif kind.__name__ in _HANDLE_OPS and getattr(op, "handle", -1) >= 0:
            if op.handle in new_of:
                out.append(dataclasses.replace(op, handle=new_of[op.handle]))
        else:
            out.append(op)
    return out


def fails_like(run: Callable[[list], None], inv_id: Optional[str]) -> Callable[[list], bool]:
    """Predicate: ``run(ops)`` raises an InvariantViolation (with ``inv_id``, if given)."""
    def pred(ops: list) -> bool:
        try:
            run(ops)
        except InvariantViolation as e:
            return inv_id is None or e.inv_id == inv_id
        return False
    return pred


def shortest_failing_prefix(ops: list, fails: Callable[[list], bool], hi: int) -> int:
    """Smallest n <= hi with fails(ops[:n]) (binary search; ops[:hi] must fail)."""
    lo = 0                      # ops[:lo] passes (the empty list does)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fails(ops[:mid]):
            hi = mid
        else:
            lo = mid
    return hi


def shrink(ops: list, fails: Callable[[list], bool], seconds: float = 60.0,
           on_progress: Optional[Callable[[int], None]] = None) -> list:
    """Remove chunks of ops (sizes n/2, n/4, ... 1) while the list still fails.

    Stops when no single op can be removed or after ``seconds``; returns the
    smallest failing list found.  Cost: O(n log n) replays at most.
    """
    deadline = time.monotonic() + seconds
    chunk = max(1, len(ops) // 2)
    while True:
        i, removed_any = 0, False
        while i < len(ops):
            if time.monotonic() > deadline:
                return ops
            candidate = drop(ops, range(i, min(i + chunk, len(ops))))
            if len(candidate) < len(ops) and fails(candidate):
                ops, removed_any = candidate, True
                if on_progress:
                    on_progress(len(ops))
            else:
                i += chunk
        if chunk == 1 and not removed_any:
            return ops
        chunk = max(1, chunk // 2)


__all__ = ["drop", "fails_like", "shortest_failing_prefix", "shrink"]
