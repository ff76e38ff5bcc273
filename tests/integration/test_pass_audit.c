/* The PASS audit from the other side (docs/outsider-audit.md, "PASS audit"):
 * three "relays" that do not do what the scenarios are about, each claiming
 * every setting so that every check is asked of it (tests/passaudit/):
 * inert-503 answers 503 itself, inert-fixed-200 answers a fixed whole 200
 * itself, inert-blue-only is nginx in front of blue with no failover.  Before
 * the audit these scenarios PASSED against one of them; none may pass now,
 * and every check that passes beside the failures names its signal.
 *
 * SKIPPED with the reason when nginx or python3 is not installed. */
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

/* The worst offenders: each passed against the relay(s) in its comment.
 * inert-503 and inert-fixed-200 ask no upstream anything, so no scenario may
 * pass against them; inert-blue-only really proxies blue, so a scenario
 * about a plain proxied answer (stream-happy-path) may pass against it, but
 * not one of the three in blue_only_false[] below. */
static char *const scenario_files[] = {
    "scenarios/edges/both-colours-unhealthy-503.json",              /* 503, blue-only */
    "scenarios/failover/green-probe-down-no-failover.json",         /* blue-only */
    "scenarios/edges/upstream-echoes-key-scrubbed.json",            /* blue-only, nginx-opaque */
    "scenarios/edges/dead-at-start-long-interval.json",             /* fixed-200, nginx-opaque */
    "scenarios/retry/seeded-20pct-503.json",                        /* fixed-200 */
    "scenarios/streaming/stream-happy-path.json",                   /* fixed-200 */
    "scenarios/outsider/answers-say-their-content-type.json",       /* fixed-200 */
    "scenarios/bugs/read-timeout-retried-on-same-route.json",       /* fixed-200 */
    "scenarios/bugs/malformed-sse-event-passed-as-complete.json",   /* fixed-200 */
    "scenarios/process/sigkill-relay.json",                         /* fixed-200 */
    "scenarios/process/sigstop-relay.json",                         /* fixed-200 */
    "scenarios/edges/retry-after-beyond-time-left.json",            /* fixed-200 */
    "scenarios/edges/mclients-slow-upload-after-100-continue.json", /* 503 */
};
/* Scenario names (not files) blue-only passed without meeting their point. */
static const char *const blue_only_false[] = {
    "both-colours-unhealthy-503",
    "no-failover-to-a-colour-failing-its-probe",
    "upstream-echoes-key-scrubbed",
};
#define N_FILES (sizeof scenario_files / sizeof scenario_files[0])
static const char *const relays[] = {"inert-503", "inert-fixed-200", "inert-blue-only"};

static char dir[64];
static json_t *res;

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/cutover-passaudit-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    if (!tsup_installed("nginx") || !tsup_installed("python3"))
        return 0;
    char out[128];
    snprintf(out, sizeof out, "%s/out", dir);
    char *args[32];
    int n = 0;
    args[n++] = "run";
    for (size_t i = 0; i < N_FILES; i++)
        args[n++] = scenario_files[i];
    args[n++] = "--relay";
    args[n++] = "tests/passaudit/inert-503.json";
    args[n++] = "--relay";
    args[n++] = "tests/passaudit/inert-fixed-200.json";
    args[n++] = "--relay";
    args[n++] = "tests/passaudit/inert-blue-only.json";
    args[n++] = "--jobs";
    args[n++] = "2";
    args[n++] = "--out";
    args[n++] = out;
    args[n++] = "--no-color";
    args[n] = NULL;
    int rc = tsup_cutover(240000, args);
    if (rc < 0 || rc == 2 || rc == 3)
        fprintf(stderr, "cutover run exited %d\n", rc);
    char err[256];
    res = tsup_results(out, err, sizeof err);
    if (!res)
        fprintf(stderr, "%s\n", err);
    return 0;
}

static int teardown(void **state)
{
    json_decref(res);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_no_pass_against_inert_relays(void **state)
{
    if (!tsup_installed("nginx") || !tsup_installed("python3")) {
        printf("SKIP test_no_pass_against_inert_relays: needs nginx and python3 "
               "(apt-get install nginx-light python3)\n");
        skip();
    }
    assert_non_null(res);
    size_t i, seen = 0;
    json_t *sc;
    json_array_foreach(json_object_get(res, "scenarios"), i, sc)
    {
        const char *relay = json_string_value(json_object_get(sc, "relay"));
        const char *name = json_string_value(json_object_get(sc, "name"));
        const char *status = json_string_value(json_object_get(sc, "status"));
        int ours = 0;
        for (size_t r = 0; r < sizeof relays / sizeof relays[0]; r++)
            ours |= relay && strcmp(relay, relays[r]) == 0;
        assert_true(ours);
        seen++;
        int must_not_pass = strcmp(relay, "inert-blue-only") != 0;
        for (size_t b = 0; b < sizeof blue_only_false / sizeof blue_only_false[0]; b++)
            must_not_pass |= strcmp(name, blue_only_false[b]) == 0;
        if (must_not_pass && strcmp(status, "pass") == 0)
            fail_msg("%s passed against %s, which does nothing it is about", name, relay);
        size_t k;
        json_t *c;
        json_array_foreach(json_object_get(sc, "checks"), k, c)
        {
            const char *cs = json_string_value(json_object_get(c, "status"));
            const char *d = json_string_value(json_object_get(c, "detail"));
            if (strcmp(cs, "pass") == 0 && (!d || !strstr(d, "signal: ")))
                fail_msg("%s against %s: %s passed without naming its signal (%s)", name, relay,
                         json_string_value(json_object_get(c, "check")), d ? d : "");
        }
    }
    assert_int_equal(seen, N_FILES * 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_pass_against_inert_relays, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
