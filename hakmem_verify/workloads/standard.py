"""The standard allocator workloads, as op sequences (``hakmem_verify.contract.ops``).

Allocator engineers judge a design by a handful of benchmark programs
(mimalloc-bench's larson, xmalloc-test, mstress, cache-scratch, sh6bench and
glibc-thread).  Each generator here replays the *allocation pattern* of one of
them in the op language (``Alloc``, ``Free``, ``Write``, ``ThreadExit``) over
virtual threads, so the lockstep oracle can check it and ``explore`` can
measure it.  The parameters of the originals are in REFERENCES.md; here they
are scaled down by a constant and multiplied by ``scale`` (an int >= 1), so
the op count grows linearly with ``scale`` (about 1,000-3,300 ops at scale 1,
4 threads).

Threads run concurrently in the originals.  Here each virtual thread is a
Python generator that yields after every step, and a seeded scheduler picks
the next thread to step at random: the interleaving, like everything else, is
a function of ``seed``.

Handles are numbered as the oracle numbers them: the n-th ``Alloc`` of the
list is handle n.  That holds while no alloc fails, i.e. on Configs without a
memory limit (``max_slabs_per_class=None``, the seed's), which is what the
workloads are for.  Sizes outside the tiny pool's range (above 1024 B) are not
emitted: the alloc and the later free of that block are counted in
``Workload.skipped`` instead.

A workload may have named parameter presets (``PRESETS``), chosen as
``NAME:PRESET``: ``larson:tiny``, ``larson:default`` (= ``larson``) and
``larson:churn`` (``LARSON_PRESETS``; the seed names no larson.sh profile).

>>> w = generate("larson", scale=1, seed=3, threads=2)
>>> w.ops == generate("larson", scale=1, seed=3, threads=2).ops
True
>>> type(w.ops[0]).__name__
'Alloc'
"""
from __future__ import annotations

import random
from typing import Callable

from .builder import SKIPPED, TINY_MAX, OpBuilder, Workload, interleave

# ============================================================================
# The six workloads
# ============================================================================


#: Named presets of the larson generator: ``generate("larson:NAME", ...)`` (the CLI's
#: ``--workload larson:NAME``).  The seed mentions a "Unified larson.sh benchmark runner
#: with profiles" but names no profile and gives no parameter, so these are defined here;
#: plain ``larson`` is ``larson:default``.
LARSON_PRESETS: dict = {
    # the scaled-down ``larson 5 8 1000 5000 100 4141 P`` of mimalloc-bench (as before)
    "default": dict(slots_per_scale=32, rounds_per_slot=4, generations=3,
                    min_size=8, max_size=1000),
    # the same churn over the small classes only: sizes in [8, 128)
    "tiny": dict(slots_per_scale=32, rounds_per_slot=4, generations=3,
                 min_size=8, max_size=128),
    # thread churn: the same number of rounds, with a worker replaced 4 times as often
    # (12 generations of slots rounds each instead of 3 of 4 x slots)
    "churn": dict(slots_per_scale=32, rounds_per_slot=1, generations=12,
                  min_size=8, max_size=1000),
}


def larson(b: OpBuilder, rng: random.Random, scale: int, threads: int,
           slots_per_scale: int = 32, rounds_per_slot: int = 4, generations: int = 3,
           min_size: int = 8, max_size: int = 1000) -> dict:
    """larson (``5 8 1000 5000 100 4141 P``): a server whose worker threads are replaced.

    Sizes uniform in [min_size, max_size) ([8, 1000) as the original).  The main thread
    (tid 0) pre-fills one array of ``slots`` blocks per worker and shuffles it; each
    worker then does ``rounds`` times "free a random slot, allocate a new size in it".
    A worker then exits and a successor (a new tid) inherits its array, so the blocks
    the predecessor and the main thread allocated are freed by another thread.
    Scaled: slots = slots_per_scale x scale (32 x scale; original 5000), rounds =
    rounds_per_slot x slots per generation (4), ``generations`` generations of workers
    (3; tids 1.. for generation 0, then 1 + g x threads + t).

    Presets (``LARSON_PRESETS``, named as ``larson:NAME``; the seed's larson.sh has
    "profiles" but the seed names none and gives no parameter, so these are this
    harness's):

    * ``default`` -- the parameters above; the same ops as plain ``larson``.
    * ``tiny``    -- sizes in [8, 128) (the small classes), otherwise ``default``.
    * ``churn``   -- thread churn: rounds = 1 x slots per generation, 12 generations,
      so as many rounds as ``default`` with a worker replaced 4 times as often.
    """
    slots, gens = slots_per_scale * scale, generations
    rounds = rounds_per_slot * slots
    arrays = []
    for _ in range(threads):
        arr = [b.alloc(rng.randrange(min_size, max_size), 0) for _ in range(slots)]
        rng.shuffle(arr)
        arrays.append(arr)

    def worker(t):
        arr = arrays[t]
        for g in range(gens):
            tid = 1 + g * threads + t
            for _ in range(rounds):
                i = rng.randrange(slots)
                b.free(arr[i], tid)
                arr[i] = b.alloc(rng.randrange(min_size, max_size), tid)
                yield
            b.thread_exit(tid)
    interleave(rng, [worker(t) for t in range(threads)])
    return dict(slots=slots, rounds=rounds, generations=gens, sizes=(min_size, max_size))


def xmalloc_test(b: OpBuilder, rng: random.Random, scale: int, threads: int) -> dict:
    """xmalloc-test (``-w P -t 5 -s 64``): producers allocate, consumers free.

    Producers (tids 0..P-1, P = threads // 2) allocate batches of 64-byte
    objects and push each full batch on a shared LIFO of at most ``max_batches``
    batches (waiting while it is full); consumers (tids P..threads-1) pop a
    batch and free all of it, so every free is a cross-thread free.  Scaled:
    batch = 64 objects (original 4096), 4 x scale batches per producer, at
    most 8 batches queued (original 100).  Needs threads >= 2.
    """
    if threads < 2:
        raise ValueError(f"xmalloc-test needs threads >= 2 (producers and consumers), "
                         f"got {threads}")
    producers, consumers = threads // 2, threads - threads // 2
    batch, per_producer, max_batches = 64, 4 * scale, 8
    lifo, done = [], [0]

    def producer(tid):
        for _ in range(per_producer):
            while len(lifo) >= max_batches:
                yield
            objs = []
            for _ in range(batch):
                objs.append(b.alloc(64, tid))
                yield
            lifo.append(objs)
        done[0] += 1

    def consumer(tid):
        while lifo or done[0] < producers:
            if not lifo:
                yield
                continue
            for h in lifo.pop():
                b.free(h, tid)
                yield
    interleave(rng, [producer(t) for t in range(producers)]
               + [consumer(producers + t) for t in range(consumers)])
    return dict(producers=producers, consumers=consumers, batch=batch,
                batches_per_producer=per_producer, max_batches=max_batches)


def mstress(b: OpBuilder, rng: random.Random, scale: int, threads: int) -> dict:
    """mstress (mimalloc-bench ``stress``, ``P 50 25``): churn with a global exchange.

    Each round starts ``threads`` fresh threads; thread t allocates
    ``10 x scale x (t % 8 + 1)`` blocks of 2^(0..4) words (8-128 B) and retains
    half as many of 2^(0..6) words (up to 512 B); 1% of sizes are x100, and of
    those 1% x10000 and 10% x1000 (most of these exceed the tiny range: skipped
    and counted).  After each step it frees a random block of its own with
    probability 66%, and with probability 25% exchanges one with a random
    global transfer slot: the block it takes back was allocated by another
    thread and is freed by this one.  A thread frees what it holds and exits;
    after each round the main thread (tid 0) frees each transfer slot with
    probability 50% (all of them after the last round).  The original's cookie
    check of block contents is the oracle's: it writes a pattern into every new
    block and checks it at every free (DATA-01).  Scaled: 5 rounds (original
    25), 50 x scale transfer slots (original 1000).
    """
    rounds, transfers = 5, 50 * scale
    transfer = [None] * transfers

    def items(shift: int) -> int:
        n = 1 << rng.randrange(shift)
        if rng.random() < 0.01:
            r = rng.random()
            n *= 10000 if r < 0.01 else 1000 if r < 0.11 else 100
        return 8 * n

    def stress(t, tid):
        allocs = 10 * scale * (t % 8 + 1)
        retain = allocs // 2
        data, retained = [], []
        while allocs > 0 or retain > 0:
            if retain == 0 or (rng.random() < 0.5 and allocs > 0):
                allocs -= 1
                data.append(b.alloc(items(5), tid))
            else:
                retain -= 1
                retained.append(b.alloc(items(7), tid))
            if data and rng.random() < 0.66:
                i = rng.randrange(len(data))
                b.free(data[i], tid)
                data[i] = None
            if data and rng.random() < 0.25:
                i, j = rng.randrange(len(data)), rng.randrange(transfers)
                data[i], transfer[j] = transfer[j], data[i]
            yield
        for h in retained + data:
            b.free(h, tid)
        b.thread_exit(tid)

    for n in range(rounds):
        interleave(rng, [stress(t, 1 + n * threads + t) for t in range(threads)])
        for i in range(transfers):
            if rng.random() < 0.5 or n + 1 == rounds:
                b.free(transfer[i], 0)
                transfer[i] = None
    return dict(rounds=rounds, transfers=transfers)


def cache_scratch(b: OpBuilder, rng: random.Random, scale: int, threads: int) -> dict:
    """cache-scratch (``P 1000 1 2000000 P``): passive false sharing.

    The main thread (tid 0) allocates one 1-byte object per worker and hands it
    over; each worker (tids 1..threads) frees the inherited object (a
    cross-thread free into the main thread's slab), then ``iterations`` times
    allocates a 1-byte object, writes it ``writes`` times and frees it.
    Scaled: iterations = 100 x scale (original 1000), writes = 1 op of 8
    bytes per iteration (the original writes its byte 2,000,000 times).
    """
    iterations = 100 * scale
    inherited = [b.alloc(1, 0) for _ in range(threads)]

    def worker(t, tid):
        b.free(inherited[t], tid)
        yield
        for i in range(iterations):
            h = b.alloc(1, tid)
            b.write(h, bytes([(tid + i) & 0xFF]) * 8)
            yield
            b.free(h, tid)
            yield
        b.thread_exit(tid)
    interleave(rng, [worker(t, 1 + t) for t in range(threads)])
    return dict(iterations=iterations, object_size=1)


def _ladder() -> list:
    """sh6bench's size ladder: 1, 2, 4, 7, 11, ... 709 (s -> 3s/2 + 1), each halved to 1."""
    sizes, s = [], 1
    while s < 1000:
        x = s
        while x:
            sizes.append(x)
            x //= 2
        s = s * 3 // 2 + 1
    return sizes


def sh6bench(b: OpBuilder, rng: random.Random, scale: int, threads: int) -> dict:
    """sh6bench (MicroQuill SmartHeap bench): the size ladder through a ring.

    Each thread walks the ladder 1, 2, 4, 7, 11, 17, ... 709, each rung halved
    down to 1, allocating ``n`` blocks of each size (more of the small ones)
    into a ring of ``ring`` slots; when the ring is full it is emptied, the
    older half oldest-first and the newer half newest-first.  No cross-thread
    frees.  Scaled: n = 3 x scale for sizes < 100 and 1 x scale above
    (original 250 and 50), ring = 100 x scale (original 10,000): the ring
    is emptied about twice per walk of the ladder, as in the original.
    """
    ring = 100 * scale
    ladder = _ladder()

    def empty(held, tid):
        half = len(held) // 2
        for h in held[:half]:
            b.free(h, tid)
            yield
        for h in reversed(held[half:]):
            b.free(h, tid)
            yield
        held.clear()

    def worker(tid):
        held = []
        for size in ladder:
            for _ in range((3 if size < 100 else 1) * scale):
                held.append(b.alloc(size, tid))
                yield
                if len(held) >= ring:
                    yield from empty(held, tid)
        yield from empty(held, tid)
        b.thread_exit(tid)
    interleave(rng, [worker(t) for t in range(threads)])
    return dict(ring=ring, rungs=len(ladder))


def inverse_square_size(rng: random.Random, lo: int = 4, hi: int = TINY_MAX) -> int:
    """A size with density ~ 1/s^2 on [lo, hi] (inverse CDF), rounded down."""
    u = rng.random()
    return int(1.0 / (1.0 / lo - u * (1.0 / lo - 1.0 / hi)))


def glibc_thread(b: OpBuilder, rng: random.Random, scale: int, threads: int) -> dict:
    """glibc-thread (glibc's ``bench-malloc-thread``): random replacement per thread.

    Each thread owns ``slots`` slots; each step picks a random slot, frees its
    block if it holds one and allocates a new one.  Sizes are inverse-square
    on [4, 32768] in the original (75% <= 16 B, 99.6% <= 1 KiB); here the
    distribution is clipped to the tiny range, i.e. drawn on [4, 1024]
    (nothing is skipped).  No cross-thread frees.  Scaled: slots = 64 x scale
    (original 1024), 6 x slots steps per thread.
    """
    slots = 64 * scale
    steps = 6 * slots

    def worker(tid):
        held = [None] * slots
        for _ in range(steps):
            i = rng.randrange(slots)
            b.free(held[i], tid)
            held[i] = b.alloc(inverse_square_size(rng), tid)
            yield
        for h in held:
            b.free(h, tid)
        b.thread_exit(tid)
    interleave(rng, [worker(t) for t in range(threads)])
    return dict(slots=slots, steps=steps)


WORKLOADS: dict = {
    "larson": larson,
    "xmalloc-test": xmalloc_test,
    "mstress": mstress,
    "cache-scratch": cache_scratch,
    "sh6bench": sh6bench,
    "glibc-thread": glibc_thread,
}


#: Named parameter presets per workload: ``NAME:PRESET`` (only larson has them).
PRESETS: dict = {"larson": LARSON_PRESETS}


def workload_names() -> list:
    """Every name ``generate`` accepts: the workloads, then ``NAME:PRESET`` of each preset."""
    return list(WORKLOADS) + [f"{w}:{p}" for w, ps in PRESETS.items() for p in ps]


def generate(name: str, scale: int = 1, seed: int = 0, threads: int = 4,
             builder: Callable = OpBuilder) -> Workload:
    """Build workload ``name`` at ``scale`` with ``threads`` worker threads, from ``seed``.

    ``name`` is a workload of ``WORKLOADS`` or ``NAME:PRESET`` with a preset of
    ``PRESETS`` (e.g. ``larson:churn``).  Raises ValueError for an unknown name or
    preset, a scale < 1 or threads < 1.  Cost: O(ops).
    """
    base, sep, preset = name.partition(":")
    gen = WORKLOADS.get(base)
    if gen is None:
        raise ValueError(f"unknown workload {name!r}; choose from "
                         f"{', '.join(workload_names())}")
    kwargs = {}
    if sep:
        presets = PRESETS.get(base, {})
        if preset not in presets:
            raise ValueError(f"unknown workload {name!r}: {base} has "
                             + (f"the presets {', '.join(presets)}" if presets
                                else "no presets") + f"; choose from "
                             f"{', '.join(workload_names())}")
        kwargs = presets[preset]
    for what, v in (("scale", scale), ("threads", threads)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"workload {name}: {what} must be an int >= 1, got {v!r}")
    b = builder()
    params = gen(b, random.Random(seed), scale, threads, **kwargs)
    params.update(scale=scale, seed=seed, threads=threads)
    if sep:
        params.update(preset=preset)
    return Workload(name, b.ops, params, b.skipped)


__all__ = ["LARSON_PRESETS", "OpBuilder", "PRESETS", "SKIPPED", "TINY_MAX", "WORKLOADS",
           "Workload", "generate", "interleave", "inverse_square_size", "workload_names"]
