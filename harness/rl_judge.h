/* The one rule for judging a relay's rate limiter by what its clients saw,
 * whatever kind of window it counts (docs/scenarios.md, "Rate-limit window
 * kinds"): rate_limit, fleet_rate_limit and the admission counts of
 * client_count and upstream_count all ask harness_rl_judge, so a kind is
 * judged the same way by every check.
 *
 * Pure: plain arrays in, a verdict and its reason out, so every kind is
 * tested on synthetic times (tests/unit/test_harness_rl_judge.c).
 *
 * A limiter's decisions are seen only within bounds (a request's send and
 * its first upstream arrival or its answer), so a failure here is one the
 * observations prove for the kind, and a count that the kind could explain
 * but a sliding window could not is inconclusive, never a failure. */
#ifndef HARNESS_RL_JUDGE_H
#define HARNESS_RL_JUDGE_H

#include <stddef.h>
#include <stdint.h>

/* A count a scenario wrote for a sliding window (cutover-relay's), which
 * the judge weighs against the kind: admissions (200s, upstream traffic)
 * at most `bound`, or the limiter's refusals (429s) at least `bound`. */
enum harness_rl_count {
    HARNESS_RL_NO_COUNT = 0,
    HARNESS_RL_ADMITTED_MAX,
    HARNESS_RL_REFUSED_MIN,
};

struct harness_rl_case {
    /* "sliding", "fixed", "bucket"; NULL, "" or "any": not known. */
    const char *kind;
    double limit;     /* admissions per window, any tolerance included */
    double window_us; /* the window's length; 0 unknown (no per-window test) */
    double burst;     /* a token bucket's size; 0 not declared */
    /* Each admission's decision lay in [adm_lo[i], adm_hi[i]] (any order). */
    const uint64_t *adm_lo, *adm_hi;
    size_t n_adm;
    /* Each refusal by the limiter (a 429 that reached no upstream) likewise. */
    const uint64_t *ref_lo, *ref_hi;
    size_t n_ref;
    /* An optional count (client_count, upstream_count): what was counted
     * against the scenario's bound; the count already missed it. */
    enum harness_rl_count count;
    double counted, bound;
};

struct harness_rl_verdict {
    int status; /* HARNESS_PASS, HARNESS_FAIL or HARNESS_INCONCLUSIVE (harness/checks.h) */
    /* The most admissions certainly inside one span of the window, and the
     * end of that span (0 when none). */
    size_t best;
    uint64_t best_at;
    /* How far the busiest span stayed under what the kind allows there
     * (negative: over it), for the verdict's margin. */
    double margin;
    /* Refusals no placement justifies: fewer admissions than the kind needs
     * before it refuses (sliding, fixed: the limit; a bucket of size B:
     * min(limit - 1, B), 1 when B is not known) can have shared the window
     * before any instant the refusal may have happened at; the earliest
     * send of one (0 when none). */
    size_t lost;
    uint64_t first_lost;
    double lost_need;         /* that many admissions, for the kind */
    const char *lost_because; /* why the kind needs them, in words */
    /* Refusals a window kind would not give that early but a token bucket
     * smaller than the limit would, when its size is not known (unknown
     * kind, or "bucket" without "rate_limit_burst"), and why in words. */
    size_t early;
    char early_why[320];
    /* Why it failed or is inconclusive ("" when it passed), a sentence that
     * names the kind and what the observations proved. */
    char why[640];
};

/* Judges c into out.  The per-window tests run when window_us > 0 and
 * there are admissions; the count test when c->count is set. */
void harness_rl_judge(const struct harness_rl_case *c, struct harness_rl_verdict *out);

#endif
