/* ga_tok_bpe.c - GPT-2 style byte-level BPE (tokenizer.ggml.model "gpt2"). */
#include "ga_tok_internal.h"

ga_status ga_tok_bpe_init(ga_tokenizer *t, const ga_tokenizer_params *p, ga_error *err) {
    (void)t;
    (void)p;
    return ga_fail(err, GA_ERR_UNSUPPORTED, "tokenizer model 'gpt2' not supported yet");
}

ga_status ga_tok_bpe_encode(const ga_tokenizer *t, const char *text, int64_t len, ga_ids *out,
                            ga_error *err) {
    (void)t;
    (void)text;
    (void)len;
    (void)out;
    return ga_fail(err, GA_ERR_UNSUPPORTED, "tokenizer model 'gpt2' not supported yet");
}
