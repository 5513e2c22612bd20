"""hakmem-fuzz explore: the memory panel (bytes reserved by the pool against live bytes),
the use_superslab knob, and the larson presets."""
from __future__ import annotations

import json

import pytest

from hakmem_verify.cli.main import main
from hakmem_verify.workloads.design_space import (explore, kept_bound, measure, parse_knobs, reserved_bytes,
                          reserved_from_snapshot)
from hakmem_verify.report.explore import memory_panel
from hakmem_verify.workloads.seeded import generate
from hakmem_verify.models.fast import FastAllocator, pool, superslab
from hakmem_verify.planted import patched
from hakmem_verify.contract.api import Config
from hakmem_verify.contract.ops import Alloc, Free, ThreadExit

SLAB, SS = Config().slab_size, Config().superslab_size
PER_SLAB, SUPERSLAB = Config(use_superslab=False), Config(use_superslab=True)


# ---------------------------------------------------------------------------
# The knob
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [("0", False), ("1", True), ("false", False),
                                         ("TRUE", True), ("True", True)])
def test_use_superslab_takes_0_1_true_false(text, value):
    assert parse_knobs([f"use_superslab={text}"]) == [{"use_superslab": value}]


@pytest.mark.parametrize("bad", ["2", "yes", "", "0x1", "-1"])
def test_a_bad_bool_is_a_one_line_usage_error(bad, tmp_path, capsys):
    assert main(["explore", "--workload", "larson", "--knob", f"use_superslab=0,{bad}"
                 if bad else "use_superslab=0,", "--report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "use_superslab" in err and err.count("\n") == 1
    if bad:
        assert "takes 0, 1, true or false" in err


# ---------------------------------------------------------------------------
# The panel, both modes, through the CLI
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def report(tmp_path_factory):
    d = tmp_path_factory.mktemp("explore_memory")
    assert main(["explore", "--workload", "larson:tiny", "--scale", "1", "--threads", "2",
                 "--knob", "use_superslab=0,1", "--samples", "8", "--report", str(d)]) == 0
    with open(d / "report.json") as f:
        return d, json.load(f)


def test_the_panel_shows_both_modes(report):
    d, rep = report
    runs = {r["setting"]: r for r in rep["runs"]}
    assert list(runs) == ["seed", "use_superslab=0", "use_superslab=1"]
    assert runs["use_superslab=0"]["memory"]["mode"] == "per-slab"
    assert runs["use_superslab=1"]["memory"]["mode"] == "superslab"
    md = (d / "report.md").read_text()
    assert "## Memory over time: bytes reserved by the pool against live bytes" in md
    for label, r in runs.items():
        m = r["memory"]
        assert m["peak_reserved"] >= m["final_reserved"] >= 0 and m["live_at_peak"] > 0
        assert m["ratio_at_peak"] == pytest.approx(m["peak_reserved"] / m["live_at_peak"])
        assert m["snapshot_mismatches"] == 0 and m["comes_back"]
        assert (f"| larson:tiny | {label} | {m['mode']} | {m['peak_reserved'] // 1024:,} | "
                f"{m['peak_op']:,} | ") in md
        assert f"{m['ratio_at_peak']:.1f}" in md and m["verdict"].startswith("yes")
        # the series carries the reserved and live bytes over time
        assert all("reserved" in s and "live_class_bytes" in s for s in r["series"])
    ss = runs["use_superslab=1"]["memory"]
    assert ss["peak_reserved"] % SS == 0 and ss["reserved_after"] <= 2 * SS
    assert runs["use_superslab=0"]["memory"]["reserved_after"] == 0


def test_the_panel_has_its_plot(report):
    pytest.importorskip("matplotlib")
    d, rep = report
    assert "memory_over_time_larson_tiny.png" in rep["plots"]
    assert "](memory_over_time_larson_tiny.png)" in (d / "report.md").read_text()


# ---------------------------------------------------------------------------
# The numbers on a hand-built case
# ---------------------------------------------------------------------------

def _one_class(n: int, tid: int = 0, size: int = 64) -> list:
    """n allocs of one class by tid, then the frees, then tid's exit."""
    return ([Alloc(size, tid) for _ in range(n)] + [Free(h, tid) for h in range(n)]
            + [ThreadExit(tid)])


def test_per_slab_mode_reserves_the_slabs_it_maps_and_returns_them_all():
    per_slab = SLAB // 64                           # 1024 blocks of 64 B in a slab
    ops = _one_class(2 * per_slab + 1)              # the 2049th block needs a 3rd slab
    m = measure(ops, PER_SLAB, samples=10)["memory"]
    fa = FastAllocator(PER_SLAB)
    for _ in range(2 * per_slab + 1):
        fa.alloc(64, 0)
    assert len(fa.slab_bases()) == 3                # what the model mapped, by itself
    assert m["peak_reserved"] == 3 * SLAB == reserved_bytes(fa, PER_SLAB)
    assert m["peak_op"] == 2 * per_slab + 1 and m["live_at_peak"] == (2 * per_slab + 1) * 64
    assert m["ratio_at_peak"] == pytest.approx(3 * SLAB / ((2 * per_slab + 1) * 64))
    assert m["peak_live"] == m["live_at_peak"]
    assert m["reserved_after"] == 0 and m["kept_bound"] == 0 and m["comes_back"]
    assert m["counters"]["new_slab"] == 3 and m["counters"]["ss_map"] == 0


def test_superslab_mode_reserves_whole_superslabs_and_keeps_the_pool():
    ops = _one_class(2 * (SLAB // 64) + 1)          # 3 slabs: one SuperSlab holds them
    m = measure(ops, SUPERSLAB, samples=10)["memory"]
    assert m["peak_reserved"] == SS and m["peak_op"] == 1 and m["live_at_peak"] == 64
    assert m["ratio_at_peak"] == SS / 64
    assert m["reserved_after"] == SS <= m["kept_bound"] == 2 * SS and m["comes_back"]
    assert m["counters"]["ss_map"] == 1 and m["counters_after"]["ss_pool_push"] == 1
    # with no pool the SuperSlab goes back to the OS
    m0 = measure(ops, Config(use_superslab=True, superslab_pool_max=0), samples=5)["memory"]
    assert m0["reserved_after"] == 0 == m0["kept_bound"] and m0["comes_back"]


def test_superslab_mode_pools_two_and_unmaps_the_rest():
    # three threads, a block each: three SuperSlabs; after: two pooled, one unmapped
    ops = [Alloc(8, t) for t in (1, 2, 3)] + [Free(h, h + 1) for h in range(3)] \
        + [ThreadExit(t) for t in (1, 2, 3)]
    m = measure(ops, SUPERSLAB, samples=5)["memory"]
    assert m["peak_reserved"] == 3 * SS and m["live_at_peak"] == 3 * 8
    assert m["reserved_after"] == 2 * SS == kept_bound(SUPERSLAB) and m["comes_back"]
    assert m["counters_after"]["ss_unmap"] == 1


def test_blocks_left_live_are_freed_before_the_after_reading():
    ops = [Alloc(200, 1), Alloc(300, 2), ThreadExit(1), ThreadExit(2)]   # never freed
    for cfg in (PER_SLAB, SUPERSLAB):
        m = measure(ops, cfg, samples=5)["memory"]
        assert m["final_live"] == 256 + 512 and m["freed_at_end"] == 2
        assert m["final_reserved"] > 0 and m["comes_back"]
        assert m["reserved_after"] == (2 * SS if cfg.use_superslab else 0)


def test_the_counter_reading_agrees_with_a_complete_snapshot():
    ops = generate("larson:churn", 1, 0, 3).ops
    for cfg in (PER_SLAB, SUPERSLAB):
        fa = FastAllocator(cfg)
        live, handle = {}, 0
        for i, op in enumerate(ops):
            if type(op) is Alloc:
                live[handle] = fa.alloc(op.size, op.tid)
                handle += 1
            elif type(op) is Free:
                fa.free(live.pop(op.handle), op.tid)
            elif type(op) is ThreadExit:
                fa.thread_exit(op.tid)
            if i % 97 == 0:
                assert reserved_bytes(fa, cfg) == reserved_from_snapshot(fa.snapshot(), cfg)
        assert measure(ops, cfg, samples=40)["memory"]["snapshot_mismatches"] == 0


# ---------------------------------------------------------------------------
# Quality: a planted leak makes "memory comes back" say no
# ---------------------------------------------------------------------------

def never_releases_slabs():
    """A free slab is never released (per-slab mode's leak)."""
    return patched((pool, "maybe_release", lambda fa, slab: None))


def never_unmaps_superslabs():
    """A SuperSlab never counts as free, so it is neither pooled nor unmapped."""
    return patched((superslab, "releasable", lambda fa, ss: False))


def test_a_planted_slab_leak_says_memory_does_not_come_back():
    ops = _one_class(2 * (SLAB // 64) + 1)
    with never_releases_slabs():
        m = measure(ops, PER_SLAB, samples=5)["memory"]
    assert m["reserved_after"] == 3 * SLAB and not m["comes_back"]
    assert m["verdict"].startswith("NO")


def test_a_planted_superslab_leak_says_memory_does_not_come_back():
    ops = [Alloc(8, t) for t in (1, 2, 3)] + [Free(h, h + 1) for h in range(3)] \
        + [ThreadExit(t) for t in (1, 2, 3)]
    with never_unmaps_superslabs():
        runs = explore([("three-threads", ops)], sweep=[{"use_superslab": True}], samples=5)
    leaky = runs[-1]["memory"]
    assert leaky["reserved_after"] == 3 * SS > leaky["kept_bound"]
    assert not leaky["comes_back"]
    rows = [line for line in memory_panel(runs) if line.startswith("| three-threads |")]
    assert len(rows) == 2 and "| NO: 6,144 KiB still reserved" in rows[1]
    # the same ops on the model as it is: memory comes back
    clean = explore([("three-threads", ops)], sweep=[{"use_superslab": True}], samples=5)
    assert clean[-1]["memory"]["comes_back"]


# ---------------------------------------------------------------------------
# larson presets
# ---------------------------------------------------------------------------

def test_larson_presets_keep_the_old_name_and_differ_where_documented():
    assert generate("larson:default", 1, 3, 2).ops == generate("larson", 1, 3, 2).ops
    tiny = generate("larson:tiny", 1, 3, 2)
    assert max(op.size for op in tiny.ops if type(op) is Alloc) < 128
    churn, base = generate("larson:churn", 1, 3, 2), generate("larson", 1, 3, 2)
    def exits(w):
        return sum(type(op) is ThreadExit for op in w.ops)
    assert exits(churn) == 4 * exits(base) and churn.params["preset"] == "churn"


@pytest.mark.parametrize("name, message", [("larson:nope", "has the presets default, tiny"),
                                           ("mstress:x", "has no presets")])
def test_unknown_presets_exit_2(name, message, tmp_path, capsys):
    assert main(["explore", "--workload", name, "--report", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
