/* The table of writers and what they share. */
#include "reports/report.h"

#include <stdio.h>

#include <stdlib.h>
#include <string.h>

static int html_render(FILE *f, const json_t *results, const struct report_run *r, char *err,
                       size_t errlen)
{
    return report_html_render(f, results, err, errlen);
}

/* The summary links to the HTML report when there is one. */
static int md_render(FILE *f, const json_t *results, const struct report_run *r, char *err,
                     size_t errlen)
{
    return report_md_render(f, results, report_path(r, "html"), err, errlen);
}

const struct report_writer report_writers[] = {
    {"console", report_console_begin, report_console_scenario, report_console_end, NULL, NULL, NULL,
     NULL},
    {"json", NULL, NULL, report_json_write, "json", "results.json", "results.json path", NULL},
    {"junit", NULL, NULL, report_junit_write, "junit", "junit.xml", "junit.xml path", NULL},
    {"html", NULL, NULL, report_html_write, "html", "report.html", "report.html path", html_render},
    {"markdown", NULL, NULL, report_md_write, "md", NULL,
     "Markdown summary (PR comment, CI job summary)", md_render},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

static int writer_index(const char *option)
{
    for (int i = 0; report_writers[i].name && i < REPORT_MAX_WRITERS; i++)
        if (report_writers[i].option && strcmp(report_writers[i].option, option) == 0)
            return i;
    return -1;
}

const char *report_path(const struct report_run *r, const char *option)
{
    int i = writer_index(option);
    return i < 0 ? NULL : r->paths[i];
}

int report_set_path(struct report_run *r, const char *option, const char *path)
{
    int i = writer_index(option);
    if (i < 0)
        return -1;
    r->paths[i] = path;
    return 0;
}

void report_usage_options(FILE *f, int width, int for_report)
{
    for (const struct report_writer *w = report_writers; w->name; w++) {
        if (!w->option || (for_report && !w->render))
            continue;
        char opt[64];
        snprintf(opt, sizeof opt, "  --%s FILE", w->option);
        fprintf(f, "%-*s %s", width, opt, w->help);
        if (w->default_file && for_report)
            fprintf(
                f,
                " (default: next to the results file\n%-*s for one, in the current directory for "
                "several)",
                width, "");
        else if (w->default_file)
            fprintf(f, " (default DIR/%s)", w->default_file);
        fputc('\n', f);
    }
}

const char *report_status_name(int status)
{
    static const char *const names[] = {"pass",  "fail",    "inconclusive",
                                        "error", "invalid", "not_applicable"};
    return status >= 0 && status < REPORT_N_STATUS ? names[status] : "unknown";
}

const char *report_severity_name(int severity)
{
    static const char *const names[] = {"required", "advisory", "info"};
    return severity >= 0 && severity < REPORT_N_SEVERITY ? names[severity] : "required";
}

int report_severity_parse(const char *name)
{
    for (int i = 0; i < REPORT_N_SEVERITY; i++)
        if (name && strcmp(name, report_severity_name(i)) == 0)
            return i;
    return -1;
}

const char *report_verdict_name(const struct report_scenario *s)
{
    return s->status == REPORT_PASS && s->advisories > 0 ? "pass_with_advisories"
                                                         : report_status_name(s->status);
}

int report_exit_code(const struct report_run *r)
{
    int fail = 0, invalid = 0, error = 0, inconclusive = 0, judged = 0;
    for (size_t i = 0; i < r->n; i++) {
        judged |= r->sc[i].status != REPORT_NA;
        switch (r->sc[i].status) {
        case REPORT_FAIL:
            fail = 1;
            break;
        case REPORT_INVALID:
            invalid = 1;
            break;
        case REPORT_ERROR:
            error = 1;
            break;
        case REPORT_INCONCLUSIVE:
            inconclusive = 1;
            break;
        }
    }
    /* A failed check is the most important news for a gate; then input the
     * user must fix, then the harness, then too little data. */
    /* Not applicable is no verdict: a run where nothing else ran is no pass. */
    return fail ? 1 : invalid ? 2 : error ? 3 : inconclusive || (r->n && !judged) ? 4 : 0;
}

size_t report_uncounted(const struct report_scenario *s, char *out, size_t n)
{
    size_t k = 0, used = 0;
    if (n)
        out[0] = '\0';
    for (size_t i = 0; i < s->n_checks; i++) {
        const struct report_check *c = &s->checks[i];
        if (c->status == REPORT_PASS)
            continue;
        if (used < n) {
            /* An info check only reports its value: no verdict word. */
            int w =
                snprintf(out + used, n - used, "%s%s%s %s: %s", k ? "; " : "", c->check,
                         c->severity == REPORT_ADVISORY ? " (advisory)"
                         : c->severity == REPORT_INFO   ? " (info)"
                                                        : "",
                         c->severity == REPORT_INFO ? "measured" : report_status_name(c->status),
                         c->measured);
            used += w > 0 ? (size_t)w : 0;
        }
        k++;
    }
    return k;
}

int report_several_relays(const struct report_run *r)
{
    for (size_t i = 1; i < r->n; i++)
        if (strcmp(r->sc[i].relay, r->sc[0].relay) != 0)
            return 1;
    return 0;
}

int report_is_flaky(const struct report_scenario *s)
{
    return s->runs > 1 && s->passes > 0 && s->passes < s->runs;
}

void report_scenario_clear(struct report_scenario *s)
{
    free(s->checks);
    free(s->log_tail);
    json_decref(s->doc);
    json_decref(s->observability);
    s->observability = NULL;
    s->checks = NULL;
    s->log_tail = NULL;
    s->doc = NULL;
    s->n_checks = 0;
}

void report_safe_name(const char *s, char *out, size_t n)
{
    size_t k = 0;
    if (n == 0)
        return;
    for (; *s && k + 1 < n; s++)
        out[k++] = (char)((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                                  (*s >= '0' && *s <= '9') || *s == '-'
                              ? *s
                              : '_');
    out[k] = '\0';
}

void report_relay_label(const char *relay, char *out, size_t n)
{
    size_t len = 0, prev_start = 0;
    int prev_flag = 0, first = 1;
    if (n == 0)
        return;
    out[0] = '\0';
    for (const char *p = relay ? relay : ""; *p;) {
        while (*p == ' ')
            p++;
        size_t tl = strcspn(p, " ");
        if (tl == 0)
            break;
        const char *tok = p;
        p += tl;
        if (first) {
            /* The program by its name. */
            const char *slash = tok;
            for (const char *q = tok; q < tok + tl; q++)
                if (*q == '/')
                    slash = q + 1;
            tl -= (size_t)(slash - tok);
            tok = slash;
            first = 0;
        } else if (memchr(tok, '{', tl)) {
            /* A placeholder: drop it and the flag that introduced it. */
            if (prev_flag) {
                len = prev_start;
                out[len] = '\0';
            }
            prev_flag = 0;
            continue;
        }
        prev_start = len;
        prev_flag = tok[0] == '-';
        int w = snprintf(out + len, n - len, "%s%.*s", len ? " " : "", (int)tl, tok);
        if (w < 0 || (size_t)w >= n - len) {
            out[n - 1] = '\0';
            return;
        }
        len += (size_t)w;
    }
}

static long obs_count(const json_t *obs, const char *group, const char *key)
{
    return (long)json_integer_value(json_object_get(json_object_get(obs, group), key));
}

void report_observability_line(const json_t *obs, char *out, size_t n)
{
    long h = obs_count(obs, "ids", "header"), u = obs_count(obs, "ids", "user"),
         c = obs_count(obs, "ids", "content"), none = obs_count(obs, "ids", "none");
    long total = h + u + c + none;
    char ids[160];
    if (!total)
        snprintf(ids, sizeof ids, "ids: no upstream attempt");
    else if (none == total)
        snprintf(ids, sizeof ids, "ids lost (no upstream attempt carried one)");
    else if (h == total)
        snprintf(ids, sizeof ids, "ids via X-Request-ID");
    else if (u == total)
        snprintf(ids, sizeof ids, "ids via body user (X-Request-ID dropped)");
    else if (c == total)
        snprintf(ids, sizeof ids, "ids via content marker only (X-Request-ID and user dropped)");
    else
        snprintf(ids, sizeof ids, "ids mixed (header %ld, user %ld, content %ld, none %ld)", h, u,
                 c, none);
    long sh = obs_count(obs, "served", "header"), sb = obs_count(obs, "served", "body"),
         sn = obs_count(obs, "served", "none"), sd = obs_count(obs, "served", "disagree");
    const char *served = sh + sb + sn == 0  ? "served: no answer"
                         : sh && !sb && !sn ? "X-Served-By"
                         : !sh && sb && !sn ? "no X-Served-By (colour from the body)"
                         : !sn              ? "X-Served-By on some answers (rest from the body)"
                                            : "some answers name no colour";
    snprintf(
        out, n, "%s; %s%s; %s; %s; %s; %s", ids, served, sd ? " (disagrees with the body)" : "",
        json_is_true(json_object_get(obs, "event_log")) ? "event log" : "no event log",
        json_is_true(json_object_get(obs, "admin_api")) ? "admin API" : "no admin API",
        json_is_true(json_object_get(obs, "ratelimit_headers")) ? "rate-limit headers"
                                                                : "no rate-limit headers",
        json_is_true(json_object_get(obs, "health_endpoint")) ? "health endpoint"
                                                              : "no health endpoint of its own");
}

json_t *report_relay_observability(const struct report_run *r, const char *relay)
{
    json_t *acc = NULL;
    for (size_t i = 0; i < r->n; i++) {
        const struct report_scenario *s = &r->sc[i];
        if (!s->observability || (relay[0] && strcmp(s->relay, relay) != 0))
            continue;
        if (!acc) {
            acc = json_deep_copy(s->observability);
            continue;
        }
        static const char *const groups[] = {"ids", "served"};
        for (size_t g = 0; g < 2; g++) {
            const char *key;
            json_t *v;
            json_t *dst = json_object_get(acc, groups[g]);
            json_object_foreach(json_object_get(s->observability, groups[g]), key, v)
                json_object_set_new(dst, key,
                                    json_integer(json_integer_value(json_object_get(dst, key)) +
                                                 json_integer_value(v)));
        }
        static const char *const flags[] = {"event_log", "admin_api", "health_endpoint",
                                            "ratelimit_headers"};
        for (size_t f = 0; f < 4; f++)
            if (json_is_true(json_object_get(s->observability, flags[f])))
                json_object_set_new(acc, flags[f], json_true());
    }
    if (acc) {
        char line[512];
        report_observability_line(acc, line, sizeof line);
        json_object_set_new(acc, "summary", json_string(line));
    }
    return acc;
}

json_t *report_run_observability(const struct report_run *r)
{
    json_t *all = json_object();
    for (size_t i = 0; i < r->n; i++) {
        const char *relay = r->sc[i].relay[0] ? r->sc[i].relay : "relay";
        if (json_object_get(all, relay) || !r->sc[i].observability)
            continue;
        json_t *one = report_relay_observability(r, r->sc[i].relay);
        if (one)
            json_object_set_new(all, relay, one);
    }
    return all;
}
