/* Integration tests of `cutover run --jobs N` through the real binaries: a
 * parallel run gives the verdicts, exit code, console order and artefact
 * files of a serial run, its scenarios did overlap in time, and --jobs is
 * refused where one relay or fixed mock ports serve one scenario at a
 * time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/tsupport.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
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
    snprintf(dir, sizeof dir, "/tmp/cutover-jobs-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

struct result {
    int exit_code;
    char *out, *err;
};

/* Runs bin/cutover with args (NULL-terminated), waiting up to timeout_ms. */
static struct result cutover(int timeout_ms, ...)
{
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)tsup_bin("cutover");
    va_list ap;
    va_start(ap, timeout_ms);
    char *a;
    while ((a = va_arg(ap, char *)) != NULL && n < 31)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    struct tproc p;
    assert_int_equal(tproc_spawn(&p, argv), 0);
    int st = tproc_wait_exit(&p, timeout_ms);
    struct result r = {-1, tproc_read(&p, 1), tproc_read(&p, 2)};
    if (st != -1 && WIFEXITED(st))
        r.exit_code = WEXITSTATUS(st);
    tproc_stop(&p, SIGKILL, 1000);
    if (st == -1)
        fail_msg("cutover did not finish within %d ms", timeout_ms);
    return r;
}

static void result_free(struct result *r)
{
    free(r->out);
    free(r->err);
}

static json_t *load_results(const char *out)
{
    char path[256];
    snprintf(path, sizeof path, "%s/results.json", out);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        fail_msg("%s: %s", path, je.text);
    return j;
}

/* Every file under root, as paths relative to it, sorted, one per line. */
static void list_files(const char *root, const char *rel, char *out, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s%s%s", root, rel[0] ? "/" : "", rel);
    struct dirent **ents;
    int k = scandir(path, &ents, NULL, alphasort);
    assert_true(k >= 0);
    for (int i = 0; i < k; i++) {
        const char *name = ents[i]->d_name;
        if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
            char sub[512], full[1024];
            snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", name);
            snprintf(full, sizeof full, "%s/%s", root, sub);
            struct stat sb;
            assert_int_equal(stat(full, &sb), 0);
            if (S_ISDIR(sb.st_mode)) {
                list_files(root, sub, out, n);
            } else {
                size_t len = strlen(out);
                snprintf(out + len, n - len, "%s\n", sub);
            }
        }
        free(ents[i]);
    }
    free(ents);
}

/* The console's per-scenario lines "[ i/n] STATUS file", in order. */
static void console_lines(const char *out, char *v, size_t n)
{
    v[0] = '\0';
    for (const char *p = out; (p = strstr(p, "\n[")) != NULL; p++) {
        char status[32], file[256];
        if (sscanf(p + 1, "[%*[ 0-9]/%*d] %31s %255s", status, file) == 2) {
            size_t len = strlen(v);
            snprintf(v + len, n - len, "%s %s\n", status, file);
        }
    }
}

static const char *const files[][2] = {
    {"a-pass.json",
     "{\"name\": \"a-pass\", \"traffic\": {\"rate_rps\": 40, \"duration_ms\": 600},\n"
     " \"expect\": [{\"check\": \"client_success_ratio\", \"min\": 1.0},\n"
     "            {\"check\": \"attempts\", \"exact\": 1}]}\n"},
    {"b-fail.json",
     "{\"name\": \"b-fail\", \"traffic\": {\"rate_rps\": 40, \"duration_ms\": 600},\n"
     " \"expect\": [{\"check\": \"attempts\", \"exact\": 2}]}\n"},
    {"c-inconclusive.json",
     "{\"name\": \"c-inconclusive\", \"traffic\": {\"rate_rps\": 20, \"duration_ms\": 600},\n"
     " \"expect\": [{\"check\": \"latency\", \"p99_ms\": 1000, \"min_samples\": 1000}]}\n"},
    {"d-failover.json",
     "{\"name\": \"d-failover\", \"relay\": {\"max_attempts\": 3, \"backoff_base_ms\": 10, "
     "\"jitter\": \"none\"},\n"
     " \"timeline\": [{\"at_ms\": 200, \"blue\": {\"status\": 503}}],\n"
     " \"traffic\": {\"rate_rps\": 40, \"duration_ms\": 600},\n"
     " \"expect\": [{\"check\": \"client_success_ratio\", \"min\": 0.9}]}\n"},
};

static void test_jobs_same_as_serial(void **state)
{
    char sc[128], o1[128], o3[128];
    snprintf(sc, sizeof sc, "%s/sc", dir);
    assert_int_equal(mkdir(sc, 0755), 0);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char name[128];
        snprintf(name, sizeof name, "sc/%s", files[i][0]);
        write_file(name, files[i][1]);
    }
    snprintf(o1, sizeof o1, "%s/o1", dir);
    snprintf(o3, sizeof o3, "%s/o3", dir);
    struct result r1 = cutover(60000, "run", sc, "--out", o1, "--jobs", "1", "--no-color", NULL);
    struct result r3 = cutover(60000, "run", sc, "--out", o3, "--jobs", "3", "--no-color", NULL);
    /* A failing scenario and an inconclusive one: exit 1 both ways. */
    assert_int_equal(r1.exit_code, 1);
    assert_int_equal(r3.exit_code, r1.exit_code);

    static char l1[4096], l3[4096];
    console_lines(r1.out, l1, sizeof l1);
    console_lines(r3.out, l3, sizeof l3);
    assert_non_null(strstr(l1, "FAIL"));
    assert_string_equal(l3, l1);

    json_t *j1 = load_results(o1), *j3 = load_results(o3);
    json_t *s1 = json_object_get(j1, "scenarios"), *s3 = json_object_get(j3, "scenarios");
    assert_int_equal(json_array_size(s1), 4);
    assert_int_equal(json_array_size(s3), json_array_size(s1));
    for (size_t i = 0; i < json_array_size(s1); i++) {
        json_t *a = json_array_get(s1, i), *b = json_array_get(s3, i);
        assert_string_equal(json_string_value(json_object_get(b, "name")),
                            json_string_value(json_object_get(a, "name")));
        assert_string_equal(json_string_value(json_object_get(b, "status")),
                            json_string_value(json_object_get(a, "status")));
        json_t *ca = json_object_get(a, "checks"), *cb = json_object_get(b, "checks");
        assert_int_equal(json_array_size(cb), json_array_size(ca));
        for (size_t k = 0; k < json_array_size(ca); k++) {
            json_t *x = json_array_get(ca, k), *y = json_array_get(cb, k);
            assert_string_equal(json_string_value(json_object_get(y, "check")),
                                json_string_value(json_object_get(x, "check")));
            assert_string_equal(json_string_value(json_object_get(y, "status")),
                                json_string_value(json_object_get(x, "status")));
        }
    }
    json_t *sum1 = json_object_get(j1, "summary"), *sum3 = json_object_get(j3, "summary");
    assert_true(json_equal(sum1, sum3));

    /* Side by side for real: some two scenarios' traffic windows overlap
     * (each lasts 600 ms; serial runs never overlap). */
    int overlap = 0;
    for (size_t i = 0; i < json_array_size(s3); i++)
        for (size_t k = i + 1; k < json_array_size(s3); k++) {
            json_int_t ti = json_integer_value(json_object_get(json_array_get(s3, i), "t0_us"));
            json_int_t tk = json_integer_value(json_object_get(json_array_get(s3, k), "t0_us"));
            overlap |= ti && tk && llabs((long long)(ti - tk)) < 600000;
        }
    assert_true(overlap);

    /* The same artefacts, file for file. */
    static char f1[16384], f3[16384];
    f1[0] = f3[0] = '\0';
    list_files(o1, "", f1, sizeof f1);
    list_files(o3, "", f3, sizeof f3);
    assert_non_null(strstr(f1, "events.jsonl"));
    assert_string_equal(f3, f1);
    json_decref(j1);
    json_decref(j3);
    result_free(&r1);
    result_free(&r3);
}

static void test_jobs_refused_with_one_relay(void **state)
{
    write_file("one.json", files[0][1]);
    char p[128];
    snprintf(p, sizeof p, "%s/one.json", dir);
    struct result r =
        cutover(10000, "run", p, "--relay-url", "http://127.0.0.1:9", "--jobs", "2", NULL);
    assert_int_equal(r.exit_code, 2);
    assert_non_null(strstr(r.err, "--jobs"));
    result_free(&r);
    r = cutover(10000, "run", p, "--jobs", "0", NULL);
    assert_int_equal(r.exit_code, 2);
    result_free(&r);
    r = cutover(10000, "run", p, "--jobs", "x", NULL);
    assert_int_equal(r.exit_code, 2);
    result_free(&r);
}

/* SIGINT to the parent alone (as a CI runner's kill would do) while three
 * long scenarios run side by side: exit 3 soon, and none of the three
 * relays is left behind. */
static void test_jobs_interrupted(void **state)
{
    char sc[128], out[128];
    snprintf(sc, sizeof sc, "%s/long", dir);
    assert_int_equal(mkdir(sc, 0755), 0);
    for (int i = 0; i < 3; i++) {
        char name[64], text[256];
        snprintf(name, sizeof name, "long/l%d.json", i);
        snprintf(text, sizeof text,
                 "{\"name\": \"long-%d\", \"traffic\": {\"rate_rps\": 20, \"duration_ms\": "
                 "20000},\n \"expect\": [{\"check\": \"client_success_ratio\", \"min\": 1}]}\n",
                 i);
        write_file(name, text);
    }
    snprintf(out, sizeof out, "%s/out-int", dir);
    char *argv[] = {(char *)tsup_bin("cutover"), "run", sc, "--out", out, "--jobs", "3", NULL};
    struct tproc p;
    assert_int_equal(tproc_spawn(&p, argv), 0);
    /* Wait until the three relays have started (their start events). */
    pid_t relays[3] = {0, 0, 0};
    for (int tries = 0; tries < 200; tries++) {
        int found = 0;
        for (int i = 0; i < 3; i++) {
            char events[256], line[512];
            snprintf(events, sizeof events, "%s/long/l%d_json/events.jsonl", out, i);
            FILE *f = fopen(events, "r");
            if (f && fgets(line, sizeof line, f)) {
                json_t *start = json_loads(line, 0, NULL);
                relays[i] = (pid_t)json_integer_value(json_object_get(start, "pid"));
                json_decref(start);
            }
            if (f)
                fclose(f);
            found += relays[i] > 0;
        }
        if (found == 3)
            break;
        usleep(50000);
    }
    for (int i = 0; i < 3; i++)
        assert_true(relays[i] > 0);
    kill(p.pid, SIGINT);
    int st = tproc_wait_exit(&p, 15000);
    tproc_stop(&p, SIGKILL, 1000);
    assert_true(st != -1);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(kill(relays[i], 0), -1);
        assert_int_equal(errno, ESRCH);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_jobs_same_as_serial),
        T(test_jobs_refused_with_one_relay),
        T(test_jobs_interrupted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
