/* Free routes, thread exit, quiesce, the maintenance ops the harness drives, the pool's
 * life cycle, and what the harness reads (exact stats, counters, footprint, list walks). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hk.h"




/* ======================================================================== */
/* Free                                                                      */
/* ======================================================================== */

int hk_validate_free(hk_pool *p, uintptr_t addr, hk_slab **slab_out) {
    hk_slab *s = hk_slab_of(p, addr);
    if (!s) return HK_E_NOT_IN_POOL;
    uintptr_t off = addr - s->base;
    if (off % s->block_size || off / s->block_size >= s->nblocks) return HK_E_NOT_BLOCK_START;
    if (s->live[off / s->block_size] != 1) return HK_E_DOUBLE_FREE;
    *slab_out = s;
    return HK_OK;
}

/* The remote route's bookkeeping; returns the slab whose stack the block goes on. */
static inline hk_slab *remote_route(hk_pool *p, hk_thread *t, hk_slab *s) {
    hk__fp_slab(p, s);
    hit(p, t, HK_P_FREE_REMOTE);
    return s;
}

static void remote(hk_pool *p, hk_thread *t, hk_slab *s, uintptr_t addr) {
    hk_remote_push(remote_route(p, t, s), addr);
}

/* A free block back into a slab t owns (mini-mag, else bitmap) or an unowned slab
 * (bitmap, under the pool lock; if it was adopted meanwhile, a remote push). */
static void put_local(hk_pool *p, hk_thread *t, hk_slab *s, uintptr_t addr) {
    uint32_t idx = (uint32_t)((addr - s->base) / s->block_size);
    if (atomic_load_explicit(&s->owner, memory_order_acquire) == t->tid) {
        hk__priv(p, s, t);
        hk__fp_slab(p, s);
        hit(p, t, HK_P_FREE_LOCAL);
        if (hk_mini_mag_push(&s->mini_mag, addr)) return;
        hk_set_free(s, idx, WB(p));
        return;                          /* owned: never released here */
    }
    pthread_mutex_lock(&p->lock);
    int64_t o = atomic_load_explicit(&s->owner, memory_order_acquire);
    if (o != HK_NO_OWNER) {              /* adopted by another thread meanwhile */
        pthread_mutex_unlock(&p->lock);
        remote(p, t, s, addr);
        return;
    }
    hk__priv(p, s, t);
    hit(p, t, HK_P_FREE_LOCAL);
    hk_set_free(s, idx, WB(p));
    hk__maybe_release(p, t, s);
    pthread_mutex_unlock(&p->lock);
}

/* Put a free block back into its slab from thread t (not its magazine). */
static void return_block(hk_pool *p, hk_thread *t, hk_slab *s, uintptr_t addr) {
    int64_t o = atomic_load_explicit(&s->owner, memory_order_acquire);
    if (o != HK_NO_OWNER && o != t->tid) remote(p, t, s, addr);
    else put_local(p, t, s, addr);
}

/* Route a freed block: a slab owned by another thread gets a remote push (returned to
 * the caller, not done: hk_free pushes at once, hk_free_begin's caller word by word);
 * else the TLS magazine; else back to the slab (NULL: the block is placed). */
static hk_slab *ss_route(hk_pool *p, hk_thread *t, hk_slab *s, uintptr_t addr);

static inline hk_slab *route(hk_pool *p, hk_thread *t, hk_slab *s, uintptr_t addr) {
    if (p->ss_on) return ss_route(p, t, s, addr);
    int64_t o = atomic_load_explicit(&s->owner, memory_order_acquire);
    if (o != HK_NO_OWNER && o != t->tid) {
#if HAKMEM_MUTANT == HK_exact_misses_remote
        t->exact_free[s->class_idx]--;
#endif
        return remote_route(p, t, s);
    }
    int c = s->class_idx;
    hk_mag *m = &t->mags[c];
    if (m->top < m->cap) {
        if (m->top < t->mag_lo[c]) t->mag_lo[c] = m->top;
        m->items[m->top++] = addr;
#if HAKMEM_MUTANT == HK_free_pushes_twice
        if ((addr / s->block_size) % 64 == 0 && m->top < m->cap) m->items[m->top++] = addr;
#endif
        t->counts[HK_P_FREE_MAGAZINE]++;
        return NULL;
    }
    hit(p, t, HK_P_MAG_OVERFLOW);
    return_block(p, t, s, addr);
    return NULL;
}

/* SuperSlab mode's free pipeline: a free into a SuperSlab the caller owns is ss_local:
 * onto its tls_sll of the class (at most tls_sll_capacity), else the TLS magazine, else
 * the slab; any other free is ss_remote and takes the default route.  The SuperSlab's
 * owner can become the caller only by the caller's own hand, so one load decides. */
static hk_slab *ss_route(hk_pool *p, hk_thread *t, hk_slab *s, uintptr_t addr) {
    int c = s->class_idx;
    int local = atomic_load_explicit(&hk_ss_of(p, addr)->owner, memory_order_relaxed) == t->tid;
    if (!local) {
#if HAKMEM_MUTANT == HK_ss_counter_wrong_route
        t->counts[HK_P_SS_LOCAL]++;             /* a remote free counted as a local one */
#else
        t->counts[HK_P_SS_REMOTE]++;
#endif
        hk_slab *o_of = s;
#if HAKMEM_MUTANT == HK_ss_mask_off_by_one_slab
        {   /* the owner read from the slab one slab above the block's, when there is one */
            hk_slab *up = hk_slab_of(p, s->base + p->cfg.slab_size);
            if (up && hk_ss_of(p, up->base) == hk_ss_of(p, addr)) o_of = up;
        }
#endif
        int64_t o = atomic_load_explicit(&o_of->owner, memory_order_acquire);
        if (o != HK_NO_OWNER && o != t->tid) return remote_route(p, t, s);
    } else {
        t->counts[HK_P_SS_LOCAL]++;
        if (t->sll_count[c] < p->cfg.tls_sll_capacity) {
            *(uintptr_t *)addr = t->sll_head[c];
            t->sll_head[c] = addr;
            t->sll_count[c]++;
            hk__fp_slab(p, s);
            t->counts[HK_P_TLS_SLL]++;
            t->counts[HK_P_SS_FREE_EARLY_LOCAL]++;
            return NULL;
        }
    }
    hk_mag *m = &t->mags[c];
    if (m->top < m->cap) {
        if (m->top < t->mag_lo[c]) t->mag_lo[c] = m->top;
        m->items[m->top++] = addr;
        t->counts[HK_P_FREE_MAGAZINE]++;
        if (local) t->counts[HK_P_SS_FREE_EARLY_LOCAL]++;
        return NULL;
    }
    hit(p, t, HK_P_MAG_OVERFLOW);
    return_block(p, t, s, addr);
    return NULL;
}

static inline void count_free(hk_pool *p, hk_thread *t, int c) {
    t->exact_free[c]++;
    t->free_batch[c]++;
    if (hk__flush_if_needed(p, t->free_batch, p->g_free, c)) hit(p, t, HK_P_STAT_FLUSH);
}

/* free(addr) up to a remote push: *push is the slab whose remote stack the block must
 * be pushed on (not done yet), or NULL when the block is already placed.  hk_free and
 * the stepped free (hakmem_verify.models.native.allocator's free_steps) are this, then the push. */
int hk_free_begin(hk_pool *p, hk_thread *t, uintptr_t addr, hk_slab **push) {
    hk_slab *s;
    *push = NULL;
    int e = hk_validate_free(p, addr, &s);
    if (e) return e;
    s->live[(addr - s->base) / s->block_size] = 0;
    count_free(p, t, s->class_idx);
    *push = route(p, t, s, addr);
    return HK_OK;
}

int hk_free(hk_pool *p, hk_thread *t, uintptr_t addr) {
    hk_slab *push;
    int e = hk_free_begin(p, t, addr, &push);
    if (!e && push) hk_remote_push(push, addr);
    return e;
}

/* free without the debug table (a pool made with debug = 0: benchmarks). */
void hk_free_unchecked(hk_pool *p, hk_thread *t, uintptr_t addr) {
    hk_slab *s = p->slabs[(addr - p->arena) >> p->slab_shift];
    count_free(p, t, s->class_idx);
    hk_slab *push = route(p, t, s, addr);
    if (push) hk_remote_push(push, addr);
}

/* ======================================================================== */
/* Threads                                                                   */
/* ======================================================================== */

hk_thread *hk_thread_new(hk_pool *p, int64_t tid) {
    int nc = p->cfg.num_classes;
    hk_thread *t = hk_zalloc64(sizeof *t);
    if (!t) return NULL;
    t->tid = tid;
    t->mags = hk_zalloc64(nc * sizeof *t->mags);
    t->active_a = hk_zalloc64(nc * sizeof(hk_slab *));
    t->active_b = hk_zalloc64(nc * sizeof(hk_slab *));
    t->alloc_batch = hk_zalloc64(nc * sizeof(uint64_t));
    t->free_batch = hk_zalloc64(nc * sizeof(uint64_t));
    t->exact_alloc = hk_zalloc64(nc * sizeof(uint64_t));
    t->exact_free = hk_zalloc64(nc * sizeof(uint64_t));
    t->mag_lo = hk_zalloc64(nc * sizeof(uint32_t));
    int ok = t->mags && t->active_a && t->active_b && t->alloc_batch && t->free_batch
             && t->exact_alloc && t->exact_free && t->mag_lo && hk__ss_thread_init(p, t) == 0;
    for (int c = 0; ok && c < nc; c++) {
        t->mags[c].cap = p->cfg.magazine_capacity;
        t->mags[c].items = hk_zalloc64(p->cfg.magazine_capacity * sizeof(uintptr_t));
        ok = t->mags[c].items != NULL;
        t->mag_lo[c] = UINT32_MAX;
    }
    if (!ok) return NULL;   /* out of memory for thread state: leaks what was made */
    pthread_mutex_lock(&p->lock);
    t->next = p->threads;
    if (p->threads) p->threads->prev = t;
    p->threads = t;
    pthread_mutex_unlock(&p->lock);
    return t;
}

static void thread_free(hk_pool *p, hk_thread *t) {
    for (int c = 0; c < p->cfg.num_classes; c++) free(t->mags[c].items);
    free(t->mags); free(t->active_a); free(t->active_b); free(t->alloc_batch);
    free(t->free_batch); free(t->exact_alloc); free(t->exact_free); free(t->mag_lo);
    free(t->sll_head); free(t->sll_count); free(t->ss_list);
    free(t);
}

/* Return every block t caches, evict its active slabs, flush its stats; frees t. */
void hk_thread_exit(hk_pool *p, hk_thread *t) {
    for (int c = 0; c < p->cfg.num_classes; c++) {
        hk_slab *a = t->active_a[c], *b = t->active_b[c];
        t->active_a[c] = t->active_b[c] = NULL;
        if (a) hk__evict(p, t, a);
#if HAKMEM_MUTANT == HK_thread_exit_keeps_b
        b = NULL;                               /* B stays owned by a thread that is gone */
#endif
        if (b) hk__evict(p, t, b);
        hk_mag *m = &t->mags[c];
        while (m->top > 0) {
            uintptr_t x = m->items[--m->top];
            return_block(p, t, hk_slab_of(p, x), x);
        }
    }
    if (p->ss_on) {                      /* the tls_sll blocks back, then abandon */
        for (int c = 0; c < p->cfg.num_classes; c++)
            while (t->sll_head[c]) {
                uintptr_t x = t->sll_head[c];
                t->sll_head[c] = *(uintptr_t *)x;
                t->sll_count[c]--;
                hk_slab *s = hk_slab_of(p, x);
                hk__fp_slab(p, s);
                hit(p, t, HK_P_TLS_SLL_FLUSH);
                return_block(p, t, s, x);
            }
        pthread_mutex_lock(&p->lock);
        hk__ss_abandon(p, t);
        pthread_mutex_unlock(&p->lock);
    }
    hk_flush_thread(p, t);
    pthread_mutex_lock(&p->lock);
    if (t->prev) t->prev->next = t->next;
    else p->threads = t->next;
    if (t->next) t->next->prev = t->prev;
    for (int c = 0; c < p->cfg.num_classes; c++) {
        p->retired_alloc[c] += t->exact_alloc[c];
        p->retired_free[c] += t->exact_free[c];
    }
    for (int i = 0; i < HK_NPATHS; i++) p->counts[i] += t->counts[i];
    pthread_mutex_unlock(&p->lock);
    thread_free(p, t);
}

/* Every remote stack drained, every free slab released (threads already exited). */
void hk_quiesce(hk_pool *p) {
    for (hk_slab *s = p->first, *nx; s; s = nx) {
        nx = s->next;
        hk__drain(p, s, NULL);
        pthread_mutex_lock(&p->lock);
        hk__maybe_release(p, NULL, s);
        pthread_mutex_unlock(&p->lock);
    }
}

int hk_evict_active(hk_pool *p, hk_thread *t, int c) {
    hk_slab *s = t->active_a[c];
    if (!s) return 0;
    hk__evict(p, t, s);
    t->active_a[c] = t->active_b[c];
    t->active_b[c] = NULL;
    return 1;
}

uint32_t hk_drain_remote(hk_pool *p, hk_thread *t, int c) {
    uint32_t n = 0;
    if (t->active_a[c]) n += hk__drain(p, t->active_a[c], t);
    if (t->active_b[c]) n += hk__drain(p, t->active_b[c], t);
    return n;
}

uint32_t hk_refill_active(hk_pool *p, hk_thread *t, int c) {
    return t->active_a[c] ? hk__refill(p, t->active_a[c], t) : 0;
}

/* ======================================================================== */
/* Pool life cycle                                                           */
/* ======================================================================== */

const char *hk_check_config(const hk_config *cfg) {
    if (cfg->use_superslab) {
        uint64_t z = cfg->superslab_size;
        if (z < 2 * cfg->slab_size || (z & (z - 1)) || z % cfg->slab_size) return "superslab_size";
        if (cfg->ss_first_off % cfg->slab_size || cfg->ss_first_off >= z) return "ss_first_off";
    }
    if (cfg->num_classes < 1 || cfg->num_classes > HK_MAX_CLASSES) return "num_classes";
    if (cfg->word_bits < 1 || cfg->word_bits > 64) return "word_bits";
    if (cfg->slab_size < 8 || (cfg->slab_size & (cfg->slab_size - 1))) return "slab_size";
    if (cfg->slab_size / cfg->class_sizes[0] > UINT32_MAX / 2) return "slab_size";
    if (cfg->max_slabs_total < 1) return "max_slabs_total";
    return NULL;
}

hk_pool *hk_pool_new(const hk_config *cfg, int record, int debug) {
    if (hk_check_config(cfg)) return NULL;
    hk_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->cfg = *cfg;
    p->record = record;
    p->debug = debug;
    while ((1ULL << p->slab_shift) < cfg->slab_size) p->slab_shift++;
    p->ss_on = cfg->use_superslab != 0;
    p->arena_map_len = (size_t)(cfg->max_slabs_total + 1) * cfg->slab_size;
    if (p->ss_on) p->arena_map_len = (size_t)cfg->max_slabs_total * cfg->slab_size
                                     + cfg->superslab_size;
    p->arena_map = mmap(NULL, p->arena_map_len, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    p->slabs = calloc(cfg->max_slabs_total, sizeof(hk_slab *));
    p->free_vidx = calloc(cfg->max_slabs_total, sizeof(uint32_t));
    if (p->arena_map == MAP_FAILED || !p->slabs || !p->free_vidx) {
        if (p->arena_map != MAP_FAILED) munmap(p->arena_map, p->arena_map_len);
        free(p->slabs);
        free(p->free_vidx);
        free(p);
        return NULL;
    }
    uintptr_t m = (uintptr_t)p->arena_map;
    p->arena = (m + cfg->slab_size - 1) & ~(uintptr_t)(cfg->slab_size - 1);
    if (p->ss_on) {      /* SuperSlab k at arena + ss_first_off + k * superslab_size, aligned */
        uintptr_t a = (m + cfg->ss_first_off + cfg->superslab_size - 1)
                      & ~(uintptr_t)(cfg->superslab_size - 1);
        p->arena = a - cfg->ss_first_off;
    }
    if (hk__ss_pool_init(p) != 0) {
        hk__ss_pool_fini(p);
        munmap(p->arena_map, p->arena_map_len);
        free(p->slabs);
        free(p->free_vidx);
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

void hk_pool_destroy(hk_pool *p) {
    while (p->threads) {
        hk_thread *t = p->threads;
        p->threads = t->next;
        thread_free(p, t);
    }
    for (uint64_t k = 0; k < p->cfg.max_slabs_total; k++)
        if (p->slabs[k]) {
            if (p->slabs[k]->in_use) hk_slab_fini(p->slabs[k]);
            free(p->slabs[k]);
        }
    hk__ss_pool_fini(p);
    munmap(p->arena_map, p->arena_map_len);
    free(p->slabs);
    free(p->free_vidx);
    free(p->fp_slabs);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* ======================================================================== */
/* What the harness reads                                                    */
/* ======================================================================== */

int hk_live_class(hk_pool *p, uintptr_t addr) {
    hk_slab *s = hk_slab_of(p, addr);
    if (!s) return -1;
    uintptr_t off = addr - s->base;
    if (off % s->block_size || off / s->block_size >= s->nblocks) return -1;
    return s->live[off / s->block_size] == 1 ? s->class_idx : -1;
}

int hk_block_start(hk_pool *p, uintptr_t addr, uintptr_t *start) {
    hk_slab *s = hk_slab_of(p, addr);
    if (!s) return -1;
    uintptr_t off = addr - s->base;
    if (off / s->block_size >= s->nblocks) return -1;
    *start = addr - off % s->block_size;
    return s->live[off / s->block_size] == 1 ? s->class_idx : -1;
}

void hk_stats(hk_pool *p, uint64_t *allocs, uint64_t *frees) {
    for (int c = 0; c < p->cfg.num_classes; c++) {
        allocs[c] = atomic_load(&p->g_alloc[c]);
        frees[c] = atomic_load(&p->g_free[c]);
    }
}

void hk_exact_stats(hk_pool *p, uint64_t *allocs, uint64_t *frees) {
    pthread_mutex_lock(&p->lock);
    for (int c = 0; c < p->cfg.num_classes; c++) {
        allocs[c] = p->retired_alloc[c];
        frees[c] = p->retired_free[c];
        for (hk_thread *t = p->threads; t; t = t->next) {
            allocs[c] += t->exact_alloc[c];
            frees[c] += t->exact_free[c];
        }
    }
    pthread_mutex_unlock(&p->lock);
}

void hk_path_counts(hk_pool *p, uint64_t *out) {
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < HK_NPATHS; i++) {
        out[i] = p->counts[i];
        for (hk_thread *t = p->threads; t; t = t->next) out[i] += t->counts[i];
    }
    pthread_mutex_unlock(&p->lock);
}

/* One debug counter, summed over the pool and the live threads (a live view). */
uint64_t hk_path_count(hk_pool *p, int i) {
    pthread_mutex_lock(&p->lock);
    uint64_t n = p->counts[i];
    for (hk_thread *t = p->threads; t; t = t->next) n += t->counts[i];
    pthread_mutex_unlock(&p->lock);
    return n;
}

/* An intrusive list from head, at most bound entries; err: 0 ok, 1 a pointer that is
 * not a block of s, 2 a cycle, 3 longer than bound. */
uint32_t hk_walk(hk_slab *s, uintptr_t head, uint32_t bound, uintptr_t *out, int *err) {
    uint8_t *seen = calloc(s->nblocks, 1);
    uint32_t n = 0;
    *err = 0;
    uint64_t span = (uint64_t)s->nblocks * s->block_size;
    for (uintptr_t q = head; q; q = *(uintptr_t *)q) {
        if (q < s->base || q - s->base >= span || (q - s->base) % s->block_size) { *err = 1; break; }
        uint32_t i = (uint32_t)((q - s->base) / s->block_size);
        if (seen && seen[i]) { *err = 2; break; }
        if (n >= bound) { *err = 3; break; }
        if (seen) seen[i] = 1;
        out[n++] = q;
    }
    free(seen);
    return n;
}

/* The footprint's slabs (bases) since the last take; resets it.  Returns how many
 * there are; if more than cap, nothing is taken (call again with a bigger buffer). */
uint32_t hk_fp_take(hk_pool *p, uintptr_t *out, uint32_t cap) {
    uint32_t n = p->fp_n;
    if (n > cap) return n;
    for (uint32_t i = 0; i < n; i++) {
        hk_slab *s = p->slabs[p->fp_slabs[i]];
        out[i] = s->base;
        s->fp_dirty = 0;
    }
    p->fp_n = 0;
    return n;
}

void hk_thread_mag_take(hk_pool *p, hk_thread *t, uint32_t *out) {
    for (int c = 0; c < p->cfg.num_classes; c++) {
        out[c] = t->mag_lo[c];
        t->mag_lo[c] = UINT32_MAX;
    }
}

/* ======================================================================== */
/* The remote push word by word (the stepped free, after hk_free_begin)     */
/* ======================================================================== */

uintptr_t hk_remote_load(hk_slab *s) {
    return atomic_load_explicit(&s->remote_head, memory_order_relaxed);
}

void hk_remote_link(uintptr_t ptr, uintptr_t next) { *(uintptr_t *)ptr = next; }

int hk_remote_cas(hk_slab *s, uintptr_t expected, uintptr_t ptr) {
    return atomic_compare_exchange_strong_explicit(&s->remote_head, &expected, ptr,
                                                   memory_order_release, memory_order_relaxed);
}

void hk_remote_count_add(hk_slab *s) {
    atomic_fetch_add_explicit(&s->remote_count, 1, memory_order_relaxed);
}

uintptr_t hk_slab_remote_head(hk_slab *s) { return atomic_load(&s->remote_head); }
uint32_t hk_slab_remote_count(hk_slab *s) { return atomic_load(&s->remote_count); }
int64_t hk_slab_owner(hk_slab *s) { return atomic_load(&s->owner); }

/* ======================================================================== */
/* SuperSlab mode: what the harness reads                                    */
/* ======================================================================== */

int64_t hk_ss_owner(hk_ss *ss) { return atomic_load(&ss->owner); }

/* The SuperSlab whose range holds addr (in use, pooled or not), or NULL. */
hk_ss *hk_ss_at(hk_pool *p, uintptr_t addr) {
    if (!p->ss_on || addr < p->ss_base0) return NULL;
    uint64_t k = (addr - p->ss_base0) >> p->ss_shift;
    return k < p->next_ss ? p->sss[k] : NULL;
}

int hk_thread_dirty_take(hk_thread *t) {
    int d = t->fp_dirty;
    t->fp_dirty = 0;
    return d;
}
