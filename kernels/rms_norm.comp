#version 450
// rms_norm.comp - dst[row] = src[row] / sqrt(mean(src[row]^2) + eps) * w, one workgroup per row
// (GA_OP_RMS_NORM; also the post norm of GA_OP_RESIDUAL_ADD, in place).
#include "common.glsl"
layout(local_size_x = WG) in;
layout(std430, binding = 0) readonly buffer Src { float src[]; };
layout(std430, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, binding = 2) buffer Dst { float dst[]; };
layout(push_constant) uniform Args { uint width, src_off, dst_off; float eps; } p;
shared float part[WG];

void main() {
    const uint t = gl_LocalInvocationID.x, row = gl_WorkGroupID.x;
    const uint s0 = p.src_off + row * p.width, d0 = p.dst_off + row * p.width;
    float acc = 0.0;
    for (uint i = t; i < p.width; i += WG) acc += src[s0 + i] * src[s0 + i];
    part[t] = acc;
    WG_REDUCE_SUM(part, t)
    const float scale = inversesqrt(part[0] / float(p.width) + p.eps);
    // in place (src = dst) is safe: every read of the sum is done, and each invocation
    // reads and writes only its own elements from here on
    for (uint i = t; i < p.width; i += WG) dst[d0 + i] = src[s0 + i] * scale * w[i];
}
