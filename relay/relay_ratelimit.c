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
    struct rl_key *next; /* hash chain */
};

struct relay_ratelimit {
    uint64_t limit, window_us;
    size_t max_keys, nkeys, nbuckets;
    struct rl_key **buckets;
};

struct relay_ratelimit *relay_ratelimit_new(uint64_t limit, uint64_t window_us, size_t max_keys)
{
    struct relay_ratelimit *rl = co_calloc(1, sizeof *rl);
    rl->limit = limit;
    rl->window_us = window_us ? window_us : 1;
    rl->max_keys = max_keys ? max_keys : 65536;
    rl->nbuckets = 1024;
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
    for (size_t i = 0; i < rl->nbuckets; i++) {
        struct rl_key *k = rl->buckets[i];
        while (k) {
            struct rl_key *n = k->next;
            key_free(k);
            k = n;
        }
    }
    free(rl->buckets);
    free(rl);
    *prl = NULL;
}

size_t relay_ratelimit_keys(const struct relay_ratelimit *rl)
{
    return rl->nkeys;
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

/* Forgets keys with nothing left in their window. */
static void sweep(struct relay_ratelimit *rl, uint64_t now_us)
{
    for (size_t i = 0; i < rl->nbuckets; i++) {
        struct rl_key **pk = &rl->buckets[i];
        while (*pk) {
            struct rl_key *k = *pk;
            expire(rl, k, now_us);
            if (k->count == 0) {
                *pk = k->next;
                key_free(k);
                rl->nkeys--;
            } else {
                pk = &k->next;
            }
        }
    }
}

static struct rl_key *lookup(struct relay_ratelimit *rl, const char *key, uint64_t now_us)
{
    size_t b = co_hash_str(key) % rl->nbuckets;
    for (struct rl_key *k = rl->buckets[b]; k; k = k->next)
        if (strcmp(k->key, key) == 0)
            return k;
    if (rl->nkeys >= rl->max_keys) {
        sweep(rl, now_us);
        if (rl->nkeys >= rl->max_keys)
            return NULL;
    }
    struct rl_key *k = co_calloc(1, sizeof *k);
    k->key = co_strdup(key);
    k->next = rl->buckets[b];
    rl->buckets[b] = k;
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
    struct rl_key *k = lookup(rl, key, now_us);
    if (!k) {
        /* The table is full of active clients: refusing a newcomer would
         * punish it for others' traffic, so it goes uncounted. */
        v->admitted = 1;
        v->remaining = rl->limit - 1;
        return 1;
    }
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
