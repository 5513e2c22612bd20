"""Config distributions drawn without Hypothesis (the concurrent runner's, a planted race's)."""
from __future__ import annotations

import dataclasses
import random

from hakmem_verify.contract.api import Config

#: share of the runner's Configs in SuperSlab mode (its remote route and SuperSlab pool
#: interleaved too); the rest keep the default mode, where the catalogued races live
SUPERSLAB_SHARE = 0.25



def random_config(rng: random.Random, ss_share: float = SUPERSLAB_SHARE,
                  slots=(2, 4, 8), pool_max=(0, 2)) -> Config:
    """Tiny Configs; ``ss_share`` of them in SuperSlab mode with a SuperSlab of ``slots``
    slab slots (one of them, the header's included) and a pool of ``pool_max`` (lo, hi)."""
    cfg = Config(class_sizes=rng.choice([(8, 16), (8,), (16, 32)]),
                 slab_size=rng.choice([64, 128]), word_bits=rng.choice([4, 8, 64]),
                 mini_mag_capacity=rng.randint(1, 4), refill_batch=rng.randint(1, 4),
                 magazine_capacity=rng.randint(1, 3), flush_interval=rng.randint(1, 4))
    if rng.random() >= ss_share:
        return cfg
    return dataclasses.replace(cfg, use_superslab=True,
                               superslab_size=cfg.slab_size * rng.choice(slots),
                               superslab_pool_max=rng.randint(*pool_max),
                               tls_sll_capacity=rng.randint(0, 4))


__all__ = ["SUPERSLAB_SHARE", "random_config"]
