"""Reproducer read_compares_only_bytes_the_client_wrote: lockstep trace of 10 ops.
Invariant: LOCK-01
Failure:
    [LOCK-01] read(handle 4, 23, 10): reference and fast differ in bytes past what the client wrote (oracle false alarm, fixed: only defined bytes are compared)
"""
from hakmem_verify.contract.api import Config
from hakmem_verify.contract.ops import *

from hakmem_verify.runner.replay import replay

CONFIG = Config(class_sizes=(8, 16, 32, 64, 128, 256, 512, 1024), slab_size=1024, word_bits=8, mini_mag_capacity=2, refill_batch=1, magazine_capacity=2, flush_interval=2, max_slabs_per_class=None, check_level=0, base_address=4294967296)
MUTANT = None
OPS = [
    Alloc(size=306, tid=0),
    AllocMany(size=273, n=2, tid=0),
    Free(handle=2, tid=0),
    Write(handle=1, offset=30, data=b'\xa8+\xe7\x99\xfc\xf3\x08\x8b\x80\xa0\xa6'),
    FreeMany(n=1, tid=0, newest=False),
    FreeMany(n=1, tid=0, newest=False),
    Alloc(size=257, tid=0),
    Alloc(size=257, tid=0),
    Alloc(size=0, tid=0),
    Read(handle=4, offset=23, n=10)
]


def test_read_compares_only_bytes_the_client_wrote_replays_clean():
    replay(CONFIG, OPS, mutant=MUTANT)
