"""Path conformance: every op takes the path the seed design says, and the design's
debug counters (``Hooks.path_counts``, names in ``hakmem_verify.models.fast.probe.PATHS``) say so.

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
model's rule (each is a documented choice of ``hakmem_verify.models.fast``):

* stage 3 refills ``Config.refill_batch`` blocks, not the sample's literal 16;
* the seed's slow path is "the existing global pool logic"; the model's is the order
  above (drain A and B, Phase 4's ``refill_tls_magazine``, adopt the lowest unowned
  partial slab, then a new slab), and a block served there counts ``slow``;
* the seed's ``stats_flush_if_needed`` flushes at 255 events and adds 256 (its
  sample is wrong, see docs/SEED_FINDINGS.md); the model flushes exactly
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

from typing import Optional

from .geometry import h
from .prediction import (ALL_ROUTES, ALL_STAGES, ROUTES, SS_ROUTES, SS_STAGES, STAGES, WHERE,
                         ImplState, KeptView, Prediction, State, predict, predict_alloc,
                         predict_evict, predict_free)
from .registry import RUNS, fail, form_of, invariant, run_op

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
           planted="conf-free-magazine-uncounted")
def conf_06_identities(p: Prediction, d: dict, done: Optional[tuple]) -> None:
    """per op: allocs done == served-stage counters, each alloc attempt == one stage counter;
    frees done == route counters (free_local == mag_overflow); slab_release == slabs that
    left the pool"""
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
           planted="conf-refill-nonempty-minimag")
def conf_03_refill_when_empty(p: Prediction, d: dict) -> None:
    """a stage-3 refill happens (and counts refill) only when A's mini-magazine is empty and
    its bitmap has a free block"""
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


@invariant("CONF-01", level=2, scope="op",
           cost="O(1) per op on the hot path, O(slabs of "
           "the class) on the slow path",
           where=WHERE, planted="conf-minimag-before-magazine")
def conf_01_alloc_stage(p: Prediction, d: dict) -> None:
    """an alloc is served by the design's first stage that can serve it: TLS magazine, A's
    mini-mag, refill, slow path, new slab, out of memory; the slow path refills the TLS
    magazine once (Phase 4); SuperSlab mode: it adopts a slab of a SuperSlab the thread owns
    before it reclaims an abandoned SuperSlab"""
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
           planted="conf-free-routing-inverted")
def conf_02_free_route(p: Prediction, d: dict) -> None:
    """a free goes to the owner's remote stack iff another thread owns the slab, else to the
    magazine if it has room, else back to the slab (SuperSlab mode: a free into the caller's
    own SuperSlab goes first to its tls_sll while it has room)"""
    if p.kind != "free":
        return
    took = [k for k in ALL_ROUTES if d.get(k, 0)]
    if took != [p.route]:
        fail("CONF-02", f"free by tid {p.tid} took {'/'.join(took) or 'no route'}; the "
                        f"design routes it to {p.route} ({p.why})")


@invariant("CONF-04", level=2, scope="op", cost="O(1) per evicted slab", where=WHERE,
           planted="conf-spill-counted-minus-one")
def conf_04_spill_on_eviction(p: Prediction, d: dict) -> None:
    """spill counter delta == evictions of a slab whose mini-magazine is not empty (none on the
    hot path or a free)"""
    n = d.get("spill", 0)
    if n != p.spills:
        fail("CONF-04", f"{p.kind} by tid {p.tid} counted {n} spills; the design spills "
                        f"{p.spills} times ({p.why})")


@invariant("CONF-05", level=2, scope="op", cost="O(1) per op", where=WHERE,
           planted="conf-stat-flush-counted-twice")
def conf_05_flush_at_interval(p: Prediction, d: dict) -> None:
    """a stat flush happens exactly when the thread's pending count of the class reaches
    flush_interval"""
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
           planted="conf-release-never")
def conf_07_release_when_free(slabs) -> None:
    """an unowned slab with no block in use (bitmap entirely free, mini-magazine and remote
    stack empty) is released to the pool by the op that made it so"""
    for s in slabs:
        if s is not None and s.owner is None and s.free_count == s.nblocks and \
                s.mini_mag_count == 0 and s.remote_count == 0 and not s.remote:
            fail("CONF-07", f"slab {h(s.base)} (class {s.class_idx}) is unowned and entirely "
                            f"free ({s.free_count} of {s.nblocks} blocks bitmap-free, "
                            f"mini-magazine and remote stack empty) but still in the pool: "
                            f"the model releases such a slab at once")


@invariant("CONF-08", level=2, scope="op", cost="O(slabs the op touched)", where=WHERE,
           planted="conf-drain-uncounted")
def conf_08_drains(counted: int, taken: int, at_least: bool = False) -> None:
    """the drain counter moves by the remote stacks taken: one event per non-empty remote stack
    a drain detaches, none for an empty one (at quiesce, at least one per stack seen taken:
    a stack pushed and drained within it is not seen)"""
    if counted != taken and not (at_least and counted > taken):
        fail("CONF-08", f"the drain counter moved by {counted} but {taken} non-empty remote "
                        f"stacks were taken{' (at least)' if at_least else ''} (a drain takes "
                        f"a whole stack; an empty one is not a drain)")


@invariant("SS-06", level=2, scope="op", cost="O(1) per free", where=WHERE,
           planted="ss-counter-on-wrong-route")
def ss_06_free_pipeline(p: Prediction, d: dict) -> None:
    """SuperSlab mode: a free into a SuperSlab its thread owns counts ss_local (and
    ss_free_early_local when it lands on the tls_sll or the TLS magazine), any other free
    ss_remote; the route (tls_sll / magazine / slab / remote stack) is predicted from the
    state before the free"""
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


__all__ = ["Prediction", "State", "KeptView", "ImplState", "STAGES", "ROUTES", "SS_STAGES",
           "SS_ROUTES", "predict", "predict_alloc", "predict_free",
           "predict_evict", "check", "conf_06_releases", "conf_06_totals", "conf_08_drains", "conf_07_release_when_free",
           "reports_design_counters"]
