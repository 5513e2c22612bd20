"""Snapshots of a FastAllocator as plain data.

Intrusive lists are read from simulated memory with bounded walks: the
mini-magazine at most ``capacity + 1`` steps, the remote stack at most
``nblocks + 1``; a cycle or a pointer outside the slab ends the walk and is
recorded in ``walk_errors`` instead of hanging.
"""
from __future__ import annotations

from hakmem_verify.contract.api import SlabSnap, Snapshot, Stats, SuperSlabSnap, ThreadSnap, partial_threads

from .structs import NULL, load_word


def _links(head: int, bound: int, slabs, mask: int, where: str, label: tuple):
    """(addresses, errors) of an intrusive list from head, at most ``bound`` of them.
    A link must be a block start of a slab of ``slabs`` (base -> slab; ``mask`` masks an
    address to its slab's base): one that is not (a block of ``where``) ends the walk with
    an error, as does a cycle.  ``label``: (format, *args) naming the list in an error."""
    out, seen = [], set()
    p, slab, lo, hi, size = head, None, 0, 0, 1     # [lo, hi): the blocks of slab
    while p != NULL:
        if not lo <= p < hi or (p - lo) % size:     # not a block of this slab: of another?
            slab = slabs.get(p & mask)
            if slab is not None:
                lo, size = slab.base, slab.block_size
                hi = lo + slab.nblocks * size
            if slab is None or not lo <= p < hi or (p - lo) % size:
                return _cut(out, label, f"points to {hex(p)}, not a block of {where} "
                                        f"(after {len(out)} entries)")
        if p in seen:
            return _cut(out, label, f"has a cycle at {hex(p)} (after {len(out)} entries)")
        if len(out) >= bound:
            return _cut(out, label, f"longer than its bound {bound}")
        seen.add(p)
        out.append(p)
        p = load_word(slab, p)
    return tuple(out), ()


def _cut(out: list, label: tuple, why: str):
    """The result of a walk that ``why`` ended: what it read, and the error."""
    return tuple(out), (f"{label[0].format(*label[1:])} {why}",)


def walk(slab, head: int, bound: int, what: str):
    """Addresses of an intrusive list of slab from head, at most ``bound`` of them."""
    if head == NULL:
        return (), ()
    # slab.mem is the slab's slab_size bytes, and the slab is aligned to its size
    return _links(head, bound, {slab.base: slab}, ~(len(slab.mem) - 1), "this slab",
                  ("{} list of slab {:#x}", what, slab.base))


def sll_walk(fa, t, c: int):
    """(addresses, errors) of thread t's tls_sll of class c, head first, at most
    ``tls_sll_capacity + 1`` links; a link that is not a block start of a slab in use
    ends the walk with an error, as does a cycle."""
    return _links(t.sll_head[c], fa.config.tls_sll_capacity + 1, fa._slabs, fa._slab_mask,
                  "a slab in use", ("tls_sll of tid {} class {}", t.tid, c))


class _Sll:
    """The tls_sll lists of a snapshot, each walked once: per thread and per slab."""

    def __init__(self, fa):
        self.fa = fa
        self.walks = {}          # (tid, class) -> (addresses, errors)
        self.by_slab = None      # slab base -> sorted addresses on any tls_sll

    def of(self, t, c: int):
        key = (t.tid, c)
        w = self.walks.get(key)
        if w is None:
            w = self.walks[key] = sll_walk(self.fa, t, c)
        return w

    def in_slab(self, base: int) -> tuple:
        if self.by_slab is None:
            idx = {}
            mask = self.fa._slab_mask
            for t in self.fa._threads.values():
                for c in range(self.fa.config.num_classes):
                    for a in self.of(t, c)[0]:
                        idx.setdefault(a & mask, []).append(a)
            self.by_slab = {b: tuple(sorted(v)) for b, v in idx.items()}
        return self.by_slab.get(base, ())


def _ss_fields(fa, slab, sll) -> dict:
    """The SuperSlab fields of a slab's snapshot (none in the default mode)."""
    if not fa._ss:
        return {}
    ss = fa._superslabs.get(slab.base & fa._ss_mask)
    return dict(superslab=slab.base & fa._ss_mask, ss_owner=None if ss is None else ss.owner,
                tls_sll=sll.in_slab(slab.base))


def ss_wanted(mask: int, bases, pool, threads) -> set:
    """The SuperSlab bases a partial snapshot includes (``hakmem_verify.contract.api.Snapshot.superslabs``):
    those the slab ``bases`` mask to, the ``pool``'s, and those of the blocks on the
    tls_sll lists of the included ``threads`` (ThreadSnaps)."""
    want = {b & mask for b in bases}
    want.update(pool)
    for t in threads:
        for items in t.tls_sll:
            want.update(a & mask for a in items)
    return want


def superslab_snap(ss) -> SuperSlabSnap:
    return SuperSlabSnap(
        base=ss.base, owner=ss.owner, nslots=ss.nslots,
        slabs=tuple(None if s is None else (s.base, s.class_idx) for s in ss.slabs),
        free_slots=tuple(ss.free_slots), carved=ss.carved)


def _ss_common(fa, bases=None, threads=()) -> dict:
    """The SuperSlab headers, the pool and the bad releases.  A complete snapshot
    (``bases=None``) has every header in use; a partial one the headers of the SuperSlabs
    that ``bases`` mask to, of the pooled ones and of the blocks on the included
    ``threads``' tls_sll lists (``hakmem_verify.contract.api.Snapshot.superslabs``): O(those x slots)."""
    if not fa._ss:
        return {}
    pool = tuple(ss.base for ss in fa._ss_pool)
    want = fa._superslabs if bases is None else ss_wanted(fa._ss_mask, bases, pool, threads)
    return dict(superslabs={b: superslab_snap(fa._superslabs[b]) for b in want
                            if b in fa._superslabs},
                ss_pool=pool, ss_bad_releases=tuple(fa.probe.bad_releases))


def slab_snap(slab, foreign=None, handouts=None, ss_fields=None) -> SlabSnap:
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
        foreign_handouts=tuple(handouts.get(slab.base, ())) if handouts else (),
        **(ss_fields or {}))


def thread_snap(t, sll=None) -> ThreadSnap:
    """One thread with its magazines whole."""
    magazines = tuple(tuple(m.items[:max(0, min(m.top, len(m.items)))]) for m in t.mags)
    return _thread(t, magazines, (0,) * len(t.mags), sll=sll)


def thread_snap_slots(t, named, sll=None) -> ThreadSnap:
    """One thread with, of its magazines, only the slots from lo to the top of the
    classes in ``named`` (``(class, lo)`` pairs).  Cost O(classes + slots copied)."""
    mags = t.mags
    tops = tuple([m.top for m in mags])
    if not named:
        return _thread(t, ((),) * len(mags), tops, tops, sll)
    magazines, los = [()] * len(mags), list(tops)
    for c, lo in named:
        m = mags[c]
        top = m.top
        if lo > top:
            lo = top
        magazines[c] = tuple(m.items[lo:top])
        los[c] = lo
    return _thread(t, tuple(magazines), tuple(los), tops, sll)


def _sll_fields(t, sll) -> dict:
    if sll is None:
        return {}
    walks = [sll.of(t, c) for c in range(len(t.mags))]
    return dict(tls_sll=tuple(w[0] for w in walks), tls_sll_counts=tuple(t.sll_count),
                superslabs=tuple(t.superslabs),
                walk_errors=tuple(e for w in walks for e in w[1]))


def _thread(t, magazines, magazine_lo, tops=None, sll=None) -> ThreadSnap:
    return ThreadSnap(
        tid=t.tid, magazines=magazines,
        magazine_tops=tops if tops is not None else tuple([m.top for m in t.mags]),
        active_a=tuple([s.base if s is not None else None for s in t.active_a]),
        active_b=tuple([s.base if s is not None else None for s in t.active_b]),
        pending_allocs=tuple(t.alloc_batch), pending_frees=tuple(t.free_batch),
        magazine_lo=magazine_lo, **_sll_fields(t, sll))


def snapshot(fa, bases=None, mags=None, tids=None) -> Snapshot:
    """Plain-data state of a FastAllocator.

    * ``bases=None``: complete (every slab and thread, every magazine whole).
    * otherwise partial: the slabs in ``bases``; the tops, active slabs and
      pending stats of the threads in ``tids`` (every thread if None) and of those
      named in ``mags`` (the ``Footprint.mags`` of ``hakmem_verify.contract.api.Hooks``,
      ``{(tid, class): lo}``); of the named magazines the slots from lo to the top
      (``ThreadSnap.magazine_lo``).  Cost O(bases' slabs + included threads x
      classes + slots copied): no other magazine is read.
    """
    flushed = Stats(tuple(fa.g_alloc_count), tuple(fa.g_free_count))
    common = dict(config=fa.config, flushed=flushed, exact=fa.exact_stats(), reported=fa.stats(),
                  path_counts=dict(fa.path_counts) if bases is None else {})
    sll = _Sll(fa) if fa._ss else None
    if bases is None:
        return Snapshot(slabs={b: slab_snap(s, fa.probe.foreign, fa.probe.foreign_handouts,
                                            _ss_fields(fa, s, sll))
                               for b, s in fa._slabs.items()},
                        threads={tid: thread_snap(t, sll) for tid, t in fa._threads.items()},
                        complete=True, **common, **_ss_common(fa))
    slabs = {b: slab_snap(fa._slabs[b], fa.probe.foreign, fa.probe.foreign_handouts,
                          _ss_fields(fa, fa._slabs[b], sll)) for b in bases if b in fa._slabs}
    threads = {tid: thread_snap_slots(t, named, sll)
               for tid, (t, named) in partial_threads(fa._threads, mags, tids).items()}
    return Snapshot(slabs=slabs, threads=threads, complete=False, **common,
                    **_ss_common(fa, bases, threads.values()))


__all__ = ["snapshot", "walk", "slab_snap", "thread_snap", "thread_snap_slots", "Stats"]
