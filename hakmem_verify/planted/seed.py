"""The seed design's code samples, transcribed as literally as Python allows.

Each ``seed-*`` mutant replaces the corrected function of ``hakmem_verify.models.fast`` by a
line-for-line transcription of the sample in
``../shared/seed/hybrid-bitmap-mini-magazine-design.md`` (C pointers become
addresses, ``hak_tiny_set_used``/``hak_tiny_set_free`` are the raw bitmap
operations without ``free_count``, which the samples update themselves).
The verdicts are in ``SEED_FINDINGS.md``.
"""
from __future__ import annotations

from hypothesis import strategies as st

from hakmem_verify.models.fast import core as ops
from hakmem_verify.models.fast import steps, validate
from hakmem_verify.models.fast.allocator import FastAllocator
from hakmem_verify.models.fast.structs import NULL, load_word, store_word
from hakmem_verify.contract.api import SEED_CLASS_SIZES, Config

from . import mutant, patched

FA = FastAllocator


def _raw_set_used(slab, idx):
    """hak_tiny_set_used: bit and summary only (the sample does free_count-- itself)."""
    slab.bitmap.set_used(idx)
    slab.bitmap.free_count += 1


def _raw_set_free(slab, idx):
    """hak_tiny_set_free: bit, summary and hint only (the sample does free_count++)."""
    slab.bitmap.set_free(idx)
    slab.bitmap.free_count -= 1


# Configs at the seed's stats numbers (the samples hard-code 256 = 0xFF + 1), with
# small slabs so the slow path, where Phase 3 flushes, is taken often.
seed_stats_configs = st.builds(Config, class_sizes=st.just(SEED_CLASS_SIZES),
                               slab_size=st.sampled_from([1024, 2048]),
                               mini_mag_capacity=st.integers(1, 16),
                               refill_batch=st.integers(1, 16),
                               magazine_capacity=st.integers(1, 8),
                               flush_interval=st.just(256))


# ============================================================================
# Module 1: mini_mag_pop / mini_mag_push
# ============================================================================


@mutant("seed-mini_mag_pop", equivalent=True)
def _seed_pop():
    """Seed sample mini_mag_pop, literally:
        b = mag->head; if (!b) return NULL; mag->head = b->next; mag->count--; return b;
    Equivalent to the model's pop: correct while count == length of the list (MM-01),
    which every other operation maintains."""
    def mini_mag_pop(slab, mag):
        b = mag.head
        if not b:
            return NULL
        mag.head = load_word(slab, b)
        mag.count -= 1
        return b
    return patched((ops, "mini_mag_pop", mini_mag_pop))


@mutant("seed-mini_mag_push", equivalent=True)
def _seed_push():
    """Seed sample mini_mag_push, literally:
        if (mag->count >= mag->capacity) return 0; b->next = mag->head; mag->head = b;
        mag->count++; return 1;
    Equivalent: the capacity test comes before any write, so a full push changes nothing."""
    def mini_mag_push(slab, mag, ptr):
        if mag.count >= mag.capacity:
            return 0
        store_word(slab, ptr, mag.head)
        mag.head = ptr
        mag.count += 1
        return 1
    return patched((ops, "mini_mag_push", mini_mag_push))


# ============================================================================
# Module 2: batch_refill_from_bitmap / batch_spill_to_bitmap
# ============================================================================


@mutant("seed-batch_refill_from_bitmap", expect=("REF-01", "PART-01"))
def _seed_refill():
    """Seed sample batch_refill_from_bitmap, literally.  It marks a block used and
    decrements free_count *before* mini_mag_push, and breaks out when the push fails:
    whenever want > capacity - count that block is lost (used in the bitmap, in no list).
    The seed's own callers pass want = 16 with an empty 16-slot mini-mag, where it is
    latent; a mini-mag that is not empty, or a capacity below the batch, loses blocks."""
    def batch_refill_from_bitmap(slab, mag, want):
        if want <= 0 or mag.count >= mag.capacity:
            return 0
        block_size = slab.block_size
        got = 0
        while got < want and slab.bitmap.free_count > 0:
            block_idx = slab.bitmap.find_free()
            if block_idx < 0:
                break
            _raw_set_used(slab, block_idx)
            slab.bitmap.free_count -= 1
            ptr = slab.base + block_idx * block_size
            if not ops.mini_mag_push(slab, mag, ptr):
                break
            got += 1
        return got
    return patched((ops, "batch_refill_from_bitmap", batch_refill_from_bitmap))


@mutant("seed-batch_spill_to_bitmap", equivalent=True)
def _seed_spill():
    """Seed sample batch_spill_to_bitmap, literally: pop every block, set its bit free,
    free_count++.  Equivalent to the model's spill, provided hak_tiny_set_free maintains
    the summary bit and lowers the hint (SUM-01, SUM-02), which the sample leaves to it."""
    def batch_spill_to_bitmap(slab, mag):
        block_size = slab.block_size
        n = 0
        while mag.count > 0:
            ptr = ops.mini_mag_pop(slab, mag)
            if not ptr:
                break
            offset = ptr - slab.base
            block_idx = offset // block_size
            _raw_set_free(slab, block_idx)
            slab.bitmap.free_count += 1
            n += 1
        return n
    return patched((ops, "batch_spill_to_bitmap", batch_spill_to_bitmap))


# ============================================================================
# Module 4 + Phase 3: batched statistics
# ============================================================================


def _seed_flush_if_needed(batch, global_counts, class_idx):
    """stats_flush_if_needed, literally (one batch at a time)."""
    if (batch[class_idx] & 0xFF) == 0xFF:
        ops.atomic_add(global_counts, class_idx, 256)
        batch[class_idx] = 0
        return True
    return False


@mutant("seed-stats_flush_if_needed", expect=("STAT-01",), configs=seed_stats_configs)
def _seed_flush():
    """Seed sample stats_flush_if_needed, literally, called after every recorded event:
    it flushes when the batch holds 255 events (batch & 0xFF == 0xFF) but adds 256, so
    every flush counts one event that never happened (flushed + pending != exact)."""
    def flush(batch, g, c, interval):
        return _seed_flush_if_needed(batch, g, c)
    return patched((ops, "stats_flush_if_needed", flush))


@mutant("seed-stats-phase3", expect=("STAT-01", "STAT-02"), configs=seed_stats_configs)
def _seed_phase3():
    """Phase 3 as written: stats_record_* on every event, stats_flush_if_needed (the
    literal sample) called only on the slow path.  The 255-event window is usually
    missed by the hot path, so the batch grows past 256 (pending unbounded, STAT-02);
    when the slow path does hit it, 256 are added for 255 events (STAT-01)."""
    def flush_only_on_slow_path(batch, g, c, interval):
        return False

    orig_slow = steps.alloc_slow_steps

    def alloc_slow_steps(self, t, c):
        _seed_flush_if_needed(t.alloc_batch, self.g_alloc_count, c)
        _seed_flush_if_needed(t.free_batch, self.g_free_count, c)
        return (yield from orig_slow(self, t, c))
    return patched((ops, "stats_flush_if_needed", flush_only_on_slow_path),
                   (steps, "alloc_slow_steps", alloc_slow_steps))


# ============================================================================
# Phase 2: the hot path
# ============================================================================


@mutant("seed-hot-path", expect=("STAT-02",))
def _seed_hot_path():
    """Phase 2's hak_tiny_alloc hot path, literally: TLS magazine pop, then A's
    mini-mag, then batch_refill_from_bitmap(tls, &tls->mini_mag, 16), each branch
    calling stats_record_alloc and returning; no flush on any of these branches.
    The block handling is correct (the model's own refill is used), but a thread served
    by the hot path never flushes: pending grows without bound (STAT-02) and the
    reported statistics drift from the exact ones."""
    def alloc_gen(self, tid, class_idx):
        t = validate.thread(self, tid)
        mag = t.mags[class_idx]
        p = NULL
        if mag.top > 0:
            mag.top -= 1
            p = mag.items[mag.top]
            self.probe.mag(tid, class_idx, mag.top, "tls_mag")
        else:
            tls = t.active_a[class_idx]
            if tls is not None and tls.mini_mag.count > 0:
                self.probe.slab(tls.base)
                p = ops.mini_mag_pop(tls, tls.mini_mag)
                if p:
                    self.probe.hit("mini_mag")
            if not p and tls is not None and tls.bitmap.free_count > 0:
                self.probe.slab(tls.base)
                got = ops.batch_refill_from_bitmap(tls, tls.mini_mag, 16)
                if got > 0:
                    p = ops.mini_mag_pop(tls, tls.mini_mag)
                    if p:
                        self.probe.hit("refill")
        if p:
            self._live[p] = class_idx
            self.probe.op(tid)
            self._exact_alloc[class_idx] += 1
            ops.stats_record_alloc(t.alloc_batch, class_idx)   # no flush on the hot path
            return p
        return (yield from _orig_alloc_gen(self, tid, class_idx))  # slow path (records, flushes)
    return patched((steps, "alloc_gen", alloc_gen))


_orig_alloc_gen = steps.alloc_gen


# ============================================================================
# Phase 4: refill_tls_magazine
# ============================================================================


@mutant("seed-refill_tls_magazine", expect=("CONF-01",))
def _seed_refill_tls():
    """Phase 4's refill_tls_magazine, literally: pop A's mini-mag into the magazine
    while there is room; if the mini-mag is then empty and the slab has free blocks,
    batch_refill_from_bitmap(tls_a, &tls_a->mini_mag, 16); the same for B.  Safe: it
    only moves blocks between caches of the calling thread.  But it pops *before* it
    refills, so on a fresh or drained slab its first call moves nothing into the
    magazine (the 16 blocks stay in the mini-mag): the slow path leaves the TLS
    magazine empty and the next allocs take the mini-magazine stage instead of the
    magazine (CONF-01), and a caller that takes "magazine still empty" for "no
    memory" reports a spurious out of memory (OOM-01 against an earlier slow path)."""
    def refill_tls_magazine(self, t, class_idx):
        mag = t.mags[class_idx]
        room = mag.cap - mag.top
        if room <= 0:
            return 0
        moved = 0
        for tls in (t.active_a[class_idx], t.active_b[class_idx]):
            if room <= 0:
                break
            if tls is None:
                continue
            self.probe.slab(tls.base)
            while room > 0 and tls.mini_mag.count > 0:
                p = ops.mini_mag_pop(tls, tls.mini_mag)
                if not p:
                    break
                self.probe.mag(t.tid, class_idx, mag.top)
                mag.items[mag.top] = p
                mag.top += 1
                room -= 1
                moved += 1
            if tls.mini_mag.count == 0 and tls.bitmap.free_count > 0:
                ops.batch_refill_from_bitmap(tls, tls.mini_mag, 16)
        if moved:
            self.probe.hit("tls_refill")
        return moved
    return patched((steps, "refill_tls_magazine", refill_tls_magazine))
