"""What the standard workloads are built with: ``OpBuilder`` numbers handles as the oracle
does, ``interleave`` steps virtual threads in a seeded order, ``Workload`` is the result."""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

from hakmem_verify.contract.ops import Alloc, Free, ThreadExit, Write

TINY_MAX = 1024         # largest size the tiny pool serves (Config().max_size)
SKIPPED = -1            # "handle" of an alloc that was not emitted (size out of range)


@dataclass
class Workload:
    """One generated workload: its ops, the parameters, what was left out."""

    name: str
    ops: list
    params: dict
    skipped: Counter = field(default_factory=Counter)   # reason -> count

    @property
    def allocs(self) -> int:
        return sum(1 for op in self.ops if type(op) is Alloc)


class OpBuilder:
    """Appends ops and numbers handles as the oracle does (memory unlimited)."""

    def __init__(self, max_size: int = TINY_MAX):
        self.ops = []
        self.max_size = max_size
        self.next_handle = 0
        self.skipped = Counter()

    def alloc(self, size: int, tid: int) -> int:
        """Emit Alloc(size, tid); its handle, or SKIPPED for a size out of range."""
        if not 0 <= size <= self.max_size:
            self.skipped["alloc_out_of_range"] += 1
            return SKIPPED
        self.ops.append(Alloc(size, tid))
        self.next_handle += 1
        return self.next_handle - 1

    def free(self, handle: Optional[int], tid: int) -> None:
        """Emit Free(handle, tid); free(NULL) is a no-op, a skipped block is counted."""
        if handle is None:
            return
        if handle == SKIPPED:
            self.skipped["free_of_skipped_block"] += 1
            return
        self.ops.append(Free(handle, tid))

    def write(self, handle: int, data: bytes) -> None:
        if handle not in (None, SKIPPED):
            self.ops.append(Write(handle, 0, data))

    def thread_exit(self, tid: int) -> None:
        self.ops.append(ThreadExit(tid))


def interleave(rng: random.Random, threads: list) -> None:
    """Run generator 'threads' to completion, stepping a randomly chosen one each time."""
    threads = list(threads)
    while threads:
        i = rng.randrange(len(threads))
        try:
            next(threads[i])
        except StopIteration:
            threads[i] = threads[-1]
            threads.pop()


__all__ = ["SKIPPED", "TINY_MAX", "OpBuilder", "Workload", "interleave"]
