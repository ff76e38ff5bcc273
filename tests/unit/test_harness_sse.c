/* Unit tests for harness/sse.c: the client's reading of an SSE stream per
 * the WHATWG HTML standard, one case per framing a valid relay may use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness/sse.h"
#include "harness/traffic.h"

#include <stdio.h>
#include <string.h>

/* The events as "type|data" lines, in order. */
struct seen {
    char out[1024];
    size_t n;
};

static void record(void *ud, const char *type, size_t tlen, const char *data, size_t dlen)
{
    struct seen *s = ud;
    assert_int_equal(data[dlen], '\0');
    s->n += (size_t)snprintf(s->out + s->n, sizeof s->out - s->n, "%.*s|%.*s;", (int)tlen, type,
                             (int)dlen, data);
}

static const char *parse(const char *body, size_t *events)
{
    static struct seen s;
    memset(&s, 0, sizeof s);
    *events = harness_sse_parse(body, strlen(body), record, &s);
    return s.out;
}

static void test_sse_framings(void **state)
{
    (void)state;
    size_t n;
    struct {
        const char *body, *want;
        size_t events;
    } cases[] = {
        /* LF, with and without the space after "data:" */
        {"data: a\n\ndata:b\n\n", "message|a;message|b;", 2},
        /* one event over several data lines, joined with \n */
        {"data: {\"x\":\ndata: 1}\n\n", "message|{\"x\":\n1};", 1},
        /* CRLF and bare CR line ends */
        {"data: a\r\n\r\ndata: b\r\rdata: c\r\n\n", "message|a;message|b;message|c;", 3},
        /* comments, id: and retry: say nothing */
        {": keep-alive\n\nid: 7\nretry: 100\n:x\ndata: a\n\n", "message|a;", 1},
        /* event: names the type; an empty one is the default */
        {"event: completion\ndata: a\n\nevent:\ndata: b\n\n", "completion|a;message|b;", 2},
        /* an event without data is not dispatched; its type does not leak */
        {"event: error\n\ndata: a\n\n", "message|a;", 1},
        /* a last event without a blank line after it is discarded */
        {"data: a\n\ndata: b\n", "message|a;", 1},
        {"data: a\n\ndata: b", "message|a;", 1},
        /* a field without a colon is the whole line, with an empty value */
        {"data\ndata\n\n", "message|\n;", 1},
        /* one space only is removed; a BOM at the start is skipped */
        {"\xEF\xBB\xBF"
         "data:  a\n\n",
         "message| a;", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = parse(cases[i].body, &n);
        assert_string_equal(got, cases[i].want);
        assert_int_equal(n, cases[i].events);
    }
    assert_int_equal(harness_sse_parse(NULL, 0, record, NULL), 0);
}

static struct harness_req facts(const char *body)
{
    struct harness_req r;
    memset(&r, 0, sizeof r);
    r.stream = 1;
    r.status = 200;
    harness_body_facts(&r, body, strlen(body));
    r.outcome = harness_classify(&r);
    return r;
}

/* A relay that re-frames a whole answer the way the standard allows is
 * complete and its text is read as sent. */
static void test_reframed_answer(void **state)
{
    (void)state;
    struct harness_req r = facts(
        ": keep-alive\r\n\r\n"
        "event: completion\r\nid: 1\r\ndata: {\"choices\":[{\"delta\":\r\n"
        "data: {\"content\":\"Hel\"}}]}\r\n\r\n"
        "data:{\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\r\r"
        ": ping\r\n"
        "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],\r\n"
        "data: \"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\r\n"
        "\r\n"
        "event: done\r\ndata: [DONE]\r\n\r\n");
    assert_int_equal(r.outcome, HARNESS_OK);
    assert_true(r.done_marker);
    assert_false(r.bad_event);
    assert_string_equal(r.text, "Hello");
    assert_string_equal(r.finish, "stop");
    assert_true(r.usage_seen);
    assert_int_equal(r.usage_total, 5);
    /* [DONE] in an event the stream never ended is not read: cut. */
    r = facts("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: [DONE]");
    assert_false(r.done_marker);
    assert_int_equal(r.outcome, HARNESS_TRUNCATED);
    /* An event of type error is an in-band error, whatever its data. */
    r = facts("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
              "event: error\ndata: {\"message\":\"x\"}\n\ndata: [DONE]\n\n");
    assert_int_equal(r.outcome, HARNESS_INBAND_ERROR);
}

/* Events after the first data: [DONE] are counted (stream_ends_once): a
 * second [DONE], or a stream appended after the first ended. */
static void test_events_after_done(void **state)
{
    (void)state;
    const char *one = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n";
    char buf[512];
    struct harness_req r = facts(one);
    assert_int_equal(r.after_done, 0);
    snprintf(buf, sizeof buf, "%sdata: [DONE]\n\n", one);
    r = facts(buf);
    assert_int_equal(r.outcome, HARNESS_OK);
    assert_int_equal(r.after_done, 0);
    snprintf(buf, sizeof buf, "%sdata: [DONE]\n\ndata: [DONE]\n\n", one);
    r = facts(buf);
    assert_int_equal(r.after_done, 1);
    snprintf(buf, sizeof buf, "%sdata: [DONE]\n\n%sdata: [DONE]\n\n", one, one);
    r = facts(buf);
    assert_int_equal(r.after_done, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sse_framings),
        cmocka_unit_test(test_reframed_answer),
        cmocka_unit_test(test_events_after_done),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
