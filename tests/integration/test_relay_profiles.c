/* Integration tests of relay profiles through bin/cutover: the smoke
 * scenarios against each shipped profile (cutover-relay, nginx, haproxy) in
 * one scorecard run, and `--relay-url` against a cutover-relay this test
 * starts itself with the mocks on fixed ports.
 *
 * nginx and HAProxy are SKIPPED with the reason printed when their program
 * is not installed (.ci/run installs both, so CI runs them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "co_clock.h"
#include "harness/runner.h"
#include "tests/support/tsupport.h"

#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];
static json_t *smoke; /* results.json of the scorecard run */
static int smoke_exit;

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/cutover-prof-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    /* One run, three relays: the scorecard matrix of the smoke scenarios. */
    char out[128], card[160];
    snprintf(out, sizeof out, "%s/smoke", dir);
    snprintf(card, sizeof card, "%s/card.md", dir);
    char *args[] = {"run",         "scenarios", "--filter",   "smoke",   "--relay", "cutover-relay",
                    "--relay",     "nginx",     "--relay",    "haproxy", "--out",   out,
                    "--scorecard", card,        "--no-color", NULL};
    smoke_exit = tsup_cutover(180000, args);
    char path[200];
    snprintf(path, sizeof path, "%s/results.json", out);
    json_error_t je;
    smoke = json_load_file(path, 0, &je);
    return 0;
}

static int teardown(void **state)
{
    json_decref(smoke);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The status of scenario name against relay, or NULL when it did not run. */
static const char *status_of(const char *relay, const char *name)
{
    size_t i;
    json_t *sc;
    json_array_foreach(json_object_get(smoke, "scenarios"), i, sc)
    {
        if (strcmp(json_string_value(json_object_get(sc, "relay")), relay) == 0 &&
            strcmp(json_string_value(json_object_get(sc, "name")), name) == 0)
            return json_string_value(json_object_get(sc, "status"));
    }
    return NULL;
}

/* Every smoke scenario ran against relay and none ended in a harness error
 * (the relay started, became ready and was stopped). */
static int ran_all(const char *relay)
{
    int n = 0;
    size_t i;
    json_t *sc;
    json_array_foreach(json_object_get(smoke, "scenarios"), i, sc)
    {
        if (strcmp(json_string_value(json_object_get(sc, "relay")), relay) != 0)
            continue;
        const char *st = json_string_value(json_object_get(sc, "status"));
        if (strcmp(st, "error") == 0 || strcmp(st, "invalid") == 0)
            fail_msg("%s: %s: %s (%s)", relay, json_string_value(json_object_get(sc, "name")), st,
                     json_string_value(json_object_get(sc, "error")));
        n++;
    }
    return n;
}

static void test_smoke_cutover_relay(void **state)
{
    assert_non_null(smoke);
    assert_int_equal(ran_all("cutover-relay"), 6);
    size_t i;
    json_t *sc;
    json_array_foreach(json_object_get(smoke, "scenarios"), i, sc)
    {
        if (strcmp(json_string_value(json_object_get(sc, "relay")), "cutover-relay") == 0)
            assert_string_equal(json_string_value(json_object_get(sc, "status")), "pass");
    }
    /* The matrix: one row per scenario, one cell per relay, also in JSON. */
    const json_t *card = json_object_get(smoke, "scorecard");
    assert_non_null(card);
    assert_int_equal(json_array_size(json_object_get(card, "relays")), 3);
    assert_int_equal(json_array_size(json_object_get(card, "rows")), 6);
    char path[200];
    snprintf(path, sizeof path, "%s/card.md", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 200);
    /* With any failure among nginx/haproxy the run says so; never a harness error. */
    assert_true(smoke_exit == 0 || smoke_exit == 1 || smoke_exit == 4);
}

/* What a black-box proxy can and cannot be judged on: a stream passes
 * through; the admin API and a client rate limit have no equivalent, so
 * those scenarios are inconclusive rather than failed. */
static void black_box_expectations(const char *relay)
{
    assert_int_equal(ran_all(relay), 6);
    assert_string_equal(status_of(relay, "stream-happy-path"), "pass");
    assert_string_equal(status_of(relay, "manual-cutover-under-load-zero-downtime"),
                        "inconclusive");
    assert_string_equal(status_of(relay, "client-rate-limit"), "inconclusive");
}

static void test_smoke_nginx(void **state)
{
    if (!tsup_installed("nginx")) {
        printf("SKIP nginx not installed: test_smoke_nginx did not run (apt-get install "
               "nginx-light)\n");
        skip();
    }
    assert_non_null(smoke);
    black_box_expectations("nginx");
    /* proxy_next_upstream http_503 with green as backup: clients see no 503. */
    assert_string_equal(status_of("nginx", "blue-503-fails-over-to-green"), "pass");
}

static void test_smoke_haproxy(void **state)
{
    if (!tsup_installed("haproxy")) {
        printf("SKIP haproxy not installed: test_smoke_haproxy did not run (apt-get install "
               "haproxy)\n");
        skip();
    }
    assert_non_null(smoke);
    black_box_expectations("haproxy");
}

/* Accepts a TCP connection on port within timeout_ms. */
static int port_open(int port, int timeout_ms)
{
    uint64_t end = co_clock_monotonic_us() + (uint64_t)timeout_ms * 1000;
    while (co_clock_monotonic_us() < end) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return 1;
        co_sleep_us(10000);
    }
    return 0;
}

/* Chaos against a running relay: `cutover run --relay-url` brings the mocks
 * up on fixed ports and drives a cutover-relay this test starts and stops
 * itself.  The relay starts once the mocks listen, so that its first health
 * round finds both colours up and blue stays active (a relay that saw both
 * down first may come back on green: its state is its own). */
static void test_relay_url(void **state)
{
    int bp = harness_free_port(), gp = harness_free_port(), rp = harness_free_port();
    assert_true(bp > 0 && gp > 0 && rp > 0 && bp != gp && rp != bp && rp != gp);
    char blue[64], green[64], bps[16], gps[16], rps[16], url[64];
    snprintf(blue, sizeof blue, "http://127.0.0.1:%d/v1", bp);
    snprintf(green, sizeof green, "http://127.0.0.1:%d/v1", gp);
    snprintf(bps, sizeof bps, "%d", bp);
    snprintf(gps, sizeof gps, "%d", gp);
    snprintf(rps, sizeof rps, "%d", rp);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rp);
    char out[128];
    snprintf(out, sizeof out, "%s/url", dir);
    char *cargv[] = {(char *)tsup_bin("cutover"),
                     "run",
                     "scenarios/failover/blue-503-to-green.json",
                     "--relay-url",
                     url,
                     "--blue-port",
                     bps,
                     "--green-port",
                     gps,
                     "--out",
                     out,
                     "--no-color",
                     NULL};
    struct tproc run;
    assert_int_equal(tproc_spawn(&run, cargv), 0);
    if (!port_open(bp, 5000) || !port_open(gp, 5000)) {
        tproc_stop(&run, SIGKILL, 1000);
        fail_msg("the mocks never listened on %d/%d", bp, gp);
    }
    char *rargv[] = {(char *)tsup_bin("cutover-relay"),
                     "--port",
                     rps,
                     "--blue-url",
                     blue,
                     "--green-url",
                     green,
                     "--backoff-base-ms",
                     "20",
                     "--jitter",
                     "none",
                     "--health-interval-ms",
                     "200",
                     "--try-timeout-ms",
                     "1000",
                     NULL};
    struct tproc relay;
    assert_int_equal(tproc_spawn(&relay, rargv), 0);
    int st_run = tproc_wait_exit(&run, 60000);
    tproc_stop(&run, SIGKILL, 1000); /* kills it if still running; removes the files */
    if (st_run == -1) {
        tproc_stop(&relay, SIGKILL, 1000);
        fail_msg("cutover run --relay-url did not finish");
    }
    int rc = WIFEXITED(st_run) ? WEXITSTATUS(st_run) : -1;
    int alive = tproc_alive(&relay);
    int st = tproc_stop(&relay, SIGTERM, 3000);
    assert_int_equal(rc, 0);
    /* The runner never stopped the relay it did not start. */
    assert_true(alive);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char path[200];
    snprintf(path, sizeof path, "%s/results.json", out);
    json_error_t je;
    json_t *res = json_load_file(path, 0, &je);
    assert_non_null(res);
    json_t *sc = json_array_get(json_object_get(res, "scenarios"), 0);
    assert_string_equal(json_string_value(json_object_get(sc, "status")), "pass");
    /* Switches come from the served view (the relay writes no event log to us). */
    int saw_bb = 0;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(sc, "checks"), i, c) saw_bb |=
        strstr(json_string_value(json_object_get(c, "detail")), "served view") != NULL;
    assert_true(saw_bb);
    json_decref(res);

    /* Flags that cannot go together, and a bad URL: invalid input. */
    char *bad1[] = {"run",         "scenarios/failover/blue-503-to-green.json",
                    "--relay-url", "http://127.0.0.1:1",
                    "--relay",     "nginx",
                    NULL};
    assert_int_equal(tsup_cutover(10000, bad1), 2);
    char *bad2[] = {"run", "scenarios/failover/blue-503-to-green.json", "--relay-url",
                    "127.0.0.1:1", NULL};
    assert_int_equal(tsup_cutover(10000, bad2), 2);
    char *bad3[] = {"run", "scenarios/failover/blue-503-to-green.json", "--blue-port", "70000",
                    NULL};
    assert_int_equal(tsup_cutover(10000, bad3), 2);
}

/* An invalid profile stops the run before any scenario, with the path. */
static void test_invalid_profile(void **state)
{
    char path[128];
    snprintf(path, sizeof path, "%s/broken.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"name\": \"broken\", \"command\": \"x --port {prot}\"}\n", f);
    fclose(f);
    char *args[] = {
        "run", "scenarios/failover/blue-503-to-green.json", "--relay", path, "--out", dir, NULL};
    assert_int_equal(tsup_cutover(10000, args), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smoke_cutover_relay), cmocka_unit_test(test_smoke_nginx),
        cmocka_unit_test(test_smoke_haproxy),       cmocka_unit_test(test_relay_url),
        cmocka_unit_test(test_invalid_profile),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
