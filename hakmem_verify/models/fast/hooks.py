"""The white-box hooks of FastAllocator (``hakmem_verify.contract.api.Hooks``), beyond ``Allocator``.

What the oracle may ask of the fast model: the seed's debug counters, the
footprint of what changed, plain-data snapshots, and the maintenance
operations a scheduler drives directly (evict, drain, refill), each the steps
of ``hakmem_verify.models.fast.steps`` run to completion.  ``FastAllocator`` inherits this
mixin; it reads the allocator's fields and calls its idioms, and records
nothing itself.
"""
from __future__ import annotations

from typing import Mapping, Optional

from hakmem_verify.contract.api import Footprint

from . import introspect
from .steps import run_steps


class FastHooks:
    """Mixin of FastAllocator: the ``hakmem_verify.contract.api.Hooks`` methods."""

    @property
    def path_counts(self) -> Mapping[str, int]:
        """The seed's debug counters (read-only view; names in ``PATHS``)."""
        return self.probe.view


    # ========================================================================
    # Maintenance operations the harness drives directly
    # ========================================================================

    def _thread_and_active(self, tid: int, class_idx: int):
        """(thread state, its active slab A of class_idx); (None, None) if either is absent."""
        self._check_tid(tid)
        t = self._threads.get(tid)
        if t is None or not 0 <= class_idx < self.config.num_classes:
            return None, None
        return t, t.active_a[class_idx]

    def evict_active(self, tid: int, class_idx: int) -> bool:
        """Evict tid's active slab A of class_idx (spill + drain + unown); B moves to A.
        The steps of ``evict_steps``, run to completion."""
        return run_steps(self.evict_steps(tid, class_idx))

    def refill_active(self, tid: int, class_idx: int) -> int:
        """Batch-refill tid's active slab A of class_idx from its bitmap; blocks moved."""
        _, a = self._thread_and_active(tid, class_idx)
        if a is None:
            return 0
        return self._refill(a, tid)

    def drain_remote(self, tid: int, class_idx: int) -> int:
        """Owner tid drains the remote stacks of its active slabs of class_idx.
        The steps of ``drain_steps``, run to completion; blocks drained."""
        return run_steps(self.drain_steps(tid, class_idx))

    # ========================================================================
    # Reading the state
    # ========================================================================

    def live_blocks(self) -> dict:
        return dict(self._live)

    def active_slab(self, tid: int, class_idx: int, which: str = "a") -> Optional[int]:
        """Base of tid's active slab A (or B) of class_idx, or None."""
        t = self._threads.get(tid)
        if t is None:
            return None
        slab = (t.active_a if which == "a" else t.active_b)[class_idx]
        return None if slab is None else slab.base

    def slab_bases(self, class_idx: Optional[int] = None) -> list:
        if class_idx is None:
            return sorted(self._slabs)
        return sorted(self._class_slabs[class_idx])

    def pool_lists(self):
        """``(released bases, first slab address, next new one)``; None in SuperSlab mode
        (slabs are carved in SuperSlabs, whose slots SS-02 accounts for)."""
        if self._free_bases is None:
            return None
        return tuple(self._free_bases), self.config.base_address, self._next_base

    def take_footprint(self) -> Footprint:
        """What changed since the last call (``hakmem_verify.contract.api.Footprint``); resets it. O(1)."""
        return self.probe.take()

    def snapshot(self, bases=None, mags=None, tids=None):
        """Plain data: every slab and thread (``bases=None``); or the slabs in ``bases``,
        the threads in ``tids`` (all if None) and those named in ``mags``
        (``{(tid, class): lo}``), with the magazine slots from lo to the top of the
        named magazines (see ``introspect.snapshot``)."""
        return introspect.snapshot(self, bases, mags, tids)


__all__ = ["FastHooks"]
