/* libFuzzer target: a request line and headers as the relay sees them.
 * libmicrohttpd splits the head into method, URL, version and header
 * pairs and hands them over as C strings, whatever bytes they hold; this
 * target splits its input the same way (on the first two spaces and on
 * CRLF or LF, "Name: value" lines) and runs everything the relay decides
 * from those strings before a body byte is read:
 *   - relay_front_check (route, 405 quoting the method, Content-Length
 *     with Transfer-Encoding, declared length) and the OpenAI error body
 *     built from its verdict, as relay_server.c does;
 *   - relay_front_proxies_parse on a header value and relay_front_identity
 *     with X-Forwarded-For, behind a fixed trusted-proxy list;
 *   - the metrics labels a client controls (the URL stands in for a model
 *     name) and the Prometheus text rendered from them.
 * Oracles beyond "no crash, no sanitizer report, no leak": the status is
 * one the relay sends; every error body is non-NULL, parses as JSON and
 * has a string message (issue 20's crash was a NULL body from a method
 * that is not UTF-8); the identity is "addr:" and printable ASCII; the
 * scrape is valid UTF-8 with no raw newline inside a label. */
#include "co_buf.h"
#include "co_json.h"
#include "relay/relay_front.h"
#include "relay/relay_metrics.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HEADERS 32

/* Copies [p, e) into a new NUL-terminated string (a NUL byte ends it, as
 * it would for any C string MHD hands over). */
static char *dup_range(const uint8_t *p, const uint8_t *e)
{
    size_t n = (size_t)(e - p);
    char *s = malloc(n + 1);
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

static const char *header(char *const *names, char *const *values, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(names[i], name) == 0)
            return values[i];
    return NULL;
}

static void check_body(const struct relay_front_verdict *v)
{
    char *body = co_openai_error(v->message, "invalid_request_error", NULL, v->code);
    if (!body)
        abort();
    json_t *j = json_loads(body, 0, NULL);
    if (!j || !json_is_string(json_object_get(json_object_get(j, "error"), "message")))
        abort();
    json_decref(j);
    free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *end = data + size;
    const uint8_t *eol = memchr(data, '\n', size);
    const uint8_t *line_end = eol ? eol : end;
    if (line_end > data && line_end[-1] == '\r')
        line_end--;
    /* Request line: METHOD SP URL [SP VERSION]. */
    const uint8_t *sp1 = memchr(data, ' ', (size_t)(line_end - data));
    const uint8_t *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1)) : NULL;
    char *method = dup_range(data, sp1 ? sp1 : line_end);
    char *url = sp1 ? dup_range(sp1 + 1, sp2 ? sp2 : line_end) : dup_range(line_end, line_end);
    char *names[MAX_HEADERS], *values[MAX_HEADERS];
    size_t nh = 0;
    const uint8_t *p = eol ? eol + 1 : end;
    while (p < end && nh < MAX_HEADERS) {
        const uint8_t *le = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *stop = le ? le : end;
        const uint8_t *ve = stop > p && stop[-1] == '\r' ? stop - 1 : stop;
        const uint8_t *colon = memchr(p, ':', (size_t)(ve - p));
        if (colon) {
            const uint8_t *v = colon + 1;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            names[nh] = dup_range(p, colon);
            values[nh] = dup_range(v, ve);
            nh++;
        }
        p = le ? le + 1 : end;
    }

    struct relay_front_head h = {
        .method = method,
        .url = url,
        .content_length = header(names, values, nh, "Content-Length"),
        .transfer_encoding = header(names, values, nh, "Transfer-Encoding"),
        .max_body_bytes = 1048576,
    };
    struct relay_front_verdict v;
    unsigned st = relay_front_check(&h, &v);
    if (st != 0 && st != 400 && st != 404 && st != 405 && st != 413)
        abort();
    if (st) {
        if (!v.code || (st == 405 && !v.allow) || (st == 400 && !v.close))
            abort();
        check_body(&v);
    } else if (!v.route) {
        abort();
    }

    struct relay_proxies tp, extra;
    char why[128], id[96];
    relay_front_proxies_parse("127.0.0.1,::1,10.0.0.1", &tp, why, sizeof why);
    const char *plist = header(names, values, nh, "X-Proxies");
    if (plist && relay_front_proxies_parse(plist, &extra, why, sizeof why) == 0 &&
        extra.n > RELAY_MAX_PROXIES)
        abort();
    const char *peer = header(names, values, nh, "X-Peer");
    relay_front_identity(peer ? peer : "127.0.0.1", header(names, values, nh, "X-Forwarded-For"),
                         &tp, id, sizeof id);
    if (strncmp(id, "addr:", 5) != 0)
        abort();
    for (const char *c = id; *c; c++)
        if (*c < 0x20 || *c > 0x7e)
            abort();

    /* Client-controlled label values in a scrape. */
    struct relay_metrics *m = relay_metrics_new();
    relay_metrics_request(m, RELAY_BLUE, url, (int)(st ? st : 200), 1000);
    relay_metrics_tokens(m, method, 1, 1, 1.0);
    struct relay_switch sw;
    struct relay_switch_cfg sc = {1, 0, 1, 1};
    relay_switch_init(&sw, &sc, RELAY_BLUE, 0);
    struct co_buf b;
    co_buf_init(&b, 0);
    relay_metrics_prometheus(m, &sw, &b);
    for (size_t i = 0; i < b.len;) {
        size_t k = co_utf8_seq((const unsigned char *)b.data + i, b.len - i);
        if (!k)
            abort();
        i += k;
    }
    /* Every line is a comment or "name{labels} value": a raw newline in a
     * label would leave a line that starts with neither. */
    for (const char *line = b.data; line && *line;) {
        if (*line != '#' && strncmp(line, "holysheep_", 10) != 0)
            abort();
        const char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    co_buf_free(&b);
    relay_metrics_free(&m);

    for (size_t i = 0; i < nh; i++) {
        free(names[i]);
        free(values[i]);
    }
    free(method);
    free(url);
    return 0;
}
