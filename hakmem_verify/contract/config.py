"""``Config``: every limit of the tiny pool is a knob, with the seed design's numbers as
defaults; and the size-class mapping."""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Optional

from .errors import ConfigError, SizeError

# ============================================================================
# Config: every limit of the design is a knob; defaults are the seed's numbers
# ============================================================================

SEED_CLASS_SIZES = (8, 16, 32, 64, 128, 256, 512, 1024)

#: The seed's switch of the SuperSlab mode: ``HAKMEM_TINY_USE_SUPERSLAB=1`` in the
#: environment when this module is loaded turns it on (off by default, as in the seed).
USE_SUPERSLAB_DEFAULT = os.environ.get("HAKMEM_TINY_USE_SUPERSLAB") == "1"


@dataclass(frozen=True)
class Config:
    """Geometry and limits of the tiny pool (defaults: the seed design).

    Tests shrink these to reach rare paths in a few steps: a 4-block slab,
    a magazine of 2, a flush interval of 4.

    SuperSlab mode (``use_superslab``, default from ``HAKMEM_TINY_USE_SUPERSLAB``): slabs
    are carved from ``superslab_size``-aligned SuperSlabs owned by one thread (slot 0 holds
    the header), at most ``superslab_pool_max`` empty ones are kept for reuse, and a local
    free goes first to the thread's free list of the class (at most ``tls_sll_capacity``
    blocks).  ``max_slabs_per_class`` bounds the slabs in use per class in both modes;
    SuperSlabs themselves are mapped on demand without a limit, so the client sees the same
    limit either way (the reference has no SuperSlabs and needs no change).
    """

    class_sizes: tuple = SEED_CLASS_SIZES  # block size per class, ascending
    slab_size: int = 64 * 1024             # bytes per slab; also its alignment
    word_bits: int = 64                    # bits per bitmap word
    mini_mag_capacity: int = 16            # PageMiniMag.capacity (seed: 16, up to 32)
    refill_batch: int = 16                 # blocks moved bitmap -> mini-mag per refill
    magazine_capacity: int = 2048          # TLS magazine items per class per thread
    flush_interval: int = 256              # stat events per thread batch before flush
    max_slabs_per_class: Optional[int] = None  # memory limit; None = unlimited
    check_level: int = 0                   # the implementation's own self-check after every call (0 = off)
    base_address: int = 0x1_0000_0000      # address of the first slab
    # SuperSlab mode (hakmem_verify.models.fast.superslab): slabs carved from thread-owned aligned regions
    use_superslab: bool = USE_SUPERSLAB_DEFAULT  # env HAKMEM_TINY_USE_SUPERSLAB=1 at load
    superslab_size: int = 2 * 1024 * 1024  # bytes per SuperSlab; also its alignment
    superslab_pool_max: int = 2            # empty SuperSlabs kept for reuse (more: to the OS)
    tls_sll_capacity: int = 64             # bound of a thread's free list per class

    def __post_init__(self):
        def need(cond, what):
            if not cond:
                raise ConfigError(f"impossible Config: {what} (got {self!r})")

        need(isinstance(self.class_sizes, tuple) and len(self.class_sizes) >= 1,
             "class_sizes must be a non-empty tuple")
        need(all(isinstance(s, int) and not isinstance(s, bool) and s >= 8
                 for s in self.class_sizes),
             "every class size must be an int >= 8 (a free block holds an 8-byte next pointer)")
        need(all(s % 8 == 0 for s in self.class_sizes), "class sizes must be multiples of 8")
        need(list(self.class_sizes) == sorted(set(self.class_sizes)),
             "class_sizes must be strictly ascending")
        for name in ("slab_size", "word_bits", "mini_mag_capacity", "refill_batch",
                     "magazine_capacity", "flush_interval"):
            v = getattr(self, name)
            need(isinstance(v, int) and not isinstance(v, bool) and v >= 1,
                 f"{name} must be a positive int")
        need(self.slab_size & (self.slab_size - 1) == 0, "slab_size must be a power of two")
        need(self.slab_size // self.class_sizes[-1] >= 1, "a slab must hold a block")
        need(self.max_slabs_per_class is None
             or (isinstance(self.max_slabs_per_class, int)
                 and not isinstance(self.max_slabs_per_class, bool)
                 and self.max_slabs_per_class >= 1),
             "max_slabs_per_class must be None or a positive int")
        need(isinstance(self.check_level, int) and not isinstance(self.check_level, bool)
             and 0 <= self.check_level <= 3,
             "check_level must be 0..3")
        need(isinstance(self.base_address, int) and self.base_address > 0
             and self.base_address % self.slab_size == 0,
             "base_address must be a positive multiple of slab_size")
        need(isinstance(self.use_superslab, bool), "use_superslab must be a bool")
        need(isinstance(self.superslab_size, int) and not isinstance(self.superslab_size, bool)
             and self.superslab_size > 0 and self.superslab_size & (self.superslab_size - 1) == 0
             and self.superslab_size % self.slab_size == 0
             and self.superslab_size >= 2 * self.slab_size,
             "superslab_size must be a power of two, a multiple of slab_size, at least 2 slabs")
        for name in ("superslab_pool_max", "tls_sll_capacity"):
            v = getattr(self, name)
            need(isinstance(v, int) and not isinstance(v, bool) and v >= 0,
                 f"{name} must be an int >= 0")

    # ---- derived geometry -------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.class_sizes)

    @property
    def max_size(self) -> int:
        return self.class_sizes[-1]

    def blocks_per_slab(self, class_idx: int) -> int:
        return self.slab_size // self.class_sizes[class_idx]

    def words_per_slab(self, class_idx: int) -> int:
        return -(-self.blocks_per_slab(class_idx) // self.word_bits)

    @property
    def superslab_slots(self) -> int:
        """Slab-sized slots of a SuperSlab (slot 0 is its header)."""
        return self.superslab_size // self.slab_size


def size_to_class(size, class_sizes=SEED_CLASS_SIZES) -> int:
    """Smallest class whose block size holds ``size`` bytes (0 -> class 0).

    Raises SizeError for a non-int, negative or too-large size.

    >>> size_to_class(0), size_to_class(8), size_to_class(9), size_to_class(1024)
    (0, 0, 1, 7)
    """
    if not isinstance(size, int) or isinstance(size, bool):
        raise SizeError(f"size must be an int, got {type(size).__name__} {size!r}")
    if size < 0 or size > class_sizes[-1]:
        raise SizeError(f"size {size} outside the tiny pool's range 0..{class_sizes[-1]}; "
                        f"larger sizes belong to another pool")
    for idx, cs in enumerate(class_sizes):
        if size <= cs:
            return idx
    raise AssertionError("unreachable")  # pragma: no cover


#: the knobs a command line's ``--config knob=value`` may set (ints; ``max_slabs_per_class``
#: also ``none``)
KNOBS = tuple(f.name for f in fields(Config) if f.name != "class_sizes")
