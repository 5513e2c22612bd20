"""EVICT-01: a slab nobody owns caches nothing between ops (mini-magazine and remote
stack empty); between concurrent rounds only the mini-magazine half holds.  Each
test breaks one slab of a healthy snapshot: thread 0 owns a slab whose mini-magazine
holds blocks and on whose remote stack thread 1 pushed one."""
import dataclasses

import pytest

from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.contract.api import Config, InvariantViolation
from hakmem_verify.check import View, check
from hakmem_verify.check.eviction import evict_01_unowned_is_empty
from hakmem_verify.check.registry import run_view

CFG = Config(class_sizes=(8,), slab_size=64, word_bits=8, mini_mag_capacity=2,
             refill_batch=2, magazine_capacity=1, flush_interval=3)


def owned_slab_with_caches():
    """(snapshot, slab) with a non-empty mini-magazine and remote stack, owner tid 0."""
    fast = FastAllocator(CFG)
    a = fast.alloc(8, 0)
    fast.free(a, 1)                         # remote: thread 0 owns the slab
    for _ in range(4):                      # until A's mini-magazine holds a block
        snap = fast.snapshot()
        s = next(iter(snap.slabs.values()))
        if s.mini_mag:
            break
        fast.alloc(8, 0)
    assert s.owner == 0 and s.mini_mag and s.remote
    return snap, s


def unowned(snap, s, **fields):
    s = dataclasses.replace(s, owner=None, **fields)
    return dataclasses.replace(snap, slabs={s.base: s}, threads={}), s


def test_a_healthy_heap_after_every_exit_holds_evict_01():
    fast = FastAllocator(CFG)
    a = fast.alloc(8, 0)
    fast.free(a, 1)
    fast.thread_exit(0)
    fast.thread_exit(1)
    check(fast.snapshot(), 3)


@pytest.mark.parametrize("left, emptied, words", [
    ("mini-magazine", dict(remote=(), remote_count=0), "did not spill"),
    ("remote stack", dict(mini_mag=(), mini_mag_count=0), "did not drain"),
])
def test_an_unowned_slab_with_a_non_empty_cache_is_evict_01(left, emptied, words):
    snap, s = owned_slab_with_caches()
    snap, s = unowned(snap, s, **emptied)           # only the other cache left non-empty
    with pytest.raises(InvariantViolation) as e:
        evict_01_unowned_is_empty(snap, s, View())
    assert e.value.inv_id == "EVICT-01" and words in str(e.value), left


def test_between_concurrent_rounds_a_push_left_on_an_unowned_slab_is_allowed():
    snap, s = owned_slab_with_caches()
    snap, s = unowned(snap, s, mini_mag=(), mini_mag_count=0)
    v = View.whole(snap)
    v.racing_pushes = True
    evict_01_unowned_is_empty(snap, s, v)
    snap, s = unowned(snap, s, mini_mag=(s.base,), mini_mag_count=1)
    with pytest.raises(InvariantViolation, match=r"\[EVICT-01\].*mini-magazine"):
        evict_01_unowned_is_empty(snap, s, v)


def test_the_registry_runs_evict_01_at_l2():
    snap, s = owned_slab_with_caches()
    snap, s = unowned(snap, s, remote=(), remote_count=0)
    with pytest.raises(InvariantViolation) as e:
        run_view(snap, View.whole(snap), 2, scope="slab")
    assert e.value.inv_id == "EVICT-01"
