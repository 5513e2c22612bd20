"""hakmem_verify.models.native: the seed design's tiny pool in C11 (real memory, atomics, pthreads),
driven by the same harness as the Python model (``--impl native``).

``make(config)`` is the factory; ``unavailable_reason()`` is '' when the C pool builds
here, else the one line saying why not (no cffi, no compiler).
"""
from __future__ import annotations

from hakmem_verify.contract.api import Config

from .build import MUTANTS, NativeUnavailable, unavailable_reason


def make(config: Config = Config()):
    """The C pool for ``config`` (``hakmem_verify.contract.unsupported.Unsupported`` for a knob it cannot
    honour; ``NativeUnavailable`` if it cannot be built here)."""
    from .allocator import NativeAllocator
    return NativeAllocator(config)


__all__ = ["make", "MUTANTS", "NativeUnavailable", "unavailable_reason"]
