/* The results of a run as plain data: the status words, one check's verdict
 * (filled by harness/checks.c), the load driver's account and a scenario's
 * entry.  Shared by the harness, which fills them, and the report writers
 * (reports/report.h), which publish them; neither needs the other's API
 * for these.
 *
 * Ownership: report_scenario_clear (reports/report.h) frees what a scenario
 * entry holds. */
#ifndef REPORT_RESULTS_H
#define REPORT_RESULTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum report_status {
    REPORT_PASS,
    REPORT_FAIL,
    REPORT_INCONCLUSIVE,
    REPORT_ERROR,   /* harness error: a port, the relay would not start, a timeout */
    REPORT_INVALID, /* the scenario file is invalid */
    /* Not applicable to this relay: it has a setting fixed at another value
     * than the scenario needs (a profile's "fixed").  No verdict, no failure:
     * it leaves the exit code alone unless nothing else ran. */
    REPORT_NA,
};
#define REPORT_N_STATUS (REPORT_NA + 1)

/* How much a check's verdict weighs (a scenario's "severity" key): a
 * required check decides the scenario's status, the exit code and JUnit; an
 * advisory one that does not pass leaves the scenario passing "with
 * advisories", named in every report; an info check only reports a value. */
enum report_severity { REPORT_REQUIRED, REPORT_ADVISORY, REPORT_INFO };
#define REPORT_N_SEVERITY (REPORT_INFO + 1)

/* One check's verdict (filled by harness/checks.c). */
struct report_check {
    char check[40];
    char label[96];
    int status; /* REPORT_PASS, REPORT_FAIL, REPORT_INCONCLUSIVE or REPORT_NA */
    char expected[192];
    char measured[256];
    double margin; /* signed distance to the bound, >= 0 inside; worst over repeats */
    char unit[8];
    long samples;
    long min_samples;
    char detail[1024];
    /* The part of the time axis the check is about (its row's window,
     * harness/checks.c): from window_before_ms before the timeline mark
     * window_mark to window_after_ms after it (< 0: the end of the run);
     * window_mark "" when it has none. */
    char window_mark[64];
    double window_before_ms, window_after_ms;
    int severity; /* enum report_severity */
    /* Set by a check whose failure is certain without the signals it needs
     * for the rest (forwarded: a body no client sent): the failure stands
     * when a signal is missing, which is named in the detail.  Also by one
     * whose failure no relay setting can explain (client_status expecting a
     * status the request alone decides): it stands when the scenario sets
     * a key the relay was not given (harness/runner.c, the '*' rule). */
    int fail_stands;
    /* Set by a check whose failure is of another kind's making (a 200 the
     * relay held open until the client's own timeout is a stall, not a
     * truncation it passed as whole): the settings rule of docs/profiles.md
     * judges the failure as that kind's row; "" for its own. */
    char fail_as[40];
};

/* The load driver's own account of an open-loop run (harness/traffic.c):
 * how closely it kept its schedule, so a driver that fell behind is never
 * read as a slow relay.  Plain data (copied whole between processes by
 * cutover run --jobs). */
struct report_driver {
    int present;         /* the scenario had an open-loop phase */
    long scheduled;      /* open-loop requests the schedule asked for */
    long sent;           /* of which handed to a connection */
    double sched_rps;    /* the schedule's rate over its span */
    double achieved_rps; /* the rate actually sent (first intended send to last actual) */
    double lag_p50_ms, lag_p99_ms, lag_max_ms; /* actual send - intended send */
    double late_end_ms;                        /* last actual send - last intended send */
    long pool_waits; /* requests that waited for a connection (pool at its cap) */
    double pool_wait_max_ms;
    int pool_cap;      /* connections the driver may open */
    int peak_inflight; /* most requests in flight at once */
    long connects;     /* new connections opened (the rest reused one) */
    int behind;        /* the driver, not the relay, fell behind */
    char reason[384];  /* why behind ("" when on schedule) */
};

struct report_scenario {
    char name[128];
    char file[512];
    char folder[256];
    char description[1024];
    char tags[256];
    int status;
    char error[1024];
    uint64_t seed;
    double duration_s;
    long requests;
    struct report_check *checks;
    size_t n_checks;
    char *log_tail; /* relay stderr tail (redacted), may be NULL */
    char out_dir[512];
    json_t *doc;      /* the scenario as run; owned */
    int runs, passes; /* with --repeat */
    uint64_t t0_us;   /* traffic start (CLOCK_MONOTONIC µs): the 0 of the report's timeline */
    char relay[512];  /* which relay ran it (binary or --relay command), for the scorecard */
    /* What the relay gave the checks (harness/obs.h harness_obs_observability_json):
     * owned, NULL when the scenario did not run. */
    json_t *observability;
    /* Why the verdict comes from a second run ("" when from the first): the
     * runner fell behind its schedule, beside other scenarios under
     * --jobs or alone. */
    char rerun[512];
    /* The relay died because another process took its port first (between
     * the runner's pick and the relay's bind): a harness error that says
     * nothing of the relay, and a run worth repeating on a fresh port. */
    int port_taken;
    struct report_driver driver;
    /* Advisory checks that did not pass: a passing scenario with any is
     * "pass with advisories" (report_verdict_name). */
    int advisories;
};

/* Live progress of the scenario that is running, from the runner's poll
 * timer (a few times a second). */
struct report_progress {
    const char *name;        /* the scenario */
    uint64_t elapsed_us;     /* since the traffic start */
    uint64_t total_us;       /* the scenario's planned span */
    long sent, done, failed; /* client requests so far */
    const char *serving;     /* colour of the latest answer ("" none yet) */
    int settling;            /* traffic over, waiting before collection */
};

#endif
