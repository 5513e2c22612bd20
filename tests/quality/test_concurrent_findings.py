"""The concurrent machine misses nothing silently: an op that spins waiting for a
descheduled thread (LIVELOCK), a slab that falls off the pool's lists (SLAB-ACCT) and a
step that raises (CRASH-STEP) are findings with an ID.  Each ID's planted race is hunted
and killed by that ID, and the clean model replays the same rounds without a finding."""
import time

import pytest

from hakmem_verify.planted import races_progress  # noqa: F401  (registers its races in RACES)
from hakmem_verify.planted.races import RACES
from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.contract.api import InvariantViolation
from hakmem_verify.oracle.concurrent import TOTALS, replay
from hakmem_verify.explore.concurrent_hunt import hunt_concurrent
from hakmem_verify.check import REGISTRY
from hakmem_verify.check.registry import CONCURRENT_TOPICS

IDS = sorted(i for i, inv in REGISTRY.items() if inv.topic in CONCURRENT_TOPICS)


def test_each_id_has_a_planted_race_that_expects_it():
    assert IDS == ["CRASH-STEP", "LIVELOCK", "SLAB-ACCT"]
    for inv_id in IDS:
        m = RACES[REGISTRY[inv_id].planted]
        assert m.kind == "concurrency" and m.expect == (inv_id,) and not m.equivalent


@pytest.mark.quality
@pytest.mark.parametrize("inv_id", IDS)
def test_the_concurrent_machine_names_the_invariant_its_planted_race_breaks(inv_id):
    m = RACES[REGISTRY[inv_id].planted]
    t0 = time.monotonic()
    with m.apply():
        r = hunt_concurrent(RefAllocator, FastAllocator, budget=30, seed=0, chunk=10,
                            shrink_seconds=0)
    print(f"\n{m.name}: {r.inv_id} after {r.time_to_fail:.2f} s "
          f"({time.monotonic() - t0:.2f} s in all, {r.examples} examples)")
    assert r.killed, f"{m.name} survived {r.examples} examples"
    assert r.inv_id == inv_id and r.message.startswith(f"[{inv_id}]"), r.message[:300]
    if inv_id != "SLAB-ACCT":                 # a step's finding names op, thread, schedule
        assert "tid " in r.message and "schedule " in r.message, r.message[:300]
    with m.apply(), pytest.raises(InvariantViolation) as exc:
        replay(RefAllocator, FastAllocator, r.config, r.rounds)
    assert exc.value.inv_id == inv_id
    replay(RefAllocator, FastAllocator, r.config, r.rounds, strict=False)    # clean


@pytest.mark.quality
def test_the_clean_model_survives_preempting_and_starving_schedules():
    before = TOTALS["starved"]
    r = hunt_concurrent(RefAllocator, FastAllocator, budget=120, seed=0, chunk=5,
                        shrink_seconds=0, examples=20)     # a count: the same on a loaded machine
    assert not r.killed, f"{r.inv_id} on the clean model: {r.message[:300]}\n{r.reproducer}"
    assert TOTALS["starved"] > before and r.examples >= 20
