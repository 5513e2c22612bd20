"""The report of a ``hakmem-fuzz run`` campaign: ``report.json``, ``report.md``, ``report.html``.

``build`` turns the parent's ``Campaign`` into one plain dict (the JSON
schema below); ``write`` saves it as JSON, as Markdown and as an HTML page,
with the progress plots (``fuzz.runner_plots``) when matplotlib is installed.

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

from fuzz import runner_plots
from fuzz.runner_machines import (concurrent_markdown, concurrent_paths,
                                  concurrent_section, machines_section, unreached,
                                  worker_concurrent)

EXIT_MEANING = {0: "clean: the full budget ran and nothing was found",
                1: "a failure was found", 2: "usage error or unusable environment",
                3: "interrupted or incomplete: the report covers what ran"}


def _iso(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(
        timespec="seconds")


def _pct(n, total) -> float:
    return round(100.0 * n / total, 2) if total else 0.0


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
    """Configs the implementation declined (specs.unsupported), summed over the workers."""
    from collections import Counter
    seen = Counter()
    for w in workers:
        seen.update(w.get("unsupported") or {})
    return [f"{msg}: {n} Config(s) skipped, not a bug" for msg, n in seen.most_common()]


def markdown(r: dict) -> str:
    p, t, b, db = r["parameters"], r["totals"], r["behaviours"], r["database"]
    since = f"{b['since_last_new_s']} s before the end" if b["last_new_s"] is not None \
        else "none reached"
    out = [f"# hakmem-fuzz run: {r['status']}", "",
           f"Started {r['started_at']}, {r['elapsed_s']} s, stopped by: {r['stop_reason']}. "
           f"Exit status {r['exit_status']}: {EXIT_MEANING[r['exit_status']]}.", ""]
    ms = r.get("machines") or {}
    lk, cc = ms.get("lockstep") or {}, ms.get("concurrent") or {}
    out += [f"- **{t['steps']:,} steps** of the lockstep machine ({t['examples']:,} examples, "
            f"{t['steps_per_s']:,} steps/s)"]
    if cc.get("ran"):
        out += [f"- **{cc['schedules']:,} schedules** of the concurrent machine "
                f"({cc['steps']:,} steps, {cc['schedules_per_s']:,} schedules/s, "
                f"{cc['steps_per_s']:,} steps/s)"]
    elif cc:
        out += [f"- concurrent machine: not run ({cc.get('note')})"]
    if lk and not lk.get("ran"):
        out += [f"- lockstep machine: not run ({lk.get('note')})"]
    out += [
            f"- **{b['distinct']} distinct behaviours**; the last new one at "
            f"{b['last_new_s']} s ({since})",
            f"- **{len(r['failures'])} failures**" +
            (f"; incomplete: {'; '.join(r['incomplete'])}" if r["incomplete"] else ""),
            f"- implementation under test: `{p.get('impl') or 'hakmem_fast:FastAllocator'}`, "
            f"checked {p.get('tier') or 'white-box'}"]
    out += [f"- not supported: {line}" for line in r.get("unsupported") or ()]
    out += [""]
    out += ["## Progress", ""]
    plots = r.get("plots") or {}
    out += [f"![{name}]({name})" for name in plots.get("files", ())] or \
        [f"No plots: {plots.get('note', 'not made')}."]
    out += ["", "## Failures", ""]
    out += _failures(r)
    out += ["## Parameters", "", "| parameter | value |", "|---|---|"]
    out += [f"| {k} | `{v}` |" for k, v in p.items()]
    out += ["", "## Throughput", "",
            f"Lockstep machine: {t['examples']:,} examples, {t['steps']:,} steps, "
            f"{t['steps_per_s']:,} steps/s in total (examples include those run while "
            "shrinking)."]
    if lk:
        out += ["", "| machine | share | ran | seconds (all workers) | examples | steps | "
                "steps/s | schedules | schedules/s |", "|---|---|---|---|---|---|---|---|---|",
                f"| lockstep | {lk['share']:.0%} | {'yes' if lk['ran'] else 'no'} | "
                f"{lk['seconds']} | {lk['examples']:,} | {lk['steps']:,} | "
                f"{lk['steps_per_s']:,} | - | - |",
                f"| concurrent | {cc['share']:.0%} | "
                f"{'yes' if cc['ran'] else 'no: ' + cc.get('note', '')} | "
                f"{cc['seconds']} | {cc['examples']:,} | {cc['steps']:,} | "
                f"{cc['steps_per_s']:,} | {cc['schedules']:,} | {cc['schedules_per_s']:,} |"]
    out += ["", "| worker | seeds from | status | examples | steps | steps/s | CPU s | "
            "steps/CPU s | concurrent schedules | schedules/s | concurrent steps/s |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    out += [f"| {w['index']} | {w['seed_start']} | {w['status']} | {w['examples']:,} | "
            f"{w['steps']:,} | {w['steps_per_s']:,} | {w['cpu_s']} | {w['steps_per_cpu_s']:,} | "
            + worker_concurrent(w) + " |" for w in r["workers"]]
    out += concurrent_markdown(r)
    for w in r["workers"]:
        if w["error"]:
            out += ["", f"Worker {w['index']} {w['status']}:", "", "```",
                    w["error"].rstrip(), "```"]
    if r.get("promoted"):
        pr = r["promoted"]
        out += ["", "## Promoted", "", f"Copied into `{pr['dest']}`: " +
                (", ".join(f"`{c}`" for c in pr["copied"]) or "none") + ".",
                "Refused (they fail only under a planted bug): " +
                (", ".join(f"`{c}`" for c in pr["refused"]) or "none") + "."]
    from fuzz.runner_coverage import markdown as impl_coverage
    out += _coverage(r) + impl_coverage(r.get("impl_coverage") or {}) + _database(db)
    return "\n".join(out)


def _failures(r: dict) -> list:
    out = [] if r["failures"] else ["None.", ""]
    for f in r["failures"]:
        machine = f.get("machine", "lockstep")
        unit = "ops over its rounds" if machine == "concurrent" else "steps"
        cut = (f" (**shrinking cut** at the {r['parameters'].get('shrink_seconds')} s budget "
               f"after {f.get('shrink_seconds')} s: the smallest example found so far)"
               if f.get("shrink_cut") else "")
        out += [f"### [{f['inv_id']}] seed {f['seed']} (worker {f['worker']}, {machine} "
                "machine)", "",
                f"- reproducer: `{f['reproducer']}`" if f["reproducer"] else
                f"- reproducer: none ({f['note']})",
                f"- shrunk to {f['shrunk_steps']} {unit}{cut}; first failure after "
                f"{f['time_to_fail']} s",
                f"- replaying the reproducer fails: {f['reproduces']}",
                f"- example database: **{f.get('saved', 'unknown')}**"]
        same = [d for d in f.get("duplicates") or () if not d.get("machine")]
        other = [d for d in f.get("duplicates") or () if d.get("machine")]
        if same:
            out.append("- the same shrunk trace was also found by " + ", ".join(
                f"worker {d['worker']} (seed {d['seed']})" for d in same))
        if other:
            out.append("- the same invariant was also broken on the other machine by " +
                       ", ".join(f"worker {d['worker']} ({d['machine']}, seed {d['seed']}, "
                                 f"reproducer `{d.get('reproducer')}`)" for d in other))
        if f["mutant"]:
            out.append(f"- planted bug `{f['mutant']}`; the trace passes without it: "
                       f"{f['passes_without_mutant']}")
        out += [f"- config: `{f['config']}`", "", "```", f["message_head"], "```", ""]
    return out


def _coverage(r: dict) -> list:
    steps = r["totals"]["steps"]
    per_op, per_block = r["coverage"]["per_op"], r["coverage"]["per_block"]
    hits = sum(per_block.values())
    out = ["", "## Path coverage", "",
           "Per op: how many ops took each path or met each situation; an op counts once "
           f"however many blocks it moved (% of the {steps:,} steps).", "",
           "| label | ops | % of steps |", "|---|---|---|"]
    out += [f"| {k} | {v:,} | {_pct(v, steps)} |" for k, v in per_op.items()]
    if (r["parameters"].get("tier") or "white-box") == "white-box":
        out += ["", "Per block: the fast model's own path counters, one count per block "
                f"(% of all {hits:,} counts).", "", "| path | blocks | % of counts |",
                "|---|---|---|"]
        out += [f"| {k} | {v:,} | {_pct(v, hits)} |" for k, v in per_block.items()]
        conc = r["coverage"].get("concurrent_per_block") or {}
        if conc:
            chits = sum(conc.values())
            out += ["", "Per block, the concurrent machine: the fast model's path counters "
                    f"(% of all {chits:,} counts).", "", "| path | blocks | % of counts |",
                    "|---|---|---|"]
            out += [f"| {k} | {v:,} | {_pct(v, chits)} |" for k, v in conc.items()]
        ran = [m for m, v in (r.get("machines") or {"lockstep": {"ran": True}}).items()
               if v.get("ran")]
        out += ["", f"Seed-design paths never reached by the machines that ran "
                f"({', '.join(ran)}): " +
                (", ".join(r["coverage"]["unreached_paths"]) or "none") + "."]
    else:
        out += ["", f"Per block and seed-design paths: not applicable ({r['parameters'].get('tier')} "
                "tier: the implementation reports no design paths; the labels above are the "
                "calls the harness made and what it observed)."]
    out += ["", "## Invariant checks", "",
            "Runs per key the oracle counts (a level, or an invariant ID). A burst op runs "
            "the per-op checks once per block, so runs per step can exceed 1.", "",
            "| check | runs | runs per step |", "|---|---|---|"]
    out += [f"| {k} | {v:,} | {v / steps if steps else 0:.3f} |"
            for k, v in r["checks"].items()]
    fs = r["behaviours"]["first_seen"]
    out += ["", "## Behaviours", "",
            f"{len(fs)} distinct `<op>:<label>` pairs. The last ten new ones:", "",
            "| behaviour | first reached (s) |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in list(fs.items())[-10:]]
    return out


def _database(db: dict) -> list:
    out = ["", "## Example database", ""]
    if not db["path"] and not db["shared"]:
        return out + ["**None** (`--db ''`): no failure of this run was saved; only the "
                      "reproducers keep them.", ""]
    out += [f"- `--db {db['path']}`: {db['entries_before']} entries before the run "
            f"({db['files_before']} files before, {db['files_after']} after, for a directory)",
            f"- saves confirmed: {db['saves']}; fell back to `--db-local {db['local']}`: "
            f"{db['fallback']}; **lost: {db['lost']}**",
            f"- examples kept for reaching a new behaviour (Hypothesis Pareto front, "
            f"`.pareto` keys): {db['pareto']} saves",
            f"- entries read back for replay: {db['fetched']}, of which {db['replayed']} "
            "before this run saved anything (left by earlier runs or other machines)"]
    if db["shared"]:
        out.append(f"- `--db-shared {db['shared']}`: read only, replayed after `--db`; "
                   f"{db['fetched_shared']} entries read")
    if db["corrupt"]:
        out += [f"- **{len(db['corrupt'])} corrupt entries** before the run (Hypothesis drops "
                "them when it next reads their key):", ""]
        out += [f"  - `{c}`" for c in db["corrupt"][:50]]
    if db["errors"]:
        out += ["", "Database errors:", ""] + [f"- {e}" for e in db["errors"]]
    if db["lost"] == 0:
        out += ["", "Saved failures are replayed first by the next run on the same database."]
    else:
        out += ["", "**Some saves were lost**: the failures above may not be replayed by the "
                "next run; keep their reproducers."]
    return out + [""]
