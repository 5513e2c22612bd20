"""The white-box hooks of FastAllocator (``hakmem_verify.contract.api.Hooks``), beyond ``Allocator``.

What the oracle may ask of the fast model: the seed's debug counters, the
footprint of what changed, plain-data snapshots, and the maintenance
operations a scheduler drives directly (evict, drain, refill), each the steps
of ``hakmem_verify.models.fast.steps`` run to completion.  ``FastAllocator``'s hook
methods are its own; the ones longer than a line delegate to the functions here, which
take the allocator as their first argument ``fa``, read its fields and call its idioms,
and record nothing themselves.
"""
from __future__ import annotations

from typing import Optional

from . import validate


# ========================================================================
# Maintenance operations the harness drives directly
# ========================================================================

def thread_and_active(fa, tid: int, class_idx: int):
    """(thread state, its active slab A of class_idx); (None, None) if either is absent."""
    validate.check_tid(fa, tid)
    t = fa._threads.get(tid)
    if t is None or not 0 <= class_idx < fa.config.num_classes:
        return None, None
    return t, t.active_a[class_idx]


def refill_active(fa, tid: int, class_idx: int) -> int:
    """Batch-refill tid's active slab A of class_idx from its bitmap; blocks moved."""
    _, a = thread_and_active(fa, tid, class_idx)
    if a is None:
        return 0
    return fa._refill(a, tid)


# ========================================================================
# Reading the state
# ========================================================================

def active_slab(fa, tid: int, class_idx: int, which: str = "a") -> Optional[int]:
    """Base of tid's active slab A (or B) of class_idx, or None."""
    t = fa._threads.get(tid)
    if t is None:
        return None
    slab = (t.active_a if which == "a" else t.active_b)[class_idx]
    return None if slab is None else slab.base


def slab_bases(fa, class_idx: Optional[int] = None) -> list:
    if class_idx is None:
        return sorted(fa._slabs)
    return sorted(fa._class_slabs[class_idx])


def pool_lists(fa):
    """``(released bases, first slab address, next new one)``; None in SuperSlab mode
    (slabs are carved in SuperSlabs, whose slots SS-02 accounts for)."""
    if fa._free_bases is None:
        return None
    return tuple(fa._free_bases), fa.config.base_address, fa._next_base


__all__ = ["active_slab", "pool_lists", "refill_active", "slab_bases", "thread_and_active"]
