/* Unit tests for relay_classify: what is retried, what counts against a
 * colour, and under which reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay/relay_classify.h"

#include <string.h>

static void test_success(void **state)
{
    int ok[] = {200, 201, 204, 302};
    for (size_t i = 0; i < 4; i++) {
        struct relay_verdict v = relay_classify(RELAY_ERR_NONE, ok[i]);
        assert_true(v.ok);
        assert_false(v.retry);
        assert_false(v.switchable);
    }
}

static void test_retried_and_switchable(void **state)
{
    int st[] = {500, 502, 503, 504};
    for (size_t i = 0; i < 4; i++) {
        struct relay_verdict v = relay_classify(RELAY_ERR_NONE, st[i]);
        assert_false(v.ok);
        assert_true(v.retry);
        assert_true(v.switchable);
    }
    assert_string_equal(relay_classify(RELAY_ERR_NONE, 503).reason, "upstream_503");
}

static void test_429_retried_not_switchable(void **state)
{
    struct relay_verdict v = relay_classify(RELAY_ERR_NONE, 429);
    assert_true(v.retry);
    assert_false(v.switchable);
    assert_string_equal(v.reason, "upstream_429");
}

static void test_client_errors_not_retried(void **state)
{
    int st[] = {400, 401, 403, 404, 422, 418, 409};
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
        struct relay_verdict v = relay_classify(RELAY_ERR_NONE, st[i]);
        assert_false(v.ok);
        assert_false(v.retry);
        assert_false(v.switchable);
    }
    assert_string_equal(relay_classify(RELAY_ERR_NONE, 401).reason, "upstream_401");
    /* 501 will not change on a retry. */
    assert_false(relay_classify(RELAY_ERR_NONE, 501).retry);
}

static void test_transport(void **state)
{
    const struct {
        enum relay_err e;
        const char *reason, *name;
    } t[] = {
        {RELAY_ERR_CONNECT, "connect_error", "connect"},
        {RELAY_ERR_TIMEOUT, "upstream_timeout", "timeout"},
        {RELAY_ERR_RESET, "reset", "reset"},
        {RELAY_ERR_TTFB_TIMEOUT, "ttfb_timeout", "ttfb_timeout"},
        {RELAY_ERR_IDLE_TIMEOUT, "idle_timeout", "idle_timeout"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct relay_verdict v = relay_classify(t[i].e, 0);
        assert_true(v.retry);
        assert_true(v.switchable);
        assert_false(v.ok);
        assert_string_equal(v.reason, t[i].reason);
        assert_string_equal(relay_err_name(t[i].e), t[i].name);
    }
    assert_null(relay_err_name(RELAY_ERR_NONE));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_success),
        cmocka_unit_test(test_retried_and_switchable),
        cmocka_unit_test(test_429_retried_not_switchable),
        cmocka_unit_test(test_client_errors_not_retried),
        cmocka_unit_test(test_transport),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
