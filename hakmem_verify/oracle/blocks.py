"""The oracles' records of a live block and the fill patterns written into every new one:
the lockstep oracle's ``Block`` (its address on each side, what the client wrote) and
``fill_pattern``; the malloc tier's ``MBlock`` (where it is, how it was made, the bytes the
client wrote) and ``pattern``."""
from __future__ import annotations

class Block:
    """A live (or recently freed) handle: where it is on each side and what it holds."""

    __slots__ = ("ref", "fast", "size", "cls", "tid", "content")

    def __init__(self, ref, fast, size, cls, tid, content):
        self.ref = ref              # address in the reference
        self.fast = fast            # address in the implementation
        self.size = size            # requested size
        self.cls = cls              # size class
        self.tid = tid              # allocating thread
        self.content = content      # bytes the client wrote at offset 0


def fill_pattern(handle: int, n: int) -> bytes:
    """A pattern unique to the handle: 8-byte little-endian words of handle ^ 0xA5A5..."""
    word = (handle ^ 0xA5A5_5A5A_C3C3_3C3C).to_bytes(8, "little")
    return (word * (n // 8 + 1))[:n]


#: bytes of fill pattern at the head and at the tail of every block
FILL = 64


def pattern(h: int, n: int, salt: int = 0) -> bytes:
    """n bytes unique to handle h (and salt: the tail differs from the head)."""
    word = ((h * 0x9E37_79B9_7F4A_7C15 + salt) & 0xFFFF_FFFF_FFFF_FFFF ^
            0xA5A5_5A5A_C3C3_3C3C).to_bytes(8, "little")
    return (word * (n // 8 + 1))[:n]


class MBlock:
    """A live handle: where it is, how it was made, and the bytes the client wrote."""

    __slots__ = ("addr", "size", "end", "tid", "made", "known")

    def __init__(self, addr, size, end, tid, made):
        self.addr = addr
        self.size = size            # bytes asked for
        self.end = end              # addr + max(size, usable, 1): the bytes it owns
        self.tid = tid              # allocating thread
        self.made = made            # "malloc(24) by tid 1", for messages
        self.known = {}             # offset -> bytes written there (non-overlapping)

    def segments(self, limit=None) -> list:
        """[(offset, bytes)] of what the client wrote, clipped to ``limit`` bytes."""
        if limit is None:
            return list(self.known.items())
        out = []
        for off, data in self.known.items():
            if off < limit:
                out.append((off, data[:limit - off]))
        return out

    def put(self, off: int, data: bytes) -> None:
        """Record a write, keeping the segments disjoint (older ones are cut)."""
        end = off + len(data)
        for o in [o for o, d in self.known.items() if o < end and off < o + len(d)]:
            d = self.known.pop(o)
            if o < off:
                self.known[o] = d[:off - o]
            if o + len(d) > end:
                self.known[end] = d[end - o:]
        self.known[off] = data


def fill_segments(h: int, size: int) -> list:
    """The fill pattern of a new block: its first and its last FILL bytes."""
    head = min(size, FILL)
    segs = [(0, pattern(h, head))] if head else []
    if size > head:
        start = max(head, size - FILL)
        segs.append((start, pattern(h, size - start, 1)))
    return segs
