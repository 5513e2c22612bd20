"""Config distributions: the lockstep machines' families (``--machine tiny|small|seed|deep``,
``configs`` for all of them), the concurrent machine's, and the runner's drawn without
Hypothesis.  A planted bug that needs a geometry of its own keeps its strategy beside it
(``hakmem_verify.planted``)."""
from __future__ import annotations

import dataclasses
import random
from dataclasses import replace

from hypothesis import strategies as st

from hakmem_verify.contract.api import SEED_CLASS_SIZES, Config

# ============================================================================
# Configs: tiny (rare paths in a few steps) .. the seed's numbers
# ============================================================================

tiny_configs = st.builds(
    Config,
    class_sizes=st.sampled_from([(8, 16), (8,), (8, 16, 32), (16, 32, 64)]),
    slab_size=st.sampled_from([64, 128]),
    word_bits=st.sampled_from([4, 8, 2, 64]),
    mini_mag_capacity=st.integers(1, 4),
    refill_batch=st.integers(1, 5),
    magazine_capacity=st.integers(1, 4),
    flush_interval=st.integers(1, 8),
    max_slabs_per_class=st.one_of(st.integers(1, 3), st.none()),
)

small_configs = st.builds(
    Config,
    class_sizes=st.just(SEED_CLASS_SIZES),
    slab_size=st.sampled_from([1024, 2048, 4096]),
    word_bits=st.sampled_from([8, 64, 16]),
    mini_mag_capacity=st.integers(2, 32),
    refill_batch=st.integers(1, 16),
    magazine_capacity=st.integers(2, 64),
    flush_interval=st.integers(2, 64),
    max_slabs_per_class=st.one_of(st.none(), st.integers(1, 4)),
)

seed_configs = st.builds(Config, max_slabs_per_class=st.one_of(st.none(), st.integers(1, 2)))



@st.composite
def both_modes(draw, base):
    """A Config of ``base`` in the default mode or, as often, in SuperSlab mode (2 to 8
    slab slots per SuperSlab, a pool of 0-2, a tls_sll of 0-4 blocks): the same number of
    examples covers both modes."""
    cfg = draw(base)
    if not draw(st.booleans()):
        return cfg
    return dataclasses.replace(cfg, use_superslab=True,
                               superslab_size=cfg.slab_size * draw(st.sampled_from([2, 4, 8])),
                               superslab_pool_max=draw(st.integers(0, 2)),
                               tls_sll_capacity=draw(st.integers(0, 4)))


#: deep histories (``--machine deep``): no slab limit, so thousands of blocks of one class
#: stay live; the seed's numbers and smaller slabs and caches
deep_configs = st.one_of(
    st.builds(Config),
    st.builds(Config, slab_size=st.sampled_from([1024, 4096]),
              mini_mag_capacity=st.integers(2, 32), refill_batch=st.integers(1, 16),
              magazine_capacity=st.integers(16, 256), flush_interval=st.integers(16, 256)))

#: every size, the default mode (the catalogue's planted bugs are hunted with these)
configs = st.one_of(tiny_configs, small_configs, seed_configs)
#: every size, both modes (the lockstep test machines)
all_mode_configs = st.one_of(both_modes(tiny_configs), both_modes(small_configs),
                             both_modes(seed_configs))


# ============================================================================
# The concurrent machine's: tiny Configs, a quarter of a clean run's in SuperSlab mode
# ============================================================================

concurrent_configs = st.builds(
    Config, class_sizes=st.sampled_from([(8, 16), (8,), (16, 32)]),
    slab_size=st.sampled_from([64, 128]), word_bits=st.sampled_from([4, 8, 64]),
    mini_mag_capacity=st.integers(1, 4), refill_batch=st.integers(1, 4),
    magazine_capacity=st.integers(1, 3), flush_interval=st.integers(1, 4))

#: the same Configs in SuperSlab mode (2-8 slab slots, a pool of 0-2, a tls_sll of 0-4)
superslab_concurrent_configs = concurrent_configs.flatmap(
    lambda c: st.builds(
        lambda k, pool, sll: replace(c, use_superslab=True, superslab_size=c.slab_size * k,
                                     superslab_pool_max=pool, tls_sll_capacity=sll),
        st.sampled_from([2, 4, 8]), st.integers(0, 2), st.integers(0, 4)))

#: what a clean ``hakmem-fuzz run`` of the fast model draws (``hakmem_verify.runner.concurrent``:
#: SUPERSLAB_SHARE, a quarter, in SuperSlab mode), as a Hypothesis strategy
mixed_concurrent_configs = st.one_of(concurrent_configs, concurrent_configs, concurrent_configs,
                                     superslab_concurrent_configs)


# ============================================================================
# Without Hypothesis: the runner's concurrent machine
# ============================================================================

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


__all__ = ["SUPERSLAB_SHARE", "all_mode_configs", "both_modes", "concurrent_configs", "configs",
           "deep_configs", "mixed_concurrent_configs", "random_config", "seed_configs",
           "small_configs", "superslab_concurrent_configs", "tiny_configs"]
