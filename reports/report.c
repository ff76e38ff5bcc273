/* The table of writers and what they share. */
#include "reports/report.h"

#include <stdlib.h>
#include <string.h>

const struct report_writer report_writers[] = {
    {"console", report_console_begin, report_console_scenario, report_console_end},
    {"json", NULL, NULL, report_json_write},
    {"junit", NULL, NULL, report_junit_write},
    {"html", NULL, NULL, report_html_write},
    {"markdown", NULL, NULL, report_md_write},
    {NULL, NULL, NULL, NULL},
};

const char *report_status_name(int status)
{
    static const char *const names[] = {"pass", "fail", "inconclusive", "error", "invalid"};
    return status >= 0 && status <= REPORT_INVALID ? names[status] : "unknown";
}

int report_exit_code(const struct report_run *r)
{
    int fail = 0, invalid = 0, error = 0, inconclusive = 0;
    for (size_t i = 0; i < r->n; i++) {
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
    return fail ? 1 : invalid ? 2 : error ? 3 : inconclusive ? 4 : 0;
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
            int w = snprintf(out + used, n - used, "%s%s %s: %s", k ? "; " : "", c->check,
                             report_status_name(c->status), c->measured);
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
