/* tests/run.sh's closing line says how many tests were skipped and why
 * (issue 14: `make test` skipped the Chromium, nginx and HAProxy tests and
 * its summary did not say so).  Fake test programs print what cmocka and
 * our skipping tests print; the closing line is checked word for word. */
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/cutover-runsum-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A fake test program named name that prints body and exits rc. */
static void fake(const char *name, const char *body, int rc)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\ncat <<'OUT'\n%sOUT\nexit %d\n", body, rc);
    fclose(f);
    chmod(path, 0755);
}

/* The last line tests/run.sh prints for the fakes named (space-separated);
 * its exit status into *rc. */
static char *closing_line(const char *names, int *rc)
{
    char cmd[512];
    int n = snprintf(cmd, sizeof cmd, "sh tests/run.sh");
    char copy[256];
    snprintf(copy, sizeof copy, "%s", names);
    for (char *save = NULL, *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save))
        n += snprintf(cmd + n, sizeof cmd - (size_t)n, " %s/%s", dir, t);
    snprintf(cmd + n, sizeof cmd - (size_t)n, " > %s/log 2>&1", dir);
    int st = system(cmd);
    *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    char path[128];
    snprintf(path, sizeof path, "%s/log", dir);
    char *log = tsup_read_file(path, NULL);
    assert_non_null(log);
    size_t len = strlen(log);
    while (len && log[len - 1] == '\n')
        log[--len] = '\0';
    char *last = strrchr(log, '\n');
    char *line = strdup(last ? last + 1 : log);
    free(log);
    return line;
}

static void test_skips_counted_with_reasons(void **state)
{
    fake("plain", "[  PASSED  ] 3 test(s).\n", 0);
    fake("nginx",
         "SKIP nginx not installed: test_smoke_nginx did not run\n[  PASSED  ] 1 test(s).\n"
         "[  SKIPPED ] 1 test(s), listed below:\n[  SKIPPED ] test_smoke_nginx\n",
         0);
    fake("browser",
         "SKIP chromium not installed: the browser check did not run\n[  PASSED  ] 2 test(s).\n"
         "[  SKIPPED ] 1 test(s), listed below:\n[  SKIPPED ] test_chromium_renders\n",
         0);
    fake("offline",
         "SKIP no network: x\n[  PASSED  ] 0 test(s).\n[  SKIPPED ] 1 test(s), listed below:\n", 0);
    fake("silent", "[  PASSED  ] 0 test(s).\n[  SKIPPED ] 2 test(s), listed below:\n", 0);
    fake("broken", "[  PASSED  ] 1 test(s).\n[  FAILED  ] 1 test(s), listed below:\n", 1);
    int rc;
    char *l = closing_line("plain", &rc);
    assert_string_equal(l, "tests: 3 passed, 0 failed, 0 skipped");
    assert_int_equal(rc, 0);
    free(l);
    l = closing_line("plain nginx browser", &rc);
    assert_string_equal(l, "tests: 6 passed, 0 failed, 2 skipped (nginx, chromium not installed)");
    assert_int_equal(rc, 0);
    free(l);
    l = closing_line("nginx offline silent broken", &rc);
    assert_string_equal(l, "tests: 2 passed, 1 failed, 4 skipped (nginx not installed; no network; "
                           "silent gave no reason)");
    assert_int_not_equal(rc, 0);
    free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_skips_counted_with_reasons, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
