"""How an implementation says it cannot honour a Config knob: not a bug, not supported.

A factory (``factory(config) -> allocator``) raises :class:`Unsupported` for a valid
Config it cannot serve, naming the knob, for example a fixed-geometry allocator::

    if config.slab_size != 4096:
        raise Unsupported("slab_size", config.slab_size, "only 4096-byte slabs")

The harness then skips that Config (it never counts as a finding) and lists the knob
under "not supported" in its report.  Any other exception from a factory is a broken
factory (``hakmem_verify.explore.impl.ImplError``).
"""
from __future__ import annotations

from .api import ConfigError


class Unsupported(ConfigError):
    """A valid Config that this implementation cannot honour (``knob=value``)."""

    def __init__(self, knob: str, value, why: str = ""):
        self.knob = knob
        self.value = value
        self.why = why
        super().__init__(f"not supported: {knob}={value!r}" + (f" ({why})" if why else ""))


def require_whole_blocks(config) -> None:
    """Unsupported unless every class size divides ``slab_size``: the design's slabs (and
    their bitmaps) hold whole blocks only; the reference serves any classes."""
    odd = [s for s in config.class_sizes if config.slab_size % s]
    if odd:
        raise Unsupported("class_sizes", config.class_sizes,
                          f"{odd} do not divide slab_size {config.slab_size}: the design's "
                          "slabs hold whole blocks")
