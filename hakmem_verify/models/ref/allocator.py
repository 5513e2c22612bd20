"""The reference tiny pool: the same slab geometry as the seed, nothing else.

The fast pool (``hakmem_verify.models.fast``) hides its state behind magazines, mini-mags,
remote stacks and batched counters.  This pool has none of them: each class
owns a list of slabs, each slab owns a min-heap of its free block indices,
and each class keeps a min-heap of the bases of its slabs that still have a
free block.  ``alloc`` therefore always returns the lowest free address of
the class, ``free`` validates its address completely before touching
anything, and the counters are exact at every moment.  It is the oracle for
outcomes (success, out of memory, which error) and for exact statistics;
the fast pool is free to pick other addresses.

Geometry (the same as the seed): a slab is ``slab_size`` bytes at a
``slab_size``-aligned address; the first slab is at ``base_address`` and
every new slab, of any class, takes the next aligned address, so slabs never
overlap.  Block ``i`` of a slab of class ``c`` is at
``base + i * class_sizes[c]``.  Slabs are never released.  Memory is
simulated with one ``bytearray(slab_size)`` per slab.

Argument checks run before anything else: a malformed tid, data or count
raises :class:`BadArgument` first; then the size or address is checked.
Every error leaves the state unchanged.
"""
from __future__ import annotations

from heapq import heappop, heappush
from typing import Optional

from hakmem_verify.contract.api import (BadArgument, Config, DoubleFree, InvalidAddress, InvalidFree,
                       InvariantViolation, OutOfBounds, Stats, size_to_class)

_BYTES_LIKE = (bytes, bytearray, memoryview)


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_tid(tid) -> None:
    if not _is_int(tid) or tid < 0:
        raise BadArgument(f"tid must be an int >= 0, got {type(tid).__name__} {tid!r}; "
                          f"pass a thread id such as 0, 1, 2")


# ============================================================================
# Slab
# ============================================================================


class _Slab:
    """One slab of one class.

    Accounting identity:  ``nlive + len(free) == nblocks``, and ``free`` holds
    exactly the indices of the slab's blocks that are not live.
    """

    __slots__ = ("base", "class_idx", "block_size", "nblocks", "free", "nlive", "mem")

    def __init__(self, base: int, class_idx: int, block_size: int, slab_size: int):
        self.base = base                        # slab_size-aligned address
        self.class_idx = class_idx              # size class of every block
        self.block_size = block_size            # bytes per block
        self.nblocks = slab_size // block_size  # blocks in the slab
        self.free = list(range(self.nblocks))   # min-heap of free block indices
        self.nlive = 0                          # blocks handed out, not yet freed
        self.mem = bytearray(slab_size)         # simulated memory of the slab


# ============================================================================
# Allocator
# ============================================================================


class RefAllocator:
    """Reference allocator: lowest free address first, no caches, exact counters.

    Accounting identities (checked by :meth:`check`; the reference's own self-checks carry
    the prefix RALLOC, apart from the catalogue of hakmem_verify/check):

        per slab:  nlive + len(free) == nblocks                          [RALLOC-01]
        per slab:  free == {i : base + i*block_size not in live}         [RALLOC-02]
        per class: allocs[c] - frees[c] == |{a in live : class a == c}|  [RALLOC-03]
        per class: avail[c] == {base of a slab of c : len(free) > 0}     [RALLOC-04]
        per class: len(slabs[c]) <= max_slabs_per_class                  [RALLOC-05]
    """

    def __init__(self, config: Config = Config()):
        self.config = config
        n = config.num_classes
        self._slabs = [[] for _ in range(n)]    # per class: slabs, ascending base
        self._avail = [[] for _ in range(n)]    # per class: min-heap of bases with a free block
        self._by_base = {}                      # base -> _Slab, every class
        self._order = []                        # every slab, in creation order
        self._next_base = config.base_address   # address of the next new slab
        self._live = {}                         # live block address -> class index
        self._allocs = [0] * n                  # successful allocs per class
        self._frees = [0] * n                   # successful frees per class

    # ---- protocol -----------------------------------------------------------

    def alloc(self, size: int, tid: int = 0) -> Optional[int]:
        """Lowest free block of size's class, or None if out of memory.

        Cost: O(log blocks_per_slab + log slabs); O(slab_size) when a slab is added.
        """
        _check_tid(tid)
        c = size_to_class(size, self.config.class_sizes)
        avail = self._avail[c]
        slab = self._by_base[avail[0]] if avail else self._grow(c)
        if slab is None:
            return None
        idx = heappop(slab.free)
        if not slab.free:
            heappop(avail)
        slab.nlive += 1
        addr = slab.base + idx * slab.block_size
        self._live[addr] = c
        self._allocs[c] += 1
        self._self_check()
        return addr

    def _grow(self, c: int) -> Optional[_Slab]:
        """Slow path: add a slab to class c at the next aligned address (None at the limit)."""
        limit = self.config.max_slabs_per_class
        if limit is not None and len(self._slabs[c]) >= limit:
            return None
        slab = _Slab(self._next_base, c, self.config.class_sizes[c], self.config.slab_size)
        self._next_base += self.config.slab_size
        self._slabs[c].append(slab)
        self._by_base[slab.base] = slab
        self._order.append(slab)
        heappush(self._avail[c], slab.base)
        return slab

    def free(self, addr: int, tid: int = 0) -> None:
        """Return the live block starting at addr.

        Raises InvalidFree (not a block start of this pool) or DoubleFree (not live).
        Cost: O(log blocks_per_slab + log slabs).
        """
        _check_tid(tid)
        slab = self._slab_of(addr)
        if slab is None:
            raise InvalidFree(f"free({addr!r}): not an address inside any slab of this pool; "
                              f"pass an address returned by alloc()")
        off = addr - slab.base
        if off % slab.block_size:
            raise InvalidFree(f"free({addr:#x}): not a block start (offset {off % slab.block_size} "
                              f"into a {slab.block_size}-byte block of class {slab.class_idx}, "
                              f"slab {slab.base:#x}); pass the address alloc() returned")
        if addr not in self._live:
            raise DoubleFree(f"free({addr:#x}): block of class {slab.class_idx} in slab "
                             f"{slab.base:#x} is not live (already freed or never allocated)")
        del self._live[addr]
        if not slab.free:
            heappush(self._avail[slab.class_idx], slab.base)
        heappush(slab.free, off // slab.block_size)
        slab.nlive -= 1
        self._frees[slab.class_idx] += 1
        self._self_check()

    def usable_size(self, addr: int) -> int:
        """Block size of the live block starting at addr (InvalidAddress otherwise). Cost: O(1)."""
        c = self._live.get(addr) if _is_int(addr) else None
        if c is None:
            raise InvalidAddress(f"usable_size({addr!r}): not the start of a live block")
        return self.config.class_sizes[c]

    def write(self, addr: int, data: bytes) -> None:
        """Copy data to [addr, addr+len(data)) inside one live block. Cost: O(len(data))."""
        if not isinstance(data, _BYTES_LIKE):
            raise BadArgument(f"write(): data must be bytes, bytearray or memoryview, "
                              f"got {type(data).__name__}; encode it first")
        data = bytes(data)
        slab, off = self._span(addr, len(data), "write")
        slab.mem[off:off + len(data)] = data

    def read(self, addr: int, n: int) -> bytes:
        """The n bytes at [addr, addr+n) inside one live block. Cost: O(n)."""
        if not _is_int(n):
            raise BadArgument(f"read(): n must be an int, got {type(n).__name__} {n!r}")
        if n < 0:
            raise OutOfBounds(f"read({addr!r}, {n}): negative byte count; pass n >= 0")
        slab, off = self._span(addr, n, "read")
        return bytes(slab.mem[off:off + n])

    def thread_exit(self, tid: int) -> None:
        """No caches, nothing to return: only validates tid. Cost: O(1)."""
        _check_tid(tid)

    def stats(self) -> Stats:
        """Exact counts (nothing is batched). Cost: O(num_classes)."""
        return Stats(tuple(self._allocs), tuple(self._frees))

    def exact_stats(self) -> Stats:
        """Exact counts, the same as stats(). Cost: O(num_classes)."""
        return self.stats()

    def flush_stats(self) -> None:
        """No batches: no-op. Cost: O(1)."""

    def quiesce(self) -> None:
        """No caches or remote stacks: no-op. Cost: O(1)."""

    # ---- address lookup -----------------------------------------------------

    def _slab_of(self, addr) -> Optional[_Slab]:
        """The slab containing addr, or None (also for a non-int)."""
        if not _is_int(addr):
            return None
        return self._by_base.get(addr - addr % self.config.slab_size)

    def _span(self, addr, n: int, what: str):
        """(slab, offset in slab) of [addr, addr+n) if it lies inside one live block."""
        slab = self._slab_of(addr)
        if slab is None:
            raise OutOfBounds(f"{what}({addr!r}): not an address inside any slab of this pool")
        off = addr - slab.base
        start = slab.base + off - off % slab.block_size
        if start not in self._live:
            raise OutOfBounds(f"{what}({addr:#x}): the block {start:#x} of class "
                              f"{slab.class_idx} is not live; allocate it first")
        if off % slab.block_size + n > slab.block_size:
            raise OutOfBounds(f"{what}({addr:#x}, {n} bytes): runs past the end of the "
                              f"{slab.block_size}-byte block {start:#x} by "
                              f"{off % slab.block_size + n - slab.block_size} bytes")
        return slab, off

    # ---- introspection for the lockstep oracle and tests --------------------

    def live_blocks(self) -> dict:
        """{address: class index} of every live block. Cost: O(live)."""
        return dict(self._live)

    def live_count(self, class_idx: int) -> int:
        """Live blocks of the class. Cost: O(1)."""
        return self._allocs[class_idx] - self._frees[class_idx]

    def free_block_count(self, class_idx: int) -> int:
        """Free blocks in the existing slabs of the class. Cost: O(slabs of the class)."""
        return sum(len(s.free) for s in self._slabs[class_idx])

    def slab_count(self, class_idx: int) -> int:
        """Slabs of the class. Cost: O(1)."""
        return len(self._slabs[class_idx])

    def can_alloc(self, size: int) -> bool:
        """Whether alloc(size) would return a block (SizeError for a bad size). Cost: O(1)."""
        c = size_to_class(size, self.config.class_sizes)
        limit = self.config.max_slabs_per_class
        return bool(self._avail[c]) or limit is None or len(self._slabs[c]) < limit

    def snapshot_state(self) -> tuple:
        """Plain, comparable copy of the whole state, memory included. Cost: O(total bytes)."""
        return (tuple(sorted(self._live.items())),
                tuple(self._allocs), tuple(self._frees), self._next_base,
                tuple((s.base, s.class_idx, s.nlive, tuple(sorted(s.free)), bytes(s.mem))
                      for s in self._order),
                tuple(tuple(sorted(a)) for a in self._avail))

    def check(self) -> None:
        """Raise InvariantViolation unless every identity of the class docstring holds.

        Cost: O(total blocks).
        """
        limit = self.config.max_slabs_per_class
        for c, slabs in enumerate(self._slabs):
            for s in slabs:
                if s.nlive + len(s.free) != s.nblocks:
                    raise InvariantViolation("RALLOC-01", f"slab {s.base:#x} class {c}: nlive "
                                             f"{s.nlive} + free {len(s.free)} != {s.nblocks}")
                want = {i for i in range(s.nblocks)
                        if s.base + i * s.block_size not in self._live}
                if len(set(s.free)) != len(s.free) or set(s.free) != want:
                    raise InvariantViolation("RALLOC-02", f"slab {s.base:#x} class {c}: free "
                                             f"indices {sorted(s.free)} != non-live {sorted(want)}")
            nlive = sum(1 for k in self._live.values() if k == c)
            if self.live_count(c) != nlive:
                raise InvariantViolation("RALLOC-03", f"class {c}: allocs {self._allocs[c]} - frees "
                                         f"{self._frees[c]} != {nlive} live blocks")
            want_avail = sorted(s.base for s in slabs if s.free)
            if sorted(self._avail[c]) != want_avail:
                raise InvariantViolation("RALLOC-04", f"class {c}: avail {sorted(self._avail[c])} "
                                         f"!= slabs with a free block {want_avail}")
            if limit is not None and len(slabs) > limit:
                raise InvariantViolation("RALLOC-05", f"class {c}: {len(slabs)} slabs > limit {limit}")

    def _self_check(self) -> None:
        if self.config.check_level:
            self.check()
