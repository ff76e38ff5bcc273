/* Unit tests for relay_retryafter: seconds, fractions, milliseconds (which
 * win), HTTP dates in the three forms, dates in the past, and garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay/relay_retryafter.h"

/* Thu, 26 Nov 2026 06:00:00 GMT, in ms */
static const uint64_t NOW = 1795672800000ull;

static void test_seconds(void **state)
{
    uint64_t ms = 0;
    assert_int_equal(relay_retryafter_parse("2", NULL, NOW, &ms), 0);
    assert_int_equal(ms, 2000);
    assert_int_equal(relay_retryafter_parse(" 0 ", NULL, NOW, &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(relay_retryafter_parse("1.5", NULL, NOW, &ms), 0);
    assert_int_equal(ms, 1500);
    assert_int_equal(relay_retryafter_parse("120", NULL, NOW, &ms), 0);
    assert_int_equal(ms, 120000);
}

static void test_ms_wins(void **state)
{
    uint64_t ms = 0;
    assert_int_equal(relay_retryafter_parse("5", "250", NOW, &ms), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(relay_retryafter_parse(NULL, "40", NOW, &ms), 0);
    assert_int_equal(ms, 40);
    /* A bad retry-after-ms falls back to Retry-After. */
    assert_int_equal(relay_retryafter_parse("3", "soon", NOW, &ms), 0);
    assert_int_equal(ms, 3000);
}

static void test_dates(void **state)
{
    uint64_t ms = 0;
    assert_int_equal(relay_retryafter_parse("Thu, 26 Nov 2026 06:00:07 GMT", NULL, NOW, &ms), 0);
    assert_int_equal(ms, 7000);
    assert_int_equal(relay_retryafter_parse("Thursday, 26-Nov-26 06:00:03 GMT", NULL, NOW, &ms), 0);
    assert_int_equal(ms, 3000);
    assert_int_equal(relay_retryafter_parse("Thu Nov 26 06:00:09 2026", NULL, NOW, &ms), 0);
    assert_int_equal(ms, 9000);
    /* From now to the instant, to the millisecond: 250 ms into the
     * second, a date 2 s on is 1,750 ms away (a whole-second clock that
     * still read the second before said 3,000). */
    assert_int_equal(relay_retryafter_parse("Thu, 26 Nov 2026 06:00:02 GMT", NULL, NOW + 250, &ms),
                     0);
    assert_int_equal(ms, 1750);
    /* In the past: no wait. */
    assert_int_equal(relay_retryafter_parse("Wed, 25 Nov 2026 06:00:00 GMT", NULL, NOW, &ms), 0);
    assert_int_equal(ms, 0);
}

static void test_garbage(void **state)
{
    uint64_t ms = 77;
    const char *bad[] = {"",    "soon", "-1", "1s", "0x10", "Thu, 99 Foo 2026 06:00:07 GMT",
                         "nan", "inf",  "1 2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(relay_retryafter_parse(bad[i], NULL, NOW, &ms), -1);
    assert_int_equal(relay_retryafter_parse(NULL, NULL, NOW, &ms), -1);
    assert_int_equal(ms, 77); /* untouched on failure */
}

static void test_huge_is_bounded(void **state)
{
    uint64_t ms = 0;
    assert_int_equal(relay_retryafter_parse("99999999999999999999", NULL, NOW, &ms), 0);
    assert_true(ms <= 86400000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seconds),         cmocka_unit_test(test_ms_wins),
        cmocka_unit_test(test_dates),           cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_huge_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
