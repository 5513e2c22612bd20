/* The slab: two-tier bitmap, page mini-magazine, batch refill/spill, remote-free stack.
 * Each function is the corrected form of a code sample of the seed design, as in
 * hakmem_verify/models/fast/bitmap.py and hakmem_verify/models/fast/core.py; HAKMEM_MUTANT selects the samples. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hk.h"

static inline uint64_t full_word(int wb) { return wb >= 64 ? ~0ULL : ((1ULL << wb) - 1); }
static inline int ctz64(uint64_t x) { return __builtin_ctzll(x); }
static inline uintptr_t load_next(uintptr_t b) { return *(uintptr_t *)b; }
static inline void store_next(uintptr_t b, uintptr_t v) { *(uintptr_t *)b = v; }

/* ======================================================================== */
/* Two-tier bitmap                                                          */
/* ======================================================================== */

int hk_slab_init(hk_slab *s, const hk_config *cfg, int class_idx) {
    int wb = cfg->word_bits;
    s->class_idx = class_idx;
    s->block_size = cfg->class_sizes[class_idx];
    s->nblocks = (uint32_t)(cfg->slab_size / s->block_size);
    s->nwords = (s->nblocks + wb - 1) / wb;
    s->nsum = (s->nwords + wb - 1) / wb;
    s->words = hk_zalloc64(s->nwords * sizeof(uint64_t));
    s->summary = hk_zalloc64(s->nsum * sizeof(uint64_t));
    s->live = hk_zalloc64(s->nblocks);
    if (!s->words || !s->summary || !s->live) {
        hk_slab_fini(s);
        return -1;
    }
    uint32_t pad = s->nwords * wb - s->nblocks;
    if (pad) /* padding bits: used forever */
        s->words[s->nwords - 1] = ((1ULL << pad) - 1) << (wb - pad);
    uint64_t full = full_word(wb);
    for (uint32_t w = 0; w < s->nwords; w++)
        if (s->words[w] != full) s->summary[w / wb] |= 1ULL << (w % wb);
    s->hint_word = 0;
    s->free_count = s->nblocks;
    s->mini_mag.head = 0;
    s->mini_mag.count = 0;
    s->mini_mag.capacity = cfg->mini_mag_capacity;
    atomic_store(&s->remote_head, 0);
    atomic_store(&s->remote_count, 0);
    atomic_store(&s->owner, HK_NO_OWNER);
    s->nforeign = 0;
    return 0;
}

void hk_slab_fini(hk_slab *s) {
    free(s->words);
    free(s->summary);
    free(s->live);
    s->words = s->summary = NULL;
    s->live = NULL;
}

/* Lowest free block at or after the hint word, or -1; moves the hint up to its word. */
int32_t hk_find_free(hk_slab *s, int wb) {
    uint32_t w = s->hint_word;
    uint32_t si = w / wb;
    uint64_t sword = si < s->nsum ? s->summary[si] & ~((1ULL << (w % wb)) - 1) : 0;
    for (;;) {
        if (sword) {
            w = si * wb + ctz64(sword);
            uint64_t free_bits = ~s->words[w] & full_word(wb);
            s->hint_word = w;
            return (int32_t)(w * wb + ctz64(free_bits));
        }
        if (++si >= s->nsum) return -1;
        sword = s->summary[si];
    }
}

/* Mark a free block used; clear its summary bit when the word fills. */
void hk_set_used(hk_slab *s, uint32_t idx, int wb) {
    uint32_t w = idx / wb;
    uint64_t word = s->words[w] | (1ULL << (idx % wb));
    s->words[w] = word;
    s->free_count--;
    if (word == full_word(wb)) s->summary[w / wb] &= ~(1ULL << (w % wb));
}

/* Mark a used block free; set its summary bit; lower the hint. */
void hk_set_free(hk_slab *s, uint32_t idx, int wb) {
    uint32_t w = idx / wb;
    s->words[w] &= ~(1ULL << (idx % wb));
    s->free_count++;
    s->summary[w / wb] |= 1ULL << (w % wb);
    if (w < s->hint_word) s->hint_word = w;
}

int hk_fully_free(hk_slab *s) {
    return s->free_count == s->nblocks && s->mini_mag.count == 0
        && atomic_load_explicit(&s->remote_count, memory_order_relaxed) == 0
        && atomic_load_explicit(&s->remote_head, memory_order_acquire) == 0;
}

/* ======================================================================== */
/* Module 1: page mini-magazine                                             */
/* ======================================================================== */

uintptr_t hk_mini_mag_pop(hk_minimag *m) {
    uintptr_t b = m->head;
    if (!b) return 0;
    m->head = load_next(b);
    m->count--;
    return b;
}

int hk_mini_mag_push(hk_minimag *m, uintptr_t ptr) {
    if (m->count >= m->capacity) return 0;
    store_next(ptr, m->head);
    m->head = ptr;
    m->count++;
    return 1;
}

/* ======================================================================== */
/* Module 2: batch refill (bitmap -> mini-mag) and spill (mini-mag -> bitmap) */
/* ======================================================================== */

/* Up to want bitmap-free blocks into the mini-mag; every block marked used is pushed
 * (the room is computed first; the seed's sample loses one when want > room). */
uint32_t hk_batch_refill_from_bitmap(hk_slab *s, hk_minimag *m, uint32_t want, int wb) {
#if HAKMEM_MUTANT == HK_seed_batch_refill_from_bitmap
    if (want == 0 || m->count >= m->capacity) return 0;
    uint32_t got = 0;
    while (got < want && s->free_count > 0) {
        int32_t idx = hk_find_free(s, wb);
        if (idx < 0) break;
        hk_set_used(s, (uint32_t)idx, wb);      /* hak_tiny_set_used + free_count-- */
        uintptr_t ptr = s->base + (uintptr_t)idx * s->block_size;
        if (!hk_mini_mag_push(m, ptr)) break;   /* the block is lost */
        got++;
    }
    return got;
#else
    uint32_t room = m->capacity - m->count;
    if (want > room) want = room;
    if (want == 0) return 0;
    uint32_t got = 0;
    while (got < want && s->free_count > 0) {
        int32_t idx = hk_find_free(s, wb);
        if (idx < 0) break;
        hk_set_used(s, (uint32_t)idx, wb);
        hk_mini_mag_push(m, s->base + (uintptr_t)idx * s->block_size);
        got++;
    }
    return got;
#endif
}

/* Every mini-mag block back to the bitmap (eviction). */
uint32_t hk_batch_spill_to_bitmap(hk_slab *s, hk_minimag *m, int wb) {
    uint32_t n = 0;
    while (m->count > 0) {
        uintptr_t ptr = hk_mini_mag_pop(m);
        if (!ptr) break;
#if HAKMEM_MUTANT == HK_spill_leaks_one
        if (m->count == 0) break;               /* the last block stays used: lost */
#endif
        hk_set_free(s, (uint32_t)((ptr - s->base) / s->block_size), wb);
        n++;
    }
    return n;
}

/* ======================================================================== */
/* Remote free: lock-free MPSC stack, intrusive through the freed blocks     */
/* ======================================================================== */

/* Push by a non-owner: load head; link; CAS (release) until it holds; count += 1. */
void hk_remote_push(hk_slab *s, uintptr_t ptr) {
#if HAKMEM_MUTANT == HK_remote_push_not_atomic
    uintptr_t old = atomic_load_explicit(&s->remote_head, memory_order_relaxed);
    store_next(ptr, old);
    for (volatile int spin = 0; spin < 2000; spin++) {}   /* the race window, widened */
    atomic_store_explicit(&s->remote_head, ptr, memory_order_relaxed);  /* no CAS */
#else
#if HAKMEM_MUTANT == HK_remote_push_scribbles
    if (s->block_size >= 16 && ptr - s->base >= s->block_size) *(uint64_t *)(ptr - 8) = 0;
#endif
    uintptr_t old = atomic_load_explicit(&s->remote_head, memory_order_relaxed);
    do {
        store_next(ptr, old);
    } while (!atomic_compare_exchange_weak_explicit(&s->remote_head, &old, ptr,
                                                    memory_order_release,
                                                    memory_order_relaxed));
#endif
    atomic_fetch_add_explicit(&s->remote_count, 1, memory_order_relaxed);
}

static void corrupted(hk_pool *p, hk_slab *s, uintptr_t head, const char *what, uintptr_t at,
                      uint32_t after) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&p->err, &expected, 1)) return;
    snprintf(p->err_msg, sizeof p->err_msg,
             "corrupted remote stack of slab 0x%lx class %d (head 0x%lx): 0x%lx %s, after %u "
             "entries; nothing was drained (bitmap, head and count unchanged)",
             (unsigned long)s->base, s->class_idx, (unsigned long)head, (unsigned long)at, what,
             after);
}

/* Owner: count, then change.  Load the head (acquire), walk and validate the list
 * (bounded by nblocks: every entry a block start of this slab, used in the bitmap,
 * seen once), CAS the head to NULL (retry if a push came in), set the blocks free,
 * subtract them from remote_count.  Returns the blocks drained, or -1 on a corrupted
 * list (p->err set, nothing changed). */
int64_t hk_remote_drain(hk_pool *p, hk_slab *s) {
    int wb = p->cfg.word_bits;
    uintptr_t head;
    uint32_t n;
    uint64_t span = (uint64_t)s->nblocks * s->block_size;
    for (;;) {
        head = atomic_load_explicit(&s->remote_head, memory_order_acquire);
        if (!head) return 0;
        n = 0;
        uintptr_t q = head;
        while (q) {
            uint64_t off = q - s->base;
            const char *what = NULL;
            if (q < s->base || off >= span) what = "is outside the slab";
            else if (off % s->block_size) what = "is not a block start";
            else if (n >= s->nblocks) what = "makes the list longer than the slab's blocks";
            else {
                uint32_t idx = (uint32_t)(off / s->block_size);
                if (!((s->words[idx / wb] >> (idx % wb)) & 1)) what = "is already free in the bitmap";
                else if (s->live[idx] == 2) what = "is a cycle back";
                else {
                    s->live[idx] = 2;   /* seen mark (a remote block is never live) */
                    n++;
                    q = load_next(q);
                    continue;
                }
            }
            uintptr_t r = head;            /* undo the seen marks of the n entries */
            for (uint32_t k = 0; k < n; k++, r = load_next(r))
                s->live[(r - s->base) / s->block_size] = 0;
            corrupted(p, s, head, what, q, n);
            return -1;
        }
        uintptr_t expected = head;
        if (atomic_compare_exchange_strong_explicit(&s->remote_head, &expected, 0,
                                                    memory_order_acq_rel,
                                                    memory_order_acquire))
            break;
        uintptr_t r = head;                 /* a push came in: clear the marks, retry */
        for (uint32_t k = 0; k < n; k++, r = load_next(r))
            s->live[(r - s->base) / s->block_size] = 0;
    }
    for (uintptr_t r = head; r;) {
        uintptr_t nx = load_next(r);
        uint32_t idx = (uint32_t)((r - s->base) / s->block_size);
        s->live[idx] = 0;
        hk_set_free(s, idx, wb);
        r = nx;
    }
    atomic_fetch_sub_explicit(&s->remote_count, n, memory_order_relaxed);
    return n;
}
