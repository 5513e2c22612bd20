"""The C pool against the Python model, op by op (the differential test of
tests/native/test_native_matches_model.py as a library): the same ops on both must give
the same blocks (the C address mapped by ``model_address``), the same debug counters, the
same statistics and the same slabs.  ``hunt`` draws random cases (SuperSlab mode by
default) until the two disagree or the budget ends: how ``hakmem-fuzz mutants`` runs the
C pool's planted bugs of kind ``native-diff`` (hakmem_verify/planted/native.py)."""
from __future__ import annotations

import dataclasses
import random
import time

from hakmem_verify.contract.api import Config
from hakmem_verify.contract.ops import (Alloc, Drain, Evict, FlushStats, Free, Quiesce, Refill,
                                        ThreadExit, op_repr)

KINDS = ("alloc", "alloc", "alloc", "free", "free", "exit", "evict", "drain", "refill",
         "flush", "quiesce")
#: the maintenance op of each kind that takes (tid, class)
_ON_ACTIVE = {"evict": Evict, "drain": Drain, "refill": Refill}


def to_ops(cfg: Config, picks) -> list:
    """The ops (``hakmem_verify.contract.ops``) of ``(kind, tid, size, pick)`` draws: an
    alloc of ``size`` modulo ``max_size + 1``; a free of the live handle at ``pick`` modulo
    their number (none live: no op); evict, drain and refill of class ``size`` modulo the
    classes; exit, flush (every thread) and quiesce.  Handles are numbered as if every
    alloc succeeds; after an out of memory a free may name a handle that is not live, which
    :func:`compare` skips on both sides alike."""
    ops, held, n = [], [], 0
    for kind, tid, size, pick in picks:
        if kind == "alloc":
            ops.append(Alloc(size % (cfg.max_size + 1), tid))
            held.append(n)
            n += 1
        elif kind == "free" and held:
            ops.append(Free(held.pop(pick % len(held)), tid))
        elif kind in _ON_ACTIVE:
            ops.append(_ON_ACTIVE[kind](tid, size % cfg.num_classes))
        elif kind == "exit":
            ops.append(ThreadExit(tid))
        elif kind == "flush":
            ops.append(FlushStats())
        elif kind == "quiesce":
            ops.append(Quiesce())
    return ops


#: the hook of each maintenance op, called with (tid, class) on both sides
_HOOK = {Evict: "evict_active", Drain: "drain_remote", Refill: "refill_active"}


def compare(cfg: Config, ops, mutant: str = None, check: bool = False):
    """None when the C pool (built with ``mutant``) makes the model's choices on ``ops``
    (Alloc, Free, ThreadExit, Evict, Drain, Refill, FlushStats and Quiesce of
    ``hakmem_verify.contract.ops``; a Free of a handle that is not live is skipped), else the
    first difference, in one line (``op I OP: ...``).  ``check``: the catalogue (level 3)
    on the C pool's snapshot after each op too (``hakmem_verify.check.check_impl``: an
    InvariantViolation is raised)."""
    from hakmem_verify.models.fast import FastAllocator
    from hakmem_verify.models.native.allocator import NativeAllocator
    fast, nat = FastAllocator(cfg), NativeAllocator(cfg, mutant=mutant)
    held, n = {}, 0                                 # handle -> (model addr, C addr)
    for i, op in enumerate(ops):
        where, kind = f"op {i} {op_repr(op)}", type(op)
        if kind is Alloc:
            f, c = fast.alloc(op.size, op.tid), nat.alloc(op.size, op.tid)
            if (f is None) != (c is None) or (f is not None and nat.model_address(c) != f):
                return f"{where}: alloc({op.size}) gave {f and hex(f)} in the model, " \
                       f"{c and hex(nat.model_address(c))} in C"
            if f is not None:
                held[n] = (f, c)
                n += 1
        elif kind is Free:
            if op.handle in held:
                f, c = held.pop(op.handle)
                fast.free(f, op.tid)
                nat.free(c, op.tid)
        elif kind is ThreadExit:
            fast.thread_exit(op.tid), nat.thread_exit(op.tid)
        elif kind in _HOOK:
            name = _HOOK[kind]
            a, b = getattr(fast, name)(op.tid, op.class_idx), getattr(nat, name)(op.tid, op.class_idx)
            if a != b:
                return f"{where}: {name}(class {op.class_idx}) returned {a} in the model, {b} in C"
        elif kind is FlushStats and op.tid is None:
            fast.flush_stats(), nat.flush_stats()
        elif kind is Quiesce:
            fast.quiesce(), nat.quiesce()
        else:
            raise ValueError(f"{op!r}: the differential test runs Alloc, Free, ThreadExit, "
                             "Evict, Drain, Refill, FlushStats() and Quiesce")
        pf, pn = dict(fast.path_counts), dict(nat.path_counts)
        if pf != pn:
            diff = {k: (pf[k], pn[k]) for k in pf if pf[k] != pn.get(k)}
            return f"{where}: debug counters differ (model, C): {diff}"
        if fast.stats() != nat.stats() or fast.exact_stats() != nat.exact_stats():
            return f"{where}: statistics differ: model {fast.exact_stats()}, C " \
                   f"{nat.exact_stats()}"
        if check:
            from hakmem_verify.check import check_impl
            check_impl(nat, 3)
    if fast.slab_bases() != [nat.model_address(b) for b in nat.slab_bases()]:
        return "after the ops: the slabs in use differ"
    return None


def random_case(rng: random.Random, superslab: bool = True):
    """(Config, ops): a small Config (4 to 16 blocks a slab, magazines of 1-4), in
    SuperSlab mode if asked (2-8 slots, a pool of 0-2, a tls_sll of 0-4), and 10-150 ops
    by 3 threads."""
    sizes = (8, 16) if rng.random() < 0.5 else (8, 16, 32, 64)
    cfg = Config(class_sizes=sizes, slab_size=sizes[-1] * rng.choice([4, 8, 16]),
                 word_bits=rng.choice([4, 8, 64]), mini_mag_capacity=rng.randint(1, 4),
                 refill_batch=rng.randint(1, 4), magazine_capacity=rng.randint(1, 4),
                 flush_interval=rng.randint(1, 4))
    if superslab:
        cfg = dataclasses.replace(cfg, use_superslab=True,
                                  superslab_size=cfg.slab_size * rng.choice([2, 4, 8]),
                                  superslab_pool_max=rng.randint(0, 2),
                                  tls_sll_capacity=rng.randint(0, 4))
    picks = [(rng.choice(KINDS), rng.randint(0, 2), rng.randint(0, 1024),
              rng.randint(0, 10 ** 6)) for _ in range(rng.randint(10, 150))]
    return cfg, to_ops(cfg, picks)


@dataclasses.dataclass
class DiffResult:
    killed: bool
    message: str
    cases: int
    elapsed: float
    config: Config = None
    ops: list = None


def hunt(mutant: str = None, budget: float = 30.0, seed: int = 0,
         superslab: bool = True) -> DiffResult:
    """Random cases until the C pool (built with ``mutant``) and the model disagree, or
    ``budget`` seconds pass."""
    rng = random.Random(seed)
    t0, cases = time.monotonic(), 0
    while True:
        cfg, ops = random_case(rng, superslab)
        cases += 1
        msg = compare(cfg, ops, mutant)
        if msg is not None:
            return DiffResult(True, msg, cases, time.monotonic() - t0, cfg, ops)
        if time.monotonic() - t0 >= budget:
            return DiffResult(False, "", cases, time.monotonic() - t0)


__all__ = ["compare", "to_ops", "random_case", "hunt", "DiffResult"]
