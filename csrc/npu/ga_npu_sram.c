/* ga_npu_sram.c - matmul tile plans in the scratchpad (ga_npu_sram.h). */
#include "ga_npu_sram.h"

static uint64_t layout(int T, int64_t cols, uint64_t row_bytes, int64_t tile) {
    return (uint64_t)T * (uint64_t)cols * 4 + 2 * (uint64_t)tile * row_bytes + (uint64_t)T * (uint64_t)tile * 4;
}

ga_status ga_npu_plan_matmul(uint64_t sram, int T, int64_t rows, int64_t cols, uint64_t row_bytes,
                             ga_npu_tile_plan *out, uint64_t *need, ga_error *err) {
    if (T < 1 || rows < 1 || cols < 1 || !row_bytes) return ga_fail(err, GA_ERR_ARG, "a matmul with no rows");
    const int64_t least = rows < GA_NPU_TILE_ALIGN ? rows : GA_NPU_TILE_ALIGN;
    *need = layout(T, cols, row_bytes, least);
    if (*need > sram)
        return ga_fail(err, GA_ERR_DEVICE_MEMORY, "a %d x %lld matmul's smallest layout (%lld-row tiles) needs %llu "
                       "bytes of scratchpad", T, (long long)cols, (long long)least, (unsigned long long)*need);
    const uint64_t fixed = (uint64_t)T * (uint64_t)cols * 4, per_row = 2 * row_bytes + (uint64_t)T * 4;
    int64_t tile = (int64_t)((sram - fixed) / per_row);
    if (tile >= rows) tile = rows;
    else tile -= tile % GA_NPU_TILE_ALIGN;
    if (tile < least) tile = least;
    out->tile_rows = tile;
    out->bytes = layout(T, cols, row_bytes, tile);
    return GA_OK;
}
