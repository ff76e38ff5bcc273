/* The pure pieces of the HTML report: time and value scales, the outcome
 * table (colour, shape and letter of each kind of mark, so the picture also
 * reads without colour), the binning that keeps thousands of marks readable,
 * percentiles and HTML escaping.  No I/O beyond writing to a FILE, no clock:
 * everything here is unit-tested with plain numbers (tests/unit/
 * test_report_html.c). */
#ifndef REPORT_HTML_SCALE_H
#define REPORT_HTML_SCALE_H

#include <stddef.h>
#include <stdio.h>

/* What happened to one mark (an upstream attempt or a client request). */
enum report_outcome {
    RO_OK,
    RO_4XX,
    RO_LIMITED, /* 429: rate-limited */
    RO_5XX,
    RO_TIMEOUT,
    RO_RESET,
    RO_CUT,     /* a body or stream that broke off, or carried an in-band error */
    RO_REFUSED, /* connection refused: nothing listened */
    RO_COUNT
};

struct report_outcome_kind {
    const char *name;   /* css class suffix and legend word */
    const char *colour; /* fill */
    const char *letter; /* a one-letter label for text and screen readers */
    /* Writes an SVG path of the shape centred on (x, y), radius r. */
    void (*shape)(FILE *f, double x, double y, double r, const char *cls);
};

extern const struct report_outcome_kind report_outcomes[RO_COUNT];

/* An upstream attempt from a mock journal record ("end" and status). */
int report_outcome_of_journal(int status, const char *end);
/* An upstream attempt from a relay "attempt" event (status and error). */
int report_outcome_of_event(int status, const char *error);
/* A client request from requests.jsonl (status, curl code, outcome name). */
int report_outcome_of_request(long status, int curl_rc, const char *outcome);

/* A linear map from a domain to pixels. */
struct report_scale {
    double d0, d1; /* domain */
    double r0, r1; /* range (pixels) */
    int log;       /* log10 map (domain must be > 0) */
};

double report_scale_map(const struct report_scale *s, double v);
/* A round tick step (1, 2 or 5 times a power of ten) giving at most
 * max_ticks ticks over span. */
double report_tick_step(double span, int max_ticks);
/* A value scale for latencies: log when they spread over more than a factor
 * of 20, linear otherwise.  lo/hi are the data's bounds (ms). */
void report_value_scale(struct report_scale *s, double lo, double hi, double r_bottom,
                        double r_top);

/* Binning: marks at pixel positions (xs, ys) overlap when two of them lie
 * closer than min_gap on both axes (ys may be NULL: one row).  When they do,
 * a lane draws bins of bin_px pixels instead of marks. */
int report_marks_overlap(const double *xs, const double *ys, size_t n, double min_gap);
/* The bin of x for bins of bin_px pixels starting at x0 (clamped to
 * [0, n_bins - 1]). */
size_t report_bin_of(double x, double x0, double bin_px, size_t n_bins);

/* One bin: counts per outcome. */
struct report_bin {
    int count;
    int by[RO_COUNT];
};
/* Fills bins[0..n_bins) from marks; returns the largest bin count. */
int report_bin_fill(const double *xs, const int *kinds, size_t n, double x0, double bin_px,
                    struct report_bin *bins, size_t n_bins);
/* The worst (highest enum value other than ok) outcome in a bin, or RO_OK. */
int report_bin_worst(const struct report_bin *b);

/* Writes s HTML-escaped (& < > " ') to f. */
void report_html_puts(FILE *f, const char *s);
/* Escapes into out (always terminated); returns the length needed. */
size_t report_html_escape(const char *s, char *out, size_t n);

#endif
