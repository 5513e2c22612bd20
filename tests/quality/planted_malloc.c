/* Planted bugs of a C library for the malloc tier's quality tests.
 *
 * pl_* wraps glibc's malloc correctly; each PL_<BUG> macro plants one fault of a kind
 * real allocators shipped, and tests/quality/test_malloc_tier_quality.py shows the
 * check of hakmem_verify/check/malloc.py that names it.  pl_allocated() is the library's
 * statistic: the usable bytes of the blocks it handed out and not yet took back.
 */
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>

static _Atomic long calls;            /* malloc calls so far */
static _Atomic size_t allocated;      /* pl_allocated(): usable bytes handed out */
static void *_Atomic last;            /* the last block handed out, while live */
static void *recent[64];              /* the last 64 freed addresses (PL_CALLOC_REUSED) */
static _Atomic unsigned nrecent;

#if defined(PL_DETECTS) || defined(PL_IGNORES_UNKNOWN)
#define SHIFT 16                      /* a header: LIVE while the block is handed out */
#define LIVE 0x4c495645424c4b21ULL
#include <stdio.h>
#elif defined(PL_OFF_BY_8)
#define SHIFT 8                       /* blocks handed out 8 bytes into glibc's chunk */
#else
#define SHIFT 0
#endif

#ifdef LIVE                            /* header: [p-16] glibc's chunk, [p-8] LIVE */
static void *inner(void *p) { return p ? ((void **)p)[-2] : p; }
#else
static void *inner(void *p) { return p && SHIFT ? (char *)p - SHIFT : p; }
#endif

size_t pl_malloc_usable_size(void *p) {
    size_t u = malloc_usable_size(inner(p)) - (size_t)((char *)p - (char *)inner(p));
#ifdef PL_USABLE_SHORT
    if (u > 64) u -= 24;              /* the header is counted twice */
#endif
    return u;
}

void *pl_malloc(size_t n) {
    long k = ++calls;
#ifdef PL_NULL_EARLY
    if (k > 40) return NULL;          /* a pool limit hit far too early */
#endif
#ifdef PL_SAME_TWICE
    void *l = last;
    if (k % 7 == 0 && l) return l;    /* a cache pop that forgot to advance */
#endif
    char *p = malloc(n + SHIFT);
    if (!p) return NULL;
    p += SHIFT;
#ifdef LIVE
    ((void **)p)[-2] = p - SHIFT;
    ((uint64_t *)p)[-1] = LIVE;
#endif
#ifdef PL_LINK_IN_LIVE
    char *prev = last;                /* an intrusive link written into a live block */
    if (prev && malloc_usable_size(inner(prev)) >= 64) memset(prev + 40, 0x5c, 8);
#endif
    last = p;
    allocated += pl_malloc_usable_size(p);
    (void)k;
    return p;
}

void pl_free(void *p) {
    if (!p) return;
    long k = ++calls;
#ifdef PL_SEGV
    if (k > 30) *(volatile int *)(uintptr_t)8 = 1;
#endif
#ifdef PL_ABORT
    if (k > 30) abort();
#endif
    (void)k;
#ifdef LIVE
    if (((uint64_t *)p)[-1] != LIVE) {    /* freed, or not a block start */
#ifdef PL_IGNORES_UNKNOWN
        return;                       /* declared detected, silently ignored instead */
#else
        fputs("pl_free: not a live block: double or invalid free\n", stderr);
        abort();
#endif
    }
    ((uint64_t *)p)[-1] = 0;
#endif
    void *expected = p;
    atomic_compare_exchange_strong(&last, &expected, NULL);
    allocated -= pl_malloc_usable_size(p);
    recent[atomic_fetch_add(&nrecent, 1) % 64] = p;
    free(inner(p));
}

void *pl_calloc(size_t n, size_t s) {
    void *p = pl_malloc(n * s);
    if (!p) return NULL;
#ifdef PL_CALLOC_REUSED
    for (unsigned i = 0; i < 64; i++)
        if (recent[i] == p) return p;  /* "reused blocks were zeroed when freed" */
#endif
    memset(p, 0, n * s);
    return p;
}

void *pl_realloc(void *p, size_t n) {
    if (!p) return pl_malloc(n);
    size_t old = pl_malloc_usable_size(p);
    void *q = pl_malloc(n);
    if (!q) return NULL;
    size_t keep = old < n ? old : n;
#ifdef PL_REALLOC_SHORT
    if (keep > 8) keep -= 8;          /* the header's size subtracted once too often */
#endif
    memcpy(q, p, keep);
#ifdef PL_STATS_REALLOC
    allocated += pl_malloc_usable_size(p);   /* the old block is never uncounted */
#endif
    pl_free(p);
    return q;
}

void *pl_aligned_alloc(size_t a, size_t n) {
#ifdef LIVE
    if (a < 16) a = 16;
    char *c = aligned_alloc(a, n + a);
    if (!c) return NULL;
    char *q = c + a;
    ((void **)q)[-2] = c;
    ((uint64_t *)q)[-1] = LIVE;
    allocated += pl_malloc_usable_size(q);
    return q;
#endif
    if (SHIFT) return pl_malloc(n);
    void *p = aligned_alloc(a, n);
    if (p) allocated += pl_malloc_usable_size(p);
    return p;
}

size_t pl_allocated(void) { return allocated; }
