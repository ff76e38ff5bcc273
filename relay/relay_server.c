/* The relay's front: the routing table, the endpoints answered locally
 * (/health, /api/metrics, /metrics, /admin/), the checks every proxied
 * request passes first (client key, rate limit), the errors in OpenAI's
 * envelope (404, 405, 413, 400), and the process around the loop: the
 * ready line, SIGTERM drain, cleanup. */
#include "relay.h"

#include "co_buf.h"
#include "co_clock.h"
#include "co_json.h"
#include "co_log.h"
#include "co_mem.h"
#include "co_rng.h"
#include "relay_front.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Per connection-request state (MHD's con_cls). */
struct ctx {
    const struct relay_front_route *route;
    struct relay_req *q; /* RF_PROXY */
    struct co_buf body;  /* local routes that take a body (admin) */
    int too_big;
    int checked;                   /* client key and rate limit passed */
    struct relay_shared_wait wait; /* the fleet's rate-limit verdict (--shared) */
};

enum MHD_Result relay_respond(struct MHD_Connection *c, unsigned status, const char *ctype,
                              const char *body, size_t len, const char *const *headers)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", ctype);
    for (const char *const *h = headers; h && h[0] && h[1]; h += 2)
        MHD_add_response_header(r, h[0], h[1]);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

void relay_too_large_msg(const struct relay *r, char *out, size_t n)
{
    snprintf(out, n, "Request body exceeds the limit of %lld bytes",
             (long long)r->cfg.max_body_bytes);
}

enum MHD_Result relay_respond_error(struct MHD_Connection *c, unsigned status, const char *message,
                                    const char *type, const char *param, const char *code,
                                    const char *const *headers)
{
    char *body = co_openai_error(message, type, param, code);
    enum MHD_Result ret = relay_respond(c, status, "application/json", body, strlen(body), headers);
    free(body);
    return ret;
}

enum MHD_Result relay_respond_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
    json_decref(j);
    if (!s) /* json_pack refused a value: say so rather than crash */
        return relay_respond_error(c, 500, "The relay could not encode its answer", "server_error",
                                   NULL, "internal_error", NULL);
    enum MHD_Result ret = relay_respond(c, status, "application/json", s, strlen(s), NULL);
    free(s);
    return ret;
}

static enum MHD_Result do_health(struct relay *r, struct MHD_Connection *c)
{
    int b = relay_switch_healthy(&r->sw, RELAY_BLUE), g = relay_switch_healthy(&r->sw, RELAY_GREEN);
    const char *status = b && g ? "healthy" : b || g ? "degraded" : "unhealthy";
    char when[CO_RFC3339_LEN];
    json_t *envs = json_pack("{s:b, s:b}", "blue", b, "green", g);
    if (r->url[RELAY_DIRECT])
        json_object_set_new(envs, "direct", json_true());
    /* No side effects: a health probe reads state, it never triggers checks
     * or switches (the seed's did). */
    json_t *h =
        json_pack("{s:s, s:s, s:s, s:o, s:b}", "status", status, "active_env",
                  relay_env_name(r->sw.active), "timestamp", co_wall_rfc3339(when, sizeof when),
                  "environments", envs, "draining", r->draining);
    relay_health_mode(r, h);
    return relay_respond_json(c, b || g ? 200 : 503, h);
}

/* Counters kept outside the metrics module, copied in before a scrape. */
static void note_counters(struct relay *r)
{
    relay_metrics_set_counters(r->metrics, relay_ratelimit_evictions(r->rl),
                               relay_events_write_errors(r->events), r->http.read_timeouts,
                               r->budget_refusals);
}

static enum MHD_Result do_prometheus(struct relay *r, struct MHD_Connection *c)
{
    struct co_buf b;
    co_buf_init(&b, 0);
    relay_metrics_prometheus(r->metrics, &r->sw, &b);
    relay_shared_prometheus(r->shared, &b);
    enum MHD_Result ret = relay_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8",
                                        b.data ? b.data : "", b.len, NULL);
    co_buf_free(&b);
    return ret;
}

/* The client's identity for rate limiting, which a client cannot choose:
 * with client keys, its key (already checked to be one of them); without,
 * its address, or the one a trusted proxy reports (relay_front_identity).
 * A key is kept as a 64-bit hash: the limiter's table then holds no client
 * secret. */
static void client_key(struct relay *r, struct MHD_Connection *c, char *out, size_t n)
{
    if (r->cfg.nclient_keys) {
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        snprintf(out, n, "key:%016llx", (unsigned long long)co_hash_str(auth ? auth + 7 : ""));
        return;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char ip[INET6_ADDRSTRLEN] = "";
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, ip, sizeof ip);
    else if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, ip,
                  sizeof ip);
    const char *xff =
        r->proxies.n ? MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For") : NULL;
    relay_front_identity(ip, xff, &r->proxies, out, n);
}

/* A short, stable, non-reversible label for a client in events. */
static void client_label(const char *key, char *out, size_t n)
{
    uint64_t h = co_hash_str(key);
    snprintf(out, n, "%08x", (unsigned)(h ^ (h >> 32)));
}

/* The rate-limit verdict: the fleet's through Redis (--shared), else, or
 * when Redis is unavailable under shared_fail=open, the local limiter's.
 * Returns 1 with v filled, 0 when the request now waits suspended for
 * Redis, -1 when it is to be refused with 503 (shared_fail=closed). */
static int limit_verdict(struct relay *r, struct MHD_Connection *c, struct ctx *x, const char *key,
                         struct relay_rl_verdict *v)
{
    if (r->shared) {
        switch (relay_shared_limit(r->shared, &x->wait, c, key, v)) {
        case RELAY_SHARED_PENDING:
            return 0;
        case RELAY_SHARED_DECIDED:
            return 1;
        case RELAY_SHARED_UNAVAILABLE:
            return -1;
        case RELAY_SHARED_LOCAL:
            break;
        }
    }
    relay_ratelimit_admit(r->rl, key, co_now_us(), v);
    return 1;
}

/* The client key check; returns MHD_YES with *answered set when the
 * request was refused.  It comes before the limiter, so an unknown key
 * creates no bucket. */
static enum MHD_Result admit_key(struct relay *r, struct MHD_Connection *c, struct relay_req *q,
                                 int *answered)
{
    *answered = 0;
    if (r->cfg.nclient_keys) {
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        int ok = 0;
        const char *given = auth && strncmp(auth, "Bearer ", 7) == 0 ? auth + 7 : "";
        for (size_t i = 0; i < r->cfg.nclient_keys; i++)
            ok |= relay_ct_equal(given, r->cfg.client_keys[i]);
        if (!ok) {
            *answered = 1;
            co_info("refused a client with a missing or unknown key");
            /* Every answered request is counted (holysheep_requests_total). */
            relay_req_refused(q, 401);
            return relay_respond_error(c, 401, "401 Unauthorized - Invalid API Key",
                                       "invalid_request_error", NULL, "invalid_api_key", NULL);
        }
    }
    return MHD_YES;
}

/* The rate limit, for a request that passed its checks (a malformed one
 * is refused without being counted); same contract as admit_key. */
static enum MHD_Result admit_rate(struct relay *r, struct MHD_Connection *c, struct ctx *x,
                                  int *answered)
{
    *answered = 0;
    if (r->cfg.rate_limit_requests == 0)
        return MHD_YES; /* no limiter: no key to work out per request */
    char key[256];
    client_key(r, c, key, sizeof key);
    struct relay_rl_verdict v;
    int got = limit_verdict(r, c, x, key, &v);
    if (got == 1 && v.admitted)
        return MHD_YES;
    *answered = 1;
    if (got == 0)
        return MHD_YES; /* suspended; the handler runs again with the verdict */
    relay_req_refused(x->q, got < 0 ? 503 : 429);
    if (got < 0)
        return relay_respond_error(c, 503,
                                   "503 Service Unavailable - the fleet's rate limit store is "
                                   "unavailable",
                                   "upstream_error", NULL, "shared_store_unavailable", NULL);
    relay_metrics_rate_limited(r->metrics);
    char label[16], ra[32], ram[32], lim[32], rem[32], reset[32];
    client_label(key, label, sizeof label);
    relay_events_emit(r->events, "rate_limit",
                      json_pack("{s:s, s:I, s:I, s:I}", "client", label, "limit",
                                (json_int_t)v.limit, "window_ms",
                                (json_int_t)r->cfg.rate_limit_window_ms, "retry_after_ms",
                                (json_int_t)v.retry_after_ms));
    snprintf(ra, sizeof ra, "%llu", (unsigned long long)((v.retry_after_ms + 999) / 1000));
    snprintf(ram, sizeof ram, "%llu", (unsigned long long)v.retry_after_ms);
    snprintf(lim, sizeof lim, "%llu", (unsigned long long)v.limit);
    snprintf(rem, sizeof rem, "%llu", (unsigned long long)v.remaining);
    snprintf(reset, sizeof reset, "%llu", (unsigned long long)((v.reset_ms + 999) / 1000));
    const char *h[] = {"Retry-After",
                       ra,
                       "retry-after-ms",
                       ram,
                       "x-ratelimit-limit",
                       lim,
                       "x-ratelimit-remaining",
                       rem,
                       "x-ratelimit-reset",
                       reset,
                       NULL};
    return relay_respond_error(c, 429, "Rate limit exceeded", "rate_limit_error", NULL,
                               "rate_limit_exceeded", h);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct relay *r = cls;
    struct ctx *x = *con_cls;
    if (!x) {
        const struct relay_front_head h = {
            .method = method,
            .url = url,
            .content_length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length"),
            .transfer_encoding =
                MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding"),
            .max_body_bytes = r->cfg.max_body_bytes,
            .n_content_length = co_evhttp_count_header(c, "Content-Length"),
        };
        struct relay_front_verdict v;
        if (relay_front_check(&h, &v)) {
            const char *hdrs[] = {v.allow ? "Allow" : "Connection", v.allow ? v.allow : "close",
                                  NULL, NULL};
            if (!v.allow && !v.close)
                hdrs[0] = NULL;
            co_evhttp_request_read(c);
            return relay_respond_error(c, v.status, v.message, "invalid_request_error", NULL,
                                       v.code, hdrs);
        }
        const struct relay_front_route *rt = v.route;
        x = co_calloc(1, sizeof *x);
        x->route = rt;
        co_buf_init(&x->body, (size_t)r->cfg.max_body_bytes);
        if (rt->kind == RF_PROXY)
            x->q = relay_req_new(r, c, (enum relay_route_kind)rt->fwd);
        *con_cls = x;
        return MHD_YES;
    }
    if (*upload_size) {
        if (x->q)
            relay_req_body(x->q, upload, *upload_size);
        else if (!x->too_big && co_buf_append(&x->body, upload, *upload_size) != 0)
            x->too_big = 1;
        *upload_size = 0;
        return MHD_YES;
    }
    co_evhttp_request_read(c);
    switch (x->route->kind) {
    case RF_PROXY:
        if (r->stopping && !x->checked)
            return relay_respond_error(c, 503, "503 Service Unavailable - the relay is stopping",
                                       "upstream_error", NULL, "shutting_down",
                                       (const char *[]){"Connection", "close", NULL});
        if (!x->checked) {
            int answered;
            enum MHD_Result ret = admit_key(r, c, x->q, &answered);
            if (!answered && relay_req_check(x->q) == 0)
                ret = admit_rate(r, c, x, &answered);
            if (answered)
                return ret;
            x->checked = 1;
        }
        return relay_req_step(x->q);
    case RF_HEALTH:
        return do_health(r, c);
    case RF_API_METRICS: {
        note_counters(r);
        json_t *m = relay_metrics_json(r->metrics, &r->sw, r->url[RELAY_DIRECT] != NULL);
        json_object_set_new(m, "policies",
                            relay_metrics_policies_json(r->metrics, &r->pol, &r->sw));
        if (r->shared)
            json_object_set_new(m, "shared", relay_shared_json(r->shared));
        return relay_respond_json(c, 200, m);
    }
    case RF_METRICS:
        note_counters(r);
        return do_prometheus(r, c);
    case RF_ADMIN:
        if (x->too_big)
            return relay_respond_error(c, 413, "Request body too large", "invalid_request_error",
                                       NULL, "request_too_large", NULL);
        return relay_admin_handle(r, c, method, url, x->body.data, x->body.len);
    }
    return MHD_NO;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct relay *r = cls;
    struct ctx *x = *con_cls;
    co_evhttp_request_next(&r->http, c);
    if (!x)
        return;
    if (x->q)
        relay_req_finished(x->q, toe);
    relay_shared_wait_release(&x->wait);
    co_buf_free(&x->body);
    free(x);
    *con_cls = NULL;
}

void relay_request_ended(struct relay *r)
{
    if (r->draining && r->inflight == 0)
        ev_break(r->loop, EVBREAK_ALL);
}

static void on_xfer_done(struct co_evcurl *cc, CURL *easy, CURLcode rc)
{
    void *p = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&p);
    if (!p)
        return;
    if (*(enum relay_xfer_kind *)p == RELAY_XFER_HEALTH)
        relay_health_xfer_done(p, easy, rc);
    else
        relay_req_xfer_done(p, easy, rc);
}

static void on_drain_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct relay *r = w->data;
    co_warn("drain timeout: %u requests still in flight are cut", r->inflight);
    ev_break(loop, EVBREAK_ALL);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct relay *r = w->data;
    if (r->draining) {
        ev_break(loop, EVBREAK_ALL); /* a second signal: stop now */
        return;
    }
    r->draining = 1;
    co_info("signal %d: draining %u requests (up to %lldms)", w->signum, r->inflight,
            (long long)r->cfg.drain_timeout_ms);
    relay_events_emit(r->events, "stop",
                      json_pack("{s:i, s:i}", "signal", w->signum, "inflight", (int)r->inflight));
    co_evhttp_quiesce(&r->http);
    relay_health_stop(r);
    if (r->inflight == 0) {
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    ev_timer_init(&r->drain_timer, on_drain_timeout, (double)r->cfg.drain_timeout_ms / 1000.0, 0.);
    r->drain_timer.data = r;
    ev_timer_start(loop, &r->drain_timer);
}

static void on_flush(struct ev_loop *loop, ev_prepare *w, int revents)
{
    struct relay *r = w->data;
    relay_events_flush(r->events);
}

int relay_run(struct relay *r, char *err, size_t errlen)
{
    const struct relay_config *c = &r->cfg;
    int rc = 1;
    r->loop = ev_default_loop(EVFLAG_AUTO);
    r->jitter = (enum relay_jitter)relay_jitter_parse(c->jitter);
    co_rng_seed(&r->rng,
                c->seed ? (uint64_t)c->seed : co_clock_monotonic_us() ^ (uint64_t)getpid());
    r->url[RELAY_BLUE] = c->blue_url;
    r->url[RELAY_GREEN] = c->green_url;
    r->url[RELAY_DIRECT] = c->direct_url && *c->direct_url ? c->direct_url : NULL;
    if (c->api_key && *c->api_key) {
        co_secret_add(c->api_key);
        r->auth_header = co_asprintf("Authorization: Bearer %s", c->api_key);
    }
    if (c->admin_token)
        co_secret_add(c->admin_token);
    if (c->trusted_proxies &&
        relay_front_proxies_parse(c->trusted_proxies, &r->proxies, err, errlen) != 0)
        goto out;
    for (size_t i = 0; i < c->nclient_keys; i++)
        co_secret_add(c->client_keys[i]);
    struct relay_switch_cfg sc = {
        .after_failures = (unsigned)c->switch_after_failures,
        .min_dwell_us = (uint64_t)c->min_dwell_ms * 1000,
        .rise = (unsigned)c->health_rise,
        .fall = (unsigned)c->health_fall,
        .mode = (enum relay_mode)relay_mode_parse(c->mode),
        .primary = (enum relay_env)relay_env_parse(c->primary),
        .failback_after_us = (uint64_t)c->failback_after_ms * 1000,
        .failback_rise = (unsigned)c->failback_rise,
    };
    r->pol.stream_done = (enum relay_stream_done)relay_stream_done_parse(c->stream_done);
    r->pol.on429 = (enum relay_on429)relay_on429_parse(c->on_429_without_retry_after);
    r->pol.first_byte_us = (uint64_t)c->first_byte_timeout_ms * 1000;
    relay_switch_init(&r->sw, &sc, (enum relay_env)relay_env_parse(c->active_env), co_now_us());
    r->rl = relay_ratelimit_new((uint64_t)c->rate_limit_requests,
                                (uint64_t)c->rate_limit_window_ms * 1000,
                                (size_t)c->rate_limit_max_keys);
    r->metrics = relay_metrics_new();
    if (c->events && *c->events) {
        r->events = relay_events_open(c->events, err, errlen);
        if (!r->events)
            goto out;
    }
    r->shared = relay_shared_start(r, err, errlen);
    if (!r->shared && err[0])
        goto out;
    /* The upstream pool covers the concurrency: a pool smaller than the
     * number of transfers in flight closes a connection per request and
     * leaves TIME_WAIT sockets behind. */
    if (co_evcurl_init(&r->curl, r->loop, on_xfer_done, (long)c->max_connections,
                       (long)c->max_connections * 3) != 0) {
        snprintf(err, errlen, "curl_multi_init failed");
        goto out;
    }
    curl_multi_setopt(r->curl.multi, CURLMOPT_MAXCONNECTS, (long)c->max_connections * 3);
    static const char *const proxy_vars[] = {"http_proxy", "https_proxy", "HTTPS_PROXY",
                                             "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxy_vars / sizeof *proxy_vars; i++) {
        const char *v = getenv(proxy_vars[i]);
        if (v && *v)
            r->env_proxy = 1;
    }
    struct co_evhttp_opts ho = {
        .addr = c->listen,
        .port = (uint16_t)c->port,
        .conn_limit = (unsigned)c->max_clients,
        .conn_timeout_s = 120,
        .read_timeout_ms = (unsigned)c->request_read_timeout_ms,
        /* 6 KiB per connection (MHD zeroes the pool between requests, so
         * all of it becomes resident): room for 5 KB of request headers,
         * and 1,000 idle clients cost about 6 MB.  Bodies stream through
         * the handler, not the pool. */
        .conn_memory_limit = 6 * 1024,
        .turbo = 1,
        .handler = on_request,
        .handler_cls = r,
        .completed = on_completed,
        .completed_cls = r,
    };
    if (co_evhttp_start(&r->http, r->loop, &ho, err, errlen) != 0)
        goto out;
    ev_signal_init(&r->sigterm, on_signal, SIGTERM);
    r->sigterm.data = r;
    ev_signal_start(r->loop, &r->sigterm);
    ev_signal_init(&r->sigint, on_signal, SIGINT);
    r->sigint.data = r;
    ev_signal_start(r->loop, &r->sigint);
    ev_prepare_init(&r->flush, on_flush);
    r->flush.data = r;
    ev_prepare_start(r->loop, &r->flush);
    relay_health_start(r);
    relay_events_emit(r->events, "start",
                      json_pack("{s:s, s:i, s:i}", "active", relay_env_name(r->sw.active), "pid",
                                (int)getpid(), "port", (int)r->http.port));
    /* A log that cannot be written (a full disk, /dev/full) is found now,
     * before the ready line, not after every event has been lost. */
    if (r->events && relay_events_check(r->events, err, errlen) != 0) {
        rc = 2;
        goto out;
    }
    printf("cutover-relay listening on http://%s:%u%s\n", c->listen, (unsigned)r->http.port,
           c->config_from_env ? " (settings from CUTOVER_CONFIG)" : "");
    fflush(stdout);
    co_info("blue %s, green %s%s%s, active %s", c->blue_url, c->green_url,
            r->url[RELAY_DIRECT] ? ", direct " : "",
            r->url[RELAY_DIRECT] ? r->url[RELAY_DIRECT] : "", relay_env_name(r->sw.active));

    ev_run(r->loop, 0);
    r->stopping = 1;

    relay_events_emit(r->events, "exit", json_pack("{s:i}", "inflight", (int)r->inflight));
    relay_req_cancel_all(r);
    relay_shared_stop(&r->shared); /* resumes requests waiting for Redis */
    co_evhttp_run(&r->http);
    ev_timer_stop(r->loop, &r->drain_timer);
    ev_signal_stop(r->loop, &r->sigterm);
    ev_signal_stop(r->loop, &r->sigint);
    ev_prepare_stop(r->loop, &r->flush);
    relay_health_stop(r);
    rc = 0;
out:
    relay_shared_stop(&r->shared);
    co_evhttp_stop(&r->http);
    if (r->curl.multi)
        co_evcurl_cleanup(&r->curl);
    while (r->npool)
        curl_easy_cleanup(r->easy_pool[--r->npool]);
    for (size_t i = 0; i < sizeof r->hdr_tail / sizeof r->hdr_tail[0]; i++)
        curl_slist_free_all(r->hdr_tail[i]);
    free(r->easy_pool);
    for (int e = 0; e < RELAY_NENV; e++)
        for (int p = 0; p < 2; p++)
            curl_url_cleanup(r->curlu[e][p]);
    relay_events_close(&r->events);
    relay_metrics_free(&r->metrics);
    relay_ratelimit_free(&r->rl);
    free(r->auth_header);
    return rc;
}
