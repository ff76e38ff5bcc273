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

#include <arpa/inet.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* Timing upper bounds are multiplied by CUTOVER_TIME_MULT (default 2, 4
 * for a SAN build); lower bounds are not. */
static double mult(void)
{
    const char *m = getenv("CUTOVER_TIME_MULT");
    const char *bin = getenv("CUTOVER_BIN");
    double v = m ? atof(m) : 0;
    return v >= 1 ? v : bin && strstr(bin, "san") ? 4 : 2;
}

/* A client that declares its body and stalls or trickles it (template
 * declared_length, sent_bytes, trickle_ms) with its own headers, against a
 * bare loopback server of this test (a relay's part is played by hand, so
 * that the test sees the bytes on the wire): the head carries the declared
 * Content-Length and the template's header; the body comes at once up to
 * sent_bytes, then a byte per trickle_ms; a close without an answer ends
 * the request at the next byte, as a transport failure; an answer to a
 * stalled upload ends it at once, whole, with no transport error. */
#define LIVE_BUF 8192

struct live_srv {
    int lfd, cfd;
    ev_io accept_w, read_w;
    ev_timer close_t;
    char buf[LIVE_BUF];
    size_t len, head_len; /* head_len: 0 until the head is in */
    size_t body_at_close; /* body bytes in when the server closed */
    uint64_t t_accept, t_close;
    int answer;           /* 1: answer 413 at the head, keep the connection; 2: the same,
                           * chunked (no Content-Length) */
    double close_after_s; /* 0: never close */
};

static void live_close(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct live_srv *s = w->data;
    ev_io_stop(loop, &s->read_w);
    s->body_at_close = s->head_len ? s->len - s->head_len : 0;
    s->t_close = co_clock_monotonic_us();
    close(s->cfd);
    s->cfd = -1;
}

static void live_read(struct ev_loop *loop, ev_io *w, int revents)
{
    struct live_srv *s = w->data;
    ssize_t n = read(s->cfd, s->buf + s->len, sizeof s->buf - 1 - s->len);
    if (n <= 0) {
        ev_io_stop(loop, w);
        return;
    }
    s->len += (size_t)n;
    s->buf[s->len] = '\0';
    char *e = strstr(s->buf, "\r\n\r\n");
    if (!s->head_len && e) {
        s->head_len = (size_t)(e + 4 - s->buf);
        if (s->answer == 2) {
            static const char a[] = "HTTP/1.1 413 Content Too Large\r\nContent-Type: "
                                    "application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    "1f\r\n{\"error\":{\"message\":\"too big\",\"\r\n"
                                    "19\r\ntype\":\"invalid_request\"}}\r\n0\r\n\r\n";
            assert_int_equal(write(s->cfd, a, sizeof a - 1), (ssize_t)(sizeof a - 1));
        } else if (s->answer) {
            static const char a[] =
                "HTTP/1.1 413 Content Too Large\r\nContent-Type: "
                "application/json\r\nContent-Length: 56\r\n\r\n"
                "{\"error\":{\"message\":\"too big\",\"type\":\"invalid_request\"}}";
            assert_int_equal(write(s->cfd, a, sizeof a - 1), (ssize_t)(sizeof a - 1));
        }
    }
}

static void live_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    struct live_srv *s = w->data;
    s->cfd = accept(s->lfd, NULL, NULL);
    assert_true(s->cfd >= 0);
    s->t_accept = co_clock_monotonic_us();
    ev_io_stop(loop, w);
    ev_io_init(&s->read_w, live_read, s->cfd, EV_READ);
    s->read_w.data = s;
    ev_io_start(loop, &s->read_w);
    if (s->close_after_s > 0) {
        ev_timer_init(&s->close_t, live_close, s->close_after_s, 0);
        s->close_t.data = s;
        ev_timer_start(loop, &s->close_t);
    }
}

/* Runs one phase (template tpl) against a fresh server; fills *s. */
static void live_run(struct ev_loop *loop, struct live_srv *s, const char *tpl,
                     struct harness_req *out)
{
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(s->lfd, 4), 0);
    socklen_t sl = sizeof sa;
    getsockname(s->lfd, (struct sockaddr *)&sa, &sl);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(sa.sin_port));
    ev_io_init(&s->accept_w, live_accept, s->lfd, EV_READ);
    s->accept_w.data = s;
    ev_io_start(loop, &s->accept_w);

    char doc[1024];
    snprintf(doc, sizeof doc,
             "{\"name\":\"stall\",\"traffic\":{\"concurrency\":1,\"count\":1,\"timeout_ms\":5000,"
             "\"request\":%s},\"expect\":[{\"check\":\"client_count\",\"min\":1}]}",
             tpl);
    char err[512];
    json_t *j = co_json_loadb(doc, strlen(doc), "stall", err, sizeof err);
    assert_non_null(j);
    struct harness_scenario *sc = harness_scenario_from_json(j, "stall", 1.0, err, sizeof err);
    if (!sc)
        fail_msg("%s", err);
    struct co_evcurl curl;
    assert_int_equal(co_evcurl_init(&curl, loop, harness_xfer_dispatch, 0, 0), 0);
    struct harness_traffic t;
    harness_traffic_init(&t, loop, &curl, sc, url, "s", 7);
    t.on_finished = on_finished;
    ev_timer deadline;
    ev_timer_init(&deadline, on_deadline, 10.0, 0);
    ev_timer_start(loop, &deadline);
    harness_traffic_start(&t, co_clock_monotonic_us() + 10000);
    ev_run(loop, 0);
    ev_timer_stop(loop, &deadline);
    assert_true(t.finished);
    assert_int_equal(t.n_reqs, 1);
    *out = t.reqs[0];
    harness_traffic_free(&t);
    co_evcurl_cleanup(&curl);
    ev_timer_stop(loop, &s->close_t);
    ev_io_stop(loop, &s->read_w);
    ev_io_stop(loop, &s->accept_w);
    if (s->cfd >= 0)
        close(s->cfd);
    close(s->lfd);
    harness_scenario_free(&sc);
    json_decref(j);
}

static void test_slow_sender_and_stalled_upload(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    /* A slow sender: 2 bytes at once, then one per 100 ms (libcurl's
     * cap is an average: the third waits 200 ms); the server closes after
     * 800 ms without answering. */
    struct live_srv s = {.cfd = -1, .close_after_s = 0.8};
    struct harness_req r;
    live_run(loop, &s,
             "{\"declared_length\":400,\"sent_bytes\":2,\"trickle_ms\":100,\"headers\":{"
             "\"X-Forwarded-For\":\"203.0.113.7\"},\"body\":{\"model\":\"m\"}}",
             &r);
    assert_true(s.head_len > 0);
    assert_non_null(strstr(s.buf, "Content-Length: 400\r\n"));
    assert_non_null(strstr(s.buf, "X-Forwarded-For: 203.0.113.7\r\n"));
    assert_null(strstr(s.buf, "Expect: 100"));
    /* 2 at once and about one per 100 ms (8 by 800 ms): never the body at
     * once, and not nothing after the first two. */
    assert_true(s.body_at_close >= 4);
    assert_true(s.body_at_close <= 12);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.outcome, HARNESS_TRANSPORT);
    /* Seen at the next byte after the close, long before the 5 s timeout. */
    assert_true(r.t_done >= s.t_close);
    assert_true(r.t_done - s.t_close < (uint64_t)(500000 * mult()));

    /* A stalled upload answered at its head: 413 whole, no transport
     * error, at once. */
    struct live_srv a = {.cfd = -1, .answer = 1};
    live_run(loop, &a,
             "{\"declared_length\":20000,\"expect_continue\":false,\"body\":{\"model\":\"m\"}}",
             &r);
    assert_non_null(strstr(a.buf, "Content-Length: 20000\r\n"));
    assert_int_equal(a.len, a.head_len); /* not one body byte */
    assert_int_equal(r.status, 413);
    assert_int_equal(r.curl_rc, 0);
    assert_int_equal(r.err_shape, 1);
    assert_true(r.t_done - r.t_sent < (uint64_t)(500000 * mult()));

    /* The same answer chunked (no Content-Length: a relay that streams its
     * error bodies): whole when its JSON is, not held until the client's
     * own 5 s timeout by the paused upload. */
    struct live_srv ch = {.cfd = -1, .answer = 2};
    live_run(loop, &ch,
             "{\"declared_length\":20000,\"expect_continue\":false,\"body\":{\"model\":\"m\"}}",
             &r);
    assert_int_equal(r.status, 413);
    assert_int_equal(r.curl_rc, 0);
    assert_int_equal(r.err_shape, 1);
    assert_true(r.t_done - r.t_sent < (uint64_t)(500000 * mult()));
    ev_loop_destroy(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queued_requests_wait_without_a_handle),
        cmocka_unit_test(test_uniform_schedule_is_exact),
        cmocka_unit_test(test_slow_sender_and_stalled_upload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
