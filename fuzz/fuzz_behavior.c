/* libFuzzer target: the mock behaviour parser (mocks/mock_behavior.c), as
 * PUT /_mock/behavior and --behavior FILE feed it.  Oracles: no crash or
 * sanitizer report; the parser and the public validator agree; a refusal
 * names a JSON path. */
#include "mocks/mock.h"
#include "mocks/mock_int.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return 0;
    char err[512] = "", err2[512] = "";
    struct mock_behavior *b = NULL;
    int rc = mock_behavior_parse(j, &b, err, sizeof err);
    int rc2 = mock_behavior_validate(j, err2, sizeof err2);
    if ((rc == 0) != (rc2 == 0))
        abort();
    if (rc != 0 && (err[0] != '$' || b))
        abort();
    mock_behavior_free(&b);
    json_decref(j);
    return 0;
}
