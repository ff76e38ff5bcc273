/* libFuzzer target: the relay's quick check of a 2xx chat answer
 * (relay_answer_scan).  Differential oracle: whatever the scan calls one
 * well-formed object, jansson parses as an object, and the usage offset it
 * gives points at a JSON object that jansson parses there too.  (The scan
 * may say "unsure" about valid JSON: jansson then decides in the relay.) */
#include "relay/relay_parse.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t u;
    const char *p = (const char *)data;
    if (!relay_answer_scan(p, size, &u))
        return 0;
    json_t *j = json_loadb(p, size, 0, NULL);
    if (!json_is_object(j))
        abort();
    if (u != (size_t)-1) {
        if (u >= size)
            abort();
        json_t *x = json_loadb(p + u, size - u, JSON_DISABLE_EOF_CHECK, NULL);
        if (!json_is_object(x) || !json_equal(x, json_object_get(j, "usage")))
            abort();
        json_decref(x);
    }
    json_decref(j);
    return 0;
}
