"""The op language: plain frozen values the oracle applies to both allocators.

Ops name blocks by *handle* (the n-th successful allocation is handle n),
never by address: the two allocators place blocks differently.  A reproducer
is a Config plus a list of these values.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

# ============================================================================
# Ops
# ============================================================================


@dataclass(frozen=True)
class Alloc:
    size: int
    tid: int = 0


@dataclass(frozen=True)
class AllocMany:
    size: int
    n: int
    tid: int = 0


@dataclass(frozen=True)
class Free:
    handle: int
    tid: int = 0           # a tid other than the allocating one makes a remote free


@dataclass(frozen=True)
class RaceFree:
    handle: int
    tid: int = 0           # a non-owner: its remote push races the owner's drain
    schedule: str = field(default="", compare=False)   # the Schedule that ran (kept by the
    #   oracle; ``hakmem_verify.schedule.race_free_with_drain`` derives it from the state)


@dataclass(frozen=True)
class FreeMany:
    n: int                 # free the n oldest live handles
    tid: int = 0
    newest: bool = False   # ... or the n newest


@dataclass(frozen=True)
class Write:
    handle: int
    offset: int
    data: bytes


@dataclass(frozen=True)
class Read:
    handle: int
    offset: int
    n: int


@dataclass(frozen=True)
class ThreadExit:
    tid: int


@dataclass(frozen=True)
class FlushStats:
    tid: Optional[int] = None   # None: every thread's batches (``Allocator.flush_stats``);
    #   a tid: that thread's own batches (``Hooks.flush_steps``, the concurrent machine)


@dataclass(frozen=True)
class _OnActiveSlabs:
    """A maintenance op of thread ``tid`` on its active slabs of class ``class_idx``."""
    tid: int
    class_idx: int


class Evict(_OnActiveSlabs):
    """``evict_active``: spill A's mini-magazine, drain, unown; B moves to A."""


class Drain(_OnActiveSlabs):
    """``drain_remote``: the owner drains the remote stacks of its active slabs."""


class Refill(_OnActiveSlabs):
    """``refill_active``: batch-refill A's mini-magazine from its bitmap."""


@dataclass(frozen=True)
class Quiesce:
    pass


@dataclass(frozen=True)
class BadAlloc:
    size: object           # not an int in 0..max: SizeError on both sides
    tid: int = 0


@dataclass(frozen=True)
class BadFree:
    kind: str              # "unaligned" | "interior" | "foreign" | "none" | "double"
    handle: int = -1
    tid: int = 0


@dataclass(frozen=True)
class BadTid:
    call: str              # "alloc" | "free" | "thread_exit" (and, white-box, its *_steps)
    tid: object            # not a thread id (-1, True, None, "0", 1.0): BadArgument on
    handle: int = -1       # both sides, state unchanged; "free" frees this live handle


@dataclass(frozen=True)
class BadAccess:
    handle: int            # live: the access crosses its end; freed: use after free
    write: bool = False
    kind: str = "edge"     # "edge" (as above) | "none": the address is None, not an int


@dataclass(frozen=True)
class Check:
    level: int = 3


# ---- the malloc tier (``hakmem_verify.oracle.malloc``): a C library's calls ------------------------


@dataclass(frozen=True)
class Realloc:
    handle: int            # the live block (consumed: the result is a new handle)
    size: int              # > 0 (realloc(p, 0) is implementation-defined: not issued)
    tid: int = 0


@dataclass(frozen=True)
class Calloc:
    n: int                 # calloc(n, size): n * size zero bytes
    size: int
    tid: int = 0


@dataclass(frozen=True)
class AlignedAlloc:
    alignment: int         # a power of two; size is a multiple of it (valid in every C)
    size: int
    tid: int = 0
    posix: bool = False    # through posix_memalign instead of aligned_alloc


@dataclass(frozen=True)
class FreeNull:
    tid: int = 0           # free(NULL): a no-op


OPS = (Alloc, AllocMany, Free, RaceFree, FreeMany, Write, Read, ThreadExit, FlushStats, Evict, Drain,
       Refill, Quiesce, BadAlloc, BadFree, BadTid, BadAccess, Check)
#: the ops of a concurrent round's thread programs (``hakmem_verify.oracle.concurrent``): each
#: names the thread that runs it, a Free a handle live at the round's start, a FlushStats its tid
CONCURRENT_OPS = (Alloc, Free, Drain, Evict, ThreadExit, FlushStats)
#: the ops of the malloc tier (hakmem_verify.oracle.malloc); the lockstep tier has no realloc
MALLOC_OPS = (Alloc, AllocMany, Calloc, AlignedAlloc, Realloc, Free, FreeMany, FreeNull, Write,
              Read, ThreadExit, Quiesce, Check, BadFree)


def op_repr(op) -> str:
    """Python source that builds op (for reproducers)."""
    return repr(op).replace("hakmem_verify.oracle.lockstep.", "").replace("hakmem_verify.contract.ops.", "")
