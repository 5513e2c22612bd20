"""The Hypothesis machine of the malloc tier: ops on a C library, checked by
``hakmem_verify.oracle.malloc``.

Sizes span the whole range a general-purpose malloc serves, 0 to 4 MiB, with extra weight
where allocators change behaviour: every power of two and the points around it, the
quarter steps between them (jemalloc's and mimalloc's class spacing), and the thresholds
the common libraries publish (glibc's tcache and mmap thresholds, tcmalloc's largest
small size, mimalloc's small/medium/large limits).  Four virtual threads, each a real
thread of the library's process; ``thread_exit`` ends one while its blocks stay live.
Bursts (``alloc_many`` up to 3,000 blocks of one size) reach the histories where caches
overflow.
"""
from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, consumes, initialize, multiple, precondition, rule

from hakmem_verify.contract.api import Config
from .machine_base import OracleMachine
from hakmem_verify.oracle.malloc import L3_EVERY, MallocOracle
from hakmem_verify.contract.ops import (AlignedAlloc, Alloc, AllocMany, BadFree, Calloc, Free, FreeMany, FreeNull,
                  Quiesce, Read, Realloc, ThreadExit, Write)

TIDS = st.integers(0, 3)
MAX_SIZE = 4 << 20
#: sizes where libraries change class, path or backing: 2^k and 2^k * (1 + i/4), +-1
THRESHOLDS = (1032, 1024 * 128, 128 * 1024 + 16, 256 * 1024, 512 * 1024, 1 << 20, 2 << 20,
              8 * 1024, 64 * 1024)
BOUNDARIES = tuple(sorted({max(0, min(MAX_SIZE, (base * (4 + i)) // 4 + d))
                           for k in range(0, 23) for base in (1 << k,) for i in range(4)
                           for d in (-1, 0, 1)} | set(THRESHOLDS)))

SIZES = st.one_of(st.sampled_from(BOUNDARIES), st.integers(0, 64), st.integers(0, 1024),
                  st.integers(0, 64 * 1024), st.integers(0, MAX_SIZE))
SMALL_SIZES = st.one_of(st.sampled_from([b for b in BOUNDARIES if b <= 4096]),
                        st.integers(0, 4096))
ALIGNMENTS = st.sampled_from([8, 16, 32, 64, 128, 256, 512, 4096, 65536])
#: one round trip each; 3,000 blocks of one size overflow every thread cache we know
BURSTS = st.one_of(st.integers(1, 20), st.integers(1, 20), st.sampled_from([64, 256, 300]),
                   st.sampled_from([1000, 3000]))


def with_classes(classes) -> tuple:
    """Sizes around a library's published classes: each class, one below, one above."""
    return tuple(sorted({max(0, min(MAX_SIZE, c + d)) for c in classes for d in (-1, 0, 1)}))


def make_malloc_machine(factory, l3_every: int = L3_EVERY, name: str = "MallocMachine"):
    """A RuleBasedStateMachine over a fresh instance of the library per example
    (``factory(config)`` returns one).  A library that publishes its size classes
    (``factory.classes``: jemalloc's ``arenas.bin.N.size``) gets them, and the sizes
    around them, as one more branch of every size drawn."""
    published = with_classes(getattr(factory, "classes", ()) or ())
    sizes = SIZES if not published else st.one_of(st.sampled_from(published), SIZES)
    small_sizes = SMALL_SIZES if not published else st.one_of(
        st.sampled_from([s for s in published if s <= 4096] or [0]), SMALL_SIZES)

    class Machine(OracleMachine):
        handles = Bundle("handles")

        @initialize()
        def setup(self):
            self.oracle = MallocOracle(factory(Config()), l3_every=l3_every)

        @rule(target=handles, size=sizes, tid=TIDS)
        def alloc(self, size, tid):
            return multiple(*self.apply_op(Alloc(size, tid)))

        @rule(target=handles, size=small_sizes, n=BURSTS, tid=TIDS)
        def alloc_many(self, size, n, tid):
            return multiple(*self.apply_op(AllocMany(size, n, tid)))

        @rule(target=handles, n=st.integers(0, 16), size=small_sizes, tid=TIDS)
        def calloc(self, n, size, tid):
            return multiple(*self.apply_op(Calloc(n, size, tid)))

        @rule(target=handles, alignment=ALIGNMENTS, k=st.integers(1, 8), tid=TIDS,
              posix=st.booleans())
        def aligned_alloc(self, alignment, k, tid, posix):
            return multiple(*self.apply_op(AlignedAlloc(alignment, alignment * k, tid, posix)))

        @rule(target=handles, h=consumes(handles), size=sizes.filter(bool), tid=TIDS)
        def realloc(self, h, size, tid):
            return multiple(*self.apply_op(Realloc(h, size, tid)))

        @rule(h=consumes(handles), tid=TIDS)
        def free(self, h, tid):
            self.apply_op(Free(h, tid))

        @rule(n=BURSTS, tid=TIDS, newest=st.booleans())
        def free_many(self, n, tid, newest):
            self.apply_op(FreeMany(n, tid, newest))

        @rule(tid=TIDS)
        def free_null(self, tid):
            self.apply_op(FreeNull(tid))

        @rule(h=handles, offset=st.integers(0, MAX_SIZE), data=st.binary(min_size=1,
                                                                          max_size=16))
        def write(self, h, offset, data):
            self.apply_op(Write(h, offset, data))

        @rule(h=handles, offset=st.integers(0, MAX_SIZE), n=st.integers(0, 16))
        def read(self, h, offset, n):
            self.apply_op(Read(h, offset, n))

        @precondition(lambda self: self.oracle is not None and self.oracle.detects)
        @rule(kind=st.sampled_from(["double", "interior"]), back=st.integers(0, 20), tid=TIDS)
        def bad_free(self, kind, back, tid):
            """Only for a library that declares it detects invalid frees."""
            self.apply_op(BadFree(kind, self.oracle.next_handle - 1 - back, tid))

        @rule(tid=TIDS)
        def thread_exit(self, tid):
            self.apply_op(ThreadExit(tid))

        @rule()
        def quiesce(self):
            self.apply_op(Quiesce())

        def teardown(self):
            if self.oracle is None:
                return
            if self.broken:
                self.oracle.close()
            else:
                self.oracle.teardown()

    Machine.__name__ = Machine.__qualname__ = name
    return Machine
