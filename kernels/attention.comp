#version 450
// attention.comp - GA_OP_ATTENTION: out[t][h] = softmax(q k^T * scale, softcap, causal,
// window) v over the KV pages of the token's sequence, one workgroup per (token, head).
// Keys go in tiles of 128: each invocation scores two of them into shared memory, the
// tile's max and sum rescale the running ones (the online softmax of ga_attention.c),
// and each invocation accumulates its own dimensions of the value sum (d <= 512).
#include "common.glsl"
#define TILE 128u
#define MAX_DIMS 8u  // per invocation: head_dim <= 8 * WG
layout(local_size_x = WG) in;
layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer KC { float kc[]; };
layout(std430, binding = 2) readonly buffer VC { float vc[]; };
layout(std430, binding = 3) readonly buffer Chunk { int C[]; };
layout(std430, binding = 4) writeonly buffer Out { float o[]; };
layout(push_constant) uniform Args {
    uint H, Hkv, d, NB, window, kv_layer, n_layer, n_blocks, tab_off;
    float scale, softcap;
} p;
#include "chunk.glsl"
shared float qs[8u * WG];
shared float sc[TILE];
shared uint rows[TILE];
shared float part[WG];

void main() {
    const uint t = gl_LocalInvocationID.x, i = gl_WorkGroupID.x, h = gl_WorkGroupID.y, d = p.d;
    const uint hk = h / (p.H / p.Hkv), KVw = p.Hkv * d;
    const uint pos = uint(C[p.NB + i]), slot = uint(C[2u * p.NB + i]);
    const uint first = p.window > 0u && pos + 1u > p.window ? pos + 1u - p.window : 0u;
    for (uint e = t; e < d; e += WG) qs[e] = q[(i * p.H + h) * d + e];
    float acc[MAX_DIMS];
    for (uint c = 0u; c < MAX_DIMS; c++) acc[c] = 0.0;
    float m = -3.0e38, l = 0.0;
    barrier();
    for (uint k0 = first; k0 <= pos; k0 += TILE) {
        const uint n = min(TILE, pos + 1u - k0);
        float tmax = -3.0e38;
        for (uint j = t; j < TILE; j += WG) {
            float s = -3.0e38;
            if (j < n) {
                const uint row = kv_row(slot, p.kv_layer, k0 + j, p.n_layer, p.n_blocks, p.tab_off) * KVw + hk * d;
                rows[j] = row;
                s = 0.0;
                for (uint e = 0u; e < d; e++) s += qs[e] * kc[row + e];
                s *= p.scale;
                if (p.softcap > 0.0) s = p.softcap * tanh(s / p.softcap);
                tmax = max(tmax, s);
            }
            sc[j] = s;
        }
        part[t] = tmax;
        barrier();
        for (uint s_ = WG / 2u; s_ > 0u; s_ >>= 1) {
            if (t < s_) part[t] = max(part[t], part[t + s_]);
            barrier();
        }
        const float m_new = max(m, part[0]), corr = exp(m - m_new);
        barrier();  // everyone has read part[0]
        float psum = 0.0;
        for (uint j = t; j < n; j += WG) {
            const float e_ = exp(sc[j] - m_new);
            sc[j] = e_;
            psum += e_;
        }
        part[t] = psum;
        WG_REDUCE_SUM(part, t)
        l = l * corr + part[0];
        m = m_new;
        for (uint c = 0u; c < MAX_DIMS; c++) {
            const uint e = t + c * WG;
            if (e >= d) break;
            float a = acc[c] * corr;
            for (uint j = 0u; j < n; j++) a += sc[j] * vc[rows[j] + e];
            acc[c] = a;
        }
        barrier();  // sc, rows and part are rewritten by the next tile
    }
    for (uint c = 0u; c < MAX_DIMS; c++) {
        const uint e = t + c * WG;
        if (e < d) o[(i * p.H + h) * d + e] = acc[c] / l;
    }
}
