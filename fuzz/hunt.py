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
from specs.lockstep import L3_EVERY
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
    found: dict = field(default_factory=dict)  # every distinct failure: inv_id -> message
    events: Counter = field(default_factory=Counter)
    checks: Counter = field(default_factory=Counter)

    @property
    def repro_steps(self) -> int:
        return len(self.trace)


def classify(exc: BaseException):
    """(inv_id, message) of a failure (the first of an exception group)."""
    return classify_all(exc)[0]


def classify_all(exc: BaseException) -> list:
    """[(inv_id, message)] of every distinct failure Hypothesis reports."""
    if isinstance(exc, BaseExceptionGroup):
        return [pair for sub in exc.exceptions for pair in classify_all(sub)]
    if isinstance(exc, InvariantViolation):
        return [(exc.inv_id, str(exc))]
    return [(f"crash:{type(exc).__name__}", f"{type(exc).__name__}: {exc}")]


def recording_machine(config_strategy, l3_every: int):
    """A machine class that records the stats of every run and its last failure."""
    base = make_machine(RefAllocator, FastAllocator, config_strategy, l3_every=l3_every,
                        name="HuntMachine")

    class Recording(base):
        record = {"first_fail": None, "last": None, "examples": 0, "steps": 0,
                  "events": Counter(), "checks": Counter(), "by_id": {}}

        def _apply(self, op):
            try:
                return super()._apply(op)
            except BaseException as exc:
                self._record_failure(exc)
                raise

        def _record_failure(self, exc):
            rec = type(self).record
            if rec["first_fail"] is None:
                rec["first_fail"] = time.monotonic()
            rec["last"] = (self.oracle.config, list(self.oracle.trace))
            rec["by_id"][classify(exc)[0]] = rec["last"]   # the last one is the shrunk one

        def teardown(self):
            rec = type(self).record
            if self.oracle is not None:
                rec["examples"] += 1
                rec["steps"] += self.oracle.steps
                rec["events"].update(self.oracle.events)
                rec["checks"].update(self.oracle.checks)
            try:
                super().teardown()
            except BaseException as exc:
                self._record_failure(exc)
                raise

    Recording.__name__ = Recording.__qualname__ = "HuntMachine"
    return Recording


def hunt(budget: float = 60.0, seed: int = 0, config_strategy=None, chunk: int = 50,
         step_count: int = 50, l3_every: int = L3_EVERY, database=None,
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
            failures = classify_all(exc)
            found = {i: m for i, m in failures}
            traces = {i: rec["by_id"].get(i, rec["last"] or (None, [])) for i in found}
            # the primary failure: the shortest shrunk reproducer
            inv_id = min(found, key=lambda i: len(traces[i][1]))
            cfg, trace = traces[inv_id]
            return HuntResult(True, inv_id, found[inv_id],
                              (rec["first_fail"] or time.monotonic()) - start,
                              time.monotonic() - start, rec["examples"], rec["steps"], cfg,
                              list(trace), s, found, rec["events"], rec["checks"])
        s += 1
        if on_chunk:
            on_chunk(rec)
    result.elapsed = time.monotonic() - start
    result.examples, result.steps = rec["examples"], rec["steps"]
    result.events, result.checks = rec["events"], rec["checks"]
    return result
