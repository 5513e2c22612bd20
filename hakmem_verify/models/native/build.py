"""Compiling the C pool with cffi (API mode), at first use, into a cache.

Why at first use and not at ``pip install``: cffi's ``cffi_modules`` hook needs cffi
in the build requirements, so an install without cffi or without a compiler would
fail, and the compile-time mutants (``-DHAKMEM_MUTANT=name``) and the ThreadSanitizer
build are variants that must be compiled on demand anyway.  So every variant is
compiled the first time it is asked for (about 2 s), under a file lock (pytest-xdist
workers share the cache), into ``hakmem_verify/models/native/_build/`` (or ``$HAKMEM_NATIVE_CACHE``,
or ``~/.cache/hakmem-native`` when the package directory is read-only), keyed by a
hash of the sources and flags; ``python -m hakmem_verify.models.native`` builds the default variant
ahead of time (``.ci/run`` does).

:func:`load` returns the compiled module (``ffi``, ``lib``) or raises
:class:`NativeUnavailable` whose message says, in one line, why and what to do.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
from pathlib import Path

CSRC = Path(__file__).resolve().parent / "csrc"
SOURCES = ("hk.h", "hk_mutants.h", "hk_slab.c", "hk_pool.c", "hk_free.c", "hk_stress.c", "hk_bench.c",
           "hk_all.c")
CFLAGS = ["-std=c11", "-O2", "-fno-strict-aliasing"]

#: compile-time mutants: name -> macro (csrc/hk_mutants.h)
MUTANTS = {
    "seed-batch_refill_from_bitmap": "HK_seed_batch_refill_from_bitmap",
    "seed-stats_flush_if_needed": "HK_seed_stats_flush_if_needed",
    "seed-stats-global-add": "HK_seed_stats_global_add",
    "remote-push-not-atomic": "HK_remote_push_not_atomic",
    "free-pushes-twice": "HK_free_pushes_twice",
    "spill-leaks-one": "HK_spill_leaks_one",
    "remote-push-scribbles": "HK_remote_push_scribbles",
    "flush-drops-batches": "HK_flush_drops_batches",
    "thread-exit-keeps-b": "HK_thread_exit_keeps_b",
    "exact-misses-remote": "HK_exact_misses_remote",
    "live-not-marked": "HK_live_not_marked",
    "slab-limit-8": "HK_slab_limit_8",
    "ss-mask-off-by-one-slab": "HK_ss_mask_off_by_one_slab",
    "ss-counter-wrong-route": "HK_ss_counter_wrong_route",
}

CDEF = """
typedef struct { uintptr_t head; uint32_t count; uint32_t capacity; } hk_minimag;
typedef struct hk_slab {
    uintptr_t base; uint32_t vidx; int32_t class_idx; uint32_t block_size; uint32_t nblocks;
    uint32_t nwords, nsum; uint64_t *words; uint64_t *summary; uint32_t hint_word;
    uint32_t free_count; hk_minimag mini_mag; int32_t in_use; uint8_t *live; uint32_t nforeign;
    struct hk_slab *next;
    int64_t foreign[4][2];
    ...;
} hk_slab;
typedef struct { uintptr_t *items; uint32_t top; uint32_t cap; } hk_mag;
typedef struct hk_thread {
    int64_t tid; hk_mag *mags; hk_slab **active_a, **active_b;
    uint64_t *alloc_batch, *free_batch;
    uintptr_t *sll_head; uint32_t *sll_count; uint32_t *ss_list; uint32_t ss_n;
    ...;
} hk_thread;
typedef struct {
    int num_classes; uint32_t class_sizes[64]; uint64_t slab_size; int word_bits;
    uint32_t mini_mag_capacity, refill_batch, magazine_capacity, flush_interval;
    int64_t max_slabs_per_class; uint64_t max_slabs_total;
    int use_superslab; uint64_t superslab_size; uint32_t superslab_pool_max;
    uint32_t tls_sll_capacity; uint64_t ss_first_off;
} hk_config;
typedef struct hk_ss {
    uintptr_t base; uint32_t idx; uint32_t nslots; int32_t state; hk_slab **slabs;
    uint32_t *free_slots; uint32_t nfree; uint32_t carved; uint32_t in_use;
    ...;
} hk_ss;
typedef struct hk_pool {
    hk_config cfg; uintptr_t arena; hk_slab *first; int err; char err_msg[512];
    uint32_t next_vidx; uint32_t *free_vidx; uint32_t nfree_vidx;
    hk_ss **sss; uint32_t next_ss; uint32_t *ss_pool; uint32_t ss_pool_n;
    uint32_t nbad; uint64_t bad[4][4];
    ...;
} hk_pool;
typedef struct {
    int threads; int workload; uint64_t ops; uint64_t seed; int max_size; int remote_pct;
    int ring; int mode;
    double seconds; uint64_t done_ops; int failed; char message[1024]; hk_config cfg;
} hk_stress_params;

#define HK_NPATHS ...
const char *hk_check_config(const hk_config *cfg);
hk_pool *hk_pool_new(const hk_config *cfg, int record, int debug);
void hk_pool_destroy(hk_pool *p);
hk_thread *hk_thread_new(hk_pool *p, int64_t tid);
void hk_thread_exit(hk_pool *p, hk_thread *t);
uintptr_t hk_alloc(hk_pool *p, hk_thread *t, int class_idx);
int hk_free(hk_pool *p, hk_thread *t, uintptr_t addr);
int hk_validate_free(hk_pool *p, uintptr_t addr, hk_slab **slab_out);
void hk_flush_thread(hk_pool *p, hk_thread *t);
void hk_quiesce(hk_pool *p);
int hk_evict_active(hk_pool *p, hk_thread *t, int c);
uint32_t hk_drain_remote(hk_pool *p, hk_thread *t, int c);
uint32_t hk_refill_active(hk_pool *p, hk_thread *t, int c);
int hk_live_class(hk_pool *p, uintptr_t addr);
int hk_block_start(hk_pool *p, uintptr_t addr, uintptr_t *start);
hk_slab *hk_slab_of(hk_pool *p, uintptr_t addr);
void hk_exact_stats(hk_pool *p, uint64_t *allocs, uint64_t *frees);
void hk_stats(hk_pool *p, uint64_t *allocs, uint64_t *frees);
void hk_path_counts(hk_pool *p, uint64_t *out);
uint64_t hk_path_count(hk_pool *p, int i);
uint32_t hk_walk(hk_slab *s, uintptr_t head, uint32_t bound, uintptr_t *out, int *err);
uint32_t hk_fp_take(hk_pool *p, uintptr_t *out, uint32_t cap);
void hk_thread_mag_take(hk_pool *p, hk_thread *t, uint32_t *out);
int hk_free_begin(hk_pool *p, hk_thread *t, uintptr_t addr, hk_slab **push);
uintptr_t hk_remote_load(hk_slab *s);
void hk_remote_link(uintptr_t ptr, uintptr_t next);
int hk_remote_cas(hk_slab *s, uintptr_t expected, uintptr_t ptr);
void hk_remote_count_add(hk_slab *s);
uintptr_t hk_slab_remote_head(hk_slab *s);
uint32_t hk_slab_remote_count(hk_slab *s);
int64_t hk_slab_owner(hk_slab *s);
int64_t hk_ss_owner(hk_ss *ss);
hk_ss *hk_ss_at(hk_pool *p, uintptr_t addr);
int hk_thread_dirty_take(hk_thread *t);
int hk_stress_run(hk_stress_params *params);
double hk_bench_pairs_cfg(const hk_config *cfg, int threads, int remote_pct, uint64_t pairs,
                          int mode, int size);
"""


class NativeUnavailable(RuntimeError):
    """The C pool cannot be built or loaded here; the message says why and what to do."""


_loaded = {}


def cache_dir() -> Path:
    env = os.environ.get("HAKMEM_NATIVE_CACHE")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent / "_build"
    try:
        here.mkdir(exist_ok=True)
        if os.access(here, os.W_OK):
            return here
    except OSError:
        pass
    return Path.home() / ".cache" / "hakmem-native"


def compiler() -> str:
    """The C compiler cffi will use ($CC, else cc or gcc), or '' if there is none."""
    cc = os.environ.get("CC", "").split()
    for name in ([cc[0]] if cc else []) + ["cc", "gcc"]:
        if shutil.which(name):
            return name
    return ""


def variant_key(mutant: str = None) -> str:
    h = hashlib.sha256()
    for name in SOURCES:
        h.update((CSRC / name).read_bytes())
    h.update(CDEF.encode())
    h.update(" ".join(CFLAGS).encode())
    h.update((mutant or "").encode())
    h.update(sys.version.encode())
    return h.hexdigest()[:12]


def load(mutant: str = None):
    """The compiled module of the pool (default build, or a compile-time mutant)."""
    if mutant in _loaded:
        return _loaded[mutant]
    if mutant is not None and mutant not in MUTANTS:
        raise NativeUnavailable(f"no native mutant named {mutant!r}; the native mutants are: "
                                f"{', '.join(MUTANTS)}")
    try:
        import cffi
    except ImportError:
        raise NativeUnavailable("native pool unavailable: cffi is not installed (install the "
                                "'native' extra: pip install -e '.[native]')") from None
    key = variant_key(mutant)
    tag = (mutant or "base").replace("-", "_")
    modname = f"_hk_{tag}_{key}"
    out = cache_dir()
    out.mkdir(parents=True, exist_ok=True)
    built = list(out.glob(modname + ".*.so")) + list(out.glob(modname + ".so"))
    if not built:
        if not compiler():
            raise NativeUnavailable("native pool unavailable: no C compiler found (cc, gcc or "
                                    "$CC) and no build of it cached; install gcc")
        built = [_compile(cffi, modname, mutant, out)]
    spec = importlib.util.spec_from_file_location(modname, built[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _loaded[mutant] = module
    return module


def _compile(cffi, modname: str, mutant, out: Path) -> Path:
    import fcntl
    import tempfile
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = list(out.glob(modname + ".*.so"))
        if done:
            return done[0]
        ffi = cffi.FFI()
        ffi.cdef(CDEF)
        macros = [("HAKMEM_MUTANT", MUTANTS[mutant])] if mutant else []
        ffi.set_source(modname, '#include "hk_all.c"', include_dirs=[str(CSRC)],
                       define_macros=macros, extra_compile_args=CFLAGS,
                       libraries=["pthread"])
        tmp = tempfile.mkdtemp(prefix="hkbuild-", dir=out)
        try:
            so = ffi.compile(tmpdir=tmp, verbose=False)
        except Exception as e:  # a compiler error, said in one line
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise NativeUnavailable(f"native pool unavailable: compiling csrc/hk_all.c failed "
                                    f"({first}); run python -m hakmem_verify.models.native to see the "
                                    f"compiler's output") from None
        final = out / Path(so).name
        os.replace(so, final)
        shutil.rmtree(tmp, ignore_errors=True)
        return final


def unavailable_reason(mutant: str = None) -> str:
    """'' if the pool loads, else the one-line reason it does not."""
    try:
        load(mutant)
        return ""
    except NativeUnavailable as e:
        return str(e)
