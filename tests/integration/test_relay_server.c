/* Integration: the relay's own surface.  Rate limiting (429 with headers,
 * never reaching an upstream), bad input in OpenAI's envelope (404, 405,
 * 413, 400), /health and /api/metrics shapes, /metrics as valid Prometheus
 * text, /v1/models and /api/chat forwarding, client keys, a client that
 * disconnects cancelling its upstream, SIGTERM draining, and exit 2 on a
 * bad configuration. */
#include "relay_fixture.h"

#include <ctype.h>
#include <sys/wait.h>

#define MSG_BODY "{\"model\":\"gpt-4.1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"

static void get(const char *path, struct thttp_resp *r)
{
    char u[300];
    snprintf(u, sizeof u, "%s%s", F.relay_url, path);
    assert_int_equal(thttp_request("GET", u, NULL, NULL, 5000, r), CURLE_OK);
}

/* An OpenAI error envelope with all four fields. */
static void assert_envelope(const char *body, const char *code)
{
    char why[512];
    if (tsup_openai_error(body, code, why, sizeof why) != 0)
        fail_msg("%s", why);
}

static void test_rate_limit(void **state)
{
    assert_int_equal(fx_start_relay(&F,
                                    "\"rate_limit_requests\": 3, \"rate_limit_window_ms\": 60000, "
                                    "\"health_interval_ms\": 0"),
                     0);
    struct thttp_resp r;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fx_chat(&F, "rl", 0, 5000, &r), CURLE_OK);
        assert_int_equal(r.status, 200);
        thttp_resp_free(&r);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(fx_chat(&F, "rl-over", 0, 5000, &r), CURLE_OK);
        assert_int_equal(r.status, 429);
        assert_envelope(r.body, "rate_limit_exceeded");
        long ra = fx_header_long(&r, "Retry-After");
        assert_true(ra >= 1 && ra <= 60);
        assert_int_equal(fx_header_long(&r, "x-ratelimit-limit"), 3);
        assert_int_equal(fx_header_long(&r, "x-ratelimit-remaining"), 0);
        assert_true(fx_header_long(&r, "x-ratelimit-reset") >= 1);
        thttp_resp_free(&r);
    }
    /* A limited request never reaches an upstream. */
    json_t *jb = fx_journal(F.url[0]), *jg = fx_journal(F.url[1]);
    assert_int_equal(json_array_size(jb) + json_array_size(jg), 3);
    json_decref(jb);
    json_decref(jg);
    assert_int_equal(fx_wait_event(&F, "rate_limit", NULL, NULL, 2000), 0);
    json_t *ev = fx_events(&F);
    size_t i;
    json_t *e;
    json_array_foreach(ev, i, e)
    {
        if (strcmp(jstr(e, "type"), "rate_limit") == 0) {
            assert_int_equal(jint(e, "limit"), 3);
            assert_int_equal(strlen(jstr(e, "client")), 8);
        }
    }
    json_decref(ev);
    /* Without client keys a bearer is the client's choice, not an identity:
     * a fresh one (or a forged X-Forwarded-For, with no trusted proxy)
     * shares the address's window.  (Issue 20: a fresh bearer per request
     * used to switch the limiter off.) */
    char u[300];
    snprintf(u, sizeof u, "%s/v1/chat/completions", F.relay_url);
    const char *h[] = {"Authorization: Bearer client-two", "X-Forwarded-For: 10.9.8.7",
                       "Content-Type: application/json", NULL};
    assert_int_equal(thttp_request("POST", u, MSG_BODY, h, 5000, &r), CURLE_OK);
    assert_int_equal(r.status, 429);
    thttp_resp_free(&r);
}

static void test_bad_input(void **state)
{
    assert_int_equal(fx_start_relay(&F, "\"max_body_bytes\": 1000, \"health_interval_ms\": 0"), 0);
    struct thttp_resp r;
    char u[300];
    get("/v1/nothing-here", &r);
    assert_int_equal(r.status, 404);
    assert_envelope(r.body, NULL);
    thttp_resp_free(&r);

    snprintf(u, sizeof u, "%s/v1/chat/completions", F.relay_url);
    assert_int_equal(thttp_request("GET", u, NULL, NULL, 5000, &r), CURLE_OK);
    assert_int_equal(r.status, 405);
    assert_envelope(r.body, "method_not_allowed");
    char v[32];
    assert_string_equal(thttp_header(&r, "Allow", v, sizeof v), "POST");
    thttp_resp_free(&r);

    const char *h[] = {"Content-Type: application/json", NULL};
    assert_int_equal(
        thttp_request("POST", u, "{\"model\": \"gpt-4.1\", \"messages\": [", h, 5000, &r),
        CURLE_OK);
    assert_int_equal(r.status, 400);
    assert_envelope(r.body, "invalid_json");
    thttp_resp_free(&r);
    assert_int_equal(thttp_request("POST", u, "[1,2]", h, 5000, &r), CURLE_OK);
    assert_int_equal(r.status, 400);
    assert_envelope(r.body, NULL);
    thttp_resp_free(&r);
    assert_int_equal(thttp_request("POST", u, "{\"model\":\"m\",\"stream\":\"yes\"}", h, 5000, &r),
                     CURLE_OK);
    assert_int_equal(r.status, 400);
    assert_envelope(r.body, NULL);
    assert_non_null(strstr(r.body, "\"param\":\"stream\""));
    thttp_resp_free(&r);

    char *big = co_malloc(5001);
    memset(big, 'x', 5000);
    big[5000] = 0;
    big[0] = '"';
    assert_int_equal(thttp_request("POST", u, big, h, 5000, &r), CURLE_OK);
    assert_int_equal(r.status, 413);
    assert_envelope(r.body, "request_too_large");
    thttp_resp_free(&r);
    free(big);
    /* None of that reached an upstream, and the relay still serves. */
    json_t *jb = fx_journal(F.url[0]);
    assert_int_equal(json_array_size(jb), 0);
    json_decref(jb);
    assert_int_equal(fx_chat(&F, "after-bad", 0, 5000, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    thttp_resp_free(&r);
}

static void test_health_and_api_metrics(void **state)
{
    assert_int_equal(fx_start_relay(&F, "\"health_interval_ms\": 0"), 0);
    struct thttp_resp r;
    assert_int_equal(fx_chat(&F, "m-1", 0, 5000, &r), CURLE_OK);
    thttp_resp_free(&r);
    get("/health", &r);
    assert_int_equal(r.status, 200);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_string_equal(jstr(j, "status"), "healthy");
    assert_string_equal(jstr(j, "active_env"), "blue");
    assert_true(strlen(jstr(j, "timestamp")) >= 20);
    assert_true(json_is_true(json_object_get(json_object_get(j, "environments"), "blue")));
    assert_true(json_is_true(json_object_get(json_object_get(j, "environments"), "green")));
    json_decref(j);
    thttp_resp_free(&r);

    get("/api/metrics", &r);
    assert_int_equal(r.status, 200);
    j = json_loads(r.body, 0, NULL);
    assert_string_equal(jstr(j, "active_environment"), "blue");
    json_t *b = json_object_get(json_object_get(j, "environments"), "blue");
    assert_true(json_is_true(json_object_get(b, "healthy")));
    assert_int_equal(jint(b, "total_requests"), 1);
    assert_int_equal(jint(b, "error_count"), 0);
    assert_true(json_real_value(json_object_get(b, "success_rate")) == 100.0);
    assert_true(json_is_number(json_object_get(b, "avg_latency_ms")));
    json_decref(j);
    thttp_resp_free(&r);
}

/* The Prometheus text exposition format, line by line: comments are HELP or
 * TYPE; samples are name{label="v",...} value. */
static void check_prometheus(const char *text)
{
    int samples = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl); /* every line ends with a newline */
        char line[1024];
        size_t n = (size_t)(nl - p);
        assert_true(n < sizeof line);
        memcpy(line, p, n);
        line[n] = 0;
        p = nl + 1;
        if (line[0] == '#') {
            assert_true(strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0);
            continue;
        }
        const char *q = line;
        assert_true(isalpha((unsigned char)*q) || *q == '_');
        while (isalnum((unsigned char)*q) || *q == '_' || *q == ':')
            q++;
        if (*q == '{') {
            q++;
            while (*q != '}') {
                assert_true(isalpha((unsigned char)*q) || *q == '_');
                while (isalnum((unsigned char)*q) || *q == '_')
                    q++;
                assert_int_equal(*q++, '=');
                assert_int_equal(*q++, '"');
                while (*q && *q != '"') {
                    if (*q == '\\')
                        q++;
                    q++;
                }
                assert_int_equal(*q++, '"');
                if (*q == ',')
                    q++;
            }
            q++;
        }
        assert_int_equal(*q++, ' ');
        char *end;
        strtod(q, &end);
        assert_true(end != q && *end == 0);
        samples++;
    }
    assert_true(samples > 5);
}

static void test_prometheus(void **state)
{
    assert_int_equal(fx_start_relay(&F, "\"health_interval_ms\": 0, \"backoff_base_ms\": 5"), 0);
    assert_int_equal(tmock_put_behavior(F.url[0], "{\"rules\":[{\"when\":{\"first\":1},\"action\":"
                                                  "{\"type\":\"status\",\"code\":503}}]}"),
                     0);
    struct thttp_resp r;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fx_chat(&F, "prom", 0, 5000, &r), CURLE_OK);
        assert_int_equal(r.status, 200);
        thttp_resp_free(&r);
    }
    /* A model name with characters that need escaping. */
    char u[300];
    snprintf(u, sizeof u, "%s/v1/chat/completions", F.relay_url);
    const char *h[] = {"Content-Type: application/json", NULL};
    assert_int_equal(thttp_request("POST", u,
                                   "{\"model\":\"we\\\"ird\\\\mo\\ndel\",\"messages\":[{\"role\":"
                                   "\"user\",\"content\":\"x\"}]}",
                                   h, 5000, &r),
                     CURLE_OK);
    thttp_resp_free(&r);
    get("/metrics", &r);
    assert_int_equal(r.status, 200);
    char ct[128];
    assert_non_null(strstr(thttp_header(&r, "Content-Type", ct, sizeof ct), "text/plain"));
    check_prometheus(r.body);
    assert_non_null(strstr(r.body,
                           "holysheep_requests_total{environment=\"green\",model=\"gpt-4.1\","
                           "status=\"200\"} 3"));
    assert_non_null(strstr(r.body, "holysheep_request_latency_seconds_count{environment=\"green\","
                                   "model=\"gpt-4.1\"} 3"));
    assert_non_null(strstr(r.body, "holysheep_switches_total{from=\"blue\",to=\"green\","
                                   "reason=\"upstream_503\"} 1"));
    assert_non_null(
        strstr(r.body, "holysheep_retries_total{environment=\"blue\",reason=\"upstream_503\"} 1"));
    assert_non_null(strstr(r.body, "holysheep_environment_healthy{environment=\"blue\"} 1"));
    assert_non_null(strstr(r.body, "holysheep_active_environment{environment=\"green\"} 1"));
    assert_non_null(
        strstr(r.body, "holysheep_tokens_total{model=\"gpt-4.1\",kind=\"completion\"}"));
    assert_non_null(strstr(r.body, "holysheep_cost_usd_total{model=\"gpt-4.1\"}"));
    thttp_resp_free(&r);
}

static void test_models_and_api_chat(void **state)
{
    assert_int_equal(fx_start_relay(&F, "\"health_interval_ms\": 0"), 0);
    struct thttp_resp r;
    get("/v1/models", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"data\""));
    thttp_resp_free(&r);
    char u[300];
    snprintf(u, sizeof u, "%s/api/chat", F.relay_url);
    const char *h[] = {"Content-Type: application/json", "X-Request-ID: apichat-1", NULL};
    assert_int_equal(
        thttp_request("POST", u, "{\"message\":\"hello\",\"context\":\"be brief\"}", h, 5000, &r),
        CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "chat.completion"));
    thttp_resp_free(&r);
    json_t *jb = fx_journal(F.url[0]);
    assert_int_equal(json_array_size(jb), 1);
    assert_string_equal(jstr(json_array_get(jb, 0), "model"), "gpt-4.1");
    assert_string_equal(jstr(json_array_get(jb, 0), "request_id"), "apichat-1");
    json_decref(jb);
    assert_int_equal(thttp_request("POST", u, "{\"context\":\"no message\"}", h, 5000, &r),
                     CURLE_OK);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "\"param\":\"message\""));
    thttp_resp_free(&r);
}

static void test_client_keys(void **state)
{
    assert_int_equal(fx_start_relay(&F, "\"client_keys\": [\"ck-alpha-1\", \"ck-beta-2\"], "
                                        "\"health_interval_ms\": 0"),
                     0);
    struct thttp_resp r;
    assert_int_equal(fx_chat(&F, "nokey", 0, 5000, &r), CURLE_OK);
    assert_int_equal(r.status, 401);
    assert_envelope(r.body, "invalid_api_key");
    thttp_resp_free(&r);
    char u[300];
    snprintf(u, sizeof u, "%s/v1/chat/completions", F.relay_url);
    const char *bad[] = {"Authorization: Bearer ck-alpha-", NULL};
    assert_int_equal(thttp_request("POST", u, MSG_BODY, bad, 5000, &r), CURLE_OK);
    assert_int_equal(r.status, 401);
    thttp_resp_free(&r);
    const char *good[] = {"Authorization: Bearer ck-beta-2", NULL};
    assert_int_equal(thttp_request("POST", u, MSG_BODY, good, 5000, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    thttp_resp_free(&r);
    json_t *jb = fx_journal(F.url[0]);
    assert_int_equal(json_array_size(jb), 1);
    json_decref(jb);
}

static void test_client_disconnect_cancels_upstream(void **state)
{
    assert_int_equal(fx_start_relay(&F, "\"health_interval_ms\": 0"), 0);
    assert_int_equal(tmock_put_behavior(F.url[0], "{\"latency\":{\"fixed_ms\":3000}}"), 0);
    struct thttp_resp r;
    /* The client gives up after 200 ms. */
    assert_int_equal(fx_chat(&F, "gone-1", 0, 200, &r), CURLE_OPERATION_TIMEDOUT);
    thttp_resp_free(&r);
    /* The relay notices and drops the upstream transfer: the mock sees its
     * client (the relay) leave long before the 3 s answer. */
    assert_int_equal(fx_wait_event(&F, "request", "request_id", "gone-1", 2000), 0);
    json_t *ev = fx_events(&F);
    size_t i;
    json_t *e;
    int seen = 0;
    json_array_foreach(ev, i, e)
    {
        if (strcmp(jstr(e, "type"), "request") == 0) {
            assert_int_equal(jint(e, "status"), 499);
            assert_string_equal(jstr(e, "end"), "client_gone");
            assert_true(jint(e, "latency_us") < 2000000);
            seen = 1;
        }
    }
    assert_true(seen);
    json_decref(ev);
    /* No answer was ever relayed for it. */
    assert_int_equal(fx_count_events(&F, "attempt", "request_id", "gone-1"), 0);
}

/* Mid-stream: the mock keeps writing tokens, so it sees its client (the
 * relay) leave and journals end "client_gone" well before its last token. */
static void test_client_disconnect_mid_stream(void **state)
{
    assert_int_equal(fx_start_relay(&F, "\"health_interval_ms\": 0"), 0);
    assert_int_equal(tmock_put_behavior(F.url[0], "{\"rules\":[{\"action\":{\"type\":\"slow\","
                                                  "\"ttft_ms\":0,\"gap_ms\":150}}]}"),
                     0);
    struct thttp_resp r;
    uint64_t t0 = co_clock_monotonic_us();
    assert_int_equal(fx_chat(&F, "gone-2", 1, 400, &r), CURLE_OPERATION_TIMEDOUT);
    thttp_resp_free(&r);
    json_t *jb = NULL;
    uint64_t end = co_clock_monotonic_us() + 5000000;
    do {
        json_decref(jb);
        co_sleep_us(20000);
        jb = fx_journal(F.url[0]);
    } while (json_array_size(jb) == 0 && co_clock_monotonic_us() < end);
    assert_int_equal(json_array_size(jb), 1);
    json_t *rec = json_array_get(jb, 0);
    assert_string_equal(jstr(rec, "end"), "client_gone");
    /* 16 tokens at 150 ms would take 2.4 s. */
    assert_true(jint(rec, "t_done_us") - jint(rec, "t_arrival_us") < 2000000);
    assert_true(co_clock_monotonic_us() - t0 < 2400000);
    json_decref(jb);
    assert_int_equal(fx_wait_event(&F, "request", "request_id", "gone-2", 2000), 0);
}

static size_t note_conn_close(char *line, size_t size, size_t nmemb, void *userp)
{
    size_t n = size * nmemb;
    if (n >= 17 && strncasecmp(line, "connection: close", 17) == 0)
        *(int *)userp = 1;
    return n;
}

static void test_sigterm_drains(void **state)
{
    assert_int_equal(fx_start_relay(&F, "\"health_interval_ms\": 0, \"drain_timeout_ms\": 5000"),
                     0);
    assert_int_equal(tmock_put_behavior(F.url[0], "{\"latency\":{\"fixed_ms\":600}}"), 0);
    /* A request in flight when SIGTERM comes still gets its answer. */
    char u[300];
    snprintf(u, sizeof u, "%s/v1/chat/completions", F.relay_url);
    CURLM *m = curl_multi_init();
    CURL *e = curl_easy_init();
    long status = 0;
    curl_easy_setopt(e, CURLOPT_URL, u);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, MSG_BODY);
    struct curl_slist *json_ct = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, json_ct);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, NULL);
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(e, CURLOPT_WRITEDATA, devnull);
    int conn_close = 0;
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, note_conn_close);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &conn_close);
    curl_multi_add_handle(m, e);
    int running = 1;
    uint64_t t0 = co_clock_monotonic_us();
    int signalled = 0;
    while (running && co_clock_monotonic_us() - t0 < 10000000) {
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 20, NULL);
        if (!signalled && co_clock_monotonic_us() - t0 > 200000) {
            kill(F.relay.pid, SIGTERM);
            signalled = 1;
        }
    }
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(m, e);
    curl_easy_cleanup(e);
    curl_multi_cleanup(m);
    curl_slist_free_all(json_ct);
    fclose(devnull);
    assert_int_equal(status, 200);
    /* Answered during the drain: the client is told not to come back on
     * this connection. */
    assert_true(conn_close);
    /* And then it exits 0 by itself. */
    int st = tproc_wait_exit(&F.relay, 5000); /* the teardown stops it if it did not exit */
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_bad_config_exits_2(void **state)
{
    char bin[512];
    snprintf(bin, sizeof bin, "%s", tsup_bin("cutover-relay"));
    char *argv[] = {bin,
                    "--blue-url",
                    "http://127.0.0.1:1/v1",
                    "--green-url",
                    "http://127.0.0.1:2/v1",
                    "--jitter",
                    "wobbly",
                    NULL};
    struct tproc p;
    assert_int_equal(tproc_spawn(&p, argv), 0);
    assert_int_equal(tproc_wait_output(&p, 2, "jitter", 5000), 0);
    int st = tproc_wait_exit(&p, 5000);
    tproc_stop(&p, SIGKILL, 1000);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rate_limit, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_health_and_api_metrics, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_prometheus, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_models_and_api_chat, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_client_keys, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_client_disconnect_cancels_upstream, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_client_disconnect_mid_stream, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_drains, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_config_exits_2, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, fx_group_setup, fx_group_teardown);
}
