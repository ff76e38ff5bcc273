/* The answer checks end to end (issue 12), through the real binaries:
 * scenarios/answers/ passes against cutover-relay, each new check saying
 * which signal it used and, for streams, the client's strictness; and
 * relays with the bugs bug reports name (tests/integration/bad-relays/:
 * nginx that drops usage, rewrites the model, loses tokens, turns a 400
 * into a 502; a Python relay that resumes a broken stream one token too
 * far) fail the matching check, nginx-opaque fails a strict client
 * and passes a lenient one on a stream without [DONE], and a relay that
 * drops every id leaves the checks that need it inconclusive, never a pass.
 *
 * The bad relays need nginx and python3: SKIPPED with the reason when one
 * is not installed (.ci/run installs both). */
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
    snprintf(dir, sizeof dir, "/tmp/cutover-answers-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const json_t *scenario_of(const json_t *res, const char *relay, const char *name)
{
    const json_t *sc = tsup_scenario(res, relay, name);
    if (!sc)
        fail_msg("no scenario %s on %s", name, relay ? relay : "the relay");
    return sc;
}

/* The status of the check whose label is label, in the scenario. */
static const char *status_of(const json_t *sc, const char *label, const char **detail)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(sc, "checks"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "label")), label) != 0)
            continue;
        if (detail)
            *detail = json_string_value(json_object_get(c, "detail"));
        return json_string_value(json_object_get(c, "status"));
    }
    fail_msg("no check '%s' in %s", label, json_string_value(json_object_get(sc, "name")));
    return NULL;
}

static void test_library_passes_on_cutover_relay(void **state)
{
    char out[128];
    snprintf(out, sizeof out, "%s/lib", dir);
    char *args[] = {"run", "scenarios/answers", "--out", out, "--no-color", NULL};
    assert_int_equal(tsup_cutover(120000, args), 0);
    json_t *res = tsup_results_or_fail(out);
    static const char *const kinds[] = {"client_status", "answer_integrity", "usage_reported",
                                        "model_reported"};
    int seen[4] = {0}, n = 0;
    size_t i, k;
    json_t *sc, *c;
    json_array_foreach(json_object_get(res, "scenarios"), i, sc)
    {
        n++;
        assert_string_equal(json_string_value(json_object_get(sc, "status")), "pass");
        json_array_foreach(json_object_get(sc, "checks"), k, c)
        {
            const char *check = json_string_value(json_object_get(c, "check"));
            for (int j = 0; j < 4; j++) {
                if (strcmp(check, kinds[j]) != 0)
                    continue;
                seen[j]++;
                /* Each verdict names its signal; the stream ones the client. */
                const char *d = json_string_value(json_object_get(c, "detail"));
                assert_non_null(strstr(d, "signal: "));
                if (j > 0)
                    assert_true(strstr(d, "client strict") || strstr(d, "client lenient"));
                assert_true(json_integer_value(json_object_get(c, "samples")) >= 5);
            }
        }
    }
    assert_int_equal(n, 5);
    for (int j = 0; j < 4; j++)
        if (!seen[j])
            fail_msg("no %s check in scenarios/answers", kinds[j]);
    /* The stream without [DONE]: both clients judged, and told apart. */
    const json_t *nd = scenario_of(res, NULL, "stream-without-done-judged-strict-and-lenient");
    const char *d = NULL;
    assert_string_equal(status_of(nd, "answer_integrity client=strict,relay=cutover-relay", &d),
                        "pass");
    assert_non_null(strstr(d, "client strict: a stream needs data: [DONE]"));
    assert_string_equal(status_of(nd, "answer_integrity client=lenient", &d), "pass");
    assert_non_null(strstr(d, "client lenient"));
    /* The client log carries the answer's evidence. */
    char path[256];
    snprintf(path, sizeof path, "%s/answers/prefill-request_json/requests.jsonl", out);
    char *log = tsup_read_file(path, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "\"template\":\"prefill\""));
    assert_non_null(strstr(log, "\"finish_reason\":\"length\""));
    assert_non_null(strstr(log, "\"model\":\"claude-sonnet-4.5\""));
    free(log);
    json_decref(res);
}

static void test_bad_relays_caught(void **state)
{
    if (!tsup_installed("nginx")) {
        printf("SKIP test_bad_relays_caught: nginx is not installed "
               "(apt-get install nginx-light)\n");
        skip();
    }
    char out[128];
    snprintf(out, sizeof out, "%s/bad", dir);
    char *args[] = {"run",
                    "scenarios/answers/prefill-request.json",
                    "scenarios/answers/upstream-400-code-passes.json",
                    "scenarios/answers/stream-without-done-client-strictness.json",
                    "--relay",
                    "tests/integration/bad-relays/nginx-drops-usage.json",
                    "--relay",
                    "tests/integration/bad-relays/nginx-rewrites-model.json",
                    "--relay",
                    "tests/integration/bad-relays/nginx-loses-tokens.json",
                    "--relay",
                    "tests/integration/bad-relays/nginx-400-to-502.json",
                    "--relay",
                    "tests/integration/bad-relays/nginx-no-ids.json",
                    "--relay",
                    "nginx-opaque",
                    "--out",
                    out,
                    "--no-color",
                    NULL};
    assert_int_equal(tsup_cutover(180000, args), 1);
    json_t *res = tsup_results_or_fail(out);
    const char *prefill = "prefill-request-answered-whole";
    const char *code400 = "upstream-400-context-length-reaches-client";
    const char *nodone = "stream-without-done-judged-strict-and-lenient";
    const char *d = NULL;

    /* Each bug fails the check about it, and only where it shows. */
    const json_t *sc = scenario_of(res, "nginx-drops-usage", prefill);
    assert_string_equal(status_of(sc, "usage_reported template=prefill", &d), "fail");
    assert_non_null(strstr(d, "no usage in the answer"));
    assert_string_equal(status_of(sc, "answer_integrity template=prefill", NULL), "pass");
    assert_string_equal(status_of(sc, "model_reported template=prefill", NULL), "pass");

    sc = scenario_of(res, "nginx-rewrites-model", prefill);
    assert_string_equal(status_of(sc, "model_reported template=prefill", &d), "fail");
    assert_non_null(strstr(d, "'gpt-4o'"));
    assert_string_equal(status_of(sc, "model_reported against=served", NULL), "fail");
    assert_string_equal(status_of(sc, "usage_reported template=prefill", NULL), "pass");

    sc = scenario_of(res, "nginx-loses-tokens", prefill);
    assert_string_equal(status_of(sc, "answer_integrity template=prefill", &d), "fail");
    assert_non_null(strstr(d, "a token lost"));
    assert_string_equal(status_of(sc, "usage_reported template=prefill", NULL), "pass");

    sc = scenario_of(res, "nginx-400-to-502", code400);
    assert_string_equal(
        status_of(sc,
                  "client_status template=long,status=400,type=invalid_request_error,code=context_"
                  "length_exceeded",
                  &d),
        "fail");
    sc = scenario_of(res, "nginx-drops-usage", code400);
    assert_string_equal(
        status_of(sc,
                  "client_status template=long,status=400,type=invalid_request_error,code=context_"
                  "length_exceeded",
                  NULL),
        "pass");

    /* A stream passed on without [DONE]: a strict client holds an answer
     * that never ended, a lenient one has it whole.  Writing the missing
     * [DONE] is cutover-relay's stream_done policy, not every relay's duty
     * (the upstream left it out): the strict check is asked of cutover-relay
     * only, and says what it saw (docs/outsider-audit.md, "False fails"). */
    sc = scenario_of(res, "nginx-opaque", nodone);
    assert_string_equal(status_of(sc, "answer_integrity client=strict,relay=cutover-relay", &d),
                        "not_applicable");
    assert_non_null(strstr(d, "a promise of cutover-relay's own docs"));
    assert_non_null(strstr(d, "without data: [DONE]"));
    assert_string_equal(status_of(sc, "answer_integrity client=lenient", NULL), "pass");

    /* No id reaches an upstream: what needs the ids is inconclusive and
     * says so; the requested model needs none and is still judged. */
    sc = scenario_of(res, "nginx-no-ids", prefill);
    static const char *const need_ids[] = {"answer_integrity template=prefill",
                                           "usage_reported template=prefill",
                                           "model_reported against=served"};
    for (size_t i = 0; i < sizeof need_ids / sizeof need_ids[0]; i++) {
        assert_string_equal(status_of(sc, need_ids[i], &d), "inconclusive");
        assert_non_null(strstr(d, "request id"));
    }
    assert_string_equal(status_of(sc, "model_reported template=prefill", NULL), "pass");
    sc = scenario_of(res, "nginx-no-ids", nodone);
    assert_string_equal(status_of(sc, "answer_integrity client=lenient", NULL), "inconclusive");
    assert_string_equal(status_of(sc, "answer_integrity client=strict,relay=cutover-relay", NULL),
                        "not_applicable");
    json_decref(res);
}

/* A relay that resumes a broken stream on the other colour: right, the
 * answer is whole (both colours give the same messages the same text);
 * one token too far, the answer silently lacks a token, and only
 * answer_integrity can tell. */
static void test_failover_resume(void **state)
{
    if (!tsup_installed("python3")) {
        printf("SKIP test_failover_resume: python3 is not installed (apt-get install python3)\n");
        skip();
    }
    char out[128];
    snprintf(out, sizeof out, "%s/resume", dir);
    char *args[] = {"run",        "scenarios/answers/midstream-failover-integrity.json",
                    "--relay",    "tests/integration/bad-relays/resume-relay.json",
                    "--relay",    "tests/integration/bad-relays/resume-relay-skips-a-token.json",
                    "--out",      out,
                    "--no-color", NULL};
    assert_int_equal(tsup_cutover(120000, args), 1);
    json_t *res = tsup_results_or_fail(out);
    const char *name = "answer-integrity-under-midstream-failover", *d = NULL;
    const json_t *sc = scenario_of(res, "resume-relay", name);
    assert_string_equal(status_of(sc, "answer_integrity template=sse", NULL), "pass");
    assert_string_equal(status_of(sc, "answer_integrity template=json", NULL), "pass");
    sc = scenario_of(res, "resume-relay-skips-a-token", name);
    assert_string_equal(status_of(sc, "answer_integrity template=sse", &d), "fail");
    assert_non_null(strstr(d, "a token lost"));
    assert_string_equal(status_of(sc, "answer_integrity template=json", NULL), "pass");
    json_decref(res);
}

/* A template's method and path go on the wire as written: a GET without a
 * body reaches the upstream as a GET, a PUT on the chat path is refused by
 * the relay (405, OpenAI's error) before any upstream, another chat path
 * the relay serves is answered whole. */
static void test_methods_and_paths(void **state)
{
    const char *text =
        "{\"name\": \"methods-and-paths\", \"traffic\": {\"rate_rps\": 40, \"duration_ms\": 400, "
        "\"requests\": [{\"name\": \"models\", \"method\": \"GET\", \"path\": \"/v1/models\", "
        "\"raw\": \"\", \"content_type\": \"application/json\"}, {\"name\": \"put-chat\", "
        "\"method\": \"PUT\", \"body\": {\"model\": \"gpt-4.1\", \"messages\": [{\"role\": "
        "\"user\", \"content\": \"hi\"}]}}, {\"name\": \"api-chat\", \"path\": "
        "\"/api/chat/completions\", \"body\": {\"model\": \"gpt-4.1\", \"max_tokens\": 8, "
        "\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}}]}, \"expect\": ["
        "{\"check\": \"client_status\", \"template\": \"models\", \"status\": 200}, "
        "{\"check\": \"client_status\", \"template\": \"put-chat\", \"status\": 405, \"type\": "
        "\"invalid_request_error\"}, {\"check\": \"client_status\", \"template\": \"api-chat\", "
        "\"status\": 200}, {\"check\": \"answer_integrity\", \"template\": \"api-chat\"}]}\n";
    char out[128];
    assert_int_equal(tsup_run_text(dir, "methods", text, 60000, out, sizeof out), 0);
    /* What reached blue: GETs of /v1/models and POSTs of the chat path. */
    char path[300];
    snprintf(path, sizeof path, "%s/%s/methods_json/journal-blue.json", out, strrchr(dir, '/') + 1);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        fail_msg("%s: %s", path, je.text);
    int gets = 0, posts = 0, other = 0;
    size_t i;
    json_t *rec;
    json_array_foreach(j, i, rec)
    {
        const char *m = json_string_value(json_object_get(rec, "method"));
        const char *p = json_string_value(json_object_get(rec, "path"));
        if (strstr(p, "health"))
            continue;
        if (strcmp(m, "GET") == 0 && strcmp(p, "/v1/models") == 0)
            gets++;
        else if (strcmp(m, "POST") == 0 && strcmp(p, "/v1/chat/completions") == 0)
            posts++;
        else
            other++;
    }
    assert_true(gets >= 1);
    assert_true(posts >= 1);
    assert_int_equal(other, 0); /* the PUT never reached an upstream */
    json_decref(j);
}

/* A stream longer than the client's 1 MiB body cap, relayed whole by
 * cutover-relay: the harness's cut is no verdict on the relay (the answer
 * checks leave it unjudged, the client log marks it body_cut). */
static void test_answer_past_body_cap(void **state)
{
    const char *text =
        "{\"name\": \"big-stream\", \"upstreams\": {\"blue\": {\"tokens\": 60000}, \"green\": "
        "\"healthy\"}, \"traffic\": {\"rate_rps\": 4, \"duration_ms\": 400, \"request\": "
        "{\"name\": \"long\", \"body\": {\"stream\": true, \"max_tokens\": 60000, \"messages\": "
        "[{\"role\": \"user\", \"content\": \"hi\"}]}}}, \"expect\": [{\"check\": "
        "\"answer_integrity\"}, {\"check\": \"no_truncated_success\"}, {\"check\": "
        "\"client_success_ratio\", \"min\": 1}]}\n";
    char out[128];
    int rc = tsup_run_text(dir, "big", text, 60000, out, sizeof out);
    json_t *res = tsup_results_or_fail(out);
    const json_t *sc = scenario_of(res, NULL, "big-stream");
    const char *d = NULL;
    assert_string_equal(status_of(sc, "answer_integrity", &d), "inconclusive");
    assert_string_equal(status_of(sc, "no_truncated_success", &d), "inconclusive");
    assert_string_equal(status_of(sc, "client_success_ratio min=1", &d), "inconclusive");
    assert_int_equal(rc, 4); /* inconclusive, never a failure of the relay */
    json_decref(res);
    char path[300];
    snprintf(path, sizeof path, "%s/%s/big_json/requests.jsonl", out, strrchr(dir, '/') + 1);
    FILE *rq = fopen(path, "r");
    assert_non_null(rq);
    char line[4096];
    int cut = 0;
    while (fgets(line, sizeof line, rq))
        cut += strstr(line, "\"body_cut\": true") != NULL || strstr(line, "\"body_cut\":true");
    fclose(rq);
    assert_true(cut >= 1);
}

/* A Retry-After that is an HTTP date (RFC 9110 allows one) reaches the
 * client log as such (retry_after_s_hdr -3), not as "not a whole number"
 * (-2), which rate_limit fails: both colours answer 429 with a date, one
 * attempt, and cutover-relay passes the last 429's Retry-After on. */
static void test_retry_after_date_read_as_date(void **state)
{
    const char *text =
        "{\"name\": \"ra-date\", \"relay\": {\"max_attempts\": 1}, \"upstreams\": {\"blue\": "
        "{\"rules\": [{\"action\": {\"type\": \"status\", \"code\": 429, \"retry_after_date_s\": "
        "30}}]}, \"green\": \"healthy\"}, \"traffic\": {\"concurrency\": 1, \"count\": 2}, "
        "\"expect\": [{\"check\": \"retry_after_kept\"}]}\n";
    char out[128];
    assert_int_equal(tsup_run_text(dir, "radate", text, 60000, out, sizeof out), 0);
    char path[300];
    snprintf(path, sizeof path, "%s/%s/radate_json/requests.jsonl", out, strrchr(dir, '/') + 1);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("%s: cannot open", path);
    char line[8192];
    int dates = 0, lines = 0;
    while (fgets(line, sizeof line, f)) {
        lines++;
        assert_null(strstr(line, "\"retry_after_s_hdr\":-2,"));
        dates += strstr(line, "\"status\":429") && strstr(line, "\"retry_after_s_hdr\":-3,");
    }
    fclose(f);
    assert_int_equal(lines, 2);
    assert_true(dates >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_library_passes_on_cutover_relay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_relays_caught, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failover_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_methods_and_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_past_body_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_after_date_read_as_date, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
