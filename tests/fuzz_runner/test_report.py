"""The report: deduplicated failures, this run's reproducers only, plots and an HTML page."""
from __future__ import annotations

import json

from hakmem_verify.runner import run as runner
from hakmem_verify.runner.campaign import Campaign

from .helpers import hakmem_fuzz, load_report, run_args

QUICK_MUTANT = "active-a-equals-b"


def _failure(worker, seed, path, trace=("Alloc(size=8, tid=0)",)):
    return {"worker": worker, "inv_id": "OWN-01", "seed": seed, "mutant": QUICK_MUTANT,
            "config": "Config()", "trace": list(trace), "reproducer": str(path),
            "message": "[OWN-01] ...", "duplicates": []}


def test_two_workers_finding_the_same_shrunk_trace_report_it_once(tmp_path):
    params = runner.default_params(workers=3, seed=1, report=str(tmp_path))
    camp = Campaign(params)
    first, second, other = (tmp_path / f"test_repro_{i}.py" for i in range(3))
    for p in (first, second, other):
        p.write_text("# reproducer")
    camp.handle(("failure", 0, _failure(0, 1, first)))
    camp.handle(("failure", 1, _failure(1, 1000001, second)))
    camp.handle(("failure", 2, _failure(2, 2000001, other, trace=("Evict(tid=0, "
                                                                   "class_idx=0)",))))
    assert len(camp.failures) == 2
    assert camp.failures[0]["duplicates"] == [{"worker": 1, "seed": 1000001}]
    assert first.exists() and not second.exists() and other.exists()


def test_a_later_run_moves_the_earlier_reproducers_aside(tmp_path):
    bug = hakmem_fuzz(*run_args(tmp_path, "--mutant", QUICK_MUTANT, minutes="0.5"),
                      cwd=tmp_path)
    assert bug.returncode == 1
    repro_dir = tmp_path / "report" / "reproducers"
    assert list(repro_dir.glob("test_repro_*.py"))
    clean = hakmem_fuzz(*run_args(tmp_path, minutes="0.05"), cwd=tmp_path)
    assert clean.returncode == 0, clean.stderr
    assert not repro_dir.exists() or not list(repro_dir.iterdir())
    assert list((tmp_path / "report" / "reproducers.previous").glob("test_repro_*.py"))
    assert "moved the previous run's reproducers" in clean.stderr


def test_the_report_has_per_op_and_per_block_counts_plots_and_an_html_page(tmp_path):
    proc = hakmem_fuzz(*run_args(tmp_path, minutes="0.1"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    r = load_report(tmp_path)
    per_op, per_block = r["coverage"]["per_op"], r["coverage"]["per_block"]
    assert all(v <= r["totals"]["steps"] for v in per_op.values())
    assert sum(per_block.values()) >= max(per_op.values())
    b = r["behaviours"]
    assert b["distinct"] == len(b["first_seen"]) > 10
    assert all(":" in k for k in b["first_seen"])
    assert r["timeline"][0] == [0.0, 0, 0, 0] and r["timeline"][-1][2] == r["totals"]["steps"]
    md = (tmp_path / "report" / "report.md").read_text()
    assert "| label | ops | % of steps |" in md and "| path | blocks | % of counts |" in md
    html = (tmp_path / "report" / "report.html").read_text()
    assert "<table>" in html and "Path coverage" in html
    try:
        import matplotlib  # noqa: F401  (is it installed?)
    except ImportError:
        assert "matplotlib is not installed" in r["plots"]["note"]
        return
    assert r["plots"]["files"] == ["progress.png"]
    png = tmp_path / "report" / "progress.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![progress.png](progress.png)" in md and '<img alt="progress.png"' in html
    json.dumps(r)
