"""Batched statistics: per-thread pending counts flushed to global counters.

    flushed + sum(pending) == exact                         (per class, allocs and frees)
    0 <= pending < flush_interval                           (per thread and class)
    |reported - exact| <= 1% of exact once exact >= 100 x threads x (flush_interval - 1)
    exact == the reference's exact counts
"""
from __future__ import annotations

from hakmem_verify.contract.api import Snapshot
from .registry import fail, form_of, invariant

EVERY_OP = "every op (every element of a burst)"


@invariant("STAT-01", level=1, scope="heap", cost="O(classes) (sums kept per thread change)",
           where=EVERY_OP + ", and after FlushStats", planted="stats-flush-off-by-one")
def stat_01_conservation(snap: Snapshot, view=None) -> None:
    """flushed + sum(pending) == exact, per class, allocs and frees"""
    kept = view is not None and view.pend_a is not None     # sums kept op by op
    for kind, flushed, exact, attr in (("alloc", snap.flushed.allocs, snap.exact.allocs,
                                        "pending_allocs"),
                                       ("free", snap.flushed.frees, snap.exact.frees,
                                        "pending_frees")):
        if kept:
            pend = view.pend_a if kind == "alloc" else view.pend_f
        else:
            pend = [0] * len(exact)
            for t in snap.threads.values():
                for c, n in enumerate(getattr(t, attr)):
                    pend[c] += n
        if list(map(int.__add__, flushed, pend)) == list(exact):
            continue
        for c, (f, p, e) in enumerate(zip(flushed, pend, exact)):
            if f + p != e:
                fail("STAT-01", f"class {c} {kind}s: flushed {f} + pending {p} != exact {e} "
                                f"(events lost or counted twice)")


@invariant("STAT-02", level=1, scope="thread", cost="O(classes) per thread",
           where=EVERY_OP + ", the threads it touched", planted="stats-never-flushed")
def stat_02_pending_bound(snap: Snapshot, t, view=None) -> None:
    """0 <= pending < flush_interval per thread and class"""
    iv = snap.config.flush_interval
    for attr in ("pending_allocs", "pending_frees"):
        for c, n in enumerate(getattr(t, attr)):
            if not 0 <= n < iv:
                fail("STAT-02", f"tid {t.tid} class {c}: {n} {attr.replace('_', ' ')} not "
                                f"flushed (flush interval {iv})")


@invariant("STAT-03", level=1, scope="heap", cost="O(classes)", where=EVERY_OP,
           planted="stats-reported-stale")
def stat_03_accuracy(snap: Snapshot, view=None) -> None:
    """abs(reported - exact) <= 1% exact once exact >= 100 x threads x (flush_interval - 1)"""
    bound = max(1, len(snap.threads)) * (snap.config.flush_interval - 1)
    accuracy(snap.reported or snap.flushed, snap.exact, bound)


@form_of("STAT-03")
def accuracy(reported, exact, bound: int) -> None:
    """STAT-03 on two Stats: reported within 1% of exact where exact >= 100 x bound."""
    if reported == exact:
        return
    floor = 100 * bound
    if max(exact.allocs, default=0) < floor and max(exact.frees, default=0) < floor:
        return
    for kind, rep, ex in (("alloc", reported.allocs, exact.allocs),
                          ("free", reported.frees, exact.frees)):
        for c, (r, e) in enumerate(zip(rep, ex)):
            if e >= 100 * bound and abs(r - e) * 100 > e:
                fail("STAT-03", f"class {c} {kind}s: reported {r} is more than 1% off "
                                f"exact {e} (pending bound {bound})")


@invariant("STAT-04", level=1, scope="op", cost="O(classes)", where=EVERY_OP,
           planted="exact-counts-failed-alloc")
def stat_04_exact(fast_exact, ref_exact, undone, undoing: bool = False) -> None:
    """exact stats == the reference's (less allocs undone after a justified out of memory)

    ``undone``: per class, the allocs undone on the reference after an out of memory
    (``undoing``: one is being undone now)."""
    if fast_exact == ref_exact and not undoing:
        return
    want_allocs = tuple(a - u for a, u in zip(ref_exact.allocs, undone))
    want_frees = tuple(f - u for f, u in zip(ref_exact.frees, undone))
    if fast_exact.allocs != want_allocs or fast_exact.frees != want_frees:
        fail("STAT-04", f"exact stats differ: fast allocs {fast_exact.allocs} frees "
                        f"{fast_exact.frees}, reference allocs {want_allocs} frees {want_frees}")


@form_of("STAT-01")
def stat_01_after_flush(reported, exact) -> None:
    """STAT-01 after flush_stats(): nothing is pending, so reported == exact."""
    if reported != exact:
        fail("STAT-01", f"after flush_stats reported {reported} != exact {exact}")
