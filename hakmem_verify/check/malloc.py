"""The malloc contract tier: what the harness checks of any C allocator library
(``--impl malloc:LIB[:PREFIX]``, ``hakmem_verify.oracle.malloc``), with no reference to compare
with.  The harness is the reference: it keeps an interval index of the live blocks and
what the client wrote in each.

    live blocks [addr, addr + max(size, usable)) are pairwise disjoint       (MALLOC-01)
    addr % min(16, 2^floor(log2 size)) == 0; addr % alignment == 0 when asked (MALLOC-02)
    usable_size(addr) >= size                                               (MALLOC-03)
    the bytes the client wrote are intact until it frees the block          (MALLOC-04)
    realloc(p, n) keeps the first min(old size, n) bytes                     (MALLOC-05)
    calloc(n, s) gives n * s zero bytes, reused blocks included             (MALLOC-06)
    every thread exited: requested <= allocated - baseline <= usable         (MALLOC-07)
    NULL only when the live bytes exceed the out-of-memory floor            (MALLOC-08)
    declared detection of invalid frees: a double or interior free aborts   (MALLOC-09)
    the library neither crashes nor aborts on valid calls                   (CRASH, ABORT)

Alignment is the weak rule real libraries follow (C23's, and what mimalloc, jemalloc and
tcmalloc give an 8-byte block): a block of ``size`` bytes is aligned to the largest power
of two <= size, up to ``max_align_t`` (16 on x86-64).  Their planted bugs are faults of C
libraries (``tests/quality/planted_malloc.c``, one macro per bug);
``tests/quality/test_malloc_tier_quality.py`` shows each one tripped.
"""
from __future__ import annotations

from .registry import fail, invariant

#: max_align_t on the platforms the harness runs on (x86-64, aarch64)
MAX_ALIGN = 16
#: NULL from a library holding fewer live bytes than this is a finding (MALLOC-08)
OOM_FLOOR = 256 << 20
QUALITY_TEST = "tests/quality/test_malloc_tier_quality.py"


def _tier(inv_id: str, *, cost: str, where: str, planted: str, tier: str = "malloc tier",
          level: int = 1):
    """Declare an op-scope check of the malloc tier: it runs ``where`` (in the ``tier``)
    and its planted bug is the macro ``planted`` of ``planted_malloc.c``."""
    return invariant(inv_id, level=level, scope="op", cost=cost, where=f"{where} ({tier})",
                     planted=f"planted_malloc.c:{planted}")


def _first_difference(bad: list):
    """(offset, "FOUND instead of EXPECTED") of the first of the ``bad`` segments
    ``(offset, bytes found, bytes expected)``, at most 16 bytes of each in hex."""
    off, got, want = bad[0]
    return off, f"{got[:16].hex()} instead of {want[:16].hex()}"


def required_alignment(size: int, alignment: int = 0) -> int:
    """The alignment a block of ``size`` bytes must have (``alignment``: asked for)."""
    if alignment:
        return alignment
    if size <= 0:
        return 1
    return min(MAX_ALIGN, 1 << (size.bit_length() - 1))


HANDS_OUT = "every block a library hands out"
IN_CHILD = "every call into a library run in a child process"


@_tier("MALLOC-01", cost="O(log live) per alloc", where=HANDS_OUT, planted="PL_SAME_TWICE")
def malloc_01_disjoint(what: str, addr: int, end: int, other) -> None:
    """live blocks [addr, addr + max(size, usable)) are pairwise disjoint (a repeated address
    is a double allocation)

    ``other``: None, or (handle, start, end, what made it) of the live block it meets."""
    if other is None:
        return
    h, a, e, made = other
    kind = "the same address as" if a == addr else "bytes shared with"
    fail(malloc_01_disjoint.inv_id,
         f"{what} returned {hex(addr)}..{hex(end)}, {kind} live handle {h} "
         f"{hex(a)}..{hex(e)} ({made}): two live blocks overlap (a double allocation)")


@_tier("MALLOC-02", cost="O(1) per alloc", where=HANDS_OUT, planted="PL_OFF_BY_8")
def malloc_02_aligned(what: str, addr: int, size: int, alignment: int = 0) -> None:
    """addr is a multiple of min(16, largest power of two <= size), or of the alignment asked
    for (aligned_alloc, posix_memalign)"""
    need = required_alignment(size, alignment)
    if addr % need:
        asked = f"the alignment asked for, {alignment}" if alignment else \
            f"min({MAX_ALIGN}, the largest power of two <= {size})"
        fail(malloc_02_aligned.inv_id,
             f"{what} returned {hex(addr)}, not a multiple of {need} ({asked}; it is "
             f"{addr % need} past one)")


@_tier("MALLOC-03", cost="O(1) per alloc", planted="PL_USABLE_SHORT",
       where="every block, where the library has a usable-size function")
def malloc_03_usable(what: str, addr: int, size: int, usable: int) -> None:
    """usable_size(addr) >= the size asked for"""
    if 0 <= usable < size:
        fail(malloc_03_usable.inv_id,
             f"{what} returned {hex(addr)} whose usable size is {usable} B, less than the "
             f"{size} B asked for: the client's last {size - usable} B belong to another block")


@_tier("MALLOC-04", level=2, cost="O(bytes written) per block checked",
       where="before every free and realloc, after free(NULL), every L3 period and at "
             "teardown",
       planted="PL_LINK_IN_LIVE")
def malloc_04_intact(what: str, h: int, addr: int, size: int, bad: list, made: str) -> None:
    """every byte the client wrote into a live block reads back unchanged

    ``bad``: [(offset, bytes found, bytes expected)] of the segments that differ."""
    if bad:
        off, diff = _first_difference(bad)
        fail(malloc_04_intact.inv_id,
             f"{what}: live handle {h} at {hex(addr)} ({size} B, {made}) was overwritten: at "
             f"offset {off} it holds {diff}"
             f"{f' ({len(bad)} regions differ)' if len(bad) > 1 else ''}: something else "
             f"wrote into a live block")


@_tier("MALLOC-05", cost="O(min(old, new) bytes written) per realloc",
       where="every realloc that succeeds", planted="PL_REALLOC_SHORT")
def malloc_05_prefix(what: str, h: int, old_addr: int, new_addr: int, old_size: int,
                     size: int, bad: list) -> None:
    """realloc(p, n) returns a block whose first min(old size, n) bytes are those of p"""
    if not bad:
        return
    off, diff = _first_difference(bad)
    fail(malloc_05_prefix.inv_id,
         f"{what}: handle {h} moved {hex(old_addr)} -> {hex(new_addr)} ({old_size} -> {size} "
         f"B) but at offset {off} holds {diff}: realloc lost the old contents")


@_tier("MALLOC-06", cost="O(n * size) per calloc", planted="PL_CALLOC_REUSED",
       where="every calloc that succeeds")
def malloc_06_zero(what: str, addr: int, nbytes: int, first_nonzero: int) -> None:
    """calloc(n, size) returns n * size bytes that are all zero, a reused block included"""
    if first_nonzero >= 0:
        fail(malloc_06_zero.inv_id,
             f"{what} returned {hex(addr)} ({nbytes} B) whose byte {first_nonzero} is not "
             f"zero: calloc memory must be zeroed, also when the block is reused")


@_tier("MALLOC-07", cost="O(1) per quiescent point", planted="PL_STATS_REALLOC",
       where="when every thread has exited (Quiesce, teardown), where the library exposes "
             "an allocated-bytes statistic")
def malloc_07_stats(what: str, allocated: int, baseline: int, requested: int,
                    usable: int, nlive: int) -> None:
    """with every thread exited, requested bytes <= allocated - baseline <= usable bytes of the
    live blocks (no live block: equal to the baseline)"""
    delta = allocated - baseline
    if requested <= delta <= usable:
        return
    fail(malloc_07_stats.inv_id,
         f"{what}: the library counts {delta:+,} B allocated since the start ({allocated:,} "
         f"now, {baseline:,} before the first op), but the client holds {nlive} live "
         f"block(s) of {requested:,} B requested, {usable:,} B usable: the statistic "
         f"drifted (every thread has exited, so no cache is excused)")


@_tier("MALLOC-08", cost="O(1) per NULL", planted="PL_NULL_EARLY",
       where="every NULL a library returns for a size > 0")
def malloc_08_oom(what: str, size: int, live_bytes: int, floor: int = OOM_FLOOR) -> None:
    """malloc, calloc, realloc and aligned_alloc return NULL only when the live bytes exceed
    the out-of-memory floor (256 MiB)"""
    if size > 0 and live_bytes + size < floor:
        fail(malloc_08_oom.inv_id,
             f"{what} returned NULL with only {live_bytes:,} B live (the floor is "
             f"{floor:,} B): out of memory where there is plenty (leaked or lost blocks?)")


@_tier("MALLOC-09", cost="O(1) per invalid free (a fork)",
       where="double and interior frees, only for a library whose adapter declares "
             "detects_invalid_free",
       planted="PL_IGNORES_UNKNOWN")
def malloc_09_detected(what: str, addr: int, exit_code: int) -> None:
    """a library that declares it detects invalid frees dies (abort) on a double free and on an
    interior pointer, in a forked copy of its process"""
    if exit_code is None or exit_code >= 0:
        fail(malloc_09_detected.inv_id,
             f"{what}: free({hex(addr)}) returned normally (exit status {exit_code} of the "
             f"forked copy), but the library declares it detects invalid frees "
             f"(detects_invalid_free): the bad free went unnoticed")


@_tier("CRASH", cost="O(1) per call", where=IN_CHILD, tier="malloc tier, stress",
       planted="PL_SEGV")
def crash(what: str, exc) -> None:
    """a valid call never kills the library's process"""
    fail("ABORT" if exc.kind == "ABORT" else crash.inv_id,
         f"{what}: {exc}")


@_tier("ABORT", cost="O(1) per call", where=IN_CHILD, tier="malloc tier, stress",
       planted="PL_ABORT")
def abort(what: str, exc) -> None:
    """a valid call never makes the library abort (its own heap check fired)"""
    fail(abort.inv_id, f"{what}: {exc}")
