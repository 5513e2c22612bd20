"""``malloc:native``: the C pool behind a malloc front (libhakmem_tiny.so) builds, exports
only its hk_ names, and serves malloc, free, realloc, calloc and the aligned calls
correctly from several threads; thread exit returns a thread's caches.

The library is loaded in a child process (cffi ABI mode, the environment of
``hakmem_verify.models.malloc.probe.child_env``), never in the test process."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from hakmem_verify.models.malloc import native_lib
from hakmem_verify.models.malloc.probe import child_env
from hakmem_verify.models.malloc.spec import MallocSpecError, resolve

pytest.importorskip("cffi")
if not shutil.which("cc") and not shutil.which("gcc"):
    pytest.skip("no C compiler to build libhakmem_tiny.so", allow_module_level=True)

PRELUDE = r"""
import cffi, json, sys, threading
ffi = cffi.FFI()
ffi.cdef('''
    void *hk_malloc(size_t); void hk_free(void *); void *hk_realloc(void *, size_t);
    void *hk_calloc(size_t, size_t); size_t hk_malloc_usable_size(void *);
    void *hk_aligned_alloc(size_t, size_t); int hk_posix_memalign(void **, size_t, size_t);
    void hk_thread_init(void); void hk_thread_fini(void);
''')
lib = ffi.dlopen(sys.argv[1])
CLASSES = (8, 16, 32, 64, 128, 256, 512, 1024)

def addr(p):
    return int(ffi.cast("uintptr_t", p))

def fill(p, n, byte):
    ffi.memmove(p, bytes([byte]) * n, n)

def read(p, n):
    return ffi.buffer(p, n)[:]

def class_of(n):
    return next(c for c in CLASSES if n <= c)
"""

THREADS = PRELUDE + r"""
import queue, random
NT, N = 4, 1500
inbox = [queue.SimpleQueue() for _ in range(NT)]
live, lock, errors, counts = set(), threading.Lock(), [], {"pool": 0, "system": 0, "remote": 0}

def take(p, size, who):
    a = addr(p)
    if p == ffi.NULL:
        errors.append(f"{who}: NULL for {size}")
        return False
    u = lib.hk_malloc_usable_size(p)
    if size <= 1024 and u != class_of(size):
        errors.append(f"{who}: usable {u} for {size} (not the pool's class)")
    if u < size:
        errors.append(f"{who}: usable {u} < {size}")
    if a % (16 if size > 8 else 8):
        errors.append(f"{who}: 0x{a:x} misaligned for {size}")
    with lock:
        if a in live:
            errors.append(f"{who}: 0x{a:x} handed out while live")
        live.add(a)
        counts["pool" if size <= 1024 else "system"] += 1
    return True

def give(p, size, byte, who):
    if read(p, size) != bytes([byte]) * size:
        errors.append(f"{who}: block 0x{addr(p):x} of {size} B overwritten")
    with lock:
        live.discard(addr(p))
    lib.hk_free(p)

def worker(i):
    rnd = random.Random(i)
    mine = []
    for k in range(N):
        size = rnd.choice((rnd.randrange(0, 1025), rnd.randrange(0, 65), rnd.randrange(1025, 5000)))
        byte = (i * 37 + k) % 251 + 1
        op = rnd.random()
        if op < 0.15:
            p = lib.hk_calloc(1, size)
            if take(p, size, f"calloc t{i}") and read(p, size) != bytes(size):
                errors.append(f"t{i}: calloc({size}) not zeroed")
        else:
            p = lib.hk_malloc(size)
            take(p, size, f"malloc t{i}")
        fill(p, size, byte)
        if op > 0.9 and mine:
            q, qs, qb = mine.pop()
            with lock:
                live.discard(addr(q))
            new = rnd.randrange(0, 3000)
            r = lib.hk_realloc(q, new)
            keep = min(qs, new)
            if read(r, keep) != bytes([qb]) * keep:
                errors.append(f"t{i}: realloc {qs} -> {new} lost the contents")
            take(r, new, f"realloc t{i}")
            fill(r, new, qb)
            mine.append((r, new, qb))
        if rnd.random() < 0.5:
            inbox[(i + 1) % NT].put((p, size, byte))      # freed by the next thread
        else:
            mine.append((p, size, byte))
        while len(mine) > 64:
            give(*mine.pop(rnd.randrange(len(mine))), f"t{i}")
        while not inbox[i].empty():
            q = inbox[i].get()
            give(*q, f"t{i} (remote)")
            counts["remote"] += 1
    for b in mine:
        give(*b, f"t{i}")

ts = [threading.Thread(target=worker, args=(i,)) for i in range(NT)]
for t in ts: t.start()
for t in ts: t.join()
for i in range(NT):                  # blocks sent after their receiver finished
    while not inbox[i].empty():
        give(*inbox[i].get(), "main")
print(json.dumps({"errors": errors[:20], "live": len(live), **counts}))
"""

THREAD_EXIT = PRELUDE + r"""
import os, time
slabs = set()

def worker(k):
    ps = [lib.hk_malloc(64) for _ in range(300)]
    slabs.update(addr(p) >> 16 for p in ps)
    for p in ps:
        lib.hk_free(p)
    if k % 2:
        lib.hk_thread_fini()         # the same as exiting, now
        p = lib.hk_malloc(64)        # a fresh state, returned at exit
        slabs.add(addr(p) >> 16)
        lib.hk_free(p)

for k in range(30):
    t = threading.Thread(target=worker, args=(k,))
    t.start()
    native = t.native_id
    t.join()
    end = time.monotonic() + 5       # until the OS thread (and its TLS destructor) is gone
    while os.path.exists(f"/proc/self/task/{native}") and time.monotonic() < end:
        time.sleep(0.001)
print(json.dumps({"slabs": len(slabs)}))
"""

SEMANTICS = PRELUDE + r"""
import errno
out = {}
p = lib.hk_malloc(100); fill(p, 100, 7)
p = lib.hk_realloc(p, 3000); out["grow_kept"] = read(p, 100) == bytes([7]) * 100
fill(p, 3000, 9)
p = lib.hk_realloc(p, 50); out["shrink_kept"] = read(p, 50) == bytes([9]) * 50
out["shrunk_into_pool"] = lib.hk_malloc_usable_size(p) == 64
q = lib.hk_realloc(p, 0); out["realloc_0_live"] = q != ffi.NULL; lib.hk_free(q)
q = lib.hk_realloc(ffi.NULL, 24); out["realloc_null"] = lib.hk_malloc_usable_size(q) == 32
lib.hk_free(q)
d = lib.hk_malloc(64); fill(d, 64, 0xFF); lib.hk_free(d)
z = lib.hk_calloc(8, 8)
out["calloc_reused_zeroed"] = addr(z) == addr(d) and read(z, 64) == bytes(64)
lib.hk_free(z)
out["calloc_overflow_null"] = lib.hk_calloc(1 << 62, 16) == ffi.NULL
a = lib.hk_aligned_alloc(256, 10)
out["aligned_pool"] = addr(a) % 256 == 0 and lib.hk_malloc_usable_size(a) == 256
lib.hk_free(a)
pp = ffi.new("void **")
out["memalign_4096"] = lib.hk_posix_memalign(pp, 4096, 100) == 0 and addr(pp[0]) % 4096 == 0
lib.hk_free(pp[0])
out["memalign_bad"] = lib.hk_posix_memalign(pp, 24, 100) == errno.EINVAL
out["usable_null"] = lib.hk_malloc_usable_size(ffi.NULL) == 0
lib.hk_free(ffi.NULL)
big = lib.hk_malloc(1 << 20); fill(big, 1 << 20, 3); lib.hk_free(big)
out["zero_size"] = lib.hk_malloc_usable_size(lib.hk_malloc(0)) == 8
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def lib_path():
    return str(native_lib.build_or_raise())


def run_child(script: str, lib: str, env=None) -> dict:
    r = subprocess.run([sys.executable, "-c", script, lib], capture_output=True, text=True,
                       timeout=120, env=env or child_env())
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_malloc_native_resolves_to_the_hk_names_of_libhakmem_tiny(lib_path):
    spec = resolve("malloc:native")
    assert spec.name == "native" and os.path.basename(spec.path) == "libhakmem_tiny.so"
    assert spec.symbols == {"malloc": "hk_malloc", "free": "hk_free", "realloc": "hk_realloc",
                            "calloc": "hk_calloc", "aligned_alloc": "hk_aligned_alloc",
                            "posix_memalign": "hk_posix_memalign",
                            "usable_size": "hk_malloc_usable_size"}


def test_the_library_exports_its_hk_names_and_never_malloc_or_free(lib_path):
    if not shutil.which("nm"):
        pytest.skip("no nm to list the library's symbols")
    out = subprocess.run(["nm", "-D", "--defined-only", lib_path], capture_output=True,
                         text=True, check=True).stdout
    names = {ln.split()[-1] for ln in out.splitlines() if ln.strip()}
    assert names == {"hk_malloc", "hk_free", "hk_realloc", "hk_calloc", "hk_aligned_alloc",
                     "hk_posix_memalign", "hk_malloc_usable_size", "hk_thread_init",
                     "hk_thread_fini"}


def test_four_threads_allocate_and_free_each_others_blocks_intact(lib_path):
    got = run_child(THREADS, lib_path)
    assert got["errors"] == [] and got["live"] == 0
    assert got["pool"] > 1000 and got["system"] > 100 and got["remote"] > 100


def test_the_same_run_validates_every_free_with_the_check_switch_on(lib_path):
    got = run_child(THREADS, lib_path, env={**child_env(), "HAKMEM_NATIVE_CHECK": "1"})
    assert got["errors"] == [] and got["live"] == 0


def test_a_double_free_aborts_with_a_message_when_checking(lib_path):
    script = PRELUDE + "p = lib.hk_malloc(40)\nlib.hk_free(p)\nlib.hk_free(p)\n"
    r = subprocess.run([sys.executable, "-c", script, lib_path], capture_output=True,
                       text=True, timeout=60, env={**child_env(), "HAKMEM_NATIVE_CHECK": "1"})
    assert r.returncode < 0 and "hk_free(): invalid pointer" in r.stderr
    assert "double free" in r.stderr


def test_thread_exit_returns_the_caches_so_later_threads_reuse_the_same_slab(lib_path):
    """30 threads one after another, each freeing its 300 blocks before it exits (half of
    them call hk_thread_fini first): without the exit path each would strand its slab in
    its magazine and active slots, and the next would take a new one."""
    assert run_child(THREAD_EXIT, lib_path)["slabs"] <= 2


def test_realloc_calloc_and_the_aligned_calls_keep_their_contracts(lib_path):
    got = run_child(SEMANTICS, lib_path)
    assert [k for k, ok in got.items() if not ok] == [] and len(got) == 12, got


def test_dlclose_leaves_the_library_mapped_for_threads_still_exiting(lib_path):
    """A thread's key destructor (its caches back to the pool) may still run after the
    loader's last dlclose: the library is linked -z nodelete, so its code stays."""
    script = PRELUDE + (
        "t = threading.Thread(target=lambda: lib.hk_free(lib.hk_malloc(64)))\n"
        "t.start(); t.join()\n"
        "ffi.dlclose(lib)\n"
        "print(json.dumps({'mapped': sys.argv[1] in open('/proc/self/maps').read()}))\n")
    assert run_child(script, lib_path) == {"mapped": True}


def test_a_failing_compiler_is_one_line_naming_its_last_line(tmp_path, monkeypatch):
    cc = tmp_path / "badcc"
    cc.write_text("#!/bin/sh\necho 'first line' >&2\necho 'badcc: fatal error: no way' >&2\n"
                  "exit 1\n")
    cc.chmod(0o755)
    monkeypatch.setenv("CC", str(cc))
    monkeypatch.setenv("HAKMEM_NATIVE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(MallocSpecError) as e:
        native_lib.build_or_raise()
    msg = str(e.value)
    assert "\n" not in msg and "badcc: fatal error: no way" in msg and "failed" in msg
    assert not list((tmp_path / "cache").rglob("*.so"))       # nothing half-built left


def test_no_compiler_is_one_line_saying_to_install_one(tmp_path, monkeypatch):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MallocSpecError, match="no C compiler found.*install gcc"):
        native_lib.build_or_raise()


def test_parallel_builds_into_an_empty_cache_agree_on_one_library(tmp_path):
    env = {**child_env(), "HAKMEM_NATIVE_CACHE": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-m", "hakmem_verify.models.malloc.native_lib"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    paths = {o.strip() for o, _ in outs}
    assert len(paths) == 1 and os.path.basename(paths.pop()) == "libhakmem_tiny.so"
    assert len(list(tmp_path.rglob("*.so"))) == 1
