/* ga_cpu.h - runtime CPU feature detection and kernel-set selection.
 *
 * Every SIMD kernel lives in a *_avx2.c or *_avx512.c file whose functions carry
 * __attribute__((target(...))), so the extension builds with generic flags and
 * never executes an instruction the CPU lacks: callers branch on
 * ga_kernels_avx2() / ga_kernels_avx512() before calling a SIMD twin.
 *
 * The sets nest: "avx512" is the AVX2 set plus 256-bit AVX-512 (VL, BW, VNNI)
 * kernels where they exist (the 16-bit activation dot products); everything
 * else runs its AVX2 twin there.
 */
#ifndef GA_CPU_H
#define GA_CPU_H

typedef struct {
    int sse3, ssse3, avx, avx2, fma, f16c, avx512f, avx512bw, avx512vl, avx512vnni;
} ga_cpu_features;

typedef enum { GA_KSET_PORTABLE = 0, GA_KSET_AVX2 = 1, GA_KSET_AVX512 = 2 } ga_kernel_set;

const ga_cpu_features *ga_cpu_get(void);

/* The kernel set in use: by default the widest the CPU can run. */
ga_kernel_set ga_kernel_set_get(void);
/* Force a set (tests compare twins). Returns -1 if the CPU cannot run it. */
int ga_kernel_set_force(ga_kernel_set set);
/* Whether this CPU can run set. */
int ga_kernel_set_runnable(ga_kernel_set set);
const char *ga_kernel_set_name(ga_kernel_set set);

static inline int ga_kernels_avx2(void) { return ga_kernel_set_get() >= GA_KSET_AVX2; }
static inline int ga_kernels_avx512(void) { return ga_kernel_set_get() == GA_KSET_AVX512; }

#endif
