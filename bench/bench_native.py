"""The C pool's speed, measured in C, in one run: ns per alloc+free pair (1 thread,
4 threads, 4 threads with 30% remote frees) against the system malloc with the same loop,
beside the design's targets; and what the harness costs: lockstep ops/s on the C pool
against the Python model.

    .venv/bin/python bench/bench_native.py [--pairs N] [--lockstep-ops N]

The pool is the seed's Config without the debug table (free is not validated: the
design's hot path); each thread allocates 16 blocks of 64 bytes, touches them, frees them
(30%: passes them to the next thread, which frees them remotely).  ns/pair = wall time /
pairs per thread (on this 2-core machine 4 threads share 2 cores).  Prints a markdown table.
"""
from __future__ import annotations

import argparse
import random
import sys
import time

from hakmem_verify.models.native import build, unavailable_reason
from hakmem_verify.models.native.allocator import c_config
from hakmem_verify.contract.api import Config

TARGETS = {"before (design)": 83.0, "after (design target)": "40-50"}


POOL, MALLOC, POOL_CHECKED = 0, 1, 2


def pairs_ns(threads: int, remote: int, pairs: int, mode: int, size: int = 64,
             config: Config = Config()) -> float:
    """Best of 3 runs of the C loop: ns per pair per thread."""
    mod = build.load()
    cfg = c_config(mod.ffi, config)
    return min(mod.lib.hk_bench_pairs_cfg(cfg, threads, remote, pairs, mode, size)
               for _ in range(3))


def lockstep_rate(impl: str, nops: int, seed: int = 0) -> float:
    """Ops/s of the lockstep oracle (reference + impl, L2 checks) on a random alloc/free mix."""
    from hakmem_verify.explore.impl import load_impl
    from hakmem_verify.models.ref import RefAllocator
    from hakmem_verify.oracle.lockstep import Oracle
    from hakmem_verify.contract.ops import Alloc, Free
    cfg = Config(slab_size=4096)
    oracle = Oracle(RefAllocator(cfg), load_impl(impl)(cfg))
    rng = random.Random(seed)
    start = time.perf_counter()
    for _ in range(nops):
        handles = list(oracle.handles)
        if handles and rng.random() < 0.5:
            oracle.apply(Free(rng.choice(handles), rng.randrange(4)))
        else:
            oracle.apply(Alloc(rng.randrange(0, 1025), rng.randrange(4)))
    return nops / (time.perf_counter() - start)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=2_000_000, help="pairs per thread")
    ap.add_argument("--lockstep-ops", type=int, default=3000)
    args = ap.parse_args(argv)
    reason = unavailable_reason()
    if reason:
        print(reason, file=sys.stderr)
        return 2
    print(f"bench_native: {args.pairs:,} alloc+free pairs per thread, best of 3", file=sys.stderr)
    print("| loop | hakmem_verify.models.native ns/pair | with debug table | system malloc ns/pair | "
          "native / malloc | design (ns/op) |")
    print("|---|---|---|---|---|---|")
    for label, threads, remote in (("1 thread", 1, 0), ("4 threads", 4, 0),
                                   ("4 threads, 30% remote", 4, 30)):
        n = pairs_ns(threads, remote, args.pairs, POOL)
        d = pairs_ns(threads, remote, args.pairs, POOL_CHECKED)
        m = pairs_ns(threads, remote, args.pairs, MALLOC)
        design = "83 before, 40-50 target" if threads == 1 else "-"
        print(f"| {label} | {n:.1f} | {d:.1f} | {m:.1f} | {n / m:.2f}x | {design} |")
    every = pairs_ns(1, 0, args.pairs, POOL, config=Config(flush_interval=1))
    batched = pairs_ns(1, 0, args.pairs, POOL)
    print()
    print(f"Statistics batching, 1 thread: flush_interval=1 (an atomic add per event) "
          f"{every:.1f} ns/pair, flush_interval=256 {batched:.1f} ns/pair: batching saves "
          f"{(every - batched) / 2:.2f} ns per event (2 events per pair)")
    print()
    print("| lockstep (reference + impl, L2 checks) | ops/s |")
    print("|---|---|")
    for impl in ("fast", "native"):
        print(f"| {impl} | {lockstep_rate(impl, args.lockstep_ops):,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
