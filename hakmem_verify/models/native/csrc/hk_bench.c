/* The benchmark loop: ns per alloc+free pair, the pool against the system malloc, the
 * same loop in the same run (bench/bench_native.py).  Included after hk_stress.c (one
 * translation unit: its ring, rng_next and now_s). */
#include <stdlib.h>

#include "hk.h"

/* ======================================================================== */
/* Benchmark: ns per alloc+free pair, the pool against malloc, one loop      */
/* ======================================================================== */

typedef struct bench_arg {
    hk_pool *pool;              /* NULL: the system malloc */
    int idx, threads, remote_pct, size;
    uint64_t pairs;
    ring *rings;                /* rings[i]: blocks sent to thread i */
    pthread_barrier_t *start;
} bench_arg;

#define BATCH 16

/* Free block b as this run frees: the pool's free (validated when the pool has the debug
 * table) or, with no pool, the system free. */
static inline void bench_free(const bench_arg *a, hk_thread *t, uintptr_t b) {
    if (!a->pool) free((void *)b);
    else if (a->pool->debug) hk_free(a->pool, t, b);
    else hk_free_unchecked(a->pool, t, b);
}

/* Free every block the previous thread has sent to this one through ring in so far. */
static void drain_ring(const bench_arg *a, hk_thread *t, ring *in) {
    uint64_t tail = atomic_load_explicit(&in->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&in->head, memory_order_acquire);
    for (; tail < head; tail++) bench_free(a, t, in->items[tail % in->cap]);
    atomic_store_explicit(&in->tail, tail, memory_order_release);
}

static void *bench_main(void *arg) {
    bench_arg *a = arg;
    hk_thread *t = a->pool ? hk_thread_new(a->pool, a->idx) : NULL;
    int c = a->pool ? hk_size_to_class(a->pool, a->size) : 0;
    ring *out = &a->rings[(a->idx + 1) % a->threads], *in = &a->rings[a->idx];
    uint64_t rng = 0x1234567ULL + a->idx;
    uintptr_t batch[BATCH];
    pthread_barrier_wait(a->start);
    for (uint64_t done = 0; done < a->pairs; done += BATCH) {
        for (int i = 0; i < BATCH; i++) {
            uintptr_t b = a->pool ? hk_alloc(a->pool, t, hk_size_to_class(a->pool, a->size))
                                  : (uintptr_t)malloc(a->size);
            *(volatile char *)b = (char)i;
            batch[i] = b;
        }
        for (int i = 0; i < BATCH; i++) {
            uintptr_t b = batch[i];
            if (a->remote_pct && (int)(rng_next(&rng) % 100) < a->remote_pct) {
                uint64_t head = atomic_load_explicit(&out->head, memory_order_relaxed);
                if (head - atomic_load_explicit(&out->tail, memory_order_acquire) < out->cap) {
                    out->items[head % out->cap] = b;
                    atomic_store_explicit(&out->head, head + 1, memory_order_release);
                    continue;
                }
            }
            bench_free(a, t, b);
        }
        drain_ring(a, t, in);
    }
    (void)c;
    pthread_barrier_wait(a->start);      /* every thread done sending */
    drain_ring(a, t, in);
    if (t) hk_thread_exit(a->pool, t);
    return NULL;
}

/* ns per alloc+free pair and thread (wall time / pairs per thread).  mode 0: the pool
 * (Config cfg) without the debug table; 1: the system malloc; 2: the pool with the debug
 * table (every free validated). */
double hk_bench_pairs_cfg(const hk_config *cfg, int threads, int remote_pct, uint64_t pairs,
                          int mode, int size) {
    int use_malloc = mode == 1;
    hk_pool *p = use_malloc ? NULL : hk_pool_new(cfg, 0, mode == 2);
    if (!use_malloc && !p) return -1;
    bench_arg *args = calloc(threads, sizeof *args);
    ring *rings = calloc(threads, sizeof *rings);
    pthread_t *th = calloc(threads, sizeof *th);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, threads + 1);
    for (int i = 0; i < threads; i++) {
        rings[i].cap = 4096;
        rings[i].items = calloc(4096, sizeof(uintptr_t));
        args[i] = (bench_arg){p, i, threads, remote_pct, size, pairs, rings, &start};
        pthread_create(&th[i], NULL, bench_main, &args[i]);
    }
    pthread_barrier_wait(&start);
    double t0 = now_s();
    pthread_barrier_wait(&start);
    double el = now_s() - t0;
    for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < threads; i++) free(rings[i].items);
    pthread_barrier_destroy(&start);
    free(args); free(rings); free(th);
    if (p) hk_pool_destroy(p);
    return el * 1e9 / (double)pairs;
}
