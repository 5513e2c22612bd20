"""PNG plots of the design-space report (matplotlib, the ``[report]`` extra).

Importing this module raises ImportError when matplotlib is missing; the
report is then written with its tables only.
"""
from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from hakmem_verify.workloads.design_space import LABEL, ROUTES, STAGES
from .explore import _slug, fragmentation

COLORS = plt.get_cmap("tab10").colors


def _workloads(runs):
    return list(dict.fromkeys(r["workload"] for r in runs))


def _shares(runs, keys, field, total, path):
    """Stacked horizontal bars: one panel per workload, one bar per setting."""
    ws = _workloads(runs)
    n_set = max(sum(r["workload"] == w for r in runs) for w in ws)
    fig, axes = plt.subplots(len(ws), 1, figsize=(9, 0.9 + (0.35 * n_set + 0.6) * len(ws)),
                             squeeze=False)
    for ax, w in zip(axes[:, 0], ws):
        rs = [r for r in runs if r["workload"] == w]
        left = [0.0] * len(rs)
        for j, k in enumerate(keys):
            vals = [100.0 * r[field].get(k, 0) / max(1, r[total]) for r in rs]
            ax.barh(range(len(rs)), vals, left=left, color=COLORS[j % 10], label=LABEL[k])
            left = [a + b for a, b in zip(left, vals)]
        ax.set_yticks(range(len(rs)), [r["setting"] for r in rs], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_title(w, fontsize=10, loc="left")
    axes[-1, 0].set_xlabel("% of " + total)
    axes[0, 0].legend(ncol=len(keys), fontsize=7, loc="lower left", bbox_to_anchor=(0, 1.15))
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _stranded(runs, w, path):
    fig, ax = plt.subplots(figsize=(9, 4))
    rs = [r for r in runs if r["workload"] == w]
    seed = rs[0]
    ax.plot([s["op"] for s in seed["series"]], [s["live"] for s in seed["series"]],
            color="black", lw=2, label="live blocks")
    for j, r in enumerate(rs):
        ax.plot([s["op"] for s in r["series"]],
                [s["magazine"] + s["mini_mag"] + s["remote"] for s in r["series"]],
                color=COLORS[j % 10], lw=1, label=f"stranded, {r['setting']}")
    ax.set_xlabel("op")
    ax.set_ylabel("blocks")
    ax.set_title(f"{w}: free blocks held in magazines, mini-magazines and remote stacks",
                 fontsize=10)
    _save(fig, ax, path)


def _memory(runs, path):
    labels = [f"{r['workload']} | {r['setting']}" for r in runs]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 0.6 + 0.22 * len(runs)), sharey=True)
    ws = _workloads(runs)
    colors = [COLORS[ws.index(r["workload"]) % 10] for r in runs]
    a1.barh(range(len(runs)), [r["peak_bytes"] / 1024 for r in runs], color=colors)
    a1.set_xlabel("peak memory in slabs (KiB)")
    a2.barh(range(len(runs)), [fragmentation(r)[1] or 0 for r in runs], color=colors)
    a2.set_xlabel("slab bytes per live byte (at peak live bytes)")
    a1.set_yticks(range(len(runs)), labels, fontsize=7)
    a1.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _memory_over_time(runs, w, path):
    """Reserved bytes per setting over the ops, the live bytes (class sizes) of each
    setting dashed, and the bytes still reserved after free-all + quiesce as a marker."""
    fig, ax = plt.subplots(figsize=(9, 4))
    rs = [r for r in runs if r["workload"] == w]
    for j, r in enumerate(rs):
        xs = [s["op"] for s in r["series"]]
        col = COLORS[j % 10]
        ax.step(xs, [s["reserved"] / 1024 for s in r["series"]], where="post", color=col,
                lw=1.5, label=f"reserved, {r['setting']} ({r['memory']['mode']})")
        ax.plot(xs, [s["live_class_bytes"] / 1024 for s in r["series"]], color=col, lw=1,
                ls="--", label=f"live, {r['setting']}")
        ax.plot([r["ops"] + max(1, r["ops"] // 50)], [r["memory"]["reserved_after"] / 1024],
                marker="o", color=col, ls="none")
    ax.set_xlabel("op (marker: reserved after free-all + quiesce)")
    ax.set_ylabel("KiB")
    ax.set_title(f"{w}: bytes reserved by the pool against live bytes", fontsize=10)
    _save(fig, ax, path)


def _stats_error(runs, w, path):
    fig, ax = plt.subplots(figsize=(9, 4))
    for j, r in enumerate(r for r in runs if r["workload"] == w):
        xs = [s["op"] for s in r["series"]]
        ax.plot(xs, [max(s["total_error"], 1e-3) for s in r["series"]], color=COLORS[j % 10],
                lw=1, label=r["setting"])
    ax.axhline(1.0, color="red", ls="--", lw=1, label="1% claim")
    ax.set_yscale("log")
    ax.set_xlabel("op")
    ax.set_ylabel("|reported - exact| / exact, % (all classes)")
    ax.set_title(f"{w}: reported statistics against exact", fontsize=10)
    _save(fig, ax, path)


def _save(fig, ax, path) -> None:
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_all(directory: str, runs: list) -> list:
    """Draw every plot into directory; their file names."""
    names = ["alloc_stages.png", "free_routes.png"]
    _shares(runs, STAGES, "stages", "allocs", os.path.join(directory, names[0]))
    _shares(runs, ROUTES, "routes", "frees", os.path.join(directory, names[1]))
    for w in _workloads(runs):
        for kind, draw in (("stranded", _stranded), ("stats_error", _stats_error),
                           ("memory_over_time", _memory_over_time)):
            name = f"{kind}_{_slug(w)}.png"
            draw(runs, w, os.path.join(directory, name))
            names.append(name)
    names.append("memory.png")
    _memory(runs, os.path.join(directory, names[-1]))
    return names
