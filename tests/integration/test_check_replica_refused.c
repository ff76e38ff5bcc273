/* A check asked of a replica the run does not have: the scenario names a
 * replica of its own fleet (validation passes), but --replicas makes the
 * fleet smaller; the run refuses the scenario as invalid (exit 2, the file
 * and $.expect named) rather than leave the check inconclusive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/tsupport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_replicas_below_a_check(void **state)
{
    char dir[64] = "/tmp/cutover-chkrep-XXXXXX", file[128], out[128], path[200];
    assert_non_null(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/rep.json", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("{\"name\": \"rep\", \"fleet\": {\"replicas\": 3, \"redis\": false}, \"traffic\": "
          "{\"rate_rps\": 10, \"duration_ms\": 200}, \"expect\": [{\"check\": "
          "\"client_success_ratio\", \"min\": 0.9, \"replica\": 2}]}\n",
          f);
    fclose(f);
    char *validate[] = {"validate", file, NULL};
    assert_int_equal(tsup_cutover(10000, validate), 0);
    char *args[] = {"run", file, "--replicas", "2", "--out", out, "--no-color", NULL};
    assert_int_equal(tsup_cutover(30000, args), 2);
    snprintf(path, sizeof path, "%s/results.json", out);
    char *res = tsup_read_file(path, NULL);
    assert_non_null(res);
    if (!strstr(res, "$.expect: a check names replica 2, but the run has 2 replica(s)"))
        fail_msg("results.json lacks the refusal: %.400s", res);
    assert_non_null(strstr(res, "\"invalid\""));
    free(res);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replicas_below_a_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
