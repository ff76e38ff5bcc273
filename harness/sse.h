/* The client side of a Server-Sent Events stream, read the way the WHATWG
 * HTML standard ("Server-sent events", event stream interpretation) says a
 * client must: a relay may frame an answer any way the standard allows
 * (one event over several data: lines, CRLF or CR line ends, ":" comments,
 * event:/id:/retry: fields) and is still judged on what a client reads. */
#ifndef HARNESS_SSE_H
#define HARNESS_SSE_H

#include <stddef.h>

/* One dispatched event: its type (the last event: field, "message" when
 * none; tlen bytes, not NUL-terminated) and its data (every data: line of
 * the event joined with "\n", dlen bytes, NUL-terminated). */
typedef void (*harness_sse_fn)(void *ud, const char *type, size_t tlen, const char *data,
                               size_t dlen);

/* Reads the whole body and calls fn once per event, in order.  An event
 * ends at a blank line; an event with no data line is not dispatched; the
 * last event without a blank line after it is discarded (the stream was
 * cut inside it).  A leading UTF-8 BOM is skipped.  Returns the number of
 * events dispatched.  Pure but for fn. */
size_t harness_sse_parse(const char *body, size_t len, harness_sse_fn fn, void *ud);

#endif
