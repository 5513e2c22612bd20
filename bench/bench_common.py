"""Pieces the bench scripts share: timing a run after a garbage collection, and adding an
Alloc to an op list generated before timing.

The scripts put the repository root on ``sys.path`` before they import this module.
"""
from __future__ import annotations

import gc
import time

from hakmem_verify.contract.api import Config
from hakmem_verify.contract.ops import Alloc


def ops_per_second(n: int, run) -> float:
    """``n`` divided by the seconds ``run()`` takes, timed after a ``gc.collect()``."""
    gc.collect()
    t0 = time.perf_counter()
    run()
    return n / (time.perf_counter() - t0)


def fresh_rate(cls, ops, replay) -> float:
    """Ops/s of ``replay(allocator, ops)`` on a fresh ``cls(Config())``."""
    allocator = cls(Config())
    return ops_per_second(len(ops), lambda: replay(allocator, ops))


def add_alloc(ops: list, live: list, tid_of: dict, handle: int, size: int, tid: int) -> int:
    """Append ``Alloc(size, tid)`` to ops, and the handle it will get (``handle``: handles
    are issued in order) to ``live`` and ``tid_of``; the next handle."""
    ops.append(Alloc(size, tid))
    live.append(handle)
    tid_of[handle] = tid
    return handle + 1


__all__ = ["add_alloc", "fresh_rate", "ops_per_second"]
