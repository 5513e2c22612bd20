"""Planted bugs that keep the heap safe but leave the design's path or its debug
counters: caught only by the path-conformance checks (CONF-*, hakmem_verify/check/
conformance.py).  The seed design ships these counters for regression analysis; a
model that takes another path, or miscounts, misleads every performance conclusion.
"""
from __future__ import annotations

from hakmem_verify.models.fast import pool, steps
from hakmem_verify.models.fast.allocator import FastAllocator
from hakmem_verify.models.fast.probe import Probe
from hakmem_verify.models.fast.structs import NULL

from . import mutant, patched

FA = FastAllocator
_orig_hit, _orig_mag, _orig_evict_steps = Probe.hit, Probe.mag, steps.evict_slab_steps
_orig_alloc_hot, _orig_hot_mini_mag, _orig_hot_refill = (
    FA._alloc_hot, FA._hot_mini_mag, FA._hot_refill)
_orig_slab_hit = Probe.slab_hit


@mutant("conf-free-routing-inverted", expect=("CONF-02",))
def _free_routing_inverted():
    """_free_route tests ``slab.owner == t.tid`` where the design says ``!=``: an owner's
    free goes through its own slab's remote stack and a non-owner's free stays in its
    magazine.  Every block still comes back, so no safety check fires.
    Bug class: an inverted ownership test in the free path (cross-thread frees bypass the
    owner's remote stack; owner frees pay the atomic push)."""
    def _free_route(self, t, slab, addr):
        if slab.owner is not None and slab.owner == t.tid:
            return self._remote_push(slab, addr)
        self._keep_or_return(t, slab, addr)
        return None
    return patched((FA, "_free_route", _free_route))


@mutant("conf-refill-nonempty-minimag", expect=("CONF-03",))
def _refill_nonempty():
    """The hot path tops A's mini-magazine up from the bitmap whenever it is not full,
    before popping, and counts that as a refill: the design refills only an empty
    mini-magazine (Phase 2 step 3).
    Bug class: refill at the wrong time (bitmap scans on every alloc; the hot path gets
    slower while every block is still handed out once)."""
    def _hot_mini_mag(self, t, a):
        if a.mini_mag.count < a.mini_mag.capacity:
            p = _orig_hot_refill(self, t, a)          # counted as a refill
            if p != NULL:
                return p
        return _orig_hot_mini_mag(self, t, a)
    return patched((FA, "_hot_mini_mag", _hot_mini_mag))


@mutant("conf-minimag-before-magazine", expect=("CONF-01",))
def _minimag_first():
    """The hot path pops A's mini-magazine before the TLS magazine: stages 1 and 2 of
    Phase 2 swapped.  Blocks stay unique; only the order of the stages is wrong.
    Bug class: a reordered fast path (the cheaper cache is bypassed)."""
    def _alloc_hot(self, t, c):
        a = t.active_a[c]
        p = NULL if a is None else self._hot_mini_mag(t, a)
        return p if p != NULL else _orig_alloc_hot(self, t, c)
    return patched((FA, "_alloc_hot", _alloc_hot))


@mutant("conf-spill-counted-minus-one", expect=("CONF-04",))
def _spill_minus_one():
    """Evicting a slab with a non-empty mini-magazine counts the spill as -1.
    Bug class: a miscounting debug counter (the refill-stage / spill statistics users
    read to find why the hot path got slower are wrong)."""
    def evict_slab_steps(self, t, slab):
        full = slab.mini_mag.count > 0
        yield from _orig_evict_steps(self, t, slab)
        if full:
            self.probe.counts["spill"] -= 2
    return patched((steps, "evict_slab_steps", evict_slab_steps))


@mutant("conf-stat-flush-counted-twice", expect=("CONF-05",))
def _flush_twice():
    """Each statistics flush counts stat_flush twice (+2).
    Bug class: a miscounting debug counter (a flush rate twice the real one)."""
    def hit(self, path):
        _orig_hit(self, path)
        if path == "stat_flush":
            _orig_hit(self, path)
    return patched((Probe, "hit", hit))


@mutant("conf-free-magazine-uncounted", expect=("CONF-06",))
def _free_magazine_uncounted():
    """A free into the TLS magazine is not counted (+0): free_magazine stays put.
    Bug class: a miscounting debug counter (the free pipeline's counters no longer sum
    to the frees done)."""
    def mag(self, tid, class_idx, slot, path=None):
        _orig_mag(self, tid, class_idx, slot, None if path == "free_magazine" else path)
    return patched((Probe, "mag", mag))


@mutant("conf-drain-uncounted", expect=("CONF-08",))
def _drain_uncounted():
    """A drain of a remote stack is not counted (+0): the drain counter stays put while
    the owner splices remote-freed blocks back into its bitmap.
    Bug class: a miscounting debug counter (the cross-thread free traffic looks absent)."""
    def slab_hit(self, path, base):
        if path == "drain":
            return self.slab(base)
        return _orig_slab_hit(self, path, base)
    return patched((Probe, "slab_hit", slab_hit))


@mutant("conf-release-never", expect=("CONF-07",))
def _release_never():
    """An unowned slab whose every block is free is never released to the pool: it stays
    with its class (which may adopt it again), so no block is lost and no class runs out
    of its own memory.
    Bug class: a page/span that is never returned (memory held by an idle size class;
    other classes cannot reuse it)."""
    return patched((pool, "maybe_release", lambda self, slab: None))
