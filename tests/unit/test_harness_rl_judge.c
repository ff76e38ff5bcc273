/* Unit tests for harness/rl_judge.c: the one rule for rate-limit verdicts
 * over every window kind, on synthetic decision times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness/checks.h"
#include "harness/rl_judge.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MS 1000ull

/* Admissions and refusals, each decided within [t, t + 2 ms]. */
static uint64_t adm_lo[64], adm_hi[64], ref_lo[64], ref_hi[64];
static size_t n_adm, n_ref;

static void reset(void)
{
    n_adm = n_ref = 0;
}

static void admit(uint64_t ms)
{
    adm_lo[n_adm] = ms * MS;
    adm_hi[n_adm++] = ms * MS + 2 * MS;
}

static void refuse(uint64_t ms)
{
    ref_lo[n_ref] = ms * MS;
    ref_hi[n_ref++] = ms * MS + 2 * MS;
}

static struct harness_rl_verdict judge(const char *kind, double limit, double window_ms,
                                       double burst)
{
    struct harness_rl_case c = {.kind = kind,
                                .limit = limit,
                                .window_us = window_ms * 1000,
                                .burst = burst,
                                .adm_lo = adm_lo,
                                .adm_hi = adm_hi,
                                .n_adm = n_adm,
                                .ref_lo = ref_lo,
                                .ref_hi = ref_hi,
                                .n_ref = n_ref};
    struct harness_rl_verdict v;
    harness_rl_judge(&c, &v);
    return v;
}

/* 4 just before a boundary at 400 ms and 4 just after: a correct fixed
 * window, an excess for a sliding one. */
static void across_a_boundary(int per_side)
{
    reset();
    for (int i = 0; i < per_side; i++) {
        admit(300 + (uint64_t)i * 15);
        admit(400 + (uint64_t)i * 15);
    }
}

static void test_each_kind_across_a_boundary(void **state)
{
    across_a_boundary(4);
    struct harness_rl_verdict v = judge("sliding", 4, 400, 0);
    assert_int_equal(v.status, HARNESS_FAIL);
    assert_int_equal(v.best, 8);
    assert_non_null(strstr(v.why, "8 admissions certainly shared one window of 400 ms"));
    v = judge("fixed", 4, 400, 0);
    assert_int_equal(v.status, HARNESS_PASS);
    assert_string_equal(v.why, "");
    v = judge("any", 4, 400, 0);
    assert_int_equal(v.status, HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.why, "rate_limit_window"));
    v = judge(NULL, 4, 400, 0);
    assert_int_equal(v.status, HARNESS_INCONCLUSIVE);
    /* A bucket of 4 refilling 4 per 400 ms admits 8 there; of 3, 7. */
    v = judge("bucket", 4, 400, 4);
    assert_int_equal(v.status, HARNESS_PASS);
    v = judge("bucket", 4, 400, 3);
    assert_int_equal(v.status, HARNESS_FAIL);
    assert_non_null(strstr(v.why, "token bucket of 3"));
    /* A bucket of unknown size could hold 8: no certain excess. */
    v = judge("bucket", 4, 400, 0);
    assert_int_equal(v.status, HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.why, "rate_limit_burst"));
    /* Within the limit every kind passes. */
    across_a_boundary(2);
    for (const char *const *k = (const char *const[]){"sliding", "fixed", "bucket", "any", NULL};
         *k; k++)
        assert_int_equal(judge(*k, 4, 400, 0).status, HARNESS_PASS);
}

/* More than twice the limit in one span is too many for a fixed window and
 * for the unknown kind; a bucket of unknown size could still explain it. */
static void test_more_than_twice(void **state)
{
    across_a_boundary(5);
    assert_int_equal(judge("any", 4, 400, 0).status, HARNESS_FAIL);
    struct harness_rl_verdict v = judge("fixed", 4, 400, 0);
    assert_int_equal(v.status, HARNESS_FAIL);
    assert_true(v.margin < 0);
    assert_int_equal(judge("bucket", 4, 400, 0).status, HARNESS_INCONCLUSIVE);
}

/* A fixed window of 4 that admits 5 in two bursts at different phases of
 * the window: no span of 400 ms holds more than 5 (no excess for the
 * unknown kind), but no alignment of boundaries splits both bursts. */
static void test_fixed_alignment(void **state)
{
    reset();
    for (int i = 0; i < 5; i++) {
        admit((uint64_t)i * 12);
        admit(600 + (uint64_t)i * 12);
    }
    struct harness_rl_verdict v = judge("fixed", 4, 400, 0);
    assert_int_equal(v.status, HARNESS_FAIL);
    assert_non_null(strstr(v.why, "wherever its boundaries lie"));
    assert_int_equal(judge("any", 4, 400, 0).status, HARNESS_INCONCLUSIVE);
    /* Bursts a whole window apart share their phase: one alignment splits
     * both, 2 + 3 each side. */
    reset();
    for (int i = 0; i < 5; i++) {
        admit((uint64_t)i * 12);
        admit(400 + (uint64_t)i * 12);
    }
    assert_int_equal(judge("fixed", 4, 400, 0).status, HARNESS_PASS);
}

/* Once a limiter refused, whatever its kind, it admits at most the limit
 * per window boundary or span passed since: a bucket of unknown size that
 * refused and then let 5 through within 100 ms (refilling 1 per 100 ms)
 * fails. */
static void test_after_a_refusal(void **state)
{
    reset();
    for (int i = 0; i < 3; i++)
        admit((uint64_t)i * 10);
    refuse(40);
    for (int i = 0; i < 5; i++)
        admit(100 + (uint64_t)i * 10);
    struct harness_rl_verdict v = judge("bucket", 4, 400, 0);
    assert_int_equal(v.status, HARNESS_FAIL);
    assert_non_null(strstr(v.why, "within"));
    assert_non_null(strstr(v.why, "of a 429"));
    assert_int_equal(judge("fixed", 4, 400, 0).status, HARNESS_FAIL);
    /* 4 after the refusal: one boundary may have passed, no excess. */
    n_adm--;
    assert_int_equal(judge("fixed", 4, 400, 0).status, HARNESS_PASS);
    assert_int_equal(judge("bucket", 4, 400, 0).status, HARNESS_INCONCLUSIVE);
    /* A refusal a window before more admissions says nothing of them. */
    reset();
    refuse(0);
    for (int i = 0; i < 8; i++)
        admit(450 + (uint64_t)i * 10);
    assert_int_equal(judge("bucket", 4, 400, 0).status, HARNESS_INCONCLUSIVE);
}

/* A refusal after one admission in its window (limit 4): lost for a
 * sliding or a fixed window; a token bucket of one would give it, so
 * without a size (or a kind) it is early, not lost; with no admission at
 * all no limiter gives it. */
static void test_refusals_per_kind(void **state)
{
    reset();
    admit(0);
    refuse(10);
    for (const char *const *k = (const char *const[]){"sliding", "fixed", NULL}; *k; k++) {
        struct harness_rl_verdict v = judge(*k, 4, 400, 0);
        assert_int_equal(v.lost, 1);
        assert_int_equal(v.early, 0);
        assert_true(v.lost_need == 4);
    }
    struct harness_rl_verdict v = judge("any", 4, 400, 0);
    assert_int_equal(v.lost, 0);
    assert_int_equal(v.early, 1);
    assert_non_null(strstr(v.early_why, "rate_limit_window"));
    v = judge("bucket", 4, 400, 0);
    assert_int_equal(v.lost, 0);
    assert_int_equal(v.early, 1);
    assert_non_null(strstr(v.early_why, "rate_limit_burst"));
    /* A declared size settles it: a bucket of one refuses there, one of 4
     * only after 3. */
    v = judge("bucket", 4, 400, 1);
    assert_int_equal(v.lost + v.early, 0);
    v = judge("bucket", 4, 400, 4);
    assert_int_equal(v.lost, 1);
    /* No admission at all before it: lost whatever the kind. */
    reset();
    refuse(10);
    admit(500);
    for (const char *const *k = (const char *const[]){"sliding", "fixed", "bucket", "any", NULL};
         *k; k++)
        assert_int_equal(judge(*k, 4, 400, 0).lost, 1);
}

/* A count a scenario wrote for a sliding window. */
static struct harness_rl_verdict count(const char *kind, enum harness_rl_count what, double counted,
                                       double bound, double burst)
{
    struct harness_rl_case c = {.kind = kind,
                                .limit = 5,
                                .burst = burst,
                                .count = what,
                                .counted = counted,
                                .bound = bound};
    struct harness_rl_verdict v;
    harness_rl_judge(&c, &v);
    return v;
}

static void test_counts(void **state)
{
    /* Too few refusals: a failure only for a sliding window. */
    struct harness_rl_verdict v = count("sliding", HARNESS_RL_REFUSED_MIN, 6, 10, 0);
    assert_int_equal(v.status, HARNESS_FAIL);
    for (const char *const *k = (const char *const[]){"fixed", "bucket", "", NULL}; *k; k++) {
        v = count(*k, HARNESS_RL_REFUSED_MIN, 0, 10, 0);
        assert_int_equal(v.status, HARNESS_INCONCLUSIVE);
        assert_non_null(strstr(v.why, "refuse fewer"));
    }
    /* Too many admissions: up to twice the bound another kind may admit. */
    assert_int_equal(count("sliding", HARNESS_RL_ADMITTED_MAX, 8, 5, 0).status, HARNESS_FAIL);
    v = count("fixed", HARNESS_RL_ADMITTED_MAX, 8, 5, 0);
    assert_int_equal(v.status, HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.why, "not for a fixed window or a token bucket"));
    assert_int_equal(count("fixed", HARNESS_RL_ADMITTED_MAX, 11, 5, 0).status, HARNESS_FAIL);
    assert_int_equal(count("any", HARNESS_RL_ADMITTED_MAX, 11, 5, 0).status, HARNESS_FAIL);
    /* A bucket of unknown size could explain any count; of 10, 15. */
    assert_int_equal(count("bucket", HARNESS_RL_ADMITTED_MAX, 40, 5, 0).status,
                     HARNESS_INCONCLUSIVE);
    assert_int_equal(count("bucket", HARNESS_RL_ADMITTED_MAX, 15, 5, 10).status,
                     HARNESS_INCONCLUSIVE);
    assert_int_equal(count("bucket", HARNESS_RL_ADMITTED_MAX, 16, 5, 10).status, HARNESS_FAIL);
}

/* A count and admissions together: an excess the windows prove stays a
 * failure, whatever the count's excuse. */
static void test_count_with_windows(void **state)
{
    across_a_boundary(5);
    struct harness_rl_case c = {.kind = "fixed",
                                .limit = 4,
                                .window_us = 400 * MS,
                                .adm_lo = adm_lo,
                                .adm_hi = adm_hi,
                                .n_adm = n_adm,
                                .count = HARNESS_RL_REFUSED_MIN,
                                .counted = 0,
                                .bound = 4};
    struct harness_rl_verdict v;
    harness_rl_judge(&c, &v);
    assert_int_equal(v.status, HARNESS_FAIL);
    assert_non_null(strstr(v.why, "wherever its boundaries lie"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_kind_across_a_boundary),
        cmocka_unit_test(test_more_than_twice),
        cmocka_unit_test(test_fixed_alignment),
        cmocka_unit_test(test_after_a_refusal),
        cmocka_unit_test(test_refusals_per_kind),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_count_with_windows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
