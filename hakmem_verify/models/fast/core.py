"""The seed's modules as functions: mini-magazine, batch refill/spill, remote stack, stats.

Each function is the corrected form of a code sample in the seed design;
where the sample is wrong, one comment says what it gets wrong.  The samples
themselves are transcribed literally as ``seed-*`` mutants in
``hakmem_verify/planted``.  The allocator calls these through this module, so a
mutant can replace one of them for the duration of a ``with`` block.
"""
from __future__ import annotations

from hakmem_verify.contract.api import StructureCorrupted

from .structs import (NULL, PageMiniMag, TinySlab, atomic_add, atomic_add_remote_count,
                      atomic_cas_head, atomic_load_head, load_word,
                      store_word)

# ============================================================================
# Module 1: Page mini-magazine (data plane)
# ============================================================================


def mini_mag_pop(slab: TinySlab, mag: PageMiniMag) -> int:
    """Fast path: pop the head block, or NULL when empty. O(1)."""
    b = mag.head
    if b == NULL:
        return NULL
    mag.head = load_word(slab, b)
    mag.count -= 1
    return b


def mini_mag_push(slab: TinySlab, mag: PageMiniMag, ptr: int) -> bool:
    """Fast path: push a free block; False (and nothing changed) when full. O(1)."""
    if mag.count >= mag.capacity:
        return False
    store_word(slab, ptr, mag.head)
    mag.head = ptr
    mag.count += 1
    return True


# ============================================================================
# Module 2: Batch refill (bitmap -> mini-mag) and spill (mini-mag -> bitmap)
# ============================================================================


def batch_refill_from_bitmap(slab: TinySlab, mag: PageMiniMag, want: int) -> int:
    """Move up to ``want`` bitmap-free blocks into the mini-magazine. Returns how many.

    Postcondition: the bitmap-free set shrinks by exactly the blocks pushed.
    The seed's sample marks a block used *before* pushing it and breaks out
    when the push fails, losing that block whenever want > capacity - count;
    here the room is computed first, so every block marked used is pushed.
    """
    room = mag.capacity - mag.count
    if want > room:
        want = room
    if want <= 0:
        return 0
    bm = slab.bitmap
    base, bs = slab.base, slab.block_size
    got = 0
    while got < want and bm.free_count > 0:
        idx = bm.find_free()
        if idx < 0:
            break
        bm.set_used(idx)
        mini_mag_push(slab, mag, base + idx * bs)
        got += 1
    return got


def batch_spill_to_bitmap(slab: TinySlab, mag: PageMiniMag) -> int:
    """Return every mini-magazine block to the bitmap (on eviction). Returns how many.

    Postcondition: the mini-magazine is empty and its blocks are bitmap-free.
    """
    bm = slab.bitmap
    n = 0
    while mag.count > 0:
        ptr = mini_mag_pop(slab, mag)
        if ptr == NULL:
            break
        bm.set_free((ptr - slab.base) // slab.block_size)
        n += 1
    return n


# ============================================================================
# Remote free: lock-free MPSC stack per slab, intrusive through freed blocks
# ============================================================================


def remote_push_steps(slab: TinySlab, ptr: int):
    """Push by a non-owner, one atomic step per ``yield`` (a scheduler may interleave).

    load head; link ptr->next = head; CAS(head, old, ptr) (retry on failure);
    fetch_add(remote_count, 1).
    """
    while True:
        old = atomic_load_head(slab)
        yield "load"
        store_word(slab, ptr, old)
        yield "link"
        if atomic_cas_head(slab, old, ptr):
            break
        yield "cas-retry"
    yield "cas"
    atomic_add_remote_count(slab, 1)


def remote_push(slab: TinySlab, ptr: int) -> None:
    """Run a remote push to completion (no other thread interleaving)."""
    for _ in remote_push_steps(slab, ptr):
        pass


def remote_drain_steps(slab: TinySlab):
    """Owner: take the remote stack and splice it into the bitmap, one atomic step per
    ``yield``; the generator returns the number of blocks drained.

    Count, then change: load the head (step ``"load"``), walk the list from it, bounded
    by nblocks, validating every entry (:func:`remote_blocks`; a corrupted list raises
    ``StructureCorrupted("remote_head", ...)`` with nothing changed), then compare-and-swap
    the head from the loaded value to NULL (``"cas"``; a push that came in between makes
    it fail: ``"cas-retry"`` and start over), set the taken blocks free in the bitmap
    (owner-private), and subtract them from remote_count (``"count"``).  Between the
    CAS and the count the count is stale: RMT-02 holds only between ops.
    Cost O(length of the stack) per attempt.
    """
    while True:
        head = atomic_load_head(slab)
        if head == NULL:
            return 0
        yield "load"
        idxs = remote_blocks(slab, head)
        if atomic_cas_head(slab, head, NULL):
            break
        yield "cas-retry"
    yield "cas"
    set_free = slab.bitmap.set_free
    for idx in idxs:
        set_free(idx)
    atomic_add_remote_count(slab, -len(idxs))
    yield "count"
    return len(idxs)


def remote_drain(slab: TinySlab) -> int:
    """Run a drain (:func:`remote_drain_steps`) to completion; blocks drained."""
    steps = remote_drain_steps(slab)
    try:
        while True:
            next(steps)
    except StopIteration as stop:
        return stop.value or 0


def remote_blocks(slab: TinySlab, head: int) -> list:
    """Block indices of the remote list from ``head``, validated; changes nothing.

    Every entry must be a block start inside the slab whose bitmap bit is used
    (a remotely freed block stays used until drained), seen once, and there are
    at most nblocks of them.  Otherwise raises ``StructureCorrupted("remote_head",
    "corrupted remote stack of slab 0x...: <what>, after <k> entries")``.
    Cost O(length), at most nblocks + 1 reads.
    """
    base, bs, nblocks = slab.base, slab.block_size, slab.nblocks
    words, wb = slab.bitmap.words, slab.bitmap.word_bits
    idxs, seen = [], set()
    p = head
    while p != NULL:
        off = p - base
        if not 0 <= off < nblocks * bs:
            what = f"{hex(p)} is outside the slab"
        elif off % bs:
            what = f"{hex(p)} is not a block start (block size {bs})"
        elif off // bs in seen:
            what = f"cycle back to {hex(p)}"
        elif len(idxs) >= nblocks:
            what = f"more than its {nblocks} blocks"
        elif not (words[off // bs // wb] >> (off // bs % wb)) & 1:
            what = f"{hex(p)} is already free in the bitmap"
        else:
            idx = off // bs
            seen.add(idx)
            idxs.append(idx)
            p = load_word(slab, p)
            continue
        raise StructureCorrupted(
            "remote_head", f"corrupted remote stack of slab {hex(base)} class {slab.class_idx} "
                      f"(head {hex(head)}): {what}, after {len(idxs)} entries; nothing was "
                      f"drained (bitmap, head and count unchanged)")
    return idxs


# ============================================================================
# Module 4: statistics batching (per-thread batch, flushed to global counters)
# ============================================================================


def stats_record_alloc(batch: list, class_idx: int) -> None:
    batch[class_idx] += 1


def stats_record_free(batch: list, class_idx: int) -> None:
    batch[class_idx] += 1


def stats_flush_if_needed(batch: list, global_counts: list, class_idx: int,
                          interval: int) -> bool:
    """Flush the batch when it reaches ``interval`` events; True if flushed.

    Conservation: flushed + pending == exact.  The seed's sample tests
    ``(batch & 0xFF) == 0xFF`` and adds 256: it flushes at 255 events and
    adds one too many; and called only on the slow path (as Phase 3 says),
    a batch that passes 255 is not flushed until 511 and then loses 255.
    """
    n = batch[class_idx]
    if n >= interval:
        atomic_add(global_counts, class_idx, n)
        batch[class_idx] = 0
        return True
    return False


def stats_flush_all_steps(batch: list, global_counts: list):
    """Flush every class of one batch (thread exit, flush_stats): one fetch-add per
    class with pending events, each an atomic step ``"stat-add"``."""
    for c, n in enumerate(batch):
        if n:
            atomic_add(global_counts, c, n)
            batch[c] = 0
            yield "stat-add"


def stats_flush_all(batch: list, global_counts: list) -> None:
    """Run :func:`stats_flush_all_steps` to completion."""
    for _ in stats_flush_all_steps(batch, global_counts):
        pass
