"""The remote-free stack of one slab (L2: the slabs an op touched).

    remote list acyclic; every entry an aligned, bitmap-used block of this slab
    remote_count == length of the remote list
"""
from __future__ import annotations

from hakmem_verify.contract.api import SlabSnap, Snapshot
from .geometry import TOUCHED, dump_slab, h, list_fault
from .registry import fail, invariant


@invariant("RMT-01", level=2, scope="slab", cost="O(remote) per slab", where=TOUCHED,
           planted="remote-push-not-atomic")
def rmt_01_entries(snap: Snapshot, s: SlabSnap, view) -> None:
    """remote stack: acyclic, blocks of this slab, aligned, bitmap-used (the owner's drain
    reports a corrupted stack before changing anything)"""
    bad = list_fault(s, snap.config.word_bits, "remote", s.remote)
    if bad is None:
        return
    kind, what = bad
    if kind == "walk":
        fail("RMT-01", what, dump_slab(s))
    place = "not a block of" if kind == "foreign" else "bitmap-free in"
    fail("RMT-01", f"block {h(what)} on the remote stack is {place} slab {h(s.base)}, "
                   f"class {s.class_idx}", dump_slab(s))


@invariant("RMT-02", level=2, scope="slab", cost="O(1) per slab", where=TOUCHED,
           planted="drain-forgets-remote-count")
def rmt_02_count(snap: Snapshot, s: SlabSnap, view) -> None:
    """remote_count == len(remote list)"""
    if s.remote_count != len(s.remote):
        fail("RMT-02", f"remote_count={s.remote_count} but the remote stack holds "
                       f"{len(s.remote)} blocks (slab {h(s.base)}, class {s.class_idx}, "
                       f"owner {s.owner})", dump_slab(s))
