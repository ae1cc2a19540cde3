#version 450
// get_rows.comp - dst[t] = row tokens[t] of the embedding table, dequantized, times scale
// (GA_OP_GET_ROWS), one workgroup per token.  A table wider than one storage binding is
// bound in row ranges [r0, r1), one dispatch each: a token outside this range is another
// dispatch's.
#include "common.glsl"
layout(local_size_x = WG) in;
layout(std430, binding = 0) readonly buffer Wt { uint W[]; };
layout(std430, binding = 1) readonly buffer Chunk { int C[]; };
layout(std430, binding = 2) writeonly buffer Dst { float dst[]; };
layout(push_constant) uniform Args { uint D, w_off, row_bytes, r0, r1, dst_off; float scale; } p;
#include "quant.glsl"

void main() {
    const uint i = gl_WorkGroupID.x, tok = uint(C[i]);  // tokens come first in the chunk block
    if (tok < p.r0 || tok >= p.r1) return;
    const uint row = p.w_off + (tok - p.r0) * p.row_bytes, out0 = p.dst_off + i * p.D;
    for (uint k = 4u * gl_LocalInvocationID.x; k < p.D; k += 4u * WG) {
        const vec4 v = deq4(row, k) * p.scale;
        dst[out0 + k] = v.x;
        dst[out0 + k + 1u] = v.y;
        dst[out0 + k + 2u] = v.z;
        dst[out0 + k + 3u] = v.w;
    }
}
