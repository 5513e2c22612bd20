"""What the planted bugs of the fast model share: the original functions and methods
they wrap, and the Config strategies that reach them.

The planted bugs are grouped by topic (``structures``, ``caches``, ``pool``,
``stats``; ``conformance``, ``seed``, ``races``, ``harness``).  Each factory
returns a context manager that swaps one function or method of ``hakmem_verify.models.fast``
for a broken copy.  Docstring: the bug; the real bug class it stands for;
``expect`` lists the invariant IDs that should fire.
"""
from __future__ import annotations

from hypothesis import strategies as st

from hakmem_verify.models.fast import core as ops
from hakmem_verify.models.fast.allocator import FastAllocator
from hakmem_verify.models.fast.bitmap import TwoTierBitmap
from hakmem_verify.contract.api import Config

FA = FastAllocator
_orig = {name: getattr(ops, name) for name in (
    "mini_mag_pop", "mini_mag_push", "batch_refill_from_bitmap", "batch_spill_to_bitmap",
    "remote_drain", "stats_flush_if_needed", "stats_flush_all", "atomic_add",
    "atomic_add_remote_count")}
_fa = {name: getattr(FA, name) for name in (
    "_free_route", "_adopt", "_maybe_release", "_new_slab", "_find_partial",
    "_free", "_validate_free", "stats", "_alloc_hot", "drain_remote", "free_steps",
    "_alloc_gen", "_alloc_slow_steps", "_evict_steps", "_evict_active_gen",
    "_thread_exit_gen", "_quiesce_gen", "_take_slab_steps", "_take_slab", "_new_slab_base",
    "_remote_push", "_ss_with_room", "_ss_acquire")}


def around_steps(name: str, before=None, after=None):
    """A patch of FastAllocator's step generator ``name`` (every sequential op runs its
    generator, so both machines see it) that calls ``before(self, *args)`` first and
    ``after(self, result, *args)`` once the original's steps are done; ``after``
    returns the op's result."""
    orig = _fa[name]

    def steps(self, *args):
        if before is not None:
            before(self, *args)
        result = yield from orig(self, *args)
        return result if after is None else after(self, result, *args)
    return (FA, name, steps)


def pick_before_lock(name: str, key: str, label: str, pick):
    """A patch of FastAllocator's step generator ``name`` (``(self, t, c)``) that first
    takes one step ``label`` outside the pool lock, in which thread t picks
    ``pick(self, t, c)`` (no step when it picks None); the pool-lock step takes the pick
    with :func:`take_pick` (``key`` names the picks).  A pick lives for the one call."""
    orig = _fa[name]

    def steps(self, t, c):
        picks = self.__dict__.setdefault(key, {})
        picked = pick(self, t, c)
        if picked is not None:
            picks[t.tid] = picked
            yield label
        try:
            return (yield from orig(self, t, c))
        finally:
            picks.pop(t.tid, None)
    return (FA, name, steps)


def take_pick(self, key: str, tid: int):
    """What thread tid picked before the pool lock (:func:`pick_before_lock`), taken
    once; None when it picked nothing."""
    return self.__dict__.get(key, {}).pop(tid, None)


_bm = {name: TwoTierBitmap.__dict__[name] for name in ("__init__", "set_used", "set_free")}

# a tiny Config strategy with padding bits in the last bitmap word
padded_configs = st.builds(Config, class_sizes=st.sampled_from([(8, 16), (8,)]),
                           slab_size=st.just(64), word_bits=st.sampled_from([64, 16, 5 + 1]),
                           mini_mag_capacity=st.integers(1, 4), refill_batch=st.integers(1, 4),
                           magazine_capacity=st.integers(1, 3), flush_interval=st.integers(1, 8))


def _small_configs(class_sizes):
    """Tiny Configs over the given class-size tuples: 1-2 slabs' worth of blocks."""
    return st.builds(Config, class_sizes=st.sampled_from(class_sizes),
                     slab_size=st.sampled_from([64, 128]), word_bits=st.sampled_from([4, 8, 64]),
                     mini_mag_capacity=st.integers(1, 4), refill_batch=st.integers(1, 4),
                     magazine_capacity=st.integers(1, 4), flush_interval=st.integers(1, 8))


multi_class_configs = _small_configs([(8, 16), (16, 32, 64)])
wide_block_configs = _small_configs([(16, 32), (16,)])
accurate_stats_configs = st.builds(Config, class_sizes=st.just((8,)), slab_size=st.just(64),
                                   word_bits=st.just(8), mini_mag_capacity=st.integers(1, 4),
                                   refill_batch=st.integers(1, 4),
                                   magazine_capacity=st.integers(1, 4),
                                   flush_interval=st.integers(1, 2))
