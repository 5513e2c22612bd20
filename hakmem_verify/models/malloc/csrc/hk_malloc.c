/* The tiny pool (hakmem_verify/models/native/csrc) behind a malloc-shaped front: libhakmem_tiny.so,
 * ``--impl malloc:native``.
 *
 * Exports hk_malloc, hk_free, hk_realloc, hk_calloc, hk_aligned_alloc, hk_posix_memalign,
 * hk_malloc_usable_size, hk_thread_init and hk_thread_fini, and nothing else: the pool's
 * own functions are hidden (-fvisibility=hidden), and the library never defines malloc or
 * free, so loading it changes no one else's allocator.  The pool's internal state (slab
 * bitmaps, thread states, magazines) lives on the system heap.
 *
 * One pool for the process, made on first use with the seed design's Config (classes
 * 8..1024 bytes, 64 KiB slabs, mini-magazines of 16, batch refills of 16, TLS magazines
 * of 2048, flushes every 256 events), no per-class slab limit, and an arena of 2^16
 * slabs (4 GiB of address space, MAP_NORESERVE).
 *
 * Where a block comes from, decided by its address at free time:
 *   addr in [arena, arena + arena_len)  <=>  a pool block (its slab: one shift)
 *   otherwise                           <=>  a system malloc block
 * Sizes 0..1024 come from the pool; larger sizes, and any request the pool refuses
 * (arena exhausted, no memory for a thread state), come from the system malloc.
 *
 * Threads: each thread's hk_thread lives in a thread-local pointer, made on its first
 * call, and a pthread key destructor calls hk_thread_exit when the thread exits, which
 * returns its magazines and evicts its active slabs.  hk_thread_fini does the same at
 * once (the next call makes a fresh state).  The library is linked with -z nodelete:
 * dlclose never unmaps it, since a thread may still be running that destructor.
 *
 * HAKMEM_NATIVE_CHECK=1 in the environment (read when the pool is made): the pool keeps
 * its debug table of live blocks and every free is validated (the pool's own hk_free,
 * named hk_pool_free here); an invalid or double free is reported on stderr and aborts.
 * Without it, a free of an address inside the arena but in no slab in use aborts the
 * same way; other invalid frees are undefined, as with most allocators.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The pool, in this translation unit.  Its hk_free(pool, thread, addr) is renamed: the
 * exported hk_free(ptr) below is the malloc-shaped one. */
#define hk_free hk_pool_free
#include "hk_slab.c"
#include "hk_pool.c"
#include "hk_free.c"
#undef hk_free

#define HK_API __attribute__((visibility("default")))

/* ======================================================================== */
/* The pool's Config and the front's state                                   */
/* ======================================================================== */

#define HKM_MAX_SMALL 1024u                 /* largest size the pool serves */
#define HKM_SLAB_SIZE (64u * 1024u)         /* the seed's slab */
#define HKM_ARENA_SLABS (1u << 16)          /* 4 GiB of address space, MAP_NORESERVE */

static const uint32_t SEED_CLASS_SIZES[] = {8, 16, 32, 64, 128, 256, 512, 1024};

static hk_pool *g_pool;                     /* NULL until made, or if it could not be */
static uintptr_t g_arena;                   /* first slab address */
static uintptr_t g_arena_len;               /* bytes of slabs; 0: no pool */
static int g_check;                         /* HAKMEM_NATIVE_CHECK: validate every free */
static uint8_t g_class_of[HKM_MAX_SMALL / 8 + 1];   /* (size + 7) / 8 -> class */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;
static int g_key_ok;
static _Atomic int64_t g_next_tid;          /* thread ids, never reused */

/* This thread's state: one word of static TLS (the fast path reads it without a call). */
static __thread hk_thread *tl_thread __attribute__((tls_model("initial-exec")));

static inline int in_arena(uintptr_t a) { return a - g_arena < g_arena_len; }

static inline int class_of(size_t size) { return g_class_of[(size + 7) >> 3]; }

static void thread_destructor(void *v);

static void fork_prepare(void) { if (g_pool) pthread_mutex_lock(&g_pool->lock); }
static void fork_parent(void) { if (g_pool) pthread_mutex_unlock(&g_pool->lock); }
static void fork_child(void) { if (g_pool) pthread_mutex_init(&g_pool->lock, NULL); }

/* Slow path (once per process): the pool with the seed's Config.  If the arena cannot be
 * reserved, g_pool stays NULL and every request goes to the system malloc. */
static void pool_init(void) {
    hk_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.num_classes = (int)(sizeof SEED_CLASS_SIZES / sizeof SEED_CLASS_SIZES[0]);
    for (int c = 0; c < cfg.num_classes; c++) cfg.class_sizes[c] = SEED_CLASS_SIZES[c];
    cfg.slab_size = HKM_SLAB_SIZE;
    cfg.word_bits = 64;
    cfg.mini_mag_capacity = 16;
    cfg.refill_batch = 16;
    cfg.magazine_capacity = 2048;
    cfg.flush_interval = 256;
    cfg.max_slabs_per_class = -1;
    cfg.max_slabs_total = HKM_ARENA_SLABS;
    const char *chk = getenv("HAKMEM_NATIVE_CHECK");
    g_check = chk && *chk && strcmp(chk, "0") != 0;
    hk_pool *p = hk_pool_new(&cfg, 0, g_check);
    if (!p) return;
    for (uint32_t s = 0, c = 0; s <= HKM_MAX_SMALL / 8; s++) {
        while (SEED_CLASS_SIZES[c] < s * 8) c++;
        g_class_of[s] = (uint8_t)c;
    }
    g_key_ok = pthread_key_create(&g_key, thread_destructor) == 0;
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    g_arena = p->arena;
    g_arena_len = (uintptr_t)cfg.max_slabs_total * cfg.slab_size;
    g_pool = p;
}

/* Slow path (a thread's first call): its state, registered for thread exit; NULL if the
 * pool or the memory for the state is missing (the caller falls back to the system). */
static hk_thread *thread_slow(void) {
    pthread_once(&g_once, pool_init);
    if (!g_pool) return NULL;
    hk_thread *t = hk_thread_new(g_pool, atomic_fetch_add(&g_next_tid, 1));
    if (!t) return NULL;
    tl_thread = t;
    if (g_key_ok) pthread_setspecific(g_key, t);
    return t;
}

/* At thread exit: every cached block back to its slab, the active slabs evicted.  A call
 * from a later destructor of the same thread makes a new state, which this destructor
 * returns in its next round (glibc runs up to PTHREAD_DESTRUCTOR_ITERATIONS rounds). */
static void thread_destructor(void *v) {
    hk_thread *t = v;
    if (tl_thread == t) tl_thread = NULL;
    hk_thread_exit(g_pool, t);
}

static inline hk_thread *thread_state(void) {
    hk_thread *t = tl_thread;
    return t ? t : thread_slow();
}

/* Slow path: an invalid free, reported and fatal (as glibc's "free(): invalid pointer"). */
__attribute__((noreturn, cold)) static void invalid_free(uintptr_t a, const char *why) {
    char msg[256];
    int n = snprintf(msg, sizeof msg, "hk_free(): invalid pointer 0x%lx: %s\n",
                     (unsigned long)a, why);
    if (n > 0) {
        ssize_t w = write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
        (void)w;
    }
    abort();
}

/* ======================================================================== */
/* The front                                                                 */
/* ======================================================================== */

HK_API void *hk_malloc(size_t size) {
    if (size <= HKM_MAX_SMALL) {
        hk_thread *t = thread_state();
        if (t) {
            uintptr_t b = hk_alloc(g_pool, t, class_of(size));
            if (b) return (void *)b;
        }
    }
    return malloc(size);
}

/* A pool block back to the pool, from this thread. */
static void pool_free(uintptr_t a) {
    hk_slab *s = g_pool->slabs[(a - g_arena) >> g_pool->slab_shift];
    if (!s || !s->in_use) invalid_free(a, "inside the tiny pool's arena but in no slab in use");
    hk_thread *t = thread_state();
    if (!t) return;              /* no memory for a thread state: the block is leaked */
    if (!g_check) {
        hk_free_unchecked(g_pool, t, a);
        return;
    }
    switch (hk_pool_free(g_pool, t, a)) {
    case HK_OK: return;
    case HK_E_NOT_BLOCK_START: invalid_free(a, "not the start of a block of the tiny pool");
    case HK_E_DOUBLE_FREE: invalid_free(a, "a tiny pool block that is not live (double free?)");
    default: invalid_free(a, "not in the tiny pool");
    }
}

HK_API void hk_free(void *ptr) {
    uintptr_t a = (uintptr_t)ptr;
    if (in_arena(a)) pool_free(a);
    else free(ptr);
}

HK_API size_t hk_malloc_usable_size(void *ptr) {
    uintptr_t a = (uintptr_t)ptr;
    if (!ptr) return 0;
    if (in_arena(a)) {
        hk_slab *s = g_pool->slabs[(a - g_arena) >> g_pool->slab_shift];
        return s ? s->block_size : 0;
    }
    return malloc_usable_size(ptr);
}

/* Sizes above 1024 stay with (or move to) the system; sizes 0..1024 move into the pool,
 * so realloc(p, 0) returns a live minimum block (and frees p).  A pool block stays in
 * place while the new size fits its class and fills more than half of it. */
HK_API void *hk_realloc(void *ptr, size_t size) {
    if (!ptr) return hk_malloc(size);
    uintptr_t a = (uintptr_t)ptr;
    if (!in_arena(a) && size > HKM_MAX_SMALL) return realloc(ptr, size);
    size_t old = hk_malloc_usable_size(ptr);
    if (in_arena(a) && size <= old && (size > old / 2 || old == SEED_CLASS_SIZES[0]))
        return ptr;
    void *n = hk_malloc(size);
    if (!n) return NULL;                  /* ptr untouched; malloc set errno */
    memcpy(n, ptr, size < old ? size : old);
    hk_free(ptr);
    return n;
}

HK_API void *hk_calloc(size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (total > HKM_MAX_SMALL) return calloc(n, size);
    void *p = hk_malloc(total);           /* pool blocks are recycled: zero them */
    if (p) memset(p, 0, total);
    return p;
}

/* A pool block for alignments the classes give naturally: blocks of a power-of-two
 * class sit at multiples of their size in a slab_size-aligned slab, so the class of
 * max(size, align) is aligned to align.  Larger alignments go to the system. */
HK_API void *hk_aligned_alloc(size_t align, size_t size) {
    if (align == 0 || (align & (align - 1))) {
        errno = EINVAL;
        return NULL;
    }
    if (align <= HKM_MAX_SMALL && size <= HKM_MAX_SMALL) {
        void *p = hk_malloc(size > align ? size : align);
        if (!p || ((uintptr_t)p & (align - 1)) == 0) return p;
        hk_free(p);                       /* not aligned: a non-power-of-two class */
    }
    return aligned_alloc(align, size);
}

HK_API int hk_posix_memalign(void **out, size_t align, size_t size) {
    if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
    void *p = hk_aligned_alloc(align, size);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

/* This thread's state now (its first malloc then takes the fast path). */
HK_API void hk_thread_init(void) { (void)thread_state(); }

/* This thread's caches back to the pool now, as at thread exit; a later call on this
 * thread makes a fresh state. */
HK_API void hk_thread_fini(void) {
    hk_thread *t = tl_thread;
    if (!t) return;
    tl_thread = NULL;
    if (g_key_ok) pthread_setspecific(g_key, NULL);
    hk_thread_exit(g_pool, t);
}
