"""Throughput of the fast model against the reference (``hakmem_verify.models.fast``, ``.ref``).

Measures alloc/free ops per second of replaying the acceptance workload, the
100,000-op sequence that tests/unit/test_hundred_thousand_ops.py checks
(``hakmem_verify.workloads.seeded.random_ops(**ACCEPTANCE)``: sizes 0..1024, 4 virtual
threads, cross-thread frees), on the seed Config.  Each repetition replays
the sequence on a fresh FastAllocator and then on a fresh RefAllocator in this
process (``hakmem_verify.workloads.seeded.run_bare``: no checks, no data
writes); it prints the median ops/s of each and the ratio fast/ref.

Both are Python models over simulated memory: the numbers compare the cost
of the models' bookkeeping, not of the C allocator.

``--baseline DIR`` also times the ``hakmem_verify.models.fast`` of another checkout (e.g. a
``git worktree`` of main) in the same process, interleaved with this one, and
prints the ratio new/baseline: on a shared machine only such in-process
ratios are comparable between two versions.

Run:  .venv/bin/python bench/bench_allocators.py [--repeat 3] [--baseline DIR]
Exit status 0; 2 on bad usage (a --baseline without hakmem_verify.models.fast in it).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_common import fresh_rate
from hakmem_verify.workloads.seeded import ACCEPTANCE, random_ops, run_bare
from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.ref import RefAllocator


def ops_per_second(cls, ops) -> float:
    """Ops/s of replaying ops (alloc/free only) on a fresh ``cls(Config())``."""
    return fresh_rate(cls, ops, run_bare)


def load_baseline(root: str):
    """FastAllocator of the fast model's package (``hakmem_verify/models/fast``) under ``root``,
    imported under another name (its relative imports stay inside it; the contract it imports
    is this checkout's)."""
    pkg = os.path.join(os.path.abspath(root), "hakmem_verify", "models", "fast")
    if not os.path.isfile(os.path.join(pkg, "__init__.py")):
        raise FileNotFoundError(f"no hakmem_verify/models/fast/__init__.py under {root}; give the root "
                                f"of another checkout of this repository")
    spec = importlib.util.spec_from_file_location("hakmem_fast_baseline",
                                                  os.path.join(pkg, "__init__.py"),
                                                  submodule_search_locations=[pkg])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod.FastAllocator


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline", metavar="DIR",
                    help="root of another checkout whose hakmem_verify.models.fast is timed alongside")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")
    ops = random_ops(**ACCEPTANCE)
    try:
        baseline = load_baseline(args.baseline) if args.baseline else None
    except FileNotFoundError as e:
        ap.error(f"--baseline: {e}")
    runs = {"fast": [], "ref": []}
    if baseline is not None:
        runs["baseline"] = []
    for _ in range(args.repeat):
        runs["fast"].append(ops_per_second(FastAllocator, ops))
        runs["ref"].append(ops_per_second(RefAllocator, ops))
        if baseline is not None:
            runs["baseline"].append(ops_per_second(baseline, ops))
    print(f"workload: {len(ops):,} ops (seed {ACCEPTANCE['seed']}, {ACCEPTANCE['threads']} "
          f"threads, sizes 0..1024), seed Config, {args.repeat} runs each, Python "
          f"{sys.version.split()[0]}")
    med = {}
    for name, xs in runs.items():
        med[name] = statistics.median(xs)
        print(f"{name:12s} median {med[name]:>11,.0f} ops/s   runs: "
              + ", ".join(f"{x:,.0f}" for x in xs))
    print(f"ratio fast/ref: {med['fast'] / med['ref']:.2f}")
    if baseline is not None:
        pairs = statistics.median(n / b for n, b in zip(runs["fast"], runs["baseline"]))
        print(f"ratio baseline/ref: {med['baseline'] / med['ref']:.2f}   "
              f"fast/baseline (median of the paired runs): {pairs:.3f}   "
              f"(baseline: {os.path.abspath(args.baseline)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
