"""Planted hangs: bugs that make an op run forever, caught by the runner, not by an invariant.

The per-op watchdog (``hakmem_verify.explore.watchdog``) must report them as ``HANG`` findings
with the stuck op and its Python stack, and the runner must exit 1, instead of a worker
that never returns and a night reported clean.  ``HANG`` is the runner's finding, not an
invariant of the catalogue (``hakmem_verify/check``): these mutants are of kind ``hang``
(``HANGS``, a view of the one registry).
"""
from __future__ import annotations

from hypothesis import strategies as st

from hakmem_verify.models.fast import core as ops
from hakmem_verify.models.fast.structs import (NULL, atomic_add_remote_count, atomic_exchange_head,
                                 load_word)
from hakmem_verify.contract.api import Config

from . import KindView, mutant, patched

#: name -> Mutant of kind "hang" (expect ("HANG",))
HANGS = KindView("hang")


def hang_mutant(name: str, configs=None):
    """Register the decorated factory as a planted hang (expected finding: HANG)."""
    return mutant(name, ("HANG",), configs=configs, kind="hang")


# one 8-byte class in 64-byte slabs: two remote frees to one slab are a few ops away
hang_configs = st.builds(Config, class_sizes=st.just((8,)), slab_size=st.just(64),
                         word_bits=st.sampled_from([8, 64]), mini_mag_capacity=st.integers(1, 4),
                         refill_batch=st.integers(1, 4), magazine_capacity=st.integers(1, 3),
                         flush_interval=st.integers(1, 8))


@hang_mutant("drain-walk-loops-forever", configs=hang_configs)
def _drain_loops():
    """The drain walk reads the next link from the head instead of from the current
    node, and has no bound: with two or more blocks on the remote stack it steps from
    the second block to itself forever.  Bug class: an unbounded walk of an intrusive
    list (a cyclic list, or a walk that never advances); mimalloc bounds such walks and
    reports "corrupted thread-free list" instead.  Caught by the per-op watchdog
    (HANG), not by an invariant: the op never returns."""
    def drain_steps(slab):
        head = atomic_exchange_head(slab, NULL)
        yield "cas"
        n, p = 0, head
        while p != NULL:                          # no bound
            nxt = load_word(slab, head)           # should be load_word(slab, p)
            if n < slab.nblocks:
                slab.bitmap.set_free((p - slab.base) // slab.block_size)
            n += 1
            p = nxt
        atomic_add_remote_count(slab, -n)
        return n
    return patched((ops, "remote_drain_steps", drain_steps))
