/* How faithfully the runner's open-loop traffic generator (harness/traffic.c)
 * keeps a schedule: it sends RATE requests/s for DURATION_MS to URL (a mock,
 * directly: no relay in between, so what is measured is the generator) and
 * reports the achieved rate and the send-time error (actual send minus
 * scheduled send) percentiles, as wrk2 would have them: a generator that
 * falls behind must show it here rather than silently sending slower.
 *
 * RATE "cN" drives a closed loop instead: N requests in flight for
 * DURATION_MS, as fast as the driver and the server go (its maximum rate,
 * compared with wrk's by bench/driver.sh).  "cN/COUNT" stops after COUNT
 * requests instead (a fixed amount of work: instructions per request under
 * callgrind compare across builds).
 *
 * THREADS (default 1) sends with that many driver threads, each with its
 * own loop, curl multi handle and share of the schedule (the phase's
 * "threads", harness/traffic.h).
 *
 * Usage: traffic_accuracy URL RATE|cN[/COUNT] DURATION_MS [uniform|poisson] [THREADS]
 * Prints one JSON line.  Built and run by bench/run-all.sh and
 * bench/driver.sh. */
#include "co_evcurl.h"
#include "co_clock.h"
#include "co_json.h"
#include "harness/driver.h"
#include "harness/obs.h"
#include "harness/scenario.h"
#include "harness/traffic.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static void on_finished(struct harness_traffic *t)
{
    ev_break(t->loop, EVBREAK_ALL);
}

/* This process's CPU time (user + system), µs: the driver's cost per
 * request is the figure a shared machine's load disturbs least. */
static double cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const uint64_t *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return (double)v[i];
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: traffic_accuracy URL RATE|cN[/COUNT] DURATION_MS [uniform|poisson] "
                        "[THREADS]\n");
        return 2;
    }
    const char *url = argv[1];
    int closed = argv[2][0] == 'c' ? atoi(argv[2] + 1) : 0;
    double rate = closed ? 0 : atof(argv[2]);
    long dur = atol(argv[3]);
    const char *arrival = argc > 4 ? argv[4] : "uniform";
    int threads = argc > 5 ? atoi(argv[5]) : 1;
    char doc[512], err[512];
    const char *slash = strchr(argv[2], '/');
    long count = closed && slash ? atol(slash + 1) : 0;
    if (closed)
        snprintf(doc, sizeof doc,
                 "{\"name\":\"driver-max\",\"traffic\":{\"concurrency\":%d,\"%s\":%ld,"
                 "\"timeout_ms\":5000,\"threads\":%d},"
                 "\"expect\":[{\"check\":\"client_success_ratio\",\"min\":0.5}]}",
                 closed, count ? "count" : "duration_ms", count ? count : dur, threads);
    else
        snprintf(doc, sizeof doc,
                 "{\"name\":\"traffic-accuracy\",\"traffic\":{\"rate_rps\":100,\"duration_ms\":%ld,"
                 "\"arrival\":\"%s\",\"timeout_ms\":5000,\"threads\":%d},"
                 "\"expect\":[{\"check\":\"client_success_ratio\",\"min\":0.5}]}",
                 dur, arrival, threads);
    json_t *j = co_json_loadb(doc, strlen(doc), "accuracy", err, sizeof err);
    struct harness_scenario *s =
        j ? harness_scenario_from_json(j, "accuracy", 1.0, err, sizeof err) : NULL;
    if (!s) {
        fprintf(stderr, "traffic_accuracy: %s\n", err);
        return 2;
    }
    /* Past the scenario format's own cap (5000 rps): this measures the
     * generator, not a scenario. */
    if (!closed)
        s->phases[0].rate_rps = rate;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct co_evcurl curl;
    /* As the runner does (harness/runner.c): no cap on connections.
     * ACC_MAX_HOST_CONNS caps them, to compare with a fixed pool as wrk2
     * keeps. */
    const char *cap = getenv("ACC_MAX_HOST_CONNS");
    co_evcurl_init(&curl, loop, harness_xfer_dispatch, cap ? atol(cap) : 0, 0);
    struct harness_traffic t;
    harness_traffic_init(&t, loop, &curl, s, url, "acc", 7);
    /* ACC_POOL_CAP: a smaller connection pool than the runner's. */
    const char *pc = getenv("ACC_POOL_CAP");
    if (pc && atoi(pc) > 0) {
        t.pool_cap = atoi(pc);
        curl_multi_setopt(curl.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)t.pool_cap + 16);
        curl_multi_setopt(curl.multi, CURLMOPT_MAXCONNECTS, (long)t.pool_cap + 16);
    }
    /* Room for the whole run (a closed loop up to 100,000 req/s, two threads
     * reach 60,000 against the mock): a scenario's cap is 20,000 requests. */
    harness_traffic_set_cap(&t, (size_t)((closed ? 100000.0 : rate) * (double)dur / 1000.0) + 1000);
    t.on_finished = on_finished;
    uint64_t t0 = co_clock_monotonic_us() + 200000;
    harness_traffic_start(&t, t0);
    ev_run(loop, 0);
    size_t n = t.n_reqs, ok = 0, errors = 0;
    const char *first_err = "";
    uint64_t *err_us = calloc(n ? n : 1, sizeof *err_us),
             *lat_us = calloc(n ? n : 1, sizeof *lat_us);
    uint64_t first = UINT64_MAX, last = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const struct harness_req *r = &t.reqs[i];
        if (!r->t_sent)
            continue;
        err_us[m] = r->t_sent > r->t_sched ? r->t_sent - r->t_sched : 0;
        lat_us[m] = r->t_done > r->t_sched ? r->t_done - r->t_sched : 0;
        m++;
        ok += r->status == 200;
        if (r->curl_rc) {
            if (!errors++)
                first_err = r->curl_err;
        }
        first = r->t_sent < first ? r->t_sent : first;
        last = r->t_sent > last ? r->t_sent : last;
    }
    qsort(err_us, m, sizeof *err_us, cmp_u64);
    qsort(lat_us, m, sizeof *lat_us, cmp_u64);
    double span = last > first ? (double)(last - first) / 1e6 : 1;
    double achieved = m > 1 ? (double)(m - 1) / span : 0;
    /* The runner's own account (harness/driver.c), as results.json has it. */
    struct report_driver drv;
    harness_driver_measure(&t, &drv);
    if (closed) /* the rate reached: requests over the time they took */
        rate = 0;
    printf("{\"closed\":%d,\"threads\":%d,\"target_rps\":%.0f,\"arrival\":\"%s\",\"scheduled\":%zu,"
           "\"sent\":%zu,"
           "\"ok\":%zu,"
           "\"achieved_rps\":%.1f,\"send_err_p50_us\":%.0f,\"send_err_p99_us\":%.0f,"
           "\"send_err_max_us\":%.0f,\"latency_p50_us\":%.0f,\"latency_p99_us\":%.0f,"
           "\"transport_errors\":%zu,\"first_error\":\"%s\",\"connects\":%ld,"
           "\"peak_inflight\":%d,\"pool_cap\":%d,\"pool_waits\":%ld,\"cpu_us_per_req\":%.1f,"
           "\"driver_achieved_rps\":%.1f,\"driver_lag_p99_ms\":%.2f,\"driver_behind\":%d,"
           "\"cpu_send_us_per_req\":%.1f}\n",
           closed, threads, rate, arrival, n, m, ok, achieved, pct(err_us, m, 0.5),
           pct(err_us, m, 0.99), m ? (double)err_us[m - 1] : 0, pct(lat_us, m, 0.5),
           pct(lat_us, m, 0.99), errors, first_err, t.connects, t.peak_active, t.pool_cap,
           t.pool_waits, m ? cpu_us() / (double)m : 0, drv.achieved_rps, drv.lag_p99_ms, drv.behind,
           m ? (double)t.cpu_traffic_us / (double)m : 0);
    free(err_us);
    free(lat_us);
    harness_traffic_free(&t);
    co_evcurl_cleanup(&curl);
    ev_loop_destroy(loop);
    harness_scenario_free(&s);
    json_decref(j);
    return 0;
}
