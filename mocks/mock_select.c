/* Rule selection: a pure function over the rules, the request's facts, the
 * time since the behaviour was set and the mock's seeded RNG.  The RNG is
 * drawn only where chance decides (a probability selector whose rule
 * matched, a random latency), so the same seed and the same request sequence
 * always give the same decisions, and the fault is decided before any socket
 * is touched. */
#include "mock_int.h"

#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
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

int mock_json_pointer_valid(const char *ptr)
{
    if (!ptr || (*ptr && *ptr != '/'))
        return 0;
    for (const char *c = ptr; *c; c++)
        if (*c == '~' && c[1] != '0' && c[1] != '1')
            return 0;
    return 1;
}

const json_t *mock_json_pointer(const json_t *doc, const char *ptr)
{
    if (!mock_json_pointer_valid(ptr))
        return NULL;
    const json_t *v = doc;
    const char *p = ptr;
    char tok[256];
    while (v && *p == '/') {
        p++;
        size_t n = 0;
        for (; *p && *p != '/'; p++) {
            char c = *p;
            if (c == '~') {
                c = p[1] == '1' ? '/' : '~';
                p++;
            }
            if (n + 1 >= sizeof tok)
                return NULL; /* no key that long in a behaviour's pointer */
            tok[n++] = c;
        }
        tok[n] = '\0';
        if (json_is_object(v)) {
            v = json_object_get(v, tok);
        } else if (json_is_array(v)) {
            /* An index: digits, no leading zero ("-" is past the end). */
            char *end;
            if (!n || (tok[0] == '0' && n > 1) || tok[0] < '0' || tok[0] > '9')
                return NULL;
            unsigned long i = strtoul(tok, &end, 10);
            v = *end ? NULL : json_array_get(v, i);
        } else {
            return NULL;
        }
    }
    return v;
}

/* The body conditions: JSON pointer equalities, the last message's role and
 * text, the prompt's size.  A rule without any costs nothing here. */
static int body_matches(const struct mock_rule *r, const json_t *body)
{
    for (size_t i = 0; i < r->m_nbody; i++) {
        const json_t *v = body ? mock_json_pointer(body, r->m_body[i].pointer) : NULL;
        if (!v || !json_equal((json_t *)v, r->m_body[i].equals))
            return 0;
    }
    json_t *msgs = json_object_get(body, "messages");
    json_t *last = json_array_get(msgs, json_array_size(msgs) - 1);
    if (r->m_role) {
        json_t *role = json_object_get(last, "role");
        if (!json_is_string(role) || strcmp(json_string_value(role), r->m_role) != 0)
            return 0;
    }
    if (r->m_contains || r->m_regex) {
        if (!last)
            return 0;
        char *text = mock_message_text(last);
        int ok = (!r->m_contains || strstr(text, r->m_contains)) &&
                 (!r->m_regex || regexec(r->m_regex, text, 0, NULL, 0) == 0);
        free(text);
        if (!ok)
            return 0;
    }
    if (r->m_chars_lo >= 0 || r->m_chars_hi >= 0) {
        if (!msgs)
            return 0;
        long c = mock_prompt_chars(msgs);
        if ((r->m_chars_lo >= 0 && c < r->m_chars_lo) || (r->m_chars_hi >= 0 && c > r->m_chars_hi))
            return 0;
    }
    return 1;
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
    if ((r->m_nbody || r->m_role || r->m_contains || r->m_regex || r->m_chars_lo >= 0 ||
         r->m_chars_hi >= 0) &&
        !body_matches(r, f->body))
        return 0;
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
