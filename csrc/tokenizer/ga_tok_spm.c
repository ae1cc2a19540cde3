/* ga_tok_spm.c - SentencePiece-style merge of one text fragment, as llama.cpp's
 * llm_tokenizer_spm_session.
 *
 * The fragment (spaces already escaped to U+2581) is split into UTF-8
 * characters (length from the lead byte, clipped at the end; bytes are never
 * validated).  Every adjacent pair whose concatenation is a vocabulary piece
 * (any token type) goes into a max-heap keyed by (score desc, left asc).
 * Popping merges right into left unless the entry is stale, then pushes the
 * two new neighbour pairs: O(n log n).  A surviving symbol that is not a
 * piece becomes one <0xXX> token per byte.
 *
 * llama.cpp's resegment() would split a non-piece symbol through the merges
 * it recorded, but a merge is only ever recorded for a concatenation that is
 * a piece, so merged symbols are always pieces and only unmerged single
 * characters reach the byte fallback; we do exactly that.
 */
#include <stdlib.h>

#include "ga_tok_internal.h"

typedef struct {
    int32_t prev, next; /* neighbours in the live chain, -1 at the ends */
    int32_t n;          /* bytes covered; 0 once merged into the left neighbour */
    int64_t off;        /* start in the fragment */
} spm_sym;

typedef struct {
    int32_t left, right;
    float score;
    int32_t size; /* byte length of the pair when pushed: detects stale entries */
} spm_bigram;

typedef struct {
    spm_bigram *v;
    int64_t n, cap;
} spm_heap;

/* a pops before b: higher score, then smaller left position. */
static int heap_before(const spm_bigram *a, const spm_bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static int heap_push(spm_heap *h, spm_bigram e) {
    if (h->n == h->cap) {
        int64_t cap = h->cap ? h->cap * 2 : 256;
        spm_bigram *v = realloc(h->v, (size_t)cap * sizeof *v);
        if (!v) return -1;
        h->v = v;
        h->cap = cap;
    }
    int64_t i = h->n++;
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        if (!heap_before(&e, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = e;
    return 0;
}

static spm_bigram heap_pop(spm_heap *h) {
    spm_bigram top = h->v[0], last = h->v[--h->n];
    int64_t i = 0;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && heap_before(&h->v[c + 1], &h->v[c])) c++;
        if (!heap_before(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n > 0) h->v[i] = last;
    return top;
}

static int try_add_bigram(const ga_tokenizer *t, const char *text, const spm_sym *syms,
                          int32_t left, int32_t right, spm_heap *h) {
    if (left < 0 || right < 0) return 0;
    int32_t size = syms[left].n + syms[right].n;
    int32_t id = ga_strmap_find(&t->pieces, text + syms[left].off, (size_t)size);
    if (id < 0) return 0;
    spm_bigram e = {left, right, t->scores[id], size};
    return heap_push(h, e);
}

static ga_status emit_symbol(const ga_tokenizer *t, const char *s, int32_t n, ga_ids *out,
                             ga_error *err) {
    int32_t id = ga_strmap_find(&t->pieces, s, (size_t)n);
    if (id >= 0) return ga_ids_push(out, id);
    for (int32_t j = 0; j < n; j++) {
        int32_t b = t->byte_ids[(uint8_t)s[j]];
        if (b < 0) b = t->unk_id;
        if (b < 0)
            return ga_fail(err, GA_ERR_UNSUPPORTED,
                           "byte 0x%02X has no <0x%02X> token and the vocabulary has no unknown token",
                           (uint8_t)s[j], (uint8_t)s[j]);
        if (ga_ids_push(out, b) != GA_OK) return GA_ERR_NOMEM;
    }
    return GA_OK;
}

ga_status ga_tok_spm_encode(const ga_tokenizer *t, const char *text, int64_t len, ga_ids *out,
                            ga_error *err) {
    if (len <= 0) return GA_OK;
    if (len > INT32_MAX / 2)
        return ga_fail(err, GA_ERR_ARG, "text fragment of %lld bytes is too long (limit 1 GiB)",
                       (long long)len);
    spm_sym *syms = malloc((size_t)len * sizeof *syms);
    spm_heap h = {0};
    ga_status st = GA_OK;
    if (!syms) return ga_fail(err, GA_ERR_NOMEM, "out of memory tokenizing %lld bytes", (long long)len);

    int32_t n_syms = 0;
    for (int64_t off = 0; off < len;) {
        int64_t n = ga_utf8_len((unsigned char)text[off]);
        if (n > len - off) n = len - off;
        syms[n_syms] = (spm_sym){n_syms - 1, off + n == len ? -1 : n_syms + 1, (int32_t)n, off};
        off += n;
        n_syms++;
    }
    for (int32_t i = 1; i < n_syms; i++)
        if (try_add_bigram(t, text, syms, i - 1, i, &h) < 0) goto nomem;

    while (h.n > 0) {
        spm_bigram b = heap_pop(&h);
        spm_sym *l = &syms[b.left], *r = &syms[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue; /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) syms[r->next].prev = b.left;
        if (try_add_bigram(t, text, syms, l->prev, b.left, &h) < 0 ||
            try_add_bigram(t, text, syms, b.left, l->next, &h) < 0)
            goto nomem;
    }

    for (int32_t i = 0; i != -1 && st == GA_OK; i = syms[i].next)
        st = emit_symbol(t, text + syms[i].off, syms[i].n, out, err);
    if (st == GA_ERR_NOMEM) goto nomem;
    free(syms);
    free(h.v);
    return st;
nomem:
    free(syms);
    free(h.v);
    return ga_fail(err, GA_ERR_NOMEM, "out of memory tokenizing %lld bytes", (long long)len);
}
