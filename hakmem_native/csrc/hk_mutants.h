/* Compile-time mutants: build with -DHAKMEM_MUTANT=<name> (a name below); 0 = none.
 * Each is the seed design's code sample transcribed literally, or a planted bug. */
#ifndef HK_MUTANTS_H
#define HK_MUTANTS_H
#define HK_seed_batch_refill_from_bitmap 1  /* marks used before the push, breaks on a full mag */
#define HK_seed_stats_flush_if_needed 2     /* flushes at (batch & 0xFF) == 0xFF, adds 256 */
#define HK_seed_stats_global_add 3          /* global counter += n as a load and a store */
#define HK_remote_push_not_atomic 4         /* remote push: plain store of the head, no CAS */
#define HK_free_pushes_twice 5              /* a free into the magazine, 1 in 64 blocks pushed twice */
#ifndef HAKMEM_MUTANT
#define HAKMEM_MUTANT 0
#endif
#endif
