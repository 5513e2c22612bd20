"""Planted concurrency bugs of SuperSlab mode (``Config.use_superslab``): the ownership
of a SuperSlab, raced by threads whose steps interleave.
Registered in ``fuzz.mutants.races.RACES`` (``kind = "concurrency"``) with SuperSlab-mode
Configs (``configs``): the concurrent machine hunts them in that mode.
"""
from __future__ import annotations

from hakmem_fast.allocator import FastAllocator
from specs.concurrent import superslab_concurrent_configs

from . import patched
from .races import race

FA = FastAllocator
_fa = {name: getattr(FA, name) for name in ("_alloc_slow_steps", "_ss_with_room")}


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
    def slow(self, t, c):
        picks = self.__dict__.setdefault("_picked", {})
        picked = self._ss_with_room(None)
        if picked is not None:
            picks[t.tid] = picked
            yield "ss-scan"
        try:
            return (yield from _fa["_alloc_slow_steps"](self, t, c))
        finally:
            picks.pop(t.tid, None)                  # a pick lives for this slow path only

    def with_room(self, owner):
        if owner is None and getattr(self, "_slow_thread", None) is not None:
            picked = self.__dict__.get("_picked", {}).pop(self._slow_thread.tid, None)
            if picked is not None and (picked.free_slots or picked.carved < picked.nslots):
                return picked                       # whoever owns it now
        return _fa["_ss_with_room"](self, owner)
    return patched((FA, "_alloc_slow_steps", slow), (FA, "_ss_with_room", with_room))


__all__: list = []
