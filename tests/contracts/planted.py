"""Planted bugs: one broken variant of each core in ``hakmem_verify.contracts``.

CrossHair must refute every one of them with a counterexample.  A variant
of a method subclasses the core's class and overrides that one method
without writing a contract: CrossHair merges the base method's ``pre:`` /
``post:`` and the class invariants into the override, so the variant is
held to exactly the contract of the correct core.  A variant of a function
repeats the function's contract lines, and
``test_crosshair.py::test_planted_functions_repeat_the_contract_verbatim``
keeps the copy from drifting.

Three variants are the seed design's own samples, transcribed literally:
its ``batch_refill_from_bitmap`` (marks a block used before the push that
fails when the mini-magazine fills, losing the block), its
``stats_flush_if_needed`` (``(batch & 0xFF) == 0xFF`` then ``+= 256``,
written arithmetically for any ``interval``) and its
``batch_spill_to_bitmap`` (whose ``slab->free_count++`` counts twice over a
``set_free`` that already counts, as the model's does).  Two are the drift
this module's statistics contract once had from the model (a batch flushed
inside ``record``, and only at exactly ``interval``): the contract is now on
the model's own functions, and CrossHair refutes both.

``PLANTED`` maps each variant's qualified name to the text of the
conditions that must be reported false, and what the bug is;
``python -m tests.contracts.planted`` runs CrossHair on exactly those
conditions (see ``main``).
"""
from __future__ import annotations

from hakmem_verify.contracts import (CHECK_MAX_SIZE, CLASS_SIZES, MIN_CLASS_SIZE,  # noqa: F401  (named by pre:/inv: lines)
                             NULL, NUM_CLASSES, MiniMag, Slab, StatCounters, TwoTierBitmap,
                             _find_free, _pop, _push, _set_free, _set_used)

# ============================================================================
# Two-tier bitmap
# ============================================================================


class StaleHintBitmap(TwoTierBitmap):
    def find_free(self) -> int:
        """Finds the right block but leaves ``hint_word`` where it was."""
        hint = self.hint_word
        idx = _find_free(self)
        self.hint_word = hint
        return idx


class SummaryNeverClearedBitmap(TwoTierBitmap):
    def set_used(self, idx: int) -> None:
        """Marks the block used but never clears the summary bit of a word that fills,
        so the summary sends the next scan to a full word."""
        wb = self.word_bits
        self.words[idx // wb] += 2 ** (idx % wb)
        self.free_count -= 1


class HintNotLoweredBitmap(TwoTierBitmap):
    def set_free(self, idx: int) -> None:
        """Frees the block but does not lower the hint: a block freed below the hint
        is invisible to every later scan."""
        hint = self.hint_word
        _set_free(self, idx)
        self.hint_word = hint


# ============================================================================
# Mini-magazine
# ============================================================================


class UncheckedPushMiniMag(MiniMag):
    def push(self, addr: int) -> bool:
        """Pushes without checking the capacity (the count overruns it)."""
        self.mem[addr] = self.head
        self.head = addr
        self.count += 1
        return True


class CountKeptOnPopMiniMag(MiniMag):
    def pop(self) -> int:
        """Unlinks the head but forgets ``count--``."""
        b = self.head
        if b == NULL:
            return NULL
        self.head = self.mem[b]
        return b


# ============================================================================
# Batch refill and spill
# ============================================================================


class SeedRefillSlab(Slab):
    def batch_refill(self, want: int) -> int:
        """The seed's ``batch_refill_from_bitmap``, literally.

        It marks each block used *before* pushing it and breaks out when the
        push fails, so whenever ``want`` exceeds the room left the last block
        is used in the bitmap and in no list: lost.  (The model's set_used
        keeps ``free_count`` itself, so the sample's separate
        ``slab->free_count--`` is that one decrement.)
        """
        bm, mag = self.bitmap, self.mini_mag
        if want <= 0 or mag.count >= mag.capacity:
            return 0
        got = 0
        while got < want and bm.free_count > 0:
            idx = _find_free(bm)                    # hak_tiny_find_free_block
            if idx < 0:
                break
            _set_used(bm, idx)                      # hak_tiny_set_used; free_count--
            if not _push(mag, self.base + idx * self.block_size):   # mini_mag_push
                break
            got += 1
        return got


class DoubleCountSpillSlab(Slab):
    def spill(self) -> int:
        """The seed's ``batch_spill_to_bitmap`` over a set_free that already counts
        the block (as the model's does): the sample's ``slab->free_count++``
        counts every spilled block twice."""
        bm, mag = self.bitmap, self.mini_mag
        n = 0
        for _ in range(mag.capacity):
            if mag.count == 0:
                break
            ptr = _pop(mag)
            _set_free(bm, (ptr - self.base) // self.block_size)
            bm.free_count += 1
            n += 1
        return n


# ============================================================================
# Size classes
# ============================================================================


def size_to_class_off_by_one(size: int) -> int:
    """Doubles while ``cap <= size``: an exact class size lands one class up.

    pre: size >= 0
    pre: size <= CHECK_MAX_SIZE  # the sizes CrossHair explores
    post: (__return__ == -1) == (size > CLASS_SIZES[-1])
    post: __return__ == -1 or (0 <= __return__ < NUM_CLASSES and size <= CLASS_SIZES[__return__])
    post: __return__ <= 0 or CLASS_SIZES[__return__ - 1] < size
    """
    if size > CLASS_SIZES[-1]:
        return -1
    cls, cap = 0, MIN_CLASS_SIZE
    while cap <= size:
        cls, cap = cls + 1, cap * 2
    return cls


# ============================================================================
# Statistics
# ============================================================================


class SeedFlushStats(StatCounters):
    def flush_if_needed(self, tid: int, c: int) -> bool:
        """The seed's ``stats_flush_if_needed``, literally.

        ``if ((t_alloc_batch & 0xFF) == 0xFF) { g += 256; t_alloc_batch = 0; }``
        with 0xFF + 1 = ``interval``: the batch is flushed when it holds
        interval - 1 events, and interval are added, one event too many.
        """
        if self.batches[tid][c] % self.interval == self.interval - 1:
            self.flushed[c] += self.interval
            self.batches[tid][c] = 0
            return True
        return False


class FlushAtEqualsStats(StatCounters):
    def flush_if_needed(self, tid: int, c: int) -> bool:
        """Flushes only a batch of exactly ``interval`` events (what this module's
        contract once said): a batch that passed the interval unchecked stays."""
        if self.batches[tid][c] == self.interval:
            self.flushed[c] += self.batches[tid][c]
            self.batches[tid][c] = 0
            return True
        return False


class FlushInRecordStats(StatCounters):
    def record_alloc(self, tid: int, c: int) -> None:
        """Flushes inside the record when the batch reaches ``interval`` (what this
        module's contract once said); the model's record only counts."""
        self.exact[c] += 1
        self.batches[tid][c] += 1
        if self.batches[tid][c] == self.interval:
            self.flushed[c] += self.interval
            self.batches[tid][c] = 0


class WholeBatchFlushStats(StatCounters):
    def flush_all(self, tid: int) -> None:
        """Flushes each partial batch (thread exit) as if it were full: adds ``interval``."""
        for c, n in enumerate(self.batches[tid]):
            if n:
                self.flushed[c] += self.interval
                self.batches[tid][c] = 0


# ============================================================================
# The catalogue: variant -> (conditions that must be refuted, the bug)
# ============================================================================

PLANTED = {
    "StaleHintBitmap.find_free": (
        ["self.hint_word == (__old__.self.hint_word if __return__ == -1"],
        "find_free does not move the hint to the word it found"),
    "SummaryNeverClearedBitmap.set_used": (
        ["# SUM-01"],
        "set_used leaves the summary bit of a full word set"),
    "HintNotLoweredBitmap.set_free": (
        ["self.hint_word == min(__old__.self.hint_word, idx // self.word_bits)", "# SUM-02"],
        "set_free does not lower the hint"),
    "UncheckedPushMiniMag.push": (
        ["__return__ == (__old__.self.count < self.capacity)", "# MM-01"],
        "push ignores the capacity"),
    "CountKeptOnPopMiniMag.pop": (
        ["# MM-01, MM-02"],
        "pop does not decrement count"),
    "SeedRefillSlab.batch_refill": (
        ["# REF-01", "self.bitmap.free_count == __old__.self.bitmap.free_count - __return__"],
        "the seed's refill loses a block when the mini-magazine fills"),
    "DoubleCountSpillSlab.spill": (
        ["self.bitmap.free_count == __old__.self.bitmap.free_count + __return__",
         "invariants_hold(self.bitmap)"],
        "spill counts every block twice"),
    "size_to_class_off_by_one": (
        ["CLASS_SIZES[__return__ - 1] < size"],
        "an exact class size maps one class up"),
    "SeedFlushStats.flush_if_needed": (
        ["# STAT-01", "__return__ == (__old__.self.batches[tid][c] >= self.interval)"],
        "the seed's flush adds 256 for 255 events"),
    "FlushAtEqualsStats.flush_if_needed": (
        ["__return__ == (__old__.self.batches[tid][c] >= self.interval)", "# STAT-02"],
        "a batch past the interval is never flushed"),
    "FlushInRecordStats.record_alloc": (
        ["self.flushed == __old__.self.flushed"],
        "record flushes, where the model's record only counts"),
    "WholeBatchFlushStats.flush_all": (
        ["self.flushed == [f + p for f, p in zip("],
        "a partial batch is flushed as a whole one"),
}


# ============================================================================
# Runner: python -m tests.contracts.planted [--timeout SECONDS] [NAME ...]
# ============================================================================


def _conditions_to_refute(name: str, options):
    """CrossHair's checkables of variant ``name`` whose condition is one of PLANTED[name]."""
    from crosshair.core_and_libs import analyze_function
    from crosshair.fnutil import FunctionInfo

    owner, _, attr = name.rpartition(".")
    ctxfn = (FunctionInfo.from_class(globals()[owner], attr) if owner
             else FunctionInfo.from_fn(globals()[attr]))
    fragments = PLANTED[name][0]
    return [c for c in analyze_function(ctxfn, options)
            if any(f in c.conditions.post[0].expr_source for f in fragments)]


def main(argv=None) -> int:
    """Run CrossHair on the conditions each variant must violate (only those: the
    conditions a variant keeps would each spend the whole budget).  Prints one
    tab-separated line per condition:

        REFUTED|NOT-REFUTED <variant> <seconds> <condition> <CrossHair's message>

    and ``NO-CONDITION <variant>`` when none of its listed conditions exists.
    Exit status 0 iff every variant has at least one condition refuted.
    """
    import argparse
    import time

    from crosshair.auditwall import engage_auditwall
    from crosshair.core_and_libs import MessageType
    from crosshair.options import AnalysisOptionSet

    parser = argparse.ArgumentParser(prog="python -m tests.contracts.planted")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="CPU seconds per condition (default 30; a refutation stops early)")
    parser.add_argument("names", nargs="*", default=sorted(PLANTED))
    args = parser.parse_args(argv)
    options = AnalysisOptionSet(per_condition_timeout=args.timeout, per_path_timeout=2.0,
                                max_uninteresting_iterations=10 ** 6)
    engage_auditwall([])
    ok = True
    for name in args.names:
        checkables = _conditions_to_refute(name, options)
        if not checkables:
            print(f"NO-CONDITION\t{name}", flush=True)
            ok = False
            continue
        refuted = False
        for checkable in checkables:
            start = time.process_time()
            messages = list(checkable.analyze())
            seconds = time.process_time() - start
            fails = [m for m in messages if m.state in (MessageType.POST_FAIL,
                                                         MessageType.POST_ERR,
                                                         MessageType.EXEC_ERR)]
            refuted = refuted or bool(fails)
            text = fails[0].message if fails else ", ".join(m.message for m in messages)
            print(f"{'REFUTED' if fails else 'NOT-REFUTED'}\t{name}\t{seconds:.1f}\t"
                  f"{checkable.conditions.post[0].expr_source}\t{text}", flush=True)
        ok = ok and refuted
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
