"""``hakmem-fuzz contracts``: CrossHair on the contracts, with a count of what it confirmed.

``crosshair check`` prints nothing when no condition fails, so a quiet
success and a check that analysed nothing look the same.  This wrapper runs
it with ``--report_all`` (one verdict per ``post:``/``inv:`` condition),
prints each verdict with the condition's text as it arrives, and ends with
the count: conditions checked, confirmed over all paths, not confirmed
within the budget (no counterexample found either), failed.  The budget
defaults to the one ``docs/CONTRACTS.md`` documents.  SIGINT or SIGTERM stops
CrossHair, prints the count so far and exits 3.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

HEARTBEAT = 15.0                  # seconds between "still checking" lines
LINE = re.compile(r"^(?P<path>.*?):(?P<line>\d+): (?P<level>info|error): (?P<text>.*)$")


def contract_files() -> list:
    """The files that hold the contracts, relative to the repository root."""
    from hakmem_verify import contracts
    return [os.path.join("hakmem_verify", "contracts", f"{m}.py") for m in contracts.MODULES]


def _condition_text(path: str, lineno: int) -> str:
    try:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                if n == lineno:
                    return line.strip()
    except OSError:
        pass
    return ""


def _lines(proc, out, started):
    """The lines CrossHair prints; a progress line on ``out`` whenever it is quiet."""
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    while True:
        if not sel.select(timeout=HEARTBEAT):
            out.write(f"  ... CrossHair still checking ({time.monotonic() - started:.0f} s)\n")
            out.flush()
            continue
        line = proc.stdout.readline()
        if not line:
            return
        yield line


def main(args, out=None) -> int:
    out = out or sys.stdout
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    targets = [args.target] if args.target else contract_files()
    argv = [sys.executable, "-m", "crosshair", "check", *targets, "--report_all",
            "--max_uninteresting_iterations", str(args.max_uninteresting_iterations),
            "--per_path_timeout", str(args.per_path_timeout),
            "--per_condition_timeout", str(args.per_condition_timeout)]
    counts = {"confirmed": 0, "not confirmed": 0, "failed": 0}
    started = time.monotonic()
    try:
        proc = subprocess.Popen(argv, cwd=root, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
    except OSError as exc:
        sys.stderr.write(f"hakmem-fuzz contracts: cannot start CrossHair: {exc}; install "
                         "the dev extra: .venv/bin/pip install -e '.[dev]'\n")
        return 2
    other = []
    try:
        out.write(f"hakmem-fuzz contracts: {' '.join(argv[2:])}\n"
                  "(about 2 minutes on one core at this budget; verdicts are printed as "
                  f"CrossHair reports them, and a progress line every {HEARTBEAT:.0f} s until "
                  "then)\n")
        out.flush()
        _verdicts(proc, out, started, root, counts, other)
    except KeyboardInterrupt:
        os.killpg(proc.pid, signal.SIGKILL)      # CrossHair and its workers: a session
        proc.wait()
        from hakmem_verify.contract.cli import interrupted
        return interrupted("hakmem-fuzz contracts", f"CrossHair stopped after {_count(counts)}"
                                                    "; run again for the full check")
    return _verdict(proc, out, started, counts, other)


def _count(counts) -> str:
    return (f"{sum(counts.values())} conditions: {counts['confirmed']} confirmed, "
            f"{counts['not confirmed']} not confirmed, {counts['failed']} failed")


def _verdicts(proc, out, started, root, counts, other) -> None:
    """Print each condition's verdict as CrossHair reports it; count them."""
    for raw in _lines(proc, out, started):
        m = LINE.match(raw.rstrip("\n"))
        if not m:
            other.append(raw)
            continue
        text = m["text"]
        verdict = "failed" if m["level"] == "error" else \
            "confirmed" if "Confirmed over all paths" in text else "not confirmed"
        counts[verdict] += 1
        cond = _condition_text(os.path.join(root, m["path"]) if not os.path.isabs(m["path"])
                               else m["path"], int(m["line"]))
        out.write(f"  {verdict.upper():<13} {os.path.basename(m['path'])}:{m['line']} "
                  f"{cond[:70]}" + (f"  ({text})" if verdict != "confirmed" else "") + "\n")
        out.flush()


def _verdict(proc, out, started, counts, other) -> int:
    """The count and the exit status once CrossHair has finished."""
    proc.wait()
    if "No module named 'crosshair'" in "".join(other):
        sys.stderr.write("hakmem-fuzz contracts: CrossHair is not installed; install the dev "
                         "extra: .venv/bin/pip install -e '.[dev]'\n")
        return 2
    checked = sum(counts.values())
    out.write(f"\n{checked} conditions checked in {time.monotonic() - started:.0f} s: "
              f"{counts['confirmed']} confirmed over all paths, {counts['not confirmed']} "
              f"not confirmed within the budget (no counterexample either), "
              f"{counts['failed']} failed.\n")
    if other and (proc.returncode not in (0, 1) or not checked):
        out.write("CrossHair said:\n" + "".join(other[-30:]))
    if counts["failed"]:
        out.write("A failed condition has a counterexample above; see docs/CONTRACTS.md.\n")
        return 1
    if proc.returncode not in (0,) or not checked:
        out.write(f"CrossHair exited {proc.returncode} having reported {checked} conditions; "
                  "nothing was confirmed.\n")
        return 2 if not checked else 1
    return 0
