/* Unit tests for relay_backoff: each jitter formula's bounds, the cap, the
 * exact schedule without jitter, and seeded reproducibility. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay/relay_backoff.h"

static void test_names(void **state)
{
    assert_int_equal(relay_jitter_parse("none"), RELAY_JITTER_NONE);
    assert_int_equal(relay_jitter_parse("full"), RELAY_JITTER_FULL);
    assert_int_equal(relay_jitter_parse("equal"), RELAY_JITTER_EQUAL);
    assert_int_equal(relay_jitter_parse("decorrelated"), RELAY_JITTER_DECORRELATED);
    assert_int_equal(relay_jitter_parse("Full"), -1);
    assert_int_equal(relay_jitter_parse(""), -1);
    assert_string_equal(relay_jitter_name(RELAY_JITTER_EQUAL), "equal");
}

static void test_none_exact_and_capped(void **state)
{
    struct relay_backoff b;
    struct co_rng rng;
    co_rng_seed(&rng, 1);
    relay_backoff_init(&b, 1000, 30000, RELAY_JITTER_NONE);
    const uint64_t want[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000};
    for (unsigned n = 0; n < 7; n++)
        assert_int_equal(relay_backoff_next(&b, n, &rng), want[n]);
    /* No overflow for absurd n. */
    assert_int_equal(relay_backoff_next(&b, 200, &rng), 30000);
    relay_backoff_init(&b, 20, 1000, RELAY_JITTER_NONE);
    assert_int_equal(relay_backoff_next(&b, 0, &rng), 20);
    assert_int_equal(relay_backoff_next(&b, 1, &rng), 40);
}

static void test_full_bounds(void **state)
{
    struct relay_backoff b;
    struct co_rng rng;
    co_rng_seed(&rng, 7);
    relay_backoff_init(&b, 100, 5000, RELAY_JITTER_FULL);
    for (unsigned n = 0; n < 10; n++) {
        uint64_t hi = 100u << n < 5000 ? 100u << n : 5000;
        uint64_t lo_seen = UINT64_MAX, hi_seen = 0;
        for (int i = 0; i < 2000; i++) {
            uint64_t s = relay_backoff_next(&b, n, &rng);
            assert_true(s <= hi);
            lo_seen = s < lo_seen ? s : lo_seen;
            hi_seen = s > hi_seen ? s : hi_seen;
        }
        /* Spread over the whole range, not stuck at one end. */
        assert_true(lo_seen < hi / 10 + 1);
        assert_true(hi_seen > hi - hi / 10 - 1);
    }
}

static void test_equal_bounds(void **state)
{
    struct relay_backoff b;
    struct co_rng rng;
    co_rng_seed(&rng, 9);
    relay_backoff_init(&b, 100, 5000, RELAY_JITTER_EQUAL);
    for (unsigned n = 0; n < 10; n++) {
        uint64_t t = 100u << n < 5000 ? 100u << n : 5000;
        for (int i = 0; i < 2000; i++) {
            uint64_t s = relay_backoff_next(&b, n, &rng);
            assert_true(s >= t / 2);
            assert_true(s <= t);
        }
    }
}

static void test_decorrelated_bounds(void **state)
{
    struct relay_backoff b;
    struct co_rng rng;
    co_rng_seed(&rng, 11);
    relay_backoff_init(&b, 100, 3000, RELAY_JITTER_DECORRELATED);
    uint64_t prev = 100, max_seen = 0;
    for (int i = 0; i < 5000; i++) {
        uint64_t s = relay_backoff_next(&b, (unsigned)i, &rng);
        assert_true(s >= 100);
        assert_true(s <= 3000);
        assert_true(s <= prev * 3);
        prev = s;
        max_seen = s > max_seen ? s : max_seen;
    }
    assert_int_equal(max_seen, 3000); /* reaches the cap */
}

static void test_seeded_reproducible(void **state)
{
    struct relay_backoff a, b;
    struct co_rng ra, rb;
    co_rng_seed(&ra, 42);
    co_rng_seed(&rb, 42);
    relay_backoff_init(&a, 50, 10000, RELAY_JITTER_FULL);
    relay_backoff_init(&b, 50, 10000, RELAY_JITTER_FULL);
    for (unsigned n = 0; n < 20; n++)
        assert_int_equal(relay_backoff_next(&a, n, &ra), relay_backoff_next(&b, n, &rb));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_none_exact_and_capped),
        cmocka_unit_test(test_full_bounds),
        cmocka_unit_test(test_equal_bounds),
        cmocka_unit_test(test_decorrelated_bounds),
        cmocka_unit_test(test_seeded_reproducible),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
