"""Reproducer interior_free_of_a_freed_handle_is_not_issued: lockstep trace of 5 ops.
Invariant: LOCK-01
Failure:
    [LOCK-01] oracle false alarm: an interior free of a freed handle whose slab was reused
"""
from hakmem_verify.contract.api import Config
from hakmem_verify.contract.ops import *

from hakmem_verify.runner.replay import replay

CONFIG = Config(class_sizes=(8, 16), slab_size=64, word_bits=64, mini_mag_capacity=16, refill_batch=16, magazine_capacity=2048, flush_interval=256, max_slabs_per_class=None, check_level=0, base_address=4294967296)
MUTANT = None
OPS = [
    Alloc(size=16, tid=0),
    Free(handle=0, tid=0),
    Quiesce(),
    Alloc(size=8, tid=0),
    BadFree(kind='interior', handle=0, tid=0)
]


def test_interior_free_of_a_freed_handle_is_not_issued_replays_clean():
    replay(CONFIG, OPS, mutant=MUTANT)
