"""Slab accounting: every slab the pool has carved is in exactly one place.

    owned      owner is a thread (its active A or B: OWN-02), in its class's table
    adoptable  unowned, in its class's table (where the slow path's search finds it
               once it has a free block)
    released   its base on the pool's free-base list, in no table

The pool's tables are not in a snapshot: :func:`pool_tables` reads them through
``Hooks.slab_bases(class_idx)``, and the free-base list, the first slab address and the
next new one through the optional hook ``pool_lists()`` (``hakmem_verify.contract.api.Hooks``: the fast
model and the C pool have it); without it only the tables half is checked.  A slab that falls off
every list is a leak the other checks do not see: its blocks are never handed out
again and the pool grows instead of reusing it.

The check is O(heap) (L3): the concurrent machine runs it at each quiescent point, and
the lockstep oracle in every L3 check (``hakmem_verify.oracle.lockstep.Oracle.check_l3``), so
the machines, ``Oracle.run`` and every replay and reproducer run it alike.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from hakmem_verify.contract.api import Snapshot
from .geometry import h
from .registry import RUNS, fail, invariant, run_op


@dataclass(frozen=True)
class PoolTables:
    """The pool's own lists: per class the bases in its slab table; the free-base list
    and the next new slab address (None: the implementation does not show them)."""

    tables: tuple
    released: Optional[tuple] = None
    next_base: Optional[int] = None
    first_base: Optional[int] = None     # None: Config.base_address


def pool_tables(impl) -> PoolTables:
    """The tables of ``impl`` (``Hooks.slab_bases`` per class, and ``pool_lists()`` where
    the implementation has it)."""
    nc = impl.config.num_classes
    tables = tuple(frozenset(impl.slab_bases(c)) for c in range(nc))
    lists = impl.pool_lists() if callable(getattr(impl, "pool_lists", None)) else None
    if lists is None:
        return PoolTables(tables)
    released, first, nxt = lists
    return PoolTables(tables, tuple(released), nxt, first)


def check_pool(impl, snap: Optional[Snapshot] = None, counts=RUNS) -> None:
    """SLAB-ACCT on ``impl`` now (``snap``: its complete snapshot, taken if not given)."""
    if snap is None or not snap.complete:
        snap = impl.snapshot()
    run_op("SLAB-ACCT", snap, pool_tables(impl), counts=counts)


def _free_blocks(s) -> int:
    return s.free_count + s.mini_mag_count + len(s.remote)


@invariant("SLAB-ACCT", level=3, scope="op", cost="O(heap)",
           where="every quiescent point of the concurrent machine; every L3 check of the "
                 "lockstep oracle (white-box), in the machines and in replays",
           planted="class-table-published-outside-lock")
def slab_acct(snap: Snapshot, pool: PoolTables) -> None:
    """every slab the pool carved is exactly one of: owned (a thread's active A or B),
    adoptable (unowned, in its class's slab table) or released (its base on the free-base
    list, in no table); every slab in use is in its class's table, so an unowned slab with a
    free block is adoptable

    The tables hold exactly the slabs in use; the rest of what was carved is free."""
    _tables_hold_slabs_in_use(snap, pool)
    _slabs_in_use_are_in_tables(snap, pool)
    if pool.released is not None:
        _released_is_the_rest(snap, pool)


def _tables_hold_slabs_in_use(snap: Snapshot, pool: PoolTables) -> None:
    for c, table in enumerate(pool.tables):
        for b in sorted(table):
            s = snap.slabs.get(b)
            if s is None:
                where = "; its base is on the free-base list" if pool.released is not None \
                    and b in pool.released else ""
                fail("SLAB-ACCT", f"slab {h(b)} is in the slab table of class {c} but not "
                                  f"in use{where}: the slow path would adopt memory the "
                                  f"pool released")
            if s.class_idx != c:
                fail("SLAB-ACCT", f"slab {h(b)} of class {s.class_idx} is in the slab table "
                                  f"of class {c}")


def _slabs_in_use_are_in_tables(snap: Snapshot, pool: PoolTables) -> None:
    for b, s in sorted(snap.slabs.items()):
        if b in pool.tables[s.class_idx]:
            continue
        who = "unowned" if s.owner is None else f"owned by tid {s.owner}"
        fail("SLAB-ACCT", f"slab {h(b)} (class {s.class_idx}, {who}, {_free_blocks(s)} free "
                          f"blocks) is in use but not in its class's slab table: unowned, "
                          f"the slow path cannot adopt it; it fell off the pool's lists and "
                          f"the pool grows instead of reusing it")


def _released_is_the_rest(snap: Snapshot, pool: PoolTables) -> None:
    released = set(pool.released)
    for b in sorted(released & set(snap.slabs)):
        fail("SLAB-ACCT", f"slab {h(b)} (class {snap.slabs[b].class_idx}) is in use and its "
                          f"base is on the free-base list: the pool may carve it again")
    if pool.next_base is None:
        return
    cfg = snap.config
    lo, step = pool.first_base if pool.first_base is not None else cfg.base_address, \
        cfg.slab_size
    for b in range(lo, pool.next_base, step):
        if b not in snap.slabs and b not in released:
            fail("SLAB-ACCT", f"slab {h(b)} was carved (below the next new slab "
                              f"{h(pool.next_base)}) but is neither in use nor on the "
                              f"free-base list: it fell off every list and the pool grows "
                              f"instead of reusing it")
    for b in sorted(b for b in released | set(snap.slabs) if not lo <= b < pool.next_base):
        fail("SLAB-ACCT", f"slab {h(b)} is outside what the pool carved "
                          f"[{h(lo)}, {h(pool.next_base)})")
