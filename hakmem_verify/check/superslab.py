"""SuperSlab mode (``Config.use_superslab``): headers, slots, tls_sll lists, the pool.

A SuperSlab is ``superslab_size`` bytes aligned to its size; slot 0 is its header
(owner, the slab of each slot, the free slots), slots 1.. hold slabs.  Per SuperSlab

    nslots == 1 (header) + slabs in use + |free_slots| + (nslots - carved)

and every slab is where its header says (SS-01).  A thread's tls_sll of class c holds
free blocks of class c in SuperSlabs the thread owns (SS-03).  A SuperSlab leaves use
only when no slab is in use, and a slab with blocks on its remote stack is in use
(SS-04).  The free-pipeline counters add up to the frees (SS-05), and the mapping
counters to the SuperSlabs in use and pooled (SS-09).  One owner per
SuperSlab, and a slab's owner is its SuperSlab's owner or None (SS-07, SS-08).  The
route of each free is predicted in ``conformance`` (SS-06).

Every check returns at once in the default mode.  Heap checks look at the SuperSlabs of
the slabs an op touched (every one on a complete snapshot) and at the pool.
"""
from __future__ import annotations

from hakmem_verify.contract.api import SlabSnap, Snapshot
from .geometry import THREADS, TOUCHED, dump_slab, h
from .registry import fail, invariant


def _on(snap: Snapshot) -> bool:
    return snap.config.use_superslab


#: where the checks run: the SuperSlabs an op touched; the debug counters
SS_TOUCHED = "every op, the SuperSlabs of the slabs it touched"
COUNTED = "every L3 check (a complete snapshot's debug counters)"


def _counters(snap: Snapshot, key: str):
    """The debug counters of a complete SuperSlab-mode snapshot that has ``key``, or None."""
    pc = snap.path_counts
    return pc if _on(snap) and snap.complete and key in pc else None


def _balance(inv_id: str, got: int, want: int, message) -> None:
    """Fail ``inv_id`` with ``message()`` (built only then) unless ``got == want``."""
    if got != want:
        fail(inv_id, message())


def _masked(snap: Snapshot, view) -> set:
    """The SuperSlab bases of the slabs an op touched or released."""
    mask = ~(snap.config.superslab_size - 1)
    return {b & mask for b in view.bases} | {b & mask for b in view.released}


def _touched(snap: Snapshot, view) -> list:
    """SuperSlabs to check: every one (complete view), else those of the touched slabs."""
    if view.complete:
        return list(snap.superslabs.values())
    return [snap.superslabs[b] for b in sorted(_masked(snap, view)) if b in snap.superslabs]


@invariant("SS-01", level=2, scope="slab", cost="O(1) per slab", where=TOUCHED,
           planted="ss-slot-off-by-one")
def ss_01_header_agrees(snap: Snapshot, s: SlabSnap, view) -> None:
    """a slab lies in the SuperSlab its address masks to (addr & ~(superslab_size-1)), outside
    the header slot, and that header's slot table names it with its class"""
    if not _on(snap):
        return
    cfg = snap.config
    ss_base = s.base & ~(cfg.superslab_size - 1)
    ss = snap.superslabs.get(ss_base)
    slot = (s.base - ss_base) // cfg.slab_size
    where = f"slab {h(s.base)} (class {s.class_idx}, slot {slot} of SuperSlab {h(ss_base)})"
    if s.superslab != ss_base or ss is None:
        fail("SS-01", f"{where} is in no SuperSlab in use (its snapshot names "
                      f"{h(s.superslab) if s.superslab is not None else None})", dump_slab(s))
    if slot == 0:
        fail("SS-01", f"{where} overlaps the SuperSlab's header", dump_slab(s))
    if ss.slabs[slot] != (s.base, s.class_idx):
        fail("SS-01", f"{where}: the header's slot {slot} holds {ss.slabs[slot]}, not this "
                      f"slab (header slots {[i for i, e in enumerate(ss.slabs) if e]})",
             dump_slab(s))


@invariant("SS-02", level=2, scope="heap", cost="O(slots) per SuperSlab touched",
           where=SS_TOUCHED + "; every SuperSlab at L3", planted="ss-free-slot-lost")
def ss_02_slot_count(snap: Snapshot, view) -> None:
    """per SuperSlab: nslots == 1 (header) + slabs in use + free slots + never-carved slots;
    free slots are distinct, carved, empty slots; each slot entry names the slab at its
    address"""
    if not _on(snap):
        return
    size = snap.config.slab_size
    for ss in _touched(snap, view):
        in_use = [i for i, e in enumerate(ss.slabs) if e is not None]
        free = ss.free_slots
        total = 1 + len(in_use) + len(free) + (ss.nslots - ss.carved)
        what = f"SuperSlab {h(ss.base)} (owner {ss.owner})"
        if total != ss.nslots or 0 in in_use:
            fail("SS-02", f"{what}: 1 header + {len(in_use)} slabs in use {in_use} + "
                          f"{len(free)} free slots {list(free)} + {ss.nslots - ss.carved} "
                          f"never carved = {total} != {ss.nslots} slots")
        if len(set(free)) != len(free) or any(not 1 <= i < ss.carved or ss.slabs[i] is not None
                                              for i in free):
            fail("SS-02", f"{what}: free slots {list(free)} are not distinct carved empty "
                          f"slots (carved up to {ss.carved}, in use {in_use})")
        for i in in_use:
            if ss.slabs[i][0] != ss.base + i * size:
                fail("SS-02", f"{what}: slot {i} names slab {h(ss.slabs[i][0])}, not the slab "
                              f"at {h(ss.base + i * size)}")


@invariant("SS-03", level=2, scope="thread", cost="O(tls_sll_capacity x classes) per thread",
           planted="tls-sll-ignores-capacity", where=THREADS)
def ss_03_tls_sll(snap: Snapshot, t, view) -> None:
    """a thread's tls_sll of class c holds at most tls_sll_capacity blocks, its count is its
    length, no cycle; each a block of a class-c slab in a SuperSlab the thread owns (that it
    is free and in no other place: PART-01)"""
    if not _on(snap) or not t.tls_sll:
        return
    cfg = snap.config
    if t.walk_errors:
        fail("SS-03", f"tid {t.tid}: {t.walk_errors[0]}")
    slab_mask, ss_mask = ~(cfg.slab_size - 1), ~(cfg.superslab_size - 1)
    for c, items in enumerate(t.tls_sll):
        what = f"tls_sll of tid {t.tid}, class {c}"
        if len(items) > cfg.tls_sll_capacity or t.tls_sll_counts[c] != len(items):
            fail("SS-03", f"{what} holds {len(items)} blocks (count {t.tls_sll_counts[c]}), "
                          f"capacity {cfg.tls_sll_capacity}")
        for a in items:
            ss = snap.superslabs.get(a & ss_mask)
            if ss is None or ss.owner != t.tid:
                fail("SS-03", f"{what} holds block {h(a)} of SuperSlab {h(a & ss_mask)}, "
                              f"owned by {None if ss is None else ss.owner}, not by tid {t.tid}")
            s = snap.slabs.get(a & slab_mask)
            if s is not None and s.class_idx != c:
                fail("SS-03", f"{what} holds block {h(a)} of the class-{s.class_idx} slab "
                              f"{h(s.base)}", dump_slab(s))


@invariant("SS-04", level=2, scope="heap", cost="O(SuperSlabs touched + pool)",
           where=SS_TOUCHED + " and the pool; all at L3", planted="ss-release-ignores-remote")
def ss_04_release(snap: Snapshot, view) -> None:
    """a SuperSlab is released (to the pool or the OS) only when every slab of it is free and
    every remote stack empty; one in use has a slab in use; the pool holds at most
    superslab_pool_max SuperSlabs, none in use"""
    if not _on(snap):
        return
    if snap.ss_bad_releases:
        ss, slab, used, remote = snap.ss_bad_releases[0]
        fail("SS-04", f"SuperSlab {h(ss)} was released while its slab {h(slab)} was in use: "
                      f"{used} blocks not bitmap-free, {remote} on its remote stack")
    for ss in _touched(snap, view):
        if all(e is None for e in ss.slabs):
            fail("SS-04", f"SuperSlab {h(ss.base)} (owner {ss.owner}) has no slab in use but "
                          f"was not released")
    pool = snap.ss_pool
    if len(pool) > snap.config.superslab_pool_max:
        fail("SS-04", f"the SuperSlab pool holds {len(pool)} > superslab_pool_max "
                      f"{snap.config.superslab_pool_max}")


@invariant("SS-05", level=3, scope="heap", cost="O(counters + threads x classes)", where=COUNTED,
           planted="ss-remote-uncounted-when-abandoned")
def ss_05_counters(snap: Snapshot, view) -> None:
    """SuperSlab mode: ss_local + ss_remote == frees; tls_sll <= ss_local; tls_sll ==
    ss_alloc_tls_sll_hit + tls_sll_flush + blocks on the tls_sll lists (every push popped,
    flushed or still there)"""
    pc = _counters(snap, "ss_local")
    if pc is None:
        return
    frees = sum(snap.exact.frees)
    local, remote, sll = pc["ss_local"], pc["ss_remote"], pc["tls_sll"]
    _balance("SS-05", local + remote, frees, lambda: f"ss_local {local} + ss_remote {remote} = "
                                                     f"{local + remote} != {frees} frees")
    if sll > local:
        fail("SS-05", f"tls_sll {sll} > ss_local {local}: a tls_sll push that is not a local "
                      f"free")
    held = sum(len(items) for t in snap.threads.values() for items in t.tls_sll)
    out = pc["ss_alloc_tls_sll_hit"] + pc["tls_sll_flush"]
    _balance("SS-05", sll, out + held, lambda: f"tls_sll pushes {sll} != pops by alloc "
                                               f"{pc['ss_alloc_tls_sll_hit']} + flushed "
                                               f"{pc['tls_sll_flush']} + still held {held}")


@invariant("SS-07", level=2, scope="heap", cost="O(slabs touched + threads' SuperSlabs)",
           where="every op, the slabs and SuperSlabs it touched; all at L3",
           planted="ss-reclaim-keeps-owner")
def ss_07_owner(snap: Snapshot, view) -> None:
    """a slab's owner is its SuperSlab's owner or None; a thread lists a SuperSlab as its own
    exactly when the header names it the owner"""
    if not _on(snap):
        return
    for base in view.bases:
        s = snap.slabs.get(base)
        if s is not None and s.owner is not None and s.owner != s.ss_owner:
            fail("SS-07", f"slab {h(s.base)} (class {s.class_idx}) is owned by tid {s.owner} "
                          f"but its SuperSlab {h(s.superslab)} by {s.ss_owner}", dump_slab(s))
    mine = None if view.complete else _masked(snap, view)
    for t in snap.threads.values():
        for b in t.superslabs:
            if mine is not None and b not in mine:
                continue          # a partial snapshot: only the SuperSlabs the op touched
            ss = snap.superslabs.get(b)
            if ss is None or ss.owner != t.tid:
                fail("SS-07", f"tid {t.tid} lists SuperSlab {h(b)} as its own but its header "
                              f"names {None if ss is None else ss.owner}"
                              f"{'' if ss is not None else ' (not in use)'}")
    for ss in _touched(snap, view):
        t = snap.threads.get(ss.owner) if ss.owner is not None else None
        if t is not None and ss.base not in t.superslabs:
            fail("SS-07", f"SuperSlab {h(ss.base)} names tid {ss.owner} its owner but the "
                          f"thread does not list it (it lists {[h(b) for b in t.superslabs]})")


@invariant("SS-08", level=2, scope="heap", cost="O(threads' SuperSlabs + pool)",
           where="every op; all at L3", planted="ss-pool-pop-unlocked")
def ss_08_one_owner(snap: Snapshot, view) -> None:
    """a SuperSlab has one owner: no two threads (nor one twice) list it, and a SuperSlab in
    the pool is in no thread's list and not in use"""
    if not _on(snap):
        return
    seen = {}
    for t in snap.threads.values():
        for b in t.superslabs:
            if b in seen:
                fail("SS-08", f"SuperSlab {h(b)} is listed as their own by tid {seen[b]} and "
                              f"tid {t.tid}: two owners")
            seen[b] = t.tid
    for b in snap.ss_pool:
        if b in snap.superslabs or b in seen:
            fail("SS-08", f"SuperSlab {h(b)} is in the pool of empty SuperSlabs and in use "
                          f"(owner {seen.get(b, snap.superslabs.get(b) and snap.superslabs[b].owner)})"
                          f": the next pool pop hands it to a second owner")
    if len(set(snap.ss_pool)) != len(snap.ss_pool):
        fail("SS-08", f"the SuperSlab pool holds a SuperSlab twice: "
                      f"{[h(b) for b in snap.ss_pool]}")


@invariant("SS-09", level=3, scope="heap", cost="O(counters)", where=COUNTED,
           planted="ss-map-uncounted")
def ss_09_memory_counters(snap: Snapshot, view) -> None:
    """SuperSlab mode: ss_map - ss_unmap == SuperSlabs in use + pooled, and ss_pool_push -
    ss_pool_pop == pooled (the counters the memory claim is measured with account for every
    SuperSlab mapped)"""
    used, pooled = len(snap.superslabs), len(snap.ss_pool)
    pc = _counters(snap, "ss_map")
    if pc is None:
        return
    mapped = pc["ss_map"] - pc["ss_unmap"]
    _balance("SS-09", mapped, used + pooled, lambda: f"ss_map {pc['ss_map']} - ss_unmap "
                                                     f"{pc['ss_unmap']} = {mapped} SuperSlabs "
                                                     f"mapped, but {used} are in use and "
                                                     f"{pooled} pooled")
    _balance("SS-09", pc["ss_pool_push"] - pc["ss_pool_pop"], pooled,
             lambda: f"ss_pool_push {pc['ss_pool_push']} - ss_pool_pop {pc['ss_pool_pop']} != "
                     f"{pooled} SuperSlabs in the pool")
