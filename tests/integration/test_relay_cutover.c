/* Integration: changing colour while traffic flows.  A manual switch through
 * the admin API under concurrent traffic fails no request and moves new
 * requests only; rollback; a canary split by weights; a health-driven switch
 * (and the /health answer when both colours are down); the admin API's
 * token. */
#include "relay_fixture.h"

#define TOKEN "admin-token-for-tests"

static long admin(const char *method, const char *path, const char *body, const char *token,
                  char **out)
{
    char u[300], auth[200];
    snprintf(u, sizeof u, "%s%s", F.relay_url, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    const char *h[] = {auth, "Content-Type: application/json", NULL};
    struct thttp_resp r;
    thttp_request(method, u, body, token ? h : NULL, 5000, &r);
    long st = r.status;
    if (out)
        *out = co_strdup(r.body ? r.body : "");
    thttp_resp_free(&r);
    return st;
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    return s * n;
}

struct traffic {
    int total, done, ok, failed;
    uint64_t t_switch_start, t_switch_end;
};

static CURL *new_req(const char *url, int i)
{
    static char bodies[64][256];
    static struct curl_slist *h;
    if (!h)
        h = curl_slist_append(NULL, "Content-Type: application/json");
    char *b = bodies[i % 64];
    snprintf(b, 256,
             "{\"model\":\"gpt-4.1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
             "\"user\":\"cut-%d\"}",
             i);
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, b);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
    return e;
}

/* Closed-loop traffic, `conc` at a time; after `switch_at` answers, calls
 * the admin switch while the rest are in flight. */
static void run_traffic(struct traffic *t, int conc, int switch_at, const char *switch_body)
{
    char u[300];
    snprintf(u, sizeof u, "%s/v1/chat/completions", F.relay_url);
    CURLM *m = curl_multi_init();
    int started = 0, running = 0;
    for (; started < conc && started < t->total; started++)
        curl_multi_add_handle(m, new_req(u, started));
    uint64_t end = co_clock_monotonic_us() + 20000000;
    while (t->done < t->total && co_clock_monotonic_us() < end) {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            long st = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &st);
            t->done++;
            if (msg->data.result == CURLE_OK && st == 200)
                t->ok++;
            else
                t->failed++;
            CURL *e = msg->easy_handle;
            curl_multi_remove_handle(m, e);
            curl_easy_cleanup(e);
            if (started < t->total)
                curl_multi_add_handle(m, new_req(u, started++));
            if (t->done == switch_at) {
                t->t_switch_start = co_clock_monotonic_us();
                char *out = NULL;
                assert_int_equal(admin("POST", "/admin/switch", switch_body, TOKEN, &out), 200);
                assert_non_null(strstr(out, "\"active\":\"green\""));
                free(out);
                t->t_switch_end = co_clock_monotonic_us();
            }
        }
        curl_multi_poll(m, NULL, 0, 10, NULL);
    }
    curl_multi_cleanup(m);
}

static void test_manual_switch_under_traffic(void **state)
{
    assert_int_equal(fx_start_relay(&F,
                                    "\"admin_token\": \"" TOKEN "\", \"health_interval_ms\": 0, "
                                    "\"rate_limit_requests\": 0"),
                     0);
    const char *slowish = "{\"latency\":{\"fixed_ms\":5}}";
    assert_int_equal(tmock_put_behavior(F.url[0], slowish), 0);
    assert_int_equal(tmock_put_behavior(F.url[1], slowish), 0);
    struct traffic t = {.total = 300};
    run_traffic(&t, 8, 100, "{\"to\":\"green\"}");
    assert_int_equal(t.done, 300);
    assert_int_equal(t.failed, 0); /* zero failed requests */
    assert_int_equal(t.ok, 300);
    /* New requests moved: none reached green before the switch was asked;
     * after it answered, blue saw at most the requests already in flight
     * (they finish where they started, so at most the concurrency). */
    json_t *jb = fx_journal(F.url[0]), *jg = fx_journal(F.url[1]);
    assert_int_equal(json_array_size(jb) + json_array_size(jg), 300);
    assert_true(json_array_size(jb) >= 100);
    assert_true(json_array_size(jg) >= 150);
    size_t i;
    json_t *rec;
    int late = 0;
    json_array_foreach(jb, i, rec)
    {
        late += (uint64_t)jint(rec, "t_arrival_us") > t.t_switch_end;
        assert_int_equal(jint(rec, "attempt"), 1);
    }
    assert_true(late <= 8);
    json_array_foreach(jg, i, rec)
    {
        assert_true((uint64_t)jint(rec, "t_arrival_us") > t.t_switch_start);
        assert_int_equal(jint(rec, "attempt"), 1);
    }
    json_decref(jb);
    json_decref(jg);
    assert_int_equal(fx_count_events(&F, "switch", "reason", "admin"), 1);
    assert_int_equal(fx_count_events(&F, "admin", "action", "switch"), 1);

    /* Rollback returns to blue. */
    char *out = NULL;
    assert_int_equal(admin("POST", "/admin/rollback", "", TOKEN, &out), 200);
    assert_non_null(strstr(out, "\"active\":\"blue\""));
    free(out);
    assert_int_equal(fx_wait_event(&F, "switch", "reason", "rollback", 2000), 0);
}

static void test_admin_auth_and_state(void **state)
{
    assert_int_equal(
        fx_start_relay(&F, "\"admin_token\": \"" TOKEN "\", \"health_interval_ms\": 0"), 0);
    char *out = NULL;
    assert_int_equal(admin("GET", "/admin/state", NULL, NULL, &out), 401);
    assert_non_null(strstr(out, "\"error\""));
    free(out);
    assert_int_equal(admin("GET", "/admin/state", NULL, "admin-token-for-test", NULL), 401);
    assert_int_equal(admin("GET", "/admin/state", NULL, TOKEN "x", NULL), 401);
    assert_int_equal(admin("GET", "/admin/state", NULL, TOKEN, &out), 200);
    json_t *j = json_loads(out, 0, NULL);
    free(out);
    assert_string_equal(jstr(j, "active"), "blue");
    assert_true(json_is_object(json_object_get(j, "environments")));
    json_decref(j);
    assert_int_equal(admin("POST", "/admin/switch", "{\"to\":\"purple\"}", TOKEN, &out), 400);
    free(out);
    assert_int_equal(admin("POST", "/admin/switch", "{\"to\":", TOKEN, &out), 400);
    free(out);
    assert_int_equal(admin("GET", "/admin/switch", NULL, TOKEN, NULL), 405);
    assert_int_equal(admin("GET", "/admin/nothing", NULL, TOKEN, NULL), 404);
    assert_int_equal(admin("PUT", "/admin/weights", "{\"blue\":-1,\"green\":5}", TOKEN, NULL), 400);
    /* The token never reaches the event log. */
    fx_stop_relay(&F);
    json_t *ev = fx_events(&F);
    char *dump = json_dumps(ev, 0);
    assert_null(strstr(dump, TOKEN));
    free(dump);
    json_decref(ev);
    /* Without a token the admin API does not exist. */
    assert_int_equal(fx_start_relay(&F, "\"health_interval_ms\": 0"), 0);
    assert_int_equal(admin("GET", "/admin/state", NULL, TOKEN, NULL), 404);
}

static void test_canary_weights(void **state)
{
    assert_int_equal(fx_start_relay(&F,
                                    "\"admin_token\": \"" TOKEN "\", \"health_interval_ms\": 0, "
                                    "\"seed\": 7"),
                     0);
    assert_int_equal(admin("PUT", "/admin/weights", "{\"blue\":75,\"green\":25}", TOKEN, NULL),
                     200);
    struct thttp_resp r;
    for (int i = 0; i < 200; i++) {
        assert_int_equal(fx_chat(&F, "canary", 0, 5000, &r), CURLE_OK);
        assert_int_equal(r.status, 200);
        thttp_resp_free(&r);
    }
    json_t *jb = fx_journal(F.url[0]), *jg = fx_journal(F.url[1]);
    size_t b = json_array_size(jb), g = json_array_size(jg);
    json_decref(jb);
    json_decref(jg);
    assert_int_equal(b + g, 200);
    /* 25% of 200 is 50; a seeded binomial stays well inside 25..80. */
    assert_true(g >= 25 && g <= 80);
    assert_int_equal(fx_count_events(&F, "admin", "action", "weights"), 1);
}

static void test_health_driven_switch(void **state)
{
    assert_int_equal(fx_start_relay(&F, "\"health_interval_ms\": 50, \"health_timeout_ms\": 500, "
                                        "\"health_fall\": 2, \"health_rise\": 2"),
                     0);
    struct thttp_resp r;
    assert_int_equal(tmock_put_behavior(F.url[0], "{\"health\":{\"rules\":[{\"action\":{\"type\":"
                                                  "\"status\",\"code\":503}}]}}"),
                     0);
    assert_int_equal(fx_wait_event(&F, "switch", "reason", "health", 3000), 0);
    assert_int_equal(fx_count_events(&F, "health", "env", "blue"), 1);
    char u[300];
    snprintf(u, sizeof u, "%s/health", F.relay_url);
    assert_int_equal(thttp_request("GET", u, NULL, NULL, 5000, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"status\":\"degraded\""));
    assert_non_null(strstr(r.body, "\"active_env\":\"green\""));
    thttp_resp_free(&r);
    /* Chat traffic follows, even though blue's chat endpoint still works. */
    assert_int_equal(fx_chat(&F, "hs-1", 0, 5000, &r), CURLE_OK);
    char v[32];
    assert_string_equal(thttp_header(&r, "X-Served-By", v, sizeof v), "green");
    assert_int_equal(fx_header_long(&r, "X-Attempts"), 1);
    thttp_resp_free(&r);
    /* Both down: /health says so with a 503, and requests get the seed's 503. */
    assert_int_equal(tmock_put_behavior(F.url[1], "{\"health\":{\"rules\":[{\"action\":{\"type\":"
                                                  "\"status\",\"code\":503}}]}}"),
                     0);
    uint64_t end = co_clock_monotonic_us() + 3000000;
    long st = 0;
    do {
        co_sleep_us(20000);
        thttp_request("GET", u, NULL, NULL, 5000, &r);
        st = r.status;
        thttp_resp_free(&r);
    } while (st != 503 && co_clock_monotonic_us() < end);
    assert_int_equal(st, 503);
    assert_int_equal(fx_chat(&F, "hs-2", 0, 5000, &r), CURLE_OK);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "All environments unhealthy"));
    thttp_resp_free(&r);
    /* Blue recovers (rise 2): traffic flows again, no restart needed. */
    assert_int_equal(tmock_put_behavior(F.url[0], "{}"), 0);
    end = co_clock_monotonic_us() + 3000000;
    do {
        co_sleep_us(20000);
        thttp_request("GET", u, NULL, NULL, 5000, &r);
        st = r.status;
        thttp_resp_free(&r);
    } while (st != 200 && co_clock_monotonic_us() < end);
    assert_int_equal(st, 200);
    assert_int_equal(fx_chat(&F, "hs-3", 0, 5000, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(thttp_header(&r, "X-Served-By", v, sizeof v), "blue");
    thttp_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_manual_switch_under_traffic, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_admin_auth_and_state, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_canary_weights, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_health_driven_switch, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, fx_group_setup, fx_group_teardown);
}
