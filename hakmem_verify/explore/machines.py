"""Hypothesis state machines that run the reference and the fast model in lockstep.

``make_machine(ref_factory, fast_factory)`` builds a RuleBasedStateMachine
whose rules are the ops of ``hakmem_verify.oracle.lockstep``; the oracle checks the L2
catalogue after every step and L3 every ``l3_every`` steps and at teardown.
The factories take a ``Config``; any allocator that implements
``hakmem_verify.contract.api.Allocator`` plus the fast introspection can be put under it.

Rare paths are reached in few steps with tiny Configs (a 4-block slab, a
magazine of 2, a flush interval of 4) and burst rules (``alloc_many``,
``free_many``) that do hundreds of operations in one step: Hypothesis caps a
run near 900 steps.  Every path the fast model takes is labelled with
``event()`` so ``--hypothesis-show-statistics`` reports coverage.
"""
from __future__ import annotations


from hypothesis import event, strategies as st
from hypothesis.stateful import (Bundle, consumes, initialize,
                                 multiple, precondition, rule)

from hakmem_verify.contract.api import capabilities_of
from .configs import configs
from .machine_base import OracleMachine
from hakmem_verify.oracle.lockstep import L3_EVERY, Oracle
from hakmem_verify.contract.ops import (Alloc, AllocMany, BadAccess, BadAlloc, BadFree, BadTid,
                                        Drain, Evict, FlushStats, Free, FreeMany, Quiesce,
                                        RaceFree, Read, Refill, ThreadExit, Write)

TIDS = st.integers(0, 3)
CLASSES = st.integers(0, 7)

BAD_SIZES = st.one_of(st.integers(-3, -1), st.integers(1025, 1100), st.just(1.5),
                      st.just(True), st.just("8"), st.none())
BAD_TIDS = st.sampled_from([-1, True, None, "0", 1.0])


# ============================================================================
# The machine
# ============================================================================


def make_machine(ref_factory, fast_factory, config_strategy=configs, l3_every: int = L3_EVERY,
                 name: str = "LockstepMachine", deep: bool = False, conformance: bool = True,
                 oracle=Oracle):
    """A RuleBasedStateMachine class over fresh ref/fast allocators per example.  A C
    library (an Impl of the malloc tier) gets the malloc machine instead: no reference,
    the contract of malloc (``hakmem_verify.explore.malloc_machine``).

    What ``fast_factory`` declares (``hakmem_verify.contract.api.Capabilities``) is honoured: every Config
    drawn takes its classes (the reference serves the same ones), and the bad frees and
    out-of-block accesses it does not promise to detect are never sent.

    ``deep``: the rules of deep histories too (:func:`deep_rules`), thousands of ops of
    one class per example.  ``conformance``: the oracles check the design's paths
    (``hakmem_verify.oracle.conformance``).  ``oracle``: the oracle class (a subclass of
    ``Oracle``, or a planted broken one: ``hakmem-fuzz mutate --oracle``)."""
    if getattr(fast_factory, "tier", None) == "malloc":
        from .malloc_machine import make_malloc_machine
        return make_malloc_machine(fast_factory, l3_every, name)
    caps = capabilities_of(fast_factory)
    if caps.class_sizes is not None:
        config_strategy = config_strategy.map(caps.adopt)

    class Machine(OracleMachine):
        handles = Bundle("handles")

        def _size(self, s: int) -> int:
            return s % (self.oracle.config.max_size + 1)

        @initialize(cfg=config_strategy)
        def setup(self, cfg):
            self.oracle = oracle(ref_factory(cfg), fast_factory(cfg), l3_every=l3_every,
                                 conformance=conformance)
            event(f"config slab={cfg.slab_size} classes={len(cfg.class_sizes)}")

        # ---- allocation ----------------------------------------------------------
        @rule(target=handles, size=st.integers(0, 1024), tid=TIDS)
        def alloc(self, size, tid):
            return multiple(*self.apply_op(Alloc(self._size(size), tid)))

        @rule(target=handles, size=st.integers(0, 1024),
              n=st.one_of(st.integers(1, 20), st.sampled_from([64, 255, 256, 300])), tid=TIDS)
        def alloc_many(self, size, n, tid):
            return multiple(*self.apply_op(AllocMany(self._size(size), n, tid)))

        # ---- free ------------------------------------------------------------------
        @rule(h=consumes(handles), tid=TIDS)
        def free(self, h, tid):
            self.apply_op(Free(h, tid))

        @rule(h=consumes(handles), tid=TIDS)
        def race_free(self, h, tid):
            self.apply_op(RaceFree(h, tid))     # the oracle's trace keeps the schedule that ran

        @rule(n=st.one_of(st.integers(1, 20), st.sampled_from([64, 256, 300])), tid=TIDS,
              newest=st.booleans())
        def free_many(self, n, tid, newest):
            self.apply_op(FreeMany(n, tid, newest))

        # ---- client data -------------------------------------------------------------
        @rule(h=handles, offset=st.integers(0, 40), data=st.binary(min_size=1, max_size=16))
        def write(self, h, offset, data):
            self.apply_op(Write(h, offset, data))

        @rule(h=handles, offset=st.integers(0, 40), n=st.integers(0, 16))
        def read(self, h, offset, n):
            self.apply_op(Read(h, offset, n))

        # ---- threads, stats, maintenance ---------------------------------------------
        @rule(tid=TIDS)
        def thread_exit(self, tid):
            self.apply_op(ThreadExit(tid))

        @rule()
        def flush_stats(self):
            self.apply_op(FlushStats())

        @rule(tid=TIDS, c=CLASSES)
        def evict(self, tid, c):
            self.apply_op(Evict(tid, c))

        @rule(tid=TIDS, c=CLASSES)
        def drain(self, tid, c):
            self.apply_op(Drain(tid, c))

        @rule(tid=TIDS, c=CLASSES)
        def refill(self, tid, c):
            self.apply_op(Refill(tid, c))

        @rule()
        def quiesce(self):
            self.apply_op(Quiesce())

        # ---- bad input ---------------------------------------------------------------
        @rule(size=BAD_SIZES, tid=st.one_of(TIDS, BAD_TIDS))   # a bad tid is named first
        def bad_alloc(self, size, tid):
            self.apply_op(BadAlloc(size, tid))

        @precondition(lambda self: caps.detects_invalid_frees)
        @rule(kind=st.sampled_from(["double", "unaligned", "interior", "foreign", "none"]),
              h=st.integers(0, 50), tid=TIDS)
        def bad_free(self, kind, h, tid):
            self.apply_op(BadFree(kind, self.oracle.next_handle - 1 - h, tid))

        @rule(call=st.sampled_from(["alloc", "free", "thread_exit"]), h=st.integers(0, 50),
              tid=BAD_TIDS)
        def bad_tid(self, call, h, tid):
            self.apply_op(BadTid(call, tid, self.oracle.next_handle - 1 - h))

        @precondition(lambda self: caps.bounds_checked)
        @rule(h=st.integers(0, 50), write=st.booleans(), kind=st.sampled_from(["edge", "none"]))
        def bad_access(self, h, write, kind):
            self.apply_op(BadAccess(self.oracle.next_handle - 1 - h, write, kind))

        def teardown(self):
            if self.oracle is not None and not self.broken:
                self.oracle.teardown()

    if deep:
        Machine = deep_rules(Machine)
    Machine.__name__ = Machine.__qualname__ = name
    return Machine


def deep_rules(base):
    """``base`` with the rules of deep histories, from the workloads' patterns: a long run
    of one class (256-2,048 allocations of one size in one step), a long free (the oldest
    or the newest), and churn (rounds of allocating and freeing a batch, as larson's
    threads do).  Each op is in the trace, so a failure shrinks to a few bursts."""

    class Deep(base):
        @rule(target=base.handles, size=st.integers(0, 1024), n=st.integers(256, 2048),
              tid=TIDS)
        def deep_alloc(self, size, n, tid):
            return multiple(*self.apply_op(AllocMany(self._size(size), n, tid)))

        @rule(n=st.integers(64, 2048), tid=TIDS, newest=st.booleans())
        def deep_free(self, n, tid, newest):
            self.apply_op(FreeMany(n, tid, newest))

        @rule(size=st.integers(0, 1024), rounds=st.integers(1, 8), n=st.integers(16, 256),
              tid=TIDS, by=TIDS)
        def churn(self, size, rounds, n, tid, by):
            for _ in range(rounds):
                self.apply_op(AllocMany(self._size(size), n, tid))
                self.apply_op(FreeMany(n, by, newest=True))

    return Deep
