"""Hunting planted bugs of a foreign allocator (examples/bump_bugs.py) black-box.

The oracle checks an implementation without the hooks black-box, LIVE-03 and OOM-02
included (``hakmem_verify.check.blackbox``).  ``hunt_foreign`` runs the machine on a
factory until the first failure and returns it shrunk, with its timings.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.contract.api import InvariantViolation
from hakmem_verify.oracle.lockstep import Oracle
from hakmem_verify.explore.chunks import run_chunks
from hakmem_verify.explore.machines import make_machine
from hakmem_verify.explore.configs import tiny_configs

@dataclass
class Found:
    inv_id: str                 # invariant ID, or "crash:<ExceptionType>"
    message: str
    time_to_fail: float         # seconds to the first failing example
    elapsed: float              # including shrinking
    examples: int               # run until the first failing one (included)
    config: object = None       # of the shrunk failing run
    trace: list = field(default_factory=list)


def classify(exc: BaseException) -> tuple:
    if isinstance(exc, BaseExceptionGroup):
        return classify(exc.exceptions[0])
    if isinstance(exc, InvariantViolation):
        return exc.inv_id, str(exc)
    return f"crash:{type(exc).__name__}", f"{type(exc).__name__}: {exc}"


def hunt_foreign(factory, budget: float = 60.0, seed: int = 0, config_strategy=tiny_configs,
                 chunk: int = 50, steps: int = 50) -> Optional[Found]:
    """Run the machine on factory until it fails, or None."""
    rec = {"first": None, "last": None, "examples": 0, "examples_first": 0}
    base = make_machine(RefAllocator, factory, config_strategy, name="ForeignHunt")

    class Machine(base):
        def apply_op(self, op):
            try:
                return super().apply_op(op)
            except BaseException:
                self._note()
                raise

        def _note(self):
            if rec["first"] is None:
                rec["first"], rec["examples_first"] = time.monotonic(), rec["examples"] + 1
            rec["last"] = (self.oracle.config, list(self.oracle.trace))

        def teardown(self):
            rec["examples"] += 1
            try:
                super().teardown()
            except BaseException:
                self._note()
                raise

    start = time.monotonic()
    exc, _ = run_chunks(Machine, budget, seed, chunk, steps, start=start)
    if exc is None:
        return None
    inv_id, msg = classify(exc)
    cfg, trace = rec["last"] or (None, [])
    return Found(inv_id, msg, rec["first"] - start, time.monotonic() - start,
                 rec["examples_first"], cfg, trace)


def replay_foreign(factory, config, trace) -> Oracle:
    """Run a shrunk trace again on fresh allocators, tear down."""
    oracle = Oracle(RefAllocator(config), factory(config))
    oracle.run(trace)
    oracle.teardown()
    return oracle
