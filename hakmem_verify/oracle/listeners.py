"""What an observer of the lockstep oracle is told (``Oracle(..., listeners=[...])``).

The oracle calls its listeners, in order, at four points; a listener overrides the ones
it needs.  A listener may run checks of its own (``oracle.op_check``) and raise a finding;
it must not call the implementation's mutating methods.

* ``before_op(oracle, op)``: the op is in the trace, nothing of it has run;
* ``before_step(oracle, step, *args)`` and ``after_step(oracle, step)``: around each call an
  op makes that changes the implementation's state the way the design's paths describe:
  ``"alloc"`` (size class, tid), ``"free"`` (the implementation's address, tid) and
  ``"quiesce"`` (no arguments); a burst makes one per element.  ``after_step`` comes after
  the checks the oracle makes inside the call (a quiesce's whole-heap check included), so
  a safety check names a bug before a listener's own check does;
* ``on_op(oracle, burst)``: after the checks of an op, and of each element of a burst;
* ``on_teardown(oracle)``: after the teardown's last check.
"""
from __future__ import annotations


class Listener:
    """Every point, doing nothing."""

    def before_op(self, oracle, op) -> None:
        pass

    def before_step(self, oracle, step: str, *args) -> None:
        pass

    def after_step(self, oracle, step: str) -> None:
        pass

    def on_op(self, oracle, burst: bool) -> None:
        pass

    def on_teardown(self, oracle) -> None:
        pass


__all__ = ["Listener"]
