/* Scales, outcome shapes, binning, percentiles and escaping for the HTML
 * report (see html_scale.h).  Shapes differ per outcome as well as colours,
 * so a printout in grey or a colour-blind reader still tells a 5xx from a
 * timeout. */
#include "reports/html_scale.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- shapes ---------------------------------------------------------------- */

static void sh_circle(FILE *f, double x, double y, double r, const char *cls)
{
    fprintf(f, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"/>", cls, x, y, r);
}

static void sh_square(FILE *f, double x, double y, double r, const char *cls)
{
    fprintf(f, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>", cls,
            x - r, y - r, 2 * r, 2 * r);
}

static void sh_tri_up(FILE *f, double x, double y, double r, const char *cls)
{
    fprintf(f, "<path class=\"%s\" d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fZ\"/>", cls, x, y - r * 1.2,
            x + r * 1.1, y + r * 0.9, x - r * 1.1, y + r * 0.9);
}

static void sh_tri_down(FILE *f, double x, double y, double r, const char *cls)
{
    fprintf(f, "<path class=\"%s\" d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fZ\"/>", cls, x, y + r * 1.2,
            x + r * 1.1, y - r * 0.9, x - r * 1.1, y - r * 0.9);
}

static void sh_diamond(FILE *f, double x, double y, double r, const char *cls)
{
    fprintf(f, "<path class=\"%s\" d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1fZ\"/>", cls, x,
            y - r * 1.3, x + r * 1.1, y, x, y + r * 1.3, x - r * 1.1, y);
}

/* A cross: drawn as a thick stroke, so the class colours its stroke. */
static void sh_cross(FILE *f, double x, double y, double r, const char *cls)
{
    fprintf(f, "<path class=\"%s x\" d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f\"/>", cls, x - r,
            y - r, x + r, y + r, x - r, y + r, x + r, y - r);
}

/* Half a circle: an answer that broke off half way. */
static void sh_half(FILE *f, double x, double y, double r, const char *cls)
{
    fprintf(f, "<path class=\"%s\" d=\"M%.1f %.1fA%.1f %.1f 0 0 1 %.1f %.1fZ\"/>", cls, x,
            y - r * 1.2, r * 1.2, r * 1.2, x, y + r * 1.2);
}

/* A ring: an open circle, nobody there. */
static void sh_ring(FILE *f, double x, double y, double r, const char *cls)
{
    fprintf(f, "<circle class=\"%s ring\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"/>", cls, x, y, r);
}

const struct report_outcome_kind report_outcomes[RO_COUNT] = {
    [RO_OK] = {"ok", "#2a9d3a", "o", sh_circle},
    [RO_4XX] = {"4xx", "#e67e00", "4", sh_square},
    [RO_LIMITED] = {"rate-limited", "#8e44ad", "L", sh_tri_down},
    [RO_5XX] = {"5xx", "#d62728", "5", sh_tri_up},
    [RO_TIMEOUT] = {"timeout", "#8c564b", "T", sh_diamond},
    [RO_RESET] = {"reset", "#222222", "R", sh_cross},
    [RO_CUT] = {"cut", "#d6339a", "C", sh_half},
    [RO_REFUSED] = {"refused", "#7f7f7f", "X", sh_ring},
};

static int by_status(long status)
{
    if (status >= 200 && status < 400)
        return RO_OK;
    if (status == 429)
        return RO_LIMITED;
    if (status >= 400 && status < 500)
        return RO_4XX;
    if (status >= 500)
        return RO_5XX;
    return RO_RESET; /* no status at all */
}

int report_outcome_of_journal(int status, const char *end)
{
    static const struct {
        const char *end;
        int outcome;
    } ends[] = {
        {"timeout", RO_TIMEOUT}, {"client_gone", RO_TIMEOUT},
        {"reset", RO_RESET},     {"closed", RO_RESET},
        {"cut", RO_CUT},         {"stalled", RO_CUT},
    };
    for (size_t i = 0; end && i < sizeof ends / sizeof ends[0]; i++)
        if (strcmp(end, ends[i].end) == 0)
            return ends[i].outcome;
    return by_status(status);
}

int report_outcome_of_event(int status, const char *error)
{
    static const struct {
        const char *error;
        int outcome;
    } errs[] = {
        {"connect", RO_REFUSED},      {"timeout", RO_TIMEOUT}, {"ttfb_timeout", RO_TIMEOUT},
        {"idle_timeout", RO_TIMEOUT}, {"reset", RO_RESET},
    };
    for (size_t i = 0; error && i < sizeof errs / sizeof errs[0]; i++)
        if (strcmp(error, errs[i].error) == 0)
            return errs[i].outcome;
    return by_status(status);
}

int report_outcome_of_request(long status, int curl_rc, const char *outcome)
{
    if (outcome && (strcmp(outcome, "truncated") == 0 || strcmp(outcome, "inband_error") == 0))
        return RO_CUT;
    if (status == 0 || curl_rc != 0) {
        if (curl_rc == 28) /* CURLE_OPERATION_TIMEDOUT */
            return RO_TIMEOUT;
        if (curl_rc == 7) /* CURLE_COULDNT_CONNECT */
            return RO_REFUSED;
        if (status == 0)
            return RO_RESET;
    }
    return by_status(status);
}

/* ---- scales ---------------------------------------------------------------- */

double report_scale_map(const struct report_scale *s, double v)
{
    double a = s->d0, b = s->d1;
    if (s->log) {
        v = log10(v > 1e-9 ? v : 1e-9);
        a = log10(a > 1e-9 ? a : 1e-9);
        b = log10(b > 1e-9 ? b : 1e-9);
    }
    if (b - a == 0)
        return s->r0;
    double t = (v - a) / (b - a);
    if (t < 0)
        t = 0;
    if (t > 1)
        t = 1;
    return s->r0 + t * (s->r1 - s->r0);
}

double report_tick_step(double span, int max_ticks)
{
    if (!(span > 0) || max_ticks < 1)
        return 1;
    double raw = span / max_ticks;
    double p = pow(10, floor(log10(raw)));
    static const double mult[] = {1, 2, 5, 10};
    for (size_t i = 0; i < sizeof mult / sizeof mult[0]; i++)
        if (mult[i] * p >= raw)
            return mult[i] * p;
    return 10 * p;
}

void report_value_scale(struct report_scale *s, double lo, double hi, double r_bottom, double r_top)
{
    if (!(hi > 0))
        hi = 1;
    if (!(lo > 0) || lo > hi)
        lo = hi / 10;
    s->r0 = r_bottom;
    s->r1 = r_top;
    if (hi / lo > 20) {
        s->log = 1;
        s->d0 = pow(10, floor(log10(lo)));
        s->d1 = pow(10, ceil(log10(hi)));
        if (s->d1 <= s->d0)
            s->d1 = s->d0 * 10;
    } else {
        s->log = 0;
        s->d0 = 0;
        double step = report_tick_step(hi, 5);
        s->d1 = ceil(hi / step) * step;
    }
}

/* ---- binning --------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct pt {
    double x, y;
};

static int cmp_pt(const void *a, const void *b)
{
    return cmp_double(&((const struct pt *)a)->x, &((const struct pt *)b)->x);
}

int report_marks_overlap(const double *xs, const double *ys, size_t n, double min_gap)
{
    if (n < 2)
        return 0;
    struct pt *v = malloc(n * sizeof *v);
    if (!v)
        abort();
    for (size_t i = 0; i < n; i++)
        v[i] = (struct pt){xs[i], ys ? ys[i] : 0};
    qsort(v, n, sizeof *v, cmp_pt);
    int hit = 0;
    /* Sorted by x: only the marks within min_gap to the right can collide. */
    for (size_t i = 0; i + 1 < n && !hit; i++)
        for (size_t j = i + 1; j < n && v[j].x - v[i].x < min_gap && !hit; j++)
            hit = fabs(v[j].y - v[i].y) < min_gap;
    free(v);
    return hit;
}

size_t report_bin_of(double x, double x0, double bin_px, size_t n_bins)
{
    if (n_bins == 0 || !(bin_px > 0))
        return 0;
    double k = floor((x - x0) / bin_px);
    if (!(k > 0))
        return 0;
    return k >= (double)n_bins ? n_bins - 1 : (size_t)k;
}

int report_bin_fill(const double *xs, const int *kinds, size_t n, double x0, double bin_px,
                    struct report_bin *bins, size_t n_bins)
{
    memset(bins, 0, n_bins * sizeof *bins);
    int max = 0;
    for (size_t i = 0; i < n && n_bins; i++) {
        struct report_bin *b = &bins[report_bin_of(xs[i], x0, bin_px, n_bins)];
        int k = kinds[i] >= 0 && kinds[i] < RO_COUNT ? kinds[i] : RO_RESET;
        b->count++;
        b->by[k]++;
        if (b->count > max)
            max = b->count;
    }
    return max;
}

int report_bin_worst(const struct report_bin *b)
{
    for (int k = RO_COUNT - 1; k > RO_OK; k--)
        if (b->by[k])
            return k;
    return RO_OK;
}

/* ---- escaping -------------------------------------------------------------- */

static const char *entity(char c)
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&#39;";
    case '\n':
    case '\t':
    case '\r':
        return NULL;
    default:
        /* Control characters are parse errors in HTML and a raw ESC in the
         * file reaches whoever cats it: shown as U+FFFD. */
        return (unsigned char)c < 0x20 || c == 0x7f ? "&#xfffd;" : NULL;
    }
}

void report_html_puts(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        const char *e = entity(*s);
        if (e)
            fputs(e, f);
        else
            fputc(*s, f);
    }
}

size_t report_html_escape(const char *s, char *out, size_t n)
{
    size_t len = 0, w = 0;
    int full = 0; /* once a piece does not fit, stop: a partial entity would be worse */
    for (; s && *s; s++) {
        const char *e = entity(*s);
        size_t k = e ? strlen(e) : 1;
        if (!full && out && w + k < n) {
            memcpy(out + w, e ? e : s, k);
            w += k;
        } else {
            full = 1;
        }
        len += k;
    }
    if (out && n)
        out[w] = '\0';
    return len;
}
