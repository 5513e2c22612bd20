"""Cost of the lockstep oracle (hakmem_verify/oracle/lockstep.py) and its Hypothesis machine (hakmem_verify/explore/machines.py).

Everything runs in ONE process, so the ratios it prints are comparable even on
a noisy shared machine (the absolute numbers are not).  It measures:

1. Hypothesis: steps/s of the full lockstep machine
   ``make_machine(RefAllocator, FastAllocator)`` (default config strategy,
   L3 every 25 steps) against a trivial one-rule machine with no checks,
   both run by ``run_state_machine_as_test`` with the same
   ``settings(max_examples=N, stateful_step_count=50, deadline=None,
   database=None)`` and a fixed ``@seed``.  A step is a rule call (counted in a
   subclass's ``apply_op``, which every rule calls exactly once); bursts (alloc_many, free_many) count as one step.
   The time of the lockstep run is split into: inside the rules (the oracle),
   teardown (oracle.teardown: L3 + free everything) and the rest (Hypothesis
   generation, bundles, setup).
2. The oracle alone, no Hypothesis: ``Oracle(RefAllocator(cfg),
   FastAllocator(cfg), l3_every=0)`` on the seed ``Config()``, pre-filled with
   ``AllocMany`` bursts (sizes 0..1024, tids 0..3) to ~100 and ~100,000 live
   blocks, then a steady-state mix of single ops keeping the live count about
   constant: 30% Alloc, 15% Free by the allocating tid, 15% remote Free by
   another tid, 20% Write, 20% Read, over random live handles.  ops/s at the
   per-op check level 2 (L2 on touched slabs) for both heaps, and the ratio:
   the L2 checks are incremental, so it should be near 1.
2b. The same mix with ~100 live blocks but ~5,000 and ~20,000 free blocks
   cached in the TLS magazines (4 tids x 8 classes, capacity 2048 each): a
   state any long run reaches after freeing a large part of a big heap.
3. check_level 0 (no invariant checks; the oracle still compares outcomes,
   exact stats and live counts) against 2 on the same oracle, interleaved in
   chunks, for every heap above.

When a ratio that should be ~1 is off by more than 2x, the slow case and its
baseline are profiled with cProfile on the same number of ops and the
functions whose per-op cumulative time grows are printed.

Notes on method: the pre-fill runs at check_level 0 (a checked pre-fill of
100,000 blocks would dominate the runtime); before every chunk at level 2 the
touched-slab set accumulated by unchecked ops is discarded, so a level-2 chunk
pays only for its own ops.  Ops are generated before timing (handles are
issued in order and the seed Config never runs out of memory, so the handle
of every Alloc is known in advance).  All heaps are built first, then timed
in interleaved rounds (one chunk per heap and level per round, level order
alternating), so a change of machine load hits every case alike; throughput
is the median over a case's chunks.

Run:  .venv/bin/python bench/bench_lockstep.py          (about 1 minute on 2 cores)
      .venv/bin/python bench/bench_lockstep.py --quick  (smaller sizes, a smoke run)
"""
from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import hypothesis
from hypothesis import HealthCheck, seed, settings, strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, rule,
                                 run_state_machine_as_test)

from bench_common import add_alloc, ops_per_second
from bench_profile import compare_profiles, profile_ops
from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.contract.api import Config
from hakmem_verify.oracle.lockstep import Oracle
from hakmem_verify.contract.ops import AllocMany, Free, Read, Write
from hakmem_verify.explore.machines import make_machine

SEED = 20251126
TIDS = 4
SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
FAR = 2.0          # a ratio outside [1/FAR, FAR] counts as "grows"


# ============================================================================
# 1. Hypothesis: the lockstep machine vs a trivial machine
# ============================================================================


def hyp_settings(max_examples: int) -> settings:
    # parent = the default profile, so a CI variable (Hypothesis's own "ci"
    # profile) or a loaded project profile does not change what is measured
    return settings(settings.get_profile("default"), max_examples=max_examples,
                    stateful_step_count=50, deadline=None, database=None,
                    suppress_health_check=SLOW_OK)


def bench_hypothesis(max_examples: int) -> dict:
    acc = dict(steps=0, t_rules=0.0, t_teardown=0.0, alloc_free_calls=0, examples=0)
    base = make_machine(RefAllocator, FastAllocator)

    @seed(SEED)
    class CountedLockstep(base):
        def apply_op(self, op):          # every rule of the machine calls apply_op once
            acc["steps"] += 1
            t0 = time.perf_counter()
            try:
                return super().apply_op(op)
            finally:
                acc["t_rules"] += time.perf_counter() - t0

        def teardown(self):
            acc["examples"] += 1
            if self.oracle is not None:
                ex = self.oracle.ref.exact_stats()
                acc["alloc_free_calls"] += sum(ex.allocs) + sum(ex.frees)
            t0 = time.perf_counter()
            try:
                super().teardown()
            finally:
                acc["t_teardown"] += time.perf_counter() - t0

    triv = dict(steps=0)

    @seed(SEED)
    class Trivial(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.log = []

        @rule(x=st.integers(0, 1024))
        def step(self, x):
            triv["steps"] += 1
            self.log.append(x)

    s = hyp_settings(max_examples)
    out = {}
    for name, machine, counter in (("trivial", Trivial, triv), ("lockstep", CountedLockstep, acc)):
        gc.collect()
        t0 = time.perf_counter()
        run_state_machine_as_test(machine, settings=s)
        dt = time.perf_counter() - t0
        out[name] = dict(counter, seconds=dt, rate=counter["steps"] / dt)
    return out


# ============================================================================
# 2/3. The oracle alone
# ============================================================================


def mag_items(oracle) -> int:
    """Free blocks cached in every thread's TLS magazines (all classes)."""
    return sum(m.top for t in oracle.fast._threads.values() for m in t.mags)


def new_oracle() -> Oracle:
    cfg = Config()
    return Oracle(RefAllocator(cfg), FastAllocator(cfg), l3_every=0, check_level=0)


def prefill(oracle: Oracle, live: int, rng: random.Random) -> None:
    """AllocMany bursts of random sizes (all classes) and tids up to ``live`` blocks."""
    while oracle.next_handle < live:
        n = min(500, live - oracle.next_handle)
        oracle.apply(AllocMany(rng.randint(0, 1024), n, rng.randrange(TIDS)))


def load_magazines(oracle: Oracle, per_mag: int) -> None:
    """Alloc then free ``per_mag`` blocks per (tid, class), by the allocating tid:
    they end in that tid's TLS magazine (its own slab, room in the magazine)."""
    for tid in range(TIDS):
        for cs in oracle.config.class_sizes:
            hs = oracle.apply(AllocMany(cs, per_mag, tid))
            for h in hs:
                oracle.apply(Free(h, tid))


def gen_ops(oracle: Oracle, n: int, rng: random.Random, target: int = 0):
    """n steady-state ops from the oracle's current live handles; returns (ops, next_handle).

    An Alloc turns into a Free (and back) when the live count leaves
    target +- 10%, so the live count stays about constant."""
    live = list(oracle.handles)
    lo, hi = 0.9 * target, (1.1 * target if target else float("inf"))
    tid_of = {h: b.tid for h, b in oracle.handles.items()}
    nh = oracle.next_handle
    ops = []
    for _ in range(n):
        r = rng.random()
        if r < 0.60 and len(live) < max(2, lo):
            r = 0.0                              # too few live: alloc
        elif r < 0.60 and len(live) > hi:
            r = 0.3 + r / 2                      # too many live: free (same local/remote split)
        if r < 0.30 or len(live) < 2:
            t = rng.randrange(TIDS)
            nh = add_alloc(ops, live, tid_of, nh, rng.randint(0, 1024), t)
        elif r < 0.60:
            i = rng.randrange(len(live))
            h = live[i]
            live[i] = live[-1]
            live.pop()
            t = tid_of.pop(h)
            if r >= 0.45:                        # remote free: another tid
                t = (t + rng.randrange(1, TIDS)) % TIDS
            ops.append(Free(h, t))
        elif r < 0.80:
            ops.append(Write(rng.choice(live), rng.randrange(40),
                             rng.randbytes(rng.randint(1, 16))))
        else:
            ops.append(Read(rng.choice(live), rng.randrange(40), rng.randint(0, 16)))
    return ops, nh


def run_chunk(oracle: Oracle, ops, level: int) -> float:
    """Apply ops at check level ``level``; ops/s."""
    oracle.check_level = level
    if level >= 2:
        oracle.fast.take_footprint()     # drop what unchecked ops touched

    def run():
        for op in ops:
            oracle.apply(op)
    return ops_per_second(len(ops), run)


class Case:
    """One pre-filled oracle and its measurements (chunks at check levels 2 and 0)."""

    def __init__(self, name: str, oracle: Oracle, rng: random.Random, target: int,
                 chunk: int, chunks: int, fill_s: float):
        self.name, self.oracle, self.rng, self.target = name, oracle, rng, target
        self.chunk, self.chunks, self.fill_s = chunk, chunks, fill_s
        self.rates = {2: [], 0: []}
        self.mags, self.lives = [], []

    def warmup(self, n: int) -> None:
        ops, _ = gen_ops(self.oracle, n, self.rng, self.target)
        run_chunk(self.oracle, ops, 2)

    def round(self, i: int) -> None:
        """One chunk at each level (the order alternates with i)."""
        for level in ((2, 0) if i % 2 == 0 else (0, 2)):
            ops, nh = gen_ops(self.oracle, self.chunk, self.rng, self.target)
            self.mags.append(mag_items(self.oracle))
            self.lives.append(len(self.oracle.handles))
            self.rates[level].append(run_chunk(self.oracle, ops, level))
            assert self.oracle.next_handle == nh, "an Alloc failed: handles out of step"

    @property
    def l2(self) -> float:
        return statistics.median(self.rates[2])

    @property
    def l0(self) -> float:
        return statistics.median(self.rates[0])


def bench_cases(cases) -> None:
    """Rounds over every case, interleaved, so machine-load drift hits all cases alike."""
    for c in cases:
        c.warmup(min(500, c.chunk))
    for i in range(max(c.chunks for c in cases)):
        for c in cases:
            if i < c.chunks:
                c.round(i)


# ============================================================================
# main
# ============================================================================


def fmt_rate(x: float) -> str:
    return f"{x:10,.0f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=300, help="Hypothesis max_examples")
    ap.add_argument("--small", type=int, default=100, help="live blocks of the small heap")
    ap.add_argument("--big", type=int, default=100_000, help="live blocks of the big heap")
    ap.add_argument("--ops", type=int, default=5000, help="timed ops per level and heap")
    ap.add_argument("--chunk", type=int, default=1000, help="ops per timed chunk")
    ap.add_argument("--cached", type=int, nargs="*", default=[5000, 20000],
                    help="magazine-cached blocks for part 2b (0 entries: skip)")
    ap.add_argument("--cached-ops", type=int, default=300, help="timed ops per level, part 2b")
    ap.add_argument("--quick", action="store_true", help="smoke run: small sizes")
    args = ap.parse_args(argv)
    if args.quick:
        args.examples, args.big, args.ops, args.chunk = 20, 5000, 600, 200
        args.cached, args.cached_ops = [2000], 100
    t_start = time.perf_counter()
    print(f"bench_lockstep  {time.strftime('%Y-%m-%d %H:%M')}  Python {sys.version.split()[0]}  "
          f"Hypothesis {hypothesis.__version__}  {platform.machine()}  "
          f"cpus={os.cpu_count()}  load={os.getloadavg()[0]:.2f}")

    # ---- 1 -------------------------------------------------------------------------
    h = bench_hypothesis(args.examples)
    lk, tv = h["lockstep"], h["trivial"]
    rest = lk["seconds"] - lk["t_rules"] - lk["t_teardown"]
    print(f"\n1. Hypothesis machines: settings(max_examples={args.examples}, "
          f"stateful_step_count=50, deadline=None, database=None), @seed({SEED})")
    print(f"   trivial one-rule machine   {fmt_rate(tv['rate'])} steps/s   "
          f"({tv['steps']:,} steps in {tv['seconds']:.1f} s)")
    print(f"   lockstep machine (L2/step) {fmt_rate(lk['rate'])} steps/s   "
          f"({lk['steps']:,} steps, {lk['examples']} examples, in {lk['seconds']:.1f} s; "
          f"{lk['alloc_free_calls'] / max(1, lk['steps']):.1f} alloc/free calls per step)")
    print(f"   ratio trivial/lockstep     {tv['rate'] / lk['rate']:10.1f} x")
    print(f"   lockstep time: rules (oracle) {lk['t_rules'] / lk['seconds']:.0%}, teardown "
          f"(L3 + free all) {lk['t_teardown'] / lk['seconds']:.0%}, Hypothesis and setup "
          f"{rest / lk['seconds']:.0%}; Hypothesis-only estimate "
          f"{lk['steps'] / tv['rate']:.1f} s of {lk['seconds']:.1f} s")

    # ---- 2, 3 ----------------------------------------------------------------------
    cases = []
    for name, live, per in ([(f"~{args.small:,} live", args.small, 0),
                             (f"~{args.big:,} live", args.big, 0)]
                            + [(f"~{args.small:,} live + ~{per:,} cached", args.small, per)
                               for per in args.cached]):
        rng = random.Random(SEED + live + per)
        o = new_oracle()
        t0 = time.perf_counter()
        prefill(o, live, rng)
        if per:
            load_magazines(o, max(1, per // (TIDS * o.config.num_classes)))
            chunk = max(50, args.cached_ops // 3)
            case = Case(name, o, rng, live, chunk, max(1, args.cached_ops // chunk),
                        time.perf_counter() - t0)
        else:
            case = Case(name, o, rng, live, args.chunk, max(1, args.ops // args.chunk),
                        time.perf_counter() - t0)
        cases.append(case)
    bench_cases(cases)
    sm, bg = cases[0], cases[1]

    print("\n2/3. Oracle alone, seed Config, l3_every=0, steady mix 30% Alloc / 15% Free / "
          "15% remote Free / 20% Write / 20% Read")
    print(f"   {'heap':34s} {'live':>7s} {'slabs':>6s} {'mag-cached':>10s} {'ops':>6s} "
          f"{'L2 ops/s':>10s} {'L0 ops/s':>10s} {'L0/L2':>6s} {'fill s':>7s}")
    for c in cases:
        print(f"   {c.name:34s} {round(statistics.mean(c.lives)):7,d} "
              f"{len(c.oracle.fast._slabs):6,d} {round(statistics.mean(c.mags)):10,d} "
              f"{c.chunk * c.chunks:6,d} {fmt_rate(c.l2)} {fmt_rate(c.l0)} "
              f"{c.l0 / c.l2:6.1f} {c.fill_s:7.1f}")
    print(f"   ratio big/small heap (L2):  {bg.l2 / sm.l2:.2f}   (L0: {bg.l0 / sm.l0:.2f})   "
          f"~1 = per-op checks do not grow with live blocks")
    for c in cases[2:]:
        print(f"   ratio [{c.name}] / small (L2): {c.l2 / sm.l2:.3f}   (L0: {c.l0 / sm.l0:.2f})")
    print("   chunk runs, L2 ops/s: " + "; ".join(
        f"[{c.name}] " + ",".join(f"{x:.0f}" for x in c.rates[2]) for c in cases))

    # ---- profile what grows ---------------------------------------------------------
    grows = [c for c in cases[1:] if not 1 / FAR <= c.l2 / sm.l2 <= FAR]
    if grows:
        n_prof = 150
        ops_b, _ = gen_ops(sm.oracle, n_prof, sm.rng, sm.target)
        base_stats = profile_ops(sm.oracle, ops_b)
        for c in grows:
            ops, _ = gen_ops(c.oracle, n_prof, c.rng, c.target)
            print(f"\n   PROFILE: [{c.name}] is {sm.l2 / c.l2:.0f}x slower per op than "
                  f"[{sm.name}] at L2 (magazine-cached blocks {mag_items(c.oracle):,} vs "
                  f"{mag_items(sm.oracle):,}); cProfile, {n_prof} ops each, same mix:")
            compare_profiles(base_stats, profile_ops(c.oracle, ops), n_prof,
                             ("base", "slow"))
    else:
        print("\n   no per-op cost grows more than 2x: no profile")
    print(f"\ntotal runtime {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
