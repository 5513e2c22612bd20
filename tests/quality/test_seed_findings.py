"""The verdicts of docs/SEED_FINDINGS.md, replayed.

Each reproducer fails with its invariant while the seed's sample is applied, and passes on
the corrected model.
"""
import pytest

from hakmem_verify.runner.replay import replay
from hakmem_verify.contract.api import Config, InvariantViolation
from hakmem_verify.contract.ops import AllocMany, Alloc, Refill

TINY = Config(class_sizes=(8, 16), slab_size=64, word_bits=4, mini_mag_capacity=1,
              refill_batch=2, magazine_capacity=1, flush_interval=1)

FINDINGS = [
    ("seed-batch_refill_from_bitmap", Config(), [AllocMany(0, 17, 0), Refill(0, 0)], "REF-01"),
    ("seed-batch_refill_from_bitmap", TINY, [Alloc(0, 0)], "PART-01"),
    ("seed-stats_flush_if_needed", Config(), [AllocMany(0, 255, 0)], "STAT-01"),
    ("seed-stats-phase3", Config(), [AllocMany(0, 256, 0)], "STAT-02"),
    ("seed-hot-path", Config(), [AllocMany(0, 257, 0)], "STAT-02"),
]


@pytest.mark.quality
@pytest.mark.parametrize("mutant,config,ops,inv_id", FINDINGS,
                         ids=[f"{m}-{i}" for m, _, _, i in FINDINGS])
def test_the_seed_sample_fails_its_reproducer_and_the_model_passes_it(mutant, config, ops,
                                                                       inv_id):
    with pytest.raises(InvariantViolation) as info:
        replay(config, ops, mutant=mutant)
    assert info.value.inv_id == inv_id
    replay(config, ops)
