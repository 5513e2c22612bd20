"""Compile-time mutants of the C pool (``-DHAKMEM_MUTANT=name``, csrc/hk_mutants.h), each a
factory for ``--impl``: ``hakmem-fuzz run --impl hakmem_verify.models.native.mutants:seed_batch_refill_from_bitmap``.

``SEQUENTIAL`` mutants are found by the lockstep hunts; ``RACES`` only show with real
threads (``hakmem-fuzz stress``, the ThreadSanitizer build); ``DIFF`` (SuperSlab mode) by
the differential test against the model (``hakmem_verify.explore.differential``)."""
from __future__ import annotations

from hakmem_verify.contract.api import Config

from .allocator import NativeAllocator

#: mutant -> (expected invariant IDs, what it is)
SEQUENTIAL = {
    "seed-batch_refill_from_bitmap": (("REF-01", "PART-01", "LIVE-01"),
                                      "the seed's refill sample: marks a block used before the "
                                      "push and breaks out when the mini-mag is full"),
    "seed-stats_flush_if_needed": (("STAT-01", "STAT-02"),
                                   "the seed's flush sample: flushes at 255 events, adds 256"),
}
RACES = {
    "seed-stats-global-add": "the seed's g_tiny_pool.alloc_count[c] += n: a plain load and store",
    "remote-push-not-atomic": "remote push stores the head without a CAS",
    "free-pushes-twice": "a free pushes 1 block in 64 on the magazine twice (double allocation)",
}

#: planted bugs of SuperSlab mode, found by the differential test in that mode:
#: mutant -> what it is
DIFF = {
    "ss-mask-off-by-one-slab": "a non-local free reads the owner of the slab one slab above "
                               "the block's (the slab found from an address one slab off)",
    "ss-counter-wrong-route": "a remote free (ss_remote) is counted ss_local",
}

#: planted bugs for the stress driver's checks: mutant -> the check that must name it
STRESS = {
    "free-pushes-twice": "STRESS-TAG",
    "remote-push-scribbles": "STRESS-OVERWRITE",
    "spill-leaks-one": "STRESS-CONSERVATION",
    "flush-drops-batches": "STRESS-STATS1%",
    "seed-stats_flush_if_needed": "STRESS-STATS",
    "thread-exit-keeps-b": "STRESS-EMPTY",
    "exact-misses-remote": "STRESS-EXACT",
    "live-not-marked": "STRESS-FREE",
    "slab-limit-8": "STRESS-OOM",
}


def _factory(name: str):
    def make(config: Config = Config()):
        return NativeAllocator(config, mutant=name)
    make.__name__ = name.replace("-", "_")
    make.__doc__ = f"The C pool built with -DHAKMEM_MUTANT for {name}."
    return make


seed_batch_refill_from_bitmap = _factory("seed-batch_refill_from_bitmap")
seed_stats_flush_if_needed = _factory("seed-stats_flush_if_needed")
seed_stats_global_add = _factory("seed-stats-global-add")
remote_push_not_atomic = _factory("remote-push-not-atomic")
free_pushes_twice = _factory("free-pushes-twice")
spill_leaks_one = _factory("spill-leaks-one")
remote_push_scribbles = _factory("remote-push-scribbles")
flush_drops_batches = _factory("flush-drops-batches")
thread_exit_keeps_b = _factory("thread-exit-keeps-b")
exact_misses_remote = _factory("exact-misses-remote")
live_not_marked = _factory("live-not-marked")
slab_limit_8 = _factory("slab-limit-8")
ss_mask_off_by_one_slab = _factory("ss-mask-off-by-one-slab")
ss_counter_wrong_route = _factory("ss-counter-wrong-route")
