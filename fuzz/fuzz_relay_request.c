/* libFuzzer target: the relay's client request parsing (relay_parse.c).
 * Input: a Content-Type line, a newline, then the body.  The first byte's
 * low bit picks the seed's /api/chat shape.  Oracles: no crash; the status
 * is 0, 400 or 415; a refusal has a message and a code; an accepted request
 * has a NUL-terminated model and, for /api/chat, a JSON body to forward. */
#include "relay/relay_parse.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int api_chat = data[0] & 1;
    data++, size--;
    const uint8_t *nl = memchr(data, '\n', size < 256 ? size : 256);
    char ctype[257];
    const char *ct = NULL;
    if (nl) {
        size_t n = (size_t)(nl - data);
        memcpy(ctype, data, n);
        ctype[n] = 0;
        ct = ctype;
        size -= n + 1;
        data = nl + 1;
    }
    /* The body as the relay holds it: exactly len bytes, no terminator. */
    char *body = malloc(size ? size : 1);
    memcpy(body, data, size);
    struct relay_parsed_req pr;
    struct relay_parse_err pe;
    int rc = relay_parse_request(ct, body, size, api_chat, &pr, &pe);
    if (rc != 0 && rc != 400 && rc != 415)
        abort();
    if (rc) {
        if (!pe.message[0] || !pe.code)
            abort();
    } else {
        if (strlen(pr.model) >= sizeof pr.model)
            abort();
        if (api_chat) {
            json_t *j = pr.fwd_body ? json_loads(pr.fwd_body, 0, NULL) : NULL;
            if (!j)
                abort();
            json_decref(j);
        }
        free(pr.fwd_body);
    }
    free(body);
    return 0;
}
