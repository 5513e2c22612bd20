"""One code path: every sequential op of hakmem_verify.models.fast runs the step generator the
concurrent machine interleaves, so a planted bug in a generator (or a fuzzed line of
one) is seen by the lockstep machine too.  Each op is run once with its generator
wrapped by a spy; the spy must have run, to completion."""
import pytest

from hakmem_verify.models.fast import FastAllocator, steps
from hakmem_verify.contract.api import Config
from hakmem_verify.check import check_impl

CFG = Config(class_sizes=(8, 16), slab_size=64, word_bits=8, mini_mag_capacity=2,
             refill_batch=2, magazine_capacity=1, flush_interval=2)


def _cross_thread_heap():
    """Thread 0 owns slabs with blocks thread 1 freed remotely; both have cached blocks
    and pending statistics."""
    fa = FastAllocator(CFG)
    blocks = [fa.alloc(8, 0) for _ in range(6)]
    for p in blocks[:4]:
        fa.free(p, 1)                       # remote pushes onto thread 0's slabs
    fa.free(fa.alloc(16, 1), 1)             # cached in thread 1's magazine
    return fa, blocks


OPS = {                                     # generator (in steps) -> the op that must run it
    "alloc_gen": lambda fa, b: fa.alloc(8, 0),
    "free_steps": lambda fa, b: fa.free(b[5], 0),
    "alloc_slow_steps": lambda fa, b: [fa.alloc(8, 2) for _ in range(3)],
    "drain_actives_gen": lambda fa, b: fa.drain_remote(0, 0),
    "evict_active_gen": lambda fa, b: fa.evict_active(0, 0),
    "evict_slab_steps": lambda fa, b: fa.evict_active(0, 0),
    "drain_slab_steps": lambda fa, b: fa.drain_remote(0, 0),
    "thread_exit_gen": lambda fa, b: fa.thread_exit(0),
    "return_block_steps": lambda fa, b: fa.thread_exit(1),
    "flush_gen": lambda fa, b: fa.flush_stats(),
    "flush_all_steps": lambda fa, b: fa.thread_exit(1),
    "quiesce_gen": lambda fa, b: fa.quiesce(),
}


@pytest.mark.parametrize("gen_name", sorted(OPS))
def test_the_sequential_op_runs_the_generator(gen_name, monkeypatch):
    orig = getattr(steps, gen_name)
    runs = []

    def spy(fa, *args, **kwargs):
        gen = orig(fa, *args, **kwargs)
        runs.append("started")
        result = yield from gen
        runs.append("finished")
        return result

    fa, blocks = _cross_thread_heap()
    monkeypatch.setattr(steps, gen_name, spy)
    OPS[gen_name](fa, blocks)
    assert runs and runs[-1] == "finished", f"the op never ran {gen_name}"
    check_impl(fa, 3)


def _all_freed_into_magazines():
    fa = FastAllocator(CFG)
    p, q = fa.alloc(8, 0), fa.alloc(16, 1)
    fa.free(p, 0)
    fa.free(q, 1)                           # both cached in their thread's magazine
    return fa


def test_a_bug_in_a_generator_is_a_bug_of_the_sequential_op(monkeypatch):
    """A thread-exit generator that drops the magazines leaks their blocks in the
    sequential model too: quiesce can no longer release their slabs."""
    clean = _all_freed_into_magazines()
    clean.quiesce()
    assert clean.slab_bases() == []

    orig = steps.thread_exit_gen

    def forgets(fa, tid):
        for m in fa._threads[tid].mags:
            m.top = 0
        return (yield from orig(fa, tid))

    fa = _all_freed_into_magazines()
    monkeypatch.setattr(steps, "thread_exit_gen", forgets)
    fa.quiesce()
    assert len(fa.slab_bases()) == 2
