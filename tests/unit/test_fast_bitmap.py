"""Unit tests of hakmem_verify.models.fast's two-tier bitmap (bitmap words + summary words + hint word).

Every test checks the bitmap against a plain set of free indices: after each
update the words, the summary, the padding bits, free_count and the hint must
all agree with that set (``assert_matches``).  Geometries are chosen to put
blocks on word and summary-word boundaries and at the padding edge.
"""
from __future__ import annotations

import random

import pytest

from hakmem_verify.models.fast.bitmap import TwoTierBitmap

# (nblocks, word_bits): padding in the last word, several summary words, exact fits
GEOMETRIES = [
    (1, 2), (3, 2), (5, 2), (8, 2),      # word_bits 2: 2 or 3 words, 1 or 2 summary words
    (70, 4),                             # 18 words, 5 summary words, 2 padding bits
    (16, 4), (17, 4),                    # exact fit; one real bit in the last word
    (9, 8), (100, 8), (64, 8), (65, 8),  # 64 blocks = 8 words = exactly one summary word
    (64, 64), (130, 64),                 # one word; 3 words with 62 padding bits
    (8192, 64),                          # the seed's class 0: 128 words = 2 summary words
]


def free_set_of(bm: TwoTierBitmap) -> set:
    return {i for i in range(bm.nblocks) if bm.is_free(i)}


def assert_matches(bm: TwoTierBitmap, free: set) -> None:
    """The bitmap holds exactly ``free`` and every two-tier invariant holds."""
    wb = bm.word_bits
    assert bm.nwords == -(-bm.nblocks // wb)
    assert len(bm.summary) == -(-bm.nwords // wb)
    for w, word in enumerate(bm.words):
        lo = w * wb
        want = 0
        for b in range(wb):
            i = lo + b
            if i >= bm.nblocks or i not in free:   # used, or padding
                want |= 1 << b
        assert word == want, f"word {w}: {word:#x} != {want:#x}"
        has_free = word != bm.full
        assert bool(bm.summary[w // wb] >> (w % wb) & 1) == has_free, f"summary bit of word {w}"
    for s, sword in enumerate(bm.summary):   # no summary bit for a word that does not exist
        assert sword >> max(0, bm.nwords - s * wb) == 0
    assert bm.free_count == len(free)
    assert 0 <= bm.hint_word < bm.nwords
    assert all(bm.words[w] == bm.full for w in range(bm.hint_word)), "a free bit below the hint"


def fill(bm: TwoTierBitmap) -> None:
    for i in range(bm.nblocks):
        bm.set_used(i)


# ---- a new bitmap ----------------------------------------------------------------

@pytest.mark.parametrize("nblocks,word_bits", GEOMETRIES)
def test_a_new_bitmap_has_every_block_free_and_every_padding_bit_used(nblocks, word_bits):
    bm = TwoTierBitmap(nblocks, word_bits)
    assert_matches(bm, set(range(nblocks)))
    assert bm.hint_word == 0


def test_word_bits_4_with_70_blocks_has_18_words_5_summary_words_and_2_padding_bits():
    bm = TwoTierBitmap(70, 4)
    assert (bm.nwords, len(bm.summary)) == (18, 5)
    assert bm.words[-1] == 0b1100            # bits 2 and 3 of word 17 are blocks 70 and 71
    assert bm.summary[4] == 0b11              # words 16 and 17 exist and have free bits


def test_8192_blocks_of_64_bit_words_have_128_words_and_2_full_summary_words():
    bm = TwoTierBitmap(8192, 64)
    assert (bm.nwords, len(bm.summary)) == (128, 2)
    assert bm.summary == [bm.full, bm.full]
    assert all(w == 0 for w in bm.words)


# ---- find / set_used: exhaustion ----------------------------------------------------

@pytest.mark.parametrize("nblocks,word_bits", GEOMETRIES)
def test_find_then_set_used_hands_out_every_block_once_in_order_then_returns_minus_one(
        nblocks, word_bits):
    bm = TwoTierBitmap(nblocks, word_bits)
    got = []
    while True:
        i = bm.find_free()
        if i < 0:
            break
        assert i not in got
        bm.set_used(i)
        got.append(i)
    assert got == list(range(nblocks))        # never a padding index
    assert i == -1 and bm.find_free() == -1
    assert bm.summary == [0] * len(bm.summary)
    assert_matches(bm, set())


@pytest.mark.parametrize("nblocks,word_bits", GEOMETRIES)
def test_find_on_a_full_bitmap_returns_minus_one_and_changes_nothing(nblocks, word_bits):
    bm = TwoTierBitmap(nblocks, word_bits)
    fill(bm)
    hint = bm.hint_word
    words, summary = list(bm.words), list(bm.summary)
    assert bm.find_free() == -1
    assert (bm.words, bm.summary, bm.hint_word, bm.free_count) == (words, summary, hint, 0)


def test_find_does_not_mark_the_block_used():
    bm = TwoTierBitmap(70, 4)
    assert bm.find_free() == bm.find_free() == 0
    assert bm.free_count == 70
    assert_matches(bm, set(range(70)))


# ---- word and summary boundaries ---------------------------------------------------

@pytest.mark.parametrize("nblocks,word_bits", [(70, 4), (100, 8), (130, 64), (8192, 64), (8, 2)])
def test_freeing_the_last_bit_of_a_word_and_the_first_of_the_next_sets_both_summary_bits(
        nblocks, word_bits):
    bm = TwoTierBitmap(nblocks, word_bits)
    fill(bm)
    last_of_w0, first_of_w1 = word_bits - 1, word_bits
    bm.set_free(first_of_w1)
    assert bm.summary[0] == 0b10
    assert bm.find_free() == first_of_w1
    bm.set_free(last_of_w0)
    assert bm.summary[0] == 0b11
    assert bm.find_free() == last_of_w0
    assert_matches(bm, {last_of_w0, first_of_w1})
    bm.set_used(last_of_w0)                    # word 0 full again: its summary bit clears
    assert bm.summary[0] == 0b10
    assert bm.find_free() == first_of_w1


def test_a_block_in_the_second_summary_word_is_found_and_its_summary_bit_is_in_word_1():
    bm = TwoTierBitmap(8192, 64)               # 128 words: summary word 1 covers words 64..127
    fill(bm)
    bm.set_free(64 * 64)                       # first block of word 64
    assert bm.summary == [0, 1]
    assert bm.find_free() == 4096
    assert bm.hint_word == 64
    bm.set_free(64 * 64 - 1)                   # last block of word 63 (summary word 0, bit 63)
    assert bm.summary == [1 << 63, 1]
    assert bm.hint_word == 63                  # set_free below the hint lowers it
    assert bm.find_free() == 4095
    bm.set_used(4095)
    assert bm.find_free() == 4096              # scan crosses from summary word 0 into 1
    bm.set_used(4096)
    assert bm.find_free() == -1
    assert_matches(bm, set())


def test_word_bits_4_with_70_blocks_crosses_four_summary_words_to_the_last_real_block():
    bm = TwoTierBitmap(70, 4)
    fill(bm)
    bm.set_free(69)                            # last real block: word 17, summary word 4
    assert bm.summary == [0, 0, 0, 0, 0b10]
    assert bm.words[17] == 0b1101              # block 68 used, 69 free, 70 and 71 padding
    assert bm.find_free() == 69
    assert_matches(bm, {69})
    bm.set_used(69)
    assert bm.find_free() == -1
    assert bm.words[17] == bm.full


@pytest.mark.parametrize("nblocks,word_bits", [(3, 2), (5, 2), (70, 4), (17, 4), (9, 8),
                                               (100, 8), (130, 64)])
def test_the_last_real_block_before_the_padding_can_be_used_and_freed(nblocks, word_bits):
    bm = TwoTierBitmap(nblocks, word_bits)
    last = nblocks - 1
    fill(bm)
    bm.set_free(last)
    assert bm.find_free() == last
    bm.set_used(bm.find_free())
    assert bm.find_free() == -1
    assert_matches(bm, set())


# ---- the hint word ----------------------------------------------------------------

def test_find_moves_the_hint_up_to_the_word_it_found():
    bm = TwoTierBitmap(70, 4)
    for i in range(9):                         # words 0 and 1 full, block 8 in word 2
        bm.set_used(i)
    assert bm.hint_word == 0                   # set_used never moves the hint
    assert bm.find_free() == 9
    assert bm.hint_word == 2
    assert_matches(bm, set(range(9, 70)))


def test_find_scans_from_the_hint_word_not_from_word_zero():
    bm = TwoTierBitmap(70, 4)
    bm.hint_word = 3                           # a hint above free words: the scan starts there
    assert bm.find_free() == 12
    assert bm.hint_word == 3


def test_set_free_below_the_hint_lowers_it_and_find_returns_that_block():
    bm = TwoTierBitmap(70, 4)
    for _ in range(30):
        bm.set_used(bm.find_free())
    assert bm.find_free() == 30 and bm.hint_word == 7
    bm.set_free(5)                             # word 1
    assert bm.hint_word == 1
    assert bm.find_free() == 5
    assert_matches(bm, {5} | set(range(30, 70)))


def test_set_free_at_or_above_the_hint_leaves_it_alone():
    bm = TwoTierBitmap(70, 4)
    for _ in range(30):
        bm.set_used(bm.find_free())
    bm.find_free()
    assert bm.hint_word == 7
    bm.set_free(29)                            # word 7: the hint word itself
    assert bm.hint_word == 7
    bm.set_used(29)
    bm.set_free(40)                            # word 10: above the hint
    assert bm.hint_word == 7
    assert bm.find_free() == 30


def test_set_used_of_the_found_block_never_moves_the_hint():
    bm = TwoTierBitmap(16, 4)
    for _ in range(16):
        i = bm.find_free()
        hint = bm.hint_word
        bm.set_used(i)
        assert bm.hint_word == hint == i // 4


# ---- random sequences against a set -----------------------------------------------

@pytest.mark.parametrize("nblocks,word_bits", GEOMETRIES)
def test_random_use_and_free_sequences_always_find_the_lowest_free_block(nblocks, word_bits):
    rng = random.Random(nblocks * 131 + word_bits)
    bm = TwoTierBitmap(nblocks, word_bits)
    free = set(range(nblocks))
    used = []
    steps = 300 if nblocks > 1000 else 4 * nblocks + 20
    for step in range(steps):
        if free and (not used or rng.random() < 0.6):
            i = bm.find_free()
            assert i == min(free)              # the hint is a lower bound: find is exact
            bm.set_used(i)
            free.discard(i)
            used.append(i)
        elif used:
            j = used.pop(rng.randrange(len(used)))
            bm.set_free(j)
            free.add(j)
        if nblocks <= 200 or step % 50 == 0:
            assert_matches(bm, free)
        assert bm.find_free() == (min(free) if free else -1)
    assert free_set_of(bm) == free
