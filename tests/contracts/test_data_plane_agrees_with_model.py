"""No drift: the mini-magazine and refill/spill CrossHair checks are the model's.

``hakmem_verify.contracts`` restates the page mini-magazine over a dict memory and
batch refill/spill over its own bitmap, because the model keeps its ``next``
pointers as 8-byte words in a ``bytearray`` (which CrossHair cannot keep
symbolic).  So the same operation sequences go to the restatement and to the
model (``hakmem_verify.models.fast.core.mini_mag_pop`` / ``mini_mag_push`` /
``batch_refill_from_bitmap`` / ``batch_spill_to_bitmap`` on a
``hakmem_verify.models.fast.structs.TinySlab``), and after every step the two must agree
on every observable: each return value, the mini-magazine's count, head and
list (head first), the next word stored in every block of the slab, and the
bitmap's words, summary, hint and free count.  Every call on the
restatement also has its contract evaluated (``conditions.call``), at the
drawn geometry (64-bit words included).

The scripts reach refill with ``want`` above the room left, with the bitmap
empty and with the mini-magazine full, and spill of a full, a partial and an
empty mini-magazine; the ``@example`` lines pin those corner cases.
"""
from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from hakmem_verify.models.fast import core as ops
from hakmem_verify.models.fast.structs import TinySlab, load_word
from hakmem_verify import contracts
from hakmem_verify.contracts import CLASS_SIZES, MiniMag, Slab, TwoTierBitmap, mini_mag_blocks

from . import conditions

BASE = 0x10000          # a slab_size-aligned address (block 0)
MAG_BLOCKS = 8          # blocks of the 16-byte slab the mini-magazine tests use


def _model_blocks(slab: TinySlab, head: int, bound: int) -> list:
    """The model's list from ``head``, head first, at most ``bound`` + 1 blocks
    (one more than the capacity, so an overlong list shows)."""
    out, a = [], head
    while a != contracts.NULL and len(out) <= bound:
        out.append(a)
        a = load_word(slab, a)
    return out


def _mag_state(mag: MiniMag, addrs: list) -> tuple:
    return (mag.count, mag.head, mag.capacity, mini_mag_blocks(mag),
            [mag.mem.get(a, 0) for a in addrs])


def _model_mag_state(slab: TinySlab, addrs: list) -> tuple:
    mag = slab.mini_mag
    return (mag.count, mag.head, mag.capacity, _model_blocks(slab, mag.head, mag.capacity),
            [load_word(slab, a) for a in addrs])


def _bitmap_state(bm) -> tuple:
    return list(bm.words), list(bm.summary), bm.hint_word, bm.free_count


# ============================================================================
# Mini-magazine pop / push
# ============================================================================

mag_op = st.tuples(st.sampled_from(["push", "push", "pop"]), st.integers(0, 10 ** 6))
mag_scripts = st.lists(mag_op, max_size=40)


def replay_mini_mag(capacity: int, script) -> None:
    """``push k`` pushes the k-th block not in the list (the push's precondition);
    ``pop`` pops.  Both sides start empty over the same 16-byte blocks."""
    model = TinySlab(BASE, 1, 16, 16 * MAG_BLOCKS, 64, capacity)
    spec = MiniMag(capacity, [], {})
    addrs = [BASE + 16 * i for i in range(MAG_BLOCKS)]
    for step, (op, k) in enumerate(script):
        where = f"step {step} {op}({k}), capacity {capacity}, script {script[:step + 1]}"
        if op == "pop":
            got = conditions.call(MiniMag.pop, spec)
            want = ops.mini_mag_pop(model, model.mini_mag)
        else:
            outside = [a for a in addrs if a not in mini_mag_blocks(spec)]
            addr = outside[k % len(outside)]
            got = conditions.call(MiniMag.push, spec, addr)
            want = ops.mini_mag_push(model, model.mini_mag, addr)
        assert got == want, f"{op}: contracts {got!r}, model {want!r} at {where}"
        assert _mag_state(spec, addrs) == _model_mag_state(model, addrs), (
            f"(count, head, capacity, list, next words): contracts {_mag_state(spec, addrs)}, "
            f"model {_model_mag_state(model, addrs)} at {where}")


@given(st.integers(1, 6), mag_scripts)
@example(1, [("push", 0), ("push", 0), ("pop", 0), ("pop", 0)])       # full, then empty
@example(3, [("push", 5), ("push", 1), ("pop", 0), ("push", 2), ("push", 7), ("push", 3)])
def test_mini_magazine_agrees_with_model_on_random_op_sequences(capacity, script):
    replay_mini_mag(capacity, script)


# ============================================================================
# Batch refill and spill, with the allocator's other moves in between
# ============================================================================

# geometry: (word_bits, nblocks, class_idx, mini-magazine capacity)
slab_geometries = st.sampled_from([1, 2, 3, 4, 8, 64]).flatmap(
    lambda wb: st.tuples(st.just(wb), st.integers(1, 5 * wb), st.integers(0, 7),
                         st.integers(1, 6)))

# refill(want) with want from -2 to 9 (above any capacity); spill; and the moves that
# change the state in between: alloc (k-th bitmap-free block to the client), free (k-th
# live block back to the bitmap), pop (mini-magazine -> client), push (client -> mini-mag)
slab_op = st.one_of(st.tuples(st.just("refill"), st.integers(-2, 9)),
                    st.tuples(st.sampled_from(["spill", "alloc", "free", "pop", "push"]),
                              st.integers(0, 10 ** 6)))
slab_scripts = st.lists(slab_op, max_size=40)


def replay_slab(word_bits: int, nblocks: int, class_idx: int, capacity: int, script) -> None:
    bs = CLASS_SIZES[class_idx]
    model = TinySlab(BASE, class_idx, bs, nblocks * bs, word_bits, capacity)
    spec = Slab(contracts.fresh_bitmap(nblocks, word_bits), [], capacity, class_idx, BASE, {})
    addrs = [BASE + i * bs for i in range(nblocks)]
    live = []                                   # blocks the client holds
    conditions.check(spec)
    for step, (op, k) in enumerate(script):
        where = (f"step {step} {op}({k}) on {nblocks} blocks of {word_bits}-bit words, "
                 f"class {class_idx}, capacity {capacity}; script {script[:step + 1]}")
        got = want = None
        if op == "refill":
            got = conditions.call(Slab.batch_refill, spec, k)
            want = ops.batch_refill_from_bitmap(model, model.mini_mag, k)
        elif op == "spill":
            got = conditions.call(Slab.spill, spec)
            want = ops.batch_spill_to_bitmap(model, model.mini_mag)
        elif op == "alloc" and model.bitmap.free_count:
            idx = [i for i in range(nblocks) if model.bitmap.is_free(i)][k % model.bitmap.free_count]
            conditions.call(TwoTierBitmap.set_used, spec.bitmap, idx)
            model.bitmap.set_used(idx)
            live.append(addrs[idx])
        elif op == "free" and live:
            addr = live.pop(k % len(live))
            conditions.call(TwoTierBitmap.set_free, spec.bitmap, (addr - BASE) // bs)
            model.bitmap.set_free((addr - BASE) // bs)
        elif op == "pop":
            got = conditions.call(MiniMag.pop, spec.mini_mag)
            want = ops.mini_mag_pop(model, model.mini_mag)
            if want != contracts.NULL:
                live.append(want)
        elif op == "push" and live:
            addr = live[k % len(live)]
            got = conditions.call(MiniMag.push, spec.mini_mag, addr)
            want = ops.mini_mag_push(model, model.mini_mag, addr)
            if want:
                live.remove(addr)
        assert got == want, f"{op}: contracts {got!r}, model {want!r} at {where}"
        assert _bitmap_state(spec.bitmap) == _bitmap_state(model.bitmap), (
            f"bitmap (words, summary, hint, free_count): contracts "
            f"{_bitmap_state(spec.bitmap)}, model {_bitmap_state(model.bitmap)} at {where}")
        assert _mag_state(spec.mini_mag, addrs) == _model_mag_state(model, addrs), (
            f"mini-magazine (count, head, capacity, list, next words): contracts "
            f"{_mag_state(spec.mini_mag, addrs)}, model {_model_mag_state(model, addrs)} "
            f"at {where}")
        conditions.check(spec)


@given(slab_geometries, slab_scripts)
@example((4, 9, 1, 2), [("refill", 5), ("refill", 1), ("spill", 0)])       # want > room; full
@example((2, 3, 0, 4), [("refill", 4), ("refill", 2), ("pop", 0), ("spill", 0)])  # empty bitmap
@example((64, 70, 3, 3), [("alloc", 0)] * 68 + [("refill", 9), ("refill", 9), ("free", 5),
                                                 ("refill", 0), ("refill", -2), ("refill", 1)])
@example((1, 4, 7, 2), [("refill", 1), ("pop", 0), ("alloc", 1), ("push", 0), ("push", 1),
                        ("refill", 3), ("spill", 0), ("spill", 0)])    # full by pushes
def test_refill_and_spill_agree_with_model_on_random_op_sequences(geometry, script):
    word_bits, nblocks, class_idx, capacity = geometry
    replay_slab(word_bits, nblocks, class_idx, capacity, script)


def test_refill_and_spill_agree_with_model_at_a_seed_geometry():
    """Class 1 (16-byte blocks) in a 64 KiB slab: 4096 blocks, 64-bit words, capacity 16."""
    script = [("refill", 40), ("pop", 0), ("pop", 0), ("spill", 0), ("refill", 16),
              ("refill", 1), ("alloc", 3), ("push", 0), ("spill", 0)]
    replay_slab(64, 4096, 1, 16, script)
