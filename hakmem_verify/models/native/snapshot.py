"""Snapshots of the C pool as ``hakmem_verify.contract.api.Snapshot``: the C structures read as flat arrays
(bitmap words, summary, magazine items) and bounded list walks (``hk_walk``), converted
to the same plain data the Python model gives, so the whole catalogue checks them."""
from __future__ import annotations

from hakmem_verify.contract.api import SlabSnap, Snapshot, SuperSlabSnap, ThreadSnap, partial_threads

_SS_IN_USE = 1      # hk_ss.state of a SuperSlab in use (csrc/hk.h)


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


# ============================================================================
# SuperSlab mode: headers, the pool, the tls_sll lists
# ============================================================================


def _owner(na, ss):
    o = na._lib.hk_ss_owner(ss)
    return None if o < 0 else o


def superslab_snap(na, ss) -> SuperSlabSnap:
    ffi = na._ffi
    slabs = tuple(None if ss.slabs[i] == ffi.NULL else (ss.slabs[i].base, ss.slabs[i].class_idx)
                  for i in range(ss.nslots))
    return SuperSlabSnap(base=ss.base, owner=_owner(na, ss), nslots=ss.nslots, slabs=slabs,
                         free_slots=tuple(ss.free_slots[0:ss.nfree]), carved=ss.carved)


def sll_walk(na, tid: int, t, c: int):
    """(addresses, errors) of thread t's tls_sll of class c, head first, at most
    ``tls_sll_capacity + 1`` links; a link that is not a block start of a slab in use
    ends the walk with an error, as does a cycle (as ``hakmem_verify.models.fast.introspect``)."""
    ffi, lib = na._ffi, na._lib
    out, seen, errors = [], set(), []
    p = t.sll_head[c]
    bound = na.config.tls_sll_capacity + 1
    while p:
        s = lib.hk_slab_of(na._pool, p)
        off = p - s.base if s != ffi.NULL else 0
        if s == ffi.NULL or off % s.block_size or off // s.block_size >= s.nblocks:
            errors.append(f"tls_sll of tid {tid} class {c} points to {hex(p)}, not a block "
                          f"of a slab in use (after {len(out)} entries)")
            break
        if p in seen:
            errors.append(f"tls_sll of tid {tid} class {c} has a cycle at {hex(p)} "
                          f"(after {len(out)} entries)")
            break
        if len(out) >= bound:
            errors.append(f"tls_sll of tid {tid} class {c} longer than its bound {bound}")
            break
        seen.add(p)
        out.append(p)
        p = ffi.cast("uintptr_t *", p)[0]
    return tuple(out), tuple(errors)


class _Sll:
    """The tls_sll lists of a snapshot, each walked once: per thread and per slab."""

    def __init__(self, na):
        self.na = na
        self.walks = {}          # (tid, class) -> (addresses, errors)
        self.by_slab = None      # slab base -> sorted addresses on any tls_sll

    def of(self, tid, t, c: int):
        key = (tid, c)
        w = self.walks.get(key)
        if w is None:
            w = self.walks[key] = sll_walk(self.na, tid, t, c)
        return w

    def in_slab(self, base: int) -> tuple:
        if self.by_slab is None:
            idx, mask = {}, ~(self.na.config.slab_size - 1)
            for tid, t in self.na._threads.items():
                for c in range(self.na._nc):
                    for a in self.of(tid, t, c)[0]:
                        idx.setdefault(a & mask, []).append(a)
            self.by_slab = {b: tuple(sorted(v)) for b, v in idx.items()}
        return self.by_slab.get(base, ())


def _ss_fields(na, s, sll) -> dict:
    """The SuperSlab fields of a slab's snapshot (none in the default mode)."""
    if sll is None:
        return {}
    mask = ~(na.config.superslab_size - 1)
    ss = na._lib.hk_ss_at(na._pool, s.base)
    owner = None if ss == na._ffi.NULL or ss.state != _SS_IN_USE else _owner(na, ss)
    return dict(superslab=s.base & mask, ss_owner=owner, tls_sll=sll.in_slab(s.base))


def _ss_common(na) -> dict:
    """The SuperSlab headers in use, the pool, the bad releases (SuperSlab mode)."""
    if not na.config.use_superslab:
        return {}
    pool, ffi = na._pool, na._ffi
    sss = {}
    for k in range(pool.next_ss):
        ss = pool.sss[k]
        if ss != ffi.NULL and ss.state == _SS_IN_USE:
            sss[ss.base] = superslab_snap(na, ss)
    ss_pool = tuple(pool.sss[pool.ss_pool[i]].base for i in range(pool.ss_pool_n))
    bad = tuple(tuple(pool.bad[i][0:4]) for i in range(min(pool.nbad, 4)))
    return dict(superslabs=sss, ss_pool=ss_pool, ss_bad_releases=bad)


def _sll_fields(na, tid, t, sll) -> dict:
    if sll is None:
        return {}
    walks = [sll.of(tid, t, c) for c in range(na._nc)]
    pool = na._pool
    return dict(tls_sll=tuple(w[0] for w in walks),
                tls_sll_counts=tuple(t.sll_count[c] for c in range(na._nc)),
                superslabs=tuple(pool.sss[t.ss_list[i]].base for i in range(t.ss_n)),
                walk_errors=tuple(e for w in walks for e in w[1]))


def slab_snap(na, s, ss_fields=None) -> SlabSnap:
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
        owner=None if owner < 0 else owner, walk_errors=e1 + e2, foreign_writes=foreign,
        **(ss_fields or {}))


def _base(na, s):
    return None if s == na._ffi.NULL else s.base


def thread_snap(na, tid: int, t, named=None, sll=None) -> ThreadSnap:
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
        pending_frees=tuple(ffi.unpack(t.free_batch, nc)), magazine_lo=los,
        **_sll_fields(na, tid, t, sll))


def snapshot(na, bases=None, mags=None, tids=None) -> Snapshot:
    """Complete (``bases=None``) or partial, with the semantics of ``hakmem_verify.contract.api.Hooks``."""
    ffi, lib = na._ffi, na._lib
    common = dict(config=na.config, flushed=na.stats(), exact=na.exact_stats(),
                  reported=na.stats(), path_counts=dict(na.path_counts) if bases is None else {},
                  **_ss_common(na))
    sll = _Sll(na) if na.config.use_superslab else None
    if bases is None:
        slabs, s = {}, na._pool.first
        while s != ffi.NULL:
            slabs[s.base] = slab_snap(na, s, _ss_fields(na, s, sll))
            s = s.next
        threads = {tid: thread_snap(na, tid, t, sll=sll) for tid, t in na._threads.items()}
        return Snapshot(slabs=slabs, threads=threads, complete=True, **common)
    slabs = {}
    for b in bases:
        s = lib.hk_slab_of(na._pool, b)
        if s != ffi.NULL and s.base == b:
            slabs[b] = slab_snap(na, s, _ss_fields(na, s, sll))
    threads = {tid: thread_snap(na, tid, t, named, sll)
               for tid, (t, named) in partial_threads(na._threads, mags, tids).items()}
    return Snapshot(slabs=slabs, threads=threads, complete=False, **common)
