/* The relay's front door, as pure decisions over what libmicrohttpd parsed
 * out of a request head: which route a URL names, whether the method and
 * the framing headers are acceptable (405, 400 for Content-Length together
 * with Transfer-Encoding, 413 for a declared body over the limit), and who
 * the client is for rate limiting (its address, or the address a trusted
 * proxy reports).  No socket, no clock: relay_server.c wires these to MHD,
 * fuzz/fuzz_relay_head.c feeds them hostile heads. */
#ifndef RELAY_FRONT_H
#define RELAY_FRONT_H

#include <stddef.h>
#include <stdint.h>

enum relay_front_kind { RF_PROXY, RF_HEALTH, RF_API_METRICS, RF_METRICS, RF_ADMIN };

struct relay_front_route {
    const char *path;
    const char *method; /* NULL: any (the admin API checks its own) */
    enum relay_front_kind kind;
    int fwd;    /* RF_PROXY: enum relay_route_kind */
    int prefix; /* path is a prefix */
};

/* The route of url, or NULL. */
const struct relay_front_route *relay_front_route(const char *url);

/* What the head says before any body byte is read. */
struct relay_front_head {
    const char *method, *url;
    const char *content_length;    /* header value or NULL */
    const char *transfer_encoding; /* header value or NULL */
    int64_t max_body_bytes;
    /* Content-Length fields in the head (content_length is the first's):
     * more than one is refused, whatever their values. */
    int n_content_length;
};

struct relay_front_verdict {
    const struct relay_front_route *route; /* NULL when unknown */
    unsigned status;                       /* 0: go on */
    char message[192];                     /* may hold client bytes: JSON-escape it */
    const char *code;
    const char *allow; /* 405: the Allow header */
    int close;         /* answer with Connection: close */
};

/* Returns v->status. */
unsigned relay_front_check(const struct relay_front_head *h, struct relay_front_verdict *v);

/* Trusted proxies: addresses whose X-Forwarded-For the relay believes. */
#define RELAY_MAX_PROXIES 16
struct relay_proxies {
    size_t n;
    int family[RELAY_MAX_PROXIES];
    unsigned char addr[RELAY_MAX_PROXIES][16];
};

/* Parses "ADDR,ADDR,..." (IPv4 or IPv6, spaces allowed around commas; ""
 * is none).  Returns 0, or -1 with what was expected in why. */
int relay_front_proxies_parse(const char *list, struct relay_proxies *out, char *why, size_t n);

/* The client's rate-limit identity into out: "addr:PEER", or, when peer is a
 * trusted proxy and xff (X-Forwarded-For, may be NULL) names addresses, the
 * rightmost one that is not itself a trusted proxy ("addr:CLIENT").  An
 * entry that is not an address stops the walk at the last good one: a
 * client can add entries on the left, never choose what a proxy appended. */
void relay_front_identity(const char *peer, const char *xff, const struct relay_proxies *tp,
                          char *out, size_t n);

#endif
