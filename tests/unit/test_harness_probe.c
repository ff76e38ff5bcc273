/* Unit tests for harness/probe.c and the checks that read probes
 * (health_reports, metrics_truth, prometheus_valid), plus what came with
 * them (issue 12 items 5-6): check severity and graded verdicts, count
 * checks limited to a phase or a window, phases that start after the
 * previous one, probe steps in the timeline.  Relays not in this repo are
 * modelled by hand: a counter that never moves, a /health that keeps saying
 * blue after a switch, a Prometheus page with a malformed line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness/checks.h"
#include "harness/obs.h"
#include "harness/probe.h"
#include "harness/scenario.h"
#include "reports/report.h"
#include "tests/support/tobs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MS TOBS_MS
#define T0 TOBS_T0

static struct harness_obs obs;

static int setup(void **state)
{
    tobs_init(&obs, 64, 256, 0);
    /* cutover-relay's map, as its profile declares it. */
    struct harness_probe_map *m = &obs.probe_map;
    json_error_t je;
    json_t *j = json_loads(
        "{\"health\": {\"path\": \"/health\", \"active\": \"/active_env\", \"healthy\": "
        "{\"blue\": \"/environments/blue\", \"green\": \"/environments/green\"}, "
        "\"unhealthy_status\": 503},"
        " \"metrics\": {\"path\": \"/api/metrics\", \"active\": \"/active_environment\", "
        "\"counters\": {\"attempts.blue\": \"/environments/blue/total_requests\", "
        "\"errors.blue\": \"/environments/blue/error_count\", \"errors.green\": "
        "\"/environments/green/error_count\"}},"
        " \"prometheus\": {\"path\": \"/metrics\", \"active\": "
        "\"holysheep_active_environment{environment=\\\"{colour}\\\"}\", "
        "\"counters\": {\"tokens\": \"holysheep_tokens_total\", \"cost\": "
        "\"holysheep_cost_usd_total\", \"errors.blue\": "
        "\"holysheep_upstream_attempts_total{environment=\\\"blue\\\",result=\\\"error\\\"}\", "
        "\"errors.green\": "
        "\"holysheep_upstream_attempts_total{environment=\\\"green\\\",result=\\\"error\\\"}\", "
        "\"requests\": "
        "\"holysheep_requests_total\", \"retries\": \"holysheep_retries_total\", \"switches\": "
        "\"holysheep_switches_total\", \"attempts.blue\": "
        "\"holysheep_upstream_attempts_total{environment=\\\"blue\\\"}\", \"attempts.green\": "
        "\"holysheep_upstream_attempts_total{environment=\\\"green\\\"}\"}}}",
        0, &je);
    assert_non_null(j);
    char err[256];
    assert_int_equal(harness_probe_map_parse(j, "$.probes", m, err, sizeof err), 0);
    json_decref(j);
    return 0;
}

static int teardown(void **state)
{
    harness_obs_free(&obs);
    return 0;
}

/* A request answered 200 after 5 ms, in phase. */
static struct harness_req *req(const char *id, uint64_t ms, int phase)
{
    struct harness_req *r = tobs_req(&obs, id, ms, 5, 200, "", HARNESS_OK);
    r->phase = phase;
    return r;
}

/* An attempt (a health probe when id is empty) taking 2 ms; every whole
 * answer reports 10 + 5 tokens, an error none. */
static struct harness_att *att(const char *id, const char *env, uint64_t ms, int status)
{
    struct harness_att *a = tobs_att(&obs, id, env, ms, 2, status);
    snprintf(a->end, sizeof a->end, "complete");
    a->health = id[0] == '\0';
    if (a->health)
        snprintf(a->path, sizeof a->path, "/health");
    snprintf(a->model, sizeof a->model, "gpt-4.1");
    a->prompt_tokens = status / 100 == 2 ? 10 : -1;
    a->completion_tokens = status / 100 == 2 ? 5 : -1;
    return a;
}

static struct harness_probe *probe(const char *name, int kind, uint64_t ms, long status,
                                   const char *body)
{
    struct harness_probe *p = &obs.probes[obs.n_probes++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->kind = kind;
    memcpy(p->path, obs.probe_map.path[kind], sizeof p->path);
    p->t_sent = T0 + ms * MS;
    p->t_done = p->t_sent + MS;
    p->status = status;
    p->prom_rc = -1;
    p->answered = (long)obs.n_reqs;
    if (body) {
        p->body = strdup(body);
        p->len = strlen(body);
    }
    return p;
}

/* Replaces what probe k read (its body and length). */
static void probe_body(size_t k, const char *body)
{
    free(obs.probes[k].body);
    obs.probes[k].body = strdup(body);
    obs.probes[k].len = strlen(body);
}

static int run(const char *json, struct report_check *v)
{
    static const char *const marks[] = {"start", "after_traffic", "mid", NULL};
    return tobs_run(&obs, json, marks, v);
}

static void expect_invalid(const char *json, const char *needle)
{
    static const char *const marks[] = {"start", NULL};
    tobs_expect_invalid(json, marks, needle);
}

/* The relay's counter name, as the client and the mocks saw it: known,
 * and exactly want. */
static void observed_is(const char *name, double want)
{
    double v;
    char why[256] = "";
    if (harness_counter_observed(name, &obs, &v, why, sizeof why) != 0)
        fail_msg("%s: not known (%s)", name, why);
    if (v != want)
        fail_msg("%s: observed %g, not %g", name, v, want);
}

/* A failover run: 4 requests, r2 failed on blue and went to green; then
 * r3, r4 on green.  The client and the mocks saw: 4 requests, 1 retry, 1
 * switch, 2 traffic attempts on blue (r1, r2) and 3 on green. */
static void failover_run(void)
{
    req("r1", 0, 0);
    req("r2", 100, 0);
    req("r3", 200, 0);
    req("r4", 300, 0);
    att("", "blue", 1, 200); /* the relay's health checks */
    att("", "green", 1, 200);
    att("r1", "blue", 5, 200);
    att("r2", "blue", 105, 503);
    att("r2", "green", 120, 200);
    att("r3", "green", 205, 200);
    att("r4", "green", 305, 200);
    obs.n_prices = 1;
    snprintf(obs.prices[0].model, sizeof obs.prices[0].model, "gpt-4.1");
    obs.prices[0].usd_per_million = 2; /* 4 answers x 15 tokens: 60, USD 0.00012 */
}

#define PROM_OK                                                                                    \
    "# HELP holysheep_requests_total x\n# TYPE holysheep_requests_total counter\n"                 \
    "holysheep_requests_total{environment=\"blue\",status=\"200\"} 1\n"                            \
    "holysheep_requests_total{environment=\"green\",status=\"200\"} 3\n"                           \
    "holysheep_retries_total{environment=\"blue\",reason=\"upstream_503\"} 1\n"                    \
    "holysheep_switches_total{from=\"blue\",to=\"green\",reason=\"upstream_503\"} 1\n"             \
    "holysheep_upstream_attempts_total{environment=\"blue\",result=\"ok\"} 1\n"                    \
    "holysheep_upstream_attempts_total{environment=\"blue\",result=\"error\"} 1\n"                 \
    "holysheep_upstream_attempts_total{environment=\"green\",result=\"ok\"} 3\n"                   \
    "holysheep_upstream_attempts_total{environment=\"green\",result=\"error\"} 0\n"                \
    "holysheep_active_environment{environment=\"blue\"} 0\n"                                       \
    "holysheep_active_environment{environment=\"green\"} 1\n"                                      \
    "holysheep_tokens_total{model=\"gpt-4.1\",kind=\"prompt\"} 40\n"                               \
    "holysheep_tokens_total{model=\"gpt-4.1\",kind=\"completion\"} 20\n"                           \
    "holysheep_cost_usd_total{model=\"gpt-4.1\"} 0.00012\n"

/* ---- harness/probe.c pieces --------------------------------------------------- */

static void test_prom_sum(void **state)
{
    double sum;
    char err[256];
    assert_int_equal(harness_prom_sum(PROM_OK, "holysheep_requests_total", &sum, err, sizeof err),
                     2);
    assert_true(sum == 4);
    assert_int_equal(harness_prom_sum(PROM_OK,
                                      "holysheep_upstream_attempts_total{environment=\"blue\"}",
                                      &sum, err, sizeof err),
                     2);
    assert_true(sum == 2);
    assert_int_equal(harness_prom_sum(PROM_OK,
                                      "holysheep_upstream_attempts_total{environment="
                                      "\"green\",result=\"ok\"}",
                                      &sum, err, sizeof err),
                     1);
    assert_true(sum == 3);
    /* A name that only prefixes another is not it. */
    assert_int_equal(harness_prom_sum(PROM_OK, "holysheep_requests", &sum, err, sizeof err), 0);
    /* A malformed sample line of the wanted metric cannot be read. */
    assert_int_equal(harness_prom_sum("holysheep_requests_total{a=\"1\" 3\n",
                                      "holysheep_requests_total", &sum, err, sizeof err),
                     -1);
    assert_int_equal(harness_prom_sum("holysheep_requests_total seven\n",
                                      "holysheep_requests_total", &sum, err, sizeof err),
                     -1);
    assert_int_equal(harness_prom_selector_check("a_total{x=\"y\"}", err, sizeof err), 0);
    assert_int_equal(harness_prom_selector_check("a_total{x=y}", err, sizeof err), -1);
    assert_int_equal(harness_prom_selector_check("9abc", err, sizeof err), -1);
}

static void test_json_pointer(void **state)
{
    json_error_t je;
    json_t *d = json_loads("{\"a\": {\"b/c\": [1, 2, {\"~k\": true}]}}", 0, &je);
    assert_ptr_equal(harness_json_pointer(d, ""), d);
    assert_int_equal(json_integer_value(harness_json_pointer(d, "/a/b~1c/1")), 2);
    assert_true(json_is_true(harness_json_pointer(d, "/a/b~1c/2/~0k")));
    assert_null(harness_json_pointer(d, "/a/b~1c/3"));
    assert_null(harness_json_pointer(d, "/a/b~1c/01"));
    assert_null(harness_json_pointer(d, "a"));
    assert_null(harness_json_pointer(d, "/a/x/y"));
    json_decref(d);
}

static void test_probe_map_errors(void **state)
{
    struct {
        const char *json, *needle;
    } cases[] = {
        {"{\"helth\": {\"path\": \"/health\"}}", "did you mean 'health'"},
        {"{\"metrics\": {\"path\": \"api\"}}", "a path starting with /"},
        {"{\"prometheus\": {\"path\": \"/m\", \"counters\": {\"request\": \"x\"}}}",
         "did you mean 'requests'"},
        {"{\"prometheus\": {\"path\": \"/m\", \"counters\": {\"requests\": \"x{y=z}\"}}}",
         "a selector like"},
        {"{\"health\": {\"path\": \"/h\", \"healthy\": {\"blu\": \"/b\"}}}", "did you mean 'blue'"},
        {"{\"health\": {\"path\": \"/h\", \"unhealthy_status\": \"503\"}}", "an HTTP status"},
        {"{\"health\": {\"path\": \"/h\", \"unhealthy_status\": 99}}", "an HTTP status"},
        {"{\"prometheus\": {\"path\": \"/m\", \"active\": \"gauge{environment=\\\"blue\\\"}\"}}",
         "with {colour}"},
        {"{\"prometheus\": {\"path\": \"/m\", \"active\": \"gauge{environment={colour}}\"}}",
         "with {colour}"},
        {"{\"colours\": {\"blue\": \"a\", \"green\": \"a\"}}", "two different"},
        {"{\"colours\": {\"blu\": \"a\"}}", "did you mean 'blue'"},
        {"{\"metrics\": {\"path\": \"/m\", \"counters\": {\"error.blue\": \"/x\"}}}",
         "did you mean 'errors.blue'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_error_t je;
        json_t *j = json_loads(cases[i].json, 0, &je);
        assert_non_null(j);
        struct harness_probe_map m;
        char err[512] = "";
        assert_int_equal(harness_probe_map_parse(j, "$.probes", &m, err, sizeof err), -1);
        if (!strstr(err, cases[i].needle))
            fail_msg("%s: '%s' lacks '%s'", cases[i].json, err, cases[i].needle);
        json_decref(j);
    }
}

static void test_counters_observed(void **state)
{
    failover_run();
    harness_obs_index(&obs);
    double v;
    char why[256];
    observed_is("requests", 4);
    observed_is("retries", 1);
    observed_is("switches", 1);
    observed_is("attempts.blue", 2);
    observed_is("attempts.green", 3);
    /* A failover at the very end that no request revisited: unknown. */
    req("r5", 400, 0);
    att("r5", "green", 405, 503);
    att("r5", "blue", 420, 200);
    harness_obs_index(&obs);
    assert_int_equal(harness_counter_observed("switches", &obs, &v, why, sizeof why), -1);
    assert_non_null(strstr(why, "no request came after it"));
    /* The relay answering 5xx itself, asking no colour: unknown. */
    obs.n_atts -= 2;
    obs.reqs[4].status = 503;
    harness_obs_index(&obs);
    assert_int_equal(harness_counter_observed("switches", &obs, &v, why, sizeof why), -1);
    assert_non_null(strstr(why, "without reaching a colour"));
    obs.n_reqs--;
    harness_obs_index(&obs);
    /* Without ids, retries and switches cannot be counted per request. */
    obs.signals &= ~HARNESS_SIG_IDS;
    assert_int_equal(harness_counter_observed("retries", &obs, &v, why, sizeof why), -1);
    /* A request with no answer may or may not be in the relay's count. */
    obs.reqs[3].status = 0;
    assert_int_equal(harness_counter_observed("requests", &obs, &v, why, sizeof why), -1);
    assert_non_null(strstr(why, "no HTTP answer"));
}

static void test_redact(void **state)
{
    struct harness_probe *p = probe("m", HARNESS_PROBE_METRICS, 10, 200,
                                    "{\"key\": \"sk-secret-1234\", \"again\": \"sk-secret-1234\"}");
    p->headers = strdup("X-Key: sk-secret-1234\r\n");
    probe("h", HARNESS_PROBE_HEALTH, 10, 200, "{\"active_env\": \"blue\"}");
    assert_int_equal(harness_probe_redact(&obs, "sk-secret-1234"), 1);
    assert_null(strstr(obs.probes[0].body, "sk-secret"));
    assert_null(strstr(obs.probes[0].headers, "sk-secret"));
    assert_non_null(strstr(obs.probes[0].body, "**************"));
    assert_int_equal(harness_probe_redact(&obs, "sk-secret-1234"), 0);
}

static void test_promtool(void **state)
{
    char path[] = "/tmp/cutover-prom-XXXXXX", out[384];
    int fd = mkstemp(path);
    assert_true(write(fd, PROM_OK, strlen(PROM_OK)) > 0);
    close(fd);
    int rc = harness_promtool_check(path, 10000, out, sizeof out);
    if (rc < 0) {
        /* Not installed: says so, and the check stays inconclusive. */
        assert_non_null(strstr(out, "promtool"));
        unlink(path);
        skip();
    }
    assert_true(rc == 0 || rc == 3); /* lint may ask for HELP lines */
    FILE *f = fopen(path, "w");
    fputs("holysheep_requests_total{a=\"1\" 3\n", f);
    fclose(f);
    assert_int_equal(harness_promtool_check(path, 10000, out, sizeof out), 1);
    assert_non_null(strstr(out, "pars"));
    unlink(path);
}

/* ---- the checks ----------------------------------------------------------------- */

static void test_metrics_truth(void **state)
{
    struct report_check v;
    failover_run();
    /* A probe before any is taken: nothing to judge. */
    assert_int_equal(run("{\"check\": \"metrics_truth\", \"format\": \"prometheus\"}", &v),
                     HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "no timeline step probed"));
    probe("after_traffic", HARNESS_PROBE_PROM, 400, 200, PROM_OK);
    assert_int_equal(run("{\"check\": \"metrics_truth\", \"format\": \"prometheus\"}", &v),
                     HARNESS_PASS);
    /* 5 counters, errors of each colour, tokens, cost, the active colour */
    assert_int_equal(v.samples, 10);
    /* A counter that never moves. */
    probe_body(0, "holysheep_requests_total 0\nholysheep_retries_total 1\n"
                  "holysheep_switches_total 1\n"
                  "holysheep_upstream_attempts_total{environment=\"blue\"} 2\n"
                  "holysheep_upstream_attempts_total{environment=\"green\"} 3\n");
    assert_int_equal(run("{\"check\": \"metrics_truth\", \"format\": \"prometheus\"}", &v),
                     HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "requests: relay 0, observed 4"));
    /* Only some counters asked: the others are not read. */
    assert_int_equal(run("{\"check\": \"metrics_truth\", \"format\": \"prometheus\", "
                         "\"counters\": [\"switches\", \"retries\"]}",
                         &v),
                     HARNESS_PASS);
    /* JSON: requests, retries, switches are not mapped: inconclusive, not a pass. */
    probe("after_traffic", HARNESS_PROBE_METRICS, 400, 200,
          "{\"active_environment\": \"green\", \"environments\": {\"blue\": {\"total_requests\": "
          "2, \"error_count\": 1}, \"green\": {\"error_count\": 0}}}");
    assert_int_equal(run("{\"check\": \"metrics_truth\", \"format\": \"json\"}", &v),
                     HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "json requests: no counter mapped"));
    assert_int_equal(run("{\"check\": \"metrics_truth\", \"format\": \"json\", \"counters\": "
                         "[\"attempts.blue\"]}",
                         &v),
                     HARNESS_PASS);
    /* A JSON page that is not JSON fails. */
    probe_body(1, "<html>");
    assert_int_equal(run("{\"check\": \"metrics_truth\", \"format\": \"json\", \"counters\": "
                         "[\"attempts.blue\"]}",
                         &v),
                     HARNESS_FAIL);
    /* Taken while requests were in flight: the counters were still moving. */
    obs.probes[0].inflight = 2;
    assert_int_equal(run("{\"check\": \"metrics_truth\", \"format\": \"prometheus\"}", &v),
                     HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "still moving"));
    /* A relay that declares no such endpoint. */
    obs.probe_map.path[HARNESS_PROBE_PROM][0] = '\0';
    snprintf(obs.probe_map.why_none, sizeof obs.probe_map.why_none, "raw command");
    assert_int_equal(run("{\"check\": \"metrics_truth\", \"format\": \"prometheus\"}", &v),
                     HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "declares no Prometheus /metrics endpoint"));
}

static void test_health_reports(void **state)
{
    struct report_check v;
    failover_run();
    const char *right = "{\"active_env\": \"green\", \"environments\": {\"blue\": true, "
                        "\"green\": true}}";
    probe("after_traffic", HARNESS_PROBE_HEALTH, 400, 200, right);
    assert_int_equal(run("{\"check\": \"health_reports\"}", &v), HARNESS_PASS);
    assert_int_equal(v.samples, 3);
    /* The last attempt failed before the probe: the relay may have switched
     * since, so its active colour is not judged; a 400 is no such failure. */
    att("r5", "green", 350, 503);
    assert_int_equal(run("{\"check\": \"health_reports\"}", &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "may have switched after it"));
    obs.atts[obs.n_atts - 1].status = 400;
    assert_int_equal(run("{\"check\": \"health_reports\"}", &v), HARNESS_PASS);
    obs.n_atts--;
    /* A /health that keeps saying blue after the switch. */
    probe_body(0, "{\"active_env\": \"blue\", \"environments\": {\"blue\": true, "
                  "\"green\": true}}");
    assert_int_equal(run("{\"check\": \"health_reports\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "says active blue, traffic went to green"));
    /* Blue's health checks failing: the relay must say so. */
    att("", "blue", 250, 503);
    probe_body(0, right);
    assert_int_equal(run("{\"check\": \"health_reports\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "says blue healthy, its mock was unhealthy"));
    /* Within the grace the relay may not have seen it: not judged. */
    assert_int_equal(run("{\"check\": \"health_reports\", \"grace_ms\": 200}", &v),
                     HARNESS_INCONCLUSIVE);
    /* 503 is how an unhealthy relay answers /health: its body still counts. */
    obs.probes[0].status = 503;
    assert_int_equal(run("{\"check\": \"health_reports\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "says blue healthy, its mock was unhealthy"));
    obs.probes[0].status = 404;
    assert_int_equal(run("{\"check\": \"health_reports\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "answered 404"));
    /* A probe that did not answer is a failure of the relay's /health. */
    obs.probes[0].status = 0;
    assert_int_equal(run("{\"check\": \"health_reports\"}", &v), HARNESS_FAIL);
    /* No /health declared: inconclusive, naming why. */
    obs.probe_map.path[HARNESS_PROBE_HEALTH][0] = '\0';
    assert_int_equal(run("{\"check\": \"health_reports\"}", &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "declares no /health endpoint"));
}

/* errors.COLOUR: failed attempts as the journals saw them; unknown when an
 * attempt's fate is not settled there. */
static void test_errors_observed(void **state)
{
    failover_run();
    harness_obs_index(&obs);
    double v;
    char why[256];
    observed_is("errors.blue", 1);
    observed_is("errors.green", 0);
    /* A 4xx passed on is a failed attempt too; health checks are not counted. */
    att("r9", "green", 350, 400);
    att("", "green", 351, 503);
    observed_is("errors.green", 1);
    /* A 200 cut short: the relay may count it either way. */
    struct harness_att *a = att("r10", "green", 360, 200);
    snprintf(a->end, sizeof a->end, "cut");
    assert_int_equal(harness_counter_observed("errors.green", &obs, &v, why, sizeof why), -1);
    assert_non_null(strstr(why, "end cut"));
    /* A whole 200 that is not the normal answer (garbage): the same. */
    snprintf(a->end, sizeof a->end, "complete");
    snprintf(a->action, sizeof a->action, "garbage");
    assert_int_equal(harness_counter_observed("errors.green", &obs, &v, why, sizeof why), -1);
    assert_non_null(strstr(why, "action garbage"));
}

#define METRICS_OK                                                                                 \
    "{\"active_environment\": \"green\", \"environments\": {\"blue\": {\"total_requests\": 2, "    \
    "\"error_count\": 1}, \"green\": {\"total_requests\": 3, \"error_count\": 0}}}"

/* metrics_truth's active colour (JSON and the Prometheus gauge) and error
 * counts: pass, fail naming the cause, inconclusive naming why. */
static void test_metrics_active_errors(void **state)
{
    struct report_check v;
    failover_run();
    probe("after_traffic", HARNESS_PROBE_METRICS, 400, 200, METRICS_OK);
    probe("after_traffic", HARNESS_PROBE_PROM, 400, 200, PROM_OK);
    const char *ask = "{\"check\": \"metrics_truth\", \"counters\": [\"active\", \"errors.blue\", "
                      "\"errors.green\"]}";
    assert_int_equal(run(ask, &v), HARNESS_PASS);
    assert_int_equal(v.samples, 6);
    assert_non_null(strstr(v.measured, "json active right"));
    /* /api/metrics still naming blue after the switch. */
    probe_body(0, "{\"active_environment\": \"blue\", \"environments\": {\"blue\": "
                  "{\"error_count\": 1}, \"green\": {\"error_count\": 0}}}");
    assert_int_equal(run(ask, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "json active: /active_environment says blue, the traffic "
                                     "(served colour, mock journals) went to green"));
    /* Errors never counted. */
    probe_body(0, "{\"active_environment\": \"green\", \"environments\": {\"blue\": "
                  "{\"error_count\": 0}, \"green\": {\"error_count\": 0}}}");
    assert_int_equal(run(ask, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "json errors.blue: relay 0, observed 1"));
    /* The Prometheus gauge stuck on blue. */
    probe_body(0, METRICS_OK);
    probe_body(1, "holysheep_upstream_attempts_total{environment=\"blue\",result=\"error\"} 1\n"
                  "holysheep_active_environment{environment=\"blue\"} 1\n"
                  "holysheep_active_environment{environment=\"green\"} 0\n");
    assert_int_equal(run(ask, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "prometheus active: "
                                     "holysheep_active_environment{environment=\"blue\"} is 1"));
    /* A gauge with no sample at all is wrong, not unknown. */
    probe_body(1, "holysheep_upstream_attempts_total{environment=\"blue\",result=\"error\"} 1\n");
    assert_int_equal(run(ask, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "no sample of holysheep_active_environment"));
    probe_body(1, PROM_OK);
    /* The relay's own spelling of the colours (profile "colours"). */
    snprintf(obs.probe_map.colour[1], sizeof obs.probe_map.colour[1], "GREEN");
    assert_int_equal(run("{\"check\": \"metrics_truth\", \"format\": \"json\", \"counters\": "
                         "[\"active\"]}",
                         &v),
                     HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "says green, the traffic (served colour, mock journals) "
                                     "went to GREEN"));
    snprintf(obs.probe_map.colour[1], sizeof obs.probe_map.colour[1], "green");
    /* The last attempt had failed: the relay may have switched since. */
    att("r5", "green", 350, 503);
    assert_int_equal(run("{\"check\": \"metrics_truth\", \"counters\": [\"active\"]}", &v),
                     HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "json active: the last attempt before it"));
    obs.n_atts--;
    /* The last attempt a retry of a request that failed on blue, served
     * by green: a relay that fails over one request while keeping blue
     * active (switch_after_failures above 1, a backup server) is right to
     * say blue, one that switched right to say green: not judged. */
    att("r5", "blue", 350, 503);
    att("r5", "green", 360, 200);
    probe_body(0, "{\"active_environment\": \"blue\", \"environments\": {\"blue\": "
                  "{\"error_count\": 2}, \"green\": {\"error_count\": 0}}}");
    assert_int_equal(run("{\"check\": \"metrics_truth\", \"format\": \"json\", \"counters\": "
                         "[\"active\"]}",
                         &v),
                     HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "json active: the last attempt before it (green) was a retry "
                                     "of a request that went to blue"));
    obs.n_atts -= 2;
    /* A retry on the colour of the failed attempt was sent where the relay
     * still was: judged (green, as the traffic went). */
    att("r5", "green", 350, 503);
    att("r5", "green", 360, 200);
    assert_int_equal(run("{\"check\": \"metrics_truth\", \"format\": \"json\", \"counters\": "
                         "[\"active\"]}",
                         &v),
                     HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "says blue, the traffic (served colour, mock journals) went "
                                     "to green"));
    obs.n_atts -= 2;
    probe_body(0, METRICS_OK);
    /* A profile that maps no active colour, no error counts. */
    obs.probe_map.active_json[0] = '\0';
    obs.probe_map.active_prom[0] = '\0';
    assert_int_equal(run(ask, &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "the profile maps no active colour (metrics.active)"));
    assert_non_null(strstr(v.detail, "the profile maps no active colour (prometheus.active)"));
    obs.probe_map.n_counters = 0;
    assert_int_equal(run(ask, &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "json errors.blue: no counter mapped"));
    expect_invalid("{\"check\": \"metrics_truth\", \"counters\": [\"activ\"]}", "counters[0]");
}

/* tokens and cost: the usage the mocks journalled on whole answers, at the
 * scenario's prices. */
static void test_metrics_cost(void **state)
{
    struct report_check v;
    failover_run();
    harness_obs_index(&obs);
    double x;
    char why[256];
    assert_int_equal(harness_counter_observed("tokens", &obs, &x, why, sizeof why), 0);
    assert_true(x == 60);
    assert_int_equal(harness_counter_observed("cost", &obs, &x, why, sizeof why), 0);
    assert_true(fabs(x - 0.00012) < 1e-15);
    probe("end", HARNESS_PROBE_PROM, 400, 200, PROM_OK);
    const char *ask = "{\"check\": \"metrics_truth\", \"format\": \"prometheus\", \"counters\": "
                      "[\"tokens\", \"cost\"]}";
    assert_int_equal(run(ask, &v), HARNESS_PASS);
    assert_int_equal(v.samples, 2);
    /* Prompt tokens not charged: 20 tokens' worth instead of 60. */
    probe_body(0, "holysheep_tokens_total{kind=\"prompt\"} 40\n"
                  "holysheep_tokens_total{kind=\"completion\"} 20\n"
                  "holysheep_cost_usd_total{model=\"gpt-4.1\"} 4e-05\n");
    assert_int_equal(run(ask, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "prometheus cost: relay 4e-05, observed 0.00012"));
    /* A model the scenario gives no price for: not judged. */
    snprintf(obs.atts[obs.n_atts - 1].model, sizeof obs.atts[0].model, "gpt-5");
    assert_int_equal(
        run("{\"check\": \"metrics_truth\", \"format\": \"prometheus\", \"counters\": [\"cost\"]}",
            &v),
        HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "no price for model 'gpt-5'"));
    /* No prices at all. */
    obs.n_prices = 0;
    assert_int_equal(
        run("{\"check\": \"metrics_truth\", \"format\": \"prometheus\", \"counters\": [\"cost\"]}",
            &v),
        HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "gives no \"prices\""));
    /* A stream answer: usage only when the client asked for it. */
    obs.atts[obs.n_atts - 1].stream = 1;
    assert_int_equal(harness_counter_observed("tokens", &obs, &x, why, sizeof why), -1);
    assert_non_null(strstr(why, "a stream"));
}

/* /health with both colours down: the status the profile declares. */
static void test_health_both_down(void **state)
{
    struct report_check v;
    req("r1", 0, 0);
    req("r2", 300, 0);
    obs.reqs[1].status = 503;
    att("", "blue", 1, 503);
    att("", "green", 1, 503);
    att("", "blue", 200, 503);
    att("", "green", 200, 503);
    const char *down = "{\"active_env\": \"blue\", \"environments\": {\"blue\": false, "
                       "\"green\": false}}";
    probe("after_traffic", HARNESS_PROBE_HEALTH, 400, 503, down);
    const char *ask = "{\"check\": \"health_reports\", \"items\": [\"health\", \"status\"]}";
    assert_int_equal(run(ask, &v), HARNESS_PASS);
    assert_int_equal(v.samples, 3);
    /* A /health that says 200 with nothing to serve. */
    obs.probes[0].status = 200;
    assert_int_equal(run(ask, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "answered 200 with both colours down"));
    assert_non_null(strstr(v.detail, "the profile declares 503"));
    /* The status alone, with no health pointers mapped: still judged from
     * the mocks. */
    obs.probe_map.healthy[0][0] = obs.probe_map.healthy[1][0] = '\0';
    assert_int_equal(run("{\"check\": \"health_reports\", \"items\": [\"status\"]}", &v),
                     HARNESS_FAIL);
    assert_int_equal(v.samples, 1);
    /* Within the grace the colours' state is not known: neither is the status. */
    assert_int_equal(
        run("{\"check\": \"health_reports\", \"items\": [\"status\"], \"grace_ms\": 450}", &v),
        HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "whether both colours were down was not observed"));
    snprintf(obs.probe_map.healthy[0], sizeof obs.probe_map.healthy[0], "/environments/blue");
    snprintf(obs.probe_map.healthy[1], sizeof obs.probe_map.healthy[1], "/environments/green");
    /* Undeclared: that item is not judged, never passed. */
    obs.probe_map.unhealthy_status = 0;
    assert_int_equal(run(ask, &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "declares no health.unhealthy_status"));
    /* A relay declaring another status: its answer is read, and judged. */
    obs.probe_map.unhealthy_status = 500;
    obs.probes[0].status = 500;
    assert_int_equal(run(ask, &v), HARNESS_PASS);
    /* One colour up: the status item does not apply. */
    att("", "green", 300, 200);
    obs.probes[0].status = 200;
    assert_int_equal(run("{\"check\": \"health_reports\", \"items\": [\"status\"]}", &v),
                     HARNESS_INCONCLUSIVE);
    assert_int_equal(v.samples, 0);
    expect_invalid("{\"check\": \"health_reports\", \"items\": [\"helth\"]}", "items[0]");
    expect_invalid("{\"check\": \"health_reports\", \"items\": []}", "a non-empty array");
}

static void test_prometheus_valid(void **state)
{
    struct report_check v;
    assert_int_equal(run("{\"check\": \"prometheus_valid\"}", &v), HARNESS_INCONCLUSIVE);
    struct harness_probe *p = probe("mid", HARNESS_PROBE_PROM, 10, 200, PROM_OK);
    /* promtool absent: never a pass. */
    snprintf(p->prom_out, sizeof p->prom_out, "promtool is not installed");
    assert_int_equal(run("{\"check\": \"prometheus_valid\"}", &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "not installed"));
    p->prom_rc = 0;
    assert_int_equal(run("{\"check\": \"prometheus_valid\"}", &v), HARNESS_PASS);
    p->prom_rc = 3; /* lint only */
    assert_int_equal(run("{\"check\": \"prometheus_valid\"}", &v), HARNESS_PASS);
    assert_int_equal(run("{\"check\": \"prometheus_valid\", \"lint\": true}", &v), HARNESS_FAIL);
    p->prom_rc = 1; /* a malformed line */
    assert_int_equal(run("{\"check\": \"prometheus_valid\", \"probe\": \"mid\"}", &v),
                     HARNESS_FAIL);
}

/* ---- severity, scope --------------------------------------------------------------- */

static void test_severity(void **state)
{
    struct report_check v;
    req("r1", 0, 0);
    att("r1", "blue", 0, 200); /* an upstream's answer, not one the relay made up */
    run("{\"check\": \"client_count\", \"status\": 200, \"exact\": 1, \"severity\": \"advisory\"}",
        &v);
    assert_int_equal(v.status, HARNESS_PASS);
    assert_int_equal(v.severity, REPORT_ADVISORY);
    assert_null(strstr(v.label, "severity")); /* the label names what is measured */
    run("{\"check\": \"client_count\", \"status\": 200, \"exact\": 1}", &v);
    assert_int_equal(v.severity, REPORT_REQUIRED);
    run("{\"check\": \"client_count\", \"status\": 200, \"exact\": 2, \"severity\": \"info\"}", &v);
    assert_int_equal(v.status, HARNESS_FAIL);
    assert_int_equal(v.severity, REPORT_INFO);
    expect_invalid("{\"check\": \"client_count\", \"exact\": 1, \"severity\": \"advisery\"}",
                   "did you mean 'advisory'");
    assert_string_equal(report_severity_name(REPORT_INFO), "info");
    assert_int_equal(report_severity_parse("required"), REPORT_REQUIRED);
    assert_int_equal(report_severity_parse("optional"), -1);
    struct report_scenario s = {.status = REPORT_PASS, .advisories = 1};
    assert_string_equal(report_verdict_name(&s), "pass_with_advisories");
    s.advisories = 0;
    assert_string_equal(report_verdict_name(&s), "pass");
}

static void test_count_scope(void **state)
{
    struct report_check v;
    req("a", 0, 0);
    req("b", 100, 0);
    req("c", 600, 1);
    att("a", "blue", 1, 200);
    att("b", "blue", 101, 503);
    att("b", "green", 120, 200);
    att("c", "green", 601, 200);
    att("", "blue", 50, 200);
    att("", "blue", 603, 200);
    assert_int_equal(run("{\"check\": \"client_count\", \"exact\": 2, \"phase\": 0}", &v),
                     HARNESS_PASS);
    assert_int_equal(
        run("{\"check\": \"client_count\", \"exact\": 1, \"window_ms\": [50, 500]}", &v),
        HARNESS_PASS);
    assert_non_null(strstr(v.expected, "in [50, 500) ms"));
    assert_int_equal(run("{\"check\": \"upstream_count\", \"env\": \"green\", \"exact\": 1, "
                         "\"phase\": 1}",
                         &v),
                     HARNESS_PASS);
    assert_int_equal(run("{\"check\": \"upstream_count\", \"env\": \"blue\", \"exact\": 2, "
                         "\"phase\": 0}",
                         &v),
                     HARNESS_PASS);
    assert_int_equal(run("{\"check\": \"upstream_count\", \"env\": \"blue\", \"exact\": 1, "
                         "\"window_ms\": [100, 200]}",
                         &v),
                     HARNESS_PASS);
    /* Health probes in a phase: while it ran. */
    assert_int_equal(run("{\"check\": \"upstream_count\", \"env\": \"blue\", \"health\": true, "
                         "\"exact\": 1, \"phase\": 1}",
                         &v),
                     HARNESS_PASS);
    assert_int_equal(run("{\"check\": \"attempts\", \"exact\": 2, \"window_ms\": [100, 200]}", &v),
                     HARNESS_PASS);
    assert_int_equal(v.samples, 1);
    /* Switches in a window, by the time the relay's events give them. */
    obs.evs = calloc(4, sizeof *obs.evs);
    obs.have_events = 1;
    struct harness_ev *e = &obs.evs[obs.n_evs++];
    snprintf(e->type, sizeof e->type, "switch");
    snprintf(e->from, sizeof e->from, "blue");
    snprintf(e->to, sizeof e->to, "green");
    e->t = T0 + 110 * MS;
    assert_int_equal(run("{\"check\": \"switches\", \"exact\": 1, \"window_ms\": [100, 200]}", &v),
                     HARNESS_PASS);
    assert_int_equal(run("{\"check\": \"switches\", \"exact\": 0, \"window_ms\": [200, 900]}", &v),
                     HARNESS_PASS);
    /* Without ids, a phase's upstream attempts cannot be told apart. */
    obs.signals &= ~HARNESS_SIG_IDS;
    assert_int_equal(run("{\"check\": \"upstream_count\", \"env\": \"blue\", \"exact\": 2, "
                         "\"phase\": 0}",
                         &v),
                     HARNESS_INCONCLUSIVE);
    expect_invalid("{\"check\": \"client_count\", \"exact\": 1, \"window_ms\": [5, 1]}",
                   "0 <= from < to");
    expect_invalid("{\"check\": \"client_count\", \"exact\": 1, \"phase\": -1}",
                   "a phase index (0, 1, ...) or a phase name");
}

/* ---- scenario parsing: phase names, start after, probe steps -------------------------- */

static struct harness_scenario *parse(const char *text, char *err, size_t n)
{
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    if (!doc)
        fail_msg("bad JSON in test: %s", je.text);
    struct harness_scenario *s = harness_scenario_from_json(doc, "dir/t.json", 1.0, err, n);
    json_decref(doc);
    return s;
}

#define EXPECT_OK "\"expect\": [{\"check\": \"client_count\", \"phase\": \"probe\", \"min\": 1}]"

static void test_scenario_after_and_names(void **state)
{
    char err[2048] = "";
    struct harness_scenario *s = parse(
        "{\"name\": \"n\", \"traffic\": [{\"name\": \"fail\", \"rate_rps\": 10, \"count\": "
        "2}, {\"name\": \"probe\", \"start\": {\"after\": \"previous\", \"delay_ms\": 50}, "
        "\"concurrency\": 1, \"count\": 1}], \"timeline\": [{\"at_ms\": 10, \"probe\": "
        "\"health\"}, {\"at\": {\"after\": \"traffic\", \"delay_ms\": 20}, \"mark\": \"end\", "
        "\"probe\": [\"metrics\", \"prometheus\"]}], " EXPECT_OK "}",
        err, sizeof err);
    if (!s)
        fail_msg("%s", err);
    assert_int_equal(s->phases[1].after_prev, 1);
    assert_int_equal(s->phases[1].after_delay_us, 50000);
    assert_string_equal(s->phases[1].name, "probe");
    /* The estimate: the previous phase's schedule plus its client timeout. */
    assert_true(s->phases[1].start_us >= 200000 + 10000000 + 50000);
    /* The check's phase name is resolved to its index for the runner. */
    json_t *c = json_array_get(s->checks, 0);
    assert_int_equal(json_integer_value(json_object_get(c, "phase")), 1);
    assert_int_equal(s->steps[0].probe, 1u << HARNESS_PROBE_HEALTH);
    assert_int_equal(s->steps[1].probe, (1u << HARNESS_PROBE_METRICS) | (1u << HARNESS_PROBE_PROM));
    assert_int_equal(s->steps[1].after_traffic, 1);
    assert_int_equal(s->steps[1].after_delay_us, 20000);
    harness_scenario_free(&s);

    struct {
        const char *text, *needle;
    } bad[] = {
        {"{\"name\": \"n\", \"traffic\": {\"rate_rps\": 1, \"count\": 1, \"start\": {\"after\": "
         "\"previous\"}}, " EXPECT_OK "}",
         "a phase before this one"},
        {"{\"name\": \"n\", \"traffic\": [{\"rate_rps\": 1, \"count\": 1}, {\"rate_rps\": 1, "
         "\"count\": 1, \"start\": {\"after\": \"previus\"}}], " EXPECT_OK "}",
         "did you mean 'previous'"},
        {"{\"name\": \"n\", \"traffic\": [{\"rate_rps\": 1, \"count\": 1}, {\"rate_rps\": 1, "
         "\"count\": 1, \"start_ms\": 5, \"start\": {\"after\": \"previous\"}}], " EXPECT_OK "}",
         "start_ms or start, not both"},
        {"{\"name\": \"n\", \"traffic\": [{\"name\": \"probes\", \"rate_rps\": 1, \"count\": "
         "1}], " EXPECT_OK "}",
         "did you mean 'probes'"},
        {"{\"name\": \"n\", \"traffic\": {\"rate_rps\": 1, \"count\": 1}, \"expect\": [{\"check\": "
         "\"client_count\", \"phase\": 3, \"min\": 1}]}",
         "a phase index below 1"},
        {"{\"name\": \"n\", \"traffic\": {\"rate_rps\": 10, \"duration_ms\": 100}, \"timeline\": "
         "[{\"at_ms\": 10, \"probe\": \"helth\"}], " EXPECT_OK "}",
         "did you mean 'health'"},
        {"{\"name\": \"n\", \"traffic\": {\"rate_rps\": 10, \"duration_ms\": 100}, \"timeline\": "
         "[{\"at\": {\"after\": \"traffic\"}, \"probe\": \"health\"}, {\"at_ms\": 50, \"mark\": "
         "\"x\"}], " EXPECT_OK "}",
         "those come last"},
        {"{\"name\": \"n\", \"traffic\": {\"rate_rps\": 10, \"duration_ms\": 100}, \"timeline\": "
         "[{\"at_ms\": 5, \"at\": {\"after\": \"traffic\"}, \"probe\": \"health\"}], " EXPECT_OK
         "}",
         "at_ms or at, not both"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        s = parse(bad[i].text, err, sizeof err);
        if (s) {
            harness_scenario_free(&s);
            fail_msg("case %zu parsed", i);
        }
        if (!strstr(err, bad[i].needle))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].needle);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_prom_sum),         T(test_json_pointer),
        T(test_probe_map_errors), T(test_counters_observed),
        T(test_redact),           T(test_promtool),
        T(test_metrics_truth),    T(test_health_reports),
        T(test_prometheus_valid), T(test_severity),
        T(test_count_scope),      T(test_scenario_after_and_names),
        T(test_errors_observed),  T(test_metrics_active_errors),
        T(test_health_both_down), T(test_metrics_cost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
