/* A small run for the report writers' tests: one scenario per status. */
#ifndef REPORT_FIXTURE_H
#define REPORT_FIXTURE_H

#include "reports/report.h"
#include "tests/support/tsupport.h" /* tsup_read_file */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void fixture_check(struct report_scenario *s, const char *name, int status,
                                 const char *measured)
{
    s->checks = realloc(s->checks, (s->n_checks + 1) * sizeof *s->checks);
    struct report_check *c = &s->checks[s->n_checks++];
    memset(c, 0, sizeof *c);
    snprintf(c->check, sizeof c->check, "%s", name);
    snprintf(c->label, sizeof c->label, "%s min=1", name);
    c->status = status;
    snprintf(c->expected, sizeof c->expected, "at least <1> & \"one\"");
    snprintf(c->measured, sizeof c->measured, "%s", measured);
    c->samples = status == REPORT_INCONCLUSIVE ? 0 : 10;
    c->min_samples = 1;
    c->margin = status == REPORT_FAIL ? -2.5 : 1.0;
}

static inline void fixture_run(struct report_run *r)
{
    memset(r, 0, sizeof *r);
    r->version = "cutover test";
    r->seed = 7;
    r->time_scale = 1;
    r->repeat = 1;
    snprintf(r->started, sizeof r->started, "2026-11-26T06:00:00Z");
    r->duration_s = 4.5;
    r->n = r->total_planned = 4;
    r->sc = calloc(4, sizeof *r->sc);
    static const char *const names[] = {"passes", "fails", "undecided", "broken"};
    static const int st[] = {REPORT_PASS, REPORT_FAIL, REPORT_INCONCLUSIVE, REPORT_ERROR};
    for (int i = 0; i < 4; i++) {
        struct report_scenario *s = &r->sc[i];
        snprintf(s->name, sizeof s->name, "%s", names[i]);
        snprintf(s->file, sizeof s->file, "scenarios/failover/%s.json", names[i]);
        snprintf(s->folder, sizeof s->folder, "failover");
        s->status = st[i];
        s->seed = 7;
        s->duration_s = 1.25;
        s->runs = 1;
        s->passes = st[i] == REPORT_PASS;
        fixture_check(s, "client_success_ratio", REPORT_PASS, "1.0000 (10 of 10)");
        if (st[i] == REPORT_FAIL) {
            fixture_check(s, "attempts", REPORT_FAIL, "max 3");
            snprintf(s->checks[1].detail, sizeof s->checks[1].detail, "request r-0-1: blue#1 503");
            s->log_tail = strdup("relay said <oops> & left\n");
        }
        if (st[i] == REPORT_INCONCLUSIVE)
            fixture_check(s, "latency", REPORT_INCONCLUSIVE, "no sample");
        if (st[i] == REPORT_ERROR)
            snprintf(s->error, sizeof s->error,
                     "the relay exited with status 1 before it was ready");
    }
}

static inline void fixture_free(struct report_run *r)
{
    for (size_t i = 0; i < r->n; i++)
        report_scenario_clear(&r->sc[i]);
    free(r->sc);
}

#endif
