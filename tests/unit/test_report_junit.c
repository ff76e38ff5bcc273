/* Unit tests for reports/junit.c: a testcase per scenario with its folder as
 * classname, one <failure> with expected vs measured for a failed scenario,
 * one <error> for an inconclusive one and for harness errors, the seed as a
 * property, the relay log tail in system-out, XML escaping throughout; the
 * header's counts equal the elements, a passing scenario's inconclusive
 * self-check is in system-out and never an <error>, and every file written
 * here is valid against tests/junit.xsd (xmllint). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "report_fixture.h"

#include <stdlib.h>
#include <unistd.h>

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The value of attribute name in the first element tag that starts with
 * open ("<testsuite "), or -1. */
static long header_attr(const char *x, const char *open, const char *name)
{
    const char *t = strstr(x, open);
    if (!t)
        return -1;
    const char *end = strchr(t, '>');
    char pat[64];
    snprintf(pat, sizeof pat, " %s=\"", name);
    const char *a = strstr(t, pat);
    if (!a || a > end)
        return -1;
    return strtol(a + strlen(pat), NULL, 10);
}

/* The structural check of a written junit.xml: the counts in both headers
 * equal the elements (all text is escaped, so a tag cannot hide in text),
 * every testcase has at most one verdict, and none has properties. */
static void check_counts(const char *x)
{
    long tests = count(x, "<testcase "), failures = count(x, "<failure "),
         errors = count(x, "<error "), skipped = count(x, "<skipped");
    for (int h = 0; h < 2; h++) {
        const char *open = h ? "<testsuite " : "<testsuites ";
        assert_int_equal(header_attr(x, open, "tests"), tests);
        assert_int_equal(header_attr(x, open, "failures"), failures);
        assert_int_equal(header_attr(x, open, "errors"), errors);
    }
    assert_int_equal(header_attr(x, "<testsuite ", "skipped"), skipped);
    for (const char *t = strstr(x, "<testcase "); t; t = strstr(t + 1, "<testcase ")) {
        const char *end = strstr(t, "</testcase>");
        assert_non_null(end);
        int verdicts = 0;
        for (const char *v = t; (v = strpbrk(v + 1, "<")) && v < end;)
            verdicts += strncmp(v, "<failure ", 9) == 0 || strncmp(v, "<error ", 7) == 0;
        assert_true(verdicts <= 1);
        const char *p = strstr(t, "<properties>");
        assert_true(!p || p > end);
    }
}

/* Writes r's junit.xml, checks it, and validates it against the schema
 * when xmllint is there (the schema test below insists on it). */
static char *write_junit(struct report_run *r, char *path)
{
    int fd = mkstemp(path);
    close(fd);
    report_set_path(r, "junit", path);
    char err[256];
    assert_int_equal(report_junit_write(r, err, sizeof err), 0);
    char *x = tsup_read_file(path, NULL);
    assert_non_null(x);
    check_counts(x);
    if (system("command -v xmllint >/dev/null 2>&1") == 0) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "xmllint --noout --schema tests/junit.xsd %s", path);
        if (system(cmd) != 0)
            fail_msg("%s is not valid against tests/junit.xsd:\n%s", path, x);
    }
    return x;
}

static void test_junit_shape(void **state)
{
    struct report_run r;
    fixture_run(&r);
    char path[] = "/tmp/cutover-junit-XXXXXX";
    char *x = write_junit(&r, path);
    assert_non_null(strstr(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert_non_null(strstr(x, "tests=\"4\" failures=\"1\" errors=\"2\""));
    assert_int_equal(count(x, "<testcase "), 4);
    assert_int_equal(count(x, "classname=\"failover\""), 4);
    assert_non_null(strstr(x, "<property name=\"seed\" value=\"7\"/>"));
    assert_non_null(strstr(x, "seed: 7\n"));
    assert_non_null(strstr(x, "file: scenarios/failover/fails.json\n"));
    assert_int_equal(count(x, "<failure "), 1);
    assert_non_null(strstr(x, "attempts min=1: expected at least &lt;1&gt; &amp; &quot;one&quot;; "
                              "measured max 3"));
    assert_non_null(strstr(x, "request r-0-1: blue#1 503"));
    assert_int_equal(count(x, "<error "), 2);
    assert_non_null(strstr(x, "type=\"inconclusive\""));
    assert_non_null(strstr(x, "(0 samples, 1 needed)"));
    assert_non_null(strstr(x, "the relay exited with status 1 before it was ready"));
    assert_non_null(strstr(x, "relay said &lt;oops&gt; &amp; left"));
    assert_null(strstr(x, "<oops>"));
    free(x);
    unlink(path);
    fixture_free(&r);
}

/* The green run of issue 14: every scenario passes, one with its
 * harness_on_time self-check inconclusive.  Before, that was an <error> in
 * a file whose header said errors="0". */
static void test_junit_passing_inconclusive_selfcheck(void **state)
{
    struct report_run r;
    fixture_run(&r);
    for (size_t i = 0; i < r.n; i++) {
        r.sc[i].status = REPORT_PASS;
        r.sc[i].error[0] = '\0';
    }
    r.sc[1].checks[1].status = REPORT_PASS;
    r.sc[2].checks[1].status = REPORT_PASS;
    fixture_check(&r.sc[0], "harness_on_time", REPORT_INCONCLUSIVE, "runner 82 ms late");
    char path[] = "/tmp/cutover-junit-XXXXXX";
    char *x = write_junit(&r, path);
    assert_non_null(strstr(x, "tests=\"4\" failures=\"0\" errors=\"0\""));
    assert_int_equal(count(x, "<error"), 0);
    assert_int_equal(count(x, "<failure"), 0);
    assert_non_null(strstr(x, "not counted: harness_on_time inconclusive: expected at least "
                              "&lt;1&gt; &amp; &quot;one&quot;; measured runner 82 ms late"));
    free(x);
    unlink(path);
    fixture_free(&r);
}

/* Several failed and inconclusive checks still make one verdict element;
 * repeats and several relays keep the file valid; a relay's name goes into
 * the classname so CI does not merge two relays' results. */
static void test_junit_many_checks_relays_repeats(void **state)
{
    struct report_run r;
    fixture_run(&r);
    fixture_check(&r.sc[1], "switches", REPORT_FAIL, "2");
    fixture_check(&r.sc[1], "latency", REPORT_INCONCLUSIVE, "no sample");
    fixture_check(&r.sc[2], "switch_delay", REPORT_INCONCLUSIVE, "no switch seen");
    for (size_t i = 0; i < r.n; i++) {
        snprintf(r.sc[i].relay, sizeof r.sc[i].relay, "%s", i % 2 ? "nginx" : "bin/cutover-relay");
        r.sc[i].runs = 3;
        r.sc[i].passes = i == 0 ? 2 : 0;
    }
    char path[] = "/tmp/cutover-junit-XXXXXX";
    char *x = write_junit(&r, path);
    assert_int_equal(count(x, "<failure "), 1);
    assert_int_equal(count(x, "<error "), 2);
    assert_non_null(strstr(x, "(and more below)"));
    assert_non_null(strstr(x, "classname=\"nginx.failover\""));
    assert_non_null(strstr(x, "classname=\"cutover-relay.failover\""));
    assert_non_null(strstr(x, "runs passed: 2/3"));
    assert_non_null(strstr(x, "not counted: latency inconclusive"));
    free(x);
    unlink(path);
    fixture_free(&r);
}

/* CI installs libxml2-utils; without xmllint this test says so and skips
 * (tests/run.sh counts it), the others still run the structural check. */
static void test_junit_schema_available(void **state)
{
    if (system("command -v xmllint >/dev/null 2>&1") != 0) {
        printf("SKIP xmllint not installed: junit.xml was not validated against "
               "tests/junit.xsd (apt-get install libxml2-utils)\n");
        skip();
    }
    assert_int_equal(access("tests/junit.xsd", R_OK), 0);
    /* The schema itself is well-formed and catches what the old writer did. */
    char path[] = "/tmp/cutover-junit-bad-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char bad[] =
        "<?xml version=\"1.0\"?><testsuites><testsuite name=\"c\" tests=\"1\" failures=\"0\" "
        "errors=\"0\"><testcase name=\"x\" classname=\"f\" time=\"1\" file=\"a.json\">"
        "<properties><property name=\"seed\" value=\"1\"/></properties></testcase>"
        "</testsuite></testsuites>\n";
    assert_int_equal(write(fd, bad, sizeof bad - 1), (ssize_t)(sizeof bad - 1));
    close(fd);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "xmllint --noout --schema tests/junit.xsd %s 2>/dev/null", path);
    assert_int_not_equal(system(cmd), 0);
    unlink(path);
}

static void test_junit_unwritable(void **state)
{
    struct report_run r;
    fixture_run(&r);
    report_set_path(&r, "junit", "/nonexistent-dir/junit.xml");
    char err[256] = "";
    assert_int_equal(report_junit_write(&r, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent-dir/junit.xml"));
    fixture_free(&r);
}

/* Severity: an advisory that failed leaves a passing scenario without a
 * <failure> but named in system-out; in a failing scenario the verdict's
 * message is the required check's, not the advisory's. */
static void test_junit_advisories(void **state)
{
    struct report_run r;
    fixture_run(&r);
    fixture_check(&r.sc[0], "prometheus_valid", REPORT_FAIL, "1 of 1 pages rejected");
    r.sc[0].checks[r.sc[0].n_checks - 1].severity = REPORT_ADVISORY;
    r.sc[0].advisories = 1;
    /* sc[1] fails on "attempts"; put a failing advisory before it. */
    struct report_check adv = r.sc[1].checks[1];
    snprintf(adv.check, sizeof adv.check, "metrics_truth");
    snprintf(adv.label, sizeof adv.label, "metrics_truth format=json");
    adv.severity = REPORT_ADVISORY;
    fixture_check(&r.sc[1], "x", REPORT_PASS, "");
    r.sc[1].checks[2] = r.sc[1].checks[1];
    r.sc[1].checks[1] = adv;
    char path[] = "/tmp/cutover-junit-XXXXXX";
    char *x = write_junit(&r, path);
    assert_non_null(strstr(x, "verdict: pass_with_advisories"));
    assert_non_null(strstr(x, "advisory: prometheus_valid fail: expected"));
    /* One <failure>: the failing scenario's, naming its required check. */
    assert_int_equal(count(x, "<failure"), 1);
    assert_non_null(strstr(x, "message=\"attempts min=1: expected"));
    assert_non_null(strstr(x, "advisory: metrics_truth fail"));
    free(x);
    unlink(path);
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
        cmocka_unit_test(test_junit_passing_inconclusive_selfcheck),
        cmocka_unit_test(test_junit_many_checks_relays_repeats),
        cmocka_unit_test(test_junit_schema_available),
        cmocka_unit_test(test_junit_advisories),
        cmocka_unit_test(test_junit_unwritable),
        cmocka_unit_test(test_xml_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
