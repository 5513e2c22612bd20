"""The mini-magazine of one slab, and the two transitions that move blocks through it.

    mini_mag.count == length of the intrusive list <= capacity
    entries: aligned blocks of this slab, unique, acyclic, bitmap-used
    refill: free_before - free_after == mini_mag_after - mini_mag_before (+ popped)
    spill:  after eviction mini_mag is empty; free_after == free_before + cached_before
"""
from __future__ import annotations

from hakmem_verify.contract.api import SlabSnap, Snapshot
from .geometry import LONGER, TOUCHED, dump_slab, free_indices, h, list_fault, of_slab
from .registry import fail, invariant


@invariant("MM-01", level=2, scope="slab", cost="O(1) per slab", where=TOUCHED,
           planted="minimag-capacity-off-by-one")
def mm_01_count(snap: Snapshot, s: SlabSnap, view) -> None:
    """mini_mag.count == len(list from head) <= capacity"""
    for e in s.walk_errors:
        if e.startswith("mini_mag"):
            if LONGER in e:
                fail("MM-01", e, dump_slab(s))
            return      # a cycle or a foreign pointer: an entry error, MM-02 names it
    if s.mini_mag_count != len(s.mini_mag) or s.mini_mag_count > s.mini_mag_capacity \
            or s.mini_mag_count < 0:
        fail("MM-01", f"mini_mag count={s.mini_mag_count} but its list holds "
                      f"{len(s.mini_mag)} blocks (capacity {s.mini_mag_capacity}) "
                      f"{of_slab(s)}", dump_slab(s))


@invariant("MM-02", level=2, scope="slab", cost="O(capacity) per slab", where=TOUCHED,
           planted="minimag-double-push")
def mm_02_entries(snap: Snapshot, s: SlabSnap, view) -> None:
    """mini-mag entries: blocks of this slab, aligned, unique, acyclic, bitmap-used"""
    fault = list_fault(s, snap.config.word_bits, "mini_mag", s.mini_mag, skip=LONGER)
    if fault is not None:
        kind, a = fault
        if kind == "walk":
            fail("MM-02", a, dump_slab(s))
        fail("MM-02", f"block {h(a)} in the mini_mag is not a block of slab {h(s.base)}, "
                      f"class {s.class_idx}" if kind == "foreign" else
                      f"block {h(a)} is in the mini_mag and bitmap-free at once {of_slab(s)}",
             dump_slab(s))


@invariant("REF-01", level=2, scope="op", cost="O(words)",
           where="every op that refilled a mini-magazine (Refill ops, hot-path refills)",
           planted="hot-refill-loses-block")
def ref_01_refill(snap: Snapshot, before: SlabSnap, after: SlabSnap,
                  also_taken=frozenset()) -> None:
    """refill: free_before - free_after == mini_mag_after - mini_mag_before (+ the block
    popped)"""
    wb = snap.config.word_bits
    fb = set(free_indices(before, wb))
    fa = set(free_indices(after, wb))
    taken = {before.base + i * before.block_size for i in fb - fa}
    pushed = (set(after.mini_mag) - set(before.mini_mag)) | set(also_taken)
    if fa - fb or taken != pushed:
        lost = sorted(taken - pushed)
        fail("REF-01", f"refill of slab {h(after.base)} class {after.class_idx}: "
                       f"{len(taken)} blocks left the bitmap, {len(pushed)} entered the "
                       f"mini_mag; lost {[hex(a) for a in lost]}", dump_slab(after))


@invariant("SPL-01", level=2, scope="op", cost="O(words)", where="every Evict op",
           planted="evict-skips-spill")
def spl_01_spill(snap: Snapshot, before: SlabSnap, after: SlabSnap) -> None:
    """after eviction: mini_mag empty; free_after == free_before + mini_mag_before +
    remote_before"""
    wb = snap.config.word_bits
    if after.mini_mag_count or after.mini_mag:
        fail("SPL-01", f"slab {h(after.base)} class {after.class_idx}: mini_mag holds "
                       f"{after.mini_mag_count} blocks after eviction", dump_slab(after))
    fb = set(free_indices(before, wb))
    fa = set(free_indices(after, wb))
    moved = {(a - before.base) // before.block_size for a in before.mini_mag + before.remote}
    if fa != fb | moved:
        missing = sorted(before.base + i * before.block_size for i in (fb | moved) - fa)
        extra = sorted(before.base + i * before.block_size for i in fa - (fb | moved))
        fail("SPL-01", f"spill of slab {h(after.base)} class {after.class_idx}: blocks not "
                       f"returned to the bitmap {[hex(a) for a in missing]}, blocks freed that "
                       f"were not cached {[hex(a) for a in extra]}", dump_slab(after))
