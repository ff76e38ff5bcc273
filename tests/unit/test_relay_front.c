/* Unit tests for relay_front: routes, the head checks (405 quoting any
 * bytes, Content-Length with Transfer-Encoding, declared length), trusted
 * proxy lists, and the rate-limit identity a client cannot choose. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay/relay_front.h"

#include <string.h>

static unsigned check(const char *method, const char *url, const char *cl, const char *te,
                      struct relay_front_verdict *v)
{
    struct relay_front_head h = {method, url, cl, te, 1000, cl ? 1 : 0};
    return relay_front_check(&h, v);
}

/* Two Content-Length fields (equal or not) are refused and the connection
 * closed: libmicrohttpd frames by the first, a proxy may by the last. */
static void test_duplicate_content_length(void **state)
{
    struct relay_front_verdict v;
    struct relay_front_head h = {"POST", "/v1/chat/completions", "10", NULL, 1000, 2};
    assert_int_equal(relay_front_check(&h, &v), 400);
    assert_string_equal(v.code, "invalid_request");
    assert_true(v.close);
    h.n_content_length = 1;
    assert_int_equal(relay_front_check(&h, &v), 0);
    (void)state;
}

static void test_head_checks(void **state)
{
    struct relay_front_verdict v;
    assert_int_equal(check("POST", "/v1/chat/completions", "10", NULL, &v), 0);
    assert_int_equal(v.route->kind, RF_PROXY);
    assert_int_equal(check("HEAD", "/health", NULL, NULL, &v), 0);
    assert_int_equal(check("GET", "/nope", NULL, NULL, &v), 404);
    assert_string_equal(v.code, "unknown_url");
    assert_int_equal(check("\xff", "/health", NULL, NULL, &v), 405);
    assert_string_equal(v.allow, "GET");
    assert_non_null(strstr(v.message, "Method \xff not allowed"));
    assert_int_equal(check("POST", "/v1/chat/completions", "4", "chunked", &v), 400);
    assert_true(v.close);
    assert_int_equal(check("POST", "/v1/chat/completions", "1001", NULL, &v), 413);
    assert_int_equal(check("PUT", "/admin/anything", NULL, NULL, &v), 0);
    assert_int_equal(v.route->kind, RF_ADMIN);
}

static void test_identity(void **state)
{
    struct relay_proxies tp;
    char why[128], id[64];
    assert_int_equal(relay_front_proxies_parse("127.0.0.1, ::1,10.0.0.9", &tp, why, sizeof why), 0);
    assert_int_equal(tp.n, 3);
    assert_int_equal(relay_front_proxies_parse("127.0.0.1,,", &tp, why, sizeof why), -1);
    assert_int_equal(relay_front_proxies_parse("localhost", &tp, why, sizeof why), -1);
    assert_int_equal(relay_front_proxies_parse("", &tp, why, sizeof why), 0);
    assert_int_equal(tp.n, 0);
    /* No trusted proxy: the header is ignored. */
    relay_front_identity("127.0.0.1", "1.2.3.4", &tp, id, sizeof id);
    assert_string_equal(id, "addr:127.0.0.1");
    relay_front_proxies_parse("127.0.0.1,10.0.0.9", &tp, why, sizeof why);
    relay_front_identity("127.0.0.1", "6.6.6.6, 1.2.3.4", &tp, id, sizeof id);
    assert_string_equal(id, "addr:1.2.3.4");
    /* Trusted hops on the right are skipped. */
    relay_front_identity("127.0.0.1", "6.6.6.6, 1.2.3.4, 10.0.0.9", &tp, id, sizeof id);
    assert_string_equal(id, "addr:1.2.3.4");
    /* Garbage stops the walk at the last good hop. */
    relay_front_identity("127.0.0.1", "1.2.3.4, garbage", &tp, id, sizeof id);
    assert_string_equal(id, "addr:127.0.0.1");
    /* An untrusted peer's header is ignored. */
    relay_front_identity("192.168.1.5", "1.2.3.4", &tp, id, sizeof id);
    assert_string_equal(id, "addr:192.168.1.5");
    relay_front_identity("", NULL, &tp, id, sizeof id);
    assert_string_equal(id, "addr:unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_checks),
        cmocka_unit_test(test_duplicate_content_length),
        cmocka_unit_test(test_identity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
