// chunk.glsl - the chunk block: what the host writes once per eval chunk and copies to the
// device before the chunk's first op (ga_backend_vk.c, chunk_layout).  Int words:
//   [0, NB)          token ids        [NB, 2 NB)   positions
//   [2 NB, 3 NB)     each token's slot: its sequence's row of block tables
//   [tab_off, ...)   block tables [slot][layer][n_blocks]: the KV page of each block of 128
//                    positions (-1 = none; the host has checked every page an op reads)
// The including kernel binds it as `int C[]`.
#define KV_PAGE 128u

// the row of position pos in the KV page buffers of layer, for the token in slot
uint kv_row(uint slot, uint layer, uint pos, uint n_layer, uint n_blocks, uint tab_off) {
    const int page = C[tab_off + (slot * n_layer + layer) * n_blocks + pos / KV_PAGE];
    return uint(page) * KV_PAGE + pos % KV_PAGE;
}
