"""Concurrent rounds without Hypothesis: random programs under random or PCT schedules.

``hakmem-fuzz run --machine concurrent`` drives this: for ``seconds``, each example
is a fresh pair (reference, fast model) on a tiny Config and a few concurrent
rounds (``hakmem_verify.oracle.concurrent.Harness``), every round under the chosen strategy
(``random``, or ``pct`` with depth d: a random program first measures k, the
number of steps with a choice).  It reports schedules explored, steps,
preemptions per schedule, and how often each shared-word race fired (a
``"cas-retry"`` is a push or drain that lost a CAS to another thread; "preempted
after" counts, per step label, the times another thread ran while a thread was
between that shared access and its next step), and writes them to
``<report>/report.json``.  The
first finding stops the run with its reproducer (Config, rounds, schedules),
which ``hakmem_verify.oracle.concurrent.replay`` re-runs exactly.
"""
from __future__ import annotations

import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.contract.api import InvariantViolation
from hakmem_verify.oracle.concurrent import Harness, make_thread_op
from hakmem_verify.explore.concurrent_hunt import OP_KINDS
from hakmem_verify.explore.concurrent_shrink import SHRINK_SECONDS, shrink_rounds
from hakmem_verify.explore.concurrent_hunt import STARVE_EVERY
from hakmem_verify.explore.configs import SUPERSLAB_SHARE, random_config
from hakmem_verify.schedule import PCT, RandomStrategy, StarvingRandom


def superslab_share(mutant=None) -> float:
    """The share of SuperSlab-mode Configs: SUPERSLAB_SHARE in a clean run; for a planted
    bug, the mode it lives in only (1 for a race of SuperSlab mode, else 0), so that
    hunting it wastes no examples."""
    if mutant:
        from hakmem_verify.planted.races import RACES
        from hakmem_verify.explore.configs import superslab_concurrent_configs
        m = RACES.get(mutant)
        return 1.0 if m is not None and m.configs is superslab_concurrent_configs else 0.0
    return SUPERSLAB_SHARE


def config_drawer(mutant=None):
    """``rng -> Config`` of the runner's concurrent machine: a race's own ``draw_config``
    (the geometry that reaches it, as its ``configs`` strategy), else :func:`random_config`
    with the :func:`superslab_share` of the run."""
    if mutant:
        from hakmem_verify.planted.races import RACES
        m = RACES.get(mutant)
        if m is not None and m.draw_config is not None:
            return m.draw_config
    share = superslab_share(mutant)
    return lambda rng: random_config(rng, share)


def random_programs(rng: random.Random, h: Harness) -> dict:
    free = sorted(h.addr_handle.values())
    rng.shuffle(free)
    programs = {}
    for tid in range(rng.randint(2, 4)):
        prog = []
        for _ in range(rng.randint(1, 4)):
            kind = rng.choice(OP_KINDS)
            if kind == "free" and free:
                prog.append(make_thread_op("free", tid, free.pop()))
            elif kind in ("drain", "evict"):
                prog.append(make_thread_op(kind, tid, rng.randint(0, 1) % h.config.num_classes))
            elif kind in ("exit", "flush"):
                prog.append(make_thread_op(kind, tid))
            else:
                prog.append(make_thread_op("alloc", tid, rng.randint(0, h.config.max_size)))
        programs[tid] = prog
    return programs


@dataclass
class ConcurrentReport:
    strategy: str
    seconds: float = 0.0
    examples: int = 0
    schedules: int = 0
    steps: int = 0
    preemptions: int = 0
    labels: Counter = field(default_factory=Counter)
    preempted_at: Counter = field(default_factory=Counter)   # label of the step after which
    #                              another thread took over (a race at that shared word)
    per_schedule: Counter = field(default_factory=Counter)   # preemptions -> schedules
    finding: str = ""            # "" when clean
    inv_id: str = ""
    reproducer: str = ""
    config: object = None        # the finding's Config and rounds (shrunk)
    rounds: list = field(default_factory=list)
    paths: Counter = field(default_factory=Counter)    # the fast model's path counters
    shrink_seconds: float = 0.0  # spent shrinking the finding
    shrink_cut: bool = False     # the shrink budget ended first: the smallest found so far
    unsupported: int = 0         # Configs the implementation declared unsupported (skipped)

    def lines(self) -> list:
        per = self.preemptions / self.schedules if self.schedules else 0.0
        out = [f"strategy {self.strategy}: {self.examples} examples, {self.schedules} schedules "
               f"({self.schedules / max(self.seconds, 1e-9):.0f}/s), {self.steps} steps "
               f"({self.steps / max(self.seconds, 1e-9):.0f}/s), {per:.2f} preemptions per "
               f"schedule, in {self.seconds:.1f} s",
               "shared-word races fired: " + (", ".join(
                   f"{k} {v}" for k, v in sorted(self.labels.items()) if k == "cas-retry")
                   or "cas-retry 0") + "; preempted after: " + (", ".join(
                   f"{k} {v}" for k, v in sorted(self.preempted_at.items())) or "none"),
               "preemptions per schedule: " + ", ".join(
                   f"{k}: {v}" for k, v in sorted(self.per_schedule.items())),
               "steps by label: " + ", ".join(f"{k} {v}" for k, v in sorted(self.labels.items()))]
        if self.unsupported:
            out.append(f"{self.unsupported} Configs skipped: not supported by the "
                       "implementation, not a bug")
        if self.finding:
            out += [f"FINDING [{self.inv_id}]: {self.finding.splitlines()[0]}"]
            if self.shrink_cut:
                out.append(f"shrinking cut at its budget after {self.shrink_seconds:.1f} s: "
                           "the reproducer is the smallest found so far")
            out.append(self.reproducer)
        return out


    def to_json(self) -> dict:
        per = self.preemptions / self.schedules if self.schedules else 0.0
        secs = max(self.seconds, 1e-9)
        return {
            "machine": "concurrent", "strategy": self.strategy,
            "result": "finding" if self.finding else "clean",
            "elapsed_s": round(self.seconds, 2),
            "totals": {"examples": self.examples, "schedules": self.schedules,
                       "steps": self.steps,
                       "schedules_per_s": round(self.schedules / secs, 1),
                       "steps_per_s": round(self.steps / secs, 1)},
            "preemptions": {"total": self.preemptions, "per_schedule_mean": round(per, 3),
                            "schedules_by_preemptions": {str(k): v for k, v in
                                                         sorted(self.per_schedule.items())}},
            "races_fired": {"cas-retry": self.labels.get("cas-retry", 0),
                            "preempted_after": dict(sorted(self.preempted_at.items()))},
            "steps_by_label": dict(sorted(self.labels.items())),
            "unsupported_configs": self.unsupported,
            "finding": {"inv_id": self.inv_id, "message": self.finding,
                        "reproducer": self.reproducer,
                        "shrink_seconds": round(self.shrink_seconds, 2),
                        "shrink_cut": self.shrink_cut} if self.finding else None,
        }


def run_concurrent(seconds: float, strategy: str = "random", depth: int = 2, seed: int = 0,
                   rounds: int = 3, stop_after=None,
                   shrink_seconds: float = SHRINK_SECONDS, stop=None, progress=None,
                   progress_every: float = 2.0, factory=None,
                   ss_share: float = SUPERSLAB_SHARE, draw_config=None) -> ConcurrentReport:
    """Random concurrent rounds for ``seconds`` (or ``stop_after`` examples, or until
    ``stop()`` is true); a finding's reproducer is shrunk for at most ``shrink_seconds``
    of wall-clock time (``hakmem_verify.explore.concurrent_shrink``), then the smallest found is kept.
    ``progress(report)`` is called every ``progress_every`` seconds with the totals so
    far.  ``factory``: the implementation under test (``Config -> allocator`` offering
    ``hakmem_verify.contract.api.Hooks`` with its step generators; default the fast model); a Config it
    declares unsupported is skipped.  ``ss_share``: the share of Configs in SuperSlab
    mode; ``draw_config`` (``rng -> Config``, :func:`config_drawer`) replaces that draw."""
    from hakmem_verify.contract.unsupported import Unsupported
    factory = factory or FastAllocator
    if strategy not in ("random", "pct"):
        raise ValueError(f"unknown strategy {strategy!r}: choose random or pct")
    rng = random.Random(seed)
    rep = ConcurrentReport(strategy if strategy == "random" else f"pct(d={depth})")
    start = time.monotonic()
    k = 12                                     # steps with a choice, measured below
    next_progress = start + progress_every
    while time.monotonic() - start < seconds and (stop_after is None
                                                   or rep.examples < stop_after) \
            and not (stop is not None and stop()):
        if progress is not None and time.monotonic() >= next_progress:
            rep.seconds = time.monotonic() - start
            progress(rep)
            next_progress = time.monotonic() + progress_every
        cfg = draw_config(rng) if draw_config is not None else random_config(rng, ss_share)
        try:
            h = Harness(RefAllocator(cfg), factory(cfg))
        except Unsupported:
            rep.unsupported += 1
            continue
        rep.examples += 1
        try:
            for _ in range(rounds):
                programs = random_programs(rng, h)
                if strategy == "random":
                    starve = rep.examples % STARVE_EVERY == 0   # one example in 4
                    strat = (StarvingRandom if starve else RandomStrategy)(rng.randrange(1 << 30))
                else:
                    strat = PCT(sorted(programs), depth, k, rng.randrange(1 << 30))
                run = h.run_round(programs, strat)
                if strategy == "pct":
                    k = max(1, (k + getattr(strat, "choices", k)) // 2)
                rep.schedules += 1
                rep.steps += len(run.schedule)
                rep.preemptions += run.preemptions
                rep.labels.update(run.labels)
                rep.per_schedule[run.preemptions] += 1
                done = set(run.finished_at)
                rep.preempted_at.update(run.labels[i - 1] for i in range(1, len(run.schedule))
                                        if run.schedule[i] != run.schedule[i - 1]
                                        and i - 1 not in done)
            h.teardown()
            rep.paths.update(getattr(h.fast, "path_counts", None) or {})
        except (InvariantViolation, Exception) as e:  # every failure is a finding
            rep.inv_id = getattr(e, "inv_id", f"crash:{type(e).__name__}")
            rep.finding = str(e)
            rep.config, rep.rounds = h.config, list(h.rounds)
            rep.paths.update(getattr(h.fast, "path_counts", None) or {})
            if shrink_seconds > 0:           # delete what the failure does not need
                info = {}
                cfg, rounds, pre = shrink_rounds(RefAllocator, factory, h.config,
                                                 h.rounds, rep.inv_id, shrink_seconds,
                                                 stats=info)
                rep.shrink_seconds, rep.shrink_cut = info["seconds"], info["cut"]
                if pre is not None:
                    rep.config, rep.rounds = cfg, rounds
            h.config, h.rounds = rep.config, rep.rounds
            rep.reproducer = h.reproducer()
            break
    rep.seconds = time.monotonic() - start
    return rep


__all__ = ["run_concurrent", "ConcurrentReport", "random_programs"]


def cli_run(minutes: float, seed, mutant, strategy: str = "random", depth: int = 3,
            out=None, report: str = None, impl: str = None,
            shrink_seconds: float = SHRINK_SECONDS) -> int:
    """``hakmem-fuzz run --machine concurrent``: random (or PCT) rounds for ``minutes``;
    prints the implementation banner and the report, writes ``<report>/report.json``;
    exit 0 when nothing was found, 1 with a finding (its reproducer printed and in the
    report: replay it with ``hakmem_verify.oracle.concurrent.replay``), 2 for an implementation that
    cannot run as steps or an unwritable report, 3 when SIGINT/SIGTERM cut the budget (the
    report covers what ran)."""
    import sys
    from contextlib import nullcontext

    from hakmem_verify import planted as mutants
    from hakmem_verify.explore.impl import DEFAULT, resolve_or_exit
    out = out or sys.stdout
    loaded = resolve_or_exit(impl)                 # the banner (stderr); exit 2 if unusable
    spec = loaded.spec
    if loaded.tier != "white-box":
        sys.stderr.write(f"hakmem-fuzz: error: --machine concurrent interleaves the step "
                         f"generators of hakmem_verify.contract.api.Steps and checks through hakmem_verify.contract.api.Hooks; "
                         f"--impl {spec} is {loaded.tier} (it offers only the Allocator "
                         f"protocol): implement Hooks, or drop --machine concurrent\n")
        return 2
    factory = None if spec == DEFAULT else loaded
    if seed is None:              # a fresh seed each run, printed below so it can be replayed
        seed = random.SystemRandom().randrange(1_000_000_000)
    from hakmem_verify.contract.cli import StopFlag, first_unwritable, usage_error
    problem = first_unwritable(dirs=[(report, "--report")])
    if problem:
        return usage_error("hakmem-fuzz run", problem)
    ctx = nullcontext()
    if mutant is not None:
        ctx = mutants.apply(mutant)
    with ctx, StopFlag() as stop:
        out.write(f"hakmem-fuzz run --machine concurrent: {minutes:g} min, strategy "
                  f"{strategy}, seed {seed}{f', planted bug {mutant}' if mutant else ''}\n")
        out.flush()
        rep = run_concurrent(minutes * 60, strategy=strategy, depth=depth, seed=seed,
                             shrink_seconds=shrink_seconds, stop=stop, factory=factory,
                             draw_config=config_drawer(mutant))
    out.write("\n".join(rep.lines()) + "\n")
    repro = _write_reproducer(rep, report, seed, mutant, None if factory is None else spec)
    if report:
        _write_report(rep, report, dict(implementation=spec, seed=seed, minutes=minutes,
                                        mutant=mutant, interrupted=stop()), repro, out)
    return _verdict(rep, repro, stop(), out, mutant)


def _write_reproducer(rep, report, seed, mutant, impl=None):
    if not rep.finding:
        return None
    from .concurrent_repro import write_reproducer
    return write_reproducer(os.path.join(report or "fuzz-report", "reproducers"),
                            rep.config, rep.rounds,
                            name=f"concurrent-{rep.inv_id}-seed{seed}", inv_id=rep.inv_id,
                            message=rep.finding, mutant=mutant, impl=impl,
                            shrink_cut=rep.shrink_cut)


def _write_report(rep, report, extra, repro, out) -> None:
    import json
    os.makedirs(report, exist_ok=True)
    doc = {**rep.to_json(), **extra}
    if repro:
        doc["finding"]["reproducer_file"] = repro
    path = os.path.join(report, "report.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    out.write(f"report: {path}\n")


def _verdict(rep, repro, stopped: bool, out, mutant=None) -> int:
    """Exit 1 with a finding, 3 when a signal cut the budget, else 0.  ``promote`` is
    suggested only where it works: a reproducer of a planted bug fails only while the bug
    is applied, and ``hakmem-fuzz promote`` refuses it."""
    from hakmem_verify.contract.cli import EXIT_FINDING, interrupted
    if rep.finding:
        if mutant is None:
            then = f"fix the model or promote it with 'hakmem-fuzz promote {repro}'"
        else:
            then = (f"it fails only under the planted bug {mutant!r}, so it is the expected "
                    f"finding, not a regression test to promote")
        out.write(f"reproducer: {repro} (pytest replays it: Config, rounds, schedules); "
                  f"{then}\n")
        return EXIT_FINDING
    if stopped:
        out.flush()
        return interrupted("hakmem-fuzz run --machine concurrent",
                           f"{rep.schedules:,} schedules ran, nothing found; the report "
                           f"covers them; run again for the full budget")
    out.write("nothing found\n")
    return 0
