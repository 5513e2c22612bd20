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

from hakmem_verify.contract.api import InvariantViolation
from hakmem_verify.contract.ops import Alloc, AllocMany

_HANDLE_OPS = ("Free", "RaceFree", "Write", "Read", "BadAccess", "BadFree", "BadTid")


def drop(ops: list, remove) -> list:
    """ops without the indices in ``remove``; later handles renumbered, orphans dropped.

    >>> from hakmem_verify.contract.ops import Alloc, Free
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


def simplify(ops: list, fails: Callable[[list], bool], class_of: Callable[[int], int],
             seconds: float = 60.0) -> list:
    """Structural passes for long histories (thousands of ops), each kept only while the
    list still fails: drop every op of one kind at once (all frees, all reads, ...); run
    every op on thread 0; once no op names a handle, order the allocations by class
    (``class_of(size)``); merge each run of consecutive allocations of one thread and
    class into one ``AllocMany`` (handles keep their numbers).  A few replays where
    chunk deletion would need thousands; :func:`shrink` finishes the job.

    >>> from hakmem_verify.contract.ops import Alloc, Free
    >>> simplify([Alloc(8), Free(0), Alloc(9, tid=1), Alloc(16)], lambda ops: len(ops) < 9,
    ...          lambda size: 0 if size <= 16 else 1)
    [AllocMany(size=16, n=3, tid=0)]
    """
    deadline = time.monotonic() + seconds

    def attempt(candidate) -> bool:
        return (time.monotonic() < deadline and candidate != ops and fails(candidate))

    for kind in sorted({type(op).__name__ for op in ops} - {"Alloc", "AllocMany"}):
        candidate = drop(ops, [i for i, op in enumerate(ops) if type(op).__name__ == kind])
        if attempt(candidate):
            ops = candidate
    candidate = [dataclasses.replace(op, tid=0) if isinstance(getattr(op, "tid", None), int)
                 else op for op in ops]
    if attempt(candidate):
        ops = candidate
    if all(type(op) in (Alloc, AllocMany) for op in ops):
        candidate = sorted(ops, key=lambda op: class_of(op.size))      # stable
        if attempt(candidate):
            ops = candidate
    candidate = _merge_allocs(ops, class_of)
    if attempt(candidate):
        ops = candidate
    return ops


def _merge_allocs(ops: list, class_of) -> list:
    """Runs of consecutive Alloc/AllocMany of one thread and class as one AllocMany (of the
    run's largest size)."""
    out = []
    for op in ops:
        if type(op) in (Alloc, AllocMany):
            n = 1 if type(op) is Alloc else op.n
            last = out[-1] if out else None
            if (type(last) is AllocMany and last.tid == op.tid
                    and class_of(last.size) == class_of(op.size)):
                out[-1] = AllocMany(max(last.size, op.size), last.n + n, op.tid)
                continue
            op = AllocMany(op.size, n, op.tid)
        out.append(op)
    return out


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


__all__ = ["drop", "fails_like", "shortest_failing_prefix", "shrink", "simplify"]
