/* Probes of the relay through the real binaries (issue 12 items 5-6):
 * bin/cutover runs scenarios whose timeline probes the relay's /health,
 * /api/metrics and Prometheus /metrics, against
 *  - cutover-relay: the library's probe scenarios pass (one with
 *    advisories), the probes land in probes.jsonl, JUnit names the advisory;
 *  - a lying relay: nginx failing over as usual but serving a /health that
 *    keeps saying blue, counters that never move and a Prometheus page with
 *    a malformed line (a profile and template written here): every probe
 *    check fails;
 *  - nginx's own profile, which declares no endpoints: the probe checks are
 *    inconclusive and say why, never pass.
 * The nginx parts are SKIPPED when nginx is not installed. */
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
    snprintf(dir, sizeof dir, "/tmp/cutover-probes-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
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

static const json_t *scenario(const json_t *res, const char *name)
{
    size_t i;
    json_t *sc;
    json_array_foreach(json_object_get(res, "scenarios"), i, sc)
    {
        if (strcmp(json_string_value(json_object_get(sc, "name")), name) == 0)
            return sc;
    }
    fail_msg("scenario %s not in results", name);
    return NULL;
}

/* Every check of kind in sc has status want (and there is one). */
static void check_status(const json_t *sc, const char *kind, const char *want, const char *needle)
{
    size_t i, n = 0;
    json_t *c;
    json_array_foreach(json_object_get(sc, "checks"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "check")), kind) != 0)
            continue;
        n++;
        const char *st = json_string_value(json_object_get(c, "status"));
        const char *detail = json_string_value(json_object_get(c, "detail"));
        if (strcmp(st, want) != 0)
            fail_msg("%s: %s is %s, not %s: %s / %s",
                     json_string_value(json_object_get(sc, "name")), kind, st, want,
                     json_string_value(json_object_get(c, "measured")), detail);
        if (needle && !strstr(detail, needle))
            fail_msg("%s detail '%s' lacks '%s'", kind, detail, needle);
    }
    assert_true(n > 0);
}

/* The library's probe scenarios against cutover-relay. */
static void test_library_against_cutover_relay(void **state)
{
    char out[128], junit[160];
    snprintf(out, sizeof out, "%s/own", dir);
    snprintf(junit, sizeof junit, "%s/junit.xml", dir);
    char *args[] = {"run", "scenarios/probes", "--out", out, "--junit", junit, "--no-color", NULL};
    assert_int_equal(tsup_cutover(120000, args), 0);
    json_t *res = load_results(out);
    const json_t *graded = scenario(res, "probes-graded-relay-observability");
    assert_string_equal(json_string_value(json_object_get(graded, "status")), "pass");
    assert_string_equal(json_string_value(json_object_get(graded, "verdict")),
                        "pass_with_advisories");
    assert_true(json_integer_value(json_object_get(graded, "advisories")) >= 1);
    const json_t *truth = scenario(res, "probes-metrics-truth-after-failover");
    check_status(truth, "metrics_truth", "pass", NULL);
    check_status(truth, "prometheus_valid", tsup_installed("promtool") ? "pass" : "inconclusive",
                 NULL);
    check_status(scenario(res, "probes-health-reports-after-switch"), "health_reports", "pass",
                 NULL);
    /* The active colour, error counts, tokens and cost, and /health with
     * both colours down, judged on cutover-relay's real endpoints. */
    check_status(scenario(res, "mprobes-active-errors-after-failover"), "metrics_truth", "pass",
                 NULL);
    check_status(scenario(res, "mprobes-cost-two-models"), "metrics_truth", "pass", NULL);
    check_status(scenario(res, "mprobes-health-both-down-503"), "health_reports", "pass", NULL);
    /* The probes are in the run's output: status, headers, body. */
    char path[256];
    snprintf(path, sizeof path, "%s/probes/metrics-truth-after-failover_json/probes.jsonl", out);
    char *log = tsup_read_file(path, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "\"kind\":\"prometheus\""));
    assert_non_null(strstr(log, "\"status\":200"));
    assert_non_null(strstr(log, "holysheep_requests_total"));
    free(log);
    /* JUnit follows the required checks, and names the advisory. */
    char *x = tsup_read_file(junit, NULL);
    assert_non_null(x);
    assert_non_null(strstr(x, "failures=\"0\""));
    assert_non_null(strstr(x, "verdict: pass_with_advisories"));
    assert_non_null(strstr(x, "advisory: metrics_truth"));
    free(x);
    json_decref(res);
}

/* A failover with every probe after the traffic, for the relays below. */
static const char *probe_scenario =
    "{\"name\": \"probe-everything\", \"tags\": [\"probes\"],"
    " \"relay\": {\"max_attempts\": 3},"
    " \"upstreams\": {\"blue\": {\"latency_ms\": 2}, \"green\": {\"latency_ms\": 2}},"
    " \"timeline\": [{\"at_ms\": 200, \"blue\": {\"status\": 503}},"
    "   {\"at\": {\"after\": \"traffic\", \"delay_ms\": 20}, \"mark\": \"end\","
    "    \"probe\": [\"health\", \"metrics\", \"prometheus\"]}],"
    " \"traffic\": {\"rate_rps\": 40, \"duration_ms\": 500},"
    " \"expect\": [{\"check\": \"client_success_ratio\", \"min\": 1},"
    "   {\"check\": \"health_reports\"},"
    "   {\"check\": \"metrics_truth\", \"format\": \"prometheus\"},"
    "   {\"check\": \"metrics_truth\", \"format\": \"json\", \"counters\": [\"attempts.blue\"]},"
    "   {\"check\": \"prometheus_valid\"}]}";

/* nginx failing over as the nginx profile does, with endpoints that lie. */
static const char *liar_conf =
    "worker_processes 1;\nerror_log {workdir}/error.log warn;\npid {workdir}/nginx.pid;\n"
    "events { worker_connections 64; }\nhttp {\n access_log off;\n"
    " client_body_temp_path {workdir}/cb; proxy_temp_path {workdir}/px;\n"
    " fastcgi_temp_path {workdir}/fc; uwsgi_temp_path {workdir}/uw; scgi_temp_path {workdir}/sc;\n"
    " upstream pool { server {blue_hostport}; server {green_hostport} backup; }\n"
    " server {\n  listen 127.0.0.1:{port};\n"
    "  location = /health { default_type application/json; return 200 "
    "'{\"active_env\":\"blue\",\"environments\":{\"blue\":true,\"green\":true}}'; }\n"
    "  location = /api/metrics { default_type application/json; return 200 "
    "'{\"environments\":{\"blue\":{\"total_requests\":0}},\"upstream_key\":\"{api_key}\"}'; }\n"
    "  location = /metrics { return 200 'holysheep_requests_total 0\\nholysheep_retries_total "
    "0\\nholysheep_switches_total{from=\"blue\" 0\\n'; }\n"
    "  location / { proxy_pass http://pool; proxy_next_upstream error timeout http_503 "
    "non_idempotent; }\n }\n}\n";

static const char *liar_profile =
    "{\"name\": \"liar\", \"description\": \"nginx with endpoints that lie\","
    " \"requires\": \"nginx\","
    " \"command\": \"nginx -p {workdir}/ -c {config} -e {workdir}/error.log -g 'daemon off;'\","
    " \"config\": {\"file\": \"nginx.conf\", \"template\": \"liar.conf.in\"},"
    " \"ready\": {\"path\": \"/health\", \"timeout_ms\": 5000},"
    " \"settings\": [\"max_attempts\"], \"stop_signal\": \"QUIT\", \"tells\": [],"
    " \"probes\": {\"health\": {\"path\": \"/health\", \"active\": \"/active_env\","
    "   \"healthy\": {\"blue\": \"/environments/blue\", \"green\": \"/environments/green\"}},"
    "  \"metrics\": {\"path\": \"/api/metrics\", \"counters\": {\"attempts.blue\":"
    "   \"/environments/blue/total_requests\"}},"
    "  \"prometheus\": {\"path\": \"/metrics\", \"counters\": {\"requests\":"
    "   \"holysheep_requests_total\", \"retries\": \"holysheep_retries_total\"}}}}";

static void test_lying_relay_fails(void **state)
{
    if (!tsup_installed("nginx")) {
        fprintf(stderr, "SKIPPED: nginx is not installed (apt-get install nginx-light)\n");
        skip();
    }
    char sc[128], prof[128], conf[128], out[128];
    snprintf(sc, sizeof sc, "%s/probe-everything.json", dir);
    snprintf(prof, sizeof prof, "%s/liar.json", dir);
    snprintf(conf, sizeof conf, "%s/liar.conf.in", dir);
    snprintf(out, sizeof out, "%s/liar", dir);
    write_file(sc, probe_scenario);
    write_file(prof, liar_profile);
    write_file(conf, liar_conf);
    char *args[] = {"run", sc, "--relay", prof, "--out", out, "--no-color", NULL};
    assert_int_equal(tsup_cutover(60000, args), 1);
    json_t *res = load_results(out);
    const json_t *s = scenario(res, "probe-everything");
    check_status(s, "client_success_ratio", "pass", NULL); /* it does fail over */
    check_status(s, "health_reports", "fail", "says active blue, traffic went to green");
    /* The counters never moved; the JSON's blue count is 0; the page does not parse. */
    size_t i;
    json_t *c;
    int prom = 0, json = 0;
    json_array_foreach(json_object_get(s, "checks"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "check")), "metrics_truth") != 0)
            continue;
        assert_string_equal(json_string_value(json_object_get(c, "status")), "fail");
        const char *d = json_string_value(json_object_get(c, "detail"));
        prom |= strstr(d, "prometheus requests: relay 0") != NULL;
        json |= strstr(d, "json attempts.blue: relay 0") != NULL;
    }
    assert_true(prom && json);
    /* It shows its upstream key on /api/metrics: a leak, blanked in the artefacts. */
    check_status(s, "no_secret_leak", "fail", NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/%s/probe-everything_json/probes.jsonl", out,
             strrchr(dir, '/') + 1);
    char *log = tsup_read_file(path, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "upstream_key"));
    assert_null(strstr(log, "sk-cutover-"));
    free(log);
    if (tsup_installed("promtool"))
        check_status(s, "prometheus_valid", "fail", "promtool");
    else
        check_status(s, "prometheus_valid", "inconclusive", "not installed");
    json_decref(res);
}

/* nginx's own profile declares no endpoints: nothing to judge, said so. */
static void test_relay_without_endpoints_inconclusive(void **state)
{
    if (!tsup_installed("nginx")) {
        fprintf(stderr, "SKIPPED: nginx is not installed (apt-get install nginx-light)\n");
        skip();
    }
    char sc[128], out[128];
    snprintf(sc, sizeof sc, "%s/probe-everything.json", dir);
    snprintf(out, sizeof out, "%s/nginx", dir);
    write_file(sc, probe_scenario);
    char *args[] = {"run", sc, "--relay", "nginx", "--out", out, "--no-color", NULL};
    assert_int_equal(tsup_cutover(60000, args), 4);
    json_t *res = load_results(out);
    const json_t *s = scenario(res, "probe-everything");
    check_status(s, "health_reports", "inconclusive", "declares no /health endpoint");
    check_status(s, "metrics_truth", "inconclusive", "declares no");
    check_status(s, "prometheus_valid", "inconclusive", "declares no Prometheus /metrics");
    json_decref(res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_library_against_cutover_relay),
        cmocka_unit_test(test_lying_relay_fails),
        cmocka_unit_test(test_relay_without_endpoints_inconclusive),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
