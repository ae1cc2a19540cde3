/* ga_tokenizer.h - text <-> token ids for GGUF vocabularies, matching llama.cpp.
 *
 * Two vocabulary kinds (tokenizer.ggml.model):
 *   "llama" (SPM): pieces with U+2581 for space, score-driven pair merges,
 *                  <0xXX> byte fallback.
 *   "gpt2"  (BPE): byte-level pieces (GPT-2 byte->unicode map), rank-driven
 *                  merges from tokenizer.ggml.merges after a regex pre-split.
 * Both first cut the text at special tokens (CONTROL/UNKNOWN only when
 * parse_special, USER_DEFINED always), longest token text first.
 *
 * The object is immutable once built: encode/decode may run concurrently
 * from several threads.  No function aborts or prints.
 */
#ifndef GA_TOKENIZER_H
#define GA_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "ga_common.h"

/* Token types as stored in tokenizer.ggml.token_type (llama.cpp numbering). */
enum ga_tok_type {
    GA_TOK_UNDEFINED = 0,
    GA_TOK_NORMAL = 1,
    GA_TOK_UNKNOWN = 2,
    GA_TOK_CONTROL = 3,
    GA_TOK_USER_DEFINED = 4,
    GA_TOK_UNUSED = 5,
    GA_TOK_BYTE = 6,
};

enum ga_tok_model {
    GA_TOK_MODEL_SPM = 0, /* "llama" */
    GA_TOK_MODEL_BPE = 1, /* "gpt2" */
};

/* Pre-tokenizer regex families for BPE vocabularies (tokenizer.ggml.pre). */
enum ga_tok_pre {
    GA_TOK_PRE_DEFAULT = 0, /* SPM: none */
    GA_TOK_PRE_GPT2 = 1,    /* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S) */
    GA_TOK_PRE_SMOLLM = 2,  /* \p{N} split first, then the GPT-2 regex (smollm, starcoder, refact) */
};

typedef struct ga_tokenizer ga_tokenizer;

typedef struct {
    enum ga_tok_model model;
    enum ga_tok_pre pre;
    int64_t n_vocab;
    const char *const *texts;    /* (n_vocab,) piece bytes, not NUL-terminated */
    const size_t *text_lens;     /* (n_vocab,) byte length of each piece */
    const float *scores;         /* (n_vocab,) or NULL (all 0) */
    const int32_t *types;        /* (n_vocab,) enum ga_tok_type, or NULL (all NORMAL) */
    int64_t n_merges;            /* BPE only */
    const char *const *merges;   /* (n_merges,) "left right", rank = index */
    const size_t *merge_lens;    /* (n_merges,) */
    int32_t bos_id, eos_id, unk_id; /* -1 when absent */
    int add_bos;                 /* encode(add_special) prepends BOS */
    int add_eos;                 /* encode(add_special) appends EOS */
    int add_space_prefix;        /* SPM: prepend ' ' to text after start/special */
} ga_tokenizer_params;

/* Builds a tokenizer; copies everything it needs from p.  Duplicate pieces
 * are a GA_ERR_FORMAT (llama.cpp refuses them too); empty pieces are renamed
 * "[EMPTY_<id>]" as llama.cpp does. */
ga_status ga_tokenizer_new(ga_tokenizer **out, const ga_tokenizer_params *p, ga_error *err);
void ga_tokenizer_free(ga_tokenizer *tok);

int64_t ga_tokenizer_n_vocab(const ga_tokenizer *tok);

/* Id of the piece with exactly these bytes, or -1. */
int32_t ga_tokenizer_piece_to_id(const ga_tokenizer *tok, const char *text, size_t len);

/* Encodes text[0:len] (any bytes; invalid UTF-8 and NULs allowed).
 * add_special: BOS (and EOS) as the vocabulary asks, like llama_tokenize.
 * Writes at most cap ids to out (may be NULL when cap == 0) and sets *n_out
 * to the full count: when *n_out > cap, call again with a larger buffer. */
ga_status ga_tokenizer_encode(const ga_tokenizer *tok, const char *text, size_t len,
                              int add_special, int parse_special,
                              int32_t *out, int64_t cap, int64_t *n_out, ga_error *err);

/* The bytes of one token (llama_token_to_piece with lstrip 0).  CONTROL and
 * UNKNOWN pieces are empty unless special.  Writes at most cap bytes and sets
 * *n_out to the full length.  An id outside [0, n_vocab) is GA_ERR_ARG. */
ga_status ga_tokenizer_token_to_piece(const ga_tokenizer *tok, int32_t id, int special,
                                      char *buf, size_t cap, size_t *n_out, ga_error *err);

/* Concatenated pieces of ids[0:n] (llama_detokenize with remove_special = 0):
 * with add_space_prefix the first piece loses one leading space.  Same
 * cap / *n_out protocol as encode; bad ids are GA_ERR_ARG naming the id. */
ga_status ga_tokenizer_decode(const ga_tokenizer *tok, const int32_t *ids, int64_t n, int special,
                              char *buf, size_t cap, size_t *n_out, ga_error *err);

#endif
