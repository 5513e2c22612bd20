"""The concurrent machine on the clean fast model: rounds of 2-4 threads whose atomic
steps interleave, checked between steps, at every quiescent point (linearizability
against the reference) and at teardown."""
from hypothesis import settings

from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.oracle.concurrent import Harness, replay
from hakmem_verify.explore.configs import superslab_concurrent_configs
from hakmem_verify.explore.concurrent_hunt import make_concurrent_machine
from hakmem_verify.contract.api import Config
from hakmem_verify.schedule import Replay

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
    rounds = [({0: [("alloc", 8), ("alloc", 8)], 1: [("alloc", 8)]}, "0 1 0*3"),
              ({0: [("drain", 0)], 1: [("free", 0), ("free", 1)]}, "1 0 1*4")]
    h = replay(RefAllocator, FastAllocator, CFG, rounds)
    assert [s for _, s in h.rounds][0].startswith("0 1 0")
    assert h.checks["LOCK-01"] == 2 and h.checks["quiescent"] == 2 and h.checks["QUI-01"] == 1


def test_a_remote_free_racing_an_eviction_leaves_the_heap_consistent_at_quiescence():
    h = Harness(RefAllocator(CFG), FastAllocator(CFG))
    h.run_round({0: [("alloc", 8), ("alloc", 8)]}, Replay(""))
    run = h.run_round({0: [("evict", 0)], 1: [("free", 0)]}, Replay("1 0"))
    assert "load" in run.labels and run.preemptions >= 1
    h.teardown()
