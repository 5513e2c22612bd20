"""The page mini-magazine (an intrusive LIFO whose next pointers live in the free blocks)
over an abstract memory, and the slab's batch refill (bitmap -> mini-magazine) and spill
(mini-magazine -> bitmap), restated with their contracts (MM-01, MM-02, REF-01, SPL-01)."""
from __future__ import annotations

from .bitmap import TwoTierBitmap, _find_free, _set_free, _set_used, is_free  # noqa: F401  (named by pre:/inv: lines)
from .common import (CHECK_MAX_CAPACITY, CHECK_SLAB_CAPACITY, CHECK_SLAB_CLASSES,  # noqa: F401  (named by pre:/inv: lines)
                     CHECK_SLAB_WORDS, CLASS_SIZES, NULL, _bit)
from .runtime import invariants_hold  # noqa: F401  (named by pre:/inv: lines)

# ============================================================================
# Page mini-magazine over an abstract memory
# ============================================================================


def _walk(mem: dict, head: int, bound: int):
    """Addresses of the list from ``head`` (head first), or None when the walk
    does not reach NULL within ``bound`` steps (a cycle) or meets an address
    that holds no next pointer."""
    out = []
    a = head
    while a != NULL:
        if len(out) == bound or a not in mem:
            return None
        out.append(a)
        a = mem[a]
    return out


def mini_mag_blocks(mag: "MiniMag") -> list:
    """The blocks of a mini-magazine, head first (None if the list is broken)."""
    return _walk(mag.mem, mag.head, mag.capacity)


class MiniMag:
    """Page mini-magazine: an intrusive LIFO of free blocks with count and capacity.

    ``mem`` is the memory the list lives in, as block address -> the block's
    first word: its ``next`` pointer while the block is in the list.

        0 <= count <= capacity                                              [MM-01]
        the list from head holds exactly count blocks: non-NULL, distinct,
        NULL-terminated (so acyclic)                                        [MM-01, MM-02]

    inv: 1 <= self.capacity and 0 <= self.count <= self.capacity  # MM-01
    inv: mini_mag_blocks(self) is not None and len(mini_mag_blocks(self)) == self.count  # MM-01, MM-02
    """

    def __init__(self, capacity: int, blocks: list[int], mem: dict[int, int]):
        """A mini-magazine holding ``blocks`` (head first) in memory ``mem``,
        into which their next pointers are written.

        ``mem`` is taken, not made here: storing a symbolic address in a
        dict made here would hash it, and hashing makes CrossHair pick a
        concrete address; the dict CrossHair passes in stays symbolic.

        pre: 1 <= capacity <= CHECK_MAX_CAPACITY and len(blocks) <= capacity
        pre: all(a > 0 for a in blocks)
        pre: all(blocks[i] != blocks[j] for i in range(len(blocks)) for j in range(i))
        """
        # a state generator: CrossHair checks the methods from the states it builds
        # crosshair: off
        self.capacity = capacity     # max items (seed: 16, up to 32)
        self.count = len(blocks)     # current item count
        self.mem = mem               # block address -> first word
        for a, nxt in zip(blocks, blocks[1:] + [NULL]):
            self.mem[a] = nxt
        self.head = blocks[0] if blocks else NULL   # LIFO stack head

    def __repr__(self):
        return f"MiniMag(capacity={self.capacity}, blocks={mini_mag_blocks(self)!r})"

    def pop(self) -> int:
        """Fast path: unlink the head block and return it; NULL when empty. O(1).

        post: __return__ == (mini_mag_blocks(__old__.self)[0] if __old__.self.count > 0 else NULL)
        post: mini_mag_blocks(self) == mini_mag_blocks(__old__.self)[1:]
        post: all(self.mem[a] == __old__.self.mem[a] for a in mini_mag_blocks(__old__.self))
        """
        return _pop(self)

    def push(self, addr: int) -> bool:
        """Fast path: push free block ``addr``; False, changing nothing, when full. O(1).

        pre: addr > 0 and addr not in mini_mag_blocks(self)
        post: __return__ == (__old__.self.count < self.capacity)
        post: mini_mag_blocks(self) == ([addr] if __return__ else []) + mini_mag_blocks(__old__.self)
        post: all(self.mem[a] == __old__.self.mem[a] for a in mini_mag_blocks(__old__.self))
        """
        return _push(self, addr)


def _pop(mag: MiniMag) -> int:
    b = mag.head
    if b == NULL:
        return NULL
    mag.head = mag.mem[b]
    mag.count -= 1
    return b


def _push(mag: MiniMag, addr: int) -> bool:
    if mag.count >= mag.capacity:
        return False
    mag.mem[addr] = mag.head
    mag.head = addr
    mag.count += 1
    return True


# ============================================================================
# Slab: bitmap + mini-magazine; batch refill and spill
# ============================================================================


def _index_of(slab: "Slab", addr: int) -> int:
    """Block index of ``addr`` in the slab, or -1 if it is not a block start."""
    off = addr - slab.base
    if off < 0 or off % slab.block_size != 0 or off // slab.block_size >= slab.bitmap.nblocks:
        return -1
    return off // slab.block_size


def _whereabouts(slab: "Slab") -> list:
    """Per block: 1 if bitmap-free + number of times it is in the mini-magazine.

    Every block that is not live is in exactly one of the two places, so a
    refill or a spill must leave this list unchanged: a block lost by the
    move shows as a 0, a block handed out twice as a 2.
    """
    cached = mini_mag_blocks(slab.mini_mag)
    return [(1 - _bit(slab.bitmap.words[i // slab.bitmap.word_bits],
                      i % slab.bitmap.word_bits))
            + sum(a == slab.base + i * slab.block_size for a in cached)
            for i in range(slab.bitmap.nblocks)]


class Slab:
    """The part of a TinySlab that batch refill and spill touch.

    Block ``i`` lives at ``base + i * block_size``; the mini-magazine holds
    blocks of this slab that the bitmap marks used (they are free for the
    allocator, but not bitmap-free).

        the bitmap and the mini-magazine satisfy their invariants
        every mini-magazine block is a block start of this slab, bitmap-used  [MM-02]

    inv: invariants_hold(self.bitmap) and invariants_hold(self.mini_mag)
    inv: all(_index_of(self, a) >= 0 and not is_free(self.bitmap, _index_of(self, a)) for a in mini_mag_blocks(self.mini_mag))  # MM-02
    """

    def __init__(self, bitmap: TwoTierBitmap, cached: list[int], capacity: int,
                 class_idx: int, base: int, mem: dict[int, int]):
        """A slab of ``class_idx`` at ``base`` whose mini-magazine holds the
        blocks of indices ``cached`` (head first), marked used in ``bitmap``.

        pre: bitmap.nwords <= CHECK_SLAB_WORDS and 1 <= capacity <= CHECK_SLAB_CAPACITY
        pre: class_idx in CHECK_SLAB_CLASSES and base > 0
        pre: len(cached) <= capacity
        pre: all(0 <= i < bitmap.nblocks and not is_free(bitmap, i) for i in cached)
        pre: all(cached[i] != cached[j] for i in range(len(cached)) for j in range(i))
        """
        # a state generator: CrossHair checks the methods from the states it builds
        # crosshair: off
        self.class_idx = class_idx                 # size class
        self.block_size = CLASS_SIZES[class_idx]   # bytes per block
        self.base = base                           # address of block 0
        self.bitmap = bitmap                       # bit = 1: used (live or cached)
        self.mini_mag = MiniMag(capacity, [base + i * self.block_size for i in cached], mem)

    def __repr__(self):
        return (f"Slab({self.bitmap!r}, mini_mag={mini_mag_blocks(self.mini_mag)!r} "
                f"cap {self.mini_mag.capacity}, class_idx={self.class_idx}, "
                f"base={self.base})")

    def batch_refill(self, want: int) -> int:
        """Move up to ``want`` bitmap-free blocks into the mini-magazine; return how many.

        Room is checked before a block is marked used, so every block taken
        from the bitmap is pushed (the seed's sample marks first and loses
        the block when the push fails).  Cost: O(got) finds.

        post: __return__ == max(0, min(want, __old__.self.mini_mag.capacity - __old__.self.mini_mag.count, __old__.self.bitmap.free_count))
        post: self.bitmap.free_count == __old__.self.bitmap.free_count - __return__ and self.mini_mag.count == __old__.self.mini_mag.count + __return__
        post: _whereabouts(self) == _whereabouts(__old__.self)  # REF-01: no block lost or doubled
        """
        bm, mag = self.bitmap, self.mini_mag
        got = 0
        while got < want and mag.count < mag.capacity:     # room first
            idx = _find_free(bm)
            if idx < 0:
                break
            _set_used(bm, idx)
            _push(mag, self.base + idx * self.block_size)  # cannot fail: there is room
            got += 1
        return got

    def spill(self) -> int:
        """Slow path: return every mini-magazine block to the bitmap (on eviction).

        Returns how many; the walk is bounded by the capacity.

        post: __return__ == __old__.self.mini_mag.count and self.mini_mag.count == 0 and self.mini_mag.head == NULL
        post: self.bitmap.free_count == __old__.self.bitmap.free_count + __return__
        post: _whereabouts(self) == _whereabouts(__old__.self)  # SPL-01: no block lost or doubled
        """
        bm, mag = self.bitmap, self.mini_mag
        n = 0
        for _ in range(mag.capacity):
            if mag.count == 0:
                break
            addr = _pop(mag)
            _set_free(bm, (addr - self.base) // self.block_size)
            n += 1
        return n
