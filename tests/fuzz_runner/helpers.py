"""Helpers of the runner tests: run ``hakmem-fuzz`` as a real process, read its report."""
from __future__ import annotations

import json
import os
import subprocess
import sys

CLI = [sys.executable, "-c", "import sys; from hakmem_verify.cli.main import main; sys.exit(main())"]


def hakmem_fuzz(*args, cwd, timeout=120) -> subprocess.CompletedProcess:
    """Run ``hakmem-fuzz ARGS`` in a fresh interpreter (the console script's entry point)."""
    return subprocess.run(CLI + [str(a) for a in args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def run_args(tmp_path, *extra, minutes="0.1", workers="1", seed="7"):
    """Arguments of a small run whose database and report live under tmp_path."""
    return ["run", "--minutes", minutes, "--workers", workers, "--seed", seed,
            "--db", tmp_path / "db", "--report", tmp_path / "report",
            "--progress-every", "1", *extra]


def load_report(tmp_path, name="report") -> dict:
    with open(os.path.join(tmp_path, name, "report.json")) as f:
        return json.load(f)


def pytest_file(path, cwd) -> subprocess.CompletedProcess:
    """Run one test file under pytest in a fresh interpreter."""
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "no:xdist", str(path)], cwd=cwd, capture_output=True,
                          text=True, timeout=120)
