/* mstress: real threads on any C allocator library, every live block tagged.
 *
 *   mstress LIB WORKLOAD THREADS OPS SEED MAXSIZE [NAME=VALUE]...
 *
 *   LIB       the library, dlopen'ed here with RTLD_NOW | RTLD_LOCAL (a path or a soname;
 *             libc.so.6 for the system malloc).  Its symbols serve no one else: the
 *             driver's own bookkeeping (slot arrays, batches, boxes) uses the process's
 *             malloc, never the allocator under test.
 *   WORKLOAD  larson | xmalloc-test | mstress | cache-scratch | sh6bench | glibc-thread |
 *             thread-churn (the shapes of mimalloc-bench's programs, see each banner)
 *   THREADS   worker threads running at once, 1..1024 (xmalloc-test needs 2 or more)
 *   OPS       allocator calls to make in total (malloc, calloc, realloc, aligned, free),
 *             approximately: each workload sizes its rounds and slots from it
 *   SEED      every thread's random choices follow from (WORKLOAD, THREADS, OPS, SEED)
 *   MAXSIZE   the largest size requested (>= 1); each workload's sizes are capped at it
 *   NAME=VALUE  the library's entry points, by role: malloc=SYM free=SYM (required),
 *             realloc= calloc= aligned_alloc= posix_memalign= usable_size= (optional:
 *             without them reallocs are skipped, callocs and aligned calls become
 *             mallocs, usable sizes are not checked); hooks init= thread_init=
 *             thread_fini= (void f(void): once after loading, at the start and before the
 *             end of every thread); stats=jemalloc | tcmalloc | symbol:NAME; aligned=1:
 *             thread-churn makes 1 allocation in 32 with posix_memalign (alignments
 *             16..2048, sizes 1..4 x alignment) or aligned_alloc (sizes a multiple of the
 *             alignment, up to 4 x), checked against the alignment asked for (off by
 *             default: Debian's mimalloc 2.0.9 misaligns alignments 256..1024 for sizes
 *             up to 1024, mimalloc issue #700).
 *
 * Every live block carries its owner and a sequence number: the tag
 *   tag = 0xA11C << 48 | (thread & 0xFFFF) << 32 | seq
 * in its first word (size >= 8), its last 8 bytes (size >= 16), and tag ^ SECOND_XOR in
 * bytes 8..15 (size >= 24); a block of 1..7 bytes is filled with a byte of its id.
 * Before free the tags are checked and replaced by FREED_WORD, before realloc by the
 * MOVING tag (0xB10C << 48 | id), so freed memory never holds a live tag; the driver's
 * bookkeeping stores ids (top 16 bits zero), never tags.
 *
 *   a block of >= 16 bytes handed out overlaps a live block  <==
 *       its first word is a live tag  and  its word 8 confirms it (tag ^ SECOND_XOR, or
 *       the tag itself: the last word of a 16-byte block)
 *
 * The first word alone is not enough: an allocator may leave an encoded free-list
 * pointer there (one in 65,536 would look live).  A double allocation the test misses
 * (a block under 16 bytes, a 17..23-byte first owner, a race between the two owners'
 * tagging) overwrites the first owner's tag, which it finds at its free (OVERWRITE).
 *
 * Checks (the first finding prints one line "[CHECK] ..." and the result line, then
 * the process exits with status 1): STRESS-TAG (double allocation), STRESS-OVERWRITE
 * (a live block's tag or bytes changed), STRESS-OOM (NULL for a size <= MAXSIZE),
 * STRESS-ALIGN (not aligned to min(16, largest power of two <= size), or to the
 * alignment asked of posix_memalign/aligned_alloc), STRESS-USABLE (usable size < size),
 * STRESS-CALLOC (calloc memory not zero), STRESS-REALLOC (old contents lost),
 * STRESS-STATS (the library's own count of allocated bytes, see check_stats_*).
 *
 * Output on stdout: at most one finding line, then
 *   mstress-result status=clean|finding workload=W threads=T seed=S ops=N seconds=F
 *                  peak_rss_kb=K [stats=KIND stats_before=B stats_live=L leftover_bytes=X
 *                  stats_after=A]
 * (one line; ops and seconds so far when a finding stopped the run; the stats fields
 * as far as they were read).  Exit status: 0 clean, 1 a finding, 2 bad arguments or the
 * library cannot be loaded (one line on stderr).
 *
 * Build: gcc -std=c11 -O2 -pthread mstress.c -o mstress -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define TAG_LIVE 0xA11CULL                   /* top 16 bits of a live block's tag */
#define TAG_MOVING 0xB10CULL                 /* top 16 bits while a realloc is under way */
#define FREED_WORD 0xF4EEF4EEF4EEF4EEULL     /* written over the tags before free */
#define SECOND_XOR 0x5EC05EC05EC05EC0ULL     /* word 8 of a live block >= 24 bytes: tag ^ this */
#define MAX_THREADS 1024
#define NONE ((size_t)-1)                    /* "no second argument" in a call's description */

/* ============================================================================
 * The library under test and the run's parameters
 * ============================================================================ */

static struct allocator {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*realloc)(void *, size_t);
    void *(*calloc)(size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    size_t (*usable_size)(void *);
    void (*init)(void);
    void (*thread_init)(void);
    void (*thread_fini)(void);
    const char *stats;                       /* "jemalloc", "tcmalloc", "symbol:NAME", NULL */
    void *stats_fn;                          /* mallctl, GetNumericProperty, or size_t f(void) */
} A;

static struct params {
    const char *lib, *workload;
    int widx;                                /* index of the workload in WORKLOADS */
    int threads;
    uint64_t ops, seed;
    size_t max_size;
    int aligned;                             /* thread-churn also calls the aligned entry points */
} P;

static _Atomic uint64_t *lane_ops;           /* calls made per lane; lane `threads`: helpers */
static _Atomic int serials;                  /* thread numbers handed out, from 1 */
static double t_start;
static int stats_state;                      /* fields of stats_val read so far */
static uint64_t stats_val[4];                /* before, live, leftover bytes, after */

typedef struct slot {                        /* one live block as the driver knows it */
    uintptr_t p;                             /* 0: empty */
    uint64_t id;                             /* (thread & 0xFFFF) << 32 | seq */
    size_t size;                             /* bytes requested */
} slot;

typedef struct worker worker;
struct worker {                              /* one thread of a workload */
    int lane;                                /* 0..threads-1; helpers run on lane `threads` */
    int gen;                                 /* generation or round within the lane */
    int serial;                              /* thread number (tags keep it modulo 65536) */
    uint32_t seq;                            /* allocations made by this thread */
    uint64_t rng;
    uint64_t ops0, n;                        /* the lane's calls before this thread; its own */
    void (*body)(worker *);
    pthread_t th, pred;                      /* this thread; the one it joins first (larson) */
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ============================================================================
 * Findings and the result line
 * ============================================================================ */

static uint64_t ops_so_far(void) {
    uint64_t n = 0;
    for (int i = 0; i <= P.threads; i++)
        n += atomic_load_explicit(&lane_ops[i], memory_order_relaxed);
    return n;
}

/* Peak RSS in KiB: getrusage's ru_maxrss, unless /proc/self/status has VmHWM.  Linux
 * keeps ru_maxrss across execve, so a program started by a large parent (vfork from a
 * Python process) reports the parent's peak; VmHWM belongs to this program's memory. */
static long peak_rss_kb(void) {
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "VmHWM:", 6)) kb = strtol(line + 6, NULL, 10);
        fclose(f);
    }
    if (kb < 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        kb = ru.ru_maxrss;
    }
    return kb;
}

static void result_line(const char *status) {
    char buf[512];
    int n = snprintf(buf, sizeof buf, "mstress-result status=%s workload=%s threads=%d seed=%llu "
                     "ops=%llu seconds=%.6f peak_rss_kb=%ld", status, P.workload, P.threads,
                     (unsigned long long)P.seed, (unsigned long long)ops_so_far(),
                     now_s() - t_start, peak_rss_kb());
    static const char *names[4] = {"stats_before", "stats_live", "leftover_bytes",
                                   "stats_after"};
    if (A.stats) n += snprintf(buf + n, sizeof buf - n, " stats=%s", A.stats);
    for (int i = 0; i < stats_state && i < 4; i++)
        n += snprintf(buf + n, sizeof buf - n, " %s=%llu", names[i],
                      (unsigned long long)stats_val[i]);
    n += snprintf(buf + n, sizeof buf - n, "\n");
    if (write(1, buf, n) < 0) _exit(1);
}

/* The first finding of the run: one line, the result line, exit 1 (a thread that finds
 * a second one waits here for the exit). */
static void finding(worker *w, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
static void finding(worker *w, const char *check, const char *fmt, ...) {
    static atomic_flag reported = ATOMIC_FLAG_INIT;
    if (atomic_flag_test_and_set(&reported))
        for (;;) pause();
    char buf[2048];
    int n = snprintf(buf, sizeof buf, "[%s] ", check);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof buf - n - 96, fmt, ap);
    va_end(ap);
    if (w) n += snprintf(buf + n, sizeof buf - n, "; thread #%d, workload %s, seed %llu\n",
                         w->serial, P.workload, (unsigned long long)P.seed);
    else n += snprintf(buf + n, sizeof buf - n, "; workload %s, seed %llu\n", P.workload,
                       (unsigned long long)P.seed);
    if (write(1, buf, n) < 0) _exit(1);
    result_line("finding");
    _exit(1);
}

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...) {
    va_list ap;
    fputs("mstress: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

/* ============================================================================
 * Random numbers and sizes
 * ============================================================================ */

static inline uint64_t rnd(worker *w) {       /* splitmix64 */
    uint64_t z = (w->rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline int chance(worker *w, int pct) { return (int)(rnd(w) % 100) < pct; }

static inline double unit(worker *w) { return (rnd(w) >> 11) * 0x1.0p-53; }

static inline size_t cap(size_t s) { return s > P.max_size ? P.max_size : s; }

/* Uniform on [lo, hi], hi capped at MAXSIZE. */
static size_t uniform(worker *w, size_t lo, size_t hi) {
    hi = cap(hi);
    if (lo > hi) lo = hi;
    return lo + rnd(w) % (hi - lo + 1);
}

/* Density ~ 1/s^2 on [lo, hi] (inverse CDF), hi capped at MAXSIZE. */
static size_t inverse_square(worker *w, size_t lo, size_t hi) {
    hi = cap(hi);
    if (lo > hi) lo = hi;
    double s = 1.0 / (1.0 / lo - unit(w) * (1.0 / lo - 1.0 / hi));
    size_t r = (size_t)s;
    return r < lo ? lo : r > hi ? hi : r;
}

/* The alignment real libraries give a block of `size` bytes: min(16, 2^floor(log2 size)). */
static inline size_t weak_align(size_t size) {
    size_t a = 1;
    while (a * 2 <= size && a < 16) a *= 2;
    return a;
}

/* ============================================================================
 * Tagged blocks: every call to the library goes through these
 * ============================================================================ */

static inline uint64_t tag_of(uint64_t id) { return TAG_LIVE << 48 | id; }
static inline uint64_t moving_of(uint64_t id) { return TAG_MOVING << 48 | id; }
static inline uint8_t small_pattern(uint64_t id) { return (uint8_t)(id ^ (id >> 32)) | 1; }
static inline uint64_t load_word(uintptr_t a) { uint64_t v; memcpy(&v, (void *)a, 8); return v; }
static inline void store_word(uintptr_t a, uint64_t v) { memcpy((void *)a, &v, 8); }
static inline void count(worker *w) {
    atomic_store_explicit(&lane_ops[w->lane], w->ops0 + ++w->n, memory_order_relaxed);
}

static const char *describe(char *buf, size_t len, const char *fn, size_t a, size_t b) {
    if (b == NONE) snprintf(buf, len, "%s(%zu)", fn, a);
    else snprintf(buf, len, "%s(%zu, %zu)", fn, a, b);
    return buf;
}

/* A block just returned by fn(a[, b]) for `size` bytes: not NULL, aligned, big enough. */
static void accept_block(worker *w, void *p, size_t size, size_t align, const char *fn,
                         size_t a, size_t b) {
    char how[96];
    if (!p)
        finding(w, "STRESS-OOM", "%s returned NULL (sizes up to MAXSIZE %zu must succeed)",
                describe(how, sizeof how, fn, a, b), P.max_size);
    if ((uintptr_t)p % align)
        finding(w, "STRESS-ALIGN", "%s returned %p, not aligned to %zu (%s)",
                describe(how, sizeof how, fn, a, b), p, align,
                strcmp(fn, "posix_memalign") && strcmp(fn, "aligned_alloc")
                ? "min(16, the largest power of two <= size)" : "the alignment asked for");
    if (A.usable_size) {
        size_t u = A.usable_size(p);
        if (u < size)
            finding(w, "STRESS-USABLE", "%s returned %p whose usable size is %zu < %zu",
                    describe(how, sizeof how, fn, a, b), p, u, size);
    }
}

/* Give a new block its id and tags; a confirmed live tag already in it (see the header)
 * is a double allocation. */
static void tag_new(worker *w, slot *s, uintptr_t p, size_t size, int check_first) {
    s->p = p;
    s->size = size;
    s->id = ((uint64_t)(w->serial & 0xFFFF) << 32) | ++w->seq;
    uint64_t tag = tag_of(s->id);
    if (size < 8) {
        memset((void *)p, small_pattern(s->id), size);
        return;
    }
    uint64_t old = __atomic_exchange_n((uint64_t *)p, tag, __ATOMIC_RELAXED);
    if (check_first && size >= 16 && old >> 48 == TAG_LIVE) {
        uint64_t second = __atomic_load_n((uint64_t *)(p + 8), __ATOMIC_RELAXED);
        if (second == (old ^ SECOND_XOR) || second == old)
            finding(w, "STRESS-TAG", "double allocation: block 0x%lx (%zu bytes) handed to "
                    "thread #%d while it is live for thread #%u (seq %u): its first word is "
                    "0x%016llx", (unsigned long)p, size, w->serial,
                    (unsigned)((old >> 32) & 0xFFFF), (unsigned)old, (unsigned long long)old);
    }
    if (size >= 24) __atomic_store_n((uint64_t *)(p + 8), tag ^ SECOND_XOR, __ATOMIC_RELAXED);
    if (size >= 16) store_word(p + size - 8, tag);
}

/* A live block's tags (or bytes) must be as they were written. */
static void check_live(worker *w, const slot *s, const char *before) {
    uintptr_t p = s->p;
    uint64_t tag = tag_of(s->id);
    if (s->size < 8) {
        uint8_t pat = small_pattern(s->id);
        for (size_t i = 0; i < s->size; i++)
            if (((volatile uint8_t *)p)[i] != pat)
                finding(w, "STRESS-OVERWRITE", "block 0x%lx (%zu bytes) of thread #%u (seq %u) "
                        "was changed while live: byte %zu is 0x%02x, expected 0x%02x (seen "
                        "before %s)", (unsigned long)p, s->size, (unsigned)(s->id >> 32),
                        (unsigned)s->id, i, ((volatile uint8_t *)p)[i], pat, before);
        return;
    }
    uint64_t first = __atomic_load_n((uint64_t *)p, __ATOMIC_RELAXED);
    uint64_t last = s->size >= 16 ? load_word(p + s->size - 8) : tag;
    uint64_t second = s->size >= 24 ? load_word(p + 8) : tag ^ SECOND_XOR;
    if (first != tag || last != tag || second != (tag ^ SECOND_XOR)) {
        char w8[48] = "", wl[48] = "";
        if (s->size >= 24)
            snprintf(w8, sizeof w8, ", word 8 0x%016llx", (unsigned long long)second);
        if (s->size >= 16)
            snprintf(wl, sizeof wl, ", last word 0x%016llx", (unsigned long long)last);
        finding(w, "STRESS-OVERWRITE", "block 0x%lx (%zu bytes) of thread #%u (seq %u) was "
                "changed while live: first word 0x%016llx%s%s; its tag is 0x%016llx%s (seen "
                "before %s)", (unsigned long)p, s->size, (unsigned)(s->id >> 32),
                (unsigned)s->id, (unsigned long long)first, w8, wl, (unsigned long long)tag,
                s->size >= 24 ? ", word 8 holds tag ^ 0x5EC05EC05EC05EC0" : "", before);
    }
}

static void release(worker *w, slot *s) {
    check_live(w, s, "free");
    if (s->size >= 8) {
        __atomic_store_n((uint64_t *)s->p, FREED_WORD, __ATOMIC_RELAXED);
        if (s->size >= 24) store_word(s->p + 8, FREED_WORD);
        if (s->size >= 16) store_word(s->p + s->size - 8, FREED_WORD);
    }
    A.free((void *)s->p);
    count(w);
    s->p = 0;
}

static void get_malloc(worker *w, slot *s, size_t size) {
    void *p = A.malloc(size);
    count(w);
    accept_block(w, p, size, weak_align(size), "malloc", size, NONE);
    tag_new(w, s, (uintptr_t)p, size, 1);
}

/* calloc(size / 8, 8) for multiples of 8, else calloc(1, size); every byte must be zero. */
static void get_calloc(worker *w, slot *s, size_t size) {
    if (!A.calloc) {
        get_malloc(w, s, size);
        return;
    }
    size_t n = size % 8 == 0 && size >= 16 ? size / 8 : 1, m = size / n;
    unsigned char *p = A.calloc(n, m);
    count(w);
    accept_block(w, p, size, weak_align(size), "calloc", n, m);
    for (size_t i = 0; i < size; i++)
        if (p[i]) {
            char how[96];
            finding(w, "STRESS-CALLOC", "%s returned %p whose byte %zu is 0x%02x (calloc memory "
                    "must be zero)", describe(how, sizeof how, "calloc", n, m), (void *)p, i,
                    p[i]);
        }
    tag_new(w, s, (uintptr_t)p, size, 1);
}

/* posix_memalign (any size from 1 to 4 x align), or aligned_alloc (a multiple of align,
 * as C11 asks); plain malloc without them.  align <= MAXSIZE. */
static void get_aligned(worker *w, slot *s, size_t align) {
    int pm = A.posix_memalign && (!A.aligned_alloc || (rnd(w) & 1));
    size_t size = pm ? uniform(w, 1, 4 * align) : align * (1 + rnd(w) % 4);
    if (size > P.max_size) size = align;
    if (!pm && !A.aligned_alloc) {
        get_malloc(w, s, size);
        return;
    }
    void *p = NULL;
    if (pm) {
        if (A.posix_memalign(&p, align, size)) p = NULL;
    } else {
        p = A.aligned_alloc(align, size);
    }
    count(w);
    accept_block(w, p, size, align, pm ? "posix_memalign" : "aligned_alloc", align, size);
    tag_new(w, s, (uintptr_t)p, size, 1);
}

/* realloc to `size`: the old contents up to min(old, new) must come along. */
static void move(worker *w, slot *s, size_t size) {
    if (!A.realloc) return;
    check_live(w, s, "realloc");
    size_t old = s->size;
    uint64_t mv = moving_of(s->id);
    if (old >= 8) {
        __atomic_store_n((uint64_t *)s->p, mv, __ATOMIC_RELAXED);
        if (old >= 24) store_word(s->p + 8, FREED_WORD);
        if (old >= 16) store_word(s->p + old - 8, mv);
    }
    uintptr_t from = s->p;
    unsigned char *q = A.realloc((void *)from, size);
    count(w);
    char how[96];
    snprintf(how, sizeof how, "realloc(0x%lx, %zu)", (unsigned long)from, size);
    if (!q)
        finding(w, "STRESS-OOM", "%s returned NULL (sizes up to MAXSIZE %zu must succeed)", how,
                P.max_size);
    accept_block(w, q, size, weak_align(size), "realloc", size, NONE);
    size_t keep = old < size ? old : size, bad = NONE;
    unsigned got = 0, want = 0;
    for (size_t i = 0; i < keep && i < 8; i++) {            /* the first bytes */
        unsigned char e = old < 8 ? small_pattern(s->id) : (unsigned char)(mv >> (8 * i));
        if (q[i] != e) { bad = i; got = q[i]; want = e; break; }
    }
    if (bad == NONE && old >= 16 && old <= size && load_word((uintptr_t)q + old - 8) != mv)
        bad = old - 8, got = q[old - 8], want = (unsigned char)mv;
    if (bad != NONE)
        finding(w, "STRESS-REALLOC", "%s of a %zu-byte block of thread #%u (seq %u) returned %p "
                "without its old contents: byte %zu is 0x%02x, expected 0x%02x", how, old,
                (unsigned)(s->id >> 32), (unsigned)s->id, (void *)q, bad, got, want);
    tag_new(w, s, (uintptr_t)q, size, 0);                   /* its first word is ours: mv */
}

/* ============================================================================
 * Threads: every worker runs thread_init first and thread_fini last
 * ============================================================================ */

static void *thread_main(void *arg) {
    worker *w = arg;
    w->ops0 = atomic_load_explicit(&lane_ops[w->lane], memory_order_relaxed);
    if (A.thread_init) A.thread_init();
    w->body(w);
    if (A.thread_fini) A.thread_fini();
    return NULL;
}

static void spawn(worker *w, int lane, int gen, void (*body)(worker *)) {
    w->lane = lane;
    w->gen = gen;
    w->body = body;
    w->serial = atomic_fetch_add(&serials, 1) + 1;
    w->seq = 0;
    w->n = 0;
    w->rng = P.seed * 0x100000001B3ULL ^ ((uint64_t)P.widx << 56) ^ ((uint64_t)lane << 32)
             ^ (uint64_t)gen;
    rnd(w);
    if (pthread_create(&w->th, NULL, thread_main, w)) {
        fprintf(stderr, "mstress: cannot create thread %d (lane %d): out of threads\n",
                w->serial, lane);
        _exit(2);
    }
}

/* A helper thread (prefill, round ends, cleanup) on lane `threads`, waited for. */
static void run_helper(void (*body)(worker *), int gen) {
    worker w;
    memset(&w, 0, sizeof w);
    spawn(&w, P.threads, gen, body);
    pthread_join(w.th, NULL);
}

static worker *workers(size_t n) {
    worker *w = calloc(n, sizeof(worker));
    if (!w) usage_error("no memory for %zu thread records", n);
    return w;
}

static void *book(size_t n, size_t size) {   /* driver bookkeeping: the process's calloc */
    void *p = calloc(n ? n : 1, size);
    if (!p) usage_error("no memory for bookkeeping (%zu x %zu bytes)", n, size);
    return p;
}

/* Per-lane budget: OPS / THREADS calls. */
static uint64_t per_lane(void) {
    uint64_t n = P.ops / (uint64_t)P.threads;
    return n ? n : 1;
}

static uint64_t clampu(uint64_t v, uint64_t lo, uint64_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* Boxes: a slot moved between threads through one atomic pointer (mstress's transfer
 * slots, thread-churn's orphans).  Boxes live on the process's heap. */
static slot *box(const slot *s) {
    slot *b = malloc(sizeof *b);
    if (!b) usage_error("no memory for a box");
    *b = *s;
    return b;
}

/* Put a block into a random one of n shared cells; free the block it displaces. */
static void deposit(worker *w, _Atomic(slot *) *cells, size_t n, slot *s) {
    slot *b = box(s);
    s->p = 0;
    slot *old = atomic_exchange(&cells[rnd(w) % n], b);
    if (old) {
        release(w, old);
        free(old);
    }
}

/* Blocks still live after the workers: freed by the cleanup helper (stats read before). */
static slot *left_slots;                     /* larson's slot arrays */
static size_t left_nslots;
static _Atomic(slot *) *left_cells;          /* mstress's transfers, thread-churn's orphans */
static size_t left_ncells;

static uint64_t leftover_bytes(void) {
    uint64_t n = 0;
    for (size_t i = 0; i < left_nslots; i++)
        if (left_slots[i].p) n += left_slots[i].size;
    for (size_t i = 0; i < left_ncells; i++) {
        slot *b = atomic_load(&left_cells[i]);
        if (b) n += b->size;
    }
    return n;
}

static void cleanup_body(worker *w) {
    for (size_t i = 0; i < left_nslots; i++)
        if (left_slots[i].p) release(w, &left_slots[i]);
    for (size_t i = 0; i < left_ncells; i++) {
        slot *b = atomic_exchange(&left_cells[i], NULL);
        if (b) {
            release(w, b);
            free(b);
        }
    }
}

/* ============================================================================
 * larson (5 8 1000 5000 100 4141 P): a server whose worker threads are replaced
 *
 * Sizes uniform in [8, 1000).  A helper pre-fills S slots per lane; each lane then runs
 * 8 generations of a thread, each doing "free a random slot, malloc a new size" and, at
 * its end, creating its successor, which joins it and inherits its slots: the blocks a
 * thread allocated are freed by the next, after it exited.
 * ============================================================================ */

#define LARSON_GENS 8
static struct {
    slot *slots;                             /* lane l: slots[l * S .. l * S + S) */
    uint64_t S, steps;                       /* slots per lane; pairs per generation */
    worker *w;                               /* [gen * threads + lane] */
    pthread_mutex_t lock;
    pthread_cond_t done_cv;
    int done;                                /* lanes whose last generation finished */
} LA = {.lock = PTHREAD_MUTEX_INITIALIZER, .done_cv = PTHREAD_COND_INITIALIZER};

static void larson_prefill(worker *w) {
    for (uint64_t i = 0; i < LA.S * (uint64_t)P.threads; i++)
        get_malloc(w, &LA.slots[i], uniform(w, 8, 999));
}

static void larson_body(worker *w) {
    if (w->gen > 0) pthread_join(w->pred, NULL);
    slot *slots = LA.slots + (size_t)w->lane * LA.S;
    for (uint64_t k = 0; k < LA.steps; k++) {
        slot *s = &slots[rnd(w) % LA.S];
        size_t size = uniform(w, 8, 999);
        if (s->p) release(w, s);
        get_malloc(w, s, size);
    }
    if (w->gen + 1 < LARSON_GENS) {
        worker *next = &LA.w[(size_t)(w->gen + 1) * P.threads + w->lane];
        next->pred = pthread_self();
        spawn(next, w->lane, w->gen + 1, larson_body);
        return;
    }
    pthread_mutex_lock(&LA.lock);
    LA.done++;
    pthread_cond_signal(&LA.done_cv);
    pthread_mutex_unlock(&LA.lock);
}

static void run_larson(void) {
    uint64_t L = per_lane();
    LA.S = clampu(L / 8, 8, 5000);
    LA.steps = (L > 2 * LA.S ? L - 2 * LA.S : L) / 2 / LARSON_GENS + 1;
    LA.slots = book(LA.S * P.threads, sizeof(slot));
    LA.w = workers((size_t)LARSON_GENS * P.threads);
    run_helper(larson_prefill, 0);
    for (int l = 0; l < P.threads; l++) spawn(&LA.w[l], l, 0, larson_body);
    pthread_mutex_lock(&LA.lock);
    while (LA.done < P.threads) pthread_cond_wait(&LA.done_cv, &LA.lock);
    pthread_mutex_unlock(&LA.lock);
    for (int l = 0; l < P.threads; l++)
        pthread_join(LA.w[(size_t)(LARSON_GENS - 1) * P.threads + l].th, NULL);
    left_slots = LA.slots;
    left_nslots = LA.S * P.threads;
}

/* ============================================================================
 * xmalloc-test (-w P -t 5 -s 64): producers allocate, consumers free
 *
 * THREADS / 2 producers allocate batches of B blocks of 64 bytes onto a shared LIFO of
 * at most 100 batches; the other threads pop batches and free them: every free is
 * remote.  B = 4096 in the original; here OPS / 2 / producers / 8, at most 4096.
 * ============================================================================ */

#define XM_MAX_BATCHES 100
static struct {
    slot *stack[XM_MAX_BATCHES];
    int top, producers, producers_done;
    uint64_t B, batches;                     /* blocks per batch, batches per producer */
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
} XM = {.lock = PTHREAD_MUTEX_INITIALIZER, .not_empty = PTHREAD_COND_INITIALIZER,
        .not_full = PTHREAD_COND_INITIALIZER};

static void xm_producer(worker *w) {
    for (uint64_t b = 0; b < XM.batches; b++) {
        slot *batch = book(XM.B, sizeof(slot));
        for (uint64_t i = 0; i < XM.B; i++) get_malloc(w, &batch[i], cap(64));
        pthread_mutex_lock(&XM.lock);
        while (XM.top == XM_MAX_BATCHES) pthread_cond_wait(&XM.not_full, &XM.lock);
        XM.stack[XM.top++] = batch;
        pthread_cond_signal(&XM.not_empty);
        pthread_mutex_unlock(&XM.lock);
    }
    pthread_mutex_lock(&XM.lock);
    XM.producers_done++;
    pthread_cond_broadcast(&XM.not_empty);
    pthread_mutex_unlock(&XM.lock);
}

static void xm_consumer(worker *w) {
    for (;;) {
        pthread_mutex_lock(&XM.lock);
        while (XM.top == 0 && XM.producers_done < XM.producers)
            pthread_cond_wait(&XM.not_empty, &XM.lock);
        if (XM.top == 0) {
            pthread_mutex_unlock(&XM.lock);
            return;
        }
        slot *batch = XM.stack[--XM.top];
        pthread_cond_signal(&XM.not_full);
        pthread_mutex_unlock(&XM.lock);
        for (uint64_t i = 0; i < XM.B; i++) release(w, &batch[i]);
        free(batch);
    }
}

static void run_xmalloc(void) {
    XM.producers = P.threads / 2;
    uint64_t allocs = P.ops / 2 / (uint64_t)XM.producers;
    XM.B = clampu(allocs / 8, 1, 4096);
    XM.batches = allocs / XM.B ? allocs / XM.B : 1;
    worker *w = workers(P.threads);
    for (int l = 0; l < P.threads; l++)
        spawn(&w[l], l, 0, l < XM.producers ? xm_producer : xm_consumer);
    for (int l = 0; l < P.threads; l++) pthread_join(w[l].th, NULL);
    free(w);
}

/* ============================================================================
 * mstress (mimalloc-bench stress, P 50 25): churn with a global exchange
 *
 * Each of 10 rounds starts THREADS fresh threads; thread t allocates base x (t % 8 + 1)
 * blocks of 2^(0..4) words and retains half as many of 2^(0..6) words (1% of sizes x100,
 * of those 10% x1000 and 1% x10000, capped at MAXSIZE); after each step it frees one of
 * its blocks with probability 66%, reallocs one with 5%, and with 25% exchanges one
 * with a random global transfer slot (the block it takes was allocated by another
 * thread).  1 allocation in 16 is a calloc.  A thread frees what it holds and exits;
 * after each round a helper frees each transfer slot with probability 50% (all after
 * the last).
 * ============================================================================ */

#define MS_ROUNDS 10
#define MS_TRANSFERS 1000
static struct {
    _Atomic(slot *) transfer[MS_TRANSFERS];
    uint64_t base;
} MS;

static size_t ms_items(worker *w, unsigned shift) {
    size_t n = (size_t)1 << (rnd(w) % shift);
    if (chance(w, 1)) {
        double r = unit(w);
        n *= r < 0.01 ? 10000 : r < 0.11 ? 1000 : 100;
    }
    return cap(8 * n);
}

static void ms_alloc(worker *w, slot *s, size_t size) {
    if (rnd(w) % 16 == 0) get_calloc(w, s, size);
    else get_malloc(w, s, size);
}

static void ms_body(worker *w) {
    uint64_t allocs = MS.base * (uint64_t)(w->lane % 8 + 1), retain = allocs / 2;
    slot *data = book(allocs, sizeof(slot)), *retained = book(retain, sizeof(slot));
    uint64_t top = 0, rtop = 0;
    while (allocs > 0 || retain > 0) {
        if (retain == 0 || (chance(w, 50) && allocs > 0)) {
            allocs--;
            ms_alloc(w, &data[top++], ms_items(w, 5));
        } else {
            retain--;
            ms_alloc(w, &retained[rtop++], ms_items(w, 7));
        }
        if (top && chance(w, 66)) {
            slot *s = &data[rnd(w) % top];
            if (s->p) release(w, s);
        }
        if (top && chance(w, 5)) {
            slot *s = &data[rnd(w) % top];
            size_t size = ms_items(w, 5);
            if (s->p) move(w, s, size);
        }
        if (top && chance(w, 25)) {                 /* exchange with a transfer slot */
            slot *s = &data[rnd(w) % top];
            size_t j = rnd(w) % MS_TRANSFERS;
            slot *mine = s->p ? box(s) : NULL;
            slot *theirs = atomic_exchange(&MS.transfer[j], mine);
            s->p = 0;
            if (theirs) {
                *s = *theirs;
                free(theirs);
            }
        }
    }
    for (uint64_t i = 0; i < rtop; i++) release(w, &retained[i]);
    for (uint64_t i = 0; i < top; i++)
        if (data[i].p) release(w, &data[i]);
    free(data);
    free(retained);
}

static void ms_round_end(worker *w) {
    int last = w->gen + 1 == MS_ROUNDS;
    for (int i = 0; i < MS_TRANSFERS; i++)
        if (last || chance(w, 50)) {
            slot *b = atomic_exchange(&MS.transfer[i], NULL);
            if (b) {
                release(w, b);
                free(b);
            }
        }
}

static void run_mstress(void) {
    uint64_t weight = 0;
    for (int t = 0; t < P.threads; t++) weight += t % 8 + 1;
    MS.base = P.ops / (3 * MS_ROUNDS * weight);
    if (!MS.base) MS.base = 1;
    worker *w = workers(P.threads);
    for (int r = 0; r < MS_ROUNDS; r++) {
        for (int l = 0; l < P.threads; l++) spawn(&w[l], l, r, ms_body);
        for (int l = 0; l < P.threads; l++) pthread_join(w[l].th, NULL);
        run_helper(ms_round_end, r);
    }
    free(w);
}

/* ============================================================================
 * cache-scratch (P 1000 1 2000000 P): passive false sharing
 *
 * A helper allocates one 1-byte object per thread; each thread frees the one it
 * inherits (a remote free), then repeats "malloc(1), write it 16 times, check, free".
 * ============================================================================ */

#define CS_WRITES 16
static slot *CS_inherited;

static void cs_prefill(worker *w) {
    for (int l = 0; l < P.threads; l++) get_malloc(w, &CS_inherited[l], 1);
}

static void cs_body(worker *w) {
    release(w, &CS_inherited[w->lane]);
    uint64_t iters = per_lane() / 2;
    slot s;
    for (uint64_t i = 0; i < iters; i++) {
        get_malloc(w, &s, 1);
        uint8_t pat = small_pattern(s.id);
        for (int k = 0; k < CS_WRITES; k++) ((volatile uint8_t *)s.p)[0] = pat;
        release(w, &s);
    }
}

static void run_cache_scratch(void) {
    CS_inherited = book(P.threads, sizeof(slot));
    run_helper(cs_prefill, 0);
    worker *w = workers(P.threads);
    for (int l = 0; l < P.threads; l++) spawn(&w[l], l, 0, cs_body);
    for (int l = 0; l < P.threads; l++) pthread_join(w[l].th, NULL);
    free(w);
    free(CS_inherited);
}

/* ============================================================================
 * sh6bench: the size ladder through a ring
 *
 * Sizes 1, 2, 4, 7, 11, 17, ... 709 (s -> 3s/2 + 1), each halved down to 1; each thread
 * walks the ladder allocating 250 blocks of each size under 100 bytes and 50 of the
 * others (scaled down to the budget) into a ring of R slots (10,000 in the original);
 * a full ring is emptied, the older half oldest-first and the newer half newest-first.
 * No cross-thread frees.
 * ============================================================================ */

static size_t SH_ladder[128];
static int SH_rungs;
static uint64_t SH_ring, SH_small, SH_large;

static void sh_empty(worker *w, slot *ring, uint64_t *top) {
    uint64_t half = *top / 2;
    for (uint64_t i = 0; i < half; i++) release(w, &ring[i]);
    for (uint64_t i = *top; i > half; i--) release(w, &ring[i - 1]);
    *top = 0;
}

static void sh_body(worker *w) {
    slot *ring = book(SH_ring, sizeof(slot));
    uint64_t top = 0, budget = per_lane() / 2, allocs = 0;
    while (allocs < budget) {
        for (int r = 0; r < SH_rungs && allocs < budget; r++) {
            uint64_t n = SH_ladder[r] < 100 ? SH_small : SH_large;
            for (uint64_t j = 0; j < n && allocs < budget; j++, allocs++) {
                get_malloc(w, &ring[top++], cap(SH_ladder[r]));
                if (top == SH_ring) sh_empty(w, ring, &top);
            }
        }
    }
    sh_empty(w, ring, &top);
    free(ring);
}

static void run_sh6bench(void) {
    SH_rungs = 0;
    for (size_t s = 1; s < 1000; s = s * 3 / 2 + 1)
        for (size_t x = s; x; x /= 2) SH_ladder[SH_rungs++] = x;
    uint64_t walk = 0;
    for (int r = 0; r < SH_rungs; r++) walk += SH_ladder[r] < 100 ? 250 : 50;
    uint64_t budget = per_lane() / 2;
    SH_small = budget >= walk ? 250 : clampu(250 * budget / walk, 1, 250);
    SH_large = budget >= walk ? 50 : clampu(50 * budget / walk, 1, 50);
    SH_ring = clampu(budget / 4, 16, 10000);
    worker *w = workers(P.threads);
    for (int l = 0; l < P.threads; l++) spawn(&w[l], l, 0, sh_body);
    for (int l = 0; l < P.threads; l++) pthread_join(w[l].th, NULL);
    free(w);
}

/* ============================================================================
 * glibc-thread (bench-malloc-thread): random replacement per thread
 *
 * Each thread owns 1024 slots (fewer for small budgets); each step frees a random
 * slot's block and allocates a new one, sizes inverse-square on [4, 32768] (75% <= 16
 * bytes, 99.6% <= 1 KiB), capped at MAXSIZE; 1 allocation in 16 is a calloc.  No
 * cross-thread frees.
 * ============================================================================ */

static void gt_body(worker *w) {
    uint64_t L = per_lane(), n = clampu(L / 8, 8, 1024);
    uint64_t steps = (L > 2 * n ? L - 2 * n : L) / 2 + n;
    slot *slots = book(n, sizeof(slot));
    for (uint64_t k = 0; k < steps; k++) {
        slot *s = &slots[rnd(w) % n];
        size_t size = inverse_square(w, 4, 32768);
        int c = rnd(w) % 16 == 0;
        if (s->p) release(w, s);
        if (c) get_calloc(w, s, size);
        else get_malloc(w, s, size);
    }
    for (uint64_t i = 0; i < n; i++)
        if (slots[i].p) release(w, &slots[i]);
    free(slots);
}

static void run_glibc_thread(void) {
    worker *w = workers(P.threads);
    for (int l = 0; l < P.threads; l++) spawn(&w[l], l, 0, gt_body);
    for (int l = 0; l < P.threads; l++) pthread_join(w[l].th, NULL);
    free(w);
}

/* ============================================================================
 * thread-churn: threads that exit with live blocks, freed by others later
 *
 * THREADS lanes; the main thread joins each lane's thread and starts the next one in
 * turn, so threads of consecutive generations overlap.  A thread makes about 2000 calls:
 * 20% take a random orphan cell's block (allocated by another thread, often one that
 * has exited) and free it, or realloc it (1 in 4) and put it back; 15% allocate a block
 * straight into an orphan cell (freeing the block it displaces); the rest replace a
 * random one of 32 local slots (1 in 16 a calloc; with aligned=1, 1 in 32
 * posix_memalign or aligned_alloc).  Before exiting it moves its local blocks into
 * orphan cells: it exits with live blocks while the other lanes free its blocks (remote
 * frees into a dying heap).  Sizes inverse-square on [1, 4096], 1% uniform on
 * [1, MAXSIZE].
 * ============================================================================ */

#define TC_LOCAL 32
#define TC_PER_THREAD 2000
static struct {
    _Atomic(slot *) *cells;
    size_t ncells;
    uint64_t gens, budget;                   /* generations per lane, calls per thread */
} TC;

static size_t tc_size(worker *w) {
    return chance(w, 1) ? uniform(w, 1, P.max_size) : inverse_square(w, 1, 4096);
}

static void tc_body(worker *w) {
    slot local[TC_LOCAL];
    memset(local, 0, sizeof local);
    for (uint64_t it = 0; w->n < TC.budget && it < 4 * TC.budget; it++) {
        int r = (int)(rnd(w) % 100);
        if (r < 20) {
            slot *b = atomic_exchange(&TC.cells[rnd(w) % TC.ncells], NULL);
            if (!b) continue;
            if (A.realloc && rnd(w) % 4 == 0) {
                move(w, b, tc_size(w));
                deposit(w, TC.cells, TC.ncells, b);
            } else {
                release(w, b);
            }
            free(b);
        } else if (r < 35) {
            slot s;
            get_malloc(w, &s, tc_size(w));
            deposit(w, TC.cells, TC.ncells, &s);
        } else {
            slot *s = &local[rnd(w) % TC_LOCAL];
            size_t size = tc_size(w);
            unsigned kind = (unsigned)(rnd(w) % 32);
            if (s->p) release(w, s);
            if (kind < 2) get_calloc(w, s, size);
            else if (kind == 2 && P.aligned) {
                size_t align = (size_t)16 << (rnd(w) % 8);       /* 16 .. 2048 */
                if (align > P.max_size) get_malloc(w, s, size);
                else get_aligned(w, s, align);
            } else {
                get_malloc(w, s, size);
            }
        }
    }
    for (int i = 0; i < TC_LOCAL; i++)
        if (local[i].p) deposit(w, TC.cells, TC.ncells, &local[i]);
}

static void run_thread_churn(void) {
    uint64_t L = per_lane();
    TC.gens = clampu(L / TC_PER_THREAD, 2, 1000);
    TC.budget = L / TC.gens ? L / TC.gens : 1;
    TC.ncells = clampu(P.ops / 32, 64, 4096);
    TC.cells = book(TC.ncells, sizeof(*TC.cells));
    worker *w = workers(P.threads);
    for (uint64_t g = 0; g < TC.gens; g++)
        for (int l = 0; l < P.threads; l++) {
            if (g) pthread_join(w[l].th, NULL);
            spawn(&w[l], l, (int)g, tc_body);
        }
    for (int l = 0; l < P.threads; l++) pthread_join(w[l].th, NULL);
    free(w);
    left_cells = TC.cells;
    left_ncells = TC.ncells;
}

/* ============================================================================
 * The library's statistics
 *
 * Read by the main thread, which never allocates from the library: before the run
 * (before), after every worker exited with the leftover blocks still live (live), after
 * a helper freed those and exited (after).  What holds exactly on a correct library:
 *   jemalloc  mallctl("epoch") then "stats.allocated" (bytes in small regions and large
 *             extents handed out, counted at their size class; blocks in a thread's
 *             tcache count as allocated, and a thread's tcache is flushed at its exit):
 *             live - before >= leftover bytes;  after == before
 *   tcmalloc  "generic.current_allocated_bytes" (bytes handed to the application, at
 *             their size class; thread caches do not count):
 *             live - before >= leftover bytes;  after == before
 *   symbol    size_t NAME(void), the bytes the library counts as allocated (adapter
 *             file): live - before >= leftover bytes;  after == before
 * ============================================================================ */

static int stats_read(uint64_t *out) {
    if (!A.stats) return 0;
    if (!strcmp(A.stats, "jemalloc")) {
        int (*mallctl)(const char *, void *, size_t *, void *, size_t) = A.stats_fn;
        uint64_t epoch = 1;
        size_t len = sizeof epoch, v = 0;
        if (mallctl("epoch", &epoch, &len, &epoch, len)) return 0;
        len = sizeof v;
        if (mallctl("stats.allocated", &v, &len, NULL, 0)) return 0;
        *out = v;
        return 1;
    }
    if (!strcmp(A.stats, "tcmalloc")) {
        int (*prop)(const char *, size_t *) = A.stats_fn;
        size_t v = 0;
        if (!prop("generic.current_allocated_bytes", &v)) return 0;
        *out = v;
        return 1;
    }
    size_t (*f)(void) = A.stats_fn;
    *out = f();
    return 1;
}

static const char *stats_what(void) {
    return !strcmp(A.stats, "jemalloc") ? "jemalloc's stats.allocated"
           : !strcmp(A.stats, "tcmalloc") ? "tcmalloc's generic.current_allocated_bytes"
           : A.stats + 7;
}

static void check_stats_live(uint64_t leftover) {
    if (stats_state != 1 || !stats_read(&stats_val[1])) return;
    stats_val[2] = leftover;
    stats_state = 3;
    if (stats_val[1] < stats_val[0] || stats_val[1] - stats_val[0] < leftover)
        finding(NULL, "STRESS-STATS", "%s is %llu with %llu bytes live after the workers "
                "exited; it was %llu before the run, so it counts only %lld of them",
                stats_what(), (unsigned long long)stats_val[1], (unsigned long long)leftover,
                (unsigned long long)stats_val[0],
                (long long)(stats_val[1] - stats_val[0]));
}

static void check_stats_after(void) {
    if (stats_state != 3 || !stats_read(&stats_val[3])) return;
    stats_state = 4;
    if (stats_val[3] != stats_val[0])
        finding(NULL, "STRESS-STATS", "%s is %llu after every block was freed and every "
                "thread exited; it was %llu before the run (expected equal: %+lld bytes)",
                stats_what(), (unsigned long long)stats_val[3],
                (unsigned long long)stats_val[0],
                (long long)(stats_val[3] - stats_val[0]));
}

/* ============================================================================
 * Arguments and main
 * ============================================================================ */

static const struct { const char *name; void (*run)(void); } WORKLOADS[] = {
    {"larson", run_larson},
    {"xmalloc-test", run_xmalloc},
    {"mstress", run_mstress},
    {"cache-scratch", run_cache_scratch},
    {"sh6bench", run_sh6bench},
    {"glibc-thread", run_glibc_thread},
    {"thread-churn", run_thread_churn},
};
#define NWORKLOADS (int)(sizeof WORKLOADS / sizeof WORKLOADS[0])

static uint64_t parse_u64(const char *what, const char *s, uint64_t lo, uint64_t hi) {
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || *s == '-' || v < lo || v > hi)
        usage_error("%s must be an integer in [%llu, %llu], got '%s'", what,
                    (unsigned long long)lo, (unsigned long long)hi, s);
    return v;
}

static void *lookup(void *h, const char *role, const char *sym) {
    dlerror();
    void *f = dlsym(h, sym);
    if (!f) usage_error("%s: no symbol %s (%s=%s) in %s", P.lib, sym, role, sym, P.lib);
    return f;
}

static void bind_role(void *h, const char *arg) {
    const char *eq = strchr(arg, '=');
    if (!eq) usage_error("expected NAME=VALUE, got '%s'", arg);
    size_t k = (size_t)(eq - arg);
    const char *v = eq + 1;
    static const struct { const char *role; size_t off; } roles[] = {
        {"malloc", offsetof(struct allocator, malloc)},
        {"free", offsetof(struct allocator, free)},
        {"realloc", offsetof(struct allocator, realloc)},
        {"calloc", offsetof(struct allocator, calloc)},
        {"aligned_alloc", offsetof(struct allocator, aligned_alloc)},
        {"posix_memalign", offsetof(struct allocator, posix_memalign)},
        {"usable_size", offsetof(struct allocator, usable_size)},
        {"init", offsetof(struct allocator, init)},
        {"thread_init", offsetof(struct allocator, thread_init)},
        {"thread_fini", offsetof(struct allocator, thread_fini)},
    };
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strlen(roles[i].role) == k && !strncmp(arg, roles[i].role, k)) {
            void *f = lookup(h, roles[i].role, v);
            memcpy((char *)&A + roles[i].off, &f, sizeof f);
            return;
        }
    if (k == 7 && !strncmp(arg, "aligned", 7)) {
        P.aligned = (int)parse_u64("aligned", v, 0, 1);
        return;
    }
    if (k == 5 && !strncmp(arg, "stats", 5)) {
        A.stats = v;
        if (!strcmp(v, "jemalloc")) A.stats_fn = lookup(h, "stats", "mallctl");
        else if (!strcmp(v, "tcmalloc"))
            A.stats_fn = lookup(h, "stats", "MallocExtension_GetNumericProperty");
        else if (!strncmp(v, "symbol:", 7) && v[7]) A.stats_fn = lookup(h, "stats", v + 7);
        else usage_error("stats must be jemalloc, tcmalloc or symbol:NAME, got '%s'", v);
        return;
    }
    usage_error("unknown name '%.*s' in '%s' (roles: malloc, free, realloc, calloc, "
                "aligned_alloc, posix_memalign, usable_size; hooks: init, thread_init, "
                "thread_fini; stats)", (int)k, arg, arg);
}

int main(int argc, char **argv) {
    if (argc < 7)
        usage_error("usage: %s LIB WORKLOAD THREADS OPS SEED MAXSIZE [role=symbol]... "
                    "(see the header of mstress.c)", argv[0]);
    P.lib = argv[1];
    P.workload = argv[2];
    P.widx = -1;
    for (int i = 0; i < NWORKLOADS; i++)
        if (!strcmp(WORKLOADS[i].name, P.workload)) P.widx = i;
    if (P.widx < 0)
        usage_error("unknown workload '%s' (larson, xmalloc-test, mstress, cache-scratch, "
                    "sh6bench, glibc-thread, thread-churn)", P.workload);
    P.threads = (int)parse_u64("THREADS", argv[3], 1, MAX_THREADS);
    P.ops = parse_u64("OPS", argv[4], 1, UINT64_MAX / 4);
    P.seed = parse_u64("SEED", argv[5], 0, UINT64_MAX);
    P.max_size = parse_u64("MAXSIZE", argv[6], 1, (uint64_t)1 << 40);
    if (!strcmp(P.workload, "xmalloc-test") && P.threads < 2)
        usage_error("xmalloc-test needs THREADS >= 2 (producers and consumers), got %d",
                    P.threads);
    void *h = dlopen(P.lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) usage_error("cannot load %s: %s", P.lib, dlerror());
    for (int i = 7; i < argc; i++) bind_role(h, argv[i]);
    if (!A.malloc || !A.free) usage_error("malloc=SYM and free=SYM are required");
    lane_ops = book(P.threads + 1, sizeof(*lane_ops));
    if (A.init) A.init();
    if (A.stats && stats_read(&stats_val[0])) stats_state = 1;
    t_start = now_s();
    WORKLOADS[P.widx].run();
    check_stats_live(leftover_bytes());
    run_helper(cleanup_body, 0);
    check_stats_after();
    result_line("clean");
    return 0;
}
