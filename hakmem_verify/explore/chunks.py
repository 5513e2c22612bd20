"""The one hunt loop: a Hypothesis state machine run in chunks of examples, one seed per
chunk from ``seed`` upwards, until an example fails, the budget ends or the caller stops
it.  The lockstep hunt (``hunt.py``), the concurrent one (``concurrent_hunt.py``) and the
foreign allocators' quality tests all run it; what they make of a failure is theirs."""
from __future__ import annotations

import time
from contextlib import contextmanager

from hypothesis import HealthCheck, Phase, seed as hyp_seed, settings
from hypothesis.stateful import run_state_machine_as_test


def run_chunks(machine, budget: float, seed: int = 0, chunk: int = 50, steps: int = 50, *,
               database=None, shrink: bool = True, cuts: tuple = (), stop=None,
               before_chunk=None, after_chunk=None, start: float = None) -> tuple:
    """(the exception a failing example raised, the seed of its chunk), or (None, the next
    seed) when the budget (seconds since ``start``, default now) ended or ``stop()``.

    A chunk is ``chunk`` examples of up to ``steps`` steps; with a ``database`` its saved
    examples are replayed first.  ``before_chunk(seed)`` and ``after_chunk()`` run around
    each chunk.  A KeyboardInterrupt is raised again unless it is one of ``cuts`` (a
    shrink the caller cut short, which is still a finding)."""
    start = time.monotonic() if start is None else start
    s = seed
    while time.monotonic() - start < budget and not (stop is not None and stop()):
        if before_chunk is not None:
            before_chunk(s)
        phases = [Phase.reuse] if database else []
        phases += [Phase.generate, Phase.shrink] if shrink else [Phase.generate]
        st = settings(max_examples=chunk, stateful_step_count=steps, deadline=None,
                      database=database, derandomize=False, print_blob=False,
                      suppress_health_check=list(HealthCheck), phases=phases)
        try:
            run_state_machine_as_test(hyp_seed(s)(machine), settings=st)
        except BaseException as exc:  # every failure is a finding
            if isinstance(exc, KeyboardInterrupt) and not isinstance(exc, cuts):
                raise
            return exc, s
        s += 1
        if after_chunk is not None:
            after_chunk()
    return None, s


__all__ = ["run_chunks"]


@contextmanager
def shrink_limits(shrinks: int = None, seconds: float = None):
    """Hypothesis's shrinking inside the block stops after ``shrinks`` successful shrinks or
    ``seconds`` of wall-clock time (None: its own limits, 500 and 300 s).

    Hypothesis has no setting for either, so this is the one place that sets its engine's
    ``MAX_SHRINKS`` and ``MAX_SHRINKING_SECONDS``, restored on exit: the quality tests (a
    count, so a loaded machine stops at the same example), the C library hunts of
    ``hakmem-fuzz mutate --c-file`` and the shrink budgets of the runner and the
    concurrent hunt (``concurrent_shrink.hypothesis_shrink_budget``)."""
    from hypothesis.internal.conjecture import engine
    saved = engine.MAX_SHRINKS, engine.MAX_SHRINKING_SECONDS
    if shrinks is not None:
        engine.MAX_SHRINKS = shrinks
    if seconds is not None:
        engine.MAX_SHRINKING_SECONDS = max(0.0, seconds)
    try:
        yield
    finally:
        engine.MAX_SHRINKS, engine.MAX_SHRINKING_SECONDS = saved
