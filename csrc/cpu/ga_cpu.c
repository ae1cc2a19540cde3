/* ga_cpu.c - CPU feature detection (cpuid via the compiler builtins; for AVX-512
 * they also check that the OS saves the opmask and vector state). */
#include "ga_cpu.h"

static ga_cpu_features g_features;
static int g_detected = 0;
static ga_kernel_set g_set = GA_KSET_PORTABLE;

static int cpu_can_avx2(const ga_cpu_features *f) { return f->avx2 && f->fma && f->f16c; }
static int cpu_can_avx512(const ga_cpu_features *f) {
    return cpu_can_avx2(f) && f->avx512f && f->avx512bw && f->avx512vl && f->avx512vnni;
}

const ga_cpu_features *ga_cpu_get(void) {
    if (!g_detected) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_cpu_init();
        g_features.sse3 = __builtin_cpu_supports("sse3");
        g_features.ssse3 = __builtin_cpu_supports("ssse3");
        g_features.avx = __builtin_cpu_supports("avx");
        g_features.avx2 = __builtin_cpu_supports("avx2");
        g_features.fma = __builtin_cpu_supports("fma");
        g_features.f16c = __builtin_cpu_supports("f16c");
        g_features.avx512f = __builtin_cpu_supports("avx512f");
        g_features.avx512bw = __builtin_cpu_supports("avx512bw");
        g_features.avx512vl = __builtin_cpu_supports("avx512vl");
        g_features.avx512vnni = __builtin_cpu_supports("avx512vnni");
#endif
        g_set = cpu_can_avx512(&g_features) ? GA_KSET_AVX512
              : cpu_can_avx2(&g_features)   ? GA_KSET_AVX2
                                            : GA_KSET_PORTABLE;
        g_detected = 1;
    }
    return &g_features;
}

ga_kernel_set ga_kernel_set_get(void) {
    ga_cpu_get();
    return g_set;
}

int ga_kernel_set_runnable(ga_kernel_set set) {
    const ga_cpu_features *f = ga_cpu_get();
    switch (set) {
    case GA_KSET_PORTABLE: return 1;
    case GA_KSET_AVX2: return cpu_can_avx2(f);
    case GA_KSET_AVX512: return cpu_can_avx512(f);
    default: return 0;
    }
}

int ga_kernel_set_force(ga_kernel_set set) {
    if (!ga_kernel_set_runnable(set)) return -1;
    g_set = set;
    return 0;
}

const char *ga_kernel_set_name(ga_kernel_set set) {
    switch (set) {
    case GA_KSET_AVX2: return "avx2";
    case GA_KSET_AVX512: return "avx512";
    default: return "portable";
    }
}
