/* Integration tests of bin/cutover through the real binaries: `validate` on
 * bad files, `run` on scenarios that pass, fail, are inconclusive, and on a
 * relay that will not start; exit codes and results.json; SIGINT leaves no
 * relay behind; --relay runs a relay from a command template. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "co_clock.h"
#include "tests/support/tsupport.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/cutover-it-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

struct result {
    int exit_code;
    char *out, *err;
};

/* Runs bin/cutover with args (NULL-terminated) and waits up to timeout_ms. */
static struct result cutover(int timeout_ms, int sigint_after_ms, ...)
{
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)tsup_bin("cutover");
    va_list ap;
    va_start(ap, sigint_after_ms);
    char *a;
    while ((a = va_arg(ap, char *)) != NULL && n < 31)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    struct tproc p;
    assert_int_equal(tproc_spawn(&p, argv), 0);
    uint64_t start = co_clock_monotonic_us();
    int st = -1;
    if (sigint_after_ms && (st = tproc_wait_exit(&p, sigint_after_ms)) == -1)
        kill(p.pid, SIGINT);
    if (st == -1) {
        long left = timeout_ms - (long)((co_clock_monotonic_us() - start) / 1000);
        st = tproc_wait_exit(&p, left > 0 ? (int)left : 0);
    }
    int done = st != -1;
    struct result r = {-1, tproc_read(&p, 1), tproc_read(&p, 2)};
    if (done && WIFEXITED(st))
        r.exit_code = WEXITSTATUS(st);
    tproc_stop(&p, SIGKILL, 1000); /* kills it if still running; removes the files */
    if (!done)
        fail_msg("cutover did not finish within %d ms", timeout_ms);
    return r;
}

static void result_free(struct result *r)
{
    free(r->out);
    free(r->err);
}

static const char passing[] =
    "{\"name\": \"it-pass\", \"description\": \"a healthy path\", \"tags\": [\"it\"],\n"
    " \"traffic\": {\"rate_rps\": 40, \"duration_ms\": 300},\n"
    " \"expect\": [{\"check\": \"client_success_ratio\", \"min\": 1.0},\n"
    "            {\"check\": \"attempts\", \"exact\": 1}]}\n";

static void test_validate_bad_files(void **state)
{
    write_file("bad.json", "{\"name\": \"x\", \"timeline\": [{\"at_ms\": 1, \"blu\": \"down\"}],\n"
                           " \"traffic\": {\"rate_rps\": 1, \"count\": 1},\n"
                           " \"expect\": [{\"check\": \"relay_alive\"}]}\n");
    write_file("syntax.json", "{\"name\": \"x\",\n  \"traffic\": }\n");
    write_file("good.json", passing);
    char p1[128], p2[128], p3[128];
    snprintf(p1, sizeof p1, "%s/bad.json", dir);
    snprintf(p2, sizeof p2, "%s/syntax.json", dir);
    snprintf(p3, sizeof p3, "%s/good.json", dir);
    struct result r = cutover(10000, 0, "validate", p1, p2, p3, NULL);
    assert_int_equal(r.exit_code, 2);
    assert_non_null(strstr(r.out, "bad.json: $.timeline[0]: expected a key among"));
    assert_non_null(strstr(r.out, "did you mean 'blue'"));
    assert_non_null(strstr(r.out, "syntax.json:2:"));
    assert_non_null(strstr(r.out, "ok: "));
    result_free(&r);

    r = cutover(10000, 0, "validate", p3, NULL);
    assert_int_equal(r.exit_code, 0);
    result_free(&r);

    /* run refuses to start anything when a file is invalid. */
    char out[128];
    snprintf(out, sizeof out, "%s/out-invalid", dir);
    r = cutover(10000, 0, "run", p1, p3, "--out", out, NULL);
    assert_int_equal(r.exit_code, 2);
    assert_non_null(strstr(r.err, "nothing was run"));
    result_free(&r);
}

static json_t *load_results(const char *out)
{
    char path[256];
    snprintf(path, sizeof path, "%s/results.json", out);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        fail_msg("%s: %s", path, je.text);
    return j;
}

static void test_run_pass_fail_inconclusive(void **state)
{
    write_file("pass.json", passing);
    write_file("fail.json", "{\"name\": \"it-fail\", \"traffic\": {\"rate_rps\": 40, "
                            "\"duration_ms\": 200},\n"
                            " \"expect\": [{\"check\": \"attempts\", \"exact\": 2}]}\n");
    write_file("inconclusive.json", "{\"name\": \"it-inconclusive\", \"traffic\": {\"rate_rps\": "
                                    "20, \"duration_ms\": 200},\n"
                                    " \"expect\": [{\"check\": \"latency\", \"p99_ms\": 1000, "
                                    "\"min_samples\": 1000}]}\n");
    char p[128], out[128];
    snprintf(p, sizeof p, "%s/pass.json", dir);
    /* --out's parents are made as needed (mkdir -p). */
    snprintf(out, sizeof out, "%s/not-yet/out-pass", dir);
    struct result r = cutover(30000, 0, "run", p, "--out", out, "--seed", "9", "--no-color", NULL);
    assert_int_equal(r.exit_code, 0);
    assert_non_null(strstr(r.out, "PASS"));
    json_t *j = load_results(out);
    assert_int_equal(json_integer_value(json_object_get(j, "seed")), 9);
    json_t *s = json_array_get(json_object_get(j, "scenarios"), 0);
    assert_string_equal(json_string_value(json_object_get(s, "status")), "pass");
    assert_true(json_integer_value(json_object_get(s, "requests")) >= 10);
    /* The implicit checks ran too. */
    assert_int_equal(json_array_size(json_object_get(s, "checks")), 6);
    json_decref(j);
    char junit[200];
    snprintf(junit, sizeof junit, "%s/junit.xml", out);
    assert_int_equal(access(junit, R_OK), 0);
    result_free(&r);

    snprintf(p, sizeof p, "%s/fail.json", dir);
    snprintf(out, sizeof out, "%s/out-fail", dir);
    r = cutover(30000, 0, "run", p, "--out", out, NULL);
    assert_int_equal(r.exit_code, 1);
    assert_non_null(strstr(r.out, "expected: upstream attempts per all request == 2"));
    assert_non_null(strstr(r.out, "blue#1 200"));
    result_free(&r);

    snprintf(p, sizeof p, "%s/inconclusive.json", dir);
    snprintf(out, sizeof out, "%s/out-inc", dir);
    r = cutover(30000, 0, "run", p, "--out", out, NULL);
    assert_int_equal(r.exit_code, 4);
    j = load_results(out);
    s = json_array_get(json_object_get(j, "scenarios"), 0);
    assert_string_equal(json_string_value(json_object_get(s, "status")), "inconclusive");
    json_decref(j);
    result_free(&r);
}

static void test_relay_that_will_not_start(void **state)
{
    write_file("pass.json", passing);
    char p[128], out[128];
    snprintf(p, sizeof p, "%s/pass.json", dir);
    snprintf(out, sizeof out, "%s/out-dead", dir);
    struct result r =
        cutover(30000, 0, "run", p, "--out", out, "--relay", "echo cannot start >&2; exit 3", NULL);
    assert_int_equal(r.exit_code, 3);
    assert_non_null(strstr(r.out, "exited with status 3 before it was ready"));
    assert_non_null(strstr(r.out, "cannot start"));
    result_free(&r);
}

static void test_relay_template(void **state)
{
    write_file("pass.json", passing);
    char p[128], out[128], cmd[512];
    snprintf(p, sizeof p, "%s/pass.json", dir);
    snprintf(out, sizeof out, "%s/out-tpl", dir);
    snprintf(cmd, sizeof cmd,
             "exec %s --port {port} --blue-url {blue_url} --green-url {green_url} --events "
             "{events}",
             tsup_bin("cutover-relay"));
    struct result r = cutover(30000, 0, "run", p, "--out", out, "--relay", cmd, NULL);
    assert_int_equal(r.exit_code, 0);
    result_free(&r);
}

/* A raw command with no {config} and no --events: cutover-relay reads the
 * scenario's settings from CUTOVER_CONFIG and passes like its profile; the
 * same relay kept from reading it runs on its own defaults, and the checks
 * that depend on the settings it missed are inconclusive, never a pass or a
 * false failure. */
static void test_raw_command_gets_settings(void **state)
{
    const char *scen = "scenarios/failover/blue-503-to-green.json";
    char out[128], cmd[512];
    snprintf(out, sizeof out, "%s/out-raw", dir);
    snprintf(cmd, sizeof cmd, "%s --port {port} --blue-url {blue_url} --green-url {green_url}",
             tsup_bin("cutover-relay"));
    struct result r = cutover(60000, 0, "run", scen, "--out", out, "--relay", cmd, NULL);
    assert_int_equal(r.exit_code, 0);
    result_free(&r);
    snprintf(out, sizeof out, "%s/out-raw-blind", dir);
    snprintf(cmd, sizeof cmd,
             "env -u CUTOVER_CONFIG %s --port {port} --blue-url {blue_url} --green-url "
             "{green_url}",
             tsup_bin("cutover-relay"));
    r = cutover(60000, 0, "run", scen, "--out", out, "--relay", cmd, NULL);
    assert_int_equal(r.exit_code, 4);
    assert_non_null(strstr(r.out, "inconclusive"));
    result_free(&r);
}

static void test_bad_flags(void **state)
{
    struct result r = cutover(5000, 0, "run", "--seed", "abc", NULL);
    assert_int_equal(r.exit_code, 2);
    assert_non_null(strstr(r.err, "--seed"));
    result_free(&r);
    r = cutover(5000, 0, "run", "--no-such-flag", NULL);
    assert_int_equal(r.exit_code, 2);
    result_free(&r);
    r = cutover(5000, 0, "run", "/nonexistent/scenarios", NULL);
    assert_int_equal(r.exit_code, 2);
    result_free(&r);
}

static void test_sigint_leaves_no_relay(void **state)
{
    write_file("long.json", "{\"name\": \"it-long\", \"traffic\": {\"rate_rps\": 20, "
                            "\"duration_ms\": 20000},\n"
                            " \"expect\": [{\"check\": \"client_success_ratio\", \"min\": 1}]}\n");
    char p[128], out[128], events[256];
    snprintf(p, sizeof p, "%s/long.json", dir);
    snprintf(out, sizeof out, "%s/out-int", dir);
    uint64_t t0 = co_clock_monotonic_us();
    struct result r = cutover(15000, 1000, "run", p, "--out", out, NULL);
    assert_int_equal(r.exit_code, 3);
    assert_true(co_clock_monotonic_us() - t0 < 10000000);
    result_free(&r);
    /* The relay wrote its pid into its start event; it must be gone. */
    snprintf(events, sizeof events, "%s/%s/long_json/events.jsonl", out, dir + 5);
    FILE *f = fopen(events, "r");
    assert_non_null(f);
    char line[512];
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    json_error_t je;
    json_t *start = json_loads(line, 0, &je);
    assert_non_null(start);
    pid_t pid = (pid_t)json_integer_value(json_object_get(start, "pid"));
    json_decref(start);
    assert_true(pid > 0);
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_validate_bad_files),        T(test_run_pass_fail_inconclusive),
        T(test_relay_that_will_not_start), T(test_relay_template),
        T(test_raw_command_gets_settings), T(test_bad_flags),
        T(test_sigint_leaves_no_relay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
