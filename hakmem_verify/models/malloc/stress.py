"""Real threads on any C allocator library: the stress driver (``csrc/mstress.c``).

The driver is a standalone C program, built once into the cache of ``hakmem_verify.models.native``
(keyed by a hash of its source), that dlopens the library under test (RTLD_LOCAL), looks
up the entry points the ``MallocSpec`` names and runs one of seven workloads on
pthreads: the shapes of mimalloc-bench's larson, xmalloc-test, mstress, cache-scratch,
sh6bench and glibc-thread, and thread-churn (threads that exit with live blocks that
others free later).  Every live block carries its owner and a sequence tag in its first
and last 8 bytes, so a double allocation or an overwrite is seen when it happens; the
first finding ends the run with one line naming the check (``[STRESS-TAG]``, ...).

The program runs in a child process of its own session: a library that crashes, aborts
or hangs is a finding (``CRASH``, ``ABORT``, ``HANG``), never the end of the harness.

>>> r = run("malloc:system", "glibc-thread", threads=2, ops=2000)   # doctest: +SKIP
>>> r.status, r.check
(0, '')
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from hakmem_verify.models.native import build

from .probe import child_env
from .spec import MallocSpec, resolve

SOURCE = Path(__file__).resolve().parent / "csrc" / "mstress.c"
CFLAGS = ["-std=c11", "-O2", "-pthread"]
LIBS = ["-ldl"]

#: the workloads, in the order ``--workload all`` runs them
WORKLOADS = ("larson", "xmalloc-test", "mstress", "cache-scratch", "sh6bench", "glibc-thread",
             "thread-churn")
#: sizes for general runs (the tiny-pool comparisons use 1024)
DEFAULT_MAX_SIZE = 1 << 20
DEFAULT_TIMEOUT = 120.0
MAX_THREADS = 1024          # csrc/mstress.c MAX_THREADS
STDERR_LINES = 3            # lines of the program's stderr kept in a CRASH/ABORT message


class StressUnavailable(RuntimeError):
    """The driver cannot be built here (no C compiler, or the build failed); one line."""


@dataclass
class MallocStressResult:
    """One run of the driver.

    status 0 clean, 1 a finding (``check`` names it), 2 unusable (bad parameters, or a
    library the driver cannot load; ``message`` says why).  ``ops`` and ``seconds`` are
    the calls made and the time taken so far when a finding stopped the run.  ``stats``
    holds the readings of the library's allocated-bytes counter (jemalloc, tcmalloc, an
    adapter's symbol): ``stats_before`` the run, ``stats_live`` after the workers exited
    with ``leftover_bytes`` still live, ``stats_after`` everything was freed.
    """

    status: int
    check: str                      # "STRESS-TAG", "CRASH", "ABORT", "HANG", ... or ""
    message: str                    # one line, starting "[CHECK]" for a finding
    ops: int
    seconds: float
    peak_rss_kb: int
    signal: Optional[int]           # the signal that ended the program, if one did
    workload: str
    threads: int
    seed: int
    stats: dict = field(default_factory=dict)   # the library's counter, where it has one

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else 0.0

    @property
    def ns_per_op(self) -> float:
        return self.seconds * 1e9 / self.ops if self.ops else 0.0


# ============================================================================
# Building the program
# ============================================================================


def _key(cc: str) -> str:
    h = hashlib.sha256(SOURCE.read_bytes())
    h.update(" ".join([cc, *CFLAGS, *LIBS]).encode())
    return h.hexdigest()[:12]


def program() -> Path:
    """The driver, compiled at first use into the cache (under a file lock, renamed into
    place when complete: parallel test workers share it).  StressUnavailable if it
    cannot be built.  Cost: one gcc run (about 0.3 s) the first time, then a stat."""
    cc = build.compiler()
    if not cc:
        raise StressUnavailable("the malloc stress driver cannot be built: no C compiler "
                                "found (cc, gcc or $CC); install gcc")
    out_dir = build.cache_dir()
    out = out_dir / f"mstress_{_key(cc)}"
    if out.exists():
        return out
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / ".mstress.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if out.exists():
            return out
        tmp = f"{out}.{os.getpid()}.tmp"
        cmd = [cc, *CFLAGS, str(SOURCE), "-o", tmp, *LIBS]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            first = next((ln for ln in r.stderr.splitlines() if "error" in ln),
                         (r.stderr.strip().splitlines() or ["?"])[-1])
            raise StressUnavailable(f"the malloc stress driver cannot be built: "
                                    f"{' '.join(cmd[:2])} ... {SOURCE.name} failed: {first}")
        os.replace(tmp, out)
    return out


def command(spec: MallocSpec, workload: str, threads: int, ops: int, seed: int = 1,
            max_size: int = DEFAULT_MAX_SIZE, aligned: bool = False) -> list:
    """The driver's argument list for one run (the program path first)."""
    args = [str(program()), spec.lib, workload, str(threads), str(ops), str(seed),
            str(max_size)]
    args += [f"{role}={sym}" for role, sym in spec.symbols.items()]
    args += [f"{hook}={getattr(spec, hook)}" for hook in ("init", "thread_init", "thread_fini")
             if getattr(spec, hook)]
    if spec.stats:
        args.append(f"stats={spec.stats}")
    if aligned:
        args.append("aligned=1")
    return args


# ============================================================================
# Running it
# ============================================================================


def _bad(message: str, workload: str, threads: int, seed: int) -> MallocStressResult:
    return MallocStressResult(2, "", message, 0, 0.0, 0, None, workload, threads, seed)


def check_parameters(workload: str, threads: int, ops: int, max_size: int,
                     seed: int = 1) -> str:
    """'' if the parameters can run, else one line saying what is wrong."""
    if workload not in WORKLOADS:
        return f"unknown workload {workload!r}; the workloads are {', '.join(WORKLOADS)}"
    for what, v, lo in (("threads", threads, 1), ("ops", ops, 1), ("max_size", max_size, 1),
                        ("seed", seed, 0)):
        if not isinstance(v, int) or isinstance(v, bool) or v < lo:
            return f"{what} must be an integer >= {lo}, got {v!r}"
    if threads > MAX_THREADS:
        return f"threads must be at most {MAX_THREADS}, got {threads}"
    if workload == "xmalloc-test" and threads < 2:
        return f"xmalloc-test needs threads >= 2 (producers and consumers), got {threads}"
    return ""


def run(spec: Union[MallocSpec, str], workload: str, threads: int, ops: int, seed: int = 1,
        max_size: int = DEFAULT_MAX_SIZE, timeout: float = DEFAULT_TIMEOUT,
        aligned: bool = False) -> MallocStressResult:
    """Run ``workload`` on ``threads`` pthreads with about ``ops`` allocator calls against
    the library ``spec`` (a MallocSpec or a ``malloc:...`` string, resolved here:
    MallocSpecError if it names no usable library), sizes up to ``max_size``.

    ``aligned`` adds posix_memalign/aligned_alloc calls to thread-churn.  A run longer
    than ``timeout`` seconds is a HANG (its process group is killed).  StressUnavailable
    if the driver cannot be built.  A KeyboardInterrupt kills the program, then
    propagates.  Cost: one process, about OPS / (10 M/s) seconds on a fast library.
    """
    if isinstance(spec, str):
        spec = resolve(spec)
    bad = check_parameters(workload, threads, ops, max_size, seed)
    if bad:
        return _bad(bad, workload, threads, seed)
    argv = command(spec, workload, threads, ops, seed, max_size, aligned)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            encoding="utf-8", errors="replace", env=child_env(),
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        return _result(spec, workload, threads, seed, None, out, err, hang=timeout)
    except BaseException:               # Ctrl-C, or anything else: the program goes too
        _kill_group(proc)
        proc.communicate()
        raise
    return _result(spec, workload, threads, seed, proc.returncode, out, err)


def _kill_group(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _parse_result_line(out: str) -> dict:
    """The key=value fields of the driver's ``mstress-result`` line ({} if none)."""
    for line in reversed(out.splitlines()):
        if line.startswith("mstress-result "):
            return dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
    return {}


def _tail(err: str) -> str:
    lines = [ln.strip() for ln in err.strip().splitlines() if ln.strip()]
    return " | ".join(lines[-STDERR_LINES:])


def _signame(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _result(spec: MallocSpec, workload: str, threads: int, seed: int, rc: Optional[int],
            out: str, err: str, hang: float = 0.0) -> MallocStressResult:
    fields = _parse_result_line(out)
    ops = int(fields.get("ops", 0))
    seconds = float(fields.get("seconds", 0.0))
    rss = int(fields.get("peak_rss_kb", 0))
    stats = {k: int(v) for k, v in fields.items() if k.startswith(("stats_", "leftover"))}
    where = f"workload {workload}, seed {seed}, {threads} threads, {spec.name}"
    tail = _tail(err)
    if hang:
        return MallocStressResult(1, "HANG", f"[HANG] the run did not finish in {hang:g} s "
                                  f"({where}); killed" + (f"; stderr: {tail}" if tail else ""),
                                  ops, seconds, rss, None, workload, threads, seed, stats)
    if rc is not None and rc < 0:
        sig = -rc
        check = "ABORT" if sig == signal.SIGABRT else "CRASH"
        return MallocStressResult(1, check, f"[{check}] the program was killed by "
                                  f"{_signame(sig)} ({where})"
                                  + (f"; stderr: {tail}" if tail else ""),
                                  ops, seconds, rss, sig, workload, threads, seed, stats)
    if rc == 0:
        return MallocStressResult(0, "", "", ops, seconds, rss, None, workload, threads, seed,
                                  stats)
    if rc == 2:
        return MallocStressResult(2, "", tail or "the driver refused its arguments", ops,
                                  seconds, rss, None, workload, threads, seed, stats)
    line = next((ln for ln in out.splitlines() if ln.startswith("[")), "")
    if rc == 1 and line:
        check = line[1:line.index("]")] if "]" in line else "STRESS"
        return MallocStressResult(1, check, line, ops, seconds, rss, None, workload, threads,
                                  seed, stats)
    return MallocStressResult(1, "CRASH", f"[CRASH] the program exited with status {rc} "
                              f"without a finding ({where})"
                              + (f"; stderr: {tail}" if tail else ""),
                              ops, seconds, rss, None, workload, threads, seed, stats)


__all__ = ["DEFAULT_MAX_SIZE", "DEFAULT_TIMEOUT", "MallocStressResult", "StressUnavailable",
           "WORKLOADS", "check_parameters", "command", "program", "run"]
