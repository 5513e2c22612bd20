"""Planted concurrency bugs of hakmem_fast: the bugs lock-free thread-caching allocators
have really shipped, each visible only when threads interleave (or, for the ownership
discipline, visible to OWN-03 in any run).

``free-writes-foreign-bitmap`` is registered in the main catalogue (the sequential
machine kills it through OWN-03).  The others are in ``RACES`` (``kind =
"concurrency"``): a sequential run cannot tell them from the correct code, so they
are hunted by the concurrent machine (``specs.concurrent``), not the lockstep one.
"""
from __future__ import annotations

from hakmem_fast import ops
from hakmem_fast.allocator import FastAllocator
from hakmem_fast.structs import NULL, store_word

from . import Mutant, mutant, patched

FA = FastAllocator
_fa = {name: getattr(FA, name) for name in ("_free_route", "_evict_steps", "_stats_steps")}

#: name -> Mutant of the concurrency kind (hunted by specs.concurrent)
RACES: dict = {}


def race(name: str, expect=()):
    """Register the decorated factory as a concurrency mutant (``kind`` "concurrency")."""
    def deco(factory):
        if name in RACES:
            raise ValueError(f"concurrency mutant {name!r} registered twice")
        m = Mutant(name, (factory.__doc__ or "").strip(), tuple(expect), factory)
        m.kind = "concurrency"
        RACES[name] = m
        return factory
    return deco


# ============================================================================
# The ownership discipline (sequentially visible to OWN-03)
# ============================================================================


@mutant("free-writes-foreign-bitmap", expect=("OWN-03",))
def _free_foreign():
    """A free of a block whose slab another thread owns sets its bitmap bit directly
    instead of pushing it on the slab's remote stack.
    Bug class: a non-owner writing an owner-private word (the bitmap is not atomic: the
    owner's concurrent refill loses the update or hands the block out twice)."""
    def route(self, t, slab, addr):
        if slab.owner is not None and slab.owner != t.tid:
            self._put_local(t.tid, slab, addr)
            return None
        return _fa["_free_route"](self, t, slab, addr)
    return patched((FA, "_free_route", route))
