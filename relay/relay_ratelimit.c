#include "relay_ratelimit.h"

#include "co_mem.h"
#include "co_rng.h"

#include <stdlib.h>
#include <string.h>

/* One client: a ring of admission times, oldest at head.  The ring grows by
 * doubling up to limit entries, so a client sending little costs little. */
struct rl_key {
    char *key;
    uint64_t *ring;
    size_t cap, head, count;
    struct rl_key *next;          /* hash chain */
    struct rl_key *newer, *older; /* use order */
};

struct relay_ratelimit {
    uint64_t limit, window_us;
    size_t max_keys, nkeys, nbuckets; /* nbuckets: a power of two */
    struct rl_key **buckets;
    struct rl_key *newest, *oldest;
    uint64_t evictions;
};

struct relay_ratelimit *relay_ratelimit_new(uint64_t limit, uint64_t window_us, size_t max_keys)
{
    struct relay_ratelimit *rl = co_calloc(1, sizeof *rl);
    rl->limit = limit;
    rl->window_us = window_us ? window_us : 1;
    rl->max_keys = max_keys ? max_keys : 65536;
    /* About one key per bucket when full: chains stay short. */
    rl->nbuckets = 16;
    while (rl->nbuckets < rl->max_keys && rl->nbuckets < ((size_t)1 << 24))
        rl->nbuckets <<= 1;
    rl->buckets = co_calloc(rl->nbuckets, sizeof *rl->buckets);
    return rl;
}

static void key_free(struct rl_key *k)
{
    free(k->key);
    free(k->ring);
    free(k);
}

void relay_ratelimit_free(struct relay_ratelimit **prl)
{
    struct relay_ratelimit *rl = *prl;
    if (!rl)
        return;
    for (struct rl_key *k = rl->newest, *n; k; k = n) {
        n = k->older;
        key_free(k);
    }
    free(rl->buckets);
    free(rl);
    *prl = NULL;
}

size_t relay_ratelimit_keys(const struct relay_ratelimit *rl)
{
    return rl->nkeys;
}

uint64_t relay_ratelimit_evictions(const struct relay_ratelimit *rl)
{
    return rl->evictions;
}

/* Drops admissions that have left the window (t <= now - window). */
static void expire(const struct relay_ratelimit *rl, struct rl_key *k, uint64_t now_us)
{
    while (k->count) {
        uint64_t t = k->ring[k->head];
        if (now_us < rl->window_us || t > now_us - rl->window_us)
            break;
        k->head = (k->head + 1) % k->cap;
        k->count--;
    }
}

static void unlink_use(struct relay_ratelimit *rl, struct rl_key *k)
{
    if (k->newer)
        k->newer->older = k->older;
    else
        rl->newest = k->older;
    if (k->older)
        k->older->newer = k->newer;
    else
        rl->oldest = k->newer;
    k->newer = k->older = NULL;
}

static void push_newest(struct relay_ratelimit *rl, struct rl_key *k)
{
    k->older = rl->newest;
    k->newer = NULL;
    if (rl->newest)
        rl->newest->newer = k;
    rl->newest = k;
    if (!rl->oldest)
        rl->oldest = k;
}

/* Removes the least recently used key from its chain and the list. */
static void evict_oldest(struct relay_ratelimit *rl)
{
    struct rl_key *k = rl->oldest;
    if (!k)
        return;
    struct rl_key **pk = &rl->buckets[co_hash_str(k->key) & (rl->nbuckets - 1)];
    while (*pk && *pk != k)
        pk = &(*pk)->next;
    if (*pk)
        *pk = k->next;
    unlink_use(rl, k);
    key_free(k);
    rl->nkeys--;
    rl->evictions++;
}

static struct rl_key *lookup(struct relay_ratelimit *rl, const char *key)
{
    size_t b = co_hash_str(key) & (rl->nbuckets - 1);
    for (struct rl_key *k = rl->buckets[b]; k; k = k->next)
        if (strcmp(k->key, key) == 0) {
            unlink_use(rl, k);
            push_newest(rl, k);
            return k;
        }
    if (rl->nkeys >= rl->max_keys)
        evict_oldest(rl);
    struct rl_key *k = co_calloc(1, sizeof *k);
    k->key = co_strdup(key);
    k->next = rl->buckets[b];
    rl->buckets[b] = k;
    push_newest(rl, k);
    rl->nkeys++;
    return k;
}

static void push(struct rl_key *k, uint64_t limit, uint64_t t)
{
    if (k->count == k->cap) {
        size_t ncap = k->cap ? k->cap * 2 : 8;
        if (ncap > limit)
            ncap = limit;
        uint64_t *n = co_malloc(ncap * sizeof *n);
        for (size_t i = 0; i < k->count; i++)
            n[i] = k->ring[(k->head + i) % k->cap];
        free(k->ring);
        k->ring = n;
        k->cap = ncap;
        k->head = 0;
    }
    k->ring[(k->head + k->count) % k->cap] = t;
    k->count++;
}

int relay_ratelimit_admit(struct relay_ratelimit *rl, const char *key, uint64_t now_us,
                          struct relay_rl_verdict *v)
{
    memset(v, 0, sizeof *v);
    v->limit = rl->limit;
    if (rl->limit == 0) {
        v->admitted = 1;
        return 1;
    }
    struct rl_key *k = lookup(rl, key);
    expire(rl, k, now_us);
    if (k->count < rl->limit) {
        push(k, rl->limit, now_us);
        v->admitted = 1;
        v->remaining = rl->limit - k->count;
    }
    uint64_t oldest = k->ring[k->head];
    uint64_t leaves = oldest + rl->window_us; /* first instant it no longer counts */
    uint64_t wait_us = leaves > now_us ? leaves - now_us : 0;
    v->reset_ms = (wait_us + 999) / 1000;
    if (!v->admitted)
        v->retry_after_ms = v->reset_ms;
    return v->admitted;
}
