/* A relay that frames its streams any way the SSE standard allows (one
 * chunk over several data: lines, CRLF and bare CR line ends, ":" comment
 * events, event:/id:/retry: fields; tests/integration/bad-relays/
 * reframe_relay.py) is valid: through the real binaries its streamed
 * answers are complete and read whole (client_success_ratio,
 * no_truncated_success, answer_integrity, usage_reported all pass).
 *
 * Needs python3: SKIPPED with the reason when it is not installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/tsupport.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/cutover-ssespec-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_reframed_streams_pass(void **state)
{
    if (!tsup_installed("python3")) {
        printf("SKIP test_reframed_streams_pass: python3 is not installed\n");
        skip();
    }
    char file[128], out[128], path[200];
    snprintf(file, sizeof file, "%s/reframed.json", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("{\"name\": \"reframed-stream-read-whole\", \"upstreams\": {\"blue\": {\"latency_ms\": "
          "2}, \"green\": {\"latency_ms\": 2}}, \"traffic\": {\"rate_rps\": 20, \"duration_ms\": "
          "500, \"request\": {\"name\": \"sse\", \"body\": {\"model\": \"gpt-4.1\", \"stream\": "
          "true, \"stream_options\": {\"include_usage\": true}, \"max_tokens\": 12, "
          "\"messages\": [{\"role\": \"user\", \"content\": \"Name a landscape.\"}]}}}, "
          "\"expect\": [{\"check\": \"client_success_ratio\", \"min\": 1.0}, {\"check\": "
          "\"no_truncated_success\"}, {\"check\": \"answer_integrity\", \"template\": \"sse\"}, "
          "{\"check\": \"usage_reported\", \"template\": \"sse\"}]}\n",
          f);
    fclose(f);
    char *args[] = {"run",   file, "--relay",    "tests/integration/bad-relays/reframe-relay.json",
                    "--out", out,  "--no-color", NULL};
    assert_int_equal(tsup_cutover(60000, args), 0);
    snprintf(path, sizeof path, "%s/results.json", out);
    json_error_t je;
    json_t *res = json_load_file(path, 0, &je);
    if (!res)
        fail_msg("%s: %s", path, je.text);
    json_t *sc = json_array_get(json_object_get(res, "scenarios"), 0);
    static const char *const want[] = {"client_success_ratio", "no_truncated_success",
                                       "answer_integrity", "usage_reported"};
    int seen = 0;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(sc, "checks"), i, c)
    {
        const char *check = json_string_value(json_object_get(c, "check"));
        for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
            if (strcmp(check, want[k]) != 0)
                continue;
            seen++;
            if (strcmp(json_string_value(json_object_get(c, "status")), "pass") != 0)
                fail_msg("%s: %s", check, json_string_value(json_object_get(c, "detail")));
        }
    }
    assert_int_equal(seen, 4);
    json_decref(res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reframed_streams_pass, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
