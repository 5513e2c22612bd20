"""Bad client input to every public call: the specific error, and no change of state.

The contract (``hakmem_verify/contract/api.py``): every error is raised with the allocator's
state unchanged; argument errors (tid, data, count) come first, then the size
or address.  Each case below names a call and the exact exception type it
must raise (not a subclass: ``DoubleFree`` is an ``InvalidFree``, and the two
must not be confused).  The fast model is checked against its whole visible
state (snapshot, live table, exact and reported stats, the bytes of every live
block); then the same cases run on the reference and the fast model side by
side, which must raise the same type.

Both sides are built by the same op sequence (``build``), so a name such as
``"b16"`` means "the block the second alloc returned" on each side, whatever
its address.
"""
from __future__ import annotations

import pytest

from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.models.ref import RefAllocator
from hakmem_verify.contract import ops as L
from hakmem_verify.oracle.lockstep import Oracle
from hakmem_verify.schedule import race_free_with_drain
from hakmem_verify.contract.api import (AllocatorError, BadArgument, Config, DoubleFree, InvalidAddress, InvalidFree,
                       InvariantViolation, OutOfBounds, SizeError)
from hakmem_verify.check import check_impl

# all eight seed classes (max size 1024) on a 2 KiB slab; tiny caches
CFG = Config(slab_size=2048, word_bits=4, mini_mag_capacity=2, refill_batch=2,
             magazine_capacity=2, flush_interval=4)
FOREIGN = CFG.base_address - CFG.slab_size        # below the first slab: in no slab
NEW_TID = 9                                       # a tid with no thread state yet


def build(cls):
    """An allocator with live, freed, remote-owned and orphaned blocks; names -> addresses."""
    a = cls(CFG)
    s = {"b8": a.alloc(8, 0), "b16": a.alloc(16, 0), "b1024": a.alloc(1024, 0)}
    s["freed16"] = a.alloc(16, 1)
    a.free(s["freed16"], 1)
    s["b32_t1"] = a.alloc(32, 1)                  # owned by tid 1
    s["orphan64"] = a.alloc(64, 2)
    a.thread_exit(2)                              # allocating thread gone, block still live
    s["never"] = CFG.base_address + CFG.slab_size - 8   # a block start never handed out
    for k, name in enumerate(("b8", "b16", "b1024", "b32_t1", "orphan64")):
        a.write(s[name], bytes([k + 1]) * a.usable_size(s[name]))
    return a, s


def fast_state(fa: FastAllocator):
    """Everything the fast model lets a test observe."""
    live = fa.live_blocks()
    data = {p: fa.read(p, fa.usable_size(p)) for p in live}
    return fa.snapshot(), live, fa.exact_stats(), fa.stats(), data, dict(fa.path_counts)


def ref_state(ra: RefAllocator):
    return ra.snapshot_state(), ra.live_blocks(), ra.exact_stats(), ra.stats()


# (case id, call(a, s), exception type, runs on the reference too)
CASES = [
    # ---- alloc: size -------------------------------------------------------------
    ("alloc size -1", lambda a, s: a.alloc(-1, 0), SizeError, True),
    ("alloc size 1025", lambda a, s: a.alloc(1025, 0), SizeError, True),
    ("alloc size 2**64", lambda a, s: a.alloc(2 ** 64, 0), SizeError, True),
    ("alloc size 1.5", lambda a, s: a.alloc(1.5, 0), SizeError, True),
    ("alloc size 8.0", lambda a, s: a.alloc(8.0, 0), SizeError, True),
    ("alloc size True", lambda a, s: a.alloc(True, 0), SizeError, True),
    ("alloc size False", lambda a, s: a.alloc(False, 0), SizeError, True),
    ("alloc size '8'", lambda a, s: a.alloc("8", 0), SizeError, True),
    ("alloc size None", lambda a, s: a.alloc(None, 0), SizeError, True),
    ("alloc bad size by a new tid", lambda a, s: a.alloc(-1, NEW_TID), SizeError, True),
    # ---- every call that takes a tid -----------------------------------------------
    *[(f"{call} tid {tid!r}", fn, BadArgument, ref)
      for tid in (-1, "a", True, 1.0, None)
      for call, fn, ref in (
          ("alloc", lambda a, s, t=tid: a.alloc(8, t), True),
          ("alloc bad size and", lambda a, s, t=tid: a.alloc(-1, t), True),
          ("free", lambda a, s, t=tid: a.free(s["b8"], t), True),
          ("free bad address and", lambda a, s, t=tid: a.free(None, t), True),
          ("thread_exit", lambda a, s, t=tid: a.thread_exit(t), True),
          ("free_steps", lambda a, s, t=tid: a.free_steps(s["b32_t1"], t), False),
          ("racing free", lambda a, s, t=tid: race_free_with_drain(a, s["b32_t1"], t), False),
          ("evict_active", lambda a, s, t=tid: a.evict_active(t, 0), False),
          ("refill_active", lambda a, s, t=tid: a.refill_active(t, 0), False),
          ("drain_remote", lambda a, s, t=tid: a.drain_remote(t, 0), False))],
    # ---- free: not a block start of the pool ---------------------------------------
    ("free None", lambda a, s: a.free(None, 0), InvalidFree, True),
    ("free unaligned", lambda a, s: a.free(s["b16"] + 1, 0), InvalidFree, True),
    ("free interior", lambda a, s: a.free(s["b16"] + 8, 0), InvalidFree, True),
    ("free interior of 1024", lambda a, s: a.free(s["b1024"] + 512, 0), InvalidFree, True),
    ("free foreign below", lambda a, s: a.free(FOREIGN, 0), InvalidFree, True),
    ("free foreign far", lambda a, s: a.free(2 ** 80, 0), InvalidFree, True),
    ("free zero", lambda a, s: a.free(0, 0), InvalidFree, True),
    ("free negative", lambda a, s: a.free(-8, 0), InvalidFree, True),
    ("free float address", lambda a, s: a.free(float(s["b8"]), 0), InvalidFree, True),
    ("free str address", lambda a, s: a.free(hex(s["b8"]), 0), InvalidFree, True),
    ("free bool address", lambda a, s: a.free(True, 0), InvalidFree, True),
    ("free foreign by a new tid", lambda a, s: a.free(FOREIGN, NEW_TID), InvalidFree, True),
    # ---- free: a block start that is not live ---------------------------------------
    ("double free", lambda a, s: a.free(s["freed16"], 0), DoubleFree, True),
    ("double free by the freeing tid", lambda a, s: a.free(s["freed16"], 1), DoubleFree, True),
    ("double free by a new tid", lambda a, s: a.free(s["freed16"], NEW_TID), DoubleFree, True),
    ("free never handed out", lambda a, s: a.free(s["never"], 0), DoubleFree, True),
    ("racing free of a freed block", lambda a, s: race_free_with_drain(a, s["freed16"], 0),
     DoubleFree, False),
    ("racing free unaligned", lambda a, s: race_free_with_drain(a, s["b32_t1"] + 1, 0),
     InvalidFree, False),
    # free_steps validates when called, before its first step
    ("free_steps of a freed block", lambda a, s: a.free_steps(s["freed16"], 0), DoubleFree,
     False),
    ("free_steps unaligned", lambda a, s: a.free_steps(s["b32_t1"] + 1, 0), InvalidFree, False),
    ("free_steps foreign by a new tid", lambda a, s: a.free_steps(FOREIGN, NEW_TID),
     InvalidFree, False),
    # ---- read / write ----------------------------------------------------------------
    ("write past the end", lambda a, s: a.write(s["b16"], b"x" * 17), OutOfBounds, True),
    ("write across the end", lambda a, s: a.write(s["b16"] + 15, b"xy"), OutOfBounds, True),
    ("write 1025 into 1024", lambda a, s: a.write(s["b1024"], bytes(1025)), OutOfBounds, True),
    ("read past the end", lambda a, s: a.read(s["b8"], 9), OutOfBounds, True),
    ("read across the end", lambda a, s: a.read(s["b16"] + 8, 9), OutOfBounds, True),
    ("read of a freed block", lambda a, s: a.read(s["freed16"], 1), OutOfBounds, True),
    ("read 0 of a freed block", lambda a, s: a.read(s["freed16"], 0), OutOfBounds, True),
    ("write to a freed block", lambda a, s: a.write(s["freed16"], b"x"), OutOfBounds, True),
    ("write to a freed interior", lambda a, s: a.write(s["freed16"] + 4, b"x"), OutOfBounds,
     True),
    ("read negative n", lambda a, s: a.read(s["b16"], -1), OutOfBounds, True),
    ("read negative n of a freed block", lambda a, s: a.read(s["freed16"], -1), OutOfBounds,
     True),
    ("read of a foreign address", lambda a, s: a.read(FOREIGN, 1), OutOfBounds, True),
    ("write to None", lambda a, s: a.write(None, b"x"), OutOfBounds, True),
    ("read of never handed out", lambda a, s: a.read(s["never"], 1), OutOfBounds, True),
    ("write of a str", lambda a, s: a.write(s["b16"], "ab"), BadArgument, True),
    ("write of a list", lambda a, s: a.write(s["b16"], [1, 2]), BadArgument, True),
    ("write of None", lambda a, s: a.write(s["b16"], None), BadArgument, True),
    ("write of an int", lambda a, s: a.write(s["b16"], 5), BadArgument, True),
    ("write of a str to a freed block", lambda a, s: a.write(s["freed16"], "ab"), BadArgument,
     True),
    ("read n 1.5", lambda a, s: a.read(s["b16"], 1.5), BadArgument, True),
    ("read n '8'", lambda a, s: a.read(s["b16"], "8"), BadArgument, True),
    ("read n True", lambda a, s: a.read(s["b16"], True), BadArgument, True),
    ("read n None", lambda a, s: a.read(s["b16"], None), BadArgument, True),
    ("read n 1.5 of a freed block", lambda a, s: a.read(s["freed16"], 1.5), BadArgument, True),
    # ---- usable_size -----------------------------------------------------------------
    ("usable_size of a freed block", lambda a, s: a.usable_size(s["freed16"]), InvalidAddress,
     True),
    ("usable_size interior", lambda a, s: a.usable_size(s["b16"] + 8), InvalidAddress, True),
    ("usable_size foreign", lambda a, s: a.usable_size(FOREIGN), InvalidAddress, True),
    ("usable_size None", lambda a, s: a.usable_size(None), InvalidAddress, True),
    ("usable_size float", lambda a, s: a.usable_size(float(s["b8"])), InvalidAddress, True),
    ("usable_size never handed out", lambda a, s: a.usable_size(s["never"]), InvalidAddress,
     True),
]
CASE_IDS = [c[0] for c in CASES]
BOTH = [c for c in CASES if c[3]]


def raise_of(fn, a, s):
    try:
        fn(a, s)
    except Exception as e:  # the test compares the exact type
        return e
    return None


@pytest.mark.parametrize("name,fn,exc,_", CASES, ids=CASE_IDS)
def test_fast_raises_the_specific_error_and_keeps_its_state(name, fn, exc, _):
    fa, s = build(FastAllocator)
    before = fast_state(fa)
    err = raise_of(fn, fa, s)
    assert type(err) is exc, f"{name}: expected {exc.__name__}, got {err!r}"
    assert fast_state(fa) == before
    check_impl(fa, 3)


@pytest.mark.parametrize("name,fn,exc,_", BOTH, ids=[c[0] for c in BOTH])
def test_reference_and_fast_raise_the_same_error_type(name, fn, exc, _):
    ra, rs = build(RefAllocator)
    fa, fs = build(FastAllocator)
    r_before = ref_state(ra)
    r_err, f_err = raise_of(fn, ra, rs), raise_of(fn, fa, fs)
    assert type(r_err) is type(f_err) is exc, (name, r_err, f_err)
    assert ref_state(ra) == r_before
    ra.check()


# ---- legal calls near the error cases -------------------------------------------------

@pytest.mark.parametrize("cls", [FastAllocator, RefAllocator])
def test_alloc_of_size_zero_is_legal_and_gives_an_eight_byte_class_zero_block(cls):
    a = cls(CFG)
    p = a.alloc(0, 0)
    assert p is not None and a.usable_size(p) == 8
    assert a.live_blocks() == {p: 0}
    assert a.exact_stats().allocs[0] == 1


@pytest.mark.parametrize("cls", [FastAllocator, RefAllocator])
def test_free_after_the_allocating_thread_exited_is_legal_and_a_second_free_is_a_double_free(
        cls):
    a, s = build(cls)
    p = s["orphan64"]                             # tid 2 exited in build()
    assert a.usable_size(p) == 64 and a.read(p, 1) == bytes([5])
    a.free(p, 0)
    assert p not in a.live_blocks()
    with pytest.raises(DoubleFree):
        a.free(p, 0)
    with pytest.raises(DoubleFree):
        a.free(p, 2)


@pytest.mark.parametrize("cls", [FastAllocator, RefAllocator])
def test_the_exited_thread_itself_may_free_its_orphaned_block(cls):
    a, s = build(cls)
    a.free(s["orphan64"], 2)
    with pytest.raises(DoubleFree):
        a.free(s["orphan64"], 2)


@pytest.mark.parametrize("cls", [FastAllocator, RefAllocator])
def test_zero_length_and_exact_fit_accesses_are_legal(cls):
    a, s = build(cls)
    assert a.read(s["b16"], 0) == b""
    a.write(s["b16"], b"y" * 16)
    assert a.read(s["b16"], 16) == b"y" * 16
    a.write(s["b16"] + 15, bytearray(b"z"))
    a.write(s["b16"] + 14, memoryview(b"w"))
    assert a.read(s["b16"] + 14, 2) == b"wz"


def test_maintenance_calls_with_an_unknown_class_or_thread_do_nothing():
    fa, s = build(FastAllocator)
    before = fast_state(fa)
    assert fa.evict_active(0, 99) is False
    assert fa.evict_active(0, -1) is False
    assert fa.evict_active(NEW_TID, 0) is False
    assert fa.refill_active(0, 8) == 0
    assert fa.refill_active(NEW_TID, 0) == 0
    assert fa.drain_remote(0, -1) == 0
    assert fa.drain_remote(NEW_TID, 0) == 0
    fa.thread_exit(NEW_TID)
    assert fast_state(fa) == before


def test_an_error_by_a_new_tid_creates_no_thread_state():
    fa, s = build(FastAllocator)
    for call in (lambda: fa.alloc(-1, NEW_TID), lambda: fa.free(FOREIGN, NEW_TID),
                 lambda: fa.free(s["freed16"], NEW_TID)):
        with pytest.raises(AllocatorError):
            call()
    assert NEW_TID not in fa.snapshot().threads


# ---- known disagreements (reproductions; see the reason of each) -----------------------

TINY = Config(class_sizes=(8, 16), slab_size=64)


def test_a_double_free_after_the_slab_was_released_is_an_invalid_free():
    """Contract (hakmem_verify/contract/api.py): once the slab is released the address is foreign, so the
    answer is InvalidFree, the parent of DoubleFree; the reference keeps its slabs and
    can still say DoubleFree."""
    ra, fa = RefAllocator(TINY), FastAllocator(TINY)
    errs = []
    for a in (ra, fa):
        p = a.alloc(8, 0)
        a.free(p, 0)
        a.thread_exit(0)                          # fast: the slab is released here
        errs.append(raise_of(lambda a, s: a.free(p, 0), a, None))
    assert type(errs[0]) is DoubleFree
    assert type(errs[1]) is InvalidFree, f"fast raised {errs[1]!r}"


def test_the_oracles_interior_free_of_a_freed_handle_is_not_a_false_alarm():
    o = Oracle(RefAllocator(TINY), FastAllocator(TINY))
    try:
        o.run([L.Alloc(16, 0), L.Free(0, 0), L.Quiesce(), L.Alloc(8, 0),
               L.BadFree("interior", 0, 0)])
    except InvariantViolation as e:
        pytest.fail(str(e))
