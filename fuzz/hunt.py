"""Run the lockstep machine until it fails: the engine of ``hakmem-fuzz``.

``hunt`` runs Hypothesis on a machine built from ``specs.machines`` (under a
planted bug when asked) in chunks of examples, each chunk on its own seed,
until the machine fails or the time budget ends.  The failure it returns is
the shrunk one: the invariant ID, the message, the Config and the op trace
of the minimal failing run, ready for ``fuzz.replay.write_reproducer``.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

from hypothesis import HealthCheck, Phase, seed as hyp_seed, settings
from hypothesis.stateful import run_state_machine_as_test

from hakmem_fast import FastAllocator
from hakmem_ref import RefAllocator
from specs.api import InvariantViolation
from specs.machines import configs as default_configs, make_machine


@dataclass
class HuntResult:
    killed: bool
    inv_id: str = ""               # invariant ID, or "crash:<ExceptionType>"
    message: str = ""
    time_to_fail: float = 0.0      # seconds until the first failing example
    elapsed: float = 0.0           # including shrinking
    examples: int = 0
    steps: int = 0                 # ops run in total
    config: object = None          # Config of the shrunk failing run
    trace: list = field(default_factory=list)  # its ops
    seed: int = 0
    events: Counter = field(default_factory=Counter)
    checks: Counter = field(default_factory=Counter)

    @property
    def repro_steps(self) -> int:
        return len(self.trace)


def classify(exc: BaseException):
    """(inv_id, message) of a failure; unwraps exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        for sub in exc.exceptions:
            if isinstance(sub, InvariantViolation):
                return classify(sub)
        return classify(exc.exceptions[0])
    if isinstance(exc, InvariantViolation):
        return exc.inv_id, str(exc)
    return f"crash:{type(exc).__name__}", f"{type(exc).__name__}: {exc}"


def recording_machine(config_strategy, l3_every: int):
    """A machine class that records the stats of every run and its last failure."""
    base = make_machine(RefAllocator, FastAllocator, config_strategy, l3_every=l3_every,
                        name="HuntMachine")

    class Recording(base):
        record = {"first_fail": None, "last": None, "examples": 0, "steps": 0,
                  "events": Counter(), "checks": Counter()}

        def _apply(self, op):
            try:
                return super()._apply(op)
            except BaseException:
                rec = type(self).record
                if rec["first_fail"] is None:
                    rec["first_fail"] = time.monotonic()
                rec["last"] = (self.oracle.config, list(self.oracle.trace))
                raise

        def teardown(self):
            rec = type(self).record
            if self.oracle is not None:
                rec["examples"] += 1
                rec["steps"] += self.oracle.steps
                rec["events"].update(self.oracle.events)
                rec["checks"].update(self.oracle.checks)
            try:
                super().teardown()
            except BaseException:
                if rec["first_fail"] is None:
                    rec["first_fail"] = time.monotonic()
                rec["last"] = (self.oracle.config, list(self.oracle.trace))
                raise

    Recording.__name__ = Recording.__qualname__ = "HuntMachine"
    return Recording


def hunt(budget: float = 60.0, seed: int = 0, config_strategy=None, chunk: int = 50,
         step_count: int = 50, l3_every: int = 25, database=None,
         stop=lambda: False, on_chunk=None) -> HuntResult:
    """Run the machine until a failure or ``budget`` seconds; the result is shrunk."""
    Machine = recording_machine(default_configs if config_strategy is None else config_strategy,
                                l3_every)
    rec = Machine.record
    start = time.monotonic()
    s = seed
    result = HuntResult(killed=False, seed=seed)
    while time.monotonic() - start < budget and not stop():
        st = settings(max_examples=chunk, stateful_step_count=step_count, deadline=None,
                      database=database, derandomize=False, print_blob=False,
                      suppress_health_check=list(HealthCheck),
                      phases=[Phase.reuse, Phase.generate, Phase.shrink] if database
                      else [Phase.generate, Phase.shrink])
        try:
            run_state_machine_as_test(hyp_seed(s)(Machine), settings=st)
        except BaseException as exc:   # noqa: BLE001 - every failure is a finding
            if isinstance(exc, KeyboardInterrupt):
                raise
            inv_id, msg = classify(exc)
            cfg, trace = rec["last"] or (None, [])
            result = HuntResult(True, inv_id, msg, (rec["first_fail"] or time.monotonic()) - start,
                                time.monotonic() - start, rec["examples"], rec["steps"], cfg,
                                trace, s, rec["events"], rec["checks"])
            return result
        s += 1
        if on_chunk:
            on_chunk(rec)
    result.elapsed = time.monotonic() - start
    result.examples, result.steps = rec["examples"], rec["steps"]
    result.events, result.checks = rec["events"], rec["checks"]
    return result
