/* The relay's policies that users choose (docs/relay.md, "Policies"), each a
 * pure decision over plain values with the clock passed in, so that unit
 * tests step time without sleeping:
 *
 * - stream_done: is a committed stream that ended this way complete, and
 *   must the relay add the [DONE] the upstream left out?
 * - first_byte_timeout_ms: when must the running attempt be abandoned, and
 *   as what (the attempt's whole timer schedule lives here)?
 * - on_429_without_retry_after: after a retryable failure, wait and retry
 *   the same colour, fail over at once, or back off?
 *
 * Fail-back (mode primary-fallback) is part of the switch state machine
 * (relay_switch.h). */
#ifndef RELAY_POLICY_H
#define RELAY_POLICY_H

#include "relay_classify.h"

#include <stdint.h>

enum relay_stream_done { RELAY_STREAM_DONE_LENIENT, RELAY_STREAM_DONE_STRICT };
enum relay_on429 { RELAY_ON429_RETRY, RELAY_ON429_FAILOVER };

/* Parse a setting's word; -1 when it is none of them.  Names: the reverse. */
int relay_stream_done_parse(const char *s);
const char *relay_stream_done_name(enum relay_stream_done d);
int relay_on429_parse(const char *s);
const char *relay_on429_name(enum relay_on429 o);

/* The four settings, parsed once at start. */
struct relay_policy {
    enum relay_stream_done stream_done;
    enum relay_on429 on429;
    uint64_t first_byte_us; /* 0: off */
};

/* How a committed stream ended.  complete: the client's stream ends
 * normally (add_done: with a "data: [DONE]" the relay writes), the attempt
 * is a success; else code names the in-band error event. */
struct relay_stream_end {
    int complete;
    int add_done;
    const char *code; /* NULL when complete */
};

/* err: the transport outcome (NONE = the upstream closed cleanly);
 * finish_seen: a chunk with a non-null finish_reason came; done_seen: the
 * upstream's own [DONE] came; at_boundary: the bytes ended with a whole
 * event (a blank line).  A stream cut before any finish_reason is an error
 * in either mode; lenient also accepts a clean close after one, at an
 * event's end (a half-written usage chunk is not a complete answer). */
struct relay_stream_end relay_policy_stream_end(enum relay_stream_done mode, enum relay_err err,
                                                int finish_seen, int done_seen, int at_boundary);

/* The timeouts of one attempt, in microseconds (0 = off only for
 * first_byte_us). */
struct relay_timeouts {
    uint64_t try_us, ttfb_us, first_byte_us, idle_us;
};

/* Where one attempt stands; times are absolute microseconds on one clock,
 * 0 = not yet. */
struct relay_attempt_times {
    uint64_t start;      /* the attempt began */
    uint64_t first_byte; /* any response byte (a header) */
    uint64_t first_body; /* the first body byte */
    uint64_t last_byte;
    uint64_t deadline; /* of the whole request */
    uint64_t now;
    int stream, committed, paused;
};

/* When the running attempt must be abandoned, and as what (*why).  Before
 * any byte: ttfb; before the first body byte: first_byte (when on); a
 * stream after its first byte: idle; always the try timeout and the
 * request's deadline.  A committed stream only knows idle (paused by the
 * client's slowness: idle from now). */
uint64_t relay_policy_expiry(const struct relay_timeouts *t, const struct relay_attempt_times *a,
                             enum relay_err *why);

/* After a retryable failure: how the next attempt is made. */
enum relay_retry_how {
    RELAY_RETRY_BACKOFF,       /* sleep the backoff, then the usual colour pick */
    RELAY_RETRY_AFTER,         /* sleep the Retry-After, then the same colour */
    RELAY_RETRY_FAILOVER_NOW,  /* Retry-After too long: another colour, no sleep */
    RELAY_RETRY_QUOTA_FAILOVER /* 429, no Retry-After, failover chosen: another
                                * colour at once (the backoff only if none is left) */
};

/* has_ra: the answer carried a Retry-After the relay could read (ra_ms);
 * ra_fits: that wait ends before the request's deadline. */
enum relay_retry_how relay_policy_retry_how(int status, int has_ra, uint64_t ra_ms, uint64_t cap_ms,
                                            int ra_fits, enum relay_on429 on429);

#endif
