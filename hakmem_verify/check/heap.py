"""Partition of every slab's blocks, live blocks, and what quiescence leaves.

Per slab, every block is in exactly one place:

    nblocks == live + bitmap_free + |mini_mag| + |remote| + |in magazines| + |on tls_sll|

(the last term only in SuperSlab mode: the slab's blocks on any thread's tls_sll).
"""
from __future__ import annotations

from hakmem_verify.contract.api import SlabSnap, Snapshot
from .geometry import block_idx, dump_slab, free_indices, h, is_free_bit, newly_free
from .registry import fail, invariant


@invariant("PART-01", level=2, scope="slab", cost="O(entries the op moved) per slab",
           where="every op, the slabs it touched; every slab at L3",
           planted="drain-leaves-blocks-used")
def part_01_partition(snap: Snapshot, s: SlabSnap, view) -> None:
    """per slab: nblocks == live + bitmap_free + mini_mag + remote + in magazines (+ on tls_sll
    lists), each block in one place"""
    live = view.live
    if live is None:
        return
    wb = snap.config.word_bits
    where = {}
    for place, addrs in (("the mini_mag", s.mini_mag), ("the remote stack", s.remote),
                         ("a tls_sll", s.tls_sll)):
        for a in addrs:
            if a in where:
                _two_places(s, a, where[a], place)
            where[a] = place
    in_mags = view.mag_by_slab.get(s.base, ())
    cw = view.changed_words(s)
    if cw is None:          # not seen before: every magazine entry of the slab
        moved = view.mags_in(s.base)
        fresh = ()
    else:                   # only what moved: new magazine entries, bits that became free
        moved = [e for e in view.new_mag if e[0] & ~(snap.config.slab_size - 1) == s.base]
        fresh = newly_free(view.prev[s.base], s, wb, cw)
    for a, tid, _cls in moved:
        idx = block_idx(s, a)
        if idx is not None and is_free_bit(s, wb, idx):
            fail("PART-01", f"block {h(a)} is in the magazine of tid {tid} and bitmap-free "
                            f"(slab {h(s.base)}, class {s.class_idx})", dump_slab(s))
        if a in live.blocks:
            _two_places(s, a, "live (held by the client)", f"the magazine of tid {tid}")
    for a, place in where.items():
        if a in in_mags:
            tid, _ = view.mag_where[a]
            _two_places(s, a, f"the magazine of tid {tid}", place)
        if a in live.blocks:
            _two_places(s, a, "live (held by the client)", place)
    for i in fresh:
        a = s.base + i * s.block_size
        if a in in_mags:
            tid, _ = view.mag_where[a]
            fail("PART-01", f"block {h(a)} is in the magazine of tid {tid} and bitmap-free "
                            f"(slab {h(s.base)}, class {s.class_idx})", dump_slab(s))
    for a, _ in view.new_live:
        if a in live.blocks and (a in in_mags or a in where):
            _two_places(s, a, "live (held by the client)",
                        where.get(a) or f"the magazine of tid {view.mag_where[a][0]}")
    n_live = live.per_slab.get(s.base, 0)
    cached = len(where) + len(in_mags)
    total = n_live + s.free_count + cached
    if total != s.nblocks:
        fail("PART-01", f"slab {h(s.base)} class {s.class_idx}: live {n_live} + bitmap-free "
                        f"{s.free_count} + cached {cached} = {total} != nblocks "
                        f"{s.nblocks} ({'a block is lost' if total < s.nblocks else 'a block is counted twice'})",
             dump_slab(s))


def _two_places(s: SlabSnap, a: int, first: str, second: str):
    fail("PART-01", f"block {h(a)} is {'in ' if first.startswith('the') else ''}{first} and in "
                    f"{second} (slab {h(s.base)}, class {s.class_idx})", dump_slab(s))


def _live_block(snap: Snapshot, addr: int, c: int) -> None:
    s = snap.slabs.get(addr & ~(snap.config.slab_size - 1))
    if s is None:
        if snap.complete:
            fail("LIVE-01", f"live block {h(addr)} (class {c}) is in no slab of the pool "
                            f"(its slab was released while the block is live)")
        return
    idx = block_idx(s, addr)
    if s.class_idx != c or idx is None:
        fail("LIVE-01", f"live block {h(addr)} of class {c} is not a block start of a "
                        f"class-{c} slab (slab {h(s.base)}, class {s.class_idx})", dump_slab(s))
    if is_free_bit(s, snap.config.word_bits, idx):
        fail("LIVE-01", f"live block {h(addr)} is bitmap-free: it can be handed out again "
                        f"(slab {h(s.base)}, class {s.class_idx})", dump_slab(s))


@invariant("LIVE-01", level=2, scope="heap", cost="O(bits the op freed + blocks it handed out)",
           where="every op: blocks it handed out, bits it freed, slabs it released; "
                 "every live block at L3",
           planted="release-with-live-block")
def live_01_blocks(snap: Snapshot, view) -> None:
    """a live block is a bitmap-used block start of a slab of its class; no slab is released
    while one of its blocks is live"""
    live = view.live
    if live is None:
        return
    if view.complete:
        for a, c in live.blocks.items():
            _live_block(snap, a, c)
        return
    for base in view.released:
        n = live.per_slab.get(base, 0)
        if n:
            mask = ~(snap.config.slab_size - 1)
            example = next(a for a in live.blocks if a & mask == base)
            fail("LIVE-01", f"slab {h(base)} was released while {n} of its blocks are live "
                            f"(e.g. {h(example)})")
    wb = snap.config.word_bits
    for base in view.bases:
        s = snap.slabs.get(base)
        if s is None or not live.per_slab.get(base):
            continue
        cw = view.changed_words(s)
        idxs = free_indices(s, wb) if cw is None else newly_free(view.prev[base], s, wb, cw)
        for i in idxs:
            a = s.base + i * s.block_size
            if a in live.blocks:
                fail("LIVE-01", f"live block {h(a)} is bitmap-free: it can be handed out "
                                f"again (slab {h(s.base)}, class {s.class_idx})", dump_slab(s))
    for a, c in view.new_live:
        if a in live.blocks:
            _live_block(snap, a, c)


@invariant("QUI-01", level=3, scope="op", cost="O(heap)", where="Quiesce ops, teardown",
           planted="quiesce-skips-a-thread")
def qui_01_empty(snap: Snapshot, live) -> None:
    """after quiesce: no thread state, mini-mags and remote stacks empty, bitmap-used == live
    per slab, and every slab left holds a live block (an empty unowned slab is released)"""
    if snap.threads:
        fail("QUI-01", f"threads {sorted(snap.threads)} still have state after quiesce")
    for s in snap.slabs.values():
        used = s.nblocks - s.free_count
        n_live = live.per_slab.get(s.base, 0)
        if s.remote or s.mini_mag or s.remote_count or s.mini_mag_count or used != n_live:
            fail("QUI-01", f"slab {h(s.base)} class {s.class_idx} after quiesce: "
                           f"{used} bitmap-used blocks but {n_live} live, mini_mag "
                           f"{s.mini_mag_count}, remote {s.remote_count}: "
                           f"{used - n_live} blocks leaked"
                           f"{' (nothing is live: the slab should be entirely free)' if not n_live else ''}",
                 dump_slab(s))
        if not n_live:
            fail("QUI-01", f"slab {h(s.base)} class {s.class_idx} is entirely free and "
                           f"unowned after quiesce but still in use: an empty unowned slab "
                           f"is released, and this one keeps its memory", dump_slab(s))


def holds_nothing(t) -> bool:
    """A thread record with nothing cached, no active slab and nothing pending."""
    return (not any(t.magazine_tops) and not any(a is not None for a in t.active_a + t.active_b)
            and not any(t.pending_allocs) and not any(t.pending_frees))


@invariant("EXIT-01", level=1, scope="op", cost="O(1)", where="ThreadExit and Quiesce ops",
           planted="thread-exit-keeps-state")
def exit_01_gone(snap: Snapshot, tid: int) -> None:
    """after thread_exit(tid): tid has no thread state (caches returned, batches flushed,
    active slabs released)"""
    if tid in snap.threads:
        t = snap.threads[tid]
        fail("EXIT-01", f"tid {tid} still has thread state after thread_exit (or quiesce, "
                        f"which exits every thread): magazine tops "
                        f"{list(t.magazine_tops)}, active A {[h(a) for a in t.active_a]}")
