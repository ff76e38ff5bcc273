/* The SSE event stream interpretation of the WHATWG HTML standard, 9.2.6:
 * lines end at CRLF, LF or CR; a blank line dispatches; ":" starts a
 * comment; a field's name is up to the first ":", its value after it with
 * one leading space removed. */
#include "harness/sse.h"

#include "co_mem.h"

#include <stdlib.h>
#include <string.h>

/* The line at p (before end): its length without the line end in *n, and
 * where the next line begins; NULL when the line has no end (the stream
 * stopped inside it). */
static const char *line_end(const char *p, const char *end, size_t *n)
{
    for (const char *q = p; q < end; q++) {
        if (*q == '\n' || *q == '\r') {
            *n = (size_t)(q - p);
            if (*q == '\r' && q + 1 < end && q[1] == '\n')
                q++;
            return q + 1;
        }
    }
    return NULL;
}

size_t harness_sse_parse(const char *body, size_t len, harness_sse_fn fn, void *ud)
{
    if (!body || !len)
        return 0;
    const char *p = body, *end = body + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    /* The joined data never outgrows the body. */
    char *data = co_malloc(len + 1);
    size_t dlen = 0, events = 0;
    const char *type = NULL;
    size_t tlen = 0;
    int has_data = 0;
    for (const char *next; p < end; p = next) {
        size_t n;
        next = line_end(p, end, &n);
        if (!next)
            break; /* an unended line: the event it belongs to is discarded */
        if (n == 0) {
            if (has_data) {
                /* Joined with "\n": every data line added one, less the last. */
                dlen--;
                data[dlen] = '\0';
                /* An empty event: field is the default type, as none. */
                int named = type && tlen;
                fn(ud, named ? type : "message", named ? tlen : 7, data, dlen);
                events++;
            }
            dlen = 0;
            has_data = 0;
            type = NULL;
            continue;
        }
        if (*p == ':')
            continue; /* a comment, e.g. ": keep-alive" */
        const char *colon = memchr(p, ':', n);
        size_t fl = colon ? (size_t)(colon - p) : n;
        const char *v = colon ? colon + 1 : p + n;
        size_t vl = (size_t)(p + n - v);
        if (vl && *v == ' ')
            v++, vl--;
        if (fl == 4 && memcmp(p, "data", 4) == 0) {
            memcpy(data + dlen, v, vl);
            dlen += vl;
            data[dlen++] = '\n';
            has_data = 1;
        } else if (fl == 5 && memcmp(p, "event", 5) == 0) {
            type = v;
            tlen = vl;
        }
        /* id:, retry: and unknown fields say nothing about the answer. */
    }
    free(data);
    return events;
}
