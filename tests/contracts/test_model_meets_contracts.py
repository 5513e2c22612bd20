"""The contracts on the model's own code hold at the model's own sizes.

``hakmem_verify.contracts.size_to_class`` calls ``hakmem_verify.contract.api.size_to_class`` and
every method of ``hakmem_verify.contracts.StatCounters`` calls the model's
``hakmem_verify.models.fast.core.stats_*`` function; CrossHair checks their conditions
within small bounds (at most 3 threads and 2 classes).  Here the same
``pre:`` / ``post:`` / ``inv:`` lines are evaluated on concrete calls
(``conditions.call``) at the seed's geometry: 8 classes, up to 8 threads and
the flush intervals 1, 2, 3, 5 and 256, over Hypothesis-drawn sequences of
the allocator's pattern (record, then check), records with no check after
them (so a batch passes the interval), checks and thread-exit flushes.

The quality tests show the tie both ways: a model drifted to the old
contract's flush-at-``== interval`` (or to an off-by-one size class) breaks
the contract; and the old contract's text (``record`` flushes at ``==
interval``; ``flush_if_needed`` at ``== interval``) is refuted by the model.
"""
from __future__ import annotations

import inspect

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hakmem_verify.models.fast import core as ops
from hakmem_verify.contract import api
from hakmem_verify import contracts
from hakmem_verify.contracts import CLASS_SIZES, NUM_CLASSES, StatCounters

from . import conditions

INTERVALS = (1, 2, 3, 5, 256)
MAX_THREADS = 8

# ============================================================================
# Size classes
# ============================================================================


def replay_sizes(sizes) -> None:
    for size in sizes:
        conditions.call(contracts.size_to_class, size)


def test_size_to_class_meets_its_contract_on_every_tiny_size_and_above():
    replay_sizes(list(range(CLASS_SIZES[-1] + 1)) + [CLASS_SIZES[-1] + 1, 4096, 2 ** 64])


@given(st.integers(0, 2 ** 70))
def test_size_to_class_meets_its_contract_on_any_size(size):
    replay_sizes([size])


def _off_by_one(size, class_sizes=api.SEED_CLASS_SIZES):
    """The model drifted: ``size < cs`` where it must be ``size <= cs``."""
    if size < 0 or size > class_sizes[-1]:
        raise api.SizeError(f"size {size} out of range")
    return next((i for i, cs in enumerate(class_sizes) if size < cs), len(class_sizes) - 1)


@pytest.mark.quality
def test_size_class_contract_refutes_a_model_drifted_off_by_one(monkeypatch):
    monkeypatch.setattr(api, "size_to_class", _off_by_one)
    with pytest.raises(conditions.ContractViolated, match="CLASS_SIZES"):
        test_size_to_class_meets_its_contract_on_every_tiny_size_and_above()


# ============================================================================
# Statistics
# ============================================================================

tids = st.integers(0, MAX_THREADS - 1)
classes = st.integers(0, NUM_CLASSES - 1)
# a burst of k * interval + d records (d in -1..1: one short of, at, one past a flush point)
bursts = st.tuples(st.integers(0, 2), st.integers(-1, 1))
stat_op = st.one_of(
    st.tuples(st.sampled_from(["record_alloc", "record_free", "flush_if_needed"]), tids, classes),
    st.tuples(st.sampled_from(["alloc_path", "free_path"]), tids, classes, bursts),  # n x (record, check)
    st.tuples(st.just("records"), tids, classes, bursts),      # n records, then one check
    st.tuples(st.just("flush_all"), tids),
)
stat_script = st.lists(stat_op, max_size=30)


def _call(stats, method: str, *args, docs: dict = None):
    fn = getattr(StatCounters, method)
    return conditions.call(fn, stats, *args, doc=(docs or {}).get(method))


def _run(stats, method: str, *args, docs: dict = None):
    """The call alone, its contract not evaluated."""
    return getattr(stats, method)(*args)


def replay_stats(interval: int, nthreads: int, script, docs: dict = None) -> None:
    """Run ``script`` on counters of ``nthreads`` threads x 8 classes with every
    condition evaluated (``docs`` replaces a method's contract text)."""
    stats = StatCounters(interval, [[0] * NUM_CLASSES for _ in range(nthreads)],
                         [0] * NUM_CLASSES)
    events = [0] * NUM_CLASSES                     # counted here, independently of the contract
    for op, tid, *rest in script:
        tid %= nthreads
        if op in ("record_alloc", "record_free"):
            _call(stats, op, tid, rest[0], docs=docs)
            events[rest[0]] += 1
        elif op == "flush_if_needed":
            _call(stats, op, tid, rest[0], docs=docs)
        elif op == "flush_all":
            _call(stats, op, tid, docs=docs)
        else:
            c, (k, d) = rest
            n = max(0, k * interval + d)
            record = "record_free" if op == "free_path" else "record_alloc"
            for i in range(n):
                # at a long interval, the contract is evaluated around each flush point
                # (two events either side of a multiple of the interval) and at the end
                checked = interval < 8 or (i + 2) % interval < 4 or i == n - 1
                run = _call if checked else _run
                run(stats, record, tid, c, docs=docs)
                if op != "records":
                    run(stats, "flush_if_needed", tid, c, docs=docs)
            if op == "records":
                _call(stats, "flush_if_needed", tid, c, docs=docs)
            events[c] += n
        assert stats.exact == events, f"exact {stats.exact} != events counted {events}"
    for tid in range(nthreads):
        _call(stats, "flush_all", tid, docs=docs)
    assert stats.flushed == events, (
        f"after every thread's flush_all the global counters are {stats.flushed}, "
        f"the events {events} (interval {interval})")


# the two states where the old contract and the model part: a batch that reaches the
# interval by records alone, and a batch past the interval when it is checked
PAST_THE_INTERVAL = [("records", 0, 3, (1, 1)), ("record_alloc", 0, 3)]


@given(st.sampled_from(INTERVALS), st.integers(1, MAX_THREADS), stat_script)
@example(2, 1, PAST_THE_INTERVAL)
@example(256, 2, [("alloc_path", 1, 7, (2, 1)), ("records", 0, 0, (1, 0)), ("flush_all", 1)])
def test_stat_counters_meet_their_contract_at_the_seed_sizes(interval, nthreads, script):
    replay_stats(interval, nthreads, script)


def test_stat_counters_meet_their_contract_at_every_flush_point():
    for interval in INTERVALS:
        for k in range(3):
            for d in (-1, 0, 1):
                replay_stats(interval, 2, [("records", 1, 5, (k, d)), ("alloc_path", 0, 5, (k, d)),
                                           ("free_path", 1, 2, (k, d))])


def _flush_at_equals(batch, global_counts, class_idx, interval):
    """The model drifted to the old contract: a batch flushes only at exactly ``interval``."""
    if batch[class_idx] == interval:
        ops.atomic_add(global_counts, class_idx, batch[class_idx])
        batch[class_idx] = 0
        return True
    return False


@pytest.mark.quality
def test_stat_contract_refutes_a_model_drifted_to_flush_at_equals(monkeypatch):
    monkeypatch.setattr(ops, "stats_flush_if_needed", _flush_at_equals)
    with pytest.raises(conditions.ContractViolated, match=r">= self\.interval"):
        replay_stats(2, 1, PAST_THE_INTERVAL)


def _doc_with(method: str, old: str, new: str) -> dict:
    doc = inspect.getdoc(getattr(StatCounters, method))
    assert old in doc, f"StatCounters.{method}'s contract no longer has {old!r}"
    return {method: doc.replace(old, new)}


# the old contract's record: "flushes exactly the pending batch when it reaches interval"
OLD_RECORD_POST = ("post: self.flushed[c] == __old__.self.flushed[c] + (self.interval if "
                   "__old__.self.batches[tid][c] + 1 == self.interval else 0)")


@pytest.mark.quality
def test_model_refutes_the_old_contract_that_record_flushes_at_the_interval():
    docs = _doc_with("record_alloc", "post: ", OLD_RECORD_POST + "\npost: ")
    with pytest.raises(conditions.ContractViolated, match=r"\+ 1 == self\.interval"):
        replay_stats(2, 1, [("record_alloc", 0, 3), ("record_alloc", 0, 3)], docs=docs)


@pytest.mark.quality
def test_model_refutes_a_contract_that_flushes_only_at_equals():
    docs = _doc_with("flush_if_needed", ">= self.interval", "== self.interval")
    with pytest.raises(conditions.ContractViolated, match=r"== self\.interval"):
        replay_stats(2, 1, PAST_THE_INTERVAL, docs=docs)
