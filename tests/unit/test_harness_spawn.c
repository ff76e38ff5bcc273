/* Unit tests for harness/spawn.c: the word splitter (quotes, backslashes,
 * no expansion of any kind), the shell-syntax detector, single-quoting for
 * scripts, per-argument rendering (a value with a space or a $(...) stays
 * one literal argument), the PATH lookup and the install hints; and one
 * real spawn whose exec fails, reported at once with the program's name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness/spawn.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_split(void **state)
{
    static const struct {
        const char *cmd;
        const char *words[6];
    } rows[] = {
        {"a b  c", {"a", "b", "c"}},
        {"nginx -g 'daemon off;'", {"nginx", "-g", "daemon off;"}},
        {"r \"a \\\"q\\\" b\" c", {"r", "a \"q\" b", "c"}},
        {"r a\\ b", {"r", "a b"}},
        {"r 'x'\"y\"z", {"r", "xyz"}},
        {"r ''", {"r", ""}},
        {"\tr\t--port {port} ", {"r", "--port", "{port}"}},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char **argv = NULL, err[128];
        int n = harness_argv_split(rows[i].cmd, &argv, err, sizeof err);
        int want = 0;
        while (rows[i].words[want])
            want++;
        if (n != want)
            fail_msg("'%s': %d words, want %d (%s)", rows[i].cmd, n, want, n < 0 ? err : "");
        for (int k = 0; k < n; k++)
            assert_string_equal(argv[k], rows[i].words[k]);
        assert_null(argv[n]);
        harness_argv_free(&argv);
        assert_null(argv);
    }
    char **argv = NULL, err[128];
    assert_int_equal(harness_argv_split("r 'open", &argv, err, sizeof err), -1);
    assert_non_null(strstr(err, "unterminated ' quote at column 3"));
    assert_int_equal(harness_argv_split("r \"open", &argv, err, sizeof err), -1);
    assert_int_equal(harness_argv_split("r \\", &argv, err, sizeof err), -1);
    assert_int_equal(harness_argv_split("   ", &argv, err, sizeof err), -1);
}

static void test_shell_syntax(void **state)
{
    assert_int_equal(harness_cmd_shell_syntax("bin/r --port {port} --blue {blue_url}"), 0);
    assert_int_equal(harness_cmd_shell_syntax("nginx -g 'daemon off;'"), 0);
    assert_int_equal(harness_cmd_shell_syntax("r | tee x"), 3);
    assert_int_equal(harness_cmd_shell_syntax("r $(id)"), 3);
    assert_int_equal(harness_cmd_shell_syntax("r >log"), 3);
    assert_int_equal(harness_cmd_shell_syntax("r && s"), 3);
    assert_int_equal(harness_cmd_shell_syntax("r `id`"), 3);
    assert_int_equal(harness_cmd_shell_syntax("r \\$HOME"), 0);
    assert_int_equal(harness_cmd_shell_syntax("exec bin/r --port {port}"), 1);
    assert_int_equal(harness_cmd_shell_syntax("FOO=1 bin/r"), 1);
    assert_int_equal(harness_cmd_shell_syntax("bin/r --opt=1"), 0);
    assert_int_equal(harness_cmd_shell_syntax("./a=b/r"), 0);
    assert_false(harness_cmd_can_exec("exec r"));
    assert_true(harness_cmd_can_exec("r --port {port} > log 2>&1"));
    assert_true(harness_cmd_can_exec("r 'a|b'"));
    assert_false(harness_cmd_can_exec("r | cat"));
    assert_false(harness_cmd_can_exec("cd x && r"));
    assert_false(harness_cmd_can_exec("a; b"));
    assert_false(harness_cmd_can_exec("r &"));
    assert_false(harness_cmd_can_exec("( r )"));
    assert_false(harness_cmd_can_exec("exit 5"));
}

static void test_quote(void **state)
{
    static const struct {
        const char *in, *out;
    } rows[] = {
        {"8080", "8080"},
        {"http://127.0.0.1:1/v1", "http://127.0.0.1:1/v1"},
        {"/tmp/o_$(touch${IFS}pwned)", "'/tmp/o_$(touch${IFS}pwned)'"},
        {"a b", "'a b'"},
        {"it's", "'it'\\''s'"},
        {"", "''"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *q = harness_sh_quote(rows[i].in);
        assert_string_equal(q, rows[i].out);
        free(q);
    }
}

/* The hostile values of issue 20 stay single literal arguments. */
static void test_render(void **state)
{
    struct harness_vars v = {.n = 0};
    harness_vars_set(&v, "workdir", "/tmp/o_$(touch${IFS}pwned)/with space");
    harness_vars_set(&v, "port", "8080");
    char **argv = NULL, err[256];
    int n = harness_argv_render("r -p {workdir}/ --port {port} --next {port+1} {unknown}", &v, 0,
                                &argv, err, sizeof err);
    assert_int_equal(n, 8);
    assert_string_equal(argv[7], "{unknown}");
    assert_string_equal(argv[2], "/tmp/o_$(touch${IFS}pwned)/with space/");
    assert_string_equal(argv[4], "8080");
    assert_string_equal(argv[6], "8081");
    harness_argv_free(&argv);
    /* Strict (profiles): an unknown placeholder is an error. */
    assert_int_equal(harness_argv_render("r {unknown}", &v, 1, &argv, err, sizeof err), -1);
    char *script =
        harness_script_render("r -p {workdir} --port {port+1} | cat", &v, err, sizeof err);
    assert_non_null(script);
    assert_string_equal(script, "r -p '/tmp/o_$(touch${IFS}pwned)/with space' --port 8081 | cat");
    free(script);
}

static void test_which_and_hints(void **state)
{
    char out[512];
    assert_int_equal(harness_which("sh", out, sizeof out), 0);
    assert_int_equal(harness_which("/bin/sh", out, sizeof out), 0);
    assert_int_equal(harness_which("no-such-program-cutover", out, sizeof out), -1);
    assert_int_equal(harness_which("/etc/passwd", out, sizeof out), -1);
    assert_string_equal(harness_install_hint("nginx"), "apt-get install nginx-light");
    assert_string_equal(harness_install_hint("/usr/sbin/haproxy"), "apt-get install haproxy");
    assert_null(harness_install_hint("cutover-relay"));
    harness_missing_program("no-such-program-cutover", out, sizeof out);
    assert_non_null(strstr(out, "no-such-program-cutover is not installed (not on PATH)"));
}

/* exec failure is known before the relay "starts": the error names it. */
static void test_spawn_exec_fails(void **state)
{
    char *const argv[] = {"no-such-program-cutover", "--port", "1", NULL};
    struct harness_spawn sp = {.argv = argv, .out_path = "/dev/null", .err_path = "/dev/null"};
    char err[256] = "";
    assert_int_equal(harness_spawn(&sp, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot start 'no-such-program-cutover': not found on PATH"));
    /* A real one: in a group of its own, and its status comes back. */
    char *const ok[] = {"sh", "-c", "exit 7", NULL};
    sp.argv = ok;
    pid_t pid = harness_spawn(&sp, err, sizeof err);
    assert_true(pid > 0);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 7);
    /* Shell mode: the supervisor exits as the script did. */
    struct harness_spawn sh = {
        .script = "exit 5", .out_path = "/dev/null", .err_path = "/dev/null"};
    pid = harness_spawn(&sh, err, sizeof err);
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),           cmocka_unit_test(test_shell_syntax),
        cmocka_unit_test(test_quote),           cmocka_unit_test(test_render),
        cmocka_unit_test(test_which_and_hints), cmocka_unit_test(test_spawn_exec_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
