"""The public ops of FastAllocator as atomic steps: generators that yield after each access
to a word shared between threads, so a scheduler outside the allocator
(``hakmem_verify.schedule``) decides which thread takes the next step.

Functions over the allocator's fields, each taking the
``hakmem_verify.models.fast.allocator.FastAllocator`` as its first argument ``fa``: the bodies
of its ``*_steps`` methods of ``hakmem_verify.contract.api.Hooks`` (``alloc_steps``,
``free_steps``, ``drain_steps``, ``evict_steps``, ``thread_exit_steps``, ``flush_steps``), of
``quiesce_steps``, and the generators they are made of (``alloc_slow_steps``,
``take_slab_steps``, ``evict_slab_steps``, ``drain_slab_steps``, ``stats_steps``,
``flush_all_steps``, ``return_block_steps``).  Other modules call them through this module
(``steps.alloc_slow_steps(fa, t, c)``), never by a name imported from it, so a planted bug
that swaps one (``hakmem_verify.planted``) is seen by every caller.

One code path: every sequential op of the allocator (``alloc``, ``free``,
``thread_exit``, ``flush_stats``, ``quiesce``, ``evict_active``, ``drain_remote``, and
the internal ``_drain``, ``pool.evict``, ``_return_block``) is :func:`run_steps` over its
generator, so a fuzzed sequential op runs exactly the code the concurrent machine
interleaves.  A step with no shared access is a plain call inside the generator: the
hot path yields nothing.

Words shared between threads (touched only by the steps that yield):

* ``TinySlab.remote_head``, ``TinySlab.remote_count``: the remote stack
  (load / CAS / fetch-add; a drain is load, CAS to NULL, fetch-add);
* ``TinySlab.owner``: read by every free to route it; written by adoption and
  eviction under the pool lock;
* ``g_alloc_count`` / ``g_free_count``: fetch-add by each thread's flush;
* the pool: ``_slabs``, ``_class_slabs``, ``_free_bases``, ``_next_base``,
  and every word of an *unowned* slab: changed only under the pool lock;
* SuperSlab mode: the SuperSlab headers (owner, slot table, free slots), the pool of
  empty SuperSlabs and ``_superslabs``: changed only under the pool lock (the slow
  path's pool step, eviction, release, thread exit's abandon).

Thread-private in SuperSlab mode: the tls_sll lists (heads, counts, and the links in
their blocks) and the thread's list of its SuperSlabs.

Owner-private (written only by the slab's owner, or under the pool lock when
the slab is unowned; OWN-03 checks it): the bitmap words, summary, hint and
free_count, and the mini-magazine (head, count, the links in its blocks).
Thread-private: ``ThreadState`` (magazines, active slabs, stat batches).

A critical section of the pool lock is one atomic step here (its acquire and
release are the step's ends, labelled ``"pool"``): lock holders exclude each
other, and the lock-free ops that do not take the lock cannot run inside a
section (an under-approximation of the interleavings, documented in
``hakmem_verify/schedule/``).  Step labels: ``"load"``, ``"link"``, ``"cas"``,
``"cas-retry"``, ``"count"`` (remote stack), ``"pool"``, ``"stat-add"``.
"""
from __future__ import annotations

from typing import Iterator

from hakmem_verify.contract.api import size_to_class

from . import core as ops
from . import hooks, pool, superslab, validate
from .structs import NULL, ThreadState, TinySlab


_STAT_ADD = ("stat-add",)


def run_steps(steps):
    """Run a step generator to completion, with no other thread interleaving; returns
    what the generator returns."""
    try:
        while True:
            next(steps)
    except StopIteration as stop:
        return stop.value


def alloc_steps(fa, size: int, tid: int = 0) -> Iterator[str]:
    """``alloc(size, tid)`` as atomic steps (``hakmem_verify.contract.api.Hooks``); the generator
    returns what ``alloc`` returns (``StopIteration.value``).

    Validates at the call (BadArgument, SizeError, state unchanged).  Step one is
    the hot path (thread-private and the caller's own slabs); the slow path yields
    at the drains of A and B and at the pool-lock section that adopts or creates a
    slab; the stat flush, if due, is the last step (``"stat-add"``).
    """
    validate.check_tid(fa, tid)
    c = size_to_class(size, fa.config.class_sizes)
    return alloc_gen(fa, tid, c)


def alloc_gen(fa, tid: int, c: int):
    t = fa._threads.get(tid) or validate.thread(fa, tid)
    p = fa._alloc_hot(t, c)
    if p == NULL:
        p = yield from alloc_slow_steps(fa, t, c)
        if p == NULL:
            fa.probe.hit("oom")
            return None
    fa._handed_out(t, c, p)
    flush = stats_steps(fa, t.alloc_batch, fa.g_alloc_count, c)
    if flush:
        yield from flush
    if fa._check_level:
        validate.self_check(fa)
    return p


def stats_steps(fa, batch: list, counters: list, c: int):
    """The flush of one batch class if due (``ops.stats_flush_if_needed``), done at
    the call: one fetch-add on a global counter, then its step ``"stat-add"``; no
    step when nothing was due (a tuple, not a generator: the hot path's cost)."""
    if ops.stats_flush_if_needed(batch, counters, c, fa.config.flush_interval):
        fa.probe.hit("stat_flush")
        return _STAT_ADD
    return ()


def free_steps(fa, addr: int, tid: int = 0) -> Iterator[str]:
    """``free(addr, tid)`` as atomic steps (``hakmem_verify.contract.api.Hooks``).

    Validates first: a bad tid or address raises here, at the call, with the state
    unchanged.  Then everything but a remote push is done at once (the magazine
    and local routes touch the caller's caches, its own slabs, or an unowned slab
    under the pool lock: one step); the returned iterator runs the push on the slab's
    shared remote head, yielding
    after each access (``"load"``, ``"link"``, ``"cas-retry"``..., ``"cas"``),
    and yields nothing for the other routes.
    """
    push = fa._free(addr, tid)
    if push is None and not fa._check_level:
        return iter(())                 # placed at once: no step (the common case)
    return finish(fa, push)


def finish(fa, push) -> Iterator[str]:
    if push is not None:
        yield from push
    if fa._check_level:
        validate.self_check(fa)


def drain_steps(fa, tid: int, class_idx: int) -> Iterator[str]:
    """``drain_remote(tid, class_idx)`` as atomic steps; returns the blocks drained.
    Validates the tid at the call."""
    t, _ = hooks.thread_and_active(fa, tid, class_idx)
    return drain_actives_gen(fa, t, class_idx)


def drain_actives_gen(fa, t, c: int):
    n = 0
    if t is not None:
        for slab in (t.active_a[c], t.active_b[c]):
            if slab is not None:
                n += yield from drain_slab_steps(fa, t.tid, slab)
    return n


def evict_steps(fa, tid: int, class_idx: int) -> Iterator[str]:
    """``evict_active(tid, class_idx)`` as atomic steps; returns True if evicted."""
    t, slab = hooks.thread_and_active(fa, tid, class_idx)
    return evict_active_gen(fa, t, slab, class_idx)


def evict_active_gen(fa, t, slab, c: int):
    if slab is None:
        return False
    fa.probe.thread(t.tid)
    t.active_a[c], t.active_b[c] = t.active_b[c], None
    yield from evict_slab_steps(fa, t, slab)
    return True


def flush_steps(fa, tid: int) -> Iterator[str]:
    """Thread tid flushes its own stat batches: one ``"stat-add"`` per class with
    pending events (``flush_stats`` flushes every thread at once)."""
    validate.check_tid(fa, tid)
    return flush_gen(fa, tid)


def flush_gen(fa, tid: int):
    t = fa._threads.get(tid)
    if t is None:
        return
    fa.probe.thread(tid)
    yield from flush_all_steps(fa, t)


def flush_all_steps(fa, t: ThreadState):
    """Both of t's batches flushed (``ops.stats_flush_all_steps``: one ``"stat-add"``
    per class with pending events)."""
    yield from ops.stats_flush_all_steps(t.alloc_batch, fa.g_alloc_count)
    yield from ops.stats_flush_all_steps(t.free_batch, fa.g_free_count)


def thread_exit_steps(fa, tid: int) -> Iterator[str]:
    """``thread_exit(tid)`` as atomic steps: each active slab's eviction (drain and
    pool steps), each cached block's return (a remote push, or one pool step; in
    SuperSlab mode the tls_sll blocks too, then its SuperSlabs are abandoned), then
    one ``"stat-add"`` per pending class.  The thread state is gone at step one."""
    validate.check_tid(fa, tid)
    return thread_exit_gen(fa, tid)


def thread_exit_gen(fa, tid: int):
    t = fa._threads.pop(tid, None)
    if t is None:
        return
    fa.probe.thread(tid)
    for c in range(fa.config.num_classes):
        a, b = t.active_a[c], t.active_b[c]
        t.active_a[c] = t.active_b[c] = None
        for slab in (a, b):
            if slab is not None:
                yield from evict_slab_steps(fa, t, slab)
        while t.mags[c].top > 0:
            p = fa._mag_pop(t, c)
            yield from return_block_steps(fa, tid, validate.slab_of(fa, p), p)
    if fa._ss:
        yield from superslab.sll_flush_steps(fa, t)
        superslab.abandon(fa, t)
    yield from flush_all_steps(fa, t)


def drain_slab_steps(fa, tid, slab: TinySlab):
    """Splice slab's remote stack into its bitmap (``ops.remote_drain_steps``: counted
    first, StructureCorrupted on a corrupted stack, nothing changed); ``tid``: the
    draining thread (None: the pool, at quiescence).  Returns the blocks drained."""
    if slab.remote_head == NULL:
        return 0
    n = yield from ops.remote_drain_steps(slab)
    if n:
        fa.probe.priv(slab.base, tid, slab.owner)
        fa.probe.slab_hit("drain", slab.base)
    return n


def quiesce_steps(fa) -> Iterator[str]:
    """``quiesce()`` as atomic steps: every thread's exit (in tid order), then per
    slab its drain's remote-stack steps and one pool step that releases it if free."""
    return quiesce_gen(fa)


def quiesce_gen(fa):
    for tid in sorted(fa._threads):
        yield from thread_exit_gen(fa, tid)
    for slab in list(fa._slabs.values()):
        yield from drain_slab_steps(fa, None, slab)
        pool.maybe_release(fa, slab)
        yield "pool"


def alloc_slow_steps(fa, t: ThreadState, c: int):
    """Slow path as steps: the drains of A and B (remote-stack steps), then
    thread-private work (``serve_refilled``), then one pool-lock step that adopts a
    partial or new slab (``take_slab_steps``), then thread-private work."""
    for slab in (t.active_a[c], t.active_b[c]):
        if slab is not None:
            yield from drain_slab_steps(fa, t.tid, slab)
    p = serve_refilled(fa, t, c, "slow")
    if p != NULL:
        return p
    path = yield from take_slab_steps(fa, t, c)
    return NULL if path is None else serve_refilled(fa, t, c, path)


def take_slab_steps(fa, t: ThreadState, c: int):
    """Slow path: one pool-lock step (``"pool"``) in which t adopts a slab of class c
    (``take_slab``); returns its path, None at the memory limit."""
    path = take_slab(fa, t, c)
    yield "pool"
    return path


def take_slab(fa, t: ThreadState, c: int):
    """Slow path, under the pool lock: t adopts an unowned partial slab of class c
    (path ``slow``), else a new slab (``new_slab``, evicting old B: ``pool.adopt``);
    None at the memory limit, with nothing adopted."""
    fa._slow_thread = t                     # the thread whose TLS the pool calls read
    slab, path = pool.find_partial(fa, c), "slow"
    if slab is None:
        slab, path = pool.new_slab(fa, c), "new_slab"
        if slab is None:
            return None
    pool.adopt(fa, t, slab)
    return path


def serve_refilled(fa, t: ThreadState, c: int, path: str) -> int:
    """Slow path: refill t's TLS magazine from A and B, then a block from the
    actives (``serve_from_actives``), counted ``path``; NULL when there is none."""
    refill_tls_magazine(fa, t, c)
    p = serve_from_actives(fa, t, c)
    if p != NULL:
        fa.probe.hit(path)
    return p


def serve_from_actives(fa, t: ThreadState, c: int) -> int:
    """Slow path: a block from the TLS magazine, else straight from A's or B's
    mini-mag (refilled from the bitmap if empty), else NULL.  The slow path does not
    rely on the magazine refill having moved anything."""
    p = fa._mag_pop(t, c)
    if p != NULL:
        return p
    for slab in (t.active_a[c], t.active_b[c]):
        if slab is None:
            continue
        if slab.mini_mag.count == 0:
            fa._refill(slab, t.tid)
        if slab.mini_mag.count > 0:
            p = fa._mini_mag_pop(slab, t.tid)
            if p != NULL:
                return p
    return NULL


def refill_tls_magazine(fa, t: ThreadState, c: int) -> int:
    """Slow path: move A's then B's mini-mag blocks into the TLS magazine.

    As Phase 4: pop each mini-mag into the magazine while there is room,
    and refill an emptied mini-mag from its bitmap for the next time.
    Returns the number of blocks moved.
    """
    mag = t.mags[c]
    moved = 0
    for slab in (t.active_a[c], t.active_b[c]):
        if slab is None:
            continue
        if slab.mini_mag.count == 0:
            fa._refill(slab, t.tid)
        while mag.top < mag.cap and slab.mini_mag.count > 0:
            p = fa._mini_mag_pop(slab, t.tid)
            if p == NULL:
                break
            fa._mag_push(t, c, p)
            moved += 1
        if slab.mini_mag.count == 0:
            fa._refill(slab, t.tid)
    if moved:
        fa.probe.hit("tls_refill")
    return moved


def evict_slab_steps(fa, t: ThreadState, slab: TinySlab):
    """Eviction as steps: spill (owner-private), the drain's remote-stack steps, then
    one pool-lock step that unowns the slab and releases it if entirely free.  A push
    that lands after the drain leaves blocks on an unowned slab's stack: adoption and
    quiescence drain them."""
    if slab.mini_mag.count:
        fa.probe.priv(slab.base, t.tid, slab.owner)
        fa.probe.slab_hit("spill", slab.base)
        ops.batch_spill_to_bitmap(slab, slab.mini_mag)
    yield from drain_slab_steps(fa, t.tid, slab)
    slab.owner = None
    fa.probe.slab(slab.base)
    pool.maybe_release(fa, slab)
    yield "pool"


def return_block_steps(fa, tid: int, slab: TinySlab, addr: int):
    """``FastAllocator._return_block`` as steps: a remote push, or one step (tid's own slab,
    or an unowned one under the pool lock)."""
    if slab.owner is not None and slab.owner != tid:
        yield from fa._remote_push(slab, addr)
        return
    fa._put_local(tid, slab, addr)
    yield "pool"
