"""Snapshots read intrusive lists with bounded walks: a corrupted list is reported in
``walk_errors`` and the walk ends (no hang, no read outside the slab), and a list one
block longer than its bound is still read whole, so the count checks see the extra
block.  A spill of a mini-magazine whose count says more than its list ends too."""
from __future__ import annotations

from hakmem_verify.models.fast import core as ops
from hakmem_verify.models.fast.introspect import slab_snap, walk
from hakmem_verify.models.fast.structs import NULL, TinySlab, store_word

BASE = 1 << 32


def slab(capacity: int = 2) -> TinySlab:
    """A slab of 8 blocks of 8 bytes, every block in use, empty lists."""
    s = TinySlab(BASE, 0, 8, 64, 4, capacity)
    for i in range(s.nblocks):
        s.bitmap.set_used(i)
    return s


def link(s: TinySlab, *addrs) -> int:
    """Chain the blocks at addrs (head first); the last points to NULL; the head."""
    for a, b in zip(addrs, addrs[1:] + (NULL,)):
        store_word(s, a, b)
    return addrs[0]


def test_a_well_formed_list_is_read_whole_without_errors():
    s = slab()
    head = link(s, BASE + 8, BASE + 24, BASE)
    assert walk(s, head, 4, "remote") == ((BASE + 8, BASE + 24, BASE), ())


def test_a_cycle_ends_the_walk_and_is_named_as_a_cycle():
    s = slab()
    head = link(s, BASE + 8, BASE + 16)
    store_word(s, BASE + 16, BASE + 8)               # back to the head
    out, errors = walk(s, head, 100, "remote")
    assert out == (BASE + 8, BASE + 16)
    assert len(errors) == 1 and "has a cycle at" in errors[0]


def test_a_pointer_outside_the_slab_ends_the_walk_before_reading_it():
    s = slab()
    for bad in (BASE + 64, BASE - 8, BASE + 4096):    # aligned to the block size, outside
        head = link(s, BASE + 8)
        store_word(s, BASE + 8, bad)
        out, errors = walk(s, head, 100, "mini_mag")
        assert out == (BASE + 8,), hex(bad)
        assert len(errors) == 1 and "not a block of this slab" in errors[0]


def test_a_pointer_inside_a_block_ends_the_walk():
    s = slab()
    head = link(s, BASE + 8)
    store_word(s, BASE + 8, BASE + 20)                # not a block start
    out, errors = walk(s, head, 100, "remote")
    assert out == (BASE + 8,) and "not a block of this slab" in errors[0]


def test_a_mini_magazine_one_longer_than_its_capacity_is_read_whole():
    s = slab(capacity=2)
    s.mini_mag.head = link(s, BASE, BASE + 8, BASE + 16)
    s.mini_mag.count = 3
    snap = slab_snap(s)
    assert snap.mini_mag == (BASE, BASE + 8, BASE + 16) and snap.walk_errors == ()


def test_a_mini_magazine_two_longer_than_its_capacity_is_cut_at_the_bound():
    s = slab(capacity=2)
    s.mini_mag.head = link(s, BASE, BASE + 8, BASE + 16, BASE + 24)
    s.mini_mag.count = 4
    snap = slab_snap(s)
    assert snap.mini_mag == (BASE, BASE + 8, BASE + 16)
    assert len(snap.walk_errors) == 1 and "longer than its bound 3" in snap.walk_errors[0]


def test_a_spill_whose_count_says_more_than_its_list_returns_what_the_list_holds():
    s = slab(capacity=4)
    s.mini_mag.head = link(s, BASE, BASE + 8)
    s.mini_mag.count = 3                              # one more than the list
    free_before = s.bitmap.free_count
    assert ops.batch_spill_to_bitmap(s, s.mini_mag) == 2
    assert s.bitmap.free_count == free_before + 2
