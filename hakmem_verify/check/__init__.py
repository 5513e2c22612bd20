"""The invariant catalogue: one registered check per ID, grouped by topic.

| module          | what it checks                                              |
|-----------------|-------------------------------------------------------------|
| ``bitmap``      | bitmap words, padding, free_count, summary, hint (SLAB, SUM) |
| ``minimag``     | the mini-magazine, refill and spill (MM, REF, SPL)          |
| ``magazine``    | thread magazines (MAG)                                      |
| ``remote``      | remote-free stacks (RMT)                                    |
| ``ownership``   | active slabs and owners (OWN)                               |
| ``concurrency`` | owner-private words written by their owner only (OWN-03)    |
| ``heap``        | partition, live blocks, thread exit, quiescence (PART, LIVE-01, EXIT, QUI) |
| ``stats``       | batched statistics (STAT)                                   |
| ``data``        | client data and double allocation (DATA, LIVE-02)           |
| ``compare``     | lockstep comparisons with the reference (LOCK, OOM)         |
| ``blackbox``    | what only the black-box tier needs (LIVE-03, OOM-02)        |
| ``malloc``      | the malloc contract tier of C libraries (MALLOC, CRASH, ABORT) |
| ``incremental`` | the op-by-op checker and its own honesty (HOOK)             |
| ``conformance`` | each op takes the design's path; its debug counters (CONF)   |
| ``progress``    | the concurrent machine's steps: no spin, no crash (LIVELOCK, CRASH-STEP) |
| ``slab_accounting`` | every slab owned, adoptable or released (SLAB-ACCT)     |
| ``superslab``   | SuperSlab mode: headers, slots, tls_sll, pool, counters (SS) |

``registry`` holds the declarations; ``check(snapshot, level, scope)`` runs them.
Every check takes plain data (``hakmem_verify.contract.api.Snapshot``) and raises
``hakmem_verify.contract.api.InvariantViolation`` whose message starts with the ID and names the
block, slab, class and thread.  Nothing here imports an allocator.
"""
from __future__ import annotations

# registration order is the order checks run in: SuperSlab headers (a SuperSlab release
# is named before what it left dangling), statistics, threads, then slab structures
# before the partition, so the most specific ID names a failure first
# (imported for their registration)
from . import superslab  # noqa: F401
from . import stats, magazine, ownership, concurrency, bitmap, minimag, remote  # noqa: F401
from . import eviction, heap, data, compare, blackbox  # noqa: F401
from . import malloc, incremental, conformance  # noqa: F401
from . import progress  # noqa: F401
from . import slab_accounting  # noqa: F401
from .geometry import dump_slab
from .heap import exit_01_gone, live_01_blocks, part_01_partition, qui_01_empty
from .minimag import ref_01_refill, spl_01_spill
from .incremental import Checker
from .registry import (FORMS, REGISTRY, RUNS, Invariant, LiveSet, View, check, check_impl, fail,
                       form_of, ran, run_op, violation_of)

TOPICS = ("bitmap", "minimag", "remote", "eviction", "magazine", "ownership", "concurrency",
          "heap", "stats", "data", "compare", "blackbox", "malloc", "incremental", "conformance",
          "progress", "slab_accounting", "superslab")


def catalogue() -> list:
    """Every invariant, in topic order, as the registry declares it."""
    return sorted(REGISTRY.values(), key=lambda inv: (TOPICS.index(inv.topic),
                                                      list(REGISTRY).index(inv.id)))


def markdown_table() -> str:
    """The catalogue table of docs/CATALOGUE.md (generated; a test keeps them equal)."""
    rows = ["| ID | statement | level | scope | cost | where it runs | planted bug |",
            "|---|---|---|---|---|---|---|"]
    for inv in catalogue():
        rows.append(f"| {inv.id} | {inv.statement} | L{inv.level} | {inv.scope} | {inv.cost} "
                    f"| {inv.where} | `{inv.planted}` |")
    return "\n".join(rows) + "\n"


__all__ = ["REGISTRY", "FORMS", "RUNS", "Invariant", "LiveSet", "View", "Checker", "check",
           "check_impl", "violation_of", "run_op", "ran", "form_of", "fail", "dump_slab", "catalogue", "markdown_table",
           "exit_01_gone", "live_01_blocks", "part_01_partition", "qui_01_empty",
           "ref_01_refill", "spl_01_spill"]
