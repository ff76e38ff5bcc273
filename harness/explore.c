/* cutover explore, the pure part (see explore.h and docs/explore.md).
 *
 * A case is an ordinary scenario document: the relay settings drawn from
 * the model, one or two traffic phases, and fault segments as timeline steps
 * (a step that gives a colour a fault, marked "f<k>-<colour>-<fault>", and
 * usually a step that makes it healthy again, "f<k>-<colour>-end").  The
 * marks carry the fault names, so coverage and the shrinker read a case
 * back from its own document, and a found file needs nothing beside it. */
#include "harness/explore.h"

#include "co_mem.h"
#include "co_rng.h"
#include "harness/vutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char harness_explore_default_model[] =
    "{\n"
    "  \"faults\": [\n"
    "    {\"name\": \"503\", \"weight\": 3, \"behavior\": {\"status\": 503}},\n"
    "    {\"name\": \"503-retry-after\", \"weight\": 2, \"behavior\": {\"status\": 503, "
    "\"retry_after_ms\": 150}, \"simpler\": \"503\"},\n"
    "    {\"name\": \"429\", \"weight\": 1, \"behavior\": {\"status\": 429}},\n"
    "    {\"name\": \"429-retry-after\", \"weight\": 2, \"behavior\": {\"status\": 429, "
    "\"retry_after_ms\": 200}, \"simpler\": \"429\"},\n"
    "    {\"name\": \"500-half\", \"weight\": 2, \"behavior\": {\"status\": 500, \"p\": 0.5}, "
    "\"simpler\": \"500\"},\n"
    "    {\"name\": \"500\", \"weight\": 1, \"behavior\": {\"status\": 500}},\n"
    "    {\"name\": \"401\", \"weight\": 2, \"behavior\": {\"status\": 401}},\n"
    "    {\"name\": \"reset\", \"weight\": 2, \"behavior\": {\"fault\": \"reset\"}},\n"
    "    {\"name\": \"close\", \"weight\": 1, \"behavior\": {\"fault\": \"close\"}},\n"
    "    {\"name\": \"timeout\", \"weight\": 1, \"behavior\": {\"fault\": \"timeout\"}},\n"
    "    {\"name\": \"stall\", \"weight\": 1, \"behavior\": {\"fault\": {\"type\": \"stall\", "
    "\"stall_ms\": 1500}}},\n"
    "    {\"name\": \"cut\", \"weight\": 2, \"behavior\": {\"fault\": {\"type\": \"cut\", "
    "\"after_chunks\": 2}}},\n"
    "    {\"name\": \"malformed\", \"weight\": 1, \"behavior\": {\"fault\": \"malformed\"}},\n"
    "    {\"name\": \"slow-200ms\", \"weight\": 1, \"behavior\": {\"latency_ms\": 200}},\n"
    "    {\"name\": \"probe-down\", \"weight\": 3, \"behavior\": {\"health\": \"down\"}},\n"
    "    {\"name\": \"down\", \"weight\": 2, \"behavior\": \"down\", \"simpler\": \"probe-down\"}\n"
    "  ],\n"
    "  \"relay\": {\n"
    "    \"max_attempts\": [2, 3, 4],\n"
    "    \"jitter\": [\"none\", \"full\", \"equal\"],\n"
    "    \"backoff_base_ms\": [10, 20, 40],\n"
    "    \"backoff_cap_ms\": [200],\n"
    "    \"retry_after_cap_ms\": [1000],\n"
    "    \"switch_after_failures\": [1, 2, 3],\n"
    "    \"min_dwell_ms\": [0, 1000, 2000],\n"
    "    \"health_interval_ms\": [100, 200],\n"
    "    \"health_fall\": [1, 2, 3],\n"
    "    \"health_rise\": [1, 2],\n"
    "    \"try_timeout_ms\": [1000],\n"
    "    \"deadline_ms\": [4000]\n"
    "  },\n"
    "  \"segments\": {\"max\": 3, \"min_ms\": 300, \"max_ms\": 2500},\n"
    "  \"run_ms\": {\"min\": 1000, \"max\": 3000},\n"
    "  \"rate_rps\": {\"min\": 10, \"max\": 40},\n"
    "  \"stream_share\": 0.4,\n"
    "  \"admin_share\": 0.2,\n"
    "  \"handoff_share\": 0.3,\n"
    "  \"rate_limit\": {\"share\": 0.2, \"requests\": [3, 5, 8], \"window_ms\": [300, 500]},\n"
    "  \"liveness_min\": 0.25,\n"
    "  \"off\": []\n"
    "}\n";

static const char *const model_keys[] = {
    "faults",      "relay",      "segments",     "run_ms", "rate_rps",      "stream_share",
    "admin_share", "rate_limit", "liveness_min", "off",    "handoff_share", NULL};

/* ---- the model ---------------------------------------------------------- */

static int range_pair(const json_t *doc, const char *key, const char *lo_key, const char *hi_key,
                      double max, int *lo, int *hi, const char *file, char *err, size_t errlen)
{
    json_t *o = json_object_get(doc, key);
    if (!o)
        return 0;
    char path[128], e[512];
    harness_v_fmt(path, sizeof path, "$.%s", key);
    double a = *lo, b = *hi;
    if (!json_is_object(o)) {
        harness_v_expected(e, sizeof e, path, "an object", o);
        goto bad;
    }
    if (harness_v_number(o, lo_key, path, 0, max, &a, e, sizeof e) ||
        harness_v_number(o, hi_key, path, 0, max, &b, e, sizeof e))
        goto bad;
    if (a > b) {
        harness_v_fmt(e, sizeof e, "%s: expected %s <= %s, found %g > %g", path, lo_key, hi_key, a,
                      b);
        goto bad;
    }
    *lo = (int)a;
    *hi = (int)b;
    return 0;
bad:
    harness_v_fmt(err, errlen, "%s: %s", file, e);
    return -1;
}

static int share(const json_t *doc, const char *key, double *out, const char *file, char *err,
                 size_t errlen)
{
    char e[512];
    if (harness_v_number(doc, key, "$", 0, 1, out, e, sizeof e) == 0)
        return 0;
    harness_v_fmt(err, errlen, "%s: %s", file, e);
    return -1;
}

static int load_faults(const json_t *arr, struct harness_explore_model *m, const char *file,
                       char *err, size_t errlen)
{
    static const char *const keys[] = {"name", "weight", "behavior", "simpler", NULL};
    char e[512], path[64];
    if (!json_is_array(arr) || json_array_size(arr) == 0 ||
        json_array_size(arr) > HARNESS_EXPLORE_MAX_FAULTS) {
        harness_v_expected(e, sizeof e, "$.faults", "an array of 1..48 faults", arr);
        goto bad;
    }
    size_t i;
    json_t *f;
    json_array_foreach(arr, i, f)
    {
        harness_v_fmt(path, sizeof path, "$.faults[%zu]", i);
        if (!json_is_object(f)) {
            harness_v_expected(e, sizeof e, path, "an object", f);
            goto bad;
        }
        if (harness_v_keys(f, path, keys, e, sizeof e))
            goto bad;
        const char *name = json_string_value(json_object_get(f, "name"));
        if (!name || !*name || strlen(name) >= sizeof m->faults[0].name || strchr(name, ' ')) {
            char p2[80];
            harness_v_fmt(p2, sizeof p2, "%s.name", path);
            harness_v_expected(e, sizeof e, p2, "a name of 1..47 characters without spaces",
                               json_object_get(f, "name"));
            goto bad;
        }
        json_t *b = json_object_get(f, "behavior");
        if (!json_is_object(b) && !json_is_string(b)) {
            char p2[80];
            harness_v_fmt(p2, sizeof p2, "%s.behavior", path);
            harness_v_expected(e, sizeof e, p2, "a behaviour (docs/scenarios.md)", b);
            goto bad;
        }
        struct harness_explore_fault *x = &m->faults[m->n_faults++];
        snprintf(x->name, sizeof x->name, "%s", name);
        x->weight = 1;
        if (harness_v_number(f, "weight", path, 0, 1000, &x->weight, e, sizeof e))
            goto bad;
        x->behavior = json_deep_copy(b);
        const char *s = json_string_value(json_object_get(f, "simpler"));
        snprintf(x->simpler, sizeof x->simpler, "%s", s ? s : "");
    }
    for (size_t k = 0; k < m->n_faults; k++) {
        if (!m->faults[k].simpler[0])
            continue;
        int found = 0;
        for (size_t q = 0; q < m->n_faults; q++)
            found |= strcmp(m->faults[q].name, m->faults[k].simpler) == 0;
        if (!found) {
            harness_v_fmt(e, sizeof e, "$.faults[%zu].simpler: no fault named '%s'", k,
                          m->faults[k].simpler);
            goto bad;
        }
    }
    return 0;
bad:
    harness_v_fmt(err, errlen, "%s: %s", file, e);
    return -1;
}

int harness_explore_model_load(const char *path, struct harness_explore_model *m, char *err,
                               size_t errlen)
{
    memset(m, 0, sizeof *m);
    json_error_t je;
    const char *file = path ? path : "(built-in model)";
    m->doc =
        path ? json_load_file(path, 0, &je) : json_loads(harness_explore_default_model, 0, &je);
    if (!m->doc) {
        harness_v_fmt(err, errlen, "%s:%d:%d: %s", file, je.line, je.column, je.text);
        return -1;
    }
    char e[512];
    if (!json_is_object(m->doc)) {
        harness_v_expected(e, sizeof e, "$", "an object", m->doc);
        harness_v_fmt(err, errlen, "%s: %s", file, e);
        goto bad;
    }
    if (harness_v_keys(m->doc, "$", model_keys, e, sizeof e)) {
        harness_v_fmt(err, errlen, "%s: %s", file, e);
        goto bad;
    }
    /* Anything the file leaves out comes from the built-in default. */
    json_t *def = json_loads(harness_explore_default_model, 0, NULL);
    const char *k;
    json_t *v;
    json_object_foreach(def, k, v)
    {
        if (!json_object_get(m->doc, k))
            json_object_set(m->doc, k, v);
    }
    json_decref(def);
    if (load_faults(json_object_get(m->doc, "faults"), m, file, err, errlen))
        goto bad;
    m->relay = json_object_get(m->doc, "relay");
    json_object_foreach(m->relay, k, v)
    {
        if (!json_is_array(v) || json_array_size(v) == 0) {
            char p[128];
            harness_v_fmt(p, sizeof p, "$.relay.%s", k);
            harness_v_expected(e, sizeof e, p, "a non-empty array of choices", v);
            harness_v_fmt(err, errlen, "%s: %s", file, e);
            goto bad;
        }
    }
    m->max_segments = 3;
    m->seg_min_ms = 300, m->seg_max_ms = 1500, m->dur_min_ms = 1000, m->dur_max_ms = 2500;
    m->rate_min = 10, m->rate_max = 40;
    int one = 0;
    if (range_pair(m->doc, "segments", "min_ms", "max_ms", 60000, &m->seg_min_ms, &m->seg_max_ms,
                   file, err, errlen) ||
        range_pair(m->doc, "segments", "max", "max", 8, &m->max_segments, &m->max_segments, file,
                   err, errlen) ||
        range_pair(m->doc, "run_ms", "min", "max", 60000, &m->dur_min_ms, &m->dur_max_ms, file, err,
                   errlen) ||
        range_pair(m->doc, "rate_rps", "min", "max", 500, &m->rate_min, &m->rate_max, file, err,
                   errlen))
        goto bad;
    (void)one;
    if (m->dur_min_ms < 300 || m->rate_min < 1) {
        harness_v_fmt(err, errlen, "%s: $.run_ms.min: at least 300, $.rate_rps.min at least 1",
                      file);
        goto bad;
    }
    if (share(m->doc, "stream_share", &m->stream_share, file, err, errlen) ||
        share(m->doc, "admin_share", &m->admin_share, file, err, errlen) ||
        share(m->doc, "handoff_share", &m->handoff_share, file, err, errlen) ||
        share(m->doc, "liveness_min", &m->liveness_min, file, err, errlen))
        goto bad;
    m->ratelimit = json_object_get(m->doc, "rate_limit");
    if (!json_is_object(m->ratelimit) ||
        share(m->ratelimit, "share", &m->ratelimit_share, file, err, errlen))
        goto bad;
    if (m->ratelimit_share > 0 && (!json_array_size(json_object_get(m->ratelimit, "requests")) ||
                                   !json_array_size(json_object_get(m->ratelimit, "window_ms")))) {
        harness_v_fmt(err, errlen,
                      "%s: $.rate_limit: expected non-empty arrays requests and "
                      "window_ms",
                      file);
        goto bad;
    }
    m->off = json_object_get(m->doc, "off");
    size_t i;
    json_array_foreach(m->off, i, v)
    {
        int known = 0;
        for (const struct harness_explore_invariant *inv = harness_explore_invariants; inv->name;
             inv++)
            known |= json_is_string(v) && strcmp(inv->name, json_string_value(v)) == 0;
        if (!known) {
            char p[64];
            harness_v_fmt(p, sizeof p, "$.off[%zu]", i);
            harness_v_expected(e, sizeof e, p, "an invariant name (docs/explore.md)", v);
            harness_v_fmt(err, errlen, "%s: %s", file, e);
            goto bad;
        }
    }
    return 0;
bad:
    harness_explore_model_free(m);
    return -1;
}

void harness_explore_model_free(struct harness_explore_model *m)
{
    for (size_t i = 0; i < m->n_faults; i++)
        json_decref(m->faults[i].behavior);
    json_decref(m->doc);
    memset(m, 0, sizeof *m);
}

static const struct harness_explore_fault *fault_named(const struct harness_explore_model *m,
                                                       const char *name)
{
    for (size_t i = 0; i < m->n_faults; i++)
        if (strcmp(m->faults[i].name, name) == 0)
            return &m->faults[i];
    return NULL;
}

/* ---- generation --------------------------------------------------------- */

static json_t *pick(struct co_rng *r, const json_t *arr)
{
    size_t n = json_array_size(arr);
    return n ? json_array_get(arr, (size_t)co_rng_range(r, 0, n - 1)) : NULL;
}

static const struct harness_explore_fault *pick_fault(const struct harness_explore_model *m,
                                                      struct co_rng *r)
{
    double total = 0;
    for (size_t i = 0; i < m->n_faults; i++)
        total += m->faults[i].weight;
    double x = co_rng_double(r) * total;
    for (size_t i = 0; i < m->n_faults; i++) {
        if (x < m->faults[i].weight)
            return &m->faults[i];
        x -= m->faults[i].weight;
    }
    return &m->faults[m->n_faults - 1];
}

static int irange(struct co_rng *r, int lo, int hi, int step)
{
    int v = (int)co_rng_range(r, (uint64_t)lo, (uint64_t)hi);
    return step > 1 ? v / step * step : v;
}

static int step_cmp(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t tx = json_integer_value(json_object_get(x, "at_ms")),
               ty = json_integer_value(json_object_get(y, "at_ms"));
    if (tx != ty)
        return tx < ty ? -1 : 1;
    /* Same instant: keep generation order (stored in "_i" while sorting). */
    json_int_t ix = json_integer_value(json_object_get(x, "_i")),
               iy = json_integer_value(json_object_get(y, "_i"));
    return ix < iy ? -1 : ix > iy;
}

static void sort_steps(json_t *tl)
{
    size_t n = json_array_size(tl);
    json_t **v = co_calloc(n + 1, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i] = json_incref(json_array_get(tl, i));
        json_object_set_new(v[i], "_i", json_integer((json_int_t)i));
    }
    qsort(v, n, sizeof *v, step_cmp);
    json_array_clear(tl);
    for (size_t i = 0; i < n; i++) {
        json_object_del(v[i], "_i");
        json_array_append_new(tl, v[i]);
    }
    free(v);
}

json_t *harness_explore_generate(const struct harness_explore_model *m, uint64_t seed,
                                 unsigned index)
{
    struct co_rng r;
    co_rng_seed(&r, seed * 0x9E3779B97F4A7C15ull + index + 1);
    json_t *relay = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(m->relay, k, v) json_object_set(relay, k, pick(&r, v));
    int limited = m->ratelimit_share > 0 && co_rng_double(&r) < m->ratelimit_share;
    if (limited) {
        json_object_set(relay, "rate_limit_requests",
                        pick(&r, json_object_get(m->ratelimit, "requests")));
        json_object_set(relay, "rate_limit_window_ms",
                        pick(&r, json_object_get(m->ratelimit, "window_ms")));
        json_object_set_new(relay, "client_keys", json_pack("[s]", "explore-client-key"));
    }
    int dur = irange(&r, m->dur_min_ms, m->dur_max_ms, 100);
    if (dur < 300)
        dur = 300;
    int rate = irange(&r, m->rate_min, m->rate_max, 1);
    json_t *phases = json_array();
    json_t *plain =
        json_pack("{s:i, s:i, s:i}", "rate_rps", rate, "duration_ms", dur, "start_ms", 0);
    json_array_append_new(phases, plain);
    if (co_rng_double(&r) < m->stream_share) {
        int sr = rate / 2 > 5 ? rate / 2 : 5;
        json_array_append_new(phases, json_pack("{s:i, s:i, s:i, s:b}", "rate_rps", sr,
                                                "duration_ms", dur, "start_ms", 0, "stream", 1));
    }
    if (limited) {
        size_t i;
        json_array_foreach(phases, i, v)
            json_object_set_new(v, "client_key", json_string("explore-client-key"));
    }
    json_t *tl = json_array();
    /* Half the cases have one segment: simple cases meet more invariants'
     * preconditions, and a bug that needs no combination is found first. */
    int maxseg = m->max_segments > 0 ? m->max_segments : 1;
    int nseg = co_rng_double(&r) < 0.5 ? 1 : irange(&r, 1, maxseg, 1);
    /* A hand-off: the first fault moves to the other colour around the time
     * it ends there (a bad deploy rolled on from blue to green), the
     * combination that makes a relay flap. */
    int handoff = co_rng_double(&r) < m->handoff_share;
    const struct harness_explore_fault *f0 = NULL;
    const char *env0 = NULL;
    int end0 = 0;
    for (int s = 0; s < nseg + handoff && m->n_faults; s++) {
        const char *env = co_rng_double(&r) < 0.7 ? "blue" : "green";
        const struct harness_explore_fault *f = pick_fault(m, &r);
        int at = irange(&r, 0, dur - 200 > 0 ? dur - 200 : 0, 50);
        int len = irange(&r, m->seg_min_ms, m->seg_max_ms, 50);
        if (s == 0) {
            f0 = f, env0 = env, end0 = at + len;
        } else if (s == nseg) {
            if (end0 >= dur - 100)
                break;
            f = f0;
            env = strcmp(env0, "blue") == 0 ? "green" : "blue";
            at = irange(&r, end0 > 100 ? end0 - 100 : 0, end0 + 100, 50);
        }
        char mark[128];
        harness_v_fmt(mark, sizeof mark, "f%d-%s-%s", s + 1, env, f->name);
        json_array_append_new(
            tl, json_pack("{s:i, s:s, s:O}", "at_ms", at, "mark", mark, env, f->behavior));
        if (at + len < dur) {
            harness_v_fmt(mark, sizeof mark, "f%d-%s-end", s + 1, env);
            json_array_append_new(
                tl, json_pack("{s:i, s:s, s:s}", "at_ms", at + len, "mark", mark, env, "healthy"));
        }
    }
    if (co_rng_double(&r) < m->admin_share) {
        int at = irange(&r, 0, dur - 100 > 0 ? dur - 100 : 0, 50);
        json_t *admin;
        switch (co_rng_range(&r, 0, 2)) {
        case 0:
            admin = json_pack("{s:s, s:s}", "action", "switch", "to", "green");
            break;
        case 1:
            admin = json_pack("{s:s}", "action", "rollback");
            break;
        default:
            admin = json_pack("{s:s, s:i, s:i}", "action", "weights", "blue", 50, "green", 50);
        }
        char mark[64];
        harness_v_fmt(mark, sizeof mark, "admin-%s",
                      json_string_value(json_object_get(admin, "action")));
        json_array_append_new(
            tl, json_pack("{s:i, s:s, s:o}", "at_ms", at, "mark", mark, "admin", admin));
    }
    sort_steps(tl);
    char name[96], desc[256];
    harness_v_fmt(name, sizeof name, "explore-%llu-%u", (unsigned long long)seed, index);
    harness_v_fmt(desc, sizeof desc,
                  "Generated by cutover explore (seed %llu, case %u): fault segments and admin "
                  "actions drawn from the fault model, checked against the invariants.",
                  (unsigned long long)seed, index);
    json_t *sc =
        json_pack("{s:s, s:s, s:[s], s:o, s:{s:{s:i}, s:{s:i}}, s:o, s:o}", "name", name,
                  "description", desc, "tags", "explore", "relay", relay, "upstreams", "blue",
                  "latency_ms", 5, "green", "latency_ms", 5, "timeline", tl, "traffic", phases);
    harness_explore_set_expect(m, sc, NULL);
    return sc;
}

/* ---- what a case does (read back from its document) ---------------------- */

struct harness_explore_facts {
    int dur_ms;
    int has_401, has_429, has_429_plain, has_503_plain, has_ra, min_ra, ra_over_cap;
    int has_other_retryable; /* 5xx, transport faults, malformed answers */
    int has_slow_end;        /* timeout or stall: the mock finishes after the relay gave up */
    int has_inband;
    int touched[2];
    int nfaulted[2], faulted[2][32][2]; /* when each colour was faulted: [from, to) ms */
    int probe_down[2], probe_at[2], probe_len[2];
    char probe_mark[2][128];
    int has_admin, streams, limited;
};

/* Reads one behaviour given to colour e by a step at `at`, lasting `len`. */
static void scan_behavior(const json_t *b, int e, int at, int len, const char *mark, int cap,
                          struct harness_explore_facts *f)
{
    const char *s = json_string_value(b);
    int probe_down = 0;
    if (s) {
        if (strcmp(s, "healthy") == 0)
            return;
        f->touched[e] = 1;
        if (f->nfaulted[e] < 32) {
            f->faulted[e][f->nfaulted[e]][0] = at;
            f->faulted[e][f->nfaulted[e]++][1] = at + len;
        }
        if (strcmp(s, "down") == 0) {
            f->has_503_plain = 1;
            probe_down = 1;
        } else {
            f->has_other_retryable = 1; /* "refused" and anything unknown */
        }
    } else if (json_is_object(b)) {
        json_t *st = json_object_get(b, "status"), *ra = json_object_get(b, "retry_after_ms"),
               *ras = json_object_get(b, "retry_after_s"), *fault = json_object_get(b, "fault"),
               *h = json_object_get(b, "health");
        if (json_object_size(b) == 1 && json_object_get(b, "latency_ms") &&
            json_integer_value(json_object_get(b, "latency_ms")) <= 5)
            return;
        f->touched[e] = 1;
        if (f->nfaulted[e] < 32) {
            f->faulted[e][f->nfaulted[e]][0] = at;
            f->faulted[e][f->nfaulted[e]++][1] = at + len;
        }
        if (st) {
            int code = (int)json_integer_value(st);
            f->has_429 |= code == 429;
            int ms = ra    ? (int)json_integer_value(ra)
                     : ras ? (int)json_integer_value(ras) * 1000
                           : -1;
            if (ms >= 0 && (code == 429 || code == 503)) {
                f->has_ra = 1;
                if (ms > cap)
                    f->ra_over_cap = 1;
                else if (!f->min_ra || ms < f->min_ra)
                    f->min_ra = ms;
            } else if (code == 429) {
                f->has_429_plain = 1;
            } else if (code == 503) {
                f->has_503_plain = 1;
            } else if (code == 401) {
                f->has_401 = 1;
            } else if (code >= 500 || code == 408) {
                f->has_other_retryable = 1;
            }
        }
        if (fault) {
            const char *t = json_is_string(fault)
                                ? json_string_value(fault)
                                : json_string_value(json_object_get(fault, "type"));
            t = t ? t : "";
            if (strcmp(t, "timeout") == 0 || strcmp(t, "stall") == 0 || strcmp(t, "slow") == 0)
                f->has_slow_end = 1;
            if (strcmp(t, "inband_error") == 0)
                f->has_inband = 1;
            else
                f->has_other_retryable = 1;
        }
        if (h) {
            const char *hs = json_string_value(h);
            probe_down = (hs && strcmp(hs, "down") == 0) || json_object_get(h, "status");
        }
        json_t *lat = json_object_get(b, "latency_ms");
        if (lat && json_integer_value(lat) > 500)
            f->has_slow_end = 1;
    }
    if (probe_down && !f->probe_down[e]) {
        f->probe_down[e] = 1;
        f->probe_len[e] = len;
        f->probe_at[e] = at;
        snprintf(f->probe_mark[e], sizeof f->probe_mark[e], "%s", mark ? mark : "start");
    }
}

static void scan(const json_t *sc, struct harness_explore_facts *f)
{
    memset(f, 0, sizeof *f);
    const json_t *relay = json_object_get(sc, "relay");
    int cap = (int)json_integer_value(json_object_get(relay, "retry_after_cap_ms"));
    f->limited = json_object_get(relay, "rate_limit_requests") != NULL;
    json_t *traffic = json_object_get(sc, "traffic"), *ph;
    size_t i;
    if (json_is_object(traffic)) {
        f->dur_ms = (int)json_integer_value(json_object_get(traffic, "duration_ms"));
        f->streams = json_is_true(json_object_get(traffic, "stream"));
    }
    json_array_foreach(traffic, i, ph)
    {
        int d = (int)json_integer_value(json_object_get(ph, "start_ms")) +
                (int)json_integer_value(json_object_get(ph, "duration_ms"));
        if (d > f->dur_ms)
            f->dur_ms = d;
        f->streams |= json_is_true(json_object_get(ph, "stream"));
    }
    const char *envs[2] = {"blue", "green"};
    json_t *up = json_object_get(sc, "upstreams");
    for (int e = 0; e < 2; e++)
        scan_behavior(json_object_get(up, envs[e]), e, 0, f->dur_ms, "start", cap, f);
    json_t *tl = json_object_get(sc, "timeline"), *st;
    json_array_foreach(tl, i, st)
    {
        if (json_object_get(st, "admin") || json_object_get(st, "signal"))
            f->has_admin = 1;
        int at = (int)json_integer_value(json_object_get(st, "at_ms"));
        for (int e = 0; e < 2; e++) {
            json_t *b = json_object_get(st, envs[e]);
            if (!b)
                continue;
            /* The segment lasts until the next step for the same colour. */
            int end = f->dur_ms;
            for (size_t j = i + 1; j < json_array_size(tl); j++)
                if (json_object_get(json_array_get(tl, j), envs[e])) {
                    end = (int)json_integer_value(json_object_get(json_array_get(tl, j), "at_ms"));
                    break;
                }
            scan_behavior(b, e, at, end - at, json_string_value(json_object_get(st, "mark")), cap,
                          f);
        }
    }
}

/* Whether colour e had any fault during [from, to). */
static int faulted_during(const struct harness_explore_facts *f, int e, int from, int to)
{
    for (int i = 0; i < f->nfaulted[e]; i++)
        if (f->faulted[e][i][0] < to && f->faulted[e][i][1] > from)
            return 1;
    return 0;
}

/* ---- invariants ---------------------------------------------------------- */

static int rint_of(const json_t *relay, const char *key, int def)
{
    json_t *v = json_object_get(relay, key);
    return json_is_number(v) ? (int)json_number_value(v) : def;
}

/* Every client request ends within the relay's deadline plus a margin for
 * the last attempt's answer and a loaded machine. */
static json_t *inv_ends(const struct harness_explore_facts *f, const json_t *relay,
                        const struct harness_explore_model *m)
{
    return json_pack("{s:s, s:i, s:s}", "check", "client_deadline", "max_ms",
                     rint_of(relay, "deadline_ms", 4000) + 2000, "from", "sent");
}

static json_t *inv_truncated(const struct harness_explore_facts *f, const json_t *relay,
                             const struct harness_explore_model *m)
{
    return json_pack("{s:s}", "check", "no_truncated_success");
}

static json_t *inv_attempts(const struct harness_explore_facts *f, const json_t *relay,
                            const struct harness_explore_model *m)
{
    return json_pack("{s:s, s:i}", "check", "attempts", "max", rint_of(relay, "max_attempts", 3));
}

/* The jitter kind's lower bound.  Only without Retry-After (an honoured
 * Retry-After replaces the backoff) and without faults that leave the mock
 * busy after the relay gave up (its journal's end time then says nothing
 * about when the relay started waiting).  The upper bound is left out: a
 * loaded machine is late, never early. */
static json_t *inv_backoff(const struct harness_explore_facts *f, const json_t *relay,
                           const struct harness_explore_model *m)
{
    if (f->has_ra || f->has_slow_end)
        return NULL;
    json_t *j = json_object_get(relay, "jitter");
    return json_pack("{s:s, s:i, s:i, s:s, s:i}", "check", "backoff_gaps", "base_ms",
                     rint_of(relay, "backoff_base_ms", 10), "cap_ms",
                     rint_of(relay, "backoff_cap_ms", 200), "jitter",
                     json_is_string(j) ? json_string_value(j) : "none", "tolerance_ms", 100000);
}

/* A retry on the same colour after a 429/503 with Retry-After (up to the
 * cap) waits at least the shortest Retry-After of the case; only when every
 * 429/503 of the case carries one the relay can honour. */
static json_t *inv_retry_after(const struct harness_explore_facts *f, const json_t *relay,
                               const struct harness_explore_model *m)
{
    if (!f->has_ra || !f->min_ra || f->ra_over_cap || f->has_429_plain || f->has_503_plain)
        return NULL;
    return json_pack("{s:s, s:i}", "check", "retry_after", "min_ms", f->min_ra);
}

/* When the only upstream failures are 401s, no request is tried twice. */
static json_t *inv_no_retry_401(const struct harness_explore_facts *f, const json_t *relay,
                                const struct harness_explore_model *m)
{
    if (!f->has_401 || f->has_429_plain || f->has_503_plain || f->has_ra ||
        f->has_other_retryable || f->has_inband)
        return NULL;
    return json_pack("{s:s, s:i}", "check", "attempts", "max", 1);
}

/* Switches min_dwell_ms apart, when every switch is failure-driven (an
 * unhealthy colour and an admin are allowed to switch at once). */
static json_t *inv_dwell(const struct harness_explore_facts *f, const json_t *relay,
                         const struct harness_explore_model *m)
{
    int dwell = rint_of(relay, "min_dwell_ms", 0);
    if (dwell <= 0 || f->has_admin || f->probe_down[0] || f->probe_down[1])
        return NULL;
    return json_pack("{s:s, s:i}", "check", "min_dwell", "min_ms", dwell);
}

/* A colour whose probe stays down long enough is found unhealthy, and gets
 * no traffic from a grace after that until it recovers; only when the other
 * colour has no fault meanwhile (so nothing ever needs the sick one). */
static json_t *inv_unhealthy(const struct harness_explore_facts *f, const json_t *relay,
                             const struct harness_explore_model *m)
{
    int iv = rint_of(relay, "health_interval_ms", 200), fall = rint_of(relay, "health_fall", 1);
    if (f->has_admin)
        return NULL;
    for (int e = 0; e < 2; e++) {
        if (!f->probe_down[e] || f->probe_len[e] < (fall + 2) * iv + 600 ||
            faulted_during(f, !e, f->probe_at[e] - 1000, f->probe_at[e] + f->probe_len[e] + 1000))
            continue;
        return json_pack("{s:s, s:s, s:s, s:i}", "check", "no_traffic_after_unhealthy", "env",
                         e ? "green" : "blue", "after", f->probe_mark[e], "grace_ms", iv + 300);
    }
    return NULL;
}

static json_t *inv_rate_limit(const struct harness_explore_facts *f, const json_t *relay,
                              const struct harness_explore_model *m)
{
    if (!f->limited || f->has_429_plain || f->has_ra)
        return NULL;
    return json_pack("{s:s, s:i, s:i}", "check", "rate_limit", "limit",
                     rint_of(relay, "rate_limit_requests", 0), "window_ms",
                     rint_of(relay, "rate_limit_window_ms", 0));
}

/* While one colour stays healthy the whole run, most requests succeed.
 * Not with faults that are the client's problem (401), that arrive as a 200
 * (in-band errors), or a quota (429: the relay retries it on the same colour
 * and passes it on, by design, rather than move the storm), nor with the
 * client rate limit on. */
static json_t *inv_liveness(const struct harness_explore_facts *f, const json_t *relay,
                            const struct harness_explore_model *m)
{
    if ((f->touched[0] && f->touched[1]) || f->has_401 || f->has_inband || f->limited ||
        f->has_admin || f->has_429)
        return NULL;
    return json_pack("{s:s, s:f}", "check", "client_success_ratio", "min", m->liveness_min);
}

static json_t *inv_alive(const struct harness_explore_facts *f, const json_t *relay,
                         const struct harness_explore_model *m)
{
    return json_pack("{s:s}", "check", "relay_alive");
}

static json_t *inv_shutdown(const struct harness_explore_facts *f, const json_t *relay,
                            const struct harness_explore_model *m)
{
    return json_pack("{s:s}", "check", "clean_shutdown");
}

static json_t *inv_secret(const struct harness_explore_facts *f, const json_t *relay,
                          const struct harness_explore_model *m)
{
    return json_pack("{s:s}", "check", "no_secret_leak");
}

const struct harness_explore_invariant harness_explore_invariants[] = {
    {"request_ends", "every request ends within deadline_ms + 2 s (client_deadline)", inv_ends},
    {"no_truncated_success", "no cut or unfinished answer passed as a 200 (no_truncated_success)",
     inv_truncated},
    {"attempts_bounded", "no request tried more than max_attempts times (attempts)", inv_attempts},
    {"backoff_lower_bound",
     "no gap between attempts below the jitter kind's lower bound "
     "(backoff_gaps)",
     inv_backoff},
    {"retry_after_honoured",
     "a same-colour retry after a 429/503 waits its Retry-After "
     "(retry_after)",
     inv_retry_after},
    {"no_retry_401", "a 401 is never retried (attempts max 1 when 401 is the only failure)",
     inv_no_retry_401},
    {"min_dwell", "failure-driven switches at least min_dwell_ms apart (min_dwell)", inv_dwell},
    {"unhealthy_avoided",
     "a colour failing its probe is found and gets no traffic after a grace "
     "(no_traffic_after_unhealthy)",
     inv_unhealthy},
    {"rate_limit",
     "at most rate_limit_requests admitted per window, 429 with Retry-After "
     "(rate_limit)",
     inv_rate_limit},
    {"liveness",
     "while one colour stays healthy, the success ratio stays above liveness_min "
     "(client_success_ratio)",
     inv_liveness},
    {"relay_alive", "the relay is alive at the end (relay_alive)", inv_alive},
    {"clean_shutdown", "SIGTERM drains and exits 0 (clean_shutdown)", inv_shutdown},
    {"no_secret_leak", "the upstream key appears in no output (no_secret_leak)", inv_secret},
    {NULL, NULL, NULL},
};

static int is_off(const struct harness_explore_model *m, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(m->off, i, v) if (json_is_string(v) &&
                                         strcmp(json_string_value(v), name) == 0) return 1;
    return 0;
}

int harness_explore_set_expect(const struct harness_explore_model *m, json_t *sc, const char *only)
{
    struct harness_explore_facts f;
    scan(sc, &f);
    json_t *relay = json_object_get(sc, "relay");
    json_t *expect = json_array();
    for (const struct harness_explore_invariant *inv = harness_explore_invariants; inv->name;
         inv++) {
        if (only ? strcmp(only, inv->name) != 0 : is_off(m, inv->name))
            continue;
        json_t *c = inv->make(&f, relay, m);
        if (!c)
            continue;
        json_object_set_new(c, "note", json_string(inv->name));
        json_array_append_new(expect, c);
    }
    int n = (int)json_array_size(expect);
    json_object_set_new(sc, "expect", expect);
    return n;
}

size_t harness_explore_case_faults(const json_t *sc, const char **out, size_t cap)
{
    size_t n = 0, i;
    json_t *st;
    json_array_foreach(json_object_get(sc, "timeline"), i, st)
    {
        const char *mark = json_string_value(json_object_get(st, "mark"));
        if (!mark || mark[0] != 'f' || n >= cap)
            continue;
        const char *a = strchr(mark, '-');
        const char *b = a ? strchr(a + 1, '-') : NULL;
        if (b && strcmp(b + 1, "end") != 0)
            out[n++] = b + 1;
    }
    return n;
}

size_t harness_explore_steps(const json_t *sc)
{
    return json_array_size(json_object_get(sc, "timeline"));
}

int harness_explore_parse_budget(const char *s, double *seconds)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v <= 0 || !isfinite(v))
        return -1;
    if (*end == 0 || strcmp(end, "s") == 0)
        *seconds = v;
    else if (strcmp(end, "m") == 0)
        *seconds = v * 60;
    else if (strcmp(end, "h") == 0)
        *seconds = v * 3600;
    else
        return -1;
    return *seconds <= 7 * 24 * 3600 ? 0 : -1;
}

/* ---- shrinking candidates ----------------------------------------------- */

struct cands {
    const struct harness_explore_model *m;
    const char *inv;
    struct harness_explore_candidate *v;
    size_t n, cap;
};

/* Keeps c (taking the reference) when the invariant still applies to it. */
static void offer(struct cands *cs, json_t *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void offer(struct cands *cs, json_t *c, const char *fmt, ...)
{
    if (harness_explore_set_expect(cs->m, c, cs->inv) == 0) {
        json_decref(c);
        return;
    }
    if (cs->n == cs->cap) {
        cs->cap = cs->cap ? cs->cap * 2 : 16;
        cs->v = co_realloc(cs->v, cs->cap * sizeof *cs->v);
    }
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cs->v[cs->n].sc = c;
    cs->v[cs->n].what = strdup(buf);
    cs->n++;
}

/* The segment number k of a mark "f<k>-...", or 0. */
static int seg_of(const json_t *st)
{
    const char *mark = json_string_value(json_object_get(st, "mark"));
    return mark && mark[0] == 'f' ? atoi(mark + 1) : 0;
}

static int is_end(const json_t *st)
{
    const char *mark = json_string_value(json_object_get(st, "mark"));
    size_t n = mark ? strlen(mark) : 0;
    return n > 4 && strcmp(mark + n - 4, "-end") == 0;
}

static const char *mark_of(const json_t *st)
{
    const char *m = json_string_value(json_object_get(st, "mark"));
    return m ? m : "(unmarked)";
}

/* A copy of sc without the steps for which drop[i] is set. */
static json_t *without(const json_t *sc, const int *drop)
{
    json_t *c = json_deep_copy(sc), *tl = json_array(), *st;
    size_t i;
    json_array_foreach(json_object_get(sc, "timeline"), i, st) if (!drop[i])
        json_array_append_new(tl, json_deep_copy(st));
    json_object_set_new(c, "timeline", tl);
    return c;
}

static int run_ms(const json_t *sc)
{
    struct harness_explore_facts f;
    scan(sc, &f);
    return f.dur_ms;
}

/* A copy with every phase's duration set to dur and every step at or after
 * it dropped. */
static json_t *shortened(const json_t *sc, int dur)
{
    json_t *c = json_deep_copy(sc), *ph, *tl = json_array(), *st;
    size_t i;
    json_t *traffic = json_object_get(c, "traffic");
    if (json_is_object(traffic))
        json_object_set_new(traffic, "duration_ms", json_integer(dur));
    json_array_foreach(traffic, i, ph) json_object_set_new(ph, "duration_ms", json_integer(dur));
    json_array_foreach(json_object_get(c, "timeline"), i, st)
    {
        if (json_integer_value(json_object_get(st, "at_ms")) < dur)
            json_array_append(tl, st);
    }
    json_object_set_new(c, "timeline", tl);
    return c;
}

size_t harness_explore_candidates(const struct harness_explore_model *m, const json_t *sc,
                                  const char *inv, struct harness_explore_candidate **out)
{
    struct cands cs = {m, inv, NULL, 0, 0};
    json_t *tl = json_object_get(sc, "timeline");
    size_t n = json_array_size(tl);
    int *drop = co_calloc(n + 1, sizeof *drop);
    /* Whole segments first (a fault and its end), then halves of the
     * timeline, then single steps: the big cuts of delta debugging. */
    for (size_t i = 0; i < n; i++) {
        json_t *st = json_array_get(tl, i);
        if (is_end(st) || !seg_of(st))
            continue;
        memset(drop, 0, (n + 1) * sizeof *drop);
        for (size_t j = 0; j < n; j++)
            drop[j] = seg_of(json_array_get(tl, j)) == seg_of(st);
        offer(&cs, without(sc, drop), "removed fault segment '%s'", mark_of(st));
    }
    if (n >= 4) {
        for (int half = 0; half < 2; half++) {
            for (size_t j = 0; j < n; j++)
                drop[j] = half ? j >= n / 2 : j < n / 2;
            offer(&cs, without(sc, drop), "removed the %s half of the timeline (%zu steps)",
                  half ? "second" : "first", half ? n - n / 2 : n / 2);
        }
    }
    for (size_t i = 0; i < n; i++) {
        memset(drop, 0, (n + 1) * sizeof *drop);
        drop[i] = 1;
        json_t *st = json_array_get(tl, i);
        offer(&cs, without(sc, drop),
              is_end(st) ? "let the fault last: removed step '%s'" : "removed step '%s'",
              mark_of(st));
    }
    free(drop);
    /* A shorter run (every segment that starts after it goes too). */
    int dur = run_ms(sc);
    if (dur >= 600) {
        offer(&cs, shortened(sc, dur / 2 / 50 * 50), "run %d -> %d ms", dur, dur / 2 / 50 * 50);
        offer(&cs, shortened(sc, dur * 3 / 4 / 50 * 50), "run %d -> %d ms", dur,
              dur * 3 / 4 / 50 * 50);
    }
    /* Earlier faults: every step at half its time, the run as much shorter. */
    int first = n ? (int)json_integer_value(json_object_get(json_array_get(tl, 0), "at_ms")) : 0;
    if (first >= 100) {
        json_t *c = json_deep_copy(sc), *st;
        size_t i;
        int shift = first / 2 / 50 * 50;
        json_array_foreach(json_object_get(c, "timeline"), i, st) json_object_set_new(
            st, "at_ms", json_integer(json_integer_value(json_object_get(st, "at_ms")) - shift));
        json_t *c2 = shortened(c, dur - shift);
        json_decref(c);
        offer(&cs, c2, "every step %d ms earlier, run %d -> %d ms", shift, dur, dur - shift);
    }
    /* Shorter segments: an end step halfway to its start. */
    for (size_t i = 0; i < n; i++) {
        json_t *st = json_array_get(tl, i);
        if (!is_end(st))
            continue;
        for (size_t j = 0; j < i; j++) {
            json_t *on = json_array_get(tl, j);
            if (is_end(on) || seg_of(on) != seg_of(st))
                continue;
            json_int_t a = json_integer_value(json_object_get(on, "at_ms")),
                       b = json_integer_value(json_object_get(st, "at_ms"));
            json_int_t mid = (a + (b - a) / 2) / 50 * 50;
            if (b - a < 200 || mid <= a)
                break;
            json_t *c = json_deep_copy(sc);
            json_object_set_new(json_array_get(json_object_get(c, "timeline"), i), "at_ms",
                                json_integer(mid));
            sort_steps(json_object_get(c, "timeline"));
            offer(&cs, c, "segment '%s' %lld -> %lld ms", mark_of(on), (long long)(b - a),
                  (long long)(mid - a));
            break;
        }
    }
    /* Lower rates, fewer phases. */
    json_t *traffic = json_object_get(sc, "traffic");
    if (json_array_size(traffic) > 1) {
        for (size_t p = 0; p < json_array_size(traffic); p++) {
            json_t *c = json_deep_copy(sc);
            json_array_remove(json_object_get(c, "traffic"), p);
            offer(&cs, c, "removed the %s traffic phase",
                  json_is_true(json_object_get(json_array_get(traffic, p), "stream")) ? "streaming"
                                                                                      : "plain");
        }
    }
    {
        json_t *c = json_deep_copy(sc), *ph;
        size_t i;
        int lowered = 0;
        json_t *tr = json_object_get(c, "traffic");
        json_t *one[1] = {tr};
        size_t np = json_is_array(tr) ? json_array_size(tr) : 1;
        for (i = 0; i < np; i++) {
            ph = json_is_array(tr) ? json_array_get(tr, i) : one[0];
            json_int_t r = json_integer_value(json_object_get(ph, "rate_rps"));
            if (r >= 10) {
                json_object_set_new(ph, "rate_rps", json_integer(r / 2));
                lowered = 1;
            }
        }
        if (lowered)
            offer(&cs, c, "halved the request rates");
        else
            json_decref(c);
    }
    /* No client rate limit (unless the invariant is about it: it then no
     * longer applies and offer() drops the candidate). */
    if (json_object_get(json_object_get(sc, "relay"), "rate_limit_requests")) {
        json_t *c = json_deep_copy(sc), *relay = json_object_get(c, "relay"), *ph;
        json_object_del(relay, "rate_limit_requests");
        json_object_del(relay, "rate_limit_window_ms");
        json_object_del(relay, "client_keys");
        json_t *tr = json_object_get(c, "traffic");
        size_t i;
        if (json_is_object(tr))
            json_object_del(tr, "client_key");
        json_array_foreach(tr, i, ph) json_object_del(ph, "client_key");
        offer(&cs, c, "removed the client rate limit");
    }
    /* Simpler faults. */
    for (size_t i = 0; i < n; i++) {
        json_t *st = json_array_get(tl, i);
        if (is_end(st) || !seg_of(st))
            continue;
        const char *mark = mark_of(st), *a = strchr(mark, '-'), *b = a ? strchr(a + 1, '-') : NULL;
        if (!b)
            continue;
        const struct harness_explore_fault *f = fault_named(m, b + 1);
        if (!f || !f->simpler[0])
            continue;
        const struct harness_explore_fault *g = fault_named(m, f->simpler);
        char env[16], nm[128];
        snprintf(env, sizeof env, "%.*s", (int)(b - a - 1), a + 1);
        json_t *c = json_deep_copy(sc), *cst = json_array_get(json_object_get(c, "timeline"), i);
        json_object_set(cst, env, g->behavior);
        harness_v_fmt(nm, sizeof nm, "%.*s-%s", (int)(b - mark), mark, g->name);
        json_object_set_new(cst, "mark", json_string(nm));
        offer(&cs, c, "fault %s -> %s in '%s'", f->name, g->name, mark);
    }
    *out = cs.v;
    return cs.n;
}
