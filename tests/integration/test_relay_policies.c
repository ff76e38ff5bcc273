/* Integration: the relay's policies (docs/relay.md, "Policies") through the
 * real binaries: a stream that ends after its finish_reason without [DONE]
 * (complete under stream_done lenient, an in-band error under strict), a
 * cut before the finish_reason (an error either way), first_byte_timeout_ms
 * against an upstream that sends its headers and then nothing, a 429
 * without Retry-After moved to the other colour, and fail-back to the
 * primary in primary-fallback mode (and none in blue-green mode). */
#include "relay_fixture.h"

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static json_t *get_json(const char *path)
{
    char u[300];
    struct thttp_resp r;
    snprintf(u, sizeof u, "%s%s", F.relay_url, path);
    assert_int_equal(thttp_request("GET", u, NULL, NULL, 5000, &r), CURLE_OK);
    json_t *j = json_loads(r.body ? r.body : "", 0, NULL);
    thttp_resp_free(&r);
    assert_non_null(j);
    return j;
}

static long long policy_count(const char *action)
{
    json_t *m = get_json("/api/metrics");
    long long n = jint(json_object_get(json_object_get(m, "policies"), "counts"), action);
    json_decref(m);
    return n;
}

/* The last attempt event of request id. */
static json_t *last_attempt(const char *id)
{
    json_t *ev = fx_events(&F), *out = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(ev, i, e)
    {
        if (strcmp(jstr(e, "type"), "attempt") == 0 && strcmp(jstr(e, "request_id"), id) == 0)
            out = e;
    }
    json_incref(out);
    json_decref(ev);
    return out;
}

static void test_no_done_after_finish_is_complete(void **state)
{
    assert_int_equal(fx_start_relay(&F, "\"health_interval_ms\": 0"), 0);
    assert_int_equal(
        tmock_put_behavior(F.url[0], "{\"rules\":[{\"action\":{\"type\":\"no_done\"}}]}"), 0);
    struct thttp_resp r;
    assert_int_equal(fx_chat(&F, "pol-nodone", 1, 10000, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    /* Every token and the finish_reason came from blue; the relay adds the
     * [DONE] blue left out, and no error event. */
    assert_non_null(strstr(r.body, "\"finish_reason\":\"stop\""));
    assert_int_equal(count(r.body, "data: [DONE]"), 1);
    assert_null(strstr(r.body, "\"error\""));
    /* As the last, whole event. */
    const char *done = "\n\ndata: [DONE]\n\n";
    size_t len = strlen(r.body);
    assert_true(len > strlen(done) && strcmp(r.body + len - strlen(done), done) == 0);
    thttp_resp_free(&r);
    assert_int_equal(fx_wait_event(&F, "request", "request_id", "pol-nodone", 2000), 0);
    json_t *a = last_attempt("pol-nodone");
    assert_string_equal(jstr(a, "outcome"), "ok");
    json_decref(a);
    assert_int_equal(fx_count_events(&F, "switch", NULL, NULL), 0);
    assert_int_equal(policy_count("done_added"), 1);
    /* A second stream: still blue (no switch), still complete. */
    assert_int_equal(fx_chat(&F, "pol-nodone-2", 1, 10000, &r), CURLE_OK);
    char v[16];
    assert_string_equal(thttp_header(&r, "X-Served-By", v, sizeof v), "blue");
    assert_int_equal(count(r.body, "data: [DONE]"), 1);
    thttp_resp_free(&r);
}

static void test_no_done_strict_is_an_error(void **state)
{
    assert_int_equal(fx_start_relay(&F, "\"health_interval_ms\": 0, \"stream_done\": \"strict\", "
                                        "\"switch_after_failures\": 1000"),
                     0);
    assert_int_equal(
        tmock_put_behavior(F.url[0], "{\"rules\":[{\"action\":{\"type\":\"no_done\"}}]}"), 0);
    struct thttp_resp r;
    assert_int_equal(fx_chat(&F, "pol-strict", 1, 10000, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(count(r.body, "data: [DONE]"), 0);
    assert_non_null(strstr(r.body, "stream_truncated"));
    thttp_resp_free(&r);
    assert_int_equal(policy_count("done_added"), 0);
}

static void test_cut_before_finish_is_an_error(void **state)
{
    /* Lenient (the default) still refuses a stream cut before any
     * finish_reason: half an answer is not an answer. */
    assert_int_equal(
        fx_start_relay(&F, "\"health_interval_ms\": 0, \"switch_after_failures\": 1000"), 0);
    assert_int_equal(tmock_put_behavior(F.url[0], "{\"rules\":[{\"action\":{\"type\":\"cut\","
                                                  "\"after_chunks\":3}}]}"),
                     0);
    struct thttp_resp r;
    assert_int_equal(fx_chat(&F, "pol-cut", 1, 10000, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(count(r.body, "data: [DONE]"), 0);
    assert_null(strstr(r.body, "\"finish_reason\":\"stop\""));
    const char *e = strstr(r.body, "data: {\"error\":");
    assert_non_null(e);
    assert_non_null(strstr(e, "stream_truncated"));
    assert_non_null(strstr(e, "without a finish_reason"));
    thttp_resp_free(&r);
    assert_int_equal(policy_count("done_added"), 0);
}

/* Blue answers 200 with its headers at once, then holds the body 3 s. */
static const char *const HOLD =
    "{\"rules\":[{\"action\":{\"type\":\"hold_body\",\"hold_ms\":3000}}]}";

static void first_byte_fails_over(int stream, const char *id)
{
    struct thttp_resp r;
    uint64_t t0 = co_clock_monotonic_us();
    assert_int_equal(fx_chat(&F, id, stream, 10000, &r), CURLE_OK);
    uint64_t took = co_clock_monotonic_us() - t0;
    assert_int_equal(r.status, 200);
    char v[16];
    assert_string_equal(thttp_header(&r, "X-Served-By", v, sizeof v), "green");
    assert_int_equal(fx_header_long(&r, "X-Attempts"), 2);
    thttp_resp_free(&r);
    /* Abandoned at 200 ms, not at blue's 3 s or the 30 s try timeout. */
    assert_true(took >= 200000);
    assert_true(took < 200000 + 300000 * FX_SLACK / 2);
    json_t *ev = fx_events(&F);
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(ev, i, e)
    {
        if (strcmp(jstr(e, "type"), "attempt") != 0 || strcmp(jstr(e, "request_id"), id) != 0)
            continue;
        if (n++ == 0) {
            assert_string_equal(jstr(e, "env"), "blue");
            assert_string_equal(jstr(e, "error"), "first_byte_timeout");
            assert_int_equal(jint(e, "status"), 200); /* the headers had come */
            assert_string_equal(jstr(e, "outcome"), "failover");
        }
    }
    json_decref(ev);
    assert_int_equal(n, 2);
}

static void test_first_byte_timeout_fails_over(void **state)
{
    assert_int_equal(fx_start_relay(&F, "\"health_interval_ms\": 0, \"backoff_base_ms\": 1, "
                                        "\"jitter\": \"none\", \"switch_after_failures\": 1000, "
                                        "\"first_byte_timeout_ms\": 200"),
                     0);
    assert_int_equal(tmock_put_behavior(F.url[0], HOLD), 0);
    first_byte_fails_over(1, "pol-fb-stream");
    first_byte_fails_over(0, "pol-fb-json");
    assert_int_equal(policy_count("first_byte_timeout"), 2);
}

static void test_headers_satisfy_ttfb_but_not_first_byte(void **state)
{
    /* Without first_byte_timeout_ms, the same upstream is waited for: its
     * headers meet ttfb_timeout_ms, and a non-stream answer has no idle
     * timeout.  (This is the gap the setting closes.) */
    assert_int_equal(fx_start_relay(&F, "\"health_interval_ms\": 0, \"ttfb_timeout_ms\": 200"), 0);
    assert_int_equal(tmock_put_behavior(F.url[0], "{\"rules\":[{\"action\":{\"type\":"
                                                  "\"hold_body\",\"hold_ms\":600}}]}"),
                     0);
    struct thttp_resp r;
    uint64_t t0 = co_clock_monotonic_us();
    assert_int_equal(fx_chat(&F, "pol-hdr", 0, 10000, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    char v[16];
    assert_string_equal(thttp_header(&r, "X-Served-By", v, sizeof v), "blue");
    assert_true(co_clock_monotonic_us() - t0 >= 600000);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_non_null(j); /* the whole body came after the hold */
    json_decref(j);
    thttp_resp_free(&r);
}

static void test_quota_429_fails_over_when_set(void **state)
{
    /* A long backoff: a quota failover does not sleep it. */
    assert_int_equal(fx_start_relay(&F, "\"health_interval_ms\": 0, \"backoff_base_ms\": 2000, "
                                        "\"jitter\": \"none\", "
                                        "\"on_429_without_retry_after\": \"failover\""),
                     0);
    assert_int_equal(tmock_put_behavior(F.url[0], "{\"rules\":[{\"action\":{\"type\":\"status\","
                                                  "\"code\":429}}]}"),
                     0);
    for (int i = 0; i < 2; i++) {
        char id[32];
        snprintf(id, sizeof id, "pol-429-%d", i);
        struct thttp_resp r;
        uint64_t t0 = co_clock_monotonic_us();
        assert_int_equal(fx_chat(&F, id, 0, 10000, &r), CURLE_OK);
        assert_true(co_clock_monotonic_us() - t0 < 2000000);
        assert_int_equal(r.status, 200);
        char v[16];
        assert_string_equal(thttp_header(&r, "X-Served-By", v, sizeof v), "green");
        assert_int_equal(fx_header_long(&r, "X-Attempts"), 2);
        thttp_resp_free(&r);
    }
    /* A quota is not an outage: each request asks blue first, no switch. */
    assert_int_equal(fx_count_events(&F, "switch", NULL, NULL), 0);
    json_t *jb = fx_journal(F.url[0]);
    assert_int_equal(json_array_size(jb), 2);
    json_decref(jb);
    assert_int_equal(policy_count("quota_failover"), 2);
}

static void test_quota_429_both_colours_backs_off(void **state)
{
    /* Both colours out of quota: after blue and green, the third attempt
     * waits the backoff (no alternating hammering). */
    assert_int_equal(fx_start_relay(&F, "\"health_interval_ms\": 0, \"backoff_base_ms\": 300, "
                                        "\"jitter\": \"none\", \"max_attempts\": 3, "
                                        "\"on_429_without_retry_after\": \"failover\""),
                     0);
    for (int c = 0; c < 2; c++)
        assert_int_equal(tmock_put_behavior(F.url[c], "{\"rules\":[{\"action\":{\"type\":"
                                                      "\"status\",\"code\":429}}]}"),
                         0);
    struct thttp_resp r;
    uint64_t t0 = co_clock_monotonic_us();
    assert_int_equal(fx_chat(&F, "pol-429-both", 0, 10000, &r), CURLE_OK);
    assert_int_equal(r.status, 429);
    assert_int_equal(fx_header_long(&r, "X-Attempts"), 3);
    thttp_resp_free(&r);
    assert_true(co_clock_monotonic_us() - t0 >= 600000); /* base 300 ms · 2^1 */
}

/* Blue fails (traffic and health) until healed, with checks every 100 ms. */
static void fail_blue_then_heal(void)
{
    assert_int_equal(
        tmock_put_behavior(F.url[0], "{\"rules\":[{\"action\":{\"type\":\"status\",\"code\":503}}],"
                                     "\"health\":{\"rules\":[{\"action\":{\"type\":\"status\","
                                     "\"code\":503}}]}}"),
        0);
    assert_int_equal(fx_wait_event(&F, "switch", "to", "green", 3000), 0);
    struct thttp_resp r;
    assert_int_equal(fx_chat(&F, "pol-fallback", 0, 10000, &r), CURLE_OK);
    char v[16];
    assert_string_equal(thttp_header(&r, "X-Served-By", v, sizeof v), "green");
    thttp_resp_free(&r);
    assert_int_equal(tmock_put_behavior(F.url[0], "{}"), 0);
}

static void test_failback_in_primary_fallback_mode(void **state)
{
    assert_int_equal(fx_start_relay(&F, "\"health_interval_ms\": 100, \"mode\": "
                                        "\"primary-fallback\", \"primary\": \"blue\", "
                                        "\"failback_after_ms\": 800, \"failback_rise\": 3"),
                     0);
    json_t *h = get_json("/health");
    assert_string_equal(jstr(h, "mode"), "primary-fallback");
    assert_string_equal(jstr(h, "primary"), "blue");
    assert_true(json_is_true(json_object_get(h, "on_primary")));
    json_decref(h);
    uint64_t t0 = co_clock_monotonic_us();
    fail_blue_then_heal();
    assert_int_equal(fx_wait_event(&F, "switch", "reason", "failback", 5000), 0);
    /* Not before failback_after_ms on green. */
    json_t *ev = fx_events(&F);
    uint64_t t_away = 0, t_back = 0;
    size_t i;
    json_t *e;
    json_array_foreach(ev, i, e)
    {
        if (strcmp(jstr(e, "type"), "switch") != 0)
            continue;
        if (strcmp(jstr(e, "to"), "green") == 0 && !t_away)
            t_away = (uint64_t)jint(e, "t_us");
        if (strcmp(jstr(e, "reason"), "failback") == 0) {
            t_back = (uint64_t)jint(e, "t_us");
            assert_string_equal(jstr(e, "from"), "green");
            assert_string_equal(jstr(e, "to"), "blue");
            assert_int_equal(jint(e, "checks"), 3);
            assert_true(jint(e, "on_fallback_ms") >= 800);
        }
    }
    json_decref(ev);
    assert_true(t_away > t0 && t_back > t_away);
    assert_true(t_back - t_away >= 800000);
    h = get_json("/health");
    assert_string_equal(jstr(h, "active_env"), "blue");
    assert_true(json_is_true(json_object_get(h, "on_primary")));
    json_decref(h);
    struct thttp_resp r;
    assert_int_equal(fx_chat(&F, "pol-back", 0, 10000, &r), CURLE_OK);
    char v[16];
    assert_string_equal(thttp_header(&r, "X-Served-By", v, sizeof v), "blue");
    thttp_resp_free(&r);
    assert_int_equal(policy_count("failback"), 1);
}

/* Polls until blue's health event says healthy again. */
static int wait_blue_healthy(int timeout_ms)
{
    uint64_t end = co_clock_monotonic_us() + (uint64_t)timeout_ms * 1000;
    do {
        json_t *ev = fx_events(&F);
        size_t i;
        json_t *e;
        int seen = 0;
        json_array_foreach(ev, i, e) seen |= strcmp(jstr(e, "type"), "health") == 0 &&
                                             strcmp(jstr(e, "env"), "blue") == 0 &&
                                             json_is_true(json_object_get(e, "healthy"));
        json_decref(ev);
        if (seen)
            return 0;
        co_sleep_us(10000);
    } while (co_clock_monotonic_us() < end);
    return -1;
}

static void test_no_failback_in_blue_green_mode(void **state)
{
    assert_int_equal(fx_start_relay(&F, "\"health_interval_ms\": 100, \"failback_after_ms\": 200, "
                                        "\"failback_rise\": 1"),
                     0);
    fail_blue_then_heal();
    /* Blue is healthy again (its health event says so), and stays unused. */
    assert_int_equal(wait_blue_healthy(3000), 0);
    co_sleep_us(1000000); /* five times failback_after_ms, ten checks */
    assert_int_equal(fx_count_events(&F, "switch", NULL, NULL), 1);
    json_t *h = get_json("/health");
    assert_string_equal(jstr(h, "mode"), "blue-green");
    assert_string_equal(jstr(h, "active_env"), "green");
    assert_null(json_object_get(h, "primary"));
    json_decref(h);
}

static void test_policies_in_api_metrics(void **state)
{
    assert_int_equal(fx_start_relay(&F, "\"health_interval_ms\": 0, \"stream_done\": \"strict\", "
                                        "\"first_byte_timeout_ms\": 1500, "
                                        "\"on_429_without_retry_after\": \"failover\""),
                     0);
    json_t *m = get_json("/api/metrics");
    json_t *p = json_object_get(m, "policies");
    assert_string_equal(jstr(p, "mode"), "blue-green");
    assert_string_equal(jstr(p, "stream_done"), "strict");
    assert_int_equal(jint(p, "first_byte_timeout_ms"), 1500);
    assert_string_equal(jstr(p, "on_429_without_retry_after"), "failover");
    assert_int_equal(json_object_size(json_object_get(p, "counts")), 4);
    json_decref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_done_after_finish_is_complete, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_no_done_strict_is_an_error, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_cut_before_finish_is_an_error, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_first_byte_timeout_fails_over, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_headers_satisfy_ttfb_but_not_first_byte, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_quota_429_fails_over_when_set, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_quota_429_both_colours_backs_off, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_failback_in_primary_fallback_mode, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_no_failback_in_blue_green_mode, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_policies_in_api_metrics, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, fx_group_setup, fx_group_teardown);
}
