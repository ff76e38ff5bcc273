/* What one upstream attempt's outcome means for the request and for the
 * colour: retry it?  does it count against the colour (towards a switch and
 * towards failing over this request)?  under which reason name?  Pure: a
 * table lookup over the transport error and the HTTP status. */
#ifndef RELAY_CLASSIFY_H
#define RELAY_CLASSIFY_H

/* Transport outcome of an attempt, before any HTTP status is considered. */
enum relay_err {
    RELAY_ERR_NONE,
    RELAY_ERR_CONNECT,
    RELAY_ERR_TIMEOUT,
    RELAY_ERR_RESET,
    RELAY_ERR_TTFB_TIMEOUT,
    RELAY_ERR_IDLE_TIMEOUT,
    RELAY_ERR_HTTP,               /* a response came but was not usable (bad framing) */
    RELAY_ERR_FIRST_BYTE_TIMEOUT, /* headers maybe, but no body byte in time */
};

/* The contract's names: null for NONE, then connect|timeout|reset|... */
const char *relay_err_name(enum relay_err e);

struct relay_verdict {
    int ok;             /* a success to pass on (2xx, 3xx) */
    int retry;          /* worth another attempt */
    int switchable;     /* counts against the colour: failover and switching */
    const char *reason; /* "upstream_503", "connect_error", "upstream_401", ... */
};

/* status is the HTTP status when err is NONE (0 otherwise). */
struct relay_verdict relay_classify(enum relay_err err, int status);

#endif
