/* The mock's socket side: libmicrohttpd on a libev loop (co_evhttp).  Every
 * decision is made by the pure modules (rule selection, rate limiter, the
 * action table's plan); this file only carries the plan out:
 *
 *   - a delay before headers suspends the connection and arms an ev_timer
 *     that resumes it (no thread per request, no busy loop);
 *   - a body with pacing or a mid-body fault is served by a content reader
 *     that suspends itself until the next piece is due;
 *   - an RST is SO_LINGER {1,0} plus a disconnect, a clean FIN is MHD_NO,
 *     broken framing is END_WITH_ERROR, a clean cut is END_OF_STREAM early.
 *
 * The fault is always decided (and the RNG drawn) before any socket option
 * is armed, so a probability-0 reset never resets. */
#include "mock.h"
#include "mock_int.h"

#include "co_clock.h"
#include "co_evhttp.h"
#include "co_json.h"
#include "co_log.h"
#include "co_mem.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* MHD zeroes a connection's whole memory pool on every request, so the
 * pool's size is a per-request cost: 64 KiB of memset was the largest item
 * in a profile under wrk.  16 KiB holds request headers up to about 15 KB
 * (8 KiB would save a little more but answers 431 to long headers a relay
 * may forward), MHD's read buffer and a reader block; request bodies go to
 * our own bounded buffer. */
#define MOCK_CONN_POOL    (16 * 1024)
#define MOCK_READER_BLOCK (4 * 1024)

enum route { R_CHAT, R_MODELS, R_HEALTH, R_CONTROL, R_NOTFOUND };

struct mock_req;

/* One libev loop with its own libmicrohttpd daemon on the mock's port.
 * Worker 0 runs on the caller's loop (the runner's, or `cutover mock`'s);
 * with --threads N the others each run on a thread and a loop of their own,
 * their daemons bound to the same port with SO_REUSEPORT so that the kernel
 * spreads connections over them.  A connection and everything on it (its
 * requests, timers, watchers, proxy transfers) lives on one worker: nothing
 * here is touched by another thread. */
struct mock_worker {
    struct mock *m;
    struct ev_loop *loop;
    struct co_evhttp http;
    struct mock_req *live;  /* every request in flight, to resume them all on free */
    struct mock_req *spare; /* freed requests kept for reuse (MOCK_SPARE_MAX), linked by next */
    size_t nspare;
    struct mock_proxy *proxy; /* proxy mode, or NULL */
    ev_async stop;            /* a thread's loop: mock_free ends it through this */
    pthread_t thread;
    int threaded; /* runs on its own thread (joined by mock_free) */
};

/* What decides is shared by the workers and guarded by mu: the RNGs, the
 * per-id ordinals, the behaviour with its rule counters, the rate limiter,
 * the request indexes and the journal.  A request takes mu once to decide
 * and once to be journaled; parsing, building the answer and the socket
 * work run outside it, in parallel.  So decisions are drawn in one order
 * (the order requests take the lock; with one worker, arrival order as
 * before) and the journal stays one ordered record. */
struct mock {
    pthread_mutex_t mu;
    struct mock_worker *w;
    size_t nw;
    uint16_t port;
    int proxy_mode; /* --upstream given: each worker has a proxy */
    char name[MOCK_NAME_LEN];
    char url[64];
    uint64_t seed;
    struct co_rng rng;         /* decisions of requests without an id (health checks) */
    struct co_rng idrng;       /* their completion ids: kept apart so ids never shift decisions */
    struct mock_ordinals *ord; /* arrivals per request id, for per-request randomness */
    struct mock_behavior *beh;
    uint64_t beh_set_us;
    uint64_t traffic_index, health_index;
    struct mock_journal journal;
    struct mock_rl rl;
    /* The /health and /v1/models answers never change: built once, and
     * each request's plan gets a copy (a fault may cut it in place). */
    char *health_body, *models_body;
    char api_key[128]; /* the key the relay should send ("" = none to compare) */
    uint64_t conns;    /* TCP connections accepted (atomic): each gets the next serial */
};

struct mock_req {
    struct mock *m;
    struct mock_worker *w; /* the worker whose loop and daemon serve it */
    struct MHD_Connection *conn;
    struct mock_req *prev, *next;
    int route;
    struct co_buf body;
    int too_big;
    int decided;
    int suspended;
    uint64_t delay_us; /* before headers, still to wait */
    ev_timer timer;
    ev_io watch; /* long suspensions: notices the client leaving */
    int client_left;
    struct mock_record rec;
    struct mock_plan plan;
    long ntokens;
    /* content reader state */
    size_t piece, off;
    uint64_t sent;
    uint64_t t0;
    int fault_done;
    int close_after_stall;
    uint64_t drip_t0; /* drip: when the first body byte was due */
    const char *end;  /* set when the mock ends the request itself */
    /* proxy mode: no rule fired, the upstream answers */
    int proxied, proxy_head, proxy_done;
    struct mock_xfer *xfer;
};

/* ---- suspend / resume ----------------------------------------------------------- */

static void req_resume(struct mock_req *r)
{
    if (!r->suspended)
        return;
    ev_timer_stop(r->w->loop, &r->timer);
    ev_io_stop(r->w->loop, &r->watch);
    r->suspended = 0;
    MHD_resume_connection(r->conn);
    co_evhttp_kick(&r->w->http);
}

static void on_req_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    req_resume(w->data);
}

/* A suspended connection is out of MHD's sight; this watcher sees the
 * client close it, so a long stall or a never-answered request is journaled
 * (and its fd released) when the client leaves, not when the timer fires or
 * the mock stops.  A runner that drains and then reads the journal finds
 * every request its client saw. */
static void on_req_watch(struct ev_loop *loop, ev_io *w, int revents)
{
    struct mock_req *r = w->data;
    char c;
    ssize_t n = recv(w->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) {
        ev_io_stop(loop, w); /* pipelined bytes: stop looking rather than spin */
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    r->client_left = 1;
    req_resume(r);
}

static void watch_client(struct mock_req *r)
{
    int fd = co_evhttp_conn_fd(r->conn);
    if (fd >= 0) {
        ev_io_set(&r->watch, fd, EV_READ);
        ev_io_start(r->w->loop, &r->watch);
    }
}

/* Suspends until something else resumes (the proxy's callbacks). */
static void req_suspend_idle(struct mock_req *r)
{
    MHD_suspend_connection(r->conn);
    r->suspended = 1;
    watch_client(r);
}

/* Suspensions shorter than this resolve by themselves soon enough; watching
 * the socket would cost two epoll_ctl calls per paced token or short delay. */
#define WATCH_MIN_US 100000

/* Suspends for us microseconds; UINT64_MAX waits until the client leaves. */
static void req_suspend(struct mock_req *r, uint64_t us)
{
    MHD_suspend_connection(r->conn);
    r->suspended = 1;
    if (us >= WATCH_MIN_US)
        watch_client(r);
    if (us == UINT64_MAX)
        return;
    /* libev times from the loop's cached "now", which is as old as this
     * iteration; refresh it so a delay is never shorter than asked. */
    ev_now_update(r->w->loop);
    ev_timer_set(&r->timer, (double)us / 1e6, 0.);
    ev_timer_start(r->w->loop, &r->timer);
}

/* A real TCP RST now: linger 0 makes close() reset, and disconnecting
 * (connect AF_UNSPEC) resets at once, before MHD's shutdown() could send a
 * FIN that a client would read as a clean end. */
static void rst_now(struct mock_req *r)
{
    int fd = co_evhttp_conn_fd(r->conn);
    if (fd < 0)
        return;
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    struct sockaddr sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_family = AF_UNSPEC;
    (void)connect(fd, &sa, sizeof sa);
}

/* ---- responses -------------------------------------------------------------------- */

static void add_common_headers(struct mock_req *r, struct MHD_Response *resp, const char *ctype)
{
    MHD_add_response_header(resp, "Content-Type", ctype);
    MHD_add_response_header(resp, "X-Mock-Name", r->m->name);
    if (r->rec.request_id[0])
        MHD_add_response_header(resp, "X-Request-ID", r->rec.request_id);
}

/* A JSON answer from a buffer the response takes over. */
static enum MHD_Result answer(struct mock_req *r, int status, char *body, const char *ctype)
{
    size_t len = strlen(body);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    add_common_headers(r, resp, ctype ? ctype : "application/json");
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    r->rec.status = status;
    r->rec.bytes = len;
    return ok;
}

static enum MHD_Result answer_error(struct mock_req *r, int status, const char *msg,
                                    const char *type, const char *param, const char *code)
{
    return answer(r, status, co_openai_error(msg, type, param, code), NULL);
}

static enum MHD_Result answer_json(struct mock_req *r, int status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12));
    json_decref(j);
    return answer(r, status, s, NULL);
}

/* Carries out the fault the plan placed at the reader's position. */
static ssize_t do_fault(struct mock_req *r)
{
    struct mock_plan *p = &r->plan;
    switch (p->fault) {
    case MOCK_FAULT_RESET:
        rst_now(r);
        r->end = "reset";
        return MHD_CONTENT_READER_END_WITH_ERROR;
    case MOCK_FAULT_CUT:
        r->end = "cut";
        return MHD_CONTENT_READER_END_OF_STREAM;
    case MOCK_FAULT_CUT_BROKEN:
    case MOCK_FAULT_CLOSE:
        r->end = "cut";
        return MHD_CONTENT_READER_END_WITH_ERROR;
    case MOCK_FAULT_STALL:
        r->fault_done = 1;
        if (p->stall_continue)
            r->t0 += p->stall_us; /* everything after the stall comes later */
        else
            r->close_after_stall = 1;
        req_suspend(r, p->stall_us);
        return 0;
    default:
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
}

static uint64_t piece_due(const struct mock_req *r, size_t i)
{
    if (i == 0)
        return r->t0;
    long k = (long)i < r->ntokens ? (long)i : r->ntokens;
    if (k < 1)
        k = 1;
    return r->t0 + r->plan.ttft_us + (uint64_t)(k - 1) * r->plan.gap_us;
}

/* drip: how many body bytes may go now (byte k is due k/bps seconds after
 * the first); 0 after suspending until the next one is due. */
static size_t drip_allow(struct mock_req *r, uint64_t now)
{
    uint64_t bps = r->plan.drip_bps;
    if (!r->drip_t0)
        r->drip_t0 = now;
    uint64_t due_total = (now - r->drip_t0) * bps / 1000000 + 1;
    if (due_total > r->sent)
        return (size_t)(due_total - r->sent);
    uint64_t next = r->drip_t0 + (r->sent * 1000000 + bps - 1) / bps;
    req_suspend(r, next > now ? next - now : 1);
    return 0;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct mock_req *r = cls;
    struct mock_plan *p = &r->plan;
    uint64_t now = co_now_us();
    size_t n = 0;
    if (r->client_left) {
        r->end = r->plan.end ? r->plan.end : "client_gone";
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (r->close_after_stall) {
        r->end = "stalled";
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (p->drip_bps) {
        size_t allow = drip_allow(r, now);
        if (!allow)
            return 0;
        max = allow < max ? allow : max;
    }
    if (!p->streamed) {
        /* Once a stall that continues is over, the rest of the body follows. */
        size_t limit =
            !r->fault_done && p->fault_at_byte >= 0 && (size_t)p->fault_at_byte < p->body_len
                ? (size_t)p->fault_at_byte
                : p->body_len;
        if (r->off < limit) {
            n = limit - r->off < max ? limit - r->off : max;
            memcpy(buf, p->body + r->off, n);
            r->off += n;
            r->sent += n;
            return (ssize_t)n;
        }
        if (p->fault != MOCK_FAULT_NONE && !r->fault_done && p->fault_at_byte >= 0)
            return do_fault(r);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    if (!r->t0)
        r->t0 = now;
    while (r->piece < p->nevents && n < max) {
        if (r->off == 0) {
            int fault_here = !r->fault_done && p->fault != MOCK_FAULT_NONE &&
                             ((p->fault_at_piece >= 0 && (size_t)p->fault_at_piece == r->piece) ||
                              (p->fault_at_byte >= 0 && r->sent >= (uint64_t)p->fault_at_byte));
            if (fault_here) {
                /* Let what was produced go out first: the fault comes on the
                 * next call, after MHD has sent it. */
                if (n)
                    return (ssize_t)n;
                return do_fault(r);
            }
            uint64_t due = piece_due(r, r->piece);
            if (due > now) {
                if (n)
                    return (ssize_t)n;
                req_suspend(r, due - now);
                return 0;
            }
        }
        size_t len = strlen(p->events[r->piece]);
        size_t c = len - r->off < max - n ? len - r->off : max - n;
        if (p->fault_at_byte >= 0 && !r->fault_done && r->sent + c > (uint64_t)p->fault_at_byte)
            c = (size_t)((uint64_t)p->fault_at_byte - r->sent);
        if (c == 0) {
            if (n)
                return (ssize_t)n;
            return do_fault(r);
        }
        memcpy(buf + n, p->events[r->piece] + r->off, c);
        n += c;
        r->off += c;
        r->sent += c;
        if (r->off == len) {
            r->piece++;
            r->off = 0;
            r->rec.chunks++;
        }
    }
    if (n)
        return (ssize_t)n;
    if (!r->fault_done && p->fault != MOCK_FAULT_NONE && p->fault_at_piece >= 0 &&
        (size_t)p->fault_at_piece >= p->nevents)
        return do_fault(r);
    return MHD_CONTENT_READER_END_OF_STREAM;
}

/* An x-ratelimit-* count; negative means the behaviour left it out. */
static void header_count(struct MHD_Response *resp, const char *name, long v)
{
    char s[32];
    if (v < 0)
        return;
    snprintf(s, sizeof s, "%ld", v);
    MHD_add_response_header(resp, name, s);
}

/* Queues the plan's response (the plan's fault before headers is handled
 * by the caller). */
static enum MHD_Result run_plan(struct mock_req *r)
{
    struct mock_plan *p = &r->plan;
    struct MHD_Response *resp;
    if (!p->streamed && p->fault == MOCK_FAULT_NONE && !p->drip_bps) {
        resp = MHD_create_response_from_buffer(p->body_len, p->body, MHD_RESPMEM_MUST_FREE);
        r->rec.bytes = p->body_len;
        p->body = NULL;
    } else {
        /* Unknown size means chunked: a clean cut then ends with a proper
         * terminator, and pacing can hold the body back. */
        uint64_t size =
            p->streamed || p->fault == MOCK_FAULT_CUT ? MHD_SIZE_UNKNOWN : (uint64_t)p->body_len;
        resp = MHD_create_response_from_callback(size, MOCK_READER_BLOCK, reader, r, NULL);
    }
    add_common_headers(r, resp,
                       p->streamed && !p->echo_header ? "text/event-stream" : p->content_type);
    if (p->echo_header)
        MHD_add_response_header(resp, "x-echo-authorization", p->echo_header);
    if (p->hop_headers) {
        MHD_add_response_header(resp, "Connection", "keep-alive, X-Mock-Hop");
        MHD_add_response_header(resp, "X-Mock-Hop", "1");
        MHD_add_response_header(resp, "Keep-Alive", "timeout=30");
    }
    if (p->streamed)
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
    if (p->retry_after[0])
        MHD_add_response_header(resp, "Retry-After", p->retry_after);
    if (p->retry_after_date) {
        /* The precise wall clock, not time(): a coarse second that lags
         * would make the asked wait up to a tick shorter than
         * retry_after_date_s - 1 s, the least a scenario may count on. */
        struct timespec ts;
        char date[MOCK_HTTP_DATE_LEN];
        clock_gettime(CLOCK_REALTIME, &ts);
        mock_http_date((int64_t)ts.tv_sec + p->retry_after_date_s, date, sizeof date);
        MHD_add_response_header(resp, "Retry-After", date);
    }
    if (p->retry_after_ms[0])
        MHD_add_response_header(resp, "retry-after-ms", p->retry_after_ms);
    if (p->rl.present) {
        header_count(resp, "x-ratelimit-limit-requests", p->rl.limit_requests);
        header_count(resp, "x-ratelimit-remaining-requests", p->rl.remaining_requests);
        if (p->rl.reset_requests[0])
            MHD_add_response_header(resp, "x-ratelimit-reset-requests", p->rl.reset_requests);
        header_count(resp, "x-ratelimit-limit-tokens", p->rl.limit_tokens);
        header_count(resp, "x-ratelimit-remaining-tokens", p->rl.remaining_tokens);
        if (p->rl.reset_tokens[0])
            MHD_add_response_header(resp, "x-ratelimit-reset-tokens", p->rl.reset_tokens);
    }
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)p->status, resp);
    MHD_destroy_response(resp);
    r->rec.status = p->status;
    return ok;
}

/* ---- proxy mode ---------------------------------------------------------------------- */

static void proxy_on_head(void *ctx, long status)
{
    struct mock_req *r = ctx;
    r->proxy_head = 1;
    req_resume(r);
}

static void proxy_on_data(void *ctx)
{
    req_resume(ctx);
}

static void proxy_on_done(void *ctx, int ok)
{
    struct mock_req *r = ctx;
    r->proxy_done = 1;
    req_resume(r);
}

static const struct mock_xfer_cb proxy_cb = {proxy_on_head, proxy_on_data, proxy_on_done};

struct hdr_fwd {
    struct mock_xfer *x;
    size_t n;
};

/* Request headers worth forwarding (at most 32): all but the hop-by-hop
 * ones libcurl sets itself, straight into the transfer. */
static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    static const char *const skip[] = {"host",
                                       "content-length",
                                       "connection",
                                       "expect",
                                       "transfer-encoding",
                                       "accept-encoding",
                                       "keep-alive",
                                       NULL};
    struct hdr_fwd *f = cls;
    if (!value || f->n == 32)
        return MHD_YES;
    for (const char *const *k = skip; *k; k++)
        if (strcasecmp(*k, key) == 0)
            return MHD_YES;
    mock_xfer_header(f->x, key, value);
    f->n++;
    return MHD_YES;
}

/* The body is r's own buffer, borrowed: req_free frees the transfer first. */
static void proxy_start(struct mock_req *r)
{
    r->xfer = mock_proxy_start(r->w->proxy, r->rec.method, r->rec.path, r->body.data, r->body.len,
                               &proxy_cb, r);
    struct hdr_fwd f = {r->xfer, 0};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, collect_header, &f);
    mock_xfer_send(r->xfer);
}

static ssize_t proxy_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct mock_req *r = cls;
    if (r->client_left) {
        r->end = "client_gone";
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    ssize_t n = mock_xfer_read(r->xfer, buf, max);
    if (n > 0) {
        r->sent += (uint64_t)n;
        return n;
    }
    if (n == -1)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n == -2) {
        r->end = "closed"; /* the upstream broke off: so do we */
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    req_suspend_idle(r);
    return 0;
}

/* The upstream's head is in: answer with its status and the headers a
 * client acts on, then stream its body as it comes. */
static enum MHD_Result proxy_answer(struct mock_req *r)
{
    size_t n;
    const struct mock_header *h = mock_xfer_headers(r->xfer, &n);
    struct MHD_Response *resp = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, MOCK_READER_BLOCK, proxy_reader, r, NULL);
    int ctype = 0;
    for (size_t i = 0; i < n; i++) {
        MHD_add_response_header(resp, h[i].name, h[i].value);
        ctype |= strcasecmp(h[i].name, "Content-Type") == 0;
    }
    if (!ctype)
        MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "X-Mock-Name", r->m->name);
    long st = mock_xfer_status(r->xfer);
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)st, resp);
    MHD_destroy_response(resp);
    r->rec.status = (int)st;
    return ok;
}

/* Runs the proxied request: start, wait for the head, answer (or 502). */
static enum MHD_Result proxy_step(struct mock_req *r)
{
    if (!r->xfer) {
        proxy_start(r);
        req_suspend_idle(r);
        return MHD_YES;
    }
    if (r->proxy_head)
        return proxy_answer(r);
    if (r->proxy_done) {
        char msg[320];
        snprintf(msg, sizeof msg, "Upstream failed: %s", mock_xfer_error(r->xfer));
        return answer_error(r, 502, msg, "server_error", NULL, "upstream_error");
    }
    req_suspend_idle(r);
    return MHD_YES;
}

/* ---- deciding ----------------------------------------------------------------------- */

static const char *facts_header(void *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx, MHD_HEADER_KIND, name);
}

static void record_decision(struct mock_req *r, const struct mock_decision *d)
{
    mock_scopy(r->rec.rule, sizeof r->rec.rule, d->rule < 0 ? "" : d->rule_name);
    if (d->rule >= 0 && !d->rule_name[0])
        snprintf(r->rec.rule, sizeof r->rec.rule, "#%d", d->rule);
    mock_scopy(r->rec.action, sizeof r->rec.action, mock_action_kind(d->action.type)->name);
}

static void set_rl_headers(struct mock_plan *p, const struct mock_rl_verdict *v)
{
    p->rl.present = 1;
    p->rl.limit_requests = v->limit_requests > 0 ? v->limit_requests : -1;
    p->rl.remaining_requests = v->limit_requests > 0 ? v->remaining_requests : -1;
    p->rl.limit_tokens = v->limit_tokens > 0 ? v->limit_tokens : -1;
    p->rl.remaining_tokens = v->limit_tokens > 0 ? v->remaining_tokens : -1;
    p->rl.reset_requests[0] = p->rl.reset_tokens[0] = '\0';
    if (v->limit_requests > 0)
        mock_fmt_duration(v->reset_requests_ms, p->rl.reset_requests, sizeof p->rl.reset_requests);
    if (v->limit_tokens > 0)
        mock_fmt_duration(v->reset_tokens_ms, p->rl.reset_tokens, sizeof p->rl.reset_tokens);
}

/* Per-request randomness.  With one stream drawn in arrival order, the same
 * --seed gave different faults to the same request id from run to run: a
 * health check or a retry arriving a millisecond earlier shifted every draw
 * after it.  So a request that carries an id (X-Request-ID, else the body's
 * user) draws from its own stream, seeded from the mock's seed, the id and
 * how many times this id has arrived here before (a retry to the same
 * colour is a new draw, the same one in every run).  Requests without an
 * id (health checks) keep the mock's shared stream.  The arrival counts
 * live in a bounded open-addressing table, cleared when three quarters
 * full (a run that long sees each id again within moments, if at all). */
#define MOCK_ORD_SLOTS 16384
struct mock_ordinals {
    size_t used;
    struct {
        uint64_t h;
        uint32_t n;
    } slot[MOCK_ORD_SLOTS];
};

static uint32_t ordinal_of(struct mock *m, uint64_t h)
{
    if (!m->ord)
        m->ord = co_calloc(1, sizeof *m->ord);
    struct mock_ordinals *o = m->ord;
    if (o->used >= MOCK_ORD_SLOTS / 4 * 3)
        memset(o, 0, sizeof *o);
    h = h ? h : 1; /* 0 marks a free slot */
    size_t i = h & (MOCK_ORD_SLOTS - 1);
    while (o->slot[i].h && o->slot[i].h != h)
        i = (i + 1) & (MOCK_ORD_SLOTS - 1);
    if (!o->slot[i].h) {
        o->slot[i].h = h;
        o->used++;
    }
    return o->slot[i].n++;
}

/* Seeds dec (decisions) and ids (completion id) for a request with this id;
 * returns 0, or -1 (id empty) to use the shared streams. */
static int request_rngs(struct mock *m, const char *id, struct co_rng *dec, struct co_rng *ids)
{
    if (!id || !*id)
        return -1;
    uint64_t h = co_hash_str(id);
    uint64_t k = ordinal_of(m, h);
    uint64_t x = m->seed ^ h ^ ((k + 1) * 0x9e3779b97f4a7c15ull);
    co_rng_seed(dec, x);
    co_rng_seed(ids, x ^ 0x5bd1e995u);
    return 0;
}

/* "chatcmpl-NAME-" and 24 random characters: the mock's name in the id says
 * who served the answer even when a relay drops every header. */
static void new_id(struct co_rng *rng, const char *name, char *out, size_t n)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    /* Copied, not formatted: snprintf was a quarter of deciding an answer
     * once the body is parsed.  The same bytes as "chatcmpl-%.16s-%s". */
    char s[9 + 16 + 1 + 24 + 1];
    size_t k = 9, nl = strnlen(name, 16);
    memcpy(s, "chatcmpl-", 9);
    memcpy(s + k, name, nl);
    k += nl;
    s[k++] = '-';
    for (int i = 0; i < 24; i++)
        s[k++] = al[co_rng_next(rng) % (sizeof al - 1)];
    s[k] = '\0';
    mock_scopy(out, n, s);
}

/* The request id from whichever path carried it: the X-Request-ID header,
 * then the body's "user", then the content marker.  When the marker is
 * there it is the truth (a relay may put an id of its own in the header):
 * the first path that carried the same id is the one journaled. */
static void resolve_id(struct mock_record *rec, const struct mock_chat_req *q)
{
    const char *via = "";
    if (q->marker[0]) {
        via = strcmp(rec->request_id, q->marker) == 0 ? "header"
              : strcmp(q->user, q->marker) == 0       ? "user"
                                                      : "content";
        mock_scopy(rec->request_id, sizeof rec->request_id, q->marker);
    } else if (rec->request_id[0]) {
        via = "header";
    } else if (q->user[0]) {
        via = "user";
        mock_scopy(rec->request_id, sizeof rec->request_id, q->user);
    }
    mock_scopy(rec->id_via, sizeof rec->id_via, via);
}

/* Once per request, in req_new: the decide_* functions fill it in. */
static void plan_init(struct mock_plan *p)
{
    memset(p, 0, sizeof *p);
    p->status = 200;
    p->content_type = "application/json";
    p->fault_at_piece = -1;
    p->fault_at_byte = -1;
    p->rl.limit_requests = p->rl.remaining_requests = -1;
    p->rl.limit_tokens = p->rl.remaining_tokens = -1;
}

/* Decides a chat completion: limiter, rules, then the plan.  Returns 0 with
 * the plan ready, or an MHD result when it answered already.  The parse
 * before and the body after run outside the lock; what draws, counts or
 * reads the behaviour runs inside it (the behaviour may be replaced by a
 * control request on another worker as soon as the lock is released, so
 * what the answer needs from it is copied). */
static int decide_chat(struct mock_req *r, enum MHD_Result *res)
{
    struct mock *m = r->m;
    struct mock_chat_req q;
    char *errbody = NULL;
    json_t *doc = NULL; /* for body matches; released once the rules have decided */
    int st = mock_chat_parse_doc(r->body.data, r->body.len, &q, &errbody, &doc);
    if (st) {
        mock_scopy(r->rec.action, sizeof r->rec.action, "bad_request");
        *res = answer(r, st, errbody, NULL);
        return 1;
    }
    mock_scopy(r->rec.model, sizeof r->rec.model, q.model);
    mock_scopy(r->rec.user, sizeof r->rec.user, q.user);
    resolve_id(&r->rec, &q);
    mock_scopy(q.stamp, sizeof q.stamp, m->name);
    r->rec.stream = q.stream;
    r->rec.max_tokens = q.max_tokens;
    r->rec.messages_hash = q.hash;
    mock_body_fields(doc, r->rec.fields, sizeof r->rec.fields);
    r->rec.prompt_chars = q.prompt_chars;
    r->rec.messages = q.messages;
    const char *finish = "stop";
    struct mock_decision d;
    char id[64];
    struct co_rng own_dec, own_ids, *dec = &m->rng, *ids = &m->idrng;

    pthread_mutex_lock(&m->mu);
    struct mock_behavior *b = m->beh;
    long tokens = b->reply_tokens;
    mock_scopy(q.answer_model, sizeof q.answer_model, b->reply_model);
    mock_scopy(r->rec.answer_model, sizeof r->rec.answer_model, b->reply_model);
    long ttft_ms = b->ttft_ms;
    double tokens_per_s = b->tokens_per_s;
    if (q.max_tokens >= 0 && q.max_tokens < tokens) {
        tokens = q.max_tokens;
        finish = "length";
    }
    uint64_t now = co_now_us();
    struct mock_facts f = {r->rec.path,  q.model, q.stream, m->traffic_index++,
                           facts_header, r->conn, doc};
    /* The limiter stands in front, as a provider's gateway does. */
    struct mock_rl_verdict v = {0};
    int limited = b->rl_requests > 0 || b->rl_tpm > 0;
    if (limited) {
        mock_rl_admit(&m->rl, now, q.prompt_tokens + tokens, &v);
        if (!v.admitted) {
            pthread_mutex_unlock(&m->mu);
            set_rl_headers(&r->plan, &v);
            struct mock_action a;
            mock_action_default(&a, MOCK_ACT_STATUS);
            a.code = 429;
            a.retry_after_s = (double)((v.retry_after_ms + 999) / 1000);
            a.retry_after_ms = (long)v.retry_after_ms;
            mock_plan_apply(&a, &r->plan); /* a default action leaves plan.rl alone */
            mock_scopy(r->rec.rule, sizeof r->rec.rule, "rate_limit");
            mock_scopy(r->rec.action, sizeof r->rec.action, "status");
            json_decref(doc);
            return 0;
        }
    }
    if (request_rngs(m, r->rec.request_id[0] ? r->rec.request_id : q.user, &own_dec, &own_ids) == 0)
        dec = &own_dec, ids = &own_ids;
    mock_select(&b->rules, &b->latency, &f, now - m->beh_set_us, dec, &d);
    record_decision(r, &d); /* d.rule_name points into the behaviour */
    int proxied = m->proxy_mode && d.rule < 0;
    if (!proxied)
        new_id(ids, m->name, id, sizeof id);
    pthread_mutex_unlock(&m->mu);

    json_decref(doc);
    if (limited)
        set_rl_headers(&r->plan, &v);
    if (proxied) {
        r->proxied = 1;
        r->delay_us = d.latency_us;
        mock_scopy(r->rec.action, sizeof r->rec.action, "proxy");
        return 0;
    }
    long created = (long)time(NULL);
    struct mock_plan *p = &r->plan;
    r->ntokens = tokens;
    r->rec.prompt_tokens = q.prompt_tokens;
    r->rec.completion_tokens = tokens;
    mock_scopy(r->rec.finish, sizeof r->rec.finish, finish);
    p->ttft_us = (uint64_t)ttft_ms * 1000;
    p->gap_us = tokens_per_s > 0 ? (uint64_t)(1e6 / tokens_per_s) : 0;
    if (q.stream) {
        p->streamed = 1;
        p->events = mock_sse_events(&q, id, created, tokens, finish, &p->nevents);
    } else {
        p->body = mock_chat_body(&q, id, created, tokens, finish);
        p->body_len = strlen(p->body);
    }
    p->authorization = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    mock_plan_apply(&d.action, p);
    r->delay_us = d.latency_us + p->extra_delay_us;
    /* Without streaming, generation time passes before the headers. */
    if (!q.stream && p->status == 200)
        r->delay_us += p->ttft_us + p->gap_us * (uint64_t)tokens;
    return 0;
}

/* Health and models: a plain body (copied) that the rules may still turn
 * into a fault.  health: the health rules and index, else the traffic ones. */
static void decide_simple(struct mock_req *r, const char *body, int health)
{
    struct mock *m = r->m;
    struct mock_decision d;
    struct co_rng own_dec, own_ids, *dec = &m->rng;
    pthread_mutex_lock(&m->mu);
    struct mock_rules *rules = health ? &m->beh->health_rules : &m->beh->rules;
    const struct mock_latency *lat = health ? &m->beh->health_latency : &m->beh->latency;
    uint64_t index = !health              ? m->traffic_index++
                     : r->rec.ready_probe ? m->health_index
                                          : m->health_index++;
    struct mock_facts f = {r->rec.path, NULL, 0, index, facts_header, r->conn, NULL};
    if (request_rngs(m, r->rec.request_id, &own_dec, &own_ids) == 0)
        dec = &own_dec;
    /* The runner's ready probe is answered as the next request would be,
     * but leaves the rules' counts and the shared draws as they were: the
     * relay's own requests meet "first", "every", "sequence" and "p" as if
     * it had never come. */
    uint64_t matched[MOCK_MAX_RULES];
    struct co_rng saved = m->rng;
    size_t nsave = rules->n < MOCK_MAX_RULES ? rules->n : MOCK_MAX_RULES;
    for (size_t i = 0; i < nsave; i++)
        matched[i] = rules->v[i].matched;
    mock_select(rules, lat, &f, co_now_us() - m->beh_set_us, dec, &d);
    if (r->rec.ready_probe) {
        for (size_t i = 0; i < nsave; i++)
            rules->v[i].matched = matched[i];
        m->rng = saved;
    }
    record_decision(r, &d); /* d.rule_name points into the behaviour */
    pthread_mutex_unlock(&m->mu);
    if (m->proxy_mode && d.rule < 0 && r->route == R_MODELS) {
        r->proxied = 1;
        r->delay_us = d.latency_us;
        mock_scopy(r->rec.action, sizeof r->rec.action, "proxy");
        return;
    }
    r->plan.body = co_strdup(body);
    r->plan.body_len = strlen(body);
    r->plan.authorization = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    mock_plan_apply(&d.action, &r->plan);
    r->delay_us = d.latency_us + r->plan.extra_delay_us;
}

/* ---- the control API ------------------------------------------------------------------- */

/* An optional unsigned query argument; -1 when present but not a number. */
static int query_u64(struct mock_req *r, const char *name, unsigned long long *out)
{
    const char *s = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    char *end = NULL;
    if (!s)
        return 0;
    if (!*s || strchr(s, '-') || strchr(s, '+')) /* strtoull would take a sign */
        return -1;
    errno = 0;
    *out = strtoull(s, &end, 10);
    /* Past the largest value is "everything after the end": an empty page. */
    if (errno == ERANGE)
        *out = ULLONG_MAX;
    return *end ? -1 : 0;
}

static int set_behavior(struct mock *m, const json_t *j, json_t **now, char *err, size_t errlen);

static enum MHD_Result control(struct mock_req *r, const char *method)
{
    struct mock *m = r->m;
    const char *path = r->rec.path;
    if (strcmp(path, "/_mock/behavior") == 0) {
        if (strcmp(method, "GET") == 0)
            return answer_json(r, 200, mock_get_behavior(m));
        if (strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0) {
            char err[512];
            json_t *j = co_json_loadb(r->body.data ? r->body.data : "", r->body.len, "body", err,
                                      sizeof err);
            if (!j)
                return answer_error(r, 400, err, "invalid_request_error", NULL, "invalid_json");
            json_t *now = NULL;
            int rc = set_behavior(m, j, &now, err, sizeof err);
            json_decref(j);
            if (rc) {
                /* param carries the JSON path alone, for tools. */
                char param[256];
                const char *colon = strstr(err, ": ");
                snprintf(param, sizeof param, "%.*s", colon ? (int)(colon - err) : 0, err);
                return answer_error(r, 400, err, "invalid_request_error", param,
                                    "invalid_behavior");
            }
            return answer_json(r, 200, json_pack("{s:b,s:o}", "ok", 1, "behavior", now));
        }
    } else if (strcmp(path, "/_mock/journal") == 0) {
        if (strcmp(method, "GET") == 0) {
            unsigned long long since = 0, limit = 0;
            if (query_u64(r, "since", &since) || query_u64(r, "limit", &limit))
                return answer_error(r, 400, "'since' and 'limit' must be non-negative integers",
                                    "invalid_request_error", "since", NULL);
            uint64_t next;
            pthread_mutex_lock(&m->mu);
            json_t *recs = mock_journal_page(&m->journal, since, (size_t)limit, &next);
            json_int_t dropped = (json_int_t)m->journal.dropped;
            pthread_mutex_unlock(&m->mu);
            return answer_json(r, 200,
                               json_pack("{s:o,s:I,s:I}", "records", recs, "next", (json_int_t)next,
                                         "dropped", dropped));
        }
    } else if (strcmp(path, "/_mock/reset") == 0) {
        if (strcmp(method, "POST") == 0) {
            mock_reset(m);
            return answer_json(r, 200, json_pack("{s:b}", "ok", 1));
        }
    } else {
        return answer_error(r, 404,
                            "Unknown control path; try /_mock/behavior, /_mock/journal, "
                            "/_mock/reset",
                            "invalid_request_error", NULL, "unknown_url");
    }
    return answer_error(r, 405, "Method not allowed on this control path", "invalid_request_error",
                        NULL, "method_not_allowed");
}

/* ---- MHD callbacks -------------------------------------------------------------------------- */

/* The name comes from the command line: JSON-encode it, never paste it. */
static char *health_body(const struct mock *m)
{
    json_t *j = json_pack("{s:s,s:s}", "status", "healthy", "name", m->name);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s ? s : co_strdup("{\"status\":\"healthy\"}");
}

static int route_of(const char *url)
{
    if (strcmp(url, "/v1/chat/completions") == 0 || strcmp(url, "/chat/completions") == 0)
        return R_CHAT;
    if (strcmp(url, "/v1/models") == 0 || strcmp(url, "/models") == 0)
        return R_MODELS;
    if (strcmp(url, "/health") == 0 || strcmp(url, "/v1/health") == 0)
        return R_HEALTH;
    if (strncmp(url, "/_mock/", 7) == 0)
        return R_CONTROL;
    return R_NOTFOUND;
}

/* What the Authorization header carried, compared with the key the relay
 * was given: the journal says which, never the key. */
static const char *key_fingerprint(const char *want, const char *auth)
{
    if (!want[0])
        return NULL;
    if (!auth)
        return "missing";
    if (strncasecmp(auth, "Bearer ", 7) == 0)
        auth += 7;
    return strcmp(auth, want) == 0 ? "configured" : "other";
}

/* Each TCP connection gets a serial in its socket context, so the journal
 * tells which requests shared a connection (the relay's upstream reuse). */
static void on_conn(void *cls, struct MHD_Connection *c, void **socket_context,
                    enum MHD_ConnectionNotificationCode toe)
{
    struct mock *m = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        *socket_context = (void *)(uintptr_t)__atomic_add_fetch(&m->conns, 1, __ATOMIC_RELAXED);
}

/* A request struct is over 1 KiB, which glibc serves from its large bins:
 * each such malloc first consolidates the small free chunks of the request
 * before (malloc_consolidate, 1-3% of the mock's CPU in a profile under
 * wrk).  So freed ones are kept, up to a bound, and handed out zeroed. */
#define MOCK_SPARE_MAX 256
/* A spare keeps its body buffer too (one malloc and free less per request)
 * unless a large body grew it past this. */
#define MOCK_SPARE_BODY_MAX (16 * 1024)

static struct mock_req *req_alloc(struct mock_worker *w)
{
    struct mock_req *r = w->spare;
    if (!r) {
        r = co_calloc(1, sizeof *r);
        co_buf_init(&r->body, MOCK_MAX_BODY);
        return r;
    }
    w->spare = r->next;
    w->nspare--;
    struct co_buf body = r->body;
    memset(r, 0, sizeof *r);
    r->body = body;
    co_buf_reset(&r->body);
    return r;
}

static struct mock_req *req_new(struct mock_worker *w, struct MHD_Connection *conn, const char *url,
                                const char *method)
{
    struct mock *m = w->m;
    struct mock_req *r = req_alloc(w);
    const char *v;
    r->m = m;
    r->w = w;
    r->conn = conn;
    r->route = route_of(url);
    ev_init(&r->timer, on_req_timer);
    r->timer.data = r;
    ev_init(&r->watch, on_req_watch);
    r->watch.data = r;
    plan_init(&r->plan);
    r->rec.t_arrival_us = co_now_us();
    r->rec.attempt = -1;
    mock_scopy(r->rec.method, sizeof r->rec.method, method);
    mock_scopy(r->rec.path, sizeof r->rec.path, url);
    mock_scopy(r->rec.action, sizeof r->rec.action, "ok");
    if ((v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-ID"))) {
        mock_scopy(r->rec.request_id, sizeof r->rec.request_id, v);
        mock_scopy(r->rec.id_via, sizeof r->rec.id_via, "header");
    }
    r->rec.ready_probe =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MOCK_READY_PROBE_HEADER) != NULL;
    if ((v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Env")))
        mock_scopy(r->rec.env, sizeof r->rec.env, v);
    if ((v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Attempt")))
        r->rec.attempt = strtol(v, NULL, 10);
    v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    r->rec.auth = v != NULL;
    r->rec.key = key_fingerprint(m->api_key, v);
    r->rec.max_tokens = -1;
    r->rec.prompt_chars = r->rec.messages = -1;
    r->rec.prompt_tokens = r->rec.completion_tokens = -1;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    r->rec.conn = ci ? (uint64_t)(uintptr_t)ci->socket_context : 0;
    r->next = w->live;
    if (w->live)
        w->live->prev = r;
    w->live = r;
    return r;
}

static void req_free(struct mock_req *r)
{
    struct mock_worker *w = r->w;
    ev_timer_stop(w->loop, &r->timer);
    ev_io_stop(w->loop, &r->watch);
    if (r->prev)
        r->prev->next = r->next;
    else
        w->live = r->next;
    if (r->next)
        r->next->prev = r->prev;
    mock_xfer_free(&r->xfer);
    mock_plan_free(&r->plan);
    if (w->nspare < MOCK_SPARE_MAX) {
        if (r->body.cap > MOCK_SPARE_BODY_MAX)
            co_buf_free(&r->body);
        r->next = w->spare;
        w->spare = r;
        w->nspare++;
    } else {
        co_buf_free(&r->body);
        free(r);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    struct mock_worker *w = cls;
    struct mock *m = w->m;
    struct mock_req *r = *con_cls;
    if (!r) {
        *con_cls = r = req_new(w, conn, url, method);
        /* A head a relay framed ambiguously is refused and the connection
         * closed (RFC 9112 6.3), so that a relay that smuggles is seen,
         * never answered twice. */
        const char *bad = co_evhttp_framing_error(conn);
        if (!bad)
            return MHD_YES;
        r->decided = 1;
        mock_scopy(r->rec.action, sizeof r->rec.action, "bad_request");
        char *body = co_openai_error(bad, "invalid_request_error", NULL, "invalid_request");
        size_t len = strlen(body);
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
        add_common_headers(r, resp, "application/json");
        MHD_add_response_header(resp, "Connection", "close");
        enum MHD_Result ok = MHD_queue_response(conn, 400, resp);
        MHD_destroy_response(resp);
        r->rec.status = 400;
        r->rec.bytes = len;
        return ok;
    }
    if (*upload_size) {
        if (!r->too_big && co_buf_append(&r->body, upload_data, *upload_size) != 0)
            r->too_big = 1; /* keep reading and discarding; answer 413 at the end */
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->client_left) {
        r->end = r->plan.end ? r->plan.end : "client_gone";
        return MHD_NO;
    }
    if (!r->decided) {
        r->decided = 1;
        if (r->too_big) {
            mock_scopy(r->rec.action, sizeof r->rec.action, "bad_request");
            return answer_error(r, 413, "Request body too large (limit 1 MiB).",
                                "invalid_request_error", NULL, "request_too_large");
        }
        enum MHD_Result res;
        switch (r->route) {
        case R_CONTROL:
            return control(r, method);
        case R_CHAT:
            if (strcmp(method, "POST") != 0)
                return answer_error(r, 405, "Use POST for /v1/chat/completions.",
                                    "invalid_request_error", NULL, "method_not_allowed");
            if (decide_chat(r, &res))
                return res;
            break;
        case R_MODELS:
            decide_simple(r, m->models_body, 0);
            break;
        case R_HEALTH:
            decide_simple(r, m->health_body, 1);
            break;
        default:
            mock_scopy(r->rec.action, sizeof r->rec.action, "not_found");
            return answer_error(r, 404, "Unknown request URL. Please check the URL.",
                                "invalid_request_error", NULL, "unknown_url");
        }
    }
    if (r->delay_us) {
        uint64_t d = r->delay_us;
        r->delay_us = 0;
        req_suspend(r, d);
        return MHD_YES;
    }
    if (r->proxied)
        return proxy_step(r);
    if (r->plan.fault_at_piece < 0 && r->plan.fault_at_byte < 0) {
        switch (r->plan.fault) {
        case MOCK_FAULT_RESET:
            rst_now(r);
            r->end = "reset";
            return MHD_NO;
        case MOCK_FAULT_CLOSE:
            r->end = "closed";
            return MHD_NO;
        case MOCK_FAULT_NEVER:
            req_suspend(r, UINT64_MAX);
            return MHD_YES;
        default:
            break;
        }
    }
    return run_plan(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct mock *m = ((struct mock_worker *)cls)->m;
    struct mock_req *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    if (r->route != R_CONTROL) {
        const char *end = r->end;
        /* A request held forever ends when the client gives up, whichever
         * of our watcher or MHD's read notices first. */
        if (!end && r->plan.fault == MOCK_FAULT_NEVER)
            end = "timeout";
        if (!end) {
            switch (toe) {
            case MHD_REQUEST_TERMINATED_COMPLETED_OK:
                end = r->plan.end ? r->plan.end : "complete";
                break;
            case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
                end = r->plan.end ? r->plan.end : "closed";
                break;
            default:
                end = "client_gone";
            }
        }
        if (r->plan.streamed || r->sent)
            r->rec.bytes = r->sent;
        mock_scopy(r->rec.end, sizeof r->rec.end, end);
        r->rec.t_done_us = co_now_us();
        pthread_mutex_lock(&m->mu);
        mock_journal_add(&m->journal, &r->rec);
        pthread_mutex_unlock(&m->mu);
    }
    req_free(r);
}

/* ---- public API --------------------------------------------------------------------------------
 */

static void behavior_install(struct mock *m, struct mock_behavior *b)
{
    mock_behavior_free(&m->beh);
    m->beh = b;
    m->beh_set_us = co_now_us();
    m->traffic_index = m->health_index = 0;
    mock_rl_free(&m->rl);
    mock_rl_init(&m->rl, b->rl_requests, b->rl_window_ms, b->rl_tpm);
}

/* Builds worker w's daemon (and proxy) on loop.  reuse: several daemons
 * share the port.  Returns 0, or -1 with a message in err. */
static int worker_start(struct mock *m, struct mock_worker *w, struct ev_loop *loop,
                        const struct mock_opts *o, uint16_t port, int reuse, char *err,
                        size_t errlen)
{
    struct co_evhttp_opts ho = {0};
    w->m = m;
    w->loop = loop;
    ho.addr = o->addr ? o->addr : "127.0.0.1";
    ho.port = port;
    ho.handler = on_request;
    ho.handler_cls = w;
    ho.completed = on_completed;
    ho.completed_cls = w;
    ho.conn_memory_limit = MOCK_CONN_POOL;
    ho.notify_conn = on_conn;
    ho.notify_conn_cls = m;
    ho.reuse_port = reuse;
    if (m->proxy_mode && !(w->proxy = mock_proxy_new(loop, o->upstream_url, err, errlen)))
        return -1;
    return co_evhttp_start(&w->http, loop, &ho, err, errlen);
}

/* Resumes what is suspended (MHD must not be stopped with a suspended
 * connection), stops the daemon (which completes, and so journals, every
 * request still open) and frees the worker's requests.  On the worker's own
 * thread, or on the caller's for worker 0. */
static void worker_close(struct mock_worker *w)
{
    for (struct mock_req *r = w->live; r; r = r->next)
        req_resume(r);
    co_evhttp_stop(&w->http);
    while (w->live)
        req_free(w->live);
    while (w->spare) {
        struct mock_req *r = w->spare;
        w->spare = r->next;
        co_buf_free(&r->body);
        free(r);
    }
    w->nspare = 0;
    mock_proxy_free(&w->proxy);
}

/* SO_REUSEPORT lets any socket of the same user that also asks for it
 * join the port, so a second `cutover mock --threads N --port P` would
 * silently take half of the first one's connections.  A plain bind first
 * (no SO_REUSEPORT) fails on a port anyone holds, reuse group or not: the
 * port is taken only when it is free, as with one thread.  Port 0: the
 * kernel's pick, which the workers then share.  Returns the port, or 0
 * with a message in err. */
static uint16_t port_probe(const char *addr, uint16_t port, char *err, size_t errlen)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "bad listen address '%s'", addr);
        return 0;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    uint16_t got = 0;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        snprintf(err, errlen, "cannot listen on %s:%u: %s", addr, (unsigned)port, strerror(errno));
    else
        got = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return got;
}

static void on_worker_stop(struct ev_loop *loop, ev_async *a, int revents)
{
    ev_break(loop, EVBREAK_ALL);
}

static void *worker_main(void *arg)
{
    struct mock_worker *w = arg;
    ev_run(w->loop, 0);
    worker_close(w);
    ev_async_stop(w->loop, &w->stop);
    return NULL;
}

struct mock *mock_new(struct ev_loop *loop, const struct mock_opts *o, char *err, size_t errlen)
{
    struct mock *m = co_calloc(1, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    mock_scopy(m->name, sizeof m->name, o->name ? o->name : "mock");
    m->seed = o->seed;
    co_rng_seed(&m->rng, o->seed);
    co_rng_seed(&m->idrng, o->seed ^ 0x5bd1e995u);
    mock_journal_init(&m->journal, o->journal_cap);
    behavior_install(m, mock_behavior_default());
    m->health_body = health_body(m);
    m->models_body = mock_models_body(NULL);
    mock_scopy(m->api_key, sizeof m->api_key, o->api_key ? o->api_key : "");
    m->proxy_mode = o->upstream_url && o->upstream_url[0];
    m->nw = o->threads > 1 ? o->threads : 1;
    m->w = co_calloc(m->nw, sizeof *m->w);
    /* Worker 0 binds first; the others join its port. */
    int reuse = m->nw > 1;
    uint16_t port = o->port;
    if (reuse && !(port = port_probe(o->addr ? o->addr : "127.0.0.1", o->port, err, errlen)))
        goto fail;
    if (worker_start(m, &m->w[0], loop, o, port, reuse, err, errlen) != 0)
        goto fail;
    m->port = m->w[0].http.port;
    for (size_t i = 1; i < m->nw; i++) {
        struct mock_worker *w = &m->w[i];
        struct ev_loop *wl = ev_loop_new(EVFLAG_AUTO);
        if (!wl) {
            snprintf(err, errlen, "cannot make an event loop for worker %zu", i);
            goto fail;
        }
        if (worker_start(m, w, wl, o, m->port, reuse, err, errlen) != 0) {
            worker_close(w);
            ev_loop_destroy(wl);
            w->loop = NULL;
            goto fail;
        }
        ev_async_init(&w->stop, on_worker_stop);
        ev_async_start(wl, &w->stop);
        /* Signals stay with the caller's thread (its loop's ev_signal). */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int rc = pthread_create(&w->thread, NULL, worker_main, w);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc != 0) {
            snprintf(err, errlen, "cannot start worker thread %zu: %s", i, strerror(rc));
            ev_async_stop(wl, &w->stop);
            worker_close(w);
            ev_loop_destroy(wl);
            w->loop = NULL;
            goto fail;
        }
        w->threaded = 1;
    }
    snprintf(m->url, sizeof m->url, "http://%s:%u", o->addr ? o->addr : "127.0.0.1",
             (unsigned)m->port);
    return m;
fail:
    mock_free(&m);
    return NULL;
}

void mock_free(struct mock **pm)
{
    struct mock *m = *pm;
    if (!m)
        return;
    /* The threads first: each closes its own connections on its own loop
     * (journaling what was open) and ends. */
    for (size_t i = 1; i < m->nw; i++) {
        struct mock_worker *w = &m->w[i];
        if (!w->threaded)
            continue;
        ev_async_send(w->loop, &w->stop);
        pthread_join(w->thread, NULL);
        ev_loop_destroy(w->loop);
        w->threaded = 0;
    }
    if (m->nw)
        worker_close(&m->w[0]);
    free(m->w);
    mock_behavior_free(&m->beh);
    mock_rl_free(&m->rl);
    mock_journal_free(&m->journal);
    free(m->ord);
    free(m->health_body);
    free(m->models_body);
    pthread_mutex_destroy(&m->mu);
    free(m);
    *pm = NULL;
}

uint16_t mock_port(const struct mock *m)
{
    return m->port;
}

const char *mock_url(const struct mock *m)
{
    return m->url;
}

/* The lock from a const mock: the getters only read the shared state, but
 * must still keep out a worker that is changing it. */
static pthread_mutex_t *mu_of(const struct mock *m)
{
    return (pthread_mutex_t *)&m->mu;
}

/* Parses outside the lock (pure), installs under it; *now (when not NULL)
 * gets the installed behaviour's JSON, read under the same lock. */
static int set_behavior(struct mock *m, const json_t *j, json_t **now, char *err, size_t errlen)
{
    struct mock_behavior *b = NULL;
    if (mock_behavior_parse(j, &b, err, errlen) != 0)
        return -1;
    pthread_mutex_lock(&m->mu);
    behavior_install(m, b);
    if (now)
        *now = json_deep_copy(m->beh->src);
    pthread_mutex_unlock(&m->mu);
    return 0;
}

int mock_set_behavior(struct mock *m, const json_t *behavior, char *err, size_t errlen)
{
    return set_behavior(m, behavior, NULL, err, errlen);
}

int mock_behavior_validate(const json_t *behavior, char *err, size_t errlen)
{
    struct mock_behavior *b = NULL;
    if (mock_behavior_parse(behavior, &b, err, errlen) != 0)
        return -1;
    mock_behavior_free(&b);
    return 0;
}

json_t *mock_get_behavior(const struct mock *m)
{
    pthread_mutex_lock(mu_of(m));
    json_t *j = json_deep_copy(m->beh->src);
    pthread_mutex_unlock(mu_of(m));
    return j;
}

json_t *mock_journal(const struct mock *m, uint64_t since)
{
    pthread_mutex_lock(mu_of(m));
    json_t *j = mock_journal_json(&m->journal, since);
    pthread_mutex_unlock(mu_of(m));
    return j;
}

uint64_t mock_journal_dropped(const struct mock *m)
{
    pthread_mutex_lock(mu_of(m));
    uint64_t n = m->journal.dropped;
    pthread_mutex_unlock(mu_of(m));
    return n;
}

void mock_reset(struct mock *m)
{
    pthread_mutex_lock(&m->mu);
    mock_journal_clear(&m->journal);
    free(m->ord);
    m->ord = NULL;
    co_rng_seed(&m->rng, m->seed);
    co_rng_seed(&m->idrng, m->seed ^ 0x5bd1e995u);
    behavior_install(m, mock_behavior_default());
    pthread_mutex_unlock(&m->mu);
}
