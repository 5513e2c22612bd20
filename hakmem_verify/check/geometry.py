"""Helpers the checks share: where they run, bitmap geometry over a SlabSnap, the faults
of a slab's intrusive lists, and the slab dump.

Bit = 1 means used; bits at index >= nblocks are padding and must be 1.
"""
from __future__ import annotations

from hakmem_verify.contract.api import SlabSnap

#: where the slab and thread checks run
TOUCHED = "every op, the slabs it touched; every slab at L3"
THREADS = "every op, the threads it touched; every thread at L3"
#: what the walk error of a list cut at its bound says (MM-01's, not MM-02's)
LONGER = "longer than its bound"


def h(x) -> str:
    return hex(x) if isinstance(x, int) else repr(x)


def dump_slab(s: SlabSnap) -> str:
    """The slab's structures in hex, for a failure message."""
    wb = max(1, (s.nblocks + len(s.words) - 1) // max(1, len(s.words)))
    return (f"  slab {h(s.base)} class {s.class_idx} ({s.block_size} B x {s.nblocks}) "
            f"owner {s.owner}\n"
            f"  words   {[hex(w) for w in s.words][:16]}{' ...' if len(s.words) > 16 else ''}\n"
            f"  summary {[hex(w) for w in s.summary]} hint_word {s.hint_word} "
            f"free_count {s.free_count} (word bits ~{wb})\n"
            f"  mini_mag count {s.mini_mag_count}/{s.mini_mag_capacity}: "
            f"{[hex(a) for a in s.mini_mag]}\n"
            f"  remote count {s.remote_count}: {[hex(a) for a in s.remote][:32]}")


def valid_mask(s: SlabSnap, wb: int, w: int) -> int:
    """Mask of the bits of word w that are real blocks (not padding)."""
    n = min(wb, s.nblocks - w * wb)
    return (1 << n) - 1 if n > 0 else 0


def free_popcount(s: SlabSnap, wb: int) -> int:
    """Number of free (0) bits below nblocks. O(words)."""
    full = (1 << wb) - 1
    n = 0
    last = len(s.words) - 1
    for w, word in enumerate(s.words):
        mask = full if w < last else valid_mask(s, wb, w)
        n += (~word & mask).bit_count()
    return n


def _append_set_bits(out: list, bits: int, first: int, limit: int) -> None:
    """Append ``first + i`` for each set bit i of ``bits``, those below ``limit``."""
    while bits:
        low = bits & -bits
        idx = first + low.bit_length() - 1
        if idx < limit:
            out.append(idx)
        bits ^= low


def free_indices(s: SlabSnap, wb: int):
    """Indices of free (0) bits below nblocks. O(free blocks)."""
    out = []
    full = (1 << wb) - 1
    for w, word in enumerate(s.words):
        free = ~word & full
        if free:
            _append_set_bits(out, free, w * wb, s.nblocks)
    return out


def newly_free(before: SlabSnap, after: SlabSnap, wb: int, words=None):
    """Indices whose bit is free in ``after`` and used in ``before``: O(words), or
    O(len(words)) given the indices of the words that changed."""
    out = []
    full = (1 << wb) - 1
    if words is None:
        words = range(len(after.words))
    for w in words:
        freed = before.words[w] & ~after.words[w] & full
        if freed:
            _append_set_bits(out, freed, w * wb, after.nblocks)
    return out


def first_free_bit(s: SlabSnap, wb: int, w: int, mask: int) -> int:
    """Index of the lowest free (0) bit of word w among the bits of ``mask`` (one is free)."""
    free = ~s.words[w] & mask
    return w * wb + (free & -free).bit_length() - 1


def is_free_bit(s: SlabSnap, wb: int, idx: int) -> bool:
    return not (s.words[idx // wb] >> (idx % wb)) & 1


def block_idx(s: SlabSnap, addr: int):
    """Index of the block starting at addr in slab s, or None."""
    off = addr - s.base
    if off < 0 or off % s.block_size or off // s.block_size >= s.nblocks:
        return None
    return off // s.block_size


def of_slab(s: SlabSnap) -> str:
    """``(slab BASE, class C)``: where a failure message says it happened."""
    return f"(slab {h(s.base)}, class {s.class_idx})"


def list_fault(s: SlabSnap, wb: int, name: str, items, skip: str = ""):
    """The first fault of the slab's intrusive list ``name`` ("mini_mag", "remote") whose
    entries are ``items``, or None: ``("walk", error)`` for an error of its walk (not one
    that contains ``skip``), ``("foreign", addr)`` for an entry that is not a block start
    of the slab, ``("free", addr)`` for an entry that is bitmap-free.  O(len(items))."""
    for e in s.walk_errors:
        if e.startswith(name) and not (skip and skip in e):
            return "walk", e
    for a in items:
        idx = block_idx(s, a)
        if idx is None:
            return "foreign", a
        if is_free_bit(s, wb, idx):
            return "free", a
    return None
