"""The report of a ``hakmem-fuzz run`` campaign: ``report.json``, ``report.md``, ``report.html``.

``build`` turns the parent's ``Campaign`` into one plain dict (the JSON
schema below); ``write`` saves it as JSON, as Markdown and as an HTML page,
with the progress plots (``hakmem_verify.report.run_plots``) when matplotlib is installed.

    status        "clean" | "failures" | "incomplete"; exit_status 0 | 1 | 3
    stop_reason   budget | SIGINT | SIGTERM | first failure of a --mutant run | ...
    incomplete    why the run is incomplete (signal, crashed or terminated workers)
    parameters    the run's settings (minutes, workers, seed, shard, db, op_timeout, ...)
    totals        examples, steps, steps_per_s of the lockstep machine over all workers
    machines      the split: per machine (lockstep, concurrent) whether it ran (or why
                  not), its share of the budget, examples, steps, and its throughput
                  (steps/s; schedules/s for the concurrent machine) summed over the
                  workers, each measured over the time the worker spent in that machine
    concurrent    the concurrent machine: schedules, preemptions per schedule, schedules
                  by preemptions, races fired per shared word (cas-retry, and per step
                  label the times another thread ran right after that shared access)
    workers       per worker: seed_start, status, examples, steps, steps/s, CPU s, error
    coverage      per_op: ops that took each path or met each situation (an op counts
                  once however many blocks it moved); per_block: the fast model's own
                  counters (once per block); unreached_paths: seed-design paths never taken
    checks        invariant check runs per key the oracle counts (level or invariant ID)
    behaviours    distinct "<op>:<label>" pairs reached, when each was first reached,
                  the time of the last new one
    timeline      [elapsed_s, examples, steps, behaviours] samples
    failures      deduplicated: invariant ID, seed, message, shrunk trace, reproducer,
                  whether it replays, where it was saved, the other finders
    database      the databases, corrupt entries found before the run, saves per worker
                  (confirmed, fallen back to --db-local, lost), examples kept for reaching a
                  new behaviour (Hypothesis's Pareto front)
    plots         the PNG files written, or why there are none
"""
from __future__ import annotations

import datetime
import json
import os
from collections import Counter

from . import run_plots as runner_plots
from .machines import concurrent_paths, concurrent_section, machines_section, unreached
from .run_markdown import EXIT_MEANING, markdown

def _iso(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(
        timespec="seconds")


def _sorted(counter) -> dict:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def build(camp, db_files_before: int, db_files_after: int, promoted=None) -> dict:
    """The report dict of a finished (or stopped) campaign."""
    p = camp.params
    elapsed = (camp.finished or camp.started) - camp.started
    events, checks, paths, db = Counter(), Counter(), Counter(), Counter()
    db_errors, workers = [], []
    for w in camp.workers:
        events.update(w["events"])
        checks.update(w["checks"])
        paths.update(w.get("paths") or {})
        wdb = w.get("db") or {}
        db.update({k: v for k, v in wdb.items() if k != "errors"})
        db_errors += [f"worker {w['index']}: {e}" for e in wdb.get("errors", ())]
        lock_s = w.get("lockstep_s") or w["elapsed"]
        workers.append({k: w[k] for k in ("index", "pid", "seed_start", "status", "exitcode",
                                          "error", "examples", "steps")}
                       | {"elapsed_s": round(w["elapsed"], 2), "cpu_s": round(w["cpu"], 2),
                          "lockstep_s": round(lock_s, 2),
                          "concurrent": w.get("concurrent"),
                          "steps_per_s": round(w["steps"] / lock_s, 1)
                          if lock_s else 0.0,
                          "steps_per_cpu_s": round(w["steps"] / w["cpu"], 1)
                          if w["cpu"] else 0.0, "db": wdb or None})
    incomplete = []
    if camp.stop_reason in ("SIGINT", "SIGTERM"):
        incomplete.append(f"stopped by {camp.stop_reason} before the budget ended")
    incomplete += [f"worker {w['index']} {w['status']}" for w in workers
                   if w["status"] in ("crashed", "terminated")]
    status = "failures" if camp.failures else "incomplete" if incomplete else "clean"
    steps = sum(w["steps"] for w in workers)
    last_new = max(camp.first_seen.values(), default=None)
    return {
        "tool": "hakmem-fuzz run",
        "status": status,
        "exit_status": {"clean": 0, "failures": 1, "incomplete": 3}[status],
        "stop_reason": camp.stop_reason or "unknown",
        "incomplete": incomplete,
        "started_at": _iso(camp.started),
        "finished_at": _iso(camp.finished or camp.started),
        "elapsed_s": round(elapsed, 2),
        "parameters": {k: p.get(k) for k in (
            "minutes", "workers", "seed", "shard", "db", "db_local", "db_shared", "report",
            "machines", "mutant", "promote", "chunk", "steps", "l3_every", "op_timeout",
            "impl", "tier", "concurrent_share", "concurrent_note", "lockstep_note",
            "shrink_seconds")},
        "machines": machines_section(workers, p),
        "concurrent": concurrent_section(workers),
        "unsupported": _unsupported(camp.workers),
        "totals": {"examples": sum(w["examples"] for w in workers), "steps": steps,
                   "steps_per_s": round(steps / elapsed, 1) if elapsed else 0.0},
        "workers": workers,
        "coverage": {"per_op": _sorted(events), "per_block": _sorted(paths),
                     "concurrent_per_block": _sorted(concurrent_paths(workers)),
                     "unreached_paths": unreached(events, paths, concurrent_paths(workers))
                     if (p.get("tier") or "white-box") == "white-box" else []},
        "checks": dict(sorted(checks.items())),
        "behaviours": {"distinct": len(camp.first_seen),
                       "first_seen": dict(sorted(camp.first_seen.items(),
                                                 key=lambda kv: (kv[1], kv[0]))),
                       "last_new_s": last_new,
                       "since_last_new_s": round(elapsed - last_new, 2)
                       if last_new is not None else None},
        "timeline": camp.timeline + [[round(elapsed, 2), sum(w["examples"] for w in workers),
                                      steps, len(camp.first_seen)]],
        "failures": [dict(f, message_head=_head(f["message"], 40 if f["inv_id"] == "HANG"
                                                else 3)) for f in camp.failures],
        "promoted": promoted,
        "database": {"path": p.get("db"), "local": p.get("db_local"),
                     "shared": p.get("db_shared"), "files_before": db_files_before,
                     "files_after": db_files_after,
                     "entries_before": camp.db_check.get("entries_before", 0),
                     "corrupt": camp.db_check.get("corrupt", []),
                     "saves": db.get("saves", 0), "fallback": db.get("fallback", 0),
                     "lost": db.get("lost", 0), "pareto": db.get("pareto", 0),
                     "fetched": db.get("fetched", 0),
                     "fetched_shared": db.get("fetched_shared", 0),
                     "replayed": db.get("replayed", 0),
                     "errors": db_errors[:10]},
        "plots": None,
    }


def _head(message: str, lines: int = 3) -> str:
    return "\n".join((message or "").strip().splitlines()[:lines])


def write(report: dict, directory: str) -> tuple:
    """Write report.json, report.md, report.html (and the plots); returns (json, md) paths."""
    os.makedirs(directory, exist_ok=True)
    report["plots"] = runner_plots.make(report, directory)
    jpath = os.path.join(directory, "report.json")
    mpath = os.path.join(directory, "report.md")
    hpath = os.path.join(directory, "report.html")
    md = markdown(report)
    for path, text in ((jpath, json.dumps(report, indent=2, default=repr) + "\n"),
                       (mpath, md), (hpath, runner_plots.html(md, report))):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)     # a reader never sees half a report
    return jpath, mpath


def loud_lines(report: dict) -> list:
    """Warnings for stderr: anything that could lose a finding."""
    out, db = [], report["database"]
    for f in report["failures"]:
        if not str(f.get("saved", "saved")).startswith("saved"):
            out.append(f"hakmem-fuzz: WARNING: failure [{f['inv_id']}] seed {f['seed']} was "
                       f"{f['saved']}; its reproducer is the only copy: "
                       f"{f.get('reproducer') or '(none)'}")
    if db["lost"]:
        out.append(f"hakmem-fuzz: WARNING: {db['lost']} database saves were lost "
                   f"({'; '.join(db['errors'][:2])}); check --db")
    if db["fallback"]:
        out.append(f"hakmem-fuzz: WARNING: --db {db['path']} refused {db['fallback']} saves; "
                   f"they are in --db-local {db['local']}")
    if db["corrupt"]:
        out.append(f"hakmem-fuzz: {len(db['corrupt'])} corrupt database entries, listed in "
                   "the report")
    return out


def summary(report: dict, paths) -> str:
    """A few lines for the terminal."""
    t, b = report["totals"], report["behaviours"]
    lines = [f"hakmem-fuzz: {report['status']} ({report['stop_reason']}); "
             f"{t['examples']:,} examples, {t['steps']:,} steps in {report['elapsed_s']} s; "
             f"{b['distinct']} distinct behaviours; seed {report['parameters']['seed']}"]
    c = (report.get("machines") or {}).get("concurrent") or {}
    if c.get("ran"):
        lines.append(f"  concurrent machine: {c['schedules']:,} schedules "
                     f"({c['schedules_per_s']:,}/s), {c['steps']:,} steps "
                     f"({c['steps_per_s']:,}/s)")
    elif c.get("note"):
        lines.append(f"  concurrent machine: not run ({c['note']})")
    for f in report["failures"]:
        dup = f" (also found by {len(f['duplicates'])} more)" if f.get("duplicates") else ""
        cut = "; shrinking cut at its budget" if f.get("shrink_cut") else ""
        lines.append(f"  FAIL [{f['inv_id']}] seed {f['seed']} ({f.get('machine', 'lockstep')}"
                     f" machine, {f['shrunk_steps']} steps{cut}){dup}: "
                     f"{_head(f['message'], 1)}")
        lines.append(f"       reproducer: {f['reproducer'] or '(none: ' + f['note'] + ')'}")
    cov = (report.get("impl_coverage") or {}).get("totals")
    if cov:
        lines.append(f"  coverage of {report['impl_coverage']['source']}: {cov['reached']} of "
                     f"{cov['statements']} lines, {cov['taken']} of {cov['branches']} branches "
                     "(the lines never reached: report.md)")
    for why in report["incomplete"]:
        lines.append(f"  incomplete: {why}")
    lines.append(f"  exit status {report['exit_status']}: {EXIT_MEANING[report['exit_status']]}")
    lines.append(f"  report: {paths[0]}, {paths[1]}")
    return "\n".join(lines)


# ============================================================================
# Markdown
# ============================================================================


def _unsupported(workers) -> list:
    """Configs the implementation declined (hakmem_verify.contract.unsupported), summed over the workers."""
    from collections import Counter
    seen = Counter()
    for w in workers:
        seen.update(w.get("unsupported") or {})
    return [f"{msg}: {n} Config(s) skipped, not a bug" for msg, n in seen.most_common()]
