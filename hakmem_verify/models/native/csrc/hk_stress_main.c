/* The stress driver as a program (for sanitizer builds: gcc -fsanitize=thread):
 *   hk_stress THREADS larson|prodcons OPS [SEED [small] [ss]]
 * small: 4 KiB slabs, magazines of 8, mini-mags of 4, flushes every 16 events (the slow
 * paths: adoption, eviction, release, drains, under real threads).
 * ss: SuperSlab mode (2 MiB SuperSlabs, a pool of 2, tls_sll of 64; with small: 16 KiB
 * SuperSlabs, a pool of 1, tls_sll of 4, so SuperSlabs are taken, released, pooled,
 * unmapped and reclaimed all the time). 
 * exit 0 clean, 1 on a finding (its message on stderr), 2 bad arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hk.h"


int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s THREADS larson|prodcons OPS [SEED [small] [ss]]\n", argv[0]);
        return 2;
    }
    static const uint32_t sizes[8] = {8, 16, 32, 64, 128, 256, 512, 1024};
    struct hk_stress_params prm;
    memset(&prm, 0, sizeof prm);
    prm.threads = atoi(argv[1]);
    prm.workload = strcmp(argv[2], "prodcons") == 0;
    prm.ops = strtoull(argv[3], NULL, 10);
    prm.seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
    prm.max_size = 1024;
    prm.ring = 1024;
    prm.cfg.num_classes = 8;
    memcpy(prm.cfg.class_sizes, sizes, sizeof sizes);
    prm.cfg.slab_size = 65536;
    prm.cfg.word_bits = 64;
    prm.cfg.mini_mag_capacity = 16;
    prm.cfg.refill_batch = 16;
    prm.cfg.magazine_capacity = 2048;
    prm.cfg.flush_interval = 256;
    prm.cfg.max_slabs_per_class = -1;
    prm.cfg.max_slabs_total = 65536;
    int small = 0, ss = 0;
    for (int i = 5; i < argc; i++) {
        if (strcmp(argv[i], "small") == 0) small = 1;
        else if (strcmp(argv[i], "ss") == 0) ss = 1;
        else {
            fprintf(stderr, "unknown option %s (small, ss)\n", argv[i]);
            return 2;
        }
    }
    if (small) {
        prm.cfg.slab_size = 4096;
        prm.cfg.mini_mag_capacity = 4;
        prm.cfg.refill_batch = 4;
        prm.cfg.magazine_capacity = 8;
        prm.cfg.flush_interval = 16;
    }
    if (ss) {
        prm.cfg.use_superslab = 1;
        prm.cfg.superslab_size = small ? 4 * 4096 : 2 * 1024 * 1024;
        prm.cfg.superslab_pool_max = small ? 1 : 2;
        prm.cfg.tls_sll_capacity = small ? 4 : 64;
        prm.cfg.ss_first_off = 0;   /* base_address 2^32: aligned to every SuperSlab size */
    }
    int rc = hk_stress_run(&prm);
    if (rc) fprintf(stderr, "%s\n", prm.message);
    else printf("clean: %llu ops in %.3f s\n", (unsigned long long)prm.done_ops, prm.seconds);
    return rc;
}
