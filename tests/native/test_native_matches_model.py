"""The C pool makes the Python model's choices: the same ops on both give the same blocks
(the C address mapped by ``model_address``), the same debug counters, the same slabs; in
both modes (the default, and SuperSlab mode: ``Config.use_superslab``)."""
import dataclasses

import pytest
from hypothesis import given, settings, strategies as st

from hakmem_verify.contract.ops import Alloc
from hakmem_verify.explore.differential import KINDS, compare, to_ops
from hakmem_verify.contract.api import Config
from hakmem_verify.explore.configs import both_modes, small_configs, tiny_configs

#: (kind, tid, size, pick) draws, made ops by ``differential.to_ops``
PICKS = st.lists(st.tuples(st.sampled_from(KINDS),
                           st.integers(0, 2), st.integers(0, 1024), st.integers(0, 10 ** 6)),
                 min_size=10, max_size=150)


def superslab(cfg, k=2, pool_max=1, sll=2):
    """cfg in SuperSlab mode: k slab slots per SuperSlab, a pool of pool_max, a tls_sll of sll."""
    return dataclasses.replace(cfg, use_superslab=True, superslab_size=cfg.slab_size * k,
                               superslab_pool_max=pool_max, tls_sll_capacity=sll)


#: SuperSlab mode only (2 to 8 slots, a pool of 0-2, a tls_sll of 0-4)
SS_CONFIGS = st.one_of(tiny_configs, small_configs).flatmap(
    lambda c: st.builds(lambda k, pm, sll: superslab(c, k, pm, sll), st.sampled_from([2, 4, 8]),
                        st.integers(0, 2), st.integers(0, 4)))


def run_both(cfg, ops, mutant=None, check=False):
    """The ops (``hakmem_verify.contract.ops``) on the model and on the C pool, compared after each
    (``hakmem_verify.explore.differential.compare``); ``check``: the catalogue (level 3) on the C
    pool's snapshot after each op too."""
    problem = compare(cfg, ops, mutant=mutant, check=check)
    assert problem is None, problem


@settings(max_examples=200, deadline=None)
@given(cfg=st.one_of(tiny_configs, small_configs), picks=PICKS)
def test_the_c_pool_hands_out_the_models_blocks_with_the_models_counters(cfg, picks):
    run_both(cfg, to_ops(cfg, picks))


@settings(max_examples=200, deadline=None)
@given(cfg=SS_CONFIGS, picks=PICKS)
def test_in_superslab_mode_the_c_pool_makes_the_models_choices(cfg, picks):
    run_both(cfg, to_ops(cfg, picks))


@settings(max_examples=60, deadline=None)
@given(cfg=st.one_of(both_modes(tiny_configs), both_modes(small_configs)), picks=PICKS)
def test_the_whole_catalogue_holds_on_the_c_pools_snapshots_in_both_modes(cfg, picks):
    run_both(cfg, to_ops(cfg, picks), check=True)


@pytest.mark.quality
def test_the_comparison_fails_when_the_c_pool_is_built_with_the_seeds_refill_sample():
    cfg = Config(class_sizes=(8, 16), slab_size=64, word_bits=4, mini_mag_capacity=1,
                 refill_batch=2, magazine_capacity=1, flush_interval=1)
    ops = [Alloc(0, 0)] * 6
    run_both(cfg, ops)                                    # the correct build agrees
    with pytest.raises(AssertionError, match="op "):
        run_both(cfg, ops, mutant="seed-batch_refill_from_bitmap")
