"""The contracts of ``hakmem_verify.contracts`` evaluated at run time, at any geometry.

CrossHair checks the ``pre:`` / ``post:`` / ``inv:`` lines within small
bounds (2-bit words, a few threads); the tests run the very same lines on
concrete calls at the model's own sizes (64-bit words, the seed's flush
interval of 256).  ``call(fn, *args)`` evaluates the preconditions (a false
one is a bug of the test: it broke the caller's side of the contract), runs
``fn``, then evaluates every postcondition, with ``__old__`` a deep copy of
the arguments and ``__return__`` the result, and the class invariants of a
method's object.  A false condition raises :class:`ContractViolated`
naming the line and the values.

A ``pre:`` line that names a ``CHECK_*`` bound of ``hakmem_verify.contracts`` only
bounds what CrossHair explores, so it is not evaluated here.

``ENFORCED`` switches the evaluation off (``call`` only runs ``fn``): the
quality tests turn it off to show that the comparison with the model, on its
own, catches a drift.
"""
from __future__ import annotations

import copy
import inspect
from types import SimpleNamespace

from hakmem_verify import contracts

ENFORCED = True


class ContractViolated(AssertionError):
    """A postcondition or invariant of ``hakmem_verify.contracts`` is false on a concrete call."""


class PreconditionNotMet(AssertionError):
    """A test called a contracted function outside its precondition (a test bug)."""


def condition_lines(doc: str, kind: str) -> list:
    """The ``kind:`` lines (``pre``, ``post``, ``inv``) of a docstring, as source text."""
    tag = kind + ":"
    return [line.strip()[len(tag):].strip() for line in (doc or "").splitlines()
            if line.strip().startswith(tag)]


def _eval(src: str, env: dict):
    code = compile(f"({src}\n)", "<contract condition>", "eval")   # a line may end in a comment
    return eval(code, {**vars(contracts), **env})   # globals: comprehensions see the arguments


def call(fn, *args, doc: str = None):
    """``fn(*args)`` with its contract evaluated; ``doc`` replaces the docstring
    the conditions are read from (to plant a drifted contract text)."""
    if not ENFORCED:
        return fn(*args)
    doc = inspect.getdoc(fn) if doc is None else doc
    env = dict(inspect.signature(fn).bind(*args).arguments)
    name = fn.__qualname__
    for src in condition_lines(doc, "pre"):
        if "CHECK_" not in src and not _eval(src, env):
            raise PreconditionNotMet(f"{name}{args[1:] if 'self' in env else args}: the test "
                                     f"broke the precondition {src}; fix the test's draw")
    old = SimpleNamespace(**copy.deepcopy(env))
    before = {k: repr(v) for k, v in env.items()}
    result = fn(*args)
    env.update(__old__=old, __return__=result)
    for src in condition_lines(doc, "post"):
        if not _eval(src, env):
            raise ContractViolated(
                f"{name}: postcondition does not hold: {src}\n  before: {before}\n"
                f"  after: { {k: repr(v) for k, v in env.items() if k != '__old__'} }")
    if "self" in env:
        check(env["self"])
    return result


def check(obj) -> None:
    """The ``inv:`` lines of ``obj``'s class (``hakmem_verify.contracts.check``), unless switched off."""
    if ENFORCED:
        try:
            contracts.check(obj)
        except AssertionError as exc:
            raise ContractViolated(str(exc)) from None


def contracted() -> dict:
    """Every contract of ``hakmem_verify.contracts``: ``name -> (kind, object)`` for each
    module function and method with a ``pre:`` or ``post:`` line and each class
    with an ``inv:`` line.  Constructors are left out: their ``pre:`` only bounds
    the states CrossHair builds (they are the checker's state generators, and
    claim nothing about the model)."""
    out = {}
    for name, obj in vars(contracts).items():
        module = getattr(obj, "__module__", None) or ""
        if module != contracts.__name__ and not module.startswith(contracts.__name__ + "."):
            continue
        if inspect.isfunction(obj) and _has(obj, "pre", "post"):
            out[name] = ("function", obj)
        elif inspect.isclass(obj):
            if _has(obj, "inv"):
                out[name] = ("invariants", obj)
            for attr, fn in vars(obj).items():
                if inspect.isfunction(fn) and attr != "__init__" and _has(fn, "pre", "post"):
                    out[f"{name}.{attr}"] = ("method", fn)
    return out


def _has(obj, *kinds) -> bool:
    return any(condition_lines(inspect.getdoc(obj), k) for k in kinds)
