"""Reproducer write_stays_inside_its_block: lockstep trace of 4 ops.
Invariant: DATA-01
Failure:
    [DATA-01] oracle false alarm: a write at offset 8 of an 8-byte block landed in the neighbour (fixed: accesses are clamped; BadAccess tests the boundary)
"""
from hakmem_verify.contract.api import Config
from hakmem_verify.contract.ops import *

from hakmem_verify.runner.replay import replay

CONFIG = Config(class_sizes=(8, 16, 32, 64, 128, 256, 512, 1024), slab_size=65536, word_bits=64, mini_mag_capacity=16, refill_batch=16, magazine_capacity=2048, flush_interval=256, max_slabs_per_class=None, check_level=0, base_address=4294967296)
MUTANT = None
OPS = [
    FlushStats(),
    AllocMany(size=0, n=2, tid=0),
    Write(handle=0, offset=8, data=b'\x00'),
    Quiesce()
]


def test_write_stays_inside_its_block_replays_clean():
    replay(CONFIG, OPS, mutant=MUTANT)
