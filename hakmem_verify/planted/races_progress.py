"""Planted concurrency bugs of hakmem_verify.models.fast that the concurrent machine must not miss
silently: an op that spins waiting for a descheduled thread (LIVELOCK), a slab that
falls off the pool's lists (SLAB-ACCT) and a step that raises (CRASH-STEP).  Registered
in ``hakmem_verify.planted.races.RACES`` (``kind = "concurrency"``); a sequential run cannot tell
them from the correct code.
"""
from __future__ import annotations

from hakmem_verify.models.fast import core as ops
from hakmem_verify.models.fast import steps
from hakmem_verify.models.fast.allocator import FastAllocator

from . import patched
from .base import _fa, _fn, around_steps
from .races import race

FA = FastAllocator
_push_steps = ops.remote_push_steps


def _waiting_push_steps(slab, ptr):
    """The push (``ops.remote_push_steps``) that, each time it loads the head, waits
    until remote_count matches the stack it loads: the test and the load are one step."""
    def wait():
        while slab.remote_count != len(ops.remote_blocks(slab, ops.atomic_load_head(slab))):
            yield "cas-retry"                     # a drain or a push is half done: wait
    yield from wait()
    for label in _push_steps(slab, ptr):
        yield label
        if label == "cas-retry":                  # the push loads the head again next
            yield from wait()


@race("push-waits-for-drain", expect=("LIVELOCK",))
def _push_waits():
    """A remote push waits (loading the head again and again) until remote_count equals
    the length of the stack it loaded, so that the count it adds to is never stale: an
    owner's drain that has taken the stack but not yet subtracted its count (or another
    push that has swung the head but not yet counted) makes it spin until that thread's
    next step.  With that thread descheduled the free never ends.
    Bug class: a lock-free op that waits for another thread's in-flight update (blocking
    in disguise: progress depends on the scheduler running the other thread)."""
    return patched((ops, "remote_push_steps", _waiting_push_steps))


@race("class-table-published-outside-lock", expect=("SLAB-ACCT",))
def _table_outside_lock():
    """A slow path that makes a new slab builds the class's next slab table (a copy with
    the new slab) under the pool lock and publishes it with a plain store after dropping
    the lock: a slab another thread added (or removed) in between is lost from the table
    (or comes back).  The lost slab is owned, then unowned and never adopted: the pool
    grows instead of reusing it.
    Bug class: lost update of a copy-on-write structure published by a plain store
    outside the lock (not a compare-and-swap)."""
    def take_slab(self, t, c):
        path = _fn["steps.take_slab"](self, t, c)
        if path == "new_slab":
            table = dict(self._class_slabs[c])          # the next version, with the slab
            del self._class_slabs[c][t.active_a[c].base]  # not visible until published
            self.__dict__.setdefault("_unpublished", {})[t.tid] = table
        return path

    def publish(self, path, t, c):                      # after the pool-lock step
        table = self.__dict__.get("_unpublished", {}).pop(t.tid, None)
        if table is not None:
            self._class_slabs[c] = table                # published outside the lock
        return path
    return patched((steps, "take_slab", take_slab),
                   around_steps("take_slab_steps", after=publish))


@race("push-touches-exited-owner", expect=("CRASH-STEP",))
def _push_touches_owner():
    """A remote free, once its push has landed, looks up the owner's thread record (the
    owner it read when it routed the block) to set a drain hint for the owner's next slow
    path: if the owner exited in between, its record is gone and the lookup raises
    KeyError in the freeing thread.
    Bug class: use after free of another thread's thread-local state by a remote free
    (the record of an exited thread)."""
    def remote_push(self, slab, addr):
        owner = slab.owner

        def steps():
            yield from _fa["_remote_push"](self, slab, addr)
            hints = self.__dict__.setdefault("_drain_hints", set())
            hints.add(self._threads[owner].tid)         # KeyError once the owner exited
        return steps()
    return patched((FA, "_remote_push", remote_push))
