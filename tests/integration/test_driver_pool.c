/* Integration test of the load driver's connection pool through the real
 * binaries: with a pool too small for the load (the cap follows the fd
 * limit, lowered here for the child), requests wait for a connection, and
 * the run is inconclusive with the driver named as the cause, never a
 * latency failure of the relay; with the normal pool, the same scenario
 * passes on few reused connections. */
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
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/cutover-pool-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* 60 requests in flight at once (200 req/s, 300 ms upstream), and a
 * latency bound the driver's queue would break. */
static const char scenario[] =
    "{\"name\": \"pool-sixty-in-flight\",\n"
    " \"upstreams\": {\"blue\": {\"latency_ms\": 300}, \"green\": {\"latency_ms\": 300}},\n"
    " \"traffic\": {\"rate_rps\": 200, \"duration_ms\": 600},\n"
    " \"expect\": [{\"check\": \"client_success_ratio\", \"min\": 1.0},\n"
    "            {\"check\": \"latency\", \"p99_ms\": 900}]}\n";

struct result {
    int exit_code;
    char *out, *err;
};

/* Runs `cutover run FILE --out OUT` with the fd limit nofile (0: as is). */
static struct result run(const char *file, const char *out, rlim_t nofile)
{
    struct rlimit old, low;
    getrlimit(RLIMIT_NOFILE, &old);
    if (nofile) {
        low = old;
        low.rlim_cur = nofile;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    }
    char *argv[] = {(char *)tsup_bin("cutover"),
                    "run",
                    (char *)file,
                    "--out",
                    (char *)out,
                    "--no-color",
                    "--jobs",
                    "1",
                    NULL};
    struct tproc p;
    int rc = tproc_spawn(&p, argv);
    setrlimit(RLIMIT_NOFILE, &old); /* the child has its copy */
    assert_int_equal(rc, 0);
    int st = tproc_wait_exit(&p, 60000);
    struct result r = {-1, tproc_read(&p, 1), tproc_read(&p, 2)};
    if (st != -1 && WIFEXITED(st))
        r.exit_code = WEXITSTATUS(st);
    tproc_stop(&p, SIGKILL, 1000);
    if (st == -1)
        fail_msg("cutover did not finish");
    return r;
}

static json_t *first_scenario(const char *out, json_t **doc)
{
    char path[256];
    snprintf(path, sizeof path, "%s/results.json", out);
    json_error_t je;
    *doc = json_load_file(path, 0, &je);
    if (!*doc)
        fail_msg("%s: %s", path, je.text);
    return json_array_get(json_object_get(*doc, "scenarios"), 0);
}

static void test_saturated_pool_is_the_driver(void **state)
{
    char file[128], out[128];
    snprintf(file, sizeof file, "%s/pool.json", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs(scenario, f);
    fclose(f);
    snprintf(out, sizeof out, "%s/low", dir);
    /* (120 - 64) / 3 = 18 connections. */
    struct result r = run(file, out, 120);
    assert_int_equal(r.exit_code, 4);
    json_t *doc, *s = first_scenario(out, &doc);
    assert_string_equal(json_string_value(json_object_get(s, "status")), "inconclusive");
    json_t *d = json_object_get(s, "driver");
    assert_non_null(d);
    assert_true(json_is_true(json_object_get(d, "behind")));
    assert_int_equal(json_integer_value(json_object_get(d, "pool_cap")), 18);
    assert_true(json_integer_value(json_object_get(d, "peak_inflight")) <= 18);
    assert_true(json_integer_value(json_object_get(d, "pool_waits")) > 0);
    const char *why = json_string_value(json_object_get(d, "reason"));
    assert_non_null(why);
    assert_non_null(strstr(why, "the driver, not the relay, fell behind"));
    assert_non_null(strstr(why, "pool was saturated"));
    /* Said on the console too, and it was run again. */
    assert_non_null(strstr(r.out, "driver:"));
    assert_non_null(json_object_get(s, "rerun"));
    json_decref(doc);
    free(r.out);
    free(r.err);

    /* The normal pool: the same load passes, on reused connections. */
    snprintf(out, sizeof out, "%s/normal", dir);
    r = run(file, out, 0);
    assert_int_equal(r.exit_code, 0);
    s = first_scenario(out, &doc);
    d = json_object_get(s, "driver");
    assert_false(json_is_true(json_object_get(d, "behind")));
    assert_int_equal(json_integer_value(json_object_get(d, "pool_waits")), 0);
    json_int_t peak = json_integer_value(json_object_get(d, "peak_inflight"));
    json_int_t conns = json_integer_value(json_object_get(d, "connects"));
    json_int_t sent = json_integer_value(json_object_get(d, "sent"));
    assert_true(peak >= 30);    /* 300 ms at 200 req/s: many at once */
    assert_true(conns <= peak); /* a connection per concurrent request, not per request */
    assert_true(conns < sent);
    json_decref(doc);
    free(r.out);
    free(r.err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_saturated_pool_is_the_driver, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
