"""Import valgrind ``--trace-malloc=yes`` traces as op sequences (``hakmem_verify.contract.ops``).

valgrind (memcheck) prints one line per heap call on its log (stderr)::

    --5637-- malloc(472) = 0x4B07040
    --5637-- calloc(3,8) = 0x4B07260
    --5637-- realloc(0x0,1600)malloc(1600) = 0x4B08A10     (realloc calling malloc)
    --5637-- realloc(0x4B09090,2048) = 0x4B094D0
    --5637-- memalign(al 64, size 100) = 0x4B0A000
    --5637-- _Znwm(24) = 0x4B0B040                         (C++ new; _ZdlPv(...) is delete)
    --5637-- free(0x4B07260)

Other lines (valgrind's ``==PID==`` banner, the program's own output) are
ignored.  The import:

* maps each pointer to a *handle* (the n-th alloc is handle n, as in the
  oracle) while it is live;
* turns ``realloc(p, n) = q`` into alloc(n), a copy check (read the old
  block's first bytes, write them to the new block, read them back: the
  oracle compares both allocators and the expected bytes), then free(p);
* skips and counts allocs outside the tiny pool's range (size > 1024, or an
  alignment > 1024) and the frees of those blocks, frees of pointers it never
  saw allocated (allocated before tracing or by an untraced call), free(NULL)
  and failed allocs (``= 0x0``);
* serves ``memalign(al, size)`` as an alloc of max(size, al) bytes (tiny
  blocks are aligned to their power-of-two class size);
* reports a malformed or truncated heap line with its line number
  (:class:`TraceError`), or with ``skip_bad`` skips and counts it.

valgrind traces carry no thread id: every op is on tid 0 until
:func:`spread` distributes them over threads.
"""
from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Optional

from hakmem_verify.oracle.blocks import fill_pattern
from hakmem_verify.contract.ops import Alloc, Free, Read, Write
from hakmem_verify.contract.ops import AlignedAlloc, Calloc, FreeNull, Realloc

from .standard import SKIPPED, TINY_MAX

COPY_CHECK = 32           # bytes a realloc copy check reads and writes (the oracle's fill_len)

# call name -> kind; "size" calls take one size, "ptr" calls one pointer
_SIZE = ("malloc", "_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t",
         "__builtin_new", "__builtin_vec_new")
_ALIGNED_NEW = ("_ZnwmSt11align_val_t", "_ZnamSt11align_val_t",
                "_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t")
_FREE = ("free", "cfree", "__builtin_delete", "__builtin_vec_delete") + tuple(
    d + v for d in ("_ZdlPv", "_ZdaPv") for v in ("", "RKSt9nothrow_t", "St11align_val_t",
                                                 "St11align_val_tRKSt9nothrow_t", "m",
                                                 "mSt11align_val_t"))
CALLS = {**{n: "size" for n in _SIZE}, **{n: "aligned_new" for n in _ALIGNED_NEW},
         **{n: "free" for n in _FREE}, "calloc": "calloc", "memalign": "memalign",
         "realloc": "realloc", "malloc_usable_size": "usable"}

_PREFIX = re.compile(r"--(\d+)-- ")
_CALL = re.compile(r"([A-Za-z_]\w*)\(([^()]*)\)")
_RESULT = re.compile(r" = (0x[0-9A-Fa-f]+|0|\d+)$")
_NUM = r"(0x[0-9A-Fa-f]+|\d+)"
_ARGS = {
    "size": re.compile(rf"{_NUM}$"),
    "free": re.compile(rf"{_NUM}$"),
    "usable": re.compile(rf"{_NUM}$"),
    "calloc": re.compile(rf"{_NUM},{_NUM}$"),
    "realloc": re.compile(rf"{_NUM},{_NUM}$"),
    "memalign": re.compile(rf"al {_NUM}, size {_NUM}$"),
    "aligned_new": re.compile(rf"size {_NUM}, al {_NUM}$"),
}


class TraceError(ValueError):
    """A malformed or truncated heap line of a trace."""

    def __init__(self, source: str, lineno: int, line: str, reason: str):
        self.source, self.lineno, self.line, self.reason = source, lineno, line, reason
        super().__init__(f"{source}:{lineno}: {reason}: {line.rstrip()[:200]!r}; fix or delete "
                         f"the line, or pass --skip-bad to skip and count bad lines")


@dataclass
class Trace:
    """An imported trace: its ops and what the import counted and left out."""

    source: str
    ops: list
    calls: Counter = field(default_factory=Counter)     # heap calls seen, by kind
    skipped: Counter = field(default_factory=Counter)   # reason -> count
    bad_lines: list = field(default_factory=list)       # (lineno, reason) skipped

    def summary(self) -> str:
        calls = ", ".join(f"{k} {v}" for k, v in sorted(self.calls.items()))
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(self.skipped.items())) or "nothing"
        return f"{self.source}: {len(self.ops)} ops from {calls}; skipped: {skipped}"


class _Importer:
    """Pointer -> handle map and the ops, one heap call at a time."""

    def __init__(self, max_size: int, malloc: bool = False):
        self.max_size = max_size
        self.malloc = malloc    # the malloc tier's ops: Realloc, Calloc, AlignedAlloc kept
        self.ops = []
        self.next_handle = 0
        self.live = {}          # pointer -> (handle or SKIPPED, size)
        self.content = {}       # handle -> the first COPY_CHECK bytes the oracle expects
        self.skipped = Counter()

    def alloc(self, size: int, ptr: int, why_bad, op=None) -> None:
        if ptr == 0:
            self.skipped["failed_alloc"] += 1
            return
        if ptr in self.live:
            raise why_bad(f"{hex(ptr)} is returned while still live (its free is missing "
                          f"from the trace)")
        if size > self.max_size:
            self.skipped["alloc_out_of_range"] += 1
            self.live[ptr] = (SKIPPED, size)
            return
        h = self.next_handle
        self.next_handle += 1
        self.ops.append(Alloc(size) if op is None or not self.malloc else op)
        self.live[ptr] = (h, size)
        self.content[h] = fill_pattern(h, COPY_CHECK)

    def free(self, ptr: int) -> None:
        if ptr == 0:
            if self.malloc:
                self.ops.append(FreeNull())     # a no-op the malloc tier checks
            else:
                self.skipped["free_null"] += 1
            return
        h, _ = self.live.pop(ptr, (None, 0))
        if h is None:
            self.skipped["free_of_unknown_pointer"] += 1
        elif h == SKIPPED:
            self.skipped["free_of_skipped_block"] += 1
        else:
            self.ops.append(Free(h))
            del self.content[h]

    def realloc(self, old: int, size: int, new: int, why_bad) -> None:
        if old == 0:
            self.alloc(size, new, why_bad)
            return
        if new == 0:
            if size == 0:               # realloc(p, 0) frees p
                self.free(old)
            else:
                self.skipped["failed_alloc"] += 1
            return
        if new != old and new in self.live:
            raise why_bad(f"{hex(new)} is returned while still live (its free is missing "
                          f"from the trace)")
        h_old, old_size = self.live.pop(old, (None, 0))
        if self.malloc and h_old not in (None, SKIPPED):
            self.alloc(size, new, why_bad, Realloc(h_old, size))   # the oracle checks the copy
            del self.content[h_old]
            return
        self.alloc(size, new, why_bad)
        h_new = self.live[new][0]
        if h_old is None:
            self.skipped["realloc_of_unknown_pointer"] += 1
        elif h_old == SKIPPED:
            self.skipped["free_of_skipped_block"] += 1
        else:
            k = min(old_size, size, COPY_CHECK) if h_new != SKIPPED else 0
            if k:
                data = self.content[h_old][:k]
                self.ops += [Read(h_old, 0, k), Write(h_new, 0, data), Read(h_new, 0, k)]
                self.content[h_new] = data + self.content[h_new][k:]
            self.ops.append(Free(h_old))
            del self.content[h_old]


def parse_trace(lines: Iterable[str], *, source: str = "<trace>", skip_bad: bool = False,
                max_size: int = TINY_MAX, malloc: bool = False) -> Trace:
    """Import the heap calls of a valgrind ``--trace-malloc=yes`` log.

    Raises :class:`TraceError` (with the line number) on the first malformed
    or truncated heap line, unless ``skip_bad``: then the line is skipped and
    recorded in ``Trace.bad_lines``.  Cost: O(lines).
    """
    imp = _Importer(max_size, malloc)
    calls, bad = Counter(), []
    for lineno, line in enumerate(lines, 1):
        text = line.rstrip("\n")

        def why_bad(reason, _lineno=lineno, _text=text):
            return TraceError(source, _lineno, _text, reason)
        try:
            kind = _apply_line(imp, text, why_bad)
        except TraceError as e:
            if not skip_bad:
                raise
            bad.append((e.lineno, e.reason))
            imp.skipped["bad_line"] += 1
            continue
        if kind:
            calls[kind] += 1
    return Trace(source, imp.ops, calls, imp.skipped, bad)


def _apply_line(imp: _Importer, text: str, why_bad) -> Optional[str]:
    """Apply one log line; the call kind, or None for a line that is not a heap call."""
    m = _PREFIX.search(text)
    if m is None:
        if re.match(r"--\d*-?$", text.strip()):
            raise why_bad("truncated valgrind line prefix")
        return None
    body = text[m.end():]
    head = re.match(r"[A-Za-z_]\w*", body)
    if head is None:
        return None
    name = head.group(0)
    if name not in CALLS:
        if any(c.startswith(name) for c in CALLS) and len(body) == len(name):
            raise why_bad(f"truncated heap call {name!r}")
        if "(" not in body:
            return None             # a valgrind message, not a heap call
        raise why_bad(f"unknown heap call {name!r}")
    kind = CALLS[name]
    call = _CALL.match(body)
    if call is None:
        raise why_bad(f"truncated or malformed {name}(...) call")
    args = _ARGS[kind].match(call.group(2))
    if args is None:
        raise why_bad(f"malformed arguments of {name}: {call.group(2)!r}")
    nums = [int(a, 0) for a in args.groups()]
    rest = body[call.end():]
    while True:                     # calls made inside this one, e.g. realloc -> malloc
        inner = _CALL.match(rest)
        if inner is None or inner.group(1) not in CALLS:
            break
        rest = rest[inner.end():]
    res = _RESULT.match(rest)
    if kind in ("free",):
        if rest.strip():
            raise why_bad(f"unexpected text after {name}(...): {rest.strip()!r}")
        imp.free(nums[0])
        return "free"
    if res is None:
        raise why_bad(f"{name}(...) without its result ' = 0x...' (truncated?)")
    ptr = int(res.group(1), 0)
    if kind == "size":
        imp.alloc(nums[0], ptr, why_bad)
    elif kind == "calloc":
        imp.alloc(nums[0] * nums[1], ptr, why_bad, Calloc(nums[0], nums[1]))
    elif kind == "memalign":
        imp.alloc(max(nums[1], nums[0]), ptr, why_bad, _aligned(nums[0], nums[1]))
    elif kind == "aligned_new":
        imp.alloc(max(nums[0], nums[1]), ptr, why_bad, _aligned(nums[1], nums[0]))
    elif kind == "realloc":
        imp.realloc(nums[0], nums[1], ptr, why_bad)
    else:
        return "malloc_usable_size"
    return "new" if kind in ("size", "aligned_new") and name[0] == "_" else \
        "malloc" if kind == "size" else kind


def _aligned(alignment: int, size: int):
    """memalign(a, n) as the malloc tier's AlignedAlloc: a power of two >= 8, n rounded up
    to a multiple of it (valid in every C standard)."""
    a = max(8, 1 << max(0, (alignment - 1).bit_length()))
    return AlignedAlloc(a, max(a, -(-size // a) * a))


def load_trace(path: str, *, skip_bad: bool = False, max_size: int = TINY_MAX,
               malloc: bool = False) -> Trace:
    """Import the trace file at ``path`` (see :func:`parse_trace`); ``malloc``: for the
    malloc tier (every size; realloc, calloc and memalign as themselves)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        return parse_trace(f, source=path, skip_bad=skip_bad, max_size=max_size,
                           malloc=malloc)


class NoAllocationError(ValueError):
    """A trace with no heap call in it (an empty file, a binary file, a wrong log)."""


def require_allocs(trace: Trace) -> Trace:
    """``trace`` if it has an op, else NoAllocationError naming the file."""
    if trace.ops:
        return trace
    raise NoAllocationError(
        f"no allocation found in {trace.source} (no line like '--PID-- malloc(8) = 0x...'); "
        f"give the log valgrind --trace-malloc=yes wrote (hakmem_verify/workloads/traces/ has examples)")


def spread(ops: list, threads: Optional[int] = None, remote: float = 0.0,
           seed: int = 0) -> list:
    """Distribute ops over threads and make a share of frees cross-thread, by seed.

    With ``threads``, allocs are reassigned in runs of 1-64 consecutive allocs
    to a randomly drawn tid in 0..threads-1 (a thread does a burst of work);
    without it, they keep their tids.  Each free is done by the allocating
    thread, except that with probability ``remote`` it is done by another one
    (of ``threads``, or of the tids the ops use).  Handles are unchanged.
    Cost: O(ops).

    >>> from hakmem_verify.contract.ops import Alloc, Free
    >>> ops = [Alloc(8), Alloc(8), Free(0), Free(1)]
    >>> [op.tid for op in spread(ops, threads=2, remote=1.0, seed=1)][2:] != [0, 0]
    True
    """
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if not 0.0 <= remote <= 1.0:
        raise ValueError(f"remote is a probability in [0, 1], got {remote}")
    n = threads or 1 + max((getattr(op, "tid", 0) for op in ops), default=0)
    rng = random.Random(seed)
    owner, out, handle, tid, run = {}, [], 0, 0, 0
    for op in ops:
        kind = type(op)
        if kind is Alloc:
            if threads:
                if run == 0:
                    tid, run = rng.randrange(threads), rng.randint(1, 64)
                run -= 1
                op = Alloc(op.size, tid)
            owner[handle] = op.tid
            handle += 1
        elif kind is Free:
            t = owner.get(op.handle, op.tid) if threads else op.tid
            if remote and n > 1 and rng.random() < remote:
                t = (t + rng.randrange(1, n)) % n
            op = Free(op.handle, t)
        out.append(op)
    return out


__all__ = ["CALLS", "NoAllocationError", "Trace", "TraceError", "load_trace", "parse_trace",
           "require_allocs", "spread"]
