/* libFuzzer target: the scenario parser and validator (harness/scenario.c)
 * on arbitrary bytes, exactly as `cutover validate` reads a file.  Oracle:
 * no crash, no sanitizer report, no leak; an accepted scenario frees
 * cleanly, a refused one says why. */
#include "co_json.h"
#include "harness/scenario.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024] = "";
    json_t *doc = co_json_loadb((const char *)data, size, "fuzz", err, sizeof err);
    if (!doc) {
        if (!err[0])
            abort(); /* a refusal must say why */
        return 0;
    }
    /* The time scale comes from the input's length so both paths run. */
    double scale = size % 3 == 0 ? 0.5 : 1.0;
    struct harness_scenario *s =
        harness_scenario_from_json(doc, "fuzz.json", scale, err, sizeof err);
    if (!s && !err[0])
        abort();
    harness_scenario_free(&s);
    json_decref(doc);
    return 0;
}
