"""The scheduler: schedules print and replay exactly; random, PCT and bounded-preemption
exploration drive real atomic steps of the fast model."""
import pytest

from hakmem_verify import planted as mutants
from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.contract.api import Config
from hakmem_verify.schedule import (PCT, RandomStrategy, Replay, Run, Schedule, ScheduleError, explore,
                            race_free_with_drain)

CFG = Config(class_sizes=(8,), slab_size=64, word_bits=8, mini_mag_capacity=1, refill_batch=1,
             magazine_capacity=1, flush_interval=8)


def remote_free_against_drain():
    """Thread 0 owns a slab; thread 1 frees one of its blocks (a remote push) while
    thread 0 drains: the 2-thread program of the exhaustive acceptance check."""
    fa = FastAllocator(CFG)
    a = fa.alloc(8, 0)
    b = fa.alloc(8, 0)
    fa.free(a, 1)                # already one block on the remote stack
    run = Run({1: [("free", lambda: fa.free_steps(b, 1))],
               0: [("drain", lambda: fa.drain_steps(0, 0))]})
    return fa, run


def test_a_schedule_prints_short_and_parses_back_to_itself():
    s = Schedule([0, 0, 0, 1, 0, 0, 2])
    assert str(s) == "0*3 1 0*2 2"
    assert Schedule.parse(str(s)) == s
    assert s.preemptions() == 3


def test_a_malformed_schedule_string_is_a_schedule_error():
    with pytest.raises(ScheduleError, match="bad schedule token"):
        Schedule.parse("0*x 1")


def test_replay_re_runs_a_random_schedule_step_for_step():
    fa, run = remote_free_against_drain()
    run.run(RandomStrategy(seed=3))
    fa2, again = remote_free_against_drain()
    again.run(Replay(str(run.schedule)))
    assert again.schedule == run.schedule and again.labels == run.labels
    assert fa2.snapshot() == fa.snapshot()


def test_replay_refuses_a_thread_that_cannot_run_and_names_the_step():
    _, run = remote_free_against_drain()
    with pytest.raises(ScheduleError, match="names thread 5 at step 0"):
        run.run(Replay("5"))


def test_pct_runs_every_thread_to_the_end_with_its_change_points():
    fa, run = remote_free_against_drain()
    run.run(PCT([0, 1], depth=3, k=6, seed=1))
    assert sorted(set(run.schedule)) == [0, 1]
    assert all(r.kind == "ok" for r in run.records)
    assert not fa.snapshot().slabs[fa.slab_bases()[0]].remote   # the drain or later: pushed


def test_exhaustive_search_of_a_remote_free_against_a_drain_exhausts_at_two_preemptions():
    outcomes = set()

    def done(run):
        outcomes.add(str(run.schedule))
    res = explore(lambda: remote_free_against_drain()[1], done, max_preemptions=2)
    assert res.exhausted and res.schedules == len(outcomes)
    assert res.schedules >= 6
    res0 = explore(lambda: remote_free_against_drain()[1], lambda r: None, max_preemptions=0)
    assert res0.exhausted and res0.schedules == 2      # 0 first or 1 first, no switch


def test_exhaustive_search_finds_a_non_atomic_push_losing_a_drain():
    """Quality: with the push's CAS replaced by a plain store, some schedule of <= 2
    preemptions leaves drained blocks on the stack (RMT-01 at the next check)."""
    bad = []

    def done(run):
        fa = run.fa
        s = fa.snapshot()
        slab = s.slabs[fa.slab_bases()[0]]
        if any(not (slab.words[0] >> ((a - slab.base) // 8)) & 1 for a in slab.remote):
            bad.append(str(run.schedule))

    def make():
        fa, run = remote_free_against_drain()
        run.fa = fa
        return run
    with mutants.apply("remote-push-not-atomic"):
        res = explore(make, done, max_preemptions=2)
    assert res.exhausted and bad, "no schedule exposed the lost update"


def test_the_scripted_race_is_a_schedule_with_a_failed_cas():
    fa = FastAllocator(CFG)
    a = fa.alloc(8, 0)
    fa.free(fa.alloc(8, 0), 1)
    sched = race_free_with_drain(fa, a, 1)
    assert str(sched).startswith("1*2 0")
    assert fa.path_counts["drain"] == 1


def test_the_lockstep_race_free_records_the_schedule_it_ran_and_the_reproducer_shows_it(
        monkeypatch):
    import hakmem_verify.explore.machines
    from hakmem_verify.models.ref import RefAllocator
    from hakmem_verify.contract.api import Config
    from hakmem_verify.explore.machines import make_machine
    from hakmem_verify.contract.ops import RaceFree, op_repr
    import hakmem_verify.explore.machine_base
    monkeypatch.setattr(hakmem_verify.explore.machines, "event", lambda *a, **k: None)   # outside a test
    monkeypatch.setattr(hakmem_verify.explore.machine_base, "event", lambda *a, **k: None)
    Machine = make_machine(RefAllocator, FastAllocator, name="RaceMachine")
    m = Machine()
    m.setup(Config(class_sizes=(8,), slab_size=64, mini_mag_capacity=1, refill_batch=1,
                   magazine_capacity=1))
    a = m.oracle.apply(__import__("hakmem_verify.contract.ops", fromlist=["Alloc"]).Alloc(8, 0))
    m.race_free(a[0] if isinstance(a, list) else a, 1)
    op = m.oracle.trace[-1]
    assert isinstance(op, RaceFree) and op.schedule
    assert "schedule='1" in op_repr(op)
    assert op == RaceFree(op.handle, 1)               # the schedule does not change equality
