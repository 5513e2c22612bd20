"""What every Hypothesis machine over an oracle shares: the oracle, whether an op broke
it, and one way to apply an op (its new path labels reported with ``event()``).

After an op that ran the oracle's whole-heap (L3) check on a white-box implementation,
the pool's own tables are checked too (SLAB-ACCT, ``specs.invariants.slab_accounting``:
they are not part of a snapshot)."""
from __future__ import annotations

from hypothesis import event
from hypothesis.stateful import RuleBasedStateMachine

from .api import InvariantViolation
from .invariants.slab_accounting import check_pool


class OracleMachine(RuleBasedStateMachine):
    """``self.oracle`` is set by the subclass's ``@initialize`` rule."""

    def __init__(self):
        super().__init__()
        self.oracle = None
        self.broken = False         # an op raised: the teardown must not run the oracle's

    def _apply(self, op):
        before = dict(self.oracle.events)
        l3 = self._l3_runs()
        try:
            out = self.oracle.apply(op)
            if l3 is not None and self._l3_runs() != l3:
                self._check_pool()
        except BaseException:
            self.broken = True
            raise
        for k, v in self.oracle.events.items():
            if v != before.get(k, 0):
                event(k)
        return out

    def _l3_runs(self):
        """The oracle's count of L3 checks; None when it has none (black-box, malloc)."""
        if not getattr(self.oracle, "white_box", False):
            return None
        runs = getattr(self.oracle, "runs", None)
        return None if runs is None else runs["L3"]

    def _check_pool(self) -> None:
        """SLAB-ACCT on the implementation, its message ending with the op that ran L3."""
        try:
            check_pool(self.oracle.fast, counts=self.oracle.runs)
        except InvariantViolation as e:
            self.oracle.fail(e.inv_id, e.detail, e.dump)
