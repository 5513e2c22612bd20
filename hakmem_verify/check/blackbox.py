"""Black-box checks: what the oracle can judge of an implementation that offers only
``hakmem_verify.contract.api.Allocator`` (no hooks, no snapshot), besides the lockstep comparisons.

    a new block [addr, addr + usable) overlaps no live block       (addresses may differ)
    out of memory only if the reference is, once quiesce() emptied every cache

Each check raises under the ID of its own declaration (``fn.inv_id``), written once.
Their planted bugs are faults of a foreign allocator, named as the ``--impl`` that has
them (``examples.bump_bugs:lost_free``), not mutants of hakmem_verify.models.fast;
``tests/quality/test_foreign_bugs.py`` shows each one tripped.
"""
from __future__ import annotations

from .compare import Obs
from .registry import fail, invariant

#: the quality test of the checks of this module (their planted bugs are foreign)
FOREIGN_QUALITY_TEST = "tests/quality/test_foreign_bugs.py"


@invariant("LIVE-03", level=1, scope="op", cost="O(live) per alloc",
           where="every alloc "
           "(black-box tier)",
           planted="examples.bump_bugs:overlapping_blocks")
def live_03_disjoint(what: str, addr: int, usable: int, live_blocks: dict,
                     class_sizes: tuple) -> None:
    """a new block's range [addr, addr + usable) overlaps no live block's range

    ``live_blocks``: addr -> class of the blocks the client holds (``addr`` itself is
    skipped: a repeated address is LIVE-02)."""
    end = addr + usable
    for a, c in live_blocks.items():
        if a != addr and a < end and addr < a + class_sizes[c]:
            fail(live_03_disjoint.inv_id,
                 f"{what} returned block {hex(addr)}..{hex(end)} ({usable} B), which overlaps "
                 f"the live block {hex(a)}..{hex(a + class_sizes[c])} (class {c}): two live "
                 f"blocks share bytes")


@invariant("OOM-02", level=1, scope="op", cost="O(1) per out of memory",
           where="every alloc the reference serves and the implementation does not "
                 "(black-box tier)",
           planted="examples.bump_bugs:lost_free")
def oom_02_after_quiesce(what: str, cls_idx: int, retry: Obs) -> None:
    """out of memory only if the reference is too, once quiesce() has returned every cached
    block (a lost free shows here)

    ``retry``: the implementation's answer to the same alloc after quiesce()."""
    if retry.kind == "oom":
        fail(oom_02_after_quiesce.inv_id,
             f"{what}: the implementation is out of memory for class {cls_idx} even after "
             f"quiesce(), but the reference, holding the same live blocks under the same "
             f"Config, has room: blocks were lost (a free that never returned its block, or a "
             f"Config limit not honoured: raise hakmem_verify.contract.unsupported.Unsupported for it)")
