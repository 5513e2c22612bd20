"""Unit tests of hakmem_verify.contract.api.Config and size_to_class: seed defaults, geometry, validation.

Every impossible Config must be refused at construction with ConfigError, so
that neither allocator ever sees a geometry it cannot represent.
"""
from __future__ import annotations

import dataclasses

import pytest

from hakmem_verify.contract.api import SEED_CLASS_SIZES, Config, ConfigError, SizeError, size_to_class

TINY = dict(class_sizes=(8, 16), slab_size=64)


# ---- defaults: the seed's numbers ------------------------------------------------------

def test_defaults_are_the_seed_numbers():
    c = Config()
    assert c.class_sizes == (8, 16, 32, 64, 128, 256, 512, 1024) == SEED_CLASS_SIZES
    assert c.slab_size == 64 * 1024
    assert c.word_bits == 64
    assert c.mini_mag_capacity == 16
    assert c.refill_batch == 16
    assert c.magazine_capacity == 2048
    assert c.flush_interval == 256
    assert c.max_slabs_per_class is None
    assert c.check_level == 0
    assert c.base_address % c.slab_size == 0 and c.base_address > 0


def test_seed_geometry_has_8192_blocks_of_8_bytes_and_64_of_1024():
    c = Config()
    assert c.num_classes == 8 and c.max_size == 1024
    assert c.blocks_per_slab(0) == 8192
    assert [c.blocks_per_slab(i) for i in range(8)] == [8192, 4096, 2048, 1024, 512, 256,
                                                        128, 64]
    assert c.words_per_slab(0) == 128 and c.words_per_slab(7) == 1


def test_words_per_slab_rounds_up_when_blocks_do_not_fill_the_last_word():
    c = Config(class_sizes=(8, 16), slab_size=64, word_bits=3)   # 8 and 4 blocks
    assert (c.words_per_slab(0), c.words_per_slab(1)) == (3, 2)


def test_config_is_frozen_and_hashable():
    c = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.slab_size = 128
    assert hash(c) == hash(Config()) and c == Config()


@pytest.mark.parametrize("kwargs", [
    dict(TINY),
    dict(class_sizes=(8,), slab_size=8, word_bits=1),            # one block per slab
    dict(class_sizes=(1024,), slab_size=1024),
    dict(TINY, word_bits=3, mini_mag_capacity=1, refill_batch=1, magazine_capacity=1,
         flush_interval=1, max_slabs_per_class=1, check_level=3, base_address=64),
    dict(mini_mag_capacity=32, refill_batch=64),                  # refill may exceed capacity
])
def test_small_and_edge_configs_are_accepted(kwargs):
    Config(**kwargs)


# ---- impossible configs --------------------------------------------------------------

IMPOSSIBLE = {
    "slab smaller than the largest class": dict(slab_size=512),
    # class sizes
    "non-ascending classes": dict(class_sizes=(16, 8), slab_size=64),
    "duplicate classes": dict(class_sizes=(8, 8), slab_size=64),
    "class size 4 < 8": dict(class_sizes=(4, 8), slab_size=64),
    "class size 0": dict(class_sizes=(0, 8), slab_size=64),
    "negative class size": dict(class_sizes=(-8, 8), slab_size=64),
    "class size 12 not a multiple of 8": dict(class_sizes=(8, 12), slab_size=48),
    "class size float": dict(class_sizes=(8.0, 16), slab_size=64),
    "class size bool": dict(class_sizes=(True, 8), slab_size=64),
    "empty class_sizes": dict(class_sizes=(), slab_size=64),
    "class_sizes a list": dict(class_sizes=[8, 16], slab_size=64),
    # slab size
    "slab 96 not a power of two": dict(class_sizes=(8, 16, 32), slab_size=96),
    "slab 0": dict(TINY, slab_size=0),
    "slab negative": dict(TINY, slab_size=-64),
    "slab float": dict(TINY, slab_size=64.0),
    # zero / negative / non-int capacities and knobs
    **{f"{name} {v!r}": dict(TINY, **{name: v})
       for name in ("word_bits", "mini_mag_capacity", "refill_batch", "magazine_capacity",
                    "flush_interval")
       for v in (0, -1, 2.0, True, "4", None)},
    # max_slabs_per_class
    "max_slabs_per_class 0": dict(TINY, max_slabs_per_class=0),
    "max_slabs_per_class -1": dict(TINY, max_slabs_per_class=-1),
    "max_slabs_per_class 1.5": dict(TINY, max_slabs_per_class=1.5),
    "max_slabs_per_class '2'": dict(TINY, max_slabs_per_class="2"),
    # check_level
    "check_level -1": dict(TINY, check_level=-1),
    "check_level 4": dict(TINY, check_level=4),
    "check_level 1.0": dict(TINY, check_level=1.0),
    "check_level None": dict(TINY, check_level=None),
    # base address
    "base_address 0": dict(TINY, base_address=0),
    "base_address negative": dict(TINY, base_address=-64),
    "base_address misaligned by 8": dict(TINY, base_address=64 + 8),
    "base_address half a slab": dict(base_address=0x1_0000_8000),
    "base_address float": dict(TINY, base_address=64.0),
}


@pytest.mark.parametrize("kwargs", list(IMPOSSIBLE.values()), ids=list(IMPOSSIBLE))
def test_an_impossible_config_raises_config_error(kwargs):
    with pytest.raises(ConfigError) as info:
        Config(**kwargs)
    assert "impossible Config" in str(info.value)


def test_config_error_is_a_value_error_and_names_the_offending_config():
    with pytest.raises(ValueError) as info:
        Config(class_sizes=(8, 24), slab_size=16)
    assert "a slab must hold a block" in str(info.value)
    assert "class_sizes=(8, 24)" in str(info.value)


def test_a_class_size_that_is_not_a_multiple_of_8_is_named_as_such():
    with pytest.raises(ConfigError, match="multiples of 8"):
        Config(class_sizes=(8, 12), slab_size=48)


@pytest.mark.parametrize("field", ["max_slabs_per_class", "check_level"])
def test_a_bool_max_slabs_or_check_level_is_refused_like_every_other_bool_knob(field):
    with pytest.raises(ConfigError):
        Config(**TINY, **{field: True})


# ---- size_to_class ---------------------------------------------------------------------

SEED_TABLE = [(0, 0), (1, 0), (8, 0), (9, 1), (16, 1), (17, 2), (32, 2), (33, 3), (64, 3),
              (65, 4), (128, 4), (129, 5), (256, 5), (257, 6), (512, 6), (513, 7), (1000, 7),
              (1024, 7)]


@pytest.mark.parametrize("size,cls", SEED_TABLE)
def test_size_to_class_maps_each_boundary_to_the_smallest_class_that_holds_it(size, cls):
    assert size_to_class(size) == cls


def test_size_to_class_of_every_size_is_the_smallest_class_that_holds_it():
    for size in range(0, 1025):
        c = size_to_class(size)
        assert SEED_CLASS_SIZES[c] >= size
        assert c == 0 or SEED_CLASS_SIZES[c - 1] < size


@pytest.mark.parametrize("size", [-1, 1025, 2 ** 63, 1.5, 8.0, True, False, "8", None, b"8"])
def test_size_to_class_rejects_a_size_that_is_not_an_int_in_range(size):
    with pytest.raises(SizeError):
        size_to_class(size)


def test_size_to_class_uses_the_given_class_sizes():
    sizes = (8, 24, 40)
    assert [size_to_class(s, sizes) for s in (0, 8, 9, 24, 25, 40)] == [0, 0, 1, 1, 2, 2]
    with pytest.raises(SizeError):
        size_to_class(41, sizes)


def test_a_slab_that_a_class_does_not_divide_is_the_references_not_the_designs():
    from hakmem_verify.models.fast import FastAllocator
    from hakmem_verify.models.ref import RefAllocator
    from hakmem_verify.contract.unsupported import Unsupported
    cfg = Config(class_sizes=(8, 24), slab_size=64)      # 2 blocks of 24, a 16-byte tail
    with pytest.raises(Unsupported, match="class_sizes"):
        FastAllocator(cfg)
    ref = RefAllocator(cfg)
    a, b = ref.alloc(24), ref.alloc(24)
    assert {a, b} == {cfg.base_address, cfg.base_address + 24} and ref.usable_size(a) == 24
    assert ref.alloc(24) == cfg.base_address + 64         # the tail is never handed out
