"""The catalogue of planted bugs (mutants) of hakmem_verify.models.fast.

A harness is only as good as the bugs it catches.  Each mutant is a small,
deliberately broken variant of the fast model, applied as a context manager
that swaps one function or method and restores it on exit: nothing is edited
on disk.  Each has a docstring (the bug, the class of real allocator bug it
stands for) and the invariant IDs expected to catch it.

    with apply("refill-loses-block"):
        ...   # FastAllocator now loses a block on every refill

``seed-*`` mutants transcribe the seed design's code samples literally;
``docs/SEED_FINDINGS.md`` gives the harness's verdict on each.
A mutant that is *equivalent* (no observable difference, e.g. a seed sample
that is correct) is marked so and reported separately.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Optional


@dataclass
class Mutant:
    name: str
    doc: str                        # the bug; the real bug class; why it is caught
    expect: tuple                   # invariant IDs expected to fire (any of them)
    make: Callable                  # () -> context manager applying the bug
    equivalent: bool = False        # cannot be killed: behaves like the correct code
    fast: bool = True               # part of the CI subset
    configs: Optional[object] = None  # Config strategy that reaches the bug (default: all)
    draw_config: Optional[Callable] = None  # rng -> Config: the same for the runner's
    #                                         random concurrent machine (races only)

    def apply(self):
        return self.make()


REGISTRY: dict = {}


def mutant(name: str, expect=(), *, equivalent: bool = False, fast: bool = True,
           configs=None):
    """Register the decorated factory (returning a context manager) as a mutant."""
    def deco(factory):
        if name in REGISTRY:
            raise ValueError(f"mutant {name!r} registered twice")
        REGISTRY[name] = Mutant(name, (factory.__doc__ or "").strip(), tuple(expect), factory,
                                equivalent, fast, configs)
        return factory
    return deco


@contextmanager
def patched(*triples):
    """Set ``obj.attr = new`` for each (obj, attr, new); restore on exit (an attribute
    that ``obj`` inherited is removed again, so the inherited one shows through)."""
    missing = object()
    saved = [(obj, attr, obj.__dict__.get(attr, missing)) for obj, attr, _ in triples]
    try:
        for obj, attr, new in triples:
            setattr(obj, attr, new)
        yield
    finally:
        for obj, attr, old in reversed(saved):
            if old is missing:
                delattr(obj, attr)
            else:
                setattr(obj, attr, old)


def get(name: str) -> Mutant:
    _load()
    if name not in REGISTRY:
        raise KeyError(f"no mutant named {name!r}; `hakmem-fuzz mutants --list` lists them")
    return REGISTRY[name]


def apply(name: str):
    """Context manager applying the named mutant."""
    return get(name).apply()


def names(include_equivalent: bool = True) -> list:
    _load()
    return [n for n, m in REGISTRY.items() if include_equivalent or not m.equivalent]


def _load() -> None:
    # imported for their registration in REGISTRY and races.RACES
    from . import (caches, conformance, harness, pool, races, seed, stats,  # noqa: F401
                   structures)
    from . import races_progress, superslab  # noqa: F401
