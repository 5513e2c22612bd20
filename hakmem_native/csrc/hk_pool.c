/* The tiny pool: allocation (hot path, slow path), free routes, thread exit, quiesce,
 * batched statistics, and the debug counters and footprint the harness reads.
 * Mirrors hakmem_fast/allocator.py decision for decision (see its docstrings). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hk.h"

/* the idioms shared with hk_free.c (declared in hk.h), by their short names here */
#define fp_slab hk__fp_slab
#define priv hk__priv
#define maybe_release hk__maybe_release
#define refill hk__refill
#define drain hk__drain
#define evict hk__evict
#define flush_if_needed hk__flush_if_needed

/* ======================================================================== */
/* Recording: debug counters, footprint, owner-private writes (OWN-03)      */
/* ======================================================================== */


void hk__fp_slab(hk_pool *p, hk_slab *s) {
    if (!p->record || s->fp_dirty) return;
    if (p->fp_n == p->fp_cap) {
        uint32_t cap = p->fp_cap ? 2 * p->fp_cap : 64;
        uint32_t *n = realloc(p->fp_slabs, cap * sizeof *n);
        if (!n) return;
        p->fp_slabs = n;
        p->fp_cap = cap;
    }
    s->fp_dirty = 1;
    p->fp_slabs[p->fp_n++] = s->vidx;
}

static inline void slab_hit(hk_pool *p, hk_thread *t, int path, hk_slab *s) {
    hit(p, t, path);
    fp_slab(p, s);
}

/* Thread t (NULL: the pool at quiescence) writes owner-private words of s. */
void hk__priv(hk_pool *p, hk_slab *s, hk_thread *t) {
    fp_slab(p, s);
    if (!t) return;
    int64_t o = atomic_load_explicit(&s->owner, memory_order_relaxed);
    if (o != HK_NO_OWNER && o != t->tid) {
        if (s->nforeign < 4) {
            s->foreign[s->nforeign][0] = t->tid;
            s->foreign[s->nforeign][1] = o;
        }
        s->nforeign++;
    }
}

static inline void mag_mark(hk_thread *t, int c, uint32_t slot) {
    if (slot < t->mag_lo[c]) t->mag_lo[c] = slot;
}

/* ======================================================================== */
/* Slabs of the pool                                                         */
/* ======================================================================== */

hk_slab *hk_slab_of(hk_pool *p, uintptr_t addr) {
    if (addr < p->arena) return NULL;
    uint64_t k = (addr - p->arena) >> p->slab_shift;
    if (k >= p->cfg.max_slabs_total) return NULL;
    hk_slab *s = p->slabs[k];
    return s && s->in_use ? s : NULL;
}

static inline uint32_t block_idx(hk_slab *s, uintptr_t b) {
    return (uint32_t)((b - s->base) / s->block_size);
}

/* Slow path (pool lock held): a fresh slab of class c, or NULL at the memory limit. */
static hk_slab *new_slab(hk_pool *p, hk_thread *t, int c) {
    if (p->cfg.max_slabs_per_class >= 0 &&
        p->class_slabs[c] >= (uint64_t)p->cfg.max_slabs_per_class)
        return NULL;
    uint32_t k;
#if HAKMEM_MUTANT == HK_slab_limit_8
    if (p->first && p->next_vidx >= 8 && !p->nfree_vidx) return NULL;
#endif
    if (p->nfree_vidx) k = p->free_vidx[--p->nfree_vidx];
    else if (p->next_vidx < p->cfg.max_slabs_total) k = p->next_vidx++;
    else return NULL;                       /* the arena is exhausted */
    hk_slab *s = p->slabs[k];
    if (!s) {
        s = hk_zalloc64(sizeof *s);
        if (!s) return NULL;
        p->slabs[k] = s;
    }
    s->vidx = k;
    s->base = p->arena + ((uintptr_t)k << p->slab_shift);
    if (hk_slab_init(s, &p->cfg, c) != 0) {
        p->free_vidx[p->nfree_vidx++] = k;
        return NULL;
    }
    s->in_use = 1;
    s->prev = p->last;
    s->next = NULL;
    if (p->last) p->last->next = s;
    else p->first = s;
    p->last = s;
    p->class_slabs[c]++;
    (void)t;
    fp_slab(p, s);
    return s;
}

/* Pool lock held: release s if unowned and entirely free. */
void hk__maybe_release(hk_pool *p, hk_thread *t, hk_slab *s) {
    if (atomic_load_explicit(&s->owner, memory_order_relaxed) != HK_NO_OWNER || !s->in_use
        || !hk_fully_free(s))
        return;
    if (s->prev) s->prev->next = s->next;
    else p->first = s->next;
    if (s->next) s->next->prev = s->prev;
    else p->last = s->prev;
    s->in_use = 0;
    p->class_slabs[s->class_idx]--;
    p->free_vidx[p->nfree_vidx++] = s->vidx;
    slab_hit(p, t, HK_P_SLAB_RELEASE, s);
    hk_slab_fini(s);
}

/* Slow path (pool lock held): the lowest unowned slab of class c with a free block. */
static hk_slab *find_partial(hk_pool *p, int c) {
    hk_slab *best = NULL;
    for (hk_slab *s = p->first; s; s = s->next) {
        if (s->class_idx != c ||
            atomic_load_explicit(&s->owner, memory_order_relaxed) != HK_NO_OWNER)
            continue;
        if ((s->free_count > 0 || s->mini_mag.count > 0 ||
             atomic_load_explicit(&s->remote_head, memory_order_acquire) != 0) &&
            (!best || s->base < best->base))
            best = s;
    }
    return best;
}

/* ======================================================================== */
/* The idioms: magazine pop/push, mini-mag pop, refill, drain, spill         */
/* ======================================================================== */

static inline uintptr_t mag_pop(hk_thread *t, int c) {
    hk_mag *m = &t->mags[c];
    if (!m->top) return 0;
    uint32_t top = --m->top;
    mag_mark(t, c, top);
    return m->items[top];
}

static inline int mag_push(hk_thread *t, int c, uintptr_t b) {
    hk_mag *m = &t->mags[c];
    if (m->top >= m->cap) return 0;
    mag_mark(t, c, m->top);
    m->items[m->top++] = b;
    return 1;
}

static inline uintptr_t mini_pop(hk_pool *p, hk_slab *s, hk_thread *t) {
    priv(p, s, t);
    return hk_mini_mag_pop(&s->mini_mag);
}

uint32_t hk__refill(hk_pool *p, hk_slab *s, hk_thread *t) {
    if (s->free_count == 0) return 0;
    priv(p, s, t);
    return hk_batch_refill_from_bitmap(s, &s->mini_mag, p->cfg.refill_batch, WB(p));
}

uint32_t hk__drain(hk_pool *p, hk_slab *s, hk_thread *t) {
    if (!atomic_load_explicit(&s->remote_head, memory_order_relaxed)) return 0;
    int64_t n = hk_remote_drain(p, s);   /* -1: corrupted (p->err), nothing changed */
    if (n <= 0) return 0;
    priv(p, s, t);
    slab_hit(p, t, HK_P_DRAIN, s);
    return (uint32_t)n;
}

/* Spill the mini-mag, drain the remote stack, unown; release if entirely free. */
void hk__evict(hk_pool *p, hk_thread *t, hk_slab *s) {
    if (s->mini_mag.count) {
        priv(p, s, t);
        slab_hit(p, t, HK_P_SPILL, s);
        hk_batch_spill_to_bitmap(s, &s->mini_mag, WB(p));
    }
    drain(p, s, t);
    pthread_mutex_lock(&p->lock);
    atomic_store_explicit(&s->owner, HK_NO_OWNER, memory_order_release);
    fp_slab(p, s);
    maybe_release(p, t, s);
    pthread_mutex_unlock(&p->lock);
}

/* ======================================================================== */
/* Statistics batching                                                       */
/* ======================================================================== */

int hk__flush_if_needed(hk_pool *p, uint64_t *batch, _Atomic uint64_t *g, int c) {
#if HAKMEM_MUTANT == HK_seed_stats_flush_if_needed
    (void)p;
    if ((batch[c] & 0xFF) == 0xFF) {   /* the seed's sample: at 255 events, adds 256 */
        hk_atomic_add(&g[c], 256);
        batch[c] = 0;
        return 1;
    }
    return 0;
#else
    uint64_t n = batch[c];
    if (n >= p->cfg.flush_interval) {
#if HAKMEM_MUTANT == HK_flush_drops_batches
        static _Thread_local unsigned flushes;
        if (++flushes % 16 == 0) n = 0;         /* this batch is never added */
#endif
        hk_atomic_add(&g[c], n);
        batch[c] = 0;
        return 1;
    }
    return 0;
#endif
}

void hk_flush_thread(hk_pool *p, hk_thread *t) {
    for (int c = 0; c < p->cfg.num_classes; c++)
        if (t->alloc_batch[c]) {
            hk_atomic_add(&p->g_alloc[c], t->alloc_batch[c]);
            t->alloc_batch[c] = 0;
        }
    for (int c = 0; c < p->cfg.num_classes; c++)
        if (t->free_batch[c]) {
            hk_atomic_add(&p->g_free[c], t->free_batch[c]);
            t->free_batch[c] = 0;
        }
}

/* ======================================================================== */
/* Allocation                                                                */
/* ======================================================================== */

/* Fast path: TLS magazine, then A's mini-mag, then a batch refill of A. */
static inline uintptr_t alloc_hot(hk_pool *p, hk_thread *t, int c) {
    hk_mag *m = &t->mags[c];
    if (m->top) {
        uint32_t top = --m->top;
        mag_mark(t, c, top);
        t->counts[HK_P_TLS_MAG]++;
        return m->items[top];
    }
    hk_slab *a = t->active_a[c];
    if (!a) return 0;
    uintptr_t b;
    if (a->mini_mag.count > 0 && (b = mini_pop(p, a, t))) {
        t->counts[HK_P_MINI_MAG]++;
        return b;
    }
    if (refill(p, a, t) > 0 && (b = mini_pop(p, a, t))) {
        t->counts[HK_P_REFILL]++;
        return b;
    }
    return 0;
}

/* Slow path: A's then B's mini-mag blocks into the TLS magazine (refilling an empty
 * mini-mag from its bitmap before and after).  Returns the blocks moved. */
static uint32_t refill_tls_magazine(hk_pool *p, hk_thread *t, int c) {
    hk_mag *m = &t->mags[c];
    uint32_t moved = 0;
    hk_slab *pair[2] = {t->active_a[c], t->active_b[c]};
    for (int i = 0; i < 2; i++) {
        hk_slab *s = pair[i];
        if (!s) continue;
        if (s->mini_mag.count == 0) refill(p, s, t);
        while (m->top < m->cap && s->mini_mag.count > 0) {
            uintptr_t b = mini_pop(p, s, t);
            if (!b) break;
            mag_push(t, c, b);
            moved++;
        }
        if (s->mini_mag.count == 0) refill(p, s, t);
    }
    if (moved) hit(p, t, HK_P_TLS_REFILL);
    return moved;
}

/* Slow path: a block from the magazine, else from A's or B's mini-mag (refilled). */
static uintptr_t serve_from_actives(hk_pool *p, hk_thread *t, int c) {
    uintptr_t b = mag_pop(t, c);
    if (b) return b;
    hk_slab *pair[2] = {t->active_a[c], t->active_b[c]};
    for (int i = 0; i < 2; i++) {
        hk_slab *s = pair[i];
        if (!s) continue;
        if (s->mini_mag.count == 0) refill(p, s, t);
        if (s->mini_mag.count > 0 && (b = mini_pop(p, s, t))) return b;
    }
    return 0;
}

/* Slow path: drain A and B, refill the TLS magazine, adopt a partial slab or a new one
 * (it becomes A, old A becomes B, old B is evicted). */
static uintptr_t alloc_slow(hk_pool *p, hk_thread *t, int c) {
    if (t->active_a[c]) drain(p, t->active_a[c], t);
    if (t->active_b[c]) drain(p, t->active_b[c], t);
    refill_tls_magazine(p, t, c);
    uintptr_t b = serve_from_actives(p, t, c);
    if (b) {
        hit(p, t, HK_P_SLOW);
        return b;
    }
    pthread_mutex_lock(&p->lock);
    int path = HK_P_SLOW;
    hk_slab *s = find_partial(p, c);
    if (!s) {
        s = new_slab(p, t, c);
        path = HK_P_NEW_SLAB;
    }
    if (s) atomic_store_explicit(&s->owner, t->tid, memory_order_release);   /* claimed */
    pthread_mutex_unlock(&p->lock);
    if (!s) return 0;
    if (t->active_b[c]) evict(p, t, t->active_b[c]);
    t->active_b[c] = t->active_a[c];
    t->active_a[c] = s;
    fp_slab(p, s);
    drain(p, s, t);
    refill_tls_magazine(p, t, c);
    b = serve_from_actives(p, t, c);
    if (b) hit(p, t, path);
    return b;
}

uintptr_t hk_alloc(hk_pool *p, hk_thread *t, int c) {
    uintptr_t b = alloc_hot(p, t, c);
    if (!b) {
        b = alloc_slow(p, t, c);
        if (!b) {
            hit(p, t, HK_P_OOM);
            return 0;
        }
    }
    if (p->debug) {
        hk_slab *s = p->slabs[(b - p->arena) >> p->slab_shift];
        s->live[block_idx(s, b)] = 1;
#if HAKMEM_MUTANT == HK_live_not_marked
        if (block_idx(s, b) % 97 == 5) s->live[block_idx(s, b)] = 0;
#endif
    }
    t->exact_alloc[c]++;
    t->alloc_batch[c]++;
    if (flush_if_needed(p, t->alloc_batch, p->g_alloc, c)) hit(p, t, HK_P_STAT_FLUSH);
    return b;
}

int hk_size_to_class(const hk_pool *p, int64_t size) {
    if (size < 0) return -1;
    for (int c = 0; c < p->cfg.num_classes; c++)
        if ((uint64_t)size <= p->cfg.class_sizes[c]) return c;
    return -1;
}
