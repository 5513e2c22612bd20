"""Foreign allocators on equal terms: an implementation declares its classes and which
bad inputs it detects (``hakmem_verify.contract.api.Capabilities``); the reference adopts the classes, the
machine sends only the bad ops it promises to detect; undeclared, the strict default.
The three examples of ``examples/foreign_alloc.py`` run clean and their planted bugs are
found with the expected ID; without their declarations the same allocators fail."""
from __future__ import annotations

import pytest

from examples import foreign_alloc
from hakmem_verify.explore.hunt import hunt
from hakmem_verify.explore.impl import ImplError, load_impl
from hakmem_verify.contract.api import Capabilities, Config, ConfigError
from hakmem_verify.explore.concurrent_shrink import hypothesis_shrink_budget
from hakmem_verify.explore.configs import tiny_configs

MOD = "examples.foreign_alloc"


def _hunt(spec, budget, seed=1):
    """The lockstep hunt on tiny Configs; the test asks which invariant names the bug, so
    Hypothesis's shrink is capped at 2 s."""
    with hypothesis_shrink_budget(2):
        return hunt(budget=budget, seed=seed, impl=spec, config_strategy=tiny_configs,
                    chunk=20)


# undeclared twins of the examples: the same allocators, held to the strict default
def undeclared_round16(config):
    return foreign_alloc.Round16(config)


def undeclared_trusting(config):
    return foreign_alloc.Trusting(config)


@pytest.mark.parametrize("name", sorted(foreign_alloc.CLEAN))
def test_each_example_runs_clean_on_its_own_terms(name):
    r = _hunt(f"{MOD}:{name}", budget=3)
    assert not r.killed, r.message
    assert r.examples > 0 and not r.unsupported


@pytest.mark.quality
@pytest.mark.parametrize("name", sorted(foreign_alloc.PLANTED))
def test_each_examples_planted_bug_is_found_with_its_id(name):
    ids, _ = foreign_alloc.PLANTED[name]
    r = _hunt(f"{MOD}:{name}", budget=60)
    assert r.killed and r.inv_id in ids, (r.inv_id, r.message)


@pytest.mark.quality
@pytest.mark.parametrize("factory, expect", [
    # its usable sizes and per-class statistics are not the Config's classes
    ("undeclared_round16", ("LOCK-02", "STAT-01", "STAT-04")),
    # a bad free or access it never promised to detect: the reference's error is missing
    ("undeclared_trusting", ("LOCK-01", "LOCK-03")),
])
def test_without_its_declaration_the_same_allocator_fails(factory, expect):
    r = _hunt(f"{__name__}:{factory}", budget=30)
    assert r.killed and r.inv_id in expect, (r.inv_id, r.message)


def test_the_reference_adopts_the_declared_classes():
    caps = foreign_alloc.Round16.CAPS
    cfg = caps.adopt(Config(class_sizes=(8, 16), slab_size=64, base_address=64))
    assert cfg.class_sizes == tuple(range(16, 257, 16)) and cfg.slab_size == 256
    assert cfg.base_address % 256 == 0 and cfg.max_size == 256
    assert caps.adopt(cfg) == cfg and Capabilities().adopt(cfg) is cfg
    impl = load_impl(f"{MOD}:round16")
    assert impl.capabilities == caps and impl.tier == "black-box"
    a = impl(cfg)
    assert a.usable_size(a.alloc(17)) == 32 and a.usable_size(a.alloc(0)) == 16


def test_a_declaration_is_checked_when_loaded():
    with pytest.raises(ConfigError, match="multiples of 8"):
        Capabilities(class_sizes=(12, 24))
    with pytest.raises(ImplError, match="declare a hakmem_verify.contract.api.Capabilities"):
        load_impl(f"{__name__}:badly_declared")


def badly_declared(config):
    return foreign_alloc.Round16(config)


badly_declared.capabilities = {"class_sizes": (16,)}
