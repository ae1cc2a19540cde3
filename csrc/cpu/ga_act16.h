/* ga_act16.h - 16-bit activations as two 8-bit activation arrays (act_bits=16).
 *
 * Each block of activations is quantized to 16-bit codes q = round(x / d) in
 * [-32512, 32512] and split as q = 256 * hi + lo with hi in [-127, 127] and
 * lo in [-127, 127] (a code whose lo would be -128 moves up by one).  hi and
 * lo are written as ordinary activation blocks of the weight's family (Q8_0
 * or Q8_K) with scales 256 d and d, so any dot product of the family computes
 * dot(w, hi) + dot(w, lo), the definition; the fused kernels (dot2 in
 * ga_vecdot_*.c) also rely on hi's scale being exactly 256 times lo's, so the
 * two integer sums combine before one float multiply.
 *
 * The split can also write the codes themselves, q16[j] = 256 hi[j] + lo[j]
 * as int16 (after the -128 adjustment, so exactly the codes hi and lo
 * encode): the AVX-512 kernels (ga_vecdot_avx512.c) multiply them as 16-bit
 * integers, scaled by lo's d.
 */
#ifndef GA_ACT16_H
#define GA_ACT16_H

#include <stdint.h>

/* x: n floats (n a multiple of the family's block); hi, lo: n / block activation
 * blocks each; q16: n codes or NULL.  act_type: GA_TYPE_Q8_0
 * or GA_TYPE_Q8_K. */
void ga_act16_split(int act_type, const float *x, void *hi, void *lo, int16_t *q16, int64_t n);

#endif
