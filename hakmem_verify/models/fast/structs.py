"""Data structures of the seed design over simulated memory.

A slab is a ``bytearray`` at a ``slab_size``-aligned integer address.  The
intrusive ``next`` pointers of the mini-magazine and of the remote-free stack
are stored as 8-byte little-endian words in the first bytes of the free
blocks themselves, exactly where C keeps them; NULL is 0.

Accounting identity of a slab (every block is in exactly one place):

    nblocks == live + bitmap_free + |mini_mag| + |remote| + |in magazines|

Simulated atomics (``remote_head``, ``remote_count``, global counters) are
read and written only through the small accessor functions at the bottom.
"""
from __future__ import annotations

from .bitmap import TwoTierBitmap

NULL = 0


# ============================================================================
# Page mini-magazine: intrusive LIFO inside the slab's free blocks
# ============================================================================


class PageMiniMag:
    """Intrusive LIFO of free blocks owned by one slab.

    Invariant: ``count == length of the list from head <= capacity``  [MM-01]
    """

    __slots__ = ("head", "count", "capacity")

    def __init__(self, capacity: int):
        self.head = NULL          # LIFO stack head (address of a free block)
        self.count = 0            # current item count
        self.capacity = capacity  # max items (seed: 16, up to 32)


# ============================================================================
# TinySlab: two-tier bitmap + mini-magazine + remote-free stack
# ============================================================================


class TinySlab:
    """One 64 KiB-aligned slab of blocks of a single class.

    Invariants: see ``hakmem_verify.models.fast.bitmap`` and ``docs/CATALOGUE.md``; in short

        free_count == popcount(free bits)                     [SLAB-03]
        remote_count == length of the remote list              [RMT-02]
        owner is None  or  slab is tid owner's active A or B   [OWN-02]
    """

    __slots__ = ("base", "class_idx", "block_size", "nblocks", "mem", "bitmap",
                 "mini_mag", "remote_head", "remote_count", "owner")

    def __init__(self, base: int, class_idx: int, block_size: int, slab_size: int,
                 word_bits: int, mini_mag_capacity: int):
        self.base = base                      # 64 KiB-aligned address
        self.class_idx = class_idx            # size class 0..7
        self.block_size = block_size          # bytes per block
        self.nblocks = slab_size // block_size  # total blocks
        self.mem = bytearray(slab_size)       # the simulated bytes
        self.bitmap = TwoTierBitmap(self.nblocks, word_bits)  # bit = 1: used
        self.mini_mag = PageMiniMag(mini_mag_capacity)
        self.remote_head = NULL               # MPSC remote-free stack head (atomic)
        self.remote_count = 0                 # blocks on the remote stack (atomic)
        self.owner = None                     # tid of the owning thread, None if unowned

    def block_addr(self, idx: int) -> int:
        return self.base + idx * self.block_size

    def block_index(self, addr: int) -> int:
        return (addr - self.base) // self.block_size

    def fully_free(self) -> bool:
        """Every block bitmap-free: nothing live, cached or remote."""
        return (self.bitmap.free_count == self.nblocks and self.mini_mag.count == 0
                and self.remote_count == 0 and self.remote_head == NULL)


# ============================================================================
# TLS magazine and per-thread state
# ============================================================================


class TinyTLSMag:
    """Array magazine (not intrusive): items[0:top] are cached free blocks.

    Invariants: ``0 <= top <= cap`` [MAG-01]; entries unique, of this class [MAG-02], not live [PART-01]
    """

    __slots__ = ("items", "top", "cap")

    def __init__(self, cap: int):
        self.items = [NULL] * cap  # block addresses
        self.top = 0               # number of cached items
        self.cap = cap             # capacity (seed: 2048)


class ThreadState:
    """Everything a thread keeps in TLS: magazines, active slabs, stat batches; in
    SuperSlab mode also its free lists (tls_sll) and the SuperSlabs it owns."""

    __slots__ = ("tid", "mags", "active_a", "active_b", "alloc_batch", "free_batch",
                 "sll_head", "sll_count", "superslabs")

    def __init__(self, tid: int, num_classes: int, mag_cap: int):
        self.tid = tid
        self.mags = [TinyTLSMag(mag_cap) for _ in range(num_classes)]
        self.active_a = [None] * num_classes   # TinySlab or None (g_tls_active_slab_a)
        self.active_b = [None] * num_classes   # TinySlab or None (g_tls_active_slab_b)
        self.alloc_batch = [0] * num_classes   # t_alloc_batch: pending alloc events
        self.free_batch = [0] * num_classes    # t_free_batch: pending free events
        self.sll_head = [NULL] * num_classes   # tls_sll: intrusive free list per class
        self.sll_count = [0] * num_classes     # its length
        self.superslabs = []                   # bases of the SuperSlabs this thread owns


# ============================================================================
# SuperSlab: an aligned region of slab slots owned by one thread
# ============================================================================


class SuperSlab:
    """``superslab_size`` bytes at a ``superslab_size``-aligned address; slot 0 is this
    header, slots 1.. are slabs carved on demand.

    Invariants: ``nslots == 1 + slabs in use + len(free_slots) + (nslots - carved)``
    [SS-02]; ``slabs[i]`` is the slab whose base is ``base + i * slab_size`` [SS-01];
    every slab's owner is ``owner`` or None [SS-07].
    """

    __slots__ = ("base", "nslots", "owner", "slabs", "free_slots", "carved", "in_use")

    def __init__(self, base: int, nslots: int):
        self.base = base                  # superslab_size-aligned address
        self.nslots = nslots              # slots, the header's included
        self.owner = None                 # tid of the owning thread, None: abandoned
        self.slabs = [None] * nslots      # slot -> TinySlab carved there (slot 0: header)
        self.free_slots = []              # slots given back by released slabs (LIFO)
        self.carved = 1                   # next never-carved slot
        self.in_use = 0                   # slabs carved and not released


# ============================================================================
# Simulated memory words and atomics
# ============================================================================


def load_word(slab: TinySlab, addr: int) -> int:
    """Read the 8-byte next pointer stored at addr (inside slab)."""
    off = addr - slab.base
    return int.from_bytes(slab.mem[off:off + 8], "little")


def store_word(slab: TinySlab, addr: int, value: int) -> None:
    """Store an 8-byte next pointer at addr (inside slab)."""
    off = addr - slab.base
    slab.mem[off:off + 8] = value.to_bytes(8, "little")


def atomic_load_head(slab: TinySlab) -> int:
    return slab.remote_head


def atomic_cas_head(slab: TinySlab, expected: int, new: int) -> bool:
    """compare_exchange on remote_head: succeeds only if it still equals expected."""
    if slab.remote_head != expected:
        return False
    slab.remote_head = new
    return True


def atomic_exchange_head(slab: TinySlab, new: int) -> int:
    old = slab.remote_head
    slab.remote_head = new
    return old


def atomic_add_remote_count(slab: TinySlab, delta: int) -> None:
    slab.remote_count += delta


def atomic_add(counters: list, idx: int, delta: int) -> None:
    """fetch_add on a global counter (one indivisible step)."""
    counters[idx] += delta
