/* Unit tests for the action table: every type has a row that parses its
 * defaults, and each row's plan turns the normal answer into the fault the
 * contract describes (where it lands, how it ends, what headers go out). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mocks/mock_int.h"

#include <stdlib.h>
#include <string.h>

static struct mock_chat_req q;

static void base(struct mock_plan *p, int streamed)
{
    memset(p, 0, sizeof *p);
    p->status = 200;
    p->content_type = "application/json";
    p->fault_at_piece = p->fault_at_byte = -1;
    p->rl.limit_requests = p->rl.remaining_requests = -1;
    p->rl.limit_tokens = p->rl.remaining_tokens = -1;
    if (streamed) {
        p->streamed = 1;
        p->events = mock_sse_events(&q, "chatcmpl-t", 1, 4, "stop", &p->nevents);
    } else {
        p->body = mock_chat_body(&q, "chatcmpl-t", 1, 4, "stop");
        p->body_len = strlen(p->body);
    }
}

static struct mock_action act(const char *js)
{
    struct mock_action a;
    char err[256];
    json_t *j = json_loads(js, 0, NULL);
    if (mock_action_parse(j, "$", &a, err, sizeof err) != 0)
        fail_msg("%s: %s", js, err);
    json_decref(j);
    return a;
}

static void test_table_complete(void **state)
{
    const char *const *names = mock_action_names();
    int n = 0;
    for (; names[n]; n++) {
        const struct mock_action_kind *k = mock_action_find(names[n]);
        assert_non_null(k);
        assert_string_equal(k->name, names[n]);
        assert_ptr_equal(mock_action_kind(n), k);
        assert_non_null(k->parse);
        assert_non_null(k->plan);
    }
    assert_int_equal(n, MOCK_ACT_COUNT);
    assert_null(mock_action_find("nope"));
}

static void test_status_plan(void **state)
{
    struct mock_plan p;
    base(&p, 1);
    struct mock_action a = act("{\"type\":\"status\",\"code\":429,\"retry_after_s\":2,"
                               "\"retry_after_ms\":1500,\"ratelimit\":{\"remaining_requests\":0}}");
    mock_plan_apply(&a, &p);
    assert_int_equal(p.status, 429);
    assert_int_equal(p.streamed, 0); /* errors are JSON, never SSE */
    assert_null(p.events);
    assert_non_null(strstr(p.body, "rate_limit_exceeded"));
    assert_string_equal(p.retry_after, "2");
    assert_string_equal(p.retry_after_ms, "1500");
    assert_true(p.rl.present);
    assert_int_equal(p.rl.remaining_requests, 0);
    assert_int_equal(p.rl.limit_requests, -1);
    mock_plan_free(&p);
}

/* Retry-After as a date: the plan keeps the offset (the date is made when
 * the headers leave), the formatter writes RFC 9110's IMF-fixdate, and the
 * two spellings of one header are refused together. */
static void test_status_retry_after_date(void **state)
{
    struct mock_plan p;
    base(&p, 0);
    struct mock_action a = act("{\"type\":\"status\",\"code\":503,\"retry_after_date_s\":2}");
    mock_plan_apply(&a, &p);
    assert_int_equal(p.status, 503);
    assert_true(p.retry_after_date);
    assert_int_equal(p.retry_after_date_s, 2);
    assert_string_equal(p.retry_after, "");
    mock_plan_free(&p);
    base(&p, 0);
    a = act("{\"type\":\"status\",\"code\":429}");
    mock_plan_apply(&a, &p);
    assert_false(p.retry_after_date);
    mock_plan_free(&p);

    char d[MOCK_HTTP_DATE_LEN];
    mock_http_date(784111777, d, sizeof d); /* RFC 9110's own example */
    assert_string_equal(d, "Sun, 06 Nov 1994 08:49:37 GMT");
    mock_http_date(0, d, sizeof d);
    assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 GMT");
    mock_http_date(1796560802, d, sizeof d);
    assert_string_equal(d, "Sun, 06 Dec 2026 12:40:02 GMT");

    char err[256];
    json_t *j = json_loads("{\"type\":\"status\",\"code\":429,\"retry_after_s\":1,"
                           "\"retry_after_date_s\":2}",
                           0, NULL);
    assert_int_equal(mock_action_parse(j, "$", &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "retry_after_s or retry_after_date_s"));
    json_decref(j);
    j = json_loads("{\"type\":\"status\",\"code\":429,\"retry_after_date_s\":-1}", 0, NULL);
    assert_int_equal(mock_action_parse(j, "$", &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "$.retry_after_date_s"));
    json_decref(j);
}

static void test_fault_positions(void **state)
{
    struct {
        const char *js;
        int streamed;
        int fault;
        long at_piece, at_byte; /* -2: half the body */
    } cases[] = {
        {"{\"type\":\"reset\"}", 1, MOCK_FAULT_RESET, -1, -1},
        {"{\"type\":\"reset\",\"after_chunks\":2}", 1, MOCK_FAULT_RESET, 2, -1},
        {"{\"type\":\"reset\",\"after_bytes\":10}", 1, MOCK_FAULT_RESET, -1, 10},
        {"{\"type\":\"reset\",\"after_chunks\":2}", 0, MOCK_FAULT_RESET, -1, -2},
        {"{\"type\":\"close\"}", 1, MOCK_FAULT_CLOSE, -1, -1},
        {"{\"type\":\"cut\"}", 1, MOCK_FAULT_CUT, 1, -1},
        {"{\"type\":\"cut\",\"after_chunks\":3,\"broken_framing\":true}", 1, MOCK_FAULT_CUT_BROKEN,
         3, -1},
        {"{\"type\":\"cut\"}", 0, MOCK_FAULT_CUT, -1, -2},
        {"{\"type\":\"stall\",\"stall_ms\":30,\"after_chunks\":2}", 1, MOCK_FAULT_STALL, 2, -1},
        {"{\"type\":\"timeout\"}", 0, MOCK_FAULT_NEVER, -1, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mock_plan p;
        base(&p, cases[i].streamed);
        size_t half = p.body_len / 2;
        struct mock_action a = act(cases[i].js);
        mock_plan_apply(&a, &p);
        long want_byte = cases[i].at_byte == -2 ? (long)half : cases[i].at_byte;
        if (p.fault != cases[i].fault || p.fault_at_piece != cases[i].at_piece ||
            p.fault_at_byte != want_byte)
            fail_msg("case %zu %s: fault %d at piece %ld byte %ld", i, cases[i].js, p.fault,
                     p.fault_at_piece, p.fault_at_byte);
        mock_plan_free(&p);
    }
    struct mock_plan p;
    base(&p, 1);
    struct mock_action a = act("{\"type\":\"stall\",\"stall_ms\":30,\"then\":\"continue\"}");
    mock_plan_apply(&a, &p);
    assert_int_equal(p.stall_us, 30000);
    assert_true(p.stall_continue);
    mock_plan_free(&p);
    base(&p, 0);
    a = act("{\"type\":\"timeout\",\"after_ms\":250}");
    mock_plan_apply(&a, &p);
    assert_int_equal(p.fault, MOCK_FAULT_NONE);
    assert_int_equal(p.extra_delay_us, 250000);
    mock_plan_free(&p);
}

static void test_inband_malformed_slow(void **state)
{
    struct mock_plan p;
    base(&p, 1);
    struct mock_action a = act("{\"type\":\"inband_error\",\"after_chunks\":2,\"code\":\"boom\"}");
    mock_plan_apply(&a, &p);
    assert_int_equal(p.nevents, 3);
    assert_non_null(strstr(p.events[2], "data: {\"error\":"));
    assert_non_null(strstr(p.events[2], "\"boom\""));
    assert_int_equal(p.fault, MOCK_FAULT_CUT);
    assert_int_equal(p.fault_at_piece, 3);
    mock_plan_free(&p);

    base(&p, 0);
    mock_plan_apply(&a, &p);
    assert_int_equal(p.status, 200);
    assert_non_null(strstr(p.body, "{\"error\":"));
    mock_plan_free(&p);

    base(&p, 0);
    size_t full = p.body_len;
    a = act("{\"type\":\"malformed\"}");
    mock_plan_apply(&a, &p);
    assert_int_equal(p.body_len, full / 2);
    assert_null(json_loads(p.body, 0, NULL));
    mock_plan_free(&p);

    base(&p, 1);
    a = act("{\"type\":\"malformed\",\"what\":\"sse_event\",\"at\":2}");
    mock_plan_apply(&a, &p);
    assert_null(json_loads(p.events[2] + 6, 0, NULL));
    json_t *fine = json_loads(p.events[1] + 6, 0, NULL);
    assert_non_null(fine);
    json_decref(fine);
    mock_plan_free(&p);

    base(&p, 1);
    a = act("{\"type\":\"malformed\",\"what\":\"html\"}");
    mock_plan_apply(&a, &p);
    assert_string_equal(p.content_type, "text/html");
    assert_int_equal(p.streamed, 0);
    assert_non_null(strstr(p.body, "<html>"));
    mock_plan_free(&p);

    base(&p, 1);
    a = act("{\"type\":\"slow\",\"ttft_ms\":100,\"gap_ms\":20}");
    mock_plan_apply(&a, &p);
    assert_int_equal(p.ttft_us, 100000);
    assert_int_equal(p.gap_us, 20000);
    mock_plan_free(&p);
}

static int setup(void **state)
{
    char *err = NULL;
    const char *b = "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
    return mock_chat_parse(b, strlen(b), &q, &err);
}

/* echo_auth puts the Authorization value in the error message, the
 * header and Content-Type, the reply text, and a streamed event cut in the
 * middle of the value. */
static void test_echo_auth(void **state)
{
    struct mock_plan p;
    base(&p, 0);
    p.authorization = "Bearer sk-echo-1234";
    struct mock_action a = act("{\"type\":\"echo_auth\"}");
    mock_plan_apply(&a, &p);
    assert_int_equal(p.status, 401);
    assert_non_null(strstr(p.body, "Incorrect API key provided: Bearer sk-echo-1234"));
    assert_string_equal(p.echo_header, "Bearer sk-echo-1234");
    assert_non_null(strstr(p.content_type, "sk-echo-1234"));
    mock_plan_free(&p);
    base(&p, 1);
    p.authorization = "Bearer sk-echo-1234";
    size_t before = p.nevents;
    a = act("{\"type\":\"echo_auth\",\"code\":200}");
    mock_plan_apply(&a, &p);
    assert_int_equal(p.status, 200);
    assert_int_equal(p.nevents, before + 2);
    assert_null(strstr(p.events[1], "sk-echo-1234"));
    assert_null(strstr(p.events[2], "sk-echo-1234"));
    char joined[1024];
    snprintf(joined, sizeof joined, "%s%s", p.events[1], p.events[2]);
    assert_non_null(strstr(joined, "\"content\":\"Bearer sk-echo-1234\""));
    mock_plan_free(&p);
}

/* A header value with a control character is refused naming its path. */
static void test_header_value_controls(void **state)
{
    static const char *const bad[] = {"1s\\r\\nX: y", "1s\\n", "a\\tb", "\\u007f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char js[256], err[256];
        snprintf(js, sizeof js,
                 "{\"type\":\"status\",\"code\":429,\"ratelimit\":{\"reset_tokens\":\"%s\"}}",
                 bad[i]);
        json_t *j = json_loads(js, 0, NULL);
        assert_non_null(j);
        struct mock_action a;
        assert_int_equal(mock_action_parse(j, "$", &a, err, sizeof err), -1);
        assert_non_null(strstr(err, "$.ratelimit.reset_tokens"));
        json_decref(j);
    }
}

static void test_no_done_and_hold_body(void **state)
{
    struct mock_plan p;
    /* no_done: the stream keeps its finish_reason chunk and ends cleanly
     * right after it, without the [DONE] line. */
    base(&p, 1);
    size_t n = p.nevents;
    mock_plan_apply(&(struct mock_action){0}, &p); /* ok: unchanged */
    struct mock_action a = act("{\"type\":\"no_done\"}");
    mock_plan_apply(&a, &p);
    assert_int_equal(p.nevents, n - 1);
    assert_non_null(strstr(p.events[p.nevents - 1], "\"finish_reason\":\"stop\""));
    for (size_t i = 0; i < p.nevents; i++)
        assert_null(strstr(p.events[i], "[DONE]"));
    assert_int_equal(p.fault, MOCK_FAULT_NONE);
    mock_plan_free(&p);
    /* A non-streamed answer is left whole. */
    base(&p, 0);
    char *body = strdup(p.body);
    mock_plan_apply(&a, &p);
    assert_string_equal(p.body, body);
    free(body);
    mock_plan_free(&p);
    /* hold_body: a stall before the first body byte, streamed or not. */
    a = act("{\"type\":\"hold_body\",\"hold_ms\":1500}");
    assert_true(a.then_continue);
    for (int streamed = 0; streamed < 2; streamed++) {
        base(&p, streamed);
        mock_plan_apply(&a, &p);
        assert_int_equal(p.fault, MOCK_FAULT_STALL);
        assert_int_equal(p.fault_at_byte, 0);
        assert_int_equal(p.stall_us, 1500000);
        assert_true(p.stall_continue);
        mock_plan_free(&p);
    }
    a = act("{\"type\":\"hold_body\",\"hold_ms\":10,\"then\":\"close\"}");
    assert_false(a.then_continue);
    /* Errors name the field. */
    const char *bad[][2] = {{"{\"type\":\"hold_body\"}", "$.hold_ms"},
                            {"{\"type\":\"hold_body\",\"hold_ms\":-1}", "$.hold_ms"},
                            {"{\"type\":\"hold_body\",\"hold_ms\":5,\"then\":\"wait\"}", "$.then"},
                            {"{\"type\":\"no_done\",\"after_chunks\":2}", "after_chunks"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mock_action x;
        char err[256];
        json_t *j = json_loads(bad[i][0], 0, NULL);
        assert_int_equal(mock_action_parse(j, "$", &x, err, sizeof err), -1);
        if (!strstr(err, bad[i][1]))
            fail_msg("%s: '%s' does not name %s", bad[i][0], err, bad[i][1]);
        json_decref(j);
    }
}

/* The text of the content chunks of a stream, concatenated. */
static void stream_text(const struct mock_plan *p, char *out, size_t n)
{
    out[0] = '\0';
    for (size_t i = 0; i < p->nevents; i++) {
        const char *c = strstr(p->events[i], "\"delta\":{\"content\":\"");
        if (!c)
            continue;
        c += strlen("\"delta\":{\"content\":\"");
        snprintf(out + strlen(out), n - strlen(out), "%.*s", (int)strcspn(c, "\""), c);
    }
}

static size_t count_events(const struct mock_plan *p, const char *needle)
{
    size_t k = 0;
    for (size_t i = 0; i < p->nevents; i++)
        k += strstr(p->events[i], needle) != NULL;
    return k;
}

static void test_insert_malformed_and_duplicate(void **state)
{
    struct mock_plan p, ref;
    char want[512], got[512];
    base(&ref, 1);
    stream_text(&ref, want, sizeof want);
    /* insert_malformed: one more event, broken, before chunk "at"; every
     * token still there, in order. */
    base(&p, 1);
    struct mock_action a = act("{\"type\":\"insert_malformed\",\"at\":2}");
    mock_plan_apply(&a, &p);
    assert_int_equal(p.nevents, ref.nevents + 1);
    assert_non_null(strstr(p.events[2], "chatcmpl-broken"));
    assert_string_equal(p.events[3], ref.events[2]);
    stream_text(&p, got, sizeof got);
    assert_string_equal(got, want);
    assert_int_equal(p.fault, MOCK_FAULT_NONE);
    mock_plan_free(&p);
    /* Default at = 1; past the end it lands before [DONE]. */
    assert_int_equal(act("{\"type\":\"insert_malformed\"}").at, 1);
    base(&p, 1);
    a = act("{\"type\":\"insert_malformed\",\"at\":999}");
    mock_plan_apply(&a, &p);
    assert_non_null(strstr(p.events[p.nevents - 2], "chatcmpl-broken"));
    assert_string_equal(p.events[p.nevents - 1], "data: [DONE]\n\n");
    mock_plan_free(&p);
    /* duplicate_chunk: content chunk "at" twice in a row, clamped to the
     * content chunks (never the role, finish or usage chunk). */
    for (long at = 0; at < 9; at++) {
        char js[80];
        snprintf(js, sizeof js, "{\"type\":\"duplicate_chunk\",\"at\":%ld}", at);
        base(&p, 1);
        a = act(js);
        mock_plan_apply(&a, &p);
        size_t k = at < 1 ? 1 : at > 4 ? 4 : (size_t)at;
        assert_int_equal(p.nevents, ref.nevents + 1);
        assert_string_equal(p.events[k], p.events[k + 1]);
        assert_string_equal(p.events[k], ref.events[k]);
        assert_int_equal(count_events(&p, "\"finish_reason\":\"stop\""), 1);
        mock_plan_free(&p);
    }
    /* Both leave a non-streamed answer alone. */
    const char *js[] = {"{\"type\":\"insert_malformed\"}", "{\"type\":\"duplicate_chunk\"}",
                        "{\"type\":\"finish_without_done\"}"};
    for (size_t i = 0; i < 3; i++) {
        base(&p, 0);
        char *body = strdup(p.body);
        a = act(js[i]);
        mock_plan_apply(&a, &p);
        assert_string_equal(p.body, body);
        assert_int_equal(p.fault, MOCK_FAULT_NONE);
        free(body);
        mock_plan_free(&p);
    }
    mock_plan_free(&ref);
}

static void test_finish_without_done(void **state)
{
    struct mock_plan p;
    /* With include_usage the usage chunk goes too: the finish chunk is last. */
    q.include_usage = 1;
    base(&p, 1);
    size_t n = p.nevents;
    struct mock_action a = act("{\"type\":\"finish_without_done\"}");
    mock_plan_apply(&a, &p);
    assert_int_equal(p.nevents, n - 2);
    assert_non_null(strstr(p.events[p.nevents - 1], "\"finish_reason\":\"stop\""));
    assert_int_equal(count_events(&p, "\"usage\""), 0);
    assert_int_equal(count_events(&p, "[DONE]"), 0);
    assert_int_equal(p.fault, MOCK_FAULT_NONE);
    mock_plan_free(&p);
    q.include_usage = 0;
    base(&p, 1);
    n = p.nevents;
    mock_plan_apply(&a, &p);
    assert_int_equal(p.nevents, n - 1);
    mock_plan_free(&p);
}

static void test_silences(void **state)
{
    struct mock_plan p;
    /* headers_then_silence: a stall at body byte 0 that closes, bounded. */
    struct mock_action a = act("{\"type\":\"headers_then_silence\"}");
    assert_int_equal(a.stall_ms, 300000);
    a = act("{\"type\":\"headers_then_silence\",\"max_ms\":2500}");
    for (int streamed = 0; streamed < 2; streamed++) {
        base(&p, streamed);
        mock_plan_apply(&a, &p);
        assert_int_equal(p.status, 200);
        assert_int_equal(p.fault, MOCK_FAULT_STALL);
        assert_int_equal(p.fault_at_byte, 0);
        assert_int_equal(p.fault_at_piece, -1);
        assert_int_equal(p.stall_us, 2500000);
        assert_false(p.stall_continue);
        mock_plan_free(&p);
    }
    /* silence_then_close: a close before headers, after a delay. */
    assert_int_equal(act("{\"type\":\"silence_then_close\"}").after_ms, 1000);
    a = act("{\"type\":\"silence_then_close\",\"after_ms\":250}");
    base(&p, 1);
    mock_plan_apply(&a, &p);
    assert_int_equal(p.fault, MOCK_FAULT_CLOSE);
    assert_int_equal(p.fault_at_piece, -1);
    assert_int_equal(p.fault_at_byte, -1);
    assert_int_equal(p.extra_delay_us, 250000);
    mock_plan_free(&p);
}

static void test_error_in_200_and_drip(void **state)
{
    struct mock_plan p;
    struct mock_action a = act("{\"type\":\"error_in_200\"}");
    base(&p, 0);
    mock_plan_apply(&a, &p);
    assert_int_equal(p.status, 200);
    json_t *j = json_loads(p.body, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                        "server_error");
    assert_null(json_object_get(j, "choices"));
    json_decref(j);
    mock_plan_free(&p);
    a = act("{\"type\":\"error_in_200\",\"message\":\"m\",\"code\":\"c\",\"error_type\":\"t\"}");
    base(&p, 1);
    mock_plan_apply(&a, &p);
    assert_int_equal(p.status, 200);
    assert_true(p.streamed);
    assert_int_equal(p.nevents, 1);
    assert_string_equal(p.events[0], "data: {\"error\":{\"message\":\"m\",\"type\":\"t\","
                                     "\"param\":null,\"code\":\"c\"}}\n\n");
    mock_plan_free(&p);
    /* drip: only the rate; the body is untouched. */
    assert_int_equal(act("{\"type\":\"drip\"}").bytes_per_s, 100);
    a = act("{\"type\":\"drip\",\"bytes_per_s\":7}");
    base(&p, 1);
    size_t n = p.nevents;
    mock_plan_apply(&a, &p);
    assert_int_equal(p.drip_bps, 7);
    assert_int_equal(p.nevents, n);
    assert_int_equal(p.fault, MOCK_FAULT_NONE);
    mock_plan_free(&p);
    /* hop_headers: the normal answer, with headers for this hop only. */
    a = act("{\"type\":\"hop_headers\"}");
    base(&p, 0);
    size_t len = p.body_len;
    mock_plan_apply(&a, &p);
    assert_true(p.hop_headers);
    assert_int_equal(p.status, 200);
    assert_int_equal(p.body_len, len);
    assert_int_equal(p.fault, MOCK_FAULT_NONE);
    mock_plan_free(&p);
    /* Errors name the field and what was expected. */
    const char *bad[][2] = {
        {"{\"type\":\"hop_headers\",\"code\":200}", "$.code"},
        {"{\"type\":\"drip\",\"bytes_per_s\":0}", "$.bytes_per_s: expected an integer in [1, "},
        {"{\"type\":\"drip\",\"rate\":5}", "$.rate"},
        {"{\"type\":\"headers_then_silence\",\"max_ms\":0}", "$.max_ms"},
        {"{\"type\":\"silence_then_close\",\"after_ms\":\"1s\"}", "$.after_ms"},
        {"{\"type\":\"duplicate_chunk\",\"at\":-1}", "$.at"},
        {"{\"type\":\"insert_malformed\",\"what\":\"json\"}", "$.what"},
        {"{\"type\":\"error_in_200\",\"code\":5}", "$.code"},
        {"{\"type\":\"finish_without_done\",\"at\":1}", "$.at"},
        {"{\"type\":\"dirp\"}", "did you mean 'drip'"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mock_action x;
        char err[256];
        json_t *jj = json_loads(bad[i][0], 0, NULL);
        if (mock_action_parse(jj, "$", &x, err, sizeof err) == 0)
            fail_msg("%s: accepted", bad[i][0]);
        if (!strstr(err, bad[i][1]))
            fail_msg("%s: '%s' does not name %s", bad[i][0], err, bad[i][1]);
        json_decref(jj);
    }
    /* Each new fault stands alone as a sequence item, with its defaults. */
    const char *items[] = {"insert_malformed",
                           "finish_without_done",
                           "headers_then_silence",
                           "silence_then_close",
                           "duplicate_chunk",
                           "error_in_200",
                           "drip"};
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        struct mock_action x;
        char err[256];
        json_t *s = json_string(items[i]);
        if (mock_action_parse_item(s, "$[0]", &x, err, sizeof err) != 0)
            fail_msg("%s: %s", items[i], err);
        assert_string_equal(mock_action_kind(x.type)->name, items[i]);
        json_decref(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_complete),
        cmocka_unit_test(test_status_plan),
        cmocka_unit_test(test_status_retry_after_date),
        cmocka_unit_test(test_fault_positions),
        cmocka_unit_test(test_inband_malformed_slow),
        cmocka_unit_test(test_echo_auth),
        cmocka_unit_test(test_header_value_controls),
        cmocka_unit_test(test_no_done_and_hold_body),
        cmocka_unit_test(test_insert_malformed_and_duplicate),
        cmocka_unit_test(test_finish_without_done),
        cmocka_unit_test(test_silences),
        cmocka_unit_test(test_error_in_200_and_drip),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
