/* The checks of a scenario's "expect" list.  Each kind is one row of one
 * static const table (name, parameters, minimum samples, function) and turns
 * the observations of a run into a verdict: expected, measured, a margin (the
 * signed distance to the bound that mattered, in the check's own unit, >= 0
 * when inside) and pass / fail / inconclusive.  A check that needs samples
 * declares how many; too few is inconclusive, never a pass. */
#ifndef HARNESS_CHECKS_H
#define HARNESS_CHECKS_H

#include "harness/obs.h"
#include "reports/results.h"

#include <jansson.h>
#include <stddef.h>

enum harness_status {
    HARNESS_PASS = REPORT_PASS,
    HARNESS_FAIL = REPORT_FAIL,
    HARNESS_INCONCLUSIVE = REPORT_INCONCLUSIVE,
};

/* A verdict is a results row: struct report_check (reports/results.h). */

/* The runner's own punctuality check: the one row that judges the harness,
 * not the relay (a non-pass makes a scenario a rerun candidate and is never
 * a verdict on the relay by itself).  Named once here. */
#define HARNESS_ON_TIME_CHECK "harness_on_time"

/* Validates one entry of "expect" at path ("$.expect[3]").  marks ends with
 * NULL: the timeline mark names a check may refer to (marks NULL: any name,
 * when the timeline itself was invalid).  Besides each parameter's type and
 * range, the bounds must be in order (min <= max, p50 <= p95 <= p99 <=
 * max_ms, base_ms <= cap_ms, ...).  Returns 0 or -1 with every parameter's
 * error, one per line, each
 * "path.key: expected X, found Y (did you mean 'Z'?)" in err. */
int harness_check_validate(const json_t *check, const char *path, const char *const *marks,
                           char *err, size_t errlen);
/* Runs one validated check. */
void harness_check_run(const json_t *check, const struct harness_obs *o, struct report_check *v);
/* The signals (enum harness_signal, harness/obs.h) check c relies on: its
 * row's own plus those its parameters add.  harness_check_run turns a
 * missing one into inconclusive with the reason from harness_signals[]. */
unsigned harness_check_needs(const json_t *check);
/* The number of check kinds, and row i's example use (a JSON object without
 * "check"; NULL past the end or when the row has none); *runner_own is set
 * for a row that judges the runner itself and is always evaluable. */
size_t harness_check_count(void);
const char *harness_check_example(size_t i, int *runner_own);
/* When the runner adds a check kind that a scenario did not ask for
 * (harness/runner.c): the first two before the scenario's own checks, the
 * others after them and only when the scenario does not ask itself. */
enum harness_added {
    HARNESS_ADDED_NEVER,
    HARNESS_ADDED_ALWAYS,     /* every scenario */
    HARNESS_ADDED_ADMIN,      /* the timeline calls the relay's admin API */
    HARNESS_ADDED_LIVE_RELAY, /* the runner started the relay and no step kills it */
    HARNESS_ADDED_OWN_RELAY,  /* the runner started the relay */
};

/* What row i of the check table says about its kind (borrowed strings). */
struct harness_check_info {
    const char *name;
    const char *desc;     /* one line: what it measures (NULL: the row has none yet) */
    const char *example;  /* a minimal use, JSON without "check" (NULL: none yet) */
    const char *why;      /* a failure, in a few words for the scorecard (NULL: none) */
    int rank;             /* 1 = its measured value tells most of a passing scenario; 0 never */
    const char *settings; /* relay settings it depends on, space separated ("" none) */
    int added;            /* enum harness_added */
    int about_process;    /* judges the process or the runner: no setting makes it moot */
    int served_fallback;  /* read from the served colours when the relay writes no event log */
};
/* Row i (0 <= i < harness_check_count()), or the row named name: 0, or -1
 * past the end or for an unknown name. */
int harness_check_info(size_t i, struct harness_check_info *out);
int harness_check_find(const char *name, struct harness_check_info *out);
/* Whether check kind `kind` depends on relay setting `setting` (its row's
 * settings; an unknown kind depends on none). */
int harness_check_depends(const char *kind, const char *setting);
/* Whether a FAILURE of kind can come from setting: the settings it depends
 * on, and for a count of outcomes, colours or switches ("*" in its row)
 * every relay setting that shapes behaviour.  A relay fixed at another
 * value, asked to switch after two failures, serves another count of 503s;
 * a backoff ten times longer moves its retries past a timeline's fault.
 * Such a count that held anyway is the relay's behaviour measured (a pass);
 * one that failed cannot be blamed on the relay (docs/profiles.md). */
int harness_check_fail_depends(const char *kind, const char *setting);
/* The signal a verdict of kind `kind` rests on, in words ("view" served or
 * not); NULL for an unknown kind.  harness_check_run puts it at the head of
 * every verdict's detail as "signal: ...". */
const char *harness_check_signal(const char *kind, const char *view);
/* Row i's parameters for people: "env* min max" (* required). */
void harness_check_params(size_t i, char *out, size_t n);
/* Names of every check kind, NULL-terminated (for docs and suggestions). */
const char *const *harness_check_names(void);
const char *harness_status_name(int status);

/* The statistical backoff_gaps test, exposed for unit tests: the distance by
 * which every empirical CDF the intervals [lo_i, hi_i] (each holding one
 * U(0,1) draw) allow must leave the uniform CDF (sorts both arrays), and the
 * gaps the test needs before it can tell (docs/scenarios.md). */
double harness_dist_excess(double *lo, double *hi, size_t n);
long harness_backoff_dist_min_samples(void);

#endif
