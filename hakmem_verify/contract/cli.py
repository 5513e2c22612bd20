"""The contract every ``hakmem-fuzz`` subcommand keeps: exit statuses, signals, checks.

Exit status: 0 clean, 1 a finding, 2 bad usage or input (nothing was run), 3
interrupted (SIGINT or SIGTERM: what ran is written, one line says so).  Output
paths are checked writable before any work starts; numbers are checked by the
argparse types below.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading

EXIT_CLEAN, EXIT_FINDING, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 3
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def usage_error(prog: str, message: str) -> int:
    """One line on stderr naming the problem and the help to read; EXIT_USAGE."""
    sys.stderr.write(f"{prog}: error: {message}; run '{prog} --help' for the options\n")
    return EXIT_USAGE


def interrupted(prog: str, what: str) -> int:
    """One line on stderr saying what ran and what to do next; EXIT_INTERRUPTED."""
    sys.stderr.write(f"{prog}: interrupted: {what}\n")
    sys.stderr.flush()
    return EXIT_INTERRUPTED


# ============================================================================
# argparse types
# ============================================================================


def converted(convert, text: str, flag: str, kind: str):
    """``convert(text)`` (``int``, ``float``, ...); where that raises ValueError, an argparse
    error ``FLAG must be KIND, got 'TEXT'``."""
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{flag} must be {kind}, got {text!r}") from None


def at_least(low: int, flag: str):
    """An argparse type: an integer >= ``low``."""
    def parse(text: str) -> int:
        value = converted(int, text, flag, "an integer")
        if value < low:
            raise argparse.ArgumentTypeError(f"{flag} must be >= {low}, got {value}")
        return value
    return parse


def positive_int(flag: str):
    return at_least(1, flag)


def number(flag: str, *, zero_ok: bool = False, low: float = 0.0, kind: str = "a number"):
    """An argparse type: a finite number > ``low`` (>= with ``zero_ok``); text that is no
    number is refused as not ``kind``."""
    def parse(text: str) -> float:
        value = converted(float, text, flag, kind)
        ok = value >= low if zero_ok else value > low
        if not ok or value != value or value == float("inf"):
            raise argparse.ArgumentTypeError(
                f"{flag} must be {'>=' if zero_ok else '>'} {low:g}, got {text!r}")
        return value
    return parse


# ============================================================================
# Output paths, checked before any work
# ============================================================================


def _nearest_existing(path: str) -> str:
    path = os.path.abspath(path)
    while not os.path.lexists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def _why_unwritable(path: str):
    """Why the directory ``path`` can be neither written nor created, or None."""
    base = _nearest_existing(path)
    if not os.path.isdir(base):
        return f"{base} is not a directory"
    if not os.access(base, os.W_OK | os.X_OK):
        return f"{base} is not writable"
    return None


def unwritable_dir(path: str, flag: str):
    """None if ``path`` is a directory that can be written or created, else one line."""
    why = _why_unwritable(path)
    return why and f"{flag} {path}: not writable ({why}); choose a writable directory"


def unwritable_file(path: str, flag: str):
    """None if the file ``path`` can be written (its directory created), else one line."""
    if os.path.isdir(path):
        why = "it is a directory"
    elif os.path.exists(path) and not os.access(path, os.W_OK):
        why = f"{path} is not writable"
    else:
        why = _why_unwritable(os.path.dirname(os.path.abspath(path)))
    return why and f"{flag} {path}: not writable ({why}); choose a writable file path"


def first_unwritable(dirs=(), files=()):
    """The first problem among (path, flag) pairs of directories and files, or None."""
    for path, flag in dirs:
        if path and (problem := unwritable_dir(path, flag)):
            return problem
    for path, flag in files:
        if path and path != "-" and (problem := unwritable_file(path, flag)):
            return problem
    return None


# ============================================================================
# Signals
# ============================================================================


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt():
    """SIGTERM raises KeyboardInterrupt, as SIGINT does (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


class StopFlag:
    """SIGINT/SIGTERM set a flag that a loop polls; a second signal raises
    KeyboardInterrupt.  A context manager (main thread only); call it to read the flag."""

    def __init__(self):
        self.signum = None
        self._old = {}

    def __call__(self) -> bool:
        return self.signum is not None

    def _handler(self, signum, frame):
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = {s: signal.signal(s, self._handler) for s in SIGNALS}
        return self

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)
        return False


def ignore_sigint() -> None:
    """A worker process's initializer: the parent alone handles Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


__all__ = ["EXIT_CLEAN", "EXIT_FINDING", "EXIT_USAGE", "EXIT_INTERRUPTED", "StopFlag",
           "at_least", "converted", "first_unwritable", "ignore_sigint", "interrupted", "number",
           "positive_int", "sigterm_as_interrupt", "unwritable_dir", "unwritable_file",
           "usage_error"]
