"""The design's path conformance, a listener of the lockstep oracle (checks in
``hakmem_verify/check/conformance.py``).

Before each alloc, free, evict, thread exit and quiesce it predicts the design's path from
the state before the op, reads the debug counters right after it, and checks once the
op's other checks have run (``on_op``), so an existing invariant still names a bug first.

It is on when the implementation is white-box, the level is 2 or more and its
``path_counts`` are the seed's debug counters (``conformance.reports_design_counters``):
another allocator's own counters are not the design's.  ``Oracle(..., conformance=False)``
leaves it out (the per-ID quality tests of the safety checks do, so that each safety ID is
shown to catch its planted bug by itself); ``enabled`` turns it off for a while.
"""
from __future__ import annotations

from hakmem_verify.check import conformance as conf
from hakmem_verify.check.incremental import hook_01_footprint
from hakmem_verify.contract.api import InvariantViolation
from hakmem_verify.contract.ops import Evict, Free, RaceFree, ThreadExit

from .listeners import Listener


class Conformance(Listener):
    """The CONF-* checks around the oracle's calls."""

    def __init__(self):
        self.enabled = True
        self.pending = []           # (prediction, counters before, counters after, exact after)
        self.op_pred = None         # (prediction, counters before) of an evict / thread exit
        self.step_pred = None       # (prediction, counters before) of the alloc / free running
        self._counters = None       # whether path_counts are the design's (known once seen)
        # the checker's kept view is the state now (checked after the last op, nothing
        # changed since): predictions read it instead of copying a partial snapshot
        self.view_is_current = False
        self._released = None       # (slab_release, released, drain, drained, epoch) last op
        self._quiesced = False      # a quiesce since: stacks pushed and drained inside it

    def on(self, o) -> bool:
        if not (self.enabled and o.white_box and o.check_level >= 2):
            return False
        if not self._counters:
            self._counters = conf.reports_design_counters(o.fast.path_counts)
        return self._counters

    def state(self, o) -> conf.State:
        """The state the predictions read: the checker's kept view when it is the state
        now (nothing is copied), else the implementation's hooks."""
        if self.view_is_current:
            return conf.KeptView(o.checker.view, o.config, o.fast.exact_stats)
        return conf.ImplState(o.fast)

    def predict(self, o, op) -> conf.Prediction:
        """The design's prediction for op (of ``hakmem_verify.contract.ops``) from the state
        now."""
        addr = o.handles[op.handle].fast if isinstance(op, (Free, RaceFree)) else None
        return conf.predict(self.state(o), op, addr)

    # ---- the listener's points ----------------------------------------------------------
    def before_op(self, o, op) -> None:
        if isinstance(op, (Evict, ThreadExit)) and self.on(o):
            self.op_pred = (self.predict(o, op), dict(o.fast.path_counts))
            self.view_is_current = False

    def before_step(self, o, step: str, *args) -> None:
        self.step_pred = None
        if not self.on(o):
            return
        if step == "alloc":
            p = conf.predict_alloc(self.state(o), *args)
        elif step == "free":
            p = conf.predict_free(self.state(o), *args)
        else:                           # quiesce: every active slab is evicted
            snap = o.fast.snapshot((), {}, None)
            p = conf.predict_evict(self.state(o), [b for t in snap.threads.values()
                                                   for b in t.active_a + t.active_b])
        self.view_is_current = False
        self.step_pred = (p, dict(o.fast.path_counts))

    def after_step(self, o, step: str) -> None:
        if self.step_pred is None:
            return
        p, before = self.step_pred
        self.step_pred = None
        if step == "quiesce":
            self._quiesced = True
            conf.check(p, before, o.fast.path_counts, None, o.runs)
        else:
            self._done(o, p, before)

    def on_op(self, o, burst: bool) -> None:
        if self.op_pred is not None:
            self._done(o, *self.op_pred)
            self.op_pred = None
        self.view_is_current = o.check_level >= 2 and o.checker is not None and \
            o.checker.view is not None
        if self.view_is_current and self.on(o):
            view = o.checker.view
            o.op_check(conf.conf_07_release_when_free, [view.prev.get(b) for b in view.bases])
            self._check_event_counters(o)
            o.op_check(conf.conf_06_totals, o.fast.path_counts, o.fast.exact_stats())
        else:
            self._released = None
            self._quiesced = False
        pending, self.pending = self.pending, []
        for p, before, after, exact in pending:
            try:
                conf.check(p, before, after, exact, o.runs)
            except InvariantViolation:
                if p.from_view:
                    self._confirm_view(o)
                raise

    # ---- helpers ------------------------------------------------------------------------
    def _done(self, o, p, before) -> None:
        self.pending.append((p, before, dict(o.fast.path_counts), o.fast.exact_stats()))

    def _check_event_counters(self, o) -> None:
        """CONF-06: the slab_release counter moved by the slabs that left the pool;
        CONF-08: the drain counter by the remote stacks taken (both as the checker's
        footprints saw them since the last op)."""
        ck, counts = o.checker, o.fast.path_counts
        now = (counts.get("slab_release", 0), ck.released, counts.get("drain", 0), ck.drained,
               ck.epoch)
        last, self._released = self._released, now
        if last is not None and last[4] == now[4]:
            o.op_check(conf.conf_06_releases, now[0] - last[0], now[1] - last[1])
            o.op_check(conf.conf_08_drains, now[2] - last[2], now[3] - last[3],
                       self._quiesced)
        self._quiesced = False

    def _confirm_view(self, o) -> None:
        """A prediction read from the kept view failed: if the view differs from the
        complete state, a footprint missed a change (HOOK-01), not the path."""
        o.op_check(hook_01_footprint, o.fast.snapshot(), o.checker.view)


__all__ = ["Conformance"]
