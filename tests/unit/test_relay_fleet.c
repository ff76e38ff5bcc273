/* Unit tests for relay_fleet, the pure half of the fleet's shared state:
 * the redis:// URL, key and channel names, what the scripts' replies mean
 * (the replies are real hiredis redisReply trees, built by hiredis's own
 * reader from RESP bytes, as the relay receives them), and the rule by which
 * a replica takes or pushes the fleet's colour. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay/relay_config.h"
#include "relay/relay_fleet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A reply as hiredis parses it off the wire; the caller frees it with
 * freeReplyObject. */
static redisReply *resp(const char *wire)
{
    redisReader *rd = redisReaderCreate();
    assert_non_null(rd);
    assert_int_equal(redisReaderFeed(rd, wire, strlen(wire)), REDIS_OK);
    void *rep = NULL;
    assert_int_equal(redisReaderGetReply(rd, &rep), REDIS_OK);
    assert_non_null(rep);
    redisReaderFree(rd);
    return rep;
}

static void test_url(void **state)
{
    struct relay_fleet_url u;
    char err[128];
    assert_int_equal(relay_fleet_parse_url("redis://127.0.0.1:6400/3", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6400);
    assert_int_equal(u.db, 3);
    assert_null(u.password);
    assert_int_equal(relay_fleet_parse_url("redis://localhost", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "localhost");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_int_equal(relay_fleet_parse_url("redis://[::1]:7000/", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 7000);
    assert_int_equal(
        relay_fleet_parse_url("redis://:s3cret-pw@127.0.0.1:6379", &u, err, sizeof err), 0);
    assert_non_null(u.password);
    assert_string_equal(u.password, "s3cret-pw");
    free(u.password);
    static const char *const bad[] = {
        "http://127.0.0.1:6379",   "redis://",         "redis://127.0.0.1:0",
        "redis://127.0.0.1:99999", "redis://h:6379/x", "redis://h:6379/1/2",
        "redis://h:6379?db=1",     "127.0.0.1:6379",   "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(relay_fleet_parse_url(bad[i], &u, err, sizeof err), -1);
        assert_true(err[0] != 0);
        assert_null(u.password);
    }
    assert_int_equal(relay_fleet_parse_url(NULL, &u, err, sizeof err), -1);
}

static void test_names(void **state)
{
    char k[64];
    assert_int_equal(relay_fleet_rl_key("cutover:", "addr:127.0.0.1", k, sizeof k), 0);
    assert_string_equal(k, "cutover:rl:addr:127.0.0.1");
    assert_int_equal(relay_fleet_colour_key("cutover:", k, sizeof k), 0);
    assert_string_equal(k, "cutover:colour");
    assert_int_equal(relay_fleet_channel("fleetA/", k, sizeof k), 0);
    assert_string_equal(k, "fleetA/colour:changed");
    assert_int_equal(relay_fleet_colour_key("", k, sizeof k), 0);
    assert_string_equal(k, "colour");
    /* Too small: an error, never a cut name (two clients would share one). */
    char small[12];
    assert_int_equal(relay_fleet_rl_key("cutover:", "key:0123456789abcdef", small, sizeof small),
                     -1);
    assert_int_equal(relay_fleet_colour_key("cutover:", small, 8), -1);
}

static void test_fail_parse(void **state)
{
    assert_int_equal(relay_fleet_fail_parse("open"), 1);
    assert_int_equal(relay_fleet_fail_parse("closed"), 0);
    assert_int_equal(relay_fleet_fail_parse("Open"), -1);
    assert_int_equal(relay_fleet_fail_parse(""), -1);
    assert_int_equal(relay_fleet_fail_parse(NULL), -1);
}

static void test_rl_reply(void **state)
{
    struct relay_rl_verdict v;
    redisReply *r = resp("*3\r\n:1\r\n:7\r\n:60000\r\n");
    assert_int_equal(relay_fleet_rl_reply(r, 10, &v), 0);
    assert_true(v.admitted);
    assert_int_equal(v.limit, 10);
    assert_int_equal(v.remaining, 7);
    assert_int_equal(v.reset_ms, 60000);
    assert_int_equal(v.retry_after_ms, 0);
    freeReplyObject(r);
    /* Refused: retry after is the reset, as the local limiter says. */
    r = resp("*3\r\n:0\r\n:0\r\n:1234\r\n");
    assert_int_equal(relay_fleet_rl_reply(r, 10, &v), 0);
    assert_false(v.admitted);
    assert_int_equal(v.remaining, 0);
    assert_int_equal(v.retry_after_ms, 1234);
    freeReplyObject(r);
    /* More remaining than the limit (the limit was lowered): capped. */
    r = resp("*3\r\n:1\r\n:50\r\n:10\r\n");
    assert_int_equal(relay_fleet_rl_reply(r, 10, &v), 0);
    assert_int_equal(v.remaining, 10);
    freeReplyObject(r);
    static const char *const bad[] = {
        "-NOSCRIPT No matching script. Please use EVAL.\r\n",
        "-ERR Error running script\r\n",
        "*2\r\n:1\r\n:7\r\n",
        "*3\r\n:2\r\n:7\r\n:1\r\n",
        "*3\r\n:1\r\n:-1\r\n:1\r\n",
        "*3\r\n$1\r\n1\r\n:7\r\n:1\r\n",
        "*4\r\n:1\r\n:7\r\n:1\r\n:1\r\n",
        ":1\r\n",
        "$-1\r\n",
        "*-1\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = resp(bad[i]);
        assert_int_equal(relay_fleet_rl_reply(r, 10, &v), -1);
        freeReplyObject(r);
    }
    assert_int_equal(relay_fleet_rl_reply(NULL, 10, &v), -1);
}

static void test_colour_reply(void **state)
{
    struct relay_fleet_colour c;
    redisReply *r = resp("*4\r\n:7\r\n$5\r\ngreen\r\n$4\r\nblue\r\n:1\r\n");
    assert_int_equal(relay_fleet_colour_reply(r, &c), 0);
    assert_int_equal(c.epoch, 7);
    assert_true(c.stored);
    assert_int_equal(c.active, RELAY_GREEN);
    assert_int_equal(c.previous, RELAY_BLUE);
    assert_true(c.wrote);
    freeReplyObject(r);
    /* Nothing stored: nil colours (Lua false), epoch 0. */
    r = resp("*4\r\n:0\r\n$-1\r\n$-1\r\n:0\r\n");
    assert_int_equal(relay_fleet_colour_reply(r, &c), 0);
    assert_false(c.stored);
    assert_false(c.wrote);
    freeReplyObject(r);
    /* A missing previous is the other colour. */
    r = resp("*4\r\n:2\r\n$4\r\nblue\r\n$-1\r\n:0\r\n");
    assert_int_equal(relay_fleet_colour_reply(r, &c), 0);
    assert_int_equal(c.previous, RELAY_GREEN);
    freeReplyObject(r);
    static const char *const bad[] = {
        "*4\r\n:1\r\n$6\r\ndirect\r\n$4\r\nblue\r\n:0\r\n", /* not a colour of the switch */
        "*4\r\n:1\r\n$3\r\nred\r\n$4\r\nblue\r\n:0\r\n",
        "*4\r\n:1\r\n$4\r\nblue\r\n$3\r\nred\r\n:0\r\n",
        "*4\r\n:-1\r\n$4\r\nblue\r\n$5\r\ngreen\r\n:0\r\n",
        "*4\r\n$1\r\n1\r\n$4\r\nblue\r\n$5\r\ngreen\r\n:0\r\n",
        "*4\r\n:1\r\n$4\r\nblue\r\n$5\r\ngreen\r\n:2\r\n",
        "*4\r\n:1\r\n$-1\r\n$-1\r\n:1\r\n", /* wrote nothing? */
        "*3\r\n:1\r\n$4\r\nblue\r\n$5\r\ngreen\r\n",
        "-BUSY Redis is busy running a script\r\n",
        "+OK\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = resp(bad[i]);
        assert_int_equal(relay_fleet_colour_reply(r, &c), -1);
        freeReplyObject(r);
    }
    assert_int_equal(relay_fleet_colour_reply(NULL, &c), -1);
}

static void test_decide(void **state)
{
    struct relay_fleet_colour f = {.epoch = 5, .stored = 1, .active = RELAY_GREEN};
    /* A newer epoch is taken, whatever the colour. */
    assert_int_equal(relay_fleet_decide(4, RELAY_BLUE, &f), RELAY_FLEET_ADOPT);
    assert_int_equal(relay_fleet_decide(4, RELAY_GREEN, &f), RELAY_FLEET_ADOPT);
    /* Same epoch, same colour: nothing to do. */
    assert_int_equal(relay_fleet_decide(5, RELAY_GREEN, &f), RELAY_FLEET_KEEP);
    /* Same epoch, another colour (we switched alone while Redis was down):
     * the fleet's wins. */
    assert_int_equal(relay_fleet_decide(5, RELAY_BLUE, &f), RELAY_FLEET_ADOPT);
    /* The store is behind (it restarted empty and another replica wrote an
     * older state): push ours. */
    assert_int_equal(relay_fleet_decide(6, RELAY_BLUE, &f), RELAY_FLEET_PUSH);
    f.stored = 0;
    f.epoch = 0;
    assert_int_equal(relay_fleet_decide(0, RELAY_BLUE, &f), RELAY_FLEET_PUSH);
}

/* A bounded reader refuses an array header above the bound (hiredis would
 * allocate what it declares) and still reads the relay's replies. */
static void test_reader_bound(void **state)
{
    redisReader *rd = redisReaderCreate();
    relay_fleet_reader_bound(rd);
    relay_fleet_reader_bound(rd); /* idempotent */
    const char ok[] = "*4\r\n:7\r\n$5\r\ngreen\r\n$4\r\nblue\r\n:1\r\n";
    assert_int_equal(redisReaderFeed(rd, ok, sizeof ok - 1), REDIS_OK);
    void *rep = NULL;
    assert_int_equal(redisReaderGetReply(rd, &rep), REDIS_OK);
    struct relay_fleet_colour c;
    assert_int_equal(relay_fleet_colour_reply(rep, &c), 0);
    freeReplyObject(rep);
    const char huge[] = "*100000\r\n:1\r\n"; /* unbounded: 800 KB, then waits */
    assert_int_equal(redisReaderFeed(rd, huge, sizeof huge - 1), REDIS_OK);
    rep = NULL;
    assert_int_equal(redisReaderGetReply(rd, &rep), REDIS_ERR);
    assert_null(rep);
    redisReaderFree(rd);
    /* Nested: the bound applies at every level. */
    rd = redisReaderCreate();
    relay_fleet_reader_bound(rd);
    const char nested[] = "*1\r\n*65\r\n";
    assert_int_equal(redisReaderFeed(rd, nested, sizeof nested - 1), REDIS_OK);
    assert_int_equal(redisReaderGetReply(rd, &rep), REDIS_ERR);
    redisReaderFree(rd);
}

/* relay_config_load with the colours' URLs (required) before argv[1...]. */
static int load(struct relay_config *c, char **argv, char **envp, char *err, size_t n)
{
    char *all[32] = {"relay", "--blue-url", "http://127.0.0.1:1/v1", "--green-url",
                     "http://127.0.0.1:2/v1"};
    int argc = 5;
    for (int i = 1; argv[i] && argc < 31; i++)
        all[argc++] = argv[i];
    all[argc] = NULL;
    return relay_config_load(c, argc, all, envp, err, n);
}

/* The fleet's settings: defaults, flag, environment (SHARED_URL, SHARED_FAIL),
 * config file, and bad values refused (exit 2) naming the key. */
static void test_config_keys(void **state)
{
    struct relay_config c;
    char err[512];
    char *none[] = {NULL};
    char *argv0[] = {"relay", NULL};
    assert_int_equal(load(&c, argv0, none, err, sizeof err), 0);
    assert_null(c.shared);
    assert_string_equal(c.shared_fail, "open");
    assert_int_equal(c.shared_timeout_ms, 200);
    assert_int_equal(c.shared_poll_ms, 1000);
    assert_string_equal(c.shared_prefix, "cutover:");
    relay_config_free(&c);

    /* Writable: the relay blanks a secret flag's value in argv once read
     * (a redis:// URL may carry a password). */
    char url1[] = "redis://127.0.0.1:6400/2";
    char *argv1[] = {"relay", "--shared", url1, "--shared-fail", "closed", "--shared-timeout-ms",
                     "50",    NULL};
    assert_int_equal(load(&c, argv1, none, err, sizeof err), 0);
    assert_string_equal(c.shared, "redis://127.0.0.1:6400/2");
    assert_string_equal(c.shared_fail, "closed");
    assert_int_equal(c.shared_timeout_ms, 50);
    relay_config_free(&c);

    char *env[] = {"SHARED_URL=redis://10.0.0.1:7000", "SHARED_FAIL=closed", NULL};
    assert_int_equal(load(&c, argv0, env, err, sizeof err), 0);
    assert_string_equal(c.shared, "redis://10.0.0.1:7000");
    assert_string_equal(c.shared_fail, "closed");
    relay_config_free(&c);

    char path[64];
    snprintf(path, sizeof path, "/tmp/relay-fleet-cfg-%d.json", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"shared\": \"redis://127.0.0.1:6401\", \"shared_prefix\": \"fleetB:\"}", f);
    fclose(f);
    char *argv2[] = {"relay", "--config", path, NULL};
    assert_int_equal(load(&c, argv2, none, err, sizeof err), 0);
    assert_string_equal(c.shared, "redis://127.0.0.1:6401");
    assert_string_equal(c.shared_prefix, "fleetB:");
    relay_config_free(&c);
    unlink(path);

    char *bad1[] = {"relay", "--shared", "http://127.0.0.1:6379", NULL};
    assert_int_equal(load(&c, bad1, none, err, sizeof err), 2);
    assert_non_null(strstr(err, "shared"));
    relay_config_free(&c);
    char *bad2[] = {"relay", "--shared-fail", "sometimes", NULL};
    assert_int_equal(load(&c, bad2, none, err, sizeof err), 2);
    assert_non_null(strstr(err, "shared_fail"));
    relay_config_free(&c);
    char *bad3[] = {"relay", "--shared-timeout-ms", "0", NULL};
    assert_int_equal(load(&c, bad3, none, err, sizeof err), 2);
    relay_config_free(&c);
}

/* The scripts keep the local limiter's rules (docs/relay.md): spot the
 * lines that carry them, so an edit that drops one fails here first. */
static void test_scripts(void **state)
{
    assert_non_null(strstr(relay_fleet_rl_script, "redis.call('TIME')"));
    assert_non_null(strstr(relay_fleet_rl_script, "'-inf', now - window"));
    assert_non_null(strstr(relay_fleet_rl_script, "if n < limit then"));
    assert_non_null(strstr(relay_fleet_colour_script, "if ce == e"));
    assert_non_null(strstr(relay_fleet_colour_script, "PUBLISH"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url),          cmocka_unit_test(test_names),
        cmocka_unit_test(test_fail_parse),   cmocka_unit_test(test_rl_reply),
        cmocka_unit_test(test_colour_reply), cmocka_unit_test(test_decide),
        cmocka_unit_test(test_scripts),      cmocka_unit_test(test_reader_bound),
        cmocka_unit_test(test_config_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
