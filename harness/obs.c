#include "harness/obs.h"

#include <stdlib.h>
#include <string.h>

void harness_obs_free(struct harness_obs *o)
{
    free(o->reqs);
    free(o->atts);
    free(o->evs);
    o->reqs = NULL;
    o->atts = NULL;
    o->evs = NULL;
    o->n_reqs = o->n_atts = o->n_evs = 0;
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
}

const char *harness_outcome_name(int outcome)
{
    static const char *const names[] = {"ok", "http_error", "transport", "truncated",
                                        "inband_error"};
    return outcome >= 0 && outcome < 5 ? names[outcome] : "unknown";
}
