"""The lockstep oracle: one step = apply to the reference, apply to the implementation,
compare one observation, run the registry at the level.

Ops (``hakmem_verify.contract.ops``) name blocks by handle; each op type has one handler
(``handlers.py``).  Every call to either allocator goes through :meth:`Oracle.call`: an
observation (``ok`` / ``oom`` / the contract error raised), anything else a LOCK-03
finding; every comparison through ``hakmem_verify.check.compare``.  After the op the
registry runs at the oracle's level: L1 (``check_level >= 1``) statistics, live counts,
exact stats; L2 the catalogue on the op's footprint; L3 every ``l3_every`` ops, after
``Quiesce`` and at teardown, the whole heap and the footprints' honesty (HOOK-01).
An implementation that offers ``Hooks`` is checked **white-box** (the whole catalogue),
one that offers only ``Allocator`` **black-box** (``Oracle.tier`` says which).

Observers are listeners (``listeners.Listener``), told before each op, around each call
it makes to the implementation and after its checks; the design's path conformance is one
(``conformance.Conformance``), on by default, off with ``conformance=False``.
"""
from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import replace
from typing import Optional

from hakmem_verify import check as inv
from hakmem_verify.contract.api import (AllocatorError, Config, InvariantViolation, StructureCorrupted, has_hooks,
                  size_to_class)
from hakmem_verify.check import blackbox
from hakmem_verify.check import compare as cmp
from hakmem_verify.check import data as data_checks
from hakmem_verify.check import heap as heap_checks
from hakmem_verify.check import stats as stat_checks
from hakmem_verify.check.slab_accounting import check_pool
from hakmem_verify.check.compare import Obs
from hakmem_verify.contract.ops import op_repr
from .blocks import Block, fill_pattern
from .conformance import Conformance
from .handlers import handler_for
from hakmem_verify.schedule import race_free_with_drain

#: Full-heap (L3) check period in ops: the one value used by the oracle, the machines,
#: the runner, replay and the reproducers.
L3_EVERY = 25


class Oracle:
    """Runs the reference and an implementation in lockstep and checks every op: the safety
    checks, and for an implementation that reports the design's debug counters its path
    conformance (CONF-*, ``conformance``)."""

    def __init__(self, ref, fast, l3_every: int = L3_EVERY, check_level: int = 2,
                 fill_len: int = 32, conformance: bool = True, listeners=()):
        self.ref = ref
        self.fast = fast
        self.l3_every = l3_every        # full-heap check period, in ops (0: never)
        self.check_level = check_level  # per-op level (2: the op's footprint)
        self.fill_len = fill_len        # bytes of fill pattern written at alloc
        self.config: Config = fast.config
        self.mask = ~(self.config.slab_size - 1)
        self.handles = {}               # handle -> Block (live)
        self.freed = OrderedDict()      # handle -> Block (the last 64 freed, for double frees)
        self.live = inv.LiveSet()       # implementation addresses the client holds
        self.live_per_class = [0] * self.config.num_classes
        self.ref_addrs = {}             # reference address -> handle
        self.undone = [0] * self.config.num_classes  # per class: ref allocs undone (OOM)
        self.undoing = False            # any undone: exact stats differ by design
        self.next_handle = 0
        self.steps = 0
        self.events = Counter()         # path and situation labels, once per op
        self.runs = Counter()           # check runs: by ID, and by stage (hakmem_verify.check)
        self.trace = []                 # every op applied, in order
        self.white_box = has_hooks(fast)
        self.tier = "white-box" if self.white_box else "black-box"
        self.checker = inv.Checker(fast, self.live, self.runs) if self.white_box else None
        self.threads_seen = set()
        #: the design's path conformance (None when off), then the caller's listeners
        self.conformance = Conformance() if conformance else None
        self.listeners = [self.conformance] if conformance else []
        self.listeners += listeners

    @property
    def checks(self) -> Counter:
        """Check runs per invariant ID (and per level: L1, L2, L3)."""
        return inv.registry.per_id(self.runs)

    # ---- driving -----------------------------------------------------------------
    def run(self, ops) -> None:
        for op in ops:
            self.apply(op)

    def apply(self, op):
        """Apply op to both sides, compare, check; return the list of new handles."""
        self.trace.append(op)
        self.steps += 1
        handler = handler_for(op)
        for listener in self.listeners:
            listener.before_op(self, op)
        before = dict(self.fast.path_counts) if self.white_box else None
        result = handler(self, op)
        paths = self.fast.path_counts if before is not None else None   # a view or a copy
        if before is not None and paths != before:
            events = self.events
            if len(paths) == len(before):      # same keys, same order: the copy's
                for (k, v), old in zip(paths.items(), before.values()):
                    if v != old:
                        events[k] += 1
            else:
                for k, v in paths.items():
                    if v != before.get(k, 0):
                        events[k] += 1
        self.after_op()
        return result

    # ---- one way to call either side -----------------------------------------------
    def call(self, side: str, what: str, fn, *args) -> Obs:
        """Call fn on one side: ok (with the value), oom (alloc returned None), or the
        contract error it raised.  Anything else escaping is a LOCK-03 finding."""
        try:
            value = fn(*args)
        except AllocatorError as e:
            return Obs("error", e)
        except StructureCorrupted as e:  # the implementation's own check fired: a finding
            raise inv.violation_of(e) from e
        except InvariantViolation:
            raise
        except Exception as e:  # a crash of either side
            self.op_check(cmp.lock_03_no_crash, what, side, e)
        return Obs("ok", value)

    def both(self, what: str, ref_fn, fast_fn, *args, also_ok=(), compare_values=True):
        """Call ref then fast with the same arguments and compare the observations."""
        r = self.call("reference", what, ref_fn, *args)
        f = self.call("implementation", what, fast_fn, *args)
        self.op_check(cmp.lock_01_outcome, what, r, f, also_ok, compare_values)
        return r, f

    def stats_of(self, side: str, fn):
        """stats() / exact_stats() of one side; a crash in them is LOCK-03 too."""
        try:
            return fn()
        except StructureCorrupted as e:
            raise inv.violation_of(e) from e
        except InvariantViolation:
            raise
        except Exception as e:
            self.op_check(cmp.lock_03_no_crash, f"{fn.__name__}()", side, e)

    def op_check(self, fn, *args):
        """Run the op-scope check ``fn`` (declared in the registry) on this op's
        observations, counted in ``runs`` under the ID its declaration put on it."""
        self.runs[fn.inv_id] += 1       # registry.run_op inlined: the hot path of every op
        return fn(*args)

    # ---- allocation ------------------------------------------------------------------
    def alloc(self, size: int, tid: int) -> Optional[int]:
        """Allocate on both sides and check; the new handle, or None on out of memory."""
        c = size_to_class(size, self.config.class_sizes)
        for listener in self.listeners:
            listener.before_step(self, "alloc", c, tid)
        h = self._alloc(size, tid, c)
        for listener in self.listeners:
            listener.after_step(self, "alloc")
        return h

    def _alloc(self, size: int, tid: int, c: int) -> Optional[int]:
        cfg = self.config
        what = f"alloc({size}, tid={tid})"
        self.threads_seen.add(tid)
        a_base = self.fast.active_slab(tid, c) if self.white_box and self.check_level >= 2 \
            else None
        refills = self.fast.path_counts.get("refill", 0) if a_base is not None else 0
        r = self.call("reference", what, self.ref.alloc, size, tid)
        f = self.call("implementation", what, self.fast.alloc, size, tid)
        if r.kind == "ok" and r.value is None:
            r = Obs("oom")
        if f.kind == "ok" and f.value is None:
            f = Obs("oom")
        if r.kind == "ok" and f.kind == "oom" and not self.white_box:
            # black-box: caches are the only excuse; quiesce() returns them, then try again
            self.both("quiesce() before retrying an out-of-memory alloc", self.ref.quiesce,
                      self.fast.quiesce)
            f = self.call("implementation", f"{what} after quiesce()", self.fast.alloc, size, tid)
            if f.kind == "ok" and f.value is None:
                f = Obs("oom")
            self.op_check(blackbox.oom_02_after_quiesce, what, c, f)
        if r.kind == "ok" and f.kind == "oom":
            self.ref.free(r.value, tid)
            self.undone[c] += 1
            self.undoing = True
            self._justify_oom(c, tid, size)
            return None
        self.op_check(cmp.lock_01_outcome, what, r, f, (), False)
        if f.kind == "oom":
            self.events["oom"] += 1
            return None
        ra, fa = r.value, f.value
        other = self.handle_at(fa)
        self.op_check(data_checks.live_02_unique, what, fa, c, other)
        self.op_check(data_checks.live_02_unique, f"the reference's {what}", ra, c,
                      self.ref_addrs.get(ra))
        us_r = self.call("reference", f"usable_size of {what}", self.ref.usable_size, ra)
        us_f = self.call("implementation", f"usable_size of {what}", self.fast.usable_size, fa)
        self.op_check(cmp.lock_01_outcome, f"usable_size of {what}", us_r, us_f, (),
                      False)
        self.op_check(cmp.lock_02_usable, size, us_r.value, us_f.value)
        if self.checker is None:        # black-box: no snapshot shows the blocks' ranges
            self.op_check(blackbox.live_03_disjoint, what, fa, us_f.value,
                          self.live.blocks, cfg.class_sizes)
        h = self.next_handle
        self.next_handle += 1
        pat = fill_pattern(h, min(us_f.value, self.fill_len))
        self.both(f"write of the fill pattern of new handle {h}",
                  lambda a: self.ref.write(ra, pat), lambda a: self.fast.write(fa, pat), None)
        self.handles[h] = Block(ra, fa, size, c, tid, pat)
        self.ref_addrs[ra] = h
        self.live.add(fa, c, fa & self.mask)
        self.live_per_class[c] += 1
        if self.checker is not None:
            self.checker.handed_out(fa, c)
            if a_base is not None and self.fast.path_counts.get("refill", 0) != refills:
                self.check_transition("REF-01", a_base, also_taken={fa})
        return h

    def handle_at(self, fast_addr) -> Optional[int]:
        if fast_addr not in self.live.blocks:
            return None
        return next((h for h, b in self.handles.items() if b.fast == fast_addr), "?")

    def _justify_oom(self, c: int, tid: int, size: int) -> None:
        """OOM-01: the implementation may fail only if tid can reach no free block."""
        if not self.white_box:
            self.events["oom_unverified"] += 1     # black-box: reported, cannot be judged
            return
        self.check_exact()              # the failed alloc itself miscounted: name that
        snap = self.fast.snapshot()
        # a broken structure is the cause; the failed alloc only its symptom
        inv.check(snap, 2, live=self.live)
        self.op_check(cmp.oom_01_justified, snap, size, tid, c)
        self.events["oom_stranded"] += 1

    def check_transition(self, inv_id: str, base: int, also_taken=()) -> None:
        """REF-01 / SPL-01: the slab as of the last check against the slab now."""
        before = self.checker.before(base)
        if before is None:
            return
        after = self.fast.snapshot([base], {}).slabs.get(base)
        if after is None:
            return                       # released: PART-01 / LIVE-01 check the rest
        snap = self.fast.snapshot((), {})
        if inv_id == "REF-01":
            self.op_check(inv.ref_01_refill, snap, before, after, also_taken)
        else:
            self.op_check(inv.spl_01_spill, snap, before, after)

    # ---- free ----------------------------------------------------------------------------
    def free(self, h: int, tid: int, race: bool = False) -> None:
        """Free handle h on both sides and check; ``race``: the implementation's free races
        the slab owner's drain (``hakmem_verify.schedule.race_free_with_drain``), and the
        schedule that ran is kept in the op of the trace (a ``RaceFree``)."""
        b = self.handles[h]
        for listener in self.listeners:
            listener.before_step(self, "free", b.fast, tid)
        self._free(h, b, tid, race)
        for listener in self.listeners:
            listener.after_step(self, "free")

    def _free(self, h: int, b: Block, tid: int, race: bool) -> None:
        self.check_data(h, b, tid)
        self.threads_seen.add(tid)
        what = f"free of live handle {h} (class {b.cls}) by tid {tid}"
        if race and self.white_box:
            def fast_free(addr, t):
                return race_free_with_drain(self.fast, addr, t, self._keep_schedule)
        else:
            fast_free = self.fast.free
        r = self.call("reference", what, self.ref.free, b.ref, tid)
        f = self.call("implementation", what, fast_free, b.fast, tid)
        self.op_check(cmp.lock_01_outcome, what, r, f, (), False)
        del self.handles[h]
        del self.ref_addrs[b.ref]
        self.live.remove(b.fast, b.fast & self.mask)
        self.live_per_class[b.cls] -= 1
        self.freed[h] = b
        if len(self.freed) > 64:
            self.freed.popitem(last=False)
        if b.tid != tid:
            self.events["cross_thread_free"] += 1

    def _keep_schedule(self, schedule) -> None:
        """The schedule a raced free ran, in its op (the trace's reproducer shows it)."""
        op = self.trace[-1] if self.trace else None
        if hasattr(op, "schedule"):
            self.trace[-1] = replace(op, schedule=str(schedule))

    def check_data(self, h: int, b: Block, tid: int) -> None:
        """DATA-01: both sides still hold exactly what the client wrote."""
        n = len(b.content)
        for side, impl, addr in (("reference", self.ref, b.ref), ("implementation", self.fast,
                                                                  b.fast)):
            got = self.call(side, f"read of live handle {h}", impl.read, addr, n)
            if got.kind != "ok":
                self.op_check(cmp.lock_01_outcome, f"read of live handle {h}",
                              Obs("ok", b.content), got)
            self.op_check(data_checks.data_01_intact, side, addr, h, b.cls,
                          addr & self.mask, b.tid, tid, got.value, b.content)

    def expect_same_error(self, what: str, ref_fn, fast_fn, also_ok=()) -> None:
        """Bad input: both must raise the same contract error, the state unchanged."""
        before = self.fast.snapshot() if self.white_box and self._small_heap() else None
        r = self.call("reference", what, ref_fn)
        f = self.call("implementation", what, fast_fn)
        if r.kind != "error":
            raise AssertionError(f"oracle bug: the reference accepted bad input: {what}")
        self.op_check(cmp.lock_01_outcome, what, r, f, also_ok)
        if before is not None:
            self.op_check(cmp.lock_01_unchanged, what, f.value,
                          self.fast.snapshot() != before)
        self.events["error_" + type(f.value).__name__] += 1

    def _small_heap(self) -> bool:
        return len(self.fast.slab_bases()) <= 16

    # ---- after every op --------------------------------------------------------------------
    def check_exact(self):
        """STAT-04: the implementation's exact counts == the reference's, less the allocs
        undone on the reference after an out of memory; returns both sides' exact stats."""
        ref_ex = self.stats_of("reference", self.ref.exact_stats)
        fast_ex = self.stats_of("implementation", self.fast.exact_stats)
        self.op_check(stat_checks.stat_04_exact, fast_ex, ref_ex, self.undone, self.undoing)
        return ref_ex, fast_ex

    def after_op(self, burst: bool = False) -> None:
        """The checks after an op (and after each element of a burst), then the listeners."""
        self._check_after_op(burst)
        for listener in self.listeners:
            listener.on_op(self, burst)

    def _check_after_op(self, burst: bool) -> None:
        ref_ex, fast_ex = self.check_exact()
        # the reference's live blocks per class (its allocs - frees: RALLOC-03) == the client's
        self.op_check(data_checks.live_02_counts, ref_ex, self.live_per_class,
                      self.ref.live_count)
        if self.check_level < 2 and self.checker is not None:
            self.checker.view = None     # what it kept goes stale: resync at the next L2
        if self.check_level < 1:
            return
        if self.checker is None:
            bound = max(1, len(self.threads_seen)) * (self.config.flush_interval - 1)
            self.op_check(stat_checks.accuracy,
                          self.stats_of("implementation", self.fast.stats), fast_ex, bound)
        else:
            self.checker.step(self.check_level)
        if self.l3_every and self.steps % self.l3_every == 0 and not burst:
            self.check_l3()

    def check_l3(self):
        """The whole heap: every check, the pool's own lists (SLAB-ACCT: they are not in a
        snapshot), every live block's data; returns the snapshot."""
        snap = self.checker.full() if self.checker is not None else None
        if snap is not None:
            try:
                check_pool(self.fast, snap, counts=self.runs)
            except InvariantViolation as e:
                self.fail(e.inv_id, e.detail, e.dump)
        for h, b in self.handles.items():
            self.check_data(h, b, b.tid)
        return snap

    def teardown(self) -> None:
        """Free every live block, exit every thread, quiesce: nothing may be left."""
        self.check_l3()
        for h in sorted(self.handles):
            self.free(h, self.handles[h].tid)
        self.after_op()
        self.quiesce()
        for listener in self.listeners:
            listener.on_teardown(self)

    def quiesce(self) -> None:
        """Quiesce both sides and check the whole heap; then the listeners' after_step."""
        for listener in self.listeners:
            listener.before_step(self, "quiesce")
        self._quiesce()
        for listener in self.listeners:
            listener.after_step(self, "quiesce")

    def _quiesce(self) -> None:
        self.both("quiesce()", self.ref.quiesce, self.fast.quiesce)
        if self.white_box:
            snap = self.fast.snapshot()
            for tid, t in sorted(snap.threads.items()):
                if heap_checks.holds_nothing(t):  # exited, but its record stayed behind
                    self.op_check(heap_checks.exit_01_gone, snap, tid)
        snap = self.check_l3()
        if snap is not None:
            self.op_check(heap_checks.qui_01_empty, snap, self.live)

    def fail(self, inv_id: str, msg: str, dump: str = ""):
        tail = f"after {self.steps} ops; last op {op_repr(self.trace[-1])}" if self.trace else ""
        raise InvariantViolation(inv_id, f"{msg} ({tail})" if tail else msg, dump)
