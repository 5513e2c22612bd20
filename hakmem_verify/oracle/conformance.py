"""The path-conformance step of the lockstep oracle (checks in hakmem_verify/check/conformance.py).

``hakmem_verify.oracle.lockstep.Oracle`` mixes :class:`ConformanceSteps` in: before each alloc, free,
evict, thread exit and quiesce it predicts the design's path from the state before the
op, reads the debug counters right after it, and checks once the op's other checks have
run (``after_op``), so an existing invariant still names a bug first.

The step is on when the implementation is white-box, the level is 2 or more and its
``path_counts`` are the seed's debug counters (``conformance.reports_design_counters``):
another allocator's own counters are not the design's.  :func:`conformance_off` turns it
off for a block of code (the per-ID quality tests of the safety checks use it, so that
each safety ID is shown to catch its planted bug by itself).
"""
from __future__ import annotations

import contextlib

from hakmem_verify.contract.api import InvariantViolation, size_to_class
from hakmem_verify.check import conformance as conf
from hakmem_verify.check.incremental import hook_01_footprint
from hakmem_verify.contract.ops import Evict, Free, RaceFree, ThreadExit


class ConformanceSteps:
    """Mixin: the CONF-* checks around the handlers of ``hakmem_verify.oracle.lockstep.Oracle``."""

    CHECKS_CONFORMANCE = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.conf_pending = []      # (prediction, counters before, counters after, exact after)
        self.conf_op = None         # (prediction, counters before) of an evict / thread exit
        self._conf_counters = None  # whether path_counts are the design's (known once seen)
        # the checker's kept view is the state now (checked after the last op, nothing
        # changed since): predictions read it instead of copying a partial snapshot
        self.view_is_current = False
        self._conf_released = None  # (slab_release, released, drain, drained, epoch) last op
        self._quiesced = False      # a quiesce since: stacks pushed and drained inside it

    def _on(self) -> bool:
        if not (self.CHECKS_CONFORMANCE and self.white_box and self.check_level >= 2):
            return False
        if not self._conf_counters:
            self._conf_counters = conf.reports_design_counters(self.fast.path_counts)
        return self._conf_counters

    def conformance_state(self) -> conf.State:
        """The state the predictions read: the checker's kept view when it is the state
        now (checked right after the last op, nothing changed since: nothing is copied),
        else the implementation's hooks."""
        if self.view_is_current:
            return conf.KeptView(self.checker.view, self.config, self.fast.exact_stats)
        return conf.ImplState(self.fast)

    def predict(self, op) -> conf.Prediction:
        """The design's prediction for op (of ``hakmem_verify.contract.ops``) from the state now."""
        addr = self.handles[op.handle].fast if isinstance(op, (Free, RaceFree)) else None
        return conf.predict(self.conformance_state(), op, addr)

    def _done(self, p, before) -> None:
        self.conf_pending.append((p, before, dict(self.fast.path_counts),
                                  self.fast.exact_stats()))

    def alloc(self, size, tid):
        if not self._on():
            return super().alloc(size, tid)
        p = conf.predict_alloc(self.conformance_state(), size_to_class(size, self.config.class_sizes),
                               tid)
        self.view_is_current = False
        before = dict(self.fast.path_counts)
        out = super().alloc(size, tid)
        self._done(p, before)
        return out

    def free(self, h, tid, race=False):
        if not self._on():
            return super().free(h, tid, race)
        p = conf.predict_free(self.conformance_state(), self.handles[h].fast, tid)
        self.view_is_current = False
        before = dict(self.fast.path_counts)
        super().free(h, tid, race)
        self._done(p, before)

    def apply(self, op):
        if isinstance(op, (Evict, ThreadExit)) and self._on():
            self.conf_op = (self.predict(op), dict(self.fast.path_counts))
            self.view_is_current = False
        return super().apply(op)

    def quiesce(self):
        if not self._on():
            return super().quiesce()
        snap = self.fast.snapshot((), {}, None)
        p = conf.predict_evict(self.conformance_state(), [b for t in snap.threads.values()
                                      for b in t.active_a + t.active_b])
        self.view_is_current = False
        before = dict(self.fast.path_counts)
        super().quiesce()
        self._quiesced = True
        conf.check(p, before, self.fast.path_counts, None, self.runs)

    def after_op(self, burst=False):
        if self.conf_op is not None:
            self._done(*self.conf_op)
            self.conf_op = None
        super().after_op(burst)
        self.view_is_current = self.check_level >= 2 and self.checker is not None and \
            self.checker.view is not None
        if self.view_is_current and self._on():
            view = self.checker.view
            self.op_check(conf.conf_07_release_when_free, [view.prev.get(b) for b in view.bases])
            self._check_event_counters()
            self.op_check(conf.conf_06_totals, self.fast.path_counts, self.fast.exact_stats())
        else:
            self._conf_released = None
            self._quiesced = False
        pending, self.conf_pending = self.conf_pending, []
        for p, before, after, exact in pending:
            try:
                conf.check(p, before, after, exact, self.runs)
            except InvariantViolation:
                if p.from_view:
                    self._confirm_view()
                raise

    def _check_event_counters(self) -> None:
        """CONF-06: the slab_release counter moved by the slabs that left the pool;
        CONF-08: the drain counter by the remote stacks taken (both as the checker's
        footprints saw them since the last op)."""
        ck, counts = self.checker, self.fast.path_counts
        now = (counts.get("slab_release", 0), ck.released, counts.get("drain", 0), ck.drained,
               ck.epoch)
        last, self._conf_released = self._conf_released, now
        if last is not None and last[4] == now[4]:
            self.op_check(conf.conf_06_releases, now[0] - last[0], now[1] - last[1])
            self.op_check(conf.conf_08_drains, now[2] - last[2], now[3] - last[3],
                          self._quiesced)
        self._quiesced = False

    def _confirm_view(self) -> None:
        """A prediction read from the kept view failed: if the view differs from the
        complete state, a footprint missed a change (HOOK-01), not the path."""
        self.op_check(hook_01_footprint, self.fast.snapshot(), self.checker.view)


@contextlib.contextmanager
def conformance_off():
    """Oracles used inside this block do not run the CONF checks."""
    from .lockstep import Oracle
    old = Oracle.CHECKS_CONFORMANCE
    Oracle.CHECKS_CONFORMANCE = False
    try:
        yield
    finally:
        Oracle.CHECKS_CONFORMANCE = old
