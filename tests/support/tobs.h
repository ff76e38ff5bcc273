/* Observations built by hand for the unit tests of the checks
 * (test_harness_checks.c, test_harness_probe.c): a harness_obs with room for
 * the requests, attempts and events a case adds, each stamped in ms after
 * TOBS_T0; the requests and attempts as the traffic code and the mock
 * journals record them; and one check run on them as the runner runs it.
 * The obs is the caller's (a static in the test file); harness_obs_free
 * frees what tobs_init allocated. */
#ifndef TOBS_H
#define TOBS_H

#include "harness/obs.h"
#include "reports/report.h"

#include <stddef.h>
#include <stdint.h>

#define TOBS_MS 1000ull       /* one ms in the obs' clock (us) */
#define TOBS_T0 1000000000ull /* the traffic start */

/* Zeroes o, sets t0 and every signal a cooperating relay gives, and makes
 * room for reqs requests, atts attempts and evs events (0: none). */
void tobs_init(struct harness_obs *o, size_t reqs, size_t atts, size_t evs);

/* A request scheduled and sent at ms, done lat_ms later, with status,
 * served colour and outcome; the headers absent (-1), as the traffic code
 * records them, and the body of a plain chat request (gpt-4.1, 16 tokens). */
struct harness_req *tobs_req(struct harness_obs *o, const char *id, uint64_t ms, uint64_t lat_ms,
                             long status, const char *served, int outcome);

/* An attempt of request id at the mock env, arriving at at_ms and taking
 * dur_ms, on the chat path. */
struct harness_att *tobs_att(struct harness_obs *o, const char *id, const char *env, uint64_t at_ms,
                             uint64_t dur_ms, int status);

/* Requests prefix<i> for i from `from` up to (not with) `to`: the i-th sent
 * at start_ms + i * step_ms and done lat_ms later with status (served by env
 * and HARNESS_OK when it is 2xx, else an HTTP error no colour served); and
 * unless att_ms is 0, each with one attempt at env arriving att_delay_ms
 * after the request was sent, taking att_ms and answering status.  The
 * arguments after o in the order of that sentence. */
void tobs_answered(struct harness_obs *o, const char *prefix, int from, int to, uint64_t start_ms,
                   uint64_t step_ms, uint64_t lat_ms, long status, const char *env,
                   uint64_t att_delay_ms, uint64_t att_ms);

/* An event of type at at_ms (from, to, env, healthy as the relay logs them). */
struct harness_ev *tobs_ev(struct harness_obs *o, const char *type, uint64_t at_ms,
                           const char *from, const char *to, const char *env, int healthy);

/* A mark name at at_ms. */
void tobs_mark(struct harness_obs *o, const char *name, uint64_t at_ms);

/* Validates the check given as JSON text against marks (NULL-terminated;
 * the test fails when it is invalid), indexes the attempts as the runner
 * does (without sorting: the cases add them in arrival order), runs it into
 * v and returns its status. */
int tobs_run(struct harness_obs *o, const char *json, const char *const *marks,
             struct report_check *v);

/* The check given as JSON text is refused (marks NULL-terminated) with an
 * error that contains needle; the test fails otherwise. */
void tobs_expect_invalid(const char *json, const char *const *marks, const char *needle);

#endif
