/* Integration tests of a raw --relay command's relay-key placeholders
 * (docs/profiles.md, "A raw command"), through bin/cutover and a real
 * cutover-relay:
 *
 * - a {key} the scenario does not set and the runner has no value for is
 *   refused before any relay starts: exit 2, the scenario "invalid", the
 *   error naming the placeholder and the scenario file (a relay used to be
 *   started with "--rate-limit-requests {rate_limit_requests}" verbatim, and
 *   exited on it: a harness error, exit 3);
 * - a {key} the scenario does not set but the runner gives every relay (its
 *   test-run settings: {health_interval_ms}, {try_timeout_ms}, ...) takes the
 *   runner's value, and a list setting ({client_keys}) is one comma list (it
 *   used to stay "{client_keys}", so every client got a 401), both in a
 *   plain command and in one run by the shell;
 * - {api_key_file} names a file holding the upstream key (mode 0600, with
 *   a trailing newline as `echo` writes it), which a relay started without
 *   the key in its environment reads: the upstreams get the configured key,
 *   and the file is gone when the run ends;
 * - a check asked of one relay by name ("relay": "cutover-relay") is not
 *   applicable to a raw command, which has no name, even when the command
 *   is cutover-relay and would pass it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/tsupport.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static char relay_bin[PATH_MAX];

/* Every runner test-run setting as a flag: with CUTOVER_CONFIG unset the
 * relay gets its settings from these placeholders alone. */
#define RUNNER_FLAGS                                                                               \
    " --health-interval-ms {health_interval_ms} --health-timeout-ms {health_timeout_ms}"           \
    " --backoff-base-ms {backoff_base_ms} --backoff-cap-ms {backoff_cap_ms}"                       \
    " --try-timeout-ms {try_timeout_ms} --deadline-ms {deadline_ms}"                               \
    " --drain-timeout-ms {drain_timeout_ms}"

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/cutover-raw-XXXXXX");
    if (!mkdtemp(dir) || !realpath(tsup_bin("cutover-relay"), relay_bin))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Runs one scenario against the raw command; returns the exit code and
 * the results' only scenario in *sc (a new reference in *doc). */
static int run_raw(const char *scenario, const char *out_name, const char *cmd, json_t **doc,
                   json_t **sc)
{
    char out[128], path[200];
    snprintf(out, sizeof out, "%s/%s", dir, out_name);
    char *args[] = {"run",     (char *)scenario, "--out",      out,
                    "--relay", (char *)cmd,      "--no-color", NULL};
    int rc = tsup_cutover(60000, args);
    snprintf(path, sizeof path, "%s/results.json", out);
    json_error_t je;
    *doc = json_load_file(path, 0, &je);
    assert_non_null(*doc);
    json_t *all = json_object_get(*doc, "scenarios");
    assert_int_equal(json_array_size(all), 1);
    *sc = json_array_get(all, 0);
    return rc;
}

/* The status of the scenario's nth check of kind, in *status. */
static int check_status(const json_t *sc, const char *kind, int nth, const char **status)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(sc, "checks"), i, c)
    {
        const char *k = json_string_value(json_object_get(c, "check"));
        if (k && strcmp(k, kind) == 0 && nth-- == 0) {
            *status = json_string_value(json_object_get(c, "status"));
            return 0;
        }
    }
    return -1;
}

static void test_absent_key_refused(void **state)
{
    char cmd[PATH_MAX + 512];
    snprintf(cmd, sizeof cmd,
             "%s --port {port} --blue-url {blue_url} --green-url {green_url} "
             "--rate-limit-requests {rate_limit_requests}",
             relay_bin);
    json_t *doc, *sc;
    int rc = run_raw("scenarios/failover/blue-503-to-green.json", "absent", cmd, &doc, &sc);
    const char *error = json_string_value(json_object_get(sc, "error"));
    print_message("exit %d, %s: %s\n", rc, json_string_value(json_object_get(sc, "status")),
                  error ? error : "");
    assert_int_equal(rc, 2);
    assert_string_equal(json_string_value(json_object_get(sc, "status")), "invalid");
    assert_non_null(error);
    assert_non_null(strstr(error, "scenarios/failover/blue-503-to-green.json"));
    assert_non_null(strstr(error, "{rate_limit_requests} is relay setting"));
    assert_non_null(strstr(error, "set $.relay.rate_limit_requests"));
    /* No relay was started: it wrote nothing. */
    char path[200];
    snprintf(path, sizeof path, "%s/absent/failover/blue-503-to-green_json/relay.out", dir);
    char *log = tsup_read_file(path, NULL);
    assert_true(!log || !*log);
    free(log);
    json_decref(doc);
}

/* The same refusal when the command runs by the shell (a redirection). */
static void test_absent_key_refused_shell(void **state)
{
    char cmd[PATH_MAX + 512];
    snprintf(cmd, sizeof cmd,
             "%s --port {port} --blue-url {blue_url} --green-url {green_url} "
             "--client-keys {client_keys} 2>{workdir}/stderr.txt",
             relay_bin);
    json_t *doc, *sc;
    int rc = run_raw("scenarios/failover/blue-503-to-green.json", "absent-sh", cmd, &doc, &sc);
    assert_int_equal(rc, 2);
    assert_string_equal(json_string_value(json_object_get(sc, "status")), "invalid");
    assert_non_null(
        strstr(json_string_value(json_object_get(sc, "error")), "{client_keys} is relay setting"));
    json_decref(doc);
}

/* client-rate-limit sets client_keys, rate_limit_requests and the window,
 * and leaves the runner's test-run settings to the runner: every check
 * passes against the raw command exactly as against the profile. */
static void runs_with_lists_and_defaults(const char *out_name, const char *tail)
{
    char cmd[PATH_MAX + 1024];
    snprintf(cmd, sizeof cmd,
             "env -u CUTOVER_CONFIG %s --port {port} --blue-url {blue_url} --green-url "
             "{green_url} --client-keys {client_keys} --rate-limit-requests "
             "{rate_limit_requests} --rate-limit-window-ms {rate_limit_window_ms}" RUNNER_FLAGS
             "%s",
             relay_bin, tail);
    json_t *doc, *sc;
    int rc = run_raw("scenarios/ratelimit/client-rate-limit.json", out_name, cmd, &doc, &sc);
    const char *st = json_string_value(json_object_get(sc, "status"));
    const char *ok200 = "", *ok429 = "", *limit = "";
    assert_int_equal(check_status(sc, "client_count", 0, &ok200), 0);
    assert_int_equal(check_status(sc, "client_count", 1, &ok429), 0);
    assert_int_equal(check_status(sc, "rate_limit", 0, &limit), 0);
    print_message("%s: exit %d, %s; 200s %s, 429s %s, rate_limit %s\n", out_name, rc, st, ok200,
                  ok429, limit);
    /* A load spike may make the runner re-run it; a relay that refuses
     * every client (a literal {client_keys}) fails client_count 200. */
    assert_string_equal(ok200, "pass");
    assert_string_equal(ok429, "pass");
    assert_string_equal(limit, "pass");
    assert_string_equal(st, "pass");
    assert_int_equal(rc, 0);
    json_decref(doc);
}

static void test_lists_and_runner_values(void **state)
{
    runs_with_lists_and_defaults("lists", "");
}

static void test_lists_and_runner_values_shell(void **state)
{
    runs_with_lists_and_defaults("lists-sh", " 2>{workdir}/stderr.txt");
}

static void test_api_key_file(void **state)
{
    char cmd[PATH_MAX + 1024];
    snprintf(cmd, sizeof cmd,
             "stat -c %%a {api_key_file} > {workdir}/key-mode.txt; "
             "exec env -u HOLYSHEEP_API_KEY %s --port {port} --blue-url {blue_url} "
             "--green-url {green_url} --api-key-file {api_key_file}" RUNNER_FLAGS,
             relay_bin);
    json_t *doc, *sc;
    int rc = run_raw("scenarios/contract/forwarded-every-attempt.json", "keyfile", cmd, &doc, &sc);
    const char *fw = "";
    assert_int_equal(check_status(sc, "forwarded", 0, &fw), 0);
    print_message("exit %d, %s; forwarded %s\n", rc,
                  json_string_value(json_object_get(sc, "status")), fw);
    assert_string_equal(fw, "pass"); /* the key reached the upstreams: it came from the file */
    char path[256];
    snprintf(path, sizeof path, "%s/keyfile/contract/forwarded-every-attempt_json/key-mode.txt",
             dir);
    char *mode = tsup_read_file(path, NULL);
    assert_non_null(mode);
    assert_string_equal(mode, "600\n");
    free(mode);
    snprintf(path, sizeof path, "%s/keyfile/contract/forwarded-every-attempt_json/upstream.key",
             dir);
    assert_int_equal(access(path, F_OK), -1); /* removed at teardown */
    json_decref(doc);
}

static void test_relay_scoped_check(void **state)
{
    char cmd[PATH_MAX + 1024];
    snprintf(cmd, sizeof cmd,
             "%s --port {port} --blue-url {blue_url} --green-url {green_url} "
             "--idle-timeout-ms {idle_timeout_ms}" RUNNER_FLAGS,
             relay_bin);
    json_t *doc, *sc;
    int rc =
        run_raw("scenarios/streaming/mmisc-stall-code-idle-timeout.json", "scoped", cmd, &doc, &sc);
    const char *cs = "", *count = "";
    assert_int_equal(check_status(sc, "client_status", 0, &cs), 0);
    assert_int_equal(check_status(sc, "client_count", 0, &count), 0);
    print_message("exit %d, %s; client_status %s, client_count %s\n", rc,
                  json_string_value(json_object_get(sc, "status")), cs, count);
    assert_string_equal(cs, "not_applicable");
    assert_string_equal(count, "pass"); /* the rest is judged as for any relay */
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absent_key_refused),
        cmocka_unit_test(test_absent_key_refused_shell),
        cmocka_unit_test(test_lists_and_runner_values),
        cmocka_unit_test(test_lists_and_runner_values_shell),
        cmocka_unit_test(test_api_key_file),
        cmocka_unit_test(test_relay_scoped_check),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
