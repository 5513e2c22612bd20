"""The report of a ``hakmem-fuzz run`` campaign: ``report.json`` and ``report.md``.

``build`` turns the parent's ``Campaign`` into one plain dict (the JSON
schema below); ``write`` saves it as JSON and as Markdown for people.

    parameters   the run's settings (minutes, workers, seed, db, machines, mutant, ...)
    status       "clean" | "failures" | "worker crashed" (exit_status 0 | 1 | 1)
    stop_reason  budget | SIGINT | SIGTERM | first failure of a --mutant run | ...
    totals       examples, steps, steps_per_s over all workers
    workers      per worker: seed_start, status, examples, steps, steps_per_s, cpu_s,
                 steps_per_cpu_s (steps/s lower than steps/CPU s: the core was shared), error
    coverage     how often each path/situation label fired (runs of ops that took it),
                 and the seed design's paths that never fired
    checks       invariant check runs per ID / level (L1, L2, L3, REF-01, ...)
    failures     invariant ID, seed, message, shrunk steps, reproducer path,
                 whether the reproducer fails on replay (and passes without the mutant)
    database     the example database and its file count before and after
"""
from __future__ import annotations

import datetime
import json
import os
from collections import Counter

# Paths of the seed design the model labels; a label that never fired is shown as unreached.
SEED_PATHS = ("tls_mag", "mini_mag", "refill", "slow", "new_slab", "tls_refill", "drain",
              "spill", "slab_release", "free_local", "free_remote", "free_magazine",
              "mag_overflow", "stat_flush", "oom", "oom_stranded", "cross_thread_free")


def _iso(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(
        timespec="seconds")


def build(camp, db_files_before: int, db_files_after: int, promoted=None) -> dict:
    """The report dict of a finished (or stopped) campaign."""
    p = camp.params
    elapsed = (camp.finished or camp.started) - camp.started
    events, checks = Counter(), Counter()
    workers = []
    for w in camp.workers:
        events.update(w["events"])
        checks.update(w["checks"])
        workers.append({k: w[k] for k in ("index", "pid", "seed_start", "status", "exitcode",
                                          "error", "examples", "steps")}
                       | {"elapsed_s": round(w["elapsed"], 2), "cpu_s": round(w["cpu"], 2),
                          "steps_per_s": round(w["steps"] / w["elapsed"], 1)
                          if w["elapsed"] else 0.0,
                          "steps_per_cpu_s": round(w["steps"] / w["cpu"], 1)
                          if w["cpu"] else 0.0})
    crashed = [w for w in workers if w["status"] in ("crashed",)]
    status = "failures" if camp.failures else "worker crashed" if crashed else "clean"
    steps = sum(w["steps"] for w in workers)
    return {
        "tool": "hakmem-fuzz run",
        "status": status,
        "exit_status": 0 if status == "clean" else 1,
        "stop_reason": camp.stop_reason or "unknown",
        "started_at": _iso(camp.started),
        "finished_at": _iso(camp.finished or camp.started),
        "elapsed_s": round(elapsed, 2),
        "parameters": {k: p[k] for k in ("minutes", "workers", "seed", "db", "report",
                                          "machines", "mutant", "promote", "chunk", "steps",
                                          "l3_every")},
        "totals": {"examples": sum(w["examples"] for w in workers), "steps": steps,
                   "steps_per_s": round(steps / elapsed, 1) if elapsed else 0.0},
        "workers": workers,
        "coverage": {"events": dict(sorted(events.items(), key=lambda kv: -kv[1])),
                     "unreached_paths": [n for n in SEED_PATHS if not events.get(n)]},
        "checks": dict(sorted(checks.items())),
        "failures": [dict(f, message_head=_head(f["message"])) for f in camp.failures],
        "promoted": promoted,
        "database": {"path": p["db"], "files_before": db_files_before,
                     "files_after": db_files_after},
    }


def _head(message: str, lines: int = 3) -> str:
    return "\n".join((message or "").strip().splitlines()[:lines])


def write(report: dict, directory: str) -> tuple:
    """Write report.json and report.md into directory; returns their paths."""
    os.makedirs(directory, exist_ok=True)
    jpath = os.path.join(directory, "report.json")
    mpath = os.path.join(directory, "report.md")
    for path, text in ((jpath, json.dumps(report, indent=2, default=repr) + "\n"),
                       (mpath, markdown(report))):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)     # a reader never sees half a report
    return jpath, mpath


def summary(report: dict, paths) -> str:
    """A few lines for the terminal."""
    t = report["totals"]
    lines = [f"hakmem-fuzz: {report['status']} ({report['stop_reason']}); "
             f"{t['examples']:,} examples, {t['steps']:,} steps in {report['elapsed_s']} s; "
             f"seed {report['parameters']['seed']}"]
    for f in report["failures"]:
        lines.append(f"  FAIL [{f['inv_id']}] seed {f['seed']} ({f['shrunk_steps']} steps): "
                     f"{_head(f['message'], 1)}")
        lines.append(f"       reproducer: {f['reproducer'] or '(none: ' + f['note'] + ')'}")
    for w in report["workers"]:
        if w["status"] in ("crashed", "terminated"):
            lines.append(f"  worker {w['index']} {w['status']}: {_head(w['error'] or '', 1)}")
    lines.append(f"  report: {paths[0]}, {paths[1]}")
    return "\n".join(lines)


# ============================================================================
# Markdown
# ============================================================================


def markdown(r: dict) -> str:
    p, t = r["parameters"], r["totals"]
    out = [f"# hakmem-fuzz run: {r['status']}", "",
           f"Started {r['started_at']}, {r['elapsed_s']} s, stopped by: {r['stop_reason']}. "
           f"Exit status {r['exit_status']}.", "",
           "## Parameters", "", "| parameter | value |", "|---|---|"]
    out += [f"| {k} | `{v}` |" for k, v in p.items()]
    out += ["", "## Throughput", "",
            f"{t['examples']:,} examples, {t['steps']:,} steps, {t['steps_per_s']:,} steps/s "
            "in total (examples include those run while shrinking).", "",
            "| worker | seeds from | status | examples | steps | steps/s | CPU s | "
            "steps/CPU s |", "|---|---|---|---|---|---|---|---|"]
    out += [f"| {w['index']} | {w['seed_start']} | {w['status']} | {w['examples']:,} | "
            f"{w['steps']:,} | {w['steps_per_s']:,} | {w['cpu_s']} | {w['steps_per_cpu_s']:,} |"
            for w in r["workers"]]
    for w in r["workers"]:
        if w["error"]:
            out += ["", f"Worker {w['index']} {w['status']}:", "", "```",
                    w["error"].rstrip(), "```"]
    out += ["", "## Failures", ""]
    if not r["failures"]:
        out += ["None.", ""]
    for f in r["failures"]:
        out += [f"### [{f['inv_id']}] seed {f['seed']} (worker {f['worker']})", "",
                f"- reproducer: `{f['reproducer']}`" if f["reproducer"] else
                f"- reproducer: none ({f['note']})",
                f"- shrunk to {f['shrunk_steps']} steps; first failure after "
                f"{f['time_to_fail']} s",
                f"- replaying the reproducer fails: {f['reproduces']}"]
        if f["mutant"]:
            out.append(f"- planted bug `{f['mutant']}`; the trace passes without it: "
                       f"{f['passes_without_mutant']}")
        out += [f"- config: `{f['config']}`", "", "```", f["message_head"], "```", ""]
    if r.get("promoted"):
        pr = r["promoted"]
        out += ["## Promoted", "", f"Copied into `{pr['dest']}`: " +
                (", ".join(f"`{c}`" for c in pr["copied"]) or "none") + ".",
                "Refused (they fail only under a planted bug): " +
                (", ".join(f"`{c}`" for c in pr["refused"]) or "none") + ".", ""]
    ev = r["coverage"]["events"]
    out += ["## Path coverage", "",
            "How many ops took each path or met each situation.", "",
            "| label | ops |", "|---|---|"]
    out += [f"| {k} | {v:,} |" for k, v in ev.items()]
    out += ["", "Seed-design paths never reached: " +
            (", ".join(r["coverage"]["unreached_paths"]) or "none") + ".", "",
            "## Invariant checks", "", "| check | runs |", "|---|---|"]
    out += [f"| {k} | {v:,} |" for k, v in r["checks"].items()]
    db = r["database"]
    out += ["", "## Example database", "",
            f"`{db['path']}`: {db['files_before']} files before, {db['files_after']} after. "
            "Saved failures are replayed first by the next run on the same database.", ""]
    return "\n".join(out)
