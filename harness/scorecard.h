/* The scorecard of a run across relays (`cutover run --relay A --relay B`):
 * a matrix scenario x relay, each cell a status, the key measured value
 * (attempts, first gap, time to switch...) and, for a failure, a few words
 * why: the profile's own note for that scenario when it has one, else what
 * the failing check stands for ("Retry-After ignored").
 *
 * Pure: built from the report rows, rendered to Markdown; the same JSON goes
 * into results.json under "scorecard". */
#ifndef HARNESS_SCORECARD_H
#define HARNESS_SCORECARD_H

#include "reports/report.h"

#include <jansson.h>
#include <stdio.h>

#define HARNESS_SCORECARD_MAX_RELAYS 8

struct harness_scorecard_relay {
    char label[512];     /* the column ("nginx"), also each row's report "relay" */
    const json_t *notes; /* scenario name -> why (borrowed, may be NULL) */
    char skipped[256];   /* non-empty: not run (e.g. "nginx is not installed") */
};

/* {"relays": [label...], "skipped": {label: why}, "rows": [{"scenario", "cells":
 * [{"relay", "status", "value", "why"}]}]} (new reference). */
json_t *harness_scorecard_build(const struct report_scenario *sc, size_t n,
                                const struct harness_scorecard_relay *relays, int n_relays);
/* One cell's facts for a scenario row (exposed for tests). */
void harness_scorecard_cell(const struct report_scenario *s, const json_t *notes, char *value,
                            size_t vn, char *why, size_t wn);
/* The Markdown table (with the command line that produced it, may be NULL). */
int harness_scorecard_md(FILE *f, const json_t *card, const char *command);

#endif
