"""Replay op traces through the lockstep oracle, and write runnable reproducers.

A trace is a Config plus a list of ``hakmem_verify.oracle.lockstep`` ops.  ``replay`` runs it
on fresh allocators and tears down (free everything, quiesce, check), so a
trace that once failed fails again, and passes once the bug is fixed.
"""
from __future__ import annotations

import os
import textwrap
from typing import Optional

from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.contract.api import Config
from hakmem_verify.oracle.lockstep import L3_EVERY, Oracle
from hakmem_verify.contract.ops import op_repr

from hakmem_verify.explore.watchdog import OP_TIMEOUT, Watchdog


def replay(config: Config, ops, mutant: Optional[str] = None,
           l3_every: int = L3_EVERY, op_timeout: float = OP_TIMEOUT,
           impl: Optional[str] = None, oracle_cls=None) -> Oracle:
    """Run ops in lockstep (under a planted bug if ``mutant`` names one), then tear down.

    ``impl`` names the implementation under test (``module:factory``, see ``hakmem_verify.explore.impl``;
    default the fast model): a reproducer found on an implementation replays on it.

    Each op, and the teardown, runs under the per-op watchdog: an op still running
    after ``op_timeout`` seconds raises ``hakmem_verify.explore.watchdog.Hang`` (0: no watchdog).
    """
    if mutant:
        from hakmem_verify.planted import get    # every kind of planted bug
        with get(mutant).apply():
            return replay(config, ops, None, l3_every, op_timeout, impl, oracle_cls)
    if impl is None:
        factory = FastAllocator
    else:
        from hakmem_verify.explore.impl import load_impl
        factory = load_impl(impl)
    if getattr(factory, "tier", None) == "malloc":
        from hakmem_verify.oracle.malloc import MallocOracle
        oracle = MallocOracle(factory(config), l3_every=l3_every)
    else:
        oracle = (oracle_cls or Oracle)(RefAllocator(config), factory(config),
                                        l3_every=l3_every)
    with Watchdog(op_timeout) as wd:
        for i, op in enumerate(ops):
            with wd.guard(lambda: f"op {i + 1} {op!r}"):
                oracle.apply(op)
        with wd.guard("teardown (free everything, quiesce, check)"):
            oracle.teardown()
    return oracle


#: the docstring line of a reproducer whose shrinking ended at its budget
SHRINK_CUT_NOTE = ("Shrinking cut: the shrink budget ended first, so this is the smallest "
                   "failing example found in time, not a minimal one (a larger "
                   "--shrink-seconds shrinks further).")


def reproducer_doc(first_line: str, *, inv_id: str = "", seed: Optional[int] = None,
                   mutant: Optional[str] = None, impl: Optional[str] = None,
                   shrink_cut: bool = False, message: str = "") -> str:
    """The docstring of a reproducer file: ``first_line``, then one line for each of the
    invariant, seed, planted bug, implementation and shrink cut that is set, then the
    failure message (indented, at most 2000 characters); triple double quotes become
    triple single quotes so the text fits in a docstring."""
    header = [first_line]
    if inv_id:
        header.append(f"Invariant: {inv_id}")
    if seed is not None:
        header.append(f"Seed: {seed}")
    if mutant:
        header.append(f"Planted bug: {mutant} (fails while the bug is applied)")
    if impl:
        header.append(f"Implementation: {impl}")
    if shrink_cut:
        header.append(SHRINK_CUT_NOTE)
    if message:
        header.append("Failure:\n" + textwrap.indent(message.strip()[:2000], "    "))
    return "\n".join(header).replace('"""', "'''")


def reproducer_source(config: Config, ops, *, name: str, inv_id: str = "",
                      message: str = "", mutant: Optional[str] = None,
                      seed: Optional[int] = None, op_timeout: Optional[float] = None,
                      impl: Optional[str] = None, shrink_cut: bool = False) -> str:
    """Source of a pytest file that replays the trace (``shrink_cut``: the shrink budget
    ended first, said in the docstring: the trace is short, not minimal)."""
    ops_src = ",\n".join("    " + op_repr(op) for op in ops)
    doc = reproducer_doc(f"Reproducer {name}: lockstep trace of {len(ops)} ops.",
                         inv_id=inv_id, seed=seed, mutant=mutant, impl=impl,
                         shrink_cut=shrink_cut, message=message)
    timeout_arg = f", op_timeout={op_timeout!r}" if op_timeout is not None else ""
    return reproducer_file(
        doc, "from hakmem_verify.contract.api import Config\nfrom hakmem_verify.contract.ops import *\n\n"
        "from hakmem_verify.runner.replay import replay", config, mutant, impl, "OPS", ops_src, _ident(name),
        f"replay(CONFIG, OPS, mutant=MUTANT, impl=IMPL{timeout_arg})")


def reproducer_file(doc: str, imports: str, config: Config, mutant: Optional[str],
                    impl: Optional[str], list_name: str, items: str, ident: str,
                    call: str) -> str:
    """The text of a reproducer: the docstring ``doc``, the lines ``imports``, the constants
    CONFIG, MUTANT, IMPL and ``list_name`` (a list of ``items``, its source lines), then a
    test ``test_<ident>_replays_clean`` whose body is ``call``."""
    return f'''"""{doc}
"""
{imports}

CONFIG = {config!r}
MUTANT = {mutant!r}
IMPL = {impl!r}
{list_name} = [
{items}
]


def test_{ident}_replays_clean():
    {call}
'''


def write_reproducer(directory: str, config: Config, ops, *, name: str, **kw) -> str:
    """Write ``test_repro_<name>.py`` in directory; returns its path."""
    return save_reproducer(directory, _ident(name), reproducer_source(config, ops, name=name,
                                                                       **kw))


def save_reproducer(directory: str, ident: str, source: str) -> str:
    """Write ``source`` to ``test_repro_<ident>.py`` in directory (created if missing);
    returns its path."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"test_repro_{ident}.py")
    with open(path, "w") as f:
        f.write(source)
    return path


def _ident(name: str, default: str = "trace") -> str:
    """``name`` as a lower-case Python identifier (each character that is not a letter or
    digit becomes ``_``, outer ``_`` dropped); ``default`` where nothing is left."""
    return "".join(ch if ch.isalnum() else "_" for ch in name).strip("_").lower() or default
