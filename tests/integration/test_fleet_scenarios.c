/* The fleet scenarios end to end (issue 16, items 2-4): `cutover run
 * scenarios/fleet` starts a Redis and three replicas of cutover-relay per
 * scenario, once with the shared store (relays/cutover-relay.json) and once
 * without it (relays/cutover-relay-unshared.json).  With it every fleet
 * scenario passes; without it the rate-limit and colour-agreement ones fail
 * on the check that exists to catch that, and the scorecard says so.  Also:
 * the Redis is gone after the run (stopped by its PID), --replicas
 * overrides the count, and bad fleet input is exit 2 or "invalid" with the
 * path named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/tsupport.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char dir[64];
static json_t *card_run; /* results.json of the two-relay run */
static int card_exit;
static char card_md[160];

static int setup(void **state)
{
    if (!tsup_installed("redis-server"))
        return 0;
    snprintf(dir, sizeof dir, "/tmp/cutover-fleet-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    char out[128];
    snprintf(out, sizeof out, "%s/card", dir);
    snprintf(card_md, sizeof card_md, "%s/card.md", dir);
    char *args[] = {"run",         "scenarios/fleet",
                    "--relay",     "cutover-relay",
                    "--relay",     "cutover-relay-unshared",
                    "--out",       out,
                    "--jobs",      "2",
                    "--scorecard", card_md,
                    "--no-color",  NULL};
    card_exit = tsup_cutover(240000, args);
    char err[1200];
    card_run = tsup_results(out, err, sizeof err); /* the cases fail on NULL */
    if (!card_run)
        fprintf(stderr, "%s\n", err);
    return 0;
}

static int teardown(void **state)
{
    json_decref(card_run);
    if (!dir[0])
        return 0;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void need_redis(void)
{
    if (!tsup_installed("redis-server")) {
        printf("SKIP redis-server not installed: the fleet scenarios start one\n");
        skip();
    }
}

static const json_t *scenario(const json_t *res, const char *relay, const char *name)
{
    const json_t *sc = tsup_scenario(res, relay, name);
    if (!sc)
        fail_msg("%s did not run against %s", name, relay ? relay : "the relay");
    return sc;
}

/* The status of the first check of kind in sc (NULL when absent). */
static const char *check_status(const json_t *sc, const char *kind)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(sc, "checks"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "check")), kind) == 0)
            return json_string_value(json_object_get(c, "status"));
    }
    return NULL;
}

static const char *const fleet_names[] = {
    "fleet-rate-limit-three-replicas", "fleet-failure-switch-propagates",
    "fleet-admin-switch-one-replica",  "fleet-redis-paused-fail-open",
    "fleet-redis-down-fail-closed",    "fleet-one-replica-killed",
    "fleet-paused-replica-catches-up"};

static void test_shared_fleet_passes(void **state)
{
    need_redis();
    assert_non_null(card_run);
    for (size_t i = 0; i < sizeof fleet_names / sizeof fleet_names[0]; i++) {
        const json_t *sc = scenario(card_run, "cutover-relay", fleet_names[i]);
        const char *st = json_string_value(json_object_get(sc, "status"));
        if (strcmp(st, "pass") != 0)
            fail_msg("%s against cutover-relay: %s (%s) %s", fleet_names[i], st,
                     json_dumps(json_object_get(sc, "checks"), JSON_COMPACT),
                     json_string_value(json_object_get(sc, "error")));
    }
}

static void test_unshared_fleet_fails_where_it_must(void **state)
{
    need_redis();
    assert_non_null(card_run);
    assert_int_equal(card_exit, 1); /* a check failed */
    const json_t *rl =
        scenario(card_run, "cutover-relay-unshared", "fleet-rate-limit-three-replicas");
    assert_string_equal(json_string_value(json_object_get(rl, "status")), "fail");
    assert_string_equal(check_status(rl, "fleet_rate_limit"), "fail");
    static const char *const agree[] = {
        "fleet-failure-switch-propagates", "fleet-admin-switch-one-replica",
        "fleet-one-replica-killed", "fleet-paused-replica-catches-up"};
    for (size_t i = 0; i < sizeof agree / sizeof agree[0]; i++) {
        const json_t *sc = scenario(card_run, "cutover-relay-unshared", agree[i]);
        assert_string_equal(json_string_value(json_object_get(sc, "status")), "fail");
        assert_string_equal(check_status(sc, "colour_agreement"), "fail");
    }
    /* The scorecard: one row per fleet scenario, the unshared column
     * failing with the profile's note as the reason. */
    const json_t *card = json_object_get(card_run, "scorecard");
    assert_non_null(card);
    assert_int_equal(json_array_size(json_object_get(card, "rows")), 7);
    char *md = tsup_read_file(card_md, NULL);
    assert_non_null(md);
    const char *row = strstr(md, "fleet-rate-limit-three-replicas");
    assert_non_null(row);
    const char *eol = strchr(row, '\n');
    char line[1024];
    snprintf(line, sizeof line, "%.*s", eol ? (int)(eol - row) : (int)strlen(row), row);
    if (!strstr(line, "limit x 3"))
        fail_msg("the scorecard row does not say why: %s", line);
    free(md);
}

/* Nothing accepts connections on port any more. */
static int closed(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) != 0;
    close(fd);
    return ok;
}

static void test_redis_stopped_and_replicas_apart(void **state)
{
    need_redis();
    /* The run's artefacts: three replicas, each its own folder, event log
     * and port, all given the same store, which is gone after the run. */
    char path[256];
    snprintf(path, sizeof path,
             "%s/card/cutover-relay/fleet/fleet-admin-switch-one-replica_json/relay.json", dir);
    json_error_t je;
    json_t *cfg = json_load_file(path, 0, &je);
    if (!cfg)
        fail_msg("%s: %s", path, je.text);
    const char *url = json_string_value(json_object_get(cfg, "shared"));
    assert_non_null(url);
    int port = 0;
    assert_int_equal(sscanf(url, "redis://127.0.0.1:%d/0", &port), 1);
    assert_true(closed(port));
    json_decref(cfg);
    for (int i = 1; i <= 2; i++) {
        snprintf(path, sizeof path,
                 "%s/card/cutover-relay/fleet/fleet-admin-switch-one-replica_json/replica-%d/"
                 "events.jsonl",
                 dir, i);
        char *ev = tsup_read_file(path, NULL);
        if (!ev)
            fail_msg("no event log for replica %d: %s", i, path);
        assert_non_null(strstr(ev, "\"shared_switch\""));
        free(ev);
    }
    /* The client log says where each request went: round robin over 3. */
    snprintf(path, sizeof path,
             "%s/card/cutover-relay/fleet/fleet-admin-switch-one-replica_json/requests.jsonl", dir);
    char *log = tsup_read_file(path, NULL);
    assert_non_null(log);
    int per[3] = {0}, lines = 0;
    for (char *l = log; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        const char *rp = strstr(l, "\"replica\":");
        const char *eol = strchr(l, '\n');
        if (!rp || (eol && rp > eol))
            fail_msg("a request without its replica: %.*s", eol ? (int)(eol - l) : 80, l);
        int k = atoi(rp + strlen("\"replica\":"));
        assert_in_range(k, 0, 2);
        per[k]++;
        lines++;
    }
    free(log);
    assert_true(lines >= 30);
    for (int k = 0; k < 3; k++)
        assert_in_range(per[k], lines / 3, lines / 3 + 1);
    /* Unshared: the config names no store. */
    snprintf(path, sizeof path,
             "%s/card/cutover-relay-unshared/fleet/fleet-admin-switch-one-replica_json/relay.json",
             dir);
    cfg = json_load_file(path, 0, &je);
    assert_non_null(cfg);
    assert_null(json_object_get(cfg, "shared"));
    json_decref(cfg);
}

static void test_replicas_override(void **state)
{
    need_redis();
    char out[128];
    snprintf(out, sizeof out, "%s/two", dir);
    /* Two unshared replicas admit twice the limit: 16, not 24. */
    char *args[] = {"run",        "scenarios/fleet/fleet-rate-limit-three-replicas.json",
                    "--relay",    "cutover-relay-unshared",
                    "--replicas", "2",
                    "--out",      out,
                    "--no-color", NULL};
    assert_int_equal(tsup_cutover(60000, args), 1);
    json_t *res = tsup_results_or_fail(out);
    const json_t *sc = scenario(res, NULL, "fleet-rate-limit-three-replicas");
    size_t i;
    json_t *c;
    int seen = 0;
    json_array_foreach(json_object_get(sc, "checks"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "check")), "fleet_rate_limit") != 0)
            continue;
        const char *m = json_string_value(json_object_get(c, "measured"));
        if (!strstr(m, "admitted 16,"))
            fail_msg("two replicas of 8: %s", m);
        seen = 1;
    }
    assert_true(seen);
    json_decref(res);
}

static void test_bad_fleet_input(void **state)
{
    need_redis();
    char out[128];
    snprintf(out, sizeof out, "%s/bad", dir);
    char *too_many[] = {"run", "scenarios/fleet", "--replicas", "9", "--out", out, NULL};
    assert_int_equal(tsup_cutover(10000, too_many), 2);
    char *url[] = {"run",         "scenarios/fleet",    "--replicas", "2",
                   "--relay-url", "http://127.0.0.1:1", "--out",      out,
                   NULL};
    assert_int_equal(tsup_cutover(10000, url), 2);
    /* A step names replica 2 of a run cut down to 2 replicas: invalid,
     * naming the file and the timeline. */
    char *cut[] = {"run",        "scenarios/fleet/fleet-one-replica-killed.json",
                   "--replicas", "2",
                   "--out",      out,
                   "--no-color", NULL};
    assert_int_equal(tsup_cutover(30000, cut), 2);
    char path[200];
    snprintf(path, sizeof path, "%s/results.json", out);
    char *res = tsup_read_file(path, NULL);
    assert_non_null(res);
    if (!strstr(res, "fleet-one-replica-killed.json: $.timeline: a step names replica 2, but the "
                     "run has 2 replica(s)"))
        fail_msg("no precise error in %s", res);
    free(res);
}

/* Upstreams that answer 429 themselves, under a fleet limit never
 * reached: each 429 reached an upstream (its attempts carry the id), so it
 * is the upstream's, passed on, and no refusal of the fleet's limiter. */
static void test_upstream_429_is_not_the_limiter(void **state)
{
    need_redis();
    const char *text =
        "{\"name\": \"fleet-upstream-429\", \"fleet\": {\"replicas\": 2}, \"relay\": "
        "{\"rate_limit_requests\": 100, \"rate_limit_window_ms\": 3000, \"client_keys\": "
        "[\"k\"]}, \"upstreams\": {\"blue\": {\"status\": 429}, \"green\": {\"status\": 429}}, "
        "\"traffic\": {\"rate_rps\": 20, \"duration_ms\": 500, \"client_key\": \"k\"}, "
        "\"expect\": [{\"check\": \"fleet_rate_limit\", \"limit\": 100, \"window_ms\": 3000}, "
        "{\"check\": \"client_count\", \"status\": 429, \"min\": 5}]}\n";
    char out[128];
    /* Inconclusive: the limit was never reached. */
    assert_int_equal(tsup_run_text(dir, "up429", text, 60000, out, sizeof out), 4);
    json_t *res = tsup_results_or_fail(out);
    const json_t *sc = scenario(res, NULL, "fleet-upstream-429");
    assert_string_equal(check_status(sc, "fleet_rate_limit"), "inconclusive");
    assert_string_equal(check_status(sc, "client_count"), "pass");
    json_decref(res);
}

/* A replica frozen (SIGSTOP) to the end of the run while its clients'
 * requests wait on their keep-alive connections: at teardown it gets
 * SIGCONT then SIGTERM, and its last MHD run reads those requests after
 * the loop ended.  cutover-relay must refuse them, not start them: a
 * connection suspended at MHD_stop_daemon aborted the process (SIGABRT,
 * "MHD_stop_daemon() called while we have suspended connections"). */
static void test_frozen_replica_stops_cleanly(void **state)
{
    need_redis();
    const char *text =
        "{\"name\": \"fleet-frozen-to-the-end\", \"fleet\": {\"replicas\": 2}, \"upstreams\": "
        "{\"blue\": \"healthy\", \"green\": \"healthy\"}, \"timeline\": [{\"at_ms\": 100, "
        "\"fleet\": \"replica_pause\", \"replica\": 1}], \"traffic\": {\"rate_rps\": 20, "
        "\"duration_ms\": 500}, \"expect\": [{\"check\": \"clean_shutdown\"}, {\"check\": "
        "\"client_success_ratio\", \"min\": 1, \"replica\": 0}]}\n";
    char out[128];
    assert_int_equal(tsup_run_text(dir, "frozen", text, 60000, out, sizeof out), 0);
}

/* replica_stop on a frozen replica wakes it to drain (SIGTERM then
 * SIGCONT): its event log says it stopped on signal 15 and exited. */
static void test_frozen_replica_stop_drains(void **state)
{
    need_redis();
    const char *text =
        "{\"name\": \"fleet-frozen-then-stopped\", \"fleet\": {\"replicas\": 2}, "
        "\"upstreams\": {\"blue\": \"healthy\", \"green\": \"healthy\"}, \"timeline\": "
        "[{\"at_ms\": 100, \"fleet\": \"replica_pause\", \"replica\": 1}, {\"at_ms\": 300, "
        "\"fleet\": \"replica_stop\", \"replica\": 1}], \"traffic\": {\"rate_rps\": 10, "
        "\"duration_ms\": 800}, \"expect\": [{\"check\": \"client_success_ratio\", \"min\": "
        "1, \"replica\": 0}]}\n";
    char out[128];
    assert_int_equal(tsup_run_text(dir, "frozenstop", text, 60000, out, sizeof out), 0);
    char path[300];
    snprintf(path, sizeof path, "%s/%s/frozenstop_json/replica-1/events.jsonl", out,
             strrchr(dir, '/') + 1);
    char *ev = tsup_read_file(path, NULL);
    assert_non_null(ev);
    if (!strstr(ev, "\"type\":\"stop\"") || !strstr(ev, "\"type\":\"exit\""))
        fail_msg("replica 1 never drained: %s", ev);
    free(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_fleet_passes),
        cmocka_unit_test(test_unshared_fleet_fails_where_it_must),
        cmocka_unit_test(test_redis_stopped_and_replicas_apart),
        cmocka_unit_test(test_replicas_override),
        cmocka_unit_test(test_bad_fleet_input),
        cmocka_unit_test(test_upstream_429_is_not_the_limiter),
        cmocka_unit_test(test_frozen_replica_stops_cleanly),
        cmocka_unit_test(test_frozen_replica_stop_drains),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
