"""Planted concurrency bugs of hakmem_fast, continued: the pool (releasing slabs, making
new ones) and the equivalent pop-one drain.  Registered in ``fuzz.mutants.races.RACES``
(``kind = "concurrency"``), hunted by the concurrent machine.
"""
from __future__ import annotations

from hakmem_fast import ops
from hakmem_fast.allocator import FastAllocator
from hakmem_fast.structs import NULL, TinySlab, load_word

from . import patched
from .races import race

FA = FastAllocator
_fa = {name: getattr(FA, name) for name in ("_new_slab", "_remote_push")}


# ============================================================================
# The pool: releasing slabs and making new ones
# ============================================================================


def _reusing_new_slab(keep_remote: bool):
    """``_new_slab`` that re-initialises a released slab's own memory (its TinySlab) when
    it reuses its base, as a C pool reuses the bytes; ``keep_remote``: the remote head
    and count are not reset (the pool takes a released slab's stack for empty)."""
    def new_slab(self, c):
        released = self.__dict__.setdefault("_released", {})
        if not self._free_bases or self._free_bases[-1] not in released:
            return _fa["_new_slab"](self, c)
        cfg = self.config
        if cfg.max_slabs_per_class is not None and \
                len(self._class_slabs[c]) >= cfg.max_slabs_per_class:
            return None
        base = self._free_bases.pop()
        slab = released.pop(base)
        head, count = slab.remote_head, slab.remote_count
        slab.__init__(base, c, cfg.class_sizes[c], cfg.slab_size, cfg.word_bits,
                      cfg.mini_mag_capacity)
        if keep_remote:
            slab.remote_head, slab.remote_count = head, count
        self._slabs[base] = slab
        self._class_slabs[c][base] = slab
        self.probe.slab(base)
        return slab
    return new_slab


def _release(self, slab) -> None:
    del self._slabs[slab.base]
    del self._class_slabs[slab.class_idx][slab.base]
    self._free_bases.append(slab.base)
    self.__dict__.setdefault("_released", {})[slab.base] = slab
    self.probe.slab_hit("slab_release", slab.base)


@race("quiesce-keeps-empty-slabs", expect=("QUI-01",))
def _quiesce_keeps_empty():
    """quiesce exits every thread and drains every slab but releases none.  Sequentially
    no slab is left empty and unowned (every eviction drains and releases); a remote free
    that lands on a slab while its owner evicts it leaves blocks on an unowned slab's
    stack, which only quiesce's drain collects, and the slab stays in use entirely free.
    Bug class: memory kept at teardown (the pool never returns what it drained)."""
    def quiesce_gen(self):
        for tid in sorted(self._threads):
            yield from self._thread_exit_gen(tid)
        for slab in list(self._slabs.values()):
            yield from self._drain_steps(None, slab)
            yield "pool"
    return patched((FA, "_quiesce_gen", quiesce_gen))


@race("release-during-push", expect=("RMT-01", "DATA-01", "PART-01", "LIVE-02", "CRASH-STEP"))
def _release_during_push():
    """A slab goes back to the pool when all its blocks are free -- counting a block whose
    remote free has started but whose push has not landed yet as free (a use count
    decremented when the free starts, not when the block reaches the slab).  The pool
    reuses the slab's memory for the next new slab; the push then writes its link into a
    block of the new slab that a client may hold (DATA-01) and lands on the new slab's
    remote stack, a block its bitmap calls free (RMT-01).
    Bug class: a slab released to the pool while a push to it is in flight (use after
    release through a lock-free stack)."""
    def maybe_release(self, slab):
        if free_counting_flying(self, slab):
            _release(self, slab)
    return patched((FA, "_maybe_release", maybe_release), (FA, "_remote_push", flying_push),
                   (FA, "_new_slab", _reusing_new_slab(False)))


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
            _release(self, slab)
    return patched((FA, "_maybe_release", maybe_release),
                   (FA, "_new_slab", _reusing_new_slab(True)))


@race("new-slab-outside-lock", expect=("LIVE-02", "PART-01", "OWN-01", "OWN-02"))
def _new_slab_outside_lock():
    """The slow path reads the pool's next slab address in one step and makes the slab
    (and bumps the address) in a later one, outside the pool lock: two threads that both
    need a new slab make two slabs at one address and hand out the same blocks.
    Bug class: a lost update to a shared bump pointer (check-then-act on the pool)."""
    def alloc_slow_steps(self, t, c):
        for slab in (t.active_a[c], t.active_b[c]):
            if slab is not None:
                yield from self._drain_steps(t.tid, slab)
        self._refill_tls_magazine(t, c)
        p = self._serve_from_actives(t, c)
        if p != NULL:
            self.probe.hit("slow")
            return p
        slab, path = self._find_partial(c), "slow"
        if slab is None:
            path = "new_slab"
            if self._free_bases:
                slab = self._new_slab(c)
            else:
                base = self._next_base
                yield "pool-read"              # the lock is dropped between read and bump
                cfg = self.config
                self._next_base = base + cfg.slab_size
                slab = TinySlab(base, c, cfg.class_sizes[c], cfg.slab_size, cfg.word_bits,
                                cfg.mini_mag_capacity)
                self._slabs[base] = slab
                self._class_slabs[c][base] = slab
                self.probe.slab(base)
            if slab is None:
                yield "pool"
                return NULL
        self._adopt(t, slab)
        yield "pool"
        self._refill_tls_magazine(t, c)
        p = self._serve_from_actives(t, c)
        if p != NULL:
            self.probe.hit(path)
        return p
    return patched((FA, "_alloc_slow_steps", alloc_slow_steps))


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
