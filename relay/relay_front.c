/* The front door's decisions (see relay_front.h). */
#include "relay_front.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct relay_front_route routes[] = {
    {"/v1/chat/completions", "POST", RF_PROXY, 0, 0},
    {"/api/chat/completions", "POST", RF_PROXY, 0, 0},
    {"/chat/completions", "POST", RF_PROXY, 0, 0},
    {"/api/chat", "POST", RF_PROXY, 2, 0},
    {"/v1/models", "GET", RF_PROXY, 1, 0},
    {"/models", "GET", RF_PROXY, 1, 0},
    {"/health", "GET", RF_HEALTH, 0, 0},
    {"/api/metrics", "GET", RF_API_METRICS, 0, 0},
    {"/metrics", "GET", RF_METRICS, 0, 0},
    {"/admin/", NULL, RF_ADMIN, 0, 1},
};

const struct relay_front_route *relay_front_route(const char *url)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct relay_front_route *rt = &routes[i];
        if (rt->prefix ? strncmp(url, rt->path, strlen(rt->path)) == 0 : strcmp(url, rt->path) == 0)
            return rt;
    }
    return NULL;
}

static int method_ok(const struct relay_front_route *rt, const char *method)
{
    if (!rt->method)
        return 1;
    if (strcmp(method, rt->method) == 0)
        return 1;
    return strcmp(rt->method, "GET") == 0 && strcmp(method, "HEAD") == 0;
}

static unsigned refuse(struct relay_front_verdict *v, unsigned status, const char *code)
{
    v->status = status;
    v->code = code;
    return status;
}

unsigned relay_front_check(const struct relay_front_head *h, struct relay_front_verdict *v)
{
    memset(v, 0, sizeof *v);
    v->route = relay_front_route(h->url);
    if (!v->route) {
        snprintf(v->message, sizeof v->message, "Unknown request URL");
        return refuse(v, 404, "unknown_url");
    }
    if (!method_ok(v->route, h->method)) {
        /* The method is the client's bytes, shown as sent (the JSON layer
         * makes them valid UTF-8); %.40s bounds it. */
        snprintf(v->message, sizeof v->message, "Method %.40s not allowed on %s (use %s)",
                 h->method, v->route->path, v->route->method);
        v->allow = v->route->method;
        return refuse(v, 405, "method_not_allowed");
    }
    /* RFC 9112 6.3: a message with both may be a smuggling attempt; a
     * server must close the connection after answering it. */
    if (h->content_length && h->transfer_encoding) {
        snprintf(v->message, sizeof v->message,
                 "Content-Length and Transfer-Encoding together are not allowed");
        v->close = 1;
        return refuse(v, 400, "invalid_request");
    }
    /* RFC 9112 6.3 and 11.2: several Content-Length fields are a framing
     * error.  libmicrohttpd reads the first; a proxy in front that reads
     * the last sees one request where we would answer two (smuggling). */
    if (h->n_content_length > 1) {
        snprintf(v->message, sizeof v->message,
                 "More than one Content-Length header is not allowed");
        v->close = 1;
        return refuse(v, 400, "invalid_request");
    }
    /* A declared body over the limit is refused before it is read. */
    if (h->content_length &&
        strtoull(h->content_length, NULL, 10) > (unsigned long long)h->max_body_bytes) {
        snprintf(v->message, sizeof v->message, "Request body exceeds the limit of %lld bytes",
                 (long long)h->max_body_bytes);
        return refuse(v, 413, "request_too_large");
    }
    return 0;
}

/* Parses one address into family and bytes; returns 0 or -1. */
static int parse_addr(const char *s, size_t len, int *family, unsigned char *addr)
{
    char buf[64];
    while (len && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, buf, addr) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, addr) == 1) {
        *family = AF_INET6;
        return 0;
    }
    return -1;
}

int relay_front_proxies_parse(const char *list, struct relay_proxies *out, char *why, size_t n)
{
    memset(out, 0, sizeof *out);
    const char *p = list;
    while (*p == ' ')
        p++;
    if (!*p)
        return 0;
    for (;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (out->n == RELAY_MAX_PROXIES ||
            parse_addr(p, len, &out->family[out->n], out->addr[out->n]) != 0) {
            snprintf(why, n, "a comma list of at most %d IPv4 or IPv6 addresses",
                     RELAY_MAX_PROXIES);
            return -1;
        }
        out->n++;
        if (!c)
            return 0;
        p = c + 1;
    }
}

static int trusted(const struct relay_proxies *tp, int family, const unsigned char *addr)
{
    for (size_t i = 0; tp && i < tp->n; i++)
        if (tp->family[i] == family && memcmp(tp->addr[i], addr, family == AF_INET ? 4 : 16) == 0)
            return 1;
    return 0;
}

void relay_front_identity(const char *peer, const char *xff, const struct relay_proxies *tp,
                          char *out, size_t n)
{
    int fam;
    unsigned char a[16];
    char shown[INET6_ADDRSTRLEN];
    if (!peer || parse_addr(peer, strlen(peer), &fam, a) != 0) {
        snprintf(out, n, "addr:unknown");
        return;
    }
    if (xff && trusted(tp, fam, a)) {
        /* From the right: each hop a trusted proxy appended; the first
         * untrusted one is the client as the nearest proxy saw it. */
        size_t end = strlen(xff);
        while (end > 0) {
            size_t start = end;
            while (start > 0 && xff[start - 1] != ',')
                start--;
            int f2;
            unsigned char a2[16];
            if (parse_addr(xff + start, end - start, &f2, a2) != 0)
                break;
            fam = f2;
            memcpy(a, a2, sizeof a);
            if (!trusted(tp, fam, a))
                break;
            end = start ? start - 1 : 0;
        }
    }
    if (!inet_ntop(fam, a, shown, sizeof shown))
        snprintf(shown, sizeof shown, "unknown");
    snprintf(out, n, "addr:%s", shown);
}
