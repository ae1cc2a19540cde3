#version 450
// matvec.comp - y[t][col0 + r] = w[r] . x[t] for up to MV_TOKENS tokens (GA_OP_MATMUL in
// decode), straight from the stored blocks (quant.glsl).  A workgroup takes 4 rows, 16
// invocations each; every weight element is dequantized once and used for all tokens.
// Partial sums meet in shared memory: nothing assumes a subgroup size.
#include "common.glsl"
#define MV_ROWS 4u
#define MV_LANES 16u
#define MV_TOKENS 8u
layout(local_size_x = WG) in;
layout(std430, binding = 0) readonly buffer Wt { uint W[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
// K: row length; rows: rows in this dispatch; w_off: byte of its first row in W;
// x_off, y_off: first floats of token 0; y_stride: floats per token in y; col0: y column of row 0
layout(push_constant) uniform Args { uint K, rows, w_off, row_bytes, x_off, y_off, y_stride, col0, T; } p;
#include "quant.glsl"
shared float part[MV_TOKENS * WG];

void main() {
    const uint t = gl_LocalInvocationID.x, lane = t % MV_LANES;
    const uint r = (gl_WorkGroupID.x + gl_NumWorkGroups.x * gl_WorkGroupID.y) * MV_ROWS + t / MV_LANES;
    float acc[MV_TOKENS];
    for (uint n = 0u; n < MV_TOKENS; n++) acc[n] = 0.0;
    if (r < p.rows) {
        const uint row = p.w_off + r * p.row_bytes;
        for (uint k = 4u * lane; k < p.K; k += 4u * MV_LANES) {
            const vec4 w = deq4(row, k);
            for (uint n = 0u; n < p.T; n++) {
                const uint xi = p.x_off + n * p.K + k;
                acc[n] += dot(w, vec4(x[xi], x[xi + 1u], x[xi + 2u], x[xi + 3u]));
            }
        }
    }
    for (uint n = 0u; n < MV_TOKENS; n++) part[n * WG + t] = acc[n];
    barrier();
    for (uint s = MV_LANES / 2u; s > 0u; s >>= 1) {
        if (lane < s)
            for (uint n = 0u; n < p.T; n++) part[n * WG + t] += part[n * WG + t + s];
        barrier();
    }
    if (lane == 0u && r < p.rows)
        for (uint n = 0u; n < p.T; n++) y[p.y_off + n * p.y_stride + p.col0 + r] = part[n * WG + t];
}
