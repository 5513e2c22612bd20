"""The two machines in the report of ``hakmem-fuzz run``: the split and the concurrent
machine's schedules, preemptions and races (``hakmem_verify.report.run`` and
``hakmem_verify.runner.merge`` use these on the workers' totals).

    machines      per machine (lockstep, concurrent): ran (or the note why not), share of
                  the budget, seconds (summed over workers), examples, steps, steps/s and
                  for the concurrent machine schedules/s, each rate the sum of the
                  workers' rates over the time each spent in that machine
    concurrent    schedules, preemptions, preemptions per schedule, schedules by number of
                  preemptions, races fired per shared word, steps by label
"""
from __future__ import annotations

from collections import Counter

#: Paths of the seed design the model labels; a label that never fired is shown as unreached.
SEED_PATHS = ("tls_mag", "mini_mag", "refill", "slow", "new_slab", "tls_refill", "drain",
              "spill", "slab_release", "free_local", "free_remote", "free_magazine",
              "mag_overflow", "stat_flush", "oom", "oom_stranded", "cross_thread_free")


def _sorted(counter) -> dict:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def unreached(*counters) -> list:
    """Seed-design paths that no machine took (a label absent from every counter)."""
    return [n for n in SEED_PATHS if not any(c.get(n) for c in counters)]


def concurrent_paths(workers) -> Counter:
    out = Counter()
    for w in workers:
        out.update((w.get("concurrent") or {}).get("paths") or {})
    return out


def _split_note(params: dict) -> str:
    """Why the concurrent machine did not run in a run, '' when it did."""
    if (params.get("concurrent_share") or 0) > 0:
        return ""
    return params.get("concurrent_note") or "not asked for (--machine names lockstep " \
        "families only)"


def machines_section(workers, params: dict) -> dict:
    """The split: per machine its share, totals and throughput (summed over the workers,
    each worker's rate over the time it spent in that machine)."""
    share = params.get("concurrent_share") or 0.0
    cs = [w.get("concurrent") or {} for w in workers]
    lock = {"ran": share < 1, "share": round(1.0 - share, 3),
            "examples": sum(w["examples"] for w in workers),
            "steps": sum(w["steps"] for w in workers),
            "seconds": round(sum(w.get("lockstep_s") or 0.0 for w in workers), 2),
            "steps_per_s": round(sum(w["steps"] / w["lockstep_s"] for w in workers
                                     if w.get("lockstep_s")), 1)}
    if share >= 1:
        lock["note"] = params.get("lockstep_note") or ""
    conc = {"ran": share > 0, "share": round(share, 3),
            "examples": sum(c.get("examples", 0) for c in cs),
            "schedules": sum(c.get("schedules", 0) for c in cs),
            "steps": sum(c.get("steps", 0) for c in cs),
            "seconds": round(sum(c.get("seconds", 0.0) for c in cs), 2),
            "schedules_per_s": round(sum(c["schedules"] / c["seconds"] for c in cs
                                         if c.get("seconds")), 1),
            "steps_per_s": round(sum(c["steps"] / c["seconds"] for c in cs
                                     if c.get("seconds")), 1)}
    if share <= 0:
        conc["note"] = _split_note(params)
    return {"lockstep": lock, "concurrent": conc}


def concurrent_section(workers) -> dict:
    """Schedules, preemptions and the races fired, summed over the workers."""
    cs = [w.get("concurrent") or {} for w in workers]
    sched = sum(c.get("schedules", 0) for c in cs)
    pre = sum(c.get("preemptions", 0) for c in cs)
    by_pre, after, labels = Counter(), Counter(), Counter()
    for c in cs:
        by_pre.update(c.get("schedules_by_preemptions") or {})
        after.update(c.get("preempted_after") or {})
        labels.update(c.get("steps_by_label") or {})
    return {"schedules": sched, "preemptions": pre,
            "preemptions_per_schedule": round(pre / sched, 3) if sched else 0.0,
            "schedules_by_preemptions": dict(sorted(by_pre.items(), key=lambda kv: int(kv[0]))),
            "races_fired": {"cas-retry": labels.get("cas-retry", 0),
                            "preempted_after": _sorted(after)},
            "steps_by_label": _sorted(labels)}


def worker_concurrent(w: dict) -> str:
    c = w.get("concurrent") or {}
    if not c.get("seconds"):
        return "- | - | -"
    return (f"{c['schedules']:,} | {c['schedules'] / c['seconds']:,.1f} | "
            f"{c['steps'] / c['seconds']:,.1f}")


def concurrent_markdown(r: dict) -> list:
    c = r.get("concurrent")
    cc = (r.get("machines") or {}).get("concurrent") or {}
    if not c or not cc.get("ran"):
        return []
    races = c["races_fired"]
    out = ["", "## Concurrent machine: schedules, preemptions, races", "",
           f"{c['schedules']:,} schedules, {c['preemptions']:,} preemptions "
           f"({c['preemptions_per_schedule']} per schedule).", "",
           "Schedules by preemptions: " + (", ".join(
               f"{k}: {v:,}" for k, v in c["schedules_by_preemptions"].items()) or "none") + ".",
           "", "Races fired per shared word: a `cas-retry` is a push or drain that lost a "
           "compare-and-swap to another thread; 'preempted after' counts, per step label, "
           "the times another thread ran while a thread was between that shared access and "
           "its next step.", "", "| shared word (step label) | races fired |", "|---|---|",
           f"| cas-retry | {races['cas-retry']:,} |"]
    out += [f"| preempted after {k} | {v:,} |" for k, v in races["preempted_after"].items()]
    return out
