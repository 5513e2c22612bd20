"""valgrind --trace-malloc=yes import: handles, realloc, skipped sizes, bad lines, threads."""
from __future__ import annotations

import os

import pytest

from hakmem_verify.workloads.trace_import import TraceError, load_trace, parse_trace, spread
from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.contract.api import Config
from hakmem_verify.oracle.blocks import fill_pattern
from hakmem_verify.oracle.lockstep import Oracle
from hakmem_verify.contract.ops import Alloc, Free, Read, Write

TRACES = os.path.join(os.path.dirname(__file__), "..", "..", "hakmem_verify", "workloads", "traces")
RECORDED = ["ls-l.trace", "sqlite3-200-rows.trace"]


def lines(*calls):
    return [f"--77-- {c}\n" for c in calls]


def test_pointers_become_handles_numbered_in_alloc_order():
    t = parse_trace(lines("malloc(24) = 0x1000", "calloc(3,8) = 0x2000", "free(0x1000)",
                          "malloc(5) = 0x1000", "free(0x2000)", "free(0x1000)"))
    assert t.ops == [Alloc(24), Alloc(24), Free(0), Alloc(5), Free(1), Free(2)]
    assert t.calls == {"malloc": 2, "calloc": 1, "free": 3}


def test_realloc_is_an_alloc_a_copy_check_and_a_free():
    t = parse_trace(lines("malloc(20) = 0x1000", "realloc(0x1000,48) = 0x2000", "free(0x2000)"))
    data = fill_pattern(0, 32)[:20]
    assert t.ops == [Alloc(20), Alloc(48), Read(0, 0, 20), Write(1, 0, data), Read(1, 0, 20),
                     Free(0), Free(1)]


def test_realloc_from_null_with_its_inner_malloc_is_one_alloc():
    t = parse_trace(lines("realloc(0x0,100)malloc(100) = 0x4B08A10", "free(0x4B08A10)"))
    assert t.ops == [Alloc(100), Free(0)] and t.calls == {"realloc": 1, "free": 1}


def test_sizes_outside_the_tiny_range_are_skipped_and_counted_with_their_frees():
    t = parse_trace(lines("malloc(4096) = 0x1000", "memalign(al 2048, size 8) = 0x3000",
                          "malloc(8) = 0x2000", "free(0x1000)", "free(0x3000)", "free(0x0)",
                          "free(0x9999)", "malloc(8) = 0x0", "free(0x2000)"))
    assert t.ops == [Alloc(8), Free(0)]
    assert t.skipped == {"alloc_out_of_range": 2, "free_of_skipped_block": 2, "free_null": 1,
                         "free_of_unknown_pointer": 1, "failed_alloc": 1}


def test_cpp_new_and_delete_and_memalign_are_allocs_and_frees():
    t = parse_trace(lines("_Znwm(24) = 0x10", "_ZnwmSt11align_val_t(size 8, al 64) = 0x40",
                          "memalign(al 32, size 8) = 0x80", "_ZdlPv(0x10)", "_ZdlPvm(0x40)",
                          "free(0x80)"))
    assert t.ops == [Alloc(24), Alloc(64), Alloc(32), Free(0), Free(1), Free(2)]


def test_program_output_and_valgrind_messages_are_ignored():
    t = parse_trace(["==77== Memcheck, a memory error detector\n", "hello world\n",
                     "--77-- Reading syms from /bin/ls\n", "output--77-- malloc(8) = 0x10\n"])
    assert t.ops == [Alloc(8)]


@pytest.mark.parametrize("bad, reason", [
    ("--77-- malloc(24) = ", "without its result"),
    ("--77-- malloc(24", "truncated or malformed"),
    ("--77-- free(0xZZ)", "malformed arguments of free"),
    ("--77-- calloc(3) = 0x10", "malformed arguments of calloc"),
    ("--77-- mall", "truncated heap call"),
    ("--7", "truncated valgrind line prefix"),
    ("--77-- frobnicate(3) = 0x10", "unknown heap call"),
    ("--77-- malloc(8) = 0x100", "still live"),
])
def test_a_malformed_or_truncated_line_is_reported_with_its_number(bad, reason):
    src = lines("malloc(8) = 0x100", "malloc(16) = 0x200") + [bad + "\n"] + lines("free(0x200)")
    with pytest.raises(TraceError, match=reason) as err:
        parse_trace(src, source="t.log")
    assert err.value.lineno == 3 and str(err.value).startswith("t.log:3: ")
    assert "--skip-bad" in str(err.value)
    t = parse_trace(src, skip_bad=True)
    assert t.skipped["bad_line"] == 1 and t.bad_lines[0][0] == 3
    assert t.ops == [Alloc(8), Alloc(16), Free(1)]


def test_spread_assigns_threads_and_remote_frees_deterministically():
    ops = load_trace(os.path.join(TRACES, "sqlite3-200-rows.trace")).ops
    a, b = spread(ops, 4, 0.25, seed=3), spread(ops, 4, 0.25, seed=3)
    assert a == b and a != spread(ops, 4, 0.25, seed=4)
    owner, cross, frees = {}, 0, 0
    for op in a:
        if type(op) is Alloc:
            owner[len(owner)] = op.tid
        elif type(op) is Free:
            frees += 1
            cross += owner[op.handle] != op.tid
    assert {op.tid for op in a if type(op) is Alloc} == {0, 1, 2, 3}
    assert 0.18 < cross / frees < 0.32
    local = spread(ops, 4, 0.0)
    tids = [op.tid for op in local if type(op) is Alloc]
    assert all(op.tid == tids[op.handle] for op in local if type(op) is Free)
    with pytest.raises(ValueError, match="probability"):
        spread(ops, 4, 1.5)


@pytest.mark.parametrize("name", RECORDED)
@pytest.mark.parametrize("threads", [None, 3])
def test_a_recorded_trace_replays_clean_through_the_oracle(name, threads):
    t = load_trace(os.path.join(TRACES, name))
    assert len(t.ops) > 500 and t.skipped["alloc_out_of_range"] > 0
    ops = spread(t.ops, threads, 0.3) if threads else t.ops
    oracle = Oracle(RefAllocator(Config()), FastAllocator(Config()), check_level=2)
    oracle.run(ops)
    oracle.teardown()
