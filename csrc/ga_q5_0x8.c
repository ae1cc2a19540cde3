/* ga_q5_0x8.c - interleaving Q5_0 rows in groups of 8 (layout in ga_q5_0x8.h). */
#include <string.h>

#include "ga_blocks.h"
#include "ga_q5_0x8.h"
#include "ga_types.h"

int ga_q5_0x8_applies(int wtype, int64_t rows, int64_t cols) {
    return wtype == GA_TYPE_Q5_0 && rows > 0 && rows % GA_Q5_0X8_ROWS == 0 && cols > 0 && cols % GA_QK == 0 &&
           cols <= GA_Q5_0X8_MAX_COLS;
}

size_t ga_q5_0x8_bytes(int64_t rows, int64_t cols) {
    return (size_t)(rows / GA_Q5_0X8_ROWS) * (size_t)(cols / GA_QK) * GA_Q5_0X8_BLOCK_BYTES;
}

static uint32_t load32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

void ga_q5_0x8_pack(const void *w, int64_t cols, int64_t g0, int64_t g1, void *out) {
    const int64_t nb = cols / GA_QK;
    const ga_block_q5_0 *rows = w;
    const uint32_t lo = 0x0F0F0F0Fu;
    uint8_t *o = (uint8_t *)out + (size_t)(g0 * nb) * GA_Q5_0X8_BLOCK_BYTES;
    for (int64_t g = g0; g < g1; g++) {
        for (int64_t b = 0; b < nb; b++, o += GA_Q5_0X8_BLOCK_BYTES) {
            uint8_t *qs = o + 16, *qh = o + 144;
            uint32_t mask[8] = {0};
            for (int i = 0; i < GA_Q5_0X8_ROWS; i++) {
                const ga_block_q5_0 *blk = &rows[(g * GA_Q5_0X8_ROWS + i) * nb + b];
                memcpy(o + 2 * i, &blk->d, 2);
                /* row i owns byte lanes 4i..4i+3 of every 32-byte pair p: elements 8p..8p+3 in
                 * the low nibbles, 8p+4..8p+7 in the high ones.  Elements 0..15 are the low
                 * nibbles of qs[0..15], elements 16..31 their high nibbles. */
                for (int p = 0; p < 2; p++) {
                    const uint32_t a = load32(blk->qs + 8 * p), c = load32(blk->qs + 8 * p + 4);
                    const uint32_t w_lo = (a & lo) | (c & lo) << 4;        /* elements 8p.. */
                    const uint32_t w_hi = (a >> 4 & lo) | (c & ~lo);        /* elements 16 + 8p.. */
                    memcpy(qs + 32 * p + 4 * i, &w_lo, 4);
                    memcpy(qs + 32 * (p + 2) + 4 * i, &w_hi, 4);
                }
                const uint32_t fifth = load32(blk->qh);
                for (int k = 0; k < 8; k++) mask[k] |= (fifth >> (4 * k) & 0xF) << (4 * i);
            }
            memcpy(qh, mask, sizeof mask);
        }
    }
}
