/* The admin API, off unless admin_token is set, behind
 * `Authorization: Bearer TOKEN` compared in constant time:
 *   GET  /admin/state                 colours, health, weights, in flight
 *   POST /admin/switch {"to":"green"} manual cutover (refused to an unhealthy
 *                                     colour unless "force": true)
 *   POST /admin/rollback              back to the colour before the last switch
 *   PUT  /admin/weights {"blue":90,"green":10}  canary split of new requests
 * A switch changes where new requests go; requests in flight finish where
 * they started, because a request's colour is chosen when it starts. */
#include "relay.h"

#include "co_clock.h"
#include "co_json.h"
#include "co_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int relay_ct_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    /* Walk the full length of b whatever a holds, so the time tells nothing
     * about where (or whether) they differ. */
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < lb; i++)
        diff |= (unsigned char)(b[i] ^ (i < la ? a[i] : 0));
    return diff == 0;
}

static json_t *state(struct relay *r)
{
    json_t *envs = json_object();
    for (int e = 0; e < RELAY_NENV; e++) {
        if (!r->url[e])
            continue;
        json_t *o =
            json_pack("{s:s, s:b}", "url", r->url[e], "healthy", relay_switch_healthy(&r->sw, e));
        if (e < RELAY_DIRECT)
            json_object_set_new(o, "fail_streak", json_integer(r->sw.env[e].fail_streak));
        json_object_set_new(envs, relay_env_name(e), o);
    }
    json_t *w = r->weight[0] || r->weight[1]
                    ? json_pack("{s:i, s:i}", "blue", (int)r->weight[0], "green", (int)r->weight[1])
                    : json_null();
    return json_pack("{s:s, s:s, s:I, s:o, s:o, s:i, s:b}", "active", relay_env_name(r->sw.active),
                     "previous", relay_env_name(r->sw.previous), "active_for_ms",
                     (json_int_t)((co_now_us() - r->sw.since_us) / 1000), "environments", envs,
                     "weights", w, "inflight", (int)r->inflight, "draining", r->draining);
}

static enum MHD_Result bad(struct MHD_Connection *c, unsigned status, const char *msg,
                           const char *param)
{
    return relay_respond_error(c, status, msg, "invalid_request_error", param,
                               status == 409 ? "conflict" : "invalid_value", NULL);
}

static enum MHD_Result do_switch(struct relay *r, struct MHD_Connection *c, json_t *body,
                                 int rollback)
{
    enum relay_env before = r->sw.active;
    enum relay_env to;
    int force = 0;
    if (rollback) {
        to = r->sw.previous;
    } else {
        const char *s = json_string_value(json_object_get(body, "to"));
        int e = s ? relay_env_parse(s) : -1;
        if (e != RELAY_BLUE && e != RELAY_GREEN)
            return bad(c, 400, "'to' must be \"blue\" or \"green\"", "to");
        to = (enum relay_env)e;
        force = json_is_true(json_object_get(body, "force"));
    }
    if (!relay_switch_healthy(&r->sw, to) && !force)
        return bad(c, 409, "the target colour is unhealthy (send \"force\": true to switch anyway)",
                   "to");
    uint64_t now = co_now_us();
    relay_switch_force(&r->sw, to, now);
    r->weight[0] = r->weight[1] = 0;
    relay_events_emit(r->events, "admin",
                      json_pack("{s:s, s:s, s:s, s:b}", "action", rollback ? "rollback" : "switch",
                                "from", relay_env_name(before), "to", relay_env_name(to), "force",
                                force));
    if (before != to)
        relay_note_switch(r, before, to, rollback ? "rollback" : "admin", NULL);
    return relay_respond_json(c, 200, state(r));
}

static int weight_ok(const json_t *w)
{
    return json_is_integer(w) && json_integer_value(w) >= 0 && json_integer_value(w) <= 1000000;
}

static enum MHD_Result do_weights(struct relay *r, struct MHD_Connection *c, json_t *body)
{
    json_t *b = json_object_get(body, "blue"), *g = json_object_get(body, "green");
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        if (strcmp(key, "blue") != 0 && strcmp(key, "green") != 0)
            return bad(c, 400, "weights take only \"blue\" and \"green\"", key);
    }
    /* param names the first weight that is wrong, whichever way it is. */
    const char *wrong = !weight_ok(b) ? "blue" : !weight_ok(g) ? "green" : NULL;
    if (wrong)
        return bad(c, 400, "weights must be integers from 0 to 1000000 for blue and green", wrong);
    r->weight[0] = (unsigned)json_integer_value(b);
    r->weight[1] = (unsigned)json_integer_value(g);
    relay_events_emit(r->events, "admin",
                      json_pack("{s:s, s:i, s:i}", "action", "weights", "blue", (int)r->weight[0],
                                "green", (int)r->weight[1]));
    return relay_respond_json(c, 200, state(r));
}

enum MHD_Result relay_admin_handle(struct relay *r, struct MHD_Connection *c, const char *method,
                                   const char *url, const char *body, size_t len)
{
    if (!r->cfg.admin_token || !*r->cfg.admin_token)
        return relay_respond_error(c, 404, "The admin API is off (no admin_token configured)",
                                   "invalid_request_error", NULL, "not_found", NULL);
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!auth || strncmp(auth, "Bearer ", 7) != 0 || !relay_ct_equal(auth + 7, r->cfg.admin_token))
        return relay_respond_error(c, 401, "401 Unauthorized - Invalid admin token",
                                   "invalid_request_error", NULL, "invalid_api_key", NULL);
    static const struct {
        const char *path, *method;
        int action; /* 0 state, 1 switch, 2 rollback, 3 weights */
    } routes[] = {
        {"/admin/state", "GET", 0},
        {"/admin/switch", "POST", 1},
        {"/admin/rollback", "POST", 2},
        {"/admin/weights", "PUT", 3},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(url, routes[i].path) != 0)
            continue;
        if (strcmp(method, routes[i].method) != 0) {
            const char *allow[] = {"Allow", routes[i].method, NULL};
            return relay_respond_error(c, 405, "Method not allowed", "invalid_request_error", NULL,
                                       "method_not_allowed", allow);
        }
        if (routes[i].action == 0)
            return relay_respond_json(c, 200, state(r));
        if (routes[i].action == 2)
            return do_switch(r, c, NULL, 1);
        char err[256];
        json_t *j = co_json_loadb(body ? body : "", len, "body", err, sizeof err);
        if (!j || !json_is_object(j)) {
            json_decref(j);
            return bad(c, 400, j ? "expected a JSON object" : err, NULL);
        }
        enum MHD_Result ret = routes[i].action == 1 ? do_switch(r, c, j, 0) : do_weights(r, c, j);
        json_decref(j);
        return ret;
    }
    return relay_respond_error(c, 404, "Unknown admin endpoint", "invalid_request_error", NULL,
                               "not_found", NULL);
}
