"""Eviction: what a slab holds once it stops being a thread's active slab.

    owner is None  =>  mini_mag.count == 0 and remote_count == 0 and remote == ()

A slab stops being owned at four sites of the design: an explicit eviction
(``Hooks.evict_active``), a thread exit (its A and B of every class), an adoption
(the old B is evicted to make room) and quiesce (every thread exits).  Each spills
the mini-magazine into the bitmap and drains the remote stack *before* it clears the
owner, so between ops an unowned slab caches nothing: its free blocks are all
bitmap-free, where the pool (adoption, release) sees them.  SPL-01 checks the spill
of one Evict op against the slab before it; EVICT-01 checks the state every site
must leave, wherever the slab is seen.

Between the rounds of the concurrent machine the remote half is weaker: a free
that read the owner before an eviction's drain pushes onto the stack after it, so
an unowned slab may hold such blocks until the next adoption or quiesce drains them
(``hakmem_fast.steps``).  There (``View.racing_pushes``) only the mini-magazine half
is checked.
"""
from __future__ import annotations

from ..api import SlabSnap, Snapshot
from .geometry import dump_slab, h
from .registry import fail, invariant


@invariant("EVICT-01", level=2, scope="slab", cost="O(1) per slab",
           where="every op, the slabs it touched; every slab at L3; every slab at the "
                 "concurrent machine's quiescent points (the mini-magazine half)",
           planted="thread-exit-skips-drain",
           statement="an unowned slab has an empty mini-magazine and, between ops, an empty "
                     "remote stack (between concurrent rounds a push that raced the eviction "
                     "may remain on the stack until adoption or quiesce drains it)")
def evict_01_unowned_is_empty(snap: Snapshot, s: SlabSnap, view) -> None:
    if s.owner is not None:
        return
    if s.mini_mag_count or s.mini_mag:
        fail("EVICT-01", f"slab {h(s.base)} (class {s.class_idx}) has no owner but its "
                         f"mini-magazine holds {max(s.mini_mag_count, len(s.mini_mag))} blocks "
                         f"{[hex(a) for a in s.mini_mag]}: the eviction that unowned it did "
                         f"not spill it", dump_slab(s))
    if getattr(view, "racing_pushes", False):
        return
    if s.remote_count or s.remote:
        fail("EVICT-01", f"slab {h(s.base)} (class {s.class_idx}) has no owner but its "
                         f"remote stack holds {max(s.remote_count, len(s.remote))} blocks "
                         f"{[hex(a) for a in s.remote]}: the eviction that unowned it did "
                         f"not drain it", dump_slab(s))
