/* Hand-built observations for the unit tests of the checks (tobs.h).  The
 * test framework's asserts are used here: a fixture that cannot be built or
 * a check that does not validate fails the case that asked for it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tobs.h"

#include "harness/checks.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tobs_init(struct harness_obs *o, size_t reqs, size_t atts, size_t evs)
{
    memset(o, 0, sizeof *o);
    o->t0 = TOBS_T0;
    o->reqs = reqs ? calloc(reqs, sizeof *o->reqs) : NULL;
    o->atts = atts ? calloc(atts, sizeof *o->atts) : NULL;
    o->evs = evs ? calloc(evs, sizeof *o->evs) : NULL;
    assert_true((!reqs || o->reqs) && (!atts || o->atts) && (!evs || o->evs));
    o->signals = HARNESS_SIG_IDS | HARNESS_SIG_SERVED | HARNESS_SIG_EVENTS | HARNESS_SIG_ADMIN |
                 HARNESS_SIG_PROCESS;
}

struct harness_req *tobs_req(struct harness_obs *o, const char *id, uint64_t ms, uint64_t lat_ms,
                             long status, const char *served, int outcome)
{
    struct harness_req *r = &o->reqs[o->n_reqs++];
    snprintf(r->id, sizeof r->id, "%s", id);
    r->t_sched = r->t_sent = TOBS_T0 + ms * TOBS_MS;
    r->t_done = r->t_sent + lat_ms * TOBS_MS;
    r->status = status;
    snprintf(r->served, sizeof r->served, "%s", served);
    r->outcome = outcome;
    r->retry_after_ms = -1;
    /* Headers absent unless a test sets them, as the traffic code records. */
    r->ra_s = r->ra_ms = r->rl_limit = r->rl_remaining = -1;
    r->should_retry = -1;
    r->err_shape = status != 200 && status != 0 ? 1 : -1;
    snprintf(r->ctype, sizeof r->ctype, "application/json");
    snprintf(r->model, sizeof r->model, "gpt-4.1");
    r->max_tokens = 16;
    r->msg_hash = 0x1234;
    return r;
}

struct harness_att *tobs_att(struct harness_obs *o, const char *id, const char *env, uint64_t at_ms,
                             uint64_t dur_ms, int status)
{
    struct harness_att *a = &o->atts[o->n_atts++];
    snprintf(a->req_id, sizeof a->req_id, "%s", id);
    snprintf(a->env, sizeof a->env, "%s", env);
    snprintf(a->path, sizeof a->path, "/v1/chat/completions");
    a->t_arrival = TOBS_T0 + at_ms * TOBS_MS;
    a->t_done = a->t_arrival + dur_ms * TOBS_MS;
    a->status = status;
    return a;
}

void tobs_answered(struct harness_obs *o, const char *prefix, int from, int to, uint64_t start_ms,
                   uint64_t step_ms, uint64_t lat_ms, long status, const char *env,
                   uint64_t att_delay_ms, uint64_t att_ms)
{
    int ok = status / 100 == 2;
    for (int i = from; i < to; i++) {
        char id[32];
        snprintf(id, sizeof id, "%s%d", prefix, i);
        uint64_t at = start_ms + (uint64_t)i * step_ms;
        tobs_req(o, id, at, lat_ms, status, ok ? env : "", ok ? HARNESS_OK : HARNESS_HTTP_ERROR);
        if (att_ms)
            tobs_att(o, id, env, at + att_delay_ms, att_ms, (int)status);
    }
}

struct harness_ev *tobs_ev(struct harness_obs *o, const char *type, uint64_t at_ms,
                           const char *from, const char *to, const char *env, int healthy)
{
    struct harness_ev *e = &o->evs[o->n_evs++];
    snprintf(e->type, sizeof e->type, "%s", type);
    e->t = TOBS_T0 + at_ms * TOBS_MS;
    snprintf(e->from, sizeof e->from, "%s", from);
    snprintf(e->to, sizeof e->to, "%s", to);
    snprintf(e->env, sizeof e->env, "%s", env);
    e->healthy = healthy;
    return e;
}

void tobs_mark(struct harness_obs *o, const char *name, uint64_t at_ms)
{
    snprintf(o->marks[o->n_marks].name, sizeof o->marks[0].name, "%s", name);
    o->marks[o->n_marks++].t = TOBS_T0 + at_ms * TOBS_MS;
}

int tobs_run(struct harness_obs *o, const char *json, const char *const *marks,
             struct report_check *v)
{
    json_error_t je;
    json_t *c = json_loads(json, 0, &je);
    assert_non_null(c);
    char err[512];
    if (harness_check_validate(c, "$.expect[0]", marks, err, sizeof err) != 0)
        fail_msg("invalid check %s: %s", json, err);
    harness_obs_index(o);
    harness_check_run(c, o, v);
    json_decref(c);
    return v->status;
}

void tobs_expect_invalid(const char *json, const char *const *marks, const char *needle)
{
    json_error_t je;
    json_t *c = json_loads(json, 0, &je);
    assert_non_null(c);
    char err[1024] = "";
    assert_int_equal(harness_check_validate(c, "$.expect[0]", marks, err, sizeof err), -1);
    if (!strstr(err, needle))
        fail_msg("%s: '%s' lacks '%s'", json, err, needle);
    json_decref(c);
}
