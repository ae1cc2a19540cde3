/* ga_blocks.h - byte layouts of the ggml block formats (all little-endian).
 *
 * Each struct is exactly the on-disk block; the static asserts pin the sizes
 * to the type table.  Halves are stored as raw uint16_t bits (ga_half.h).
 */
#ifndef GA_BLOCKS_H
#define GA_BLOCKS_H

#include <stdint.h>

#define GA_QK 32   /* elements per block of the legacy formats */
#define GA_QK_K 256 /* elements per super-block of the K formats */
#define GA_K_SCALE_SIZE 12

typedef struct { uint16_t d; uint8_t qs[GA_QK / 2]; } ga_block_q4_0;
typedef struct { uint16_t d, m; uint8_t qs[GA_QK / 2]; } ga_block_q4_1;
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[GA_QK / 2]; } ga_block_q5_0;
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[GA_QK / 2]; } ga_block_q5_1;
typedef struct { uint16_t d; int8_t qs[GA_QK]; } ga_block_q8_0;
typedef struct { uint16_t d, s; int8_t qs[GA_QK]; } ga_block_q8_1;

typedef struct {
    uint8_t scales[GA_QK_K / 16]; /* low nibble scale, high nibble min */
    uint8_t qs[GA_QK_K / 4];
    uint16_t d, dmin;
} ga_block_q2_K;
typedef struct {
    uint8_t hmask[GA_QK_K / 8];
    uint8_t qs[GA_QK_K / 4];
    uint8_t scales[12];
    uint16_t d;
} ga_block_q3_K;
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[GA_K_SCALE_SIZE];
    uint8_t qs[GA_QK_K / 2];
} ga_block_q4_K;
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[GA_K_SCALE_SIZE];
    uint8_t qh[GA_QK_K / 8];
    uint8_t qs[GA_QK_K / 2];
} ga_block_q5_K;
typedef struct {
    uint8_t ql[GA_QK_K / 2];
    uint8_t qh[GA_QK_K / 4];
    int8_t scales[GA_QK_K / 16];
    uint16_t d;
} ga_block_q6_K;
typedef struct {
    float d;
    int8_t qs[GA_QK_K];
    int16_t bsums[GA_QK_K / 16]; /* sums of each group of 16 qs, for the K dot products */
} ga_block_q8_K;

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K super-block,
 * packed into 12 bytes (see gemma3_gguf_facts.md section 4):
 * bytes 0-7 hold sub-blocks 0-3 and the high bits of 4-7, bytes 8-11 their low bits. */
static inline void ga_k4_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

_Static_assert(sizeof(ga_block_q4_0) == 18, "q4_0 size");
_Static_assert(sizeof(ga_block_q4_1) == 20, "q4_1 size");
_Static_assert(sizeof(ga_block_q5_0) == 22, "q5_0 size");
_Static_assert(sizeof(ga_block_q5_1) == 24, "q5_1 size");
_Static_assert(sizeof(ga_block_q8_0) == 34, "q8_0 size");
_Static_assert(sizeof(ga_block_q8_1) == 36, "q8_1 size");
_Static_assert(sizeof(ga_block_q2_K) == 84, "q2_K size");
_Static_assert(sizeof(ga_block_q3_K) == 110, "q3_K size");
_Static_assert(sizeof(ga_block_q4_K) == 144, "q4_K size");
_Static_assert(sizeof(ga_block_q5_K) == 176, "q5_K size");
_Static_assert(sizeof(ga_block_q6_K) == 210, "q6_K size");
_Static_assert(sizeof(ga_block_q8_K) == 292, "q8_K size");

#endif
