/* Client request and upstream SSE parsing (see relay_parse.h).  Nothing here
 * touches a socket or a clock. */
#include "relay_parse.h"

#include "co_json.h"
#include "co_mem.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int relay_content_type_ok(const char *ctype)
{
    if (!ctype)
        return 1;
    while (*ctype == ' ' || *ctype == '\t')
        ctype++;
    size_t n = strcspn(ctype, "; \t");
    if (n == 0)
        return 1;
    if (n == 16 && strncasecmp(ctype, "application/json", 16) == 0)
        return 1;
    /* application/vnd.something+json */
    return n > 17 && strncasecmp(ctype, "application/", 12) == 0 &&
           strncasecmp(ctype + n - 5, "+json", 5) == 0;
}

static int refuse(struct relay_parse_err *e, int status, const char *param, const char *code,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int refuse(struct relay_parse_err *e, int status, const char *param, const char *code,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    e->param = param;
    e->code = code;
    return status;
}

int relay_parse_request(const char *ctype, const char *body, size_t len, int api_chat,
                        struct relay_parsed_req *out, struct relay_parse_err *e)
{
    memset(out, 0, sizeof *out);
    if (!relay_content_type_ok(ctype)) {
        char shown[64];
        size_t n = strcspn(ctype, ";");
        /* Printable bytes only: the value is echoed into a JSON message. */
        size_t k = 0;
        for (size_t i = 0; i < n && k < sizeof shown - 1; i++)
            shown[k++] =
                (unsigned char)ctype[i] >= 0x20 && (unsigned char)ctype[i] < 0x7f ? ctype[i] : '?';
        shown[k] = 0;
        return refuse(e, 415, NULL, "unsupported_media_type",
                      "Unsupported Content-Type '%s': send the request body as application/json",
                      shown);
    }
    json_error_t je;
    json_t *j = co_json_scratch_loadb(body ? body : "", len, 0, &je);
    if (!j)
        return refuse(e, 400, NULL, "invalid_json",
                      "We could not parse the JSON body of your request: %d:%d: %s", je.line,
                      je.column, je.text);
    int rc = 0;
    const char *bad = NULL;
    json_t *model = json_object_get(j, "model"), *stream = json_object_get(j, "stream");
    if (!json_is_object(j))
        bad = "body";
    else if (model && !json_is_string(model))
        bad = "model";
    else if (stream && !json_is_boolean(stream) && !json_is_null(stream))
        bad = "stream";
    else if (api_chat && !json_is_string(json_object_get(j, "message")))
        bad = "message";
    if (bad) {
        rc = refuse(e, 400, strcmp(bad, "body") == 0 ? NULL : bad, "invalid_value",
                    "Invalid value for '%s': expected %s", bad,
                    strcmp(bad, "body") == 0     ? "a JSON object"
                    : strcmp(bad, "stream") == 0 ? "a boolean"
                                                 : "a string");
        goto out;
    }
    out->stream = json_is_true(stream);
    /* Cut on a character boundary: the model becomes a metrics label and
     * an event field, which must stay valid UTF-8. */
    const char *mv = model ? json_string_value(model) : "";
    co_utf8_clean(mv, strlen(mv), out->model, sizeof out->model);
    if (api_chat) {
        /* The seed's /api/chat: {message, model, context} becomes a chat
         * completion with context as the system message. */
        const char *m = out->model[0] ? out->model : "gpt-4.1";
        const char *ctx = json_string_value(json_object_get(j, "context"));
        json_t *msgs = json_array();
        if (ctx && *ctx)
            json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system", "content", ctx));
        json_array_append_new(msgs, json_pack("{s:s, s:O}", "role", "user", "content",
                                              json_object_get(j, "message")));
        /* The model as the client sent it, not the cut copy. */
        json_t *fwd = json_pack(
            "{s:o, s:o}", "model",
            out->model[0] ? json_stringn(json_string_value(model), json_string_length(model))
                          : json_string(m),
            "messages", msgs);
        json_t *user = json_object_get(j, "user");
        if (json_is_string(user))
            json_object_set(fwd, "user", user);
        out->fwd_body = json_dumps(fwd, JSON_COMPACT);
        json_decref(fwd);
        snprintf(out->model, sizeof out->model, "%s", m);
        out->stream = 0;
    }
out:
    co_json_scratch_end(j);
    return rc;
}

void relay_sse_init(struct relay_sse *s)
{
    s->last = NULL;
    s->line = NULL;
    s->capline = 0;
    s->data = NULL;
    s->capdata = 0;
    relay_sse_reset(s);
}

void relay_sse_reset(struct relay_sse *s)
{
    s->nline = 0;
    s->ndata = 0;
    s->has_data = s->ev_open = s->cr = 0;
    s->ntail = 0;
    s->done_seen = 0;
    s->last_pos = 0;
    s->last_total = 0;
}

void relay_sse_free(struct relay_sse *s)
{
    free(s->last);
    s->last = NULL;
    free(s->line);
    s->line = NULL;
    s->capline = s->nline = 0;
    free(s->data);
    s->data = NULL;
    s->capdata = s->ndata = 0;
}

static void ring_put(struct relay_sse *s, const char *p, size_t n)
{
    if (!s->last)
        s->last = co_malloc(RELAY_SSE_LAST);
    s->last_total += n;
    if (n >= RELAY_SSE_LAST) {
        memcpy(s->last, p + n - RELAY_SSE_LAST, RELAY_SSE_LAST);
        s->last_pos = 0;
        return;
    }
    size_t k = RELAY_SSE_LAST - s->last_pos < n ? RELAY_SSE_LAST - s->last_pos : n;
    memcpy(s->last + s->last_pos, p, k);
    memcpy(s->last, p + k, n - k);
    s->last_pos = (s->last_pos + n) % RELAY_SSE_LAST;
}

static int finish_in(const char *p, size_t n)
{
    static const char key[] = "\"finish_reason\"";
    const size_t kl = sizeof key - 1;
    const char *end = p + n;
    /* The next key may start at this one's closing quote ("finish_reason"
     * ends with the quote it begins with), hence kl - 1. */
    for (const char *k = memmem(p, n, key, kl); k;
         k = memmem(k + kl - 1, (size_t)(end - (k + kl - 1)), key, kl)) {
        const char *v = k + kl;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        if (v >= end || *v != ':')
            continue;
        for (v++; v < end && (*v == ' ' || *v == '\t'); v++)
            ;
        if (v < end && *v == '"')
            return 1;
    }
    return 0;
}

int relay_sse_finished(const struct relay_sse *s)
{
    char buf[RELAY_SSE_LAST];
    size_t n = s->last_total < RELAY_SSE_LAST ? (size_t)s->last_total : RELAY_SSE_LAST;
    if (n == 0)
        return 0;
    if (n < RELAY_SSE_LAST) {
        memcpy(buf, s->last, n);
    } else {
        /* Oldest first: from the write position to the end, then the rest. */
        memcpy(buf, s->last + s->last_pos, RELAY_SSE_LAST - s->last_pos);
        memcpy(buf + RELAY_SSE_LAST - s->last_pos, s->last, s->last_pos);
    }
    return finish_in(buf, n);
}

void relay_sse_scan(struct relay_sse *s, const char *p, size_t n)
{
    static const char *const marks[] = {"data: [DONE]", "data:[DONE]"};
    ring_put(s, p, n);
    if (s->done_seen)
        return;
    /* A mark split across chunks has at most 11 bytes on each side. */
    char join[48];
    size_t head = n < 16 ? n : 16;
    memcpy(join, s->tail, s->ntail);
    memcpy(join + s->ntail, p, head);
    for (int i = 0; i < 2 && !s->done_seen; i++) {
        size_t ml = strlen(marks[i]);
        if (memmem(join, s->ntail + head, marks[i], ml) || memmem(p, n, marks[i], ml))
            s->done_seen = 1;
    }
    if (n >= 15) {
        memcpy(s->tail, p + n - 15, 15);
        s->ntail = 15;
    } else {
        size_t keep = s->ntail + n > 15 ? 15 - n : s->ntail;
        memmove(s->tail, s->tail + s->ntail - keep, keep);
        memcpy(s->tail + keep, p, n);
        s->ntail = keep + n;
    }
}

/* An ended event's data (without the last "\n"): a JSON object or [DONE]. */
static int event_ok(const char *d, size_t n)
{
    if (n == 6 && memcmp(d, "[DONE]", 6) == 0)
        return 1;
    json_error_t e;
    json_t *j = co_json_scratch_loadb(d, n, 0, &e);
    int ok = json_is_object(j);
    co_json_scratch_end(j);
    return ok;
}

/* Appends n bytes to buf (*len of *cap), within RELAY_SSE_MAX_LINE. */
static int put(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (n == 0)
        return 0; /* an empty value ("data:"): *buf may not exist yet */
    if (*len + n > RELAY_SSE_MAX_LINE)
        return -1;
    if (*len + n > *cap) {
        *cap = *len + n < 256 ? 256 : *len + n;
        *buf = co_realloc(*buf, *cap);
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    return 0;
}

/* One whole line, without its line end.  Returns 0, 1 when it ended a good
 * event, -1 when it ended (or overfilled) a bad one. */
static int sse_line(struct relay_sse *s, const char *l, size_t n)
{
    if (n == 0) {
        int ok = !s->has_data || event_ok(s->data, s->ndata - 1);
        s->ndata = 0;
        s->has_data = s->ev_open = 0;
        return ok ? 1 : -1;
    }
    if (*l == ':' || n < 4 || memcmp(l, "data", 4) != 0 || (n > 4 && l[4] != ':'))
        return 0; /* a comment, or a field that is not data */
    const char *v = n > 4 ? l + 5 : l + n;
    size_t vl = (size_t)(l + n - v);
    if (vl && *v == ' ')
        v++, vl--;
    s->has_data = 1;
    if (put(&s->data, &s->ndata, &s->capdata, v, vl) != 0 ||
        put(&s->data, &s->ndata, &s->capdata, "\n", 1) != 0)
        return -1;
    return 0;
}

int relay_sse_check(struct relay_sse *s, const char *p, size_t n, size_t *good)
{
    size_t i = 0, ev_start = 0;
    int early = s->ev_open; /* the open event began in an earlier chunk */
    if (s->cr && n) {
        if (p[0] == '\n')
            i = 1; /* the LF of a CRLF split across chunks */
        s->cr = 0;
    }
    while (i < n) {
        const char *nl = memchr(p + i, '\n', n - i);
        size_t span = nl ? (size_t)(nl - (p + i)) : n - i;
        const char *cr = memchr(p + i, '\r', span);
        const char *eol = cr ? cr : nl;
        if (!s->ev_open && !s->nline && (!eol || eol > p + i)) {
            s->ev_open = 1; /* a line that is not blank opens an event */
            ev_start = i;
        }
        if (!eol) {
            /* The rest begins (or continues) a line that ends later. */
            if (put(&s->line, &s->nline, &s->capline, p + i, n - i) != 0)
                goto bad;
            break;
        }
        size_t len = (size_t)(eol - (p + i));
        int r;
        if (s->nline) {
            if (put(&s->line, &s->nline, &s->capline, p + i, len) != 0)
                goto bad;
            r = sse_line(s, s->line, s->nline);
            s->nline = 0;
        } else {
            r = sse_line(s, p + i, len);
        }
        if (r < 0)
            goto bad;
        if (r > 0)
            early = 0;
        i += len + 1;
        if (*eol == '\r') {
            if (i < n && p[i] == '\n')
                i++;
            else if (i == n)
                s->cr = 1;
        }
    }
    *good = n;
    return 0;
bad:
    *good = early ? 0 : ev_start;
    return -1;
}
