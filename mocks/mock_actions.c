/* The action table.  Each action type is one row: its name, the fields it
 * accepts, a parser for them, and a pure function that turns the normal
 * answer (already in the plan) into this action's answer.  mock_server.c
 * carries a plan out on the socket without knowing which action made it, so
 * adding an action is adding a row here.
 *
 * "Chunks" are SSE events: the role delta is chunk 0, then one per token,
 * the finish chunk, the usage chunk, and [DONE].  A fault placed after N
 * chunks on a non-streamed request happens after half of the body (or
 * exactly after_bytes when given). */
#include "mock_int.h"

#include "co_json.h"
#include "co_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PATH_LEN 256

static const char *const kind_names[MOCK_ACT_COUNT + 1] = {"ok",
                                                           "status",
                                                           "timeout",
                                                           "reset",
                                                           "close",
                                                           "stall",
                                                           "cut",
                                                           "inband_error",
                                                           "malformed",
                                                           "slow",
                                                           "echo_auth",
                                                           "no_done",
                                                           "hold_body",
                                                           "insert_malformed",
                                                           "finish_without_done",
                                                           "headers_then_silence",
                                                           "silence_then_close",
                                                           "duplicate_chunk",
                                                           "error_in_200",
                                                           "drip",
                                                           "hop_headers",
                                                           NULL};

static int need_positive(const json_t *o, const char *path, const char *key, char *err,
                         size_t errlen)
{
    char p[PATH_LEN];
    snprintf(p, sizeof p, "%s.%s", path, key);
    return mock_v_expect(err, errlen, p, "an integer >= 0 (required)", json_object_get(o, key));
}

/* ---- parsers ---------------------------------------------------------------- */

static int parse_none(const json_t *o, const char *path, struct mock_action *a, char *err,
                      size_t errlen)
{
    return 0;
}

static int parse_rl_headers(const json_t *v, const char *path, struct mock_rl_headers *h, char *err,
                            size_t errlen)
{
    static const char *const keys[] = {"limit_requests",
                                       "remaining_requests",
                                       "reset_requests",
                                       "limit_tokens",
                                       "remaining_tokens",
                                       "reset_tokens",
                                       NULL};
    if (!json_is_object(v))
        return mock_v_expect(err, errlen, path, "object of x-ratelimit-* values", v);
    if (mock_v_keys(v, path, keys, err, errlen) ||
        mock_v_long(v, path, "limit_requests", 0, 1L << 40, &h->limit_requests, err, errlen) ||
        mock_v_long(v, path, "remaining_requests", 0, 1L << 40, &h->remaining_requests, err,
                    errlen) ||
        mock_v_long(v, path, "limit_tokens", 0, 1L << 40, &h->limit_tokens, err, errlen) ||
        mock_v_long(v, path, "remaining_tokens", 0, 1L << 40, &h->remaining_tokens, err, errlen) ||
        mock_v_header_value(v, path, "reset_requests", h->reset_requests, sizeof h->reset_requests,
                            err, errlen) ||
        mock_v_header_value(v, path, "reset_tokens", h->reset_tokens, sizeof h->reset_tokens, err,
                            errlen))
        return -1;
    h->present = 1;
    return 0;
}

static int parse_status(const json_t *o, const char *path, struct mock_action *a, char *err,
                        size_t errlen)
{
    json_t *v;
    a->code = -1;
    if (mock_v_long(o, path, "code", 100, 599, &(long){0}, err, errlen))
        return -1;
    if (!json_is_integer(json_object_get(o, "code"))) {
        char p[PATH_LEN];
        mock_path(p, sizeof p, path, ".code");
        return mock_v_expect(err, errlen, p, "an integer in [100, 599] (required)",
                             json_object_get(o, "code"));
    }
    a->code = (int)json_integer_value(json_object_get(o, "code"));
    if (mock_v_string(o, path, "error_code", a->error_code, sizeof a->error_code, err, errlen) ||
        mock_v_string(o, path, "message", a->message, sizeof a->message, err, errlen) ||
        mock_v_double(o, path, "retry_after_s", 0, 86400, &a->retry_after_s, err, errlen) ||
        mock_v_long(o, path, "retry_after_ms", 0, 86400000, &a->retry_after_ms, err, errlen) ||
        mock_v_long(o, path, "retry_after_date_s", 0, 86400, &a->retry_after_date_s, err, errlen))
        return -1;
    /* Both would be one Retry-After header: say which is meant. */
    if (json_object_get(o, "retry_after_s") && json_object_get(o, "retry_after_date_s"))
        return mock_v_fail(err, errlen, path,
                           "expected retry_after_s or retry_after_date_s, found both");
    if ((v = json_object_get(o, "ratelimit"))) {
        char p[PATH_LEN];
        mock_path(p, sizeof p, path, ".ratelimit");
        return parse_rl_headers(v, p, &a->rl, err, errlen);
    }
    return 0;
}

static int parse_timeout(const json_t *o, const char *path, struct mock_action *a, char *err,
                         size_t errlen)
{
    return mock_v_long(o, path, "after_ms", 0, 3600000, &a->after_ms, err, errlen);
}

static int parse_reset(const json_t *o, const char *path, struct mock_action *a, char *err,
                       size_t errlen)
{
    if (json_object_get(o, "after_chunks") && json_object_get(o, "after_bytes"))
        return mock_v_fail(err, errlen, path, "expected after_chunks or after_bytes, found both");
    return mock_v_long(o, path, "after_chunks", 0, MOCK_MAX_TOKENS + 8, &a->after_chunks, err,
                       errlen) ||
           mock_v_long(o, path, "after_bytes", 0, 1L << 30, &a->after_bytes, err, errlen);
}

/* What a stall or a hold does when its time is up: "close" or "continue"
 * (the "then" field, already read into then). */
static int set_then(const json_t *o, const char *path, const char *then, struct mock_action *a,
                    char *err, size_t errlen)
{
    if (strcmp(then, "close") != 0 && strcmp(then, "continue") != 0) {
        char p[PATH_LEN];
        mock_path(p, sizeof p, path, ".then");
        return mock_v_expect(err, errlen, p, "\"close\" or \"continue\"",
                             json_object_get(o, "then"));
    }
    a->then_continue = strcmp(then, "continue") == 0;
    return 0;
}

static int parse_stall(const json_t *o, const char *path, struct mock_action *a, char *err,
                       size_t errlen)
{
    char then[16] = "close";
    a->after_chunks = 1;
    if (mock_v_long(o, path, "after_chunks", 0, MOCK_MAX_TOKENS + 8, &a->after_chunks, err,
                    errlen) ||
        mock_v_long(o, path, "stall_ms", 0, 3600000, &a->stall_ms, err, errlen) ||
        mock_v_string(o, path, "then", then, sizeof then, err, errlen))
        return -1;
    if (!json_object_get(o, "stall_ms"))
        return need_positive(o, path, "stall_ms", err, errlen);
    return set_then(o, path, then, a, err, errlen);
}

/* hold_body: the headers at once, then no body byte for hold_ms (a
 * provider that answers 200 and then thinks); then the body, or a close. */
static int parse_hold_body(const json_t *o, const char *path, struct mock_action *a, char *err,
                           size_t errlen)
{
    char then[16] = "continue";
    if (mock_v_long(o, path, "hold_ms", 0, 3600000, &a->stall_ms, err, errlen) ||
        mock_v_string(o, path, "then", then, sizeof then, err, errlen))
        return -1;
    if (!json_object_get(o, "hold_ms"))
        return need_positive(o, path, "hold_ms", err, errlen);
    return set_then(o, path, then, a, err, errlen);
}

static int parse_cut(const json_t *o, const char *path, struct mock_action *a, char *err,
                     size_t errlen)
{
    a->after_chunks = 1;
    return mock_v_long(o, path, "after_chunks", 0, MOCK_MAX_TOKENS + 8, &a->after_chunks, err,
                       errlen) ||
           mock_v_bool(o, path, "broken_framing", &a->broken_framing, err, errlen);
}

static int parse_inband(const json_t *o, const char *path, struct mock_action *a, char *err,
                        size_t errlen)
{
    a->after_chunks = 1;
    return mock_v_long(o, path, "after_chunks", 0, MOCK_MAX_TOKENS + 8, &a->after_chunks, err,
                       errlen) ||
           mock_v_string(o, path, "message", a->message, sizeof a->message, err, errlen) ||
           mock_v_string(o, path, "code", a->error_code, sizeof a->error_code, err, errlen);
}

static int parse_malformed(const json_t *o, const char *path, struct mock_action *a, char *err,
                           size_t errlen)
{
    char what[16] = "json";
    a->at = 1;
    if (mock_v_string(o, path, "what", what, sizeof what, err, errlen) ||
        mock_v_long(o, path, "at", 0, MOCK_MAX_TOKENS + 8, &a->at, err, errlen))
        return -1;
    if (strcmp(what, "json") == 0)
        a->malformed = MOCK_MAL_JSON;
    else if (strcmp(what, "sse_event") == 0)
        a->malformed = MOCK_MAL_SSE_EVENT;
    else if (strcmp(what, "html") == 0)
        a->malformed = MOCK_MAL_HTML;
    else {
        char p[PATH_LEN];
        mock_path(p, sizeof p, path, ".what");
        return mock_v_expect(err, errlen, p, "\"json\", \"sse_event\" or \"html\"",
                             json_object_get(o, "what"));
    }
    return 0;
}

static int parse_slow(const json_t *o, const char *path, struct mock_action *a, char *err,
                      size_t errlen)
{
    a->ttft_ms = 500;
    a->gap_ms = 50;
    return mock_v_long(o, path, "ttft_ms", 0, 3600000, &a->ttft_ms, err, errlen) ||
           mock_v_long(o, path, "gap_ms", 0, 600000, &a->gap_ms, err, errlen);
}

static int parse_echo_auth(const json_t *o, const char *path, struct mock_action *a, char *err,
                           size_t errlen)
{
    long code = 401;
    if (mock_v_long(o, path, "code", 100, 599, &code, err, errlen))
        return -1;
    a->code = (int)code;
    return 0;
}

/* insert_malformed and duplicate_chunk: the stream position "at" (default 1,
 * the first content chunk). */
static int parse_at(const json_t *o, const char *path, struct mock_action *a, char *err,
                    size_t errlen)
{
    a->at = 1;
    return mock_v_long(o, path, "at", 0, MOCK_MAX_TOKENS + 8, &a->at, err, errlen);
}

/* headers_then_silence: how long the mock keeps the silent connection open
 * before it closes it itself (the bound when the client never gives up). */
static int parse_headers_then_silence(const json_t *o, const char *path, struct mock_action *a,
                                      char *err, size_t errlen)
{
    a->stall_ms = 300000;
    return mock_v_long(o, path, "max_ms", 1, 3600000, &a->stall_ms, err, errlen);
}

static int parse_silence_then_close(const json_t *o, const char *path, struct mock_action *a,
                                    char *err, size_t errlen)
{
    a->after_ms = 1000;
    return mock_v_long(o, path, "after_ms", 0, 3600000, &a->after_ms, err, errlen);
}

static int parse_error_in_200(const json_t *o, const char *path, struct mock_action *a, char *err,
                              size_t errlen)
{
    return mock_v_string(o, path, "message", a->message, sizeof a->message, err, errlen) ||
           mock_v_string(o, path, "code", a->error_code, sizeof a->error_code, err, errlen) ||
           mock_v_string(o, path, "error_type", a->error_type, sizeof a->error_type, err, errlen);
}

static int parse_drip(const json_t *o, const char *path, struct mock_action *a, char *err,
                      size_t errlen)
{
    a->bytes_per_s = 100;
    return mock_v_long(o, path, "bytes_per_s", 1, 100000000, &a->bytes_per_s, err, errlen);
}

/* ---- plans -------------------------------------------------------------------- */

static void drop_events(struct mock_plan *p)
{
    for (size_t i = 0; i < p->nevents; i++)
        free(p->events[i]);
    free(p->events);
    p->events = NULL;
    p->nevents = 0;
    p->streamed = 0;
}

static void set_body(struct mock_plan *p, char *body)
{
    drop_events(p);
    free(p->body);
    p->body = body;
    p->body_len = strlen(body);
}

/* Where a mid-body fault lands: after N pieces, or inside a single body. */
static void place_fault(struct mock_plan *p, int fault, long after_chunks, long after_bytes)
{
    p->fault = fault;
    if (after_chunks < 0 && after_bytes < 0) {
        p->fault_at_piece = -1;
        return;
    }
    if (after_bytes >= 0)
        p->fault_at_byte = after_bytes;
    else if (p->streamed)
        p->fault_at_piece = after_chunks;
    else
        p->fault_at_byte = (long)(p->body_len / 2);
}

static void plan_ok(const struct mock_action *a, struct mock_plan *p)
{
}

static void plan_status(const struct mock_action *a, struct mock_plan *p)
{
    p->status = a->code;
    p->content_type = "application/json";
    set_body(p, mock_status_body(a->code, a->error_code, a->message));
    if (a->retry_after_s >= 0)
        snprintf(p->retry_after, sizeof p->retry_after, "%g", a->retry_after_s);
    if (a->retry_after_ms >= 0)
        snprintf(p->retry_after_ms, sizeof p->retry_after_ms, "%ld", a->retry_after_ms);
    if (a->retry_after_date_s >= 0) {
        p->retry_after_date = 1;
        p->retry_after_date_s = a->retry_after_date_s;
    }
    if (a->rl.present)
        p->rl = a->rl;
}

static void plan_timeout(const struct mock_action *a, struct mock_plan *p)
{
    if (a->after_ms < 0) {
        p->fault = MOCK_FAULT_NEVER;
        p->fault_at_piece = -1;
        p->end = "timeout";
    } else {
        p->extra_delay_us = (uint64_t)a->after_ms * 1000;
    }
}

static void plan_reset(const struct mock_action *a, struct mock_plan *p)
{
    place_fault(p, MOCK_FAULT_RESET, a->after_chunks, a->after_bytes);
}

static void plan_close(const struct mock_action *a, struct mock_plan *p)
{
    place_fault(p, MOCK_FAULT_CLOSE, -1, -1);
}

static void plan_stall(const struct mock_action *a, struct mock_plan *p)
{
    place_fault(p, MOCK_FAULT_STALL, a->after_chunks, -1);
    p->stall_us = (uint64_t)a->stall_ms * 1000;
    p->stall_continue = a->then_continue;
}

/* A stall before the first body byte: headers go out, the body waits. */
static void plan_hold_body(const struct mock_action *a, struct mock_plan *p)
{
    place_fault(p, MOCK_FAULT_STALL, -1, 0);
    p->stall_us = (uint64_t)a->stall_ms * 1000;
    p->stall_continue = a->then_continue;
}

/* A complete stream (its finish_reason chunk, its usage chunk) that ends
 * cleanly without the final "data: [DONE]", as some providers do.  A
 * non-streamed answer is left alone. */
static void plan_no_done(const struct mock_action *a, struct mock_plan *p)
{
    if (!p->streamed || p->nevents == 0)
        return;
    free(p->events[p->nevents - 1]);
    p->events[--p->nevents] = NULL;
}

static void plan_cut(const struct mock_action *a, struct mock_plan *p)
{
    place_fault(p, a->broken_framing ? MOCK_FAULT_CUT_BROKEN : MOCK_FAULT_CUT, a->after_chunks, -1);
}

static void plan_inband(const struct mock_action *a, struct mock_plan *p)
{
    const char *msg = a->message[0] ? a->message
                                    : "The server had an error while processing "
                                      "your request. Sorry about that!";
    const char *code = a->error_code[0] ? a->error_code : "server_error";
    if (!p->streamed) {
        /* A 200 whose body is an error: what some gateways do. */
        set_body(p, co_openai_error(msg, "server_error", NULL, code));
        return;
    }
    size_t at = (size_t)a->after_chunks < p->nevents ? (size_t)a->after_chunks : p->nevents;
    for (size_t i = at; i < p->nevents; i++)
        free(p->events[i]);
    p->nevents = at + 1;
    p->events[at] = mock_sse_error_event(msg, code);
    p->fault = MOCK_FAULT_CUT;
    p->fault_at_piece = (long)at + 1;
}

static void plan_malformed(const struct mock_action *a, struct mock_plan *p)
{
    if (a->malformed == MOCK_MAL_HTML) {
        set_body(p, co_strdup("<html><head><title>502 Bad Gateway</title></head><body>"
                              "<center><h1>502 Bad Gateway</h1></center></body></html>\n"));
        p->content_type = "text/html";
        return;
    }
    if (!p->streamed) {
        /* The first half of the real body: valid start, invalid JSON. */
        p->body_len /= 2;
        p->body[p->body_len] = '\0';
        return;
    }
    size_t at = (size_t)a->at < p->nevents ? (size_t)a->at : p->nevents - 1;
    free(p->events[at]);
    p->events[at] = co_strdup("data: {\"id\":\"chatcmpl-broken\",\"choices\":[{\"delta\":\n\n");
}

static void plan_slow(const struct mock_action *a, struct mock_plan *p)
{
    p->ttft_us = (uint64_t)a->ttft_ms * 1000;
    p->gap_us = (uint64_t)a->gap_ms * 1000;
}

/* echo_auth: the Authorization header the request carried, sent back in
 * every field a client of the mock's caller could see: a response header,
 * the Content-Type, and the body (an error message for a non-2xx code; the
 * reply text for a 2xx, split between two SSE writes in the middle of the
 * value when streamed).  What a careless upstream does ("Incorrect API key
 * provided: Bearer sk-..."): a relay must not pass its key on. */
static void plan_echo_auth(const struct mock_action *a, struct mock_plan *p)
{
    const char *auth = p->authorization ? p->authorization : "";
    p->echo_header = auth;
    static char ctype[640]; /* one request plans at a time (single loop) */
    snprintf(ctype, sizeof ctype, "application/json; echo=\"%.600s\"", auth);
    if (a->code < 200 || a->code > 299) {
        p->status = a->code;
        char msg[700];
        snprintf(msg, sizeof msg, "Incorrect API key provided: %.600s", auth);
        set_body(p, mock_status_body(a->code, "invalid_api_key", msg));
        p->content_type = ctype;
        return;
    }
    p->status = a->code;
    if (!p->streamed) {
        json_t *j = json_loads(p->body ? p->body : "", 0, NULL);
        json_t *msg = json_object_get(json_array_get(json_object_get(j, "choices"), 0), "message");
        if (msg) {
            json_object_set_new(msg, "content", co_json_str(auth));
            set_body(p, json_dumps(j, JSON_COMPACT));
        }
        json_decref(j);
        p->content_type = ctype;
        return;
    }
    snprintf(ctype, sizeof ctype, "text/event-stream; echo=\"%.600s\"", auth);
    p->content_type = ctype;
    /* The event after the role chunk carries the value, cut in two. */
    json_t *ev =
        json_pack("{s:s, s:s, s:i, s:s, s:[{s:i, s:{s:o}, s:n}]}", "id", "chatcmpl-echo", "object",
                  "chat.completion.chunk", "created", 0, "model", "echo", "choices", "index", 0,
                  "delta", "content", co_json_str(auth), "finish_reason");
    char *js = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    char *full = co_asprintf("data: %s\n\n", js ? js : "{}");
    free(js);
    const char *at = *auth ? strstr(full, auth) : NULL;
    size_t cut = at ? (size_t)(at - full) + strlen(auth) / 2 : strlen(full) / 2;
    size_t pos = p->nevents > 1 ? 1 : p->nevents;
    p->events = co_realloc(p->events, (p->nevents + 2) * sizeof *p->events);
    memmove(p->events + pos + 2, p->events + pos, (p->nevents - pos) * sizeof *p->events);
    p->events[pos] = co_strndup(full, cut);
    p->events[pos + 1] = co_strdup(full + cut);
    p->nevents += 2;
    free(full);
}

/* The index of the stream's finish_reason chunk (the first event whose
 * finish_reason is a string), or nevents when there is none. */
static size_t finish_chunk(const struct mock_plan *p)
{
    for (size_t i = 0; i < p->nevents; i++)
        if (strstr(p->events[i], "\"finish_reason\":\""))
            return i;
    return p->nevents;
}

/* Content chunks are 1 .. finish-1 (chunk 0 is the role delta). */
static size_t content_chunk(const struct mock_plan *p, long at)
{
    size_t fin = finish_chunk(p);
    if (fin <= 1)
        return 0; /* no content chunk */
    if (at < 1)
        return 1;
    return (size_t)at < fin ? (size_t)at : fin - 1;
}

static void insert_event(struct mock_plan *p, size_t at, char *ev)
{
    p->events = co_realloc(p->events, (p->nevents + 1) * sizeof *p->events);
    memmove(p->events + at + 1, p->events + at, (p->nevents - at) * sizeof *p->events);
    p->events[at] = ev;
    p->nevents++;
}

/* A broken event inserted before chunk "at" (clamped to the stream); every
 * good event is still sent, so no token is lost, unlike malformed. */
static void plan_insert_malformed(const struct mock_action *a, struct mock_plan *p)
{
    if (!p->streamed || p->nevents == 0)
        return;
    size_t at = (size_t)a->at < p->nevents ? (size_t)a->at : p->nevents - 1;
    insert_event(p, at,
                 co_strdup("data: {\"id\":\"chatcmpl-broken\",\"choices\":[{\"delta\":\n\n"));
}

/* The stream ends cleanly right after its finish_reason chunk: no usage
 * chunk (even when include_usage asked for one) and no [DONE]. */
static void plan_finish_without_done(const struct mock_action *a, struct mock_plan *p)
{
    if (!p->streamed)
        return;
    size_t fin = finish_chunk(p);
    if (fin >= p->nevents)
        return;
    for (size_t i = fin + 1; i < p->nevents; i++) {
        free(p->events[i]);
        p->events[i] = NULL;
    }
    p->nevents = fin + 1;
}

/* Status and headers at once, then not a byte: the mock closes only after
 * max_ms (or when the client leaves first). */
static void plan_headers_then_silence(const struct mock_action *a, struct mock_plan *p)
{
    place_fault(p, MOCK_FAULT_STALL, -1, 0);
    p->stall_us = (uint64_t)a->stall_ms * 1000;
    p->stall_continue = 0;
    p->end = "silence";
}

/* Accept and read the request, answer nothing, close (FIN) after after_ms. */
static void plan_silence_then_close(const struct mock_action *a, struct mock_plan *p)
{
    place_fault(p, MOCK_FAULT_CLOSE, -1, -1);
    p->extra_delay_us = (uint64_t)a->after_ms * 1000;
}

/* Content chunk "at" (clamped to the content chunks) sent twice in a row. */
static void plan_duplicate_chunk(const struct mock_action *a, struct mock_plan *p)
{
    if (!p->streamed)
        return;
    size_t at = content_chunk(p, a->at);
    if (at == 0)
        return;
    insert_event(p, at + 1, co_strdup(p->events[at]));
}

/* A 200 whose whole body is an OpenAI error object; streamed, a 200
 * event-stream whose only event is that error object, then a clean end. */
static void plan_error_in_200(const struct mock_action *a, struct mock_plan *p)
{
    const char *msg = a->message[0] ? a->message
                                    : "The server had an error while processing "
                                      "your request. Sorry about that!";
    const char *code = a->error_code[0] ? a->error_code : "server_error";
    const char *type = a->error_type[0] ? a->error_type : "server_error";
    char *e = co_openai_error(msg, type, NULL, code);
    p->status = 200;
    if (!p->streamed) {
        set_body(p, e);
        p->content_type = "application/json";
        return;
    }
    for (size_t i = 0; i < p->nevents; i++)
        free(p->events[i]);
    p->events[0] = co_asprintf("data: %s\n\n", e);
    p->nevents = 1;
    free(e);
}

static void plan_drip(const struct mock_action *a, struct mock_plan *p)
{
    p->drip_bps = (uint64_t)a->bytes_per_s;
}

/* A normal answer whose headers also name headers for this hop only: a
 * proxy drops what Connection names (RFC 9110 7.6.1). */
static void plan_hop_headers(const struct mock_action *a, struct mock_plan *p)
{
    p->hop_headers = 1;
}

static const char *const k_none[] = {"type", NULL};
static const char *const k_status[] = {"type",
                                       "code",
                                       "error_code",
                                       "message",
                                       "retry_after_s",
                                       "retry_after_ms",
                                       "retry_after_date_s",
                                       "ratelimit",
                                       NULL};
static const char *const k_timeout[] = {"type", "after_ms", NULL};
static const char *const k_reset[] = {"type", "after_chunks", "after_bytes", NULL};
static const char *const k_stall[] = {"type", "after_chunks", "stall_ms", "then", NULL};
static const char *const k_cut[] = {"type", "after_chunks", "broken_framing", NULL};
static const char *const k_inband[] = {"type", "after_chunks", "message", "code", NULL};
static const char *const k_malformed[] = {"type", "what", "at", NULL};
static const char *const k_slow[] = {"type", "ttft_ms", "gap_ms", NULL};
static const char *const k_echo_auth[] = {"type", "code", NULL};
static const char *const k_hold_body[] = {"type", "hold_ms", "then", NULL};
static const char *const k_at[] = {"type", "at", NULL};
static const char *const k_silence[] = {"type", "max_ms", NULL};
static const char *const k_silence_close[] = {"type", "after_ms", NULL};
static const char *const k_error_in_200[] = {"type", "message", "code", "error_type", NULL};
static const char *const k_drip[] = {"type", "bytes_per_s", NULL};

static const struct mock_action_kind kinds[MOCK_ACT_COUNT] = {
    [MOCK_ACT_OK] = {"ok", parse_none, plan_ok, k_none},
    [MOCK_ACT_STATUS] = {"status", parse_status, plan_status, k_status},
    [MOCK_ACT_TIMEOUT] = {"timeout", parse_timeout, plan_timeout, k_timeout},
    [MOCK_ACT_RESET] = {"reset", parse_reset, plan_reset, k_reset},
    [MOCK_ACT_CLOSE] = {"close", parse_none, plan_close, k_none},
    [MOCK_ACT_STALL] = {"stall", parse_stall, plan_stall, k_stall},
    [MOCK_ACT_CUT] = {"cut", parse_cut, plan_cut, k_cut},
    [MOCK_ACT_INBAND_ERROR] = {"inband_error", parse_inband, plan_inband, k_inband},
    [MOCK_ACT_MALFORMED] = {"malformed", parse_malformed, plan_malformed, k_malformed},
    [MOCK_ACT_SLOW] = {"slow", parse_slow, plan_slow, k_slow},
    [MOCK_ACT_ECHO_AUTH] = {"echo_auth", parse_echo_auth, plan_echo_auth, k_echo_auth},
    [MOCK_ACT_NO_DONE] = {"no_done", parse_none, plan_no_done, k_none},
    [MOCK_ACT_HOLD_BODY] = {"hold_body", parse_hold_body, plan_hold_body, k_hold_body},
    [MOCK_ACT_INSERT_MALFORMED] = {"insert_malformed", parse_at, plan_insert_malformed, k_at},
    [MOCK_ACT_FINISH_WITHOUT_DONE] = {"finish_without_done", parse_none, plan_finish_without_done,
                                      k_none},
    [MOCK_ACT_HEADERS_THEN_SILENCE] = {"headers_then_silence", parse_headers_then_silence,
                                       plan_headers_then_silence, k_silence},
    [MOCK_ACT_SILENCE_THEN_CLOSE] = {"silence_then_close", parse_silence_then_close,
                                     plan_silence_then_close, k_silence_close},
    [MOCK_ACT_DUPLICATE_CHUNK] = {"duplicate_chunk", parse_at, plan_duplicate_chunk, k_at},
    [MOCK_ACT_ERROR_IN_200] = {"error_in_200", parse_error_in_200, plan_error_in_200,
                               k_error_in_200},
    [MOCK_ACT_DRIP] = {"drip", parse_drip, plan_drip, k_drip},
    [MOCK_ACT_HOP_HEADERS] = {"hop_headers", parse_none, plan_hop_headers, k_none},
};

const char *const *mock_action_names(void)
{
    return kind_names;
}

const struct mock_action_kind *mock_action_kind(int type)
{
    return type >= 0 && type < MOCK_ACT_COUNT ? &kinds[type] : &kinds[MOCK_ACT_OK];
}

const struct mock_action_kind *mock_action_find(const char *name)
{
    for (int i = 0; i < MOCK_ACT_COUNT; i++)
        if (strcmp(kinds[i].name, name) == 0)
            return &kinds[i];
    return NULL;
}

void mock_action_default(struct mock_action *a, int type)
{
    memset(a, 0, sizeof *a);
    a->type = type;
    a->code = 200;
    a->retry_after_s = -1;
    a->retry_after_ms = -1;
    a->retry_after_date_s = -1;
    a->rl.limit_requests = a->rl.remaining_requests = -1;
    a->rl.limit_tokens = a->rl.remaining_tokens = -1;
    a->after_ms = -1;
    a->after_chunks = -1;
    a->after_bytes = -1;
    a->ttft_ms = a->gap_ms = -1;
}

int mock_action_parse(const json_t *j, const char *path, struct mock_action *a, char *err,
                      size_t errlen)
{
    char p[PATH_LEN];
    if (!json_is_object(j))
        return mock_v_expect(err, errlen, path, "action object {\"type\": ...}", j);
    json_t *t = json_object_get(j, "type");
    mock_path(p, sizeof p, path, ".type");
    if (!json_is_string(t))
        return mock_v_expect(err, errlen, p, "action type string", t);
    const struct mock_action_kind *kind = mock_action_find(json_string_value(t));
    if (!kind) {
        const char *near = co_nearest(json_string_value(t), kind_names);
        if (near)
            return mock_v_fail(err, errlen, p, "unknown action type \"%s\", did you mean '%s'?",
                               json_string_value(t), near);
        char list[512] = "";
        for (const char *const *k = kind_names; *k; k++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                     k == kind_names ? "" : ", ", *k);
        return mock_v_fail(err, errlen, p, "unknown action type \"%s\"; expected one of: %s",
                           json_string_value(t), list);
    }
    int type = (int)(kind - kinds);
    mock_action_default(a, type);
    if (mock_v_keys(j, path, kinds[type].keys, err, errlen))
        return -1;
    return kinds[type].parse(j, path, a, err, errlen);
}

/* A sequence item: "ok", a status code as a string ("503"), an action type
 * name with its defaults ("reset"), or a full action object. */
int mock_action_parse_item(const json_t *j, const char *path, struct mock_action *a, char *err,
                           size_t errlen)
{
    if (json_is_object(j))
        return mock_action_parse(j, path, a, err, errlen);
    if (json_is_integer(j) && json_integer_value(j) >= 100 && json_integer_value(j) <= 599) {
        mock_action_default(a, MOCK_ACT_STATUS);
        a->code = (int)json_integer_value(j);
        return 0;
    }
    if (!json_is_string(j))
        return mock_v_expect(err, errlen, path,
                             "\"ok\", a status code such as \"503\", an action "
                             "type name or an action object",
                             j);
    const char *s = json_string_value(j);
    char *end;
    long code = strtol(s, &end, 10);
    if (*s && !*end) {
        if (code < 100 || code > 599)
            return mock_v_expect(err, errlen, path, "status code in [100, 599]", j);
        mock_action_default(a, MOCK_ACT_STATUS);
        a->code = (int)code;
        return 0;
    }
    const struct mock_action_kind *k = mock_action_find(s);
    if (!k) {
        const char *near = co_nearest(s, kind_names);
        if (near)
            return mock_v_fail(err, errlen, path,
                               "unknown sequence item \"%s\", did you mean '%s'?", s, near);
        return mock_v_expect(err, errlen, path,
                             "\"ok\", a status code such as \"503\" or an action type name", j);
    }
    /* Types whose required fields have no default cannot stand alone. */
    int type = (int)(k - kinds);
    if (type == MOCK_ACT_STATUS || type == MOCK_ACT_STALL || type == MOCK_ACT_HOLD_BODY)
        return mock_v_fail(err, errlen, path, "\"%s\" needs fields: write it as an action object",
                           s);
    json_t *o = json_pack("{s:s}", "type", s);
    int rc = mock_action_parse(o, path, a, err, errlen);
    json_decref(o);
    return rc;
}

void mock_plan_apply(const struct mock_action *a, struct mock_plan *p)
{
    mock_action_kind(a->type)->plan(a, p);
}

/* The names are spelled out: strftime's %a and %b follow the locale, and
 * RFC 9110 wants the English ones. */
void mock_http_date(int64_t t, char *buf, size_t n)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) {
        snprintf(buf, n, "Thu, 01 Jan 1970 00:00:00 GMT");
        return;
    }
    snprintf(buf, n, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void mock_plan_free(struct mock_plan *p)
{
    drop_events(p);
    free(p->body);
    p->body = NULL;
}
