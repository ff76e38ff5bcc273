/* The docs quote things that live elsewhere; these tests keep the quotes
 * true (issue 14 found them stale): the README's and docs/scenarios.md's
 * scenario example is, byte for byte, the library file it shows; the
 * Prometheus table of docs/relay.md is one unbroken table naming exactly
 * the metric families a running relay serves; docs/mock.md shows every
 * action of the mock's action table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness/checks.h"
#include "mocks/mock.h"
#include "tests/support/tsupport.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXAMPLE_FILE "scenarios/failover/blue-503-to-green.json"

/* The first ```json block after heading (or from the top when heading is
 * NULL) of doc, as a malloc'd string ending in its last newline. */
static char *json_block(const char *doc, const char *heading)
{
    const char *from = heading ? strstr(doc, heading) : doc;
    if (!from)
        fail_msg("no heading '%s'", heading);
    const char *open = strstr(from, "```json\n");
    assert_non_null(open);
    open += 8;
    const char *close = strstr(open, "```");
    assert_non_null(close);
    return strndup(open, (size_t)(close - open));
}

static void expect_quotes_file(const char *doc_path, const char *heading)
{
    char *doc = tsup_read_file(doc_path, NULL);
    char *file = tsup_read_file(EXAMPLE_FILE, NULL);
    if (!doc || !file)
        fail_msg("run from the repository root: %s or %s not found", doc_path, EXAMPLE_FILE);
    char *block = json_block(doc, heading);
    if (strcmp(block, file) != 0)
        fail_msg("%s's example differs from %s:\n--- doc\n%s--- file\n%s", doc_path, EXAMPLE_FILE,
                 block, file);
    free(block);
    free(doc);
    free(file);
}

static void test_readme_example_is_the_file(void **state)
{
    expect_quotes_file("README.md", "## A scenario in 20 lines");
}

static void test_scenarios_doc_example_is_the_file(void **state)
{
    expect_quotes_file("docs/scenarios.md", NULL);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_prometheus_table_is_whole_and_true(void **state)
{
    char *doc = tsup_read_file("docs/relay.md", NULL);
    assert_non_null(doc);
    const char *sec = strstr(doc, "## Prometheus metrics");
    assert_non_null(sec);
    const char *table = strstr(sec, "\n| metric |");
    assert_non_null(table);
    /* Every line of the table is a row, up to the blank line that ends it. */
    char *doc_names[64];
    size_t nd = 0;
    const char *line = table + 1;
    while (*line && *line != '\n') {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (line[0] != '|')
            fail_msg("docs/relay.md: a stray line breaks the Prometheus table: '%.*s'", (int)len,
                     line);
        const char *name = strstr(line, "`holysheep_");
        if (name && name < line + len) {
            size_t nl2 = strcspn(name + 1, "`");
            assert_true(nd < 64);
            doc_names[nd++] = strndup(name + 1, nl2);
        }
        line = nl ? nl + 1 : line + len;
    }
    /* The families a running relay serves, from their # TYPE lines. */
    struct tproc relay;
    const char *extra[] = {"--health-interval-ms", "0", NULL};
    assert_int_equal(trelay_start(&relay, "http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1", extra),
                     0);
    char url[300];
    snprintf(url, sizeof url, "%s/metrics", relay.url);
    struct thttp_resp r;
    assert_int_equal(thttp_request("GET", url, NULL, NULL, 5000, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    char *served[64];
    size_t ns = 0;
    for (const char *p = r.body; (p = strstr(p, "# TYPE holysheep_")); p++) {
        const char *n = p + 7;
        assert_true(ns < 64);
        served[ns++] = strndup(n, strcspn(n, " "));
    }
    thttp_resp_free(&r);
    assert_int_equal(tproc_stop(&relay, SIGTERM, 10000) & 0x7f, 0);
    qsort(doc_names, nd, sizeof *doc_names, cmp_str);
    qsort(served, ns, sizeof *served, cmp_str);
    for (size_t i = 0; i < nd || i < ns; i++)
        if (i >= nd || i >= ns || strcmp(doc_names[i], served[i]) != 0)
            fail_msg("docs/relay.md lists %s where /metrics serves %s", i < nd ? doc_names[i] : "-",
                     i < ns ? served[i] : "-");
    assert_true(ns >= 10);
    for (size_t i = 0; i < nd; i++)
        free(doc_names[i]);
    for (size_t i = 0; i < ns; i++)
        free(served[i]);
    free(doc);
}

/* Every action of the mock's table (the one list of fault names) has its
 * example in docs/mock.md, so a new fault cannot land undocumented. */
static void test_mock_doc_has_every_action(void **state)
{
    char *doc = tsup_read_file("docs/mock.md", NULL);
    if (!doc)
        fail_msg("run from the repository root: docs/mock.md not found");
    for (const char *const *a = mock_action_names(); *a; a++) {
        char want[96];
        snprintf(want, sizeof want, "\"type\":\"%s\"", *a);
        if (!strstr(doc, want))
            fail_msg("docs/mock.md has no example of the mock action '%s' (%s)", *a, want);
    }
    free(doc);
}

/* Every check kind of the table (harness/checks.c) has its row in
 * docs/scenarios.md's table of checks. */
static void test_scenarios_doc_has_every_check(void **state)
{
    char *doc = tsup_read_file("docs/scenarios.md", NULL);
    if (!doc)
        fail_msg("run from the repository root: docs/scenarios.md not found");
    for (const char *const *c = harness_check_names(); *c; c++) {
        char want[96];
        snprintf(want, sizeof want, "\n| `%s` |", *c);
        if (!strstr(doc, want))
            fail_msg("docs/scenarios.md has no row for the check '%s' (%s)", *c, want + 1);
    }
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readme_example_is_the_file),
        cmocka_unit_test(test_scenarios_doc_example_is_the_file),
        cmocka_unit_test(test_prometheus_table_is_whole_and_true),
        cmocka_unit_test(test_mock_doc_has_every_action),
        cmocka_unit_test(test_scenarios_doc_has_every_check),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
