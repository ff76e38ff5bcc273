/* A relay replica's state shared with the rest of its fleet through Redis
 * (--shared redis://HOST:PORT[/DB]): the client rate limit as one sliding
 * window across the fleet, and the active colour with an epoch.  Talks to
 * Redis with hiredis's asynchronous API on the relay's libev loop (its libev
 * adapter), two connections: one for commands, one subscribed to the colour
 * channel.  No call on the loop ever blocks on Redis.
 *
 * Rate limit: a request waiting for its verdict is suspended (MHD
 * suspend/resume) until the script's reply, or until shared_timeout_ms, when
 * the shared_fail setting decides: open takes the local limiter's verdict,
 * closed answers 503.  While Redis is down or stalled every request is
 * decided that way at once, without waiting.
 *
 * Colour: a local switch (failure, health, admin) is proposed to the fleet
 * with a compare-and-set on the epoch; a replica that loses takes the
 * winner's colour.  Other replicas hear of a change on the channel and read
 * the state at once, and poll it every shared_poll_ms in case a message was
 * lost.  While Redis is down, switches stay local; on reconnect the stored
 * state wins unless Redis came back empty.  The pure half (keys, scripts,
 * replies, the adopt rule) is relay_fleet.
 *
 * Ownership: relay_shared_start returns a state the caller frees with
 * relay_shared_stop, which first decides (and resumes) every request still
 * waiting.  A relay_shared_wait is embedded in the caller's per-request state
 * and must be released with relay_shared_wait_release before that is freed. */
#ifndef RELAY_SHARED_H
#define RELAY_SHARED_H

#include "co_buf.h"
#include "relay_ratelimit.h"
#include "relay_switch.h"

#include <ev.h>
#include <jansson.h>
#include <microhttpd.h>

struct relay;
struct relay_shared;
struct relay_shared_op;

enum relay_shared_rl {
    RELAY_SHARED_PENDING,     /* suspended: the verdict comes later */
    RELAY_SHARED_DECIDED,     /* the fleet's verdict is in *v */
    RELAY_SHARED_LOCAL,       /* shared_fail=open: use the local limiter */
    RELAY_SHARED_UNAVAILABLE, /* shared_fail=closed: answer 503 */
};

struct relay_shared_wait {
    struct relay_shared *sh;    /* valid while state is 1 */
    struct relay *r;            /* outlives sh: for the release after exit */
    struct relay_shared_op *op; /* the command in flight, NULL when none */
    struct MHD_Connection *conn;
    ev_timer timer;
    struct relay_shared_wait *prev, *next;
    int state;   /* 0 not asked, 1 waiting, 2 decided */
    int counted; /* counts in relay.inflight until released (a drain waits for it) */
    enum relay_shared_rl outcome;
    struct relay_rl_verdict v;
};

/* Connects (asynchronously) when r->cfg.shared is set; returns NULL and
 * leaves err empty when it is not, NULL with a message in err when the
 * settings are wrong.  Call after the loop, metrics and events exist. */
struct relay_shared *relay_shared_start(struct relay *r, char *err, size_t errlen);
void relay_shared_stop(struct relay_shared **sh);

/* The rate-limit decision of one request from client (the limiter's key).
 * Called again after the resume, it returns the outcome it got. */
enum relay_shared_rl relay_shared_limit(struct relay_shared *sh, struct relay_shared_wait *w,
                                        struct MHD_Connection *c, const char *client,
                                        struct relay_rl_verdict *v);
/* The request is over: forget it (safe on a wait never used).  A request
 * that waited for Redis counts as in flight from the wait to this call, so
 * a SIGTERM drain does not end while it waits or after its resume. */
void relay_shared_wait_release(struct relay_shared_wait *w);

/* Hook of relay_note_switch: this replica switched from -> to. */
void relay_shared_switched(struct relay_shared *sh, enum relay_env from, enum relay_env to,
                           const char *reason);

/* The "shared" object of /api/metrics (new reference), and the Prometheus
 * lines; both accept NULL (no --shared) and then add nothing. */
json_t *relay_shared_json(const struct relay_shared *sh);
void relay_shared_prometheus(const struct relay_shared *sh, struct co_buf *out);

#endif
