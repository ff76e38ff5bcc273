/* Unit tests for the OpenAI body builders: request parsing and its 400s, the
 * deterministic reply, the chat.completion body, the SSE chunks (one id, one
 * created, role first, finish, usage, [DONE]) and the error bodies per
 * status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "co_json.h"
#include "co_mem.h"
#include "mocks/mock_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct mock_chat_req req(const char *body)
{
    struct mock_chat_req q;
    char *err = NULL;
    if (mock_chat_parse(body, strlen(body), &q, &err) != 0)
        fail_msg("parse failed: %s", err);
    return q;
}

static void test_parse(void **state)
{
    struct mock_chat_req q = req("{\"model\":\"gpt-4.1\",\"stream\":true,\"stream_options\":"
                                 "{\"include_usage\":true},\"max_tokens\":7,\"user\":\"rid-1\","
                                 "\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}");
    assert_string_equal(q.model, "gpt-4.1");
    assert_int_equal(q.stream, 1);
    assert_int_equal(q.include_usage, 1);
    assert_int_equal(q.max_tokens, 7);
    assert_string_equal(q.user, "rid-1");
    assert_true(q.prompt_tokens > 0);
    struct mock_chat_req q2 = req("{\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}");
    assert_int_equal(q2.stream, 0);
    assert_int_equal(q2.max_tokens, -1);
    assert_true(q.hash == q2.hash); /* the reply depends on the messages only */
    struct mock_chat_req q3 = req("{\"messages\":[{\"role\":\"user\",\"content\":\"hellO\"}]}");
    assert_true(q3.hash != q2.hash);
}

static void test_parse_errors(void **state)
{
    struct {
        const char *body, *param, *msg_part;
    } cases[] = {
        {"{not json", NULL, "could not parse the JSON body"},
        {"[1]", NULL, "must be a JSON object"},
        {"{\"model\":\"x\"}", "messages", "Missing required parameter: 'messages'"},
        {"{\"messages\":[]}", "messages", "non-empty array"},
        {"{\"messages\":[{}],\"model\":5}", "model", "'model' must be a string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mock_chat_req q;
        char *err = NULL;
        assert_int_equal(mock_chat_parse(cases[i].body, strlen(cases[i].body), &q, &err), 400);
        json_t *e = json_loads(err, 0, NULL);
        assert_non_null(e);
        json_t *o = json_object_get(e, "error");
        assert_string_equal(json_string_value(json_object_get(o, "type")), "invalid_request_error");
        assert_non_null(
            strstr(json_string_value(json_object_get(o, "message")), cases[i].msg_part));
        if (cases[i].param)
            assert_string_equal(json_string_value(json_object_get(o, "param")), cases[i].param);
        else
            assert_true(json_is_null(json_object_get(o, "param")));
        assert_non_null(json_object_get(o, "code"));
        json_decref(e);
        free(err);
    }
}

static void test_reply_text(void **state)
{
    struct co_buf a, b;
    co_buf_init(&a, 0);
    co_buf_init(&b, 0);
    mock_reply_text(1234, 10, &a);
    mock_reply_text(1234, 10, &b);
    assert_string_equal(a.data, b.data);
    assert_int_equal(a.data[a.len - 1], '.');
    /* Ten words: nine spaces, and a truncated reply has no final stop. */
    int spaces = 0;
    for (size_t i = 0; i < a.len; i++)
        spaces += a.data[i] == ' ';
    assert_int_equal(spaces, 9);
    co_buf_reset(&b);
    mock_reply_text(1235, 10, &b);
    assert_string_not_equal(a.data, b.data);
    co_buf_free(&a);
    co_buf_free(&b);
}

/* The reply text is gathered in blocks: over several blocks (200 tokens,
 * about 1.4 KB) it is still the tokens a stream sends, one after another. */
static void test_reply_text_blocks(void **state)
{
    for (long n = 1; n <= 200; n += 199) {
        struct co_buf a, b;
        co_buf_init(&a, 0);
        co_buf_init(&b, 0);
        mock_reply_text(99, n, &a);
        char tok[32];
        for (long i = 0; i < n; i++) {
            mock_reply_token(99, i, n, tok, sizeof tok);
            co_buf_puts(&b, tok);
        }
        assert_true(n == 1 || a.len > 1024);
        assert_int_equal(a.len, b.len);
        assert_string_equal(a.data, b.data);
        co_buf_free(&a);
        co_buf_free(&b);
    }
}

/* The correlation marker: the last one in the last message wins; a broken
 * one is no id.  Answers carry the mock's name when stamped. */
static void test_marker_and_stamp(void **state)
{
    char id[64];
    assert_int_equal(mock_find_marker("hello [cutover-id:r1-0-7]", id, sizeof id), 1);
    assert_string_equal(id, "r1-0-7");
    assert_int_equal(mock_find_marker("[cutover-id:a] then [cutover-id:b]", id, sizeof id), 1);
    assert_string_equal(id, "b");
    assert_int_equal(mock_find_marker("[cutover-id:no end", id, sizeof id), 0);
    assert_int_equal(mock_find_marker("[cutover-id:]", id, sizeof id), 0);
    assert_int_equal(mock_find_marker("plain", id, sizeof id), 0);
    struct mock_chat_req q =
        req("{\"messages\":[{\"role\":\"system\",\"content\":\"[cutover-id:old]\"},"
            "{\"role\":\"user\",\"content\":\"hi [cutover-id:r9]\"}],\"user\":\"u\"}");
    assert_string_equal(q.marker, "r9");
    assert_string_equal(q.user, "u");
    /* A relay that appended a message of its own: the client's marker still counts. */
    struct mock_chat_req q2 =
        req("{\"messages\":[{\"role\":\"user\",\"content\":\"hi [cutover-id:r3]\"},"
            "{\"role\":\"system\",\"content\":\"be brief\"}]}");
    assert_string_equal(q2.marker, "r3");
    snprintf(q.stamp, sizeof q.stamp, "green");
    char *s = mock_chat_body(&q, "chatcmpl-green-x", 1, 2, "stop");
    json_t *j = json_loads(s, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "system_fingerprint")),
                        "fp_cutover_green");
    json_decref(j);
    free(s);
    size_t n;
    char **ev = mock_sse_events(&q, "chatcmpl-green-x", 1, 2, "stop", &n);
    for (size_t i = 0; i + 1 < n; i++) /* every chunk but [DONE] */
        assert_non_null(strstr(ev[i], "\"system_fingerprint\":\"fp_cutover_green\""));
    for (size_t i = 0; i < n; i++)
        free(ev[i]);
    free(ev);
}

static void test_chat_body(void **state)
{
    struct mock_chat_req q =
        req("{\"model\":\"m\\\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    char *s = mock_chat_body(&q, "chatcmpl-abc", 1700000000, 5, "stop");
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "id")), "chatcmpl-abc");
    assert_string_equal(json_string_value(json_object_get(j, "object")), "chat.completion");
    assert_int_equal(json_integer_value(json_object_get(j, "created")), 1700000000);
    assert_string_equal(json_string_value(json_object_get(j, "model")), "m\"x");
    json_t *c0 = json_array_get(json_object_get(j, "choices"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "finish_reason")), "stop");
    json_t *msg = json_object_get(c0, "message");
    assert_string_equal(json_string_value(json_object_get(msg, "role")), "assistant");
    struct co_buf t;
    co_buf_init(&t, 0);
    mock_reply_text(q.hash, 5, &t);
    assert_string_equal(json_string_value(json_object_get(msg, "content")), t.data);
    json_t *u = json_object_get(j, "usage");
    assert_int_equal(json_integer_value(json_object_get(u, "completion_tokens")), 5);
    assert_int_equal(json_integer_value(json_object_get(u, "total_tokens")),
                     json_integer_value(json_object_get(u, "prompt_tokens")) + 5);
    co_buf_free(&t);
    json_decref(j);
    free(s);
}

/* The model goes into the body as jansson would write it, whatever its
 * bytes: plain ASCII is copied, anything else goes through jansson. */
static void test_chat_body_model_literal(void **state)
{
    static const char *const models[] = {
        "gpt-4.1", "org/model:v1 beta", "tab\there", "quote\"back\\slash",
        "del\x7f", "mod\xc3\xa8le",     "cut\xc3",   ""};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        struct mock_chat_req q = req("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        mock_scopy(q.model, sizeof q.model, models[i]);
        char *s = mock_chat_body(&q, "chatcmpl-abc", 1700000000, 3, "length");
        json_t *want = co_json_str(models[i]);
        char *lit = json_dumps(want, JSON_ENCODE_ANY);
        char *field = co_asprintf(",\"model\":%s,\"system_fingerprint\"", lit);
        if (!strstr(s, field))
            fail_msg("model %zu: %s not in %s", i, field, s);
        json_t *j = json_loads(s, 0, NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "model")),
                            json_string_value(want));
        json_t *u = json_object_get(j, "usage");
        assert_int_equal(json_integer_value(json_object_get(u, "completion_tokens")), 3);
        assert_int_equal(json_integer_value(json_object_get(u, "prompt_tokens")), q.prompt_tokens);
        json_decref(j);
        json_decref(want);
        free(field);
        free(lit);
        free(s);
    }
}

static void check_sse(int include_usage)
{
    struct mock_chat_req q =
        req(include_usage ? "{\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                            "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
                          : "{\"stream\":true,\"messages\":[{\"role\":\"user\","
                            "\"content\":\"hi\"}]}");
    size_t n;
    char **ev = mock_sse_events(&q, "chatcmpl-X", 1700000001, 4, "stop", &n);
    assert_int_equal(n, 1 + 4 + 1 + (size_t)include_usage + 1);
    struct co_buf text, want;
    co_buf_init(&text, 0);
    co_buf_init(&want, 0);
    mock_reply_text(q.hash, 4, &want);
    for (size_t i = 0; i + 1 < n; i++) {
        assert_memory_equal(ev[i], "data: ", 6);
        size_t l = strlen(ev[i]);
        assert_string_equal(ev[i] + l - 2, "\n\n");
        json_t *j = json_loadb(ev[i] + 6, l - 8, 0, NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "id")), "chatcmpl-X");
        assert_int_equal(json_integer_value(json_object_get(j, "created")), 1700000001);
        assert_string_equal(json_string_value(json_object_get(j, "object")),
                            "chat.completion.chunk");
        json_t *ch = json_object_get(j, "choices");
        json_t *c0 = json_array_get(ch, 0);
        json_t *delta = json_object_get(c0, "delta");
        if (i == 0)
            assert_string_equal(json_string_value(json_object_get(delta, "role")), "assistant");
        else if (i <= 4)
            co_buf_puts(&text, json_string_value(json_object_get(delta, "content")));
        else if (i == 5)
            assert_string_equal(json_string_value(json_object_get(c0, "finish_reason")), "stop");
        else {
            assert_int_equal(json_array_size(ch), 0);
            assert_int_equal(json_integer_value(
                                 json_object_get(json_object_get(j, "usage"), "completion_tokens")),
                             4);
        }
        if (i < 5)
            assert_true(json_is_null(json_object_get(c0, "finish_reason")));
        json_decref(j);
    }
    assert_string_equal(text.data, want.data);
    assert_string_equal(ev[n - 1], "data: [DONE]\n\n");
    for (size_t i = 0; i < n; i++)
        free(ev[i]);
    free(ev);
    co_buf_free(&text);
    co_buf_free(&want);
}

static void test_sse(void **state)
{
    check_sse(0);
    check_sse(1);
}

static void test_status_bodies(void **state)
{
    struct {
        int status;
        const char *code_in, *type, *code;
    } cases[] = {
        {401, "", "invalid_request_error", "invalid_api_key"},
        {429, "", "requests", "rate_limit_exceeded"},
        {429, "insufficient_quota", "insufficient_quota", "insufficient_quota"},
        {500, "", "server_error", "server_error"},
        {503, "", "server_error", "overloaded"},
        {418, "", "invalid_request_error", NULL},
        {599, "", "server_error", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = mock_status_body(cases[i].status, cases[i].code_in, "");
        json_t *j = json_loads(s, 0, NULL);
        json_t *e = json_object_get(j, "error");
        assert_string_equal(json_string_value(json_object_get(e, "type")), cases[i].type);
        if (cases[i].code)
            assert_string_equal(json_string_value(json_object_get(e, "code")), cases[i].code);
        else
            assert_true(json_is_null(json_object_get(e, "code")));
        assert_true(json_string_length(json_object_get(e, "message")) > 0);
        assert_true(json_is_null(json_object_get(e, "param")));
        json_decref(j);
        free(s);
    }
    char *s = mock_status_body(500, "", "custom words");
    assert_non_null(strstr(s, "custom words"));
    free(s);
    s = mock_sse_error_event("m", "c");
    assert_string_equal(s, "data: {\"error\":{\"message\":\"m\",\"type\":\"server_error\","
                           "\"param\":null,\"code\":\"c\"}}\n\n");
    free(s);
}

static void test_models_and_duration(void **state)
{
    char *s = mock_models_body(NULL);
    json_t *j = json_loads(s, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "object")), "list");
    assert_true(json_array_size(json_object_get(j, "data")) >= 4);
    json_decref(j);
    free(s);
    char d[32];
    mock_fmt_duration(0, d, sizeof d);
    assert_string_equal(d, "0ms");
    mock_fmt_duration(250, d, sizeof d);
    assert_string_equal(d, "250ms");
    mock_fmt_duration(1000, d, sizeof d);
    assert_string_equal(d, "1s");
    mock_fmt_duration(1500, d, sizeof d);
    assert_string_equal(d, "1.5s");
    mock_fmt_duration(60000, d, sizeof d);
    assert_string_equal(d, "1m0s");
    mock_fmt_duration(90500, d, sizeof d);
    assert_string_equal(d, "1m30.5s");
    mock_fmt_duration(3723000, d, sizeof d);
    assert_string_equal(d, "1h2m3s");
}

/* The journal's prompt size: code points of every content, the text parts
 * of an array content, a message count; the parsed body on request. */
static void test_prompt_size(void **state)
{
    struct mock_chat_req q;
    char *err = NULL;
    json_t *doc = NULL;
    const char *body = "{\"messages\":[{\"role\":\"system\",\"content\":\"h\\u00e9llo\"},"
                       "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"ab\"},"
                       "{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}},"
                       "{\"type\":\"text\",\"text\":\"cd\"}]},"
                       "{\"role\":\"assistant\",\"content\":null}]}";
    assert_int_equal(mock_chat_parse_doc(body, strlen(body), &q, &err, &doc), 0);
    assert_int_equal(q.messages, 3);
    assert_int_equal(q.prompt_chars, 5 + 5); /* "héllo" + "ab\ncd" */
    assert_non_null(doc);
    char *t = mock_message_text(json_array_get(json_object_get(doc, "messages"), 1));
    assert_string_equal(t, "ab\ncd");
    free(t);
    json_decref(doc);
    doc = NULL;
    assert_int_equal(mock_chat_parse_doc("{}", 2, &q, &err, &doc), 400);
    assert_null(doc);
    free(err);
}

/* The journal's "fields": a body's other fields as compact sorted JSON,
 * without the ones judged apart; too long for the record: none. */
static void test_body_fields(void **state)
{
    (void)state;
    char out[64];
    json_error_t je;
    json_t *b = json_loads("{\"model\":\"m\",\"messages\":[],\"user\":\"u\",\"stream\":true,"
                           "\"max_tokens\":3,\"tools\":[1],\"temperature\":0.5}",
                           0, &je);
    assert_int_equal(mock_body_fields(b, out, sizeof out), 0);
    assert_string_equal(out, "{\"temperature\":0.5,\"tools\":[1]}");
    assert_int_equal(mock_body_fields(b, out, 10), -1);
    assert_string_equal(out, "");
    json_decref(b);
    b = json_loads("{\"model\":\"m\",\"messages\":[]}", 0, &je);
    assert_int_equal(mock_body_fields(b, out, sizeof out), 0);
    assert_string_equal(out, "{}");
    /* The no-other-field shortcut keeps the bounds of the dump: "{}" needs 3. */
    assert_int_equal(mock_body_fields(b, out, 3), 0);
    assert_string_equal(out, "{}");
    assert_int_equal(mock_body_fields(b, out, 2), -1);
    assert_string_equal(out, "");
    json_decref(b);
    b = json_loads("{}", 0, &je);
    assert_int_equal(mock_body_fields(b, out, sizeof out), 0);
    assert_string_equal(out, "{}");
    json_decref(b);
    assert_int_equal(mock_body_fields(NULL, out, sizeof out), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_reply_text),
        cmocka_unit_test(test_reply_text_blocks),
        cmocka_unit_test(test_marker_and_stamp),
        cmocka_unit_test(test_chat_body),
        cmocka_unit_test(test_chat_body_model_literal),
        cmocka_unit_test(test_sse),
        cmocka_unit_test(test_status_bodies),
        cmocka_unit_test(test_models_and_duration),
        cmocka_unit_test(test_prompt_size),
        cmocka_unit_test(test_body_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
