/* Proxy mode (`--upstream URL`): a request no rule claims is forwarded to a
 * real upstream with libcurl's multi interface on the mock's own loop
 * (co_evcurl), and the answer streams back as it arrives.  A rule that fires
 * still answers locally, so faults can be laid over real traffic.
 *
 * Flow control: the upstream's body is buffered up to PROXY_HIGH bytes; past
 * it the transfer pauses (CURL_WRITEFUNC_PAUSE) until the client side drains
 * the buffer below half of it. */
#include "mock_int.h"

#include "co_evcurl.h"
#include "co_mem.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PROXY_HIGH        (1024 * 1024)
#define PROXY_MAX_HEADERS 32

struct mock_proxy {
    struct co_evcurl curl;
    char *base; /* no trailing slash */
};

struct mock_xfer {
    struct mock_proxy *p;
    CURL *easy;
    struct curl_slist *req_headers;
    struct mock_xfer_cb cb;
    void *ctx;
    long status;
    int head_sent, done, ok, paused, running;
    char err[CURL_ERROR_SIZE];
    struct mock_header hdrs[PROXY_MAX_HEADERS];
    size_t nhdrs;
    struct co_buf buf;
    size_t off; /* consumed part of buf */
};

static void xfer_done(struct co_evcurl *c, CURL *easy, CURLcode rc)
{
    struct mock_xfer *x = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    if (!x)
        return;
    x->running = 0;
    x->done = 1;
    x->ok = rc == CURLE_OK;
    if (!x->ok && !x->err[0])
        mock_scopy(x->err, sizeof x->err, curl_easy_strerror(rc));
    if (!x->head_sent) {
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &x->status);
        x->head_sent = 1;
        if (x->ok)
            x->cb.on_head(x->ctx, x->status);
    }
    x->cb.on_done(x->ctx, x->ok);
}

struct mock_proxy *mock_proxy_new(struct ev_loop *loop, const char *base, char *err, size_t errlen)
{
    if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) {
        snprintf(err, errlen, "upstream URL must start with http:// or https://, found '%s'", base);
        return NULL;
    }
    struct mock_proxy *p = co_calloc(1, sizeof *p);
    p->base = co_strdup(base);
    size_t n = strlen(p->base);
    while (n && p->base[n - 1] == '/')
        p->base[--n] = '\0';
    if (co_evcurl_init(&p->curl, loop, xfer_done, 0, 0) != 0) {
        snprintf(err, errlen, "cannot start libcurl");
        free(p->base);
        free(p);
        return NULL;
    }
    return p;
}

void mock_proxy_free(struct mock_proxy **pp)
{
    struct mock_proxy *p = *pp;
    if (!p)
        return;
    co_evcurl_cleanup(&p->curl);
    free(p->base);
    free(p);
    *pp = NULL;
}

/* Response headers a client of an OpenAI-compatible API acts on. */
static int keep_header(const char *name, size_t n)
{
    static const char *const exact[] = {"content-type", "retry-after",    "retry-after-ms",
                                        "x-request-id", "x-should-retry", NULL};
    static const char *const prefix[] = {"x-ratelimit-", "openai-", NULL};
    for (const char *const *e = exact; *e; e++)
        if (strlen(*e) == n && strncasecmp(*e, name, n) == 0)
            return 1;
    for (const char *const *e = prefix; *e; e++)
        if (n > strlen(*e) && strncasecmp(*e, name, strlen(*e)) == 0)
            return 1;
    return 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct mock_xfer *x = ud;
    size_t len = size * nmemb;
    if (len <= 2 && (data[0] == '\r' || data[0] == '\n')) {
        long st = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &st);
        if (st >= 200 && !x->head_sent) { /* 1xx interim answers are not the head */
            x->status = st;
            x->head_sent = 1;
            x->cb.on_head(x->ctx, st);
        } else if (st < 200) {
            x->nhdrs = 0;
        }
        return len;
    }
    const char *colon = memchr(data, ':', len);
    if (!colon || x->nhdrs == PROXY_MAX_HEADERS || !keep_header(data, (size_t)(colon - data)))
        return len;
    const char *v = colon + 1, *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    struct mock_header *h = &x->hdrs[x->nhdrs++];
    size_t nl =
        (size_t)(colon - data) < sizeof h->name - 1 ? (size_t)(colon - data) : sizeof h->name - 1;
    memcpy(h->name, data, nl);
    h->name[nl] = '\0';
    size_t vl = (size_t)(end - v) < sizeof h->value - 1 ? (size_t)(end - v) : sizeof h->value - 1;
    memcpy(h->value, v, vl);
    h->value[vl] = '\0';
    return len;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    struct mock_xfer *x = ud;
    size_t len = size * nmemb;
    if (x->buf.len - x->off + len > PROXY_HIGH) {
        x->paused = 1;
        return CURL_WRITEFUNC_PAUSE;
    }
    co_buf_append(&x->buf, data, len);
    x->cb.on_data(x->ctx);
    return len;
}

struct mock_xfer *mock_proxy_start(struct mock_proxy *p, const char *method, const char *path,
                                   const char *body, size_t body_len, const struct mock_xfer_cb *cb,
                                   void *ctx)
{
    struct mock_xfer *x = co_calloc(1, sizeof *x);
    char *url = co_asprintf("%s%s", p->base, path);
    x->p = p;
    x->cb = *cb;
    x->ctx = ctx;
    co_buf_init(&x->buf, 0);
    x->easy = curl_easy_init();
    curl_easy_setopt(x->easy, CURLOPT_URL, url);
    free(url);
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, method);
    if (body_len || strcmp(method, "POST") == 0) {
        /* POSTFIELDS borrows: the caller keeps body until mock_xfer_free. */
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->err);
    curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    return x;
}

void mock_xfer_header(struct mock_xfer *x, const char *name, const char *value)
{
    struct mock_header h; /* the bounds of a header the mock keeps */
    char line[sizeof h.name + sizeof h.value + 2];
    snprintf(line, sizeof line, "%.*s: %.*s", (int)sizeof h.name - 1, name, (int)sizeof h.value - 1,
             value);
    x->req_headers = curl_slist_append(x->req_headers, line);
}

void mock_xfer_send(struct mock_xfer *x)
{
    /* No 100-continue round trip, and no compressed body we would pass on raw. */
    x->req_headers = curl_slist_append(x->req_headers, "Expect:");
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->req_headers);
    x->running = 1;
    co_evcurl_add(&x->p->curl, x->easy);
}

long mock_xfer_status(const struct mock_xfer *x)
{
    return x->status;
}

const struct mock_header *mock_xfer_headers(const struct mock_xfer *x, size_t *n)
{
    *n = x->nhdrs;
    return x->hdrs;
}

const char *mock_xfer_error(const struct mock_xfer *x)
{
    return x->err;
}

ssize_t mock_xfer_read(struct mock_xfer *x, char *out, size_t max)
{
    size_t avail = x->buf.len - x->off;
    size_t n = avail < max ? avail : max;
    if (n) {
        memcpy(out, x->buf.data + x->off, n);
        x->off += n;
    }
    if (x->off == x->buf.len) {
        co_buf_reset(&x->buf);
        x->off = 0;
    } else if (x->off > PROXY_HIGH / 2) {
        memmove(x->buf.data, x->buf.data + x->off, x->buf.len - x->off);
        x->buf.len -= x->off;
        x->off = 0;
    }
    if (x->paused && x->buf.len - x->off < PROXY_HIGH / 2) {
        x->paused = 0;
        curl_easy_pause(x->easy, CURLPAUSE_CONT); /* may deliver data at once */
    }
    if (n)
        return (ssize_t)n;
    return x->done ? (x->ok ? -1 : -2) : 0;
}

void mock_xfer_free(struct mock_xfer **px)
{
    struct mock_xfer *x = *px;
    if (!x)
        return;
    if (x->running)
        co_evcurl_remove(&x->p->curl, x->easy);
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->req_headers);
    co_buf_free(&x->buf);
    free(x);
    *px = NULL;
}
