/* The load driver's figures and the rule that says when it, not the relay,
 * fell behind.  See driver.h. */
#include "harness/driver.h"

#include "co_mem.h"
#include "harness/vutil.h"

#include <stdlib.h>
#include <string.h>

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(const uint64_t *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return (double)v[i] / 1000.0;
}

void harness_driver_stats(const struct harness_scenario *s, const struct harness_req *reqs,
                          size_t n, struct report_driver *d)
{
    /* The open loop's last send and the closed loop's span apart: a closed
     * phase after an open one must not stretch the open one's rate. */
    uint64_t first = UINT64_MAX, last_sched = 0, last_sent = 0, first_sent = UINT64_MAX;
    uint64_t closed_last = 0;
    uint64_t *lag = co_calloc(n ? n : 1, sizeof *lag);
    size_t m = 0;
    long open = 0, sent = 0, closed = 0;
    for (size_t i = 0; i < n; i++) {
        const struct harness_req *r = &reqs[i];
        if (r->phase < 0 || r->phase >= s->n_phases)
            continue;
        if (s->phases[r->phase].concurrency > 0) {
            closed++;
            if (r->t_sent) {
                first_sent = r->t_sent < first_sent ? r->t_sent : first_sent;
                closed_last = r->t_sent > closed_last ? r->t_sent : closed_last;
            }
            continue;
        }
        open++;
        first = r->t_sched < first ? r->t_sched : first;
        last_sched = r->t_sched > last_sched ? r->t_sched : last_sched;
        if (!r->t_sent)
            continue; /* never left the driver's queue */
        sent++;
        last_sent = r->t_sent > last_sent ? r->t_sent : last_sent;
        lag[m++] = r->t_sent > r->t_sched ? r->t_sent - r->t_sched : 0;
    }
    d->present = open + closed > 0;
    d->scheduled = open;
    d->sent = sent;
    if (open) {
        if (open > 1 && last_sched > first)
            d->sched_rps = (double)(open - 1) / ((double)(last_sched - first) / 1e6);
        if (sent > 1 && last_sent > first)
            d->achieved_rps = (double)(sent - 1) / ((double)(last_sent - first) / 1e6);
        else
            d->achieved_rps = d->sched_rps;
        if (last_sent > last_sched)
            d->late_end_ms = (double)(last_sent - last_sched) / 1000.0;
    } else if (closed > 1 && closed_last > first_sent) {
        /* Closed loop: no schedule to keep, the rate is what it reached. */
        d->sent = closed;
        d->achieved_rps = (double)(closed - 1) / ((double)(closed_last - first_sent) / 1e6);
    }
    qsort(lag, m, sizeof *lag, cmp_u64);
    d->lag_p50_ms = pct_ms(lag, m, 0.5);
    d->lag_p99_ms = pct_ms(lag, m, 0.99);
    d->lag_max_ms = m ? (double)lag[m - 1] / 1000.0 : 0;
    free(lag);
}

void harness_driver_measure(const struct harness_traffic *t, struct report_driver *d)
{
    memset(d, 0, sizeof *d);
    harness_driver_stats(t->s, t->reqs, t->n_reqs, d);
    d->pool_waits = t->pool_waits;
    d->pool_wait_max_ms = (double)t->pool_wait_max_us / 1000.0;
    d->pool_cap = t->pool_cap;
    d->peak_inflight = t->peak_active;
    d->connects = t->connects;
    harness_driver_judge(d);
}

void harness_driver_judge(struct report_driver *d)
{
    char why[sizeof d->reason] = "";
    d->behind = 0;
    d->reason[0] = '\0';
    if (!d->present)
        return;
    if (d->pool_waits > 0 || d->sent < d->scheduled)
        harness_v_fmt(why + strlen(why), sizeof why - strlen(why),
                      "%s%ld request(s) found all %d connections busy and waited up to %.1f ms "
                      "(the driver's pool was saturated)",
                      why[0] ? "; " : "", d->pool_waits, d->pool_cap, d->pool_wait_max_ms);
    /* The rate is judged only when the shortfall is also long in absolute
     * terms: three requests at 5 req/s, the last one 25 ms late, are
     * "94%" and no sign of a driver behind. */
    if (d->sched_rps > 0 && d->achieved_rps < HARNESS_DRIVER_MIN_RATIO * d->sched_rps &&
        d->late_end_ms > HARNESS_DRIVER_MAX_LAG_MS)
        harness_v_fmt(why + strlen(why), sizeof why - strlen(why),
                      "%ssent %.0f of %.0f req/s scheduled (%.1f%%, below %.0f%%)",
                      why[0] ? "; " : "", d->achieved_rps, d->sched_rps,
                      100.0 * d->achieved_rps / d->sched_rps, 100.0 * HARNESS_DRIVER_MIN_RATIO);
    if (d->lag_p99_ms > HARNESS_DRIVER_MAX_LAG_MS)
        harness_v_fmt(why + strlen(why), sizeof why - strlen(why),
                      "%ssend lag p99 %.1f ms (above %d ms)", why[0] ? "; " : "", d->lag_p99_ms,
                      HARNESS_DRIVER_MAX_LAG_MS);
    if (!why[0])
        return;
    d->behind = 1;
    harness_v_fmt(d->reason, sizeof d->reason, "the driver, not the relay, fell behind: %s", why);
}

void harness_driver_apply(struct report_scenario *rs)
{
    if (rs->driver.behind && (rs->status == REPORT_PASS || rs->status == REPORT_FAIL))
        rs->status = REPORT_INCONCLUSIVE;
}
