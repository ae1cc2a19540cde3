#version 450
// qk_rope.comp - GA_OP_QK_ROPE_STORE: per head, the optional RMSNorm (q_norm / k_norm),
// then RoPE from the host's cos/sin tables (computed per chunk in double, as the CPU
// does), in place; k heads and their v go into the token's KV page.  One workgroup per
// (token, head): heads 0..H-1 are q's, H..H+Hkv-1 k's.
#include "common.glsl"
layout(local_size_x = WG) in;
layout(std430, binding = 0) buffer Q { float q[]; };
layout(std430, binding = 1) buffer K { float k[]; };  // normed and rotated in place, as on the CPU
layout(std430, binding = 2) readonly buffer V { float v[]; };
layout(std430, binding = 3) writeonly buffer KC { float kc[]; };
layout(std430, binding = 4) writeonly buffer VC { float vc[]; };
layout(std430, binding = 5) readonly buffer Chunk { int C[]; };
layout(std430, binding = 6) readonly buffer Rope { float rope[]; };  // cos [NB][half_max], then sin
layout(std430, binding = 7) readonly buffer QN { float qn[]; };
layout(std430, binding = 8) readonly buffer KN { float kn[]; };
layout(push_constant) uniform Args {
    uint H, Hkv, d, NB, has_norm, neox, n_layer, n_blocks, tab_off, kv_layer, half_max;
    float eps;
} p;
#include "chunk.glsl"
shared float h[4096];
shared float part[WG];

void main() {
    const uint t = gl_LocalInvocationID.x, i = gl_WorkGroupID.x, hh = gl_WorkGroupID.y, d = p.d;
    const bool is_k = hh >= p.H;
    const uint KVw = p.Hkv * d, at = is_k ? i * KVw + (hh - p.H) * d : (i * p.H + hh) * d;
    float acc = 0.0;
    for (uint e = t; e < d; e += WG) {
        const float x = is_k ? k[at + e] : q[at + e];
        h[e] = x;
        acc += x * x;
    }
    part[t] = acc;
    WG_REDUCE_SUM(part, t)
    if (p.has_norm != 0u) {
        const float s = inversesqrt(part[0] / float(d) + p.eps);
        for (uint e = t; e < d; e += WG) h[e] = h[e] * s * (is_k ? kn[e] : qn[e]);
    }
    barrier();
    const uint half_d = d / 2u, c0 = i * p.half_max, s0 = p.NB * p.half_max + c0;
    for (uint e = t; e < half_d; e += WG) {  // each invocation rotates its own pairs in place
        const float c = rope[c0 + e], s = rope[s0 + e];
        const uint a = p.neox != 0u ? e : 2u * e, b = p.neox != 0u ? e + half_d : 2u * e + 1u;
        const float x0 = h[a], x1 = h[b];
        h[a] = x0 * c - x1 * s;
        h[b] = x0 * s + x1 * c;
    }
    barrier();
    if (!is_k) {
        for (uint e = t; e < d; e += WG) q[at + e] = h[e];
        return;
    }
    const uint pos = uint(C[p.NB + i]), slot = uint(C[2u * p.NB + i]);
    const uint dst = kv_row(slot, p.kv_layer, pos, p.n_layer, p.n_blocks, p.tab_off) * KVw + (hh - p.H) * d;
    for (uint e = t; e < d; e += WG) {
        k[at + e] = h[e];
        kc[dst + e] = h[e];
        vc[dst + e] = v[at + e];
    }
}
