/* ga_utf8.h - strict UTF-8 validation for names read from model files.
 *
 * Strict means RFC 3629: no overlong forms, no UTF-16 surrogates, nothing
 * above U+10FFFF.  NUL bytes are valid UTF-8 and are accepted.
 */
#ifndef GA_UTF8_H
#define GA_UTF8_H

#include <stdint.h>

/* 1 if s[0..n) is valid UTF-8, else 0; *bad_at (if non-NULL) gets the index
 * of the first byte of the offending sequence. */
int ga_utf8_valid(const uint8_t *s, uint64_t n, uint64_t *bad_at);

#endif
