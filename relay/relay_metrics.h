/* The relay's counters and their two views: GET /api/metrics (the seed's JSON
 * per colour: healthy, avg_latency_ms, total_requests, error_count,
 * success_rate) and GET /metrics (Prometheus text exposition: the seed's
 * holysheep_* names plus switches, retries, rate limits, tokens and cost).
 * Per colour figures count upstream attempts, so a request that failed on
 * blue and succeeded on green counts one error for blue and one success for
 * green.  Label values (models come from clients) are escaped as the text
 * format wants, made valid UTF-8 (control bytes and bytes that are not
 * UTF-8 become "?"), cut at 64 bytes without splitting a character, and
 * each family holds at most RELAY_METRICS_MAX_SERIES series: no request can
 * make a scrape invalid. */
#ifndef RELAY_METRICS_H
#define RELAY_METRICS_H

#include "co_buf.h"
#include "relay_policy.h"
#include "relay_switch.h"

#include <jansson.h>
#include <stdint.h>

#define RELAY_METRICS_MAX_SERIES 1000

struct relay_metrics;

struct relay_metrics *relay_metrics_new(void);
void relay_metrics_free(struct relay_metrics **m);

/* One upstream attempt on env. */
void relay_metrics_attempt(struct relay_metrics *m, enum relay_env env, int ok,
                           uint64_t latency_us);
/* One client request answered (env is the colour that served, RELAY_NENV
 * when none did). */
void relay_metrics_request(struct relay_metrics *m, enum relay_env env, const char *model,
                           int status, uint64_t latency_us);
void relay_metrics_switch(struct relay_metrics *m, enum relay_env from, enum relay_env to,
                          const char *reason);
void relay_metrics_retry(struct relay_metrics *m, enum relay_env env, const char *reason);
void relay_metrics_rate_limited(struct relay_metrics *m);
void relay_metrics_stream_error(struct relay_metrics *m, enum relay_env env, const char *reason);
/* Token usage of one answer; usd_per_million < 0 when the model has no price. */
void relay_metrics_tokens(struct relay_metrics *m, const char *model, uint64_t prompt,
                          uint64_t completion, double usd_per_million);

/* Counters the relay keeps elsewhere, copied in before each view: rate
 * limit keys evicted, event log writes that failed, connections cut by the
 * request read deadline, answers refused by the buffer budget. */
void relay_metrics_set_counters(struct relay_metrics *m, uint64_t rl_evictions,
                                uint64_t event_write_errors, uint64_t read_timeouts,
                                uint64_t budget_refusals);
/* What a policy did (relay_policy.h), counted per colour it concerned:
 * "done_added" (a stream closed after its finish_reason without [DONE],
 * completed by the relay), "quota_failover" (a 429 without Retry-After
 * sent to the other colour), "first_byte_timeout" (an attempt abandoned
 * for want of a body byte), "failback" (back to the primary; env is the
 * primary). */
enum relay_policy_action {
    RELAY_PA_DONE_ADDED,
    RELAY_PA_QUOTA_FAILOVER,
    RELAY_PA_FIRST_BYTE_TIMEOUT,
    RELAY_PA_FAILBACK,
    RELAY_PA_N
};
void relay_metrics_policy(struct relay_metrics *m, enum relay_policy_action a, enum relay_env env);
/* The "policies" object of /api/metrics: the settings in force and the
 * counts of what each did (new reference). */
json_t *relay_metrics_policies_json(const struct relay_metrics *m, const struct relay_policy *p,
                                    const struct relay_switch *sw);

/* The /api/metrics object (new reference).  with_direct adds "direct". */
json_t *relay_metrics_json(const struct relay_metrics *m, const struct relay_switch *sw,
                           int with_direct);
/* Appends the Prometheus text of everything to out. */
void relay_metrics_prometheus(const struct relay_metrics *m, const struct relay_switch *sw,
                              struct co_buf *out);

#endif
