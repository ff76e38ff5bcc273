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

/* Decides one chat request with this body; returns the rule's name ("" none). */
static const char *body_rule(struct mock_behavior *b, const char *body)
{
    struct co_rng rng;
    co_rng_seed(&rng, 1);
    json_t *doc = body ? json_loads(body, 0, NULL) : NULL;
    if (body && !doc)
        fail_msg("bad test body %s", body);
    struct mock_facts f = {"/v1/chat/completions", "m", 0, 0, NULL, NULL, doc};
    struct mock_decision d;
    mock_select(&b->rules, &b->latency, &f, 0, &rng, &d);
    json_decref(doc);
    return d.rule_name;
}

static void test_json_pointer(void **state)
{
    json_t *doc = json_loads("{\"a\":{\"b/c\":[10,{\"~k\":true}]},\"\":5,\"m\":[0,1]}", 0, NULL);
    assert_int_equal(json_integer_value(mock_json_pointer(doc, "/a/b~1c/0")), 10);
    assert_true(json_is_true(mock_json_pointer(doc, "/a/b~1c/1/~0k")));
    assert_int_equal(json_integer_value(mock_json_pointer(doc, "/")), 5);
    assert_ptr_equal(mock_json_pointer(doc, ""), doc);
    assert_int_equal(json_integer_value(mock_json_pointer(doc, "/m/1")), 1);
    assert_null(mock_json_pointer(doc, "/m/01")); /* no leading zero */
    assert_null(mock_json_pointer(doc, "/m/-"));
    assert_null(mock_json_pointer(doc, "/m/2"));
    assert_null(mock_json_pointer(doc, "/m/1x"));
    assert_null(mock_json_pointer(doc, "/a/b~1c/0/x")); /* into a number */
    assert_null(mock_json_pointer(doc, "a"));
    assert_null(mock_json_pointer(doc, "/a~2"));
    assert_false(mock_json_pointer_valid("x"));
    assert_false(mock_json_pointer_valid("/~"));
    assert_true(mock_json_pointer_valid("/~0/~1"));
    json_decref(doc);
}

static void test_body_matches(void **state)
{
    struct mock_behavior *b = parse(
        "{\"rules\":["
        "{\"name\":\"eq\",\"match\":{\"body\":[{\"pointer\":\"/model\",\"equals\":\"gpt-x\"},"
        "{\"pointer\":\"/temperature\",\"equals\":0}]},\"action\":{\"type\":\"close\"}},"
        "{\"name\":\"sys\",\"match\":{\"last_message\":{\"role\":\"system\"}},"
        "\"action\":{\"type\":\"close\"}},"
        "{\"name\":\"sub\",\"match\":{\"last_message\":{\"contains\":\"boom\"}},"
        "\"action\":{\"type\":\"close\"}},"
        "{\"name\":\"re\",\"match\":{\"last_message\":{\"role\":\"user\",\"regex\":\"^q[0-9]+$\"}},"
        "\"action\":{\"type\":\"close\"}},"
        "{\"name\":\"long\",\"match\":{\"prompt_chars\":{\"min\":20}},\"action\":{\"type\":"
        "\"close\"}},"
        "{\"name\":\"mid\",\"match\":{\"prompt_chars\":{\"min\":5,\"max\":6}},"
        "\"action\":{\"type\":\"close\"}}]}");
    struct {
        const char *body, *want;
    } cases[] = {
        {"{\"model\":\"gpt-x\",\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":"
         "\"a\"}]}",
         "eq"},
        /* 0 and 0.0 are different JSON values to json_equal: documented. */
        {"{\"model\":\"gpt-x\",\"temperature\":0.5,\"messages\":[{\"role\":\"user\",\"content\":"
         "\"a\"}]}",
         ""},
        {"{\"model\":\"gpt-y\",\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":"
         "\"a\"}]}",
         ""},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"system\",\"content\":"
         "\"b\"}]}",
         "sys"},
        /* Only the last message counts. */
        {"{\"messages\":[{\"role\":\"system\",\"content\":\"a\"},{\"role\":\"user\",\"content\":"
         "\"b\"}]}",
         ""},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"xboomx\"}]}", "sub"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"boom\"},{\"role\":\"user\",\"content\":"
         "\"cccc\"}]}",
         ""},
        /* Content parts: the text parts joined by newlines. */
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"boo\"},"
         "{\"type\":\"text\",\"text\":\"oom\"}]}]}",
         ""},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"},"
         "{\"type\":\"text\",\"text\":\"a boom\"}]}]}",
         "sub"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"q42\"}]}", "re"},
        {"{\"messages\":[{\"role\":\"assistant\",\"content\":\"q42\"}]}", ""},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"q42 \"}]}", ""},
        /* prompt_chars: characters (code points) of every message, inclusive bounds. */
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"0123456789\"},{\"role\":\"user\","
         "\"content\":\"0123456789\"}]}",
         "long"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"0123456789\"},{\"role\":\"user\","
         "\"content\":\"012345678\"}]}",
         ""},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\"}]}",
         "mid"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"abcd\"}]}", ""},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"abcdefg\"}]}", ""},
        /* No body (health, models): a body rule never matches. */
        {NULL, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = body_rule(b, cases[i].body);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu %s: got rule '%s', want '%s'", i,
                     cases[i].body ? cases[i].body : "-", got, cases[i].want);
    }
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
        cmocka_unit_test(test_json_pointer),
        cmocka_unit_test(test_body_matches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
