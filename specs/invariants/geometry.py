"""Helpers the checks share: bitmap geometry over a SlabSnap, and the slab dump.

Bit = 1 means used; bits at index >= nblocks are padding and must be 1.
"""
from __future__ import annotations

from ..api import SlabSnap


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


def free_indices(s: SlabSnap, wb: int):
    """Indices of free (0) bits below nblocks. O(free blocks)."""
    out = []
    for w, word in enumerate(s.words):
        free = ~word & ((1 << wb) - 1)
        while free:
            low = free & -free
            idx = w * wb + low.bit_length() - 1
            if idx < s.nblocks:
                out.append(idx)
            free ^= low
    return out


def newly_free(before: SlabSnap, after: SlabSnap, wb: int, words=None):
    """Indices whose bit is free in ``after`` and used in ``before``: O(words), or
    O(len(words)) given the indices of the words that changed."""
    out = []
    full = (1 << wb) - 1
    if words is None:
        words = range(len(after.words))
    for w in words:
        old, new = before.words[w], after.words[w]
        if old == new:
            continue
        freed = old & ~new & full
        while freed:
            low = freed & -freed
            idx = w * wb + low.bit_length() - 1
            if idx < after.nblocks:
                out.append(idx)
            freed ^= low
    return out


def is_free_bit(s: SlabSnap, wb: int, idx: int) -> bool:
    return not (s.words[idx // wb] >> (idx % wb)) & 1


def block_idx(s: SlabSnap, addr: int):
    """Index of the block starting at addr in slab s, or None."""
    off = addr - s.base
    if off < 0 or off % s.block_size or off // s.block_size >= s.nblocks:
        return None
    return off // s.block_size
