/* Running scenarios side by side: `cutover run --jobs N`.
 *
 * A scenario spends most of its time waiting on timers (the relay's
 * backoff, the timeline, the settle), so N of them at once finish the
 * library in about 1/N of the time on a machine with few cores.  Each job
 * (one scenario, one repetition, one relay) runs in a forked child: its own
 * libev loop, mocks on ephemeral ports, relay child and out folder, and
 * nothing shared with its neighbours but the CPU.  The child writes its
 * struct report_scenario to an unlinked temporary file the parent reads
 * back when the child has exited, so a crash in one scenario is one
 * harness error, not a lost run.
 *
 * The parent hands results to the caller in job order, whatever order
 * they finish in, so reports and exit codes are those of a serial run.  A
 * run whose own punctuality check (harness_on_time) failed and whose
 * verdict is not a pass was disturbed, possibly by its neighbours: it is
 * run again alone (no other job running), twice at most, and the result
 * says so in report_scenario.rerun.  A job marked exclusive (a scenario
 * tagged "load") always runs alone.
 *
 * With N = 1 every job runs in this process, one after the other, with
 * the same rerun rule: that is the serial run.
 *
 * Ownership: each job's res belongs to the pool; the ready callback may
 * move its content out (and zero it); the pool frees it after ready. */
#ifndef HARNESS_JOBS_H
#define HARNESS_JOBS_H

#include "harness/runner.h"
#include "harness/scenario.h"
#include "reports/report.h"

#include <stdio.h>
#include <sys/types.h>

#define HARNESS_JOBS_MAX 32

struct harness_job {
    const struct harness_scenario *s;
    struct harness_run_opts ro;
    int exclusive; /* runs with no neighbour */
    int user;      /* the caller's (cutover run: which relay) */
    /* What runs the scenario: NULL for harness_run_scenario (a test puts a
     * fake here to drive the pool without relays and clocks). */
    int (*run)(const struct harness_scenario *s, const struct harness_run_opts *o,
               struct report_scenario *rs);
    /* The result of its last run, allocated when it runs and freed after
     * ready (a job waiting to run costs no result's memory: --repeat 1000
     * of the library is 45,000 jobs). */
    struct report_scenario *res;
    /* The pool's own state. */
    int state; /* 0 waiting, 1 running, 2 done */
    pid_t pid;
    FILE *tmp;
    int reruns;
    int neighbours; /* most jobs running beside it */
};

/* Called once per job, in job order, when its result is final. */
typedef void (*harness_job_ready_fn)(void *ctx, struct harness_job *j, size_t index);

/* The default of --jobs: min(2 x cores, 4).  A library run uses a few
 * percent of one core, so four at once leave the machine idle; more than
 * four raise the odds that a busy shared machine delays a timer and earns a
 * rerun. */
int harness_jobs_default(void);

/* A scenario that must run alone: tagged "load" (it measures throughput or
 * latency under load, which neighbours would share). */
int harness_job_exclusive(const struct harness_scenario *s);

/* Runs v[0..n) with at most jobs at once (1: in this process) and calls
 * ready for each in order.  Stops launching on harness_runner_interrupted()
 * (running children are asked to stop with SIGTERM and still reported).
 * Returns the number of jobs reported. */
size_t harness_jobs_run(struct harness_job *v, size_t n, int jobs, harness_job_ready_fn ready,
                        void *ctx);

/* The harness_on_time verdict of a run when it did not hold, else NULL. */
const struct report_check *harness_disturbed(const struct report_scenario *s);

/* A result to and from a stream (between processes of one binary).
 * read returns 0, or -1 with err. */
int harness_result_write(FILE *f, const struct report_scenario *rs);
int harness_result_read(FILE *f, struct report_scenario *rs, char *err, size_t errlen);

#endif
