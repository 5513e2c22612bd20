/* The stress driver as a program (for sanitizer builds: gcc -fsanitize=thread):
 *   hk_stress THREADS larson|prodcons OPS [SEED [small]]
 * small: 4 KiB slabs, magazines of 8, mini-mags of 4, flushes every 16 events (the slow
 * paths: adoption, eviction, release, drains, under real threads). 
 * exit 0 clean, 1 on a finding (its message on stderr), 2 bad arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hk.h"


int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s THREADS larson|prodcons OPS [SEED [small]]\n", argv[0]);
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
    if (argc > 5 && strcmp(argv[5], "small") == 0) {
        prm.cfg.slab_size = 4096;
        prm.cfg.mini_mag_capacity = 4;
        prm.cfg.refill_batch = 4;
        prm.cfg.magazine_capacity = 8;
        prm.cfg.flush_interval = 16;
    }
    int rc = hk_stress_run(&prm);
    if (rc) fprintf(stderr, "%s\n", prm.message);
    else printf("clean: %llu ops in %.3f s\n", (unsigned long long)prm.done_ops, prm.seconds);
    return rc;
}
