/* Integration test of the load driver (harness/traffic.c) in this process
 * against a real `cutover mock` over loopback: a driver whose connections
 * are all busy queues the requests that are due, and a queued request holds
 * nothing of libcurl's (an easy handle is made only when a request is handed
 * to a connection, so at most as many as run at once); every request still
 * gets its own answer, with the headers and facts the checks read; and an
 * open-loop schedule is the rate asked for, not a rounding of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/tsupport.h"

#include "co_clock.h"
#include "co_evcurl.h"
#include "co_json.h"
#include "harness/scenario.h"
#include "harness/traffic.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL 6

static void on_finished(struct harness_traffic *t)
{
    ev_break(t->loop, EVBREAK_ALL);
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
    ev_break(loop, EVBREAK_ALL);
}

/* 60 requests at 300 req/s on 6 connections while each answer takes
 * 100 ms: 30 in flight at once were asked for, so most wait. */
static void test_queued_requests_wait_without_a_handle(void **state)
{
    struct tproc mock;
    assert_int_equal(tmock_start(&mock, "blue", NULL), 0);
    assert_int_equal(tmock_put_behavior(mock.url, "{\"latency\":{\"fixed_ms\":100}}"), 0);
    const char doc[] =
        "{\"name\":\"queued\",\"traffic\":{\"rate_rps\":300,\"count\":60,\"timeout_ms\":5000},"
        "\"expect\":[{\"check\":\"client_success_ratio\",\"min\":1.0}]}";
    char err[256];
    json_t *j = co_json_loadb(doc, strlen(doc), "queued", err, sizeof err);
    assert_non_null(j);
    struct harness_scenario *s = harness_scenario_from_json(j, "queued", 1.0, err, sizeof err);
    assert_non_null(s);

    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct co_evcurl curl;
    assert_int_equal(co_evcurl_init(&curl, loop, harness_xfer_dispatch, 0, 0), 0);
    struct harness_traffic t;
    harness_traffic_init(&t, loop, &curl, s, mock.url, "q", 7);
    t.pool_cap = POOL;
    curl_multi_setopt(curl.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)POOL);
    curl_multi_setopt(curl.multi, CURLMOPT_MAXCONNECTS, (long)POOL);
    t.on_finished = on_finished;
    ev_timer deadline;
    ev_timer_init(&deadline, on_deadline, 20.0, 0);
    ev_timer_start(loop, &deadline);
    harness_traffic_start(&t, co_clock_monotonic_us() + 50000);
    ev_run(loop, 0);
    ev_timer_stop(loop, &deadline);

    assert_true(t.finished);
    assert_int_equal(t.n_reqs, 60);
    assert_true(t.pool_waits > 0);      /* the pool was the bottleneck, and said so */
    assert_true(t.peak_active <= POOL); /* never more transfers than connections */
    assert_true(t.easies >= 1);
    assert_true(t.easies <= POOL);   /* queued requests held no handle */
    assert_true(t.connects <= POOL); /* connections reused, not one per request */
    for (size_t i = 0; i < t.n_reqs; i++) {
        const struct harness_req *r = &t.reqs[i];
        assert_int_equal(r->status, 200);
        assert_int_equal(r->outcome, HARNESS_OK);
        assert_string_equal(r->ctype, "application/json");
        assert_string_equal(r->served, "blue");
        /* Latency runs from the scheduled time: a request that waited for a
         * connection carries the wait (no coordinated omission). */
        assert_true(r->t_sent >= r->t_sched);
        assert_true(r->t_done - r->t_sched >= 100000);
    }
    /* The last requests waited for connections: 60 answers of 100 ms on 6
     * connections take 1 s at least, the schedule 200 ms. */
    const struct harness_req *last = &t.reqs[t.n_reqs - 1];
    assert_true(last->t_sent - last->t_sched >= 500000);

    harness_traffic_free(&t);
    co_evcurl_cleanup(&curl);
    ev_loop_destroy(loop);
    harness_scenario_free(&s);
    json_decref(j);
    tproc_stop(&mock, SIGTERM, 2000);
}

/* The schedule is the rate asked for, to the request: 3,000 req/s for
 * 200 ms is 600 requests, the i-th at i x 333.33 µs (whole µs per gap made
 * it 601 at 3,003 req/s, and 15,000 req/s became 15,151). */
static void test_uniform_schedule_is_exact(void **state)
{
    struct tproc mock;
    assert_int_equal(tmock_start(&mock, "blue", NULL), 0);
    const char doc[] =
        "{\"name\":\"exact\",\"traffic\":{\"rate_rps\":3000,\"duration_ms\":200,"
        "\"timeout_ms\":5000},\"expect\":[{\"check\":\"client_success_ratio\",\"min\":1.0}]}";
    char err[256];
    json_t *j = co_json_loadb(doc, strlen(doc), "exact", err, sizeof err);
    assert_non_null(j);
    struct harness_scenario *s = harness_scenario_from_json(j, "exact", 1.0, err, sizeof err);
    assert_non_null(s);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct co_evcurl curl;
    assert_int_equal(co_evcurl_init(&curl, loop, harness_xfer_dispatch, 0, 0), 0);
    struct harness_traffic t;
    harness_traffic_init(&t, loop, &curl, s, mock.url, "x", 7);
    t.on_finished = on_finished;
    ev_timer deadline;
    ev_timer_init(&deadline, on_deadline, 30.0, 0);
    ev_timer_start(loop, &deadline);
    uint64_t t0 = co_clock_monotonic_us() + 50000;
    harness_traffic_start(&t, t0);
    ev_run(loop, 0);
    ev_timer_stop(loop, &deadline);

    assert_true(t.finished);
    assert_int_equal(t.n_reqs, 600);
    for (size_t i = 0; i < t.n_reqs; i++) {
        uint64_t want = t0 + (uint64_t)((double)i * 1e6 / 3000.0 + 0.5);
        uint64_t got = t.reqs[i].t_sched;
        assert_true(got + 1 >= want && got <= want + 1);
    }
    harness_traffic_free(&t);
    co_evcurl_cleanup(&curl);
    ev_loop_destroy(loop);
    harness_scenario_free(&s);
    json_decref(j);
    tproc_stop(&mock, SIGTERM, 2000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queued_requests_wait_without_a_handle),
        cmocka_unit_test(test_uniform_schedule_is_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
