/* Rule selection: a pure function over the rules, the request's facts, the
 * time since the behaviour was set and the mock's seeded RNG.  The RNG is
 * drawn only where chance decides (a probability selector whose rule
 * matched, a random latency), so the same seed and the same request sequence
 * always give the same decisions, and the fault is decided before any socket
 * is touched. */
#include "mock_int.h"

#include <math.h>
#include <stdio.h>
#include <strings.h>
#include <string.h>

uint64_t mock_latency_sample_us(const struct mock_latency *l, struct co_rng *rng)
{
    double ms = 0;
    switch (l->kind) {
    case MOCK_LAT_FIXED:
        ms = l->a_ms;
        break;
    case MOCK_LAT_UNIFORM:
        ms = l->a_ms + (l->b_ms - l->a_ms) * co_rng_double(rng);
        break;
    case MOCK_LAT_LOGNORMAL:
        ms = co_rng_lognormal(rng, l->a_ms, l->sigma);
        if (ms > l->b_ms)
            ms = l->b_ms;
        break;
    default:
        return 0;
    }
    if (!(ms > 0))
        return 0;
    return (uint64_t)llround(ms * 1000.0);
}

static int matches(const struct mock_rule *r, const struct mock_facts *f)
{
    if (r->m_path && strcmp(r->m_path, f->path) != 0)
        return 0;
    if (r->m_model && (!f->model || strcmp(r->m_model, f->model) != 0))
        return 0;
    if (r->m_stream >= 0 && r->m_stream != (f->stream != 0))
        return 0;
    if (r->m_idx_lo >= 0 && (f->index < (uint64_t)r->m_idx_lo || f->index >= (uint64_t)r->m_idx_hi))
        return 0;
    if (r->m_hname) {
        const char *v = f->header ? f->header(f->header_ctx, r->m_hname) : NULL;
        if (!v || (r->m_hvalue && strcmp(v, r->m_hvalue) != 0))
            return 0;
    }
    return 1;
}

/* Whether the selector fires for the k-th (0-based) matching request. */
static int fires(const struct mock_rule *r, uint64_t k, uint64_t since_set_us, struct co_rng *rng,
                 struct mock_action *act)
{
    *act = r->action;
    switch (r->sel) {
    case MOCK_SEL_ALWAYS:
        return 1;
    case MOCK_SEL_P:
        return r->p >= 1.0 || (r->p > 0 && co_rng_double(rng) < r->p);
    case MOCK_SEL_FIRST:
        return k < (uint64_t)r->n;
    case MOCK_SEL_EVERY:
        return (k + 1) % (uint64_t)r->n == 0;
    case MOCK_SEL_WINDOW:
        return since_set_us >= (uint64_t)r->win_lo_ms * 1000 &&
               since_set_us < (uint64_t)r->win_hi_ms * 1000;
    case MOCK_SEL_SEQUENCE:
        if (k >= r->nseq && !r->seq_repeat)
            return 0;
        *act = r->seq[k % r->nseq];
        return 1;
    }
    return 0;
}

void mock_select(struct mock_rules *rules, const struct mock_latency *base,
                 const struct mock_facts *f, uint64_t since_set_us, struct co_rng *rng,
                 struct mock_decision *d)
{
    const struct mock_latency *lat = base;
    d->rule = -1;
    d->rule_name = "";
    mock_action_default(&d->action, MOCK_ACT_OK);
    for (size_t i = 0; i < rules->n; i++) {
        struct mock_rule *r = &rules->v[i];
        if (!matches(r, f))
            continue;
        uint64_t k = r->matched++;
        struct mock_action act;
        if (!fires(r, k, since_set_us, rng, &act))
            continue;
        d->rule = (int)i;
        d->rule_name = r->name;
        d->action = act;
        if (r->latency.kind != MOCK_LAT_NONE)
            lat = &r->latency;
        break;
    }
    d->latency_us = mock_latency_sample_us(lat, rng);
}
