/* Integration: retries and failover against two live mocks, observed in the
 * mocks' journals and the relay's events.  Blue 503 and green serves; the
 * backoff gaps as the journals record them; 401 not retried; Retry-After
 * honoured, and failover instead of sleeping when it is above the cap;
 * connect errors; the upstream key never in events, logs or metrics. */
#include "relay_fixture.h"

static void test_blue_503_green_serves(void **state)
{
    assert_int_equal(fx_start_relay(&F, "\"backoff_base_ms\": 20, \"jitter\": \"none\", "
                                        "\"health_interval_ms\": 0"),
                     0);
    assert_int_equal(tmock_put_behavior(
                         F.url[0], "{\"rules\":[{\"action\":{\"type\":\"status\",\"code\":503}}]}"),
                     0);
    struct thttp_resp r;
    assert_int_equal(fx_chat(&F, "fo-1", 0, 10000, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    char v[64];
    assert_string_equal(thttp_header(&r, "X-Served-By", v, sizeof v), "green");
    assert_int_equal(fx_header_long(&r, "X-Attempts"), 2);
    assert_string_equal(thttp_header(&r, "X-Request-ID", v, sizeof v), "fo-1");
    assert_non_null(strstr(r.body, "chat.completion"));
    thttp_resp_free(&r);

    json_t *jb = fx_journal(F.url[0]), *jg = fx_journal(F.url[1]);
    assert_int_equal(json_array_size(jb), 1);
    assert_int_equal(json_array_size(jg), 1);
    json_t *b = json_array_get(jb, 0), *g = json_array_get(jg, 0);
    assert_string_equal(jstr(b, "request_id"), "fo-1");
    assert_string_equal(jstr(g, "request_id"), "fo-1");
    assert_string_equal(jstr(b, "env"), "blue");
    assert_string_equal(jstr(g, "env"), "green");
    assert_int_equal(jint(b, "attempt"), 1);
    assert_int_equal(jint(g, "attempt"), 2);
    assert_true(json_is_true(json_object_get(b, "auth")));
    /* The gap is the backoff: 20 ms without jitter, measured from blue's
     * arrival (its t_done_us can trail the relay's read of the 503 on a
     * loaded machine: see test_retry_after_honoured). */
    long long gap = jint(g, "t_arrival_us") - jint(b, "t_arrival_us");
    assert_true(gap >= 20000);
    assert_true(gap < 20000 * FX_SLACK + 200000);
    json_decref(jb);
    json_decref(jg);

    assert_int_equal(fx_wait_event(&F, "switch", "reason", "upstream_503", 2000), 0);
    assert_int_equal(fx_count_events(&F, "switch", "to", "green"), 1);
    assert_int_equal(fx_count_events(&F, "attempt", "outcome", "failover"), 1);
    /* The next request goes to green at once. */
    assert_int_equal(fx_chat(&F, "fo-2", 0, 10000, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(fx_header_long(&r, "X-Attempts"), 1);
    thttp_resp_free(&r);
}

static void test_backoff_gaps_and_spent_attempts(void **state)
{
    assert_int_equal(fx_start_relay(&F, "\"backoff_base_ms\": 60, \"jitter\": \"none\", "
                                        "\"max_attempts\": 3, \"health_interval_ms\": 0"),
                     0);
    const char *b503 = "{\"rules\":[{\"action\":{\"type\":\"status\",\"code\":503}}]}";
    assert_int_equal(tmock_put_behavior(F.url[0], b503), 0);
    assert_int_equal(tmock_put_behavior(F.url[1], b503), 0);
    struct thttp_resp r;
    assert_int_equal(fx_chat(&F, "gap-1", 0, 10000, &r), CURLE_OK);
    /* Attempts spent: the last upstream status, and no more client retries. */
    assert_int_equal(r.status, 503);
    assert_int_equal(fx_header_long(&r, "X-Attempts"), 3);
    char v[64];
    assert_non_null(thttp_header(&r, "x-should-retry", v, sizeof v));
    assert_string_equal(v, "false");
    assert_non_null(strstr(r.body, "\"error\""));
    thttp_resp_free(&r);

    /* Attempts 1 and 3 on blue, 2 on green; gaps 60 then 120 ms. */
    json_t *jb = fx_journal(F.url[0]), *jg = fx_journal(F.url[1]);
    assert_int_equal(json_array_size(jb) + json_array_size(jg), 3);
    json_t *att[4] = {0};
    json_t *both[2] = {jb, jg};
    for (int k = 0; k < 2; k++) {
        size_t i;
        json_t *rec;
        json_array_foreach(both[k], i, rec)
        {
            long long a = jint(rec, "attempt");
            assert_true(a >= 1 && a <= 3);
            att[a] = rec;
            assert_string_equal(jstr(rec, "request_id"), "gap-1");
        }
    }
    assert_non_null(att[1]);
    assert_non_null(att[2]);
    assert_non_null(att[3]);
    assert_string_equal(jstr(att[1], "env"), "blue");
    assert_string_equal(jstr(att[2], "env"), "green");
    /* From arrivals, as test_retry_after_honoured says why. */
    long long g1 = jint(att[2], "t_arrival_us") - jint(att[1], "t_arrival_us");
    long long g2 = jint(att[3], "t_arrival_us") - jint(att[2], "t_arrival_us");
    assert_true(g1 >= 60000);
    assert_true(g2 >= 120000);
    assert_true(g1 < 60000 * FX_SLACK);
    assert_true(g2 < 120000 * FX_SLACK);
    json_decref(jb);
    json_decref(jg);
    /* The events carry the same schedule. */
    json_t *ev = fx_events(&F);
    size_t i;
    json_t *e;
    long long backoffs[4] = {-1, -1, -1, -1};
    json_array_foreach(ev, i, e)
    {
        if (strcmp(jstr(e, "type"), "attempt") == 0)
            backoffs[jint(e, "attempt")] = jint(e, "backoff_ms");
    }
    assert_int_equal(backoffs[1], 60);
    assert_int_equal(backoffs[2], 120);
    assert_int_equal(backoffs[3], 0);
    json_decref(ev);
}

static void test_401_not_retried(void **state)
{
    assert_int_equal(fx_start_relay(&F, "\"backoff_base_ms\": 10, \"health_interval_ms\": 0"), 0);
    assert_int_equal(tmock_put_behavior(F.url[0],
                                        "{\"rules\":[{\"action\":{\"type\":\"status\",\"code\":401,"
                                        "\"error_code\":\"invalid_api_key\"}}]}"),
                     0);
    struct thttp_resp r;
    for (int i = 0; i < 3; i++) {
        char id[32];
        snprintf(id, sizeof id, "k401-%d", i);
        assert_int_equal(fx_chat(&F, id, 0, 10000, &r), CURLE_OK);
        assert_int_equal(r.status, 401);
        assert_int_equal(fx_header_long(&r, "X-Attempts"), 1);
        assert_non_null(strstr(r.body, "invalid_api_key"));
        thttp_resp_free(&r);
    }
    json_t *jb = fx_journal(F.url[0]), *jg = fx_journal(F.url[1]);
    assert_int_equal(json_array_size(jb), 3); /* one attempt per request */
    assert_int_equal(json_array_size(jg), 0); /* no failover either */
    json_decref(jb);
    json_decref(jg);
    assert_int_equal(fx_count_events(&F, "switch", NULL, NULL), 0);
    /* The 401 is counted where Prometheus sees it. */
    char u[300];
    snprintf(u, sizeof u, "%s/metrics", F.relay_url);
    assert_int_equal(thttp_request("GET", u, NULL, NULL, 5000, &r), CURLE_OK);
    assert_non_null(strstr(r.body,
                           "holysheep_requests_total{environment=\"blue\",model=\"gpt-4.1\","
                           "status=\"401\"} 3"));
    thttp_resp_free(&r);
}

static void test_retry_after_honoured(void **state)
{
    assert_int_equal(fx_start_relay(&F, "\"backoff_base_ms\": 10, \"jitter\": \"none\", "
                                        "\"retry_after_cap_ms\": 2000, \"health_interval_ms\": 0"),
                     0);
    /* First request on blue: 429 asking for 400 ms, then fine. */
    assert_int_equal(tmock_put_behavior(
                         F.url[0], "{\"rules\":[{\"when\":{\"first\":1},\"action\":"
                                   "{\"type\":\"status\",\"code\":429,\"retry_after_ms\":400}}]}"),
                     0);
    struct thttp_resp r;
    assert_int_equal(fx_chat(&F, "ra-1", 0, 10000, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    char v[64];
    assert_string_equal(thttp_header(&r, "X-Served-By", v, sizeof v), "blue");
    assert_int_equal(fx_header_long(&r, "X-Attempts"), 2);
    thttp_resp_free(&r);
    json_t *jb = fx_journal(F.url[0]);
    assert_int_equal(json_array_size(jb), 2);
    /* From the first attempt's arrival: the relay cannot have read the 429
     * before it arrived.  Its t_done_us is taken when the mock's completion
     * callback runs, which on a loaded machine (tests run side by side) can
     * come a few ms after the relay already read the answer and started its
     * 400 ms wait, so it is no lower bound. */
    long long gap =
        jint(json_array_get(jb, 1), "t_arrival_us") - jint(json_array_get(jb, 0), "t_arrival_us");
    assert_true(gap >= 400000);
    assert_true(gap < 400000 * FX_SLACK);
    json_decref(jb);
    /* A 429 is not the colour's fault: no switch. */
    assert_int_equal(fx_count_events(&F, "switch", NULL, NULL), 0);
}

static void test_retry_after_above_cap_fails_over(void **state)
{
    assert_int_equal(fx_start_relay(&F, "\"backoff_base_ms\": 10, \"retry_after_cap_ms\": 500, "
                                        "\"health_interval_ms\": 0"),
                     0);
    assert_int_equal(tmock_put_behavior(F.url[0], "{\"rules\":[{\"action\":{\"type\":\"status\","
                                                  "\"code\":503,\"retry_after_s\":30}}]}"),
                     0);
    struct thttp_resp r;
    uint64_t t0 = co_clock_monotonic_us();
    assert_int_equal(fx_chat(&F, "cap-1", 0, 10000, &r), CURLE_OK);
    uint64_t took = co_clock_monotonic_us() - t0;
    assert_int_equal(r.status, 200);
    char v[64];
    assert_string_equal(thttp_header(&r, "X-Served-By", v, sizeof v), "green");
    thttp_resp_free(&r);
    /* It did not sleep the 30 s, nor even the 500 ms cap. */
    assert_true(took < 500000);
    json_t *jg = fx_journal(F.url[1]);
    assert_int_equal(json_array_size(jg), 1);
    json_decref(jg);
}

static void test_connect_error_fails_over(void **state)
{
    /* Blue points at a closed port: connect errors fail over to green.
     * The config is written by hand (the fixture's names the live blue). */
    FILE *c = fopen(F.cfg_path, "w");
    assert_non_null(c);
    fprintf(c,
            "{\"port\":0,\"blue_url\":\"http://127.0.0.1:1/v1\",\"green_url\":\"%s/v1\","
            "\"api_key\":\"%s\",\"events\":\"%s\",\"backoff_base_ms\":5,\"health_interval_ms\":0}",
            F.url[1], FX_KEY, F.events_path);
    fclose(c);
    assert_int_equal(fx_spawn_relay(&F), 0);
    struct thttp_resp r;
    assert_int_equal(fx_chat(&F, "conn-1", 0, 10000, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(fx_header_long(&r, "X-Attempts"), 2);
    thttp_resp_free(&r);
    assert_int_equal(fx_wait_event(&F, "switch", "reason", "connect_error", 2000), 0);
    assert_int_equal(fx_count_events(&F, "attempt", "error", "connect"), 1);
}

/* Both colours down (connection refused): the seed's emergency fallback,
 * `direct`, serves; without it the client gets the seed's 503. */
static void test_direct_when_both_colours_fail(void **state)
{
    FILE *c = fopen(F.cfg_path, "w");
    assert_non_null(c);
    fprintf(c,
            "{\"port\":0,\"blue_url\":\"http://127.0.0.1:1/v1\",\"green_url\":\"http://127.0.0.1:2/"
            "v1\","
            "\"direct_url\":\"%s/v1\",\"api_key\":\"%s\",\"events\":\"%s\",\"backoff_base_ms\":5,"
            "\"jitter\":\"none\",\"max_attempts\":3,\"health_interval_ms\":0}",
            F.url[1], FX_KEY, F.events_path);
    fclose(c);
    assert_int_equal(fx_spawn_relay(&F), 0);
    struct thttp_resp r;
    assert_int_equal(fx_chat(&F, "direct-1", 0, 10000, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    char v[64];
    assert_string_equal(thttp_header(&r, "X-Served-By", v, sizeof v), "direct");
    assert_int_equal(fx_header_long(&r, "X-Attempts"), 3);
    thttp_resp_free(&r);
    json_t *jd = fx_journal(F.url[1]);
    assert_int_equal(json_array_size(jd), 1);
    assert_string_equal(jstr(json_array_get(jd, 0), "env"), "direct");
    assert_int_equal(jint(json_array_get(jd, 0), "attempt"), 3);
    json_decref(jd);
}

static void test_key_never_leaks(void **state)
{
    assert_int_equal(fx_start_relay(&F, "\"backoff_base_ms\": 5, \"health_interval_ms\": 50, "
                                        "\"log_level\": \"debug\""),
                     0);
    assert_int_equal(tmock_put_behavior(
                         F.url[0], "{\"rules\":[{\"action\":{\"type\":\"status\",\"code\":401}}]}"),
                     0);
    struct thttp_resp r;
    assert_int_equal(fx_chat(&F, "leak-1", 0, 10000, &r), CURLE_OK);
    assert_null(strstr(r.body, FX_KEY));
    assert_null(strstr(r.headers, FX_KEY));
    thttp_resp_free(&r);
    const char *paths[] = {"/metrics", "/api/metrics", "/health"};
    for (int i = 0; i < 3; i++) {
        char u[300];
        snprintf(u, sizeof u, "%s%s", F.relay_url, paths[i]);
        assert_int_equal(thttp_request("GET", u, NULL, NULL, 5000, &r), CURLE_OK);
        assert_null(strstr(r.body, FX_KEY));
        thttp_resp_free(&r);
    }
    assert_int_equal(WEXITSTATUS(fx_stop_relay(&F)), 0);
    FILE *in = fopen(F.events_path, "r");
    assert_non_null(in);
    char line[16384];
    int lines = 0;
    while (fgets(line, sizeof line, in)) {
        lines++;
        assert_null(strstr(line, FX_KEY));
    }
    fclose(in);
    assert_true(lines >= 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_blue_503_green_serves, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_backoff_gaps_and_spent_attempts, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_401_not_retried, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_retry_after_honoured, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_retry_after_above_cap_fails_over, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_connect_error_fails_over, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_direct_when_both_colours_fail, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_key_never_leaks, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, fx_group_setup, fx_group_teardown);
}
