"""Contracts of the tiny pool's pure cores, checkable by CrossHair.

The seed design's data plane is a handful of small state machines: the
two-tier bitmap (``find_free`` / ``set_used`` / ``set_free`` with summary
words and a hint word), the page mini-magazine (an intrusive LIFO whose
``next`` pointers live in the free blocks), batch refill (bitmap ->
mini-magazine) and spill (mini-magazine -> bitmap), the size-class mapping,
and the batched statistics counters.  Each is written here once more as
plain Python with PEP 316 docstring contracts: the class invariants
(``inv:``) are the state invariants of the catalogue (IDs as in
``specs/invariants.py``), and each operation states what it returns and how
it changes the state (``pre:`` / ``post:``).  ``crosshair check
specs/contracts.py`` searches the paths of every operation, from every
state the invariants allow, for a counterexample; the command, its budget
and its results are in ``specs/CONTRACTS.md``.

CrossHair reasons about integers, not bit-vectors: ``|``, ``^`` and
``x & -x`` make it pick concrete values.  So the bit logic is arithmetic
(bit ``b`` of ``word`` is ``word // 2**b % 2``, setting it is
``word + 2**b``, clearing it ``word - 2**b``) and the word width is a
parameter: the constructors' preconditions bound the geometry CrossHair
explores (``CHECK_GEOMETRIES``) while the same functions run at 64-bit
words in the differential test against ``hakmem_fast.bitmap``.

Every constructor maps *any* raw input onto a valid state (and is the
identity on valid input): summary and free_count are derived from the
words, padding bits and the words below the hint are forced used, list
lengths are cut to the capacity.  CrossHair builds every ``self`` through a
constructor, so it spends no path on a state the invariants reject, and
each operation is checked from every valid state of the bounded geometry,
not only from the states a short operation sequence reaches.  Conditions are
written as sums and single comparisons, never as a branch per bit, so a
path forks only where the operation itself does.

Nothing here imports ``hakmem_ref`` or ``hakmem_fast``.
"""
from __future__ import annotations

NULL = 0  # end of an intrusive list; no block lives at address 0

# ---- the seed's size classes: 8, 16, ..., 1024 bytes (class 0..7) ---------
MIN_CLASS_SIZE = 8
NUM_CLASSES = 8
CLASS_SIZES = tuple(MIN_CLASS_SIZE * 2 ** k for k in range(NUM_CLASSES))

# ---- the state space CrossHair explores (the model runs at 64-bit words) ----
CHECK_GEOMETRIES = {2: 3}  # bitmap word bits -> most words (2 x 3: two summary words)
CHECK_SLAB_GEOMETRIES = {2: 2}   # the same for a Slab (bitmap + mini-magazine together)
CHECK_MAX_CAPACITY = 3           # largest mini-magazine capacity
CHECK_SLAB_CLASSES = (0, 1)      # size classes a checked Slab may have
CHECK_MAX_THREADS = 3            # most threads with a pending stat batch


# ============================================================================
# Bit arithmetic (no bitwise operators: CrossHair keeps these symbolic)
# ============================================================================


def _bit(word: int, b: int) -> int:
    """Bit ``b`` of a non-negative ``word`` (1 = used)."""
    return word // 2 ** b % 2


def _full(word_bits: int) -> int:
    """The word with every bit used."""
    return 2 ** word_bits - 1


def _has_free(word: int, word_bits: int) -> int:
    """1 if ``0 <= word <= full`` has a free (0) bit, else 0, without a branch."""
    return 1 - word // _full(word_bits)


def _free_bits(word: int, word_bits: int, below: int = -1) -> int:
    """Number of free (0) bits of ``word`` (only bits ``< below`` if given)."""
    n = word_bits if below < 0 else below
    return n - sum(_bit(word, b) for b in range(n))


def _summary_of(words: list, word_bits: int) -> list:
    """The summary words ``words`` call for: bit w set iff word w has a free bit."""
    nsum = -(-len(words) // word_bits)
    return [sum(2 ** j * _has_free(words[k * word_bits + j], word_bits)
                for j in range(min(word_bits, len(words) - k * word_bits)))
            for k in range(nsum)]


def _free_below(bm: "TwoTierBitmap", idx: int) -> int:
    """Number of free blocks with an index below ``idx``."""
    wb = bm.word_bits
    w = idx // wb
    return (sum(_free_bits(bm.words[v], wb) for v in range(w))
            + (_free_bits(bm.words[w], wb, idx % wb) if w < bm.nwords else 0))


def _bm_is_free(bm: "TwoTierBitmap", idx: int) -> bool:
    return _bit(bm.words[idx // bm.word_bits], idx % bm.word_bits) == 0


def _only_word_changed(new: list, old: list, w: int) -> bool:
    """Every word but ``w`` is the same in ``new`` and ``old``."""
    return len(new) == len(old) and all(new[v] == old[v] for v in range(len(old)) if v != w)


# ============================================================================
# Two-tier bitmap
# ============================================================================


class TwoTierBitmap:
    """Bitmap words, summary words and hint word of one slab (bit = 1: used).

    Block ``i`` is bit ``i % word_bits`` of ``words[i // word_bits]``; the
    bits past ``nblocks`` in the last word are padding and stay used.

        nwords == ceil(nblocks / word_bits) == len(words), 0 <= word <= full  [SLAB-01]
        padding bits (index >= nblocks) == 1                                 [SLAB-02]
        free_count == number of 0 bits in words                              [SLAB-03]
        summary bit w == 1  <=>  words[w] has a 0 bit                        [SUM-01]
        0 <= hint_word < nwords; every word below hint_word is full          [SUM-02]

    inv: self.nwords == len(self.words) >= 1 and (self.nwords - 1) * self.word_bits < self.nblocks <= self.nwords * self.word_bits and all(0 <= x <= _full(self.word_bits) for x in self.words)  # SLAB-01
    inv: sum(_bit(self.words[-1], b) for b in range(self.nblocks - (self.nwords - 1) * self.word_bits, self.word_bits)) == self.nwords * self.word_bits - self.nblocks  # SLAB-02
    inv: self.free_count == sum(_free_bits(x, self.word_bits) for x in self.words)  # SLAB-03
    inv: self.summary == _summary_of(self.words, self.word_bits)  # SUM-01
    inv: 0 <= self.hint_word < self.nwords and sum(_has_free(self.words[w], self.word_bits) for w in range(self.hint_word)) == 0  # SUM-02
    """

    def __init__(self, nblocks: int, word_bits: int, words: list[int], hint_word: int = 0):
        """A valid bitmap made of raw input (the identity on a valid state).

        ``nblocks`` is brought into the last word, each word into range,
        the padding bits and the words below ``hint_word`` are set used;
        summary and free_count are derived.  The preconditions bound the
        geometry CrossHair explores; :func:`fresh_bitmap` builds bitmaps of
        any geometry (the model's 64-bit words included).

        pre: word_bits in CHECK_GEOMETRIES
        pre: len(words) == CHECK_GEOMETRIES[word_bits]
        """
        nwords = len(words)
        full = _full(word_bits)
        pad = (nwords * word_bits - nblocks) % word_bits      # padding bits, < word_bits
        hint_word %= nwords
        # a word below the hint is full: x + (full - x) * [w < hint], without a branch
        words = [words[w] % (full + 1) for w in range(nwords)]
        words = [x + (full - x) * ((hint_word - w + nwords - 1) // nwords)
                 for w, x in enumerate(words)]
        low = 2 ** (word_bits - pad)                          # the last word's real blocks
        words[-1] = words[-1] % low + (full + 1 - low)        # padding bits: used
        _load(self, nwords * word_bits - pad, word_bits, words, hint_word)

    def __repr__(self):
        return (f"TwoTierBitmap(nblocks={self.nblocks}, word_bits={self.word_bits}, "
                f"words={self.words!r}, hint_word={self.hint_word})")

    # ---- queries ------------------------------------------------------------
    def is_free(self, idx: int) -> bool:
        """Whether block ``idx`` is bitmap-free. O(1).

        pre: 0 <= idx < self.nblocks
        post: __return__ == (_bit(self.words[idx // self.word_bits], idx % self.word_bits) == 0)
        """
        return _bm_is_free(self, idx)

    def find_free(self) -> int:
        """Index of the lowest free block at or after the hint word, or -1.

        Moves ``hint_word`` to the word found and changes nothing else.
        Cost: O(nwords) summary bits and one word.

        post: self.words == __old__.self.words and self.summary == __old__.self.summary and self.free_count == __old__.self.free_count
        post: (__return__ == -1) == (self.free_count == 0)
        post: __return__ == -1 or (0 <= __return__ < self.nblocks and _bm_is_free(self, __return__) and _free_below(self, __return__) == 0)
        post: self.hint_word == (__old__.self.hint_word if __return__ == -1 else __return__ // self.word_bits)
        """
        return _find_free(self)

    # ---- updates (owner only) ----------------------------------------------
    def set_used(self, idx: int) -> None:
        """Mark free block ``idx`` used; clear its summary bit if its word fills. O(1).

        pre: 0 <= idx < self.nblocks and _bm_is_free(self, idx)
        post: not _bm_is_free(self, idx) and _only_word_changed(self.words, __old__.self.words, idx // self.word_bits)
        post: self.words[idx // self.word_bits] == __old__.self.words[idx // self.word_bits] + 2 ** (idx % self.word_bits)
        post: self.free_count == __old__.self.free_count - 1 and self.hint_word == __old__.self.hint_word
        """
        _set_used(self, idx)

    def set_free(self, idx: int) -> None:
        """Mark used block ``idx`` free; set its summary bit; lower the hint to its word. O(1).

        pre: 0 <= idx < self.nblocks and not _bm_is_free(self, idx)
        post: _bm_is_free(self, idx) and _only_word_changed(self.words, __old__.self.words, idx // self.word_bits)
        post: self.words[idx // self.word_bits] == __old__.self.words[idx // self.word_bits] - 2 ** (idx % self.word_bits)
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
