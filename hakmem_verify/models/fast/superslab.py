"""SuperSlab mode (``Config.use_superslab``, the seed's ``HAKMEM_TINY_USE_SUPERSLAB``).

The tiny pool's second configuration, after mimalloc's segments and snmalloc's
superslabs (``docs/DESIGN-SUMMARY.md``, section "SuperSlab mode", gives each choice
and what the seed says):

* A SuperSlab is ``superslab_size`` bytes at an address aligned to its size, so
  ``addr & ~(superslab_size - 1)`` is the SuperSlab of any block; slot 0 holds the
  header (owner, the slab of each slot, the free slots), slots 1.. are slabs carved on
  demand (``structs.SuperSlab``).
* One thread owns a SuperSlab (``owner``) and lists it in its thread state; a slab's
  owner is its SuperSlab's owner or None.  The slow path creates a slab only in a
  SuperSlab the thread owns: one with a free slot, else an abandoned one it reclaims,
  else one from the pool of empty SuperSlabs, else a new one mapped from the OS.  It
  adopts only unowned slabs of its own SuperSlabs, or of an abandoned SuperSlab it
  reclaims whole (the header's owner becomes the thread).
* ``thread_exit`` abandons the thread's SuperSlabs (owner None) after evicting its
  active slabs and returning its caches.
* A fully free unowned slab goes back to its SuperSlab's free slots; a SuperSlab with
  no slab in use (a slab with blocks on its remote stack is in use) goes to the pool,
  at most ``superslab_pool_max`` kept, else back to the OS.
* Free pipeline: a free into a SuperSlab the caller owns is ``ss_local``: onto the
  caller's tls_sll of the class (an intrusive list through the freed blocks, at most
  ``tls_sll_capacity``; counted ``tls_sll``), else the TLS magazine, else the slab.
  Any other free is ``ss_remote`` (another owner's SuperSlab, or an abandoned one: the
  caller owns neither, as mimalloc counts a free into an abandoned segment as a
  non-local free) and takes the default route: the slab's remote stack when another
  thread owns the slab, else the TLS magazine, else the slab.  An alloc pops the
  tls_sll first (``ss_alloc_tls_sll_hit``).

``FastSuperSlab`` is a mixin of ``hakmem_verify.models.fast.allocator.FastAllocator``; every method
here is reached only when ``self._ss`` is True.
"""
from __future__ import annotations

from typing import Optional

from .structs import NULL, SuperSlab, ThreadState, TinySlab, load_word, store_word


class FastSuperSlab:
    """Mixin of FastAllocator: the SuperSlab layer, its pool and the tls_sll."""

    def _ss_init(self) -> None:
        cfg = self.config
        self._ss = cfg.use_superslab                 # SuperSlab mode on
        self._superslabs = {}                       # base -> SuperSlab in use
        self._ss_pool = []                          # empty SuperSlabs kept for reuse
        self._ss_unmapped = []                      # bases returned to the OS (reused first)
        self._ss_mask = ~(cfg.superslab_size - 1)   # addr & mask == base of its SuperSlab
        self._slow_thread = None                    # the thread in the slow path (its TLS)
        if self._ss:        # no free-base list: a released slab's slot goes back to its
            self._free_bases = None     # SuperSlab, whose slots SS-02 accounts for

    def _ss_slot(self, ss_base: int, addr: int) -> int:
        """Slot of the SuperSlab at ss_base that holds addr."""
        return (addr - ss_base) // self.config.slab_size

    # ========================================================================
    # tls_sll: per thread and class, intrusive through the freed blocks
    # ========================================================================

    def _sll_push(self, t: ThreadState, c: int, slab: TinySlab, addr: int) -> bool:
        """Push a free block on t's tls_sll of class c (its link stored in the block);
        False (nothing changed) when the list holds tls_sll_capacity blocks."""
        if t.sll_count[c] >= self.config.tls_sll_capacity:
            return False
        self._sll_link(t, c, slab, addr)
        return True

    def _sll_link(self, t: ThreadState, c: int, slab: TinySlab, addr: int) -> None:
        """Link a free block in as the head of t's tls_sll of class c."""
        store_word(slab, addr, t.sll_head[c])
        t.sll_head[c] = addr
        t.sll_count[c] += 1
        self.probe.slab(slab.base)

    def _sll_pop(self, t: ThreadState, c: int) -> int:
        """Pop t's tls_sll of class c: the head block, NULL when empty."""
        p = t.sll_head[c]
        if p == NULL:
            return NULL
        slab = self._slabs[p & self._slab_mask]
        t.sll_head[c] = load_word(slab, p)
        t.sll_count[c] -= 1
        self.probe.slab(slab.base)
        self._popped = (t.tid, p)                   # a TLS cache of t's, as its magazine
        return p

    def _sll_flush_steps(self, t: ThreadState):
        """Return every block of t's tls_sll lists to its slab (thread exit, quiesce)."""
        for c in range(self.config.num_classes):
            while t.sll_head[c] != NULL:
                p = self._sll_pop(t, c)
                self.probe.hit("tls_sll_flush")
                yield from self._return_block_steps(t.tid, self._slab_of(p), p)

    # ========================================================================
    # Free route
    # ========================================================================

    def _ss_free_route(self, t: ThreadState, slab: TinySlab, addr: int):
        """The free route of SuperSlab mode (module doc): ``ss_local`` onto the tls_sll,
        else the magazine, else the slab; ``ss_remote`` the default route.  Returns the
        remote push's steps, not yet run, or None when the block is placed."""
        ss = self._superslabs[addr & self._ss_mask]
        local = ss.owner == t.tid
        self._ss_count_free(t, ss)
        if not local:
            if slab.owner is not None and slab.owner != t.tid:
                return self._remote_push(slab, addr)
        elif self._sll_push(t, slab.class_idx, slab, addr):
            self.probe.hit("tls_sll")
            self.probe.hit("ss_free_early_local")
            return None
        if self._keep_or_return(t, slab, addr) and local:
            self.probe.hit("ss_free_early_local")
        return None

    def _ss_count_free(self, t: ThreadState, ss: SuperSlab) -> None:
        """Count t's free into ss on the free pipeline: ``ss_local`` when t owns ss,
        else ``ss_remote``."""
        self.probe.hit("ss_local" if ss.owner == t.tid else "ss_remote")

    # ========================================================================
    # Slow path: partial slabs, carving, reclaim
    # ========================================================================

    def _ss_find_partial(self, t: ThreadState, c: int) -> Optional[TinySlab]:
        """Slow path: the slab of class c that t may adopt of lowest
        ``_ss_partial_rank``; one in an abandoned SuperSlab, which t reclaims whole."""
        best, best_key = None, None
        for slab in self._class_slabs[c].values():
            key = self._ss_partial_rank(t, slab)
            if key is not None and (best_key is None or key < best_key):
                best, best_key = slab, key
        if best is not None:
            ss = self._superslabs[best.base & self._ss_mask]
            if ss.owner is None:
                self._ss_reclaim(t, ss)
        return best

    def _ss_partial_rank(self, t: ThreadState, slab: TinySlab):
        """Rank of an unowned slab with a free block among those t may adopt, lowest
        first: in a SuperSlab t owns, then in an abandoned one, each by base; None when
        t may not adopt it (owned, full, or in another thread's SuperSlab)."""
        if slab.owner is not None or not (slab.bitmap.free_count > 0 or slab.mini_mag.count
                                          or slab.remote_head != NULL):
            return None
        owner = self._superslabs[slab.base & self._ss_mask].owner
        if owner is not None and owner != t.tid:
            return None
        return (owner is None, slab.base)

    def _ss_carve(self, t: ThreadState) -> int:
        """Base of a free slot for a new slab, in a SuperSlab t owns: one with a free
        slot, else an abandoned one (reclaimed), else one from the pool, else a new one."""
        ss = self._ss_with_room(t.tid) or self._ss_with_room(None)
        if ss is not None and ss.owner is None:
            self._ss_reclaim(t, ss)
        if ss is None:
            ss = self._ss_acquire(t)
        slot = ss.free_slots.pop() if ss.free_slots else ss.carved
        if slot == ss.carved:
            ss.carved += 1
        return ss.base + slot * self.config.slab_size

    def _ss_with_room(self, owner) -> Optional[SuperSlab]:
        """Lowest SuperSlab in use owned by ``owner`` (None: abandoned) with a free slot."""
        best = None
        for ss in self._superslabs.values():
            if ss.owner == owner and (ss.free_slots or ss.carved < ss.nslots):
                if best is None or ss.base < best.base:
                    best = ss
        return best

    def _ss_place(self, slab: TinySlab) -> None:
        """Enter a new slab in its SuperSlab's header."""
        ss = self._superslabs[slab.base & self._ss_mask]
        ss.slabs[self._ss_slot(ss.base, slab.base)] = slab
        ss.in_use += 1

    def _ss_reclaim(self, t: ThreadState, ss: SuperSlab) -> None:
        """t takes the abandoned SuperSlab ss whole: the header names t its owner."""
        ss.owner = t.tid
        t.superslabs.append(ss.base)
        self.probe.hit("ss_reclaim")
        self.probe.thread(t.tid)
        self._ss_touch(ss)

    def _ss_touch(self, ss: SuperSlab) -> None:
        """Every slab of ss changed (its SuperSlab's owner, shown in each slab's snapshot)."""
        for slab in ss.slabs:
            if slab is not None:
                self.probe.slab(slab.base)

    # ========================================================================
    # The pool of empty SuperSlabs, mapping and release
    # ========================================================================

    def _ss_acquire(self, t: ThreadState) -> SuperSlab:
        """An empty SuperSlab for t: popped from the pool, else mapped (a base returned to
        the OS first, else the next aligned address); t owns it."""
        if self._ss_pool:
            ss = self._ss_pool_pop()
            self.probe.hit("ss_pool_pop")
        else:
            ss = SuperSlab(self._ss_map_base(), self.config.superslab_slots)
            self.probe.hit("ss_map")
        ss.owner = t.tid
        t.superslabs.append(ss.base)
        self._superslabs[ss.base] = ss
        self.probe.thread(t.tid)
        return ss

    def _ss_pool_pop(self) -> SuperSlab:
        """Take the last SuperSlab of the pool (under the pool lock)."""
        return self._ss_pool.pop()

    def _ss_map_base(self) -> int:
        if self._ss_unmapped:
            return self._ss_unmapped.pop()
        size = self.config.superslab_size
        base = -(-self._next_base // size) * size
        self._next_base = base + size
        return base

    def _ss_slab_released(self, slab: TinySlab) -> None:
        """A released slab's slot goes back to its SuperSlab; the SuperSlab is released
        when it has no slab in use."""
        ss = self._superslabs[slab.base & self._ss_mask]
        slot = self._ss_slot(ss.base, slab.base)
        if ss.slabs[slot] is slab:
            ss.slabs[slot] = None
            ss.in_use -= 1
        ss.free_slots.append(slot)
        if self._ss_releasable(ss):
            self._ss_release(ss)

    def _ss_releasable(self, ss: SuperSlab) -> bool:
        """No slab in use: every slab is free and every remote stack empty (a slab with
        blocks on its remote stack is not free, so it is still in use)."""
        return ss.in_use == 0

    def _ss_release(self, ss: SuperSlab) -> None:
        """ss leaves the pool of SuperSlabs in use: its owner forgets it; it goes to the
        pool of empty SuperSlabs (at most superslab_pool_max) or back to the OS.  A slab
        still carved in it is dropped with it and recorded (SS-04)."""
        met = []
        for slot, slab in enumerate(ss.slabs):
            if slab is not None:
                used = slab.nblocks - slab.bitmap.free_count
                met.append((slab.base, used, slab.remote_count))
                self._slabs.pop(slab.base, None)
                self._class_slabs[slab.class_idx].pop(slab.base, None)
                ss.slabs[slot] = None
        del self._superslabs[ss.base]
        t = self._threads.get(ss.owner) if ss.owner is not None else None
        if t is not None and ss.base in t.superslabs:
            t.superslabs.remove(ss.base)
            self.probe.thread(t.tid)
        ss.owner, ss.in_use, ss.free_slots, ss.carved = None, 0, [], 1
        if len(self._ss_pool) < self.config.superslab_pool_max:
            self._ss_pool.append(ss)
            self.probe.ss_release(ss.base, "ss_pool_push", met)
        else:
            self._ss_unmapped.append(ss.base)
            self.probe.ss_release(ss.base, "ss_unmap", met)

    def _ss_abandon(self, t: ThreadState) -> None:
        """Thread exit: t's SuperSlabs lose their owner (mimalloc's abandoned segments)."""
        for base in t.superslabs:
            ss = self._superslabs.get(base)
            if ss is not None and ss.owner == t.tid:
                ss.owner = None
                self.probe.hit("ss_abandon")
                self._ss_touch(ss)
        t.superslabs = []


__all__ = ["FastSuperSlab"]
