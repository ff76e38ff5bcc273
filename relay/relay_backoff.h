/* Backoff between attempts: base × 2^n capped, with the jitter schemes of
 * AWS's "Exponential Backoff And Jitter" (none, full, equal, decorrelated).
 * Pure: the random numbers come from a seeded co_rng the caller owns, so a
 * seed reproduces a schedule exactly. */
#ifndef RELAY_BACKOFF_H
#define RELAY_BACKOFF_H

#include "co_rng.h"

#include <stdint.h>

enum relay_jitter {
    RELAY_JITTER_NONE,
    RELAY_JITTER_FULL,
    RELAY_JITTER_EQUAL,
    RELAY_JITTER_DECORRELATED,
};

/* Returns the jitter for a name, or -1 when unknown. */
int relay_jitter_parse(const char *name);
const char *relay_jitter_name(enum relay_jitter j);

/* One request's schedule.  prev_ms is the last sleep (decorrelated jitter
 * grows from it); relay_backoff_init sets it to base. */
struct relay_backoff {
    uint64_t base_ms;
    uint64_t cap_ms;
    enum relay_jitter jitter;
    uint64_t prev_ms;
};

void relay_backoff_init(struct relay_backoff *b, uint64_t base_ms, uint64_t cap_ms,
                        enum relay_jitter jitter);
/* The sleep before retry n (0 for the sleep after the first attempt), in ms:
 *   none          min(cap, base·2^n)
 *   full          uniform [0, min(cap, base·2^n)]
 *   equal         t/2 + uniform [0, t/2] with t = min(cap, base·2^n)
 *   decorrelated  min(cap, uniform [base, prev·3])                       */
uint64_t relay_backoff_next(struct relay_backoff *b, unsigned n, struct co_rng *rng);

#endif
