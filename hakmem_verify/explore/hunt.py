"""Run the lockstep machine until it fails: the engine of ``hakmem-fuzz``.

``hunt`` runs Hypothesis on a machine built from ``hakmem_verify.explore.machines`` (under a
planted bug when asked) in chunks of examples, each chunk on its own seed,
until the machine fails or the time budget ends.  The failure it returns is
the shrunk one: the invariant ID, the message, the Config and the op trace
of the minimal failing run, ready for ``hakmem_verify.runner.replay.write_reproducer``.

Every op runs under the per-op watchdog (``hakmem_verify.explore.watchdog``): an op that
outlives ``op_timeout`` seconds is a ``HANG`` failure, shrunk like any other.

Besides the counts the oracle keeps (ops per path label, check runs), a hunt
records per-block path counts (``fast.path_counts``) and its *behaviours*:
the distinct ``<op type>:<label>`` pairs its ops reached.  An example that
reaches a behaviour this process had not seen yet reports it with
``hypothesis.target(1.0, label="new:<behaviour>")``; Hypothesis keeps such
examples in its Pareto front, saved in the example database under the
test's ``.pareto`` key, and replays some of them when a later run on that
database starts (the reuse phase; the runner's database never deletes them,
see ``hakmem_verify.runner.db.WorkerDatabase.delete``).  So a clean night leaves its
most novel examples behind for the next one.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from hypothesis import target

from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.contract.api import InvariantViolation
from hakmem_verify.oracle.lockstep import L3_EVERY
from .chunks import run_chunks
from .machines import make_machine
from .configs import configs as default_configs

from .watchdog import OP_TIMEOUT, ShrinkBudgetSpent, Watchdog


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
    events: Counter = field(default_factory=Counter)   # ops that took each path / situation
    #                                                    (one count per op, however many blocks)
    checks: Counter = field(default_factory=Counter)   # check runs per level or invariant ID
    paths: Counter = field(default_factory=Counter)    # fast.path_counts: per block
    behaviours: set = field(default_factory=set)       # distinct "<op>:<label>" reached
    unsupported: Counter = field(default_factory=Counter)  # Configs the impl declined, by why

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
    if isinstance(exc, InvariantViolation):         # Hang is one too (inv_id HANG)
        return [(exc.inv_id, str(exc))]
    return [(f"crash:{type(exc).__name__}", f"{type(exc).__name__}: {exc}")]


def recording_machine(config_strategy, l3_every: int, watchdog=None, impl=None, deep=False,
                      conformance: bool = True, oracle=None):
    """A machine class that records the stats of every run and its last failure.
    ``impl``: a ``module:factory`` spec (``hakmem_verify.explore.impl``), default the fast model; Configs
    the implementation declares unsupported are skipped and counted."""
    unsupported = Counter()
    if impl is None:
        factory = FastAllocator
    else:
        from .impl import load_impl, skipping_unsupported
        factory = skipping_unsupported(load_impl(impl), unsupported)
    base = make_machine(RefAllocator, factory, config_strategy, l3_every=l3_every,
                        name="HuntMachine", deep=deep, conformance=conformance,
                        **({} if oracle is None else {"oracle": oracle}))
    wd = watchdog or Watchdog(0)

    class Recording(base):
        record = {"first_fail": None, "last": None, "examples": 0, "steps": 0,
                  "events": Counter(), "checks": Counter(), "by_id": {}, "paths": Counter(),
                  "behaviours": set(), "messages": {}, "unsupported": unsupported}

        def apply_op(self, op):
            before = dict(self.oracle.events)
            try:
                with wd.guard(lambda: f"op {len(self.oracle.trace)} "
                                      f"{self.oracle.trace[-1]!r}"):
                    out = super().apply_op(op)
            except BaseException as exc:
                self._record_failure(exc)
                raise
            reached = self.__dict__.setdefault("_reached", set())
            per_op = self.__dict__.setdefault("_per_op", Counter())
            name = type(op).__name__
            for k, v in self.oracle.events.items():
                if v != before.get(k, 0):
                    reached.add(f"{name}:{k}")
                    per_op[k] += 1
            return out

        def _record_failure(self, exc):
            if isinstance(exc, ShrinkBudgetSpent):
                return
            rec = type(self).record
            if rec["first_fail"] is None:
                rec["first_fail"] = time.monotonic()
            rec["last"] = (self.oracle.config, list(self.oracle.trace))
            inv_id, message = classify(exc)
            rec["by_id"][inv_id] = rec["last"]           # the last one is the shrunk one
            rec["messages"][inv_id] = message

        def teardown(self):
            rec = type(self).record
            if self.oracle is not None:
                rec["examples"] += 1
                rec["steps"] += self.oracle.steps
                rec["events"].update(self.__dict__.get("_per_op", ()))
                rec["checks"].update(self.oracle.checks)
                rec["paths"].update(getattr(self.oracle.fast, "path_counts", None) or {})
                new = self.__dict__.get("_reached", set()) - rec["behaviours"]
                rec["behaviours"] |= new
                if not self.broken:
                    for b in sorted(new):       # kept in the database's Pareto front
                        target(1.0, label=f"new:{b}")
            try:
                with wd.guard("teardown (free everything, quiesce, check)"):
                    super().teardown()
            except BaseException as exc:
                self._record_failure(exc)
                raise

    Recording.__name__ = Recording.__qualname__ = "HuntMachine"
    return Recording


def hunt(budget: float = 60.0, seed: int = 0, config_strategy=None, chunk: int = 50,
         step_count: int = 50, l3_every: int = L3_EVERY, database=None,
         stop=lambda: False, on_chunk=None, op_timeout: float = OP_TIMEOUT,
         impl=None, deep: bool = False, conformance: bool = True, oracle=None) -> HuntResult:
    """Run the machine until a failure or ``budget`` seconds; the result is shrunk.

    ``op_timeout`` is the per-op watchdog in seconds (0: off); see ``hakmem_verify.explore.watchdog``.
    ``impl`` names the implementation under test (``module:factory``; default hakmem_verify.models.fast).
    ``deep``: the machine has the deep-history rules (``hakmem_verify.explore.machines.deep_rules``).
    ``conformance``: the oracle checks the design's paths (off: the safety checks alone).
    ``oracle``: the machine's oracle class (default ``hakmem_verify.oracle.lockstep.Oracle``).
    """
    with Watchdog(op_timeout) as wd:
        return _hunt(budget, seed, config_strategy, chunk, step_count, l3_every, database,
                     stop, on_chunk, wd, impl, deep, conformance, oracle)


def _hunt(budget, seed, config_strategy, chunk, step_count, l3_every, database, stop,
          on_chunk, wd, impl=None, deep=False, conformance=True, oracle=None) -> HuntResult:
    Machine = recording_machine(default_configs if config_strategy is None else config_strategy,
                                l3_every, wd, impl, deep, conformance, oracle)
    rec = Machine.record
    start = time.monotonic()
    result = HuntResult(killed=False, seed=seed)
    exc, s = run_chunks(Machine, budget, seed, chunk, step_count, database=database,
                        cuts=(ShrinkBudgetSpent,), stop=stop, start=start,
                        after_chunk=(lambda: on_chunk(rec)) if on_chunk else None)
    if exc is not None:
        if isinstance(exc, ShrinkBudgetSpent):   # a hang, shrunk as far as the budget let
            found = {"HANG": rec["messages"]["HANG"] + f"\n(shrinking stopped: {exc}; "
                     "this is the shortest hanging trace found)"}
        else:
            found = {i: m for i, m in classify_all(exc)}
        traces = {i: rec["by_id"].get(i, rec["last"] or (None, [])) for i in found}
        # the primary failure: the shortest shrunk reproducer
        inv_id = min(found, key=lambda i: len(traces[i][1]))
        cfg, trace = traces[inv_id]
        return HuntResult(True, inv_id, found[inv_id],
                          (rec["first_fail"] or time.monotonic()) - start,
                          time.monotonic() - start, rec["examples"], rec["steps"], cfg,
                          list(trace), s, found, rec["events"], rec["checks"],
                          rec["paths"], rec["behaviours"], rec["unsupported"])
    result.elapsed = time.monotonic() - start
    result.examples, result.steps = rec["examples"], rec["steps"]
    result.events, result.checks = rec["events"], rec["checks"]
    result.paths, result.behaviours = rec["paths"], rec["behaviours"]
    result.unsupported = rec["unsupported"]
    return result
