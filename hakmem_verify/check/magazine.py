"""Thread magazines (TLS caches of free blocks, an array per class per thread).

    0 <= top <= magazine_capacity
    every entry is a block start of a slab of the magazine's class, in one slot only
"""
from __future__ import annotations

from hakmem_verify.contract.api import Snapshot, ThreadSnap
from .geometry import THREADS, block_idx, dump_slab, h
from .registry import View, fail, invariant


@invariant("MAG-01", level=2, scope="thread", cost="O(classes) per thread", where=THREADS,
           planted="magazine-capacity-off-by-one")
def mag_01_top(snap: Snapshot, t: ThreadSnap, view: View) -> None:
    """0 <= top <= magazine_capacity"""
    cap = snap.config.magazine_capacity
    for c, top in enumerate(t.magazine_tops):
        if not 0 <= top <= cap:
            fail("MAG-01", f"magazine of tid {t.tid}, class {c} has top={top} outside 0..{cap}")


@invariant("MAG-02", level=2, scope="heap", cost="O(magazine slots the op wrote)",
           where="every op, the magazine slots it wrote; every slot at L3",
           planted="magazine-double-insert")
def mag_02_entries(snap: Snapshot, view: View) -> None:
    """magazine entries unique across all magazines, block starts of a slab of the magazine's
    class"""
    for a, (t1, c1), (t2, c2) in view.mag_dups:
        fail("MAG-02", f"block {h(a)} is in the magazine of tid {t2} (class {c2}) twice"
             if (t1, c1) == (t2, c2) else
             f"block {h(a)} is in the magazines of tid {t1} (class {c1}) and tid {t2} "
             f"(class {c2})")
    mask = ~(snap.config.slab_size - 1)
    slabs = snap.slabs
    for a, tid, c in view.new_mag:
        s = slabs.get(a & mask)
        if s is None:
            if snap.complete:
                fail("MAG-02", f"block {h(a)} in the magazine of tid {tid}, class {c} "
                               f"is in no slab")
            continue
        if s.class_idx != c or block_idx(s, a) is None:
            fail("MAG-02", f"block {h(a)} in the magazine of tid {tid}, class {c} is not a "
                           f"block start of a class-{c} slab (slab {h(s.base)}, "
                           f"class {s.class_idx})", dump_slab(s))
