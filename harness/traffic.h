/* The traffic generator: libcurl multi on the runner's libev loop.
 *
 * Open-loop phases issue each request at its scheduled time whatever the
 * relay does, and every latency is kept from the scheduled time as well as
 * from the actual send, so a stalled relay cannot hide its stall by slowing
 * the client down (coordinated omission).  Closed-loop phases keep N
 * requests in flight.  Every request carries an id in X-Request-ID and in
 * the body's "user" field.
 *
 * Any transfer on the shared multi handle starts with struct harness_xfer,
 * whose done hook the dispatcher calls; the runner uses the same multi for
 * readiness probes and admin calls.
 *
 * Ownership: the log (t->reqs) belongs to the traffic struct until
 * harness_traffic_take_log hands it over. */
#ifndef HARNESS_TRAFFIC_H
#define HARNESS_TRAFFIC_H

#include "co_evcurl.h"
#include "co_rng.h"
#include "harness/obs.h"
#include "harness/scenario.h"

#include <ev.h>
#include <stdint.h>

struct harness_xfer {
    void (*done)(struct harness_xfer *x, CURL *easy, CURLcode rc);
};

/* The co_evcurl on_done that dispatches to harness_xfer.done (set
 * CURLOPT_PRIVATE to the xfer). */
void harness_xfer_dispatch(struct co_evcurl *c, CURL *easy, CURLcode rc);

struct harness_phase_state {
    ev_timer timer;
    int issued;
    int inflight;
    int ended;
    uint64_t next_sched; /* absolute µs, open loop */
    struct harness_traffic *t;
    int index;
};

struct harness_traffic {
    struct ev_loop *loop;
    struct co_evcurl *curl;
    const struct harness_scenario *s;
    char base_url[160];
    char id_prefix[16];
    uint64_t t0;
    struct harness_req *reqs;
    size_t n_reqs, cap;
    struct harness_phase_state ph[HARNESS_MAX_PHASES];
    int inflight;
    int finished;
    struct co_rng rng; /* Poisson arrivals */
    void (*on_finished)(struct harness_traffic *t);
    void *data;
    struct harness_xfer_req *live; /* in-flight list for aborts */
    const char *secret;            /* searched for in every answer (borrowed, may be NULL) */
};

/* Prepares (no I/O yet). base_url is the relay's "http://127.0.0.1:PORT". */
void harness_traffic_init(struct harness_traffic *t, struct ev_loop *loop, struct co_evcurl *curl,
                          const struct harness_scenario *s, const char *base_url,
                          const char *id_prefix, uint64_t seed);
/* Starts every phase relative to t0 (absolute monotonic µs). */
void harness_traffic_start(struct harness_traffic *t, uint64_t t0);
/* Stops timers and aborts transfers in flight (recorded as transport errors). */
void harness_traffic_stop(struct harness_traffic *t);
/* Frees what is left (the log unless taken). */
void harness_traffic_free(struct harness_traffic *t);

/* Body facts of a finished request, from its raw body (exposed for tests). */
void harness_body_facts(struct harness_req *r, const char *body, size_t len);
/* The shape of an error body: 1 when it is OpenAI's envelope
 * {"error": {"message": string, "type": string, ...}}, else 0 with the reason
 * in why. */
int harness_error_shape(const char *body, size_t len, char *why, size_t whylen);
/* The outcome from status, curl result and body facts. */
int harness_classify(const struct harness_req *r);

#endif
