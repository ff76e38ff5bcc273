#include "relay_policy.h"

#include <string.h>

static const char *const stream_done_names[] = {"lenient", "strict"};
static const char *const on429_names[] = {"retry", "failover"};

static int word(const char *s, const char *const *names, int n)
{
    for (int i = 0; s && i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

int relay_stream_done_parse(const char *s)
{
    return word(s, stream_done_names, 2);
}

const char *relay_stream_done_name(enum relay_stream_done d)
{
    return (unsigned)d < 2 ? stream_done_names[d] : "lenient";
}

int relay_on429_parse(const char *s)
{
    return word(s, on429_names, 2);
}

const char *relay_on429_name(enum relay_on429 o)
{
    return (unsigned)o < 2 ? on429_names[o] : "retry";
}

struct relay_stream_end relay_policy_stream_end(enum relay_stream_done mode, enum relay_err err,
                                                int finish_seen, int done_seen, int at_boundary)
{
    struct relay_stream_end e = {0, 0, NULL};
    if (err == RELAY_ERR_NONE && done_seen) {
        e.complete = 1;
        return e;
    }
    if (err == RELAY_ERR_NONE && finish_seen && at_boundary && mode == RELAY_STREAM_DONE_LENIENT) {
        /* Every token and the finish_reason came, then a clean close: the
         * answer is whole; only the marker is missing, so the relay adds
         * it and the client's SDK ends normally. */
        e.complete = 1;
        e.add_done = 1;
        return e;
    }
    e.code = err == RELAY_ERR_NONE           ? "stream_truncated"
             : err == RELAY_ERR_IDLE_TIMEOUT ? "stream_idle_timeout"
                                             : "stream_reset";
    return e;
}

uint64_t relay_policy_expiry(const struct relay_timeouts *t, const struct relay_attempt_times *a,
                             enum relay_err *why)
{
    uint64_t x, best;
    if (a->committed) {
        *why = RELAY_ERR_IDLE_TIMEOUT;
        return (a->paused ? a->now : a->last_byte) + t->idle_us;
    }
    best = a->start + t->try_us;
    *why = RELAY_ERR_TIMEOUT;
    if (a->deadline < best)
        best = a->deadline;
    if (!a->first_byte) {
        x = a->start + t->ttfb_us;
        if (x < best) {
            best = x;
            *why = RELAY_ERR_TTFB_TIMEOUT;
        }
    } else if (a->stream) {
        x = a->last_byte + t->idle_us;
        if (x < best) {
            best = x;
            *why = RELAY_ERR_IDLE_TIMEOUT;
        }
    }
    /* Headers alone do not count: a provider that answers 200 at once and
     * then thinks for 20 s has not started its answer. */
    if (!a->first_body && t->first_byte_us) {
        x = a->start + t->first_byte_us;
        if (x < best) {
            best = x;
            *why = RELAY_ERR_FIRST_BYTE_TIMEOUT;
        }
    }
    return best;
}

enum relay_retry_how relay_policy_retry_how(int status, int has_ra, uint64_t ra_ms, uint64_t cap_ms,
                                            int ra_fits, enum relay_on429 on429)
{
    if (has_ra)
        return ra_ms <= cap_ms && ra_fits ? RELAY_RETRY_AFTER : RELAY_RETRY_FAILOVER_NOW;
    if (status == 429 && on429 == RELAY_ON429_FAILOVER)
        return RELAY_RETRY_QUOTA_FAILOVER;
    return RELAY_RETRY_BACKOFF;
}
