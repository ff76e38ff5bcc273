/* Pure parsing of what crosses the relay's edges, apart from any socket so
 * that unit tests and fuzzers can call it: a client's chat request (content
 * type and JSON body) and the end marker of an upstream SSE stream. */
#ifndef RELAY_PARSE_H
#define RELAY_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* What a valid chat request says.  fwd_body is the body to send upstream
 * when the relay rewrote it (the seed's /api/chat), else NULL; the caller
 * frees it. */
struct relay_parsed_req {
    int stream;
    char model[72];
    char *fwd_body;
};

/* Why a request was refused, in OpenAI's error fields. */
struct relay_parse_err {
    char message[300];
    const char *param; /* NULL or a static string */
    const char *code;  /* static */
};

/* Non-zero when a request's Content-Type may carry JSON: absent, empty,
 * application/json or any application/...+json, parameters ignored. */
int relay_content_type_ok(const char *ctype);

/* Parses a chat request.  api_chat selects the seed's {message, model,
 * context} shape.  Returns 0 and fills out, or the HTTP status to answer
 * (400 or 415) and fills e. */
int relay_parse_request(const char *ctype, const char *body, size_t len, int api_chat,
                        struct relay_parsed_req *out, struct relay_parse_err *e);

/* Watches an SSE byte stream for "data: [DONE]" across chunk boundaries
 * with a short tail of the bytes seen so far, and keeps the stream's last
 * RELAY_SSE_LAST bytes (a ring) so that, once it ended without [DONE], the
 * relay can ask whether its answer had finished (relay_sse_finished): the
 * finish_reason chunk comes last but for the usage chunk.  Looking only at
 * the end costs a copy per chunk; searching every chunk as it passed cost
 * 4.5% more instructions per proxied stream. */
#define RELAY_SSE_LAST 2048
struct relay_sse {
    char tail[16];
    size_t ntail;
    int done_seen;
    char *last;          /* RELAY_SSE_LAST bytes, allocated on the first scan */
    size_t last_pos;     /* where the next byte goes in last */
    uint64_t last_total; /* bytes seen in all */
    /* relay_sse_check: the line begun in an earlier chunk, not yet ended;
     * the data of the event not yet ended (its data: lines joined, each
     * with its "\n"); whether that event began in an earlier chunk; a CR
     * ended the last chunk (a LF first in the next belongs to it). */
    char *line;
    size_t nline, capline;
    char *data;
    size_t ndata, capdata;
    int has_data, ev_open, cr;
};

/* init before the first use; reset between attempts (keeps the ring's
 * memory); free releases it.  A zeroed struct is initialised.  The ring is
 * allocated only by a scan, so a request that never streams pays nothing. */
void relay_sse_init(struct relay_sse *s);
void relay_sse_reset(struct relay_sse *s);
void relay_sse_free(struct relay_sse *s);
void relay_sse_scan(struct relay_sse *s, const char *p, size_t n);
/* 1 when the stream's last RELAY_SSE_LAST bytes hold a "finish_reason"
 * with a string value (null is the value of every chunk before the last),
 * blanks allowed around the colon.  A key inside content is escaped (\")
 * and never matches. */
int relay_sse_finished(const struct relay_sse *s);

/* Every event of an SSE stream carries one JSON object, or [DONE]: a
 * client's SDK parses each, and one that does not parse ends its stream in
 * an exception although the relay answered 200.  Events are read as the
 * WHATWG HTML standard says a client reads them: an event ends at a blank
 * line, its data: lines are joined with "\n", lines end at CRLF, LF or CR,
 * ":" lines are comments and other fields pass; so an upstream that frames
 * one chunk over several data: lines is not broken.  Checks the events
 * ended in the next n bytes (an event may span chunks; a line or an
 * event's data longer than RELAY_SSE_MAX_LINE is bad).  Returns 0 when
 * every event ended so far is good, -1 at the first bad one, with *good
 * the bytes of p before the event (0 when it began in an earlier chunk).
 * Pure. */
#define RELAY_SSE_MAX_LINE (1024 * 1024)
int relay_sse_check(struct relay_sse *s, const char *p, size_t n, size_t *good);

#endif
