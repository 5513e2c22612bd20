/* exalloc: a small thread-safe size-class allocator, the harness's example of a C
 * library under `--impl malloc:LIB[:PREFIX]` (see README.md beside this file).
 *
 * Every function is thread-safe.  Blocks of up to 2048 bytes come from size classes
 * (16, 32, ..., 2048) and are aligned to their class size; larger ones are mapped one
 * by one.  ex_allocated_bytes() is 0 before the first allocation and again once every
 * block is freed and every thread that allocated has exited or called ex_thread_fini().
 */
#ifndef EXALLOC_H
#define EXALLOC_H

#include <stddef.h>

void *ex_malloc(size_t size);
void ex_free(void *p);
void *ex_realloc(void *p, size_t size);
void *ex_calloc(size_t n, size_t size);
void *ex_aligned_alloc(size_t align, size_t size);
int ex_posix_memalign(void **out, size_t align, size_t size);
size_t ex_malloc_usable_size(const void *p);

/* Bytes counted as allocated: at least the usable bytes of every live block; exact
 * (the usable bytes live) once no thread holds a heap. */
size_t ex_allocated_bytes(void);

/* Optional: give the calling thread its heap now / hand it back before the thread
 * exits (a thread-exit destructor does the same for threads that never call it). */
void ex_thread_init(void);
void ex_thread_fini(void);

#endif
