"""The remote-free stack of one slab (L2: the slabs an op touched).

    remote list acyclic; every entry an aligned, bitmap-used block of this slab
    remote_count == length of the remote list
"""
from __future__ import annotations

from ..api import SlabSnap, Snapshot
from .geometry import block_idx, dump_slab, h, is_free_bit
from .registry import fail, invariant

TOUCHED = "every op, the slabs it touched; every slab at L3"


@invariant("RMT-01", level=2, scope="slab", cost="O(remote) per slab", where=TOUCHED,
           planted="remote-push-not-atomic",
           statement="remote stack: acyclic, blocks of this slab, aligned, bitmap-used "
                     "(the owner's drain reports a corrupted stack before changing anything)")
def rmt_01_entries(snap: Snapshot, s: SlabSnap, view) -> None:
    for e in s.walk_errors:
        if e.startswith("remote"):
            fail("RMT-01", e, dump_slab(s))
    wb = snap.config.word_bits
    for a in s.remote:
        idx = block_idx(s, a)
        if idx is None or is_free_bit(s, wb, idx):
            fail("RMT-01", f"block {h(a)} on the remote stack is "
                           f"{'not a block of' if idx is None else 'bitmap-free in'} slab "
                           f"{h(s.base)}, class {s.class_idx}", dump_slab(s))


@invariant("RMT-02", level=2, scope="slab", cost="O(1) per slab", where=TOUCHED,
           planted="drain-forgets-remote-count",
           statement="remote_count == len(remote list)")
def rmt_02_count(snap: Snapshot, s: SlabSnap, view) -> None:
    if s.remote_count != len(s.remote):
        fail("RMT-02", f"remote_count={s.remote_count} but the remote stack holds "
                       f"{len(s.remote)} blocks (slab {h(s.base)}, class {s.class_idx}, "
                       f"owner {s.owner})", dump_slab(s))
