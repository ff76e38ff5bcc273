/* Unit tests of harness/jobs.c: a result survives the trip between
 * processes (struct, checks, log tail, scenario copy), a damaged one is
 * refused with a reason, and the rules of the pool (default width, which
 * scenario runs alone, what counts as disturbed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "co_clock.h"
#include "harness/jobs.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fill(struct report_scenario *rs)
{
    memset(rs, 0, sizeof *rs);
    snprintf(rs->name, sizeof rs->name, "blue-503");
    snprintf(rs->file, sizeof rs->file, "scenarios/failover/blue-503.json");
    rs->status = REPORT_FAIL;
    rs->seed = 43;
    rs->requests = 40;
    rs->driver.present = 1;
    rs->driver.achieved_rps = 39.5;
    rs->n_checks = 2;
    rs->checks = calloc(2, sizeof *rs->checks);
    snprintf(rs->checks[0].check, sizeof rs->checks[0].check, "harness_on_time");
    rs->checks[0].status = REPORT_INCONCLUSIVE;
    snprintf(rs->checks[0].measured, sizeof rs->checks[0].measured, "late by at most 80.0 ms");
    snprintf(rs->checks[1].check, sizeof rs->checks[1].check, "attempts");
    rs->checks[1].status = REPORT_FAIL;
    rs->checks[1].margin = -1.5;
    rs->log_tail = strdup("line one\nline two\n");
    rs->doc = json_pack("{s:s, s:[i,i]}", "name", "blue-503", "v", 1, 2);
    rs->observability = json_pack("{s:s, s:b}", "ids", "X-Request-ID", "events", 0);
}

static void test_roundtrip(void **state)
{
    struct report_scenario a, b;
    fill(&a);
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(harness_result_write(f, &a), 0);
    rewind(f);
    char err[256] = "";
    assert_int_equal(harness_result_read(f, &b, err, sizeof err), 0);
    assert_string_equal(b.name, a.name);
    assert_string_equal(b.file, a.file);
    assert_int_equal(b.status, REPORT_FAIL);
    assert_int_equal(b.seed, 43);
    assert_int_equal(b.requests, 40);
    assert_true(b.driver.present);
    assert_true(b.driver.achieved_rps == 39.5);
    assert_int_equal(b.n_checks, 2);
    assert_string_equal(b.checks[1].check, "attempts");
    assert_true(b.checks[1].margin == -1.5);
    assert_string_equal(b.log_tail, a.log_tail);
    assert_true(json_equal(b.doc, a.doc));
    assert_true(json_equal(b.observability, a.observability));
    /* The copy owns its own memory. */
    assert_ptr_not_equal(b.checks, a.checks);
    assert_ptr_not_equal(b.doc, a.doc);
    assert_ptr_not_equal(b.observability, a.observability);
    /* And the disturbed rule reads the runner's own check. */
    assert_non_null(harness_disturbed(&b));
    assert_string_equal(harness_disturbed(&b)->measured, "late by at most 80.0 ms");
    b.checks[0].status = REPORT_PASS;
    assert_null(harness_disturbed(&b));
    report_scenario_clear(&a);
    report_scenario_clear(&b);
    fclose(f);
}

static void test_no_pointers(void **state)
{
    struct report_scenario a, b;
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "empty");
    FILE *f = tmpfile();
    assert_int_equal(harness_result_write(f, &a), 0);
    rewind(f);
    char err[256];
    assert_int_equal(harness_result_read(f, &b, err, sizeof err), 0);
    assert_null(b.checks);
    assert_null(b.log_tail);
    assert_null(b.doc);
    assert_null(b.observability);
    assert_string_equal(b.name, "empty");
    fclose(f);
}

static void test_damaged(void **state)
{
    struct report_scenario a, b;
    fill(&a);
    FILE *f = tmpfile();
    assert_int_equal(harness_result_write(f, &a), 0);
    long full = ftell(f);
    char *buf = malloc((size_t)full);
    rewind(f);
    assert_int_equal(fread(buf, 1, (size_t)full, f), (size_t)full);
    fclose(f);
    /* Cut at every length short of the whole: always refused, never a
     * half-filled result. */
    for (long cut = 0; cut < full; cut += cut < 64 ? 1 : 97) {
        FILE *g = tmpfile();
        fwrite(buf, 1, (size_t)cut, g);
        rewind(g);
        char err[256] = "";
        assert_int_equal(harness_result_read(g, &b, err, sizeof err), -1);
        assert_true(err[0] != '\0');
        assert_null(b.checks);
        assert_null(b.doc);
        fclose(g);
    }
    /* A wrong magic. */
    buf[0] ^= 0x55;
    FILE *g = tmpfile();
    fwrite(buf, 1, (size_t)full, g);
    rewind(g);
    char err[256];
    assert_int_equal(harness_result_read(g, &b, err, sizeof err), -1);
    fclose(g);
    free(buf);
    report_scenario_clear(&a);
}

static void test_rules(void **state)
{
    int d = harness_jobs_default();
    assert_true(d >= 1 && d <= 4);
    char err[512];
    const char *load = "{\"name\":\"l\",\"tags\":[\"load\"],\"traffic\":{\"concurrency\":2,"
                       "\"count\":4},\"expect\":[{\"check\":\"client_success_ratio\",\"min\":1}]}";
    const char *plain = "{\"name\":\"p\",\"tags\":[\"timing\"],\"traffic\":{\"rate_rps\":5,"
                        "\"duration_ms\":100},\"expect\":[{\"check\":\"client_success_ratio\","
                        "\"min\":1}]}";
    json_t *jl = json_loads(load, 0, NULL), *jp = json_loads(plain, 0, NULL);
    struct harness_scenario *sl = harness_scenario_from_json(jl, "l.json", 1.0, err, sizeof err);
    struct harness_scenario *sp = harness_scenario_from_json(jp, "p.json", 1.0, err, sizeof err);
    assert_non_null(sl);
    assert_non_null(sp);
    assert_true(harness_job_exclusive(sl));
    assert_false(harness_job_exclusive(sp));
    harness_scenario_free(&sl);
    harness_scenario_free(&sp);
    json_decref(jl);
    json_decref(jp);
}

/* ---- the pool, driven by a fake runner ----------------------------------------
 * Each run appends "name start_us end_us" to a log (O_APPEND: the runs are
 * processes), sleeps longer the earlier its job, so jobs finish in reverse
 * order, and the scenario named "disturbed" fails with harness_on_time
 * broken on its first run only (a marker file remembers it across
 * processes). */

static char tmpdir[64];

static int fake_run(const struct harness_scenario *s, const struct harness_run_opts *o,
                    struct report_scenario *rs)
{
    uint64_t t0 = co_clock_monotonic_us();
    int disturbed = 0, behind = 0, port = 0;
    if (strcmp(s->name, "port") == 0) {
        /* "port": another process took the relay's port on the first run. */
        char mark[256];
        snprintf(mark, sizeof mark, "%s/%s.mark", tmpdir, s->name);
        port = access(mark, F_OK) != 0;
        if (port)
            close(open(mark, O_CREAT | O_WRONLY, 0644));
        memset(rs, 0, sizeof *rs);
        snprintf(rs->name, sizeof rs->name, "%s", s->name);
        rs->status = port ? REPORT_ERROR : REPORT_PASS;
        rs->port_taken = port;
        return rs->status;
    }
    if (strcmp(s->name, "disturbed") == 0 || strcmp(s->name, "behind") == 0) {
        char mark[256];
        snprintf(mark, sizeof mark, "%s/%s.mark", tmpdir, s->name);
        disturbed = access(mark, F_OK) != 0;
        if (disturbed)
            close(open(mark, O_CREAT | O_WRONLY, 0644));
        /* "behind": the driver fell behind, the runner's timeline did not. */
        behind = disturbed && strcmp(s->name, "behind") == 0;
        disturbed &= !behind;
    }
    usleep((useconds_t)(150000 - 20000 * o->run_index));
    memset(rs, 0, sizeof *rs);
    snprintf(rs->name, sizeof rs->name, "%s", s->name);
    rs->status = disturbed ? REPORT_FAIL : behind ? REPORT_INCONCLUSIVE : REPORT_PASS;
    if (behind) {
        rs->driver.present = rs->driver.behind = 1;
        snprintf(rs->driver.reason, sizeof rs->driver.reason,
                 "the driver, not the relay, fell behind: send lag p99 60.0 ms (above 50 ms)");
    }
    rs->n_checks = 1;
    rs->checks = calloc(1, sizeof *rs->checks);
    snprintf(rs->checks[0].check, sizeof rs->checks[0].check, "harness_on_time");
    rs->checks[0].status = disturbed ? REPORT_INCONCLUSIVE : REPORT_PASS;
    snprintf(rs->checks[0].measured, sizeof rs->checks[0].measured, "late by at most %s ms",
             disturbed ? "90.0" : "0.5");
    char line[256], log[128];
    snprintf(log, sizeof log, "%s/runs.log", tmpdir);
    int n = snprintf(line, sizeof line, "%s %llu %llu\n", s->name, (unsigned long long)t0,
                     (unsigned long long)co_clock_monotonic_us());
    int fd = open(log, O_CREAT | O_WRONLY | O_APPEND, 0644);
    if (fd >= 0) {
        if (write(fd, line, (size_t)n) != n)
            rs->status = REPORT_ERROR;
        close(fd);
    }
    return rs->status;
}

struct seen {
    size_t order[8];
    int status[8];
    char rerun[8][512];
    size_t n;
};

static void on_ready(void *ctx, struct harness_job *j, size_t index)
{
    struct seen *v = ctx;
    v->order[v->n] = index;
    v->status[v->n] = j->res->status;
    snprintf(v->rerun[v->n], sizeof v->rerun[v->n], "%s", j->res->rerun);
    v->n++;
}

struct span {
    char name[32];
    unsigned long long a, b;
};

static size_t read_log(struct span *v, size_t cap)
{
    char log[128];
    snprintf(log, sizeof log, "%s/runs.log", tmpdir);
    FILE *f = fopen(log, "r");
    assert_non_null(f);
    size_t n = 0;
    while (n < cap && fscanf(f, "%31s %llu %llu", v[n].name, &v[n].a, &v[n].b) == 3)
        n++;
    fclose(f);
    return n;
}

static int overlaps(const struct span *x, const struct span *y)
{
    return x->a < y->b && y->a < x->b;
}

static void run_pool(int width, struct seen *seen)
{
    static const char *const names[] = {"a", "behind", "disturbed", "c", "heavy"};
    static struct harness_scenario sc[5];
    struct harness_job jobs[5];
    memset(jobs, 0, sizeof jobs);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cutover-jobs-unit-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    for (int i = 0; i < 5; i++) {
        memset(&sc[i], 0, sizeof sc[i]);
        snprintf(sc[i].name, sizeof sc[i].name, "%s", names[i]);
        jobs[i].s = &sc[i];
        jobs[i].run = fake_run;
        jobs[i].ro.run_index = i;
        jobs[i].exclusive = strcmp(names[i], "heavy") == 0;
    }
    memset(seen, 0, sizeof *seen);
    assert_int_equal(harness_jobs_run(jobs, 5, width, on_ready, seen), 5);
    for (int i = 0; i < 5; i++)
        assert_null(jobs[i].res); /* the pool freed every result after ready */
}

static void cleanup_tmp(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    assert_int_equal(system(cmd), 0);
}

/* A relay that died because another process took its port first is a
 * harness error that says nothing of the relay: run again (on a fresh
 * port), serially and in the pool alike. */
static void test_port_taken_rerun(void **state)
{
    for (int width = 1; width <= 2; width++) {
        static struct harness_scenario sc[2];
        struct harness_job jobs[2];
        memset(jobs, 0, sizeof jobs);
        snprintf(tmpdir, sizeof tmpdir, "/tmp/cutover-jobs-unit-XXXXXX");
        assert_non_null(mkdtemp(tmpdir));
        for (int i = 0; i < 2; i++) {
            memset(&sc[i], 0, sizeof sc[i]);
            snprintf(sc[i].name, sizeof sc[i].name, "%s", i ? "port" : "a");
            jobs[i].s = &sc[i];
            jobs[i].run = fake_run;
            jobs[i].ro.run_index = i;
        }
        struct seen seen;
        memset(&seen, 0, sizeof seen);
        assert_int_equal(harness_jobs_run(jobs, 2, width, on_ready, &seen), 2);
        assert_int_equal(seen.status[1], REPORT_PASS);
        assert_non_null(strstr(seen.rerun[1], "another process took the relay's port"));
        assert_string_equal(seen.rerun[0], "");
        cleanup_tmp();
    }
}

static void test_pool_order_rerun_alone(void **state)
{
    struct seen seen;
    run_pool(3, &seen);
    /* In job order, whatever order they finished in; all passed in the end. */
    assert_int_equal(seen.n, 5);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(seen.order[i], i);
        assert_int_equal(seen.status[i], REPORT_PASS);
    }
    assert_non_null(strstr(seen.rerun[2], "re-run alone: run 1, beside"));
    /* A run disturbed by the driver alone is re-run too, its reason said. */
    assert_non_null(strstr(seen.rerun[1], "re-run alone: run 1"));
    assert_non_null(strstr(seen.rerun[1], "send lag p99 60.0 ms"));
    assert_non_null(strstr(seen.rerun[2], "--jobs 3"));
    assert_non_null(strstr(seen.rerun[2], "late by at most 90.0 ms"));
    assert_string_equal(seen.rerun[0], "");

    struct span v[16];
    size_t n = read_log(v, 16);
    assert_int_equal(n, 7); /* five jobs, two of them twice */
    int parallel = 0;
    const struct span *rerun = NULL, *heavy = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].name, "disturbed") == 0 && (!rerun || v[i].a > rerun->a))
            rerun = &v[i];
        if (strcmp(v[i].name, "heavy") == 0)
            heavy = &v[i];
        for (size_t k = i + 1; k < n; k++)
            parallel |= overlaps(&v[i], &v[k]);
    }
    assert_true(parallel); /* side by side for real */
    assert_non_null(rerun);
    assert_non_null(heavy);
    for (size_t i = 0; i < n; i++) {
        if (&v[i] != rerun)
            assert_false(overlaps(&v[i], rerun)); /* the rerun ran alone */
        if (&v[i] != heavy)
            assert_false(overlaps(&v[i], heavy)); /* so did the exclusive job */
    }
    cleanup_tmp();
}

static void test_pool_serial(void **state)
{
    struct seen seen;
    run_pool(1, &seen);
    assert_int_equal(seen.n, 5);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(seen.status[i], REPORT_PASS);
    assert_non_null(strstr(seen.rerun[2], "re-run: run 1 was disturbed"));
    assert_non_null(strstr(seen.rerun[1], "fell behind"));
    struct span v[16];
    size_t n = read_log(v, 16);
    assert_int_equal(n, 7);
    for (size_t i = 0; i < n; i++)
        for (size_t k = i + 1; k < n; k++)
            assert_false(overlaps(&v[i], &v[k])); /* one after the other */
    cleanup_tmp();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_no_pointers),
        cmocka_unit_test(test_damaged),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_pool_order_rerun_alone),
        cmocka_unit_test(test_port_taken_rerun),
        cmocka_unit_test(test_pool_serial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
