/* The command line as a new user meets it (issue 14): a mistyped command or
 * option gets one line with the nearest name and where the usage is, not
 * the whole page, and exit 2; `cutover help [CMD]` and `--version` answer;
 * `cutover mock` says which port it picked; cutover-relay's --help shows
 * each default and a misspelled .env name is warned about, not ignored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/tsupport.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct ran {
    int rc;
    char *out;
    char *err;
};

/* Runs argv to its end (bounded at 20 s); fills r (caller frees out, err). */
static void run(char *const argv[], struct ran *r)
{
    struct tproc p;
    assert_int_equal(tproc_spawn(&p, argv), 0);
    int st = tproc_wait_exit(&p, 20000);
    if (st == -1) {
        tproc_stop(&p, SIGKILL, 1000);
        fail_msg("%s %s did not finish in 20 s", argv[0], argv[1] ? argv[1] : "");
    }
    r->out = tproc_read(&p, 1);
    r->err = tproc_read(&p, 2);
    tproc_stop(&p, SIGKILL, 0);
    assert_true(WIFEXITED(st));
    r->rc = WEXITSTATUS(st);
}

static void ran_free(struct ran *r)
{
    free(r->out);
    free(r->err);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

#define CUTOVER(...) ((char *const[]){(char *)tsup_bin("cutover"), __VA_ARGS__, NULL})

static void test_unknown_command_suggests(void **state)
{
    struct ran r;
    run(CUTOVER("rn"), &r);
    assert_int_equal(r.rc, 2);
    assert_string_equal(r.err, "cutover: unknown command 'rn' (did you mean 'run'?)\n"
                               "see `cutover help`\n");
    assert_string_equal(r.out, "");
    ran_free(&r);
    run(CUTOVER("xyzzy-nothing-like-it"), &r);
    assert_int_equal(r.rc, 2);
    assert_null(strstr(r.err, "did you mean"));
    assert_int_equal(count_lines(r.err), 2);
    ran_free(&r);
}

static void test_unknown_flag_suggests(void **state)
{
    struct ran r;
    run(CUTOVER("run", "--seeed", "7"), &r);
    assert_int_equal(r.rc, 2);
    assert_string_equal(r.err, "cutover run: unknown option '--seeed' (did you mean '--seed'?)\n"
                               "see `cutover run --help`\n");
    ran_free(&r);
    run(CUTOVER("run", "--time-scael=2"), &r);
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "'--time-scael' (did you mean '--time-scale'?)"));
    ran_free(&r);
    run(CUTOVER("run", "--seed"), &r);
    assert_int_equal(r.rc, 2);
    assert_string_equal(r.err, "cutover run: --seed: expected a value\n"
                               "see `cutover run --help`\n");
    ran_free(&r);
    run(CUTOVER("mock", "--prot", "1"), &r);
    assert_int_equal(r.rc, 2);
    assert_non_null(
        strstr(r.err, "cutover mock: unknown option '--prot' (did you mean '--port'?)"));
    assert_int_equal(count_lines(r.err), 2);
    ran_free(&r);
    run(CUTOVER("report", "--hmtl", "x"), &r);
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "(did you mean '--html'?)"));
    ran_free(&r);
    run(CUTOVER("validate", "--strict", "scenarios"), &r);
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "cutover validate: unknown option '--strict'"));
    ran_free(&r);
}

static void test_help_and_version(void **state)
{
    struct ran r, h;
    run(CUTOVER("help"), &r);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "usage: cutover COMMAND"));
    assert_non_null(strstr(r.out, "help [COMMAND]"));
    ran_free(&r);
    /* `help run` is `run --help`, word for word. */
    run(CUTOVER("help", "run"), &r);
    run(CUTOVER("run", "--help"), &h);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "--seed N"));
    assert_string_equal(r.out, h.out);
    ran_free(&r);
    ran_free(&h);
    run(CUTOVER("help", "mokc"), &r);
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "(did you mean 'mock'?)"));
    ran_free(&r);
    /* The version comes from git describe at build time when the build ran
     * in a checkout (CI and `make` do), with the release number. */
    run(CUTOVER("--version"), &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(strncmp(r.out, "cutover 0.1.0 (", 15), 0);
    assert_int_equal(count_lines(r.out), 1);
    if (access(".git", F_OK) == 0)
        assert_non_null(strstr(r.out, "(git "));
    ran_free(&r);
}

/* `cutover validate` reports every error of a file, one line each. */
static void test_validate_all_errors(void **state)
{
    char path[128];
    snprintf(path, sizeof path, "/tmp/cutover-clihelp-%d.json", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"name\": \"n\", \"relay\": {\"backoff_base_ms\": 500},\n"
          " \"traffic\": {\"rate_rps\": 10, \"duration_ms\": 100},\n"
          " \"expect\": [{\"check\": \"client_success_ratio\", \"min\": 1.5},\n"
          "            {\"check\": \"attempts\", \"min\": 3, \"max\": 2}]}\n",
          f);
    fclose(f);
    struct ran r;
    run(CUTOVER("validate", path), &r);
    assert_int_equal(r.rc, 2);
    char want[256];
    snprintf(want, sizeof want, "invalid: %s: $.relay.backoff_base_ms:", path);
    assert_non_null(strstr(r.out, want));
    snprintf(want, sizeof want, "invalid: %s: $.expect[0].min: expected a ratio in [0, 1]", path);
    assert_non_null(strstr(r.out, want));
    snprintf(want, sizeof want, "invalid: %s: $.expect[1].max: expected a number >= min (3)", path);
    assert_non_null(strstr(r.out, want));
    assert_non_null(strstr(r.out, "1 invalid, 0 valid"));
    ran_free(&r);
    unlink(path);
}

static void test_mock_says_which_port(void **state)
{
    struct tproc p;
    char *argv[] = {(char *)tsup_bin("cutover"), "mock", "--name", "blue", NULL};
    assert_int_equal(tproc_spawn(&p, argv), 0);
    assert_int_equal(tproc_wait_url(&p, 10000), 0);
    assert_int_equal(tproc_wait_output(&p, 2, "picked a free port", 5000), 0);
    char *out = tproc_read(&p, 1), *err = tproc_read(&p, 2), want[300];
    snprintf(want, sizeof want, "mock blue listening on %s\n", p.url);
    assert_string_equal(out, want);
    snprintf(want, sizeof want, "no --port given, so it picked a free port: %s\n", p.url);
    assert_non_null(strstr(err, want));
    free(out);
    free(err);
    assert_int_equal(tproc_stop(&p, SIGTERM, 5000) & 0x7f, 0);
}

static void test_relay_help_shows_defaults(void **state)
{
    struct ran r;
    char *argv[] = {(char *)tsup_bin("cutover-relay"), "--help", NULL};
    run(argv, &r);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "attempts per request (default 3)"));
    assert_non_null(strstr(r.out, "(default full)"));
    assert_non_null(strstr(r.out, "(default 30000) [env HEALTH_CHECK_INTERVAL]"));
    /* Every key line carries its default. */
    int keys = 0, with_default = 0;
    for (char *l = strstr(r.out, "\n  --"); l; l = strstr(l + 1, "\n  --")) {
        keys++;
        char *end = strchr(l + 1, '\n');
        char *d = strstr(l, "(default ");
        with_default += d && (!end || d < end);
    }
    assert_true(keys > 20);
    assert_int_equal(with_default, keys);
    /* What docs/relay.md says of max_clients. */
    assert_non_null(strstr(r.out, "more wait in the listen backlog until one closes"));
    ran_free(&r);
}

static void test_relay_warns_misspelled_env(void **state)
{
    char path[128];
    snprintf(path, sizeof path, "/tmp/cutover-clihelp-%d.env", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("HEALTH_CHECK_INTERVL=5\nBLUE_ENV=production\nGREEN_ENV=staging\n"
          "HEALTH_CHECK_TIMEOUT=1000\nUNRELATED_THING=1\n",
          f);
    fclose(f);
    struct tproc p;
    const char *extra[] = {"--env-file", path, "--health-interval-ms", "0", NULL};
    assert_int_equal(trelay_start(&p, "http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1", extra), 0);
    char *err = tproc_read(&p, 2);
    char want[256];
    snprintf(want, sizeof want,
             "warning: %s HEALTH_CHECK_INTERVL is not a setting and is ignored (did you mean "
             "HEALTH_CHECK_INTERVAL?)",
             path);
    assert_non_null(strstr(err, want));
    /* The seed article's own names and names of no known prefix: silent. */
    assert_null(strstr(err, "BLUE_ENV"));
    assert_null(strstr(err, "GREEN_ENV"));
    assert_null(strstr(err, "UNRELATED_THING"));
    assert_null(strstr(err, "HEALTH_CHECK_TIMEOUT is"));
    free(err);
    assert_int_equal(tproc_stop(&p, SIGTERM, 10000) & 0x7f, 0);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_command_suggests),
        cmocka_unit_test(test_unknown_flag_suggests),
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_validate_all_errors),
        cmocka_unit_test(test_mock_says_which_port),
        cmocka_unit_test(test_relay_help_shows_defaults),
        cmocka_unit_test(test_relay_warns_misspelled_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
