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
    struct relay_switch_cfg c = {
        .after_failures = k, .min_dwell_us = dwell_us, .rise = rise, .fall = fall};
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

/* Primary-fallback: blue primary, back after 1000 us and 3 good checks,
 * dwell 0 unless given. */
static struct relay_switch mk_pf(uint64_t dwell_us)
{
    struct relay_switch s;
    struct relay_switch_cfg c = {.after_failures = 1,
                                 .min_dwell_us = dwell_us,
                                 .rise = 1,
                                 .fall = 1,
                                 .mode = RELAY_MODE_PRIMARY_FALLBACK,
                                 .primary = RELAY_BLUE,
                                 .failback_after_us = 1000,
                                 .failback_rise = 3};
    relay_switch_init(&s, &c, RELAY_BLUE, 0);
    return s;
}

static void test_mode_names(void **state)
{
    assert_int_equal(relay_mode_parse("blue-green"), RELAY_MODE_BLUE_GREEN);
    assert_int_equal(relay_mode_parse("primary-fallback"), RELAY_MODE_PRIMARY_FALLBACK);
    assert_int_equal(relay_mode_parse("active-active"), -1);
    assert_int_equal(relay_mode_parse(NULL), -1);
    assert_string_equal(relay_mode_name(RELAY_MODE_PRIMARY_FALLBACK), "primary-fallback");
}

static void test_failback_after_rise_and_time(void **state)
{
    struct relay_switch s = mk_pf(0);
    int changed;
    /* A request failure moves to green at t=100. */
    assert_int_equal(relay_switch_on_result(&s, RELAY_BLUE, 0, 1, 100), 1);
    assert_int_equal(s.active, RELAY_GREEN);
    /* Three good checks of blue, but only 600 us on green: not yet. */
    assert_int_equal(relay_switch_on_health(&s, RELAY_BLUE, 1, 300, &changed), RELAY_SW_NONE);
    assert_int_equal(relay_switch_on_health(&s, RELAY_BLUE, 1, 500, &changed), RELAY_SW_NONE);
    assert_int_equal(relay_switch_on_health(&s, RELAY_BLUE, 1, 700, &changed), RELAY_SW_NONE);
    assert_false(relay_switch_failback_due(&s, 1099));
    /* Green's checks count for nothing. */
    assert_int_equal(relay_switch_on_health(&s, RELAY_GREEN, 1, 1099, &changed), RELAY_SW_NONE);
    /* The next good check of blue after failback_after: back to blue. */
    assert_true(relay_switch_failback_due(&s, 1100));
    assert_int_equal(relay_switch_on_health(&s, RELAY_BLUE, 1, 1100, &changed), RELAY_SW_FAILBACK);
    assert_int_equal(s.active, RELAY_BLUE);
    assert_int_equal(s.previous, RELAY_GREEN);
    assert_int_equal(s.since_us, 1100);
    /* Blue's old failure streak is forgotten: one more failure is needed
     * (K=1) and it switches again, like the first time. */
    assert_int_equal(s.env[RELAY_BLUE].fail_streak, 0);
    assert_false(relay_switch_failback_due(&s, 5000));
}

static void test_failback_needs_consecutive_checks(void **state)
{
    struct relay_switch s = mk_pf(0);
    int changed;
    assert_int_equal(relay_switch_on_result(&s, RELAY_BLUE, 0, 1, 100), 1);
    relay_switch_on_health(&s, RELAY_BLUE, 1, 2000, &changed);
    relay_switch_on_health(&s, RELAY_BLUE, 1, 2100, &changed);
    /* A bad check (fall=1: blue unhealthy) starts the count again. */
    relay_switch_on_health(&s, RELAY_BLUE, 0, 2200, &changed);
    assert_false(relay_switch_healthy(&s, RELAY_BLUE));
    assert_int_equal(relay_switch_on_health(&s, RELAY_BLUE, 1, 2300, &changed), RELAY_SW_NONE);
    assert_int_equal(relay_switch_on_health(&s, RELAY_BLUE, 1, 2400, &changed), RELAY_SW_NONE);
    assert_int_equal(s.active, RELAY_GREEN);
    assert_int_equal(relay_switch_on_health(&s, RELAY_BLUE, 1, 2500, &changed), RELAY_SW_FAILBACK);
}

static void test_failback_counts_only_checks_after_the_switch(void **state)
{
    struct relay_switch s = mk_pf(0);
    int changed;
    /* Blue passed many checks before it failed traffic: they do not count. */
    for (uint64_t t = 10; t < 100; t += 10)
        relay_switch_on_health(&s, RELAY_BLUE, 1, t, &changed);
    assert_int_equal(relay_switch_on_result(&s, RELAY_BLUE, 0, 1, 100), 1);
    assert_int_equal(relay_switch_on_health(&s, RELAY_BLUE, 1, 5000, &changed), RELAY_SW_NONE);
    assert_int_equal(relay_switch_on_health(&s, RELAY_BLUE, 1, 5100, &changed), RELAY_SW_NONE);
    assert_int_equal(relay_switch_on_health(&s, RELAY_BLUE, 1, 5200, &changed), RELAY_SW_FAILBACK);
}

static void test_failback_respects_min_dwell(void **state)
{
    struct relay_switch s = mk_pf(4000);
    int changed;
    /* A health switch is not held by dwell; the fail-back is. */
    assert_int_equal(relay_switch_on_health(&s, RELAY_BLUE, 0, 100, &changed), RELAY_SW_HEALTH);
    for (uint64_t t = 200; t < 4100; t += 200)
        assert_int_equal(relay_switch_on_health(&s, RELAY_BLUE, 1, t, &changed), RELAY_SW_NONE);
    assert_int_equal(relay_switch_on_health(&s, RELAY_BLUE, 1, 4100, &changed), RELAY_SW_FAILBACK);
}

static void test_no_failback_in_blue_green_or_after_admin(void **state)
{
    int changed;
    struct relay_switch bg = mk(1, 0, 1, 1);
    bg.cfg.failback_after_us = 0;
    assert_int_equal(relay_switch_on_result(&bg, RELAY_BLUE, 0, 1, 100), 1);
    for (uint64_t t = 200; t < 2000; t += 100)
        assert_int_equal(relay_switch_on_health(&bg, RELAY_BLUE, 1, t, &changed), RELAY_SW_NONE);
    assert_int_equal(bg.active, RELAY_GREEN);
    /* An operator's switch is a decision, not an outage: it stays. */
    struct relay_switch pf = mk_pf(0);
    assert_int_equal(relay_switch_force(&pf, RELAY_GREEN, 100), 1);
    for (uint64_t t = 200; t < 5000; t += 100)
        assert_int_equal(relay_switch_on_health(&pf, RELAY_BLUE, 1, t, &changed), RELAY_SW_NONE);
    assert_int_equal(pf.active, RELAY_GREEN);
    /* Nor does the fallback fail back to itself once it is the primary's
     * only alternative: a failure-driven switch to the primary is not
     * "away". */
    struct relay_switch g = mk_pf(0);
    g.cfg.primary = RELAY_GREEN;
    assert_int_equal(relay_switch_on_result(&g, RELAY_BLUE, 0, 1, 100), 1);
    assert_int_equal(g.active, RELAY_GREEN);
    assert_false(g.auto_away);
    assert_int_equal(relay_switch_on_health(&g, RELAY_GREEN, 1, 9000, &changed), RELAY_SW_NONE);
}

static void test_no_failback_to_unhealthy_primary(void **state)
{
    struct relay_switch s = mk_pf(0);
    s.cfg.rise = 5; /* healthy after 5 good checks, fail-back after 3 */
    int changed;
    assert_int_equal(relay_switch_on_health(&s, RELAY_BLUE, 0, 100, &changed), RELAY_SW_HEALTH);
    for (uint64_t t = 2000; t < 2400; t += 100)
        assert_int_equal(relay_switch_on_health(&s, RELAY_BLUE, 1, t, &changed), RELAY_SW_NONE);
    assert_false(relay_switch_healthy(&s, RELAY_BLUE));
    assert_int_equal(relay_switch_on_health(&s, RELAY_BLUE, 1, 2400, &changed), RELAY_SW_FAILBACK);
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
        cmocka_unit_test(test_mode_names),
        cmocka_unit_test(test_failback_after_rise_and_time),
        cmocka_unit_test(test_failback_needs_consecutive_checks),
        cmocka_unit_test(test_failback_counts_only_checks_after_the_switch),
        cmocka_unit_test(test_failback_respects_min_dwell),
        cmocka_unit_test(test_no_failback_in_blue_green_or_after_admin),
        cmocka_unit_test(test_no_failback_to_unhealthy_primary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
