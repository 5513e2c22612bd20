"""The malloc stress driver (hakmem_verify/models/malloc/csrc/mstress.c) on real threads: every workload
runs clean on the system malloc, mimalloc, jemalloc and tcmalloc; each check names the
planted bug that breaks it; ``hakmem-fuzz stress --impl malloc:...`` prints one line per
workload and exits 0 / 1 / 2 / 3.

The planted bugs live in tiny libraries built here with gcc (``PLANTED`` below): a block
allocator of 128-byte blocks (sizes up to 64) on one mmap'd arena with a locked stack of
freed blocks, and one ``#ifdef`` per bug.  Op counts are small: the whole file takes a few
seconds, and every test builds into its own ``tmp_path`` (parallel workers share only the
driver's build cache, which is written under a lock)."""
from __future__ import annotations

import json
import re
import subprocess

import pytest

from hakmem_verify.cli.main import main
from hakmem_verify.models.malloc import stress
from hakmem_verify.models.malloc.spec import MallocSpecError, resolve

OPS = 20_000
LIBS = {"system": "libc6", "libmimalloc.so.2": "libmimalloc2.0",
        "libjemalloc.so.2": "libjemalloc2", "libtcmalloc_minimal.so.4": "libtcmalloc-minimal4"}


@pytest.fixture(scope="module", autouse=True)
def _driver():
    try:
        stress.program()
    except stress.StressUnavailable as e:
        pytest.skip(str(e))


def _spec(lib: str):
    try:
        return resolve(f"malloc:{lib}")
    except MallocSpecError:
        pytest.skip(f"{lib} is not installed (apt-get install {LIBS[lib]})")


# ============================================================================
# Real libraries run clean
# ============================================================================


@pytest.mark.parametrize("workload", stress.WORKLOADS)
@pytest.mark.parametrize("lib", list(LIBS))
def test_every_workload_runs_clean_on_four_threads_of_each_real_library(lib, workload):
    r = stress.run(_spec(lib), workload, threads=4, ops=OPS)
    assert (r.status, r.check) == (0, ""), r.message
    assert r.ops >= OPS * 0.9 and r.seconds > 0 and r.peak_rss_kb > 0
    assert r.ns_per_op > 0 and r.ops_per_s > 0
    if r.stats:                     # jemalloc, tcmalloc: back to the baseline, exactly
        assert r.stats["stats_after"] == r.stats["stats_before"]
        assert r.stats["stats_live"] - r.stats["stats_before"] >= r.stats["leftover_bytes"]


def test_tiny_pool_sizes_run_clean_on_the_libraries_with_statistics():
    for lib in ("libjemalloc.so.2", "libtcmalloc_minimal.so.4"):
        spec = _spec(lib)
        for workload in ("larson", "thread-churn"):
            r = stress.run(spec, workload, threads=3, ops=OPS, seed=7, max_size=1024)
            assert r.status == 0, r.message
            assert r.stats["leftover_bytes"] > 0        # the live check had something to see


def test_the_same_seed_makes_the_same_calls_where_no_block_changes_threads_by_chance():
    spec = _spec("system")
    for workload in ("larson", "xmalloc-test", "cache-scratch", "sh6bench", "glibc-thread"):
        a = stress.run(spec, workload, threads=3, ops=5000, seed=11)
        b = stress.run(spec, workload, threads=3, ops=5000, seed=11)
        assert a.status == b.status == 0 and a.ops == b.ops, (workload, a.ops, b.ops)


def test_bad_parameters_are_refused_with_status_2_and_a_reason():
    spec = _spec("system")
    for kwargs, words in ((dict(workload="larsen", threads=4), "unknown workload"),
                          (dict(workload="larson", threads=0), "threads"),
                          (dict(workload="xmalloc-test", threads=1), "needs threads >= 2")):
        r = stress.run(spec, ops=100, **kwargs)
        assert r.status == 2 and words in r.message, r.message


# ============================================================================
# Planted bugs: each check names the bug that breaks it
# ============================================================================

PLANTED = r"""
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RAW 128                       /* bytes per block in the arena */
#define BLOCK 64                      /* largest size served */
#define ARENA ((size_t)64 << 20)
static char *arena;
static size_t bump, top, calls, frees, duplicated, allocated;
static void *stack[1 << 19];
static char *last, *again;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((constructor)) static void setup(void) {
    arena = mmap(NULL, ARENA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
                 MAP_NORESERVE, -1, 0);
}

void *bad_malloc(size_t n) {
    if (n > BLOCK) return NULL;
    pthread_mutex_lock(&lock);
    size_t c = ++calls;
    char *p;
    if (again && n >= 24) {           /* BUG_TAG: the block handed out before */
        p = again;
        again = NULL;
    } else if (top) {
        p = stack[--top];
#ifdef BUG_TAG                        /* the first reuse for 24+ bytes after call 500 goes
                                         out again to the next call for 24+ bytes */
        if (c >= 500 && n >= 24 && !duplicated) duplicated = 1, again = p;
#endif
    } else {
        p = arena + bump;
        bump += RAW;
    }
    allocated += BLOCK;
#ifdef BUG_OVERWRITE                  /* every 100th call after 500 scribbles on the last block */
    if (c >= 500 && c % 100 == 0 && last) memset(last, 0x5A, 8);
#endif
    last = p;
    pthread_mutex_unlock(&lock);
#ifdef BUG_OOM
    if (c > 1000) return NULL;
#endif
#ifdef BUG_CRASH
    if (c == 1000) *(volatile int *)0 = 1;
#endif
#ifdef BUG_HANG
    if (c >= 1000) for (;;) sleep(1);
#endif
#ifdef BUG_ALIGN
    if (c >= 100) p += 8;
#endif
    return p;
}

void bad_free(void *q) {
    if (!q) return;
    char *p = (char *)((uintptr_t)q & ~(uintptr_t)(RAW - 1));
    pthread_mutex_lock(&lock);
    size_t f = ++frees;
#ifdef BUG_ABORT
    if (f == 500) abort();
#endif
#ifdef BUG_STATS                      /* one free in 100 is not subtracted */
    if (f % 100)
#endif
    allocated -= BLOCK;
    stack[top++] = p;
    pthread_mutex_unlock(&lock);
}

void *bad_calloc(size_t n, size_t m) {
    char *p = bad_malloc(n * m);
#ifndef BUG_CALLOC                    /* reused blocks keep their old bytes */
    if (p) memset(p, 0, n * m);
#endif
    return p;
}

void *bad_realloc(void *q, size_t n) {
    char *p = bad_malloc(n);
#ifndef BUG_REALLOC                   /* the new block comes without the old bytes */
    if (p && q) memcpy(p, q, n);      /* BLOCK bytes are always readable */
#endif
    bad_free(q);
    return p;
}

int bad_posix_memalign(void **out, size_t align, size_t n) {
    char *p = align <= RAW ? bad_malloc(n) : NULL;
    if (!p) return 12;
#ifdef BUG_MEMALIGN                   /* 16 bytes off for alignments of 32 and more */
    if (align >= 32) p += 16;
#endif
    *out = p;
    return 0;
}

size_t bad_malloc_usable_size(void *q) {
#ifdef BUG_USABLE
    return 8;
#endif
    return q ? BLOCK - ((uintptr_t)q & (RAW - 1)) : 0;
}

size_t bad_allocated(void) {
    pthread_mutex_lock(&lock);
    size_t a = allocated;
    pthread_mutex_unlock(&lock);
    return a;
}
"""

#: check -> (workload the bug shows in, the macro that plants it)
BUGS = {
    "STRESS-TAG": ("larson", "BUG_TAG"),
    "STRESS-OVERWRITE": ("larson", "BUG_OVERWRITE"),
    "STRESS-OOM": ("glibc-thread", "BUG_OOM"),
    "STRESS-ALIGN": ("larson", "BUG_ALIGN"),
    "STRESS-USABLE": ("glibc-thread", "BUG_USABLE"),
    "STRESS-CALLOC": ("glibc-thread", "BUG_CALLOC"),
    "STRESS-REALLOC": ("mstress", "BUG_REALLOC"),
    "STRESS-STATS": ("thread-churn", "BUG_STATS"),
    "CRASH": ("xmalloc-test", "BUG_CRASH"),
    "ABORT": ("thread-churn", "BUG_ABORT"),
    "HANG": ("sh6bench", "BUG_HANG"),
}


def _build(tmp_path, macro: str = "", source: str = PLANTED, name: str = "libbad.so"):
    c = tmp_path / (name + ".c")
    c.write_text(source)
    out = tmp_path / name
    r = subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-pthread",
                        *([f"-D{macro}"] if macro else []), str(c), "-o", str(out)],
                       capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot build the planted library: {r.stderr.strip()[:200]}")
    return out


def _planted_spec(tmp_path, macro: str = ""):
    lib = _build(tmp_path, macro)
    adapter = tmp_path / "bad.json"
    adapter.write_text(json.dumps({"lib": str(lib), "prefix": "bad_",
                                   "stats": "bad_allocated"}))
    return resolve(f"malloc:{adapter}")


def test_the_planted_library_without_a_bug_runs_every_workload_clean(tmp_path):
    spec = _planted_spec(tmp_path)
    assert spec.stats == "symbol:bad_allocated"
    for workload in stress.WORKLOADS:
        r = stress.run(spec, workload, threads=4, ops=OPS, max_size=64, timeout=60)
        assert r.status == 0, (workload, r.message)


@pytest.mark.quality
@pytest.mark.parametrize("check", sorted(BUGS))
def test_each_check_names_the_planted_bug_that_breaks_it(tmp_path, check):
    workload, macro = BUGS[check]
    spec = _planted_spec(tmp_path, macro)
    r = stress.run(spec, workload, threads=4, ops=OPS, max_size=64,
                   timeout=3 if check == "HANG" else 60)
    assert r.status == 1 and r.check == check, (r.check, r.message)
    assert r.message.startswith(f"[{check}]") and "\n" not in r.message
    assert workload in r.message
    if check in ("CRASH", "ABORT"):
        assert r.signal and ("SIGSEGV" in r.message or "SIGABRT" in r.message)


@pytest.mark.quality
def test_aligned_calls_are_made_on_request_and_checked_against_the_alignment_asked_for(
        tmp_path):
    spec = _planted_spec(tmp_path, "BUG_MEMALIGN")
    assert stress.run(spec, "thread-churn", threads=2, ops=OPS, max_size=64).status == 0
    r = stress.run(spec, "thread-churn", threads=2, ops=OPS, max_size=64, aligned=True)
    assert r.check == "STRESS-ALIGN" and "posix_memalign(" in r.message, r.message


def test_every_check_of_the_driver_has_a_planted_bug():
    source = stress.SOURCE.read_text()
    checks = set(re.findall(r'finding\(\w+, "(STRESS-[A-Z]+)"', source))
    assert checks == {c for c in BUGS if c.startswith("STRESS-")}


def test_an_abort_message_carries_the_last_lines_of_the_programs_stderr(tmp_path):
    source = PLANTED.replace("if (f == 500) abort();",
                             'if (f == 500) { fputs("bad_free(): planted\\n", stderr); '
                             'abort(); }')
    lib = _build(tmp_path, "BUG_ABORT", source)
    r = stress.run(f"malloc:{lib}:bad_", "glibc-thread", threads=2, ops=OPS, seed=5,
                   max_size=64)
    assert r.check == "ABORT" and "bad_free(): planted" in r.message
    assert "seed 5" in r.message and "glibc-thread" in r.message


HOOKED = r"""
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static int ready;
static __thread int entered;
static pthread_key_t key;

static void left_without_fini(void *v) {
    (void)v;
    fputs("a thread exited without h_thread_fini\n", stderr);
    abort();
}
void h_init(void) { ready = 1; pthread_key_create(&key, left_without_fini); }
void h_thread_init(void) { entered = 1; pthread_setspecific(key, (void *)1); }
void h_thread_fini(void) { entered = 0; pthread_setspecific(key, NULL); }
static void must_be_inside(const char *fn) {
    if (!ready || !entered) {
        fprintf(stderr, "%s called %s\n", fn, ready ? "outside h_thread_init" : "before h_init");
        abort();
    }
}
void *h_malloc(size_t n) { must_be_inside("h_malloc"); return malloc(n); }
void h_free(void *p) { must_be_inside("h_free"); free(p); }
"""


def test_every_thread_runs_the_thread_hooks_and_the_library_its_init(tmp_path):
    lib = _build(tmp_path, source=HOOKED, name="libhooked.so")
    adapter = tmp_path / "hooked.json"
    adapter.write_text(json.dumps({"lib": str(lib), "prefix": "h_", "init": "h_init",
                                   "thread_init": "h_thread_init",
                                   "thread_fini": "h_thread_fini"}))
    spec = resolve(f"malloc:{adapter}")
    for workload in stress.WORKLOADS:
        r = stress.run(spec, workload, threads=3, ops=5000)
        assert r.status == 0, (workload, r.message)


# ============================================================================
# The command: hakmem-fuzz stress --impl malloc:...
# ============================================================================


def test_the_command_runs_every_workload_prints_a_line_each_and_exits_0(capsys):
    _spec("system")
    assert main(["stress", "--impl", "malloc:system", "--workload", "all",
                 "--ops", "4000"]) == 0
    out = capsys.readouterr().out
    for workload in stress.WORKLOADS:
        assert re.search(rf"^  {workload} +clean .* ops/s", out, re.M), out
    assert "summary: 7 of 7 workloads clean on system" in out


def test_a_finding_exits_1_and_prints_the_command_that_reruns_it(tmp_path, capsys):
    lib = _build(tmp_path, "BUG_USABLE")
    impl = f"malloc:{lib}:bad_"
    assert main(["stress", "--impl", impl, "--workload", "glibc-thread", "--ops", "3000",
                 "--seed", "9", "--max-size", "64"]) == 1
    out = capsys.readouterr().out
    assert "FAIL   [STRESS-USABLE]" in out
    assert (f"rerun: hakmem-fuzz stress --impl {impl} --workload glibc-thread --threads 4 "
            f"--ops 3000 --seed 9 --max-size 64") in out


@pytest.mark.parametrize("argv, words", [
    (["--impl", "malloc:libnosuch.so.9"], "no such library"),
    (["--impl", "malloc:system", "--threads", "0"], "--threads must be in 1..1024"),
    (["--impl", "malloc:system", "--ops", "0"], "--ops and --max-size must be >= 1"),
    (["--impl", "malloc:system", "--timeout", "0"], "--timeout must be > 0"),
    (["--impl", "malloc:system", "--workload", "xmalloc-test", "--threads", "1"],
     "xmalloc-test needs --threads >= 2"),
    (["--impl", "malloc:system", "--tsan"], "--tsan applies to the C pool only"),
    (["--impl", "native", "--workload", "thread-churn"], "need --impl malloc:LIB"),
])
def test_usage_errors_exit_2_with_one_line_saying_what_is_wrong(argv, words, capsys):
    assert main(["stress", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err


def test_no_compiler_exits_2_and_says_so(monkeypatch, capsys):
    def unavailable():
        raise stress.StressUnavailable("the malloc stress driver cannot be built: no C "
                                       "compiler found (cc, gcc or $CC); install gcc")
    monkeypatch.setattr(stress, "program", unavailable)
    assert main(["stress", "--impl", "malloc:system", "--ops", "100"]) == 2
    assert "no C compiler" in capsys.readouterr().err


def test_ctrl_c_stops_the_run_exits_3_and_prints_what_ran(monkeypatch, capsys):
    real, calls = stress.run, []

    def interrupted_second(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)
    monkeypatch.setattr(stress, "run", interrupted_second)
    assert main(["stress", "--impl", "malloc:system", "--ops", "2000"]) == 3
    out = capsys.readouterr().out
    assert "interrupted" in out and "larson clean" in out
