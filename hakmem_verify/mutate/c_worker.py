"""One C mutant: its build in a scratch directory, its hunt in a worker process.

Each build gets a scratch directory of its own: the (mutated) C file under its own name,
copies of the headers of the original's directory beside it, and the library written to
a path no other build uses (``hakmem_verify.models.malloc.spec`` caches specs by their text, and each
library's zygote stays alive).  The user's ``--build`` command runs in the current
directory through the shell, with ``{src}`` and ``{out}`` replaced by the quoted paths.

Two builds are *identical* when the sections the loader maps (code, read-only data, data,
symbol tables) are byte for byte the same at the same addresses: the compiler removed the
edit (an ``#ifdef`` block the build leaves out, a dead store), so no test can tell the
mutant from the original.  Notes (the build ID) and debug sections are not compared.

The hunt runs in a worker process (``python -m hakmem_verify.mutate.c_worker --worker JOB``),
which prints its verdict as one tagged JSON line: a library that crashes the harness's
side, or a hunt that outlives its watchdog, costs one worker, never the campaign.
Builds and workers run in their own sessions and are tracked in :data:`LIVE`, so
:func:`interrupt` stops them all (SIGTERM to each group, then SIGKILL).
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Optional

from hakmem_verify.runner.session_process import communicate_in_session

STOP = threading.Event()        # set on Ctrl-C / SIGTERM: no new mutant starts
LIVE = set()                    # running build and worker processes
TAG = "MUTATE-C-RESULT "
#: shrinking after a kill (successful shrinks, seconds): the kill and its check are what
#: counts here, not the shortest trace
SHRINKS, SHRINK_SECONDS = 10, 5
#: --stress: every workload of the driver, this many threads and calls, sizes up to ...
STRESS_THREADS, STRESS_OPS, STRESS_MAX_SIZE, STRESS_TIMEOUT = 4, 50_000, 1 << 16, 20.0
#: hunt settings of the malloc tier's own quality tests
CHUNK, STEP_COUNT = 20, 40
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass
class Target:
    """What the campaign mutates, how it builds it and how it names the entry points."""
    path: str                   # the C file as given (in diffs and the report)
    abspath: str
    build: str                  # shell command with {src} and {out}
    prefix: Optional[str]       # --prefix (None: the adapter's)
    adapter: Optional[dict]     # --adapter's contents, "lib" replaced per build
    budget: float
    seed: int
    stress: bool
    build_timeout: float


# ============================================================================
# Processes: builds and workers, each in its own session, stoppable as a group
# ============================================================================


def run_process(cmd, timeout: float, cwd: str = None, env: dict = None, shell: bool = False):
    """(returncode, stdout, stderr) of a process in its own session; returncode None when
    it ran past ``timeout`` (its group was stopped)."""
    p, out, err = communicate_in_session(cmd, timeout, LIVE, _stop_and_read, cwd=cwd,
                                         env=env, shell=shell, stderr=subprocess.PIPE,
                                         errors="replace")
    return (None if p is None else p.returncode), out, err


def _stop_and_read(p) -> tuple:
    """(stdout, stderr) of the process ``p`` once :func:`_stop` has ended its group."""
    _stop(p)
    return p.communicate()


def _stop(p, grace: float = 2.0) -> None:
    """SIGTERM to the process group (a worker then stops its stress driver), then
    SIGKILL after ``grace`` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(p.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            p.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def interrupt() -> None:
    """No new mutant starts; every running build and worker is stopped."""
    STOP.set()
    for p in list(LIVE):
        _stop(p)


# ============================================================================
# Builds, and telling two apart
# ============================================================================


def loaded_sections(path: str):
    """[(name, address, size, bytes)] of the sections of an ELF64 little-endian library
    that are loaded at run time (SHF_ALLOC), notes left out (the build ID changes with
    any byte, debug info is not loaded); None for any other file."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4:6] != b"\x02\x01" or len(data) < 64:
        return None
    shoff, = struct.unpack_from("<Q", data, 0x28)
    entsize, count, names_at = struct.unpack_from("<HHH", data, 0x3A)
    heads = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + k * entsize)
             for k in range(count)]
    names = data[heads[names_at][4]:heads[names_at][4] + heads[names_at][5]]
    out = []
    for name, kind, flags, addr, off, size, *_ in heads:
        if flags & 0x2 and kind != 7:               # SHF_ALLOC, not SHT_NOTE
            body = b"" if kind == 8 else data[off:off + size]   # SHT_NOBITS: no bytes
            out.append((names[name:names.index(b"\0", name)], addr, size, body))
    return out


def identical_build(a: str, b: str) -> bool:
    """Whether two builds load the same code and data (then the mutant is equivalent:
    the compiler removed the edit, e.g. in an ``#ifdef`` block the build leaves out)."""
    try:
        sa, sb = loaded_sections(a), loaded_sections(b)
    except (OSError, struct.error, ValueError, IndexError):
        return False
    if sa is None or sb is None:
        with open(a, "rb") as fa, open(b, "rb") as fb:
            return fa.read() == fb.read()
    return sa == sb


def build_in(t: Target, scratch: str, source: bytes, tag: str) -> dict:
    """Write ``source`` (and the headers beside the C file) into ``scratch`` and build it;
    {"ok", "out", "spec", "message", "seconds"}."""
    here = os.path.dirname(t.abspath)
    for name in sorted(os.listdir(here)):
        if name.endswith(".h") and os.path.isfile(os.path.join(here, name)):
            shutil.copy2(os.path.join(here, name), scratch)
    src = os.path.join(scratch, os.path.basename(t.abspath))
    with open(src, "wb") as f:
        f.write(source)
    stem = os.path.splitext(os.path.basename(t.abspath))[0]
    out = os.path.join(scratch, f"lib{stem}-{tag}.so")
    cmd = t.build.replace("{src}", shlex.quote(src)).replace("{out}", shlex.quote(out))
    t0 = time.monotonic()
    rc, _, err = run_process(cmd, t.build_timeout, shell=True)
    res = dict(out=out, seconds=round(time.monotonic() - t0, 2), command=cmd)
    if rc is None:
        return dict(res, ok=False, hang=True, message=f"the build ran past --build-timeout "
                                                      f"{t.build_timeout:g} s")
    if rc != 0 or not os.path.isfile(out):
        lines = [ln.strip() for ln in err.splitlines() if ln.strip()]
        first = next((ln for ln in lines if ("error" in ln.lower() or "undefined reference"
                                              in ln) and not ln.startswith("collect2")),
                     lines[-1] if lines else "")
        first = first.replace(scratch + os.sep, "")     # name the file as the user does
        why = (f"exit status {rc}" if rc else f"exit status 0 but no {out} was written")
        return dict(res, ok=False, hang=False, message=f"{why}: {first}" if first else why)
    spec = f"malloc:{out}:{t.prefix}" if t.adapter is None else adapter_spec(t, scratch, out)
    return dict(res, ok=True, hang=False, spec=spec, message="")


def adapter_spec(t: Target, scratch: str, out: str) -> str:
    """The spec of ``out`` named by the user's adapter: a copy next to it, "lib" = out."""
    path = os.path.join(scratch, os.path.splitext(os.path.basename(out))[0] + ".json")
    with open(path, "w") as f:
        json.dump(dict(t.adapter, lib=out), f)
    return f"malloc:{path}" + (f":{t.prefix}" if t.prefix else "")


# ============================================================================
# One mutant: its build, then its hunt in a worker process
# ============================================================================


def hunt_in_worker(spec: str, budget: float, seed: int, stress: bool, scratch: str) -> dict:
    """The verdict of a worker process (``--worker``) that hunts ``spec``."""
    job = dict(spec=spec, budget=budget, seed=seed, stress=stress)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [_ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    # the hunt ends by its budget plus shrinking (hanging replays: 30 s at most), loading
    # the library takes 30 s at most: a worker still running after this is stuck
    watchdog = budget * 2 + 60 + (len(_workloads()) * STRESS_TIMEOUT if stress else 0)
    rc, out, err = run_process([sys.executable, "-m", "hakmem_verify.mutate.c_worker", "--worker",
                                json.dumps(job)], watchdog, cwd=scratch, env=env)
    if rc is None:
        return dict(status="killed", inv_id="timeout", kill_time=round(watchdog, 1),
                    machine="watchdog", message=f"the worker ran past its watchdog "
                                                f"({watchdog:g} s): a hang")
    for line in reversed(out.splitlines()):
        if line.startswith(TAG):
            return json.loads(line[len(TAG):])
    tail = " | ".join(ln.strip() for ln in err.strip().splitlines()[-3:])
    return dict(status="error", message=f"the worker exited with status {rc} without a "
                                        f"verdict: {tail or 'no output'}")


def build_mutant(m, source: bytes, t: Target, reference: str) -> tuple:
    """(row, scratch, spec): the mutant built in a scratch directory of its own.  A
    mutant that did not build, or whose build is identical to the unmutated build, has
    its verdict in ``row`` already (scratch removed, None)."""
    scratch = tempfile.mkdtemp(prefix="hakmem-cmutant-")
    try:
        b = build_in(t, scratch, m.apply(source), "mutant")
        row = dict(m.as_dict(), diff=m.diff(source), build_seconds=b["seconds"])
        if b["ok"] and not identical_build(b["out"], reference):
            return row, scratch, b["spec"]
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    shutil.rmtree(scratch, ignore_errors=True)
    if not b["ok"]:
        row.update(status="build-hang" if b["hang"] else "no-build", message=b["message"])
    else:
        row.update(status="equivalent", equivalent_reason="the build is identical to the "
                   "unmutated build (code and data sections)")
    return row, None, None


def hunt_mutant(row: dict, scratch: str, spec: str, t: Target) -> dict:
    """The row of a built mutant with the hunt's verdict (its scratch removed)."""
    try:
        return dict(row, **hunt_in_worker(spec, t.budget, t.seed, t.stress, scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run_one(m, source: bytes, t: Target, reference: str) -> dict:
    """Build and hunt one mutant; its row."""
    row, scratch, spec = build_mutant(m, source, t, reference)
    return row if scratch is None else hunt_mutant(row, scratch, spec, t)


# ============================================================================
# The worker process
# ============================================================================


def _workloads() -> tuple:
    """The stress driver's workloads; () where hakmem_verify.models.malloc.stress is absent."""
    try:
        from hakmem_verify.models.malloc import stress
    except ImportError:
        return ()
    return tuple(getattr(stress, "WORKLOADS", ()))


def raise_interrupt(signum, frame):
    """SIGTERM handler: stop as Ctrl-C does (the stress driver's group is killed)."""
    raise KeyboardInterrupt


def worker(job: dict) -> int:
    """In the worker process: resolve the library, hunt it, then (``stress``) run the
    stress driver on a survivor; print one tagged JSON line."""
    signal.signal(signal.SIGTERM, raise_interrupt)

    def out(**kw):
        print(TAG + json.dumps(kw), flush=True)
        return 0
    from hakmem_verify.models.malloc.spec import MallocSpecError, resolve
    try:
        spec = resolve(job["spec"])
    except MallocSpecError as e:    # the library's constructor may be the mutant: a load
        #                             that crashes or hangs is a finding, as in the hunt
        msg = str(e)
        inv = "CRASH" if "killed the loader" in msg else "HANG" if "did not finish" in msg \
            else None
        if inv:
            return out(status="killed", inv_id=inv, kill_time=0.0, machine="load",
                       message=msg[:300])
        return out(status="error", message=msg[:300])
    from hakmem_verify.explore.chunks import shrink_limits
    from hakmem_verify.explore.hunt import hunt
    try:
        with shrink_limits(SHRINKS, SHRINK_SECONDS):
            r = hunt(budget=job["budget"], seed=job["seed"], impl=job["spec"], chunk=CHUNK,
                     step_count=STEP_COUNT)
    except Exception as e:  # the harness could not run it: named, not scored
        return out(status="error", message=f"{type(e).__name__}: {e}"[:300])
    if r.killed:
        return out(status="killed", inv_id=r.inv_id, kill_time=round(r.time_to_fail, 2),
                   machine="hunt", examples=r.examples, message=r.message[:300])
    notes = []
    if job["stress"]:
        from hakmem_verify.models.malloc import stress
        t0 = time.monotonic()
        for w in _workloads():
            s = stress.run(spec, w, STRESS_THREADS, STRESS_OPS, seed=job["seed"] + 1,
                           max_size=STRESS_MAX_SIZE, timeout=STRESS_TIMEOUT)
            if s.status == 1:
                return out(status="killed", inv_id=s.check,
                           kill_time=round(job["budget"] + time.monotonic() - t0, 2),
                           machine=f"stress:{w}", examples=r.examples, message=s.message[:300])
            if s.status == 2:
                notes.append(f"stress {w}: {s.message}")
    return out(status="survived", examples=r.examples, steps=r.steps,
               message="; ".join(notes)[:300])


def main(argv) -> int:
    if argv[:1] == ["--worker"] and len(argv) == 2:
        return worker(json.loads(argv[1]))
    sys.stderr.write("hakmem_verify.mutate.c_worker is started by hakmem-fuzz mutate --c-file\n")
    return 2


__all__ = ["LIVE", "STOP", "Target", "adapter_spec", "build_in", "build_mutant",
           "hunt_in_worker", "hunt_mutant", "identical_build", "interrupt",
           "loaded_sections", "run_one", "run_process", "worker"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
