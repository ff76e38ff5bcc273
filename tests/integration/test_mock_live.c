/* Integration test of a live `cutover mock`: spawned as a process, driven
 * over loopback with libcurl, each action asserted from the client side
 * (what a relay would see), and the journal checked against what the client
 * saw.  One mock serves every test; each test sets its own behaviour. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "co_clock.h"
#include "tests/support/tsupport.h"

#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static struct tproc mock;
static char base[256];

#define CHAT "{\"model\":\"gpt-4.1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
#define CHAT_STREAM                                                                                \
    "{\"model\":\"gpt-4.1\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"          \
    "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"

static void url(char *out, size_t n, const char *path)
{
    snprintf(out, n, "%s%s", base, path);
}

static CURLcode req(const char *method, const char *path, const char *body, long timeout_ms,
                    struct thttp_resp *r)
{
    char u[512];
    static const char *const hdrs[] = {"Content-Type: application/json", NULL};
    url(u, sizeof u, path);
    return thttp_request(method, u, body, hdrs, timeout_ms, r);
}

/* A fresh mock (journal, counters, RNG) with this behaviour. */
static void put_behavior(const char *json)
{
    struct thttp_resp r;
    req("POST", "/_mock/reset", "", 5000, &r);
    assert_int_equal(r.status, 200);
    thttp_resp_free(&r);
    if (tmock_put_behavior(base, json) != 0)
        fail_msg("PUT behavior %s failed", json);
}

static json_t *journal(uint64_t since)
{
    char p[64];
    struct thttp_resp r;
    snprintf(p, sizeof p, "/_mock/journal?since=%llu", (unsigned long long)since);
    req("GET", p, NULL, 5000, &r);
    assert_int_equal(r.status, 200);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_non_null(j);
    thttp_resp_free(&r);
    return j;
}

/* The journal's records once it holds n of them (polled: a record lands
 * when MHD reports the request completed). */
static json_t *records(size_t n)
{
    uint64_t end = co_clock_monotonic_us() + 5000000;
    for (;;) {
        json_t *j = journal(0);
        json_t *a = json_incref(json_object_get(j, "records"));
        json_decref(j);
        if (json_array_size(a) >= n || co_clock_monotonic_us() > end)
            return a;
        json_decref(a);
        co_sleep_us(10000);
    }
}

static const char *rec_s(json_t *a, size_t i, const char *k)
{
    return json_string_value(json_object_get(json_array_get(a, i), k));
}

static long long rec_i(json_t *a, size_t i, const char *k)
{
    return json_integer_value(json_object_get(json_array_get(a, i), k));
}

/* Splits an SSE body into its data payloads; returns the count. */
static size_t sse_split(const char *body, char **out, size_t max)
{
    size_t n = 0;
    const char *p = body;
    while (p && *p && n < max) {
        const char *e = strstr(p, "\n\n");
        if (!e)
            break;
        if (strncmp(p, "data: ", 6) == 0)
            out[n++] = strndup(p + 6, (size_t)(e - p - 6));
        p = e + 2;
    }
    return n;
}

static int setup(void **state)
{
    const char *seed[] = {"--seed", "7", NULL};
    if (tmock_start(&mock, "blue", seed) != 0)
        return -1;
    snprintf(base, sizeof base, "%s", mock.url);
    return 0;
}

static int teardown(void **state)
{
    if (mock.pid > 0)
        tproc_stop(&mock, SIGTERM, 5000);
    return 0;
}

static void test_banner_and_endpoints(void **state)
{
    char *out = tproc_read(&mock, 1);
    char want[300];
    snprintf(want, sizeof want, "mock blue listening on %s\n", base);
    assert_string_equal(out, want);
    free(out);
    struct thttp_resp r;
    char v[128];
    const char *paths[] = {"/health", "/v1/health", "/v1/models"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(req("GET", paths[i], NULL, 5000, &r), CURLE_OK);
        assert_int_equal(r.status, 200);
        assert_non_null(thttp_header(&r, "Content-Type", v, sizeof v));
        assert_string_equal(v, "application/json");
        json_t *j = json_loads(r.body, 0, NULL);
        assert_non_null(j);
        json_decref(j);
        thttp_resp_free(&r);
    }
}

/* The runner's ready probe (MOCK_READY_PROBE_HEADER), passed on by a
 * catch-all relay, is journalled as such and takes no place in the health
 * rules' count: the relay's own first probe still meets "first": 1. */
static void test_ready_probe_marked(void **state)
{
    put_behavior("{\"health\": {\"rules\": [{\"when\": {\"first\": 1}, \"action\": "
                 "{\"type\": \"status\", \"code\": 503}}]}}");
    char u[512];
    url(u, sizeof u, "/health");
    static const char *const marked[] = {"X-Cutover-Ready-Probe: 1", NULL};
    struct thttp_resp r;
    assert_int_equal(thttp_request("GET", u, NULL, marked, 5000, &r), CURLE_OK);
    assert_int_equal(r.status, 503);
    thttp_resp_free(&r);
    assert_int_equal(req("GET", "/health", NULL, 5000, &r), CURLE_OK);
    assert_int_equal(r.status, 503); /* before: 200, the ready probe had been "first" */
    thttp_resp_free(&r);
    assert_int_equal(req("GET", "/health", NULL, 5000, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    thttp_resp_free(&r);
    json_t *a = records(3);
    assert_int_equal(json_array_size(a), 3);
    assert_true(json_is_true(json_object_get(json_array_get(a, 0), "ready_probe")));
    assert_null(json_object_get(json_array_get(a, 1), "ready_probe"));
    json_decref(a);
}

static void check_error(struct thttp_resp *r, long status, const char *msg_part)
{
    char v[128];
    assert_int_equal(r->status, status);
    assert_non_null(thttp_header(r, "Content-Type", v, sizeof v));
    assert_string_equal(v, "application/json");
    char why[512];
    if (tsup_openai_error(r->body, NULL, why, sizeof why) != 0)
        fail_msg("%s", why);
    json_t *j = json_loads(r->body, 0, NULL);
    const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    if (msg_part && !strstr(m, msg_part))
        fail_msg("message '%s' lacks '%s'", m, msg_part);
    json_decref(j);
}

static void test_bad_requests(void **state)
{
    put_behavior("{}");
    struct thttp_resp r;
    req("GET", "/v2/nothing", NULL, 5000, &r);
    check_error(&r, 404, NULL);
    thttp_resp_free(&r);
    req("POST", "/v1/chat/completions", "{oops", 5000, &r);
    check_error(&r, 400, "parse");
    thttp_resp_free(&r);
    req("POST", "/v1/chat/completions", "{\"model\":\"x\"}", 5000, &r);
    check_error(&r, 400, "messages");
    thttp_resp_free(&r);
    size_t big = 1024 * 1024 + 100;
    char *body = malloc(big + 1);
    memset(body, 'x', big);
    body[big] = '\0';
    req("POST", "/v1/chat/completions", body, 10000, &r);
    check_error(&r, 413, NULL);
    thttp_resp_free(&r);
    free(body);
    /* A bad behaviour is refused with the path of the mistake; the old one stays. */
    req("PUT", "/_mock/behavior", "{\"rules\":[{\"action\":{\"type\":\"status\",\"code\":\"x\"}}]}",
        5000, &r);
    check_error(&r, 400, "$.rules[0].action.code: expected an integer");
    json_t *j = json_loads(r.body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "param")),
                        "$.rules[0].action.code");
    json_decref(j);
    thttp_resp_free(&r);
    req("PUT", "/_mock/behavior", "{not json", 5000, &r);
    check_error(&r, 400, "body:1:");
    thttp_resp_free(&r);
    req("GET", "/_mock/behavior", NULL, 5000, &r);
    assert_string_equal(r.body, "{}");
    thttp_resp_free(&r);
    req("GET", "/_mock/journal?since=abc", NULL, 5000, &r);
    check_error(&r, 400, "since");
    thttp_resp_free(&r);
}

static void test_chat_json_and_sse(void **state)
{
    put_behavior("{\"reply\":{\"tokens\":6}}");
    struct thttp_resp r;
    char v[128];
    assert_int_equal(req("POST", "/v1/chat/completions", CHAT, 5000, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "object")), "chat.completion");
    assert_memory_equal(json_string_value(json_object_get(j, "id")), "chatcmpl-", 9);
    assert_string_equal(json_string_value(json_object_get(j, "model")), "gpt-4.1");
    const char *text = json_string_value(json_object_get(
        json_object_get(json_array_get(json_object_get(j, "choices"), 0), "message"), "content"));
    char full[512];
    snprintf(full, sizeof full, "%s", text);
    assert_int_equal(full[strlen(full) - 1], '.');
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "usage"), "completion_tokens")), 6);
    json_decref(j);
    thttp_resp_free(&r);

    assert_int_equal(req("POST", "/v1/chat/completions", CHAT_STREAM, 5000, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(thttp_header(&r, "Content-Type", v, sizeof v));
    assert_string_equal(v, "text/event-stream");
    char *ev[32];
    size_t n = sse_split(r.body, ev, 32);
    assert_int_equal(n, 1 + 6 + 1 + 1 + 1);
    assert_string_equal(ev[n - 1], "[DONE]");
    char id[64] = "", joined[512] = "";
    long created = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        json_t *c = json_loads(ev[i], 0, NULL);
        assert_non_null(c);
        if (i == 0) {
            snprintf(id, sizeof id, "%s", json_string_value(json_object_get(c, "id")));
            created = (long)json_integer_value(json_object_get(c, "created"));
        }
        assert_string_equal(json_string_value(json_object_get(c, "id")), id);
        assert_int_equal(json_integer_value(json_object_get(c, "created")), created);
        json_t *delta = json_object_get(json_array_get(json_object_get(c, "choices"), 0), "delta");
        const char *piece = json_string_value(json_object_get(delta, "content"));
        if (piece)
            strncat(joined, piece, sizeof joined - strlen(joined) - 1);
        if (i == n - 2) /* the usage chunk */
            assert_int_equal(json_array_size(json_object_get(c, "choices")), 0);
        json_decref(c);
    }
    /* Same messages, same reply, streamed or not. */
    assert_string_equal(joined, full);
    for (size_t i = 0; i < n; i++)
        free(ev[i]);
    thttp_resp_free(&r);
}

static void test_status_headers(void **state)
{
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"status\",\"code\":429,\"error_code\":"
                 "\"insufficient_quota\",\"retry_after_s\":3,\"retry_after_ms\":2500,\"ratelimit\":"
                 "{\"limit_requests\":100,\"remaining_requests\":0,\"reset_requests\":\"3s\"}}}]}");
    struct thttp_resp r;
    char v[128];
    req("POST", "/v1/chat/completions", CHAT_STREAM, 5000, &r);
    check_error(&r, 429, "quota");
    assert_string_equal(thttp_header(&r, "Retry-After", v, sizeof v), "3");
    assert_string_equal(thttp_header(&r, "retry-after-ms", v, sizeof v), "2500");
    assert_string_equal(thttp_header(&r, "x-ratelimit-limit-requests", v, sizeof v), "100");
    assert_string_equal(thttp_header(&r, "x-ratelimit-remaining-requests", v, sizeof v), "0");
    assert_string_equal(thttp_header(&r, "x-ratelimit-reset-requests", v, sizeof v), "3s");
    thttp_resp_free(&r);
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"status\",\"code\":401}}]}");
    req("POST", "/v1/chat/completions", CHAT, 5000, &r);
    check_error(&r, 401, "API key");
    assert_null(thttp_header(&r, "Retry-After", v, sizeof v));
    thttp_resp_free(&r);
}

static void test_rate_limiter(void **state)
{
    put_behavior("{\"rate_limit\":{\"requests\":3,\"window_ms\":600}}");
    struct thttp_resp r;
    char v[64];
    uint64_t t0 = co_clock_monotonic_us();
    for (int i = 0; i < 3; i++) {
        req("POST", "/v1/chat/completions", CHAT, 5000, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(thttp_header(&r, "x-ratelimit-limit-requests", v, sizeof v), "3");
        assert_int_equal(atoi(thttp_header(&r, "x-ratelimit-remaining-requests", v, sizeof v)),
                         2 - i);
        thttp_resp_free(&r);
    }
    req("POST", "/v1/chat/completions", CHAT, 5000, &r);
    uint64_t t1 = co_clock_monotonic_us();
    check_error(&r, 429, NULL);
    assert_string_equal(thttp_header(&r, "Retry-After", v, sizeof v), "1");
    long ms = atol(thttp_header(&r, "retry-after-ms", v, sizeof v));
    /* The first admission leaves the window 600 ms after it came. */
    assert_true(ms > 0 && ms <= 600);
    assert_true((uint64_t)ms * 1000 >= 600000 - (t1 - t0) - 1000);
    assert_string_equal(thttp_header(&r, "x-ratelimit-remaining-requests", v, sizeof v), "0");
    thttp_resp_free(&r);
    co_sleep_us((uint64_t)ms * 1000 + 20000);
    req("POST", "/v1/chat/completions", CHAT, 5000, &r);
    assert_int_equal(r.status, 200);
    thttp_resp_free(&r);
    json_t *a = records(5);
    assert_string_equal(rec_s(a, 3, "rule"), "rate_limit");
    assert_int_equal(rec_i(a, 3, "status"), 429);
    json_decref(a);
}

static void test_reset_close(void **state)
{
    struct thttp_resp r;
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"reset\"}}]}");
    assert_int_equal(req("POST", "/v1/chat/completions", CHAT, 5000, &r), CURLE_RECV_ERROR);
    thttp_resp_free(&r);
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"close\"}}]}");
    assert_int_equal(req("POST", "/v1/chat/completions", CHAT, 5000, &r), CURLE_GOT_NOTHING);
    thttp_resp_free(&r);
    /* After two chunks: the client got exactly two events, then the RST. */
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"reset\",\"after_chunks\":2}}]}");
    assert_int_equal(req("POST", "/v1/chat/completions", CHAT_STREAM, 5000, &r), CURLE_RECV_ERROR);
    assert_int_equal(r.status, 200);
    char *ev[8];
    size_t n = sse_split(r.body, ev, 8);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++)
        free(ev[i]);
    size_t got = r.body_len;
    thttp_resp_free(&r);
    json_t *a = records(1);
    assert_string_equal(rec_s(a, 0, "end"), "reset");
    assert_string_equal(rec_s(a, 0, "action"), "reset");
    assert_int_equal(rec_i(a, 0, "chunks"), 2);
    assert_int_equal(rec_i(a, 0, "bytes"), (long long)got);
    json_decref(a);
    /* A probability-0 reset never resets. */
    put_behavior("{\"rules\":[{\"when\":{\"p\":0},\"action\":{\"type\":\"reset\"}}]}");
    for (int i = 0; i < 20; i++) {
        assert_int_equal(req("POST", "/v1/chat/completions", CHAT, 5000, &r), CURLE_OK);
        assert_int_equal(r.status, 200);
        thttp_resp_free(&r);
    }
    /* The reset on a non-streamed body lands mid-body. */
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"reset\",\"after_bytes\":40}}]}");
    assert_int_equal(req("POST", "/v1/chat/completions", CHAT, 5000, &r), CURLE_RECV_ERROR);
    assert_int_equal(r.body_len, 40);
    thttp_resp_free(&r);
}

static void test_cut(void **state)
{
    struct thttp_resp r;
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"cut\",\"after_chunks\":3}}]}");
    assert_int_equal(req("POST", "/v1/chat/completions", CHAT_STREAM, 5000, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.body, "[DONE]"));
    assert_null(strstr(r.body, "\"finish_reason\":\"stop\""));
    char *ev[8];
    size_t n = sse_split(r.body, ev, 8);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++)
        free(ev[i]);
    thttp_resp_free(&r);
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"cut\",\"after_chunks\":3,"
                 "\"broken_framing\":true}}]}");
    CURLcode rc = req("POST", "/v1/chat/completions", CHAT_STREAM, 5000, &r);
    assert_true(rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR);
    thttp_resp_free(&r);
    json_t *a = records(1);
    assert_string_equal(rec_s(a, 0, "end"), "cut");
    assert_int_equal(rec_i(a, 0, "chunks"), 3);
    json_decref(a);
}

static size_t sink_count(char *p, size_t sz, size_t n, void *u)
{
    *(size_t *)u += sz * n;
    return sz * n;
}

/* One request timed by libcurl: to the first response byte (headers
 * included) and to the end; returns the body size. */
static size_t timed(const char *body, double *first_s, double *total_s, CURLcode *rc)
{
    char u[512];
    url(u, sizeof u, "/v1/chat/completions");
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    size_t got = 0;
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, u);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink_count);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &got);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
    *rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_STARTTRANSFER_TIME, first_s);
    curl_easy_getinfo(e, CURLINFO_TOTAL_TIME, total_s);
    curl_easy_cleanup(e);
    curl_slist_free_all(h);
    return got;
}

static void test_no_done(void **state)
{
    struct thttp_resp r;
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"no_done\"}}]}");
    assert_int_equal(req("POST", "/v1/chat/completions", CHAT_STREAM, 5000, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    /* Whole: the finish_reason and the usage chunk, then a clean end. */
    assert_non_null(strstr(r.body, "\"finish_reason\":\"stop\""));
    assert_non_null(strstr(r.body, "\"usage\":{"));
    assert_null(strstr(r.body, "[DONE]"));
    thttp_resp_free(&r);
    /* A non-streamed answer is untouched. */
    assert_int_equal(req("POST", "/v1/chat/completions", CHAT, 5000, &r), CURLE_OK);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_non_null(j);
    json_decref(j);
    thttp_resp_free(&r);
    json_t *a = records(2);
    assert_string_equal(rec_s(a, 0, "action"), "no_done");
    json_decref(a);
}

static void test_hold_body(void **state)
{
    double first, total;
    CURLcode rc;
    /* Headers at once, then 400 ms without a body byte, then all of it. */
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"hold_body\",\"hold_ms\":400}}]}");
    for (int stream = 0; stream < 2; stream++) {
        size_t got = timed(stream ? CHAT_STREAM : CHAT, &first, &total, &rc);
        assert_int_equal(rc, CURLE_OK);
        assert_true(got > 100);
        assert_true(first < 0.2);
        assert_true(total >= 0.4);
    }
    struct thttp_resp r;
    assert_int_equal(req("POST", "/v1/chat/completions", CHAT, 5000, &r), CURLE_OK);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_non_null(j); /* the whole body, not its first half */
    json_decref(j);
    thttp_resp_free(&r);
    assert_int_equal(req("POST", "/v1/chat/completions", CHAT_STREAM, 5000, &r), CURLE_OK);
    assert_non_null(strstr(r.body, "data: [DONE]"));
    thttp_resp_free(&r);
    /* then: close ends it after the silence, with no body at all. */
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"hold_body\",\"hold_ms\":200,"
                 "\"then\":\"close\"}}]}");
    size_t got = timed(CHAT, &first, &total, &rc);
    assert_int_not_equal(rc, CURLE_OK);
    assert_int_equal(got, 0);
    assert_true(total >= 0.2);
}

static void test_stall_continue_non_streamed(void **state)
{
    /* A stall that continues on a non-streamed answer delivers the rest of
     * the body after the silence (it used to end at the stall point). */
    struct thttp_resp r;
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"stall\",\"stall_ms\":200,"
                 "\"then\":\"continue\"}}]}");
    assert_int_equal(req("POST", "/v1/chat/completions", CHAT, 5000, &r), CURLE_OK);
    assert_true(r.total_s >= 0.2);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_non_null(j);
    json_decref(j);
    thttp_resp_free(&r);
}

static void test_timeouts_and_delays(void **state)
{
    struct thttp_resp r;
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"timeout\"}}]}");
    uint64_t t0 = co_clock_monotonic_us();
    assert_int_equal(req("POST", "/v1/chat/completions", CHAT, 300, &r), CURLE_OPERATION_TIMEDOUT);
    /* libcurl may fire its timeout a few ms early (its poll timeouts are in
     * whole milliseconds); the point is that the mock never answered. */
    assert_true(co_clock_monotonic_us() - t0 >= 290000);
    assert_int_equal(r.status, 0);
    thttp_resp_free(&r);
    /* The mock notices the client leaving and journals the timeout. */
    json_t *a = records(1);
    assert_int_equal(json_array_size(a), 1);
    if (strcmp(rec_s(a, 0, "end"), "timeout") != 0)
        fail_msg("end %s", json_dumps(json_array_get(a, 0), 0));
    json_decref(a);

    put_behavior("{\"rules\":[{\"action\":{\"type\":\"timeout\",\"after_ms\":200}}]}");
    assert_int_equal(req("POST", "/v1/chat/completions", CHAT, 5000, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_true(r.total_s >= 0.2 && r.total_s < 0.2 * 10);
    thttp_resp_free(&r);

    put_behavior("{\"latency\":{\"fixed_ms\":100}}");
    assert_int_equal(req("POST", "/v1/chat/completions", CHAT, 5000, &r), CURLE_OK);
    assert_true(r.total_s >= 0.1 && r.total_s < 0.1 * 10);
    thttp_resp_free(&r);

    /* Stall after two chunks for 300 ms, then continue to a complete stream. */
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"stall\",\"after_chunks\":2,\"stall_ms\":300,"
                 "\"then\":\"continue\"}}]}");
    assert_int_equal(req("POST", "/v1/chat/completions", CHAT_STREAM, 5000, &r), CURLE_OK);
    assert_true(r.total_s >= 0.3);
    assert_non_null(strstr(r.body, "data: [DONE]"));
    thttp_resp_free(&r);
    /* ...or close: the client sees a broken stream after the silence. */
    put_behavior(
        "{\"rules\":[{\"action\":{\"type\":\"stall\",\"after_chunks\":2,\"stall_ms\":200}}]}");
    CURLcode rc = req("POST", "/v1/chat/completions", CHAT_STREAM, 5000, &r);
    assert_true(rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR);
    assert_true(r.total_s >= 0.2);
    thttp_resp_free(&r);
    a = records(1);
    assert_string_equal(rec_s(a, 0, "end"), "stalled");
    json_decref(a);

    /* A client that leaves during a long stall is journaled when it leaves,
     * not when the stall would have ended. */
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"stall\",\"after_chunks\":2,"
                 "\"stall_ms\":4000}}]}");
    uint64_t t1 = co_clock_monotonic_us();
    assert_int_equal(req("POST", "/v1/chat/completions", CHAT_STREAM, 300, &r),
                     CURLE_OPERATION_TIMEDOUT);
    thttp_resp_free(&r);
    a = records(1);
    assert_int_equal(json_array_size(a), 1);
    assert_string_equal(rec_s(a, 0, "end"), "client_gone");
    assert_int_equal(rec_i(a, 0, "chunks"), 2);
    assert_true(co_clock_monotonic_us() - t1 < 3000000);
    json_decref(a);

    /* Slow: first token after ttft, then a gap per token. */
    put_behavior("{\"reply\":{\"tokens\":5},\"rules\":[{\"action\":{\"type\":\"slow\","
                 "\"ttft_ms\":150,\"gap_ms\":40}}]}");
    assert_int_equal(req("POST", "/v1/chat/completions", CHAT_STREAM, 5000, &r), CURLE_OK);
    assert_true(r.total_s >= 0.15 + 4 * 0.04);
    assert_true(r.total_s < (0.15 + 4 * 0.04) * 10);
    thttp_resp_free(&r);
}

static void test_inband_and_malformed(void **state)
{
    struct thttp_resp r;
    char v[64];
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"inband_error\",\"after_chunks\":2}}]}");
    assert_int_equal(req("POST", "/v1/chat/completions", CHAT_STREAM, 5000, &r), CURLE_OK);
    char *ev[8];
    size_t n = sse_split(r.body, ev, 8);
    assert_int_equal(n, 3);
    assert_memory_equal(ev[2], "{\"error\":", 9);
    for (size_t i = 0; i < n; i++)
        free(ev[i]);
    thttp_resp_free(&r);
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"malformed\",\"what\":\"html\"}}]}");
    req("POST", "/v1/chat/completions", CHAT, 5000, &r);
    assert_string_equal(thttp_header(&r, "Content-Type", v, sizeof v), "text/html");
    thttp_resp_free(&r);
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"malformed\",\"what\":\"json\"}}]}");
    req("POST", "/v1/chat/completions", CHAT, 5000, &r);
    assert_int_equal(r.status, 200);
    assert_null(json_loads(r.body, 0, NULL));
    thttp_resp_free(&r);
}

/* The journal agrees with what the client saw: ids, user, attempt, env,
 * statuses, in order, with `since` paging. */
static void test_journal_agrees(void **state)
{
    put_behavior(
        "{\"rules\":[{\"name\":\"seq\",\"when\":{\"sequence\":[\"503\",\"ok\",\"reset\"]}}]}");
    long seen[3];
    CURLcode rcs[3];
    for (int i = 0; i < 3; i++) {
        char u[512], h1[64], h2[32], h3[32], body[256];
        snprintf(h1, sizeof h1, "X-Request-ID: rid-%d", i);
        snprintf(h2, sizeof h2, "X-Attempt: %d", i + 1);
        snprintf(h3, sizeof h3, "X-Env: %s", i == 1 ? "green" : "blue");
        const char *hdrs[] = {h1, h2, h3, "Authorization: Bearer sk-secret-123", NULL};
        snprintf(body, sizeof body,
                 "{\"model\":\"gpt-4.1\",\"user\":\"rid-%d\",\"messages\":[{\"role\":\"user\","
                 "\"content\":\"hi\"}]}",
                 i);
        url(u, sizeof u, "/v1/chat/completions");
        struct thttp_resp r;
        rcs[i] = thttp_request("POST", u, body, hdrs, 5000, &r);
        seen[i] = r.status;
        thttp_resp_free(&r);
    }
    assert_int_equal(seen[0], 503);
    assert_int_equal(seen[1], 200);
    assert_int_equal(rcs[2], CURLE_RECV_ERROR);
    json_t *a = records(3);
    assert_int_equal(json_array_size(a), 3);
    const char *ends[] = {"complete", "complete", "reset"};
    const char *actions[] = {"status", "ok", "reset"};
    for (size_t i = 0; i < 3; i++) {
        char want[16];
        snprintf(want, sizeof want, "rid-%zu", i);
        assert_string_equal(rec_s(a, i, "request_id"), want);
        assert_string_equal(rec_s(a, i, "user"), want);
        assert_int_equal(rec_i(a, i, "attempt"), (long long)i + 1);
        assert_string_equal(rec_s(a, i, "env"), i == 1 ? "green" : "blue");
        assert_string_equal(rec_s(a, i, "end"), ends[i]);
        assert_string_equal(rec_s(a, i, "action"), actions[i]);
        assert_string_equal(rec_s(a, i, "rule"), "seq");
        assert_int_equal(rec_i(a, i, "status"), i < 2 ? seen[i] : 0);
        assert_true(json_is_true(json_object_get(json_array_get(a, i), "auth")));
        assert_true(rec_i(a, i, "t_done_us") >= rec_i(a, i, "t_arrival_us"));
        /* What reached the upstream: a connection serial (one per request
         * here: each came on its own connection), the messages' hash, no
         * max_tokens, and no key verdict (this mock was given no key). */
        assert_true(rec_i(a, i, "conn") > 0);
        if (i)
            assert_true(rec_i(a, i, "conn") != rec_i(a, i - 1, "conn"));
        json_t *o = json_array_get(a, i);
        assert_true(json_is_null(json_object_get(o, "key")));
        assert_true(json_is_null(json_object_get(o, "max_tokens")));
        assert_int_equal(strlen(rec_s(a, i, "messages_hash")), 16);
    }
    assert_string_equal(rec_s(a, 0, "messages_hash"), rec_s(a, 1, "messages_hash"));
    /* The key itself is recorded nowhere. */
    char *dump = json_dumps(a, 0);
    assert_null(strstr(dump, "sk-secret"));
    free(dump);
    long long s2 = rec_i(a, 2, "seq");
    json_decref(a);
    json_t *j = journal((uint64_t)s2);
    assert_int_equal(json_array_size(json_object_get(j, "records")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "next")), s2 + 1);
    assert_int_equal(json_integer_value(json_object_get(j, "dropped")), 0);
    json_decref(j);
    struct thttp_resp r;
    req("GET", "/_mock/journal?since=0&limit=1", NULL, 5000, &r);
    j = json_loads(r.body, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "records")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "next")), 1);
    json_decref(j);
    thttp_resp_free(&r);
    req("GET", "/_mock/journal?limit=-1", NULL, 5000, &r);
    assert_int_equal(r.status, 400);
    thttp_resp_free(&r);
}

/* A request struct is reused after the one before it completes: a request
 * that carries nothing must journal nothing of the one before (every field
 * starts empty again). */
static void test_journal_fields_not_carried_over(void **state)
{
    put_behavior("{}");
    const char *full[] = {"X-Request-ID: carried-id", "X-Attempt: 7", "X-Env: green",
                          "Authorization: Bearer k", NULL};
    const char *none[] = {NULL};
    const char *bodies[] = {"{\"model\":\"gpt-4.1\",\"user\":\"carried-user\",\"max_tokens\":3,"
                            "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                            "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"};
    for (int i = 0; i < 2; i++) {
        char u[512];
        url(u, sizeof u, "/v1/chat/completions");
        struct thttp_resp r;
        assert_int_equal(thttp_request("POST", u, bodies[i], i ? none : full, 5000, &r), CURLE_OK);
        assert_int_equal(r.status, 200);
        thttp_resp_free(&r);
    }
    json_t *a = records(2);
    assert_int_equal(json_array_size(a), 2);
    assert_string_equal(rec_s(a, 0, "request_id"), "carried-id");
    assert_int_equal(rec_i(a, 0, "max_tokens"), 3);
    json_t *o = json_array_get(a, 1);
    static const char *const empty[] = {"request_id", "id_via", "user",      "attempt",
                                        "env",        "rule",   "max_tokens"};
    for (size_t k = 0; k < sizeof empty / sizeof empty[0]; k++)
        if (!json_is_null(json_object_get(o, empty[k])))
            fail_msg("%s carried over: %s", empty[k],
                     json_dumps(json_object_get(o, empty[k]), JSON_ENCODE_ANY));
    assert_true(json_is_false(json_object_get(o, "auth")));
    assert_string_equal(rec_s(a, 1, "model"), "mock-model");
    assert_int_equal(rec_i(a, 1, "chunks"), 0);
    json_decref(a);
}

/* A reused request struct keeps its body buffer (bounded): a short body
 * after a long one is read as itself, never with the long one's tail, and
 * a short broken body after a long valid one is still refused. */
static void test_body_buffer_not_carried_over(void **state)
{
    put_behavior("{}");
    char *longb = malloc(9000);
    snprintf(longb, 9000, "{\"messages\":[{\"role\":\"user\",\"content\":\"%08000d\"}]}", 0);
    const char *bodies[] = {longb, "{\"messages\":[{\"role\":\"user\",\"content\":\"ab\"}]}", longb,
                            "{\"messages\":"};
    const long want[] = {200, 200, 200, 400};
    for (int i = 0; i < 4; i++) {
        char u[512];
        url(u, sizeof u, "/v1/chat/completions");
        struct thttp_resp r;
        assert_int_equal(thttp_request("POST", u, bodies[i], NULL, 5000, &r), CURLE_OK);
        assert_int_equal(r.status, want[i]);
        if (i == 1) {
            json_t *j = json_loads(r.body, 0, NULL);
            json_t *usage = json_object_get(j, "usage");
            assert_int_equal(json_integer_value(json_object_get(usage, "prompt_tokens")), 1);
            json_decref(j);
        }
        thttp_resp_free(&r);
    }
    free(longb);
    json_t *a = records(4);
    assert_int_equal(json_array_size(a), 4);
    assert_int_equal(rec_i(a, 0, "prompt_chars"), 8000);
    assert_int_equal(rec_i(a, 1, "prompt_chars"), 2);
    assert_int_equal(rec_i(a, 1, "messages"), 1);
    assert_string_equal(rec_s(a, 3, "action"), "bad_request");
    json_decref(a);
}

/* The same seed and the same request sequence give the same decisions. */
static void test_seeded_determinism(void **state)
{
    const char *b = "{\"rules\":[{\"when\":{\"p\":0.5},\"action\":{\"type\":\"status\","
                    "\"code\":503}}]}";
    long first[24], second[24];
    for (int round = 0; round < 2; round++) {
        put_behavior(b); /* put_behavior resets first: the RNG restarts from the seed */
        for (int i = 0; i < 24; i++) {
            struct thttp_resp r;
            req("POST", "/v1/chat/completions", CHAT, 5000, &r);
            (round ? second : first)[i] = r.status;
            thttp_resp_free(&r);
        }
    }
    assert_memory_equal(first, second, sizeof first);
    int fails = 0;
    for (int i = 0; i < 24; i++)
        fails += first[i] == 503;
    assert_true(fails > 0 && fails < 24);
}

static long threads_of(pid_t pid)
{
    char p[64], line[256];
    long n = -1;
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %ld", &n) == 1)
            break;
    fclose(f);
    return n;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    return size * n;
}

/* Many concurrent delayed requests: one thread, all answered after the delay. */
static void test_concurrent_delays_one_thread(void **state)
{
    enum { N = 300 };
    put_behavior("{\"latency\":{\"fixed_ms\":300}}");
    CURLM *multi = curl_multi_init();
    CURL *easy[N];
    char u[512];
    url(u, sizeof u, "/v1/chat/completions");
    for (int i = 0; i < N; i++) {
        easy[i] = curl_easy_init();
        curl_easy_setopt(easy[i], CURLOPT_URL, u);
        curl_easy_setopt(easy[i], CURLOPT_POSTFIELDS, CHAT);
        curl_easy_setopt(easy[i], CURLOPT_TIMEOUT_MS, 10000L);
        curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, discard);
        curl_multi_add_handle(multi, easy[i]);
    }
    uint64_t t0 = co_clock_monotonic_us();
    long max_threads = 0;
    int running = 1;
    while (running && co_clock_monotonic_us() - t0 < 15000000) {
        curl_multi_perform(multi, &running);
        curl_multi_poll(multi, NULL, 0, 20, NULL);
        long t = threads_of(mock.pid);
        if (t > max_threads)
            max_threads = t;
    }
    double elapsed = (double)(co_clock_monotonic_us() - t0) / 1e6;
    int ok = 0;
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(multi, &left))) {
        long st = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &st);
        ok += m->data.result == CURLE_OK && st == 200;
    }
    for (int i = 0; i < N; i++) {
        curl_multi_remove_handle(multi, easy[i]);
        curl_easy_cleanup(easy[i]);
    }
    curl_multi_cleanup(multi);
    assert_int_equal(ok, N);
    assert_int_equal(max_threads, 1);
    assert_true(elapsed >= 0.3);
    assert_true(elapsed < 0.3 * 10);
}

/* Proxy mode: a second mock forwards to the first unless one of its own
 * rules fires. */
static void test_proxy_mode(void **state)
{
    put_behavior("{\"reply\":{\"tokens\":5}}");
    struct tproc px;
    char *argv[] = {(char *)tsup_bin("cutover"),
                    "mock",
                    "--name",
                    "px",
                    "--port",
                    "0",
                    "--upstream",
                    base,
                    NULL};
    assert_int_equal(tproc_spawn(&px, argv), 0);
    assert_int_equal(tproc_wait_url(&px, 10000), 0);
    char u[512], v[64];
    const char *hdrs[] = {"X-Request-ID: via-proxy", NULL};
    struct thttp_resp direct, r;
    req("POST", "/v1/chat/completions", CHAT, 5000, &direct);
    snprintf(u, sizeof u, "%s/v1/chat/completions", px.url);
    assert_int_equal(thttp_request("POST", u, CHAT, hdrs, 5000, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    /* Same request, same reply text: the body came from the upstream. */
    json_t *a = json_loads(direct.body, 0, NULL), *b = json_loads(r.body, 0, NULL);
    assert_non_null(b);
    assert_true(json_equal(json_object_get(a, "choices"), json_object_get(b, "choices")));
    json_decref(a);
    json_decref(b);
    thttp_resp_free(&direct);
    thttp_resp_free(&r);
    json_t *recs = records(2);
    assert_string_equal(rec_s(recs, 1, "request_id"), "via-proxy");
    json_decref(recs);

    /* The upstream's status and Retry-After pass through. */
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"status\",\"code\":429,"
                 "\"retry_after_s\":3}}]}");
    thttp_request("POST", u, CHAT, NULL, 5000, &r);
    check_error(&r, 429, NULL);
    assert_string_equal(thttp_header(&r, "Retry-After", v, sizeof v), "3");
    thttp_resp_free(&r);

    /* A rule on the proxy answers locally: the upstream never sees it. */
    char pu[512];
    snprintf(pu, sizeof pu, "%s/_mock/behavior", px.url);
    thttp_request("PUT", pu, "{\"rules\":[{\"action\":{\"type\":\"status\",\"code\":503}}]}", NULL,
                  5000, &r);
    assert_int_equal(r.status, 200);
    thttp_resp_free(&r);
    put_behavior("{}");
    thttp_request("POST", u, CHAT, NULL, 5000, &r);
    check_error(&r, 503, NULL);
    thttp_resp_free(&r);
    recs = records(0);
    assert_int_equal(json_array_size(recs), 0);
    json_decref(recs);
    int st = tproc_stop(&px, SIGTERM, 5000);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    /* An upstream that is not there: 502 with OpenAI's envelope. */
    char *argv2[] = {(char *)tsup_bin("cutover"), "mock", "--port", "0", "--upstream",
                     "http://127.0.0.1:1",        NULL};
    assert_int_equal(tproc_spawn(&px, argv2), 0);
    assert_int_equal(tproc_wait_url(&px, 10000), 0);
    snprintf(u, sizeof u, "%s/v1/chat/completions", px.url);
    thttp_request("POST", u, CHAT, NULL, 5000, &r);
    check_error(&r, 502, "Upstream failed");
    thttp_resp_free(&r);
    tproc_stop(&px, SIGTERM, 5000);
}

/* Runs `cutover mock ARGS...` to its exit (bounded: 10 s, then killed) and
 * returns the wait status; its stderr goes to err. */
static int run_cli(char *const argv[], char *err, size_t errlen)
{
    struct tproc p;
    int st = -1;
    if (tproc_spawn(&p, argv) != 0)
        return -1;
    st = tproc_wait_exit(&p, 10000);
    char *e = tproc_read(&p, 2);
    snprintf(err, errlen, "%s", e);
    free(e);
    tproc_stop(&p, SIGKILL, 1000); /* kills it if still running; removes the files */
    return st;
}

static void test_cli_options(void **state)
{
    char err[1024], port[16], path[] = "/tmp/cutover-mock-test-XXXXXX";
    /* The port is taken: exit 3 with the reason. */
    snprintf(port, sizeof port, "%s", strrchr(base, ':') + 1);
    char *busy[] = {(char *)tsup_bin("cutover"), "mock", "--port", port, NULL};
    int st = run_cli(busy, err, sizeof err);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 3);
    assert_non_null(strstr(err, "cannot listen"));
    /* A bad behaviour file: exit 2 with the file and the JSON path. */
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *bad = "{\"rules\":[{\"action\":{\"type\":\"stall\"}}]}";
    assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    char *badb[] = {(char *)tsup_bin("cutover"), "mock", "--port", "0", "--behavior", path, NULL};
    st = run_cli(badb, err, sizeof err);
    assert_int_equal(WEXITSTATUS(st), 2);
    assert_non_null(strstr(err, "$.rules[0].action.stall_ms"));
    assert_non_null(strstr(err, path));
    unlink(path);
    /* A good one is applied from the first request. */
    char good_path[] = "/tmp/cutover-mock-test-XXXXXX";
    fd = mkstemp(good_path);
    const char *good = "{\"rules\":[{\"action\":{\"type\":\"status\",\"code\":418}}]}";
    assert_int_equal(write(fd, good, strlen(good)), (ssize_t)strlen(good));
    close(fd);
    struct tproc g;
    char *goodb[] = {
        (char *)tsup_bin("cutover"), "mock", "--port", "0", "--behavior", good_path, NULL};
    assert_int_equal(tproc_spawn(&g, goodb), 0);
    assert_int_equal(tproc_wait_url(&g, 10000), 0);
    char u[300];
    struct thttp_resp r;
    snprintf(u, sizeof u, "%s/v1/chat/completions", g.url);
    thttp_request("POST", u, CHAT, NULL, 5000, &r);
    assert_int_equal(r.status, 418);
    thttp_resp_free(&r);
    tproc_stop(&g, SIGTERM, 5000);
    unlink(good_path);
    char *badport[] = {(char *)tsup_bin("cutover"), "mock", "--port", "70000", NULL};
    st = run_cli(badport, err, sizeof err);
    assert_int_equal(WEXITSTATUS(st), 2);
    char *extra[] = {(char *)tsup_bin("cutover"), "mock", "stray", NULL};
    st = run_cli(extra, err, sizeof err);
    assert_int_equal(WEXITSTATUS(st), 2);
}

/* SIGTERM with a request held forever: exit 0, promptly. */
static void test_sigterm_exits_cleanly(void **state)
{
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"timeout\"}}]}");
    CURLM *multi = curl_multi_init();
    CURL *e = curl_easy_init();
    char u[512];
    url(u, sizeof u, "/v1/chat/completions");
    curl_easy_setopt(e, CURLOPT_URL, u);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, CHAT);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_multi_add_handle(multi, e);
    int running = 1;
    uint64_t t0 = co_clock_monotonic_us();
    while (co_clock_monotonic_us() - t0 < 200000) {
        curl_multi_perform(multi, &running);
        curl_multi_poll(multi, NULL, 0, 20, NULL);
    }
    /* Keep the stderr file open: tproc_stop unlinks it, and under SAN=1 the
     * sanitizers report leaks and errors there at exit. */
    FILE *errf = fopen(mock.err_path, "r");
    t0 = co_clock_monotonic_us();
    int st = tproc_stop(&mock, SIGTERM, 5000);
    uint64_t took = co_clock_monotonic_us() - t0;
    char err[4096] = "";
    if (errf) {
        size_t n = fread(err, 1, sizeof err - 1, errf);
        err[n] = '\0';
        fclose(errf);
    }
    if (strstr(err, "Sanitizer") || strstr(err, "runtime error"))
        fail_msg("mock stderr: %s", err);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_true(took < 2000000);
    curl_multi_remove_handle(multi, e);
    curl_easy_cleanup(e);
    curl_multi_cleanup(multi);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_banner_and_endpoints),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_chat_json_and_sse),
        cmocka_unit_test(test_status_headers),
        cmocka_unit_test(test_rate_limiter),
        cmocka_unit_test(test_reset_close),
        cmocka_unit_test(test_cut),
        cmocka_unit_test(test_timeouts_and_delays),
        cmocka_unit_test(test_inband_and_malformed),
        cmocka_unit_test(test_journal_agrees),
        cmocka_unit_test(test_journal_fields_not_carried_over),
        cmocka_unit_test(test_body_buffer_not_carried_over),
        cmocka_unit_test(test_seeded_determinism),
        cmocka_unit_test(test_concurrent_delays_one_thread),
        cmocka_unit_test(test_proxy_mode),
        cmocka_unit_test(test_cli_options),
        cmocka_unit_test(test_no_done),
        cmocka_unit_test(test_hold_body),
        cmocka_unit_test(test_stall_continue_non_streamed),
        cmocka_unit_test(test_ready_probe_marked),
        cmocka_unit_test(test_sigterm_exits_cleanly), /* last: it stops the mock */
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
