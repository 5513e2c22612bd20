"""SuperSlab mode of the fast model (hakmem_verify.models.fast.superslab): Config knobs, geometry,
ownership, the pool, the tls_sll and the free-pipeline counters."""
import os
import subprocess
import sys

import pytest

from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.fast.steps import run_steps
from hakmem_verify.contract.api import Config, ConfigError
from hakmem_verify.check import check_impl

CFG = Config(class_sizes=(16, 32), slab_size=64, word_bits=8, mini_mag_capacity=1,
             refill_batch=1, magazine_capacity=1, flush_interval=4, use_superslab=True,
             superslab_size=256, superslab_pool_max=1, tls_sll_capacity=2)


def test_the_mode_is_off_by_default_and_the_environment_switch_turns_it_on():
    code = "from hakmem_verify.contract.api import Config; print(Config().use_superslab)"
    env = {k: v for k, v in os.environ.items() if k != "HAKMEM_TINY_USE_SUPERSLAB"}
    off = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    on = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                        env={**env, "HAKMEM_TINY_USE_SUPERSLAB": "1"})
    assert (off.stdout.strip(), on.stdout.strip()) == ("False", "True")
    d = Config(use_superslab=False)
    assert (d.superslab_size, d.superslab_pool_max, d.tls_sll_capacity) == (2 << 20, 2, 64)


@pytest.mark.parametrize("kw", [dict(superslab_size=3 * 64), dict(superslab_size=64),
                                dict(superslab_size=32), dict(superslab_size=True),
                                dict(superslab_pool_max=-1), dict(tls_sll_capacity=-1),
                                dict(use_superslab=1)])
def test_an_impossible_superslab_knob_is_a_config_error(kw):
    with pytest.raises(ConfigError):
        Config(slab_size=64, class_sizes=(16,), **kw)


def test_slabs_are_carved_in_an_aligned_superslab_outside_its_header():
    fa = FastAllocator(CFG)
    blocks = [fa.alloc(16, 0) for _ in range(8)]
    for p in blocks:
        ss = p & ~(CFG.superslab_size - 1)
        assert ss in fa._superslabs and p - ss >= CFG.slab_size    # not in slot 0
        slab = fa._slabs[p & ~(CFG.slab_size - 1)]
        assert fa._superslabs[ss].slabs[(slab.base - ss) // CFG.slab_size] is slab
    assert all(ss.owner == 0 for ss in fa._superslabs.values())
    assert fa._threads[0].superslabs == sorted(fa._superslabs)
    check_impl(fa, 3)


def test_a_thread_never_adopts_a_slab_of_another_threads_superslab():
    fa = FastAllocator(CFG)
    a = [fa.alloc(16, 0) for _ in range(4)]          # fills tid 0's slab
    fa.evict_active(0, 0)                            # unowned, in tid 0's SuperSlab
    fa.free(a[0], 0)                                 # a free block in it
    p = fa.alloc(16, 1)
    assert p & ~(CFG.superslab_size - 1) != a[0] & ~(CFG.superslab_size - 1)
    check_impl(fa, 3)


def test_an_abandoned_superslab_is_reclaimed_whole():
    fa = FastAllocator(CFG)
    p = fa.alloc(16, 0)
    fa.thread_exit(0)
    ss = fa._superslabs[p & ~(CFG.superslab_size - 1)]
    assert ss.owner is None and fa.path_counts["ss_abandon"] == 1
    q = fa.alloc(16, 1)                              # adopts the partial slab of ss
    assert q & ~(CFG.superslab_size - 1) == ss.base and ss.owner == 1
    assert fa.path_counts["ss_reclaim"] == 1 and fa._threads[1].superslabs == [ss.base]
    check_impl(fa, 3)


def test_a_local_free_goes_to_the_tls_sll_and_the_next_alloc_pops_it():
    fa = FastAllocator(CFG)
    p = fa.alloc(16, 0)
    fa.free(p, 0)
    t = fa._threads[0]
    assert (t.sll_head[0], t.sll_count[0]) == (p, 1)
    assert fa.alloc(16, 0) == p
    pc = fa.path_counts
    assert (pc["ss_local"], pc["tls_sll"], pc["ss_alloc_tls_sll_hit"]) == (1, 1, 1)
    check_impl(fa, 3)


def test_the_free_pipeline_counters_add_up_to_the_frees():
    fa = FastAllocator(CFG)
    held = [fa.alloc(16 * (i % 2 + 1), i % 3) for i in range(30)]
    for i, p in enumerate(held):
        fa.free(p, (i * 5) % 3)       # a third by the allocating thread
    pc = fa.path_counts
    assert pc["ss_local"] + pc["ss_remote"] == 30
    assert pc["tls_sll"] <= pc["ss_free_early_local"] <= pc["ss_local"]
    assert pc["ss_remote"] > 0 and pc["tls_sll"] > 0
    check_impl(fa, 3)


def test_quiesce_flushes_every_tls_sll_and_leaves_no_superslab_in_use():
    fa = FastAllocator(CFG)
    held = [fa.alloc(16, i % 2) for i in range(12)]
    for p in held:
        fa.free(p, 0)
    fa.quiesce()
    assert not fa._slabs and not fa._superslabs and not fa._threads
    assert len(fa._ss_pool) == CFG.superslab_pool_max
    assert fa.path_counts["tls_sll_flush"] > 0 and fa.path_counts["ss_unmap"] > 0
    check_impl(fa, 3)


def test_an_empty_superslab_is_reused_from_the_pool_then_mapped_again_at_a_returned_base():
    fa = FastAllocator(Config(**{**CFG.__dict__, "superslab_pool_max": 0}))
    p = fa.alloc(16, 0)
    base = p & ~(CFG.superslab_size - 1)
    fa.free(p, 0)
    fa.thread_exit(0)
    assert not fa._superslabs and fa._ss_unmapped == [base]
    assert fa.alloc(16, 1) & ~(CFG.superslab_size - 1) == base
    assert fa.path_counts["ss_map"] == 2


def test_thread_exit_runs_its_steps_and_returns_the_tls_sll_before_abandoning():
    fa = FastAllocator(CFG)
    p = fa.alloc(16, 0)
    fa.free(p, 0)
    run_steps(fa.thread_exit_steps(0))
    slab = fa._slabs.get(p & ~(CFG.slab_size - 1))
    assert slab is None                  # fully free and unowned: released with its SuperSlab
    assert fa._ss_pool and not fa._superslabs
    check_impl(fa, 3)


def test_the_default_mode_keeps_the_superslab_counters_at_zero():
    fa = FastAllocator(Config(class_sizes=(16,), slab_size=64, use_superslab=False))
    for tid in (0, 1):
        p = fa.alloc(16, tid)
        fa.free(p, 1 - tid)
    fa.quiesce()
    assert all(v == 0 for k, v in fa.path_counts.items()
               if k.startswith("ss_") or k.startswith("tls_sll"))
    assert fa.snapshot().superslabs == {}
