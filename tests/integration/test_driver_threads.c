/* Integration test of the load driver with several threads (a phase's
 * "threads", harness/traffic.h) against a real `cutover mock` over
 * loopback: every request of an open-loop and of a closed-loop phase sent
 * by two workers is sent once and answered once, under its own id, and the
 * mock's journal holds exactly as many; the schedule (arrival times,
 * templates) is the one a single thread draws, whatever thread sends which
 * request; and through the real `cutover run`, a 2-thread phase's results
 * have the shape and the driver account of a 1-thread phase's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/tsupport.h"

#include "co_clock.h"
#include "co_evcurl.h"
#include "co_json.h"
#include "harness/driver.h"
#include "harness/scenario.h"
#include "harness/traffic.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Timing upper bounds are multiplied by CUTOVER_TIME_MULT (default 2, 4
 * for a SAN build); lower bounds are not. */
static double mult(void)
{
    const char *m = getenv("CUTOVER_TIME_MULT");
    const char *bin = getenv("CUTOVER_BIN");
    double v = m ? atof(m) : 0;
    return v >= 1 ? v : bin && strstr(bin, "san") ? 4 : 2;
}

static void on_finished(struct harness_traffic *t)
{
    ev_break(t->loop, EVBREAK_ALL);
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
    ev_break(loop, EVBREAK_ALL);
}

/* One run of doc against url in this process: the traffic is left in *t
 * (free it), its start in *t0. */
struct run {
    struct harness_scenario *s;
    json_t *j;
    struct ev_loop *loop;
    struct co_evcurl curl;
    struct harness_traffic t;
    uint64_t t0;
};

static void run_traffic(struct run *r, const char *doc, const char *url, const char *prefix)
{
    char err[512];
    r->j = co_json_loadb(doc, strlen(doc), "threads", err, sizeof err);
    assert_non_null(r->j);
    r->s = harness_scenario_from_json(r->j, "threads", 1.0, err, sizeof err);
    if (!r->s)
        fail_msg("%s", err);
    r->loop = ev_loop_new(EVFLAG_AUTO);
    assert_int_equal(co_evcurl_init(&r->curl, r->loop, harness_xfer_dispatch, 0, 0), 0);
    harness_traffic_init(&r->t, r->loop, &r->curl, r->s, url, prefix, 7);
    r->t.on_finished = on_finished;
    ev_timer deadline;
    ev_timer_init(&deadline, on_deadline, 20.0, 0);
    ev_timer_start(r->loop, &deadline);
    r->t0 = co_clock_monotonic_us() + 50000;
    harness_traffic_start(&r->t, r->t0);
    ev_run(r->loop, 0);
    ev_timer_stop(r->loop, &deadline);
}

static void run_free(struct run *r)
{
    harness_traffic_free(&r->t);
    co_evcurl_cleanup(&r->curl);
    ev_loop_destroy(r->loop);
    harness_scenario_free(&r->s);
    json_decref(r->j);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every request of t sent and answered 200 once, the ids exactly
 * PREFIX-0-0 .. PREFIX-0-(n-1) (each once), and the mock's journal holds
 * n records, one per id. */
static void assert_each_once(const struct harness_traffic *t, const char *mock_url,
                             const char *prefix, size_t n)
{
    assert_int_equal(t->n_reqs, n);
    const char **ids = calloc(n, sizeof *ids);
    for (size_t i = 0; i < n; i++) {
        const struct harness_req *r = &t->reqs[i];
        assert_true(r->t_sent != 0);
        assert_true(r->t_done >= r->t_sent);
        assert_int_equal(r->status, 200);
        assert_int_equal(r->outcome, HARNESS_OK);
        assert_string_equal(r->served, "blue");
        ids[i] = r->id;
    }
    qsort(ids, n, sizeof *ids, cmp_str);
    for (size_t i = 1; i < n; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    for (size_t i = 0; i < n; i++) {
        char want[64];
        snprintf(want, sizeof want, "%s-0-%zu", prefix, i);
        assert_non_null(bsearch(&(const char *){want}, ids, n, sizeof *ids, cmp_str));
    }
    char url[320];
    snprintf(url, sizeof url, "%s/_mock/journal?since=0", mock_url);
    struct thttp_resp resp;
    assert_int_equal(thttp_request("GET", url, NULL, NULL, 5000, &resp), CURLE_OK);
    assert_int_equal(resp.status, 200);
    json_error_t je;
    json_t *doc = json_loadb(resp.body, resp.body_len, 0, &je);
    assert_non_null(doc);
    json_t *recs = json_object_get(doc, "records");
    assert_int_equal(json_integer_value(json_object_get(doc, "dropped")), 0);
    assert_int_equal(json_array_size(recs), n);
    size_t idx;
    json_t *rec;
    json_array_foreach(recs, idx, rec)
    {
        const char *id = json_string_value(json_object_get(rec, "request_id"));
        assert_non_null(id);
        assert_non_null(bsearch(&id, ids, n, sizeof *ids, cmp_str));
    }
    json_decref(doc);
    thttp_resp_free(&resp);
    free(ids);
}

static void mock_reset(const char *mock_url)
{
    char url[320];
    snprintf(url, sizeof url, "%s/_mock/reset", mock_url);
    struct thttp_resp resp;
    assert_int_equal(thttp_request("POST", url, NULL, NULL, 5000, &resp), CURLE_OK);
    assert_int_equal(resp.status, 200);
    thttp_resp_free(&resp);
}

/* Open loop, 2,000 req/s for 500 ms over two threads, Poisson arrivals and
 * two weighted templates: 1,000 requests, each once, at the times and with
 * the templates one thread draws for the same seed. */
static void test_open_loop_two_threads(void **state)
{
    struct tproc mock;
    assert_int_equal(tmock_start(&mock, "blue", NULL), 0);
    static const char fmt[] =
        "{\"name\":\"open\",\"traffic\":{\"rate_rps\":2000,\"count\":1000,\"timeout_ms\":5000,"
        "\"arrival\":\"poisson\",\"threads\":%d,\"requests\":["
        "{\"name\":\"a\",\"weight\":3,\"body\":{\"model\":\"gpt-4.1\",\"messages\":[{\"role\":"
        "\"user\",\"content\":\"a\"}]}},"
        "{\"name\":\"b\",\"weight\":1,\"body\":{\"model\":\"gpt-4.1\",\"messages\":[{\"role\":"
        "\"user\",\"content\":\"b\"}]}}]},"
        "\"expect\":[{\"check\":\"client_success_ratio\",\"min\":1.0}]}";
    char doc[1024];
    struct run one, two;
    snprintf(doc, sizeof doc, fmt, 1);
    run_traffic(&one, doc, mock.url, "o");
    assert_true(one.t.finished);
    mock_reset(mock.url);
    snprintf(doc, sizeof doc, fmt, 2);
    run_traffic(&two, doc, mock.url, "o");
    assert_true(two.t.finished);
    assert_each_once(&two.t, mock.url, "o", 1000);
    /* Two workers, each its own multi handle and connections. */
    assert_true(two.t.connects >= 2);
    assert_true(two.t.easies >= 2);

    /* The same schedule, request by request: logged in schedule order. */
    assert_int_equal(one.t.n_reqs, two.t.n_reqs);
    for (size_t i = 0; i < two.t.n_reqs; i++) {
        const struct harness_req *a = &one.t.reqs[i], *b = &two.t.reqs[i];
        assert_string_equal(a->id, b->id);
        assert_int_equal(a->t_sched - one.t0, b->t_sched - two.t0);
        assert_int_equal(a->tpl, b->tpl);
        assert_string_equal(a->tpl_name, b->tpl_name);
        assert_true(b->msg_hash != 0); /* read after the traffic, as with one thread */
        assert_int_equal(a->msg_hash, b->msg_hash);
        if (i)
            assert_true(b->t_sched >= two.t.reqs[i - 1].t_sched);
    }

    /* The driver's own account: every request sent, at about the rate
     * asked for.  Its rate is first send to last over a Poisson schedule of
     * this seed, so against the schedule's own rate: never above it by more
     * than the early-send slack, never below it by more than a late last
     * send (upper bound on lateness scaled). */
    struct report_driver d;
    harness_driver_measure(&two.t, &d);
    assert_int_equal(d.scheduled, 1000);
    assert_int_equal(d.sent, 1000);
    assert_true(d.sched_rps > 0);
    double span = 999.0 / d.sched_rps;
    assert_true(d.achieved_rps <= 999.0 / (span - 0.001));
    assert_true(d.achieved_rps >= 999.0 / (span + 0.25 * mult()));
    assert_int_equal(d.pool_waits, 0);
    run_free(&one);
    run_free(&two);
    tproc_stop(&mock, SIGTERM, 2000);
}

/* Closed loop, 8 in flight over two threads, 600 requests: each once,
 * never more than 8 at once. */
static void test_closed_loop_two_threads(void **state)
{
    struct tproc mock;
    assert_int_equal(tmock_start(&mock, "blue", NULL), 0);
    assert_int_equal(tmock_put_behavior(mock.url, "{\"latency\":{\"fixed_ms\":5}}"), 0);
    const char doc[] =
        "{\"name\":\"closed\",\"traffic\":{\"concurrency\":8,\"count\":600,\"timeout_ms\":5000,"
        "\"threads\":2},\"expect\":[{\"check\":\"client_success_ratio\",\"min\":1.0}]}";
    struct run r;
    run_traffic(&r, doc, mock.url, "c");
    assert_true(r.t.finished);
    assert_each_once(&r.t, mock.url, "c", 600);
    assert_true(r.t.peak_active <= 8);
    assert_true(r.t.connects >= 2);
    /* 600 requests 8 at a time, each 5 ms at the mock: 75 waves, so 375 ms
     * at least (a strict lower bound); the upper one scaled. */
    struct report_driver d;
    harness_driver_measure(&r.t, &d);
    assert_int_equal(d.sent, 600);
    assert_true(d.achieved_rps <= 599.0 / 0.370);
    assert_true(d.achieved_rps >= 599.0 / (3.0 * mult()));
    uint64_t first = UINT64_MAX, last = 0;
    for (size_t i = 0; i < r.t.n_reqs; i++) {
        first = r.t.reqs[i].t_sent < first ? r.t.reqs[i].t_sent : first;
        last = r.t.reqs[i].t_done > last ? r.t.reqs[i].t_done : last;
    }
    assert_true(last - first >= 375000);
    run_free(&r);
    tproc_stop(&mock, SIGTERM, 2000);
}

static void on_stop(struct ev_loop *loop, ev_timer *w, int revents)
{
    harness_traffic_stop(w->data);
    ev_break(loop, EVBREAK_ALL);
}

/* Stopped while two workers send (the runner's scenario timeout): the
 * requests in flight are aborted and logged as such, the threads joined,
 * nothing left running (the SAN build sees leaks and races on teardown). */
static void test_stop_while_threads_send(void **state)
{
    struct tproc mock;
    assert_int_equal(tmock_start(&mock, "blue", NULL), 0);
    assert_int_equal(tmock_put_behavior(mock.url, "{\"latency\":{\"fixed_ms\":3000}}"), 0);
    const char doc[] = "{\"name\":\"stop\",\"traffic\":{\"rate_rps\":100,\"duration_ms\":2000,"
                       "\"timeout_ms\":5000,\"threads\":2},"
                       "\"expect\":[{\"check\":\"client_success_ratio\",\"min\":1.0}]}";
    char err[512];
    json_t *j = co_json_loadb(doc, strlen(doc), "stop", err, sizeof err);
    assert_non_null(j);
    struct harness_scenario *s = harness_scenario_from_json(j, "stop", 1.0, err, sizeof err);
    assert_non_null(s);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct co_evcurl curl;
    assert_int_equal(co_evcurl_init(&curl, loop, harness_xfer_dispatch, 0, 0), 0);
    struct harness_traffic t;
    harness_traffic_init(&t, loop, &curl, s, mock.url, "s", 7);
    t.on_finished = on_finished;
    ev_timer stop;
    ev_timer_init(&stop, on_stop, 0.5, 0);
    stop.data = &t;
    ev_timer_start(loop, &stop);
    uint64_t t0 = co_clock_monotonic_us() + 20000;
    harness_traffic_start(&t, t0);
    ev_run(loop, 0);
    assert_true(t.finished);
    /* About 48 sent in the 480 ms before the stop (a strict lower bound of
     * a third of that), none answered (3 s each), every one aborted. */
    assert_true(t.n_reqs >= 16);
    assert_true(t.n_reqs <= 200);
    for (size_t i = 0; i < t.n_reqs; i++) {
        assert_int_equal(t.reqs[i].status, 0);
        assert_int_equal(t.reqs[i].outcome, HARNESS_TRANSPORT);
        assert_string_equal(t.reqs[i].curl_err, "aborted by the runner");
    }
    harness_traffic_free(&t);
    co_evcurl_cleanup(&curl);
    ev_loop_destroy(loop);
    harness_scenario_free(&s);
    json_decref(j);
    tproc_stop(&mock, SIGTERM, 2000);
}

/* The scenario's driver account and status from `cutover run`. */
static json_t *run_cli(const char *dir, const char *name, const char *body, json_t **doc)
{
    char file[256], out[256], path[300];
    snprintf(file, sizeof file, "%s/%s.json", dir, name);
    snprintf(out, sizeof out, "%s/out-%s", dir, name);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs(body, f);
    fclose(f);
    char *argv[] = {
        (char *)tsup_bin("cutover"), "run", file, "--out", out, "--no-color", "--jobs", "1", NULL};
    struct tproc p;
    assert_int_equal(tproc_spawn(&p, argv), 0);
    int st = tproc_wait_exit(&p, 60000);
    char *o = tproc_read(&p, 1);
    tproc_stop(&p, SIGKILL, 1000);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("cutover run %s: status %d\n%s", name, st, o ? o : "");
    free(o);
    snprintf(path, sizeof path, "%s/results.json", out);
    json_error_t je;
    *doc = json_load_file(path, 0, &je);
    if (!*doc)
        fail_msg("%s: %s", path, je.text);
    return json_array_get(json_object_get(*doc, "scenarios"), 0);
}

/* Keys that say how a run went on a busy machine, not what it is: a run
 * the runner found disturbed is run again and says so ("rerun"). */
static int circumstance(const char *k)
{
    return strcmp(k, "rerun") == 0;
}

/* a and b have the same keys, recursively (objects), and values of the
 * same JSON type (arrays: their first elements compared), but for the
 * circumstance() keys. */
static void assert_same_shape(const json_t *a, const json_t *b, const char *path)
{
    if (json_typeof(a) != json_typeof(b) && !(json_is_number(a) && json_is_number(b)) &&
        !(json_is_boolean(a) && json_is_boolean(b)))
        fail_msg("%s: type %d vs %d", path, json_typeof(a), json_typeof(b));
    char p[256];
    if (json_is_object(a)) {
        const char *k;
        json_t *v;
        size_t na = 0, nb = 0;
        json_object_foreach((json_t *)a, k, v)
        {
            if (circumstance(k))
                continue;
            na++;
            snprintf(p, sizeof p, "%s.%s", path, k);
            if (!json_object_get(b, k))
                fail_msg("%s: in one run only", p);
            assert_same_shape(v, json_object_get(b, k), p);
        }
        json_object_foreach((json_t *)b, k, v) nb += !circumstance(k);
        assert_int_equal(na, nb);
    } else if (json_is_array(a) && json_array_size(a) && json_array_size(b)) {
        snprintf(p, sizeof p, "%s[0]", path);
        assert_same_shape(json_array_get(a, 0), json_array_get(b, 0), p);
    }
}

/* Through the runner: a phase with threads 2, followed by a phase that
 * starts after it, passes with the same results shape and driver account
 * as with one thread. */
static void test_runner_results_shape(void **state)
{
    char dir[] = "/tmp/cutover-threads-XXXXXX";
    assert_non_null(mkdtemp(dir));
    static const char fmt[] =
        "{\"name\": \"threads-%d\",\n"
        " \"traffic\": [{\"rate_rps\": 400, \"duration_ms\": 500, \"threads\": %d},\n"
        "             {\"start\": {\"after\": \"previous\"}, \"concurrency\": 4, \"count\": 40,"
        " \"threads\": %d}],\n"
        " \"expect\": [{\"check\": \"client_success_ratio\", \"min\": 1.0},\n"
        "            {\"check\": \"client_count\", \"min\": 240, \"max\": 240}]}\n";
    char body[1024];
    json_t *doc1, *doc2;
    snprintf(body, sizeof body, fmt, 1, 1, 1);
    json_t *s1 = run_cli(dir, "one", body, &doc1);
    snprintf(body, sizeof body, fmt, 2, 2, 2);
    json_t *s2 = run_cli(dir, "two", body, &doc2);
    assert_string_equal(json_string_value(json_object_get(s2, "status")), "pass");
    assert_same_shape(s1, s2, "$");
    json_t *d1 = json_object_get(s1, "driver"), *d2 = json_object_get(s2, "driver");
    assert_non_null(d2);
    assert_false(json_is_true(json_object_get(d2, "behind")));
    assert_int_equal(json_integer_value(json_object_get(d2, "scheduled")),
                     json_integer_value(json_object_get(d1, "scheduled")));
    assert_int_equal(json_integer_value(json_object_get(d2, "sent")),
                     json_integer_value(json_object_get(d1, "sent")));
    json_decref(doc1);
    json_decref(doc2);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_loop_two_threads),
        cmocka_unit_test(test_closed_loop_two_threads),
        cmocka_unit_test(test_stop_while_threads_send),
        cmocka_unit_test(test_runner_results_shape),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
