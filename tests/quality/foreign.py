"""Hunting planted bugs of a foreign allocator (examples/bump_bugs.py) black-box.

``BlackBoxOracle`` is ``specs.lockstep.Oracle`` plus the two checks of
``specs.invariants.blackbox``, called where ``Oracle.alloc`` is to call them: LIVE-03 on
every block handed out, OOM-02 on every out of memory the reference does not share
(after quiesce() on both sides and a retry).  ``hunt_foreign`` runs the machine on a
factory until the first failure and returns it shrunk, with its timings.
"""
from __future__ import annotations

import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Optional

from hypothesis import HealthCheck, Phase, seed as hyp_seed, settings
from hypothesis.stateful import run_state_machine_as_test

import specs.machines
from hakmem_ref import RefAllocator
from specs.api import InvariantViolation, size_to_class
from specs.invariants import registry
from specs.invariants.compare import Obs
from specs.lockstep import Oracle
from specs.machines import make_machine, tiny_configs

_ENTRIES = {}


@contextmanager
def blackbox_checks():
    """LIVE-03 and OOM-02 registered, and the machines built on BlackBoxOracle, for the
    duration only: the registry outside stays what specs.invariants declares."""
    before = set(registry.REGISTRY)
    if not _ENTRIES:
        from specs.invariants import blackbox  # noqa: F401  (registers on first import)
        _ENTRIES.update({k: registry.REGISTRY[k] for k in ("LIVE-03", "OOM-02")})
    registry.REGISTRY.update(_ENTRIES)
    saved, specs.machines.Oracle = specs.machines.Oracle, BlackBoxOracle
    try:
        yield
    finally:
        specs.machines.Oracle = saved
        for k in set(registry.REGISTRY) - before:
            del registry.REGISTRY[k]


class BlackBoxOracle(Oracle):
    _ref_obs = None

    def call(self, side, what, fn, *args):
        from specs.invariants import blackbox
        obs = super().call(side, what, fn, *args)
        if side == "reference":
            self._ref_obs = obs
            return obs
        ref = self._ref_obs
        if (not self.white_box and fn == self.fast.alloc and obs == Obs("ok", None)
                and ref is not None and ref.kind == "ok" and ref.value is not None):
            self.both("quiesce() before retrying an out-of-memory alloc", self.ref.quiesce,
                      self.fast.quiesce)
            obs = super().call(side, f"{what} after quiesce()", fn, *args)
            retry = Obs("oom") if obs == Obs("ok", None) else obs
            self.op_check("OOM-02", blackbox.oom_02_after_quiesce, what,
                          size_to_class(args[0], self.config.class_sizes), retry)
        return obs

    def alloc(self, size, tid):
        from specs.invariants import blackbox
        h = super().alloc(size, tid)
        if h is not None and self.checker is None:
            b, sizes = self.handles[h], self.config.class_sizes
            self.op_check("LIVE-03", blackbox.live_03_disjoint, f"alloc({size}, tid={tid})",
                          b.fast, sizes[b.cls], self.live.blocks, sizes)
        return h


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
                 chunk: int = 50, steps: int = 50, blackbox: bool = True) -> Optional[Found]:
    """Run the machine on factory until it fails, or None (``blackbox=False``: without
    LIVE-03 and OOM-02, the oracle as specs.lockstep has it)."""
    rec = {"first": None, "last": None, "examples": 0, "examples_first": 0}
    with blackbox_checks() if blackbox else nullcontext():
        base = make_machine(RefAllocator, factory, config_strategy, name="ForeignHunt")

        class Machine(base):
            def _apply(self, op):
                try:
                    return super()._apply(op)
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

        start, s = time.monotonic(), seed
        while time.monotonic() - start < budget:
            st = settings(max_examples=chunk, stateful_step_count=steps, deadline=None,
                          database=None, print_blob=False, derandomize=False,
                          suppress_health_check=list(HealthCheck),
                          phases=[Phase.generate, Phase.shrink])
            try:
                run_state_machine_as_test(hyp_seed(s)(Machine), settings=st)
            except Exception as exc:  # noqa: BLE001  (every failure is a finding)
                inv_id, msg = classify(exc)
                cfg, trace = rec["last"] or (None, [])
                return Found(inv_id, msg, rec["first"] - start, time.monotonic() - start,
                             rec["examples_first"], cfg, trace)
            s += 1
    return None


def replay_foreign(factory, config, trace) -> Oracle:
    """Run a shrunk trace again on fresh allocators (black-box checks wired in), tear down."""
    with blackbox_checks():
        oracle = BlackBoxOracle(RefAllocator(config), factory(config))
        oracle.run(trace)
        oracle.teardown()
    return oracle
