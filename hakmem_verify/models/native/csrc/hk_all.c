/* The whole pool as one translation unit (the compiler inlines across the files). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "hk_slab.c"
#include "hk_pool.c"
#include "hk_free.c"
#include "hk_stress.c"
#include "hk_bench.c"
