"""Client data and the client's view of allocation: what a program can observe.

    the bytes of a live block == what the client wrote (fill pattern at alloc, writes)
    no address is handed out while it is live; live blocks per class == the reference's
"""
from __future__ import annotations

from .registry import fail, form_of, invariant


@invariant("DATA-01", level=2, scope="op", cost="O(block) per op",
           where="every free and read; every live block at L3", planted="free-poisons-neighbour")
def data_01_intact(side: str, addr: int, handle: int, cls_idx: int, slab: int, tid_alloc: int,
                   tid_check: int, got: bytes, want: bytes) -> None:
    """a live block's bytes == what the client wrote (fill pattern at alloc, writes)"""
    if got == want:
        return
    diff = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]),
                min(len(got), len(want)))
    fail("DATA-01", f"{side} block {hex(addr)} (handle {handle}, class {cls_idx}, slab "
                    f"{hex(slab)}, allocated by tid {tid_alloc}, checked by tid {tid_check}) "
                    f"changed at byte {diff}: {got[diff:diff + 8].hex()} instead of "
                    f"{want[diff:diff + 8].hex()} (clobbered while live)")


@invariant("LIVE-02", level=1, scope="op", cost="O(1) per op", where="every alloc; every op",
           planted="magazine-pop-stale-slot")
def live_02_unique(what: str, addr: int, cls_idx: int, other_handle) -> None:
    """no address handed out while live (no double allocation); live count per class == the
    reference's"""
    if other_handle is not None:
        fail("LIVE-02", f"{what} returned block {hex(addr)} (class {cls_idx}) which is still "
                        f"live as handle {other_handle}: no double allocation")


@form_of("LIVE-02")
def live_02_counts(ref_exact, client_live: list, ref_live_count) -> None:
    """LIVE-02, the count half: the reference's live blocks == the client's, per class
    (its allocs - frees first, O(classes); its own ``ref_live_count(c)`` where they
    differ)."""
    for c, (a, f, n) in enumerate(zip(ref_exact.allocs, ref_exact.frees, client_live)):
        if a - f != n:
            ref_live = ref_live_count(c)
            if ref_live != n:
                fail("LIVE-02", f"class {c}: reference has {ref_live} live blocks, the "
                                f"client holds {n}")
