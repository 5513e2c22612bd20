"""The report of ``hakmem-fuzz compare``: the summary of each cell (workload, threads,
allocator), report.json, report.md, report.html and one bar plot per metric."""
from __future__ import annotations

import json
import os
import statistics

#: the seed design's performance claim, quoted from docs/DESIGN-SUMMARY.md ("The goal")
CLAIM = dict(source="docs/DESIGN-SUMMARY.md, \"The goal\"",
             text="The note measures the current allocator at **83 ns per operation** and "
                  "targets **40-50 ns** (a 40-52 % improvement)",
             baseline=83.0, target=(40.0, 50.0))
#: (metric, label, file, scale of the plotted values)
PLOTS = (("ns_per_op", "ns per op", "ns_per_op.png", 1.0),
         ("peak_rss_kb", "peak RSS (MiB)", "peak_rss.png", 1 / 1024))
OTHER_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink",
                 "tab:gray", "tab:olive", "tab:cyan")


def _f(x, nd=1) -> str:
    """x with thousands separators and ``nd`` decimals; ``-`` for None."""
    return "-" if x is None else f"{x:,.{nd}f}"


def _mops(x):
    """Ops per second as millions (None stays None)."""
    return None if x is None else x / 1e6


def _mib(kb):
    """KiB as MiB (None stays None)."""
    return None if kb is None else kb / 1024


def spread(values) -> tuple:
    """(min, median, max) of the values that are not None, or (None, None, None)."""
    v = [x for x in values if x is not None]
    return (min(v), statistics.median(v), max(v)) if v else (None, None, None)


def cells(report: dict) -> list:
    """One summary per (workload, threads, allocator): the spreads of the clean runs, and
    the verdict ('clean', or the checks that failed, by name)."""
    groups = {}
    for r in report["runs"]:
        groups.setdefault((r["workload"], r["threads"], r["impl"]), []).append(r)
    out = []
    for (w, t, n), rs in groups.items():
        clean = [r for r in rs if r["status"] == 0]
        failed = list(dict.fromkeys(r["check"] or ("?" if r["status"] == 1 else "UNUSABLE")
                                    for r in rs if r["status"]))
        out.append(dict(workload=w, threads=t, impl=n, done=len(rs), clean=len(clean),
                        verdict=", ".join(failed) if failed else "clean",
                        ns_per_op=spread(r["ns_per_op"] for r in clean),
                        ops_per_s=spread(r["ops_per_s"] for r in clean),
                        peak_rss_kb=spread(r["peak_rss_kb"] for r in clean)))
    return out


def write(directory: str, report: dict) -> list:
    """Write the plots and the three report files; the paths written."""
    os.makedirs(directory, exist_ok=True)
    report["cells"] = cells(report)
    report["plots"], report["plot_note"] = plot(directory, report["cells"])
    from .explore import to_html
    md = markdown(report)
    files = [os.path.join(directory, p) for p in report["plots"]]
    for name, text in (("report.json", json.dumps(report, indent=1)), ("report.md", md),
                       ("report.html", to_html(md, "hakmem allocator comparison"))):
        path = os.path.join(directory, name)
        with open(path, "w") as f:
            f.write(text)
        files.append(path)
    return files


def _ms(t: tuple, scale=lambda x: x, nd=1) -> str:
    lo, med, hi = (None if x is None else scale(x) for x in t)
    return "-" if med is None else f"{_f(med, nd)} ({_f(lo, nd)}..{_f(hi, nd)})"


def _loadavg(v) -> str:
    return "?" if not v else " ".join(f"{x:.2f}" for x in v)


def markdown(report: dict) -> str:
    p, m, cs = report["parameters"], report["machine"], report["cells"]
    names = [i["name"] for i in report["impls"]]
    out = ["# Allocators compared on the stress workloads", "",
           f"**Status: {report['status']}**, {len(report['runs'])} of {report['planned']} "
           f"runs. Command: `{report['command']}`.", "",
           f"Machine: {m['cpus']} CPUs ({m['cpu'] or 'unknown model'}), {m['platform']}, "
           f"{m['libc']}; load average {_loadavg(m['load_before'])} before, "
           f"{_loadavg(m.get('load_after'))} after; started {m['started']}.", "",
           f"Parameters: {p['ops']:,} alloc + free calls per run, {p['runs']} runs per cell "
           f"(seeds {p['seed']}..{p['seed'] + p['runs'] - 1}), threads "
           f"{', '.join(map(str, p['threads']))}, sizes up to {p['max_size']} B, "
           f"{p['timeout']:g} s per run before a HANG.", "",
           "| allocator | spec | library |", "|---|---|---|"]
    out += [f"| {i['name']} | `{i['spec']}` | `{i['path']}` |" for i in report["impls"]]
    out += [f"| (skipped) | `{x['spec']}` | {x['reason']} |" for x in report["missing"]]
    if report.get("skipped"):
        out += ["", "Not run: " + "; ".join(f"{x['workload']} at {x['threads']} thread(s) "
                                           f"({x['reason']})" for x in report["skipped"])
                + "."]
    findings = [r for r in report["runs"] if r["status"]]
    if findings:
        spec = {i["name"]: i["spec"] for i in report["impls"]}
        out += ["", "## Findings", "", "Runs that failed a check of the stress driver (the "
                "check's name first), each with the command that runs it again (its first "
                "run has the same seed).", "",
                "| allocator | workload | threads | seed | check | message | rerun |",
                "|---|---|---:|---:|---|---|---|"]
        out += [f"| {r['impl']} | {r['workload']} | {r['threads']} | {r['seed']} | "
                f"**{r['check'] or ('UNUSABLE' if r['status'] != 1 else '?')}** | "
                f"{r['message'][:300].replace('|', '/')} | `hakmem-fuzz compare --impl "
                f"{spec.get(r['impl'], r['impl'])} --workload {r['workload']} --threads "
                f"{r['threads']} --seed {r['seed']} --ops {p['ops']} --max-size "
                f"{p['max_size']}` |" for r in findings]
    out += ["", "## The design's claim beside the measurements", "",
            f"{CLAIM['source']}: \"{CLAIM['text']}\".", "",
            f"Median ns/op at {min(p['threads'])} thread(s) (or the fewest a workload runs "
            "on), per workload. The driver's ns/op is a run's wall time (from the start of "
            "the workload to the end of its clean-up, the library already loaded) divided "
            "by the allocator calls it made, so it includes the driver's own work (tag "
            "writes and checks, the workload's bookkeeping), the same for every allocator. "
            "The claim's numbers come from the seed design's own benchmark: compare the "
            "allocators with each other, and read the claim as a scale.", ""]
    by = {(c["workload"], c["threads"], c["impl"]): c for c in cs}
    t0 = min(p["threads"])
    out += ["| workload | claim: seed baseline | claim: seed target | " + " | ".join(names)
            + " |", "|---|---:|---:|" + "---:|" * len(names)]
    for w in p["workloads"]:
        tw = min((c["threads"] for c in cs if c["workload"] == w), default=t0)
        label = w if tw == t0 else f"{w} ({tw} threads)"
        out.append(f"| {label} | {CLAIM['baseline']:g} | "
                   + "{:g}-{:g}".format(*CLAIM["target"]) + " | "
                   + " | ".join(_f(by[(w, tw, n)]["ns_per_op"][1]) if (w, tw, n) in by
                                else "-" for n in names) + " |")
    out += ["", "## Every cell", "",
            "ns/op (as above), M ops/s (allocator calls per second) and peak RSS (MiB: the "
            "driver process's maximum resident set, its own bookkeeping included) are "
            "median (min..max) over the clean runs of the cell; runs: clean runs of those "
            "done; verdict: clean, or the checks that failed (STRESS-TAG: a block handed "
            "out while live; STRESS-OVERWRITE: a live block changed; CRASH, ABORT, HANG: "
            "the driver died or was killed; the driver's header lists them all).", ""]
    if report["plot_note"]:
        out += [f"**Plots:** {report['plot_note']}", ""]
    for _, label, png, _ in PLOTS:
        if png in report["plots"]:
            out += [f"![{label} by workload and threads, one bar per allocator]({png})", ""]
    out += ["| workload | threads | allocator | ns/op | M ops/s | peak RSS MiB | runs | "
            "verdict |", "|---|---:|---|---:|---:|---:|---:|---|"]
    for c in cs:
        v = c["verdict"] if c["verdict"] == "clean" else f"**{c['verdict']}**"
        out.append(f"| {c['workload']} | {c['threads']} | {c['impl']} | "
                   f"{_ms(c['ns_per_op'])} | {_ms(c['ops_per_s'], _mops, 2)} | "
                   f"{_ms(c['peak_rss_kb'], _mib)} | {c['clean']}/{c['done']} | {v} |")
    return "\n".join(out) + "\n"


def plot(directory: str, cs: list) -> tuple:
    """ns/op and peak RSS: one panel per workload, thread counts on x, one bar per
    allocator at its median with min..max error bars.  (files, note)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        return [], (f"not drawn: matplotlib is not installed ({e}); install the extra: "
                    f".venv/bin/pip install -e '.[report]'")
    if not cs:
        return [], "not drawn: no run finished"
    ws = list(dict.fromkeys(c["workload"] for c in cs))
    names = list(dict.fromkeys(c["impl"] for c in cs))
    others = iter(OTHER_COLOURS * len(names))
    colours = {n: "tab:red" if n == "native" else next(others) for n in names}
    by = {(c["workload"], c["threads"], c["impl"]): c for c in cs}
    files = []
    for metric, label, png, scale in PLOTS:
        ncol = min(4, len(ws))
        nrow = -(-len(ws) // ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.9 * nrow), squeeze=False)
        width = 0.8 / len(names)
        for ax, w in zip(axes.flat, ws):
            ts = sorted({c["threads"] for c in cs if c["workload"] == w})
            for j, n in enumerate(names):
                xs, meds, lo, hi = [], [], [], []
                for x, t in enumerate(ts):
                    c = by.get((w, t, n))
                    xpos = x + (j - len(names) / 2 + 0.5) * width
                    if c and c["verdict"] != "clean":     # a finding: marked, bar or not
                        top = (c[metric][2] or 0) * scale
                        ax.text(xpos, top, "X", color="red", ha="center", va="bottom",
                                fontweight="bold")
                    if not c or c[metric][1] is None:
                        continue
                    a, m, b = (v * scale for v in c[metric])
                    xs.append(xpos)
                    meds.append(m)
                    lo.append(m - a)
                    hi.append(b - m)
                ax.bar(xs, meds, width, yerr=[lo, hi], capsize=2, color=colours[n], label=n,
                       error_kw=dict(lw=0.8))
            if metric == "ns_per_op":
                ax.axhspan(*CLAIM["target"], color="green", alpha=0.15,
                           label="seed target 40-50 ns/op")
                ax.axhline(CLAIM["baseline"], color="grey", ls="--", lw=0.8,
                           label="seed baseline 83 ns/op")
            ax.set_xticks(range(len(ts)), [f"{t} thr" for t in ts])
            ax.set_title(w, fontsize=9)
            ax.tick_params(labelsize=7)
            ax.grid(True, axis="y", alpha=0.3)
        for ax in list(axes.flat)[len(ws):]:
            ax.axis("off")
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 7), fontsize=8,
                   frameon=False)
        fig.suptitle(f"{label}: median of the clean runs, bars min..max "
                     f"(X: a run failed a check)", fontsize=10)
        fig.tight_layout(rect=(0, 0.07, 1, 0.96))
        fig.savefig(os.path.join(directory, png), dpi=80)
        plt.close(fig)
        files.append(png)
    return files, ""
