"""Planted concurrency bugs of hakmem_verify.models.fast, continued: the pool (releasing slabs, making
new ones) and the equivalent pop-one drain.  Registered in ``hakmem_verify.planted.races.RACES``
(``kind = "concurrency"``), hunted by the concurrent machine.
"""
from __future__ import annotations

from hakmem_verify.models.fast import core as ops
from hakmem_verify.models.fast import pool, steps
from hakmem_verify.models.fast.allocator import FastAllocator
from hakmem_verify.models.fast.structs import NULL, TinySlab, load_word

from . import patched
from .base import _fa, _fn, pick_before_lock, take_pick
from .races import race

FA = FastAllocator


# ============================================================================
# The pool: releasing slabs and making new ones
# ============================================================================


def reusing_new_slab(keep_remote: bool):
    """``_new_slab`` that re-initialises a released slab's own memory (its TinySlab,
    kept by :func:`release`) when it reuses its base, as a C pool reuses the bytes;
    ``keep_remote``: the remote head and count are not reset (the pool takes a released
    slab's stack for empty)."""
    def new_slab(self, c):
        slab = _fn["pool.new_slab"](self, c)
        old = self.__dict__.get("_released", {}).pop(slab.base, None) if slab else None
        if old is None:
            return slab
        head, count = old.remote_head, old.remote_count
        cfg = self.config
        TinySlab.__init__(old, slab.base, c, cfg.class_sizes[c], cfg.slab_size,
                          cfg.word_bits, cfg.mini_mag_capacity)
        if keep_remote:
            old.remote_head, old.remote_count = head, count
        self._slabs[slab.base] = self._class_slabs[c][slab.base] = old
        if self._ss:
            ss = self._superslabs[slab.base & self._ss_mask]
            ss.slabs[ss.slabs.index(slab)] = old
        return old
    return new_slab


def release(self, slab) -> None:
    """``_release_slab`` that keeps the released TinySlab (:func:`reusing_new_slab`)."""
    self.__dict__.setdefault("_released", {})[slab.base] = slab
    pool.release_slab(self, slab)


def release_flying(self, slab) -> None:
    """``_maybe_release`` that counts the blocks whose remote free is in flight as free
    (:func:`free_counting_flying`)."""
    if free_counting_flying(self, slab):
        release(self, slab)


@race("quiesce-keeps-empty-slabs", expect=("QUI-01",))
def _quiesce_keeps_empty():
    """quiesce exits every thread and drains every slab but releases none.  Sequentially
    no slab is left empty and unowned (every eviction drains and releases); a remote free
    that lands on a slab while its owner evicts it leaves blocks on an unowned slab's
    stack, which only quiesce's drain collects, and the slab stays in use entirely free.
    Bug class: memory kept at teardown (the pool never returns what it drained)."""
    def quiesce_gen(self):
        for tid in sorted(self._threads):
            yield from steps.thread_exit_gen(self, tid)
        for slab in list(self._slabs.values()):
            yield from steps.drain_slab_steps(self, None, slab)
            yield "pool"
    return patched((steps, "quiesce_gen", quiesce_gen))


@race("release-during-push", expect=("RMT-01", "RMT-02", "DATA-01", "PART-01", "LIVE-02",
                                     "CRASH-STEP"))
def _release_during_push():
    """A slab goes back to the pool when all its blocks are free -- counting a block whose
    remote free has started but whose push has not landed yet as free (a use count
    decremented when the free starts, not when the block reaches the slab).  The pool
    reuses the slab's memory for the next new slab; the push then writes its link into a
    block of the new slab that a client may hold (DATA-01) and lands on the new slab's
    remote stack, a block its bitmap calls free (RMT-01), leaving its remote count off
    (RMT-02).
    Bug class: a slab released to the pool while a push to it is in flight (use after
    release through a lock-free stack)."""
    return patched((pool, "maybe_release", release_flying), (FA, "_remote_push", flying_push),
                   (pool, "new_slab", reusing_new_slab(False)))


def flying_push(self, slab, addr):
    """``_remote_push`` that keeps the block in ``_in_flight`` from the start of the free
    until its CAS lands it on the stack."""
    flying = self.__dict__.setdefault("_in_flight", set())
    flying.add(addr)                      # the use count drops as the free starts

    def steps():
        try:
            for label in _fa["_remote_push"](self, slab, addr):
                if label == "cas":           # landed on the stack: no longer flying
                    flying.discard(addr)
                yield label
        finally:
            flying.discard(addr)
    return steps()


def free_counting_flying(self, slab) -> bool:
    """An unowned slab in use whose blocks are all free, counting those whose remote free
    is in flight (``flying_push``) as free."""
    if slab.owner is not None or slab.base not in self._slabs:
        return False
    flying = sum(1 for a in self.__dict__.get("_in_flight", ())
                 if a & self._slab_mask == slab.base)
    return slab.bitmap.free_count + flying == slab.nblocks and slab.mini_mag.count == 0 \
        and slab.remote_head == NULL


@race("unown-with-remote-blocks", expect=("RMT-01",))
def _unown_with_remote():
    """Eviction gives up ownership of a slab whose remote stack is not empty -- a push
    landed after its drain -- and releases it when every block is free in the bitmap or
    on the stack, without draining; the pool reuses the slab's memory and resets its
    owner-private words but not its remote stack, which it takes for empty in a released
    slab.  The next slab at that base starts with a stack of blocks its bitmap calls free.
    Bug class: giving up ownership with a non-empty remote stack (the stranded blocks
    outlive the owner; unlike ``evict-unowns-before-spill`` no thread writes a slab it
    does not own)."""
    def maybe_release(self, slab):
        if slab.owner is None and slab.base in self._slabs and slab.mini_mag.count == 0 \
                and slab.bitmap.free_count + slab.remote_count == slab.nblocks:
            release(self, slab)
    return patched((pool, "maybe_release", maybe_release),
                   (pool, "new_slab", reusing_new_slab(True)))


@race("new-slab-outside-lock", expect=("LIVE-02", "PART-01", "OWN-01", "OWN-02"))
def _new_slab_outside_lock():
    """The slow path reads the pool's next slab address in one step and makes the slab
    (and bumps the address) in a later one, outside the pool lock: two threads that both
    need a new slab make two slabs at one address and hand out the same blocks.
    Bug class: a lost update to a shared bump pointer (check-then-act on the pool)."""
    def read_base(self, t, c):
        if _fn["pool.find_partial"](self, c) is None and not self._free_bases:
            return self._next_base
        return None

    def new_slab_base(self):
        base = take_pick(self, "_base_read", self._slow_thread.tid)
        if base is None:
            return _fn["pool.new_slab_base"](self)
        self._next_base = base + self.config.slab_size     # bumped from the stale read
        return base
    # the next slab address read in one step, bumped in the pool-lock step after it
    return patched(pick_before_lock("take_slab_steps", "_base_read", "pool-read", read_base),
                   (pool, "new_slab_base", new_slab_base))


# ============================================================================
# An equivalent one: what the design's single consumer buys
# ============================================================================


def _pop_one_drain_steps(slab):
    """The drain as one pop per compare-and-swap: load the head A and A's next B (one
    step), CAS the head from A to B (the next), then set A free and count it down."""
    n = 0
    while True:
        head = ops.atomic_load_head(slab)
        if head == NULL:
            return n
        ops.remote_blocks(slab, head)            # validates the stack (RMT-01)
        nxt = load_word(slab, head)
        yield "load"
        if not ops.atomic_cas_head(slab, head, nxt):
            yield "cas-retry"
            continue
        yield "cas"
        slab.bitmap.set_free((head - slab.base) // slab.block_size)
        ops.atomic_add_remote_count(slab, -1)
        n += 1
        yield "count"


@race("drain-pops-one-by-cas", equivalent=True)
def _pop_one():
    """The owner drains its remote stack one block at a time: load the head A and A's
    next B, then compare-and-swap the head from A to B -- the pop that is open to ABA
    (between the load and the CAS another thread pops A and B, A is handed out, freed
    and pushed again: the CAS succeeds and installs B, which is in use).
    Equivalent here, and that is the design's point: the remote stack has one consumer
    (the owner drains; adoption drains under the pool lock only after the previous owner's
    drain and unowning are done), so no other thread pops A between the load and the CAS,
    and pushes in between make the CAS fail and retry.  An ABA needs two consumers: it is
    planted only together with a second consumer (``evict-unowns-before-spill``,
    ``adopt-find-then-claim`` make one).  The concurrent machine must not kill it."""
    return patched((ops, "remote_drain_steps", _pop_one_drain_steps))
