#include "harness/fleet.h"

#include "co_mem.h"

#include <stdlib.h>
#include <string.h>

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* How many of the sorted v[0..n) are <= x. */
static size_t count_le(const uint64_t *v, size_t n, uint64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Admission i is certainly inside the window (x - W, x] when hi_i <= x and
 * lo_i > x - W.  Counting those exactly needs both bounds at once; what is
 * cheap is #(hi <= x) - #(lo <= x - W), which can only undercount (by the
 * requests that span more than a window): a lower bound, so an excess it
 * shows is real.  Refusal j is justified when the admissions that may share
 * its window (lo_i <= hi_j and hi_i > lo_j - W) reach the limit; that count
 * is exact: #(lo <= hi_j) - #(hi <= lo_j - W). */
int harness_fleet_rate_limit(const struct harness_fleet_req *r, size_t n, uint64_t window_us,
                             size_t limit, struct harness_fleet_rl *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (r[i].hi < r[i].lo)
            return -1;
    uint64_t *lo = co_malloc(n * sizeof *lo), *hi = co_malloc(n * sizeof *hi);
    size_t a = 0;
    for (size_t i = 0; i < n; i++) {
        if (!r[i].admitted)
            continue;
        lo[a] = r[i].lo;
        hi[a] = r[i].hi;
        a++;
    }
    out->admitted = a;
    out->refused = n - a;
    qsort(lo, a, sizeof *lo, cmp_u64);
    qsort(hi, a, sizeof *hi, cmp_u64);
    for (size_t k = 0; k < a; k++) {
        uint64_t x = hi[k];
        size_t in = count_le(hi, a, x);
        size_t before = x >= window_us ? count_le(lo, a, x - window_us) : 0;
        size_t certain = in > before ? in - before : 0;
        if (certain > out->worst) {
            out->worst = certain;
            out->worst_at = x;
        }
    }
    for (size_t j = 0; j < n; j++) {
        if (r[j].admitted)
            continue;
        size_t may = count_le(lo, a, r[j].hi);
        size_t gone = r[j].lo >= window_us ? count_le(hi, a, r[j].lo - window_us) : 0;
        if (may - gone < limit) {
            if (!out->lost || r[j].lo < out->first_lost_at)
                out->first_lost_at = r[j].lo;
            out->lost++;
        }
    }
    free(lo);
    free(hi);
    return 0;
}

/* Two replicas with a known colour that differ. */
static int split(const char *col, int nrep)
{
    char seen = 0;
    for (int i = 0; i < nrep; i++) {
        if (!col[i])
            continue;
        if (seen && col[i] != seen)
            return 1;
        seen = col[i];
    }
    return 0;
}

static int all_are(const char *col, int nrep, char target)
{
    for (int i = 0; i < nrep; i++)
        if (col[i] != target)
            return 0;
    return 1;
}

int harness_fleet_agreement(const struct harness_fleet_colour *ev, size_t n, int nrep,
                            uint64_t t_from, char target, uint64_t t_end,
                            struct harness_fleet_agree *out)
{
    memset(out, 0, sizeof *out);
    out->lag_us = -1;
    out->laggard = -1;
    if (nrep <= 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (ev[i].replica < 0 || ev[i].replica >= nrep || (i && ev[i].t < ev[i - 1].t))
            return -1;
    char *col = co_calloc((size_t)nrep, 1);
    int checked_from = 0, in_split = 0;
    uint64_t split_start = 0;
    for (size_t i = 0; i < n; i++) {
        const struct harness_fleet_colour *e = &ev[i];
        if (e->colour != 'b' && e->colour != 'g')
            continue;
        if (e->t >= t_from && !checked_from) {
            checked_from = 1;
            if (all_are(col, nrep, target))
                out->lag_us = 0;
        }
        col[e->replica] = e->colour;
        if (e->t >= t_from && out->lag_us < 0 && all_are(col, nrep, target)) {
            out->lag_us = (int64_t)(e->t - t_from);
            out->laggard = e->replica;
        }
        int s = split(col, nrep);
        if (s && !in_split) {
            in_split = 1;
            split_start = e->t;
        } else if (!s && in_split) {
            in_split = 0;
            if (e->t - split_start > out->split_us) {
                out->split_us = e->t - split_start;
                out->split_at = split_start;
            }
        }
    }
    if (!checked_from && all_are(col, nrep, target))
        out->lag_us = 0;
    if (in_split && t_end > split_start && t_end - split_start > out->split_us) {
        out->split_us = t_end - split_start;
        out->split_at = split_start;
    }
    free(col);
    return 0;
}

int harness_fleet_probe_load(const uint64_t *t, const char *c, size_t n, uint64_t t0, uint64_t t1,
                             uint64_t interval_us, struct harness_fleet_probes *out)
{
    memset(out, 0, sizeof *out);
    if (t1 <= t0 || interval_us == 0)
        return -1;
    size_t nint = (size_t)((t1 - t0 + interval_us - 1) / interval_us);
    size_t *bins = co_calloc(nint * 2, sizeof *bins);
    for (size_t i = 0; i < n; i++) {
        int k = c[i] == 'b' ? 0 : c[i] == 'g' ? 1 : -1;
        if (k < 0 || t[i] < t0 || t[i] >= t1)
            continue;
        out->total[k]++;
        size_t b = (size_t)((t[i] - t0) / interval_us);
        bins[b * 2 + (size_t)k]++;
    }
    double span = (double)(t1 - t0) / (double)interval_us;
    for (int k = 0; k < 2; k++) {
        out->per_interval[k] = (double)out->total[k] / span;
        for (size_t b = 0; b < nint; b++)
            if (bins[b * 2 + (size_t)k] > out->max_interval[k])
                out->max_interval[k] = bins[b * 2 + (size_t)k];
    }
    free(bins);
    return 0;
}
