"""Path conformance: every op takes the path the seed design says, and the design's
debug counters (``Hooks.path_counts``, names in ``hakmem_fast.probe.PATHS``) say so.

From the state before an op, :func:`predict` names the stage that serves an alloc,
the route of a free, the spills of an eviction and the statistics flushes; after
the op, :func:`check` compares the counter deltas with the prediction.

Alloc stages (the seed's Phase 2 hot path, then its Phase 4 slow path), first match:

  1. ``tls_mag``   the thread's magazine of the class is not empty;
  2. ``mini_mag``  active slab A's mini-magazine is not empty;
  3. ``refill``    A's bitmap has a free block: batch refill, then pop;
  4. ``slow``      A or B holds a free block anywhere (bitmap, mini-magazine or remote
                   stack: the slow path drains both remote stacks, refills the TLS
                   magazine from their mini-magazines as Phase 4 does, and serves), or
                   an unowned slab of the class has one (adopted);
  5. ``new_slab``  the class is below ``max_slabs_per_class``;
  6. ``oom``.

Free routes: a block of a slab another thread owns goes to that slab's remote stack
(``free_remote``); any other block goes local: the magazine if it has room
(``free_magazine``), else back to the slab (``mag_overflow`` and ``free_local``).

Release (CONF-07): an unowned slab with no block in use is released to the pool by the op
that made it so (an eviction, a free into an unowned slab, quiesce); checked on the slabs
the op touched, from the checker's view after the op.

Drains (CONF-08): the ``drain`` counter moves once per non-empty remote stack a drain
detaches.  The checker sees a stack taken when a slab the footprint names had a non-empty
remote stack whose old head is gone (only a drain removes blocks from a remote stack, and
it takes them all), or left the pool with one; within one alloc, free, evict or thread
exit each stack is taken at most once and existed before the op, so the counts are equal.
A quiesce can push onto a stack and drain it within itself: there the counter must be at
least the stacks seen taken.

Where the model deliberately differs from a seed sample, the prediction follows the
model's rule (each is a documented choice of ``hakmem_fast``):

* stage 3 refills ``Config.refill_batch`` blocks, not the sample's literal 16;
* the seed's slow path is "the existing global pool logic"; the model's is the order
  above (drain A and B, Phase 4's ``refill_tls_magazine``, adopt the lowest unowned
  partial slab, then a new slab), and a block served there counts ``slow``;
* the seed's ``stats_flush_if_needed`` flushes at 255 events and adds 256 (its
  sample is wrong, see fuzz/mutants/SEED_FINDINGS.md); the model flushes exactly
  when a thread's pending count of the class reaches ``flush_interval``;
* Phase 4's ``refill_tls_magazine`` sample moves blocks only from a non-empty
  mini-magazine and refills it afterwards; the model refills an empty one first too, so
  every slow-path or new-slab alloc refills the TLS magazine exactly once (``tls_refill``).
  The sample transcribed literally (mutant ``seed-refill_tls_magazine``, equivalent for
  the safety checks) takes another path and fails CONF-01;
* the seed gives no free path; the routes above are the model's (the issue's) rule;
* maintenance refills (``Hooks.refill_active``) and the slow path's refills are not
  stage-3 refills and do not count ``refill``.

Cost: O(1) per alloc on the hot path and per free (one thread, at most three slabs);
O(slabs of the class) when the prediction reaches the slow path, as the op does.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .geometry import h
from .registry import RUNS, fail, form_of, invariant, run_op

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
# The state before an op: a cheap partial snapshot, or the checker's kept view
# ============================================================================


class _State:
    """Threads and slabs before the op: from a kept ``View`` (``view.threads``,
    ``view.prev``), or from an oracle.  An oracle whose checker checked the state right
    after the last op (``view_is_current``) lends its kept view, so nothing is copied;
    otherwise a partial snapshot of exactly what the prediction reads."""

    def __init__(self, source):
        self.fast = getattr(source, "fast", None)
        self.config = self.fast.config if self.fast is not None else None
        if self.fast is None:
            self.view = source
        elif getattr(source, "view_is_current", False):
            self.view = source.checker.view
        else:
            self.view = None

    def thread(self, tid: int):
        if self.view is not None:
            return self.view.threads.get(tid)
        return self.fast.snapshot((), {}, [tid]).threads.get(tid)

    def slab(self, base):
        if base is None:
            return None
        if self.view is not None:
            return self.view.prev.get(base)
        return self.fast.snapshot([base], {}, ()).slabs.get(base)

    def class_slabs(self, c: int) -> list:
        if self.view is not None:
            return [s for s in self.view.prev.values() if s.class_idx == c]
        return list(self.fast.snapshot(self.fast.slab_bases(c), {}, ()).slabs.values())

    def exact(self):
        return self.fast.exact_stats() if self.fast is not None else None


def _has_free(s) -> bool:
    return s is not None and (s.free_count > 0 or s.mini_mag_count > 0 or s.remote_count > 0)


def _unowned_partial(slabs, tid: int) -> bool:
    """An unowned slab with a free block that tid may adopt (SuperSlab mode: in a
    SuperSlab tid owns, or an abandoned one it reclaims)."""
    return any(s.owner is None and s.ss_owner in (None, tid) and _has_free(s) for s in slabs)


def _sll_count(t, c: int) -> int:
    return t.tls_sll_counts[c] if t is not None and t.tls_sll_counts else 0


def _active(st: _State, t, c: int, pos: str):
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


def _state(source, config) -> _State:
    st = _State(source)
    if st.config is None:
        st.config = config
    return st


# ============================================================================
# Prediction
# ============================================================================


def predict_alloc(source, c: int, tid: int, config=None) -> Prediction:
    """The stage that serves alloc of class ``c`` by ``tid`` (see the module doc)."""
    st = _state(source, config)
    cfg = st.config
    t = st.thread(tid)
    top = t.magazine_tops[c] if t is not None else 0
    pend = t.pending_allocs[c] if t is not None else 0
    a = _active(st, t, c, "A")
    b = _active(st, t, c, "B")
    p = Prediction("alloc", tid, c, a_mini_mag=a.mini_mag_count if a is not None else 0,
                   flushes=int(pend + 1 >= cfg.flush_interval), exact=st.exact(),
                   from_view=st.view is not None)
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


def predict_free(source, addr: int, tid: int, config=None) -> Prediction:
    """The route of free(addr) by ``tid`` (see the module doc)."""
    st = _state(source, config)
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
                   exact=st.exact(), from_view=st.view is not None)
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


def predict_evict(source, slabs, tid: int = -1, config=None) -> Prediction:
    """Evicting the slabs at ``slabs`` (bases; None skipped) spills each non-empty
    mini-magazine once."""
    st = _state(source, config)
    snaps = [st.slab(b) for b in slabs if b is not None]
    full = [s for s in snaps if s is not None and s.mini_mag_count > 0]
    return Prediction("evict", tid, spills=len(full), from_view=st.view is not None,
                      why=f"evicting {len(snaps)} slabs, {len(full)} with a non-empty "
                          f"mini-magazine")


def predict(source, op, config=None) -> Prediction:
    """The prediction for one op of ``specs.ops`` (Alloc, Free, RaceFree, Evict,
    ThreadExit) from an oracle (its handles name the freed block) or a kept view
    (then ``op.handle`` must be the block's address and ``config`` given)."""
    from ..api import size_to_class
    from ..ops import Alloc, Evict, Free, RaceFree, ThreadExit
    st = _state(source, config)
    cfg = st.config
    if isinstance(op, Alloc):
        return predict_alloc(source, size_to_class(op.size, cfg.class_sizes), op.tid, cfg)
    if isinstance(op, (Free, RaceFree)):
        handles = getattr(source, "handles", None)
        addr = handles[op.handle].fast if handles is not None else op.handle
        return predict_free(source, addr, op.tid, cfg)
    if isinstance(op, Evict):
        t = st.thread(op.tid)
        c = op.class_idx % cfg.num_classes
        return predict_evict(source, [t.active_a[c]] if t is not None else [], op.tid, cfg)
    if isinstance(op, ThreadExit):
        t = st.thread(op.tid)
        bases = [] if t is None else list(t.active_a) + list(t.active_b)
        return predict_evict(source, bases, op.tid, cfg)
    raise TypeError(f"no conformance prediction for {op!r}: one of Alloc, Free, RaceFree, "
                    f"Evict, ThreadExit")


# ============================================================================
# The checks: counter deltas against the prediction
# ============================================================================


def _delta(before, after) -> dict:
    """The counters that moved, by how much (absent: 0)."""
    if before.keys() == after.keys():
        return {k: a - b for (k, a), b in zip(after.items(), before.values()) if a != b}
    return {k: after.get(k, 0) - before.get(k, 0) for k in set(before) | set(after)
            if after.get(k, 0) != before.get(k, 0)}


@invariant("CONF-06", level=2, scope="op", cost="O(counters) per op", where=WHERE,
           planted="conf-free-magazine-uncounted",
           statement="per op: allocs done == served-stage counters, each alloc attempt == "
                     "one stage counter; frees done == route counters (free_local == "
                     "mag_overflow); slab_release == slabs that left the pool")
def conf_06_identities(p: Prediction, d: dict, done: Optional[tuple]) -> None:
    if p.kind == "alloc":
        stages = {k: d.get(k, 0) for k in ALL_STAGES if d.get(k, 0)}
        served = sum(v for k, v in stages.items() if k != "oom")
        if sum(stages.values()) != 1:
            fail("CONF-06", f"alloc of class {p.class_idx} by tid {p.tid} moved the stage "
                            f"counters by {stages or 'nothing'}; one alloc is one stage event")
        if done is not None and served != done[0]:
            fail("CONF-06", f"class {p.class_idx}: {done[0]} allocs done but the stage "
                            f"counters served {served} ({stages})")
    elif p.kind == "free":
        routes = {k: d.get(k, 0) for k in ALL_ROUTES if d.get(k, 0)}
        want = 1 if done is None else done[1]
        if sum(routes.values()) != want or d.get("free_local", 0) != d.get("mag_overflow", 0):
            fail("CONF-06", f"{want} frees done (class {p.class_idx}, tid {p.tid}) but the "
                            f"route counters moved by {routes or 'nothing'} and free_local by "
                            f"{d.get('free_local', 0)}")


@form_of("CONF-06")
def conf_06_totals(counts, exact) -> None:
    """CONF-06 since the start: every alloc done was served by one stage (the counters
    start at zero).  Routes have no such total: a thread exit's return of a cached block
    to another owner's slab is a remote push and counts ``free_remote``."""
    served = sum(counts.get(k, 0) for k in ALL_STAGES if k != "oom")
    allocs = sum(exact.allocs)
    if served != allocs:
        fail("CONF-06", f"since the start the stage counters served {served} allocs, but "
                        f"{allocs} allocs were done")


@form_of("CONF-06")
def conf_06_releases(counted: int, released: int) -> None:
    """CONF-06 for releases: the slab_release counter moved by the slabs that left the
    pool (as the footprints saw them) since the last check."""
    if counted != released:
        fail("CONF-06", f"the slab_release counter moved by {counted} but {released} slabs "
                        f"left the pool")


@invariant("CONF-03", level=2, scope="op", cost="O(counters) per op", where=WHERE,
           planted="conf-refill-nonempty-minimag",
           statement="a stage-3 refill happens (and counts refill) only when A's mini-magazine "
                     "is empty and its bitmap has a free block")
def conf_03_refill_when_empty(p: Prediction, d: dict) -> None:
    n = d.get("refill", 0)
    if p.kind != "alloc":
        if n:
            fail("CONF-03", f"a {p.kind} by tid {p.tid} counted {n} stage-3 refills")
        return
    if n and p.a_mini_mag > 0:
        fail("CONF-03", f"alloc of class {p.class_idx} by tid {p.tid} refilled A while its "
                        f"mini-magazine held {p.a_mini_mag} blocks ({p.why})")
    if n != int(p.stage == "refill"):
        fail("CONF-03", f"alloc of class {p.class_idx} by tid {p.tid} counted {n} refills; "
                        f"the design refills {int(p.stage == 'refill')} times ({p.why})")


@invariant("CONF-01", level=2, scope="op", cost="O(1) per op on the hot path, O(slabs of "
           "the class) on the slow path", where=WHERE, planted="conf-minimag-before-magazine",
           statement="an alloc is served by the design's first stage that can serve it: TLS "
                     "magazine, A's mini-mag, refill, slow path, new slab, out of memory; "
                     "the slow path refills the TLS magazine once (Phase 4); SuperSlab "
                     "mode: it adopts a slab of a SuperSlab the thread owns before it "
                     "reclaims an abandoned SuperSlab")
def conf_01_alloc_stage(p: Prediction, d: dict) -> None:
    if p.kind != "alloc":
        return
    took = [k for k in ALL_STAGES if d.get(k, 0)]
    if took != [p.stage]:
        fail("CONF-01", f"alloc of class {p.class_idx} by tid {p.tid} took "
                        f"{'/'.join(took) or 'no stage'}; the design serves it from "
                        f"{p.stage} ({p.why})")
    want = p.extra.get("ss_reclaim")
    if want is not None and d.get("ss_reclaim", 0) != want:
        fail("CONF-01", f"alloc of class {p.class_idx} by tid {p.tid} from {p.stage} "
                        f"reclaimed {d.get('ss_reclaim', 0)} abandoned SuperSlabs; the design "
                        f"reclaims {want} ({p.why})")
    # Phase 4: the slow path refills the (empty) TLS magazine from the active slabs'
    # mini-magazines once, from A and B or from the slab it adopted or created
    want = int(p.stage in ("slow", "new_slab"))
    if d.get("tls_refill", 0) != want:
        fail("CONF-01", f"alloc of class {p.class_idx} by tid {p.tid} from {p.stage} "
                        f"refilled the TLS magazine {d.get('tls_refill', 0)} times; Phase 4 as the "
                        f"model runs it (an empty mini-magazine refilled before the move) "
                        f"refills it {want} times ({p.why})")


@invariant("CONF-02", level=2, scope="op", cost="O(1) per op", where=WHERE,
           planted="conf-free-routing-inverted",
           statement="a free goes to the owner's remote stack iff another thread owns the "
                     "slab, else to the magazine if it has room, else back to the slab "
                     "(SuperSlab mode: a free into the caller's own SuperSlab goes first to "
                     "its tls_sll while it has room)")
def conf_02_free_route(p: Prediction, d: dict) -> None:
    if p.kind != "free":
        return
    took = [k for k in ALL_ROUTES if d.get(k, 0)]
    if took != [p.route]:
        fail("CONF-02", f"free by tid {p.tid} took {'/'.join(took) or 'no route'}; the "
                        f"design routes it to {p.route} ({p.why})")


@invariant("CONF-04", level=2, scope="op", cost="O(1) per evicted slab", where=WHERE,
           planted="conf-spill-counted-minus-one",
           statement="spill counter delta == evictions of a slab whose mini-magazine is not "
                     "empty (none on the hot path or a free)")
def conf_04_spill_on_eviction(p: Prediction, d: dict) -> None:
    n = d.get("spill", 0)
    if n != p.spills:
        fail("CONF-04", f"{p.kind} by tid {p.tid} counted {n} spills; the design spills "
                        f"{p.spills} times ({p.why})")


@invariant("CONF-05", level=2, scope="op", cost="O(1) per op", where=WHERE,
           planted="conf-stat-flush-counted-twice",
           statement="a stat flush happens exactly when the thread's pending count of the "
                     "class reaches flush_interval")
def conf_05_flush_at_interval(p: Prediction, d: dict) -> None:
    if p.kind not in ("alloc", "free"):
        return
    if p.kind == "alloc" and p.stage == "oom":
        want = 0                     # nothing was allocated, nothing recorded
    else:
        want = p.flushes
    n = d.get("stat_flush", 0)
    if n != want:
        fail("CONF-05", f"{p.kind} of class {p.class_idx} by tid {p.tid} flushed {n} times; "
                        f"the pending count {'reaches' if want else 'is below'} the interval "
                        f"(want {want})")


@invariant("CONF-07", level=2, scope="op", cost="O(slabs the op touched)", where=WHERE,
           planted="conf-release-never",
           statement="an unowned slab with no block in use (bitmap entirely free, mini-magazine "
                     "and remote stack empty) is released to the pool by the op that made it so")
def conf_07_release_when_free(slabs) -> None:
    for s in slabs:
        if s is not None and s.owner is None and s.free_count == s.nblocks and \
                s.mini_mag_count == 0 and s.remote_count == 0 and not s.remote:
            fail("CONF-07", f"slab {h(s.base)} (class {s.class_idx}) is unowned and entirely "
                            f"free ({s.free_count} of {s.nblocks} blocks bitmap-free, "
                            f"mini-magazine and remote stack empty) but still in the pool: "
                            f"the model releases such a slab at once")


@invariant("CONF-08", level=2, scope="op", cost="O(slabs the op touched)", where=WHERE,
           planted="conf-drain-uncounted",
           statement="the drain counter moves by the remote stacks taken: one event per "
                     "non-empty remote stack a drain detaches, none for an empty one (at "
                     "quiesce, at least one per stack seen taken: a stack pushed and drained "
                     "within it is not seen)")
def conf_08_drains(counted: int, taken: int, at_least: bool = False) -> None:
    if counted != taken and not (at_least and counted > taken):
        fail("CONF-08", f"the drain counter moved by {counted} but {taken} non-empty remote "
                        f"stacks were taken{' (at least)' if at_least else ''} (a drain takes "
                        f"a whole stack; an empty one is not a drain)")


@invariant("SS-06", level=2, scope="op", cost="O(1) per free", where=WHERE,
           planted="ss-counter-on-wrong-route",
           statement="SuperSlab mode: a free into a SuperSlab its thread owns counts ss_local "
                     "(and ss_free_early_local when it lands on the tls_sll or the TLS "
                     "magazine), any other free ss_remote; the route (tls_sll / magazine / "
                     "slab / remote stack) is predicted from the state before the free")
def ss_06_free_pipeline(p: Prediction, d: dict) -> None:
    ss = p.extra.get("ss")
    if p.kind != "free" or ss is None:
        return
    other = "ss_remote" if ss == "ss_local" else "ss_local"
    if d.get(ss, 0) != 1 or d.get(other, 0):
        fail("SS-06", f"free by tid {p.tid} (class {p.class_idx}) counted ss_local "
                      f"{d.get('ss_local', 0)}, ss_remote {d.get('ss_remote', 0)}; the design "
                      f"counts it {ss} ({p.why})")
    if d.get("ss_free_early_local", 0) != p.extra.get("early", 0):
        fail("SS-06", f"free by tid {p.tid} (class {p.class_idx}) counted ss_free_early_local "
                      f"{d.get('ss_free_early_local', 0)}; it returns before the slab "
                      f"{p.extra.get('early', 0)} times ({p.why})")


#: The order the checks run in: identities first, so a miscounting counter is named as
#: such before a stage or route check reads the counter it broke.
CHECKS = (conf_06_identities, conf_03_refill_when_empty, conf_01_alloc_stage,
          conf_02_free_route, ss_06_free_pipeline, conf_04_spill_on_eviction,
          conf_05_flush_at_interval)


def check(prediction: Prediction, counters_before, counters_after, exact_after=None,
          counts=None) -> None:
    """Every conformance check of one op: its prediction against the counter deltas
    (``exact_after``: the exact Stats after the op, for the identities; ``counts``: a
    Counter of check runs by ID, like the oracle's ``checks``)."""
    d = _delta(counters_before, counters_after)
    done = None
    if exact_after is not None and prediction.exact is not None and prediction.class_idx >= 0:
        c = prediction.class_idx
        done = (exact_after.allocs[c] - prediction.exact.allocs[c],
                exact_after.frees[c] - prediction.exact.frees[c])
    counts = RUNS if counts is None else counts
    for fn in CHECKS:
        if fn is conf_06_identities:
            run_op(fn, prediction, d, done, counts=counts)
        else:
            run_op(fn, prediction, d, counts=counts)


def reports_design_counters(path_counts) -> bool:
    """Whether an implementation's ``path_counts`` are the seed's debug counters (the
    checks judge only those; another allocator's own counters are not the design's)."""
    return all(k in path_counts for k in STAGES + ROUTES + ("free_local", "spill",
                                                            "stat_flush", "tls_refill"))


__all__ = ["Prediction", "STAGES", "ROUTES", "SS_STAGES", "SS_ROUTES", "predict", "predict_alloc", "predict_free",
           "predict_evict", "check", "conf_06_releases", "conf_06_totals", "conf_08_drains", "conf_07_release_when_free",
           "reports_design_counters"]
