"""The design-space report of ``hakmem-fuzz explore``: report.json, report.md, report.html, PNGs.

``build`` turns the runs (one ``hakmem_verify.workloads.design_space.measure`` dict per workload and
setting) into the claims table; ``write`` saves the JSON, the Markdown, an
HTML rendering of the same Markdown and the plots (matplotlib, the
``[report]`` extra; without it the report says so and has tables only).
"""
from __future__ import annotations

import html
import json
import os
import re

from hakmem_verify.workloads.design_space import HOT_PATH, LABEL, ROUTES, STAGES

HOT_PATH_CLAIM = 90.0       # % of allocs on the hot path for the claim to hold (see below)


def _pct(n, d) -> float:
    return 100.0 * n / d if d else 0.0


def _fmt(x, nd=1) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def _hot_share(run: dict) -> float:
    """The share in % of the run's allocs that the hot path (``HOT_PATH``) served."""
    return _pct(sum(run["stages"].get(k, 0) for k in HOT_PATH), run["allocs"])


def fragmentation(run: dict):
    """(live bytes, slab bytes per live byte) at the sample with the most live bytes."""
    s = max(run["series"], key=lambda s: s["live_bytes"], default=None)
    if not s or not s["live_bytes"]:
        return 0, None
    return s["live_bytes"], s["slabs"] * run["slab_size"] / s["live_bytes"]


def claims(runs: list) -> list:
    """The design's claims as rows with a measured verdict, per workload (seed Config)."""
    rows = []
    for r in runs:
        if r["setting"] != "seed":
            continue
        w = r["workload"]
        hot = _hot_share(r)
        rows.append(dict(workload=w, claim="the hot path (thread magazine + mini-magazine) "
                         f"serves most allocs (>= {HOT_PATH_CLAIM:.0f}%)",
                         measured=f"{hot:.1f}% of {r['allocs']:,} allocs",
                         verdict="holds" if hot >= HOT_PATH_CLAIM else "fails"))
        e = r["stats_error"]
        errs = sorted(x["total_error"] for x in r["series"])
        last = e["last_over_1pct"]
        settle = ("never above 1%" if last is None else
                  f"settles below 1% from op {last + 1:,}" if last < r["ops"] else
                  "still above 1% at the last op")
        rows.append(dict(workload=w, claim="reported statistics within 1% of exact (99.6%), "
                         "at every op", measured=f"above 1% during {e['ops_over_1pct']:,} of "
                         f"{r['ops']:,} ops; median {errs[len(errs) // 2]:.1f}%, max "
                         f"{e['max_total']:.0f}% (all classes); {settle}",
                         verdict="fails" if e["ops_over_1pct"] else "holds"))
        gate = 100 * max(1, r["threads_peak"]) * (r["config"]["flush_interval"] - 1)
        g = e["max_worst_gated"]
        rows.append(dict(workload=w, claim="... once a class has counted >= 100 x the pending "
                         "bound (threads x (flush_interval - 1)) events (STAT-03)",
                         measured=f"no class reached {gate:,} events" if g is None
                         else f"max error {g:.3f}% in such classes",
                         verdict="not reached" if g is None else
                         "holds" if g <= 1.0 else "fails"))
        rows.append(dict(workload=w, claim="free blocks cached in magazines and mini-magazines "
                         "are bounded (threads x classes x magazine_capacity + slabs x "
                         "mini_mag_capacity)",
                         measured=f"peak {r['peak_cached']:,} of bound "
                         f"{r['stranded_bound']:,} (and up to {r['peak_remote']:,} on remote "
                         f"stacks); peak live {max_live(r):,}",
                         verdict="holds" if r["peak_cached"] <= r["stranded_bound"]
                         else "fails"))
    return rows


def max_live(run: dict) -> int:
    return max((s["live"] for s in run["series"]), default=0)


def _share_tables(workloads, by_w, field, total, paths, last_col, last_cell) -> list:
    """Markdown lines: for each workload a table with a row per setting's run, holding the
    run's ``total`` count (``allocs`` or ``frees``), the share in % of it of each path
    in ``paths`` (counted in ``run[field]``), then a column ``last_col`` whose cell is
    ``last_cell(run)``."""
    out = []
    for w in workloads:
        out += [f"**{w}**", "", f"| setting | {total} | " + " | ".join(LABEL[k] for k in paths)
                + f" | {last_col} |", "|---|---:|" + "---:|" * (len(paths) + 1)]
        for r in by_w[w]:
            cells = [_fmt(_pct(r[field].get(k, 0), r[total])) for k in paths]
            out.append(f"| {r['setting']} | {r[total]:,} | " + " | ".join(cells)
                       + f" | {last_cell(r)} |")
        out.append("")
    return out


def _section(out: list, img, title: str, text: str, plots, header=()) -> None:
    """Append a section of the report to ``out``: the heading ``## title``, the paragraph
    ``text``, the plots of ``plots`` ((file, alt text) pairs; ``img`` adds each one that was
    drawn) and the lines of ``header`` (the head of the section's table)."""
    out.extend([f"## {title}", "", text, ""])
    for name, alt in plots:
        img(name, alt)
    out.extend(header)


def markdown(report: dict) -> str:
    p, runs = report["parameters"], report["runs"]
    workloads = list(dict.fromkeys(r["workload"] for r in runs))
    by_w = {w: [r for r in runs if r["workload"] == w] for w in workloads}
    plots = set(report["plots"])
    out = ["# Design-space report: the tiny pool's paths per workload and knob setting", "",
           f"Workloads {', '.join(workloads)} at scale {p['scale']}, seed {p['seed']}, "
           f"threads {p['threads'] or 'as generated'}; {len(p['settings'])} settings: "
           + "; ".join(p["settings"]) + f". Fast model only (no oracle), "
           f"{p['samples']} samples per run. Generated by `hakmem-fuzz explore`.", ""]
    if report.get("plot_note"):
        out += [f"**Plots:** {report['plot_note']}", ""]

    def img(name, alt):
        if name in plots:
            out.extend([f"![{alt}]({name})", ""])

    out += ["## The design's claims, measured (seed Config)", "",
            "| workload | claim | measured | verdict |", "|---|---|---|---|"]
    out += [f"| {c['workload']} | {c['claim']} | {c['measured']} | **{c['verdict']}** |"
            for c in report["claims"]]
    out += ["", f"The seed gives no number for the hot path's share; {HOT_PATH_CLAIM:.0f}% is "
            "this report's reading of \"the hot path serves the common case\".", ""]

    _section(out, img, "Which stage serves an alloc",
             "Shares in % of the run's allocs. Thread magazine and mini-magazine are the hot "
             "path; refill is a batch scan of the slab's bitmap; slow path drains remote "
             "stacks, refills the thread magazine or adopts a partial slab.",
             [("alloc_stages.png", "share of allocs per stage, per workload and setting")])
    out += _share_tables(workloads, by_w, "stages", "allocs", STAGES, "hot path",
                         lambda r: f"{_hot_share(r):.1f}")

    _section(out, img, "Which route a free takes",
             "Shares in % of the client's frees: into the freeing thread's magazine, back to "
             "the slab (local: magazine full or slab not owned), or onto the owner's remote "
             "stack. Blocks a thread's magazines return when it exits are counted apart.",
             [("free_routes.png", "share of frees per route")])
    out += _share_tables(workloads, by_w, "routes", "frees", ROUTES,
                         "blocks returned at thread exit",
                         lambda r: f"{sum(r['exit_routes'].values()):,}")

    _section(out, img, "Blocks stranded in caches, against live blocks",
             "Free blocks no other thread can use: in thread magazines, in mini-magazines, on "
             "remote stacks until the owner drains them. The black line is the live blocks "
             "of the seed run; a coloured line above it means the caches hold more free "
             "blocks than the program holds live ones.",
             [(f"stranded_{_slug(w)}.png", f"stranded vs live blocks over time, {w}")
              for w in workloads],
             ["| workload | setting | peak stranded | peak live | bound | magazine / mini-mag "
              "/ remote at the peak |", "|---|---|---:|---:|---:|---|"])
    for r in runs:
        s = max(r["series"], key=lambda s: s["magazine"] + s["mini_mag"] + s["remote"])
        out.append(f"| {r['workload']} | {r['setting']} | {r['peak_stranded']:,} | "
                   f"{max_live(r):,} | {r['stranded_bound']:,} | {s['magazine']:,} / "
                   f"{s['mini_mag']:,} / {s['remote']:,} |")

    out.append("")
    _section(out, img, "Memory: slabs in use per live byte, and the peak",
             "Slab bytes per requested live byte at the moment the live bytes peak: 1 would "
             "be no overhead; class rounding, partly used slabs and cached blocks add to it.",
             [("memory.png", "peak memory and slab bytes per live byte")],
             ["| workload | setting | peak slabs | peak memory (KiB) | live bytes at their "
              "peak | slab bytes per live byte there |", "|---|---|---:|---:|---:|---:|"])
    for r in runs:
        lb, ratio = fragmentation(r)
        out.append(f"| {r['workload']} | {r['setting']} | {r['peak_slabs']:,} | "
                   f"{r['peak_bytes'] // 1024:,} | {lb:,} | {_fmt(ratio)} |")

    out += [""] + memory_panel(runs, img)
    out.append("")
    _section(out, img, "Reported statistics against exact",
             "The error is |reported - exact| / exact over all classes, allocs and frees, "
             "after every op (plots: at the samples, log scale). Each thread batches up to "
             "flush_interval - 1 events per class before they reach the reported counters; "
             "a thread exit flushes its batch.",
             [(f"stats_error_{_slug(w)}.png", f"statistics error over time, {w}")
              for w in workloads],
             ["| workload | setting | max error % (all classes) | max error % (worst class) "
              "| error % at the end | ops > 1% | intervals > 1% (ops) |",
              "|---|---|---:|---:|---:|---:|---|"])
    for r in runs:
        e = r["stats_error"]
        iv = ", ".join(f"{a:,}-{b:,}" for a, b in e["intervals"][:4])
        more = f" (+{len(e['intervals']) - 4} more)" if len(e["intervals"]) > 4 else ""
        out.append(f"| {r['workload']} | {r['setting']} | {e['max_total']:.2f} | "
                   f"{e['max_worst']:.2f} | {e['end_total']:.2f} | {e['ops_over_1pct']:,} | "
                   f"{iv or '-'}{more} |")
    out += ["", "## Path counters of each run (the numbers above come from these)", "",
            "| workload | setting | ops | s | " + " | ".join(sorted(runs[0]["path_counts"]))
            + " |", "|---|---|---:|---:|" + "---:|" * len(runs[0]["path_counts"])]
    for r in runs:
        out.append(f"| {r['workload']} | {r['setting']} | {r['ops']:,} | {r['seconds']:.2f} | "
                   + " | ".join(str(r["path_counts"][k]) for k in sorted(r["path_counts"]))
                   + " |")
    return "\n".join(out) + "\n"


def _kib(n) -> str:
    return f"{n // 1024:,}"


def _kib1(n) -> str:
    """KiB with one decimal (live bytes, often below 1 KiB at a peak)."""
    return f"{n / 1024:,.1f}"


def memory_panel(runs: list, img=lambda name, alt: None) -> list:
    """The Markdown lines of the memory panel: reserved bytes against live bytes per run
    (``hakmem_verify.workloads.design_space.measure``'s ``memory``), and whether memory comes back."""
    out = ["## Memory over time: bytes reserved by the pool against live bytes", "",
           "Reserved: the slabs in use x slab_size (per-slab mode; a released slab is not "
           "counted), or the SuperSlabs mapped and not returned to the OS, the pooled ones "
           "included, x superslab_size (SuperSlab mode); read after every op. Live: the "
           "class sizes of the live blocks (`usable_size`), so class rounding is not "
           "counted as overhead. \"Reserved / live at the peak\" is the OOM risk: the "
           "bytes reserved per live byte at the op where the reserved bytes first reach "
           "their peak (peak reserved / peak live is the gentler reading); \"at the end\" is "
           "after the workload's last op. After the workload every block still live is "
           "freed (from tid 0) and the allocator quiesced; memory comes back when what stays reserved is at "
           "most what the mode keeps (per-slab: nothing; SuperSlab: superslab_pool_max "
           "empty SuperSlabs).", ""]
    for w in dict.fromkeys(r["workload"] for r in runs):
        img(f"memory_over_time_{_slug(w)}.png", f"reserved and live bytes over time, {w}")
    out += ["| workload | setting | mode | peak reserved (KiB) | at op | live there (KiB) | "
            "reserved / live at the peak | peak live (KiB) | peak reserved / peak live | "
            "reserved at the end (KiB) | live at the end (KiB) | reserved / live at the "
            "end | reserved after free-all + quiesce (KiB) | "
            "kept by the mode (KiB) | memory comes back | new_slab / slab_release / "
            "ss_map / ss_unmap |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
            "---:|---:|---:|---|---|"]
    for r in runs:
        m = r["memory"]
        c = m["counters"]
        out.append(f"| {r['workload']} | {r['setting']} | {m['mode']} | "
                   f"{_kib(m['peak_reserved'])} | {m['peak_op']:,} | "
                   f"{_kib1(m['live_at_peak'])} | {_fmt(m['ratio_at_peak'])} | "
                   f"{_kib1(m['peak_live'])} | {_fmt(m['peak_ratio'])} | "
                   f"{_kib(m['final_reserved'])} | {_kib1(m['final_live'])} | "
                   f"{_fmt(m['ratio_final'])} | {_kib(m['reserved_after'])} | "
                   f"{_kib(m['kept_bound'])} | {m['verdict']} | {c['new_slab']} / "
                   f"{c['slab_release']} / {c['ss_map']} / {c['ss_unmap']} |")
    bad = [r for r in runs if r["memory"]["snapshot_mismatches"]]
    if bad:
        out += ["", "**Warning:** the reserved bytes from the path counters disagree with "
                "a complete snapshot in " + ", ".join(f"{r['workload']} {r['setting']}"
                                                      for r in bad) + "."]
    return out


def to_html(md: str, title: str) -> str:
    """HTML of the Markdown subset ``markdown`` writes (headings, tables, images, text)."""
    def inline(t):
        t = html.escape(t, quote=False)
        t = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", t)
        return re.sub(r"`(.+?)`", r"<code>\1</code>", t)
    body, table = [], []

    def flush():
        if table:
            rows = [r for r in table if not re.match(r"^\|[-:|]+\|$", r)]
            cells = [[c.strip() for c in r.strip("|").split(" | ")] for r in rows]
            body.append("<table><tr>" + "".join(f"<th>{inline(c)}</th>" for c in cells[0])
                        + "</tr>" + "".join("<tr>" + "".join(f"<td>{inline(c)}</td>"
                                                             for c in r) + "</tr>"
                                            for r in cells[1:]) + "</table>")
            table.clear()
    for line in md.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        m = re.match(r"^(#+) (.*)", line)
        img = re.match(r"^!\[(.*)\]\((.*)\)$", line)
        if m:
            n = len(m.group(1))
            body.append(f"<h{n}>{inline(m.group(2))}</h{n}>")
        elif img:
            body.append(f'<p><img src="{html.escape(img.group(2))}" '
                        f'alt="{html.escape(img.group(1))}" style="max-width:100%"></p>')
        elif line.strip():
            body.append(f"<p>{inline(line)}</p>")
    flush()
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            "</title><style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
            "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
            "padding:2px 6px;font-size:90%}</style></head><body>\n" + "\n".join(body)
            + "\n</body></html>\n")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def write(directory: str, report: dict) -> list:
    """Write the plots, report.json, report.md and report.html; the files written."""
    os.makedirs(directory, exist_ok=True)
    try:
        from .explore_plots import plot_all
        report["plots"] = plot_all(directory, report["runs"])
        report["plot_note"] = ""
    except ImportError as e:
        report["plots"] = []
        report["plot_note"] = (f"not drawn: matplotlib is not installed ({e}); install the "
                               "extra with `pip install -e '.[report]'` and run again")
    files = [os.path.join(directory, f) for f in report["plots"]]
    md = markdown(report)
    for name, text in (("report.json", json.dumps(report, indent=1, sort_keys=True)),
                       ("report.md", md), ("report.html", to_html(md, "hakmem design space"))):
        path = os.path.join(directory, name)
        with open(path, "w") as f:
            f.write(text)
        files.append(path)
    return files


__all__ = ["HOT_PATH_CLAIM", "claims", "fragmentation", "markdown", "memory_panel", "to_html",
           "write"]
