"""Planted bugs in the statistics: per-thread batches, their flush into the global
counters, the reported and the exact counts."""
from __future__ import annotations

from hakmem_verify.models.fast import core as ops

from . import mutant, patched
from .base import FA, _fa, accurate_stats_configs, around_steps


# ============================================================================
# Statistics
# ============================================================================

@mutant("stats-never-flushed", expect=("STAT-02",))
def _stats_never():
    """Events are recorded in the thread batch but never flushed on the way.
    Bug class: statistics recorded without flush (unbounded drift)."""
    return patched((ops, "stats_flush_if_needed", lambda batch, g, c, iv: False))


@mutant("stats-flush-off-by-one", expect=("STAT-01",))
def _stats_obo():
    """The flush adds one event fewer than the batch held.
    Bug class: off-by-one in a counter flush (conservation broken)."""
    def flush(batch, g, c, iv):
        n = batch[c]
        if n >= iv:
            ops.atomic_add(g, c, n - 1)
            batch[c] = 0
            return True
        return False
    return patched((ops, "stats_flush_if_needed", flush))


@mutant("stats-lost-at-thread-exit", expect=("STAT-01",))
def _stats_exit():
    """thread_exit discards the thread's pending stat batch instead of flushing it.
    Bug class: per-thread counters lost at thread exit."""
    def discard_batches(self, tid):
        t = self._threads.get(tid)
        if t is not None:
            t.alloc_batch[:] = [0] * len(t.alloc_batch)
            t.free_batch[:] = [0] * len(t.free_batch)
    return patched(around_steps("thread_exit_gen", before=discard_batches))


@mutant("stats-global-add-not-atomic", expect=("STAT-01",))
def _stats_racy():
    """The global counter add is load + store, and a second flush to the same counter
    lands between them: one of the two additions is lost.
    Bug class: non-atomic read-modify-write of a shared counter (lost update)."""
    last = {}

    def racy_add(counters, idx, delta):
        key = (id(counters), idx)
        if key in last:                      # loaded before the previous store landed
            counters[idx] = last.pop(key) + delta
        else:
            last[key] = counters[idx]
            counters[idx] += delta
    return patched((ops, "atomic_add", racy_add))


@mutant("stats-reported-stale", expect=("STAT-03",), configs=accurate_stats_configs)
def _stats_stale():
    """stats() returns the counters as of the last thread exit, not the flushed ones.
    Bug class: reported statistics from a stale copy (more than 1% off)."""
    def stats(self):
        if "_stale_stats" not in self.__dict__:
            self._stale_stats = _fa["stats"](self)
        return self._stale_stats

    def keep_stale(self, result, tid):
        self._stale_stats = _fa["stats"](self)
    return patched((FA, "stats", stats), around_steps("thread_exit_gen", after=keep_stale))


@mutant("exact-counts-failed-alloc", expect=("STAT-04", "STAT-01"))
def _exact_failed():
    """The exact alloc counter is bumped before the out-of-memory test, so a failed
    alloc is counted. Bug class: statistics counting failed operations."""
    def count_failed(self, p, tid, c):
        if p is None:
            self._exact_alloc[c] += 1
        return p
    return patched(around_steps("alloc_gen", after=count_failed))
