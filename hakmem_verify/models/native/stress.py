"""Real threads: the C stress driver (csrc/hk_stress.c) through cffi, and its
ThreadSanitizer build as a program.

Every live block carries its owner and a sequence tag (the first and last 8 bytes), so a
double allocation or an overwrite is reported when it happens; after join: exact
statistics, reported statistics within the batch bound and within 1%, conservation; after
thread exit and quiesce, every slab released.  A finding's message starts with the name
of the check (``[STRESS-TAG]``, ``[STRESS-EXACT]``, ...)."""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from hakmem_verify.contract.api import Config

from . import build
from .allocator import c_config

WORKLOADS = {"larson": 0, "prodcons": 1, "producer-consumer": 1}

#: ``--small``: the slow paths (adoption, eviction, release, drains) on every few ops
SMALL = Config(slab_size=4096, mini_mag_capacity=4, refill_batch=4, magazine_capacity=8,
               flush_interval=16)
#: SuperSlab mode: the seed's (2 MiB SuperSlabs, a pool of 2, tls_sll of 64)
SUPERSLAB = Config(use_superslab=True)
#: SuperSlab mode, small: 4-slot SuperSlabs, a pool of 1, tls_sll of 4 (SuperSlabs taken,
#: released, pooled, unmapped and reclaimed all the time)
SMALL_SUPERSLAB = Config(slab_size=4096, mini_mag_capacity=4, refill_batch=4,
                         magazine_capacity=8, flush_interval=16, use_superslab=True,
                         superslab_size=4 * 4096, superslab_pool_max=1, tls_sll_capacity=4)


def config_for(small: bool = False, superslab: bool = False) -> Config:
    """The stress Config of the command's flags (the program's ``small`` / ``ss``)."""
    if superslab:
        return SMALL_SUPERSLAB if small else SUPERSLAB
    return replace(SMALL if small else Config(), use_superslab=False)


@dataclass
class StressResult:
    status: int          # 0 clean, 1 a finding, 2 bad parameters
    message: str
    ops: int
    seconds: float

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else 0.0


def run(threads: int, workload: str, ops: int, seed: int = 1, mutant: str = None,
        config: Config = Config()) -> StressResult:
    """The workload on ``threads`` pthreads inside C, in a forked child (``_in_child``)."""
    mod = build.load(mutant)
    ffi, lib = mod.ffi, mod.lib
    prm = ffi.new("hk_stress_params *")
    prm.threads, prm.workload, prm.ops, prm.seed = threads, WORKLOADS[workload], ops, seed
    prm.max_size, prm.ring = config.max_size, 1024
    prm.cfg = c_config(ffi, config)[0]
    return _in_child(lambda: _call(ffi, lib, prm))


def _call(ffi, lib, prm) -> StressResult:
    rc = lib.hk_stress_run(prm)
    return StressResult(rc, ffi.string(prm.message).decode(), prm.done_ops, prm.seconds)


def _in_child(fn) -> StressResult:
    """``fn()`` in a forked child, so that a signal stops the parent at once (on
    KeyboardInterrupt the child is killed) and a crash of the C pool is a result
    (status -signal, as :func:`run_program` reports it)."""
    r, w = os.pipe()
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)   # until the try below
    pid = os.fork()
    if pid == 0:                                   # pragma: no cover - the child
        _child(fn, r, w, old)
    os.close(w)
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
        with os.fdopen(r, "rb") as f:
            data = f.read()
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        raise
    finally:
        _, status = os.waitpid(pid, 0)
    if data:
        return pickle.loads(data)
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
    return StressResult(-sig or 1, f"the stress driver died (signal {sig}): the C pool "
                                   "crashed; rerun with --tsan or under gdb", 0, 0.0)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _child(fn, r: int, w: int, mask) -> None:
    """The forked child: run ``fn``, send its result through ``w``; never returns."""
    try:
        os.close(r)
        for sig in _STOP_SIGNALS:                  # a signal ends the child at once
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        data = pickle.dumps(fn())
        with os.fdopen(w, "wb") as f:
            f.write(data)
    finally:
        os._exit(0)


class TsanUnavailable(RuntimeError):
    """No ThreadSanitizer here (the message says why)."""


def program(mutant: str = None, tsan: bool = False) -> Path:
    """The stress driver as a program (csrc/hk_stress_main.c), built with plain gcc and
    cached: with ``tsan`` under -fsanitize=thread (TsanUnavailable if the toolchain cannot
    build or run one), else at -O1 (the quality tests' compile-time mutants build in half
    a second this way, against about 1.5 s for a cffi module)."""
    cc = build.compiler()
    if not cc:
        raise TsanUnavailable("no C compiler found (cc, gcc or $CC)")
    kind = "tsan" if tsan else "plain"
    key = build.variant_key(mutant) + "-" + kind
    out = build.cache_dir() / f"hk_stress_{kind}_{(mutant or 'base').replace('-', '_')}_{key}"
    if not out.exists():
        csrc = build.CSRC
        macro = [f"-DHAKMEM_MUTANT={build.MUTANTS[mutant]}"] if mutant else []
        flags = ["-O1", "-g", "-fsanitize=thread"] if tsan else ["-O1"]
        tmp = f"{out}.{os.getpid()}.tmp"
        cmd = [cc, "-std=c11", *flags, *macro, str(csrc / "hk_all.c"),
               str(csrc / "hk_stress_main.c"), "-o", tmp, "-lpthread"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            raise TsanUnavailable(f"{' '.join(cmd[:3])}... failed: "
                                  f"{(r.stderr.strip().splitlines() or ['?'])[-1]}")
        os.replace(tmp, out)
    if tsan:
        probe = subprocess.run([str(out), "1", "larson", "100"], capture_output=True, text=True)
        if probe.returncode and "ThreadSanitizer" in probe.stderr and "FATAL" in probe.stderr:
            raise TsanUnavailable(f"the ThreadSanitizer runtime does not start here: "
                                  f"{probe.stderr.strip().splitlines()[0]}")
    return out


def tsan_program(mutant: str = None) -> Path:
    """The stress driver built with -fsanitize=thread (see :func:`program`)."""
    return program(mutant, tsan=True)


def _flags(small: bool, superslab: bool) -> list:
    return (["small"] if small else []) + (["ss"] if superslab else [])


def run_program(threads: int, workload: str, ops: int, mutant: str = None, seed: int = 1,
                small: bool = False, superslab: bool = False):
    """The plain program build: a StressResult (message from its stderr)."""
    prog = program(mutant)
    w = "prodcons" if WORKLOADS[workload] else "larson"
    r = subprocess.run([str(prog), str(threads), w, str(ops), str(seed)]
                       + _flags(small, superslab), capture_output=True, text=True)
    return StressResult(r.returncode, r.stderr.strip(), 0, 0.0)


def run_tsan(threads: int, workload: str, ops: int, mutant: str = None, seed: int = 1,
             small: bool = False, superslab: bool = False):
    """(exit status, number of ThreadSanitizer reports, stderr) of the TSan build."""
    prog = tsan_program(mutant)
    w = "prodcons" if WORKLOADS[workload] else "larson"
    r = subprocess.run([str(prog), str(threads), w, str(ops), str(seed)]
                       + _flags(small, superslab),
                       capture_output=True,
                       text=True, env={**os.environ, "TSAN_OPTIONS": "halt_on_error=0"})
    return r.returncode, r.stderr.count("WARNING: ThreadSanitizer"), r.stderr
