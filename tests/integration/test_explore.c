/* Integration test of `cutover explore` through the real binaries: a short
 * exploration (about 20 s) against a relay built with one deliberate bug
 * (tests/explore/bugs/attempts-plus-one.bug: one attempt more than
 * max_attempts) finds it and shrinks it to a scenario file of at most three
 * timeline steps that fails 5 of 5 replays; `cutover run` reproduces it
 * against the broken relay and passes it against the real one.  Bad command
 * lines exit 2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/tsupport.h"

#include <jansson.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/cutover-explore-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Runs argv (NULL-terminated) and returns its exit status, or -1 on a
 * timeout (the child is then killed). */
static int run(int timeout_ms, char **argv)
{
    struct tproc p;
    assert_int_equal(tproc_spawn(&p, argv), 0);
    int st = tproc_wait_exit(&p, timeout_ms);
    char *err = tproc_read(&p, 2);
    if (err && *err)
        fprintf(stderr, "%s", err);
    free(err);
    tproc_stop(&p, SIGKILL, 2000);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_broken_relay_found_and_shrunk(void **state)
{
    char relay[256], out[128], cmd[512];
    snprintf(cmd, sizeof cmd,
             "EXPLORE_BUGS_OUT=%s/bugs sh tests/explore/build-bugs.sh attempts-plus-one "
             ">/dev/null",
             dir);
    if (access("tests/explore/build-bugs.sh", R_OK) != 0)
        skip(); /* not run from the source tree */
    assert_int_equal(system(cmd), 0);
    snprintf(relay, sizeof relay, "%s/bugs/attempts-plus-one/bin/cutover-relay", dir);
    snprintf(out, sizeof out, "%s/explore", dir);
    /* Seed 3 draws a single-segment 429 case early; 20 s of budget. */
    char *argv[] = {(char *)tsup_bin("cutover"),
                    "explore",
                    "--relay-bin",
                    relay,
                    "--budget",
                    "20s",
                    "--seed",
                    "3",
                    "--stop-when",
                    "attempts_bounded",
                    "--out",
                    out,
                    NULL};
    assert_int_equal(run(180000, argv), 1);

    char path[256];
    snprintf(path, sizeof path, "%s/explore.json", out);
    json_t *sum = json_load_file(path, 0, NULL);
    assert_non_null(sum);
    json_t *f = json_array_get(json_object_get(sum, "findings"), 0);
    assert_non_null(f);
    assert_string_equal(json_string_value(json_object_get(f, "invariant")), "attempts_bounded");
    assert_int_equal(json_integer_value(json_object_get(f, "replays_failed")), 5);
    assert_int_equal(json_integer_value(json_object_get(f, "replays")), 5);
    assert_true(json_integer_value(json_object_get(f, "steps_after")) <= 3);
    char found[256];
    snprintf(found, sizeof found, "%s", json_string_value(json_object_get(f, "file")));
    json_decref(sum);

    /* An ordinary scenario file: its steps, its one invariant, its origin. */
    json_t *sc = json_load_file(found, 0, NULL);
    assert_non_null(sc);
    assert_true(json_array_size(json_object_get(sc, "timeline")) <= 3);
    assert_int_equal(json_array_size(json_object_get(sc, "expect")), 1);
    const char *desc = json_string_value(json_object_get(sc, "description"));
    assert_non_null(strstr(desc, "seed 3"));
    assert_non_null(strstr(desc, "Failed 5 of 5 replays"));
    json_decref(sc);
    snprintf(path, sizeof path, "%s/explore.html", out);
    char *html = tsup_read_file(path, NULL);
    assert_non_null(html);
    assert_non_null(strstr(html, "attempts_bounded"));
    assert_non_null(strstr(html, "Fault combinations"));
    free(html);

    /* `cutover run` reproduces it against the broken relay... */
    char rout[128];
    snprintf(rout, sizeof rout, "%s/replay", dir);
    char *rerun[] = {
        (char *)tsup_bin("cutover"), "run", found, "--relay-bin", relay, "--out", rout, NULL};
    assert_int_equal(run(60000, rerun), 1);
    /* ...and the real relay passes it: the finding is the bug. */
    char *clean[] = {(char *)tsup_bin("cutover"), "run", found, "--out", rout, NULL};
    assert_int_equal(run(60000, clean), 0);
}

static void test_bad_command_lines(void **state)
{
    char out[128], model[128];
    snprintf(out, sizeof out, "%s/bad", dir);
    char *a[] = {(char *)tsup_bin("cutover"), "explore", "--budget", "soon", "--out", out, NULL};
    assert_int_equal(run(10000, a), 2);
    char *b[] = {
        (char *)tsup_bin("cutover"), "explore", "--stop-when", "nothing", "--out", out, NULL};
    assert_int_equal(run(10000, b), 2);
    snprintf(model, sizeof model, "%s/model.json", dir);
    FILE *f = fopen(model, "w");
    fputs("{\"faults\": [{\"name\": \"x\"}]}", f);
    fclose(f);
    char *c[] = {(char *)tsup_bin("cutover"), "explore", "--model", model, "--out", out, NULL};
    assert_int_equal(run(10000, c), 2);
    char *d[] = {(char *)tsup_bin("cutover"), "explore", "--jobs", "0", NULL};
    assert_int_equal(run(10000, d), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_command_lines),
        cmocka_unit_test(test_broken_relay_found_and_shrunk),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
