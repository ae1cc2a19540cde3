#version 450
// matvec_rows.comp - matvec.comp for CPU devices (lavapipe): one invocation per row, no
// shared memory and no barriers (each barrier is a coroutine switch in llvmpipe; this form
// measured 6x faster there).  The same push constants and bindings as matvec.comp.
#include "common.glsl"
#define MV_TOKENS 8u
layout(local_size_x = WG) in;
layout(std430, binding = 0) readonly buffer Wt { uint W[]; };
layout(std430, binding = 1) readonly buffer X { vec4 x4[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Args { uint K, rows, w_off, row_bytes, x_off, y_off, y_stride, col0, T; } p;
#include "quant.glsl"

void main() {
    const uint r = (gl_WorkGroupID.x + gl_NumWorkGroups.x * gl_WorkGroupID.y) * WG + gl_LocalInvocationID.x;
    if (r >= p.rows) return;
    const uint row = p.w_off + r * p.row_bytes;
    float acc[MV_TOKENS];
    for (uint n = 0u; n < MV_TOKENS; n++) acc[n] = 0.0;
    for (uint k = 0u; k < p.K; k += 4u) {
        const vec4 w = deq4(row, k);
        for (uint n = 0u; n < p.T; n++) acc[n] += dot(w, x4[(p.x_off + n * p.K + k) >> 2]);
    }
    for (uint n = 0u; n < p.T; n++) y[p.y_off + n * p.y_stride + p.col0 + r] = acc[n];
}
