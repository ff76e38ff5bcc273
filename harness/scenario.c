/* Parsing and validation of scenario files.  Everything is checked before
 * anything starts: a scenario that would fail half-way because of a typo
 * wastes a CI run and, worse, may pass by checking nothing. */
#include "harness/scenario.h"

#include "harness/probe.h"

#include "co_json.h"
#include "co_mem.h"
#include "harness/checks.h"
#include "harness/vutil.h"
#include "mocks/mock.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define E(...) snprintf(err, errlen, __VA_ARGS__)

/* Records an error of the file and lets validation go on.  The parse_*
 * functions return -1 either with their one error in err, or with err
 * empty when they recorded their errors (several) themselves. */
static void collect(struct harness_scenario *s, const char *msg)
{
    /* A validator may report several errors, one per line. */
    for (const char *line = msg, *nl; line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        char one[640];
        snprintf(one, sizeof one, "%.*s", nl ? (int)(nl - line) : (int)strlen(line), line);
        harness_errors_add(s->errs, one);
    }
}

/* Every key of obj that is not in allowed, each recorded.  Returns the
 * number found. */
static int keys_all(struct harness_scenario *s, const json_t *obj, const char *path,
                    const char *const *allowed)
{
    const char *key;
    json_t *v;
    char e[640];
    int bad = 0;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (harness_v_key(key, path, allowed, e, sizeof e) != 0) {
            collect(s, e);
            bad++;
        }
    }
    return bad;
}

static const char *const top_keys[] = {"name",       "description", "tags",    "relay",
                                       "upstreams",  "timeline",    "traffic", "expect",
                                       "timeout_ms", "settle_ms",   "fleet",   NULL};

/* Relay config keys a scenario may set (docs/CONTRACTS.md); the runner owns
 * port, listen, URLs, api_key and events. */
enum rk_type {
    RK_UINT,
    RK_TOKEN,
    RK_URL,
    RK_WORDS, /* one of the row's words */
    RK_TOKENARR,
    RK_OBJ,
    RK_ADDRS, /* a comma list of IPv4/IPv6 addresses */
};
static const char *const colours[] = {"blue", "green", NULL};
/* The words of the worded keys, as the relay's config table accepts them. */
static const char *const jitter_words[] = {"none", "full", "equal", "decorrelated", NULL};
static const char *const level_words[] = {"debug", "info", "warn", "error", NULL};
static const char *const stream_done_words[] = {"lenient", "strict", NULL};
static const char *const mode_words[] = {"blue-green", "primary-fallback", NULL};
static const char *const on_429_words[] = {"retry", "failover", NULL};
static const char *const shared_fail_words[] = {"open", "closed", NULL};
/* Integer bounds and words mirror the relay's config table
 * (relay/relay_config.c), so that `cutover validate` refuses what the relay
 * would refuse at start; test_harness_scenario compares the two tables. */
#define RK_MS_MAX ((json_int_t)86400000 * 365)
static const struct relay_key {
    const char *name;
    int type;
    json_int_t min, max;      /* RK_UINT */
    const char *const *words; /* RK_WORDS */
} relay_keys[] = {
    {"active_env", RK_WORDS, 0, 0, colours},
    {"max_attempts", RK_UINT, 1, 100, NULL},
    {"backoff_base_ms", RK_UINT, 0, RK_MS_MAX, NULL},
    {"backoff_cap_ms", RK_UINT, 0, RK_MS_MAX, NULL},
    {"jitter", RK_WORDS, 0, 0, jitter_words},
    {"try_timeout_ms", RK_UINT, 1, RK_MS_MAX, NULL},
    {"deadline_ms", RK_UINT, 1, RK_MS_MAX, NULL},
    {"ttfb_timeout_ms", RK_UINT, 0, RK_MS_MAX, NULL},
    {"idle_timeout_ms", RK_UINT, 0, RK_MS_MAX, NULL},
    {"retry_after_cap_ms", RK_UINT, 0, RK_MS_MAX, NULL},
    {"switch_after_failures", RK_UINT, 1, 1000000, NULL},
    {"min_dwell_ms", RK_UINT, 0, RK_MS_MAX, NULL},
    {"health_interval_ms", RK_UINT, 0, RK_MS_MAX, NULL},
    {"health_timeout_ms", RK_UINT, 1, RK_MS_MAX, NULL},
    {"health_rise", RK_UINT, 1, 1000, NULL},
    {"health_fall", RK_UINT, 1, 1000, NULL},
    {"rate_limit_requests", RK_UINT, 0, 100000000, NULL},
    {"rate_limit_window_ms", RK_UINT, 1, RK_MS_MAX, NULL},
    {"admin_token", RK_TOKEN, 0, 0, NULL},
    {"client_keys", RK_TOKENARR, 0, 0, NULL},
    /* The client behaviours of scenarios/clients (docs/scenarios.md). */
    {"trusted_proxies", RK_ADDRS, 0, 0, NULL},
    {"rate_limit_max_keys", RK_UINT, 1, 16777216, NULL},
    {"request_read_timeout_ms", RK_UINT, 100, RK_MS_MAX, NULL},
    {"max_connections", RK_UINT, 1, 100000, NULL},
    {"max_clients", RK_UINT, 1, 100000, NULL},
    {"max_body_bytes", RK_UINT, 1, (json_int_t)1 << 30, NULL},
    {"max_buffered_bytes", RK_UINT, 1, (json_int_t)1 << 40, NULL},
    {"drain_timeout_ms", RK_UINT, 0, RK_MS_MAX, NULL},
    {"log_level", RK_WORDS, 0, 0, level_words},
    {"prices", RK_OBJ, 0, 0, NULL},
    {"direct_url", RK_URL, 0, 0, NULL},
    {"stream_done", RK_WORDS, 0, 0, stream_done_words},
    {"mode", RK_WORDS, 0, 0, mode_words},
    {"primary", RK_WORDS, 0, 0, colours},
    {"failback_after_ms", RK_UINT, 0, RK_MS_MAX, NULL},
    {"failback_rise", RK_UINT, 1, 1000, NULL},
    {"first_byte_timeout_ms", RK_UINT, 0, RK_MS_MAX, NULL},
    {"on_429_without_retry_after", RK_WORDS, 0, 0, on_429_words},
    /* A fleet's shared store (docs/fleet.md): the URL itself is the
     * runner's (the Redis it starts), these say how the relay uses it. */
    {"shared_fail", RK_WORDS, 0, 0, shared_fail_words},
    {"shared_timeout_ms", RK_UINT, 1, 60000, NULL},
    {"shared_poll_ms", RK_UINT, 10, RK_MS_MAX, NULL},
};
#define N_RELAY_KEYS (sizeof relay_keys / sizeof relay_keys[0])

/* Keys of the full mock behaviour format, and the friendly ones we add. */
static const char *const behavior_keys[] = {
    "reply", "latency", "rate_limit", "rules", "health",
    /* shorthands */
    "status", "error_code", "retry_after_s", "retry_after_ms", "retry_after_date_s", "latency_ms",
    "fault", "p", "first", "every", "sequence", "tokens", NULL};
static const char *const health_keys[] = {"latency", "rules", "status", "latency_ms", NULL};
static const char *const behavior_words[] = {"healthy", "down", NULL};
/* A fault shorthand ("fault": "reset") is any mock action but the two that
 * are not faults; the names come from the mock's action table. */
static int fault_name(const json_t *v, const char *path, char *err, size_t errlen)
{
    const char *names[64];
    size_t n = 0;
    for (const char *const *a = mock_action_names(); *a && n < 63; a++)
        if (strcmp(*a, "ok") != 0 && strcmp(*a, "status") != 0)
            names[n++] = *a;
    names[n] = NULL;
    return harness_v_enum(v, path, names, err, errlen);
}

static json_t *always_status(int code)
{
    return json_pack("{s:[{s:s, s:s, s:{s:s, s:i}}]}", "rules", "name", "status", "when", "always",
                     "action", "type", "status", "code", code);
}

/* Prefixes a mock validator message ("$.rules[0]...") with our path. */
static int mock_error(const char *path, const char *merr, char *err, size_t errlen)
{
    if (merr[0] == '$')
        E("%s%s", path, merr + 1);
    else
        E("%s: %s", path, merr);
    return -1;
}

static json_t *translate_health(const json_t *in, const char *path, char *err, size_t errlen)
{
    char p[300];
    if (json_is_string(in)) {
        if (harness_v_enum(in, path, behavior_words, err, errlen) != 0)
            return NULL;
        if (strcmp(json_string_value(in), "healthy") == 0)
            return json_object();
        json_t *b = always_status(503);
        json_t *r = json_incref(json_object_get(b, "rules"));
        json_decref(b);
        json_t *h = json_object();
        json_object_set_new(h, "rules", r);
        return h;
    }
    if (!json_is_object(in)) {
        harness_v_expected(err, errlen, path, "\"healthy\", \"down\" or an object", in);
        return NULL;
    }
    if (harness_v_keys(in, path, health_keys, err, errlen) != 0)
        return NULL;
    json_t *out = json_object();
    json_t *v;
    if ((v = json_object_get(in, "latency")))
        json_object_set(out, "latency", v);
    if ((v = json_object_get(in, "rules")))
        json_object_set(out, "rules", v);
    double d = 0;
    if (harness_v_number(in, "latency_ms", path, 0, 600000, &d, err, errlen) != 0)
        goto bad;
    if (json_object_get(in, "latency_ms"))
        json_object_set_new(out, "latency", json_pack("{s:f}", "fixed_ms", d));
    if ((v = json_object_get(in, "status"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 100 || json_integer_value(v) > 599) {
            harness_v_fmt(p, sizeof p, "%s.status", path);
            harness_v_expected(err, errlen, p, "an HTTP status 100..599", v);
            goto bad;
        }
        json_t *b = always_status((int)json_integer_value(v));
        json_object_set(out, "rules", json_object_get(b, "rules"));
        json_decref(b);
    }
    return out;
bad:
    json_decref(out);
    return NULL;
}

json_t *harness_behavior_translate(const json_t *in, const char *path, char *err, size_t errlen)
{
    char p[300];
    json_t *out = NULL;
    if (!in || json_is_string(in)) {
        if (in && harness_v_enum(in, path, behavior_words, err, errlen) != 0)
            return NULL;
        if (!in || strcmp(json_string_value(in), "healthy") == 0)
            return json_object();
        out = always_status(503);
        json_object_set_new(out, "health",
                            json_pack("{s:O}", "rules", json_object_get(out, "rules")));
        return out;
    }
    if (!json_is_object(in)) {
        harness_v_expected(err, errlen, path, "\"healthy\", \"down\" or a behaviour object", in);
        return NULL;
    }
    if (harness_v_keys(in, path, behavior_keys, err, errlen) != 0)
        return NULL;
    out = json_object();
    static const char *const pass[] = {"reply", "latency", "rate_limit", "rules", NULL};
    for (const char *const *k = pass; *k; k++) {
        json_t *v = json_object_get(in, *k);
        if (v)
            json_object_set_new(out, *k, json_deep_copy(v));
    }
    double d = 0;
    if (harness_v_number(in, "latency_ms", path, 0, 600000, &d, err, errlen) != 0)
        goto bad;
    if (json_object_get(in, "latency_ms"))
        json_object_set_new(out, "latency", json_pack("{s:f}", "fixed_ms", d));
    if (json_object_get(in, "tokens")) {
        if (harness_v_number(in, "tokens", path, 0, 100000, &d, err, errlen) != 0)
            goto bad;
        json_t *reply = json_object_get(out, "reply");
        if (!reply) {
            reply = json_object();
            json_object_set_new(out, "reply", reply);
        }
        json_object_set_new(reply, "tokens", json_integer((json_int_t)d));
    }

    /* One rule from the shorthand: an action (status or fault) and a selector. */
    json_t *status = json_object_get(in, "status"), *fault = json_object_get(in, "fault");
    if (status && fault) {
        harness_v_fmt(p, sizeof p, "%s.fault", path);
        harness_v_expected(err, errlen, p, "either status or fault, not both", fault);
        goto bad;
    }
    json_t *action = NULL;
    if (status) {
        if (!json_is_integer(status) || json_integer_value(status) < 100 ||
            json_integer_value(status) > 599) {
            harness_v_fmt(p, sizeof p, "%s.status", path);
            harness_v_expected(err, errlen, p, "an HTTP status 100..599", status);
            goto bad;
        }
        action = json_pack("{s:s, s:I}", "type", "status", "code", json_integer_value(status));
        static const char *const extra[] = {"error_code", "retry_after_s", "retry_after_ms",
                                            "retry_after_date_s", NULL};
        for (const char *const *k = extra; *k; k++) {
            json_t *v = json_object_get(in, *k);
            if (v)
                json_object_set(action, *k, v);
        }
    } else if (fault) {
        harness_v_fmt(p, sizeof p, "%s.fault", path);
        if (json_is_string(fault)) {
            if (fault_name(fault, p, err, errlen) != 0)
                goto bad;
            action = json_pack("{s:O}", "type", fault);
        } else if (json_is_object(fault)) {
            action = json_deep_copy(fault);
        } else {
            harness_v_expected(err, errlen, p, "a fault name or an action object", fault);
            goto bad;
        }
    } else {
        static const char *const needs[] = {"error_code",
                                            "retry_after_date_s",
                                            "retry_after_s",
                                            "retry_after_ms",
                                            "p",
                                            "first",
                                            "every",
                                            "sequence",
                                            NULL};
        for (const char *const *k = needs; *k; k++) {
            if (json_object_get(in, *k)) {
                harness_v_fmt(p, sizeof p, "%s.%s", path, *k);
                harness_v_expected(err, errlen, p, "a \"status\" or \"fault\" next to it",
                                   json_object_get(in, *k));
                goto bad;
            }
        }
    }
    if (action) {
        json_t *when = NULL;
        static const char *const sels[] = {"p", "first", "every", "sequence", NULL};
        for (const char *const *k = sels; *k; k++) {
            json_t *v = json_object_get(in, *k);
            if (!v)
                continue;
            if (when) {
                harness_v_fmt(p, sizeof p, "%s.%s", path, *k);
                harness_v_expected(err, errlen, p, "one selector (p, first, every or sequence)", v);
                json_decref(action);
                json_decref(when);
                goto bad;
            }
            when = json_pack("{s:O}", *k, v);
        }
        json_t *rule = json_pack("{s:s, s:o, s:o}", "name", status ? "status" : "fault", "when",
                                 when ? when : json_string("always"), "action", action);
        json_t *rules = json_object_get(out, "rules");
        if (!rules) {
            rules = json_array();
            json_object_set_new(out, "rules", rules);
        }
        json_array_insert_new(rules, 0, rule);
    }

    json_t *health = json_object_get(in, "health");
    if (health) {
        harness_v_fmt(p, sizeof p, "%s.health", path);
        json_t *h = translate_health(health, p, err, errlen);
        if (!h)
            goto bad;
        json_object_set_new(out, "health", h);
    }

    char merr[400];
    if (mock_behavior_validate(out, merr, sizeof merr) != 0) {
        mock_error(path, merr, err, errlen);
        goto bad;
    }
    return out;
bad:
    json_decref(out);
    return NULL;
}

static void scale_walk(json_t *j, const char *key, double scale)
{
    size_t klen = key ? strlen(key) : 0;
    int timed = klen > 3 && strcmp(key + klen - 3, "_ms") == 0;
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
        {
            if (strcmp(k, "rate_rps") == 0 && json_is_number(v)) {
                json_object_set_new(j, k, json_real(json_number_value(v) / scale));
                continue;
            }
            size_t l = strlen(k);
            int t = l > 3 && strcmp(k + l - 3, "_ms") == 0;
            /* A request template's body is sent as written: its fields are
             * the client's, not the scenario's times. */
            if (strcmp(k, "body") == 0 && json_is_object(v))
                continue;
            if (t && json_is_number(v)) {
                double d = json_number_value(v) * scale;
                json_object_set_new(
                    j, k, json_is_integer(v) ? json_integer((json_int_t)llround(d)) : json_real(d));
            } else {
                scale_walk(v, k, scale);
            }
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            if (timed && json_is_number(v)) {
                double d = json_number_value(v) * scale;
                json_array_set_new(
                    j, i, json_is_integer(v) ? json_integer((json_int_t)llround(d)) : json_real(d));
            } else {
                scale_walk(v, key, scale);
            }
        }
    }
}

void harness_time_scale(json_t *doc, double scale)
{
    if (scale > 0 && scale != 1.0)
        scale_walk(doc, NULL, scale);
}

/* "127.0.0.1,::1": each item an address inet_pton reads (as the relay
 * reads trusted_proxies), no spaces, no empty item. */
static int addr_list_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 1024)
        return 0;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        char a[64];
        unsigned char bin[16];
        if (!n || n >= sizeof a)
            return 0;
        memcpy(a, s, n);
        a[n] = '\0';
        if (inet_pton(AF_INET, a, bin) != 1 && inet_pton(AF_INET6, a, bin) != 1)
            return 0;
        s += n;
        if (*s == ',' && !*++s)
            return 0;
    }
    return 1;
}

/* One relay key's value against its row.  Returns 0 or -1 with err. */
static int relay_value(const struct relay_key *rk, const char *k, json_t *v, char *p, size_t plen,
                       char *err, size_t errlen)
{
    switch (rk->type) {
    case RK_UINT:
        if (!json_is_integer(v) || json_integer_value(v) < rk->min ||
            json_integer_value(v) > rk->max) {
            char want[64];
            snprintf(want, sizeof want, "an integer in [%lld, %lld]", (long long)rk->min,
                     (long long)rk->max);
            return harness_v_expected(err, errlen, p, want, v);
        }
        break;
    case RK_TOKEN:
    case RK_URL:
        return harness_v_setting(v, p, rk->type == RK_URL, err, errlen);
    case RK_WORDS:
        return harness_v_enum(v, p, rk->words, err, errlen);
    case RK_OBJ:
        if (!json_is_object(v))
            return harness_v_expected(err, errlen, p, "an object", v);
        break;
    case RK_ADDRS:
        if (!addr_list_ok(json_string_value(v)))
            return harness_v_expected(
                err, errlen, p, "a comma list of IPv4/IPv6 addresses such as \"127.0.0.1,::1\"", v);
        break;
    case RK_TOKENARR: {
        if (!json_is_array(v))
            return harness_v_expected(err, errlen, p, "an array of strings", v);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            harness_v_fmt(p, plen, "$.relay.%s[%zu]", k, i);
            if (harness_v_setting(x, p, 0, err, errlen) != 0)
                return -1;
        }
        break;
    }
    }
    return 0;
}

/* The backoff base may not exceed the cap the relay will run with: the
 * scenario's own, else the runner's default (a base above it used to pass
 * validation and fail at start as a harness error). */
static int relay_backoff(const json_t *relay, double time_scale, char *err, size_t errlen)
{
    double k = time_scale > 0 ? time_scale : 1;
    json_t *b = json_object_get(relay, "backoff_base_ms"),
           *c = json_object_get(relay, "backoff_cap_ms");
    double base =
        json_is_integer(b) ? (double)json_integer_value(b) : HARNESS_RUNNER_BACKOFF_BASE_MS * k;
    double cap =
        json_is_integer(c) ? (double)json_integer_value(c) : HARNESS_RUNNER_BACKOFF_CAP_MS * k;
    if (base <= cap)
        return 0;
    char exp[160];
    if (json_is_integer(c)) {
        snprintf(exp, sizeof exp, "at most backoff_cap_ms (%g)", cap);
        return harness_v_expected(err, errlen, "$.relay.backoff_base_ms", exp, b);
    }
    snprintf(exp, sizeof exp,
             "at most the runner's default backoff_cap_ms (%g; set backoff_cap_ms to raise it)",
             cap);
    return harness_v_expected(err, errlen, "$.relay.backoff_base_ms", exp, b);
}

static int parse_relay(struct harness_scenario *s, json_t *relay, double time_scale, char *err,
                       size_t errlen)
{
    const char *names[N_RELAY_KEYS + 1];
    for (size_t i = 0; i < N_RELAY_KEYS; i++)
        names[i] = relay_keys[i].name;
    names[N_RELAY_KEYS] = NULL;
    if (!relay) {
        s->relay = json_object();
        return 0;
    }
    if (!json_is_object(relay))
        return harness_v_expected(err, errlen, "$.relay", "an object of relay config keys", relay);
    int bad = keys_all(s, relay, "$.relay", names);
    const char *k;
    json_t *v;
    char p[128];
    json_object_foreach(relay, k, v)
    {
        harness_v_fmt(p, sizeof p, "$.relay.%s", k);
        const struct relay_key *rk = NULL;
        for (size_t i = 0; i < N_RELAY_KEYS; i++)
            if (strcmp(relay_keys[i].name, k) == 0)
                rk = &relay_keys[i];
        if (rk && relay_value(rk, k, v, p, sizeof p, err, errlen) != 0) {
            collect(s, err);
            bad++;
        }
    }
    if (relay_backoff(relay, time_scale, err, errlen) != 0) {
        collect(s, err);
        bad++;
    }
    err[0] = '\0';
    if (bad)
        return -1;
    s->relay = json_deep_copy(relay);
    return 0;
}

static int parse_upstreams(struct harness_scenario *s, json_t *up, char *err, size_t errlen)
{
    if (up && !json_is_object(up))
        return harness_v_expected(err, errlen, "$.upstreams", "an object with blue and green", up);
    /* "direct": a third mock, for a relay's direct fallback (its direct_url). */
    static const char *const upstream_keys[] = {"blue", "green", "direct", NULL};
    int bad = up ? keys_all(s, up, "$.upstreams", upstream_keys) : 0;
    json_t *d = up ? json_object_get(up, "direct") : NULL;
    if (d && json_object_get(s->relay, "direct_url")) {
        harness_v_expected(err, errlen, "$.relay.direct_url",
                           "no direct_url when $.upstreams.direct is set (the runner "
                           "points the relay at that mock)",
                           json_object_get(s->relay, "direct_url"));
        collect(s, err);
        bad++;
    } else if (d &&
               !(s->direct = harness_behavior_translate(d, "$.upstreams.direct", err, errlen))) {
        collect(s, err);
        bad++;
    }
    for (int c = 0; c < 2; c++) {
        json_t *b = up ? json_object_get(up, colours[c]) : NULL;
        char p[64];
        harness_v_fmt(p, sizeof p, "$.upstreams.%s", colours[c]);
        if (json_is_string(b) && strcmp(json_string_value(b), "refused") == 0) {
            s->refused[c] = 1;
            s->upstream[c] = json_object();
            continue;
        }
        s->upstream[c] = harness_behavior_translate(b, p, err, errlen);
        if (!s->upstream[c]) {
            if (json_is_string(b) && strstr(err, "expected one of"))
                E("%s: expected one of healthy, down, refused, found string \"%s\"", p,
                  json_string_value(b));
            collect(s, err);
            bad++;
        }
    }
    err[0] = '\0';
    return bad ? -1 : 0;
}

static const char *const step_keys[] = {"at_ms",  "at",    "mark",    "blue",  "green", "admin",
                                        "signal", "fleet", "replica", "probe", NULL};
/* Fleet steps (docs/fleet.md); index = enum harness_fleet_action - 1. */
static const char *const fleet_actions[] = {"replica_stop",   "replica_kill", "replica_pause",
                                            "replica_resume", "redis_pause",  "redis_resume",
                                            "redis_stop",     "redis_start",  NULL};
static const char *const admin_keys[] = {"action", "to", "blue", "green", "token", NULL};
/* "token": which token the call sends; index = enum harness_admin_token. */
static const char *const admin_tokens[] = {"right", "none", "wrong", "longer", NULL};
static const char *const admin_actions[] = {"switch", "rollback", "weights", NULL};
static const char *const signals[] = {"SIGSTOP", "SIGCONT", "SIGKILL", "SIGTERM", NULL};

/* A step's "at": {"after": "traffic", "delay_ms": D}. */
static int parse_at_after(struct harness_step *step, json_t *at, const char *path, char *err,
                          size_t errlen)
{
    static const char *const keys[] = {"after", "delay_ms", NULL};
    static const char *const afters[] = {"traffic", NULL};
    char p[128], ap[160];
    harness_v_fmt(p, sizeof p, "%s.at", path);
    if (!json_is_object(at))
        return harness_v_expected(err, errlen, p, "{\"after\": \"traffic\", \"delay_ms\": N}", at);
    if (harness_v_keys(at, p, keys, err, errlen) != 0)
        return -1;
    harness_v_fmt(ap, sizeof ap, "%s.after", p);
    if (harness_v_enum(json_object_get(at, "after"), ap, afters, err, errlen) != 0)
        return -1;
    double delay = 0;
    if (harness_v_number(at, "delay_ms", p, 0, 600000, &delay, err, errlen) != 0)
        return -1;
    step->after_traffic = 1;
    step->after_delay_us = (uint64_t)(delay * 1000.0);
    return 0;
}

/* A step's "probe": an endpoint name or an array of them. */
static int parse_probe(struct harness_step *step, json_t *probe, const char *path, char *err,
                       size_t errlen)
{
    if (json_is_string(probe)) {
        if (harness_v_enum(probe, path, harness_probe_kinds, err, errlen) != 0)
            return -1;
        for (int k = 0; harness_probe_kinds[k]; k++)
            if (strcmp(json_string_value(probe), harness_probe_kinds[k]) == 0)
                step->probe |= 1u << k;
        return 0;
    }
    if (!json_is_array(probe) || !json_array_size(probe))
        return harness_v_expected(err, errlen, path,
                                  "\"health\", \"metrics\", \"prometheus\" or an array of them",
                                  probe);
    size_t i;
    json_t *v;
    json_array_foreach(probe, i, v)
    {
        char p[160];
        harness_v_fmt(p, sizeof p, "%s[%zu]", path, i);
        if (parse_probe(step, v, p, err, errlen) != 0)
            return -1;
        if (!json_is_string(v))
            return harness_v_expected(err, errlen, p, "an endpoint name", v);
    }
    return 0;
}

/* A step's "replica": which replica its admin call, signal or replica_*
 * action goes to (default 0).  Only those steps take one, and it must name
 * a replica of the fleet (the runner checks it again against --replicas). */
static int parse_step_replica(struct harness_scenario *s, const json_t *st, const char *path,
                              struct harness_step *step, char *err, size_t errlen)
{
    json_t *rep = json_object_get(st, "replica");
    if (!rep)
        return 0;
    char p[160], exp[128];
    harness_v_fmt(p, sizeof p, "%s.replica", path);
    int takes = step->admin_method[0] || step->sig || step->probe ||
                (step->fleet_action && step->fleet_action < HARNESS_REDIS_PAUSE);
    if (!takes)
        return harness_v_expected(err, errlen, p,
                                  "no replica on this step (only admin, signal, probe and "
                                  "replica_* steps go to one replica)",
                                  rep);
    snprintf(exp, sizeof exp, "a replica index 0..%d (\"fleet\": {\"replicas\": %d})",
             s->fleet.replicas - 1, s->fleet.replicas);
    if (!json_is_integer(rep) || json_integer_value(rep) < 0 ||
        json_integer_value(rep) >= s->fleet.replicas)
        return harness_v_expected(err, errlen, p, exp, rep);
    step->replica = (int)json_integer_value(rep);
    if (step->replica > s->max_replica_step)
        s->max_replica_step = step->replica;
    return 0;
}

static const char *const fleet_keys[] = {"replicas", "spread", "redis", NULL};
static const char *const spreads[] = {"round_robin", "random", NULL};

/* "fleet": {"replicas": N, "spread": "round_robin" | "random", "redis": bool}.
 * Redis defaults to true for more than one replica: a fleet shares state. */
static int parse_fleet(struct harness_scenario *s, json_t *fl, char *err, size_t errlen)
{
    s->fleet.replicas = 1;
    s->max_replica_step = -1;
    s->max_replica_check = -1;
    if (!fl)
        return 0;
    if (!json_is_object(fl))
        return harness_v_expected(err, errlen, "$.fleet", "an object with replicas", fl);
    if (harness_v_keys(fl, "$.fleet", fleet_keys, err, errlen) != 0)
        return -1;
    s->fleet.declared = 1;
    json_t *n = json_object_get(fl, "replicas");
    char exp[64];
    snprintf(exp, sizeof exp, "a replica count 1..%d (required)", HARNESS_MAX_REPLICAS);
    if (!json_is_integer(n) || json_integer_value(n) < 1 ||
        json_integer_value(n) > HARNESS_MAX_REPLICAS)
        return harness_v_expected(err, errlen, "$.fleet.replicas", exp, n);
    s->fleet.replicas = (int)json_integer_value(n);
    json_t *sp = json_object_get(fl, "spread");
    if (sp) {
        if (harness_v_enum(sp, "$.fleet.spread", spreads, err, errlen) != 0)
            return -1;
        s->fleet.spread = strcmp(json_string_value(sp), "random") == 0 ? HARNESS_SPREAD_RANDOM
                                                                       : HARNESS_SPREAD_ROUND_ROBIN;
    }
    json_t *rd = json_object_get(fl, "redis");
    if (rd && !json_is_boolean(rd))
        return harness_v_expected(err, errlen, "$.fleet.redis", "true or false", rd);
    s->fleet.redis = rd ? json_is_true(rd) : s->fleet.replicas > 1;
    return 0;
}

static int parse_step(struct harness_scenario *s, json_t *st, size_t i, double prev_ms, char *err,
                      size_t errlen)
{
    struct harness_step *step = &s->steps[s->n_steps];
    char path[64], p[128];
    snprintf(path, sizeof path, "$.timeline[%zu]", i);
    if (!json_is_object(st))
        return harness_v_expected(err, errlen, path, "an object with at_ms", st);
    if (harness_v_keys(st, path, step_keys, err, errlen) != 0)
        return -1;
    double at = -1;
    if (harness_v_number(st, "at_ms", path, 0, 3600000, &at, err, errlen) != 0)
        return -1;
    json_t *at_after = json_object_get(st, "at");
    if (at_after && at >= 0) {
        harness_v_fmt(p, sizeof p, "%s.at", path);
        return harness_v_expected(err, errlen, p, "at_ms or at, not both", at_after);
    }
    if (at_after) {
        if (parse_at_after(step, at_after, path, err, errlen) != 0)
            return -1;
        at = prev_ms; /* orders it after every timed step */
    } else if (s->n_steps && s->steps[s->n_steps - 1].after_traffic) {
        harness_v_fmt(p, sizeof p, "%s.at_ms", path);
        return harness_v_expected(err, errlen, p,
                                  "no timed step after one with \"at\": {\"after\": "
                                  "\"traffic\"} (those come last)",
                                  json_object_get(st, "at_ms"));
    }
    if (at < 0) {
        harness_v_fmt(p, sizeof p, "%s.at_ms", path);
        return harness_v_expected(err, errlen, p, "a time in ms (required)", NULL);
    }
    if (at < prev_ms) {
        char exp[96];
        harness_v_fmt(p, sizeof p, "%s.at_ms", path);
        snprintf(exp, sizeof exp, "a time >= %g (the steps are in time order)", prev_ms);
        return harness_v_expected(err, errlen, p, exp, json_object_get(st, "at_ms"));
    }
    step->at_us = (uint64_t)(at * 1000.0);
    json_t *mark = json_object_get(st, "mark");
    if (mark) {
        harness_v_fmt(p, sizeof p, "%s.mark", path);
        if (!json_is_string(mark) || !json_string_length(mark) || json_string_length(mark) >= 64)
            return harness_v_expected(err, errlen, p, "a name of 1..63 characters", mark);
        for (int k = 0; k < s->n_steps; k++)
            if (strcmp(s->steps[k].mark, json_string_value(mark)) == 0)
                return harness_v_expected(err, errlen, p, "a mark name not used before", mark);
        snprintf(step->mark, sizeof step->mark, "%s", json_string_value(mark));
    }
    int actions = 0;
    for (int c = 0; c < 2; c++) {
        json_t *b = json_object_get(st, colours[c]);
        if (!b)
            continue;
        harness_v_fmt(p, sizeof p, "%s.%s", path, colours[c]);
        step->behavior[c] = harness_behavior_translate(b, p, err, errlen);
        if (!step->behavior[c])
            return -1;
        actions++;
    }
    json_t *admin = json_object_get(st, "admin");
    if (admin) {
        harness_v_fmt(p, sizeof p, "%s.admin", path);
        if (!json_is_object(admin))
            return harness_v_expected(err, errlen, p, "an object with action", admin);
        if (harness_v_keys(admin, p, admin_keys, err, errlen) != 0)
            return -1;
        char ap[160];
        harness_v_fmt(ap, sizeof ap, "%s.action", p);
        json_t *act = json_object_get(admin, "action");
        if (harness_v_enum(act, ap, admin_actions, err, errlen) != 0)
            return -1;
        const char *a = json_string_value(act);
        json_t *tok = json_object_get(admin, "token");
        if (tok) {
            harness_v_fmt(ap, sizeof ap, "%s.token", p);
            if (harness_v_enum(tok, ap, admin_tokens, err, errlen) != 0)
                return -1;
            for (int k = 0; admin_tokens[k]; k++)
                if (strcmp(json_string_value(tok), admin_tokens[k]) == 0)
                    step->admin_token = k;
        }
        if (strcmp(a, "switch") == 0) {
            harness_v_fmt(ap, sizeof ap, "%s.to", p);
            if (harness_v_enum(json_object_get(admin, "to"), ap, colours, err, errlen) != 0)
                return -1;
            snprintf(step->admin_method, sizeof step->admin_method, "POST");
            snprintf(step->admin_path, sizeof step->admin_path, "/admin/switch");
            step->admin_body = json_pack("{s:O}", "to", json_object_get(admin, "to"));
        } else if (strcmp(a, "rollback") == 0) {
            snprintf(step->admin_method, sizeof step->admin_method, "POST");
            snprintf(step->admin_path, sizeof step->admin_path, "/admin/rollback");
            step->admin_body = json_object();
        } else {
            double wb = -1, wg = -1;
            if (harness_v_number(admin, "blue", p, 0, 100, &wb, err, errlen) != 0 ||
                harness_v_number(admin, "green", p, 0, 100, &wg, err, errlen) != 0)
                return -1;
            if (wb < 0 || wg < 0 || wb + wg <= 0)
                return harness_v_expected(err, errlen, p,
                                          "weights blue and green (0..100, sum > 0)", admin);
            snprintf(step->admin_method, sizeof step->admin_method, "PUT");
            snprintf(step->admin_path, sizeof step->admin_path, "/admin/weights");
            step->admin_body = json_pack("{s:i, s:i}", "blue", (int)wb, "green", (int)wg);
        }
        s->admin_used = 1;
        actions++;
    }
    json_t *probe = json_object_get(st, "probe");
    if (probe) {
        harness_v_fmt(p, sizeof p, "%s.probe", path);
        if (parse_probe(step, probe, p, err, errlen) != 0)
            return -1;
        actions++;
    }
    json_t *sig = json_object_get(st, "signal");
    if (sig) {
        harness_v_fmt(p, sizeof p, "%s.signal", path);
        if (harness_v_enum(sig, p, signals, err, errlen) != 0)
            return -1;
        const char *n = json_string_value(sig);
        step->sig = strcmp(n, "SIGSTOP") == 0   ? HARNESS_SIG_STOP
                    : strcmp(n, "SIGCONT") == 0 ? HARNESS_SIG_CONT
                    : strcmp(n, "SIGTERM") == 0 ? HARNESS_SIG_TERM
                                                : HARNESS_SIG_KILL;
        actions++;
    }
    json_t *fl = json_object_get(st, "fleet");
    if (fl) {
        harness_v_fmt(p, sizeof p, "%s.fleet", path);
        if (harness_v_enum(fl, p, fleet_actions, err, errlen) != 0)
            return -1;
        for (int k = 0; fleet_actions[k]; k++)
            if (strcmp(json_string_value(fl), fleet_actions[k]) == 0)
                step->fleet_action = k + 1;
        if (step->fleet_action >= HARNESS_REDIS_PAUSE && !s->fleet.redis)
            return harness_v_expected(err, errlen, p,
                                      "a replica_* action (redis_* needs \"fleet\": {\"redis\": "
                                      "true})",
                                      fl);
        actions++;
    }
    if (parse_step_replica(s, st, path, step, err, errlen) != 0)
        return -1;
    if (!actions && !mark)
        return harness_v_expected(err, errlen, path,
                                  "at least one of blue, green, admin, signal, fleet, probe or "
                                  "mark",
                                  st);
    s->n_steps++;
    return 0;
}

static int parse_timeline(struct harness_scenario *s, json_t *tl, char *err, size_t errlen)
{
    if (!tl)
        return 0;
    if (!json_is_array(tl))
        return harness_v_expected(err, errlen, "$.timeline", "an array of steps", tl);
    if (json_array_size(tl) > HARNESS_MAX_TIMELINE)
        return harness_v_expected(err, errlen, "$.timeline", "at most 64 steps", tl);
    size_t i;
    json_t *st;
    double prev = 0;
    int bad = 0;
    json_array_foreach(tl, i, st)
    {
        if (parse_step(s, st, i, prev, err, errlen) != 0) {
            /* Record it, drop what the step had built, go on with the next. */
            struct harness_step *half = &s->steps[s->n_steps];
            json_decref(half->behavior[0]);
            json_decref(half->behavior[1]);
            json_decref(half->admin_body);
            memset(half, 0, sizeof *half);
            collect(s, err);
            bad++;
            continue;
        }
        prev = (double)s->steps[s->n_steps - 1].at_us / 1000.0;
    }
    err[0] = '\0';
    return bad ? -1 : 0;
}

/* ---- request templates ------------------------------------------------- */

static const char *const template_keys[] = {"name",
                                            "weight",
                                            "method",
                                            "path",
                                            "body",
                                            "raw",
                                            "content_type",
                                            "headers",
                                            "declared_length",
                                            "sent_bytes",
                                            "expect_continue",
                                            "trickle_ms",
                                            NULL};
/* Header names the runner writes itself (or libcurl from the body): a
 * template's "headers" may not set them. */
static const char *const runner_headers[] = {"Content-Type",      "Content-Length", "X-Request-ID",
                                             "Authorization",     "Expect",         "Host",
                                             "Transfer-Encoding", "Connection",     NULL};
static const char *const template_methods[] = {"POST", "GET", "PUT", "PATCH", "DELETE", NULL};
/* The phase keys that build the one request of a phase without templates. */
static const char *const plain_request_keys[] = {"prompt",     "model", "stream",
                                                 "max_tokens", "path",  NULL};

/* A path a request may carry: "/" then printable characters, no space. */
static int request_path_ok(const char *p)
{
    if (p[0] != '/')
        return 0;
    for (; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
            return 0;
    return 1;
}

/* The known fields of a JSON body, by type; every other field is sent as
 * written.  path is the body's ("$.traffic.request.body"). */
static int template_body(struct harness_template *tp, const json_t *body, const char *path,
                         char *err, size_t errlen)
{
    char p[300];
    json_t *v;
    if (!json_is_object(body))
        return harness_v_expected(err, errlen, path, "a JSON object (the request body)", body);
    if ((v = json_object_get(body, "messages"))) {
        harness_v_fmt(p, sizeof p, "%s.messages", path);
        if (!json_is_array(v) || !json_array_size(v))
            return harness_v_expected(err, errlen, p, "a non-empty array of messages", v);
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m)
        {
            harness_v_fmt(p, sizeof p, "%s.messages[%zu]", path, i);
            if (!json_is_object(m))
                return harness_v_expected(err, errlen, p, "a message object with role", m);
            json_t *role = json_object_get(m, "role"), *content = json_object_get(m, "content");
            if (!json_is_string(role) || !json_string_length(role)) {
                harness_v_fmt(p, sizeof p, "%s.messages[%zu].role", path, i);
                return harness_v_expected(
                    err, errlen, p, "a role such as \"system\", \"user\" or \"assistant\"", role);
            }
            if (content && !json_is_string(content) && !json_is_array(content) &&
                !json_is_null(content)) {
                harness_v_fmt(p, sizeof p, "%s.messages[%zu].content", path, i);
                return harness_v_expected(err, errlen, p, "a string, an array of parts or null",
                                          content);
            }
        }
    }
    if ((v = json_object_get(body, "model"))) {
        harness_v_fmt(p, sizeof p, "%s.model", path);
        if (!json_is_string(v) || json_string_length(v) >= sizeof tp->model)
            return harness_v_expected(err, errlen, p, "a model name of 1..63 bytes", v);
        snprintf(tp->model, sizeof tp->model, "%s", json_string_value(v));
    }
    if ((v = json_object_get(body, "stream"))) {
        harness_v_fmt(p, sizeof p, "%s.stream", path);
        if (!json_is_boolean(v))
            return harness_v_expected(err, errlen, p, "true or false", v);
        tp->stream = json_is_true(v);
    }
    if ((v = json_object_get(body, "stream_options"))) {
        harness_v_fmt(p, sizeof p, "%s.stream_options", path);
        if (!json_is_object(v))
            return harness_v_expected(err, errlen, p, "an object such as {\"include_usage\": true}",
                                      v);
        json_t *iu = json_object_get(v, "include_usage");
        harness_v_fmt(p, sizeof p, "%s.stream_options.include_usage", path);
        if (iu && !json_is_boolean(iu))
            return harness_v_expected(err, errlen, p, "true or false", iu);
        tp->include_usage = json_is_true(iu);
    }
    tp->max_tokens = -1;
    static const char *const maxk[] = {"max_completion_tokens", "max_tokens", NULL};
    for (const char *const *k = maxk; *k; k++) {
        if (!(v = json_object_get(body, *k)))
            continue;
        harness_v_fmt(p, sizeof p, "%s.%s", path, *k);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return harness_v_expected(err, errlen, p, "an integer >= 0", v);
        tp->max_tokens = (long)json_integer_value(v); /* max_tokens wins, as in the mock */
    }
    if ((v = json_object_get(body, "user"))) {
        harness_v_fmt(p, sizeof p, "%s.user", path);
        if (!json_is_string(v))
            return harness_v_expected(err, errlen, p, "a string", v);
        tp->own_user = 1;
    }
    tp->body = json_deep_copy(body);
    return 0;
}

/* A header name: an HTTP token of letters, digits and '-'. */
static int header_name_ok(const char *n)
{
    if (!*n || strlen(n) > 64)
        return 0;
    for (; *n; n++)
        if (!isalnum((unsigned char)*n) && *n != '-')
            return 0;
    return 1;
}

/* "headers": {"X-Forwarded-For": "203.0.113.7"}: up to HARNESS_TPL_HEADERS
 * lines of printable text, none the runner writes itself. */
static int template_headers(struct harness_template *tp, const json_t *h, const char *path,
                            char *err, size_t errlen)
{
    char p[300];
    if (!json_is_object(h) || json_object_size(h) > HARNESS_TPL_HEADERS)
        return harness_v_expected(err, errlen, path,
                                  "an object of 1..4 header names to string values", h);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)h, k, v)
    {
        harness_v_fmt(p, sizeof p, "%s.%s", path, k);
        if (!header_name_ok(k))
            return harness_v_expected(err, errlen, p, "a header name of letters, digits and '-'",
                                      v);
        for (const char *const *r = runner_headers; *r; r++)
            if (strcasecmp(*r, k) == 0)
                return harness_v_expected(err, errlen, p,
                                          "a header the runner does not write itself (it sets "
                                          "Content-Type, Content-Length, X-Request-ID, "
                                          "Authorization, Expect, Host, Transfer-Encoding, "
                                          "Connection)",
                                          v);
        const char *s = json_string_value(v);
        int ok = s && strlen(s) + strlen(k) + 2 < sizeof tp->headers[0];
        for (const char *c = s; ok && *c; c++)
            ok = (unsigned char)*c >= ' ' && (unsigned char)*c < 0x7f;
        if (!ok)
            return harness_v_expected(
                err, errlen, p, "a string of printable ASCII (no CR or LF), at most 180 bytes", v);
        snprintf(tp->headers[tp->n_headers++], sizeof tp->headers[0], "%s: %s", k, s);
    }
    return 0;
}

/* "declared_length", "sent_bytes", "expect_continue": a client that
 * declares its body and stalls (docs/scenarios.md). */
static int template_stall(struct harness_template *tp, const json_t *t, const char *path, char *err,
                          size_t errlen)
{
    char p[300];
    json_t *dl = json_object_get(t, "declared_length"), *sb = json_object_get(t, "sent_bytes"),
           *ec = json_object_get(t, "expect_continue");
    if (dl) {
        harness_v_fmt(p, sizeof p, "%s.declared_length", path);
        if (!json_is_integer(dl) || json_integer_value(dl) < 1 ||
            json_integer_value(dl) > ((json_int_t)1 << 30))
            return harness_v_expected(err, errlen, p, "an integer in [1, 1073741824] (bytes)", dl);
        tp->declared_length = (long)json_integer_value(dl);
    }
    if (sb) {
        harness_v_fmt(p, sizeof p, "%s.sent_bytes", path);
        if (!dl)
            return harness_v_expected(err, errlen, p,
                                      "no sent_bytes without declared_length (it cuts a declared "
                                      "body)",
                                      sb);
        if (!json_is_integer(sb) || json_integer_value(sb) < 0 ||
            json_integer_value(sb) >= tp->declared_length)
            return harness_v_expected(err, errlen, p,
                                      "an integer in [0, declared_length) (bytes sent before the "
                                      "stall)",
                                      sb);
        tp->sent_bytes = (long)json_integer_value(sb);
    }
    json_t *tr = json_object_get(t, "trickle_ms");
    if (tr) {
        harness_v_fmt(p, sizeof p, "%s.trickle_ms", path);
        if (!dl)
            return harness_v_expected(err, errlen, p,
                                      "no trickle_ms without declared_length (it paces a declared "
                                      "body)",
                                      tr);
        if (!json_is_integer(tr) || json_integer_value(tr) < 1 || json_integer_value(tr) > 60000)
            return harness_v_expected(err, errlen, p, "an integer in [1, 60000] (ms between bytes)",
                                      tr);
        tp->trickle_ms = (long)json_integer_value(tr);
    }
    if (ec) {
        harness_v_fmt(p, sizeof p, "%s.expect_continue", path);
        if (!json_is_boolean(ec))
            return harness_v_expected(err, errlen, p, "true or false", ec);
        tp->expect_continue = json_is_true(ec);
    }
    return 0;
}

/* One template at path; names must differ within the phase. */
static int parse_template(struct harness_phase *f, const json_t *t, const char *path, int in_list,
                          char *err, size_t errlen)
{
    struct harness_template *tp = &f->tpl[f->n_tpl];
    char p[300];
    memset(tp, 0, sizeof *tp);
    if (!json_is_object(t))
        return harness_v_expected(err, errlen, path, "a request template object with body or raw",
                                  t);
    if (harness_v_keys(t, path, template_keys, err, errlen) != 0)
        return -1;
    json_t *v;
    if ((v = json_object_get(t, "name"))) {
        harness_v_fmt(p, sizeof p, "%s.name", path);
        if (!json_is_string(v) || json_string_length(v) >= sizeof tp->name ||
            !harness_v_safe_name(json_string_value(v), 0))
            return harness_v_expected(err, errlen, p,
                                      "a name of 1..31 letters, digits, '.', '_' and '-'", v);
        for (int i = 0; i < f->n_tpl; i++)
            if (strcmp(f->tpl[i].name, json_string_value(v)) == 0)
                return harness_v_expected(err, errlen, p, "a template name not used before", v);
        snprintf(tp->name, sizeof tp->name, "%s", json_string_value(v));
    }
    tp->weight = 1;
    if (json_object_get(t, "weight") && !in_list) {
        harness_v_fmt(p, sizeof p, "%s.weight", path);
        return harness_v_expected(err, errlen, p, "no weight (weights are for a \"requests\" list)",
                                  json_object_get(t, "weight"));
    }
    if (harness_v_number(t, "weight", path, 1e-6, 1e6, &tp->weight, err, errlen) != 0)
        return -1;
    snprintf(tp->method, sizeof tp->method, "POST");
    if ((v = json_object_get(t, "method"))) {
        harness_v_fmt(p, sizeof p, "%s.method", path);
        if (harness_v_enum(v, p, template_methods, err, errlen) != 0)
            return -1;
        snprintf(tp->method, sizeof tp->method, "%s", json_string_value(v));
    }
    snprintf(tp->path, sizeof tp->path, "/v1/chat/completions");
    if ((v = json_object_get(t, "path"))) {
        harness_v_fmt(p, sizeof p, "%s.path", path);
        if (!json_is_string(v) || json_string_length(v) >= sizeof tp->path ||
            !request_path_ok(json_string_value(v)))
            return harness_v_expected(err, errlen, p,
                                      "a path of 1..127 printable characters starting with '/'", v);
        snprintf(tp->path, sizeof tp->path, "%s", json_string_value(v));
    }
    json_t *body = json_object_get(t, "body"), *raw = json_object_get(t, "raw");
    if (!body == !raw)
        return harness_v_expected(err, errlen, path, "exactly one of body (JSON) or raw (a string)",
                                  t);
    json_t *ct = json_object_get(t, "content_type");
    harness_v_fmt(p, sizeof p, "%s.content_type", path);
    if (ct &&
        (!json_is_string(ct) || !json_string_length(ct) ||
         json_string_length(ct) >= sizeof tp->ctype || strpbrk(json_string_value(ct), "\r\n")))
        return harness_v_expected(err, errlen, p, "a media type such as \"text/plain\"", ct);
    if (raw && !ct)
        return harness_v_expected(err, errlen, p, "the raw body's Content-Type (required with raw)",
                                  NULL);
    snprintf(tp->ctype, sizeof tp->ctype, "%s", ct ? json_string_value(ct) : "application/json");
    tp->max_tokens = -1;
    if ((v = json_object_get(t, "headers"))) {
        harness_v_fmt(p, sizeof p, "%s.headers", path);
        if (template_headers(tp, v, p, err, errlen) != 0)
            return -1;
    }
    if (template_stall(tp, t, path, err, errlen) != 0)
        return -1;
    if (raw) {
        harness_v_fmt(p, sizeof p, "%s.raw", path);
        if (!json_is_string(raw) || json_string_length(raw) > HARNESS_SCENARIO_MAX_BYTES / 4)
            return harness_v_expected(err, errlen, p, "a string (the body's bytes)", raw);
        tp->raw = json_incref(raw);
    } else {
        harness_v_fmt(p, sizeof p, "%s.body", path);
        if (template_body(tp, body, p, err, errlen) != 0)
            return -1;
    }
    f->n_tpl++;
    return 0;
}

/* "request" (one template) or "requests" (a weighted list) of a phase. */
static int parse_templates(struct harness_scenario *s, struct harness_phase *f, const json_t *ph,
                           const char *path, char *err, size_t errlen)
{
    json_t *one = json_object_get(ph, "request"), *list = json_object_get(ph, "requests");
    char p[300];
    if (!one && !list)
        return 0;
    if (one && list) {
        harness_v_fmt(p, sizeof p, "%s.requests", path);
        return harness_v_expected(err, errlen, p, "request or requests, not both", list);
    }
    for (const char *const *k = plain_request_keys; *k; k++) {
        if (!json_object_get(ph, *k))
            continue;
        harness_v_fmt(p, sizeof p, "%s.%s", path, *k);
        return harness_v_expected(err, errlen, p,
                                  "nothing next to request/requests (a template carries its own "
                                  "body, path and model)",
                                  json_object_get(ph, *k));
    }
    int rc = 0;
    if (one) {
        harness_v_fmt(p, sizeof p, "%s.request", path);
        rc = parse_template(f, one, p, 0, err, errlen);
    } else if (!json_is_array(list) || !json_array_size(list) ||
               json_array_size(list) > HARNESS_MAX_TEMPLATES) {
        harness_v_fmt(p, sizeof p, "%s.requests", path);
        return harness_v_expected(err, errlen, p, "an array of 1..8 request templates", list);
    } else {
        /* Every template's error, each recorded (err left empty). */
        size_t i;
        json_t *t;
        json_array_foreach(list, i, t)
        {
            harness_v_fmt(p, sizeof p, "%s.requests[%zu]", path, i);
            if (parse_template(f, t, p, 1, err, errlen) != 0) {
                json_decref(f->tpl[f->n_tpl].body);
                json_decref(f->tpl[f->n_tpl].raw);
                memset(&f->tpl[f->n_tpl], 0, sizeof f->tpl[0]);
                collect(s, err);
                rc = -1;
            }
        }
        if (rc)
            err[0] = '\0';
    }
    if (rc == 0 && f->n_tpl) {
        /* What the phase's requests carry, for the checks' view of a
         * template-less phase: the first template's. */
        const struct harness_template *t0 = &f->tpl[0];
        f->stream = t0->stream;
        memcpy(f->model, t0->model, sizeof f->model);
        f->max_tokens = (int)t0->max_tokens;
        size_t pl = strlen(t0->path) < sizeof f->path - 1 ? strlen(t0->path) : sizeof f->path - 1;
        memcpy(f->path, t0->path, pl);
        f->path[pl] = '\0';
    }
    return rc;
}

/* The template names of every phase, for checks that select one. */
static int template_known(const struct harness_scenario *s, const char *name)
{
    for (int i = 0; i < s->n_phases; i++)
        for (int k = 0; k < s->phases[i].n_tpl; k++)
            if (strcmp(s->phases[i].tpl[k].name, name) == 0)
                return 1;
    return 0;
}

static void templates_free(struct harness_phase *f)
{
    for (int k = 0; k < HARNESS_MAX_TEMPLATES; k++) {
        json_decref(f->tpl[k].body);
        json_decref(f->tpl[k].raw);
        f->tpl[k].body = f->tpl[k].raw = NULL;
    }
    f->n_tpl = 0;
}

static const char *const phase_keys[] = {
    "rate_rps", "concurrency", "duration_ms", "count",      "start_ms",    "stream",  "model",
    "prompt",   "max_tokens",  "timeout_ms",  "client_key", "client_keys", "arrival", "path",
    "request",  "requests",    "name",        "start",      "threads",     NULL};
static const char *const arrivals[] = {"uniform", "poisson", NULL};

/* When phase i (not yet counted in s->n_phases) may expect phase i-1 to be
 * over, every request answered: its schedule's end plus its client timeout
 * (the last request may take that long), or for a closed loop bounded by
 * count one timeout per wave. */
static uint64_t phase_done_estimate_us(const struct harness_phase *f)
{
    uint64_t d = f->duration_us;
    if (!d && f->rate_rps > 0)
        d = (uint64_t)((double)f->count / f->rate_rps * 1e6);
    if (f->concurrency > 0 && !f->duration_us)
        d = f->timeout_us * (uint64_t)((f->count + f->concurrency - 1) / f->concurrency);
    else
        d += f->timeout_us;
    return f->start_us + d;
}

/* A phase's "start": {"after": "previous", "delay_ms": D}.  Sets the phase's
 * after_prev and delay and *start to an estimate in ms (docs/scenarios.md,
 * "Phases that start after the previous one"). */
static int parse_after(struct harness_scenario *s, json_t *ph, json_t *st, const char *path,
                       double *start, char *err, size_t errlen)
{
    static const char *const keys[] = {"after", "delay_ms", NULL};
    static const char *const afters[] = {"previous", NULL};
    struct harness_phase *f = &s->phases[s->n_phases];
    char p[160];
    harness_v_fmt(p, sizeof p, "%s.start", path);
    if (!json_is_object(st))
        return harness_v_expected(err, errlen, p, "{\"after\": \"previous\", \"delay_ms\": N}", st);
    if (harness_v_keys(st, p, keys, err, errlen) != 0)
        return -1;
    if (json_object_get(ph, "start_ms")) {
        harness_v_fmt(p, sizeof p, "%s.start_ms", path);
        return harness_v_expected(err, errlen, p, "start_ms or start, not both",
                                  json_object_get(ph, "start_ms"));
    }
    char ap[180];
    harness_v_fmt(ap, sizeof ap, "%s.after", p);
    if (harness_v_enum(json_object_get(st, "after"), ap, afters, err, errlen) != 0)
        return -1;
    if (s->n_phases == 0)
        return harness_v_expected(err, errlen, ap, "a phase before this one (this is the first)",
                                  json_object_get(st, "after"));
    double delay = 0;
    if (harness_v_number(st, "delay_ms", p, 0, 600000, &delay, err, errlen) != 0)
        return -1;
    f->after_prev = 1;
    f->after_delay_us = (uint64_t)(delay * 1000.0);
    *start =
        (double)(phase_done_estimate_us(&s->phases[s->n_phases - 1]) + f->after_delay_us) / 1000.0;
    return 0;
}

static int parse_phase(struct harness_scenario *s, json_t *ph, const char *path, uint64_t *next,
                       long *total, char *err, size_t errlen)
{
    struct harness_phase *f = &s->phases[s->n_phases];
    char p[160];
    memset(f, 0, sizeof *f); /* a phase that failed to parse may have left this slot half set */
    if (!json_is_object(ph))
        return harness_v_expected(err, errlen, path, "a traffic phase object", ph);
    if (harness_v_keys(ph, path, phase_keys, err, errlen) != 0)
        return -1;
    double rate = 0, conc = 0, dur = 0, count = 0, start = -1, maxt = 64, timeout = 10000;
    double threads = 1;
    if (harness_v_number(ph, "rate_rps", path, 0.01, 5000, &rate, err, errlen) ||
        harness_v_number(ph, "threads", path, 1, HARNESS_MAX_THREADS, &threads, err, errlen) ||
        harness_v_number(ph, "concurrency", path, 1, 256, &conc, err, errlen) ||
        harness_v_number(ph, "duration_ms", path, 1, 600000, &dur, err, errlen) ||
        harness_v_number(ph, "count", path, 1, HARNESS_MAX_REQUESTS, &count, err, errlen) ||
        harness_v_number(ph, "start_ms", path, 0, 3600000, &start, err, errlen) ||
        harness_v_number(ph, "max_tokens", path, 1, 100000, &maxt, err, errlen) ||
        harness_v_number(ph, "timeout_ms", path, 1, 600000, &timeout, err, errlen))
        return -1;
    if ((rate > 0) == (conc > 0))
        return harness_v_expected(err, errlen, path, "exactly one of rate_rps or concurrency", ph);
    if (threads != (double)(int)threads) {
        char exp[64];
        harness_v_fmt(p, sizeof p, "%s.threads", path);
        snprintf(exp, sizeof exp, "a whole number of threads from 1 to %d", HARNESS_MAX_THREADS);
        return harness_v_expected(err, errlen, p, exp, json_object_get(ph, "threads"));
    }
    if (dur <= 0 && count <= 0)
        return harness_v_expected(err, errlen, path, "duration_ms or count", ph);
    json_t *after = json_object_get(ph, "start");
    if (after && parse_after(s, ph, after, path, &start, err, errlen) != 0)
        return -1;
    if (start < 0) {
        if (*next == UINT64_MAX) {
            harness_v_fmt(p, sizeof p, "%s.start_ms", path);
            return harness_v_expected(err, errlen, p,
                                      "a start time (the previous phase has no duration_ms)", NULL);
        }
        start = (double)*next / 1000.0;
    }
    f->start_us = (uint64_t)(start * 1000.0);
    f->rate_rps = rate;
    f->concurrency = (int)conc;
    f->threads = (int)threads;
    f->duration_us = (uint64_t)(dur * 1000.0);
    f->count = (int)count;
    f->max_tokens = (int)maxt;
    f->timeout_us = (uint64_t)(timeout * 1000.0);
    /* After a phase that starts when its predecessor is done, the next one
     * names its own start: the time it would follow on is not known. */
    *next = dur > 0 && !f->after_prev ? f->start_us + f->duration_us : UINT64_MAX;
    long expected_n = count > 0 ? (long)count : HARNESS_MAX_REQUESTS;
    if (rate > 0 && dur > 0 && rate * dur / 1000.0 < expected_n)
        expected_n = (long)(rate * dur / 1000.0) + 1;
    *total += expected_n;
    if (rate > 0 && *total > HARNESS_MAX_REQUESTS) {
        char exp[96];
        snprintf(exp, sizeof exp, "at most %d requests in a scenario", HARNESS_MAX_REQUESTS);
        return harness_v_expected(err, errlen, path, exp, ph);
    }

    json_t *v;
    if ((v = json_object_get(ph, "stream"))) {
        harness_v_fmt(p, sizeof p, "%s.stream", path);
        if (!json_is_boolean(v))
            return harness_v_expected(err, errlen, p, "true or false", v);
        f->stream = json_is_true(v);
    }
    if ((v = json_object_get(ph, "arrival"))) {
        harness_v_fmt(p, sizeof p, "%s.arrival", path);
        if (harness_v_enum(v, p, arrivals, err, errlen) != 0)
            return -1;
        f->arrival = strcmp(json_string_value(v), "poisson") == 0 ? HARNESS_ARRIVAL_POISSON
                                                                  : HARNESS_ARRIVAL_UNIFORM;
    }
    static const struct {
        const char *key;
        size_t off, len;
    } strs[] = {
        {"model", offsetof(struct harness_phase, model), sizeof f->model},
        {"prompt", offsetof(struct harness_phase, prompt), sizeof f->prompt},
        {"path", offsetof(struct harness_phase, path), sizeof f->path},
        {"name", offsetof(struct harness_phase, name), sizeof f->name},
    };
    snprintf(f->model, sizeof f->model, "gpt-4.1");
    snprintf(f->prompt, sizeof f->prompt, "Say hello.");
    snprintf(f->path, sizeof f->path, "/v1/chat/completions");
    for (size_t k = 0; k < sizeof strs / sizeof strs[0]; k++) {
        if (!(v = json_object_get(ph, strs[k].key)))
            continue;
        harness_v_fmt(p, sizeof p, "%s.%s", path, strs[k].key);
        if (!json_is_string(v) || json_string_length(v) >= strs[k].len)
            return harness_v_expected(err, errlen, p, "a short string", v);
        snprintf((char *)f + strs[k].off, strs[k].len, "%s", json_string_value(v));
    }
    for (int k = 0; f->name[0] && k < s->n_phases; k++)
        if (strcmp(s->phases[k].name, f->name) == 0) {
            harness_v_fmt(p, sizeof p, "%s.name", path);
            return harness_v_expected(err, errlen, p, "a phase name not used before",
                                      json_object_get(ph, "name"));
        }
    if (strncmp(f->path, "/v1/", 4) != 0) {
        harness_v_fmt(p, sizeof p, "%s.path", path);
        return harness_v_expected(err, errlen, p, "a path starting with /v1/",
                                  json_object_get(ph, "path"));
    }
    json_t *key = json_object_get(ph, "client_key"), *keys = json_object_get(ph, "client_keys");
    if (key && keys) {
        harness_v_fmt(p, sizeof p, "%s.client_keys", path);
        return harness_v_expected(err, errlen, p, "client_key or client_keys, not both", keys);
    }
    if (key) {
        harness_v_fmt(p, sizeof p, "%s.client_key", path);
        if (!json_is_string(key) || json_string_length(key) >= 64)
            return harness_v_expected(err, errlen, p, "a string", key);
        snprintf(f->keys[0], sizeof f->keys[0], "%s", json_string_value(key));
        f->n_keys = 1;
    }
    if (keys) {
        harness_v_fmt(p, sizeof p, "%s.client_keys", path);
        if (!json_is_array(keys) || !json_array_size(keys) ||
            json_array_size(keys) > HARNESS_MAX_KEYS)
            return harness_v_expected(err, errlen, p, "an array of 1..8 strings", keys);
        size_t i;
        json_array_foreach(keys, i, v)
        {
            harness_v_fmt(p, sizeof p, "%s.client_keys[%zu]", path, i);
            if (!json_is_string(v) || json_string_length(v) >= 64)
                return harness_v_expected(err, errlen, p, "a string", v);
            snprintf(f->keys[i], sizeof f->keys[i], "%s", json_string_value(v));
        }
        f->n_keys = (int)json_array_size(keys);
    }
    if (parse_templates(s, f, ph, path, err, errlen) != 0) {
        templates_free(f);
        return -1;
    }
    s->n_phases++;
    return 0;
}

static int parse_traffic(struct harness_scenario *s, json_t *tr, char *err, size_t errlen)
{
    if (!tr)
        return harness_v_expected(err, errlen, "$.traffic", "a traffic phase (required)", NULL);
    uint64_t next = 0;
    long total = 0;
    if (json_is_object(tr))
        return parse_phase(s, tr, "$.traffic", &next, &total, err, errlen);
    if (!json_is_array(tr) || !json_array_size(tr) || json_array_size(tr) > HARNESS_MAX_PHASES)
        return harness_v_expected(err, errlen, "$.traffic", "a phase or an array of 1..16 phases",
                                  tr);
    size_t i;
    json_t *ph;
    int bad = 0;
    json_array_foreach(tr, i, ph)
    {
        char p[64];
        harness_v_fmt(p, sizeof p, "$.traffic[%zu]", i);
        if (parse_phase(s, ph, p, &next, &total, err, errlen) != 0) {
            if (err[0]) /* else the phase recorded its errors itself */
                collect(s, err);
            bad++;
        }
    }
    err[0] = '\0';
    return bad ? -1 : 0;
}

/* A check's "phase": an index below the number of phases, or the name of
 * one (replaced by its index in c). */
static int resolve_phase(struct harness_scenario *s, json_t *c, const char *path, char *err,
                         size_t errlen)
{
    json_t *ph = json_object_get(c, "phase");
    char p[96];
    harness_v_fmt(p, sizeof p, "%s.phase", path);
    if (json_is_integer(ph)) {
        if (json_integer_value(ph) < s->n_phases)
            return 0;
        char exp[64];
        snprintf(exp, sizeof exp, "a phase index below %d (the phases)", s->n_phases);
        return harness_v_expected(err, errlen, p, exp, ph);
    }
    if (!json_is_string(ph))
        return 0;
    const char *names[HARNESS_MAX_PHASES + 1];
    int n = 0;
    for (int k = 0; k < s->n_phases; k++) {
        if (strcmp(s->phases[k].name, json_string_value(ph)) == 0) {
            json_object_set_new(c, "phase", json_integer(k));
            return 0;
        }
        if (s->phases[k].name[0])
            names[n++] = s->phases[k].name;
    }
    names[n] = NULL;
    if (n == 0)
        return harness_v_expected(err, errlen, p, "a phase index (no phase has a \"name\")", ph);
    return harness_v_enum(ph, p, names, err, errlen);
}

/* timeline_ok: the marks are known (else a check's "after" cannot be
 * judged and is not, rather than blamed for the timeline's error).
 * traffic_ok: the phases are known (else a check's "phase" is not judged). */
static int parse_expect(struct harness_scenario *s, json_t *ex, int timeline_ok, int traffic_ok,
                        char *err, size_t errlen)
{
    if (!json_is_array(ex) || !json_array_size(ex) || json_array_size(ex) > HARNESS_MAX_CHECKS)
        return harness_v_expected(err, errlen, "$.expect",
                                  "an array of 1..64 checks (a scenario that checks nothing "
                                  "cannot fail)",
                                  ex);
    const char *marks[HARNESS_MAX_TIMELINE + 2];
    size_t n = 0;
    marks[n++] = "start";
    for (int i = 0; i < s->n_steps; i++)
        if (s->steps[i].mark[0])
            marks[n++] = s->steps[i].mark;
    marks[n] = NULL;
    size_t i;
    json_t *c;
    int bad = 0;
    /* The checks as the runner reads them: a phase named by its "name" is
     * resolved to its index here (the scenario's copy in results.json keeps
     * the name). */
    json_t *resolved = json_deep_copy(ex);
    json_array_foreach(resolved, i, c)
    {
        char p[64];
        harness_v_fmt(p, sizeof p, "$.expect[%zu]", i);
        if (harness_check_validate(c, p, timeline_ok ? marks : NULL, err, errlen) != 0 ||
            (traffic_ok && resolve_phase(s, c, p, err, errlen) != 0)) {
            collect(s, err);
            bad++;
            continue;
        }
        /* A check of one replica names a replica of the fleet (the runner
         * checks it again against --replicas), as a step's replica does. */
        json_t *rep = json_object_get(c, "replica");
        if (json_is_integer(rep) && json_integer_value(rep) >= s->fleet.replicas) {
            char rp[96], exp[128];
            harness_v_fmt(rp, sizeof rp, "$.expect[%zu].replica", i);
            snprintf(exp, sizeof exp, "a replica index 0..%d (\"fleet\": {\"replicas\": %d})",
                     s->fleet.replicas - 1, s->fleet.replicas);
            harness_v_expected(err, errlen, rp, exp, rep);
            collect(s, err);
            bad++;
            continue;
        }
        if (json_is_integer(rep) && json_integer_value(rep) > s->max_replica_check)
            s->max_replica_check = (int)json_integer_value(rep);
        /* A check of one template's requests names a template of the traffic. */
        json_t *tn = json_object_get(c, "template");
        if (json_is_string(tn) && traffic_ok && !template_known(s, json_string_value(tn))) {
            char tp[96];
            harness_v_fmt(tp, sizeof tp, "$.expect[%zu].template", i);
            harness_v_expected(err, errlen, tp, "the name of a request template of the traffic",
                               tn);
            collect(s, err);
            bad++;
        }
    }
    err[0] = '\0';
    if (bad) {
        json_decref(resolved);
        return -1;
    }
    s->checks = resolved;
    return 0;
}

/* The end of the traffic (µs after its start), or 0 when a phase has no
 * known end (bounded by count alone). */
static uint64_t traffic_end_us(const struct harness_scenario *s)
{
    uint64_t end = 0;
    for (int i = 0; i < s->n_phases; i++) {
        const struct harness_phase *f = &s->phases[i];
        uint64_t d = f->duration_us;
        if (!d && f->rate_rps > 0)
            d = (uint64_t)((double)f->count / f->rate_rps * 1e6);
        if (!d)
            return 0;
        if (f->start_us + d > end)
            end = f->start_us + d;
    }
    return end;
}

/* A timeline step after the traffic has ended changes nothing anyone
 * observes: its checks could only be inconclusive, or pass by checking
 * nothing. */
static void steps_within_traffic(struct harness_scenario *s, json_t *tl)
{
    uint64_t end = traffic_end_us(s);
    if (!end)
        return;
    for (int i = 0; i < s->n_steps; i++) {
        if (s->steps[i].at_us <= end || s->steps[i].after_traffic)
            continue;
        char p[64], exp[128], e[640];
        harness_v_fmt(p, sizeof p, "$.timeline[%d].at_ms", i);
        snprintf(exp, sizeof exp, "a time within the traffic (0..%llu ms)",
                 (unsigned long long)(end / 1000));
        harness_v_expected(e, sizeof e, p, exp,
                           json_object_get(json_array_get(tl, (size_t)i), "at_ms"));
        collect(s, e);
    }
}

uint64_t harness_scenario_span_us(const struct harness_scenario *s)
{
    uint64_t end = 0, after = 0;
    for (int i = 0; i < s->n_steps; i++) {
        if (s->steps[i].after_traffic && s->steps[i].after_delay_us > after)
            after = s->steps[i].after_delay_us;
        if (s->steps[i].at_us > end)
            end = s->steps[i].at_us;
    }
    for (int i = 0; i < s->n_phases; i++) {
        const struct harness_phase *f = &s->phases[i];
        uint64_t d = f->duration_us;
        if (!d && f->rate_rps > 0)
            d = (uint64_t)((double)f->count / f->rate_rps * 1e6);
        if (!d) /* closed loop bounded by count: assume the client timeout per wave */
            d = f->timeout_us * (uint64_t)((f->count + f->concurrency - 1) / f->concurrency);
        if (f->start_us + d > end)
            end = f->start_us + d;
    }
    return end + after;
}

struct harness_scenario *harness_scenario_from_json(json_t *in, const char *file, double time_scale,
                                                    char *err, size_t errlen)
{
    struct harness_scenario *s = co_calloc(1, sizeof *s);
    char msg[4096]; /* a check may report several errors, one per line */
    msg[0] = '\0';
    snprintf(s->file, sizeof s->file, "%s", file);
    const char *slash = strrchr(file, '/');
    if (slash) {
        const char *start = file;
        /* The folder relative to the library root: the last component. */
        const char *prev = NULL;
        for (const char *q = file; q < slash; q++)
            if (*q == '/')
                prev = q;
        if (prev)
            start = prev + 1;
        size_t n = (size_t)(slash - start);
        snprintf(s->folder, sizeof s->folder, "%.*s", (int)n, start);
    } else {
        snprintf(s->folder, sizeof s->folder, ".");
    }
    s->doc = json_deep_copy(in);
    s->errs = co_calloc(1, sizeof *s->errs);
    json_t *doc = s->doc;
    if (!json_is_object(doc)) {
        harness_v_expected(msg, sizeof msg, "$", "a scenario object", doc);
        collect(s, msg);
        goto out;
    }
    harness_time_scale(doc, time_scale);
    /* Each part is validated on its own and every error recorded, so that
     * one run of `cutover validate` shows all of a file's mistakes. */
    keys_all(s, doc, "$", top_keys);
    json_t *v = json_object_get(doc, "name");
    /* Names reach terminals, file names, JUnit and report ids: a safe set
     * of characters, so no escape sequence or markup can ride on them. */
    if (!json_is_string(v) || json_string_length(v) >= sizeof s->name ||
        !harness_v_safe_name(json_string_value(v), 1)) {
        harness_v_expected(msg, sizeof msg, "$.name",
                           "a name of 1..127 letters, digits, spaces, '.', '_' and '-'", v);
        collect(s, msg);
    } else {
        snprintf(s->name, sizeof s->name, "%s", json_string_value(v));
    }
    v = json_object_get(doc, "description");
    if (v && (!json_is_string(v) || json_string_length(v) >= sizeof s->description)) {
        harness_v_expected(msg, sizeof msg, "$.description",
                           "a string of at most 1023 bytes (what the scenario protects)", v);
        collect(s, msg);
    } else if (v) {
        snprintf(s->description, sizeof s->description, "%s", json_string_value(v));
    }
    v = json_object_get(doc, "tags");
    if (v && (!json_is_array(v) || json_array_size(v) > 16)) {
        harness_v_expected(msg, sizeof msg, "$.tags", "an array of at most 16 tags", v);
        collect(s, msg);
    } else if (v) {
        size_t i;
        json_t *t;
        json_array_foreach(v, i, t)
        {
            if (!json_is_string(t) || json_string_length(t) >= 32 ||
                !harness_v_safe_name(json_string_value(t), 0)) {
                char p[32];
                harness_v_fmt(p, sizeof p, "$.tags[%zu]", i);
                harness_v_expected(msg, sizeof msg, p,
                                   "a tag of 1..31 letters, digits, '.', '_' and '-'", t);
                collect(s, msg);
                continue;
            }
            snprintf(s->tags[s->n_tags++], sizeof s->tags[0], "%s", json_string_value(t));
        }
    }
    msg[0] = '\0';
    if (parse_relay(s, json_object_get(doc, "relay"), time_scale, msg, sizeof msg) != 0 && msg[0])
        collect(s, msg);
    msg[0] = '\0';
    if (parse_upstreams(s, json_object_get(doc, "upstreams"), msg, sizeof msg) != 0 && msg[0])
        collect(s, msg);
    msg[0] = '\0';
    if (parse_fleet(s, json_object_get(doc, "fleet"), msg, sizeof msg) != 0 && msg[0])
        collect(s, msg);
    msg[0] = '\0';
    int timeline_ok = parse_timeline(s, json_object_get(doc, "timeline"), msg, sizeof msg) == 0;
    if (!timeline_ok && msg[0])
        collect(s, msg);
    msg[0] = '\0';
    int traffic_ok = parse_traffic(s, json_object_get(doc, "traffic"), msg, sizeof msg) == 0;
    if (!traffic_ok && msg[0])
        collect(s, msg);
    if (timeline_ok && traffic_ok)
        steps_within_traffic(s, json_object_get(doc, "timeline"));
    msg[0] = '\0';
    if (parse_expect(s, json_object_get(doc, "expect"), timeline_ok, traffic_ok, msg, sizeof msg) !=
            0 &&
        msg[0])
        collect(s, msg);
    double settle = 100 * (time_scale > 0 ? time_scale : 1), timeout = -1;
    if (harness_v_number(doc, "settle_ms", "$", 0, 60000, &settle, msg, sizeof msg) != 0)
        collect(s, msg);
    if (harness_v_number(doc, "timeout_ms", "$", 100, 3600000, &timeout, msg, sizeof msg) != 0)
        collect(s, msg);
    s->settle_us = (uint64_t)(settle * 1000);
    uint64_t span = harness_scenario_span_us(s);
    s->timeout_us =
        timeout > 0 ? (uint64_t)(timeout * 1000)
                    : span + s->settle_us + (uint64_t)(15e6 * (time_scale > 0 ? time_scale : 1));
    if (traffic_ok && timeline_ok && s->timeout_us <= span) {
        char exp[96];
        snprintf(exp, sizeof exp, "a timeout above the scenario's span (%llu ms)",
                 (unsigned long long)(span / 1000));
        harness_v_expected(msg, sizeof msg, "$.timeout_ms", exp,
                           json_object_get(doc, "timeout_ms"));
        collect(s, msg);
    }
out:
    if (s->errs->total == 0) {
        free(s->errs);
        s->errs = NULL;
        return s;
    }
    /* One line per error, each naming the file. */
    size_t used = 0;
    if (errlen)
        err[0] = '\0';
    for (int i = 0; i < s->errs->n && used < errlen; i++) {
        int w =
            snprintf(err + used, errlen - used, "%s%s: %s", i ? "\n" : "", file, s->errs->msg[i]);
        used += w > 0 ? (size_t)w : 0;
    }
    if (s->errs->total > s->errs->n && used < errlen)
        snprintf(err + used, errlen - used, "\n%s: %d more error(s) not shown (the first %d are)",
                 file, s->errs->total - s->errs->n, s->errs->n);
    free(s->errs);
    s->errs = NULL;
    harness_scenario_free(&s);
    return NULL;
}

struct harness_scenario *harness_scenario_load(const char *path, double time_scale, char *err,
                                               size_t errlen)
{
    /* A scenario is a page of JSON; refusing a huge file before parsing
     * keeps a stray 10 MB file from costing hundreds of MB of JSON tree,
     * and a FIFO named x.json is refused instead of waited on. */
    json_t *doc = co_json_load_file_max(path, HARNESS_SCENARIO_MAX_BYTES, err, errlen);
    if (!doc)
        return NULL;
    struct harness_scenario *s = harness_scenario_from_json(doc, path, time_scale, err, errlen);
    json_decref(doc);
    return s;
}

void harness_scenario_free(struct harness_scenario **sp)
{
    struct harness_scenario *s = *sp;
    if (!s)
        return;
    json_decref(s->doc);
    json_decref(s->relay);
    json_decref(s->checks);
    for (int c = 0; c < 2; c++)
        json_decref(s->upstream[c]);
    json_decref(s->direct);
    for (int i = 0; i < HARNESS_MAX_PHASES; i++)
        templates_free(&s->phases[i]);
    for (int i = 0; i < HARNESS_MAX_TIMELINE; i++) {
        json_decref(s->steps[i].behavior[0]);
        json_decref(s->steps[i].behavior[1]);
        json_decref(s->steps[i].admin_body);
    }
    free(s);
    *sp = NULL;
}

int harness_scenario_has_tag(const struct harness_scenario *s, const char *tag)
{
    for (int i = 0; i < s->n_tags; i++)
        if (strcmp(s->tags[i], tag) == 0)
            return 1;
    return 0;
}

void harness_scenario_tags(const struct harness_scenario *s, char *out, size_t n)
{
    out[0] = '\0';
    for (int i = 0; i < s->n_tags; i++) {
        size_t len = strlen(out);
        snprintf(out + len, n - len, "%s%s", i ? "," : "", s->tags[i]);
    }
}

/* File collection: a growable list of paths. */
struct plist {
    char **v;
    int n, cap;
};

static void plist_add(struct plist *l, const char *p)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 32;
        l->v = co_realloc(l->v, (size_t)l->cap * sizeof *l->v);
    }
    l->v[l->n++] = co_strdup(p);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Directories and files seen, by device and inode: a symlink loop (or two
 * links to one folder) is walked once, and each file is listed once. */
struct seen {
    struct {
        dev_t dev;
        ino_t ino;
    } * v;
    size_t n, cap;
};

static int seen_add(struct seen *s, const struct stat *st)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].dev == st->st_dev && s->v[i].ino == st->st_ino)
            return 0;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = co_realloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n].dev = st->st_dev;
    s->v[s->n].ino = st->st_ino;
    s->n++;
    return 1;
}

static int walk(const char *path, struct plist *l, struct seen *seen, int depth, char *err,
                size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        E("%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        /* A FIFO or device is kept: loading it says what it is. */
        if (seen_add(seen, &st))
            plist_add(l, path);
        return 0;
    }
    if (depth > 8 || !seen_add(seen, &st))
        return 0;
    DIR *d = opendir(path);
    if (!d) {
        E("%s: %s", path, strerror(errno));
        return -1;
    }
    /* Sorted first, so that which of two names of one file is listed does
     * not depend on the order of the directory. */
    struct plist names = {0};
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            plist_add(&names, e->d_name);
    closedir(d);
    qsort(names.v, (size_t)names.n, sizeof *names.v, cmp_str);
    int rc = 0;
    for (int i = 0; i < names.n && rc == 0; i++) {
        const char *name = names.v[i];
        char *child = co_asprintf("%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/", name);
        struct stat cs;
        if (stat(child, &cs) == 0) {
            size_t n = strlen(name);
            if (S_ISDIR(cs.st_mode))
                rc = walk(child, l, seen, depth + 1, err, errlen);
            else if (n > 5 && strcmp(name + n - 5, ".json") == 0 && seen_add(seen, &cs))
                plist_add(l, child);
        }
        free(child);
    }
    harness_paths_free(names.v, names.n);
    return rc;
}

int harness_collect_files(char **paths, int n, char ***out, char *err, size_t errlen)
{
    struct plist l = {0};
    struct seen seen = {0};
    for (int i = 0; i < n; i++) {
        int before = l.n;
        if (walk(paths[i], &l, &seen, 0, err, errlen) != 0) {
            harness_paths_free(l.v, l.n);
            free(seen.v);
            return -1;
        }
        qsort(l.v + before, (size_t)(l.n - before), sizeof *l.v, cmp_str);
    }
    free(seen.v);
    *out = l.v;
    return l.n;
}

void harness_paths_free(char **files, int n)
{
    for (int i = 0; i < n; i++)
        free(files[i]);
    free(files);
}

/* The relay config keys a scenario may set, NULL-terminated (relay
 * profiles validate their "settings" against them). */
const char *const *harness_relay_key_names(void)
{
    static const char *names[N_RELAY_KEYS + 1];
    for (size_t i = 0; i < N_RELAY_KEYS; i++)
        names[i] = relay_keys[i].name;
    names[N_RELAY_KEYS] = NULL;
    return names;
}

int harness_relay_key_info(const char *name, int64_t *min, int64_t *max, const char *const **words)
{
    for (size_t i = 0; i < N_RELAY_KEYS; i++) {
        const struct relay_key *rk = &relay_keys[i];
        if (strcmp(rk->name, name) != 0)
            continue;
        *min = rk->min;
        *max = rk->max;
        *words = rk->words;
        return rk->type == RK_UINT;
    }
    return -1;
}

int harness_relay_validate(const json_t *relay, const char *path, char *err, size_t errlen)
{
    struct harness_scenario *s = co_calloc(1, sizeof *s);
    s->errs = co_calloc(1, sizeof *s->errs);
    char e[1024] = "";
    int rc = parse_relay(s, (json_t *)relay, 1.0, e, sizeof e);
    if (rc != 0) {
        /* The first error (the others are the profile's next fix); the
         * scenario's "$.relay" reads as the caller's path. */
        const char *first = s->errs->n ? s->errs->msg[0] : e;
        const char *rest = strncmp(first, "$.relay", 7) == 0 ? first + 7 : first;
        snprintf(err, errlen, "%s%s", path, rest);
    }
    json_decref(s->relay);
    free(s->errs);
    free(s);
    return rc;
}
