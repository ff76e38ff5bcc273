/* relay_parse: the content-type rule, request parsing and the SSE end
 * marker across every chunk split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay/relay_parse.h"

#include <jansson.h>

#include <stdlib.h>
#include <string.h>

static void test_content_type(void **state)
{
    assert_true(relay_content_type_ok(NULL));
    assert_true(relay_content_type_ok(""));
    assert_true(relay_content_type_ok("application/json"));
    assert_true(relay_content_type_ok("Application/JSON; charset=utf-8"));
    assert_true(relay_content_type_ok("  application/json"));
    assert_true(relay_content_type_ok("application/vnd.api+json"));
    assert_false(relay_content_type_ok("text/plain"));
    assert_false(relay_content_type_ok("application/jsonp"));
    assert_false(relay_content_type_ok("application/x-www-form-urlencoded"));
    assert_false(relay_content_type_ok("text/+json"));
}

static void test_request(void **state)
{
    struct relay_parsed_req pr;
    struct relay_parse_err pe;
    const char *ok = "{\"model\":\"gpt-4.1\",\"stream\":true,\"messages\":[]}";
    assert_int_equal(relay_parse_request("application/json", ok, strlen(ok), 0, &pr, &pe), 0);
    assert_true(pr.stream);
    assert_string_equal(pr.model, "gpt-4.1");
    assert_null(pr.fwd_body);
    assert_int_equal(relay_parse_request("text/plain", ok, strlen(ok), 0, &pr, &pe), 415);
    assert_string_equal(pe.code, "unsupported_media_type");
    assert_int_equal(relay_parse_request(NULL, "{", 1, 0, &pr, &pe), 400);
    assert_string_equal(pe.code, "invalid_json");
    assert_int_equal(relay_parse_request(NULL, NULL, 0, 0, &pr, &pe), 400);
    assert_int_equal(relay_parse_request(NULL, "{\"stream\":1}", 12, 0, &pr, &pe), 400);
    assert_string_equal(pe.param, "stream");
    /* Control bytes in a content type are not echoed raw. */
    assert_int_equal(relay_parse_request("text/\x01\x7f", ok, strlen(ok), 0, &pr, &pe), 415);
    assert_null(strchr(pe.message, '\x01'));
    const char *api = "{\"message\":\"hi\",\"context\":\"be brief\",\"user\":\"u1\"}";
    assert_int_equal(relay_parse_request(NULL, api, strlen(api), 1, &pr, &pe), 0);
    assert_non_null(pr.fwd_body);
    assert_non_null(strstr(pr.fwd_body, "\"system\""));
    assert_non_null(strstr(pr.fwd_body, "\"u1\""));
    assert_string_equal(pr.model, "gpt-4.1");
    free(pr.fwd_body);
    assert_int_equal(relay_parse_request(NULL, "{}", 2, 1, &pr, &pe), 400);
    assert_string_equal(pe.param, "message");
}

/* Every split of a stream into two and three chunks finds the mark exactly
 * when the whole stream holds it. */
static void test_sse_splits(void **state)
{
    static const char *const streams[] = {
        "data: {\"a\":1}\n\ndata: [DONE]\n\n",
        "data:[DONE]\n\n",
        "data: {\"a\":1}\n\ndata: [DON",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxdata: [DONE]",
        "data: [DONE",
    };
    for (size_t s = 0; s < sizeof streams / sizeof streams[0]; s++) {
        const char *b = streams[s];
        size_t n = strlen(b);
        int want = strstr(b, "data: [DONE]") || strstr(b, "data:[DONE]");
        for (size_t i = 0; i <= n; i++)
            for (size_t j = i; j <= n; j++) {
                struct relay_sse x;
                relay_sse_reset(&x);
                relay_sse_scan(&x, b, i);
                relay_sse_scan(&x, b + i, j - i);
                relay_sse_scan(&x, b + j, n - j);
                if (x.done_seen != want)
                    fail_msg("stream %zu split %zu/%zu: %d", s, i, j, x.done_seen);
            }
        /* One byte at a time. */
        struct relay_sse x;
        relay_sse_reset(&x);
        for (size_t i = 0; i < n; i++)
            relay_sse_scan(&x, b + i, 1);
        assert_int_equal(x.done_seen, want);
    }
}

/* The quick answer scan: whole objects pass and point at the top-level
 * usage object; every cut of a real answer fails (a truncated body must be
 * a failed attempt), and whatever passes, jansson parses as an object. */
static void test_answer_scan(void **state)
{
    static const char answer[] =
        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,"
        "\"message\":{\"role\":\"assistant\",\"content\":\"a \\\"usage\\\": {} [x] }\"},"
        "\"finish_reason\":\"stop\"}],\"meta\":{\"usage\":{\"x\":1}},\"tag\":\"usage\","
        "\"usage\" : {\"prompt_tokens\":1,\"completion_tokens\":16,\"total_tokens\":17}}\n";
    size_t n = strlen(answer), u;
    assert_int_equal(relay_answer_scan(answer, n, &u), 1);
    assert_true(u != (size_t)-1);
    assert_memory_equal(answer + u, "{\"prompt_tokens\":1", 18);
    for (size_t i = 0; i + 1 < n; i++) {
        if (relay_answer_scan(answer, i, &u) != 0)
            fail_msg("the first %zu bytes passed", i);
        json_t *j = json_loadb(answer, i, 0, NULL);
        assert_null(j);
    }
    static const struct {
        const char *body;
        int want;
        int has_usage;
    } cases[] = {
        {"{}", 1, 0},
        {"  {\"usage\":null}  ", 1, 0},
        {"{\"usage\":{}}", 1, 1},
        {"{\"a\":[{\"usage\":{}}]}", 1, 0},
        {"<html><body>502</body></html>", 0, 0},
        {"", 0, 0},
        {"[]", 0, 0},
        {"{\"a\":[}", 0, 0},
        {"{\"a\":{]}", 0, 0},
        {"{\"a\":1}}", 0, 0},
        {"{\"a\":1} {\"b\":2}", 0, 0},
        {"{\"a\":\"x\ny\"}", 0, 0},
        {"{\"a\":\"x\\\"}", 0, 0},
        {"{} x}", 0, 0},
        {"{not json!!}", 0, 0},
        {"{\"a\":1,}", 0, 0},
        {"{\"a\" 1}", 0, 0},
        {"{\"a\":01}", 0, 0},
        {"{\"a\":tru}", 0, 0},
        {"{\"a\":[1,2,],\"b\":2}", 0, 0},
        {"{,}", 0, 0},
        {"{\"a\":[],\"b\":{},\"c\":[true,false,null,-0.5,12],\"d\":\"\\n\"}", 1, 0},
        {"{\"a\":1e5}", 0, 0},              /* unsure: jansson decides */
        {"{\"a\":\"\\u00e9\"}", 0, 0},     /* unsure */
        {"{\"a\":\"caf\xc3\xa9\"}", 0, 0}, /* unsure */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *b = cases[i].body;
        int got = relay_answer_scan(b, strlen(b), &u);
        if (got != cases[i].want || (u != (size_t)-1) != cases[i].has_usage)
            fail_msg("case %zu (%s): %d usage %zu", i, b, got, u);
        if (got) {
            json_t *j = json_loadb(b, strlen(b), 0, NULL);
            assert_true(json_is_object(j));
            json_decref(j);
        }
    }
    /* Deeper than the scan follows: it defers to jansson. */
    char deep[200];
    size_t d = 0;
    deep[d++] = '{';
    deep[d++] = '"';
    deep[d++] = 'a';
    deep[d++] = '"';
    deep[d++] = ':';
    for (int i = 0; i < 70; i++)
        deep[d++] = '[';
    for (int i = 0; i < 70; i++)
        deep[d++] = ']';
    deep[d++] = '}';
    assert_int_equal(relay_answer_scan(deep, d, &u), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_type),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_sse_splits),
        cmocka_unit_test(test_answer_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
