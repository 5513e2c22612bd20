"""Scripted interleavings of an implementation's atomic steps (``Hooks.free_steps``).

The system under test only yields its steps; the harness decides their order.

``race_free_with_drain`` is the interleaving a lock-free remote push must
survive: the freeing thread loads the slab's remote head and links its block
to it, then the owner drains the stack, then the push's compare-and-swap
runs (and must fail and retry, or drained blocks reappear on the stack).
"""
from __future__ import annotations


def race_free_with_drain(impl, addr: int, tid: int = 0) -> None:
    """free(addr, tid), with the owner's drain of the block's slab between the remote
    push's "link" step and its CAS.  A free that does not take the remote route (the
    slab is tid's own or unowned) runs to completion with no drain.

    Errors (bad tid, not a live block) are raised before any step, state unchanged.
    """
    steps = impl.free_steps(addr, tid)
    for label in steps:
        if label == "link":
            base = addr & ~(impl.config.slab_size - 1)
            slab = impl.snapshot([base], {}).slabs.get(base)
            if slab is not None and slab.owner is not None and slab.owner != tid:
                impl.drain_remote(slab.owner, slab.class_idx)
            break
    for _ in steps:
        pass


__all__ = ["race_free_with_drain"]
