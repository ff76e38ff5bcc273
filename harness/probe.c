/* Probes of a relay's endpoints: the profile's map, the counters the
 * harness observes, JSON pointers, Prometheus samples, promtool.  See
 * harness/probe.h. */
#include "harness/probe.h"

#include "co_clock.h"
#include "co_evcurl.h"
#include "co_json.h"
#include "co_mem.h"
#include "harness/spawn.h"
#include "harness/traffic.h"
#include "harness/vutil.h"
#include "reports/report.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *const harness_probe_kinds[] = {"health", "metrics", "prometheus", NULL};

/* ---- the counters the harness observes ------------------------------------ */

/* Client requests that got an HTTP answer.  A request that got none (a
 * transport error) may or may not be in the relay's count: then the number
 * is not known exactly. */
static int obs_requests(const struct harness_obs *o, const char *arg, double *out, char *why,
                        size_t n)
{
    long answered = 0, none = 0;
    for (size_t i = 0; i < o->n_reqs; i++) {
        if (o->reqs[i].status > 0)
            answered++;
        else
            none++;
    }
    if (none) {
        snprintf(why, n,
                 "%ld client request(s) got no HTTP answer: the relay may or may not "
                 "have counted them",
                 none);
        return -1;
    }
    *out = (double)answered;
    return 0;
}

/* Upstream attempts after the first, per client request (mock journals). */
static int obs_retries(const struct harness_obs *o, const char *arg, double *out, char *why,
                       size_t n)
{
    if (!(o->signals & HARNESS_SIG_IDS)) {
        snprintf(why, n, "%s", harness_signal_missing(HARNESS_SIG_IDS));
        return -1;
    }
    double r = 0;
    for (size_t i = 0; i < o->n_reqs; i++) {
        size_t m;
        harness_obs_attempts(o, o->reqs[i].id, &m);
        r += m > 1 ? (double)(m - 1) : 0;
    }
    *out = r;
    return 0;
}

struct first_att {
    uint64_t t;
    const char *env;
};

static int cmp_first(const void *a, const void *b)
{
    const struct first_att *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t;
}

/* Changes of the colour each client request went to first, in the order
 * those first attempts reached the mocks: the active colour as the traffic
 * met it.  A switch no request came after cannot be seen (docs), so the
 * count is unknown when the relay answered a request with a 5xx of its own
 * without asking any colour (its active colour went unobserved then), or
 * when the last request ended on another colour than it started on (a
 * failover no later request revisited). */
static int obs_switches(const struct harness_obs *o, const char *arg, double *out, char *why,
                        size_t n)
{
    if (!(o->signals & HARNESS_SIG_IDS)) {
        snprintf(why, n, "%s", harness_signal_missing(HARNESS_SIG_IDS));
        return -1;
    }
    struct first_att *f = co_calloc(o->n_reqs ? o->n_reqs : 1, sizeof *f);
    size_t k = 0, blind = 0;
    uint64_t last_t = 0;
    int last_moved = 0;
    for (size_t i = 0; i < o->n_reqs; i++) {
        size_t m;
        const size_t *idx = harness_obs_attempts(o, o->reqs[i].id, &m);
        if (!m && o->reqs[i].status >= 500)
            blind++;
        if (!m ||
            (strcmp(o->atts[idx[0]].env, "blue") != 0 && strcmp(o->atts[idx[0]].env, "green") != 0))
            continue;
        f[k++] = (struct first_att){o->atts[idx[0]].t_arrival, o->atts[idx[0]].env};
        if (o->atts[idx[0]].t_arrival >= last_t) {
            last_t = o->atts[idx[0]].t_arrival;
            last_moved = strcmp(o->atts[idx[m - 1]].env, o->atts[idx[0]].env) != 0;
        }
    }
    if (blind || last_moved) {
        free(f);
        if (blind)
            snprintf(why, n,
                     "%zu request(s) got a 5xx from the relay without reaching a colour: "
                     "its active colour then was not observed",
                     blind);
        else
            snprintf(why, n,
                     "the last request failed over to another colour and no request came "
                     "after it: whether the relay switched was not observed");
        return -1;
    }
    qsort(f, k, sizeof *f, cmp_first);
    double sw = 0;
    for (size_t i = 1; i < k; i++)
        sw += strcmp(f[i].env, f[i - 1].env) != 0;
    free(f);
    *out = sw;
    return 0;
}

/* Traffic attempts that reached colour arg (its mock's journal). */
static int obs_attempts(const struct harness_obs *o, const char *arg, double *out, char *why,
                        size_t n)
{
    double c = 0;
    for (size_t i = 0; i < o->n_atts; i++)
        c += !o->atts[i].health && strcmp(o->atts[i].env, arg) == 0;
    *out = c;
    return 0;
}

/* Traffic attempts to colour arg that failed as its mock's journal saw
 * them: the mock answered a status of 400 or more (the relay read a failing
 * status line, whatever came after).  An attempt whose fate the journal does
 * not settle (no status, a 2xx cut short, stalled or not the normal answer:
 * garbage, a fault) may be either in the relay's count: then the number is
 * not known exactly. */
static int obs_errors(const struct harness_obs *o, const char *arg, double *out, char *why,
                      size_t n)
{
    double c = 0;
    long unsure = 0;
    const struct harness_att *first = NULL;
    for (size_t i = 0; i < o->n_atts; i++) {
        const struct harness_att *a = &o->atts[i];
        if (a->health || strcmp(a->env, arg) != 0)
            continue;
        if (a->status >= 400) {
            c++;
        } else if (!(a->status / 100 == 2 && strcmp(a->end, "complete") == 0 &&
                     (!a->action[0] || strcmp(a->action, "ok") == 0))) {
            unsure++;
            first = first ? first : a;
        }
    }
    if (unsure) {
        snprintf(why, n,
                 "%ld attempt(s) to %s neither failed with a status nor ended as a whole "
                 "normal answer (first: status %d, end %s, action %s): the relay may count "
                 "them either way",
                 unsure, arg, first->status, first->end[0] ? first->end : "-",
                 first->action[0] ? first->action : "-");
        return -1;
    }
    *out = c;
    return 0;
}

/* The price of model in the scenario's "prices", or -1. */
static double price_of(const struct harness_obs *o, const char *model)
{
    for (size_t i = 0; i < o->n_prices; i++)
        if (strcmp(o->prices[i].model, model) == 0)
            return o->prices[i].usd_per_million;
    return -1;
}

/* Tokens the upstreams reported on the whole answers they gave (the usage
 * each mock journalled for its answer), or with arg "cost" those tokens at
 * the scenario's prices (USD per million tokens of either kind, by the
 * model the upstream was asked for).  An answer whose usage a relay may or
 * may not have read (a stream, which carries usage only when the client
 * asked; a 2xx cut short or not normal; no usage journalled) makes the sum
 * unknown, as does a model the scenario prices not. */
static int obs_tokens(const struct harness_obs *o, const char *arg, double *out, char *why,
                      size_t n)
{
    int cost = arg && strcmp(arg, "cost") == 0;
    if (cost && !o->n_prices) {
        snprintf(why, n, "the scenario gives no \"prices\": the cost is not known");
        return -1;
    }
    double sum = 0;
    for (size_t i = 0; i < o->n_atts; i++) {
        const struct harness_att *a = &o->atts[i];
        if (a->health || a->status >= 400)
            continue;
        int whole = a->status / 100 == 2 && strcmp(a->end, "complete") == 0 &&
                    (!a->action[0] || strcmp(a->action, "ok") == 0);
        if (!whole || a->stream || a->prompt_tokens < 0 || a->completion_tokens < 0) {
            harness_v_fmt(why, n,
                          "an answer of %s (status %d, end %s%s) may or may not have "
                          "been counted: the relay's sum is not known exactly",
                          a->env, a->status, a->end[0] ? a->end : "-",
                          a->stream              ? ", a stream"
                          : a->prompt_tokens < 0 ? ", no usage journalled"
                                                 : "");
            return -1;
        }
        double t = (double)(a->prompt_tokens + a->completion_tokens);
        if (cost) {
            double p = price_of(o, a->model);
            if (p < 0) {
                harness_v_fmt(why, n, "the scenario gives no price for model '%s'", a->model);
                return -1;
            }
            t = t * p / 1e6;
        }
        sum += t;
    }
    *out = sum;
    return 0;
}

static const struct counter_row {
    const char *name;
    const char *what;
    int (*observe)(const struct harness_obs *o, const char *arg, double *out, char *why, size_t n);
    const char *arg;
} counters[] = {
    {"requests", "client requests answered", obs_requests, NULL},
    {"retries", "upstream attempts after a request's first", obs_retries, NULL},
    {"switches", "changes of the colour requests went to first", obs_switches, NULL},
    {"attempts.blue", "traffic attempts that reached blue", obs_attempts, "blue"},
    {"attempts.green", "traffic attempts that reached green", obs_attempts, "green"},
    {"errors.blue", "traffic attempts to blue its mock failed (status >= 400)", obs_errors, "blue"},
    {"errors.green", "traffic attempts to green its mock failed (status >= 400)", obs_errors,
     "green"},
    {"tokens", "tokens (prompt and completion) the upstreams reported on whole answers", obs_tokens,
     NULL},
    {"cost", "those tokens at the scenario's prices (USD per million)", obs_tokens, "cost"},
};
#define N_COUNTERS (sizeof counters / sizeof counters[0])

const char *const *harness_counter_names(void)
{
    static const char *names[N_COUNTERS + 1];
    for (size_t i = 0; i < N_COUNTERS; i++)
        names[i] = counters[i].name;
    names[N_COUNTERS] = NULL;
    return names;
}

static const struct counter_row *find_counter(const char *name)
{
    for (size_t i = 0; i < N_COUNTERS; i++)
        if (strcmp(counters[i].name, name) == 0)
            return &counters[i];
    return NULL;
}

const char *harness_counter_what(const char *name)
{
    const struct counter_row *c = find_counter(name);
    return c ? c->what : "";
}

int harness_counter_observed(const char *name, const struct harness_obs *o, double *out, char *why,
                             size_t n)
{
    const struct counter_row *c = find_counter(name);
    if (!c) {
        snprintf(why, n, "unknown counter '%s'", name);
        return -1;
    }
    return c->observe(o, c->arg, out, why, n);
}

/* ---- the profile's map ------------------------------------------------------ */

static int copy_str(const json_t *obj, const char *key, const char *path, char *out, size_t cap,
                    char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    char p[300];
    harness_v_fmt(p, sizeof p, "%s.%s", path, key);
    if (!json_is_string(v) || json_string_length(v) >= cap)
        return harness_v_expected(err, errlen, p, "a short string", v);
    snprintf(out, cap, "%s", json_string_value(v));
    return 0;
}

/* One endpoint's entry: {"path": "/health", ...}. */
static int parse_endpoint(const json_t *e, const char *path, int kind, struct harness_probe_map *m,
                          char *err, size_t errlen)
{
    static const char *const health_keys[] = {"path", "active", "healthy", "unhealthy_status",
                                              NULL};
    static const char *const counter_keys[] = {"path", "counters", "active", NULL};
    static const char *const colours[] = {"blue", "green", NULL};
    if (!json_is_object(e))
        return harness_v_expected(err, errlen, path, "an object with \"path\"", e);
    if (harness_v_keys(e, path, kind == HARNESS_PROBE_HEALTH ? health_keys : counter_keys, err,
                       errlen) != 0)
        return -1;
    if (copy_str(e, "path", path, m->path[kind], sizeof m->path[kind], err, errlen) != 0)
        return -1;
    char p[300];
    if (m->path[kind][0] != '/') {
        harness_v_fmt(p, sizeof p, "%s.path", path);
        return harness_v_expected(err, errlen, p, "a path starting with /",
                                  json_object_get(e, "path"));
    }
    if (kind == HARNESS_PROBE_HEALTH) {
        if (copy_str(e, "active", path, m->active, sizeof m->active, err, errlen) != 0)
            return -1;
        json_t *h = json_object_get(e, "healthy");
        harness_v_fmt(p, sizeof p, "%s.healthy", path);
        if (h && (!json_is_object(h) || harness_v_keys(h, p, colours, err, errlen) != 0))
            return json_is_object(h)
                       ? -1
                       : harness_v_expected(err, errlen, p,
                                            "{\"blue\": POINTER, \"green\": POINTER}", h);
        for (int c = 0; c < 2 && h; c++)
            if (copy_str(h, colours[c], p, m->healthy[c], sizeof m->healthy[c], err, errlen) != 0)
                return -1;
        json_t *us = json_object_get(e, "unhealthy_status");
        harness_v_fmt(p, sizeof p, "%s.unhealthy_status", path);
        if (us &&
            (!json_is_integer(us) || json_integer_value(us) < 200 || json_integer_value(us) > 599))
            return harness_v_expected(err, errlen, p, "an HTTP status (200-599)", us);
        m->unhealthy_status = us ? (int)json_integer_value(us) : 0;
        return 0;
    }
    if (kind == HARNESS_PROBE_METRICS &&
        copy_str(e, "active", path, m->active_json, sizeof m->active_json, err, errlen) != 0)
        return -1;
    if (kind == HARNESS_PROBE_PROM) {
        if (copy_str(e, "active", path, m->active_prom, sizeof m->active_prom, err, errlen) != 0)
            return -1;
        char sel[256], one[256];
        if (m->active_prom[0] &&
            (!strstr(m->active_prom, "{colour}") ||
             harness_prom_active_selector(m->active_prom, "blue", sel, sizeof sel) != 0 ||
             harness_prom_selector_check(sel, one, sizeof one) != 0)) {
            harness_v_fmt(p, sizeof p, "%s.active", path);
            return harness_v_expected(err, errlen, p,
                                      "a selector with {colour} where the colour goes, like "
                                      "name{environment=\"{colour}\"}",
                                      json_object_get(e, "active"));
        }
    }
    json_t *cs = json_object_get(e, "counters");
    if (!cs)
        return 0;
    harness_v_fmt(p, sizeof p, "%s.counters", path);
    if (!json_is_object(cs) || harness_v_keys(cs, p, harness_counter_names(), err, errlen) != 0)
        return json_is_object(cs)
                   ? -1
                   : harness_v_expected(err, errlen, p, "an object of counter -> name", cs);
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)cs, name, v)
    {
        int i = harness_probe_map_counter(m, name);
        if (i < 0) {
            if (m->n_counters >= HARNESS_MAX_COUNTERS)
                return harness_v_expected(err, errlen, p, "fewer counters", cs);
            i = m->n_counters++;
            snprintf(m->counters[i].name, sizeof m->counters[i].name, "%s", name);
        }
        char *dst = kind == HARNESS_PROBE_PROM ? m->counters[i].prom : m->counters[i].json;
        size_t cap =
            kind == HARNESS_PROBE_PROM ? sizeof m->counters[i].prom : sizeof m->counters[i].json;
        if (copy_str(cs, name, p, dst, cap, err, errlen) != 0)
            return -1;
        char one[256];
        if (kind == HARNESS_PROBE_PROM && harness_prom_selector_check(dst, one, sizeof one) != 0) {
            char q[360];
            harness_v_fmt(q, sizeof q, "%s.%s", p, name);
            return harness_v_expected(err, errlen, q, "a selector like name{label=\"value\"}", v);
        }
    }
    return 0;
}

int harness_probe_map_parse(const json_t *j, const char *path, struct harness_probe_map *m,
                            char *err, size_t errlen)
{
    static const char *const keys[] = {"health", "metrics", "prometheus", "colours", NULL};
    static const char *const colours[] = {"blue", "green", NULL};
    memset(m, 0, sizeof *m);
    snprintf(m->colour[0], sizeof m->colour[0], "blue");
    snprintf(m->colour[1], sizeof m->colour[1], "green");
    if (!j)
        return 0;
    if (!json_is_object(j))
        return harness_v_expected(err, errlen, path, "an object of endpoints", j);
    if (harness_v_keys(j, path, keys, err, errlen) != 0)
        return -1;
    json_t *cw = json_object_get(j, "colours");
    if (cw) {
        char p[300];
        harness_v_fmt(p, sizeof p, "%s.colours", path);
        if (!json_is_object(cw))
            return harness_v_expected(err, errlen, p, "{\"blue\": WORD, \"green\": WORD}", cw);
        if (harness_v_keys(cw, p, colours, err, errlen) != 0)
            return -1;
        for (int c = 0; c < 2; c++)
            if (copy_str(cw, colours[c], p, m->colour[c], sizeof m->colour[c], err, errlen) != 0)
                return -1;
        if (!m->colour[0][0] || !m->colour[1][0] || strcmp(m->colour[0], m->colour[1]) == 0)
            return harness_v_expected(err, errlen, p, "two different non-empty words", cw);
    }
    for (int k = 0; k < HARNESS_PROBE_N; k++) {
        json_t *e = json_object_get(j, harness_probe_kinds[k]);
        char p[300];
        harness_v_fmt(p, sizeof p, "%s.%s", path, harness_probe_kinds[k]);
        if (e && parse_endpoint(e, p, k, m, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int harness_probe_map_counter(const struct harness_probe_map *m, const char *name)
{
    for (int i = 0; i < m->n_counters; i++)
        if (strcmp(m->counters[i].name, name) == 0)
            return i;
    return -1;
}

/* ---- JSON pointer (RFC 6901) -------------------------------------------------- */

json_t *harness_json_pointer(const json_t *doc, const char *ptr)
{
    json_t *cur = (json_t *)doc;
    if (!ptr || !*ptr)
        return cur;
    if (*ptr != '/')
        return NULL;
    while (cur && *ptr == '/') {
        ptr++;
        char tok[256];
        size_t k = 0;
        for (; *ptr && *ptr != '/'; ptr++) {
            char c = *ptr;
            if (c == '~') {
                if (ptr[1] != '0' && ptr[1] != '1')
                    return NULL;
                c = ptr[1] == '0' ? '~' : '/';
                ptr++;
            }
            if (k + 1 >= sizeof tok)
                return NULL;
            tok[k++] = c;
        }
        tok[k] = '\0';
        if (json_is_object(cur)) {
            cur = json_object_get(cur, tok);
        } else if (json_is_array(cur)) {
            char *end;
            errno = 0;
            unsigned long i = strtoul(tok, &end, 10);
            if (!k || *end || errno || (tok[0] == '0' && k > 1))
                return NULL;
            cur = json_array_get(cur, i);
        } else {
            return NULL;
        }
    }
    return cur;
}

/* ---- Prometheus text ----------------------------------------------------------- */

#define PROM_MAX_LABELS 16

struct prom_labels {
    char name[PROM_MAX_LABELS][64];
    char value[PROM_MAX_LABELS][128];
    int n;
};

static int name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static int name_char(char c)
{
    return name_start(c) || (c >= '0' && c <= '9');
}

/* Reads name{l="v",...} at *p into name and labels; *p is left after it.
 * Returns 0, or -1 when it is not one. */
static int read_series(const char **p, char *name, size_t nn, struct prom_labels *l)
{
    const char *s = *p;
    size_t k = 0;
    l->n = 0;
    if (!name_start(*s))
        return -1;
    while (name_char(*s)) {
        if (k + 1 >= nn)
            return -1;
        name[k++] = *s++;
    }
    name[k] = '\0';
    if (*s == '{') {
        s++;
        while (*s != '}') {
            if (l->n >= PROM_MAX_LABELS)
                return -1;
            size_t a = 0, b = 0;
            if (!name_start(*s) || *s == ':')
                return -1;
            while (name_char(*s) && *s != ':') {
                if (a + 1 >= sizeof l->name[0])
                    return -1;
                l->name[l->n][a++] = *s++;
            }
            l->name[l->n][a] = '\0';
            if (*s++ != '=' || *s++ != '"')
                return -1;
            while (*s != '"') {
                char c = *s++;
                if (c == '\0' || c == '\n')
                    return -1;
                if (c == '\\') {
                    c = *s++;
                    if (c == 'n')
                        c = '\n';
                    else if (c != '\\' && c != '"')
                        return -1;
                }
                if (b + 1 >= sizeof l->value[0])
                    return -1;
                l->value[l->n][b++] = c;
            }
            l->value[l->n][b] = '\0';
            l->n++;
            s++;
            if (*s == ',')
                s++;
            else if (*s != '}')
                return -1;
        }
        s++;
    }
    *p = s;
    return 0;
}

int harness_prom_selector_check(const char *sel, char *err, size_t n)
{
    char name[128];
    struct prom_labels l;
    const char *p = sel;
    if (read_series(&p, name, sizeof name, &l) != 0 || *p) {
        harness_v_fmt(err, n, "'%s' is not a selector like name{label=\"value\"}", sel);
        return -1;
    }
    return 0;
}

long harness_prom_sum(const char *text, const char *sel, double *sum, char *err, size_t n)
{
    char want[128], name[128];
    struct prom_labels wl, l;
    const char *p = sel;
    *sum = 0;
    if (read_series(&p, want, sizeof want, &wl) != 0 || *p) {
        snprintf(err, n, "'%s' is not a selector", sel);
        return -1;
    }
    long matched = 0;
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        const char *next = nl ? nl + 1 : NULL;
        const char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        size_t wn = strlen(want);
        /* Only lines of the wanted metric matter (a "name_bucket" line is
         * another series). */
        if (*s == '#' || strncmp(s, want, wn) != 0 || name_char(s[wn])) {
            line = next;
            continue;
        }
        const char *q = s;
        double v;
        char *end;
        if (read_series(&q, name, sizeof name, &l) != 0 || (*q != ' ' && *q != '\t')) {
            size_t ll = nl ? (size_t)(nl - line) : strlen(line);
            snprintf(err, n, "cannot read the sample line '%.*s'", (int)(ll > 120 ? 120 : ll),
                     line);
            return -1;
        }
        while (*q == ' ' || *q == '\t')
            q++;
        v = strtod(q, &end);
        if (end == q || (*end && *end != ' ' && *end != '\t' && *end != '\n' && *end != '\r')) {
            snprintf(err, n, "the sample line of %s has no number for a value", name);
            return -1;
        }
        int ok = 1;
        for (int i = 0; i < wl.n && ok; i++) {
            int found = 0;
            for (int j = 0; j < l.n; j++)
                found |= strcmp(wl.name[i], l.name[j]) == 0 && strcmp(wl.value[i], l.value[j]) == 0;
            ok = found;
        }
        if (ok) {
            *sum += v;
            matched++;
        }
        line = next;
    }
    return matched;
}

int harness_prom_active_selector(const char *tmpl, const char *word, char *out, size_t n)
{
    const char *at = strstr(tmpl, "{colour}");
    if (!at)
        return -1;
    /* The word goes inside a label value: escape as the exposition format does. */
    char esc[96];
    size_t k = 0;
    for (const char *w = word; *w && k + 3 < sizeof esc; w++) {
        if (*w == '"' || *w == '\\')
            esc[k++] = '\\';
        esc[k++] = *w;
    }
    esc[k] = '\0';
    int len = snprintf(out, n, "%.*s%s%s", (int)(at - tmpl), tmpl, esc, at + 8);
    return len < 0 || (size_t)len >= n ? -1 : 0;
}

/* ---- promtool ------------------------------------------------------------------ */

int harness_promtool_check(const char *path, int timeout_ms, char *out, size_t n)
{
    char prog[512];
    out[0] = '\0';
    if (harness_which("promtool", prog, sizeof prog) != 0) {
        snprintf(out, n,
                 "promtool is not installed (apt-get install prometheus): no parser "
                 "to accept the page");
        return -1;
    }
    int in = open(path, O_RDONLY | O_CLOEXEC), pipefd[2];
    if (in < 0) {
        snprintf(out, n, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        snprintf(out, n, "pipe: %s", strerror(errno));
        close(in);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in, 0);
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        execl(prog, "promtool", "check", "metrics", (char *)NULL);
        _exit(127);
    }
    close(in);
    close(pipefd[1]);
    if (pid < 0) {
        snprintf(out, n, "fork: %s", strerror(errno));
        close(pipefd[0]);
        return -1;
    }
    size_t used = 0;
    uint64_t deadline = co_now_us() + (uint64_t)timeout_ms * 1000;
    int timed_out = 0;
    for (;;) {
        uint64_t now = co_now_us();
        if (now >= deadline) {
            timed_out = 1;
            break;
        }
        struct pollfd pf = {.fd = pipefd[0], .events = POLLIN};
        int r = poll(&pf, 1, (int)((deadline - now) / 1000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        char buf[512];
        ssize_t k = read(pipefd[0], buf, sizeof buf);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        for (ssize_t i = 0; i < k && used + 1 < n; i++)
            out[used++] = buf[i] == '\n' ? ' ' : buf[i];
        out[used] = '\0';
    }
    close(pipefd[0]);
    if (timed_out)
        kill(pid, SIGKILL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (timed_out) {
        snprintf(out, n, "promtool did not finish within %d ms", timeout_ms);
        return -1;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) == 127) {
        snprintf(out, n, "promtool could not run");
        return -1;
    }
    return WEXITSTATUS(st);
}

/* ---- taking probes ----------------------------------------------------------- */

#define PROBE_MAX_HEADERS 8192

struct harness_probe_xfer {
    struct harness_xfer base;
    struct harness_prober *p;
    size_t idx; /* into p->obs->probes */
    CURL *easy;
    struct harness_probe_xfer *next;
    size_t hlen;
};

static size_t probe_on_body(char *d, size_t s, size_t n, void *u)
{
    struct harness_probe_xfer *x = u;
    struct harness_probe *pr = &x->p->obs->probes[x->idx];
    size_t k = s * n, room = HARNESS_PROBE_MAX_BODY - pr->len;
    if (k > room)
        pr->truncated = 1;
    size_t take = k < room ? k : room;
    if (take) {
        pr->body = co_realloc(pr->body, pr->len + take + 1);
        memcpy(pr->body + pr->len, d, take);
        pr->len += take;
        pr->body[pr->len] = '\0';
    }
    return k;
}

static size_t probe_on_header(char *d, size_t s, size_t n, void *u)
{
    struct harness_probe_xfer *x = u;
    struct harness_probe *pr = &x->p->obs->probes[x->idx];
    size_t k = s * n, take = x->hlen + k < PROBE_MAX_HEADERS ? k : PROBE_MAX_HEADERS - x->hlen;
    if (take) {
        pr->headers = co_realloc(pr->headers, x->hlen + take + 1);
        memcpy(pr->headers + x->hlen, d, take);
        x->hlen += take;
        pr->headers[x->hlen] = '\0';
    }
    return k;
}

static void unlink_probe(struct harness_prober *p, struct harness_probe_xfer *x)
{
    for (struct harness_probe_xfer **q = &p->live; *q; q = &(*q)->next)
        if (*q == x) {
            *q = x->next;
            break;
        }
    p->inflight--;
}

static void probe_done(struct harness_xfer *base, CURL *easy, CURLcode rc)
{
    struct harness_probe_xfer *x = (struct harness_probe_xfer *)base;
    struct harness_probe *pr = &x->p->obs->probes[x->idx];
    pr->t_done = co_now_us();
    pr->curl_rc = (int)rc;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &pr->status);
    char *ct = NULL;
    if (curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
        snprintf(pr->ctype, sizeof pr->ctype, "%s", ct);
    if (rc != CURLE_OK)
        snprintf(pr->curl_err, sizeof pr->curl_err, "%s", curl_easy_strerror(rc));
    curl_easy_cleanup(easy);
    unlink_probe(x->p, x);
    free(x);
}

void harness_probe_send(struct harness_prober *p, const char *base_url, int kind, const char *name,
                        int inflight, long answered)
{
    struct harness_obs *o = p->obs;
    if (o->n_probes >= HARNESS_MAX_PROBES || kind < 0 || kind >= HARNESS_PROBE_N)
        return;
    size_t idx = o->n_probes++;
    struct harness_probe *pr = &o->probes[idx];
    memset(pr, 0, sizeof *pr);
    snprintf(pr->name, sizeof pr->name, "%s", name);
    pr->kind = kind;
    pr->prom_rc = -1;
    pr->t_sent = co_now_us();
    pr->inflight = inflight;
    pr->answered = answered;
    memcpy(pr->path, o->probe_map.path[kind], sizeof pr->path);
    if (!pr->path[0]) {
        /* Nothing to ask: the checks say the relay declares no such endpoint. */
        pr->t_done = pr->t_sent;
        return;
    }
    struct harness_probe_xfer *x = co_calloc(1, sizeof *x);
    x->base.done = probe_done;
    x->p = p;
    x->idx = idx;
    char url[400];
    harness_v_fmt(url, sizeof url, "%s%s", base_url, pr->path);
    CURL *e = curl_easy_init();
    x->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, probe_on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, probe_on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    x->next = p->live;
    p->live = x;
    p->inflight++;
    co_evcurl_add(p->curl, e);
}

void harness_probe_abort(struct harness_prober *p)
{
    while (p->live) {
        struct harness_probe_xfer *x = p->live;
        struct harness_probe *pr = &p->obs->probes[x->idx];
        co_evcurl_remove(p->curl, x->easy);
        curl_easy_cleanup(x->easy);
        pr->t_done = co_now_us();
        pr->curl_rc = CURLE_ABORTED_BY_CALLBACK;
        snprintf(pr->curl_err, sizeof pr->curl_err, "never answered (abandoned at teardown)");
        unlink_probe(p, x);
        free(x);
    }
}

static int blank(char *s, size_t len, const char *secret)
{
    size_t k = strlen(secret);
    int hit = 0;
    for (char *q = s; s && k && (q = memmem(q, len - (size_t)(q - s), secret, k)); q += k) {
        memset(q, '*', k);
        hit = 1;
    }
    return hit;
}

size_t harness_probe_redact(struct harness_obs *o, const char *secret)
{
    size_t n = 0;
    for (size_t i = 0; secret && *secret && i < o->n_probes; i++) {
        struct harness_probe *p = &o->probes[i];
        int hit = blank(p->body, p->len, secret);
        hit |= blank(p->headers, p->headers ? strlen(p->headers) : 0, secret);
        n += (size_t)hit;
    }
    return n;
}

void harness_probe_finish(struct harness_obs *o, const char *dir)
{
    static const char *const ext[] = {"health.json", "metrics.json", "prom"};
    if (!o->n_probes)
        return;
    char path[1024];
    harness_v_fmt(path, sizeof path, "%s/probes", dir);
    mkdir(path, 0755);
    harness_v_fmt(path, sizeof path, "%s/probes.jsonl", dir);
    FILE *log = fopen(path, "w");
    for (size_t i = 0; i < o->n_probes; i++) {
        struct harness_probe *pr = &o->probes[i];
        char safe[64], body_path[1024] = "";
        report_safe_name(pr->name, safe, sizeof safe);
        if (pr->body) {
            harness_v_fmt(body_path, sizeof body_path, "%s/probes/%s.%s", dir, safe, ext[pr->kind]);
            FILE *f = fopen(body_path, "w");
            if (f) {
                fwrite(pr->body, 1, pr->len, f);
                fclose(f);
            }
        }
        if (pr->kind == HARNESS_PROBE_PROM && pr->body && pr->status / 100 == 2)
            pr->prom_rc =
                harness_promtool_check(body_path, 10000, pr->prom_out, sizeof pr->prom_out);
        else if (pr->kind == HARNESS_PROBE_PROM)
            snprintf(pr->prom_out, sizeof pr->prom_out, "no page to check (%s)",
                     !pr->path[0] ? "no endpoint declared"
                     : pr->status ? "not a 2xx answer"
                                  : "no answer");
        if (!log)
            continue;
        json_t *j =
            json_pack("{s:s, s:s, s:s, s:f, s:f, s:I, s:s, s:s, s:s?, s:s?, s:b, s:i, s:I}", "name",
                      pr->name, "kind", harness_probe_kinds[pr->kind], "path", pr->path,
                      "t_sent_ms", ((double)pr->t_sent - (double)o->t0) / 1000.0, "t_done_ms",
                      ((double)pr->t_done - (double)o->t0) / 1000.0, "status",
                      (json_int_t)pr->status, "error", pr->curl_err, "content_type", pr->ctype,
                      "headers", pr->headers, "body", pr->body, "truncated", pr->truncated,
                      "inflight", pr->inflight, "answered", (json_int_t)pr->answered);
        if (pr->kind == HARNESS_PROBE_PROM)
            json_object_set_new(j, "promtool",
                                json_pack("{s:i, s:s}", "rc", pr->prom_rc, "output", pr->prom_out));
        char *line = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        if (line)
            fprintf(log, "%s\n", line);
        free(line);
        json_decref(j);
    }
    if (log)
        fclose(log);
}
