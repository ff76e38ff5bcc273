/* Unit tests for behaviour parsing and validation: a valid behaviour builds
 * the expected struct, and every kind of mistake gives a message that names
 * the JSON path, says what was expected and what was found, and suggests the
 * nearest key for a misspelt one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mocks/mock.h"
#include "mocks/mock_int.h"

#include <stdio.h>
#include <string.h>

static json_t *load(const char *s)
{
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    if (!j)
        fail_msg("bad test JSON: %s: %s", je.text, s);
    return j;
}

static void test_valid_full(void **state)
{
    json_t *j = load(
        "{\"reply\":{\"tokens\":8,\"tokens_per_s\":50,\"ttft_ms\":30,\"model\":\"gpt-4o-snap\"},"
        "\"latency\":{\"uniform_ms\":[5,20]},"
        "\"rate_limit\":{\"requests\":5,\"window_ms\":1000,\"tokens_per_min\":900},"
        "\"rules\":[{\"name\":\"boom\",\"match\":{\"path\":\"/v1/chat/completions\",\"model\":"
        "\"gpt-4.1\",\"stream\":true,\"header\":{\"name\":\"X-Env\",\"value\":\"blue\"},"
        "\"index\":[0,10]},\"when\":{\"p\":0.25},\"latency\":{\"lognormal\":{\"median_ms\":20,"
        "\"sigma\":0.5,\"cap_ms\":200}},\"action\":{\"type\":\"status\",\"code\":429,"
        "\"error_code\":\"insufficient_quota\",\"retry_after_s\":2,\"retry_after_ms\":1500,"
        "\"ratelimit\":{\"limit_requests\":10,\"remaining_requests\":0,\"reset_requests\":\"1s\"}}}"
        ","
        "{\"when\":{\"sequence\":[\"503\",\"reset\",{\"type\":\"stall\",\"stall_ms\":10},\"ok\"],"
        "\"repeat\":true}},"
        "{\"when\":{\"window_ms\":[100,200]},\"action\":{\"type\":\"cut\",\"after_chunks\":3,"
        "\"broken_framing\":true}}],"
        "\"health\":{\"latency\":{\"fixed_ms\":3},\"rules\":[{\"when\":{\"first\":2},"
        "\"action\":{\"type\":\"status\",\"code\":503}}]}}");
    struct mock_behavior *b = NULL;
    char err[512] = "";
    assert_int_equal(mock_behavior_parse(j, &b, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_int_equal(b->reply_tokens, 8);
    assert_true(b->tokens_per_s == 50);
    assert_string_equal(b->reply_model, "gpt-4o-snap");
    assert_int_equal(b->latency.kind, MOCK_LAT_UNIFORM);
    assert_int_equal(b->rl_requests, 5);
    assert_int_equal(b->rl_tpm, 900);
    assert_int_equal(b->rules.n, 3);
    struct mock_rule *r = &b->rules.v[0];
    assert_string_equal(r->name, "boom");
    assert_string_equal(r->m_hname, "X-Env");
    assert_int_equal(r->m_stream, 1);
    assert_int_equal(r->m_idx_hi, 10);
    assert_int_equal(r->sel, MOCK_SEL_P);
    assert_int_equal(r->latency.kind, MOCK_LAT_LOGNORMAL);
    assert_int_equal(r->action.type, MOCK_ACT_STATUS);
    assert_int_equal(r->action.code, 429);
    assert_string_equal(r->action.error_code, "insufficient_quota");
    assert_int_equal(r->action.retry_after_ms, 1500);
    assert_int_equal(r->action.rl.limit_requests, 10);
    assert_string_equal(r->action.rl.reset_requests, "1s");
    r = &b->rules.v[1];
    assert_int_equal(r->sel, MOCK_SEL_SEQUENCE);
    assert_int_equal(r->nseq, 4);
    assert_int_equal(r->seq[0].type, MOCK_ACT_STATUS);
    assert_int_equal(r->seq[0].code, 503);
    assert_int_equal(r->seq[1].type, MOCK_ACT_RESET);
    assert_int_equal(r->seq[1].after_chunks, -1);
    assert_int_equal(r->seq[2].type, MOCK_ACT_STALL);
    assert_int_equal(r->seq[3].type, MOCK_ACT_OK);
    assert_true(r->seq_repeat);
    assert_int_equal(b->rules.v[2].action.broken_framing, 1);
    assert_int_equal(b->health_rules.n, 1);
    assert_int_equal(b->health_latency.kind, MOCK_LAT_FIXED);
    assert_true(json_equal(b->src, j));
    mock_behavior_free(&b);
    assert_null(b);
    assert_int_equal(mock_behavior_validate(j, err, sizeof err), 0);
    json_decref(j);
}

static void test_default_and_empty(void **state)
{
    struct mock_behavior *b = mock_behavior_default();
    assert_int_equal(b->reply_tokens, 16);
    assert_int_equal(b->rules.n, 0);
    mock_behavior_free(&b);
    json_t *j = load("{}");
    char err[256];
    assert_int_equal(mock_behavior_parse(j, &b, err, sizeof err), 0);
    assert_int_equal(b->reply_tokens, 16);
    mock_behavior_free(&b);
    json_decref(j);
}

struct bad {
    const char *json;
    const char *msg; /* the exact message */
};

static const struct bad bads[] = {
    {"[]", "$: expected behaviour object, found array"},
    {"{\"rulez\":[]}", "$.rulez: expected a key among reply, latency, rate_limit, rules, health, "
                       "found \"rulez\" (did you mean 'rules'?)"},
    {"{\"zzzzzzzzzz\":1}", "$.zzzzzzzzzz: expected a key among reply, latency, rate_limit, rules, "
                           "health, found \"zzzzzzzzzz\""},
    {"{\"reply\":{\"tokens\":-1}}",
     "$.reply.tokens: expected an integer in [0, 100000], found integer -1"},
    {"{\"reply\":{\"tokns\":3}}", "$.reply.tokns: expected a key among tokens, tokens_per_s, "
                                  "ttft_ms, model, found \"tokns\" (did you mean 'tokens'?)"},
    {"{\"reply\":{\"model\":\"\"}}",
     "$.reply.model: expected a model name (1 to 127 bytes), found string \"\""},
    {"{\"reply\":{\"model\":4}}",
     "$.reply.model: expected a model name (1 to 127 bytes), found integer 4"},
    {"{\"reply\":[]}", "$.reply: expected object, found array"},
    {"{\"latency\":{\"fixed_ms\":1,\"uniform_ms\":[1,2]}}",
     "$.latency: expected exactly one of fixed_ms, uniform_ms, lognormal, found 2"},
    {"{\"latency\":{\"uniform_ms\":[5,1]}}",
     "$.latency.uniform_ms: expected array [low_ms, high_ms] with 0 <= low <= high, found array"},
    {"{\"latency\":{\"fixed_ms\":\"5\"}}",
     "$.latency.fixed_ms: expected a number in [0, 3.6e+06], found string \"5\""},
    {"{\"latency\":{\"lognormal\":{\"sigma\":1}}}",
     "$.latency.lognormal.median_ms: expected a number in [0, 3.6e+06], found nothing"},
    {"{\"latency\":5}", "$.latency: expected object {\"fixed_ms\"} | {\"uniform_ms\"} | "
                        "{\"lognormal\"}, found integer 5"},
    {"{\"rate_limit\":{\"window_ms\":0}}",
     "$.rate_limit.window_ms: expected an integer in [1, 3600000], found integer 0"},
    {"{\"rules\":{}}", "$.rules: expected array of at most 256 rules, found object"},
    {"{\"rules\":[5]}", "$.rules[0]: expected rule object, found integer 5"},
    {"{\"rules\":[{}]}",
     "$.rules[0].action: expected an action object (every rule needs one), found nothing"},
    {"{\"rules\":[{\"acton\":{}}]}", "$.rules[0].acton: expected a key among name, match, when, "
                                     "latency, action, found \"acton\" (did you mean 'action'?)"},
    {"{\"rules\":[{\"action\":{\"type\":\"rest\"}}]}",
     "$.rules[0].action.type: unknown action type \"rest\", did you mean 'reset'?"},
    {"{\"rules\":[{\"action\":{}}]}",
     "$.rules[0].action.type: expected action type string, found nothing"},
    {"{\"rules\":[{\"action\":{\"type\":\"status\"}}]}",
     "$.rules[0].action.code: expected an integer in [100, 599] (required), found nothing"},
    {"{\"rules\":[{\"action\":{\"type\":\"status\",\"code\":700}}]}",
     "$.rules[0].action.code: expected an integer in [100, 599], found integer 700"},
    {"{\"rules\":[{\"action\":{\"type\":\"reset\",\"after_chunk\":2}}]}",
     "$.rules[0].action.after_chunk: expected a key among type, after_chunks, after_bytes, found "
     "\"after_chunk\" (did you mean 'after_chunks'?)"},
    {"{\"rules\":[{\"action\":{\"type\":\"reset\",\"after_chunks\":2,\"after_bytes\":9}}]}",
     "$.rules[0].action: expected after_chunks or after_bytes, found both"},
    {"{\"rules\":[{\"action\":{\"type\":\"stall\"}}]}",
     "$.rules[0].action.stall_ms: expected an integer >= 0 (required), found nothing"},
    {"{\"rules\":[{\"action\":{\"type\":\"stall\",\"stall_ms\":5,\"then\":\"maybe\"}}]}",
     "$.rules[0].action.then: expected \"close\" or \"continue\", found string \"maybe\""},
    {"{\"rules\":[{\"action\":{\"type\":\"malformed\",\"what\":\"xml\"}}]}",
     "$.rules[0].action.what: expected \"json\", \"sse_event\" or \"html\", found string \"xml\""},
    {"{\"rules\":[{\"action\":{\"type\":\"cut\",\"broken_framing\":1}}]}",
     "$.rules[0].action.broken_framing: expected true or false, found integer 1"},
    {"{\"rules\":[{\"when\":\"sometimes\",\"action\":{\"type\":\"ok\"}}]}",
     "$.rules[0].when: expected \"always\" or an object with one of p, first, every, sequence, "
     "window_ms, found string \"sometimes\""},
    {"{\"rules\":[{\"when\":{\"p\":1.5},\"action\":{\"type\":\"ok\"}}]}",
     "$.rules[0].when.p: expected a number in [0, 1], found real 1.5"},
    {"{\"rules\":[{\"when\":{\"p\":0.5,\"first\":2},\"action\":{\"type\":\"ok\"}}]}",
     "$.rules[0].when: expected exactly one selector, found 2"},
    {"{\"rules\":[{\"when\":{\"every\":0},\"action\":{\"type\":\"ok\"}}]}",
     "$.rules[0].when.every: expected an integer in [1, 1099511627776], found integer 0"},
    {"{\"rules\":[{\"when\":{\"window_ms\":[5,5]},\"action\":{\"type\":\"ok\"}}]}",
     "$.rules[0].when.window_ms: expected array [from_ms, to_ms) with 0 <= from < to, found array"},
    {"{\"rules\":[{\"when\":{\"sequence\":[]}}]}",
     "$.rules[0].when.sequence: expected non-empty array of at most 1024 items, found array"},
    {"{\"rules\":[{\"when\":{\"sequence\":[\"503\",\"abc\"]}}]}",
     "$.rules[0].when.sequence[1]: expected \"ok\", a status code such as \"503\" or an action "
     "type name, found string \"abc\""},
    {"{\"rules\":[{\"when\":{\"sequence\":[\"rest\"]}}]}",
     "$.rules[0].when.sequence[0]: unknown sequence item \"rest\", did you mean 'reset'?"},
    {"{\"rules\":[{\"when\":{\"sequence\":[\"999\"]}}]}",
     "$.rules[0].when.sequence[0]: expected status code in [100, 599], found string \"999\""},
    {"{\"rules\":[{\"when\":{\"sequence\":[\"stall\"]}}]}",
     "$.rules[0].when.sequence[0]: \"stall\" needs fields: write it as an action object"},
    {"{\"rules\":[{\"when\":{\"sequence\":[\"ok\"]},\"action\":{\"type\":\"ok\"}}]}",
     "$.rules[0].action: a sequence rule takes its actions from when.sequence"},
    {"{\"rules\":[{\"match\":{\"header\":{\"value\":\"x\"}},\"action\":{\"type\":\"ok\"}}]}",
     "$.rules[0].match.header.name: expected a header name, found nothing"},
    {"{\"rules\":[{\"match\":{\"index\":[5,2]},\"action\":{\"type\":\"ok\"}}]}",
     "$.rules[0].match.index: expected integer >= 0 or array [from, to) with from < to, found "
     "array"},
    {"{\"rules\":[{\"match\":{\"modle\":\"x\"},\"action\":{\"type\":\"ok\"}}]}",
     "$.rules[0].match.modle: expected a key among path, model, stream, header, index, body, "
     "last_message, prompt_chars, found \"modle\" (did you mean 'model'?)"},
    {"{\"rules\":[{\"match\":{\"stream\":\"yes\"},\"action\":{\"type\":\"ok\"}}]}",
     "$.rules[0].match.stream: expected true or false, found string \"yes\""},
    {"{\"health\":{\"rules\":[{\"action\":{\"type\":\"status\",\"code\":\"503\"}}]}}",
     "$.health.rules[0].action.code: expected an integer in [100, 599], found string \"503\""},
    {"{\"health\":{\"latncy\":{}}}", "$.health.latncy: expected a key among latency, rules, found "
                                     "\"latncy\" (did you mean 'latency'?)"},
    /* body matches */
    {"{\"rules\":[{\"match\":{\"body\":{\"pointer\":\"model\",\"equals\":\"x\"}},"
     "\"action\":{\"type\":\"ok\"}}]}",
     "$.rules[0].match.body.pointer: expected a JSON pointer (RFC 6901: \"\" or \"/key/0\", '~' "
     "only as ~0 or ~1, at most 255 bytes) (required), found string \"model\""},
    {"{\"rules\":[{\"match\":{\"body\":[{\"pointer\":\"/a\",\"equals\":1},{\"pointer\":\"/b~2\","
     "\"equals\":1}]},\"action\":{\"type\":\"ok\"}}]}",
     "$.rules[0].match.body[1].pointer: expected a JSON pointer (RFC 6901: \"\" or \"/key/0\", "
     "'~' only as ~0 or ~1, at most 255 bytes) (required), found string \"/b~2\""},
    {"{\"rules\":[{\"match\":{\"body\":{\"pointer\":\"/model\"}},\"action\":{\"type\":\"ok\"}}]}",
     "$.rules[0].match.body.equals: expected the JSON value to compare with (required), found "
     "nothing"},
    {"{\"rules\":[{\"match\":{\"body\":{\"pointer\":\"/model\",\"equal\":1}},"
     "\"action\":{\"type\":\"ok\"}}]}",
     "$.rules[0].match.body.equal: expected a key among pointer, equals, found \"equal\" (did you "
     "mean 'equals'?)"},
    {"{\"rules\":[{\"match\":{\"body\":[]},\"action\":{\"type\":\"ok\"}}]}",
     "$.rules[0].match.body: expected object {\"pointer\", \"equals\"} or a non-empty array of at "
     "most 64 of them, found array"},
    {"{\"rules\":[{\"match\":{\"last_message\":{}},\"action\":{\"type\":\"ok\"}}]}",
     "$.rules[0].match.last_message: expected object with one or more of role, contains, regex, "
     "found object"},
    {"{\"rules\":[{\"match\":{\"last_message\":{\"rol\":\"user\"}},\"action\":{\"type\":\"ok\"}}]}",
     "$.rules[0].match.last_message.rol: expected a key among role, contains, regex, found \"rol\" "
     "(did you mean 'role'?)"},
    {"{\"rules\":[{\"match\":{\"last_message\":{\"role\":7}},\"action\":{\"type\":\"ok\"}}]}",
     "$.rules[0].match.last_message.role: expected a string of at most 63 bytes, found integer 7"},
    {"{\"rules\":[{\"match\":{\"last_message\":{\"regex\":\"a(b\"}},\"action\":{\"type\":\"ok\"}}]"
     "}",
     "$.rules[0].match.last_message.regex: expected a POSIX extended regular expression, found "
     "\"a(b\" (Unmatched ( or \\()"},
    {"{\"rules\":[{\"match\":{\"prompt_chars\":{\"min\":10,\"max\":5}},"
     "\"action\":{\"type\":\"ok\"}}]}",
     "$.rules[0].match.prompt_chars.max: expected an integer >= min (10), found 5"},
    {"{\"rules\":[{\"match\":{\"prompt_chars\":{\"min\":-1}},\"action\":{\"type\":\"ok\"}}]}",
     "$.rules[0].match.prompt_chars.min: expected an integer in [0, 1099511627776], found integer "
     "-1"},
    {"{\"rules\":[{\"match\":{\"prompt_chars\":5},\"action\":{\"type\":\"ok\"}}]}",
     "$.rules[0].match.prompt_chars: expected object with min and/or max, found integer 5"},
    {"{\"rules\":[{\"action\":{\"type\":\"drip\",\"bytes_per_s\":0}}]}",
     "$.rules[0].action.bytes_per_s: expected an integer in [1, 100000000], found integer 0"},
};

static void test_errors(void **state)
{
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        json_t *j = load(bads[i].json);
        struct mock_behavior *b = (struct mock_behavior *)0x1;
        char err[512] = "";
        int rc = mock_behavior_parse(j, &b, err, sizeof err);
        if (rc == 0 || strcmp(err, bads[i].msg) != 0)
            fail_msg("case %zu %s\n  want: %s\n  got:  %s (rc %d)", i, bads[i].json, bads[i].msg,
                     err, rc);
        assert_ptr_equal(b, (struct mock_behavior *)0x1); /* untouched on error */
        assert_int_equal(mock_behavior_validate(j, err, sizeof err), -1);
        json_decref(j);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_full),
        cmocka_unit_test(test_default_and_empty),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
