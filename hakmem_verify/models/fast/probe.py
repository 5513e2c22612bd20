"""The probe: the design's debug counters and the footprint of every change.

A debug build of the seed design counts which stage served each allocation,
which route each free took, and the refill / spill / drain / flush / release
events.  The model keeps those counters here, in one object, and at the same
points records what changed, so an incremental checker can re-read exactly
that (``hakmem_verify.contract.api.Footprint``):

* ``slabs``    bases of slabs whose bitmap, summary, hint, free_count,
               mini-magazine, remote stack or owner changed, or that were
               created or released;
* ``threads``  tids whose thread state was created, whose active slabs or
               pending statistics changed, or that exited;
* ``mags``     ``(tid, class) -> lo``: the lowest magazine slot written or
               popped (slots below ``lo`` are unchanged).

It also attributes every write of an owner-private word (bitmap, summary,
hint, free_count, mini-magazine) to the thread that made it (``priv``): a
write by a thread that does not own the slab is kept in ``foreign`` (base ->
``(writer, owner)`` pairs, never cleared: a violation stays visible) and shows
in the slab's snapshot, where OWN-03 reports it.

The allocator calls the probe and never reads it; the probe knows nothing of
the allocator's structures.  Every recording method is O(1).
"""
from __future__ import annotations

from types import MappingProxyType

from hakmem_verify.contract.api import Footprint
from hakmem_verify.contract.paths import PATHS

_UNCHANGED = 1 << 62    # lowest changed slot of a magazine nothing changed



class Probe:
    """Debug counters (``counts``, read through ``view``) and the current footprint."""

    __slots__ = ("counts", "view", "slabs", "threads", "mag_lo", "num_classes", "foreign",
                 "foreign_handouts", "bad_releases")

    def __init__(self, num_classes: int):
        self.counts = dict.fromkeys(PATHS, 0)     # path name -> events so far
        self.view = MappingProxyType(self.counts)  # read-only view for clients
        self.slabs = set()                         # bases changed since take()
        self.threads = set()                       # tids changed since take()
        self.mag_lo = {}                           # tid -> per class: lowest slot changed,
        #                                            _UNCHANGED where none was
        self.num_classes = num_classes             # length of each mag_lo list
        self.foreign = {}                          # base -> [(writer tid, owner tid)]
        self.foreign_handouts = {}                 # base -> [(tid, owner tid, addr)]
        self.bad_releases = []                     # (ss base, slab base, used, remote)

    # ---- recording points ----------------------------------------------------
    def hit(self, path: str) -> None:
        """One event of a debug counter that changes no slab."""
        self.counts[path] += 1

    def slab_hit(self, path: str, base: int) -> None:
        """One event of a debug counter that changed slab ``base``."""
        self.counts[path] += 1
        self.slabs.add(base)

    def slab(self, base: int) -> None:
        """Slab ``base`` changed (bitmap, mini-mag, remote stack, owner; created; released)."""
        self.slabs.add(base)

    def priv(self, base: int, tid, owner) -> None:
        """Thread ``tid`` (None: the pool, at quiescence) writes owner-private words of
        slab ``base``, owned by ``owner`` (None: unowned, under the pool lock)."""
        self.slabs.add(base)
        if owner is not None and tid is not None and owner != tid:
            self.foreign.setdefault(base, []).append((tid, owner))

    def handout(self, base: int, tid: int, owner, addr: int, from_magazine: bool) -> None:
        """Block ``addr`` of slab ``base`` (owned by ``owner``) handed to thread ``tid``;
        one that came neither from tid's magazine nor from a slab tid owns is kept in
        ``foreign_handouts`` (OWN-04)."""
        if not from_magazine and owner != tid:
            self.slabs.add(base)
            self.foreign_handouts.setdefault(base, []).append((tid, owner, addr))

    def ss_release(self, ss_base: int, path: str, met) -> None:
        """SuperSlab ``ss_base`` released (``path``: ``ss_pool_push`` or ``ss_unmap``);
        ``met``: ``(slab base, blocks in use, blocks on its remote stack)`` of each slab
        still carved in it, kept in ``bad_releases`` (never cleared; SS-04)."""
        self.counts[path] += 1
        for base, used, remote in met:
            self.slabs.add(base)
            self.bad_releases.append((ss_base, base, used, remote))

    def thread(self, tid: int) -> None:
        """Thread ``tid``'s state changed (created, active slabs, pending stats, exited)."""
        self.threads.add(tid)

    def mag(self, tid: int, class_idx: int, slot: int, path=None) -> None:
        """Slot ``slot`` of tid's magazine of class_idx was written or popped; one event
        of debug counter ``path`` if given (the magazine hit of an alloc or a free)."""
        if path is not None:
            self.counts[path] += 1
        lo = self.mag_lo.get(tid)
        if lo is None:
            lo = self.mag_lo[tid] = [_UNCHANGED] * self.num_classes
        if slot < lo[class_idx]:
            lo[class_idx] = slot

    def op(self, tid: int) -> None:
        """An alloc or free by ``tid``: tid's pending stats changed (a slab changes only
        where another point says so)."""
        self.threads.add(tid)

    # ---- reading -------------------------------------------------------------
    def take(self) -> Footprint:
        """The footprint since the last take; starts a new one.  Cost O(slabs and
        threads changed, times classes for the threads whose magazines changed)."""
        mags = {(tid, c): slot for tid, lo in self.mag_lo.items()
                for c, slot in enumerate(lo) if slot != _UNCHANGED}
        fp = Footprint(self.slabs, self.threads, mags)
        self.slabs, self.threads, self.mag_lo = set(), set(), {}
        return fp


__all__ = ["PATHS", "Probe"]
