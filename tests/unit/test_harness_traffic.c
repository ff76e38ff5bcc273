/* Unit tests for the pure parts of harness/traffic.c and harness/runner.c:
 * the body facts of an answer (complete, [DONE], in-band error), the outcome
 * classification, and the --relay command template. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness/runner.h"
#include "harness/traffic.h"

#include <stdlib.h>
#include <string.h>

static struct harness_req facts(int stream, long status, int curl_rc, const char *body)
{
    struct harness_req r;
    memset(&r, 0, sizeof r);
    r.stream = stream;
    r.status = status;
    r.curl_rc = curl_rc;
    harness_body_facts(&r, body, body ? strlen(body) : 0);
    r.outcome = harness_classify(&r);
    return r;
}

static void test_json_answers(void **state)
{
    struct harness_req r = facts(0, 200, 0,
                                 "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":"
                                 "\"hi\"}}]}");
    assert_true(r.complete);
    assert_int_equal(r.outcome, HARNESS_OK);
    r = facts(0, 200, 0, "{\"choices\":[{\"message\":{\"role\":\"assis");
    assert_int_equal(r.outcome, HARNESS_TRUNCATED);
    r = facts(0, 200, 0, "<html>502 Bad Gateway</html>");
    assert_int_equal(r.outcome, HARNESS_TRUNCATED);
    r = facts(0, 200, 0, "{\"error\":{\"message\":\"x\"}}");
    assert_int_equal(r.outcome, HARNESS_INBAND_ERROR);
    r = facts(0, 503, 0, "{\"error\":{\"message\":\"x\"}}");
    assert_int_equal(r.outcome, HARNESS_HTTP_ERROR);
    r = facts(0, 0, 7, NULL);
    assert_int_equal(r.outcome, HARNESS_TRANSPORT);
    /* A complete-looking body whose transfer failed is not a success. */
    r = facts(0, 200, 18, "{\"choices\":[{\"message\":{\"content\":\"hi\"}}]}");
    assert_int_equal(r.outcome, HARNESS_TRUNCATED);
}

static void test_sse_answers(void **state)
{
    const char *ok = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
                     "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\r\n\r\n"
                     "data: [DONE]\n\n";
    struct harness_req r = facts(1, 200, 0, ok);
    assert_true(r.done_marker);
    assert_int_equal(r.outcome, HARNESS_OK);
    r = facts(1, 200, 0, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n");
    assert_false(r.done_marker);
    assert_int_equal(r.outcome, HARNESS_TRUNCATED);
    r = facts(1, 200, 0,
              "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
              "data: {\"error\":{\"message\":\"upstream cut\"}}\n\ndata: [DONE]\n\n");
    assert_true(r.inband_error);
    assert_int_equal(r.outcome, HARNESS_INBAND_ERROR);
    r = facts(1, 200, 0, "data: {\"choices\":[{\"delta\":\n\ndata: [DONE]\n\n");
    assert_int_equal(r.outcome, HARNESS_TRUNCATED);
    r = facts(1, 200, 0, "data: [DONE]\n\n");
    assert_int_equal(r.outcome, HARNESS_TRUNCATED); /* no content at all */
}

/* The error_shape check's judge of an error body. */
static void test_error_shape(void **state)
{
    char why[64];
    const char *ok =
        "{\"error\":{\"message\":\"Rate limit exceeded\",\"type\":\"rate_limit_error\","
        "\"param\":null,\"code\":\"rate_limit_exceeded\"}}";
    assert_int_equal(harness_error_shape(ok, strlen(ok), why, sizeof why), 1);
    assert_string_equal(why, "");
    struct {
        const char *body, *why;
    } bad[] = {
        {"", "empty body"},
        {"<html>502 Bad Gateway</html>", "not JSON"},
        {"{\"message\":\"boom\"}", "no \"error\" object"},
        {"{\"error\":\"boom\"}", "no \"error\" object"},
        {"{\"error\":{\"type\":\"x\"}}", "error.message is not a string"},
        {"{\"error\":{\"message\":\"x\",\"type\":3}}", "error.type is not a string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(harness_error_shape(bad[i].body, strlen(bad[i].body), why, sizeof why), 0);
        assert_string_equal(why, bad[i].why);
    }
}

/* Who served, from the body: the mock's stamp in system_fingerprint (or the
 * completion id) of a JSON answer and of every SSE chunk; X-Served-By wins
 * when present and a disagreement is recorded. */
static void test_served_from_body(void **state)
{
    struct harness_req r =
        facts(0, 200, 0,
              "{\"id\":\"chatcmpl-green-abc\",\"system_fingerprint\":"
              "\"fp_cutover_green\",\"choices\":[{\"message\":{\"content\":\"x\"}}]}");
    assert_string_equal(r.served_body, "green");
    assert_string_equal(r.served, "green");
    assert_int_equal(r.served_disagree, 0);
    r = facts(0, 200, 0, "{\"id\":\"chatcmpl-blue-abc\",\"choices\":[]}");
    assert_string_equal(r.served, "blue"); /* from the id alone */
    r = facts(1, 200, 0,
              "data: {\"id\":\"chatcmpl-blue-1\",\"system_fingerprint\":\"fp_cutover_blue\","
              "\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
              "data: {\"id\":\"chatcmpl-green-2\",\"system_fingerprint\":\"fp_cutover_green\","
              "\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\ndata: [DONE]\n\n");
    assert_string_equal(r.served_body, "mixed");
    assert_string_equal(r.served, ""); /* chunks of two colours name none */
    memset(&r, 0, sizeof r);
    snprintf(r.served_hdr, sizeof r.served_hdr, "blue");
    const char *green = "{\"system_fingerprint\":\"fp_cutover_green\"}";
    harness_body_facts(&r, green, strlen(green));
    assert_string_equal(r.served, "blue");
    assert_int_equal(r.served_disagree, 1);
    r = facts(0, 200, 0, "{\"system_fingerprint\":\"fp_other\",\"id\":\"x\"}");
    assert_string_equal(r.served, ""); /* an answer no mock stamped */
}

/* The error shape is a body fact: taken where answers are read, after the
 * traffic (harness_traffic_settle), not as they arrive. */
static void test_error_shape_as_body_fact(void **state)
{
    struct harness_req r = facts(0, 502, 0, "<html>502 Bad Gateway</html>");
    assert_int_equal(r.err_shape, 0);
    assert_string_equal(r.err_why, "not JSON");
    r = facts(0, 429, 0, "{\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit_error\"}}");
    assert_int_equal(r.err_shape, 1);
    assert_string_equal(r.err_why, "");
    r = facts(0, 200, 0, "{\"choices\":[{\"message\":{\"content\":\"x\"}}]}");
    assert_int_equal(r.err_shape, -1); /* no error to judge */
    r = facts(0, 0, 7, NULL);
    assert_int_equal(r.err_shape, -1); /* no answer at all */
}

/* The answer as a client reads it (issue 12): text, finish_reason, model,
 * usage and the error's type and code, in JSON and SSE. */
static void test_answer_facts_json(void **state)
{
    struct harness_req r = facts(
        0, 200, 0,
        "{\"model\":\"gpt-4.1\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
        "\"content\":\"amber birch.\"},\"finish_reason\":\"stop\"}],\"usage\":{"
        "\"prompt_tokens\":7,\"completion_tokens\":2,\"total_tokens\":9}}");
    assert_string_equal(r.text, "amber birch.");
    assert_int_equal(r.text_len, 12);
    assert_true(r.text_hash == harness_text_hash(HARNESS_TEXT_HASH0, "amber birch.", 12));
    assert_string_equal(r.finish, "stop");
    assert_string_equal(r.ans_model, "gpt-4.1");
    assert_true(r.usage_seen);
    assert_int_equal(r.usage_prompt, 7);
    assert_int_equal(r.usage_completion, 2);
    assert_int_equal(r.usage_total, 9);
    /* No usage object: none seen. */
    r = facts(0, 200, 0, "{\"choices\":[{\"message\":{\"content\":\"x\"}}]}");
    assert_false(r.usage_seen);
    assert_string_equal(r.finish, "");
    /* An error answer: its OpenAI type and code (a number as text). */
    r = facts(0, 400, 0,
              "{\"error\":{\"message\":\"m\",\"type\":\"invalid_request_error\",\"param\":null,"
              "\"code\":\"context_length_exceeded\"}}");
    assert_string_equal(r.err_type, "invalid_request_error");
    assert_string_equal(r.err_code, "context_length_exceeded");
    r = facts(0, 502, 0, "{\"error\":{\"message\":\"m\",\"type\":\"t\",\"code\":502}}");
    assert_string_equal(r.err_code, "502");
    r = facts(0, 502, 0, "<html>bad gateway</html>");
    assert_string_equal(r.err_type, "");
    assert_string_equal(r.err_code, "");
    /* A content that is not a string is no text. */
    r = facts(0, 200, 0, "{\"choices\":[{\"message\":{\"content\":7}}]}");
    assert_true(r.text_bad);
}

static void test_answer_facts_sse(void **state)
{
#define CH(d) "data: {\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":" d "}]}\n\n"
    struct harness_req r = facts(
        1, 200, 0,
        CH("{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null") CH(
            "{\"content\":\"amber\"},\"finish_reason\":null") CH("{\"content\":\" birch.\"}")
            CH("{},\"finish_reason\":\"length\"") "data: {\"model\":\"m\",\"choices\":[],\"usage\":"
                                                  "{\"prompt_tokens\":3,\"completion_tokens\":2}}"
                                                  "\n\ndata: [DONE]\n\n");
    assert_string_equal(r.text, "amber birch.");
    assert_int_equal(r.text_len, 12);
    assert_string_equal(r.finish, "length");
    assert_int_equal(r.finish_n, 1);
    assert_string_equal(r.ans_model, "m");
    assert_true(r.usage_seen);
    assert_int_equal(r.usage_total, -1);
    assert_true(r.done_marker);
    assert_int_equal(r.outcome, HARNESS_OK);
    /* A chunk naming another model makes the answer's model "(mixed)"; no
     * [DONE] is no complete answer for the classification (strict). */
    r = facts(1, 200, 0,
              CH("{\"content\":\"a\"}") "data: {\"model\":\"other\",\"choices\":[{\"delta\":{},"
                                        "\"finish_reason\":\"stop\"}]}\n\n");
    assert_string_equal(r.ans_model, "(mixed)");
    assert_string_equal(r.finish, "stop");
    assert_false(r.done_marker);
    assert_int_equal(r.outcome, HARNESS_TRUNCATED);
    /* An in-band error: its code; an event that is not JSON is marked. */
    r = facts(1, 200, 0,
              CH("{\"content\":\"a\"}") "data: {\"error\":{\"message\":\"m\",\"type\":"
                                        "\"server_error\",\"code\":\"stream_reset\"}}\n\n");
    assert_string_equal(r.err_code, "stream_reset");
    assert_string_equal(r.text, "a");
    r = facts(1, 200, 0, CH("{\"content\":\"a\"}") "data: {broken\n\ndata: [DONE]\n\n");
    assert_true(r.bad_event);
#undef CH
}

/* The id goes in "user" and at the end of the last user message; an
 * assistant prefill after it and the other fields stay as written. */
static void test_template_text(void **state)
{
    struct harness_template tp;
    memset(&tp, 0, sizeof tp);
    json_error_t je;
    tp.body = json_loads("{\"model\":\"m\",\"temperature\":0.2,\"messages\":[{\"role\":\"system\","
                         "\"content\":\"s\"},{\"role\":\"user\",\"content\":\"u\"},{\"role\":"
                         "\"assistant\",\"content\":\"Sure,\"}]}",
                         0, &je);
    char *t = harness_template_text(&tp, "ID");
    json_t *j = json_loads(t, 0, &je);
    assert_non_null(j);
    assert_non_null(strstr(t, "\"temperature\":0.2,")); /* not 0.20000000000000001 */
    assert_string_equal(json_string_value(json_object_get(j, "user")), "ID");
    json_t *msgs = json_object_get(j, "messages");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
                        "u [cutover-id:ID]");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 2), "content")),
                        "Sure,");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "content")),
                        "s");
    json_decref(j);
    free(t);
    /* The body's own "user" is kept; with no user message, the last string
     * content takes the marker. */
    json_decref(tp.body);
    tp.body = json_loads("{\"user\":\"mine\",\"messages\":[{\"role\":\"system\",\"content\":\"s\"},"
                         "{\"role\":\"tool\",\"content\":[{\"type\":\"text\"}]}]}",
                         0, &je);
    tp.own_user = 1;
    t = harness_template_text(&tp, "ID");
    j = json_loads(t, 0, &je);
    assert_string_equal(json_string_value(json_object_get(j, "user")), "mine");
    msgs = json_object_get(j, "messages");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "content")),
                        "s [cutover-id:ID]");
    json_decref(j);
    free(t);
    json_decref(tp.body);
}

/* The weighted pick: by weight, in list order. */
static void test_template_pick(void **state)
{
    struct harness_phase f;
    memset(&f, 0, sizeof f);
    assert_int_equal(harness_template_pick(&f, 0.9), 0);
    f.n_tpl = 3;
    f.tpl[0].weight = 1;
    f.tpl[1].weight = 2;
    f.tpl[2].weight = 1;
    assert_int_equal(harness_template_pick(&f, 0.0), 0);
    assert_int_equal(harness_template_pick(&f, 0.24), 0);
    assert_int_equal(harness_template_pick(&f, 0.26), 1);
    assert_int_equal(harness_template_pick(&f, 0.74), 1);
    assert_int_equal(harness_template_pick(&f, 0.76), 2);
    assert_int_equal(harness_template_pick(&f, 0.999999), 2);
}

static void test_expand_cmd(void **state)
{
    char *c = harness_expand_cmd("relay --blue {blue_url} --green {green_url} -p {port} "
                                 "--ev {events} {unknown}",
                                 "http://b/v1", "http://g/v1", 1234, "/tmp/e");
    assert_string_equal(c, "relay --blue http://b/v1 --green http://g/v1 -p 1234 --ev /tmp/e "
                           "{unknown}");
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answer_facts_json), cmocka_unit_test(test_answer_facts_sse),
        cmocka_unit_test(test_template_text),     cmocka_unit_test(test_template_pick),
        cmocka_unit_test(test_json_answers),      cmocka_unit_test(test_sse_answers),
        cmocka_unit_test(test_served_from_body),  cmocka_unit_test(test_expand_cmd),
        cmocka_unit_test(test_error_shape),       cmocka_unit_test(test_error_shape_as_body_fact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
