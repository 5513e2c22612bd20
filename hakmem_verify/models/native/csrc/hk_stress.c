/* Real threads: the stress driver (workloads on pthreads, every live block tagged with
 * its owner and a sequence number, checks after join) and the benchmark loop (ns per
 * alloc+free pair against the system malloc, the same loop in the same run). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>

#include "hk.h"

#define HK_W_LARSON 0
#define HK_W_PRODCONS 1
#define TAG_LIVE 0xA11CULL        /* top 16 bits of a live block's first word */
#define TAG_FREED 0xF4EEF4EEF4EEF4EEULL



typedef struct worker {
    struct shared *sh;
    int idx;
    pthread_t th;
    uint64_t allocs[HK_MAX_CLASSES], frees[HK_MAX_CLASSES];
    uint64_t ops;
} worker;

typedef struct ring {            /* single-producer single-consumer ring of blocks */
    _Atomic uint64_t head, tail;
    uintptr_t *items;
    uint64_t *tags;
    int *sizes;
    uint32_t cap;
} ring;

typedef struct shared {
    hk_stress_params *prm;
    hk_pool *pool;
    worker *w;
    uintptr_t *slots;            /* larson: threads x ring slots */
    uint64_t *slot_tags;
    int *slot_sizes;
    ring *rings;                 /* producer/consumer: one per pair */
    pthread_barrier_t round, done, go_exit;
    _Atomic int stop;
    pthread_mutex_t msg_lock;
} shared;

static uint64_t rng_next(uint64_t *s) {   /* xorshift64* */
    uint64_t x = *s;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void finding(shared *sh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void finding(shared *sh, const char *fmt, ...) {
    pthread_mutex_lock(&sh->msg_lock);
    if (!sh->prm->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(sh->prm->message, sizeof sh->prm->message, fmt, ap);
        va_end(ap);
        sh->prm->failed = 1;
    }
    pthread_mutex_unlock(&sh->msg_lock);
    atomic_store(&sh->stop, 1);
}

static inline uint64_t make_tag(int owner, uint32_t seq) {
    return (TAG_LIVE << 48) | ((uint64_t)(owner & 0xFFFF) << 32) | seq;
}

/* Tag a block just handed out; a live tag already there is a double allocation. */
static int tag_block(shared *sh, uintptr_t b, int size, uint64_t tag) {
    uint64_t old = __atomic_exchange_n((uint64_t *)b, tag, __ATOMIC_RELAXED);
    if ((old >> 48) == TAG_LIVE) {
        finding(sh, "[STRESS-TAG] double allocation: block 0x%lx handed to tid %d (seq %u) "
                "while live for tid %d (seq %u)", (unsigned long)b, (int)((tag >> 32) & 0xFFFF),
                (unsigned)tag, (int)((old >> 32) & 0xFFFF), (unsigned)old);
        return -1;
    }
    if (size >= 16) __atomic_store_n((uint64_t *)(b + size - 8), tag, __ATOMIC_RELAXED);
    return 0;
}

/* Check a block's tag before freeing it; mark it freed. */
static int untag_block(shared *sh, uintptr_t b, int size, uint64_t tag) {
    uint64_t got = __atomic_exchange_n((uint64_t *)b, TAG_FREED, __ATOMIC_RELAXED);
    uint64_t end = size >= 16 ? __atomic_load_n((uint64_t *)(b + size - 8), __ATOMIC_RELAXED) : tag;
    if (got != tag || end != tag) {
        finding(sh, "[STRESS-OVERWRITE] block 0x%lx of tid %d (seq %u) was overwritten: first "
                "word 0x%lx, last word 0x%lx, expected 0x%lx", (unsigned long)b,
                (int)((tag >> 32) & 0xFFFF), (unsigned)tag, (unsigned long)got,
                (unsigned long)end, (unsigned long)tag);
        return -1;
    }
    return 0;
}

static void do_free(shared *sh, worker *w, hk_thread *t, uintptr_t b, int size) {
    int c = hk_size_to_class(sh->pool, size);
    int e = hk_free(sh->pool, t, b);
    if (e) finding(sh, "[STRESS-FREE] free(0x%lx) by tid %d of a live block failed with "
                   "error %d (1 not in pool, 2 not a block start, 3 double free)",
                   (unsigned long)b, w->idx, e);
    w->frees[c]++;
    w->ops++;
}

static uintptr_t do_alloc(shared *sh, worker *w, hk_thread *t, int size, uint64_t tag) {
    int c = hk_size_to_class(sh->pool, size);
    uintptr_t b = hk_alloc(sh->pool, t, c);
    w->ops++;
    if (!b) {
        finding(sh, "[STRESS-OOM] alloc(%d) by tid %d returned NULL", size, w->idx);
        return 0;
    }
    w->allocs[c]++;
    if (tag_block(sh, b, size, tag)) return 0;
    return b;
}

static inline int stopped(shared *sh) {
    return atomic_load_explicit(&sh->stop, memory_order_relaxed);
}

/* larson-like: each thread works on one partition of slots per round (free the slot's
 * block, allocate a new one); the partitions rotate between threads every round, so
 * the blocks one thread allocated are freed by the next. */
static void larson(shared *sh, worker *w, hk_thread *t) {
    hk_stress_params *prm = sh->prm;
    int T = prm->threads, S = prm->ring;
    uint64_t rng = prm->seed * 0x9E3779B97F4A7C15ULL + (uint64_t)w->idx + 1;
    uint64_t rounds = 16, per_round = prm->ops / T / rounds + 1;
    uint32_t seq = 0;
    for (uint64_t r = 0; r < rounds; r++) {
        int part = (int)((w->idx + r) % T);
        uintptr_t *slots = sh->slots + (size_t)part * S;
        uint64_t *tags = sh->slot_tags + (size_t)part * S;
        int *sizes = sh->slot_sizes + (size_t)part * S;
        for (uint64_t k = 0; k < per_round && !stopped(sh);) {
            int i = (int)(rng_next(&rng) % S);
            if (slots[i]) {
                if (untag_block(sh, slots[i], sizes[i], tags[i])) break;
                do_free(sh, w, t, slots[i], sizes[i]);
                slots[i] = 0;
                k++;
            }
            int size = 8 + (int)(rng_next(&rng) % (prm->max_size - 7));
            uint64_t tag = make_tag(w->idx, ++seq);
            uintptr_t b = do_alloc(sh, w, t, size, tag);
            if (!b) break;
            slots[i] = b;
            tags[i] = tag;
            sizes[i] = size;
            k++;
        }
        pthread_barrier_wait(&sh->round);
    }
}

/* producer/consumer: even threads allocate and pass every block to the next thread,
 * which checks its tag and frees it (every free is remote). */
static void prodcons(shared *sh, worker *w, hk_thread *t) {
    hk_stress_params *prm = sh->prm;
    ring *q = &sh->rings[w->idx / 2];
    uint64_t n = prm->ops / prm->threads;       /* blocks per pair: n allocs + n frees */
    uint64_t rng = prm->seed * 0x9E3779B97F4A7C15ULL + (uint64_t)w->idx + 1;
    if (w->idx % 2 == 0) {
        uint64_t head = 0, tail = 0;            /* tail: the consumer's, as last seen */
        for (uint64_t k = 0; k < n && !stopped(sh); k++) {
            int size = 8 + (int)(rng_next(&rng) % (prm->max_size - 7));
            uint64_t tag = make_tag(w->idx, (uint32_t)(k + 1));
            uintptr_t b = do_alloc(sh, w, t, size, tag);
            if (!b) break;
            while (head - tail >= q->cap) {
                tail = atomic_load_explicit(&q->tail, memory_order_acquire);
                if (head - tail < q->cap) break;
                if (stopped(sh)) return;
                sched_yield();
            }
            q->items[head % q->cap] = b;
            q->tags[head % q->cap] = tag;
            q->sizes[head % q->cap] = size;
            atomic_store_explicit(&q->head, ++head, memory_order_release);
        }
        return;
    }
    uint64_t tail = 0;
    for (uint64_t k = 0; k < n;) {               /* take every block published, then release */
        uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);
        if (head == tail) {
            if (stopped(sh)) return;
            sched_yield();
            continue;
        }
        for (; tail < head && k < n; tail++, k++) {
            uintptr_t b = q->items[tail % q->cap];
            uint64_t tag = q->tags[tail % q->cap];
            int size = q->sizes[tail % q->cap];
            if (untag_block(sh, b, size, tag)) return;
            do_free(sh, w, t, b, size);
        }
        atomic_store_explicit(&q->tail, tail, memory_order_release);
    }
}

static void *worker_main(void *arg) {
    worker *w = arg;
    shared *sh = w->sh;
    hk_thread *t = hk_thread_new(sh->pool, w->idx);
    if (!t) finding(sh, "[STRESS-OOM] no memory for thread state of tid %d", w->idx);
    else if (sh->prm->workload == HK_W_LARSON) larson(sh, w, t);
    else prodcons(sh, w, t);
    pthread_barrier_wait(&sh->done);      /* the main thread checks the statistics */
    pthread_barrier_wait(&sh->go_exit);
    if (t) hk_thread_exit(sh->pool, t);
    return NULL;
}
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* After the workload, threads parked: exact statistics equal the driver's own counts;
 * reported statistics within the batch bound, and within 1% where the class is large. */
static void check_stats(shared *sh) {
    hk_pool *p = sh->pool;
    int nc = p->cfg.num_classes, T = sh->prm->threads;
    uint64_t ea[HK_MAX_CLASSES], ef[HK_MAX_CLASSES], ra[HK_MAX_CLASSES], rf[HK_MAX_CLASSES];
    hk_exact_stats(p, ea, ef);
    hk_stats(p, ra, rf);
    uint64_t bound = (uint64_t)T * (p->cfg.flush_interval - 1);
    uint64_t rep[2][HK_MAX_CLASSES], ex[2][HK_MAX_CLASSES];
    for (int c = 0; c < nc; c++) {
        uint64_t da = 0, df = 0;
        for (int i = 0; i < T; i++) {
            da += sh->w[i].allocs[c];
            df += sh->w[i].frees[c];
        }
        if ((da != ea[c] || df != ef[c]) && !sh->prm->failed)
            finding(sh, "[STRESS-EXACT] class %d: exact_stats says %lu allocs / %lu frees, the "
                    "threads made %lu / %lu", c, (unsigned long)ea[c], (unsigned long)ef[c],
                    (unsigned long)da, (unsigned long)df);
        rep[0][c] = ra[c]; ex[0][c] = ea[c];
        rep[1][c] = rf[c]; ex[1][c] = ef[c];
    }
    /* the design's claim first: within 1% wherever the pending batches allow it
     * (exact >= 100 x the bound), then the batch bound on every class */
    for (int pass = 0; pass < 2; pass++)
        for (int c = 0; c < nc && !sh->prm->failed; c++)
            for (int k = 0; k < 2 && !sh->prm->failed; k++) {
                uint64_t r = rep[k][c], e = ex[k][c], diff = r > e ? r - e : e - r;
                if (pass == 0 && e >= 100 * bound && diff * 100 > e)
                    finding(sh, "[STRESS-STATS1%%] class %d %s: reported %lu, exact %lu: more "
                            "than 1%% apart", c, k ? "frees" : "allocs", (unsigned long)r,
                            (unsigned long)e);
                if (pass == 1 && (r > e || diff > bound))
                    finding(sh, "[STRESS-STATS] class %d %s: reported %lu, exact %lu: off by "
                            "more than the %d threads' pending batches (%lu)", c,
                            k ? "frees" : "allocs", (unsigned long)r, (unsigned long)e, T,
                            (unsigned long)bound);
            }
}

/* Blocks in slabs that are neither bitmap-free, nor cached, nor remote (no thread left). */
static uint64_t used_in_slabs(hk_pool *p) {
    uint64_t used = 0;
    for (hk_slab *s = p->first; s; s = s->next)
        used += s->nblocks - s->free_count - s->mini_mag.count
                - atomic_load(&s->remote_count);
    return used;
}

int hk_stress_run(hk_stress_params *prm) {
    int T = prm->threads;
    prm->failed = 0;
    prm->message[0] = 0;
    if (T < 1 || (prm->workload == HK_W_PRODCONS && T % 2) || prm->max_size < 8 ||
        prm->ring < 1) {
        snprintf(prm->message, sizeof prm->message, "bad parameters: threads %d (producer/"
                 "consumer needs an even number), max_size %d (>= 8), ring %d", T,
                 prm->max_size, prm->ring);
        return 2;
    }
    shared sh;
    memset(&sh, 0, sizeof sh);
    sh.prm = prm;
    sh.pool = hk_pool_new(&prm->cfg, 0, 1);
    if (!sh.pool) {
        snprintf(prm->message, sizeof prm->message, "cannot create the pool (Config refused "
                 "or no memory)");
        return 2;
    }
    pthread_mutex_init(&sh.msg_lock, NULL);
    sh.w = calloc(T, sizeof(worker));
    size_t nslots = (size_t)T * prm->ring;
    sh.slots = calloc(nslots, sizeof(uintptr_t));
    sh.slot_tags = calloc(nslots, sizeof(uint64_t));
    sh.slot_sizes = calloc(nslots, sizeof(int));
    sh.rings = calloc(T / 2 + 1, sizeof(ring));
    for (int i = 0; i < T / 2 + 1; i++) {
        sh.rings[i].cap = prm->ring;
        sh.rings[i].items = calloc(prm->ring, sizeof(uintptr_t));
        sh.rings[i].tags = calloc(prm->ring, sizeof(uint64_t));
        sh.rings[i].sizes = calloc(prm->ring, sizeof(int));
    }
    pthread_barrier_init(&sh.round, NULL, T);
    pthread_barrier_init(&sh.done, NULL, T + 1);
    pthread_barrier_init(&sh.go_exit, NULL, T + 1);
    double t0 = now_s();
    for (int i = 0; i < T; i++) {
        sh.w[i].sh = &sh;
        sh.w[i].idx = i;
        pthread_create(&sh.w[i].th, NULL, worker_main, &sh.w[i]);
    }
    pthread_barrier_wait(&sh.done);
    prm->seconds = now_s() - t0;
    prm->done_ops = 0;
    for (int i = 0; i < T; i++) prm->done_ops += sh.w[i].ops;
    if (!prm->failed) check_stats(&sh);
    pthread_barrier_wait(&sh.go_exit);
    for (int i = 0; i < T; i++) pthread_join(sh.w[i].th, NULL);
    hk_pool *p = sh.pool;
    if (!prm->failed && atomic_load(&p->err))
        finding(&sh, "[RMT-01] %s", p->err_msg);
    /* conservation: with every thread gone, the used blocks are the live ones */
    uint64_t live = 0;
    for (size_t i = 0; i < nslots; i++) live += sh.slots[i] != 0;
    for (int i = 0; i < T / 2 + 1; i++)
        live += atomic_load(&sh.rings[i].head) - atomic_load(&sh.rings[i].tail);
    if (!prm->failed && used_in_slabs(p) != live)
        finding(&sh, "[STRESS-CONSERVATION] after join %lu blocks are used in the slabs "
                "(nblocks - free - mini-mag - remote), the threads hold %lu",
                (unsigned long)used_in_slabs(p), (unsigned long)live);
    /* the main thread frees what is left, exits; quiesce; every slab must be free */
    if (!prm->failed) {
        worker mw;
        memset(&mw, 0, sizeof mw);
        mw.sh = &sh;
        mw.idx = T;
        hk_thread *t = hk_thread_new(p, T);
        for (size_t i = 0; i < nslots && !prm->failed; i++)
            if (sh.slots[i] && !untag_block(&sh, sh.slots[i], sh.slot_sizes[i], sh.slot_tags[i]))
                do_free(&sh, &mw, t, sh.slots[i], sh.slot_sizes[i]);
        for (int i = 0; i < T / 2 + 1 && !prm->failed; i++) {
            ring *q = &sh.rings[i];
            for (uint64_t k = q->tail; k < q->head; k++)
                if (!untag_block(&sh, q->items[k % q->cap], q->sizes[k % q->cap],
                                 q->tags[k % q->cap]))
                    do_free(&sh, &mw, t, q->items[k % q->cap], q->sizes[k % q->cap]);
        }
        hk_thread_exit(p, t);
        hk_quiesce(p);
    }
    if (!prm->failed) {
        uint64_t ea[HK_MAX_CLASSES], ef[HK_MAX_CLASSES], ra[HK_MAX_CLASSES], rf[HK_MAX_CLASSES];
        hk_exact_stats(p, ea, ef);
        hk_stats(p, ra, rf);
        for (int c = 0; c < p->cfg.num_classes && !prm->failed; c++)
            if (ea[c] != ef[c] || ra[c] != ea[c] || rf[c] != ef[c])
                finding(&sh, "[STRESS-EXACT] class %d after every thread exited: exact %lu "
                        "allocs / %lu frees, reported %lu / %lu (all must be equal)", c,
                        (unsigned long)ea[c], (unsigned long)ef[c], (unsigned long)ra[c],
                        (unsigned long)rf[c]);
        if (!prm->failed && p->first)
            finding(&sh, "[STRESS-EMPTY] after thread exit and quiesce slab 0x%lx (class %d) "
                    "is still in the pool: free %u of %u, mini-mag %u, remote %u",
                    (unsigned long)p->first->base, p->first->class_idx, p->first->free_count,
                    p->first->nblocks, p->first->mini_mag.count,
                    atomic_load(&p->first->remote_count));
    }
    pthread_barrier_destroy(&sh.round);
    pthread_barrier_destroy(&sh.done);
    pthread_barrier_destroy(&sh.go_exit);
    for (int i = 0; i < T / 2 + 1; i++) {
        free(sh.rings[i].items); free(sh.rings[i].tags); free(sh.rings[i].sizes);
    }
    free(sh.rings); free(sh.slots); free(sh.slot_tags); free(sh.slot_sizes); free(sh.w);
    hk_pool_destroy(p);
    return prm->failed ? 1 : 0;
}

