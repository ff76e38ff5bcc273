/* Unit tests for reports/junit.c: a testcase per scenario with its folder as
 * classname, <failure> with expected vs measured for a failed check, <error>
 * for inconclusive and harness errors, the seed as a property, the relay log
 * tail in system-out, and XML escaping throughout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "report_fixture.h"

#include <unistd.h>

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_junit_shape(void **state)
{
    struct report_run r;
    fixture_run(&r);
    char path[] = "/tmp/cutover-junit-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    r.junit_path = path;
    char err[256];
    assert_int_equal(report_junit_write(&r, err, sizeof err), 0);
    char *x = tsup_read_file(path, NULL);
    assert_non_null(x);
    assert_non_null(strstr(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert_non_null(strstr(x, "tests=\"4\" failures=\"1\" errors=\"2\""));
    assert_int_equal(count(x, "<testcase "), 4);
    assert_int_equal(count(x, "classname=\"failover\""), 4);
    assert_non_null(strstr(x, "<property name=\"seed\" value=\"7\"/>"));
    assert_int_equal(count(x, "<failure "), 1);
    assert_non_null(strstr(x, "attempts min=1: expected at least &lt;1&gt; &amp; &quot;one&quot;; "
                              "measured max 3"));
    assert_non_null(strstr(x, "request r-0-1: blue#1 503"));
    assert_int_equal(count(x, "<error "), 2);
    assert_non_null(strstr(x, "type=\"inconclusive\""));
    assert_non_null(strstr(x, "(0 samples, 1 needed)"));
    assert_non_null(strstr(x, "the relay exited with status 1 before it was ready"));
    assert_non_null(strstr(x, "<system-out>relay said &lt;oops&gt; &amp; left"));
    assert_null(strstr(x, "<oops>"));
    free(x);
    unlink(path);
    fixture_free(&r);
}

static void test_junit_unwritable(void **state)
{
    struct report_run r;
    fixture_run(&r);
    r.junit_path = "/nonexistent-dir/junit.xml";
    char err[256] = "";
    assert_int_equal(report_junit_write(&r, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent-dir/junit.xml"));
    fixture_free(&r);
}

static void test_xml_escape(void **state)
{
    char *e = report_xml_escape("a<b>&\"c'\x01");
    assert_string_equal(e, "a&lt;b&gt;&amp;&quot;c&apos;?");
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_junit_shape),
        cmocka_unit_test(test_junit_unwritable),
        cmocka_unit_test(test_xml_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
