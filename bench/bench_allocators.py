"""Throughput of the fast model (hakmem_fast) against the reference (hakmem_ref).

Measures alloc/free ops per second of replaying the acceptance workload, the
100,000-op sequence that tests/unit/test_hundred_thousand_ops.py checks
(``fuzz.workloads.random_ops(**ACCEPTANCE)``: sizes 0..1024, 4 virtual
threads, cross-thread frees), on the seed Config.  Each repetition replays
the sequence on a fresh FastAllocator and then on a fresh RefAllocator in this
process (``fuzz.workloads.replay``: alloc/free only, no checks, no data
writes); it prints the median ops/s of each and the ratio fast/ref.

Both are Python models over simulated memory: the numbers compare the cost
of the models' bookkeeping, not of the C allocator.

Run:  .venv/bin/python bench/bench_allocators.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fuzz.workloads import ACCEPTANCE, random_ops, replay  # noqa: E402
from hakmem_fast import FastAllocator  # noqa: E402
from hakmem_ref import RefAllocator  # noqa: E402
from specs.api import Config  # noqa: E402


def ops_per_second(cls, ops) -> float:
    allocator = cls(Config())
    gc.collect()
    t0 = time.perf_counter()
    replay(allocator, ops)
    return len(ops) / (time.perf_counter() - t0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    ops = random_ops(**ACCEPTANCE)
    runs = {"hakmem_fast": [], "hakmem_ref": []}
    for _ in range(args.repeat):
        runs["hakmem_fast"].append(ops_per_second(FastAllocator, ops))
        runs["hakmem_ref"].append(ops_per_second(RefAllocator, ops))
    print(f"workload: {len(ops):,} ops (seed {ACCEPTANCE['seed']}, {ACCEPTANCE['threads']} "
          f"threads, sizes 0..1024), seed Config, {args.repeat} runs each, Python "
          f"{sys.version.split()[0]}")
    med = {}
    for name, xs in runs.items():
        med[name] = statistics.median(xs)
        print(f"{name:12s} median {med[name]:>11,.0f} ops/s   runs: "
              + ", ".join(f"{x:,.0f}" for x in xs))
    print(f"ratio fast/ref: {med['hakmem_fast'] / med['hakmem_ref']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
