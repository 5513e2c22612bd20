"""The malloc contract tier: any C allocator library checked op by op, with the harness as
its reference.

A general-purpose malloc has its own size classes, its own usable sizes and no predictable
out of memory, so it cannot be run in lockstep with ``hakmem_verify.models.ref``.  Instead the oracle
keeps what the contract of ``malloc`` promises: an interval index of the live blocks,
the bytes the client wrote in each (a fill pattern at the head and the tail of every
block, and the client's own writes), and the library's allocated-bytes statistic where it
has one.  After each op it checks ``hakmem_verify.check.malloc`` (MALLOC-01..08, CRASH,
ABORT).

The implementation is an *instance*: one forked heap of the library
(``hakmem_verify.models.malloc.client.MallocInstance``, duck-typed here: ``alloc_fill``,
``realloc_fill``, ``check_free``, ``differs``, ``write``, ``read``, ``stats``,
``exit_thread``, ``threads``, ``close``, and ``spec.symbols``).  Each virtual tid is a
real thread of that process, so a free by another tid is a real cross-thread free.
Invalid frees are undefined behaviour for a malloc and are never issued.

Ops are the plain values of ``hakmem_verify.contract.ops`` (``MALLOC_OPS``): ``Alloc``, ``AllocMany``,
``Calloc``, ``AlignedAlloc``, ``Realloc``, ``Free``, ``FreeMany``, ``FreeNull``, ``Write``,
``Read``, ``ThreadExit``, ``Quiesce`` (every thread exits), ``Check``, and ``BadFree``
(kinds ``double`` and ``interior``) only for a library that declares it detects invalid
frees: each runs in a forked copy of the library's process, which must die (MALLOC-09).
"""
from __future__ import annotations

from bisect import bisect_left, insort
from collections import Counter

from hakmem_verify.contract.api import Config, ImplementationCrashed, InvariantViolation
from hakmem_verify.check import malloc as mc
from hakmem_verify.check.registry import ran, run_op
from .blocks import MBlock, fill_segments
from .malloc_handlers import HANDLERS
from hakmem_verify.contract.ops import MALLOC_OPS, op_repr

L3_EVERY = 25


class MallocOracle:
    """Applies malloc-tier ops to one library instance and checks the contract."""

    tier = "malloc"
    white_box = False

    def __init__(self, impl, l3_every: int = L3_EVERY, config: Config = None):
        self.fast = impl                     # the instance (named as the other tiers name it)
        self.config = config or Config()     # unused by a library; kept for reproducers
        self.l3_every = l3_every
        self.has = set(impl.spec.symbols)
        self.known = tuple(getattr(impl, "known", ()))   # ops a known library bug trips
        self.detects = bool(getattr(impl.spec, "detects_invalid_free", False))
        self.freed = {}                      # handle -> address, the last 64 freed
        self.handles = {}                    # handle -> MBlock, in allocation order
        self.starts = []                     # sorted addresses of the live blocks
        self.at = {}                         # address -> handle
        self.next_handle = 0
        self.steps = 0
        self.trace = []
        self.events = Counter()
        self.runs = Counter()
        self.live_bytes = 0
        self.threads_seen = set()
        self.baseline = self._call("stats() before the first op", impl.stats)

    @property
    def checks(self) -> Counter:
        return self.runs

    # ---- driving ------------------------------------------------------------------------
    def run(self, ops) -> None:
        for op in ops:
            self.apply(op)

    def apply(self, op):
        handler = HANDLERS.get(type(op))
        if handler is None:
            raise TypeError(f"{op!r} is not an op of the malloc tier (one of "
                            f"{', '.join(o.__name__ for o in MALLOC_OPS)})")
        self.trace.append(op)
        self.steps += 1
        for k in self.known:
            if k.trips(op):                  # a bug of this release, known upstream
                self.events[f"skipped:known-bug:{k.name}"] += 1
                return []
        out = handler(self, op)
        if self.l3_every and self.steps % self.l3_every == 0:
            self.check_all("the periodic check of every live block")
        return out

    def _call(self, what: str, fn, *args):
        """One call into the library; its death is a CRASH or ABORT finding."""
        try:
            return fn(*args)
        except ImplementationCrashed as e:
            ran(e.kind, counts=self.runs)
            self.fail_crash(what, e)

    def fail_crash(self, what, e):
        try:
            mc.crash(what, e)
        except InvariantViolation as v:
            raise InvariantViolation(v.inv_id, self._where(v.detail)) from None

    def _where(self, msg: str) -> str:
        tail = f"after {self.steps} ops; last op {op_repr(self.trace[-1])}" if self.trace else ""
        return f"{msg} ({tail})" if tail else msg

    def check(self, fn, *args):
        """Run the check ``fn`` (declared in the registry), counted under its ID."""
        try:
            return run_op(fn, *args, counts=self.runs)
        except InvariantViolation as v:
            raise InvariantViolation(v.inv_id, self._where(v.detail)) from None

    # ---- allocation -----------------------------------------------------------------------
    def allocate(self, kind: str, args: tuple, size: int, tid: int, alignment: int = 0):
        """malloc / calloc / aligned_alloc on tid's thread; the new handle, or None (NULL)."""
        what = f"{kind}({', '.join(map(str, args))}) by tid {tid}"
        self.threads_seen.add(tid)
        h = self.next_handle
        segs = fill_segments(h, size)
        addr, usable, nonzero = self._call(what, self.fast.alloc_fill, tid, kind, args, segs)
        if not addr:
            return self._null(what, size)
        self._admit(what, h, addr, size, usable, tid, alignment)
        if kind == "calloc":
            self.check(mc.malloc_06_zero, what, addr, size, nonzero)
        for off, data in segs:
            self.handles[h].known[off] = data
        self.events[kind] += 1
        return h

    def allocate_many(self, size: int, n: int, tid: int) -> list:
        """n x malloc(size) on tid's thread in one round trip, each block checked as one
        malloc is; the new handles (fewer at a NULL)."""
        self.threads_seen.add(tid)
        h0 = self.next_handle
        items = [fill_segments(h0 + i, size) for i in range(n)]
        what = f"malloc({size}) by tid {tid} (a burst of {n})"
        got = self._call(what, self.fast.alloc_many, tid, size, items)
        out = []
        for i, (addr, usable) in enumerate(got):
            if not addr:
                self._null(f"{what}, call {i + 1}", size)
                break
            h = self.next_handle
            self._admit(f"{what}, call {i + 1}", h, addr, size, usable, tid)
            self.handles[h].known.update(items[i])
            out.append(h)
        self.events["malloc_burst"] += 1
        return out

    def free_many(self, hs: list, tid: int) -> None:
        """free of each handle in turn, in one round trip; a block whose contents differ
        is MALLOC-04 (the blocks before it were freed)."""
        self.threads_seen.add(tid)
        blocks = [(self.handles[h].addr, self.handles[h].segments()) for h in hs]
        done, bad = self._call(f"a burst of {len(hs)} frees by tid {tid}", self.fast.free_many,
                               tid, blocks)
        for h in hs[:done]:
            b = self._forget(h)
            if b.tid != tid:
                self.events["cross_thread_free"] += 1
        if bad:
            h = hs[done]
            self._intact(f"before the free of live handle {h} by tid {tid}", h,
                         self.handles[h], bad)
        self.events["free_burst"] += 1

    def _null(self, what: str, size: int):
        self.check(mc.malloc_08_oom, what, size, self.live_bytes)
        self.events["null"] += 1
        return None

    def _admit(self, what, h, addr, size, usable, tid, alignment=0):
        """Check a block just handed out and index it as live handle h."""
        self.check(mc.malloc_02_aligned, what, addr, size, alignment)
        if usable >= 0:
            self.check(mc.malloc_03_usable, what, addr, size, usable)
        end = addr + max(size, usable, 1)
        self.check(mc.malloc_01_disjoint, what, addr, end, self._meets(addr, end))
        self.next_handle = h + 1
        self.handles[h] = MBlock(addr, size, end, tid, what)
        insort(self.starts, addr)
        self.at[addr] = h
        self.live_bytes += size

    def _meets(self, addr: int, end: int):
        """(handle, start, end, made) of a live block sharing bytes with [addr, end)."""
        i = bisect_left(self.starts, addr)
        for j in (i - 1, i):
            if 0 <= j < len(self.starts):
                b = self.handles[self.at[self.starts[j]]]
                if b.addr < end and addr < b.end:
                    return (self.at[b.addr], b.addr, b.end, b.made)
        return None

    def _unindex(self, h: int) -> MBlock:
        b = self.handles.pop(h)
        del self.starts[bisect_left(self.starts, b.addr)]
        del self.at[b.addr]
        self.live_bytes -= b.size
        return b

    # ---- free and realloc ------------------------------------------------------------------
    def free(self, h: int, tid: int) -> None:
        b = self.handles[h]
        what = f"free of live handle {h} by tid {tid}"
        self.threads_seen.add(tid)
        expect = b.segments()
        bad = self._call(what, self.fast.check_free, tid, b.addr, expect)
        self._intact(f"before the {what}", h, b, bad)
        self._forget(h)
        if b.tid != tid:
            self.events["cross_thread_free"] += 1
        self.events["free"] += 1

    def _forget(self, h: int) -> MBlock:
        b = self._unindex(h)
        self.freed[h] = b.addr
        if len(self.freed) > 64:
            del self.freed[next(iter(self.freed))]
        return b

    def bad_free(self, kind: str, h: int, tid: int) -> None:
        """A double or interior free, in a forked copy; it must die (MALLOC-09)."""
        if kind == "double":
            addr = self.freed.get(h)
            if addr is None or self._meets(addr, addr + 1) is not None:
                self.events["bad_free_skipped"] += 1   # reused since: a valid free now
                return
        elif kind == "interior" and h in self.handles and self.handles[h].size >= 32:
            addr = self.handles[h].addr + 16
        else:
            self.events["bad_free_skipped"] += 1
            return
        what = f"{kind} free of handle {h} by tid {tid}"
        code = self._call(what, self.fast.probe_free, addr)
        self.check(mc.malloc_09_detected, what, addr, code)
        self.events[f"bad_free_{kind}_detected"] += 1

    def _intact(self, what, h, b, bad) -> None:
        want = dict(b.known)
        self.check(mc.malloc_04_intact, what, h, b.addr, b.size,
                   [(off, got, want[off]) for off, got in bad], b.made)

    def realloc(self, h: int, size: int, tid: int):
        b = self.handles[h]
        what = f"realloc(handle {h}, {b.size} -> {size}) by tid {tid}"
        self.threads_seen.add(tid)
        bad = self._call(what, self.fast.differs, b.addr, b.segments())
        self._intact(f"before the {what}", h, b, bad)
        expect = b.segments(min(b.size, size))
        nh = self.next_handle
        segs = [(o, d) for o, d in fill_segments(nh, size) if o >= b.size]
        new, usable, bad = self._call(what, self.fast.realloc_fill, tid, b.addr, size, expect,
                                      segs)
        if not new:
            return self._null(what, size)      # the old block stays live, unchanged
        self._forget(h)
        self.check(mc.malloc_05_prefix, what, h, b.addr, new, b.size, size,
                   [(off, got, dict(expect)[off]) for off, got in bad])
        self._admit(what, nh, new, size, usable, tid)
        nb = self.handles[nh]
        for off, data in expect + segs:
            nb.known[off] = data
        self._neighbours(f"after the {what}", new)
        self.events["realloc_moved" if new != b.addr else "realloc_in_place"] += 1
        return nh

    # ---- client data -----------------------------------------------------------------------
    def write(self, h: int, offset: int, data: bytes) -> None:
        b = self.handles[h]
        if b.size == 0:
            return
        offset %= b.size
        data = data[:b.size - offset]
        self._call(f"write of handle {h}", self.fast.write, b.addr + offset, data)
        b.put(offset, data)

    def read(self, h: int, offset: int, n: int) -> None:
        b = self.handles[h]
        if b.size == 0:
            return
        offset %= b.size
        expect = [(o, d) for o, d in b.segments() if o < offset + n and offset < o + len(d)]
        bad = self._call(f"read of handle {h}", self.fast.differs, b.addr, expect)
        self._intact(f"read of handle {h}", h, b, bad)

    def _neighbours(self, what: str, addr: int, n: int = 2) -> None:
        """MALLOC-04 on the live blocks just below and above ``addr``: a copy or a write
        that ran past a block's end shows in its neighbour at once (one round trip)."""
        i = bisect_left(self.starts, addr)
        hs = [self.at[a] for a in self.starts[max(0, i - 1):i] + self.starts[i + 1:i + 1 + n]]
        if not hs:
            return
        got = self._call(what, self.fast.differs_many,
                         [(self.handles[h].addr, self.handles[h].segments()) for h in hs])
        ran(mc.malloc_04_intact, len(hs), counts=self.runs)
        if got is not None:
            i, bad = got
            self._intact(f"{what}, its neighbour", hs[i], self.handles[hs[i]], bad)

    def check_all(self, what: str) -> None:
        """MALLOC-04 on every live block (one round trip)."""
        hs = list(self.handles)
        if not hs:
            return
        got = self._call(what, self.fast.differs_many,
                         [(self.handles[h].addr, self.handles[h].segments()) for h in hs])
        ran(mc.malloc_04_intact, len(hs) - 1, counts=self.runs)
        if got is None:
            ran(mc.malloc_04_intact, counts=self.runs)
            return
        i, bad = got
        self._intact(what, hs[i], self.handles[hs[i]], bad)

    # ---- threads, quiescence ----------------------------------------------------------------
    def thread_exit(self, tid: int) -> None:
        if self._call(f"exit of thread {tid}", self.fast.exit_thread, tid):
            self.events["thread_exit"] += 1

    def quiesce(self, what: str = "quiesce (every thread exited)") -> None:
        for tid in self._call("the list of threads", self.fast.threads):
            self.thread_exit(tid)
        if self.baseline is None:
            return
        now = self._call("stats()", self.fast.stats)
        requested = sum(b.size for b in self.handles.values())
        usable = sum(b.end - b.addr for b in self.handles.values())
        self.check(mc.malloc_07_stats, what, now, self.baseline, requested,
                   usable if "usable_size" in self.has else requested, len(self.handles))

    def teardown(self) -> None:
        """Every block checked and freed by the thread that allocated it, every thread
        exited, the statistic back to its baseline; then the instance ends."""
        try:
            self.check_all("teardown")
            by_tid = {}
            for h, b in self.handles.items():
                by_tid.setdefault(b.tid, []).append(h)
            for tid, hs in sorted(by_tid.items()):      # one round trip per thread
                self.free_many(hs, tid)
            self.quiesce("teardown (every block freed, every thread exited)")
        finally:
            self.close()

    def close(self) -> None:
        close = getattr(self.fast, "close", None)
        if close is not None:
            close()
