/* The load driver's account of itself: did it keep the schedule it was
 * given?  An open-loop verdict is only a verdict on the relay when the
 * driver sent on time; when it did not (a starved CPU, a full connection
 * pool), the latency measured from the scheduled time holds the driver's own
 * delay, and the run says so instead of blaming the relay.
 *
 * harness_driver_measure reads the traffic's log and pool counters
 * (I/O-free); harness_driver_judge is the pure rule; harness_driver_apply
 * marks a scenario inconclusive when the driver fell behind. */
#ifndef HARNESS_DRIVER_H
#define HARNESS_DRIVER_H

#include "harness/obs.h"
#include "harness/scenario.h"
#include "harness/traffic.h"
#include "reports/results.h"

/* The rule's bounds (docs/scenarios.md "The load driver"). */
#define HARNESS_DRIVER_MIN_RATIO  0.95 /* of the scheduled rate */
#define HARNESS_DRIVER_MAX_LAG_MS 50   /* send lag p99, as harness_on_time's default */

/* Figures of the requests in reqs[0..n) of scenario s, plus the pool's
 * counters (pool_* and connects, from struct harness_traffic); d->behind is
 * left to harness_driver_judge. */
void harness_driver_stats(const struct harness_scenario *s, const struct harness_req *reqs,
                          size_t n, struct report_driver *d);
/* The same from a traffic run (call before its log is taken), judged. */
void harness_driver_measure(const struct harness_traffic *t, struct report_driver *d);
/* Sets d->behind and d->reason from the figures. */
void harness_driver_judge(struct report_driver *d);
/* A scenario whose driver fell behind is inconclusive (a pass or a failure
 * alike: neither was measured under the load it asked for). */
void harness_driver_apply(struct report_scenario *rs);

#endif
