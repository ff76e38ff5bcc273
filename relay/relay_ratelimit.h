/* Client rate limiting: a sliding window per client key (its API key, else
 * its address), as the seed's "1000 requests per 60 s".  The window is exact:
 * each key keeps the admission times of its last `limit` requests in a ring,
 * and a request is admitted when fewer than `limit` fall within the last
 * window.  Pure: the clock is an argument.
 *
 * The table is bounded in keys and evicts in O(1): keys sit in a hash table
 * and on a list ordered by last use, and a new key past max_keys takes the
 * place of the least recently used one (which starts afresh if it comes
 * back).  Evictions are counted, so an operator sees when the bound is too
 * small for the clients; no request ever walks the whole table. */
#ifndef RELAY_RATELIMIT_H
#define RELAY_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct relay_ratelimit;

struct relay_rl_verdict {
    int admitted;
    uint64_t limit;
    uint64_t remaining;      /* after this request */
    uint64_t reset_ms;       /* until the oldest counted request leaves the window */
    uint64_t retry_after_ms; /* refused: when the next request would be admitted */
};

/* limit 0 disables limiting (every request admitted).  The caller frees with
 * relay_ratelimit_free. */
struct relay_ratelimit *relay_ratelimit_new(uint64_t limit, uint64_t window_us, size_t max_keys);
void relay_ratelimit_free(struct relay_ratelimit **rl);

/* Admits or refuses one request of key at now_us; fills v. */
int relay_ratelimit_admit(struct relay_ratelimit *rl, const char *key, uint64_t now_us,
                          struct relay_rl_verdict *v);
/* Keys currently tracked. */
size_t relay_ratelimit_keys(const struct relay_ratelimit *rl);
/* Keys evicted (least recently used) to make room for new ones. */
uint64_t relay_ratelimit_evictions(const struct relay_ratelimit *rl);

#endif
