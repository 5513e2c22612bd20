"""One campaign on several machines: ``--shard K/N`` seeds and ``merge-reports``."""
from __future__ import annotations

import subprocess

from fuzz.runner_worker import seed_start

from .helpers import CLI, hakmem_fuzz, load_report

QUICK_MUTANT = "refill-loses-block"


def test_shards_get_disjoint_seed_streams_whatever_their_worker_counts():
    starts = set()
    for k, workers in ((1, 3), (2, 1), (3, 2)):
        for i in range(workers):
            starts.add(seed_start({"seed": 5, "shard": (k, 3)}, i))
    assert len(starts) == 6
    assert seed_start({"seed": 5}, 2) == seed_start({"seed": 5, "shard": (1, 1)}, 2)


def _shard(tmp_path, k, n, *extra, minutes="0.1"):
    args = ["run", "--minutes", minutes, "--workers", "1", "--seed", "11", "--shard", f"{k}/{n}",
            "--db", tmp_path / "db", "--report", tmp_path / f"shard{k}", *extra]
    return subprocess.Popen(CLI + [str(a) for a in args], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_three_shards_on_one_machine_merge_into_one_report(tmp_path):
    procs = [_shard(tmp_path, k, 3) for k in (1, 2, 3)]
    for p in procs:
        p.communicate(timeout=120)
        assert p.returncode == 0
    shards = [load_report(tmp_path, f"shard{k}") for k in (1, 2, 3)]
    assert len({r["workers"][0]["seed_start"] for r in shards}) == 3
    merged = hakmem_fuzz("merge-reports", *(tmp_path / f"shard{k}" for k in (1, 2, 3)),
                         "--out", tmp_path / "merged", cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr
    m = load_report(tmp_path, "merged")
    assert m["merged"] == 3 and len(m["workers"]) == 3
    assert m["totals"]["steps"] == sum(r["totals"]["steps"] for r in shards)
    for label, n in m["coverage"]["per_op"].items():
        assert n == sum(r["coverage"]["per_op"].get(label, 0) for r in shards)
    union = set().union(*(r["behaviours"]["first_seen"] for r in shards))
    assert set(m["behaviours"]["first_seen"]) == union
    assert m["timeline"][-1][2] == m["totals"]["steps"]
    assert (tmp_path / "merged" / "report.md").exists()
    assert (tmp_path / "merged" / "report.html").exists()


def test_merging_deduplicates_a_failure_two_shards_found(tmp_path):
    procs = [_shard(tmp_path, k, 2, "--mutant", QUICK_MUTANT, minutes="0.5") for k in (1, 2)]
    for p in procs:
        p.communicate(timeout=120)
        assert p.returncode == 1
    found = [load_report(tmp_path, f"shard{k}")["failures"][0] for k in (1, 2)]
    merged = hakmem_fuzz("merge-reports", tmp_path / "shard1", tmp_path / "shard2",
                         "--out", tmp_path / "merged", cwd=tmp_path)
    assert merged.returncode == 1
    m = load_report(tmp_path, "merged")
    same = (found[0]["trace"], found[0]["config"]) == (found[1]["trace"], found[1]["config"])
    assert len(m["failures"]) == (1 if same else 2)
    if same:
        assert len(m["failures"][0]["duplicates"]) == 1


def test_merging_a_missing_report_exits_2_with_its_path(tmp_path):
    proc = hakmem_fuzz("merge-reports", tmp_path / "nowhere", "--out", tmp_path / "m",
                       cwd=tmp_path)
    assert proc.returncode == 2
    assert "nowhere" in proc.stderr and "report.json" in proc.stderr
