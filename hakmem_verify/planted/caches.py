"""Planted bugs in the caches between a thread and a slab: the TLS magazines and the
lock-free remote-free stack of each slab."""
from __future__ import annotations

from hakmem_verify.models.fast import core as ops
from hakmem_verify.models.fast.structs import NULL, atomic_exchange_head

from . import mutant, patched
from .base import FA, _fa, around_steps, multi_class_configs


# ============================================================================
# TLS magazine
# ============================================================================

def _route_with(mag_put):
    """FastAllocator._free_route with its magazine push replaced by ``mag_put``."""
    def route(self, t, slab, addr):
        if slab.owner is not None and slab.owner != t.tid:
            return self._remote_push(slab, addr)
        if mag_put(self, t, slab, addr):
            return None
        self.probe.hit("mag_overflow")
        self._return_block(t.tid, slab, addr)
        return None
    return route


@mutant("magazine-double-insert", expect=("MAG-02",))
def _mag_double():
    """A free into the TLS magazine stores the block twice when there is room.
    Bug class: double insertion into a magazine (double allocation later)."""
    def put(self, t, slab, addr):
        mag = t.mags[slab.class_idx]
        if mag.top >= mag.cap:
            return False
        self.probe.mag(t.tid, slab.class_idx, mag.top, "free_magazine")
        mag.items[mag.top] = addr
        mag.top += 1
        if mag.top < mag.cap:
            mag.items[mag.top] = addr
            mag.top += 1
        return True
    return patched((FA, "_free_route", _route_with(put)))


@mutant("magazine-capacity-off-by-one", expect=("MAG-01",))
def _mag_cap():
    """The magazine accepts a free while top <= cap: one item past its capacity.
    Bug class: off-by-one at the magazine capacity (array overrun in C)."""
    def put(self, t, slab, addr):
        mag = t.mags[slab.class_idx]
        if mag.top > mag.cap:
            return False
        if mag.top == len(mag.items):
            mag.items.append(NULL)
        self.probe.mag(t.tid, slab.class_idx, mag.top, "free_magazine")
        mag.items[mag.top] = addr
        mag.top += 1
        return True
    return patched((FA, "_free_route", _route_with(put)))


@mutant("free-to-wrong-class-magazine", expect=("MAG-02", "CONF-02"),
        configs=multi_class_configs)
def _mag_wrong_class():
    """A free goes to the magazine of the next size class.
    Bug class: block returned to a cache of the wrong size class.  CONF-02 can see it
    first: when the wrong magazine is full the free overflows to the slab although its
    own class's magazine had room (which one a hunt meets first depends on the examples
    it draws)."""
    def put(self, t, slab, addr):
        c = (slab.class_idx + 1) % self.config.num_classes
        mag = t.mags[c]
        if mag.top >= mag.cap:
            return False
        self.probe.mag(t.tid, c, mag.top, "free_magazine")
        mag.items[mag.top] = addr
        mag.top += 1
        return True
    return patched((FA, "_free_route", _route_with(put)))


@mutant("thread-exit-forgets-magazine", expect=("PART-01", "QUI-01"))
def _exit_forgets_mag():
    """thread_exit returns the active slabs but drops the TLS magazines.
    Bug class: blocks leaked by a thread exit."""
    def drop_magazines(self, tid):
        t = self._threads.get(tid)
        if t is not None:
            for m in t.mags:
                m.top = 0
    return patched(around_steps("thread_exit_gen", before=drop_magazines))


@mutant("magazine-pop-post-decrement", expect=("LIVE-02", "PART-01", "RMT-01", "MM-02",
                                               "DATA-01"))
def _mag_post_decrement():
    """The TLS magazine pop reads items[top] and then decrements (items[top--] for
    items[--top]): it returns a stale slot, a block handed out before, and strands the
    real top item. Bug class: off-by-one array pop (double allocation)."""
    def alloc_hot(self, t, c):
        mag = t.mags[c]
        if mag.top > 0:
            p = mag.items[mag.top] if mag.top < mag.cap else mag.items[mag.top - 1]
            mag.top -= 1
            if p != NULL:
                self.probe.mag(t.tid, c, mag.top, "tls_mag")
                return p
            mag.top += 1
        return _fa["_alloc_hot"](self, t, c)
    return patched((FA, "_alloc_hot", alloc_hot))


@mutant("magazine-pop-stale-slot", expect=("LIVE-02",))
def _mag_stale_slot():
    """When the slot just above top still holds an address, the TLS magazine 'pop'
    returns it without touching top: the block popped last time, which the client
    still holds. Bug class: reading a stale array slot (double allocation)."""
    def alloc_hot(self, t, c):
        mag = t.mags[c]
        if 0 < mag.top < mag.cap and mag.items[mag.top] != NULL:
            self.probe.hit("tls_mag")
            return mag.items[mag.top]
        return _fa["_alloc_hot"](self, t, c)
    return patched((FA, "_alloc_hot", alloc_hot))


# ============================================================================
# Remote-free stack
# ============================================================================

@mutant("remote-push-not-atomic", expect=("RMT-01", "RMT-02", "PART-01"))
def _remote_not_atomic():
    """The remote push stores the head instead of compare-and-swap: a drain between its
    load and its store is undone (drained blocks reappear on the stack).
    Bug class: lost update in a lock-free push (non-atomic push racing a drain)."""
    def cas(slab, expected, new):
        slab.remote_head = new
        return True
    return patched((ops, "atomic_cas_head", cas))


def _broken_drain(detach: bool = True, count: bool = True, free: bool = True):
    """The remote drain (take the stack, mark its blocks free, subtract them from
    remote_count) with one of its steps left out."""
    def drain_steps(slab):
        head = ops.atomic_load_head(slab)
        if head == NULL:
            return 0
        idxs = ops.remote_blocks(slab, head)
        if detach:
            atomic_exchange_head(slab, NULL)
        yield "cas"
        if free:
            for idx in idxs:
                slab.bitmap.set_free(idx)
        if count:
            ops.atomic_add_remote_count(slab, -len(idxs))
        return len(idxs)
    return patched((ops, "remote_drain_steps", drain_steps))


@mutant("drain-forgets-remote-count", expect=("RMT-02",))
def _drain_count():
    """The drain takes the stack but never subtracts what it took from remote_count.
    Bug class: counter not updated on a bulk take."""
    return _broken_drain(count=False)


@mutant("double-drain", expect=("RMT-01", "SLAB-03", "RMT-02"))
def _double_drain():
    """The drain walks the stack without detaching it (load instead of exchange):
    the next drain frees the same blocks again. Bug class: double drain / double free."""
    return _broken_drain(detach=False)


@mutant("drain-leaves-blocks-used", expect=("PART-01",))
def _drain_used():
    """The drain detaches the stack but never marks its blocks free in the bitmap.
    Bug class: remote-freed blocks leaked."""
    return _broken_drain(free=False)


class _StackOf:
    """The remote stack (head and count) of ``target`` over the memory of ``slab``: a push
    on it links the block in its own slab and lands it on ``target``'s stack."""

    def __init__(self, target, slab):
        self.target, self.base, self.mem = target, slab.base, slab.mem

    remote_head = property(lambda self: self.target.remote_head,
                           lambda self, v: setattr(self.target, "remote_head", v))
    remote_count = property(lambda self: self.target.remote_count,
                            lambda self, v: setattr(self.target, "remote_count", v))


@mutant("remote-free-wrong-slab", expect=("RMT-01", "PART-01"))
def _remote_wrong_slab():
    """A remote free is pushed on the stack of the owner's *other* active slab.
    Bug class: free routed to the wrong slab (pointer-to-slab lookup error)."""
    def route(self, t, slab, addr):
        if slab.owner is not None and slab.owner != t.tid:
            owner = self._threads[slab.owner]
            c = slab.class_idx
            other = owner.active_b[c] if owner.active_a[c] is slab else owner.active_a[c]
            target = other if other is not None else slab
            self.probe.slab_hit("free_remote", target.base)
            return ops.remote_push_steps(_StackOf(target, slab), addr)
        return _fa["_free_route"](self, t, slab, addr)
    return patched((FA, "_free_route", route))
