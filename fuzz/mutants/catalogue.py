"""Planted bugs in the fast model, one per real allocator bug class.

Each factory returns a context manager that swaps one function or method of
``hakmem_fast`` for a broken copy.  Docstring: the bug; the real bug class it
stands for; ``expect`` lists the invariant IDs that should fire.
"""
from __future__ import annotations

from hypothesis import strategies as st

from hakmem_fast import allocator as fa_mod
from hakmem_fast import ops
from hakmem_fast.allocator import FastAllocator
from hakmem_fast.bitmap import TwoTierBitmap
from hakmem_fast.structs import NULL, load_word, store_word
from specs.api import Config, size_to_class

from . import mutant, patched

FA = FastAllocator
_orig = {name: getattr(ops, name) for name in (
    "mini_mag_pop", "mini_mag_push", "batch_refill_from_bitmap", "batch_spill_to_bitmap",
    "remote_drain", "stats_flush_if_needed", "stats_flush_all", "atomic_add",
    "atomic_add_remote_count")}
_fa = {name: getattr(FA, name) for name in (
    "_free_route", "_adopt", "_evict", "_maybe_release", "_new_slab", "_find_partial",
    "thread_exit", "quiesce", "evict_active", "_free", "_validate_free", "stats",
    "_alloc_hot")}
_bm = {name: TwoTierBitmap.__dict__[name] for name in ("__init__", "set_used", "set_free")}

# a tiny Config strategy with padding bits in the last bitmap word
padded_configs = st.builds(Config, class_sizes=st.sampled_from([(8, 16), (8,)]),
                           slab_size=st.just(64), word_bits=st.sampled_from([64, 16, 5 + 1]),
                           mini_mag_capacity=st.integers(1, 4), refill_batch=st.integers(1, 4),
                           magazine_capacity=st.integers(1, 3), flush_interval=st.integers(1, 8))
multi_class_configs = st.builds(Config, class_sizes=st.sampled_from([(8, 16), (16, 32, 64)]),
                                slab_size=st.sampled_from([64, 128]),
                                word_bits=st.sampled_from([4, 8, 64]),
                                mini_mag_capacity=st.integers(1, 4),
                                refill_batch=st.integers(1, 4),
                                magazine_capacity=st.integers(1, 4),
                                flush_interval=st.integers(1, 8))
wide_block_configs = st.builds(Config, class_sizes=st.sampled_from([(16, 32), (16,)]),
                               slab_size=st.sampled_from([64, 128]),
                               word_bits=st.sampled_from([4, 8, 64]),
                               mini_mag_capacity=st.integers(1, 4),
                               refill_batch=st.integers(1, 4),
                               magazine_capacity=st.integers(1, 4),
                               flush_interval=st.integers(1, 8))
accurate_stats_configs = st.builds(Config, class_sizes=st.just((8,)), slab_size=st.just(64),
                                   word_bits=st.just(8), mini_mag_capacity=st.integers(1, 4),
                                   refill_batch=st.integers(1, 4),
                                   magazine_capacity=st.integers(1, 4),
                                   flush_interval=st.integers(1, 2))


# ============================================================================
# Bitmap, summary, hint
# ============================================================================


@mutant("summary-not-set", expect=("SUM-01",))
def _summary_not_set():
    """set_free clears the bit but does not set the summary bit of its word.
    Bug class: two-level index out of sync (free block invisible to the scan)."""
    def set_free(self, idx):
        w, b = divmod(idx, self.word_bits)
        self.words[w] &= ~(1 << b)
        self.free_count += 1
        if w < self.hint_word:
            self.hint_word = w
    return patched((TwoTierBitmap, "set_free", set_free))


@mutant("summary-not-cleared", expect=("SUM-01",))
def _summary_not_cleared():
    """set_used never clears the summary bit when a word fills.
    Bug class: stale index entry (scan visits full words, may hand out padding)."""
    def set_used(self, idx):
        w, b = divmod(idx, self.word_bits)
        self.words[w] |= 1 << b
        self.free_count -= 1
    return patched((TwoTierBitmap, "set_used", set_used))


@mutant("stale-hint-never-wraps", expect=("SUM-02", "OOM-01"))
def _stale_hint():
    """set_free does not lower hint_word: blocks freed below the hint are never found
    again by a scan that starts at the hint and does not wrap.
    Bug class: stale search cursor (memory leak / spurious out of memory)."""
    def set_free(self, idx):
        w, b = divmod(idx, self.word_bits)
        self.words[w] &= ~(1 << b)
        self.free_count += 1
        self.summary[w // self.word_bits] |= 1 << (w % self.word_bits)
    return patched((TwoTierBitmap, "set_free", set_free))


@mutant("padding-bits-free", expect=("SLAB-02",), configs=padded_configs)
def _padding_free():
    """The bitmap initialiser leaves the padding bits past nblocks free.
    Bug class: off-the-end block (hands out memory past the slab)."""
    def init(self, nblocks, word_bits=64):
        _bm["__init__"](self, nblocks, word_bits)
        self.words[-1] &= (1 << (nblocks - (self.nwords - 1) * word_bits)) - 1
    return patched((TwoTierBitmap, "__init__", init))


# ============================================================================
# Mini-magazine
# ============================================================================


@mutant("minimag-double-push", expect=("MM-02", "PART-01"))
def _mm_double_push():
    """A push into an empty mini-magazine inserts the block twice (a self-loop).
    Bug class: double insertion into an intrusive free list."""
    def push(slab, mag, ptr):
        ok = _orig["mini_mag_push"](slab, mag, ptr)
        if ok and mag.count == 1 and mag.capacity > 1:
            _orig["mini_mag_push"](slab, mag, ptr)
        return ok
    return patched((ops, "mini_mag_push", push))


@mutant("minimag-capacity-off-by-one", expect=("MM-01",))
def _mm_cap():
    """mini_mag_push tests count > capacity instead of >=: one block too many.
    Bug class: off-by-one at a cache's capacity."""
    def push(slab, mag, ptr):
        if mag.count > mag.capacity:
            return False
        store_word(slab, ptr, mag.head)
        mag.head = ptr
        mag.count += 1
        return True
    return patched((ops, "mini_mag_push", push))


@mutant("minimag-push-count-not-updated", expect=("MM-01", "MM-02", "OOM-01"))
def _mm_push_count():
    """mini_mag_push links the block but does not increment count.
    Bug class: counter not updated on push."""
    def push(slab, mag, ptr):
        if mag.count >= mag.capacity:
            return False
        store_word(slab, ptr, mag.head)
        mag.head = ptr
        return True
    return patched((ops, "mini_mag_push", push))


@mutant("minimag-pop-count-not-updated", expect=("MM-01",))
def _mm_pop_count():
    """mini_mag_pop unlinks the head but does not decrement count.
    Bug class: counter not updated on pop."""
    def pop(slab, mag):
        b = mag.head
        if b == NULL:
            return NULL
        mag.head = load_word(slab, b)
        return b
    return patched((ops, "mini_mag_pop", pop))


@mutant("minimag-pop-keeps-head", expect=("LIVE-02", "PART-01", "DATA-01", "MAG-02"))
def _mm_pop_keeps():
    """mini_mag_pop returns the head without unlinking it: the block is handed out
    and stays free. Bug class: double allocation."""
    def pop(slab, mag):
        b = mag.head
        if b == NULL:
            return NULL
        if mag.count > 1:
            mag.count -= 1
            return b
        return _orig["mini_mag_pop"](slab, mag)
    return patched((ops, "mini_mag_pop", pop))


# ============================================================================
# Batch refill and spill
# ============================================================================


@mutant("refill-loses-block", expect=("REF-01", "PART-01"))
def _refill_loses():
    """After a refill one more block is marked used and pushed nowhere.
    Bug class: block lost on refill (leak)."""
    def refill(slab, mag, want):
        got = _orig["batch_refill_from_bitmap"](slab, mag, want)
        if got and slab.bitmap.free_count > 0:
            slab.bitmap.set_used(slab.bitmap.find_free())
        return got
    return patched((ops, "batch_refill_from_bitmap", refill))


@mutant("refill-batch-off-by-one", expect=("MM-01",))
def _refill_obo():
    """The refill loop runs got <= want and pushes without a capacity check: one
    block past the batch, overfilling a mini-magazine.
    Bug class: off-by-one at the batch size."""
    def refill(slab, mag, want):
        room = mag.capacity - mag.count
        want = min(want, room)
        if want <= 0:
            return 0
        got = 0
        while got <= want and slab.bitmap.free_count > 0:
            idx = slab.bitmap.find_free()
            slab.bitmap.set_used(idx)
            p = slab.base + idx * slab.block_size
            store_word(slab, p, mag.head)
            mag.head = p
            mag.count += 1
            got += 1
        return got
    return patched((ops, "batch_refill_from_bitmap", refill))


@mutant("spill-frees-free-bit", expect=("SLAB-03", "SPL-01", "LIVE-01"))
def _spill_frees_free():
    """The spill also 'frees' a block whose bit is already free (free_count += 1).
    Bug class: double free into the bitmap (count drift)."""
    def spill(slab, mag):
        n = _orig["batch_spill_to_bitmap"](slab, mag)
        if n:
            idx = slab.bitmap.find_free()
            if idx >= 0:
                slab.bitmap.set_free(idx)
        return n
    return patched((ops, "batch_spill_to_bitmap", spill))


@mutant("spill-leaves-mini-mag", expect=("SPL-01", "MM-02"))
def _spill_leaves():
    """The spill marks the mini-magazine's blocks free but leaves the list intact.
    Bug class: block in two places (free list and bitmap) after eviction."""
    def spill(slab, mag):
        p, n = mag.head, 0
        while p != NULL and n < mag.count:
            slab.bitmap.set_free((p - slab.base) // slab.block_size)
            p = load_word(slab, p)
            n += 1
        return n
    return patched((ops, "batch_spill_to_bitmap", spill))


# ============================================================================
# TLS magazine
# ============================================================================


def _route_with(mag_put):
    """FastAllocator._free_route with its magazine push replaced by ``mag_put``."""
    def route(self, t, slab, addr):
        if slab.owner is not None and slab.owner != t.tid:
            return self._remote_push(slab, addr)
        if mag_put(self, t, slab, addr):
            return None
        self.probe.hit("mag_overflow")
        self._return_block(t.tid, slab, addr)
        return None
    return route


@mutant("magazine-double-insert", expect=("MAG-02",))
def _mag_double():
    """A free into the TLS magazine stores the block twice when there is room.
    Bug class: double insertion into a magazine (double allocation later)."""
    def put(self, t, slab, addr):
        mag = t.mags[slab.class_idx]
        if mag.top >= mag.cap:
            return False
        self.probe.mag(t.tid, slab.class_idx, mag.top, "free_magazine")
        mag.items[mag.top] = addr
        mag.top += 1
        if mag.top < mag.cap:
            mag.items[mag.top] = addr
            mag.top += 1
        return True
    return patched((FA, "_free_route", _route_with(put)))


@mutant("magazine-capacity-off-by-one", expect=("MAG-01",))
def _mag_cap():
    """The magazine accepts a free while top <= cap: one item past its capacity.
    Bug class: off-by-one at the magazine capacity (array overrun in C)."""
    def put(self, t, slab, addr):
        mag = t.mags[slab.class_idx]
        if mag.top > mag.cap:
            return False
        if mag.top == len(mag.items):
            mag.items.append(NULL)
        self.probe.mag(t.tid, slab.class_idx, mag.top, "free_magazine")
        mag.items[mag.top] = addr
        mag.top += 1
        return True
    return patched((FA, "_free_route", _route_with(put)))


@mutant("free-to-wrong-class-magazine", expect=("MAG-02",), configs=multi_class_configs)
def _mag_wrong_class():
    """A free goes to the magazine of the next size class.
    Bug class: block returned to a cache of the wrong size class."""
    def put(self, t, slab, addr):
        c = (slab.class_idx + 1) % self.config.num_classes
        mag = t.mags[c]
        if mag.top >= mag.cap:
            return False
        self.probe.mag(t.tid, c, mag.top, "free_magazine")
        mag.items[mag.top] = addr
        mag.top += 1
        return True
    return patched((FA, "_free_route", _route_with(put)))


@mutant("thread-exit-forgets-magazine", expect=("PART-01", "QUI-01"))
def _exit_forgets_mag():
    """thread_exit returns the active slabs but drops the TLS magazines.
    Bug class: blocks leaked by a thread exit."""
    def thread_exit(self, tid):
        t = self._threads.get(tid)
        if t is not None:
            for m in t.mags:
                m.top = 0
        return _fa["thread_exit"](self, tid)
    return patched((FA, "thread_exit", thread_exit))


# ============================================================================
# Remote-free stack
# ============================================================================


@mutant("remote-push-not-atomic", expect=("RMT-01", "RMT-02", "PART-01"))
def _remote_not_atomic():
    """The remote push stores the head instead of compare-and-swap: a drain between its
    load and its store is undone (drained blocks reappear on the stack).
    Bug class: lost update in a lock-free push (non-atomic push racing a drain)."""
    def cas(slab, expected, new):
        slab.remote_head = new
        return True
    return patched((ops, "atomic_cas_head", cas))


@mutant("drain-forgets-remote-count", expect=("RMT-02",))
def _drain_count():
    """The drain takes the stack but never subtracts what it took from remote_count.
    Bug class: counter not updated on a bulk take."""
    def drain(slab):
        head = ops.atomic_load_head(slab)
        if head == NULL:
            return 0
        idxs = ops.remote_blocks(slab, head)
        ops.atomic_exchange_head(slab, NULL)
        for idx in idxs:
            slab.bitmap.set_free(idx)
        return len(idxs)
    return patched((ops, "remote_drain", drain))


@mutant("double-drain", expect=("RMT-01", "SLAB-03", "RMT-02"))
def _double_drain():
    """The drain walks the stack without detaching it (load instead of exchange):
    the next drain frees the same blocks again. Bug class: double drain / double free."""
    def drain(slab):
        head = ops.atomic_load_head(slab)
        if head == NULL:
            return 0
        idxs = ops.remote_blocks(slab, head)
        for idx in idxs:
            slab.bitmap.set_free(idx)
        ops.atomic_add_remote_count(slab, -len(idxs))
        return len(idxs)
    return patched((ops, "remote_drain", drain))


@mutant("drain-leaves-blocks-used", expect=("PART-01",))
def _drain_used():
    """The drain detaches the stack but never marks its blocks free in the bitmap.
    Bug class: remote-freed blocks leaked."""
    def drain(slab):
        head = ops.atomic_load_head(slab)
        if head == NULL:
            return 0
        idxs = ops.remote_blocks(slab, head)
        ops.atomic_exchange_head(slab, NULL)
        ops.atomic_add_remote_count(slab, -len(idxs))
        return len(idxs)
    return patched((ops, "remote_drain", drain))


@mutant("remote-free-wrong-slab", expect=("RMT-01", "PART-01"))
def _remote_wrong_slab():
    """A remote free is pushed on the stack of the owner's *other* active slab.
    Bug class: free routed to the wrong slab (pointer-to-slab lookup error)."""
    def push_steps(slab, target, addr):
        while True:                      # remote_push_steps, head and count of target
            old = ops.atomic_load_head(target)
            yield "load"
            store_word(slab, addr, old)
            yield "link"
            if ops.atomic_cas_head(target, old, addr):
                break
            yield "cas-retry"
        yield "cas"
        ops.atomic_add_remote_count(target, 1)

    def route(self, t, slab, addr):
        if slab.owner is not None and slab.owner != t.tid:
            owner = self._threads[slab.owner]
            c = slab.class_idx
            other = owner.active_b[c] if owner.active_a[c] is slab else owner.active_a[c]
            target = other if other is not None else slab
            self.probe.slab_hit("free_remote", target.base)
            return push_steps(slab, target, addr)
        return _fa["_free_route"](self, t, slab, addr)
    return patched((FA, "_free_route", route))


# ============================================================================
# Ownership: active slabs A and B
# ============================================================================


@mutant("active-a-equals-b", expect=("OWN-01",))
def _a_eq_b():
    """Adopting a slab makes it both A and B (the old A is dropped, not moved to B).
    Bug class: aliasing of two cache slots."""
    def adopt(self, t, slab):
        _fa["_adopt"](self, t, slab)
        old_b = t.active_b[slab.class_idx]
        if old_b is not None and old_b is not slab:
            self._evict(t, old_b)
        t.active_b[slab.class_idx] = slab
    return patched((FA, "_adopt", adopt))


@mutant("evict-keeps-active-pointer", expect=("OWN-01",))
def _evict_keeps_active():
    """evict_active releases the slab but leaves the thread's A pointer on it.
    Bug class: active slab kept after release (use after release, two owners)."""
    def evict_active(self, tid, class_idx):
        t, slab = self._thread_and_active(tid, class_idx)
        if slab is None:
            return False
        self._evict(t, slab)
        return True
    return patched((FA, "evict_active", evict_active))


@mutant("evict-keeps-owner", expect=("OWN-02", "OWN-01"))
def _evict_keeps_owner():
    """An evicted slab keeps its owner tid although it left the thread's A/B.
    Bug class: stale ownership (frees go remote to a thread that never drains)."""
    def evict(self, t, slab):
        _fa["_evict"](self, t, slab)
        if slab.base in self._slabs:
            slab.owner = t.tid
    return patched((FA, "_evict", evict))


@mutant("adopt-foreign-slab", expect=("OWN-01", "OWN-02", "CONF-01"))
def _adopt_foreign():
    """The slow path adopts a partial slab even when another thread owns it.
    Bug class: two owners of one slab (unsynchronised bitmap access).  The path check
    sees it first when the adoption serves an alloc the design sends to a new slab."""
    def find_partial(self, c):
        best = None
        for slab in self._class_slabs[c].values():
            if slab.bitmap.free_count > 0 or slab.mini_mag.count > 0:
                if best is None or slab.base < best.base:
                    best = slab
        return best
    return patched((FA, "_find_partial", find_partial))


# ============================================================================
# Slab pool and memory limit
# ============================================================================


@mutant("release-with-live-block", expect=("LIVE-01",))
def _release_live():
    """An unowned slab is released when one block is still in use.
    Bug class: slab freed under a live block (use after free of the client's data)."""
    def maybe_release(self, slab):
        if slab.owner is None and slab.base in self._slabs and slab.mini_mag.count == 0 \
                and slab.remote_head == NULL and slab.bitmap.free_count >= slab.nblocks - 1 \
                and slab.nblocks > 1:
            del self._slabs[slab.base]
            del self._class_slabs[slab.class_idx][slab.base]
            self._free_bases.append(slab.base)
            self.probe.slab_hit("slab_release", slab.base)
            return
        return _fa["_maybe_release"](self, slab)
    return patched((FA, "_maybe_release", maybe_release))


@mutant("slab-limit-off-by-one", expect=("OOM-01",))
def _limit_obo():
    """The memory limit check refuses the last slab (>= limit - 1).
    Bug class: spurious out of memory (off-by-one at a limit)."""
    def new_slab(self, c):
        lim = self.config.max_slabs_per_class
        if lim is not None and len(self._class_slabs[c]) >= lim - 1:
            return None
        return _fa["_new_slab"](self, c)
    return patched((FA, "_new_slab", new_slab))


@mutant("partial-slabs-ignored", expect=("OOM-01", "CONF-01"))
def _partial_ignored():
    """The slow path never reuses an unowned partial slab: it asks for a new one.
    Bug class: fragmentation leak (out of memory with free blocks available).  The path
    check sees it at the first such alloc: a new slab where the design adopts (CONF-01)."""
    return patched((FA, "_find_partial", lambda self, c: None))


# ============================================================================
# Client-visible behaviour: sizes, validation, data
# ============================================================================


@mutant("size-class-off-by-one", expect=("LOCK-02",))
def _size_obo():
    """The size-class lookup maps size s to the class of s - 1 (s = 9 gets 8 bytes).
    Bug class: undersized block (heap overflow by the client)."""
    def size_to_cls(size, class_sizes):
        c = size_to_class(size, class_sizes)
        if size > 0 and size - 1 <= class_sizes[c - 1 if c else 0] and c:
            return c - 1
        return c
    return patched((fa_mod, "size_to_class", size_to_cls))


@mutant("double-free-undetected", expect=("LOCK-01",))
def _double_free():
    """free() accepts a block start that is not live (no double-free detection);
    the block enters a cache twice. Bug class: undetected double free."""
    def validate(self, addr, tid):
        try:
            return _fa["_validate_free"](self, addr, tid)
        except fa_mod.DoubleFree:
            slab = self._slab_of(addr)
            self._live[addr] = slab.class_idx
            return slab, slab.class_idx
    return patched((FA, "_validate_free", validate))


@mutant("error-changes-state", expect=("LOCK-01",))
def _error_state():
    """free() creates the calling thread's state before validating the address, so a
    rejected free still changes the allocator. Bug class: side effect on an error path."""
    def validate(self, addr, tid):
        self._check_tid(tid)
        self._thread(tid)
        return _fa["_validate_free"](self, addr, tid)
    return patched((FA, "_validate_free", validate))


@mutant("free-poisons-neighbour", expect=("DATA-01",), configs=wide_block_configs)
def _poison_neighbour():
    """free() poisons the freed block past its next pointer with the wrong length
    (block_size bytes from offset 8): the first 8 bytes past the block's end, in the
    neighbour, are overwritten. Bug class: allocator write into a live block."""
    def free_(self, addr, tid):
        push = _fa["_free"](self, addr, tid)
        slab = self._slab_of(addr)
        if slab is not None:
            off = addr - slab.base + 8
            end = min(off + slab.block_size, len(slab.mem))
            slab.mem[off:end] = b"\xdd" * (end - off)
        return push
    return patched((FA, "_free", free_))


# ============================================================================
# Statistics
# ============================================================================


@mutant("stats-never-flushed", expect=("STAT-02",))
def _stats_never():
    """Events are recorded in the thread batch but never flushed on the way.
    Bug class: statistics recorded without flush (unbounded drift)."""
    return patched((ops, "stats_flush_if_needed", lambda batch, g, c, iv: False))


@mutant("stats-flush-off-by-one", expect=("STAT-01",))
def _stats_obo():
    """The flush adds one event fewer than the batch held.
    Bug class: off-by-one in a counter flush (conservation broken)."""
    def flush(batch, g, c, iv):
        n = batch[c]
        if n >= iv:
            ops.atomic_add(g, c, n - 1)
            batch[c] = 0
            return True
        return False
    return patched((ops, "stats_flush_if_needed", flush))


@mutant("stats-lost-at-thread-exit", expect=("STAT-01",))
def _stats_exit():
    """thread_exit discards the thread's pending stat batch instead of flushing it.
    Bug class: per-thread counters lost at thread exit."""
    def thread_exit(self, tid):
        t = self._threads.get(tid)
        if t is not None:
            t.alloc_batch[:] = [0] * len(t.alloc_batch)
            t.free_batch[:] = [0] * len(t.free_batch)
        return _fa["thread_exit"](self, tid)
    return patched((FA, "thread_exit", thread_exit))


@mutant("stats-global-add-not-atomic", expect=("STAT-01",))
def _stats_racy():
    """The global counter add is load + store, and a second flush to the same counter
    lands between them: one of the two additions is lost.
    Bug class: non-atomic read-modify-write of a shared counter (lost update)."""
    last = {}

    def racy_add(counters, idx, delta):
        key = (id(counters), idx)
        if key in last:                      # loaded before the previous store landed
            counters[idx] = last.pop(key) + delta
        else:
            last[key] = counters[idx]
            counters[idx] += delta
    return patched((ops, "atomic_add", racy_add))


@mutant("stats-reported-stale", expect=("STAT-03",), configs=accurate_stats_configs)
def _stats_stale():
    """stats() returns the counters as of the last thread exit, not the flushed ones.
    Bug class: reported statistics from a stale copy (more than 1% off)."""
    def stats(self):
        if "_stale_stats" not in self.__dict__:
            self._stale_stats = _fa["stats"](self)
        return self._stale_stats

    def thread_exit(self, tid):
        _fa["thread_exit"](self, tid)
        self._stale_stats = _fa["stats"](self)
    return patched((FA, "stats", stats), (FA, "thread_exit", thread_exit))


@mutant("quiesce-skips-a-thread", expect=("QUI-01",))
def _quiesce_skip():
    """quiesce exits every thread but the last one.
    Bug class: incomplete teardown (a thread's caches never returned)."""
    def quiesce(self):
        for tid in sorted(self._threads)[:-1]:
            self.thread_exit(tid)
        for slab in list(self._slabs.values()):
            if slab.owner is None:
                self._drain(slab)
            self._maybe_release(slab)
    return patched((FA, "quiesce", quiesce))


@mutant("free-count-drift", expect=("SLAB-03",))
def _free_count_drift():
    """set_used forgets to decrement free_count when it fills a word.
    Bug class: a cached count drifting from the structure it summarises."""
    def set_used(self, idx):
        w = idx // self.word_bits
        _bm["set_used"](self, idx)
        if self.words[w] == self.full:
            self.free_count += 1
    return patched((TwoTierBitmap, "set_used", set_used))


@mutant("slab-geometry-off-by-one", expect=("SLAB-01",))
def _geometry():
    """A new slab is carved into one block fewer than slab_size / block_size (the last
    block is never used). Bug class: wrong slab geometry (header reservation miscount)."""
    def new_slab(self, c):
        slab = _fa["_new_slab"](self, c)
        if slab is not None and slab.nblocks > 1:
            slab.nblocks -= 1
            slab.bitmap = TwoTierBitmap(slab.nblocks, self.config.word_bits)
        return slab
    return patched((FA, "_new_slab", new_slab))


@mutant("hot-refill-loses-block", expect=("REF-01", "PART-01"))
def _hot_refill_loses():
    """The hot-path refill (Phase 2 step 3) marks one block more used than it pushes.
    Bug class: block lost on refill, on the hottest refill site only."""
    def lossy(slab, mag, want):
        got = _orig["batch_refill_from_bitmap"](slab, mag, want)
        if got and slab.bitmap.free_count > 0:
            slab.bitmap.set_used(slab.bitmap.find_free())
        return got

    def alloc_hot(self, t, c):
        ops.batch_refill_from_bitmap = lossy
        try:
            return _fa["_alloc_hot"](self, t, c)
        finally:
            ops.batch_refill_from_bitmap = _orig["batch_refill_from_bitmap"]
    return patched((FA, "_alloc_hot", alloc_hot))


@mutant("evict-skips-spill", expect=("SPL-01",))
def _evict_skips_spill():
    """Evicting an active slab drains it and drops ownership but does not spill its
    mini-magazine. Bug class: cached blocks stranded in a slab nobody owns."""
    def evict_active(self, tid, class_idx):
        t, slab = self._thread_and_active(tid, class_idx)
        if slab is None:
            return False
        self.probe.thread(tid)
        self._drain(slab)
        slab.owner = None
        self.probe.slab(slab.base)
        t.active_a[class_idx], t.active_b[class_idx] = t.active_b[class_idx], None
        return True
    return patched((FA, "evict_active", evict_active))


@mutant("exact-counts-failed-alloc", expect=("STAT-04", "STAT-01"))
def _exact_failed():
    """The exact alloc counter is bumped before the out-of-memory test, so a failed
    alloc is counted. Bug class: statistics counting failed operations."""
    orig = FA.__dict__["alloc"]

    def alloc(self, size, tid=0):
        p = orig(self, size, tid)
        if p is None:
            self._exact_alloc[fa_mod.size_to_class(size, self.config.class_sizes)] += 1
        return p
    return patched((FA, "alloc", alloc))


@mutant("magazine-pop-post-decrement", expect=("LIVE-02", "PART-01", "RMT-01", "MM-02",
                                               "DATA-01"))
def _mag_post_decrement():
    """The TLS magazine pop reads items[top] and then decrements (items[top--] for
    items[--top]): it returns a stale slot, a block handed out before, and strands the
    real top item. Bug class: off-by-one array pop (double allocation)."""
    def alloc_hot(self, t, c):
        mag = t.mags[c]
        if mag.top > 0:
            p = mag.items[mag.top] if mag.top < mag.cap else mag.items[mag.top - 1]
            mag.top -= 1
            if p != NULL:
                self.probe.mag(t.tid, c, mag.top, "tls_mag")
                return p
            mag.top += 1
        return _fa["_alloc_hot"](self, t, c)
    return patched((FA, "_alloc_hot", alloc_hot))


@mutant("slab-released-twice", expect=("LIVE-02", "OWN-01", "MAG-02", "PART-01"))
def _released_twice():
    """Releasing a slab pushes its address on the free-slab list twice, so two later
    slab acquisitions get the same memory. Bug class: double release of a page/span
    (two owners of one address range, double allocation)."""
    def maybe_release(self, slab):
        n = len(self._free_bases)
        _fa["_maybe_release"](self, slab)
        if len(self._free_bases) > n:
            self._free_bases.insert(0, self._free_bases[-1])
    return patched((FA, "_maybe_release", maybe_release))


@mutant("magazine-pop-stale-slot", expect=("LIVE-02",))
def _mag_stale_slot():
    """When the slot just above top still holds an address, the TLS magazine 'pop'
    returns it without touching top: the block popped last time, which the client
    still holds. Bug class: reading a stale array slot (double allocation)."""
    def alloc_hot(self, t, c):
        mag = t.mags[c]
        if 0 < mag.top < mag.cap and mag.items[mag.top] != NULL:
            self.probe.hit("tls_mag")
            return mag.items[mag.top]
        return _fa["_alloc_hot"](self, t, c)
    return patched((FA, "_alloc_hot", alloc_hot))
