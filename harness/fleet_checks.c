/* The fleet checks (rows at the end of harness/checks.c's table): each
 * turns a run's observations into the arrays of one measurement of
 * harness/fleet.c and judges its figures.  Each says inconclusive, and why,
 * when the run had fewer than two replicas or lacked the signal it reads. */
#include "harness/fleet.h"

#include "co_json.h"
#include "co_mem.h"
#include "harness/checks.h"
#include "harness/obs.h"
#include "harness/rl_judge.h"
#include "harness/vutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void put(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void put(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}

static double rel_ms(const struct harness_obs *o, uint64_t t)
{
    return ((double)t - (double)o->t0) / 1000.0;
}

/* Fewer than two replicas: nothing about a fleet to see. */
static int too_small(const struct harness_obs *o, struct report_check *v)
{
    if (o->n_replicas >= 2)
        return 0;
    v->samples = 0;
    v->status = HARNESS_INCONCLUSIVE;
    put(v->detail, sizeof v->detail,
        "a fleet check needs 2 or more replicas; this run had %d (\"fleet\": {\"replicas\": N} "
        "or --replicas N)",
        o->n_replicas);
    return 1;
}

/* The limiter's decisions the client can tell: a 429 that reached no
 * upstream refused; a success, or any answer whose request reached an
 * upstream (an upstream's own 429 passed on included), admitted (decided
 * no later than its first upstream arrival).  Other answers (401, a 503
 * from a store that refuses with shared_fail closed, no answer) say nothing
 * about the limit, nor does a 429 when the mocks answered 429 themselves
 * and the relay gave no ids to tell whose it was (*ambiguous counts them). */
static int decision(const struct harness_obs *o, const struct harness_req *r, int upstream_429,
                    struct harness_fleet_req *q, size_t *ambiguous)
{
    if (!r->t_done || r->status == 0)
        return 0;
    *q = (struct harness_fleet_req){.lo = r->t_sent, .hi = r->t_done, .replica = r->replica};
    size_t m;
    const size_t *idx = harness_obs_attempts(o, r->id, &m);
    if (r->status == 429 && m == 0) {
        if (upstream_429 && !(o->signals & HARNESS_SIG_IDS)) {
            (*ambiguous)++;
            return 0;
        }
        return 1;
    }
    for (size_t k = 0; k < m; k++)
        if (o->atts[idx[k]].t_arrival >= q->lo && o->atts[idx[k]].t_arrival < q->hi)
            q->hi = o->atts[idx[k]].t_arrival;
    q->admitted = 1;
    return m > 0 || (r->status >= 200 && r->status < 400);
}

void harness_ck_fleet_rate_limit(const json_t *c, const struct harness_obs *o,
                                 struct report_check *v)
{
    double limit = num(c, "limit", 0), window = num(c, "window_ms", 0);
    const char *key = str(c, "key", NULL);
    put(v->expected, sizeof v->expected,
        "%s<= %g admitted per %g ms across the fleet, and no 429 the fleet's admissions do "
        "not justify",
        key ? "per key: " : "", limit, window);
    snprintf(v->unit, sizeof v->unit, "req");
    if (too_small(o, v))
        return;
    /* Did any upstream answer 429 itself (a fault, or its own limit)? */
    int upstream_429 = 0;
    for (size_t i = 0; i < o->n_atts; i++)
        upstream_429 |= !o->atts[i].health && o->atts[i].status == 429;
    struct harness_fleet_req *q = co_calloc(o->n_reqs + 1, sizeof *q);
    size_t n = 0, other = 0, ambiguous = 0;
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *r = &o->reqs[i];
        if (key && strcmp(r->key, key) != 0)
            continue;
        if (decision(o, r, upstream_429, &q[n], &ambiguous))
            n++;
        else
            other++;
    }
    struct harness_fleet_rl rl = {0};
    if (!n || harness_fleet_rate_limit(q, n, (uint64_t)(window * 1000), (size_t)limit, &rl) != 0) {
        free(q);
        v->samples = 0;
        v->status = HARNESS_INCONCLUSIVE;
        put(v->detail, sizeof v->detail, "no limiter decision seen (%zu answers without one)",
            other);
        if (ambiguous)
            put(v->detail + strlen(v->detail), sizeof v->detail - strlen(v->detail),
                "; %zu 429s not judged: the mocks answered 429 too and the relay gave no ids to "
                "tell the relay's from theirs",
                ambiguous);
        return;
    }
    /* How many admissions in one window are too many depends on how the
     * limiter counts: the one rule for every kind (harness/rl_judge.c), with
     * a fixed window's boundaries tried at every alignment. */
    uint64_t *lo = co_calloc(2 * n + 2, sizeof *lo), *hi = co_calloc(2 * n + 2, sizeof *hi);
    size_t na = 0, nr = n;
    for (size_t i = 0; i < n; i++) {
        size_t at = q[i].admitted ? na++ : nr++;
        lo[at] = q[i].lo;
        hi[at] = q[i].hi;
    }
    free(q);
    struct harness_rl_case rc = {.kind = o->rl_kind,
                                 .limit = limit,
                                 .window_us = window * 1000,
                                 .burst = o->rl_burst,
                                 .adm_lo = lo,
                                 .adm_hi = hi,
                                 .n_adm = na,
                                 .ref_lo = lo + n,
                                 .ref_hi = hi + n,
                                 .n_ref = nr - n};
    struct harness_rl_verdict j;
    harness_rl_judge(&rc, &j);
    free(lo);
    free(hi);
    /* rl (harness/fleet.c) counts the decisions; the judge (the same rule
     * as rate_limit's) weighs them against the kind, refusals included. */
    put(v->measured, sizeof v->measured,
        "%zu admitted in one window at most (window ending %+.1f ms); admitted %zu, 429 %zu, "
        "429s no window justifies %zu, answers without a decision %zu",
        j.best, j.best ? rel_ms(o, j.best_at) : 0.0, rl.admitted, rl.refused, j.lost, other);
    int over = j.status == HARNESS_FAIL;
    /* A limit never reached is no test of a limiter. */
    v->samples = rl.refused || over ? (long)n : 0;
    v->margin = j.lost ? fmin(j.margin, -(double)j.lost) : j.margin;
    v->status = !over && j.lost == 0 ? HARNESS_PASS : HARNESS_FAIL;
    if (j.status == HARNESS_INCONCLUSIVE && v->status == HARNESS_PASS) {
        v->status = HARNESS_INCONCLUSIVE;
        put(v->detail, sizeof v->detail, "the fleet admitted %zu in one span of the window: %s",
            j.best, j.why);
    } else if (j.early && v->status == HARNESS_PASS) {
        v->status = HARNESS_INCONCLUSIVE;
        put(v->detail, sizeof v->detail, "%s", j.early_why);
    } else if (over)
        put(v->detail, sizeof v->detail,
            "the fleet admitted %zu in one window where %g are allowed: %s; each replica limits "
            "on its own (no shared limiter), or the shared one admits too many",
            j.best, limit, j.why);
    else if (j.lost)
        put(v->detail, sizeof v->detail,
            "%zu request(s) refused with 429 although fewer than %g admissions can have shared "
            "their window (first sent at %+.1f ms): %s",
            j.lost, j.lost_need, rel_ms(o, j.first_lost), j.lost_because);
    else if (!v->samples)
        put(v->detail, sizeof v->detail, "the limit was never reached: nothing to judge");
    if (ambiguous) {
        size_t len = strlen(v->detail);
        put(v->detail + len, sizeof v->detail - len,
            "%s%zu 429s not judged: the mocks answered 429 too and the relay gave no ids to tell "
            "the relay's from theirs",
            len ? "; " : "", ambiguous);
    }
}

static char colour_of(const char *name)
{
    return strcmp(name, "blue") == 0 ? 'b' : strcmp(name, "green") == 0 ? 'g' : 0;
}

/* Index of each replica among those that count (not stopped or killed by
 * the scenario), -1 for the others; returns how many count. */
static int counted(const struct harness_obs *o, int *map)
{
    int n = 0;
    for (int i = 0; i < o->n_replicas && i < 8; i++)
        map[i] = o->replica_gone & (1u << i) ? -1 : n++;
    return n;
}

/* Each replica's colour over time, from its event log ("start", "switch"),
 * or from what it served (a request's send time: the colour held no later). */
static size_t colour_timeline(const struct harness_obs *o, int events, const int *map,
                              struct harness_fleet_colour **out)
{
    size_t cap = (events ? o->n_evs : o->n_reqs) + 1, n = 0;
    struct harness_fleet_colour *ev = co_calloc(cap, sizeof *ev);
    if (events) {
        for (size_t i = 0; i < o->n_evs; i++) {
            const struct harness_ev *e = &o->evs[i];
            if ((strcmp(e->type, "start") != 0 && strcmp(e->type, "switch") != 0) ||
                e->replica < 0 || e->replica >= 8 || map[e->replica] < 0 || !colour_of(e->to))
                continue;
            ev[n++] = (struct harness_fleet_colour){e->t, map[e->replica], colour_of(e->to)};
        }
    } else {
        for (size_t i = 0; i < o->n_reqs; i++) {
            const struct harness_req *r = &o->reqs[i];
            if (r->replica < 0 || r->replica >= 8 || map[r->replica] < 0 || !colour_of(r->served))
                continue;
            ev[n++] =
                (struct harness_fleet_colour){r->t_sent, map[r->replica], colour_of(r->served)};
        }
    }
    *out = ev;
    return n;
}

/* The first counted replica that served no request with a known colour
 * sent at or after t, -1 when every one did. */
static int unseen_replica(const struct harness_obs *o, const int *map, uint64_t t)
{
    unsigned seen = 0;
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *r = &o->reqs[i];
        if (r->replica >= 0 && r->replica < 8 && r->t_sent >= t && colour_of(r->served))
            seen |= 1u << r->replica;
    }
    for (int i = 0; i < o->n_replicas && i < 8; i++)
        if (map[i] >= 0 && !(seen & (1u << i)))
            return i;
    return -1;
}

static int cmp_colour_t(const void *a, const void *b)
{
    const struct harness_fleet_colour *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t;
}

void harness_ck_colour_agreement(const json_t *c, const struct harness_obs *o,
                                 struct report_check *v)
{
    const char *to = str(c, "to", "green"), *after = str(c, "after", "");
    double within = num(c, "within_ms", 0);
    const char *view = str(c, "view", NULL);
    put(v->expected, sizeof v->expected,
        "every replica serves %s within %g ms of %s; the longest split-brain window reported", to,
        within, after);
    snprintf(v->unit, sizeof v->unit, "ms");
    if (too_small(o, v))
        return;
    uint64_t t_from = 0;
    for (size_t i = 0; i < o->n_marks; i++)
        if (strcmp(o->marks[i].name, after) == 0)
            t_from = o->marks[i].t;
    if (!t_from && strcmp(after, "start") == 0)
        t_from = o->t0;
    if (!t_from) {
        v->status = HARNESS_INCONCLUSIVE;
        put(v->detail, sizeof v->detail, "mark '%s' never happened", after);
        return;
    }
    /* The relays' own logs say when each switched; without them (or asked
     * for "served") what each replica served tells it, later. */
    int events = view ? strcmp(view, "served") != 0 : o->have_events;
    if (events && !o->have_events) {
        v->status = HARNESS_INCONCLUSIVE;
        put(v->detail, sizeof v->detail, "%s", harness_signal_missing(HARNESS_SIG_EVENTS));
        return;
    }
    if (!events && !(o->signals & HARNESS_SIG_SERVED)) {
        v->status = HARNESS_INCONCLUSIVE;
        put(v->detail, sizeof v->detail, "%s", harness_signal_missing(HARNESS_SIG_SERVED));
        return;
    }
    int map[8];
    int nrep = counted(o, map);
    struct harness_fleet_colour *ev = NULL;
    size_t n = colour_timeline(o, events, map, &ev);
    qsort(ev, n, sizeof *ev, cmp_colour_t);
    struct harness_fleet_agree ag;
    int rc = harness_fleet_agreement(ev, n, nrep, t_from, colour_of(to), o->t_end, &ag);
    free(ev);
    v->samples = (long)n;
    if (rc != 0 || nrep < 2) {
        v->samples = 0;
        v->status = HARNESS_INCONCLUSIVE;
        put(v->detail, sizeof v->detail, "fewer than 2 replicas ran to the end (%d)", nrep);
        return;
    }
    /* Served view: a replica's colour is known only from what it served,
     * so one that served no colour after the mark may have switched
     * unseen: no verdict of "never agreed" on it. */
    if (!events && ag.lag_us < 0) {
        int silent = unseen_replica(o, map, t_from);
        if (silent >= 0) {
            v->samples = 0;
            v->status = HARNESS_INCONCLUSIVE;
            put(v->detail, sizeof v->detail,
                "served view: replica %d served no answer naming a colour after %s, so "
                "whether it took %s cannot be seen",
                silent, after, to);
            return;
        }
    }
    /* The laggard as the run numbers it, not as counted. */
    int laggard = -1;
    for (int i = 0; i < o->n_replicas && i < 8; i++)
        if (map[i] == ag.laggard && ag.laggard >= 0)
            laggard = i;
    if (ag.lag_us >= 0)
        put(v->measured, sizeof v->measured,
            "every replica on %s %.1f ms after %s (last: replica %d); longest split brain %.1f "
            "ms from %+.1f ms (%s view)",
            to, (double)ag.lag_us / 1000.0, after, laggard, (double)ag.split_us / 1000.0,
            ag.split_us ? rel_ms(o, ag.split_at) : 0.0, events ? "events" : "served");
    else
        put(v->measured, sizeof v->measured,
            "never all on %s after %s; longest split brain %.1f ms from %+.1f ms (%s view)", to,
            after, (double)ag.split_us / 1000.0, ag.split_us ? rel_ms(o, ag.split_at) : 0.0,
            events ? "events" : "served");
    int ok = ag.lag_us >= 0 && (double)ag.lag_us / 1000.0 <= within;
    v->margin = ag.lag_us >= 0 ? within - (double)ag.lag_us / 1000.0 : -within;
    v->status = ok ? HARNESS_PASS : HARNESS_FAIL;
    if (ag.lag_us < 0 && ag.split_us && ag.split_at + ag.split_us >= o->t_end)
        put(v->detail, sizeof v->detail,
            "split brain until the end: a switch on one replica did not reach the others (no "
            "shared colour)");
    else if (ag.lag_us < 0 && ag.split_us)
        put(v->detail, sizeof v->detail,
            "the replicas disagreed and then agreed again, never all on %s", to);
    else if (ag.lag_us < 0)
        put(v->detail, sizeof v->detail, "no replica %s %s after %s",
            events ? "switched to" : "served", to, after);
    if (!events) {
        size_t len = strlen(v->detail);
        put(v->detail + len, sizeof v->detail - len,
            "%sserved view%s: a replica's colour from the requests it served, timed at their "
            "sends",
            len ? "; " : "", view ? "" : " (no event log)");
    }
}

void harness_ck_probe_load(const json_t *c, const struct harness_obs *o, struct report_check *v)
{
    double max = num(c, "max_per_interval", 0), interval = num(c, "interval_ms", 0);
    const char *env = str(c, "env", NULL);
    put(v->expected, sizeof v->expected, "<= %g health probes per %g ms to %s, whole fleet", max,
        interval, env ? env : "each colour");
    snprintf(v->unit, sizeof v->unit, "probes");
    if (too_small(o, v))
        return;
    uint64_t *t = co_calloc(o->n_atts + 1, sizeof *t);
    char *col = co_calloc(o->n_atts + 1, 1);
    size_t n = 0;
    for (size_t i = 0; i < o->n_atts; i++)
        if (o->atts[i].health && colour_of(o->atts[i].env)) {
            t[n] = o->atts[i].t_arrival;
            col[n++] = colour_of(o->atts[i].env);
        }
    struct harness_fleet_probes pl;
    int rc = harness_fleet_probe_load(t, col, n, o->t0, o->t_end, (uint64_t)(interval * 1000), &pl);
    free(t);
    free(col);
    if (rc != 0) {
        v->status = HARNESS_INCONCLUSIVE;
        put(v->detail, sizeof v->detail, "the run had no traffic span to count probes over");
        return;
    }
    int from = env && strcmp(env, "green") == 0 ? 1 : 0, to = env ? from : 1;
    size_t worst = 0, total = 0;
    for (int k = from; k <= to; k++) {
        total += pl.total[k];
        if (pl.max_interval[k] > worst)
            worst = pl.max_interval[k];
    }
    v->samples = (long)total;
    put(v->measured, sizeof v->measured,
        "blue %zu probes (%.1f per interval, most %zu), green %zu (%.1f, most %zu) from %d "
        "replicas",
        pl.total[0], pl.per_interval[0], pl.max_interval[0], pl.total[1], pl.per_interval[1],
        pl.max_interval[1], o->n_replicas);
    v->margin = max - (double)worst;
    v->status = (double)worst <= max ? HARNESS_PASS : HARNESS_FAIL;
    if (!total) {
        v->status = HARNESS_INCONCLUSIVE;
        put(v->detail, sizeof v->detail, "no health probe reached a mock");
    }
}

int harness_fleet_is_check(const char *name)
{
    static const char *const fleet[] = {"fleet_rate_limit", "colour_agreement", "probe_load"};
    for (size_t i = 0; i < sizeof fleet / sizeof fleet[0]; i++)
        if (strcmp(name, fleet[i]) == 0)
            return 1;
    return 0;
}
