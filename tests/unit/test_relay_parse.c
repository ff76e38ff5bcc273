/* relay_parse: the content-type rule, request parsing and the SSE end
 * marker across every chunk split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay/relay_parse.h"

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
                relay_sse_init(&x);
                relay_sse_scan(&x, b, i);
                relay_sse_scan(&x, b + i, j - i);
                relay_sse_scan(&x, b + j, n - j);
                if (x.done_seen != want)
                    fail_msg("stream %zu split %zu/%zu: %d", s, i, j, x.done_seen);
                relay_sse_free(&x);
            }
        /* One byte at a time. */
        struct relay_sse x;
        relay_sse_init(&x);
        for (size_t i = 0; i < n; i++)
            relay_sse_scan(&x, b + i, 1);
        assert_int_equal(x.done_seen, want);
        relay_sse_free(&x);
    }
}

/* A non-null finish_reason is found whatever the splits; null, an escaped
 * key inside content and near misses are not. */
static void test_sse_finish_reason(void **state)
{
    static const struct {
        const char *s;
        int want;
    } streams[] = {
        {"data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n", 1},
        {"data: {\"finish_reason\" : \t \"length\"}\n\n", 1},
        {"data: {\"choices\":[{\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\n\n", 0},
        {"data: {\"finish_reason\":null}\n\ndata: {\"finish_reason\":\"stop\"}\n\n", 1},
        {"data: {\"delta\":{\"content\":\"say \\\"finish_reason\\\":\\\"stop\\\"\"}}\n\n", 0},
        {"\"\"finish_reason\":\"x\"", 1},
        {"\"finish_reason\"x:\"stop\"", 0},
        {"\"finish_reasons\":\"stop\"", 0},
        {"\"finish_reason\":", 0},
        /* Keys that share a quote (found by the fuzzer). */
        {"\"finish_reason\"finish_reason\":\"x\"", 1},
    };
    for (size_t s = 0; s < sizeof streams / sizeof streams[0]; s++) {
        const char *b = streams[s].s;
        size_t n = strlen(b);
        for (size_t i = 0; i <= n; i++)
            for (size_t j = i; j <= n; j++) {
                struct relay_sse x;
                relay_sse_init(&x);
                relay_sse_scan(&x, b, i);
                relay_sse_scan(&x, b + i, j - i);
                relay_sse_scan(&x, b + j, n - j);
                if (relay_sse_finished(&x) != streams[s].want)
                    fail_msg("stream %zu split %zu/%zu", s, i, j);
                relay_sse_free(&x);
            }
    }
    /* A new attempt starts from nothing; nothing scanned holds nothing. */
    struct relay_sse x;
    relay_sse_init(&x);
    assert_false(relay_sse_finished(&x));
    const char *fin = "data: {\"finish_reason\":\"stop\"}\n\n";
    relay_sse_scan(&x, fin, strlen(fin));
    assert_true(relay_sse_finished(&x));
    relay_sse_reset(&x);
    assert_false(relay_sse_finished(&x));
    /* Only the stream's last RELAY_SSE_LAST bytes are looked at (the
     * finish chunk comes last but for the usage chunk): one followed by
     * more than that is not seen, in one chunk or many. */
    char filler[RELAY_SSE_LAST + 1];
    memset(filler, 'x', sizeof filler);
    for (size_t step = 1; step <= sizeof filler; step = step * 7 + 1) {
        relay_sse_reset(&x);
        relay_sse_scan(&x, fin, strlen(fin));
        for (size_t off = 0; off < sizeof filler; off += step)
            relay_sse_scan(&x, filler + off,
                           sizeof filler - off < step ? sizeof filler - off : step);
        assert_false(relay_sse_finished(&x));
        /* ... while one that ends exactly the last window is. */
        relay_sse_reset(&x);
        relay_sse_scan(&x, filler, 100);
        relay_sse_scan(&x, fin, strlen(fin));
        for (size_t off = 0; off < RELAY_SSE_LAST - strlen(fin); off += step)
            relay_sse_scan(&x, filler + off,
                           RELAY_SSE_LAST - strlen(fin) - off < step
                               ? RELAY_SSE_LAST - strlen(fin) - off
                               : step);
        assert_true(relay_sse_finished(&x));
    }
    relay_sse_free(&x);
    assert_null(x.last);
}

/* Every data line is a JSON object or [DONE], whatever the chunking; the
 * first bad line is found, and "good" is where it starts in its chunk. */
static void test_sse_check(void **state)
{
    const char ok[] = ": keep-alive\nevent: x\ndata: {\"choices\":[]}\r\n\n"
                      "data:{\"a\":1}\n\ndata: [DONE]\n\n";
    const char bad[] = "data: {\"a\":1}\n\ndata: {\"choices\":[{\"delta\":\n\ndata: [DONE]\n\n";
    const char notobj[] = "data: [1,2]\n\n";
    size_t nok = strlen(ok), nbad = strlen(bad);
    for (size_t i = 0; i <= nok; i++) {
        struct relay_sse s;
        relay_sse_init(&s);
        size_t g;
        assert_int_equal(relay_sse_check(&s, ok, i, &g), 0);
        assert_int_equal(g, i);
        assert_int_equal(relay_sse_check(&s, ok + i, nok - i, &g), 0);
        relay_sse_free(&s);
    }
    size_t at = strlen("data: {\"a\":1}\n\n"); /* where the bad line starts */
    for (size_t i = 0; i <= nbad; i++) {
        struct relay_sse s;
        relay_sse_init(&s);
        size_t g;
        int r1 = relay_sse_check(&s, bad, i, &g);
        if (r1 != 0) { /* the bad line ended within the first part */
            assert_int_equal(g, at);
        } else {
            assert_int_equal(relay_sse_check(&s, bad + i, nbad - i, &g), -1);
            assert_int_equal(g, i <= at ? at - i : 0);
        }
        relay_sse_free(&s);
    }
    struct relay_sse s;
    relay_sse_init(&s);
    size_t g;
    assert_int_equal(relay_sse_check(&s, notobj, strlen(notobj), &g), -1);
    assert_int_equal(g, 0);
    relay_sse_free(&s);
}

/* An upstream may frame its events any way the SSE standard allows: one
 * chunk over several data: lines, CRLF or bare CR line ends, comments,
 * event:/id:/retry: fields.  None of that is a broken stream, whatever the
 * chunking; a bad event in such framing is still found, at its start. */
static void test_sse_check_framings(void **state)
{
    const char ok[] = ": keep-alive\r\n\r\nevent: completion\r\nid: 1\r\n"
                      "data: {\"choices\":\r\ndata: [{\"delta\":{}}]}\r\n\r\n"
                      "data:{\"a\":\rdata:1}\r\r: ping\n\n"
                      "retry: 10\ndata: [DONE]\r\n\r\n";
    const char bad[] = "data: {\"a\":1}\r\n\r\ndata: {\"a\":\r\ndata: 1\r\n\r\n";
    /* An empty data line first (no data buffer yet): its value is "". */
    struct relay_sse e;
    relay_sse_init(&e);
    size_t eg;
    assert_int_equal(relay_sse_check(&e, "data\ndata:{}\n\n", 14, &eg), 0); /* "\n{}" */
    assert_int_equal(relay_sse_check(&e, "data:\n\n", 7, &eg), -1);         /* "" is not JSON */
    assert_int_equal(eg, 0);
    relay_sse_free(&e);
    size_t nok = strlen(ok), nbad = strlen(bad);
    for (size_t i = 0; i <= nok; i++) {
        struct relay_sse s;
        relay_sse_init(&s);
        size_t g;
        assert_int_equal(relay_sse_check(&s, ok, i, &g), 0);
        assert_int_equal(relay_sse_check(&s, ok + i, nok - i, &g), 0);
        assert_int_equal(s.ev_open, 0); /* every event ended */
        relay_sse_free(&s);
    }
    size_t at = strlen("data: {\"a\":1}\r\n\r\n");
    for (size_t i = 0; i <= nbad; i++) {
        struct relay_sse s;
        relay_sse_init(&s);
        size_t g;
        if (relay_sse_check(&s, bad, i, &g) != 0) {
            assert_int_equal(g, at);
        } else {
            assert_int_equal(relay_sse_check(&s, bad + i, nbad - i, &g), -1);
            assert_int_equal(g, i <= at ? at - i : 0);
        }
        relay_sse_free(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_type), cmocka_unit_test(test_request),
        cmocka_unit_test(test_sse_splits),   cmocka_unit_test(test_sse_finish_reason),
        cmocka_unit_test(test_sse_check),    cmocka_unit_test(test_sse_check_framings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
