#include "harness/obs.h"

#include "co_mem.h"
#include "reports/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void harness_obs_free(struct harness_obs *o)
{
    free(o->reqs);
    free(o->atts);
    free(o->evs);
    free(o->by_req);
    o->reqs = NULL;
    o->atts = NULL;
    o->evs = NULL;
    o->by_req = NULL;
    o->n_reqs = o->n_atts = o->n_evs = o->n_by_req = 0;
    for (size_t i = 0; i < o->n_probes; i++) {
        free(o->probes[i].body);
        free(o->probes[i].headers);
        o->probes[i].body = o->probes[i].headers = NULL;
    }
    o->n_probes = 0;
}

uint64_t harness_text_hash(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

uint64_t harness_obs_mark(const struct harness_obs *o, const char *name)
{
    if (strcmp(name, "start") == 0)
        return o->t0;
    for (size_t i = 0; i < o->n_marks; i++)
        if (strcmp(o->marks[i].name, name) == 0)
            return o->marks[i].t;
    return 0;
}

static int by_arrival(const void *a, const void *b)
{
    const struct harness_att *x = a, *y = b;
    return x->t_arrival < y->t_arrival ? -1 : x->t_arrival > y->t_arrival;
}

void harness_obs_sort(struct harness_obs *o)
{
    if (o->n_atts > 1)
        qsort(o->atts, o->n_atts, sizeof *o->atts, by_arrival);
    harness_obs_index(o);
}

/* By request id, then by position, so that each group keeps atts order. */
static int by_req_then_pos(const void *a, const void *b, void *atts)
{
    const struct harness_att *at = atts;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(at[x].req_id, at[y].req_id);
    return c ? c : (x > y) - (x < y);
}

void harness_obs_index(struct harness_obs *o)
{
    free(o->by_req);
    o->by_req = co_calloc(o->n_atts + 1, sizeof *o->by_req);
    o->n_by_req = 0;
    for (size_t i = 0; i < o->n_atts; i++)
        if (!o->atts[i].health)
            o->by_req[o->n_by_req++] = i;
    qsort_r(o->by_req, o->n_by_req, sizeof *o->by_req, by_req_then_pos, o->atts);
}

const size_t *harness_obs_attempts(const struct harness_obs *o, const char *id, size_t *n)
{
    /* The first entry whose id is not below id, then the run of equal ones. */
    size_t lo = 0, hi = o->n_by_req;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(o->atts[o->by_req[mid]].req_id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < o->n_by_req && strcmp(o->atts[o->by_req[end]].req_id, id) == 0)
        end++;
    *n = end - lo;
    return *n ? &o->by_req[lo] : NULL;
}

const char *const harness_rl_kinds[] = {"sliding", "fixed", "bucket", "any", NULL};

const char *const harness_outcome_names[] = {"ok",        "http_error",   "transport",
                                             "truncated", "inband_error", NULL};

const char *harness_outcome_name(int outcome)
{
    return outcome >= 0 && outcome <= HARNESS_INBAND_ERROR ? harness_outcome_names[outcome]
                                                           : "unknown";
}

const struct harness_signal_row harness_signals[] = {
    {HARNESS_SIG_IDS, "ids",
     "upstream attempts carried no request id (the relay dropped X-Request-ID, user and the "
     "content marker): attempts cannot be tied to client requests",
     "ids lost: attempts cannot be tied to requests"},
    {HARNESS_SIG_SERVED, "served",
     "answers named no serving colour (no X-Served-By, no mock stamp in the body): served "
     "view unavailable",
     "answers name no serving colour"},
    {HARNESS_SIG_EVENTS, "events", "relay writes no event log: events view unavailable",
     "no event log"},
    {HARNESS_SIG_ADMIN, "admin", "relay has no admin API", "no admin API"},
    {HARNESS_SIG_PROCESS, "process",
     "relay not started by the runner (--relay-url): its process cannot be watched",
     "relay process not watched"},
    {HARNESS_SIG_LOG, "log",
     "the relay's log is not known to be its stderr (its profile does not tell \"log\")",
     "log not seen"},
    {0, NULL, NULL, NULL},
};

const char *harness_signal_missing(unsigned bits)
{
    for (const struct harness_signal_row *s = harness_signals; s->bit; s++)
        if (bits & s->bit)
            return s->missing;
    return "";
}

void harness_obs_observe(struct harness_obs *o, unsigned base)
{
    struct harness_seen *w = &o->seen;
    int health = w->health_status;
    memset(w, 0, sizeof *w);
    w->health_status = health;
    for (size_t i = 0; i < o->n_atts; i++) {
        const struct harness_att *a = &o->atts[i];
        /* Client traffic only: a forwarded admin call is no attempt. */
        if (a->health || (!strstr(a->path, "/chat/completions") && !strstr(a->path, "/models")))
            continue;
        if (!a->req_id[0])
            w->ids_none++;
        else if (strcmp(a->id_via, "user") == 0)
            w->ids_user++;
        else if (strcmp(a->id_via, "content") == 0)
            w->ids_content++;
        else
            w->ids_header++;
    }
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *r = &o->reqs[i];
        w->ratelimit_hdrs += r->ratelimit_hdrs > 0;
        w->served_disagree += r->served_disagree;
        /* Complete answers only: an error envelope or a cut body carries
         * no stamp, and no check reads who served it. */
        if (r->outcome != HARNESS_OK)
            continue;
        if (r->served_hdr[0])
            w->served_hdr++;
        else if (r->served[0])
            w->served_body++;
        else
            w->served_none++;
    }
    o->signals =
        base & (HARNESS_SIG_EVENTS | HARNESS_SIG_ADMIN | HARNESS_SIG_PROCESS | HARNESS_SIG_LOG);
    if (!w->ids_none)
        o->signals |= HARNESS_SIG_IDS;
    if (!w->served_none)
        o->signals |= HARNESS_SIG_SERVED;
}

void harness_obs_summary(const struct harness_obs *o, char *out, size_t n)
{
    json_t *j = harness_obs_observability_json(o);
    snprintf(out, n, "%s", json_string_value(json_object_get(j, "summary")));
    json_decref(j);
}

json_t *harness_obs_observability_json(const struct harness_obs *o)
{
    const struct harness_seen *w = &o->seen;
    json_t *sig = json_array();
    for (const struct harness_signal_row *s = harness_signals; s->bit; s++)
        if (o->signals & s->bit)
            json_array_append_new(sig, json_string(s->name));
    json_t *j =
        json_pack("{s:{s:I,s:I,s:I,s:I}, s:{s:I,s:I,s:I,s:I}, s:b, s:b, s:b, s:b, s:o}", "ids",
                  "header", (json_int_t)w->ids_header, "user", (json_int_t)w->ids_user, "content",
                  (json_int_t)w->ids_content, "none", (json_int_t)w->ids_none, "served", "header",
                  (json_int_t)w->served_hdr, "body", (json_int_t)w->served_body, "none",
                  (json_int_t)w->served_none, "disagree", (json_int_t)w->served_disagree,
                  "event_log", (o->signals & HARNESS_SIG_EVENTS) != 0, "admin_api",
                  (o->signals & HARNESS_SIG_ADMIN) != 0, "health_endpoint", w->health_status != 0,
                  "ratelimit_headers", w->ratelimit_hdrs > 0, "signals", sig);
    char line[512];
    report_observability_line(j, line, sizeof line);
    json_object_set_new(j, "summary", json_string(line));
    return j;
}
