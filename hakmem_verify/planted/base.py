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
from hakmem_verify.models.fast import pool, steps, superslab, validate
from hakmem_verify.models.fast.allocator import FastAllocator
from hakmem_verify.models.fast.bitmap import TwoTierBitmap
from hakmem_verify.contract.api import Config

FA = FastAllocator
_orig = {name: getattr(ops, name) for name in (
    "mini_mag_pop", "mini_mag_push", "batch_refill_from_bitmap", "batch_spill_to_bitmap",
    "remote_drain", "stats_flush_if_needed", "stats_flush_all", "atomic_add",
    "atomic_add_remote_count")}
_fa = {name: getattr(FA, name) for name in (
    "_free_route", "_free", "stats", "_alloc_hot", "drain_remote", "_remote_push")}
#: the module functions of the fast model the planted bugs wrap: "module.name" -> original
#: (a bug patches the module's attribute: every caller calls through the module)
_fn = {f"{mod.__name__.rsplit('.', 1)[-1]}.{name}": getattr(mod, name) for mod, names in (
    (steps, ("free_steps", "alloc_gen", "alloc_slow_steps", "evict_slab_steps",
             "evict_active_gen", "thread_exit_gen", "quiesce_gen", "take_slab_steps",
             "take_slab")),
    (pool, ("adopt", "maybe_release", "new_slab", "find_partial", "new_slab_base")),
    (validate, ("validate_free",)),
    (superslab, ("with_room", "acquire"))) for name in names}


def around_steps(name: str, before=None, after=None):
    """A patch of the fast model's step generator ``steps.name`` (every sequential op runs
    its generator, so both machines see it) that calls ``before(fa, *args)`` first and
    ``after(fa, result, *args)`` once the original's steps are done; ``after``
    returns the op's result."""
    orig = _fn[f"steps.{name}"]

    def gen(fa, *args):
        if before is not None:
            before(fa, *args)
        result = yield from orig(fa, *args)
        return result if after is None else after(fa, result, *args)
    return (steps, name, gen)


def pick_before_lock(name: str, key: str, label: str, pick):
    """A patch of the fast model's step generator ``steps.name`` (``(fa, t, c)``) that
    first takes one step ``label`` outside the pool lock, in which thread t picks
    ``pick(fa, t, c)`` (no step when it picks None); the pool-lock step takes the pick
    with :func:`take_pick` (``key`` names the picks).  A pick lives for the one call."""
    orig = _fn[f"steps.{name}"]

    def gen(fa, t, c):
        picks = fa.__dict__.setdefault(key, {})
        picked = pick(fa, t, c)
        if picked is not None:
            picks[t.tid] = picked
            yield label
        try:
            return (yield from orig(fa, t, c))
        finally:
            picks.pop(t.tid, None)
    return (steps, name, gen)


def take_pick(fa, key: str, tid: int):
    """What thread tid picked before the pool lock (:func:`pick_before_lock`), taken
    once; None when it picked nothing."""
    return fa.__dict__.get(key, {}).pop(tid, None)


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
