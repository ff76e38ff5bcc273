/* Unit tests of harness/explore.c: seeded generation is deterministic and
 * yields valid scenarios, invariants apply only where their preconditions
 * hold, shrinking candidates keep the invariant and only ever remove or
 * simplify, the model loader names file and JSON path, and the invariant
 * table matches docs/explore.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness/explore.h"
#include "harness/scenario.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct harness_explore_model model;

static int setup(void **state)
{
    char err[512];
    return harness_explore_model_load(NULL, &model, err, sizeof err);
}

static int teardown(void **state)
{
    harness_explore_model_free(&model);
    return 0;
}

static void test_same_seed_same_cases(void **state)
{
    int differ = 0;
    for (unsigned i = 0; i < 20; i++) {
        json_t *a = harness_explore_generate(&model, 7, i),
               *b = harness_explore_generate(&model, 7, i),
               *c = harness_explore_generate(&model, 8, i);
        assert_true(json_equal(a, b));
        json_object_del(c, "name");
        json_object_del(c, "description");
        json_object_del(a, "name");
        json_object_del(a, "description");
        differ += !json_equal(a, c);
        json_decref(a);
        json_decref(b);
        json_decref(c);
    }
    assert_true(differ >= 15);
}

/* Every generated case, and every shrinking candidate of it, is a scenario
 * file `cutover run` accepts. */
static void test_cases_are_valid_scenarios(void **state)
{
    char path[] = "/tmp/cutover-explore-unit-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    size_t ncand = 0;
    for (unsigned i = 0; i < 60; i++) {
        json_t *sc = harness_explore_generate(&model, 1, i);
        char err[1024];
        assert_int_equal(json_dump_file(sc, path, JSON_INDENT(2)), 0);
        struct harness_scenario *s = harness_scenario_load(path, 1.0, err, sizeof err);
        if (!s)
            fail_msg("case %u: %s", i, err);
        harness_scenario_free(&s);
        if (i % 6 == 0) {
            struct harness_explore_candidate *cv;
            size_t n = harness_explore_candidates(&model, sc, "request_ends", &cv);
            for (size_t k = 0; k < n; k++) {
                assert_int_equal(json_dump_file(cv[k].sc, path, JSON_INDENT(2)), 0);
                s = harness_scenario_load(path, 1.0, err, sizeof err);
                if (!s)
                    fail_msg("case %u candidate '%s': %s", i, cv[k].what, err);
                harness_scenario_free(&s);
                /* A candidate never grows the timeline. */
                assert_true(harness_explore_steps(cv[k].sc) <= harness_explore_steps(sc));
                /* Its expect is the one invariant. */
                json_t *e = json_object_get(cv[k].sc, "expect");
                assert_int_equal(json_array_size(e), 1);
                assert_string_equal(
                    json_string_value(json_object_get(json_array_get(e, 0), "note")),
                    "request_ends");
                json_decref(cv[k].sc);
                free(cv[k].what);
                ncand++;
            }
            free(cv);
        }
        json_decref(sc);
    }
    unlink(path);
    assert_true(ncand > 10);
}

static json_t *case_with(const char *timeline_json, const char *relay_json)
{
    json_t *sc =
        json_pack("{s:s, s:o, s:o, s:{s:i, s:i}}", "name", "t", "relay",
                  json_loads(relay_json, 0, NULL), "timeline", json_loads(timeline_json, 0, NULL),
                  "traffic", "rate_rps", 10, "duration_ms", 2000);
    harness_explore_set_expect(&model, sc, NULL);
    return sc;
}

static int has_inv(const json_t *sc, const char *inv)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(sc, "expect"), i,
                       c) if (strcmp(json_string_value(json_object_get(c, "note")), inv) ==
                              0) return 1;
    return 0;
}

static void test_invariant_preconditions(void **state)
{
    const char *relay =
        "{\"max_attempts\": 3, \"min_dwell_ms\": 300, \"retry_after_cap_ms\": 1000, "
        "\"health_interval_ms\": 100, \"health_fall\": 1, \"jitter\": \"none\"}";
    /* Only 401s: no retry at all is the invariant. */
    json_t *sc = case_with(
        "[{\"at_ms\": 0, \"mark\": \"f1-blue-401\", \"blue\": {\"status\": 401}}]", relay);
    assert_true(has_inv(sc, "no_retry_401"));
    assert_true(has_inv(sc, "backoff_lower_bound"));
    json_decref(sc);
    /* A 503 beside it: retries are right, the 401 invariant does not apply. */
    sc = case_with("[{\"at_ms\": 0, \"mark\": \"f1-blue-401\", \"blue\": {\"status\": 401}},"
                   " {\"at_ms\": 10, \"mark\": \"f2-green-503\", \"green\": {\"status\": 503}}]",
                   relay);
    assert_false(has_inv(sc, "no_retry_401"));
    assert_false(has_inv(sc, "retry_after_honoured"));
    json_decref(sc);
    /* Retry-After everywhere: honoured, and the backoff invariant steps aside. */
    sc = case_with("[{\"at_ms\": 0, \"mark\": \"f1-blue-429-retry-after\", \"blue\": {\"status\": "
                   "429, \"retry_after_ms\": 200}}]",
                   relay);
    assert_true(has_inv(sc, "retry_after_honoured"));
    assert_false(has_inv(sc, "backoff_lower_bound"));
    /* A quota is passed on by design, not failed over: no liveness bound. */
    assert_false(has_inv(sc, "liveness"));
    json_t *ra = json_array_get(json_object_get(sc, "expect"), 3);
    (void)ra;
    json_decref(sc);
    /* A probe down long enough with green untouched: found and avoided;
     * and no dwell invariant (a sick colour is left at once). */
    sc = case_with("[{\"at_ms\": 100, \"mark\": \"f1-blue-probe-down\", \"blue\": {\"health\": "
                   "\"down\"}}]",
                   relay);
    assert_true(has_inv(sc, "unhealthy_avoided"));
    assert_false(has_inv(sc, "min_dwell"));
    assert_true(has_inv(sc, "liveness"));
    json_decref(sc);
    /* Green faulted only long after blue's probe came back: still applies;
     * green faulted meanwhile: does not. */
    sc =
        case_with("[{\"at_ms\": 100, \"mark\": \"f1-blue-probe-down\", \"blue\": {\"health\": "
                  "\"down\"}}, {\"at_ms\": 1500, \"mark\": \"f1-blue-end\", \"blue\": \"healthy\"},"
                  " {\"at_ms\": 2800, \"mark\": \"f2-green-503\", \"green\": {\"status\": 503}}]",
                  relay);
    assert_true(has_inv(sc, "unhealthy_avoided"));
    json_decref(sc);
    sc = case_with(
        "[{\"at_ms\": 100, \"mark\": \"f1-blue-probe-down\", \"blue\": {\"health\": "
        "\"down\"}}, {\"at_ms\": 900, \"mark\": \"f2-green-503\", \"green\": {\"status\": "
        "503}}, {\"at_ms\": 1500, \"mark\": \"f1-blue-end\", \"blue\": \"healthy\"}]",
        relay);
    assert_false(has_inv(sc, "unhealthy_avoided"));
    json_decref(sc);
    /* Too short a probe outage to require it. */
    sc =
        case_with("[{\"at_ms\": 100, \"mark\": \"f1-blue-probe-down\", \"blue\": {\"health\": "
                  "\"down\"}}, {\"at_ms\": 300, \"mark\": \"f1-blue-end\", \"blue\": \"healthy\"}]",
                  relay);
    assert_false(has_inv(sc, "unhealthy_avoided"));
    json_decref(sc);
}

static void test_off_switch(void **state)
{
    struct harness_explore_model m;
    char err[512], path[] = "/tmp/cutover-explore-model-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *doc = "{\"off\": [\"liveness\", \"request_ends\"]}";
    assert_int_equal(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
    close(fd);
    assert_int_equal(harness_explore_model_load(path, &m, err, sizeof err), 0);
    for (unsigned i = 0; i < 10; i++) {
        json_t *sc = harness_explore_generate(&m, 1, i);
        assert_false(has_inv(sc, "liveness"));
        assert_false(has_inv(sc, "request_ends"));
        assert_true(has_inv(sc, "relay_alive"));
        json_decref(sc);
    }
    harness_explore_model_free(&m);
    /* A misspelt invariant names the file and the path. */
    FILE *f = fopen(path, "w");
    fputs("{\"off\": [\"livenes\"]}", f);
    fclose(f);
    assert_int_equal(harness_explore_model_load(path, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "$.off[0]"));
    f = fopen(path, "w");
    fputs("{\"faults\": [{\"name\": \"x\", \"behavior\": {\"status\": 503}, \"simpler\": \"y\"}]}",
          f);
    fclose(f);
    assert_int_equal(harness_explore_model_load(path, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "$.faults[0].simpler"));
    f = fopen(path, "w");
    fputs("{\"fautls\": []}", f);
    fclose(f);
    assert_int_equal(harness_explore_model_load(path, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "fautls"));
    unlink(path);
}

/* Shrinking a two-segment case offers the removal of each segment, a
 * shorter run, and the simpler fault of a fault that has one. */
static void test_candidates(void **state)
{
    json_t *sc = case_with("[{\"at_ms\": 200, \"mark\": \"f1-blue-503-retry-after\", \"blue\": "
                           "{\"status\": 503, \"retry_after_ms\": 150}},"
                           " {\"at_ms\": 400, \"mark\": \"f2-green-reset\", \"green\": {\"fault\": "
                           "\"reset\"}},"
                           " {\"at_ms\": 900, \"mark\": \"f1-blue-end\", \"blue\": \"healthy\"}]",
                           "{\"max_attempts\": 3}");
    struct harness_explore_candidate *cv;
    size_t n = harness_explore_candidates(&model, sc, "attempts_bounded", &cv);
    int seg1 = 0, shorter = 0, simpler = 0, earlier = 0;
    for (size_t i = 0; i < n; i++) {
        seg1 |= strstr(cv[i].what, "removed fault segment 'f1-blue-503-retry-after'") != NULL &&
                harness_explore_steps(cv[i].sc) == 1;
        shorter |= strstr(cv[i].what, "run 2000 -> 1000 ms") != NULL;
        earlier |= strstr(cv[i].what, "every step 100 ms earlier") != NULL;
        if (strstr(cv[i].what, "fault 503-retry-after -> 503")) {
            json_t *st = json_array_get(json_object_get(cv[i].sc, "timeline"), 0);
            simpler = json_object_get(json_object_get(st, "blue"), "retry_after_ms") == NULL &&
                      strcmp(json_string_value(json_object_get(st, "mark")), "f1-blue-503") == 0;
        }
        json_decref(cv[i].sc);
        free(cv[i].what);
    }
    free(cv);
    assert_true(seg1);
    assert_true(shorter);
    assert_true(simpler);
    assert_true(earlier);
    json_decref(sc);
}

/* docs/explore.md lists every invariant of the table, by name. */
static void test_docs_list_every_invariant(void **state)
{
    FILE *f = fopen("docs/explore.md", "r");
    if (!f)
        skip();
    char *text = calloc(1, 1 << 20);
    size_t n = fread(text, 1, (1 << 20) - 1, f);
    fclose(f);
    text[n] = 0;
    for (const struct harness_explore_invariant *v = harness_explore_invariants; v->name; v++) {
        char row[96];
        snprintf(row, sizeof row, "| `%s` |", v->name);
        if (!strstr(text, row))
            fail_msg("docs/explore.md has no row for invariant %s", v->name);
    }
    free(text);
}

static void test_budget(void **state)
{
    double s;
    assert_int_equal(harness_explore_parse_budget("90s", &s), 0);
    assert_true(s == 90);
    assert_int_equal(harness_explore_parse_budget("10m", &s), 0);
    assert_true(s == 600);
    assert_int_equal(harness_explore_parse_budget("20", &s), 0);
    assert_true(s == 20);
    assert_int_equal(harness_explore_parse_budget("5x", &s), -1);
    assert_int_equal(harness_explore_parse_budget("-1m", &s), -1);
    assert_int_equal(harness_explore_parse_budget("", &s), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_cases),
        cmocka_unit_test(test_cases_are_valid_scenarios),
        cmocka_unit_test(test_invariant_preconditions),
        cmocka_unit_test(test_off_switch),
        cmocka_unit_test(test_candidates),
        cmocka_unit_test(test_docs_list_every_invariant),
        cmocka_unit_test(test_budget),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
