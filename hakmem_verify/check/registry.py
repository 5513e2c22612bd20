"""The registry: every invariant declared once, with everything the harness derives from it.

A check is a function decorated with :func:`invariant`, which records its ID,
statement (the equation), level, scope, cost and the planted bug that must trip
it.  The table in ``docs/CATALOGUE.md``, ``hakmem-fuzz invariants``, the levels
the oracle runs and ``check_impl`` all read this registry.

Scopes say what one call of the check looks at, and so how :func:`check` calls it:

* ``slab``:   ``fn(snap, slab, view)`` for each slab the view covers;
* ``thread``: ``fn(snap, thread, view)`` for each thread the view covers;
* ``heap``:   ``fn(snap, view)`` once; it walks what the view covers itself;
* ``op``:     a comparison or transition the oracle runs inside one op, with
  the op's own observations (``fn(...)`` with its own arguments, through
  :func:`run_op`); :func:`check` never runs these.  An invariant the oracle also
  checks inside an op, on another kind of observation, declares each such function
  with :func:`form_of`.

Every check runs through the registry, which counts its runs by ID: :func:`run_view`
(slab, thread and heap scope) and :func:`run_op` (op scope, given the function, so a
call site never names an ID by hand); :func:`ran` records checks done in one round trip
elsewhere (a library's child process compares many blocks at once).

Levels: **L1** O(1) per op (bounded by threads x classes), **L2** O(what the op
touched), **L3** O(heap).  ``check(snap, level)`` runs every slab, thread and
heap check of level <= ``level``.
"""
from __future__ import annotations

import inspect

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Optional

from hakmem_verify.contract.api import InvariantViolation, Snapshot, StructureCorrupted

SCOPES = ("op", "slab", "thread", "heap")
QUALITY_TEST = "tests/quality/test_every_invariant_catches_its_bug.py"
#: topics whose planted bugs are races (``hakmem_verify.planted.races.RACES``), hunted by the
#: concurrent machine, not the lockstep one
CONCURRENT_TOPICS = ("progress", "slab_accounting")
QUALITY_CONCURRENT = "tests/quality/test_concurrent_findings.py"


@dataclass(frozen=True)
class Invariant:
    id: str
    level: int              # 1, 2 or 3
    scope: str              # one of SCOPES
    cost: str               # e.g. "O(words) per slab"
    statement: str          # the equation, one line
    where: str              # when the harness runs it
    planted: str            # name of the planted bug (hakmem_verify/planted) that must trip it
    topic: str              # module of hakmem_verify/check it lives in
    fn: Callable

    @property
    def quality_test(self) -> str:
        """The test showing the planted bug trips this check."""
        if self.topic == "malloc":         # the planted bugs are faults of C libraries
            return ("tests/quality/test_malloc_tier_quality.py::test_a_planted_bug_of_a_c_"
                    f"library_is_found_by_its_check[{self.id}]")
        if self.topic == "blackbox":       # the planted bugs are foreign allocators
            name = self.planted.partition(":")[2]
            return ("tests/quality/test_foreign_bugs.py::test_a_planted_bug_of_a_foreign_"
                    f"allocator_is_found_black_box_by_its_invariant[{name}]")
        if self.topic in CONCURRENT_TOPICS:
            return (f"{QUALITY_CONCURRENT}::test_the_concurrent_machine_names_the_invariant_"
                    f"its_planted_race_breaks[{self.id}]")
        return (f"{QUALITY_TEST}::test_the_machine_names_the_invariant_its_planted_bug_breaks"
                f"[{self.id}]")

    def as_dict(self) -> dict:
        return dict(id=self.id, level=self.level, scope=self.scope, cost=self.cost,
                    statement=self.statement, where=self.where, topic=self.topic,
                    planted=self.planted, quality_test=self.quality_test)


REGISTRY: dict = {}          # id -> Invariant, in declaration order
FORMS: dict = {}             # id -> further functions that check it (op scope)
_PLANS: dict = {}            # (level, scope, min_level, size) -> [(id, scope, fn)] to run
RUNS: Counter = Counter()    # id -> number of times the check ran (this process)


def invariant(inv_id: str, *, level: int, scope: str, cost: str, where: str, planted: str):
    """Declare the decorated function as the check of ``inv_id``; the first paragraph of its
    docstring is the invariant's statement (one line in the catalogue)."""
    if scope not in SCOPES:
        raise ValueError(f"{inv_id}: scope {scope!r} is not one of {SCOPES}")
    if level not in (1, 2, 3):
        raise ValueError(f"{inv_id}: level must be 1, 2 or 3, got {level!r}")

    def deco(fn):
        if inv_id in REGISTRY:
            raise ValueError(f"invariant {inv_id} declared twice ({REGISTRY[inv_id].fn} "
                             f"and {fn})")
        topic = fn.__module__.rsplit(".", 1)[-1]
        doc = inspect.getdoc(fn)
        if not doc:
            raise ValueError(f"{inv_id}: {fn.__qualname__} has no docstring: its first "
                             f"paragraph is the invariant's statement")
        statement = " ".join(doc.split("\n\n")[0].split())
        REGISTRY[inv_id] = Invariant(inv_id, level, scope, cost, statement, where, planted,
                                     topic, fn)
        fn.inv_id = inv_id
        return fn
    return deco


def form_of(inv_id: str):
    """Declare the decorated function as a further check of ``inv_id`` (declared before
    it, with :func:`invariant`) that the oracle runs inside an op (:func:`run_op`): the
    same property on another kind of observation, counted under the same ID."""
    def deco(fn):
        if inv_id not in REGISTRY:
            raise ValueError(f"{fn.__qualname__}: {inv_id} is not a declared invariant "
                             f"(declare it with @invariant first)")
        fn.inv_id = inv_id
        FORMS.setdefault(inv_id, []).append(fn)
        return fn
    return deco


def fail(inv_id: str, msg: str, dump: str = ""):
    """Raise the violation of a registered invariant (an unknown ID is a harness bug)."""
    if inv_id not in REGISTRY:
        raise KeyError(f"{inv_id} is not a registered invariant")
    raise InvariantViolation(inv_id, msg, dump)


# ============================================================================
# The client's live blocks, and what the checks see besides the snapshot
# ============================================================================


@dataclass
class LiveSet:
    """Blocks the client holds: addr -> class, and a count per slab base."""

    blocks: dict = field(default_factory=dict)          # addr -> class index
    per_slab: Counter = field(default_factory=Counter)  # slab base -> live count

    @classmethod
    def from_blocks(cls, blocks: dict, config) -> "LiveSet":
        mask = ~(config.slab_size - 1)
        return cls(dict(blocks), Counter(a & mask for a in blocks))

    def add(self, addr: int, cls_idx: int, base: int) -> None:
        self.blocks[addr] = cls_idx
        self.per_slab[base] += 1

    def remove(self, addr: int, base: int) -> None:
        del self.blocks[addr]
        n = self.per_slab[base] - 1
        if n:
            self.per_slab[base] = n
        else:
            del self.per_slab[base]


class View:
    """What a check covers and knows besides the snapshot.

    * ``bases`` / ``tids``: the slabs and threads to check (all, or an op's footprint);
    * ``released``: slabs that left the pool since the last check;
    * ``live``: the client's blocks (None: unknown, checks that need it skip);
    * an index of every block cached in a thread magazine (``mag_where``,
      ``mag_by_slab``), the entries that entered magazines since the last check
      (``new_mag``) and duplicates met while indexing (``mag_dups``);
    * ``prev``: each slab as of the last check (for transitions), or None.

    Built whole from a complete snapshot (:meth:`whole`), or kept up to date op
    by op from footprints by ``hakmem_verify.check.incremental.Checker``.
    """

    def __init__(self, live: Optional[LiveSet] = None):
        self.live = live
        self.bases = ()
        self.tids = ()
        self.released = ()
        self.mag_where = {}      # addr -> (tid, class) of a magazine holding it
        self.mag_count = Counter()  # addr -> number of magazine slots holding it
        self.mag_by_slab = {}    # slab base -> set of addrs cached in magazines
        self.new_mag = []        # (addr, tid, class) that entered a magazine
        self.mag_dups = []       # (addr, (tid, class), (tid, class)) duplicate slots
        self.prev = {}           # slab base -> SlabSnap at the last check
        self.new_live = []       # (addr, class) handed out since the last check
        self.mags = {}           # (tid, class) -> list: each magazine as last seen
        self._delta = {}         # slab base -> (SlabSnap, changed word indices), this step
        self.threads = {}        # tid -> ThreadSnap as last seen (kept views)
        self.pend_a = None       # per class: sum of every thread's pending allocs (kept)
        self.pend_f = None       # ... and frees; None: sum them from the snapshot
        self.complete = False
        # a quiescent point of concurrent rounds: a free that raced an eviction may have
        # pushed onto the (now unowned) slab's remote stack (EVICT-01 skips that half)
        self.racing_pushes = False

    @classmethod
    def whole(cls, snap: Snapshot, live: Optional[LiveSet] = None) -> "View":
        """A view of every slab, thread and magazine entry of a complete snapshot."""
        v = cls(live)
        v.complete = snap.complete
        v.bases = tuple(snap.slabs)
        v.tids = tuple(snap.threads)
        mask = ~(snap.config.slab_size - 1)
        for tid, t in snap.threads.items():
            for c, items in enumerate(t.magazines):
                for a in items:
                    v.mag_add(a, tid, c, mask)
        return v

    def mag_add(self, a: int, tid: int, c: int, mask: int) -> None:
        if self.mag_count[a]:
            self.mag_dups.append((a, self.mag_where[a], (tid, c)))
        self.mag_count[a] += 1
        self.mag_where[a] = (tid, c)
        self.mag_by_slab.setdefault(a & mask, set()).add(a)
        self.new_mag.append((a, tid, c))

    def mag_remove(self, a: int, mask: int) -> None:
        n = self.mag_count[a] - 1
        if n > 0:
            self.mag_count[a] = n
            return
        del self.mag_count[a]
        self.mag_where.pop(a, None)
        s = self.mag_by_slab.get(a & mask)
        if s is not None:
            s.discard(a)
            if not s:
                del self.mag_by_slab[a & mask]

    def keep_thread(self, tid: int, t) -> None:
        """Replace the kept state of thread tid (None: it exited); keep the pending sums."""
        old = self.threads.pop(tid, None)
        pa, pf = self.pend_a, self.pend_f
        if old is not None:
            pa = list(map(int.__sub__, pa, old.pending_allocs))
            pf = list(map(int.__sub__, pf, old.pending_frees))
        if t is not None:
            self.threads[tid] = t
            pa = list(map(int.__add__, pa, t.pending_allocs))
            pf = list(map(int.__add__, pf, t.pending_frees))
        self.pend_a, self.pend_f = pa, pf

    def changed_words(self, s):
        """Indices of the bitmap words of slab s that differ from the last check, or None
        when the slab was not seen before (then a check must look at every word).
        Incremental checks use it to cost O(words changed), not O(words)."""
        p = self.prev.get(s.base)
        if p is None or self.complete:
            return None
        cached = self._delta.get(s.base)
        if cached is not None and cached[0] is s:
            return cached[1]
        if p.words == s.words:
            out = ()
        else:
            out = [w for w, (a, b) in enumerate(zip(p.words, s.words)) if a != b]
        self._delta[s.base] = (s, out)
        return out

    def mags_in(self, base: int):
        """(addr, tid, class) of every magazine entry that lies in slab ``base``."""
        return [(a,) + self.mag_where[a] for a in self.mag_by_slab.get(base, ())]


# ============================================================================
# Running the registry
# ============================================================================


def of_level(level: int, scopes=("slab", "thread", "heap")):
    return [inv for inv in REGISTRY.values() if inv.level <= level and inv.scope in scopes]


def run_view(snap: Snapshot, view: View, level: int, scope: Optional[str] = None,
             min_level: int = 1, counts: Counter = RUNS) -> None:
    """Run the slab, thread and heap checks of level ``min_level..level`` over a view.

    Consecutive checks of one scope run as a stage (every slab check on a slab, then the
    next slab), in registration order.  Each stage run is counted once in ``counts``
    under the tuple of its IDs (:func:`per_id` spreads such counts over the IDs)."""
    key = (level, scope, min_level, len(REGISTRY))
    plan = _PLANS.get(key)
    if plan is None:
        plan = _PLANS[key] = _plan(level, scope, min_level)
    for ids, inv_scope, fns in plan:
        counts[ids] += 1
        if inv_scope == "heap":
            for fn in fns:
                fn(snap, view)
            continue
        table, keys = (snap.slabs, view.bases) if inv_scope == "slab" else \
            (snap.threads, view.tids)
        for key in keys:            # each slab (thread) of the view the snapshot holds
            x = table.get(key)
            if x is not None:
                for fn in fns:
                    fn(snap, x, view)


def _plan(level: int, scope: Optional[str], min_level: int) -> list:
    scopes = ("slab", "thread", "heap") if scope is None else (scope,)
    stages = []
    for inv in REGISTRY.values():
        if not min_level <= inv.level <= level or inv.scope not in scopes:
            continue
        if stages and stages[-1][1] == inv.scope:
            ids, sc, fns = stages.pop()
            stages.append((ids + (inv.id,), sc, fns + (inv.fn,)))
        else:
            stages.append(((inv.id,), inv.scope, (inv.fn,)))
    return stages


def per_id(counts: Counter) -> Counter:
    """Counts by invariant ID (and any other label), stage runs spread over their IDs."""
    out = Counter()
    for k, n in counts.items():
        if isinstance(k, tuple):
            for i in k:
                out[i] += n
        else:
            out[k] += n
    return out


def check(snap: Snapshot, level: int = 3, scope: Optional[str] = None,
          live: Optional[LiveSet] = None) -> None:
    """Run every registered check of level <= ``level`` (and of ``scope``, if given)
    on a snapshot, complete or partial (a partial one is checked where it has data)."""
    if scope == "op":
        raise ValueError("op-scope checks compare one op's observations; the oracle runs "
                         "them (hakmem_verify.oracle.lockstep), check() cannot")
    run_view(snap, View.whole(snap, live), level, scope)


def check_impl(impl, level: int = 3) -> None:
    """The catalogue up to ``level`` on an implementation's complete snapshot, with its
    live table (``snapshot()`` and ``live_blocks()`` of ``hakmem_verify.contract.api.Hooks``)."""
    snap = impl.snapshot()
    check(snap, level, live=LiveSet.from_blocks(impl.live_blocks(), snap.config))


#: the check that covers each structure an implementation may report corrupted
#: (``hakmem_verify.contract.api.StructureCorrupted.structure``)
STRUCTURE_IDS = {"remote_head": "RMT-01"}


def violation_of(exc: StructureCorrupted) -> InvariantViolation:
    """The catalogue's finding for a structure an implementation reported corrupted."""
    inv_id = STRUCTURE_IDS.get(exc.structure)
    if inv_id is None:
        raise KeyError(f"{exc.structure!r} is not a structure of the catalogue "
                       f"({sorted(STRUCTURE_IDS)}): name one of them in StructureCorrupted")
    return InvariantViolation(inv_id, exc.detail)


def _id_of(check) -> str:
    inv_id = check if isinstance(check, str) else getattr(check, "inv_id", None)
    if inv_id not in REGISTRY:
        raise TypeError(f"{check!r} is not a check of the registry: declare it with "
                        f"@invariant or @form_of")
    return inv_id


def run_op(check, *args, counts: Counter = RUNS):
    """Run one op-scope check, a function declared with :func:`invariant` or
    :func:`form_of` (or the ID of the former), counted in ``counts`` under its ID.
    O(1) besides the check: the declaration put the ID on the function."""
    try:
        counts[check.inv_id] += 1
    except AttributeError:                  # an ID, or not a declared check at all
        check = REGISTRY[_id_of(check)].fn
        counts[check.inv_id] += 1
    return check(*args)


def ran(check, n: int = 1, counts: Counter = RUNS) -> None:
    """Count ``n`` runs of a registered check done elsewhere in one round trip."""
    counts[_id_of(check)] += n
