"""Reproducer double_free_into_a_released_and_reused_slab: lockstep trace of 8 ops.
Invariant: LOCK-01
Failure:
    [LOCK-01] free(double address): reference raised DoubleFree, fast raised InvalidFree (contract: InvalidFree once the slab was released)
"""
from hakmem_verify.contract.api import Config
from hakmem_verify.contract.ops import *

from hakmem_verify.runner.replay import replay

CONFIG = Config(class_sizes=(8, 16, 32, 64, 128, 256, 512, 1024), slab_size=1024, word_bits=8, mini_mag_capacity=2, refill_batch=2, magazine_capacity=2, flush_interval=2, max_slabs_per_class=None, check_level=0, base_address=4294967296)
MUTANT = None
OPS = [
    AllocMany(size=0, n=4, tid=0),
    Alloc(size=0, tid=1),
    FreeMany(n=64, tid=0, newest=False),
    Quiesce(),
    Alloc(size=0, tid=0),
    Alloc(size=0, tid=0),
    Alloc(size=9, tid=0),
    BadFree(kind='double', handle=2, tid=0)
]


def test_double_free_into_a_released_and_reused_slab_replays_clean():
    replay(CONFIG, OPS, mutant=MUTANT)
