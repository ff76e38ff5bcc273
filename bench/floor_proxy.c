/* floor-proxy: the smallest honest reverse proxy on cutover's mandated stack,
 * built to measure the floor under the relay's performance targets (issue 3).
 *
 * One thread, one libev loop.  libmicrohttpd runs in external epoll mode
 * (common/co_evhttp) and suspends the client connection while the upstream
 * answers; libcurl's multi interface (common/co_evcurl) sends the upstream
 * request on a pooled easy handle over its connection cache.  It forwards
 * POST /v1/chat/completions (body, Content-Type, an Authorization header of
 * its own) to one upstream URL and relays status, Content-Type and body back.
 * No retries, no metrics, no per-request logging: whatever this costs, the
 * relay cannot cost less on the same libraries.
 *
 *   floor-proxy --upstream URL [--port N] [--json none|request|both]
 *               [--api-key KEY] [--knob NAME=0|1|N ...]
 *
 * --json request parses the request body with jansson (json_loadb, then
 * json_decref), as the relay's validation does; both also parses every 2xx
 * answer, as the relay's answer check does.  A body that is not JSON gets a
 * 400 (request) or a 502 (answer) in the OpenAI error shape.
 *
 * The knobs (table `knobs` below) are the tuning options of libcurl and
 * libmicrohttpd under test; each defaults to its tuned value, so
 * `--knob curlu=0` measures what CURLOPT_CURLU saves.  The exception is
 * no_date, off by default: a server with a clock must send Date (RFC 9110
 * 6.6.1), and co_evhttp has no way to pass the flag.  bench/floor.sh runs
 * the sweep and docs/bench-floor.md has the results.
 *
 * Prints "floor-proxy listening on http://127.0.0.1:PORT" once ready (what
 * bench/relay.sh's wait_url greps for); SIGTERM or SIGINT stops it cleanly
 * (callgrind and strace summaries are written at exit). */
#include "co_buf.h"
#include "co_evcurl.h"
#include "co_evhttp.h"
#include "co_json.h"
#include "co_mem.h"

#include <curl/curl.h>
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FLOOR_PATH       "/v1/chat/completions"
#define FLOOR_BODY_MAX   (1024 * 1024) /* request and answer bodies, each */
#define FLOOR_POOL_MAX   1024          /* idle requests (with their easy handles) kept */
#define FLOOR_TIMEOUT_MS 30000L        /* bounds an upstream that never answers */

enum floor_json { FLOOR_JSON_NONE, FLOOR_JSON_REQUEST, FLOOR_JSON_BOTH };

/* The tuning knobs.  Each is 0/1 unless said otherwise; the defaults are
 * the tuned values (see floor_knobs_default). */
struct floor_knobs {
    int curlu;        /* CURLOPT_CURLU with the URL parsed once, not CURLOPT_URL */
    int url_once;     /* set the URL once per easy handle, not per request (the relay's way) */
    int noproxy;      /* CURLOPT_PROXY "": no proxy environment lookups per transfer */
    int noproxy_list; /* CURLOPT_NOPROXY "*": no no_proxy environment lookups either */
    int nopipe;       /* CURLMOPT_PIPELINING off (no multiplex checks in the cache) */
    int http11;       /* CURLOPT_HTTP_VERSION 1.1 (no HTTP/2 upgrade logic) */
    int no_accept;    /* drop curl's default "Accept: * / *" request header */
    long bufsize;     /* CURLOPT_BUFFERSIZE in bytes, 0 = curl's default (16 KiB) */
    int reuse;        /* pool easy handles (and request structs) across requests */
    int info_ctype;   /* Content-Type from CURLINFO_CONTENT_TYPE, not a header callback */
    int inline_go;    /* after curl_multi_add_handle, run curl's timeout now rather
                         than from a zero ev_timer on the next loop iteration */
    long mhd_mem;     /* MHD_OPTION_CONNECTION_MEMORY_LIMIT in bytes */
    int turbo;        /* MHD_USE_TURBO */
    int persistent;   /* answer with MHD_RESPMEM_PERSISTENT (the pooled buffer) not a copy */
    int no_date;      /* MHD_USE_SUPPRESS_DATE_NO_CLOCK (needs a daemon started here) */
};

struct floor;

/* One proxied request.  Pooled with its easy handle: the options that do
 * not change (callbacks, headers list, URL) are set once per handle. */
struct floor_req {
    struct floor *f;
    struct MHD_Connection *conn;
    CURL *easy;
    struct MHD_Response *response; /* ready to queue once resumed */
    int started, in_flight, suspended, too_big;
    long status;
    struct co_buf body; /* request body, FLOOR_BODY_MAX at most */
    struct co_buf resp; /* answer body, likewise */
    char ctype[128];    /* the answer's Content-Type (header-callback mode) */
    /* Upstream headers as list nodes inside the request: no per-request
     * curl_slist_append (and its mallocs).  hdr[0] is the Content-Type. */
    char hdr_ctype[160];
    struct curl_slist hdr[3];
    struct floor_req *next_free;
    struct floor_req *prev, *next; /* live requests, for the shutdown */
};

struct floor {
    struct ev_loop *loop;
    struct co_evhttp http;
    struct co_evcurl curl;
    ev_signal sigterm, sigint;
    enum floor_json json;
    struct floor_knobs k;
    const char *upstream;
    CURLU *url; /* parsed once (knob curlu) */
    char auth[256];
    struct floor_req *free_reqs;
    size_t nfree;
    struct floor_req *live;
    int stopping; /* no new upstream transfers: answer 503 */
};

/* ---- knobs ------------------------------------------------------------------ */

static void floor_knobs_default(struct floor_knobs *k)
{
    *k = (struct floor_knobs){
        .curlu = 1,
        .url_once = 1,
        .noproxy = 1,
        .noproxy_list = 1,
        .nopipe = 1,
        .http11 = 1,
        .no_accept = 1,
        .bufsize = 0,
        .reuse = 1,
        .info_ctype = 1,
        .inline_go = 1,
        .mhd_mem = 4096,
        .turbo = 1,
        .persistent = 1,
        .no_date = 0,
    };
}

struct floor_knob_def {
    const char *name;
    size_t off;
    int is_long;
    long min, max;
};

/* clang-format off */
#define KNOB_INT(n)         {#n, offsetof(struct floor_knobs, n), 0, 0, 1}
#define KNOB_LONG(n, lo, h) {#n, offsetof(struct floor_knobs, n), 1, lo, h}

static const struct floor_knob_def knobs[] = {
    KNOB_INT(curlu),
    KNOB_INT(url_once),
    KNOB_INT(noproxy),
    KNOB_INT(noproxy_list),
    KNOB_INT(nopipe),
    KNOB_INT(http11),
    KNOB_INT(no_accept),
    KNOB_LONG(bufsize, 0, CURL_MAX_READ_SIZE),
    KNOB_INT(reuse),
    KNOB_INT(info_ctype),
    KNOB_INT(inline_go),
    KNOB_LONG(mhd_mem, 1024, 1024 * 1024),
    KNOB_INT(turbo),
    KNOB_INT(persistent),
    KNOB_INT(no_date),
};
/* clang-format on */
#define NKNOBS (sizeof knobs / sizeof knobs[0])

/* "name=value" into k.  Returns 0, or -1 with a message in err. */
static int floor_knob_set(struct floor_knobs *k, const char *arg, char *err, size_t errlen)
{
    const char *eq = strchr(arg, '=');
    size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
    const char *names[NKNOBS + 1];
    names[NKNOBS] = NULL;
    for (size_t i = 0; i < NKNOBS; i++) {
        names[i] = knobs[i].name;
        if (strlen(knobs[i].name) != n || strncmp(knobs[i].name, arg, n) != 0)
            continue;
        char *end;
        errno = 0;
        long v = eq ? strtol(eq + 1, &end, 10) : 1;
        if (errno || (eq && (end == eq + 1 || *end)) || v < knobs[i].min || v > knobs[i].max) {
            snprintf(err, errlen, "knob %s takes a number in [%ld, %ld]", knobs[i].name,
                     knobs[i].min, knobs[i].max);
            return -1;
        }
        char *p = (char *)k + knobs[i].off;
        if (knobs[i].is_long)
            *(long *)p = v;
        else
            *(int *)p = (int)v;
        return 0;
    }
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(n < 63 ? n : 63), arg);
    const char *near = co_nearest(name, names);
    snprintf(err, errlen, "unknown knob '%s'%s%s%s", name, near ? " (did you mean '" : "",
             near ? near : "", near ? "'?)" : "");
    return -1;
}

/* ---- requests ----------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct floor_req *q = ud;
    size_t len = size * n;
    if (co_buf_append(&q->resp, p, len) != 0)
        return 0; /* curl fails the transfer: CURLE_WRITE_ERROR, answered 502 */
    return len;
}

/* Only in knob info_ctype=0: what a proxy that reads headers itself pays. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct floor_req *q = ud;
    size_t len = size * n;
    if (len > 13 && strncasecmp(p, "content-type:", 13) == 0) {
        size_t i = 13, e = len;
        while (i < e && (p[i] == ' ' || p[i] == '\t'))
            i++;
        while (e > i && (p[e - 1] == '\r' || p[e - 1] == '\n' || p[e - 1] == ' '))
            e--;
        snprintf(q->ctype, sizeof q->ctype, "%.*s", (int)(e - i), p + i);
    }
    return len;
}

/* The options that stay the same for every request on this handle. */
static void easy_setup(struct floor *f, struct floor_req *q)
{
    CURL *e = q->easy;
    const struct floor_knobs *k = &f->k;
    curl_easy_setopt(e, CURLOPT_PRIVATE, q);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, FLOOR_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
    if (!k->info_ctype) {
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, q);
    }
    if (k->noproxy)
        curl_easy_setopt(e, CURLOPT_PROXY, "");
    if (k->noproxy_list)
        curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    if (k->http11)
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    if (k->bufsize)
        curl_easy_setopt(e, CURLOPT_BUFFERSIZE, k->bufsize);
    q->hdr[0] = (struct curl_slist){q->hdr_ctype, &q->hdr[1]};
    q->hdr[1] = (struct curl_slist){f->auth, k->no_accept ? &q->hdr[2] : NULL};
    q->hdr[2] = (struct curl_slist){(char *)"Accept:", NULL};
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, &q->hdr[0]);
    if (k->url_once) {
        if (k->curlu)
            curl_easy_setopt(e, CURLOPT_CURLU, f->url);
        else
            curl_easy_setopt(e, CURLOPT_URL, f->upstream);
    }
}

static struct floor_req *req_get(struct floor *f, struct MHD_Connection *c)
{
    struct floor_req *q = f->free_reqs;
    if (q) {
        f->free_reqs = q->next_free;
        f->nfree--;
    } else {
        q = co_calloc(1, sizeof *q);
        q->f = f;
        co_buf_init(&q->body, FLOOR_BODY_MAX);
        co_buf_init(&q->resp, FLOOR_BODY_MAX);
        q->easy = curl_easy_init();
        if (!q->easy) {
            free(q);
            return NULL;
        }
        easy_setup(f, q);
    }
    q->conn = c;
    q->prev = NULL;
    q->next = f->live;
    if (f->live)
        f->live->prev = q;
    f->live = q;
    return q;
}

static void req_put(struct floor *f, struct floor_req *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else
        f->live = q->next;
    if (q->next)
        q->next->prev = q->prev;
    if (q->response)
        MHD_destroy_response(q->response);
    q->response = NULL;
    q->conn = NULL;
    q->started = q->in_flight = q->suspended = q->too_big = 0;
    co_buf_reset(&q->body);
    co_buf_reset(&q->resp);
    q->ctype[0] = 0;
    if (f->k.reuse && f->nfree < FLOOR_POOL_MAX) {
        q->next_free = f->free_reqs;
        f->free_reqs = q;
        f->nfree++;
        return;
    }
    curl_easy_cleanup(q->easy);
    co_buf_free(&q->body);
    co_buf_free(&q->resp);
    free(q);
}

/* Make the answer ready: queued at once when the handler is running, or
 * after the resume otherwise. */
static void req_answer(struct floor_req *q, unsigned status, const char *ctype, const char *body,
                       size_t len, int persistent)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, (void *)body, persistent ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_COPY);
    if (ctype && *ctype)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    q->response = r;
    q->status = (long)status;
}

static void req_error(struct floor_req *q, unsigned status, const char *msg, const char *type,
                      const char *code)
{
    char *body = co_openai_error(msg, type, NULL, code);
    req_answer(q, status, "application/json", body, strlen(body), 0);
    free(body);
}

static void on_xfer_done(struct co_evcurl *c, CURL *easy, CURLcode rc)
{
    struct floor *f = c->data;
    struct floor_req *q = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&q);
    q->in_flight = 0;
    if (rc != CURLE_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "upstream failed: %s", curl_easy_strerror(rc));
        req_error(q, 502, msg, "upstream_error", "upstream_unavailable");
    } else {
        long status = 0;
        char *ct = NULL;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        if (f->k.info_ctype)
            curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ct);
        else
            ct = q->ctype;
        json_t *j = NULL;
        if (f->json == FLOOR_JSON_BOTH && status >= 200 && status < 300 &&
            !(j = json_loadb(q->resp.data ? q->resp.data : "", q->resp.len, 0, NULL))) {
            req_error(q, 502, "upstream answer is not JSON", "upstream_error",
                      "invalid_upstream_response");
        } else {
            req_answer(q, (unsigned)(status >= 100 && status <= 999 ? status : 502), ct,
                       q->resp.data ? q->resp.data : "", q->resp.len, f->k.persistent);
        }
        json_decref(j);
    }
    if (q->suspended) {
        q->suspended = 0;
        MHD_resume_connection(q->conn);
        co_evhttp_kick(&f->http);
    }
}

/* Hands the request to curl and suspends the client connection. */
static void req_forward(struct floor *f, struct floor_req *q)
{
    CURL *e = q->easy;
    const char *ct = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Content-Type");
    snprintf(q->hdr_ctype, sizeof q->hdr_ctype, "Content-Type: %s", ct ? ct : "application/json");
    if (!f->k.url_once) {
        if (f->k.curlu)
            curl_easy_setopt(e, CURLOPT_CURLU, f->url);
        else
            curl_easy_setopt(e, CURLOPT_URL, f->upstream);
    }
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, q->body.data ? q->body.data : "");
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body.len);
    q->in_flight = 1;
    co_evcurl_add(&f->curl, e);
    if (f->k.inline_go) {
        /* Not inside a curl callback here, so curl may run now: the
         * connection is taken from the cache and the request written in
         * this loop iteration.  A transfer that failed at once is over. */
        curl_multi_socket_action(f->curl.multi, CURL_SOCKET_TIMEOUT, 0, &f->curl.running);
        co_evcurl_check(&f->curl);
    }
    if (!q->response) {
        MHD_suspend_connection(q->conn);
        q->suspended = 1;
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct floor *f = cls;
    struct floor_req *q = *con_cls;
    if (!q) {
        q = req_get(f, c);
        if (!q)
            return MHD_NO;
        *con_cls = q;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!q->too_big && co_buf_append(&q->body, upload_data, n) != 0)
            q->too_big = 1;
        return MHD_YES;
    }
    if (!q->started) {
        q->started = 1;
        if (strcmp(method, MHD_HTTP_METHOD_POST) != 0 || strcmp(url, FLOOR_PATH) != 0) {
            req_error(q, 404, "floor-proxy serves POST " FLOOR_PATH " only",
                      "invalid_request_error", "unknown_url");
        } else if (f->stopping) {
            req_error(q, 503, "floor-proxy is stopping", "server_error", "shutting_down");
        } else if (q->too_big) {
            req_error(q, 413, "request body exceeds 1 MiB", "invalid_request_error",
                      "request_too_large");
        } else if (f->json != FLOOR_JSON_NONE) {
            json_t *j = json_loadb(q->body.data ? q->body.data : "", q->body.len, 0, NULL);
            if (!j)
                req_error(q, 400, "request body is not JSON", "invalid_request_error",
                          "invalid_json");
            json_decref(j);
        }
        if (!q->response)
            req_forward(f, q);
    }
    if (q->response) {
        enum MHD_Result ret = MHD_queue_response(c, (unsigned)q->status, q->response);
        MHD_destroy_response(q->response);
        q->response = NULL;
        return ret;
    }
    return MHD_YES; /* still waiting, suspended */
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct floor *f = cls;
    struct floor_req *q = *con_cls;
    if (!q)
        return;
    *con_cls = NULL;
    if (q->in_flight) {
        co_evcurl_remove(&f->curl, q->easy);
        q->in_flight = 0;
    }
    req_put(f, q);
}

/* ---- the HTTP server -------------------------------------------------------- */

/* co_evhttp's watchers, for a daemon started here with flags co_evhttp does
 * not expose (knob no_date): the struct is public and co_evhttp_run,
 * co_evhttp_kick and co_evhttp_stop work on it the same way. */
static void own_io(struct ev_loop *loop, ev_io *w, int revents)
{
    co_evhttp_run(w->data);
}

static void own_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    co_evhttp_run(w->data);
}

static void own_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
    struct co_evhttp *h = w->data;
    if (h->kicked)
        co_evhttp_run(h);
}

static int own_http_start(struct floor *f, uint16_t port, char *err, size_t errlen)
{
    struct co_evhttp *h = &f->http;
    struct sockaddr_in sa;
    memset(h, 0, sizeof *h);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    h->loop = f->loop;
    h->daemon = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
            (f->k.turbo ? MHD_USE_TURBO : 0) | (f->k.no_date ? MHD_USE_SUPPRESS_DATE_NO_CLOCK : 0),
        port, NULL, NULL, on_request, f, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_CONNECTION_LIMIT, 10000u, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)f->k.mhd_mem, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        4096u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, f, MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, errlen, "cannot listen on 127.0.0.1:%u", (unsigned)port);
        return -1;
    }
    /* Port 0 asks the kernel; read back what it gave. */
    const union MHD_DaemonInfo *li = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = li ? li->port : port;
    const union MHD_DaemonInfo *ei = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    ev_io_init(&h->io, own_io, ei->epoll_fd, EV_READ);
    h->io.data = h;
    ev_io_start(f->loop, &h->io);
    ev_init(&h->timer, own_timer);
    h->timer.data = h;
    ev_prepare_init(&h->prepare, own_prepare);
    h->prepare.data = h;
    ev_prepare_start(f->loop, &h->prepare);
    co_evhttp_run(h);
    return 0;
}

/* ---- main ----------------------------------------------------------------------- */

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    ev_break(loop, EVBREAK_ALL);
}

static int usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "floor-proxy: %s\n", msg);
    fprintf(stderr, "usage: floor-proxy --upstream URL [--port N] [--json none|request|both]\n"
                    "                   [--api-key KEY] [--knob NAME=VALUE ...]\nknobs:");
    for (size_t i = 0; i < NKNOBS; i++)
        fprintf(stderr, " %s", knobs[i].name);
    fprintf(stderr, "\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct floor f;
    char err[256];
    long port = 0;
    int rc = 1;
    memset(&f, 0, sizeof f);
    floor_knobs_default(&f.k);
    const char *key = "sk-bench";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            return usage("every option takes a value");
        const char *v = argv[++i];
        if (strcmp(a, "--port") == 0) {
            char *end;
            port = strtol(v, &end, 10);
            if (*end || port < 0 || port > 65535)
                return usage("--port takes 0..65535");
        } else if (strcmp(a, "--upstream") == 0) {
            f.upstream = v;
        } else if (strcmp(a, "--api-key") == 0) {
            key = v;
        } else if (strcmp(a, "--json") == 0) {
            if (strcmp(v, "none") == 0)
                f.json = FLOOR_JSON_NONE;
            else if (strcmp(v, "request") == 0)
                f.json = FLOOR_JSON_REQUEST;
            else if (strcmp(v, "both") == 0)
                f.json = FLOOR_JSON_BOTH;
            else
                return usage("--json takes none, request or both");
        } else if (strcmp(a, "--knob") == 0) {
            if (floor_knob_set(&f.k, v, err, sizeof err) != 0)
                return usage(err);
        } else {
            return usage("unknown option");
        }
    }
    if (!f.upstream)
        return usage("--upstream URL is required");
    snprintf(f.auth, sizeof f.auth, "Authorization: Bearer %s", key);

    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    f.loop = EV_DEFAULT;
    f.url = curl_url();
    if (curl_url_set(f.url, CURLUPART_URL, f.upstream, 0) != CURLUE_OK) {
        fprintf(stderr, "floor-proxy: bad --upstream URL '%s'\n", f.upstream);
        rc = 2;
        goto out;
    }
    if (co_evcurl_init(&f.curl, f.loop, on_xfer_done, 0, 0) != 0) {
        fprintf(stderr, "floor-proxy: curl_multi_init failed\n");
        goto out;
    }
    f.curl.data = &f;
    /* Keep one cached upstream connection per concurrent client (the
     * default cache of 4 x handles closes and reopens under load). */
    curl_multi_setopt(f.curl.multi, CURLMOPT_MAXCONNECTS, 4096L);
    if (f.k.nopipe)
        curl_multi_setopt(f.curl.multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
    if (f.k.no_date) {
        if (own_http_start(&f, (uint16_t)port, err, sizeof err) != 0) {
            fprintf(stderr, "floor-proxy: %s\n", err);
            rc = 3;
            goto out;
        }
    } else {
        struct co_evhttp_opts ho = {
            .port = (uint16_t)port,
            .conn_memory_limit = (size_t)f.k.mhd_mem,
            .turbo = f.k.turbo,
            .handler = on_request,
            .handler_cls = &f,
            .completed = on_completed,
            .completed_cls = &f,
        };
        if (co_evhttp_start(&f.http, f.loop, &ho, err, sizeof err) != 0) {
            fprintf(stderr, "floor-proxy: %s\n", err);
            rc = 3;
            goto out;
        }
    }
    ev_signal_init(&f.sigterm, on_signal, SIGTERM);
    ev_signal_start(f.loop, &f.sigterm);
    ev_signal_init(&f.sigint, on_signal, SIGINT);
    ev_signal_start(f.loop, &f.sigint);
    printf("floor-proxy listening on http://127.0.0.1:%u (json %s)\n", (unsigned)f.http.port,
           f.json == FLOOR_JSON_NONE      ? "none"
           : f.json == FLOOR_JSON_REQUEST ? "request"
                                          : "both");
    fflush(stdout);

    ev_run(f.loop, 0);

    ev_signal_stop(f.loop, &f.sigterm);
    ev_signal_stop(f.loop, &f.sigint);
    rc = 0;
out:
    /* MHD panics if it stops with a connection still suspended, and a
     * resume only takes effect in the next MHD_run, which may also read new
     * requests: so nothing new is forwarded (stopping), the transfers still
     * running are dropped, their clients answered 503, and MHD runs until
     * no connection is parked (bounded: nothing parks any more). */
    f.stopping = 1;
    for (int round = 0; round < 16 && f.http.daemon; round++) {
        int parked = 0;
        for (struct floor_req *q = f.live; q; q = q->next) {
            if (q->in_flight) {
                co_evcurl_remove(&f.curl, q->easy);
                q->in_flight = 0;
            }
            if (q->suspended) {
                if (!q->response)
                    req_error(q, 503, "floor-proxy is stopping", "server_error", "shutting_down");
                q->suspended = 0;
                MHD_resume_connection(q->conn);
                parked = 1;
            }
        }
        co_evhttp_run(&f.http);
        if (!parked && round > 0)
            break;
    }
    co_evhttp_stop(&f.http);
    if (f.curl.multi)
        co_evcurl_cleanup(&f.curl);
    while (f.free_reqs) {
        struct floor_req *q = f.free_reqs;
        f.free_reqs = q->next_free;
        curl_easy_cleanup(q->easy);
        co_buf_free(&q->body);
        co_buf_free(&q->resp);
        free(q);
    }
    curl_url_cleanup(f.url);
    curl_global_cleanup();
    return rc;
}
