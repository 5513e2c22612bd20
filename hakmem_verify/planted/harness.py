"""Planted bugs for the checks about the harness's own contract with an implementation:
thread exit, crashes escaping a call, and footprints that leave out a change.
"""
from __future__ import annotations

from hakmem_verify.models.fast import steps, validate
from hakmem_verify.models.fast.allocator import FastAllocator
from hakmem_verify.models.fast.structs import ThreadState
from hakmem_verify.contract.api import Footprint

from . import mutant, patched

FA = FastAllocator


@mutant("thread-exit-keeps-state", expect=("EXIT-01",))
def _exit_keeps_state():
    """thread_exit returns the caches but leaves an (empty) thread state behind.
    Bug class: per-thread state not torn down at thread exit (a TLS destructor that
    forgets to unregister the thread, leaking its heap record)."""
    orig = steps.thread_exit_gen

    def thread_exit_gen(self, tid):
        had = tid in self._threads
        yield from orig(self, tid)
        if had:
            self._threads[tid] = ThreadState(tid, self.config.num_classes,
                                             self.config.magazine_capacity)
    return patched((steps, "thread_exit_gen", thread_exit_gen))


@mutant("crash-in-free", expect=("LOCK-03",))
def _crash_in_free():
    """free raises a KeyError (not a contract error) for every block at index 3 mod 7.
    Bug class: an unchecked lookup in a free path that a rare block reaches (a crash,
    not an allocator error, escapes to the client)."""
    orig = steps.free_steps

    def free_steps(self, addr, tid=0):
        slab = validate.slab_of(self, addr) if isinstance(addr, int) else None
        if slab is not None and (addr - slab.base) // slab.block_size % 7 == 3:
            raise KeyError(addr)
        return orig(self, addr, tid)
    return patched((steps, "free_steps", free_steps))


@mutant("hook-drain-reports-nothing", expect=("HOOK-02",))
def _drain_reports_nothing():
    """drain_remote drains, then returns 0: the harness driving maintenance ops is told
    nothing happened.
    Bug class: a debug hook whose report disagrees with the change it made."""
    orig = FA.drain_remote

    def drain_remote(self, tid, class_idx):
        orig(self, tid, class_idx)
        return 0
    return patched((FA, "drain_remote", drain_remote))


@mutant("footprint-forgets-thread", expect=("HOOK-01",))
def _footprint_forgets_thread():
    """The footprint never names a thread whose record changed (active slabs, pending
    statistics) unless its magazine changed too: an eviction's A/B swap or a flush's
    pending reset is invisible to the incremental checks.
    Bug class: a debug hook that misses a mutation path (stale thread state vouched for)."""
    orig = FA.take_footprint

    def take_footprint(self):
        fp = orig(self)
        return Footprint(fp.slabs, set(), fp.mags)
    return patched((FA, "take_footprint", take_footprint))


@mutant("footprint-forgets-magazine", expect=("HOOK-01",))
def _footprint_forgets():
    """The footprint never names a thread magazine: magazine pushes and pops are
    invisible to the incremental checks.
    Bug class: a debug hook that misses a mutation path (the checker then checks stale
    state and vouches for it)."""
    orig = FA.take_footprint

    def take_footprint(self):
        fp = orig(self)
        return Footprint(fp.slabs, fp.threads, {})
    return patched((FA, "take_footprint", take_footprint))
