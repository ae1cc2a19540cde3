/* ga_x8.h - Q4_0 and Q5_0 weights re-laid out at load, 8 rows interleaved, for decode.
 *
 * The row-by-row dot products pay per 32-element block for one row: a scale
 * conversion, a float multiply-add and a horizontal layout.  Here one vector
 * lane is one row: a group of 8 rows is stored block by block as
 *
 *     d[8]       the 8 rows' fp16 scales                              16 bytes
 *     qs[4][32]  low 4 bits of the codes: byte j of pair p holds, in its low
 *                nibble, code (row j / 4, element 8p + j % 4) and in its high
 *                nibble code (row j / 4, element 8p + 4 + j % 4)        128 bytes
 *     qh[8]      Q5_0 only, 32-bit masks: bit j of word k is the fifth bit of
 *                code (row j / 4, element 4k + j % 4)                   32 bytes
 *
 * 144 (Q4_0) or 176 (Q5_0) bytes = 8 blocks of the format: the copy is exactly
 * as large as the rows.  After unpacking, byte lane j of word k is row j / 4's
 * code for element 4k + j % 4, so VNNI vpdpbusd multiplies 4 unsigned codes by
 * 4 broadcast activation bytes per int32 lane, and the 8 rows' block sums land
 * in one vector next to their 8 scales (ga_x8_avx512.c).  Codes are unsigned
 * (w + 8 for Q4_0, w + 16 for Q5_0); the kernel subtracts that offset times the
 * activations' block sums.
 */
#ifndef GA_X8_H
#define GA_X8_H

#include <stddef.h>
#include <stdint.h>

#define GA_X8_ROWS 8
#define GA_X8_MAX_COLS 8192 /* the kernels keep one int32 per block of x on their stack */

/* Whether a weight of this type and shape can be interleaved (Q4_0 or Q5_0, rows a
 * multiple of 8, at most GA_X8_MAX_COLS columns). */
int ga_x8_applies(int wtype, int64_t rows, int64_t cols);

/* Bytes of one interleaved block of 8 rows (0 for other types). */
size_t ga_x8_block_bytes(int wtype);

/* Bytes of the interleaved copy of a rows x cols matrix (= its own size). */
size_t ga_x8_bytes(int wtype, int64_t rows, int64_t cols);

/* Interleave row groups [g0, g1) of matrix w (cols elements per row) into out, which
 * holds the whole copy. */
void ga_x8_pack(int wtype, const void *w, int64_t cols, int64_t g0, int64_t g1, void *out);

/* act_bits=16 decode, AVX-512 VL/BW/VNNI: y[8 g + i] for groups [g0, g1), from the act16
 * activations (ga_act16.h: hi and lo Q8_0 blocks, int16 codes q16).  The integer sums are
 * those of the type's ga_vec_dot2_*_ref; only the float order differs. */
void ga_x8_rows16_avx512(int wtype, const void *packed, int64_t cols, const void *hi, const void *lo,
                         const int16_t *q16, float *y, int64_t g0, int64_t g1);

/* act_bits=8 decode: the same against int8 Q8_0 activation blocks; the integer sums of
 * the type's ga_vec_dot_*_q8_0_ref. */
void ga_x8_rows8_avx512(int wtype, const void *packed, int64_t cols, const void *act, float *y, int64_t g0,
                        int64_t g1);

#endif
