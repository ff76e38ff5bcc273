/* A relay that could not be given a scenario's setting, through the real
 * binaries: the Python relay of the outsider audit (tests/outsider/relay.py,
 * profile outsider.json) fixes switch_after_failures at 1 and has no health
 * checks.  A count of outcomes that fails under such a setting cannot be
 * blamed on the relay (it was asked another question): not applicable when
 * the relay fixes another value, inconclusive when it cannot be told.  A
 * count that held anyway is the relay's behaviour measured: a pass.  A
 * contract check (error_shape) is judged whatever the settings.
 *
 * Before this rule, scenarios/edges/switch-after-exactly-two-failures failed
 * a correct relay fixed at one switch per failure on "blue saw 10, expected
 * 2".  SKIPPED with the reason when python3 is not installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/tsupport.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/cutover-premise-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Blue answers 503 to traffic, green is healthy, ten requests one at a
 * time, against the Python relay. */
#define UPSTREAMS                                                                                  \
    "\"upstreams\": {\"blue\": {\"status\": 503}, \"green\": \"healthy\"},"                        \
    "\"traffic\": {\"concurrency\": 1, \"count\": 10},"

static const char *const scenarios[][2] = {
    /* The relay cannot be given two failures per switch: blue sees every
     * request (it retries nothing and never switches with one attempt). */
    {"fixed-fails",
     "{\"name\": \"fixed-fails\", \"relay\": {\"max_attempts\": 1, \"switch_after_failures\": 2, "
     "\"backoff_base_ms\": 10}," UPSTREAMS
     "\"expect\": [{\"check\": \"upstream_count\", \"env\": \"blue\", \"health\": false, "
     "\"exact\": 2}, {\"check\": \"client_count\", \"status\": 503, \"exact\": 2}, "
     "{\"check\": \"error_shape\"}]}"},
    /* The same mismatch, but the count holds under the relay's own policy:
     * the second attempt goes to green. */
    {"fixed-holds",
     "{\"name\": \"fixed-holds\", \"relay\": {\"max_attempts\": 2, \"switch_after_failures\": 2, "
     "\"backoff_base_ms\": 10}," UPSTREAMS
     "\"expect\": [{\"check\": \"client_count\", \"status\": 200, \"min\": 9}]}"},
    /* A setting the relay has no equivalent of (it runs no health checks). */
    {"unmapped-fails",
     "{\"name\": \"unmapped-fails\", \"relay\": {\"max_attempts\": 1, \"health_interval_ms\": "
     "100}," UPSTREAMS
     "\"expect\": [{\"check\": \"client_count\", \"status\": 503, \"exact\": 0}]}"},
};

/* The check of kind (the n-th of that kind) in scenario sc. */
static const json_t *check_of(const json_t *sc, const char *kind, int n)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(sc, "checks"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "check")), kind) == 0 && n-- == 0)
            return c;
    }
    return NULL;
}

static const char *field(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static void test_counts_under_settings_the_relay_lacks(void **state)
{
    if (!tsup_installed("python3")) {
        printf("SKIP python3 not installed: the outsider relay is Python\n");
        skip();
    }
    char *argv[16];
    int n = 0;
    argv[n++] = "run";
    char paths[3][128];
    for (size_t i = 0; i < 3; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%s.json", dir, scenarios[i][0]);
        FILE *f = fopen(paths[i], "w");
        assert_non_null(f);
        fputs(scenarios[i][1], f);
        fclose(f);
        argv[n++] = paths[i];
    }
    char out[128];
    snprintf(out, sizeof out, "%s/out", dir);
    argv[n++] = "--relay";
    argv[n++] = "tests/outsider/outsider.json";
    argv[n++] = "--out";
    argv[n++] = out;
    argv[n++] = "--no-color";
    argv[n] = NULL;
    int rc = tsup_cutover(120000, argv);
    json_t *res = tsup_results_or_fail(out);
    /* Not a failure of the relay: inconclusive is the worst of the three. */
    assert_int_equal(rc, 4);

    const json_t *a = tsup_scenario(res, NULL, "fixed-fails");
    assert_non_null(a);
    assert_string_equal(field(a, "status"), "not_applicable");
    const json_t *c = check_of(a, "upstream_count", 0);
    assert_non_null(c);
    assert_string_equal(field(c, "status"), "not_applicable");
    assert_non_null(strstr(field(c, "detail"),
                           "switch_after_failures is fixed at 1, which can explain this failure"));
    assert_string_equal(field(check_of(a, "client_count", 0), "status"), "not_applicable");
    /* A contract check is no count: judged whatever the settings. */
    assert_string_equal(field(check_of(a, "error_shape", 0), "status"), "pass");

    const json_t *b = tsup_scenario(res, NULL, "fixed-holds");
    assert_non_null(b);
    assert_string_equal(field(b, "status"), "pass");
    assert_string_equal(field(check_of(b, "client_count", 0), "status"), "pass");

    const json_t *u = tsup_scenario(res, NULL, "unmapped-fails");
    assert_non_null(u);
    assert_string_equal(field(u, "status"), "inconclusive");
    c = check_of(u, "client_count", 0);
    assert_string_equal(field(c, "status"), "inconclusive");
    assert_non_null(strstr(field(c, "detail"), "'health_interval_ms' has no equivalent in outsider "
                                               "(it can explain this failure)"));
    json_decref(res);
}

/* A status the request itself decides (the scenario asks 415 for a
 * text/plain body) is judged whatever the settings: the outsider relay
 * proxies the body to blue and answers 200, and a setting it lacks
 * (health_interval_ms) cannot explain that.  Before, the '*' rule made this
 * failure inconclusive, "it can explain this failure" (so did
 * scenarios/contract/mcover2-non-json-415 against it, before that check was
 * asked of cutover-relay only). */
static void test_request_status_fails_whatever_the_settings(void **state)
{
    if (!tsup_installed("python3")) {
        printf("SKIP python3 not installed: the outsider relay is Python\n");
        skip();
    }
    char path[128], out[128];
    snprintf(path, sizeof path, "%s/contract-fails.json", dir);
    snprintf(out, sizeof out, "%s/out-contract", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"name\": \"contract-fails\", \"relay\": {\"health_interval_ms\": 500},"
          "\"upstreams\": {\"blue\": \"healthy\", \"green\": \"healthy\"},"
          "\"traffic\": {\"rate_rps\": 10, \"duration_ms\": 300, \"request\": {\"raw\": "
          "\"{\\\"model\\\": \\\"gpt-4.1\\\", \\\"messages\\\": [{\\\"role\\\": "
          "\\\"user\\\", \\\"content\\\": \\\"hi\\\"}]}\", \"content_type\": \"text/plain\"}},"
          "\"expect\": [{\"check\": \"client_status\", \"status\": 415}]}",
          f);
    fclose(f);
    char *argv[] = {"run",   path, "--relay",    "tests/outsider/outsider.json",
                    "--out", out,  "--no-color", NULL};
    int rc = tsup_cutover(120000, argv);
    json_t *res = tsup_results_or_fail(out);
    const json_t *a = tsup_scenario(res, NULL, "contract-fails");
    assert_non_null(a);
    const json_t *c = check_of(a, "client_status", 0);
    assert_non_null(c);
    printf("client_status: %s: %s\n", field(c, "status"), field(c, "detail"));
    assert_string_equal(field(c, "status"), "fail");
    assert_null(strstr(field(c, "detail"), "can explain this failure"));
    assert_string_equal(field(a, "status"), "fail");
    assert_int_equal(rc, 1);
    json_decref(res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_under_settings_the_relay_lacks),
        cmocka_unit_test(test_request_status_fails_whatever_the_settings),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
