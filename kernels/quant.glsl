// quant.glsl - four consecutive elements of a weight row, straight from its stored blocks.
//
// The including kernel declares `uint W[]` (the weight rows, bound at an offset aligned
// to 16 bytes) and defines one TYPE_* macro; scripts/gen_spirv.py compiles one variant
// per block type.  deq4(row, k) returns elements k..k+3 (k a multiple of 4) of the row
// that starts at byte `row` of W.  Blocks are read as 32-bit words: no 8- or 16-bit
// storage feature is needed, and block sizes that are not multiples of 4 (Q4_0's 18
// bytes, Q8_0's 34, Q6_K's 210) work because every field the blocks hold starts at an
// even byte.  The layouts are ggml's (ggml-common.h), as csrc/quant/ reads them.

uint rd8(uint b) { return (W[b >> 2] >> ((b & 3u) * 8u)) & 0xFFu; }
uint rd16(uint b) { return (W[b >> 2] >> ((b & 2u) * 8u)) & 0xFFFFu; }  // b even
uint rd32(uint b) { return (b & 3u) == 0u ? W[b >> 2] : rd16(b) | (rd16(b + 2u) << 16); }  // b even
float f16at(uint b) { return unpackHalf2x16(rd16(b)).x; }
vec4 nib_lo(uint q) { return vec4(q & 15u, (q >> 8) & 15u, (q >> 16) & 15u, q >> 24 & 15u); }
vec4 nib_hi(uint q) { return nib_lo(q >> 4); }
vec4 bits4(uint h) { return vec4(h & 1u, (h >> 1) & 1u, (h >> 2) & 1u, (h >> 3) & 1u); }
vec4 crumbs4(uint q, uint shift) {  // 2-bit fields at shift in each byte of q
    q >>= shift;
    return vec4(q & 3u, (q >> 8) & 3u, (q >> 16) & 3u, (q >> 24) & 3u);
}
vec4 bytebits(uint q, uint shift) {  // bit shift of each byte of q
    q >>= shift;
    return vec4(q & 1u, (q >> 8) & 1u, (q >> 16) & 1u, (q >> 24) & 1u);
}
vec4 int8x4(uint q) {
    return vec4(bitfieldExtract(int(q), 0, 8), bitfieldExtract(int(q), 8, 8), bitfieldExtract(int(q), 16, 8),
                bitfieldExtract(int(q), 24, 8));
}

// Q4_K and Q5_K: the 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes at s
void scale_min_k4(uint s, uint j, out float sc, out float m) {
    if (j < 4u) {
        sc = float(rd8(s + j) & 63u);
        m = float(rd8(s + j + 4u) & 63u);
    } else {
        sc = float((rd8(s + j + 4u) & 15u) | ((rd8(s + j - 4u) >> 6) << 4));
        m = float((rd8(s + j + 4u) >> 4) | ((rd8(s + j) >> 6) << 4));
    }
}

#if defined(TYPE_F32)
vec4 deq4(uint row, uint k) {
    const uint i = (row >> 2) + k;
    return vec4(uintBitsToFloat(W[i]), uintBitsToFloat(W[i + 1u]), uintBitsToFloat(W[i + 2u]),
                uintBitsToFloat(W[i + 3u]));
}
#elif defined(TYPE_F16)
vec4 deq4(uint row, uint k) {
    const uint b = row + 2u * k;
    return vec4(unpackHalf2x16(rd32(b)), unpackHalf2x16(rd32(b + 4u)));
}
#elif defined(TYPE_BF16)
vec4 deq4(uint row, uint k) {
    const uint b = row + 2u * k, lo = rd32(b), hi = rd32(b + 4u);
    return vec4(uintBitsToFloat(lo << 16), uintBitsToFloat(lo & 0xFFFF0000u), uintBitsToFloat(hi << 16),
                uintBitsToFloat(hi & 0xFFFF0000u));
}
#elif defined(TYPE_Q4_0)  // 32 elements: d, 16 bytes of nibbles (j and j + 16 share byte j)
vec4 deq4(uint row, uint k) {
    const uint base = row + (k >> 5) * 18u, j = k & 31u;
    const uint q = rd32(base + 2u + (j & 15u));
    return ((j < 16u ? nib_lo(q) : nib_hi(q)) - 8.0) * f16at(base);
}
#elif defined(TYPE_Q4_1)  // d, m, 16 bytes of nibbles
vec4 deq4(uint row, uint k) {
    const uint base = row + (k >> 5) * 20u, j = k & 31u;
    const uint q = rd32(base + 4u + (j & 15u));
    return (j < 16u ? nib_lo(q) : nib_hi(q)) * f16at(base) + f16at(base + 2u);
}
#elif defined(TYPE_Q5_0)  // d, 32 high bits (bit j for element j), 16 bytes of nibbles
vec4 deq4(uint row, uint k) {
    const uint base = row + (k >> 5) * 22u, j = k & 31u;
    const uint q = rd32(base + 6u + (j & 15u)), h = rd32(base + 2u) >> j;
    return ((j < 16u ? nib_lo(q) : nib_hi(q)) + 16.0 * bits4(h) - 16.0) * f16at(base);
}
#elif defined(TYPE_Q5_1)  // d, m, 32 high bits, 16 bytes of nibbles
vec4 deq4(uint row, uint k) {
    const uint base = row + (k >> 5) * 24u, j = k & 31u;
    const uint q = rd32(base + 8u + (j & 15u)), h = rd32(base + 4u) >> j;
    return ((j < 16u ? nib_lo(q) : nib_hi(q)) + 16.0 * bits4(h)) * f16at(base) + f16at(base + 2u);
}
#elif defined(TYPE_Q8_0)  // d, 32 int8
vec4 deq4(uint row, uint k) {
    const uint base = row + (k >> 5) * 34u, j = k & 31u;
    return int8x4(rd32(base + 2u + j)) * f16at(base);
}
#elif defined(TYPE_Q4_K)  // 256: d, dmin, 12 bytes of scales/mins, 128 bytes of nibbles
vec4 deq4(uint row, uint k) {
    const uint base = row + (k >> 8) * 144u, j = k & 255u, c = j >> 6, hi = (j >> 5) & 1u;
    float sc, m;
    scale_min_k4(base + 4u, 2u * c + hi, sc, m);
    const uint q = rd32(base + 16u + 32u * c + (j & 31u));
    return f16at(base) * sc * (hi == 0u ? nib_lo(q) : nib_hi(q)) - f16at(base + 2u) * m;
}
#elif defined(TYPE_Q5_K)  // 256: d, dmin, 12 bytes of scales, 32 bytes of high bits, 128 of nibbles
vec4 deq4(uint row, uint k) {
    const uint base = row + (k >> 8) * 176u, j = k & 255u, c = j >> 6, hi = (j >> 5) & 1u, is = 2u * c + hi;
    float sc, m;
    scale_min_k4(base + 4u, is, sc, m);
    const uint q = rd32(base + 48u + 32u * c + (j & 31u)), h = rd32(base + 16u + (j & 31u));
    return f16at(base) * sc * ((hi == 0u ? nib_lo(q) : nib_hi(q)) + 16.0 * bytebits(h, is)) -
           f16at(base + 2u) * m;
}
#elif defined(TYPE_Q6_K)  // 256: 128 bytes of low nibbles, 64 of high 2 bits, 16 int8 scales, d
vec4 deq4(uint row, uint k) {
    const uint base = row + (k >> 8) * 210u, j = k & 255u, h = j >> 7, r = j & 127u, qq = r >> 5, l = r & 31u;
    const uint ql = rd32(base + 64u * h + l + 32u * (qq & 1u)), qh = rd32(base + 128u + 32u * h + l);
    const float sc = float(bitfieldExtract(int(rd8(base + 192u + 8u * h + (l >> 4) + 2u * qq)), 0, 8));
    const vec4 lo = qq < 2u ? nib_lo(ql) : nib_hi(ql);
    return f16at(base + 208u) * sc * (lo + 16.0 * crumbs4(qh, 2u * qq) - 32.0);
}
#else
#error "define one TYPE_* before including quant.glsl"
#endif
