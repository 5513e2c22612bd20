"""Planted concurrency bugs of SuperSlab mode (``Config.use_superslab``): the ownership
of a SuperSlab, raced by threads whose steps interleave.
Registered in ``hakmem_verify.planted.races.RACES`` (``kind = "concurrency"``) with SuperSlab-mode
Configs (``configs``): the concurrent machine hunts them in that mode.
"""
from __future__ import annotations

import dataclasses

from hypothesis import strategies as st

from hakmem_verify.explore.configs import random_config
from hakmem_verify.models.fast import pool, superslab
from hakmem_verify.models.fast.allocator import FastAllocator
from hakmem_verify.explore.configs import concurrent_configs, superslab_concurrent_configs

from . import patched
from .base import _fn, pick_before_lock, take_pick
from .races import race
from .races_pool import flying_push, release_flying, reusing_new_slab

FA = FastAllocator

#: SuperSlabs of one slab slot and a pool of 1-2: every new slab takes a SuperSlab, every
#: released slab gives one back, so pool pops are common
one_slab_superslabs = concurrent_configs.flatmap(
    lambda c: st.builds(
        lambda pool, sll: dataclasses.replace(c, use_superslab=True,
                                              superslab_size=2 * c.slab_size,
                                              superslab_pool_max=pool, tls_sll_capacity=sll),
        st.integers(1, 2), st.integers(0, 2)))


@race("ss-reclaim-without-lock", expect=("SS-01", "SS-02", "SS-07", "LIVE-02", "OWN-01",
                                         "SLAB-ACCT", "CRASH-STEP", "LOCK-01"),
      configs=superslab_concurrent_configs)
def _reclaim_without_lock():
    """The slow path picks an abandoned SuperSlab with a free slot before it takes the
    pool lock (a lock-free scan), and under the lock reclaims the one it picked without
    checking that it is still abandoned: two threads that picked the same SuperSlab both
    reclaim it, both list it as their own and carve the same free slot.
    Bug class: a check-then-act race on ownership (the check outside the lock that
    guards the act)."""
    def with_room(self, owner):
        if owner is None and getattr(self, "_slow_thread", None) is not None:
            picked = take_pick(self, "_picked", self._slow_thread.tid)
            if picked is not None and (picked.free_slots or picked.carved < picked.nslots):
                return picked                       # whoever owns it now
        return _fn["superslab.with_room"](self, owner)
    return patched(pick_before_lock("alloc_slow_steps", "_picked", "ss-scan",
                                    lambda self, t, c: _fn["superslab.with_room"](self, None)),
                   (superslab, "with_room", with_room))


@race("ss-pool-pop-without-lock", expect=("SS-08", "SS-07", "SS-01", "SS-02", "LIVE-02",
                                          "PART-01", "OWN-01", "SLAB-ACCT", "CRASH-STEP",
                                          "LOCK-01"),
      configs=one_slab_superslabs,
      draw_config=lambda rng: random_config(rng, 1.0, slots=(2,), pool_max=(1, 2)))
def _pool_pop_without_lock():
    """The slow path reads the top of the pool of empty SuperSlabs before it takes the
    pool lock, and under the lock takes the SuperSlab it read without checking that it
    is still there: two threads that read the same top both take it, both own it and
    carve the same slot.
    Bug class: an unlocked pop of a shared free list (both poppers read one head)."""
    def acquire(self, t):
        picked = take_pick(self, "_pool_picks", t.tid)
        if picked is not None:                  # the pop takes what was read, wherever it is
            if picked in self._ss_pool:
                self._ss_pool.remove(picked)
            self._ss_pool.append(picked)
        return _fn["superslab.acquire"](self, t)
    return patched(pick_before_lock("alloc_slow_steps", "_pool_picks", "ss-pool-read",
                                    lambda self, t, c: self._ss_pool[-1] if self._ss_pool
                                    else None),
                   (superslab, "acquire", acquire))


@race("ss-release-during-push", expect=("RMT-01", "RMT-02", "DATA-01", "PART-01", "LIVE-02",
                                        "SS-04", "CRASH-STEP"),
      configs=superslab_concurrent_configs)
def _ss_release_during_push():
    """A slab leaves its SuperSlab when all its blocks are free, counting a block whose
    remote free has started but whose push has not landed as free; its SuperSlab, with
    no slab left in use, goes to the pool.  The pool hands the SuperSlab out again and
    the slot is carved for a new slab at the same address, in the same memory; the push
    then lands on the new slab's remote stack, a block its bitmap calls free (RMT-01), or
    writes its link into a block a client holds (DATA-01).
    Bug class: a SuperSlab released while a remote free into it is in flight (mimalloc
    counts a delayed free as in use until it lands)."""
    return patched((pool, "maybe_release", release_flying), (FA, "_remote_push", flying_push),
                   (pool, "new_slab", reusing_new_slab(False)))


__all__: list = []
