"""The catalogue of planted bugs: one registry of every kind, one lookup.

A harness is only as good as the bugs it catches.  Each mutant is a small,
deliberately broken variant of an implementation, with a docstring (the bug, the class
of real allocator bug it stands for) and the invariant IDs expected to catch it.  Its
``kind`` says what hunts it:

* ``model``: a bug of the fast model, applied as a context manager that swaps one
  function or method and restores it on exit (nothing is edited on disk); the lockstep
  machine hunts it.  ``seed-*`` mutants transcribe the seed design's code samples
  literally (``docs/SEED_FINDINGS.md`` gives the verdict on each);
* ``hang``: an op that never returns, caught by the per-op watchdog (``hangs.py``);
* ``concurrency``: a race of the model, hunted by the concurrent machine (``races*.py``);
* ``native``, ``native-stress``, ``native-tsan``: compiled into the C pool (``native.py``).

    with apply("refill-loses-block"):
        ...   # FastAllocator now loses a block on every refill

A mutant that is *equivalent* (no observable difference, e.g. a seed sample that is
correct) is marked so and reported separately.  ``get``, ``apply`` and ``names`` look in
the whole registry; ``HANGS``, ``RACES`` and ``NATIVE`` are views of one kind.
"""
from __future__ import annotations

from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Optional

#: the kinds, in the order ``names()`` lists them
KINDS = ("model", "hang", "concurrency", "native", "native-stress", "native-tsan")


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
    kind: str = "model"             # one of KINDS: what hunts it
    c_name: Optional[str] = None    # native kinds: its name in csrc/hk_mutants.h
    hunted_by: Optional[str] = None  # native kinds: "diff" (the differential test) or kind

    def apply(self):
        return self.make()


#: name -> Mutant, every kind
REGISTRY: dict = {}


def register(m: Mutant) -> Mutant:
    """Add m to the registry; ValueError for a name taken or an unknown kind."""
    if m.kind not in KINDS:
        raise ValueError(f"mutant {m.name!r}: unknown kind {m.kind!r} (one of {KINDS})")
    if m.name in REGISTRY:
        raise ValueError(f"mutant {m.name!r} registered twice")
    REGISTRY[m.name] = m
    return m


class KindView(Mapping):
    """The registry's mutants of some kinds, by name (read-only, always current)."""

    def __init__(self, *kinds: str):
        self.kinds = kinds

    def __getitem__(self, name: str) -> Mutant:
        m = REGISTRY[name]
        if m.kind not in self.kinds:
            raise KeyError(name)
        return m

    def __iter__(self):
        return (n for n, m in REGISTRY.items() if m.kind in self.kinds)

    def __len__(self) -> int:
        return sum(1 for m in REGISTRY.values() if m.kind in self.kinds)


def mutant(name: str, expect=(), *, equivalent: bool = False, fast: bool = True,
           configs=None, kind: str = "model"):
    """Register the decorated factory (returning a context manager) as a mutant."""
    def deco(factory):
        register(Mutant(name, (factory.__doc__ or "").strip(), tuple(expect), factory,
                        equivalent, fast, configs, kind=kind))
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
    """The mutant of any kind named ``name`` (KeyError saying where the list is)."""
    _load()
    if name not in REGISTRY:
        raise KeyError(f"no mutant named {name!r}; `hakmem-fuzz mutants --list` lists them")
    return REGISTRY[name]


def apply(name: str):
    """Context manager applying the named mutant."""
    return get(name).apply()


def names(kind=None, include_equivalent: bool = True) -> list:
    """The names of the mutants of ``kind`` (a kind or a tuple of kinds; None: every kind),
    kind by kind in the order of KINDS."""
    _load()
    kinds = KINDS if kind is None else (kind,) if isinstance(kind, str) else tuple(kind)
    return [n for k in KINDS if k in kinds for n, m in REGISTRY.items()
            if m.kind == k and (include_equivalent or not m.equivalent)]


def _load() -> None:
    # imported for their registration in REGISTRY
    # (in this order: the order of names() within a kind)
    from . import races  # noqa: F401
    from . import (caches, conformance, harness, pool, seed, stats, structures)  # noqa: F401
    from . import races_progress, superslab  # noqa: F401
    from . import hangs, native  # noqa: F401
    native.load()
