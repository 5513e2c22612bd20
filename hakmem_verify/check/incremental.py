"""Incremental checking: the catalogue on what one op changed, not on the whole heap.

The :class:`Checker` keeps a :class:`~hakmem_verify.check.registry.View` up to
date from the implementation's footprints (``Hooks.take_footprint``): each slab
as of the last check, a copy of every thread magazine, and an index of every
magazine entry by slab.  After an op it asks for a partial snapshot of exactly
what the footprint names, updates the view in O(what changed), and runs the L1
and L2 checks of the registry on it.  At L3 it takes a complete snapshot, runs
everything, and checks that the view it kept equals the complete state
(HOOK-01): a footprint that omits a change is itself a finding.
"""
from __future__ import annotations

from dataclasses import replace

from hakmem_verify.contract.api import InvariantViolation, Snapshot
from .geometry import h
from .registry import RUNS, LiveSet, View, fail, form_of, invariant, run_op, run_view


#: the per-thread words a footprint must name the thread for
_THREAD_FIELDS = ("magazine_tops", "active_a", "active_b", "pending_allocs", "pending_frees")


@invariant("HOOK-01", level=3, scope="op", cost="O(heap)", where="every L3 check",
           planted="footprint-forgets-magazine")
def hook_01_footprint(snap: Snapshot, view: View) -> None:
    """every change an op makes is in its footprint: the incrementally kept slabs, magazines
    and thread records == the complete snapshot"""
    for base, s in snap.slabs.items():
        p = view.prev.get(base)
        if p is not None and p != s:
            fail("HOOK-01", f"slab {h(base)} (class {s.class_idx}) changed without appearing "
                            f"in any footprint since it was last checked")
    for base in view.prev:
        if base not in snap.slabs:
            fail("HOOK-01", f"slab {h(base)} left the pool without appearing in a footprint")
    kept = view.mags
    for tid, t in snap.threads.items():
        for c, items in enumerate(t.magazines):
            if list(items) != kept.get((tid, c), []):
                fail("HOOK-01", f"the magazine of tid {tid}, class {c} changed without "
                                f"appearing in a footprint (kept {len(kept.get((tid, c), []))} "
                                f"entries, it holds {len(items)})")
    for tid, t in snap.threads.items():
        k = view.threads.get(tid)
        if k is None:
            fail("HOOK-01", f"tid {tid} appeared without a footprint naming it")
        for field in _THREAD_FIELDS:
            if getattr(k, field) != getattr(t, field):
                fail("HOOK-01", f"the {field} of tid {tid} changed without a footprint naming "
                                f"the thread (kept {getattr(k, field)}, now {getattr(t, field)})")
    for tid in view.threads:
        if tid not in snap.threads:
            fail("HOOK-01", f"tid {tid} exited without a footprint naming it")
    for (tid, c), items in kept.items():
        if items and tid not in snap.threads:
            fail("HOOK-01", f"tid {tid} left with {len(items)} blocks in its class-{c} "
                            f"magazine without a footprint saying so")


@form_of("HOOK-01")
def hook_01_missed_change(found: InvariantViolation) -> None:
    """HOOK-01 when a check on an op's footprint failed but the complete state passes
    every check: the footprint left out a change."""
    fail("HOOK-01", f"the checks on the op's footprint found {found} but the complete state "
                    f"passes every check: the footprint left out a change")


@invariant("HOOK-02", level=1, scope="op", cost="O(1) per maintenance op",
           where="every Evict, Drain and Refill op (white-box)",
           planted="hook-drain-reports-nothing")
def hook_02_result(what: str, got, want) -> None:
    """the maintenance hooks report what they did: evict_active returns whether tid had an
    active slab A of the class, drain_remote the blocks it took off the remote stacks,
    refill_active the blocks it moved into A's mini-magazine"""
    if got != want:
        fail("HOOK-02", f"{what} returned {got!r}, but what it did says {want!r}")


class Checker:
    """The catalogue, op by op, on an implementation's footprints (white-box tier)."""

    def __init__(self, impl, live: LiveSet, counts=RUNS):
        self.impl = impl
        self.counts = counts
        self.live = live
        self.view = None            # None until the first full check
        # slabs seen leaving the pool through footprints, non-empty remote stacks seen
        # taken (drained), and how many times the kept view was rebuilt without them (a
        # count is comparable only within one epoch)
        self.released = 0
        self.drained = 0
        self.epoch = 0
        self.mask = ~(impl.config.slab_size - 1)

    # ---- after each op --------------------------------------------------------
    def step(self, level: int) -> Snapshot:
        """Run L1 (and L2 when level >= 2) on what changed since the last step."""
        if level >= 2 and self.view is None:
            return self.full()       # nothing kept yet (or stale): check everything once
        fp = self.impl.take_footprint()
        self.counts["L1"] += 1               # per-level totals, beside the per-ID counts
        if level < 2:
            if fp:
                self.view = None     # the kept state is stale: the next L2 step resyncs
            snap = self.impl.snapshot((), {})
            v = View(self.live)
            v.tids = tuple(snap.threads)
            run_view(snap, v, 1, counts=self.counts)
            return snap
        view = self.view
        self.counts["L2"] += 1
        tids = set(fp.threads)
        tids.update(k[0] for k in fp.mags)
        part = self.impl.snapshot(sorted(fp.slabs), fp.mags, tids)
        slabs = part.slabs
        view.complete = False
        view.bases = [b for b in fp.slabs if b in slabs]
        view.released = [b for b in fp.slabs if b not in slabs]
        self.released += len(view.released)
        view.new_mag = []
        view.mag_dups = []
        for key in fp.mags:
            self._absorb_magazine(part, key)
        for tid in tids:
            t = part.threads.get(tid)
            view.keep_thread(tid, t)
            if t is None:
                self._forget_thread(tid)
        view.tids = [t for t in tids if t in part.threads]
        snap = replace(part, threads=view.threads)     # the checks see every thread
        try:
            run_view(snap, view, level, counts=self.counts)
        except InvariantViolation as e:
            self._confirm(e)
        prev = view.prev
        self.drained += self._stacks_taken(prev, slabs, view)
        for b in view.bases:
            prev[b] = slabs[b]
        for b in view.released:
            prev.pop(b, None)
        view.new_live = []
        return snap

    @staticmethod
    def _stacks_taken(prev: dict, slabs: dict, view: View) -> int:
        """Remote stacks drained since the last step: a slab whose stack was not empty and
        whose old head is no longer on it (only a drain removes blocks from a remote
        stack, and it takes the whole stack), or that left the pool (a released slab's
        stack is empty).  O(remote) of the slabs the footprint names."""
        n = 0
        for b in view.bases:
            p = prev.get(b)
            if p is not None and p.remote and p.remote[0] not in slabs[b].remote:
                n += 1
        for b in view.released:
            p = prev.get(b)
            if p is not None and p.remote:
                n += 1
        return n

    def _confirm(self, e: InvariantViolation) -> None:
        """An incremental check failed: if the complete state passes every check, the
        failure came from a change missing in the footprint (HOOK-01), not the structure."""
        snap = self.impl.snapshot()
        run_view(snap, View.whole(snap, self.live), 3, counts=self.counts)
        run_op(hook_01_missed_change, e, counts=self.counts)

    def _absorb_magazine(self, snap: Snapshot, key) -> None:
        tid, c = key
        view = self.view
        kept = view.mags.setdefault(key, [])
        t = snap.threads.get(tid)
        if t is None:
            return self._forget_magazine(key)
        lo = t.magazine_lo[c] if t.magazine_lo else 0
        if lo > len(kept):
            fail("HOOK-01", f"the magazine of tid {tid}, class {c} holds slots "
                            f"{len(kept)}..{lo - 1} that no footprint reported")
        for a in kept[lo:]:
            view.mag_remove(a, self.mask)
        del kept[lo:]
        for a in t.magazines[c]:
            view.mag_add(a, tid, c, self.mask)
        kept.extend(t.magazines[c])

    def _forget_magazine(self, key) -> None:
        for a in self.view.mags.pop(key, ()):
            self.view.mag_remove(a, self.mask)

    def _forget_thread(self, tid: int) -> None:
        for key in [k for k in self.view.mags if k[0] == tid]:
            self._forget_magazine(key)

    def handed_out(self, addr: int, cls_idx: int) -> None:
        """The oracle handed this block to the client (LIVE-01 checks it next step)."""
        if self.view is not None:
            self.view.new_live.append((addr, cls_idx))

    def before(self, base: int):
        """The slab as of the last check (None if unknown)."""
        return None if self.view is None else self.view.prev.get(base)

    # ---- whole heap --------------------------------------------------------------
    def full(self) -> Snapshot:
        """L3: every check on a complete snapshot; then the kept view must match it."""
        if self.view is not None:
            self.step(2)            # absorb what changed since the last step
        else:
            self.impl.take_footprint()
            self.epoch += 1
        snap = self.impl.snapshot()
        whole = View.whole(snap, self.live)
        self.counts["L3"] += 1
        run_view(snap, whole, 3, counts=self.counts)
        if self.view is not None:
            run_op(hook_01_footprint, snap, self.view, counts=self.counts)
        self._resync(snap, whole)
        return snap

    def _resync(self, snap: Snapshot, whole: View) -> None:
        whole.complete = False
        whole.pend_a = [0] * snap.config.num_classes
        whole.pend_f = [0] * snap.config.num_classes
        for tid, t in snap.threads.items():
            whole.keep_thread(tid, t)
        whole.prev = dict(snap.slabs)
        whole.mags = {(tid, c): list(items) for tid, t in snap.threads.items()
                      for c, items in enumerate(t.magazines)}
        whole.new_mag = []
        self.view = whole
