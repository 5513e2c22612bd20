"""Snapshots of a FastAllocator as plain data, and its check(level).

Intrusive lists are read from simulated memory with bounded walks: the
mini-magazine at most ``capacity + 1`` steps, the remote stack at most
``nblocks + 1``; a cycle or a pointer outside the slab ends the walk and is
recorded in ``walk_errors`` instead of hanging.
"""
from __future__ import annotations

from specs.api import SlabSnap, Snapshot, Stats, ThreadSnap

from .structs import NULL, load_word


def walk(slab, head: int, bound: int, what: str):
    """Addresses of an intrusive list from head, at most ``bound`` of them."""
    out, seen, errors = [], set(), []
    p = head
    lo, hi = slab.base, slab.base + slab.nblocks * slab.block_size
    while p != NULL:
        if not lo <= p < hi or (p - lo) % slab.block_size:
            errors.append(f"{what} list of slab {hex(slab.base)} points to {hex(p)}, "
                          f"not a block of this slab (after {len(out)} entries)")
            break
        if p in seen:
            errors.append(f"{what} list of slab {hex(slab.base)} has a cycle at {hex(p)} "
                          f"(after {len(out)} entries)")
            break
        if len(out) >= bound:
            errors.append(f"{what} list of slab {hex(slab.base)} longer than its bound {bound}")
            break
        seen.add(p)
        out.append(p)
        p = load_word(slab, p)
    return tuple(out), tuple(errors)


def slab_snap(slab, foreign=None, handouts=None) -> SlabSnap:
    bm = slab.bitmap
    mm, e1 = walk(slab, slab.mini_mag.head, slab.mini_mag.capacity + 1, "mini_mag")
    rm, e2 = walk(slab, slab.remote_head, slab.nblocks + 1, "remote")
    return SlabSnap(
        base=slab.base, class_idx=slab.class_idx, block_size=slab.block_size,
        nblocks=slab.nblocks, words=tuple(bm.words), summary=tuple(bm.summary),
        hint_word=bm.hint_word, free_count=bm.free_count, mini_mag=mm,
        mini_mag_count=slab.mini_mag.count, mini_mag_capacity=slab.mini_mag.capacity,
        remote=rm, remote_count=slab.remote_count, owner=slab.owner,
        walk_errors=e1 + e2, foreign_writes=tuple(foreign.get(slab.base, ())) if foreign else (),
        foreign_handouts=tuple(handouts.get(slab.base, ())) if handouts else ())


def thread_snap(t) -> ThreadSnap:
    """One thread with its magazines whole."""
    magazines = tuple(tuple(m.items[:max(0, min(m.top, len(m.items)))]) for m in t.mags)
    return _thread(t, magazines, (0,) * len(t.mags))


def thread_snap_slots(t, named) -> ThreadSnap:
    """One thread with, of its magazines, only the slots from lo to the top of the
    classes in ``named`` (``(class, lo)`` pairs).  Cost O(classes + slots copied)."""
    mags = t.mags
    tops = tuple([m.top for m in mags])
    if not named:
        return _thread(t, ((),) * len(mags), tops, tops)
    magazines, los = [()] * len(mags), list(tops)
    for c, lo in named:
        m = mags[c]
        top = m.top
        if lo > top:
            lo = top
        magazines[c] = tuple(m.items[lo:top])
        los[c] = lo
    return _thread(t, tuple(magazines), tuple(los), tops)


def _thread(t, magazines, magazine_lo, tops=None) -> ThreadSnap:
    return ThreadSnap(
        tid=t.tid, magazines=magazines,
        magazine_tops=tops if tops is not None else tuple([m.top for m in t.mags]),
        active_a=tuple([s.base if s is not None else None for s in t.active_a]),
        active_b=tuple([s.base if s is not None else None for s in t.active_b]),
        pending_allocs=tuple(t.alloc_batch), pending_frees=tuple(t.free_batch),
        magazine_lo=magazine_lo)


def snapshot(fa, bases=None, mags=None, tids=None) -> Snapshot:
    """Plain-data state of a FastAllocator.

    * ``bases=None``: complete (every slab and thread, every magazine whole).
    * otherwise partial: the slabs in ``bases``; the tops, active slabs and
      pending stats of the threads in ``tids`` (every thread if None) and of those
      named in ``mags`` (the ``Footprint.mags`` of ``specs.api.Hooks``,
      ``{(tid, class): lo}``); of the named magazines the slots from lo to the top
      (``ThreadSnap.magazine_lo``).  Cost O(bases' slabs + included threads x
      classes + slots copied): no other magazine is read.
    """
    flushed = Stats(tuple(fa.g_alloc_count), tuple(fa.g_free_count))
    common = dict(config=fa.config, flushed=flushed, exact=fa.exact_stats(), reported=fa.stats(),
                  path_counts=dict(fa.path_counts) if bases is None else {})
    if bases is None:
        return Snapshot(slabs={b: slab_snap(s, fa.probe.foreign, fa.probe.foreign_handouts) for b, s in fa._slabs.items()},
                        threads={tid: thread_snap(t) for tid, t in fa._threads.items()},
                        complete=True, **common)
    slabs = {b: slab_snap(fa._slabs[b], fa.probe.foreign,
                                    fa.probe.foreign_handouts) for b in bases if b in fa._slabs}
    named = {}
    for (tid, c), lo in (mags or {}).items():
        named.setdefault(tid, []).append((c, lo))
    if tids is not None:
        for tid in tids:
            named.setdefault(tid, [])
    want = fa._threads if tids is None else {tid: fa._threads[tid] for tid in named
                                             if tid in fa._threads}
    threads = {tid: thread_snap_slots(t, named.get(tid)) for tid, t in want.items()}
    return Snapshot(slabs=slabs, threads=threads, complete=False, **common)


def check(fa, level: int = 3) -> None:
    """Run the invariant catalogue up to ``level`` against the allocator's own live table."""
    from specs import invariants     # the catalogue, loaded only when a check runs
    snap = snapshot(fa)
    invariants.check_snapshot(snap, level, invariants.LiveSet.from_blocks(fa._live, fa.config))


__all__ = ["snapshot", "check", "walk", "slab_snap", "thread_snap", "thread_snap_slots", "Stats"]
