/* One rule for rate-limit verdicts, whatever window kind the relay's
 * limiter counts (harness/rl_judge.h).  What each kind promises, with L
 * admissions per window of length W:
 *
 *   sliding  at most L in every span of W (cutover-relay);
 *   fixed    at most L between two of its own boundaries, wherever they
 *            lie: up to 2L in a span of W across one;
 *   bucket   a full bucket B at once, then L per W as it refills: up to
 *            B + L in a span of W; B unknown unless the profile says it;
 *   unknown  what the three promise with a bucket no larger than L: at most
 *            2L in a span of W.
 *
 * And every kind, once it has refused (its quota spent, its bucket empty),
 * admits at most L per boundary or span passed since: L x (floor(s/W) + 1)
 * in the s after the refusal.  That bound needs no bucket size, so a bucket
 * of unknown size that refuses and then lets a flood through still fails.
 *
 * Before it refuses, a sliding or a fixed window has admitted L inside the
 * window before the refusal; a bucket of size B at least min(L - 1, B) (it
 * refilled L - 1 or more in the window, or was full in it), so a refusal
 * with fewer possible admissions there is one no correct limiter gives. */
#include "harness/rl_judge.h"

#include "co_mem.h"
#include "harness/checks.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_ANY, K_SLIDING, K_FIXED, K_BUCKET };

static enum kind kind_of(const char *s)
{
    if (!s)
        return K_ANY;
    return strcmp(s, "sliding") == 0  ? K_SLIDING
           : strcmp(s, "fixed") == 0  ? K_FIXED
           : strcmp(s, "bucket") == 0 ? K_BUCKET
                                      : K_ANY;
}

static void say(struct harness_rl_verdict *v, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct harness_rl_verdict *v, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->why, sizeof v->why, fmt, ap);
    va_end(ap);
    v->status = status;
}

struct span {
    uint64_t lo, hi;
};

static int cmp_lo(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The most admissions whose whole [lo, hi] lies inside one span [a, a + W):
 * a is some admission's lo (moving a span's start up to its first lo keeps
 * every member).  s is sorted by lo. */
static size_t busiest_span(const struct span *s, size_t n, uint64_t w, uint64_t *at)
{
    size_t best = 0;
    *at = 0;
    for (size_t j = 0; j < n; j++) {
        size_t k = 0;
        uint64_t end = 0;
        for (size_t i = j; i < n && s[i].lo - s[j].lo < w; i++)
            if (s[i].hi - s[j].lo < w) {
                k++;
                end = s[i].hi > end ? s[i].hi : end;
            }
        if (k > best) {
            best = k;
            *at = end;
        }
    }
    return best;
}

/* Whether a fixed-window limiter certainly admitted more than `limit` in
 * one of its windows, wherever its boundaries lie: for every alignment t0
 * of windows [t0 + kW, t0 + (k+1)W), some window holds more than `limit`
 * admissions whose whole uncertainty [lo, hi] lies inside it.  Membership
 * only changes where t0 meets a lo or a hi (mod W), so those points and
 * the microsecond after each are the only alignments to try.  s is sorted
 * by lo. */
static int fixed_window_excess(const struct span *s, size_t n, uint64_t w, double limit)
{
    if (n == 0 || w < 1)
        return 0;
    uint64_t base = s[0].lo;
    long *count = co_calloc(n + 1, sizeof *count);
    uint64_t *bucket = co_calloc(n + 1, sizeof *bucket);
    int every = 1;
    for (size_t c = 0; c < 4 * n && every; c++) {
        uint64_t at = c % 4 < 2 ? s[c / 4].lo : s[c / 4].hi;
        uint64_t t0 = ((at - base) + (c % 2)) % w; /* offset from base, in [0, W) */
        size_t nb = 0;
        int over = 0;
        for (size_t i = 0; i < n && !over; i++) {
            /* Shift by one window so that every time is at or after t0. */
            uint64_t e = s[i].lo - base + w - t0, l = s[i].hi - base + w - t0;
            uint64_t k = e / w;
            if (l >= (k + 1) * w)
                continue; /* may lie in either window: not certain */
            size_t b = 0;
            while (b < nb && bucket[b] != k)
                b++;
            if (b == nb) {
                bucket[nb] = k;
                count[nb++] = 0;
            }
            over = (double)++count[b] > limit;
        }
        every = over;
    }
    free(count);
    free(bucket);
    return every;
}

/* After refusal [rlo, rhi] every kind admits at most L x (floor(s/W) + 1)
 * in the s that follows; counts the admissions certainly decided after it
 * (lo > rhi) by each of their his X, with s = X - rlo (the refusal no
 * earlier than rlo).  Returns the first excess found: how many, the bound,
 * the span in µs. */
static int after_refusal(const struct span *s, size_t n, uint64_t rlo, uint64_t rhi, uint64_t w,
                         double limit, uint64_t *his, size_t *got, double *bound, uint64_t *within)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i].lo > rhi)
            his[m++] = s[i].hi;
    qsort(his, m, sizeof *his, cmp_u64);
    for (size_t k = 0; k < m; k++) {
        double allowed = limit * (floor((double)(his[k] - rlo) / (double)w) + 1);
        if ((double)(k + 1) > allowed) {
            *got = k + 1;
            *bound = allowed;
            *within = his[k] - rlo;
            return 1;
        }
    }
    return 0;
}

/* The refusals that fewer than `need` admissions may have preceded inside
 * the window (lost), or fewer than `sure` (early): admission i may share
 * refusal j's window when lo_i <= hi_j and hi_i > lo_j - W. */
static void lost_refusals(const struct harness_rl_case *c, double need, double sure,
                          struct harness_rl_verdict *v)
{
    uint64_t w = (uint64_t)c->window_us;
    for (size_t j = 0; j < c->n_ref; j++) {
        uint64_t from = c->ref_lo[j] >= w ? c->ref_lo[j] - w : 0;
        size_t may = 0;
        for (size_t i = 0; i < c->n_adm; i++)
            may += c->adm_lo[i] <= c->ref_hi[j] && c->adm_hi[i] > from;
        if ((double)may < need) {
            if (!v->lost || c->ref_lo[j] < v->first_lost)
                v->first_lost = c->ref_lo[j];
            v->lost++;
        } else if ((double)may < sure) {
            v->early++;
        }
    }
}

static const char *const unknown_kind_why =
    "too many for a sliding window, not for a fixed window or a token bucket at a boundary, and "
    "nothing says which the relay has (\"rate_limit_window\" in its profile, or a rate_limit "
    "check's \"window_kind\")";

/* The per-window tests: the busiest span against the kind, then what any
 * kind admits after a refusal. */
static void judge_windows(const struct harness_rl_case *c, enum kind k,
                          struct harness_rl_verdict *v)
{
    uint64_t w = (uint64_t)c->window_us;
    double L = c->limit, wms = c->window_us / 1000.0;
    struct span *s = co_calloc(c->n_adm + 1, sizeof *s);
    for (size_t i = 0; i < c->n_adm; i++)
        s[i] =
            (struct span){c->adm_lo[i], c->adm_hi[i] < c->adm_lo[i] ? c->adm_lo[i] : c->adm_hi[i]};
    qsort(s, c->n_adm, sizeof *s, cmp_lo);
    v->best = busiest_span(s, c->n_adm, w, &v->best_at);
    double best = (double)v->best;
    double cap = k == K_SLIDING                  ? L
                 : k == K_BUCKET && c->burst > 0 ? c->burst + L
                 : k == K_BUCKET                 ? INFINITY
                                                 : 2 * L;
    v->margin = isinf(cap) ? L - best : cap - best;
    if (k == K_FIXED && fixed_window_excess(s, c->n_adm, w, L)) {
        if (v->margin >= 0)
            v->margin = -1;
        say(v, HARNESS_FAIL,
            "more than %g admissions certainly shared one fixed window of %g ms, wherever its "
            "boundaries lie (%zu in the busiest span of that length)",
            L, wms, v->best);
    } else if (best > cap) {
        if (k == K_SLIDING)
            say(v, HARNESS_FAIL, "%zu admissions certainly shared one window of %g ms (limit %g)",
                v->best, wms, L);
        else if (k == K_BUCKET)
            say(v, HARNESS_FAIL,
                "%zu admissions certainly shared one window of %g ms: more than a token bucket of "
                "%g refilling %g per window admits there (%g)",
                v->best, wms, c->burst, L, cap);
        else
            say(v, HARNESS_FAIL,
                "%zu admissions certainly shared one window of %g ms (limit %g; more than twice "
                "it: too many for any kind of window)",
                v->best, wms, L);
    } else if (best > L && k == K_BUCKET && c->burst <= 0) {
        say(v, HARNESS_INCONCLUSIVE,
            "%zu admissions shared one window of %g ms (limit %g): a token bucket admits a full "
            "bucket at once, and its size is not known (\"rate_limit_burst\" in the relay's "
            "profile), so this is no certain excess",
            v->best, wms, L);
    } else if (best > L && k == K_ANY) {
        say(v, HARNESS_INCONCLUSIVE, "%zu admissions shared one window of %g ms (limit %g): %s",
            v->best, wms, L, unknown_kind_why);
    }
    if (v->status != HARNESS_FAIL && c->n_ref) {
        uint64_t *his = co_calloc(c->n_adm + 1, sizeof *his);
        for (size_t r = 0; r < c->n_ref; r++) {
            size_t got;
            double bound;
            uint64_t within;
            if (after_refusal(s, c->n_adm, c->ref_lo[r], c->ref_hi[r], w, L, his, &got, &bound,
                              &within)) {
                v->margin = fmin(v->margin, bound - (double)got);
                say(v, HARNESS_FAIL,
                    "%zu admissions within %.1f ms of a 429, where a limiter of %g per %g ms "
                    "admits at most %g once it has refused, whatever its kind (a window's quota "
                    "per boundary or span, a bucket emptied and refilling)",
                    got, (double)within / 1000.0, L, wms, bound);
                break;
            }
        }
        free(his);
    }
    free(s);
}

static const char *kind_words(enum kind k)
{
    switch (k) {
    case K_FIXED:
        return "a fixed window (the relay's profile: \"rate_limit_window\": \"fixed\") admits a "
               "full quota on each side of a boundary";
    case K_BUCKET:
        return "a token bucket (the relay's profile: \"rate_limit_window\": \"bucket\") admits a "
               "full bucket at once, then what refills";
    default:
        return "a fixed window or a token bucket admits a full quota on each side of a boundary, "
               "and nothing says the relay's limiter slides (\"rate_limit_window\" in its "
               "profile)";
    }
}

/* A count written for a sliding window that the count already missed. */
static void judge_count(const struct harness_rl_case *c, enum kind k, struct harness_rl_verdict *v)
{
    if (v->status == HARNESS_FAIL)
        return; /* the windows already proved an excess */
    if (k == K_SLIDING) {
        v->status = HARNESS_FAIL; /* the count was written for this kind */
        v->why[0] = '\0';
        return;
    }
    if (c->count == HARNESS_RL_REFUSED_MIN) {
        say(v, HARNESS_INCONCLUSIVE,
            "%g refusals (429) where at least %g were expected in a run rate limited to %g: a "
            "count for a sliding window; %s, so it can admit more in a run and refuse fewer",
            c->counted, c->bound, c->limit, kind_words(k));
        return;
    }
    /* Admitted more than the bound: a fixed window or a bucket no larger
     * than the limit admits up to twice what a sliding window does at a
     * boundary; a bucket of unknown size, any number. */
    double allow = k == K_BUCKET && c->burst <= 0 ? INFINITY
                   : k == K_BUCKET                ? fmax(2 * c->bound, c->bound + c->burst)
                                                  : 2 * c->bound;
    if (c->counted > allow)
        say(v, HARNESS_FAIL,
            "%g admissions where at most %g were expected in a run rate limited to %g: more than "
            "%g, too many for any kind of window",
            c->counted, c->bound, c->limit, allow);
    else
        say(v, HARNESS_INCONCLUSIVE,
            "%g admissions where at most %g were expected in a run rate limited to %g: an excess "
            "for a sliding window, not for a fixed window or a token bucket at a boundary; %s",
            c->counted, c->bound, c->limit, kind_words(k));
}

void harness_rl_judge(const struct harness_rl_case *c, struct harness_rl_verdict *out)
{
    memset(out, 0, sizeof *out);
    out->status = HARNESS_PASS;
    enum kind k = kind_of(c->kind);
    if (c->window_us >= 1 && c->n_adm)
        judge_windows(c, k, out);
    if (c->window_us >= 1 && c->n_ref) {
        double b = k == K_BUCKET && c->burst > 0 ? c->burst : 1;
        double need = k == K_SLIDING || k == K_FIXED ? c->limit : fmin(c->limit - 1, b);
        /* A window kind needs the limit; a bucket smaller than it less,
         * which only a declared size settles (early: inconclusive). */
        double sure = k == K_BUCKET && c->burst > 0 ? need : c->limit;
        lost_refusals(c, need, sure, out);
        out->lost_need = need;
        out->lost_because =
            k == K_SLIDING || k == K_FIXED ? "its limit"
            : k == K_BUCKET && c->burst > 0
                ? "a token bucket refuses only once it admitted min(limit - 1, its size) there"
            : k == K_BUCKET ? "a token bucket of any size admits one there first"
                            : "the relay's kind is not known (\"rate_limit_window\"), and even a "
                              "token bucket of one admits one there first";
        if (out->early)
            snprintf(out->early_why, sizeof out->early_why,
                     "%zu 429(s) after fewer than %g admissions in their window: too early for a "
                     "sliding or a fixed window, not for a token bucket smaller than the limit, "
                     "%s",
                     out->early, c->limit,
                     k == K_BUCKET ? "and its size is not known (\"rate_limit_burst\" in the "
                                     "relay's profile)"
                                   : "and nothing says which the relay has (\"rate_limit_window\" "
                                     "in its profile)");
    }
    if (c->count != HARNESS_RL_NO_COUNT)
        judge_count(c, k, out);
}
