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
        cmocka_unit_test(test_json_answers),     cmocka_unit_test(test_sse_answers),
        cmocka_unit_test(test_served_from_body), cmocka_unit_test(test_expand_cmd),
        cmocka_unit_test(test_error_shape),      cmocka_unit_test(test_error_shape_as_body_fact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
