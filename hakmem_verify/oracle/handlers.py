"""One handler per op type of ``hakmem_verify.contract.ops``: how the lockstep oracle applies an op to
both sides (``HANDLERS``, used by ``hakmem_verify.oracle.lockstep.Oracle.apply``).  A handler calls the
oracle's one-step methods (alloc, free, ``both``, ``expect_same_error``, ...) and returns
the list of new handles."""
from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING

from hakmem_verify.contract.api import InvalidFree
from hakmem_verify.check import heap as heap_checks
from hakmem_verify.check import stats as stat_checks
from hakmem_verify.check.incremental import hook_02_result
from hakmem_verify.contract.ops import (MALLOC_OPS, OPS, Alloc, AllocMany, BadAccess, BadAlloc, BadFree, BadTid, Check, Drain,
                  Evict, FlushStats, Free, FreeMany, Quiesce, RaceFree, Read, Refill, ThreadExit,
                  Write)

if TYPE_CHECKING:
    from .lockstep import Oracle


def _clamp(o: Oracle, b, offset: int, n: int):
    """Keep an access inside the block: past its end it would hit a neighbour, which
    is legal and differs between allocators (BadAccess tests crossing the end)."""
    usable = o.config.class_sizes[b.cls]
    offset = offset % usable
    return offset, max(0, min(n, usable - offset))


def _write_block(o: Oracle, h: int, b, offset: int, data: bytes) -> None:
    """Write data at offset of handle h on both sides; what the client wrote is kept."""
    if offset > len(b.content):   # bytes before the write: define them on both sides
        _write_block(o, h, b, len(b.content), bytes(offset - len(b.content)))
    o.both(f"write(handle {h}, offset {offset}, {len(data)} B)",
           lambda a: o.ref.write(b.ref + offset, data),
           lambda a: o.fast.write(b.fast + offset, data), None)
    content = bytearray(b.content)
    content[offset:offset + len(data)] = data
    b.content = bytes(content)


def _inside_live(o: Oracle, addr: int, ref_side: bool = False) -> bool:
    """Is addr inside a live block of either side (blocks are aligned to their size)?"""
    for c, cs in enumerate(o.config.class_sizes):
        start = addr - addr % cs
        if ref_side:
            h = o.ref_addrs.get(start)
            if h is not None and o.handles[h].cls == c:
                return True
        elif o.live.blocks.get(start) == c:
            return True
    return False


def _alloc(o: Oracle, op: Alloc):
    h = o.alloc(op.size, op.tid)
    return [] if h is None else [h]


def _alloc_many(o: Oracle, op: AllocMany):
    out = []
    for i in range(op.n):
        if i:
            o.after_op(burst=True)    # check each alloc of the burst
        h = o.alloc(op.size, op.tid)
        if h is None:
            break
        out.append(h)
    return out


def _free(o: Oracle, op):
    if op.handle in o.handles:
        o.free(op.handle, op.tid, race=isinstance(op, RaceFree))
    return []


def _free_many(o: Oracle, op: FreeMany):
    # handles are issued in increasing order and dicts keep insertion order
    hs = list(islice(reversed(o.handles) if op.newest else iter(o.handles), op.n))
    for i, h in enumerate(hs):
        if i:
            o.after_op(burst=True)    # check each free of the burst
        o.free(h, op.tid)
    return []


def _write(o: Oracle, op: Write):
    b = o.handles.get(op.handle)
    if b is not None:
        offset, n = _clamp(o, b, op.offset, len(op.data))
        _write_block(o, op.handle, b, offset, op.data[:n])
    return []


def _read(o: Oracle, op: Read):
    b = o.handles.get(op.handle)
    if b is None:
        return []
    offset, n = _clamp(o, b, op.offset, op.n)
    defined = max(0, min(offset + n, len(b.content)) - offset)   # bytes the client wrote
    r, f = o.both(f"read(handle {op.handle}, offset {offset}, {n} B)",
                  lambda: o.ref.read(b.ref + offset, n)[:defined],
                  lambda: o.fast.read(b.fast + offset, n)[:defined])
    if f.value != b.content[offset:offset + defined]:
        o.check_data(op.handle, b, b.tid)
    return []


def _thread_exit(o: Oracle, op: ThreadExit):
    o.both(f"thread_exit({op.tid})", o.ref.thread_exit, o.fast.thread_exit, op.tid)
    if o.white_box:
        o.op_check(heap_checks.exit_01_gone, o.fast.snapshot((), {}), op.tid)
    return []


def _flush_stats(o: Oracle, op: FlushStats):
    if op.tid is not None:
        raise ValueError(f"{op!r} flushes one thread's batches, an op of the concurrent "
                         "machine (hakmem_verify.oracle.concurrent); the lockstep oracle "
                         "flushes every thread: FlushStats()")
    o.both("flush_stats()", o.ref.flush_stats, o.fast.flush_stats)
    o.op_check(stat_checks.stat_01_after_flush,
               o.stats_of("implementation", o.fast.stats),
               o.stats_of("implementation", o.fast.exact_stats))
    return []


def _evict(o: Oracle, op: Evict):
    if o.white_box:
        c = op.class_idx % o.config.num_classes
        base = o.fast.active_slab(op.tid, c)
        what = f"evict_active({op.tid}, {c})"
        got = o.call("implementation", what, o.fast.evict_active, op.tid, c)
        if got.kind == "ok":
            o.op_check(hook_02_result, what, got.value, base is not None)
        if base is not None and o.check_level >= 2:
            o.check_transition("SPL-01", base)
    return []


def _remote_blocks(o: Oracle, tid: int, c: int) -> int:
    """Blocks on the remote stacks of tid's active slabs A and B of class c."""
    t = o.fast.snapshot((), {}, [tid]).threads.get(tid)
    bases = [b for b in (t.active_a[c], t.active_b[c]) if b is not None] if t else []
    return sum(len(s.remote) for s in o.fast.snapshot(bases, {}, ()).slabs.values())


def _mini_mag_of(o: Oracle, base) -> int:
    s = o.fast.snapshot([base], {}, ()).slabs.get(base) if base is not None else None
    return s.mini_mag_count if s is not None else 0


def _drain(o: Oracle, op: Drain):
    if o.white_box:
        c = op.class_idx % o.config.num_classes
        want = _remote_blocks(o, op.tid, c)
        what = f"drain_remote({op.tid}, {c})"
        got = o.call("implementation", what, o.fast.drain_remote, op.tid, c)
        if got.kind == "ok":
            o.op_check(hook_02_result, what, got.value, want)
    return []


def _refill(o: Oracle, op: Refill):
    if o.white_box:
        c = op.class_idx % o.config.num_classes
        base = o.fast.active_slab(op.tid, c)
        before = _mini_mag_of(o, base)
        what = f"refill_active({op.tid}, {c})"
        got = o.call("implementation", what, o.fast.refill_active, op.tid, c)
        if got.kind == "ok":
            o.op_check(hook_02_result, what, got.value, _mini_mag_of(o, base) - before)
        if base is not None and o.check_level >= 2:
            o.check_transition("REF-01", base)
    return []


def _quiesce(o: Oracle, op: Quiesce):
    o.quiesce()
    return []


def _check(o: Oracle, op: Check):
    if op.level >= 3:
        o.check_l3()
    return []


def _bad_alloc(o: Oracle, op: BadAlloc):
    o.expect_same_error(f"alloc({op.size!r}, tid={op.tid})", lambda: o.ref.alloc(op.size, op.tid),
                        lambda: o.fast.alloc(op.size, op.tid))
    return []


def _bad_free(o: Oracle, op: BadFree):
    cfg = o.config
    b = o.handles.get(op.handle) or (o.freed.get(op.handle) if op.kind == "double" else None)
    if op.kind == "none":
        ra = fa = None
    elif op.kind == "foreign":
        ra = fa = cfg.base_address - cfg.slab_size
    elif b is None:
        return []
    elif op.kind == "double":
        if op.handle not in o.freed or _inside_live(o, b.ref, True) or _inside_live(o, b.fast):
            return []       # not freed, or its address was handed out again
        ra, fa = b.ref, b.fast
    else:
        if cfg.class_sizes[b.cls] <= 8 and op.kind == "interior":
            return []
        delta = 1 if op.kind == "unaligned" else 8
        ra, fa = b.ref + delta, b.fast + delta
    also_ok = ()
    if op.kind == "double":
        # a double free into a slab the pool released (and maybe reused for another class)
        # cannot be told from a foreign or interior address: InvalidFree is the contract
        base = fa & o.mask
        if not o.white_box:
            also_ok = (InvalidFree,)
        elif base not in o.fast.slab_bases():
            also_ok = (InvalidFree,)
        else:
            now = o.fast.snapshot([base], {}).slabs.get(base)
            if now is None or now.class_idx != b.cls:
                also_ok = (InvalidFree,)
    o.expect_same_error(f"free({op.kind} address, tid={op.tid})", lambda: o.ref.free(ra, op.tid),
                        lambda: o.fast.free(fa, op.tid), also_ok)
    return []


#: a white-box implementation's hooks that take a tid validate it at the call, as the
#: calls do: (hook, its arguments after the tid)
_TID_HOOKS = {"alloc": (("alloc_steps", "size"),),
              "free": (("free_steps", "addr"),),
              "thread_exit": (("thread_exit_steps", None), ("flush_steps", None),
                              ("drain_steps", 0), ("evict_steps", 0), ("drain_remote", 0),
                              ("evict_active", 0), ("refill_active", 0))}


def _bad_tid(o: Oracle, op: BadTid):
    if op.call == "free":
        b = o.handles.get(op.handle)
        if b is None:
            return []
        args_ref, args_fast, what = (b.ref, op.tid), (b.fast, op.tid), f"live handle {op.handle}, "
    elif op.call == "alloc":
        args_ref = args_fast = (8, op.tid)
        what = "8, "
    else:
        args_ref = args_fast = (op.tid,)
        what = ""
    ref_fn = getattr(o.ref, op.call)
    o.expect_same_error(f"{op.call}({what}tid={op.tid!r})", lambda: ref_fn(*args_ref),
                        lambda: getattr(o.fast, op.call)(*args_fast))
    if not o.white_box:
        return []
    for name, arg in _TID_HOOKS[op.call]:
        hook = getattr(o.fast, name, None)
        if hook is None:
            continue
        if arg in ("size", "addr"):             # (size or addr, tid), as the call
            args = args_fast
        else:                                   # (tid) or (tid, class)
            args = (op.tid,) if arg is None else (op.tid, arg)
        o.expect_same_error(f"{name}({', '.join(map(repr, args))})", lambda: ref_fn(*args_ref),
                            lambda: hook(*args))
    return []


def _bad_access(o: Oracle, op: BadAccess):
    """read/write that crosses the end of a live block, of a freed one, or at None."""
    if op.kind == "none":
        o.expect_same_error(f"{'write' if op.write else 'read'} of 2 bytes at address None",
                            (lambda: o.ref.write(None, b"\x11\x22")) if op.write
                            else (lambda: o.ref.read(None, 2)),
                            (lambda: o.fast.write(None, b"\x11\x22")) if op.write
                            else (lambda: o.fast.read(None, 2)))
        return []
    b = o.handles.get(op.handle) or o.freed.get(op.handle)
    if b is None:
        return []
    live = op.handle in o.handles
    if not live and (_inside_live(o, b.ref, True) or _inside_live(o, b.fast)):
        return []       # the freed address was handed out again
    off = o.config.class_sizes[b.cls] - 1 if live else 0
    if op.write:
        ref_fn, fast_fn = (lambda: o.ref.write(b.ref + off, b"\x11\x22"),
                           lambda: o.fast.write(b.fast + off, b"\x11\x22"))
    else:
        ref_fn, fast_fn = (lambda: o.ref.read(b.ref + off, 2), lambda: o.fast.read(b.fast + off, 2))
    o.expect_same_error(f"{'write' if op.write else 'read'} of 2 bytes at offset {off} of "
                        f"{'live' if live else 'freed'} handle {op.handle}", ref_fn, fast_fn)
    return []


HANDLERS = {
    Alloc: _alloc, AllocMany: _alloc_many, Free: _free, RaceFree: _free, FreeMany: _free_many,
    Write: _write, Read: _read, ThreadExit: _thread_exit, FlushStats: _flush_stats,
    Evict: _evict, Drain: _drain, Refill: _refill, Quiesce: _quiesce, Check: _check,
    BadAlloc: _bad_alloc, BadFree: _bad_free, BadTid: _bad_tid, BadAccess: _bad_access,
}
assert set(HANDLERS) == set(OPS), "every op type has exactly one handler"


def handler_for(op):
    """The handler of op's type; TypeError naming the ops there are for anything else."""
    handler = HANDLERS.get(type(op))
    if handler is None:
        if type(op) in MALLOC_OPS:
            raise TypeError(f"{op!r} is an op of the malloc tier (a C library named "
                            f"--impl malloc:LIB); the tiny pool has no "
                            f"{type(op).__name__.lower()}: use hakmem_verify.oracle.malloc")
        raise TypeError(f"{op!r} is not an op of hakmem_verify.contract.ops (one of "
                        f"{', '.join(o.__name__ for o in OPS)})")
    return handler
