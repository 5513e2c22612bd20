"""The two-tier bitmap (``find_free`` / ``set_used`` / ``set_free`` with summary words and
a hint word), restated arithmetically with its contracts (SLAB-01..03, SUM-01, SUM-02);
``tests/contracts/test_data_plane_agrees_with_model.py`` ties it to the model's."""
from __future__ import annotations

from .common import (CHECK_MAX_WORDS, CHECK_WORD_BITS, _bit, _free_bits, _full,  # noqa: F401  (named by pre:/inv: lines)
                     _has_free, _summary_of)

def is_free(bm: "TwoTierBitmap", idx: int) -> bool:
    """Whether block ``idx`` is bitmap-free. O(1)."""
    return _bit(bm.words[idx // bm.word_bits], idx % bm.word_bits) == 0


def _free_below(bm: "TwoTierBitmap", idx: int) -> int:
    """Number of free blocks with an index below ``idx``."""
    wb = bm.word_bits
    w, b = idx // wb, idx % wb
    return (sum(_free_bits(bm.words[v], wb) for v in range(w))
            + b - sum(_bit(bm.words[w], c) for c in range(b)))


def _well_formed(bm: "TwoTierBitmap") -> bool:
    """nwords == ceil(nblocks / word_bits) == len(words); every word in 0..full."""
    return (bm.nwords == len(bm.words) >= 1
            and (bm.nwords - 1) * bm.word_bits < bm.nblocks <= bm.nwords * bm.word_bits
            and all(0 <= x <= _full(bm.word_bits) for x in bm.words))


def _used_padding_bits(bm: "TwoTierBitmap") -> int:
    """How many of the last word's bits past ``nblocks`` are used."""
    first_pad = bm.nblocks - (bm.nwords - 1) * bm.word_bits
    return sum(_bit(bm.words[-1], b) for b in range(first_pad, bm.word_bits))


def _words_with_free_bits_below(bm: "TwoTierBitmap", w: int) -> int:
    """How many words below word ``w`` have a free bit (``[v < w]`` is a 0/1
    factor, so the hint is not forced to a concrete value)."""
    return sum(_has_free(bm.words[v], bm.word_bits) * (v < w) for v in range(bm.nwords))


def _one_bit_changed(new: list, old: list, idx: int, word_bits: int, to: int) -> bool:
    """``new`` is ``old`` with bit ``idx`` turned from ``1 - to`` into ``to``."""
    w, b = idx // word_bits, idx % word_bits
    delta = 2 ** b if to == 1 else -2 ** b
    return (len(new) == len(old) and _bit(old[w], b) == 1 - to and new[w] == old[w] + delta
            and all(new[v] == old[v] for v in range(len(old)) if v != w))


# ============================================================================
# Two-tier bitmap
# ============================================================================


class TwoTierBitmap:
    """Bitmap words, summary words and hint word of one slab (bit = 1: used).

    Block ``i`` is bit ``i % word_bits`` of ``words[i // word_bits]``; the
    bits past ``nblocks`` in the last word are padding and stay used.

        nwords == ceil(nblocks / word_bits) == len(words); 0 <= word <= full  [SLAB-01]
        padding bits (index >= nblocks) == 1                                 [SLAB-02]
        free_count == number of 0 bits in words                              [SLAB-03]
        summary bit w == 1  <=>  words[w] has a 0 bit                        [SUM-01]
        0 <= hint_word < nwords; every word below hint_word is full          [SUM-02]

    inv: _well_formed(self) and _used_padding_bits(self) == self.nwords * self.word_bits - self.nblocks  # SLAB-01, SLAB-02
    inv: self.free_count == sum(_free_bits(x, self.word_bits) for x in self.words)  # SLAB-03
    inv: self.summary == _summary_of(self.words, self.word_bits)  # SUM-01
    inv: 0 <= self.hint_word < self.nwords and _words_with_free_bits_below(self, self.hint_word) == 0  # SUM-02
    """

    def __init__(self, nblocks: int, word_bits: int, words: list[int], hint_word: int = 0):
        """A valid bitmap made of raw input (the identity on a valid state).

        ``nblocks`` is brought into the last word, each word into range,
        the padding bits and the words below ``hint_word`` are set used;
        summary and free_count are derived.  The preconditions bound the
        geometry CrossHair explores; :func:`fresh_bitmap` builds bitmaps of
        any geometry (the model's 64-bit words included).

        pre: word_bits == CHECK_WORD_BITS and 1 <= len(words) <= CHECK_MAX_WORDS
        """
        # a state generator: CrossHair checks the methods from the states it builds
        # crosshair: off
        nwords = len(words)
        full = _full(word_bits)
        pad = (nwords * word_bits - nblocks) % word_bits      # padding bits, < word_bits
        hint_word %= nwords
        # words below the hint are full (no branch on the hint: [w < h] is a 0/1 factor)
        words = [words[w] % (full + 1) for w in range(nwords)]
        words = [x + (full - x) * (w < hint_word) for w, x in enumerate(words)]
        low = 2 ** (word_bits - pad)                          # the last word's real blocks
        words[-1] = words[-1] % low + (full + 1 - low)        # padding bits: used
        _load(self, nwords * word_bits - pad, word_bits, words, hint_word)

    def __repr__(self):
        return (f"TwoTierBitmap(nblocks={self.nblocks}, word_bits={self.word_bits}, "
                f"words={self.words!r}, hint_word={self.hint_word})")

    def find_free(self) -> int:
        """Index of the lowest free block at or after the hint word, or -1.

        Moves ``hint_word`` to the word found and changes nothing else.
        Cost: O(nwords) summary bits and one word.

        post: self.words == __old__.self.words and self.summary == __old__.self.summary and self.free_count == __old__.self.free_count
        post: (__return__ == -1) == (self.free_count == 0) and (__return__ == -1 or (0 <= __return__ < self.nblocks and is_free(self, __return__) and _free_below(self, __return__) == 0))
        post: self.hint_word == (__old__.self.hint_word if __return__ == -1 else __return__ // self.word_bits)
        """
        return _find_free(self)

    def set_used(self, idx: int) -> None:
        """Mark free block ``idx`` used; clear its summary bit if its word fills. O(1).

        pre: 0 <= idx < self.nblocks and is_free(self, idx)
        post: _one_bit_changed(self.words, __old__.self.words, idx, self.word_bits, 1)
        post: self.free_count == __old__.self.free_count - 1 and self.hint_word == __old__.self.hint_word
        """
        _set_used(self, idx)

    def set_free(self, idx: int) -> None:
        """Mark used block ``idx`` free; set its summary bit; lower the hint to its word. O(1).

        pre: 0 <= idx < self.nblocks and not is_free(self, idx)
        post: _one_bit_changed(self.words, __old__.self.words, idx, self.word_bits, 0)
        post: self.free_count == __old__.self.free_count + 1 and self.hint_word == min(__old__.self.hint_word, idx // self.word_bits)
        """
        _set_free(self, idx)


def _load(bm: TwoTierBitmap, nblocks: int, word_bits: int, words: list, hint_word: int):
    bm.nblocks = nblocks                           # blocks in the slab
    bm.word_bits = word_bits                       # bits per word
    bm.nwords = len(words)                         # bitmap words
    bm.words = words                               # bit = 1: used
    bm.summary = _summary_of(words, word_bits)     # bit w: words[w] has a free bit
    bm.hint_word = hint_word                       # scan start (lower bound)
    bm.free_count = sum(_free_bits(x, word_bits) for x in words)  # bitmap-free blocks


def fresh_bitmap(nblocks: int, word_bits: int = 64) -> TwoTierBitmap:
    """A bitmap of any geometry with every block free (padding bits used)."""
    nwords = -(-nblocks // word_bits)
    pad = nwords * word_bits - nblocks
    words = [0] * nwords
    words[-1] = _full(word_bits) - _full(word_bits - pad)   # the top ``pad`` bits
    bm = TwoTierBitmap.__new__(TwoTierBitmap)
    _load(bm, nblocks, word_bits, words, 0)
    return bm


def _find_free(bm: TwoTierBitmap) -> int:
    wb = bm.word_bits
    for w in range(bm.hint_word, bm.nwords):          # summary bits from the hint up
        if _bit(bm.summary[w // wb], w % wb) == 1:
            word = bm.words[w]
            for b in range(wb):                       # the lowest free bit of the word
                if _bit(word, b) == 0:
                    bm.hint_word = w
                    return w * wb + b
    return -1


def _set_used(bm: TwoTierBitmap, idx: int) -> None:
    wb = bm.word_bits
    w, b = idx // wb, idx % wb
    bm.words[w] += 2 ** b
    bm.free_count -= 1
    if bm.words[w] == _full(wb):                      # the word filled up
        bm.summary[w // wb] -= 2 ** (w % wb)


def _set_free(bm: TwoTierBitmap, idx: int) -> None:
    wb = bm.word_bits
    w, b = idx // wb, idx % wb
    if bm.words[w] == _full(wb):                      # the word gains its first free bit
        bm.summary[w // wb] += 2 ** (w % wb)
    bm.words[w] -= 2 ** b
    bm.free_count += 1
    if w < bm.hint_word:
        bm.hint_word = w
