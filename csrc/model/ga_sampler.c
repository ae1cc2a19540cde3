/* ga_sampler.c - the sampling chain over one row of logits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ga_sampler.h"

typedef struct ga_candidate { float logit; int32_t id; } ga_candidate;

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t next_u64(uint64_t *s) {
    const uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* uniform in [0, 1) with 53 random bits */
static double next_uniform(uint64_t *s) { return (double)(next_u64(s) >> 11) * 0x1.0p-53; }

ga_status ga_sampler_init(ga_sampler *s, const ga_sampler_params *p, uint64_t seed, int n_vocab,
                          ga_error *err) {
    memset(s, 0, sizeof *s);
    if (n_vocab < 1) return ga_fail(err, GA_ERR_ARG, "n_vocab must be positive");
    s->p = *p;
    if (s->p.repeat_last_n > GA_SAMPLER_MAX_HISTORY) s->p.repeat_last_n = GA_SAMPLER_MAX_HISTORY;
    if (s->p.repeat_last_n < 0) s->p.repeat_last_n = 0;
    s->n_vocab = n_vocab;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&seed);
    s->cand = malloc((size_t)n_vocab * sizeof(ga_candidate));
    if (!s->cand) return ga_fail(err, GA_ERR_NOMEM, "out of memory for the sampler");
    return GA_OK;
}

void ga_sampler_free(ga_sampler *s) {
    free(s->cand);
    s->cand = NULL;
}

void ga_sampler_accept(ga_sampler *s, int32_t token) {
    s->history[s->history_pos] = token;
    s->history_pos = (s->history_pos + 1) % GA_SAMPLER_MAX_HISTORY;
    if (s->n_history < GA_SAMPLER_MAX_HISTORY) s->n_history++;
}

static void apply_penalty(ga_sampler *s, float *logits) {
    const int n = s->n_history < s->p.repeat_last_n ? s->n_history : s->p.repeat_last_n;
    /* mark each recent token once, so repeats are not penalized twice */
    for (int i = 1; i <= n; i++) {
        int32_t t = s->history[(s->history_pos - i + GA_SAMPLER_MAX_HISTORY) % GA_SAMPLER_MAX_HISTORY];
        if (t < 0 || t >= s->n_vocab) continue;
        int seen = 0;
        for (int j = 1; j < i && !seen; j++)
            seen = s->history[(s->history_pos - j + GA_SAMPLER_MAX_HISTORY) % GA_SAMPLER_MAX_HISTORY] == t;
        if (seen) continue;
        logits[t] = logits[t] > 0 ? logits[t] / s->p.repeat_penalty : logits[t] * s->p.repeat_penalty;
    }
}

/* descending logit, then ascending id: a total order, so results never depend on qsort */
static int cand_cmp(const void *a, const void *b) {
    const ga_candidate *x = a, *y = b;
    if (x->logit != y->logit) return x->logit > y->logit ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* moves the k best candidates to the front (unordered), average O(n) */
static void select_top(ga_candidate *c, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        ga_candidate pivot = c[lo + (hi - lo) / 2];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (cand_cmp(&c[i], &pivot) < 0) i++;
            while (cand_cmp(&c[j], &pivot) > 0) j--;
            if (i <= j) { ga_candidate t = c[i]; c[i] = c[j]; c[j] = t; i++; j--; }
        }
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else break;
    }
}

/* The first index of the largest logit, as the loop `if (x[i] > x[best]) best = i` (NaNs
 * never win; a NaN at 0 wins nothing either): a max over 8 independent lanes (vectorizable,
 * ~10x faster over a 262144-entry vocabulary), then the first index holding it. */
static int32_t greedy(const float *x, int V) {
    if (V < 16 || isnan(x[0])) {
        int32_t best = 0;
        for (int i = 1; i < V; i++) if (x[i] > x[best]) best = i;
        return best;
    }
    float mx[8];
    for (int k = 0; k < 8; k++) mx[k] = x[0];
    int i = 0;
    for (; i + 8 <= V; i += 8)
        for (int k = 0; k < 8; k++) mx[k] = x[i + k] > mx[k] ? x[i + k] : mx[k];
    float m = mx[0];
    for (int k = 1; k < 8; k++) m = mx[k] > m ? mx[k] : m;
    for (; i < V; i++) m = x[i] > m ? x[i] : m;
    for (int j = 0; j < V; j++) if (x[j] == m) return j;
    return 0;
}

int32_t ga_sampler_sample(ga_sampler *s, float *logits) {
    const int V = s->n_vocab;
    if (s->p.repeat_penalty != 1.0f && s->p.repeat_last_n > 0) apply_penalty(s, logits);
    if (s->p.temperature <= 0.0f) return greedy(logits, V);
    ga_candidate *c = s->cand;
    int64_t n = 0;
    for (int i = 0; i < V; i++)
        if (!isnan(logits[i]) && logits[i] != -INFINITY) c[n++] = (ga_candidate){logits[i] / s->p.temperature, i};
    if (n == 0) return 0;
    if (s->p.top_k > 0 && s->p.top_k < n) {
        select_top(c, n, s->p.top_k);
        n = s->p.top_k;
    }
    qsort(c, (size_t)n, sizeof *c, cand_cmp);
    /* softmax in double over the survivors (c[0] is the max) */
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += exp((double)c[i].logit - c[0].logit);
    int64_t keep = n;
    if (s->p.top_p < 1.0f) {
        double cum = 0.0;
        for (int64_t i = 0; i < n; i++) {
            cum += exp((double)c[i].logit - c[0].logit) / sum;
            if (cum >= s->p.top_p) { keep = i + 1; break; }
        }
    }
    if (s->p.min_p > 0.0f) {
        /* p_i >= min_p * p_max  <=>  logit_i - logit_max >= log(min_p) */
        const double floor_ = log((double)s->p.min_p);
        int64_t i = 1;
        while (i < keep && (double)c[i].logit - c[0].logit >= floor_) i++;
        keep = i;
    }
    double total = 0.0;
    for (int64_t i = 0; i < keep; i++) total += exp((double)c[i].logit - c[0].logit);
    double r = next_uniform(s->rng) * total;
    for (int64_t i = 0; i < keep; i++) {
        r -= exp((double)c[i].logit - c[0].logit);
        if (r < 0) return c[i].id;
    }
    return c[keep - 1].id;
}
