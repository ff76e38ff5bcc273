/* libFuzzer target: the harness client's SSE reading (harness_sse_parse).
 * Oracle: every event's data is NUL-terminated within the body's length,
 * no more events than blank lines, and a body read with "\n" for every
 * line end (CRLF, CR) gives the same events. */
#include "harness/sse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct acc {
    size_t len, events;
    uint64_t hash;
};

static void on_event(void *ud, const char *type, size_t tlen, const char *d, size_t dn)
{
    struct acc *a = ud;
    if (d[dn] != 0 || dn > a->len)
        abort();
    for (size_t i = 0; i < tlen; i++)
        a->hash = a->hash * 131 + (unsigned char)type[i];
    a->hash = a->hash * 131 + 1;
    for (size_t i = 0; i < dn; i++)
        a->hash = a->hash * 131 + (unsigned char)d[i];
    a->hash = a->hash * 131 + 2;
    a->events++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    struct acc a = {size, 0, 0};
    harness_sse_parse(p, size, on_event, &a);
    /* The same stream with every line end written as "\n". */
    char *lf = malloc(size ? size : 1);
    size_t n = 0;
    for (size_t i = 0; i < size; i++) {
        if (p[i] == '\r') {
            lf[n++] = '\n';
            if (i + 1 < size && p[i + 1] == '\n')
                i++;
        } else {
            lf[n++] = p[i];
        }
    }
    struct acc b = {n, 0, 0};
    harness_sse_parse(lf, n, on_event, &b);
    if (a.events != b.events || a.hash != b.hash)
        abort();
    free(lf);
    return 0;
}
