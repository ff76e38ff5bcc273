/* Unit tests for the journal ring: sequence numbers, the cap and the dropped
 * count, `since` paging across drops, the record's JSON shape and clear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mocks/mock_int.h"

#include <stdio.h>
#include <string.h>

static void add(struct mock_journal *j, int i)
{
    struct mock_record r;
    memset(&r, 0, sizeof r);
    r.attempt = -1;
    snprintf(r.method, sizeof r.method, "POST");
    snprintf(r.path, sizeof r.path, "/v1/chat/completions");
    snprintf(r.request_id, sizeof r.request_id, "rid-%d", i);
    snprintf(r.action, sizeof r.action, "ok");
    snprintf(r.end, sizeof r.end, "complete");
    r.status = 200;
    mock_journal_add(j, &r);
}

static void test_cap_and_dropped(void **state)
{
    struct mock_journal j;
    mock_journal_init(&j, 3);
    for (int i = 0; i < 5; i++)
        add(&j, i);
    assert_int_equal(j.count, 3);
    assert_int_equal(j.dropped, 2);
    assert_int_equal(j.next_seq, 5);
    json_t *a = mock_journal_json(&j, 0);
    assert_int_equal(json_array_size(a), 3);
    /* The oldest went; what stays is in order. */
    for (size_t i = 0; i < 3; i++) {
        json_t *r = json_array_get(a, i);
        assert_int_equal(json_integer_value(json_object_get(r, "seq")), 2 + (int)i);
        char want[16];
        snprintf(want, sizeof want, "rid-%zu", 2 + i);
        assert_string_equal(json_string_value(json_object_get(r, "request_id")), want);
    }
    json_decref(a);
    /* since inside, before and past what the ring still holds, with the
     * ring wrapped (head is not at index 0). */
    uint64_t next = 0;
    a = mock_journal_page(&j, 3, 0, &next);
    assert_int_equal(json_array_size(a), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "seq")), 3);
    assert_int_equal(next, 5);
    json_decref(a);
    a = mock_journal_page(&j, 1, 1, &next);
    assert_int_equal(json_array_size(a), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "seq")), 2);
    assert_int_equal(next, 3);
    json_decref(a);
    a = mock_journal_page(&j, UINT64_MAX, 0, &next);
    assert_int_equal(json_array_size(a), 0);
    assert_int_equal(next, 5);
    json_decref(a);
    mock_journal_free(&j);
}

static void test_since(void **state)
{
    struct mock_journal j;
    mock_journal_init(&j, 10);
    for (int i = 0; i < 6; i++)
        add(&j, i);
    json_t *a = mock_journal_json(&j, 4);
    assert_int_equal(json_array_size(a), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "seq")), 4);
    json_decref(a);
    a = mock_journal_json(&j, 6);
    assert_int_equal(json_array_size(a), 0);
    json_decref(a);
    /* Paging: at most limit records, and where to go on from. */
    uint64_t next = 0;
    a = mock_journal_page(&j, 1, 2, &next);
    assert_int_equal(json_array_size(a), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 1), "seq")), 2);
    assert_int_equal(next, 3);
    json_decref(a);
    a = mock_journal_page(&j, 3, 100, &next);
    assert_int_equal(json_array_size(a), 3);
    assert_int_equal(next, 6);
    json_decref(a);
    mock_journal_clear(&j);
    assert_int_equal(j.count, 0);
    assert_int_equal(j.dropped, 0);
    add(&j, 9);
    a = mock_journal_json(&j, 0);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "seq")), 0);
    json_decref(a);
    mock_journal_free(&j);
}

static void test_record_json(void **state)
{
    struct mock_record r;
    memset(&r, 0, sizeof r);
    r.seq = 7;
    r.t_arrival_us = 100;
    r.t_done_us = 250;
    snprintf(r.method, sizeof r.method, "POST");
    snprintf(r.path, sizeof r.path, "/v1/chat/completions");
    snprintf(r.user, sizeof r.user, "u1");
    snprintf(r.env, sizeof r.env, "blue");
    snprintf(r.model, sizeof r.model, "gpt-4.1");
    snprintf(r.rule, sizeof r.rule, "boom");
    snprintf(r.action, sizeof r.action, "reset");
    snprintf(r.end, sizeof r.end, "reset");
    r.attempt = 2;
    r.stream = 1;
    r.bytes = 525;
    r.chunks = 2;
    r.auth = 1;
    r.key = "configured";
    r.conn = 3;
    r.max_tokens = -1;
    r.messages_hash = 0xabcdef;
    r.prompt_chars = 42;
    r.messages = 3;
    r.prompt_tokens = 12;
    r.completion_tokens = 16;
    snprintf(r.finish, sizeof r.finish, "stop");
    json_t *o = mock_record_json(&r);
    const char *keys[] = {
        "seq",      "t_arrival_us", "t_done_us",     "method",     "path",          "request_id",
        "id_via",   "user",         "attempt",       "env",        "model",         "stream",
        "rule",     "action",       "status",        "bytes",      "chunks",        "end",
        "auth",     "key",          "conn",          "max_tokens", "messages_hash", "prompt_chars",
        "messages", "usage",        "finish_reason", "fields"};
    assert_int_equal(json_object_size(o), sizeof keys / sizeof keys[0]);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_non_null(json_object_get(o, keys[i]));
    assert_true(json_is_null(json_object_get(o, "request_id")));
    assert_true(json_is_null(json_object_get(o, "id_via")));
    assert_int_equal(json_integer_value(json_object_get(o, "prompt_chars")), 42);
    assert_int_equal(json_integer_value(json_object_get(o, "messages")), 3);
    assert_int_equal(json_integer_value(json_object_get(o, "attempt")), 2);
    assert_true(json_is_true(json_object_get(o, "stream")));
    assert_true(json_is_true(json_object_get(o, "auth")));
    assert_string_equal(json_string_value(json_object_get(o, "end")), "reset");
    assert_int_equal(json_integer_value(json_object_get(o, "chunks")), 2);
    /* What the forwarded and connection_reuse checks read; never the key. */
    assert_string_equal(json_string_value(json_object_get(o, "key")), "configured");
    assert_int_equal(json_integer_value(json_object_get(o, "conn")), 3);
    assert_true(json_is_null(json_object_get(o, "max_tokens")));
    assert_string_equal(json_string_value(json_object_get(o, "messages_hash")), "0000000000abcdef");
    /* What the answer counted: the usage and finish checks compare the client's. */
    json_t *u = json_object_get(o, "usage");
    assert_int_equal(json_integer_value(json_object_get(u, "prompt_tokens")), 12);
    assert_int_equal(json_integer_value(json_object_get(u, "completion_tokens")), 16);
    assert_string_equal(json_string_value(json_object_get(o, "finish_reason")), "stop");
    json_decref(o);
    r.completion_tokens = -1;
    r.finish[0] = '\0';
    o = mock_record_json(&r);
    assert_true(json_is_null(json_object_get(o, "usage")));
    assert_true(json_is_null(json_object_get(o, "finish_reason")));
    json_decref(o);
    r.attempt = -1;
    o = mock_record_json(&r);
    assert_true(json_is_null(json_object_get(o, "attempt")));
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap_and_dropped),
        cmocka_unit_test(test_since),
        cmocka_unit_test(test_record_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
