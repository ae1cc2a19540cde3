/* ga_utf8.c - strict UTF-8 validation (see ga_utf8.h). */
#include "ga_utf8.h"

/* Length of the sequence starting at s[i] if it is well formed, else 0. */
static uint64_t sequence_len(const uint8_t *s, uint64_t i, uint64_t n) {
    uint8_t b = s[i];
    if (b < 0x80) return 1;
    uint64_t len;
    uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (b >= 0xC2 && b <= 0xDF) len = 2;
    else if (b == 0xE0) { len = 3; lo = 0xA0; }           /* no overlong */
    else if (b == 0xED) { len = 3; hi = 0x9F; }           /* no surrogates */
    else if (b >= 0xE1 && b <= 0xEF) len = 3;
    else if (b == 0xF0) { len = 4; lo = 0x90; }           /* no overlong */
    else if (b >= 0xF1 && b <= 0xF3) len = 4;
    else if (b == 0xF4) { len = 4; hi = 0x8F; }           /* <= U+10FFFF */
    else return 0;                                        /* C0, C1, F5..FF, stray continuation */
    if (n - i < len) return 0;
    if (s[i + 1] < lo || s[i + 1] > hi) return 0;
    for (uint64_t k = 2; k < len; k++)
        if ((s[i + k] & 0xC0) != 0x80) return 0;
    return len;
}

int ga_utf8_valid(const uint8_t *s, uint64_t n, uint64_t *bad_at) {
    uint64_t i = 0;
    while (i < n) {
        uint64_t len = sequence_len(s, i, n);
        if (len == 0) {
            if (bad_at) *bad_at = i;
            return 0;
        }
        i += len;
    }
    return 1;
}
