"""Ownership: only the owner of a slab touches its bitmap and mini-magazine.

    A != B; an active slab has its slot's class and owner == the thread
    a slab with an owner is that thread's A or B
"""
from __future__ import annotations

from hakmem_verify.contract.api import SlabSnap, Snapshot, ThreadSnap
from .geometry import THREADS, TOUCHED, dump_slab, h
from .registry import fail, invariant


@invariant("OWN-01", level=2, scope="thread", cost="O(classes) per thread", where=THREADS,
           planted="active-a-equals-b")
def own_01_active(snap: Snapshot, t: ThreadSnap, view) -> None:
    """A != B; an active slab exists, has the class of its slot and owner == the thread (so a
    slab is active in one slot only)"""
    tid, slabs = t.tid, snap.slabs
    for c, (a, b) in enumerate(zip(t.active_a, t.active_b)):
        if a is not None and a == b:
            fail("OWN-01", f"active slabs A and B of tid {tid}, class {c} are the same "
                           f"slab {h(a)}")
        for pos, base in (("A", a), ("B", b)):
            if base is None:
                continue
            s = slabs.get(base)
            if s is None:
                if snap.complete:
                    fail("OWN-01", f"active slab {pos} {h(base)} of tid {tid}, class {c} "
                                   f"is not a slab of the pool (released while active?)")
                continue
            if s.class_idx != c or s.owner != tid:
                fail("OWN-01", f"active slab {pos} {h(base)} of tid {tid}, class {c} has "
                               f"class {s.class_idx} and owner {s.owner}", dump_slab(s))


@invariant("OWN-02", level=2, scope="slab", cost="O(1) per slab", where=TOUCHED,
           planted="evict-keeps-owner")
def own_02_owner(snap: Snapshot, s: SlabSnap, view) -> None:
    """a slab with an owner is that thread's active A or B"""
    if s.owner is None:
        return
    t = snap.threads.get(s.owner)
    c = s.class_idx
    if t is None or c >= len(t.active_a) or s.base not in (t.active_a[c], t.active_b[c]):
        fail("OWN-02", f"slab {h(s.base)} (class {c}) has owner tid {s.owner} but is not an "
                       f"active slab of that thread"
                       f"{' (the thread has no state)' if t is None else ''}", dump_slab(s))
