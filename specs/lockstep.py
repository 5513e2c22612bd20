"""The lockstep oracle: apply one Op to the reference, then to the fast model, compare.

Ops are plain frozen values that name blocks by *handle* (the n-th
successful allocation is handle n), never by address: the two allocators
place blocks differently.  After every op the oracle compares what both can
observe and checks the invariant catalogue on what the op touched:

* outcome: ok / out of memory / the same error type              LOCK-01
* usable size (LOCK-02); bytes read back, fill patterns at free  DATA-01
* no fast address handed out twice; live counts per class        LIVE-02
* exact stats equal (STAT-04); flushed + pending == exact (STAT-01);
  reported within 1% (STAT-03)
* out of memory only where justified                             OOM-01
* L2 catalogue on the touched slabs after every op, L3 every
  ``l3_every`` ops and on demand

It is plain Python: the fuzz runner and trace replay drive it with op lists
(``Oracle.run(ops)``); ``specs.machines`` drives it from Hypothesis.  The fast
side must offer the introspection of ``hakmem_fast.FastAllocator``:
``snapshot(bases)``, ``take_touched()``, ``path_counts``, ``active_slab``,
``evict_active``, ``drain_remote``, ``refill_active``.
"""
from __future__ import annotations

from collections import Counter
from itertools import islice
from dataclasses import dataclass, field
from typing import Optional

from . import invariants as inv
from .api import AllocatorError, Config, InvalidFree, InvariantViolation, size_to_class

#: Full-heap (L3) check period in ops: the one value used by the oracle, the machines,
#: the runner, replay and the reproducers.
L3_EVERY = 25

# ============================================================================
# Ops
# ============================================================================


@dataclass(frozen=True)
class Alloc:
    size: int
    tid: int = 0


@dataclass(frozen=True)
class AllocMany:
    size: int
    n: int
    tid: int = 0


@dataclass(frozen=True)
class Free:
    handle: int
    tid: int = 0           # a tid other than the allocating one makes a remote free


@dataclass(frozen=True)
class RaceFree:
    handle: int
    tid: int = 0           # a non-owner: its remote push races the owner's drain


@dataclass(frozen=True)
class FreeMany:
    n: int                 # free the n oldest live handles
    tid: int = 0
    newest: bool = False   # ... or the n newest


@dataclass(frozen=True)
class Write:
    handle: int
    offset: int
    data: bytes


@dataclass(frozen=True)
class Read:
    handle: int
    offset: int
    n: int


@dataclass(frozen=True)
class ThreadExit:
    tid: int


@dataclass(frozen=True)
class FlushStats:
    pass


@dataclass(frozen=True)
class Evict:
    tid: int
    class_idx: int


@dataclass(frozen=True)
class Drain:
    tid: int
    class_idx: int


@dataclass(frozen=True)
class Refill:
    tid: int
    class_idx: int


@dataclass(frozen=True)
class Quiesce:
    pass


@dataclass(frozen=True)
class BadAlloc:
    size: object           # not an int in 0..max: SizeError on both sides
    tid: int = 0


@dataclass(frozen=True)
class BadFree:
    kind: str              # "unaligned" | "interior" | "foreign" | "none" | "double"
    handle: int = -1
    tid: int = 0


@dataclass(frozen=True)
class BadAccess:
    handle: int            # live: the access crosses its end; freed: use after free
    write: bool = False


@dataclass(frozen=True)
class Check:
    level: int = 3


OPS = (Alloc, AllocMany, Free, RaceFree, FreeMany, Write, Read, ThreadExit, FlushStats, Evict, Drain,
       Refill, Quiesce, BadAlloc, BadFree, BadAccess, Check)


def op_repr(op) -> str:
    """Python source that builds op (for reproducers)."""
    return repr(op).replace("specs.lockstep.", "")


# ============================================================================
# The oracle
# ============================================================================


@dataclass
class Block:
    ref: int               # address in the reference
    fast: int              # address in the fast model
    size: int              # requested size
    cls: int               # size class
    tid: int               # allocating thread
    content: bytes         # bytes the client wrote at offset 0


def fill_pattern(handle: int, n: int) -> bytes:
    """A pattern unique to the handle: 8-byte little-endian words of handle ^ 0xA5A5..."""
    word = (handle ^ 0xA5A5_5A5A_C3C3_3C3C).to_bytes(8, "little")
    return (word * (n // 8 + 1))[:n]


@dataclass
class Oracle:
    """Runs ref and fast in lockstep and checks everything after each op."""

    ref: object
    fast: object
    l3_every: int = L3_EVERY      # full-heap check period, in ops
    check_level: int = 2          # per-op level (2: touched slabs)
    fill_len: int = 32            # bytes of fill pattern written at alloc
    handles: dict = field(default_factory=dict)    # handle -> Block (live)
    freed: dict = field(default_factory=dict)      # handle -> Block (freed, for double frees)
    live: inv.LiveSet = field(default_factory=inv.LiveSet)
    live_per_class: Counter = field(default_factory=Counter)
    ref_addrs: dict = field(default_factory=dict)  # ref address -> handle
    undone: Counter = field(default_factory=Counter)  # per class: ref allocs undone (OOM)
    next_handle: int = 0
    steps: int = 0
    events: Counter = field(default_factory=Counter)  # path and situation labels
    checks: Counter = field(default_factory=Counter)  # invariant check runs per level
    trace: list = field(default_factory=list)         # every op applied, in order
    _releases_seen: int = 0

    @property
    def config(self) -> Config:
        return self.fast.config

    # ---- driving -------------------------------------------------------------
    def run(self, ops) -> None:
        for op in ops:
            self.apply(op)

    def apply(self, op):
        """Apply op to ref then fast; check; return the list of new handles (if any)."""
        self.trace.append(op)
        self.steps += 1
        before_paths = dict(self.fast.path_counts)
        meth = getattr(self, "_op_" + type(op).__name__)
        result = meth(op)
        for k, v in self.fast.path_counts.items():
            if v != before_paths.get(k, 0):
                self.events[k] += 1
        self._after_op()
        return result

    # ---- allocation ----------------------------------------------------------
    def _op_Alloc(self, op: Alloc):
        h = self._alloc(op.size, op.tid)
        return [] if h is None else [h]

    def _op_AllocMany(self, op: AllocMany):
        out = []
        for i in range(op.n):
            if i:
                self._after_op(burst=True)    # check each alloc of the burst
            h = self._alloc(op.size, op.tid)
            if h is None:
                break
            out.append(h)
        return out

    def _alloc(self, size: int, tid: int) -> Optional[int]:
        c = size_to_class(size, self.config.class_sizes)
        a_before = self._active_snap(tid, c) if self.check_level >= 2 else None
        r = self.ref.alloc(size, tid)
        paths0 = self.fast.path_counts.get("refill", 0)
        f = self._legit(f"alloc({size}, tid={tid})", self.fast.alloc, size, tid)
        if r is None and f is not None:
            self._fail("LOCK-01", f"alloc({size}, tid={tid}): reference is out of memory "
                                  f"(class {c} full) but fast returned {hex(f)}: more blocks "
                                  f"handed out than the memory limit holds")
        if f is None:
            if r is not None:
                self._justify_oom(c, tid, size)
                self.ref.free(r, tid)
                self.undone[c] += 1
                self.events["oom_stranded"] += 1
            else:
                self.events["oom"] += 1
            return None
        if f in self.live.blocks:
            other = next(h for h, b in self.handles.items() if b.fast == f)
            self._fail("LIVE-02", f"alloc({size}, tid={tid}) returned block {hex(f)} "
                                  f"(class {c}) which is still live as handle {other}: "
                                  f"no double allocation")
        if r in self.ref_addrs:
            self._fail("LIVE-02", f"reference returned live block {hex(r)} twice")
        us_r, us_f = self.ref.usable_size(r), self.fast.usable_size(f)
        if us_r != us_f or us_f < size:
            self._fail("LOCK-02", f"alloc({size}): usable size ref {us_r} vs fast {us_f}")
        h = self.next_handle
        self.next_handle += 1
        n = min(us_f, self.fill_len)
        pat = fill_pattern(h, n)
        self.ref.write(r, pat)
        self._legit(f"write to new handle {self.next_handle - 1}", self.fast.write, f, pat)
        self.handles[h] = Block(r, f, size, c, tid, pat)
        self.ref_addrs[r] = h
        self.live.blocks[f] = c
        self.live.per_slab[f & ~(self.config.slab_size - 1)] += 1
        self.live_per_class[c] += 1
        if a_before is not None and self.fast.path_counts.get("refill", 0) != paths0 \
                and self.check_level >= 2:
            after = self._slab_snap(a_before.base)
            if after is not None:
                self.checks["REF-01"] += 1
                inv.ref_01_refill(self._snap([]), a_before, after, also_taken={f})
        return h

    def _justify_oom(self, c: int, tid: int, size: int) -> None:
        """OOM-01: fast may fail only if no free block of class c is reachable by tid."""
        snap = self.fast.snapshot()
        # a broken structure is the cause; the failed alloc only its symptom
        inv.check_threads(snap)
        inv.check_slabs(snap, self.live)
        cfg = self.config
        reachable = []
        t = snap.threads.get(tid)
        mine = set()
        if t is not None:
            if t.magazines[c]:
                reachable.append(f"{len(t.magazines[c])} blocks in tid {tid}'s magazine")
            mine = {b for b in (t.active_a[c], t.active_b[c]) if b is not None}
        nslabs = 0
        for s in snap.slabs.values():
            if s.class_idx != c:
                continue
            nslabs += 1
            if s.owner is None or s.base in mine:
                n = s.free_count + s.mini_mag_count + len(s.remote)
                if n:
                    reachable.append(f"{n} free blocks in slab {hex(s.base)} "
                                     f"(owner {s.owner})")
        if cfg.max_slabs_per_class is None or nslabs < cfg.max_slabs_per_class:
            reachable.append(f"room for a new slab ({nslabs} of "
                             f"{cfg.max_slabs_per_class} in use)")
        if reachable:
            self._fail("OOM-01", f"alloc({size}, tid={tid}) returned out of memory for class "
                                 f"{c} but the reference succeeded and tid {tid} can reach: "
                                 + "; ".join(reachable))

    # ---- free ------------------------------------------------------------------
    def _op_Free(self, op: Free):
        if op.handle in self.handles:
            self._free(op.handle, op.tid)
        return []

    def _op_RaceFree(self, op: RaceFree):
        if op.handle in self.handles:
            self._free(op.handle, op.tid, race=True)
        return []

    def _op_FreeMany(self, op: FreeMany):
        # handles are issued in increasing order and dicts keep insertion order
        hs = list(islice(reversed(self.handles) if op.newest else iter(self.handles), op.n))
        for i, h in enumerate(hs):
            if i:
                self._after_op(burst=True)    # check each free of the burst
            self._free(h, op.tid)
        return []

    def _free(self, h: int, tid: int, race: bool = False) -> None:
        b = self.handles[h]
        self._check_data(h, b, tid)
        self.ref.free(b.ref, tid)
        if race:
            self._legit(f"free of live handle {h}", self.fast.free_racing_drain, b.fast, tid)
        else:
            self._legit(f"free of live handle {h}", self.fast.free, b.fast, tid)
        del self.handles[h]
        del self.ref_addrs[b.ref]
        del self.live.blocks[b.fast]
        base = b.fast & ~(self.config.slab_size - 1)
        self.live.per_slab[base] -= 1
        if not self.live.per_slab[base]:
            del self.live.per_slab[base]
        self.live_per_class[b.cls] -= 1
        self.freed[h] = b
        if len(self.freed) > 64:
            self.freed.pop(next(iter(self.freed)))
        if b.tid != tid:
            self.events["cross_thread_free"] += 1

    def _legit(self, what: str, call, *args):
        """Call fast for an op the reference accepted: an error there is a divergence."""
        try:
            return call(*args)
        except AllocatorError as e:
            self._fail("LOCK-01", f"{what}: the reference accepted it but fast raised "
                                  f"{type(e).__name__}: {e}")

    def _check_data(self, h: int, b: Block, tid: int) -> None:
        n = len(b.content)
        got_r = self.ref.read(b.ref, n)
        got_f = self._legit(f"read of live handle {h}", self.fast.read, b.fast, n)
        if got_f != b.content or got_r != b.content:
            side = "fast" if got_f != b.content else "reference"
            got = got_f if got_f != b.content else got_r
            addr = b.fast if got_f != b.content else b.ref
            slab = addr & ~(self.config.slab_size - 1)
            diff = next(i for i in range(n) if got[i] != b.content[i])
            self._fail("DATA-01", f"{side} block {hex(addr)} (handle {h}, class {b.cls}, slab "
                                  f"{hex(slab)}, allocated by tid {b.tid}, checked by tid {tid}) "
                                  f"changed at byte {diff}: {got[diff:diff + 8].hex()} instead of "
                                  f"{b.content[diff:diff + 8].hex()} (clobbered while live)")

    # ---- client data -------------------------------------------------------------
    def _clamp(self, b: Block, offset: int, n: int):
        """Keep an access inside the block: past its end it would hit a neighbour,
        which is legal and differs between allocators (OutOfBounds is tested by
        BadAccess, which crosses the end of the block)."""
        usable = self.config.class_sizes[b.cls]
        offset = offset % usable
        return offset, max(0, min(n, usable - offset))

    def _op_Write(self, op: Write):
        b = self.handles.get(op.handle)
        if b is None:
            return []
        offset, n = self._clamp(b, op.offset, len(op.data))
        data = op.data[:n]
        if offset > len(b.content):   # bytes before the write: define them on both sides
            gap = bytes(offset - len(b.content))
            self.ref.write(b.ref + len(b.content), gap)
            self.fast.write(b.fast + len(b.content), gap)
            b.content += gap
        self._compare_call(f"write(handle {op.handle}, {offset}, {n} B)",
                           lambda a: a.write(b.ref + offset, data),
                           lambda a: a.write(b.fast + offset, data))
        content = bytearray(b.content)
        content[offset:offset + n] = data
        b.content = bytes(content)
        return []

    def _op_BadAccess(self, op):
        """read/write that crosses the end of a live block, or of a freed one."""
        b = self.handles.get(op.handle) or self.freed.get(op.handle)
        if b is None:
            return []
        if op.handle not in self.handles and (self._inside_live(b.ref, self.ref_addrs, True)
                                              or self._inside_live(b.fast, self.live.blocks)):
            return []       # the freed address was handed out again
        usable = self.config.class_sizes[b.cls]
        off = usable - 1 if op.handle in self.handles else 0
        if op.write:
            call = (lambda a: a.write((b.ref if a is self.ref else b.fast) + off, b"\x11\x22"))
        else:
            call = (lambda a: a.read((b.ref if a is self.ref else b.fast) + off, 2))
        self._compare_error(f"{'write' if op.write else 'read'} of 2 bytes at offset {off} of "
                            f"{'live' if op.handle in self.handles else 'freed'} handle "
                            f"{op.handle}", call)
        return []

    def _op_Read(self, op: Read):
        b = self.handles.get(op.handle)
        if b is None:
            return []
        offset, n = self._clamp(b, op.offset, op.n)
        defined = max(0, min(offset + n, len(b.content)) - offset)   # bytes the client wrote
        res = self._compare_call(f"read(handle {op.handle}, {offset}, {n})",
                                 lambda a: a.read(b.ref + offset, n)[:defined],
                                 lambda a: a.read(b.fast + offset, n)[:defined])
        if res is not None and res[1] != b.content[offset:offset + defined]:
            self._check_data(op.handle, b, b.tid)
        return []

    def _compare_call(self, what, ref_call, fast_call):
        r_res = r_err = f_res = f_err = None
        try:
            r_res = ref_call(self.ref)
        except AllocatorError as e:
            r_err = e
        try:
            f_res = fast_call(self.fast)
        except AllocatorError as e:
            f_err = e
        if type(r_err) is not type(f_err):
            self._fail("LOCK-01", f"{what}: reference "
                                  f"{'raised ' + type(r_err).__name__ if r_err else 'succeeded'}, "
                                  f"fast {'raised ' + type(f_err).__name__ if f_err else 'succeeded'}"
                                  f"{': ' + str(f_err) if f_err else ''}")
        if r_err is None and r_res != f_res:
            self._fail("LOCK-01", f"{what}: reference returned {r_res!r}, fast {f_res!r}")
        return None if r_err else (r_res, f_res)

    # ---- threads, stats, maintenance -------------------------------------------
    def _op_ThreadExit(self, op: ThreadExit):
        self.ref.thread_exit(op.tid)
        self.fast.thread_exit(op.tid)
        snap = self._snap([])
        if op.tid in snap.threads:
            self._fail("QUI-01", f"tid {op.tid} still has thread state after thread_exit")
        return []

    def _op_FlushStats(self, op: FlushStats):
        self.ref.flush_stats()
        self.fast.flush_stats()
        if self.fast.stats() != self.fast.exact_stats():
            self._fail("STAT-01", f"after flush_stats reported {self.fast.stats()} != exact "
                                  f"{self.fast.exact_stats()}")
        return []

    def _op_Evict(self, op: Evict):
        c = op.class_idx % self.config.num_classes
        before = self._active_snap(op.tid, c)
        self.fast.evict_active(op.tid, c)
        if before is not None and self.check_level >= 2:
            after = self._slab_snap(before.base)
            if after is not None:      # released slabs are checked by PART/OWN
                self.checks["SPL-01"] += 1
                inv.spl_01_spill(self._snap([]), before, after)
        return []

    def _op_Drain(self, op: Drain):
        self.fast.drain_remote(op.tid, op.class_idx % self.config.num_classes)
        return []

    def _op_Refill(self, op: Refill):
        c = op.class_idx % self.config.num_classes
        before = self._active_snap(op.tid, c)
        self.fast.refill_active(op.tid, c)
        if before is not None and self.check_level >= 2:
            after = self._slab_snap(before.base)
            self.checks["REF-01"] += 1
            inv.ref_01_refill(self._snap([]), before, after)
        return []

    def _op_Quiesce(self, op: Quiesce):
        self.ref.quiesce()
        self.fast.quiesce()
        snap = self.fast.snapshot()
        self._check_l3(snap)
        self.checks["QUI-01"] += 1
        inv.qui_01_empty(snap, self.live)
        return []

    def _op_Check(self, op: Check):
        if op.level >= 3:
            self._check_l3()
        return []

    # ---- bad input ------------------------------------------------------------------
    def _op_BadAlloc(self, op: BadAlloc):
        self._compare_error(f"alloc({op.size!r}, tid={op.tid})",
                            lambda a: a.alloc(op.size, op.tid))
        return []

    def _op_BadFree(self, op: BadFree):
        b = self.handles.get(op.handle) or (self.freed.get(op.handle)
                                            if op.kind == "double" else None)
        if op.kind == "none":
            ra = fa = None
        elif op.kind == "foreign":
            ra = fa = self.config.base_address - self.config.slab_size
        elif b is None:
            return []
        elif op.kind == "double":
            if op.handle not in self.freed or self._inside_live(b.ref, self.ref_addrs, True) \
                    or self._inside_live(b.fast, self.live.blocks):
                return []       # not freed, or its address was handed out again
            ra, fa = b.ref, b.fast
        else:
            if self.config.class_sizes[b.cls] <= 8 and op.kind == "interior":
                return []
            delta = 1 if op.kind == "unaligned" else 8
            ra, fa = b.ref + delta, b.fast + delta
        released = False
        if op.kind == "double":
            base = fa & ~(self.config.slab_size - 1)
            now = self._slab_snap(base) if base in self.fast.slab_bases() else None
            released = now is None or now.class_idx != b.cls
        self._compare_error(f"free({op.kind} address, tid={op.tid})",
                            lambda a: a.free(ra if a is self.ref else fa, op.tid),
                            # a double free into a slab the fast pool released (and maybe
                            # reused for another class) cannot be told from a foreign or
                            # interior address: InvalidFree is the contract
                            also_ok=(InvalidFree,) if op.kind == "double" and released else ())
        return []

    def _compare_error(self, what, call, also_ok=()):
        """Both must raise the same AllocatorError, the fast state unchanged."""
        before = self.fast.snapshot() if self._small_heap() else None
        errs = []
        for a in (self.ref, self.fast):
            try:
                call(a)
                errs.append(None)
            except AllocatorError as e:
                errs.append(e)
        if errs[0] is None or (type(errs[0]) is not type(errs[1])
                               and type(errs[1]) not in also_ok):
            self._fail("LOCK-01", f"{what}: reference "
                                  f"{'raised ' + type(errs[0]).__name__ if errs[0] else 'accepted it'}"
                                  f", fast {'raised ' + type(errs[1]).__name__ if errs[1] else 'accepted it'}")
        if before is not None and self.fast.snapshot() != before:
            self._fail("LOCK-01", f"{what}: fast raised {type(errs[1]).__name__} but changed "
                                  f"its state")
        self.events["error_" + type(errs[1]).__name__] += 1

    def _inside_live(self, addr: int, live, ref_side: bool = False) -> bool:
        """Is addr inside a live block (blocks are aligned to their size)?"""
        for c, cs in enumerate(self.config.class_sizes):
            start = addr - addr % cs
            if start in live:
                cls = self.handles[live[start]].cls if ref_side else live[start]
                if cls == c:
                    return True
        return False

    # ---- checks -------------------------------------------------------------------------
    def _small_heap(self) -> bool:
        return len(self.fast.slab_bases()) <= 16

    def _active_snap(self, tid: int, c: int):
        base = self.fast.active_slab(tid, c)
        return None if base is None else self._slab_snap(base)

    def _slab_snap(self, base: int):
        return self.fast.snapshot([base], ()).slabs.get(base)

    def _snap(self, bases, tids=()):
        """Partial snapshot: the slabs in bases, the magazines of the threads in tids."""
        return self.fast.snapshot(bases, tids)

    def _after_op(self, burst: bool = False) -> None:
        ref_st, fast_ex = self.ref.exact_stats(), self.fast.exact_stats()
        want = (tuple(a - u for a, u in zip(ref_st.allocs, self._undone_list())),
                tuple(f - u for f, u in zip(ref_st.frees, self._undone_list())))
        if (fast_ex.allocs, fast_ex.frees) != want:
            self._fail("STAT-04", f"exact stats differ: fast allocs {fast_ex.allocs} frees "
                                  f"{fast_ex.frees}, reference allocs {want[0]} frees {want[1]}")
        for c in range(self.config.num_classes):
            if self.ref.live_count(c) != self.live_per_class[c]:
                self._fail("LIVE-02", f"class {c}: reference has {self.ref.live_count(c)} live "
                                      f"blocks, the client holds {self.live_per_class[c]}")
        if self.check_level < 1:
            return
        if self.fast.path_counts.get("slab_release", 0) != self._releases_seen:
            self._releases_seen = self.fast.path_counts.get("slab_release", 0)
            bases = set(self.fast.slab_bases())
            for base, n in self.live.per_slab.items():
                if n and base not in bases:
                    self._fail("LIVE-01", f"slab {hex(base)} was released while {n} of its "
                                          f"blocks are live (e.g. "
                                          f"{hex(next(a for a in self.live.blocks if a & ~(self.config.slab_size - 1) == base))})")
        touched, tids = self.fast.take_touched()
        snap = self._snap(touched if self.check_level >= 2 else [], tids)
        self.checks["L1"] += 1
        inv.stat_01_conservation(snap)
        inv.stat_02_pending_bound(snap)
        inv.stat_03_accuracy(snap)
        if self.check_level >= 2:
            self.checks["L2"] += 1
            inv.check_threads(snap)
            inv.check_slabs(snap, self.live, touched)
        if self.l3_every and self.steps % self.l3_every == 0 and not burst:
            self._check_l3()

    def _undone_list(self):
        return [self.undone[c] for c in range(self.config.num_classes)]

    def _check_l3(self, snap=None) -> None:
        snap = snap or self.fast.snapshot()
        self.checks["L3"] += 1
        inv.check_snapshot(snap, 3, self.live)
        for h, b in self.handles.items():
            self._check_data(h, b, b.tid)

    def teardown(self) -> None:
        """Free every live block, exit every thread, quiesce: nothing may be left."""
        self._check_l3()
        for h in sorted(self.handles):
            self._free(h, self.handles[h].tid)
        self._after_op()
        self.ref.quiesce()
        self.fast.quiesce()
        snap = self.fast.snapshot()
        inv.check_snapshot(snap, 3, self.live)
        self.checks["QUI-01"] += 1
        inv.qui_01_empty(snap, self.live)
        for s in snap.slabs.values():
            if s.free_count != s.nblocks:
                self._fail("QUI-01", f"slab {hex(s.base)} class {s.class_idx}: "
                                     f"{s.nblocks - s.free_count} blocks not free after "
                                     f"freeing everything and quiesce (leaked)",
                           inv.dump_slab(s))

    def _fail(self, inv_id: str, msg: str, dump: str = ""):
        tail = f"after {self.steps} ops; last op {op_repr(self.trace[-1])}" if self.trace else ""
        raise InvariantViolation(inv_id, f"{msg} ({tail})" if tail else msg, dump)
