/* Bad scenario files through `cutover validate`: truncated, wrong types,
 * huge numbers, unknown keys, deep nesting, binary, empty and 10 MB files.
 * Each must exit 2 with a message that names the file and the problem (a
 * line:column or a JSON path), quickly and without a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "co_clock.h"
#include "tests/support/tsupport.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char good[] =
    "{\n"
    "  \"name\": \"badinput-base\",\n"
    "  \"tags\": [\"smoke\"],\n"
    "  \"relay\": {\"max_attempts\": 3, \"backoff_base_ms\": 20, \"jitter\": \"none\"},\n"
    "  \"upstreams\": {\"blue\": {\"latency_ms\": 5}, \"green\": {\"latency_ms\": 5}},\n"
    "  \"timeline\": [{\"at_ms\": 300, \"mark\": \"fault_on\", \"blue\": {\"status\": 503}}],\n"
    "  \"traffic\": {\"rate_rps\": 50, \"duration_ms\": 1000},\n"
    "  \"expect\": [{\"check\": \"client_success_ratio\", \"min\": 0.99}]\n"
    "}\n";

static char dir[128];

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/cutover-badscen-%d", (int)getpid());
    return mkdir(dir, 0700);
}

static int teardown(void **state)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* Runs `cutover validate path`; returns the exit code, fills out with
 * stdout+stderr. */
static int validate(const char *path, char *out, size_t cap)
{
    struct tproc p;
    char *argv[] = {(char *)tsup_bin("cutover"), "validate", (char *)path, NULL};
    assert_int_equal(tproc_spawn(&p, argv), 0);
    int st = tproc_wait_exit(&p, 20000);
    if (st == -1) {
        tproc_stop(&p, SIGKILL, 1000);
        fail_msg("validate %s did not finish in 20 s", path);
    }
    char *o = tproc_read(&p, 1), *e = tproc_read(&p, 2);
    snprintf(out, cap, "%s%s", o, e);
    free(o);
    free(e);
    tproc_stop(&p, SIGKILL, 0); /* exited: removes the output files */
    if (!WIFEXITED(st))
        fail_msg("validate %s died with signal %d", path, WTERMSIG(st));
    return WEXITSTATUS(st);
}

/* good with the first `from` replaced by `to`. */
static char *variant(const char *from, const char *to)
{
    const char *p = strstr(good, from);
    assert_non_null(p);
    char *s = malloc(sizeof good + strlen(to));
    size_t k = (size_t)(p - good);
    memcpy(s, good, k);
    strcpy(s + k, to);
    strcat(s, p + strlen(from));
    return s;
}

static void expect_invalid(const char *name, const char *data, size_t len, const char *needle)
{
    char path[256], out[8192];
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    write_file(path, data, len);
    uint64_t t0 = co_clock_monotonic_us();
    int rc = validate(path, out, sizeof out);
    uint64_t ms = (co_clock_monotonic_us() - t0) / 1000;
    if (rc != 2)
        fail_msg("%s: exit %d, expected 2: %s", name, rc, out);
    if (!strstr(out, path))
        fail_msg("%s: message does not name the file: %s", name, out);
    if (needle && !strstr(out, needle))
        fail_msg("%s: message lacks \"%s\": %s", name, needle, out);
    if (ms > 10000)
        fail_msg("%s: took %llu ms", name, (unsigned long long)ms);
}

static void test_base_is_valid(void **state)
{
    char path[256], out[4096];
    snprintf(path, sizeof path, "%s/good.json", dir);
    write_file(path, good, sizeof good - 1);
    int rc = validate(path, out, sizeof out);
    if (rc != 0)
        fail_msg("the base scenario is invalid (exit %d): %s", rc, out);
}

static void test_truncated(void **state)
{
    for (size_t cut = 1; cut < sizeof good - 2; cut += 37) {
        char name[32];
        snprintf(name, sizeof name, "trunc-%zu", cut);
        expect_invalid(name, good, cut, NULL);
    }
    expect_invalid("empty", "", 0, NULL);
}

static void test_wrong_types(void **state)
{
    static const struct {
        const char *from, *to, *needle;
    } cases[] = {
        {"\"rate_rps\": 50", "\"rate_rps\": \"fast\"", "$.traffic.rate_rps"},
        {"\"rate_rps\": 50", "\"rate_rps\": [50]", "$.traffic.rate_rps"},
        {"\"tags\": [\"smoke\"]", "\"tags\": \"smoke\"", "$.tags"},
        {"\"max_attempts\": 3", "\"max_attempts\": true", "max_attempts"},
        {"\"at_ms\": 300", "\"at_ms\": null", "$.timeline[0]"},
        {"\"min\": 0.99", "\"min\": {}", "$.expect[0]"},
        {"\"name\": \"badinput-base\"", "\"name\": 7", "$.name"},
        {"\"timeline\": [", "\"timeline\": {\"x\":[", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        char *s = variant(cases[i].from, cases[i].to);
        snprintf(name, sizeof name, "type-%zu", i);
        expect_invalid(name, s, strlen(s), cases[i].needle);
        free(s);
    }
}

static void test_huge_numbers(void **state)
{
    static const struct {
        const char *from, *to, *needle;
    } cases[] = {
        {"\"rate_rps\": 50", "\"rate_rps\": 1e400", "overflow"},
        {"\"rate_rps\": 50", "\"rate_rps\": 99999999999999999999999", "too big integer"},
        {"\"rate_rps\": 50", "\"rate_rps\": 1e300", "$.traffic.rate_rps"},
        {"\"rate_rps\": 50", "\"rate_rps\": -50", "$.traffic.rate_rps"},
        {"\"duration_ms\": 1000", "\"duration_ms\": 9223372036854775807", "$.traffic.duration_ms"},
        {"\"at_ms\": 300", "\"at_ms\": -9223372036854775807", "$.timeline[0]"},
        {"\"max_attempts\": 3", "\"max_attempts\": 4294967297", "max_attempts"},
        {"\"min\": 0.99", "\"min\": 1e-320", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        char *s = variant(cases[i].from, cases[i].to);
        snprintf(name, sizeof name, "huge-%zu", i);
        /* A denormal ratio is a valid (if odd) bound: exit 0 is allowed
         * only for the case without a needle. */
        if (!cases[i].needle) {
            char path[256], out[4096];
            snprintf(path, sizeof path, "%s/%s.json", dir, name);
            write_file(path, s, strlen(s));
            int rc = validate(path, out, sizeof out);
            assert_true(rc == 0 || rc == 2);
        } else {
            expect_invalid(name, s, strlen(s), cases[i].needle);
        }
        free(s);
    }
}

static void test_unknown_keys(void **state)
{
    static const struct {
        const char *from, *to, *needle;
    } cases[] = {
        {"\"rate_rps\": 50", "\"rate_rps\": 50, \"ratee\": 3", "ratee"},
        {"\"tags\"", "\"tagz\": [], \"tags\"", "tagz"},
        {"\"jitter\": \"none\"", "\"jitter\": \"none\", \"bogus_key\": 1", "bogus_key"},
        {"\"check\": \"client_success_ratio\"", "\"check\": \"no_such_check\"", "no_such_check"},
        {"\"status\": 503", "\"status\": 503, \"nonsense\": 1", "nonsense"},
        {"\"name\": \"badinput-base\"", "\"name\": \"a\", \"name\": \"b\"", "duplicate"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        char *s = variant(cases[i].from, cases[i].to);
        snprintf(name, sizeof name, "unknown-%zu", i);
        expect_invalid(name, s, strlen(s), cases[i].needle);
        free(s);
    }
}

static void test_monsters(void **state)
{
    /* 10 MB: a giant description, then a giant timeline. */
    size_t n = 10 * 1024 * 1024;
    char *big = malloc(n + 256);
    int k = sprintf(big, "{\"name\":\"x\",\"description\":\"");
    memset(big + k, 'x', n);
    strcpy(big + k + n, "\"}");
    expect_invalid("big-description", big, strlen(big), "at most");
    k = sprintf(big, "{\"name\":\"x\",\"timeline\":[");
    size_t len = (size_t)k;
    while (len < n) {
        len += (size_t)sprintf(big + len, "{\"at_ms\":%zu,\"blue\":{\"status\":503}},", len);
    }
    strcpy(big + len - 1, "]}");
    expect_invalid("big-timeline", big, strlen(big), "at most");
    /* Deep nesting and binary. */
    memset(big, '[', 200000);
    expect_invalid("deep", big, 200000, NULL);
    for (size_t i = 0; i < 100000; i++)
        big[i] = (char)(i * 2654435761u >> 13);
    expect_invalid("binary", big, 100000, NULL);
    free(big);
    /* Not a regular file at all. */
    char out[4096];
    int rc = validate("/dev/null", out, sizeof out);
    assert_int_equal(rc, 2);
    char missing[256];
    snprintf(missing, sizeof missing, "%s/does-not-exist.json", dir);
    rc = validate(missing, out, sizeof out);
    assert_int_equal(rc, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_is_valid), cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_wrong_types),   cmocka_unit_test(test_huge_numbers),
        cmocka_unit_test(test_unknown_keys),  cmocka_unit_test(test_monsters),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
