/* Unit tests for harness/profile.c and harness/scorecard.c: profile
 * validation names the JSON path and the nearest known name; rendering
 * fills placeholders, keeps nginx's braces and does integer offsets;
 * unmappable settings are listed and touch only the checks that depend on
 * them; the shipped profiles under relays/ load; the scorecard picks the
 * failing check's value and the profile's note. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness/profile.h"
#include "harness/scorecard.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct harness_profile *parse(const char *text, char *err, size_t n)
{
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    assert_non_null(doc);
    struct harness_profile *p = harness_profile_from_json(doc, "relays/t.json", err, n);
    json_decref(doc);
    return p;
}

static void expect_error(const char *text, const char *const *needles)
{
    char err[2048] = "";
    struct harness_profile *p = parse(text, err, sizeof err);
    if (p) {
        harness_profile_free(&p);
        fail_msg("expected an error for %s", text);
    }
    for (int i = 0; needles[i]; i++)
        if (!strstr(err, needles[i]))
            fail_msg("error '%s' lacks '%s'", err, needles[i]);
}

static void test_validation_errors(void **state)
{
    expect_error("{\"name\": \"x\"}",
                 (const char *const[]){"relays/t.json", "$.command", "missing", NULL});
    expect_error("{\"name\": \"x\", \"comand\": \"r\"}",
                 (const char *const[]){"comand", "command", NULL});
    expect_error("{\"name\": \"x\", \"command\": \"r --port {prot}\"}",
                 (const char *const[]){"$.command", "{prot}", "did you mean {port}", NULL});
    expect_error("{\"name\": \"x\", \"command\": \"r\", \"settings\": [\"max_atempts\"]}",
                 (const char *const[]){"$.settings[0]", "max_attempts", NULL});
    expect_error("{\"name\": \"x\", \"command\": \"r\", \"tells\": [\"event\"]}",
                 (const char *const[]){"$.tells[0]", "events", NULL});
    expect_error("{\"name\": \"x\", \"command\": \"r\", \"settings\": [\"max_attempts\"], "
                 "\"defaults\": {\"try_timeout_ms\": 5}}",
                 (const char *const[]){"$.defaults.try_timeout_ms", "not in $.settings", NULL});
    expect_error("{\"name\": \"x\", \"command\": \"r\", \"config\": {\"file\": \"a/b.conf\", "
                 "\"template_lines\": []}}",
                 (const char *const[]){"$.config.file", "plain file name", NULL});
    expect_error("{\"name\": \"x\", \"command\": \"r\", \"config\": {\"file\": \"n.conf\"}}",
                 (const char *const[]){"$.config", "template", NULL});
    expect_error("{\"name\": \"x\", \"command\": \"r\", \"config\": {\"file\": \"n.conf\", "
                 "\"template_lines\": [\"listen {porty};\"]}}",
                 (const char *const[]){"template", "{porty}", "{port}", NULL});
    expect_error("{\"name\": \"x\", \"command\": \"r\", \"ready\": {\"path\": \"health\"}}",
                 (const char *const[]){"$.ready.path", "'/'", NULL});
    expect_error("{\"name\": \"x y\", \"command\": \"r\"}", (const char *const[]){"$.name", NULL});
    /* Commands run without a shell unless the profile says so (issue 20). */
    expect_error("{\"name\": \"x\", \"command\": \"r --port {port} | tee log\"}",
                 (const char *const[]){"$.command", "shell syntax '|'", "\"shell\": true", NULL});
    expect_error("{\"name\": \"x\", \"command\": \"r $(id)\"}",
                 (const char *const[]){"$.command", "'$' at column 3", NULL});
    expect_error("{\"name\": \"x\", \"command\": \"r 'open\"}",
                 (const char *const[]){"$.command", "unterminated", NULL});
    expect_error("{\"name\": \"x\", \"command\": \"r\", \"shell\": \"yes\"}",
                 (const char *const[]){"$.shell", "true", NULL});
    expect_error("{\"name\": \"x\", \"command\": \"r\", \"stop_signal\": \"KILL\"}",
                 (const char *const[]){"$.stop_signal", NULL});
    expect_error("{\"name\": \"x\", \"command\": \"r\", \"env\": {\"A\": 1}}",
                 (const char *const[]){"$.env.A", "a string", NULL});
}

/* A token bucket's size (issue: rate-limit window kinds): only for a bucket,
 * a number of requests, 1 or more. */
static void test_rate_limit_burst(void **state)
{
    char err[512] = "";
    struct harness_profile *p =
        parse("{\"name\": \"x\", \"command\": \"r\", \"rate_limit_window\": \"bucket\", "
              "\"rate_limit_burst\": 20}",
              err, sizeof err);
    if (!p)
        fail_msg("%s", err);
    assert_string_equal(p->rl_kind, "bucket");
    assert_true(p->rl_burst == 20);
    harness_profile_free(&p);
    expect_error("{\"name\": \"x\", \"command\": \"r\", \"rate_limit_window\": \"fixed\", "
                 "\"rate_limit_burst\": 20}",
                 (const char *const[]){"$.rate_limit_burst", "\"bucket\"", NULL});
    expect_error("{\"name\": \"x\", \"command\": \"r\", \"rate_limit_window\": \"bucket\", "
                 "\"rate_limit_burst\": 0}",
                 (const char *const[]){"$.rate_limit_burst", "a number >= 1", NULL});
    expect_error("{\"name\": \"x\", \"command\": \"r\", \"rate_limit_brust\": 2}",
                 (const char *const[]){"rate_limit_brust", "rate_limit_burst", NULL});
}

static void test_render(void **state)
{
    struct harness_vars v = {.n = 0};
    harness_vars_set(&v, "port", "8080");
    harness_vars_set(&v, "max_attempts", "3");
    char err[256];
    char *out = harness_render("upstream u { server a; }\nlisten {port}; retries {max_attempts-1}; "
                               "tries {max_attempts+2}; {} {Port} $x",
                               &v, err, sizeof err);
    assert_non_null(out);
    assert_string_equal(out, "upstream u { server a; }\nlisten 8080; retries 2; tries 5; {} {Port} "
                             "$x");
    free(out);
    harness_vars_set(&v, "name", "abc");
    assert_null(harness_render("{name-1}", &v, err, sizeof err));
    assert_non_null(strstr(err, "not an integer"));
    /* Without err nothing fails: what cannot be replaced stays as written. */
    out = harness_render("{name-1} {nope} {port+1}", &v, NULL, 0);
    assert_string_equal(out, "{name-1} {nope} 8081");
    free(out);
}

static void test_settings_and_unmapped(void **state)
{
    char err[1024];
    struct harness_profile *p =
        parse("{\"name\": \"n\", \"command\": \"r {max_attempts}\", \"settings\": "
              "[\"max_attempts\", \"try_timeout_ms\"], \"defaults\": {\"max_attempts\": 2}}",
              err, sizeof err);
    assert_non_null(p);
    json_t *relay =
        json_pack("{s:i, s:i, s:s}", "max_attempts", 5, "backoff_base_ms", 20, "jitter", "none");
    struct harness_vars v = {.n = 0};
    harness_vars_settings(&v, p, relay);
    char *out = harness_render(p->command, &v, err, sizeof err);
    assert_string_equal(out, "r 5"); /* the scenario's value beats the default */
    free(out);
    const char *un[HARNESS_MAX_UNMAPPED];
    assert_int_equal(harness_profile_unmapped(p, relay, 1, un, HARNESS_MAX_UNMAPPED), 3);
    assert_string_equal(un[0], "backoff_base_ms");
    assert_string_equal(un[1], "jitter");
    assert_string_equal(un[2], "admin API");
    assert_int_equal(harness_profile_unmapped(p, relay, 1, un, 1), 1); /* bounded */
    assert_true(harness_profile_affects("backoff_base_ms", "backoff_gaps"));
    assert_false(harness_profile_affects("backoff_base_ms", "client_success_ratio"));
    assert_false(harness_profile_affects("jitter", "switches"));
    assert_true(harness_profile_affects("admin API", "client_success_ratio"));
    assert_true(harness_profile_affects("client_keys", "attempts"));
    /* The client limits are a scenario's premise (scenarios/clients). */
    assert_true(harness_profile_affects("trusted_proxies", "client_count"));
    assert_true(harness_profile_affects("rate_limit_max_keys", "client_count"));
    assert_true(harness_profile_affects("request_read_timeout_ms", "client_deadline"));
    assert_true(harness_profile_affects("max_clients", "upstream_count"));
    assert_true(harness_profile_affects("max_connections", "upstream_concurrency"));
    /* A buffer budget is the premise of the scenarios that set one: a relay
     * that cannot be given one buffers without bound and was failed for not
     * refusing past a budget it never had (edges/buffer-budget-refuses,
     * buffer-budget-shared-by-slow-answers: nginx, HAProxy). */
    assert_true(harness_profile_affects("max_buffered_bytes", "client_count"));
    assert_true(harness_profile_affects("max_buffered_bytes", "error_shape"));
    assert_false(harness_profile_affects("max_attempts", "attempt")); /* whole words only */
    /* A relay that cannot express a policy makes its checks moot. */
    assert_true(harness_profile_affects("stream_done", "no_truncated_success"));
    assert_true(harness_profile_affects("mode", "switches"));
    assert_true(harness_profile_affects("failback_after_ms", "switch_delay"));
    assert_true(harness_profile_affects("first_byte_timeout_ms", "client_deadline"));
    assert_true(harness_profile_affects("on_429_without_retry_after", "attempts"));
    assert_false(harness_profile_affects("on_429_without_retry_after", "switches"));
    /* Whether the 429 costs a backoff is the policy's: quota-429-fails-over
     * failed an outsider's client_deadline it was never told to meet. */
    assert_true(harness_profile_affects("on_429_without_retry_after", "client_deadline"));
    assert_true(harness_profile_affects("first_byte_timeout_ms", "switches"));
    assert_int_equal(p->stop_signal, SIGTERM);
    assert_int_equal(p->tells, 0);
    json_decref(relay);
    harness_profile_free(&p);
    assert_null(p);
}

/* A list setting (client_keys) reaches a command as its items joined by
 * commas, from the scenario or the profile's default; before, a profile
 * could not map it at all ("unknown placeholder {client_keys}"), so every
 * rate-limit scenario was inconclusive on a relay that takes a key list. */
static void test_list_setting(void **state)
{
    char err[1024];
    struct harness_profile *p =
        parse("{\"name\": \"n\", \"command\": \"r {client_keys}\", \"settings\": "
              "[\"client_keys\"], \"defaults\": {\"client_keys\": []}}",
              err, sizeof err);
    assert_non_null(p);
    json_t *relay = json_pack("{s:[s,s]}", "client_keys", "key-alpha", "key-beta");
    struct harness_vars v = {.n = 0};
    harness_vars_settings(&v, p, relay);
    char *out = harness_render(p->command, &v, err, sizeof err);
    assert_string_equal(out, "r key-alpha,key-beta");
    free(out);
    v.n = 0;
    harness_vars_settings(&v, p, NULL);
    out = harness_render(p->command, &v, err, sizeof err);
    assert_string_equal(out, "r "); /* the default: no key */
    free(out);
    const char *un[HARNESS_MAX_UNMAPPED];
    assert_int_equal(harness_profile_unmapped(p, relay, 0, un, HARNESS_MAX_UNMAPPED), 0);
    json_decref(relay);
    harness_profile_free(&p);
    expect_error("{\"name\": \"x\", \"command\": \"r\", \"settings\": [\"client_keys\"], "
                 "\"defaults\": {\"client_keys\": [\"a,b\"]}}",
                 (const char *const[]){"$.defaults.client_keys[0]", "without commas", NULL});
    /* A count of health probes depends on the probe settings; a count of
     * traffic does not, and neither depends on the other's settings. */
    /* (runner.c asks about an upstream_count of probes as health_probes.) */
    assert_true(harness_profile_affects("health_interval_ms", "health_probes"));
    assert_true(harness_profile_affects("health_fall", "health_probes"));
    assert_false(harness_profile_affects("health_interval_ms", "upstream_count"));
    assert_false(harness_profile_affects("max_attempts", "health_probes"));
    assert_true(harness_profile_affects("mode", "tried_ratio"));
}

/* A list or an object as one placeholder of a raw command: the comma
 * lists cutover-relay's --client-keys and --prices take (an array used to
 * be skipped, leaving {client_keys} in the command verbatim). */
static void test_setting_text(void **state)
{
    char buf[32];
    json_t *j = json_pack("[s, s]", "k1", "k2");
    assert_int_equal(harness_setting_text(j, buf, sizeof buf), 0);
    assert_string_equal(buf, "k1,k2");
    json_decref(j);
    j = json_pack("{s:i, s:f}", "gpt-4.1", 8, "mini", 0.5);
    assert_int_equal(harness_setting_text(j, buf, sizeof buf), 0);
    assert_string_equal(buf, "gpt-4.1=8,mini=0.5");
    json_decref(j);
    j = json_pack("[]");
    assert_int_equal(harness_setting_text(j, buf, sizeof buf), 0);
    assert_string_equal(buf, "");
    json_decref(j);
    j = json_pack("[[s]]", "nested");
    assert_int_equal(harness_setting_text(j, buf, sizeof buf), -1);
    json_decref(j);
    j = json_string("0123456789");
    assert_int_equal(harness_setting_text(j, buf, 10), -1); /* never cut short */
    assert_string_equal(buf, "");
    assert_int_equal(harness_setting_text(j, buf, 11), 0);
    json_decref(j);
}

/* A raw command's relay-key placeholders: the scenario's value, else the
 * runner's placeholder, else the runner's config, else refused naming the
 * key (a relay once started with "--rate-limit-requests
 * {rate_limit_requests}" verbatim and exited). */
static void test_raw_command_keys(void **state)
{
    const char *cmd = "relay --port {port} --keys {client_keys} --rl {rate_limit_requests} "
                      "--hi {health_interval_ms} --tries {max_attempts-1} --token {admin_token} "
                      "awk '{print}' {x1}";
    json_t *relay = json_pack("{s:[s, s], s:i, s:s}", "client_keys", "k1", "k2",
                              "rate_limit_requests", 5, "admin_token", "scenario-token");
    json_t *given = json_pack("{s:i, s:i, s:i}", "health_interval_ms", 200, "max_attempts", 3,
                              "rate_limit_requests", 99);
    struct harness_vars v = {.n = 0};
    harness_vars_set(&v, "port", "8080");
    harness_vars_set(&v, "admin_token", "runner-token");
    char err[1024] = "";
    assert_int_equal(harness_vars_raw(&v, cmd, relay, given, err, sizeof err), 0);
    char *out = harness_render(cmd, &v, NULL, 0);
    assert_string_equal(out, "relay --port 8080 --keys k1,k2 --rl 5 --hi 200 --tries 2 --token "
                             "scenario-token awk '{print}' {x1}");
    free(out);
    /* Not set by the scenario, not in the config: refused, named. */
    json_object_del(given, "rate_limit_requests");
    json_object_del(relay, "rate_limit_requests");
    struct harness_vars w = {.n = 0};
    assert_int_equal(harness_vars_raw(&w, cmd, relay, given, err, sizeof err), -1);
    assert_non_null(strstr(err, "{rate_limit_requests} is relay setting 'rate_limit_requests'"));
    assert_non_null(strstr(err, "set $.relay.rate_limit_requests"));
    /* The same for an offset placeholder, and without any config. */
    assert_int_equal(harness_vars_raw(&w, "r {max_attempts+1}", NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "{max_attempts}"));
    /* A near miss of a known name is a typo, refused with the name; other
     * braces are the command's own ({print}, {x1} above). */
    assert_int_equal(harness_vars_raw(&v, "r {prot}", NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown placeholder {prot} (did you mean {port}?)"));
    assert_int_equal(harness_vars_raw(&v, "r {rate_limit_request}", NULL, NULL, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "did you mean {rate_limit_requests}?"));
    /* The runner's own placeholder of a key's name stands ({admin_token}). */
    assert_int_equal(harness_vars_raw(&v, "r {admin_token}", NULL, NULL, err, sizeof err), 0);
    json_decref(relay);
    json_decref(given);
}

/* The shipped profiles load (tests run from the repository root). */
static void test_shipped_profiles(void **state)
{
    static const char *const names[] = {"cutover-relay",
                                        "nginx",
                                        "haproxy",
                                        "nginx-opaque",
                                        "relays/examples/express.json",
                                        "relays/examples/fastapi.json"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[512], err[1024];
        assert_true(harness_profile_find(names[i], path, sizeof path));
        struct harness_profile *p = harness_profile_load(path, err, sizeof err);
        if (!p)
            fail_msg("%s", err);
        if (!strchr(names[i], '/'))
            assert_string_equal(p->name, names[i]);
        harness_profile_free(&p);
    }
    char path[64];
    assert_false(harness_profile_find("bin/cutover-relay --port {port}", path, sizeof path));
    assert_false(harness_profile_find("no-such-profile", path, sizeof path));
}

/* A profile for a relay that is not ours: the path and method its clients
 * use, the key's variable, its folder (default the profile's own), fixed
 * settings: equal values are the relay's own, other values are conflicts
 * ("not applicable"), never "cannot set". */
static void test_black_box_keys(void **state)
{
    char err[1024] = "";
    struct harness_profile *p =
        parse("{\"name\": \"x\", \"command\": \"node s.js --key {api_key} {profile_dir}\","
              " \"request\": {\"method\": \"PUT\", \"path\": \"/api/chat\"},"
              " \"api_key_env\": \"OPENAI_API_KEY\", \"settings\": [\"try_timeout_ms\"],"
              " \"fixed\": {\"max_attempts\": 3, \"jitter\": \"none\"}}",
              err, sizeof err);
    if (!p)
        fail_msg("%s", err);
    assert_string_equal(p->req_method, "PUT");
    assert_string_equal(p->req_path, "/api/chat");
    assert_string_equal(p->api_key_env, "OPENAI_API_KEY");
    assert_string_equal(p->cwd, "{profile_dir}");
    assert_true(p->dir[0] == '/'); /* absolute: the relay runs there */
    assert_non_null(strstr(p->dir, "relays"));
    json_t *relay = json_pack("{s:i, s:s, s:i, s:i}", "max_attempts", 2, "jitter", "none",
                              "try_timeout_ms", 100, "backoff_base_ms", 5);
    const char *out[8];
    assert_int_equal(harness_profile_fixed_conflicts(p, relay, out, 8), 1);
    assert_string_equal(out[0], "max_attempts");
    char why[64];
    harness_profile_fixed_why(p, "max_attempts", why, sizeof why);
    assert_string_equal(why, "max_attempts is fixed at 3");
    /* Fixed keys are not "cannot set"; backoff_base_ms is. */
    assert_int_equal(harness_profile_unmapped(p, relay, 0, out, 8), 1);
    assert_string_equal(out[0], "backoff_base_ms");
    /* The fixed values are placeholders too. */
    struct harness_vars v = {.n = 0};
    harness_vars_settings(&v, p, relay);
    char *r = harness_render("{max_attempts} {try_timeout_ms}", &v, err, sizeof err);
    assert_string_equal(r, "3 100");
    free(r);
    json_decref(relay);
    harness_profile_free(&p);

    static const char *const e1[] = {"$.request.path", "starting with '/'", NULL};
    expect_error("{\"name\": \"x\", \"command\": \"r {port}\", \"request\": {\"path\": \"api\"}}",
                 e1);
    static const char *const e2[] = {"$.request.method", "POST", NULL};
    expect_error("{\"name\": \"x\", \"command\": \"r {port}\", \"request\": {\"method\": \"GET\"}}",
                 e2);
    static const char *const e3[] = {"$.fixed", "did you mean 'max_attempts'", NULL};
    expect_error("{\"name\": \"x\", \"command\": \"r\", \"fixed\": {\"max_atempts\": 3}}", e3);
    static const char *const e4[] = {"$.fixed.max_attempts", "integer in [1, 100]", NULL};
    expect_error("{\"name\": \"x\", \"command\": \"r\", \"fixed\": {\"max_attempts\": 0}}", e4);
    static const char *const e5[] = {"$.fixed.max_attempts", "also in $.settings", NULL};
    expect_error("{\"name\": \"x\", \"command\": \"r\", \"settings\": [\"max_attempts\"], "
                 "\"fixed\": {\"max_attempts\": 3}}",
                 e5);
    static const char *const e6[] = {"$.api_key_env", "not an environment variable", NULL};
    expect_error("{\"name\": \"x\", \"command\": \"r\", \"api_key_env\": \"A-B\"}", e6);
    static const char *const e7[] = {"$.cwd", "unknown placeholder {profle_dir}",
                                     "did you mean {profile_dir}", NULL};
    expect_error("{\"name\": \"x\", \"command\": \"r\", \"cwd\": \"{profle_dir}/x\"}", e7);
}

/* A quoted ';' is no shell syntax; "shell": true accepts a pipeline. */
static void test_shell_flag(void **state)
{
    char err[1024] = "";
    struct harness_profile *p =
        parse("{\"name\": \"x\", \"command\": \"nginx -g 'daemon off;' -p {workdir}/\"}", err,
              sizeof err);
    if (!p)
        fail_msg("%s", err);
    assert_false(p->shell);
    harness_profile_free(&p);
    p = parse("{\"name\": \"x\", \"shell\": true, \"command\": \"r --port {port} 2>&1 | cat\"}",
              err, sizeof err);
    if (!p)
        fail_msg("%s", err);
    assert_true(p->shell);
    harness_profile_free(&p);
}

/* The rule of docs/profiles.md: a single word is a profile name, and an
 * unknown one is an error with the nearest name; anything with a space or a
 * slash is a command. */
static void test_resolve(void **state)
{
    char path[512], err[512];
    assert_int_equal(harness_profile_resolve("nginx", path, sizeof path, err, sizeof err), 1);
    assert_non_null(strstr(path, "relays/nginx.json"));
    assert_int_equal(harness_profile_resolve("ngnix", path, sizeof path, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown profile 'ngnix', did you mean nginx?"));
    assert_int_equal(harness_profile_resolve("nope.json", path, sizeof path, err, sizeof err), -1);
    assert_int_equal(harness_profile_resolve("bin/cutover-relay --port {port}", path, sizeof path,
                                             err, sizeof err),
                     0);
    assert_int_equal(harness_profile_resolve("./relay.sh", path, sizeof path, err, sizeof err), 0);
    assert_int_equal(
        harness_profile_resolve("relays/nginx.json", path, sizeof path, err, sizeof err), 1);
}

static void test_scorecard(void **state)
{
    struct report_scenario sc[2];
    memset(sc, 0, sizeof sc);
    struct report_check ok = {
        .check = "switch_delay", .status = REPORT_PASS, .measured = "12.0 ms"};
    struct report_check bad = {.check = "retry_after",
                               .status = REPORT_FAIL,
                               .measured = "4 retries, shortest wait 0.4 ms"};
    struct report_check ratio = {
        .check = "client_success_ratio", .status = REPORT_PASS, .measured = "1.0"};
    struct report_check c0[2] = {ratio, ok}, c1[2] = {ratio, bad};
    snprintf(sc[0].name, sizeof sc[0].name, "s");
    snprintf(sc[0].relay, sizeof sc[0].relay, "ours");
    sc[0].checks = c0;
    sc[0].n_checks = 2;
    snprintf(sc[1].name, sizeof sc[1].name, "s");
    snprintf(sc[1].relay, sizeof sc[1].relay, "nginx");
    sc[1].status = REPORT_FAIL;
    sc[1].checks = c1;
    sc[1].n_checks = 2;
    struct harness_scorecard_relay cols[3];
    memset(cols, 0, sizeof cols);
    snprintf(cols[0].label, sizeof cols[0].label, "ours");
    snprintf(cols[1].label, sizeof cols[1].label, "nginx");
    snprintf(cols[2].label, sizeof cols[2].label, "haproxy");
    snprintf(cols[2].skipped, sizeof cols[2].skipped, "not installed");
    json_t *card = harness_scorecard_build(sc, 2, cols, 3);
    json_t *cells = json_object_get(json_array_get(json_object_get(card, "rows"), 0), "cells");
    assert_int_equal(json_array_size(json_object_get(card, "rows")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cells, 0), "value")),
                        "switch_delay: 12.0 ms");
    assert_string_equal(json_string_value(json_object_get(json_array_get(cells, 1), "why")),
                        "Retry-After ignored");
    assert_string_equal(json_string_value(json_object_get(json_array_get(cells, 2), "status")),
                        "not run");
    /* A profile's own note beats the generic phrase. */
    json_t *notes = json_pack("{s:s}", "s", "429 ejects the server for fail_timeout");
    char value[128], why[160];
    harness_scorecard_cell(&sc[1], notes, value, sizeof value, why, sizeof why);
    assert_string_equal(why, "429 ejects the server for fail_timeout");
    assert_string_equal(value, "retry_after: 4 retries, shortest wait 0.4 ms");
    char *md = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&md, &len);
    assert_int_equal(harness_scorecard_md(f, card, "cutover run --relay a --relay b"), 0);
    fclose(f);
    assert_non_null(strstr(md, "| scenario | ours | nginx | haproxy |"));
    assert_non_null(strstr(md, "**fail** retry_after"));
    assert_non_null(strstr(md, "haproxy was not run: not installed"));
    free(md);
    json_decref(notes);
    json_decref(card);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validation_errors),
        cmocka_unit_test(test_rate_limit_burst),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_settings_and_unmapped),
        cmocka_unit_test(test_list_setting),
        cmocka_unit_test(test_setting_text),
        cmocka_unit_test(test_raw_command_keys),
        cmocka_unit_test(test_shipped_profiles),
        cmocka_unit_test(test_black_box_keys),
        cmocka_unit_test(test_shell_flag),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_scorecard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
