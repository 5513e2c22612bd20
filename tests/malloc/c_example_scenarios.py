"""What the tests of the C example allocator share: a scenario runs in a child process that
dlopens one build with cffi and drives it from real threads (a ``Worker`` is one thread
running the calls given to it in order, like one virtual tid), so a crash is a failed
scenario, not a dead test run."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from examples.c import build as exbuild
from hakmem_verify.models.malloc.probe import child_env

HANG_GUARD = 120   # seconds: a scenario that has not finished by then hangs


@pytest.fixture(scope="module")
def compiler():
    if not exbuild.compiler():
        pytest.skip("examples/c needs a C compiler (set CC or install gcc)")
    pytest.importorskip("cffi", reason="the scenarios load the library with cffi (install "
                                       "the 'native' extra)")


PRELUDE = r'''
import json, queue, random, sys, threading
import cffi
ffi = cffi.FFI()
ffi.cdef("""
    void *ex_malloc(size_t); void ex_free(void *); void *ex_realloc(void *, size_t);
    void *ex_calloc(size_t, size_t); void *ex_aligned_alloc(size_t, size_t);
    int ex_posix_memalign(void **, size_t, size_t); size_t ex_malloc_usable_size(void *);
    size_t ex_allocated_bytes(void); void ex_thread_init(void); void ex_thread_fini(void);
""")
lib = ffi.dlopen(sys.argv[1])


def A(p):
    return int(ffi.cast("uintptr_t", p))


def write(p, n, byte):
    ffi.memmove(p, bytes([byte]) * n, n)


def read(p, n):
    return bytes(ffi.buffer(ffi.cast("char *", p), n))


def stats_delta(after, base):
    """after - base as a signed number (the counter is a size_t)."""
    return (after - base + 2**63) % 2**64 - 2**63


class Worker:
    """One real thread running the calls given to it, in order; exit() calls
    ex_thread_fini on it and joins it (a daemon: a scenario may end without exit())."""

    def __init__(self):
        self.jobs, self.results = queue.Queue(), queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            job = self.jobs.get()
            if job is None:
                lib.ex_thread_fini()
                return
            try:
                self.results.put((True, job[0](*job[1])))
            except BaseException as e:  # handed to the caller
                self.results.put((False, e))

    def __call__(self, fn, *args):
        self.jobs.put((fn, args))
        ok, value = self.results.get()
        if not ok:
            raise value
        return value

    def exit(self):
        self.jobs.put(None)
        self.thread.join()


def report(effect, detail, **more):
    print(json.dumps(dict(effect=bool(effect), detail=detail, **more)))


def free_remotely(a, b, size=16):
    """A block worker a allocates and worker b frees (onto a's remote list)."""
    p = a(lib.ex_malloc, size)
    b(lib.ex_free, p)
    return p


def report_drift(base, what):
    """The effect: the statistics moved away from ``base`` once everything was freed."""
    d = stats_delta(lib.ex_allocated_bytes(), base)
    report(d != 0, f"{what}: statistics {d:+d} bytes from the baseline")
'''


def run_scenario(lib, body: str) -> dict:
    """Run body (after PRELUDE) in a child with lib loaded; its last JSON line."""
    r = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(body), str(lib)],
                       capture_output=True, text=True, env=child_env(), timeout=HANG_GUARD)
    assert r.returncode == 0, (f"scenario on {lib} exited with {r.returncode}:\n"
                               f"{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def contrast(bug: str, body: str) -> None:
    """The effect shows on the build of bug and not on the correct build."""
    ok = run_scenario(exbuild.build(), body)
    assert not ok["effect"], f"the correct build shows the effect of {bug}: {ok['detail']}"
    bad = run_scenario(exbuild.build(bug), body)
    assert bad["effect"], f"the build of {bug} does not show its effect: {bad['detail']}"
