"""What checking costs: an L2-checked op against the same op on the allocators called directly.

Everything runs in ONE process, in interleaved rounds, so the ratios are comparable on a
noisy shared machine (the absolute rates are not).

Workload (the seed ``Config()``): ~2,000 live blocks over 4 threads, sizes 0..1024; the
steady-state mix is 40% Alloc, 40% Free (30% of the frees by another thread, so they go
to a remote stack), 10% Write, 10% Read, over random live handles.  Ops are generated
before timing.

1. **check cost**: ops/s of ``Oracle(RefAllocator, FastAllocator, check_level=L)`` for
   L = 2 and 0, and L2 without the path-conformance checks ("L2-safety"), against
   "direct": the same calls on a RefAllocator and a FastAllocator with no oracle (alloc,
   free, write, read on both).  Ratio = direct / checked.  "calls": only the allocator
   calls the L0 oracle itself makes (usable_size and the fill write at alloc, the data
   read before a free, exact_stats after each op), the floor of any lockstep check.
2. **cached blocks**: the same mix at L2 after one thread (tid 0) allocated 20,000
   blocks and freed them all, so its magazines hold ~16,000 free blocks (2,048 per
   class); ratio = rate with them / rate without.
3. **Hypothesis**: steps/s of the lockstep machine against a trivial one-rule machine
   (``bench_lockstep.bench_hypothesis`` / ``bench_trivial``), same settings, same seed.

Run:  .venv/bin/python bench/bench_check_cost.py           (about 2 minutes)
      .venv/bin/python bench/bench_check_cost.py --quick   (a smoke run)
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_common import add_alloc
from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.contract.api import Config
from hakmem_verify.oracle.lockstep import Oracle
from hakmem_verify.contract.ops import Alloc, AllocMany, Free, FreeMany, Read, Write

TIDS = 4
LIVE = 2000


def make_ops(n: int, seed: int, first_handle: int, live: list, tid_of: dict):
    """A steady-state op list; handles of Allocs are known in advance (no OOM here)."""
    rng = random.Random(seed)
    live = list(live)
    nxt = first_handle
    ops = []
    for _ in range(n):
        r = rng.random()
        if r < 0.4 or not live:
            tid = rng.randrange(TIDS)
            nxt = add_alloc(ops, live, tid_of, nxt, rng.randrange(0, 1025), tid)
        elif r < 0.8:
            h = live.pop(rng.randrange(len(live)))
            tid = tid_of[h]
            if rng.random() < 0.3:
                tid = (tid + 1 + rng.randrange(TIDS - 1)) % TIDS
            ops.append(Free(h, tid))
        elif r < 0.9:
            ops.append(Write(rng.choice(live), 0, b"\x5a" * 8))   # fits the smallest class
        else:
            ops.append(Read(rng.choice(live), 0, 8))
    return ops, live


class Direct:
    """The same calls on both allocators, no oracle: the cost of the allocators alone."""

    def __init__(self, cfg):
        self.ref, self.fast = RefAllocator(cfg), FastAllocator(cfg)
        self.addr = {}
        self.next = 0

    def run(self, ops):
        ref, fast, addr = self.ref, self.fast, self.addr
        for op in ops:
            t = type(op)
            if t is Alloc:
                addr[self.next] = (ref.alloc(op.size, op.tid), fast.alloc(op.size, op.tid))
                self.next += 1
            elif t is Free:
                ra, fa = addr.pop(op.handle)
                ref.free(ra, op.tid)
                fast.free(fa, op.tid)
            elif t is Write:
                ra, fa = addr[op.handle]
                ref.write(ra, op.data)
                fast.write(fa, op.data)
            else:
                ra, fa = addr[op.handle]
                ref.read(ra, op.n)
                fast.read(fa, op.n)


class OracleCalls(Direct):
    """Only the allocator calls the L0 oracle makes on both sides, nothing else: alloc with
    usable_size and the fill-pattern write, the data read before a free, the op itself,
    and exact_stats after every op.  No checker can cost less than these calls."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.fill = b"\xa5" * 32

    def run(self, ops):
        ref, fast, addr, fill = self.ref, self.fast, self.addr, self.fill
        for op in ops:
            t = type(op)
            if t is Alloc:
                ra, fa = ref.alloc(op.size, op.tid), fast.alloc(op.size, op.tid)
                n = min(ref.usable_size(ra), fast.usable_size(fa), 32)
                ref.write(ra, fill[:n])
                fast.write(fa, fill[:n])
                addr[self.next] = (ra, fa)
                self.next += 1
            elif t is Free:
                ra, fa = addr.pop(op.handle)
                ref.read(ra, 8)
                fast.read(fa, 8)
                ref.free(ra, op.tid)
                fast.free(fa, op.tid)
            else:
                super().run([op])
            ref.exact_stats()
            fast.exact_stats()


def build(cached: bool, quick: bool):
    """An oracle and a direct pair in the same state; ops to time."""
    cfg = Config()
    rng = random.Random(7)
    o = Oracle(RefAllocator(cfg), FastAllocator(cfg), l3_every=0, check_level=2)
    d = Direct(cfg)
    calls = None if cached else OracleCalls(cfg)
    extra = []
    if cached:
        n = 4000 if quick else 20000
        extra = [AllocMany(s, n // 8, 0) for s in (8, 16, 32, 64, 128, 256, 512, 1024)]
        extra.append(FreeMany(n, 0, newest=True))
    pre = [Alloc(rng.randrange(0, 1025), rng.randrange(TIDS)) for _ in range(LIVE)]
    o.check_level = 0
    o.run(pre + extra)
    # the direct pair replays the same calls
    for op in pre:
        d.run([op])
        if calls is not None:
            calls.run([op])
    if cached:
        for op in extra[:-1]:
            for _ in range(op.n):
                d.run([Alloc(op.size, op.tid)])
        for h in sorted(d.addr, reverse=True)[:extra[-1].n]:
            d.run([Free(h, 0)])
    o.check_level = 2
    o.checker.full()            # the incremental view starts from a checked heap
    tid_of = {h: b.tid for h, b in o.handles.items()}
    assert len(d.addr) == len(o.handles), (len(d.addr), len(o.handles))
    direct = {"direct": d} if calls is None else {"direct": d, "calls": calls}
    return o, direct, tid_of


def time_chunk(fn, ops) -> float:
    t0 = time.perf_counter()
    fn(ops)
    return len(ops) / (time.perf_counter() - t0)


def bench_cost(rounds: int, chunk: int, quick: bool) -> dict:
    cases = {name: build(cached, quick) for name, cached in (("plain", False), ("cached", True))}
    rates = {k: [] for k in ("plain L2", "plain L2-safety", "plain L0", "plain calls",
                             "plain direct", "cached L2", "cached direct")}
    seed = 100
    for r in range(rounds):
        for name, (o, direct, tid_of) in cases.items():
            levels = ("L2", "L2-safety", "L0") + tuple(direct)
            for lv in (levels if r % 2 == 0 else tuple(reversed(levels))):
                seed += 1
                if lv in direct:
                    d = direct[lv]
                    ops, _ = make_ops(chunk, seed, d.next, list(d.addr), dict(tid_of))
                    if name == "cached" and lv != "direct":
                        continue
                    # the direct runners' handles are the oracle's: keep them all in step
                    rates[f"{name} {lv}"].append(time_chunk(d.run, ops))
                    o.check_level = 0
                    o.run(ops)
                    for other in direct.values():
                        if other is not d:
                            other.run(ops)
                elif name == "cached" and lv != "L2":
                    continue
                else:
                    ops, _ = make_ops(chunk, seed, o.next_handle, list(o.handles), tid_of)
                    o.check_level = 0 if lv == "L0" else 2
                    o.conformance.enabled = lv != "L2-safety"
                    if o.check_level == 2:
                        o.checker.full()
                    rates[f"{name} {lv}"].append(time_chunk(o.run, ops))
                    for d in direct.values():
                        d.run(ops)
                for h, b in o.handles.items():
                    tid_of.setdefault(h, b.tid)
    med = {k: statistics.median(v) for k, v in rates.items()}
    mags = sum(len(m) for t in cases["cached"][0].fast.snapshot().threads.values()
               for m in t.magazines)
    return dict(rates=med, cached_blocks=mags,
                l2_vs_direct=med["plain direct"] / med["plain L2"],
                l0_vs_direct=med["plain direct"] / med["plain L0"],
                calls_vs_direct=med["plain direct"] / med["plain calls"],
                l2_vs_l0=med["plain L0"] / med["plain L2"],
                conformance_share=1 - med["plain L2"] / med["plain L2-safety"],
                cached_vs_plain_l2=med["cached L2"] / med["plain L2"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-hypothesis", action="store_true")
    args = ap.parse_args()
    rounds, chunk = (3, 300) if args.quick else (7, 1500)
    print(f"check cost: {rounds} rounds of {chunk} ops per case (seed Config, ~{LIVE} live, "
          f"{TIDS} threads, 30% of frees cross-thread)", flush=True)
    res = bench_cost(rounds, chunk, args.quick)
    for k, v in res["rates"].items():
        print(f"  {k:<14} {v:>10,.0f} ops/s")
    print(f"  blocks cached in magazines (cached case): {res['cached_blocks']:,}")
    print(f"  direct / L2-checked: {res['l2_vs_direct']:.1f}x   (target <= 5x)")
    print(f"  direct / L0-checked: {res['l0_vs_direct']:.1f}x")
    print(f"  direct / the oracle's allocator calls alone: {res['calls_vs_direct']:.1f}x   "
          f"(the floor of any lockstep check: usable_size, fill write, read before free, "
          f"exact stats)")
    print(f"  L0 / L2 (what checking the footprint adds to the lockstep): {res['l2_vs_l0']:.1f}x")
    print(f"  share of L2 time in the path-conformance checks (CONF-*): "
          f"{res['conformance_share']:.0%}")
    print(f"  L2 with cached / without: {res['cached_vs_plain_l2']:.2f}   (target >= 0.8)")
    if not args.no_hypothesis:
        import bench_lockstep as bl
        n = 60 if args.quick else 300
        hyp = bl.bench_hypothesis(n)
        lock, triv = hyp["lockstep"]["rate"], hyp["trivial"]["rate"]
        print(f"hypothesis ({n} examples, 50 steps): lockstep {lock:,.0f} steps/s, trivial "
              f"{triv:,.0f} steps/s, trivial/lockstep {triv / lock:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
