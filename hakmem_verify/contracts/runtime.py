"""The ``inv:`` lines of the contract classes evaluated at run time, at any geometry (each
line in the globals of its class's module, as CrossHair evaluates it)."""
from __future__ import annotations

import sys

#: class -> [(source, compiled predicate)] of its inv: lines; filled at first use (the
#: classes import this module for ``invariants_hold``)
_INVARIANTS: dict = {}


def _compiled_invariants(cls) -> list:
    out = []
    env = vars(sys.modules[cls.__module__])
    for line in (cls.__doc__ or "").splitlines():
        line = line.strip()
        if line.startswith("inv:"):
            src = line[len("inv:"):].strip()
            code = compile(f"lambda self: ({src}\n)", f"<inv of {cls.__name__}>", "eval")
            out.append((src, eval(code, env)))
    return out


def _contract_classes() -> tuple:
    from .bitmap import TwoTierBitmap
    from .counters import StatCounters
    from .minimag import MiniMag, Slab
    return TwoTierBitmap, MiniMag, Slab, StatCounters


def _compiled() -> dict:
    if not _INVARIANTS:
        _INVARIANTS.update({cls: _compiled_invariants(cls) for cls in _contract_classes()})
    return _INVARIANTS


def _invariants_of(cls) -> list:
    """The inv: lines of ``cls`` and of its bases (as CrossHair applies them)."""
    compiled = _compiled()
    return [inv for c in cls.__mro__ for inv in compiled.get(c, ())]


def invariants_hold(obj) -> bool:
    """Whether every ``inv:`` line of ``obj``'s class holds."""
    return all(holds(obj) for _, holds in _invariants_of(type(obj)))


def _dump(obj) -> str:
    """The structure's fields, bitmap words in hex, for a failure message."""
    from .bitmap import TwoTierBitmap
    from .minimag import MiniMag, mini_mag_blocks
    rows = []
    for k, v in vars(obj).items():
        if k in ("words", "summary"):
            v = "[" + ", ".join(hex(x) for x in v) + "]"
        elif isinstance(v, MiniMag):
            v = f"{mini_mag_blocks(v)!r} (count {v.count}, capacity {v.capacity})"
        elif isinstance(v, TwoTierBitmap):
            v = "\n    " + _dump(v).replace("\n", "\n    ")
        rows.append(f"  {k} = {v}")
    return "\n".join(rows)


def check(obj) -> None:
    """Raise AssertionError naming the first ``inv:`` line of ``obj``'s class
    that does not hold, with the structure dumped."""
    for src, holds in _invariants_of(type(obj)):
        if not holds(obj):
            raise AssertionError(f"{type(obj).__name__}: invariant does not hold: {src}\n"
                                 f"{_dump(obj)}")
