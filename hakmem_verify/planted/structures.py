"""Planted bugs in the slab structures: the two-tier bitmap (summary, hint, padding,
free count), the intrusive mini-magazine, and the batch refill and spill between them."""
from __future__ import annotations

from hakmem_verify.models.fast import core as ops
from hakmem_verify.models.fast import steps
from hakmem_verify.models.fast.bitmap import TwoTierBitmap
from hakmem_verify.models.fast.structs import NULL, load_word, store_word

from . import mutant, patched
from .base import FA, _bm, _fa, _orig, padded_configs


# ============================================================================
# Bitmap, summary, hint
# ============================================================================

@mutant("summary-not-set", expect=("SUM-01",))
def _summary_not_set():
    """set_free clears the bit but does not set the summary bit of its word.
    Bug class: two-level index out of sync (free block invisible to the scan)."""
    def set_free(self, idx):
        w, b = divmod(idx, self.word_bits)
        self.words[w] &= ~(1 << b)
        self.free_count += 1
        if w < self.hint_word:
            self.hint_word = w
    return patched((TwoTierBitmap, "set_free", set_free))


@mutant("summary-not-cleared", expect=("SUM-01",))
def _summary_not_cleared():
    """set_used never clears the summary bit when a word fills.
    Bug class: stale index entry (scan visits full words, may hand out padding)."""
    def set_used(self, idx):
        w, b = divmod(idx, self.word_bits)
        self.words[w] |= 1 << b
        self.free_count -= 1
    return patched((TwoTierBitmap, "set_used", set_used))


@mutant("stale-hint-never-wraps", expect=("SUM-02", "OOM-01"))
def _stale_hint():
    """set_free does not lower hint_word: blocks freed below the hint are never found
    again by a scan that starts at the hint and does not wrap.
    Bug class: stale search cursor (memory leak / spurious out of memory)."""
    def set_free(self, idx):
        w, b = divmod(idx, self.word_bits)
        self.words[w] &= ~(1 << b)
        self.free_count += 1
        self.summary[w // self.word_bits] |= 1 << (w % self.word_bits)
    return patched((TwoTierBitmap, "set_free", set_free))


@mutant("padding-bits-free", expect=("SLAB-02",), configs=padded_configs)
def _padding_free():
    """The bitmap initialiser leaves the padding bits past nblocks free.
    Bug class: off-the-end block (hands out memory past the slab)."""
    def init(self, nblocks, word_bits=64):
        _bm["__init__"](self, nblocks, word_bits)
        self.words[-1] &= (1 << (nblocks - (self.nwords - 1) * word_bits)) - 1
    return patched((TwoTierBitmap, "__init__", init))


@mutant("summary-padding-set", expect=("SUM-03",))
def _summary_padding_set():
    """The bitmap initialiser marks every summary bit "has a free block" (a fresh slab is
    all free), the bits past the last word included: once the real words fill, a scan led
    by the summary reads past the bitmap.
    Bug class: an index wider than what it indexes."""
    def init(self, nblocks, word_bits=64):
        _bm["__init__"](self, nblocks, word_bits)
        self.summary = [(1 << word_bits) - 1] * len(self.summary)
    return patched((TwoTierBitmap, "__init__", init))


@mutant("free-count-drift", expect=("SLAB-03",))
def _free_count_drift():
    """set_used forgets to decrement free_count when it fills a word.
    Bug class: a cached count drifting from the structure it summarises."""
    def set_used(self, idx):
        w = idx // self.word_bits
        _bm["set_used"](self, idx)
        if self.words[w] == self.full:
            self.free_count += 1
    return patched((TwoTierBitmap, "set_used", set_used))


# ============================================================================
# Mini-magazine
# ============================================================================

@mutant("minimag-double-push", expect=("MM-02", "PART-01"))
def _mm_double_push():
    """A push into an empty mini-magazine inserts the block twice (a self-loop).
    Bug class: double insertion into an intrusive free list."""
    def push(slab, mag, ptr):
        ok = _orig["mini_mag_push"](slab, mag, ptr)
        if ok and mag.count == 1 and mag.capacity > 1:
            _orig["mini_mag_push"](slab, mag, ptr)
        return ok
    return patched((ops, "mini_mag_push", push))


@mutant("minimag-capacity-off-by-one", expect=("MM-01",))
def _mm_cap():
    """mini_mag_push tests count > capacity instead of >=: one block too many.
    Bug class: off-by-one at a cache's capacity."""
    def push(slab, mag, ptr):
        if mag.count > mag.capacity:
            return False
        store_word(slab, ptr, mag.head)
        mag.head = ptr
        mag.count += 1
        return True
    return patched((ops, "mini_mag_push", push))


@mutant("minimag-push-count-not-updated", expect=("MM-01", "MM-02", "OOM-01"))
def _mm_push_count():
    """mini_mag_push links the block but does not increment count.
    Bug class: counter not updated on push."""
    def push(slab, mag, ptr):
        if mag.count >= mag.capacity:
            return False
        store_word(slab, ptr, mag.head)
        mag.head = ptr
        return True
    return patched((ops, "mini_mag_push", push))


@mutant("minimag-pop-count-not-updated", expect=("MM-01",))
def _mm_pop_count():
    """mini_mag_pop unlinks the head but does not decrement count.
    Bug class: counter not updated on pop."""
    def pop(slab, mag):
        b = mag.head
        if b == NULL:
            return NULL
        mag.head = load_word(slab, b)
        return b
    return patched((ops, "mini_mag_pop", pop))


@mutant("minimag-pop-keeps-head", expect=("LIVE-02", "PART-01", "DATA-01", "MAG-02", "MM-02"))
def _mm_pop_keeps():
    """mini_mag_pop returns the head without unlinking it: the block is handed out
    and stays free. Bug class: double allocation.  MM-02 sees it when the client's
    fill pattern overwrites the link word of the block the list still holds."""
    def pop(slab, mag):
        b = mag.head
        if b == NULL:
            return NULL
        if mag.count > 1:
            mag.count -= 1
            return b
        return _orig["mini_mag_pop"](slab, mag)
    return patched((ops, "mini_mag_pop", pop))


# ============================================================================
# Batch refill and spill
# ============================================================================

@mutant("refill-loses-block", expect=("REF-01", "PART-01"))
def _refill_loses():
    """After a refill one more block is marked used and pushed nowhere.
    Bug class: block lost on refill (leak)."""
    def refill(slab, mag, want):
        got = _orig["batch_refill_from_bitmap"](slab, mag, want)
        if got and slab.bitmap.free_count > 0:
            slab.bitmap.set_used(slab.bitmap.find_free())
        return got
    return patched((ops, "batch_refill_from_bitmap", refill))


@mutant("refill-batch-off-by-one", expect=("MM-01",))
def _refill_obo():
    """The refill loop runs got <= want and pushes without a capacity check: one
    block past the batch, overfilling a mini-magazine.
    Bug class: off-by-one at the batch size."""
    def refill(slab, mag, want):
        room = mag.capacity - mag.count
        want = min(want, room)
        if want <= 0:
            return 0
        got = 0
        while got <= want and slab.bitmap.free_count > 0:
            idx = slab.bitmap.find_free()
            slab.bitmap.set_used(idx)
            p = slab.base + idx * slab.block_size
            store_word(slab, p, mag.head)
            mag.head = p
            mag.count += 1
            got += 1
        return got
    return patched((ops, "batch_refill_from_bitmap", refill))


@mutant("hot-refill-loses-block", expect=("REF-01", "PART-01"))
def _hot_refill_loses():
    """The hot-path refill (Phase 2 step 3) marks one block more used than it pushes.
    Bug class: block lost on refill, on the hottest refill site only."""
    def lossy(slab, mag, want):
        got = _orig["batch_refill_from_bitmap"](slab, mag, want)
        if got and slab.bitmap.free_count > 0:
            slab.bitmap.set_used(slab.bitmap.find_free())
        return got

    def alloc_hot(self, t, c):
        ops.batch_refill_from_bitmap = lossy
        try:
            return _fa["_alloc_hot"](self, t, c)
        finally:
            ops.batch_refill_from_bitmap = _orig["batch_refill_from_bitmap"]
    return patched((FA, "_alloc_hot", alloc_hot))


@mutant("spill-frees-free-bit", expect=("SLAB-03", "SPL-01", "LIVE-01"))
def _spill_frees_free():
    """The spill also 'frees' a block whose bit is already free (free_count += 1).
    Bug class: double free into the bitmap (count drift)."""
    def spill(slab, mag):
        n = _orig["batch_spill_to_bitmap"](slab, mag)
        if n:
            idx = slab.bitmap.find_free()
            if idx >= 0:
                slab.bitmap.set_free(idx)
        return n
    return patched((ops, "batch_spill_to_bitmap", spill))


@mutant("spill-leaves-mini-mag", expect=("SPL-01", "MM-02"))
def _spill_leaves():
    """The spill marks the mini-magazine's blocks free but leaves the list intact.
    Bug class: block in two places (free list and bitmap) after eviction."""
    def spill(slab, mag):
        p, n = mag.head, 0
        while p != NULL and n < mag.count:
            slab.bitmap.set_free((p - slab.base) // slab.block_size)
            p = load_word(slab, p)
            n += 1
        return n
    return patched((ops, "batch_spill_to_bitmap", spill))


@mutant("evict-skips-spill", expect=("SPL-01",))
def _evict_skips_spill():
    """Evicting an active slab drains it and drops ownership but does not spill its
    mini-magazine. Bug class: cached blocks stranded in a slab nobody owns."""
    def evict_active_gen(self, t, slab, c):
        if slab is None:
            return False
        self.probe.thread(t.tid)
        t.active_a[c], t.active_b[c] = t.active_b[c], None
        yield from steps.drain_slab_steps(self, t.tid, slab)
        slab.owner = None
        self.probe.slab(slab.base)
        yield "pool"
        return True
    return patched((steps, "evict_active_gen", evict_active_gen))
