/* The runner: one scenario from start to verdict.  Blue and green mocks run
 * in process on the runner's libev loop; the relay runs as a child in its own
 * process group; timeline, traffic, readiness and timeouts are timers on that
 * one loop and one monotonic clock.  Teardown always leaves no child behind,
 * also after SIGINT (harness_runner_interrupt) or a relay that hangs. */
#ifndef HARNESS_RUNNER_H
#define HARNESS_RUNNER_H

#include "harness/profile.h"
#include "harness/scenario.h"
#include "reports/report.h"

#include <stdint.h>

struct harness_run_opts {
    const char *out_dir; /* per-scenario artefacts go below it */
    uint64_t seed;
    double time_scale;
    const char *relay_cmd; /* --relay 'CMD {blue_url} {green_url} {port} {events}' or NULL */
    const char *relay_bin; /* our relay when relay_cmd is NULL */
    /* A relay profile (harness/profile.h) instead of relay_cmd/relay_bin, or
     * NULL.  Its settings, config template, readiness and what it tells
     * decide how the relay starts and which checks can hold. */
    const struct harness_profile *profile;
    /* Drive a relay that already runs (--relay-url) instead of starting one;
     * the mocks then listen on blue_port / green_port (0: ephemeral). */
    const char *relay_url;
    int blue_port, green_port;
    int verbose;
    int run_index; /* repetition number, for artefact names */
    int replicas;  /* --replicas N: the fleet's size over the scenario's (0: the scenario's) */
    /* Live progress (reports/progress.c): called from the poll timer about
     * five times a second while traffic runs and settles; NULL for none. */
    void (*progress)(void *ctx, const struct report_progress *p);
    void *progress_ctx;
};

/* Runs s and fills rs (name, status, checks, log tail...).  Returns the
 * report status. */
int harness_run_scenario(const struct harness_scenario *s, const struct harness_run_opts *o,
                         struct report_scenario *rs);

/* Async-signal-safe: asks the running scenario to stop (SIGINT handler). */
void harness_runner_interrupt(void);
int harness_runner_interrupted(void);

/* Expands {blue_url} {green_url} {port} {events} in cmd through harness_render;
 * any other placeholder stays as written (malloc'd). */
char *harness_expand_cmd(const char *cmd, const char *blue, const char *green, int port,
                         const char *events);

/* mkdir -p: path and every missing parent (0755); 0, or -1 with errno. */
int harness_mkdirs(const char *path);

/* A TCP port free on 127.0.0.1 right now (bound once and released), or -1. */
int harness_free_port(void);

#endif
