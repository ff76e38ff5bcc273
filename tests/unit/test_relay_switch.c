/* Unit tests for relay_switch: K consecutive failures, success resetting the
 * streak, min dwell, never to an unhealthy colour, no flip-flop when both
 * fail, health rise/fall, health-driven switch, admin force and rollback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay/relay_switch.h"

static struct relay_switch mk(unsigned k, uint64_t dwell_us, unsigned rise, unsigned fall)
{
    struct relay_switch s;
    struct relay_switch_cfg c = {k, dwell_us, rise, fall};
    relay_switch_init(&s, &c, RELAY_BLUE, 0);
    return s;
}

static void test_names(void **state)
{
    assert_int_equal(relay_env_parse("green"), RELAY_GREEN);
    assert_int_equal(relay_env_parse("direct"), RELAY_DIRECT);
    assert_int_equal(relay_env_parse("red"), -1);
    assert_string_equal(relay_env_name(RELAY_BLUE), "blue");
}

static void test_k_consecutive(void **state)
{
    struct relay_switch s = mk(3, 0, 1, 1);
    assert_int_equal(relay_switch_on_result(&s, RELAY_BLUE, 0, 1, 10), 0);
    assert_int_equal(relay_switch_on_result(&s, RELAY_BLUE, 0, 1, 20), 0);
    /* A success in between resets the streak. */
    assert_int_equal(relay_switch_on_result(&s, RELAY_BLUE, 1, 0, 30), 0);
    assert_int_equal(relay_switch_on_result(&s, RELAY_BLUE, 0, 1, 40), 0);
    assert_int_equal(relay_switch_on_result(&s, RELAY_BLUE, 0, 1, 50), 0);
    /* Non-switchable failures (a 429, a 401) neither count nor reset. */
    assert_int_equal(relay_switch_on_result(&s, RELAY_BLUE, 0, 0, 55), 0);
    assert_int_equal(relay_switch_on_result(&s, RELAY_BLUE, 0, 1, 60), 1);
    assert_int_equal(s.active, RELAY_GREEN);
    assert_int_equal(s.since_us, 60);
}

static void test_k1_switches_at_once(void **state)
{
    struct relay_switch s = mk(1, 0, 1, 1);
    assert_int_equal(relay_switch_on_result(&s, RELAY_BLUE, 0, 1, 10), 1);
    assert_int_equal(s.active, RELAY_GREEN);
}

static void test_failures_of_inactive_never_switch_back(void **state)
{
    struct relay_switch s = mk(1, 0, 1, 1);
    assert_int_equal(relay_switch_on_result(&s, RELAY_BLUE, 0, 1, 10), 1);
    /* Concurrent requests that started on blue fail later: no flip back. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(relay_switch_on_result(&s, RELAY_BLUE, 0, 1, 20 + i), 0);
    assert_int_equal(s.active, RELAY_GREEN);
}

static void test_no_flip_flop_when_both_fail(void **state)
{
    struct relay_switch s = mk(1, 0, 1, 1);
    assert_int_equal(relay_switch_on_result(&s, RELAY_BLUE, 0, 1, 10), 1);
    /* Green fails too; blue is itself on a failure streak: stay. */
    assert_int_equal(relay_switch_on_result(&s, RELAY_GREEN, 0, 1, 20), 0);
    assert_int_equal(s.active, RELAY_GREEN);
    /* Blue answers again: a later green failure may switch back. */
    relay_switch_on_result(&s, RELAY_BLUE, 1, 0, 30);
    assert_int_equal(relay_switch_on_result(&s, RELAY_GREEN, 0, 1, 40), 1);
    assert_int_equal(s.active, RELAY_BLUE);
}

static void test_min_dwell(void **state)
{
    struct relay_switch s = mk(1, 1000, 1, 1);
    /* Active since 0: a failure at 500 µs is inside the dwell. */
    assert_int_equal(relay_switch_on_result(&s, RELAY_BLUE, 0, 1, 500), 0);
    assert_int_equal(s.active, RELAY_BLUE);
    assert_int_equal(relay_switch_on_result(&s, RELAY_BLUE, 0, 1, 999), 0);
    assert_int_equal(relay_switch_on_result(&s, RELAY_BLUE, 0, 1, 1000), 1);
    assert_int_equal(s.active, RELAY_GREEN);
}

static void test_never_to_unhealthy(void **state)
{
    struct relay_switch s = mk(1, 0, 1, 1);
    int changed;
    relay_switch_on_health(&s, RELAY_GREEN, 0, 5, &changed);
    assert_int_equal(changed, 1);
    assert_false(relay_switch_healthy(&s, RELAY_GREEN));
    assert_int_equal(relay_switch_on_result(&s, RELAY_BLUE, 0, 1, 10), 0);
    assert_int_equal(s.active, RELAY_BLUE);
    /* Admin refusal is the API's job; the state machine can still force. */
}

static void test_health_rise_fall_and_switch(void **state)
{
    struct relay_switch s = mk(1, 1000000, 2, 3);
    int changed;
    /* Two bad checks: below fall=3, still healthy. */
    assert_int_equal(relay_switch_on_health(&s, RELAY_BLUE, 0, 10, &changed), 0);
    assert_int_equal(changed, 0);
    assert_int_equal(relay_switch_on_health(&s, RELAY_BLUE, 0, 20, &changed), 0);
    assert_true(relay_switch_healthy(&s, RELAY_BLUE));
    /* A good check resets the bad count. */
    relay_switch_on_health(&s, RELAY_BLUE, 1, 25, &changed);
    assert_int_equal(changed, 0);
    relay_switch_on_health(&s, RELAY_BLUE, 0, 30, &changed);
    relay_switch_on_health(&s, RELAY_BLUE, 0, 40, &changed);
    assert_int_equal(changed, 0);
    /* Third consecutive: unhealthy, and the active colour is left at once
     * (dwell does not hold us on a dead colour). */
    assert_int_equal(relay_switch_on_health(&s, RELAY_BLUE, 0, 50, &changed), 1);
    assert_int_equal(changed, 1);
    assert_int_equal(s.active, RELAY_GREEN);
    /* Rise=2: one good check is not enough. */
    relay_switch_on_health(&s, RELAY_BLUE, 1, 60, &changed);
    assert_int_equal(changed, 0);
    assert_false(relay_switch_healthy(&s, RELAY_BLUE));
    relay_switch_on_health(&s, RELAY_BLUE, 1, 70, &changed);
    assert_int_equal(changed, 1);
    assert_true(relay_switch_healthy(&s, RELAY_BLUE));
    /* Recovery does not switch back by itself. */
    assert_int_equal(s.active, RELAY_GREEN);
}

static void test_both_unhealthy_stays(void **state)
{
    struct relay_switch s = mk(1, 0, 1, 1);
    int changed;
    relay_switch_on_health(&s, RELAY_GREEN, 0, 10, &changed);
    assert_int_equal(relay_switch_on_health(&s, RELAY_BLUE, 0, 20, &changed), 0);
    assert_int_equal(s.active, RELAY_BLUE);
}

static void test_force_and_rollback(void **state)
{
    struct relay_switch s = mk(1, 0, 1, 1);
    assert_int_equal(relay_switch_force(&s, RELAY_BLUE, 5), 0);
    assert_int_equal(relay_switch_force(&s, RELAY_GREEN, 10), 1);
    assert_int_equal(s.active, RELAY_GREEN);
    assert_int_equal(s.previous, RELAY_BLUE);
    assert_int_equal(relay_switch_rollback(&s, 20), 1);
    assert_int_equal(s.active, RELAY_BLUE);
    assert_int_equal(s.previous, RELAY_GREEN);
    assert_int_equal(relay_switch_force(&s, RELAY_DIRECT, 30), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_k_consecutive),
        cmocka_unit_test(test_k1_switches_at_once),
        cmocka_unit_test(test_failures_of_inactive_never_switch_back),
        cmocka_unit_test(test_no_flip_flop_when_both_fail),
        cmocka_unit_test(test_min_dwell),
        cmocka_unit_test(test_never_to_unhealthy),
        cmocka_unit_test(test_health_rise_fall_and_switch),
        cmocka_unit_test(test_both_unhealthy_stays),
        cmocka_unit_test(test_force_and_rollback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
