#include "relay_classify.h"

#include <stddef.h>

static const char *const err_names[] = {
    NULL,           "connect",      "timeout", "reset",
    "ttfb_timeout", "idle_timeout", "http",    "first_byte_timeout",
};

const char *relay_err_name(enum relay_err e)
{
    return (unsigned)e < sizeof err_names / sizeof err_names[0] ? err_names[e] : "http";
}

/* Transport failures: the colour did not answer, so every one of them is
 * worth a retry and counts against the colour. */
static const struct {
    enum relay_err err;
    const char *reason;
} transport[] = {
    {RELAY_ERR_CONNECT, "connect_error"},
    {RELAY_ERR_TIMEOUT, "upstream_timeout"},
    {RELAY_ERR_RESET, "reset"},
    {RELAY_ERR_TTFB_TIMEOUT, "ttfb_timeout"},
    {RELAY_ERR_IDLE_TIMEOUT, "idle_timeout"},
    {RELAY_ERR_HTTP, "bad_response"},
    {RELAY_ERR_FIRST_BYTE_TIMEOUT, "first_byte_timeout"},
};

/* Statuses with an explicit policy.  A 429 is retried (after Retry-After)
 * but does not count against the colour: the colour is up and asking us to
 * slow down, and switching every colour on a quota would only move the
 * storm.  Client errors are never retried: a 401 is a key problem that no
 * retry fixes, and retrying it is how the seed made retry storms. */
static const struct {
    int status;
    int retry, switchable;
    const char *reason;
} statuses[] = {
    {408, 1, 1, "upstream_408"}, {429, 1, 0, "upstream_429"}, {500, 1, 1, "upstream_500"},
    {502, 1, 1, "upstream_502"}, {503, 1, 1, "upstream_503"}, {504, 1, 1, "upstream_504"},
    {400, 0, 0, "upstream_400"}, {401, 0, 0, "upstream_401"}, {403, 0, 0, "upstream_403"},
    {404, 0, 0, "upstream_404"}, {422, 0, 0, "upstream_422"},
};

struct relay_verdict relay_classify(enum relay_err err, int status)
{
    struct relay_verdict v = {0, 0, 0, "ok"};
    if (err != RELAY_ERR_NONE) {
        v.retry = v.switchable = 1;
        v.reason = "upstream_error";
        for (size_t i = 0; i < sizeof transport / sizeof transport[0]; i++)
            if (transport[i].err == err)
                v.reason = transport[i].reason;
        return v;
    }
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        if (statuses[i].status == status) {
            v.retry = statuses[i].retry;
            v.switchable = statuses[i].switchable;
            v.reason = statuses[i].reason;
            return v;
        }
    }
    if (status >= 200 && status < 400) {
        v.ok = 1;
        return v;
    }
    /* Any other status: 4xx is the client's problem, other 5xx (501, 505)
     * will not change on a retry. */
    v.reason = status >= 500 ? "upstream_5xx" : status >= 400 ? "upstream_4xx" : "bad_status";
    return v;
}
