"""One campaign on several machines: ``--shard K/N`` seeds and ``merge-reports``."""
from __future__ import annotations

import re
import subprocess

import pytest

from hakmem_verify.runner.worker import seed_start

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


def _fake_report(tmp_path, name, **params):
    """A minimal run report on disk (what merge-reports reads before merging)."""
    import json
    base = {"seed": 11, "shard": [1, 2], "impl": None, "tier": None, "mutant": None,
            "machines": None, "report": name}
    d = tmp_path / name
    d.mkdir()
    (d / "report.json").write_text(json.dumps({
        "tool": "hakmem-fuzz run", "started_at": params.pop("started_at", "t0"),
        "parameters": dict(base, **params)}))
    return d


def test_merge_refuses_a_report_given_twice_and_unrelated_runs(tmp_path):
    import shutil
    from hakmem_verify.runner import merge as runner_merge
    a = _fake_report(tmp_path, "a")
    b = _fake_report(tmp_path, "b", shard=[2, 2], started_at="t1")
    shutil.copytree(a, tmp_path / "copy")
    cases = [((a, a), "same run"), ((a, tmp_path / "copy"), "same run"),
             ((a, _fake_report(tmp_path, "s", seed=12, shard=[2, 2])), "--seed 12"),
             ((a, _fake_report(tmp_path, "m", mutant="x", shard=[2, 2])), "--mutant 'x'"),
             ((a, _fake_report(tmp_path, "n", shard=[2, 3])), "not distinct shards"),
             ((a, _fake_report(tmp_path, "k", started_at="t2")), "not distinct shards"),
             ((a, _fake_report(tmp_path, "u", shard=None)), "was not run with --shard")]
    for dirs, says in cases:
        with pytest.raises(runner_merge.MergeError, match=re.escape(says)):
            runner_merge.check_related([str(d) for d in dirs],
                                       [runner_merge.load(str(d)) for d in dirs])
    runner_merge.check_related([str(a), str(b)], [runner_merge.load(str(d)) for d in (a, b)])
    proc = hakmem_fuzz("merge-reports", a, a, "--out", tmp_path / "m", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "same run" in proc.stderr
