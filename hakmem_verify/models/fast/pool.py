"""The pool of slabs, shared between threads and changed only under the pool lock: the
slow path's partial slab and new slab, adoption and eviction, and the release of a free
unowned slab.

Functions over the allocator's fields: each takes the
``hakmem_verify.models.fast.allocator.FastAllocator`` as its first argument ``fa``.  Other
modules call them through this module (``pool.adopt(fa, t, slab)``), never by a name
imported from it, so a planted bug that swaps one (``hakmem_verify.planted``) is seen by
every caller.
"""
from __future__ import annotations

from typing import Optional

from . import steps, superslab
from .steps import run_steps
from .structs import NULL, ThreadState, TinySlab


def find_partial(fa, c: int) -> Optional[TinySlab]:
    """Slow path: lowest unowned slab of class c with a free block (SuperSlab mode:
    one the slow path's thread may adopt, ``superslab.find_partial``)."""
    if fa._ss:
        return superslab.find_partial(fa, fa._slow_thread, c)
    best = None
    for slab in fa._class_slabs[c].values():
        if slab.owner is None and (slab.bitmap.free_count > 0 or slab.mini_mag.count > 0
                                   or slab.remote_head != NULL):
            if best is None or slab.base < best.base:
                best = slab
    return best


def new_slab(fa, c: int) -> Optional[TinySlab]:
    """Slow path: a fresh slab for class c, or None at the memory limit (SuperSlab
    mode: carved in a SuperSlab the slow path's thread owns, ``superslab.carve``)."""
    cfg = fa.config
    if cfg.max_slabs_per_class is not None and \
            len(fa._class_slabs[c]) >= cfg.max_slabs_per_class:
        return None
    base = new_slab_base(fa)
    slab = TinySlab(base, c, cfg.class_sizes[c], cfg.slab_size, cfg.word_bits,
                    cfg.mini_mag_capacity)
    fa._slabs[base] = slab
    fa._class_slabs[c][base] = slab
    if fa._ss:
        superslab.place(fa, slab)
    fa.probe.slab(base)
    return slab


def new_slab_base(fa) -> int:
    """Slow path: the base of a new slab: carved in a SuperSlab (SuperSlab mode),
    else a released base, else the pool's next address (bumped)."""
    if fa._ss:
        return superslab.carve(fa, fa._slow_thread)
    if fa._free_bases:
        return fa._free_bases.pop()
    base = fa._next_base
    fa._next_base += fa.config.slab_size
    return base


def adopt(fa, t: ThreadState, slab: TinySlab) -> None:
    """Make slab t's active A; old A becomes B; old B is evicted."""
    c = slab.class_idx
    old_b = t.active_b[c]
    if old_b is not None:
        evict(fa, t, old_b)
    t.active_b[c] = t.active_a[c]
    t.active_a[c] = slab
    slab.owner = t.tid
    fa.probe.thread(t.tid)
    fa.probe.slab(slab.base)
    fa._drain(slab, t.tid)


def evict(fa, t: ThreadState, slab: TinySlab) -> None:
    """Spill the mini-mag, drain the remote stack, unown; release if empty
    (``steps.evict_slab_steps`` run to completion)."""
    run_steps(steps.evict_slab_steps(fa, t, slab))


def maybe_release(fa, slab: TinySlab) -> None:
    if slab.owner is None and slab.fully_free() and slab.base in fa._slabs:
        release_slab(fa, slab)


def release_slab(fa, slab: TinySlab) -> None:
    """Slab leaves the pool of slabs in use: its base goes back to the free bases
    (SuperSlab mode: its slot to its SuperSlab, ``superslab.slab_released``)."""
    del fa._slabs[slab.base]
    del fa._class_slabs[slab.class_idx][slab.base]
    fa.probe.slab_hit("slab_release", slab.base)
    if fa._ss:
        superslab.slab_released(fa, slab)
    else:
        fa._free_bases.append(slab.base)


__all__ = ["adopt", "evict", "find_partial", "maybe_release", "new_slab", "new_slab_base",
           "release_slab"]
