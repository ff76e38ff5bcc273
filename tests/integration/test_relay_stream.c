/* Integration: streaming through the relay.  Passed through as it arrives
 * (first byte long before the last), [DONE] kept; a cut, a reset or a stall
 * after the first byte becomes an in-band error event with a clean end and
 * no retry; a reset before the first byte is retried on the other colour. */
#include "relay_fixture.h"

static int group_setup(void **state)
{
    if (fx_start_mocks(&F) != 0)
        return -1;
    return fx_start_relay(&F, "\"backoff_base_ms\": 10, \"jitter\": \"none\", "
                              "\"idle_timeout_ms\": 300, \"health_interval_ms\": 0, "
                              "\"switch_after_failures\": 1000");
}

struct sresp {
    long status;
    char *body;
    double ttfb_s, total_s;
};

static size_t sink(char *p, size_t s, size_t n, void *u)
{
    struct co_buf_like {
        char *d;
        size_t len;
    } *b = u;
    b->d = co_realloc(b->d, b->len + s * n + 1);
    memcpy(b->d + b->len, p, s * n);
    b->len += s * n;
    b->d[b->len] = 0;
    return s * n;
}

/* A stream request, timing the first byte as curl sees it. */
static void stream_req(const char *id, struct sresp *out)
{
    struct {
        char *d;
        size_t len;
    } b = {NULL, 0};
    char u[300], body[300], hid[100];
    snprintf(u, sizeof u, "%s/v1/chat/completions", F.relay_url);
    snprintf(body, sizeof body,
             "{\"model\":\"gpt-4.1\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":"
             "\"hi\"}],\"user\":\"%s\"}",
             id);
    snprintf(hid, sizeof hid, "X-Request-ID: %s", id);
    struct curl_slist *h = curl_slist_append(NULL, hid);
    h = curl_slist_append(h, "Content-Type: application/json");
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, u);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 15000L);
    CURLcode rc = curl_easy_perform(e);
    assert_int_equal(rc, CURLE_OK); /* a clean end, even when the upstream broke */
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_getinfo(e, CURLINFO_STARTTRANSFER_TIME, &out->ttfb_s);
    curl_easy_getinfo(e, CURLINFO_TOTAL_TIME, &out->total_s);
    out->body = b.d ? b.d : co_strdup("");
    curl_easy_cleanup(e);
    curl_slist_free_all(h);
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_passthrough_incremental(void **state)
{
    /* 16 tokens 40 ms apart: the whole answer takes 600 ms or more. */
    assert_int_equal(tmock_put_behavior(F.url[0],
                                        "{\"rules\":[{\"action\":{\"type\":\"slow\",\"ttft_ms\":0,"
                                        "\"gap_ms\":40}}]}"),
                     0);
    struct sresp r;
    stream_req("st-1", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(count(r.body, "data: [DONE]"), 1);
    assert_null(strstr(r.body, "\"error\""));
    assert_true(count(r.body, "data: {") >= 16);
    assert_true(r.total_s >= 0.6);
    /* Not buffered whole: the first byte came well before the end. */
    assert_true(r.ttfb_s < r.total_s / 2);
    free(r.body);
}

static void expect_inband(const char *behavior, const char *id, const char *code)
{
    assert_int_equal(tmock_put_behavior(F.url[0], behavior), 0);
    struct sresp r;
    stream_req(id, &r);
    assert_int_equal(r.status, 200);
    /* Some data arrived, then an error event, and no [DONE]. */
    assert_true(count(r.body, "data: {\"id\"") >= 2);
    assert_int_equal(count(r.body, "data: [DONE]"), 0);
    const char *err = strstr(r.body, "data: {\"error\":");
    assert_non_null(err);
    assert_non_null(strstr(err, code));
    /* The error event is a whole event at the end. */
    size_t len = strlen(r.body);
    assert_true(len >= 2 && r.body[len - 1] == '\n' && r.body[len - 2] == '\n');
    free(r.body);
    /* No retry and no failover after the first byte: one attempt in the
     * events, nothing at green.  (A stalled mock journals its record only
     * when its stall ends, so blue's journal is not waited for.) */
    assert_int_equal(fx_wait_event(&F, "request", "request_id", id, 2000), 0);
    assert_int_equal(fx_count_events(&F, "attempt", "request_id", id), 1);
    json_t *jb = fx_journal(F.url[0]), *jg = fx_journal(F.url[1]);
    assert_true(json_array_size(jb) <= 1);
    assert_int_equal(json_array_size(jg), 0);
    json_decref(jb);
    json_decref(jg);
}

static void test_cut_becomes_inband_error(void **state)
{
    expect_inband("{\"rules\":[{\"action\":{\"type\":\"cut\",\"after_chunks\":3}}]}", "st-cut",
                  "stream_truncated");
}

static void test_broken_framing_becomes_inband_error(void **state)
{
    expect_inband(
        "{\"rules\":[{\"action\":{\"type\":\"cut\",\"after_chunks\":3,\"broken_framing\":true}}]}",
        "st-frame", "stream_");
}

static void test_reset_becomes_inband_error(void **state)
{
    expect_inband("{\"rules\":[{\"action\":{\"type\":\"reset\",\"after_chunks\":3}}]}", "st-reset",
                  "stream_reset");
}

static void test_stall_becomes_inband_error(void **state)
{
    uint64_t t0 = co_clock_monotonic_us();
    expect_inband(
        "{\"rules\":[{\"action\":{\"type\":\"stall\",\"after_chunks\":3,\"stall_ms\":5000}}]}",
        "st-stall", "stream_idle_timeout");
    uint64_t took = co_clock_monotonic_us() - t0;
    /* Ended by the 300 ms idle timeout, not by the 5 s stall. */
    assert_true(took >= 300000);
    assert_true(took < 3000000);
}

static void test_stream_usage_counts_tokens(void **state)
{
    char u[300];
    snprintf(u, sizeof u, "%s/v1/chat/completions", F.relay_url);
    const char *h[] = {"Content-Type: application/json", NULL};
    struct thttp_resp r;
    assert_int_equal(
        thttp_request("POST", u,
                      "{\"model\":\"deepseek-v3.2\",\"stream\":true,\"stream_options\":"
                      "{\"include_usage\":true},\"messages\":[{\"role\":\"user\","
                      "\"content\":\"hi\"}]}",
                      h, 10000, &r),
        CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"usage\":{"));
    thttp_resp_free(&r);
    snprintf(u, sizeof u, "%s/metrics", F.relay_url);
    assert_int_equal(thttp_request("GET", u, NULL, NULL, 5000, &r), CURLE_OK);
    const char *line =
        strstr(r.body, "holysheep_tokens_total{model=\"deepseek-v3.2\",kind=\"completion\"} ");
    assert_non_null(line);
    assert_true(strtol(strchr(line, '}') + 2, NULL, 10) > 0);
    assert_non_null(strstr(r.body, "holysheep_cost_usd_total{model=\"deepseek-v3.2\"}"));
    thttp_resp_free(&r);
}

static void test_reset_before_first_byte_is_retried(void **state)
{
    assert_int_equal(
        tmock_put_behavior(F.url[0], "{\"rules\":[{\"action\":{\"type\":\"reset\"}}]}"), 0);
    struct sresp r;
    stream_req("st-early", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(count(r.body, "data: [DONE]"), 1);
    assert_null(strstr(r.body, "\"error\""));
    free(r.body);
    /* Counted by request id: an earlier test's stalled request may still
     * land in blue's journal when its stall ends.  libcurl re-sends a request
     * once on a fresh connection when a reused one dies before any answer
     * byte, so blue may see attempt 1 twice. */
    json_t *jb = fx_journal(F.url[0]), *jg = fx_journal(F.url[1]);
    size_t i, nb = 0;
    json_t *rec;
    json_array_foreach(jb, i, rec) nb += strcmp(jstr(rec, "request_id"), "st-early") == 0;
    assert_true(nb >= 1 && nb <= 2);
    assert_int_equal(json_array_size(jg), 1);
    assert_string_equal(jstr(json_array_get(jg, 0), "request_id"), "st-early");
    assert_int_equal(jint(json_array_get(jg, 0), "attempt"), 2);
    json_decref(jb);
    json_decref(jg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_passthrough_incremental, fx_setup),
        cmocka_unit_test_setup(test_cut_becomes_inband_error, fx_setup),
        cmocka_unit_test_setup(test_broken_framing_becomes_inband_error, fx_setup),
        cmocka_unit_test_setup(test_reset_becomes_inband_error, fx_setup),
        cmocka_unit_test_setup(test_stall_becomes_inband_error, fx_setup),
        cmocka_unit_test_setup(test_stream_usage_counts_tokens, fx_setup),
        cmocka_unit_test_setup(test_reset_before_first_byte_is_retried, fx_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, fx_group_teardown);
}
