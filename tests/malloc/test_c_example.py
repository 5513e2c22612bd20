"""The C example allocator (examples/c/): it builds and keeps the malloc contract under real
threads (each planted bug is shown live in ``test_c_example_planted.py``).

Every scenario runs in a child process (``env=child_env()``) that dlopens one build with
cffi and drives it from real threads (a ``Worker`` is one thread running the calls given
to it in order, like one virtual tid), so a crash is a failed scenario, not a dead test
run.  A bug's scenario runs on its build and on the correct one: the effect must show on
the first and not on the second.
"""
from __future__ import annotations

import json
import threading

import pytest

from examples.c import build as exbuild
from hakmem_verify.models.malloc.spec import resolve

from .c_example_scenarios import compiler, run_scenario  # noqa: F401  (compiler: a fixture)

pytestmark = pytest.mark.usefixtures("compiler")

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
