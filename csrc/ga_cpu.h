/* ga_cpu.h - runtime CPU feature detection and kernel-set selection.
 *
 * Every SIMD kernel lives in a *_avx2.c file whose functions carry
 * __attribute__((target("avx2,fma,f16c"))), so the extension builds with
 * generic flags and never executes an instruction the CPU lacks: callers
 * branch on ga_kernels_avx2() before calling an AVX2 twin.
 */
#ifndef GA_CPU_H
#define GA_CPU_H

typedef struct {
    int sse3, ssse3, avx, avx2, fma, f16c, avx512f;
} ga_cpu_features;

typedef enum { GA_KSET_PORTABLE = 0, GA_KSET_AVX2 = 1 } ga_kernel_set;

const ga_cpu_features *ga_cpu_get(void);

/* The kernel set in use: AVX2 when the CPU has AVX2+FMA+F16C, else portable. */
ga_kernel_set ga_kernel_set_get(void);
/* Force a set (tests compare twins). Returns -1 if the CPU cannot run it. */
int ga_kernel_set_force(ga_kernel_set set);
const char *ga_kernel_set_name(ga_kernel_set set);

static inline int ga_kernels_avx2(void) { return ga_kernel_set_get() == GA_KSET_AVX2; }

#endif
