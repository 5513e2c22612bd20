"""No drift: the bitmap CrossHair checks is the bitmap the model runs.

``hakmem_verify.contracts`` restates the two-tier bitmap in CrossHair-friendly
arithmetic; a proof about a restatement is only worth something while it
behaves exactly like the real thing.  So the same random operation sequences
go to ``hakmem_verify.contracts.TwoTierBitmap`` and to the model's
``hakmem_verify.models.fast.bitmap.TwoTierBitmap`` at several word widths (64 included)
and block counts (padding included), and after every step the two must agree
on the words, the summary, the hint, the free count and every result, and
the contract (the very ``pre:`` / ``post:`` / ``inv:`` lines CrossHair
checks, ``conditions.call``) must hold at that width.  (The size classes'
contract is on the model's own function: ``test_model_meets_contracts.py``.)
"""
from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hakmem_verify.models.fast.bitmap import TwoTierBitmap as ModelBitmap
from hakmem_verify import contracts
from hakmem_verify.contracts import TwoTierBitmap

from . import conditions

WORD_BITS = (1, 2, 3, 4, 8, 64)

# (word_bits, nblocks): up to five words, so the last word is often padded and,
# at small widths, the summary has several words
geometries = st.sampled_from(WORD_BITS).flatmap(
    lambda wb: st.tuples(st.just(wb), st.integers(1, 5 * wb)))

# an op and a selector: "used" marks the k-th free block used, "free" frees the
# k-th used block, "find" is find_free, "take" is find_free then set_used (a refill step)
op = st.tuples(st.sampled_from(["find", "take", "used", "free"]), st.integers(0, 10 ** 6))
ops = st.integers(0, 60).flatmap(lambda n: st.lists(op, min_size=n, max_size=n))


def _state(bm) -> tuple:
    return list(bm.words), list(bm.summary), bm.hint_word, bm.free_count


def _plain(fn, *args):
    return fn(*args)


def _replay(nblocks: int, word_bits: int, script, check_every: int = 1) -> None:
    """Apply ``script`` to both bitmaps; compare after every step, and evaluate the
    contract every ``check_every`` steps (its invariants also at the end)."""
    model = ModelBitmap(nblocks, word_bits)
    spec = contracts.fresh_bitmap(nblocks, word_bits)
    conditions.check(spec)
    assert _state(spec) == _state(model), f"fresh bitmap {nblocks} x {word_bits} bits"
    for step, (op, k) in enumerate(script):
        where = f"step {step} {op}({k}) on {nblocks} blocks of {word_bits}-bit words"
        call = conditions.call if step % check_every == 0 else _plain
        if op in ("find", "take"):
            got, want = call(TwoTierBitmap.find_free, spec), model.find_free()
            assert got == want, f"find_free: contracts {got}, model {want} at {where}"
            if op == "take" and got >= 0:
                call(TwoTierBitmap.set_used, spec, got)
                model.set_used(got)
        else:
            wanted_free = op == "used"
            pool = [i for i in range(nblocks) if model.is_free(i) == wanted_free]
            if not pool:
                continue
            idx = pool[k % len(pool)]
            if op == "used":
                call(TwoTierBitmap.set_used, spec, idx)
                model.set_used(idx)
            else:
                call(TwoTierBitmap.set_free, spec, idx)
                model.set_free(idx)
        assert _state(spec) == _state(model), (
            f"(words, summary, hint, free_count): contracts {_state(spec)}, model "
            f"{_state(model)} at {where}")
        if step % check_every == 0:
            assert [contracts.is_free(spec, i) for i in range(nblocks)] == \
                [model.is_free(i) for i in range(nblocks)], where
            conditions.check(spec)
    conditions.check(spec)


@given(geometries, ops)
# word 0 fills (its summary bit clears), find moves the hint to word 1, freeing block 0
# lowers it back, and find returns block 0 again
@example((2, 5), [("take", 0), ("take", 0), ("find", 0), ("free", 0), ("find", 0)])
def test_bitmap_core_agrees_with_model_on_random_op_sequences(geometry, script):
    word_bits, nblocks = geometry
    _replay(nblocks, word_bits, script)


@pytest.mark.parametrize("nblocks", [8192, 4160, 64, 65])
@settings(max_examples=10)
@given(ops)
def test_bitmap_core_agrees_with_model_at_seed_geometries(nblocks, script):
    """64-bit words: 8192 blocks (class 0, two summary words), 4160 (65 words), 64 (one
    full word, class 7) and 65 (a padded second word)."""
    _replay(nblocks, 64, script)


def test_bitmap_core_agrees_with_model_when_every_block_is_taken_and_returned():
    for word_bits, nblocks in [(1, 3), (2, 5), (4, 9), (64, 130), (64, 8192)]:
        script = [("take", 0)] * (nblocks + 1) + [("free", 7 * i) for i in range(min(nblocks, 200))]
        script += [("take", 0)] * 3
        _replay(nblocks, word_bits, script, check_every=max(1, nblocks // 8))
