#version 450
// matmul.comp - y[t][col0 + r] = w[r] . x[t] in tiles of 64 rows x 32 tokens (GA_OP_MATMUL
// in prefill).  Each step dequantizes a 64 x 32 tile of weights (quant.glsl) and loads a
// 32 x 32 tile of activations into shared memory (12.7 KiB, under lavapipe's 32 KiB);
// each invocation then accumulates 4 rows x 8 tokens.  The weights stay quantized in
// device memory: only the tile in shared memory is ever f32.
#include "common.glsl"
#define BM 64u
#define BN 32u
#define BK 32u
layout(local_size_x = WG) in;
layout(std430, binding = 0) readonly buffer Wt { uint W[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Args { uint K, rows, w_off, row_bytes, x_off, y_off, y_stride, col0, T; } p;
#include "quant.glsl"
shared float ws[BM * (BK + 1u)];
shared float xs[BN * (BK + 1u)];

void main() {
    const uint t = gl_LocalInvocationID.x, tr = t % 16u, tc = t / 16u;
    const uint r0 = gl_WorkGroupID.x * BM, n0 = gl_WorkGroupID.y * BN;
    float acc[4][8];
    for (uint i = 0u; i < 4u; i++)
        for (uint j = 0u; j < 8u; j++) acc[i][j] = 0.0;
    for (uint k0 = 0u; k0 < p.K; k0 += BK) {
        for (uint e = t; e < BM * BK / 4u; e += WG) {  // the weight tile, 4 elements at a time
            const uint r = e / (BK / 4u), kk = (e % (BK / 4u)) * 4u;
            vec4 v = vec4(0.0);
            if (r0 + r < p.rows && k0 + kk < p.K) v = deq4(p.w_off + (r0 + r) * p.row_bytes, k0 + kk);
            const uint s = r * (BK + 1u) + kk;
            ws[s] = v.x; ws[s + 1u] = v.y; ws[s + 2u] = v.z; ws[s + 3u] = v.w;
        }
        for (uint e = t; e < BN * BK; e += WG) {  // the activation tile
            const uint n = e / BK, kk = e % BK;
            xs[n * (BK + 1u) + kk] = n0 + n < p.T && k0 + kk < p.K ? x[p.x_off + (n0 + n) * p.K + k0 + kk] : 0.0;
        }
        barrier();
        for (uint kk = 0u; kk < BK; kk++) {
            float a[4], b[8];
            for (uint i = 0u; i < 4u; i++) a[i] = ws[(tr + 16u * i) * (BK + 1u) + kk];
            for (uint j = 0u; j < 8u; j++) b[j] = xs[(tc + 4u * j) * (BK + 1u) + kk];
            for (uint i = 0u; i < 4u; i++)
                for (uint j = 0u; j < 8u; j++) acc[i][j] += a[i] * b[j];
        }
        barrier();
    }
    for (uint i = 0u; i < 4u; i++)
        for (uint j = 0u; j < 8u; j++) {
            const uint r = r0 + tr + 16u * i, n = n0 + tc + 4u * j;
            if (r < p.rows && n < p.T) y[p.y_off + n * p.y_stride + p.col0 + r] = acc[i][j];
        }
}
