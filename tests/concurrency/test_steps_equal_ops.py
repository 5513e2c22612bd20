"""One model, not two: running each op's atomic steps (hakmem_verify.models.fast.steps) to completion,
one op at a time, gives the results and the state the sequential op gives."""
from hypothesis import given, settings, strategies as st

from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.contract.api import AllocatorError, Config

OPS = st.lists(st.tuples(st.sampled_from(["alloc", "free", "drain", "evict", "exit", "flush"]),
                         st.integers(0, 3), st.integers(0, 40)), min_size=1, max_size=40)
CFG = Config(class_sizes=(8, 16), slab_size=64, word_bits=8, mini_mag_capacity=2,
             refill_batch=2, magazine_capacity=2, flush_interval=2)


def run_steps(gen):
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value


def apply(fa, op, live, as_steps):
    kind, tid, n = op
    try:
        if kind == "alloc":
            p = run_steps(fa.alloc_steps(n % 17, tid)) if as_steps else fa.alloc(n % 17, tid)
            live.append(p)
            return p
        if kind == "free":
            if not live:
                return None
            addr = live.pop(n % len(live))
            return run_steps(fa.free_steps(addr, tid)) if as_steps else fa.free(addr, tid)
        if kind == "drain":
            return run_steps(fa.drain_steps(tid, n % 2)) if as_steps else \
                fa.drain_remote(tid, n % 2)
        if kind == "evict":
            return run_steps(fa.evict_steps(tid, n % 2)) if as_steps else \
                fa.evict_active(tid, n % 2)
        if kind == "exit":
            return run_steps(fa.thread_exit_steps(tid)) if as_steps else fa.thread_exit(tid)
        if as_steps:                            # flush_steps: one thread's batches
            for t in sorted(fa._threads):
                run_steps(fa.flush_steps(t))
            return None
        return fa.flush_stats()                 # every thread's
    except AllocatorError as e:
        return type(e).__name__


@settings(max_examples=150, deadline=None)
@given(OPS)
def test_each_ops_steps_run_to_completion_equal_the_sequential_op(ops):
    seq, steps = FastAllocator(CFG), FastAllocator(CFG)
    live_seq, live_steps = [], []
    for op in ops:
        a = apply(seq, op, live_seq, False)
        b = apply(steps, op, live_steps, True)
        assert a == b, f"{op}: sequential {a!r}, steps {b!r}"
        assert seq.snapshot() == steps.snapshot(), f"states differ after {op}"
    seq.quiesce()
    steps.quiesce()
    assert seq.snapshot() == steps.snapshot()
