"""The concurrent machine's own bookkeeping for LIVELOCK, CRASH-STEP and SLAB-ACCT: step
counts of a Run, the starving strategy, the findings on fixed reproducers (and the clean
model on the same rounds), and SLAB-ACCT at the lockstep oracle's L3 check."""
import pytest

from hakmem_verify.planted import patched
from hakmem_verify.planted import races_progress  # noqa: F401  (registers its races in RACES)
from hakmem_verify.planted.races import RACES
from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.fast import pool as fast_pool
from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.contract.api import Config, InvariantViolation
from hakmem_verify.oracle.concurrent import Harness, replay
from hakmem_verify.check.progress import op_budget, solo_bound
from hakmem_verify.check.slab_accounting import PoolTables, check_pool, slab_acct
from hakmem_verify.oracle.lockstep import Oracle
from hakmem_verify.explore.machines import make_machine
from hakmem_verify.contract.ops import Alloc, Drain, FlushStats, Free, Quiesce, ThreadExit
from hakmem_verify.schedule import Replay, Run, Starve

CFG = Config(class_sizes=(8,), slab_size=64, word_bits=4, mini_mag_capacity=1,
             refill_batch=1, magazine_capacity=1, flush_interval=1)


def _steps(n, label="s"):
    def gen():
        for _ in range(n):
            yield label
    return gen


def test_a_run_counts_each_ops_steps_and_the_steps_it_took_alone():
    run = Run({0: [("a", _steps(3))], 1: [("b", _steps(2))]})
    for tid in (0, 0, 1, 0):
        run.step(tid)
    assert run.op_steps(0) == 3 and run.solo_steps(0) == 1 and run.solo_steps(1) == 0
    run.step(0)                                   # op a ends (its 4th step)
    assert run.current_op(0) is None and run.op_steps(0) == 4


def test_starve_runs_one_thread_until_its_op_ends_then_goes_on_without_preemption():
    run = Run({0: [("a", _steps(3)), ("c", _steps(1))], 1: [("b", _steps(2))]})
    run.step(0)
    run.run(Starve(1))
    assert str(run.schedule) == "0 1*3 0*5"


def test_the_progress_bounds_grow_with_the_caches_and_the_round():
    small, big = solo_bound(CFG), solo_bound(Config(class_sizes=(8, 16), magazine_capacity=3))
    assert 20 < small < big and op_budget(CFG, 3) > op_budget(CFG, 2) > small


def test_a_push_spinning_on_a_descheduled_drain_is_a_livelock_naming_op_and_schedule():
    rounds = [({0: [Alloc(0, 0), Alloc(0, 0)]}, "0*6"), ({1: [Free(0, 1)]}, "1*4"),
              ({0: [Drain(0, 0)], 1: [Free(1, 1)]}, "0*2 1*40")]
    with RACES["push-waits-for-drain"].apply(), pytest.raises(InvariantViolation) as exc:
        replay(RefAllocator, FastAllocator, CFG, rounds, strict=False)
    msg = str(exc.value)
    assert exc.value.inv_id == "LIVELOCK" and "free(1, tid=1) on tid 1" in msg, msg
    assert f"(bound {solo_bound(CFG)})" in msg and "schedule 0*2 1*" in msg, msg
    replay(RefAllocator, FastAllocator, CFG, rounds, strict=False)      # clean: it ends


def test_an_exception_inside_a_step_is_a_crash_finding_with_op_thread_and_schedule():
    h = Harness(RefAllocator(CFG), FastAllocator(CFG))

    def broken(tid):
        yield "stat-add"
        raise IndexError("list index out of range")
    h.fast.flush_steps = broken
    with pytest.raises(InvariantViolation) as exc:
        h.run_round({0: [FlushStats(0)], 1: [Alloc(0, 1)]}, Replay("0 1*3 0"))
    msg = str(exc.value)
    assert exc.value.inv_id == "CRASH-STEP" and "IndexError" in msg, msg
    assert "flush(tid=0) on tid 0, at its step 2" in msg and "schedule 0 1*3 0" in msg, msg
    assert h.rounds[-1][1] == "0 1*3 0"            # the crashing step is recorded: it replays


def test_a_push_into_an_exited_owner_raises_in_the_model_and_is_a_crash_finding():
    rounds = [({0: [Alloc(0, 0)]}, "0*3"), ({0: [ThreadExit(0)], 1: [Free(0, 1)]}, "1*2 0*4 1*3")]
    with RACES["push-touches-exited-owner"].apply(), pytest.raises(InvariantViolation) as exc:
        replay(RefAllocator, FastAllocator, CFG, rounds, strict=False)
    assert exc.value.inv_id == "CRASH-STEP" and "KeyError" in str(exc.value)
    assert "free(0, tid=1) on tid 1" in str(exc.value)
    replay(RefAllocator, FastAllocator, CFG, rounds, strict=False)


def test_a_slab_lost_from_its_class_table_is_found_at_the_quiescent_point():
    rounds = [({0: [Alloc(0, 0)], 1: [Alloc(0, 1)]}, "0 1*2 0")]
    with RACES["class-table-published-outside-lock"].apply(), \
            pytest.raises(InvariantViolation) as exc:
        replay(RefAllocator, FastAllocator, CFG, rounds)
    assert exc.value.inv_id == "SLAB-ACCT" and "not in its class's slab table" in str(exc.value)
    h = replay(RefAllocator, FastAllocator, CFG, rounds)
    assert h.checks["SLAB-ACCT"] == 1


def test_slab_accounting_names_each_way_a_slab_falls_off_the_lists():
    fa = FastAllocator(CFG)
    a = fa.alloc(8, 0)
    fa.free(a, 0)
    fa.thread_exit(0)                              # the slab is released
    b = fa.alloc(8, 0)
    snap, base = fa.snapshot(), b & ~63
    check_pool(fa, snap)
    cases = [(PoolTables((frozenset(),), (), base + 64), "not in its class's slab table"),
             (PoolTables((frozenset({base}),), (base,), base + 64), "on the free-base list"),
             (PoolTables((frozenset({base}),), (), base + 128), "neither in use nor on"),
             (PoolTables((frozenset({base, base + 64}),), (), base + 128), "but not in use")]
    for pool, words in cases:
        with pytest.raises(InvariantViolation, match=words):
            slab_acct(snap, pool)


def _forget_the_base(self, slab):
    """A release that takes the slab out of both tables and forgets its base."""
    if slab.owner is None and slab.fully_free() and slab.base in self._slabs:
        del self._slabs[slab.base]
        del self._class_slabs[slab.class_idx][slab.base]
        self.probe.slab_hit("slab_release", slab.base)


def _lockstep(ops):
    """The lockstep machine's op loop (``OracleMachine.apply_op``) over ``ops``."""
    machine = make_machine(RefAllocator, FastAllocator)()
    machine.oracle = Oracle(RefAllocator(CFG), FastAllocator(CFG))
    for op in ops:
        machine.apply_op(op)
    return machine.oracle


def test_the_lockstep_machine_checks_slab_accounting_after_its_l3_check(monkeypatch):
    monkeypatch.setattr("hakmem_verify.explore.machine_base.event", lambda *a: None)   # outside a test
    ops = [Alloc(8, 0), Free(0, 0), ThreadExit(0), Quiesce()]
    assert _lockstep(ops).checks["SLAB-ACCT"] >= 1          # the first op and Quiesce
    with patched((fast_pool, "maybe_release", _forget_the_base)), \
            pytest.raises(InvariantViolation) as exc:
        _lockstep(ops)
    assert exc.value.inv_id == "SLAB-ACCT" and "fell off every list" in str(exc.value)
    assert "last op Quiesce()" in str(exc.value)


def test_a_replay_checks_slab_accounting_as_the_machine_does():
    """``Oracle.run`` (what replay and every reproducer drive) runs SLAB-ACCT in its L3
    check: a SLAB-ACCT finding reproduces outside the machine."""
    ops = [Alloc(8, 0), Free(0, 0), ThreadExit(0), Quiesce()]
    clean = Oracle(RefAllocator(CFG), FastAllocator(CFG))
    clean.run(ops)
    assert clean.checks["SLAB-ACCT"] >= 1
    with patched((fast_pool, "maybe_release", _forget_the_base)), \
            pytest.raises(InvariantViolation) as exc:
        Oracle(RefAllocator(CFG), FastAllocator(CFG)).run(ops)
    assert exc.value.inv_id == "SLAB-ACCT" and "last op Quiesce()" in str(exc.value)


def test_the_runners_concurrent_machine_starves_a_thread_one_example_in_four():
    """A fair random scheduler always lets the other thread finish: without starving
    schedules hakmem-fuzz run's concurrent machine never sees the spin (60 s, 3,703
    examples, measured); with them it finds LIVELOCK at once."""
    from hakmem_verify import planted as mutants
    from hakmem_verify.runner.concurrent import run_concurrent
    mutants.names()                                   # the catalogue, races included
    with RACES["push-waits-for-drain"].apply():
        rep = run_concurrent(30, seed=1, shrink_seconds=2, ss_share=0.0)
    assert rep.inv_id == "LIVELOCK", (rep.examples, rep.finding[:300])
