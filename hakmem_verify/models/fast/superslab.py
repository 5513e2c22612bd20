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

Functions over the allocator's fields: each takes the
``hakmem_verify.models.fast.allocator.FastAllocator`` as its first argument ``fa``; every one
but :func:`init` is reached only when ``fa._ss`` is True.
"""
from __future__ import annotations

from typing import Optional

from . import steps, validate
from .structs import NULL, SuperSlab, ThreadState, TinySlab, load_word, store_word


def init(fa) -> None:
    """The SuperSlab mode's fields of fa (set whether the mode is on or not)."""
    cfg = fa.config
    fa._ss = cfg.use_superslab                  # SuperSlab mode on
    fa._superslabs = {}                         # base -> SuperSlab in use
    fa._ss_pool = []                            # empty SuperSlabs kept for reuse
    fa._ss_unmapped = []                        # bases returned to the OS (reused first)
    fa._ss_mask = ~(cfg.superslab_size - 1)     # addr & mask == base of its SuperSlab
    fa._slow_thread = None                      # the thread in the slow path (its TLS)
    if fa._ss:          # no free-base list: a released slab's slot goes back to its
        fa._free_bases = None       # SuperSlab, whose slots SS-02 accounts for


def slot_of(fa, ss_base: int, addr: int) -> int:
    """Slot of the SuperSlab at ss_base that holds addr."""
    return (addr - ss_base) // fa.config.slab_size


# ========================================================================
# tls_sll: per thread and class, intrusive through the freed blocks
# ========================================================================


def sll_push(fa, t: ThreadState, c: int, slab: TinySlab, addr: int) -> bool:
    """Push a free block on t's tls_sll of class c (its link stored in the block);
    False (nothing changed) when the list holds tls_sll_capacity blocks."""
    if t.sll_count[c] >= fa.config.tls_sll_capacity:
        return False
    sll_link(fa, t, c, slab, addr)
    return True


def sll_link(fa, t: ThreadState, c: int, slab: TinySlab, addr: int) -> None:
    """Link a free block in as the head of t's tls_sll of class c."""
    store_word(slab, addr, t.sll_head[c])
    t.sll_head[c] = addr
    t.sll_count[c] += 1
    fa.probe.slab(slab.base)


def sll_pop(fa, t: ThreadState, c: int) -> int:
    """Pop t's tls_sll of class c: the head block, NULL when empty."""
    p = t.sll_head[c]
    if p == NULL:
        return NULL
    slab = fa._slabs[p & fa._slab_mask]
    t.sll_head[c] = load_word(slab, p)
    t.sll_count[c] -= 1
    fa.probe.slab(slab.base)
    fa._popped = (t.tid, p)                     # a TLS cache of t's, as its magazine
    return p


def sll_flush_steps(fa, t: ThreadState):
    """Return every block of t's tls_sll lists to its slab (thread exit, quiesce)."""
    for c in range(fa.config.num_classes):
        while t.sll_head[c] != NULL:
            p = sll_pop(fa, t, c)
            fa.probe.hit("tls_sll_flush")
            yield from steps.return_block_steps(fa, t.tid, validate.slab_of(fa, p), p)


# ========================================================================
# Free route
# ========================================================================


def free_route(fa, t: ThreadState, slab: TinySlab, addr: int):
    """The free route of SuperSlab mode (module doc): ``ss_local`` onto the tls_sll,
    else the magazine, else the slab; ``ss_remote`` the default route.  Returns the
    remote push's steps, not yet run, or None when the block is placed."""
    ss = fa._superslabs[addr & fa._ss_mask]
    local = ss.owner == t.tid
    count_free(fa, t, ss)
    if not local:
        if slab.owner is not None and slab.owner != t.tid:
            return fa._remote_push(slab, addr)
    elif sll_push(fa, t, slab.class_idx, slab, addr):
        fa.probe.hit("tls_sll")
        fa.probe.hit("ss_free_early_local")
        return None
    if fa._keep_or_return(t, slab, addr) and local:
        fa.probe.hit("ss_free_early_local")
    return None


def count_free(fa, t: ThreadState, ss: SuperSlab) -> None:
    """Count t's free into ss on the free pipeline: ``ss_local`` when t owns ss,
    else ``ss_remote``."""
    fa.probe.hit("ss_local" if ss.owner == t.tid else "ss_remote")


# ========================================================================
# Slow path: partial slabs, carving, reclaim
# ========================================================================


def find_partial(fa, t: ThreadState, c: int) -> Optional[TinySlab]:
    """Slow path: the slab of class c that t may adopt of lowest
    ``partial_rank``; one in an abandoned SuperSlab, which t reclaims whole."""
    best, best_key = None, None
    for slab in fa._class_slabs[c].values():
        key = partial_rank(fa, t, slab)
        if key is not None and (best_key is None or key < best_key):
            best, best_key = slab, key
    if best is not None:
        ss = fa._superslabs[best.base & fa._ss_mask]
        if ss.owner is None:
            reclaim(fa, t, ss)
    return best


def partial_rank(fa, t: ThreadState, slab: TinySlab):
    """Rank of an unowned slab with a free block among those t may adopt, lowest
    first: in a SuperSlab t owns, then in an abandoned one, each by base; None when
    t may not adopt it (owned, full, or in another thread's SuperSlab)."""
    if slab.owner is not None or not (slab.bitmap.free_count > 0 or slab.mini_mag.count
                                      or slab.remote_head != NULL):
        return None
    owner = fa._superslabs[slab.base & fa._ss_mask].owner
    if owner is not None and owner != t.tid:
        return None
    return (owner is None, slab.base)


def carve(fa, t: ThreadState) -> int:
    """Base of a free slot for a new slab, in a SuperSlab t owns: one with a free
    slot, else an abandoned one (reclaimed), else one from the pool, else a new one."""
    ss = with_room(fa, t.tid) or with_room(fa, None)
    if ss is not None and ss.owner is None:
        reclaim(fa, t, ss)
    if ss is None:
        ss = acquire(fa, t)
    slot = ss.free_slots.pop() if ss.free_slots else ss.carved
    if slot == ss.carved:
        ss.carved += 1
    return ss.base + slot * fa.config.slab_size


def with_room(fa, owner) -> Optional[SuperSlab]:
    """Lowest SuperSlab in use owned by ``owner`` (None: abandoned) with a free slot."""
    best = None
    for ss in fa._superslabs.values():
        if ss.owner == owner and (ss.free_slots or ss.carved < ss.nslots):
            if best is None or ss.base < best.base:
                best = ss
    return best


def place(fa, slab: TinySlab) -> None:
    """Enter a new slab in its SuperSlab's header."""
    ss = fa._superslabs[slab.base & fa._ss_mask]
    ss.slabs[slot_of(fa, ss.base, slab.base)] = slab
    ss.in_use += 1


def reclaim(fa, t: ThreadState, ss: SuperSlab) -> None:
    """t takes the abandoned SuperSlab ss whole: the header names t its owner."""
    ss.owner = t.tid
    t.superslabs.append(ss.base)
    fa.probe.hit("ss_reclaim")
    fa.probe.thread(t.tid)
    touch(fa, ss)


def touch(fa, ss: SuperSlab) -> None:
    """Every slab of ss changed (its SuperSlab's owner, shown in each slab's snapshot)."""
    for slab in ss.slabs:
        if slab is not None:
            fa.probe.slab(slab.base)


# ========================================================================
# The pool of empty SuperSlabs, mapping and release
# ========================================================================


def acquire(fa, t: ThreadState) -> SuperSlab:
    """An empty SuperSlab for t: popped from the pool, else mapped (a base returned to
    the OS first, else the next aligned address); t owns it."""
    if fa._ss_pool:
        ss = pool_pop(fa)
        fa.probe.hit("ss_pool_pop")
    else:
        ss = SuperSlab(map_base(fa), fa.config.superslab_slots)
        fa.probe.hit("ss_map")
    ss.owner = t.tid
    t.superslabs.append(ss.base)
    fa._superslabs[ss.base] = ss
    fa.probe.thread(t.tid)
    return ss


def pool_pop(fa) -> SuperSlab:
    """Take the last SuperSlab of the pool (under the pool lock)."""
    return fa._ss_pool.pop()


def map_base(fa) -> int:
    if fa._ss_unmapped:
        return fa._ss_unmapped.pop()
    size = fa.config.superslab_size
    base = -(-fa._next_base // size) * size
    fa._next_base = base + size
    return base


def slab_released(fa, slab: TinySlab) -> None:
    """A released slab's slot goes back to its SuperSlab; the SuperSlab is released
    when it has no slab in use."""
    ss = fa._superslabs[slab.base & fa._ss_mask]
    slot = slot_of(fa, ss.base, slab.base)
    if ss.slabs[slot] is slab:
        ss.slabs[slot] = None
        ss.in_use -= 1
    ss.free_slots.append(slot)
    if releasable(fa, ss):
        release(fa, ss)


def releasable(fa, ss: SuperSlab) -> bool:
    """No slab in use: every slab is free and every remote stack empty (a slab with
    blocks on its remote stack is not free, so it is still in use)."""
    return ss.in_use == 0


def release(fa, ss: SuperSlab) -> None:
    """ss leaves the pool of SuperSlabs in use: its owner forgets it; it goes to the
    pool of empty SuperSlabs (at most superslab_pool_max) or back to the OS.  A slab
    still carved in it is dropped with it and recorded (SS-04)."""
    met = []
    for slot, slab in enumerate(ss.slabs):
        if slab is not None:
            used = slab.nblocks - slab.bitmap.free_count
            met.append((slab.base, used, slab.remote_count))
            fa._slabs.pop(slab.base, None)
            fa._class_slabs[slab.class_idx].pop(slab.base, None)
            ss.slabs[slot] = None
    del fa._superslabs[ss.base]
    t = fa._threads.get(ss.owner) if ss.owner is not None else None
    if t is not None and ss.base in t.superslabs:
        t.superslabs.remove(ss.base)
        fa.probe.thread(t.tid)
    ss.owner, ss.in_use, ss.free_slots, ss.carved = None, 0, [], 1
    if len(fa._ss_pool) < fa.config.superslab_pool_max:
        fa._ss_pool.append(ss)
        fa.probe.ss_release(ss.base, "ss_pool_push", met)
    else:
        fa._ss_unmapped.append(ss.base)
        fa.probe.ss_release(ss.base, "ss_unmap", met)


def abandon(fa, t: ThreadState) -> None:
    """Thread exit: t's SuperSlabs lose their owner (mimalloc's abandoned segments)."""
    for base in t.superslabs:
        ss = fa._superslabs.get(base)
        if ss is not None and ss.owner == t.tid:
            ss.owner = None
            fa.probe.hit("ss_abandon")
            touch(fa, ss)
    t.superslabs = []


__all__ = ["abandon", "acquire", "carve", "count_free", "find_partial", "free_route", "init",
           "map_base", "partial_rank", "place", "pool_pop", "reclaim", "release",
           "releasable", "sll_flush_steps", "sll_link", "sll_pop", "sll_push",
           "slab_released", "slot_of", "touch", "with_room"]
