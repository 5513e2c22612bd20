"""Planted bugs of SuperSlab mode (``hakmem_verify.models.fast.superslab``): the header's slot table
and owner, the free slots, the pool of empty SuperSlabs, the tls_sll and the free
pipeline's counters.  Each is hunted with SuperSlab-mode Configs only
(``superslab_configs``: tiny slabs, 2-8 slots per SuperSlab)."""
from __future__ import annotations

import dataclasses

from hypothesis import strategies as st

from hakmem_verify.models.fast import superslab
from hakmem_verify.contract.api import Config

from . import mutant, patched

_ss = {name: getattr(superslab, name) for name in (
    "slot_of", "slab_released", "reclaim", "partial_rank")}


@st.composite
def _in_superslab_mode(draw, base):
    cfg = draw(base)
    return dataclasses.replace(cfg, use_superslab=True,
                               superslab_size=cfg.slab_size * draw(st.sampled_from([2, 4, 8])),
                               superslab_pool_max=draw(st.integers(0, 2)),
                               tls_sll_capacity=draw(st.integers(0, 4)))


_tiny = st.builds(Config,
                  class_sizes=st.sampled_from([(16,), (8, 16), (16, 32)]),
                  slab_size=st.sampled_from([64, 128]), word_bits=st.sampled_from([4, 8, 64]),
                  mini_mag_capacity=st.integers(1, 3), refill_batch=st.integers(1, 3),
                  magazine_capacity=st.integers(1, 3), flush_interval=st.integers(1, 8),
                  max_slabs_per_class=st.one_of(st.none(), st.integers(1, 4)))
#: tiny Configs in SuperSlab mode: every planted bug of this file is hunted with them
superslab_configs = _in_superslab_mode(_tiny)


# ============================================================================
# The header: slot table, free slots, owner
# ============================================================================

@mutant("ss-slot-off-by-one", expect=("SS-01",), configs=superslab_configs)
def _slot_off_by_one():
    """The slot of an address is computed one slab low (the mask keeps a bit too many):
    a new slab is entered in the neighbouring slot of its SuperSlab's header.
    Bug class: off-by-one in the address-to-metadata mapping (a block attributed to the
    wrong slab)."""
    def slot(self, ss_base, addr):
        return _ss["slot_of"](self, ss_base, addr) - 1
    return patched((superslab, "slot_of", slot))


@mutant("ss-free-slot-lost", expect=("SS-02",), configs=superslab_configs)
def _free_slot_lost():
    """A released slab's slot is cleared in the header but not put back on the free
    slots: the SuperSlab loses a slot for good.
    Bug class: a leak in a two-level allocator's own metadata."""
    def released(self, slab):
        ss = self._superslabs[slab.base & self._ss_mask]
        _ss["slab_released"](self, slab)
        if ss.free_slots:                       # the slot just put back (unless released)
            ss.free_slots.pop()
    return patched((superslab, "slab_released", released))


@mutant("ss-reclaim-keeps-owner", expect=("SS-07",), configs=superslab_configs)
def _reclaim_keeps_owner():
    """Reclaiming an abandoned SuperSlab, the thread lists it as its own but the header's
    owner stays None: its slabs get an owner their SuperSlab does not name.
    Bug class: ownership recorded on one side only (mimalloc's abandoned-segment reclaim
    must set the segment's thread id)."""
    def reclaim(self, t, ss):
        _ss["reclaim"](self, t, ss)
        ss.owner = None
    return patched((superslab, "reclaim", reclaim))


@mutant("ss-reclaim-before-own", expect=("CONF-01",), configs=superslab_configs)
def _reclaim_before_own():
    """The slow path looks for a partial slab in abandoned SuperSlabs first and reclaims
    one whole even when a SuperSlab the thread owns has a partial slab of the class.
    Bug class: a search order inverted (every block is still handed out once, but each
    thread grows its SuperSlabs: the memory the mode bounds is not bounded)."""
    def rank(self, t, slab):
        key = _ss["partial_rank"](self, t, slab)
        return None if key is None else (not key[0], key[1])
    return patched((superslab, "partial_rank", rank))


# ============================================================================
# The pool of empty SuperSlabs and release
# ============================================================================

@mutant("ss-pool-pop-unlocked", expect=("SS-08",), configs=superslab_configs)
def _pool_pop_unlocked():
    """The pool pop reads the top SuperSlab without taking it off (a pop without its
    lock: two threads read the same top): the next pop hands the same SuperSlab to a
    second owner.
    Bug class: an unlocked (or ABA) pop of a shared free list."""
    def pop(self):
        return self._ss_pool[-1]
    return patched((superslab, "pool_pop", pop))


@mutant("ss-map-uncounted", expect=("SS-09",), configs=superslab_configs)
def _map_uncounted():
    """A SuperSlab mapped from the OS is not counted (``ss_map``): the reserved memory
    the counters report (the explore panel's OOM-risk number) is short by a SuperSlab.
    Bug class: an accounting counter forgotten on one path of several."""
    real = superslab.acquire

    def acquire(self, t):
        before = self.probe.counts["ss_map"]
        ss = real(self, t)
        if self.probe.counts["ss_map"] != before:
            self.probe.counts["ss_map"] = before
        return ss
    return patched((superslab, "acquire", acquire))


@mutant("ss-release-ignores-remote", expect=("SS-04",), configs=superslab_configs)
def _release_ignores_remote():
    """The SuperSlab release test counts a slab whose blocks are all bitmap-free or on its
    remote stack as empty: the SuperSlab goes back to the pool while a slab still has
    blocks on its remote stack (and an owner).
    Bug class: releasing a segment with pending cross-thread frees (mimalloc collects a
    page's thread-free list before it frees the segment)."""
    def releasable(self, ss):
        return all(s is None or s.bitmap.free_count + s.remote_count + s.mini_mag.count
                   == s.nblocks for s in ss.slabs)
    return patched((superslab, "releasable", releasable))


# ============================================================================
# tls_sll and the free pipeline
# ============================================================================

@mutant("tls-sll-ignores-capacity", expect=("SS-03",), configs=superslab_configs)
def _sll_ignores_capacity():
    """The tls_sll push has no capacity test: a thread's free list grows without bound.
    Bug class: an unbounded thread cache (memory stranded in one thread)."""
    def push(self, t, c, slab, addr):
        superslab.sll_link(self, t, c, slab, addr)
        return True
    return patched((superslab, "sll_push", push))


@mutant("tls-sll-not-flushed-at-exit", expect=("PART-01", "SS-05"), configs=superslab_configs)
def _sll_not_flushed():
    """thread_exit returns the magazines but not the tls_sll lists: their blocks are lost
    with the thread state.
    Bug class: a thread-exit hook that forgets one of the thread's caches."""
    def flush(self, t):
        return
        yield
    return patched((superslab, "sll_flush_steps", flush))


def _counting(remote_counter):
    """``_ss_count_free`` with the counter of a free that is not local chosen by
    ``remote_counter(ss)`` (a path name, or None: not counted)."""
    def count(self, t, ss):
        name = "ss_local" if ss.owner == t.tid else remote_counter(ss)
        if name is not None:
            self.probe.hit(name)
    return count


@mutant("ss-counter-on-wrong-route", expect=("SS-06",), configs=superslab_configs)
def _counter_on_wrong_route():
    """A free into a SuperSlab another thread owns counts ss_local: the totals still add
    up, only the route is wrong.
    Bug class: a debug counter on the wrong branch (the diagnosis it feeds is wrong)."""
    return patched((superslab, "count_free",
                    _counting(lambda ss: "ss_local" if ss.owner is not None
                                    else "ss_remote")))


@mutant("ss-remote-uncounted-when-abandoned", expect=("SS-05", "SS-06"),
        configs=superslab_configs)
def _remote_uncounted_when_abandoned():
    """A free into an abandoned SuperSlab (no owner) counts neither ss_local nor
    ss_remote: the free-pipeline counters no longer add up to the frees.
    Bug class: a counter missing on a rare branch."""
    return patched((superslab, "count_free",
                    _counting(lambda ss: None if ss.owner is None else "ss_remote")))


__all__ = ["superslab_configs"]
