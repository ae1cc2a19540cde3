/* ga_tokenizer.c - building the tokenizer, the encode driver (special-token
 * partition, BOS/EOS, per-fragment SPM or BPE), token_to_piece and decode.
 * The merge loops live in ga_tok_spm.c / ga_tok_bpe.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ga_tok_internal.h"

void ga_tokenizer_free(ga_tokenizer *t) {
    if (!t) return;
    ga_strmap_free(&t->pieces);
    ga_strmap_free(&t->merges);
    free(t->blob);
    free(t->offs);
    free(t->scores);
    free(t->types);
    free(t->specials);
    free(t->trie);
    free(t->merge_blob);
    free(t->merge_offs);
    free(t);
}

int64_t ga_tokenizer_n_vocab(const ga_tokenizer *t) { return t->n_vocab; }

int32_t ga_tokenizer_piece_to_id(const ga_tokenizer *t, const char *text, size_t len) {
    return ga_strmap_find(&t->pieces, text, len);
}

/* Copies the pieces into one blob; an empty piece becomes "[EMPTY_<id>]". */
static ga_status copy_pieces(ga_tokenizer *t, const ga_tokenizer_params *p, ga_error *err) {
    uint64_t total = 0;
    for (int64_t i = 0; i < p->n_vocab; i++) {
        if (!p->texts[i] && p->text_lens[i])
            return ga_fail(err, GA_ERR_ARG, "token %lld has no text", (long long)i);
        total += p->text_lens[i] ? p->text_lens[i] : 32;
    }
    t->blob = malloc(total ? total : 1);
    t->offs = malloc((size_t)(p->n_vocab + 1) * sizeof *t->offs);
    if (!t->blob || !t->offs) return ga_fail(err, GA_ERR_NOMEM, "out of memory copying the vocabulary");
    uint64_t at = 0;
    for (int64_t i = 0; i < p->n_vocab; i++) {
        t->offs[i] = at;
        if (p->text_lens[i]) {
            memcpy(t->blob + at, p->texts[i], p->text_lens[i]);
            at += p->text_lens[i];
        } else {
            at += (uint64_t)snprintf(t->blob + at, 32, "[EMPTY_%lld]", (long long)i);
        }
    }
    t->offs[p->n_vocab] = at;
    return GA_OK;
}

static ga_status check_id(int32_t *dst, int32_t id, int64_t n_vocab, const char *what, ga_error *err) {
    if (id < -1 || id >= n_vocab)
        return ga_fail(err, GA_ERR_ARG, "%s id %d is outside the vocabulary (0..%lld)", what, (int)id,
                       (long long)n_vocab - 1);
    *dst = id;
    return GA_OK;
}

static ga_status build(ga_tokenizer *t, const ga_tokenizer_params *p, ga_error *err) {
    ga_status st;
    if (p->n_vocab <= 0 || p->n_vocab > INT32_MAX - 1)
        return ga_fail(err, GA_ERR_ARG, "vocabulary size %lld is out of range", (long long)p->n_vocab);
    t->model = p->model;
    t->pre = p->pre;
    t->n_vocab = p->n_vocab;
    t->add_bos = p->add_bos != 0;
    t->add_eos = p->add_eos != 0;
    t->add_space_prefix = p->add_space_prefix != 0;
    if ((st = check_id(&t->bos_id, p->bos_id, p->n_vocab, "BOS", err)) != GA_OK ||
        (st = check_id(&t->eos_id, p->eos_id, p->n_vocab, "EOS", err)) != GA_OK ||
        (st = check_id(&t->unk_id, p->unk_id, p->n_vocab, "unknown-token", err)) != GA_OK)
        return st;
    if ((st = copy_pieces(t, p, err)) != GA_OK) return st;

    t->scores = malloc((size_t)p->n_vocab * sizeof *t->scores);
    t->types = malloc((size_t)p->n_vocab);
    if (!t->scores || !t->types) return ga_fail(err, GA_ERR_NOMEM, "out of memory copying the vocabulary");
    for (int64_t i = 0; i < p->n_vocab; i++) {
        t->scores[i] = p->scores ? p->scores[i] : 0.0f;
        int32_t ty = p->types ? p->types[i] : GA_TOK_NORMAL;
        t->types[i] = (uint8_t)(ty >= GA_TOK_NORMAL && ty <= GA_TOK_BYTE ? ty : GA_TOK_UNDEFINED);
    }

    int32_t d1 = -1, d2 = -1;
    st = ga_strmap_build(&t->pieces, t->blob, t->offs, p->n_vocab, 0, &d1, &d2);
    if (st == GA_ERR_NOMEM) return ga_fail(err, st, "out of memory indexing the vocabulary");
    if (st != GA_OK) {
        size_t len;
        const char *s = ga_tok_text(t, d1, &len);
        return ga_fail(err, GA_ERR_FORMAT, "duplicate token in vocabulary: '%.*s' has ids %d and %d",
                       (int)(len > 64 ? 64 : len), s, (int)d1, (int)d2);
    }

    for (int b = 0; b < 256; b++) {
        char buf[8];
        snprintf(buf, sizeof buf, "<0x%02X>", b);
        int32_t id = ga_strmap_find(&t->pieces, buf, 6);
        if (id < 0) { /* llama.cpp falls back to the byte itself as a piece */
            char c = (char)b;
            id = ga_strmap_find(&t->pieces, &c, 1);
        }
        t->byte_ids[b] = id;
    }
    if ((st = ga_tok_special_build(t, err)) != GA_OK) return st;
    if (t->model == GA_TOK_MODEL_BPE) return ga_tok_bpe_init(t, p, err);
    if (t->model != GA_TOK_MODEL_SPM)
        return ga_fail(err, GA_ERR_UNSUPPORTED, "tokenizer model %d not supported", (int)t->model);
    return GA_OK;
}

ga_status ga_tokenizer_new(ga_tokenizer **out, const ga_tokenizer_params *p, ga_error *err) {
    *out = NULL;
    ga_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return ga_fail(err, GA_ERR_NOMEM, "out of memory creating a tokenizer");
    ga_status st = build(t, p, err);
    if (st != GA_OK) {
        ga_tokenizer_free(t);
        return st;
    }
    *out = t;
    return GA_OK;
}

/* ---- encode ---- */

/* Space-escaped copy of one raw fragment for SPM: optional leading space,
 * then every 0x20 replaced by U+2581 (E2 96 81). */
static int64_t spm_escape(char *dst, const char *src, int64_t len, int prefix_space) {
    int64_t n = 0;
    if (prefix_space) {
        memcpy(dst, "\xe2\x96\x81", 3);
        n = 3;
    }
    for (int64_t i = 0; i < len; i++) {
        if (src[i] == ' ') {
            memcpy(dst + n, "\xe2\x96\x81", 3);
            n += 3;
        } else {
            dst[n++] = src[i];
        }
    }
    return n;
}

static ga_status encode_fragments(const ga_tokenizer *t, const char *text, const ga_tok_frags *fr,
                                  ga_ids *ids, ga_error *err) {
    ga_status st = GA_OK;
    char *esc = NULL;
    int64_t esc_cap = 0;
    int prev_special = 1; /* the start counts as "after a special token" */
    for (int32_t fi = fr->head; fi >= 0 && st == GA_OK; fi = fr->v[fi].next) {
        const ga_tok_frag *f = &fr->v[fi];
        if (f->id >= 0) {
            st = ga_ids_push(ids, f->id);
            if (st != GA_OK) st = ga_fail(err, st, "out of memory collecting token ids");
            prev_special = 1;
            continue;
        }
        if (t->model == GA_TOK_MODEL_BPE) {
            st = ga_tok_bpe_encode(t, text + f->start, f->len, ids, err);
            continue;
        }
        int64_t need = 3 * f->len + 3;
        if (need > esc_cap) {
            free(esc);
            esc = malloc((size_t)need);
            esc_cap = esc ? need : 0;
            if (!esc) return ga_fail(err, GA_ERR_NOMEM, "out of memory tokenizing %lld bytes", (long long)f->len);
        }
        int64_t n = spm_escape(esc, text + f->start, f->len, t->add_space_prefix && prev_special);
        st = ga_tok_spm_encode(t, esc, n, ids, err);
        prev_special = 0;
    }
    free(esc);
    return st;
}

ga_status ga_tokenizer_encode(const ga_tokenizer *t, const char *text, size_t len, int add_special,
                              int parse_special, int32_t *out, int64_t cap, int64_t *n_out,
                              ga_error *err) {
    ga_tok_frags fr = {0};
    ga_ids ids = {0};
    ga_status st;
    *n_out = 0;
    if (len > (size_t)INT64_MAX / 4) return ga_fail(err, GA_ERR_ARG, "text of %zu bytes is too long", len);
    if ((st = ga_tok_partition(t, text, (int64_t)len, parse_special, &fr, err)) != GA_OK) goto done;
    if (add_special && t->add_bos) {
        if (t->bos_id < 0) {
            st = ga_fail(err, GA_ERR_ARG, "add_bos is requested but the vocabulary has no BOS token");
            goto done;
        }
        if ((st = ga_ids_push(&ids, t->bos_id)) != GA_OK) goto nomem;
    }
    if ((st = encode_fragments(t, text, &fr, &ids, err)) != GA_OK) goto done;
    if (add_special && t->add_eos) {
        if (t->eos_id < 0) {
            st = ga_fail(err, GA_ERR_ARG, "add_eos is requested but the vocabulary has no EOS token");
            goto done;
        }
        if ((st = ga_ids_push(&ids, t->eos_id)) != GA_OK) goto nomem;
    }
    if (out && cap > 0 && ids.n > 0) memcpy(out, ids.v, (size_t)(ids.n < cap ? ids.n : cap) * sizeof *out);
    *n_out = ids.n;
    goto done;
nomem:
    st = ga_fail(err, GA_ERR_NOMEM, "out of memory collecting token ids");
done:
    free(fr.v);
    free(ids.v);
    return st;
}

/* ---- decode ---- */

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* llama.cpp token_to_byte: strtol(text.substr(3, 2), 16). */
static unsigned char byte_of_token(const char *s, size_t len) {
    int v = 0;
    for (size_t i = 3; i < 5 && i < len; i++) {
        int h = hexval(s[i]);
        if (h < 0) break;
        v = v * 16 + h;
    }
    return (unsigned char)v;
}

static size_t piece_bytes(const ga_tokenizer *t, int32_t id, int special, char *buf, size_t cap) {
    size_t len;
    const char *s = ga_tok_text(t, id, &len);
    switch (t->types[id]) {
    case GA_TOK_CONTROL:
    case GA_TOK_UNKNOWN:
        if (!special) return 0;
        /* fall through */
    case GA_TOK_USER_DEFINED:
        if (len <= cap) memcpy(buf, s, len);
        return len;
    case GA_TOK_BYTE:
        if (cap >= 1) buf[0] = (char)byte_of_token(s, len);
        return 1;
    case GA_TOK_NORMAL:
        if (t->model == GA_TOK_MODEL_BPE) return ga_tok_bpe_piece(t, s, len, buf, cap);
        {
            /* U+2581 -> ' ' */
            size_t n = 0;
            for (size_t i = 0; i < len;) {
                if (i + 2 < len && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
                    if (n < cap) buf[n] = ' ';
                    n++;
                    i += 3;
                } else {
                    if (n < cap) buf[n] = s[i];
                    n++;
                    i++;
                }
            }
            return n;
        }
    default: /* UNDEFINED, UNUSED */
        return 0;
    }
}

ga_status ga_tokenizer_token_to_piece(const ga_tokenizer *t, int32_t id, int special, char *buf,
                                      size_t cap, size_t *n_out, ga_error *err) {
    *n_out = 0;
    if (id < 0 || id >= t->n_vocab)
        return ga_fail(err, GA_ERR_ARG, "token id %d is outside the vocabulary (0..%lld)", (int)id,
                       (long long)t->n_vocab - 1);
    *n_out = piece_bytes(t, id, special, buf, cap);
    return GA_OK;
}

ga_status ga_tokenizer_decode(const ga_tokenizer *t, const int32_t *ids, int64_t n, int special,
                              char *buf, size_t cap, size_t *n_out, ga_error *err) {
    size_t total = 0;
    *n_out = 0;
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= t->n_vocab)
            return ga_fail(err, GA_ERR_ARG, "token id %d at position %lld is outside the vocabulary (0..%lld)",
                           (int)ids[i], (long long)i, (long long)t->n_vocab - 1);
    for (int64_t i = 0; i < n; i++) {
        char *dst = total < cap ? buf + total : NULL;
        size_t room = total < cap ? cap - total : 0;
        size_t k = piece_bytes(t, ids[i], special, dst, room);
        if (i == 0 && t->add_space_prefix && k > 0) {
            /* llama_detokenize strips one leading space from the first piece */
            int starts_space = dst && k <= room ? dst[0] == ' ' : 0;
            if (!dst || k > room) { /* piece did not fit: look at it through a scratch copy */
                char *tmp = malloc(k);
                if (!tmp) return ga_fail(err, GA_ERR_NOMEM, "out of memory decoding");
                piece_bytes(t, ids[i], special, tmp, k);
                starts_space = tmp[0] == ' ';
                free(tmp);
            }
            if (starts_space) {
                if (dst && k <= room) memmove(dst, dst + 1, k - 1);
                k--;
            }
        }
        total += k;
    }
    *n_out = total;
    return GA_OK;
}
