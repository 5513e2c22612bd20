"""Seeded op sequences for the tiny pool, shared by the acceptance test and the benchmark.

An op sequence is a list of ops of the op language (``hakmem_verify.contract.ops``) that
names blocks by *handle*, not by address (the two allocators place blocks differently):

    Alloc(size, tid)         the k-th Alloc of the list creates handle k
    Free(handle, tid)        free that handle's block from thread tid

Every free names a handle that is live at that point of the list, so a run on
an allocator that never runs out of memory (the seed Config has no slab
limit) frees only live blocks.  A free by a thread other than the allocating
one is a cross-thread free: in ``hakmem_verify.models.fast`` it takes the remote route when
the block's slab is still owned by the allocating thread.

>>> ops = random_ops(6, seed=1, threads=2, sizes=(8, 16))
>>> type(ops[0]).__name__, len(ops)
('Alloc', 6)
>>> ops == random_ops(6, seed=1, threads=2, sizes=(8, 16))
True

The standard allocator workloads (larson, xmalloc-test, mstress, cache-scratch,
sh6bench, glibc-thread) are generated in the op language of
``hakmem_verify.contract.ops`` by ``hakmem_verify.workloads.standard`` and listed in ``WORKLOADS``
here; ``generate(name, scale, seed, threads)`` builds one.  A name may carry a
preset of the generator's parameters, ``NAME:PRESET`` (``larson:tiny``,
``larson:default``, ``larson:churn``; ``hakmem_verify.workloads.standard.PRESETS``).
"""
from __future__ import annotations

import random

from hakmem_verify.contract.ops import (Alloc, AllocMany, FlushStats, Free, FreeMany, Quiesce, Read,
                                        ThreadExit, Write)

# The acceptance workload: tests/unit/test_hundred_thousand_ops.py checks it,
# bench/bench_allocators.py times it.  random_ops(**ACCEPTANCE)
ACCEPTANCE = dict(n=100_000, seed=20251026, threads=4, sizes=range(0, 1025))


def random_ops(n: int, seed: int, threads: int = 4, sizes=range(0, 1025),
               alloc_prob: float = 0.55, cross_thread: float = 0.3) -> list:
    """``n`` random alloc/free ops over ``threads`` virtual threads (tids 0..threads-1).

    Each op is an alloc with probability ``alloc_prob`` (always when nothing is
    live), else the free of a uniformly chosen live handle.  The size of an
    alloc is ``rng.choice(sizes)``; a free is done by a thread other than the
    allocating one with probability ``cross_thread``.  Deterministic in
    ``seed``.  Cost: O(n).
    """
    rng = random.Random(seed)
    ops = []
    live = []            # live handles (unordered; swap-remove)
    owner = []           # handle -> allocating tid
    for _ in range(n):
        if not live or rng.random() < alloc_prob:
            tid = rng.randrange(threads)
            ops.append(Alloc(rng.choice(sizes), tid))
            live.append(len(owner))
            owner.append(tid)
        else:
            i = rng.randrange(len(live))
            live[i], live[-1] = live[-1], live[i]
            h = live.pop()
            tid = owner[h]
            if threads > 1 and rng.random() < cross_thread:
                tid = (tid + rng.randrange(1, threads)) % threads
            ops.append(Free(h, tid))
    return ops


def run_bare(allocator, ops) -> list:
    """Apply ops to one allocator, no oracle and no checks: the loop the benchmarks time
    (``bench/bench_allocators.py``, ``bench/bench_workloads.py``).

    Returns the address of every handle.  Handles Alloc, AllocMany, Free,
    FreeMany, Write, Read, ThreadExit, FlushStats and Quiesce (other ops are
    ignored).  A handle whose alloc ran out of memory is None and its frees are
    skipped.  Cost: O(ops).
    """
    addrs, live = [], {}
    alloc, free = allocator.alloc, allocator.free
    for op in ops:
        kind = type(op)
        if kind is Alloc:
            a = alloc(op.size, op.tid)
            if a is not None:
                live[len(addrs)] = a
            addrs.append(a)
        elif kind is Free:
            a = live.pop(op.handle, None)
            if a is not None:
                free(a, op.tid)
        elif kind is Write:
            if op.handle in live:
                allocator.write(live[op.handle] + op.offset, op.data)
        elif kind is Read:
            if op.handle in live:
                allocator.read(live[op.handle] + op.offset, op.n)
        elif kind is ThreadExit:
            allocator.thread_exit(op.tid)
        elif kind is AllocMany:
            for _ in range(op.n):
                a = alloc(op.size, op.tid)
                if a is None:
                    break
                live[len(addrs)] = a
                addrs.append(a)
        elif kind is FreeMany:
            for h in sorted(live, reverse=op.newest)[:op.n]:
                free(live.pop(h), op.tid)
        elif kind is FlushStats:
            allocator.flush_stats()
        elif kind is Quiesce:
            allocator.quiesce()
    return addrs


# the standard workloads, re-exported (they import nothing from here)
from .standard import (  # noqa: E402
    PRESETS, WORKLOADS, Workload, generate, workload_names)

__all__ = ["ACCEPTANCE", "PRESETS", "WORKLOADS", "Workload", "generate", "random_ops",
           "run_bare", "workload_names"]
