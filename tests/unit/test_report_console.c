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

/* A passing scenario whose self-check was inconclusive says which check
 * "N/M" left out and why (issue 14: "PASS 6/7 checks" named nothing); with
 * several relays the summary table has a relay column. */
static void test_uncounted_and_relay_column(void **state)
{
    struct report_run r;
    fixture_run(&r);
    fixture_check(&r.sc[0], "harness_on_time", REPORT_INCONCLUSIVE, "runner 82 ms late");
    for (size_t i = 0; i < r.n; i++)
        snprintf(r.sc[i].relay, sizeof r.sc[i].relay, "%s",
                 i % 2 ? "nginx" : "/x/bin/cutover-relay");
    char *buf = NULL;
    size_t len = 0;
    r.console = open_memstream(&buf, &len);
    for (size_t i = 0; i < r.n; i++)
        report_console_scenario(&r, &r.sc[i], i);
    char err[64];
    assert_int_equal(report_console_end(&r, err, sizeof err), 0);
    fclose(r.console);
    assert_non_null(strstr(buf, "1/2 checks; harness_on_time inconclusive: runner 82 ms late\n"));
    assert_non_null(strstr(buf, "1/2 checks; attempts fail: max 3\n"));
    assert_non_null(strstr(buf, "scenario                                       relay"));
    assert_non_null(strstr(buf, "passes                                         cutover-relay"));
    assert_non_null(strstr(buf, "fails                                          nginx"));
    free(buf);
    fixture_free(&r);
    /* One relay: no relay column. */
    char *out = render(0);
    assert_null(strstr(out, " relay  "));
    assert_non_null(strstr(out, "[  1/4] PASS         scenarios/failover/passes.json"));
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
        cmocka_unit_test(test_uncounted_and_relay_column),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
