"""Conformance predictions: from the state before an op, the stage that serves an
alloc, the route of a free, the spills of an eviction and the statistics flushes, as
the seed design says (``hakmem_verify.check.conformance`` checks the counters against
them).  A prediction reads the state through :class:`State`, a small protocol with two
readers: a checker's kept view (:class:`KeptView`) and an implementation's hooks
(:class:`ImplState`).

Cost: O(1) per alloc on the hot path and per free (one thread, at most three slabs);
O(slabs of the class) when the prediction reaches the slow path, as the op does.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Protocol

from hakmem_verify.contract.config import Config, size_to_class
from hakmem_verify.contract.ops import Alloc, Evict, Free, RaceFree, ThreadExit
from hakmem_verify.contract.snapshot import SlabSnap, Stats, ThreadSnap
from .geometry import h
from .registry import fail

STAGES = ("tls_mag", "mini_mag", "refill", "slow", "new_slab", "oom")
ROUTES = ("free_magazine", "free_remote", "mag_overflow")
#: SuperSlab mode's stage (an alloc served by the tls_sll, before the TLS magazine) and
#: route (a local free pushed on the tls_sll); zero in the default mode
SS_STAGES = ("ss_alloc_tls_sll_hit",)
SS_ROUTES = ("tls_sll",)
ALL_STAGES = SS_STAGES + STAGES
ALL_ROUTES = ROUTES + SS_ROUTES
WHERE = "every alloc and free (each element of a burst), evict, thread exit and quiesce"


@dataclass
class Prediction:
    """What the design says one op does, from the state before it."""
    kind: str                       # "alloc" | "free" | "evict"
    tid: int
    class_idx: int = -1
    stage: str = ""                 # alloc: one of STAGES
    route: str = ""                 # free: one of ROUTES
    a_mini_mag: int = 0             # alloc: A's mini-magazine count before (0: no A)
    spills: int = 0                 # evictions of slabs whose mini-magazine is not empty
    flushes: int = 0                # statistics flushes (0 or 1 per alloc/free)
    why: str = ""                   # the state the prediction read, for messages
    exact: Optional[object] = None  # exact Stats before the op (identities), if known
    from_view: bool = False         # read from a kept view (a footprint may have missed a change)
    extra: dict = field(default_factory=dict)


# ============================================================================
# The state before an op: what a prediction reads (a small protocol, two readers)
# ============================================================================


class State(Protocol):
    """What a prediction reads of the state before an op: ``config``; a thread, a slab
    and the slabs of a class as snapshots (``hakmem_verify.contract.api``), or None; the exact Stats, or
    None when unknown; ``from_view``: read from a checker's kept view (a footprint may
    have missed a change: a failed prediction is then confirmed on the whole state)."""

    config: Config
    from_view: bool

    def thread(self, tid: int) -> Optional[ThreadSnap]: ...
    def slab(self, base: Optional[int]) -> Optional[SlabSnap]: ...
    def class_slabs(self, c: int) -> list: ...
    def exact(self) -> Optional[Stats]: ...


class KeptView:
    """The state as a checker's kept ``View`` holds it (``view.threads``,
    ``view.prev``): nothing is copied.  ``exact``: a function returning the exact Stats."""

    from_view = True

    def __init__(self, view, config: Config, exact=None):
        self.view, self.config, self._exact = view, config, exact

    def thread(self, tid):
        return self.view.threads.get(tid)

    def slab(self, base):
        return None if base is None else self.view.prev.get(base)

    def class_slabs(self, c):
        return [s for s in self.view.prev.values() if s.class_idx == c]

    def exact(self):
        return self._exact() if self._exact is not None else None


class ImplState:
    """The state of an implementation, read through its hooks: a partial snapshot of
    exactly what the prediction reads."""

    from_view = False

    def __init__(self, impl):
        self.impl, self.config = impl, impl.config

    def thread(self, tid):
        return self.impl.snapshot((), {}, [tid]).threads.get(tid)

    def slab(self, base):
        return None if base is None else self.impl.snapshot([base], {}, ()).slabs.get(base)

    def class_slabs(self, c):
        return list(self.impl.snapshot(self.impl.slab_bases(c), {}, ()).slabs.values())

    def exact(self):
        return self.impl.exact_stats()


def _has_free(s) -> bool:
    return s is not None and (s.free_count > 0 or s.mini_mag_count > 0 or s.remote_count > 0)


def _unowned_partial(slabs, tid: int) -> bool:
    """An unowned slab with a free block that tid may adopt (SuperSlab mode: in a
    SuperSlab tid owns, or an abandoned one it reclaims)."""
    return any(s.owner is None and s.ss_owner in (None, tid) and _has_free(s) for s in slabs)


def _sll_count(t, c: int) -> int:
    return t.tls_sll_counts[c] if t is not None and t.tls_sll_counts else 0


def _active(st: State, t, c: int, pos: str):
    """Thread t's active slab ``pos`` ("A" or "B") of class c before the op, or None;
    an active slab that is not in the pool is OWN-01 (released while active)."""
    if t is None:
        return None
    base = (t.active_a if pos == "A" else t.active_b)[c]
    s = st.slab(base)
    if base is not None and s is None:
        fail("OWN-01", f"active slab {pos} {h(base)} of tid {t.tid}, class {c} is not a slab "
                       f"of the pool (released while active?)")
    return s


# ============================================================================
# Prediction
# ============================================================================


def predict_alloc(st: State, c: int, tid: int) -> Prediction:
    """The stage that serves alloc of class ``c`` by ``tid`` (see ``conformance``)."""
    cfg = st.config
    t = st.thread(tid)
    top = t.magazine_tops[c] if t is not None else 0
    pend = t.pending_allocs[c] if t is not None else 0
    a = _active(st, t, c, "A")
    b = _active(st, t, c, "B")
    p = Prediction("alloc", tid, c, a_mini_mag=a.mini_mag_count if a is not None else 0,
                   flushes=int(pend + 1 >= cfg.flush_interval), exact=st.exact(),
                   from_view=st.from_view)
    p.why = (f"before: magazine top {top}, A "
             + (f"{h(a.base)} mini-mag {a.mini_mag_count} bitmap-free {a.free_count} remote "
                f"{a.remote_count}" if a is not None else "none")
             + (f", B {h(b.base)}" if b is not None else ""))
    if _sll_count(t, c) > 0:
        p.stage = "ss_alloc_tls_sll_hit"
    elif top > 0:
        p.stage = "tls_mag"
    elif a is not None and a.mini_mag_count > 0:
        p.stage = "mini_mag"
    elif a is not None and a.free_count > 0:
        p.stage = "refill"
    elif _has_free(a) or _has_free(b):
        p.stage = "slow"
    elif _unowned_partial(slabs := st.class_slabs(c), tid):
        p.stage = "slow"
        p.why += ", an unowned partial slab of the class"
        if cfg.use_superslab:        # one in a SuperSlab tid owns first, else reclaim one
            own = any(s.owner is None and s.ss_owner == tid and _has_free(s) for s in slabs)
            p.extra["ss_reclaim"] = int(not own)
            p.why += " in a SuperSlab it owns" if own else ", only in abandoned SuperSlabs"
    else:
        n = len(slabs)
        limit = cfg.max_slabs_per_class
        p.stage = "new_slab" if limit is None or n < limit else "oom"
        p.why += f", no free block in {n} slabs of the class (limit {limit})"
    if cfg.use_superslab and p.stage not in ("new_slab", "oom"):
        p.extra.setdefault("ss_reclaim", 0)     # served without adopting a slab
    return p


def predict_free(st: State, addr: int, tid: int) -> Prediction:
    """The route of free(addr) by ``tid`` (see ``conformance``)."""
    cfg = st.config
    base = addr & ~(cfg.slab_size - 1)
    s = st.slab(base)
    if s is None:
        fail("LIVE-01", f"free({h(addr)}, tid={tid}) of a live block whose slab {h(base)} is "
                        f"not in the pool (released while the block is live)")
    t = st.thread(tid)
    c = s.class_idx
    if not 0 <= c < cfg.num_classes:
        fail("SLAB-01", f"slab {h(s.base)} of live block {h(addr)} has class {c}, not one of "
                        f"the {cfg.num_classes} classes of the Config")
    top = t.magazine_tops[c] if t is not None else 0
    pend = t.pending_frees[c] if t is not None else 0
    p = Prediction("free", tid, c, flushes=int(pend + 1 >= cfg.flush_interval),
                   exact=st.exact(), from_view=st.from_view)
    p.why = (f"block {h(addr)} of slab {h(s.base)} owned by "
             f"{'nobody' if s.owner is None else 'tid %d' % s.owner}, tid {tid}'s magazine "
             f"top {top} of {cfg.magazine_capacity}")
    if s.superslab is not None:           # SuperSlab mode: the free pipeline (SS-06)
        local = s.ss_owner == tid
        p.extra["ss"] = "ss_local" if local else "ss_remote"
        p.why += f", its SuperSlab owned by {s.ss_owner}, tls_sll {_sll_count(t, c)}"
        if local and _sll_count(t, c) < cfg.tls_sll_capacity:
            p.route = "tls_sll"
            p.extra["early"] = 1
            return p
        p.extra["early"] = int(local and top < cfg.magazine_capacity)
    if s.owner is not None and s.owner != tid:
        p.route = "free_remote"
    elif top < cfg.magazine_capacity:
        p.route = "free_magazine"
    else:
        p.route = "mag_overflow"
    return p


def predict_evict(st: State, slabs, tid: int = -1) -> Prediction:
    """Evicting the slabs at ``slabs`` (bases; None skipped) spills each non-empty
    mini-magazine once."""
    snaps = [st.slab(b) for b in slabs if b is not None]
    full = [s for s in snaps if s is not None and s.mini_mag_count > 0]
    return Prediction("evict", tid, spills=len(full), from_view=st.from_view,
                      why=f"evicting {len(snaps)} slabs, {len(full)} with a non-empty "
                          f"mini-magazine")


def predict(st: State, op, addr: Optional[int] = None) -> Prediction:
    """The prediction for one op of ``hakmem_verify.contract.ops`` (Alloc, Free, RaceFree, Evict,
    ThreadExit); ``addr``: the freed block's address (default ``op.handle``, for a
    state read from a kept view, where handles are addresses)."""
    cfg = st.config
    if isinstance(op, Alloc):
        return predict_alloc(st, size_to_class(op.size, cfg.class_sizes), op.tid)
    if isinstance(op, (Free, RaceFree)):
        return predict_free(st, op.handle if addr is None else addr, op.tid)
    if isinstance(op, Evict):
        t = st.thread(op.tid)
        c = op.class_idx % cfg.num_classes
        return predict_evict(st, [t.active_a[c]] if t is not None else [], op.tid)
    if isinstance(op, ThreadExit):
        t = st.thread(op.tid)
        bases = [] if t is None else list(t.active_a) + list(t.active_b)
        return predict_evict(st, bases, op.tid)
    raise TypeError(f"no conformance prediction for {op!r}: one of Alloc, Free, RaceFree, "
                    f"Evict, ThreadExit")
