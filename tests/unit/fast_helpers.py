"""What the unit tests of the fast model share: a tiny Config, and the paths one call took."""
from __future__ import annotations

from hakmem_verify import check as inv
from hakmem_verify.contract.api import Config
from hakmem_verify.models.fast import FastAllocator

TINY = Config(class_sizes=(8, 16), slab_size=64, word_bits=4, mini_mag_capacity=2,
              refill_batch=2, magazine_capacity=2, flush_interval=4)


def paths(fa: FastAllocator, fn, *args, flush: bool = False):
    """(result, {path: delta}) of one call; stat flushes left out unless ``flush``."""
    before = dict(fa.path_counts)
    r = fn(*args)
    return r, {k: v - before[k] for k, v in fa.path_counts.items()
               if v != before[k] and (flush or k != "stat_flush")}


def live_set(fa: FastAllocator) -> inv.LiveSet:
    return inv.LiveSet.from_blocks(fa.live_blocks(), fa.config)
