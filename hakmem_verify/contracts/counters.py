"""Contracts on the model's own code: the size-class mapping (``hakmem_verify.contract.api.size_to_class``)
and the batched statistics counters (``hakmem_verify.models.fast.core.stats_*``, STAT-01, STAT-02)."""
from __future__ import annotations

from hakmem_verify.models.fast import core as model_ops
from hakmem_verify.contract import api

from .common import CHECK_MAX_SIZE, CHECK_MAX_THREADS, CLASS_SIZES, NUM_CLASSES  # noqa: F401  (named by pre:/inv: lines)

# ============================================================================
# Size classes: the model's own function
# ============================================================================


def size_to_class(size: int) -> int:
    """The model's class of a request of ``size`` bytes (``hakmem_verify.contract.api.size_to_class``).

    The contract is on the model's code itself: this calls it, and turns its
    refusal of a size above the largest class (``SizeError``) into -1.  Size
    0 is class 0 (a minimum block).  Cost: O(classes).

    CrossHair explores sizes up to one past the largest class: the model
    formats the refused size into the SizeError message, which makes a
    symbolic size concrete, one path per size.  The tests run the same
    conditions on every size (``tests/contracts/test_model_meets_contracts.py``).

    pre: size >= 0
    pre: size <= CHECK_MAX_SIZE  # the sizes CrossHair explores
    post: (__return__ == -1) == (size > CLASS_SIZES[-1])
    post: __return__ == -1 or (0 <= __return__ < NUM_CLASSES and size <= CLASS_SIZES[__return__])
    post: __return__ <= 0 or CLASS_SIZES[__return__ - 1] < size
    """
    try:
        return api.size_to_class(size)
    except api.SizeError:
        return -1


# ============================================================================
# Statistics: the model's own functions on per-thread batches and global counters
# ============================================================================


def _replaced(values: list, i: int, value: int) -> list:
    """A copy of ``values`` with ``values[i]`` replaced by ``value``."""
    return [value if j == i else x for j, x in enumerate(values)]


def _replaced_at(rows: list, t: int, c: int, value: int) -> list:
    """A copy of the table ``rows`` with ``rows[t][c]`` replaced by ``value``."""
    return [_replaced(row, c, value) if u == t else row for u, row in enumerate(rows)]


class StatCounters:
    """The batched counters of one event kind (allocs or frees), run by the model.

    ``batches[t][c]`` is thread ``t``'s pending count of class ``c`` (the
    seed's ``t_alloc_batch``), ``flushed[c]`` the global counter
    (``g_alloc_count``); ``exact[c]`` is the true count, kept by the harness.
    Every method calls the model's function (``hakmem_verify.models.fast.core.stats_*``) on
    this state, so the contract is checked on the model's code itself.

        flushed[c] + sum over threads t of batches[t][c] == exact[c]    [STAT-01]
        batches[t][c] >= 0
        after flush_if_needed(t, c): batches[t][c] < interval            [STAT-02]

    STAT-02 is a promise of ``flush_if_needed``, not a class invariant: the
    model's ``stats_record_*`` only counts, and the allocator keeps the bound
    by checking after every record.

    inv: self.interval >= 1 and all(len(row) == len(self.flushed) == len(self.exact) for row in self.batches) and all(p >= 0 for row in self.batches for p in row)
    inv: all(self.flushed[c] + sum(row[c] for row in self.batches) == self.exact[c] for c in range(len(self.exact)))  # STAT-01
    """

    def __init__(self, interval: int, batches: list[tuple[int, int]], flushed: tuple[int, int]):
        """Counters with ``batches[t][c]`` pending and ``flushed[c]`` flushed events.

        CrossHair builds two classes (the annotation; a length would be one
        more branch per row); the tests build the seed's eight.

        pre: interval >= 1 and 1 <= len(batches) <= CHECK_MAX_THREADS
        pre: all(p >= 0 for row in batches for p in row) and all(f >= 0 for f in flushed)
        """
        # a state generator: CrossHair checks the methods from the states it builds
        # crosshair: off
        self.interval = interval                        # events per batch (seed: 256)
        self.batches = [list(row) for row in batches]   # per thread and class: pending
        self.flushed = list(flushed)                    # global counters, per class
        self.exact = [f + sum(row[c] for row in self.batches)
                      for c, f in enumerate(self.flushed)]   # true counts (the harness's)

    def __repr__(self):
        return (f"StatCounters(interval={self.interval}, batches={self.batches!r}, "
                f"flushed={self.flushed!r})")

    def record_alloc(self, tid: int, c: int) -> None:
        """Fast path: count one alloc of class ``c`` in ``tid``'s batch; nothing is flushed. O(1).

        pre: 0 <= tid < len(self.batches) and 0 <= c < len(self.flushed)
        post: self.batches == _replaced_at(__old__.self.batches, tid, c, __old__.self.batches[tid][c] + 1) and self.flushed == __old__.self.flushed
        """
        self.exact[c] += 1
        model_ops.stats_record_alloc(self.batches[tid], c)

    def record_free(self, tid: int, c: int) -> None:
        """Fast path: count one free of class ``c`` in ``tid``'s batch; nothing is flushed. O(1).

        pre: 0 <= tid < len(self.batches) and 0 <= c < len(self.flushed)
        post: self.batches == _replaced_at(__old__.self.batches, tid, c, __old__.self.batches[tid][c] + 1) and self.flushed == __old__.self.flushed
        """
        self.exact[c] += 1
        model_ops.stats_record_free(self.batches[tid], c)

    def flush_if_needed(self, tid: int, c: int) -> bool:
        """Flush ``tid``'s whole batch of class ``c`` when it holds ``interval`` events
        or more; True if it flushed. O(1).

        pre: 0 <= tid < len(self.batches) and 0 <= c < len(self.flushed)
        post: __return__ == (__old__.self.batches[tid][c] >= self.interval)
        post: self.flushed == _replaced(__old__.self.flushed, c, __old__.self.flushed[c] + (__old__.self.batches[tid][c] if __return__ else 0)) and self.batches == _replaced_at(__old__.self.batches, tid, c, 0 if __return__ else __old__.self.batches[tid][c])
        post: self.batches[tid][c] < self.interval  # STAT-02
        """
        return model_ops.stats_flush_if_needed(self.batches[tid], self.flushed, c, self.interval)

    def flush_all(self, tid: int) -> None:
        """Slow path (thread exit, flush_stats): add every class of ``tid``'s batch to
        the global counters and empty the batch. O(classes).

        pre: 0 <= tid < len(self.batches)
        post: self.flushed == [f + p for f, p in zip(__old__.self.flushed, __old__.self.batches[tid])]
        post: self.batches == [[0] * len(row) if t == tid else row for t, row in enumerate(__old__.self.batches)]
        """
        model_ops.stats_flush_all(self.batches[tid], self.flushed)
