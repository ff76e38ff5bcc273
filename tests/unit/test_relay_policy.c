/* Unit tests for relay_policy: when a committed stream is complete
 * (stream_done), an attempt's timer schedule with first_byte_timeout_ms (an
 * injected clock: plain numbers), and how a retry is made after a 429
 * without Retry-After (on_429_without_retry_after). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay/relay_policy.h"

static void test_names(void **state)
{
    assert_int_equal(relay_stream_done_parse("lenient"), RELAY_STREAM_DONE_LENIENT);
    assert_int_equal(relay_stream_done_parse("strict"), RELAY_STREAM_DONE_STRICT);
    assert_int_equal(relay_stream_done_parse("Strict"), -1);
    assert_int_equal(relay_stream_done_parse(NULL), -1);
    assert_string_equal(relay_stream_done_name(RELAY_STREAM_DONE_STRICT), "strict");
    assert_int_equal(relay_on429_parse("retry"), RELAY_ON429_RETRY);
    assert_int_equal(relay_on429_parse("failover"), RELAY_ON429_FAILOVER);
    assert_int_equal(relay_on429_parse("fail-over"), -1);
    assert_string_equal(relay_on429_name(RELAY_ON429_FAILOVER), "failover");
}

static void test_stream_end(void **state)
{
    const enum relay_stream_done L = RELAY_STREAM_DONE_LENIENT, S = RELAY_STREAM_DONE_STRICT;
    static const struct {
        enum relay_stream_done mode;
        enum relay_err err;
        int finish, done, whole;
        int complete, add_done;
        const char *code;
    } rows[] = {
        /* [DONE] came: complete in both modes, nothing to add. */
        {L, RELAY_ERR_NONE, 1, 1, 1, 1, 0, NULL},
        {S, RELAY_ERR_NONE, 1, 1, 1, 1, 0, NULL},
        {L, RELAY_ERR_NONE, 0, 1, 1, 1, 0, NULL},
        /* finish_reason, then a clean close without [DONE]. */
        {L, RELAY_ERR_NONE, 1, 0, 1, 1, 1, NULL},
        {S, RELAY_ERR_NONE, 1, 0, 1, 0, 0, "stream_truncated"},
        /* Cut before any finish_reason: an error in both modes. */
        {L, RELAY_ERR_NONE, 0, 0, 1, 0, 0, "stream_truncated"},
        {S, RELAY_ERR_NONE, 0, 0, 1, 0, 0, "stream_truncated"},
        /* Not a clean close, even after the finish_reason. */
        {L, RELAY_ERR_RESET, 1, 0, 1, 0, 0, "stream_reset"},
        {L, RELAY_ERR_IDLE_TIMEOUT, 1, 0, 1, 0, 0, "stream_idle_timeout"},
        {L, RELAY_ERR_RESET, 0, 0, 1, 0, 0, "stream_reset"},
        {L, RELAY_ERR_HTTP, 0, 0, 1, 0, 0, "stream_reset"},
        /* The finish_reason came, but the bytes end inside an event (a
         * half-written usage chunk): not whole. */
        {L, RELAY_ERR_NONE, 1, 0, 0, 0, 0, "stream_truncated"},
        /* [DONE] itself needs no blank line after it. */
        {S, RELAY_ERR_NONE, 1, 1, 0, 1, 0, NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct relay_stream_end e = relay_policy_stream_end(
            rows[i].mode, rows[i].err, rows[i].finish, rows[i].done, rows[i].whole);
        assert_int_equal(e.complete, rows[i].complete);
        assert_int_equal(e.add_done, rows[i].add_done);
        if (rows[i].code)
            assert_string_equal(e.code, rows[i].code);
        else
            assert_null(e.code);
    }
}

/* try 30 s, ttfb 10 s, first byte 2 s, idle 5 s; the attempt starts at
 * t=1000 with the request's deadline at 60 s. */
static const struct relay_timeouts T = {30000000, 10000000, 2000000, 5000000};

static struct relay_attempt_times at(uint64_t first_byte, uint64_t first_body, uint64_t last,
                                     int stream)
{
    struct relay_attempt_times a = {1000, first_byte, first_body, last, 60000000, 0, stream, 0, 0};
    return a;
}

static void test_expiry_first_byte(void **state)
{
    enum relay_err why;
    /* Nothing yet: the first byte limit comes before ttfb. */
    struct relay_attempt_times a = at(0, 0, 0, 1);
    assert_int_equal(relay_policy_expiry(&T, &a, &why), 1000 + 2000000);
    assert_int_equal(why, RELAY_ERR_FIRST_BYTE_TIMEOUT);
    /* Headers at 100 ms: they do not stop the first byte clock (a stream's
     * idle limit is later here). */
    a = at(101000, 0, 101000, 1);
    assert_int_equal(relay_policy_expiry(&T, &a, &why), 1000 + 2000000);
    assert_int_equal(why, RELAY_ERR_FIRST_BYTE_TIMEOUT);
    /* Same for a non-stream answer, whose only other limit is the try. */
    a = at(101000, 0, 101000, 0);
    assert_int_equal(relay_policy_expiry(&T, &a, &why), 1000 + 2000000);
    assert_int_equal(why, RELAY_ERR_FIRST_BYTE_TIMEOUT);
    /* A body byte came: the first byte limit is over. */
    a = at(101000, 150000, 150000, 0);
    assert_int_equal(relay_policy_expiry(&T, &a, &why), 1000 + 30000000);
    assert_int_equal(why, RELAY_ERR_TIMEOUT);
    a = at(101000, 150000, 150000, 1);
    assert_int_equal(relay_policy_expiry(&T, &a, &why), 150000 + 5000000);
    assert_int_equal(why, RELAY_ERR_IDLE_TIMEOUT);
}

static void test_expiry_without_first_byte(void **state)
{
    struct relay_timeouts t = T;
    t.first_byte_us = 0; /* off: today's schedule */
    enum relay_err why;
    struct relay_attempt_times a = at(0, 0, 0, 1);
    assert_int_equal(relay_policy_expiry(&t, &a, &why), 1000 + 10000000);
    assert_int_equal(why, RELAY_ERR_TTFB_TIMEOUT);
    a = at(101000, 0, 101000, 0);
    assert_int_equal(relay_policy_expiry(&t, &a, &why), 1000 + 30000000);
    assert_int_equal(why, RELAY_ERR_TIMEOUT);
    a = at(101000, 0, 101000, 1);
    assert_int_equal(relay_policy_expiry(&t, &a, &why), 101000 + 5000000);
    assert_int_equal(why, RELAY_ERR_IDLE_TIMEOUT);
}

static void test_expiry_deadline_and_committed(void **state)
{
    enum relay_err why;
    /* The request's deadline comes first: it is a plain timeout. */
    struct relay_attempt_times a = at(0, 0, 0, 1);
    a.deadline = 1500000;
    assert_int_equal(relay_policy_expiry(&T, &a, &why), 1500000);
    assert_int_equal(why, RELAY_ERR_TIMEOUT);
    /* A longer first byte limit than ttfb: ttfb fires first. */
    struct relay_timeouts t = T;
    t.first_byte_us = 20000000;
    a = at(0, 0, 0, 0);
    assert_int_equal(relay_policy_expiry(&t, &a, &why), 1000 + 10000000);
    assert_int_equal(why, RELAY_ERR_TTFB_TIMEOUT);
    /* Committed: only idle, from the last byte, or from now when paused. */
    a = at(101000, 150000, 900000, 1);
    a.committed = 1;
    assert_int_equal(relay_policy_expiry(&T, &a, &why), 900000 + 5000000);
    assert_int_equal(why, RELAY_ERR_IDLE_TIMEOUT);
    a.paused = 1;
    a.now = 7000000;
    assert_int_equal(relay_policy_expiry(&T, &a, &why), 7000000 + 5000000);
}

static void test_retry_how(void **state)
{
    const enum relay_on429 R = RELAY_ON429_RETRY, F = RELAY_ON429_FAILOVER;
    /* Retry-After read and within the cap and the deadline: honoured, in
     * both modes (the setting is only about 429s without one). */
    assert_int_equal(relay_policy_retry_how(429, 1, 500, 10000, 1, R), RELAY_RETRY_AFTER);
    assert_int_equal(relay_policy_retry_how(429, 1, 500, 10000, 1, F), RELAY_RETRY_AFTER);
    assert_int_equal(relay_policy_retry_how(503, 1, 500, 10000, 1, F), RELAY_RETRY_AFTER);
    /* Too long, or past the deadline: fail over at once. */
    assert_int_equal(relay_policy_retry_how(429, 1, 20000, 10000, 1, R), RELAY_RETRY_FAILOVER_NOW);
    assert_int_equal(relay_policy_retry_how(429, 1, 500, 10000, 0, R), RELAY_RETRY_FAILOVER_NOW);
    /* No Retry-After: today's backoff on the same colour, unless failover. */
    assert_int_equal(relay_policy_retry_how(429, 0, 0, 10000, 0, R), RELAY_RETRY_BACKOFF);
    assert_int_equal(relay_policy_retry_how(429, 0, 0, 10000, 0, F), RELAY_RETRY_QUOTA_FAILOVER);
    /* Other failures keep the backoff whatever the setting. */
    assert_int_equal(relay_policy_retry_how(503, 0, 0, 10000, 0, F), RELAY_RETRY_BACKOFF);
    assert_int_equal(relay_policy_retry_how(0, 0, 0, 10000, 0, F), RELAY_RETRY_BACKOFF);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_stream_end),
        cmocka_unit_test(test_expiry_first_byte),
        cmocka_unit_test(test_expiry_without_first_byte),
        cmocka_unit_test(test_expiry_deadline_and_committed),
        cmocka_unit_test(test_retry_how),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
