/* Garbage through the mock's control API (/_mock/): every bad behaviour,
 * query or method gets a 4xx with OpenAI's error envelope and, for a bad
 * behaviour, the JSON path of the first error; the behaviour in force is
 * left unchanged, and the mock keeps serving. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/traw.h"
#include "tests/support/tsupport.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define CHAT "{\"model\":\"gpt-4.1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"

static struct tproc mock;

static int setup(void **state)
{
    return tmock_start(&mock, "blue", NULL);
}

static int teardown(void **state)
{
    int st = tproc_stop(&mock, SIGTERM, 5000);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static long call(const char *method, const char *path, const char *body, size_t len,
                 struct thttp_resp *r)
{
    char u[512];
    static const char *const h[] = {"Content-Type: application/json", NULL};
    snprintf(u, sizeof u, "%s%s", mock.url, path);
    (void)len;
    thttp_request(method, u, body, h, 10000, r);
    return r->status;
}

/* An error envelope whose param (when want_param) names a JSON path. */
static void assert_error(const struct thttp_resp *r, const char *param_prefix)
{
    json_t *j = json_loads(r->body ? r->body : "", 0, NULL);
    if (!j)
        fail_msg("not JSON: %s", r->body ? r->body : "");
    json_t *e = json_object_get(j, "error");
    assert_true(json_is_string(json_object_get(e, "message")));
    assert_true(json_is_string(json_object_get(e, "type")));
    if (param_prefix) {
        const char *p = json_string_value(json_object_get(e, "param"));
        if (!p || strncmp(p, param_prefix, strlen(param_prefix)) != 0)
            fail_msg("param %s, expected %s...: %s", p ? p : "null", param_prefix, r->body);
    }
    json_decref(j);
}

static void test_bad_behaviours(void **state)
{
    static const struct {
        const char *body, *param;
    } cases[] = {
        {"garbage", NULL},
        {"", NULL},
        {"{\"rules\":", NULL},
        {"[]", "$"},
        {"{\"rules\":5}", "$.rules"},
        {"{\"rules\":[{\"action\":{\"type\":\"nope\"}}]}", "$.rules[0].action.type"},
        {"{\"rules\":[{\"action\":{\"type\":\"status\",\"code\":99999}}]}", "$.rules[0].action"},
        {"{\"rules\":[{\"when\":{\"p\":2},\"action\":{\"type\":\"ok\"}}]}", "$.rules[0].when"},
        {"{\"latency\":{\"fixed_ms\":1e308}}", "$.latency"},
        {"{\"latency\":{\"fixed_ms\":-5}}", "$.latency"},
        {"{\"reply\":{\"tokens\":99999999999999999999}}", NULL},
        {"{\"reply\":{\"tokens\":\"many\"}}", "$.reply"},
        {"{\"rules\":[{\"action\":{\"type\":\"timeout\",\"after_ms\":-1}}]}", "$.rules[0].action"},
        {"{\"rules\":[{\"when\":{\"sequence\":[\"503\",\"bogus\"]},\"action\":{\"type\":\"ok\"}}]}",
         "$.rules[0].when"},
        {"{\"surprise\":true}", "$"},
        {"{\"rules\":[{\"match\":{\"index\":[10,1]},\"action\":{\"type\":\"ok\"}}]}", "$.rules[0]"},
    };
    struct thttp_resp r;
    call("POST", "/_mock/reset", "", 0, &r);
    thttp_resp_free(&r);
    call("PUT", "/_mock/behavior", "{\"reply\":{\"tokens\":3}}", 0, &r);
    assert_int_equal(r.status, 200);
    thttp_resp_free(&r);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (call("PUT", "/_mock/behavior", cases[i].body, 0, &r) != 400)
            fail_msg("case %zu (%s) -> %ld %s", i, cases[i].body, r.status, r.body ? r.body : "");
        assert_error(&r, cases[i].param);
        thttp_resp_free(&r);
    }
    /* The behaviour in force is still the last good one. */
    call("GET", "/_mock/behavior", NULL, 0, &r);
    assert_int_equal(r.status, 200);
    json_t *b = json_loads(r.body, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(b, "reply"), "tokens")), 3);
    json_decref(b);
    thttp_resp_free(&r);
}

static void test_huge_and_binary_bodies(void **state)
{
    size_t n = 3 * 1024 * 1024;
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('!' + (i * 7919) % 90);
    big[n] = 0;
    struct thttp_resp r;
    long st = call("PUT", "/_mock/behavior", big, n, &r);
    assert_true(st == 413 || st == 400);
    assert_error(&r, NULL);
    thttp_resp_free(&r);
    free(big);
    /* Deep nesting: the parser's depth limit, not our stack. */
    char *deep = malloc(200001);
    memset(deep, '[', 200000);
    deep[200000] = 0;
    assert_int_equal(call("PUT", "/_mock/behavior", deep, 0, &r), 400);
    thttp_resp_free(&r);
    free(deep);
}

static void test_bad_queries_and_methods(void **state)
{
    static const struct {
        const char *method, *path;
        long status;
    } cases[] = {
        {"GET", "/_mock/journal?since=abc", 400},
        {"GET", "/_mock/journal?since=-1", 400},
        {"GET", "/_mock/nope", 404},
        {"GET", "/_mock/", 404},
        {"DELETE", "/_mock/behavior", 405},
        {"POST", "/_mock/journal", 405},
        {"GET", "/_mock/reset", 405},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct thttp_resp r;
        if (call(cases[i].method, cases[i].path, NULL, 0, &r) != cases[i].status)
            fail_msg("%s %s -> %ld, expected %ld", cases[i].method, cases[i].path, r.status,
                     cases[i].status);
        assert_error(&r, NULL);
        thttp_resp_free(&r);
    }
    /* A huge `since` is an empty page, not an error or a crash. */
    struct thttp_resp r;
    assert_int_equal(call("GET", "/_mock/journal?since=99999999999999999999999", NULL, 0, &r), 200);
    thttp_resp_free(&r);
}

/* A head framed two ways (two Content-Lengths, or one with
 * Transfer-Encoding) is refused once and the connection closed: the bytes
 * a proxy would read as a second request are never answered (RFC 9112). */
static void test_ambiguous_framing(void **state)
{
    static const char *const heads[] = {
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 10\r\nContent-Length: 59\r\n\r\n"
        "{\"a\":1}   GET /_mock/journal HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n"
        "7\r\n{\"a\":1}\r\n0\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        char out[8192];
        int closed = 0;
        traw_exchange(traw_port(mock.url), heads[i], strlen(heads[i]), out, sizeof out, 3000,
                      &closed);
        assert_true(closed);
        assert_non_null(strstr(out, "HTTP/1.1 400"));
        assert_non_null(strstr(out, "invalid_request"));
        /* One answer only. */
        assert_null(strstr(strstr(out, "HTTP/1.1 400") + 4, "HTTP/1.1"));
    }
}

static void test_still_serves(void **state)
{
    struct thttp_resp r;
    assert_int_equal(call("POST", "/v1/chat/completions", CHAT, 0, &r), 200);
    thttp_resp_free(&r);
    long rss = traw_rss_kb(mock.pid);
    print_message("mock RSS %ld kB after the garbage\n", rss);
    assert_true(rss > 0 && rss < 128 * 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_behaviours),
        cmocka_unit_test(test_huge_and_binary_bodies),
        cmocka_unit_test(test_bad_queries_and_methods),
        cmocka_unit_test(test_ambiguous_framing),
        cmocka_unit_test(test_still_serves),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
