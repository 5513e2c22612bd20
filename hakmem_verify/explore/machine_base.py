"""What every Hypothesis machine over an oracle shares: the oracle, whether an op broke
it, and one way to apply an op (its new path labels reported with ``event()``).

Every rule applies its op with :meth:`OracleMachine.apply_op`, the machines' one extension
point: a subclass that observes every op (the hunt's recording machine, which also runs
each op under the per-op watchdog) wraps it and calls ``super().apply_op(op)``."""
from __future__ import annotations

from hypothesis import event
from hypothesis.stateful import RuleBasedStateMachine


class OracleMachine(RuleBasedStateMachine):
    """``self.oracle`` is set by the subclass's ``@initialize`` rule."""

    def __init__(self):
        super().__init__()
        self.oracle = None
        self.broken = False         # an op raised: the teardown must not run the oracle's

    def apply_op(self, op):
        before = dict(self.oracle.events)
        try:
            out = self.oracle.apply(op)
        except BaseException:
            self.broken = True
            raise
        for k, v in self.oracle.events.items():
            if v != before.get(k, 0):
                event(k)
        return out
