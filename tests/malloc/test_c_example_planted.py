"""Each planted bug of the C example allocator (examples/c/) is live: a scenario shows its
effect on the bug's build and not on the correct build."""
from __future__ import annotations

import pytest

from examples.c import build as exbuild

from .c_example_scenarios import compiler, contrast  # noqa: F401  (compiler: a fixture)

pytestmark = pytest.mark.usefixtures("compiler")


# ---------------------------------------------------------------------------
# Each planted bug is live: its effect, directly on the library
# ---------------------------------------------------------------------------

def test_double_alloc_after_overflow_returns_one_block_twice():
    contrast("double-alloc-after-overflow", r'''
        w = Worker()
        blocks = [w(lib.ex_malloc, 16) for _ in range(40)]
        for p in blocks:                      # the 33rd free overflows the cache
            w(lib.ex_free, p)
        again = [A(w(lib.ex_malloc, 16)) for _ in range(80)]
        dups = len(again) - len(set(again))
        report(dups, f"{dups} of 80 live blocks share an address")
    ''')


def test_collect_loses_tail_keeps_a_remote_free_counted_forever():
    contrast("collect-loses-tail", r'''
        a, b = Worker(), Worker()
        base = lib.ex_allocated_bytes()
        p = free_remotely(a, b)               # onto a's remote list
        q = a(lib.ex_malloc, 16)              # a's empty cache collects the list
        a(lib.ex_free, q)
        a.exit(); b.exit()
        report_drift(base, "every block freed, every thread exited")
    ''')


def test_realloc_shrink_copies_old_size_clobbers_the_next_blocks():
    contrast("realloc-shrink-copies-old-size", r'''
        w = Worker()
        blocks = [w(lib.ex_malloc, 16) for _ in range(10)]    # adjacent 16-byte blocks
        for i, p in enumerate(blocks):
            write(p, 16, 0x40 + i)
        big = w(lib.ex_malloc, 64)
        write(big, 64, 0xEE)
        w(lib.ex_free, blocks[4])
        q = w(lib.ex_realloc, big, 16)                       # moves into blocks[4]'s place
        hit = [i for i, p in enumerate(blocks) if i != 4 and read(p, 16) != bytes([0x40 + i]) * 16]
        report(hit or read(q, 16) != b"\xee" * 16,
               f"realloc(64 -> 16) to {A(q):#x} clobbered neighbours {hit}")
    ''')


def test_calloc_reused_not_zeroed_hands_back_old_bytes():
    contrast("calloc-reused-not-zeroed", r'''
        w = Worker()
        p = w(lib.ex_malloc, 64)
        write(p, 64, 0xAB)
        w(lib.ex_free, p)
        q = w(lib.ex_calloc, 1, 64)
        nonzero = sum(1 for x in read(q, 64) if x)
        report(nonzero, f"calloc(1, 64) at {A(q):#x} (the freed block: {A(q) == A(p)}) has "
                        f"{nonzero} nonzero bytes")
    ''')


def test_aligned_alloc_class_too_small_serves_three_units_from_a_class_of_two():
    contrast("aligned-alloc-class-too-small", r'''
        w = Worker()
        got = [w(lib.ex_aligned_alloc, 64, 3 * 64) for _ in range(8)]
        short = [lib.ex_malloc_usable_size(p) for p in got if lib.ex_malloc_usable_size(p) < 192]
        bad = [hex(A(p)) for p in got if A(p) % 64]
        report(short or bad, f"aligned_alloc(64, 192): usable sizes {short} below 192, "
                             f"{len(bad)} blocks not 64-aligned")
    ''')


def test_exit_leaves_remote_list_hands_a_remotely_freed_block_out_twice():
    contrast("exit-leaves-remote-list", r'''
        a, b = Worker(), Worker()
        base = lib.ex_allocated_bytes()
        p = free_remotely(a, b)               # onto a's remote list
        a.exit(); b.exit()                    # a's exit hands the list to the depot
        d = stats_delta(lib.ex_allocated_bytes(), base)     # collects abandoned heaps
        c = Worker()
        again = [A(c(lib.ex_malloc, 16)) for _ in range(40)]
        dups = len(again) - len(set(again))
        report(d != 0 or dups, f"statistics {d:+d} bytes from the baseline; block {A(p):#x} "
                               f"returned {again.count(A(p))} times to one thread")
    ''')


def test_realloc_not_counted_drifts_the_statistics():
    contrast("realloc-not-counted", r'''
        w = Worker()
        base = lib.ex_allocated_bytes()
        p = w(lib.ex_malloc, 16)
        q = w(lib.ex_realloc, p, 100)          # moves to the 128-byte class
        w(lib.ex_free, q)
        w.exit()
        report_drift(base, "after malloc(16), realloc(100), free, exit")
    ''')


def test_class_boundary_off_by_one_serves_a_class_size_from_the_class_below():
    contrast("class-boundary-off-by-one", r'''
        w = Worker()
        p, q = w(lib.ex_malloc, 32), w(lib.ex_malloc, 32)
        u = lib.ex_malloc_usable_size(p)
        report(u < 32, f"malloc(32) has usable size {u}; two malloc(32) lie "
                       f"{abs(A(q) - A(p))} bytes apart")
    ''')


def test_every_planted_bug_has_a_demonstration_here():
    names = {n for n in globals() if n.startswith("test_")}
    for bug in exbuild.BUGS:
        assert any(n.startswith("test_" + bug.replace("-", "_")) for n in names), bug
