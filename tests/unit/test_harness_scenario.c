/* Unit tests for harness/scenario.c: every kind of validation error names
 * the file, the JSON path, what was expected and what was found, and the
 * nearest key for a misspelling; shorthands translate to mock behaviours;
 * the time scale multiplies times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness/scenario.h"
#include "harness/vutil.h"
#include "relay/relay_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OK_TRAFFIC "\"traffic\": {\"rate_rps\": 10, \"duration_ms\": 100}"
#define OK_EXPECT  "\"expect\": [{\"check\": \"client_success_ratio\", \"min\": 1}]"

/* Parses text as file "t.json"; returns the scenario or NULL with err. */
static struct harness_scenario *parse(const char *text, char *err, size_t n)
{
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    assert_non_null(doc);
    struct harness_scenario *s = harness_scenario_from_json(doc, "dir/t.json", 1.0, err, n);
    json_decref(doc);
    return s;
}

static void expect_error(const char *text, const char *const *needles)
{
    char err[2048] = "";
    struct harness_scenario *s = parse(text, err, sizeof err);
    if (s) {
        harness_scenario_free(&s);
        fail_msg("expected an error for %s", text);
    }
    for (; *needles; needles++)
        if (!strstr(err, *needles))
            fail_msg("error '%s' lacks '%s'", err, *needles);
}

static void test_valid_minimal(void **state)
{
    char err[1024] = "";
    struct harness_scenario *s =
        parse("{\"name\": \"n\", \"tags\": [\"a\", \"b\"], " OK_TRAFFIC ", " OK_EXPECT "}", err,
              sizeof err);
    assert_non_null(s);
    assert_string_equal(s->name, "n");
    assert_string_equal(s->folder, "dir");
    assert_int_equal(s->n_phases, 1);
    assert_int_equal(s->phases[0].duration_us, 100000);
    assert_true(harness_scenario_has_tag(s, "b"));
    assert_false(harness_scenario_has_tag(s, "c"));
    /* Defaults: healthy upstreams, the default model and path. */
    assert_int_equal(json_object_size(s->upstream[0]), 0);
    assert_string_equal(s->phases[0].path, "/v1/chat/completions");
    assert_true(s->timeout_us > harness_scenario_span_us(s));
    harness_scenario_free(&s);
    assert_null(s);
}

static void test_syntax_error_names_line_col(void **state)
{
    char path[] = "/tmp/cutover-scn-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "{\n  \"name\": \"x\",\n  \"traffic\": {,}\n}\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char err[1024] = "";
    struct harness_scenario *s = harness_scenario_load(path, 1.0, err, sizeof err);
    assert_null(s);
    char want[300];
    snprintf(want, sizeof want, "%s:3:", path);
    assert_non_null(strstr(err, want));
    unlink(path);
}

static void test_unknown_top_key_suggests(void **state)
{
    const char *n[] = {"dir/t.json", "$:", "found \"timelin\"", "did you mean 'timeline'", NULL};
    expect_error("{\"name\": \"n\", \"timelin\": [], " OK_TRAFFIC ", " OK_EXPECT "}", n);
}

static void test_timeline_status_type(void **state)
{
    const char *n[] = {"dir/t.json: $.timeline[2].blue.status", "expected an HTTP status",
                       "found string \"503\"", NULL};
    expect_error("{\"name\": \"n\", \"timeline\": [{\"at_ms\": 1, \"mark\": \"a\"}, {\"at_ms\": 2, "
                 "\"mark\": \"b\"}, {\"at_ms\": 3, \"blue\": {\"status\": \"503\"}}], " OK_TRAFFIC
                 ", " OK_EXPECT "}",
                 n);
}

static void test_timeline_key_suggests(void **state)
{
    const char *n[] = {"$.timeline[0]", "found \"blu\"", "did you mean 'blue'", NULL};
    expect_error(
        "{\"name\": \"n\", \"timeline\": [{\"at_ms\": 1, \"blu\": \"healthy\"}], " OK_TRAFFIC
        ", " OK_EXPECT "}",
        n);
}

static void test_timeline_order(void **state)
{
    const char *n[] = {"$.timeline[1].at_ms", "expected a time >= 500", "found integer 100", NULL};
    expect_error("{\"name\": \"n\", \"timeline\": [{\"at_ms\": 500, \"mark\": \"a\"}, {\"at_ms\": "
                 "100, \"mark\": \"b\"}], " OK_TRAFFIC ", " OK_EXPECT "}",
                 n);
}

static void test_mock_behavior_path_prefixed(void **state)
{
    const char *n[] = {"$.upstreams.blue.rules[0]", NULL};
    expect_error("{\"name\": \"n\", \"upstreams\": {\"blue\": {\"rules\": [{\"when\": \"always\", "
                 "\"action\": {\"type\": \"nonsense\"}}]}}, " OK_TRAFFIC ", " OK_EXPECT "}",
                 n);
}

static void test_behavior_word(void **state)
{
    const char *n[] = {"$.upstreams.green", "expected one of healthy, down, refused",
                       "found string \"helthy\"", NULL};
    expect_error("{\"name\": \"n\", \"upstreams\": {\"green\": \"helthy\"}, " OK_TRAFFIC
                 ", " OK_EXPECT "}",
                 n);
}

static void test_relay_key_suggests(void **state)
{
    const char *n[] = {"$.relay", "found \"max_attempt\"", "did you mean 'max_attempts'", NULL};
    expect_error(
        "{\"name\": \"n\", \"relay\": {\"max_attempt\": 3}, " OK_TRAFFIC ", " OK_EXPECT "}", n);
    const char *j[] = {"$.relay.jitter", "one of none, full, equal, decorrelated",
                       "found string \"ful\"", "did you mean 'full'", NULL};
    expect_error(
        "{\"name\": \"n\", \"relay\": {\"jitter\": \"ful\"}, " OK_TRAFFIC ", " OK_EXPECT "}", j);
    /* The policy keys take their words, as the relay's config does. */
    const char *sd[] = {"$.relay.stream_done", "one of lenient, strict", "found string \"strikt\"",
                        "did you mean 'strict'", NULL};
    expect_error("{\"name\": \"n\", \"relay\": {\"stream_done\": \"strikt\"}, " OK_TRAFFIC
                 ", " OK_EXPECT "}",
                 sd);
    const char *md[] = {"$.relay.mode", "one of blue-green, primary-fallback", NULL};
    expect_error(
        "{\"name\": \"n\", \"relay\": {\"mode\": \"active\"}, " OK_TRAFFIC ", " OK_EXPECT "}", md);
    const char *pr[] = {"$.relay.primary", "one of blue, green", NULL};
    expect_error(
        "{\"name\": \"n\", \"relay\": {\"primary\": \"red\"}, " OK_TRAFFIC ", " OK_EXPECT "}", pr);
    const char *q[] = {"$.relay.on_429_without_retry_after", "one of retry, failover", NULL};
    expect_error("{\"name\": \"n\", \"relay\": {\"on_429_without_retry_after\": 1}, " OK_TRAFFIC
                 ", " OK_EXPECT "}",
                 q);
    const char *fr[] = {"$.relay.failback_rise", "an integer in [1, 1000]", NULL};
    expect_error(
        "{\"name\": \"n\", \"relay\": {\"failback_rise\": 0}, " OK_TRAFFIC ", " OK_EXPECT "}", fr);
    const char *fb[] = {"$.relay.first_byte_timeout_ms", NULL};
    expect_error("{\"name\": \"n\", \"relay\": {\"first_byte_timeout_ms\": -1}, " OK_TRAFFIC
                 ", " OK_EXPECT "}",
                 fb);
}

static void test_check_name_and_params(void **state)
{
    const char *n[] = {"$.expect[0].check", "found string \"switchs\"", "did you mean 'switches'",
                       NULL};
    expect_error("{\"name\": \"n\", " OK_TRAFFIC ", \"expect\": [{\"check\": \"switchs\"}]}", n);
    const char *r[] = {"$.expect[0].within_ms", "required by switch_delay", "found nothing", NULL};
    expect_error("{\"name\": \"n\", " OK_TRAFFIC ", \"expect\": [{\"check\": \"switch_delay\", "
                 "\"to\": \"green\", \"after\": \"start\"}]}",
                 r);
    const char *m[] = {"$.expect[0].after", "found string \"fault_of\"", "did you mean 'fault_on'",
                       NULL};
    expect_error(
        "{\"name\": \"n\", \"timeline\": [{\"at_ms\": 5, \"mark\": \"fault_on\"}], " OK_TRAFFIC
        ", \"expect\": [{\"check\": \"switch_delay\", \"to\": \"green\", \"after\": "
        "\"fault_of\", \"within_ms\": 5}]}",
        m);
    const char *b[] = {"$.expect[0]", "min, max or exact", NULL};
    expect_error("{\"name\": \"n\", " OK_TRAFFIC ", \"expect\": [{\"check\": \"attempts\"}]}", b);
    const char *e[] = {"$.expect", "a scenario that checks nothing cannot fail", NULL};
    expect_error("{\"name\": \"n\", " OK_TRAFFIC ", \"expect\": []}", e);
}

static void test_traffic_errors(void **state)
{
    const char *n[] = {"$.traffic", "exactly one of rate_rps or concurrency", NULL};
    expect_error("{\"name\": \"n\", \"traffic\": {\"duration_ms\": 100}, " OK_EXPECT "}", n);
    const char *c[] = {"$.traffic[1].start_ms", "the previous phase has no duration_ms", NULL};
    expect_error("{\"name\": \"n\", \"traffic\": [{\"concurrency\": 2, \"count\": 5}, "
                 "{\"concurrency\": 1, \"count\": 1}], " OK_EXPECT "}",
                 c);
    const char *r[] = {"$.traffic.rate_rps", "a number in [0.01, 5000]", "found integer 9000",
                       NULL};
    expect_error(
        "{\"name\": \"n\", \"traffic\": {\"rate_rps\": 9000, \"duration_ms\": 10}, " OK_EXPECT "}",
        r);
    /* Driver threads: a whole number in [1, 8]; default 1. */
    const char *t0[] = {"dir/t.json", "$.traffic.threads", "a number in [1, 8]", "found integer 0",
                        NULL};
    expect_error("{\"name\": \"n\", \"traffic\": {\"rate_rps\": 10, \"count\": 1, \"threads\": "
                 "0}, " OK_EXPECT "}",
                 t0);
    const char *t9[] = {"$.traffic[0].threads", "a number in [1, 8]", NULL};
    expect_error("{\"name\": \"n\", \"traffic\": [{\"rate_rps\": 10, \"count\": 1, \"threads\": "
                 "9}], " OK_EXPECT "}",
                 t9);
    const char *th[] = {"$.traffic.threads", "a whole number of threads from 1 to 8", "1.5", NULL};
    expect_error("{\"name\": \"n\", \"traffic\": {\"concurrency\": 4, \"count\": 1, "
                 "\"threads\": 1.5}, " OK_EXPECT "}",
                 th);
    const char *ts[] = {"$.traffic.threads", "\"2\"", NULL};
    expect_error("{\"name\": \"n\", \"traffic\": {\"concurrency\": 4, \"count\": 1, "
                 "\"threads\": \"2\"}, " OK_EXPECT "}",
                 ts);
    char err[512] = "";
    struct harness_scenario *sc = parse("{\"name\": \"n\", \"traffic\": [{\"rate_rps\": 10, "
                                        "\"count\": 1, \"threads\": 4}, {\"rate_rps\": 10, "
                                        "\"count\": 1, \"start_ms\": 0}], " OK_EXPECT "}",
                                        err, sizeof err);
    assert_non_null(sc);
    assert_int_equal(sc->phases[0].threads, 4);
    assert_int_equal(sc->phases[1].threads, 1);
    harness_scenario_free(&sc);
    const char *k[] = {"$.traffic", "found \"strem\"", "did you mean 'stream'", NULL};
    expect_error("{\"name\": \"n\", \"traffic\": {\"rate_rps\": 1, \"count\": 1, \"strem\": "
                 "true}, " OK_EXPECT "}",
                 k);
}

static void test_shorthand_translation(void **state)
{
    char err[1024] = "";
    json_t *in = json_pack("{s:i, s:f, s:i, s:s}", "status", 503, "p", 0.2, "latency_ms", 5,
                           "health", "down");
    json_t *b = harness_behavior_translate(in, "$.x", err, sizeof err);
    assert_non_null(b);
    json_t *rule = json_array_get(json_object_get(b, "rules"), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(rule, "action"), "code")),
                     503);
    assert_true(json_real_value(json_object_get(json_object_get(rule, "when"), "p")) == 0.2);
    assert_true(json_number_value(json_object_get(json_object_get(b, "latency"), "fixed_ms")) ==
                5.0);
    assert_non_null(json_object_get(json_object_get(b, "health"), "rules"));
    json_decref(b);
    json_decref(in);

    json_t *down = json_string("down");
    b = harness_behavior_translate(down, "$.x", err, sizeof err);
    assert_non_null(json_object_get(b, "rules"));
    assert_non_null(json_object_get(b, "health"));
    json_decref(b);
    json_decref(down);

    /* A selector alone means nothing: say what is missing. */
    in = json_pack("{s:i}", "first", 2);
    assert_null(harness_behavior_translate(in, "$.y", err, sizeof err));
    assert_non_null(strstr(err, "$.y.first: expected a \"status\" or \"fault\""));
    json_decref(in);
}

static void test_refused_and_admin(void **state)
{
    char err[1024] = "";
    struct harness_scenario *s = parse(
        "{\"name\": \"n\", \"upstreams\": {\"blue\": \"refused\"}, \"timeline\": [{\"at_ms\": 10, "
        "\"admin\": {\"action\": \"weights\", \"blue\": 90, \"green\": 10}}, {\"at_ms\": 20, "
        "\"signal\": \"SIGSTOP\"}], " OK_TRAFFIC ", " OK_EXPECT "}",
        err, sizeof err);
    assert_non_null(s);
    assert_true(s->refused[0]);
    assert_false(s->refused[1]);
    assert_true(s->admin_used);
    assert_string_equal(s->steps[0].admin_path, "/admin/weights");
    assert_string_equal(s->steps[0].admin_method, "PUT");
    assert_int_equal(s->steps[1].sig, HARNESS_SIG_STOP);
    harness_scenario_free(&s);
}

/* An admin step without the right token; a token name that is none of them. */
static void test_admin_token(void **state)
{
    char err[1024] = "";
    struct harness_scenario *s =
        parse("{\"name\": \"n\", \"timeline\": [{\"at_ms\": 10, \"admin\": {\"action\": "
              "\"rollback\", \"token\": \"none\"}}, {\"at_ms\": 20, \"admin\": {\"action\": "
              "\"switch\", \"to\": \"green\", \"token\": \"wrong\"}}, {\"at_ms\": 30, \"admin\": "
              "{\"action\": \"rollback\"}}], " OK_TRAFFIC ", " OK_EXPECT "}",
              err, sizeof err);
    assert_non_null(s);
    assert_int_equal(s->steps[0].admin_token, HARNESS_ADMIN_NONE);
    assert_int_equal(s->steps[1].admin_token, HARNESS_ADMIN_WRONG);
    assert_int_equal(s->steps[2].admin_token, HARNESS_ADMIN_TOKEN);
    harness_scenario_free(&s);
    const char *n[] = {"$.timeline[0].admin.token", "found string \"nnone\"", "did you mean 'none'",
                       NULL};
    expect_error("{\"name\": \"n\", \"timeline\": [{\"at_ms\": 10, \"admin\": {\"action\": "
                 "\"rollback\", \"token\": \"nnone\"}}], " OK_TRAFFIC ", " OK_EXPECT "}",
                 n);
}

/* A third upstream for the relay's direct fallback; the runner owns its URL. */
static void test_direct_upstream(void **state)
{
    char err[1024] = "";
    struct harness_scenario *s =
        parse("{\"name\": \"n\", \"upstreams\": {\"blue\": \"down\", "
              "\"direct\": {\"latency_ms\": 5}}, " OK_TRAFFIC ", " OK_EXPECT "}",
              err, sizeof err);
    assert_non_null(s);
    assert_non_null(s->direct);
    assert_non_null(json_object_get(s->direct, "latency"));
    harness_scenario_free(&s);
    s = parse("{\"name\": \"n\", " OK_TRAFFIC ", " OK_EXPECT "}", err, sizeof err);
    assert_null(s->direct);
    harness_scenario_free(&s);
    const char *n[] = {"$.relay.direct_url", "no direct_url when $.upstreams.direct is set", NULL};
    expect_error("{\"name\": \"n\", \"relay\": {\"direct_url\": \"http://x/v1\"}, \"upstreams\": "
                 "{\"direct\": \"healthy\"}, " OK_TRAFFIC ", " OK_EXPECT "}",
                 n);
    const char *m[] = {"$.upstreams", "found \"drect\"", "did you mean 'direct'", NULL};
    expect_error("{\"name\": \"n\", \"upstreams\": {\"drect\": \"healthy\"}, " OK_TRAFFIC
                 ", " OK_EXPECT "}",
                 m);
}

static void test_time_scale(void **state)
{
    char err[1024] = "";
    json_error_t je;
    json_t *doc =
        json_loads("{\"name\": \"n\", \"relay\": {\"try_timeout_ms\": 100}, "
                   "\"timeline\": [{\"at_ms\": 200, \"blue\": {\"latency_ms\": 5}}], "
                   "\"traffic\": {\"rate_rps\": 10, \"duration_ms\": 300}, " OK_EXPECT "}",
                   0, &je);
    struct harness_scenario *s = harness_scenario_from_json(doc, "t.json", 2.0, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(s->steps[0].at_us, 400000);
    assert_int_equal(s->phases[0].duration_us, 600000);
    assert_true(s->phases[0].rate_rps == 5.0);
    assert_int_equal(json_integer_value(json_object_get(s->relay, "try_timeout_ms")), 200);
    assert_true(json_number_value(json_object_get(
                    json_object_get(s->steps[0].behavior[0], "latency"), "fixed_ms")) == 10.0);
    harness_scenario_free(&s);
    json_decref(doc);
}

/* Every error of a file in one run, each on its own line with its path
 * (issue 14: validation stopped at the first). */
static void test_all_errors_reported(void **state)
{
    char err[HARNESS_MAX_ERRORS * 768] = "";
    struct harness_scenario *s =
        parse("{\"name\": \"n\", \"tgas\": [],"
              " \"relay\": {\"max_atempts\": 3, \"jitter\": \"wobbly\"},"
              " \"upstreams\": {\"green\": \"sideways\"},"
              " \"timeline\": [{\"at_ms\": 10, \"blue\": {\"status\": 999}},"
              "               {\"at_ms\": 20, \"mark\": \"m\"}],"
              " \"traffic\": {\"rate_rps\": 10, \"duration_ms\": 100},"
              " \"expect\": [{\"check\": \"switchs\"},"
              "             {\"check\": \"attempts\", \"max\": -1, \"env\": \"red\"},"
              "             {\"check\": \"client_success_ratio\", \"min\": 1}]}",
              err, sizeof err);
    assert_null(s);
    static const char *const lines[] = {
        "dir/t.json: $: expected a key among",
        "found \"tgas\" (did you mean 'tags'?)",
        "dir/t.json: $.relay: expected a key among",
        "(did you mean 'max_attempts'?)",
        "dir/t.json: $.relay.jitter: expected one of",
        "dir/t.json: $.upstreams.green:",
        "dir/t.json: $.timeline[0].blue.status: expected an HTTP status",
        "dir/t.json: $.expect[0].check:",
        "(did you mean 'switches'?)",
        "dir/t.json: $.expect[1].max: expected a number >= 0",
        "dir/t.json: $.expect[1].env: expected one of blue, green",
        NULL};
    for (const char *const *l = lines; *l; l++)
        if (!strstr(err, *l))
            fail_msg("errors lack '%s':\n%s", *l, err);
    int n = 1;
    for (const char *p = err; (p = strchr(p, '\n')); p++)
        n++;
    assert_int_equal(n, 8);
    /* More than the cap: the first 20, then how many more. */
    char big[8192];
    size_t used =
        (size_t)snprintf(big, sizeof big, "{\"name\": \"n\", " OK_TRAFFIC ", \"expect\": [");
    for (int i = 0; i < 25; i++)
        used += (size_t)snprintf(big + used, sizeof big - used, "%s{\"check\": \"nope%d\"}",
                                 i ? ", " : "", i);
    snprintf(big + used, sizeof big - used, "]}");
    s = parse(big, err, sizeof err);
    assert_null(s);
    assert_non_null(strstr(err, "$.expect[19].check"));
    assert_null(strstr(err, "$.expect[20].check"));
    assert_non_null(strstr(err, "dir/t.json: 5 more error(s) not shown (the first 20 are)"));
}

/* Values that cannot be: ratios outside [0, 1], a lower bound above its
 * upper, percentiles out of order, a backoff base above the cap the relay
 * will run with (its own or the runner's default), a step after the
 * traffic. */
static void test_range_and_consistency(void **state)
{
    static const struct {
        const char *text, *needle;
    } cases[] = {
        {"{\"name\": \"n\", " OK_TRAFFIC
         ", \"expect\": [{\"check\": \"client_success_ratio\", \"min\": 1.5}]}",
         "$.expect[0].min: expected a ratio in [0, 1], found real 1.5"},
        {"{\"name\": \"n\", " OK_TRAFFIC
         ", \"expect\": [{\"check\": \"served_ratio\", \"env\": \"blue\", \"max\": 2}]}",
         "$.expect[0].max: expected a ratio in [0, 1]"},
        {"{\"name\": \"n\", " OK_TRAFFIC
         ", \"expect\": [{\"check\": \"attempts\", \"min\": 3, \"max\": 2}]}",
         "$.expect[0].max: expected a number >= min (3), found integer 2"},
        {"{\"name\": \"n\", " OK_TRAFFIC
         ", \"expect\": [{\"check\": \"latency\", \"p50_ms\": 100, \"p95_ms\": 90}]}",
         "$.expect[0].p95_ms: expected a number >= p50_ms (100)"},
        {"{\"name\": \"n\", " OK_TRAFFIC
         ", \"expect\": [{\"check\": \"latency\", \"p99_ms\": 100, \"max_ms\": 90}]}",
         "$.expect[0].max_ms: expected a number >= p99_ms (100)"},
        {"{\"name\": \"n\", " OK_TRAFFIC
         ", \"expect\": [{\"check\": \"backoff_gaps\", \"base_ms\": 50, \"cap_ms\": 10}]}",
         "$.expect[0].cap_ms: expected a number >= base_ms (50)"},
        {"{\"name\": \"n\", \"relay\": {\"backoff_base_ms\": 500}, " OK_TRAFFIC ", " OK_EXPECT "}",
         "$.relay.backoff_base_ms: expected at most the runner's default backoff_cap_ms (200"},
        {"{\"name\": \"n\", \"relay\": {\"backoff_base_ms\": 50, \"backoff_cap_ms\": "
         "40}, " OK_TRAFFIC ", " OK_EXPECT "}",
         "$.relay.backoff_base_ms: expected at most backoff_cap_ms (40), found integer 50"},
        {"{\"name\": \"n\", \"timeline\": [{\"at_ms\": 500, \"mark\": \"late\"}], " OK_TRAFFIC
         ", " OK_EXPECT "}",
         "$.timeline[0].at_ms: expected a time within the traffic (0..100 ms), found integer 500"},
        /* Caught at validation, not inconclusive at run time: a phase or a
         * replica the scenario does not have, a ratio bound that cannot fail. */
        {"{\"name\": \"n\", " OK_TRAFFIC ", \"expect\": [{\"check\": \"client_success_ratio\", "
         "\"min\": 0.9, \"phase\": 3}]}",
         "$.expect[0].phase: expected a phase index below 1 (the phases), found integer 3"},
        {"{\"name\": \"n\", \"fleet\": {\"replicas\": 2}, " OK_TRAFFIC ", \"expect\": [{\"check\": "
         "\"client_success_ratio\", \"min\": 0.9, \"replica\": 3}]}",
         "$.expect[0].replica: expected a replica index 0..1 (\"fleet\": {\"replicas\": 2}), "
         "found integer 3"},
        {"{\"name\": \"n\", " OK_TRAFFIC ", \"expect\": [{\"check\": \"client_success_ratio\", "
         "\"replica\": 1, \"min\": 0.9}]}",
         "$.expect[0].replica: expected a replica index 0..0"},
        {"{\"name\": \"n\", " OK_TRAFFIC ", \"expect\": [{\"check\": \"client_success_ratio\", "
         "\"min\": 0}]}",
         "$.expect[0].min: expected a ratio in (0, 1] (a \"min\" of 0 can never fail), found "
         "integer 0"},
        {"{\"name\": \"n\", " OK_TRAFFIC ", \"expect\": [{\"check\": \"client_success_ratio\", "
         "\"min\": 0.5, \"max\": 1.0}]}",
         "$.expect[0].max: expected a ratio in [0, 1) (a \"max\" of 1 can never fail)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *needles[] = {cases[i].needle, NULL};
        expect_error(cases[i].text, needles);
    }
    /* The same within bounds is valid: a raised cap allows the base. */
    char err[1024] = "";
    struct harness_scenario *s =
        parse("{\"name\": \"n\", \"relay\": {\"backoff_base_ms\": 500, \"backoff_cap_ms\": 800}, "
              "\"timeline\": [{\"at_ms\": 100, \"mark\": \"end\"}], " OK_TRAFFIC
              ", \"expect\": [{\"check\": \"latency\", \"p50_ms\": 5, \"p99_ms\": 5},"
              " {\"check\": \"client_success_ratio\", \"min\": 0.5, \"max\": 0.99}]}",
              err, sizeof err);
    if (!s)
        fail_msg("%s", err);
    harness_scenario_free(&s);
}

/* Request templates (issue 12): a full body sent as written, a raw body with
 * its Content-Type, method and path, a weighted list. */
static void test_request_templates(void **state)
{
    char err[2048] = "";
    struct harness_scenario *s = parse(
        "{\"name\": \"t\", \"traffic\": [{\"rate_rps\": 10, \"duration_ms\": 100, \"request\": "
        "{\"name\": \"prefill\", \"body\": {\"model\": \"m1\", \"stream\": true, "
        "\"stream_options\": {\"include_usage\": true}, \"max_tokens\": 9, \"temperature\": 0.2, "
        "\"messages\": [{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", "
        "\"content\": \"u\"}, {\"role\": \"assistant\", \"content\": \"a\"}]}}}, "
        "{\"rate_rps\": 10, \"duration_ms\": 100, \"requests\": [{\"name\": \"text\", \"weight\": "
        "3, \"raw\": \"hi\", \"content_type\": \"text/plain\", \"method\": \"PUT\", \"path\": "
        "\"/v1/x\"}, {\"body\": {\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": "
        "\"text\", \"text\": \"p\"}]}], \"user\": \"mine\"}}]}], "
        "\"expect\": [{\"check\": \"answer_integrity\", \"template\": \"prefill\"}, "
        "{\"check\": \"client_status\", \"template\": \"text\", \"status\": 415}]}",
        err, sizeof err);
    assert_non_null(s);
    const struct harness_phase *f = &s->phases[0];
    assert_int_equal(f->n_tpl, 1);
    assert_string_equal(f->tpl[0].name, "prefill");
    assert_true(f->tpl[0].stream);
    assert_true(f->tpl[0].include_usage);
    assert_int_equal(f->tpl[0].max_tokens, 9);
    assert_string_equal(f->tpl[0].model, "m1");
    assert_string_equal(f->tpl[0].method, "POST");
    assert_string_equal(f->tpl[0].path, "/v1/chat/completions");
    assert_string_equal(f->tpl[0].ctype, "application/json");
    /* Extra fields are kept as written. */
    assert_non_null(json_object_get(f->tpl[0].body, "temperature"));
    f = &s->phases[1];
    assert_int_equal(f->n_tpl, 2);
    assert_true(f->tpl[0].weight == 3.0);
    assert_string_equal(f->tpl[0].method, "PUT");
    assert_string_equal(f->tpl[0].path, "/v1/x");
    assert_string_equal(f->tpl[0].ctype, "text/plain");
    assert_string_equal(json_string_value(f->tpl[0].raw), "hi");
    assert_null(f->tpl[0].body);
    assert_true(f->tpl[1].weight == 1.0);
    assert_true(f->tpl[1].own_user);
    assert_int_equal(f->tpl[1].max_tokens, -1);
    harness_scenario_free(&s);
    /* --time-scale scales the scenario's times, never a body's own fields. */
    json_error_t je;
    json_t *doc = json_loads("{\"name\": \"t\", \"traffic\": {\"rate_rps\": 10, \"duration_ms\": "
                             "100, \"timeout_ms\": 500, \"request\": {\"body\": {\"cache_ms\": "
                             "100}}}, " OK_EXPECT "}",
                             0, &je);
    s = harness_scenario_from_json(doc, "t.json", 2.0, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(s->phases[0].duration_us, 200000);
    assert_int_equal(json_integer_value(json_object_get(s->phases[0].tpl[0].body, "cache_ms")),
                     100);
    harness_scenario_free(&s);
    json_decref(doc);
}

/* The client behaviours of scenarios/clients: a forwarded client's
 * headers, a client that declares its body and stalls or trickles it, and
 * the relay keys they need; each bad value names file, path and what was
 * expected. */
static void test_client_behaviours(void **state)
{
    char err[2048] = "";
    struct harness_scenario *s = parse(
        "{\"name\": \"c\", \"relay\": {\"trusted_proxies\": \"127.0.0.1,::1\", "
        "\"rate_limit_max_keys\": 2, \"request_read_timeout_ms\": 800, \"max_clients\": 2, "
        "\"max_connections\": 3}, \"traffic\": [{\"concurrency\": 1, \"count\": 2, \"request\": "
        "{\"headers\": {\"X-Forwarded-For\": \"203.0.113.7, 127.0.0.1\"}, \"body\": {}}}, "
        "{\"concurrency\": 1, \"count\": 1, \"start_ms\": 500, \"request\": {\"declared_length\": "
        "400, "
        "\"sent_bytes\": 20, \"trickle_ms\": 100, \"expect_continue\": true, \"body\": "
        "{}}}], " OK_EXPECT "}",
        err, sizeof err);
    if (!s)
        fail_msg("%s", err);
    const struct harness_template *t = &s->phases[0].tpl[0];
    assert_int_equal(t->n_headers, 1);
    assert_string_equal(t->headers[0], "X-Forwarded-For: 203.0.113.7, 127.0.0.1");
    assert_int_equal(t->declared_length, 0);
    t = &s->phases[1].tpl[0];
    assert_int_equal(t->declared_length, 400);
    assert_int_equal(t->sent_bytes, 20);
    assert_int_equal(t->trickle_ms, 100);
    assert_true(t->expect_continue);
    harness_scenario_free(&s);
#define PH(x)                                                                                      \
    "{\"name\": \"t\", \"traffic\": {\"rate_rps\": 10, \"duration_ms\": 100, " x "}, " OK_EXPECT "}"
    expect_error(PH("\"request\": {\"headers\": {\"Authorization\": \"Bearer x\"}, \"body\": {}}"),
                 (const char *[]){"dir/t.json: $.traffic.request.headers.Authorization: expected a "
                                  "header the runner does not write itself",
                                  NULL});
    expect_error(PH("\"request\": {\"headers\": {\"X-A\": \"a\\r\\nX-B: b\"}, \"body\": {}}"),
                 (const char *[]){"$.traffic.request.headers.X-A: expected a string of printable "
                                  "ASCII",
                                  NULL});
    expect_error(PH("\"request\": {\"headers\": {\"X A\": \"a\"}, \"body\": {}}"),
                 (const char *[]){"$.traffic.request.headers.X A: expected a header name", NULL});
    expect_error(PH("\"request\": {\"headers\": [\"X-A: a\"], \"body\": {}}"),
                 (const char *[]){"$.traffic.request.headers: expected an object", NULL});
    expect_error(PH("\"request\": {\"declared_length\": 0, \"body\": {}}"),
                 (const char *[]){"$.traffic.request.declared_length: expected an integer in [1, "
                                  "1073741824]",
                                  "found integer 0", NULL});
    expect_error(PH("\"request\": {\"sent_bytes\": 5, \"body\": {}}"),
                 (const char *[]){"$.traffic.request.sent_bytes: expected no sent_bytes without "
                                  "declared_length",
                                  NULL});
    expect_error(PH("\"request\": {\"declared_length\": 10, \"sent_bytes\": 10, \"body\": {}}"),
                 (const char *[]){"$.traffic.request.sent_bytes: expected an integer in [0, "
                                  "declared_length)",
                                  NULL});
    expect_error(
        PH("\"request\": {\"trickle_ms\": 100, \"body\": {}}"),
        (const char *[]){"$.traffic.request.trickle_ms: expected no trickle_ms without", NULL});
    expect_error(
        PH("\"request\": {\"declared_length\": 10, \"trickle_ms\": 0, \"body\": {}}"),
        (const char *[]){"$.traffic.request.trickle_ms: expected an integer in [1, 60000]", NULL});
    expect_error(
        PH("\"request\": {\"declared_length\": 10, \"expect_continue\": 1, \"body\": "
           "{}}"),
        (const char *[]){"$.traffic.request.expect_continue: expected true or false", NULL});
#undef PH
    expect_error(
        "{\"name\": \"t\", \"relay\": {\"trusted_proxies\": \"127.0.0.1, 10.0.0.1\"}, " OK_TRAFFIC
        ", " OK_EXPECT "}",
        (const char *[]){"dir/t.json: $.relay.trusted_proxies: expected a comma list of "
                         "IPv4/IPv6 addresses",
                         NULL});
    expect_error("{\"name\": \"t\", \"relay\": {\"trusted_proxies\": \"127.0.0.1,\"}, " OK_TRAFFIC
                 ", " OK_EXPECT "}",
                 (const char *[]){"$.relay.trusted_proxies: expected a comma list", NULL});
    expect_error(
        "{\"name\": \"t\", \"relay\": {\"request_read_timeout_ms\": 50}, " OK_TRAFFIC ", " OK_EXPECT
        "}",
        (const char *[]){"$.relay.request_read_timeout_ms: expected an integer in [100, ", NULL});
    expect_error("{\"name\": \"t\", \"relay\": {\"max_clients\": 0}, " OK_TRAFFIC ", " OK_EXPECT
                 "}",
                 (const char *[]){"$.relay.max_clients: expected an integer in [1, 100000]", NULL});
}

static void test_request_template_errors(void **state)
{
#define PH(x)                                                                                      \
    "{\"name\": \"t\", \"traffic\": {\"rate_rps\": 10, \"duration_ms\": 100, " x "}, " OK_EXPECT "}"
    expect_error(PH("\"request\": {\"body\": {\"messages\": [{\"role\": \"user\", \"content\": "
                    "\"a\"}, {\"content\": \"b\"}]}}"),
                 (const char *[]){"dir/t.json: $.traffic.request.body.messages[1].role: expected a "
                                  "role",
                                  "found nothing", NULL});
    expect_error(PH("\"request\": {\"raw\": \"x\"}"),
                 (const char *[]){"$.traffic.request.content_type: expected the raw body's "
                                  "Content-Type",
                                  NULL});
    expect_error(PH("\"request\": {\"raw\": \"x\", \"body\": {}, \"content_type\": \"a/b\"}"),
                 (const char *[]){"$.traffic.request: expected exactly one of body", NULL});
    expect_error(PH("\"prompt\": \"p\", \"request\": {\"body\": {}}"),
                 (const char *[]){"$.traffic.prompt: expected nothing next to request", NULL});
    expect_error(PH("\"request\": {\"weight\": 2, \"body\": {}}"),
                 (const char *[]){"$.traffic.request.weight: expected no weight", NULL});
    expect_error(PH("\"requests\": [{\"body\": {}}, {\"body\": {\"stream\": \"yes\"}}]"),
                 (const char *[]){"$.traffic.requests[1].body.stream: expected true or false",
                                  "found string \"yes\"", NULL});
    expect_error(PH("\"requests\": [{\"body\": {\"stream_options\": {\"include_usage\": 1}}}]"),
                 (const char *[]){"$.traffic.requests[0].body.stream_options.include_usage", NULL});
    expect_error(PH("\"request\": {\"method\": \"POTS\", \"body\": {}}"),
                 (const char *[]){"$.traffic.request.method", "did you mean 'POST'", NULL});
    expect_error(PH("\"request\": {\"path\": \"v1/chat\", \"body\": {}}"),
                 (const char *[]){"$.traffic.request.path: expected a path", NULL});
    expect_error(PH("\"request\": {\"body\": {}, \"bodi\": 1}"),
                 (const char *[]){"$.traffic.request", "did you mean 'body'", NULL});
    expect_error(
        PH("\"requests\": [{\"name\": \"a\", \"body\": {}}, {\"name\": \"a\", \"body\": "
           "{}}]"),
        (const char *[]){"$.traffic.requests[1].name: expected a template name not used", NULL});
    /* Every template's error, not only the first. */
    expect_error(PH("\"requests\": [{\"raw\": \"x\"}, {\"body\": {}}, {\"metod\": \"GET\", "
                    "\"body\": {}}]"),
                 (const char *[]){"$.traffic.requests[0].content_type", "$.traffic.requests[2]",
                                  "did you mean 'method'", NULL});
    expect_error(PH("\"requests\": []"),
                 (const char *[]){"$.traffic.requests: expected an array of 1..8", NULL});
    expect_error(
        PH("\"request\": {\"body\": {\"max_tokens\": -1}}"),
        (const char *[]){"$.traffic.request.body.max_tokens: expected an integer >= 0", NULL});
    /* A check of a template names one the traffic has. */
    expect_error(
        "{\"name\": \"t\", \"traffic\": {\"rate_rps\": 10, \"duration_ms\": 100, "
        "\"request\": {\"name\": \"a\", \"body\": {}}}, \"expect\": [{\"check\": "
        "\"usage_reported\", \"template\": \"b\"}]}",
        (const char *[]){"$.expect[0].template: expected the name of a request template", NULL});
#undef PH
}

static void test_collect_files(void **state)
{
    char dir[] = "/tmp/cutover-coll-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[512];
    snprintf(p, sizeof p, "%s/sub", dir);
    mkdir(p, 0755);
    const char *names[] = {"sub/b.json", "a.json", "notes.txt"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        FILE *f = fopen(p, "w");
        fputs("{}", f);
        fclose(f);
    }
    char **files = NULL, err[256];
    char *paths[] = {dir};
    int n = harness_collect_files(paths, 1, &files, err, sizeof err);
    assert_int_equal(n, 2);
    assert_non_null(strstr(files[0], "/a.json"));
    assert_non_null(strstr(files[1], "/sub/b.json"));
    harness_paths_free(files, n);
    char *missing[] = {"/nonexistent/cutover"};
    assert_int_equal(harness_collect_files(missing, 1, &files, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/cutover"));
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/sub", dir);
    rmdir(p);
    rmdir(dir);
}

/* The scenario validator's relay keys (harness/scenario.c) are a copy of
 * the relay's (relay/relay_config.c: the harness never links the relay).
 * The copy may know fewer keys, never another: each is the relay's, an
 * integer with the same bounds, and every word it takes the relay takes,
 * so that `cutover validate` passes nothing the relay refuses at start. */
static void test_relay_keys_are_the_relays(void **state)
{
    size_t n = 0;
    for (const char *const *k = harness_relay_key_names(); *k; k++, n++) {
        int64_t hmin, hmax, rmin, rmax;
        const char *const *words;
        int h = harness_relay_key_info(*k, &hmin, &hmax, &words);
        int r = relay_config_key_info(*k, &rmin, &rmax);
        if (r < 0)
            fail_msg("scenario relay key '%s' is not a key of the relay", *k);
        if (h != r)
            fail_msg("'%s': an integer for %s only", *k, h ? "the harness" : "the relay");
        if (h == 1 && (hmin != rmin || hmax != rmax))
            fail_msg("'%s': harness bounds [%lld, %lld], relay [%lld, %lld]", *k, (long long)hmin,
                     (long long)hmax, (long long)rmin, (long long)rmax);
        char why[256];
        for (const char *const *w = words; w && *w; w++)
            if (relay_config_check(*k, *w, why, sizeof why) != 0)
                fail_msg("'%s': the harness takes '%s', the relay expects %s", *k, *w, why);
        if (words)
            assert_int_not_equal(relay_config_check(*k, "no-such-word", why, sizeof why), 0);
    }
    assert_true(n > 20);
    int64_t a, b;
    const char *const *w;
    assert_int_equal(harness_relay_key_info("port", &a, &b, &w), -1); /* the runner's own */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_minimal),
        cmocka_unit_test(test_syntax_error_names_line_col),
        cmocka_unit_test(test_unknown_top_key_suggests),
        cmocka_unit_test(test_timeline_status_type),
        cmocka_unit_test(test_timeline_key_suggests),
        cmocka_unit_test(test_timeline_order),
        cmocka_unit_test(test_mock_behavior_path_prefixed),
        cmocka_unit_test(test_behavior_word),
        cmocka_unit_test(test_relay_key_suggests),
        cmocka_unit_test(test_check_name_and_params),
        cmocka_unit_test(test_traffic_errors),
        cmocka_unit_test(test_shorthand_translation),
        cmocka_unit_test(test_refused_and_admin),
        cmocka_unit_test(test_admin_token),
        cmocka_unit_test(test_direct_upstream),
        cmocka_unit_test(test_time_scale),
        cmocka_unit_test(test_all_errors_reported),
        cmocka_unit_test(test_range_and_consistency),
        cmocka_unit_test(test_request_templates),
        cmocka_unit_test(test_request_template_errors),
        cmocka_unit_test(test_collect_files),
        cmocka_unit_test(test_relay_keys_are_the_relays),
        cmocka_unit_test(test_client_behaviours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
