"""The C example allocator (examples/c/): it builds, keeps the malloc contract under real
threads, and each planted bug is live, shown directly on the library.

Every scenario runs in a child process (``env=child_env()``) that dlopens one build with
cffi and drives it from real threads (a ``Worker`` is one thread running the calls given
to it in order, like one virtual tid), so a crash is a failed scenario, not a dead test
run.  A bug's scenario runs on its build and on the correct one: the effect must show on
the first and not on the second.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading

import pytest

from examples.c import build as exbuild
from hakmem_malloc.probe import child_env
from hakmem_malloc.spec import resolve

HANG_GUARD = 120   # seconds: a scenario that has not finished by then hangs


@pytest.fixture(scope="module", autouse=True)
def _compiler():
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


# ---------------------------------------------------------------------------
# Building and naming
# ---------------------------------------------------------------------------

def test_the_correct_build_compiles_into_the_path_the_adapter_file_names():
    lib = exbuild.build()
    assert lib.is_file() and lib.read_bytes()[:4] == b"\x7fELF"
    assert (exbuild.HERE / "build" / exbuild.STABLE).resolve() == lib.resolve()
    assert json.loads(exbuild.ADAPTER.read_text())["lib"] == "./build/" + exbuild.STABLE


def test_an_unchanged_source_is_not_compiled_again():
    first = exbuild.build()
    mtime = first.stat().st_mtime_ns
    assert exbuild.build() == first and first.stat().st_mtime_ns == mtime


@pytest.mark.parametrize("bug", sorted(exbuild.BUGS))
def test_every_planted_bug_builds(bug):
    lib = exbuild.build(bug)
    assert lib.is_file() and bug in lib.name
    assert lib.read_bytes() != exbuild.build().read_bytes()


def test_an_unknown_bug_name_is_refused_with_the_list_of_bugs():
    with pytest.raises(exbuild.BuildError) as e:
        exbuild.build("no-such-bug")
    msg = str(e.value)
    assert "\n" not in msg and "no-such-bug" in msg and "collect-loses-tail" in msg


def test_parallel_builds_of_one_variant_agree(tmp_path):
    out, errors = [], []

    def one():
        try:
            out.append(exbuild.build("collect-loses-tail", out_dir=tmp_path))
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(out)) == 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_the_prefix_spec_finds_every_entry_point():
    lib = exbuild.build()
    spec = resolve(f"malloc:{exbuild.HERE / 'build' / exbuild.STABLE}:ex_")
    assert spec.symbols == {
        "malloc": "ex_malloc", "free": "ex_free", "realloc": "ex_realloc",
        "calloc": "ex_calloc", "aligned_alloc": "ex_aligned_alloc",
        "posix_memalign": "ex_posix_memalign", "usable_size": "ex_malloc_usable_size"}
    assert spec.lib == str(lib.resolve())


def test_the_adapter_file_names_the_thread_hooks_and_the_statistics():
    exbuild.build()
    spec = resolve(f"malloc:{exbuild.ADAPTER}")
    assert len(spec.symbols) == 7
    assert (spec.thread_init, spec.thread_fini) == ("ex_thread_init", "ex_thread_fini")
    assert spec.stats == "symbol:ex_allocated_bytes"


# ---------------------------------------------------------------------------
# The correct build keeps the contract under real threads
# ---------------------------------------------------------------------------

SMOKE = r'''
import bisect
THREADS, OPS = 4, 1500
base = lib.ex_allocated_bytes()
guard = threading.Lock()
starts, live = [], {}          # sorted addresses; address -> (size, byte)
errors = []
barrier = threading.Barrier(THREADS)


def register(p, size, byte, what):
    a = A(p)
    with guard:
        if a in live:
            errors.append(f"{what} returned {a:#x}, a live block")
            return
        i = bisect.bisect(starts, a)
        if i > 0 and starts[i - 1] + max(live[starts[i - 1]][0], 1) > a:
            errors.append(f"{what} {a:#x} ({size} bytes) overlaps live {starts[i - 1]:#x}")
        if i < len(starts) and a + max(size, 1) > starts[i]:
            errors.append(f"{what} {a:#x} ({size} bytes) overlaps live {starts[i]:#x}")
        starts.insert(i, a)
        live[a] = (size, byte)


def take(rng):
    with guard:
        if not starts:
            return None
        a = starts.pop(rng.randrange(len(starts)))
        return a, *live.pop(a)


def check(a, size, byte, what):
    if read(ffi.cast("void *", a), size) != bytes([byte]) * size:
        errors.append(f"{what}: block {a:#x} ({size} bytes) lost its fill {byte:#x}")


def fresh(p, size, byte, what):
    if p == ffi.NULL:
        errors.append(f"{what}({size}) returned NULL")
        return
    if lib.ex_malloc_usable_size(p) < size:
        errors.append(f"{what}({size}) at {A(p):#x}: usable size {lib.ex_malloc_usable_size(p)}")
    natural = 16
    while natural > 1 and natural > size:
        natural //= 2
    if A(p) % natural:
        errors.append(f"{what}({size}) at {A(p):#x} is not {natural}-aligned")
    write(p, size, byte)
    register(p, size, byte, what)


def size_of(rng):
    return rng.choice((rng.randrange(0, 129), rng.randrange(0, 2100), rng.randrange(2000, 9000)))


def thread_main(tid):
    rng = random.Random(tid)
    try:
        for i in range(OPS):
            byte = rng.randrange(1, 256)
            op = rng.randrange(8)
            if op <= 2:
                n = size_of(rng)
                fresh(lib.ex_malloc(n), n, byte, "malloc")
            elif op == 3:
                n = size_of(rng)
                p = lib.ex_calloc(1, n)
                if p != ffi.NULL and read(p, n) != bytes(n):
                    errors.append(f"calloc(1, {n}) at {A(p):#x} is not zero")
                fresh(p, n, byte, "calloc")
            elif op == 4:
                n, al = size_of(rng), 1 << rng.randrange(4, 13)
                p = lib.ex_aligned_alloc(al, n)
                if A(p) % al:
                    errors.append(f"aligned_alloc({al}, {n}) at {A(p):#x} is misaligned")
                fresh(p, n, byte, "aligned_alloc")
            elif op == 5:
                got = take(rng)
                if got:
                    a, size, old = got
                    check(a, size, old, "before realloc")
                    n = size_of(rng)
                    q = lib.ex_realloc(ffi.cast("void *", a), n)
                    keep = min(n, size)
                    if read(q, keep) != bytes([old]) * keep:
                        errors.append(f"realloc({a:#x}, {size} -> {n}) lost the old prefix")
                    fresh(q, n, byte, "realloc")
            else:
                got = take(rng)          # any thread's block: frees cross threads
                if got:
                    a, size, old = got
                    check(a, size, old, "before free")
                    lib.ex_free(ffi.cast("void *", a))
            if i % 100 == 0:
                lib.ex_free(ffi.NULL)
        barrier.wait()
        if tid == 0:
            with guard:
                in_use = sum(s for s, _ in live.values())
            if lib.ex_allocated_bytes() < base + in_use:
                errors.append(f"statistics {lib.ex_allocated_bytes()} below the {in_use} "
                              f"bytes live")
        barrier.wait()
        while (got := take(rng)) is not None:
            check(got[0], got[1], got[2], "before the last free")
            lib.ex_free(ffi.cast("void *", got[0]))
    except Exception as e:
        errors.append(f"thread {tid}: {type(e).__name__}: {e}")
        barrier.abort()
    finally:
        lib.ex_thread_fini()


threads = [threading.Thread(target=thread_main, args=(t,)) for t in range(THREADS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
after = lib.ex_allocated_bytes()
if after != base:
    errors.append(f"statistics {after} after every block was freed and every thread "
                  f"exited, baseline {base} ({stats_delta(after, base):+d})")
report(errors, "; ".join(errors[:5]), errors=errors[:20])
'''


def test_four_threads_with_cross_thread_frees_keep_every_contract():
    got = run_scenario(exbuild.build(), SMOKE)
    assert not got["effect"], "\n".join(got["errors"])


# ---------------------------------------------------------------------------
# Each planted bug is live: its effect, directly on the library
# ---------------------------------------------------------------------------

def test_double_alloc_after_overflow_returns_one_block_twice():
    contrast("double-alloc-after-overflow", r'''
        w = Worker()
        blocks = [w(lib.ex_malloc, 16) for _ in range(40)]
        for p in blocks:                      # the 33rd free overflows the cache
            w(lib.ex_free, p)
        again = [A(w(lib.ex_malloc, 16)) for _ in range(80)]
        dups = len(again) - len(set(again))
        report(dups, f"{dups} of 80 live blocks share an address")
    ''')


def test_collect_loses_tail_keeps_a_remote_free_counted_forever():
    contrast("collect-loses-tail", r'''
        a, b = Worker(), Worker()
        base = lib.ex_allocated_bytes()
        p = a(lib.ex_malloc, 16)
        b(lib.ex_free, p)                     # onto a's remote list
        q = a(lib.ex_malloc, 16)              # a's empty cache collects the list
        a(lib.ex_free, q)
        a.exit(); b.exit()
        d = stats_delta(lib.ex_allocated_bytes(), base)
        report(d != 0, f"every block freed, every thread exited: statistics {d:+d} bytes "
                       f"from the baseline")
    ''')


def test_realloc_shrink_copies_old_size_clobbers_the_next_blocks():
    contrast("realloc-shrink-copies-old-size", r'''
        w = Worker()
        blocks = [w(lib.ex_malloc, 16) for _ in range(10)]    # adjacent 16-byte blocks
        for i, p in enumerate(blocks):
            write(p, 16, 0x40 + i)
        big = w(lib.ex_malloc, 64)
        write(big, 64, 0xEE)
        w(lib.ex_free, blocks[4])
        q = w(lib.ex_realloc, big, 16)                       # moves into blocks[4]'s place
        hit = [i for i, p in enumerate(blocks) if i != 4 and read(p, 16) != bytes([0x40 + i]) * 16]
        report(hit or read(q, 16) != b"\xee" * 16,
               f"realloc(64 -> 16) to {A(q):#x} clobbered neighbours {hit}")
    ''')


def test_calloc_reused_not_zeroed_hands_back_old_bytes():
    contrast("calloc-reused-not-zeroed", r'''
        w = Worker()
        p = w(lib.ex_malloc, 64)
        write(p, 64, 0xAB)
        w(lib.ex_free, p)
        q = w(lib.ex_calloc, 1, 64)
        nonzero = sum(1 for x in read(q, 64) if x)
        report(nonzero, f"calloc(1, 64) at {A(q):#x} (the freed block: {A(q) == A(p)}) has "
                        f"{nonzero} nonzero bytes")
    ''')


def test_aligned_alloc_class_too_small_serves_three_units_from_a_class_of_two():
    contrast("aligned-alloc-class-too-small", r'''
        w = Worker()
        got = [w(lib.ex_aligned_alloc, 64, 3 * 64) for _ in range(8)]
        short = [lib.ex_malloc_usable_size(p) for p in got if lib.ex_malloc_usable_size(p) < 192]
        bad = [hex(A(p)) for p in got if A(p) % 64]
        report(short or bad, f"aligned_alloc(64, 192): usable sizes {short} below 192, "
                             f"{len(bad)} blocks not 64-aligned")
    ''')


def test_exit_leaves_remote_list_hands_a_remotely_freed_block_out_twice():
    contrast("exit-leaves-remote-list", r'''
        a, b = Worker(), Worker()
        base = lib.ex_allocated_bytes()
        p = a(lib.ex_malloc, 16)
        b(lib.ex_free, p)                     # onto a's remote list
        a.exit(); b.exit()                    # a's exit hands the list to the depot
        d = stats_delta(lib.ex_allocated_bytes(), base)     # collects abandoned heaps
        c = Worker()
        again = [A(c(lib.ex_malloc, 16)) for _ in range(40)]
        dups = len(again) - len(set(again))
        report(d != 0 or dups, f"statistics {d:+d} bytes from the baseline; block {A(p):#x} "
                               f"returned {again.count(A(p))} times to one thread")
    ''')


def test_realloc_not_counted_drifts_the_statistics():
    contrast("realloc-not-counted", r'''
        w = Worker()
        base = lib.ex_allocated_bytes()
        p = w(lib.ex_malloc, 16)
        q = w(lib.ex_realloc, p, 100)          # moves to the 128-byte class
        w(lib.ex_free, q)
        w.exit()
        d = stats_delta(lib.ex_allocated_bytes(), base)
        report(d != 0, f"after malloc(16), realloc(100), free, exit: statistics {d:+d} "
                       f"bytes from the baseline")
    ''')


def test_class_boundary_off_by_one_serves_a_class_size_from_the_class_below():
    contrast("class-boundary-off-by-one", r'''
        w = Worker()
        p, q = w(lib.ex_malloc, 32), w(lib.ex_malloc, 32)
        u = lib.ex_malloc_usable_size(p)
        report(u < 32, f"malloc(32) has usable size {u}; two malloc(32) lie "
                       f"{abs(A(q) - A(p))} bytes apart")
    ''')


def test_every_planted_bug_has_a_demonstration_here():
    names = {n for n in globals() if n.startswith("test_")}
    for bug in exbuild.BUGS:
        assert any(n.startswith("test_" + bug.replace("-", "_")) for n in names), bug
