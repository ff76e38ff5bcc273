/* Parsing and validation of a mock behaviour (docs/CONTRACTS.md).  One pass
 * both validates and builds the struct, so what is validated is exactly what
 * runs.  Every error names the JSON path from the behaviour's root, says what
 * was expected and what was found, and suggests the nearest key for a
 * misspelt one. */
#include "mock_int.h"

#include "co_json.h"
#include "co_mem.h"

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PATH_LEN 256

static const char *const latency_keys[] = {"fixed_ms", "uniform_ms", "lognormal", NULL};
static const char *const lognormal_keys[] = {"median_ms", "sigma", "cap_ms", NULL};

static int parse_latency(const json_t *j, const char *path, struct mock_latency *l, char *err,
                         size_t errlen)
{
    char p[PATH_LEN];
    if (!json_is_object(j))
        return mock_v_expect(err, errlen, path,
                             "object {\"fixed_ms\"} | {\"uniform_ms\"} | {\"lognormal\"}", j);
    if (mock_v_keys(j, path, latency_keys, err, errlen))
        return -1;
    if (json_object_size(j) != 1)
        return mock_v_fail(err, errlen, path,
                           "expected exactly one of fixed_ms, uniform_ms, lognormal, found %zu",
                           json_object_size(j));
    memset(l, 0, sizeof *l);
    json_t *v;
    if ((v = json_object_get(j, "fixed_ms"))) {
        l->kind = MOCK_LAT_FIXED;
        return mock_v_double(j, path, "fixed_ms", 0, 3600e3, &l->a_ms, err, errlen);
    }
    if ((v = json_object_get(j, "uniform_ms"))) {
        mock_path(p, sizeof p, path, ".uniform_ms");
        double a, b;
        if (!json_is_array(v) || json_array_size(v) != 2 ||
            co_json_number(json_array_get(v, 0), &a) || co_json_number(json_array_get(v, 1), &b) ||
            a < 0 || b < a || b > 3600e3)
            return mock_v_expect(err, errlen, p, "array [low_ms, high_ms] with 0 <= low <= high",
                                 v);
        l->kind = MOCK_LAT_UNIFORM;
        l->a_ms = a;
        l->b_ms = b;
        return 0;
    }
    v = json_object_get(j, "lognormal");
    mock_path(p, sizeof p, path, ".lognormal");
    if (!json_is_object(v))
        return mock_v_expect(err, errlen, p, "object {\"median_ms\", \"sigma\", \"cap_ms\"}", v);
    if (mock_v_keys(v, p, lognormal_keys, err, errlen))
        return -1;
    l->kind = MOCK_LAT_LOGNORMAL;
    l->a_ms = -1;
    l->sigma = 0.5;
    l->b_ms = 3600e3;
    if (mock_v_double(v, p, "median_ms", 0, 3600e3, &l->a_ms, err, errlen) ||
        mock_v_double(v, p, "sigma", 0, 10, &l->sigma, err, errlen) ||
        mock_v_double(v, p, "cap_ms", 0, 3600e3, &l->b_ms, err, errlen))
        return -1;
    if (l->a_ms < 0) {
        char q[PATH_LEN];
        mock_path(q, sizeof q, p, ".median_ms");
        return mock_v_expect(err, errlen, q, "a number in [0, 3.6e+06]", NULL);
    }
    return 0;
}

static const char *const match_keys[] = {"path", "model",        "stream",       "header", "index",
                                         "body", "last_message", "prompt_chars", NULL};
static const char *const header_keys[] = {"name", "value", NULL};
static const char *const body_keys[] = {"pointer", "equals", NULL};
static const char *const last_keys[] = {"role", "contains", "regex", NULL};
static const char *const chars_keys[] = {"min", "max", NULL};

/* One {"pointer": "/a/b", "equals": VALUE} of match.body. */
static int parse_body_eq(const json_t *j, const char *path, struct mock_body_eq *e, char *err,
                         size_t errlen)
{
    char p[PATH_LEN];
    if (!json_is_object(j))
        return mock_v_expect(err, errlen, path, "object {\"pointer\", \"equals\"}", j);
    if (mock_v_keys(j, path, body_keys, err, errlen))
        return -1;
    json_t *ptr = json_object_get(j, "pointer"), *eq = json_object_get(j, "equals");
    mock_path(p, sizeof p, path, ".pointer");
    if (!json_is_string(ptr) || !mock_json_pointer_valid(json_string_value(ptr)) ||
        json_string_length(ptr) > 255)
        return mock_v_expect(err, errlen, p,
                             "a JSON pointer (RFC 6901: \"\" or \"/key/0\", '~' only as ~0 or ~1, "
                             "at most 255 bytes) (required)",
                             ptr);
    mock_path(p, sizeof p, path, ".equals");
    if (!eq)
        return mock_v_expect(err, errlen, p, "the JSON value to compare with (required)", NULL);
    e->pointer = co_strdup(json_string_value(ptr));
    e->equals = json_incref(eq);
    return 0;
}

/* match.body: one equality or an array of them (all must hold). */
static int parse_match_body(const json_t *b, const char *path, struct mock_rule *r, char *err,
                            size_t errlen)
{
    char p[PATH_LEN];
    if (json_is_object(b)) {
        r->m_body = co_calloc(1, sizeof *r->m_body);
        r->m_nbody = 1;
        return parse_body_eq(b, path, &r->m_body[0], err, errlen);
    }
    if (!json_is_array(b) || json_array_size(b) == 0 || json_array_size(b) > 64)
        return mock_v_expect(err, errlen, path,
                             "object {\"pointer\", \"equals\"} or a non-empty array of at "
                             "most 64 of them",
                             b);
    r->m_body = co_calloc(json_array_size(b), sizeof *r->m_body);
    for (size_t i = 0; i < json_array_size(b); i++) {
        mock_path(p, sizeof p, path, "[%zu]", i);
        if (parse_body_eq(json_array_get(b, i), p, &r->m_body[i], err, errlen))
            return -1;
        r->m_nbody = i + 1;
    }
    return 0;
}

/* match.last_message: role, substring, POSIX extended regex. */
static int parse_last_message(const json_t *j, const char *path, struct mock_rule *r, char *err,
                              size_t errlen)
{
    char p[PATH_LEN], buf[1024];
    if (!json_is_object(j) || json_object_size(j) == 0)
        return mock_v_expect(err, errlen, path, "object with one or more of role, contains, regex",
                             j);
    if (mock_v_keys(j, path, last_keys, err, errlen))
        return -1;
    buf[0] = '\0';
    if (mock_v_string(j, path, "role", buf, 64, err, errlen))
        return -1;
    if (json_object_get(j, "role"))
        r->m_role = co_strdup(buf);
    buf[0] = '\0';
    if (mock_v_string(j, path, "contains", buf, sizeof buf, err, errlen))
        return -1;
    if (json_object_get(j, "contains"))
        r->m_contains = co_strdup(buf);
    buf[0] = '\0';
    if (mock_v_string(j, path, "regex", buf, sizeof buf, err, errlen))
        return -1;
    if (json_object_get(j, "regex")) {
        regex_t *re = co_calloc(1, sizeof *re);
        int rc = regcomp(re, buf, REG_EXTENDED | REG_NOSUB);
        if (rc) {
            char why[128];
            regerror(rc, re, why, sizeof why);
            free(re);
            mock_path(p, sizeof p, path, ".regex");
            return mock_v_fail(err, errlen, p,
                               "expected a POSIX extended regular expression, found \"%.200s\" "
                               "(%s)",
                               buf, why);
        }
        r->m_regex = re;
    }
    return 0;
}

/* match.prompt_chars: {"min": N, "max": M}, either or both, min <= max. */
static int parse_prompt_chars(const json_t *j, const char *path, struct mock_rule *r, char *err,
                              size_t errlen)
{
    if (!json_is_object(j) || json_object_size(j) == 0)
        return mock_v_expect(err, errlen, path, "object with min and/or max", j);
    if (mock_v_keys(j, path, chars_keys, err, errlen) ||
        mock_v_long(j, path, "min", 0, 1L << 40, &r->m_chars_lo, err, errlen) ||
        mock_v_long(j, path, "max", 0, 1L << 40, &r->m_chars_hi, err, errlen))
        return -1;
    if (r->m_chars_lo >= 0 && r->m_chars_hi >= 0 && r->m_chars_hi < r->m_chars_lo) {
        char p[PATH_LEN];
        mock_path(p, sizeof p, path, ".max");
        return mock_v_fail(err, errlen, p, "expected an integer >= min (%ld), found %ld",
                           r->m_chars_lo, r->m_chars_hi);
    }
    return 0;
}

static int parse_match(const json_t *j, const char *path, struct mock_rule *r, char *err,
                       size_t errlen)
{
    char p[PATH_LEN], buf[256];
    if (!json_is_object(j))
        return mock_v_expect(err, errlen, path, "object", j);
    if (mock_v_keys(j, path, match_keys, err, errlen))
        return -1;
    buf[0] = '\0';
    if (mock_v_string(j, path, "path", buf, sizeof buf, err, errlen))
        return -1;
    if (buf[0])
        r->m_path = co_strdup(buf);
    buf[0] = '\0';
    if (mock_v_string(j, path, "model", buf, sizeof buf, err, errlen))
        return -1;
    if (buf[0])
        r->m_model = co_strdup(buf);
    if (json_object_get(j, "stream") && mock_v_bool(j, path, "stream", &r->m_stream, err, errlen))
        return -1;
    json_t *h = json_object_get(j, "header");
    if (h) {
        mock_path(p, sizeof p, path, ".header");
        if (!json_is_object(h))
            return mock_v_expect(err, errlen, p, "object {\"name\", \"value\"}", h);
        if (mock_v_keys(h, p, header_keys, err, errlen))
            return -1;
        char name[128] = "", value[256] = "";
        if (mock_v_string(h, p, "name", name, sizeof name, err, errlen) ||
            mock_v_string(h, p, "value", value, sizeof value, err, errlen))
            return -1;
        if (!name[0]) {
            char q[PATH_LEN];
            mock_path(q, sizeof q, p, ".name");
            return mock_v_expect(err, errlen, q, "a header name", json_object_get(h, "name"));
        }
        r->m_hname = co_strdup(name);
        /* No value: the header's presence is the match. */
        if (json_object_get(h, "value"))
            r->m_hvalue = co_strdup(value);
    }
    json_t *ix = json_object_get(j, "index");
    if (ix) {
        mock_path(p, sizeof p, path, ".index");
        if (json_is_integer(ix) && json_integer_value(ix) >= 0) {
            r->m_idx_lo = (long)json_integer_value(ix);
            r->m_idx_hi = r->m_idx_lo + 1;
        } else if (json_is_array(ix) && json_array_size(ix) == 2 &&
                   json_is_integer(json_array_get(ix, 0)) &&
                   json_is_integer(json_array_get(ix, 1)) &&
                   json_integer_value(json_array_get(ix, 0)) >= 0 &&
                   json_integer_value(json_array_get(ix, 1)) >
                       json_integer_value(json_array_get(ix, 0))) {
            r->m_idx_lo = (long)json_integer_value(json_array_get(ix, 0));
            r->m_idx_hi = (long)json_integer_value(json_array_get(ix, 1));
        } else {
            return mock_v_expect(err, errlen, p, "integer >= 0 or array [from, to) with from < to",
                                 ix);
        }
    }
    json_t *v;
    if ((v = json_object_get(j, "body"))) {
        mock_path(p, sizeof p, path, ".body");
        if (parse_match_body(v, p, r, err, errlen))
            return -1;
    }
    if ((v = json_object_get(j, "last_message"))) {
        mock_path(p, sizeof p, path, ".last_message");
        if (parse_last_message(v, p, r, err, errlen))
            return -1;
    }
    if ((v = json_object_get(j, "prompt_chars"))) {
        mock_path(p, sizeof p, path, ".prompt_chars");
        if (parse_prompt_chars(v, p, r, err, errlen))
            return -1;
    }
    return 0;
}

static const char *const when_keys[] = {"p",      "first",     "every", "sequence",
                                        "repeat", "window_ms", NULL};

static int parse_when(const json_t *j, const char *path, struct mock_rule *r, char *err,
                      size_t errlen)
{
    char p[PATH_LEN];
    static const char what[] =
        "\"always\" or an object with one of p, first, every, sequence, window_ms";
    if (json_is_string(j)) {
        if (strcmp(json_string_value(j), "always") != 0)
            return mock_v_expect(err, errlen, path, what, j);
        r->sel = MOCK_SEL_ALWAYS;
        return 0;
    }
    if (!json_is_object(j))
        return mock_v_expect(err, errlen, path, what, j);
    if (mock_v_keys(j, path, when_keys, err, errlen))
        return -1;
    size_t nsel = json_object_size(j) - (json_object_get(j, "repeat") ? 1 : 0);
    if (nsel != 1)
        return mock_v_fail(err, errlen, path, "expected exactly one selector, found %zu", nsel);
    if (json_object_get(j, "p")) {
        r->sel = MOCK_SEL_P;
        return mock_v_double(j, path, "p", 0, 1, &r->p, err, errlen);
    }
    if (json_object_get(j, "first")) {
        r->sel = MOCK_SEL_FIRST;
        return mock_v_long(j, path, "first", 0, 1L << 40, &r->n, err, errlen);
    }
    if (json_object_get(j, "every")) {
        r->sel = MOCK_SEL_EVERY;
        return mock_v_long(j, path, "every", 1, 1L << 40, &r->n, err, errlen);
    }
    json_t *w = json_object_get(j, "window_ms");
    if (w) {
        mock_path(p, sizeof p, path, ".window_ms");
        if (!json_is_array(w) || json_array_size(w) != 2 ||
            !json_is_integer(json_array_get(w, 0)) || !json_is_integer(json_array_get(w, 1)) ||
            json_integer_value(json_array_get(w, 0)) < 0 ||
            json_integer_value(json_array_get(w, 1)) <= json_integer_value(json_array_get(w, 0)))
            return mock_v_expect(err, errlen, p, "array [from_ms, to_ms) with 0 <= from < to", w);
        r->sel = MOCK_SEL_WINDOW;
        r->win_lo_ms = (long)json_integer_value(json_array_get(w, 0));
        r->win_hi_ms = (long)json_integer_value(json_array_get(w, 1));
        return 0;
    }
    json_t *s = json_object_get(j, "sequence");
    mock_path(p, sizeof p, path, ".sequence");
    if (!json_is_array(s) || json_array_size(s) == 0 || json_array_size(s) > MOCK_MAX_SEQUENCE)
        return mock_v_expect(err, errlen, p, "non-empty array of at most 1024 items", s);
    if (mock_v_bool(j, path, "repeat", &r->seq_repeat, err, errlen))
        return -1;
    r->sel = MOCK_SEL_SEQUENCE;
    r->nseq = json_array_size(s);
    r->seq = co_calloc(r->nseq, sizeof *r->seq);
    for (size_t i = 0; i < r->nseq; i++) {
        char q[PATH_LEN];
        mock_path(q, sizeof q, p, "[%zu]", i);
        if (mock_action_parse_item(json_array_get(s, i), q, &r->seq[i], err, errlen))
            return -1;
    }
    return 0;
}

static const char *const rule_keys[] = {"name", "match", "when", "latency", "action", NULL};

static void rules_free(struct mock_rules *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        struct mock_rule *r = &rs->v[i];
        free(r->m_path);
        free(r->m_model);
        free(r->m_hname);
        free(r->m_hvalue);
        for (size_t k = 0; k < r->m_nbody; k++) {
            free(r->m_body[k].pointer);
            json_decref(r->m_body[k].equals);
        }
        free(r->m_body);
        free(r->m_role);
        free(r->m_contains);
        if (r->m_regex) {
            regfree(r->m_regex);
            free(r->m_regex);
        }
        free(r->seq);
    }
    free(rs->v);
    rs->v = NULL;
    rs->n = 0;
}

static int parse_rules(const json_t *j, const char *path, struct mock_rules *rs, char *err,
                       size_t errlen)
{
    if (!json_is_array(j) || json_array_size(j) > MOCK_MAX_RULES)
        return mock_v_expect(err, errlen, path, "array of at most 256 rules", j);
    rs->n = json_array_size(j);
    rs->v = co_calloc(rs->n ? rs->n : 1, sizeof *rs->v);
    for (size_t i = 0; i < rs->n; i++) {
        struct mock_rule *r = &rs->v[i];
        json_t *o = json_array_get(j, i), *v;
        char p[PATH_LEN], q[PATH_LEN];
        mock_path(p, sizeof p, path, "[%zu]", i);
        r->m_stream = -1;
        r->m_idx_lo = r->m_idx_hi = -1;
        r->m_chars_lo = r->m_chars_hi = -1;
        r->sel = MOCK_SEL_ALWAYS;
        mock_action_default(&r->action, MOCK_ACT_OK);
        if (!json_is_object(o))
            return mock_v_expect(err, errlen, p, "rule object", o);
        if (mock_v_keys(o, p, rule_keys, err, errlen) ||
            mock_v_string(o, p, "name", r->name, sizeof r->name, err, errlen))
            return -1;
        if ((v = json_object_get(o, "match"))) {
            mock_path(q, sizeof q, p, ".match");
            if (parse_match(v, q, r, err, errlen))
                return -1;
        }
        if ((v = json_object_get(o, "when"))) {
            mock_path(q, sizeof q, p, ".when");
            if (parse_when(v, q, r, err, errlen))
                return -1;
        }
        if ((v = json_object_get(o, "latency"))) {
            mock_path(q, sizeof q, p, ".latency");
            if (parse_latency(v, q, &r->latency, err, errlen))
                return -1;
        }
        v = json_object_get(o, "action");
        mock_path(q, sizeof q, p, ".action");
        if (!v && r->sel != MOCK_SEL_SEQUENCE)
            return mock_v_expect(err, errlen, q, "an action object (every rule needs one)", NULL);
        if (v && r->sel == MOCK_SEL_SEQUENCE)
            return mock_v_fail(err, errlen, q,
                               "a sequence rule takes its actions from when.sequence");
        if (v && mock_action_parse(v, q, &r->action, err, errlen))
            return -1;
    }
    return 0;
}

static const char *const top_keys[] = {"reply", "latency", "rate_limit", "rules", "health", NULL};
static const char *const reply_keys[] = {"tokens", "tokens_per_s", "ttft_ms", "model", NULL};
static const char *const rl_keys[] = {"requests", "window_ms", "tokens_per_min", NULL};
static const char *const health_keys[] = {"latency", "rules", NULL};

struct mock_behavior *mock_behavior_default(void)
{
    struct mock_behavior *b = co_calloc(1, sizeof *b);
    b->src = json_object();
    b->reply_tokens = 16;
    return b;
}

void mock_behavior_free(struct mock_behavior **pb)
{
    struct mock_behavior *b = *pb;
    if (!b)
        return;
    rules_free(&b->rules);
    rules_free(&b->health_rules);
    json_decref(b->src);
    free(b);
    *pb = NULL;
}

int mock_behavior_parse(const json_t *j, struct mock_behavior **out, char *err, size_t errlen)
{
    struct mock_behavior *b = mock_behavior_default();
    json_t *v;
    int rc = -1;
    if (!json_is_object(j)) {
        mock_v_expect(err, errlen, "$", "behaviour object", j);
        goto out;
    }
    if (mock_v_keys(j, "$", top_keys, err, errlen))
        goto out;
    if ((v = json_object_get(j, "reply"))) {
        if (!json_is_object(v)) {
            mock_v_expect(err, errlen, "$.reply", "object", v);
            goto out;
        }
        if (mock_v_keys(v, "$.reply", reply_keys, err, errlen) ||
            mock_v_long(v, "$.reply", "tokens", 0, MOCK_MAX_TOKENS, &b->reply_tokens, err,
                        errlen) ||
            mock_v_double(v, "$.reply", "tokens_per_s", 0, 1e6, &b->tokens_per_s, err, errlen) ||
            mock_v_long(v, "$.reply", "ttft_ms", 0, 3600000, &b->ttft_ms, err, errlen))
            goto out;
        json_t *model = json_object_get(v, "model");
        if (model && (!json_is_string(model) || !json_string_length(model) ||
                      json_string_length(model) >= sizeof b->reply_model)) {
            mock_v_expect(err, errlen, "$.reply.model", "a model name (1 to 127 bytes)", model);
            goto out;
        }
        if (model)
            mock_scopy(b->reply_model, sizeof b->reply_model, json_string_value(model));
        /* A rate so small that one token takes hours is a typo, and 1e6 /
         * 1e-300 overflows the gap (issue 20): 0 (unpaced) or at least one
         * token per 10 s. */
        if (b->tokens_per_s > 0 && b->tokens_per_s < 0.1) {
            mock_v_expect(err, errlen, "$.reply.tokens_per_s",
                          "0 (unpaced) or a number in [0.1, 1e+06]",
                          json_object_get(v, "tokens_per_s"));
            goto out;
        }
    }
    if ((v = json_object_get(j, "latency")) &&
        parse_latency(v, "$.latency", &b->latency, err, errlen))
        goto out;
    if ((v = json_object_get(j, "rate_limit"))) {
        if (!json_is_object(v)) {
            mock_v_expect(err, errlen, "$.rate_limit", "object", v);
            goto out;
        }
        b->rl_window_ms = 60000;
        if (mock_v_keys(v, "$.rate_limit", rl_keys, err, errlen) ||
            mock_v_long(v, "$.rate_limit", "requests", 0, 1000000, &b->rl_requests, err, errlen) ||
            mock_v_long(v, "$.rate_limit", "window_ms", 1, 3600000, &b->rl_window_ms, err,
                        errlen) ||
            mock_v_long(v, "$.rate_limit", "tokens_per_min", 0, 1000000000L, &b->rl_tpm, err,
                        errlen))
            goto out;
    }
    if ((v = json_object_get(j, "rules")) && parse_rules(v, "$.rules", &b->rules, err, errlen))
        goto out;
    if ((v = json_object_get(j, "health"))) {
        json_t *w;
        if (!json_is_object(v)) {
            mock_v_expect(err, errlen, "$.health", "object {\"latency\", \"rules\"}", v);
            goto out;
        }
        if (mock_v_keys(v, "$.health", health_keys, err, errlen))
            goto out;
        if ((w = json_object_get(v, "latency")) &&
            parse_latency(w, "$.health.latency", &b->health_latency, err, errlen))
            goto out;
        if ((w = json_object_get(v, "rules")) &&
            parse_rules(w, "$.health.rules", &b->health_rules, err, errlen))
            goto out;
    }
    json_decref(b->src);
    b->src = json_deep_copy(j);
    *out = b;
    b = NULL;
    rc = 0;
out:
    mock_behavior_free(&b);
    return rc;
}
