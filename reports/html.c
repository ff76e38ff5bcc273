/* report.html: one self-contained page (inline CSS and SVG, no script, no
 * network fetch) that tells each scenario as a story in time.
 *
 *   scorecard (several relays) -> overview (failing first) -> per scenario:
 *   timeline (a lane per colour with its attempts and /health probes, the
 *   client lane, in a fleet a lane per replica with its own switches,
 *   health verdicts and pauses; fault windows shaded, switches as labelled
 *   vertical lines,
 *   timeline steps, the window a failing check is about) -> latency over
 *   time with p50/p95/p99 -> checks table linking back into the timeline.
 *
 * Everything is drawn from results.json (built in memory by
 * report_json_build) plus each scenario's artefacts, so the same code can
 * re-render a stored run.  Marks that would overlap are binned into stacked
 * columns; every outcome has a shape as well as a colour. */
#include "reports/html_model.h"
#include "co_stats.h"
#include "reports/html_scale.h"
#include "reports/report.h"

#include "co_mem.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Geometry of a timeline (SVG user units, drawn at 1:1 on a desktop). */
#define SVG_W      1120.0
#define PLOT_X0    118.0
#define PLOT_X1    1100.0
#define LABEL_ROWS 3
#define ROW_H      14.0
#define MARK_R     3.2
#define MIN_GAP    5.0 /* marks closer than this overlap: bin the lane */
#define BIN_PX     4.0
#define MAX_SHARED 4 /* marks in one bin that are still drawn one by one */
#define MAX_BINS   1024

static const char *const colour_names[HM_COLOURS] = {"blue", "green"};

static const char css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d1d1f;"
    "background:#fafafa}"
    "main{max-width:1160px;margin:0 auto;padding:16px 20px 60px}"
    "h1{font-size:22px;margin:8px 0 2px}h2{font-size:18px;margin:28px 0 6px}"
    "h3{font-size:15px;margin:18px 0 4px;color:#444}"
    ".meta{color:#555;margin:2px 0}.meta code{font-size:12px}"
    "table{border-collapse:collapse;background:#fff;margin:6px 0}"
    "th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}"
    "th{background:#f0f0f2;font-weight:600}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}"
    ".badge{display:inline-block;min-width:44px;padding:0 6px;border-radius:3px;color:#fff;"
    "font-weight:700;font-size:12px;text-align:center;letter-spacing:.03em}"
    ".st-pass{background:#2a7d3a}.st-fail{background:#c62828}.st-inconclusive{background:#b8860b}"
    ".st-error,.st-invalid{background:#7b1fa2}.st-unknown{background:#777}"
    "tr.fail td{background:#fff1f0}tr.inconclusive td{background:#fffbe6}"
    "section.scenario{background:#fff;border:1px solid #e2e2e6;border-radius:6px;"
    "padding:4px 16px 12px;margin:22px 0}"
    "section.scenario h2{margin-top:12px}"
    "svg{display:block;max-width:100%;height:auto;background:#fff}"
    "svg text{font:11px system-ui,sans-serif;fill:#333}"
    "svg .halo,svg .step-label,svg .win-label,svg .switch-label,svg .chk-label,svg .pct-g text"
    "{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}"
    "svg .lane{fill:#f4f5f7}svg .lane-label{font-weight:600;font-size:12px}"
    "svg .sub{fill:#666;font-size:10px}"
    "svg .axis line{stroke:#bbb}svg .grid{stroke:#e6e6e9}"
    "svg .win{fill:url(#hatch);stroke:#c62828;stroke-opacity:.35}"
    "svg .win-label{fill:#a01b1b;font-size:10px}"
    "svg .win.idle{fill:none;stroke-dasharray:3 3;stroke-opacity:.6}"
    "svg .join{stroke:#555;stroke-width:1;stroke-opacity:.55}"
    "svg .gap-label{fill:#333;font-size:9px;paint-order:stroke;stroke:#fff;stroke-width:3px}"
    "svg .win.relay{fill:url(#hatch-relay);stroke:#555;stroke-opacity:.4}"
    "svg .win-label.relay{fill:#333}"
    "svg line.switch{stroke:#111;stroke-width:2}"
    "svg .switch-label{font-weight:700;font-size:11px}"
    "svg line.step{stroke:#555;stroke-dasharray:4 3}"
    "svg .step-label{fill:#555;font-size:10px}"
    "svg .chk-win{fill:#c62828;fill-opacity:.06;stroke:#c62828;stroke-width:1.5;"
    "stroke-dasharray:6 3}"
    "svg .chk-win:target{fill-opacity:.18;stroke-width:3}"
    "svg .chk-label{fill:#c62828;font-weight:700;font-size:10px}"
    "svg .x{fill:none;stroke-width:2}svg .ring{fill:none;stroke-width:1.6}"
    "svg .lat-range{stroke:#6b7fa8;stroke-width:1.5}"
    "svg .pct{stroke-width:1.2}svg .p50{stroke:#2a7d3a}"
    "svg .p95{stroke:#e67e00;stroke-dasharray:6 3}svg .p99{stroke:#c62828;stroke-dasharray:2 2}"
    "svg .hl-up{fill:#2a7d3a;font-weight:700}svg .hl-down{fill:#c62828;font-weight:700}"
    "svg .rep-ev{font-size:10px;paint-order:stroke;stroke:#fff;stroke-width:3px}"
    ".legend{margin:4px 0 2px}.legend svg{display:inline-block;vertical-align:middle}"
    ".story{color:#333;margin:4px 0;font-size:13px}"
    "tr:target td{outline:2px solid #c62828}"
    "a{color:#1a56b0}pre{background:#f4f4f6;padding:8px;overflow:auto;font-size:12px}"
    "details{margin:6px 0}";

/* ---- helpers ---------------------------------------------------------------- */

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static int status_of(const char *name)
{
    for (int i = 0; i < REPORT_N_STATUS; i++)
        if (strcmp(name, report_status_name(i)) == 0)
            return i;
    return REPORT_ERROR;
}

static void badge(FILE *f, const char *status)
{
    char up[16];
    size_t k = 0;
    for (const char *p = status; *p && k + 1 < sizeof up; p++)
        up[k++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    up[k] = '\0';
    fprintf(f, "<span class=\"badge st-");
    report_html_puts(f, status);
    fprintf(f, "\">");
    report_html_puts(f, up);
    fprintf(f, "</span>");
}

static void fmt_time(double ms, double span, char *out, size_t n)
{
    if (span >= 3000)
        snprintf(out, n, "%.1f s", ms / 1000.0);
    else
        snprintf(out, n, "%.0f ms", ms);
}

static void fmt_ms(double ms, char *out, size_t n)
{
    if (ms >= 1000)
        snprintf(out, n, "%.2f s", ms / 1000);
    else if (ms >= 10)
        snprintf(out, n, "%.0f ms", ms);
    else
        snprintf(out, n, "%.1f ms", ms);
}

/* ---- the timeline -------------------------------------------------------------- */

struct lane {
    const char *label;
    const char *sub;
    double y, h;
};

struct tl {
    FILE *f;
    int sc; /* scenario index, for ids */
    const struct html_model *m;
    struct report_scale x;
    struct lane att[HM_COLOURS], probe[HM_COLOURS], client;
    /* A fleet (m->n_replicas > 1): one lane of relay events per replica. */
    int fleet;
    struct lane rep[HM_MAX_REPLICAS];
    char rep_label[HM_MAX_REPLICAS][24]; /* "replica %d" */
    double lanes_top, lanes_bottom, height;
};

static void draw_shape(FILE *f, int kind, double x, double y, double r)
{
    char cls[32];
    snprintf(cls, sizeof cls, "m k-%s", report_outcomes[kind].name);
    report_outcomes[kind].shape(f, x, y, r, cls);
}

/* One lane of marks: individual shapes while they do not overlap, stacked
 * bins when they do.  ys gives each mark's row (retries sit lower). */
static void draw_marks(struct tl *t, const struct lane *ln, const double *xs, const double *ys,
                       const int *kinds, char *const *titles, size_t n, const char *what)
{
    FILE *f = t->f;
    if (n == 0)
        return;
    size_t nb = (size_t)ceil((PLOT_X1 - PLOT_X0) / BIN_PX) + 1;
    if (nb > MAX_BINS)
        nb = MAX_BINS;
    struct report_bin *bins = co_calloc(nb, sizeof *bins);
    int max = report_bin_fill(xs, kinds, n, PLOT_X0, BIN_PX, bins, nb);
    /* A few marks sharing a spot (a retry, a hiccup) still read as marks; a
     * column says more only where many do. */
    if (max <= MAX_SHARED || !report_marks_overlap(xs, ys, n, MIN_GAP)) {
        for (size_t i = 0; i < n; i++) {
            fprintf(f, "<g><title>");
            report_html_puts(f, titles ? titles[i] : "");
            fprintf(f, "</title>");
            draw_shape(f, kinds[i], xs[i], ys[i], MARK_R);
            fprintf(f, "</g>");
        }
        free(bins);
        return;
    }
    /* Bins holding a few marks draw those marks: only the crowded stretches
     * of a lane turn into columns. */
    for (size_t i = 0; i < n; i++) {
        if (bins[report_bin_of(xs[i], PLOT_X0, BIN_PX, nb)].count > MAX_SHARED)
            continue;
        fprintf(f, "<g><title>");
        report_html_puts(f, titles ? titles[i] : "");
        fprintf(f, "</title>");
        draw_shape(f, kinds[i], xs[i], ys[i], MARK_R);
        fprintf(f, "</g>");
    }
    double room = ln->h - 10; /* leave a row at the top for the worst outcome's shape */
    fprintf(f, "<g class=\"bins\">");
    for (size_t b = 0; b < nb; b++) {
        if (bins[b].count <= MAX_SHARED)
            continue;
        double x = PLOT_X0 + (double)b * BIN_PX, y = ln->y + ln->h;
        double total = room * bins[b].count / (max > 0 ? max : 1);
        if (total < 2)
            total = 2;
        fprintf(f, "<g><title>%d %s near ", bins[b].count, what);
        char tm[32];
        double span = t->x.d1 - t->x.d0;
        fmt_time(t->x.d0 + (x - PLOT_X0) / (PLOT_X1 - PLOT_X0) * span, span, tm, sizeof tm);
        fprintf(f, "%s:", tm);
        for (int k = 0; k < RO_COUNT; k++)
            if (bins[b].by[k])
                fprintf(f, " %d %s", bins[b].by[k], report_outcomes[k].name);
        fprintf(f, "</title>");
        for (int k = 0; k < RO_COUNT; k++) {
            if (!bins[b].by[k])
                continue;
            double h = total * bins[b].by[k] / bins[b].count;
            y -= h;
            fprintf(
                f,
                "<rect class=\"bin k-%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.2f\"/>",
                report_outcomes[k].name, x, y, BIN_PX - 0.6, h);
        }
        int worst = report_bin_worst(&bins[b]);
        if (worst != RO_OK)
            draw_shape(f, worst, x + BIN_PX / 2, ln->y + 5, 2.6);
        fprintf(f, "</g>");
    }
    fprintf(f, "</g>");
    free(bins);
}

static void draw_lane_bg(struct tl *t, const struct lane *ln, const char *id)
{
    fprintf(t->f,
            "<g class=\"lane-g\" id=\"sc%d-lane-%s\"><rect class=\"lane\" x=\"%.0f\" y=\"%.1f\" "
            "width=\"%.0f\" height=\"%.1f\"/>",
            t->sc, id, PLOT_X0, ln->y, PLOT_X1 - PLOT_X0, ln->h);
    fprintf(t->f, "<text class=\"lane-label\" x=\"8\" y=\"%.1f\">", ln->y + (ln->h > 20 ? 16 : 11));
    report_html_puts(t->f, ln->label);
    fprintf(t->f, "</text>");
    if (ln->sub && ln->h > 20) {
        fprintf(t->f, "<text class=\"sub\" x=\"8\" y=\"%.1f\">", ln->y + 30);
        report_html_puts(t->f, ln->sub);
        fprintf(t->f, "</text>");
    }
    fprintf(t->f, "</g>");
}

static double attempt_row(const struct lane *ln, int attempt)
{
    /* First attempts on the top row, retries below: a retry storm shows as
     * marks stepping down. */
    int row = attempt <= 1 ? 0 : attempt == 2 ? 1 : 2;
    return ln->y + 10 + row * (ln->h - 20) / 2;
}

static void draw_attempts(struct tl *t, int c)
{
    const struct html_model *m = t->m;
    size_t n = 0;
    for (size_t i = 0; i < m->n_atts; i++)
        n += m->atts[i].env == c && m->atts[i].t >= 0;
    double *xs = co_calloc(n + 1, sizeof *xs), *ys = co_calloc(n + 1, sizeof *ys);
    int *kinds = co_calloc(n + 1, sizeof *kinds);
    char **titles = co_calloc(n + 1, sizeof *titles);
    size_t k = 0;
    for (size_t i = 0; i < m->n_atts; i++) {
        const struct hm_att *a = &m->atts[i];
        if (a->env != c || a->t < 0)
            continue;
        xs[k] = report_scale_map(&t->x, a->t);
        ys[k] = attempt_row(&t->att[c], a->attempt);
        kinds[k] = a->kind;
        titles[k] = co_malloc(160);
        snprintf(titles[k], 160, "%s attempt %d on %s at %.0f ms: %s (status %d, %.1f ms)", a->id,
                 a->attempt, colour_names[c], a->t, report_outcomes[a->kind].name, a->status,
                 a->dur);
        k++;
    }
    draw_marks(t, &t->att[c], xs, ys, kinds, titles, k, "attempts");
    for (size_t i = 0; i < k; i++)
        free(titles[i]);
    free(titles);
    free(xs);
    free(ys);
    free(kinds);
}

static int by_id_then_time(const void *pa, const void *pb)
{
    const struct hm_att *a = *(const struct hm_att *const *)pa;
    const struct hm_att *b = *(const struct hm_att *const *)pb;
    int c = strcmp(a->id, b->id);
    return c ? c : a->t < b->t ? -1 : a->t > b->t;
}

/* A request's attempts joined in time order, across colours, each gap
 * labelled with its length (the end of one attempt to the start of the
 * next: the backoff the relay slept, as the upstreams saw it).  Lines for
 * up to JOIN_MAX requests, labels for up to JOIN_LABELS (beyond, each line
 * keeps the gap in its tooltip). */
#define JOIN_MAX    400
#define JOIN_LABELS 40
static void draw_joins(struct tl *t)
{
    const struct html_model *m = t->m;
    const struct hm_att **v = co_calloc(m->n_atts + 1, sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < m->n_atts; i++)
        if (m->atts[i].t >= 0 && m->atts[i].id[0])
            v[n++] = &m->atts[i];
    qsort(v, n, sizeof *v, by_id_then_time);
    size_t joined = 0;
    for (size_t i = 1; i < n; i++)
        joined += strcmp(v[i]->id, v[i - 1]->id) == 0 &&
                  (i == 1 || strcmp(v[i - 1]->id, v[i - 2]->id) != 0);
    if (joined == 0 || joined > JOIN_MAX) {
        free(v);
        return;
    }
    FILE *f = t->f;
    fprintf(f, "<g class=\"joins\">");
    for (size_t i = 1; i < n; i++) {
        const struct hm_att *a = v[i - 1], *b = v[i];
        if (strcmp(a->id, b->id) != 0)
            continue;
        double x0 = report_scale_map(&t->x, a->t), y0 = attempt_row(&t->att[a->env], a->attempt);
        double x1 = report_scale_map(&t->x, b->t), y1 = attempt_row(&t->att[b->env], b->attempt);
        double gap = b->t - (a->t + (a->dur > 0 ? a->dur : 0));
        char g[32];
        fmt_ms(gap > 0 ? gap : 0, g, sizeof g);
        fprintf(f, "<g class=\"join-g\"><title>");
        report_html_puts(f, b->id);
        fprintf(f, ": %s after attempt %d on %s, attempt %d on %s</title>", g, a->attempt,
                colour_names[a->env], b->attempt, colour_names[b->env]);
        fprintf(f, "<line class=\"join\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x0, y0,
                x1, y1);
        if (joined <= JOIN_LABELS && x1 - x0 >= 14)
            fprintf(
                f,
                "<text class=\"gap-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>",
                (x0 + x1) / 2, (y0 + y1) / 2 - 3, g);
        fprintf(f, "</g>");
    }
    fprintf(f, "</g>");
    free(v);
}

static void draw_probes(struct tl *t, int c)
{
    const struct html_model *m = t->m;
    const struct lane *ln = &t->probe[c];
    size_t n = 0;
    for (size_t i = 0; i < m->n_probes; i++)
        n += m->probes[i].env == c;
    double *xs = co_calloc(n + 1, sizeof *xs), *ys = co_calloc(n + 1, sizeof *ys);
    int *kinds = co_calloc(n + 1, sizeof *kinds);
    size_t k = 0;
    for (size_t i = 0; i < m->n_probes; i++) {
        if (m->probes[i].env != c)
            continue;
        xs[k] = report_scale_map(&t->x, m->probes[i].t);
        ys[k] = ln->y + ln->h / 2;
        kinds[k++] = m->probes[i].kind;
    }
    /* Probes are small: drawn individually they fit unless very dense. */
    if (!report_marks_overlap(xs, NULL, k, 3.0)) {
        for (size_t i = 0; i < k; i++)
            draw_shape(t->f, kinds[i], xs[i], ys[i], 2.4);
    } else {
        draw_marks(t, ln, xs, ys, kinds, NULL, k, "health probes");
    }
    /* The relay's own verdicts: a change of state, labelled in words (in a
     * fleet on each replica's lane, draw_replica). */
    for (size_t i = 0; i < m->n_health && !t->fleet; i++) {
        const struct hm_health *h = &m->health[i];
        if (h->env != c)
            continue;
        double x = report_scale_map(&t->x, h->t);
        fprintf(t->f,
                "<text class=\"%s\" x=\"%.1f\" y=\"%.1f\"><title>relay: %s %s at %.0f "
                "ms</title>%s</text>",
                h->healthy ? "hl-up" : "hl-down", x + 3, ln->y + ln->h - 2, colour_names[c],
                h->healthy ? "healthy" : "unhealthy", h->t,
                h->healthy ? "\u25b2 up" : "\u25bc down");
    }
    free(xs);
    free(ys);
    free(kinds);
}

static void draw_client(struct tl *t)
{
    const struct html_model *m = t->m;
    size_t n = m->n_reqs;
    double *xs = co_calloc(n + 1, sizeof *xs), *ys = co_calloc(n + 1, sizeof *ys);
    int *kinds = co_calloc(n + 1, sizeof *kinds);
    char **titles = co_calloc(n + 1, sizeof *titles);
    for (size_t i = 0; i < n; i++) {
        const struct hm_req *q = &m->reqs[i];
        xs[i] = report_scale_map(&t->x, q->t);
        /* Served by blue on the upper row, green lower, nobody in the middle. */
        double off = strcmp(q->served, "blue") == 0 ? -9 : strcmp(q->served, "green") == 0 ? 9 : 0;
        ys[i] = t->client.y + t->client.h / 2 + off;
        kinds[i] = q->kind;
        titles[i] = co_malloc(160);
        snprintf(titles[i], 160, "%s sent at %.0f ms: %s, status %ld, served by %s, %.1f ms", q->id,
                 q->t, report_outcomes[q->kind].name, q->status, q->served[0] ? q->served : "-",
                 q->lat);
    }
    draw_marks(t, &t->client, xs, ys, kinds, titles, n, "requests");
    for (size_t i = 0; i < n; i++)
        free(titles[i]);
    free(titles);
    free(xs);
    free(ys);
    free(kinds);
}

/* One replica's lane in a fleet: its switches (a tick and "→green
 * shared") and its health verdicts ("▼ blue down") where its own event log
 * put them; a label that would run into the previous one is left to its
 * tooltip. */
static void draw_replica(struct tl *t, int r)
{
    const struct html_model *m = t->m;
    const struct lane *ln = &t->rep[r];
    double end = -1e9;
    /* Both kinds in time order, so labels give way left to right. */
    size_t i = 0, j = 0;
    for (;;) {
        while (i < m->n_sw && m->sw[i].replica != r)
            i++;
        while (j < m->n_health && m->health[j].replica != r)
            j++;
        if (i >= m->n_sw && j >= m->n_health)
            break;
        int take_sw = j >= m->n_health || (i < m->n_sw && m->sw[i].t <= m->health[j].t);
        char label[96], title[160];
        double tm;
        const char *cls;
        if (take_sw) {
            const struct hm_switch *s = &m->sw[i++];
            tm = s->t;
            snprintf(label, sizeof label, "\u2192%s %s", s->to, s->reason);
            snprintf(title, sizeof title, "replica %d: switch %s to %s at %.0f ms (%s)", r, s->from,
                     s->to, s->t, s->reason);
            cls = "rep-ev";
        } else {
            const struct hm_health *h = &m->health[j++];
            tm = h->t;
            snprintf(label, sizeof label, "%s %s %s", h->healthy ? "\u25b2" : "\u25bc",
                     colour_names[h->env], h->healthy ? "up" : "down");
            snprintf(title, sizeof title, "replica %d: %s %s at %.0f ms", r, colour_names[h->env],
                     h->healthy ? "healthy" : "unhealthy", h->t);
            cls = h->healthy ? "rep-ev hl-up" : "rep-ev hl-down";
        }
        double x = report_scale_map(&t->x, tm < 0 ? 0 : tm);
        fprintf(t->f, "<g class=\"rep-g\"><title>");
        report_html_puts(t->f, title);
        fprintf(t->f, "</title>");
        if (take_sw)
            fprintf(t->f,
                    "<line class=\"switch\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x,
                    ln->y + 2, x, ln->y + ln->h - 2);
        if (x >= end + 4) {
            fprintf(t->f, "<text class=\"%s\" x=\"%.1f\" y=\"%.1f\">", cls, x + 3,
                    ln->y + ln->h - 7);
            report_html_puts(t->f, label);
            fprintf(t->f, "</text>");
            size_t chars = 0; /* code points, not bytes: the arrows are three */
            for (const char *c = label; *c; c++)
                chars += ((unsigned char)*c & 0xC0) != 0x80;
            end = x + 3 + 6.0 * (double)chars;
        }
        fprintf(t->f, "</g>");
    }
}

/* Labels sit in rows above the lanes; a label goes to the first row where
 * it does not run into the previous one, and is dropped (the line and its
 * tooltip stay) when no row has room. */
static int label_row(double *row_end, int rows, double x, double width)
{
    for (int r = 0; r < rows; r++)
        if (x >= row_end[r] + 4) {
            row_end[r] = x + width;
            return r;
        }
    return -1;
}

/* "blue→green upstream_503"; a switch before the traffic started (a health
 * check at start-up) sits on the left edge and says so. */
static void switch_label(const struct hm_switch *s, char *out, size_t n)
{
    snprintf(out, n, "%s\u2192%s %s%s", s->from, s->to, s->reason,
             s->t < 0 ? " (before the start)" : "");
}

/* Where a check is about on the time axis: [*a, *b] ms, or -1.  The
 * window comes with the check (its row in harness/checks.c says which
 * parameters make it): a mark, ms before it, ms after it (absent: to the
 * end of the run). */
static int check_window(const struct html_model *m, const json_t *ck, double *a, double *b)
{
    const char *mark = json_string_value(json_object_get(ck, "window_mark"));
    double t = mark ? html_model_mark(m, mark) : -1;
    if (t < 0)
        return -1;
    json_t *aft = json_object_get(ck, "window_after_ms");
    *a = t - json_number_value(json_object_get(ck, "window_before_ms"));
    *b = aft ? t + json_number_value(aft) : m->span;
    return 0;
}

static void draw_timeline(FILE *f, int sc, const struct html_model *m, const json_t *checks)
{
    struct tl t = {.f = f, .sc = sc, .m = m};
    t.x = (struct report_scale){.d0 = 0, .d1 = m->span, .r0 = PLOT_X0, .r1 = PLOT_X1};
    t.fleet = m->n_replicas > 1;
    /* As many label rows as the switches need (none without a switch; a
     * fleet's switches sit on their replica's lane). */
    int rows_used = 0;
    double row_end[LABEL_ROWS];
    for (int r = 0; r < LABEL_ROWS; r++)
        row_end[r] = -1e9;
    for (size_t i = 0; i < m->n_sw && !t.fleet; i++) {
        char label[128];
        switch_label(&m->sw[i], label, sizeof label);
        int row = label_row(row_end, LABEL_ROWS, report_scale_map(&t.x, m->sw[i].t),
                            6.2 * (double)strlen(label));
        if (row + 1 > rows_used)
            rows_used = row + 1;
    }
    if (m->n_sw && !rows_used && !t.fleet)
        rows_used = 1;
    double y = 6 + rows_used * ROW_H + ROW_H; /* switch rows, then a row for step labels */
    t.lanes_top = y;
    for (int c = 0; c < HM_COLOURS; c++) {
        y += 13; /* a row for the labels of this colour's fault windows */
        t.att[c] = (struct lane){colour_names[c], "attempts", y, 46};
        y += 48;
        t.probe[c] = (struct lane){"/health", NULL, y, 16};
        y += 18;
    }
    y += 4;
    t.client = (struct lane){"client", "requests", y, 46};
    y += 46;
    for (int r = 0; t.fleet && r < m->n_replicas && r < HM_MAX_REPLICAS; r++) {
        y += 2;
        snprintf(t.rep_label[r], sizeof t.rep_label[r], "replica %d", r);
        t.rep[r] = (struct lane){t.rep_label[r], NULL, y, 20};
        y += 20;
    }
    t.lanes_bottom = y;
    t.height = y + 34;

    fprintf(f,
            "<svg class=\"timeline\" id=\"sc%d-timeline\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
            "height=\"%.0f\" role=\"img\" aria-label=\"timeline\">",
            sc, SVG_W, t.height, SVG_W, t.height);
    fprintf(f,
            "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
            "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#fde8e8\"/>"
            "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#e9a3a3\" stroke-width=\"2\"/>"
            "</pattern><pattern id=\"hatch-relay\" width=\"6\" height=\"6\" "
            "patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(-45)\">"
            "<rect width=\"6\" height=\"6\" fill=\"#ececf0\"/><line x1=\"0\" y1=\"0\" "
            "x2=\"0\" y2=\"6\" stroke=\"#b8b8c4\" stroke-width=\"2\"/></pattern></defs>");
    fprintf(f, "<style>");
    for (int k = 0; k < RO_COUNT; k++)
        fprintf(f, ".k-%s{fill:%s;stroke:%s}", report_outcomes[k].name, report_outcomes[k].colour,
                report_outcomes[k].colour);
    fprintf(f, ".x.k-reset,.ring.k-refused{fill:none}</style>");

    /* Axis grid and ticks. */
    double step = report_tick_step(m->span, 10);
    fprintf(f, "<g class=\"axis\">");
    for (double v = 0; v <= m->span + 1e-6; v += step) {
        double x = report_scale_map(&t.x, v);
        char tm[32];
        fmt_time(v, m->span, tm, sizeof tm);
        fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x,
                t.lanes_top, x, t.lanes_bottom);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>", x,
                t.lanes_bottom + 14, tm);
    }
    fprintf(f,
            "<text class=\"sub\" x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">time after traffic "
            "start</text></g>",
            PLOT_X1, t.lanes_bottom + 28);

    for (int c = 0; c < HM_COLOURS; c++) {
        char id[32];
        draw_lane_bg(&t, &t.att[c], colour_names[c]);
        snprintf(id, sizeof id, "%s-health", colour_names[c]);
        draw_lane_bg(&t, &t.probe[c], id);
    }
    draw_lane_bg(&t, &t.client, "client");
    for (int r = 0; t.fleet && r < m->n_replicas && r < HM_MAX_REPLICAS; r++) {
        char id[32];
        snprintf(id, sizeof id, "replica-%d", r);
        draw_lane_bg(&t, &t.rep[r], id);
    }

    /* Fault windows, shaded over the colour's attempt and probe lanes. */
    for (size_t i = 0; i < m->n_win; i++) {
        const struct hm_window *w = &m->win[i];
        double x0 = report_scale_map(&t.x, w->t0), x1 = report_scale_map(&t.x, w->t1);
        if (w->env == HM_RELAY) {
            /* The relay process itself: shaded across every lane; in a
             * fleet only across the replica's own lane. */
            const struct lane *rl = t.fleet && w->replica >= 0 && w->replica < m->n_replicas &&
                                            w->replica < HM_MAX_REPLICAS
                                        ? &t.rep[w->replica]
                                        : NULL;
            double y0 = rl ? rl->y : t.lanes_top, y1 = rl ? rl->y + rl->h : t.lanes_bottom;
            if (w->replica < 0 && t.fleet) { /* Redis: over every replica's lane */
                int last =
                    m->n_replicas < HM_MAX_REPLICAS ? m->n_replicas - 1 : HM_MAX_REPLICAS - 1;
                y0 = t.rep[0].y;
                y1 = t.rep[last].y + t.rep[last].h;
            }
            fprintf(f, "<g class=\"fault\"><title>from %.0f to %.0f ms: ", w->t0, w->t1);
            report_html_puts(f, w->label);
            fprintf(f,
                    "</title><rect class=\"win relay\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                    "height=\"%.1f\"/><text class=\"win-label relay\" x=\"%.1f\" y=\"%.1f\">",
                    x0, y0, x1 - x0 > 1 ? x1 - x0 : 1, y1 - y0, x0 + 3,
                    rl                          ? rl->y + rl->h - 7
                    : w->replica < 0 && t.fleet ? y0 - 3
                                                : t.client.y - 3);
            report_html_puts(f, w->label);
            fprintf(f, "</text></g>");
            continue;
        }
        /* Drawn where its rules fired (html_model_fired); a fault that was
         * set but never answered a request is only outlined. */
        const struct lane *a = &t.att[w->env], *p = &t.probe[w->env];
        int idle = w->fired == 0;
        fprintf(f, "<g class=\"fault\"><title>%s fault set from %.0f to %.0f ms",
                colour_names[w->env], w->set0, w->set1);
        if (w->fired > 0)
            fprintf(f, "; fired %d time%s from %.0f to %.0f ms", w->fired, w->fired == 1 ? "" : "s",
                    w->t0, w->t1);
        else if (idle)
            fprintf(f, "; never fired");
        fprintf(f, ": ");
        report_html_puts(f, w->label);
        fprintf(f,
                "</title><rect class=\"win%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                "height=\"%.1f\"/>",
                idle ? " idle" : "", x0, a->y, x1 - x0 > 1 ? x1 - x0 : 1, p->y + p->h - a->y);
        fprintf(f, "<text class=\"win-label\" x=\"%.1f\" y=\"%.1f\">%s", x0 + 3, a->y - 3,
                strncmp(w->label, "fault", 5) == 0 ? "" : "fault: ");
        report_html_puts(f, w->label);
        if (w->fired > 0)
            fprintf(f, " (fired %d\u00d7)", w->fired);
        else if (idle)
            fprintf(f, " (never fired)");
        fprintf(f, "</text></g>");
    }

    /* Timeline steps: dashed lines with their mark name. */
    double step_end = -1e9;
    for (size_t i = 0; i < m->n_steps; i++) {
        const struct hm_step *s = &m->steps[i];
        double x = report_scale_map(&t.x, s->t);
        char idp[64];
        report_safe_name(s->name, idp, sizeof idp);
        fprintf(f, "<g class=\"step-g\" id=\"sc%d-mark-%s\"><title>", sc, idp);
        report_html_puts(f, s->name);
        fprintf(f, " at %.0f ms: ", s->t);
        report_html_puts(f, s->label);
        fprintf(f, "</title><line class=\"step\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
                x, t.lanes_top - ROW_H + 2, x, t.lanes_bottom);
        if (x >= step_end + 4) {
            fprintf(f, "<text class=\"step-label\" x=\"%.1f\" y=\"%.1f\">", x + 3, t.lanes_top - 4);
            report_html_puts(f, s->name);
            fprintf(f, "</text>");
            step_end = x + 6.0 * (double)strlen(s->name);
        }
        fprintf(f, "</g>");
    }

    draw_joins(&t);
    for (int c = 0; c < HM_COLOURS; c++) {
        draw_attempts(&t, c);
        draw_probes(&t, c);
    }
    draw_client(&t);
    for (int r = 0; t.fleet && r < m->n_replicas && r < HM_MAX_REPLICAS; r++)
        draw_replica(&t, r);

    /* Failing checks: the part of the time axis they are about. */
    size_t k;
    const json_t *ck;
    json_array_foreach(checks, k, ck)
    {
        if (strcmp(str(ck, "status"), "pass") == 0)
            continue;
        double a, b;
        if (check_window(m, ck, &a, &b) != 0)
            continue;
        double x0 = report_scale_map(&t.x, a), x1 = report_scale_map(&t.x, b);
        fprintf(f, "<g><title>check: ");
        report_html_puts(f, str(ck, "label"));
        fprintf(f,
                "</title><a href=\"#sc%d-check%zu\"><rect class=\"chk-win\" id=\"sc%d-chk%zu\" "
                "x=\"%.1f\" "
                "y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>",
                sc, k, sc, k, x0, t.lanes_top, x1 - x0 > 2 ? x1 - x0 : 2,
                t.lanes_bottom - t.lanes_top);
        fprintf(f, "<text class=\"chk-label\" x=\"%.1f\" y=\"%.1f\">\u2717 ", x0 + 3,
                t.lanes_bottom - 4);
        report_html_puts(f, str(ck, "check"));
        fprintf(f, "</text></a></g>");
    }

    /* Switches last, on top of everything (rows assigned as above). */
    for (int r = 0; r < LABEL_ROWS; r++)
        row_end[r] = -1e9;
    for (size_t i = 0; i < m->n_sw && !t.fleet; i++) {
        const struct hm_switch *s = &m->sw[i];
        double x = report_scale_map(&t.x, s->t);
        char label[128];
        switch_label(s, label, sizeof label);
        int row = label_row(row_end, LABEL_ROWS, x, 6.2 * (double)strlen(label));
        fprintf(f, "<g class=\"switch-g\"><title>switch ");
        report_html_puts(f, s->from);
        fprintf(f, " to ");
        report_html_puts(f, s->to);
        fprintf(f, " at %.0f ms (", s->t);
        report_html_puts(f, s->reason);
        fprintf(f,
                ")</title><line class=\"switch\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
                x, row >= 0 ? 6 + row * ROW_H + 2 : t.lanes_top - ROW_H, x, t.lanes_bottom);
        if (row >= 0) {
            fprintf(f, "<text class=\"switch-label\" x=\"%.1f\" y=\"%.1f\">", x + 4,
                    6 + (row + 1) * ROW_H - 3);
            report_html_puts(f, label);
            fprintf(f, "</text>");
        }
        fprintf(f, "</g>");
    }
    fprintf(f, "</svg>\n");
}

static void legend(FILE *f)
{
    fprintf(f,
            "<div class=\"legend\"><svg width=\"%d\" height=\"18\" viewBox=\"0 0 %d 18\"><style>",
            940, 940);
    for (int k = 0; k < RO_COUNT; k++)
        fprintf(f, ".k-%s{fill:%s;stroke:%s}", report_outcomes[k].name, report_outcomes[k].colour,
                report_outcomes[k].colour);
    fprintf(f, ".x.k-reset,.ring.k-refused{fill:none}</style>");
    double x = 8;
    for (int k = 0; k < RO_COUNT; k++) {
        draw_shape(f, k, x, 9, 4);
        fprintf(f, "<text x=\"%.0f\" y=\"13\">%s</text>", x + 8, report_outcomes[k].name);
        x += 16 + 7.0 * (double)strlen(report_outcomes[k].name);
    }
    fprintf(f,
            "<rect class=\"win\" x=\"%.0f\" y=\"3\" width=\"18\" height=\"12\"/>"
            "<text x=\"%.0f\" y=\"13\">fault window</text>",
            x, x + 22);
    x += 110;
    fprintf(f,
            "<line class=\"switch\" x1=\"%.0f\" y1=\"1\" x2=\"%.0f\" y2=\"17\"/>"
            "<text x=\"%.0f\" y=\"13\">switch</text>",
            x, x, x + 5);
    x += 60;
    fprintf(f,
            "<line class=\"step\" x1=\"%.0f\" y1=\"1\" x2=\"%.0f\" y2=\"17\"/>"
            "<text x=\"%.0f\" y=\"13\">timeline step</text>",
            x, x, x + 5);
    fprintf(f, "</svg></div>\n");
}

/* A line of words under the timeline: counts per lane and the switches. */
static void story(FILE *f, const struct html_model *m)
{
    fprintf(f, "<p class=\"story\">");
    for (int c = 0; c < HM_COLOURS + 1; c++) {
        int counts[RO_COUNT] = {0}, total = 0;
        if (c < HM_COLOURS) {
            for (size_t i = 0; i < m->n_atts; i++)
                if (m->atts[i].env == c && m->atts[i].t >= 0) {
                    counts[m->atts[i].kind]++;
                    total++;
                }
            fprintf(f, "<b>%s</b>: %d attempt%s", colour_names[c], total, total == 1 ? "" : "s");
        } else {
            for (size_t i = 0; i < m->n_reqs; i++) {
                counts[m->reqs[i].kind]++;
                total++;
            }
            fprintf(f, "<b>client</b>: %d request%s", total, total == 1 ? "" : "s");
        }
        const char *sep = " (";
        for (int k = 0; k < RO_COUNT; k++)
            if (counts[k]) {
                fprintf(f, "%s%d %s", sep, counts[k], report_outcomes[k].name);
                sep = ", ";
            }
        fprintf(f, "%s%s", total ? ")" : "", c < HM_COLOURS ? " · " : "");
    }
    fprintf(f, ".");
    if (m->n_sw) {
        fprintf(f, " %zu switch%s:", m->n_sw, m->n_sw == 1 ? "" : "es");
        for (size_t i = 0; i < m->n_sw && i < 8; i++) {
            fprintf(f, "%s ", i ? "," : "");
            if (m->n_replicas > 1)
                fprintf(f, "replica %d ", m->sw[i].replica);
            report_html_puts(f, m->sw[i].from);
            fprintf(f, "\u2192");
            report_html_puts(f, m->sw[i].to);
            fprintf(f, " at %.0f ms (", m->sw[i].t);
            report_html_puts(f, m->sw[i].reason);
            fprintf(f, ")");
        }
        if (m->n_sw > 8)
            fprintf(f, ", ...");
        fprintf(f, ".");
    } else if (m->have_events) {
        fprintf(f, " No switch.");
    }
    if (m->n_limits)
        fprintf(f, " %zu request%s rate-limited by the relay.", m->n_limits,
                m->n_limits == 1 ? "" : "s");
    fprintf(f, "</p>\n");
}

/* ---- latency ------------------------------------------------------------------ */

static void draw_latency(FILE *f, int sc, const struct html_model *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_reqs; i++)
        n += m->reqs[i].lat >= 0;
    if (n == 0) {
        fprintf(
            f,
            "<p class=\"story\" id=\"sc%d-latency\">No request finished: no latency to draw.</p>\n",
            sc);
        return;
    }
    double *lat = co_calloc(n, sizeof *lat), *xs = co_calloc(n, sizeof *xs);
    int *kinds = co_calloc(n, sizeof *kinds);
    double lo = 1e18, hi = 0;
    size_t k = 0;
    for (size_t i = 0; i < m->n_reqs; i++) {
        const struct hm_req *q = &m->reqs[i];
        if (q->lat < 0)
            continue;
        lat[k] = q->lat;
        kinds[k] = q->kind;
        if (q->lat > 0 && q->lat < lo)
            lo = q->lat;
        if (q->lat > hi)
            hi = q->lat;
        k++;
    }
    const double top = 16, bottom = 196, H = 226;
    struct report_scale x = {.d0 = 0, .d1 = m->span, .r0 = PLOT_X0, .r1 = PLOT_X1}, y;
    report_value_scale(&y, lo, hi, bottom, top);
    for (size_t i = 0, j = 0; i < m->n_reqs; i++)
        if (m->reqs[i].lat >= 0)
            xs[j++] = report_scale_map(&x, m->reqs[i].t);

    fprintf(f,
            "<svg class=\"latency\" id=\"sc%d-latency\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
            "height=\"%.0f\" "
            "role=\"img\" aria-label=\"latency\"><style>",
            sc, SVG_W, H, SVG_W, H);
    for (int kk = 0; kk < RO_COUNT; kk++)
        fprintf(f, ".k-%s{fill:%s;stroke:%s}", report_outcomes[kk].name, report_outcomes[kk].colour,
                report_outcomes[kk].colour);
    fprintf(f, ".x.k-reset,.ring.k-refused{fill:none}</style>");
    fprintf(f, "<rect class=\"lane\" x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\"/>",
            PLOT_X0, top, PLOT_X1 - PLOT_X0, bottom - top);
    /* Value ticks: decades on a log axis, round steps on a linear one. */
    fprintf(f, "<g class=\"axis\">");
    if (y.log) {
        for (double v = y.d0; v <= y.d1 * 1.0001; v *= 10) {
            double yy = report_scale_map(&y, v);
            char lbl[32];
            fmt_ms(v, lbl, sizeof lbl);
            fprintf(f,
                    "<line class=\"grid\" x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\"/>"
                    "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%s</text>",
                    PLOT_X0, yy, PLOT_X1, yy, PLOT_X0 - 6, yy + 4, lbl);
        }
    } else {
        double st = report_tick_step(y.d1, 5);
        for (double v = 0; v <= y.d1 + 1e-9; v += st) {
            double yy = report_scale_map(&y, v);
            char lbl[32];
            fmt_ms(v, lbl, sizeof lbl);
            fprintf(f,
                    "<line class=\"grid\" x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\"/>"
                    "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%s</text>",
                    PLOT_X0, yy, PLOT_X1, yy, PLOT_X0 - 6, yy + 4, lbl);
        }
    }
    double step = report_tick_step(m->span, 10);
    for (double v = 0; v <= m->span + 1e-6; v += step) {
        char tm[32];
        fmt_time(v, m->span, tm, sizeof tm);
        fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>",
                report_scale_map(&x, v), bottom + 14, tm);
    }
    fprintf(f, "<text class=\"sub\" x=\"8\" y=\"%.0f\">%s scale</text>", top + 10,
            y.log ? "log" : "linear");
    fprintf(f, "</g>");

    double *yv = co_calloc(k + 1, sizeof *yv);
    for (size_t i = 0; i < k; i++)
        yv[i] = report_scale_map(&y, lat[i]);
    int overlap = report_marks_overlap(xs, yv, k, 3.0);
    free(yv);
    if (!overlap) {
        for (size_t i = 0; i < k; i++)
            draw_shape(f, kinds[i], xs[i], report_scale_map(&y, lat[i]), 2.6);
    } else {
        /* Binned: the range of each column as a line, its median as a dot. */
        size_t nb = (size_t)ceil((PLOT_X1 - PLOT_X0) / BIN_PX) + 1;
        double *lo_b = co_calloc(nb, sizeof *lo_b), *hi_b = co_calloc(nb, sizeof *hi_b);
        size_t *cnt = co_calloc(nb, sizeof *cnt);
        int *worst = co_calloc(nb, sizeof *worst);
        double **vals = co_calloc(nb, sizeof *vals);
        for (size_t i = 0; i < k; i++) {
            size_t b = report_bin_of(xs[i], PLOT_X0, BIN_PX, nb);
            if (!cnt[b] || lat[i] < lo_b[b])
                lo_b[b] = lat[i];
            if (!cnt[b] || lat[i] > hi_b[b])
                hi_b[b] = lat[i];
            if (kinds[i] > worst[b])
                worst[b] = kinds[i];
            vals[b] = co_realloc(vals[b], (cnt[b] + 1) * sizeof **vals);
            vals[b][cnt[b]++] = lat[i];
        }
        for (size_t b = 0; b < nb; b++) {
            if (!cnt[b])
                continue;
            double xx = PLOT_X0 + ((double)b + 0.5) * BIN_PX;
            double med = co_percentile(vals[b], cnt[b], 50);
            fprintf(f, "<g><title>%zu requests: %.1f to %.1f ms, median %.1f ms</title>", cnt[b],
                    lo_b[b], hi_b[b], med);
            fprintf(f,
                    "<line class=\"lat-range\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
                    xx, report_scale_map(&y, lo_b[b]), xx, report_scale_map(&y, hi_b[b]) - 0.5);
            draw_shape(f, worst[b], xx, report_scale_map(&y, med), 1.8);
            fprintf(f, "</g>");
            free(vals[b]);
        }
        free(vals);
        free(lo_b);
        free(hi_b);
        free(cnt);
        free(worst);
    }
    /* Percentile lines over every finished request (latency from the
     * schedule, so a stalled relay cannot hide). */
    static const struct {
        const char *name;
        double p;
        double label_dx;
    } pcts[] = {{"p50", 50, 250}, {"p95", 95, 160}, {"p99", 99, 70}};
    double pv[3];
    for (size_t i = 0; i < 3; i++)
        pv[i] = co_percentile(lat, k, pcts[i].p);
    for (size_t i = 0; i < 3; i++) {
        double yy = report_scale_map(&y, pv[i]);
        char v[32];
        fmt_ms(pv[i], v, sizeof v);
        fprintf(f,
                "<g class=\"pct-g\"><line class=\"pct %s\" x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" "
                "y2=\"%.1f\"/>"
                "<text x=\"%.0f\" y=\"%.1f\" font-weight=\"700\">%s %s</text></g>",
                pcts[i].name, PLOT_X0, yy, PLOT_X1, yy, PLOT_X1 - pcts[i].label_dx, yy - 3,
                pcts[i].name, v);
    }
    fprintf(f, "</svg>\n");
    char a[32], b[32], c[32], mx[32];
    fmt_ms(pv[0], a, sizeof a);
    fmt_ms(pv[1], b, sizeof b);
    fmt_ms(pv[2], c, sizeof c);
    fmt_ms(hi, mx, sizeof mx);
    fprintf(f,
            "<p class=\"story\">Client latency from the scheduled send, %zu finished request%s: "
            "p50 %s, p95 %s, p99 %s, max %s.</p>\n",
            k, k == 1 ? "" : "s", a, b, c, mx);
    free(lat);
    free(xs);
    free(kinds);
}

/* ---- tables -------------------------------------------------------------------- */

/* Where a check's link points: its window on the timeline, the latency
 * view for latency checks, else the whole timeline. */
static void check_target(int sc, size_t k, const json_t *ck, const struct html_model *m, char *out,
                         size_t n)
{
    double a, b;
    const char *name = str(ck, "check");
    if (m && check_window(m, ck, &a, &b) == 0)
        snprintf(out, n, "#sc%d-chk%zu", sc, k);
    else if (strstr(name, "latency") || strstr(name, "deadline") || strstr(name, "overhead"))
        snprintf(out, n, "#sc%d-latency", sc);
    else
        snprintf(out, n, "#sc%d-timeline", sc);
}

static void checks_table(FILE *f, int sc, const json_t *checks, const struct html_model *m)
{
    fprintf(
        f,
        "<table class=\"checks\" id=\"sc%d-checks\"><tr><th>status</th><th>check</th>"
        "<th>expected</th><th>measured</th><th>margin</th><th>samples</th><th>detail</th></tr>\n",
        sc);
    size_t k;
    const json_t *ck;
    json_array_foreach(checks, k, ck)
    {
        const char *st = str(ck, "status");
        fprintf(f, "<tr class=\"");
        report_html_puts(f, st);
        fprintf(f, "\" id=\"sc%d-check%zu\"><td>", sc, k);
        badge(f, st);
        fprintf(f, "</td><td>");
        if (strcmp(st, "pass") != 0) {
            char target[64];
            check_target(sc, k, ck, m, target, sizeof target);
            fprintf(f, "<a href=\"%s\" title=\"show on the timeline\">", target);
        }
        fprintf(f, "<code>");
        report_html_puts(f, str(ck, "check"));
        fprintf(f, "</code>%s<br><small>", strcmp(st, "pass") != 0 ? "</a>" : "");
        report_html_puts(f, str(ck, "label"));
        if (*str(ck, "severity") && strcmp(str(ck, "severity"), "required") != 0) {
            fprintf(f, " <b>");
            report_html_puts(f, str(ck, "severity"));
            fprintf(f, "</b>");
        }
        fprintf(f, "</small></td><td>");
        report_html_puts(f, str(ck, "expected"));
        fprintf(f, "</td><td>");
        report_html_puts(f, str(ck, "measured"));
        double margin = json_number_value(json_object_get(ck, "margin"));
        /* Three significant digits, but never an exponent a reader must decode. */
        fprintf(f,
                fabs(margin) >= 1000 ? "</td><td class=\"num\">%.0f "
                                     : "</td><td class=\"num\">%.3g ",
                margin);
        report_html_puts(f, str(ck, "unit"));
        fprintf(f, "</td><td class=\"num\">%lld</td><td>",
                (long long)json_integer_value(json_object_get(ck, "samples")));
        const char *d = str(ck, "detail");
        if (strlen(d) > 160) {
            char head[84];
            snprintf(head, sizeof head, "%.80s", d);
            fprintf(f, "<details><summary>");
            report_html_puts(f, head);
            fprintf(f, "...</summary>");
            report_html_puts(f, d);
            fprintf(f, "</details>");
        } else {
            report_html_puts(f, d);
        }
        fprintf(f, "</td></tr>\n");
    }
    fprintf(f, "</table>\n");
}

static int sort_rank(const json_t *sc)
{
    /* Failing first, then what needs a person, then passes. */
    static const int rank[] = {[REPORT_PASS] = 4,  [REPORT_FAIL] = 0,    [REPORT_INCONCLUSIVE] = 3,
                               [REPORT_ERROR] = 1, [REPORT_INVALID] = 2, [REPORT_NA] = 4};
    return rank[status_of(str(sc, "status"))];
}

/* What each relay gave the checks (results.json "observability"): the
 * signals behind every inconclusive "relay writes no event log" verdict. */
static void observability(FILE *f, const json_t *obs)
{
    if (!json_object_size(obs))
        return;
    fprintf(f, "<h2 id=\"observability\">Observability</h2>\n<ul class=\"observability\">\n");
    const char *relay;
    const json_t *one;
    json_object_foreach((json_t *)obs, relay, one)
    {
        char label[160];
        report_relay_label(relay, label, sizeof label);
        fprintf(f, "<li><b>");
        report_html_puts(f, label);
        fprintf(f, "</b>: ");
        report_html_puts(f, str(one, "summary"));
        fprintf(f, "</li>\n");
    }
    fprintf(f, "</ul>\n");
}

static void overview(FILE *f, const json_t *scs)
{
    size_t n = json_array_size(scs);
    fprintf(f, "<h2 id=\"overview\">Overview</h2>\n<table class=\"overview\"><tr><th>status</th>"
               "<th>scenario</th><th>checks</th><th>failing checks</th>"
               "<th>inconclusive checks</th><th>duration</th>"
               "<th>seed</th><th>requests</th><th>relay</th></tr>\n");
    for (int rank = 0; rank <= 4; rank++) {
        for (size_t i = 0; i < n; i++) {
            const json_t *sc = json_array_get(scs, i);
            if (sort_rank(sc) != rank)
                continue;
            const json_t *checks = json_object_get(sc, "checks");
            size_t pass = 0, k;
            const json_t *ck;
            json_array_foreach(checks, k, ck) pass += strcmp(str(ck, "status"), "pass") == 0;
            fprintf(f, "<tr class=\"");
            report_html_puts(f, str(sc, "status"));
            fprintf(f, "\"><td>");
            badge(f, str(sc, "status"));
            fprintf(f, "</td><td><a href=\"#sc%zu\">", i);
            report_html_puts(f, str(sc, "name"));
            fprintf(f, "</a>");
            if (json_is_true(json_object_get(sc, "flaky")))
                fprintf(f, " <b>flaky</b>");
            fprintf(f, "</td><td class=\"num\">%zu/%zu</td>", pass, json_array_size(checks));
            /* Failing and inconclusive apart: a passing scenario's
             * inconclusive self-check is not a failing check. */
            static const char *const kinds[] = {"fail", "inconclusive"};
            for (int kind = 0; kind < 2; kind++) {
                int first = 1;
                fprintf(f, "<td>");
                json_array_foreach(checks, k, ck)
                {
                    if (strcmp(str(ck, "status"), kinds[kind]) != 0)
                        continue;
                    fprintf(f, "%s<a href=\"#sc%zu-check%zu\"><code>", first ? "" : ", ", i, k);
                    report_html_puts(f, str(ck, "check"));
                    fprintf(f, "</code></a>");
                    if (kind == 1) {
                        fprintf(f, " <small>");
                        report_html_puts(f, str(ck, "measured"));
                        fprintf(f, "</small>");
                    }
                    first = 0;
                }
                if (kind == 0 && *str(sc, "error")) {
                    fprintf(f, "%s", first ? "" : "<br>");
                    report_html_puts(f, str(sc, "error"));
                }
                fprintf(f, "</td>");
            }
            fprintf(f,
                    "<td class=\"num\">%.2f s</td><td class=\"num\">%lld</td>"
                    "<td class=\"num\">%lld</td><td>",
                    json_number_value(json_object_get(sc, "duration_s")),
                    (long long)json_integer_value(json_object_get(sc, "seed")),
                    (long long)json_integer_value(json_object_get(sc, "requests")));
            char relay[128];
            report_relay_label(str(sc, "relay"), relay, sizeof relay);
            fprintf(f, "<span title=\"");
            report_html_puts(f, str(sc, "relay"));
            fprintf(f, "\">");
            report_html_puts(f, relay);
            fprintf(f, "</span></td></tr>\n");
        }
    }
    fprintf(f, "</table>\n");
}

/* With several relays (scenarios carrying different "relay" values), a
 * matrix of scenario by relay comes first: which relay survives what.  The
 * runner runs one relay per invocation today; results.json files of several
 * relays merged into one document, or a future multi-relay runner, fill the
 * "relay" field per scenario and get the matrix for free. */
/* The measured value and the why of a cell, from results.json's
 * "scorecard" (a multi-relay run) when there is one. */
static void scorecard_note(FILE *f, const json_t *card, const char *name, const char *relay)
{
    size_t i, k;
    json_t *row, *c;
    json_array_foreach(json_object_get(card, "rows"), i, row)
    {
        if (strcmp(str(row, "scenario"), name) != 0)
            continue;
        const json_t *cell = NULL;
        json_array_foreach(json_object_get(row, "cells"), k,
                           c) if (strcmp(str(c, "relay"), relay) == 0) cell = c;
        if (!cell)
            return;
        fprintf(f, "<br><small>");
        report_html_puts(f, str(cell, "value"));
        if (*str(cell, "why")) {
            fprintf(f, " &mdash; <b>");
            report_html_puts(f, str(cell, "why"));
            fprintf(f, "</b>");
        }
        fprintf(f, "</small>");
        return;
    }
}

static void scorecard(FILE *f, const json_t *scs, const json_t *card)
{
    const char *relays[16];
    size_t nr = 0, n = json_array_size(scs);
    for (size_t i = 0; i < n; i++) {
        const char *r = str(json_array_get(scs, i), "relay");
        size_t k = 0;
        while (k < nr && strcmp(relays[k], r) != 0)
            k++;
        if (k == nr && nr < sizeof relays / sizeof relays[0])
            relays[nr++] = r;
    }
    if (nr < 2)
        return;
    fprintf(
        f, "<h2 id=\"scorecard\">Scorecard</h2>\n<table class=\"scorecard\"><tr><th>scenario</th>");
    for (size_t k = 0; k < nr; k++) {
        char label[128];
        report_relay_label(relays[k], label, sizeof label);
        fprintf(f, "<th title=\"");
        report_html_puts(f, relays[k]);
        fprintf(f, "\">");
        report_html_puts(f, label);
        fprintf(f, "</th>");
    }
    fprintf(f, "</tr>\n");
    for (size_t i = 0; i < n; i++) {
        const char *name = str(json_array_get(scs, i), "name");
        size_t j = 0;
        while (j < i && strcmp(str(json_array_get(scs, j), "name"), name) != 0)
            j++;
        if (j < i)
            continue; /* this scenario's row is already written */
        fprintf(f, "<tr><td>");
        report_html_puts(f, name);
        fprintf(f, "</td>");
        for (size_t k = 0; k < nr; k++) {
            fprintf(f, "<td>");
            for (size_t q = 0; q < n; q++) {
                const json_t *sc = json_array_get(scs, q);
                if (strcmp(str(sc, "name"), name) == 0 &&
                    strcmp(str(sc, "relay"), relays[k]) == 0) {
                    fprintf(f, "<a href=\"#sc%zu\">", q);
                    badge(f, str(sc, "status"));
                    fprintf(f, "</a>");
                    if (card)
                        scorecard_note(f, card, name, relays[k]);
                }
            }
            fprintf(f, "</td>");
        }
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n");
}

static void scenario_section(FILE *f, int i, const json_t *sc)
{
    const json_t *checks = json_object_get(sc, "checks");
    fprintf(f, "<section class=\"scenario\" id=\"sc%d\"><h2>", i);
    badge(f, str(sc, "status"));
    fprintf(f, " ");
    report_html_puts(f, str(sc, "name"));
    fprintf(f, "</h2>\n");
    if (strcmp(str(sc, "verdict"), "pass_with_advisories") == 0)
        fprintf(f,
                "<p><b>pass with %lld advisor%s</b> (advisory checks that did not pass; "
                "the verdict follows the required checks)</p>\n",
                (long long)json_integer_value(json_object_get(sc, "advisories")),
                json_integer_value(json_object_get(sc, "advisories")) == 1 ? "y" : "ies");
    fprintf(f, "<p class=\"meta\">");
    report_html_puts(f, str(sc, "description"));
    fprintf(f, "</p><p class=\"meta\"><code>");
    report_html_puts(f, str(sc, "file"));
    fprintf(f, "</code> · seed %lld · %.2f s · %lld requests",
            (long long)json_integer_value(json_object_get(sc, "seed")),
            json_number_value(json_object_get(sc, "duration_s")),
            (long long)json_integer_value(json_object_get(sc, "requests")));
    if (*str(sc, "tags")) {
        fprintf(f, " · tags ");
        report_html_puts(f, str(sc, "tags"));
    }
    if (*str(sc, "out_dir")) {
        fprintf(f, " · artefacts <code>");
        report_html_puts(f, str(sc, "out_dir"));
        fprintf(f, "</code>");
    }
    fprintf(f, "</p>\n");
    if (*str(sc, "error")) {
        fprintf(f, "<p><b>");
        report_html_puts(f, str(sc, "status"));
        fprintf(f, ":</b> ");
        report_html_puts(f, str(sc, "error"));
        fprintf(f, "</p>\n");
    }
    struct html_model m;
    html_model_load(&m, sc);
    if (m.n_reqs || m.n_atts || m.n_sw) {
        fprintf(f, "<h3>Timeline</h3>\n");
        legend(f);
        draw_timeline(f, i, &m, checks);
        story(f, &m);
        fprintf(f, "<h3>Latency</h3>\n");
        draw_latency(f, i, &m);
    }
    fprintf(f, "<h3>Checks</h3>\n");
    checks_table(f, i, checks, &m);
    const char *tail = str(sc, "relay_log_tail");
    if (*tail) {
        fprintf(f, "<details><summary>relay log tail</summary><pre>");
        report_html_puts(f, tail);
        fprintf(f, "</pre></details>\n");
    }
    fprintf(f, "</section>\n");
    html_model_free(&m);
}

int report_html_render(FILE *f, const json_t *results, char *err, size_t errlen)
{
    const json_t *scs = json_object_get(results, "scenarios");
    const json_t *sum = json_object_get(results, "summary");
    if (!json_is_array(scs)) {
        snprintf(err, errlen, "results: no \"scenarios\" array");
        return -1;
    }
    fprintf(f,
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            "<title>cutover report</title><style>%s</style></head><body><main>\n",
            css);
    fprintf(f, "<h1>cutover report</h1>\n<p class=\"meta\">");
    const char *names[] = {"passed", "failed", "inconclusive", "errors", "invalid", "flaky"};
    fprintf(f, "%lld scenario(s):", (long long)json_integer_value(json_object_get(sum, "total")));
    for (size_t k = 0, shown = 0; k < sizeof names / sizeof names[0]; k++) {
        json_int_t v = json_integer_value(json_object_get(sum, names[k]));
        if (v || k == 0)
            fprintf(f, "%s %lld %s", shown++ ? "," : "", (long long)v, names[k]);
    }
    fprintf(f, " · exit code %lld · seed %lld · time scale %g · started ",
            (long long)json_integer_value(json_object_get(results, "exit_code")),
            (long long)json_integer_value(json_object_get(results, "seed")),
            json_number_value(json_object_get(results, "time_scale")));
    report_html_puts(f, str(results, "started"));
    fprintf(f, " · %.1f s · ", json_number_value(json_object_get(results, "duration_s")));
    report_html_puts(f, str(results, "version"));
    fprintf(f, "</p>\n");
    scorecard(f, scs, json_object_get(results, "scorecard"));
    observability(f, json_object_get(results, "observability"));
    overview(f, scs);
    /* Sections in the overview's order: the failures are the first thing
     * one scrolls to. */
    for (int rank = 0; rank <= 4; rank++)
        for (size_t i = 0; i < json_array_size(scs); i++)
            if (sort_rank(json_array_get(scs, i)) == rank)
                scenario_section(f, (int)i, json_array_get(scs, i));
    fprintf(f, "</main></body></html>\n");
    if (ferror(f)) {
        snprintf(err, errlen, "write error");
        return -1;
    }
    return 0;
}

int report_html_write(struct report_run *r, char *err, size_t errlen)
{
    const char *path = report_path(r, "html");
    if (!path)
        return 0;
    json_t *j = report_json_build(r);
    int rc = -1;
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        goto out;
    }
    char e[256] = "";
    rc = report_html_render(f, j, e, sizeof e);
    if (fclose(f) != 0 && rc == 0) {
        snprintf(e, sizeof e, "%s", strerror(errno));
        rc = -1;
    }
    if (rc != 0)
        snprintf(err, errlen, "%s: %s", path, e);
    else if (r->console)
        fprintf(r->console, "report: %s\n", path);
out:
    json_decref(j);
    return rc;
}
