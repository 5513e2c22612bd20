/* The tiny pool: allocation (hot path, slow path), free routes, thread exit, quiesce,
 * batched statistics, and the debug counters and footprint the harness reads.
 * Mirrors hakmem_verify/models/fast/allocator.py decision for decision (see its docstrings). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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
    if (p->ss_on) {                         /* carved in a SuperSlab t owns */
        if (!hk__ss_carve(p, t, &k)) return NULL;     /* the arena is exhausted */
    } else {
#if HAKMEM_MUTANT == HK_slab_limit_8
        if (p->first && p->next_vidx >= 8 && !p->nfree_vidx) return NULL;
#endif
        if (p->nfree_vidx) k = p->free_vidx[--p->nfree_vidx];
        else if (p->next_vidx < p->cfg.max_slabs_total) k = p->next_vidx++;
        else return NULL;                   /* the arena is exhausted */
    }
    hk_slab *s = p->slabs[k];
    if (!s) {
        s = hk_zalloc64(sizeof *s);
        if (!s) return NULL;
        p->slabs[k] = s;
    }
    s->vidx = k;
    s->base = p->arena + ((uintptr_t)k << p->slab_shift);
    if (hk_slab_init(s, &p->cfg, c) != 0) {
        if (!p->ss_on) p->free_vidx[p->nfree_vidx++] = k;
        else {                              /* the slot goes back to its SuperSlab */
            hk_ss *ss = hk_ss_of(p, s->base);
            ss->free_slots[ss->nfree++] = (uint32_t)((s->base - ss->base) >> p->slab_shift);
        }
        return NULL;
    }
    s->in_use = 1;
    s->prev = p->last;
    s->next = NULL;
    if (p->last) p->last->next = s;
    else p->first = s;
    p->last = s;
    p->class_slabs[c]++;
    if (p->ss_on) hk__ss_place(p, s);
    fp_slab(p, s);
    return s;
}

/* Pool lock held: s leaves the list of slabs in use. */
static void hk__unlink_in_use(hk_pool *p, hk_slab *s) {
    if (s->prev) s->prev->next = s->next;
    else p->first = s->next;
    if (s->next) s->next->prev = s->prev;
    else p->last = s->prev;
    s->in_use = 0;
    p->class_slabs[s->class_idx]--;
}

/* Pool lock held: release s if unowned and entirely free. */
void hk__maybe_release(hk_pool *p, hk_thread *t, hk_slab *s) {
    if (atomic_load_explicit(&s->owner, memory_order_relaxed) != HK_NO_OWNER || !s->in_use
        || !hk_fully_free(s))
        return;
    hk__unlink_in_use(p, s);
    if (!p->ss_on) p->free_vidx[p->nfree_vidx++] = s->vidx;
    slab_hit(p, t, HK_P_SLAB_RELEASE, s);
    hk_slab_fini(s);
    if (p->ss_on) hk__ss_slab_released(p, t, s);   /* its slot back to its SuperSlab */
}

/* Slow path (pool lock held): the lowest unowned slab of class c with a free block. */
static hk_slab *find_partial(hk_pool *p, hk_thread *t, int c) {
    if (p->ss_on) return hk__ss_find_partial(p, t, c);
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
    if (p->ss_on) {                         /* SuperSlab mode: the tls_sll first */
        uintptr_t b = t->sll_head[c];
        if (b) {
            t->sll_head[c] = *(uintptr_t *)b;
            t->sll_count[c]--;
            if (p->record) fp_slab(p, p->slabs[(b - p->arena) >> p->slab_shift]);
            t->counts[HK_P_SS_ALLOC_TLS_SLL_HIT]++;
            return b;
        }
    }
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
    hk_slab *s = find_partial(p, t, c);
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


/* ======================================================================== */
/* SuperSlab mode (Config.use_superslab): slabs carved from thread-owned SuperSlabs, the
 * pool of empty SuperSlabs, reclaim of abandoned ones.  Mirrors hakmem_verify/models/fast/superslab.py
 * decision for decision (see its docstrings).  Everything here runs under the pool lock;
 * the free pipeline and the tls_sll are thread-private (alloc_hot above, hk_free.c). */
/* ======================================================================== */

/* ss is in t's list (in the order taken). */
static void list_add(hk_thread *t, uint32_t idx) {
    if (t->ss_n == t->ss_cap) {
        uint32_t cap = t->ss_cap ? 2 * t->ss_cap : 8;
        uint32_t *n = realloc(t->ss_list, cap * sizeof *n);
        if (!n) abort();                 /* out of memory for thread state */
        t->ss_list = n;
        t->ss_cap = cap;
    }
    t->ss_list[t->ss_n++] = idx;
}

static void list_remove(hk_thread *t, uint32_t idx) {
    for (uint32_t i = 0; i < t->ss_n; i++)
        if (t->ss_list[i] == idx) {
            memmove(t->ss_list + i, t->ss_list + i + 1, (t->ss_n - i - 1) * sizeof(uint32_t));
            t->ss_n--;
            return;
        }
}

static inline int64_t ss_owner(hk_ss *ss) {
    return atomic_load_explicit(&ss->owner, memory_order_relaxed);
}

/* Every slab of ss changed (its SuperSlab's owner shows in each slab's snapshot). */
static void touch(hk_pool *p, hk_ss *ss) {
    for (uint32_t i = 1; i < ss->nslots; i++)
        if (ss->slabs[i]) hk__fp_slab(p, ss->slabs[i]);
}

/* t takes the abandoned SuperSlab ss whole: the header names t its owner. */
static void reclaim(hk_pool *p, hk_thread *t, hk_ss *ss) {
    atomic_store_explicit(&ss->owner, t->tid, memory_order_relaxed);
    list_add(t, ss->idx);
    hit(p, t, HK_P_SS_RECLAIM);
    touch(p, ss);
}

/* Lowest unowned slab of class c with a free block in a SuperSlab t owns; else the
 * lowest in an abandoned SuperSlab, which t reclaims whole. */
hk_slab *hk__ss_find_partial(hk_pool *p, hk_thread *t, int c) {
    hk_slab *best = NULL;
    int best_abandoned = 0;
    for (hk_slab *s = p->first; s; s = s->next) {
        if (s->class_idx != c ||
            atomic_load_explicit(&s->owner, memory_order_relaxed) != HK_NO_OWNER)
            continue;
        if (!(s->free_count > 0 || s->mini_mag.count > 0 ||
              atomic_load_explicit(&s->remote_head, memory_order_acquire) != 0))
            continue;
        int64_t o = ss_owner(hk_ss_of(p, s->base));
        if (o != HK_NO_OWNER && o != t->tid) continue;
        int ab = o == HK_NO_OWNER;
        if (!best || ab < best_abandoned || (ab == best_abandoned && s->base < best->base)) {
            best = s;
            best_abandoned = ab;
        }
    }
    if (best && best_abandoned) reclaim(p, t, hk_ss_of(p, best->base));
    return best;
}

/* Lowest SuperSlab in use owned by owner (HK_NO_OWNER: abandoned) with a free slot. */
static hk_ss *with_room(hk_pool *p, int64_t owner) {
    for (uint32_t k = 0; k < p->next_ss; k++) {
        hk_ss *ss = p->sss[k];
        if (ss && ss->state == HK_SS_IN_USE && ss_owner(ss) == owner &&
            (ss->nfree || ss->carved < ss->nslots))
            return ss;
    }
    return NULL;
}

static void ss_reset(hk_ss *ss) {
    atomic_store_explicit(&ss->owner, HK_NO_OWNER, memory_order_relaxed);
    ss->in_use = 0;
    ss->nfree = 0;
    ss->carved = 1;
    memset(ss->slabs, 0, ss->nslots * sizeof(hk_slab *));
}

/* An empty SuperSlab for t: popped from the pool, else mapped (an index returned to the
 * OS first, else the next one); t owns it.  NULL when the arena is exhausted. */
static hk_ss *acquire(hk_pool *p, hk_thread *t) {
    hk_ss *ss;
    if (p->ss_pool_n) {
        ss = p->sss[p->ss_pool[--p->ss_pool_n]];
        hit(p, t, HK_P_SS_POOL_POP);
    } else {
        uint32_t k;
        if (p->ss_unmapped_n) k = p->ss_unmapped[--p->ss_unmapped_n];
        else if (p->next_ss < p->max_ss) k = p->next_ss++;
        else return NULL;
        ss = p->sss[k];
        if (!ss) {
            uint32_t n = (uint32_t)(p->cfg.superslab_size >> p->slab_shift);
            ss = hk_zalloc64(sizeof *ss);
            if (ss) {
                ss->slabs = hk_zalloc64(n * sizeof(hk_slab *));
                ss->free_slots = hk_zalloc64(n * sizeof(uint32_t));
            }
            if (!ss || !ss->slabs || !ss->free_slots) {
                if (ss) { free(ss->slabs); free(ss->free_slots); free(ss); }
                if (k + 1 == p->next_ss) p->next_ss--;
                else p->ss_unmapped[p->ss_unmapped_n++] = k;
                return NULL;
            }
            ss->idx = k;
            ss->nslots = n;
            ss->base = p->ss_base0 + ((uintptr_t)k << p->ss_shift);
            p->sss[k] = ss;
        }
        ss_reset(ss);
        hit(p, t, HK_P_SS_MAP);
    }
    ss->state = HK_SS_IN_USE;
    atomic_store_explicit(&ss->owner, t->tid, memory_order_relaxed);
    list_add(t, ss->idx);
    return ss;
}

/* The arena index of a free slot for a new slab, in a SuperSlab t owns: one with a free
 * slot, else an abandoned one (reclaimed), else one from the pool, else a new one.
 * 0 when the arena is exhausted. */
int hk__ss_carve(hk_pool *p, hk_thread *t, uint32_t *vidx) {
    hk_ss *ss = with_room(p, t->tid);
    if (!ss) {
        ss = with_room(p, HK_NO_OWNER);
        if (ss) reclaim(p, t, ss);
    }
    if (!ss) ss = acquire(p, t);
    if (!ss) return 0;
    uint32_t slot = ss->nfree ? ss->free_slots[--ss->nfree] : ss->carved;
    if (slot == ss->carved) ss->carved++;
    *vidx = (uint32_t)((ss->base - p->arena) >> p->slab_shift) + slot;
    return 1;
}

/* Enter a new slab in its SuperSlab's header. */
void hk__ss_place(hk_pool *p, hk_slab *s) {
    hk_ss *ss = hk_ss_of(p, s->base);
    ss->slabs[(s->base - ss->base) >> p->slab_shift] = s;
    ss->in_use++;
}

/* ss leaves use: its owner forgets it; to the pool (at most superslab_pool_max) or back
 * to the OS.  A slab still carved in it is dropped with it and recorded (SS-04). */
static void release(hk_pool *p, hk_thread *t, hk_ss *ss) {
    for (uint32_t i = 1; i < ss->nslots; i++) {
        hk_slab *s = ss->slabs[i];
        if (!s) continue;
        if (p->nbad < 4) {
            uint64_t *b = p->bad[p->nbad];
            b[0] = ss->base;
            b[1] = s->base;
            b[2] = s->nblocks - s->free_count;
            b[3] = atomic_load_explicit(&s->remote_count, memory_order_relaxed);
        }
        p->nbad++;
        if (s->in_use) {                 /* dropped from the pool with its SuperSlab */
            hk__unlink_in_use(p, s);
            hk__fp_slab(p, s);
            hk_slab_fini(s);
        }
    }
    int64_t o = ss_owner(ss);
    if (o != HK_NO_OWNER)
        for (hk_thread *x = p->threads; x; x = x->next)
            if (x->tid == o) {
                list_remove(x, ss->idx);
                x->fp_dirty = 1;
                break;
            }
    ss_reset(ss);
    if (p->ss_pool_n < p->cfg.superslab_pool_max) {
        ss->state = HK_SS_POOLED;
        p->ss_pool[p->ss_pool_n++] = ss->idx;
        hit(p, t, HK_P_SS_POOL_PUSH);
    } else {
        ss->state = HK_SS_UNMAPPED;
        p->ss_unmapped[p->ss_unmapped_n++] = ss->idx;
        hit(p, t, HK_P_SS_UNMAP);
        /* back to the OS: its whole pages go (a SuperSlab smaller than a page shares
         * its page with others), the address range stays reserved */
        uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE), lo = (ss->base + pg - 1) & ~(pg - 1),
                  hi = (ss->base + p->cfg.superslab_size) & ~(pg - 1);
        if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
    }
}

/* A released slab's slot goes back to its SuperSlab; the SuperSlab is released when it
 * has no slab in use. */
void hk__ss_slab_released(hk_pool *p, hk_thread *t, hk_slab *s) {
    hk_ss *ss = hk_ss_of(p, s->base);
    uint32_t slot = (uint32_t)((s->base - ss->base) >> p->slab_shift);
    if (ss->slabs[slot] == s) {
        ss->slabs[slot] = NULL;
        ss->in_use--;
    }
    ss->free_slots[ss->nfree++] = slot;
    if (ss->in_use == 0) release(p, t, ss);
}

/* Thread exit: t's SuperSlabs lose their owner (abandoned). */
void hk__ss_abandon(hk_pool *p, hk_thread *t) {
    for (uint32_t i = 0; i < t->ss_n; i++) {
        hk_ss *ss = p->sss[t->ss_list[i]];
        if (ss && ss->state == HK_SS_IN_USE && ss_owner(ss) == t->tid) {
            atomic_store_explicit(&ss->owner, HK_NO_OWNER, memory_order_relaxed);
            hit(p, t, HK_P_SS_ABANDON);
            touch(p, ss);
        }
    }
    t->ss_n = 0;
}

int hk__ss_thread_init(hk_pool *p, hk_thread *t) {
    int nc = p->cfg.num_classes;
    t->sll_head = hk_zalloc64(nc * sizeof(uintptr_t));
    t->sll_count = hk_zalloc64(nc * sizeof(uint32_t));
    return t->sll_head && t->sll_count ? 0 : -1;
}

int hk__ss_pool_init(hk_pool *p) {
    if (!p->ss_on) return 0;
    while ((1ULL << p->ss_shift) < p->cfg.superslab_size) p->ss_shift++;
    p->ss_base0 = p->arena + p->cfg.ss_first_off;
    uint64_t span = p->cfg.max_slabs_total * p->cfg.slab_size;
    p->max_ss = span > p->cfg.ss_first_off
        ? (uint32_t)((span - p->cfg.ss_first_off) >> p->ss_shift) : 0;
    uint32_t n = p->max_ss ? p->max_ss : 1;
    p->sss = calloc(n, sizeof(hk_ss *));
    p->ss_pool = calloc(n, sizeof(uint32_t));
    p->ss_unmapped = calloc(n, sizeof(uint32_t));
    return p->sss && p->ss_pool && p->ss_unmapped ? 0 : -1;
}

void hk__ss_pool_fini(hk_pool *p) {
    if (p->sss)
        for (uint32_t k = 0; k < p->max_ss; k++)
            if (p->sss[k]) {
                free(p->sss[k]->slabs);
                free(p->sss[k]->free_slots);
                free(p->sss[k]);
            }
    free(p->sss);
    free(p->ss_pool);
    free(p->ss_unmapped);
}
