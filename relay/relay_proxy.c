/* One client request proxied upstream: choosing the colour of each attempt,
 * timing attempts out, sleeping between them, and answering the client.
 *
 * Lifecycle.  The access handler feeds the body (relay_req_body), then calls
 * relay_req_step, which validates, starts attempt 1 on the curl multi and
 * suspends the client connection.  Each attempt ends in attempt_done (curl
 * finished, or our own timer aborted it), which asks relay_classify what the
 * outcome means, tells the switch state machine, and either sleeps (an
 * ev_timer) before the next attempt or builds the final response and resumes
 * the connection; MHD then calls the handler again and relay_req_step queues
 * the response.  MHD's completion callback (relay_req_finished) frees.
 *
 * Streams.  A 2xx answer to a `stream: true` request commits on its first
 * body byte: from then on there is no retry and no failover (the client
 * already has bytes).  The body flows through a bounded buffer: curl's write
 * callback appends and pauses the transfer above STREAM_HIGH; MHD's content
 * reader drains it, suspends the connection when it is empty and unpauses
 * curl below STREAM_LOW.  A stream that ends before its finish_reason (with
 * stream_done strict: without [DONE]), resets or stalls past idle_timeout_ms
 * gets an in-band `data: {"error":...}` event and a clean chunked end, never
 * a truncation that looks like success; one that ends cleanly after its
 * finish_reason gets the [DONE] its upstream left out (stream_done lenient).
 *
 * Client disconnects.  A suspended connection is invisible to MHD, so while
 * suspended we watch its socket ourselves; EOF cancels the upstream transfer
 * and the handler then returns MHD_NO, so MHD closes the socket at once
 * (left to itself it would wait for a response that never comes).
 *
 * The upstream key.  An upstream may quote the key it was sent (a 401's
 * "Incorrect API key provided: sk-..."); every byte passed on to the client
 * is scrubbed of it first: whole answers before they are queued, streams as
 * they flow (a tail that could be the start of the key is held back until
 * the next chunk shows whether it is), and the Content-Type.
 *
 * Memory.  Whole upstream answers are buffered before they are checked;
 * the bytes buffered across all requests are bounded by max_buffered_bytes,
 * and an answer that would pass it is refused with a 503. */
#include "relay.h"

#include "co_buf.h"
#include "co_clock.h"
#include "co_json.h"
#include "co_log.h"
#include "co_mem.h"
#include "relay_classify.h"
#include "relay_parse.h"
#include "relay_retryafter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define STREAM_HIGH (256 * 1024)
#define STREAM_LOW  (64 * 1024)
#define RESP_MAX    (64 * 1024 * 1024) /* a non-stream upstream answer */
#define POOL_MAX    4096

struct relay_req {
    enum relay_xfer_kind kind; /* first: RELAY_XFER_REQ */
    struct relay *r;
    struct MHD_Connection *conn;
    struct relay_req *prev, *next;
    enum relay_route_kind route;
    char id[132];
    char model[72];
    int stream;
    struct co_buf body;
    int too_big;
    int started;    /* counted in r->inflight from then on */
    char *fwd_body; /* the body sent upstream, when rewritten (/api/chat) */
    /* The current attempt. */
    unsigned attempt;
    enum relay_env env;
    unsigned failed_mask; /* colours with a switchable failure in this request */
    CURL *easy;
    /* This request's upstream headers, linked in front of a shared tail
     * (relay.hdr_tail): no allocation per attempt. */
    struct curl_slist hdr[3];
    char hdr_id[sizeof "X-Request-ID: " + 132], hdr_env[32], hdr_attempt[32];
    uint64_t t_start, t_attempt, t_first_byte, t_first_body, t_last_byte, deadline;
    struct relay_backoff bo;
    ev_timer timer;
    int sleeping;
    enum relay_err abort_err;
    long status;
    char retry_after[64], retry_after_ms[32], ctype[128];
    struct co_buf resp;
    size_t buffered; /* bytes of resp counted in r->buffered */
    int over_budget;
    /* relay_req_check's verdict, once made. */
    int check_done, check_rc;
    struct relay_parse_err pe;
    /* Streaming.  Bytes before `safe` are scrubbed and may be sent. */
    size_t sent, safe;
    const char *up_body; /* the attempt's request body, fed by on_upload */
    size_t up_len, up_off;
    int committed, upstream_over, paused;
    struct relay_sse sse;
    /* The answer. */
    struct MHD_Response *response;
    unsigned resp_status;
    int suspended;
    ev_io watch;
    ev_timer watch_delay;
    int gone;
};

/* ---- easy handle pool ---------------------------------------------------- */

CURL *relay_easy_get(struct relay *r)
{
    if (r->npool)
        return r->easy_pool[--r->npool];
    CURL *e = curl_easy_init();
    if (!e)
        abort(); /* out of memory, as co_malloc does */
    /* What every attempt wants, set once per handle (a pooled handle keeps
     * its options).  libcurl reads five proxy variables from the
     * environment on every transfer; when none was set at start, "*" tells
     * it there is no proxy to look for. */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    if (!r->env_proxy)
        curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    return e;
}

void relay_easy_put(struct relay *r, CURL *e)
{
    if (!e)
        return;
    if (r->npool >= POOL_MAX) {
        curl_easy_cleanup(e);
        return;
    }
    /* No curl_easy_reset: start_attempt sets every option it relies on
     * each time, and a reset costs more than the rest of the setup. */
    if (r->npool == r->pool_cap) {
        r->pool_cap = r->pool_cap ? r->pool_cap * 2 : 64;
        r->easy_pool = co_realloc(r->easy_pool, r->pool_cap * sizeof *r->easy_pool);
    }
    r->easy_pool[r->npool++] = e;
}

/* ---- suspend, resume and the disconnect watch ----------------------------- */

static void cancel_upstream(struct relay_req *q);
static void client_gone(struct relay_req *q);

static void on_client_readable(struct ev_loop *loop, ev_io *w, int revents)
{
    struct relay_req *q = w->data;
    char c;
    ssize_t n = recv(w->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    co_debug("request %s: client fd %d readable: %zd", q->id, w->fd, n);
    ev_io_stop(loop, w);
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
        return; /* pipelined bytes: nothing we can learn until MHD reads them */
    /* EOF or an error: the client is gone.  Stop the upstream work now and
     * let MHD see the closed socket, which ends in relay_req_finished. */
    client_gone(q);
    if (q->suspended) {
        q->suspended = 0;
        MHD_resume_connection(q->conn);
        co_evhttp_kick(&q->r->http);
    }
}

/* The watch starts only once a request has waited WATCH_AFTER_S: most
 * answers come sooner, and adding and removing the socket costs two
 * epoll_ctl calls per request. */
#define WATCH_AFTER_S 0.02

static void on_watch_delay(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct relay_req *q = w->data;
    int fd = co_evhttp_conn_fd(q->conn);
    if (q->suspended && !q->gone && fd >= 0) {
        ev_io_set(&q->watch, fd, EV_READ);
        ev_io_start(loop, &q->watch);
    }
}

static void suspend(struct relay_req *q)
{
    if (q->suspended)
        return;
    MHD_suspend_connection(q->conn);
    q->suspended = 1;
    if (!q->gone) {
        ev_timer_set(&q->watch_delay, WATCH_AFTER_S, 0.);
        ev_timer_start(q->r->loop, &q->watch_delay);
    }
}

static void resume(struct relay_req *q)
{
    ev_timer_stop(q->r->loop, &q->watch_delay);
    ev_io_stop(q->r->loop, &q->watch);
    if (!q->suspended)
        return;
    q->suspended = 0;
    MHD_resume_connection(q->conn);
    co_evhttp_kick(&q->r->http);
}

/* ---- requests ------------------------------------------------------------- */

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents);

static int valid_request_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

struct relay_req *relay_req_new(struct relay *r, struct MHD_Connection *c,
                                enum relay_route_kind kind)
{
    struct relay_req *q = co_calloc(1, sizeof *q);
    q->kind = RELAY_XFER_REQ;
    q->r = r;
    q->conn = c;
    q->route = kind;
    q->env = RELAY_NENV;
    co_buf_init(&q->body, (size_t)r->cfg.max_body_bytes);
    co_buf_init(&q->resp, 0);
    ev_init(&q->timer, on_timer);
    q->timer.data = q;
    ev_init(&q->watch, on_client_readable);
    q->watch.data = q;
    ev_init(&q->watch_delay, on_watch_delay);
    q->watch_delay.data = q;
    const char *id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-ID");
    if (valid_request_id(id))
        snprintf(q->id, sizeof q->id, "%s", id);
    else
        snprintf(q->id, sizeof q->id, "relay-%016llx", (unsigned long long)co_rng_next(&r->rng));
    q->next = r->reqs;
    if (r->reqs)
        r->reqs->prev = q;
    r->reqs = q;
    return q;
}

int relay_req_body(struct relay_req *q, const char *data, size_t len)
{
    if (q->too_big)
        return -1;
    if (co_buf_append(&q->body, data, len) != 0) {
        q->too_big = 1;
        co_buf_free(&q->body);
        return -1;
    }
    return 0;
}

static void emit_request(struct relay_req *q, unsigned status, const char *extra_key,
                         const char *extra_val)
{
    struct relay *r = q->r;
    uint64_t lat = co_now_us() - q->t_start;
    enum relay_env served = q->attempt ? q->env : RELAY_NENV;
    relay_metrics_request(r->metrics, served, q->model, (int)status, lat);
    if (!r->events)
        return;
    json_t *f = json_pack("{s:s, s:i, s:i, s:s?, s:I, s:b}", "request_id", q->id, "status",
                          (int)status, "attempts", (int)q->attempt, "env",
                          served < RELAY_NENV ? relay_env_name(served) : NULL, "latency_us",
                          (json_int_t)lat, "stream", q->stream);
    if (extra_key)
        json_object_set_new(f, extra_key, json_string(extra_val));
    relay_events_emit(r->events, "request", f);
}

/* What every answer to the client carries: its request id, the colour that
 * served and the attempts it took; while draining, Connection: close so the
 * client's next request goes elsewhere. */
static void add_answer_headers(struct relay_req *q, struct MHD_Response *resp)
{
    char n[16];
    MHD_add_response_header(resp, "X-Request-ID", q->id);
    if (q->attempt && q->env < RELAY_NENV)
        MHD_add_response_header(resp, "X-Served-By", relay_env_name(q->env));
    snprintf(n, sizeof n, "%u", q->attempt);
    MHD_add_response_header(resp, "X-Attempts", n);
    if (q->r->draining)
        MHD_add_response_header(resp, "Connection", "close");
}

/* The answer to the client; body is copied.  Resumes the connection so that
 * relay_req_step queues it. */
static void answer(struct relay_req *q, unsigned status, const char *ctype, const char *body,
                   size_t len, int no_retry)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", ctype && *ctype ? ctype : "application/json");
    add_answer_headers(q, resp);
    if (no_retry)
        MHD_add_response_header(resp, "x-should-retry", "false");
    /* A final 429/503 passed on keeps the upstream's word on when to come
     * back (scenarios/outsider/retry-after-reaches-the-client): a client
     * that retries later, by hand or by its own policy, should not guess. */
    if ((status == 429 || status == 503) && q->attempt) {
        if (q->retry_after[0] && !co_has_secret(q->retry_after))
            MHD_add_response_header(resp, "Retry-After", q->retry_after);
        if (q->retry_after_ms[0] && !co_has_secret(q->retry_after_ms))
            MHD_add_response_header(resp, "retry-after-ms", q->retry_after_ms);
    }
    q->response = resp;
    q->resp_status = status;
    emit_request(q, status, NULL, NULL);
    resume(q);
}

static void answer_error(struct relay_req *q, unsigned status, const char *msg, const char *type,
                         const char *code, int no_retry)
{
    char *body = co_openai_error(msg, type, NULL, code);
    answer(q, status, "application/json", body, strlen(body), no_retry);
    free(body);
}

/* ---- the upstream key, scrubbed ---------------------------------------------- */

static size_t key_len(const struct relay *r)
{
    size_t n = r->cfg.api_key ? strlen(r->cfg.api_key) : 0;
    return n >= 4 ? n : 0; /* as co_secret_add: shorter strings are not secrets */
}

/* Replaces every occurrence of the upstream key in q->resp that starts at
 * or after byte `from` with "[REDACTED]". */
static void scrub(struct relay_req *q, size_t from)
{
    static const char mark[] = "[REDACTED]";
    const char *key = q->r->cfg.api_key;
    size_t kl = key_len(q->r);
    if (!kl || q->resp.len < from + kl || !memmem(q->resp.data + from, q->resp.len - from, key, kl))
        return;
    struct co_buf out;
    co_buf_init(&out, 0);
    size_t i = 0;
    co_buf_append(&out, q->resp.data, from);
    i = from;
    for (;;) {
        const char *hit = memmem(q->resp.data + i, q->resp.len - i, key, kl);
        if (!hit)
            break;
        co_buf_append(&out, q->resp.data + i, (size_t)(hit - (q->resp.data + i)));
        co_buf_append(&out, mark, sizeof mark - 1);
        i = (size_t)(hit - q->resp.data) + kl;
    }
    co_buf_append(&out, q->resp.data + i, q->resp.len - i);
    size_t toobig = q->resp.toobig;
    co_buf_free(&q->resp);
    q->resp = out;
    q->resp.toobig = toobig;
}

/* After bytes were appended to a stream: scrub what may now hold a whole
 * key, and move `safe` to where a key could still be starting: only a
 * tail that is itself the start of the key is held back (an SSE event ends
 * in "\n\n", which never is, so events are not delayed). */
static void scrub_stream(struct relay_req *q)
{
    size_t kl = key_len(q->r);
    if (!kl) {
        q->safe = q->resp.len;
        return;
    }
    scrub(q, q->safe);
    const char *key = q->r->cfg.api_key, *end = q->resp.data + q->resp.len;
    size_t hold = 0;
    for (size_t k = kl - 1 < q->resp.len ? kl - 1 : q->resp.len; k > 0 && !hold; k--)
        if (memcmp(end - k, key, k) == 0)
            hold = k;
    size_t s = q->resp.len - hold;
    if (s > q->safe)
        q->safe = s;
}

/* The memory budget: counts n more bytes of buffered answer, or refuses. */
static int budget_take(struct relay_req *q, size_t n)
{
    struct relay *r = q->r;
    if (r->buffered + n > (uint64_t)r->cfg.max_buffered_bytes)
        return -1;
    r->buffered += n;
    q->buffered += n;
    return 0;
}

static void budget_release(struct relay_req *q)
{
    q->r->buffered -= q->buffered;
    q->buffered = 0;
}

/* ---- choosing a colour ----------------------------------------------------- */

static int usable(const struct relay *r, enum relay_env e)
{
    return r->url[e] != NULL && relay_switch_healthy(&r->sw, e);
}

/* The colour of the next attempt, or RELAY_NENV when nothing is left.  The
 * active colour first (or a canary pick on a request's first attempt), then
 * the other colour, each only when healthy and not yet failed in this
 * request; then `direct`; then a healthy colour again. */
static enum relay_env pick_env(struct relay_req *q)
{
    struct relay *r = q->r;
    enum relay_env a = r->sw.active;
    if (q->attempt == 0 && (r->weight[0] || r->weight[1])) {
        uint64_t x = co_rng_range(&r->rng, 1, r->weight[0] + r->weight[1]);
        a = x <= r->weight[0] ? RELAY_BLUE : RELAY_GREEN;
    }
    enum relay_env cand[2] = {a, a == RELAY_BLUE ? RELAY_GREEN : RELAY_BLUE};
    for (int i = 0; i < 2; i++)
        if (usable(r, cand[i]) && !(q->failed_mask & (1u << cand[i])))
            return cand[i];
    if (r->url[RELAY_DIRECT] && !(q->failed_mask & (1u << RELAY_DIRECT)))
        return RELAY_DIRECT;
    for (int i = 0; i < 2; i++)
        if (usable(r, cand[i]))
            return cand[i];
    if (r->url[RELAY_DIRECT])
        return RELAY_DIRECT;
    return RELAY_NENV;
}

/* ---- curl callbacks --------------------------------------------------------- */

static void rearm(struct relay_req *q);

static void header_value(const char *line, size_t n, char *out, size_t outn)
{
    const char *colon = memchr(line, ':', n);
    if (!colon)
        return;
    const char *v = colon + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t l = (size_t)(end - v) < outn - 1 ? (size_t)(end - v) : outn - 1;
    memcpy(out, v, l);
    out[l] = 0;
}

static int header_is(const char *line, size_t n, const char *name)
{
    size_t l = strlen(name);
    return n > l && line[l] == ':' && strncasecmp(line, name, l) == 0;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *userp)
{
    struct relay_req *q = userp;
    size_t n = size * nmemb;
    uint64_t now = co_now_us();
    q->t_last_byte = now;
    if (!q->t_first_byte) {
        /* From now on the idle timeout may come before the try timeout. */
        q->t_first_byte = now;
        rearm(q);
    }
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new header block (after a 100 Continue, say): forget the last. */
        q->retry_after[0] = q->retry_after_ms[0] = q->ctype[0] = 0;
    } else if (header_is(line, n, "retry-after")) {
        header_value(line, n, q->retry_after, sizeof q->retry_after);
    } else if (header_is(line, n, "retry-after-ms")) {
        header_value(line, n, q->retry_after_ms, sizeof q->retry_after_ms);
    } else if (header_is(line, n, "content-type")) {
        header_value(line, n, q->ctype, sizeof q->ctype);
        if (co_has_secret(q->ctype)) { /* passed on to the client */
            char clean[sizeof q->ctype];
            co_redact(q->ctype, clean, sizeof clean);
            memcpy(q->ctype, clean, sizeof clean);
        }
    }
    return n;
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max);
static void tokens_from(struct relay_req *q, const char *buf, size_t len);

/* The first body byte of a 2xx stream: from here on the client has the
 * answer, so there will be no retry and no failover. */
static void commit(struct relay_req *q)
{
    q->committed = 1;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, stream_reader, q, NULL);
    MHD_add_response_header(resp, "Content-Type", q->ctype[0] ? q->ctype : "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    add_answer_headers(q, resp);
    q->response = resp;
    q->resp_status = (unsigned)q->status; /* the upstream's 2xx */
    rearm(q);                             /* only the idle timeout applies now */
    resume(q);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *userp)
{
    struct relay_req *q = userp;
    size_t n = size * nmemb;
    uint64_t now = co_now_us();
    if (!q->t_first_byte)
        q->t_first_byte = now;
    if (!q->t_first_body)
        q->t_first_body = now;
    q->t_last_byte = now;
    if (!q->status)
        curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &q->status);
    if (q->stream && q->status >= 200 && q->status < 300) {
        if (q->resp.len - q->sent >= STREAM_HIGH) {
            q->paused = 1; /* curl keeps these bytes and offers them again */
            return CURL_WRITEFUNC_PAUSE;
        }
        if (!q->committed)
            commit(q);
        /* An event the client could not parse ends the stream here: what
         * came before it goes on, then finish_stream's in-band error. */
        size_t good = n;
        if (relay_sse_check(&q->sse, p, n, &good) != 0) {
            relay_sse_scan(&q->sse, p, good);
            co_buf_append(&q->resp, p, good);
            scrub_stream(q);
            q->abort_err = RELAY_ERR_BAD_EVENT;
            return 0;
        }
        relay_sse_scan(&q->sse, p, n);
        /* The usage chunk (stream_options.include_usage) comes whole in
         * practice: it is the one event that names prompt_tokens. */
        if (memmem(p, n, "\"prompt_tokens\"", 15))
            tokens_from(q, p, n);
        co_buf_append(&q->resp, p, n);
        scrub_stream(q);
        if (q->suspended && q->response == NULL)
            resume(q); /* the reader is waiting for bytes */
        return n;
    }
    if (budget_take(q, n) != 0) {
        q->over_budget = 1;
        q->abort_err = RELAY_ERR_HTTP;
        return 0;
    }
    if (co_buf_append(&q->resp, p, n) != 0 || q->resp.len > RESP_MAX) {
        q->abort_err = RELAY_ERR_HTTP;
        return 0;
    }
    return n;
}

/* ---- MHD content reader (streams) ---------------------------------------------- */

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct relay_req *q = cls;
    /* Bytes past `safe` may begin the key: held until the next chunk or
     * the end of the stream settles it. */
    size_t limit = q->upstream_over || q->gone ? q->resp.len : q->safe;
    size_t avail = limit > q->sent ? limit - q->sent : 0;
    if (avail) {
        size_t n = avail < max ? avail : max;
        memcpy(buf, q->resp.data + q->sent, n);
        q->sent += n;
        if (q->safe < q->sent)
            q->safe = q->sent;
        if (q->sent == q->resp.len) {
            q->resp.len = q->sent = q->safe = 0;
        } else if (q->sent > STREAM_HIGH) {
            memmove(q->resp.data, q->resp.data + q->sent, q->resp.len - q->sent);
            q->resp.len -= q->sent;
            q->safe -= q->sent;
            q->sent = 0;
        }
        if (q->paused && q->resp.len - q->sent < STREAM_LOW && q->easy) {
            q->paused = 0;
            q->t_last_byte = co_now_us();
            curl_easy_pause(q->easy, CURLPAUSE_CONT);
        }
        return (ssize_t)n;
    }
    if (q->upstream_over || q->gone)
        return MHD_CONTENT_READER_END_OF_STREAM;
    /* Nothing yet: wait without spinning; on_body resumes us. */
    suspend(q);
    return 0;
}

/* ---- attempts ------------------------------------------------------------------- */

static void start_attempt(struct relay_req *q);

static uint64_t ms_us(int64_t ms)
{
    return (uint64_t)ms * 1000;
}

/* When the running attempt must be abandoned, and as what: the decision is
 * relay_policy_expiry's. */
static uint64_t attempt_expiry(const struct relay_req *q, enum relay_err *why)
{
    const struct relay_config *c = &q->r->cfg;
    const struct relay_timeouts t = {ms_us(c->try_timeout_ms), ms_us(c->ttfb_timeout_ms),
                                     q->r->pol.first_byte_us, ms_us(c->idle_timeout_ms)};
    const struct relay_attempt_times a = {
        q->t_attempt,   q->t_first_byte, q->t_first_body,
        q->t_last_byte, q->deadline,     q->paused ? co_now_us() : 0,
        q->stream,      q->committed,    q->paused};
    return relay_policy_expiry(&t, &a, why);
}

static void arm(struct relay_req *q, uint64_t at, uint64_t now)
{
    ev_timer_stop(q->r->loop, &q->timer);
    ev_timer_set(&q->timer, at > now ? (double)(at - now) / 1e6 : 0., 0.);
    ev_timer_start(q->r->loop, &q->timer);
}

static void rearm(struct relay_req *q)
{
    enum relay_err why;
    arm(q, attempt_expiry(q, &why), co_now_us());
}

static void release_easy(struct relay_req *q)
{
    if (q->easy) {
        relay_easy_put(q->r, q->easy);
        q->easy = NULL;
    }
}

static void cancel_upstream(struct relay_req *q)
{
    ev_timer_stop(q->r->loop, &q->timer);
    q->sleeping = 0;
    if (q->easy) {
        co_evcurl_remove(&q->r->curl, q->easy);
        release_easy(q);
        q->upstream_over = 1;
    }
}

static enum relay_err map_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_OK:
        return RELAY_ERR_NONE;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return RELAY_ERR_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return RELAY_ERR_TIMEOUT;
    default:
        return RELAY_ERR_RESET;
    }
}

static void note_usage(struct relay_req *q, json_t *u)
{
    if (json_is_object(u)) {
        json_int_t pt = json_integer_value(json_object_get(u, "prompt_tokens"));
        json_int_t ct = json_integer_value(json_object_get(u, "completion_tokens"));
        const char *model = q->model[0] ? q->model : "unknown";
        if (pt >= 0 && ct >= 0)
            relay_metrics_tokens(q->r->metrics, model, (uint64_t)pt, (uint64_t)ct,
                                 relay_config_price(&q->r->cfg, model));
    }
}

/* Token usage from the "usage" object in buf, for the tokens and cost
 * metrics (a stream's usage chunk).  Only that object is parsed
 * (JSON_DISABLE_EOF_CHECK stops at its end). */
static void tokens_from(struct relay_req *q, const char *buf, size_t len)
{
    const char *end = buf + len;
    const char *key = memmem(buf, len, "\"usage\"", 7);
    if (!key)
        return;
    const char *p = key + 7;
    while (p < end && (*p == ' ' || *p == ':' || *p == '\n' || *p == '\t' || *p == '\r'))
        p++;
    if (p >= end || *p != '{')
        return; /* "usage": null in the chunks before the last */
    json_t *u = co_json_scratch_loadb(p, (size_t)(end - p), JSON_DISABLE_EOF_CHECK, NULL);
    note_usage(q, u);
    co_json_scratch_end(u);
}

/* A 2xx answer that was not committed as a stream: is it usable?  A chat
 * answer must be JSON (a 200 with a broken body is a failure the client
 * cannot retry, so we retry it; the scenario library and the upstream
 * garbage test pin this), and a stream request's 2xx must have had a body.
 * Usable chat answers feed the tokens and cost metrics from their "usage"
 * object.  Returns 0 when usable. */
static int check_answer(struct relay_req *q)
{
    if (q->route == RELAY_FWD_MODELS)
        return 0;
    if (q->resp.len == 0)
        return q->stream || q->status != 204 ? -1 : 0;
    if (q->stream)
        return 0; /* an SSE body that arrived whole (it never committed) */
    json_t *j = co_json_scratch_loadb(q->resp.data, q->resp.len, 0, NULL);
    int ok = json_is_object(j);
    if (ok)
        note_usage(q, json_object_get(j, "usage"));
    co_json_scratch_end(j);
    return ok ? 0 : -1;
}

static void emit_attempt(struct relay_req *q, long status, enum relay_err err, uint64_t lat,
                         const char *outcome, uint64_t backoff_ms)
{
    if (!q->r->events)
        return;
    const char *e = relay_err_name(err);
    json_t *f =
        json_pack("{s:s, s:i, s:s, s:i, s:o, s:I, s:s, s:I}", "request_id", q->id, "attempt",
                  (int)q->attempt, "env", relay_env_name(q->env), "status", (int)status, "error",
                  e ? json_string(e) : json_null(), "latency_us", (json_int_t)lat, "outcome",
                  outcome, "backoff_ms", (json_int_t)backoff_ms);
    relay_events_emit(q->r->events, "attempt", f);
}

/* Whether the upstream's bytes so far end with a whole SSE event. */
static int at_event_end(const struct relay_sse *t)
{
    /* Two line ends, each CRLF, LF or CR (the SSE standard allows all). */
    size_t n = t->ntail;
    for (int k = 0; k < 2; k++) {
        if (n && t->tail[n - 1] == '\n')
            n -= n >= 2 && t->tail[n - 2] == '\r' ? 2 : 1;
        else if (n && t->tail[n - 1] == '\r')
            n--;
        else
            return 0;
    }
    return 1;
}

/* Closes whatever SSE event was cut off before the relay writes its own. */
static const char *event_sep(const struct relay_sse *t)
{
    return !t->ntail || at_event_end(t) ? "" : "\n\n";
}

/* The end of a committed stream.  Complete (relay_policy_stream_end says
 * when: [DONE] came, or with stream_done lenient a clean close after the
 * finish_reason chunk, where the relay adds the [DONE]); otherwise an
 * in-band error event, so the client cannot take a cut stream for a
 * complete one. */
static void finish_stream(struct relay_req *q, enum relay_err err, uint64_t lat)
{
    struct relay *r = q->r;
    /* Asked only of a stream that ended cleanly without [DONE]. */
    int finished = err == RELAY_ERR_NONE && !q->sse.done_seen && relay_sse_finished(&q->sse);
    struct relay_stream_end end = relay_policy_stream_end(r->pol.stream_done, err, finished,
                                                          q->sse.done_seen, at_event_end(&q->sse));
    if (end.add_done) {
        co_buf_printf(&q->resp, "%sdata: [DONE]\n\n", event_sep(&q->sse));
        relay_metrics_policy(r->metrics, RELAY_PA_DONE_ADDED, q->env);
    } else if (!end.complete) {
        char msg[160];
        if (err == RELAY_ERR_IDLE_TIMEOUT)
            snprintf(msg, sizeof msg, "upstream %s stalled: no data for %lldms",
                     relay_env_name(q->env), (long long)r->cfg.idle_timeout_ms);
        else if (err == RELAY_ERR_BAD_EVENT)
            snprintf(msg, sizeof msg, "upstream %s sent a stream event that is not JSON",
                     relay_env_name(q->env));
        else if (err == RELAY_ERR_NONE)
            snprintf(msg, sizeof msg, "upstream %s ended the stream without %s",
                     relay_env_name(q->env), finished ? "[DONE]" : "a finish_reason");
        else
            snprintf(msg, sizeof msg, "upstream %s connection broke mid-stream (%s)",
                     relay_env_name(q->env), relay_err_name(err));
        char *e = co_openai_error(msg, "upstream_error", NULL, end.code);
        co_buf_printf(&q->resp, "%sdata: %s\n\n", event_sep(&q->sse), e);
        free(e);
        relay_metrics_stream_error(r->metrics, q->env, end.code);
    }
    int clean = end.complete;
    relay_metrics_attempt(r->metrics, q->env, clean, lat);
    uint64_t now = co_now_us();
    int switched = relay_switch_on_result(&r->sw, q->env, clean, !clean, now);
    emit_attempt(q, q->status, err, lat, clean ? "ok" : "fail", 0);
    if (switched)
        relay_note_switch(r, q->env, r->sw.active, "stream_error", q->id);
    emit_request(q, 200, end.code ? "stream_error" : NULL, end.code);
    q->upstream_over = 1;
    if (q->suspended)
        resume(q);
}

static void attempt_done(struct relay_req *q, CURLcode rc)
{
    struct relay *r = q->r;
    const struct relay_config *c = &r->cfg;
    ev_timer_stop(r->loop, &q->timer);
    uint64_t now = co_now_us();
    uint64_t lat = now - q->t_attempt;
    long status = 0;
    if (q->easy)
        curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
    enum relay_err err = q->abort_err ? q->abort_err : map_curl(rc);
    release_easy(q);
    if (q->committed) {
        finish_stream(q, err, lat);
        return;
    }
    if (q->over_budget) {
        /* Not the upstream's fault: no switch, no retry (another attempt
         * would buffer as much); the client may come back later. */
        r->budget_refusals++;
        co_warn("request %s: upstream answers buffered reach max_buffered_bytes (%lld): 503", q->id,
                (long long)c->max_buffered_bytes);
        emit_attempt(q, status, err, lat, "fail", 0);
        char msg[160];
        snprintf(msg, sizeof msg,
                 "The relay is holding too many upstream answers (max_buffered_bytes %lld); "
                 "retry later",
                 (long long)c->max_buffered_bytes);
        answer_error(q, 503, msg, "server_error", "relay_overloaded", 0);
        return;
    }
    scrub(q, 0);
    q->status = status;
    struct relay_verdict v = relay_classify(err, err == RELAY_ERR_NONE ? (int)status : 0);
    if (v.ok && check_answer(q) != 0) {
        err = RELAY_ERR_HTTP;
        v = relay_classify(err, 0);
    }
    relay_metrics_attempt(r->metrics, q->env, v.ok, lat);
    if (err == RELAY_ERR_FIRST_BYTE_TIMEOUT)
        relay_metrics_policy(r->metrics, RELAY_PA_FIRST_BYTE_TIMEOUT, q->env);
    /* The switch event follows the attempt event that caused it. */
    enum relay_env before = r->sw.active;
    int switched = relay_switch_on_result(&r->sw, q->env, v.ok, v.switchable, now);
    if (v.ok) {
        emit_attempt(q, status, err, lat, "ok", 0);
        answer(q, (unsigned)status, q->ctype, q->resp.data ? q->resp.data : "", q->resp.len, 0);
        return;
    }
    if (v.switchable)
        q->failed_mask |= 1u << q->env;
    if (status == 401)
        co_warn("request %s: upstream %s answered 401: check the API key (not retried)", q->id,
                relay_env_name(q->env));
    int retry = v.retry && q->attempt < (unsigned)c->max_attempts && !q->gone;
    int deadline_hit = 0;
    uint64_t sleep_ms = 0;
    enum relay_env next = RELAY_NENV;
    if (retry) {
        /* With a configured seed, a request's jitter is its own (seed, id,
         * attempt), whatever else draws in between: --seed reproduces each
         * request's backoff. */
        struct co_rng jr, *rng = &r->rng;
        if (c->seed) {
            co_rng_seed(&jr, (uint64_t)c->seed ^ co_hash_str(q->id) ^
                                 ((uint64_t)q->attempt * 0x9e3779b97f4a7c15ull));
            rng = &jr;
        }
        uint64_t ra = 0;
        int has_ra = err == RELAY_ERR_NONE &&
                     relay_retryafter_parse(q->retry_after[0] ? q->retry_after : NULL,
                                            q->retry_after_ms[0] ? q->retry_after_ms : NULL,
                                            co_wall_ms(), &ra) == 0;
        switch (relay_policy_retry_how((int)status, has_ra, ra, (uint64_t)c->retry_after_cap_ms,
                                       has_ra && now + ms_us((int64_t)ra) < q->deadline,
                                       r->pol.on429)) {
        case RELAY_RETRY_AFTER:
            /* Honour it: the same colour, after the time it asked for. */
            sleep_ms = ra;
            next = q->env;
            break;
        case RELAY_RETRY_FAILOVER_NOW:
            /* Too long to wait: fail over at once instead. */
            q->failed_mask |= 1u << q->env;
            next = pick_env(q);
            break;
        case RELAY_RETRY_QUOTA_FAILOVER:
            /* This colour's quota, not an outage: the other colour now
             * (no switch); the backoff when what is left already failed
             * in this request, so that two exhausted colours are not
             * hammered in turn. */
            q->failed_mask |= 1u << q->env;
            next = pick_env(q);
            if (next < RELAY_NENV && (q->failed_mask & (1u << next)))
                sleep_ms = relay_backoff_next(&q->bo, q->attempt - 1, rng);
            else if (next < RELAY_NENV)
                relay_metrics_policy(r->metrics, RELAY_PA_QUOTA_FAILOVER, q->env);
            break;
        case RELAY_RETRY_BACKOFF:
            sleep_ms = relay_backoff_next(&q->bo, q->attempt - 1, rng);
            next = pick_env(q);
            break;
        }
        if (next == RELAY_NENV)
            retry = 0;
        else if (now + ms_us((int64_t)sleep_ms) >= q->deadline)
            retry = 0, deadline_hit = 1;
    }
    emit_attempt(q, status, err, lat,
                 !retry           ? "fail"
                 : next == q->env ? "retry"
                                  : "failover",
                 retry ? sleep_ms : 0);
    if (switched)
        relay_note_switch(r, before, r->sw.active, v.reason, q->id);
    if (retry) {
        relay_metrics_retry(r->metrics, q->env, v.reason);
        q->env = next;
        q->sleeping = 1;
        arm(q, now + ms_us((int64_t)sleep_ms), now);
        return;
    }
    /* Attempts spent (or not worth spending): the last upstream answer when
     * there was one, else our own error; x-should-retry stops client SDKs
     * from multiplying the retries we already made. */
    if (err == RELAY_ERR_NONE && status > 0) {
        answer(q, (unsigned)status, q->ctype, q->resp.data ? q->resp.data : "", q->resp.len, 1);
        return;
    }
    char msg[200];
    if (deadline_hit) {
        snprintf(
            msg, sizeof msg, "Deadline of %lldms exceeded after %u attempts (last: %s from %s)",
            (long long)c->deadline_ms, q->attempt, relay_err_name(err), relay_env_name(q->env));
        answer_error(q, 504, msg, "upstream_error", "deadline_exceeded", 1);
    } else if (err == RELAY_ERR_TIMEOUT || err == RELAY_ERR_TTFB_TIMEOUT ||
               err == RELAY_ERR_IDLE_TIMEOUT || err == RELAY_ERR_FIRST_BYTE_TIMEOUT) {
        snprintf(msg, sizeof msg, "Connection timeout after %lldms (%s, %u attempts)",
                 (long long)(err == RELAY_ERR_TTFB_TIMEOUT         ? c->ttfb_timeout_ms
                             : err == RELAY_ERR_IDLE_TIMEOUT       ? c->idle_timeout_ms
                             : err == RELAY_ERR_FIRST_BYTE_TIMEOUT ? c->first_byte_timeout_ms
                                                                   : c->try_timeout_ms),
                 relay_env_name(q->env), q->attempt);
        answer_error(q, 504, msg, "upstream_error", "upstream_timeout", 1);
    } else {
        snprintf(msg, sizeof msg, "Upstream %s failed: %s (%u attempts)", relay_env_name(q->env),
                 err == RELAY_ERR_CONNECT ? "connection refused"
                                          : "connection reset or bad response",
                 q->attempt);
        answer_error(q, 502, msg, "upstream_error",
                     err == RELAY_ERR_CONNECT ? "upstream_unavailable" : "upstream_reset", 1);
    }
}

void relay_req_xfer_done(struct relay_req *q, CURL *easy, CURLcode rc)
{
    attempt_done(q, rc);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct relay_req *q = w->data;
    uint64_t now = co_now_us();
    if (q->sleeping) {
        q->sleeping = 0;
        start_attempt(q);
        return;
    }
    if (!q->easy)
        return;
    enum relay_err why;
    uint64_t at = attempt_expiry(q, &why);
    if (now < at) {
        arm(q, at, now);
        return;
    }
    co_evcurl_remove(&q->r->curl, q->easy);
    q->abort_err = why;
    attempt_done(q, CURLE_OPERATION_TIMEDOUT);
}

static const char *upstream_path(const struct relay_req *q)
{
    return q->route == RELAY_FWD_MODELS ? "/models" : "/chat/completions";
}

/* A shared header tail: kind 0 for GET, 1 for a JSON POST, 2 for a
 * streaming POST.  Built on first use, freed with the relay. */
static struct curl_slist *header_tail(struct relay *r, int kind)
{
    if (!r->hdr_tail[kind]) {
        struct curl_slist *l = NULL;
        if (r->auth_header)
            l = curl_slist_append(l, r->auth_header);
        l = curl_slist_append(l, "Expect:");
        if (kind > 0) {
            l = curl_slist_append(l, "Content-Type: application/json");
            l = curl_slist_append(l, kind == 2 ? "Accept: text/event-stream"
                                               : "Accept: application/json");
        }
        if (!l)
            abort(); /* out of memory, as co_malloc does */
        r->hdr_tail[kind] = l;
    }
    return r->hdr_tail[kind];
}

/* X-Request-ID, X-Env and X-Attempt for this attempt, then the shared
 * tail.  curl only reads the list, while the transfer runs. */
static void link_headers(struct relay_req *q)
{
    int kind = q->route == RELAY_FWD_MODELS ? 0 : q->stream ? 2 : 1;
    snprintf(q->hdr_id, sizeof q->hdr_id, "X-Request-ID: %s", q->id);
    snprintf(q->hdr_env, sizeof q->hdr_env, "X-Env: %s", relay_env_name(q->env));
    snprintf(q->hdr_attempt, sizeof q->hdr_attempt, "X-Attempt: %u", q->attempt);
    q->hdr[0] = (struct curl_slist){q->hdr_id, &q->hdr[1]};
    q->hdr[1] = (struct curl_slist){q->hdr_env, &q->hdr[2]};
    q->hdr[2] = (struct curl_slist){q->hdr_attempt, header_tail(q->r, kind)};
}

/* The request body goes to curl through a read callback that cannot seek,
 * instead of CURLOPT_POSTFIELDS: when a reused connection dies before any
 * answer, libcurl would otherwise send the POST again on its own, an attempt
 * outside max_attempts and without backoff that the upstream sees twice
 * (found by `cutover explore`: scenarios/bugs/reused-connection-resend.json).
 * Unable to rewind, curl fails the transfer instead, and the relay decides. */
static size_t on_upload(char *buf, size_t size, size_t nmemb, void *userp)
{
    struct relay_req *q = userp;
    size_t n = size * nmemb, left = q->up_len - q->up_off;
    if (n > left)
        n = left;
    memcpy(buf, q->up_body + q->up_off, n);
    q->up_off += n;
    return n;
}

static int on_upload_seek(void *userp, curl_off_t offset, int origin)
{
    return CURL_SEEKFUNC_CANTSEEK;
}

static void start_attempt(struct relay_req *q)
{
    struct relay *r = q->r;
    const struct relay_config *c = &r->cfg;
    uint64_t now = co_now_us();
    q->attempt++;
    q->t_attempt = now;
    q->t_first_byte = q->t_first_body = q->t_last_byte = 0;
    q->abort_err = RELAY_ERR_NONE;
    q->status = 0;
    q->retry_after[0] = q->retry_after_ms[0] = q->ctype[0] = 0;
    co_buf_reset(&q->resp);
    budget_release(q);
    q->sent = q->safe = 0;
    relay_sse_reset(&q->sse);

    CURL *e = relay_easy_get(r);
    q->easy = e;
    link_headers(q);
    CURLU **u = &r->curlu[q->env][q->route == RELAY_FWD_MODELS];
    if (!*u) {
        /* A URL libcurl cannot parse stays an empty handle, and every
         * attempt on it fails as it would have with CURLOPT_URL. */
        char url[1024];
        snprintf(url, sizeof url, "%s%s", r->url[q->env], upstream_path(q));
        *u = curl_url();
        if (!*u)
            abort(); /* out of memory */
        curl_url_set(*u, CURLUPART_URL, url, 0);
    }
    curl_easy_setopt(e, CURLOPT_CURLU, *u);
    curl_easy_setopt(e, CURLOPT_PRIVATE, q);
    if (q->route == RELAY_FWD_MODELS) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        const char *b = q->fwd_body ? q->fwd_body : q->body.data;
        q->up_body = b ? b : "";
        q->up_len = q->fwd_body ? strlen(q->fwd_body) : q->body.len;
        q->up_off = 0;
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, on_upload);
        curl_easy_setopt(e, CURLOPT_READDATA, q);
        curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_upload_seek);
        curl_easy_setopt(e, CURLOPT_SEEKDATA, q);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->up_len);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, &q->hdr[0]);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, q);
    int64_t ct = c->try_timeout_ms < c->ttfb_timeout_ms ? c->try_timeout_ms : c->ttfb_timeout_ms;
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(ct > 0 ? ct : 1));
    co_evcurl_add(&r->curl, e);
    enum relay_err why;
    arm(q, attempt_expiry(q, &why), now);
}

/* ---- validation and the handler's steps ------------------------------------------ */

void relay_req_refused(struct relay_req *q, unsigned status)
{
    relay_metrics_request(q->r->metrics, RELAY_NENV, q->model, (int)status,
                          co_now_us() - q->t_start);
}

int relay_req_check(struct relay_req *q)
{
    if (q->check_done)
        return q->check_rc;
    q->check_done = 1;
    if (q->too_big)
        return q->check_rc = 413;
    if (q->route == RELAY_FWD_MODELS)
        return q->check_rc = 0;
    struct relay_parsed_req pr;
    const char *ctype = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Content-Type");
    q->check_rc = relay_parse_request(ctype, q->body.data, q->body.len,
                                      q->route == RELAY_FWD_API_CHAT, &pr, &q->pe);
    if (q->check_rc == 0) {
        q->stream = pr.stream;
        snprintf(q->model, sizeof q->model, "%s", pr.model);
        q->fwd_body = pr.fwd_body;
    }
    return q->check_rc;
}

/* Returns 0, or an HTTP status with the error already answered.  The
 * parsing itself is relay_parse_request (pure, fuzzed). */
static int validate(struct relay_req *q)
{
    int rc = relay_req_check(q);
    if (rc == 413) {
        char msg[128];
        relay_too_large_msg(q->r, msg, sizeof msg);
        answer_error(q, 413, msg, "invalid_request_error", "request_too_large", 0);
    } else if (rc) {
        char *body =
            co_openai_error(q->pe.message, "invalid_request_error", q->pe.param, q->pe.code);
        answer(q, (unsigned)rc, "application/json", body, strlen(body), 0);
        free(body);
    }
    return rc;
}

enum MHD_Result relay_req_step(struct relay_req *q)
{
    struct relay *r = q->r;
    if (q->response) {
        enum MHD_Result ret = MHD_queue_response(q->conn, q->resp_status, q->response);
        MHD_destroy_response(q->response);
        q->response = NULL;
        return ret;
    }
    if (q->started) {
        /* Resumed with nothing to say.  The client left: MHD_NO closes the
         * connection now (MHD_YES would leave it in CLOSE-WAIT, counted in
         * flight, until the drain timeout). */
        if (q->gone)
            return MHD_NO;
        if (!q->upstream_over)
            suspend(q);
        return MHD_YES;
    }
    q->started = 1;
    q->t_start = co_now_us();
    r->inflight++;
    if (validate(q) == 0) {
        q->deadline = q->t_start + ms_us(r->cfg.deadline_ms);
        relay_backoff_init(&q->bo, (uint64_t)r->cfg.backoff_base_ms,
                           (uint64_t)r->cfg.backoff_cap_ms, r->jitter);
        q->env = pick_env(q);
        if (q->env == RELAY_NENV) {
            answer_error(q, 503, "503 Service Unavailable - All environments unhealthy",
                         "upstream_error", "all_environments_unavailable", 0);
        } else {
            start_attempt(q);
        }
    }
    if (q->response)
        return relay_req_step(q);
    suspend(q);
    return MHD_YES;
}

/* The client left while we were still working for it: one request event
 * (status 499, nginx's "client closed request"), and the upstream transfer
 * or the backoff sleep is dropped. */
static void client_gone(struct relay_req *q)
{
    q->gone = 1;
    if (q->easy || q->sleeping) {
        cancel_upstream(q);
        emit_request(q, 499, "end", "client_gone");
    }
}

void relay_req_finished(struct relay_req *q, enum MHD_RequestTerminationCode toe)
{
    struct relay *r = q->r;
    client_gone(q);
    ev_timer_stop(r->loop, &q->timer);
    ev_timer_stop(r->loop, &q->watch_delay);
    ev_io_stop(r->loop, &q->watch);
    if (q->response)
        MHD_destroy_response(q->response);
    release_easy(q);
    budget_release(q);
    co_buf_free(&q->body);
    co_buf_free(&q->resp);
    relay_sse_free(&q->sse);
    free(q->fwd_body);
    if (q->prev)
        q->prev->next = q->next;
    else
        r->reqs = q->next;
    if (q->next)
        q->next->prev = q->prev;
    int counted = q->started;
    free(q);
    if (counted) {
        r->inflight--;
        relay_request_ended(r);
    }
}

void relay_req_cancel_all(struct relay *r)
{
    for (struct relay_req *q = r->reqs; q; q = q->next) {
        cancel_upstream(q);
        q->gone = 1;
        resume(q);
    }
}
