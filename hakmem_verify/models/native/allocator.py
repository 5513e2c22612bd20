"""NativeAllocator: the C pool (``csrc/``) behind ``hakmem_verify.contract.api.Allocator`` and ``Hooks``.

Each harness thread id is a C thread state (``hk_thread``) made on first use and freed
by ``thread_exit``: the lockstep machines drive the C pool with virtual threads, one
call at a time, exactly as they drive the Python model.  Errors are decided before the
C pool is called (argument types here, addresses by ``hk_free``'s validation, which
changes nothing on failure), so every error leaves the state unchanged.

Addresses are real: the slabs live in one ``mmap`` arena aligned to ``slab_size``.
``model_address(addr)`` maps one to the address the Python model gives the same block
(``Config.base_address`` + offset in the arena): the two make the same choices.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Iterator, Optional

from hakmem_verify.contract.api import (BadArgument, Config, DoubleFree, Footprint, InvalidAddress, InvalidFree,
                       OutOfBounds, StructureCorrupted, Stats, size_to_class)
from hakmem_verify.contract.unsupported import Unsupported

from . import build
from hakmem_verify.contract.paths import PATHS   # the design's debug counters; csrc/hk.h has their order

from .snapshot import snapshot as _snapshot

#: address space reserved per pool, in slabs, at most (the arena is MAP_NORESERVE)
MAX_ARENA_BYTES = 1 << 32
MAX_SLABS = 1 << 16


def c_config(ffi, config: Config):
    """The hk_config of a Config; Unsupported for a knob the C pool cannot honour."""
    if config.word_bits > 64:
        raise Unsupported("word_bits", config.word_bits, "C bitmap words hold at most 64 bits")
    if config.num_classes > 64:
        raise Unsupported("class_sizes", len(config.class_sizes), "at most 64 classes")
    if config.slab_size > (1 << 30) or config.slab_size // config.class_sizes[0] >= 1 << 30:
        raise Unsupported("slab_size", config.slab_size, "at most 1 GiB and 2^30 blocks")
    for knob in ("mini_mag_capacity", "refill_batch", "magazine_capacity", "flush_interval"):
        if getattr(config, knob) >= 1 << 31:
            raise Unsupported(knob, getattr(config, knob), "a 32-bit field in C")
    cfg = ffi.new("hk_config *")
    cfg.num_classes = config.num_classes
    for i, s in enumerate(config.class_sizes):
        cfg.class_sizes[i] = s
    cfg.slab_size = config.slab_size
    cfg.word_bits = config.word_bits
    cfg.mini_mag_capacity = config.mini_mag_capacity
    cfg.refill_batch = config.refill_batch
    cfg.magazine_capacity = config.magazine_capacity
    cfg.flush_interval = config.flush_interval
    cfg.max_slabs_per_class = -1 if config.max_slabs_per_class is None \
        else config.max_slabs_per_class
    cfg.max_slabs_total = max(1, min(MAX_SLABS, MAX_ARENA_BYTES // config.slab_size))
    if config.use_superslab:
        size = config.superslab_size
        if size > MAX_ARENA_BYTES // 2:
            raise Unsupported("superslab_size", size, "at most 2 GiB")
        cfg.use_superslab = 1
        cfg.superslab_size = size
        cfg.superslab_pool_max = min(config.superslab_pool_max, (1 << 32) - 1)
        cfg.tls_sll_capacity = min(config.tls_sll_capacity, (1 << 32) - 1)
        # the model maps its first SuperSlab at the first size-aligned address from
        # base_address: the same offset into the arena keeps model_address exact
        cfg.ss_first_off = -(-config.base_address // size) * size - config.base_address
        cfg.max_slabs_total = max(cfg.max_slabs_total,
                                  (cfg.ss_first_off + size) // config.slab_size)
    return cfg


class NativeAllocator:
    """The C tiny pool; ``mutant``: a compile-time variant (``build.MUTANTS``)."""

    def __init__(self, config: Config = Config(), mutant: Optional[str] = None):
        self.config = config
        self.mutant = mutant
        mod = build.load(mutant)
        self._ffi, self._lib = mod.ffi, mod.lib
        self._cfg = c_config(self._ffi, config)
        pool = self._lib.hk_pool_new(self._cfg, 1, 1)
        if pool == self._ffi.NULL:
            raise MemoryError(f"hk_pool_new failed for {config!r}: no memory for the arena")
        self._pool = self._ffi.gc(pool, self._lib.hk_pool_destroy)
        self._threads = {}              # tid -> hk_thread *
        self._fp_threads = set()        # tids touched since the last take_footprint
        self._nc = config.num_classes
        self._u64 = self._ffi.new("uint64_t[]", max(self._nc, 1))
        self._u64b = self._ffi.new("uint64_t[]", max(self._nc, 1))
        self._lo = self._ffi.new("uint32_t[]", max(self._nc, 1))
        self._start = self._ffi.new("uintptr_t *")
        self._push = self._ffi.new("hk_slab **")
        self._counts = LiveCounts(self._lib, self._pool)

    # ---- plumbing -------------------------------------------------------------------
    def _check_tid(self, tid) -> None:
        if not isinstance(tid, int) or isinstance(tid, bool) or tid < 0:
            raise BadArgument(f"tid must be an int >= 0, got {tid!r}")

    def _thread(self, tid: int):
        t = self._threads.get(tid)
        if t is None:
            t = self._lib.hk_thread_new(self._pool, tid)
            if t == self._ffi.NULL:
                raise MemoryError(f"no memory for the thread state of tid {tid}")
            self._threads[tid] = t
        self._fp_threads.add(tid)
        return t

    def _raise_if_corrupted(self) -> None:
        if self._pool.err:
            self._pool.err = 0
            raise StructureCorrupted("remote_head",
                                     self._ffi.string(self._pool.err_msg).decode())

    def model_address(self, addr: int) -> int:
        """The address the Python model gives the same block (same choices, same order)."""
        return self.config.base_address + (addr - self._pool.arena)

    # ---- hakmem_verify.contract.api.Allocator -----------------------------------------------------------
    def alloc(self, size: int, tid: int = 0) -> Optional[int]:
        self._check_tid(tid)
        c = size_to_class(size, self.config.class_sizes)
        p = self._lib.hk_alloc(self._pool, self._thread(tid), c)
        self._raise_if_corrupted()
        return p or None

    def free(self, addr: int, tid: int = 0) -> None:
        self._check_tid(tid)
        if not isinstance(addr, int) or isinstance(addr, bool):
            raise InvalidFree(f"free({addr!r}): not an address (expected an int)")
        if not 0 < addr < 1 << 64:
            raise InvalidFree(f"free({addr:#x}): not inside any slab of the tiny pool")
        self._validate_first(tid, addr)
        e = self._lib.hk_free(self._pool, self._thread(tid), addr)
        if e:
            self._free_error(e, addr)
        self._raise_if_corrupted()

    def _validate_first(self, tid: int, addr: int) -> None:
        """A bad free by a thread with no state yet must not create one."""
        if tid not in self._threads:
            e = self._lib.hk_validate_free(self._pool, addr, self._push)
            if e:
                self._free_error(e, addr)

    def _free_error(self, e: int, addr: int):
        if e == 1:
            raise InvalidFree(f"free({addr:#x}): not inside any slab of the tiny pool")
        slab = self._lib.hk_slab_of(self._pool, addr)
        where = f"slab {slab.base:#x}, class {slab.class_idx}"
        if e == 2:
            raise InvalidFree(f"free({addr:#x}): not the start of a block ({where}, block size "
                              f"{slab.block_size})")
        raise DoubleFree(f"free({addr:#x}): block is not live (double free?) ({where})")

    def usable_size(self, addr: int) -> int:
        c = -1
        if isinstance(addr, int) and not isinstance(addr, bool) and 0 < addr < 1 << 64:
            c = self._lib.hk_live_class(self._pool, addr)
        if c < 0:
            raise InvalidAddress(f"usable_size({_hex(addr)}): not the start of a live block")
        return self.config.class_sizes[c]

    def _check_access(self, addr, n: int, what: str) -> None:
        if isinstance(addr, int) and not isinstance(addr, bool) and 0 < addr < 1 << 64:
            c = self._lib.hk_block_start(self._pool, addr, self._start)
            if c >= 0 and n >= 0 and addr + n <= self._start[0] + self.config.class_sizes[c]:
                return
        raise OutOfBounds(f"{what} of {n} bytes at {_hex(addr)}: not inside one live block")

    def write(self, addr: int, data: bytes) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise BadArgument(f"write data must be bytes, got {type(data).__name__}")
        data = bytes(data)
        self._check_access(addr, len(data), "write")
        self._ffi.memmove(self._ffi.cast("char *", addr), data, len(data))

    def read(self, addr: int, n: int) -> bytes:
        if not isinstance(n, int) or isinstance(n, bool):
            raise BadArgument(f"read length must be an int, got {type(n).__name__}")
        self._check_access(addr, n, "read")
        return self._ffi.unpack(self._ffi.cast("char *", addr), n)

    def thread_exit(self, tid: int) -> None:
        self._check_tid(tid)
        t = self._threads.pop(tid, None)
        if t is None:
            return
        self._fp_threads.add(tid)
        self._lib.hk_thread_exit(self._pool, t)
        self._raise_if_corrupted()

    def _pair(self, fn) -> Stats:
        fn(self._pool, self._u64, self._u64b)
        return Stats(tuple(self._u64[0:self._nc]), tuple(self._u64b[0:self._nc]))

    def stats(self) -> Stats:
        return self._pair(self._lib.hk_stats)

    def exact_stats(self) -> Stats:
        return self._pair(self._lib.hk_exact_stats)

    def flush_stats(self) -> None:
        for tid, t in self._threads.items():
            self._fp_threads.add(tid)
            self._lib.hk_flush_thread(self._pool, t)

    def quiesce(self) -> None:
        for tid in sorted(self._threads):
            self.thread_exit(tid)
        self._lib.hk_quiesce(self._pool)
        self._raise_if_corrupted()

    # ---- hakmem_verify.contract.api.Hooks ------------------------------------------------------------
    @property
    def path_counts(self) -> Mapping[str, int]:
        """The design's debug counters: a live read-only view of the C counters."""
        return self._counts

    def take_footprint(self) -> Footprint:
        n = self._lib.hk_fp_take(self._pool, self._ffi.NULL, 0)
        buf = self._ffi.new("uintptr_t[]", max(n, 1))
        n = self._lib.hk_fp_take(self._pool, buf, n)
        mags = {}
        for tid, t in self._threads.items():
            if self._lib.hk_thread_dirty_take(t):      # its SuperSlab list changed
                self._fp_threads.add(tid)
            self._lib.hk_thread_mag_take(self._pool, t, self._lo)
            for c in range(self._nc):
                if self._lo[c] != 0xFFFFFFFF:
                    mags[(tid, c)] = self._lo[c]
        fp = Footprint(set(buf[0:n]), self._fp_threads, mags)
        self._fp_threads = set()
        return fp

    def snapshot(self, bases=None, mags=None, tids=None):
        return _snapshot(self, bases, mags, tids)

    def slab_bases(self, class_idx: Optional[int] = None) -> list:
        out, s = [], self._pool.first
        while s != self._ffi.NULL:
            if class_idx is None or s.class_idx == class_idx:
                out.append(s.base)
            s = s.next
        return sorted(out)

    def pool_lists(self):
        """``(released bases, first slab address, next new one)`` of the default mode's
        slab array (``free_vidx``, ``next_vidx``); None in SuperSlab mode."""
        p = self._pool
        if self.config.use_superslab:
            return None
        size = self.config.slab_size
        return (tuple(p.arena + p.free_vidx[i] * size for i in range(p.nfree_vidx)), p.arena,
                p.arena + p.next_vidx * size)

    def active_slab(self, tid: int, class_idx: int, which: str = "a") -> Optional[int]:
        t = self._threads.get(tid)
        if t is None or not 0 <= class_idx < self._nc:
            return None
        s = (t.active_a if which == "a" else t.active_b)[class_idx]
        return None if s == self._ffi.NULL else s.base

    def _maint(self, fn, tid: int, class_idx: int):
        self._check_tid(tid)
        t = self._threads.get(tid)
        if t is None or not 0 <= class_idx < self._nc:
            return None
        self._fp_threads.add(tid)
        out = fn(self._pool, t, class_idx)
        self._raise_if_corrupted()
        return out

    def evict_active(self, tid: int, class_idx: int) -> bool:
        return bool(self._maint(self._lib.hk_evict_active, tid, class_idx))

    def drain_remote(self, tid: int, class_idx: int) -> int:
        return self._maint(self._lib.hk_drain_remote, tid, class_idx) or 0

    def refill_active(self, tid: int, class_idx: int) -> int:
        return self._maint(self._lib.hk_refill_active, tid, class_idx) or 0

    # ---- atomic steps: the remote push word by word, everything else one step ---------
    def free_steps(self, addr: int, tid: int = 0) -> Iterator[str]:
        """Validates and does the free up to a remote push now (errors raised here, state
        unchanged); the returned generator runs the push on the slab's real atomics:
        ``"load"``, ``"link"``, ``"cas-retry"``..., ``"cas"``."""
        self._check_tid(tid)
        if not isinstance(addr, int) or isinstance(addr, bool) or not 0 < addr < 1 << 64:
            raise InvalidFree(f"free({addr!r}): not an address of the tiny pool")
        self._validate_first(tid, addr)
        e = self._lib.hk_free_begin(self._pool, self._thread(tid), addr, self._push)
        if e:
            self._free_error(e, addr)
        slab = self._push[0]
        return self._push_gen(slab, addr) if slab != self._ffi.NULL else iter(())

    def _push_gen(self, slab, addr: int):
        lib = self._lib
        while True:
            old = lib.hk_remote_load(slab)
            yield "load"
            lib.hk_remote_link(addr, old)
            yield "link"
            if lib.hk_remote_cas(slab, old, addr):
                break
            yield "cas-retry"
        yield "cas"
        lib.hk_remote_count_add(slab)

    def _one_step(self, fn, *args):
        out = fn(*args)
        yield "op"
        return out

    def alloc_steps(self, size: int, tid: int = 0) -> Iterator[str]:
        self._check_tid(tid)
        size_to_class(size, self.config.class_sizes)
        return self._one_step(self.alloc, size, tid)

    def drain_steps(self, tid: int, class_idx: int) -> Iterator[str]:
        self._check_tid(tid)
        return self._one_step(self.drain_remote, tid, class_idx)

    def evict_steps(self, tid: int, class_idx: int) -> Iterator[str]:
        self._check_tid(tid)
        return self._one_step(self.evict_active, tid, class_idx)

    def thread_exit_steps(self, tid: int) -> Iterator[str]:
        self._check_tid(tid)
        return self._one_step(self.thread_exit, tid)

    def flush_steps(self, tid: int) -> Iterator[str]:
        self._check_tid(tid)
        return self._one_step(self._flush_one, tid)

    def _flush_one(self, tid: int) -> None:
        t = self._threads.get(tid)
        if t is not None:
            self._fp_threads.add(tid)
            self._lib.hk_flush_thread(self._pool, t)

    def live_blocks(self) -> dict:
        """addr -> class of every block handed out (the C debug table)."""
        out, s = {}, self._pool.first
        while s != self._ffi.NULL:
            live = self._ffi.unpack(self._ffi.cast("char *", s.live), s.nblocks)
            for i, flag in enumerate(live):
                if flag == b"\x01"[0]:
                    out[s.base + i * s.block_size] = s.class_idx
            s = s.next
        return out


class LiveCounts(Mapping):
    """The C pool's debug counters by name (``PATHS``), read at each access."""

    def __init__(self, lib, pool):
        if lib.HK_NPATHS != len(PATHS):
            raise RuntimeError(f"csrc/hk.h has {lib.HK_NPATHS} debug counters, the model "
                               f"{len(PATHS)}: add the missing ones to hk.h in PATHS' order")
        self._lib, self._pool = lib, pool
        self._index = {name: i for i, name in enumerate(PATHS)}

    def __getitem__(self, name: str) -> int:
        return self._lib.hk_path_count(self._pool, self._index[name])

    def __iter__(self):
        return iter(PATHS)

    def __len__(self) -> int:
        return len(PATHS)


def _hex(addr) -> str:
    return hex(addr) if isinstance(addr, int) else repr(addr)
