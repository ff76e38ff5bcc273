/* Unit tests for reports/html.c: a self-contained page with the summary, the
 * checks of every scenario (escaped) and the request timeline as SVG. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "report_fixture.h"

#include <unistd.h>

static void test_html(void **state)
{
    struct report_run r;
    fixture_run(&r);
    r.sc[1].timeline = json_pack("{s:[[f,f,b,s],[f,f,b,s]], s:[[s,f]], s:[[f,s]]}", "requests",
                                 10.0, 5.0, 1, "green", 20.0, 300.0, 0, "", "marks", "fault_on",
                                 15.0, "switches", 16.0, "blue->green upstream_503");
    char path[] = "/tmp/cutover-html-XXXXXX";
    close(mkstemp(path));
    r.html_path = path;
    char err[256];
    assert_int_equal(report_html_write(&r, err, sizeof err), 0);
    char *h = slurp(path);
    assert_non_null(h);
    assert_non_null(strstr(h, "<!doctype html>"));
    assert_non_null(strstr(h, "exit code 1"));
    assert_non_null(strstr(h, "<details id=\"s1\" open>"));  /* failures open */
    assert_non_null(strstr(h, "<details id=\"s0\">"));       /* passes closed */
    assert_non_null(strstr(h, "class=\"g\""));                /* a green success */
    assert_non_null(strstr(h, "class=\"x\""));                /* a failure */
    assert_non_null(strstr(h, ">fault_on</text>"));
    assert_non_null(strstr(h, "<title>blue-&gt;green upstream_503</title>"));
    assert_non_null(strstr(h, "relay said &lt;oops&gt;"));
    assert_null(strstr(h, "<oops>"));
    free(h);
    unlink(path);
    fixture_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
