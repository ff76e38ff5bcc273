/* Validation of a results.json document before `cutover report` renders
 * it.  The file may have been edited, truncated or forged: every value the
 * writers read is checked for its type (and a status for its word) here,
 * once, so that the writers can trust what they get and a tampered file is
 * an error that names its JSON path, not a page with someone's markup in it.
 *
 * Each object kind is a const table of its known keys; a key not listed is
 * kept (newer files carry more) but never read. */
#include "reports/report.h"

#include "co_json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum rc_type { T_STR, T_INT, T_NUM, T_BOOL, T_OBJ, T_STATUS, T_CHECK_STATUS, T_CELL_STATUS };

struct rc_key {
    const char *name;
    int type;
    int required;
};

static const char *const scenario_statuses[] = {"pass",  "fail",    "inconclusive",
                                                "error", "invalid", NULL};
static const char *const check_statuses[] = {"pass", "fail", "inconclusive", NULL};
static const char *const cell_statuses[] = {"pass",    "fail", "inconclusive", "error", "invalid",
                                            "not run", NULL};

static const struct rc_key top_keys[] = {
    {"version", T_STR, 0},    {"seed", T_INT, 0},
    {"time_scale", T_NUM, 0}, {"repeat", T_INT, 0},
    {"started", T_STR, 0},    {"duration_s", T_NUM, 0},
    {"exit_code", T_INT, 0},  {"summary", T_OBJ, 0},
    {"scorecard", T_OBJ, 0},  {NULL, 0, 0},
};

static const struct rc_key scenario_keys[] = {
    {"name", T_STR, 1},     {"status", T_STATUS, 1},      {"file", T_STR, 0},
    {"folder", T_STR, 0},   {"description", T_STR, 0},    {"tags", T_STR, 0},
    {"error", T_STR, 0},    {"seed", T_INT, 0},           {"duration_s", T_NUM, 0},
    {"requests", T_INT, 0}, {"runs", T_INT, 0},           {"passes", T_INT, 0},
    {"flaky", T_BOOL, 0},   {"out_dir", T_STR, 0},        {"t0_us", T_INT, 0},
    {"relay", T_STR, 0},    {"relay_log_tail", T_STR, 0}, {"scenario", T_OBJ, 0},
    {"verdict", T_STR, 0},  {"advisories", T_INT, 0},     {NULL, 0, 0},
};

static const struct rc_key check_keys[] = {
    {"check", T_STR, 1},
    {"status", T_CHECK_STATUS, 1},
    {"label", T_STR, 0},
    {"expected", T_STR, 0},
    {"measured", T_STR, 0},
    {"margin", T_NUM, 0},
    {"unit", T_STR, 0},
    {"samples", T_INT, 0},
    {"min_samples", T_INT, 0},
    {"detail", T_STR, 0},
    {"window_mark", T_STR, 0},
    {"window_before_ms", T_NUM, 0},
    {"window_after_ms", T_NUM, 0},
    {"severity", T_STR, 0},
    {NULL, 0, 0},
};

static const struct rc_key cell_keys[] = {
    {"relay", T_STR, 1}, {"status", T_CELL_STATUS, 1}, {"value", T_STR, 0},
    {"why", T_STR, 0},   {"verdict", T_STR, 0},        {NULL, 0, 0},
};

static const struct rc_key row_keys[] = {
    {"scenario", T_STR, 1},
    {"folder", T_STR, 0},
    {NULL, 0, 0},
};

static int expected(char *err, size_t errlen, const char *path, const char *what, const json_t *v)
{
    char d[96];
    snprintf(err, errlen, "%s: expected %s, found %s", path, what,
             co_json_describe(v, d, sizeof d));
    return -1;
}

static int one_of(const json_t *v, const char *const *words, const char *path, char *err,
                  size_t errlen)
{
    const char *s = json_string_value(v);
    for (const char *const *w = words; s && *w; w++)
        if (strcmp(s, *w) == 0)
            return 0;
    char list[160] = "";
    for (const char *const *w = words; *w; w++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", w == words ? "one of " : ", ", *w);
    }
    return expected(err, errlen, path, list, v);
}

static int check_keys_of(const json_t *obj, const struct rc_key *keys, const char *path, char *err,
                         size_t errlen)
{
    if (!json_is_object(obj))
        return expected(err, errlen, path, "an object", obj);
    for (const struct rc_key *k = keys; k->name; k++) {
        const json_t *v = json_object_get(obj, k->name);
        char p[256];
        snprintf(p, sizeof p, "%s.%s", path, k->name);
        if (!v) {
            if (k->required) {
                snprintf(err, errlen, "%s: missing", p);
                return -1;
            }
            continue;
        }
        int bad = 0;
        switch (k->type) {
        case T_STR:
            bad = !json_is_string(v);
            break;
        case T_INT:
            bad = !json_is_integer(v);
            break;
        case T_NUM:
            bad = !json_is_number(v) || !isfinite(json_number_value(v));
            break;
        case T_BOOL:
            bad = !json_is_boolean(v);
            break;
        case T_OBJ:
            bad = !json_is_object(v);
            break;
        case T_STATUS:
            if (one_of(v, scenario_statuses, p, err, errlen) != 0)
                return -1;
            break;
        case T_CHECK_STATUS:
            if (one_of(v, check_statuses, p, err, errlen) != 0)
                return -1;
            break;
        case T_CELL_STATUS:
            if (one_of(v, cell_statuses, p, err, errlen) != 0)
                return -1;
            break;
        }
        if (bad) {
            static const char *const names[] = {"a string", "an integer", "a finite number",
                                                "true or false", "an object"};
            return expected(err, errlen, p, names[k->type], v);
        }
    }
    return 0;
}

static int check_array(const json_t *arr, const char *path, const struct rc_key *keys, char *err,
                       size_t errlen)
{
    if (!json_is_array(arr))
        return expected(err, errlen, path, "an array", arr);
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
    {
        char p[192];
        snprintf(p, sizeof p, "%s[%zu]", path, i);
        if (check_keys_of(v, keys, p, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static int check_scorecard(const json_t *card, char *err, size_t errlen)
{
    const json_t *relays = json_object_get(card, "relays");
    if (relays) {
        if (!json_is_array(relays))
            return expected(err, errlen, "$.scorecard.relays", "an array of strings", relays);
        size_t i;
        const json_t *r;
        json_array_foreach(relays, i, r) if (!json_is_string(r))
        {
            char p[64];
            snprintf(p, sizeof p, "$.scorecard.relays[%zu]", i);
            return expected(err, errlen, p, "a string", r);
        }
    }
    const json_t *skipped = json_object_get(card, "skipped");
    if (skipped) {
        if (!json_is_object(skipped))
            return expected(err, errlen, "$.scorecard.skipped", "an object of relay: why", skipped);
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)skipped, k, v) if (!json_is_string(v))
        {
            char p[192];
            snprintf(p, sizeof p, "$.scorecard.skipped.%.120s", k);
            return expected(err, errlen, p, "a string", v);
        }
    }
    const json_t *rows = json_object_get(card, "rows");
    if (!rows)
        return 0;
    if (check_array(rows, "$.scorecard.rows", row_keys, err, errlen) != 0)
        return -1;
    size_t i;
    const json_t *row;
    json_array_foreach(rows, i, row)
    {
        char p[96];
        snprintf(p, sizeof p, "$.scorecard.rows[%zu].cells", i);
        const json_t *cells = json_object_get(row, "cells");
        if (cells && check_array(cells, p, cell_keys, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int report_results_check(const json_t *doc, char *err, size_t errlen)
{
    if (!json_is_object(doc))
        return expected(err, errlen, "$", "a results object", doc);
    const json_t *scs = json_object_get(doc, "scenarios");
    if (!json_is_array(scs))
        return expected(err, errlen, "$.scenarios",
                        "an array of scenarios (is this a results.json?)", scs);
    if (check_keys_of(doc, top_keys, "$", err, errlen) != 0 ||
        check_array(scs, "$.scenarios", scenario_keys, err, errlen) != 0)
        return -1;
    size_t i;
    const json_t *sc;
    json_array_foreach(scs, i, sc)
    {
        const json_t *checks = json_object_get(sc, "checks");
        char p[64];
        snprintf(p, sizeof p, "$.scenarios[%zu].checks", i);
        if (checks && check_array(checks, p, check_keys, err, errlen) != 0)
            return -1;
    }
    const json_t *card = json_object_get(doc, "scorecard");
    return card ? check_scorecard(card, err, errlen) : 0;
}
