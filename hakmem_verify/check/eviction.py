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
(``hakmem_verify.models.fast.steps``).  There (``View.racing_pushes``) only the mini-magazine half
is checked.
"""
from __future__ import annotations

from hakmem_verify.contract.api import SlabSnap, Snapshot
from .geometry import dump_slab, h
from .registry import fail, invariant


@invariant("EVICT-01", level=2, scope="slab", cost="O(1) per slab",
           where="every op, the slabs it touched; every slab at L3; every slab at the "
                 "concurrent machine's quiescent points (the mini-magazine half)",
           planted="thread-exit-skips-drain")
def evict_01_unowned_is_empty(snap: Snapshot, s: SlabSnap, view) -> None:
    """an unowned slab has an empty mini-magazine and, between ops, an empty remote stack
    (between concurrent rounds a push that raced the eviction may remain on the stack until
    adoption or quiesce drains it)"""
    if s.owner is not None:
        return
    if s.mini_mag_count or s.mini_mag:
        _still_cached(s, "mini-magazine", s.mini_mag_count, s.mini_mag, "spill")
    if (s.remote_count or s.remote) and not getattr(view, "racing_pushes", False):
        _still_cached(s, "remote stack", s.remote_count, s.remote, "drain")


def _still_cached(s: SlabSnap, where: str, count: int, items, undone: str) -> None:
    """Fail EVICT-01: unowned slab s still caches ``items`` (``count``) in ``where``."""
    fail("EVICT-01", f"slab {h(s.base)} (class {s.class_idx}) has no owner but its "
                     f"{where} holds {max(count, len(items))} blocks "
                     f"{[hex(a) for a in items]}: the eviction that unowned it did "
                     f"not {undone} it", dump_slab(s))
