/* ga_cpu.c - CPU feature detection (cpuid via the compiler builtins). */
#include "ga_cpu.h"

static ga_cpu_features g_features;
static int g_detected = 0;
static ga_kernel_set g_set = GA_KSET_PORTABLE;

static int cpu_can_avx2(const ga_cpu_features *f) { return f->avx2 && f->fma && f->f16c; }

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
#endif
        g_set = cpu_can_avx2(&g_features) ? GA_KSET_AVX2 : GA_KSET_PORTABLE;
        g_detected = 1;
    }
    return &g_features;
}

ga_kernel_set ga_kernel_set_get(void) {
    ga_cpu_get();
    return g_set;
}

int ga_kernel_set_force(ga_kernel_set set) {
    const ga_cpu_features *f = ga_cpu_get();
    if (set == GA_KSET_AVX2 && !cpu_can_avx2(f)) return -1;
    g_set = set;
    return 0;
}

const char *ga_kernel_set_name(ga_kernel_set set) {
    return set == GA_KSET_AVX2 ? "avx2" : "portable";
}
