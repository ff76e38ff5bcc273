/* The check kinds.  Each row of the table below names a kind, its parameters
 * (validated generically, with "did you mean"), the samples it needs by
 * default and the function that measures it.  The functions only read a
 * struct harness_obs, so each can be tested on synthetic data.
 *
 * Times in messages are milliseconds relative to the traffic start. */
#include "harness/checks.h"

#include "co_json.h"
#include "co_mem.h"
#include "co_stats.h"
#include "harness/fleet.h"
#include "harness/probe.h"
#include "harness/rl_judge.h"
#include "harness/scenario.h"
#include "harness/vutil.h"
#include "mocks/mock.h"
#include "reports/report.h"

#include <curl/curl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum ptype {
    P_NUM,
    P_INT,
    P_ENV,
    P_MARK,
    P_SEQ,
    P_NUMARR,
    P_OUTCOME,
    P_JITTER,
    P_VIEW,
    P_FROM,
    P_STR,
    P_BOOL,
    P_REQS,
    P_PARTS,
    P_RATIO,    /* a share: a number in [0, 1] */
    P_CLIENT,   /* a client's strictness about streams: strict or lenient */
    P_AGAINST,  /* model_reported: the requested or the served model */
    P_PHASE,    /* a traffic phase: its index or its "name" (resolved when the scenario loads) */
    P_WINDOW,   /* [from, to) in ms since the traffic start */
    P_FORMAT,   /* metrics_truth: "json", "prometheus" or "both" */
    P_COUNTERS, /* an array of counter names (harness_counter_names) or "active" */
    P_HITEMS,   /* health_reports: an array of "active", "health", "status" */
    P_RLKIND    /* rate_limit: "sliding", "fixed", "bucket" or "any" */
};

struct param {
    const char *name;
    int type;
    int required;
};

typedef void (*check_fn)(const json_t *c, const struct harness_obs *o, struct report_check *v);

/* Signals (enum harness_signal) a check needs beyond its row's fixed
 * ones, from its parameters ("view": "served" needs served colours). */
typedef unsigned (*needs_fn)(const json_t *c);

/* A rule across fields: the check needs at least one of keys (space
 * separated), or it cannot fail; expected is what the error says. */
struct one_of {
    const char *keys;
    const char *expected;
};

/* Further cross-field rules of one kind: 0, or -1 with the error in err. */
typedef int (*rule_fn)(const json_t *c, const char *path, char *err, size_t errlen);

/* The part of the time axis a check is about, from its parameters: the
 * timeline mark named by parameter mark, from `before` ms before it (NULL:
 * the mark itself) to `after` ms after it (NULL or absent: the end of the
 * run); default_ms stands for a before or after the check omits (< 0: none). */
struct check_window {
    const char *mark;
    const char *before;
    const char *after;
    double default_ms;
};

struct check_kind {
    const char *name;
    const struct param *params;
    long min_samples;
    check_fn run;
    const char *desc; /* one line: what it measures (cutover list --checks, docs) */
    /* The signals the check relies on: harness_check_run makes the verdict
     * inconclusive, naming the signal, when the relay did not give one. */
    unsigned needs;
    needs_fn needs_of; /* more, by parameters; NULL none */
    /* A minimal valid use (JSON): tests/unit/test_harness_checks.c runs every row's
     * example without each signal it needs, and on an empty run, and
     * expects inconclusive. */
    const char *example;
    int runner_own; /* judges the runner itself (harness_on_time): always evaluable */
    /* The fields below are set by name (.why = ...): a row that leaves one
     * out has none of it, which is a valid answer for each of them. */
    const struct one_of *one_of; /* bounds it needs at least one of; NULL none */
    rule_fn rule;                /* other cross-field rules; NULL none */
    /* The scorecard: what a failure says about a relay in a few words (NULL:
     * the check's name), and where its measured value ranks among passing
     * checks as the one that tells most (1 first; 0 never chosen first). */
    const char *why;
    int rank;
    /* The relay settings (space separated) whose value decides what it
     * measures: a relay that cannot take or has fixed one of them gets no
     * verdict from it (harness_profile_affects). */
    const char *settings;
    const struct check_window *window; /* for the HTML timeline; NULL none */
    int added;                         /* enum harness_added: the runner adds it unasked */
    int about_process;                 /* judges the process or the runner, not a setting */
    /* Judged on the served colours ("view": "served") when the relay
     * writes no event log and the check does not ask for events. */
    int served_fallback;
};

/* ---- helpers ---------------------------------------------------------- */

/* zero_downtime's window around its mark when the check gives none: the
 * same default for the verdict and for where the report draws it. */
#define ZERO_DOWNTIME_WINDOW_MS 500

static double num(const json_t *c, const char *key, double def)
{
    double d;
    json_t *v = json_object_get(c, key);
    return v && co_json_number(v, &d) == 0 ? d : def;
}

static const char *str(const json_t *c, const char *key, const char *def)
{
    json_t *v = json_object_get(c, key);
    return json_is_string(v) ? json_string_value(v) : def;
}

static int has(const json_t *c, const char *key)
{
    return json_object_get(c, key) != NULL;
}

static double rel_ms(const struct harness_obs *o, uint64_t t)
{
    return ((double)t - (double)o->t0) / 1000.0;
}

#define SETF(field, ...) (v->field[0] = '\0', append(v->field, sizeof v->field, __VA_ARGS__))

static void verdict(struct report_check *v, int ok, double margin)
{
    v->margin = margin;
    if (v->samples < v->min_samples)
        v->status = HARNESS_INCONCLUSIVE;
    else
        v->status = ok ? HARNESS_PASS : HARNESS_FAIL;
}

static void append(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t n, const char *fmt, ...)
{
    size_t len = strlen(buf);
    if (len + 1 >= n)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, n - len, fmt, ap);
    va_end(ap);
}

/* The first cap attempts of request id in arrival order (pointers into
 * o->atts), through the index harness_obs_sort built. */
static size_t attempts_of(const struct harness_obs *o, const char *id,
                          const struct harness_att **out, size_t cap)
{
    size_t n;
    const size_t *idx = harness_obs_attempts(o, id, &n);
    n = n < cap ? n : cap;
    for (size_t i = 0; i < n; i++)
        out[i] = &o->atts[idx[i]];
    return n;
}

/* The attempt timeline of one request, for failure details. */
static void describe_req(const struct harness_obs *o, const struct harness_req *r, char *out,
                         size_t n)
{
    append(out, n, "request %s: sched %+.1f ms, sent %+.1f ms;", r->id, rel_ms(o, r->t_sched),
           rel_ms(o, r->t_sent));
    const struct harness_att *a[8];
    size_t k = attempts_of(o, r->id, a, 8);
    for (size_t i = 0; i < k; i++)
        append(out, n, " %s#%d %d %s %.1f..%.1f ms;", a[i]->env,
               a[i]->attempt ? a[i]->attempt : (int)i + 1, a[i]->status, a[i]->end,
               rel_ms(o, a[i]->t_arrival), rel_ms(o, a[i]->t_done));
    /* Without ids "none found" is not "none made". */
    if (!k)
        append(out, n, "%s",
               o->signals & HARNESS_SIG_IDS
                   ? " no upstream attempt;"
                   : " upstream attempts unknown (the relay passed no ids);");
    append(out, n, " client %ld %s served=%s at %+.1f ms%s%s", r->status,
           harness_outcome_name(r->outcome), r->served[0] ? r->served : "-", rel_ms(o, r->t_done),
           r->curl_err[0] ? " curl: " : "", r->curl_err);
}

static int req_in_phase(const json_t *c, const struct harness_req *r)
{
    json_t *p = json_object_get(c, "phase");
    return !p || json_integer_value(p) == r->phase;
}

/* A count check's "window_ms": [from, to) in ms since the traffic start;
 * what it counts is in the window by its own time (a request by its
 * scheduled send, an upstream attempt by its arrival).  No window: all. */
static int in_window(const json_t *c, const struct harness_obs *o, uint64_t t)
{
    json_t *w = json_object_get(c, "window_ms");
    double lo, hi;
    if (!json_is_array(w) || co_json_number(json_array_get(w, 0), &lo) != 0 ||
        co_json_number(json_array_get(w, 1), &hi) != 0)
        return 1;
    double ms = rel_ms(o, t);
    return ms >= lo && ms < hi;
}

/* A request a count check counts: in its phase and its window. */
static int req_in_scope(const json_t *c, const struct harness_obs *o, const struct harness_req *r)
{
    return req_in_phase(c, r) && in_window(c, o, r->t_sched);
}

/* The span of phase p: its first scheduled send to its last answer (0, 0
 * when it sent nothing).  Health probes have no request to tie them to a
 * phase; they count in the phase while it ran. */
static void phase_span(const struct harness_obs *o, long p, uint64_t *lo, uint64_t *hi)
{
    *lo = UINT64_MAX;
    *hi = 0;
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *r = &o->reqs[i];
        if (r->phase != p)
            continue;
        if (r->t_sched < *lo)
            *lo = r->t_sched;
        uint64_t end = r->t_done ? r->t_done : r->t_sched;
        if (end > *hi)
            *hi = end;
    }
    if (*hi == 0)
        *lo = 0;
}

/* The scope of a count check in words, for its expected text ("" none). */
static void scope_words(const json_t *c, char *out, size_t n)
{
    out[0] = '\0';
    json_t *p = json_object_get(c, "phase"), *w = json_object_get(c, "window_ms");
    if (json_is_integer(p))
        append(out, n, " in phase %lld", (long long)json_integer_value(p));
    if (json_is_array(w))
        append(out, n, " in [%g, %g) ms", json_number_value(json_array_get(w, 0)),
               json_number_value(json_array_get(w, 1)));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Counting bounds shared by several checks: min, max, exact. */
static int in_bounds(const json_t *c, double x, double *margin, char *exp, size_t n)
{
    double m = INFINITY;
    int ok = 1;
    exp[0] = '\0';
    if (has(c, "exact")) {
        double e = num(c, "exact", 0);
        snprintf(exp, n, "== %g", e);
        m = x == e ? 0 : -fabs(x - e);
        ok = x == e;
    }
    if (has(c, "min")) {
        double lo = num(c, "min", 0);
        append(exp, n, "%s>= %g", exp[0] ? ", " : "", lo);
        m = fmin(m, x - lo);
        ok = ok && x >= lo;
    }
    if (has(c, "max")) {
        double hi = num(c, "max", 0);
        append(exp, n, "%s<= %g", exp[0] ? ", " : "", hi);
        m = fmin(m, hi - x);
        ok = ok && x <= hi;
    }
    *margin = isinf(m) ? 0 : m;
    return ok;
}

/* ---- client outcome --------------------------------------------------- */

static int answer_unsourced(const struct harness_obs *o, const struct harness_req *r);

static void ck_success_ratio(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    long n = 0, ok = 0, cut = 0, made_up = 0;
    const struct harness_req *first_made_up = NULL;
    for (size_t i = 0; i < o->n_reqs; i++) {
        if (!req_in_phase(c, &o->reqs[i]))
            continue;
        if (o->reqs[i].body_cut && o->reqs[i].status == 200 && !o->reqs[i].curl_rc) {
            cut++; /* whole or not, past the harness's body cap: unseen */
            continue;
        }
        n++;
        if (o->reqs[i].outcome == HARNESS_OK && answer_unsourced(o, &o->reqs[i])) {
            /* A whole answer no upstream gave is the relay's own invention. */
            made_up++;
            if (!first_made_up)
                first_made_up = &o->reqs[i];
            continue;
        }
        ok += o->reqs[i].outcome == HARNESS_OK;
    }
    double lo = num(c, "min", 0), hi = num(c, "max", 1);
    double ratio = n ? (double)ok / (double)n : 0;
    v->samples = n;
    if (has(c, "max"))
        SETF(expected, "success ratio in [%g, %g]", lo, hi);
    else
        SETF(expected, "success ratio >= %g", lo);
    SETF(measured, "%.4f (%ld of %ld)", ratio, ok, n);
    if (cut)
        append(v->measured, sizeof v->measured,
               "; %ld answers over the harness's 1 MiB body cap not judged", cut);
    snprintf(v->unit, sizeof v->unit, "ratio");
    if (made_up) {
        append(v->detail, sizeof v->detail,
               "%ld whole 200 answers that no upstream gave (no attempt in the mock journals): "
               "the relay made them up, not counted as successes; ",
               made_up);
        if (ratio < lo)
            describe_req(o, first_made_up, v->detail, sizeof v->detail);
    }
    for (size_t i = 0; i < o->n_reqs && ratio < lo && !made_up; i++) {
        if (req_in_phase(c, &o->reqs[i]) && o->reqs[i].outcome != HARNESS_OK) {
            describe_req(o, &o->reqs[i], v->detail, sizeof v->detail);
            break;
        }
    }
    verdict(v, ratio >= lo && ratio <= hi,
            has(c, "max") ? fmin(ratio - lo, hi - ratio) : ratio - lo);
}

static int outcome_index(const char *s)
{
    for (int i = 0; harness_outcome_names[i]; i++)
        if (strcmp(harness_outcome_names[i], s) == 0)
            return i;
    return -1;
}

static int count_attempts(const struct harness_obs *o, const char *id, const char *env);
static int rl_admitted(const struct harness_obs *o, const struct harness_req *r);
static uint64_t admitted_by(const struct harness_obs *o, const struct harness_req *r);

/* Whether the limiter's decisions on the requests in a count check's scope
 * prove an excess for the relay's window kind (harness_rl_judge), one
 * client at a time (its key and request template: clients the limiter
 * counts apart are never mixed, so an excess found is real).  Needs the
 * run's window length (the scenario's rate_limit_window_ms). */
static int rl_scope_excess(const json_t *c, const struct harness_obs *o, char *why, size_t n)
{
    if (o->rl_window_us <= 0)
        return 0;
    uint64_t *lo = co_calloc(2 * o->n_reqs + 2, sizeof *lo),
             *hi = co_calloc(2 * o->n_reqs + 2, sizeof *hi);
    unsigned char *done = co_calloc(o->n_reqs + 1, 1);
    int over = 0;
    for (size_t g = 0; g < o->n_reqs && !over; g++) {
        const struct harness_req *head = &o->reqs[g];
        if (done[g] || !req_in_scope(c, o, head))
            continue;
        size_t na = 0, nr = 0;
        for (size_t i = g; i < o->n_reqs; i++) {
            const struct harness_req *r = &o->reqs[i];
            if (done[i] || !req_in_scope(c, o, r) || strcmp(r->key, head->key) != 0 ||
                strcmp(r->tpl_name, head->tpl_name) != 0)
                continue;
            done[i] = 1;
            if (r->status == 429 && r->t_done && !count_attempts(o, r->id, NULL)) {
                lo[o->n_reqs + 1 + nr] = r->t_sent;
                hi[o->n_reqs + 1 + nr++] = r->t_done;
            } else if (rl_admitted(o, r)) {
                lo[na] = r->t_sent;
                hi[na++] = admitted_by(o, r);
            }
        }
        struct harness_rl_case rc = {.kind = o->rl_kind,
                                     .limit = (double)o->rl_limit,
                                     .window_us = o->rl_window_us,
                                     .burst = o->rl_burst,
                                     .adm_lo = lo,
                                     .adm_hi = hi,
                                     .n_adm = na,
                                     .ref_lo = lo + o->n_reqs + 1,
                                     .ref_hi = hi + o->n_reqs + 1,
                                     .n_ref = nr};
        struct harness_rl_verdict j;
        harness_rl_judge(&rc, &j);
        if (j.status == HARNESS_FAIL) {
            over = 1;
            snprintf(why, n, "%s%s%s", head->key[0] ? "one client key: " : "", j.why,
                     " (the run's limit and window)");
        }
    }
    free(lo);
    free(hi);
    free(done);
    return over;
}

/* A count of admissions (200s, upstream traffic) or of the limiter's
 * refusals (429s) in a rate-limited run (the scenario sets
 * rate_limit_requests) is written for a sliding window, cutover-relay's.
 * When such a count failed, the one rule for window kinds
 * (harness_rl_judge) says whether the relay's kind could explain it: a
 * fixed window or a token bucket admits more at a boundary, and so refuses
 * fewer.  Then the verdict is inconclusive, naming why, never a failure;
 * for a sliding window, or when the decisions prove an excess for the
 * kind, or beyond what any kind admits, it stays one. */
static void rl_kind_excuse(const json_t *c, const struct harness_obs *o, struct report_check *v,
                           double hit, enum harness_rl_count what)
{
    if (v->status != HARNESS_FAIL || o->rl_limit <= 0)
        return;
    double bound = has(c, "exact")                  ? num(c, "exact", 0)
                   : what == HARNESS_RL_REFUSED_MIN ? (has(c, "min") ? num(c, "min", 0) : -1)
                                                    : (has(c, "max") ? num(c, "max", 0) : -1);
    if (bound <= 0 || (what == HARNESS_RL_REFUSED_MIN ? hit >= bound : hit <= bound))
        return;
    char excess[700];
    if (rl_scope_excess(c, o, excess, sizeof excess)) {
        append(v->detail, sizeof v->detail, "%s%s", v->detail[0] ? "; " : "", excess);
        return;
    }
    struct harness_rl_case rc = {.kind = o->rl_kind,
                                 .limit = (double)o->rl_limit,
                                 .burst = o->rl_burst,
                                 .count = what,
                                 .counted = hit,
                                 .bound = bound};
    struct harness_rl_verdict j;
    harness_rl_judge(&rc, &j);
    if (j.status == HARNESS_INCONCLUSIVE)
        v->status = HARNESS_INCONCLUSIVE;
    if (j.why[0])
        append(v->detail, sizeof v->detail, "%s%s", v->detail[0] ? "; " : "", j.why);
}

static void ck_client_count(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    long n = 0, hit = 0, made_up = 0;
    const char *outcome = str(c, "outcome", NULL);
    int want_out = outcome ? outcome_index(outcome) : -1;
    long status = has(c, "status") ? (long)num(c, "status", 0) : -1;
    const char *served = str(c, "served", NULL);
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *r = &o->reqs[i];
        if (!req_in_scope(c, o, r))
            continue;
        if (served && !r->served[0])
            continue; /* who served it is unknown: not a sample */
        n++;
        if (want_out >= 0 && r->outcome != want_out)
            continue;
        if (status >= 0 && r->status != status)
            continue;
        if (served && strcmp(r->served, served) != 0)
            continue;
        /* A 200 counted as an answer must be an upstream's (see
         * answer_unsourced): one the relay made up is no success. */
        if ((want_out == HARNESS_OK || status == 200) && answer_unsourced(o, r)) {
            made_up++;
            continue;
        }
        hit++;
    }
    char exp[96];
    double m, m_all;
    /* Made-up 200s (left out of hit above) can only make the check fail:
     * not counted toward a lower bound, counted against an upper one. */
    int ok = in_bounds(c, (double)hit, &m, exp, sizeof exp);
    if (made_up && !in_bounds(c, (double)(hit + made_up), &m_all, exp, sizeof exp)) {
        ok = 0;
        m = fmin(m, m_all);
    }
    v->samples = n;
    SETF(expected, "requests with%s%s%s%s%s%s %s", outcome ? " outcome " : "",
         outcome ? outcome : "", status >= 0 ? " status " : "", "", served ? " served by " : "",
         served ? served : "", exp);
    if (status >= 0)
        SETF(expected, "requests with%s%s status %ld%s%s %s", outcome ? " outcome " : "",
             outcome ? outcome : "", status, served ? " served by " : "", served ? served : "",
             exp);
    char scope[96];
    scope_words(c, scope, sizeof scope);
    append(v->expected, sizeof v->expected, "%s", scope);
    SETF(measured, "%ld of %ld", hit, n);
    snprintf(v->unit, sizeof v->unit, "req");
    if (made_up)
        SETF(detail,
             "%ld 200s that no upstream gave (no attempt in the mock journals): not counted toward "
             "a lower bound, counted against an upper one",
             made_up);
    verdict(v, ok, m);
    if (status == 200 || want_out == HARNESS_OK)
        rl_kind_excuse(c, o, v, (double)hit, HARNESS_RL_ADMITTED_MAX);
    else if (status == 429)
        rl_kind_excuse(c, o, v, (double)hit, HARNESS_RL_REFUSED_MIN);
    /* A 5xx says the upstreams failed: when no mock journalled anything in
     * the whole run (no probe, no attempt), the relay never asked them, and
     * its 5xx answers are no reaction to what they did (a relay that answers
     * every request 503 "passed" both-colours-unhealthy-503).  A colour
     * nobody listens on journals nothing either: then it was not seen. */
    if (status >= 500 && hit && !o->n_atts && v->status == HARNESS_PASS) {
        v->status = HARNESS_INCONCLUSIVE;
        SETF(detail,
             "no upstream was contacted in the whole run (no probe, no attempt in the "
             "mock journals): the relay's %ld status %ld answers are no reaction to the "
             "upstreams",
             hit, status);
    }
}

static void ck_deadline(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    double max_ms = num(c, "max_ms", 0), worst = 0;
    int from_sent = strcmp(str(c, "from", "scheduled"), "sent") == 0;
    const struct harness_req *wr = NULL;
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *r = &o->reqs[i];
        if (!req_in_phase(c, r))
            continue;
        v->samples++;
        double ms = ((double)r->t_done - (double)(from_sent ? r->t_sent : r->t_sched)) / 1000.0;
        if (ms > worst) {
            worst = ms;
            wr = r;
        }
    }
    SETF(expected, "every request done within %g ms of being %s", max_ms,
         from_sent ? "sent" : "scheduled");
    SETF(measured, "slowest %.1f ms", worst);
    snprintf(v->unit, sizeof v->unit, "ms");
    if (wr && worst > max_ms)
        describe_req(o, wr, v->detail, sizeof v->detail);
    verdict(v, worst <= max_ms, max_ms - worst);
}

/* ---- the answers the answer checks read --------------------------------- */

static int req_in_group(const json_t *c, const struct harness_req *r);
static int client_strict(const json_t *c);
static int answer_complete(const struct harness_req *r, int strict);

/* Which of a check's 200s it reads. */
enum answer_set {
    ANSWERS_ALL,   /* every 200 */
    ANSWERS_BODY,  /* every 200 whose first body bytes the client kept */
    ANSWERS_READ,  /* every 200 the client read to its end (its own "complete") */
    ANSWERS_WHOLE, /* every whole answer, as a client of the check's strictness reads it */
};

/* One walk over the answers of a check's group (its phase, template and
 * time window, whichever of them the check takes), in the client log's
 * order: the loop head every answer check shares.
 *   struct answers it = answers_of(c, o, ANSWERS_WHOLE);
 *   for (const struct harness_req *r; (r = answer_next(&it));) ... */
struct answers {
    const json_t *c;
    const struct harness_obs *o;
    enum answer_set set;
    int strict;
    size_t next;
};

static struct answers answers_of(const json_t *c, const struct harness_obs *o, enum answer_set set)
{
    return (struct answers){.c = c, .o = o, .set = set, .strict = client_strict(c)};
}

static const struct harness_req *answer_next(struct answers *it)
{
    while (it->next < it->o->n_reqs) {
        const struct harness_req *r = &it->o->reqs[it->next++];
        if (!req_in_group(it->c, r) || !in_window(it->c, it->o, r->t_sched) || r->status != 200)
            continue;
        if ((it->set == ANSWERS_BODY && r->head_n == 0) ||
            (it->set == ANSWERS_READ && !r->complete) ||
            (it->set == ANSWERS_WHOLE && !answer_complete(r, it->strict)))
            continue;
        return r;
    }
    return NULL;
}

static void ck_no_truncated(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    long trunc = 0, cut = 0, made_up = 0, malformed = 0, held = 0;
    const struct harness_req *first = NULL;
    struct answers it = answers_of(c, o, ANSWERS_ALL);
    for (const struct harness_req *r; (r = answer_next(&it));) {
        if (r->body_cut) {
            cut++; /* its end is the harness's cut (BODY_CAP), not the relay's */
            continue;
        }
        v->samples++;
        if (r->outcome == HARNESS_TRUNCATED) {
            trunc++;
            /* Not cut: an event no client can parse (empty data: as a
             * keep-alive, two events run together) spoils the whole. */
            malformed += r->stream && r->bad_event;
            /* Ended by the client's own timeout, not by the relay: a 200
             * still open (keep-alive comments while the upstream is
             * silent), which the relay's timeouts decide. */
            held += r->curl_rc == CURLE_OPERATION_TIMEDOUT && !r->bad_event;
            if (!first)
                first = r;
        } else if (r->outcome == HARNESS_OK && answer_unsourced(o, r)) {
            /* Whole, but not the upstream's: passed as success all the same. */
            made_up++;
            if (!first)
                first = r;
        }
    }
    SETF(expected, "every 200 carries a complete answer (stream ends with [DONE])");
    SETF(measured, "%ld truncated of %ld answers with 200", trunc, v->samples);
    snprintf(v->unit, sizeof v->unit, "req");
    if (cut)
        SETF(detail, "%ld answers over the harness's 1 MiB body cap not judged; ", cut);
    if (made_up)
        append(v->detail, sizeof v->detail,
               "%ld 200s that no upstream gave (no attempt in the mock journals): the relay made "
               "them up; ",
               made_up);
    if (malformed)
        append(v->detail, sizeof v->detail,
               "%ld of them streams with an event whose data is neither JSON nor [DONE] "
               "(malformed, not cut); ",
               malformed);
    /* Every one of them a stall the client gave up on: the relay passed
     * nothing off as whole, it kept the answer open as long as its own
     * timeouts let it (Express held a silent upstream's stream with
     * keep-alives inside its 30 s try timeout; the scenario's
     * first_byte_timeout_ms never reached it).  Still a failure, judged
     * under the settings rule as a deadline is (client_deadline's row):
     * a relay given every timeout the scenario sets is held to it. */
    if (held && held == trunc && !made_up) {
        append(v->detail, sizeof v->detail,
               "%ld of them held open by the relay until the client's own timeout (a stall, "
               "not an answer passed as whole); ",
               held);
        snprintf(v->fail_as, sizeof v->fail_as, "client_deadline");
    }
    if (first)
        describe_req(o, first, v->detail, sizeof v->detail);
    verdict(v, trunc + made_up == 0, (double)-(trunc + made_up));
}

/* ---- attempts, from the mock journals ----------------------------------- */

static int count_attempts(const struct harness_obs *o, const char *id, const char *env)
{
    size_t m;
    const size_t *idx = harness_obs_attempts(o, id, &m);
    int n = 0;
    for (size_t i = 0; i < m; i++)
        if (!env || strcmp(o->atts[idx[i]].env, env) == 0)
            n++;
    return n;
}

/* A 200 answer that no upstream gave: with ids every attempt is tied to its
 * request (an attempt without one takes the ids signal away), so a request
 * of which no mock journalled any attempt was answered by the relay alone.
 * A relay that answers without asking an upstream (a fixed body, a cache)
 * must not pass a check about what the upstreams served.  Without ids this
 * cannot be told and nothing is claimed; nor for a raw-body request (a
 * template's "raw": its id travels in the header only, and its path may be
 * one a relay answers itself, GET /v1/models). */
static int answer_unsourced(const struct harness_obs *o, const struct harness_req *r)
{
    return r->status == 200 && !r->raw && (o->signals & HARNESS_SIG_IDS) &&
           count_attempts(o, r->id, NULL) == 0;
}

static int req_selected(const json_t *c, const struct harness_obs *o, const struct harness_req *r)
{
    const char *which = str(c, "requests", "all");
    if (!req_in_scope(c, o, r))
        return 0;
    if (strcmp(which, "ok") == 0)
        return r->outcome == HARNESS_OK;
    if (strcmp(which, "failed") == 0)
        return r->outcome != HARNESS_OK;
    return 1;
}

static void ck_attempts(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    const char *env = str(c, "env", NULL);
    int lo = 1 << 30, hi = -1;
    long untried = 0;
    double worst = INFINITY;
    const struct harness_req *bad = NULL;
    char exp[96];
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *r = &o->reqs[i];
        if (!req_selected(c, o, r))
            continue;
        /* No attempt found, while some attempts carried no id: this
         * request's count is unknown, not zero. */
        if (!(o->signals & HARNESS_SIG_IDS) && count_attempts(o, r->id, NULL) == 0)
            continue;
        /* A request that reached no upstream at all: 0 attempts is a sample
         * where the bound fails on it, or where no upstream is its point (a
         * bound of 0 on every colour); else it meets a bound on retries
         * without having been tried (a relay that answers every request
         * itself "keeps max 2"), and is left out, said below. */
        if (count_attempts(o, r->id, NULL) == 0) {
            double m0;
            int holds = in_bounds(c, 0, &m0, exp, sizeof exp);
            int zero_is_point = !env && ((has(c, "max") && num(c, "max", 1) == 0) ||
                                         (has(c, "exact") && num(c, "exact", 1) == 0));
            if (holds && !zero_is_point) {
                untried++;
                continue;
            }
        }
        v->samples++;
        int n = count_attempts(o, r->id, env);
        lo = n < lo ? n : lo;
        hi = n > hi ? n : hi;
        double m;
        if (!in_bounds(c, n, &m, exp, sizeof exp) && !bad)
            bad = r;
        worst = fmin(worst, m);
    }
    in_bounds(c, 0, &(double){0}, exp, sizeof exp);
    char scope[96];
    scope_words(c, scope, sizeof scope);
    SETF(expected, "upstream attempts per %s request%s%s%s %s", str(c, "requests", "all"), scope,
         env ? " to " : "", env ? env : "", exp);
    if (v->samples)
        SETF(measured, "min %d, max %d over %ld requests", lo, hi, v->samples);
    else
        SETF(measured, "no request whose attempts could be found");
    snprintf(v->unit, sizeof v->unit, "att");
    if (untried)
        append(v->detail, sizeof v->detail,
               "%ld requests with no upstream attempt in the mock journals are not counted (0 "
               "attempts meets the bound without the relay having tried)%s",
               untried, bad ? "; " : "");
    if (bad)
        describe_req(o, bad, v->detail, sizeof v->detail);
    verdict(v, bad == NULL, isinf(worst) ? 0 : worst);
}

static void ck_upstream_count(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    const char *env = str(c, "env", NULL);
    int health = json_is_true(json_object_get(c, "health"));
    json_t *ph = json_object_get(c, "phase");
    long n = 0;
    if (ph && !health) {
        /* A phase's traffic attempts are those its requests made (tied by
         * id: the row needs the ids signal when a phase is given). */
        for (size_t i = 0; i < o->n_reqs; i++) {
            if (!req_in_phase(c, &o->reqs[i]))
                continue;
            size_t m;
            const size_t *idx = harness_obs_attempts(o, o->reqs[i].id, &m);
            for (size_t k = 0; k < m; k++) {
                const struct harness_att *a = &o->atts[idx[k]];
                n += (!env || strcmp(a->env, env) == 0) && in_window(c, o, a->t_arrival);
            }
        }
    } else {
        uint64_t lo = 0, hi = UINT64_MAX;
        if (ph)
            phase_span(o, (long)json_integer_value(ph), &lo, &hi);
        for (size_t i = 0; i < o->n_atts; i++) {
            const struct harness_att *a = &o->atts[i];
            if (a->health == health && (!env || strcmp(a->env, env) == 0) &&
                in_window(c, o, a->t_arrival) && a->t_arrival >= lo && a->t_arrival <= hi)
                n++;
        }
    }
    char exp[96], scope[96];
    double m;
    int ok = in_bounds(c, (double)n, &m, exp, sizeof exp);
    v->samples = (long)o->n_reqs;
    scope_words(c, scope, sizeof scope);
    SETF(expected, "%s requests reaching %s%s %s", health ? "health" : "traffic", env ? env : "any",
         scope, exp);
    SETF(measured, "%ld", n);
    snprintf(v->unit, sizeof v->unit, "req");
    /* "None reached blue" is about the colour the relay picks: when no
     * traffic reached any upstream, no pick was seen (a relay that answers
     * every request itself keeps every colour at 0).  Without a colour, 0 is
     * the point (a request refused before any upstream). */
    if (env && !health && n == 0 && ok) {
        long any = 0;
        for (size_t i = 0; i < o->n_atts; i++)
            any += !o->atts[i].health && in_window(c, o, o->atts[i].t_arrival);
        if (!any) {
            SETF(detail, "no traffic attempt reached any upstream (mock journals): which colour "
                         "the relay sends to was not seen");
            v->samples = 0;
        }
    }
    verdict(v, ok, m);
    if (!health)
        rl_kind_excuse(c, o, v, (double)n, HARNESS_RL_ADMITTED_MAX);
}

/* The relay's intended sleeps for request id, from its attempt events in
 * order (backoff_ms of each attempt that was followed by another). */
static size_t intended_sleeps(const struct harness_obs *o, const char *id, double *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < o->n_evs && n < cap; i++) {
        const struct harness_ev *e = &o->evs[i];
        if (strcmp(e->type, "attempt") == 0 && strcmp(e->req_id, id) == 0)
            out[n++] = (double)e->backoff_ms;
    }
    return n;
}

/* Bounds of backoff k for a jitter kind: [lo, hi] around capk, with no
 * tolerance (the caller adds what measurement needs). */
static void jitter_bounds(const char *jitter, double capk, double base, double cap, double prev,
                          double *lo, double *hi)
{
    if (strcmp(jitter, "full") == 0) {
        *lo = 0;
        *hi = capk;
    } else if (strcmp(jitter, "equal") == 0) {
        *lo = floor(capk / 2);
        *hi = capk;
    } else if (strcmp(jitter, "decorrelated") == 0) {
        *lo = fmin(base, cap);
        *hi = fmin(cap, 3 * prev);
    } else {
        *lo = capk;
        *hi = capk;
    }
}

/* The mock stamps t_done when its server finished with the response, which
 * can be a little after the relay already read it; a gap measured from
 * t_done can so look up to this much shorter than the relay's real wait. */
#define DONE_SLACK_MS 5.0

/* A lower bound on a wait is measured from the attempt's arrival instead:
 * the mock stamps t_arrival before it writes the answer, so it is never
 * after the relay read it, and a stalled runner (the mock lives in its
 * loop) only lengthens the gap.  t_done is stamped in the completion
 * callback, after the write: on the loaded 2-core machine the runner was
 * descheduled there for 7 ms (backoff/full-jitter-distribution failed 1
 * run in 20 against the 5 ms DONE_SLACK_MS, with harness_on_time holding),
 * and it is late by up to 120 ms elsewhere, so no fixed slack on t_done
 * holds.  What is left is the relay's own rounding: it logs whole
 * milliseconds and starts its timer from its loop's cached time. */
#define ARRIVAL_SLACK_MS 1.0

/* ---- backoff: the distribution of the jitter ----------------------------- */

/* The false-failure probability of the distribution test, and the largest
 * DKW bound at which the test can still tell a fixed sleep (0.5 away from
 * the uniform in the middle) from a random one: below that many gaps the
 * test is inconclusive (docs/scenarios.md derives both). */
#define DIST_ALPHA   1e-4
#define DIST_MAX_EPS 0.3

/* Gaps needed for a DKW bound of DIST_MAX_EPS at DIST_ALPHA:
 * n >= ln(2/alpha) / (2 eps^2) = 56. */
long harness_backoff_dist_min_samples(void)
{
    return (long)ceil(log(2.0 / DIST_ALPHA) / (2.0 * DIST_MAX_EPS * DIST_MAX_EPS));
}

static double clamp01(double x)
{
    return x < 0 ? 0 : x > 1 ? 1 : x;
}

/* Given intervals [lo_i, hi_i] that each hold one unobserved U(0,1) sample,
 * the largest distance by which every empirical CDF the samples could have
 * must leave the uniform CDF: max over x of A(x) - x and x - B(x), with A
 * counting the hi_i <= x and B the lo_i <= x.  0 when some placement fits
 * the uniform exactly.  Sorts both arrays. */
double harness_dist_excess(double *lo, double *hi, size_t n)
{
    qsort(lo, n, sizeof *lo, cmp_double);
    qsort(hi, n, sizeof *hi, cmp_double);
    double d = 0;
    for (size_t j = 0; j < n; j++) {
        /* A jumps to (j+1)/n at hi_(j); B is j/n just below lo_(j). */
        d = fmax(d, (double)(j + 1) / (double)n - clamp01(hi[j]));
        d = fmax(d, clamp01(lo[j]) - (double)j / (double)n);
    }
    return d;
}

/* Statistical mode of backoff_gaps: every sleep of a jittered backoff is an
 * independent draw, so the sleeps normalised by their kind's range are
 * uniform on [0, 1]:
 *   full          u = s / t                    s ~ U[0, t]
 *   equal         u = (s - t/2) / (t - t/2)    s ~ t/2 + U[0, t - t/2]
 *   decorrelated  u = (s - base) / (3 prev - base), s = min(cap, U[base, 3 prev])
 * The sleep is seen only through the gap between attempts (mock journals),
 * which is late by at most tolerance_ms, early by at most DONE_SLACK_MS, and
 * the relay's whole milliseconds move it by one more: so each u is known to
 * lie in an interval, and a capped decorrelated sleep is known only to be at
 * or above the cap's u.  The Dvoretzky-Kiefer-Wolfowitz bound (Massart's
 * constant) says the empirical CDF of n true draws strays more than
 * eps = sqrt(ln(2/alpha) / (2n)) from the uniform with probability at most
 * alpha; the check fails only when every CDF the intervals allow strays more
 * than eps, so a correct relay fails with probability at most alpha = 1e-4. */
static void ck_backoff_dist(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    const char *jitter = str(c, "jitter", "none");
    double base = num(c, "base_ms", 0), factor = num(c, "factor", 2), cap = num(c, "cap_ms", 1e12),
           tol = num(c, "tolerance_ms", 10);
    json_t *sched = json_object_get(c, "schedule_ms");
    int same_env = json_is_true(json_object_get(c, "same_env"));
    int decor = strcmp(jitter, "decorrelated") == 0, equal = strcmp(jitter, "equal") == 0;
    size_t cap_n = 1024, n = 0;
    double *lo = co_calloc(cap_n, sizeof *lo), *hi = co_calloc(cap_n, sizeof *hi);
    double late = tol + 1, early = DONE_SLACK_MS + 1;
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_att *a[16];
        size_t na = attempts_of(o, o->reqs[i].id, a, 16);
        double p_lo = base, p_hi = base; /* the previous sleep, decorrelated */
        for (size_t k = 0; k + 1 < na; k++) {
            double gap = ((double)a[k + 1]->t_arrival - (double)a[k]->t_done) / 1000.0;
            double s_lo = fmax(0, gap - late), s_hi = gap + early;
            if (same_env && strcmp(a[k]->env, a[k + 1]->env) != 0) {
                p_lo = fmin(cap, fmax(base, s_lo));
                p_hi = fmin(cap, fmax(base, s_hi));
                continue;
            }
            double l, h;
            if (decor) {
                double d_hi = 3 * p_hi - base, d_lo = 3 * p_lo - base;
                if (d_hi <= 0) {
                    l = h = -1; /* no room for jitter: nothing to learn */
                } else {
                    l = (s_lo - base) / d_hi;
                    h = d_lo > 0 ? (s_hi - base) / d_lo : 1;
                    if (s_hi >= cap)
                        h = fmax(h, 1); /* capped: only a lower bound on u */
                }
                p_lo = fmin(cap, fmax(base, s_lo));
                p_hi = fmin(cap, fmax(base, s_hi));
            } else {
                double t;
                if (sched && json_array_size(sched)) {
                    size_t idx = k < json_array_size(sched) ? k : json_array_size(sched) - 1;
                    t = json_number_value(json_array_get(sched, idx));
                } else {
                    t = fmin(cap, base * pow(factor, (double)k));
                }
                double from = equal ? floor(t / 2) : 0, width = t - from;
                if (width <= 0) {
                    l = h = -1;
                } else {
                    l = (s_lo - from) / width;
                    h = (s_hi - from) / width;
                }
            }
            if (l == -1 && h == -1)
                continue;
            if (n == cap_n) {
                cap_n *= 2;
                lo = co_realloc(lo, cap_n * sizeof *lo);
                hi = co_realloc(hi, cap_n * sizeof *hi);
            }
            lo[n] = l;
            hi[n] = h;
            n++;
        }
    }
    double eps = n ? sqrt(log(2.0 / DIST_ALPHA) / (2.0 * (double)n)) : 1;
    double d = n ? harness_dist_excess(lo, hi, n) : 0;
    free(lo);
    free(hi);
    v->samples = (long)n;
    if (!has(c, "min_samples"))
        v->min_samples = harness_backoff_dist_min_samples();
    SETF(expected,
         "sleeps distributed as jitter '%s' (DKW band at false-failure probability %g; "
         "gaps late by <= %g ms)",
         jitter, DIST_ALPHA, tol);
    SETF(measured,
         "%zu gaps (black-box, mock journals): distance beyond the measurement band %.3f, "
         "allowed %.3f",
         n, d, eps);
    snprintf(v->unit, sizeof v->unit, "cdf");
    if (n < (size_t)v->min_samples)
        SETF(detail, "too few gaps: %zu of the %ld the test needs to tell at probability %g", n,
             v->min_samples, DIST_ALPHA);
    else if (d > eps)
        SETF(detail,
             "the gaps' distribution is not that of '%s' jitter: a fixed or non-random sleep, "
             "or the wrong range",
             jitter);
    verdict(v, d <= eps, eps - d);
}

/* Backoff: black-box, each gap between consecutive attempts of a request
 * (mock journals) against the schedule; white-box where the relay logs its
 * intended sleep, that sleep exactly against the jitter bounds and the gap
 * against that sleep.  Lower bounds are strict (only the measurement slack);
 * upper bounds carry tolerance_ms, because a loaded machine is late, never
 * early. */
static void ck_backoff(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    if (json_is_true(json_object_get(c, "distribution"))) {
        ck_backoff_dist(c, o, v);
        return;
    }
    const char *jitter = str(c, "jitter", "none");
    double base = num(c, "base_ms", 0), factor = num(c, "factor", 2), cap = num(c, "cap_ms", 1e12),
           tol = num(c, "tolerance_ms", 10);
    json_t *sched = json_object_get(c, "schedule_ms");
    int same_env = json_is_true(json_object_get(c, "same_env"));
    double worst = INFINITY;
    char first_bad[512] = "";
    const struct harness_req *bad_req = NULL; /* the request first_bad is about */
    double gmin = INFINITY, gmax = 0;
    long white = 0;
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_att *a[16];
        size_t n = attempts_of(o, o->reqs[i].id, a, 16);
        double sleeps[16];
        size_t ns = intended_sleeps(o, o->reqs[i].id, sleeps, 16);
        /* Intended sleeps only line up with the journal when both saw every attempt. */
        int wb = ns == n && !same_env;
        double prev = base;
        for (size_t k = 0; k + 1 < n; k++) {
            if (same_env && strcmp(a[k]->env, a[k + 1]->env) != 0)
                continue;
            double gap = ((double)a[k + 1]->t_arrival - (double)a[k]->t_done) / 1000.0;
            /* The lower bounds' gap: from the arrival (ARRIVAL_SLACK_MS). */
            double gap_lo = ((double)a[k + 1]->t_arrival - (double)a[k]->t_arrival) / 1000.0;
            double capk;
            if (sched && json_array_size(sched)) {
                size_t idx = k < json_array_size(sched) ? k : json_array_size(sched) - 1;
                capk = json_number_value(json_array_get(sched, idx));
            } else {
                capk = fmin(cap, base * pow(factor, (double)k));
            }
            double lo, hi, m;
            jitter_bounds(jitter, capk, base, cap, prev, &lo, &hi);
            if (wb) {
                double s = sleeps[k];
                /* The intended sleep within the bounds exactly (1 ms rounding)... */
                double mi = fmin(s - (lo - 1), (hi + 1) - s);
                /* ...and the measured gap no shorter than it, at most tol longer. */
                double mg = fmin(gap_lo - (s - ARRIVAL_SLACK_MS), s + tol - gap);
                m = fmin(mi, mg);
                if (m < 0 && !first_bad[0]) {
                    bad_req = &o->reqs[i];
                    snprintf(first_bad, sizeof first_bad,
                             "%s gap %zu (%s#%zu -> %s#%zu): relay slept %.0f ms (allowed "
                             "[%.0f, %.0f]), measured %.1f ms (allowed <= %.1f; %.1f from the "
                             "arrival, allowed >= %.1f)",
                             o->reqs[i].id, k + 1, a[k]->env, k + 1, a[k + 1]->env, k + 2, s, lo,
                             hi, gap, s + tol, gap_lo, s - ARRIVAL_SLACK_MS);
                }
                prev = s;
                white++;
            } else {
                lo -= ARRIVAL_SLACK_MS;
                hi += tol;
                m = fmin(gap_lo - lo, hi - gap);
                if (m < 0 && !first_bad[0]) {
                    bad_req = &o->reqs[i];
                    snprintf(first_bad, sizeof first_bad,
                             "%s gap %zu (%s#%zu -> %s#%zu) = %.1f ms (%.1f from the arrival), "
                             "allowed [%.1f from the arrival, %.1f]",
                             o->reqs[i].id, k + 1, a[k]->env, k + 1, a[k + 1]->env, k + 2, gap,
                             gap_lo, lo, hi);
                }
                prev = gap;
            }
            worst = fmin(worst, m);
            gmin = fmin(gmin, gap);
            gmax = fmax(gmax, gap);
            v->samples++;
        }
    }
    if (sched)
        SETF(expected, "gaps between attempts follow schedule_ms (jitter %s, tolerance %g ms)",
             jitter, tol);
    else
        SETF(expected, "gap k within jitter '%s' of min(%g, %g*%g^k) ms, late by at most %g ms",
             jitter, cap, base, factor, tol);
    if (v->samples)
        SETF(measured, "%ld gaps (%ld with the relay's intended sleep), %.1f..%.1f ms", v->samples,
             white, gmin, gmax);
    else
        SETF(measured, "no request with two attempts");
    snprintf(v->unit, sizeof v->unit, "ms");
    if (first_bad[0]) {
        snprintf(v->detail, sizeof v->detail, "%s; ", first_bad);
        describe_req(o, bad_req, v->detail, sizeof v->detail);
    }
    verdict(v, !first_bad[0], isinf(worst) ? 0 : worst);
}

static void ck_retry_after(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    double min_ms = num(c, "min_ms", 0), worst = INFINITY, gmin = INFINITY;
    const struct harness_req *bad = NULL;
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_att *a[16];
        size_t n = attempts_of(o, o->reqs[i].id, a, 16);
        for (size_t k = 0; k + 1 < n; k++) {
            if (a[k]->status != 429 && a[k]->status != 503)
                continue;
            /* The next attempt to the same colour, however many went to the
             * other in between: a failover owes the other colour no wait,
             * but a relay that alternates colours every few ms is back at
             * the one that said Retry-After long before it allowed. */
            size_t j = k + 1;
            while (j < n && strcmp(a[k]->env, a[j]->env) != 0)
                j++;
            if (j == n)
                continue;
            /* From the arrival: a lower bound (ARRIVAL_SLACK_MS). */
            double gap = ((double)a[j]->t_arrival - (double)a[k]->t_arrival) / 1000.0;
            v->samples++;
            gmin = fmin(gmin, gap);
            if (gap - (min_ms - ARRIVAL_SLACK_MS) < worst)
                worst = gap - (min_ms - ARRIVAL_SLACK_MS);
            if (gap < min_ms - ARRIVAL_SLACK_MS && !bad)
                bad = &o->reqs[i];
        }
    }
    SETF(expected, "a retry on the same colour after a 429/503 waits >= %g ms (Retry-After)",
         min_ms);
    if (v->samples)
        SETF(measured, "%ld retries, shortest wait %.1f ms", v->samples, gmin);
    else
        SETF(measured, "no retry after a 429/503 on the same colour");
    snprintf(v->unit, sizeof v->unit, "ms");
    if (bad)
        describe_req(o, bad, v->detail, sizeof v->detail);
    verdict(v, bad == NULL, isinf(worst) ? 0 : worst);
}

/* What the relay wrote on stderr, every replica's: a relay given
 * log_level warn or error has nothing to say on a run where nothing went
 * wrong, whatever its log format (a relay that logs to a file of its own
 * writes nothing here either: this is a bound, a relay that cannot take
 * log_level is not judged, see the row's settings). */
static void ck_relay_stderr_lines(const json_t *c, const struct harness_obs *o,
                                  struct report_check *v)
{
    double max = num(c, "max", 0);
    v->samples = o->stderr_read;
    SETF(expected, "at most %g non-empty lines on the relay's stderr", max);
    if (o->stderr_read)
        SETF(measured, "%ld lines", o->stderr_lines);
    else
        SETF(measured, "no relay stderr read (a relay the runner did not start)");
    snprintf(v->unit, sizeof v->unit, "lines");
    if (o->stderr_lines > max)
        SETF(detail, "the first: %s", o->stderr_first);
    verdict(v, (double)o->stderr_lines <= max, max - (double)o->stderr_lines);
}

/* Replicas given the same seed make the same seeded choices: with the
 * same weights and the same number of requests each, replica i's n-th
 * request after the mark is served by the colour replica 0's n-th was
 * (the served colour, in send order; requests that failed or named no
 * colour end the comparison there).  A relay whose seed is a promise of
 * reproducible picks (cutover-relay's `seed`) is asked this; a relay that
 * draws from the clock fails it about every other pick. */
static void ck_seeded_picks_agree(const json_t *c, const struct harness_obs *o,
                                  struct report_check *v)
{
    const char *mark = str(c, "after", NULL);
    uint64_t from = mark ? harness_obs_mark(o, mark) : 0;
    const struct harness_req *seq[HARNESS_MAX_REPLICAS][64];
    size_t n[HARNESS_MAX_REPLICAS] = {0};
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *q = &o->reqs[i];
        if (q->replica < 0 || q->replica >= HARNESS_MAX_REPLICAS || q->t_sent < from)
            continue;
        if (n[q->replica] < 64)
            seq[q->replica][n[q->replica]++] = q;
    }
    SETF(expected,
         "every replica's n-th request%s%s served by the colour replica 0's n-th was "
         "(the same seed, the same picks)",
         mark ? " after " : "", mark ? mark : "");
    snprintf(v->unit, sizeof v->unit, "req");
    const struct harness_req *bad = NULL;
    int bad_rep = 0;
    size_t bad_k = 0;
    long differ = 0;
    /* Every pair is a sample (a mismatch among few is still a verdict when
     * enough pairs were compared); the first mismatch is reported. */
    for (int r = 1; r < o->n_replicas && r < HARNESS_MAX_REPLICAS; r++) {
        for (size_t k = 0; k < n[0] && k < n[r]; k++) {
            const char *a = seq[0][k]->served, *b = seq[r][k]->served;
            if (!a[0] || !b[0])
                break;
            v->samples++;
            if (strcmp(a, b) != 0 && differ++ == 0) {
                bad = seq[r][k];
                bad_rep = r;
                bad_k = k;
            }
        }
    }
    if (o->n_replicas < 2)
        SETF(measured, "one replica: nothing to compare");
    else if (bad)
        SETF(measured,
             "%ld of %ld requests served differently; first: replica %d's request %zu "
             "by %s, replica 0's by %s",
             differ, v->samples, bad_rep, bad_k + 1, bad->served, seq[0][bad_k]->served);
    else
        SETF(measured, "%ld requests served alike", v->samples);
    if (bad)
        describe_req(o, bad, v->detail, sizeof v->detail);
    verdict(v, bad == NULL, bad ? -(double)differ : (double)v->samples);
}

static void ck_no_hammering(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    const char *env = str(c, "env", NULL);
    double window = num(c, "window_ms", 1000) * 1000.0, max = num(c, "max", 0);
    size_t best = 0, j = 0;
    uint64_t best_t = 0;
    const struct harness_att **list = co_calloc(o->n_atts + 1, sizeof *list);
    size_t n = 0;
    for (size_t i = 0; i < o->n_atts; i++)
        if (!o->atts[i].health && (!env || strcmp(o->atts[i].env, env) == 0))
            list[n++] = &o->atts[i];
    for (size_t i = 0; i < n; i++) {
        while (j < i && (double)(list[i]->t_arrival - list[j]->t_arrival) >= window)
            j++;
        if (i - j + 1 > best) {
            best = i - j + 1;
            best_t = list[j]->t_arrival;
        }
    }
    free(list);
    v->samples = (long)n;
    SETF(expected, "at most %g upstream attempts%s%s in any %g ms", max, env ? " to " : "",
         env ? env : "", window / 1000.0);
    SETF(measured, "at most %zu (window from %+.1f ms)", best, best ? rel_ms(o, best_t) : 0.0);
    snprintf(v->unit, sizeof v->unit, "att");
    verdict(v, (double)best <= max, max - (double)best);
}

/* ---- switches ---------------------------------------------------------- */

struct sw {
    uint64_t t;
    char from[8], to[8];
};

/* White-box: the relay's switch events. */
static size_t switches_events(const struct harness_obs *o, struct sw *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < o->n_evs && n < cap; i++) {
        if (strcmp(o->evs[i].type, "switch") != 0)
            continue;
        out[n].t = o->evs[i].t;
        snprintf(out[n].from, sizeof out[n].from, "%s", o->evs[i].from);
        snprintf(out[n].to, sizeof out[n].to, "%s", o->evs[i].to);
        n++;
    }
    return n;
}

static int by_sent(const void *a, const void *b)
{
    const struct harness_req *x = *(const struct harness_req *const *)a,
                             *y = *(const struct harness_req *const *)b;
    return x->t_sent < y->t_sent ? -1 : x->t_sent > y->t_sent;
}

/* The colour the relay was on before its first answer: that of the first
 * chat attempt any upstream journalled (probes aside), "" when none did. */
static const char *first_attempt_env(const struct harness_obs *o)
{
    const struct harness_att *first = NULL;
    for (size_t i = 0; i < o->n_atts; i++) {
        const struct harness_att *a = &o->atts[i];
        if (!a->health && a->env[0] && (!first || a->t_arrival < first->t_arrival))
            first = a;
    }
    return first ? first->env : "";
}

/* Black-box: changes of the colour that served successive successful
 * requests.  They are taken in send order, which is the order the relay
 * picked their colour in; completion order would reorder a slow request of
 * the old colour behind fast ones of the new and invent switches.  A switch
 * is dated when the client saw the new colour (the answer's arrival).
 * The sequence starts at the colour of the first upstream attempt: a relay
 * that tried blue first and then served everything from green switched
 * once, though no two answers differ (an outsider's relay that fails over
 * on the very first failure would otherwise show "none"). */
static size_t switches_served(const struct harness_obs *o, struct sw *out, size_t cap)
{
    const struct harness_req **ok = co_calloc(o->n_reqs + 1, sizeof *ok);
    size_t m = 0, n = 0;
    for (size_t i = 0; i < o->n_reqs; i++)
        if (o->reqs[i].outcome == HARNESS_OK && o->reqs[i].served[0])
            ok[m++] = &o->reqs[i];
    qsort(ok, m, sizeof *ok, by_sent);
    const char *start = first_attempt_env(o);
    if (m && start[0] && strcmp(start, ok[0]->served) != 0 && n < cap) {
        out[n].t = ok[0]->t_done;
        snprintf(out[n].from, sizeof out[n].from, "%s", start);
        snprintf(out[n].to, sizeof out[n].to, "%s", ok[0]->served);
        n++;
    }
    for (size_t i = 1; i < m && n < cap; i++) {
        if (strcmp(ok[i]->served, ok[i - 1]->served) == 0)
            continue;
        out[n].t = ok[i]->t_done;
        snprintf(out[n].from, sizeof out[n].from, "%s", ok[i - 1]->served);
        snprintf(out[n].to, sizeof out[n].to, "%s", ok[i]->served);
        n++;
    }
    free(ok);
    return n;
}

static void seq_string(const struct sw *s, size_t n, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; i < n && i < 12; i++)
        append(out, cap, "%s%s->%s", i ? ", " : "", s[i].from, s[i].to);
    if (n > 12)
        append(out, cap, ", ...");
    if (!n)
        snprintf(out, cap, "none");
}

/* Checks count (min/max/exact) and sequence on one view; 1 when it holds. */
static int switches_hold(const json_t *c, const struct sw *s, size_t n, double *margin)
{
    char exp[96];
    int ok = 1;
    *margin = 0;
    if (has(c, "min") || has(c, "max") || has(c, "exact"))
        ok = in_bounds(c, (double)n, margin, exp, sizeof exp);
    json_t *seq = json_object_get(c, "sequence");
    if (seq) {
        if (json_array_size(seq) != n)
            ok = 0;
        for (size_t i = 0; ok && i < n; i++) {
            char want[24];
            snprintf(want, sizeof want, "%s->%s", s[i].from, s[i].to);
            if (strcmp(want, json_string_value(json_array_get(seq, i))) != 0)
                ok = 0;
        }
    }
    return ok;
}

/* Keeps the switches a check's "window_ms" takes (by the time its view
 * gives it); returns how many. */
static size_t switches_in_window(const json_t *c, const struct harness_obs *o, struct sw *s,
                                 size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (in_window(c, o, s[i].t))
            s[k++] = s[i];
    return k;
}

static void ck_switches(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    const char *view = str(c, "view", "events");
    struct sw ev[64], sv[64];
    size_t ne = switches_events(o, ev, 64), ns = switches_served(o, sv, 64);
    ne = switches_in_window(c, o, ev, ne);
    ns = switches_in_window(c, o, sv, ns);
    char se[256], ss[256], exp[96] = "";
    seq_string(ev, ne, se, sizeof se);
    seq_string(sv, ns, ss, sizeof ss);
    if (has(c, "min") || has(c, "max") || has(c, "exact"))
        in_bounds(c, 0, &(double){0}, exp, sizeof exp);
    json_t *seq = json_object_get(c, "sequence");
    char want[256] = "";
    if (seq) {
        size_t i;
        json_t *x;
        json_array_foreach(seq, i, x)
            append(want, sizeof want, "%s%s", i ? ", " : "", json_string_value(x));
    }
    SETF(expected, "switches (%s view)%s%s%s%s%s", view, exp[0] ? " count " : "", exp,
         seq ? " sequence [" : "", want, seq ? "]" : "");
    double me = 0, ms = 0;
    int ok;
    if (strcmp(view, "served") == 0) {
        ok = switches_hold(c, sv, ns, &ms);
        SETF(measured, "served: %s", ss);
        v->samples = 0;
        for (size_t i = 0; i < o->n_reqs; i++)
            v->samples += o->reqs[i].outcome == HARNESS_OK && o->reqs[i].served[0];
        verdict(v, ok, ms);
        return;
    }
    v->samples = o->have_events ? 1 : 0;
    ok = switches_hold(c, ev, ne, &me);
    if (strcmp(view, "both") == 0) {
        int oks = switches_hold(c, sv, ns, &ms);
        SETF(measured, "events: %s; served: %s", se, ss);
        if (ok != oks)
            SETF(detail, "the relay's events and the served colours disagree");
        ok = ok && oks;
        me = fmin(me, ms);
    } else {
        SETF(measured, "events: %s", se);
    }
    if (!o->have_events)
        SETF(measured, "no relay event log");
    verdict(v, ok, me);
}

static void ck_switch_delay(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    const char *view = str(c, "view", "events"), *to = str(c, "to", ""),
               *from = str(c, "from", NULL), *after = str(c, "after", "start");
    double within = num(c, "within_ms", 0), lo = num(c, "min_ms", 0);
    uint64_t mark = harness_obs_mark(o, after);
    struct sw s[64];
    size_t n = strcmp(view, "served") == 0 ? switches_served(o, s, 64) : switches_events(o, s, 64);
    SETF(expected, "switch %s->%s within [%g, %g] ms after '%s' (%s view)", from ? from : "*", to,
         lo, within, after, view);
    v->samples = strcmp(view, "served") == 0 || o->have_events ? 1 : 0;
    snprintf(v->unit, sizeof v->unit, "ms");
    if (!mark) {
        SETF(measured, "mark '%s' never happened", after);
        v->samples = 0;
        verdict(v, 0, 0);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i].t < mark || strcmp(s[i].to, to) != 0 || (from && strcmp(s[i].from, from) != 0))
            continue;
        double d = ((double)s[i].t - (double)mark) / 1000.0;
        SETF(measured, "%.1f ms", d);
        verdict(v, d <= within && d >= lo,
                has(c, "min_ms") ? fmin(within - d, d - lo) : within - d);
        return;
    }
    SETF(measured, "no such switch after the mark");
    verdict(v, 0, -within);
}

/* The served view's dwells, bounded.  A served switch is seen only between
 * two answers: it happened after the relay picked the old colour for the
 * last request of it (not before that request was sent) and before the
 * first answer of the new colour arrived.  Dating it by that answer's
 * arrival alone gave negative dwells (answers arrive out of send order), so
 * each dwell is an interval: at least the gap between the latest the earlier
 * switch can have been and the earliest the later one can have been (never
 * below 0), at most the other way round.  *lo and *hi get the shortest
 * dwell's bounds (the least of each); returns the number of switches. */
static size_t dwells_served(const struct harness_obs *o, double *lo, double *hi, struct sw *s,
                            size_t cap)
{
    const struct harness_req **ok = co_calloc(o->n_reqs + 1, sizeof *ok);
    uint64_t *early = co_calloc(cap + 1, sizeof *early), *late = co_calloc(cap + 1, sizeof *late);
    size_t m = 0, n = 0;
    for (size_t i = 0; i < o->n_reqs; i++)
        if (o->reqs[i].outcome == HARNESS_OK && o->reqs[i].served[0])
            ok[m++] = &o->reqs[i];
    qsort(ok, m, sizeof *ok, by_sent);
    const char *start = first_attempt_env(o);
    if (m && start[0] && strcmp(start, ok[0]->served) != 0 && n < cap) {
        early[n] = o->t0;
        late[n] = ok[0]->t_done;
        snprintf(s[n].from, sizeof s[n].from, "%s", start);
        snprintf(s[n].to, sizeof s[n].to, "%s", ok[0]->served);
        s[n++].t = ok[0]->t_done;
    }
    for (size_t i = 1; i < m && n < cap; i++) {
        if (strcmp(ok[i]->served, ok[i - 1]->served) == 0)
            continue;
        early[n] = ok[i - 1]->t_sent;
        late[n] = ok[i]->t_done;
        snprintf(s[n].from, sizeof s[n].from, "%s", ok[i - 1]->served);
        snprintf(s[n].to, sizeof s[n].to, "%s", ok[i]->served);
        s[n++].t = ok[i]->t_done;
    }
    *lo = *hi = INFINITY;
    for (size_t k = 1; k < n; k++) {
        double l = ((double)early[k] - (double)late[k - 1]) / 1000.0,
               h = ((double)late[k] - (double)early[k - 1]) / 1000.0;
        *lo = fmin(*lo, fmax(0, l));
        *hi = fmin(*hi, h);
    }
    free(ok);
    free(early);
    free(late);
    return n;
}

static void ck_min_dwell(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    double min_ms = num(c, "min_ms", 0), shortest = INFINITY, hi = INFINITY;
    const char *view = str(c, "view", "events");
    int served = strcmp(view, "served") == 0;
    struct sw s[64];
    size_t n;
    if (served) {
        n = dwells_served(o, &shortest, &hi, s, 64);
    } else {
        n = switches_events(o, s, 64);
        for (size_t i = 1; i < n; i++)
            shortest = fmin(shortest, ((double)s[i].t - (double)s[i - 1].t) / 1000.0);
        hi = shortest;
    }
    /* The served view sees switches only through answers that name their
     * colour: with none, "no flapping" was not seen (a relay that answered
     * every request with an error would pass). */
    v->samples = o->have_events ? 1 : 0;
    if (served) {
        v->samples = 0;
        for (size_t i = 0; i < o->n_reqs; i++)
            v->samples += o->reqs[i].outcome == HARNESS_OK && o->reqs[i].served[0];
    }
    SETF(expected, "consecutive switches >= %g ms apart (no flapping, %s view)", min_ms, view);
    char seq[256];
    seq_string(s, n, seq, sizeof seq);
    snprintf(v->unit, sizeof v->unit, "ms");
    if (isinf(shortest))
        SETF(measured, "%zu switch(es): %s", n, seq);
    else if (served)
        SETF(measured, "shortest dwell %.1f..%.1f ms over %zu switches: %s", shortest, hi, n, seq);
    else
        SETF(measured, "shortest dwell %.1f ms over %zu switches: %s", shortest, n, seq);
    if (served && !isinf(shortest) && shortest < min_ms && hi >= min_ms) {
        /* The answers bound the dwell on both sides of min_ms. */
        verdict(v, 1, 0);
        if (v->status == HARNESS_PASS)
            v->status = HARNESS_INCONCLUSIVE;
        append(v->detail, sizeof v->detail,
               "the answers place the shortest dwell between %.1f and %.1f ms (a switch is "
               "seen only between the last answer of one colour and the first of the next): "
               "not certainly below %g ms; ",
               shortest, hi, min_ms);
        return;
    }
    if (served && !isinf(hi) && hi < min_ms) {
        verdict(v, 0, hi - min_ms);
        return;
    }
    verdict(v, isinf(shortest) || shortest >= min_ms, isinf(shortest) ? 0 : shortest - min_ms);
}

static void ck_no_traffic_after_unhealthy(const json_t *c, const struct harness_obs *o,
                                          struct report_check *v)
{
    const char *env = str(c, "env", "blue"), *after = str(c, "after", "start");
    double grace = num(c, "grace_ms", 0) * 1000.0;
    uint64_t mark = harness_obs_mark(o, after), found = 0, back = UINT64_MAX;
    for (size_t i = 0; i < o->n_evs; i++) {
        const struct harness_ev *e = &o->evs[i];
        if (e->t < mark)
            continue;
        int down = (strcmp(e->type, "health") == 0 && strcmp(e->env, env) == 0 && !e->healthy) ||
                   (strcmp(e->type, "switch") == 0 && strcmp(e->from, env) == 0);
        int up = (strcmp(e->type, "health") == 0 && strcmp(e->env, env) == 0 && e->healthy) ||
                 (strcmp(e->type, "switch") == 0 && strcmp(e->to, env) == 0);
        if (!found && down)
            found = e->t;
        else if (found && up) {
            back = e->t;
            break;
        }
    }
    SETF(expected,
         "no traffic to %s from %g ms after it was found unhealthy (after '%s') until "
         "it recovers",
         env, grace / 1000.0, after);
    snprintf(v->unit, sizeof v->unit, "req");
    if (!found) {
        SETF(measured, "the relay never found %s unhealthy", env);
        v->samples = o->have_events ? 1 : 0;
        verdict(v, 0, 0);
        return;
    }
    long late = 0;
    const struct harness_att *first = NULL;
    for (size_t i = 0; i < o->n_atts; i++) {
        const struct harness_att *a = &o->atts[i];
        if (a->health || strcmp(a->env, env) != 0)
            continue;
        if ((double)a->t_arrival > (double)found + grace && a->t_arrival < back) {
            late++;
            if (!first)
                first = a;
        }
    }
    for (size_t i = 0; i < o->n_reqs; i++)
        if ((double)o->reqs[i].t_sent > (double)found + grace && o->reqs[i].t_sent < back)
            v->samples++;
    SETF(measured, "%ld attempts to %s (found unhealthy at %+.1f ms, %s)", late, env,
         rel_ms(o, found), back == UINT64_MAX ? "never recovered" : "recovered later");
    if (first)
        SETF(detail, "first late attempt: request %s at %+.1f ms", first->req_id,
             rel_ms(o, first->t_arrival));
    verdict(v, late == 0, (double)-late);
}

/* Health thresholds, exactly: after a mark that starts a known sequence of
 * probe answers, how many probes to env arrived before the relay reacted.
 * The reaction is black-box: the first traffic attempt that reached `to`
 * after the mark (mock journals).  The relay reacts within milliseconds of
 * the threshold probe's answer and the next probe is an interval later, so
 * the count is exact: fall or rise off by one moves it by one. */
static void ck_health_probes(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    const char *env = str(c, "env", "blue"), *to = str(c, "to", "green"),
               *after = str(c, "after", "start");
    uint64_t mark = harness_obs_mark(o, after), react = 0;
    for (size_t i = 0; i < o->n_atts && mark && !react; i++)
        if (!o->atts[i].health && o->atts[i].t_arrival >= mark && strcmp(o->atts[i].env, to) == 0)
            react = o->atts[i].t_arrival;
    long probes = 0;
    for (size_t i = 0; i < o->n_atts && react; i++) {
        const struct harness_att *a = &o->atts[i];
        probes += a->health && strcmp(a->env, env) == 0 && a->t_arrival >= mark &&
                  a->t_arrival < react && in_window(c, o, a->t_arrival);
    }
    char exp[96];
    double m;
    int ok = in_bounds(c, (double)probes, &m, exp, sizeof exp);
    v->samples = react ? 1 : 0;
    SETF(expected, "/health probes to %s after '%s' before traffic reached %s %s", env, after, to,
         exp);
    snprintf(v->unit, sizeof v->unit, "probe");
    if (!mark) {
        SETF(measured, "mark '%s' never happened", after);
    } else if (!react) {
        /* The reaction never came: the threshold was never reached. */
        v->samples = 1;
        SETF(measured, "no traffic reached %s after '%s'", to, after);
        verdict(v, 0, -1);
        return;
    } else {
        SETF(measured, "%ld probes, traffic reached %s at %+.1f ms", probes, to, rel_ms(o, react));
    }
    verdict(v, ok, m);
}

/* ---- rate limiting ------------------------------------------------------ */

/* The exact values of the rate-limit headers of one answer, where present:
 * Retry-After (whole seconds) is retry-after-ms rounded up, the limit is the
 * configured one, remaining lies in [0, limit) and is 0 on a 429.  A
 * Retry-After that is an HTTP date (RFC 9110 allows one; ra_s -3) has no
 * whole number to compare and is no error.  Returns 0 or -1 with the first
 * wrong value in why. */
static int rl_header_values(const struct harness_req *r, double limit, char *why, size_t n)
{
    if (r->ra_s >= 0 && r->ra_ms >= 0 && r->ra_s != (r->ra_ms + 999) / 1000) {
        snprintf(why, n, "Retry-After %ld s, retry-after-ms %ld (ceil is %ld)", r->ra_s, r->ra_ms,
                 (r->ra_ms + 999) / 1000);
        return -1;
    }
    if (r->status == 429 && (r->ra_s == -2 || r->ra_ms == -2)) {
        snprintf(why, n, "Retry-After or retry-after-ms is not a whole number");
        return -1;
    }
    if (r->rl_limit != -1 && (double)r->rl_limit != limit) {
        snprintf(why, n, "x-ratelimit-limit %ld, the limit is %g", r->rl_limit, limit);
        return -1;
    }
    if (r->rl_remaining != -1 && (r->rl_remaining < 0 || (double)r->rl_remaining >= limit ||
                                  (r->status == 429 && r->rl_remaining != 0))) {
        snprintf(why, n, "x-ratelimit-remaining %ld with status %ld (limit %g)", r->rl_remaining,
                 r->status, limit);
        return -1;
    }
    return 0;
}

/* When an admitted request was admitted at the latest: its first upstream
 * arrival, else its answer (the decision lies between its send and this). */
static uint64_t admitted_by(const struct harness_obs *o, const struct harness_req *r)
{
    uint64_t hi = r->t_done;
    size_t m;
    const size_t *idx = harness_obs_attempts(o, r->id, &m);
    for (size_t q = 0; q < m; q++)
        if (o->atts[idx[q]].t_arrival < hi)
            hi = o->atts[idx[q]].t_arrival;
    return hi;
}

/* An answer the limiter admitted: a success, or any answer whose request
 * reached an upstream (fleet_rate_limit's rule).  A 401 for an unknown
 * client key, or a 400, was refused before the limiter and says nothing
 * about it: a relay that refused every client (a command that lost its
 * {client_keys}) was judged "nothing was limited" on its 401s. */
static int rl_admitted(const struct harness_obs *o, const struct harness_req *r)
{
    return r->status != 0 && r->status != 429 &&
           ((r->status >= 200 && r->status < 400) || count_attempts(o, r->id, NULL) > 0);
}

static void ck_rate_limit(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    double limit = num(c, "limit", 0), window = num(c, "window_ms", 0) * 1000.0,
           tol = num(c, "tolerance", 0);
    const char *key = str(c, "key", NULL);
    /* How many admissions per window are too many depends on how the
     * limiter counts (harness/rl_judge.c, one rule for every check).  What
     * the relay's profile declares wins: a scenario cannot know how someone
     * else's limiter counts, only say what it expects when nothing else does
     * (a raw command). */
    const char *kind = o->rl_kind[0] ? o->rl_kind : str(c, "window_kind", "any");
    /* Retry-After is what any limiter owes its clients; x-ratelimit-* is a
     * convention (OpenAI's, cutover-relay's) a scenario may leave out. */
    json_t *rlh = json_object_get(c, "ratelimit_headers");
    int want_rl = !rlh || json_is_true(rlh);
    /* Admission happened somewhere between the client's send and the first
     * upstream arrival of the request (or its answer when none); a refusal
     * (a 429 that reached no upstream) between the send and the answer. */
    uint64_t *adm_lo = co_calloc(o->n_reqs + 1, sizeof *adm_lo),
             *adm_hi = co_calloc(o->n_reqs + 1, sizeof *adm_hi),
             *ref_lo = co_calloc(o->n_reqs + 1, sizeof *ref_lo),
             *ref_hi = co_calloc(o->n_reqs + 1, sizeof *ref_hi);
    size_t na = 0, nr = 0;
    long limited = 0, with_headers = 0, reached = 0, no_ra = 0;
    uint64_t first_429 = 0;
    int resumed = 0;
    long bad_values = 0;
    char bad_first[320] = "";
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *r = &o->reqs[i];
        if (key && strcmp(r->key, key) != 0)
            continue;
        char why[160];
        if (rl_header_values(r, limit, why, sizeof why) != 0 && !bad_values++)
            snprintf(bad_first, sizeof bad_first, "request %s (%ld): %s", r->id, r->status, why);
        if (r->status == 429) {
            limited++;
            if (r->retry_after_ms >= 0 && (r->ratelimit_hdrs > 0 || !want_rl))
                with_headers++;
            no_ra += r->retry_after_ms < 0;
            if (count_attempts(o, r->id, NULL) > 0) {
                reached++;
            } else if (r->t_done) {
                ref_lo[nr] = r->t_sent;
                ref_hi[nr++] = r->t_done;
            }
            if (!first_429 || r->t_sent < first_429)
                first_429 = r->t_sent;
        } else if (rl_admitted(o, r)) {
            adm_lo[na] = r->t_sent;
            adm_hi[na++] = admitted_by(o, r);
        }
    }
    struct harness_rl_case rc = {.kind = kind,
                                 .limit = limit + tol,
                                 .window_us = window,
                                 .burst = o->rl_burst,
                                 .adm_lo = adm_lo,
                                 .adm_hi = adm_hi,
                                 .n_adm = na,
                                 .ref_lo = ref_lo,
                                 .ref_hi = ref_hi,
                                 .n_ref = nr};
    struct harness_rl_verdict j;
    harness_rl_judge(&rc, &j);
    free(adm_lo);
    free(adm_hi);
    free(ref_lo);
    free(ref_hi);
    for (size_t i = 0; i < o->n_reqs && first_429; i++) {
        const struct harness_req *r = &o->reqs[i];
        if ((!key || strcmp(r->key, key) == 0) && r->t_sent > first_429 && rl_admitted(o, r))
            resumed = 1;
    }
    int ends_late = 0;
    for (size_t i = 0; i < o->n_reqs && first_429; i++)
        if ((!key || strcmp(o->reqs[i].key, key) == 0) &&
            (double)o->reqs[i].t_sent >= (double)first_429 + window)
            ends_late = 1;
    /* No 429 at all is no sample, unless the admissions already proved an
     * excess for the kind: then the relay clearly did not limit, and that
     * is a failure, not a lack of data. */
    int over = j.status == HARNESS_FAIL;
    int unlimited = limited == 0 && over;
    v->samples = unlimited ? (long)na : limited;
    SETF(expected,
         "%s<= %g admitted per %g ms, 429s carry Retry-After%s, none "
         "reaches an upstream, admission resumes after the window; Retry-After = "
         "ceil(retry-after-ms / 1000), x-ratelimit-limit = %g, remaining in [0, limit) and 0 "
         "on a 429",
         key ? "per key: " : "", limit + tol, window / 1000.0, want_rl ? " and x-ratelimit-*" : "",
         limit);
    SETF(measured,
         "max admitted/window %zu, 429s %ld (%ld with headers), limited reaching "
         "upstream %ld, resumed %s",
         j.best, limited, with_headers, reached,
         !ends_late ? "n/a (traffic ended within the window)"
         : resumed  ? "yes"
                    : "no");
    snprintf(v->unit, sizeof v->unit, "req");
    if (bad_values)
        append(v->measured, sizeof v->measured, ", %ld answers with wrong header values",
               bad_values);
    if (bad_values)
        SETF(detail, "%s", bad_first);
    else if (unlimited)
        SETF(detail, "nothing was limited although %s", j.why);
    else if (over)
        SETF(detail, "%s", j.why);
    else if (reached)
        SETF(detail, "%ld limited requests still reached an upstream", reached);
    else if (no_ra)
        SETF(detail, "%ld of %ld 429s without Retry-After", no_ra, limited);
    else if (with_headers < limited)
        SETF(detail,
             "%ld of %ld 429s without x-ratelimit-* headers (\"ratelimit_headers\": false "
             "asks only for Retry-After)",
             limited - with_headers, limited);
    else if (ends_late && !resumed)
        SETF(detail, "no request was admitted again after the window");
    int ok = !over && with_headers == limited && reached == 0 && (!ends_late || resumed) &&
             bad_values == 0;
    verdict(v, ok, j.margin);
    /* Over a sliding window's limit, within what the kind may admit. */
    if (v->status != HARNESS_FAIL && j.status == HARNESS_INCONCLUSIVE) {
        v->status = HARNESS_INCONCLUSIVE;
        SETF(detail, "%s", j.why);
    }
}

/* ---- health probes ------------------------------------------------------ */

static void ck_health_interval(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    const char *env = str(c, "env", "blue");
    double interval = num(c, "interval_ms", 0), tol = num(c, "tolerance_ms", interval / 2);
    double *gaps = co_calloc(o->n_atts + 1, sizeof *gaps);
    size_t n = 0;
    uint64_t prev = 0;
    for (size_t i = 0; i < o->n_atts; i++) {
        const struct harness_att *a = &o->atts[i];
        if (!a->health || strcmp(a->env, env) != 0)
            continue;
        if (prev)
            gaps[n++] = ((double)a->t_arrival - (double)prev) / 1000.0;
        prev = a->t_arrival;
    }
    qsort(gaps, n, sizeof *gaps, cmp_double);
    double med = n ? gaps[n / 2] : 0;
    v->samples = (long)n;
    SETF(expected, "/health probes to %s every %g ms (median within %g ms)", env, interval, tol);
    if (n)
        SETF(measured, "median %.1f ms over %zu gaps (%.1f..%.1f)", med, n, gaps[0], gaps[n - 1]);
    else
        SETF(measured, "fewer than two probes");
    free(gaps);
    snprintf(v->unit, sizeof v->unit, "ms");
    verdict(v, fabs(med - interval) <= tol, tol - fabs(med - interval));
}

/* ---- latency ------------------------------------------------------------ */

static void ck_latency(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    int from_sent = strcmp(str(c, "from", "scheduled"), "sent") == 0;
    double *lat = co_calloc(o->n_reqs + 1, sizeof *lat);
    size_t n = 0;
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *r = &o->reqs[i];
        if (!req_in_phase(c, r) || r->outcome != HARNESS_OK)
            continue;
        lat[n++] = ((double)r->t_done - (double)(from_sent ? r->t_sent : r->t_sched)) / 1000.0;
    }
    static const struct {
        const char *key;
        double p;
    } ps[] = {{"p50_ms", 50}, {"p95_ms", 95}, {"p99_ms", 99}, {"max_ms", 100}};
    int ok = 1;
    double margin = INFINITY;
    v->expected[0] = v->measured[0] = '\0';
    for (size_t k = 0; k < 4; k++) {
        double got = co_percentile(lat, n, ps[k].p);
        append(v->measured, sizeof v->measured, "%s%s %.1f", k ? ", " : "", ps[k].key, got);
        if (!has(c, ps[k].key))
            continue;
        double bound = num(c, ps[k].key, 0);
        append(v->expected, sizeof v->expected, "%s%s <= %g", v->expected[0] ? ", " : "", ps[k].key,
               bound);
        ok = ok && got <= bound;
        margin = fmin(margin, bound - got);
    }
    append(v->expected, sizeof v->expected, " (from %s, successful requests)",
           from_sent ? "sent" : "scheduled");
    v->samples = (long)n;
    free(lat);
    snprintf(v->unit, sizeof v->unit, "ms");
    verdict(v, ok, isinf(margin) ? 0 : margin);
}

static void ck_overhead(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    double *ov = co_calloc(o->n_reqs + 1, sizeof *ov);
    size_t n = 0;
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *r = &o->reqs[i];
        const struct harness_att *a[2];
        if (r->outcome != HARNESS_OK || attempts_of(o, r->id, a, 2) != 1)
            continue;
        double client = ((double)r->t_done - (double)r->t_sent) / 1000.0;
        double up = ((double)a[0]->t_done - (double)a[0]->t_arrival) / 1000.0;
        ov[n++] = client - up;
    }
    double p50 = co_percentile(ov, n, 50), p99 = co_percentile(ov, n, 99);
    int ok = 1;
    double margin = INFINITY;
    v->expected[0] = '\0';
    if (has(c, "p50_ms")) {
        ok = ok && p50 <= num(c, "p50_ms", 0);
        margin = fmin(margin, num(c, "p50_ms", 0) - p50);
        append(v->expected, sizeof v->expected, "p50 <= %g ms ", num(c, "p50_ms", 0));
    }
    if (has(c, "p99_ms")) {
        ok = ok && p99 <= num(c, "p99_ms", 0);
        margin = fmin(margin, num(c, "p99_ms", 0) - p99);
        append(v->expected, sizeof v->expected, "p99 <= %g ms ", num(c, "p99_ms", 0));
    }
    append(v->expected, sizeof v->expected,
           "(client latency minus upstream time, one-attempt "
           "requests)");
    SETF(measured, "p50 %.2f ms, p99 %.2f ms over %zu requests", p50, p99, n);
    v->samples = (long)n;
    free(ov);
    snprintf(v->unit, sizeof v->unit, "ms");
    verdict(v, ok, isinf(margin) ? 0 : margin);
}

/* ---- cutover, canary, process ------------------------------------------ */

static void ck_zero_downtime(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    const char *around = str(c, "around", "start");
    double before = num(c, "before_ms", ZERO_DOWNTIME_WINDOW_MS) * 1000.0,
           after = num(c, "after_ms", ZERO_DOWNTIME_WINDOW_MS) * 1000.0;
    uint64_t mark = harness_obs_mark(o, around);
    long failed = 0;
    const struct harness_req *bad = NULL;
    for (size_t i = 0; i < o->n_reqs && mark; i++) {
        const struct harness_req *r = &o->reqs[i];
        if ((double)r->t_sched < (double)mark - before || (double)r->t_sched > (double)mark + after)
            continue;
        v->samples++;
        /* A whole answer no upstream gave is no request served. */
        if (r->outcome != HARNESS_OK || answer_unsourced(o, r)) {
            failed++;
            if (!bad)
                bad = r;
        }
    }
    SETF(expected, "no failed request scheduled from %g ms before to %g ms after '%s'",
         before / 1000.0, after / 1000.0, around);
    SETF(measured, "%ld failed of %ld", failed, v->samples);
    snprintf(v->unit, sizeof v->unit, "req");
    if (bad)
        describe_req(o, bad, v->detail, sizeof v->detail);
    verdict(v, failed == 0, (double)-failed);
}

static void ck_served_ratio(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    const char *env = str(c, "env", "blue");
    long n = 0, hit = 0;
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *r = &o->reqs[i];
        if (!req_in_phase(c, r) || r->outcome != HARNESS_OK || !r->served[0])
            continue;
        n++;
        hit += strcmp(r->served, env) == 0;
    }
    double lo = num(c, "min", 0), hi = num(c, "max", 1), ratio = n ? (double)hit / (double)n : 0;
    v->samples = n;
    SETF(expected, "share of successful requests served by %s in [%g, %g]", env, lo, hi);
    SETF(measured, "%.3f (%ld of %ld)", ratio, hit, n);
    snprintf(v->unit, sizeof v->unit, "ratio");
    verdict(v, ratio >= lo && ratio <= hi, fmin(ratio - lo, hi - ratio));
}

static void ck_relay_alive(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    int want = !has(c, "alive") || json_is_true(json_object_get(c, "alive"));
    v->samples = 1;
    SETF(expected, "relay %s at the end", want ? "alive" : "gone");
    SETF(measured, "relay %s%s%s", o->relay_alive ? "alive" : "gone", o->relay_exit[0] ? ": " : "",
         o->relay_exit);
    /* Asked to be gone after the scenario's own stop signal, a relay still
     * finishing what it accepted when the traffic ended is draining, not
     * ignoring the signal: Express's server.close() waits for the clients'
     * keep-alive connections and exited 0 some 700 ms after a SIGTERM whose
     * clean_shutdown (max_ms 1500) passed.  How long a drain may take is
     * clean_shutdown's bound; gone means it exited cleanly at last. */
    if (!want && o->relay_alive && o->term_t && o->t_end && o->term_t < o->t_end &&
        o->exit_t >= o->t_end && o->exit_clean) {
        SETF(measured, "relay gone after the end: %s %.1f ms after the stop signal",
             o->exit_how[0] ? o->exit_how : "exited",
             ((double)o->exit_t - (double)o->term_t) / 1000.0);
        SETF(detail, "still draining when the traffic ended (how long a drain may take is "
                     "clean_shutdown's max_ms)");
        verdict(v, 1, 1);
        return;
    }
    verdict(v, o->relay_alive == want, o->relay_alive == want ? 1 : -1);
}

static void ck_clean_shutdown(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    double max_ms = num(c, "max_ms", 3000);
    v->samples = o->term_t && o->exit_t ? 1 : 0;
    SETF(expected, "on SIGTERM the relay drains and exits with status 0 within %g ms", max_ms);
    snprintf(v->unit, sizeof v->unit, "ms");
    if (!v->samples) {
        SETF(measured, "the relay %s before any SIGTERM", o->exit_t ? "ended" : "was never asked");
        verdict(v, 0, 0);
        return;
    }
    double took = ((double)o->exit_t - (double)o->term_t) / 1000.0;
    SETF(measured, "%s after %.1f ms", o->exit_how, took);
    verdict(v, o->exit_clean && took <= max_ms, o->exit_clean ? max_ms - took : -1);
}

/* The harness's own punctuality: open-loop sends and timeline steps late by
 * more than max_ms mean the runner (not the relay) was stalled.  Never a
 * failure of the relay: inconclusive, which `cutover run` answers by running
 * the scenario again. */
static void ck_harness_on_time(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    double max_ms = num(c, "max_ms", 50);
    uint64_t late = o->step_late_us;
    const struct harness_req *worst = NULL;
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *r = &o->reqs[i];
        if (r->t_sent > r->t_sched && r->t_sent - r->t_sched > late) {
            late = r->t_sent - r->t_sched;
            worst = r;
        }
    }
    v->samples = 1;
    SETF(expected, "the runner sent every request and ran every step within %g ms of its time",
         max_ms);
    SETF(measured, "late by at most %.1f ms%s%s", (double)late / 1000.0, worst ? " (request " : "",
         worst ? worst->id : "");
    if (worst)
        append(v->measured, sizeof v->measured, ")");
    snprintf(v->unit, sizeof v->unit, "ms");
    double m = max_ms - (double)late / 1000.0;
    v->margin = m;
    v->status = m >= 0 ? HARNESS_PASS : HARNESS_INCONCLUSIVE;
}

/* Admin switches are judged by what they did, not only by their status: a
 * relay that answers 200 to any POST "succeeds" at every call.  After a
 * switch to X answered 2xx, the requests sent to the same replica before
 * the next accepted switch (at most ADMIN_EFFECT_US later) must, some of
 * them, try X first (mock journals, by id).  Seen: effect; none tried X
 * while at least ADMIN_EFFECT_MIN tried the other: the switch did nothing;
 * fewer requests, no attempt, or no ids: judged by its status only, and
 * the verdict says so. */
#define ADMIN_EFFECT_US  500000
#define ADMIN_EFFECT_MIN 3

/* 1 effect seen, 0 certainly none, -1 unseen; *other counts the requests
 * that went first to another colour. */
static int admin_switch_effect(const struct harness_obs *o, int k, long *other)
{
    uint64_t from = o->admin_switches[k].t, to = from + ADMIN_EFFECT_US;
    for (int m = k + 1; m < o->n_admin_switches; m++)
        if (o->admin_switches[m].replica == o->admin_switches[k].replica &&
            o->admin_switches[m].t < to)
            to = o->admin_switches[m].t;
    long same = 0;
    *other = 0;
    if (!(o->signals & HARNESS_SIG_IDS))
        return -1;
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *r = &o->reqs[i];
        if (r->t_sent <= from || r->t_sent >= to || r->replica != o->admin_switches[k].replica)
            continue;
        const struct harness_att *a[1];
        if (!attempts_of(o, r->id, a, 1))
            continue;
        if (strcmp(a[0]->env, o->admin_switches[k].to) == 0)
            same++;
        else
            (*other)++;
    }
    return same ? 1 : *other >= ADMIN_EFFECT_MIN ? 0 : -1;
}

static void ck_admin_ok(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    v->samples = o->admin_calls;
    SETF(expected, "every admin API call of the timeline answered 2xx (401/403 without the "
                   "right token), and each switch moved the next requests to its colour");
    int seen = 0, none = -1, unseen = 0;
    long other = 0;
    for (int k = 0; k < o->n_admin_switches; k++) {
        long ot;
        int e = admin_switch_effect(o, k, &ot);
        seen += e == 1;
        unseen += e == -1;
        if (e == 0 && none < 0) {
            none = k;
            other = ot;
        }
    }
    int status_only = o->admin_calls - o->admin_failed - seen - (none >= 0);
    if (o->admin_failed)
        SETF(measured, "%d of %d failed, first: %s", o->admin_failed, o->admin_calls,
             o->admin_error);
    else if (none >= 0)
        SETF(measured,
             "switch to %s answered 2xx, but the %ld requests sent after it tried "
             "the other colour first",
             o->admin_switches[none].to, other);
    else
        SETF(measured, "%d of %d answered as expected; %d switch(es) seen in effect",
             o->admin_calls, o->admin_calls, seen);
    if (none >= 0)
        append(v->detail, sizeof v->detail,
               "the relay accepted a switch it did not make (a 2xx is no switch); ");
    else if (!o->admin_failed && status_only > 0)
        append(v->detail, sizeof v->detail, "%d call(s) judged by the HTTP status only: %s; ",
               status_only,
               unseen ? "no request after a switch reached an upstream (or no ids)"
                      : "a call that names no colour (rollback, weights, refused token)");
    int ok = o->admin_failed == 0 && none < 0;
    verdict(v, ok, o->admin_failed ? -(double)o->admin_failed : none >= 0 ? -1 : 1);
}

static void ck_no_secret_leak(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    v->samples = o->leak_scanned;
    SETF(expected, "the upstream API key appears in no log, event, journal or answer");
    SETF(measured, o->secret_leaks ? "found in %s" : "not found%s",
         o->secret_leaks ? o->leak_where : "");
    /* An upstream that quotes the Authorization it got (echo_auth) puts the
     * key in answers only if the relay sent it: when none of the echoing
     * attempts carried the configured key (mock journals), no answer held a
     * key to scrub, and "not found" says nothing about scrubbing. */
    long echoed = 0, echoed_key = 0;
    for (size_t i = 0; i < o->n_atts; i++)
        if (strcmp(o->atts[i].action, "echo_auth") == 0) {
            echoed++;
            echoed_key += strcmp(o->atts[i].key, "configured") == 0;
        }
    verdict(v, o->secret_leaks == 0, o->secret_leaks ? (double)-o->secret_leaks : 1);
    if (!o->secret_leaks && echoed && !echoed_key) {
        v->status = HARNESS_INCONCLUSIVE;
        append(v->detail, sizeof v->detail,
               "the upstream echoed its Authorization in %ld answers, but none carried the "
               "relay's key (mock journals): no key reached an answer, so scrubbing was not "
               "seen",
               echoed);
    }
}

/* ---- the relay's contract: what it forwards, what its errors look like -- */

static int by_id(const void *a, const void *b)
{
    return strcmp((*(const struct harness_req *const *)a)->id,
                  (*(const struct harness_req *const *)b)->id);
}

/* The client requests sorted by id, for finding the request an upstream
 * attempt belongs to (caller frees). */
static const struct harness_req **reqs_by_id(const struct harness_obs *o)
{
    const struct harness_req **s = co_calloc(o->n_reqs + 1, sizeof *s);
    for (size_t i = 0; i < o->n_reqs; i++)
        s[i] = &o->reqs[i];
    qsort(s, o->n_reqs, sizeof *s, by_id);
    return s;
}

static const struct harness_req *find_req(const struct harness_req **s, size_t n, const char *id)
{
    if (!id || !id[0])
        return NULL;
    struct harness_req key;
    snprintf(key.id, sizeof key.id, "%s", id);
    const struct harness_req *kp = &key;
    const struct harness_req **hit = bsearch(&kp, s, n, sizeof *s, by_id);
    return hit ? *hit : NULL;
}

/* The parts of the forwarded check, each a comparison of one attempt's
 * journal record with the request the client sent.  seen: the journal
 * recorded this part; ok: it equals what the client sent. */
/* FW_ENV and FW_ATTEMPT are labels, not promises every relay makes: an upstream that got no
 * X-Env is not "unseen" (no inconclusive for relays without it), but one that
 * got it must get the colour it was sent to, not the active one. */
enum fw_part { FW_MODEL, FW_BODY, FW_ID, FW_KEY, FW_ENV, FW_ATTEMPT, FW_FIELDS, FW_NPARTS };
static const char *const fw_names[] = {"model", "body",    "id",     "key",
                                       "env",   "attempt", "fields", NULL};

/* FW_FIELDS: every other field the client sent (tools, temperature,
 * response_format, stream_options...) reached the upstream with its value;
 * fields the relay added are its own business.  Judged only where the client
 * sent such a field and both sides' JSON was recorded (the mock keeps 255
 * bytes of it).  Writes the first field lost or changed into why. */
static int fw_fields_kept(const char *sent, const char *got, char *why, size_t n)
{
    json_error_t je;
    json_t *s = json_loads(sent, 0, &je), *g = json_loads(got, 0, &je);
    int ok = json_is_object(s) && json_is_object(g);
    const char *k;
    json_t *x;
    if (ok)
        json_object_foreach(s, k, x)
        {
            json_t *y = json_object_get(g, k);
            if (y && json_equal(x, y))
                continue;
            append(why, n, "field '%s' %s; ", k, y ? "changed" : "dropped");
            ok = 0;
            break;
        }
    json_decref(s);
    json_decref(g);
    return ok;
}

static void fw_compare(const struct harness_att *a, const struct harness_req *r, int seen[],
                       int ok[], char *why, size_t n)
{
    why[0] = '\0';
    /* A body the upstream could not parse is no model or body at all. */
    int parsed = strcmp(a->action, "bad_request") != 0;
    /* A raw body (a request template's "raw") is bytes the harness does not
     * model, and a body without "model" has none to compare. */
    seen[FW_MODEL] = !r->raw && r->model[0];
    ok[FW_MODEL] = parsed && strcmp(a->model, r->model) == 0;
    if (seen[FW_MODEL] && !ok[FW_MODEL])
        append(why, n, "model '%s' (sent '%s'); ", parsed ? a->model : "unparsable body", r->model);
    seen[FW_BODY] = !r->raw;
    ok[FW_BODY] = parsed && a->stream == r->stream && a->max_tokens == r->max_tokens &&
                  (!a->msg_hash || a->msg_hash == r->msg_hash);
    if (seen[FW_BODY] && !ok[FW_BODY])
        append(why, n, "stream %d max_tokens %ld messages %s (sent stream %d max_tokens %ld); ",
               a->stream, a->max_tokens,
               a->msg_hash && a->msg_hash != r->msg_hash ? "changed" : "same", r->stream,
               r->max_tokens);
    /* Only a header proves the id was forwarded; no header is not seen. */
    seen[FW_ID] = a->hdr_id[0] != '\0';
    ok[FW_ID] = seen[FW_ID] && strcmp(a->hdr_id, r->id) == 0;
    if (seen[FW_ID] && !ok[FW_ID])
        append(why, n, "X-Request-ID '%s' (sent '%s'); ", a->hdr_id, r->id);
    seen[FW_KEY] = a->key[0] != '\0';
    ok[FW_KEY] = seen[FW_KEY] && strcmp(a->key, "configured") == 0;
    if (seen[FW_KEY] && !ok[FW_KEY])
        append(why, n, "upstream key %s; ", a->key);
    seen[FW_ATTEMPT] = 0; /* judged per request, over its attempts (fw_attempt_numbers) */
    ok[FW_ATTEMPT] = 1;
    seen[FW_ENV] = a->x_env[0] != '\0';
    ok[FW_ENV] = seen[FW_ENV] && strcmp(a->x_env, a->env) == 0;
    if (seen[FW_ENV] && !ok[FW_ENV])
        append(why, n, "X-Env '%s' at %s; ", a->x_env, a->env);
    seen[FW_FIELDS] =
        parsed && !r->raw && r->fields[0] && strcmp(r->fields, "{}") != 0 && a->fields[0];
    ok[FW_FIELDS] = !seen[FW_FIELDS] || fw_fields_kept(r->fields, a->fields, why, n);
}

/* One chat attempt tied to the client request it belongs to. */
struct fw_pair {
    const struct harness_req *r;
    const struct harness_att *a;
};

static int cmp_fw_pair(const void *pa, const void *pb)
{
    const struct fw_pair *x = pa, *y = pb;
    if (x->r != y->r)
        return x->r < y->r ? -1 : 1;
    return x->a->t_arrival < y->a->t_arrival ? -1 : x->a->t_arrival > y->a->t_arrival;
}

/* X-Attempt as the upstreams got it, per request in arrival order: 1 first,
 * then each one more, or the same right after an attempt the upstream sent
 * no answer to (libcurl resends such an attempt once on a fresh connection,
 * docs/relay.md Known limits).  A request whose upstreams got no X-Attempt
 * at all is not judged. */
static void fw_attempt_numbers(struct fw_pair *p, size_t n, long *seen, long *bad, char *first,
                               size_t first_n, const struct harness_obs *o)
{
    qsort(p, n, sizeof *p, cmp_fw_pair);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        int any = 0;
        while (j < n && p[j].r == p[i].r)
            any |= p[j++].a->attempt > 0;
        if (any) {
            (*seen)++;
            int prev = 0;
            for (size_t k = i; k < j; k++) {
                int x = p[k].a->attempt;
                if (x == prev + 1 || (prev && x == prev && p[k - 1].a->status == 0)) {
                    prev = x;
                    continue;
                }
                (*bad)++;
                if (!first[0])
                    snprintf(first, first_n,
                             "request %s, attempt to %s at %+.1f ms: X-Attempt %d after %d "
                             "(expected 1, 2, 3 in arrival order); ",
                             p[i].r->id, p[k].a->env, rel_ms(o, p[k].a->t_arrival), x, prev);
                break;
            }
        }
        i = j;
    }
}

static void ck_forwarded(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    int want[FW_NPARTS] = {1, 1, 1, 1, 1, 1, 1};
    json_t *parts = json_object_get(c, "parts");
    if (parts) {
        memset(want, 0, sizeof want);
        size_t i;
        json_t *x;
        json_array_foreach(parts, i, x) for (int k = 0; k < FW_NPARTS; k++) want[k] |=
            strcmp(json_string_value(x), fw_names[k]) == 0;
    }
    int require_id = json_is_true(json_object_get(c, "require_id"));
    const struct harness_req **sorted = reqs_by_id(o);
    long seen_n[FW_NPARTS] = {0}, bad_n[FW_NPARTS] = {0}, unmatched = 0, foreign = 0;
    /* An attempt tied to no request cannot be compared with one; but when
     * every client request sent messages (none raw, none without them), an
     * attempt with no messages is certainly a body no client sent (a relay
     * that lost the body on a retry).  A relay's own chat "ping" carries
     * messages and is not counted; with a phase the attempt's is unknown. */
    int all_msgs = !has(c, "phase");
    for (size_t i = 0; all_msgs && i < o->n_reqs; i++)
        all_msgs = !o->reqs[i].raw && o->reqs[i].msg_hash != 0;
    const struct harness_att *first_foreign = NULL;
    char first[400] = "";
    struct fw_pair *pairs = co_calloc(o->n_atts + 1, sizeof *pairs);
    size_t n_pairs = 0;
    for (size_t i = 0; i < o->n_atts; i++) {
        const struct harness_att *a = &o->atts[i];
        if (a->health || strstr(a->path, "chat/completions") == NULL)
            continue;
        /* The request this attempt belongs to: by the header id, else the
         * body's user, else whatever id the correlation found. */
        const struct harness_req *r = find_req(sorted, o->n_reqs, a->hdr_id);
        if (!r)
            r = find_req(sorted, o->n_reqs, a->user);
        if (!r)
            r = find_req(sorted, o->n_reqs, a->req_id);
        if (!r) {
            unmatched++;
            if (all_msgs && a->msg_hash == 0 && !a->req_id[0]) {
                foreign++;
                if (!first_foreign)
                    first_foreign = a;
            }
            continue;
        }
        if (!req_in_phase(c, r))
            continue;
        pairs[n_pairs++] = (struct fw_pair){r, a};
        int seen[FW_NPARTS], ok[FW_NPARTS];
        char why[300];
        fw_compare(a, r, seen, ok, why, sizeof why);
        v->samples++;
        int bad = 0;
        for (int k = 0; k < FW_NPARTS; k++) {
            if (!want[k] || !seen[k])
                continue;
            seen_n[k]++;
            if (!ok[k]) {
                bad_n[k]++;
                bad = 1;
            }
        }
        if (bad && !first[0])
            snprintf(first, sizeof first, "request %s, attempt to %s at %+.1f ms: %s", r->id,
                     a->env, rel_ms(o, a->t_arrival), why);
    }
    free(sorted);
    if (want[FW_ATTEMPT]) {
        char afirst[200] = "";
        fw_attempt_numbers(pairs, n_pairs, &seen_n[FW_ATTEMPT], &bad_n[FW_ATTEMPT], afirst,
                           sizeof afirst, o);
        if (afirst[0] && !first[0])
            snprintf(first, sizeof first, "%s", afirst);
    }
    free(pairs);
    int failed = 0, unseen = 0;
    char unseen_parts[64] = "";
    v->measured[0] = '\0';
    for (int k = 0; k < FW_NPARTS; k++) {
        if (!want[k])
            continue;
        append(v->measured, sizeof v->measured, "%s%s %ld/%ld differ", v->measured[0] ? ", " : "",
               fw_names[k], bad_n[k], seen_n[k]);
        failed |= bad_n[k] > 0;
        /* A request without other fields has none to lose: not unseen,
         * unless the scenario asked for fields by name. */
        if (v->samples && !seen_n[k] && k != FW_ENV && k != FW_ATTEMPT &&
            (k != FW_FIELDS || parts)) {
            if (k == FW_ID && require_id)
                failed = 1;
            else
                unseen = 1;
            append(unseen_parts, sizeof unseen_parts, "%s%s", unseen_parts[0] ? ", " : "",
                   fw_names[k]);
        }
    }
    append(v->measured, sizeof v->measured, " over %ld attempts", v->samples);
    if (unmatched)
        append(v->measured, sizeof v->measured, "; %ld attempts matched no client request",
               unmatched);
    if (foreign) {
        append(v->measured, sizeof v->measured, " (%ld with no messages: no client sent those)",
               foreign);
        v->samples += foreign;
        failed = 1;
        v->fail_stands = 1; /* certain from the bodies alone, ids or not */
    }
    SETF(expected,
         "every upstream attempt carries what the client sent (model, body fields, the other "
         "fields (tools...), X-Request-ID%s, the configured key; where sent, X-Env names the "
         "colour it went to and "
         "X-Attempt counts 1, 2, 3)",
         require_id ? ", required" : "");
    snprintf(v->unit, sizeof v->unit, "att");
    if (foreign)
        SETF(detail,
             "the relay sent %ld chat bodies without messages, which no client request sent "
             "(every client request carried messages): a body lost or rewritten, e.g. on a "
             "retry; the first to %s at %+.1f ms%s%s",
             foreign, first_foreign->env, rel_ms(o, first_foreign->t_arrival), first[0] ? "; " : "",
             first);
    else if (first[0])
        SETF(detail, "%s", first);
    else if (unseen_parts[0])
        SETF(detail,
             "not seen: %s (the upstream journal got no X-Request-ID header, the mock had "
             "no key to compare, or the requests sent raw bodies or no model)%s",
             unseen_parts, require_id && !seen_n[FW_ID] ? "; the scenario requires the id" : "");
    verdict(v, !failed, failed ? -1 : 0);
    if (v->status == HARNESS_PASS && unseen)
        v->status = HARNESS_INCONCLUSIVE;
}

/* The last traffic attempt of a request, or NULL. */
static const struct harness_att *last_attempt(const struct harness_obs *o, const char *id)
{
    size_t n;
    const size_t *idx = harness_obs_attempts(o, id, &n);
    return n ? &o->atts[idx[n - 1]] : NULL;
}

static void ck_error_shape(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    long status = has(c, "status") ? (long)num(c, "status", 0) : -1;
    long bad_body = 0, bad_ctype = 0, bad_status = 0;
    const struct harness_req *first = NULL;
    char why[200] = "";
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *r = &o->reqs[i];
        if (!req_in_phase(c, r) || r->status < 400 || (status >= 0 && r->status != status))
            continue;
        v->samples++;
        char w[160] = "";
        if (r->err_shape != 1) {
            bad_body++;
            snprintf(w, sizeof w, "body: %s", r->err_why[0] ? r->err_why : "not judged");
        }
        if (strncasecmp(r->ctype, "application/json", 16) != 0) {
            bad_ctype++;
            append(w, sizeof w, "%sContent-Type '%s'", w[0] ? "; " : "", r->ctype);
        }
        /* The status: a 4xx the upstream gave is passed through as is; an
         * error the relay made after an upstream failure is a 5xx. */
        const struct harness_att *a = last_attempt(o, r->id);
        if (a && a->status >= 400 && a->status < 500 && strcmp(a->end, "complete") == 0 &&
            r->status != a->status) {
            bad_status++;
            append(w, sizeof w, "%sstatus %ld, the upstream's last answer was %d", w[0] ? "; " : "",
                   r->status, a->status);
        } else if (a && (a->status == 0 || a->status >= 500) && r->status < 500) {
            bad_status++;
            append(w, sizeof w, "%sstatus %ld after an upstream %s", w[0] ? "; " : "", r->status,
                   a->status ? "5xx" : "transport failure");
        }
        if (w[0] && !first) {
            first = r;
            snprintf(why, sizeof why, "%s", w);
        }
    }
    SETF(expected,
         "every error answer%s is OpenAI's JSON error with Content-Type application/json; an "
         "upstream 4xx passed through, a relay-made error after an upstream failure a 5xx",
         status >= 0 ? " with that status" : "");
    if (v->samples)
        SETF(measured,
             "%ld error answers: %ld bad bodies, %ld bad content types, %ld wrong "
             "statuses",
             v->samples, bad_body, bad_ctype, bad_status);
    else
        SETF(measured, "no error answer (status >= 400) to judge");
    snprintf(v->unit, sizeof v->unit, "req");
    if (first) {
        snprintf(v->detail, sizeof v->detail, "%s; ", why);
        describe_req(o, first, v->detail, sizeof v->detail);
    }
    long bad = bad_body + bad_ctype + bad_status;
    verdict(v, bad == 0, (double)-bad);
}

static void ck_final_error_headers(const json_t *c, const struct harness_obs *o,
                                   struct report_check *v)
{
    long missing = 0;
    const struct harness_req *first = NULL;
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *r = &o->reqs[i];
        /* Only answers after upstream attempts: the relay spent them. */
        if (!req_in_phase(c, r) || r->status < 400 || !last_attempt(o, r->id))
            continue;
        v->samples++;
        if (r->should_retry != 0) {
            missing++;
            if (!first)
                first = r;
        }
    }
    SETF(expected, "every error answer after upstream attempts says x-should-retry: false");
    if (v->samples)
        SETF(measured, "%ld of %ld without x-should-retry: false", missing, v->samples);
    else
        SETF(measured, "no error answer after an upstream attempt");
    snprintf(v->unit, sizeof v->unit, "req");
    if (first) {
        SETF(detail, "x-should-retry %s; ", first->should_retry < 0 ? "absent" : "not false");
        describe_req(o, first, v->detail, sizeof v->detail);
    }
    verdict(v, missing == 0, (double)-missing);
}

static void ck_connection_reuse(const json_t *c, const struct harness_obs *o,
                                struct report_check *v)
{
    const char *env = str(c, "env", NULL);
    double min = num(c, "min", 0);
    long total = 0, reused = 0, unknown = 0;
    /* A connection counts as used once any request (a health probe too)
     * came on it; a traffic attempt on a used one is a reuse.  Serials are
     * small and dense per mock, so a bitmap per colour marks the used ones. */
    static const char *const envs[] = {"blue", "green", "direct"};
    uint64_t maxc[3] = {0};
    for (size_t i = 0; i < o->n_atts; i++)
        for (int e = 0; e < 3; e++)
            if (strcmp(o->atts[i].env, envs[e]) == 0 && o->atts[i].conn > maxc[e])
                maxc[e] = o->atts[i].conn;
    unsigned char *used[3];
    for (int e = 0; e < 3; e++)
        used[e] = co_calloc(maxc[e] + 1, 1);
    size_t n_conns = 0;
    for (size_t i = 0; i < o->n_atts; i++) {
        const struct harness_att *a = &o->atts[i];
        int e = 0;
        while (e < 3 && strcmp(a->env, envs[e]) != 0)
            e++;
        if (e == 3 || (env && strcmp(a->env, env) != 0))
            continue;
        if (!a->conn) {
            unknown += !a->health;
            continue;
        }
        int was = used[e][a->conn];
        used[e][a->conn] = 1;
        n_conns += !was;
        if (a->health)
            continue;
        total++;
        reused += was;
    }
    for (int e = 0; e < 3; e++)
        free(used[e]);
    double ratio = total ? (double)reused / (double)total : 0;
    v->samples = total;
    SETF(expected, "share of upstream attempts%s%s on a connection used before >= %g",
         env ? " to " : "", env ? env : "", min);
    if (total)
        SETF(measured, "%.3f (%ld of %ld attempts, %zu connections)", ratio, reused, total,
             n_conns);
    else
        SETF(measured, "no attempt with a recorded connection%s",
             unknown ? " (the journal records no connection)" : "");
    snprintf(v->unit, sizeof v->unit, "ratio");
    verdict(v, ratio >= min, ratio - min);
}

/* ---- stream_ends_once ------------------------------------------------------- */

/* A streamed 200 that the client read to its data: [DONE]: nothing may
 * follow the [DONE] (a second [DONE], or data an OpenAI client, which stops
 * reading there, never sees: a relay that appends a retried stream or ends
 * twice).  The client's own read is the signal; a run with no such stream is
 * inconclusive. */
static void ck_stream_ends_once(const json_t *c, const struct harness_obs *o,
                                struct report_check *v)
{
    const struct harness_req *bad = NULL;
    long after = 0;
    struct answers it = answers_of(c, o, ANSWERS_ALL);
    for (const struct harness_req *r; (r = answer_next(&it));) {
        if (!r->stream || !r->done_marker || r->body_cut)
            continue;
        v->samples++;
        if (r->after_done) {
            after++;
            if (!bad)
                bad = r;
        }
    }
    SETF(expected, "a stream ends at its one data: [DONE], nothing after it");
    SETF(measured, "%ld of %ld streams with events after [DONE]", after, v->samples);
    if (bad) {
        append(v->detail, sizeof v->detail,
               "%d event(s) after data: [DONE] (a second [DONE] or a second stream appended); ",
               bad->after_done);
        describe_req(o, bad, v->detail, sizeof v->detail);
    }
    verdict(v, after == 0, -(double)after);
}

/* ---- cancel_on_client_gone --------------------------------------------------- */

/* curl's CURLE_OPERATION_TIMEDOUT: the client's own timeout ended the transfer. */
#define CLIENT_GAVE_UP_RC 28

/* A client that gave up (its own timeout) stops costing upstream work: every
 * upstream attempt of its request ends within within_ms of the client
 * leaving, and none starts later.  A relay that reads an abandoned stream to
 * its end, or retries for a client that has gone, pays for tokens nobody
 * reads; every client-side check passes it.  The mock journals (by request
 * id) are the signal; an attempt still running when the journals were read
 * is not in them, so a request without a recorded attempt is no sample. */
static void ck_cancel_on_client_gone(const json_t *c, const struct harness_obs *o,
                                     struct report_check *v)
{
    double within = num(c, "within_ms", 1000);
    const struct harness_req *bad = NULL;
    double worst = -INFINITY;
    long late = 0;
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *r = &o->reqs[i];
        if (!req_in_scope(c, o, r) || r->curl_rc != CLIENT_GAVE_UP_RC || !r->t_done)
            continue;
        const struct harness_att *a[16];
        size_t n = attempts_of(o, r->id, a, 16);
        if (!n)
            continue;
        v->samples++;
        double over = -INFINITY; /* ms past the client's leaving, the latest end or start */
        for (size_t k = 0; k < n; k++) {
            uint64_t end = a[k]->t_done > a[k]->t_arrival ? a[k]->t_done : a[k]->t_arrival;
            double ms = ((double)end - (double)r->t_done) / 1000.0;
            if (ms > over)
                over = ms;
        }
        if (over > worst)
            worst = over;
        if (over > within) {
            late++;
            if (!bad)
                bad = r;
        }
    }
    SETF(expected,
         "a request the client gave up on (its own timeout) costs no upstream work %g ms later",
         within);
    if (v->samples)
        SETF(measured, "%ld of %ld abandoned requests kept an upstream going (latest %+.1f ms)",
             late, v->samples, worst);
    else
        SETF(measured, "no request the client gave up on with an upstream attempt recorded");
    snprintf(v->unit, sizeof v->unit, "ms");
    if (bad) {
        append(v->detail, sizeof v->detail,
               "the upstream kept working after the client left (the relay does not cancel on "
               "disconnect); ");
        describe_req(o, bad, v->detail, sizeof v->detail);
    }
    verdict(v, late == 0, isinf(worst) ? 0 : within - worst);
}

/* ---- no_retry_after_bytes ---------------------------------------------------- */

/* Loopback slack between the relay's send of an attempt and the mock's
 * arrival stamp: an attempt that arrived later than this after the client's
 * first byte was certainly started after the relay had sent that byte. */
#define AFTER_BYTES_SLACK_US 2000

/* Once a client holds part of an answer, a retry cannot be passed on
 * without splicing two answers (or repeating the start): the request must
 * make no further upstream attempt (a mid-stream 429 that "spins" retries
 * the stream).  Client's first body byte against the attempts the mocks
 * journalled for the request (by id), on one monotonic clock.  A request
 * whose client got no byte, or without a journalled attempt, is no sample. */
static void ck_no_retry_after_bytes(const json_t *c, const struct harness_obs *o,
                                    struct report_check *v)
{
    const struct harness_req *bad = NULL;
    long retried = 0, extra = 0;
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *r = &o->reqs[i];
        if (!req_in_scope(c, o, r) || !r->t_first)
            continue;
        const struct harness_att *a[16];
        size_t n = attempts_of(o, r->id, a, 16), later = 0;
        if (!n)
            continue;
        v->samples++;
        for (size_t k = 0; k < n; k++)
            later += !a[k]->health && a[k]->t_arrival > r->t_first + AFTER_BYTES_SLACK_US;
        if (later) {
            retried++;
            extra += (long)later;
            if (!bad)
                bad = r;
        }
    }
    SETF(expected, "no upstream attempt of a request starts after its client got a body byte");
    if (v->samples)
        SETF(measured, "%ld of %ld requests with bytes out made %ld more attempt(s)", retried,
             v->samples, extra);
    else
        SETF(measured, "no request whose client got a body byte with an upstream attempt "
                       "journalled");
    snprintf(v->unit, sizeof v->unit, "req");
    if (bad) {
        append(v->detail, sizeof v->detail,
               "the relay retried after bytes had reached the client (a stream retried in a "
               "loop, or two answers spliced); ");
        describe_req(o, bad, v->detail, sizeof v->detail);
    }
    verdict(v, retried == 0, retried ? -(double)retried : 0);
}

/* ---- events_consistent ------------------------------------------------------ */

static int cmp_attempt_ev(const void *pa, const void *pb)
{
    const struct harness_ev *a = *(const struct harness_ev *const *)pa;
    const struct harness_ev *b = *(const struct harness_ev *const *)pb;
    int c = strcmp(a->req_id, b->req_id);
    if (c)
        return c;
    if (a->attempt != b->attempt)
        return a->attempt < b->attempt ? -1 : 1;
    return a->t < b->t ? -1 : a->t > b->t;
}

/* Did the request end with the client gone (499), so that a planned next
 * attempt was rightly never made? */
static int ev_client_gone(const struct harness_obs *o, const char *id)
{
    for (size_t i = 0; i < o->n_evs; i++)
        if (strcmp(o->evs[i].type, "request") == 0 && o->evs[i].status == 499 &&
            strcmp(o->evs[i].req_id, id) == 0)
            return 1;
    return 0;
}

/* The event log against itself (docs/relay.md, Events): an attempt's
 * `outcome` says what the relay did next (retry: the next attempt of the
 * request on the same colour; failover: on another; ok and fail: none), the
 * attempts of a request are numbered 1, 2, 3 without a gap, its `request`
 * event counts them and names the colour of the last, and a switch for
 * health follows a health event that found its `from` colour down.
 * A log that lies sends an operator after the wrong colour. */
static void ck_events_consistent(const json_t *c, const struct harness_obs *o,
                                 struct report_check *v)
{
    (void)c;
    size_t n = 0;
    const struct harness_ev **at = co_calloc(o->n_evs + 1, sizeof *at);
    for (size_t i = 0; i < o->n_evs; i++)
        if (strcmp(o->evs[i].type, "attempt") == 0 && o->evs[i].outcome[0] && o->evs[i].req_id[0])
            at[n++] = &o->evs[i];
    qsort(at, n, sizeof *at, cmp_attempt_ev);
    long judged = 0, bad = 0, health_sw = 0;
    char first[300] = "";
#define EC_BAD(...)                                                                                \
    do {                                                                                           \
        bad++;                                                                                     \
        if (!first[0])                                                                             \
            snprintf(first, sizeof first, __VA_ARGS__);                                            \
    } while (0)
    for (size_t i = 0; i < n; i++) {
        const struct harness_ev *e = at[i];
        const struct harness_ev *next =
            i + 1 < n && strcmp(at[i + 1]->req_id, e->req_id) == 0 ? at[i + 1] : NULL;
        int first_of_req = i == 0 || strcmp(at[i - 1]->req_id, e->req_id) != 0;
        judged++;
        if (first_of_req && e->attempt != 1)
            EC_BAD("request %s: its first attempt event is attempt %d", e->req_id, e->attempt);
        if (next && next->attempt != e->attempt + 1)
            EC_BAD("request %s: attempt %d is followed by attempt %d", e->req_id, e->attempt,
                   next->attempt);
        int retry = strcmp(e->outcome, "retry") == 0, fo = strcmp(e->outcome, "failover") == 0;
        if ((retry || fo) && !next) {
            if (!ev_client_gone(o, e->req_id))
                EC_BAD("request %s: attempt %d says %s but no attempt followed", e->req_id,
                       e->attempt, e->outcome);
        } else if (retry && strcmp(next->env, e->env) != 0) {
            EC_BAD("request %s: attempt %d on %s says retry (same colour) but attempt %d went to "
                   "%s",
                   e->req_id, e->attempt, e->env, next->attempt, next->env);
        } else if (fo && strcmp(next->env, e->env) == 0) {
            EC_BAD("request %s: attempt %d on %s says failover (other colour) but attempt %d "
                   "stayed on %s",
                   e->req_id, e->attempt, e->env, next->attempt, next->env);
        } else if (!retry && !fo && next) {
            EC_BAD("request %s: attempt %d says %s but attempt %d followed", e->req_id, e->attempt,
                   e->outcome, next->attempt);
        }
    }
    /* A request event against its attempts: as many as it says, and served
     * by the colour its last attempt went to. */
    for (size_t i = 0; i < o->n_evs; i++) {
        const struct harness_ev *q = &o->evs[i];
        if (strcmp(q->type, "request") != 0 || !q->req_id[0] || q->attempts < 0 || !n)
            continue;
        size_t lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (strcmp(at[mid]->req_id, q->req_id) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        size_t end = lo;
        while (end < n && strcmp(at[end]->req_id, q->req_id) == 0)
            end++;
        judged++;
        if ((size_t)q->attempts != end - lo)
            EC_BAD("request %s: its request event says %d attempts, %zu attempt events", q->req_id,
                   q->attempts, end - lo);
        else if (end > lo && q->env[0] && strcmp(q->env, at[end - 1]->env) != 0)
            EC_BAD("request %s: its request event says served by %s, its last attempt went to %s",
                   q->req_id, q->env, at[end - 1]->env);
    }
    free(at);
    for (size_t i = 0; i < o->n_evs; i++) {
        const struct harness_ev *s = &o->evs[i];
        if (strcmp(s->type, "switch") != 0 || strcmp(s->reason, "health") != 0)
            continue;
        health_sw++;
        judged++;
        /* The same replica's health events written before the switch, or
         * stamped at most 1 ms after it: a relay may stamp the health event
         * a few microseconds after the switch it caused and still write it
         * first (cutover-relay does), and a fleet's logs are merged by time. */
        const struct harness_ev *last = NULL;
        for (size_t k = 0; k < o->n_evs; k++) {
            const struct harness_ev *h = &o->evs[k];
            if (k != i && (k < i || h->t <= s->t + 1000) && h->replica == s->replica &&
                strcmp(h->type, "health") == 0 && strcmp(h->env, s->from) == 0)
                last = h;
        }
        if (!last || last->healthy)
            EC_BAD("switch %s->%s for health at %+.1f ms: %s", s->from, s->to, rel_ms(o, s->t),
                   last ? "the last health event before it found the colour healthy"
                        : "no health event for the colour before it");
    }
#undef EC_BAD
    v->samples = judged;
    SETF(expected, "attempt outcomes match the next attempt, attempts numbered 1..n and counted "
                   "by the request event, a health switch after a health event finding its "
                   "colour down");
    SETF(measured, "%ld of %ld events inconsistent (%zu attempt events, %ld health switches)", bad,
         judged, n, health_sw);
    if (!n && !health_sw)
        SETF(detail, "the event log has no attempt event with an outcome and no health switch");
    else if (first[0])
        SETF(detail, "%s", first);
    snprintf(v->unit, sizeof v->unit, "ev");
    verdict(v, bad == 0, -(double)bad);
}

/* ---- the answer the client got (issue 12) ------------------------------- */

/* A request of the check's group: its phase ("phase") and its request
 * template ("template"), when the check names them. */
static int req_in_group(const json_t *c, const struct harness_req *r)
{
    const char *tpl = str(c, "template", NULL);
    return req_in_phase(c, r) && (!tpl || (r->tpl >= 0 && strcmp(r->tpl_name, tpl) == 0));
}

/* The group's words for a verdict ("phase 1, template prefill"). */
static void group_words(const json_t *c, char *out, size_t n)
{
    out[0] = '\0';
    if (has(c, "phase"))
        append(out, n, "phase %lld", (long long)json_integer_value(json_object_get(c, "phase")));
    if (has(c, "template"))
        append(out, n, "%stemplate %s", out[0] ? ", " : "", str(c, "template", ""));
    if (!out[0])
        append(out, n, "all requests");
}

/* The client's strictness about streams: "strict" needs data: [DONE],
 * "lenient" takes a finish_reason chunk as the end. */
static int client_strict(const json_t *c)
{
    return strcmp(str(c, "client", "strict"), "lenient") != 0;
}

static const char *strict_words(int strict)
{
    return strict ? "client strict: a stream needs data: [DONE]"
                  : "client lenient: a finish_reason chunk ends a stream";
}

/* The client saw the request fail: an error status, an in-band error or a
 * transport error.  Such an answer is no answer, whatever its text. */
static int answer_failed(const struct harness_req *r)
{
    return r->status != 200 || r->inband_error || r->curl_rc != 0;
}

/* A whole answer, as a client of that strictness reads it. */
static int answer_complete(const struct harness_req *r, int strict)
{
    if (answer_failed(r) || r->bad_event || r->text_bad)
        return 0;
    if (!r->stream)
        return r->complete;
    return strict ? r->complete : r->finish_n > 0;
}

/* The upstream attempts that may have produced the request's answer: its
 * attempts that answered 200 and for which the mock built an answer (the
 * journal's counts), the likeliest first: at the colour that served, one
 * that ran to its end, the latest.  A relay that answers from one of them
 * gives that one's answer; one that stitches two together gives none of
 * them.  Returns how many (at most cap), or 0 with why. */
#define MAX_CANDIDATES 8
static size_t serving_attempts(const struct harness_obs *o, const struct harness_req *r,
                               const struct harness_att **out, size_t cap, const char **why)
{
    size_t n, k = 0, ok = 0;
    const size_t *idx = harness_obs_attempts(o, r->id, &n);
    int best = -1;
    for (size_t i = n; i-- > 0 && k < cap;) {
        const struct harness_att *a = &o->atts[idx[i]];
        if (a->status != 200)
            continue;
        ok++;
        if (a->completion_tokens < 0)
            continue;
        int score = (r->served[0] && strcmp(a->env, r->served) == 0) * 2 +
                    (strcmp(a->end, "complete") == 0 || !a->end[0]);
        out[k] = a;
        if (score > best) {
            best = score;
            const struct harness_att *t = out[0];
            out[0] = a;
            out[k] = t;
        }
        k++;
    }
    if (!n)
        *why = "no upstream attempt found for it";
    else if (!ok)
        *why = "no upstream attempt answered 200";
    else if (!k)
        *why = "the serving mock's journal records no token counts";
    return k;
}

/* The canonical text of an attempt: the mock's reply to its messages with
 * its number of tokens (caller frees). */
static char *canonical(const struct harness_att *a, size_t *len, uint64_t *hash)
{
    char *t = mock_reply_string(a->msg_hash, a->completion_tokens);
    *len = strlen(t);
    *hash = harness_text_hash(HARNESS_TEXT_HASH0, t, *len);
    return t;
}

/* The client's text is the whole of a text of that length and hash. */
static int text_is(const struct harness_req *r, size_t len, uint64_t hash)
{
    return !r->text_bad && r->text_len == len && r->text_hash == hash;
}

/* The client's text is the start of t. */
static int text_starts(const struct harness_req *r, const char *t, size_t len)
{
    if (r->text_bad || r->text_len > len)
        return 0;
    if (r->text_len < sizeof r->text - 1)
        return strncmp(r->text, t, r->text_len) == 0;
    return harness_text_hash(HARNESS_TEXT_HASH0, t, r->text_len) == r->text_hash;
}

/* Where two texts part: the byte offset of the first difference. */
static size_t first_diff(const char *a, const char *b)
{
    size_t i = 0;
    while (a[i] && a[i] == b[i])
        i++;
    return i;
}

/* What is wrong with a text against the canonical one, in words a bug
 * report uses (a token lost, duplicated, reordered...). */
static void text_verdict(const struct harness_req *r, const char *canon, char *out, size_t n)
{
    size_t cl = strlen(canon);
    size_t d = first_diff(r->text, canon);
    int cut = r->text_len >= sizeof r->text - 1; /* the client's text is known in part */
    const char *what = r->text_len < cl   ? "shorter (a token lost?)"
                       : r->text_len > cl ? "longer (a token duplicated or added?)"
                                          : "as long but different (tokens reordered or changed?)";
    if (d >= strlen(r->text) && cut)
        snprintf(out, n, "%zu bytes, canonical %zu: %s; the first %zu bytes agree", r->text_len, cl,
                 what, d);
    else
        snprintf(out, n,
                 "%zu bytes, canonical %zu: %s; from byte %zu the client read '%.40s', the mock "
                 "said '%.40s'",
                 r->text_len, cl, what, d, r->text + d, d < cl ? canon + d : "");
}

/* A 4xx the request alone decides (its method, path, media type, body, or
 * an upstream's verdict on it passed on), none that a relay setting does:
 * 401 and 403 (client_keys, admin_token), 407, 408
 * (request_read_timeout_ms), 413 (max_body_bytes), 429 (the rate limit). */
static int request_status(long status)
{
    return status >= 400 && status < 500 && status != 401 && status != 403 && status != 407 &&
           status != 408 && status != 413 && status != 429;
}

static void ck_client_status(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    long status = has(c, "status") ? (long)num(c, "status", 0) : -1;
    const char *type = str(c, "type", NULL), *code = str(c, "code", NULL);
    double min = num(c, "min", 1);
    long hit = 0;
    const struct harness_req *first = NULL;
    /* The most common other answer, to name in measured. */
    char other[96] = "";
    long other_n = 0;
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *r = &o->reqs[i];
        if (!req_in_group(c, r))
            continue;
        v->samples++;
        int ok = (status < 0 || r->status == status) && (!type || strcmp(r->err_type, type) == 0) &&
                 (!code || strcmp(r->err_code, code) == 0);
        /* A 200 the relay made up is not the upstream's 200 (answer_unsourced). */
        int made_up = ok && answer_unsourced(o, r);
        if (ok && !made_up) {
            hit++;
            continue;
        }
        char w[96];
        snprintf(w, sizeof w, "%ld%s%s%s%s", r->status, r->err_type[0] ? " " : "", r->err_type,
                 r->err_code[0] ? "/" : "", r->err_code);
        if (made_up)
            append(w, sizeof w, " no upstream gave");
        if (!first) {
            first = r;
            snprintf(other, sizeof other, "%s", w);
        }
        other_n += strcmp(w, other) == 0;
    }
    char g[96], want[160] = "";
    group_words(c, g, sizeof g);
    if (status >= 0)
        append(want, sizeof want, "status %ld", status);
    if (type)
        append(want, sizeof want, "%serror.type %s", want[0] ? ", " : "", type);
    if (code)
        append(want, sizeof want, "%serror.code %s", want[0] ? ", " : "", code);
    double ratio = v->samples ? (double)hit / (double)v->samples : 0;
    SETF(expected, "%s: the client sees %s (share >= %g)", g, want, min);
    if (first)
        SETF(measured, "%ld of %ld (%.3f); the first other saw %s (%ld alike)", hit, v->samples,
             ratio, other, other_n);
    else
        SETF(measured, "%ld of %ld", hit, v->samples);
    snprintf(v->unit, sizeof v->unit, "ratio");
    SETF(detail, "signal: client log (status line, the body's or the in-band error.type and "
                 "error.code)");
    if (first && ratio < min) {
        append(v->detail, sizeof v->detail, "; ");
        describe_req(o, first, v->detail, sizeof v->detail);
    }
    verdict(v, ratio >= min, ratio - min);
    /* A status the request itself decides stands whatever setting the relay
     * lacks (the '*' of the row, harness_check_fail_depends): a text/plain
     * body is 415 and a GET on the chat path 405 under any policy. */
    v->fail_stands = request_status(status);
}

/* An answer check's sample that no upstream gave (answer_unsourced, and not
 * a failure anyway): counted as a sample, and the first one named in why
 * with what it means for this check. */
static int made_up_answer(const struct harness_obs *o, const struct harness_req *r,
                          struct report_check *v, const struct harness_req **first, char *why,
                          size_t n, const char *meaning)
{
    if (!answer_unsourced(o, r) || answer_failed(r))
        return 0;
    v->samples++;
    if (!*first) {
        *first = r;
        snprintf(why, n, "a 200 that no upstream gave (no attempt in the mock journals): %s",
                 meaning);
    }
    return 1;
}

/* Whose answer a client read when it is not its own: the request of another
 * attempt (any colour, answered 200) whose canonical text is exactly the
 * client's.  A relay that hands answers to the wrong client (a pooled
 * connection reused with a late answer still in it, a cache keyed too
 * loosely, one slot shared by concurrent requests) shows here by name.
 * Looked for in at most FOREIGN_SCAN answers: each look builds every
 * attempt's text. */
#define FOREIGN_SCAN 32
static const char *foreign_answer(const struct harness_obs *o, const struct harness_req *r)
{
    if (r->text_bad || !r->text_len)
        return NULL;
    for (size_t i = 0; i < o->n_atts; i++) {
        const struct harness_att *a = &o->atts[i];
        if (a->status != 200 || a->completion_tokens < 0 || !a->req_id[0] ||
            strcmp(a->req_id, r->id) == 0)
            continue;
        size_t len;
        uint64_t h;
        char *t = canonical(a, &len, &h);
        free(t);
        if (text_is(r, len, h))
            return a->req_id;
    }
    return NULL;
}

static void ck_answer_integrity(const json_t *c, const struct harness_obs *o,
                                struct report_check *v)
{
    int strict = client_strict(c);
    long intact = 0, altered = 0, unfinished = 0, prefix = 0, bad_prefix = 0, unknown = 0, raw = 0,
         cut = 0, made_up = 0, foreign = 0, scanned = 0;
    const char *unknown_why = NULL, *foreign_of = NULL;
    const struct harness_req *first = NULL, *foreign_req = NULL;
    char why[400] = "";
    struct answers it = answers_of(c, o, ANSWERS_ALL);
    for (const struct harness_req *r; (r = answer_next(&it));) {
        if (r->raw) {
            raw++; /* bytes the mock answers without a canonical text the harness knows */
            continue;
        }
        if (r->body_cut) {
            cut++; /* the harness kept only the answer's start (BODY_CAP) */
            continue;
        }
        /* No mock journalled any attempt of it: its text is no upstream's. */
        if (made_up_answer(o, r, v, &first, why, sizeof why, "the relay made the answer up")) {
            made_up++;
            const char *f = scanned++ < FOREIGN_SCAN ? foreign_answer(o, r) : NULL;
            if (f) {
                foreign++;
                if (!foreign_req)
                    foreign_req = r, foreign_of = f;
            }
            continue;
        }
        const char *w = NULL;
        const struct harness_att *a[MAX_CANDIDATES];
        size_t na = serving_attempts(o, r, a, MAX_CANDIDATES, &w);
        if (!na) {
            unknown++;
            unknown_why = unknown_why ? unknown_why : w;
            continue;
        }
        /* Whole (text and finish_reason) or the start of one candidate's. */
        int whole = 0, text_whole = 0, start = 0;
        for (size_t k = 0; k < na; k++) {
            size_t len;
            uint64_t h;
            char *t = canonical(a[k], &len, &h);
            int same = text_is(r, len, h);
            text_whole |= same;
            whole |= same && strcmp(r->finish, a[k]->finish) == 0;
            start |= text_starts(r, t, len);
            free(t);
        }
        size_t cl;
        uint64_t ch;
        char *canon = canonical(a[0], &cl, &ch);
        char one[400] = "";
        if (answer_complete(r, strict)) {
            v->samples++;
            if (whole) {
                intact++;
            } else {
                altered++;
                const char *f =
                    !text_whole && scanned++ < FOREIGN_SCAN ? foreign_answer(o, r) : NULL;
                if (f) {
                    foreign++;
                    if (!foreign_req)
                        foreign_req = r, foreign_of = f;
                }
                if (!text_whole)
                    text_verdict(r, canon, one, sizeof one);
                else
                    snprintf(one, sizeof one, "finish_reason '%s', the mock's '%s'", r->finish,
                             a[0]->finish);
            }
        } else if (!answer_failed(r)) {
            /* A 200 that ended without error and without the end this
             * client needs: it holds a part of an answer as if whole. */
            v->samples++;
            unfinished++;
            snprintf(one, sizeof one,
                     "a 200 %s that ended without %s and without an error (%zu of %zu bytes)",
                     r->stream ? "stream" : "answer",
                     !r->stream     ? "its content"
                     : r->bad_event ? "only JSON events"
                     : strict       ? "data: [DONE]"
                                    : "a finish_reason",
                     r->text_len, cl);
        } else if (r->text_len) {
            /* It failed, visibly: what arrived must still be the start. */
            v->samples++;
            if (start) {
                prefix++;
            } else {
                bad_prefix++;
                text_verdict(r, canon, one, sizeof one);
                append(one, sizeof one, " (before the error)");
            }
        }
        free(canon);
        if (one[0] && !first) {
            first = r;
            snprintf(why, sizeof why, "%s", one);
        }
    }
    char g[96];
    group_words(c, g, sizeof g);
    SETF(expected,
         "%s: every answer is the mock's text, whole (finish_reason too) or, when it "
         "failed visibly, its start",
         g);
    SETF(measured,
         "%ld intact, %ld altered, %ld unfinished without error, %ld failed with a "
         "true prefix, %ld failed with other text",
         intact, altered, unfinished, prefix, bad_prefix);
    if (made_up)
        append(v->measured, sizeof v->measured, "; %ld made up by the relay (no upstream attempt)",
               made_up);
    if (foreign)
        append(v->measured, sizeof v->measured, "; %ld another request's answer", foreign);
    if (unknown)
        append(v->measured, sizeof v->measured, "; %ld not judged", unknown);
    if (raw)
        append(v->measured, sizeof v->measured, "; %ld raw-body requests not judged", raw);
    if (cut)
        append(v->measured, sizeof v->measured,
               "; %ld answers over the harness's 1 MiB body cap not judged", cut);
    snprintf(v->unit, sizeof v->unit, "req");
    SETF(detail,
         "signal: client answer text (choice 0, SSE deltas) and finish_reason vs the "
         "serving mock's journal (messages_hash, usage.completion_tokens, finish_reason); "
         "%s",
         strict_words(strict));
    if (unknown)
        append(v->detail, sizeof v->detail, "; %ld not judged: %s", unknown, unknown_why);
    if (foreign_req)
        append(v->detail, sizeof v->detail,
               "; request %s got the text the mock wrote for request %s: the relay hands "
               "answers to the wrong client (a reused connection with a late answer in it, a "
               "cache keyed too loosely, a slot shared by concurrent requests)",
               foreign_req->id, foreign_of);
    if (first) {
        append(v->detail, sizeof v->detail, "; %s; ", why);
        describe_req(o, first, v->detail, sizeof v->detail);
    }
    long bad = altered + unfinished + bad_prefix + made_up;
    verdict(v, bad == 0, (double)-bad);
}

static void ck_usage_reported(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    int strict = client_strict(c);
    long absent = 0, wrong = 0, not_asked = 0, unknown = 0;
    const char *unknown_why = NULL;
    const struct harness_req *first = NULL;
    char why[200] = "";
    struct answers it = answers_of(c, o, ANSWERS_WHOLE);
    for (const struct harness_req *r; (r = answer_next(&it));) {
        if (r->stream && !r->include_usage) {
            not_asked++; /* OpenAI streams carry usage only when asked */
            continue;
        }
        /* No mock counted its tokens: whatever usage it says is made up. */
        if (made_up_answer(o, r, v, &first, why, sizeof why, "its usage is the relay's own")) {
            wrong++;
            continue;
        }
        const char *w = NULL;
        const struct harness_att *a[MAX_CANDIDATES];
        size_t na = serving_attempts(o, r, a, MAX_CANDIDATES, &w);
        if (!na) {
            unknown++;
            unknown_why = unknown_why ? unknown_why : w;
            continue;
        }
        v->samples++;
        int equal = 0;
        for (size_t k = 0; k < na; k++)
            equal |= r->usage_prompt == a[k]->prompt_tokens &&
                     r->usage_completion == a[k]->completion_tokens;
        char one[200] = "";
        if (!r->usage_seen) {
            absent++;
            snprintf(one, sizeof one, "no usage in the answer; the mock counted %ld + %ld",
                     a[0]->prompt_tokens, a[0]->completion_tokens);
        } else if (!equal || (r->usage_total >= 0 &&
                              r->usage_total != r->usage_prompt + r->usage_completion)) {
            wrong++;
            snprintf(one, sizeof one,
                     "usage prompt %ld, completion %ld, total %ld; the mock counted %ld + %ld",
                     r->usage_prompt, r->usage_completion, r->usage_total, a[0]->prompt_tokens,
                     a[0]->completion_tokens);
        }
        if (one[0] && !first) {
            first = r;
            snprintf(why, sizeof why, "%s", one);
        }
    }
    char g[96];
    group_words(c, g, sizeof g);
    SETF(expected, "%s: every whole answer reports usage equal to the serving mock's counts", g);
    SETF(measured, "%ld answers: %ld without usage, %ld with other counts", v->samples, absent,
         wrong);
    if (not_asked)
        append(v->measured, sizeof v->measured,
               "; %ld streams not judged (no stream_options.include_usage)", not_asked);
    if (unknown)
        append(v->measured, sizeof v->measured, "; %ld not judged", unknown);
    snprintf(v->unit, sizeof v->unit, "req");
    SETF(detail,
         "signal: the answer's usage (body, or the stream's usage chunk) vs the serving "
         "mock's journal usage; %s",
         strict_words(strict));
    if (unknown)
        append(v->detail, sizeof v->detail, "; %ld not judged: %s", unknown, unknown_why);
    if (not_asked)
        append(v->detail, sizeof v->detail,
               "; %ld streams not judged: they did not ask for usage "
               "(stream_options.include_usage)",
               not_asked);
    if (first) {
        append(v->detail, sizeof v->detail, "; %s; ", why);
        describe_req(o, first, v->detail, sizeof v->detail);
    }
    verdict(v, absent + wrong == 0, (double)-(absent + wrong));
}

/* The model an attempt's answer named: the journal's answer_model when the
 * mock named another (a snapshot, as OpenAI answers gpt-4o-2024-08-06 for
 * gpt-4o), else the one it was asked for. */
static const char *answered_model(const struct harness_att *a)
{
    return a->ans_model[0] ? a->ans_model : a->model;
}

/* Whether any traffic attempt of the run was answered with a model other
 * than the one it asked for: then "requested" cannot be the truth for a
 * relay that passes the upstream's answer on. */
static int snapshot_answers(const struct harness_obs *o)
{
    for (size_t i = 0; i < o->n_atts; i++)
        if (o->atts[i].ans_model[0] && strcmp(o->atts[i].ans_model, o->atts[i].model) != 0)
            return 1;
    return 0;
}

static void ck_model_reported(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    int strict = client_strict(c);
    int served = strcmp(str(c, "against", "requested"), "served") == 0;
    int snapshots = !served && snapshot_answers(o);
    long wrong = 0, unknown = 0;
    const char *unknown_why = NULL;
    const struct harness_req *first = NULL;
    char why[200] = "";
    struct answers it = answers_of(c, o, ANSWERS_WHOLE);
    for (const struct harness_req *r; (r = answer_next(&it));) {
        const char *want = r->model, *w = "the request named no model";
        int equal = strcmp(r->ans_model, want) == 0;
        if (served || snapshots) {
            const struct harness_att *a[MAX_CANDIDATES];
            size_t na = serving_attempts(o, r, a, MAX_CANDIDATES, &w);
            if (served) {
                want = na ? answered_model(a[0]) : "";
                equal = 0;
                for (size_t k = 0; k < na; k++)
                    equal |= strcmp(r->ans_model, answered_model(a[k])) == 0;
            } else {
                /* An upstream that answers a snapshot of the model asked
                 * for: a correct relay passes its name on, so the request
                 * is no truth for this answer (against: served judges). */
                int other = !na;
                for (size_t k = 0; k < na; k++)
                    other |= strcmp(answered_model(a[k]), a[k]->model) != 0;
                if (other) {
                    want = "";
                    if (na)
                        w = "the upstream answered another model than it was asked for (a "
                            "snapshot): judge against: served";
                }
            }
        }
        if (!want[0]) {
            unknown++;
            unknown_why = unknown_why ? unknown_why : w;
            continue;
        }
        v->samples++;
        if (!equal) {
            wrong++;
            if (!first) {
                first = r;
                snprintf(why, sizeof why, "the answer says model '%s', %s '%s'",
                         r->ans_model[0] ? r->ans_model : "(none)",
                         served ? "the serving mock answered" : "the client asked for", want);
            }
        }
    }
    char g[96];
    group_words(c, g, sizeof g);
    SETF(expected, "%s: every whole answer names the model %s", g,
         served ? "the serving upstream answered" : "the client requested");
    SETF(measured, "%ld of %ld answers name another model", wrong, v->samples);
    if (unknown)
        append(v->measured, sizeof v->measured, "; %ld not judged", unknown);
    snprintf(v->unit, sizeof v->unit, "req");
    SETF(detail, "signal: the answer's model (body, every stream chunk) vs %s; %s",
         served ? "the serving mock's journal (the model its answer named)"
                : "the request the client sent",
         strict_words(strict));
    if (unknown)
        append(v->detail, sizeof v->detail, "; %ld not judged: %s", unknown, unknown_why);
    if (first) {
        append(v->detail, sizeof v->detail, "; %s; ", why);
        describe_req(o, first, v->detail, sizeof v->detail);
    }
    verdict(v, wrong == 0, (double)-wrong);
}

/* ---- the table ---------------------------------------------------------- */

/* ---- probes of the relay's endpoints (harness/probe.h) ------------------ */

/* The probes of kind a check reads: those of its "probe" mark, else all. */
static int probe_selected(const json_t *c, const struct harness_probe *p, int kind)
{
    const char *mark = str(c, "probe", NULL);
    return p->kind == kind && (!mark || strcmp(p->name, mark) == 0);
}

/* Why a probe of kind says nothing: the relay declares no such endpoint, or
 * no step took one.  Returns 1 (with v inconclusive) or 0. */
static int probe_missing(const json_t *c, const struct harness_obs *o, int kind,
                         struct report_check *v)
{
    static const char *const what[] = {"/health", "/api/metrics", "Prometheus /metrics"};
    if (!o->probe_map.path[kind][0]) {
        SETF(measured, "no %s endpoint", what[kind]);
        SETF(detail, "the relay declares no %s endpoint (%s): nothing to judge", what[kind],
             o->probe_map.why_none[0] ? o->probe_map.why_none
                                      : "its profile's \"probes\" leaves it out");
        v->status = HARNESS_INCONCLUSIVE;
        return 1;
    }
    for (size_t i = 0; i < o->n_probes; i++)
        if (probe_selected(c, &o->probes[i], kind))
            return 0;
    SETF(measured, "no probe of %s", what[kind]);
    SETF(detail, "no timeline step probed %s%s%s (a step with \"probe\": \"%s\")", what[kind],
         has(c, "probe") ? " at mark " : "", str(c, "probe", ""), harness_probe_kinds[kind]);
    v->status = HARNESS_INCONCLUSIVE;
    return 1;
}

/* A probe's answer as a JSON document (new reference), or NULL with why.
 * A /health may answer 503 when the relay is unhealthy (the seed's
 * contract), or the status its profile declares for that (also, 0 none):
 * its body still says what the relay thinks. */
static json_t *probe_json(const struct harness_probe *p, int also, char *why, size_t n)
{
    if (p->status == 0) {
        snprintf(why, n, "%s did not answer (%s)", p->path, p->curl_err);
        return NULL;
    }
    if (p->status / 100 != 2 && !(p->kind == HARNESS_PROBE_HEALTH && p->status == 503) &&
        !(p->kind == HARNESS_PROBE_HEALTH && also && p->status == also)) {
        snprintf(why, n, "%s answered %ld", p->path, p->status);
        return NULL;
    }
    json_error_t je;
    json_t *j = p->body ? json_loadb(p->body, p->len, 0, &je) : NULL;
    if (!j)
        snprintf(why, n, "%s: the body is not JSON (%.80s)", p->path, p->body ? je.text : "empty");
    return j;
}

/* A colour's state as the mocks showed it at t: the answer its mock gave to
 * the relay's latest health check before t (2xx and complete: healthy), or
 * without any health check the latest traffic attempt.  Returns 1 healthy,
 * 0 not, -1 unknown (why says so); a state that changed less than grace_us
 * before t is unknown too (the relay may not have seen it yet). */
static int observed_health(const struct harness_obs *o, const char *env, uint64_t t,
                           uint64_t grace_us, char *why, size_t n)
{
    for (int pass = 0; pass < 2; pass++) {
        int state = -1, health = pass == 0;
        uint64_t since = 0;
        for (size_t i = 0; i < o->n_atts && o->atts[i].t_arrival < t; i++) {
            const struct harness_att *a = &o->atts[i];
            if (a->health != health || strcmp(a->env, env) != 0)
                continue;
            int up = a->status / 100 == 2 && strcmp(a->end, "complete") == 0;
            if (up != state)
                since = a->t_arrival;
            state = up;
        }
        if (state < 0)
            continue;
        if (since + grace_us > t) {
            snprintf(why, n, "%s turned %s %.1f ms before the probe (grace %.0f ms)", env,
                     state ? "healthy" : "unhealthy", (double)(t - since) / 1000.0,
                     (double)grace_us / 1000.0);
            return -1;
        }
        return state;
    }
    snprintf(why, n, "nothing reached %s before the probe: its health was not observed", env);
    return -1;
}

/* The active colour as the traffic met it at t: the colour the relay sent
 * its latest traffic attempt before t to.  When that attempt had failed by
 * t, the relay may have switched since: unknown (NULL, why says so). */
static const char *observed_active(const struct harness_obs *o, uint64_t t, char *why, size_t n)
{
    const struct harness_att *last = NULL;
    for (size_t i = 0; i < o->n_atts && o->atts[i].t_arrival < t; i++)
        if (!o->atts[i].health)
            last = &o->atts[i];
    if (!last) {
        snprintf(why, n,
                 "no traffic reached a colour before it: the active colour was not "
                 "observed");
        return NULL;
    }
    /* A 4xx other than 429 is the request's fault, not the colour's: no
     * relay switches on it. */
    int ok = last->status > 0 && last->status < 500 && last->status != 429 &&
             strcmp(last->end, "complete") == 0;
    if (!ok && last->t_done && last->t_done < t) {
        snprintf(why, n,
                 "the last attempt before it (%s, status %d) failed: the relay may have "
                 "switched after it",
                 last->env, last->status);
        return NULL;
    }
    /* A retry may go to the other colour without a switch (a relay that
     * fails one request over while it keeps its active colour until more
     * failures, or a backup server): the colour of a request's later
     * attempt says nothing of the active one.  Without an id, whether it
     * was a retry was not seen. */
    if (!last->req_id[0]) {
        snprintf(why, n,
                 "the last attempt before it (%s) carried no request id: whether it was a "
                 "retry, which may go to a colour the relay has not switched to, was not seen",
                 last->env);
        return NULL;
    }
    size_t na;
    const size_t *ix = harness_obs_attempts(o, last->req_id, &na);
    for (size_t k = 0; k < na; k++) {
        const struct harness_att *a = &o->atts[ix[k]];
        /* A retry on the same colour was sent where the relay still was. */
        if (a != last && !a->health && a->t_arrival <= last->t_arrival &&
            strcmp(a->env, last->env) != 0) {
            snprintf(why, n,
                     "the last attempt before it (%s) was a retry of a request that went to %s "
                     "before: a retry may go to a colour the relay has not switched to",
                     last->env, a->env);
            return NULL;
        }
    }
    return last->env;
}

/* A health value as relays write it: true/false, 1/0, or a word. */
static int health_value(const json_t *v)
{
    static const char *const up[] = {"healthy", "up", "ok", "true", "pass", NULL};
    static const char *const down[] = {"unhealthy", "down", "false", "fail", "degraded", NULL};
    if (json_is_boolean(v))
        return json_is_true(v);
    if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1))
        return (int)json_integer_value(v);
    for (int k = 0; json_is_string(v) && up[k]; k++)
        if (strcasecmp(json_string_value(v), up[k]) == 0)
            return 1;
    for (int k = 0; json_is_string(v) && down[k]; k++)
        if (strcasecmp(json_string_value(v), down[k]) == 0)
            return 0;
    return -1;
}

static const char *const health_items[] = {"active", "health", "status", NULL};

/* Whether the array param key of c (absent: every item) names item. */
static int item_asked(const json_t *c, const char *key, const char *item)
{
    json_t *want = json_object_get(c, key);
    if (!json_is_array(want))
        return 1;
    size_t q;
    json_t *w;
    json_array_foreach(want, q, w) if (json_is_string(w) &&
                                       strcmp(json_string_value(w), item) == 0) return 1;
    return 0;
}

/* How the relay spells colour env (its profile's "colours"). */
static const char *colour_word(const struct harness_probe_map *m, const char *env)
{
    return strcmp(env, "blue") == 0 ? m->colour[0] : strcmp(env, "green") == 0 ? m->colour[1] : env;
}

static void ck_health_reports(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    static const char *const colours[] = {"blue", "green"};
    const struct harness_probe_map *m = &o->probe_map;
    uint64_t grace = (uint64_t)(num(c, "grace_ms", 0) * 1000.0);
    SETF(expected, "/health names the active colour and each colour's health as observed%s",
         m->unhealthy_status ? ", and its declared status with both down" : "");
    snprintf(v->unit, sizeof v->unit, "item");
    if (probe_missing(c, o, HARNESS_PROBE_HEALTH, v))
        return;
    long wrong = 0, unknown = 0;
    char bad[400] = "", unk[400] = "";
    for (size_t i = 0; i < o->n_probes; i++) {
        const struct harness_probe *p = &o->probes[i];
        if (!probe_selected(c, p, HARNESS_PROBE_HEALTH))
            continue;
        char why[256];
        json_t *doc = probe_json(p, m->unhealthy_status, why, sizeof why);
        if (!doc) {
            v->samples++;
            wrong++;
            append(bad, sizeof bad, "%s%s: %s", bad[0] ? "; " : "", p->name, why);
            continue;
        }
        /* The active colour. */
        char awhy[160];
        const char *want = observed_active(o, p->t_sent, awhy, sizeof awhy);
        if (want)
            want = colour_word(m, want);
        json_t *got = m->active[0] ? harness_json_pointer(doc, m->active) : NULL;
        if (!item_asked(c, "items", "active")) {
            /* not asked: the scenario cannot observe it */
        } else if (!m->active[0]) {
            unknown++;
            append(unk, sizeof unk, "%sthe profile maps no active colour", unk[0] ? "; " : "");
        } else if (!want) {
            unknown++;
            append(unk, sizeof unk, "%s%s: %s", unk[0] ? "; " : "", p->name, awhy);
        } else {
            v->samples++;
            if (!json_is_string(got) || strcmp(json_string_value(got), want) != 0) {
                wrong++;
                append(bad, sizeof bad, "%s%s: %s says active %s, traffic went to %s",
                       bad[0] ? "; " : "", p->name, m->active,
                       json_is_string(got) ? json_string_value(got)
                       : got               ? "(not a string)"
                                           : "(absent)",
                       want);
            }
        }
        /* Each colour's health. */
        int down = 0, unseen = 0, health_asked = item_asked(c, "items", "health");
        for (int k = 0; k < 2; k++) {
            /* What the mocks showed: for this item and for the status one. */
            int seen = observed_health(o, colours[k], p->t_sent, grace, why, sizeof why);
            down += seen == 0;
            unseen += seen < 0;
            if (!health_asked)
                continue;
            if (!m->healthy[k][0]) {
                unknown++;
                append(unk, sizeof unk, "%sthe profile maps no health of %s", unk[0] ? "; " : "",
                       colours[k]);
                continue;
            }
            if (seen < 0) {
                unknown++;
                append(unk, sizeof unk, "%s%s: %s", unk[0] ? "; " : "", p->name, why);
                continue;
            }
            v->samples++;
            json_t *h = harness_json_pointer(doc, m->healthy[k]);
            int said = health_value(h);
            if (said != seen) {
                wrong++;
                append(bad, sizeof bad, "%s%s: %s says %s %s, its mock was %s", bad[0] ? "; " : "",
                       p->name, m->healthy[k], colours[k],
                       said < 0 ? "(no health value)"
                       : said   ? "healthy"
                                : "unhealthy",
                       seen ? "healthy" : "unhealthy");
            }
        }
        /* The status with both colours down: the relay has nothing to serve
         * with, and a load balancer reading /health must hear it.  Only the
         * relay's profile can say which status it promises then. */
        if (item_asked(c, "items", "status") && !health_asked && down < 2 && unseen) {
            unknown++;
            append(unk, sizeof unk,
                   "%s%s: whether both colours were down was not observed (status not judged)",
                   unk[0] ? "; " : "", p->name);
        } else if (item_asked(c, "items", "status") && down == 2 && !m->unhealthy_status) {
            unknown++;
            append(unk, sizeof unk,
                   "%s%s: both colours were down, and the profile declares no "
                   "health.unhealthy_status",
                   unk[0] ? "; " : "", p->name);
        } else if (item_asked(c, "items", "status") && down == 2) {
            v->samples++;
            if (p->status != m->unhealthy_status) {
                wrong++;
                append(bad, sizeof bad,
                       "%s%s: answered %ld with both colours down (their mocks failed the "
                       "health checks); the profile declares %d",
                       bad[0] ? "; " : "", p->name, p->status, m->unhealthy_status);
            }
        }
        json_decref(doc);
    }
    SETF(measured, "%ld of %ld items wrong, %ld not judged", wrong, v->samples, unknown);
    if (wrong)
        SETF(detail, "%s", bad);
    else if (unknown)
        SETF(detail, "not judged: %s", unk);
    verdict(v, wrong == 0, (double)-wrong);
    if (!wrong && unknown)
        v->status = HARNESS_INCONCLUSIVE; /* a claim nobody could check is no pass */
}

/* The latest probe of kind a check reads, or NULL. */
static const struct harness_probe *latest_probe(const json_t *c, const struct harness_obs *o,
                                                int kind)
{
    const struct harness_probe *p = NULL;
    for (size_t i = 0; i < o->n_probes; i++)
        if (probe_selected(c, &o->probes[i], kind))
            p = &o->probes[i];
    return p;
}

/* The value of counter ci in probe p (JSON or Prometheus).  Returns 0 with
 * *out, 1 when the map has no name for it, -1 with why. */
static int relay_counter(const struct harness_obs *o, const struct harness_probe *p, json_t *doc,
                         int ci, double *out, char *why, size_t n)
{
    const struct harness_probe_map *m = &o->probe_map;
    if (ci < 0)
        return 1;
    if (p->kind == HARNESS_PROBE_PROM) {
        if (!m->counters[ci].prom[0])
            return 1;
        long k = harness_prom_sum(p->body ? p->body : "", m->counters[ci].prom, out, why, n);
        return k < 0 ? -1 : 0;
    }
    if (!m->counters[ci].json[0])
        return 1;
    json_t *x = harness_json_pointer(doc, m->counters[ci].json);
    if (co_json_number(x, out) != 0) {
        snprintf(why, n, "%s is %s, not a number", m->counters[ci].json,
                 x ? co_json_type_name(x) : "absent");
        return -1;
    }
    return 0;
}

/* The active colour in metrics probe p (JSON document doc, or Prometheus
 * text) against the colour the traffic met when it was taken (the latest
 * traffic attempt's colour, observed_active).  Returns 0 right, -1 wrong,
 * 1 not judged (the profile maps none, or the colour was not observed); why
 * says which. */
static int active_item(const struct harness_obs *o, const struct harness_probe *p, json_t *doc,
                       char *why, size_t n)
{
    const struct harness_probe_map *m = &o->probe_map;
    const char *tmpl = p->kind == HARNESS_PROBE_PROM ? m->active_prom : m->active_json;
    if (!tmpl[0]) {
        harness_v_fmt(why, n, "the profile maps no active colour (%s.active)",
                      p->kind == HARNESS_PROBE_PROM ? "prometheus" : "metrics");
        return 1;
    }
    char awhy[200];
    const char *env = observed_active(o, p->t_sent, awhy, sizeof awhy);
    if (!env) {
        harness_v_fmt(why, n, "%s", awhy);
        return 1;
    }
    int want = strcmp(env, "green") == 0;
    if (strcmp(env, "blue") != 0 && !want) {
        harness_v_fmt(why, n, "the latest traffic went to %s, not a colour", env);
        return 1;
    }
    if (p->kind != HARNESS_PROBE_PROM) {
        json_t *x = harness_json_pointer(doc, tmpl);
        if (json_is_string(x) && strcmp(json_string_value(x), m->colour[want]) == 0)
            return 0;
        harness_v_fmt(why, n, "%s says %s, the traffic (served colour, mock journals) went to %s",
                      tmpl,
                      json_is_string(x) ? json_string_value(x)
                      : x               ? co_json_type_name(x)
                                        : "(absent)",
                      m->colour[want]);
        return -1;
    }
    /* The gauge: 1 for the active colour's sample, 0 for the other's. */
    for (int k = 0; k < 2; k++) {
        char sel[256], err[200] = "the selector does not fit";
        double sum = 0;
        long got = harness_prom_active_selector(tmpl, m->colour[k], sel, sizeof sel) == 0
                       ? harness_prom_sum(p->body ? p->body : "", sel, &sum, err, sizeof err)
                       : -1;
        if (got <= 0 || sum != (k == want)) {
            if (got < 0)
                harness_v_fmt(why, n, "%s", err);
            else if (got == 0)
                harness_v_fmt(why, n, "no sample of %s (the traffic went to %s)", sel,
                              m->colour[want]);
            else
                harness_v_fmt(why, n,
                              "%s is %g, the traffic (served colour, mock journals) went to %s",
                              sel, sum, m->colour[want]);
            return -1;
        }
    }
    return 0;
}

static void ck_metrics_truth(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    const char *format = str(c, "format", "both");
    const char *const *names = harness_counter_names();
    json_t *want = json_object_get(c, "counters");
    long wrong = 0, unknown = 0, missing = 0;
    char bad[512] = "", unk[512] = "", got[256] = "";
    SETF(expected,
         "the relay's counters (%s) equal the client's and mocks' counts, after the "
         "traffic",
         format);
    snprintf(v->unit, sizeof v->unit, "ctr");
    for (int kind = HARNESS_PROBE_METRICS; kind <= HARNESS_PROBE_PROM; kind++) {
        if ((kind == HARNESS_PROBE_METRICS && strcmp(format, "prometheus") == 0) ||
            (kind == HARNESS_PROBE_PROM && strcmp(format, "json") == 0))
            continue;
        const char *fname = kind == HARNESS_PROBE_PROM ? "prometheus" : "json";
        struct report_check miss = *v;
        if (probe_missing(c, o, kind, &miss)) {
            missing++;
            append(unk, sizeof unk, "%s%s", unk[0] ? "; " : "", miss.detail);
            continue;
        }
        const struct harness_probe *p = latest_probe(c, o, kind);
        if (p->inflight || p->answered < (long)o->n_reqs) {
            missing++;
            append(unk, sizeof unk,
                   "%s%s: taken while %ld of %zu requests were unanswered: the "
                   "counters were still moving (probe with \"at\": {\"after\": \"traffic\"})",
                   unk[0] ? "; " : "", p->name, (long)o->n_reqs - p->answered, o->n_reqs);
            continue;
        }
        char why[256];
        json_t *doc = NULL;
        if (kind == HARNESS_PROBE_METRICS) {
            doc = probe_json(p, 0, why, sizeof why);
        } else if (p->status / 100 != 2) {
            snprintf(why, sizeof why, "%s %s", p->path,
                     p->status ? "answered with an error status" : "did not answer");
        }
        if ((kind == HARNESS_PROBE_METRICS && !doc) ||
            (kind == HARNESS_PROBE_PROM && p->status / 100 != 2)) {
            v->samples++;
            wrong++;
            append(bad, sizeof bad, "%s%s: %s", bad[0] ? "; " : "", fname, why);
            continue;
        }
        for (int k = 0; names[k]; k++) {
            if (json_is_array(want)) {
                int asked = 0;
                size_t q;
                json_t *w;
                json_array_foreach(want, q, w) asked |= strcmp(json_string_value(w), names[k]) == 0;
                if (!asked)
                    continue;
            } else if (strcmp(names[k], "cost") == 0 && !o->n_prices) {
                /* Not asked, and the scenario set no prices to observe a
                 * cost with: not part of "every counter". */
                continue;
            }
            double rv, ov;
            int rc = relay_counter(o, p, doc, harness_probe_map_counter(&o->probe_map, names[k]),
                                   &rv, why, sizeof why);
            if (rc == 1) {
                unknown++;
                append(unk, sizeof unk, "%s%s %s: no counter mapped", unk[0] ? "; " : "", fname,
                       names[k]);
                continue;
            }
            if (rc < 0) {
                v->samples++;
                wrong++;
                append(bad, sizeof bad, "%s%s %s: %s", bad[0] ? "; " : "", fname, names[k], why);
                continue;
            }
            if (harness_counter_observed(names[k], o, &ov, why, sizeof why) != 0) {
                unknown++;
                append(unk, sizeof unk, "%s%s: %s", unk[0] ? "; " : "", names[k], why);
                continue;
            }
            v->samples++;
            append(got, sizeof got, "%s%s %s %g/%g", got[0] ? ", " : "", fname, names[k], rv, ov);
            /* Counts are whole numbers; a cost is a sum of products the
             * relay added up in its own order: equal to 1e-9 of itself. */
            if (fabs(rv - ov) > 1e-9 * fmax(1.0, fabs(ov))) {
                wrong++;
                append(bad, sizeof bad, "%s%s %s: relay %g, observed %g (%s)", bad[0] ? "; " : "",
                       fname, names[k], rv, ov, harness_counter_what(names[k]));
            }
        }
        if (item_asked(c, "counters", "active")) {
            int rc = active_item(o, p, doc, why, sizeof why);
            if (rc > 0) {
                unknown++;
                append(unk, sizeof unk, "%s%s active: %s", unk[0] ? "; " : "", fname, why);
            } else {
                v->samples++;
                append(got, sizeof got, "%s%s active %s", got[0] ? ", " : "", fname,
                       rc == 0 ? "right" : "wrong");
                if (rc < 0) {
                    wrong++;
                    append(bad, sizeof bad, "%s%s active: %s", bad[0] ? "; " : "", fname, why);
                }
            }
        }
        json_decref(doc);
    }
    SETF(measured, "%ld of %ld counters wrong%s%s", wrong, v->samples,
         got[0] ? " (relay/seen: " : "", got);
    if (got[0])
        append(v->measured, sizeof v->measured, ")");
    if (wrong)
        SETF(detail, "%s%s%s", bad, unk[0] ? "; not judged: " : "", unk);
    else if (unknown || missing)
        SETF(detail, "not judged: %s", unk);
    verdict(v, wrong == 0, (double)-wrong);
    if (!wrong && (unknown || missing))
        v->status = HARNESS_INCONCLUSIVE; /* an unmapped counter is no pass */
}

static void ck_prometheus_valid(const json_t *c, const struct harness_obs *o,
                                struct report_check *v)
{
    int lint = json_is_true(json_object_get(c, "lint"));
    SETF(expected, "promtool check metrics accepts the page%s",
         lint ? " without lint problems" : "");
    snprintf(v->unit, sizeof v->unit, "page");
    if (probe_missing(c, o, HARNESS_PROBE_PROM, v))
        return;
    long bad = 0, unk = 0;
    for (size_t i = 0; i < o->n_probes; i++) {
        const struct harness_probe *p = &o->probes[i];
        if (!probe_selected(c, p, HARNESS_PROBE_PROM))
            continue;
        if (p->status / 100 != 2) {
            v->samples++;
            bad++;
            SETF(detail, "%s: %s %s", p->name, p->path,
                 p->status ? "answered with an error status" : "did not answer");
            continue;
        }
        if (p->prom_rc < 0 || (p->prom_rc != 0 && p->prom_rc != 1 && p->prom_rc != 3)) {
            unk++;
            if (!bad)
                SETF(detail, "%s: %s", p->name, p->prom_out);
            continue;
        }
        v->samples++;
        if (p->prom_rc == 1 || (lint && p->prom_rc == 3)) {
            bad++;
            SETF(detail, "%s: promtool: %s", p->name, p->prom_out);
        } else if (p->prom_rc == 3 && !bad) {
            SETF(detail, "lint only (not counted): %s", p->prom_out);
        }
    }
    SETF(measured, "%ld of %ld pages rejected%s", bad, v->samples, unk ? ", some not checked" : "");
    verdict(v, bad == 0, (double)-bad);
    if (!bad && unk)
        v->status = HARNESS_INCONCLUSIVE; /* no parser looked at it: never a pass */
}

static const struct param p_ratio[] = {
    {"min", P_RATIO, 1}, {"max", P_RATIO, 0}, {"phase", P_PHASE, 0}, {NULL, 0, 0}};
static const struct param p_count[] = {
    {"outcome", P_OUTCOME, 0}, {"status", P_INT, 0},       {"served", P_ENV, 0},
    {"min", P_NUM, 0},         {"max", P_NUM, 0},          {"exact", P_NUM, 0},
    {"phase", P_PHASE, 0},     {"window_ms", P_WINDOW, 0}, {NULL, 0, 0}};
static const struct param p_deadline[] = {
    {"max_ms", P_NUM, 1}, {"from", P_FROM, 0}, {"phase", P_PHASE, 0}, {NULL, 0, 0}};
static const struct param p_phase[] = {{"phase", P_PHASE, 0}, {NULL, 0, 0}};
static const struct param p_attempts[] = {
    {"min", P_NUM, 0},       {"max", P_NUM, 0},     {"exact", P_NUM, 0},        {"env", P_ENV, 0},
    {"requests", P_REQS, 0}, {"phase", P_PHASE, 0}, {"window_ms", P_WINDOW, 0}, {NULL, 0, 0}};
static const struct param p_upstream[] = {
    {"env", P_ENV, 0},   {"health", P_BOOL, 0}, {"min", P_NUM, 0},          {"max", P_NUM, 0},
    {"exact", P_NUM, 0}, {"phase", P_PHASE, 0}, {"window_ms", P_WINDOW, 0}, {NULL, 0, 0}};
static const struct param p_concurrency[] = {
    {"env", P_ENV, 0}, {"min", P_NUM, 0}, {"max", P_NUM, 0}, {"exact", P_NUM, 0}, {NULL, 0, 0}};
static const struct param p_backoff[] = {
    {"base_ms", P_NUM, 0},   {"factor", P_NUM, 0},        {"cap_ms", P_NUM, 0},
    {"jitter", P_JITTER, 0}, {"tolerance_ms", P_NUM, 0},  {"schedule_ms", P_NUMARR, 0},
    {"same_env", P_BOOL, 0}, {"distribution", P_BOOL, 0}, {NULL, 0, 0}};
static const struct param p_retry_after[] = {{"min_ms", P_NUM, 1}, {NULL, 0, 0}};
static const struct param p_stderr_lines[] = {{"max", P_NUM, 1}, {NULL, 0, 0}};
static const struct param p_picks_agree[] = {{"after", P_MARK, 0}, {NULL, 0, 0}};
static const struct param p_hammer[] = {
    {"max", P_NUM, 1}, {"window_ms", P_NUM, 1}, {"env", P_ENV, 0}, {NULL, 0, 0}};
static const struct param p_switches[] = {
    {"min", P_NUM, 0},   {"max", P_NUM, 0},          {"exact", P_NUM, 0}, {"sequence", P_SEQ, 0},
    {"view", P_VIEW, 0}, {"window_ms", P_WINDOW, 0}, {NULL, 0, 0}};
static const struct param p_switch_delay[] = {
    {"from", P_ENV, 0},   {"to", P_ENV, 1},    {"after", P_MARK, 1}, {"within_ms", P_NUM, 1},
    {"min_ms", P_NUM, 0}, {"view", P_VIEW, 0}, {NULL, 0, 0}};
static const struct param p_dwell[] = {{"min_ms", P_NUM, 1}, {"view", P_VIEW, 0}, {NULL, 0, 0}};
static const struct param p_unhealthy[] = {
    {"env", P_ENV, 1}, {"grace_ms", P_NUM, 0}, {"after", P_MARK, 0}, {NULL, 0, 0}};
static const struct param p_rate[] = {{"limit", P_NUM, 1},
                                      {"window_ms", P_NUM, 1},
                                      {"key", P_STR, 0},
                                      {"tolerance", P_NUM, 0},
                                      {"ratelimit_headers", P_BOOL, 0},
                                      {"window_kind", P_RLKIND, 0},
                                      {NULL, 0, 0}};
static const struct param p_health[] = {
    {"env", P_ENV, 1}, {"interval_ms", P_NUM, 1}, {"tolerance_ms", P_NUM, 0}, {NULL, 0, 0}};
static const struct param p_latency[] = {
    {"p50_ms", P_NUM, 0}, {"p95_ms", P_NUM, 0},  {"p99_ms", P_NUM, 0}, {"max_ms", P_NUM, 0},
    {"from", P_FROM, 0},  {"phase", P_PHASE, 0}, {NULL, 0, 0}};
static const struct param p_overhead[] = {{"p50_ms", P_NUM, 0}, {"p99_ms", P_NUM, 0}, {NULL, 0, 0}};
static const struct param p_zero[] = {
    {"around", P_MARK, 1}, {"before_ms", P_NUM, 0}, {"after_ms", P_NUM, 0}, {NULL, 0, 0}};
static const struct param p_served[] = {{"env", P_ENV, 1},
                                        {"min", P_RATIO, 0},
                                        {"max", P_RATIO, 0},
                                        {"phase", P_PHASE, 0},
                                        {NULL, 0, 0}};
static const struct param p_alive[] = {{"alive", P_BOOL, 0}, {NULL, 0, 0}};
static const struct param p_none[] = {{NULL, 0, 0}};
static const struct param p_shutdown[] = {{"max_ms", P_NUM, 0}, {NULL, 0, 0}};
static const struct param p_forwarded[] = {
    {"parts", P_PARTS, 0}, {"require_id", P_BOOL, 0}, {"phase", P_PHASE, 0}, {NULL, 0, 0}};
static const struct param p_error_shape[] = {
    {"status", P_INT, 0}, {"phase", P_PHASE, 0}, {NULL, 0, 0}};
static const struct param p_health_probes[] = {
    {"env", P_ENV, 1}, {"to", P_ENV, 1},    {"after", P_MARK, 1},       {"min", P_NUM, 0},
    {"max", P_NUM, 0}, {"exact", P_NUM, 0}, {"window_ms", P_WINDOW, 0}, {NULL, 0, 0}};
static const struct param p_reuse[] = {{"min", P_NUM, 1}, {"env", P_ENV, 0}, {NULL, 0, 0}};
static const struct param p_fleet_rl[] = {
    {"limit", P_NUM, 1}, {"window_ms", P_NUM, 1}, {"key", P_STR, 0}, {NULL, 0, 0}};
static const struct param p_agree[] = {{"to", P_ENV, 1},
                                       {"after", P_MARK, 1},
                                       {"within_ms", P_NUM, 1},
                                       {"view", P_VIEW, 0},
                                       {NULL, 0, 0}};
static const struct param p_probe_load[] = {
    {"max_per_interval", P_NUM, 1}, {"interval_ms", P_NUM, 1}, {"env", P_ENV, 0}, {NULL, 0, 0}};
static const struct param p_client_status[] = {
    {"status", P_INT, 0},  {"type", P_STR, 0},     {"code", P_STR, 0}, {"min", P_RATIO, 0},
    {"phase", P_PHASE, 0}, {"template", P_STR, 0}, {NULL, 0, 0}};
static const struct param p_answer[] = {
    {"client", P_CLIENT, 0}, {"phase", P_PHASE, 0}, {"template", P_STR, 0}, {NULL, 0, 0}};
static const struct param p_model_reported[] = {{"client", P_CLIENT, 0},
                                                {"against", P_AGAINST, 0},
                                                {"phase", P_PHASE, 0},
                                                {"template", P_STR, 0},
                                                {NULL, 0, 0}};
static const struct param p_health_reports[] = {
    {"probe", P_MARK, 0}, {"grace_ms", P_NUM, 0}, {"items", P_HITEMS, 0}, {NULL, 0, 0}};
static const struct param p_metrics_truth[] = {
    {"probe", P_MARK, 0}, {"format", P_FORMAT, 0}, {"counters", P_COUNTERS, 0}, {NULL, 0, 0}};
static const struct param p_prometheus_valid[] = {
    {"probe", P_MARK, 0}, {"lint", P_BOOL, 0}, {NULL, 0, 0}};

/* ---- outsider audit (docs/outsider-audit.md) ------------------------------ */

/* The share of requests that tried a colour at all.  After a relay left a
 * colour, a relay that keeps its switch sends it nothing, or a passive
 * re-probe now and then; a relay that keeps no state tries the dead colour
 * first on every request (a failed attempt and a backoff each, and the
 * failing upstream hammered), which every attempts/switches check passes. */
static void ck_tried_ratio(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    const char *env = str(c, "env", "blue");
    double lo = num(c, "min", 0), hi = num(c, "max", 1);
    long tried = 0;
    const struct harness_req *bad = NULL;
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *r = &o->reqs[i];
        /* A request none of whose attempts was found tells nothing. */
        if (!req_selected(c, o, r) || count_attempts(o, r->id, NULL) == 0)
            continue;
        v->samples++;
        int t = count_attempts(o, r->id, env) > 0;
        tried += t;
        if (!bad && ((t && hi < 1) || (!t && lo > 0)))
            bad = r;
    }
    double ratio = v->samples ? (double)tried / (double)v->samples : 0;
    SETF(expected, "share of %s requests%s that made an attempt to %s in [%g, %g]",
         str(c, "requests", "all"), has(c, "phase") ? " of the phase" : "", env, lo, hi);
    SETF(measured, "%.3f (%ld of %ld)", ratio, tried, v->samples);
    int ok = ratio >= lo && ratio <= hi;
    if (!ok && bad) {
        if (ratio > hi)
            append(v->detail, sizeof v->detail,
                   "requests still try %s first: the relay does not keep its switch; ", env);
        describe_req(o, bad, v->detail, sizeof v->detail);
    }
    verdict(v, ok, fmin(ratio - lo, hi - ratio));
}

/* The serving attempt of a request: its last upstream attempt that
 * answered 200 (NULL none). */
static const struct harness_att *serving_attempt(const struct harness_obs *o, const char *id)
{
    const struct harness_att *a[16];
    size_t n = attempts_of(o, id, a, 16);
    for (size_t k = n; k-- > 0;)
        if (a[k]->status == 200)
            return a[k];
    return NULL;
}

/* A stream is passed on as it comes: the client's first byte arrives well
 * before the upstream finished sending.  A relay that reads the whole
 * stream before it writes (a buffering proxy, a framework that collects the
 * body) turns streaming into one late answer; every outcome check passes
 * it.  Only answers whose upstream stream lasted at least twice lead_ms are
 * samples: a short one cannot tell. */
static void ck_stream_incremental(const json_t *c, const struct harness_obs *o,
                                  struct report_check *v)
{
    double lead = num(c, "lead_ms", 50);
    const struct harness_req *bad = NULL;
    double worst = INFINITY;
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *r = &o->reqs[i];
        if (!req_in_scope(c, o, r) || !r->stream || r->outcome != HARNESS_OK || !r->t_first)
            continue;
        const struct harness_att *a = serving_attempt(o, r->id);
        if (!a || (double)(a->t_done - a->t_arrival) < 2 * lead * 1000.0)
            continue;
        v->samples++;
        /* How long before the upstream's end the client had its first byte. */
        double early = ((double)a->t_done - (double)r->t_first) / 1000.0;
        if (early - lead < worst) {
            worst = early - lead;
            if (early < lead)
                bad = r;
        }
    }
    SETF(expected,
         "streamed answers: the client's first byte >= %g ms before the upstream finished "
         "(passed on as it comes)",
         lead);
    if (v->samples)
        SETF(measured, "%ld streams, least lead %.1f ms", v->samples, worst + lead);
    else
        SETF(measured, "no streamed answer whose upstream took %g ms or more", 2 * lead);
    snprintf(v->unit, sizeof v->unit, "ms");
    if (bad) {
        append(v->detail, sizeof v->detail,
               "the first byte came after the upstream's stream ended: the relay buffers "
               "streams; ");
        describe_req(o, bad, v->detail, sizeof v->detail);
    }
    verdict(v, bad == NULL, isinf(worst) ? 0 : worst);
}

/* What a client's parser goes by: a 200 JSON answer says application/json,
 * a stream says text/event-stream (an SDK reading a stream's events, or
 * deciding whether to parse JSON, looks at nothing else).  error_shape
 * judges the errors; this judges the successes. */
static void ck_answer_content_type(const json_t *c, const struct harness_obs *o,
                                   struct report_check *v)
{
    const struct harness_req *bad = NULL;
    long wrong = 0;
    struct answers it = answers_of(c, o, ANSWERS_READ);
    for (const struct harness_req *r; (r = answer_next(&it));) {
        v->samples++;
        const char *want = r->stream ? "text/event-stream" : "application/json";
        /* A media type, then parameters (charset) or nothing. */
        size_t wl = strlen(want);
        int ok = strncasecmp(r->ctype, want, wl) == 0 &&
                 (r->ctype[wl] == '\0' || r->ctype[wl] == ';' || r->ctype[wl] == ' ');
        if (!ok) {
            wrong++;
            if (!bad)
                bad = r;
        }
    }
    SETF(expected, "200 answers say application/json, streams text/event-stream (Content-Type)");
    SETF(measured, "%ld of %ld answers with another Content-Type", wrong, v->samples);
    if (bad) {
        append(v->detail, sizeof v->detail, "Content-Type '%s' on a %s answer; ", bad->ctype,
               bad->stream ? "streamed" : "JSON");
        describe_req(o, bad, v->detail, sizeof v->detail);
    }
    verdict(v, wrong == 0, -(double)wrong);
}

/* What a client's HTTP stack goes by before any parser: a Content-Encoding
 * says how to undo the body (every SDK asks for gzip and decodes it).  The
 * harness asks for no coding, so the body arrives as the relay sent it; a
 * coding whose mark the body lacks (gzip 1f 8b, deflate a zlib header,
 * zstd 28 b5 2f fd) cannot be undone by any client.  br has no mark: not
 * judged.  Judged on every 200 with a body, whole or not. */
static int encoding_mark_ok(const struct harness_req *r, int *judged)
{
    const char *e = r->cenc;
    const unsigned char *h = r->head;
    *judged = 1;
    if (!e[0] || strcasecmp(e, "identity") == 0)
        return 1;
    if (strcasecmp(e, "gzip") == 0 || strcasecmp(e, "x-gzip") == 0)
        return r->head_n == 2 && h[0] == 0x1f && h[1] == 0x8b;
    if (strcasecmp(e, "deflate") == 0)
        return r->head_n == 2 && (h[0] & 0x0f) == 8 && ((h[0] << 8) | h[1]) % 31 == 0;
    if (strcasecmp(e, "zstd") == 0)
        return r->head_n == 2 && h[0] == 0x28 && h[1] == 0xb5;
    *judged = 0;
    return 1;
}

static void ck_answer_encoding(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    const struct harness_req *bad = NULL;
    long wrong = 0, unjudged = 0;
    struct answers it = answers_of(c, o, ANSWERS_BODY);
    for (const struct harness_req *r; (r = answer_next(&it));) {
        int judged;
        int ok = encoding_mark_ok(r, &judged);
        if (!judged) {
            unjudged++;
            continue;
        }
        v->samples++;
        if (!ok) {
            wrong++;
            if (!bad)
                bad = r;
        }
    }
    SETF(expected, "a 200's body is in the coding its Content-Encoding names (none: as is)");
    SETF(measured, "%ld of %ld answers not in their Content-Encoding", wrong, v->samples);
    if (unjudged)
        append(v->detail, sizeof v->detail,
               "%ld answer(s) in a coding without a mark (br) not judged; ", unjudged);
    if (bad) {
        append(v->detail, sizeof v->detail,
               "Content-Encoding '%s' on a body starting %02x %02x: no client can decode it; ",
               bad->cenc, bad->head[0], bad->head_n > 1 ? bad->head[1] : 0);
        describe_req(o, bad, v->detail, sizeof v->detail);
    }
    verdict(v, wrong == 0, -(double)wrong);
}

/* A relay that gives up on upstreams that said when to come back passes
 * that on: every client answer of the given status (429 by default; a
 * scenario where every upstream 429/503 carries Retry-After) carries
 * Retry-After or retry-after-ms.  Without it every SDK falls back on its
 * own short backoff and hammers a limit the upstream already timed.  A
 * relay that answers another status is not a sample here (client_count
 * judges the status). */
static void ck_retry_after_kept(const json_t *c, const struct harness_obs *o,
                                struct report_check *v)
{
    long status = (long)num(c, "status", 429);
    const struct harness_req *bad = NULL;
    long missing = 0;
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *r = &o->reqs[i];
        if (!req_in_scope(c, o, r) || r->status != status)
            continue;
        v->samples++;
        if (r->ra_s < 0 && r->ra_ms < 0 && r->retry_after_ms < 0) {
            missing++;
            if (!bad)
                bad = r;
        }
    }
    SETF(expected, "every %ld to the client carries Retry-After or retry-after-ms", status);
    SETF(measured, "%ld of %ld %lds without Retry-After", missing, v->samples, status);
    if (bad) {
        append(v->detail, sizeof v->detail,
               "the upstreams said when to retry, the client was not told; ");
        describe_req(o, bad, v->detail, sizeof v->detail);
    }
    verdict(v, missing == 0, -(double)missing);
}

/* RFC 9110 7.6.1: the headers an answer's Connection names are for that
 * hop only; a proxy drops them (and Connection itself) before passing the
 * answer on.  The mock's hop_headers action names X-Mock-Hop, a header no
 * relay has a reason to make: a client that sees it got the upstream's
 * headers copied wholesale (with them, whatever Keep-Alive or
 * Transfer-Encoding the upstream's hop had).  A sample is a client answer
 * of a request one of whose attempts (mock journals, by request id) was
 * answered with hop headers. */
static void ck_hop_headers(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    const struct harness_req *bad = NULL;
    long copied = 0, unknown = 0;
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *r = &o->reqs[i];
        if (!req_in_scope(c, o, r) || r->status <= 0)
            continue;
        const struct harness_att *a[16];
        size_t n = attempts_of(o, r->id, a, 16);
        int hop = 0;
        for (size_t k = 0; k < n; k++)
            hop |= a[k]->status > 0 && strcmp(a[k]->action, "hop_headers") == 0;
        if (!hop) {
            unknown += n == 0;
            continue; /* no upstream hop named a header for it: no sample */
        }
        v->samples++;
        if (r->hop_hdr) {
            copied++;
            if (!bad)
                bad = r;
        }
    }
    SETF(expected, "no client answer carries a header the upstream's Connection named");
    SETF(measured, "%ld of %ld answers carried X-Mock-Hop", copied, v->samples);
    if (unknown)
        append(v->measured, sizeof v->measured, "; %ld without attempts found", unknown);
    if (bad) {
        append(v->detail, sizeof v->detail,
               "the upstream answered 'Connection: keep-alive, X-Mock-Hop' and the client got "
               "X-Mock-Hop: the relay copies the upstream's hop-by-hop headers onto its answer; ");
        describe_req(o, bad, v->detail, sizeof v->detail);
    }
    verdict(v, copied == 0, -(double)copied);
}

/* A relay's own 429 (no upstream attempt of the request) tells its client
 * when to come back; a client that waits that long and comes back must be
 * let in, unless another request of the same client was admitted in
 * between (it may have taken the slot).  A Retry-After of 0 while the
 * limit still holds, or one shorter than the window the limiter keeps,
 * sends every SDK straight back into the refusal.  A sample is a 429 the
 * relay made with a wait (Retry-After or retry-after-ms) followed by a
 * request of the same client key sent after that wait, with no admission
 * of that client between. */
static void ck_retry_after_holds(const json_t *c, const struct harness_obs *o,
                                 struct report_check *v)
{
    const struct harness_req *bad = NULL, *bad_next = NULL;
    long refused = 0, upstream = 0;
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *r = &o->reqs[i];
        if (!req_in_scope(c, o, r) || r->status != 429 || r->retry_after_ms < 0 || !r->t_done)
            continue;
        if (count_attempts(o, r->id, NULL) > 0) {
            upstream++; /* an upstream's 429 passed on: its wait is the upstream's */
            continue;
        }
        if (r->ra_ms < 0 && (r->ra_s == -2 || r->ra_s == -3))
            continue; /* Retry-After no number (an HTTP date): the wait is not in the log */
        uint64_t back = r->t_done + (uint64_t)r->retry_after_ms * 1000;
        const struct harness_req *next = NULL;
        for (size_t k = 0; k < o->n_reqs; k++) {
            const struct harness_req *q = &o->reqs[k];
            if (strcmp(q->key, r->key) != 0 || q->t_sent < back || q->status <= 0)
                continue;
            if (!next || q->t_sent < next->t_sent)
                next = q;
        }
        if (!next)
            continue; /* nobody of that client came back after the wait */
        /* An upstream's 429 passed on is an admission by the relay. */
        int taken = 0;
        for (size_t k = 0; k < o->n_reqs && !taken; k++) {
            const struct harness_req *q = &o->reqs[k];
            taken = strcmp(q->key, r->key) == 0 && q->t_sent > r->t_sent &&
                    q->t_sent < next->t_sent && q->status > 0 &&
                    (q->status != 429 || count_attempts(o, q->id, NULL) > 0);
        }
        if (taken)
            continue; /* the client itself was let in meanwhile: no promise left */
        v->samples++;
        if (next->status == 429 && count_attempts(o, next->id, NULL) == 0) {
            refused++;
            if (!bad)
                bad = r, bad_next = next;
        }
    }
    SETF(expected, "a client that waits what the relay's 429 said is let in");
    SETF(measured, "%ld of %ld came back after the wait and were refused again", refused,
         v->samples);
    if (upstream)
        append(v->measured, sizeof v->measured, "; %ld upstream 429s not judged", upstream);
    if (bad) {
        append(v->detail, sizeof v->detail,
               "a 429 at +%.1f ms said wait %ld ms; request %s of that client, sent +%.1f ms, "
               "was refused again: the Retry-After is shorter than the limit holds; ",
               rel_ms(o, bad->t_done), bad->retry_after_ms, bad_next->id,
               rel_ms(o, bad_next->t_sent));
        describe_req(o, bad, v->detail, sizeof v->detail);
    }
    verdict(v, refused == 0, -(double)refused);
}

/* One request, one attempt at a time: a relay that sends a request to both
 * colours at once (a hedge, or a retry fired before the first answer) pays
 * the upstream twice for one answer.  An attempt the relay gave up on (a
 * timeout: the upstream saw the client go) may overlap the next; one that
 * the upstream answered in full while the next was already out may not. */
static void ck_sequential_attempts(const json_t *c, const struct harness_obs *o,
                                   struct report_check *v)
{
    const struct harness_req *bad = NULL;
    long overlapped = 0;
    double worst = INFINITY;
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *r = &o->reqs[i];
        if (!req_in_scope(c, o, r))
            continue;
        const struct harness_att *a[16];
        size_t n = attempts_of(o, r->id, a, 16);
        if (!n)
            continue; /* its attempts were not found: no sample */
        v->samples++;
        int over = 0;
        for (size_t k = 0; k + 1 < n; k++) {
            if (strcmp(a[k]->end, "complete") != 0)
                continue;
            /* How long the next attempt was out before this one ended. */
            double early = ((double)a[k]->t_done - (double)a[k + 1]->t_arrival) / 1000.0;
            worst = fmin(worst, DONE_SLACK_MS - early);
            over |= early > DONE_SLACK_MS;
        }
        overlapped += over;
        if (over && !bad)
            bad = r;
    }
    SETF(expected, "no attempt starts while an earlier one of its request is still answered");
    SETF(measured, "%ld of %ld requests with attempts in flight together", overlapped, v->samples);
    snprintf(v->unit, sizeof v->unit, "ms");
    if (bad) {
        append(v->detail, sizeof v->detail,
               "the request went upstream twice at once (a hedge or an early retry: paid "
               "twice); ");
        describe_req(o, bad, v->detail, sizeof v->detail);
    }
    verdict(v, overlapped == 0, isinf(worst) ? 0 : worst);
}

static const struct param p_tried[] = {{"env", P_ENV, 1},       {"min", P_RATIO, 0},
                                       {"max", P_RATIO, 0},     {"phase", P_PHASE, 0},
                                       {"requests", P_REQS, 0}, {NULL, 0, 0}};
static const struct param p_client_gone[] = {
    {"within_ms", P_NUM, 0}, {"phase", P_PHASE, 0}, {NULL, 0, 0}};
static const struct param p_incremental[] = {
    {"lead_ms", P_NUM, 0}, {"phase", P_PHASE, 0}, {NULL, 0, 0}};

/* The view a switch check reads: the relay's events, the served colours, or both. */
static unsigned view_needs(const json_t *c)
{
    const char *view = str(c, "view", "events");
    return strcmp(view, "served") == 0 ? HARNESS_SIG_SERVED
           : strcmp(view, "both") == 0 ? HARNESS_SIG_SERVED | HARNESS_SIG_EVENTS
                                       : HARNESS_SIG_EVENTS;
}

/* upstream_concurrency: the most traffic attempts a mock was answering at
 * once (each attempt from its arrival to its end, as the mock stamped
 * them).  Bounds on how many the relay lets through at a time
 * (max_connections upstream, max_clients in front): the mocks see that
 * whatever the relay is.  An end and an arrival at the same instant do not
 * overlap (a connection handed on). */
struct conc_edge {
    uint64_t t;
    int d; /* +1 arrival, -1 end */
};

static int by_edge(const void *a, const void *b)
{
    const struct conc_edge *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->d - y->d; /* ends first */
}

static void ck_upstream_concurrency(const json_t *c, const struct harness_obs *o,
                                    struct report_check *v)
{
    const char *env = str(c, "env", NULL);
    struct conc_edge *e = co_calloc(2 * o->n_atts + 1, sizeof *e);
    size_t n = 0;
    long open_ended = 0;
    for (size_t i = 0; i < o->n_atts; i++) {
        const struct harness_att *a = &o->atts[i];
        /* Client traffic only (as harness_obs_observe counts it): a
         * forwarded admin call, or a stray request to the mock's port from
         * outside the run, is none of the relay's client slots. */
        if (a->health || (env && strcmp(a->env, env) != 0) ||
            (!strstr(a->path, "/chat/completions") && !strstr(a->path, "/models")))
            continue;
        if (!a->t_done || a->t_done < a->t_arrival) {
            open_ended++; /* no end stamped: its span is unknown */
            continue;
        }
        e[n++] = (struct conc_edge){a->t_arrival, +1};
        e[n++] = (struct conc_edge){a->t_done, -1};
    }
    qsort(e, n, sizeof *e, by_edge);
    int cur = 0, peak = 0;
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        cur += e[i].d;
        if (cur > peak) {
            peak = cur;
            at = e[i].t;
        }
    }
    free(e);
    v->samples = (long)(n / 2);
    char exp[96];
    double m;
    int ok = in_bounds(c, (double)peak, &m, exp, sizeof exp);
    SETF(expected, "traffic attempts in flight at once at %s %s", env ? env : "either mock", exp);
    SETF(measured, "at most %d at once over %ld attempts", peak, v->samples);
    snprintf(v->unit, sizeof v->unit, "att");
    if (peak)
        SETF(detail, "the peak began %.1f ms after the traffic start",
             at > o->t0 ? (double)(at - o->t0) / 1000.0 : 0.0);
    if (open_ended) {
        /* An attempt without an end could have overlapped any other: a
         * peak within bounds is then not known to be. */
        append(v->detail, sizeof v->detail, "%s%ld attempt(s) without an end stamp",
               v->detail[0] ? "; " : "", open_ended);
        if (ok) {
            v->status = HARNESS_INCONCLUSIVE;
            return;
        }
    }
    verdict(v, ok, m);
}

/* upstream_count in a phase ties attempts to the phase's requests by id. */
static unsigned phase_ids_needs(const json_t *c)
{
    return has(c, "phase") && !json_is_true(json_object_get(c, "health")) ? HARNESS_SIG_IDS : 0;
}

static unsigned served_param_needs(const json_t *c)
{
    return has(c, "served") ? HARNESS_SIG_SERVED : 0;
}

/* Cross-field rules that are data: a check that could not fail. */
static const struct one_of one_of_count = {"min max exact", "min, max or exact (a bound to check)"};
static const struct one_of one_of_switches = {"min max exact sequence",
                                              "min, max, exact or sequence"};
static const struct one_of one_of_backoff = {"base_ms schedule_ms", "base_ms or schedule_ms"};
static const struct one_of one_of_latency = {"p50_ms p95_ms p99_ms max_ms",
                                             "a percentile bound such as p99_ms"};
static const struct one_of one_of_client_status = {"status type code",
                                                   "status, type or code (what the client sees)"};

/* backoff_gaps with "distribution": true tests a jitter, which needs one
 * to test, and decorrelated jitter draws from a range that starts at base. */
/* A window or interval of no length holds no admission and no probe: the
 * check could never fail. */
static int rule_span(const json_t *c, const char *key, const char *path, char *err, size_t errlen)
{
    double d;
    if (co_json_number(json_object_get(c, key), &d) == 0 && d > 0)
        return 0;
    char p[256];
    snprintf(p, sizeof p, "%s.%s", path, key);
    return harness_v_expected(err, errlen, p, "a number > 0", json_object_get(c, key));
}

static int rule_fleet_window(const json_t *c, const char *path, char *err, size_t errlen)
{
    return rule_span(c, "window_ms", path, err, errlen);
}

static int rule_probe_interval(const json_t *c, const char *path, char *err, size_t errlen)
{
    return rule_span(c, "interval_ms", path, err, errlen);
}

/* colour_agreement reads one view: "both" (which the switch checks take)
 * would be judged on the events alone. */
static int rule_agree_view(const json_t *c, const char *path, char *err, size_t errlen)
{
    const char *view = str(c, "view", "events");
    if (strcmp(view, "events") == 0 || strcmp(view, "served") == 0)
        return 0;
    char p[256];
    snprintf(p, sizeof p, "%s.view", path);
    return harness_v_expected(err, errlen, p, "one of events, served", json_object_get(c, "view"));
}

static int rule_backoff(const json_t *c, const char *path, char *err, size_t errlen)
{
    if (!json_is_true(json_object_get(c, "distribution")))
        return 0;
    const char *j = str(c, "jitter", "none");
    char p[256];
    snprintf(p, sizeof p, "%s.jitter", path);
    if (strcmp(j, "none") == 0)
        return harness_v_expected(err, errlen, p,
                                  "full, equal or decorrelated (distribution tests a jitter)",
                                  json_object_get(c, "jitter"));
    if (strcmp(j, "decorrelated") == 0 && !has(c, "base_ms"))
        return harness_v_expected(err, errlen, path,
                                  "base_ms (decorrelated jitter draws from [base, 3 prev])", c);
    return 0;
}

/* The windows the HTML timeline shades for a failing check. */
static const struct check_window win_after = {"after", NULL, "within_ms", -1};
static const struct check_window win_after_to_end = {"after", NULL, NULL, -1};
static const struct check_window win_around = {"around", "before_ms", "after_ms",
                                               ZERO_DOWNTIME_WINDOW_MS};

/* model_reported against the served model reads the serving attempt. */
static unsigned against_needs(const json_t *c)
{
    return strcmp(str(c, "against", "requested"), "served") == 0 ? HARNESS_SIG_IDS : 0;
}

#define IDS     HARNESS_SIG_IDS
#define SERVED  HARNESS_SIG_SERVED
#define EVENTS  HARNESS_SIG_EVENTS
#define ADMIN   HARNESS_SIG_ADMIN
#define PROCESS HARNESS_SIG_PROCESS

/* Settings that decide a client's outcome, shared by the rows that count them. */
#define CLIENT_OUTCOME_SETTINGS                                                                    \
    "max_attempts try_timeout_ms deadline_ms ttfb_timeout_ms stream_done first_byte_timeout_ms "   \
    "on_429_without_retry_after shared_timeout_ms"
#define POLICY_SETTINGS "mode primary failback_after_ms"
/* "*": a count of outcomes, colours or switches whose failure any other
 * setting that shapes behaviour can explain (harness_check_fail_depends). */
#define OUTCOME_SETTINGS "*"

/* Rows added on other branches before the named fields existed set only the
 * positional ones; they compile and get none of the rest (see struct
 * check_kind), and test_harness_checks names a row without a description. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct check_kind kinds[] = {
    {"client_success_ratio", p_ratio, 1, ck_success_ratio,
     "share of requests with 200 and a complete answer", 0, NULL, "{\"min\": 0.9}", 0,
     .why = "clients saw errors", .rank = 10,
     .settings = CLIENT_OUTCOME_SETTINGS " " OUTCOME_SETTINGS},
    {"client_count", p_count, 1, ck_client_count,
     "requests by outcome/status/served colour: min, max, exact", 0, served_param_needs,
     "{\"status\": 200, \"served\": \"green\", \"min\": 1}", 0, .one_of = &one_of_count,
     .why = "wrong answers to clients",
     .settings = CLIENT_OUTCOME_SETTINGS " " POLICY_SETTINGS " failback_rise"
                                         " " OUTCOME_SETTINGS},
    {"client_deadline", p_deadline, 1, ck_deadline, "no request outlived max_ms", 0, NULL,
     "{\"max_ms\": 1000}", 0, .why = "a request outlived its deadline", .rank = 5,
     /* on_429_without_retry_after: whether a quota 429 costs a backoff. */
     .settings = "retry_after_cap_ms try_timeout_ms deadline_ms ttfb_timeout_ms idle_timeout_ms "
                 "first_byte_timeout_ms shared_timeout_ms on_429_without_retry_after"
                 " " OUTCOME_SETTINGS},
    {"no_truncated_success", p_phase, 1, ck_no_truncated,
     "no 200 whose body or stream never finished", 0, NULL, "{}", 0,
     .why = "truncated answer passed as success", .rank = 8,
     .settings = "idle_timeout_ms stream_done"},
    {"attempts", p_attempts, 1, ck_attempts,
     "upstream attempts per client request (mock journals), per colour", IDS, NULL, "{\"max\": 2}",
     0, .one_of = &one_of_count, .why = "wrong number of attempts", .rank = 2,
     .settings = "max_attempts switch_after_failures first_byte_timeout_ms "
                 "on_429_without_retry_after"
                 " " OUTCOME_SETTINGS},
    {"upstream_count", p_upstream, 0, ck_upstream_count, "requests that reached a colour", 0,
     phase_ids_needs, "{\"env\": \"blue\", \"min\": 1}", 0, .one_of = &one_of_count,
     .why = "traffic went to the wrong colour", .rank = 9,
     .settings = "max_attempts"
                 " " OUTCOME_SETTINGS},
    {"backoff_gaps", p_backoff, 1, ck_backoff, "gaps between attempts against the schedule", IDS,
     NULL, "{\"base_ms\": 10}", 0, .one_of = &one_of_backoff, .rule = rule_backoff,
     .why = "backoff schedule not kept", .rank = 3,
     .settings = "max_attempts backoff_base_ms backoff_cap_ms jitter on_429_without_retry_after"},
    {"retry_after", p_retry_after, 1, ck_retry_after, "retries wait at least Retry-After", IDS,
     NULL, "{\"min_ms\": 100}", 0, .why = "Retry-After ignored", .rank = 4,
     .settings = "max_attempts retry_after_cap_ms"},
    {"no_hammering", p_hammer, 1, ck_no_hammering, "at most max attempts in any window", 0, NULL,
     "{\"max\": 5, \"window_ms\": 100}", 0, .why = "hammers a failing upstream", .rank = 7,
     .settings = "max_attempts backoff_base_ms backoff_cap_ms"},
    {"switches", p_switches, 1, ck_switches, "switch count and order (events, served, both)", 0,
     view_needs, "{\"exact\": 1}", 0, .one_of = &one_of_switches,
     .why = "wrong switches (count or order)", .rank = 6,
     /* first_byte_timeout_ms: without it a slow first byte is no failure. */
     .settings = "switch_after_failures min_dwell_ms health_interval_ms health_rise health_fall "
                 "stream_done " POLICY_SETTINGS " failback_rise first_byte_timeout_ms"
                 " " OUTCOME_SETTINGS,
     .served_fallback = 1},
    {"switch_delay", p_switch_delay, 1, ck_switch_delay, "delay from a mark to a switch", 0,
     view_needs, "{\"to\": \"green\", \"after\": \"fault_on\", \"within_ms\": 100}", 0,
     .why = "switch late or never", .rank = 1,
     .settings = "try_timeout_ms ttfb_timeout_ms switch_after_failures health_interval_ms "
                 "health_timeout_ms health_rise health_fall " POLICY_SETTINGS
                 " failback_rise first_byte_timeout_ms"
                 " " OUTCOME_SETTINGS,
     .window = &win_after, .served_fallback = 1},
    {"min_dwell", p_dwell, 1, ck_min_dwell, "no flapping: switches min_ms apart", 0, view_needs,
     "{\"min_ms\": 10}", 0, .why = "flaps between colours",
     .settings = "min_dwell_ms " POLICY_SETTINGS " " OUTCOME_SETTINGS, .served_fallback = 1},
    {"no_traffic_after_unhealthy", p_unhealthy, 1, ck_no_traffic_after_unhealthy,
     "no attempts to a colour found unhealthy, beyond a grace", EVENTS, NULL, "{\"env\": \"blue\"}",
     0, .why = "traffic to an unhealthy colour",
     .settings = "health_interval_ms health_timeout_ms health_rise health_fall"
                 " " OUTCOME_SETTINGS,
     .window = &win_after_to_end},
    {"rate_limit", p_rate, 1, ck_rate_limit,
     "admitted per window, 429 headers, no upstream hit, recovery", IDS, NULL,
     "{\"limit\": 5, \"window_ms\": 1000}", 0, .why = "rate limit not enforced"},
    {"health_interval", p_health, 3, ck_health_interval, "/health probes at the interval", 0, NULL,
     "{\"env\": \"blue\", \"interval_ms\": 100}", 0, .why = "health probes off schedule",
     .settings = "health_interval_ms health_timeout_ms"},
    {"latency", p_latency, 10, ck_latency, "client latency percentiles", 0, NULL,
     "{\"p99_ms\": 100}", 0, .one_of = &one_of_latency, .why = "too slow"},
    {"relay_overhead", p_overhead, 10, ck_overhead, "client latency minus upstream time", IDS, NULL,
     "{\"p99_ms\": 5}", 0, .one_of = &one_of_latency, .why = "relay adds too much latency"},
    {"zero_downtime", p_zero, 5, ck_zero_downtime, "no failed request around a mark", 0, NULL,
     "{\"around\": \"fault_on\"}", 0, .why = "failed requests at the cutover",
     .settings = "try_timeout_ms ttfb_timeout_ms"
                 " " OUTCOME_SETTINGS,
     .window = &win_around},
    {"served_ratio", p_served, 20, ck_served_ratio, "share served by a colour (canary)", SERVED,
     NULL, "{\"env\": \"green\", \"min\": 0.5}", 0, .why = "traffic split off target",
     .settings = POLICY_SETTINGS " failback_rise"
                                 " " OUTCOME_SETTINGS},
    {"relay_alive", p_alive, 1, ck_relay_alive, "the relay process is alive at the end", PROCESS,
     NULL, "{}", 0, .why = "the relay died", .added = HARNESS_ADDED_LIVE_RELAY, .about_process = 1},
    {HARNESS_ON_TIME_CHECK, p_shutdown, 1, ck_harness_on_time,
     "the runner kept its own schedule (else inconclusive)", 0, NULL, "{}", 1,
     .added = HARNESS_ADDED_ALWAYS, .about_process = 1,
     .why = "the runner fell behind (not the relay)"},
    {"admin_ok", p_none, 1, ck_admin_ok, "the timeline's admin API calls succeeded", ADMIN, NULL,
     "{}", 0, .why = "admin API call failed", .added = HARNESS_ADDED_ADMIN},
    {"clean_shutdown", p_shutdown, 1, ck_clean_shutdown,
     "SIGTERM: the relay drains and exits 0 in time", PROCESS, NULL, "{}", 0,
     .why = "unclean shutdown on SIGTERM", .added = HARNESS_ADDED_LIVE_RELAY, .about_process = 1},
    {"no_secret_leak", p_none, 1, ck_no_secret_leak, "the upstream key leaks nowhere", 0, NULL,
     "{}", 0, .why = "leaks the upstream key", .added = HARNESS_ADDED_OWN_RELAY,
     .about_process = 1},
    {"forwarded", p_forwarded, 1, ck_forwarded,
     "each upstream attempt carries the client's model, body, request id and the configured "
     "key",
     IDS, NULL, "{\"parts\": [\"model\", \"body\"]}", 0,
     .why = "forwards the wrong request upstream"},
    {"error_shape", p_error_shape, 1, ck_error_shape,
     "error answers: OpenAI JSON, application/json, 4xx passed through, 5xx after failures", IDS,
     NULL, "{\"status\": 429}", 0, .why = "its own errors are not OpenAI-shaped"},
    {"final_error_headers", p_phase, 1, ck_final_error_headers,
     "errors after upstream attempts say x-should-retry: false", IDS, NULL, "{}", 0,
     .why = "final errors invite a retry"},
    {"health_probes", p_health_probes, 1, ck_health_probes,
     "probes to a colour after a mark until traffic moved (fall/rise exactly)", 0, NULL,
     "{\"env\": \"blue\", \"to\": \"green\", \"after\": \"fault_on\", \"exact\": 3}", 0,
     .one_of = &one_of_count, .window = &win_after_to_end,
     /* Also an upstream_count of probes ("health": true, runner.c). */
     .settings = "health_interval_ms health_timeout_ms health_rise health_fall",
     .why = "health fall/rise not kept"},
    {"connection_reuse", p_reuse, 1, ck_connection_reuse,
     "upstream attempts on connections used before (mock journal)", 0, NULL, "{\"min\": 0.5}", 0,
     .why = "no upstream connection reuse"},
    /* The fleet (docs/fleet.md), harness/fleet_checks.c: inconclusive with
     * fewer than 2 replicas. */
    {"fleet_rate_limit", p_fleet_rl, 1, harness_ck_fleet_rate_limit,
     "admissions across all replicas per window within the limit, none lost by the limiter", 0,
     NULL, "{\"limit\": 10, \"window_ms\": 1000}", 0, .rule = rule_fleet_window,
     .why = "the fleet admits more than the limit"},
    {"colour_agreement", p_agree, 1, harness_ck_colour_agreement,
     "after a mark every replica serves the new colour within N ms; longest split brain", 0, NULL,
     "{\"to\": \"green\", \"after\": \"start\", \"within_ms\": 500}", 0,
     .settings = "switch_after_failures shared_timeout_ms shared_poll_ms", .window = &win_after,
     .rule = rule_agree_view, .why = "replicas disagree on the colour"},
    {"probe_load", p_probe_load, 1, harness_ck_probe_load,
     "health probes per colour per interval, the whole fleet (mock journals)", 0, NULL,
     "{\"max_per_interval\": 6, \"interval_ms\": 200}", 0, .rule = rule_probe_interval,
     .why = "the fleet probes too much"},
    {"client_status", p_client_status, 1, ck_client_status,
     "status and OpenAI error type/code the client saw, per phase or template", 0, NULL,
     "{\"status\": 400, \"code\": \"context_length_exceeded\"}", 0, .one_of = &one_of_client_status,
     .why = "wrong status or error code to clients", .settings = OUTCOME_SETTINGS},
    {"answer_integrity", p_answer, 1, ck_answer_integrity,
     "the client's text and finish_reason equal the serving mock's (no token lost, duplicated, "
     "reordered)",
     IDS, NULL, "{\"client\": \"lenient\"}", 0, .why = "answers lose, repeat or reorder tokens"},
    {"usage_reported", p_answer, 1, ck_usage_reported,
     "the answer's usage equals what the serving mock counted", IDS, NULL, "{}", 0,
     .why = "usage missing or wrong"},
    {"model_reported", p_model_reported, 1, ck_model_reported,
     "the answer names the requested (or served) model", 0, against_needs,
     "{\"against\": \"served\"}", 0, .why = "the answer names the wrong model"},
    {"health_reports", p_health_reports, 1, ck_health_reports,
     "the relay's /health names the active colour and colours' health as observed", 0, NULL, "{}",
     0, .why = "/health does not tell the truth"},
    {"metrics_truth", p_metrics_truth, 1, ck_metrics_truth,
     "the relay's counters (JSON, Prometheus) equal the client's and mocks' counts", 0, NULL, "{}",
     0, .why = "metrics do not tell the truth"},
    {"prometheus_valid", p_prometheus_valid, 1, ck_prometheus_valid,
     "the relay's Prometheus page is accepted by promtool", 0, NULL, "{}", 0,
     .why = "Prometheus page does not parse"},
    {"tried_ratio", p_tried, 5, ck_tried_ratio,
     "share of requests that made an attempt to a colour (a relay keeps its switch)", IDS, NULL,
     "{\"env\": \"blue\", \"max\": 0.2}", 0,
     /* Who is tried after a failover is the switch policy's. */
     .settings = "switch_after_failures " POLICY_SETTINGS " failback_rise"
                 " " OUTCOME_SETTINGS,
     .why = "does not keep its switch"},
    {"stream_incremental", p_incremental, 3, ck_stream_incremental,
     "streams passed on as they come: first byte before the upstream finished", IDS, NULL,
     "{\"lead_ms\": 50}", 0, .why = "buffers streams"},
    {"sequential_attempts", p_phase, 1, ck_sequential_attempts,
     "one attempt at a time per request (no hedge to both colours)", IDS, NULL, "{}", 0,
     .why = "sends one request upstream twice at once"},
    {"answer_content_type", p_phase, 1, ck_answer_content_type,
     "200 answers carry application/json, streams text/event-stream", 0, NULL, "{}", 0,
     .why = "wrong Content-Type on answers"},
    {"events_consistent", p_none, 1, ck_events_consistent,
     "the event log agrees with itself: attempt outcomes, numbering, health switches", EVENTS, NULL,
     "{}", 0, .why = "its event log contradicts itself"},
    {"upstream_concurrency", p_concurrency, 1, ck_upstream_concurrency,
     "most traffic attempts a mock answered at once (max_connections, max_clients)", 0, NULL,
     "{\"env\": \"blue\", \"max\": 2}", 0, .one_of = &one_of_count,
     .why = "lets more requests through at once than its cap",
     .settings = "max_connections max_clients"},
    {"relay_stderr_lines", p_stderr_lines, 1, ck_relay_stderr_lines,
     "lines the relay wrote on stderr, at most max (log_level warn/error on a healthy run)",
     PROCESS | HARNESS_SIG_LOG, NULL, "{\"max\": 0}", 0, .why = "log_level not honoured",
     .settings = "log_level"},
    {"seeded_picks_agree", p_picks_agree, 8, ck_seeded_picks_agree,
     "replicas with the same seed pick the same colours for the same requests (canary)", SERVED,
     NULL, "{}", 0, .why = "seeded picks not reproducible"},
    {"stream_ends_once", p_phase, 1, ck_stream_ends_once,
     "streamed 200s end at one data: [DONE], no event after it (client's read)", 0, NULL, "{}", 0,
     .why = "streams go on after [DONE]"},
    {"cancel_on_client_gone", p_client_gone, 1, ck_cancel_on_client_gone,
     "a request the client gave up on stops its upstream work within within_ms (journals)", IDS,
     NULL, "{}", 0, .why = "abandoned requests keep upstreams busy"},
    {"no_retry_after_bytes", p_phase, 1, ck_no_retry_after_bytes,
     "no upstream attempt of a request starts after its client got a body byte (journals)", IDS,
     NULL, "{}", 0, .why = "retries after bytes reached the client"},
    {"answer_encoding", p_phase, 1, ck_answer_encoding,
     "200 answers are in the coding their Content-Encoding names", 0, NULL, "{}", 0,
     .why = "Content-Encoding the body is not in"},
    {"retry_after_kept", p_error_shape, 1, ck_retry_after_kept,
     "final 429s (status) to the client carry the Retry-After the upstreams gave", 0, NULL,
     "{\"status\": 429}", 0, .why = "upstream Retry-After not passed on"},
    {"hop_headers", p_phase, 1, ck_hop_headers,
     "client answers carry no header the upstream's Connection named (mock hop_headers)", IDS, NULL,
     "{}", 0, .why = "copies hop-by-hop headers to clients"},
    {"retry_after_holds", p_phase, 1, ck_retry_after_holds,
     "a client that waits the Retry-After of the relay's own 429 is let in", IDS, NULL, "{}", 0,
     .why = "its 429s say to come back too soon"},
};
#pragma GCC diagnostic pop
#define N_KINDS (sizeof kinds / sizeof kinds[0])

const char *const *harness_check_names(void)
{
    static const char *names[N_KINDS + 1];
    for (size_t i = 0; i < N_KINDS; i++)
        names[i] = kinds[i].name;
    names[N_KINDS] = NULL;
    return names;
}

const char *harness_status_name(int status)
{
    return status == HARNESS_PASS ? "pass" : status == HARNESS_FAIL ? "fail" : "inconclusive";
}

static const struct check_kind *find_kind(const char *name)
{
    for (size_t i = 0; i < N_KINDS; i++)
        if (strcmp(kinds[i].name, name) == 0)
            return &kinds[i];
    return NULL;
}

/* Each item of array v (at path) is one of names. */
static int enum_items(const json_t *v, const char *path, const char *const *names, char *err,
                      size_t errlen)
{
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x)
    {
        char p2[300];
        snprintf(p2, sizeof p2, "%s[%zu]", path, i);
        if (harness_v_enum(x, p2, names, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static int validate_param(const struct param *p, const json_t *v, const char *path,
                          const char *const *marks, char *err, size_t errlen)
{
    static const char *const envs[] = {"blue", "green", "direct", NULL};
    static const char *const jit[] = {"none", "full", "equal", "decorrelated", NULL};
    static const char *const views[] = {"events", "served", "both", NULL};
    static const char *const froms[] = {"scheduled", "sent", NULL};
    static const char *const reqs[] = {"all", "ok", "failed", NULL};
    static const char *const clients[] = {"strict", "lenient", NULL};
    static const char *const againsts[] = {"requested", "served", NULL};
    double d;
    switch (p->type) {
    case P_NUM:
        if (co_json_number(v, &d) != 0 || d < 0)
            return harness_v_expected(err, errlen, path, "a number >= 0", v);
        return 0;
    case P_RATIO:
        if (co_json_number(v, &d) != 0 || d < 0 || d > 1)
            return harness_v_expected(err, errlen, path, "a ratio in [0, 1]", v);
        /* A bound every share meets is a check that can never fail. */
        if (strcmp(p->name, "min") == 0 && d == 0)
            return harness_v_expected(err, errlen, path,
                                      "a ratio in (0, 1] (a \"min\" of 0 can never fail)", v);
        if (strcmp(p->name, "max") == 0 && d == 1)
            return harness_v_expected(err, errlen, path,
                                      "a ratio in [0, 1) (a \"max\" of 1 can never fail)", v);
        return 0;
    case P_INT:
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return harness_v_expected(err, errlen, path, "an integer >= 0", v);
        return 0;
    case P_PHASE:
        if ((json_is_integer(v) && json_integer_value(v) >= 0) ||
            (json_is_string(v) && json_string_length(v) > 0))
            return 0;
        return harness_v_expected(err, errlen, path, "a phase index (0, 1, ...) or a phase name",
                                  v);
    case P_FORMAT: {
        static const char *const formats[] = {"json", "prometheus", "both", NULL};
        return harness_v_enum(v, path, formats, err, errlen);
    }
    case P_RLKIND:
        return harness_v_enum(v, path, harness_rl_kinds, err, errlen);
    case P_COUNTERS: {
        if (!json_is_array(v) || !json_array_size(v))
            return harness_v_expected(err, errlen, path, "a non-empty array of counter names", v);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            char p2[300];
            snprintf(p2, sizeof p2, "%s[%zu]", path, i);
            /* "active" is no counter: the active colour, judged beside them. */
            if (json_is_string(x) && strcmp(json_string_value(x), "active") == 0)
                continue;
            if (harness_v_enum(x, p2, harness_counter_names(), err, errlen) != 0)
                return -1;
        }
        return 0;
    }
    case P_HITEMS: {
        if (!json_is_array(v) || !json_array_size(v))
            return harness_v_expected(err, errlen, path,
                                      "a non-empty array of \"active\", \"health\", \"status\"", v);
        return enum_items(v, path, health_items, err, errlen);
    }
    case P_WINDOW: {
        double lo, hi;
        if (!json_is_array(v) || json_array_size(v) != 2 ||
            co_json_number(json_array_get(v, 0), &lo) != 0 ||
            co_json_number(json_array_get(v, 1), &hi) != 0 || lo < 0 || hi <= lo)
            return harness_v_expected(
                err, errlen, path, "[from, to] in ms since the traffic start, 0 <= from < to", v);
        return 0;
    }
    case P_BOOL:
        return json_is_boolean(v) ? 0 : harness_v_expected(err, errlen, path, "true or false", v);
    case P_STR:
        return json_is_string(v) ? 0 : harness_v_expected(err, errlen, path, "a string", v);
    case P_ENV:
        return harness_v_enum(v, path, envs, err, errlen);
    case P_JITTER:
        return harness_v_enum(v, path, jit, err, errlen);
    case P_VIEW:
        return harness_v_enum(v, path, views, err, errlen);
    case P_FROM:
        return harness_v_enum(v, path, froms, err, errlen);
    case P_REQS:
        return harness_v_enum(v, path, reqs, err, errlen);
    case P_OUTCOME:
        return harness_v_enum(v, path, harness_outcome_names, err, errlen);
    case P_CLIENT:
        return harness_v_enum(v, path, clients, err, errlen);
    case P_AGAINST:
        return harness_v_enum(v, path, againsts, err, errlen);
    case P_MARK:
        if (!marks) /* the timeline was invalid: its own errors say so */
            return json_is_string(v) ? 0 : harness_v_expected(err, errlen, path, "a mark name", v);
        if (harness_v_enum(v, path, marks, err, errlen) != 0) {
            /* Say what a mark is: the message lists the known ones already. */
            size_t len = strlen(err);
            snprintf(err + len, errlen - len, " [a timeline step's \"mark\" or \"start\"]");
            return -1;
        }
        return 0;
    case P_NUMARR: {
        if (!json_is_array(v) || !json_array_size(v))
            return harness_v_expected(err, errlen, path, "a non-empty array of numbers", v);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            char p2[300];
            snprintf(p2, sizeof p2, "%s[%zu]", path, i);
            if (co_json_number(x, &d) != 0 || d < 0)
                return harness_v_expected(err, errlen, p2, "a number >= 0", x);
        }
        return 0;
    }
    case P_PARTS: {
        if (!json_is_array(v) || !json_array_size(v))
            return harness_v_expected(err, errlen, path,
                                      "a non-empty array of \"model\", \"body\", \"id\", "
                                      "\"key\", \"env\", \"attempt\"",
                                      v);
        return enum_items(v, path, fw_names, err, errlen);
    }
    case P_SEQ: {
        if (!json_is_array(v))
            return harness_v_expected(err, errlen, path, "an array like [\"blue->green\"]", v);
        static const char *const sw[] = {"blue->green", "green->blue", NULL};
        return enum_items(v, path, sw, err, errlen);
    }
    }
    return 0;
}

/* Whether word is one of the space-separated words of list. */
static int has_word(const char *list, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = list; wl && (p = strstr(p, word)) != NULL; p += wl)
        if ((p == list || p[-1] == ' ') && (p[wl] == ' ' || p[wl] == '\0'))
            return 1;
    return 0;
}

/* Whether check c has at least one of the space-separated keys. */
static int has_one_of(const json_t *c, const char *keys)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)c, key, v)
    {
        if (has_word(keys, key))
            return 1;
    }
    return 0;
}

int harness_check_validate(const json_t *c, const char *path, const char *const *marks, char *err,
                           size_t errlen)
{
    char p[256];
    if (!json_is_object(c))
        return harness_v_expected(err, errlen, path, "a check object with \"check\"", c);
    json_t *name = json_object_get(c, "check");
    snprintf(p, sizeof p, "%s.check", path);
    if (harness_v_enum(name, p, harness_check_names(), err, errlen) != 0)
        return -1;
    const struct check_kind *k = find_kind(json_string_value(name));
    const char *allowed[24];
    size_t n = 0;
    allowed[n++] = "check";
    allowed[n++] = "min_samples";
    allowed[n++] = "note";
    allowed[n++] = "severity";
    allowed[n++] = "relay";
    /* Any check but a fleet-wide one can be asked of one replica. */
    if (!harness_fleet_is_check(k->name))
        allowed[n++] = "replica";
    for (const struct param *q = k->params; q->name && n < 23; q++)
        allowed[n++] = q->name;
    allowed[n] = NULL;
    if (harness_v_keys(c, path, allowed, err, errlen) != 0)
        return -1;
    json_t *rep = json_object_get(c, "replica");
    if (rep && (!json_is_integer(rep) || json_integer_value(rep) < 0 ||
                json_integer_value(rep) >= HARNESS_MAX_REPLICAS)) {
        snprintf(p, sizeof p, "%s.replica", path);
        return harness_v_expected(err, errlen, p, "a replica index 0..7", rep);
    }
    json_t *ms = json_object_get(c, "min_samples");
    if (ms && (!json_is_integer(ms) || json_integer_value(ms) < 0)) {
        snprintf(p, sizeof p, "%s.min_samples", path);
        return harness_v_expected(err, errlen, p, "an integer >= 0", ms);
    }
    json_t *only = json_object_get(c, "relay");
    if (only && (!json_is_string(only) || !json_string_value(only)[0] ||
                 strlen(json_string_value(only)) >= 64)) {
        snprintf(p, sizeof p, "%s.relay", path);
        return harness_v_expected(err, errlen, p,
                                  "the name of the relay (its profile's) whose own promise this is",
                                  only);
    }
    static const char *const severities[] = {"required", "advisory", "info", NULL};
    json_t *sev = json_object_get(c, "severity");
    snprintf(p, sizeof p, "%s.severity", path);
    if (sev && harness_v_enum(sev, p, severities, err, errlen) != 0)
        return -1;
    /* Every parameter's error, one line each (the scenario validator
     * reports each line), rather than the first. */
    size_t used = 0;
    for (const struct param *q = k->params; q->name; q++) {
        json_t *v = json_object_get(c, q->name);
        char one[640];
        snprintf(p, sizeof p, "%s.%s", path, q->name);
        if (!v && q->required) {
            char exp[96];
            snprintf(exp, sizeof exp, "\"%s\" (required by %s)", q->name, k->name);
            harness_v_expected(one, sizeof one, p, exp, NULL);
        } else if (!v || validate_param(q, v, p, marks, one, sizeof one) == 0) {
            continue;
        }
        if (used < errlen) {
            int w = snprintf(err + used, errlen - used, "%s%s", used ? "\n" : "", one);
            used += w > 0 ? (size_t)w : 0;
        }
    }
    if (used)
        return -1;
    /* Bounds in order: a check whose lower bound is above its upper one can
     * only fail, and says nothing about the relay.  One table for every
     * kind: a pair applies where a check has both keys. */
    static const struct {
        const char *lo, *hi;
    } order[] = {
        {"min", "max"},       {"p50_ms", "p95_ms"},    {"p95_ms", "p99_ms"},
        {"p50_ms", "p99_ms"}, {"p99_ms", "max_ms"},    {"p95_ms", "max_ms"},
        {"p50_ms", "max_ms"}, {"min_ms", "within_ms"}, {"base_ms", "cap_ms"},
    };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        double lo, hi;
        if (co_json_number(json_object_get(c, order[i].lo), &lo) != 0 ||
            co_json_number(json_object_get(c, order[i].hi), &hi) != 0 || lo <= hi)
            continue;
        char exp[96];
        snprintf(p, sizeof p, "%s.%s", path, order[i].hi);
        snprintf(exp, sizeof exp, "a number >= %s (%g)", order[i].lo, lo);
        return harness_v_expected(err, errlen, p, exp, json_object_get(c, order[i].hi));
    }
    /* Bounds a check needs at least one of, or it cannot fail. */
    if (k->one_of && !has_one_of(c, k->one_of->keys))
        return harness_v_expected(err, errlen, path, k->one_of->expected, c);
    return k->rule ? k->rule(c, path, err, errlen) : 0;
}

static void check_evaluable(const struct check_kind *k, const json_t *c,
                            const struct harness_obs *o, struct report_check *v);

unsigned harness_check_needs(const json_t *c)
{
    const struct check_kind *k = find_kind(str(c, "check", ""));
    return k ? k->needs | (k->needs_of ? k->needs_of(c) : 0) : 0;
}

size_t harness_check_count(void)
{
    return N_KINDS;
}

const char *harness_check_example(size_t i, int *runner_own)
{
    if (i >= N_KINDS)
        return NULL;
    if (runner_own)
        *runner_own = kinds[i].runner_own;
    return kinds[i].example;
}

int harness_check_info(size_t i, struct harness_check_info *out)
{
    if (i >= N_KINDS)
        return -1;
    const struct check_kind *k = &kinds[i];
    *out = (struct harness_check_info){.name = k->name,
                                       .desc = k->desc,
                                       .example = k->example,
                                       .why = k->why,
                                       .rank = k->rank,
                                       .settings = k->settings ? k->settings : "",
                                       .added = k->added,
                                       .about_process = k->about_process,
                                       .served_fallback = k->served_fallback};
    return 0;
}

int harness_check_find(const char *name, struct harness_check_info *out)
{
    const struct check_kind *k = find_kind(name);
    return k ? harness_check_info((size_t)(k - kinds), out) : -1;
}

int harness_check_depends(const char *kind, const char *setting)
{
    const struct check_kind *k = find_kind(kind);
    return k && k->settings && has_word(k->settings, setting);
}

/* Relay settings that shape no request's outcome, its timing or its colour:
 * where the relay listens and finds its upstreams, its key, what it logs
 * and the prices of its cost metrics (docs/relay.md). */
static const char *const outcome_neutral[] = {
    "port",         "listen", "base_url",  "blue_url", "green_url", "api_key",
    "api_key_file", "events", "log_level", "prices",   NULL};

int harness_check_fail_depends(const char *kind, const char *setting)
{
    const struct check_kind *k = find_kind(kind);
    if (!k || !k->settings)
        return 0;
    if (has_word(k->settings, setting))
        return 1;
    if (!has_word(k->settings, "*"))
        return 0;
    for (const char *const *n = outcome_neutral; *n; n++)
        if (strcmp(*n, setting) == 0)
            return 0;
    for (const char *const *q = harness_relay_key_names(); *q; q++)
        if (strcmp(*q, setting) == 0)
            return 1;
    return 0; /* no setting of a relay (a misspelt key never matches) */
}

void harness_check_params(size_t i, char *out, size_t n)
{
    out[0] = '\0';
    if (i >= N_KINDS)
        return;
    for (const struct param *q = kinds[i].params; q->name; q++)
        append(out, n, "%s%s%s", out[0] ? " " : "", q->name, q->required ? "*" : "");
}

/* Where on the time axis the check is about, from its row's window. */
static void set_window(const struct check_kind *k, const json_t *c, struct report_check *v)
{
    const struct check_window *w = k->window;
    const char *mark = w ? str(c, w->mark, NULL) : NULL;
    if (!mark)
        return;
    snprintf(v->window_mark, sizeof v->window_mark, "%s", mark);
    double def = w->default_ms >= 0 ? w->default_ms : 0;
    v->window_before_ms = w->before ? num(c, w->before, def) : 0;
    v->window_after_ms =
        w->after && (has(c, w->after) || w->default_ms >= 0) ? num(c, w->after, def) : -1;
}

/* The signal each kind's verdict rests on, in words, put at the head of its
 * detail (harness_check_run) unless the check names its own ("signal: ..."
 * in the answer checks): a verdict against a relay that is not ours must say
 * what it saw.  served: the words when the check reads the served view.
 * test_harness_checks asserts every kind has a row. */
static const struct {
    const char *kind, *words, *served;
} signal_rows[] = {
    {"client_success_ratio",
     "client statuses and answers; a 200 counts once an upstream attempt of it is in the mock "
     "journals (by request id)",
     NULL},
    {"client_count", "client statuses and outcomes (client log)",
     "client statuses and the colour each answer names (X-Served-By or the mock's stamp in the "
     "body)"},
    {"client_deadline", "client send and answer times (client log)", NULL},
    {"no_truncated_success", "client answers with 200 whose body or stream never finished", NULL},
    {"attempts", "upstream attempts in the mock journals, tied to requests by id", NULL},
    {"upstream_count", "attempts each mock journalled, by colour", NULL},
    {"backoff_gaps",
     "gaps between a request's upstream attempts (mock journals, by request id); the relay's "
     "intended sleep where its event log gives it",
     NULL},
    {"retry_after",
     "a colour's 429/503 against that colour's next attempt of the request (mock journals, by "
     "request id)",
     NULL},
    {"no_hammering", "upstream attempts by arrival time (mock journals)", NULL},
    {"switches", "the relay's switch events",
     "the colour each answer names (X-Served-By or the mock's stamp in the body), from the "
     "colour of the first upstream attempt (mock journals)"},
    {"switch_delay", "the relay's switch events and the timeline mark",
     "the colour each answer names (X-Served-By or the mock's stamp in the body) and the "
     "timeline mark"},
    {"min_dwell", "the relay's switch events",
     "the colour each answer names (X-Served-By or the mock's stamp in the body), each switch "
     "bounded by the send of the old colour's last request and the new colour's first answer"},
    {"no_traffic_after_unhealthy",
     "the relay's health and switch events against the attempts the mocks journalled", NULL},
    {"rate_limit",
     "client statuses and rate-limit headers, and which requests reached an upstream (mock "
     "journals)",
     NULL},
    {"health_interval", "/health probes each mock journalled", NULL},
    {"latency", "client answer times (client log)", NULL},
    {"relay_overhead",
     "client answer times minus the upstream attempts' times (mock journals, by request id)", NULL},
    {"zero_downtime", "client outcomes around the timeline mark (client log)", NULL},
    {"served_ratio", "the colour each answer names (X-Served-By or the mock's stamp in the body)",
     NULL},
    {"relay_alive", "the relay process the runner started", NULL},
    {HARNESS_ON_TIME_CHECK, "the runner's own send times against its schedule", NULL},
    {"admin_ok",
     "the statuses of the timeline's admin API calls, and after an accepted switch the first "
     "attempt of the requests sent next (mock journals, by request id)",
     NULL},
    {"clean_shutdown", "the relay process's exit status and time after the stop signal", NULL},
    {"no_secret_leak",
     "the key searched for in the client answers, the relay's output, events and config", NULL},
    {"forwarded", "what each upstream attempt carried (mock journals) against the client request",
     NULL},
    {"error_shape",
     "client error answers (body, Content-Type, status) against the upstream attempts (mock "
     "journals)",
     NULL},
    {"final_error_headers", "client error answers' headers after upstream attempts (mock journals)",
     NULL},
    {"health_probes",
     "/health probes and the first traffic attempt at the new colour (mock "
     "journals)",
     NULL},
    {"connection_reuse", "the connection serial of each attempt (mock journals)", NULL},
    {"fleet_rate_limit", "client statuses of every replica per window (client log)", NULL},
    {"colour_agreement", "the colour each replica's answers name, or its switch events", NULL},
    {"probe_load", "/health probes each mock journalled, the whole fleet", NULL},
    {"client_status", "client log (status line, the body's or the in-band error.type and code)",
     NULL},
    {"answer_integrity", "client answer text against the serving mock's journal", NULL},
    {"usage_reported", "the answer's usage against the serving mock's journal", NULL},
    {"model_reported", "the answer's model against the request or the serving mock", NULL},
    {"health_reports", "the relay's /health probe against what the mocks showed", NULL},
    {"metrics_truth", "the relay's counters against the client log and the mock journals", NULL},
    {"prometheus_valid", "promtool's verdict on the relay's Prometheus page", NULL},
    {"tried_ratio", "which colours each request's attempts reached (mock journals, by request id)",
     NULL},
    {"stream_incremental",
     "the client's first body byte against the serving attempt's end (mock journals)", NULL},
    {"sequential_attempts", "attempt times of each request (mock journals, by request id)", NULL},
    {"answer_content_type", "the Content-Type of client answers with 200", NULL},
    {"events_consistent", "the relay's event log against itself", NULL},
    {"upstream_concurrency", "traffic attempts' arrival and end at each mock (mock journals)",
     NULL},
    {"relay_stderr_lines", "the relay's stderr (relay.err of each replica)", NULL},
    {"seeded_picks_agree",
     "the colour each answer names (X-Served-By or the mock's stamp), per replica in send order",
     NULL},
    {"stream_ends_once", "the client's read of each streamed 200: events after data: [DONE]", NULL},
    {"cancel_on_client_gone",
     "requests the client gave up on (client log, curl timeout) against their attempts' ends "
     "(mock journals, by request id)",
     NULL},
    {"no_retry_after_bytes",
     "the client's first body byte (client log) against the arrival of each upstream attempt of "
     "the request (mock journals, by request id)",
     NULL},
    {"answer_encoding",
     "the Content-Encoding and first body bytes of client answers with 200 (asked for no coding)",
     NULL},
    {"retry_after_kept", "the Retry-After and retry-after-ms headers of client answers", NULL},
    {"hop_headers",
     "the client answers' headers (X-Mock-Hop) against attempts the mock answered with hop "
     "headers (mock journals, by request id)",
     NULL},
    {"retry_after_holds",
     "client log: the relay's own 429s (no upstream attempt, mock journals by request id), their "
     "Retry-After or retry-after-ms, and the same client key's next request after that wait",
     NULL},
};

const char *harness_check_signal(const char *kind, const char *view)
{
    for (size_t i = 0; i < sizeof signal_rows / sizeof signal_rows[0]; i++)
        if (strcmp(signal_rows[i].kind, kind) == 0)
            return view && strcmp(view, "served") == 0 && signal_rows[i].served
                       ? signal_rows[i].served
                       : signal_rows[i].words;
    return NULL;
}

/* Puts "signal: WORDS" at the head of a verdict's detail. */
static void name_signal(const struct check_kind *k, const json_t *c, struct report_check *v)
{
    const char *w = harness_check_signal(k->name, str(c, "view", NULL));
    if (!w || strstr(v->detail, "signal:"))
        return;
    char d[sizeof v->detail];
    harness_v_fmt(d, sizeof d, "signal: %s%s%s", w, v->detail[0] ? "; " : "", v->detail);
    snprintf(v->detail, sizeof v->detail, "%s", d);
}

static void run_on_replica(const struct check_kind *k, const json_t *c, const struct harness_obs *o,
                           int replica, struct report_check *v);
static void probes_unattributed(const struct check_kind *k, const json_t *c,
                                const struct harness_obs *o, struct report_check *v,
                                int replica_view);

void harness_check_run(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    memset(v, 0, sizeof *v);
    const char *name = str(c, "check", "");
    const struct check_kind *k = find_kind(name);
    snprintf(v->check, sizeof v->check, "%s", name);
    if (!k) {
        v->status = HARNESS_INCONCLUSIVE;
        SETF(measured, "unknown check");
        return;
    }
    v->min_samples = has(c, "min_samples") ? (long)num(c, "min_samples", 0) : k->min_samples;
    if (v->min_samples < 1)
        v->min_samples = 1; /* zero evaluable samples is never a verdict */
    /* The label: the name plus its scalar parameters, for tables. */
    snprintf(v->label, sizeof v->label, "%s", name);
    const char *key;
    json_t *val;
    int first = 1;
    json_object_foreach((json_t *)c, key, val)
    {
        if (strcmp(key, "check") == 0 || strcmp(key, "note") == 0 ||
            strcmp(key, "min_samples") == 0 || strcmp(key, "severity") == 0)
            continue;
        char d[64];
        if (json_is_string(val))
            snprintf(d, sizeof d, "%s", json_string_value(val));
        else if (json_is_number(val))
            snprintf(d, sizeof d, "%g", json_number_value(val));
        else if (json_is_boolean(val))
            snprintf(d, sizeof d, "%s", json_is_true(val) ? "true" : "false");
        else
            continue;
        append(v->label, sizeof v->label, "%s%s=%s", first ? " " : ",", key, d);
        first = 0;
    }
    /* Its severity whichever view judges it (one replica's too). */
    int sev = report_severity_parse(str(c, "severity", "required"));
    v->severity = sev < 0 ? REPORT_REQUIRED : sev;
    json_t *rep = json_object_get(c, "replica");
    if (rep) {
        run_on_replica(k, c, o, (int)json_integer_value(rep), v);
        return;
    }
    k->run(c, o, v);
    name_signal(k, c, v);
    set_window(k, c, v);
    check_evaluable(k, c, o, v);
    probes_unattributed(k, c, o, v, 0);
}

/* Health probes carry no request id: the mocks cannot tell which replica
 * sent one.  In a fleet the replicas' probes interleave (3 replicas probing
 * every 200 ms looked like one probing every 8 ms), so a check that reads
 * one relay's probe schedule is inconclusive there, and one asked of a
 * replica cannot count that replica's probes (probe_load judges the
 * fleet's). */
static void probes_unattributed(const struct check_kind *k, const json_t *c,
                                const struct harness_obs *o, struct report_check *v,
                                int replica_view)
{
    int schedule = k->run == ck_health_interval || k->run == ck_health_probes;
    int counted =
        replica_view && k->run == ck_upstream_count && json_is_true(json_object_get(c, "health"));
    /* One replica finding a colour unhealthy says nothing of the others'
     * traffic: fleet-wide, their events and attempts mix. */
    int own = !replica_view && k->run == ck_no_traffic_after_unhealthy;
    if (o->n_replicas < 2 || !(schedule || counted || own))
        return;
    v->status = HARNESS_INCONCLUSIVE;
    char d[sizeof v->detail];
    if (own)
        harness_v_fmt(d, sizeof d,
                      "each of the %d replicas finds a colour unhealthy on its own: ask it of one "
                      "replica (\"replica\": i)%s%s",
                      o->n_replicas, v->detail[0] ? "; " : "", v->detail);
    else
        harness_v_fmt(d, sizeof d,
                      "health probes cannot be told apart by replica (%d replicas probe the same "
                      "mocks): %s%s%s",
                      o->n_replicas,
                      schedule ? "one relay's probe schedule is not seen (probe_load judges the "
                                 "fleet's)"
                               : "one replica's probes are not counted",
                      v->detail[0] ? "; " : "", v->detail);
    snprintf(v->detail, sizeof v->detail, "%s", d);
}

/* The checks that count traffic attempts without needing ids for the
 * whole fleet.  A replica's traffic attempts are its requests' attempts,
 * found by id: without ids its view holds none, and such a check would
 * judge an empty set (upstream_count "min": 1 failed, "max" passed, on a
 * relay that sent every request upstream). */
static int counts_replica_attempts(const struct check_kind *k, const json_t *c)
{
    return (k->run == ck_upstream_count && !json_is_true(json_object_get(c, "health"))) ||
           k->run == ck_no_hammering || k->run == ck_connection_reuse ||
           k->run == ck_no_traffic_after_unhealthy;
}

/* A check asked of one replica ("replica": i) runs on that replica's
 * requests, events and upstream attempts (harness_fleet_obs_replica). */
static void run_on_replica(const struct check_kind *k, const json_t *c, const struct harness_obs *o,
                           int replica, struct report_check *v)
{
    if (replica >= o->n_replicas) {
        v->status = HARNESS_INCONCLUSIVE;
        SETF(detail, "no replica %d in this run (%d replica(s))", replica, o->n_replicas);
        return;
    }
    struct harness_obs view;
    harness_fleet_obs_replica(o, replica, &view);
    k->run(c, &view, v);
    name_signal(k, c, v);
    set_window(k, c, v);
    check_evaluable(k, c, &view, v);
    harness_obs_free(&view);
    probes_unattributed(k, c, o, v, 1);
    if (!(o->signals & HARNESS_SIG_IDS) && counts_replica_attempts(k, c)) {
        v->status = HARNESS_INCONCLUSIVE;
        SETF(detail, "%s: no upstream attempt can be tied to replica %d's requests",
             harness_signal_missing(HARNESS_SIG_IDS), replica);
    }
}

/* The common evaluator: a check says nothing when the relay did not give a
 * signal it needs (inconclusive, naming the signal), and a check with no
 * evaluable sample never passes nor fails: no data is never a verdict. */
static void check_evaluable(const struct check_kind *k, const json_t *c,
                            const struct harness_obs *o, struct report_check *v)
{
    unsigned missing = harness_check_needs(c) & ~o->signals;
    char d[sizeof v->detail];
    if (missing) {
        if (!(v->status == HARNESS_FAIL && v->fail_stands))
            v->status = HARNESS_INCONCLUSIVE;
        harness_v_fmt(d, sizeof d, "%s%s%s", harness_signal_missing(missing),
                      v->detail[0] ? "; " : "", v->detail);
        snprintf(v->detail, sizeof v->detail, "%s", d);
    } else if (!k->runner_own && v->samples < v->min_samples) {
        v->status = HARNESS_INCONCLUSIVE;
        harness_v_fmt(d, sizeof d, "too few evaluable samples (%ld, %ld needed)%s%s", v->samples,
                      v->min_samples, v->detail[0] ? "; " : "", v->detail);
        snprintf(v->detail, sizeof v->detail, "%s", d);
    }
}
