"""Scripted interleavings of an implementation's atomic steps (``Hooks.free_steps``).

The system under test only yields its steps; the harness decides their order.
"""
from __future__ import annotations


def race_free_with_drain(impl, addr: int, tid: int) -> None:
    """free(addr) by tid, with the owner draining the slab's remote stack between the
    push's link and its compare-and-swap: the interleaving a lock-free push must survive."""
    legacy = getattr(impl, "_impl", None)
    if legacy is not None and hasattr(legacy, "free_racing_drain"):
        return legacy.free_racing_drain(addr, tid)   # transitional: before free_steps
    steps = impl.free_steps(addr, tid)
    for label in steps:
        if label == "link":
            base = addr & ~(impl.config.slab_size - 1)
            s = impl.snapshot([base], {}).slabs.get(base)
            if s is not None and s.owner is not None and s.owner != tid:
                impl.drain_remote(s.owner, s.class_idx)
            break
    for _ in steps:
        pass
