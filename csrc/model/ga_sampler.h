/* ga_sampler.h - next-token sampling: repetition penalty, temperature, top-k,
 * top-p, min-p, seeded RNG.  Temperature 0 is greedy (argmax, lowest id on ties).
 *
 * Order (as Hugging Face's generate): penalty -> temperature -> top-k -> top-p
 * -> min-p -> draw.
 */
#ifndef GA_SAMPLER_H
#define GA_SAMPLER_H

#include <stdint.h>

#include "ga_common.h"

#define GA_SAMPLER_MAX_HISTORY 4096

typedef struct {
    float temperature;    /* 0 = greedy */
    int top_k;            /* 0 = off */
    float top_p;          /* 1 = off */
    float min_p;          /* 0 = off */
    float repeat_penalty; /* 1 = off */
    int repeat_last_n;    /* how many recent tokens the penalty looks at */
} ga_sampler_params;

typedef struct {
    ga_sampler_params p;
    uint64_t rng[4]; /* xoshiro256** state */
    int32_t history[GA_SAMPLER_MAX_HISTORY];
    int n_history, history_pos;
    int n_vocab;
    struct ga_candidate *cand; /* n_vocab scratch, allocated once */
} ga_sampler;

ga_status ga_sampler_init(ga_sampler *s, const ga_sampler_params *p, uint64_t seed, int n_vocab,
                          ga_error *err);
void ga_sampler_free(ga_sampler *s);
void ga_sampler_accept(ga_sampler *s, int32_t token);
/* Picks the next token from logits[n_vocab]; logits is modified (penalty). */
int32_t ga_sampler_sample(ga_sampler *s, float *logits);

#endif
