"""Bitmap, summary and hint of one slab (L2: the slabs an op touched).

    bit i of words == 1  <=>  block i is not bitmap-free   (padding bits: 1)
    free_count == popcount(free bits)
    summary bit w == 1  <=>  words[w] has a free bit
    len(summary) == ceil(nwords / word_bits); summary bits w >= nwords are 0
    every word below hint_word is full
"""
from __future__ import annotations

from hakmem_verify.contract.api import SlabSnap, Snapshot
from .geometry import TOUCHED, dump_slab, first_free_bit, free_popcount, h, of_slab, valid_mask
from .registry import View, fail, invariant


def _free_bits(s: SlabSnap, wb: int, w: int, word: int) -> int:
    """Free (0) bits of word w that are real blocks."""
    return (~word & valid_mask(s, wb, w)).bit_count()


@invariant("SLAB-01", level=2, scope="slab", cost="O(1) per slab", where=TOUCHED,
           planted="slab-geometry-off-by-one")
def slab_01_geometry(snap: Snapshot, s: SlabSnap, view) -> None:
    """base % slab_size == 0; block_size == class_sizes[class]; nblocks == slab_size /
    block_size; len(words) == ceil(nblocks / word_bits)"""
    cfg = snap.config
    ok = (s.base % cfg.slab_size == 0 and 0 <= s.class_idx < cfg.num_classes
          and s.block_size == cfg.class_sizes[s.class_idx]
          and s.nblocks == cfg.slab_size // s.block_size
          and len(s.words) == cfg.words_per_slab(s.class_idx))
    if not ok:
        fail("SLAB-01", f"slab {h(s.base)} class {s.class_idx}: geometry does not match the "
                        f"Config (block size {s.block_size}, nblocks {s.nblocks}, "
                        f"{len(s.words)} words)", dump_slab(s))


@invariant("SLAB-02", level=2, scope="slab", cost="O(1) per slab", where=TOUCHED,
           planted="padding-bits-free")
def slab_02_padding(snap: Snapshot, s: SlabSnap, view) -> None:
    """padding bits (index >= nblocks) are 1 (used), never free"""
    wb = snap.config.word_bits
    w = len(s.words) - 1
    pad = ((1 << wb) - 1) & ~valid_mask(s, wb, w)
    if s.words and (s.words[w] & pad) != pad:
        fail("SLAB-02", f"padding bit {first_free_bit(s, wb, w, pad)} (>= nblocks "
                        f"{s.nblocks}) is free in slab {h(s.base)}, class {s.class_idx}",
             dump_slab(s))


@invariant("SLAB-03", level=2, scope="slab", cost="O(words changed) per slab", where=TOUCHED,
           planted="free-count-drift")
def slab_03_free_count(snap: Snapshot, s: SlabSnap, view: View) -> None:
    """free_count == popcount(free bits)"""
    wb = snap.config.word_bits
    cw = view.changed_words(s)
    if cw is None:
        n = free_popcount(s, wb)
    else:       # the last check verified the old count: add the changed words' difference
        p = view.prev[s.base]
        if not cw and p.free_count == s.free_count:
            return
        n = p.free_count + sum(_free_bits(s, wb, w, s.words[w]) - _free_bits(s, wb, w, p.words[w])
                               for w in cw)
    if s.free_count != n:
        fail("SLAB-03", f"free_count={s.free_count} but bitmap has {n} free bits "
                        f"{of_slab(s)}", dump_slab(s))


@invariant("SUM-01", level=2, scope="slab", cost="O(words changed) per slab", where=TOUCHED,
           planted="summary-not-set")
def sum_01_summary(snap: Snapshot, s: SlabSnap, view: View) -> None:
    """summary bit w == (words[w] != FULL)"""
    wb = snap.config.word_bits
    full = (1 << wb) - 1
    summary = s.summary
    cw = view.changed_words(s)
    if cw is None:
        ws = range(len(s.words))
    else:       # words that changed, and every word of a summary word that changed
        p = view.prev[s.base]
        if not cw and p.summary == summary:
            return
        ws = set(cw)
        for sw, (a, b) in enumerate(zip(p.summary, summary)):
            if a != b:
                ws.update(range(sw * wb, min(len(s.words), (sw + 1) * wb)))
        ws = sorted(ws)
    words = s.words
    for w in ws:
        word = words[w]
        sw = w // wb
        bit = (summary[sw] >> (w % wb)) & 1 if sw < len(summary) else 0
        if bit != ((word & full) != full):
            fail("SUM-01", f"summary bit {w} is {bit} but word {w} ({hex(word)}) "
                           f"{'has no' if bit else 'has a'} free bit {of_slab(s)}", dump_slab(s))


@invariant("SUM-02", level=2, scope="slab", cost="O(words changed + hint moved)", where=TOUCHED,
           planted="stale-hint-never-wraps")
def sum_02_hint(snap: Snapshot, s: SlabSnap, view: View) -> None:
    """0 <= hint_word < nwords, and words[w] == FULL for w < hint_word"""
    if not 0 <= s.hint_word < len(s.words):
        fail("SUM-02", f"hint_word {s.hint_word} out of range 0..{len(s.words) - 1} "
                       f"{of_slab(s)}", dump_slab(s))
    wb = snap.config.word_bits
    full = (1 << wb) - 1
    cw = view.changed_words(s)
    if cw is None:
        ws = range(s.hint_word)
    else:       # words below the old hint were full: recheck the changed ones, and the
        p = view.prev[s.base]        # words the hint moved over
        if not cw and p.hint_word == s.hint_word:
            return
        ws = sorted({w for w in cw if w < s.hint_word} | set(range(p.hint_word, s.hint_word)))
    for w in ws:
        if s.words[w] & full != full:
            idx = first_free_bit(s, wb, w, full)
            fail("SUM-02", f"block {h(s.base + idx * s.block_size)} (index {idx}) is free "
                           f"below hint_word {s.hint_word}: a scan from the hint misses it "
                           f"{of_slab(s)}", dump_slab(s))


@invariant("SUM-03", level=2, scope="slab", cost="O(1) per slab", where=TOUCHED,
           planted="summary-padding-set")
def sum_03_summary_padding(snap: Snapshot, s: SlabSnap, view) -> None:
    """len(summary) == ceil(nwords / word_bits); summary bits w >= nwords are 0 (no word there:
    a scan led by the summary would read past the bitmap)"""
    wb, nwords = snap.config.word_bits, len(s.words)
    if len(s.summary) != -(-nwords // wb):
        fail("SUM-03", f"{len(s.summary)} summary words for {nwords} bitmap words of "
                       f"{wb} bits {of_slab(s)}", dump_slab(s))
    pad = s.summary[-1] >> (nwords - (len(s.summary) - 1) * wb) if s.summary else 0
    if pad:
        w = nwords + (pad & -pad).bit_length() - 1
        fail("SUM-03", f"summary bit {w} is set but the bitmap has {nwords} words "
                       f"{of_slab(s)}", dump_slab(s))

