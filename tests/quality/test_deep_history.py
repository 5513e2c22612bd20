"""Deep histories: a double allocation that appears only after 3,000 allocations of one
class (``examples.bump_bugs:deep_counter_wrap``) is out of reach of the short machines;
the deep family (``--machine deep``: bursts of thousands of ops of one class, churn)
finds it within 60 s, and the trace passes cut its reproducer to at most 50 ops."""
from __future__ import annotations

import random

import pytest

from examples import bump_bugs
from hakmem_verify.explore.hunt import hunt
from hakmem_verify.runner.replay import replay
from hakmem_verify.runner.failure import POST_SHRINK_OVER, post_shrink
from hakmem_verify.workloads.trace_shrink import simplify
from hakmem_verify.contract.api import InvariantViolation
from hakmem_verify.explore.concurrent_shrink import hypothesis_shrink_budget
from hakmem_verify.contract.ops import Alloc, AllocMany, Free, Read, ThreadExit
from hakmem_verify.explore.configs import deep_configs

IMPL = "examples.bump_bugs:deep_counter_wrap"


@pytest.mark.quality
def test_the_deep_family_finds_a_bug_after_3000_allocations_with_a_short_reproducer():
    (expect, _), = bump_bugs.DEEP.values()
    with hypothesis_shrink_budget(2):
        r = hunt(budget=60, seed=1, impl=IMPL, config_strategy=deep_configs, deep=True,
                 chunk=10)
    assert r.killed and r.inv_id in expect, (r.inv_id, r.message)
    assert r.time_to_fail < 60
    params = {"l3_every": 50, "op_timeout": 0, "impl": IMPL}
    trace, _ = post_shrink(r, 20, None, params) if len(r.trace) > POST_SHRINK_OVER \
        else (r.trace, False)
    assert len(trace) <= POST_SHRINK_OVER, trace
    with pytest.raises(InvariantViolation) as again:
        replay(r.config, trace, impl=IMPL)
    assert again.value.inv_id == r.inv_id


def test_the_planted_deep_bug_is_silent_for_3000_allocations_of_a_class():
    from hakmem_verify.contract.api import Config
    a = bump_bugs.deep_counter_wrap(Config())
    blocks = [a.alloc(8) for _ in range(3000)]
    assert len(set(blocks)) == 3000
    assert a.alloc(8) in blocks                     # the 3,001st: a live block again


def test_simplify_cuts_thousands_of_ops_to_a_few_bursts_in_a_few_replays():
    rng = random.Random(3)
    ops, live = [], 0
    for _ in range(14000):
        if live and rng.random() < 0.4:
            ops.append(Free(rng.randrange(live), rng.randrange(4)))
        elif rng.random() < 0.05:
            ops.append(rng.choice([ThreadExit(rng.randrange(4)), Read(0, 0, 4)]))
        else:
            ops.append(Alloc(rng.choice([8, 8, 16, 1000]), rng.randrange(4)))
            live += 1
    replays = []

    def fails(candidate):                 # the bug: 3,001 allocations of class 0
        replays.append(1)
        return sum(1 if type(op) is Alloc else op.n for op in candidate
                   if type(op) in (Alloc, AllocMany) and op.size <= 8) > 3000
    assert fails(ops)
    small = simplify(ops, fails, lambda size: 0 if size <= 8 else 1)
    assert fails(small) and len(small) <= 4 and len(replays) <= 12, small
