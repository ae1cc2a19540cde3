/* ga_tok_bpe.c - GPT-2 style byte-level BPE ("gpt2" vocabularies), as
 * llama.cpp's unicode_regex_split + llm_tokenizer_bpe_session.
 *
 * 1. Decode the fragment to code points (an invalid byte becomes U+FFFD, one
 *    byte at a time, as unicode_cpts_from_utf8).
 * 2. Pre-split into words: for "smollm" first every number code point alone
 *    (regex \p{N}), then GPT-2's regex
 *      's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *    hand-coded exactly as unicode_regex_split_custom_gpt2.
 * 3. Each word's UTF-8 bytes are mapped through bytes_to_unicode, split into
 *    characters, and pairs merged lowest merge rank first (ties: leftmost),
 *    with a heap: O(n log n) per word.
 * 4. A final symbol that is not a piece becomes its single bytes' pieces
 *    (dropped when absent, as llama.cpp does).
 */
#include <stdlib.h>
#include <string.h>

#include "ga_tok_internal.h"

/* ---- UTF-8, with llama.cpp's exact leniency ---- */

/* unicode_cpt_from_utf8: returns 0xFFFD and advances one byte on error. */
static uint32_t utf8_next(const unsigned char *s, size_t len, size_t *i) {
    size_t o = *i;
    unsigned char c = s[o];
    if (!(c & 0x80)) {
        *i = o + 1;
        return c;
    }
#define CONT(k) (o + (k) < len && (s[o + (k)] & 0xC0) == 0x80)
    if ((c & 0x40) && !(c & 0x20) && CONT(1)) {
        *i = o + 2;
        return ((uint32_t)(c & 0x1F) << 6) | (s[o + 1] & 0x3F);
    }
    if ((c & 0x60) == 0x60 && !(c & 0x10) && CONT(1) && CONT(2)) {
        *i = o + 3;
        return ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[o + 1] & 0x3F) << 6) | (s[o + 2] & 0x3F);
    }
    if ((c & 0x70) == 0x70 && !(c & 0x08) && CONT(1) && CONT(2) && CONT(3)) {
        uint32_t cpt = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[o + 1] & 0x3F) << 12) |
                       ((uint32_t)(s[o + 2] & 0x3F) << 6) | (s[o + 3] & 0x3F);
        *i = o + 4;
        /* llama.cpp would throw re-encoding a code point above U+10FFFF */
        return cpt <= 0x10FFFF ? cpt : 0xFFFD;
    }
#undef CONT
    *i = o + 1;
    return 0xFFFD;
}

static int utf8_put(uint32_t cpt, unsigned char *out) {
    if (cpt <= 0x7F) {
        out[0] = (unsigned char)cpt;
        return 1;
    }
    if (cpt <= 0x7FF) {
        out[0] = (unsigned char)(0xC0 | (cpt >> 6));
        out[1] = (unsigned char)(0x80 | (cpt & 0x3F));
        return 2;
    }
    if (cpt <= 0xFFFF) {
        out[0] = (unsigned char)(0xE0 | (cpt >> 12));
        out[1] = (unsigned char)(0x80 | ((cpt >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cpt & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cpt >> 18));
    out[1] = (unsigned char)(0x80 | ((cpt >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cpt >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cpt & 0x3F));
    return 4;
}

/* Unicode White_Space, llama.cpp's unicode_set_whitespace. */
static int is_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

/* ---- setup ---- */

ga_status ga_tok_bpe_init(ga_tokenizer *t, const ga_tokenizer_params *p, ga_error *err) {
    /* GPT-2 bytes_to_unicode: printable Latin-1 maps to itself, the rest to 256+n */
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        t->byte_to_cpt[b] = printable ? b : 256 + n++;
    }
    for (int i = 0; i < 512; i++) t->cpt_to_byte[i] = -1;
    for (int b = 0; b < 256; b++) t->cpt_to_byte[t->byte_to_cpt[b]] = (int16_t)b;

    if (t->pre != GA_TOK_PRE_SMOLLM && t->pre != GA_TOK_PRE_GPT2)
        return ga_fail(err, GA_ERR_UNSUPPORTED, "BPE pre-tokenizer %d not supported", (int)t->pre);
    if (p->n_merges < 0 || p->n_merges > INT32_MAX - 1 || (p->n_merges && (!p->merges || !p->merge_lens)))
        return ga_fail(err, GA_ERR_ARG, "a 'gpt2' vocabulary needs its merges");
    uint64_t total = 0;
    for (int64_t i = 0; i < p->n_merges; i++) total += p->merge_lens[i];
    t->n_merges = p->n_merges;
    t->merge_blob = malloc(total ? total : 1);
    t->merge_offs = malloc((size_t)(p->n_merges + 1) * sizeof *t->merge_offs);
    if (!t->merge_blob || !t->merge_offs) return ga_fail(err, GA_ERR_NOMEM, "out of memory copying merges");
    uint64_t at = 0;
    for (int64_t i = 0; i < p->n_merges; i++) {
        t->merge_offs[i] = at;
        if (p->merge_lens[i]) memcpy(t->merge_blob + at, p->merges[i], p->merge_lens[i]);
        at += p->merge_lens[i];
    }
    t->merge_offs[p->n_merges] = at;
    int32_t d1, d2; /* a repeated merge keeps its first rank, as std::map::emplace */
    if (ga_strmap_build(&t->merges, t->merge_blob, t->merge_offs, p->n_merges, 1, &d1, &d2) != GA_OK)
        return ga_fail(err, GA_ERR_NOMEM, "out of memory indexing merges");
    return GA_OK;
}

/* ---- pre-tokenizer: words as code point ranges ---- */

typedef struct {
    int64_t *v; /* word end offsets (exclusive), in code points */
    int64_t n, cap;
} ends_vec;

static int ends_push(ends_vec *e, int64_t end) {
    if (e->n == e->cap) {
        int64_t cap = e->cap ? e->cap * 2 : 64;
        int64_t *v = realloc(e->v, (size_t)cap * sizeof *v);
        if (!v) return -1;
        e->v = v;
        e->cap = cap;
    }
    e->v[e->n++] = end;
    return 0;
}

/* Class bits per code point: 1 letter, 2 number, 4 whitespace. */
enum { C_L = 1, C_N = 2, C_S = 4 };

/* \p{N} pass over [a, b): every number code point is its own piece. In
 * llama.cpp's "collapsed" regex a non-ASCII whitespace code point never
 * counts as a number. */
static int split_numbers(const uint8_t *cls, int64_t a, int64_t b, ends_vec *out) {
    int64_t run = a;
    for (int64_t i = a; i < b; i++) {
        if (!(cls[i] & C_N) || (cls[i] & C_S)) continue;
        if (i > run && ends_push(out, i) < 0) return -1;
        if (ends_push(out, i + 1) < 0) return -1;
        run = i + 1;
    }
    if (b > run && ends_push(out, b) < 0) return -1;
    return 0;
}

/* unicode_regex_split_custom_gpt2 over [a, b). */
static int split_gpt2(const uint32_t *cp, const uint8_t *cls, int64_t a, int64_t b, ends_vec *out) {
#define CPT(i) ((i) >= a && (i) < b ? cp[i] : 0xFFFFFFFFu)
#define IN(i) ((i) >= a && (i) < b)
#define F(i) (IN(i) ? cls[i] : 0)
    int64_t prev = a;
    for (int64_t pos = a; pos < b;) {
        uint32_t c = cp[pos];
        if (c == '\'' && pos + 1 < b) {
            uint32_t n1 = CPT(pos + 1);
            if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
                if (ends_push(out, pos + 2) < 0) return -1;
                prev = pos = pos + 2;
                continue;
            }
            if (pos + 2 < b) {
                uint32_t n2 = CPT(pos + 2);
                if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
                    if (ends_push(out, pos + 3) < 0) return -1;
                    prev = pos = pos + 3;
                    continue;
                }
            }
        }
        int64_t q = c == ' ' ? pos + 1 : pos; /* where the optional space ends */
        int f2 = F(q);
        int in2 = IN(q);
        int64_t end = -1;
        if (f2 & C_L) {
            end = q;
            while (F(end) & C_L) end++;
        } else if (f2 & C_N) {
            end = q;
            while (F(end) & C_N) end++;
        } else if (in2 && !(f2 & (C_S | C_L | C_N))) {
            end = q;
            while (IN(end) && !(F(end) & (C_S | C_L | C_N))) end++;
        } else {
            int64_t nws = 0;
            while (F(pos + nws) & C_S) nws++;
            if (nws > 1 && IN(pos + nws)) end = pos + nws - 1; /* \s+(?!\S) */
            else if (nws > 0) end = pos + nws;                /* \s+ */
            else end = pos + 1;                                /* no match: one code point */
        }
        if (end > prev && ends_push(out, end) < 0) return -1;
        prev = pos = end;
    }
    return 0;
#undef CPT
#undef IN
#undef F
}

/* ---- merges ---- */

typedef struct {
    int32_t prev, next, n;
    int64_t off;
} bpe_sym;

typedef struct {
    int32_t left, right, rank, size;
} bpe_bigram;

typedef struct {
    bpe_bigram *v;
    int64_t n, cap;
} bpe_heap;

/* a pops before b: lower rank, then smaller left position. */
static int before(const bpe_bigram *a, const bpe_bigram *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static int heap_push(bpe_heap *h, bpe_bigram e) {
    if (h->n == h->cap) {
        int64_t cap = h->cap ? h->cap * 2 : 64;
        bpe_bigram *v = realloc(h->v, (size_t)cap * sizeof *v);
        if (!v) return -1;
        h->v = v;
        h->cap = cap;
    }
    int64_t i = h->n++;
    while (i > 0 && before(&e, &h->v[(i - 1) / 2])) {
        h->v[i] = h->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->v[i] = e;
    return 0;
}

static bpe_bigram heap_pop(bpe_heap *h) {
    bpe_bigram top = h->v[0], last = h->v[--h->n];
    int64_t i = 0;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && before(&h->v[c + 1], &h->v[c])) c++;
        if (!before(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n > 0) h->v[i] = last;
    return top;
}

typedef struct {
    bpe_sym *syms;
    int64_t syms_cap;
    bpe_heap heap;
    char *pair;   /* "left right" scratch */
    int64_t pair_cap;
} bpe_scratch;

static int add_bigram(const ga_tokenizer *t, const char *w, bpe_scratch *s, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return 0;
    const bpe_sym *L = &s->syms[l], *R = &s->syms[r];
    int64_t need = (int64_t)L->n + R->n + 1;
    if (need > s->pair_cap) {
        char *p = realloc(s->pair, (size_t)need);
        if (!p) return -1;
        s->pair = p;
        s->pair_cap = need;
    }
    memcpy(s->pair, w + L->off, (size_t)L->n);
    s->pair[L->n] = ' ';
    memcpy(s->pair + L->n + 1, w + R->off, (size_t)R->n);
    int32_t rank = ga_strmap_find(&t->merges, s->pair, (size_t)need);
    if (rank < 0) return 0;
    return heap_push(&s->heap, (bpe_bigram){l, r, rank, L->n + R->n});
}

/* Merges one byte-encoded word w[0:len] and appends its ids. */
static ga_status merge_word(const ga_tokenizer *t, const char *w, int64_t len, bpe_scratch *s, ga_ids *out) {
    if (len > s->syms_cap) {
        bpe_sym *v = realloc(s->syms, (size_t)len * sizeof *v);
        if (!v) return GA_ERR_NOMEM;
        s->syms = v;
        s->syms_cap = len;
    }
    int32_t n = 0;
    for (int64_t off = 0; off < len; n++) {
        int64_t k = ga_utf8_len((unsigned char)w[off]);
        if (k > len - off) k = len - off;
        s->syms[n] = (bpe_sym){n - 1, off + k == len ? -1 : n + 1, (int32_t)k, off};
        off += k;
    }
    s->heap.n = 0;
    for (int32_t i = 1; i < n; i++)
        if (add_bigram(t, w, s, i - 1, i) < 0) return GA_ERR_NOMEM;
    while (s->heap.n > 0) {
        bpe_bigram b = heap_pop(&s->heap);
        bpe_sym *l = &s->syms[b.left], *r = &s->syms[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue; /* outdated */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) s->syms[r->next].prev = b.left;
        if (add_bigram(t, w, s, l->prev, b.left) < 0 || add_bigram(t, w, s, b.left, l->next) < 0)
            return GA_ERR_NOMEM;
    }
    for (int32_t i = 0; i != -1 && n > 0; i = s->syms[i].next) {
        const char *p = w + s->syms[i].off;
        int32_t id = ga_strmap_find(&t->pieces, p, (size_t)s->syms[i].n);
        if (id >= 0) {
            if (ga_ids_push(out, id) != GA_OK) return GA_ERR_NOMEM;
            continue;
        }
        for (int32_t j = 0; j < s->syms[i].n; j++) {
            int32_t b = ga_strmap_find(&t->pieces, p + j, 1);
            if (b >= 0 && ga_ids_push(out, b) != GA_OK) return GA_ERR_NOMEM;
        }
    }
    return GA_OK;
}

ga_status ga_tok_bpe_encode(const ga_tokenizer *t, const char *text, int64_t len, ga_ids *out,
                            ga_error *err) {
    if (len <= 0) return GA_OK;
    if (len > INT32_MAX / 8)
        return ga_fail(err, GA_ERR_ARG, "text fragment of %lld bytes is too long", (long long)len);
    const unsigned char *u = (const unsigned char *)text;
    uint32_t *cp = malloc((size_t)len * sizeof *cp);
    uint8_t *cls = malloc((size_t)len);
    char *word = malloc((size_t)len * 8 + 8); /* each code point: <= 4 bytes -> <= 4 x 2 bytes */
    ends_vec pass1 = {0}, words = {0};
    bpe_scratch s = {0};
    ga_status st = GA_OK;
    if (!cp || !cls || !word) goto nomem;

    int64_t n = 0;
    for (size_t i = 0; i < (size_t)len; n++) {
        cp[n] = utf8_next(u, (size_t)len, &i);
        int c = ga_tok_cpt_class(cp[n]);
        cls[n] = (uint8_t)((c == 1 ? C_L : c == 2 ? C_N : 0) | (is_space(cp[n]) ? C_S : 0));
    }
    if (t->pre == GA_TOK_PRE_SMOLLM) {
        if (split_numbers(cls, 0, n, &pass1) < 0) goto nomem;
    } else if (ends_push(&pass1, n) < 0) {
        goto nomem;
    }
    for (int64_t k = 0, a = 0; k < pass1.n; a = pass1.v[k++])
        if (split_gpt2(cp, cls, a, pass1.v[k], &words) < 0) goto nomem;

    for (int64_t k = 0, a = 0; k < words.n; a = words.v[k++]) {
        int64_t wl = 0;
        for (int64_t i = a; i < words.v[k]; i++) {
            unsigned char b8[4];
            int nb = utf8_put(cp[i], b8);
            for (int j = 0; j < nb; j++) wl += utf8_put((uint32_t)t->byte_to_cpt[b8[j]], (unsigned char *)word + wl);
        }
        if ((st = merge_word(t, word, wl, &s, out)) != GA_OK) goto nomem;
    }
    goto done;
nomem:
    st = ga_fail(err, GA_ERR_NOMEM, "out of memory tokenizing %lld bytes", (long long)len);
done:
    free(cp);
    free(cls);
    free(word);
    free(pass1.v);
    free(words.v);
    free(s.syms);
    free(s.heap.v);
    free(s.pair);
    return st;
}

/* llama_decode_text: each code point of a byte-level piece stands for one
 * byte; one outside the map becomes "[UNK_BYTE_0x<hex>" + piece + "]". */
size_t ga_tok_bpe_piece(const ga_tokenizer *t, const char *s, size_t len, char *buf, size_t cap) {
    size_t n = 0;
#define PUT(c)                              \
    do {                                    \
        if (n < cap) buf[n] = (char)(c);    \
        n++;                                \
    } while (0)
    for (size_t i = 0; i < len;) {
        uint32_t cpt = utf8_next((const unsigned char *)s, len, &i);
        if (cpt < 512 && t->cpt_to_byte[cpt] >= 0) {
            PUT(t->cpt_to_byte[cpt]);
            continue;
        }
        static const char hex[] = "0123456789abcdef";
        unsigned char b8[4];
        int nb = utf8_put(cpt, b8);
        for (const char *p = "[UNK_BYTE_0x"; *p; p++) PUT(*p);
        for (int j = 0; j < nb; j++) {
            PUT(hex[b8[j] >> 4]);
            PUT(hex[b8[j] & 15]);
        }
        for (size_t j = 0; j < len; j++) PUT(s[j]);
        PUT(']');
    }
#undef PUT
    return n;
}
