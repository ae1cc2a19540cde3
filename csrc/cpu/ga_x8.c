/* ga_x8.c - interleaving Q4_0 / Q5_0 rows in groups of 8 (layout in ga_x8.h). */
#include <string.h>

#include "ga_blocks.h"
#include "ga_types.h"
#include "ga_x8.h"

size_t ga_x8_block_bytes(int wtype) {
    return wtype == GA_TYPE_Q4_0 ? 144 : wtype == GA_TYPE_Q5_0 ? 176 : 0;
}

int ga_x8_applies(int wtype, int64_t rows, int64_t cols) {
    return ga_x8_block_bytes(wtype) && rows > 0 && rows % GA_X8_ROWS == 0 && cols > 0 && cols % GA_QK == 0 &&
           cols <= GA_X8_MAX_COLS;
}

size_t ga_x8_bytes(int wtype, int64_t rows, int64_t cols) {
    return (size_t)(rows / GA_X8_ROWS) * (size_t)(cols / GA_QK) * ga_x8_block_bytes(wtype);
}

static uint32_t load32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

void ga_x8_pack(int wtype, const void *w, int64_t cols, int64_t g0, int64_t g1, void *out) {
    const int64_t nb = cols / GA_QK;
    const int q5 = wtype == GA_TYPE_Q5_0;
    const size_t in_bytes = q5 ? sizeof(ga_block_q5_0) : sizeof(ga_block_q4_0);
    const size_t out_bytes = ga_x8_block_bytes(wtype);
    const uint32_t lo = 0x0F0F0F0Fu;
    uint8_t *o = (uint8_t *)out + (size_t)(g0 * nb) * out_bytes;
    for (int64_t g = g0; g < g1; g++) {
        for (int64_t b = 0; b < nb; b++, o += out_bytes) {
            uint8_t *qs = o + 16;
            uint32_t mask[8] = {0};
            for (int i = 0; i < GA_X8_ROWS; i++) {
                const uint8_t *blk = (const uint8_t *)w + ((size_t)(g * GA_X8_ROWS + i) * (size_t)nb + (size_t)b) * in_bytes;
                const uint8_t *q = q5 ? blk + offsetof(ga_block_q5_0, qs) : blk + offsetof(ga_block_q4_0, qs);
                memcpy(o + 2 * i, blk, 2); /* d leads both formats */
                /* row i owns byte lanes 4i..4i+3 of every 32-byte pair p: elements 8p..8p+3 in
                 * the low nibbles, 8p+4..8p+7 in the high ones.  Elements 0..15 are the low
                 * nibbles of qs[0..15], elements 16..31 their high nibbles. */
                for (int p = 0; p < 2; p++) {
                    const uint32_t a = load32(q + 8 * p), c = load32(q + 8 * p + 4);
                    const uint32_t w_lo = (a & lo) | (c & lo) << 4;        /* elements 8p.. */
                    const uint32_t w_hi = (a >> 4 & lo) | (c & ~lo);        /* elements 16 + 8p.. */
                    memcpy(qs + 32 * p + 4 * i, &w_lo, 4);
                    memcpy(qs + 32 * (p + 2) + 4 * i, &w_hi, 4);
                }
                if (q5) {
                    const uint32_t fifth = load32(blk + offsetof(ga_block_q5_0, qh));
                    for (int k = 0; k < 8; k++) mask[k] |= (fifth >> (4 * k) & 0xF) << (4 * i);
                }
            }
            if (q5) memcpy(o + 144, mask, sizeof mask);
        }
    }
}
