/* Unit tests for the HTML report and the Markdown summary: scales, ticks,
 * binning, percentiles, HTML escaping, outcome mapping, fault windows from a
 * scenario's timeline, and the rendering of synthetic runs (a dense one that
 * must bin, a sparse one that must not, several relays for the scorecard). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "report_fixture.h"
#include "reports/html_model.h"
#include "co_stats.h"
#include "reports/html_scale.h"
#include "reports/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_scale_map(void **state)
{
    struct report_scale s = {.d0 = 0, .d1 = 1000, .r0 = 100, .r1 = 1100};
    assert_true(fabs(report_scale_map(&s, 0) - 100) < 1e-9);
    assert_true(fabs(report_scale_map(&s, 500) - 600) < 1e-9);
    assert_true(fabs(report_scale_map(&s, 1000) - 1100) < 1e-9);
    /* Out of the domain: clamped to the plot, never drawn outside it. */
    assert_true(fabs(report_scale_map(&s, -50) - 100) < 1e-9);
    assert_true(fabs(report_scale_map(&s, 5000) - 1100) < 1e-9);
    struct report_scale l = {.d0 = 1, .d1 = 1000, .r0 = 200, .r1 = 20, .log = 1};
    assert_true(fabs(report_scale_map(&l, 1) - 200) < 1e-9);
    assert_true(fabs(report_scale_map(&l, 10) - 140) < 1e-9);
    assert_true(fabs(report_scale_map(&l, 1000) - 20) < 1e-9);
    struct report_scale z = {.d0 = 5, .d1 = 5, .r0 = 7, .r1 = 9};
    assert_true(fabs(report_scale_map(&z, 5) - 7) < 1e-9); /* empty domain: no division by 0 */
}

static void test_tick_step(void **state)
{
    assert_true(fabs(report_tick_step(1000, 10) - 100) < 1e-9);
    assert_true(fabs(report_tick_step(1234, 10) - 200) < 1e-9);
    assert_true(fabs(report_tick_step(3, 6) - 0.5) < 1e-9);
    assert_true(fabs(report_tick_step(45000, 10) - 5000) < 1e-9);
    for (double span = 0.7; span < 1e6; span *= 3.1) {
        double st = report_tick_step(span, 10);
        assert_true(span / st <= 10 + 1e-9);
        assert_true(span / st >= 2); /* never a single lonely tick */
    }
    assert_true(report_tick_step(0, 10) > 0);
}

static void test_value_scale(void **state)
{
    struct report_scale s;
    report_value_scale(&s, 5, 28, 200, 10);
    assert_int_equal(s.log, 0);
    assert_true(s.d0 == 0 && s.d1 >= 28 && s.d1 <= 40);
    report_value_scale(&s, 2, 1500, 200, 10);
    assert_int_equal(s.log, 1); /* a 750x spread: log, so p50 does not hug the floor */
    assert_true(fabs(s.d0 - 1) < 1e-9 && fabs(s.d1 - 10000) < 1e-9);
    report_value_scale(&s, 0, 0, 200, 10);
    assert_true(s.d1 > s.d0);
}

static void test_overlap_and_bins(void **state)
{
    double xs[] = {10, 20, 30, 40};
    assert_false(report_marks_overlap(xs, NULL, 4, 5));
    assert_true(report_marks_overlap(xs, NULL, 4, 11));
    double close[] = {10, 12};
    double rows[] = {5, 20};
    assert_true(report_marks_overlap(close, NULL, 2, 5));
    /* Same time, different rows (a retry under a first attempt): no overlap. */
    assert_false(report_marks_overlap(close, rows, 2, 5));
    double unsorted[] = {50, 10, 52};
    assert_true(report_marks_overlap(unsorted, NULL, 3, 5));
    assert_false(report_marks_overlap(xs, NULL, 1, 100));

    assert_int_equal(report_bin_of(100, 100, 4, 10), 0);
    assert_int_equal(report_bin_of(107.9, 100, 4, 10), 1);
    assert_int_equal(report_bin_of(50, 100, 4, 10), 0);  /* left of the plot: first bin */
    assert_int_equal(report_bin_of(1e9, 100, 4, 10), 9); /* right of it: last bin */

    double bx[] = {100, 101, 102, 110, 140};
    int kinds[] = {RO_OK, RO_5XX, RO_OK, RO_TIMEOUT, RO_OK};
    struct report_bin bins[10];
    int max = report_bin_fill(bx, kinds, 5, 100, 4, bins, 10);
    assert_int_equal(max, 3);
    assert_int_equal(bins[0].count, 3);
    assert_int_equal(bins[0].by[RO_OK], 2);
    assert_int_equal(bins[0].by[RO_5XX], 1);
    assert_int_equal(bins[2].count, 1);
    assert_int_equal(bins[9].count, 1);
    assert_int_equal(report_bin_worst(&bins[0]), RO_5XX);
    assert_int_equal(report_bin_worst(&bins[2]), RO_TIMEOUT);
    assert_int_equal(report_bin_worst(&bins[9]), RO_OK);
    int total = 0;
    for (int i = 0; i < 10; i++)
        total += bins[i].count;
    assert_int_equal(total, 5); /* every mark lands in exactly one bin */
}

static void test_percentile(void **state)
{
    double v[100];
    for (int i = 0; i < 100; i++)
        v[i] = 100 - i; /* reversed: the function sorts */
    assert_true(co_percentile(v, 100, 50) == 50);
    assert_true(co_percentile(v, 100, 95) == 95);
    assert_true(co_percentile(v, 100, 99) == 99);
    assert_true(co_percentile(v, 100, 100) == 100);
    assert_true(co_percentile(v, 100, 0) == 1);
    double one[] = {7};
    assert_true(co_percentile(one, 1, 99) == 7);
    assert_true(co_percentile(NULL, 0, 50) == 0);
}

static void test_escape(void **state)
{
    char out[64];
    size_t n = report_html_escape("<a href='x'>&\"</a>", out, sizeof out);
    assert_string_equal(out, "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
    assert_int_equal(n, strlen(out));
    char tiny[8];
    n = report_html_escape("ab<cd", tiny, sizeof tiny);
    assert_string_equal(tiny, "ab&lt;c"); /* "&lt;" fits whole, then c */
    char tiny2[5];
    report_html_escape("ab<cd", tiny2, sizeof tiny2);
    assert_string_equal(tiny2, "ab"); /* no half entity */
    assert_int_equal(n, 8);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    report_html_puts(f, "x<script>&");
    fclose(f);
    assert_string_equal(buf, "x&lt;script&gt;&amp;");
    free(buf);
}

static void test_outcomes(void **state)
{
    assert_int_equal(report_outcome_of_journal(200, "complete"), RO_OK);
    assert_int_equal(report_outcome_of_journal(503, "complete"), RO_5XX);
    assert_int_equal(report_outcome_of_journal(429, "complete"), RO_LIMITED);
    assert_int_equal(report_outcome_of_journal(401, "complete"), RO_4XX);
    assert_int_equal(report_outcome_of_journal(0, "timeout"), RO_TIMEOUT);
    assert_int_equal(report_outcome_of_journal(200, "reset"), RO_RESET);
    assert_int_equal(report_outcome_of_journal(200, "cut"), RO_CUT);
    assert_int_equal(report_outcome_of_event(0, "connect"), RO_REFUSED);
    assert_int_equal(report_outcome_of_event(0, "ttfb_timeout"), RO_TIMEOUT);
    assert_int_equal(report_outcome_of_event(502, "http"), RO_5XX);
    assert_int_equal(report_outcome_of_request(200, 0, "ok"), RO_OK);
    assert_int_equal(report_outcome_of_request(200, 0, "truncated"), RO_CUT);
    assert_int_equal(report_outcome_of_request(0, 28, "transport"), RO_TIMEOUT);
    assert_int_equal(report_outcome_of_request(0, 56, "transport"), RO_RESET);
    assert_int_equal(report_outcome_of_request(429, 0, "http_error"), RO_LIMITED);
    /* Every outcome has a distinct shape function or letter: usable without colour. */
    for (int a = 0; a < RO_COUNT; a++)
        for (int b = a + 1; b < RO_COUNT; b++) {
            assert_true(report_outcomes[a].shape != report_outcomes[b].shape);
            assert_string_not_equal(report_outcomes[a].letter, report_outcomes[b].letter);
        }
}

static void test_model_timeline(void **state)
{
    json_t *doc = json_loads(
        "{\"upstreams\":{\"blue\":\"healthy\",\"green\":{\"latency_ms\":5}},"
        "\"timeline\":[{\"at_ms\":300,\"mark\":\"fault_on\",\"blue\":{\"status\":503}},"
        "{\"at_ms\":800,\"blue\":\"healthy\"},"
        "{\"at_ms\":900,\"mark\":\"cut\",\"admin\":{\"action\":\"switch\",\"to\":\"green\"}}]}",
        0, NULL);
    assert_non_null(doc);
    struct html_model m;
    memset(&m, 0, sizeof m);
    html_model_timeline(&m, doc);
    html_model_finish(&m, 1000);
    assert_int_equal(m.n_win, 1);
    assert_int_equal(m.win[0].env, HM_BLUE);
    assert_true(m.win[0].t0 == 300 && m.win[0].t1 == 800);
    assert_string_equal(m.win[0].label, "status:503");
    assert_int_equal(m.n_steps, 3);
    assert_true(html_model_mark(&m, "fault_on") == 300);
    assert_true(html_model_mark(&m, "cut") == 900);
    assert_true(html_model_mark(&m, "start") == 0);
    assert_true(html_model_mark(&m, "nope") < 0);
    assert_string_equal(m.steps[1].name, "step1");
    assert_non_null(strstr(m.steps[2].label, "admin"));
    assert_true(m.span == 1000);
    html_model_free(&m);
    json_decref(doc);

    /* The relay frozen then thawed, later killed: windows over every lane. */
    doc = json_loads("{\"timeline\":[{\"at_ms\":300,\"signal\":\"SIGSTOP\"},"
                     "{\"at_ms\":600,\"signal\":\"SIGCONT\"},"
                     "{\"at_ms\":800,\"mark\":\"dead\",\"signal\":\"SIGKILL\"}]}",
                     0, NULL);
    memset(&m, 0, sizeof m);
    html_model_timeline(&m, doc);
    html_model_finish(&m, 1000);
    assert_int_equal(m.n_win, 2);
    assert_int_equal(m.win[0].env, HM_RELAY);
    assert_true(m.win[0].t0 == 300 && m.win[0].t1 == 600);
    assert_string_equal(m.win[0].label, "relay frozen (SIGSTOP)");
    assert_true(m.win[1].t0 == 800 && m.win[1].t1 == 1000);
    assert_string_equal(m.win[1].label, "relay killed (SIGKILL)");
    assert_string_equal(m.steps[2].name, "dead");
    html_model_free(&m);
    json_decref(doc);

    /* A colour refused from the start: a window from 0 to the end. */
    doc = json_loads("{\"upstreams\":{\"blue\":\"refused\",\"green\":\"healthy\"}}", 0, NULL);
    memset(&m, 0, sizeof m);
    html_model_timeline(&m, doc);
    html_model_finish(&m, 700);
    assert_int_equal(m.n_win, 1);
    assert_true(m.win[0].t0 == 0 && m.win[0].t1 == 700);
    assert_string_equal(m.win[0].label, "refused");
    html_model_free(&m);
    json_decref(doc);
}

/* ---- synthetic runs ------------------------------------------------------------ */

#define T0 1000000000LL

static char tmpdir[64];

static void write_artefacts(const char *dir, int n_req, double rps)
{
    char path[256];
    snprintf(path, sizeof path, "%s/requests.jsonl", dir);
    FILE *rq = fopen(path, "w");
    snprintf(path, sizeof path, "%s/events.jsonl", dir);
    FILE *ev = fopen(path, "w");
    json_t *jb = json_array(), *jg = json_array();
    double gap_us = 1e6 / rps;
    long long fault = T0 + (long long)(n_req * gap_us / 3);
    int switched = 0;
    for (int i = 0; i < n_req; i++) {
        long long t = T0 + (long long)(i * gap_us);
        int blue = t < fault;
        long status = 200;
        if (!blue && !switched) {
            /* The first request after the fault: blue 503, then green. */
            json_array_append_new(jb, json_pack("{s:s, s:I, s:I, s:s, s:i, s:i, s:s}", "path",
                                                "/v1/chat/completions", "t_arrival_us",
                                                (json_int_t)t + 100, "t_done_us",
                                                (json_int_t)t + 900, "request_id", "r-fault",
                                                "attempt", 1, "status", 503, "end", "complete"));
            fprintf(ev,
                    "{\"t_us\":%lld,\"type\":\"switch\",\"from\":\"blue\",\"to\":\"green\","
                    "\"reason\":\"upstream_503\"}\n",
                    t + 1000);
            switched = 1;
        }
        json_array_append_new(blue ? jb : jg,
                              json_pack("{s:s, s:I, s:I, s:s, s:i, s:i, s:s}", "path",
                                        "/v1/chat/completions", "t_arrival_us",
                                        (json_int_t)t + 1500, "t_done_us", (json_int_t)t + 6000,
                                        "request_id", blue ? "r-b" : "r-g", "attempt", blue ? 1 : 2,
                                        "status", 200, "end", "complete"));
        if (i % 10 == 0)
            json_array_append_new(jg, json_pack("{s:s, s:I, s:i, s:s}", "path", "/v1/health",
                                                "t_arrival_us", (json_int_t)t, "status", 200, "end",
                                                "complete"));
        if (i == n_req / 2)
            status = 429;
        fprintf(rq,
                "{\"id\":\"r-%d\",\"t_sched_us\":%lld,\"t_done_us\":%lld,\"status\":%ld,"
                "\"curl\":0,\"served\":\"%s\",\"outcome\":\"%s\"}\n",
                i, t, t + 6500 + (i % 7) * 1000, status, blue ? "blue" : "green",
                status == 200 ? "ok" : "http_error");
    }
    fclose(rq);
    fclose(ev);
    snprintf(path, sizeof path, "%s/journal-blue.json", dir);
    json_dump_file(jb, path, 0);
    snprintf(path, sizeof path, "%s/journal-green.json", dir);
    json_dump_file(jg, path, 0);
    json_decref(jb);
    json_decref(jg);
}

static json_t *synthetic_results(const char *name, const char *status, const char *relay)
{
    json_t *doc = json_loads(
        "{\"upstreams\":{\"blue\":\"healthy\",\"green\":\"healthy\"},"
        "\"timeline\":[{\"at_ms\":300,\"mark\":\"fault_on\",\"blue\":{\"status\":503}}],"
        "\"expect\":[{\"check\":\"client_success_ratio\",\"min\":0.99},"
        "{\"check\":\"switch_delay\",\"from\":\"blue\",\"to\":\"green\",\"after\":\"fault_on\","
        "\"within_ms\":50}]}",
        0, NULL);
    json_t *checks = json_pack(
        "[{s:s, s:s, s:s, s:s, s:s, s:f, s:s, s:i}, {s:s, s:s, s:s, s:s, s:s, s:f, s:s, s:i}]",
        "check", "client_success_ratio", "label", "ratio | min", "status", "pass", "expected",
        ">= 0.99", "measured", "0.999", "margin", 0.009, "unit", "ratio", "samples", 1000, "check",
        "switch_delay", "label", "switch within 50 ms", "status", status, "expected",
        "within [0, 50] ms", "measured", "120 ms", "margin", -70.0, "unit", "ms", "samples", 1);
    /* The window the check's row gives it (harness/checks.c), written by the runner. */
    json_t *sd = json_array_get(checks, 1);
    json_object_set_new(sd, "window_mark", json_string("fault_on"));
    json_object_set_new(sd, "window_before_ms", json_real(0));
    json_object_set_new(sd, "window_after_ms", json_real(50));
    json_t *sc = json_pack("{s:s, s:s, s:s, s:s, s:I, s:f, s:I, s:s, s:I, s:o, s:o, s:s}", "name",
                           name, "file", "synthetic.json", "description", "a <synthetic> run",
                           "status", status, "seed", (json_int_t)7, "duration_s", 1.5, "requests",
                           (json_int_t)1000, "out_dir", tmpdir, "t0_us", (json_int_t)T0, "checks",
                           checks, "scenario", doc, "relay", relay);
    return sc;
}

static json_t *wrap(json_t *scs, int total, int passed, int failed)
{
    return json_pack("{s:s, s:I, s:f, s:s, s:f, s:i, s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i}, s:o}",
                     "version", "cutover test", "seed", (json_int_t)7, "time_scale", 1.0, "started",
                     "2026-01-01T00:00:00Z", "duration_s", 1.5, "exit_code", failed ? 1 : 0,
                     "summary", "total", total, "passed", passed, "failed", failed, "inconclusive",
                     0, "errors", 0, "invalid", 0, "flaky", 0, "scenarios", scs);
}

static char *render(const json_t *results)
{
    char *buf = NULL, err[128] = "";
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(report_html_render(f, results, err, sizeof err), 0);
    fclose(f);
    return buf;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static int setup_dir(void **state)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cutover-html-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown_dir(void **state)
{
    static const char *const files[] = {"requests.jsonl", "events.jsonl", "journal-blue.json",
                                        "journal-green.json"};
    char path[256];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, files[i]);
        unlink(path);
    }
    rmdir(tmpdir);
    return 0;
}

static void test_render_dense(void **state)
{
    write_artefacts(tmpdir, 3000, 2000); /* 3000 requests in 1.5 s: must bin */
    json_t *r = wrap(json_pack("[o]", synthetic_results("dense<b>", "fail", "relay-a")), 1, 0, 1);
    char *html = render(r);
    assert_non_null(strstr(html, "<!doctype html>"));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "http://")); /* self-contained: no fetch of anything */
    assert_null(strstr(html, "https://"));
    assert_int_equal(count(html, "class=\"timeline\""), 1);
    assert_int_equal(count(html, "class=\"latency\""), 1);
    assert_int_equal(count(html, "<g class=\"switch-g\">"), 1);
    assert_non_null(strstr(html, "blue\u2192green upstream_503"));
    assert_non_null(strstr(html, "id=\"sc0-lane-blue\""));
    assert_non_null(strstr(html, "id=\"sc0-lane-green\""));
    assert_non_null(strstr(html, "id=\"sc0-lane-client\""));
    assert_non_null(strstr(html, "id=\"sc0-mark-fault_on\""));
    assert_int_equal(count(html, "<rect class=\"win\""), 1 + 1); /* the window and the legend */
    /* Dense lanes are binned, not thousands of marks. */
    assert_true(count(html, "class=\"bin k-ok\"") > 50);
    assert_true(count(html, "class=\"m k-ok\"") < 600);
    assert_non_null(strstr(html, "class=\"bin k-rate-limited\""));
    assert_non_null(strstr(html, "class=\"pct p50\""));
    assert_non_null(strstr(html, "class=\"pct p99\""));
    /* The failing check: a window on the timeline, linked from the table and the overview. */
    assert_non_null(strstr(html, "<table class=\"checks\" id=\"sc0-checks\""));
    assert_non_null(strstr(html, "id=\"sc0-chk1\""));
    assert_non_null(strstr(html, "<a href=\"#sc0-chk1\""));
    assert_non_null(strstr(html, "href=\"#sc0-check1\""));
    assert_null(strstr(html, "id=\"sc0-chk0\"")); /* passing checks draw nothing */
    /* Escaped everywhere. */
    assert_null(strstr(html, "dense<b>"));
    assert_non_null(strstr(html, "dense&lt;b&gt;"));
    assert_null(strstr(html, "<synthetic>"));
    assert_null(strstr(html, "id=\"scorecard\"")); /* one relay: no scorecard */
    free(html);
    json_decref(r);
}

/* A check's window comes with the check, not from the scenario's "expect"
 * list by position: the runner puts checks of its own first
 * (harness_on_time), so the failing switch_delay is checks[2] while it is
 * expect[1].  Matched by position, it got no window at all. */
static void test_window_follows_the_check(void **state)
{
    write_artefacts(tmpdir, 40, 40);
    json_t *sc = synthetic_results("shifted", "fail", "relay-a");
    json_t *own = json_pack("{s:s, s:s, s:s}", "check", "harness_on_time", "label",
                            "harness_on_time", "status", "pass");
    json_array_insert_new(json_object_get(sc, "checks"), 0, own);
    json_t *r = wrap(json_pack("[o]", sc), 1, 0, 1);
    char *html = render(r);
    assert_non_null(strstr(html, "id=\"sc0-chk2\""));
    assert_non_null(strstr(html, "<a href=\"#sc0-chk2\""));
    assert_null(strstr(html, "id=\"sc0-chk1\""));
    free(html);
    json_decref(r);
}

/* Issue 14: a request's attempts are joined with each backoff gap labelled,
 * and a `first: 2` fault is drawn over the two requests it answered, not
 * from its step to the end of the run; a fault that never fired is only
 * outlined. */
static void test_backoff_joins_and_fired_window(void **state)
{
    char path[256];
    snprintf(path, sizeof path, "%s/journal-blue.json", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    /* r-1: 503 at 310 ms (2 ms), again at 352 ms (2 ms), both from the
     * rule; then green at 434 ms.  r-2: a plain 200 at 500 ms. */
    fprintf(f,
            "[{\"path\":\"/v1/chat/completions\",\"t_arrival_us\":%lld,\"t_done_us\":%lld,"
            "\"request_id\":\"r-1\",\"attempt\":1,\"rule\":\"#0\",\"status\":503,"
            "\"end\":\"complete\"},"
            "{\"path\":\"/v1/chat/completions\",\"t_arrival_us\":%lld,\"t_done_us\":%lld,"
            "\"request_id\":\"r-1\",\"attempt\":2,\"rule\":\"#0\",\"status\":503,"
            "\"end\":\"complete\"},"
            "{\"path\":\"/v1/chat/completions\",\"t_arrival_us\":%lld,\"t_done_us\":%lld,"
            "\"request_id\":\"r-2\",\"attempt\":1,\"rule\":null,\"status\":200,"
            "\"end\":\"complete\"}]",
            T0 + 310000, T0 + 312000, T0 + 352000, T0 + 354000, T0 + 500000, T0 + 505000);
    fclose(f);
    snprintf(path, sizeof path, "%s/journal-green.json", tmpdir);
    f = fopen(path, "w");
    fprintf(f,
            "[{\"path\":\"/v1/chat/completions\",\"t_arrival_us\":%lld,\"t_done_us\":%lld,"
            "\"request_id\":\"r-1\",\"attempt\":3,\"rule\":null,\"status\":200,"
            "\"end\":\"complete\"}]",
            T0 + 434000, T0 + 440000);
    fclose(f);
    snprintf(path, sizeof path, "%s/requests.jsonl", tmpdir);
    f = fopen(path, "w");
    fprintf(f,
            "{\"id\":\"r-1\",\"t_sched_us\":%lld,\"t_done_us\":%lld,\"status\":200,"
            "\"served\":\"green\",\"outcome\":\"ok\"}\n"
            "{\"id\":\"r-2\",\"t_sched_us\":%lld,\"t_done_us\":%lld,\"status\":200,"
            "\"served\":\"blue\",\"outcome\":\"ok\"}\n",
            T0 + 309000, T0 + 441000, T0 + 499000, T0 + 506000);
    fclose(f);
    snprintf(path, sizeof path, "%s/events.jsonl", tmpdir);
    f = fopen(path, "w");
    fclose(f);
    json_t *sc = synthetic_results("joins", "pass", "relay-a");
    json_object_set_new(sc, "scenario",
                        json_loads("{\"timeline\":[{\"at_ms\":300,\"mark\":\"fault_on\","
                                   "\"blue\":{\"status\":503,\"first\":2}},"
                                   "{\"at_ms\":450,\"green\":{\"status\":500,\"every\":50}}],"
                                   "\"expect\":[]}",
                                   0, NULL));
    json_t *r = wrap(json_pack("[o]", sc), 1, 1, 0);
    char *html = render(r);
    /* Two gaps of r-1: 352 - 312 = 40 ms, 434 - 354 = 80 ms; r-2 has one
     * attempt and no join. */
    assert_int_equal(count(html, "<line class=\"join\""), 2);
    assert_non_null(strstr(html, "text-anchor=\"middle\">40 ms</text>"));
    assert_non_null(strstr(html, "text-anchor=\"middle\">80 ms</text>"));
    assert_non_null(strstr(html, "r-1: 80 ms after attempt 2 on blue, attempt 3 on green"));
    /* The first:2 window: where it fired (310 to 354 ms), not to the end. */
    assert_non_null(strstr(html, "blue fault set from 300 to 506 ms; fired 2 times from 310 to "
                                 "354 ms"));
    assert_non_null(strstr(html, "(fired 2\u00d7)"));
    /* Green's rule never answered a request: outlined, and said so. */
    assert_non_null(strstr(html, "green fault set from 450 to 506 ms; never fired"));
    assert_non_null(strstr(html, "<rect class=\"win idle\""));
    free(html);
    json_decref(r);
}

/* A fleet (docs/fleet.md): replica 0's events in the out dir, replica i's
 * in replica-i/.  Every replica's switches and health verdicts are read
 * and drawn on a lane of its own, with the steps that froze or stopped it
 * (only replica 0's event log used to be read). */
static void test_fleet_replica_lanes(void **state)
{
    char path[256];
    write_artefacts(tmpdir, 40, 40);
    for (int i = 1; i <= 2; i++) {
        snprintf(path, sizeof path, "%s/replica-%d", tmpdir, i);
        assert_int_equal(mkdir(path, 0755), 0);
    }
    /* Replica 1 adopts the switch 200 ms after replica 0 made it, and saw
     * blue go down; replica 2 writes no event log at all. */
    snprintf(path, sizeof path, "%s/replica-1/events.jsonl", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"t_us\":%lld,\"type\":\"health\",\"env\":\"blue\",\"healthy\":false}\n"
            "{\"t_us\":%lld,\"type\":\"switch\",\"from\":\"blue\",\"to\":\"green\","
            "\"reason\":\"shared\"}\n"
            "{\"t_us\":%lld,\"type\":\"rate_limit\"}\n",
            T0 + 450000, T0 + 534000, T0 + 600000);
    fclose(f);
    json_t *sc = synthetic_results("fleet", "pass", "relay-a");
    json_object_set_new(
        sc, "scenario",
        json_loads("{\"fleet\":{\"replicas\":3},\"timeline\":["
                   "{\"at_ms\":100,\"mark\":\"frozen\",\"fleet\":\"replica_pause\",\"replica\":2},"
                   "{\"at_ms\":700,\"fleet\":\"replica_resume\",\"replica\":2},"
                   "{\"at_ms\":800,\"fleet\":\"replica_stop\",\"replica\":1},"
                   "{\"at_ms\":900,\"fleet\":\"redis_pause\"}],\"expect\":[]}",
                   0, NULL));
    struct html_model m;
    html_model_load(&m, sc);
    assert_int_equal(m.n_replicas, 3);
    assert_int_equal(m.n_sw, 2);
    assert_int_equal(m.sw[0].replica, 0); /* write_artefacts' upstream_503 */
    assert_int_equal(m.sw[1].replica, 1);
    assert_true(m.sw[1].t > 533 && m.sw[1].t < 535);
    assert_int_equal(m.n_health, 1);
    assert_int_equal(m.health[0].replica, 1);
    assert_int_equal(m.n_limits, 1);
    /* Replica 2 frozen 100-700, replica 1 stopping 800-end, Redis paused
     * 900-end (over every replica). */
    assert_int_equal(m.n_win, 3);
    assert_int_equal(m.win[0].env, HM_RELAY);
    assert_int_equal(m.win[0].replica, 2);
    assert_true(m.win[0].t0 == 100 && m.win[0].t1 == 700);
    assert_string_equal(m.win[0].label, "replica 2 frozen (replica_pause)");
    assert_int_equal(m.win[1].replica, 1);
    assert_string_equal(m.win[1].label, "replica 1 stopping (replica_stop)");
    assert_int_equal(m.win[2].replica, -1);
    assert_string_equal(m.win[2].label, "Redis paused (redis_pause)");
    assert_non_null(strstr(m.steps[0].label, "replica_pause (replica 2)"));
    assert_string_equal(m.steps[3].label, "redis_pause");
    html_model_free(&m);

    json_t *r = wrap(json_pack("[o]", sc), 1, 1, 0);
    char *html = render(r);
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "id=\"sc0-lane-replica-%d\"", i);
        assert_non_null(strstr(html, path));
    }
    assert_non_null(strstr(html, "replica 0: switch blue to green at "));
    assert_non_null(strstr(html, "replica 1: switch blue to green at 534 ms (shared)"));
    assert_non_null(strstr(html, "replica 1: blue unhealthy at 450 ms"));
    assert_non_null(strstr(html, "\u2192green shared</text>"));
    assert_non_null(strstr(html, "from 100 to 700 ms: replica 2 frozen (replica_pause)"));
    assert_non_null(strstr(html, "from 900 to "));
    assert_non_null(strstr(html, "replica 1 blue\u2192green at 534 ms (shared)")); /* the story */
    /* The one-relay drawing is left alone: no full-height switch labels. */
    assert_null(strstr(html, "class=\"switch-label\""));
    free(html);
    json_decref(r);
    snprintf(path, sizeof path, "%s/replica-1/events.jsonl", tmpdir);
    unlink(path);
    for (int i = 1; i <= 2; i++) {
        snprintf(path, sizeof path, "%s/replica-%d", tmpdir, i);
        rmdir(path);
    }
}

static void test_render_sparse_and_scorecard(void **state)
{
    write_artefacts(tmpdir, 40, 40);
    json_t *r = wrap(json_pack("[o, o]", synthetic_results("sparse", "pass", "relay-a"),
                               synthetic_results("sparse", "fail", "relay-b")),
                     2, 1, 1);
    char *html = render(r);
    assert_null(strstr(html, "class=\"bin "));
    assert_true(count(html, "class=\"m k-ok\"") >= 40);
    assert_non_null(strstr(html, "class=\"m k-5xx\""));
    assert_non_null(strstr(html, "class=\"m k-rate-limited\""));
    /* Two relays: the scorecard comes first, before the overview. */
    const char *sc = strstr(html, "id=\"scorecard\""), *ov = strstr(html, "id=\"overview\"");
    assert_non_null(sc);
    assert_non_null(ov);
    assert_true(sc < ov);
    assert_non_null(strstr(html, ">relay-a</th>"));
    assert_non_null(strstr(html, ">relay-b</th>"));
    /* Failing first: the failing run's section precedes the passing one. */
    const char *s1 = strstr(html, "<section class=\"scenario\" id=\"sc1\"");
    const char *s0 = strstr(html, "<section class=\"scenario\" id=\"sc0\"");
    assert_true(s1 && s0 && s1 < s0);
    free(html);
    json_decref(r);
}

static void test_render_empty_and_bad(void **state)
{
    /* A scenario that never ran (invalid, no artefacts) still renders. */
    json_t *sc = json_pack("{s:s, s:s, s:s, s:[]}", "name", "broken", "status", "invalid", "error",
                           "x.json:1:2: expected <value>", "checks");
    json_t *r = wrap(json_pack("[o]", sc), 1, 0, 0);
    char *html = render(r);
    assert_non_null(strstr(html, "expected &lt;value&gt;"));
    assert_null(strstr(html, "class=\"timeline\""));
    free(html);
    json_decref(r);
    char err[128] = "";
    json_t *bad = json_object();
    FILE *f = fopen("/dev/null", "w");
    assert_int_equal(report_html_render(f, bad, err, sizeof err), -1);
    assert_non_null(strstr(err, "scenarios"));
    assert_int_equal(report_md_render(f, bad, NULL, err, sizeof err), -1);
    fclose(f);
    json_decref(bad);
}

static void test_markdown(void **state)
{
    json_t *r = wrap(json_pack("[o, o]", synthetic_results("ok|one", "pass", "a"),
                               synthetic_results("bad", "fail", "a")),
                     2, 1, 1);
    char *buf = NULL, err[128];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(report_md_render(f, r, "out/report.html", err, sizeof err), 0);
    fclose(f);
    assert_non_null(strstr(buf, "## cutover: \u274c 1 of 2 scenario(s) did not pass"));
    assert_non_null(strstr(buf, "| status | scenario | checks | time | seed |"));
    assert_non_null(strstr(buf, "`ok\\|one`")); /* a pipe cannot break the table */
    const char *bad = strstr(buf, "`bad`"), *ok = strstr(buf, "`ok\\|one`");
    assert_true(bad && ok && bad < ok); /* failing first */
    assert_non_null(strstr(buf, "### What did not hold"));
    assert_non_null(strstr(buf, "| `switch_delay` switch within 50 ms | \u274c FAIL | within [0, "
                                "50] ms | 120 ms | -70 ms |"));
    assert_non_null(strstr(buf, "`out/report.html`"));
    assert_null(strstr(buf, "<synthetic>"));
    free(buf);
    json_decref(r);
}

static void test_progress_lines(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct report_run run = {.console = f, .total_planned = 3};
    struct report_progress p = {.name = "s1",
                                .elapsed_us = 500000,
                                .total_us = 1000000,
                                .sent = 25,
                                .done = 24,
                                .failed = 1,
                                .serving = "green"};
    report_console_progress(&run, &p);
    report_console_progress(&run, &p); /* within a second: not repeated off a terminal */
    fflush(f);
    assert_int_equal(count(buf, "\n"), 1);
    assert_non_null(strstr(buf, "[  1/3] "));
    assert_non_null(strstr(buf, "checks so far 0/0  s1\n"));
    assert_non_null(strstr(buf, "0.5/1.0 s"));
    assert_non_null(strstr(buf, "25 sent, 24 done, 1 failed"));
    assert_non_null(strstr(buf, "serving green"));
    assert_null(strstr(buf, "\033"));
    run.console_tty = 1;
    report_console_progress(&run, &p);
    fflush(f);
    assert_non_null(strstr(buf, "\r\033[2K[  1/3]")); /* a terminal: the line is rewritten */
    fclose(f);
    free(buf);
}

static void test_relay_label(void **state)
{
    char out[128];
    report_relay_label("/work/bin/cutover-relay", out, sizeof out);
    assert_string_equal(out, "cutover-relay");
    report_relay_label("/usr/bin/python3 relay.py --port {port} --blue {blue_url} --retries 2", out,
                       sizeof out);
    assert_string_equal(out, "python3 relay.py --retries 2");
    report_relay_label("r --events={events} -x", out, sizeof out);
    assert_string_equal(out, "r -x");
    report_relay_label("", out, sizeof out);
    assert_string_equal(out, "");
    char tiny[6];
    report_relay_label("abcdefghij --flag", tiny, sizeof tiny);
    assert_int_equal(strlen(tiny), 5); /* cut, terminated */
}

/* The one name cleaner (folders, HTML ids) and the one Markdown cell. */
static void test_safe_name_and_md_cell(void **state)
{
    char out[16];
    report_safe_name("a b/c.json_x-1", out, sizeof out);
    assert_string_equal(out, "a_b_c_json_x-1");
    report_safe_name("0123456789abcdefghij", out, sizeof out);
    assert_string_equal(out, "0123456789abcde");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    report_md_cell(f, "a|b\n<i>&`c`");
    fclose(f);
    assert_string_equal(buf, "a\\|b &lt;i&gt;&amp;'c'");
    free(buf);
}

/* cutover report a.json b.json: two runs of different relays merge into one
 * document whose report opens with the scorecard. */
static void test_report_cli_merges(void **state)
{
    write_artefacts(tmpdir, 40, 40);
    char a[128], b[128], html[128], md[128];
    snprintf(a, sizeof a, "%s/a.json", tmpdir);
    snprintf(b, sizeof b, "%s/b.json", tmpdir);
    snprintf(html, sizeof html, "%s/both.html", tmpdir);
    snprintf(md, sizeof md, "%s/both.md", tmpdir);
    json_t *ra = wrap(json_pack("[o]", synthetic_results("s1", "pass", "relay-a")), 1, 1, 0);
    json_t *rb =
        wrap(json_pack("[o]", synthetic_results("s1", "fail", "relay-b --retries 0")), 1, 0, 1);
    assert_int_equal(json_dump_file(ra, a, 0), 0);
    assert_int_equal(json_dump_file(rb, b, 0), 0);
    char *argv[] = {"report", a, b, "--html", html, "--md", md, NULL};
    assert_int_equal(report_cli_main(7, argv), 0);
    FILE *f = fopen(html, "r");
    assert_non_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    assert_non_null(strstr(buf, "id=\"scorecard\""));
    assert_non_null(strstr(buf, ">relay-b --retries 0</th>"));
    assert_non_null(strstr(buf, "2 scenario(s): 1 passed, 1 failed"));
    assert_non_null(strstr(buf, "exit code 1"));
    f = fopen(md, "r");
    assert_non_null(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    assert_non_null(strstr(buf, "| seed | relay |"));
    /* Bad input: not results, no file. */
    char *bad[] = {"report", md, NULL};
    assert_int_equal(report_cli_main(2, bad), 2);
    char *none[] = {"report", "/nonexistent/results.json", NULL};
    assert_int_equal(report_cli_main(2, none), 2);
    char *nothing[] = {"report", NULL};
    assert_int_equal(report_cli_main(1, nothing), 2);
    unlink(a);
    unlink(b);
    unlink(html);
    unlink(md);
    json_decref(ra);
    json_decref(rb);
}

/* The writer row itself, on the shared fixture run (one scenario per
 * status, no artefacts on disk): summary, failing first, escaping. */
static void test_html_writer_fixture(void **state)
{
    struct report_run r;
    fixture_run(&r);
    char path[] = "/tmp/cutover-html-XXXXXX";
    close(mkstemp(path));
    report_set_path(&r, "html", path);
    char err[256];
    assert_int_equal(report_html_write(&r, err, sizeof err), 0);
    char *h = tsup_read_file(path, NULL);
    assert_non_null(h);
    assert_non_null(strstr(h, "<!doctype html>"));
    assert_non_null(strstr(h, "exit code 1"));
    assert_non_null(strstr(h, "4 scenario(s): 1 passed, 1 failed, 1 inconclusive, 1 errors"));
    /* Overview and sections: the failure first, then the harness error, the
     * inconclusive one, the pass. */
    const char *f = strstr(h, "id=\"sc1\""), *e = strstr(h, "id=\"sc3\""),
               *i = strstr(h, "id=\"sc2\""), *p = strstr(h, "id=\"sc0\"");
    assert_true(f && e && i && p && f < e && e < i && i < p);
    assert_non_null(strstr(h, "href=\"#sc1-check1\"")); /* the failing check, linked */
    assert_non_null(strstr(h, "relay said &lt;oops&gt;"));
    assert_null(strstr(h, "<oops>"));
    assert_non_null(strstr(h, "at least &lt;1&gt; &amp; &quot;one&quot;"));
    assert_non_null(strstr(h, "before it was ready"));
    free(h);
    /* A passing scenario's inconclusive self-check goes under
     * "inconclusive checks", never under "failing checks". */
    fixture_check(&r.sc[0], "harness_on_time", REPORT_INCONCLUSIVE, "runner 82 ms late");
    assert_int_equal(report_html_write(&r, err, sizeof err), 0);
    h = tsup_read_file(path, NULL);
    assert_non_null(strstr(h, "<th>failing checks</th><th>inconclusive checks</th>"));
    const char *row = strstr(h, "<tr class=\"pass\">");
    assert_non_null(row);
    const char *end = strstr(row, "</tr>");
    char *cells = strndup(row, (size_t)(end - row));
    assert_non_null(strstr(cells, "</td><td></td><td><a href=\"#sc0-check1\"><code>harness_on_time"
                                  "</code></a> <small>runner 82 ms late</small></td>"));
    free(cells);
    free(h);
    unlink(path);
    report_set_path(&r, "html", "/nonexistent-dir/report.html");
    assert_int_equal(report_html_write(&r, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent-dir/report.html"));
    report_set_path(&r, "html", NULL); /* no path: nothing to do */
    assert_int_equal(report_html_write(&r, err, sizeof err), 0);
    fixture_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scale_map),
        cmocka_unit_test(test_tick_step),
        cmocka_unit_test(test_value_scale),
        cmocka_unit_test(test_overlap_and_bins),
        cmocka_unit_test(test_percentile),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_outcomes),
        cmocka_unit_test(test_model_timeline),
        cmocka_unit_test_setup_teardown(test_render_dense, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_window_follows_the_check, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_render_sparse_and_scorecard, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_fleet_replica_lanes, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_backoff_joins_and_fired_window, setup_dir,
                                        teardown_dir),
        cmocka_unit_test(test_render_empty_and_bad),
        cmocka_unit_test_setup_teardown(test_markdown, setup_dir, teardown_dir),
        cmocka_unit_test(test_progress_lines),
        cmocka_unit_test(test_relay_label),
        cmocka_unit_test(test_safe_name_and_md_cell),
        cmocka_unit_test(test_html_writer_fixture),
        cmocka_unit_test_setup_teardown(test_report_cli_merges, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
