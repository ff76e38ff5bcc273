/* Unit tests for the mock's rate limiter with a stepped clock: requests per
 * window (sliding), tokens per minute, Retry-After and the remaining/reset
 * values a provider would send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mocks/mock_int.h"

#define MS 1000ULL

static void test_requests_window(void **state)
{
    struct mock_rl rl;
    struct mock_rl_verdict v;
    mock_rl_init(&rl, 3, 1000, 0);
    uint64_t t = 5000 * MS;
    mock_rl_admit(&rl, t, 10, &v);
    assert_true(v.admitted);
    assert_int_equal(v.limit_requests, 3);
    assert_int_equal(v.remaining_requests, 2);
    assert_int_equal(v.reset_requests_ms, 1000);
    mock_rl_admit(&rl, t + 100 * MS, 10, &v);
    mock_rl_admit(&rl, t + 200 * MS, 10, &v);
    assert_true(v.admitted);
    assert_int_equal(v.remaining_requests, 0);
    mock_rl_admit(&rl, t + 300 * MS, 10, &v);
    assert_false(v.admitted);
    /* The oldest admission (at t) leaves the window at t + 1000 ms. */
    assert_int_equal(v.retry_after_ms, 700);
    assert_int_equal(v.remaining_requests, 0);
    /* Refusals do not count: just before, still refused; at the moment, admitted. */
    mock_rl_admit(&rl, t + 999 * MS, 10, &v);
    assert_false(v.admitted);
    assert_int_equal(v.retry_after_ms, 1);
    mock_rl_admit(&rl, t + 1000 * MS, 10, &v);
    assert_true(v.admitted);
    assert_int_equal(v.remaining_requests, 0);
    mock_rl_free(&rl);
}

static void test_tokens_per_minute(void **state)
{
    struct mock_rl rl;
    struct mock_rl_verdict v;
    mock_rl_init(&rl, 0, 1000, 100);
    uint64_t t = 1000 * MS;
    mock_rl_admit(&rl, t, 40, &v);
    assert_true(v.admitted);
    assert_int_equal(v.remaining_tokens, 60);
    assert_int_equal(v.reset_tokens_ms, 60000);
    mock_rl_admit(&rl, t + 10000 * MS, 40, &v);
    assert_true(v.admitted);
    assert_int_equal(v.remaining_tokens, 20);
    mock_rl_admit(&rl, t + 20000 * MS, 40, &v);
    assert_false(v.admitted);
    /* Freeing the first 40 is enough: it leaves at t + 60 s. */
    assert_int_equal(v.retry_after_ms, 40000);
    mock_rl_admit(&rl, t + 60000 * MS, 40, &v);
    assert_true(v.admitted);
    /* A request larger than the whole budget waits a full minute. */
    mock_rl_admit(&rl, t + 60001 * MS, 500, &v);
    assert_false(v.admitted);
    assert_true(v.retry_after_ms >= 50000);
    mock_rl_free(&rl);
}

static void test_off(void **state)
{
    struct mock_rl rl;
    struct mock_rl_verdict v;
    mock_rl_init(&rl, 0, 0, 0);
    for (int i = 0; i < 1000; i++) {
        mock_rl_admit(&rl, (uint64_t)i, 1000, &v);
        assert_true(v.admitted);
    }
    mock_rl_free(&rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests_window),
        cmocka_unit_test(test_tokens_per_minute),
        cmocka_unit_test(test_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
