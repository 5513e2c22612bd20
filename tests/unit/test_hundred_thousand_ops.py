"""Acceptance: 100,000 random alloc/free ops on the seed Config, fast model against reference.

One seeded op sequence (``hakmem_verify.workloads.seeded.random_ops``: sizes 0..1024, four
virtual threads, cross-thread frees) is applied to FastAllocator and
RefAllocator in lockstep by handle: the k-th alloc on each side is handle k,
whatever address each side picks.  Each block carries its handle as an 8-byte
tag, read back on both sides before it is freed.  The full invariant
catalogue (``check(3)``, O(heap)) runs every 5,000 ops and at the end.  Then
every block is freed, every thread exits and the pool quiesces: every slab
left must be entirely bitmap-free and the exact statistics must equal the
reference's.  The sequence is the one ``bench/bench_allocators.py`` times.
"""
from __future__ import annotations


from hakmem_verify.workloads.seeded import ACCEPTANCE, random_ops
from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.ref import RefAllocator
from hakmem_verify import check as inv
from hakmem_verify.contract.api import Config
from hakmem_verify.contract.ops import Alloc
from hakmem_verify.check import check_impl

N_OPS = ACCEPTANCE["n"]               # 100,000
THREADS = ACCEPTANCE["threads"]       # 4
CHECK_EVERY = 5_000


def tag(handle: int) -> bytes:
    return handle.to_bytes(8, "little")


def test_a_hundred_thousand_random_ops_on_four_threads_match_the_reference_and_leak_nothing():
    ops = random_ops(**ACCEPTANCE)
    assert len(ops) == N_OPS == 100_000
    cfg = Config()
    fa, ref = FastAllocator(cfg), RefAllocator(cfg)
    fast_addr, ref_addr, alloc_tid = [], [], []     # handle -> address, allocating tid
    live = set()
    remote_frees = 0
    for k, op in enumerate(ops, 1):
        tid = op.tid
        if isinstance(op, Alloc):
            arg = op.size
            f, r = fa.alloc(arg, tid), ref.alloc(arg, tid)
            assert f is not None and r is not None, f"op {k}: out of memory on the seed Config"
            assert fa.usable_size(f) == ref.usable_size(r) >= arg
            h = len(fast_addr)
            fa.write(f, tag(h))
            ref.write(r, tag(h))
            fast_addr.append(f)
            ref_addr.append(r)
            alloc_tid.append(tid)
            live.add(h)
        else:
            h = op.handle
            assert fa.read(fast_addr[h], 8) == tag(h) == ref.read(ref_addr[h], 8), \
                f"op {k}: handle {h}'s tag was overwritten"
            remote_frees += tid != alloc_tid[h]
            fa.free(fast_addr[h], tid)
            ref.free(ref_addr[h], tid)
            live.discard(h)
        if k % CHECK_EVERY == 0:
            check_impl(fa, 3)
            assert fa.exact_stats() == ref.exact_stats(), f"after op {k}"
            assert len(fa.live_blocks()) == len(ref.live_blocks()) == len(live)
    check_impl(fa, 3)
    assert remote_frees > 10_000
    assert all(fa.path_counts[p] > 0 for p in ("tls_mag", "mini_mag", "refill", "slow",
                                               "new_slab", "free_magazine", "free_remote",
                                               "drain", "stat_flush"))

    for h in sorted(live):                            # free the rest, a quarter of it remotely
        assert fa.read(fast_addr[h], 8) == tag(h)
        tid = h % THREADS
        fa.free(fast_addr[h], tid)
        ref.free(ref_addr[h], tid)
    for tid in range(THREADS):
        fa.thread_exit(tid)
        ref.thread_exit(tid)
    fa.quiesce()
    ref.quiesce()

    snap = fa.snapshot()
    assert not snap.threads
    assert all(s.free_count == s.nblocks for s in snap.slabs.values()), \
        [hex(b) for b, s in snap.slabs.items() if s.free_count != s.nblocks]
    inv.qui_01_empty(snap, inv.LiveSet.from_blocks({}, cfg))
    check_impl(fa, 3)
    assert fa.live_blocks() == {} and ref.live_blocks() == {}
    assert fa.exact_stats() == ref.exact_stats()
    assert fa.stats() == fa.exact_stats()             # every batch flushed by thread exit
    assert fa.exact_stats().allocs == fa.exact_stats().frees
    assert sum(fa.exact_stats().allocs) == len(fast_addr)
