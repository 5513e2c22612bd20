"""hakmem-fuzz explore: the report's files, and its numbers against the path counters."""
from __future__ import annotations

import json
import os

import pytest

from hakmem_verify.cli.main import main
from hakmem_verify.workloads.design_space import ROUTES, STAGES, measure
from hakmem_verify.workloads.seeded import generate, run_bare
from hakmem_verify.models.fast import FastAllocator
from hakmem_verify.contract.api import Config

ARGS = ["explore", "--workload", "larson", "--workload", "cache-scratch", "--scale", "1",
        "--threads", "2", "--knob", "magazine_capacity=64", "--samples", "10"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    d = tmp_path_factory.mktemp("explore")
    assert main(ARGS + ["--report", str(d)]) == 0
    with open(d / "report.json") as f:
        return d, json.load(f)


def disagreements(rep: dict) -> list:
    """Where the report's counts differ from a fresh run's path counters (empty if none)."""
    bad = []
    for run in rep["runs"]:
        cfg = dict(run["config"], class_sizes=tuple(run["config"]["class_sizes"]))
        fast = FastAllocator(Config(**cfg))
        run_bare(fast, generate(run["workload"], 1, 0, 2).ops)
        pc = fast.path_counts
        want_stages = {k: pc[k] for k in STAGES if pc[k]}
        want_routes = {k: pc[k] for k in ROUTES}
        got_routes = {k: run["routes"].get(k, 0) + run["exit_routes"].get(k, 0) for k in ROUTES}
        if run["stages"] != want_stages or run["allocs"] != sum(want_stages.values()):
            bad.append((run["workload"], run["setting"], "stages", run["stages"], want_stages))
        if got_routes != want_routes:
            bad.append((run["workload"], run["setting"], "routes", got_routes, want_routes))
    return bad


def test_the_report_numbers_agree_with_the_path_counters(report):
    _, rep = report
    assert [(r["workload"], r["setting"]) for r in rep["runs"]] == [
        ("larson", "seed"), ("larson", "magazine_capacity=64"),
        ("cache-scratch", "seed"), ("cache-scratch", "magazine_capacity=64")]
    assert disagreements(rep) == []


def test_the_agreement_check_catches_a_miscounted_stage(report):
    _, rep = report
    tampered = json.loads(json.dumps(rep))
    tampered["runs"][0]["stages"]["tls_mag"] -= 1
    tampered["runs"][0]["stages"]["mini_mag"] += 1
    assert [b[:3] for b in disagreements(tampered)] == [("larson", "seed", "stages")]


def test_the_report_has_markdown_html_and_at_least_four_plots(report):
    pytest.importorskip("matplotlib")
    d, rep = report
    pngs = sorted(p for p in os.listdir(d) if p.endswith(".png"))
    assert len(pngs) >= 4 and pngs == sorted(rep["plots"])
    for p in pngs:
        with open(d / p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    md, page = (d / "report.md").read_text(), (d / "report.html").read_text()
    for p in pngs:
        assert f"]({p})" in md and f'src="{p}"' in page
    assert page.count("<table>") == md.count("\n|---") and "<h2>" in page


def test_the_markdown_tables_show_the_measured_shares(report):
    d, rep = report
    md = (d / "report.md").read_text()
    run = rep["runs"][0]
    hot = 100 * (run["stages"].get("tls_mag", 0) + run["stages"].get("mini_mag", 0)) \
        / run["allocs"]
    assert f"| seed | {run['allocs']:,} | " in md and f" | {hot:.1f} |" in md


def test_every_claim_has_a_measured_verdict(report):
    _, rep = report
    rows = [c for c in rep["claims"] if c["workload"] == "larson"]
    assert len(rows) == 4 and all(c["verdict"] in ("holds", "fails", "not reached")
                                  for c in rows)
    assert rows[1]["verdict"] == "fails"        # short runs: reported stats lag > 1%


def test_the_stats_error_is_zero_when_every_event_is_flushed_and_large_when_batched():
    ops = generate("larson", 1, 0, 2).ops
    exact = measure(ops, Config(flush_interval=1), samples=5)["stats_error"]
    assert exact["max_total"] == 0.0 and exact["ops_over_1pct"] == 0
    batched = measure(ops, Config(), samples=5)["stats_error"]
    assert batched["max_total"] == 100.0 and batched["intervals"][0][0] == 1


def test_stranded_blocks_shrink_with_the_magazine_capacity():
    ops = generate("sh6bench", 1, 0, 2).ops
    big, small = (measure(ops, Config(magazine_capacity=m), samples=20) for m in (2048, 4))
    assert small["peak_stranded"] < big["peak_stranded"]
    for m in (big, small):
        assert m["peak_cached"] <= m["stranded_bound"] and m["peak_remote"] == 0


def test_remote_frees_strand_blocks_until_their_owner_drains():
    m = measure(generate("xmalloc-test", 2, 0, 2).ops, Config(), samples=50)
    assert m["routes"] == {"free_remote": 512}
    assert m["peak_remote"] > 256 and m["peak_stranded"] >= m["peak_remote"]


@pytest.mark.parametrize("argv, message", [
    (["--knob", "nope=1"], "KNOB one of"), (["--knob", "refill_batch=0"], "not a valid"),
    (["--workload", "nope"], "unknown workload"), (["--samples", "1"], "--samples"),
])
def test_bad_options_exit_2(argv, message, tmp_path, capsys):
    assert main(["explore", "--report", str(tmp_path)] + argv) == 2
    assert message in capsys.readouterr().err


def test_without_matplotlib_the_report_has_its_tables_and_says_how_to_get_plots(
        tmp_path, monkeypatch, capsys):
    import sys
    monkeypatch.setitem(sys.modules, "hakmem_verify.report.explore_plots", None)     # import fails
    assert main(["explore", "--workload", "cache-scratch", "--scale", "1", "--knob",
                 "refill_batch=4", "--samples", "5", "--report", str(tmp_path)]) == 0
    assert not list(tmp_path.glob("*.png"))
    md = (tmp_path / "report.md").read_text()
    assert "pip install -e '.[report]'" in md and "| cache-scratch | refill_batch=4 |" in md
    assert "plots not drawn" in capsys.readouterr().out


def test_measure_refuses_ops_it_cannot_attribute():
    from hakmem_verify.contract.ops import AllocMany
    with pytest.raises(ValueError, match="AllocMany ops are not supported"):
        measure([AllocMany(8, 3)], Config())
