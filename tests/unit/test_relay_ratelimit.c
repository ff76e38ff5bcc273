/* Unit tests for relay_ratelimit: the sliding window exactly at its edges,
 * per-key independence, headers' figures, disabling, and the key bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay/relay_ratelimit.h"

#include <stdio.h>

#define MS 1000ULL

static void test_window_edges(void **state)
{
    struct relay_ratelimit *rl = relay_ratelimit_new(3, 1000 * MS, 100);
    struct relay_rl_verdict v;
    uint64_t t0 = 5000 * MS;
    assert_true(relay_ratelimit_admit(rl, "a", t0, &v));
    assert_int_equal(v.remaining, 2);
    assert_true(relay_ratelimit_admit(rl, "a", t0 + 100 * MS, &v));
    assert_true(relay_ratelimit_admit(rl, "a", t0 + 200 * MS, &v));
    assert_int_equal(v.remaining, 0);
    /* Fourth within the window: refused; the oldest leaves at t0 + 1000. */
    assert_false(relay_ratelimit_admit(rl, "a", t0 + 999 * MS, &v));
    assert_int_equal(v.limit, 3);
    assert_int_equal(v.retry_after_ms, 1);
    /* One µs before the edge still refused ... */
    assert_false(relay_ratelimit_admit(rl, "a", t0 + 1000 * MS - 1, &v));
    /* ... exactly at the edge the oldest no longer counts. */
    assert_true(relay_ratelimit_admit(rl, "a", t0 + 1000 * MS, &v));
    assert_int_equal(v.remaining, 0);
    assert_false(relay_ratelimit_admit(rl, "a", t0 + 1050 * MS, &v));
    assert_int_equal(v.retry_after_ms, 50); /* t0+100 leaves at t0+1100 */
    /* Refusals are not counted: after a full quiet window all is free. */
    assert_true(relay_ratelimit_admit(rl, "a", t0 + 3000 * MS, &v));
    assert_int_equal(v.remaining, 2);
    relay_ratelimit_free(&rl);
    assert_null(rl);
}

static void test_keys_independent(void **state)
{
    struct relay_ratelimit *rl = relay_ratelimit_new(1, 1000 * MS, 100);
    struct relay_rl_verdict v;
    assert_true(relay_ratelimit_admit(rl, "a", 1, &v));
    assert_false(relay_ratelimit_admit(rl, "a", 2, &v));
    assert_true(relay_ratelimit_admit(rl, "b", 3, &v));
    assert_int_equal(relay_ratelimit_keys(rl), 2);
    relay_ratelimit_free(&rl);
}

static void test_disabled(void **state)
{
    struct relay_ratelimit *rl = relay_ratelimit_new(0, 1000 * MS, 100);
    struct relay_rl_verdict v;
    for (int i = 0; i < 10000; i++)
        assert_true(relay_ratelimit_admit(rl, "a", (uint64_t)i, &v));
    assert_int_equal(relay_ratelimit_keys(rl), 0);
    relay_ratelimit_free(&rl);
}

static void test_large_limit_ring_grows(void **state)
{
    struct relay_ratelimit *rl = relay_ratelimit_new(1000, 60000 * MS, 100);
    struct relay_rl_verdict v;
    for (int i = 0; i < 1000; i++)
        assert_true(relay_ratelimit_admit(rl, "k", (uint64_t)i * MS, &v));
    assert_false(relay_ratelimit_admit(rl, "k", 1000 * MS, &v));
    assert_int_equal(v.retry_after_ms, 59000);
    /* At 60 s the first admission leaves: exactly one more fits. */
    assert_true(relay_ratelimit_admit(rl, "k", 60000 * MS, &v));
    assert_false(relay_ratelimit_admit(rl, "k", 60000 * MS, &v));
    relay_ratelimit_free(&rl);
}

/* A full table evicts the least recently used key in O(1) and counts it;
 * the keys in use keep their windows.  (Before: a newcomer to a full table
 * of active keys went uncounted, so fresh keys were never limited, and each
 * one swept the whole table.) */
static void test_key_bound_evicts_lru(void **state)
{
    struct relay_ratelimit *rl = relay_ratelimit_new(2, 100 * MS, 4);
    struct relay_rl_verdict v;
    char k[16];
    for (int i = 0; i < 4; i++) {
        snprintf(k, sizeof k, "k%d", i);
        relay_ratelimit_admit(rl, k, (uint64_t)i, &v);
    }
    /* k0 used again: k1 becomes the least recently used. */
    assert_true(relay_ratelimit_admit(rl, "k0", 10, &v));
    assert_int_equal(relay_ratelimit_evictions(rl), 0);
    /* A newcomer is counted (limit 2: the third in the window is refused). */
    assert_true(relay_ratelimit_admit(rl, "new", 20, &v));
    assert_true(relay_ratelimit_admit(rl, "new", 21, &v));
    assert_false(relay_ratelimit_admit(rl, "new", 22, &v));
    assert_int_equal(relay_ratelimit_keys(rl), 4);
    assert_int_equal(relay_ratelimit_evictions(rl), 1);
    /* k0 kept its window (two admissions): refused. */
    assert_false(relay_ratelimit_admit(rl, "k0", 30, &v));
    /* k1 was evicted: it comes back afresh, evicting k2. */
    assert_true(relay_ratelimit_admit(rl, "k1", 40, &v));
    assert_int_equal(v.remaining, 1);
    assert_int_equal(relay_ratelimit_evictions(rl), 2);
    assert_int_equal(relay_ratelimit_keys(rl), 4);
    relay_ratelimit_free(&rl);
}

/* A stream of fresh keys costs the same per key whatever the table holds:
 * 200,000 keys through a 1,000-key table, 199,000 evictions, keys bounded. */
static void test_fresh_keys_bounded(void **state)
{
    struct relay_ratelimit *rl = relay_ratelimit_new(1, 60000 * MS, 1000);
    struct relay_rl_verdict v;
    char k[32];
    for (int i = 0; i < 200000; i++) {
        snprintf(k, sizeof k, "addr:%d", i);
        assert_true(relay_ratelimit_admit(rl, k, (uint64_t)i, &v));
    }
    assert_int_equal(relay_ratelimit_keys(rl), 1000);
    assert_int_equal(relay_ratelimit_evictions(rl), 199000);
    /* The newest key is still limited. */
    assert_false(relay_ratelimit_admit(rl, "addr:199999", 200000, &v));
    relay_ratelimit_free(&rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_edges),
        cmocka_unit_test(test_keys_independent),
        cmocka_unit_test(test_disabled),
        cmocka_unit_test(test_large_limit_ring_grows),
        cmocka_unit_test(test_key_bound_evicts_lru),
        cmocka_unit_test(test_fresh_keys_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
