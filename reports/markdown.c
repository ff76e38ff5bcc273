/* --md FILE: a Markdown summary of a run, sized for a pull-request comment
 * or a CI job summary ($GITHUB_STEP_SUMMARY): a headline, a table with the
 * failing scenarios first, then every check that did not hold with expected,
 * measured and margin.  Passing scenarios fold into a <details> block when
 * there are many, so the news stays on the first screen.  Status words come
 * with the icons, so it reads without emoji too. */
#include "reports/report.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define MD_FOLD_AFTER 15 /* passing rows shown before folding the rest */

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

void report_md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '|':
            fputs("\\|", f);
            break;
        case '\n':
        case '\r':
            fputc(' ', f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '`':
            fputc('\'', f);
            break;
        default:
            /* Control characters (an ESC, a form feed) have no place in a
             * table cell, and a terminal may be the reader. */
            fputc((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s, f);
        }
    }
}

static const char *icon(const char *status)
{
    static const struct {
        const char *status, *icon;
    } icons[] = {{"pass", "\u2705 PASS"},
                 {"fail", "\u274c FAIL"},
                 {"inconclusive", "\u26a0\ufe0f INCONCLUSIVE"},
                 {"error", "\u26d4 ERROR"},
                 {"invalid", "\u26d4 INVALID"}};
    for (size_t i = 0; i < sizeof icons / sizeof icons[0]; i++)
        if (strcmp(status, icons[i].status) == 0)
            return icons[i].icon;
    /* Never the unknown word itself: it would reach the page unescaped. */
    return "\u2753 UNKNOWN";
}

/* Several relays in one document (cutover report a.json b.json): the
 * table gets a relay column. */
static int several_relays(const json_t *scs)
{
    const char *first = NULL;
    size_t i;
    const json_t *sc;
    json_array_foreach(scs, i, sc)
    {
        const char *r = str(sc, "relay");
        if (!first)
            first = r;
        else if (strcmp(first, r) != 0)
            return 1;
    }
    return 0;
}

static void row(FILE *f, const json_t *sc, int relay_col)
{
    const json_t *checks = json_object_get(sc, "checks");
    size_t pass = 0, k;
    const json_t *ck;
    json_array_foreach(checks, k, ck) pass += strcmp(str(ck, "status"), "pass") == 0;
    fprintf(f, "| %s | `", icon(str(sc, "status")));
    report_md_cell(f, str(sc, "name"));
    fprintf(f, "`%s%s | %zu/%zu | %.2f s | %lld |",
            json_is_true(json_object_get(sc, "flaky")) ? " (flaky)" : "",
            strcmp(str(sc, "verdict"), "pass_with_advisories") == 0 ? " (with advisories)" : "",
            pass, json_array_size(checks), json_number_value(json_object_get(sc, "duration_s")),
            (long long)json_integer_value(json_object_get(sc, "seed")));
    if (relay_col) {
        char label[128];
        report_relay_label(str(sc, "relay"), label, sizeof label);
        fputs(" ", f);
        report_md_cell(f, label);
        fputs(" |", f);
    }
    fputc('\n', f);
}

int report_md_render(FILE *f, const json_t *results, const char *html_path, char *err,
                     size_t errlen)
{
    const json_t *scs = json_object_get(results, "scenarios");
    const json_t *sum = json_object_get(results, "summary");
    if (!json_is_array(scs)) {
        snprintf(err, errlen, "results: no \"scenarios\" array");
        return -1;
    }
    json_int_t total = json_integer_value(json_object_get(sum, "total"));
    json_int_t passed = json_integer_value(json_object_get(sum, "passed"));
    json_int_t failed = json_integer_value(json_object_get(sum, "failed"));
    json_int_t bad = total - passed;
    if (bad == 0)
        fprintf(f, "## cutover: \u2705 all %lld scenario(s) passed\n\n", (long long)total);
    else
        fprintf(f, "## cutover: \u274c %lld of %lld scenario(s) did not pass\n\n", (long long)bad,
                (long long)total);
    fprintf(f,
            "**%lld passed**, %lld failed, %lld inconclusive, %lld harness error(s), %lld invalid",
            (long long)passed, (long long)failed,
            (long long)json_integer_value(json_object_get(sum, "inconclusive")),
            (long long)json_integer_value(json_object_get(sum, "errors")),
            (long long)json_integer_value(json_object_get(sum, "invalid")));
    json_int_t flaky = json_integer_value(json_object_get(sum, "flaky"));
    if (flaky)
        fprintf(f, ", %lld flaky", (long long)flaky);
    fprintf(f, " · seed %lld · %.1f s · exit code %lld\n\n",
            (long long)json_integer_value(json_object_get(results, "seed")),
            json_number_value(json_object_get(results, "duration_s")),
            (long long)json_integer_value(json_object_get(results, "exit_code")));

    int relay_col = several_relays(scs);
    const char *head = relay_col ? "| status | scenario | checks | time | seed | relay |\n"
                                   "|---|---|---:|---:|---:|---|\n"
                                 : "| status | scenario | checks | time | seed |\n"
                                   "|---|---|---:|---:|---:|\n";
    fputs(head, f);
    size_t i, shown_pass = 0, n_pass = 0;
    const json_t *sc;
    json_array_foreach(scs, i, sc)
    {
        if (strcmp(str(sc, "status"), "pass") != 0)
            row(f, sc, relay_col);
        else
            n_pass++;
    }
    json_array_foreach(scs, i, sc)
    {
        if (strcmp(str(sc, "status"), "pass") != 0)
            continue;
        if (shown_pass == MD_FOLD_AFTER && n_pass > MD_FOLD_AFTER + 3) {
            fprintf(f, "\n<details><summary>%zu more passing scenario(s)</summary>\n\n%s",
                    n_pass - shown_pass, head);
        }
        row(f, sc, relay_col);
        shown_pass++;
    }
    if (n_pass > MD_FOLD_AFTER + 3)
        fprintf(f, "\n</details>\n");

    int header = 0;
    json_array_foreach(scs, i, sc)
    {
        const json_t *checks = json_object_get(sc, "checks");
        const char *status = str(sc, "status");
        /* A pass with advisories is listed too: its advisories are news. */
        if (strcmp(status, "pass") == 0 && strcmp(str(sc, "verdict"), "pass_with_advisories") != 0)
            continue;
        if (!header) {
            fprintf(f, "\n### What did not hold\n");
            header = 1;
        }
        fprintf(f, "\n**");
        report_md_cell(f, str(sc, "name"));
        fprintf(f, "** (`");
        report_md_cell(f, str(sc, "file"));
        fprintf(f, "`): %s", icon(status));
        if (*str(sc, "error")) {
            fprintf(f, ": ");
            report_md_cell(f, str(sc, "error"));
        }
        fprintf(f, "\n");
        if (*str(sc, "description")) {
            fprintf(f, "> ");
            report_md_cell(f, str(sc, "description"));
            fprintf(f, "\n");
        }
        int th = 0;
        size_t k;
        const json_t *ck;
        json_array_foreach(checks, k, ck)
        {
            if (strcmp(str(ck, "status"), "pass") == 0)
                continue;
            if (!th) {
                fprintf(f, "\n| check | status | expected | measured | margin |\n"
                           "|---|---|---|---|---:|\n");
                th = 1;
            }
            fprintf(f, "| `");
            report_md_cell(f, str(ck, "check"));
            fprintf(f, "` ");
            report_md_cell(f, str(ck, "label"));
            if (*str(ck, "severity") && strcmp(str(ck, "severity"), "required") != 0)
                fprintf(f, " (%s)", str(ck, "severity"));
            fprintf(f, " | %s | ", icon(str(ck, "status")));
            report_md_cell(f, str(ck, "expected"));
            fprintf(f, " | ");
            report_md_cell(f, str(ck, "measured"));
            double margin = json_number_value(json_object_get(ck, "margin"));
            fprintf(f, fabs(margin) >= 1000 ? " | %.0f " : " | %.3g ", margin);
            report_md_cell(f, str(ck, "unit"));
            fprintf(f, " |\n");
        }
        if (*str(sc, "out_dir")) {
            fprintf(f, "\nartefacts: `");
            report_md_cell(f, str(sc, "out_dir"));
            fprintf(f, "`\n");
        }
    }
    if (html_path) {
        fprintf(f, "\nTimeline report: `");
        report_md_cell(f, html_path);
        fprintf(f, "`\n");
    }
    if (ferror(f)) {
        snprintf(err, errlen, "write error");
        return -1;
    }
    return 0;
}

int report_md_write(struct report_run *r, char *err, size_t errlen)
{
    const char *path = report_path(r, "md");
    if (!path)
        return 0;
    json_t *j = report_json_build(r);
    int rc = -1;
    FILE *f = fopen(path, "w");
    char e[256] = "";
    if (!f) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        goto out;
    }
    rc = report_md_render(f, j, report_path(r, "html"), e, sizeof e);
    if (fclose(f) != 0 && rc == 0) {
        snprintf(e, sizeof e, "%s", strerror(errno));
        rc = -1;
    }
    if (rc != 0)
        snprintf(err, errlen, "%s: %s", path, e);
out:
    json_decref(j);
    return rc;
}
