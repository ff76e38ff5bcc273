/* Unit tests for relay_config: defaults, the precedence of flags over
 * environment over file, the seed's environment names and base URL
 * derivation, --env-file, and errors that name the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay/relay_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char cfg_path[64], env_path[64];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    snprintf(cfg_path, sizeof cfg_path, "/tmp/relay-cfg-%d.json", (int)getpid());
    snprintf(env_path, sizeof env_path, "/tmp/relay-env-%d.env", (int)getpid());
    return 0;
}

static int teardown(void **state)
{
    unlink(cfg_path);
    unlink(env_path);
    return 0;
}

#define ARGV(...)                                                                                  \
    (char *[])                                                                                     \
    {                                                                                              \
        "cutover-relay", __VA_ARGS__, NULL                                                         \
    }

/* relay_config_load with argc counted from the NULL-terminated argv. */
static int load(struct relay_config *c, char **argv, char **envp, char *err, size_t n)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    return relay_config_load(c, argc, argv, envp, err, n);
}

static void test_defaults(void **state)
{
    struct relay_config c;
    char err[512];
    char **argv =
        ARGV("--blue-url", "http://127.0.0.1:1/v1", "--green-url", "http://127.0.0.1:2/v1/");
    char *envp[] = {NULL};
    assert_int_equal(load(&c, argv, envp, err, sizeof err), 0);
    assert_int_equal(c.max_attempts, 3);
    assert_int_equal(c.backoff_base_ms, 1000);
    assert_int_equal(c.backoff_cap_ms, 30000);
    assert_string_equal(c.jitter, "full");
    assert_int_equal(c.try_timeout_ms, 30000);
    assert_int_equal(c.deadline_ms, 60000);
    assert_int_equal(c.ttfb_timeout_ms, 30000); /* follows try_timeout_ms */
    assert_int_equal(c.retry_after_cap_ms, 10000);
    assert_int_equal(c.switch_after_failures, 1);
    assert_int_equal(c.health_interval_ms, 30000);
    assert_int_equal(c.health_timeout_ms, 5000);
    assert_int_equal(c.rate_limit_requests, 1000);
    assert_int_equal(c.rate_limit_window_ms, 60000);
    assert_int_equal(c.max_body_bytes, 1048576);
    assert_string_equal(c.active_env, "blue");
    assert_string_equal(c.listen, "127.0.0.1");
    assert_string_equal(c.green_url, "http://127.0.0.1:2/v1"); /* trailing slash trimmed */
    assert_true(relay_config_price(&c, "gpt-4.1") == 8.0);
    assert_true(relay_config_price(&c, "deepseek-v3.2") == 0.42);
    assert_true(relay_config_price(&c, "nope") < 0);
    relay_config_free(&c);
}

static void test_precedence(void **state)
{
    struct relay_config c;
    char err[512];
    write_file(cfg_path,
               "{\"blue_url\":\"http://127.0.0.1:1/v1\",\"green_url\":\"http://127.0.0.1:2/v1\","
               "\"max_attempts\":5,\"health_interval_ms\":111,\"rate_limit_requests\":7,"
               "\"jitter\":\"equal\",\"prices\":{\"m\":1.5},\"client_keys\":[\"a\",\"b\"]}");
    char *envp[] = {"HEALTH_CHECK_INTERVAL=222", "RATE_LIMIT_REQUESTS=8", "UNRELATED=1", NULL};
    char **argv = ARGV("--config", cfg_path, "--rate-limit-requests=9");
    assert_int_equal(load(&c, argv, envp, err, sizeof err), 0);
    assert_int_equal(c.max_attempts, 5);         /* file over default */
    assert_int_equal(c.health_interval_ms, 222); /* env over file */
    assert_int_equal(c.rate_limit_requests, 9);  /* flag over env */
    assert_string_equal(c.jitter, "equal");
    assert_true(relay_config_price(&c, "m") == 1.5);
    assert_true(relay_config_price(&c, "gpt-4.1") < 0); /* the file's table replaces */
    assert_int_equal(c.nclient_keys, 2);
    relay_config_free(&c);
}

static void test_seed_env_and_base_url(void **state)
{
    struct relay_config c;
    char err[512];
    char *envp[] = {"HOLYSHEEP_BASE_URL=https://api.example/v1",
                    "HOLYSHEEP_API_KEY=sk-abc",
                    "ACTIVE_ENV=green",
                    "HEALTH_CHECK_TIMEOUT=750",
                    "RATE_LIMIT_WINDOW=1000",
                    NULL};
    char *argv[] = {"cutover-relay", NULL};
    assert_int_equal(load(&c, argv, envp, err, sizeof err), 0);
    assert_string_equal(c.blue_url, "https://api.example-blue/v1");
    assert_string_equal(c.green_url, "https://api.example-green/v1");
    assert_string_equal(c.api_key, "sk-abc");
    assert_string_equal(c.active_env, "green");
    assert_int_equal(c.health_timeout_ms, 750);
    assert_int_equal(c.rate_limit_window_ms, 1000);
    relay_config_free(&c);
}

static void test_env_file(void **state)
{
    struct relay_config c;
    char err[512];
    write_file(env_path, "# the seed's .env\nexport BLUE_URL=http://127.0.0.1:5/v1\n"
                         "GREEN_URL=\"http://127.0.0.1:6/v1\"\nACTIVE_ENV=blue # inline\n"
                         "RATE_LIMIT_REQUESTS=50\n\n");
    char *envp[] = {"RATE_LIMIT_REQUESTS=60", NULL}; /* the real environment wins */
    char **argv = ARGV("--env-file", env_path);
    assert_int_equal(load(&c, argv, envp, err, sizeof err), 0);
    assert_string_equal(c.blue_url, "http://127.0.0.1:5/v1");
    assert_string_equal(c.green_url, "http://127.0.0.1:6/v1");
    assert_string_equal(c.active_env, "blue");
    assert_int_equal(c.rate_limit_requests, 60);
    relay_config_free(&c);
}

static void expect_error(char **argv, char **envp, const char *needle)
{
    struct relay_config c;
    char err[512] = "";
    assert_int_equal(load(&c, argv, envp, err, sizeof err), 2);
    if (!strstr(err, needle))
        fail_msg("error '%s' does not name '%s'", err, needle);
    relay_config_free(&c);
}

static void test_errors_name_the_key(void **state)
{
    char *envp[] = {"BLUE_URL=http://127.0.0.1:1/v1", "GREEN_URL=http://127.0.0.1:2/v1", NULL};
    expect_error(ARGV("--max-attempts", "zero"), envp, "max_attempts");
    expect_error(ARGV("--max-attempts", "0"), envp, "max_attempts");
    expect_error(ARGV("--jitter", "sometimes"), envp, "jitter");
    expect_error(ARGV("--active-env", "red"), envp, "active_env");
    expect_error(ARGV("--port", "70000"), envp, "port");
    expect_error(ARGV("--max-atempts", "3"), envp, "did you mean '--max-attempts'");
    expect_error(ARGV("--backoff-base-ms", "500", "--backoff-cap-ms", "100"), envp,
                 "backoff_cap_ms");
    char *bad_env[] = {"BLUE_URL=http://127.0.0.1:1/v1", "GREEN_URL=http://127.0.0.1:2/v1",
                       "HEALTH_CHECK_INTERVAL=often", NULL};
    char *argv0[] = {"cutover-relay", NULL};
    expect_error(argv0, bad_env, "HEALTH_CHECK_INTERVAL");
    char *no_env[] = {NULL};
    expect_error(argv0, no_env, "blue_url");
    write_file(cfg_path, "{\"max_attempt\": 3}");
    expect_error(ARGV("--config", cfg_path), envp, "did you mean 'max_attempts'");
    write_file(cfg_path, "{\"max_attempts\": \"3\"}");
    expect_error(ARGV("--config", cfg_path), envp, "max_attempts: expected an integer");
    write_file(cfg_path, "{\"max_attempts\": 3,}");
    expect_error(ARGV("--config", cfg_path), envp, cfg_path);
    expect_error(ARGV("--config", "/nonexistent/relay.json"), envp, "/nonexistent/relay.json");
    expect_error(ARGV("--blue-url", "ftp://x"), envp, "blue_url");
    expect_error(ARGV("--max-attempts"), envp, "max_attempts");
}

/* Issue 20: quotes before an inline comment, a comment longer than any
 * line buffer (its tail is not a setting), an unclosed quote. */
static void test_env_file_hostile(void **state)
{
    struct relay_config c;
    char err[512];
    FILE *f = fopen(env_path, "w");
    assert_non_null(f);
    fputs("BLUE_URL=\"http://127.0.0.1:5/v1\"  # the blue one\n"
          "GREEN_URL='http://127.0.0.1:6/v1'# no blank before it\n#",
          f);
    for (int i = 0; i < 4094; i++)
        fputc('x', f);
    fputs("ACTIVE_ENV=green\n", f);
    fclose(f);
    char *envp[] = {NULL};
    assert_int_equal(load(&c, ARGV("--env-file", env_path), envp, err, sizeof err), 0);
    assert_string_equal(c.blue_url, "http://127.0.0.1:5/v1");
    assert_string_equal(c.green_url, "http://127.0.0.1:6/v1");
    assert_string_equal(c.active_env, "blue"); /* the comment stayed a comment */
    relay_config_free(&c);
    write_file(env_path, "BLUE_URL=\"http://127.0.0.1:5/v1\n");
    expect_error(ARGV("--env-file", env_path), envp, ":1:");
    write_file(env_path, "BLUE_URL=\"http://127.0.0.1:5/v1\" trailing\n");
    expect_error(ARGV("--env-file", env_path), envp, "closing quote");
}

/* Issue 20: settings that used to be accepted and then misbehaved. */
static void test_hostile_values(void **state)
{
    char *envp[] = {"BLUE_URL=http://127.0.0.1:1/v1", "GREEN_URL=http://127.0.0.1:2/v1", NULL};
    expect_error(ARGV("--client-keys", ",,,"), envp, "client_keys");
    expect_error(ARGV("--client-keys", ""), envp, "client_keys");
    expect_error(ARGV("--client-keys", "a,,b"), envp, "client_keys");
    expect_error(ARGV("--client-keys", "a,"), envp, "client_keys");
    write_file(cfg_path, "{\"client_keys\": [\"a\", \"\"]}");
    expect_error(ARGV("--config", cfg_path), envp, "client_keys[1]");
    expect_error(ARGV("--prices", "gpt-4.1=nan"), envp, "prices");
    expect_error(ARGV("--prices", "gpt-4.1=inf"), envp, "prices");
    expect_error(ARGV("--prices", "gpt-4.1=-1"), envp, "prices");
    expect_error(ARGV("--prices", "gpt-4.1="), envp, "prices");
    expect_error(ARGV("--trusted-proxies", "10.0.0.1,example.com"), envp, "trusted_proxies");
    expect_error(ARGV("--api-key-file", "/nonexistent/key"), envp, "/nonexistent/key");
    write_file(env_path, "\n");
    expect_error(ARGV("--api-key-file", env_path), envp, "api_key_file");
    /* A secret's value is not echoed back in the error. */
    struct relay_config c;
    char err[512] = "";
    assert_int_equal(load(&c, ARGV("--client-keys", "sekrit,,"), envp, err, sizeof err), 2);
    assert_null(strstr(err, "sekrit"));
    relay_config_free(&c);
}

/* --api-key-file reads the key; --api-key's value is blanked in argv. */
static void test_key_out_of_argv(void **state)
{
    struct relay_config c;
    char err[512];
    char *envp[] = {"BLUE_URL=http://127.0.0.1:1/v1", "GREEN_URL=http://127.0.0.1:2/v1", NULL};
    write_file(env_path, "sk-from-file-123\n");
    assert_int_equal(load(&c, ARGV("--api-key-file", env_path), envp, err, sizeof err), 0);
    assert_string_equal(c.api_key, "sk-from-file-123");
    relay_config_free(&c);
    char key[] = "sk-in-argv-456", eqform[] = "--admin-token=tok-789";
    char *argv[] = {"cutover-relay", "--api-key", key, eqform, NULL};
    assert_int_equal(relay_config_load(&c, 4, argv, envp, err, sizeof err), 0);
    assert_string_equal(c.api_key, "sk-in-argv-456");
    assert_string_equal(c.admin_token, "tok-789");
    assert_string_equal(key, "xxxxxxxxxxxxxx");
    assert_string_equal(eqform, "--admin-token=xxxxxxx");
    relay_config_free(&c);
    /* The Redis URL may carry a password: blanked too. */
    char shared[] = "redis://:pw-secret@127.0.0.1:6379";
    char *argv2[] = {"cutover-relay", "--shared", shared, NULL};
    assert_int_equal(relay_config_load(&c, 3, argv2, envp, err, sizeof err), 0);
    assert_string_equal(c.shared, "redis://:pw-secret@127.0.0.1:6379");
    assert_null(strstr(shared, "pw-secret"));
    relay_config_free(&c);
}

static void test_policies(void **state)
{
    struct relay_config c;
    char err[512];
    char *envp[] = {"BLUE_URL=http://127.0.0.1:1/v1", "GREEN_URL=http://127.0.0.1:2/v1", NULL};
    char *argv0[] = {"cutover-relay", NULL};
    /* Defaults: today's behaviour except complete streams. */
    assert_int_equal(load(&c, argv0, envp, err, sizeof err), 0);
    assert_string_equal(c.stream_done, "lenient");
    assert_string_equal(c.mode, "blue-green");
    assert_string_equal(c.primary, "blue"); /* follows active_env */
    assert_int_equal(c.failback_after_ms, 60000);
    assert_int_equal(c.failback_rise, 3);
    assert_int_equal(c.first_byte_timeout_ms, 0);
    assert_string_equal(c.on_429_without_retry_after, "retry");
    relay_config_free(&c);
    /* File, environment (seed-style names) and flags, in that order. */
    write_file(cfg_path, "{\"stream_done\":\"strict\",\"mode\":\"primary-fallback\","
                         "\"failback_after_ms\":100,\"first_byte_timeout_ms\":700}");
    char *env2[] = {"BLUE_URL=http://127.0.0.1:1/v1",
                    "GREEN_URL=http://127.0.0.1:2/v1",
                    "ACTIVE_ENV=green",
                    "FAILBACK_AFTER=200",
                    "FAILBACK_RISE=5",
                    "FIRST_BYTE_TIMEOUT=800",
                    "ON_429_WITHOUT_RETRY_AFTER=failover",
                    "STREAM_DONE=lenient",
                    NULL};
    assert_int_equal(load(&c, ARGV("--config", cfg_path, "--first-byte-timeout-ms", "900"), env2,
                          err, sizeof err),
                     0);
    assert_string_equal(c.stream_done, "lenient");
    assert_string_equal(c.mode, "primary-fallback");
    assert_string_equal(c.primary, "green");
    assert_int_equal(c.failback_after_ms, 200);
    assert_int_equal(c.failback_rise, 5);
    assert_int_equal(c.first_byte_timeout_ms, 900);
    assert_string_equal(c.on_429_without_retry_after, "failover");
    relay_config_free(&c);
    char *env3[] = {"BLUE_URL=http://127.0.0.1:1/v1", "GREEN_URL=http://127.0.0.1:2/v1",
                    "RELAY_MODE=primary-fallback", "PRIMARY_ENV=green", NULL};
    assert_int_equal(load(&c, argv0, env3, err, sizeof err), 0);
    assert_string_equal(c.mode, "primary-fallback");
    assert_string_equal(c.primary, "green");
    relay_config_free(&c);
    /* Bad values name the key and the words. */
    expect_error(ARGV("--stream-done", "loose"), envp, "\"lenient\" or \"strict\"");
    expect_error(ARGV("--mode", "active-active"), envp, "mode");
    expect_error(ARGV("--primary", "red"), envp, "primary");
    expect_error(ARGV("--failback-rise", "0"), envp, "failback_rise");
    expect_error(ARGV("--on-429-without-retry-after", "wait"), envp, "\"retry\" or \"failover\"");
    /* Fail-back is judged by health checks: without them it could never
     * happen, so the relay refuses to start rather than pretend. */
    expect_error(ARGV("--mode", "primary-fallback", "--health-interval-ms", "0"), envp,
                 "health_interval_ms");
}

static void test_help(void **state)
{
    struct relay_config c;
    char err[8192];
    char *envp[] = {NULL};
    assert_int_equal(load(&c, ARGV("--help"), envp, err, sizeof err), 1);
    assert_non_null(strstr(err, "--max-attempts"));
    assert_non_null(strstr(err, "HEALTH_CHECK_INTERVAL"));
    relay_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test_setup_teardown(test_env_file_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_out_of_argv, setup, teardown),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_seed_env_and_base_url),
        cmocka_unit_test(test_env_file),
        cmocka_unit_test(test_errors_name_the_key),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_policies),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
