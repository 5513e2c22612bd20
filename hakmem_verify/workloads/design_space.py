"""hakmem-fuzz explore: the design space, measured per workload and knob setting.

    hakmem-fuzz explore [--workload NAME[:PRESET]]... [--trace FILE]... [--knob KNOB=V1,V2]...
                        [--scale S] [--threads N] [--remote P] [--samples K] --report DIR

Each workload (or recorded trace) is replayed on the fast model alone -- no
reference, no checks: this measures the design, ``replay`` checks it -- once
per knob setting (the seed Config, then one knob changed at a time).  Every op
is attributed through the design's path counters (``PATH_TABLE``): which stage
served each alloc, which route each free took.  The allocator is sampled
``--samples`` times for blocks stranded in caches and slabs in use, and the
reported statistics are compared with the exact ones after every op.  The
results go to ``DIR/report.json``, ``DIR/report.md``, ``DIR/report.html`` and
PNG plots (``hakmem_verify.report.explore``; plots need the ``[report]`` extra).

Memory: after every op the bytes the pool reserves are read from the model
(``reserved_bytes``: slabs in use x slab_size in the default mode; SuperSlabs
mapped and not unmapped x superslab_size in SuperSlab mode, the pooled ones
included) against the live bytes (class sizes of the live blocks, from
``usable_size``); after the workload every block still live is freed and the
allocator quiesced, and the bytes still reserved are compared with what the
mode may keep (``kept_bound``).  ``--knob use_superslab=0,1`` compares the two
modes.

Exit status: 0 report written; 2 usage error, an unwritable --report, or a trace
with no allocation; 3 interrupted (SIGINT, SIGTERM: the report covers the runs
that finished).
"""
from __future__ import annotations

import dataclasses
import time
from collections import Counter

from hakmem_verify.contract.api import Config
from hakmem_verify.contract.ops import Alloc, Free, Read, ThreadExit, Write

# ============================================================================
# The one table from the design's path counters to the report's categories.
# (kind, path counter name in hakmem_verify.models.fast.allocator.PATHS, label)
# ============================================================================
PATH_TABLE = (
    ("stage", "tls_mag", "thread magazine"),
    ("stage", "mini_mag", "mini-magazine"),
    ("stage", "refill", "refill"),
    ("stage", "slow", "slow path"),
    ("stage", "new_slab", "new slab"),
    ("stage", "oom", "out of memory"),
    ("route", "free_magazine", "magazine"),
    ("route", "free_local", "local"),
    ("route", "free_remote", "remote"),
)
STAGES = tuple(p for k, p, _ in PATH_TABLE if k == "stage")
ROUTES = tuple(p for k, p, _ in PATH_TABLE if k == "route")
LABEL = {p: label for _, p, label in PATH_TABLE}
HOT_PATH = ("tls_mag", "mini_mag")       # the design's hot path (Phase 2)

# The default sweep: the seed Config, then one change at a time (a larger mini-magazine
# holds more only if a refill moves more, hence the pair).
SWEEP = ({"mini_mag_capacity": 32}, {"mini_mag_capacity": 32, "refill_batch": 32},
         {"magazine_capacity": 256}, {"magazine_capacity": 64}, {"refill_batch": 4},
         {"flush_interval": 64}, {"flush_interval": 1024})


def _knob_text(v) -> str:
    """A knob value as --knob spells it (a bool as 0 / 1)."""
    return str(int(v)) if isinstance(v, bool) else str(v)


def settings(sweep=None) -> list:
    """[(label, Config)]: the seed Config, then each change of ``sweep`` (dicts of knobs)."""
    out = [("seed", Config())]
    for change in (SWEEP if sweep is None else sweep):
        label = ",".join(f"{k}={_knob_text(v)}" for k, v in change.items())
        out.append((label, dataclasses.replace(Config(), **change)))
    return out


def _stranded(snap) -> dict:
    """Free blocks held in caches (not in a bitmap): magazines, mini-mags, remote stacks."""
    mags = sum(len(m) for t in snap.threads.values() for m in t.magazines)
    return dict(magazine=mags, mini_mag=sum(s.mini_mag_count for s in snap.slabs.values()),
                remote=sum(s.remote_count for s in snap.slabs.values()))


# ============================================================================
# Memory: bytes reserved by the pool against live bytes
# ============================================================================
#: The counters whose change may change the reserved bytes (hakmem_verify.models.fast.probe.PATHS).
MEMORY_COUNTERS = ("new_slab", "slow", "slab_release", "ss_map", "ss_unmap", "ss_pool_push",
                   "ss_pool_pop")


def reserved_bytes(fast, config: Config) -> int:
    """Bytes the pool holds from the OS, read from the model's own introspection.

    Default mode: the slabs in use (``slab_bases()``) x ``slab_size``; a released slab's
    address goes on the model's reuse list and is not counted (the model has no separate
    unmap for a slab).  SuperSlab mode: SuperSlabs mapped and not returned to the OS
    (path counters ``ss_map - ss_unmap``), the pooled empty ones included, x
    ``superslab_size``.
    """
    if config.use_superslab:
        pc = fast.path_counts
        return (pc.get("ss_map", 0) - pc.get("ss_unmap", 0)) * config.superslab_size
    return len(fast.slab_bases()) * config.slab_size


def reserved_from_snapshot(snap, config: Config) -> int:
    """``reserved_bytes`` recomputed from a complete snapshot (the cross-check): slabs x
    slab_size, or (SuperSlabs in use + pooled ones) x superslab_size."""
    if config.use_superslab:
        return (len(snap.superslabs) + len(snap.ss_pool)) * config.superslab_size
    return len(snap.slabs) * config.slab_size


def kept_bound(config: Config) -> int:
    """Bytes a mode may keep reserved once every block is free and the allocator quiesced:
    none in the default mode (every free slab is released), the pool of empty SuperSlabs
    (``superslab_pool_max`` x ``superslab_size``) in SuperSlab mode."""
    return config.superslab_pool_max * config.superslab_size if config.use_superslab else 0


def _release_all(fast, live: dict, config: Config) -> dict:
    """After the workload: free every block still live (from tid 0, the main thread, as
    at program exit), then quiesce; what stays reserved."""
    left = len(live)
    for a, _size, _cls in list(live.values()):
        fast.free(a, 0)
    live.clear()
    fast.quiesce()
    after = reserved_bytes(fast, config)
    pc = fast.path_counts
    return dict(freed_at_end=left, reserved_after=after, kept_bound=kept_bound(config),
                comes_back=after <= kept_bound(config),
                slabs_after=len(fast.slab_bases()),
                counters_after={k: pc.get(k, 0) for k in MEMORY_COUNTERS})


def memory_verdict(mem: dict) -> str:
    """The "memory comes back" line of a run's memory panel."""
    kib = mem["reserved_after"] // 1024
    bound = mem["kept_bound"] // 1024
    if mem["comes_back"]:
        return (f"yes: {kib:,} KiB still reserved after free-all + quiesce "
                f"(the mode keeps up to {bound:,} KiB)")
    return (f"NO: {kib:,} KiB still reserved after free-all + quiesce, more than the "
            f"{bound:,} KiB the mode keeps")


def _stats_error(rep, ex, gate: float):
    """(worst class error %, total error %, worst error % over the classes whose exact
    count is >= gate) of reported vs exact statistics, allocs and frees."""
    worst = total = 0.0
    gated = None
    for r, e in ((rep.allocs, ex.allocs), (rep.frees, ex.frees)):
        for rc, ec in zip(r, e):
            if ec:
                pct = abs(ec - rc) * 100.0 / ec
                worst = max(worst, pct)
                if ec >= gate:
                    gated = max(gated or 0.0, pct)
        se = sum(e)
        if se:
            total = max(total, abs(se - sum(r)) * 100.0 / se)
    return worst, total, gated


def measure(ops: list, config: Config, make_fast=None, samples: int = 100) -> dict:
    """Replay ops on the allocator alone and measure the design (see the module doc).

    Takes the ops workloads and traces are made of (Alloc, Free, Write, Read,
    ThreadExit); ValueError for any other op.

    Cost: O(ops) plus ``samples`` complete snapshots (O(heap) each).
    """
    if make_fast is None:
        from hakmem_verify.models.fast import FastAllocator as make_fast
    fast = make_fast(config)
    pc = fast.path_counts
    stages, routes, exit_routes = Counter(), Counter(), Counter()
    live, live_bytes, tids = {}, 0, set()
    every = max(1, len(ops) // max(1, samples))
    series = []
    err = dict(max_worst=0.0, max_total=0.0, ops_over_1pct=0, last_over_1pct=None,
               first_over_1pct=None, max_worst_gated=None, intervals=[],
               end_worst=0.0, end_total=0.0)
    peak_slabs = threads_peak = handle = 0
    # memory: reserved bytes after every op (recomputed when a counter of MEMORY_COUNTERS
    # moved), live bytes as the class sizes of the live blocks
    live_class = 0
    reserved = reserved_bytes(fast, config)
    mem_key = None
    peak = dict(reserved=reserved, op=0, live_class_bytes=0, live_bytes=0)
    mismatches = peak_live = 0
    for i, op in enumerate(ops):
        kind = type(op)
        if kind is Alloc:
            before = [pc.get(k, 0) for k in STAGES]
            a = fast.alloc(op.size, op.tid)
            for k, b in zip(STAGES, before):
                if pc.get(k, 0) != b:
                    stages[k] += pc.get(k, 0) - b
            if a is not None:
                cls = fast.usable_size(a)
                live[handle] = (a, op.size, cls)
                live_bytes += op.size
                live_class += cls
                peak_live = max(peak_live, live_class)
            handle += 1
            tids.add(op.tid)
            if pc.get("new_slab", 0) != before[STAGES.index("new_slab")]:
                peak_slabs = max(peak_slabs, len(fast.slab_bases()))
        elif kind is Free:
            blk = live.pop(op.handle, None)
            if blk is None:
                continue
            before = [pc.get(k, 0) for k in ROUTES]
            fast.free(blk[0], op.tid)
            live_bytes -= blk[1]
            live_class -= blk[2]
            for k, b in zip(ROUTES, before):
                if pc.get(k, 0) != b:
                    routes[k] += pc.get(k, 0) - b
            tids.add(op.tid)
        elif kind is ThreadExit:
            before = [pc.get(k, 0) for k in ROUTES]
            fast.thread_exit(op.tid)
            for k, b in zip(ROUTES, before):
                exit_routes[k] += pc.get(k, 0) - b
            tids.discard(op.tid)
        elif kind is Write:
            if op.handle in live:
                fast.write(live[op.handle][0] + op.offset, op.data)
        elif kind is not Read:          # a read changes nothing the report measures
            raise ValueError(f"measure: {type(op).__name__} ops are not supported (op {i}: "
                             f"{op!r}); workloads and traces use Alloc, Free, Write, Read "
                             f"and ThreadExit")
        threads_peak = max(threads_peak, len(tids))
        key = tuple(pc.get(k, 0) for k in MEMORY_COUNTERS)
        if key != mem_key:
            mem_key = key
            reserved = reserved_bytes(fast, config)
            if reserved > peak["reserved"]:
                peak = dict(reserved=reserved, op=i + 1, live_class_bytes=live_class,
                            live_bytes=live_bytes)
        # STAT-03's reading of the claim: it applies once exact >= 100 x the pending bound
        gate = 100 * max(1, len(tids)) * (config.flush_interval - 1)
        worst, total, gated = _stats_error(fast.stats(), fast.exact_stats(), gate)
        _track_error(err, i, worst, total, gated)
        if i % every == 0 or i == len(ops) - 1:
            snap = fast.snapshot()
            if reserved_from_snapshot(snap, config) != reserved:
                mismatches += 1
            series.append(dict(op=i + 1, live=len(live), live_bytes=live_bytes,
                               live_class_bytes=live_class, reserved=reserved,
                               slabs=len(fast.slab_bases()), worst_error=worst,
                               total_error=total, **_stranded(snap)))
    if err["intervals"] and err["intervals"][-1][1] is None:
        err["intervals"][-1][1] = len(ops)
    peak_stranded = max((s["magazine"] + s["mini_mag"] + s["remote"] for s in series),
                        default=0)
    peak_cached = max((s["magazine"] + s["mini_mag"] for s in series), default=0)
    peak_remote = max((s["remote"] for s in series), default=0)
    path_counts = dict(pc)                  # the workload's own (the clean-up's come apart)
    memory = dict(mode="superslab" if config.use_superslab else "per-slab",
                  live_measure="class sizes of the live blocks (usable_size)",
                  peak_reserved=peak["reserved"], peak_op=peak["op"],
                  live_at_peak=peak["live_class_bytes"],
                  requested_live_at_peak=peak["live_bytes"],
                  ratio_at_peak=(peak["reserved"] / peak["live_class_bytes"]
                                 if peak["live_class_bytes"] else None),
                  peak_live=peak_live,
                  peak_ratio=peak["reserved"] / peak_live if peak_live else None,
                  final_reserved=reserved, final_live=live_class,
                  ratio_final=reserved / live_class if live_class else None,
                  counters={k: pc.get(k, 0) for k in MEMORY_COUNTERS},
                  snapshot_mismatches=mismatches)
    memory.update(_release_all(fast, live, config))
    memory["verdict"] = memory_verdict(memory)
    return dict(memory=memory,ops=len(ops), allocs=sum(stages.values()), frees=sum(routes.values()),
                stages=dict(stages), routes=dict(routes), exit_routes=dict(exit_routes),
                path_counts=path_counts, series=series, stats_error=err,
                peak_slabs=peak_slabs, peak_bytes=peak_slabs * config.slab_size,
                peak_stranded=peak_stranded, peak_cached=peak_cached,
                peak_remote=peak_remote, slab_size=config.slab_size,
                threads_peak=threads_peak,
                # what the design can cache (remote stacks aside): every live thread's
                # magazines (classes x capacity) and a full mini-magazine in every slab
                stranded_bound=threads_peak * config.num_classes * config.magazine_capacity
                + peak_slabs * config.mini_mag_capacity)


def _track_error(err: dict, i: int, worst: float, total: float, gated) -> None:
    """Fold one op's statistics error into the running maxima and the intervals where
    the total error exceeds 1%."""
    err["max_worst"] = max(err["max_worst"], worst)
    err["max_total"] = max(err["max_total"], total)
    err["end_worst"], err["end_total"] = worst, total
    if gated is not None:
        err["max_worst_gated"] = max(err["max_worst_gated"] or 0.0, gated)
    iv = err["intervals"]
    if total > 1.0:
        err["ops_over_1pct"] += 1
        err["last_over_1pct"] = i + 1
        if err["first_over_1pct"] is None:
            err["first_over_1pct"] = i + 1
        if not iv or iv[-1][1] is not None:
            iv.append([i + 1, None])
    elif iv and iv[-1][1] is None:
        iv[-1][1] = i + 1


# ============================================================================
# The command
# ============================================================================


def explore(sources: list, sweep=None, samples: int = 100, make_fast=None,
            log=None, runs=None) -> list:
    """Measure every (name, ops) source under every setting; the runs, in order (appended
    to ``runs`` as each finishes, so an interrupted caller keeps them)."""
    runs = [] if runs is None else runs
    for name, ops in sources:
        for label, config in settings(sweep):
            t0 = time.monotonic()
            run = measure(ops, config, make_fast, samples)
            run.update(workload=name, setting=label, seconds=time.monotonic() - t0,
                       config={f.name: getattr(config, f.name)
                               for f in dataclasses.fields(Config)})
            runs.append(run)
            if log:
                hot = sum(run["stages"].get(k, 0) for k in HOT_PATH)
                log(f"explore: {name:<14} {label:<40} {run['ops']:>7,} ops in "
                    f"{run['seconds']:5.2f} s; hot path {100 * hot / max(1, run['allocs']):5.1f}%"
                    f", peak stranded {run['peak_stranded']:,}, peak slabs {run['peak_slabs']}"
                    f", reserved peak {run['memory']['peak_reserved'] // 1024:,} KiB / after "
                    f"{run['memory']['reserved_after'] // 1024:,} KiB")
    return runs


BOOL_TEXT = {"0": False, "1": True, "false": False, "true": True}


def parse_knob_value(name: str, text: str):
    """One --knob value: a bool knob (``use_superslab``) takes 0, 1, true or false (any
    case); the others an int (``int(text, 0)``).  ValueError otherwise."""
    if isinstance(getattr(Config(), name), bool):
        v = BOOL_TEXT.get(text.strip().lower())
        if v is None:
            raise ValueError(f"{name} takes 0, 1, true or false, got {text!r}")
        return v
    return int(text, 0)


def parse_knobs(pairs) -> list:
    """--knob KNOB=V1,V2 strings -> sweep entries ({knob: value} each); ValueError if bad."""
    from hakmem_verify.contract.config import KNOBS
    sweep = []
    for pair in pairs:
        name, sep, values = pair.partition("=")
        if not sep or name not in KNOBS or not values:
            raise ValueError(f"--knob {pair!r}: expected KNOB=V1,V2,... with KNOB one of "
                             f"{', '.join(KNOBS)}")
        for v in values.split(","):
            try:
                change = {name: parse_knob_value(name, v)}
                dataclasses.replace(Config(), **change)
            except ValueError as e:
                raise ValueError(f"--knob {pair!r}: {name}={v!r} is not a valid setting: "
                                 f"{e}") from None
            sweep.append(change)
    return sweep
