/* Unit tests for common/: clock swapping, the seeded RNG, the bounded buffer,
 * JSON loading errors, the nearest-key suggestion and secret redaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "co_buf.h"
#include "co_clock.h"
#include "co_json.h"
#include "co_log.h"
#include "co_rng.h"
#include "co_valid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t fake_now = 1000;
static uint64_t fake_clock(void)
{
    return fake_now;
}

static void test_clock_swap(void **state)
{
    co_clock_set(fake_clock);
    assert_int_equal(co_now_us(), 1000);
    fake_now += 500;
    assert_int_equal(co_now_us(), 1500);
    co_clock_set(NULL);
    uint64_t a = co_now_us(), b = co_now_us();
    assert_true(b >= a);
    char buf[CO_RFC3339_LEN];
    co_wall_rfc3339(buf, sizeof buf);
    assert_int_equal(strlen(buf), 24);
    assert_int_equal(buf[10], 'T');
    assert_int_equal(buf[23], 'Z');
}

static void test_rng_deterministic(void **state)
{
    struct co_rng a, b, c;
    co_rng_seed(&a, 42);
    co_rng_seed(&b, 42);
    co_rng_seed(&c, 43);
    int differs = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t x = co_rng_next(&a), y = co_rng_next(&b), z = co_rng_next(&c);
        assert_true(x == y);
        differs |= x != z;
    }
    assert_true(differs);
    for (int i = 0; i < 10000; i++) {
        double d = co_rng_double(&a);
        assert_true(d >= 0.0 && d < 1.0);
        uint64_t r = co_rng_range(&a, 5, 9);
        assert_true(r >= 5 && r <= 9);
    }
}

static void test_buf_limit(void **state)
{
    struct co_buf b;
    co_buf_init(&b, 8);
    assert_int_equal(co_buf_puts(&b, "abcd"), 0);
    assert_int_equal(co_buf_puts(&b, "efgh"), 0);
    assert_int_equal(co_buf_puts(&b, "i"), -1);
    assert_string_equal(b.data, "abcdefgh");
    co_buf_reset(&b);
    assert_int_equal(co_buf_printf(&b, "%d-%s", 7, "x"), 0);
    assert_string_equal(b.data, "7-x");
    co_buf_free(&b);
    /* Reserving room keeps what is there and does not lift the limit. */
    co_buf_init(&b, 8);
    co_buf_reserve(&b, 64);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    assert_int_equal(co_buf_puts(&b, "abc"), 0);
    co_buf_reserve(&b, 128);
    assert_string_equal(b.data, "abc");
    assert_true(b.cap >= 129);
    assert_int_equal(co_buf_puts(&b, "defghi"), -1);
    co_buf_free(&b);
}

static void test_json_errors(void **state)
{
    char err[256];
    const char *bad = "{\n  \"a\": 1,\n  \"b\": }\n";
    json_t *j = co_json_loadb(bad, strlen(bad), "x.json", err, sizeof err);
    assert_null(j);
    assert_non_null(strstr(err, "x.json:3:"));
    char *e = co_openai_error("Bad thing", "invalid_request_error", NULL, "bad");
    json_t *p = json_loads(e, 0, NULL);
    assert_non_null(p);
    assert_string_equal(json_string_value(json_object_get(json_object_get(p, "error"), "type")),
                        "invalid_request_error");
    assert_true(json_is_null(json_object_get(json_object_get(p, "error"), "param")));
    json_decref(p);
    free(e);
}

/* Scratch parses: values read back intact, a nested parse and one too big
 * for the arena take the malloc path, a failed parse leaves nothing behind,
 * and values made outside the parse (json_dumps) stay plain blocks. */
static void test_json_scratch(void **state)
{
    const char *doc = "{\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4},\"s\":\"hi\"}";
    json_t *a = co_json_scratch_loadb(doc, strlen(doc), 0, NULL);
    assert_non_null(a);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(a, "usage"), "completion_tokens")), 4);
    json_t *b = co_json_scratch_loadb("[1,2]", 5, 0, NULL); /* nested */
    assert_int_equal(json_array_size(b), 2);
    char *s = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS); /* plain malloc */
    assert_string_equal(s,
                        "{\"s\":\"hi\",\"usage\":{\"completion_tokens\":4,\"prompt_tokens\":3}}");
    free(s);
    co_json_scratch_end(b);
    co_json_scratch_end(a);

    json_error_t je;
    assert_null(co_json_scratch_loadb("{\"a\":", 5, 0, &je));
    assert_int_equal(je.line, 1);
    co_json_scratch_end(NULL);

    /* Bigger than the arena: spills to malloc and is freed at the end. */
    size_t n = 200 * 1000;
    char *big = malloc(n + 16);
    size_t k = 0;
    big[k++] = '[';
    while (k < n - 8)
        k += (size_t)sprintf(big + k, "\"ab\",");
    big[k - 1] = ']';
    json_t *c = co_json_scratch_loadb(big, k, 0, NULL);
    assert_true(json_array_size(c) > 1000);
    assert_string_equal(json_string_value(json_array_get(c, 7)), "ab");
    co_json_scratch_end(c);
    free(big);

    /* The arena is reused: a second document reads back its own values. */
    const char *second = "{\"x\":\"second\"}";
    json_t *d = co_json_scratch_loadb(second, strlen(second), 0, NULL);
    assert_string_equal(json_string_value(json_object_get(d, "x")), "second");
    co_json_scratch_end(d);
}

static void test_nearest(void **state)
{
    const char *keys[] = {"latency_ms", "status", "timeline", "traffic", NULL};
    assert_string_equal(co_nearest("latncy_ms", keys), "latency_ms");
    assert_string_equal(co_nearest("staus", keys), "status");
    assert_null(co_nearest("zzzzzzzzzz", keys));
    /* A swap of neighbours is one edit; a word that starts a name is it. */
    const char *opts[] = {"--json", "--jobs", NULL};
    assert_string_equal(co_nearest("--jbos", opts), "--jobs");
    const char *phase[] = {"path", "rate_rps", "count", NULL};
    assert_string_equal(co_nearest("rate", phase), "rate_rps");
}

static void test_redact(void **state)
{
    char out[128];
    co_secret_add("sk-live-SECRET123");
    co_redact("Authorization: Bearer sk-live-SECRET123 end", out, sizeof out);
    assert_string_equal(out, "Authorization: Bearer [REDACTED] end");
    assert_true(co_has_secret("x sk-live-SECRET123"));
    assert_false(co_has_secret("nothing here"));
    co_secret_clear();
}

/* Issue 20: JSON from bytes that are not UTF-8 is never NULL. */
static void test_utf8_clean(void **state)
{
    char out[64];
    assert_int_equal(co_utf8_clean("ok \xc3\xa9", 5, out, sizeof out), 5);
    assert_string_equal(out, "ok \xc3\xa9");
    co_utf8_clean("\xff\xc3x\xed\xa0\x80\xf4\x90\x80\x80\xc0\xaf", 12, out, sizeof out);
    assert_string_equal(out, "??x?????????");
    /* A cut never splits a character. */
    assert_int_equal(co_utf8_clean("ab\xe2\x82\xac", 5, out, 5), 2);
    assert_string_equal(out, "ab");
    json_t *j = co_json_str("M\xffthod");
    assert_non_null(j);
    assert_string_equal(json_string_value(j), "M?thod");
    json_decref(j);
    char *e = co_openai_error("Method \xff not allowed", "t\xfe", "p\xc3", "c\x80");
    assert_non_null(e);
    json_t *back = json_loads(e, 0, NULL);
    assert_non_null(back);
    json_decref(back);
    free(e);
}

/* Warnings a client can trigger per request cost a burst, then one per
 * CO_LOG_EVERY_S; the next line says how many were suppressed. */
static uint64_t log_now;
static uint64_t log_clock(void)
{
    return log_now;
}

static void test_log_limited(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    co_log_init("t", CO_LOG_DEBUG, f);
    co_clock_set(log_clock);
    log_now = 1000000;
    static const char key[] = "k";
    for (int i = 0; i < 1000; i++)
        co_log_limited(key, CO_LOG_WARN, "aborted %d", i);
    fflush(f);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    assert_int_equal(lines, CO_LOG_BURST);
    log_now += (uint64_t)CO_LOG_EVERY_S * 1000000;
    co_log_limited(key, CO_LOG_WARN, "aborted again");
    fflush(f);
    assert_non_null(strstr(buf, "aborted again (990 similar lines suppressed)"));
    co_clock_set(NULL);
    co_log_init("t", CO_LOG_INFO, NULL);
    fclose(f);
    free(buf);
}

static void count_obj(const json_t *o, void *ctx)
{
    *(long *)ctx += (long)json_integer_value(json_object_get(o, "n"));
}

/* The reader of a run's JSON-lines files: objects only, in order, within
 * its line and byte caps; a missing file is -1. */
static void test_jsonl_each(void **state)
{
    char path[] = "/tmp/cutover-jsonl-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("{\"n\": 1}\nnot json\n[2]\n{\"n\": 10}\n{\"n\": 100}", f);
    fclose(f);
    long sum = 0;
    assert_int_equal(co_jsonl_each(path, 100, 1 << 20, count_obj, &sum), 0);
    assert_int_equal(sum, 111); /* the last line needs no newline */
    sum = 0;
    assert_int_equal(co_jsonl_each(path, 4, 1 << 20, count_obj, &sum), 0);
    assert_int_equal(sum, 11);
    sum = 0;
    assert_int_equal(co_jsonl_each(path, 100, 12, count_obj, &sum), 0);
    assert_int_equal(sum, 1); /* 9 bytes, then 9 more pass the cap */
    unlink(path);
    assert_int_equal(co_jsonl_each(path, 100, 1 << 20, count_obj, &sum), -1);
}

/* The validator kit's one wording: path, expected, found, did you mean. */
static void test_valid_wording(void **state)
{
    char err[256];
    static const char *const keys[] = {"tokens", "latency", NULL};
    json_t *o = json_pack("{s:i}", "tokns", 3);
    assert_int_equal(co_v_keys(o, "$.reply", keys, err, sizeof err), -1);
    assert_string_equal(err, "$.reply: expected a key among tokens, latency, found \"tokns\" "
                             "(did you mean 'tokens'?)");
    assert_int_equal(co_v_enum(json_object_get(o, "tokns"), "$.reply.tokns", keys, err, sizeof err),
                     -1);
    assert_string_equal(err, "$.reply.tokns: expected one of tokens, latency, found integer 3");
    json_t *s = json_string("latncy");
    assert_int_equal(co_v_enum(s, "$.x", keys, err, sizeof err), -1);
    assert_string_equal(err, "$.x: expected one of tokens, latency, found string \"latncy\" "
                             "(did you mean 'latency'?)");
    assert_int_equal(co_v_expected(err, sizeof err, "$.y", "a number", NULL), -1);
    assert_string_equal(err, "$.y: expected a number, found nothing");
    double d = -1;
    assert_int_equal(co_v_number(o, "$.reply", "tokns", 0, 2, &d, err, sizeof err), -1);
    assert_string_equal(err, "$.reply.tokns: expected a number in [0, 2], found integer 3");
    assert_int_equal(co_v_number(o, "$.reply", "tokns", 0, 5, &d, err, sizeof err), 0);
    assert_true(d == 3);
    assert_int_equal(co_v_key("latency", "$", keys, err, sizeof err), 0);
    json_decref(s);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock_swap),  cmocka_unit_test(test_rng_deterministic),
        cmocka_unit_test(test_buf_limit),   cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_nearest),     cmocka_unit_test(test_json_scratch),
        cmocka_unit_test(test_redact),      cmocka_unit_test(test_utf8_clean),
        cmocka_unit_test(test_log_limited), cmocka_unit_test(test_valid_wording),
        cmocka_unit_test(test_jsonl_each),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
