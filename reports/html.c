/* report.html: one self-contained page (no scripts, no external files) for a
 * person reading a run: the summary, and per scenario its checks and a
 * timeline of every request (x: scheduled time, y: latency from the
 * schedule; colour: the colour that served; red: failed) with the timeline
 * marks and the relay's switches drawn across it. */
#include "reports/report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W 860.0
#define H 220.0
#define PAD 36.0

static void esc(FILE *f, const char *s)
{
    char *e = report_xml_escape(s ? s : "");
    fputs(e, f);
    free(e);
}

static void timeline_svg(FILE *f, const json_t *tl)
{
    json_t *reqs = json_object_get(tl, "requests");
    if (!json_array_size(reqs))
        return;
    double xmax = 1, ymax = 1;
    size_t i;
    json_t *p;
    json_array_foreach(reqs, i, p) {
        double x = json_number_value(json_array_get(p, 0)), y = json_number_value(json_array_get(p, 1));
        if (x + y > xmax)
            xmax = x + y;
        if (y > ymax)
            ymax = y;
    }
    json_t *m;
    json_array_foreach(json_object_get(tl, "marks"), i, m)
        if (json_number_value(json_array_get(m, 1)) > xmax)
            xmax = json_number_value(json_array_get(m, 1));
    double sx = (W - 2 * PAD) / xmax, sy = (H - 2 * PAD) / ymax;
    fprintf(f, "<svg width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n", W, H, W, H);
    fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" class=\"plot\"/>\n", PAD,
            PAD / 2, W - 2 * PAD, H - 1.5 * PAD);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" class=\"axis\">0</text>", PAD, H - 4);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" class=\"axis\" text-anchor=\"end\">%.0f ms</text>",
            W - PAD, H - 4, xmax);
    fprintf(f, "<text x=\"2\" y=\"%.0f\" class=\"axis\">%.0f ms</text>\n", PAD / 2 + 10, ymax);
    json_array_foreach(json_object_get(tl, "marks"), i, m) {
        double x = PAD + json_number_value(json_array_get(m, 1)) * sx;
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.0f\" class=\"mark\"/>", x, x,
                PAD / 2, H - PAD);
        fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" class=\"label\">", x + 2, PAD / 2 + 10);
        esc(f, json_string_value(json_array_get(m, 0)));
        fprintf(f, "</text>\n");
    }
    json_array_foreach(json_object_get(tl, "switches"), i, m) {
        double x = PAD + json_number_value(json_array_get(m, 0)) * sx;
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.0f\" class=\"switch\"><title>",
                x, x, PAD / 2, H - PAD);
        esc(f, json_string_value(json_array_get(m, 1)));
        fprintf(f, "</title></line>\n");
    }
    json_array_foreach(reqs, i, p) {
        double x = PAD + json_number_value(json_array_get(p, 0)) * sx;
        double y = H - PAD - json_number_value(json_array_get(p, 1)) * sy;
        int ok = json_is_true(json_array_get(p, 2));
        const char *served = json_string_value(json_array_get(p, 3));
        if (ok)
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\" class=\"%s\"/>", x, y,
                    served && strcmp(served, "green") == 0 ? "g" : "b");
        else
            fprintf(f, "<path d=\"M%.1f %.1fl4 4m0 -4l-4 4\" class=\"x\"/>", x - 2, y - 2);
        if (i % 16 == 15)
            fputc('\n', f);
    }
    fprintf(f, "\n</svg>\n");
}

int report_html_write(struct report_run *r, char *err, size_t errlen)
{
    if (!r->html_path)
        return 0;
    FILE *f = fopen(r->html_path, "w");
    if (!f) {
        snprintf(err, errlen, "%s: cannot write: %s", r->html_path, strerror(errno));
        return -1;
    }
    fprintf(f, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>cutover run</title>\n"
               "<style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}"
               "table{border-collapse:collapse;margin:.5em 0}td,th{padding:3px 8px;border-bottom:"
               "1px solid #ddd;text-align:left;vertical-align:top}.pass{color:#1a7f37}.fail{color:"
               "#cf222e;font-weight:bold}.inconclusive{color:#9a6700}.error,.invalid{color:#8250df}"
               ".plot{fill:#fafafa;stroke:#ccc}.b{fill:#2f6fdb}.g{fill:#1a9c4a}.x{stroke:#cf222e;"
               "stroke-width:1.5}.mark{stroke:#888;stroke-dasharray:3 3}.switch{stroke:#e08a00;"
               "stroke-width:2}.axis,.label{font-size:10px;fill:#555}summary{cursor:pointer}"
               "code{font-size:12px}</style></head><body>\n");
    fprintf(f, "<h1>cutover run</h1>\n<p>");
    esc(f, r->version);
    fprintf(f, " &middot; started %s &middot; seed %llu &middot; time scale %g &middot; %.1f s "
               "&middot; exit code %d</p>\n",
            r->started, (unsigned long long)r->seed, r->time_scale, r->duration_s,
            report_exit_code(r));
    fprintf(f, "<table><tr><th>scenario</th><th>folder</th><th>status</th><th>checks</th>"
               "<th>time</th></tr>\n");
    for (size_t i = 0; i < r->n; i++) {
        const struct report_scenario *s = &r->sc[i];
        size_t passed = 0;
        for (size_t k = 0; k < s->n_checks; k++)
            passed += s->checks[k].status == REPORT_PASS;
        fprintf(f, "<tr><td><a href=\"#s%zu\">", i);
        esc(f, s->name);
        fprintf(f, "</a></td><td>");
        esc(f, s->folder);
        fprintf(f, "</td><td class=\"%s\">%s%s</td><td>%zu/%zu</td><td>%.2f s</td></tr>\n",
                report_status_name(s->status), report_status_name(s->status),
                report_is_flaky(s) ? " (flaky)" : "", passed, s->n_checks, s->duration_s);
    }
    fprintf(f, "</table>\n");
    for (size_t i = 0; i < r->n; i++) {
        const struct report_scenario *s = &r->sc[i];
        fprintf(f, "<details id=\"s%zu\"%s><summary><b>", i,
                s->status != REPORT_PASS ? " open" : "");
        esc(f, s->name);
        fprintf(f, "</b> <span class=\"%s\">%s</span> <code>", report_status_name(s->status),
                report_status_name(s->status));
        esc(f, s->file);
        fprintf(f, "</code></summary>\n<p>");
        esc(f, s->description);
        fprintf(f, "</p>\n");
        if (s->error[0]) {
            fprintf(f, "<p class=\"error\">");
            esc(f, s->error);
            fprintf(f, "</p>\n");
        }
        if (s->timeline)
            timeline_svg(f, s->timeline);
        fprintf(f, "<table><tr><th>check</th><th>status</th><th>expected</th><th>measured</th>"
                   "<th>margin</th></tr>\n");
        for (size_t k = 0; k < s->n_checks; k++) {
            const struct report_check *c = &s->checks[k];
            fprintf(f, "<tr><td>");
            esc(f, c->label);
            fprintf(f, "</td><td class=\"%s\">%s</td><td>", report_status_name(c->status),
                    report_status_name(c->status));
            esc(f, c->expected);
            fprintf(f, "</td><td>");
            esc(f, c->measured);
            if (c->detail[0]) {
                fprintf(f, "<br><code>");
                esc(f, c->detail);
                fprintf(f, "</code>");
            }
            fprintf(f, "</td><td>%.4g %s</td></tr>\n", c->margin, c->unit);
        }
        fprintf(f, "</table>\n");
        if (s->log_tail && s->log_tail[0] && s->status != REPORT_PASS) {
            fprintf(f, "<pre>");
            esc(f, s->log_tail);
            fprintf(f, "</pre>\n");
        }
        fprintf(f, "</details>\n");
    }
    fprintf(f, "</body></html>\n");
    if (fclose(f) != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", r->html_path, strerror(errno));
        return -1;
    }
    return 0;
}
