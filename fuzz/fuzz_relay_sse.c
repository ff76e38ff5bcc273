/* libFuzzer target: the relay's upstream SSE end-of-stream scan
 * (relay_sse_scan), fed in chunks the way curl hands bytes over.  Input:
 * a byte of chunk count, that many bytes of chunk sizes, then the stream.
 * Differential oracle: the streaming scan sees [DONE] exactly when a plain
 * search of the whole stream does, whatever the split. */
#include "relay/relay_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t nsplit = data[0] % 16;
    if (size < 1 + nsplit)
        return 0;
    const uint8_t *sizes = data + 1;
    const char *p = (const char *)data + 1 + nsplit;
    size_t n = size - 1 - nsplit, off = 0;
    struct relay_sse s;
    relay_sse_init(&s);
    for (size_t i = 0; i < nsplit && off < n; i++) {
        size_t k = sizes[i] % 40;
        if (k > n - off)
            k = n - off;
        relay_sse_scan(&s, p + off, k);
        off += k;
    }
    relay_sse_scan(&s, p + off, n - off);
    int want = memmem(p, n, "data: [DONE]", 12) || memmem(p, n, "data:[DONE]", 11);
    if (s.done_seen != want || s.ntail > 15)
        abort();
    /* The ring keeps the last RELAY_SSE_LAST bytes whatever the splits:
     * relay_sse_finished must agree with a plain search of that window. */
    const char *w = n > RELAY_SSE_LAST ? p + n - RELAY_SSE_LAST : p;
    size_t wn = n > RELAY_SSE_LAST ? RELAY_SSE_LAST : n, kl = 15;
    int fin = 0;
    for (size_t i = 0; !fin && i + kl <= wn; i++) {
        if (memcmp(w + i, "\"finish_reason\"", kl) != 0)
            continue;
        size_t j = i + kl;
        while (j < wn && (w[j] == ' ' || w[j] == '\t'))
            j++;
        if (j >= wn || w[j] != ':')
            continue;
        for (j++; j < wn && (w[j] == ' ' || w[j] == '\t'); j++)
            ;
        fin = j < wn && w[j] == '"';
    }
    if (relay_sse_finished(&s) != fin)
        abort();
    relay_sse_free(&s);
    return 0;
}
