/* Unit tests for reports/json.c and the shared exit-code rule: results.json
 * carries the version, seed, summary and every check with its expected,
 * measured, margin and status; the worst status decides the exit code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "report_fixture.h"

#include <unistd.h>

static void test_json_content(void **state)
{
    struct report_run r;
    fixture_run(&r);
    json_t *j = report_json_build(&r);
    assert_string_equal(json_string_value(json_object_get(j, "version")), "cutover test");
    assert_int_equal(json_integer_value(json_object_get(j, "seed")), 7);
    json_t *sum = json_object_get(j, "summary");
    assert_int_equal(json_integer_value(json_object_get(sum, "total")), 4);
    assert_int_equal(json_integer_value(json_object_get(sum, "failed")), 1);
    assert_int_equal(json_integer_value(json_object_get(sum, "inconclusive")), 1);
    assert_int_equal(json_integer_value(json_object_get(sum, "errors")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "exit_code")), 1);
    json_t *fails = json_array_get(json_object_get(j, "scenarios"), 1);
    assert_string_equal(json_string_value(json_object_get(fails, "status")), "fail");
    json_t *c = json_array_get(json_object_get(fails, "checks"), 1);
    assert_string_equal(json_string_value(json_object_get(c, "check")), "attempts");
    assert_string_equal(json_string_value(json_object_get(c, "measured")), "max 3");
    assert_true(json_real_value(json_object_get(c, "margin")) == -2.5);
    json_t *broken = json_array_get(json_object_get(j, "scenarios"), 3);
    assert_non_null(strstr(json_string_value(json_object_get(broken, "error")), "exited"));
    json_decref(j);

    char path[] = "/tmp/cutover-json-XXXXXX";
    close(mkstemp(path));
    report_set_path(&r, "json", path);
    char err[256];
    assert_int_equal(report_json_write(&r, err, sizeof err), 0);
    json_error_t je;
    json_t *back = json_load_file(path, 0, &je);
    assert_non_null(back);
    json_decref(back);
    unlink(path);
    fixture_free(&r);
}

static void test_exit_codes(void **state)
{
    struct report_run r;
    fixture_run(&r);
    assert_int_equal(report_exit_code(&r), 1); /* a failure outranks everything */
    r.sc[1].status = REPORT_PASS;
    assert_int_equal(report_exit_code(&r), 3); /* then harness errors */
    r.sc[3].status = REPORT_INVALID;
    assert_int_equal(report_exit_code(&r), 2);
    r.sc[3].status = REPORT_PASS;
    assert_int_equal(report_exit_code(&r), 4);
    r.sc[2].status = REPORT_PASS;
    assert_int_equal(report_exit_code(&r), 0);
    /* Flaky: some repeats passed, some did not. */
    r.sc[0].runs = 5;
    r.sc[0].passes = 4;
    assert_true(report_is_flaky(&r.sc[0]));
    r.sc[0].passes = 5;
    assert_false(report_is_flaky(&r.sc[0]));
    fixture_free(&r);
}

/* The writers' table is what the command lines read: every format with a
 * file has its option and usage line, its path is set and read through the
 * table, and its default file is said in the usage. */
static void test_writers_table(void **state)
{
    struct report_run r = {0};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    report_usage_options(f, 21, 0);
    fclose(f);
    int n = 0;
    for (const struct report_writer *w = report_writers; w->name; w++, n++) {
        assert_true(n < REPORT_MAX_WRITERS);
        if (!w->option)
            continue;
        char want[64];
        snprintf(want, sizeof want, "  --%s FILE", w->option);
        assert_non_null(strstr(buf, want));
        assert_non_null(strstr(buf, w->help));
        if (w->default_file) {
            snprintf(want, sizeof want, "(default DIR/%s)", w->default_file);
            assert_non_null(strstr(buf, want));
        }
        assert_null(report_path(&r, w->option));
        assert_int_equal(report_set_path(&r, w->option, w->name), 0);
        assert_string_equal(report_path(&r, w->option), w->name);
    }
    assert_int_equal(report_set_path(&r, "nope", "x"), -1);
    assert_null(report_path(&r, "nope"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_content),
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_writers_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
