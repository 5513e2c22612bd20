"""Ownership under concurrency: only a slab's owner writes its owner-private words, and
a thread is handed only blocks it may take.

    OWN-03: no op by thread T changes the bitmap, summary, hint, free_count or
    mini-magazine of a slab that another thread owns
    OWN-04: a block handed to T comes from T's magazine, T's active slabs, or a slab
    that T has just acquired (so: from T's magazine, or a slab T owns when handed out)

The design's safety rests on this discipline: everyone but the owner goes through
the remote stack (and an unowned slab is changed only under the pool lock).  The
implementation attributes each owner-private write to the thread that made it
(``hakmem_verify.models.fast.probe.Probe.priv``); a write by a non-owner shows in the slab's
snapshot as ``foreign_writes``; a block handed to a thread from neither its magazine nor
a slab it owns (``Probe.handout``) shows as ``foreign_handouts``.  Both are checked in every run, sequential or
concurrent, on the slabs each op (or step) touched.

Which invariants hold *between* atomic steps (``BETWEEN_STEPS``, checked after
every step by ``hakmem_verify.oracle.concurrent``) and which only at quiescence
(``QUIESCENT_ONLY``, checked between rounds):

* between steps: the bitmap, summary and hint (SLAB-01..03, SUM-01, SUM-02), the
  mini-magazine (MM-01, MM-02), the remote list's entries (RMT-01), thread
  magazines and actives (MAG-01, OWN-01), pending batches (STAT-02), OWN-03;
* only at quiescence: RMT-02 (a push's CAS and its count fetch-add are two steps,
  and so are a drain's), OWN-02 (an evicted slab keeps its owner until the pool
  step that unowns it), PART-01 and LIVE-01 (a pushed block is in no place
  between its free and its CAS), MAG-02, STAT-01 and STAT-03 (a flush is a step of
  its own).
"""
from __future__ import annotations

from hakmem_verify.contract.api import SlabSnap, Snapshot
from .geometry import dump_slab, h
from .registry import fail, invariant

BETWEEN_STEPS = ("SLAB-01", "SLAB-02", "SLAB-03", "SUM-01", "SUM-02", "MM-01", "MM-02",
                 "RMT-01", "MAG-01", "OWN-01", "STAT-02", "OWN-03", "OWN-04")
QUIESCENT_ONLY = ("RMT-02", "OWN-02", "PART-01", "LIVE-01", "MAG-02", "STAT-01", "STAT-03")
EVERY_STEP = "every op (and every atomic step), the slabs it touched; every slab at L3"


@invariant("OWN-03", level=2, scope="slab", cost="O(1) per slab", where=EVERY_STEP,
           planted="free-writes-foreign-bitmap")
def own_03_owner_private(snap: Snapshot, s: SlabSnap, view) -> None:
    """no thread writes an owner-private word (bitmap, summary, hint, free_count,
    mini-magazine) of a slab another thread owns"""
    if not s.foreign_writes:
        return
    writer, owner = s.foreign_writes[0]
    fail("OWN-03", f"tid {writer} wrote owner-private words of slab {h(s.base)} "
                   f"(class {s.class_idx}) owned by tid {owner} "
                   f"({len(s.foreign_writes)} such write(s)); a non-owner must push on "
                   f"the remote stack", dump_slab(s))


@invariant("OWN-04", level=2, scope="slab", cost="O(1) per slab", where=EVERY_STEP,
           planted="alloc-serves-unowned-slab")
def own_04_handed_from_own(snap: Snapshot, s: SlabSnap, view) -> None:
    """a block handed to thread T comes from T's magazine, T's active slabs, or a slab T has
    just acquired (a slab T owns when it hands it out)"""
    if s.foreign_handouts:
        tid, owner, addr = s.foreign_handouts[0]
        whose = "no thread (unowned)" if owner is None else f"tid {owner}"
        fail("OWN-04", f"block {h(addr)} of slab {h(s.base)} (class {s.class_idx}) was handed "
                       f"to tid {tid} from neither its magazine nor a slab it owns: the slab "
                       f"is owned by {whose} ({len(s.foreign_handouts)} such block(s)); a "
                       f"thread takes blocks from its magazine and its own slabs, and adopts "
                       f"a slab before it takes a block of it", dump_slab(s))
