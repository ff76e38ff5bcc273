/* A small seeded PRNG (xoshiro256** seeded through splitmix64).  Every random
 * decision in cutover (mock faults, jitter, traffic ids) draws from one of
 * these so that the same seed and the same sequence of calls give the same
 * decisions. */
#ifndef CO_RNG_H
#define CO_RNG_H

#include <stdint.h>

struct co_rng {
    uint64_t s[4];
};

void co_rng_seed(struct co_rng *r, uint64_t seed);
uint64_t co_rng_next(struct co_rng *r);
/* Uniform in [0, 1). */
double co_rng_double(struct co_rng *r);
/* Uniform in [lo, hi] (inclusive) for integers. */
uint64_t co_rng_range(struct co_rng *r, uint64_t lo, uint64_t hi);
/* Standard normal (Box-Muller). */
double co_rng_normal(struct co_rng *r);
/* Lognormal with the given median and sigma (of the underlying normal). */
double co_rng_lognormal(struct co_rng *r, double median, double sigma);

/* FNV-1a over a C string: for hash tables and short stable labels, never
 * for anything an attacker must not forge. */
uint64_t co_hash_str(const char *s);

#endif
