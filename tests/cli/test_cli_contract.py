"""One contract for every ``hakmem-fuzz`` subcommand (README, "Exit status").

SIGINT or SIGTERM once it is working: exit 3 within a few seconds, no traceback, the
report of what ran where the command writes one.  An unwritable output path: exit 2
at once, nothing run.  A bad value: exit 2 with one error line naming the flag.  A
trace with no allocation: exit 2, "no allocation found".
"""
from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time

import pytest

from hakmem_verify.cli.main import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = [sys.executable, "-c", "import sys; from hakmem_verify.cli.main import main; sys.exit(main())"]
START_TIMEOUT = 60.0      # seconds until the first progress line (a busy machine)
STOP_LIMIT = 4.0          # seconds from the signal to the exit
PLOT_LIMIT = 12.0         # the same for a command that draws its report's plots
PLOTTERS = ("run", "explore", "compare")
QUICK = 5.0               # seconds an in-process usage error may take
EXAMPLE_C = os.path.join(ROOT, "examples", "c", "exalloc.c")


def _report_json(name="report"):
    def check(tmp_path):
        with open(tmp_path / name / "report.json") as f:
            return json.load(f)
    return check


def _concurrent_report(tmp_path):
    assert _report_json()(tmp_path)["interrupted"] is True


def _mutants_json(tmp_path):
    assert "results" in json.loads((tmp_path / "mutants.json").read_text())


def _native_stress_available() -> bool:
    try:
        from hakmem_verify.models.native import unavailable_reason
    except ImportError:
        return False
    return not unavailable_reason(None)


# (name, argv with {tmp} for the test's directory, a regex of the line that says it is
# working, the signal, a check of what it wrote)
INTERRUPTS = [
    ("run", ["run", "--minutes", "0.5", "--workers", "1", "--db", "", "--report",
             "{tmp}/report", "--progress-every", "0.5"], r"lockstep: [1-9]", "SIGINT",
     _report_json()),
    ("run-concurrent", ["run", "--machine", "concurrent", "--minutes", "0.5", "--report",
                        "{tmp}/report"], r"--machine concurrent: ", "SIGINT",
     _concurrent_report),
    ("replay", ["replay", "--workload", "larson", "--scale", "20", "--progress-every", "0.2",
                "--reproducers", "{tmp}/repro"], r"replay: [\d,]+/", "SIGTERM", None),
    ("explore", ["explore", "--workload", "larson", "--scale", "8", "--report",
                 "{tmp}/report"], r"explore: larson", "SIGINT", _report_json()),
    ("mutants", ["mutants", "--workers", "1", "--budget", "5", "--json",
                 "{tmp}/mutants.json", "seed-mini_mag_push", "seed-mini_mag_pop"],
     r"hunting 2 mutants", "SIGINT", _mutants_json),
    ("mutate", ["mutate", "--files", "hakmem_verify/models/fast/bitmap.py", "--n", "20", "--budget", "5",
                "--workers", "1", "--root", ROOT, "--tests", "none", "--out",
                "{tmp}/mutate"], r"mutants of 1 files", "SIGINT", None),
    ("contracts", ["contracts"], r"hakmem-fuzz contracts: crosshair", "SIGINT", None),
    ("stress", ["stress", "--ops", str(10 ** 10)], r"stress: larson", "SIGTERM", None),
    ("compare", ["compare", "--impl", "system", "--workload", "larson", "--threads", "1",
                 "--ops", str(10 ** 9), "--report", "{tmp}/report"], r"compare \[1/",
     "SIGINT", _report_json()),
]


def _args(argv, tmp_path) -> list:
    return [a.replace("{tmp}", str(tmp_path)) for a in argv]


def _wait_for(proc, pattern: str, timeout: float) -> str:
    """Read stdout and stderr until a line matches ``pattern``; all read so far."""
    import re
    sel = selectors.DefaultSelector()
    for stream in (proc.stdout, proc.stderr):
        os.set_blocking(stream.fileno(), False)
        sel.register(stream, selectors.EVENT_READ)
    seen, deadline = "", time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        for key, _ in sel.select(timeout=0.2):
            seen += (key.fileobj.read() or b"").decode(errors="replace")
        if re.search(pattern, seen):
            break
    for stream in (proc.stdout, proc.stderr):
        os.set_blocking(stream.fileno(), True)
    sel.close()
    assert re.search(pattern, seen), f"never saw {pattern!r}; output so far:\n{seen[-2000:]}"
    return seen


@pytest.mark.parametrize("name, argv, working, sig, check", INTERRUPTS,
                         ids=[c[0] for c in INTERRUPTS])
def test_a_signal_while_working_exits_3_promptly_without_a_traceback(
        name, argv, working, sig, check, tmp_path):
    if name == "stress" and not _native_stress_available():
        pytest.skip("the C pool cannot be built here")
    launched = time.monotonic()
    proc = subprocess.Popen(CLI + _args(argv, tmp_path), cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        seen = _wait_for(proc, working, START_TIMEOUT)
        startup = time.monotonic() - launched      # how loaded the machine is, measured
        assert proc.poll() is None, f"{name} finished before the signal:\n{seen[-2000:]}"
        proc.send_signal(getattr(signal, sig))
        sent = time.monotonic()
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = seen + err.decode(errors="replace")
    assert proc.returncode == 3, f"{name}: exit {proc.returncode}\n{err[-3000:]}"
    assert "Traceback" not in err, err[-3000:]
    assert "interrupted" in err + out.decode(errors="replace")
    # promptly: within the limit, or on a loaded machine within twice the time the same
    # command took to start working (a ratio in one run, not an absolute time)
    limit = max(PLOT_LIMIT if name in PLOTTERS else STOP_LIMIT, 2 * startup)
    assert took < limit, f"{name} took {took:.1f} s to stop (it started in {startup:.1f} s)"
    if check:
        check(tmp_path)


# ============================================================================
# Unwritable output paths: exit 2 before any work
# ============================================================================

UNWRITABLE = [
    ("run", ["run", "--minutes", "0.05", "--workers", "1", "--db", "", "--report", "{bad}"],
     "--report"),
    ("run-concurrent", ["run", "--machine", "concurrent", "--minutes", "0.05", "--report",
                        "{bad}"], "--report"),
    ("run-db", ["run", "--minutes", "0.05", "--workers", "1", "--db", "{bad}", "--report",
                "{tmp}/report"], "--db"),
    ("replay", ["replay", "--workload", "larson", "--reproducers", "{bad}"], "--reproducers"),
    ("explore", ["explore", "--workload", "larson", "--scale", "1", "--report", "{bad}"],
     "--report"),
    ("mutants", ["mutants", "--budget", "1", "--json", "{bad}", "stats-flush-off-by-one"],
     "--json"),
    ("mutate", ["mutate", "--files", "hakmem_verify/models/fast/bitmap.py", "--n", "1", "--root", ROOT,
                "--out", "{bad}"], "--out"),
    ("mutate-md", ["mutate", "--files", "hakmem_verify/models/fast/bitmap.py", "--n", "1", "--root", ROOT,
                   "--out", "{tmp}/mutate", "--write-md", "{bad}"], "--write-md"),
    ("mutate-c", ["mutate", "--c-file", EXAMPLE_C, "--build",
                  "gcc -shared -fPIC -o {out} {src}", "--prefix", "ex_", "--out", "{bad}"],
     "--out"),
    ("compare", ["compare", "--impl", "system", "--report", "{bad}"], "--report"),
    ("merge-reports", ["merge-reports", "{tmp}", "--out", "{bad}"], "--out"),
    ("promote", ["promote", EXAMPLE_C, "--to", "{bad}"], "--to"),
]


def _main(argv, tmp_path, capsys) -> tuple:
    """(exit status, stdout, stderr, seconds) of ``hakmem-fuzz ARGV`` in this process."""
    cwd = os.getcwd()
    os.chdir(tmp_path)
    t0 = time.monotonic()
    try:
        code = main(argv)
    finally:
        os.chdir(cwd)
    seconds = time.monotonic() - t0
    cap = capsys.readouterr()
    return code, cap.out, cap.err, seconds


@pytest.mark.parametrize("name, argv, flag", UNWRITABLE, ids=[c[0] for c in UNWRITABLE])
def test_an_unwritable_output_exits_2_at_once_and_runs_nothing(name, argv, flag, tmp_path,
                                                               capsys):
    (tmp_path / "file").write_text("a regular file, not a directory")
    bad = str(tmp_path / "file" / "out")
    argv = [a.replace("{bad}", bad).replace("{tmp}", str(tmp_path)) for a in argv]
    code, out, err, seconds = _main(argv, tmp_path, capsys)
    assert code == 2, (code, out, err)
    errors = [ln for ln in err.splitlines() if "error" in ln or "not writable" in ln]
    assert len(errors) == 1 and flag in errors[0] and bad in errors[0], err
    assert "Traceback" not in err
    assert seconds < QUICK, f"{name} took {seconds:.1f} s to refuse"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"], "something was written"


# ============================================================================
# Bad values: exit 2, one error line naming the flag
# ============================================================================

BAD_VALUES = [
    (["run", "--minutes", "0"], "--minutes"),
    (["run", "--workers", "-1"], "--workers"),
    (["run", "--db", "http://x"], "--db"),
    (["run", "--db-shared", "ftp://x/y"], "--db-shared"),
    (["run", "--machine", "concurrent", "--minutes", "-1"], "--minutes"),
    (["replay", "--workload", "larson", "--threads", "0"], "--threads"),
    (["replay", "--workload", "larson", "--shrink-seconds", "-1"], "--shrink-seconds"),
    (["explore", "--workload", "larson", "--threads", "0"], "--threads"),
    (["explore", "--samples", "1"], "--samples"),
    (["mutants", "--budget", "0", "stats-flush-off-by-one"], "--budget"),
    (["mutants", "--workers", "0", "stats-flush-off-by-one"], "--workers"),
    (["mutate", "--files", "hakmem_verify/models/fast/bitmap.py", "--root", ROOT, "--n", "0"], "--n"),
    (["mutate", "--files", "hakmem_verify/models/fast/bitmap.py", "--root", ROOT, "--budget", "-3"],
     "--budget"),
    (["contracts", "--per-path-timeout", "0"], "--per-path-timeout"),
    (["stress", "--threads", "0"], "--threads"),
    (["compare", "--impl", "system", "--runs", "0"], "--runs"),
]


@pytest.mark.parametrize("argv, flag", BAD_VALUES, ids=[" ".join(a) for a, _ in BAD_VALUES])
def test_a_bad_value_exits_2_with_one_error_line(argv, flag, tmp_path, capsys):
    code, out, err, seconds = _main(argv, tmp_path, capsys)
    assert code == 2, (code, out, err)
    errors = [ln for ln in err.splitlines() if "error" in ln]
    assert len(errors) == 1 and flag in errors[0], err
    assert "Traceback" not in err
    assert seconds < QUICK
    assert list(tmp_path.iterdir()) == [], "a bad value created files"


# ============================================================================
# Traces without an allocation, and the help
# ============================================================================


@pytest.mark.parametrize("content", [b"", bytes(range(256)) * 40], ids=["empty", "binary"])
@pytest.mark.parametrize("command", [["replay"], ["explore", "--trace"]],
                         ids=["replay", "explore"])
def test_a_trace_with_no_allocation_exits_2_saying_so(command, content, tmp_path, capsys):
    trace = tmp_path / "trace.log"
    trace.write_bytes(content)
    argv = command + [str(trace)] + (["--report", str(tmp_path / "r")]
                                     if command[0] == "explore" else [])
    code, out, err, _ = _main(argv, tmp_path, capsys)
    assert code == 2, (code, out, err)
    assert "no allocation found" in err and str(trace) in err, err
    assert not (tmp_path / "r").exists()


def test_the_top_level_help_lists_every_subcommand(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    listed = out.split("positional arguments:")[1]
    for command in ("run", "promote", "merge-reports", "contracts", "mutants", "mutate",
                    "invariants", "replay", "explore", "stress", "compare"):
        assert f"\n    {command} " in listed, f"{command} missing from --help:\n{out}"
