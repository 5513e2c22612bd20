/* exalloc: a small thread-safe size-class allocator with planted bugs.
 *
 * The idea.  Memory comes from mmap in chunks of EX_CHUNK_SIZE bytes, aligned to their
 * size, so the header of the chunk holding a block is found by masking the block's
 * address.  A small chunk is carved into blocks of one size class and belongs to the
 * heap of the thread that mapped it; a large block has a chunk (a mapping) of its own.
 *
 *   malloc: pop the thread's cache of the class (fast path); when it is empty, take the
 *           blocks other threads freed to this heap, then half a cache from the class's
 *           global depot, then a never-used block of the chunk being carved, then the
 *           blocks freed to heaps whose thread exited, then a new chunk.
 *   free:   the owner pushes onto its cache (a full cache spills half to the depot);
 *           any other thread pushes onto the owner heap's lock-free remote list.
 *   exit:   the heap's caches and remote list go to the depots and the heap is
 *           abandoned: its chunks stay with it, remote frees still find it, and the next
 *           new thread adopts it.
 *
 * Planted bugs: each `#ifdef EX_BUG_<NAME>` below is one realistic fault, compiled in
 * by `-DEX_BUG_<NAME>` (build.py, README.md).  Without any, the allocator is correct.
 */
#define _GNU_SOURCE
#include "exalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ---------------------------------------------------------------------------
 * Limits
 * ------------------------------------------------------------------------- */

#ifndef EX_CACHE_CAP
#define EX_CACHE_CAP 32                         /* blocks per class in a thread cache */
#endif
#define EX_MIN_SHIFT 4                          /* smallest class: 16 bytes */
#define EX_NCLASSES 8                           /* classes 16, 32, ..., 2048 */
#define EX_SMALL_MAX ((size_t)1 << (EX_MIN_SHIFT + EX_NCLASSES - 1))
#define EX_CHUNK_SIZE ((size_t)1 << 20)         /* bytes per chunk, and its alignment */
#define EX_CHUNK_HDR ((size_t)64)               /* bytes reserved for a chunk's header */
#define EX_MAX_ALIGN (EX_CHUNK_SIZE / 2)        /* largest alignment served */
#define EX_PAGE ((size_t)4096)
#define EX_CREDIT_BATCH ((int64_t)64 << 10)     /* bytes a heap reserves from the global count */

enum { EX_KIND_SMALL = 1, EX_KIND_LARGE = 2 };

/* ---------------------------------------------------------------------------
 * Data
 * ------------------------------------------------------------------------- */

typedef struct ex_block {
  struct ex_block *next;                        /* on a remote list: the next block */
} ex_block;

typedef struct ex_heap ex_heap;

/* A chunk header, at the start of an EX_CHUNK_SIZE-aligned mapping:
 *   small: first + carved_here * block_size == bump <= end, first = max(64, block_size)
 *   large: (char *)block + block_size == (char *)chunk + map_size
 * and chunk_of(p) == p & ~(EX_CHUNK_SIZE - 1) for every block p of the chunk. */
typedef struct ex_chunk {
  ex_heap *owner;                               /* small: the heap that carves it; large: NULL */
  uint32_t kind;                                /* EX_KIND_SMALL or EX_KIND_LARGE */
  uint32_t cls;                                 /* small: the size class of every block */
  size_t block_size;                            /* the usable bytes of each block */
  char *bump;                                   /* small: the next never-used block */
  char *end;                                    /* small: the end of the carvable area */
  size_t map_size;                              /* large: bytes mapped from the header on */
} ex_chunk;

_Static_assert(sizeof(ex_chunk) <= EX_CHUNK_HDR, "the chunk header fits its reserve");

/* A thread cache of one class: a stack of free blocks only its thread pops. */
typedef struct ex_cache {
  uint32_t count;                               /* blocks in slots[0 .. count) */
  void *slots[EX_CACHE_CAP];                    /* free blocks, popped from the top */
} ex_cache;

/* A thread heap.  Blocks, over all heaps h (each block of a small chunk is in one place):
 *   sum(h.carved) == live + sum(|h.cache|) + sum(|depot|) + sum(|h.remote_head list|)
 * Bytes (ex_allocated_bytes), over all heaps h and blocks b:
 *   g.allocated == sum(usable(b): b live or on a remote list) + sum(h.credit),  h.credit >= 0
 * so g.allocated >= the bytes live, and == them once no heap holds credit and every
 * remote list is collected (ex_thread_fini returns the credit; ex_allocated_bytes
 * collects the lists of abandoned heaps). */
struct ex_heap {
  ex_cache cache[EX_NCLASSES];                  /* per class: free blocks for this thread */
  ex_chunk *carving[EX_NCLASSES];               /* per class: the chunk new blocks come from */
  _Atomic(ex_block *) remote_head;              /* blocks of this heap freed by other threads */
  int64_t credit;                               /* bytes in g.allocated not live through here */
  size_t carved;                                /* blocks ever carved from this heap's chunks */
  ex_heap *next_abandoned;                      /* link on g.abandoned */
};

/* A depot: the global free blocks of one class, from caches that overflowed and exits. */
typedef struct ex_depot {
  pthread_mutex_t lock;                         /* guards slots, cap and count's changes */
  void **slots;                                 /* free blocks of any heap's chunks */
  _Atomic size_t count;                         /* blocks in slots[0 .. count) */
  size_t cap;                                   /* room in slots (mapped; doubled when full) */
} ex_depot;

static struct {
  pthread_mutex_t lock;                         /* guards abandoned and nheaps */
  ex_heap *abandoned;                           /* heaps whose thread exited, to adopt */
  size_t nheaps;                                /* heaps ever mapped (bounds the walk) */
  _Atomic size_t allocated;                     /* bytes counted as allocated */
  ex_depot depot[EX_NCLASSES];                  /* per class: the global free blocks */
  pthread_once_t once;                          /* creates key */
  pthread_key_t key;                            /* its destructor abandons an exiting heap */
} g = {
  .lock = PTHREAD_MUTEX_INITIALIZER,
  .once = PTHREAD_ONCE_INIT,
  .depot = {[0 ... EX_NCLASSES - 1] = {.lock = PTHREAD_MUTEX_INITIALIZER}},
};

static __thread ex_heap *tl_heap;               /* the calling thread's heap, or NULL */

/* ---------------------------------------------------------------------------
 * Operating system, failures
 * ------------------------------------------------------------------------- */

static void ex_fatal(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("exalloc: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

static size_t page_round(size_t n) { return (n + EX_PAGE - 1) & ~(EX_PAGE - 1); }

static void *os_map(size_t size) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

/* size bytes (a page multiple) at an address aligned to align (a power of two). */
static void *os_map_aligned(size_t size, size_t align) {
  size_t span = size + align;
  char *p = os_map(span);
  if (p == NULL) return NULL;
  char *a = (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
  if (a > p) munmap(p, (size_t)(a - p));
  if (p + span > a + size) munmap(a + size, (size_t)(p + span - (a + size)));
  return a;
}

/* ---------------------------------------------------------------------------
 * Size classes
 * ------------------------------------------------------------------------- */

static inline size_t class_size(unsigned c) { return (size_t)1 << (c + EX_MIN_SHIFT); }

static inline unsigned floor_log2(size_t n) { return 63u - (unsigned)__builtin_clzl(n); }

static inline unsigned ceil_log2(size_t n) { return n <= 1 ? 0 : floor_log2(n - 1) + 1; }

/* The smallest class whose blocks hold size bytes (size <= EX_SMALL_MAX). */
static inline unsigned size_class(size_t size) {
  if (size <= class_size(0)) return 0;
#ifdef EX_BUG_CLASS_BOUNDARY_OFF_BY_ONE
  /* rounds size - 1 down but tests size for a power of two: 32 lands in the 16 class */
  unsigned lg = floor_log2(size - 1) + ((size & (size - 1)) != 0);
#else
  unsigned lg = ceil_log2(size);
#endif
  return lg - EX_MIN_SHIFT;
}

static inline ex_chunk *chunk_of(const void *p) {
  return (ex_chunk *)((uintptr_t)p & ~(uintptr_t)(EX_CHUNK_SIZE - 1));
}

/* ---------------------------------------------------------------------------
 * Statistics: credit reserved from and returned to g.allocated in batches
 * ------------------------------------------------------------------------- */

static void account_alloc(ex_heap *h, size_t n) {
  if (h->credit < (int64_t)n) {
    int64_t add = (int64_t)n + EX_CREDIT_BATCH;
    atomic_fetch_add(&g.allocated, (size_t)add);
    h->credit += add;
  }
  h->credit -= (int64_t)n;
}

static void account_free(ex_heap *h, size_t n) {
  h->credit += (int64_t)n;
  if (h->credit > 2 * EX_CREDIT_BATCH) {
    int64_t give = h->credit - EX_CREDIT_BATCH;
    atomic_fetch_sub(&g.allocated, (size_t)give);
    h->credit -= give;
  }
}

static void account_return(ex_heap *h) {
  atomic_fetch_sub(&g.allocated, (size_t)h->credit);
  h->credit = 0;
}

/* ---------------------------------------------------------------------------
 * Depots: per class, under a mutex
 * ------------------------------------------------------------------------- */

/* Slow path: the depot is full; double its room.  Called with d->lock held. */
static void depot_grow(ex_depot *d, unsigned c) {
  size_t cap = d->cap ? 2 * d->cap : 1024;
  void **slots = os_map(page_round(cap * sizeof(void *)));
  if (slots == NULL) ex_fatal("cannot grow the depot of class %u to %zu blocks", c, cap);
  if (d->slots) {
    memcpy(slots, d->slots, atomic_load(&d->count) * sizeof(void *));
    munmap(d->slots, page_round(d->cap * sizeof(void *)));
  }
  d->slots = slots;
  d->cap = cap;
}

static void depot_push(unsigned c, void *const *blocks, size_t n) {
  ex_depot *d = &g.depot[c];
  pthread_mutex_lock(&d->lock);
  size_t count = atomic_load(&d->count);
  while (count + n > d->cap) depot_grow(d, c);
  memcpy(d->slots + count, blocks, n * sizeof(void *));
  atomic_store(&d->count, count + n);
  pthread_mutex_unlock(&d->lock);
}

/* Up to want blocks of class c into out; how many. */
static size_t depot_pop(unsigned c, void **out, size_t want) {
  ex_depot *d = &g.depot[c];
  if (atomic_load_explicit(&d->count, memory_order_relaxed) == 0) return 0;
  pthread_mutex_lock(&d->lock);
  size_t count = atomic_load(&d->count);
  size_t n = count < want ? count : want;
  memcpy(out, d->slots + count - n, n * sizeof(void *));
  atomic_store(&d->count, count - n);
  pthread_mutex_unlock(&d->lock);
  return n;
}

/* ---------------------------------------------------------------------------
 * Remote lists: lock-free push by any thread, collected by exchange
 * ------------------------------------------------------------------------- */

static void remote_push(ex_heap *owner, ex_block *b) {
  ex_block *old = atomic_load_explicit(&owner->remote_head, memory_order_relaxed);
  do {
    b->next = old;
  } while (!atomic_compare_exchange_weak_explicit(&owner->remote_head, &old, b,
                                                  memory_order_release, memory_order_relaxed));
}

/* The blocks on a detached remote list of h, counted before anything changes; the walk
 * is bounded by the blocks h ever carved, so a cycle is reported, not followed. */
static size_t list_count(const ex_heap *h, const ex_block *head) {
  size_t n = 0;
#ifdef EX_BUG_COLLECT_LOSES_TAIL
  for (const ex_block *b = head; b != NULL && b->next != NULL; b = b->next)  /* stops at the tail */
#else
  for (const ex_block *b = head; b != NULL; b = b->next)
#endif
    if (++n > h->carved)
      ex_fatal("[EX-REMOTE] corrupted remote list of heap %p: more than the %zu blocks it "
               "carved, from block %p (a block freed twice?)", (void *)h, h->carved,
               (const void *)head);
  return n;
}

/* A detached remote list of h into the depots; the bytes it held. */
static size_t list_to_depots(const ex_heap *h, ex_block *b) {
  size_t n = list_count(h, b), bytes = 0;
  for (size_t i = 0; i < n; i++) {
    ex_block *next = b->next;                   /* read before the block is shared */
    ex_chunk *ch = chunk_of(b);
    depot_push(ch->cls, (void **)&b, 1);
    bytes += ch->block_size;
    b = next;
  }
  return bytes;
}

/* ---------------------------------------------------------------------------
 * Small blocks: caches, collection, carving
 * ------------------------------------------------------------------------- */

/* Slow path: the cache is full: p and the top half of the cache go to the depot. */
static void cache_overflow(ex_heap *h, unsigned c, void *p) {
  ex_cache *k = &h->cache[c];
  const uint32_t half = EX_CACHE_CAP / 2;
  void *batch[EX_CACHE_CAP / 2 + 1];
  k->count -= half;
  memcpy(batch, &k->slots[k->count], half * sizeof(void *));
  batch[half] = p;
  depot_push(c, batch, half + 1);
}

static void free_local(ex_heap *h, ex_chunk *ch, void *p) {
  ex_cache *k = &h->cache[ch->cls];
  account_free(h, ch->block_size);
  if (k->count == EX_CACHE_CAP) {
    cache_overflow(h, ch->cls, p);
#ifndef EX_BUG_DOUBLE_ALLOC_AFTER_OVERFLOW
    return;                                     /* (the bug: p stays in the cache too) */
#endif
  }
  k->slots[k->count++] = p;
}

/* Slow path: every block other threads freed to h goes into h's caches. */
static void collect_remote(ex_heap *h) {
  ex_block *b = atomic_exchange_explicit(&h->remote_head, NULL, memory_order_acquire);
  size_t n = list_count(h, b);
  for (size_t i = 0; i < n; i++) {
    ex_block *next = b->next;
    free_local(h, chunk_of(b), b);
    b = next;
  }
}

/* Slow path: the blocks freed to abandoned heaps go to the depots. */
static void collect_abandoned(void) {
  pthread_mutex_lock(&g.lock);
  size_t seen = 0;
  for (ex_heap *h = g.abandoned; h != NULL; h = h->next_abandoned) {
    if (++seen > g.nheaps)
      ex_fatal("[EX-ABANDONED] corrupted abandoned list: more than the %zu heaps mapped, "
               "at heap %p", g.nheaps, (void *)h);
    ex_block *b = atomic_exchange_explicit(&h->remote_head, NULL, memory_order_acquire);
    if (b != NULL) atomic_fetch_sub(&g.allocated, list_to_depots(h, b));
  }
  pthread_mutex_unlock(&g.lock);
}

static ex_chunk *chunk_new(ex_heap *h, unsigned c) {
  ex_chunk *ch = os_map_aligned(EX_CHUNK_SIZE, EX_CHUNK_SIZE);
  if (ch == NULL) return NULL;
  ch->owner = h;
  ch->kind = EX_KIND_SMALL;
  ch->cls = c;
  ch->block_size = class_size(c);
  ch->bump = (char *)ch + (ch->block_size > EX_CHUNK_HDR ? ch->block_size : EX_CHUNK_HDR);
  ch->end = (char *)ch + EX_CHUNK_SIZE;
  return ch;
}

/* Slow path: the cache of class c is empty.  *fresh: the block was never used. */
static void *small_alloc_slow(ex_heap *h, unsigned c, int *fresh) {
  ex_cache *k = &h->cache[c];
  *fresh = 0;
  if (atomic_load_explicit(&h->remote_head, memory_order_relaxed) != NULL) collect_remote(h);
  if (k->count == 0) k->count = (uint32_t)depot_pop(c, k->slots, EX_CACHE_CAP / 2);
  if (k->count > 0) return k->slots[--k->count];
  ex_chunk *ch = h->carving[c];
  if (ch == NULL || ch->bump == ch->end) {
    collect_abandoned();
    k->count = (uint32_t)depot_pop(c, k->slots, EX_CACHE_CAP / 2);
    if (k->count > 0) return k->slots[--k->count];
    if ((ch = chunk_new(h, c)) == NULL) return NULL;
    h->carving[c] = ch;
  }
  void *p = ch->bump;
  ch->bump += ch->block_size;
  h->carved++;
  *fresh = 1;
  return p;
}

static inline void *small_alloc(ex_heap *h, unsigned c, int *fresh) {
  ex_cache *k = &h->cache[c];
  if (k->count > 0) {
    *fresh = 0;
    return k->slots[--k->count];
  }
  return small_alloc_slow(h, c, fresh);
}

/* ---------------------------------------------------------------------------
 * Large blocks: one mapping each, the header at its start
 * ------------------------------------------------------------------------- */

static void *large_alloc(size_t size, size_t align) {
  size_t off = align > EX_CHUNK_HDR ? align : EX_CHUNK_HDR;
  if (size > (SIZE_MAX >> 2)) return NULL;
  size_t map = page_round(off + size);
  ex_chunk *ch = os_map_aligned(map, EX_CHUNK_SIZE);
  if (ch == NULL) return NULL;
  ch->owner = NULL;
  ch->kind = EX_KIND_LARGE;
  ch->map_size = map;
  ch->block_size = map - off;
  return (char *)ch + off;
}

/* ---------------------------------------------------------------------------
 * Heaps: attach, abandon, adopt
 * ------------------------------------------------------------------------- */

/* Slow path: the thread exits.  Its cached and remotely freed blocks go to the depots,
 * its credit back to g.allocated; the heap keeps its chunks (remote frees still arrive)
 * and waits on g.abandoned for a new thread. */
static void heap_abandon(ex_heap *h) {
  for (unsigned c = 0; c < EX_NCLASSES; c++) {
    ex_cache *k = &h->cache[c];
    if (k->count > 0) depot_push(c, k->slots, k->count);
    k->count = 0;
  }
#ifdef EX_BUG_EXIT_LEAVES_REMOTE_LIST
  /* "the heap is dying, nobody reads its list again": read, not detached, so the blocks
   * stay on it, and frees racing this exit chain onto blocks already handed out */
  ex_block *b = atomic_load_explicit(&h->remote_head, memory_order_acquire);
#else
  ex_block *b = atomic_exchange_explicit(&h->remote_head, NULL, memory_order_acquire);
#endif
  account_free(h, list_to_depots(h, b));
  account_return(h);
  pthread_mutex_lock(&g.lock);
  h->next_abandoned = g.abandoned;
  g.abandoned = h;
  pthread_mutex_unlock(&g.lock);
}

static void heap_key_exit(void *h) {
  tl_heap = NULL;
  heap_abandon(h);
}

static void key_create(void) {
  if (pthread_key_create(&g.key, heap_key_exit) != 0) ex_fatal("cannot create a thread key");
}

/* Slow path: the thread has no heap: adopt an abandoned one or map a new one. */
static ex_heap *heap_attach(void) {
  pthread_once(&g.once, key_create);
  pthread_mutex_lock(&g.lock);
  ex_heap *h = g.abandoned;
  if (h != NULL) g.abandoned = h->next_abandoned;
  else if ((h = os_map(page_round(sizeof *h))) != NULL) g.nheaps++;
  pthread_mutex_unlock(&g.lock);
  if (h == NULL) ex_fatal("cannot map a thread heap (%zu bytes)", sizeof *h);
  h->next_abandoned = NULL;
  tl_heap = h;
  pthread_setspecific(g.key, h);
  return h;
}

static inline ex_heap *heap_get(void) {
  ex_heap *h = tl_heap;
  return h != NULL ? h : heap_attach();
}

/* ---------------------------------------------------------------------------
 * The interface
 * ------------------------------------------------------------------------- */

/* An uncounted block of at least size bytes aligned to align (0: the class's own). */
static void *block_alloc(ex_heap *h, size_t size, size_t align, int *fresh) {
  if (size <= EX_SMALL_MAX && align <= EX_SMALL_MAX) {
    unsigned c = size_class(size);
    if (align > class_size(0)) {
      /* blocks are aligned to their class size: a power of two of align-sized units */
      size_t units = size > align ? (size + align - 1) / align : 1;
#ifdef EX_BUG_ALIGNED_ALLOC_CLASS_TOO_SMALL
      c = size_class(align) + floor_log2(units);  /* rounds down: 3 units get a class of 2 */
#else
      c = size_class(align) + ceil_log2(units);
#endif
    }
    return small_alloc(h, c, fresh);
  }
  *fresh = 1;
  return large_alloc(size, align);
}

static void *alloc_counted(ex_heap *h, size_t size, size_t align, int *fresh) {
  void *p = block_alloc(h, size, align, fresh);
  if (p == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  account_alloc(h, chunk_of(p)->block_size);
  return p;
}

void *ex_malloc(size_t size) {
  int fresh;
  return alloc_counted(heap_get(), size, 0, &fresh);
}

void ex_free(void *p) {
  if (p == NULL) return;
  ex_chunk *ch = chunk_of(p);
  ex_heap *h = heap_get();
  if (ch->kind == EX_KIND_LARGE) {
    account_free(h, ch->block_size);
    munmap(ch, ch->map_size);
  } else if (ch->owner == h) {
    free_local(h, ch, p);
  } else {
    remote_push(ch->owner, p);
  }
}

void *ex_calloc(size_t n, size_t size) {
  size_t bytes;
  int fresh;
  if (__builtin_mul_overflow(n, size, &bytes)) {
    errno = ENOMEM;
    return NULL;
  }
  void *p = alloc_counted(heap_get(), bytes, 0, &fresh);
  if (p == NULL) return NULL;
#ifdef EX_BUG_CALLOC_REUSED_NOT_ZEROED
  ex_chunk *ch = chunk_of(p);                   /* "the chunk is still fresh from mmap" */
  fresh = ch->kind == EX_KIND_LARGE || ch->bump < ch->end;
#endif
  if (!fresh) memset(p, 0, bytes);
  return p;
}

/* Does a block of chunk ch keep serving size bytes where it is? */
static int fits_in_place(const ex_chunk *ch, size_t size) {
  if (ch->kind == EX_KIND_SMALL) return size <= EX_SMALL_MAX && size_class(size) == ch->cls;
  return size > EX_SMALL_MAX && size <= ch->block_size && size > ch->block_size / 2;
}

void *ex_realloc(void *p, size_t size) {
  if (p == NULL) return ex_malloc(size);
  ex_chunk *ch = chunk_of(p);
  if (fits_in_place(ch, size)) return p;
  size_t old = ch->block_size;
  ex_heap *h = heap_get();
  int fresh;
#ifdef EX_BUG_REALLOC_NOT_COUNTED
  void *q = block_alloc(h, size, 0, &fresh);    /* the internal allocator: never counted */
  if (q == NULL) errno = ENOMEM;
#else
  void *q = alloc_counted(h, size, 0, &fresh);
#endif
  if (q == NULL) return NULL;
#ifdef EX_BUG_REALLOC_SHRINK_COPIES_OLD_SIZE
  memcpy(q, p, old);                            /* past the end of a smaller new block */
#else
  memcpy(q, p, old < size ? old : size);
#endif
  ex_free(p);
  return q;
}

static void *aligned(size_t align, size_t size) {
  int fresh;
  if (align > EX_MAX_ALIGN) {
    errno = ENOMEM;
    return NULL;
  }
  return alloc_counted(heap_get(), size, align, &fresh);
}

void *ex_aligned_alloc(size_t align, size_t size) {
  if (align == 0 || (align & (align - 1)) != 0) {
    errno = EINVAL;
    return NULL;
  }
  return aligned(align, size);
}

int ex_posix_memalign(void **out, size_t align, size_t size) {
  if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
  void *p = aligned(align, size);
  if (p == NULL) return ENOMEM;
  *out = p;
  return 0;
}

size_t ex_malloc_usable_size(const void *p) {
  return p == NULL ? 0 : chunk_of(p)->block_size;
}

size_t ex_allocated_bytes(void) {
  ex_heap *h = tl_heap;
  if (h != NULL) {
    if (atomic_load_explicit(&h->remote_head, memory_order_relaxed) != NULL) collect_remote(h);
    account_return(h);
  }
  collect_abandoned();
  return atomic_load(&g.allocated);
}

void ex_thread_init(void) { (void)heap_get(); }

void ex_thread_fini(void) {
  ex_heap *h = tl_heap;
  if (h == NULL) return;
  tl_heap = NULL;
  pthread_setspecific(g.key, NULL);
  heap_abandon(h);
}
