/* The runner's own readiness probe (GET the relay's ready path) is no health
 * check of the relay's.  A relay that passes every path on (nginx in front
 * of blue: tests/passaudit/inert-blue-only) forwards it to blue's /health,
 * and the mock journalled it as a probe of blue: "upstream_count env=blue
 * health=true exact=0" failed with 1 against a relay that probes nothing.
 * The probe now carries MOCK_READY_PROBE_HEADER; the mock journals it as
 * "ready_probe" (outside its health rules' count) and the runner leaves it
 * out of the attempts (docs/outsider-audit.md, PASS audit, left alone).
 *
 * SKIPPED with the reason when nginx is not installed. */
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

static const char *const scenario_file = "tests/leftovers/ready-probe-is-not-a-health-check.json";

static const json_t *check_of(const json_t *sc, const char *kind)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(sc, "checks"), i,
                       c) if (strcmp(json_string_value(json_object_get(c, "check")), kind) ==
                              0) return c;
    return NULL;
}

static void test_ready_probe_not_counted(void **state)
{
    (void)state;
    if (!tsup_installed("nginx")) {
        printf("SKIP test_ready_probe_not_counted: needs nginx (apt-get install nginx-light)\n");
        skip();
    }
    char dir[64], out[128];
    snprintf(dir, sizeof dir, "/tmp/cutover-readyprobe-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(out, sizeof out, "%s/out", dir);
    char *args[] = {
        "run", (char *)scenario_file, "--relay", "tests/passaudit/inert-blue-only.json", "--out",
        out,   "--no-color",          NULL};
    int rc = tsup_cutover(60000, args);
    assert_true(rc == 0 || rc == 1);
    char err[256];
    json_t *res = tsup_results(out, err, sizeof err);
    assert_non_null(res);
    const json_t *sc = tsup_scenario(res, "inert-blue-only", "ready-probe-is-not-a-health-check");
    assert_non_null(sc);
    const json_t *c = check_of(sc, "upstream_count");
    assert_non_null(c);
    /* Before: fail, measured "1" (the runner's probe, passed on by nginx). */
    assert_string_equal(json_string_value(json_object_get(c, "status")), "pass");
    assert_string_equal(json_string_value(json_object_get(c, "measured")), "0");
    /* The probe did reach blue, marked: the mark survives a catch-all relay. */
    char path[300];
    snprintf(path, sizeof path,
             "%s/leftovers/ready-probe-is-not-a-health-check_json/journal-blue.json", out);
    char *j = tsup_read_file(path, NULL);
    assert_non_null(j);
    assert_non_null(strstr(j, "\"ready_probe\": true"));
    free(j);
    json_decref(res);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_probe_not_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
