"""The runner's report as Markdown (report.md, and the body of report.html): the
campaign, its machines and workers, the concurrent machine, failures, coverage of the
design's paths and the example database (``hakmem_verify.report.run`` builds the report)."""
from __future__ import annotations

from .machines import concurrent_markdown, worker_concurrent

EXIT_MEANING = {0: "clean: the full budget ran and nothing was found",
                1: "a failure was found", 2: "usage error or unusable environment",
                3: "interrupted or incomplete: the report covers what ran"}


def _pct(n, total) -> float:
    return round(100.0 * n / total, 2) if total else 0.0


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
            f"- implementation under test: `{p.get('impl') or 'hakmem_verify.models.fast:FastAllocator'}`, "
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
    out += _coverage(r) + _impl_coverage(r.get("impl_coverage") or {}) + _database(db)
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


def _impl_coverage(cov: dict) -> list:
    """The section on the implementation's own coverage (``hakmem_verify.runner.coverage``)."""
    if not cov:
        return []
    t = cov["totals"]
    def pct(a, b):
        return f"{100 * a / b:.1f}%" if b else "-"
    out = ["", "## Coverage of the implementation's own code", "",
           f"`{cov['source']}` (coverage.py, lines and branches; the statements run at "
           f"import count as reached): **{pct(t['reached'], t['statements'])} of "
           f"{t['statements']} lines, {pct(t['taken'], t['branches'])} of {t['branches']} "
           "branches**.", "",
           "| file | lines | branches | lines never reached |", "|---|---|---|---|"]
    out += [f"| {f['file']} | {pct(f['reached'], f['statements'])} | "
            f"{pct(f['taken'], f['branches'])} | {f['never_reached'] or '-'} |"
            for f in cov["files"]]
    return out
