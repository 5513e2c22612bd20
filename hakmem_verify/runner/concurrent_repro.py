"""Reproducers of concurrent-machine findings: runnable pytest files, like the lockstep ones
(``hakmem_verify.runner.replay``).

A reproducer holds the Config and the rounds (each thread's program and the schedule
string that ran); :func:`replay_rounds` re-runs them exactly with
``hakmem_verify.oracle.concurrent.replay``, under the planted bug it was found with, if any.  Its test
fails while the bug is there and passes once it is fixed: promote it to
``tests/regressions/`` to keep it.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Optional

from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.contract.api import Config
from hakmem_verify.oracle.concurrent import ops_import, programs_repr, replay, thread_op

from .replay import _ident, reproducer_doc, reproducer_file, save_reproducer


def replay_rounds(config: Config, rounds, mutant: Optional[str] = None,
                  impl: Optional[str] = None):
    """Replay recorded rounds (under planted bug ``mutant``, on ``impl``, a
    ``module:factory``, default the fast model); raises the finding."""
    ctx = nullcontext()
    if mutant:
        from hakmem_verify.planted import get        # every kind of planted bug
        ctx = get(mutant).apply()
    factory = FastAllocator
    if impl:
        from hakmem_verify.explore.impl import load_impl
        factory = load_impl(impl)
    with ctx:
        return replay(RefAllocator, factory, config, rounds)


def reproducer_source(config: Config, rounds, *, name: str, inv_id: str = "",
                      message: str = "", mutant: Optional[str] = None,
                      shrink_cut: bool = False, impl: Optional[str] = None) -> str:
    """Source of a pytest file that replays the rounds (``shrink_cut`` as in
    ``hakmem_verify.runner.replay.reproducer_source``)."""
    n_ops = sum(len(p) for progs, _ in rounds for p in progs.values())
    doc = reproducer_doc(f"Reproducer {name}: {len(rounds)} concurrent round(s), {n_ops} ops.",
                         inv_id=inv_id, mutant=mutant, impl=impl, shrink_cut=shrink_cut,
                         message=message)
    rounds = [({tid: [thread_op(op, tid, config) for op in prog]
                for tid, prog in progs.items()}, sched) for progs, sched in rounds]
    rounds_src = "\n".join(f"    ({programs_repr(p)}, {s!r})," for p, s in rounds)
    return reproducer_file(
        doc, "\n".join(["from hakmem_verify.contract.api import Config"] + ops_import(rounds)) + "\n" +
        "\nfrom hakmem_verify.runner.concurrent_repro import replay_rounds",
        config, mutant, impl, "ROUNDS", rounds_src, _ident(name, "rounds"),
        "replay_rounds(CONFIG, ROUNDS, mutant=MUTANT, impl=IMPL)")


def write_reproducer(directory: str, config: Config, rounds, *, name: str, **kw) -> str:
    """Write ``test_repro_<name>.py`` in directory; returns its path."""
    return save_reproducer(directory, _ident(name, ""),
                           reproducer_source(config, rounds, name=name, **kw))


__all__ = ["replay_rounds", "reproducer_source", "write_reproducer"]
