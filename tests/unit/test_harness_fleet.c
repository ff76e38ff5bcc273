/* Unit tests for harness/fleet: the fleet's rate-limit figures (worst
 * window, lost refusals) under the uncertainty of client-side times, colour
 * agreement (lag, split brain) and probe load, on synthetic observations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness/fleet.h"

#define MS 1000ULL

static void test_rl_exact_limit(void **state)
{
    /* 3 replicas, limit 6 per second: 6 admitted in the first 60 ms, then
     * 6 refused, then 6 admitted after the window. */
    struct harness_fleet_req r[18];
    for (int i = 0; i < 18; i++) {
        uint64_t t = i < 12 ? (uint64_t)i * 10 * MS : 1100 * MS + (uint64_t)i * MS;
        r[i] = (struct harness_fleet_req){t, t + 2 * MS, i % 3, i < 6 || i >= 12};
    }
    struct harness_fleet_rl o;
    assert_int_equal(harness_fleet_rate_limit(r, 18, 1000 * MS, 6, &o), 0);
    assert_int_equal(o.admitted, 12);
    assert_int_equal(o.refused, 6);
    assert_int_equal(o.worst, 6);
    assert_int_equal(o.lost, 0);
}

static void test_rl_over_admission(void **state)
{
    /* Three local limiters of 5 each: 15 admitted in 30 ms. */
    struct harness_fleet_req r[15];
    for (int i = 0; i < 15; i++)
        r[i] =
            (struct harness_fleet_req){(uint64_t)i * 2 * MS, (uint64_t)i * 2 * MS + MS, i % 3, 1};
    struct harness_fleet_rl o;
    assert_int_equal(harness_fleet_rate_limit(r, 15, 1000 * MS, 5, &o), 0);
    assert_int_equal(o.worst, 15);
    assert_int_equal(o.worst_at, 29 * MS);
}

static void test_rl_uncertainty_is_not_a_violation(void **state)
{
    /* Three admissions whose brackets span three windows: they may have
     * been decided a window apart, so nothing is proven. */
    struct harness_fleet_req r[3];
    for (int i = 0; i < 3; i++)
        r[i] = (struct harness_fleet_req){0, 3000 * MS, i, 1};
    struct harness_fleet_rl o;
    assert_int_equal(harness_fleet_rate_limit(r, 3, 1000 * MS, 2, &o), 0);
    assert_int_equal(o.worst, 0);
}

static void test_rl_lost(void **state)
{
    /* Limit 2 per second: two admissions at 0-1 ms.  A refusal at 500 ms is
     * justified; one at 2000 ms is not (the window was empty); one whose
     * bracket reaches back into the first admissions' window is justified. */
    struct harness_fleet_req r[] = {
        {0, 1 * MS, 0, 1},
        {0, 1 * MS, 1, 1},
        {500 * MS, 501 * MS, 2, 0},
        {2000 * MS, 2001 * MS, 0, 0},
        {1000 * MS, 1002 * MS, 1, 0}, /* decided at 1000.5 ms: the 1 ms one may count */
    };
    struct harness_fleet_rl o;
    assert_int_equal(harness_fleet_rate_limit(r, 5, 1000 * MS, 2, &o), 0);
    assert_int_equal(o.refused, 3);
    assert_int_equal(o.lost, 1);
    assert_int_equal(o.first_lost_at, 2000 * MS);
    /* Exactly at the edge: admissions decided by 1 ms leave the window at
     * 1001 ms at the latest; a refusal entirely after 1001 ms is lost. */
    struct harness_fleet_req e[] = {
        {0, 1 * MS, 0, 1},
        {0, 1 * MS, 1, 1},
        {1001 * MS, 1001 * MS, 2, 0},
        {1000 * MS + 999, 1000 * MS + 999, 2, 0},
    };
    assert_int_equal(harness_fleet_rate_limit(e, 4, 1000 * MS, 2, &o), 0);
    assert_int_equal(o.lost, 1);
    assert_int_equal(o.first_lost_at, 1001 * MS);
}

static void test_rl_bad_input(void **state)
{
    struct harness_fleet_rl o;
    struct harness_fleet_req r[] = {{10, 5, 0, 1}};
    assert_int_equal(harness_fleet_rate_limit(r, 1, 1000, 1, &o), -1);
    assert_int_equal(harness_fleet_rate_limit(r, 0, 1000, 1, &o), -1);
}

static void test_agreement(void **state)
{
    struct harness_fleet_colour ev[] = {
        {0, 0, 'b'},        {0, 1, 'b'},        {0, 2, 'b'},        {101 * MS, 0, 'g'},
        {103 * MS, 1, 'g'}, {150 * MS, 2, 'g'}, {300 * MS, 1, 'g'}, /* a request served: no change
                                                                     */
    };
    struct harness_fleet_agree a;
    assert_int_equal(harness_fleet_agreement(ev, 7, 3, 100 * MS, 'g', 400 * MS, &a), 0);
    assert_int_equal(a.lag_us, 50 * MS);
    assert_int_equal(a.laggard, 2);
    assert_int_equal(a.split_us, 49 * MS);
    assert_int_equal(a.split_at, 101 * MS);
    /* Replica 2 never follows: no lag, and the split lasts to the end. */
    assert_int_equal(harness_fleet_agreement(ev, 5, 3, 100 * MS, 'g', 400 * MS, &a), 0);
    assert_int_equal(a.lag_us, -1);
    assert_int_equal(a.split_us, 299 * MS);
    /* Already there when the switch is asked: lag 0. */
    assert_int_equal(harness_fleet_agreement(ev, 7, 3, 200 * MS, 'g', 400 * MS, &a), 0);
    assert_int_equal(a.lag_us, 0);
    assert_int_equal(harness_fleet_agreement(ev, 6, 3, 200 * MS, 'g', 400 * MS, &a), 0);
    assert_int_equal(a.lag_us, 0);
    /* Out of order or a replica out of range: refused. */
    struct harness_fleet_colour bad[] = {{5, 0, 'b'}, {4, 1, 'b'}};
    assert_int_equal(harness_fleet_agreement(bad, 2, 2, 0, 'b', 10, &a), -1);
    struct harness_fleet_colour bad2[] = {{5, 3, 'b'}};
    assert_int_equal(harness_fleet_agreement(bad2, 1, 2, 0, 'b', 10, &a), -1);
}

static void test_probe_load(void **state)
{
    /* 3 replicas probing each colour every second for 3 s, plus one probe
     * outside the span. */
    uint64_t t[19];
    char c[19];
    size_t n = 0;
    for (int s = 0; s < 3; s++)
        for (int rep = 0; rep < 3; rep++) {
            t[n] = (uint64_t)s * 1000 * MS + (uint64_t)rep * 10 * MS;
            c[n++] = 'b';
            t[n] = (uint64_t)s * 1000 * MS + (uint64_t)rep * 10 * MS + 5 * MS;
            c[n++] = 'g';
        }
    t[n] = 5000 * MS;
    c[n++] = 'b';
    struct harness_fleet_probes p;
    assert_int_equal(harness_fleet_probe_load(t, c, n, 0, 3000 * MS, 1000 * MS, &p), 0);
    assert_int_equal(p.total[0], 9);
    assert_int_equal(p.total[1], 9);
    assert_true(p.per_interval[0] > 2.99 && p.per_interval[0] < 3.01);
    assert_int_equal(p.max_interval[1], 3);
    assert_int_equal(harness_fleet_probe_load(t, c, n, 10, 10, 1000, &p), -1);
    assert_int_equal(harness_fleet_probe_load(t, c, n, 0, 10, 0, &p), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rl_exact_limit),
        cmocka_unit_test(test_rl_over_admission),
        cmocka_unit_test(test_rl_uncertainty_is_not_a_violation),
        cmocka_unit_test(test_rl_lost),
        cmocka_unit_test(test_rl_bad_input),
        cmocka_unit_test(test_agreement),
        cmocka_unit_test(test_probe_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
