"""The white-box hooks of hakmem_verify.models.fast: the probe's footprint, partial snapshots,
free as atomic steps, and a remote drain that counts before it changes anything.

The footprint is checked against the truth: for random op sequences, every
slab, thread and magazine slot that differs between complete snapshots taken
before and after an op must be named by the footprint of that op.  A probe
that forgets one recording point is shown to fail that check.
"""
from __future__ import annotations

import random
from dataclasses import replace

import pytest

from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.fast import core as ops
from hakmem_verify.models.fast.structs import NULL, TinySlab, store_word
from hakmem_verify.contract.api import Config, Footprint, InvariantViolation, StructureCorrupted, has_hooks
from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.oracle.lockstep import Oracle
from hakmem_verify.schedule import race_free_with_drain
from hakmem_verify.check import check_impl, violation_of

TINY = Config(class_sizes=(8, 16), slab_size=64, word_bits=4, mini_mag_capacity=2,
              refill_batch=2, magazine_capacity=2, flush_interval=4)
BASE = TINY.base_address


# ============================================================================
# Remote drain: count, then change
# ============================================================================

def slab_state(slab: TinySlab):
    """Everything a drain may change: bitmap words, summary, hint, free_count, remote
    head and count, the slab's bytes."""
    bm = slab.bitmap
    return (tuple(bm.words), tuple(bm.summary), bm.hint_word, bm.free_count,
            slab.remote_head, slab.remote_count, bytes(slab.mem))


def owned_slab_with_remote_stack(check_level: int = 0):
    """A FastAllocator whose tid 0 owns slab A (class 0) with three blocks on its remote
    stack pushed by tid 1; returns (fa, slab, the three addresses, head first)."""
    fa = FastAllocator(replace(TINY, check_level=check_level))
    blocks = [fa.alloc(8, 0) for _ in range(4)]
    base = fa.active_slab(0, 0)
    mine = [b for b in blocks if b & ~63 == base][:3]
    assert len(mine) == 3
    for b in mine:
        fa.free(b, 1)
    slab = fa._slabs[base]
    assert slab.remote_count == 3 and slab.remote_head == mine[-1]
    return fa, slab, mine[::-1]


CORRUPTIONS = {
    # name: (plant(slab, blocks), the words of the report)
    "cycle": (lambda s, b: store_word(s, b[2], b[0]), "cycle back to"),
    "foreign pointer": (lambda s, b: store_word(s, b[1], s.base + 4096), "outside the slab"),
    "unaligned pointer": (lambda s, b: store_word(s, b[1], b[2] + 3), "not a block start"),
    "block already free": (lambda s, b: store_word(s, b[2], s.base + 7 * 8),
                           "already free in the bitmap"),
}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_a_corrupted_remote_stack_is_reported_before_any_bitmap_word_head_or_count_changes(
        name):
    fa, slab, blocks = owned_slab_with_remote_stack()
    plant, words = CORRUPTIONS[name]
    plant(slab, blocks)
    before, counts = slab_state(slab), dict(fa.path_counts)
    fa.take_footprint()
    with pytest.raises(StructureCorrupted) as exc:
        fa.drain_remote(0, 0)
    e = exc.value
    assert e.structure == "remote_head" and violation_of(e).inv_id == "RMT-01"
    assert f"corrupted remote stack of slab {hex(slab.base)}" in str(e)
    assert words in str(e) and "after " in str(e) and " entries" in str(e)
    assert slab_state(slab) == before            # every word, head and count unchanged
    assert dict(fa.path_counts) == counts        # not even the drain was counted
    assert not fa.take_footprint()


def test_the_report_says_after_how_many_entries_the_list_went_wrong():
    fa, slab, blocks = owned_slab_with_remote_stack()
    store_word(slab, blocks[1], slab.base + 4096)
    with pytest.raises(StructureCorrupted, match=r"outside the slab, after 2 entries"):
        ops.remote_drain(slab)


def test_a_corrupted_remote_stack_met_by_the_slow_path_is_reported_not_spread():
    fa, slab, blocks = owned_slab_with_remote_stack()
    store_word(slab, blocks[2], blocks[0])               # a cycle
    head = slab.remote_head
    with pytest.raises(StructureCorrupted, match="remote_head"):
        for _ in range(8):                               # until the slow path drains
            fa.alloc(8, 0)
    assert slab.remote_head == head and slab.remote_count == 3


def test_the_models_own_self_check_finds_a_corrupted_remote_stack_at_the_next_call():
    for level in (0, 1):
        fa, slab, blocks = owned_slab_with_remote_stack(check_level=level)
        store_word(slab, blocks[2], blocks[0])           # a cycle, before any drain
        head = slab.remote_head
        if level:
            with pytest.raises(StructureCorrupted, match="corrupted remote stack"):
                fa.alloc(16, 0)            # class 1: class 0's slab is not touched
        else:
            assert fa.alloc(16, 0) is not None           # without the self-check: unseen
        assert slab.remote_head == head and slab.remote_count == 3


def test_the_oracle_names_the_check_of_a_structure_the_implementation_reports_corrupted():
    fa, slab, blocks = owned_slab_with_remote_stack()
    store_word(slab, blocks[2], blocks[0])
    o = Oracle(RefAllocator(TINY), fa)
    with pytest.raises(InvariantViolation) as exc:
        o.call("implementation", "drain", fa.drain_remote, 0, 0)
    assert exc.value.inv_id == "RMT-01" and "corrupted remote stack" in str(exc.value)
    with pytest.raises(KeyError, match="not a structure of the catalogue"):
        violation_of(StructureCorrupted("no_such_list", "x"))
    assert not any(slab.bitmap.is_free(slab.block_index(b)) for b in blocks)
    nfree = sum(slab.bitmap.is_free(i) for i in range(slab.nblocks))
    assert slab.bitmap.free_count == nfree               # the bitmap is still consistent


def test_a_sound_remote_stack_is_counted_then_spliced_whole():
    fa, slab, blocks = owned_slab_with_remote_stack()
    free_before = slab.bitmap.free_count
    assert fa.drain_remote(0, 0) == 3
    assert slab.remote_head == NULL and slab.remote_count == 0
    assert slab.bitmap.free_count == free_before + 3
    assert all(slab.bitmap.is_free(slab.block_index(b)) for b in blocks)
    check_impl(fa, 3)


# ============================================================================
# Footprint: exactly what changed
# ============================================================================

def test_the_fast_allocator_offers_the_hooks_protocol():
    assert has_hooks(FastAllocator(TINY))


def test_path_counts_is_a_read_only_view_of_the_probes_counters():
    fa = FastAllocator(TINY)
    fa.alloc(8, 0)
    assert fa.path_counts["new_slab"] == 1
    with pytest.raises(TypeError):
        fa.path_counts["new_slab"] = 0


def test_a_magazine_hit_touches_no_slab_only_the_thread_and_one_slot():
    fa = FastAllocator(TINY)
    p = fa.alloc(8, 0)
    fa.free(p, 0)                                   # onto tid 0's magazine
    top = fa.snapshot().threads[0].magazine_tops[0]
    fa.take_footprint()
    assert fa.alloc(8, 0) == p                      # popped from slot top - 1
    assert fa.take_footprint() == Footprint(set(), {0}, {(0, 0): top - 1})
    assert not fa.take_footprint()                  # taking resets it


def test_a_remote_free_touches_the_owners_slab_and_the_freeing_thread():
    fa = FastAllocator(TINY)
    p = fa.alloc(8, 0)
    fa.take_footprint()
    fa.free(p, 1)
    fp = fa.take_footprint()
    assert fp.slabs == {p & ~63} and fp.threads == {1} and fp.mags == {}


def test_the_lowest_magazine_slot_is_kept_over_several_pushes_and_pops():
    fa = FastAllocator(TINY)
    a, b = fa.alloc(8, 0), fa.alloc(8, 0)           # the magazine is empty now
    assert fa.snapshot().threads[0].magazine_tops[0] == 0
    fa.free(a, 0)                                   # slot 0
    fa.take_footprint()
    fa.free(b, 0)                                   # slot 1
    fa.alloc(8, 0)                                  # pops slot 1
    fa.alloc(8, 0)                                  # pops slot 0
    assert fa.take_footprint().mags == {(0, 0): 0}


def thread_view(t):
    return (t.active_a, t.active_b, t.pending_allocs, t.pending_frees)


def undeclared_changes(before, after, fp: Footprint) -> list:
    """What changed between two complete snapshots that the footprint does not name."""
    out = []
    for base in set(before.slabs) | set(after.slabs):
        if before.slabs.get(base) != after.slabs.get(base) and base not in fp.slabs:
            out.append(f"slab {hex(base)}")
    for tid in set(before.threads) | set(after.threads):
        b, a = before.threads.get(tid), after.threads.get(tid)
        if (b is None) != (a is None) or (a is not None and thread_view(a) != thread_view(b)):
            if tid not in fp.threads:
                out.append(f"thread {tid}")
        if a is None or b is None:
            continue
        for c, (mb, ma) in enumerate(zip(b.magazines, a.magazines)):
            if mb == ma:
                continue
            lo = fp.mags.get((tid, c))
            first = next((i for i, (x, y) in enumerate(zip(mb, ma)) if x != y),
                         min(len(mb), len(ma)))
            if lo is None or lo > first:
                out.append(f"magazine ({tid}, {c}) from slot {first} (footprint lo {lo})")
    return out


def random_run(fa: FastAllocator, seed: int, n: int = 400):
    """Random allocs, frees (some cross-thread, some racing a drain), thread exits and
    maintenance; yields after each op."""
    rnd = random.Random(seed)
    live = []
    for _ in range(n):
        r, tid = rnd.random(), rnd.randrange(3)
        if r < 0.45 or not live:
            p = fa.alloc(rnd.choice((0, 8, 16)), tid)
            if p is not None:
                live.append(p)
        elif r < 0.8:
            p = live.pop(rnd.randrange(len(live)))
            if rnd.random() < 0.3:
                race_free_with_drain(fa, p, tid)
            else:
                fa.free(p, tid)
        elif r < 0.85:
            fa.thread_exit(tid)
        elif r < 0.9:
            fa.evict_active(tid, rnd.randrange(2))
        elif r < 0.94:
            fa.drain_remote(tid, rnd.randrange(2))
        elif r < 0.97:
            fa.refill_active(tid, rnd.randrange(2))
        elif r < 0.99:
            fa.flush_stats()
        else:
            fa.quiesce()
        yield


CONFIGS = [TINY, Config(class_sizes=(8, 16, 32), slab_size=128, word_bits=8,
                        mini_mag_capacity=3, refill_batch=2, magazine_capacity=3,
                        flush_interval=3, max_slabs_per_class=3)]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("cfg", CONFIGS, ids=["tiny", "limited"])
def test_the_footprint_names_every_slab_thread_and_magazine_slot_an_op_changed(cfg, seed):
    fa = FastAllocator(cfg)
    before = fa.snapshot()
    fa.take_footprint()
    for _ in random_run(fa, seed):
        after = fa.snapshot()
        assert undeclared_changes(before, after, fa.take_footprint()) == []
        before = after


def test_the_footprint_check_fails_on_a_probe_that_misses_a_refill(monkeypatch):
    """Quality: the check above catches a recording point left out."""
    def refill_unrecorded(self, slab, tid=None):
        if slab.bitmap.free_count == 0:
            return 0
        return ops.batch_refill_from_bitmap(slab, slab.mini_mag, self.config.refill_batch)
    monkeypatch.setattr(FastAllocator, "_refill", refill_unrecorded)
    fa = FastAllocator(TINY)
    misses = []
    before = fa.snapshot()
    fa.take_footprint()
    for _ in random_run(fa, 0, 100):
        after = fa.snapshot()
        misses += undeclared_changes(before, after, fa.take_footprint())
        before = after
    assert any(m.startswith("slab") for m in misses)


# ============================================================================
# Partial snapshots
# ============================================================================

class CountingList(list):
    """A magazine's items that counts the slots a snapshot reads."""
    read = 0

    def __getitem__(self, key):
        got = super().__getitem__(key)
        CountingList.read += len(got) if isinstance(key, slice) else 1
        return got


def test_a_partial_snapshot_copies_only_the_named_magazine_slots_and_scans_no_other():
    cfg = Config(class_sizes=(8, 16), slab_size=4096, magazine_capacity=400)
    fa = FastAllocator(cfg)
    blocks = [fa.alloc(8, 0) for _ in range(300)] + [fa.alloc(16, 1) for _ in range(100)]
    for p in blocks:
        fa.free(p, 0 if p in blocks[:300] else 1)
    fa.take_footprint()
    q = fa.alloc(8, 0)                              # pops slot 299 of (0, 0)
    fa.free(q, 0)                                   # pushes it back
    fp = fa.take_footprint()
    assert fp.mags == {(0, 0): 299}
    for t in fa._threads.values():
        for m in t.mags:
            m.items = CountingList(m.items)
    CountingList.read = 0
    snap = fa.snapshot(sorted(fp.slabs), fp.mags)
    assert CountingList.read == 1
    t0, t1 = snap.threads[0], snap.threads[1]
    assert t0.magazines[0] == (q,) and t0.magazine_lo[0] == 299 and t0.magazine_tops[0] == 300
    assert t1.magazines[1] == () and t1.magazine_lo[1] == t1.magazine_tops[1] == 100
    assert not snap.complete


def test_a_partial_snapshot_includes_only_the_named_threads():
    fa = FastAllocator(TINY)
    for tid in (0, 1, 2):
        fa.free(fa.alloc(8, tid), tid)
    snap = fa.snapshot([], {(1, 0): 0}, {2})
    assert set(snap.threads) == {1, 2} and not snap.complete
    assert len(snap.threads[1].magazines[0]) == snap.threads[1].magazine_tops[0]
    t2 = snap.threads[2]
    assert t2.magazines[0] == () and t2.magazine_lo[0] == t2.magazine_tops[0] >= 1
    assert set(fa.snapshot([], {}).threads) == {0, 1, 2}      # tids None: every thread


# ============================================================================
# free as atomic steps
# ============================================================================

def test_a_remote_free_steps_through_load_link_cas_and_a_local_free_takes_no_step():
    fa = FastAllocator(TINY)
    a, b = fa.alloc(8, 0), fa.alloc(8, 0)
    assert list(fa.free_steps(a, 1)) == ["load", "link", "cas"]
    assert list(fa.free_steps(b, 0)) == []
    s = fa.snapshot().slabs[a & ~63]
    assert s.remote == (a,) and fa.snapshot().threads[0].magazines[0] == (b,)


def test_a_bad_free_steps_call_raises_at_once_with_the_state_unchanged():
    fa = FastAllocator(TINY)
    p = fa.alloc(8, 0)
    fa.free(p, 0)
    before = fa.snapshot()
    with pytest.raises(Exception) as exc:
        fa.free_steps(p, 0)                         # no iteration needed
    assert type(exc.value).__name__ == "DoubleFree"
    assert fa.snapshot() == before


def test_two_remote_frees_interleaved_step_by_step_both_land_on_the_stack():
    fa = FastAllocator(TINY)
    a, b = fa.alloc(8, 0), fa.alloc(8, 0)
    s1, s2 = fa.free_steps(a, 1), fa.free_steps(b, 2)
    assert [next(s1), next(s1), next(s2), next(s2)] == ["load", "link", "load", "link"]
    assert list(s1) == ["cas"]                      # a lands first
    assert list(s2) == ["cas-retry", "load", "link", "cas"]   # b saw the old head
    s = fa.snapshot().slabs[a & ~63]
    assert s.remote == (b, a) and s.remote_count == 2
    check_impl(fa, 3)


def test_a_block_handed_out_from_a_slab_the_thread_does_not_own_is_recorded_for_own_04():
    from hakmem_verify.models.fast.probe import Probe
    p = Probe(2)
    p.handout(BASE, 1, 0, BASE + 8, False)            # tid 1 takes from tid 0's slab
    p.handout(BASE, 1, None, BASE + 16, False)        # ... and from an unowned one
    p.handout(BASE, 1, 1, BASE + 24, False)           # its own slab: fine
    p.handout(BASE, 1, 0, BASE + 32, True)            # from its magazine: fine
    assert p.foreign_handouts == {BASE: [(1, 0, BASE + 8), (1, None, BASE + 16)]}
    assert BASE in p.slabs
