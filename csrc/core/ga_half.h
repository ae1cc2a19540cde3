/* ga_half.h - portable IEEE half and bfloat16 conversions (bit-exact). */
#ifndef GA_HALF_H
#define GA_HALF_H

#include <stdint.h>
#include <string.h>

static inline float ga_bits_to_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t ga_f32_to_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* binary16 -> binary32, exact for normals, subnormals, inf and NaN. */
static inline float ga_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f) return ga_bits_to_f32(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        if (man == 0) return ga_bits_to_f32(sign);
        /* subnormal: value = man * 2^-24 */
        float v = (float)man * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    return ga_bits_to_f32(sign | ((exp + 112) << 23) | (man << 13));
}

/* binary32 -> binary16 with round-to-nearest-even (what NumPy and F16C do). */
static inline uint16_t ga_fp32_to_fp16(float f) {
    uint32_t x = ga_f32_to_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u)  /* inf or NaN (keep NaN quiet) */
        return sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 | ((absx >> 13) & 0x3ff) : 0);
    if (absx >= 0x477ff000u) return sign | 0x7c00;  /* rounds to >= 65520: overflow */
    if (absx < 0x38800000u) {                       /* result is subnormal or zero */
        if (absx < 0x33000000u) return sign;        /* < 2^-25 rounds to zero */
        uint32_t e = absx >> 23;
        uint32_t m = (absx & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e;                   /* 14..24 */
        uint32_t half = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return sign | (uint16_t)half;
    }
    uint32_t r = absx - 0x38000000u;                /* rebias exponent 127 -> 15 */
    uint32_t lsb = (r >> 13) & 1;
    r += 0xfff + lsb;
    return sign | (uint16_t)(r >> 13);
}

static inline float ga_bf16_to_fp32(uint16_t h) { return ga_bits_to_f32((uint32_t)h << 16); }

/* binary32 -> bfloat16, round-to-nearest-even, NaN kept quiet (as gguf/PyTorch). */
static inline uint16_t ga_fp32_to_bf16(float f) {
    uint32_t x = ga_f32_to_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 64);
    return (uint16_t)((x + (0x7fff + ((x >> 16) & 1))) >> 16);
}

#endif
