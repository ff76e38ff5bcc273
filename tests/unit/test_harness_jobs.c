/* Unit tests of harness/jobs.c: a result survives the trip between
 * processes (struct, checks, log tail, scenario copy), a damaged one is
 * refused with a reason, and the rules of the pool (default width, which
 * scenario runs alone, what counts as disturbed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness/jobs.h"

#include <stdio.h>
#include <string.h>

static void fill(struct report_scenario *rs)
{
    memset(rs, 0, sizeof *rs);
    snprintf(rs->name, sizeof rs->name, "blue-503");
    snprintf(rs->file, sizeof rs->file, "scenarios/failover/blue-503.json");
    rs->status = REPORT_FAIL;
    rs->seed = 43;
    rs->requests = 40;
    rs->driver.present = 1;
    rs->driver.achieved_rps = 39.5;
    rs->n_checks = 2;
    rs->checks = calloc(2, sizeof *rs->checks);
    snprintf(rs->checks[0].check, sizeof rs->checks[0].check, "harness_on_time");
    rs->checks[0].status = REPORT_INCONCLUSIVE;
    snprintf(rs->checks[0].measured, sizeof rs->checks[0].measured, "late by at most 80.0 ms");
    snprintf(rs->checks[1].check, sizeof rs->checks[1].check, "attempts");
    rs->checks[1].status = REPORT_FAIL;
    rs->checks[1].margin = -1.5;
    rs->log_tail = strdup("line one\nline two\n");
    rs->doc = json_pack("{s:s, s:[i,i]}", "name", "blue-503", "v", 1, 2);
}

static void test_roundtrip(void **state)
{
    struct report_scenario a, b;
    fill(&a);
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(harness_result_write(f, &a), 0);
    rewind(f);
    char err[256] = "";
    assert_int_equal(harness_result_read(f, &b, err, sizeof err), 0);
    assert_string_equal(b.name, a.name);
    assert_string_equal(b.file, a.file);
    assert_int_equal(b.status, REPORT_FAIL);
    assert_int_equal(b.seed, 43);
    assert_int_equal(b.requests, 40);
    assert_true(b.driver.present);
    assert_true(b.driver.achieved_rps == 39.5);
    assert_int_equal(b.n_checks, 2);
    assert_string_equal(b.checks[1].check, "attempts");
    assert_true(b.checks[1].margin == -1.5);
    assert_string_equal(b.log_tail, a.log_tail);
    assert_true(json_equal(b.doc, a.doc));
    /* The copy owns its own memory. */
    assert_ptr_not_equal(b.checks, a.checks);
    assert_ptr_not_equal(b.doc, a.doc);
    /* And the disturbed rule reads the runner's own check. */
    assert_non_null(harness_disturbed(&b));
    assert_string_equal(harness_disturbed(&b)->measured, "late by at most 80.0 ms");
    b.checks[0].status = REPORT_PASS;
    assert_null(harness_disturbed(&b));
    report_scenario_clear(&a);
    report_scenario_clear(&b);
    fclose(f);
}

static void test_no_pointers(void **state)
{
    struct report_scenario a, b;
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "empty");
    FILE *f = tmpfile();
    assert_int_equal(harness_result_write(f, &a), 0);
    rewind(f);
    char err[256];
    assert_int_equal(harness_result_read(f, &b, err, sizeof err), 0);
    assert_null(b.checks);
    assert_null(b.log_tail);
    assert_null(b.doc);
    assert_string_equal(b.name, "empty");
    fclose(f);
}

static void test_damaged(void **state)
{
    struct report_scenario a, b;
    fill(&a);
    FILE *f = tmpfile();
    assert_int_equal(harness_result_write(f, &a), 0);
    long full = ftell(f);
    char *buf = malloc((size_t)full);
    rewind(f);
    assert_int_equal(fread(buf, 1, (size_t)full, f), (size_t)full);
    fclose(f);
    /* Cut at every length short of the whole: always refused, never a
     * half-filled result. */
    for (long cut = 0; cut < full; cut += cut < 64 ? 1 : 97) {
        FILE *g = tmpfile();
        fwrite(buf, 1, (size_t)cut, g);
        rewind(g);
        char err[256] = "";
        assert_int_equal(harness_result_read(g, &b, err, sizeof err), -1);
        assert_true(err[0] != '\0');
        assert_null(b.checks);
        assert_null(b.doc);
        fclose(g);
    }
    /* A wrong magic. */
    buf[0] ^= 0x55;
    FILE *g = tmpfile();
    fwrite(buf, 1, (size_t)full, g);
    rewind(g);
    char err[256];
    assert_int_equal(harness_result_read(g, &b, err, sizeof err), -1);
    fclose(g);
    free(buf);
    report_scenario_clear(&a);
}

static void test_rules(void **state)
{
    int d = harness_jobs_default();
    assert_true(d >= 1 && d <= 4);
    char err[512];
    const char *load = "{\"name\":\"l\",\"tags\":[\"load\"],\"traffic\":{\"concurrency\":2,"
                       "\"count\":4},\"expect\":[{\"check\":\"client_success_ratio\",\"min\":1}]}";
    const char *plain = "{\"name\":\"p\",\"tags\":[\"timing\"],\"traffic\":{\"rate_rps\":5,"
                        "\"duration_ms\":100},\"expect\":[{\"check\":\"client_success_ratio\","
                        "\"min\":1}]}";
    json_t *jl = json_loads(load, 0, NULL), *jp = json_loads(plain, 0, NULL);
    struct harness_scenario *sl = harness_scenario_from_json(jl, "l.json", 1.0, err, sizeof err);
    struct harness_scenario *sp = harness_scenario_from_json(jp, "p.json", 1.0, err, sizeof err);
    assert_non_null(sl);
    assert_non_null(sp);
    assert_true(harness_job_exclusive(sl));
    assert_false(harness_job_exclusive(sp));
    harness_scenario_free(&sl);
    harness_scenario_free(&sp);
    json_decref(jl);
    json_decref(jp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_no_pointers),
        cmocka_unit_test(test_damaged),
        cmocka_unit_test(test_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
