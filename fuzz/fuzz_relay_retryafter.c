/* libFuzzer target: Retry-After / retry-after-ms parsing (upstream headers
 * reach it verbatim).  Input: the two header values separated by a NUL.
 * Oracle: no crash, overflow or other UB (huge numbers, fractions, dates
 * before 1970 or after 9999, a clock at 0). */
#include "relay/relay_retryafter.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 2);
    memcpy(buf, data, size);
    buf[size] = 0;
    buf[size + 1] = 0;
    const char *a = buf;
    const char *b = buf + strlen(buf) + 1;
    if (b > buf + size)
        b = NULL;
    uint64_t ms = 0;
    relay_retryafter_parse(a, NULL, 1700000000000ull, &ms);
    relay_retryafter_parse(NULL, b, 1700000000000ull, &ms);
    relay_retryafter_parse(a, b, 1700000000000ull, &ms);
    relay_retryafter_parse(a, b, 0, &ms);
    free(buf);
    return 0;
}
