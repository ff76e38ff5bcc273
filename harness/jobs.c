/* The job pool of `cutover run --jobs N`: fork per job, results read back
 * from a temporary file, reported in job order.  See jobs.h for the model
 * and docs/scenarios.md ("Running scenarios in parallel") for the why. */
#include "harness/jobs.h"

#include "co_mem.h"
#include "harness/checks.h"
#include "harness/vutil.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <unistd.h>

#define RESULT_MAGIC 0x636f7231u /* "cor1" */
#define MAX_RERUNS   2           /* as many as the serial runner always allowed */
#define TEXT_CAP     (16u << 20) /* a log tail or scenario copy above this is corrupt */

enum { J_WAITING, J_RUNNING, J_DONE };

int harness_jobs_default(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long n = cores > 0 ? 2 * cores : 1;
    return (int)(n < 4 ? n : 4);
}

int harness_job_exclusive(const struct harness_scenario *s)
{
    return harness_scenario_has_tag(s, "load");
}

const struct report_check *harness_disturbed(const struct report_scenario *s)
{
    for (size_t i = 0; i < s->n_checks; i++)
        if (strcmp(s->checks[i].check, HARNESS_ON_TIME_CHECK) == 0 &&
            s->checks[i].status != REPORT_PASS)
            return &s->checks[i];
    return NULL;
}

/* ---- a result between processes ------------------------------------------------
 * The struct as bytes (the same binary writes and reads it), then what its
 * pointers point at: the checks, the log tail, the scenario copy and the observability as JSON (a
 * pointer field added to report_scenario needs its own line here). */

static int put_text(FILE *f, const char *s)
{
    uint64_t n = s ? strlen(s) : UINT64_MAX;
    if (fwrite(&n, sizeof n, 1, f) != 1)
        return -1;
    return s && n && fwrite(s, 1, n, f) != n ? -1 : 0;
}

static int get_text(FILE *f, char **out)
{
    uint64_t n;
    *out = NULL;
    if (fread(&n, sizeof n, 1, f) != 1)
        return -1;
    if (n == UINT64_MAX)
        return 0;
    if (n > TEXT_CAP)
        return -1;
    char *s = co_malloc(n + 1);
    if (n && fread(s, 1, n, f) != n) {
        free(s);
        return -1;
    }
    s[n] = '\0';
    *out = s;
    return 0;
}

int harness_result_write(FILE *f, const struct report_scenario *rs)
{
    uint32_t magic = RESULT_MAGIC, size = (uint32_t)sizeof *rs;
    char *doc = rs->doc ? json_dumps(rs->doc, JSON_COMPACT) : NULL;
    char *obs = rs->observability ? json_dumps(rs->observability, JSON_COMPACT) : NULL;
    int rc = -1;
    if (fwrite(&magic, sizeof magic, 1, f) != 1 || fwrite(&size, sizeof size, 1, f) != 1 ||
        fwrite(rs, sizeof *rs, 1, f) != 1)
        goto out;
    if (rs->n_checks && fwrite(rs->checks, sizeof *rs->checks, rs->n_checks, f) != rs->n_checks)
        goto out;
    if (put_text(f, rs->log_tail) != 0 || put_text(f, doc) != 0 || put_text(f, obs) != 0)
        goto out;
    rc = fflush(f) == 0 ? 0 : -1;
out:
    free(doc);
    free(obs);
    return rc;
}

int harness_result_read(FILE *f, struct report_scenario *rs, char *err, size_t errlen)
{
    uint32_t magic = 0, size = 0;
    char *doc = NULL, *obs = NULL;
    memset(rs, 0, sizeof *rs);
    int whole = fread(&magic, sizeof magic, 1, f) == 1 && fread(&size, sizeof size, 1, f) == 1 &&
                magic == RESULT_MAGIC && size == sizeof *rs && fread(rs, sizeof *rs, 1, f) == 1;
    /* The pointers are the writer's: never ours to follow or free. */
    rs->checks = NULL;
    rs->log_tail = NULL;
    rs->doc = NULL;
    rs->observability = NULL;
    if (!whole) {
        snprintf(err, errlen, "the job's result is missing or truncated");
        goto bad;
    }
    if (rs->n_checks > 4096) {
        snprintf(err, errlen, "the job's result claims %zu checks", rs->n_checks);
        goto bad;
    }
    if (rs->n_checks) {
        rs->checks = co_calloc(rs->n_checks, sizeof *rs->checks);
        if (fread(rs->checks, sizeof *rs->checks, rs->n_checks, f) != rs->n_checks) {
            snprintf(err, errlen, "the job's result is truncated in its checks");
            goto bad;
        }
    }
    if (get_text(f, &rs->log_tail) != 0 || get_text(f, &doc) != 0 || get_text(f, &obs) != 0) {
        snprintf(err, errlen, "the job's result is truncated in its texts");
        goto bad;
    }
    json_error_t je;
    if (doc) {
        rs->doc = json_loads(doc, 0, &je);
        if (!rs->doc) {
            snprintf(err, errlen, "the job's scenario copy is not JSON: %s", je.text);
            goto bad;
        }
    }
    if (obs) {
        rs->observability = json_loads(obs, 0, &je);
        if (!rs->observability) {
            snprintf(err, errlen, "the job's observability is not JSON: %s", je.text);
            goto bad;
        }
    }
    free(doc);
    free(obs);
    return 0;
bad:
    free(doc);
    free(obs);
    report_scenario_clear(rs);
    memset(rs, 0, sizeof *rs);
    return -1;
}

/* ---- the pool ------------------------------------------------------------------ */

struct pool {
    struct harness_job *v;
    size_t n;
    int jobs;
    int running;
    int exclusive_running; /* a job that must be alone runs */
    size_t next_launch;
    int signalled; /* the children were asked to stop */
};

/* A fresh, empty result for a run of j (the pool's until ready). */
static struct report_scenario *res_fresh(struct harness_job *j)
{
    if (j->res)
        report_scenario_clear(j->res);
    else
        j->res = co_malloc(sizeof *j->res);
    memset(j->res, 0, sizeof *j->res);
    return j->res;
}

/* After ready (which may have moved the result out) or when never reported. */
static void res_free(struct harness_job *j)
{
    if (!j->res)
        return;
    report_scenario_clear(j->res);
    free(j->res);
    j->res = NULL;
}

/* A result for a job whose process did not give one: a harness error that
 * still names the scenario. */
static void lost_result(struct harness_job *j, const char *why)
{
    struct report_scenario *rs = res_fresh(j);
    snprintf(rs->name, sizeof rs->name, "%s", j->s->name);
    snprintf(rs->file, sizeof rs->file, "%s", j->s->file);
    snprintf(rs->folder, sizeof rs->folder, "%s", j->s->folder);
    snprintf(rs->description, sizeof rs->description, "%s", j->s->description);
    harness_scenario_tags(j->s, rs->tags, sizeof rs->tags);
    rs->seed = j->ro.seed;
    rs->status = REPORT_ERROR;
    snprintf(rs->error, sizeof rs->error, "%s", why);
}

static void run_one(const struct harness_job *j, const struct harness_run_opts *ro,
                    struct report_scenario *rs)
{
    (j->run ? j->run : harness_run_scenario)(j->s, ro, rs);
}

static void run_here(struct harness_job *j)
{
    run_one(j, &j->ro, res_fresh(j));
}

static int launch(struct pool *p, struct harness_job *j)
{
    j->tmp = tmpfile();
    if (!j->tmp) {
        char why[256];
        harness_v_fmt(why, sizeof why, "cannot create the job's result file: %s", strerror(errno));
        lost_result(j, why);
        j->state = J_DONE;
        return -1;
    }
    /* Whatever is buffered would be written twice, once by each process. */
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        char why[256];
        harness_v_fmt(why, sizeof why, "cannot fork the job: %s", strerror(errno));
        fclose(j->tmp);
        j->tmp = NULL;
        lost_result(j, why);
        j->state = J_DONE;
        return -1;
    }
    if (pid == 0) {
        /* The child: one scenario, no live progress (its neighbours would
         * write over it), the result to the file, and out without running
         * the parent's exit handlers.  It must not outlive the parent,
         * whatever ends that (SIGKILL included): SIGTERM, which the runner
         * takes as an interruption and stops its relay.  The getppid check
         * closes the race with a parent that died before prctl. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(3);
        struct harness_run_opts ro = j->ro;
        struct report_scenario rs = {0};
        ro.progress = NULL;
        run_one(j, &ro, &rs);
        int rc = harness_result_write(j->tmp, &rs);
        fflush(stderr);
        _exit(rc == 0 ? 0 : 3);
    }
    j->pid = pid;
    j->state = J_RUNNING;
    p->running++;
    p->exclusive_running |= j->exclusive;
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i].state == J_RUNNING && p->v[i].neighbours < p->running - 1)
            p->v[i].neighbours = p->running - 1;
    return 0;
}

static void collect(struct pool *p, struct harness_job *j, int status)
{
    p->running--;
    if (j->exclusive)
        p->exclusive_running = 0;
    j->state = J_DONE;
    j->pid = 0;
    char err[256] = "";
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        rewind(j->tmp);
        if (harness_result_read(j->tmp, res_fresh(j), err, sizeof err) != 0) {
            char why[400];
            harness_v_fmt(why, sizeof why, "the runner's process for this scenario: %s", err);
            lost_result(j, why);
        }
    } else {
        char why[256];
        if (WIFSIGNALED(status))
            harness_v_fmt(why, sizeof why,
                          "the runner's process for this scenario ended by signal %d (%s)",
                          WTERMSIG(status), strsignal(WTERMSIG(status)));
        else
            harness_v_fmt(why, sizeof why,
                          "the runner's process for this scenario exited with status %d",
                          WEXITSTATUS(status));
        lost_result(j, why);
    }
    fclose(j->tmp);
    j->tmp = NULL;
}

/* Waits for one child; 0, or -1 when there is none. */
static int wait_one(struct pool *p)
{
    for (;;) {
        if (harness_runner_interrupted() && !p->signalled) {
            /* SIGTERM reached only us (a terminal's SIGINT reaches all):
             * pass it on, by PID, to the jobs still running. */
            p->signalled = 1;
            for (size_t i = 0; i < p->n; i++)
                if (p->v[i].state == J_RUNNING)
                    kill(p->v[i].pid, SIGTERM);
        }
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        for (size_t i = 0; i < p->n; i++)
            if (p->v[i].state == J_RUNNING && p->v[i].pid == pid) {
                collect(p, &p->v[i], status);
                return 0;
            }
        /* Not one of ours (cannot happen: the parent starts no other
         * child while the pool runs); keep waiting. */
    }
}

static void launch_more(struct pool *p)
{
    while (p->next_launch < p->n && p->running < p->jobs && !p->exclusive_running &&
           !harness_runner_interrupted()) {
        struct harness_job *j = &p->v[p->next_launch];
        if (j->exclusive && p->running > 0)
            return; /* it waits until it can run alone */
        p->next_launch++;
        launch(p, j);
    }
}

/* Disturbed: the runner fell behind its timeline (harness_on_time) or its
 * traffic schedule (the driver), and the verdict is not a pass; or another
 * process took the relay's port before the relay bound it (a busy machine
 * hands ephemeral ports out fast; the next run picks another). */
static int wants_rerun(const struct harness_job *j)
{
    return j->res->status != REPORT_PASS &&
           (harness_disturbed(j->res) || j->res->driver.behind || j->res->port_taken) &&
           j->reruns < MAX_RERUNS && !harness_runner_interrupted();
}

/* The note of a rerun, and the console line the serial runner always had.
 * The cause is the runner's punctuality check when it broke, else the
 * driver's own reason (a run can be disturbed by either alone). */
static void note_rerun(struct harness_job *j, int jobs, char *note, size_t n)
{
    const struct report_check *c = harness_disturbed(j->res);
    char why[sizeof j->res->driver.reason + 32];
    if (c)
        harness_v_fmt(why, sizeof why, "harness_on_time: %s", c->measured);
    else if (j->res->port_taken)
        harness_v_fmt(why, sizeof why, "another process took the relay's port");
    else
        harness_v_fmt(why, sizeof why, "%s", j->res->driver.reason);
    fprintf(stderr, "cutover run: %s: %s (%s); running it %s\n", j->s->name,
            j->res->port_taken && !c ? "the relay could not bind its port"
                                     : "the runner fell behind its schedule",
            why, jobs > 1 ? "again alone" : "again");
    if (jobs > 1 && j->neighbours > 0)
        harness_v_fmt(note, n,
                      "re-run alone: run %d, beside %d other scenario(s) under --jobs %d, was "
                      "disturbed (%s)",
                      j->reruns + 1, j->neighbours, jobs, why);
    else
        harness_v_fmt(note, n, "re-run: run %d was disturbed (%s)", j->reruns + 1, why);
}

static size_t run_serial(struct harness_job *v, size_t n, harness_job_ready_fn ready, void *ctx)
{
    size_t i;
    for (i = 0; i < n && !harness_runner_interrupted(); i++) {
        struct harness_job *j = &v[i];
        char note[sizeof j->res->rerun] = "";
        run_here(j);
        while (wants_rerun(j)) {
            note_rerun(j, 1, note, sizeof note);
            j->reruns++;
            run_here(j);
        }
        if (note[0])
            snprintf(j->res->rerun, sizeof j->res->rerun, "%s", note);
        j->state = J_DONE;
        ready(ctx, j, i);
        res_free(j);
    }
    return i;
}

size_t harness_jobs_run(struct harness_job *v, size_t n, int jobs, harness_job_ready_fn ready,
                        void *ctx)
{
    if (jobs <= 1)
        return run_serial(v, n, ready, ctx);
    struct pool p = {.v = v, .n = n, .jobs = jobs};
    size_t next_report = 0;
    char note[sizeof v->res->rerun] = "";
    int draining = 0; /* a disturbed job waits for the others to finish */
    while (next_report < n) {
        if (!draining)
            launch_more(&p);
        struct harness_job *j = &v[next_report];
        if (j->state == J_DONE) {
            if (wants_rerun(j)) {
                if (p.running > 0) {
                    draining = 1;
                    wait_one(&p);
                    continue;
                }
                if (!note[0])
                    note_rerun(j, jobs, note, sizeof note);
                j->reruns++;
                j->exclusive = 1; /* alone, and nothing starts beside it */
                launch(&p, j);
                continue;
            }
            if (note[0])
                snprintf(j->res->rerun, sizeof j->res->rerun, "%s", note);
            note[0] = '\0';
            draining = 0;
            ready(ctx, j, next_report++);
            res_free(j);
            continue;
        }
        if (j->state == J_WAITING && p.running == 0 && harness_runner_interrupted())
            break; /* never started; nothing left to wait for */
        if (wait_one(&p) != 0)
            break;
    }
    /* Interrupted: the jobs that ran past the last reported one are
     * collected (no child is left behind) and dropped. */
    while (p.running > 0 && wait_one(&p) == 0)
        ;
    for (size_t i = next_report; i < n; i++)
        res_free(&v[i]);
    return next_report;
}
