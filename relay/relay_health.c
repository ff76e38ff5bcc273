/* Health checks: GET {colour}/health on an interval with a timeout, for blue
 * and green, on the same curl multi as the traffic.  Each result goes to the
 * switch state machine (rise/fall thresholds live there); a change of health
 * is an event, and an active colour turning unhealthy switches away.  The
 * first check runs at start, so a dead colour is known within one timeout. */
#include "relay.h"

#include "co_clock.h"
#include "co_log.h"

#include <stdio.h>

void relay_note_switch(struct relay *r, enum relay_env from, enum relay_env to, const char *reason,
                       const char *request_id)
{
    relay_metrics_switch(r->metrics, from, to, reason);
    relay_shared_switched(r->shared, from, to, reason); /* proposed to the fleet */
    json_t *f = json_pack("{s:s, s:s, s:s}", "from", relay_env_name(from), "to", relay_env_name(to),
                          "reason", reason);
    if (request_id)
        json_object_set_new(f, "request_id", json_string(request_id));
    /* Stamped with the switch's own time, the clock read the dwell and
     * fail-back rules measure from, not the later one of writing it: a
     * check of min_dwell_ms on the events must see what the relay saw. */
    json_object_set_new(f, "t_us", json_integer((json_int_t)r->sw.since_us));
    relay_events_emit(r->events, "switch", f);
    co_info("switched %s -> %s (%s)", relay_env_name(from), relay_env_name(to), reason);
}

/* A fail-back is a switch event with reason "failback" and what allowed it:
 * the primary's good checks in a row and the time spent on the fallback. */
static void note_failback(struct relay *r, enum relay_env from, uint64_t on_fallback_us)
{
    relay_metrics_switch(r->metrics, from, r->sw.active, "failback");
    /* Proposed to the fleet like any switch: kept local, the next colour
     * poll would adopt the fleet's fallback colour again. */
    relay_shared_switched(r->shared, from, r->sw.active, "failback");
    relay_metrics_policy(r->metrics, RELAY_PA_FAILBACK, r->sw.active);
    json_t *f = json_pack("{s:s, s:s, s:s, s:i, s:I}", "from", relay_env_name(from), "to",
                          relay_env_name(r->sw.active), "reason", "failback", "checks",
                          (int)r->sw.cfg.failback_rise, "on_fallback_ms",
                          (json_int_t)(on_fallback_us / 1000));
    json_object_set_new(f, "t_us", json_integer((json_int_t)r->sw.since_us));
    relay_events_emit(r->events, "switch", f);
    co_info("failed back %s -> %s: primary passed %u checks in a row, %llums on the fallback",
            relay_env_name(from), relay_env_name(r->sw.active), r->sw.cfg.failback_rise,
            (unsigned long long)(on_fallback_us / 1000));
}

void relay_health_mode(const struct relay *r, json_t *health)
{
    json_object_set_new(health, "mode", json_string(relay_mode_name(r->sw.cfg.mode)));
    if (r->sw.cfg.mode == RELAY_MODE_PRIMARY_FALLBACK) {
        json_object_set_new(health, "primary", json_string(relay_env_name(r->sw.cfg.primary)));
        json_object_set_new(health, "on_primary", json_boolean(r->sw.active == r->sw.cfg.primary));
    }
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    return s * n;
}

static void check_now(struct relay_health *h)
{
    struct relay *r = h->r;
    if (h->busy)
        return;
    char url[1024];
    snprintf(url, sizeof url, "%s/health", r->url[h->env]);
    if (!h->easy)
        h->easy = curl_easy_init();
    else
        curl_easy_reset(h->easy);
    curl_easy_setopt(h->easy, CURLOPT_URL, url);
    curl_easy_setopt(h->easy, CURLOPT_PRIVATE, h);
    curl_easy_setopt(h->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h->easy, CURLOPT_TIMEOUT_MS, (long)r->cfg.health_timeout_ms);
    curl_easy_setopt(h->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)r->cfg.health_timeout_ms);
    /* The body is not needed: the status says it all. */
    curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, discard);
    h->busy = 1;
    h->t_start_us = co_now_us();
    co_evcurl_add(&r->curl, h->easy);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct relay_health *h = w->data;
    check_now(h);
}

void relay_health_xfer_done(struct relay_health *h, CURL *easy, CURLcode rc)
{
    struct relay *r = h->r;
    long status = 0;
    h->busy = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    int ok = rc == CURLE_OK && status >= 200 && status < 300;
    uint64_t now = co_now_us();
    int changed = 0;
    enum relay_env before = r->sw.active;
    uint64_t since = r->sw.since_us;
    int switched = relay_switch_on_health(&r->sw, h->env, ok, now, &changed);
    if (changed) {
        json_t *f = json_pack("{s:s, s:b, s:i, s:I}", "env", relay_env_name(h->env), "healthy",
                              relay_switch_healthy(&r->sw, h->env), "status", (int)status,
                              "latency_us", (json_int_t)(now - h->t_start_us));
        if (rc != CURLE_OK)
            json_object_set_new(f, "error", json_string(curl_easy_strerror(rc)));
        relay_events_emit(r->events, "health", f);
        co_info("%s is now %s", relay_env_name(h->env),
                relay_switch_healthy(&r->sw, h->env) ? "healthy" : "unhealthy");
    }
    if (switched == RELAY_SW_FAILBACK)
        note_failback(r, before, now - since);
    else if (switched)
        relay_note_switch(r, before, r->sw.active, "health", NULL);
}

void relay_health_start(struct relay *r)
{
    for (int e = 0; e < 2; e++) {
        struct relay_health *h = &r->health[e];
        h->kind = RELAY_XFER_HEALTH;
        h->r = r;
        h->env = (enum relay_env)e;
        if (r->cfg.health_interval_ms <= 0)
            continue;
        double every = (double)r->cfg.health_interval_ms / 1000.0;
        ev_timer_init(&h->timer, on_tick, 0., every);
        h->timer.data = h;
        ev_timer_start(r->loop, &h->timer);
    }
}

void relay_health_stop(struct relay *r)
{
    for (int e = 0; e < 2; e++) {
        struct relay_health *h = &r->health[e];
        if (r->cfg.health_interval_ms > 0)
            ev_timer_stop(r->loop, &h->timer);
        if (h->easy) {
            if (h->busy)
                co_evcurl_remove(&r->curl, h->easy);
            curl_easy_cleanup(h->easy);
            h->easy = NULL;
        }
    }
}
