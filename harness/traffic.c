/* Traffic: scheduling, one libcurl easy handle per request, and the facts we
 * record about each answer.  See traffic.h for the model. */
#include "harness/traffic.h"
#include "harness/sse.h"

#include "mocks/mock.h"

#include "co_buf.h"
#include "co_clock.h"
#include "co_json.h"
#include "co_mem.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BODY_CAP      (1u << 20)  /* answers above 1 MiB are cut (and so truncated) */
#define DEFER_CAP     (64u << 20) /* answers kept raw for reading after the traffic */
#define KEEP_BODY_CAP 4096        /* a finished request's answer buffer is kept up to this */
/* Where the request id goes in a body template: a string no prompt holds
 * (jansson writes the control characters as \u0001). */
#define ID_SLOT     "\\u0001id\\u0001"
#define ID_SLOT_RAW "\001id\001"

/* A driver late by more than LATE_US opens no connection beyond those it
 * already holds (LATE_CAP at least): see usable_cap. */
#define LATE_US  5000
#define LATE_CAP 64

struct harness_raw_body {
    char *data;
    size_t len;
};

struct harness_xfer_req {
    struct harness_xfer base;
    struct harness_traffic *t;
    size_t idx;
    int phase;
    CURL *easy;
    /* The request's own header lines, in front of its phase's (hdr_tpl):
     * list nodes held here, so a request allocates none (libcurl reads the
     * list, never frees or changes it). */
    struct curl_slist id_line, key_line;
    char id_hdr[HARNESS_ID_LEN + 16];
    char key_hdr[96];
    char *post; /* the request body, read by libcurl in place (CURLOPT_POSTFIELDS) */
    struct co_buf body;
    struct harness_xfer_req *next, *prev;
    struct harness_xfer_req *queued; /* next in the pool's wait queue */
    int added;                       /* handed to libcurl */
    int stall;                       /* a stalled sender: its handle is not reused */
    size_t post_len;                 /* the body's bytes sent at once */
    size_t post_full;                /* the whole body's length */
    long ans_len;                    /* a stalled sender's answer: its Content-Length, -1 none */
    size_t ans_got;                  /* and the body bytes come so far */
    int answered;                    /* it has its whole answer: the upload is given up */
    int final;                       /* the answer being read is no 1xx */
    long declared, sent;             /* a stalled sender's Content-Length, bytes sent so far */
    int trickle;                     /* it sends the rest a byte at a time (trickle_ms) */
    int at_cap;                      /* queued because the whole pool was busy */
};

void harness_xfer_dispatch(struct co_evcurl *c, CURL *easy, CURLcode rc)
{
    struct harness_xfer *x = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    if (x && x->done)
        x->done(x, easy, rc);
    else
        curl_easy_cleanup(easy);
}

/* ---- body facts ---------------------------------------------------------- */

/* The mock's name stamped in an answer or chunk: "system_fingerprint"
 * ("fp_cutover_NAME"), else the completion id ("chatcmpl-NAME-..."). */
static void stamp_from_json(struct harness_req *r, const json_t *j)
{
    char name[8] = "";
    const char *fp = json_string_value(json_object_get(j, "system_fingerprint"));
    const char *id = json_string_value(json_object_get(j, "id"));
    size_t pl = strlen(MOCK_FINGERPRINT_PREFIX);
    if (fp && strncmp(fp, MOCK_FINGERPRINT_PREFIX, pl) == 0 && fp[pl])
        snprintf(name, sizeof name, "%s", fp + pl);
    else if (id && strncmp(id, "chatcmpl-", 9) == 0 && strchr(id + 9, '-'))
        snprintf(name, sizeof name, "%.*s", (int)(strchr(id + 9, '-') - (id + 9)), id + 9);
    if (!name[0])
        return;
    if (!r->served_body[0])
        snprintf(r->served_body, sizeof r->served_body, "%s", name);
    else if (strcmp(r->served_body, name) != 0)
        snprintf(r->served_body, sizeof r->served_body, "mixed");
}

/* The OpenAI error object's type and code (a code may be a string or a
 * number), when j carries one. */
static void error_facts(struct harness_req *r, const json_t *j)
{
    json_t *e = json_object_get(j, "error");
    if (!json_is_object(e))
        return;
    const char *type = json_string_value(json_object_get(e, "type"));
    json_t *code = json_object_get(e, "code");
    snprintf(r->err_type, sizeof r->err_type, "%s", type ? type : "");
    if (json_is_string(code))
        snprintf(r->err_code, sizeof r->err_code, "%s", json_string_value(code));
    else if (json_is_integer(code))
        snprintf(r->err_code, sizeof r->err_code, "%lld", (long long)json_integer_value(code));
    else
        r->err_code[0] = '\0';
}

/* One more piece of the answer's text: hashed whole, its first bytes kept. */
static void text_add(struct harness_req *r, const json_t *content)
{
    if (!content || json_is_null(content))
        return;
    if (!json_is_string(content)) {
        r->text_bad = 1;
        return;
    }
    const char *s = json_string_value(content);
    size_t n = json_string_length(content);
    r->text_hash = harness_text_hash(r->text_hash, s, n);
    if (r->text_len + 1 < sizeof r->text) {
        size_t room = sizeof r->text - 1 - r->text_len, k = n < room ? n : room;
        memcpy(r->text + r->text_len, s, k);
        r->text[r->text_len + k] = '\0';
    }
    r->text_len += n;
}

/* The answer's model, finish_reason and usage from a body or a chunk. */
static void answer_facts(struct harness_req *r, const json_t *j, const json_t *ch)
{
    const char *model = json_string_value(json_object_get(j, "model"));
    if (model) {
        if (!r->ans_model[0])
            snprintf(r->ans_model, sizeof r->ans_model, "%s", model);
        else if (strncmp(r->ans_model, model, sizeof r->ans_model - 1) != 0)
            snprintf(r->ans_model, sizeof r->ans_model, "(mixed)");
    }
    const char *fin = json_string_value(json_object_get(ch, "finish_reason"));
    if (fin) {
        snprintf(r->finish, sizeof r->finish, "%s", fin);
        r->finish_n++;
    }
    json_t *u = json_object_get(j, "usage");
    json_t *pt = json_object_get(u, "prompt_tokens"), *ct = json_object_get(u, "completion_tokens");
    if (json_is_integer(pt) && json_is_integer(ct)) {
        json_t *tt = json_object_get(u, "total_tokens");
        r->usage_seen = 1;
        r->usage_prompt = (long)json_integer_value(pt);
        r->usage_completion = (long)json_integer_value(ct);
        r->usage_total = json_is_integer(tt) ? (long)json_integer_value(tt) : -1;
    }
}

static void facts_from_json(struct harness_req *r, json_t *j, int stream)
{
    if (!json_is_object(j))
        return;
    stamp_from_json(r, j);
    if (json_object_get(j, "error")) {
        r->inband_error = 1;
        error_facts(r, j);
    }
    json_t *ch = json_array_get(json_object_get(j, "choices"), 0);
    answer_facts(r, j, ch);
    if (stream) {
        /* A stream's answer is judged by its [DONE], not per event; its
         * text is the deltas in order. */
        text_add(r, json_object_get(json_object_get(ch, "delta"), "content"));
        return;
    }
    if (!ch)
        return;
    json_t *content = json_object_get(json_object_get(ch, "message"), "content");
    text_add(r, content);
    if (json_is_string(content))
        r->complete = 1;
}

/* Forgets what a previous reading of the body found (safe to repeat). */
static void answer_reset(struct harness_req *r)
{
    r->err_type[0] = r->err_code[0] = r->finish[0] = r->ans_model[0] = r->text[0] = '\0';
    r->finish_n = r->usage_seen = r->text_bad = r->bad_event = 0;
    r->usage_prompt = r->usage_completion = r->usage_total = -1;
    r->text_len = 0;
    r->text_hash = HARNESS_TEXT_HASH0;
}

struct sse_facts {
    struct harness_req *r;
    int saw_chunk; /* > 0: a chunk with a choice; negative: a malformed one */
};

static void on_sse_event(void *ud, const char *type, size_t tlen, const char *d, size_t dn)
{
    struct sse_facts *sf = ud;
    struct harness_req *r = sf->r;
    if (r->done_marker)
        r->after_done++;
    if (tlen == 5 && memcmp(type, "error", 5) == 0)
        r->inband_error = 1;
    if (dn == 6 && memcmp(d, "[DONE]", 6) == 0) {
        r->done_marker = 1;
        return;
    }
    json_error_t je;
    json_t *j = json_loadb(d, dn, 0, &je);
    if (j) {
        facts_from_json(r, j, 1);
        sf->saw_chunk |= json_array_get(json_object_get(j, "choices"), 0) != NULL;
        json_decref(j);
    } else {
        sf->saw_chunk = -100; /* a malformed chunk: the stream is not complete */
        r->bad_event = 1;
    }
}

void harness_body_facts(struct harness_req *r, const char *body, size_t len)
{
    r->done_marker = r->inband_error = r->complete = r->after_done = 0;
    answer_reset(r);
    /* An error answer's shape (error_shape); -1 for a 200 or no answer. */
    r->err_shape = -1;
    r->err_why[0] = '\0';
    if (r->status != 200 && r->status != 0) {
        r->err_shape = harness_error_shape(body, len, r->err_why, sizeof r->err_why);
        json_error_t je;
        json_t *j = body && len ? json_loadb(body, len, 0, &je) : NULL;
        error_facts(r, j);
        json_decref(j);
    }
    r->served_body[0] = '\0';
    harness_served_resolve(r);
    /* The raw first bytes, for answer_encoding: the client asks for no
     * coding, so libcurl hands the body over as the relay sent it. */
    r->head_n = body ? (int)(len < 2 ? len : 2) : 0;
    if (r->head_n)
        memcpy(r->head, body, (size_t)r->head_n);
    if (!body || !len)
        return;
    if (!r->stream) {
        json_error_t je;
        json_t *j = json_loadb(body, len, 0, &je);
        if (j) {
            facts_from_json(r, j, 0);
            json_decref(j);
        }
        harness_served_resolve(r);
        return;
    }
    /* SSE, read as a client reads it (harness/sse.c): each event's data is
     * one JSON chunk or [DONE]; an event of type "error" also counts. */
    struct sse_facts sf = {r, 0};
    harness_sse_parse(body, len, on_sse_event, &sf);
    int saw_chunk = sf.saw_chunk;
    r->complete = r->done_marker && !r->inband_error && saw_chunk > 0;
    harness_served_resolve(r);
}

void harness_served_resolve(struct harness_req *r)
{
    const char *body = strcmp(r->served_body, "mixed") == 0 ? "" : r->served_body;
    snprintf(r->served, sizeof r->served, "%s", r->served_hdr[0] ? r->served_hdr : body);
    r->served_disagree =
        r->served_hdr[0] && r->served_body[0] && strcmp(r->served_hdr, r->served_body) != 0;
}

int harness_error_shape(const char *body, size_t len, char *why, size_t whylen)
{
    json_error_t je;
    json_t *j = body && len ? json_loadb(body, len, 0, &je) : NULL;
    const char *bad = NULL;
    json_t *e = json_object_get(j, "error");
    if (!j)
        bad = len ? "not JSON" : "empty body";
    else if (!json_is_object(e))
        bad = "no \"error\" object";
    else if (!json_is_string(json_object_get(e, "message")))
        bad = "error.message is not a string";
    else if (!json_is_string(json_object_get(e, "type")))
        bad = "error.type is not a string";
    json_decref(j);
    snprintf(why, whylen, "%s", bad ? bad : "");
    return bad == NULL;
}

int harness_classify(const struct harness_req *r)
{
    if (r->status == 0)
        return HARNESS_TRANSPORT;
    if (r->status != 200)
        return HARNESS_HTTP_ERROR;
    if (r->inband_error)
        return HARNESS_INBAND_ERROR;
    if (r->curl_rc != 0 || !r->complete)
        return HARNESS_TRUNCATED;
    return HARNESS_OK;
}

/* ---- transfers ------------------------------------------------------------ */

/* A stalled sender that has its whole answer (a final status, and as many
 * body bytes as its Content-Length said) stops its upload, as a client
 * does: libcurl would otherwise wait for the paused upload to end before it
 * ends the transfer.  The read callback then aborts the upload, and
 * finish_req takes that abort for the normal end it is. */
static void stall_answered(struct harness_xfer_req *x)
{
    if (x->answered || x->ans_len < 0 || x->ans_got < (size_t)x->ans_len || !x->final)
        return;
    x->answered = 1;
    curl_easy_pause(x->easy, CURLPAUSE_CONT);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct harness_xfer_req *x = ud;
    struct harness_req *r = &x->t->reqs[x->idx];
    size_t n = size * nmemb;
    if (!r->t_first)
        r->t_first = co_now_us();
    /* Beyond the cap the answer is cut, once: no later piece that would
     * still fit is kept after a dropped one (that would be a gap). */
    if (!r->body_cut && co_buf_append(&x->body, data, n) != 0)
        r->body_cut = 1;
    if (x->stall) {
        x->ans_got += n;
        /* No Content-Length (a chunked answer): libcurl does not say when
         * the last chunk came, and the paused upload would hold the
         * request until the client's own timeout (a relay that refused the
         * declared length at once would be measured as slow as that).  An
         * answer whose body so far is one whole JSON document (an
         * OpenAI-shaped error) is taken as whole: a cut one does not parse. */
        if (x->final && x->ans_len < 0 && !r->body_cut && x->body.len) {
            json_error_t je;
            json_t *doc = json_loadb(x->body.data, x->body.len, 0, &je);
            if (doc)
                x->ans_len = (long)x->ans_got;
            json_decref(doc);
        }
        stall_answered(x);
    }
    return n;
}

/* value[0..vl) into dst as a string, cut to dst's size. */
static void copy_value(char *dst, size_t size, const char *v, size_t vl)
{
    if (vl > size - 1)
        vl = size - 1;
    memcpy(dst, v, vl);
    dst[vl] = '\0';
}

static long header_long(const char *v, size_t vl)
{
    char tmp[32];
    copy_value(tmp, sizeof tmp, v, vl);
    char *end;
    long x = strtol(tmp, &end, 10);
    return end != tmp && *end == '\0' && x >= 0 ? x : -2; /* -2: present, not an integer */
}

/* An HTTP date in one of RFC 9110's three forms (IMF-fixdate first), the
 * whole value: Retry-After may be one instead of seconds. */
static int http_date(const char *s)
{
    static const char *const forms[] = {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                                        "%a %b %e %H:%M:%S %Y"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *end = strptime(s, forms[i], &tm);
        if (end && *end == '\0')
            return 1;
    }
    return 0;
}

static void reset_headers(struct harness_req *r)
{
    r->served_hdr[0] = '\0';
    r->attempts_hdr = -1;
    r->retry_after_ms = -1;
    r->ratelimit_hdrs = 0;
    r->ctype[0] = '\0';
    r->cenc[0] = '\0';
    r->hop_hdr = 0;
    r->should_retry = -1;
    r->ra_s = r->ra_ms = r->rl_limit = r->rl_remaining = -1;
}

enum hdr_kind {
    HDR_CTYPE,
    HDR_CENC,
    HDR_HOP,
    HDR_SHOULD_RETRY,
    HDR_RETRY_AFTER,
    HDR_RETRY_AFTER_MS,
    HDR_RL_LIMIT,
    HDR_RL_REMAINING,
    HDR_SERVED_BY,
    HDR_ATTEMPTS,
};

/* The answer headers whose values the checks read (the rate_limit and
 * final_error_headers checks want the exact values; X-Served-By names the
 * colour).  The relay's own limiter headers: the -requests/-tokens ones are
 * an upstream's, passed through, and speak of its limits.  One row per
 * name, matched by length first: every answer header passes here. */
static const struct {
    const char *name;
    size_t len;
    enum hdr_kind kind;
} hdr_rows[] = {
    {"Content-Type", 12, HDR_CTYPE},         {"x-should-retry", 14, HDR_SHOULD_RETRY},
    {"Retry-After", 11, HDR_RETRY_AFTER},    {"retry-after-ms", 14, HDR_RETRY_AFTER_MS},
    {"x-ratelimit-limit", 17, HDR_RL_LIMIT}, {"x-ratelimit-remaining", 21, HDR_RL_REMAINING},
    {"X-Served-By", 11, HDR_SERVED_BY},      {"X-Attempts", 10, HDR_ATTEMPTS},
    {"Content-Encoding", 16, HDR_CENC},      {"X-Mock-Hop", 10, HDR_HOP},
};

static void header_value(struct harness_req *r, enum hdr_kind kind, const char *v, size_t vl)
{
    char tmp[64];
    copy_value(tmp, sizeof tmp, v, vl);
    switch (kind) {
    case HDR_CTYPE:
        copy_value(r->ctype, sizeof r->ctype, v, vl);
        break;
    case HDR_CENC:
        copy_value(r->cenc, sizeof r->cenc, v, vl);
        break;
    case HDR_HOP: /* hop_headers: the mock's Connection named it */
        r->hop_hdr = 1;
        break;
    case HDR_SHOULD_RETRY:
        r->should_retry = !(vl == 5 && strncasecmp(v, "false", 5) == 0);
        break;
    case HDR_RETRY_AFTER:
        r->ra_s = header_long(v, vl);
        if (r->ra_s == -2 && http_date(tmp))
            r->ra_s = -3; /* an HTTP date, as RFC 9110 allows: no whole number to compare */
        if (r->retry_after_ms < 0)
            r->retry_after_ms = (long)(atof(tmp) * 1000.0);
        break;
    case HDR_RETRY_AFTER_MS:
        r->ra_ms = header_long(v, vl);
        r->retry_after_ms = atol(tmp);
        break;
    case HDR_RL_LIMIT:
        r->rl_limit = header_long(v, vl);
        break;
    case HDR_RL_REMAINING:
        r->rl_remaining = header_long(v, vl);
        break;
    case HDR_SERVED_BY:
        copy_value(r->served_hdr, sizeof r->served_hdr, v, vl);
        break;
    case HDR_ATTEMPTS:
        r->attempts_hdr = atoi(tmp);
        break;
    }
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *ud)
{
    struct harness_xfer_req *x = ud;
    struct harness_req *r = &x->t->reqs[x->idx];
    size_t n = size * nmemb;
    if (x->t->secret && x->t->secret[0] && memmem(line, n, x->t->secret, strlen(x->t->secret)))
        r->leaked = 1;
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new response (after a 1xx): forget the previous headers. */
        reset_headers(r);
        x->final = 0;
        x->ans_len = -1;
        x->ans_got = 0;
        return n;
    }
    if (x->stall && (n == 2 || n == 1) && (line[0] == '\r' || line[0] == '\n')) {
        /* The end of a head: its status and Content-Length as libcurl read
         * them (-1: none, the answer's end is then unknown to us); an
         * answer of no body is whole already. */
        long code = 0;
        curl_off_t cl = -1;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
        x->final = code >= 200;
        x->ans_len = (long)cl;
        stall_answered(x);
    }
    if (n > 12 && strncasecmp(line, "x-ratelimit-", 12) == 0)
        r->ratelimit_hdrs++;
    const char *colon = memchr(line, ':', n);
    if (!colon)
        return n;
    size_t nl = (size_t)(colon - line);
    for (size_t i = 0; i < sizeof hdr_rows / sizeof hdr_rows[0]; i++) {
        if (hdr_rows[i].len != nl || strncasecmp(line, hdr_rows[i].name, nl) != 0)
            continue;
        const char *v = colon + 1, *e = line + n;
        while (v < e && (*v == ' ' || *v == '\t'))
            v++;
        while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
            e--;
        header_value(r, hdr_rows[i].kind, v, (size_t)(e - v));
        break;
    }
    return n;
}

static void phase_next(struct harness_phase_state *ps);

static void unlink_xfer(struct harness_traffic *t, struct harness_xfer_req *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        t->live = x->next;
    if (x->next)
        x->next->prev = x->prev;
}

/* A finished request's state is kept for the next one (up to the pool's
 * cap, the most that can be in flight), its answer buffer too when the
 * answer was read in place rather than kept raw. */
static void free_xfer(struct harness_traffic *t, struct harness_xfer_req *x)
{
    free(x->post);
    x->post = NULL;
    if (t->n_free_x < t->pool_cap) {
        /* A large answer's buffer is not kept: up to pool_cap of them
         * would hold as many MiB. */
        if (x->body.cap > KEEP_BODY_CAP) {
            co_buf_free(&x->body);
            co_buf_init(&x->body, BODY_CAP);
        }
        co_buf_reset(&x->body);
        x->queued = t->free_x;
        t->free_x = x;
        t->n_free_x++;
        return;
    }
    co_buf_free(&x->body);
    free(x);
}

/* This thread's CPU time (user + system), µs. */
static uint64_t thread_cpu_us(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
           (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
}

static void arm_phase(struct harness_phase_state *ps, uint64_t start);

/* A phase that starts after the previous one starts once that one has
 * ended and every request of it has been answered, plus its delay. */
static void arm_followers(struct harness_traffic *t)
{
    if (t->share_n)
        return; /* a worker runs one phase; its coordinator arms the next */
    for (int i = 1; i < t->s->n_phases; i++) {
        struct harness_phase_state *ps = &t->ph[i], *prev = &t->ph[i - 1];
        if (ps->start || !t->s->phases[i].after_prev || !prev->start || !prev->ended ||
            prev->inflight)
            continue;
        arm_phase(ps, co_now_us() + t->s->phases[i].after_delay_us);
    }
}

static void check_finished(struct harness_traffic *t)
{
    if (!t->finished)
        arm_followers(t);
    if (t->finished || t->inflight)
        return;
    for (int i = 0; i < t->s->n_phases; i++)
        if (!t->ph[i].ended)
            return;
    t->finished = 1;
    t->cpu_traffic_us = thread_cpu_us() - t->cpu_start_us + t->cpu_workers_us;
    if (!t->share_n) /* a worker's answers are read by its coordinator */
        harness_traffic_settle(t);
    if (t->on_finished)
        t->on_finished(t);
}

/* The facts of an answer's body (harness_body_facts, error shape included),
 * its outcome, and whether the upstream key is in it.  On the deferred path
 * (harness_traffic_settle) or, past DEFER_CAP, as the answer ends. */
static void read_answer(struct harness_traffic *t, struct harness_req *r, const char *body,
                        size_t len)
{
    harness_body_facts(r, body, len);
    r->outcome = harness_classify(r);
    const char *sec = t->secret;
    if (sec && sec[0] && len && memmem(body, len, sec, strlen(sec)))
        r->leaked = 1;
}

static char *request_body(struct harness_traffic *t, int phase, int tpl, const char *id,
                          size_t *len);

/* The hash of the messages each request sent (the forwarded check compares
 * the mock's "messages_hash"): from the very body the request carried,
 * rebuilt from its phase's template with its id and content marker, and
 * hashed as the mock hashes (mock_messages_hash).  After the traffic, so
 * the JSON parse costs the schedule nothing; 0 marks a request not yet
 * hashed (safe to repeat). */
static void sent_hashes(struct harness_traffic *t)
{
    /* reqs is NULL once the runner took them (harness_traffic_free stops). */
    for (size_t i = 0; t->reqs && i < t->n_reqs; i++) {
        struct harness_req *r = &t->reqs[i];
        if (r->msg_hash || r->raw || r->phase < 0 || r->phase >= t->s->n_phases)
            continue;
        size_t len;
        char *post = request_body(t, r->phase, r->tpl, r->id, &len);
        json_error_t je;
        json_t *j = json_loads(post, 0, &je);
        r->msg_hash = j ? mock_messages_hash(json_object_get(j, "messages")) : 0;
        mock_body_fields(j, r->fields, sizeof r->fields);
        json_decref(j);
        free(post);
    }
}

static void finish_req(struct harness_xfer_req *x, CURL *easy, CURLcode rc)
{
    struct harness_traffic *t = x->t;
    struct harness_req *r = &t->reqs[x->idx];
    r->t_done = co_now_us();
    if (x->stall && x->answered && rc == CURLE_ABORTED_BY_CALLBACK)
        rc = CURLE_OK; /* the stalled upload given up once the whole answer came */
    r->curl_rc = (int)rc;
    long code = 0, conns = 0;
    if (easy && x->added) {
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &conns);
    }
    t->connects += conns;
    /* A 1xx is no answer: a client that got "100 Continue" and then
     * nothing (its upload stalled, the relay silent) has none. */
    if (code >= 100 && code < 200 && rc != CURLE_OK)
        code = 0;
    r->status = code;
    if (rc != CURLE_OK && !r->curl_err[0])
        snprintf(r->curl_err, sizeof r->curl_err, "%s", curl_easy_strerror(rc));
    if (x->body.len && !t->finished && t->raw_bytes + x->body.len <= DEFER_CAP) {
        /* Read later (harness_traffic_settle); until then the outcome is
         * what status and transport say. */
        struct harness_raw_body *b = &t->raw[x->idx];
        b->data = co_buf_steal(&x->body, &b->len);
        t->raw_bytes += b->len;
        harness_body_facts(r, NULL, 0);
        r->outcome = harness_classify(r);
        return;
    }
    read_answer(t, r, x->body.data, x->body.len);
}

void harness_traffic_settle(struct harness_traffic *t)
{
    sent_hashes(t);
    for (size_t i = 0; t->raw_bytes && i < t->n_reqs; i++) {
        struct harness_raw_body *b = &t->raw[i];
        if (!b->data)
            continue;
        read_answer(t, &t->reqs[i], b->data, b->len);
        t->raw_bytes -= b->len;
        free(b->data);
        b->data = NULL;
    }
}

/* A finished handle is kept for the next request (its buffers and settings
 * allocations spared); the connection itself lives in the multi's pool.  No
 * curl_easy_reset: issue() sets the same options on every request, so none
 * is left over from the last one. */
static void release_easy(struct harness_traffic *t, CURL *easy)
{
    if (t->n_spare < t->pool_cap) {
        t->spare[t->n_spare++] = easy;
    } else {
        curl_easy_cleanup(easy);
    }
}

/* A new easy handle with the options every request has; issue() sets the
 * request's own on every use (a reused handle keeps its options). */
static CURL *new_easy(struct harness_traffic *t)
{
    CURL *e = curl_easy_init();
    t->easies++;
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    /* The relay is on 127.0.0.1: no proxy, whatever the environment says
     * (and libcurl reads no proxy variables per request). */
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    return e;
}

/* A stalled sender's body: its first sent_bytes, then either a byte per
 * call (trickle_ms: libcurl paces the calls) or a pause that nobody lifts
 * (the request then ends with the relay's whole answer or the client's
 * timeout: a paused upload does not notice a close). */
static size_t on_stalled_read(char *buf, size_t size, size_t nmemb, void *ud)
{
    struct harness_xfer_req *x = ud;
    if (x->answered)
        return CURL_READFUNC_ABORT;
    size_t room = size * nmemb, sent = (size_t)x->sent;
    if (sent < x->post_len) {
        size_t left = x->post_len - sent, n = left < room ? left : room;
        memcpy(buf, x->post + sent, n);
        x->sent += (long)n;
        return n;
    }
    if (!x->trickle || x->sent >= x->declared || !room)
        return CURL_READFUNC_PAUSE;
    /* One trickled byte (libcurl's send-speed cap paces them): the body's
     * next, past its end a space (JSON whitespace), so that the declared
     * length is honest. */
    buf[0] = sent < x->post_full ? x->post[sent] : ' ';
    x->sent++;
    return 1;
}

/* url parsed once (with the flags libcurl itself parses CURLOPT_URL with)
 * and kept for every request to it: parsing it again for every request was
 * a sixth of the driver's work per request (docs/bench.md).  NULL when it
 * does not parse (libcurl then fails the request with its reason) or when
 * HARNESS_URL_TPLS distinct URLs are kept already (libcurl parses it). */
static CURLU *url_parsed(struct harness_traffic *t, const char *url)
{
    for (int i = 0; i < t->n_url_tpl; i++)
        if (strcmp(t->url_tpl[i].url, url) == 0)
            return t->url_tpl[i].u;
    if (t->n_url_tpl >= HARNESS_URL_TPLS || strlen(url) >= sizeof t->url_tpl[0].url)
        return NULL;
    CURLU *u = curl_url();
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) !=
        CURLUE_OK) {
        curl_url_cleanup(u);
        u = NULL;
    }
    snprintf(t->url_tpl[t->n_url_tpl].url, sizeof t->url_tpl[0].url, "%s", url);
    t->url_tpl[t->n_url_tpl++].u = u;
    return u;
}

/* The request's body, headers and easy handle, made when it is handed to
 * libcurl rather than when it is due: a driver behind its schedule queues
 * requests by the thousand, and an easy handle apiece (16 KiB of buffers
 * each, most of them freed again unused) was a tenth of its CPU. */
static void prepare_xfer(struct harness_traffic *t, struct harness_xfer_req *x)
{
    const struct harness_phase *f = &t->s->phases[x->phase];
    const struct harness_req *r = &t->reqs[x->idx];
    const struct harness_template *tp = r->tpl >= 0 ? &f->tpl[r->tpl] : NULL;
    size_t post_len = 0;
    x->post = request_body(t, x->phase, r->tpl, r->id, &post_len);
    struct curl_slist **base = &t->hdr_tpl[x->phase][tp ? r->tpl : 0];
    if (!*base) {
        char h[160];
        snprintf(h, sizeof h, "Content-Type: %s", tp ? tp->ctype : "application/json");
        *base = curl_slist_append(NULL, h);
        *base = curl_slist_append(*base,
                                  tp && tp->expect_continue ? "Expect: 100-continue" : "Expect:");
        for (int i = 0; tp && i < tp->n_headers; i++)
            *base = curl_slist_append(*base, tp->headers[i]);
    }
    snprintf(x->id_hdr, sizeof x->id_hdr, "X-Request-ID: %s", r->id);
    x->id_line.data = x->id_hdr;
    x->id_line.next = *base;
    struct curl_slist *hdrs = &x->id_line;
    if (r->key[0]) {
        snprintf(x->key_hdr, sizeof x->key_hdr, "Authorization: Bearer %s", r->key);
        x->key_line.data = x->key_hdr;
        x->key_line.next = hdrs;
        hdrs = &x->key_line;
    }
    const char *path = tp ? tp->path : f->path, *method = tp ? tp->method : "POST";
    int chat = strcmp(path, "/v1/chat/completions") == 0 && strcmp(method, "POST") == 0;
    char url[400];
    snprintf(url, sizeof url, "%s%s", r->replica > 0 ? t->replica_url[r->replica] : t->base_url,
             chat && t->chat_path[0] ? t->chat_path : path);
    CURLU *u = url_parsed(t, url);
    /* A stalled sender gets a handle of its own, never reused: its read
     * callback and declared size are not options every request resets. */
    x->stall = tp && tp->declared_length > 0;
    CURL *e = !x->stall && t->n_spare ? t->spare[--t->n_spare] : new_easy(t);
    x->easy = e;
    curl_easy_setopt(e, CURLOPT_CURLU, u);
    curl_easy_setopt(e, CURLOPT_URL, u ? NULL : url);
    if (x->stall) {
        /* Content-Length says declared_length; the read callback hands out
         * sent_bytes of the body and then pauses the upload for good, while
         * libcurl still reads what the relay answers (a 413, a 408) or sees
         * it close.  libcurl has this (CURL_READFUNC_PAUSE): no raw socket. */
        x->post_len = post_len < (size_t)tp->sent_bytes ? post_len : (size_t)tp->sent_bytes;
        x->post_full = post_len;
        x->declared = tp->declared_length;
        x->sent = 0;
        /* A slow sender: one byte every trickle_ms after the first
         * sent_bytes, paced by libcurl itself (CURLOPT_MAX_SEND_SPEED_LARGE,
         * no timer of ours).  A relay that closed the connection
         * is seen at the next byte. */
        x->trickle = tp->trickle_ms > 0;
        if (x->trickle) {
            curl_off_t bps = (curl_off_t)(1000 / tp->trickle_ms);
            curl_easy_setopt(e, CURLOPT_MAX_SEND_SPEED_LARGE, bps > 0 ? bps : (curl_off_t)1);
        }
        /* A fresh handle: no CURLOPT_POSTFIELDS to clear. */
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, on_stalled_read);
        curl_easy_setopt(e, CURLOPT_READDATA, x);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)tp->declared_length);
        if (tp->expect_continue) /* wait for the 100 as long as the client waits at all */
            curl_easy_setopt(e, CURLOPT_EXPECT_100_TIMEOUT_MS, (long)(f->timeout_us / 1000));
    } else if (strcmp(method, "GET") == 0 && post_len == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L); /* a GET without a body */
    } else {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)post_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->post);
    }
    /* Set on every request, NULL included: a reused handle keeps options. */
    if (chat && t->chat_method[0] && strcmp(t->chat_method, "POST") != 0)
        method = t->chat_method;
    curl_easy_setopt(
        e, CURLOPT_CUSTOMREQUEST,
        strcmp(method, "POST") != 0 && !(strcmp(method, "GET") == 0 && !post_len) ? method : NULL);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(f->timeout_us / 1000));
}

/* Hands x to libcurl: this is its send time. */
static void start_xfer(struct harness_traffic *t, struct harness_xfer_req *x)
{
    struct harness_req *r = &t->reqs[x->idx];
    prepare_xfer(t, x);
    x->added = 1;
    t->active++;
    if (t->active > t->peak_active)
        t->peak_active = t->active;
    r->t_sent = co_now_us();
    co_evcurl_add(t->curl, x->easy);
}

/* How many transfers may run for a request scheduled at sched.  On
 * schedule: the whole pool (a slow relay holds many connections, and each
 * request gets one).  Behind schedule, the driver itself is the bottleneck
 * (its CPU was taken): a burst of overdue requests on new connections would
 * not make it faster, only every later request slower (libcurl looks for an
 * idle connection among all of them, and each new one costs a connect and
 * an accept), which is how a driver behind at 20,000 req/s used to fall
 * further behind.  Then the overdue requests wait for the connections it
 * already holds (LATE_CAP at least); the wait shows in their send lag. */
static int usable_cap(const struct harness_traffic *t, uint64_t sched, uint64_t now)
{
    if (now <= sched + LATE_US)
        return t->pool_cap;
    int held = t->peak_active > LATE_CAP ? t->peak_active : LATE_CAP;
    return held < t->pool_cap ? held : t->pool_cap;
}

/* A connection came free: the longest waiting request takes it. */
static void pool_next(struct harness_traffic *t)
{
    uint64_t now = co_now_us();
    while (t->queue_head && t->active < usable_cap(t, t->reqs[t->queue_head->idx].t_sched, now)) {
        struct harness_xfer_req *x = t->queue_head;
        t->queue_head = x->queued;
        if (!t->queue_head)
            t->queue_tail = NULL;
        x->queued = NULL;
        start_xfer(t, x);
        const struct harness_req *r = &t->reqs[x->idx];
        if (x->at_cap && r->t_sent > r->t_sched && r->t_sent - r->t_sched > t->pool_wait_max_us)
            t->pool_wait_max_us = r->t_sent - r->t_sched;
    }
}

static void req_done(struct harness_xfer *base, CURL *easy, CURLcode rc)
{
    struct harness_xfer_req *x = (struct harness_xfer_req *)base;
    struct harness_traffic *t = x->t;
    finish_req(x, easy, rc);
    if (x->stall)
        curl_easy_cleanup(easy);
    else
        release_easy(t, easy);
    unlink_xfer(t, x);
    struct harness_phase_state *ps = &t->ph[x->phase];
    free_xfer(t, x);
    ps->inflight--;
    t->inflight--;
    t->active--;
    pool_next(t);
    if (t->s->phases[ps->index].concurrency > 0)
        phase_next(ps);
    check_finished(t);
}

int harness_template_pick(const struct harness_phase *f, double u)
{
    if (f->n_tpl <= 1)
        return 0;
    double total = 0, acc = 0;
    for (int i = 0; i < f->n_tpl; i++)
        total += f->tpl[i].weight;
    for (int i = 0; i < f->n_tpl; i++) {
        acc += f->tpl[i].weight;
        if (u * total < acc)
            return i;
    }
    return f->n_tpl - 1;
}

/* The message whose content carries the marker: the last user message
 * with string content, else the last message with string content (an
 * assistant prefill after it stays as written). */
static json_t *marker_message(json_t *msgs)
{
    json_t *any = NULL;
    for (size_t k = json_array_size(msgs); k-- > 0;) {
        json_t *m = json_array_get(msgs, k);
        if (!json_is_string(json_object_get(m, "content")))
            continue;
        if (!any)
            any = m;
        const char *role = json_string_value(json_object_get(m, "role"));
        if (role && strcmp(role, "user") == 0)
            return m;
    }
    return any;
}

char *harness_template_text(const struct harness_template *tp, const char *slot)
{
    json_t *body = json_deep_copy(tp->body);
    if (!tp->own_user)
        json_object_set_new(body, "user", json_string(slot));
    json_t *m = marker_message(json_object_get(body, "messages"));
    if (m) {
        char *content = co_asprintf("%s " MOCK_ID_MARKER "%s]",
                                    json_string_value(json_object_get(m, "content")), slot);
        json_object_set_new(m, "content", json_string(content));
        free(content);
    }
    /* Numbers as written: the shortest precision that reads back equal
     * (0.2 stays 0.2, not 0.20000000000000001). */
    char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_error_t je;
    json_t *back = text ? json_loads(text, 0, &je) : NULL;
    if (!back || !json_equal(back, body)) {
        free(text);
        text = json_dumps(body, JSON_COMPACT);
    }
    json_decref(back);
    json_decref(body);
    return text;
}

/* The phase's (or its template's) body with id in every ID_SLOT
 * (malloc'd; *len its length, a raw body may hold NUL bytes).  The template
 * is jansson's once per template; a request only splices its id in (the id
 * is the runner's own [A-Za-z0-9-], nothing to escape). */
static char **body_cached(struct harness_traffic *t, int phase, int tpl);

static char *request_body(struct harness_traffic *t, int phase, int tpl, const char *id,
                          size_t *len)
{
    const struct harness_phase *f = &t->s->phases[phase];
    if (f->n_tpl && f->tpl[tpl].raw) {
        const json_t *raw = f->tpl[tpl].raw;
        *len = json_string_length(raw);
        char *b = co_malloc(*len + 1);
        memcpy(b, json_string_value(raw), *len);
        b[*len] = '\0';
        return b;
    }
    char **cached = body_cached(t, phase, tpl);
    struct co_buf b;
    co_buf_init(&b, 0);
    const char *p = *cached, *slot;
    size_t sl = strlen(ID_SLOT);
    while ((slot = strstr(p, ID_SLOT)) != NULL) {
        co_buf_append(&b, p, (size_t)(slot - p));
        co_buf_puts(&b, id);
        p = slot + sl;
    }
    co_buf_puts(&b, p);
    return co_buf_steal(&b, len);
}

/* The body template of a phase's template (made once, then kept). */
static char **body_cached(struct harness_traffic *t, int phase, int tpl)
{
    const struct harness_phase *f = &t->s->phases[phase];
    char **cached = &t->body_tpl[phase][f->n_tpl ? tpl : 0];
    if (!*cached && f->n_tpl) {
        *cached = harness_template_text(&f->tpl[tpl], ID_SLOT_RAW);
    } else if (!*cached) {
        /* The id also rides in the content, the one part every relay
         * forwards (MOCK_ID_MARKER, the mock's third way to find it). */
        char content[1200];
        snprintf(content, sizeof content, "%s " MOCK_ID_MARKER "%s]", f->prompt, ID_SLOT_RAW);
        json_t *body = json_pack("{s:s, s:[{s:s, s:s}], s:i, s:b, s:s}", "model", f->model,
                                 "messages", "role", "user", "content", content, "max_tokens",
                                 f->max_tokens, "stream", f->stream, "user", ID_SLOT_RAW);
        *cached = json_dumps(body, JSON_COMPACT);
        json_decref(body);
    }
    return cached;
}

/* The replica the next request goes to (0 without a fleet). */
static int pick_replica(struct harness_traffic *t)
{
    if (t->n_replicas <= 1)
        return 0;
    if (t->spread == HARNESS_SPREAD_RANDOM)
        return (int)co_rng_range(&t->spread_rng, 0, (uint64_t)t->n_replicas - 1);
    return (int)(t->next_replica++ % (unsigned)t->n_replicas);
}

void harness_traffic_set_replicas(struct harness_traffic *t, const char (*urls)[96], int n,
                                  int spread, uint64_t seed)
{
    t->n_replicas = n < HARNESS_MAX_REPLICAS ? n : HARNESS_MAX_REPLICAS;
    for (int i = 0; i < t->n_replicas; i++)
        snprintf(t->replica_url[i], sizeof t->replica_url[i], "%s", urls[i]);
    t->spread = spread;
    /* Its own generator: the arrivals' draws stay those of a one-relay run. */
    t->spread_seed = seed;
    co_rng_seed(&t->spread_rng, seed ^ 0x5eedf1ee7ull);
}

/* Request i of a phase is this traffic's to send: always, or for worker w
 * of n when i mod n == w. */
static int own_req(const struct harness_traffic *t, int i)
{
    return !t->share_n || i % t->share_n == t->share_w;
}

/* The requests a closed loop keeps in flight here: its concurrency, or a
 * worker's share of it (the first concurrency mod n workers one more). */
static int share_concurrency(const struct harness_traffic *t, const struct harness_phase *f)
{
    if (!t->share_n)
        return f->concurrency;
    return f->concurrency / t->share_n + (t->share_w < f->concurrency % t->share_n);
}

/* Another worker's request: the draws issue() would take for it are taken
 * here too, so request i draws the i-th template and replica whichever
 * worker sends it (the arrival gap is drawn by the caller, as for one of
 * its own). */
static void skip_req(struct harness_phase_state *ps)
{
    struct harness_traffic *t = ps->t;
    if (t->s->phases[ps->index].n_tpl)
        (void)co_rng_double(&t->pick);
    (void)pick_replica(t);
    ps->issued++;
}

static void issue(struct harness_phase_state *ps, uint64_t sched)
{
    struct harness_traffic *t = ps->t;
    const struct harness_phase *f = &t->s->phases[ps->index];
    if (t->n_reqs >= t->cap) {
        ps->ended = 1;
        return;
    }
    size_t idx = t->n_reqs++;
    struct harness_req *r = &t->reqs[idx];
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s-%d-%d", t->id_prefix, ps->index, ps->issued);
    r->phase = ps->index;
    r->stream = f->stream;
    reset_headers(r);
    r->err_shape = -1;
    r->tpl = f->n_tpl ? harness_template_pick(f, co_rng_double(&t->pick)) : -1;
    const struct harness_template *tp = r->tpl >= 0 ? &f->tpl[r->tpl] : NULL;
    if (tp) {
        r->stream = tp->stream;
        r->include_usage = tp->include_usage;
        r->raw = tp->raw != NULL;
        snprintf(r->tpl_name, sizeof r->tpl_name, "%s", tp->name);
        copy_value(r->model, sizeof r->model, tp->model, strlen(tp->model));
        r->max_tokens = tp->max_tokens;
    } else {
        copy_value(r->model, sizeof r->model, f->model, strlen(f->model));
        r->max_tokens = f->max_tokens;
    }
    r->key_index = f->n_keys ? ps->issued % f->n_keys : -1;
    if (r->key_index >= 0)
        copy_value(r->key, sizeof r->key, f->keys[r->key_index], strlen(f->keys[r->key_index]));
    r->t_sched = sched;
    ps->issued++;

    struct harness_xfer_req *x = t->free_x;
    if (x) {
        t->free_x = x->queued;
        t->n_free_x--;
        struct co_buf body = x->body;
        memset(x, 0, sizeof *x);
        x->body = body;
    } else {
        x = co_calloc(1, sizeof *x);
        co_buf_init(&x->body, BODY_CAP);
    }
    x->base.done = req_done;
    x->t = t;
    x->idx = idx;
    x->phase = ps->index;
    /* Which replica, in issue order (the spread's draws follow the schedule). */
    r->replica = pick_replica(t);
    x->next = t->live;
    if (t->live)
        t->live->prev = x;
    t->live = x;
    ps->inflight++;
    t->inflight++;
    if (f->concurrency > 0)
        r->t_sched = co_now_us(); /* closed loop: scheduled when issued */
    int cap = usable_cap(t, r->t_sched, co_now_us());
    if (t->active >= cap || t->queue_head) {
        /* Every connection it may use is busy (or others wait already, and
         * first come, first served).  At the pool's cap that is the
         * driver's saturation, counted as such: the driver, not the relay,
         * makes this request wait. */
        x->at_cap = t->active >= t->pool_cap;
        t->pool_waits += x->at_cap;
        if (t->queue_tail)
            t->queue_tail->queued = x;
        else
            t->queue_head = x;
        t->queue_tail = x;
        return;
    }
    start_xfer(t, x);
}

static int phase_over(struct harness_phase_state *ps, uint64_t at)
{
    const struct harness_phase *f = &ps->t->s->phases[ps->index];
    uint64_t start = ps->start;
    if (f->count && ps->issued >= f->count)
        return 1;
    if (f->duration_us && at >= start + f->duration_us)
        return 1;
    if (!f->count && !f->duration_us)
        return 1;
    if (ps->t->share_n && (size_t)ps->issued >= ps->t->room)
        return 1;
    return ps->t->n_reqs >= ps->t->cap;
}

/* Open loop: issue everything due, then sleep until the next arrival. */
static void phase_tick(struct harness_phase_state *ps)
{
    struct harness_traffic *t = ps->t;
    const struct harness_phase *f = &t->s->phases[ps->index];
    uint64_t now = co_now_us();
    if (f->concurrency > 0) {
        for (int i = 0; i < share_concurrency(t, f) && !ps->ended; i++)
            phase_next(ps);
        check_finished(t);
        return;
    }
    /* A worker passes over the other workers' requests at once (their
     * draws taken) and waits only for its own. */
    while (!ps->ended && (!own_req(t, ps->issued) || ps->next_sched <= now + 200)) {
        if (phase_over(ps, ps->next_sched)) {
            ps->ended = 1;
            break;
        }
        if (own_req(t, ps->issued))
            issue(ps, ps->next_sched);
        else
            skip_req(ps);
        double gap = 1e6 / f->rate_rps;
        if (f->arrival == HARNESS_ARRIVAL_POISSON)
            gap = -log(1.0 - co_rng_double(&t->rng)) * gap;
        /* Kept unrounded: whole µs per gap would run the schedule fast
         * (15,000 req/s is a 66.67 µs gap; 66 sent 15,151 req/s). */
        ps->next_offset += gap;
        ps->next_sched = ps->start + (uint64_t)llround(ps->next_offset);
    }
    if (!ps->ended && phase_over(ps, ps->next_sched))
        ps->ended = 1;
    if (ps->ended) {
        check_finished(t);
        return;
    }
    double wait = ((double)ps->next_sched - (double)co_now_us()) / 1e6;
    ev_timer_set(&ps->timer, wait > 0 ? wait : 0, 0);
    ev_timer_start(t->loop, &ps->timer);
}

/* Closed loop: one more request if the phase still runs. */
static void phase_next(struct harness_phase_state *ps)
{
    if (ps->ended)
        return;
    while (!own_req(ps->t, ps->issued))
        skip_req(ps);
    if (phase_over(ps, co_now_us())) {
        ps->ended = 1;
        return;
    }
    issue(ps, co_now_us());
}

static void on_phase_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    phase_tick(w->data);
}

int harness_traffic_pool_cap(void)
{
    struct rlimit rl;
    long cap = HARNESS_POOL_CAP;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        long room = ((long)rl.rlim_cur - 64) / 3;
        if (room < cap)
            cap = room > 4 ? room : 4;
    }
    return (int)cap;
}

void harness_traffic_init(struct harness_traffic *t, struct ev_loop *loop, struct co_evcurl *curl,
                          const struct harness_scenario *s, const char *base_url,
                          const char *id_prefix, uint64_t seed)
{
    memset(t, 0, sizeof *t);
    t->loop = loop;
    t->curl = curl;
    t->s = s;
    snprintf(t->base_url, sizeof t->base_url, "%s", base_url);
    snprintf(t->id_prefix, sizeof t->id_prefix, "%s", id_prefix);
    t->cap = HARNESS_MAX_REQUESTS;
    t->reqs = co_calloc(t->cap, sizeof *t->reqs);
    t->pool_cap = harness_traffic_pool_cap();
    t->spare = co_calloc((size_t)t->pool_cap, sizeof *t->spare);
    t->raw = co_calloc(t->cap, sizeof *t->raw);
    /* Connections stay open while idle (as many as the cap) and are reused
     * before a new one is opened; the headroom is for the runner's own
     * readiness probes and admin calls on the same multi. */
    curl_multi_setopt(curl->multi, CURLMOPT_MAXCONNECTS, (long)t->pool_cap + 16);
    curl_multi_setopt(curl->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)t->pool_cap + 16);
    t->seed = seed;
    co_rng_seed(&t->rng, seed);
    co_rng_seed(&t->pick, seed ^ 0x7e3d1a5bULL); /* apart from arrivals: adding a template
                                                  * changes no arrival time */
    for (int i = 0; i < s->n_phases; i++) {
        t->ph[i].t = t;
        t->ph[i].index = i;
        ev_timer_init(&t->ph[i].timer, on_phase_timer, 0, 0);
        t->ph[i].timer.data = &t->ph[i];
    }
}

void harness_traffic_set_cap(struct harness_traffic *t, size_t n)
{
    free(t->reqs);
    free(t->raw);
    t->cap = n;
    t->reqs = co_calloc(n, sizeof *t->reqs);
    t->raw = co_calloc(n, sizeof *t->raw);
}

/* ---- driver threads --------------------------------------------------------- */

/* One worker of a threaded phase: a traffic of its own (its log, pool and
 * generators) on its own loop, curl multi handle and thread.  Between
 * pthread_create and pthread_join the thread alone touches t, loop and
 * curl; the coordinator only sets cmd (then wakes it) and reads done.
 * A worker sends nothing until told to go, which it is once every thread
 * of the phase has started: a phase whose threads could not all start is
 * sent by the coordinator alone, none of it twice. */
enum { WORKER_WAIT, WORKER_GO, WORKER_STOP };
struct harness_worker {
    struct harness_traffic t;
    struct ev_loop *loop;
    struct co_evcurl curl;
    ev_async stop;
    pthread_t th;
    int running; /* the thread was made (joined once) */
    struct harness_traffic *coord;
    atomic_int done;
    atomic_int cmd; /* WORKER_* */
    int phase;      /* the one it sends */
};

static void worker_finished(struct harness_traffic *t)
{
    ev_break(t->loop, EVBREAK_ALL);
}

static void on_worker_cmd(struct ev_loop *loop, ev_async *w, int revents)
{
    struct harness_worker *wk = w->data;
    if (atomic_load(&wk->cmd) == WORKER_STOP) {
        harness_traffic_stop(&wk->t);
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    struct harness_phase_state *ps = &wk->t.ph[wk->phase];
    if (ps->ended || ev_is_active(&ps->timer) || ps->issued)
        return; /* started already */
    double wait = ((double)ps->start - (double)co_now_us()) / 1e6;
    ev_timer_set(&ps->timer, wait > 0 ? wait : 0, 0);
    ev_timer_start(loop, &ps->timer);
}

static void *worker_main(void *arg)
{
    struct harness_worker *wk = arg;
    wk->t.cpu_start_us = thread_cpu_us();
    ev_run(wk->loop, 0);
    if (!wk->t.cpu_traffic_us) /* stopped before it finished */
        wk->t.cpu_traffic_us = thread_cpu_us() - wk->t.cpu_start_us;
    atomic_store(&wk->done, 1);
    ev_async_send(wk->coord->loop, &wk->coord->wake);
    return NULL;
}

static int cmp_merge(const void *a, const void *b)
{
    const struct harness_req *x = *(const struct harness_req *const *)a,
                             *y = *(const struct harness_req *const *)b;
    if (x->t_sched != y->t_sched)
        return x->t_sched < y->t_sched ? -1 : 1;
    return x < y ? -1 : x > y; /* one worker's in its own order */
}

/* Joins the workers of phase p (stopping them first when stop is set) and
 * appends their requests to t's log in schedule order, with their answers
 * still raw for harness_traffic_settle, and their pool figures to t's. */
static void join_workers(struct harness_traffic *t, int p, int stop)
{
    struct harness_worker *wks = t->wk[p];
    int n = t->n_wk[p];
    size_t total = 0;
    uint64_t peak = 0;
    for (int w = 0; w < n; w++) {
        if (stop && wks[w].running) {
            atomic_store(&wks[w].cmd, WORKER_STOP);
            ev_async_send(wks[w].loop, &wks[w].stop);
        }
    }
    for (int w = 0; w < n; w++) {
        if (wks[w].running)
            pthread_join(wks[w].th, NULL);
        wks[w].running = 0;
        total += wks[w].t.n_reqs;
    }
    if (t->n_reqs + total > t->cap) {
        /* Another phase ran beside this one: the log grows (zeroed tail). */
        size_t cap = t->n_reqs + total;
        t->reqs = co_realloc(t->reqs, cap * sizeof *t->reqs);
        t->raw = co_realloc(t->raw, cap * sizeof *t->raw);
        memset(t->raw + t->cap, 0, (cap - t->cap) * sizeof *t->raw);
        t->cap = cap;
    }
    struct harness_req **order = co_calloc(total ? total : 1, sizeof *order);
    struct harness_raw_body **raws = co_calloc(total ? total : 1, sizeof *raws);
    size_t k = 0;
    for (int w = 0; w < n; w++) {
        struct harness_traffic *wt = &wks[w].t;
        for (size_t i = 0; i < wt->n_reqs; i++)
            order[k++] = &wt->reqs[i];
        t->pool_waits += wt->pool_waits;
        if (wt->pool_wait_max_us > t->pool_wait_max_us)
            t->pool_wait_max_us = wt->pool_wait_max_us;
        t->connects += wt->connects;
        t->easies += wt->easies;
        peak += (uint64_t)wt->peak_active;
        t->cpu_workers_us += wt->cpu_traffic_us;
    }
    qsort(order, total, sizeof *order, cmp_merge);
    for (size_t i = 0; i < total; i++) {
        /* The worker that owns order[i], for its raw answer. */
        for (int w = 0; w < n; w++) {
            struct harness_traffic *wt = &wks[w].t;
            if (order[i] >= wt->reqs && order[i] < wt->reqs + wt->n_reqs) {
                raws[i] = &wt->raw[order[i] - wt->reqs];
                break;
            }
        }
        size_t idx = t->n_reqs++;
        t->reqs[idx] = *order[i];
        if (raws[i] && raws[i]->data) {
            t->raw[idx] = *raws[i];
            t->raw_bytes += raws[i]->len;
            raws[i]->data = NULL;
            raws[i]->len = 0;
        }
    }
    if (peak > (uint64_t)t->peak_active)
        t->peak_active = (int)peak;
    free(order);
    free(raws);
    for (int w = 0; w < n; w++) {
        harness_traffic_free(&wks[w].t);
        co_evcurl_cleanup(&wks[w].curl);
        ev_async_stop(wks[w].loop, &wks[w].stop);
        ev_loop_destroy(wks[w].loop);
    }
    free(wks);
    t->wk[p] = NULL;
    t->n_wk[p] = 0;
    struct harness_phase_state *ps = &t->ph[p];
    ps->ended = 1;
    ps->inflight--; /* the phase's placeholder (start_workers) */
    t->inflight--;
}

/* A worker is done: the phases all of whose workers are done are joined. */
static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    struct harness_traffic *t = w->data;
    for (int p = 0; p < t->s->n_phases; p++) {
        if (!t->wk[p])
            continue;
        int all = 1;
        for (int k = 0; k < t->n_wk[p]; k++)
            all &= atomic_load(&t->wk[p][k].done);
        if (all)
            join_workers(t, p, 0);
    }
    check_finished(t);
}

/* Phase p, due at start, sent by its workers: each made and started here
 * (before its thread runs, so nothing is shared while it does), the
 * phase's body templates made once here and copied (jansson's objects of
 * the scenario are touched by this thread only). */
static void start_workers(struct harness_phase_state *ps, uint64_t start)
{
    struct harness_traffic *t = ps->t;
    int p = ps->index;
    const struct harness_phase *f = &t->s->phases[p];
    int n = f->threads;
    if (f->concurrency > 0 && n > f->concurrency)
        n = f->concurrency; /* a worker with nothing in flight would send nothing */
    for (int k = 0; k < (f->n_tpl ? f->n_tpl : 1); k++)
        if (!f->n_tpl || !f->tpl[k].raw)
            (void)body_cached(t, p, k);
    if (!t->wake_on) {
        ev_async_init(&t->wake, on_wake);
        t->wake.data = t;
        ev_async_start(t->loop, &t->wake);
        t->wake_on = 1;
    }
    size_t room = t->cap > t->n_reqs ? t->cap - t->n_reqs : 0;
    struct harness_worker *wks = co_calloc((size_t)n, sizeof *wks);
    t->wk[p] = wks;
    t->n_wk[p] = n;
    ps->start = start;
    ps->inflight++; /* until join_workers: the phase is not over */
    t->inflight++;
    /* The workers' threads take no signal: the runner's loop handles them. */
    int started = 0;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int w = 0; w < n; w++) {
        struct harness_worker *wk = &wks[w];
        struct harness_traffic *wt = &wk->t;
        wk->coord = t;
        wk->phase = p;
        atomic_init(&wk->done, 0);
        wk->loop = ev_loop_new(EVFLAG_AUTO);
        if (!wk->loop || co_evcurl_init(&wk->curl, wk->loop, harness_xfer_dispatch, 0, 0) != 0) {
            /* No loop or multi handle (fds or memory ran out): the workers
             * made so far are dropped below, as for a thread that failed. */
            if (wk->loop)
                ev_loop_destroy(wk->loop);
            t->n_wk[p] = w;
            break;
        }
        harness_traffic_init(wt, wk->loop, &wk->curl, t->s, t->base_url, t->id_prefix, t->seed);
        harness_traffic_set_cap(wt, room / (size_t)n + 2);
        if (t->n_replicas > 0)
            harness_traffic_set_replicas(wt, (const char(*)[96])t->replica_url, t->n_replicas,
                                         t->spread, t->spread_seed);
        memcpy(wt->chat_path, t->chat_path, sizeof wt->chat_path);
        memcpy(wt->chat_method, t->chat_method, sizeof wt->chat_method);
        wt->secret = t->secret;
        for (int k = 0; k < HARNESS_MAX_TEMPLATES; k++)
            if (t->body_tpl[p][k])
                wt->body_tpl[p][k] = co_strdup(t->body_tpl[p][k]);
        wt->pool_cap = t->pool_cap / n > 4 ? t->pool_cap / n : 4;
        curl_multi_setopt(wk->curl.multi, CURLMOPT_MAXCONNECTS, (long)wt->pool_cap);
        curl_multi_setopt(wk->curl.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)wt->pool_cap);
        wt->share_n = n;
        wt->share_w = w;
        wt->room = room;
        wt->t0 = t->t0;
        wt->on_finished = worker_finished;
        for (int i = 0; i < t->s->n_phases; i++)
            wt->ph[i].ended = i != p;
        struct harness_phase_state *wps = &wt->ph[p];
        wps->start = wps->next_sched = start;
        wps->next_offset = 0;
        atomic_init(&wk->cmd, WORKER_WAIT);
        ev_async_init(&wk->stop, on_worker_cmd);
        wk->stop.data = wk;
        ev_async_start(wk->loop, &wk->stop);
        wk->running = pthread_create(&wk->th, NULL, worker_main, wk) == 0;
        started += wk->running;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (started < n) {
        /* No thread has sent anything yet: stop and drop them all, and
         * send the phase from this loop as if it had one thread. */
        fprintf(stderr,
                "cutover: phase %d: %d of %d driver threads could not start; sending it "
                "with one\n",
                p, n - started, n);
        join_workers(t, p, 1);
        t->ph[p].ended = 0;
        ps->start = ps->next_sched = start;
        ps->next_offset = 0;
        double wait = ((double)start - (double)co_now_us()) / 1e6;
        ev_timer_set(&ps->timer, wait > 0 ? wait : 0, 0);
        ev_timer_start(t->loop, &ps->timer);
        return;
    }
    for (int w = 0; w < n; w++) {
        atomic_store(&wks[w].cmd, WORKER_GO);
        ev_async_send(wks[w].loop, &wks[w].stop);
    }
}

static void arm_phase(struct harness_phase_state *ps, uint64_t start)
{
    const struct harness_phase *f = &ps->t->s->phases[ps->index];
    if (f->threads > 1 && !ps->t->share_n) {
        start_workers(ps, start);
        return;
    }
    ps->start = ps->next_sched = start;
    ps->next_offset = 0;
    double wait = ((double)start - (double)co_now_us()) / 1e6;
    ev_timer_set(&ps->timer, wait > 0 ? wait : 0, 0);
    ev_timer_start(ps->t->loop, &ps->timer);
}

void harness_traffic_start(struct harness_traffic *t, uint64_t t0)
{
    t->t0 = t0;
    t->cpu_start_us = thread_cpu_us();
    for (int i = 0; i < t->s->n_phases; i++)
        if (!t->s->phases[i].after_prev) /* those wait for their predecessor */
            arm_phase(&t->ph[i], t0 + t->s->phases[i].start_us);
}

void harness_traffic_stop(struct harness_traffic *t)
{
    for (int p = 0; p < t->s->n_phases; p++)
        if (t->wk[p])
            join_workers(t, p, 1);
    if (t->wake_on) {
        ev_async_stop(t->loop, &t->wake);
        t->wake_on = 0;
    }
    for (int i = 0; i < t->s->n_phases; i++) {
        ev_timer_stop(t->loop, &t->ph[i].timer);
        t->ph[i].ended = 1;
    }
    t->queue_head = t->queue_tail = NULL;
    while (t->live) {
        struct harness_xfer_req *x = t->live;
        if (x->added)
            co_evcurl_remove(t->curl, x->easy);
        snprintf(t->reqs[x->idx].curl_err, sizeof t->reqs[x->idx].curl_err,
                 x->added ? "aborted by the runner" : "never sent: the driver's pool was full");
        finish_req(x, x->easy, CURLE_ABORTED_BY_CALLBACK);
        curl_easy_cleanup(x->easy);
        unlink_xfer(t, x);
        if (x->added)
            t->active--;
        free_xfer(t, x);
        t->inflight--;
    }
    while (t->n_spare)
        curl_easy_cleanup(t->spare[--t->n_spare]);
    t->finished = 1;
    if (!t->share_n)
        harness_traffic_settle(t);
}

void harness_traffic_free(struct harness_traffic *t)
{
    if (t->s)
        harness_traffic_stop(t);
    free(t->reqs);
    t->reqs = NULL;
    free(t->spare);
    t->spare = NULL;
    free(t->raw);
    t->raw = NULL;
    for (int i = 0; i < HARNESS_MAX_PHASES; i++) {
        for (int k = 0; k < HARNESS_MAX_TEMPLATES; k++) {
            free(t->body_tpl[i][k]);
            t->body_tpl[i][k] = NULL;
            curl_slist_free_all(t->hdr_tpl[i][k]);
            t->hdr_tpl[i][k] = NULL;
        }
    }
    for (int i = 0; i < t->n_url_tpl; i++)
        curl_url_cleanup(t->url_tpl[i].u);
    t->n_url_tpl = 0;
    while (t->free_x) {
        struct harness_xfer_req *x = t->free_x;
        t->free_x = x->queued;
        co_buf_free(&x->body);
        free(x);
    }
    t->n_free_x = 0;
}
