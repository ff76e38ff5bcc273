/* Unit tests for reports/console.c: progress lines, the summary table, the
 * failure details (expected vs measured, the request timeline, the relay log
 * tail), and colour only when asked (NO_COLOR is decided by the caller). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "report_fixture.h"

static char *render(int color)
{
    struct report_run r;
    fixture_run(&r);
    char *buf = NULL;
    size_t len = 0;
    r.console = open_memstream(&buf, &len);
    r.color = color;
    report_console_begin(&r);
    for (size_t i = 0; i < r.n; i++)
        report_console_scenario(&r, &r.sc[i], i);
    char err[64];
    assert_int_equal(report_console_end(&r, err, sizeof err), 0);
    fclose(r.console);
    fixture_free(&r);
    return buf;
}

static void test_plain(void **state)
{
    char *out = render(0);
    assert_null(strchr(out, '\033'));
    assert_non_null(strstr(out, "[  1/4] PASS"));
    assert_non_null(strstr(out, "[  2/4] FAIL"));
    assert_non_null(strstr(out, "[  4/4] ERROR"));
    assert_non_null(strstr(out, "expected: at least <1>"));
    assert_non_null(strstr(out, "measured: max 3"));
    assert_non_null(strstr(out, "detail:   request r-0-1: blue#1 503"));
    assert_non_null(strstr(out, "| relay said <oops> & left"));
    assert_non_null(strstr(out, "(0 samples, 1 needed)"));
    assert_non_null(strstr(out, "4 scenario(s): 1 passed, 1 failed, 1 inconclusive, 1 harness"));
    assert_non_null(strstr(out, "seed 7"));
    free(out);
}

static void test_colour(void **state)
{
    char *out = render(1);
    assert_non_null(strstr(out, "\033[32mPASS"));
    assert_non_null(strstr(out, "\033[31mFAIL"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_colour),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
