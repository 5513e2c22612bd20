"""The malloc tier's handlers: one function per op of ``hakmem_verify.contract.ops.MALLOC_OPS``, each
calling the ``MallocOracle`` method that applies it (the tiny pool's are in
``hakmem_verify.oracle.handlers``)."""
from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING

from hakmem_verify.contract.ops import (MALLOC_OPS, AlignedAlloc, Alloc, AllocMany, BadFree, Calloc, Check, Free,
                  FreeMany, FreeNull, Quiesce, Read, Realloc, ThreadExit, Write)

if TYPE_CHECKING:
    from .malloc import MallocOracle

# ============================================================================
# One handler per op
# ============================================================================


def _alloc(o: MallocOracle, op: Alloc):
    h = o.allocate("malloc", (op.size,), op.size, op.tid)
    return [] if h is None else [h]


def _alloc_many(o: MallocOracle, op: AllocMany):
    return o.allocate_many(op.size, op.n, op.tid)


def _calloc(o: MallocOracle, op: Calloc):
    if "calloc" not in o.has:
        return []
    h = o.allocate("calloc", (op.n, op.size), op.n * op.size, op.tid)
    return [] if h is None else [h]


def _aligned(o: MallocOracle, op: AlignedAlloc):
    posix = "posix_memalign" in o.has and (op.posix or "aligned_alloc" not in o.has)
    if not posix and "aligned_alloc" not in o.has:
        return []
    kind = "posix_memalign" if posix else "aligned_alloc"
    h = o.allocate(kind, (op.alignment, op.size), op.size, op.tid, op.alignment)
    return [] if h is None else [h]


def _realloc(o: MallocOracle, op: Realloc):
    if op.handle not in o.handles or "realloc" not in o.has or op.size <= 0:
        return []
    h = o.realloc(op.handle, op.size, op.tid)
    return [] if h is None else [h]


def _free(o: MallocOracle, op: Free):
    if op.handle in o.handles:
        o.free(op.handle, op.tid)
    return []


def _free_many(o: MallocOracle, op: FreeMany):
    o.free_many(list(islice(reversed(o.handles) if op.newest else iter(o.handles), op.n)),
                op.tid)
    return []


def _free_null(o: MallocOracle, op: FreeNull):
    o._call(f"free(NULL) by tid {op.tid}", o.fast.free, op.tid, 0)
    o.check_all(f"after free(NULL) by tid {op.tid}")
    return []


def _write(o: MallocOracle, op: Write):
    if op.handle in o.handles:
        o.write(op.handle, op.offset, op.data)
    return []


def _read(o: MallocOracle, op: Read):
    if op.handle in o.handles:
        o.read(op.handle, op.offset, op.n)
    return []


def _thread_exit(o: MallocOracle, op: ThreadExit):
    o.thread_exit(op.tid)
    return []


def _quiesce(o: MallocOracle, op: Quiesce):
    o.quiesce()
    return []


def _bad_free(o: MallocOracle, op: BadFree):
    if o.detects:
        o.bad_free(op.kind, op.handle, op.tid)
    return []


def _check(o: MallocOracle, op: Check):
    o.check_all("a Check op")
    return []


HANDLERS = {Alloc: _alloc, AllocMany: _alloc_many, Calloc: _calloc, AlignedAlloc: _aligned,
            Realloc: _realloc, Free: _free, FreeMany: _free_many, FreeNull: _free_null,
            Write: _write, Read: _read, ThreadExit: _thread_exit, Quiesce: _quiesce,
            Check: _check, BadFree: _bad_free}
assert set(HANDLERS) == set(MALLOC_OPS), "every malloc-tier op has exactly one handler"
