"""Snapshots of the C pool as ``specs.api.Snapshot``: the C structures read as flat arrays
(bitmap words, summary, magazine items) and bounded list walks (``hk_walk``), converted
to the same plain data the Python model gives, so the whole catalogue checks them."""
from __future__ import annotations

from hakmem_fast.probe import PATHS   # the design's debug counters; csrc/hk.h has their order
from specs.api import SlabSnap, Snapshot, ThreadSnap


_WALK_ERRORS = {1: "points to {p}, not a block of this slab", 2: "has a cycle at {p}",
                3: "longer than its bound {bound}"}


def _walk(na, s, head: int, bound: int, what: str):
    ffi, lib = na._ffi, na._lib
    buf = ffi.new("uintptr_t[]", bound + 1)
    err = ffi.new("int *")
    n = lib.hk_walk(s, head, bound, buf, err)
    out = tuple(buf[0:n])
    if not err[0]:
        return out, ()
    nxt = head if n == 0 else ffi.cast("uintptr_t *", out[-1])[0]
    msg = _WALK_ERRORS[err[0]].format(p=hex(nxt), bound=bound)
    return out, (f"{what} list of slab {hex(s.base)} {msg} (after {n} entries)",)


def slab_snap(na, s) -> SlabSnap:
    ffi, lib = na._ffi, na._lib
    mm, e1 = _walk(na, s, s.mini_mag.head, s.mini_mag.capacity + 1, "mini_mag")
    rm, e2 = _walk(na, s, lib.hk_slab_remote_head(s), s.nblocks + 1, "remote")
    owner = lib.hk_slab_owner(s)
    foreign = tuple((s.foreign[i][0], s.foreign[i][1]) for i in range(min(s.nforeign, 4)))
    return SlabSnap(
        base=s.base, class_idx=s.class_idx, block_size=s.block_size, nblocks=s.nblocks,
        words=tuple(ffi.unpack(s.words, s.nwords)), summary=tuple(ffi.unpack(s.summary, s.nsum)),
        hint_word=s.hint_word, free_count=s.free_count, mini_mag=mm,
        mini_mag_count=s.mini_mag.count, mini_mag_capacity=s.mini_mag.capacity,
        remote=rm, remote_count=lib.hk_slab_remote_count(s),
        owner=None if owner < 0 else owner, walk_errors=e1 + e2, foreign_writes=foreign)


def _base(na, s):
    return None if s == na._ffi.NULL else s.base


def thread_snap(na, tid: int, t, named=None) -> ThreadSnap:
    """One thread; ``named=None``: every magazine whole; else only the slots from lo to
    the top of the ``(class, lo)`` pairs named."""
    ffi, nc = na._ffi, na._nc
    tops = tuple(t.mags[c].top for c in range(nc))
    if named is None:
        mags = tuple(tuple(ffi.unpack(t.mags[c].items, tops[c])) if tops[c] else ()
                     for c in range(nc))
        los = (0,) * nc
    else:
        mags, los = [()] * nc, list(tops)
        for c, lo in named:
            lo = min(lo, tops[c])
            mags[c] = tuple(t.mags[c].items[lo:tops[c]])
            los[c] = lo
        mags, los = tuple(mags), tuple(los)
    return ThreadSnap(
        tid=tid, magazines=mags, magazine_tops=tops,
        active_a=tuple(_base(na, t.active_a[c]) for c in range(nc)),
        active_b=tuple(_base(na, t.active_b[c]) for c in range(nc)),
        pending_allocs=tuple(ffi.unpack(t.alloc_batch, nc)),
        pending_frees=tuple(ffi.unpack(t.free_batch, nc)), magazine_lo=los)


def snapshot(na, bases=None, mags=None, tids=None) -> Snapshot:
    """Complete (``bases=None``) or partial, with the semantics of ``specs.api.Hooks``."""
    ffi, lib = na._ffi, na._lib
    common = dict(config=na.config, flushed=na.stats(), exact=na.exact_stats(),
                  reported=na.stats(), path_counts=dict(na.path_counts) if bases is None else {})
    if bases is None:
        slabs, s = {}, na._pool.first
        while s != ffi.NULL:
            slabs[s.base] = slab_snap(na, s)
            s = s.next
        threads = {tid: thread_snap(na, tid, t) for tid, t in na._threads.items()}
        return Snapshot(slabs=slabs, threads=threads, complete=True, **common)
    slabs = {}
    for b in bases:
        s = lib.hk_slab_of(na._pool, b)
        if s != ffi.NULL and s.base == b:
            slabs[b] = slab_snap(na, s)
    named = {}
    for (tid, c), lo in (mags or {}).items():
        named.setdefault(tid, []).append((c, lo))
    if tids is not None:
        for tid in tids:
            named.setdefault(tid, [])
    want = na._threads if tids is None else {tid: na._threads[tid] for tid in named
                                             if tid in na._threads}
    threads = {tid: thread_snap(na, tid, t, named.get(tid, [])) for tid, t in want.items()}
    return Snapshot(slabs=slabs, threads=threads, complete=False, **common)
