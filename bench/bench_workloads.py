"""Replay speed of the standard workloads: bare (no oracle) and checked (lockstep oracle, L2).

Generates every workload of ``hakmem_verify.workloads.seeded.WORKLOADS`` at ``--scale`` (4
threads, seed 0) and picks the largest (most ops).  Then, in this process:

* **bare**: ``hakmem_verify.workloads.seeded.run_bare`` on a fresh ``FastAllocator(Config())``
  (and on a fresh ``RefAllocator``): alloc/free/write/thread exit only, no
  checks; median of ``--repeat`` runs;
* **checked**: ``hakmem_verify.oracle.lockstep.Oracle(ref, fast, check_level=2, l3_every=25)``
  over the same ops, then ``teardown()`` (free everything, quiesce, full
  check): what ``hakmem-fuzz replay --workload NAME`` does; one run.  Then
  once more with ``l3_every=0`` (L2 only) to show what the periodic full-heap
  check costs.

Prints ops/s of each and the ratio bare/checked.  Both allocators are Python
models over simulated memory: the numbers are the harness's speed, not the C
allocator's.

Run:  .venv/bin/python bench/bench_workloads.py [--scale 8] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_common import fresh_rate, ops_per_second
from hakmem_verify.workloads.seeded import WORKLOADS, generate, run_bare
from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.contract.api import Config
from hakmem_verify.oracle.lockstep import L3_EVERY, Oracle


def bare(cls, ops) -> float:
    """Ops/s of ``run_bare`` (no checks) on a fresh ``cls(Config())``."""
    return fresh_rate(cls, ops, run_bare)


def checked(ops, l3_every: int = L3_EVERY) -> float:
    """Ops/s of the lockstep oracle at check level 2 over ops, its teardown included."""
    oracle = Oracle(RefAllocator(Config()), FastAllocator(Config()), l3_every=l3_every,
                    check_level=2)

    def run():
        oracle.run(ops)
        oracle.teardown()
    return ops_per_second(len(ops), run)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    sizes = {name: len(generate(name, args.scale).ops) for name in WORKLOADS}
    print(f"ops per workload at scale {args.scale}, 4 threads: "
          + ", ".join(f"{n} {k:,}" for n, k in sizes.items()))
    name = max(sizes, key=sizes.get)
    ops = generate(name, args.scale).ops
    print(f"largest: {name}, {len(ops):,} ops; seed Config; Python {sys.version.split()[0]}")
    for cls in (FastAllocator, RefAllocator):
        xs = [bare(cls, ops) for _ in range(args.repeat)]
        print(f"bare    {cls.__name__:<14} median {statistics.median(xs):>10,.0f} ops/s   runs: "
              + ", ".join(f"{x:,.0f}" for x in xs))
    fast = statistics.median(bare(FastAllocator, ops) for _ in range(args.repeat))
    c = checked(ops)
    print(f"checked L2, L3 every {L3_EVERY} ops + teardown  {c:>10,.0f} ops/s   "
          f"(bare fast / checked: {fast / c:.0f})")
    c0 = checked(ops, 0)
    print(f"checked L2, no periodic L3 + teardown  {c0:>10,.0f} ops/s   "
          f"(bare fast / checked: {fast / c0:.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
