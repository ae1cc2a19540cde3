/* ga_npu_sram.h - the scratchpad (SRAM) an NPU computes in, and matmul tile plans that fit it.
 *
 * A device's matrix engine reads its operands from a small on-chip memory: 8 MiB of VTCM on
 * Hexagon, 512 KB memory tiles on XDNA2.  Weights are copied into it tile by tile (DMA),
 * double-buffered so the next tile arrives while one computes.  Like llama.cpp's Hexagon
 * backend (htp_mm_*_vtcm_layout_build), every matmul gets a layout at compile time: the input
 * rows, two weight tiles and the output tile; a layout that cannot fit is an error, never an
 * overflow.
 */
#ifndef GA_NPU_SRAM_H
#define GA_NPU_SRAM_H

#include <stdint.h>

#include "ga_common.h"

#define GA_NPU_TILE_ALIGN 32 /* tile rows: one 32-row HMX tile's height */

typedef struct {
    int64_t tile_rows; /* weight rows per tile */
    uint64_t bytes;    /* the layout: T input rows + two weight tiles + T output rows of a tile */
} ga_npu_tile_plan;

/* The largest tile of a weight of rows x cols (row_bytes a row) for T input rows whose
 * layout fits sram bytes: tile rows a multiple of 32 unless the whole weight fits.
 * GA_ERR_DEVICE_MEMORY when not even the smallest tile fits; *need is then its layout. */
ga_status ga_npu_plan_matmul(uint64_t sram, int T, int64_t rows, int64_t cols, uint64_t row_bytes,
                             ga_npu_tile_plan *out, uint64_t *need, ga_error *err);

#endif
