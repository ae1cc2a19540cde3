/* ga_tok_internal.h - the tokenizer's private pieces, shared by ga_tok*.c.
 *
 * defines: struct ga_tokenizer, ga_strmap (piece -> id hash), ga_ids (growable
 * id vector), ga_tok_frag (special-token partition output) and the per-model
 * encoders.  Not part of the public API (see ga_tokenizer.h).
 */
#ifndef GA_TOK_INTERNAL_H
#define GA_TOK_INTERNAL_H

#include "ga_tokenizer.h"

/* ---- string -> int32 open-addressing hash over keys stored in one blob ---- */

typedef struct {
    int32_t id;  /* -1: empty slot */
    uint32_t h;  /* high hash bits, to skip most memcmp calls */
} ga_strmap_slot;

typedef struct {
    const char *blob;        /* key i is blob[offs[i] : offs[i+1]] */
    const uint64_t *offs;    /* (n+1,) */
    ga_strmap_slot *slots;   /* (mask+1,) */
    uint64_t mask;
} ga_strmap;

uint64_t ga_tok_hash(const char *s, size_t len);
/* Indexes keys 0..n-1.  A duplicate key keeps the first id when keep_first,
 * else stops the build with GA_ERR_FORMAT and sets *dup_first / *dup_second. */
ga_status ga_strmap_build(ga_strmap *m, const char *blob, const uint64_t *offs, int64_t n,
                          int keep_first, int32_t *dup_first, int32_t *dup_second);
int32_t ga_strmap_find(const ga_strmap *m, const char *s, size_t len);
void ga_strmap_free(ga_strmap *m);

/* ---- growable id vector ---- */

typedef struct {
    int32_t *v;
    int64_t n, cap;
} ga_ids;

ga_status ga_ids_push(ga_ids *ids, int32_t id);

/* ---- special-token trie (ga_tok_special.c) ---- */

typedef struct {
    int32_t child;    /* first child node, -1 none */
    int32_t sibling;  /* next sibling node, -1 none */
    int32_t special;  /* index into specials[] ending here, -1 none */
    uint8_t byte;
} ga_trie_node;

/* One piece of the partitioned text: raw bytes text[start:start+len] when
 * id < 0, else the special token id covering those bytes. */
typedef struct {
    int64_t start, len;
    int32_t id;
    int32_t next; /* list link, -1 at the end */
} ga_tok_frag;

typedef struct {
    ga_tok_frag *v;
    int32_t n, cap;
    int32_t head;
} ga_tok_frags;

/* ---- the tokenizer ---- */

struct ga_tokenizer {
    enum ga_tok_model model;
    enum ga_tok_pre pre;
    int64_t n_vocab;
    char *blob;          /* all piece bytes */
    uint64_t *offs;      /* (n_vocab+1,) piece i = blob[offs[i]:offs[i+1]] */
    float *scores;       /* (n_vocab,) */
    uint8_t *types;      /* (n_vocab,) enum ga_tok_type */
    ga_strmap pieces;    /* piece bytes -> id */

    int32_t *specials;   /* (n_specials,) CONTROL/USER_DEFINED/UNKNOWN ids, longest text first */
    int64_t n_specials;
    ga_trie_node *trie;  /* node 0 is the root */
    int32_t n_trie;
    int32_t trie_root[256]; /* root's child per first byte, -1 none */

    int32_t byte_ids[256]; /* SPM byte fallback id per byte, -1 none */
    int32_t bos_id, eos_id, unk_id;
    int add_bos, add_eos, add_space_prefix;

    /* BPE only */
    char *merge_blob;
    uint64_t *merge_offs; /* (n_merges+1,) */
    int64_t n_merges;
    ga_strmap merges;     /* "left right" -> rank */
    int32_t byte_to_cpt[256]; /* GPT-2 bytes_to_unicode */
    int16_t cpt_to_byte[512]; /* its inverse (all mapped code points are < 512), -1 none */
};

/* 1 letter, 2 number, 0 other (ga_tok_unicode.c, generated). */
int ga_tok_cpt_class(uint32_t cpt);

static inline const char *ga_tok_text(const ga_tokenizer *t, int32_t id, size_t *len) {
    *len = (size_t)(t->offs[id + 1] - t->offs[id]);
    return t->blob + t->offs[id];
}

ga_status ga_tok_special_build(ga_tokenizer *t, ga_error *err);
/* Cuts text at special tokens exactly as llama.cpp's tokenizer_st_partition. */
ga_status ga_tok_partition(const ga_tokenizer *t, const char *text, int64_t len, int parse_special,
                           ga_tok_frags *out, ga_error *err);

/* SPM merge of one escaped fragment; appends ids. */
ga_status ga_tok_spm_encode(const ga_tokenizer *t, const char *text, int64_t len, ga_ids *out,
                            ga_error *err);
/* BPE: pre-split + merges of one raw fragment; appends ids. */
ga_status ga_tok_bpe_encode(const ga_tokenizer *t, const char *text, int64_t len, ga_ids *out,
                            ga_error *err);
ga_status ga_tok_bpe_init(ga_tokenizer *t, const ga_tokenizer_params *p, ga_error *err);
/* Bytes of a NORMAL byte-level piece (llama_decode_text); writes at most cap, returns the length. */
size_t ga_tok_bpe_piece(const ga_tokenizer *t, const char *s, size_t len, char *buf, size_t cap);

/* Length in bytes of the UTF-8 sequence that lead byte c starts (1 for
 * continuation or invalid bytes, 4 for F8..FF), as llama.cpp's unicode_len_utf8. */
static inline int ga_utf8_len(unsigned char c) {
    static const int lookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lookup[c >> 4];
}

#endif
