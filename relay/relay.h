/* The relay process: one libev loop carrying libmicrohttpd (clients, in
 * external epoll mode) and libcurl multi (upstreams).  This header joins the
 * I/O modules: relay_server (routing, responses, signals), relay_proxy (a
 * client request's attempts upstream), relay_health (periodic checks),
 * relay_admin (the token-guarded control API).  The decisions they act on
 * live in the pure modules (classify, backoff, retryafter, switch,
 * ratelimit). */
#ifndef RELAY_H
#define RELAY_H

#include "co_evcurl.h"
#include "co_evhttp.h"
#include "co_rng.h"
#include "relay_backoff.h"
#include "relay_config.h"
#include "relay_events.h"
#include "relay_front.h"
#include "relay_metrics.h"
#include "relay_policy.h"
#include "relay_ratelimit.h"
#include "relay_shared.h"
#include "relay_switch.h"

#include <curl/curl.h>
#include <ev.h>
#include <microhttpd.h>

struct relay_req;

/* What a CURL handle's CURLOPT_PRIVATE points at: the first member of a
 * request or of a health checker, so one done-callback can dispatch. */
enum relay_xfer_kind { RELAY_XFER_REQ, RELAY_XFER_HEALTH };

struct relay_health {
    enum relay_xfer_kind kind; /* first: RELAY_XFER_HEALTH */
    struct relay *r;
    enum relay_env env;
    CURL *easy;
    int busy;
    uint64_t t_start_us;
    ev_timer timer;
};

struct relay {
    struct relay_config cfg;
    struct ev_loop *loop;
    struct co_evhttp http;
    struct co_evcurl curl;
    struct relay_switch sw;
    struct relay_policy pol; /* stream_done, first_byte timeout, on 429 */
    struct relay_ratelimit *rl;
    struct relay_shared *shared; /* --shared: fleet state in Redis, else NULL */
    struct relay_events *events;
    struct relay_metrics *metrics;
    struct relay_health health[2];
    struct co_rng rng;
    enum relay_jitter jitter;
    const char *url[RELAY_NENV]; /* direct may be NULL */
    unsigned weight[2];          /* canary split; both 0 = all to the active colour */
    char *auth_header;           /* "Authorization: Bearer KEY", or NULL */
    /* Reused easy handles: a proxied request should not cost a curl_easy_init. */
    CURL **easy_pool;
    size_t npool, pool_cap;
    /* Upstream URLs per colour and path (chat, models), parsed once:
     * CURLOPT_URL would have libcurl parse the string on every attempt. */
    CURLU *curlu[RELAY_NENV][2];
    int env_proxy; /* a proxy variable was set at start: libcurl may use it */
    /* The upstream headers every attempt of a kind shares (Authorization,
     * Expect, Content-Type, Accept), built once: a request's own headers
     * are list nodes in the request that link to one of these. */
    struct curl_slist *hdr_tail[3];
    struct relay_req *reqs;       /* every live request (to cancel at exit) */
    unsigned inflight;            /* requests being proxied */
    struct relay_proxies proxies; /* trusted_proxies, parsed */
    /* Bytes of upstream answers buffered across all requests, bounded by
     * max_buffered_bytes; refusals past the bound are counted. */
    uint64_t buffered;
    uint64_t budget_refusals;
    int draining;
    /* The loop has ended: the last MHD runs only close connections, so a
     * request read then is refused instead of started (a suspended
     * connection at MHD_stop_daemon aborts the process). */
    int stopping;
    ev_signal sigterm, sigint;
    ev_timer drain_timer;
    ev_prepare flush;
    uint64_t req_seq;
};

/* relay_server.c */
int relay_run(struct relay *r, char *err, size_t errlen);
/* Queues a response with the common headers; body is copied. */
enum MHD_Result relay_respond(struct MHD_Connection *c, unsigned status, const char *ctype,
                              const char *body, size_t len, const char *const *headers);
/* A JSON body (the reference is taken and dropped). */
enum MHD_Result relay_respond_json(struct MHD_Connection *c, unsigned status, json_t *j);
/* "Request body exceeds the limit of N bytes": the 413 message, whether
 * Content-Length announced it or the body grew past it. */
void relay_too_large_msg(const struct relay *r, char *out, size_t n);
/* An OpenAI-shaped error. */
enum MHD_Result relay_respond_error(struct MHD_Connection *c, unsigned status, const char *message,
                                    const char *type, const char *param, const char *code,
                                    const char *const *headers);
/* Called by relay_proxy when a request is over (drain bookkeeping). */
void relay_request_ended(struct relay *r);

/* relay_proxy.c: a client request proxied upstream. */
enum relay_route_kind { RELAY_FWD_CHAT, RELAY_FWD_MODELS, RELAY_FWD_API_CHAT };
struct relay_req *relay_req_new(struct relay *r, struct MHD_Connection *c,
                                enum relay_route_kind kind);
/* Feeds upload data; returns 0, or -1 once the body passed max_body_bytes. */
int relay_req_body(struct relay_req *q, const char *data, size_t len);
/* Parses and checks the request once its body is in; returns 0 when it may
 * go upstream, else the status relay_req_step will answer with (413, 415,
 * 400).  The rate limiter counts only requests that pass. */
int relay_req_check(struct relay_req *q);
/* Counts a request the front door refused before it was proxied (401 for
 * its key, 429 rate limited, 503 shared store down) in
 * holysheep_requests_total (environment "none"): every client request
 * answered is counted there, whoever answered it. */
void relay_req_refused(struct relay_req *q, unsigned status);
/* Called on every access-handler call after the upload ended: validates and
 * starts the first attempt, or queues the response once there is one. */
enum MHD_Result relay_req_step(struct relay_req *q);
/* Called from MHD's completion callback: cancels what runs, frees. */
void relay_req_finished(struct relay_req *q, enum MHD_RequestTerminationCode toe);
/* Abandons every request (exit). */
void relay_req_cancel_all(struct relay *r);
/* co_evcurl's done callback for requests. */
void relay_req_xfer_done(struct relay_req *q, CURL *easy, CURLcode rc);
/* Takes a clean easy handle from the pool, and returns one. */
CURL *relay_easy_get(struct relay *r);
void relay_easy_put(struct relay *r, CURL *e);

/* relay_health.c */
void relay_health_start(struct relay *r);
void relay_health_stop(struct relay *r);
void relay_health_xfer_done(struct relay_health *h, CURL *easy, CURLcode rc);
/* Adds the failover mode to a /health answer: "mode", and in
 * primary-fallback "primary" and "on_primary". */
void relay_health_mode(const struct relay *r, json_t *health);
/* Records a switch: event, metrics, log.  request_id may be NULL. */
void relay_note_switch(struct relay *r, enum relay_env from, enum relay_env to, const char *reason,
                       const char *request_id);

/* relay_admin.c: every /admin/ request.  body may be NULL. */
enum MHD_Result relay_admin_handle(struct relay *r, struct MHD_Connection *c, const char *method,
                                   const char *url, const char *body, size_t len);
/* Constant-time string equality (the time does not depend on where the
 * strings differ). */
int relay_ct_equal(const char *a, const char *b);

#endif
