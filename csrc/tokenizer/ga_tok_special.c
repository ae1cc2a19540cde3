/* ga_tok_special.c - cutting text at special tokens (llama.cpp's
 * tokenizer_st_partition).
 *
 * llama.cpp walks the special tokens longest text first and, for each, splits
 * every still-raw fragment at its occurrences left to right.  We keep that
 * order exactly (so overlaps resolve the same way) but first scan the text
 * once through a trie of all special texts, and then only search for the
 * tokens that occur at all: thousands of <unusedN> tokens cost nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "ga_tok_internal.h"

static int is_special_type(uint8_t ty) {
    return ty == GA_TOK_CONTROL || ty == GA_TOK_USER_DEFINED || ty == GA_TOK_UNKNOWN;
}

typedef struct {
    uint64_t len;
    int32_t id;
} len_id;

/* Longest first; equal lengths by id (llama.cpp's std::sort leaves those unordered). */
static int cmp_len_desc(const void *a, const void *b) {
    const len_id *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static int32_t trie_add_node(ga_tokenizer *t, int32_t *cap, uint8_t byte) {
    if (t->n_trie == *cap) {
        int32_t nc = *cap * 2;
        ga_trie_node *v = realloc(t->trie, (size_t)nc * sizeof *v);
        if (!v) return -1;
        t->trie = v;
        *cap = nc;
    }
    ga_trie_node *nd = &t->trie[t->n_trie];
    nd->child = nd->sibling = nd->special = -1;
    nd->byte = byte;
    return t->n_trie++;
}

static int32_t trie_child(const ga_tokenizer *t, int32_t node, uint8_t byte) {
    if (node == 0) return t->trie_root[byte];
    for (int32_t c = t->trie[node].child; c >= 0; c = t->trie[c].sibling)
        if (t->trie[c].byte == byte) return c;
    return -1;
}

static ga_status trie_insert(ga_tokenizer *t, int32_t *cap, const char *s, size_t len, int32_t k) {
    int32_t node = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t b = (uint8_t)s[i];
        int32_t c = trie_child(t, node, b);
        if (c < 0) {
            c = trie_add_node(t, cap, b);
            if (c < 0) return GA_ERR_NOMEM;
            if (node == 0) {
                t->trie_root[b] = c;
            } else {
                t->trie[c].sibling = t->trie[node].child;
                t->trie[node].child = c;
            }
        }
        node = c;
    }
    t->trie[node].special = k;
    return GA_OK;
}

ga_status ga_tok_special_build(ga_tokenizer *t, ga_error *err) {
    int64_t n = 0;
    for (int64_t id = 0; id < t->n_vocab; id++) n += is_special_type(t->types[id]);
    len_id *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    t->specials = malloc((size_t)(n ? n : 1) * sizeof *t->specials);
    int32_t cap = 1024;
    t->trie = malloc((size_t)cap * sizeof *t->trie);
    if (!order || !t->specials || !t->trie) {
        free(order);
        return ga_fail(err, GA_ERR_NOMEM, "out of memory building the special-token table");
    }
    int64_t k = 0;
    for (int64_t id = 0; id < t->n_vocab; id++) {
        if (!is_special_type(t->types[id])) continue;
        order[k].len = t->offs[id + 1] - t->offs[id];
        order[k].id = (int32_t)id;
        k++;
    }
    qsort(order, (size_t)n, sizeof *order, cmp_len_desc);
    t->n_specials = n;
    for (int i = 0; i < 256; i++) t->trie_root[i] = -1;
    t->n_trie = 0;
    trie_add_node(t, &cap, 0); /* root */
    for (int64_t i = 0; i < n; i++) {
        t->specials[i] = order[i].id;
        size_t len;
        const char *s = ga_tok_text(t, order[i].id, &len);
        if (trie_insert(t, &cap, s, len, (int32_t)i) != GA_OK) {
            free(order);
            return ga_fail(err, GA_ERR_NOMEM, "out of memory building the special-token trie");
        }
    }
    free(order);
    return GA_OK;
}

static int allowed(const ga_tokenizer *t, int32_t id, int parse_special) {
    uint8_t ty = t->types[id];
    return parse_special || ty == GA_TOK_USER_DEFINED;
}

/* Marks present[k] for every special k (allowed under parse_special) whose
 * text occurs somewhere in text.  Returns how many distinct ones occur. */
static int64_t mark_present(const ga_tokenizer *t, const char *text, int64_t len, int parse_special,
                            uint8_t *present) {
    int64_t count = 0;
    for (int64_t pos = 0; pos < len; pos++) {
        int32_t node = t->trie_root[(uint8_t)text[pos]];
        for (int64_t i = pos + 1; node >= 0; i++) {
            int32_t k = t->trie[node].special;
            if (k >= 0 && !present[k] && allowed(t, t->specials[k], parse_special)) {
                present[k] = 1;
                count++;
            }
            if (i >= len) break;
            node = trie_child(t, node, (uint8_t)text[i]);
        }
    }
    return count;
}

static int32_t frag_new(ga_tok_frags *f, int64_t start, int64_t len, int32_t id, int32_t next) {
    if (f->n == f->cap) {
        int32_t cap = f->cap ? f->cap * 2 : 16;
        ga_tok_frag *v = realloc(f->v, (size_t)cap * sizeof *v);
        if (!v) return -1;
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n] = (ga_tok_frag){start, len, id, next};
    return f->n++;
}

/* Splits raw fragment fi at every left-to-right occurrence of s. */
static ga_status split_fragment(ga_tok_frags *f, int32_t fi, const char *text, const char *s,
                                size_t slen, int32_t id, int32_t *last) {
    for (;;) {
        ga_tok_frag fr = f->v[fi];
        const char *hit = memmem(text + fr.start, (size_t)fr.len, s, slen);
        if (!hit) break;
        int64_t at = hit - text;
        int64_t right = fr.start + fr.len - (at + (int64_t)slen);
        int32_t tok_i = fi;
        if (at > fr.start) { /* keep fi as the left remainder */
            f->v[fi].len = at - fr.start;
            tok_i = frag_new(f, at, (int64_t)slen, id, fr.next);
            if (tok_i < 0) return GA_ERR_NOMEM;
            f->v[fi].next = tok_i;
        } else {
            f->v[fi].len = (int64_t)slen;
            f->v[fi].id = id;
        }
        *last = tok_i;
        if (right <= 0) return GA_OK;
        int32_t r = frag_new(f, at + (int64_t)slen, right, -1, f->v[tok_i].next);
        if (r < 0) return GA_ERR_NOMEM;
        f->v[tok_i].next = r;
        fi = r;
    }
    *last = fi;
    return GA_OK;
}

ga_status ga_tok_partition(const ga_tokenizer *t, const char *text, int64_t len, int parse_special,
                           ga_tok_frags *out, ga_error *err) {
    out->n = 0;
    out->head = -1;
    if (len == 0) return GA_OK; /* no fragment at all, as llama.cpp */
    if (frag_new(out, 0, len, -1, -1) < 0) goto nomem;
    out->head = 0;
    if (t->n_specials == 0) return GA_OK;
    uint8_t *present = calloc((size_t)t->n_specials, 1);
    if (!present) goto nomem;
    if (mark_present(t, text, len, parse_special, present) == 0) {
        free(present);
        return GA_OK;
    }
    for (int64_t k = 0; k < t->n_specials; k++) {
        if (!present[k]) continue;
        int32_t id = t->specials[k];
        size_t slen;
        const char *s = ga_tok_text(t, id, &slen);
        for (int32_t fi = out->head; fi >= 0;) {
            int32_t last = fi;
            if (out->v[fi].id < 0 && split_fragment(out, fi, text, s, slen, id, &last) != GA_OK) {
                free(present);
                goto nomem;
            }
            fi = out->v[last].next;
        }
    }
    free(present);
    return GA_OK;
nomem:
    return ga_fail(err, GA_ERR_NOMEM, "out of memory splitting text at special tokens");
}
