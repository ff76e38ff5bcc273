/* Unit tests for rule selection: each selector, each match field, first
 * rule wins, latency sampling, and seeded determinism (the same seed and the
 * same request sequence give the same decisions; another seed does not). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mocks/mock_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static struct mock_behavior *parse(const char *s)
{
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    struct mock_behavior *b = NULL;
    char err[512];
    if (!j || mock_behavior_parse(j, &b, err, sizeof err) != 0)
        fail_msg("bad behaviour %s: %s", s, j ? err : je.text);
    json_decref(j);
    return b;
}

static const char *hdr_env;
static const char *header(void *ctx, const char *name)
{
    return strcasecmp(name, "X-Env") == 0 ? hdr_env : NULL;
}

/* Decides n chat requests in a row; returns the action type of each in out. */
static void run(struct mock_behavior *b, int n, uint64_t since_us, struct co_rng *rng, int *out,
                int *codes)
{
    for (int i = 0; i < n; i++) {
        struct mock_facts f = {
            "/v1/chat/completions", "gpt-4.1", 0, (uint64_t)i, header, NULL, NULL};
        struct mock_decision d;
        mock_select(&b->rules, &b->latency, &f, since_us, rng, &d);
        out[i] = d.action.type;
        if (codes)
            codes[i] = d.action.code;
    }
}

static void test_always_first_every(void **state)
{
    struct co_rng rng;
    co_rng_seed(&rng, 1);
    int t[8];
    struct mock_behavior *b = parse("{\"rules\":[{\"action\":{\"type\":\"close\"}}]}");
    run(b, 3, 0, &rng, t, NULL);
    for (int i = 0; i < 3; i++)
        assert_int_equal(t[i], MOCK_ACT_CLOSE);
    mock_behavior_free(&b);

    b = parse("{\"rules\":[{\"when\":{\"first\":2},\"action\":{\"type\":\"reset\"}}]}");
    run(b, 5, 0, &rng, t, NULL);
    int want_first[] = {MOCK_ACT_RESET, MOCK_ACT_RESET, MOCK_ACT_OK, MOCK_ACT_OK, MOCK_ACT_OK};
    assert_memory_equal(t, want_first, sizeof want_first);
    mock_behavior_free(&b);

    b = parse("{\"rules\":[{\"when\":{\"every\":3},\"action\":{\"type\":\"reset\"}}]}");
    run(b, 7, 0, &rng, t, NULL);
    int want_every[] = {MOCK_ACT_OK, MOCK_ACT_OK,    MOCK_ACT_RESET, MOCK_ACT_OK,
                        MOCK_ACT_OK, MOCK_ACT_RESET, MOCK_ACT_OK};
    assert_memory_equal(t, want_every, sizeof want_every);
    mock_behavior_free(&b);
}

static void test_sequence(void **state)
{
    struct co_rng rng;
    co_rng_seed(&rng, 1);
    int t[8], c[8];
    struct mock_behavior *b =
        parse("{\"rules\":[{\"name\":\"seq\",\"when\":{\"sequence\":[\"503\",\"503\",\"ok\"]}}]}");
    run(b, 5, 0, &rng, t, c);
    assert_int_equal(t[0], MOCK_ACT_STATUS);
    assert_int_equal(c[0], 503);
    assert_int_equal(t[1], MOCK_ACT_STATUS);
    assert_int_equal(t[2], MOCK_ACT_OK);
    assert_int_equal(t[3], MOCK_ACT_OK); /* past its end the rule no longer fires */
    mock_behavior_free(&b);

    b = parse("{\"rules\":[{\"when\":{\"sequence\":[\"reset\",\"ok\"],\"repeat\":true}}]}");
    run(b, 5, 0, &rng, t, NULL);
    int want[] = {MOCK_ACT_RESET, MOCK_ACT_OK, MOCK_ACT_RESET, MOCK_ACT_OK, MOCK_ACT_RESET};
    assert_memory_equal(t, want, sizeof want);
    mock_behavior_free(&b);
}

static void test_window(void **state)
{
    struct co_rng rng;
    co_rng_seed(&rng, 1);
    int t[1];
    struct mock_behavior *b =
        parse("{\"rules\":[{\"when\":{\"window_ms\":[100,200]},\"action\":{\"type\":\"close\"}}]}");
    run(b, 1, 99999, &rng, t, NULL);
    assert_int_equal(t[0], MOCK_ACT_OK);
    run(b, 1, 100000, &rng, t, NULL);
    assert_int_equal(t[0], MOCK_ACT_CLOSE);
    run(b, 1, 199999, &rng, t, NULL);
    assert_int_equal(t[0], MOCK_ACT_CLOSE);
    run(b, 1, 200000, &rng, t, NULL);
    assert_int_equal(t[0], MOCK_ACT_OK);
    mock_behavior_free(&b);
}

static void test_probability_and_determinism(void **state)
{
    enum { N = 10000 };
    static int a[N], b2[N], c[N];
    struct co_rng r1, r2, r3;
    co_rng_seed(&r1, 42);
    co_rng_seed(&r2, 42);
    co_rng_seed(&r3, 43);
    const char *js = "{\"rules\":[{\"when\":{\"p\":0.3},\"action\":{\"type\":\"reset\"}}]}";
    struct mock_behavior *x = parse(js), *y = parse(js), *z = parse(js);
    run(x, N, 0, &r1, a, NULL);
    run(y, N, 0, &r2, b2, NULL);
    run(z, N, 0, &r3, c, NULL);
    assert_memory_equal(a, b2, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);
    int hits = 0;
    for (int i = 0; i < N; i++)
        hits += a[i] == MOCK_ACT_RESET;
    assert_in_range(hits, 2700, 3300);
    mock_behavior_free(&x);
    mock_behavior_free(&y);
    mock_behavior_free(&z);

    /* p = 0 never fires, p = 1 always does. */
    x = parse("{\"rules\":[{\"when\":{\"p\":0},\"action\":{\"type\":\"reset\"}},"
              "{\"when\":{\"p\":1},\"action\":{\"type\":\"close\"}}]}");
    run(x, 1000, 0, &r1, a, NULL);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(a[i], MOCK_ACT_CLOSE);
    mock_behavior_free(&x);
}

static void test_match_fields(void **state)
{
    struct mock_behavior *b = parse(
        "{\"rules\":["
        "{\"name\":\"path\",\"match\":{\"path\":\"/v1/models\"},\"action\":{\"type\":\"close\"}},"
        "{\"name\":\"model\",\"match\":{\"model\":\"m2\"},\"action\":{\"type\":\"reset\"}},"
        "{\"name\":\"stream\",\"match\":{\"stream\":true},\"action\":{\"type\":\"cut\"}},"
        "{\"name\":\"hdr\",\"match\":{\"header\":{\"name\":\"x-env\",\"value\":\"green\"}},"
        "\"action\":{\"type\":\"stall\",\"stall_ms\":1}},"
        "{\"name\":\"idx\",\"match\":{\"index\":[3,5]},\"action\":{\"type\":\"slow\"}}]}");
    struct co_rng rng;
    co_rng_seed(&rng, 1);
    struct {
        const char *path, *model;
        int stream;
        const char *env;
        uint64_t index;
        int want;
        const char *rule;
    } cases[] = {
        {"/v1/models", NULL, 0, NULL, 0, MOCK_ACT_CLOSE, "path"},
        {"/v1/chat/completions", "m2", 1, NULL, 0, MOCK_ACT_RESET, "model"},
        {"/v1/chat/completions", "m1", 1, NULL, 0, MOCK_ACT_CUT, "stream"},
        {"/v1/chat/completions", "m1", 0, "green", 0, MOCK_ACT_STALL, "hdr"},
        {"/v1/chat/completions", "m1", 0, "blue", 0, MOCK_ACT_OK, ""},
        {"/v1/chat/completions", "m1", 0, NULL, 3, MOCK_ACT_SLOW, "idx"},
        {"/v1/chat/completions", "m1", 0, NULL, 4, MOCK_ACT_SLOW, "idx"},
        {"/v1/chat/completions", "m1", 0, NULL, 5, MOCK_ACT_OK, ""},
        {"/v1/chat/completions", NULL, 0, NULL, 0, MOCK_ACT_OK, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hdr_env = cases[i].env;
        struct mock_facts f = {
            cases[i].path, cases[i].model, cases[i].stream, cases[i].index, header, NULL, NULL};
        struct mock_decision d;
        mock_select(&b->rules, &b->latency, &f, 0, &rng, &d);
        if (d.action.type != cases[i].want || strcmp(d.rule_name, cases[i].rule) != 0)
            fail_msg("case %zu: got type %d rule '%s'", i, d.action.type, d.rule_name);
    }
    hdr_env = NULL;
    mock_behavior_free(&b);
}

static void test_latency(void **state)
{
    struct co_rng rng;
    co_rng_seed(&rng, 7);
    struct mock_latency fixed = {MOCK_LAT_FIXED, 12.5, 0, 0};
    assert_int_equal(mock_latency_sample_us(&fixed, &rng), 12500);
    struct mock_latency uni = {MOCK_LAT_UNIFORM, 5, 20, 0};
    struct mock_latency logn = {MOCK_LAT_LOGNORMAL, 20, 200, 1.5};
    int below = 0;
    for (int i = 0; i < 5000; i++) {
        uint64_t u = mock_latency_sample_us(&uni, &rng);
        assert_in_range(u, 5000, 20000);
        uint64_t l = mock_latency_sample_us(&logn, &rng);
        assert_true(l <= 200000);
        below += l < 20000;
    }
    /* The median is the median: about half the samples fall below it. */
    assert_in_range(below, 2250, 2750);
    struct mock_latency none = {MOCK_LAT_NONE, 0, 0, 0};
    assert_int_equal(mock_latency_sample_us(&none, &rng), 0);

    /* A rule's latency replaces the behaviour's; no rule keeps the base. */
    struct mock_behavior *b =
        parse("{\"latency\":{\"fixed_ms\":5},\"rules\":[{\"match\":{\"model\":\"slow\"},"
              "\"latency\":{\"fixed_ms\":50},\"action\":{\"type\":\"ok\"}}]}");
    struct mock_facts f = {"/v1/chat/completions", "slow", 0, 0, NULL, NULL, NULL};
    struct mock_decision d;
    mock_select(&b->rules, &b->latency, &f, 0, &rng, &d);
    assert_int_equal(d.latency_us, 50000);
    assert_int_equal(d.rule, 0);
    f.model = "fast";
    mock_select(&b->rules, &b->latency, &f, 0, &rng, &d);
    assert_int_equal(d.latency_us, 5000);
    assert_int_equal(d.rule, -1);
    mock_behavior_free(&b);
}

static void test_first_rule_wins(void **state)
{
    struct co_rng rng;
    co_rng_seed(&rng, 1);
    int t[4], c[4];
    struct mock_behavior *b =
        parse("{\"rules\":[{\"when\":{\"first\":1},\"action\":{\"type\":\"status\",\"code\":401}},"
              "{\"action\":{\"type\":\"status\",\"code\":500}}]}");
    run(b, 3, 0, &rng, t, c);
    assert_int_equal(c[0], 401);
    assert_int_equal(c[1], 500);
    assert_int_equal(c[2], 500);
    mock_behavior_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_always_first_every),
        cmocka_unit_test(test_sequence),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_probability_and_determinism),
        cmocka_unit_test(test_match_fields),
        cmocka_unit_test(test_latency),
        cmocka_unit_test(test_first_rule_wins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
