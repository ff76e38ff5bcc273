/* Unit tests for relay_metrics: the seed's JSON per colour (success rate
 * bounded, averages), Prometheus text with escaped labels, cumulative
 * histogram buckets, cost from prices, and the cap on series that clients
 * can create by inventing model names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "co_json.h"
#include "relay/relay_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct relay_switch sw(void)
{
    struct relay_switch s;
    struct relay_switch_cfg c = {.after_failures = 1, .rise = 1, .fall = 1};
    relay_switch_init(&s, &c, RELAY_BLUE, 0);
    return s;
}

static void test_json_per_colour(void **state)
{
    struct relay_metrics *m = relay_metrics_new();
    struct relay_switch s = sw();
    relay_metrics_attempt(m, RELAY_BLUE, 1, 2000);
    relay_metrics_attempt(m, RELAY_BLUE, 0, 4000);
    relay_metrics_attempt(m, RELAY_BLUE, 1, 6000);
    relay_metrics_attempt(m, RELAY_BLUE, 1, 8000);
    json_t *j = relay_metrics_json(m, &s, 0);
    json_t *b = json_object_get(json_object_get(j, "environments"), "blue");
    json_t *g = json_object_get(json_object_get(j, "environments"), "green");
    assert_int_equal(json_integer_value(json_object_get(b, "total_requests")), 4);
    assert_int_equal(json_integer_value(json_object_get(b, "error_count")), 1);
    assert_true(json_real_value(json_object_get(b, "success_rate")) == 75.0);
    assert_true(json_real_value(json_object_get(b, "avg_latency_ms")) == 5.0);
    assert_true(json_is_true(json_object_get(b, "healthy")));
    /* No traffic: 100%, never negative or NaN. */
    assert_int_equal(json_integer_value(json_object_get(g, "total_requests")), 0);
    assert_true(json_real_value(json_object_get(g, "success_rate")) == 100.0);
    assert_null(json_object_get(json_object_get(j, "environments"), "direct"));
    assert_string_equal(json_string_value(json_object_get(j, "active_environment")), "blue");
    assert_non_null(json_object_get(j, "timestamp"));
    json_decref(j);
    relay_metrics_free(&m);
    assert_null(m);
}

static void test_prometheus_text(void **state)
{
    struct relay_metrics *m = relay_metrics_new();
    struct relay_switch s = sw();
    relay_metrics_request(m, RELAY_GREEN, "gpt-4.1", 200, 3000);   /* 3 ms */
    relay_metrics_request(m, RELAY_GREEN, "gpt-4.1", 200, 200000); /* 200 ms */
    relay_metrics_request(m, RELAY_NENV, NULL, 503, 1000);
    relay_metrics_request(m, RELAY_BLUE, "we\"ird\\mo\ndel", 200, 1000);
    relay_metrics_switch(m, RELAY_BLUE, RELAY_GREEN, "upstream_503");
    relay_metrics_retry(m, RELAY_BLUE, "upstream_503");
    relay_metrics_rate_limited(m);
    relay_metrics_tokens(m, "gpt-4.1", 1000000, 500000, 8.0);
    relay_metrics_tokens(m, "free-model", 10, 10, -1);
    struct co_buf b;
    co_buf_init(&b, 0);
    relay_metrics_prometheus(m, &s, &b);
    const char *t = b.data;
    assert_non_null(strstr(t, "# TYPE holysheep_requests_total counter\n"));
    assert_non_null(strstr(
        t, "holysheep_requests_total{environment=\"green\",model=\"gpt-4.1\",status=\"200\"} 2\n"));
    assert_non_null(strstr(
        t, "holysheep_requests_total{environment=\"none\",model=\"unknown\",status=\"503\"} 1\n"));
    /* Escaped as the exposition format asks. */
    assert_non_null(strstr(t, "model=\"we\\\"ird\\\\mo\\ndel\""));
    /* Buckets are cumulative: 3 ms in le=0.005 and above, 200 ms from 0.25. */
    const char *l =
        "holysheep_request_latency_seconds_bucket{environment=\"green\",model=\"gpt-4.1\",";
    char want[256];
    snprintf(want, sizeof want, "%sle=\"0.005\"} 1\n", l);
    assert_non_null(strstr(t, want));
    snprintf(want, sizeof want, "%sle=\"0.1\"} 1\n", l);
    assert_non_null(strstr(t, want));
    snprintf(want, sizeof want, "%sle=\"0.25\"} 2\n", l);
    assert_non_null(strstr(t, want));
    snprintf(want, sizeof want, "%sle=\"+Inf\"} 2\n", l);
    assert_non_null(strstr(t, want));
    assert_non_null(strstr(
        t, "holysheep_request_latency_seconds_count{environment=\"green\",model=\"gpt-4.1\"} 2\n"));
    assert_non_null(strstr(
        t, "holysheep_switches_total{from=\"blue\",to=\"green\",reason=\"upstream_503\"} 1\n"));
    assert_non_null(
        strstr(t, "holysheep_retries_total{environment=\"blue\",reason=\"upstream_503\"} 1\n"));
    assert_non_null(strstr(t, "holysheep_rate_limited_total 1\n"));
    assert_non_null(strstr(t, "holysheep_environment_healthy{environment=\"blue\"} 1\n"));
    assert_non_null(strstr(t, "holysheep_active_environment{environment=\"blue\"} 1\n"));
    assert_non_null(strstr(t, "holysheep_active_environment{environment=\"green\"} 0\n"));
    assert_non_null(
        strstr(t, "holysheep_tokens_total{model=\"gpt-4.1\",kind=\"prompt\"} 1000000\n"));
    /* 1.5 M tokens at $8 per million. */
    assert_non_null(strstr(t, "holysheep_cost_usd_total{model=\"gpt-4.1\"} 12\n"));
    /* No price, no cost series; tokens still counted. */
    assert_null(strstr(t, "holysheep_cost_usd_total{model=\"free-model\"}"));
    assert_non_null(
        strstr(t, "holysheep_tokens_total{model=\"free-model\",kind=\"completion\"} 10\n"));
    co_buf_free(&b);
    relay_metrics_free(&m);
}

/* Issue 20: a label cut at 64 bytes never splits a UTF-8 character, bytes
 * that are not UTF-8 and control bytes become "?", escapes stay whole. */
static void test_labels_stay_valid(void **state)
{
    struct relay_metrics *m = relay_metrics_new();
    struct relay_switch s = sw();
    char model[100];
    memset(model, 'a', 63);
    strcpy(model + 63, "\xc3\xa9z"); /* "é" straddles byte 64 */
    relay_metrics_request(m, RELAY_BLUE, model, 200, 1000);
    relay_metrics_request(m, RELAY_BLUE, "bad\xff\xc3utf\x01\x7f", 200, 1000);
    char quotes[100];
    memset(quotes, '"', 70); /* 64 bytes of value, each escaped */
    quotes[70] = 0;
    relay_metrics_request(m, RELAY_BLUE, quotes, 200, 1000);
    struct co_buf b;
    co_buf_init(&b, 0);
    relay_metrics_prometheus(m, &s, &b);
    char want[200];
    memset(want, 'a', 63);
    snprintf(want + 63, sizeof want - 63, "\",status");
    assert_non_null(strstr(b.data, want));
    assert_non_null(strstr(b.data, "model=\"bad??utf??\""));
    char q[200] = "model=\"";
    for (int i = 0; i < 64; i++)
        strcat(q, "\\\"");
    strcat(q, "\",");
    assert_non_null(strstr(b.data, q));
    for (size_t i = 0; i < b.len;) {
        size_t k = co_utf8_seq((const unsigned char *)b.data + i, b.len - i);
        assert_true(k > 0);
        i += k;
    }
    co_buf_free(&b);
    relay_metrics_free(&m);
}

static void test_series_are_capped(void **state)
{
    struct relay_metrics *m = relay_metrics_new();
    struct relay_switch s = sw();
    char model[32];
    for (int i = 0; i < RELAY_METRICS_MAX_SERIES + 500; i++) {
        snprintf(model, sizeof model, "m-%d", i);
        relay_metrics_request(m, RELAY_BLUE, model, 200, 1000);
    }
    struct co_buf b;
    co_buf_init(&b, 0);
    relay_metrics_prometheus(m, &s, &b);
    size_t series = 0;
    for (const char *p = b.data; (p = strstr(p, "\nholysheep_requests_total{")); p++)
        series++;
    assert_int_equal(series, RELAY_METRICS_MAX_SERIES + 1); /* + the overflow series */
    assert_non_null(strstr(b.data, "holysheep_requests_total{overflow=\"true\"} 500\n"));
    /* Long label values are cut at 64 bytes. */
    co_buf_free(&b);
    char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    struct relay_metrics *m2 = relay_metrics_new();
    relay_metrics_request(m2, RELAY_BLUE, longname, 200, 1000);
    co_buf_init(&b, 0);
    relay_metrics_prometheus(m2, &s, &b);
    char cut[80] = "model=\"";
    memset(cut + 7, 'x', 64);
    strcpy(cut + 71, "\",");
    assert_non_null(strstr(b.data, cut));
    co_buf_free(&b);
    relay_metrics_free(&m2);
    relay_metrics_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_per_colour),
        cmocka_unit_test(test_prometheus_text),
        cmocka_unit_test(test_series_are_capped),
        cmocka_unit_test(test_labels_stay_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
