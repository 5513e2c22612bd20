"""Validation of FastAllocator's arguments: a bad tid, address or access raises a specific
error with the state unchanged, from the debug table of handed-out blocks (``_live``), as a
debug allocator's headers do.  Functions over the allocator's fields: each takes the
``hakmem_verify.models.fast.allocator.FastAllocator`` as its first argument ``fa``.
"""
from __future__ import annotations

from typing import Optional

from hakmem_verify.contract.api import BadArgument, DoubleFree, InvalidFree, OutOfBounds

from .core import remote_blocks
from .structs import NULL, ThreadState, TinySlab, atomic_load_head


def check_tid(fa, tid) -> None:
    if type(tid) is int and tid >= 0:       # the common case, one test
        return
    if not isinstance(tid, int) or isinstance(tid, bool) or tid < 0:
        raise BadArgument(f"tid must be an int >= 0, got {tid!r}")


def thread(fa, tid: int) -> ThreadState:
    t = fa._threads.get(tid)
    if t is None:
        check_tid(fa, tid)
        t = ThreadState(tid, fa.config.num_classes, fa.config.magazine_capacity)
        fa._threads[tid] = t
        fa.probe.thread(tid)
    return t


def slab_of(fa, addr: int) -> Optional[TinySlab]:
    return fa._slabs.get(addr & fa._slab_mask)


def validate_free(fa, addr, tid):
    """(slab, class) of the live block addr that tid may free; raises with the state
    unchanged: BadArgument (tid), InvalidFree (not a block start), DoubleFree."""
    check_tid(fa, tid)
    if not isinstance(addr, int) or isinstance(addr, bool):
        raise InvalidFree(f"free({addr!r}): not an address (expected an int)")
    slab = fa._slabs.get(addr & fa._slab_mask)
    if slab is None:
        raise InvalidFree(f"free({_hex(addr)}): not inside any slab of the tiny pool")
    off = addr - slab.base
    if off % slab.block_size or off // slab.block_size >= slab.nblocks:
        raise InvalidFree(f"free({_hex(addr)}): not the start of a block "
                          f"(slab {_hex(slab.base)}, class {slab.class_idx}, "
                          f"block size {slab.block_size})")
    c = fa._live.get(addr)
    if c is None:
        raise DoubleFree(f"free({_hex(addr)}): block is not live (double free?) "
                         f"(slab {_hex(slab.base)}, class {slab.class_idx})")
    return slab, c


def check_access(fa, addr, n: int, what: str):
    if not isinstance(addr, int) or isinstance(addr, bool):
        raise OutOfBounds(f"{what} at {addr!r}: not an address")
    slab = slab_of(fa, addr)
    if slab is not None:
        start = addr - (addr - slab.base) % slab.block_size
        if start in fa._live and n >= 0 and addr + n <= start + slab.block_size:
            return slab, addr - slab.base
    raise OutOfBounds(f"{what} of {n} bytes at {_hex(addr)}: not inside one live block")


def self_check(fa) -> None:
    """Slow path: the model's own check after a call (``Config.check_level`` > 0,
    debug builds).  Every slab's remote stack is walked, bounded by its blocks, and
    validated (``ops.remote_blocks``): a corrupted one raises ``StructureCorrupted``
    at the call that left it, not at the next drain.  O(remote-freed blocks)."""
    for slab in list(fa._slabs.values()):
        head = atomic_load_head(slab)
        if head != NULL:
            remote_blocks(slab, head)


def _hex(addr) -> str:
    return hex(addr) if isinstance(addr, int) else repr(addr)
