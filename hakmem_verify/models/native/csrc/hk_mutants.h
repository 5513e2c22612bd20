/* Compile-time mutants: build with -DHAKMEM_MUTANT=<name> (a name below); 0 = none.
 * Each is the seed design's code sample transcribed literally, or a planted bug. */
#ifndef HK_MUTANTS_H
#define HK_MUTANTS_H
#define HK_seed_batch_refill_from_bitmap 1  /* marks used before the push, breaks on a full mag */
#define HK_seed_stats_flush_if_needed 2     /* flushes at (batch & 0xFF) == 0xFF, adds 256 */
#define HK_seed_stats_global_add 3          /* global counter += n as a load and a store */
#define HK_remote_push_not_atomic 4         /* remote push: plain store of the head, no CAS */
#define HK_free_pushes_twice 5              /* a free into the magazine, 1 in 64 blocks pushed twice */
#define HK_spill_leaks_one 6                /* a spill leaves its last block used in the bitmap */
#define HK_remote_push_scribbles 7          /* a remote push clears the previous block's last word */
#define HK_flush_drops_batches 8            /* every 16th flush of a batch adds nothing */
#define HK_thread_exit_keeps_b 9            /* thread exit evicts active slab A only */
#define HK_exact_misses_remote 10           /* a remote free is not counted in the exact stats */
#define HK_live_not_marked 11               /* 1 block in 97 is handed out unmarked in the debug table */
#define HK_slab_limit_8 12                  /* new_slab refuses past 8 slabs: out of memory */
#define HK_ss_mask_off_by_one_slab 13       /* SuperSlab mode: a non-local free reads the owner of the slab one slab above the block's */
#define HK_ss_counter_wrong_route 14        /* SuperSlab mode: a remote free is counted ss_local */
#ifndef HAKMEM_MUTANT
#define HAKMEM_MUTANT 0
#endif
#endif
