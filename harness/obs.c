#include "harness/obs.h"

#include "co_mem.h"

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

const char *const harness_outcome_names[] = {"ok",        "http_error",   "transport",
                                             "truncated", "inband_error", NULL};

const char *harness_outcome_name(int outcome)
{
    return outcome >= 0 && outcome <= HARNESS_INBAND_ERROR ? harness_outcome_names[outcome]
                                                           : "unknown";
}
