/* The scorecard across relays (harness/scorecard.h).
 *
 * A cell shows the measured value of the check that tells most about the
 * scenario: the first failing one for a failure (that is the story), else
 * the check its row ranks most telling (harness/checks.c: time to switch
 * before attempts before gaps...), else the scenario's first check. */
#include "harness/scorecard.h"

#include "harness/checks.h"
#include "harness/obs.h"

#include "co_mem.h"

#include <stdio.h>
#include <string.h>

/* What a failing check says about a relay, in a few words: its row's
 * phrase (harness/checks.c), else its name. */
static const char *why_of(const char *check)
{
    struct harness_check_info k;
    return harness_check_find(check, &k) == 0 && k.why ? k.why : check;
}

/* The rank of a check's value among passing checks (its row's; 0 none). */
static int rank_of(const char *check)
{
    struct harness_check_info k;
    return harness_check_find(check, &k) == 0 ? k.rank : 0;
}

/* Whether the runner adds the check itself (harness_on_time, relay_alive...). */
static int runner_added(const char *check)
{
    struct harness_check_info k;
    return harness_check_find(check, &k) == 0 && k.added != HARNESS_ADDED_NEVER;
}

static void clip(char *out, size_t n, const char *label, const char *measured)
{
    /* Cells stay short: a table of 30 rows must read at a glance. */
    char m[64];
    snprintf(m, sizeof m, "%.63s", measured);
    if (strlen(measured) >= sizeof m)
        memcpy(m + sizeof m - 4, "...", 4);
    snprintf(out, n, "%s: %s", label, m);
}

void harness_scorecard_cell(const struct report_scenario *s, const json_t *notes, char *value,
                            size_t vn, char *why, size_t wn)
{
    value[0] = why[0] = '\0';
    if (s->status == REPORT_ERROR || s->status == REPORT_INVALID) {
        snprintf(value, vn, "%.60s", s->error);
        snprintf(why, wn, "%s", s->status == REPORT_ERROR ? "harness error" : "invalid");
        return;
    }
    const struct report_check *pick = NULL, *pick_rank = NULL;
    for (size_t i = 0; i < s->n_checks && !pick; i++)
        if (s->checks[i].status == s->status && s->status != REPORT_PASS)
            pick = &s->checks[i];
    /* Else the most telling by rank (the first such check on a tie). */
    int best = 0;
    for (size_t i = 0; i < s->n_checks && !pick; i++) {
        int rank = rank_of(s->checks[i].check);
        if (rank > 0 && (best == 0 || rank < best)) {
            best = rank;
            pick_rank = &s->checks[i];
        }
    }
    if (!pick)
        pick = pick_rank;
    /* Else the scenario's first own check, not one the runner adds. */
    for (size_t i = 0; i < s->n_checks && !pick; i++)
        if (!runner_added(s->checks[i].check))
            pick = &s->checks[i];
    if (!pick && s->n_checks)
        pick = &s->checks[0];
    if (pick)
        clip(value, vn, pick->check, pick->measured);
    if (s->status == REPORT_PASS && s->advisories) {
        /* A graded pass: name the advisories it passed with. */
        size_t used = (size_t)snprintf(why, wn, "with advisories:");
        for (size_t i = 0; i < s->n_checks && used < wn; i++)
            if (s->checks[i].severity == REPORT_ADVISORY && s->checks[i].status != REPORT_PASS &&
                s->checks[i].status != REPORT_NA)
                used += (size_t)snprintf(why + used, wn - used, " %s", s->checks[i].check);
    } else if (s->status == REPORT_NA && pick) {
        /* "not applicable to this relay (max_attempts is fixed at 3)" */
        const char *open = strchr(pick->detail, '(');
        const char *close = open ? strchr(open, ')') : NULL;
        snprintf(why, wn, "%.*s", close ? (int)(close - open - 1) : 40,
                 close ? open + 1 : pick->detail);
    } else if (s->status == REPORT_FAIL) {
        const char *note = json_string_value(json_object_get(notes, s->name));
        snprintf(why, wn, "%s", note ? note : pick ? why_of(pick->check) : "failed");
    } else if (s->status == REPORT_INCONCLUSIVE && pick) {
        const char *na = strstr(pick->detail, "relay setting '");
        if (na) {
            const char *end = strchr(na + 15, '\'');
            int kl = end ? (int)(end - na - 15) : 20;
            /* Premises that are not settings read better said plainly. */
            if (strncmp(na + 15, "admin API'", 10) == 0)
                snprintf(why, wn, "no admin API");
            else if (strncmp(na + 15, "relay process'", 14) == 0)
                snprintf(why, wn, "cannot signal a relay it did not start");
            else
                snprintf(why, wn, "cannot set %.*s", kl, na + 15);
        } else {
            /* The signal the relay did not give, from the common evaluator's
             * reason (harness/checks.c). */
            const char *brief = NULL;
            for (const struct harness_signal_row *g = harness_signals; g->bit && !brief; g++)
                if (strstr(pick->detail, g->missing))
                    brief = g->brief;
            /* A served view with no sample: no request was answered in
             * full, so no answer named a colour (every one was an error). */
            if (!brief && pick->samples == 0 && strstr(pick->detail, "served view"))
                brief = "no successful answer to read a colour from";
            /* A probe of an endpoint the relay does not declare (harness/probe.h). */
            if (!brief && strstr(pick->detail, "the relay declares no "))
                brief = "no such endpoint declared";
            if (!brief && strstr(pick->detail, "not judged: "))
                brief = "some items not observable or not mapped";
            snprintf(why, wn, "%s", brief ? brief : "too few samples");
        }
    }
}

json_t *harness_scorecard_build(const struct report_scenario *sc, size_t n,
                                const struct harness_scorecard_relay *relays, int n_relays)
{
    json_t *card = json_object(), *rl = json_array(), *rows = json_array(),
           *skipped = json_object();
    for (int k = 0; k < n_relays; k++) {
        json_array_append_new(rl, json_string(relays[k].label));
        if (relays[k].skipped[0])
            json_object_set_new(skipped, relays[k].label, json_string(relays[k].skipped));
    }
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < i && strcmp(sc[j].name, sc[i].name) != 0)
            j++;
        if (j < i)
            continue; /* the row of this scenario is written */
        json_t *cells = json_array();
        for (int k = 0; k < n_relays; k++) {
            const struct report_scenario *hit = NULL;
            for (size_t q = 0; q < n && !hit; q++)
                if (strcmp(sc[q].name, sc[i].name) == 0 &&
                    strcmp(sc[q].relay, relays[k].label) == 0)
                    hit = &sc[q];
            if (!hit) {
                json_array_append_new(cells, json_pack("{s:s, s:s, s:s, s:s}", "relay",
                                                       relays[k].label, "status", "not run",
                                                       "value", "", "why", relays[k].skipped));
                continue;
            }
            char value[128], why[160];
            harness_scorecard_cell(hit, relays[k].notes, value, sizeof value, why, sizeof why);
            json_array_append_new(cells,
                                  json_pack("{s:s, s:s, s:s, s:s, s:s}", "relay", relays[k].label,
                                            "status", report_status_name(hit->status), "verdict",
                                            report_verdict_name(hit), "value", value, "why", why));
        }
        json_array_append_new(rows, json_pack("{s:s, s:s, s:o}", "scenario", sc[i].name, "folder",
                                              sc[i].folder, "cells", cells));
    }
    json_object_set_new(card, "relays", rl);
    json_object_set_new(card, "skipped", skipped);
    json_object_set_new(card, "rows", rows);
    /* What each relay gave the checks: the signals behind its inconclusive cells. */
    struct report_run rr = {.sc = (struct report_scenario *)sc, .n = n};
    json_object_set_new(card, "observability", report_run_observability(&rr));
    return card;
}

int harness_scorecard_md(FILE *f, const json_t *card, const char *command)
{
    const json_t *relays = json_object_get(card, "relays");
    size_t nr = json_array_size(relays), k, i;
    json_t *r, *row;
    fprintf(f, "## Scorecard\n\n");
    if (command)
        fprintf(f, "Produced by:\n\n```sh\n%s\n```\n\n", command);
    fprintf(f, "Each cell: verdict, the key measured value, and for a failure why.\n\n");
    fprintf(f, "| scenario |");
    json_array_foreach(relays, k, r)
    {
        char label[128];
        report_relay_label(json_string_value(r), label, sizeof label);
        fputc(' ', f);
        report_md_cell(f, label);
        fputs(" |", f);
    }
    fprintf(f, "\n|---|");
    for (k = 0; k < nr; k++)
        fprintf(f, "---|");
    fputc('\n', f);
    long counts[HARNESS_SCORECARD_MAX_RELAYS][3] = {{0}};
    json_array_foreach(json_object_get(card, "rows"), i, row)
    {
        fprintf(f, "| ");
        report_md_cell(f, json_string_value(json_object_get(row, "folder")));
        fputc('/', f);
        report_md_cell(f, json_string_value(json_object_get(row, "scenario")));
        fprintf(f, " |");
        json_t *cell;
        json_array_foreach(json_object_get(row, "cells"), k, cell)
        {
            const char *st = json_string_value(json_object_get(cell, "status"));
            const char *value = json_string_value(json_object_get(cell, "value"));
            const char *why = json_string_value(json_object_get(cell, "why"));
            int idx = strcmp(st, "pass") == 0 ? 0 : strcmp(st, "fail") == 0 ? 1 : 2;
            if (k < HARNESS_SCORECARD_MAX_RELAYS)
                counts[k][idx]++;
            fprintf(f, " **%s**", st);
            if (value && *value) {
                fputs(" ", f);
                report_md_cell(f, value);
            }
            if (why && *why) {
                fputs(" — ", f);
                report_md_cell(f, why);
            }
            fputs(" |", f);
        }
        fputc('\n', f);
    }
    fprintf(f, "| **total** (pass / fail / other) |");
    for (k = 0; k < nr && k < HARNESS_SCORECARD_MAX_RELAYS; k++)
        fprintf(f, " %ld / %ld / %ld |", counts[k][0], counts[k][1], counts[k][2]);
    fputc('\n', f);
    const char *label;
    json_t *why, *obs;
    if (json_object_size(json_object_get(card, "observability")))
        fprintf(f, "\nWhat each relay gives the checks (ids, served-by, event log, admin API, "
                   "rate-limit headers, health endpoint):\n\n");
    json_object_foreach((json_t *)json_object_get(card, "observability"), label, obs)
    {
        char l[128];
        report_relay_label(label, l, sizeof l);
        fprintf(f, "- **%s**: ", l);
        report_md_cell(f, json_string_value(json_object_get(obs, "summary")));
        fputc('\n', f);
    }
    json_object_foreach((json_t *)json_object_get(card, "skipped"), label, why)
    {
        fprintf(f, "\n%s was not run: ", label);
        report_md_cell(f, json_string_value(why));
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}
