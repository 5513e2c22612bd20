"""Contracts of the tiny pool's pure cores, checkable by CrossHair.

The seed design's data plane is a handful of small, pure state machines: the
two-tier bitmap (``find_free`` / ``set_used`` / ``set_free``, with summary
words and a hint word), the page mini-magazine (an intrusive LIFO stored in
the free blocks), batch refill (bitmap -> mini-magazine) and spill
(mini-magazine -> bitmap), the size-class mapping, and the batched
statistics counters.  Each is written here once more, as plain Python with
PEP 316 docstring contracts: class invariants (``inv:``) are the state
invariants of the catalogue (IDs in ``specs/invariants.py``), and every
operation states what it returns and how it changes the state (``pre:`` /
``post:``).  ``crosshair check specs/contracts.py`` then searches every
path of every operation, from every state the invariants allow, for a
counterexample (command, budget and results: ``specs/CONTRACTS.md``).

CrossHair reasons about integers, not bit-vectors: ``|``, ``^`` and
``x & -x`` force it to pick concrete values.  So the bit logic is written
arithmetically (bit ``b`` of ``word`` is ``word // 2**b % 2``; setting it is
``word + 2**b``, clearing it ``word - 2**b``), and the word width is a
parameter: the constructors' preconditions bound what CrossHair explores to
``CHECK_WORD_BITS`` and ``CHECK_MAX_WORDS`` while the same code runs at 64
bits in the differential test against ``hakmem_fast.bitmap``.

Constructors take raw state (words, list memory, counters) and derive only
what is a function of it (summary, free_count); CrossHair builds every
``self`` through them and keeps the ones that satisfy the invariants, so a
method is checked from *every* valid state, not just from the states a short
operation sequence reaches.

Nothing here imports ``hakmem_ref`` or ``hakmem_fast``.
"""
from __future__ import annotations

NULL = 0                 # the intrusive lists' end marker (no block lives at address 0)

# ---- the geometry CrossHair explores (the model runs at 64-bit words) ------
CHECK_WORD_BITS = (1, 2, 4)    # bitmap word widths the constructors admit when checked
CHECK_MAX_WORDS = 3            # most bitmap words (so with width 1, three summary words)
CHECK_MAX_CAPACITY = 3         # largest mini-magazine capacity
CHECK_MAX_THREADS = 3          # most threads with a pending stat batch

# ---- the seed's size classes: 8, 16, ..., 1024 bytes (class 0..7) ---------
MIN_CLASS_SIZE = 8
NUM_CLASSES = 8
CLASS_SIZES = tuple(MIN_CLASS_SIZE * 2 ** k for k in range(NUM_CLASSES))


# ============================================================================
# Bit arithmetic (no bitwise operators: CrossHair keeps these symbolic)
# ============================================================================


def _bit(word: int, b: int) -> int:
    """Bit ``b`` of a non-negative ``word`` (1 = used)."""
    return word // 2 ** b % 2


def _full(word_bits: int) -> int:
    """A word with every bit used."""
    return 2 ** word_bits - 1


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _has_free(word: int, word_bits: int) -> int:
    """1 if ``0 <= word <= full`` has a free (0) bit, else 0; no branch."""
    return 1 - word // _full(word_bits)


def _free_bits(word: int, word_bits: int) -> int:
    """Number of free (0) bits of a word."""
    return word_bits - sum(_bit(word, b) for b in range(word_bits))


def _summary_of(words: list, word_bits: int) -> list:
    """The summary words that ``words`` call for: bit w set iff word w has a free bit."""
    nsum = _ceil_div(len(words), word_bits)
    return [sum(2 ** j * _has_free(words[k * word_bits + j], word_bits)
                for j in range(min(word_bits, len(words) - k * word_bits)))
            for k in range(nsum)]


def _bm_is_free(bm: "TwoTierBitmap", idx: int) -> bool:
    return _bit(bm.words[idx // bm.word_bits], idx % bm.word_bits) == 0


def _bm_free_indices(bm: "TwoTierBitmap") -> list:
    return [i for i in range(bm.nblocks) if _bm_is_free(bm, i)]


# ============================================================================
# Two-tier bitmap
# ============================================================================


class TwoTierBitmap:
    """Bitmap words, summary words and hint word of one slab (bit = 1: used).

    Block ``i`` is bit ``i % word_bits`` of ``words[i // word_bits]``; the
    bits past ``nblocks`` in the last word are padding and stay used.

        nwords == ceil(nblocks / word_bits) == len(words)          [SLAB-01]
        padding bits (index >= nblocks) == 1                       [SLAB-02]
        free_count == number of 0 bits in words                    [SLAB-03]
        summary bit w == 1  <=>  words[w] has a 0 bit              [SUM-01]
        0 <= hint_word < nwords; every word below it is full       [SUM-02]

    inv: self.word_bits >= 1 and self.nblocks >= 1
    inv: self.nwords == _ceil_div(self.nblocks, self.word_bits) == len(self.words)  # SLAB-01
    inv: all(0 <= x <= _full(self.word_bits) for x in self.words)                 # SLAB-01
    inv: sum(_bit(self.words[-1], b) for b in range(self.nblocks - (self.nwords - 1) * self.word_bits, self.word_bits)) == self.nwords * self.word_bits - self.nblocks  # SLAB-02
    inv: self.free_count == sum(_free_bits(x, self.word_bits) for x in self.words)  # SLAB-03
    inv: self.summary == _summary_of(self.words, self.word_bits)                  # SUM-01
    inv: 0 <= self.hint_word < self.nwords                                        # SUM-02
    inv: sum(_has_free(self.words[w], self.word_bits) for w in range(self.hint_word)) == 0  # SUM-02
    """

    def __init__(self, nblocks: int, word_bits: int, words: list[int], hint_word: int = 0):
        """A bitmap over raw ``words``; summary and free_count are derived from them.

        The preconditions are the geometry CrossHair explores; the model's
        64-bit bitmaps are built by :func:`fresh_bitmap`, outside that bound.

        pre: word_bits in CHECK_WORD_BITS
        pre: 1 <= len(words) <= CHECK_MAX_WORDS
        """
        self.nblocks = nblocks                  # blocks in the slab
        self.word_bits = word_bits              # bits per word
        self.nwords = len(words)                # bitmap words
        self.words = words                      # bit = 1: used
        self.summary = _summary_of(words, word_bits)  # bit w: words[w] has a free bit
        self.hint_word = hint_word              # scan start (lower bound)
        self.free_count = sum(_free_bits(x, word_bits) for x in words)  # free blocks

    def __repr__(self):
        return (f"TwoTierBitmap({self.nblocks}, {self.word_bits}, {self.words!r}, "
                f"{self.hint_word})")

    # ---- queries ------------------------------------------------------------
    def is_free(self, idx: int) -> bool:
        """Whether block ``idx`` is bitmap-free. O(1).

        pre: 0 <= idx < self.nblocks
        post: __return__ == (_bit(self.words[idx // self.word_bits], idx % self.word_bits) == 0)
        """
        return _bm_is_free(self, idx)

    def find_free(self) -> int:
        """Index of the lowest free block at or after the hint word, or -1.

        Moves ``hint_word`` up to the word found; changes nothing else.
        Cost: O(nwords) summary bits + one word.

        post: self.words == __old__.self.words and self.summary == __old__.self.summary
        post: (__return__ == -1) == (self.free_count == 0)
        post: __return__ == -1 or (0 <= __return__ < self.nblocks and _bm_is_free(self, __return__))
        post: __return__ == -1 or _bm_free_indices(self)[0] == __return__
        post: self.hint_word == (__old__.self.hint_word if __return__ == -1 else __return__ // self.word_bits)
        """
        return _find_free(self)

    # ---- updates (owner only) ----------------------------------------------
    def set_used(self, idx: int) -> None:
        """Mark free block ``idx`` used; clear its summary bit if its word fills. O(1).

        pre: 0 <= idx < self.nblocks and _bm_is_free(self, idx)
        post: not _bm_is_free(self, idx)
        post: _bm_free_indices(self) == [i for i in _bm_free_indices(__old__.self) if i != idx]
        post: self.free_count == __old__.self.free_count - 1
        post: self.hint_word == __old__.self.hint_word
        """
        _set_used(self, idx)

    def set_free(self, idx: int) -> None:
        """Mark used block ``idx`` free; set its summary bit; lower the hint to its word. O(1).

        pre: 0 <= idx < self.nblocks and not _bm_is_free(self, idx)
        post: _bm_is_free(self, idx)
        post: _bm_free_indices(self) == sorted(_bm_free_indices(__old__.self) + [idx])
        post: self.free_count == __old__.self.free_count + 1
        post: self.hint_word == min(__old__.self.hint_word, idx // self.word_bits)
        """
        _set_free(self, idx)


def _find_free(bm: TwoTierBitmap) -> int:
    wb = bm.word_bits
    for w in range(bm.hint_word, bm.nwords):          # summary bits, from the hint up
        if _bit(bm.summary[w // wb], w % wb) == 1:
            word = bm.words[w]
            for b in range(wb):                          # the lowest free bit of the word
                if _bit(word, b) == 0:
                    bm.hint_word = w
                    return w * wb + b
    return -1


def _set_used(bm: TwoTierBitmap, idx: int) -> None:
    wb = bm.word_bits
    w, b = idx // wb, idx % wb
    bm.words[w] += 2 ** b
    bm.free_count -= 1
    if bm.words[w] == _full(wb):
        bm.summary[w // wb] -= 2 ** (w % wb)


def _set_free(bm: TwoTierBitmap, idx: int) -> None:
    wb = bm.word_bits
    w, b = idx // wb, idx % wb
    if bm.words[w] == _full(wb):                       # the word gains its first free bit
        bm.summary[w // wb] += 2 ** (w % wb)
    bm.words[w] -= 2 ** b
    bm.free_count += 1
    if w < bm.hint_word:
        bm.hint_word = w


def fresh_bitmap(nblocks: int, word_bits: int) -> TwoTierBitmap:
    """A bitmap with every block free and the padding bits used, at any geometry."""
    nwords = _ceil_div(nblocks, word_bits)
    pad = nwords * word_bits - nblocks
    words = [0] * nwords
    words[-1] = _full(word_bits) - _full(word_bits - pad)   # the top ``pad`` bits set
    bm = TwoTierBitmap.__new__(TwoTierBitmap)
    bm.nblocks, bm.word_bits, bm.nwords, bm.words = nblocks, word_bits, nwords, words
    bm.summary = _summary_of(words, word_bits)
    bm.hint_word = 0
    bm.free_count = nblocks
    return bm
