"""Two-tier bitmap of a TinySlab: bitmap words, summary words and hint word.

Bit = 1 means *used*.  Bits past ``nblocks`` in the last word are padding and
stay 1 forever, so a scan can never hand out a block that does not exist.

Invariants (checked by ``hakmem_verify.check``, IDs in brackets):

    free_count == popcount(~words & valid_mask)                      [SLAB-03]
    summary bit w == 1  <=>  words[w] != FULL                       [SUM-01]
    padding bits of the last word == 1                              [SLAB-02]
    0 <= hint_word < nwords, and every word below hint_word is FULL [SUM-02]

The hint is a lower bound of the first word with a free bit: ``find_free``
starts there, ``set_used`` never moves it, ``set_free`` lowers it.
"""
from __future__ import annotations


class TwoTierBitmap:
    """Bitmap words + summary words + hint word, as the seed's TinySlab has them."""

    __slots__ = ("nblocks", "word_bits", "nwords", "full", "words", "summary",
                 "hint_word", "free_count")

    def __init__(self, nblocks: int, word_bits: int = 64):
        self.nblocks = nblocks                       # blocks in the slab
        self.word_bits = word_bits                   # bits per word
        self.nwords = -(-nblocks // word_bits)       # bitmap words
        self.full = (1 << word_bits) - 1             # a word with every bit used
        self.words = [0] * self.nwords               # bit = 1: used
        pad = self.nwords * word_bits - nblocks
        if pad:                                      # padding bits: used forever
            self.words[-1] = ((1 << pad) - 1) << (word_bits - pad)
        nsum = -(-self.nwords // word_bits)
        self.summary = [0] * nsum                    # bit w: words[w] has a free bit
        for w in range(self.nwords):
            if self.words[w] != self.full:
                self.summary[w // word_bits] |= 1 << (w % word_bits)
        self.hint_word = 0                           # scan start (lower bound)
        self.free_count = nblocks                    # bitmap-free blocks

    # ---- queries ------------------------------------------------------------
    def is_free(self, idx: int) -> bool:
        return not (self.words[idx // self.word_bits] >> (idx % self.word_bits)) & 1

    def find_free(self) -> int:
        """Index of the lowest free block at or after the hint word, or -1.

        Cost: O(nwords / word_bits) summary words + one word.  Does not change
        state except moving ``hint_word`` up to the word found.
        """
        wb = self.word_bits
        w = self.hint_word
        summary = self.summary
        s = w // wb
        sword = summary[s] & ~((1 << (w % wb)) - 1) if s < len(summary) else 0
        while True:
            if sword:
                w = s * wb + ((sword & -sword).bit_length() - 1)
                free_bits = ~self.words[w] & self.full
                bit = (free_bits & -free_bits).bit_length() - 1
                self.hint_word = w
                return w * wb + bit
            s += 1
            if s >= len(summary):
                return -1
            sword = summary[s]

    # ---- updates (owner only) ----------------------------------------------
    # Like the C code, these do not check their precondition (set_used of a
    # free block, set_free of a used one): a caller that breaks it corrupts
    # free_count, and the invariant checks report it.
    def set_used(self, idx: int) -> None:
        """Mark a free block used; clear its summary bit if the word fills."""
        wb = self.word_bits
        w, b = divmod(idx, wb)
        word = self.words[w]
        word |= 1 << b
        self.words[w] = word
        self.free_count -= 1
        if word == self.full:
            self.summary[w // wb] &= ~(1 << (w % wb))

    def set_free(self, idx: int) -> None:
        """Mark a used block free; set its summary bit; lower the hint."""
        wb = self.word_bits
        w, b = divmod(idx, wb)
        word = self.words[w]
        self.words[w] = word & ~(1 << b)
        self.free_count += 1
        self.summary[w // wb] |= 1 << (w % wb)
        if w < self.hint_word:
            self.hint_word = w
