/* Unit tests for harness/checks.c: every check kind on synthetic
 * observations, passing, failing and (where it declares a minimum of samples)
 * inconclusive; plus parameter validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness/checks.h"
#include "harness/obs.h"
#include "harness/scenario.h"
#include "mocks/mock.h"
#include "tests/support/tobs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS TOBS_MS
#define T0 TOBS_T0

static struct harness_obs obs;

static int setup(void **state)
{
    /* A cooperating relay: every signal there; the signal tests remove them. */
    tobs_init(&obs, 256, 1024, 64);
    obs.have_events = 1;
    obs.relay_alive = 1;
    obs.leak_scanned = 1;
    return 0;
}

static int teardown(void **state)
{
    harness_obs_free(&obs);
    return 0;
}

/* A request scheduled at ms, done after lat_ms, with an outcome. */
static struct harness_req *req(const char *id, uint64_t ms, uint64_t lat_ms, long status,
                               const char *served, int outcome)
{
    return tobs_req(&obs, id, ms, lat_ms, status, served, outcome);
}

static struct harness_att *att(const char *id, const char *env, uint64_t at_ms, uint64_t dur_ms,
                               int status)
{
    return tobs_att(&obs, id, env, at_ms, dur_ms, status);
}

/* Attempts of request id to blue so far. */
static int count_blue(const char *id)
{
    int n = 0;
    for (size_t i = 0; i < obs.n_atts; i++)
        n += strcmp(obs.atts[i].req_id, id) == 0 && strcmp(obs.atts[i].env, "blue") == 0;
    return n;
}

static void probe(const char *env, uint64_t at_ms)
{
    struct harness_att *a = att("", env, at_ms, 1, 200);
    a->health = 1;
    snprintf(a->path, sizeof a->path, "/health");
}

static void ev(const char *type, uint64_t at_ms, const char *from, const char *to, const char *env,
               int healthy)
{
    tobs_ev(&obs, type, at_ms, from, to, env, healthy);
}

static void mark(const char *name, uint64_t at_ms)
{
    tobs_mark(&obs, name, at_ms);
}

/* Runs a check given as JSON text (tobs_run). */
static int run(const char *json, struct report_check *v)
{
    static const char *const marks[] = {"start", "fault_on", "cutover", NULL};
    return tobs_run(&obs, json, marks, v);
}

static void test_success_ratio(void **state)
{
    struct report_check v;
    assert_int_equal(run("{\"check\":\"client_success_ratio\",\"min\":0.9}", &v),
                     HARNESS_INCONCLUSIVE);
    assert_int_equal(v.samples, 0);
    tobs_answered(&obs, "r", 0, 9, 0, 10, 5, 200, "blue", 0, 2);
    req("bad", 100, 5, 503, "blue", HARNESS_HTTP_ERROR);
    att("bad", "blue", 100, 2, 503);
    assert_int_equal(run("{\"check\":\"client_success_ratio\",\"min\":0.9}", &v), HARNESS_PASS);
    assert_non_null(strstr(v.detail, "signal: client statuses"));
    assert_true(v.margin >= -1e-9 && v.margin < 1e-9);
    assert_int_equal(run("{\"check\":\"client_success_ratio\",\"min\":0.95}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "0.9000 (9 of 10)"));
    assert_non_null(strstr(v.detail, "request bad"));
    assert_true(v.margin < 0);
}

static void test_client_count_and_deadline(void **state)
{
    struct report_check v;
    req("a", 0, 50, 429, "", HARNESS_HTTP_ERROR);
    req("b", 10, 700, 0, "", HARNESS_TRANSPORT);
    req("c", 20, 5, 200, "green", HARNESS_OK);
    assert_int_equal(run("{\"check\":\"client_count\",\"status\":429,\"exact\":1}", &v),
                     HARNESS_PASS);
    assert_int_equal(run("{\"check\":\"client_count\",\"outcome\":\"transport\",\"max\":0}", &v),
                     HARNESS_FAIL);
    assert_int_equal(run("{\"check\":\"client_count\",\"served\":\"green\",\"min\":1}", &v),
                     HARNESS_PASS);
    assert_int_equal(run("{\"check\":\"client_deadline\",\"max_ms\":500}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "700.0"));
    assert_non_null(strstr(v.detail, "request b"));
    assert_int_equal(run("{\"check\":\"client_deadline\",\"max_ms\":800}", &v), HARNESS_PASS);
    assert_true(v.margin > 99 && v.margin < 101);
}

/* upstream_concurrency: the peak of attempts in flight at a mock; an end
 * and an arrival at the same instant do not overlap; probes do not count;
 * an attempt without an end stamp leaves a peak within bounds unknown. */
static void test_upstream_concurrency(void **state)
{
    struct report_check v;
    assert_int_equal(run("{\"check\":\"upstream_concurrency\",\"max\":2}", &v),
                     HARNESS_INCONCLUSIVE);
    att("a", "blue", 0, 300, 200);
    att("b", "blue", 10, 300, 200);
    att("c", "blue", 300, 300, 200); /* arrives as a ends: a connection handed on */
    att("d", "green", 20, 300, 200);
    probe("blue", 50);
    probe("blue", 60);
    /* Not client traffic: a stray request on another path. */
    snprintf(att("x", "blue", 20, 10, 404)->path, sizeof obs.atts[0].path, "/llm/chat");
    assert_int_equal(run("{\"check\":\"upstream_concurrency\",\"env\":\"blue\",\"max\":2}", &v),
                     HARNESS_PASS);
    assert_non_null(strstr(v.measured, "at most 2 at once over 3 attempts"));
    assert_int_equal(run("{\"check\":\"upstream_concurrency\",\"env\":\"blue\",\"exact\":2}", &v),
                     HARNESS_PASS);
    /* Either mock: a, b and d overlap. */
    assert_int_equal(run("{\"check\":\"upstream_concurrency\",\"max\":2}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "at most 3 at once"));
    assert_int_equal(run("{\"check\":\"upstream_concurrency\",\"env\":\"green\",\"min\":2}", &v),
                     HARNESS_FAIL);
    /* No end stamp: within bounds is unknown, beyond them is known. */
    att("e", "blue", 450, 0, 200)->t_done = 0;
    assert_int_equal(run("{\"check\":\"upstream_concurrency\",\"env\":\"blue\",\"max\":2}", &v),
                     HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "1 attempt(s) without an end stamp"));
    assert_int_equal(run("{\"check\":\"upstream_concurrency\",\"env\":\"blue\",\"max\":1}", &v),
                     HARNESS_FAIL);
}

static void test_no_truncated(void **state)
{
    struct report_check v;
    req("a", 0, 5, 503, "", HARNESS_HTTP_ERROR);
    assert_int_equal(run("{\"check\":\"no_truncated_success\"}", &v), HARNESS_INCONCLUSIVE);
    req("b", 0, 5, 200, "blue", HARNESS_OK);
    att("b", "blue", 0, 2, 200);
    assert_int_equal(run("{\"check\":\"no_truncated_success\"}", &v), HARNESS_PASS);
    struct harness_req *c = req("c", 0, 5, 200, "blue", HARNESS_TRUNCATED);
    assert_int_equal(run("{\"check\":\"no_truncated_success\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "request c"));
    assert_null(strstr(v.detail, "malformed"));
    /* Outsider round 3: an empty data: keep-alive ends the stream unparsed,
     * with its [DONE]: named as malformed, not as cut. */
    c->stream = c->done_marker = c->bad_event = 1;
    assert_int_equal(run("{\"check\":\"no_truncated_success\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "1 of them streams with an event whose data is neither JSON"));
    assert_string_equal(v.fail_as, "");
    /* Express held a silent upstream's stream open with keep-alives until
     * the client's own timeout: a stall, judged as a deadline is under the
     * settings rule (the runner reads fail_as), still a failure here. */
    c->done_marker = c->bad_event = 0;
    c->curl_rc = 28; /* CURLE_OPERATION_TIMEDOUT */
    assert_int_equal(run("{\"check\":\"no_truncated_success\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "1 of them held open by the relay until the client's own"));
    assert_string_equal(v.fail_as, "client_deadline");
    /* One the relay itself ended short among them: a truncation, its own. */
    req("d", 0, 5, 200, "blue", HARNESS_TRUNCATED);
    assert_int_equal(run("{\"check\":\"no_truncated_success\"}", &v), HARNESS_FAIL);
    assert_string_equal(v.fail_as, "");
}

static void test_attempts(void **state)
{
    struct report_check v;
    req("a", 0, 50, 200, "green", HARNESS_OK);
    req("b", 10, 5, 200, "blue", HARNESS_OK);
    att("a", "blue", 1, 2, 503);
    att("a", "green", 20, 2, 200);
    att("b", "blue", 11, 2, 200);
    assert_int_equal(run("{\"check\":\"attempts\",\"max\":2}", &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "min 1, max 2 over 2"));
    assert_int_equal(run("{\"check\":\"attempts\",\"exact\":1}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "request a"));
    assert_non_null(strstr(v.detail, "blue#1 503"));
    assert_int_equal(run("{\"check\":\"attempts\",\"exact\":1,\"env\":\"blue\"}", &v),
                     HARNESS_PASS);
    assert_int_equal(run("{\"check\":\"attempts\",\"exact\":0,\"env\":\"green\",\"requests\":"
                         "\"failed\"}",
                         &v),
                     HARNESS_INCONCLUSIVE);
    assert_int_equal(run("{\"check\":\"upstream_count\",\"env\":\"blue\",\"exact\":2}", &v),
                     HARNESS_PASS);
    assert_int_equal(run("{\"check\":\"upstream_count\",\"max\":2}", &v), HARNESS_FAIL);
}

/* One request with attempts ending at done_ms[i] and the next starting gap
 * later. */
static void backoff_request(const char *id, const double *gaps, int n)
{
    req(id, 0, 1000, 503, "", HARNESS_HTTP_ERROR);
    uint64_t t = 0;
    for (int i = 0; i <= n; i++) {
        att(id, i % 2 ? "green" : "blue", t, 2, 503);
        t += 2;
        if (i < n)
            t += (uint64_t)gaps[i];
    }
}

static void test_backoff_none(void **state)
{
    struct report_check v;
    assert_int_equal(run("{\"check\":\"backoff_gaps\",\"base_ms\":40}", &v), HARNESS_INCONCLUSIVE);
    double ok[] = {40, 82, 165};
    backoff_request("a", ok, 3);
    assert_int_equal(run("{\"check\":\"backoff_gaps\",\"base_ms\":40,\"jitter\":\"none\","
                         "\"tolerance_ms\":10}",
                         &v),
                     HARNESS_PASS);
    assert_int_equal(v.samples, 3);
    double early[] = {40, 60};
    backoff_request("b", early, 2);
    assert_int_equal(run("{\"check\":\"backoff_gaps\",\"base_ms\":40,\"jitter\":\"none\","
                         "\"tolerance_ms\":10}",
                         &v),
                     HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "b gap 2"));
    /* An explicit schedule. */
    assert_int_equal(
        run("{\"check\":\"backoff_gaps\",\"schedule_ms\":[40,60,160],\"tolerance_ms\":30}", &v),
        HARNESS_PASS);
}

static void test_backoff_jitter(void **state)
{
    struct report_check v;
    double g[] = {3, 70, 20};
    backoff_request("a", g, 3);
    /* full: within [0, min(cap, 40*2^k)] */
    assert_int_equal(run("{\"check\":\"backoff_gaps\",\"base_ms\":40,\"cap_ms\":100,"
                         "\"jitter\":\"full\",\"tolerance_ms\":5}",
                         &v),
                     HARNESS_PASS);
    /* equal: within [t/2, t] -> 3 < 20 fails */
    assert_int_equal(run("{\"check\":\"backoff_gaps\",\"base_ms\":40,\"cap_ms\":100,"
                         "\"jitter\":\"equal\",\"tolerance_ms\":5}",
                         &v),
                     HARNESS_FAIL);
    double big[] = {150};
    backoff_request("b", big, 1);
    assert_int_equal(run("{\"check\":\"backoff_gaps\",\"base_ms\":40,\"cap_ms\":100,"
                         "\"jitter\":\"full\",\"tolerance_ms\":5}",
                         &v),
                     HARNESS_FAIL);
}

/* White-box: the relay's attempt events carry the sleep it intended. */
static void attempt_event(const char *id, uint64_t at_ms, long backoff_ms)
{
    struct harness_ev *e = &obs.evs[obs.n_evs++];
    snprintf(e->type, sizeof e->type, "attempt");
    snprintf(e->req_id, sizeof e->req_id, "%s", id);
    e->t = T0 + at_ms * MS;
    e->backoff_ms = backoff_ms;
}

static void test_backoff_white_box(void **state)
{
    struct report_check v;
    double g[] = {30, 60};
    backoff_request("a", g, 2);
    attempt_event("a", 2, 30);
    attempt_event("a", 34, 60);
    attempt_event("a", 96, 0);
    /* Intended 30 and 60 are within full jitter of 40 and 80; gaps match. */
    assert_int_equal(run("{\"check\":\"backoff_gaps\",\"base_ms\":40,\"jitter\":\"full\","
                         "\"tolerance_ms\":5}",
                         &v),
                     HARNESS_PASS);
    assert_non_null(strstr(v.measured, "2 with the relay's intended sleep"));
    /* The same gaps against no jitter: the intended sleeps are off schedule. */
    assert_int_equal(run("{\"check\":\"backoff_gaps\",\"base_ms\":40,\"jitter\":\"none\","
                         "\"tolerance_ms\":500}",
                         &v),
                     HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "relay slept 30 ms (allowed [40, 40])"));
    /* A relay that logs a sleep it did not take is caught by the gap. */
    obs.evs[1].backoff_ms = 70;
    assert_int_equal(run("{\"check\":\"backoff_gaps\",\"base_ms\":40,\"jitter\":\"full\","
                         "\"tolerance_ms\":5}",
                         &v),
                     HARNESS_FAIL);
}

/* The mock (in the runner's loop) stamped the first answer's t_done 20 ms
 * after it wrote it (the runner was descheduled): the relay read it at
 * +2 ms and waited its 40 ms, so the next attempt arrived at +42.  From
 * t_done the gap looks 22 ms long; from the arrival it is 42, and the
 * lower bound holds.  A relay that waited 30 ms still fails. */
static void test_backoff_late_done_stamp(void **state)
{
    struct report_check v;
    req("a", 0, 1000, 503, "", HARNESS_HTTP_ERROR);
    att("a", "blue", 0, 22, 503);
    att("a", "green", 42, 2, 503);
    const char *chk = "{\"check\":\"backoff_gaps\",\"base_ms\":40,\"jitter\":\"none\","
                      "\"tolerance_ms\":10}";
    assert_int_equal(run(chk, &v), HARNESS_PASS);
    attempt_event("a", 1, 40);
    attempt_event("a", 43, 0);
    assert_int_equal(run(chk, &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "1 with the relay's intended sleep"));
    obs.atts[1].t_arrival = obs.atts[0].t_arrival + 32 * MS;
    obs.atts[1].t_done = obs.atts[1].t_arrival + 2 * MS;
    assert_int_equal(run(chk, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "32.0 from the arrival"));
}

static void test_retry_after_and_hammering(void **state)
{
    struct report_check v;
    req("a", 0, 500, 200, "blue", HARNESS_OK);
    att("a", "blue", 0, 1, 429);
    att("a", "blue", 160, 1, 200);
    assert_int_equal(run("{\"check\":\"retry_after\",\"min_ms\":150}", &v), HARNESS_PASS);
    assert_int_equal(run("{\"check\":\"retry_after\",\"min_ms\":200}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "request a"));
    for (int i = 0; i < 10; i++)
        att("x", "green", 300 + (uint64_t)i * 5, 1, 429);
    assert_int_equal(run("{\"check\":\"no_hammering\",\"max\":10,\"window_ms\":100}", &v),
                     HARNESS_PASS);
    assert_int_equal(run("{\"check\":\"no_hammering\",\"max\":5,\"window_ms\":100,\"env\":"
                         "\"green\"}",
                         &v),
                     HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "at most 10"));
}

static void test_switches(void **state)
{
    struct report_check v;
    req("a", 0, 5, 200, "blue", HARNESS_OK);
    req("b", 100, 5, 200, "green", HARNESS_OK);
    req("c", 200, 5, 200, "green", HARNESS_OK);
    ev("switch", 50, "blue", "green", "", 0);
    mark("fault_on", 40);
    assert_int_equal(run("{\"check\":\"switches\",\"exact\":1,\"view\":\"both\"}", &v),
                     HARNESS_PASS);
    assert_int_equal(run("{\"check\":\"switches\",\"sequence\":[\"blue->green\"]}", &v),
                     HARNESS_PASS);
    assert_int_equal(run("{\"check\":\"switches\",\"sequence\":[\"green->blue\"]}", &v),
                     HARNESS_FAIL);
    assert_int_equal(run("{\"check\":\"switch_delay\",\"to\":\"green\",\"after\":\"fault_on\","
                         "\"within_ms\":20}",
                         &v),
                     HARNESS_PASS);
    assert_true(v.margin > 9.9 && v.margin < 10.1);
    assert_int_equal(run("{\"check\":\"switch_delay\",\"to\":\"green\",\"after\":\"fault_on\","
                         "\"within_ms\":5}",
                         &v),
                     HARNESS_FAIL);
    assert_int_equal(run("{\"check\":\"switch_delay\",\"to\":\"blue\",\"after\":\"fault_on\","
                         "\"within_ms\":500}",
                         &v),
                     HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "no such switch"));
    /* The mark never happened: no data, inconclusive. */
    assert_int_equal(run("{\"check\":\"switch_delay\",\"to\":\"green\",\"after\":\"cutover\","
                         "\"within_ms\":5}",
                         &v),
                     HARNESS_INCONCLUSIVE);
    /* The views disagree: the relay says it switched back, the clients saw no such thing. */
    ev("switch", 150, "green", "blue", "", 0);
    assert_int_equal(run("{\"check\":\"switches\",\"exact\":2,\"view\":\"both\"}", &v),
                     HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "disagree"));
    assert_int_equal(run("{\"check\":\"min_dwell\",\"min_ms\":50}", &v), HARNESS_PASS);
    assert_int_equal(run("{\"check\":\"min_dwell\",\"min_ms\":200}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "shortest dwell 100.0"));
    obs.have_events = 0;
    assert_int_equal(run("{\"check\":\"switches\",\"exact\":2}", &v), HARNESS_INCONCLUSIVE);
}

/* A slow request of the old colour finishing after fast ones of the new is
 * not a switch back: the served view orders by send time. */
static void test_switches_served_reordered(void **state)
{
    struct report_check v;
    req("a", 0, 5, 200, "blue", HARNESS_OK);
    req("b", 90, 200, 200, "blue", HARNESS_OK); /* slow: done at 290 */
    req("c", 100, 5, 200, "green", HARNESS_OK);
    req("d", 150, 5, 200, "green", HARNESS_OK);
    req("e", 400, 5, 200, "green", HARNESS_OK);
    assert_int_equal(run("{\"check\":\"switches\",\"exact\":1,\"view\":\"served\"}", &v),
                     HARNESS_PASS);
    assert_non_null(strstr(v.measured, "served: blue->green"));
}

/* An outsider's relay that fails over on the first failure and then serves
 * every answer from green switched once, though no two answers differ: the
 * served view starts at the colour of the first upstream attempt.  Before,
 * "switches exact 0" passed on it ("served: none"). */
static void test_switches_served_first_attempt(void **state)
{
    struct report_check v;
    req("a", 0, 30, 200, "green", HARNESS_OK);
    att("a", "blue", 1, 2, 429);
    att("a", "green", 15, 2, 200);
    req("b", 50, 5, 200, "green", HARNESS_OK);
    att("b", "green", 51, 2, 200);
    assert_int_equal(run("{\"check\":\"switches\",\"exact\":0,\"view\":\"served\"}", &v),
                     HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "served: blue->green"));
    assert_int_equal(run("{\"check\":\"switch_delay\",\"from\":\"blue\",\"to\":\"green\","
                         "\"after\":\"start\",\"within_ms\":40,\"view\":\"served\"}",
                         &v),
                     HARNESS_PASS);
    assert_non_null(strstr(v.measured, "30.0 ms")); /* when the client saw green */
    /* A probe is not where the relay was: a green probe first changes nothing. */
    obs.n_reqs = obs.n_atts = 0;
    probe("green", 0);
    req("a", 1, 5, 200, "blue", HARNESS_OK);
    att("a", "blue", 2, 2, 200);
    assert_int_equal(run("{\"check\":\"switches\",\"exact\":0,\"view\":\"served\"}", &v),
                     HARNESS_PASS);
    assert_non_null(strstr(v.measured, "served: none"));
}

static void test_no_traffic_after_unhealthy(void **state)
{
    struct report_check v;
    mark("fault_on", 100);
    ev("health", 150, "", "", "blue", 0);
    tobs_answered(&obs, "r", 0, 5, 100, 50, 5, 200, "green", 0, 0);
    att("r0", "blue", 100, 1, 200);
    att("r1", "blue", 160, 1, 200); /* inside the grace */
    assert_int_equal(run("{\"check\":\"no_traffic_after_unhealthy\",\"env\":\"blue\",\"after\":"
                         "\"fault_on\",\"grace_ms\":20}",
                         &v),
                     HARNESS_PASS);
    att("r3", "blue", 260, 1, 200);
    assert_int_equal(run("{\"check\":\"no_traffic_after_unhealthy\",\"env\":\"blue\",\"after\":"
                         "\"fault_on\",\"grace_ms\":20}",
                         &v),
                     HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "r3"));
    /* Traffic after blue recovered is fine. */
    obs.n_atts--;
    ev("health", 240, "", "", "blue", 1);
    att("r3", "blue", 260, 1, 200);
    assert_int_equal(run("{\"check\":\"no_traffic_after_unhealthy\",\"env\":\"blue\",\"after\":"
                         "\"fault_on\",\"grace_ms\":20}",
                         &v),
                     HARNESS_PASS);
    assert_int_equal(run("{\"check\":\"no_traffic_after_unhealthy\",\"env\":\"green\"}", &v),
                     HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "never found green unhealthy"));
}

static void test_rate_limit(void **state)
{
    struct report_check v;
    snprintf(obs.rl_kind, sizeof obs.rl_kind, "sliding"); /* cutover-relay's */
    /* 5 admitted in the first 400 ms, then 429s, then admitted again. */
    for (int i = 0; i < 14; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%d", i);
        int limited = i >= 5 && i < 10;
        struct harness_req *r =
            req(id, (uint64_t)i * 50, 2, limited ? 429 : 200, limited ? "" : "blue",
                limited ? HARNESS_HTTP_ERROR : HARNESS_OK);
        snprintf(r->key, sizeof r->key, "k1");
        if (limited) {
            r->retry_after_ms = 100;
            r->ratelimit_hdrs = 3;
        } else {
            att(id, "blue", (uint64_t)i * 50, 1, 200);
        }
    }
    assert_int_equal(run("{\"check\":\"rate_limit\",\"limit\":5,\"window_ms\":400}", &v),
                     HARNESS_PASS);
    assert_non_null(strstr(v.measured, "resumed yes"));
    assert_int_equal(run("{\"check\":\"rate_limit\",\"limit\":4,\"window_ms\":400}", &v),
                     HARNESS_FAIL);
    /* A limited request that reached an upstream fails the check. */
    att("r6", "green", 300, 1, 200);
    assert_int_equal(run("{\"check\":\"rate_limit\",\"limit\":5,\"window_ms\":400}", &v),
                     HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "limited reaching upstream 1"));
    /* Another key never limited: inconclusive (the limit was never reached). */
    assert_int_equal(
        run("{\"check\":\"rate_limit\",\"limit\":5,\"window_ms\":400,\"key\":\"k2\"}", &v),
        HARNESS_INCONCLUSIVE);
}

/* Exact header values: Retry-After = ceil(retry-after-ms / 1000), the
 * configured limit, remaining 0 on a 429. */
static void rl_traffic(long ra_s, long ra_ms, long limit_hdr, long remaining)
{
    for (int i = 0; i < 14; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%d", i);
        int limited = i >= 5 && i < 10;
        struct harness_req *r =
            req(id, (uint64_t)i * 50, 2, limited ? 429 : 200, limited ? "" : "blue",
                limited ? HARNESS_HTTP_ERROR : HARNESS_OK);
        if (limited) {
            r->retry_after_ms = ra_ms;
            r->ratelimit_hdrs = 3;
            r->ra_s = ra_s;
            r->ra_ms = ra_ms;
            r->rl_limit = limit_hdr;
            r->rl_remaining = remaining;
        } else {
            att(id, "blue", (uint64_t)i * 50, 1, 200);
        }
    }
}

static void test_rate_limit_header_values(void **state)
{
    struct report_check v;
    const char *chk = "{\"check\":\"rate_limit\",\"limit\":5,\"window_ms\":400}";
    rl_traffic(1, 150, 5, 0);
    assert_int_equal(run(chk, &v), HARNESS_PASS);
    obs.n_reqs = obs.n_atts = 0;
    rl_traffic(0, 150, 5, 0); /* Retry-After rounded down */
    assert_int_equal(run(chk, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "Retry-After 0 s, retry-after-ms 150 (ceil is 1)"));
    obs.n_reqs = obs.n_atts = 0;
    rl_traffic(1, 150, 1000, 0); /* the default limit, not the configured one */
    assert_int_equal(run(chk, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "x-ratelimit-limit 1000, the limit is 5"));
    obs.n_reqs = obs.n_atts = 0;
    rl_traffic(1, 150, 5, 2); /* a 429 that says requests remain */
    assert_int_equal(run(chk, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "x-ratelimit-remaining 2 with status 429"));
    obs.n_reqs = obs.n_atts = 0;
    rl_traffic(-1, 150, -1, -1); /* only retry-after-ms: nothing to compare */
    assert_int_equal(run(chk, &v), HARNESS_PASS);
    obs.n_reqs = obs.n_atts = 0;
    /* Retry-After as an HTTP date (RFC 9110 allows it; harness/traffic.c
     * reads ra_s -3, and its wait as 0: the header is there). */
    rl_traffic(-3, -1, -1, -1);
    for (size_t i = 0; i < obs.n_reqs; i++)
        obs.reqs[i].retry_after_ms = obs.reqs[i].ra_s == -3 ? 0 : obs.reqs[i].retry_after_ms;
    assert_int_equal(run(chk, &v), HARNESS_PASS);
    obs.n_reqs = obs.n_atts = 0;
    rl_traffic(-2, -1, -1, -1); /* neither a number nor a date */
    for (size_t i = 0; i < obs.n_reqs; i++)
        obs.reqs[i].retry_after_ms = obs.reqs[i].ra_s == -2 ? 0 : obs.reqs[i].retry_after_ms;
    assert_int_equal(run(chk, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "not a whole number"));
}

/* No 429 at all: inconclusive under a light load, a failure when more than
 * limit admissions certainly shared one window. */
static void test_rate_limit_never_limited(void **state)
{
    struct report_check v;
    snprintf(obs.rl_kind, sizeof obs.rl_kind, "sliding");
    const char *chk = "{\"check\":\"rate_limit\",\"limit\":5,\"window_ms\":400}";
    tobs_answered(&obs, "r", 0, 3, 0, 50, 2, 200, "blue", 0, 1);
    assert_int_equal(run(chk, &v), HARNESS_INCONCLUSIVE);
    tobs_answered(&obs, "r", 3, 14, 0, 50, 2, 200, "blue", 0, 1);
    assert_int_equal(run(chk, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "nothing was limited"));
}

/* A relay whose profile does not say how its limiter counts is held only to
 * what every kind promises.  A correct fixed-window limiter (limit 4 per
 * 400 ms, windows at 0, 400, 800 ms) admits 4 just before a boundary and 4
 * just after: 8 inside 400 ms, which is no excess for it (outsider audit,
 * round 2: a fixed-window relay failed "5 admissions certainly shared one
 * window").  Declared "fixed", the same traffic passes and an off-by-one
 * that admits 5 in one of its windows fails wherever the boundaries lie. */
static void fixed_window_traffic(int per_window)
{
    obs.n_reqs = obs.n_atts = 0;
    int n = 0;
    for (int w = 0; w < 3; w++)
        for (int i = 0; i < 6; i++, n++) {
            char id[16];
            snprintf(id, sizeof id, "f%d", n);
            /* Bunched at the end of window 0 and the start of window 1. */
            uint64_t at = w == 0 ? 300 + (uint64_t)i * 15 : (uint64_t)w * 400 + (uint64_t)i * 15;
            int limited = i >= per_window;
            struct harness_req *r = req(id, at, 2, limited ? 429 : 200, limited ? "" : "blue",
                                        limited ? HARNESS_HTTP_ERROR : HARNESS_OK);
            if (limited) {
                r->retry_after_ms = 100;
                r->ratelimit_hdrs = 3;
            } else {
                att(id, "blue", at, 1, 200);
            }
        }
}

static void test_rate_limit_window_kinds(void **state)
{
    struct report_check v;
    const char *chk = "{\"check\":\"rate_limit\",\"limit\":4,\"window_ms\":400}";
    fixed_window_traffic(4);
    /* cutover-relay's sliding window: 8 in 400 ms is an excess. */
    snprintf(obs.rl_kind, sizeof obs.rl_kind, "sliding");
    assert_int_equal(run(chk, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "certainly shared one window"));
    /* Unknown kind: inconclusive, saying why. */
    obs.rl_kind[0] = '\0';
    assert_int_equal(run(chk, &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "not for a fixed window or a token bucket"));
    assert_non_null(strstr(v.detail, "rate_limit_window"));
    /* Declared fixed: a correct fixed window passes... */
    snprintf(obs.rl_kind, sizeof obs.rl_kind, "fixed");
    fixed_window_traffic(4);
    assert_int_equal(run(chk, &v), HARNESS_PASS);
    /* ...and one admitting 5 per window fails, wherever its boundaries are. */
    fixed_window_traffic(5);
    assert_int_equal(run(chk, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "wherever its boundaries lie"));
    /* The profile's kind wins over the check's window_kind (a scenario
     * cannot know how someone else's limiter counts)... */
    fixed_window_traffic(4);
    const char *sliding_chk = "{\"check\":\"rate_limit\",\"limit\":4,\"window_ms\":400,"
                              "\"window_kind\":\"sliding\"}";
    assert_int_equal(run(sliding_chk, &v), HARNESS_PASS);
    /* ...which applies where nothing is declared (a raw command). */
    obs.rl_kind[0] = '\0';
    assert_int_equal(run(sliding_chk, &v), HARNESS_FAIL);
    /* More than twice the limit is too many for any kind. */
    obs.rl_kind[0] = '\0';
    fixed_window_traffic(6);
    assert_int_equal(run(chk, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "too many for any kind of window"));
}

/* ---- one rule for every window kind (harness/rl_judge.c) ---------------- */

/* A fleet of two replicas behind one limiter: alternate requests. */
static void two_replicas(void)
{
    obs.n_replicas = 2;
    for (size_t i = 0; i < obs.n_reqs; i++)
        obs.reqs[i].replica = (int)(i % 2);
}

/* fleet_rate_limit judged a declared fixed window like an unknown kind: a
 * correct fixed-window fleet (limit 4 per 400 ms, 4 on each side of a
 * boundary) was inconclusive, and one admitting 5 per window in two bursts
 * whose phases no single alignment of boundaries can split was inconclusive
 * too, where rate_limit's alignment test fails it. */
static void test_fleet_rate_limit_fixed_window(void **state)
{
    struct report_check v;
    const char *chk = "{\"check\":\"fleet_rate_limit\",\"limit\":4,\"window_ms\":400}";
    snprintf(obs.rl_kind, sizeof obs.rl_kind, "fixed");
    fixed_window_traffic(4);
    two_replicas();
    assert_int_equal(run(chk, &v), HARNESS_PASS);
    assert_non_null(strstr(v.detail, "signal: "));
    /* 5 at 0..60 ms and 5 at 600..660 ms: a boundary that splits the first
     * burst (phase 0..60 ms of 400) leaves the second whole and the other
     * way round, so some window held 5 wherever the boundaries lie; no span
     * of 400 ms holds more than 5 (no excess for the unknown kind). */
    obs.n_reqs = obs.n_atts = 0;
    for (int i = 0; i < 12; i++) {
        char id[16];
        snprintf(id, sizeof id, "b%d", i);
        uint64_t at = i < 6 ? (uint64_t)i * 12 : 600 + (uint64_t)(i - 6) * 12;
        int limited = i % 6 == 5;
        struct harness_req *r = req(id, at, 2, limited ? 429 : 200, limited ? "" : "blue",
                                    limited ? HARNESS_HTTP_ERROR : HARNESS_OK);
        if (limited) {
            r->retry_after_ms = 100;
            r->ratelimit_hdrs = 3;
        } else {
            att(id, "blue", at, 1, 200);
        }
    }
    two_replicas();
    const char *chk5 = "{\"check\":\"fleet_rate_limit\",\"limit\":4,\"window_ms\":400}";
    assert_int_equal(run(chk5, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "wherever its boundaries lie"));
    /* rate_limit says the same of the same admissions. */
    assert_int_equal(run("{\"check\":\"rate_limit\",\"limit\":4,\"window_ms\":400}", &v),
                     HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "wherever its boundaries lie"));
}

/* A fleet that refuses after one admission in the window (limit 4) is
 * wrong for a sliding or a fixed window, and was failed whatever its kind;
 * a token bucket of one refuses there too, so without a kind (or a bucket
 * without a size) it is inconclusive, naming why. */
static void test_fleet_early_refusal(void **state)
{
    struct report_check v;
    const char *chk = "{\"check\":\"fleet_rate_limit\",\"limit\":4,\"window_ms\":400}";
    req("e0", 0, 2, 200, "blue", HARNESS_OK);
    att("e0", "blue", 0, 1, 200);
    struct harness_req *r = req("e1", 50, 2, 429, "", HARNESS_HTTP_ERROR);
    r->retry_after_ms = 100;
    two_replicas();
    assert_int_equal(run(chk, &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "too early for a sliding or a fixed window"));
    snprintf(obs.rl_kind, sizeof obs.rl_kind, "fixed");
    assert_int_equal(run(chk, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "refused with 429 although fewer than 4"));
    snprintf(obs.rl_kind, sizeof obs.rl_kind, "bucket");
    assert_int_equal(run(chk, &v), HARNESS_INCONCLUSIVE);
    obs.rl_burst = 1;
    assert_int_equal(run(chk, &v), HARNESS_PASS);
}

/* A scenario's "client_count status 429 min" is written for a sliding
 * window: a correct fixed-window relay (or a token bucket, or a relay of
 * unknown kind) admits a full quota on each side of a boundary and so
 * refuses fewer.  Its shortfall was a failure; it is inconclusive, naming
 * why, and for a sliding window it stays a failure. */
static void test_refusal_count_window_kind(void **state)
{
    struct report_check v;
    const char *chk = "{\"check\":\"client_count\",\"status\":429,\"min\":8}";
    obs.rl_limit = 4;
    fixed_window_traffic(4); /* 6 refusals */
    snprintf(obs.rl_kind, sizeof obs.rl_kind, "fixed");
    assert_int_equal(run(chk, &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "refuse fewer"));
    assert_non_null(strstr(v.detail, "signal: "));
    snprintf(obs.rl_kind, sizeof obs.rl_kind, "bucket");
    assert_int_equal(run(chk, &v), HARNESS_INCONCLUSIVE);
    obs.rl_kind[0] = '\0';
    assert_int_equal(run(chk, &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "rate_limit_window"));
    /* exact is a lower bound too. */
    assert_int_equal(run("{\"check\":\"client_count\",\"status\":429,\"exact\":8}", &v),
                     HARNESS_INCONCLUSIVE);
    /* More refusals than an exact count is no shortfall. */
    assert_int_equal(run("{\"check\":\"client_count\",\"status\":429,\"exact\":4}", &v),
                     HARNESS_FAIL);
    snprintf(obs.rl_kind, sizeof obs.rl_kind, "sliding");
    assert_int_equal(run(chk, &v), HARNESS_FAIL);
    /* With the run's window known, a correct fixed window still explains
     * the shortfall... */
    obs.rl_window_us = 400.0 * MS;
    snprintf(obs.rl_kind, sizeof obs.rl_kind, "fixed");
    assert_int_equal(run(chk, &v), HARNESS_INCONCLUSIVE);
    /* ...but not 10 admissions inside 100 ms: more than any fixed window of
     * 4 admits there, so too few 429s is a failure for this kind too. */
    obs.n_reqs = obs.n_atts = 0;
    for (int i = 0; i < 18; i++) {
        char id[16];
        snprintf(id, sizeof id, "x%d", i);
        int limited = i >= 10;
        req(id, (uint64_t)i * 10, 2, limited ? 429 : 200, limited ? "" : "blue",
            limited ? HARNESS_HTTP_ERROR : HARNESS_OK);
        if (!limited)
            att(id, "blue", (uint64_t)i * 10, 1, 200);
    }
    assert_int_equal(run("{\"check\":\"client_count\",\"status\":429,\"min\":14}", &v),
                     HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "wherever its boundaries lie"));
    /* Two client keys have a quota each: never mixed into one window. */
    for (size_t i = 0; i < obs.n_reqs; i++)
        snprintf(obs.reqs[i].key, sizeof obs.reqs[i].key, "%s", i % 2 ? "key-b" : "key-a");
    assert_int_equal(run("{\"check\":\"client_count\",\"status\":429,\"min\":14}", &v),
                     HARNESS_INCONCLUSIVE);
    obs.rl_window_us = 0;
    /* Not a rate-limited run: the bound is the bound, whatever the kind. */
    obs.rl_limit = 0;
    assert_int_equal(run("{\"check\":\"client_count\",\"status\":429,\"min\":14}", &v),
                     HARNESS_FAIL);
}

/* A sliding-window relay admitting 8 where 4 are allowed fails every check
 * that counts admissions; a relay of unknown kind is inconclusive on every
 * one of them (between the limit and twice it), saying why. */
static void test_window_kind_every_check(void **state)
{
    struct report_check v;
    const char *const chks[] = {
        "{\"check\":\"rate_limit\",\"limit\":4,\"window_ms\":400}",
        "{\"check\":\"fleet_rate_limit\",\"limit\":4,\"window_ms\":400}",
        "{\"check\":\"client_count\",\"status\":200,\"max\":8}",
        "{\"check\":\"client_count\",\"status\":429,\"min\":8}",
        "{\"check\":\"upstream_count\",\"max\":8}",
    };
    obs.rl_limit = 4;
    fixed_window_traffic(4); /* 12 admitted, 6 refused */
    two_replicas();
    for (size_t i = 0; i < sizeof chks / sizeof chks[0]; i++) {
        snprintf(obs.rl_kind, sizeof obs.rl_kind, "sliding");
        if (run(chks[i], &v) != HARNESS_FAIL)
            fail_msg("sliding: %s: %d (%s)", chks[i], v.status, v.detail);
        obs.rl_kind[0] = '\0';
        if (run(chks[i], &v) != HARNESS_INCONCLUSIVE)
            fail_msg("unknown kind: %s: %d (%s)", chks[i], v.status, v.detail);
        if (!strstr(v.detail, "rate_limit_window"))
            fail_msg("unknown kind: %s: no reason (%s)", chks[i], v.detail);
    }
}

/* A token bucket admits a full bucket at once: with its size from the
 * profile ("rate_limit_burst") rate_limit judges it exactly; without, a
 * span over the limit is inconclusive, naming what would settle it. */
static void test_rate_limit_bucket(void **state)
{
    struct report_check v;
    const char *chk = "{\"check\":\"rate_limit\",\"limit\":4,\"window_ms\":400}";
    snprintf(obs.rl_kind, sizeof obs.rl_kind, "bucket");
    fixed_window_traffic(4); /* 8 in one span of 400 ms */
    assert_int_equal(run(chk, &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "rate_limit_burst"));
    obs.rl_burst = 4;
    assert_int_equal(run(chk, &v), HARNESS_PASS);
    obs.rl_burst = 2;
    assert_int_equal(run(chk, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "token bucket of 2"));
}

/* Retry-After is what any limiter owes; x-ratelimit-* only when the check
 * asks (the default).  A failing verdict names which was missing. */
static void test_rate_limit_retry_after_only(void **state)
{
    struct report_check v;
    rl_traffic(-1, 1000, -1, -1);
    for (size_t i = 0; i < obs.n_reqs; i++)
        obs.reqs[i].ratelimit_hdrs = 0; /* Retry-After alone */
    assert_int_equal(run("{\"check\":\"rate_limit\",\"limit\":5,\"window_ms\":400}", &v),
                     HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "5 of 5 429s without x-ratelimit-* headers"));
    assert_int_equal(run("{\"check\":\"rate_limit\",\"limit\":5,\"window_ms\":400,"
                         "\"ratelimit_headers\":false}",
                         &v),
                     HARNESS_PASS);
    for (size_t i = 0; i < obs.n_reqs; i++)
        obs.reqs[i].retry_after_ms = -1; /* nothing says when to come back */
    assert_int_equal(run("{\"check\":\"rate_limit\",\"limit\":5,\"window_ms\":400,"
                         "\"ratelimit_headers\":false}",
                         &v),
                     HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "5 of 5 429s without Retry-After"));
}

/* Retry-After binds the colour that said it, not only the request's next
 * attempt: a relay that alternates colours every few ms is back at blue
 * 30 ms after blue asked for 300.  Before, the blue -> green -> blue
 * sequence had no sample (consecutive attempts differ in colour). */
static void test_retry_after_across_colours(void **state)
{
    struct report_check v;
    req("a", 0, 100, 200, "blue", HARNESS_OK);
    att("a", "blue", 0, 1, 429);
    att("a", "green", 10, 1, 429);
    att("a", "blue", 31, 1, 200);
    assert_int_equal(run("{\"check\":\"retry_after\",\"min_ms\":300}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "1 retries, shortest wait 31.0 ms"));
    /* Back at blue after its 300 ms: a pass; green was never asked again. */
    obs.atts[2].t_arrival = T0 + 302 * MS;
    obs.atts[2].t_done = obs.atts[2].t_arrival + MS;
    assert_int_equal(run("{\"check\":\"retry_after\",\"min_ms\":300}", &v), HARNESS_PASS);
    /* A failover and no return: nothing to judge. */
    obs.n_atts = 2;
    assert_int_equal(run("{\"check\":\"retry_after\",\"min_ms\":300}", &v), HARNESS_INCONCLUSIVE);
}

/* tried_ratio: after the failover a relay that keeps its switch leaves
 * blue alone; one that keeps no state tries blue first every time. */
static void test_tried_ratio(void **state)
{
    struct report_check v;
    for (int i = 0; i < 10; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%d", i);
        struct harness_req *r = req(id, (uint64_t)i * 50, 20, 200, "green", HARNESS_OK);
        r->phase = 1;
        if (i < 2 || i == 7)
            att(id, "blue", (uint64_t)i * 50, 1, 503);
        att(id, "green", (uint64_t)i * 50 + 5, 1, 200);
    }
    const char *chk = "{\"check\":\"tried_ratio\",\"env\":\"blue\",\"phase\":1,\"max\":0.3}";
    assert_int_equal(run(chk, &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "0.300 (3 of 10)"));
    for (size_t i = 0; i < obs.n_reqs; i++)
        if (count_blue(obs.reqs[i].id) == 0)
            att(obs.reqs[i].id, "blue", 600, 1, 503);
    assert_int_equal(run(chk, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "does not keep its switch"));
    /* Another phase, or requests whose attempts were never found: no sample. */
    assert_int_equal(run("{\"check\":\"tried_ratio\",\"env\":\"blue\",\"phase\":0,\"max\":0}", &v),
                     HARNESS_INCONCLUSIVE);
    obs.n_atts = 0;
    assert_int_equal(run(chk, &v), HARNESS_INCONCLUSIVE);
}

/* stream_incremental: the first byte before the upstream finished; a
 * short upstream stream is no sample. */
/* relay_stderr_lines: a bound on lines, only where the relay's log is
 * known to be its stderr (the log signal). */
static void test_relay_stderr_lines(void **state)
{
    struct report_check v;
    obs.signals |= HARNESS_SIG_LOG;
    obs.stderr_read = 1;
    assert_int_equal(run("{\"check\":\"relay_stderr_lines\",\"max\":0}", &v), HARNESS_PASS);
    obs.stderr_lines = 2;
    snprintf(obs.stderr_first, sizeof obs.stderr_first, "info relay: started");
    assert_int_equal(run("{\"check\":\"relay_stderr_lines\",\"max\":0}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "info relay: started"));
    assert_int_equal(run("{\"check\":\"relay_stderr_lines\",\"max\":2}", &v), HARNESS_PASS);
    obs.signals &= ~(unsigned)HARNESS_SIG_LOG; /* a relay logging to its own file */
    obs.stderr_lines = 0;
    assert_int_equal(run("{\"check\":\"relay_stderr_lines\",\"max\":0}", &v), HARNESS_INCONCLUSIVE);
}

/* seeded_picks_agree: replica i's n-th request served like replica 0's. */
static void test_seeded_picks_agree(void **state)
{
    struct report_check v;
    const char *picks[] = {"blue",  "green", "green", "blue",  "blue",
                           "green", "blue",  "green", "green", "blue"};
    char id[32];
    obs.n_replicas = 2;
    for (int k = 0; k < 10; k++)
        for (int r = 0; r < 2; r++) {
            snprintf(id, sizeof id, "r%d-%d", r, k);
            req(id, (uint64_t)(100 + 50 * k + 25 * r), 5, 200, picks[k], HARNESS_OK)->replica = r;
        }
    assert_int_equal(run("{\"check\":\"seeded_picks_agree\"}", &v), HARNESS_PASS);
    assert_int_equal(v.samples, 10);
    /* Replica 1's fourth request went elsewhere: a pick not from the seed. */
    snprintf(obs.reqs[7].served, sizeof obs.reqs[7].served, "green");
    assert_int_equal(run("{\"check\":\"seeded_picks_agree\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "request 4"));
    obs.n_replicas = 1;
    assert_int_equal(run("{\"check\":\"seeded_picks_agree\"}", &v), HARNESS_INCONCLUSIVE);
}

static void test_stream_incremental(void **state)
{
    struct report_check v;
    const char *chk = "{\"check\":\"stream_incremental\",\"lead_ms\":100}";
    for (int i = 0; i < 4; i++) {
        char id[16];
        snprintf(id, sizeof id, "s%d", i);
        struct harness_req *r = req(id, (uint64_t)i * 100, 420, 200, "blue", HARNESS_OK);
        r->stream = 1;
        r->t_first = r->t_sent + 30 * MS; /* passed on as it came */
        att(id, "blue", (uint64_t)i * 100 + 1, 400, 200);
    }
    assert_int_equal(run(chk, &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "4 streams"));
    obs.reqs[2].t_first = obs.reqs[2].t_sent + 402 * MS; /* after blue's end: buffered */
    assert_int_equal(run(chk, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "relay buffers streams; request s2"));
    /* Upstream streams too short to tell (150 ms < 2 x 100): inconclusive. */
    for (size_t i = 0; i < obs.n_atts; i++)
        obs.atts[i].t_done = obs.atts[i].t_arrival + 150 * MS;
    assert_int_equal(run(chk, &v), HARNESS_INCONCLUSIVE);
}

/* answer_content_type: JSON as application/json (parameters allowed),
 * streams as text/event-stream; errors and cut answers are no samples. */
static void test_answer_content_type(void **state)
{
    struct report_check v;
    struct harness_req *a = req("a", 0, 5, 200, "blue", HARNESS_OK);
    a->complete = 1;
    snprintf(a->ctype, sizeof a->ctype, "application/json; charset=utf-8");
    struct harness_req *b = req("b", 10, 5, 200, "blue", HARNESS_OK);
    b->complete = 1;
    b->stream = 1;
    snprintf(b->ctype, sizeof b->ctype, "text/event-stream");
    struct harness_req *e = req("e", 20, 5, 502, "", HARNESS_HTTP_ERROR);
    snprintf(e->ctype, sizeof e->ctype, "text/html"); /* error_shape's, not ours */
    assert_int_equal(run("{\"check\":\"answer_content_type\"}", &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "0 of 2"));
    snprintf(a->ctype, sizeof a->ctype, "text/plain");
    assert_int_equal(run("{\"check\":\"answer_content_type\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "Content-Type 'text/plain' on a JSON answer; request a"));
    snprintf(a->ctype, sizeof a->ctype, "application/jsonx");
    assert_int_equal(run("{\"check\":\"answer_content_type\"}", &v), HARNESS_FAIL);
    snprintf(b->ctype, sizeof b->ctype, "application/json");
    a->complete = 0; /* a cut answer tells nothing of its type */
    assert_int_equal(run("{\"check\":\"answer_content_type\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "on a streamed answer; request b"));
}

/* answer_encoding (outsider round 3): a plain body passes, one labelled
 * gzip without gzip's mark fails naming the coding and bytes, a real gzip
 * head passes, br (no mark) is not judged; no 200 body: inconclusive. */
static void test_answer_encoding(void **state)
{
    struct report_check v;
    struct harness_req *e = req("e", 0, 5, 502, "", HARNESS_HTTP_ERROR);
    e->head_n = 1;
    e->head[0] = '<';
    snprintf(e->cenc, sizeof e->cenc, "gzip"); /* an error: not judged */
    assert_int_equal(run("{\"check\":\"answer_encoding\"}", &v), HARNESS_INCONCLUSIVE);
    struct harness_req *a = req("a", 10, 5, 200, "blue", HARNESS_OK);
    a->head_n = 2;
    memcpy(a->head, "{\"", 2);
    struct harness_req *b = req("b", 20, 5, 200, "blue", HARNESS_OK);
    b->head_n = 2;
    memcpy(b->head, "da", 2);
    assert_int_equal(run("{\"check\":\"answer_encoding\"}", &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "0 of 2"));
    snprintf(b->cenc, sizeof b->cenc, "gzip");
    assert_int_equal(run("{\"check\":\"answer_encoding\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "1 of 2"));
    assert_non_null(strstr(v.detail, "Content-Encoding 'gzip' on a body starting 64 61"));
    assert_non_null(strstr(v.detail, "request b"));
    memcpy(b->head, "\x1f\x8b", 2);
    assert_int_equal(run("{\"check\":\"answer_encoding\"}", &v), HARNESS_PASS);
    snprintf(a->cenc, sizeof a->cenc, "deflate"); /* '{"' is no zlib header */
    assert_int_equal(run("{\"check\":\"answer_encoding\"}", &v), HARNESS_FAIL);
    memcpy(a->head, "\x78\x9c", 2);
    assert_int_equal(run("{\"check\":\"answer_encoding\"}", &v), HARNESS_PASS);
    snprintf(b->cenc, sizeof b->cenc, "br");
    assert_int_equal(run("{\"check\":\"answer_encoding\"}", &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "0 of 1"));
    assert_non_null(strstr(v.detail, "1 answer(s) in a coding without a mark (br) not judged"));
}

/* retry_after_kept (outsider round 3): a 429 with Retry-After or
 * retry-after-ms passes, one with neither fails naming the request; no 429
 * (another status is client_count's business): inconclusive. */
static void test_retry_after_kept(void **state)
{
    struct report_check v;
    struct harness_req *e = req("e", 0, 5, 502, "", HARNESS_HTTP_ERROR);
    (void)e;
    assert_int_equal(run("{\"check\":\"retry_after_kept\"}", &v), HARNESS_INCONCLUSIVE);
    struct harness_req *a = req("a", 10, 5, 429, "blue", HARNESS_HTTP_ERROR);
    a->ra_s = 1;
    a->retry_after_ms = 1000;
    struct harness_req *b = req("b", 20, 5, 429, "green", HARNESS_HTTP_ERROR);
    b->ra_ms = 300;
    b->retry_after_ms = 300;
    assert_int_equal(run("{\"check\":\"retry_after_kept\"}", &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "0 of 2 429s"));
    b->ra_ms = b->retry_after_ms = -1;
    assert_int_equal(run("{\"check\":\"retry_after_kept\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "1 of 2 429s without Retry-After"));
    assert_non_null(strstr(v.detail, "the client was not told; request b"));
    assert_int_equal(run("{\"check\":\"retry_after_kept\",\"status\":503}", &v),
                     HARNESS_INCONCLUSIVE);
}

/* hop_headers (outsider round 4): the upstream answered with
 * Connection: keep-alive, X-Mock-Hop; an answer without X-Mock-Hop passes,
 * one with it fails naming the copy; no attempt answered with hop headers
 * (or none found): inconclusive. */
static void test_hop_headers(void **state)
{
    struct report_check v;
    struct harness_req *a = req("a", 0, 5, 200, "blue", HARNESS_OK);
    struct harness_req *b = req("b", 10, 5, 200, "blue", HARNESS_OK);
    att("a", "blue", 1, 3, 200);
    att("b", "blue", 11, 3, 200);
    assert_int_equal(run("{\"check\":\"hop_headers\"}", &v), HARNESS_INCONCLUSIVE);
    snprintf(obs.atts[0].action, sizeof obs.atts[0].action, "hop_headers");
    snprintf(obs.atts[1].action, sizeof obs.atts[1].action, "hop_headers");
    assert_int_equal(run("{\"check\":\"hop_headers\"}", &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "0 of 2 answers carried X-Mock-Hop"));
    assert_non_null(strstr(v.detail, "signal: the client answers' headers"));
    b->hop_hdr = 1;
    assert_int_equal(run("{\"check\":\"hop_headers\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "1 of 2"));
    assert_non_null(strstr(v.detail, "copies the upstream's hop-by-hop headers"));
    assert_non_null(strstr(v.detail, "request b"));
    /* Without the ids the attempts cannot be tied to the answers. */
    obs.signals &= ~HARNESS_SIG_IDS;
    assert_int_equal(run("{\"check\":\"hop_headers\"}", &v), HARNESS_INCONCLUSIVE);
    (void)a;
}

/* retry_after_holds (outsider round 4): a client that waits the relay's
 * own 429's Retry-After and is let in passes; refused again fails naming
 * both requests; an admission of the client in between, an upstream 429
 * or nobody coming back is no sample: inconclusive. */
static void test_retry_after_holds(void **state)
{
    struct report_check v;
    req("a", 0, 5, 200, "blue", HARNESS_OK);
    att("a", "blue", 1, 3, 200);
    struct harness_req *r = req("r", 10, 1, 429, "", HARNESS_HTTP_ERROR);
    r->retry_after_ms = 500;
    assert_int_equal(run("{\"check\":\"retry_after_holds\"}", &v), HARNESS_INCONCLUSIVE);
    struct harness_req *b = req("b", 600, 5, 200, "blue", HARNESS_OK);
    att("b", "blue", 601, 3, 200);
    assert_int_equal(run("{\"check\":\"retry_after_holds\"}", &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "0 of 1 came back"));
    assert_non_null(strstr(v.detail, "signal: client log: the relay's own 429s"));
    /* A Retry-After of 0: the next request is refused again. */
    r->retry_after_ms = 0;
    struct harness_req *n = req("n", 30, 1, 429, "", HARNESS_HTTP_ERROR);
    n->retry_after_ms = 2000;
    assert_int_equal(run("{\"check\":\"retry_after_holds\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "1 of 1 came back after the wait and were refused again"));
    assert_non_null(strstr(v.detail, "said wait 0 ms; request n of that client"));
    /* Another client's refusal is not this client's. */
    snprintf(n->key, sizeof n->key, "sk-other");
    assert_int_equal(run("{\"check\":\"retry_after_holds\"}", &v), HARNESS_PASS);
    /* An admission of the client in between may have taken the slot. */
    n->key[0] = '\0';
    n->status = 200;
    att("n", "blue", 31, 3, 200);
    r->retry_after_ms = 500;
    b->status = 429;
    assert_int_equal(run("{\"check\":\"retry_after_holds\"}", &v), HARNESS_INCONCLUSIVE);
    /* Without the ids the relay's own 429s cannot be told from upstream ones. */
    obs.signals &= ~HARNESS_SIG_IDS;
    assert_int_equal(run("{\"check\":\"retry_after_holds\"}", &v), HARNESS_INCONCLUSIVE);
}

/* retry_after_holds: an upstream's 429 is no refusal by the relay.  The
 * client that came back after the wait was let in when its request reached
 * an upstream, whatever that upstream answered (a pass); and a request of
 * the client that reached an upstream in between was an admission that may
 * have taken the slot (no sample), even when the upstream answered 429. */
static void test_retry_after_holds_upstream_429(void **state)
{
    struct report_check v;
    struct harness_req *r = req("r", 10, 1, 429, "", HARNESS_HTTP_ERROR);
    r->retry_after_ms = 500;
    req("n", 600, 5, 429, "", HARNESS_HTTP_ERROR);
    att("n", "blue", 601, 3, 429); /* admitted: blue refused it itself */
    assert_int_equal(run("{\"check\":\"retry_after_holds\"}", &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "0 of 1 came back"));
    /* Admitted in between (its upstream said 429), then the relay refuses. */
    req("m", 300, 5, 429, "", HARNESS_HTTP_ERROR);
    att("m", "blue", 301, 3, 429);
    req("k", 700, 1, 429, "", HARNESS_HTTP_ERROR);
    obs.reqs[1].t_sent = obs.reqs[1].t_sched = T0 + 900 * MS; /* n after k */
    obs.reqs[1].t_done = T0 + 905 * MS;
    assert_int_equal(run("{\"check\":\"retry_after_holds\"}", &v), HARNESS_INCONCLUSIVE);
}

/* retry_after_holds: a 429 whose Retry-After is an HTTP date (the traffic
 * code reads no number there: ra_s -2, the wait 0) says a wait the client
 * log does not hold; coming back at once and being refused is no proof of
 * a short wait (rate_limit judges the header's form): no sample. */
static void test_retry_after_holds_date(void **state)
{
    struct report_check v;
    struct harness_req *r = req("r", 10, 1, 429, "", HARNESS_HTTP_ERROR);
    r->ra_s = -2;
    r->retry_after_ms = 0;
    req("n", 30, 1, 429, "", HARNESS_HTTP_ERROR);
    assert_int_equal(run("{\"check\":\"retry_after_holds\"}", &v), HARNESS_INCONCLUSIVE);
    /* With retry-after-ms beside it, the wait is read from that. */
    r->ra_ms = r->retry_after_ms = 0;
    assert_int_equal(run("{\"check\":\"retry_after_holds\"}", &v), HARNESS_FAIL);
}

/* stream_ends_once: a stream read to its [DONE] with nothing after passes;
 * one with a second [DONE] fails naming it; no whole stream: inconclusive. */
static void test_stream_ends_once(void **state)
{
    struct report_check v;
    struct harness_req *j = req("j", 0, 5, 200, "blue", HARNESS_OK); /* JSON: not judged */
    j->complete = 1;
    assert_int_equal(run("{\"check\":\"stream_ends_once\"}", &v), HARNESS_INCONCLUSIVE);
    struct harness_req *a = req("a", 10, 5, 200, "blue", HARNESS_OK);
    a->stream = a->done_marker = a->complete = 1;
    struct harness_req *b = req("b", 20, 5, 200, "blue", HARNESS_OK);
    b->stream = b->done_marker = b->complete = 1;
    assert_int_equal(run("{\"check\":\"stream_ends_once\"}", &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "0 of 2"));
    b->after_done = 1;
    assert_int_equal(run("{\"check\":\"stream_ends_once\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "1 of 2"));
    assert_non_null(strstr(v.detail, "1 event(s) after data: [DONE]"));
    assert_non_null(strstr(v.detail, "request b"));
}

/* cancel_on_client_gone: a client that gave up (curl 28) at 500 ms whose
 * upstream attempt saw it go at 600 passes; one whose upstream streamed on
 * to 3000 ms fails, and so does a retry made after the client left; no
 * abandoned request, or no ids: inconclusive. */
static void test_cancel_on_client_gone(void **state)
{
    struct report_check v;
    const char *chk = "{\"check\":\"cancel_on_client_gone\",\"within_ms\":1000}";
    req("ok", 0, 20, 200, "blue", HARNESS_OK);
    att("ok", "blue", 1, 10, 200);
    assert_int_equal(run(chk, &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.measured, "no request the client gave up on"));
    struct harness_req *g = req("g", 100, 500, 200, "blue", HARNESS_TRUNCATED);
    g->curl_rc = 28;
    struct harness_att *ga = att("g", "blue", 101, 600, 200); /* ends at 701: seen going */
    assert_int_equal(run(chk, &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "0 of 1"));
    ga->t_done = T0 + 3000 * MS; /* read to its end, 2.4 s after the client left */
    assert_int_equal(run(chk, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "1 of 1"));
    assert_non_null(strstr(v.detail, "does not cancel on disconnect"));
    assert_non_null(strstr(v.detail, "request g"));
    ga->t_done = T0 + 700 * MS;
    att("g", "green", 1800, 5, 200); /* a retry for a client long gone */
    assert_int_equal(run(chk, &v), HARNESS_FAIL);
    obs.signals &= ~HARNESS_SIG_IDS;
    assert_int_equal(run(chk, &v), HARNESS_INCONCLUSIVE);
}

/* sequential_attempts: a hedge to both colours fails; a failover after a
 * timeout (the upstream saw the client go) overlapping the next does not. */
static void test_sequential_attempts(void **state)
{
    struct report_check v;
    req("a", 0, 30, 200, "green", HARNESS_OK);
    att("a", "blue", 1, 2, 503);
    att("a", "green", 13, 2, 200);
    req("t", 50, 400, 200, "green", HARNESS_OK);
    struct harness_att *slow = att("t", "blue", 51, 1000, 0);
    snprintf(slow->end, sizeof slow->end, "client_gone"); /* given up at 250 */
    att("t", "green", 301, 2, 200);
    for (size_t i = 0; i < obs.n_atts; i++)
        if (!obs.atts[i].end[0])
            snprintf(obs.atts[i].end, sizeof obs.atts[i].end, "complete");
    assert_int_equal(run("{\"check\":\"sequential_attempts\"}", &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "0 of 2"));
    req("h", 500, 30, 200, "blue", HARNESS_OK);
    snprintf(att("h", "blue", 501, 8, 200)->end, 16, "complete");
    snprintf(att("h", "green", 502, 9, 200)->end, 16, "complete"); /* out together */
    assert_int_equal(run("{\"check\":\"sequential_attempts\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "went upstream twice at once"));
    assert_non_null(strstr(v.detail, "request h"));
}

/* Every client refused with 401 by the relay itself (no upstream reached):
 * no limiter decision at all, so inconclusive, not "nothing was limited"
 * (a raw command whose {client_keys} stayed literal made every answer a
 * 401, and rate_limit failed on them). */
static void test_rate_limit_all_refused(void **state)
{
    struct report_check v;
    const char *chk = "{\"check\":\"rate_limit\",\"limit\":5,\"window_ms\":400}";
    tobs_answered(&obs, "r", 0, 14, 0, 20, 2, 401, "", 0, 0);
    assert_int_equal(run(chk, &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.measured, "max admitted/window 0"));
    /* A 5xx whose request reached an upstream was admitted, and counts. */
    obs.n_reqs = 0;
    tobs_answered(&obs, "r", 0, 14, 0, 20, 2, 502, "blue", 0, 1);
    assert_int_equal(run(chk, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "nothing was limited"));
}

/* A deterministic uniform draw in [0, 1). */
static double draw(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/* n requests of two attempts, the gap between them sleep(t) ms. */
static void backoff_traffic(int n, double (*sleep)(double t, uint64_t *s), uint64_t seed)
{
    obs.n_reqs = obs.n_atts = 0;
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "b%d", i);
        uint64_t at = (uint64_t)i * 1000;
        req(id, at, 500, 503, "", HARNESS_HTTP_ERROR);
        att(id, "blue", at, 1, 503);
        /* Late by 0..3 ms, as a loaded machine is. */
        double late = 3 * draw(&seed);
        struct harness_att *a = att(id, "green", at, 1, 503);
        a->t_arrival = T0 + at * MS + 1 * MS + (uint64_t)((sleep(200, &seed) + late) * 1000);
        a->t_done = a->t_arrival + MS;
    }
}

static double full_sleep(double t, uint64_t *s)
{
    return floor(draw(s) * (t + 1));
}

static double half_sleep(double t, uint64_t *s)
{
    return t / 2;
}

static double equal_sleep(double t, uint64_t *s)
{
    return t / 2 + floor(draw(s) * (t / 2 + 1));
}

static void test_backoff_distribution(void **state)
{
    struct report_check v;
    const char *full = "{\"check\":\"backoff_gaps\",\"base_ms\":200,\"jitter\":\"full\","
                       "\"tolerance_ms\":10,\"distribution\":true}";
    const char *equal = "{\"check\":\"backoff_gaps\",\"base_ms\":200,\"jitter\":\"equal\","
                        "\"tolerance_ms\":10,\"distribution\":true}";
    assert_int_equal(harness_backoff_dist_min_samples(), 56);
    /* A correct relay passes, seed after seed (false-failure probability
     * <= 1e-4 each: 40 seeds fail together with probability <= 0.004). */
    for (uint64_t seed = 1; seed <= 40; seed++) {
        backoff_traffic(100, full_sleep, seed);
        if (run(full, &v) != HARNESS_PASS)
            fail_msg("seed %llu: %s", (unsigned long long)seed, v.measured);
        backoff_traffic(100, equal_sleep, seed);
        if (run(equal, &v) != HARNESS_PASS)
            fail_msg("seed %llu: %s", (unsigned long long)seed, v.measured);
    }
    assert_non_null(strstr(v.measured, "100 gaps (black-box"));
    /* Inside the bounds but not random: a fixed half of t. */
    backoff_traffic(100, half_sleep, 7);
    assert_int_equal(run(full, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "not that of 'full' jitter"));
    /* Equal jitter's sleeps, all within full's [0, t], are not full jitter. */
    backoff_traffic(100, equal_sleep, 7);
    assert_int_equal(run(full, &v), HARNESS_FAIL);
    /* The bounds mode passes both: that is why the mode exists. */
    assert_int_equal(run("{\"check\":\"backoff_gaps\",\"base_ms\":200,\"jitter\":\"full\","
                         "\"tolerance_ms\":10}",
                         &v),
                     HARNESS_PASS);
    /* Too few gaps to tell: inconclusive with the reason, never a pass. */
    backoff_traffic(30, half_sleep, 7);
    assert_int_equal(run(full, &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "too few gaps: 30 of the 56"));
}

/* The interval test itself: exact uniform quantiles fit, a point mass and
 * intervals that allow anything behave as they must. */
static void test_dist_excess(void **state)
{
    double lo[10], hi[10];
    for (int i = 0; i < 10; i++)
        lo[i] = hi[i] = (i + 0.5) / 10;
    assert_true(harness_dist_excess(lo, hi, 10) <= 0.05 + 1e-9);
    for (int i = 0; i < 10; i++)
        lo[i] = hi[i] = 0.5;
    assert_true(fabs(harness_dist_excess(lo, hi, 10) - 0.5) < 1e-9);
    for (int i = 0; i < 10; i++) {
        lo[i] = -1;
        hi[i] = 2;
    }
    assert_true(harness_dist_excess(lo, hi, 10) <= 1e-9);
}

/* One upstream attempt as the journal records what reached it. */
static struct harness_att *fw_att(const char *id, const char *env, uint64_t at_ms)
{
    struct harness_att *a = att(id, env, at_ms, 1, 200);
    snprintf(a->hdr_id, sizeof a->hdr_id, "%s", id);
    snprintf(a->user, sizeof a->user, "%s", id);
    snprintf(a->model, sizeof a->model, "gpt-4.1");
    a->max_tokens = 16;
    a->msg_hash = 0x1234;
    snprintf(a->key, sizeof a->key, "configured");
    snprintf(a->action, sizeof a->action, "ok");
    return a;
}

static void test_forwarded(void **state)
{
    struct report_check v;
    for (int i = 0; i < 4; i++) {
        char id[16];
        snprintf(id, sizeof id, "f%d", i);
        req(id, (uint64_t)i * 10, 5, 200, "blue", HARNESS_OK);
        fw_att(id, "blue", (uint64_t)i * 10);
        fw_att(id, "green", (uint64_t)i * 10 + 3);
    }
    assert_int_equal(run("{\"check\":\"forwarded\",\"require_id\":true}", &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "over 8 attempts"));
    /* The retry lost max_tokens. */
    obs.atts[3].max_tokens = -1;
    assert_int_equal(run("{\"check\":\"forwarded\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "request f1"));
    assert_int_equal(run("{\"check\":\"forwarded\",\"parts\":[\"model\",\"id\"]}", &v),
                     HARNESS_PASS);
    obs.atts[3].max_tokens = 16;
    /* Another model, another key, a new id per attempt. */
    snprintf(obs.atts[0].model, sizeof obs.atts[0].model, "gpt-4o");
    assert_int_equal(run("{\"check\":\"forwarded\",\"parts\":[\"model\"]}", &v), HARNESS_FAIL);
    snprintf(obs.atts[0].model, sizeof obs.atts[0].model, "gpt-4.1");
    snprintf(obs.atts[5].key, sizeof obs.atts[5].key, "other");
    assert_int_equal(run("{\"check\":\"forwarded\",\"parts\":[\"key\"]}", &v), HARNESS_FAIL);
    snprintf(obs.atts[5].key, sizeof obs.atts[5].key, "configured");
    snprintf(obs.atts[7].hdr_id, sizeof obs.atts[7].hdr_id, "relay-made-7");
    assert_int_equal(run("{\"check\":\"forwarded\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "X-Request-ID 'relay-made-7' (sent 'f3')"));
    /* No X-Request-ID reached the upstream at all: the id part could not be
     * seen (inconclusive), unless the scenario requires it. */
    for (size_t i = 0; i < obs.n_atts; i++)
        obs.atts[i].hdr_id[0] = '\0';
    assert_int_equal(run("{\"check\":\"forwarded\"}", &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "not seen: id"));
    assert_int_equal(run("{\"check\":\"forwarded\",\"require_id\":true}", &v), HARNESS_FAIL);
    assert_int_equal(run("{\"check\":\"forwarded\",\"parts\":[\"model\",\"body\",\"key\"]}", &v),
                     HARNESS_PASS);
    /* A raw body (a request template's "raw") is bytes the harness does
     * not model: its model and body are not compared, never failed. */
    for (size_t i = 0; i < obs.n_reqs; i++)
        obs.reqs[i].raw = 1;
    obs.atts[0].msg_hash = 0x999;
    snprintf(obs.atts[0].model, sizeof obs.atts[0].model, "mock-model");
    assert_int_equal(run("{\"check\":\"forwarded\",\"parts\":[\"model\",\"body\"]}", &v),
                     HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "not seen: model, body"));
    assert_int_equal(run("{\"check\":\"forwarded\",\"parts\":[\"key\"]}", &v), HARNESS_PASS);
    /* X-Env is judged where it arrived: the colour the attempt went to, not
     * the active one; no X-Env anywhere is neither a failure nor unseen. */
    assert_int_equal(run("{\"check\":\"forwarded\",\"parts\":[\"env\"]}", &v), HARNESS_PASS);
    for (size_t i = 0; i < obs.n_atts; i++)
        snprintf(obs.atts[i].x_env, sizeof obs.atts[i].x_env, "%s", obs.atts[i].env);
    assert_int_equal(run("{\"check\":\"forwarded\",\"parts\":[\"env\"]}", &v), HARNESS_PASS);
    snprintf(obs.atts[3].x_env, sizeof obs.atts[3].x_env, "blue");
    assert_int_equal(run("{\"check\":\"forwarded\",\"parts\":[\"env\"]}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "X-Env 'blue' at green"));
    snprintf(obs.atts[3].x_env, sizeof obs.atts[3].x_env, "green");
    /* X-Attempt counts 1, 2 per request in arrival order; a repeat only
     * right after an attempt that got no answer (libcurl's resend). */
    for (size_t i = 0; i < obs.n_atts; i++)
        obs.atts[i].attempt = (int)(i % 2) + 1;
    assert_int_equal(run("{\"check\":\"forwarded\",\"parts\":[\"attempt\"]}", &v), HARNESS_PASS);
    obs.atts[1].attempt = 1; /* f0's retry says 1 again, after a 200 */
    assert_int_equal(run("{\"check\":\"forwarded\",\"parts\":[\"attempt\"]}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "X-Attempt 1 after 1"));
    obs.atts[0].status = 0; /* ... unless the first got no answer at all */
    assert_int_equal(run("{\"check\":\"forwarded\",\"parts\":[\"attempt\"]}", &v), HARNESS_PASS);
    for (size_t i = 0; i < obs.n_atts; i++)
        obs.atts[i].attempt = (int)(i % 2); /* counted from 0: the first looks absent */
    assert_int_equal(run("{\"check\":\"forwarded\",\"parts\":[\"attempt\"]}", &v), HARNESS_FAIL);
}

/* forwarded's "fields": the other fields the client sent (tools,
 * temperature...) reach every attempt with their values; fields the relay
 * adds are allowed; a request without such fields is not judged on them,
 * and a scenario that names "fields" with none sent is inconclusive. */
static void test_forwarded_fields(void **state)
{
    struct report_check v;
    const char *sent = "{\"temperature\":0.2,\"tools\":[{\"type\":\"function\"}]}";
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "t%d", i);
        struct harness_req *r = req(id, (uint64_t)i * 10, 5, 200, "blue", HARNESS_OK);
        snprintf(r->fields, sizeof r->fields, "%s", i < 2 ? sent : "{}");
        struct harness_att *a = fw_att(id, "blue", (uint64_t)i * 10);
        snprintf(a->fields, sizeof a->fields, "%s", i < 2 ? sent : "{}");
    }
    assert_int_equal(run("{\"check\":\"forwarded\",\"parts\":[\"fields\"]}", &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "fields 0/2 differ"));
    /* The relay added stream_options of its own: fine. */
    snprintf(obs.atts[1].fields, sizeof obs.atts[1].fields,
             "{\"stream_options\":{\"include_usage\":true},\"temperature\":0.2,"
             "\"tools\":[{\"type\":\"function\"}]}");
    assert_int_equal(run("{\"check\":\"forwarded\",\"parts\":[\"fields\"]}", &v), HARNESS_PASS);
    /* A relay that keeps a list of known fields drops the tools. */
    snprintf(obs.atts[1].fields, sizeof obs.atts[1].fields, "{\"temperature\":0.2}");
    assert_int_equal(run("{\"check\":\"forwarded\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "fields 1/2 differ"));
    assert_non_null(strstr(v.detail, "field 'tools' dropped"));
    assert_non_null(strstr(v.detail, "request t1"));
    snprintf(obs.atts[1].fields, sizeof obs.atts[1].fields,
             "{\"temperature\":0.7,\"tools\":[{\"type\":\"function\"}]}");
    assert_int_equal(run("{\"check\":\"forwarded\",\"parts\":[\"fields\"]}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "field 'temperature' changed"));
    /* Nothing but the usual fields sent: nothing to judge. */
    obs.reqs[0].fields[0] = obs.reqs[1].fields[0] = '\0';
    assert_int_equal(run("{\"check\":\"forwarded\",\"parts\":[\"fields\"]}", &v),
                     HARNESS_INCONCLUSIVE);
    assert_int_equal(run("{\"check\":\"forwarded\",\"parts\":[\"model\",\"fields\"]}", &v),
                     HARNESS_INCONCLUSIVE);
}

/* An attempt event as the relay logs it. */
static void att_ev(const char *id, int attempt, uint64_t at_ms, const char *env,
                   const char *outcome)
{
    ev("attempt", at_ms, "", "", env, 0);
    struct harness_ev *e = &obs.evs[obs.n_evs - 1];
    snprintf(e->req_id, sizeof e->req_id, "%s", id);
    snprintf(e->outcome, sizeof e->outcome, "%s", outcome);
    e->attempt = attempt;
}

static void test_events_consistent(void **state)
{
    struct report_check v;
    assert_int_equal(run("{\"check\":\"events_consistent\"}", &v), HARNESS_INCONCLUSIVE);
    att_ev("a", 1, 0, "blue", "retry");
    att_ev("b", 1, 1, "blue", "failover");
    att_ev("a", 2, 10, "blue", "ok");
    att_ev("b", 2, 11, "green", "fail");
    /* The health event written first, stamped after the switch it caused. */
    ev("health", 21, "", "", "blue", 0);
    ev("switch", 20, "blue", "green", "", 0);
    snprintf(obs.evs[obs.n_evs - 1].reason, sizeof obs.evs[0].reason, "health");
    assert_int_equal(run("{\"check\":\"events_consistent\"}", &v), HARNESS_PASS);
    assert_int_equal(v.samples, 5);
    /* retry and failover swapped */
    snprintf(obs.evs[0].outcome, sizeof obs.evs[0].outcome, "failover");
    assert_int_equal(run("{\"check\":\"events_consistent\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "request a: attempt 1 on blue says failover"));
    snprintf(obs.evs[0].outcome, sizeof obs.evs[0].outcome, "retry");
    /* the last attempt says retry: nothing followed */
    snprintf(obs.evs[2].outcome, sizeof obs.evs[2].outcome, "retry");
    assert_int_equal(run("{\"check\":\"events_consistent\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "no attempt followed"));
    snprintf(obs.evs[2].outcome, sizeof obs.evs[2].outcome, "ok");
    /* a health switch with no health event finding blue down */
    obs.evs[4].healthy = 1;
    assert_int_equal(run("{\"check\":\"events_consistent\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "found the colour healthy"));
    snprintf(obs.evs[4].type, sizeof obs.evs[4].type, "start");
    assert_int_equal(run("{\"check\":\"events_consistent\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "no health event"));
    snprintf(obs.evs[4].type, sizeof obs.evs[4].type, "health");
    obs.evs[4].healthy = 0;
    /* The request event counts the attempts and names the last one's colour. */
    ev("request", 12, "", "", "blue", 0);
    struct harness_ev *q = &obs.evs[obs.n_evs - 1];
    snprintf(q->req_id, sizeof q->req_id, "a");
    q->attempts = 2;
    assert_int_equal(run("{\"check\":\"events_consistent\"}", &v), HARNESS_PASS);
    q->attempts = 3;
    assert_int_equal(run("{\"check\":\"events_consistent\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "says 3 attempts, 2 attempt events"));
    q->attempts = 2;
    snprintf(q->env, sizeof q->env, "green");
    assert_int_equal(run("{\"check\":\"events_consistent\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "served by green, its last attempt went to blue"));
}

static void test_error_shape(void **state)
{
    struct report_check v;
    assert_int_equal(run("{\"check\":\"error_shape\"}", &v), HARNESS_INCONCLUSIVE);
    req("e0", 0, 5, 404, "blue", HARNESS_HTTP_ERROR);
    att("e0", "blue", 0, 1, 404);
    snprintf(obs.atts[0].end, sizeof obs.atts[0].end, "complete");
    req("e1", 10, 5, 502, "", HARNESS_HTTP_ERROR);
    att("e1", "blue", 10, 1, 0);
    req("e2", 20, 5, 429, "", HARNESS_HTTP_ERROR); /* the relay's limiter: no attempt */
    assert_int_equal(run("{\"check\":\"error_shape\"}", &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "3 error answers"));
    /* A 4xx turned into something else is not passed through. */
    obs.reqs[0].status = 500;
    assert_int_equal(run("{\"check\":\"error_shape\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "status 500, the upstream's last answer was 404"));
    obs.reqs[0].status = 404;
    /* An upstream reset answered as a 4xx. */
    obs.reqs[1].status = 400;
    assert_int_equal(run("{\"check\":\"error_shape\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "after an upstream transport failure"));
    obs.reqs[1].status = 502;
    /* Plain text, or JSON without the envelope. */
    snprintf(obs.reqs[2].ctype, sizeof obs.reqs[2].ctype, "text/plain");
    assert_int_equal(run("{\"check\":\"error_shape\"}", &v), HARNESS_FAIL);
    assert_int_equal(run("{\"check\":\"error_shape\",\"status\":404}", &v), HARNESS_PASS);
    obs.reqs[0].err_shape = 0;
    snprintf(obs.reqs[0].err_why, sizeof obs.reqs[0].err_why, "no \"error\" object");
    assert_int_equal(run("{\"check\":\"error_shape\",\"status\":404}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "body: no \"error\" object"));
}

static void test_final_error_headers(void **state)
{
    struct report_check v;
    req("x0", 0, 5, 429, "", HARNESS_HTTP_ERROR); /* limited before any attempt */
    assert_int_equal(run("{\"check\":\"final_error_headers\"}", &v), HARNESS_INCONCLUSIVE);
    struct harness_req *r = req("x1", 10, 5, 503, "", HARNESS_HTTP_ERROR);
    att("x1", "blue", 10, 1, 503);
    att("x1", "green", 12, 1, 503);
    r->should_retry = 0;
    assert_int_equal(run("{\"check\":\"final_error_headers\"}", &v), HARNESS_PASS);
    r->should_retry = -1;
    assert_int_equal(run("{\"check\":\"final_error_headers\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "x-should-retry absent; request x1"));
    r->should_retry = 1;
    assert_int_equal(run("{\"check\":\"final_error_headers\"}", &v), HARNESS_FAIL);
}

/* Probes to blue after the mark, counted until traffic first reached green. */
static void test_health_probes(void **state)
{
    struct report_check v;
    const char *chk = "{\"check\":\"health_probes\",\"env\":\"blue\",\"to\":\"green\","
                      "\"after\":\"fault_on\",\"exact\":3}";
    mark("fault_on", 100);
    probe("blue", 50); /* before the mark: not counted */
    att("t0", "blue", 120, 1, 200);
    probe("blue", 150);
    probe("green", 160); /* another colour's probe */
    probe("blue", 250);
    att("t1", "blue", 260, 1, 200);
    probe("blue", 350);
    harness_obs_sort(&obs);
    /* No traffic reached green: the threshold was never reached. */
    assert_int_equal(run(chk, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "no traffic reached green"));
    att("t2", "green", 352, 1, 200);
    probe("blue", 450);
    att("t3", "green", 460, 1, 200);
    harness_obs_sort(&obs);
    assert_int_equal(run(chk, &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "3 probes"));
    assert_int_equal(run("{\"check\":\"health_probes\",\"env\":\"blue\",\"to\":\"green\","
                         "\"after\":\"fault_on\",\"exact\":2}",
                         &v),
                     HARNESS_FAIL);
}

static void test_connection_reuse(void **state)
{
    struct report_check v;
    assert_int_equal(run("{\"check\":\"connection_reuse\",\"min\":0.5}", &v), HARNESS_INCONCLUSIVE);
    probe("blue", 0);
    obs.atts[0].conn = 1;
    for (int i = 0; i < 4; i++) {
        char id[16];
        snprintf(id, sizeof id, "c%d", i);
        req(id, (uint64_t)i * 10, 5, 200, "blue", HARNESS_OK);
        att(id, "blue", (uint64_t)i * 10 + 1, 1, 200)->conn = 1; /* the probe's connection */
    }
    att("c9", "green", 50, 1, 200)->conn = 1; /* green's serials are its own */
    assert_int_equal(run("{\"check\":\"connection_reuse\",\"min\":0.9}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "0.800 (4 of 5 attempts"));
    assert_int_equal(run("{\"check\":\"connection_reuse\",\"env\":\"blue\",\"min\":1}", &v),
                     HARNESS_PASS);
    /* A connection per request. */
    for (size_t i = 1; i < obs.n_atts; i++)
        obs.atts[i].conn = 10 + i;
    assert_int_equal(run("{\"check\":\"connection_reuse\",\"env\":\"blue\",\"min\":0.5}", &v),
                     HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "0.000 (0 of 4"));
}

static void test_health_interval(void **state)
{
    struct report_check v;
    probe("blue", 0);
    probe("blue", 100);
    assert_int_equal(
        run("{\"check\":\"health_interval\",\"env\":\"blue\",\"interval_ms\":100}", &v),
        HARNESS_INCONCLUSIVE);
    probe("blue", 205);
    probe("blue", 300);
    assert_int_equal(run("{\"check\":\"health_interval\",\"env\":\"blue\",\"interval_ms\":100,"
                         "\"tolerance_ms\":10}",
                         &v),
                     HARNESS_PASS);
    assert_int_equal(run("{\"check\":\"health_interval\",\"env\":\"blue\",\"interval_ms\":30000,"
                         "\"tolerance_ms\":1000}",
                         &v),
                     HARNESS_FAIL);
}

static void test_latency_and_overhead(void **state)
{
    struct report_check v;
    tobs_answered(&obs, "r", 0, 5, 0, 10, 20, 200, "blue", 0, 0);
    assert_int_equal(run("{\"check\":\"latency\",\"p99_ms\":100}", &v), HARNESS_INCONCLUSIVE);
    for (int i = 5; i < 20; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%d", i);
        req(id, (uint64_t)i * 10, i == 19 ? 300 : 20, 200, "blue", HARNESS_OK);
        att(id, "blue", (uint64_t)i * 10 + 1, i == 19 ? 290 : 17, 200);
    }
    assert_int_equal(run("{\"check\":\"latency\",\"p50_ms\":25,\"p95_ms\":25}", &v), HARNESS_PASS);
    assert_int_equal(run("{\"check\":\"latency\",\"p99_ms\":100}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "p99_ms 300.0"));
    assert_int_equal(run("{\"check\":\"relay_overhead\",\"p50_ms\":5,\"p99_ms\":12}", &v),
                     HARNESS_PASS);
    assert_int_equal(run("{\"check\":\"relay_overhead\",\"p50_ms\":1}", &v), HARNESS_FAIL);
}

static void test_zero_downtime_and_served(void **state)
{
    struct report_check v;
    mark("cutover", 500);
    for (int i = 0; i < 30; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%d", i);
        req(id, (uint64_t)i * 40, 5, 200, i % 10 ? "blue" : "green", HARNESS_OK);
        if (i != 12)
            att(id, i % 10 ? "blue" : "green", (uint64_t)i * 40, 2, 200);
    }
    /* r12's 200 reached no upstream: made up by the relay (PASS audit). */
    assert_int_equal(run("{\"check\":\"zero_downtime\",\"around\":\"cutover\",\"before_ms\":200,"
                         "\"after_ms\":200}",
                         &v),
                     HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "request r12"));
    att("r12", "blue", 480, 2, 200);
    assert_int_equal(run("{\"check\":\"zero_downtime\",\"around\":\"cutover\",\"before_ms\":200,"
                         "\"after_ms\":200}",
                         &v),
                     HARNESS_PASS);
    assert_int_equal(run("{\"check\":\"served_ratio\",\"env\":\"green\",\"min\":0.05,\"max\":"
                         "0.15}",
                         &v),
                     HARNESS_PASS);
    assert_int_equal(run("{\"check\":\"served_ratio\",\"env\":\"green\",\"min\":0.2}", &v),
                     HARNESS_FAIL);
    obs.reqs[13].outcome = HARNESS_TRANSPORT;
    assert_int_equal(run("{\"check\":\"zero_downtime\",\"around\":\"cutover\",\"before_ms\":200,"
                         "\"after_ms\":200}",
                         &v),
                     HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "request r13"));
}

static void test_process_checks(void **state)
{
    struct report_check v;
    assert_int_equal(run("{\"check\":\"relay_alive\"}", &v), HARNESS_PASS);
    obs.relay_alive = 0;
    assert_int_equal(run("{\"check\":\"relay_alive\"}", &v), HARNESS_FAIL);
    assert_int_equal(run("{\"check\":\"relay_alive\",\"alive\":false}", &v), HARNESS_PASS);
    /* Still draining at the end after the scenario's SIGTERM (Express's
     * server.close()), then exited 0 at teardown: gone, not a failure; an
     * unclean exit, or no stop signal before the end, stays one. */
    uint64_t t_end0 = obs.t_end;
    obs.relay_alive = 1;
    obs.t_end = T0 + 1000 * MS;
    obs.term_t = T0 + 400 * MS;
    obs.exit_t = T0 + 1110 * MS;
    obs.exit_clean = 1;
    snprintf(obs.exit_how, sizeof obs.exit_how, "exited with status 0");
    assert_int_equal(run("{\"check\":\"relay_alive\",\"alive\":false}", &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "gone after the end: exited with status 0 710.0 ms"));
    assert_non_null(strstr(v.detail, "signal: "));
    obs.exit_clean = 0;
    assert_int_equal(run("{\"check\":\"relay_alive\",\"alive\":false}", &v), HARNESS_FAIL);
    obs.exit_clean = 1;
    obs.term_t = T0 + 1050 * MS; /* teardown's own signal: says nothing */
    assert_int_equal(run("{\"check\":\"relay_alive\",\"alive\":false}", &v), HARNESS_FAIL);
    assert_int_equal(run("{\"check\":\"relay_alive\"}", &v), HARNESS_PASS);
    obs.term_t = obs.exit_t = 0;
    obs.t_end = t_end0;
    obs.exit_clean = 0;
    assert_int_equal(run("{\"check\":\"admin_ok\"}", &v), HARNESS_INCONCLUSIVE);
    obs.admin_calls = 2;
    assert_int_equal(run("{\"check\":\"admin_ok\"}", &v), HARNESS_PASS);
    obs.admin_failed = 1;
    snprintf(obs.admin_error, sizeof obs.admin_error, "POST /admin/switch (step 0) answered 401");
    assert_int_equal(run("{\"check\":\"admin_ok\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "answered 401"));
    assert_int_equal(run("{\"check\":\"no_secret_leak\"}", &v), HARNESS_PASS);
    obs.secret_leaks = 1;
    snprintf(obs.leak_where, sizeof obs.leak_where, "relay stderr");
    assert_int_equal(run("{\"check\":\"no_secret_leak\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "relay stderr"));
}

static void test_harness_on_time(void **state)
{
    struct report_check v;
    struct harness_req *r = req("a", 0, 5, 200, "blue", HARNESS_OK);
    r->t_sent = r->t_sched + 3 * MS;
    assert_int_equal(run("{\"check\":\"harness_on_time\"}", &v), HARNESS_PASS);
    r->t_sent = r->t_sched + 300 * MS;
    assert_int_equal(run("{\"check\":\"harness_on_time\"}", &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.measured, "late by at most 300.0 ms (request a)"));
    r->t_sent = r->t_sched;
    obs.step_late_us = 80 * MS;
    assert_int_equal(run("{\"check\":\"harness_on_time\",\"max_ms\":100}", &v), HARNESS_PASS);
    assert_int_equal(run("{\"check\":\"harness_on_time\"}", &v), HARNESS_INCONCLUSIVE);
}

static void test_clean_shutdown(void **state)
{
    struct report_check v;
    assert_int_equal(run("{\"check\":\"clean_shutdown\"}", &v), HARNESS_INCONCLUSIVE);
    obs.term_t = T0 + 1000 * MS;
    obs.exit_t = T0 + 1400 * MS;
    obs.exit_clean = 1;
    snprintf(obs.exit_how, sizeof obs.exit_how, "exited with status 0");
    assert_int_equal(run("{\"check\":\"clean_shutdown\",\"max_ms\":500}", &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "after 400.0 ms"));
    assert_int_equal(run("{\"check\":\"clean_shutdown\",\"max_ms\":300}", &v), HARNESS_FAIL);
    obs.exit_clean = 0;
    assert_int_equal(run("{\"check\":\"clean_shutdown\",\"max_ms\":500}", &v), HARNESS_FAIL);
}

static void test_min_samples_override(void **state)
{
    struct report_check v;
    req("a", 0, 5, 200, "blue", HARNESS_OK);
    assert_int_equal(run("{\"check\":\"client_success_ratio\",\"min\":1,\"min_samples\":5}", &v),
                     HARNESS_INCONCLUSIVE);
    assert_int_equal(v.min_samples, 5);
    assert_string_equal(harness_status_name(v.status), "inconclusive");
}

static void test_validation(void **state)
{
    const char *marks[] = {"start", NULL};
    char err[512];
    json_error_t je;
    struct {
        const char *json, *needle;
    } cases[] = {
        {"{\"check\":\"latency\"}", "a percentile bound"},
        {"{\"check\":\"latency\",\"p99_s\":5}", "did you mean 'p99_ms'"},
        {"{\"check\":\"backoff_gaps\",\"base_ms\":10,\"jitter\":\"ful\"}", "did you mean 'full'"},
        {"{\"check\":\"switches\",\"sequence\":[\"blue-green\"]}", "$.expect[0].sequence[0]"},
        {"{\"check\":\"rate_limit\",\"limit\":5}", "\"window_ms\" (required by rate_limit)"},
        {"{\"check\":\"client_count\",\"outcome\":\"okay\",\"min\":1}", "did you mean 'ok'"},
        {"{\"check\":\"zero_downtime\",\"around\":\"cutovr\"}", "a timeline step's \"mark\""},
        {"{\"check\":\"attempts\",\"max\":-1}", "a number >= 0, found integer -1"},
        {"[]", "expected a check object"},
        {"{\"check\":\"backoff_gaps\",\"base_ms\":10,\"distribution\":true}",
         "$.expect[0].jitter: expected full, equal or decorrelated"},
        {"{\"check\":\"backoff_gaps\",\"schedule_ms\":[10],\"jitter\":\"decorrelated\","
         "\"distribution\":true}",
         "base_ms (decorrelated"},
        {"{\"check\":\"forwarded\",\"parts\":[\"modle\"]}", "did you mean 'model'"},
        {"{\"check\":\"forwarded\",\"parts\":[]}", "a non-empty array of \"model\""},
        {"{\"check\":\"health_probes\",\"env\":\"blue\",\"to\":\"green\",\"after\":\"start\"}",
         "min, max or exact"},
        {"{\"check\":\"connection_reuse\"}", "\"min\" (required by connection_reuse)"},
        {"{\"check\":\"error_shape\",\"status\":\"404\"}", "an integer >= 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *c = json_loads(cases[i].json, 0, &je);
        assert_non_null(c);
        assert_int_equal(harness_check_validate(c, "$.expect[0]", marks, err, sizeof err), -1);
        if (!strstr(err, cases[i].needle))
            fail_msg("%s: '%s' lacks '%s'", cases[i].json, err, cases[i].needle);
        json_decref(c);
    }
}

/* The by-request index: groups keep arrival order, skip health probes, and
 * an id that prefixes another ("r1" of "r10") is its own group. */
static void test_obs_index(void **state)
{
    att("r10", "blue", 10, 1, 503);
    att("r1", "blue", 20, 1, 503);
    probe("blue", 25);
    att("r10", "green", 30, 1, 200);
    att("r1", "green", 40, 1, 200);
    att("r2", "blue", 50, 1, 200);
    harness_obs_sort(&obs);
    size_t n;
    const size_t *idx = harness_obs_attempts(&obs, "r1", &n);
    assert_int_equal(n, 2);
    assert_string_equal(obs.atts[idx[0]].env, "blue");
    assert_string_equal(obs.atts[idx[1]].env, "green");
    idx = harness_obs_attempts(&obs, "r10", &n);
    assert_int_equal(n, 2);
    assert_true(obs.atts[idx[0]].t_arrival < obs.atts[idx[1]].t_arrival);
    harness_obs_attempts(&obs, "r2", &n);
    assert_int_equal(n, 1);
    assert_null(harness_obs_attempts(&obs, "r3", &n));
    assert_int_equal(n, 0);
    assert_null(harness_obs_attempts(&obs, "", &n)); /* the probe is no attempt */
    assert_int_equal(n, 0);
}

/* A run with something for every check kind: 40 requests served by blue
 * then green (a switch at 200 ms after "fault_on" at 180 ms), two attempts
 * each with a gap, health probes, events, a clean shutdown. */
static void rich_run(void)
{
    mark("fault_on", 180);
    for (int i = 0; i < 40; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%d", i);
        const char *env = i < 20 ? "blue" : "green";
        struct harness_req *r = req(id, (uint64_t)i * 10, 5, 200, env, HARNESS_OK);
        snprintf(r->served_hdr, sizeof r->served_hdr, "%s", env);
        att(id, "blue", (uint64_t)i * 10, 1, 503);
        att(id, env, (uint64_t)i * 10 + 2, 1, 200);
    }
    for (int k = 0; k < 8; k++)
        probe("blue", (uint64_t)k * 50);
    ev("health", 190, "", "", "blue", 0);
    ev("switch", 200, "blue", "green", "", 0);
    obs.term_t = T0 + 500 * MS;
    obs.exit_t = T0 + 510 * MS;
    obs.exit_clean = 1;
    obs.admin_calls = 1;
    harness_obs_index(&obs);
}

static const unsigned all_signals[] = {HARNESS_SIG_IDS, HARNESS_SIG_SERVED, HARNESS_SIG_EVENTS,
                                       HARNESS_SIG_ADMIN, HARNESS_SIG_PROCESS};

/* The no-vacuous-verdict contract over EVERY row of the check table: each
 * kind has an example; with each signal it needs removed from a run that has
 * data for it, its verdict is inconclusive and names the signal; on a run
 * that saw nothing (no requests, attempts, events, signals) it is
 * inconclusive too, never pass.  A new row without an example fails here. */
static void test_every_kind_without_its_signal(void **state)
{
    const char *const *names = harness_check_names();
    size_t n = harness_check_count();
    assert_true(n > 20);
    rich_run();
    struct harness_obs empty = {0};
    empty.t0 = T0;
    for (size_t i = 0; i < n; i++) {
        int own = 0;
        const char *ex = harness_check_example(i, &own);
        if (!ex)
            fail_msg("check '%s' has no example in its row (harness/checks.c)", names[i]);
        json_error_t je;
        json_t *c = json_loads(ex, 0, &je);
        assert_non_null(c);
        json_object_set_new(c, "check", json_string(names[i]));
        char err[512] = "";
        const char *marks[] = {"start", "fault_on", NULL};
        if (harness_check_validate(c, "$", marks, err, sizeof err) != 0)
            fail_msg("example of '%s' is invalid: %s", names[i], err);
        unsigned needs = harness_check_needs(c);
        struct report_check v;
        for (size_t b = 0; b < sizeof all_signals / sizeof all_signals[0]; b++) {
            if (!(needs & all_signals[b]))
                continue;
            unsigned keep = obs.signals;
            obs.signals &= ~all_signals[b];
            harness_check_run(c, &obs, &v);
            obs.signals = keep;
            if (v.status != HARNESS_INCONCLUSIVE)
                fail_msg("'%s' without signal %#x: %s (%s)", names[i], all_signals[b],
                         harness_status_name(v.status), v.measured);
            if (!strstr(v.detail, harness_signal_missing(all_signals[b])))
                fail_msg("'%s' without signal %#x does not name it: %s", names[i], all_signals[b],
                         v.detail);
        }
        harness_check_run(c, &empty, &v);
        if (!own && v.status != HARNESS_INCONCLUSIVE)
            fail_msg("'%s' on a run that saw nothing: %s (%s)", names[i],
                     harness_status_name(v.status), v.measured);
        json_decref(c);
    }
}

/* Zero evaluable samples is inconclusive even when a scenario asks for
 * "min_samples": 0; attempts that carried no id make a request with none
 * found no sample (the issue's "min 0, max 0 over 300 requests"). */
static void test_no_vacuous_attempts(void **state)
{
    for (int i = 0; i < 30; i++) {
        char id[16];
        snprintf(id, sizeof id, "q%d", i);
        req(id, (uint64_t)i * 10, 5, 200, "", HARNESS_OK);
        att("", "blue", (uint64_t)i * 10, 1, 200); /* the relay dropped every id */
    }
    harness_obs_index(&obs);
    harness_obs_observe(&obs, HARNESS_SIG_PROCESS);
    assert_false(obs.signals & HARNESS_SIG_IDS);
    assert_int_equal(obs.seen.ids_none, 30);
    struct report_check v;
    run("{\"check\": \"attempts\", \"max\": 2, \"min_samples\": 0}", &v);
    assert_int_equal(v.status, HARNESS_INCONCLUSIVE);
    assert_int_equal(v.samples, 0);
    assert_non_null(strstr(v.detail, "cannot be tied"));
    run("{\"check\": \"switches\", \"exact\": 0, \"view\": \"served\"}", &v);
    assert_int_equal(v.status, HARNESS_INCONCLUSIVE); /* served: no answer named a colour */
    /* A failed request's story: its attempts are unknown, not absent. */
    req("q30", 300, 5, 503, "", HARNESS_HTTP_ERROR);
    run("{\"check\": \"client_success_ratio\", \"min\": 1}", &v);
    assert_int_equal(v.status, HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "request q30"));
    assert_non_null(strstr(v.detail, "upstream attempts unknown (the relay passed no ids)"));
    assert_null(strstr(v.detail, "no upstream attempt"));
}

/* The PASS audit (docs/outsider-audit.md): a "relay" that answers every
 * request with a whole 200 of its own and never calls an upstream.  With ids
 * (no attempt lacked one: there was none) each request's attempts are known
 * to be none, so its answers are made up: the success ratio and the answer
 * check fail, and a bound on retries that 0 attempts meets says nothing. */
static void test_pass_audit_made_up_answers(void **state)
{
    struct report_check v;
    for (int i = 0; i < 10; i++) {
        char id[16];
        snprintf(id, sizeof id, "f%d", i);
        struct harness_req *r = req(id, (uint64_t)i * 10, 1, 200, "", HARNESS_OK);
        r->complete = 1;
        snprintf(r->finish, sizeof r->finish, "stop");
    }
    harness_obs_index(&obs);
    harness_obs_observe(&obs, HARNESS_SIG_PROCESS);
    assert_true(obs.signals & HARNESS_SIG_IDS);
    /* Before the audit: 1.0000 (10 of 10), pass. */
    assert_int_equal(run("{\"check\":\"client_success_ratio\",\"min\":0.99}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "0.0000 (0 of 10)"));
    assert_non_null(strstr(v.detail, "10 whole 200 answers that no upstream gave"));
    assert_non_null(strstr(v.detail, "request f0"));
    /* Before: "min 0, max 0 over 10 requests", pass. */
    assert_int_equal(run("{\"check\":\"attempts\",\"max\":2}", &v), HARNESS_INCONCLUSIVE);
    assert_int_equal(v.samples, 0);
    assert_non_null(strstr(v.detail, "10 requests with no upstream attempt"));
    assert_int_equal(run("{\"check\":\"attempts\",\"max\":1,\"env\":\"blue\"}", &v),
                     HARNESS_INCONCLUSIVE);
    /* A bound 0 attempts breaks still fails on them. */
    assert_int_equal(run("{\"check\":\"attempts\",\"exact\":1}", &v), HARNESS_FAIL);
    assert_int_equal(v.samples, 10);
    /* Before: inconclusive, "no upstream attempt found". */
    assert_int_equal(run("{\"check\":\"answer_integrity\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "10 made up by the relay"));
    assert_non_null(strstr(v.detail, "made the answer up"));
    assert_int_equal(run("{\"check\":\"usage_reported\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "its usage is the relay's own"));
    /* Before: "0 truncated of 10", pass; "10 of 10" ok, pass. */
    assert_int_equal(run("{\"check\":\"no_truncated_success\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "10 200s that no upstream gave"));
    assert_int_equal(run("{\"check\":\"client_count\",\"outcome\":\"ok\",\"min\":5}", &v),
                     HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "10 200s that no upstream gave"));
    assert_int_equal(run("{\"check\":\"client_count\",\"status\":200,\"min\":5}", &v),
                     HARNESS_FAIL);
    /* ...and made-up 200s are no way to meet "no success reached the client". */
    assert_int_equal(run("{\"check\":\"client_count\",\"outcome\":\"ok\",\"exact\":0}", &v),
                     HARNESS_FAIL);
    assert_int_equal(run("{\"check\":\"client_status\",\"status\":200}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "no upstream gave"));
    /* Without ids nothing is claimed about where an answer came from. */
    obs.signals &= ~HARNESS_SIG_IDS;
    assert_int_equal(run("{\"check\":\"client_success_ratio\",\"min\":0.99}", &v), HARNESS_PASS);
}

/* A "relay" that answers every request with a 503 of its own: no attempt,
 * no answer naming a colour.  "attempts max 2" and a served-view min_dwell
 * passed on it; 0 attempts stays the point of a bound of 0 (a request the
 * relay must refuse without asking an upstream). */
static void test_pass_audit_refusing_relay(void **state)
{
    struct report_check v;
    tobs_answered(&obs, "e", 0, 10, 0, 10, 1, 503, "", 0, 0);
    harness_obs_index(&obs);
    harness_obs_observe(&obs, HARNESS_SIG_PROCESS);
    assert_int_equal(run("{\"check\":\"attempts\",\"max\":2}", &v), HARNESS_INCONCLUSIVE);
    assert_int_equal(run("{\"check\":\"attempts\",\"exact\":0}", &v), HARNESS_PASS);
    assert_int_equal(v.samples, 10);
    assert_int_equal(run("{\"check\":\"attempts\",\"max\":0,\"env\":\"green\"}", &v),
                     HARNESS_INCONCLUSIVE);
    /* "No traffic reached green" says nothing when none reached any colour;
     * "none reached an upstream" is the point of a bound without a colour. */
    assert_int_equal(run("{\"check\":\"upstream_count\",\"env\":\"green\",\"exact\":0}", &v),
                     HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "no traffic attempt reached any upstream"));
    assert_int_equal(run("{\"check\":\"upstream_count\",\"exact\":0}", &v), HARNESS_PASS);
    /* Before: pass, "10 of 10" 503s from a relay that asked no upstream. */
    assert_int_equal(run("{\"check\":\"client_count\",\"status\":503,\"min\":5}", &v),
                     HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "no upstream was contacted"));
    probe("blue", 5); /* it looked at blue: its 503s may be its reaction */
    assert_int_equal(run("{\"check\":\"client_count\",\"status\":503,\"min\":5}", &v),
                     HARNESS_PASS);
    /* Before: "0 switch(es): none", pass on no answer at all. */
    assert_int_equal(run("{\"check\":\"min_dwell\",\"min_ms\":300,\"view\":\"served\"}", &v),
                     HARNESS_INCONCLUSIVE);
    assert_int_equal(v.samples, 0);
    /* One answer from blue: no flapping is now seen. */
    req("ok", 200, 1, 200, "blue", HARNESS_OK);
    att("ok", "blue", 200, 1, 200);
    assert_int_equal(run("{\"check\":\"min_dwell\",\"min_ms\":300,\"view\":\"served\"}", &v),
                     HARNESS_PASS);
}

/* The served view dated a switch by its first answer's arrival, in send
 * order: a slow green answer behind a fast blue one gave "shortest dwell
 * -285.0 ms".  A dwell is now bounded by sends and answers: never negative,
 * a failure only when even its longest reading is short, inconclusive when
 * the answers allow both. */
static void test_min_dwell_served_bounds(void **state)
{
    struct report_check v;
    obs.have_events = 0;
    att("r1", "blue", 0, 1, 200);
    req("r1", 0, 5, 200, "blue", HARNESS_OK);
    att("r2", "green", 100, 290, 200);
    req("r2", 100, 300, 200, "green", HARNESS_OK);
    att("r3", "blue", 110, 1, 200);
    req("r3", 110, 5, 200, "blue", HARNESS_OK);
    assert_int_equal(run("{\"check\":\"min_dwell\",\"min_ms\":300,\"view\":\"served\"}", &v),
                     HARNESS_FAIL);
    assert_null(strstr(v.measured, "dwell -"));
    assert_non_null(strstr(v.measured, "0.0..115.0 ms"));
    assert_true(v.margin < 0);
    /* Bounds on both sides of min_ms: not certain either way. */
    assert_int_equal(run("{\"check\":\"min_dwell\",\"min_ms\":100,\"view\":\"served\"}", &v),
                     HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "between 0.0 and 115.0 ms"));
    /* Far apart, every reading long enough: a pass. */
    teardown(state);
    setup(state);
    obs.have_events = 0;
    att("a", "blue", 0, 1, 200);
    req("a", 0, 5, 200, "blue", HARNESS_OK);
    att("b", "green", 100, 1, 200);
    req("b", 100, 5, 200, "green", HARNESS_OK);
    att("c", "green", 600, 1, 200);
    req("c", 600, 5, 200, "green", HARNESS_OK);
    att("d", "blue", 700, 1, 200);
    req("d", 700, 5, 200, "blue", HARNESS_OK);
    assert_int_equal(run("{\"check\":\"min_dwell\",\"min_ms\":400,\"view\":\"served\"}", &v),
                     HARNESS_PASS);
    assert_non_null(strstr(v.measured, "495.0..705.0 ms"));
}

/* no_retry_after_bytes: a stream whose client had bytes at 20 ms and whose
 * relay then tried green (a mid-stream 429 "spun") fails; one attempt, or a
 * retry before any byte went out, passes; no byte or no journal: no sample. */
static void test_no_retry_after_bytes(void **state)
{
    struct report_check v;
    const char *chk = "{\"check\":\"no_retry_after_bytes\"}";
    assert_int_equal(run(chk, &v), HARNESS_INCONCLUSIVE);
    struct harness_req *r = req("a", 0, 50, 200, "blue", HARNESS_OK);
    r->t_first = r->t_sent + 20 * MS;
    att("a", "blue", 1, 30, 200);
    r = req("b", 10, 80, 200, "green", HARNESS_OK);
    r->t_first = r->t_sent + 40 * MS; /* blue failed before a byte: a retry is fine */
    att("b", "blue", 11, 5, 503);
    att("b", "green", 30, 30, 200);
    req("c", 20, 5, 502, "", HARNESS_HTTP_ERROR); /* no byte recorded: no sample */
    att("c", "blue", 21, 1, 503);
    assert_int_equal(run(chk, &v), HARNESS_PASS);
    assert_int_equal(v.samples, 2);
    r = req("d", 100, 200, 200, "blue", HARNESS_INBAND_ERROR);
    r->t_first = r->t_sent + 20 * MS;
    att("d", "blue", 101, 30, 200);
    att("d", "green", 140, 30, 200);
    assert_int_equal(run(chk, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "1 of 3 requests with bytes out made 1 more"));
    assert_non_null(strstr(v.detail, "retried after bytes had reached the client"));
    obs.signals &= ~HARNESS_SIG_IDS;
    assert_int_equal(run(chk, &v), HARNESS_INCONCLUSIVE);
}

/* admin_ok passed a relay that answers 200 to any POST (inert-fixed-200):
 * an accepted switch is now judged by the requests sent after it. */
static void test_admin_ok_effect(void **state)
{
    struct report_check v;
    const char *chk = "{\"check\":\"admin_ok\"}";
    obs.admin_calls = 1;
    obs.n_admin_switches = 1;
    obs.admin_switches[0].t = T0 + 100 * MS;
    snprintf(obs.admin_switches[0].to, sizeof obs.admin_switches[0].to, "green");
    /* No request reached an upstream after it: the status is all there is. */
    assert_int_equal(run(chk, &v), HARNESS_PASS);
    assert_non_null(strstr(v.detail, "judged by the HTTP status only"));
    tobs_answered(&obs, "s", 0, 4, 110, 10, 5, 200, "blue", 1, 2);
    assert_int_equal(run(chk, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "switch to green answered 2xx"));
    assert_non_null(strstr(v.detail, "accepted a switch it did not make"));
    req("g", 160, 5, 200, "green", HARNESS_OK);
    att("g", "green", 161, 2, 200);
    assert_int_equal(run(chk, &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "1 switch(es) seen in effect"));
    assert_null(strstr(v.detail, "status only"));
}

/* A relay that lost the body on its retries (outsider BUG=retry_body_lost):
 * the retry carries no messages, so no id marker, and matched no request.
 * "Matched no client request" left it unjudged; when every client request
 * sent messages, a body without them is one no client sent. */
static void test_forwarded_body_no_client_sent(void **state)
{
    struct report_check v;
    for (int i = 0; i < 4; i++) {
        char id[16];
        snprintf(id, sizeof id, "f%d", i);
        req(id, (uint64_t)i * 10, 5, 200, "green", HARNESS_OK);
        fw_att(id, "blue", (uint64_t)i * 10);
        struct harness_att *a = fw_att(id, "green", (uint64_t)i * 10 + 3);
        a->req_id[0] = a->hdr_id[0] = a->user[0] = '\0';
        a->msg_hash = 0;
    }
    assert_int_equal(run("{\"check\":\"forwarded\",\"parts\":[\"model\",\"body\"]}", &v),
                     HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "4 with no messages"));
    assert_non_null(strstr(v.detail, "4 chat bodies without messages, which no client"));
    /* Those attempts also cost the run its ids signal: the failure stands. */
    obs.signals &= ~HARNESS_SIG_IDS;
    assert_int_equal(run("{\"check\":\"forwarded\",\"parts\":[\"model\",\"body\"]}", &v),
                     HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "ids lost") ? v.detail : strstr(v.detail, "no request id"));
    obs.signals |= HARNESS_SIG_IDS;
    /* A client request that sent no messages itself: no longer certain. */
    obs.reqs[2].msg_hash = 0;
    assert_int_equal(run("{\"check\":\"forwarded\",\"parts\":[\"model\"]}", &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "4 attempts matched no client request"));
    obs.reqs[2].msg_hash = 0x1234;
    /* With messages (a relay's own chat ping?): not claimed. */
    for (size_t i = 0; i < obs.n_atts; i++)
        if (!obs.atts[i].req_id[0])
            obs.atts[i].msg_hash = 0x777;
    assert_int_equal(run("{\"check\":\"forwarded\",\"parts\":[\"model\"]}", &v), HARNESS_PASS);
}

/* A rate-limited run's count of 200s is written for a sliding window: a
 * fixed-window relay (limit 5) that admitted 8 across a boundary failed
 * "client_count status 200 max 5"; unless the profile says sliding, up to
 * twice the bound is inconclusive, beyond it a failure. */
static void test_admission_counts_window_kind(void **state)
{
    struct report_check v;
    const char *chk = "{\"check\":\"client_count\",\"status\":200,\"max\":5}";
    const char *up = "{\"check\":\"upstream_count\",\"max\":5}";
    obs.rl_limit = 5;
    tobs_answered(&obs, "k", 0, 8, 0, 10, 2, 200, "blue", 0, 1);
    snprintf(obs.rl_kind, sizeof obs.rl_kind, "sliding");
    assert_int_equal(run(chk, &v), HARNESS_FAIL);
    assert_int_equal(run(up, &v), HARNESS_FAIL);
    obs.rl_kind[0] = '\0';
    assert_int_equal(run(chk, &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "not for a fixed window or a token bucket"));
    assert_int_equal(run(up, &v), HARNESS_INCONCLUSIVE);
    snprintf(obs.rl_kind, sizeof obs.rl_kind, "fixed");
    assert_int_equal(run(chk, &v), HARNESS_INCONCLUSIVE);
    tobs_answered(&obs, "k", 8, 11, 0, 10, 2, 200, "blue", 0, 1);
    assert_int_equal(run(chk, &v), HARNESS_FAIL); /* 11: more than twice 5 */
    /* Not a rate-limited run: the bound is the bound. */
    obs.rl_limit = 0;
    obs.n_reqs = obs.n_atts = 8;
    assert_int_equal(run(chk, &v), HARNESS_FAIL);
}

/* An upstream that echoes the Authorization it got (echo_auth): a relay
 * that never sent the key had nothing in its answers to scrub, and "not
 * found" passed the scrubbing scenario (nginx-opaque). */
static void test_pass_audit_echo_without_key(void **state)
{
    struct report_check v;
    req("k", 0, 1, 200, "blue", HARNESS_OK);
    struct harness_att *a = att("k", "blue", 0, 1, 200);
    snprintf(a->action, sizeof a->action, "echo_auth");
    snprintf(a->key, sizeof a->key, "missing");
    assert_int_equal(run("{\"check\":\"no_secret_leak\"}", &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "none carried the relay's key"));
    snprintf(a->key, sizeof a->key, "configured");
    assert_int_equal(run("{\"check\":\"no_secret_leak\"}", &v), HARNESS_PASS);
    assert_non_null(strstr(v.detail, "signal: the key searched for"));
    obs.secret_leaks = 1;
    snprintf(obs.leak_where, sizeof obs.leak_where, "1 client answers");
    snprintf(a->key, sizeof a->key, "missing");
    assert_int_equal(run("{\"check\":\"no_secret_leak\"}", &v), HARNESS_FAIL);
}

/* Every kind names the signal its verdict rests on (PASS audit): a verdict
 * against a relay that is not ours says what it saw. */
static void test_every_kind_names_its_signal(void **state)
{
    char missing[1024] = "";
    for (const char *const *n = harness_check_names(); *n; n++)
        if (!harness_check_signal(*n, NULL))
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), " %s", *n);
    assert_string_equal(missing, "");
    struct report_check v;
    req("a", 0, 5, 200, "blue", HARNESS_OK);
    att("a", "blue", 0, 2, 200);
    assert_int_equal(run("{\"check\":\"upstream_count\",\"env\":\"blue\",\"exact\":1}", &v),
                     HARNESS_PASS);
    assert_non_null(strstr(v.detail, "signal: attempts each mock journalled"));
    assert_int_equal(run("{\"check\":\"switches\",\"exact\":0,\"view\":\"served\"}", &v),
                     HARNESS_PASS);
    assert_non_null(strstr(v.detail, "signal: the colour each answer names"));
}

/* Every row of the check table says what it measures and how it is used:
 * `cutover list --checks` and the docs read the description, the contract
 * test above runs the example.  The failure names every row that lacks one
 * (rows merged from several branches at once). */
static void test_every_row_describes_itself(void **state)
{
    char missing[1024] = "";
    struct harness_check_info k;
    for (size_t i = 0; harness_check_info(i, &k) == 0; i++)
        if (!k.desc || !k.desc[0] || !k.example || !k.why || !k.why[0]) {
            size_t len = strlen(missing);
            snprintf(missing + len, sizeof missing - len, " %s (%s)", k.name,
                     !k.desc || !k.desc[0] ? "no description"
                     : !k.example          ? "no example"
                                           : "no scorecard phrase (.why)");
        }
    if (missing[0])
        fail_msg(
            "check rows without a description, example or scorecard phrase in harness/checks.c:%s",
            missing);
    assert_int_equal(harness_check_find("nope", &k), -1);
}

/* A row's settings are scenario relay keys (harness/scenario.c): a
 * misspelt one would never match, and the check would be judged on a relay
 * that could not be given the setting. */
static void test_row_settings_are_keys(void **state)
{
    struct harness_check_info k;
    const char *const *keys = harness_relay_key_names();
    for (size_t i = 0; harness_check_info(i, &k) == 0; i++) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s", k.settings);
        for (char *save = NULL, *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
            int known = strcmp(w, "*") == 0; /* every setting that shapes behaviour */
            for (const char *const *q = keys; *q && !known; q++)
                known = strcmp(*q, w) == 0;
            if (!known)
                fail_msg("check '%s' depends on '%s', which is no scenario relay key", k.name, w);
        }
    }
}

/* What else a row declares: the relay settings it depends on, its rank in
 * the scorecard, whether the runner adds it, and the window on the timeline
 * (zero_downtime's default of 500 ms is the verdict's own). */
static void test_row_facts(void **state)
{
    struct harness_check_info k;
    assert_true(harness_check_depends("attempts", "max_attempts"));
    assert_false(harness_check_depends("attempts", "max_attempt")); /* whole words only */
    assert_false(harness_check_depends("attempts", "jitter"));
    /* A failed count of outcomes can come from any setting that shapes
     * behaviour (a jitter moves a retry past a timeline's fault), not from
     * where the relay logs or listens; a contract check from none. */
    assert_true(harness_check_fail_depends("attempts", "jitter"));
    assert_true(harness_check_fail_depends("attempts", "max_attempts"));
    assert_true(harness_check_fail_depends("client_count", "switch_after_failures"));
    assert_true(harness_check_fail_depends("upstream_count", "health_interval_ms"));
    assert_true(harness_check_fail_depends("client_status", "backoff_base_ms"));
    assert_false(harness_check_fail_depends("client_count", "log_level"));
    assert_false(harness_check_fail_depends("upstream_count", "api_key"));
    assert_false(harness_check_fail_depends("upstream_count", "max_attempt"));
    assert_false(harness_check_fail_depends("backoff_gaps", "health_interval_ms"));
    assert_false(harness_check_fail_depends("no_truncated_success", "switch_after_failures"));
    assert_false(harness_check_fail_depends("error_shape", "backoff_base_ms"));
    assert_false(harness_check_depends("latency", "max_attempts"));
    assert_false(harness_check_depends("nope", "max_attempts"));
    assert_int_equal(harness_check_find("switch_delay", &k), 0);
    assert_int_equal(k.rank, 1);
    assert_string_equal(k.why, "switch late or never");
    assert_int_equal(k.added, HARNESS_ADDED_NEVER);
    assert_int_equal(harness_check_find("relay_alive", &k), 0);
    assert_int_equal(k.added, HARNESS_ADDED_LIVE_RELAY);
    assert_true(k.about_process);
    assert_int_equal(harness_check_find("min_dwell", &k), 0);
    assert_true(k.served_fallback);
    assert_int_equal(harness_check_find("attempts", &k), 0);
    assert_false(k.served_fallback);

    struct report_check v;
    mark("fault_on", 100);
    run("{\"check\": \"zero_downtime\", \"around\": \"fault_on\"}", &v);
    assert_string_equal(v.window_mark, "fault_on");
    assert_true(v.window_before_ms == 500 && v.window_after_ms == 500);
    run("{\"check\": \"zero_downtime\", \"around\": \"fault_on\", \"after_ms\": 20}", &v);
    assert_true(v.window_before_ms == 500 && v.window_after_ms == 20);
    run("{\"check\": \"switch_delay\", \"to\": \"green\", \"after\": \"fault_on\", "
        "\"within_ms\": 70}",
        &v);
    assert_true(v.window_before_ms == 0 && v.window_after_ms == 70);
    run("{\"check\": \"health_probes\", \"env\": \"blue\", \"to\": \"green\", "
        "\"after\": \"fault_on\", \"min\": 1}",
        &v);
    assert_string_equal(v.window_mark, "fault_on");
    assert_true(v.window_after_ms < 0); /* to the end of the run */
    run("{\"check\": \"no_traffic_after_unhealthy\", \"env\": \"blue\"}", &v);
    assert_string_equal(v.window_mark, ""); /* no mark: no window */
}

/* ---- the answer checks (issue 12) ---------------------------------------- */

#define HASH 0x1234

/* A request whose answer the client read as text (whole: finish_reason and,
 * for a stream, [DONE]), served by blue's one attempt, whose journal says
 * the mock built 5 tokens, finished "stop" and counted 7 + 5. */
static struct harness_req *answered(const char *id, int stream, const char *text)
{
    struct harness_req *r = req(id, obs.n_reqs * 10, 5, 200, "blue", HARNESS_OK);
    r->stream = stream;
    r->complete = 1;
    r->done_marker = stream;
    r->text_hash = harness_text_hash(HARNESS_TEXT_HASH0, text, strlen(text));
    r->text_len = strlen(text);
    snprintf(r->text, sizeof r->text, "%.159s", text);
    snprintf(r->finish, sizeof r->finish, "stop");
    r->finish_n = 1;
    snprintf(r->ans_model, sizeof r->ans_model, "gpt-4.1");
    r->usage_seen = 1;
    r->usage_prompt = 7;
    r->usage_completion = 5;
    r->usage_total = 12;
    r->include_usage = 1;
    r->tpl = -1;
    struct harness_att *a = att(id, "blue", obs.n_reqs * 10, 2, 200);
    a->msg_hash = HASH;
    a->prompt_tokens = 7;
    a->completion_tokens = 5;
    snprintf(a->finish, sizeof a->finish, "stop");
    snprintf(a->model, sizeof a->model, "gpt-4.1");
    return r;
}

/* The mock's text for HASH with 5 tokens, and the same with words moved. */
static char canon[256];
static void canon_text(void)
{
    char *t = mock_reply_string(HASH, 5);
    snprintf(canon, sizeof canon, "%s", t);
    free(t);
}

/* A stream longer than the harness's body cap: the client kept only its
 * start, without [DONE] or finish_reason.  That end is the harness's, so
 * neither answer_integrity nor no_truncated_success blames the relay. */
static void test_answer_cut_by_harness(void **state)
{
    struct report_check v;
    canon_text();
    answered("a", 1, canon);
    struct harness_req *r = answered("b", 1, canon);
    r->text_len = 3;
    r->text[3] = '\0';
    r->text_hash = harness_text_hash(HARNESS_TEXT_HASH0, canon, 3);
    r->done_marker = r->complete = 0;
    r->finish[0] = '\0';
    r->finish_n = 0;
    r->outcome = HARNESS_TRUNCATED;
    r->body_cut = 1;
    assert_int_equal(run("{\"check\":\"answer_integrity\"}", &v), HARNESS_PASS);
    assert_int_equal(v.samples, 1);
    assert_non_null(strstr(v.measured, "1 answers over the harness's 1 MiB body cap not judged"));
    assert_int_equal(run("{\"check\":\"no_truncated_success\"}", &v), HARNESS_PASS);
    assert_non_null(strstr(v.detail, "1 answers over the harness's 1 MiB body cap"));
    assert_int_equal(run("{\"check\":\"client_success_ratio\",\"min\":1}", &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "(1 of 1); 1 answers over the harness's 1 MiB"));
    /* The same answer cut by the relay is its fault. */
    r->body_cut = 0;
    assert_int_equal(run("{\"check\":\"answer_integrity\"}", &v), HARNESS_FAIL);
    assert_int_equal(run("{\"check\":\"client_success_ratio\",\"min\":1}", &v), HARNESS_FAIL);
    assert_int_equal(run("{\"check\":\"no_truncated_success\"}", &v), HARNESS_FAIL);
}

static void test_answer_integrity(void **state)
{
    struct report_check v;
    canon_text();
    /* Nothing to judge: inconclusive, never a pass. */
    assert_int_equal(run("{\"check\":\"answer_integrity\"}", &v), HARNESS_INCONCLUSIVE);
    answered("a", 1, canon);
    answered("b", 0, canon);
    assert_int_equal(run("{\"check\":\"answer_integrity\"}", &v), HARNESS_PASS);
    assert_int_equal(v.samples, 2);
    assert_non_null(strstr(v.detail, "signal: client answer text"));
    assert_non_null(strstr(v.detail, "client strict"));

    /* A relay that loses a token (the second word is gone). */
    char lost[256];
    const char *sp = strchr(canon, ' '), *sp2 = strchr(sp + 1, ' ');
    snprintf(lost, sizeof lost, "%.*s%s", (int)(sp - canon), canon, sp2);
    struct harness_req *r = answered("c", 1, lost);
    assert_int_equal(run("{\"check\":\"answer_integrity\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "a token lost"));
    assert_non_null(strstr(v.detail, "request c"));
    /* ...duplicates one (the first word twice)... */
    char dup[512];
    snprintf(dup, sizeof dup, "%.*s%s", (int)(sp - canon), canon, canon);
    r->text_hash = harness_text_hash(HARNESS_TEXT_HASH0, dup, strlen(dup));
    r->text_len = strlen(dup);
    snprintf(r->text, sizeof r->text, "%.159s", dup);
    assert_int_equal(run("{\"check\":\"answer_integrity\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "duplicated"));
    /* ...or reorders two: as long, different. */
    char swapped[256];
    snprintf(swapped, sizeof swapped, "%s", canon);
    size_t w1 = (size_t)(sp - canon);
    memmove(swapped, canon + w1 + 1, (size_t)(sp2 - sp - 1));
    swapped[sp2 - sp - 1] = ' ';
    memcpy(swapped + (sp2 - sp), canon, w1);
    r->text_hash = harness_text_hash(HARNESS_TEXT_HASH0, swapped, strlen(swapped));
    snprintf(r->text, sizeof r->text, "%.159s", swapped);
    r->text_len = strlen(swapped);
    if (strcmp(swapped, canon) != 0) {
        assert_int_equal(run("{\"check\":\"answer_integrity\"}", &v), HARNESS_FAIL);
        assert_non_null(strstr(v.detail, "reordered"));
    }
    /* The text right, the finish_reason not. */
    r->text_hash = harness_text_hash(HARNESS_TEXT_HASH0, canon, strlen(canon));
    r->text_len = strlen(canon);
    snprintf(r->text, sizeof r->text, "%.159s", canon);
    snprintf(r->finish, sizeof r->finish, "length");
    assert_int_equal(run("{\"check\":\"answer_integrity\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "finish_reason 'length'"));
    snprintf(r->finish, sizeof r->finish, "stop");
    assert_int_equal(run("{\"check\":\"answer_integrity\"}", &v), HARNESS_PASS);

    /* A stream that ended after its finish_reason chunk without [DONE]:
     * whole for a lenient client, unfinished for a strict one. */
    r->done_marker = 0;
    r->complete = 0;
    assert_int_equal(run("{\"check\":\"answer_integrity\",\"client\":\"lenient\"}", &v),
                     HARNESS_PASS);
    assert_non_null(strstr(v.detail, "client lenient"));
    assert_int_equal(run("{\"check\":\"answer_integrity\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "without data: [DONE]"));
    /* Without a finish_reason either, lenient fails too. */
    r->finish[0] = '\0';
    r->finish_n = 0;
    assert_int_equal(run("{\"check\":\"answer_integrity\",\"client\":\"lenient\"}", &v),
                     HARNESS_FAIL);

    /* A stream that failed visibly (in-band error) after a true start
     * passes; one whose start is not the mock's fails. */
    r->inband_error = 1;
    snprintf(r->text, sizeof r->text, "%.*s", (int)w1, canon);
    r->text_len = w1;
    r->text_hash = harness_text_hash(HARNESS_TEXT_HASH0, canon, w1);
    assert_int_equal(run("{\"check\":\"answer_integrity\",\"client\":\"lenient\"}", &v),
                     HARNESS_PASS);
    assert_non_null(strstr(v.measured, "1 failed with a true prefix"));
    snprintf(r->text, sizeof r->text, "%.*s", (int)w1, sp2 + 1);
    r->text_hash = harness_text_hash(HARNESS_TEXT_HASH0, r->text, strlen(r->text));
    r->text_len = strlen(r->text);
    assert_int_equal(run("{\"check\":\"answer_integrity\",\"client\":\"lenient\"}", &v),
                     HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "before the error"));
}

/* Where the journal cannot say what the mock built, or the attempts cannot
 * be found, the check is inconclusive and says why. */
/* Another request's answer (outsider round 4): the client read, whole, the
 * text the mock wrote for another request (a pooled connection with a late
 * answer in it, a loose cache): altered, and named with both requests; an
 * answer served by no attempt of its own (a cache hit) too. */
static void test_answer_integrity_foreign(void **state)
{
    struct report_check v;
    canon_text();
    answered("a", 0, canon);
    struct harness_req *b = answered("b", 0, canon);
    assert_int_equal(run("{\"check\":\"answer_integrity\"}", &v), HARNESS_PASS);
    obs.atts[1].msg_hash = HASH + 1; /* b's own answer is another text */
    assert_int_equal(run("{\"check\":\"answer_integrity\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "1 altered"));
    assert_non_null(strstr(v.measured, "1 another request's answer"));
    assert_non_null(strstr(v.detail, "request b got the text the mock wrote for request a"));
    /* A text that is nobody's is altered, not another's. */
    b->text_hash ^= 1;
    assert_int_equal(run("{\"check\":\"answer_integrity\"}", &v), HARNESS_FAIL);
    assert_null(strstr(v.measured, "another request's answer"));
    /* Served from a cache: no attempt of its own, a's text. */
    b->text_hash ^= 1;
    obs.n_atts = 1;
    assert_int_equal(run("{\"check\":\"answer_integrity\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "1 made up by the relay"));
    assert_non_null(strstr(v.detail, "request b got the text the mock wrote for request a"));
}

static void test_answer_integrity_unknown(void **state)
{
    struct report_check v;
    canon_text();
    answered("a", 1, canon);
    obs.atts[0].completion_tokens = -1; /* a mock in proxy mode counts nothing */
    assert_int_equal(run("{\"check\":\"answer_integrity\"}", &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "journal records no token counts"));
    assert_int_equal(run("{\"check\":\"usage_reported\"}", &v), HARNESS_INCONCLUSIVE);
    obs.atts[0].completion_tokens = 5;
    obs.signals &= ~HARNESS_SIG_IDS;
    assert_int_equal(run("{\"check\":\"answer_integrity\"}", &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "request id"));
    /* Blue's stream was cut after its first word and green answered it
     * whole, with another text (it got other messages): the answer names
     * no colour.  Either whole text is intact; a relay that stitched
     * blue's first word onto green's answer gave neither. */
    obs.signals |= HARNESS_SIG_IDS;
    snprintf(obs.atts[0].end, sizeof obs.atts[0].end, "cut");
    struct harness_att *a = att("a", "green", 3, 1, 200);
    a->msg_hash = HASH + 1;
    a->completion_tokens = 5;
    snprintf(a->finish, sizeof a->finish, "stop");
    snprintf(a->end, sizeof a->end, "complete");
    struct harness_req *r = &obs.reqs[0];
    r->served[0] = '\0';
    assert_int_equal(run("{\"check\":\"answer_integrity\"}", &v), HARNESS_PASS);
    char *green = mock_reply_string(HASH + 1, 5), stitched[300];
    snprintf(stitched, sizeof stitched, "%.*s %s", (int)strcspn(canon, " "), canon, green);
    r->text_hash = harness_text_hash(HARNESS_TEXT_HASH0, stitched, strlen(stitched));
    r->text_len = strlen(stitched);
    snprintf(r->text, sizeof r->text, "%.159s", stitched);
    assert_int_equal(run("{\"check\":\"answer_integrity\"}", &v), HARNESS_FAIL);
    /* Judged against green's, the attempt that ran to its end. */
    assert_non_null(strstr(v.detail, "longer (a token duplicated or added?)"));
    free(green);
}

static void test_usage_reported(void **state)
{
    struct report_check v;
    canon_text();
    answered("a", 0, canon);
    struct harness_req *s = answered("b", 1, canon);
    assert_int_equal(run("{\"check\":\"usage_reported\"}", &v), HARNESS_PASS);
    assert_int_equal(v.samples, 2);
    assert_non_null(strstr(v.detail, "signal: the answer's usage"));
    /* A stream that did not ask for usage is not judged. */
    s->include_usage = 0;
    s->usage_seen = 0;
    assert_int_equal(run("{\"check\":\"usage_reported\"}", &v), HARNESS_PASS);
    assert_int_equal(v.samples, 1);
    assert_non_null(strstr(v.measured, "1 streams not judged"));
    /* A relay that drops usage, and one that reports other counts. */
    struct harness_req *r = &obs.reqs[0];
    r->usage_seen = 0;
    assert_int_equal(run("{\"check\":\"usage_reported\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "no usage in the answer; the mock counted 7 + 5"));
    r->usage_seen = 1;
    r->usage_completion = 4;
    assert_int_equal(run("{\"check\":\"usage_reported\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "1 with other counts"));
    r->usage_completion = 5;
    r->usage_total = 13; /* a total that is not the sum */
    assert_int_equal(run("{\"check\":\"usage_reported\"}", &v), HARNESS_FAIL);
    r->usage_total = 12;
    assert_int_equal(run("{\"check\":\"usage_reported\"}", &v), HARNESS_PASS);
    /* Only streams that did not ask for usage: inconclusive, saying why. */
    obs.reqs[0].stream = 1;
    obs.reqs[0].include_usage = 0;
    assert_int_equal(run("{\"check\":\"usage_reported\"}", &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "did not ask for usage"));
    obs.reqs[0].stream = 0;
    /* An answer that failed is not judged. */
    r->status = 502;
    assert_int_equal(run("{\"check\":\"usage_reported\",\"phase\":0}", &v), HARNESS_INCONCLUSIVE);
}

static void test_model_reported(void **state)
{
    struct report_check v;
    canon_text();
    struct harness_req *r = answered("a", 1, canon);
    assert_int_equal(run("{\"check\":\"model_reported\"}", &v), HARNESS_PASS);
    assert_int_equal(run("{\"check\":\"model_reported\",\"against\":\"served\"}", &v),
                     HARNESS_PASS);
    /* A relay that rewrites the model in the answer. */
    snprintf(r->ans_model, sizeof r->ans_model, "gpt-4o");
    assert_int_equal(run("{\"check\":\"model_reported\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "the answer says model 'gpt-4o', the client asked for "
                                     "'gpt-4.1'"));
    /* A relay that mapped the model upstream and says so truly: the served
     * view passes, the requested view does not. */
    snprintf(obs.atts[0].model, sizeof obs.atts[0].model, "gpt-4o");
    assert_int_equal(run("{\"check\":\"model_reported\",\"against\":\"served\"}", &v),
                     HARNESS_PASS);
    assert_int_equal(run("{\"check\":\"model_reported\"}", &v), HARNESS_FAIL);
    /* The served view needs the ids; the requested one does not. */
    obs.signals &= ~HARNESS_SIG_IDS;
    assert_int_equal(run("{\"check\":\"model_reported\",\"against\":\"served\"}", &v),
                     HARNESS_INCONCLUSIVE);
    assert_int_equal(run("{\"check\":\"model_reported\"}", &v), HARNESS_FAIL);
    /* An answer that names no model fails. */
    r->ans_model[0] = '\0';
    snprintf(r->ans_model, sizeof r->ans_model, "%s", "");
    assert_int_equal(run("{\"check\":\"model_reported\"}", &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "(none)"));
}

/* An upstream that answers a snapshot (gpt-4.1-2025-04-14 for gpt-4.1,
 * journal answer_model): a relay that passes it on passes against: served,
 * and against: requested does not judge (no false fail); a relay that
 * rewrites it to the model asked for fails against: served, naming both. */
static void test_model_reported_snapshot(void **state)
{
    struct report_check v;
    canon_text();
    struct harness_req *r = answered("a", 1, canon);
    snprintf(obs.atts[0].ans_model, sizeof obs.atts[0].ans_model, "gpt-4.1-2025-04-14");
    snprintf(r->ans_model, sizeof r->ans_model, "gpt-4.1-2025-04-14");
    assert_int_equal(run("{\"check\":\"model_reported\",\"against\":\"served\"}", &v),
                     HARNESS_PASS);
    assert_non_null(strstr(v.detail, "the model its answer named"));
    assert_int_equal(run("{\"check\":\"model_reported\"}", &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "a snapshot): judge against: served"));
    /* The relay rewrote the snapshot to the name the client sent. */
    snprintf(r->ans_model, sizeof r->ans_model, "gpt-4.1");
    assert_int_equal(run("{\"check\":\"model_reported\",\"against\":\"served\"}", &v),
                     HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "the answer says model 'gpt-4.1', the serving mock "
                                     "answered 'gpt-4.1-2025-04-14'"));
    /* Attempts not found while snapshots were answered: not judged either. */
    obs.signals &= ~HARNESS_SIG_IDS;
    assert_int_equal(run("{\"check\":\"model_reported\"}", &v), HARNESS_INCONCLUSIVE);
}

static void test_client_status(void **state)
{
    struct report_check v;
    const char *c = "{\"check\":\"client_status\",\"status\":400,\"code\":"
                    "\"context_length_exceeded\",\"type\":\"invalid_request_error\"}";
    assert_int_equal(run(c, &v), HARNESS_INCONCLUSIVE);
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%d", i);
        struct harness_req *r = req(id, (uint64_t)i * 10, 5, 400, "", HARNESS_HTTP_ERROR);
        snprintf(r->err_type, sizeof r->err_type, "invalid_request_error");
        snprintf(r->err_code, sizeof r->err_code, "context_length_exceeded");
        r->tpl = 0;
        snprintf(r->tpl_name, sizeof r->tpl_name, "long");
    }
    assert_int_equal(run(c, &v), HARNESS_PASS);
    assert_non_null(strstr(v.detail, "signal: client log"));
    /* A relay that turns the 400 into a 502 of its own. */
    struct harness_req *r = &obs.reqs[1];
    r->status = 502;
    snprintf(r->err_type, sizeof r->err_type, "server_error");
    snprintf(r->err_code, sizeof r->err_code, "bad_gateway");
    assert_int_equal(run(c, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.measured, "2 of 3"));
    assert_non_null(strstr(v.measured, "502 server_error/bad_gateway"));
    /* ...or keeps the status and loses the code. */
    r->status = 400;
    r->err_code[0] = '\0';
    assert_int_equal(run(c, &v), HARNESS_FAIL);
    assert_int_equal(run("{\"check\":\"client_status\",\"status\":400}", &v), HARNESS_PASS);
    assert_int_equal(run("{\"check\":\"client_status\",\"code\":\"context_length_exceeded\","
                         "\"min\":0.6}",
                         &v),
                     HARNESS_PASS);
    /* Per template: a group with no request says nothing. */
    assert_int_equal(run("{\"check\":\"client_status\",\"status\":400,\"template\":\"long\"}", &v),
                     HARNESS_PASS);
    assert_int_equal(run("{\"check\":\"client_status\",\"status\":400,\"template\":\"short\"}", &v),
                     HARNESS_INCONCLUSIVE);
    assert_int_equal(run("{\"check\":\"client_status\",\"status\":400,\"phase\":3}", &v),
                     HARNESS_INCONCLUSIVE);
}

static void test_answer_check_params(void **state)
{
    char err[512];
    static const struct {
        const char *check, *needle;
    } bad[] = {
        {"{\"check\":\"client_status\"}", "expected status, type or code"},
        {"{\"check\":\"client_status\",\"status\":\"400\"}", "$.expect[0].status"},
        {"{\"check\":\"answer_integrity\",\"client\":\"strct\"}", "did you mean 'strict'"},
        {"{\"check\":\"model_reported\",\"against\":\"serve\"}", "did you mean 'served'"},
        {"{\"check\":\"usage_reported\",\"template\":3}",
         "$.expect[0].template: expected a string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_error_t je;
        json_t *c = json_loads(bad[i].check, 0, &je);
        assert_int_equal(harness_check_validate(c, "$.expect[0]", NULL, err, sizeof err), -1);
        if (!strstr(err, bad[i].needle))
            fail_msg("%s: '%s' lacks '%s'", bad[i].check, err, bad[i].needle);
        json_decref(c);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_every_kind_names_its_signal),
        T(test_pass_audit_made_up_answers),
        T(test_pass_audit_refusing_relay),
        T(test_pass_audit_echo_without_key),
        cmocka_unit_test_setup_teardown(test_answer_integrity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_cut_by_harness, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_integrity_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_status, setup, teardown),
        cmocka_unit_test(test_answer_check_params),
        cmocka_unit_test_setup_teardown(test_min_dwell_served_bounds, setup, teardown),
        T(test_success_ratio),
        T(test_client_count_and_deadline),
        T(test_upstream_concurrency),
        T(test_no_truncated),
        T(test_attempts),
        T(test_backoff_none),
        T(test_backoff_jitter),
        T(test_backoff_white_box),
        T(test_backoff_late_done_stamp),
        T(test_retry_after_and_hammering),
        T(test_switches),
        T(test_switches_served_reordered),
        T(test_switches_served_first_attempt),
        T(test_no_traffic_after_unhealthy),
        T(test_rate_limit),
        T(test_rate_limit_header_values),
        T(test_rate_limit_never_limited),
        T(test_rate_limit_window_kinds),
        T(test_fleet_rate_limit_fixed_window),
        T(test_refusal_count_window_kind),
        T(test_window_kind_every_check),
        T(test_rate_limit_bucket),
        T(test_fleet_early_refusal),
        T(test_rate_limit_retry_after_only),
        T(test_retry_after_across_colours),
        T(test_tried_ratio),
        T(test_stream_incremental),
        T(test_relay_stderr_lines),
        T(test_seeded_picks_agree),
        T(test_answer_content_type),
        T(test_stream_ends_once),
        T(test_answer_encoding),
        T(test_retry_after_kept),
        T(test_hop_headers),
        T(test_answer_integrity_foreign),
        T(test_retry_after_holds),
        T(test_retry_after_holds_upstream_429),
        T(test_retry_after_holds_date),
        T(test_model_reported_snapshot),
        T(test_cancel_on_client_gone),
        T(test_no_retry_after_bytes),
        T(test_admin_ok_effect),
        T(test_forwarded_body_no_client_sent),
        T(test_admission_counts_window_kind),
        T(test_forwarded_fields),
        T(test_sequential_attempts),
        T(test_rate_limit_all_refused),
        T(test_backoff_distribution),
        T(test_dist_excess),
        T(test_forwarded),
        T(test_events_consistent),
        T(test_error_shape),
        T(test_final_error_headers),
        T(test_connection_reuse),
        T(test_health_probes),
        T(test_health_interval),
        T(test_latency_and_overhead),
        T(test_zero_downtime_and_served),
        T(test_process_checks),
        T(test_harness_on_time),
        T(test_clean_shutdown),
        T(test_min_samples_override),
        T(test_validation),
        T(test_obs_index),
        T(test_every_kind_without_its_signal),
        T(test_no_vacuous_attempts),
        T(test_every_row_describes_itself),
        T(test_row_facts),
        T(test_row_settings_are_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
