/* Loading what the HTML report draws (see html_model.h).  Times become
 * milliseconds after the traffic start (t0_us in results.json); anything
 * before it (the relay's start-up probes) is left out of the picture.
 *
 * Upstream attempts come from the mock journals, the upstream's own record of
 * what it did.  A colour without a journal (a "refused" colour has no mock,
 * nothing listens there) takes its attempts from the relay's "attempt"
 * events instead, so connection-refused attempts still show. */
#include "reports/html_model.h"

#include "co_json.h"
#include "co_mem.h"
#include "reports/html_scale.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const colour_names[HM_COLOURS] = {"blue", "green"};

static int colour_of(const char *s)
{
    for (int c = 0; c < HM_COLOURS; c++)
        if (s && strcmp(s, colour_names[c]) == 0)
            return c;
    return -1;
}

static void *grow(void *p, size_t n, size_t size)
{
    /* Doubling at powers of two: n is the count before the push. */
    if (n == 0 || (n & (n - 1)) == 0)
        p = co_realloc(p, (n ? n * 2 : 16) * size);
    return p;
}

struct hm_att *html_model_add_att(struct html_model *m)
{
    m->atts = grow(m->atts, m->n_atts, sizeof *m->atts);
    struct hm_att *a = &m->atts[m->n_atts++];
    memset(a, 0, sizeof *a);
    return a;
}

struct hm_req *html_model_add_req(struct html_model *m)
{
    m->reqs = grow(m->reqs, m->n_reqs, sizeof *m->reqs);
    struct hm_req *q = &m->reqs[m->n_reqs++];
    memset(q, 0, sizeof *q);
    return q;
}

struct hm_probe *html_model_add_probe(struct html_model *m)
{
    m->probes = grow(m->probes, m->n_probes, sizeof *m->probes);
    struct hm_probe *p = &m->probes[m->n_probes++];
    memset(p, 0, sizeof *p);
    return p;
}

void html_model_free(struct html_model *m)
{
    free(m->atts);
    free(m->reqs);
    free(m->probes);
    memset(m, 0, sizeof *m);
}

static double num(const json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* ---- the timeline of the scenario document ------------------------------- */

/* A behaviour in a few words: "healthy", "status:503", "health:down". */
static void describe(const json_t *v, char *out, size_t n)
{
    if (json_is_string(v)) {
        snprintf(out, n, "%s", json_string_value(v));
        return;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(6));
    size_t k = 0;
    for (const char *p = s ? s : ""; *p && k + 1 < n; p++) {
        if (*p == '"' || ((*p == '{' || *p == '}') && (p == s || p[1] == '\0')))
            continue;
        out[k++] = *p;
    }
    out[k] = '\0';
    if (k + 1 >= n && n > 4)
        memcpy(out + n - 4, "...", 4);
    free(s);
}

/* A baseline behaviour is a fault unless it is "healthy" or only sets a
 * latency. */
static int baseline_fault(const json_t *v)
{
    if (!v || (json_is_string(v) && strcmp(json_string_value(v), "healthy") == 0))
        return 0;
    if (!json_is_object(v))
        return 1;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val)
    {
        if (strcmp(key, "latency_ms") != 0 && strcmp(key, "latency") != 0)
            return 1;
    }
    return 0;
}

static void open_window(struct html_model *m, int c, double t, const json_t *v)
{
    if (m->n_win >= HM_MAX_WINDOWS)
        return;
    struct hm_window *w = &m->win[m->n_win++];
    w->t0 = t;
    w->t1 = -1; /* open until the colour changes again or the run ends */
    w->env = c;
    w->fired = -1;
    describe(v, w->label, sizeof w->label);
}

/* Closes the open windows of colour c (or of relay replica rep). */
static void close_window(struct html_model *m, int c, int rep, double t)
{
    for (size_t i = 0; i < m->n_win; i++)
        if (m->win[i].env == c && m->win[i].replica == rep && m->win[i].t1 < 0)
            m->win[i].t1 = t;
}

/* What a signal or a fleet step does to one relay process, as the words
 * of its window ("" ends the window: SIGCONT, replica_resume). */
static const struct {
    const char *step, *words;
} relay_steps[] = {
    {"SIGSTOP", "frozen (SIGSTOP)"},
    {"SIGKILL", "killed (SIGKILL)"},
    {"SIGTERM", "stopping (SIGTERM)"},
    {"SIGCONT", ""},
    {"replica_pause", "frozen (replica_pause)"},
    {"replica_kill", "killed (replica_kill)"},
    {"replica_stop", "stopping (replica_stop)"},
    {"replica_resume", ""},
    /* The fleet's Redis: a window over every replica (replica -1). */
    {"redis_pause", "Redis paused (redis_pause)"},
    {"redis_stop", "Redis down (redis_stop)"},
    {"redis_resume", ""},
    {"redis_start", ""},
};

/* A signal or replica_* step: the relay (replica rep) frozen, killed or
 * told to stop, a window from the step until it runs again or the end;
 * a redis_* step (rep -1): the fleet's store paused or down. */
static void relay_window(struct html_model *m, const char *what, int rep, int fleet, double t)
{
    for (size_t i = 0; i < sizeof relay_steps / sizeof relay_steps[0]; i++) {
        if (strcmp(what, relay_steps[i].step) != 0)
            continue;
        close_window(m, HM_RELAY, rep, t);
        if (!*relay_steps[i].words || m->n_win >= HM_MAX_WINDOWS)
            return;
        struct hm_window *w = &m->win[m->n_win++];
        w->t0 = t;
        w->t1 = -1;
        w->env = HM_RELAY;
        w->replica = rep;
        w->fired = -1;
        if (rep < 0)
            snprintf(w->label, sizeof w->label, "%s", relay_steps[i].words);
        else if (fleet)
            snprintf(w->label, sizeof w->label, "replica %d %s", rep, relay_steps[i].words);
        else
            snprintf(w->label, sizeof w->label, "relay %s", relay_steps[i].words);
        return;
    }
}

void html_model_timeline(struct html_model *m, const json_t *doc)
{
    const json_t *ups = json_object_get(doc, "upstreams");
    const json_t *base[HM_COLOURS];
    for (int c = 0; c < HM_COLOURS; c++) {
        base[c] = json_object_get(ups, colour_names[c]);
        if (baseline_fault(base[c]))
            open_window(m, c, 0, base[c]);
    }
    size_t i;
    const json_t *st;
    json_array_foreach(json_object_get(doc, "timeline"), i, st)
    {
        /* A step that waits for the traffic ("at": {"after": "traffic"})
         * has no time in the document: it ran after the last answer, past
         * what the timeline draws. */
        if (!json_object_get(st, "at_ms"))
            continue;
        double t = num(st, "at_ms");
        char label[96] = "", part[80];
        if (json_object_get(st, "probe"))
            snprintf(label, sizeof label, "probe");
        for (int c = 0; c < HM_COLOURS; c++) {
            const json_t *v = json_object_get(st, colour_names[c]);
            if (!v)
                continue;
            close_window(m, c, 0, t);
            int healthy =
                (json_is_string(v) && strcmp(json_string_value(v), "healthy") == 0) ||
                (base[c] && json_equal((json_t *)v, (json_t *)base[c]) && !baseline_fault(base[c]));
            if (!healthy)
                open_window(m, c, t, v);
            describe(v, part, sizeof part);
            size_t len = strlen(label);
            snprintf(label + len, sizeof label - len, "%s%s %s", len ? "; " : "", colour_names[c],
                     part);
        }
        const json_t *admin = json_object_get(st, "admin");
        if (admin) {
            describe(admin, part, sizeof part);
            size_t len = strlen(label);
            snprintf(label + len, sizeof label - len, "%sadmin %s", len ? "; " : "", part);
        }
        const char *sig = str(st, "signal");
        const char *fleet = str(st, "fleet");
        /* The replica a step names (a fleet's; 0 the one relay). */
        int rep = (int)json_integer_value(json_object_get(st, "replica"));
        if (rep < 0 || rep >= HM_MAX_REPLICAS)
            rep = 0;
        int in_fleet = json_object_get(doc, "fleet") != NULL || *fleet;
        if (*sig)
            relay_window(m, sig, rep, in_fleet, t);
        if (strncmp(fleet, "replica_", 8) == 0)
            relay_window(m, fleet, rep, 1, t);
        else if (*fleet)
            relay_window(m, fleet, -1, 1, t);
        if (*sig || *fleet) {
            size_t len = strlen(label);
            snprintf(label + len, sizeof label - len, "%s%s", len ? "; " : "", *sig ? sig : fleet);
        }
        if (json_object_get(st, "replica")) {
            size_t len = strlen(label);
            snprintf(label + len, sizeof label - len, " (replica %d)", rep);
        }
        if (m->n_steps < HM_MAX_STEPS) {
            struct hm_step *s = &m->steps[m->n_steps++];
            s->t = t;
            const char *mark = str(st, "mark");
            if (*mark)
                snprintf(s->name, sizeof s->name, "%s", mark);
            else
                snprintf(s->name, sizeof s->name, "step%zu", i);
            snprintf(s->label, sizeof s->label, "%s", label);
        }
    }
}

double html_model_mark(const struct html_model *m, const char *name)
{
    if (!name || strcmp(name, "start") == 0)
        return 0;
    for (size_t i = 0; i < m->n_steps; i++)
        if (strcmp(m->steps[i].name, name) == 0)
            return m->steps[i].t;
    return -1;
}

void html_model_finish(struct html_model *m, double planned_ms)
{
    double end = planned_ms > 0 ? planned_ms : 0;
#define MAXT(v)                                                                                    \
    do {                                                                                           \
        if ((v) > end)                                                                             \
            end = (v);                                                                             \
    } while (0)
    for (size_t i = 0; i < m->n_atts; i++)
        MAXT(m->atts[i].t + (m->atts[i].dur > 0 ? m->atts[i].dur : 0));
    for (size_t i = 0; i < m->n_reqs; i++)
        MAXT(m->reqs[i].t + (m->reqs[i].lat > 0 ? m->reqs[i].lat : 0));
    for (size_t i = 0; i < m->n_steps; i++)
        MAXT(m->steps[i].t);
    for (size_t i = 0; i < m->n_sw; i++)
        MAXT(m->sw[i].t);
#undef MAXT
    m->span = end > 1 ? end : 1;
    for (size_t i = 0; i < m->n_win; i++) {
        if (m->win[i].t1 < 0)
            m->win[i].t1 = m->span;
        m->win[i].set0 = m->win[i].t0;
        m->win[i].set1 = m->win[i].t1;
    }
}

void html_model_fired(struct html_model *m)
{
    for (size_t i = 0; i < m->n_win; i++) {
        struct hm_window *w = &m->win[i];
        if (w->env >= HM_COLOURS || !m->have_journal[w->env] || !m->have_rules[w->env])
            continue;
        double lo = w->set1, hi = w->set0;
        int n = 0;
        for (size_t k = 0; k < m->n_atts; k++) {
            const struct hm_att *a = &m->atts[k];
            if (a->env != w->env || !a->fired || a->t < w->set0 || a->t >= w->set1)
                continue;
            n++;
            lo = a->t < lo ? a->t : lo;
            double end = a->t + (a->dur > 0 ? a->dur : 0);
            hi = end > hi ? end : hi;
        }
        for (size_t k = 0; k < m->n_probes; k++) {
            const struct hm_probe *p = &m->probes[k];
            if (p->env != w->env || !p->fired || p->t < w->set0 || p->t >= w->set1)
                continue;
            n++;
            lo = p->t < lo ? p->t : lo;
            hi = p->t > hi ? p->t : hi;
        }
        w->fired = n;
        if (n) {
            w->t0 = lo;
            w->t1 = hi < w->set1 ? hi : w->set1;
        }
    }
}

/* ---- artefacts -------------------------------------------------------------- */

struct line_ctx {
    struct html_model *m;
    double t0;
    void (*fn)(struct html_model *, const json_t *, double);
};

static void on_line(const json_t *o, void *ctx)
{
    struct line_ctx *c = ctx;
    c->fn(c->m, o, c->t0);
}

/* Calls fn on each JSON object line of path (at most HM_MAX_LINES), through
 * the reader the runner uses for the same files (co_jsonl_each). */
static int each_line(const char *path, void (*fn)(struct html_model *, const json_t *, double),
                     struct html_model *m, double t0)
{
    struct line_ctx c = {.m = m, .t0 = t0, .fn = fn};
    return co_jsonl_each(path, HM_MAX_LINES, SIZE_MAX, on_line, &c);
}

static double rel_ms(const json_t *o, const char *key, double t0)
{
    return ((double)json_integer_value(json_object_get(o, key)) - t0) / 1000.0;
}

static void on_request(struct html_model *m, const json_t *o, double t0)
{
    struct hm_req *q = html_model_add_req(m);
    double sched = (double)json_integer_value(json_object_get(o, "t_sched_us"));
    double done = (double)json_integer_value(json_object_get(o, "t_done_us"));
    q->t = (sched - t0) / 1000.0;
    q->lat = done > 0 ? (done - sched) / 1000.0 : -1;
    q->status = (long)json_integer_value(json_object_get(o, "status"));
    q->kind = report_outcome_of_request(
        q->status, (int)json_integer_value(json_object_get(o, "curl")), str(o, "outcome"));
    snprintf(q->served, sizeof q->served, "%s", str(o, "served"));
    snprintf(q->id, sizeof q->id, "%s", str(o, "id"));
}

static void on_event(struct html_model *m, const json_t *o, double t0)
{
    const char *type = str(o, "type");
    double t = rel_ms(o, "t_us", t0);
    if (strcmp(type, "switch") == 0 && m->n_sw < HM_MAX_SWITCHES) {
        struct hm_switch *s = &m->sw[m->n_sw++];
        s->t = t;
        s->replica = m->loading;
        snprintf(s->from, sizeof s->from, "%s", str(o, "from"));
        snprintf(s->to, sizeof s->to, "%s", str(o, "to"));
        snprintf(s->reason, sizeof s->reason, "%s", str(o, "reason"));
    } else if (strcmp(type, "health") == 0 && m->n_health < HM_MAX_HEALTH) {
        int c = colour_of(str(o, "env"));
        if (c < 0)
            return;
        /* Before the start only the state the colour started in matters:
         * one entry per colour, the latest. */
        struct hm_health *h = NULL;
        for (size_t i = 0; t < 0 && i < m->n_health && !h; i++)
            if (m->health[i].env == c && m->health[i].replica == m->loading && m->health[i].t < 0)
                h = &m->health[i];
        if (!h)
            h = &m->health[m->n_health++];
        h->t = t;
        h->env = c;
        h->replica = m->loading;
        h->healthy = json_is_true(json_object_get(o, "healthy"));
    } else if (strcmp(type, "rate_limit") == 0) {
        m->n_limits++;
    } else if (strcmp(type, "attempt") == 0) {
        int c = colour_of(str(o, "env"));
        if (c < 0 || m->have_journal[c])
            return;
        /* The event is written when the attempt ends. */
        double lat = (double)json_integer_value(json_object_get(o, "latency_us")) / 1000.0;
        struct hm_att *a = html_model_add_att(m);
        a->t = t - lat;
        a->dur = lat;
        a->env = c;
        a->replica = m->loading;
        a->status = (int)json_integer_value(json_object_get(o, "status"));
        a->attempt = (int)json_integer_value(json_object_get(o, "attempt"));
        a->kind =
            report_outcome_of_event(a->status, json_string_value(json_object_get(o, "error")));
        snprintf(a->id, sizeof a->id, "%s", str(o, "request_id"));
    }
}

/* The relay's event log; in a fleet every replica's (replica 0 in dir,
 * replica i in dir/replica-i, docs/fleet.md), each event keeping its
 * replica.  A replica folder without an event log still counts: its lane
 * shows what the timeline did to it. */
static void load_events(struct html_model *m, const char *dir, double t0)
{
    char path[1024];
    m->n_replicas = 1;
    for (int i = 0; i < HM_MAX_REPLICAS; i++) {
        struct stat st;
        if (i == 0)
            snprintf(path, sizeof path, "%s", dir);
        else
            snprintf(path, sizeof path, "%s/replica-%d", dir, i);
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            break;
        m->n_replicas = i + 1;
        m->loading = i;
        snprintf(path + strlen(path), sizeof path - strlen(path), "/events.jsonl");
        if (each_line(path, on_event, m, t0) == 0)
            m->have_events = 1;
    }
    m->loading = 0;
}

static void load_journal(struct html_model *m, const char *dir, int c, double t0)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/journal-%s.json", dir, colour_names[c]);
    json_t *j = json_load_file(path, 0, NULL);
    if (!json_is_array(j)) {
        json_decref(j);
        return;
    }
    m->have_journal[c] = 1;
    size_t i;
    json_t *rec;
    json_array_foreach(j, i, rec)
    {
        if (i >= HM_MAX_LINES)
            break;
        const char *p = str(rec, "path");
        double t = rel_ms(rec, "t_arrival_us", t0);
        m->have_rules[c] |= json_object_get(rec, "rule") != NULL;
        int status = (int)json_integer_value(json_object_get(rec, "status"));
        int kind = report_outcome_of_journal(status, str(rec, "end"));
        if (strcmp(p, "/health") == 0 || strcmp(p, "/v1/health") == 0) {
            if (t < 0)
                continue;
            struct hm_probe *pr = html_model_add_probe(m);
            pr->t = t;
            pr->env = c;
            pr->kind = kind;
            pr->fired = *str(rec, "rule") != '\0';
            continue;
        }
        struct hm_att *a = html_model_add_att(m);
        a->t = t;
        double done = (double)json_integer_value(json_object_get(rec, "t_done_us"));
        a->dur = done > 0 ? (done - t0) / 1000.0 - t : 0;
        a->env = c;
        a->status = status;
        a->kind = kind;
        a->attempt = (int)json_integer_value(json_object_get(rec, "attempt"));
        a->fired = *str(rec, "rule") != '\0';
        const char *id = str(rec, "request_id");
        snprintf(a->id, sizeof a->id, "%s", *id ? id : str(rec, "user"));
    }
    json_decref(j);
}

static void first_sched(const json_t *o, void *ctx)
{
    *(double *)ctx = (double)json_integer_value(json_object_get(o, "t_sched_us"));
}

void html_model_load(struct html_model *m, const json_t *sc)
{
    memset(m, 0, sizeof *m);
    const char *dir = str(sc, "out_dir");
    double t0 = (double)json_integer_value(json_object_get(sc, "t0_us"));
    char path[1024];
    if (*dir && t0 <= 0) {
        /* An older results.json: the first scheduled request is the start. */
        snprintf(path, sizeof path, "%s/requests.jsonl", dir);
        co_jsonl_each(path, 1, SIZE_MAX, first_sched, &t0);
    }
    html_model_timeline(m, json_object_get(sc, "scenario"));
    if (*dir) {
        for (int c = 0; c < HM_COLOURS; c++)
            load_journal(m, dir, c, t0);
        snprintf(path, sizeof path, "%s/requests.jsonl", dir);
        each_line(path, on_request, m, t0);
        load_events(m, dir, t0);
    }
    html_model_finish(m, 0);
    html_model_fired(m);
}
