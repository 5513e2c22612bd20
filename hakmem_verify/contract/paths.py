"""The names of the design's debug counters (``Hooks.path_counts``): the keys every
white-box implementation reports, the model's and the C pool's alike (``csrc/hk.h`` lists
them in this order)."""
from __future__ import annotations

#: The seed's debug counters: alloc stages, free routes, then maintenance events; then
#: SuperSlab mode's (zero in the default mode):
#:
#: * the free pipeline: ``ss_local`` (a free into a SuperSlab the freeing thread owns),
#:   ``ss_remote`` (any other free: a SuperSlab another thread owns, or an abandoned one),
#:   ``tls_sll`` (the ``ss_local`` frees pushed on the thread's tls_sll);
#:   ``ss_local + ss_remote == frees`` and ``tls_sll <= ss_local``;
#: * early returns (an op that returns before the slow path or a slab):
#:   ``ss_alloc_tls_sll_hit`` (an alloc served by the tls_sll, before the TLS magazine),
#:   ``ss_free_early_local`` (an ``ss_local`` free placed on the tls_sll or the TLS magazine);
#: * SuperSlab events: ``ss_map`` (mapped from the OS), ``ss_pool_pop``, ``ss_pool_push``,
#:   ``ss_unmap`` (returned to the OS), ``ss_reclaim`` (an abandoned SuperSlab taken whole),
#:   ``ss_abandon`` (its owner exited), ``tls_sll_flush`` (a block returned from a tls_sll).
PATHS = ("tls_mag", "mini_mag", "refill", "slow", "new_slab", "oom",
         "free_magazine", "free_local", "free_remote",
         "spill", "drain", "mag_overflow", "stat_flush", "slab_release", "tls_refill",
         "ss_local", "ss_remote", "tls_sll", "ss_alloc_tls_sll_hit", "ss_free_early_local",
         "ss_map", "ss_pool_pop", "ss_pool_push", "ss_unmap", "ss_reclaim", "ss_abandon",
         "tls_sll_flush")


__all__ = ["PATHS"]
