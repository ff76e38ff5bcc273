/* SIGKILL to `cutover run` in the middle of a fleet scenario leaves nothing
 * it started: Redis and every relay replica are gone within a bound, also
 * when one of them is stopped (SIGSTOP, a "pause" step) at that moment, and
 * whether the scenario runs in the runner (--jobs 1) or in a job process.
 * The processes are found as the runner's descendants in /proc, watched
 * for the whole run until the kill. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/tsupport.h"

#include "co_clock.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static int mult = 2; /* upper bounds of waits, scaled (SAN builds are slower) */

static int setup(void **state)
{
    const char *m = getenv("TEST_TIMEOUT_MULTIPLIER");
    if (m && atoi(m) > 0)
        mult = atoi(m);
    snprintf(dir, sizeof dir, "/tmp/cutover-orphans-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#define MAXP 64
struct procs {
    pid_t pid[MAXP];
    char comm[MAXP][32];
    size_t n;
};

/* The state letter and parent of pid ('\0' when it is gone). */
static char stat_of(pid_t pid, pid_t *ppid, char *comm, size_t commlen)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return '\0';
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
    if (!lp || !rp || rp[1] != ' ')
        return '\0';
    if (comm)
        snprintf(comm, commlen, "%.*s", (int)(rp - lp - 1), lp + 1);
    if (ppid)
        *ppid = (pid_t)atoi(rp + 4);
    return rp[2];
}

static int alive(pid_t pid)
{
    char s = stat_of(pid, NULL, NULL, 0);
    return s && s != 'Z' && s != 'X';
}

static int known(const struct procs *ps, pid_t pid)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ps->pid[i] == pid)
            return 1;
    return 0;
}

/* Adds every live descendant of root not yet in ps (a few passes: a child
 * may be listed before its parent). */
static void collect(struct procs *ps, pid_t root)
{
    for (int pass = 0; pass < 3; pass++) {
        DIR *d = opendir("/proc");
        if (!d)
            return;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            pid_t pid = (pid_t)atoi(e->d_name), ppid = 0;
            char comm[32];
            if (pid <= 0 || known(ps, pid) || !stat_of(pid, &ppid, comm, sizeof comm))
                continue;
            if ((ppid == root || known(ps, ppid)) && ps->n < MAXP) {
                ps->pid[ps->n] = pid;
                snprintf(ps->comm[ps->n], sizeof ps->comm[0], "%s", comm);
                ps->n++;
            }
        }
        closedir(d);
    }
}

static size_t count(struct procs *ps, const char *comm, char state)
{
    /* The name now: a child seen between fork and exec had the runner's. */
    size_t n = 0;
    for (size_t i = 0; i < ps->n; i++) {
        char now[32] = "";
        char s = stat_of(ps->pid[i], NULL, now, sizeof now);
        if (now[0])
            snprintf(ps->comm[i], sizeof ps->comm[i], "%s", now);
        if (strcmp(now, comm) == 0 && (state ? s == state : s && s != 'Z' && s != 'X'))
            n++;
    }
    return n;
}

/* Runs the scenario, waits until `stopped` (a program name, or NULL) has a
 * stopped process, or else until Redis and three replicas run; SIGKILLs
 * the runner alone; then every process it started must be gone. */
static void orphan_case(const char *scenario, const char *jobs, const char *stopped)
{
    if (!tsup_installed("redis-server")) {
        printf("SKIP: redis-server is not installed\n");
        skip();
    }
    char out[128];
    snprintf(out, sizeof out, "%s/%s", dir, strrchr(scenario, '/') + 1);
    char *argv[] = {(char *)tsup_bin("cutover"),
                    "run",
                    (char *)scenario,
                    "--out",
                    out,
                    "--jobs",
                    (char *)jobs,
                    "--no-color",
                    NULL};
    struct tproc p;
    assert_int_equal(tproc_spawn_in(&p, argv, NULL, NULL, NULL), 0);
    struct procs ps = {0};
    int ready = 0;
    uint64_t until = co_clock_monotonic_us() + (uint64_t)(15000 * mult) * 1000;
    while (!ready && co_clock_monotonic_us() < until && tproc_alive(&p)) {
        collect(&ps, p.pid);
        ready = stopped ? count(&ps, stopped, 'T') > 0
                        : count(&ps, "redis-server", 0) == 1 && count(&ps, "cutover-relay", 0) >= 3;
        if (!ready)
            usleep(5000);
    }
    int runner_gone = !tproc_alive(&p);
    kill(p.pid, SIGKILL); /* the runner alone, not its group */
    if (!ready) {
        char *o1 = tproc_read(&p, 1), *o2 = tproc_read(&p, 2);
        fprintf(stderr, "runner output:\n%s\n%s\n", o1 ? o1 : "", o2 ? o2 : "");
        free(o1);
        free(o2);
        tproc_stop(&p, SIGKILL, 1000);
        for (size_t i = 0; i < ps.n; i++)
            kill(ps.pid[i], SIGKILL);
        fail_msg("%s: never saw %s (%zu processes seen; the runner %s)", scenario,
                 stopped ? "a stopped process" : "the fleet running", ps.n,
                 runner_gone ? "had exited" : "still ran");
    }
    uint64_t t0 = co_clock_monotonic_us();
    size_t left = ps.n;
    while (left && co_clock_monotonic_us() - t0 < (uint64_t)(4000 * mult) * 1000) {
        left = 0;
        for (size_t i = 0; i < ps.n; i++)
            left += alive(ps.pid[i]) != 0;
        if (left)
            usleep(10000);
    }
    double ms = (double)(co_clock_monotonic_us() - t0) / 1000;
    char names[512] = "";
    for (size_t i = 0, o = 0; i < ps.n && o < sizeof names; i++)
        if (alive(ps.pid[i])) {
            o += (size_t)snprintf(names + o, sizeof names - o, " %s(%d)", ps.comm[i],
                                  (int)ps.pid[i]);
            kill(ps.pid[i], SIGKILL); /* the test leaves nothing behind */
        }
    tproc_stop(&p, SIGKILL, 1000);
    if (left)
        fail_msg("%s: %zu of %zu processes still run %.0f ms after SIGKILL to the runner:%s",
                 scenario, left, ps.n, ms, names);
    print_message("%s (--jobs %s): %zu processes gone %.0f ms after SIGKILL to the runner\n",
                  scenario, jobs, ps.n, ms);
}

static void test_fleet_running(void **state)
{
    orphan_case("scenarios/fleet/fleet-one-replica-killed.json", "1", NULL);
}

static void test_redis_stopped_in_runner(void **state)
{
    orphan_case("scenarios/fleet/fleet-redis-paused-fail-open.json", "1", "redis-server");
}

static void test_replica_stopped_in_job(void **state)
{
    orphan_case("scenarios/fleet/fleet-paused-replica-catches-up.json", "2", "cutover-relay");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fleet_running),
        cmocka_unit_test(test_redis_stopped_in_runner),
        cmocka_unit_test(test_replica_stopped_in_job),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
