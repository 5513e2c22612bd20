"""What every contract module shares: the seed's size classes, the bounds of the state
space CrossHair explores, and bit arithmetic without bitwise operators (CrossHair keeps
``//``, ``%`` and ``**`` symbolic; ``|``, ``^`` and ``x & -x`` make it pick concrete values)."""
from __future__ import annotations

from hakmem_verify.contract import api

NULL = 0  # end of an intrusive list; no block lives at address 0

# ---- the seed's size classes: 8, 16, ..., 1024 bytes (class 0..7) ---------
CLASS_SIZES = api.SEED_CLASS_SIZES
MIN_CLASS_SIZE = CLASS_SIZES[0]
NUM_CLASSES = len(CLASS_SIZES)

# ---- the state space CrossHair explores (the model runs at 64-bit words) ----
CHECK_WORD_BITS = 2        # bitmap word width when checked
CHECK_MAX_WORDS = 3        # at most 3 words of 2 bits: two summary words, the 2nd partial
CHECK_MAX_CAPACITY = 3     # largest mini-magazine capacity
CHECK_SLAB_WORDS = 2       # a Slab (bitmap + mini-magazine) has at most 2 words,
CHECK_SLAB_CAPACITY = 2    # ... a mini-magazine of capacity <= 2
CHECK_SLAB_CLASSES = (1,)  # ... and 16-byte blocks
CHECK_MAX_THREADS = 3      # most threads with a pending stat batch
CHECK_MAX_SIZE = CLASS_SIZES[-1] + 1  # sizes up to one past the largest class (see size_to_class)


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


def _free_bits(word: int, word_bits: int) -> int:
    """Number of free (0) bits of a word."""
    return word_bits - sum(_bit(word, b) for b in range(word_bits))


def _summary_of(words: list, word_bits: int) -> list:
    """The summary words ``words`` call for: bit w set iff word w has a free bit."""
    nsum = -(-len(words) // word_bits)
    return [sum(2 ** j * _has_free(words[k * word_bits + j], word_bits)
                for j in range(min(word_bits, len(words) - k * word_bits)))
            for k in range(nsum)]
