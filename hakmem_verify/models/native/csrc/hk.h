/* hakmem tiny pool in C11: the seed design (hybrid bitmap + mini-magazine), as the
 * Python model hakmem_verify.models.fast does it, with real memory, real atomics and real threads.
 *
 * Memory: one arena reserved with mmap, aligned to slab_size; slab k (its "virtual
 * index", vidx) lives at arena + k * slab_size, so the slab of an address is one
 * subtraction and one shift, lock-free, and the address pattern is the model's
 * (model address = base_address + (addr - arena)).  Released slabs are kept and
 * reused last-released-first, as the model reuses its released bases.
 *
 * Accounting identity of a slab (every block is in exactly one place):
 *   nblocks == live + bitmap_free + |mini_mag| + |remote| + |in magazines|
 *
 * SuperSlab mode (cfg.use_superslab, hakmem_verify/models/fast/superslab.py): the arena is cut into
 * SuperSlabs of superslab_size bytes aligned to their size (SuperSlab k at arena +
 * ss_first_off + k * superslab_size, the model's first aligned base), slot 0 of each
 * kept for its header (the header itself, hk_ss, lives off the arena), slabs carved in
 * slots 1..; a SuperSlab is owned by one thread, abandoned at its exit, reclaimed whole
 * by the next thread that needs it, and when empty pooled (up to superslab_pool_max) or
 * returned to the OS (its pages dropped, its addresses kept for reuse, last first).  A
 * free into a SuperSlab the caller owns goes first to its tls_sll (a bounded intrusive
 * list per class, thread-private), which an alloc pops first.
 *
 * Ownership: a slab is owned by the thread whose active slab (A or B) it is; only
 * the owner writes its bitmap and mini-magazine.  Unowned slabs are changed only
 * under the pool lock.  Words shared between threads: remote_head, remote_count,
 * owner (atomics), the global flushed counters (fetch-add), and the pool.
 */
#ifndef HK_H
#define HK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "hk_mutants.h"

#define HK_MAX_CLASSES 64
#define HK_NO_OWNER (-1)

/* The design's debug counters, in the model's order (hakmem_verify.models.fast.probe.PATHS); the
 * SuperSlab mode's counters follow the default mode's. */
enum {
    HK_P_TLS_MAG, HK_P_MINI_MAG, HK_P_REFILL, HK_P_SLOW, HK_P_NEW_SLAB, HK_P_OOM,
    HK_P_FREE_MAGAZINE, HK_P_FREE_LOCAL, HK_P_FREE_REMOTE,
    HK_P_SPILL, HK_P_DRAIN, HK_P_MAG_OVERFLOW, HK_P_STAT_FLUSH, HK_P_SLAB_RELEASE,
    HK_P_TLS_REFILL,
    HK_P_SS_LOCAL, HK_P_SS_REMOTE, HK_P_TLS_SLL, HK_P_SS_ALLOC_TLS_SLL_HIT,
    HK_P_SS_FREE_EARLY_LOCAL, HK_P_SS_MAP, HK_P_SS_POOL_POP, HK_P_SS_POOL_PUSH,
    HK_P_SS_UNMAP, HK_P_SS_RECLAIM, HK_P_SS_ABANDON, HK_P_TLS_SLL_FLUSH,
    HK_NPATHS
};

/* Results of hk_free (and hk_validate_free): the contract's errors. */
enum { HK_OK = 0, HK_E_NOT_IN_POOL = 1, HK_E_NOT_BLOCK_START = 2, HK_E_DOUBLE_FREE = 3 };

typedef struct hk_config {
    int num_classes;                       /* size classes */
    uint32_t class_sizes[HK_MAX_CLASSES];  /* block size per class, ascending */
    uint64_t slab_size;                    /* bytes per slab; also its alignment */
    int word_bits;                         /* bits per bitmap word (1..64) */
    uint32_t mini_mag_capacity;            /* PageMiniMag.capacity */
    uint32_t refill_batch;                 /* blocks bitmap -> mini-mag per refill */
    uint32_t magazine_capacity;            /* TLS magazine items per class */
    uint32_t flush_interval;               /* stat events per batch before a flush */
    int64_t max_slabs_per_class;           /* memory limit; -1 = unlimited */
    uint64_t max_slabs_total;              /* arena size in slabs (address space) */
    /* SuperSlab mode (hakmem_verify/models/fast/superslab.py) */
    int use_superslab;                     /* 0: the default mode */
    uint64_t superslab_size;               /* bytes per SuperSlab; also its alignment */
    uint32_t superslab_pool_max;           /* empty SuperSlabs kept for reuse */
    uint32_t tls_sll_capacity;             /* bound of a thread's tls_sll per class */
    uint64_t ss_first_off;                 /* arena offset of the first SuperSlab (the model's
                                            * first superslab_size-aligned base) */
} hk_config;

/* Page mini-magazine: intrusive LIFO in the slab's free blocks.  count == |list| <= capacity */
typedef struct hk_minimag {
    uintptr_t head;        /* first free block (its first word: next) */
    uint32_t count;        /* items on the list */
    uint32_t capacity;     /* max items */
} hk_minimag;

/* One slab: two-tier bitmap (bit = 1: used; padding bits 1), mini-mag, remote stack.
 *   free_count == popcount(free bits); summary bit w <=> words[w] != full;
 *   every word below hint_word is full; remote_count == |remote list| between ops. */
typedef struct hk_slab {
    uintptr_t base;                /* slab_size-aligned address */
    uint32_t vidx;                 /* slab index in the arena */
    int32_t class_idx;             /* size class */
    uint32_t block_size;           /* bytes per block */
    uint32_t nblocks;              /* blocks in the slab */
    uint32_t nwords, nsum;         /* bitmap words, summary words */
    uint64_t *words;               /* bitmap */
    uint64_t *summary;             /* bit w: words[w] has a free bit */
    uint32_t hint_word;            /* scan start (lower bound of the first free word) */
    uint32_t free_count;           /* bitmap-free blocks */
    hk_minimag mini_mag;           /* owner-private LIFO */
    _Atomic uintptr_t remote_head; /* MPSC remote-free stack head */
    _Atomic uint32_t remote_count; /* blocks on the remote stack (a hint between CAS and add) */
    _Atomic int64_t owner;         /* tid of the owning thread, HK_NO_OWNER if unowned */
    int32_t in_use;                /* 1 while in the pool (not released) */
    uint8_t *live;                 /* debug table: 1 = block handed out to the client */
    struct hk_slab *prev, *next;   /* the pool's in-use list, creation order */
    int32_t fp_dirty;              /* in the current footprint */
    uint32_t nforeign;             /* owner-private writes by a non-owner (OWN-03) */
    int64_t foreign[4][2];         /* the first (writer, owner) pairs */
} hk_slab;

/* SuperSlab: superslab_size bytes at an address aligned to its size; slot 0 is the header
 * (kept here, off the arena), slots 1.. are slabs carved on demand.
 *   nslots == 1 + in_use + nfree + (nslots - carved); slabs[i]->base == base + i * slab_size
 * Changed only under the pool lock; owner is read by every free (atomic). */
enum { HK_SS_UNUSED = 0, HK_SS_IN_USE = 1, HK_SS_POOLED = 2, HK_SS_UNMAPPED = 3 };
typedef struct hk_ss {
    uintptr_t base;                /* superslab_size-aligned address */
    uint32_t idx;                  /* SuperSlab index in the arena */
    uint32_t nslots;               /* slots, the header's included */
    _Atomic int64_t owner;         /* tid of the owning thread, HK_NO_OWNER: abandoned */
    int32_t state;                 /* HK_SS_* */
    hk_slab **slabs;               /* slot -> slab carved there (slot 0: the header) */
    uint32_t *free_slots;          /* slots given back by released slabs (a stack) */
    uint32_t nfree;
    uint32_t carved;               /* next never-carved slot */
    uint32_t in_use;               /* slabs carved and not released */
} hk_ss;

/* TLS magazine: items[0:top] are cached free blocks (array, not intrusive). 0 <= top <= cap */
typedef struct hk_mag {
    uintptr_t *items;      /* block addresses */
    uint32_t top;          /* cached items */
    uint32_t cap;          /* capacity */
} hk_mag;

/* Per-thread state: what the design keeps in TLS, plus debug counters. */
typedef struct hk_thread {
    int64_t tid;
    hk_mag *mags;                   /* per class */
    hk_slab **active_a, **active_b; /* per class */
    uint64_t *alloc_batch, *free_batch;   /* pending stat events per class */
    uint64_t *exact_alloc, *exact_free;   /* true counts (debug) */
    uint64_t counts[HK_NPATHS];     /* debug counters of this thread's ops */
    uint32_t *mag_lo;               /* footprint: lowest magazine slot touched per class */
    struct hk_thread *prev, *next;  /* the pool's thread list */
    /* SuperSlab mode: the tls_sll lists (thread-private, intrusive through the blocks) and
     * the SuperSlabs the thread owns (changed under the pool lock) */
    uintptr_t *sll_head;            /* per class */
    uint32_t *sll_count;            /* per class */
    uint32_t *ss_list;              /* SuperSlab indices, in the order taken */
    uint32_t ss_n, ss_cap;
    int32_t fp_dirty;               /* ss_list changed by another thread (footprint) */
} hk_thread;

typedef struct hk_pool {
    hk_config cfg;
    uintptr_t arena;               /* first slab address */
    void *arena_map;               /* the mapping (arena rounded down) */
    size_t arena_map_len;
    uint32_t slab_shift;           /* log2(slab_size) */
    hk_slab **slabs;               /* by vidx; NULL if never created */
    uint32_t next_vidx;            /* next never-used slab index */
    uint32_t *free_vidx;           /* released slab indices (a stack) */
    uint32_t nfree_vidx;
    hk_slab *first, *last;         /* in-use slabs, creation order */
    uint64_t class_slabs[HK_MAX_CLASSES];   /* in-use slabs per class */
    _Atomic uint64_t g_alloc[HK_MAX_CLASSES];  /* global flushed counters */
    _Atomic uint64_t g_free[HK_MAX_CLASSES];
    uint64_t retired_alloc[HK_MAX_CLASSES];    /* exact counts of exited threads */
    uint64_t retired_free[HK_MAX_CLASSES];
    uint64_t counts[HK_NPATHS];    /* debug counters of exited threads and the pool */
    hk_thread *threads;            /* live thread states */
    pthread_mutex_t lock;          /* the pool lock */
    int record;                    /* keep the footprint (single-threaded drivers only) */
    int debug;                     /* keep the live table, validate every free */
    uint32_t *fp_slabs;            /* footprint: vidx of slabs changed */
    uint32_t fp_n, fp_cap;
    /* SuperSlab mode */
    int ss_on;                     /* cfg.use_superslab */
    uint32_t ss_shift;             /* log2(superslab_size) */
    uintptr_t ss_base0;            /* address of SuperSlab 0 (aligned to its size) */
    uint32_t max_ss, next_ss;      /* SuperSlabs the arena holds; next never mapped */
    hk_ss **sss;                   /* by index; NULL if never mapped */
    uint32_t *ss_pool;             /* empty SuperSlabs kept for reuse (a stack) */
    uint32_t ss_pool_n;
    uint32_t *ss_unmapped;         /* indices returned to the OS, reused first (a stack) */
    uint32_t ss_unmapped_n;
    uint32_t nbad;                 /* SuperSlab releases that met a slab in use (SS-04) */
    uint64_t bad[4][4];            /* the first: (ss base, slab base, used, remote) */
    _Atomic int err;               /* 1 after a corrupted remote stack was found */
    char err_msg[512];             /* what was found (RMT-01) */
} hk_pool;

struct hk_stress_params {
    int threads;            /* worker pthreads */
    int workload;           /* HK_W_LARSON or HK_W_PRODCONS */
    uint64_t ops;           /* alloc + free calls in total */
    uint64_t seed;
    int max_size;           /* sizes 1..max_size */
    int remote_pct;         /* (bench) share of remote frees */
    int ring;               /* producer/consumer ring size; larson slots per thread */
    int mode;               /* reserved */
    double seconds;         /* out: wall time of the workload */
    uint64_t done_ops;      /* out: calls made */
    int failed;             /* out: 1 on a finding */
    char message[1024];     /* out: the finding, starting with the check's name */
    hk_config cfg;          /* the pool's Config */
};
typedef struct hk_stress_params hk_stress_params;

/* ---- pool and threads (hk_pool.c) ---- */
const char *hk_check_config(const hk_config *cfg);
hk_pool *hk_pool_new(const hk_config *cfg, int record, int debug);
void hk_pool_destroy(hk_pool *p);
hk_thread *hk_thread_new(hk_pool *p, int64_t tid);
void hk_thread_exit(hk_pool *p, hk_thread *t);   /* frees t */
uintptr_t hk_alloc(hk_pool *p, hk_thread *t, int class_idx);
int hk_validate_free(hk_pool *p, uintptr_t addr, hk_slab **slab_out);
int hk_free(hk_pool *p, hk_thread *t, uintptr_t addr);
void hk_free_unchecked(hk_pool *p, hk_thread *t, uintptr_t addr);
int hk_size_to_class(const hk_pool *p, int64_t size);
void hk_flush_thread(hk_pool *p, hk_thread *t);
void hk_quiesce(hk_pool *p);
int hk_evict_active(hk_pool *p, hk_thread *t, int c);
uint32_t hk_drain_remote(hk_pool *p, hk_thread *t, int c);
uint32_t hk_refill_active(hk_pool *p, hk_thread *t, int c);
int hk_live_class(hk_pool *p, uintptr_t addr);   /* class of a live block start, else -1 */
int hk_block_start(hk_pool *p, uintptr_t addr, uintptr_t *start);  /* live block holding addr */
hk_slab *hk_slab_of(hk_pool *p, uintptr_t addr);
void hk_exact_stats(hk_pool *p, uint64_t *allocs, uint64_t *frees);
void hk_path_counts(hk_pool *p, uint64_t *out);
uint32_t hk_walk(hk_slab *s, uintptr_t head, uint32_t bound, uintptr_t *out, int *err);
uint32_t hk_fp_take(hk_pool *p, uintptr_t *out, uint32_t cap);
void hk_thread_mag_take(hk_pool *p, hk_thread *t, uint32_t *out);
void hk_stats(hk_pool *p, uint64_t *allocs, uint64_t *frees);
int hk_stress_run(hk_stress_params *prm);
int hk_free_begin(hk_pool *p, hk_thread *t, uintptr_t addr, hk_slab **push);
uintptr_t hk_remote_load(hk_slab *s);
void hk_remote_link(uintptr_t ptr, uintptr_t next);
int hk_remote_cas(hk_slab *s, uintptr_t expected, uintptr_t ptr);
void hk_remote_count_add(hk_slab *s);

/* ---- the idioms of hk_pool.c that hk_free.c calls ---- */
void hk__fp_slab(hk_pool *p, hk_slab *s);                      /* s in the footprint */
void hk__priv(hk_pool *p, hk_slab *s, hk_thread *t);           /* owner-private write */
void hk__maybe_release(hk_pool *p, hk_thread *t, hk_slab *s);  /* pool lock held */
void hk__evict(hk_pool *p, hk_thread *t, hk_slab *s);          /* spill, drain, unown */
uint32_t hk__drain(hk_pool *p, hk_slab *s, hk_thread *t);      /* remote stack -> bitmap */
uint32_t hk__refill(hk_pool *p, hk_slab *s, hk_thread *t);     /* bitmap -> mini-mag */
int hk__flush_if_needed(hk_pool *p, uint64_t *batch, _Atomic uint64_t *g, int c);

/* ---- the slab (hk_slab.c) ---- */
int32_t hk_find_free(hk_slab *s, int word_bits);
void hk_set_used(hk_slab *s, uint32_t idx, int word_bits);
void hk_set_free(hk_slab *s, uint32_t idx, int word_bits);
uintptr_t hk_mini_mag_pop(hk_minimag *m);
int hk_mini_mag_push(hk_minimag *m, uintptr_t ptr);
uint32_t hk_batch_refill_from_bitmap(hk_slab *s, hk_minimag *m, uint32_t want, int word_bits);
uint32_t hk_batch_spill_to_bitmap(hk_slab *s, hk_minimag *m, int word_bits);
void hk_remote_push(hk_slab *s, uintptr_t ptr);
int64_t hk_remote_drain(hk_pool *p, hk_slab *s);   /* -1: corrupted, nothing changed */
int hk_slab_init(hk_slab *s, const hk_config *cfg, int class_idx);
void hk_slab_fini(hk_slab *s);
int hk_fully_free(hk_slab *s);

/* ---- SuperSlab mode (hk_pool.c) ---- */
int hk__ss_carve(hk_pool *p, hk_thread *t, uint32_t *vidx);             /* lock held */
hk_slab *hk__ss_find_partial(hk_pool *p, hk_thread *t, int c);           /* lock held */
void hk__ss_place(hk_pool *p, hk_slab *s);                               /* lock held */
void hk__ss_slab_released(hk_pool *p, hk_thread *t, hk_slab *s);         /* lock held */
void hk__ss_abandon(hk_pool *p, hk_thread *t);                           /* lock held */
int hk__ss_thread_init(hk_pool *p, hk_thread *t);
int hk__ss_pool_init(hk_pool *p);
void hk__ss_pool_fini(hk_pool *p);

/* The SuperSlab of a block of the pool (SuperSlab mode). */
static inline hk_ss *hk_ss_of(hk_pool *p, uintptr_t addr) {
    return p->sss[(addr - p->ss_base0) >> p->ss_shift];
}

#define WB(p) ((p)->cfg.word_bits)

/* Zeroed memory on its own cache lines (per-thread and per-slab state: no false sharing
 * between threads).  Free with free(). */
static inline void *hk_zalloc64(size_t n) {
    size_t sz = (n + 63) & ~(size_t)63;
    void *m = aligned_alloc(64, sz ? sz : 64);
    if (m) memset(m, 0, sz ? sz : 64);
    return m;
}

/* One event of a debug counter, counted by thread t (NULL: the pool). */
static inline void hit(hk_pool *p, hk_thread *t, int path) {
    if (t) t->counts[path]++;
    else p->counts[path]++;
}

static inline void hk_atomic_add(_Atomic uint64_t *counter, uint64_t n) {
#if HAKMEM_MUTANT == HK_seed_stats_global_add
    /* seed sample: g_tiny_pool.alloc_count[c] += n; a plain (non-atomic) load and store */
    *(volatile uint64_t *)counter += n;
#else
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
#endif
}

#endif
