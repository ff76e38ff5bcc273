/* The traffic generator: libcurl multi on the runner's libev loop.
 *
 * Open-loop phases issue each request at its scheduled time whatever the
 * relay does, and every latency is kept from the scheduled time as well as
 * from the actual send, so a stalled relay cannot hide its stall by slowing
 * the client down (coordinated omission).  Closed-loop phases keep N
 * requests in flight.  Every request carries its id in X-Request-ID, in the
 * body's "user" field and as a marker in its last message's content
 * (MOCK_ID_MARKER); the served colour comes from X-Served-By, else from the
 * mock name stamped in the answer's body.
 *
 * Any transfer on the shared multi handle starts with struct harness_xfer,
 * whose done hook the dispatcher calls; the runner uses the same multi for
 * readiness probes and admin calls.
 *
 * Requests go over a bounded pool of keep-alive connections: libcurl reuses
 * an idle connection and opens a new one only when all are busy, up to
 * pool_cap (CURLMOPT_MAX_TOTAL_CONNECTIONS, with CURLMOPT_MAXCONNECTS as
 * large, so a connection that goes idle stays open instead of ending in
 * TIME_WAIT).  A request due while pool_cap are in flight waits in the
 * driver's own queue; it is counted as the driver's saturation (pool_waits)
 * and never hidden: its latency still runs from its scheduled time, and the
 * scenario is inconclusive (harness/driver.c), not a slow relay.
 *
 * A phase with "threads": N > 1 is sent by N workers, each a struct
 * harness_traffic of its own on its own thread, with its own libev loop,
 * curl multi handle and a share of the pool (pool_cap / N): request i of
 * the phase is worker i mod N's (open loop, at its scheduled time), or each
 * keeps its share of the in-flight count (closed loop).  Every worker draws
 * every request's arrival gap, template and replica in the phase's order and
 * keeps its own, so request i gets the same draws whichever thread sends
 * it.  A worker logs in its own array; when all of them are done (or on
 * stop) the coordinator joins them and appends their requests to its log in
 * schedule order, answers still raw, and reads those answers itself as it
 * always does: everything downstream sees one log.
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
#include <stdatomic.h>
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
    uint64_t start;      /* absolute µs the phase started (or will), 0 not armed yet */
    double next_offset;  /* next_sched - start, µs, unrounded */
    struct harness_traffic *t;
    int index;
};

/* Connections the driver may hold open at most (fewer when the fd limit
 * is low: each one costs an fd here and one in the in-process mock). */
#define HARNESS_POOL_CAP 1024
/* Distinct request URLs kept parsed (see url_tpl). */
#define HARNESS_URL_TPLS 16

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
    struct harness_xfer_req *live; /* in-flight and queued list for aborts */
    /* The connection pool and what it cost (harness/driver.c reads them). */
    int pool_cap;
    int active; /* transfers handed to libcurl (t->inflight counts queued too) */
    int peak_active;
    struct harness_xfer_req *queue_head, *queue_tail; /* due, waiting for a connection */
    long pool_waits;
    uint64_t pool_wait_max_us;
    long connects; /* new connections libcurl opened */
    CURL **spare;  /* finished easy handles, reset for reuse (pool_cap of them) */
    int n_spare;
    long easies; /* easy handles made: one per transfer handed to libcurl at once, at most */
    /* Answers kept raw while traffic runs and read (harness_body_facts)
     * once it is over: parsing JSON is most of a request's CPU, and the
     * driver's CPU belongs to the schedule.  Bounded by DEFER_CAP bytes;
     * past it, answers are read as they come. */
    struct harness_raw_body *raw;
    size_t raw_bytes;
    /* The request body of each phase (and each of its templates) with the
     * request id left out: the id goes wherever ID_SLOT stands (built with
     * jansson once per template). */
    char *body_tpl[HARNESS_MAX_PHASES][HARNESS_MAX_TEMPLATES];
    struct co_rng pick; /* which template of a weighted list (seeded) */
    /* A relay whose clients use another path and method for chat (a
     * profile's "request"): "" keeps the scenario's. */
    char chat_path[128];
    char chat_method[8];
    const char *secret; /* searched for in every answer (borrowed, may be NULL) */
    /* A fleet: the replicas' base URLs (replica_url[0] is base_url) and how
     * requests are spread over them (harness_traffic_set_replicas). */
    char replica_url[HARNESS_MAX_REPLICAS][96];
    int n_replicas;
    int spread; /* enum harness_spread */
    unsigned next_replica;
    struct co_rng spread_rng;
    /* The driver thread's CPU time from harness_traffic_start to the last
     * answer (answers read afterwards not included): the driver's own cost
     * of keeping the schedule (bench/traffic_accuracy.c reports it). */
    uint64_t cpu_start_us, cpu_traffic_us;
    /* Request state kept for the next request (harness_xfer_req, its
     * header lines), so a request costs the driver no allocation of its own
     * beyond its answer. */
    struct harness_xfer_req *free_x;
    int n_free_x;
    /* Per phase and template, the header lines every request of it
     * carries (the request's own X-Request-ID and key go in front, see
     * prepare_xfer()). */
    struct curl_slist *hdr_tpl[HARNESS_MAX_PHASES][HARNESS_MAX_TEMPLATES];
    /* URLs parsed once (CURLOPT_CURLU, read-only to libcurl), one per
     * replica and path asked for, up to HARNESS_URL_TPLS (past it a
     * request's URL is parsed by libcurl, as before); u is NULL for one
     * that does not parse (libcurl then fails the request with its reason). */
    struct {
        char url[400];
        CURLU *u;
    } url_tpl[HARNESS_URL_TPLS];
    int n_url_tpl;
    /* What the generators were seeded with (a worker is seeded alike). */
    uint64_t seed, spread_seed;
    /* A worker (share_n > 0): worker share_w of share_n of one phase; the
     * phase's request i is its own when i mod share_n == share_w, and none
     * at or past room (the coordinator's log room when it started). */
    int share_n, share_w;
    size_t room;
    /* The coordinator: each threaded phase's workers while they run (NULL
     * otherwise), and the async watcher a finished worker wakes it with. */
    struct harness_worker *wk[HARNESS_MAX_PHASES];
    int n_wk[HARNESS_MAX_PHASES];
    ev_async wake;
    int wake_on;
    uint64_t cpu_workers_us; /* the workers' threads' CPU while they sent */
};

/* Reads every answer kept raw (see raw above) into its request's facts and
 * outcome.  Called when traffic finishes and on stop; safe to repeat. */
void harness_traffic_settle(struct harness_traffic *t);
/* The pool's cap on this process: HARNESS_POOL_CAP, or less when the fd
 * limit is low. */
int harness_traffic_pool_cap(void);
/* Prepares (no I/O yet). base_url is the relay's "http://127.0.0.1:PORT". */
void harness_traffic_init(struct harness_traffic *t, struct ev_loop *loop, struct co_evcurl *curl,
                          const struct harness_scenario *s, const char *base_url,
                          const char *id_prefix, uint64_t seed);
/* Spreads requests over n replica base URLs (round robin, or a pick from
 * a generator seeded with seed); each request records its replica.  Call
 * before harness_traffic_start; without it every request goes to base_url. */
void harness_traffic_set_replicas(struct harness_traffic *t, const char (*urls)[96], int n,
                                  int spread, uint64_t seed);
/* Raises the log's cap to n requests (a benchmark past a scenario's
 * HARNESS_MAX_REQUESTS); call before harness_traffic_start. */
void harness_traffic_set_cap(struct harness_traffic *t, size_t n);
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
/* served from served_hdr (X-Served-By), else served_body; sets served_disagree. */
void harness_served_resolve(struct harness_req *r);
/* The outcome from status, curl result and body facts. */
int harness_classify(const struct harness_req *r);
/* The template of a phase a request uses, from u uniform in [0, 1): by
 * weight, in list order.  0 for a phase without templates. */
int harness_template_pick(const struct harness_phase *f, double u);
/* A template's JSON body with the id's places marked (malloc'd text): the
 * id in "user" (unless the body has its own) and as the marker at the end
 * of the last user message with string content (else of the last message
 * with string content; else nowhere: the header carries it).  The id goes
 * where slot stands.  Exposed for tests. */
char *harness_template_text(const struct harness_template *tp, const char *slot);

#endif
