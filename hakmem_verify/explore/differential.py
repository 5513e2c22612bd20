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

KINDS = ("alloc", "alloc", "alloc", "free", "free", "exit", "evict", "drain", "refill",
         "flush", "quiesce")


def compare(cfg: Config, ops, mutant: str = None, check: bool = False):
    """None when the C pool (built with ``mutant``) makes the model's choices on ``ops``
    (``(kind, tid, size, pick)`` tuples), else the first difference, in one line
    (``op I KIND(tid T): ...``).  ``check``: the catalogue (level 3) on the C pool's
    snapshot after each op too (``hakmem_verify.check.check_impl``: an InvariantViolation is
    raised)."""
    from hakmem_verify.models.fast import FastAllocator
    from hakmem_verify.models.native.allocator import NativeAllocator
    fast, nat = FastAllocator(cfg), NativeAllocator(cfg, mutant=mutant)
    held = []
    for i, (kind, tid, size, pick) in enumerate(ops):
        c = size % cfg.num_classes
        where = f"op {i} {kind}(tid {tid})"
        if kind == "alloc":
            size %= cfg.max_size + 1
            f, n = fast.alloc(size, tid), nat.alloc(size, tid)
            if (f is None) != (n is None) or (f is not None and nat.model_address(n) != f):
                return f"{where}: alloc({size}) gave {f and hex(f)} in the model, " \
                       f"{n and hex(nat.model_address(n))} in C"
            if f is not None:
                held.append((f, n))
        elif kind == "free" and held:
            f, n = held.pop(pick % len(held))
            fast.free(f, tid)
            nat.free(n, tid)
        elif kind == "exit":
            fast.thread_exit(tid), nat.thread_exit(tid)
        elif kind in ("evict", "drain", "refill"):
            name = {"evict": "evict_active", "drain": "drain_remote",
                    "refill": "refill_active"}[kind]
            a, b = getattr(fast, name)(tid, c), getattr(nat, name)(tid, c)
            if a != b:
                return f"{where}: {name}(class {c}) returned {a} in the model, {b} in C"
        elif kind == "flush":
            fast.flush_stats(), nat.flush_stats()
        elif kind == "quiesce":
            fast.quiesce(), nat.quiesce()
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
    ops = [(rng.choice(KINDS), rng.randint(0, 2), rng.randint(0, 1024), rng.randint(0, 10 ** 6))
           for _ in range(rng.randint(10, 150))]
    return cfg, ops


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


__all__ = ["compare", "random_case", "hunt", "DiffResult"]
