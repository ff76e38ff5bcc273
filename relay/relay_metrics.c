#include "relay_metrics.h"

#include "co_clock.h"
#include "co_json.h"
#include "co_mem.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double buckets_s[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define NBUCKETS (sizeof buckets_s / sizeof buckets_s[0])

struct series {
    char *labels; /* rendered: environment="blue",model="gpt-4.1" */
    double value;
    uint64_t count;            /* histograms */
    uint64_t bucket[NBUCKETS]; /* histograms: per bucket, not cumulative */
};

struct family {
    const char *name, *help, *type;
    struct series *s;
    size_t n, cap;
};

enum fam {
    F_REQUESTS,
    F_LATENCY,
    F_SWITCHES,
    F_RETRIES,
    F_TOKENS,
    F_COST,
    F_STREAM_ERRORS,
    F_POLICY,
    F_N,
};

static const struct {
    const char *name, *help, *type;
} fam_def[F_N] = {
    {"holysheep_requests_total",
     "Client requests answered, by colour that served, model and status", "counter"},
    {"holysheep_request_latency_seconds", "Client request latency, by colour and model",
     "histogram"},
    {"holysheep_switches_total", "Active colour switches, by from, to and reason", "counter"},
    {"holysheep_retries_total", "Upstream attempts retried, by colour and reason", "counter"},
    {"holysheep_tokens_total", "Tokens reported by upstreams, by model and kind", "counter"},
    {"holysheep_cost_usd_total", "Cost of the tokens at the configured prices, by model",
     "counter"},
    {"holysheep_stream_errors_total", "Streams ended with an in-band error, by colour and reason",
     "counter"},
    {"holysheep_policy_actions_total",
     "What the relay's policies did (done_added, quota_failover, first_byte_timeout, failback), "
     "by colour",
     "counter"},
};

static const char *const policy_action_names[RELAY_PA_N] = {"done_added", "quota_failover",
                                                            "first_byte_timeout", "failback"};

struct env_stats {
    uint64_t attempts, errors, latency_us_sum;
};

struct relay_metrics {
    struct family f[F_N];
    struct env_stats env[RELAY_NENV];
    uint64_t rate_limited;
    uint64_t rl_evictions, event_write_errors, read_timeouts, budget_refusals;
    uint64_t policy[RELAY_PA_N];
};

void relay_metrics_set_counters(struct relay_metrics *m, uint64_t rl_evictions,
                                uint64_t event_write_errors, uint64_t read_timeouts,
                                uint64_t budget_refusals)
{
    m->rl_evictions = rl_evictions;
    m->event_write_errors = event_write_errors;
    m->read_timeouts = read_timeouts;
    m->budget_refusals = budget_refusals;
}

struct relay_metrics *relay_metrics_new(void)
{
    struct relay_metrics *m = co_calloc(1, sizeof *m);
    for (int i = 0; i < F_N; i++) {
        m->f[i].name = fam_def[i].name;
        m->f[i].help = fam_def[i].help;
        m->f[i].type = fam_def[i].type;
    }
    return m;
}

void relay_metrics_free(struct relay_metrics **pm)
{
    struct relay_metrics *m = *pm;
    if (!m)
        return;
    for (int i = 0; i < F_N; i++) {
        for (size_t j = 0; j < m->f[i].n; j++)
            free(m->f[i].s[j].labels);
        free(m->f[i].s);
    }
    free(m);
    *pm = NULL;
}

/* Appends name="value" with the exposition format's escapes, the value cut
 * at 64 bytes (it may come from a client). */
static void label(char *out, size_t n, size_t *used, const char *name, const char *value)
{
    /* Plain copies, no snprintf: this runs three to five times a request. */
    size_t ln = strlen(name);
    if (*used + ln + 3 >= n)
        return;
    if (*used)
        out[(*used)++] = ',';
    memcpy(out + *used, name, ln);
    *used += ln;
    out[(*used)++] = '=';
    out[(*used)++] = '"';
    out[*used] = 0;
    /* k counts the value's bytes: 64 at most, whole characters only. */
    const unsigned char *p = (const unsigned char *)(value ? value : "");
    size_t len = strlen((const char *)p), k = 0;
    while (k < len) {
        size_t sl = co_utf8_seq(p + k, len - k);
        if (k + (sl ? sl : 1) > 64 || *used + (sl > 1 ? sl : 2) + 2 >= n)
            break;
        unsigned char c = p[k];
        if (sl > 1) {
            memcpy(out + *used, p + k, sl);
            *used += sl;
            k += sl;
            continue;
        }
        if (c == '\\' || c == '"') {
            out[(*used)++] = '\\';
            out[(*used)++] = (char)c;
        } else if (c == '\n') {
            out[(*used)++] = '\\';
            out[(*used)++] = 'n';
        } else {
            out[(*used)++] = sl == 0 || c < 0x20 || c == 0x7f ? '?' : (char)c;
        }
        k++;
    }
    if (*used + 2 < n) {
        out[(*used)++] = '"';
        out[*used] = 0;
    }
}

static struct series *get(struct family *f, const char *labels)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->s[i].labels, labels) == 0)
            return &f->s[i];
    if (f->n >= RELAY_METRICS_MAX_SERIES) {
        /* Too many distinct label sets (clients inventing models): fold the
         * rest into one series rather than grow without bound. */
        const char *ov = "overflow=\"true\"";
        for (size_t i = 0; i < f->n; i++)
            if (strcmp(f->s[i].labels, ov) == 0)
                return &f->s[i];
        labels = ov;
        if (f->n >= RELAY_METRICS_MAX_SERIES + 1)
            return &f->s[f->n - 1];
    }
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 16;
        f->s = co_realloc(f->s, f->cap * sizeof *f->s);
    }
    struct series *s = &f->s[f->n++];
    memset(s, 0, sizeof *s);
    s->labels = co_strdup(labels);
    return s;
}

static const char *env_label(enum relay_env e)
{
    return e < RELAY_NENV ? relay_env_name(e) : "none";
}

void relay_metrics_attempt(struct relay_metrics *m, enum relay_env env, int ok, uint64_t latency_us)
{
    if (env >= RELAY_NENV)
        return;
    m->env[env].attempts++;
    m->env[env].latency_us_sum += latency_us;
    if (!ok)
        m->env[env].errors++;
}

void relay_metrics_request(struct relay_metrics *m, enum relay_env env, const char *model,
                           int status, uint64_t latency_us)
{
    char l[256], st[16];
    size_t u = 0;
    snprintf(st, sizeof st, "%d", status);
    label(l, sizeof l, &u, "environment", env_label(env));
    label(l, sizeof l, &u, "model", model && *model ? model : "unknown");
    size_t base = u;
    label(l, sizeof l, &u, "status", st);
    get(&m->f[F_REQUESTS], l)->value += 1;
    l[base] = 0;
    struct series *h = get(&m->f[F_LATENCY], l);
    double s = (double)latency_us / 1e6;
    h->value += s;
    h->count++;
    for (size_t i = 0; i < NBUCKETS; i++)
        if (s <= buckets_s[i]) {
            h->bucket[i]++;
            break;
        }
}

void relay_metrics_switch(struct relay_metrics *m, enum relay_env from, enum relay_env to,
                          const char *reason)
{
    char l[256];
    size_t u = 0;
    label(l, sizeof l, &u, "from", env_label(from));
    label(l, sizeof l, &u, "to", env_label(to));
    label(l, sizeof l, &u, "reason", reason);
    get(&m->f[F_SWITCHES], l)->value += 1;
}

/* One more in a counter labelled by colour and reason. */
static void count_env_reason(struct family *f, enum relay_env env, const char *reason)
{
    char l[256];
    size_t u = 0;
    label(l, sizeof l, &u, "environment", env_label(env));
    label(l, sizeof l, &u, "reason", reason);
    get(f, l)->value += 1;
}

void relay_metrics_retry(struct relay_metrics *m, enum relay_env env, const char *reason)
{
    count_env_reason(&m->f[F_RETRIES], env, reason);
}

void relay_metrics_stream_error(struct relay_metrics *m, enum relay_env env, const char *reason)
{
    count_env_reason(&m->f[F_STREAM_ERRORS], env, reason);
}

void relay_metrics_policy(struct relay_metrics *m, enum relay_policy_action a, enum relay_env env)
{
    if ((unsigned)a >= RELAY_PA_N)
        return;
    m->policy[a]++;
    char l[256];
    size_t u = 0;
    label(l, sizeof l, &u, "environment", env_label(env));
    label(l, sizeof l, &u, "action", policy_action_names[a]);
    get(&m->f[F_POLICY], l)->value += 1;
}

json_t *relay_metrics_policies_json(const struct relay_metrics *m, const struct relay_policy *p,
                                    const struct relay_switch *sw)
{
    json_t *counts = json_object();
    for (int a = 0; a < RELAY_PA_N; a++)
        json_object_set_new(counts, policy_action_names[a], json_integer((json_int_t)m->policy[a]));
    json_t *j =
        json_pack("{s:s, s:s, s:I, s:s, s:o}", "mode", relay_mode_name(sw->cfg.mode), "stream_done",
                  relay_stream_done_name(p->stream_done), "first_byte_timeout_ms",
                  (json_int_t)(p->first_byte_us / 1000), "on_429_without_retry_after",
                  relay_on429_name(p->on429), "counts", counts);
    if (sw->cfg.mode == RELAY_MODE_PRIMARY_FALLBACK) {
        json_object_set_new(j, "primary", json_string(relay_env_name(sw->cfg.primary)));
        json_object_set_new(j, "failback_after_ms",
                            json_integer((json_int_t)(sw->cfg.failback_after_us / 1000)));
        json_object_set_new(j, "failback_rise", json_integer((json_int_t)sw->cfg.failback_rise));
    }
    return j;
}

void relay_metrics_rate_limited(struct relay_metrics *m)
{
    m->rate_limited++;
}

void relay_metrics_tokens(struct relay_metrics *m, const char *model, uint64_t prompt,
                          uint64_t completion, double usd_per_million)
{
    char l[256];
    size_t u = 0;
    label(l, sizeof l, &u, "model", model && *model ? model : "unknown");
    size_t base = u;
    label(l, sizeof l, &u, "kind", "prompt");
    get(&m->f[F_TOKENS], l)->value += (double)prompt;
    l[base] = 0;
    u = base;
    label(l, sizeof l, &u, "kind", "completion");
    get(&m->f[F_TOKENS], l)->value += (double)completion;
    if (usd_per_million >= 0) {
        l[base] = 0;
        get(&m->f[F_COST], l)->value += (double)(prompt + completion) * usd_per_million / 1e6;
    }
}

json_t *relay_metrics_json(const struct relay_metrics *m, const struct relay_switch *sw,
                           int with_direct)
{
    char when[CO_RFC3339_LEN];
    json_t *envs = json_object();
    for (int e = 0; e < (with_direct ? RELAY_NENV : RELAY_DIRECT); e++) {
        const struct env_stats *s = &m->env[e];
        /* Never negative, never above 100: the seed's rate could be both. */
        double rate =
            s->attempts ? 100.0 * (double)(s->attempts - s->errors) / (double)s->attempts : 100.0;
        double avg = s->attempts ? (double)s->latency_us_sum / (double)s->attempts / 1000.0 : 0;
        avg = round(avg * 1000) / 1000;
        rate = round(rate * 100) / 100;
        json_object_set_new(envs, relay_env_name(e),
                            json_pack("{s:b, s:f, s:I, s:I, s:f}", "healthy",
                                      relay_switch_healthy(sw, e), "avg_latency_ms", avg,
                                      "total_requests", (json_int_t)s->attempts, "error_count",
                                      (json_int_t)s->errors, "success_rate", rate));
    }
    return json_pack(
        "{s:o, s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "environments", envs, "active_environment",
        relay_env_name(sw->active), "timestamp", co_wall_rfc3339(when, sizeof when), "rate_limited",
        (json_int_t)m->rate_limited, "rate_limit_evictions", (json_int_t)m->rl_evictions,
        "event_write_errors", (json_int_t)m->event_write_errors, "request_read_timeouts",
        (json_int_t)m->read_timeouts, "buffer_budget_refusals", (json_int_t)m->budget_refusals);
}

static void header(struct co_buf *out, const struct family *f)
{
    co_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
}

void relay_metrics_prometheus(const struct relay_metrics *m, const struct relay_switch *sw,
                              struct co_buf *out)
{
    for (int i = 0; i < F_N; i++) {
        const struct family *f = &m->f[i];
        header(out, f);
        for (size_t j = 0; j < f->n; j++) {
            const struct series *s = &f->s[j];
            if (i != F_LATENCY) {
                co_buf_printf(out, "%s{%s} %.17g\n", f->name, s->labels, s->value);
                continue;
            }
            uint64_t cum = 0;
            for (size_t b = 0; b < NBUCKETS; b++) {
                cum += s->bucket[b];
                co_buf_printf(out, "%s_bucket{%s,le=\"%g\"} %llu\n", f->name, s->labels,
                              buckets_s[b], (unsigned long long)cum);
            }
            co_buf_printf(out, "%s_bucket{%s,le=\"+Inf\"} %llu\n", f->name, s->labels,
                          (unsigned long long)s->count);
            co_buf_printf(out, "%s_sum{%s} %.9g\n", f->name, s->labels, s->value);
            co_buf_printf(out, "%s_count{%s} %llu\n", f->name, s->labels,
                          (unsigned long long)s->count);
        }
    }
    co_buf_printf(out, "# HELP holysheep_environment_healthy Colour health from the health checks "
                       "(1 healthy, 0 not)\n# TYPE holysheep_environment_healthy gauge\n");
    for (int e = 0; e < RELAY_DIRECT; e++)
        co_buf_printf(out, "holysheep_environment_healthy{environment=\"%s\"} %d\n",
                      relay_env_name(e), relay_switch_healthy(sw, e));
    co_buf_printf(out, "# HELP holysheep_active_environment The active colour (1 for the active "
                       "one)\n# TYPE holysheep_active_environment gauge\n");
    for (int e = 0; e < RELAY_DIRECT; e++)
        co_buf_printf(out, "holysheep_active_environment{environment=\"%s\"} %d\n",
                      relay_env_name(e), sw->active == (enum relay_env)e);
    co_buf_printf(out, "# HELP holysheep_upstream_attempts_total Upstream attempts by colour and "
                       "result\n# TYPE holysheep_upstream_attempts_total counter\n");
    for (int e = 0; e < RELAY_NENV; e++) {
        co_buf_printf(
            out, "holysheep_upstream_attempts_total{environment=\"%s\",result=\"ok\"} %llu\n",
            relay_env_name(e), (unsigned long long)(m->env[e].attempts - m->env[e].errors));
        co_buf_printf(
            out, "holysheep_upstream_attempts_total{environment=\"%s\",result=\"error\"} %llu\n",
            relay_env_name(e), (unsigned long long)m->env[e].errors);
    }
    co_buf_printf(out,
                  "# HELP holysheep_rate_limited_total Client requests refused by the rate "
                  "limit\n# TYPE holysheep_rate_limited_total counter\n"
                  "holysheep_rate_limited_total %llu\n",
                  (unsigned long long)m->rate_limited);
    static const struct {
        const char *name, *help;
        size_t off;
    } plain[] = {
        {"holysheep_rate_limit_evictions_total",
         "Rate limit keys evicted (least recently used) to make room",
         offsetof(struct relay_metrics, rl_evictions)},
        {"holysheep_event_write_errors_total", "Event log writes that failed (events lost)",
         offsetof(struct relay_metrics, event_write_errors)},
        {"holysheep_request_read_timeouts_total",
         "Client connections closed because a request head and body took too long",
         offsetof(struct relay_metrics, read_timeouts)},
        {"holysheep_buffer_budget_refusals_total",
         "Upstream answers refused (503) because max_buffered_bytes was reached",
         offsetof(struct relay_metrics, budget_refusals)},
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        co_buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", plain[i].name,
                      plain[i].help, plain[i].name, plain[i].name,
                      (unsigned long long)*(const uint64_t *)((const char *)m + plain[i].off));
}
