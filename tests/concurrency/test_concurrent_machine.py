"""The concurrent machine on the clean fast model: rounds of 2-4 threads whose atomic
steps interleave, checked between steps, at every quiescent point (linearizability
against the reference) and at teardown."""
import pytest
from hypothesis import settings

from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.oracle.concurrent import Harness, replay
from hakmem_verify.explore.configs import superslab_concurrent_configs
from hakmem_verify.explore.concurrent_hunt import make_concurrent_machine
from hakmem_verify.contract.api import Config
from hakmem_verify.schedule import Replay
from hakmem_verify.contract.ops import Alloc, Drain, Evict, FlushStats, Free, Quiesce
from hakmem_verify.oracle.lockstep import Oracle

ConcurrentMachine = make_concurrent_machine(RefAllocator, FastAllocator)
TestConcurrentMachine = ConcurrentMachine.TestCase
TestConcurrentMachine.settings = settings(settings.default, max_examples=60,
                                          stateful_step_count=5)

#: SuperSlab mode: its free route (tls_sll, remote push into another thread's SuperSlab),
#: reclaim and pool, interleaved
SuperSlabConcurrentMachine = make_concurrent_machine(
    RefAllocator, FastAllocator, superslab_concurrent_configs, name="SuperSlabConcurrent")
TestSuperSlabConcurrentMachine = SuperSlabConcurrentMachine.TestCase
TestSuperSlabConcurrentMachine.settings = settings(settings.default, max_examples=60,
                                                   stateful_step_count=5)

CFG = Config(class_sizes=(8,), slab_size=64, word_bits=8, mini_mag_capacity=1, refill_batch=1,
             magazine_capacity=1, flush_interval=2)


def test_a_recorded_run_replays_to_the_same_schedules():
    rounds = [({0: [Alloc(8, 0), Alloc(8, 0)], 1: [Alloc(8, 1)]}, "0 1 0*3"),
              ({0: [Drain(0, 0)], 1: [Free(0, 1), Free(1, 1)]}, "1 0 1*4")]
    h = replay(RefAllocator, FastAllocator, CFG, rounds)
    assert [s for _, s in h.rounds][0].startswith("0 1 0")
    assert h.checks["LOCK-01"] == 2 and h.checks["quiescent"] == 2 and h.checks["QUI-01"] == 1


def test_a_remote_free_racing_an_eviction_leaves_the_heap_consistent_at_quiescence():
    h = Harness(RefAllocator(CFG), FastAllocator(CFG))
    h.run_round({0: [Alloc(8, 0), Alloc(8, 0)]}, Replay(""))
    run = h.run_round({0: [Evict(0, 0)], 1: [Free(0, 1)]}, Replay("1 0"))
    assert "load" in run.labels and run.preemptions >= 1
    h.teardown()


def test_rounds_of_the_earlier_tuple_form_replay_as_the_same_ops():
    ops = [({0: [Alloc(8, 0), Alloc(8, 0)], 1: [Alloc(8, 1)]}, "0 1 0*3"),
           ({0: [Drain(0, 0)], 1: [Free(0, 1), Free(1, 1)]}, "1 0 1*4")]
    tuples = [({0: [("alloc", 8), ("alloc", 8)], 1: [("alloc", 8)]}, "0 1 0*3"),
              ({0: [("drain", 2)], 1: [("free", 0), ("free", 1)]}, "1 0 1*4")]
    a = replay(RefAllocator, FastAllocator, CFG, ops)
    b = replay(RefAllocator, FastAllocator, CFG, tuples)   # class 2 of 1: class 0, as run
    assert b.rounds == a.rounds and b.checks == a.checks
    assert "Drain(tid=0, class_idx=0)" in b.reproducer()


def test_an_op_on_another_thread_or_outside_the_thread_language_is_refused_before_any_step():
    h = Harness(RefAllocator(CFG), FastAllocator(CFG))
    for programs, says in (({0: [Alloc(8, 1)]}, "in the program of tid 0"),
                           ({0: [Quiesce()]}, "not an op of a thread program"),
                           ({0: [("alloc",)]}, "unknown op")):
        with pytest.raises(ValueError, match=says):
            h.run_round(programs, Replay(""))
    assert h.rounds == [] and h.fast.live_blocks() == {} and h.fast.slab_bases() == []


def test_a_thread_flush_is_an_op_of_the_concurrent_machine_not_of_the_lockstep_oracle():
    h = Harness(RefAllocator(CFG), FastAllocator(CFG))
    h.run_round({0: [Alloc(8, 0), FlushStats(0)]}, Replay(""))
    assert h.fast.stats().allocs == (1,)            # tid 0's batch of one alloc, flushed
    o = Oracle(RefAllocator(CFG), FastAllocator(CFG))
    with pytest.raises(ValueError, match="concurrent machine"):
        o.apply(FlushStats(0))
    o.apply(FlushStats())
