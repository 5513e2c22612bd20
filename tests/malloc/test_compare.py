"""``hakmem-fuzz compare``: the report files and plots of a clean comparison, the exit
status of each way it can end (clean 0, a finding 1, usage 2 before anything runs,
interrupted 3), and the design's claim quoted as the summary states it."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hakmem_verify.cli import compare as compare_cmd
from hakmem_verify.cli.main import main

ROOT = Path(__file__).resolve().parents[2]

#: malloc hands out the block it handed out just before, every 64th call, while both are
#: live (a bump allocator that never reuses memory, so nothing else goes wrong first)
TWICE_C = r"""
#include <pthread.h>
#include <stddef.h>
#include <sys/mman.h>
static char *base;
static size_t used;
static void *prev;
static unsigned long calls;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
void *twice_malloc(size_t n) {
    void *p;
    pthread_mutex_lock(&mu);
    if (!base) base = mmap(0, 1UL << 32, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (++calls % 64 == 0 && prev) p = prev;
    else { p = base + used; used += n ? (n + 15) & ~(size_t)15 : 16; prev = p; }
    pthread_mutex_unlock(&mu);
    return p;
}
void twice_free(void *p) { (void)p; }
"""


@pytest.fixture
def stress():
    from hakmem_verify.models.malloc import stress
    return stress


def run(argv, capsys):
    code = main(["compare", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_system_and_native_write_the_three_report_files_and_a_plot_and_exit_0(tmp_path,
                                                                              capsys):
    code, out, err = run(["--impl", "native", "--impl", "malloc:system", "--workload",
                          "larson", "--threads", "1,2", "--runs", "3", "--ops", "4000",
                          "--report", str(tmp_path)], capsys)
    assert code == 0, err
    assert {"report.md", "report.html", "report.json", "ns_per_op.png"} <= \
        {p.name for p in tmp_path.iterdir()}
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["status"] == "clean" and len(report["runs"]) == 2 * 3 * 2
    assert {(c["impl"], c["threads"], c["verdict"]) for c in report["cells"]} == \
        {(n, t, "clean") for n in ("native", "system") for t in (1, 2)}
    assert all(c["ns_per_op"][0] <= c["ns_per_op"][1] <= c["ns_per_op"][2]
               for c in report["cells"])
    md = (tmp_path / "report.md").read_text()
    assert "83 ns per operation" in md and "| larson | 83 | 40-50 |" in md
    assert "compare [12/12] larson, 2 threads, run 3/3: system" in err


def test_a_library_that_hands_out_a_live_block_twice_is_a_finding_named_in_the_report(
        tmp_path, capsys):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler to build the broken library")
    (tmp_path / "twice.c").write_text(TWICE_C)
    so = tmp_path / "libtwice.so"
    subprocess.run([cc, "-O1", "-shared", "-fPIC", "-pthread", str(tmp_path / "twice.c"),
                    "-o", str(so)], check=True)
    rep = tmp_path / "report"
    code, out, err = run(["--impl", f"malloc:{so}:twice_", "--impl", "native", "--workload",
                          "larson", "--threads", "1", "--runs", "3", "--ops", "20000",
                          "--report", str(rep)], capsys)
    assert code == 1, err
    report = json.loads((rep / "report.json").read_text())
    bad = [c for c in report["cells"] if c["impl"] == "libtwice"]
    native = [c for c in report["cells"] if c["impl"] == "native"]
    assert bad and bad[0]["verdict"] != "clean" and native[0]["verdict"] == "clean"
    checks = {r["check"] for r in report["runs"] if r["status"] == 1}
    assert checks and "" not in checks
    md = (rep / "report.md").read_text()
    assert "## Findings" in md and all(f"**{c}**" in md for c in checks)
    assert re.search(r"\*\*\* FINDING: libtwice, larson, 1 thread, seed \d: \[STRESS-", err)


def test_a_bad_impl_exits_2_with_one_line_and_runs_nothing(tmp_path, capsys):
    for bad in ("malloc:./no/such/libx.so", "bogus"):
        code, out, err = run(["--impl", bad, "--report", str(tmp_path / "r")], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert err.startswith("hakmem-fuzz compare: error: --impl") and not out


def test_an_unwritable_report_exits_2_before_anything_runs(tmp_path, capsys, monkeypatch,
                                                           stress):
    monkeypatch.setattr(stress, "run", lambda *a, **k: pytest.fail("a run was started"))
    (tmp_path / "file").write_text("not a directory")
    code, out, err = run(["--impl", "malloc:system", "--report", str(tmp_path / "file" / "r")],
                         capsys)
    assert code == 2 and "--report" in err and "not writable" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [["--runs", "2"], ["--threads", "0"], ["--threads", "a,b"],
                                  ["--workload", "nosuch"]])
def test_bad_runs_threads_or_workload_exit_2_with_one_line(argv, tmp_path, capsys):
    code, out, err = run([*argv, "--impl", "malloc:system", "--report", str(tmp_path)], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err


def test_an_interrupt_exits_3_with_a_report_of_what_ran(tmp_path, capsys, monkeypatch, stress):
    real, calls = stress.run, []

    def interrupted_on_the_third(*a, **k):
        calls.append(a)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*a, **k)
    monkeypatch.setattr(stress, "run", interrupted_on_the_third)
    code, out, err = run(["--impl", "native", "--workload", "larson", "--threads", "1",
                          "--ops", "2000", "--report", str(tmp_path)], capsys)
    assert code == 3 and "interrupted after 2 of 3 runs" in err
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["status"] == "interrupted" and len(report["runs"]) == 2


def test_missing_system_libraries_are_skipped_and_named(monkeypatch):
    monkeypatch.setattr(compare_cmd, "SYSTEM_LIBS", ("malloc:system", "malloc:libnotthere.so.7"))
    specs, missing = compare_cmd.resolve_impls(None)
    assert [s.name for s in specs] == ["native", "system"]
    assert [m[0] for m in missing] == ["malloc:libnotthere.so.7"] and "no such library" in \
        missing[0][1]


def test_the_claim_is_quoted_exactly_as_the_design_summary_states_it():
    text = " ".join((ROOT / "docs" / "DESIGN-SUMMARY.md").read_text().split())
    assert compare_cmd.CLAIM["text"] in text


def test_without_matplotlib_the_report_says_the_plots_were_not_drawn(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    report = dict(command="hakmem-fuzz compare", planned=1, status="clean", missing=[],
                  impls=[dict(name="system", spec="malloc:system", path="libc.so.6")],
                  parameters=dict(workloads=["larson"], threads=[1], runs=3, ops=10,
                                  max_size=1024, seed=1, timeout=60.0),
                  machine=compare_cmd.machine(), claim=compare_cmd.CLAIM,
                  runs=[dict(workload="larson", threads=1, run=0, seed=1, impl="system",
                             status=0, check="", message="", ops=10, seconds=1e-6,
                             ns_per_op=100.0, ops_per_s=1e7, peak_rss_kb=2048, signal=0)])
    compare_cmd.write(str(tmp_path), report)
    md = (tmp_path / "report.md").read_text()
    assert re.search(r"\*\*Plots:\*\* not drawn: matplotlib is not installed", md)
    assert not list(tmp_path.glob("*.png"))
