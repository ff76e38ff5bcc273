#include "relay_backoff.h"

#include <string.h>

static const char *const jitter_names[] = {"none", "full", "equal", "decorrelated"};

int relay_jitter_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, jitter_names[i]) == 0)
            return i;
    return -1;
}

const char *relay_jitter_name(enum relay_jitter j)
{
    return (unsigned)j < 4 ? jitter_names[j] : "?";
}

void relay_backoff_init(struct relay_backoff *b, uint64_t base_ms, uint64_t cap_ms,
                        enum relay_jitter jitter)
{
    b->base_ms = base_ms;
    b->cap_ms = cap_ms;
    b->jitter = jitter;
    b->prev_ms = base_ms;
}

/* min(cap, base·2^n) without overflow for any n. */
static uint64_t capped_exp(uint64_t base, uint64_t cap, unsigned n)
{
    uint64_t t = base;
    for (unsigned i = 0; i < n && t < cap; i++)
        t = t > UINT64_MAX / 2 ? UINT64_MAX : t * 2;
    return t < cap ? t : cap;
}

uint64_t relay_backoff_next(struct relay_backoff *b, unsigned n, struct co_rng *rng)
{
    uint64_t t = capped_exp(b->base_ms, b->cap_ms, n), sleep;
    switch (b->jitter) {
    case RELAY_JITTER_NONE:
        sleep = t;
        break;
    case RELAY_JITTER_FULL:
        sleep = co_rng_range(rng, 0, t);
        break;
    case RELAY_JITTER_EQUAL:
        sleep = t / 2 + co_rng_range(rng, 0, t - t / 2);
        break;
    case RELAY_JITTER_DECORRELATED: {
        uint64_t hi = b->prev_ms > UINT64_MAX / 3 ? UINT64_MAX : b->prev_ms * 3;
        if (hi < b->base_ms)
            hi = b->base_ms;
        sleep = co_rng_range(rng, b->base_ms, hi);
        if (sleep > b->cap_ms)
            sleep = b->cap_ms;
        break;
    }
    default:
        sleep = t;
    }
    b->prev_ms = sleep;
    return sleep;
}
