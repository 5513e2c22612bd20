"""Progress plots and the HTML page of a ``hakmem-fuzz run`` report.

``make`` draws ``progress.png`` from the report's timeline: steps run, distinct
behaviours reached, and the time since the last new behaviour, against
elapsed time (the curves fuzzing users read first: is it still finding new
things, or has it plateaued?).  matplotlib is an optional extra
(``pip install -e '.[report]'``); without it the report says so and keeps its
tables.  ``html`` renders the report's own Markdown as a standalone page.
"""
from __future__ import annotations

import html as html_mod
import os
import re

PNG = "progress.png"


def series(timeline, first_seen: dict, points: int = 400) -> dict:
    """The three curves: steps (the timeline's samples), distinct behaviours (exact, from
    the first-seen times) and seconds since the last new behaviour (a sawtooth on a grid
    of ``points`` instants up to the end)."""
    times = sorted(first_seen.values())
    end = timeline[-1][0] if timeline else 0.0
    grid = [end * i / (points - 1) for i in range(points)]
    since, j, last = [], 0, 0.0
    for el in grid:
        while j < len(times) and times[j] <= el:
            last = times[j]
            j += 1
        since.append(el - last)
    return {"t": [row[0] for row in timeline], "steps": [row[2] for row in timeline],
            "bt": [0.0] + times + [end], "behaviours": list(range(len(times) + 1)) +
            [len(times)], "grid": grid, "since_new": since}


def make(report: dict, directory: str) -> dict:
    """Write the progress plot into directory; {"files": [...]} or {"files": [], "note"}."""
    timeline = report.get("timeline") or []
    if len(timeline) < 2:
        return {"files": [], "note": "fewer than two progress samples (a very short run)"}
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {"files": [], "note": "matplotlib is not installed; "
                "install the extra: .venv/bin/pip install -e '.[report]'"}
    s = series(timeline, report["behaviours"]["first_seen"])
    fig, axes = plt.subplots(3, 1, figsize=(8, 7.5), sharex=True)
    panels = (("t", "steps", "steps run", "tab:blue"),
              ("bt", "behaviours", "distinct behaviours", "tab:green"),
              ("grid", "since_new", "s since last new\nbehaviour", "tab:red"))
    for ax, (x, y, label, colour) in zip(axes, panels):
        if y == "since_new":
            ax.plot(s[x], s[y], color=colour)
        else:
            ax.step(s[x], s[y], where="post", color=colour)
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    axes[-1].set_xlabel("elapsed (s)")
    p = report["parameters"]
    shard = f", shard {p['shard'][0]}/{p['shard'][1]}" if p.get("shard") else ""
    axes[0].set_title(f"hakmem-fuzz run: {report['status']}, seed {p['seed']}{shard}, "
                      f"{p['workers']} workers")
    fig.tight_layout()
    path = os.path.join(directory, PNG)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return {"files": [PNG]}


# ============================================================================
# HTML: the report's Markdown, rendered (headings, tables, lists, code, images)
# ============================================================================


def _inline(text: str) -> str:
    text = html_mod.escape(text, quote=False)
    text = re.sub(r"`([^`]*)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)


def _wrap_lists(parts: list) -> list:
    """Put each run of <li> elements inside one <ul>."""
    out, open_ = [], False
    for p in parts:
        if p.startswith("<li>") != open_:
            out.append("<ul>" if not open_ else "</ul>")
            open_ = not open_
        out.append(p)
    return out + (["</ul>"] if open_ else [])


def html(md: str, report: dict) -> str:
    """A standalone HTML page of the Markdown report (the plots as <img>)."""
    out, lines, i = [], md.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            out.append("<pre>" + html_mod.escape("\n".join(lines[i + 1:j])) + "</pre>")
            i = j + 1
            continue
        if line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                if not set(lines[i]) <= set("|-: "):
                    rows.append([c.strip() for c in lines[i].strip("|").split("|")])
                i += 1
            out.append("<table>" + "".join(
                "<tr>" + "".join(f"<{'th' if k == 0 else 'td'}>{_inline(c)}"
                                 f"</{'th' if k == 0 else 'td'}>" for c in row) + "</tr>"
                for k, row in enumerate(rows)) + "</table>")
            continue
        m = re.match(r"!\[([^\]]*)\]\(([^)]*)\)", line)
        if m:
            out.append(f'<img alt="{html_mod.escape(m[1])}" src="{html_mod.escape(m[2])}">')
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{_inline(line[level:].strip())}</h{level}>")
        elif line.lstrip().startswith("- "):
            out.append(f"<li>{_inline(line.lstrip()[2:])}</li>")
        elif line.strip():
            out.append(f"<p>{_inline(line)}</p>")
        i += 1
    out = _wrap_lists(out)
    title = html_mod.escape(f"hakmem-fuzz run: {report['status']}")
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;"
             "text-align:left}pre{background:#f4f4f4;padding:6px;overflow-x:auto}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{title}</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n")
