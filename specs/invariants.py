"""The invariant catalogue: one pure function per ID over a Snapshot.

Every function takes plain data (``specs.api.Snapshot``, ``SlabSnap``,
``ThreadSnap`` and a :class:`LiveSet` of the blocks the client holds) and
raises :class:`specs.api.InvariantViolation` whose message starts with the
ID and names the block, slab, class and thread.  Nothing here imports an
allocator.  The table of IDs, statements, levels and costs is
``specs/README.md``; ``CATALOGUE`` below is the same table in code.

Levels: L1 O(1) per op, L2 O(touched slabs), L3 O(heap).  ``check_snapshot``
runs every check up to a level; the lockstep oracle runs L2 on the slabs an
operation touched and L3 on the whole heap every N steps and at teardown.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .api import InvariantViolation, SlabSnap, Snapshot


def _fail(inv_id: str, msg: str, dump: str = ""):
    raise InvariantViolation(inv_id, msg, dump)


def _h(x) -> str:
    return hex(x) if isinstance(x, int) else repr(x)


def dump_slab(s: SlabSnap) -> str:
    """The slab's structures in hex, for a failure message."""
    wb = max(1, (s.nblocks + len(s.words) - 1) // max(1, len(s.words)))
    return (f"  slab {_h(s.base)} class {s.class_idx} ({s.block_size} B x {s.nblocks}) "
            f"owner {s.owner}\n"
            f"  words   {[hex(w) for w in s.words][:16]}{' ...' if len(s.words) > 16 else ''}\n"
            f"  summary {[hex(w) for w in s.summary]} hint_word {s.hint_word} "
            f"free_count {s.free_count} (word bits ~{wb})\n"
            f"  mini_mag count {s.mini_mag_count}/{s.mini_mag_capacity}: "
            f"{[hex(a) for a in s.mini_mag]}\n"
            f"  remote count {s.remote_count}: {[hex(a) for a in s.remote][:32]}")


# ============================================================================
# The client's live blocks (from the oracle or a debug table)
# ============================================================================


@dataclass
class LiveSet:
    """Blocks the client holds: addr -> class, and a count per slab base."""

    blocks: dict = field(default_factory=dict)     # addr -> class index
    per_slab: Counter = field(default_factory=Counter)  # slab base -> live count

    @classmethod
    def from_blocks(cls, blocks: dict, config) -> "LiveSet":
        mask = ~(config.slab_size - 1)
        return cls(dict(blocks), Counter(a & mask for a in blocks))


# ============================================================================
# Geometry helpers
# ============================================================================


def word_bits_of(snap: Snapshot) -> int:
    return snap.config.word_bits


def valid_mask(s: SlabSnap, wb: int, w: int) -> int:
    """Mask of the bits of word w that are real blocks (not padding)."""
    n = min(wb, s.nblocks - w * wb)
    return (1 << n) - 1 if n > 0 else 0


def free_popcount(s: SlabSnap, wb: int) -> int:
    """Number of free (0) bits below nblocks. O(words)."""
    full = (1 << wb) - 1
    n = 0
    for w, word in enumerate(s.words):
        n += (~word & valid_mask(s, wb, w) & full).bit_count()
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


def is_free_bit(s: SlabSnap, wb: int, idx: int) -> bool:
    return not (s.words[idx // wb] >> (idx % wb)) & 1


def _block_idx(s: SlabSnap, addr: int):
    off = addr - s.base
    if off < 0 or off % s.block_size or off // s.block_size >= s.nblocks:
        return None
    return off // s.block_size


# ============================================================================
# Slab structure: geometry, bitmap, summary, hint  (L2: per touched slab)
# ============================================================================


def slab_01_geometry(snap: Snapshot, s: SlabSnap) -> None:
    """SLAB-01: base aligned; class, block size, nblocks and word count match the Config."""
    cfg = snap.config
    ok = (s.base % cfg.slab_size == 0 and 0 <= s.class_idx < cfg.num_classes
          and s.block_size == cfg.class_sizes[s.class_idx]
          and s.nblocks == cfg.slab_size // s.block_size
          and len(s.words) == cfg.words_per_slab(s.class_idx))
    if not ok:
        _fail("SLAB-01", f"slab {_h(s.base)} class {s.class_idx}: geometry does not match the "
                         f"Config (block size {s.block_size}, nblocks {s.nblocks}, "
                         f"{len(s.words)} words)", dump_slab(s))


def slab_02_padding(snap: Snapshot, s: SlabSnap) -> None:
    """SLAB-02: padding bits (index >= nblocks) are used, never free."""
    wb = word_bits_of(snap)
    full = (1 << wb) - 1
    w = len(s.words) - 1
    pad = full & ~valid_mask(s, wb, w)
    if s.words and (s.words[w] & pad) != pad:
        idx = w * wb + ((~s.words[w] & pad) & -(~s.words[w] & pad)).bit_length() - 1
        _fail("SLAB-02", f"padding bit {idx} (>= nblocks {s.nblocks}) is free in slab "
                         f"{_h(s.base)}, class {s.class_idx}", dump_slab(s))


def slab_03_free_count(snap: Snapshot, s: SlabSnap) -> None:
    """SLAB-03: free_count == popcount(free bits)."""
    n = free_popcount(s, word_bits_of(snap))
    if s.free_count != n:
        _fail("SLAB-03", f"free_count={s.free_count} but bitmap has {n} free bits "
                         f"(slab {_h(s.base)}, class {s.class_idx})", dump_slab(s))


def sum_01_summary(snap: Snapshot, s: SlabSnap) -> None:
    """SUM-01: summary bit w is set exactly when words[w] has a free bit."""
    wb = word_bits_of(snap)
    full = (1 << wb) - 1
    for w, word in enumerate(s.words):
        bit = (s.summary[w // wb] >> (w % wb)) & 1 if w // wb < len(s.summary) else 0
        has_free = (word & full) != full
        if bit != has_free:
            _fail("SUM-01", f"summary bit {w} is {bit} but word {w} ({hex(word)}) "
                            f"{'has' if has_free else 'has no'} free bit "
                            f"(slab {_h(s.base)}, class {s.class_idx})", dump_slab(s))


def sum_02_hint(snap: Snapshot, s: SlabSnap) -> None:
    """SUM-02: 0 <= hint_word < nwords and no word below the hint has a free bit."""
    wb = word_bits_of(snap)
    full = (1 << wb) - 1
    if not 0 <= s.hint_word < len(s.words):
        _fail("SUM-02", f"hint_word {s.hint_word} out of range 0..{len(s.words) - 1} "
                        f"(slab {_h(s.base)}, class {s.class_idx})", dump_slab(s))
    for w in range(s.hint_word):
        if s.words[w] & full != full:
            idx = w * wb + ((~s.words[w] & full) & -(~s.words[w] & full)).bit_length() - 1
            _fail("SUM-02", f"block {_h(s.base + idx * s.block_size)} (index {idx}) is free "
                            f"below hint_word {s.hint_word}: a scan from the hint misses it "
                            f"(slab {_h(s.base)}, class {s.class_idx})", dump_slab(s))


# ============================================================================
# Mini-magazine and remote stack  (L2)
# ============================================================================


def mm_01_count(snap: Snapshot, s: SlabSnap) -> None:
    """MM-01: mini_mag.count == length of the intrusive list <= capacity."""
    errs = [e for e in s.walk_errors if e.startswith("mini_mag")]
    if errs:   # a list longer than its capacity is a count error; a cycle, an entry error
        _fail("MM-01" if "longer than its bound" in errs[0] else "MM-02", errs[0], dump_slab(s))
    if s.mini_mag_count != len(s.mini_mag) or s.mini_mag_count > s.mini_mag_capacity \
            or s.mini_mag_count < 0:
        _fail("MM-01", f"mini_mag count={s.mini_mag_count} but its list holds "
                       f"{len(s.mini_mag)} blocks (capacity {s.mini_mag_capacity}) "
                       f"(slab {_h(s.base)}, class {s.class_idx})", dump_slab(s))


def mm_02_entries(snap: Snapshot, s: SlabSnap) -> None:
    """MM-02: mini-mag entries are aligned blocks of this slab, unique, acyclic, bitmap-used."""
    wb = word_bits_of(snap)
    for a in s.mini_mag:
        idx = _block_idx(s, a)
        if idx is None:
            _fail("MM-02", f"block {_h(a)} in the mini_mag is not a block of slab "
                           f"{_h(s.base)}, class {s.class_idx}", dump_slab(s))
        if is_free_bit(s, wb, idx):
            _fail("MM-02", f"block {_h(a)} is in the mini_mag and bitmap-free at once "
                           f"(slab {_h(s.base)}, class {s.class_idx})", dump_slab(s))


def rmt_01_entries(snap: Snapshot, s: SlabSnap) -> None:
    """RMT-01: remote stack acyclic, entries aligned blocks of this slab, bitmap-used."""
    errs = [e for e in s.walk_errors if e.startswith("remote")]
    if errs:
        _fail("RMT-01", errs[0], dump_slab(s))
    wb = word_bits_of(snap)
    for a in s.remote:
        idx = _block_idx(s, a)
        if idx is None or is_free_bit(s, wb, idx):
            _fail("RMT-01", f"block {_h(a)} on the remote stack is "
                            f"{'not a block of' if idx is None else 'bitmap-free in'} slab "
                            f"{_h(s.base)}, class {s.class_idx}", dump_slab(s))


def rmt_02_count(snap: Snapshot, s: SlabSnap) -> None:
    """RMT-02: remote_count == length of the remote list."""
    if s.remote_count != len(s.remote):
        _fail("RMT-02", f"remote_count={s.remote_count} but the remote stack holds "
                        f"{len(s.remote)} blocks (slab {_h(s.base)}, class {s.class_idx}, "
                        f"owner {s.owner})", dump_slab(s))


SLAB_CHECKS = (slab_01_geometry, slab_02_padding, slab_03_free_count, sum_01_summary,
               sum_02_hint, mm_01_count, mm_02_entries, rmt_01_entries, rmt_02_count)


# ============================================================================
# Threads: magazines, active slabs, ownership  (L2: per thread, bounded by Config)
# ============================================================================


def mag_entries(snap: Snapshot):
    """(addr, tid, class) of every magazine entry of every thread in the snapshot."""
    for tid, t in snap.threads.items():
        for c, items in enumerate(t.magazines):
            for a in items:
                yield a, tid, c


def mag_01_top(snap: Snapshot) -> None:
    """MAG-01: 0 <= top <= capacity for every magazine."""
    cap = snap.config.magazine_capacity
    for tid, t in snap.threads.items():
        for c, top in enumerate(t.magazine_tops):
            if not 0 <= top <= cap:
                _fail("MAG-01", f"magazine of tid {tid}, class {c} has top={top} "
                                f"outside 0..{cap}")


def mag_02_entries(snap: Snapshot, slabs_by_base=None) -> None:
    """MAG-02: magazine entries unique across all magazines, of the magazine's class,
    at a block start of an existing slab (checked where that slab is in the snapshot)."""
    seen = {}
    cfg = snap.config
    mask = ~(cfg.slab_size - 1)
    for a, tid, c in mag_entries(snap):
        if a in seen:
            t2, c2 = seen[a]
            _fail("MAG-02", f"block {_h(a)} is in the magazine of tid {tid} (class {c}) twice"
                  if (t2, c2) == (tid, c) else
                  f"block {_h(a)} is in the magazines of tid {t2} and tid {tid} (class {c})")
        seen[a] = (tid, c)
        s = snap.slabs.get(a & mask)
        if s is None:
            if snap.complete:
                _fail("MAG-02", f"block {_h(a)} in the magazine of tid {tid}, class {c} "
                                f"is in no slab")
            continue
        if s.class_idx != c or _block_idx(s, a) is None:
            _fail("MAG-02", f"block {_h(a)} in the magazine of tid {tid}, class {c} is not a "
                            f"block start of a class-{c} slab (slab {_h(s.base)}, "
                            f"class {s.class_idx})", dump_slab(s))


def own_01_active(snap: Snapshot) -> None:
    """OWN-01: A != B; active slabs exist, are of the right class, owned by the thread;
    a slab is active for at most one (thread, class, position)."""
    where = {}
    for tid, t in snap.threads.items():
        for c in range(len(t.active_a)):
            a, b = t.active_a[c], t.active_b[c]
            if a is not None and a == b:
                _fail("OWN-01", f"active slabs A and B of tid {tid}, class {c} are the same "
                                f"slab {_h(a)}")
            for pos, base in (("A", a), ("B", b)):
                if base is None:
                    continue
                if base in where:
                    _fail("OWN-01", f"slab {_h(base)} is active slab {pos} of tid {tid}, "
                                    f"class {c}, and also {where[base]}")
                where[base] = f"active slab {pos} of tid {tid}, class {c}"
                s = snap.slabs.get(base)
                if s is None:
                    if snap.complete:
                        _fail("OWN-01", f"active slab {pos} {_h(base)} of tid {tid}, class {c} "
                                        f"is not a slab of the pool (released while active?)")
                    continue
                if s.class_idx != c or s.owner != tid:
                    _fail("OWN-01", f"active slab {pos} {_h(base)} of tid {tid}, class {c} has "
                                    f"class {s.class_idx} and owner {s.owner}", dump_slab(s))


def own_02_owner(snap: Snapshot) -> None:
    """OWN-02: a slab with an owner is that thread's active A or B (no stale owner)."""
    active = set()
    for tid, t in snap.threads.items():
        for c in range(len(t.active_a)):
            for base in (t.active_a[c], t.active_b[c]):
                if base is not None:
                    active.add((base, tid))
    for s in snap.slabs.values():
        if s.owner is not None and (s.base, s.owner) not in active:
            if s.owner in snap.threads or snap.complete:
                _fail("OWN-02", f"slab {_h(s.base)} (class {s.class_idx}) has owner tid "
                                f"{s.owner} but is not an active slab of that thread",
                      dump_slab(s))


# ============================================================================
# Partition and the client's blocks  (L2 per touched slab; needs the LiveSet)
# ============================================================================


def part_01_partition(snap: Snapshot, s: SlabSnap, live: LiveSet, mags_in: list) -> None:
    """PART-01: every block is in exactly one place.  Per slab:
    nblocks == live + bitmap_free + |mini_mag| + |remote| + |in magazines|,
    and no block is in two places (the cached ones are bitmap-used and not live)."""
    wb = word_bits_of(snap)
    owner_of = {}
    for place, addrs in (("the mini_mag", s.mini_mag), ("the remote stack", s.remote)):
        for a in addrs:
            if a in owner_of:
                _fail("PART-01", f"block {_h(a)} is in {owner_of[a]} and in {place} "
                                 f"(slab {_h(s.base)}, class {s.class_idx})", dump_slab(s))
            owner_of[a] = place
    for a, tid, c in mags_in:
        if a in owner_of:
            _fail("PART-01", f"block {_h(a)} is in the magazine of tid {tid} and in "
                             f"{owner_of[a]} (slab {_h(s.base)}, class {s.class_idx})",
                  dump_slab(s))
        idx = _block_idx(s, a)
        if idx is not None and is_free_bit(s, wb, idx):
            _fail("PART-01", f"block {_h(a)} is in the magazine of tid {tid} and bitmap-free "
                             f"(slab {_h(s.base)}, class {s.class_idx})", dump_slab(s))
        owner_of[a] = f"the magazine of tid {tid}"
    for a, place in owner_of.items():
        if a in live.blocks:
            _fail("PART-01", f"block {_h(a)} is live (held by the client) and in {place} "
                             f"(slab {_h(s.base)}, class {s.class_idx})", dump_slab(s))
    n_live = live.per_slab.get(s.base, 0)
    total = n_live + s.free_count + len(owner_of)
    if total != s.nblocks:
        _fail("PART-01", f"slab {_h(s.base)} class {s.class_idx}: live {n_live} + bitmap-free "
                         f"{s.free_count} + cached {len(owner_of)} = {total} != nblocks "
                         f"{s.nblocks} ({'a block is lost' if total < s.nblocks else 'a block is counted twice'})",
              dump_slab(s))


def live_01_block(snap: Snapshot, addr: int, c: int) -> None:
    """LIVE-01 (no double allocation): a live block is a bitmap-used block start of a
    slab of its class (in no cache: PART-01)."""
    mask = ~(snap.config.slab_size - 1)
    s = snap.slabs.get(addr & mask)
    if s is None:
        if snap.complete:
            _fail("LIVE-01", f"live block {_h(addr)} (class {c}) is in no slab of the pool "
                             f"(its slab was released while the block is live)")
        return
    idx = _block_idx(s, addr)
    if s.class_idx != c or idx is None:
        _fail("LIVE-01", f"live block {_h(addr)} of class {c} is not a block start of a "
                         f"class-{c} slab (slab {_h(s.base)}, class {s.class_idx})", dump_slab(s))
    if is_free_bit(s, word_bits_of(snap), idx):
        _fail("LIVE-01", f"live block {_h(addr)} is bitmap-free: it can be handed out again "
                         f"(slab {_h(s.base)}, class {s.class_idx})", dump_slab(s))


# ============================================================================
# Statistics  (L1: O(threads x classes))
# ============================================================================


def stat_01_conservation(snap: Snapshot) -> None:
    """STAT-01: flushed + pending == exact, per class, for allocs and frees.
    (Snapshots always hold every thread, so this holds on partial ones too.)"""
    for kind, flushed, exact, attr in (("alloc", snap.flushed.allocs, snap.exact.allocs,
                                        "pending_allocs"),
                                       ("free", snap.flushed.frees, snap.exact.frees,
                                        "pending_frees")):
        for c in range(len(exact)):
            pending = sum(getattr(t, attr)[c] for t in snap.threads.values())
            if flushed[c] + pending != exact[c]:
                _fail("STAT-01", f"class {c} {kind}s: flushed {flushed[c]} + pending {pending} "
                                 f"!= exact {exact[c]} (events lost or counted twice)")


def stat_02_pending_bound(snap: Snapshot) -> None:
    """STAT-02: 0 <= pending < flush_interval per thread and class."""
    iv = snap.config.flush_interval
    for tid, t in snap.threads.items():
        for attr in ("pending_allocs", "pending_frees"):
            for c, n in enumerate(getattr(t, attr)):
                if not 0 <= n < iv:
                    _fail("STAT-02", f"tid {tid} class {c}: {n} {attr.replace('_', ' ')} not "
                                     f"flushed (flush interval {iv})")


def stat_03_accuracy(snap: Snapshot, nthreads: int = None) -> None:
    """STAT-03: reported within 1% of exact once exact >= 100 x the pending bound."""
    nthreads = len(snap.threads) if nthreads is None else nthreads
    bound = max(1, nthreads) * (snap.config.flush_interval - 1)
    reported = snap.reported or snap.flushed
    for kind, rep, ex in (("alloc", reported.allocs, snap.exact.allocs),
                          ("free", reported.frees, snap.exact.frees)):
        for c in range(len(ex)):
            if ex[c] >= 100 * bound and abs(rep[c] - ex[c]) * 100 > ex[c]:
                _fail("STAT-03", f"class {c} {kind}s: reported {rep[c]} is more than 1% off "
                                 f"exact {ex[c]} (pending bound {bound})")


# ============================================================================
# Quiescence  (L3)
# ============================================================================


def qui_01_empty(snap: Snapshot, live: LiveSet) -> None:
    """QUI-01: after quiesce: no thread state, every remote stack empty, every mini-mag
    empty, and every bitmap-used block is live (nothing leaked); with no live block,
    every slab is entirely bitmap-free."""
    if snap.threads:
        _fail("QUI-01", f"threads {sorted(snap.threads)} still have state after quiesce")
    for s in snap.slabs.values():
        used = s.nblocks - s.free_count
        n_live = live.per_slab.get(s.base, 0)
        if s.remote or s.mini_mag or s.remote_count or s.mini_mag_count or used != n_live:
            _fail("QUI-01", f"slab {_h(s.base)} class {s.class_idx} after quiesce: "
                            f"{used} bitmap-used blocks but {n_live} live, mini_mag "
                            f"{s.mini_mag_count}, remote {s.remote_count}: "
                            f"{used - n_live} blocks leaked", dump_slab(s))


# ============================================================================
# Transitions: refill and spill (pairs of snapshots of one slab)
# ============================================================================


def ref_01_refill(snap: Snapshot, before: SlabSnap, after: SlabSnap,
                  also_taken=frozenset()) -> None:
    """REF-01: a refill shrinks the bitmap-free set by exactly the blocks it pushed:
    free_before - free_after == (mini_mag_after - mini_mag_before) + also_taken (the
    block an alloc popped right after the refill), and nothing is freed."""
    wb = word_bits_of(snap)
    fb = set(free_indices(before, wb))
    fa = set(free_indices(after, wb))
    taken = {before.base + i * before.block_size for i in fb - fa}
    pushed = (set(after.mini_mag) - set(before.mini_mag)) | set(also_taken)
    if fa - fb or taken != pushed:
        lost = sorted(taken - pushed)
        _fail("REF-01", f"refill of slab {_h(after.base)} class {after.class_idx}: "
                        f"{len(taken)} blocks left the bitmap, {len(pushed)} entered the "
                        f"mini_mag; lost {[hex(a) for a in lost]}", dump_slab(after))


def spl_01_spill(snap: Snapshot, before: SlabSnap, after: SlabSnap) -> None:
    """SPL-01: after eviction the mini-mag is empty and every block it held, and every
    remote block, is bitmap-free; nothing else changed in the bitmap."""
    wb = word_bits_of(snap)
    if after.mini_mag_count or after.mini_mag:
        _fail("SPL-01", f"slab {_h(after.base)} class {after.class_idx}: mini_mag holds "
                        f"{after.mini_mag_count} blocks after eviction", dump_slab(after))
    fb = set(free_indices(before, wb))
    fa = set(free_indices(after, wb))
    moved = {(a - before.base) // before.block_size for a in before.mini_mag + before.remote}
    if fa != fb | moved:
        missing = sorted(before.base + i * before.block_size for i in (fb | moved) - fa)
        extra = sorted(before.base + i * before.block_size for i in fa - (fb | moved))
        _fail("SPL-01", f"spill of slab {_h(after.base)} class {after.class_idx}: blocks not "
                        f"returned to the bitmap {[hex(a) for a in missing]}, blocks freed that "
                        f"were not cached {[hex(a) for a in extra]}", dump_slab(after))


# ============================================================================
# Drivers
# ============================================================================


def check_slabs(snap: Snapshot, live: LiveSet, bases=None) -> None:
    """Every slab check and the partition on the given slabs (default: all in snap)."""
    mask = ~(snap.config.slab_size - 1)
    mags = snap.mags_by_slab
    if mags is None:
        mags = {}
        for a, tid, c in mag_entries(snap):
            mags.setdefault(a & mask, []).append((a, tid, c))
    for base in (snap.slabs if bases is None else bases):
        s = snap.slabs.get(base)
        if s is None:
            continue
        for fn in SLAB_CHECKS:
            fn(snap, s)
        if live is not None:
            part_01_partition(snap, s, live, mags.get(base, []))


def check_threads(snap: Snapshot) -> None:
    mag_01_top(snap)
    mag_02_entries(snap)
    own_01_active(snap)
    own_02_owner(snap)
    stat_02_pending_bound(snap)


def check_snapshot(snap: Snapshot, level: int, live: LiveSet = None) -> None:
    """Run every check up to ``level`` (1..3) on a snapshot (complete for L3)."""
    if level >= 1:
        stat_01_conservation(snap)
        stat_02_pending_bound(snap)
    if level >= 2:
        check_threads(snap)
        check_slabs(snap, live)
    if level >= 3 and live is not None:
        for a, c in live.blocks.items():
            live_01_block(snap, a, c)


CATALOGUE = {
    # id: (level, cost, statement)
    "SLAB-01": ("L2", "O(1) per slab", "slab geometry matches the Config"),
    "SLAB-02": ("L2", "O(words) per slab", "padding bits are never free"),
    "SLAB-03": ("L2", "O(words) per slab", "free_count == popcount(free bits)"),
    "SUM-01": ("L2", "O(words) per slab", "summary bit w == (words[w] has a free bit)"),
    "SUM-02": ("L2", "O(hint) per slab", "0 <= hint < nwords; words below hint are full"),
    "MM-01": ("L2", "O(capacity)", "mini_mag.count == len(list) <= capacity"),
    "MM-02": ("L2", "O(capacity)", "mini_mag entries: this slab, aligned, unique, acyclic, used"),
    "RMT-01": ("L2", "O(remote)", "remote stack: acyclic, this slab, aligned, used"),
    "RMT-02": ("L2", "O(remote)", "remote_count == len(remote list)"),
    "MAG-01": ("L2", "O(threads x classes)", "0 <= top <= capacity"),
    "MAG-02": ("L2", "O(magazine items)", "magazine entries unique, of the right class"),
    "OWN-01": ("L2", "O(threads x classes)", "A != B; active slabs owned by the thread"),
    "OWN-02": ("L2", "O(slabs)", "an owned slab is its owner's A or B"),
    "PART-01": ("L2", "O(cached) per slab", "nblocks == live + free + mini_mag + remote + mags"),
    "LIVE-01": ("L2", "O(1) per block", "a live block is a used block start of its class"),
    "LIVE-02": ("L2", "O(1) per op", "no two live handles share an address; live counts == ref"),
    "DATA-01": ("L2", "O(block) per op", "a live block's fill pattern is intact"),
    "REF-01": ("L2", "O(words)", "refill: free_before - free_after == pushed"),
    "SPL-01": ("L2", "O(words)", "spill: mini_mag empty, its blocks bitmap-free"),
    "STAT-01": ("L1", "O(threads x classes)", "flushed + pending == exact"),
    "STAT-02": ("L1", "O(threads x classes)", "0 <= pending < flush_interval"),
    "STAT-03": ("L1", "O(classes)", "|reported - exact| <= 1% once exact >= 100 x bound"),
    "STAT-04": ("L1", "O(classes)", "exact stats == the reference's"),
    "QUI-01": ("L3", "O(heap)", "after quiesce: no thread state, nothing cached or leaked"),
    "OOM-01": ("L2", "O(slabs of class)", "out of memory only when no reachable free block"),
    "LOCK-01": ("L1", "O(1)", "same outcome as the reference: ok / OOM / error type"),
    "LOCK-02": ("L1", "O(1)", "usable size == the reference's and >= the size asked"),
}
