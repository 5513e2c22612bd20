"""The lockstep oracle with the path-conformance checks (specs/invariants/conformance.py)
wired in, until ``specs.lockstep.Oracle`` runs them itself: predict before each alloc, free,
evict and thread exit, read the debug counters right after it, and check once the op's
other checks have run (``after_op``), so an existing invariant still names a bug first.
"""
from __future__ import annotations

import contextlib

from . import machines
from .api import size_to_class
from .invariants import conformance as conf
from .lockstep import Oracle
from .ops import Evict, ThreadExit


class ConformanceOracle(Oracle):
    CHECKS_CONFORMANCE = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.conf_pending = []      # (prediction, counters before, counters after, exact after)
        self.conf_op = None         # (prediction, counters before) of an evict / thread exit

    def _on(self) -> bool:
        return self.white_box and self.check_level >= 2 and \
            conf.reports_design_counters(self.fast.path_counts)

    def _done(self, p, before) -> None:
        self.conf_pending.append((p, before, dict(self.fast.path_counts),
                                  self.fast.exact_stats()))

    def alloc(self, size, tid):
        if not self._on():
            return super().alloc(size, tid)
        p = conf.predict_alloc(self, size_to_class(size, self.config.class_sizes), tid)
        before = dict(self.fast.path_counts)
        out = super().alloc(size, tid)
        self._done(p, before)
        return out

    def free(self, h, tid, race=False):
        if not self._on():
            return super().free(h, tid, race)
        p = conf.predict_free(self, self.handles[h].fast, tid)
        before = dict(self.fast.path_counts)
        super().free(h, tid, race)
        self._done(p, before)

    def apply(self, op):
        if self._on() and isinstance(op, (Evict, ThreadExit)):
            self.conf_op = (conf.predict(self, op), dict(self.fast.path_counts))
        return super().apply(op)

    def quiesce(self):
        if not self._on():
            return super().quiesce()
        snap = self.fast.snapshot((), {}, None)
        p = conf.predict_evict(self, [b for t in snap.threads.values()
                                      for b in t.active_a + t.active_b])
        before = dict(self.fast.path_counts)
        super().quiesce()
        conf.check(p, before, self.fast.path_counts, None, self.runs)

    def after_op(self, burst=False):
        if self.conf_op is not None:
            self._done(*self.conf_op)
            self.conf_op = None
        super().after_op(burst)
        pending, self.conf_pending = self.conf_pending, []
        for p, before, after, exact in pending:
            conf.check(p, before, after, exact, self.runs)


@contextlib.contextmanager
def conformance_machines():
    """Every machine built while this is active runs the ConformanceOracle."""
    old = machines.Oracle
    machines.Oracle = ConformanceOracle
    try:
        yield
    finally:
        machines.Oracle = old


def for_mutant(m):
    """The machines a planted bug is hunted with: conformance on when only CONF checks
    are expected to catch it (the stock oracle does not run them yet)."""
    if m.expect and all(i.startswith("CONF-") for i in m.expect):
        return conformance_machines()
    return contextlib.nullcontext()
