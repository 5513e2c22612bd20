"""Plain data an implementation reports: ``Stats`` and the ``Snapshot`` of its slabs,
threads and SuperSlabs, the input of every invariant in ``hakmem_verify.check``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .config import Config

# ============================================================================
# Statistics
# ============================================================================


@dataclass(frozen=True)
class Stats:
    """Alloc and free counts per class (tuples indexed by class)."""

    allocs: tuple
    frees: tuple

    @classmethod
    def zero(cls, num_classes: int) -> "Stats":
        return cls((0,) * num_classes, (0,) * num_classes)

    def live(self, class_idx: int) -> int:
        return self.allocs[class_idx] - self.frees[class_idx]


# ============================================================================
# Snapshot: plain data, the input of every invariant in hakmem_verify.check
# ============================================================================


@dataclass(frozen=True)
class SlabSnap:
    """One slab. Bit = 1 means used; bits past nblocks are padding (must be 1).

    ``mini_mag`` and ``remote`` are the intrusive lists read from memory, head
    first, walked at most capacity + 1 (resp. nblocks + 1) steps; a walk that
    ends early on a cycle or a foreign pointer records it in ``walk_errors``.
    """

    base: int
    class_idx: int
    block_size: int
    nblocks: int
    words: tuple            # bitmap words
    summary: tuple          # summary words: bit w set <=> words[w] has a free bit
    hint_word: int          # scan start (lower bound of the first word with a free bit)
    free_count: int         # number of bitmap-free blocks
    mini_mag: tuple         # addresses, head first
    mini_mag_count: int
    mini_mag_capacity: int
    remote: tuple           # addresses, head first
    remote_count: int
    owner: Optional[int]    # tid whose active slab this is, None when unowned
    walk_errors: tuple = ()
    foreign_writes: tuple = ()  # (writer tid, owner tid) of owner-private writes by a
    #                             thread that did not own the slab (OWN-03); () if none
    foreign_handouts: tuple = ()  # (tid, owner tid, addr) of blocks handed to a thread
    #                               neither from its magazine nor from a slab it owns (OWN-04)
    superslab: Optional[int] = None  # base of its SuperSlab (SuperSlab mode), else None
    ss_owner: Optional[int] = None   # the owner its SuperSlab's header names (None: abandoned)
    tls_sll: tuple = ()     # its blocks on any thread's tls_sll (SuperSlab mode), sorted


@dataclass(frozen=True)
class ThreadSnap:
    """Per-thread state: magazines (bottom..top), active slabs, pending stats.

    ``magazines[c] == items[magazine_lo[c]:top]``: a complete snapshot has
    ``magazine_lo`` all 0 (or empty, meaning 0); a partial one copies only the
    slots at and above the lowest slot the op touched (``Footprint.mags``), and
    ``magazine_lo[c] == top`` for a magazine it does not copy at all.
    """

    tid: int
    magazines: tuple        # per class: tuple of addresses, bottom first
    magazine_tops: tuple    # per class: top index as stored
    active_a: tuple         # per class: slab base or None
    active_b: tuple
    pending_allocs: tuple   # per class: batched, not yet flushed
    pending_frees: tuple
    magazine_lo: tuple = ()  # per class: index of magazines[c][0] in the magazine
    tls_sll: tuple = ()     # SuperSlab mode, per class: the free list, head first (walked
    #                         at most tls_sll_capacity + 1 links)
    tls_sll_counts: tuple = ()  # per class: the list's count as stored
    superslabs: tuple = ()  # bases of the SuperSlabs the thread lists as its own
    walk_errors: tuple = ()  # a tls_sll walk that met a cycle or a foreign pointer


@dataclass(frozen=True)
class SuperSlabSnap:
    """One SuperSlab in use: ``nslots`` slab-sized slots, slot 0 its header.

    ``slabs[i]`` is ``(slab base, class)`` of the slab carved in slot i, or None;
    slots ``carved..nslots-1`` were never carved; ``free_slots`` are the slots below
    ``carved`` given back by released slabs.
    """

    base: int
    owner: Optional[int]    # tid of the owning thread, None: abandoned
    nslots: int
    slabs: tuple            # per slot: (base, class) or None; slabs[0] is the header
    free_slots: tuple       # released slots, reused first
    carved: int             # next never-carved slot


@dataclass(frozen=True)
class Snapshot:
    config: Config
    slabs: dict             # base -> SlabSnap (all, or the touched subset)
    threads: dict           # tid -> ThreadSnap (all, or the touched subset)
    flushed: Stats          # global counters (what flushes added)
    exact: Stats            # true counts
    reported: Stats = None  # what stats() returns to the client
    complete: bool = True   # False when only touched slabs/threads are included
    path_counts: dict = field(default_factory=dict)
    superslabs: dict = field(default_factory=dict)  # base -> SuperSlabSnap (SuperSlab mode)
    #   the headers in use: all of them on a complete snapshot; on a partial one those the
    #   included slab bases mask to, the pooled ones and those of the blocks on the included
    #   threads' tls_sll lists (a requested base missing from it is not in use)
    ss_pool: tuple = ()     # bases of the empty SuperSlabs kept for reuse
    ss_bad_releases: tuple = ()  # (SuperSlab base, slab base, blocks in use, remote blocks)
    #                              of slabs a SuperSlab release met (SS-04); () if none


def partial_threads(threads: dict, mags, tids) -> dict:
    """The threads a partial snapshot includes: ``{tid: (record, [(class, lo), ...])}``,
    of ``threads`` (tid -> an implementation's own thread record), for the tids in
    ``tids`` (all when None) and those ``mags`` names (``{(tid, class): lo}``), each
    with the magazines named for it (from slot lo to the top).  O(threads included)."""
    named = {}
    for (tid, c), lo in (mags or {}).items():
        named.setdefault(tid, []).append((c, lo))
    if tids is not None:
        for tid in tids:
            named.setdefault(tid, [])
        threads = {tid: threads[tid] for tid in named if tid in threads}
    return {tid: (t, named.get(tid, [])) for tid, t in threads.items()}

