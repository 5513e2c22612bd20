"""``hakmem-fuzz merge-reports DIR...``: one report from the shards of one campaign.

When one machine's night is not enough, N machines run ``hakmem-fuzz run
--shard K/N --seed S`` (disjoint seeds, one shared Redis database) and this
command combines their ``report.json`` files: totals, path counts and check
runs summed (the concurrent machine's schedules, steps and races too); failures
deduplicated by (invariant ID, planted bug, Config,
shrunk trace); behaviours first reached at the earliest time any shard
reached them; the progress curves over the union (the shards are taken to
have started together, as a CI matrix does).  Exit status as for ``run``:
1 a failure in any shard, 3 a shard incomplete, 0 clean; 2 when a report
cannot be read, or when the reports are not distinct shards of one campaign (a report
given twice, or another --seed, --impl, --mutant or N).
"""
from __future__ import annotations

import bisect
import json
import os
import sys
from collections import Counter

from hakmem_verify.report import machines as runner_machines
from hakmem_verify.report import run as runner_report
from .campaign import Campaign


class MergeError(Exception):
    """A report that cannot be merged; the message names it."""


def load(directory: str) -> dict:
    path = os.path.join(directory, "report.json")
    try:
        with open(path) as f:
            report = json.load(f)
    except OSError as exc:
        raise MergeError(f"cannot read {path}: {exc.strerror}; give the report directories "
                         "of 'hakmem-fuzz run' (each holds a report.json)") from None
    except json.JSONDecodeError as exc:
        raise MergeError(f"{path} is not valid JSON ({exc}); was the run killed while "
                         "writing it?") from None
    if report.get("tool") != "hakmem-fuzz run":
        raise MergeError(f"{path} is not a 'hakmem-fuzz run' report")
    return report


#: run parameters every shard of one campaign shares
CAMPAIGN_KEYS = ("seed", "impl", "tier", "mutant", "machines")


def check_related(dirs: list, reports: list) -> None:
    """MergeError unless the reports are distinct shards of one campaign: no report given
    twice (the same directory, or the same run copied), one --seed, --impl, --tier,
    --mutant and machine set, every report a different shard K of one N."""
    seen = {}
    for d, r in zip(dirs, reports):
        p = r["parameters"]
        for key in (("directory", os.path.realpath(d)),
                    ("run", (p.get("seed"), str(p.get("shard")), r.get("started_at")))):
            if key in seen:
                raise MergeError(f"{d} and {seen[key]} are the same run (seed {p.get('seed')}, "
                                 f"started {r.get('started_at')}); give each shard's report "
                                 "once")
            seen[key] = d
    if len(reports) < 2:
        return
    p0, shards = reports[0]["parameters"], {}
    for d, r in zip(dirs, reports):
        p = r["parameters"]
        for k in CAMPAIGN_KEYS:
            if p.get(k) != p0.get(k):
                raise MergeError(f"{d} is not a shard of the campaign of {dirs[0]}: --{k} "
                                 f"{p.get(k)!r} there, {p0.get(k)!r} here; merge the shards of "
                                 "one campaign (one --seed, --impl, --mutant, --shard K/N)")
        shard = p.get("shard")
        if not shard:
            raise MergeError(f"{d} was not run with --shard K/N, so its seeds overlap the "
                             "others'; run each machine with --shard K/N and the same --seed")
        if shard[1] != (p0.get("shard") or shard)[1] or tuple(shard) in shards:
            other = shards.get(tuple(shard), dirs[0])
            raise MergeError(f"{d} (shard {shard[0]}/{shard[1]}) and {other} are not distinct "
                             "shards of one campaign; give each shard K of one N once")
        shards[tuple(shard)] = d


def _at(timeline, t: float, col: int):
    """Column ``col`` of the last sample at or before ``t``."""
    i = bisect.bisect_right([row[0] for row in timeline], t) - 1
    return timeline[i][col] if i >= 0 else 0


def merge(reports: list, out: str) -> dict:
    """The merged report dict (same schema as a run's report)."""
    first = reports[0]
    sums = {k: Counter() for k in ("per_op", "per_block", "checks", "db")}
    first_seen, failures, workers, incomplete, corrupt, errors = {}, [], [], [], [], []
    for n, r in enumerate(reports):
        shard = r["parameters"].get("shard")
        label = f"{shard[0]}/{shard[1]}" if shard else f"#{n + 1}"
        sums["per_op"].update(r["coverage"]["per_op"])
        sums["per_block"].update(r["coverage"]["per_block"])
        sums["checks"].update(r["checks"])
        sums["db"].update({k: v for k, v in r["database"].items() if isinstance(v, int)})
        corrupt += [f"{label}: {c}" for c in r["database"]["corrupt"]]
        errors += [f"{label}: {e}" for e in r["database"]["errors"]]
        for b, t in r["behaviours"]["first_seen"].items():
            first_seen[b] = min(t, first_seen.get(b, t))
        workers += [dict(w, index=f"{label}:{w['index']}") for w in r["workers"]]
        incomplete += [f"shard {label}: {why}" for why in r["incomplete"]]
        for f in r["failures"]:
            key = Campaign.failure_key(f)
            known = next((k for k in failures if Campaign.failure_key(k) == key), None)
            if known is not None and f.get("trace"):
                known["duplicates"] = known.get("duplicates", []) + \
                    [{"worker": f"{label}:{f['worker']}", "seed": f["seed"]}] + \
                    f.get("duplicates", [])
            else:
                failures.append(dict(f, worker=f"{label}:{f['worker']}"))
    times = sorted({row[0] for r in reports for row in r["timeline"]})
    ftimes = sorted(first_seen.values())
    timeline = [[t, sum(_at(r["timeline"], t, 1) for r in reports),
                 sum(_at(r["timeline"], t, 2) for r in reports),
                 bisect.bisect_right(ftimes, t)] for t in times]
    elapsed = max(r["elapsed_s"] for r in reports)
    conc_paths = runner_machines.concurrent_paths(workers)
    steps = sum(r["totals"]["steps"] for r in reports)
    last_new = max(first_seen.values(), default=None)
    status = "failures" if failures else "incomplete" if incomplete else "clean"
    params = dict(first["parameters"], workers=len(workers), shard=None, report=out)
    params["merged_from"] = [f"{r['parameters']['report']} (shard "
                             f"{r['parameters'].get('shard') or '-'}, seed "
                             f"{r['parameters']['seed']})" for r in reports]
    db = dict(first["database"], corrupt=corrupt, errors=errors[:10],
              **{k: sums["db"].get(k, 0) for k in ("saves", "fallback", "lost", "pareto",
                                                   "fetched", "fetched_shared", "replayed",
                                                   "entries_before", "files_before",
                                                   "files_after")})
    return {
        "tool": "hakmem-fuzz run", "merged": len(reports), "status": status,
        "exit_status": {"clean": 0, "failures": 1, "incomplete": 3}[status],
        "stop_reason": ", ".join(sorted({r["stop_reason"] for r in reports})),
        "incomplete": incomplete,
        "started_at": min(r["started_at"] for r in reports),
        "finished_at": max(r["finished_at"] for r in reports), "elapsed_s": elapsed,
        "parameters": params,
        "totals": {"examples": sum(r["totals"]["examples"] for r in reports), "steps": steps,
                   "steps_per_s": round(steps / elapsed, 1) if elapsed else 0.0},
        "workers": workers,
        "machines": runner_machines.machines_section(workers, params),
        "concurrent": runner_machines.concurrent_section(workers),
        "coverage": {"per_op": runner_report._sorted(sums["per_op"]),
                     "per_block": runner_report._sorted(sums["per_block"]),
                     "concurrent_per_block": runner_report._sorted(conc_paths),
                     "unreached_paths": runner_machines.unreached(
                         sums["per_op"], sums["per_block"], conc_paths)},
        "checks": dict(sorted(sums["checks"].items())),
        "behaviours": {"distinct": len(first_seen),
                       "first_seen": dict(sorted(first_seen.items(),
                                                 key=lambda kv: (kv[1], kv[0]))),
                       "last_new_s": last_new,
                       "since_last_new_s": round(elapsed - last_new, 2)
                       if last_new is not None else None},
        "timeline": timeline, "failures": failures, "promoted": None, "database": db,
        "plots": None,
    }


def main(dirs, out: str) -> int:
    """Merge the reports in ``dirs`` into ``out``; returns the exit status."""
    try:
        reports = [load(d) for d in dirs]
        check_related(dirs, reports)
    except MergeError as exc:
        sys.stderr.write(f"hakmem-fuzz merge-reports: {exc}\n")
        return 2
    merged = merge(reports, out)
    try:
        paths = runner_report.write(merged, out)
    except OSError as exc:
        sys.stderr.write(f"hakmem-fuzz merge-reports: cannot write into {out}: {exc}; choose "
                         "another directory with --out DIR\n")
        return 2
    print(f"merged {len(reports)} reports: " + ", ".join(dirs))
    print(runner_report.summary(merged, paths))
    return merged["exit_status"]
