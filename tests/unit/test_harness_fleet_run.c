/* Unit tests for the harness's fleet (issue 16, items 2-4): the scenario's
 * "fleet" and fleet steps and their errors, a profile's "shared", the fleet
 * checks (fleet_rate_limit, colour_agreement, probe_load) and "replica": i
 * on any other check, on synthetic observations; the per-replica view; the
 * traffic spread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "co_mem.h"
#include "harness/checks.h"
#include "harness/fleet.h"
#include "harness/obs.h"
#include "harness/profile.h"
#include "harness/scenario.h"
#include "harness/traffic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000ULL

#define OK_TRAFFIC "\"traffic\": {\"rate_rps\": 10, \"duration_ms\": 1000}"
#define OK_EXPECT  "\"expect\": [{\"check\": \"client_success_ratio\", \"min\": 1}]"

static struct harness_scenario *parse(const char *text, char *err, size_t n)
{
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    if (!doc)
        fail_msg("bad test JSON: %s: %s", je.text, text);
    struct harness_scenario *s = harness_scenario_from_json(doc, "dir/f.json", 1.0, err, n);
    json_decref(doc);
    return s;
}

static void expect_error(const char *text, const char *needle)
{
    char err[2048] = "";
    struct harness_scenario *s = parse(text, err, sizeof err);
    if (s) {
        harness_scenario_free(&s);
        fail_msg("expected an error for %s", text);
    }
    if (!strstr(err, needle))
        fail_msg("error '%s' lacks '%s'", err, needle);
    if (!strstr(err, "dir/f.json"))
        fail_msg("error '%s' does not name the file", err);
}

static void test_fleet_parsed(void **state)
{
    char err[1024] = "";
    struct harness_scenario *s =
        parse("{\"name\": \"f\", \"fleet\": {\"replicas\": 3, \"spread\": \"random\"}, "
              "\"timeline\": [{\"at_ms\": 100, \"fleet\": \"replica_kill\", \"replica\": 2},"
              " {\"at_ms\": 200, \"fleet\": \"redis_pause\"},"
              " {\"at_ms\": 300, \"replica\": 1, \"admin\": {\"action\": \"switch\", \"to\": "
              "\"green\"}}], " OK_TRAFFIC ", " OK_EXPECT "}",
              err, sizeof err);
    if (!s)
        fail_msg("%s", err);
    assert_int_equal(s->fleet.replicas, 3);
    assert_int_equal(s->fleet.spread, HARNESS_SPREAD_RANDOM);
    assert_true(s->fleet.redis); /* default for more than one replica */
    assert_int_equal(s->steps[0].fleet_action, HARNESS_REPLICA_KILL);
    assert_int_equal(s->steps[0].replica, 2);
    assert_int_equal(s->steps[1].fleet_action, HARNESS_REDIS_PAUSE);
    assert_int_equal(s->steps[2].replica, 1);
    assert_int_equal(s->max_replica_step, 2);
    harness_scenario_free(&s);

    /* No "fleet": one relay, no Redis. */
    s = parse("{\"name\": \"f\", " OK_TRAFFIC ", " OK_EXPECT "}", err, sizeof err);
    assert_non_null(s);
    assert_int_equal(s->fleet.replicas, 1);
    assert_false(s->fleet.redis);
    assert_int_equal(s->max_replica_step, -1);
    harness_scenario_free(&s);
}

static void test_fleet_errors(void **state)
{
    expect_error("{\"name\": \"f\", \"fleet\": {\"replicas\": 9}, " OK_TRAFFIC ", " OK_EXPECT "}",
                 "$.fleet.replicas: expected a replica count 1..8");
    expect_error("{\"name\": \"f\", \"fleet\": {\"replicas\": 2, \"spread\": \"roundrobin\"}, "
                 "" OK_TRAFFIC ", " OK_EXPECT "}",
                 "$.fleet.spread: expected one of round_robin, random");
    expect_error("{\"name\": \"f\", \"fleet\": {\"replicas\": 2, \"redis\": \"yes\"}, " OK_TRAFFIC
                 ", " OK_EXPECT "}",
                 "$.fleet.redis: expected true or false");
    expect_error("{\"name\": \"f\", \"fleet\": {\"replica\": 2}, " OK_TRAFFIC ", " OK_EXPECT "}",
                 "did you mean 'replicas'");
    /* A replica the fleet does not have. */
    expect_error("{\"name\": \"f\", \"fleet\": {\"replicas\": 2}, \"timeline\": [{\"at_ms\": 1, "
                 "\"fleet\": \"replica_stop\", \"replica\": 2}], " OK_TRAFFIC ", " OK_EXPECT "}",
                 "$.timeline[0].replica: expected a replica index 0..1");
    /* Redis steps need a Redis. */
    expect_error("{\"name\": \"f\", \"fleet\": {\"replicas\": 2, \"redis\": false}, "
                 "\"timeline\": [{\"at_ms\": 1, \"fleet\": \"redis_stop\"}], " OK_TRAFFIC
                 ", " OK_EXPECT "}",
                 "$.timeline[0].fleet: expected a replica_* action");
    expect_error("{\"name\": \"f\", \"timeline\": [{\"at_ms\": 1, \"fleet\": \"replica_nap\"}], "
                 "" OK_TRAFFIC ", " OK_EXPECT "}",
                 "$.timeline[0].fleet: expected one of replica_stop");
    /* "replica" on a step that goes to no replica. */
    expect_error("{\"name\": \"f\", \"fleet\": {\"replicas\": 2}, \"timeline\": [{\"at_ms\": 1, "
                 "\"blue\": \"down\", \"replica\": 1}], " OK_TRAFFIC ", " OK_EXPECT "}",
                 "$.timeline[0].replica: expected no replica on this step");
    /* Settings of the shared store. */
    expect_error("{\"name\": \"f\", \"relay\": {\"shared_fail\": \"half\"}, " OK_TRAFFIC
                 ", " OK_EXPECT "}",
                 "$.relay.shared_fail: expected one of open, closed");
    /* A fleet-wide check takes no replica; another check's replica is an index. */
    expect_error("{\"name\": \"f\", " OK_TRAFFIC ", \"expect\": [{\"check\": "
                 "\"fleet_rate_limit\", \"limit\": 1, \"window_ms\": 10, \"replica\": 0}]}",
                 "$.expect[0]");
    expect_error("{\"name\": \"f\", " OK_TRAFFIC ", \"expect\": [{\"check\": "
                 "\"client_success_ratio\", \"min\": 1, \"replica\": -1}]}",
                 "$.expect[0].replica: expected a replica index 0..7");
    expect_error("{\"name\": \"f\", " OK_TRAFFIC ", \"expect\": [{\"check\": "
                 "\"colour_agreement\", \"to\": \"green\", \"after\": \"start\", \"within_ms\": "
                 "10, \"view\": \"both\"}]}",
                 "$.expect[0].view: expected one of events, served, found string \"both\"");
    /* A window or interval of no length: a check that could never fail. */
    expect_error("{\"name\": \"f\", " OK_TRAFFIC ", \"expect\": [{\"check\": "
                 "\"fleet_rate_limit\", \"limit\": 1, \"window_ms\": 0}]}",
                 "$.expect[0].window_ms: expected a number > 0, found integer 0");
    expect_error("{\"name\": \"f\", " OK_TRAFFIC ", \"expect\": [{\"check\": "
                 "\"probe_load\", \"max_per_interval\": 1, \"interval_ms\": 0}]}",
                 "$.expect[0].interval_ms: expected a number > 0, found integer 0");
}

static struct harness_profile *profile(const char *text, char *err, size_t n)
{
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    assert_non_null(doc);
    struct harness_profile *p = harness_profile_from_json(doc, "relays/t.json", err, n);
    json_decref(doc);
    return p;
}

static void test_profile_shared(void **state)
{
    char err[512] = "";
    struct harness_profile *p =
        profile("{\"name\": \"x\", \"command\": \"relay --port {port} --shared {redis_url}\", "
                "\"shared\": true}",
                err, sizeof err);
    if (!p)
        fail_msg("%s", err);
    assert_true(p->shared);
    harness_profile_free(&p);
    /* Ours takes it through its JSON config: no placeholder needed. */
    p = profile("{\"name\": \"x\", \"command\": \"{relay_bin} --config {config}\", \"config\": "
                "{\"file\": \"r.json\", \"format\": \"cutover-relay-json\"}, \"settings\": "
                "\"all\", \"shared\": true}",
                err, sizeof err);
    if (!p)
        fail_msg("%s", err);
    harness_profile_free(&p);
    /* Says it takes a store, but never receives one. */
    p = profile("{\"name\": \"x\", \"command\": \"relay --port {port}\", \"shared\": true}", err,
                sizeof err);
    assert_null(p);
    assert_non_null(strstr(err, "$.shared: expected {redis_url}"));
    /* Receives one, but says it does not take it. */
    p = profile("{\"name\": \"x\", \"command\": \"relay --port {port} --shared {redis_url}\"}", err,
                sizeof err);
    assert_null(p);
    assert_non_null(strstr(err, "$.shared: expected true"));
    p = profile("{\"name\": \"x\", \"command\": \"relay\", \"shared\": \"redis\"}", err,
                sizeof err);
    assert_null(p);
    assert_non_null(strstr(err, "$.shared: expected true"));
}

/* ---- checks on synthetic observations ------------------------------------ */

static void add_req(struct harness_obs *o, uint64_t sent, uint64_t done, long status, int replica,
                    const char *served)
{
    o->reqs = co_realloc(o->reqs, (o->n_reqs + 1) * sizeof *o->reqs);
    struct harness_req *r = &o->reqs[o->n_reqs];
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "q%zu", o->n_reqs);
    r->t_sched = r->t_sent = sent;
    r->t_done = done;
    r->status = status;
    r->complete = status == 200;
    r->outcome = status == 200 ? HARNESS_OK : HARNESS_HTTP_ERROR;
    r->replica = replica;
    r->key_index = -1;
    snprintf(r->served, sizeof r->served, "%s", served);
    o->n_reqs++;
}

static void add_ev(struct harness_obs *o, uint64_t t, const char *type, const char *to, int rep)
{
    o->evs = co_realloc(o->evs, (o->n_evs + 1) * sizeof *o->evs);
    struct harness_ev *e = &o->evs[o->n_evs++];
    memset(e, 0, sizeof *e);
    e->t = t;
    snprintf(e->type, sizeof e->type, "%s", type);
    snprintf(e->to, sizeof e->to, "%s", to);
    e->replica = rep;
}

/* An upstream attempt (mock journal) of request id, answered with status. */
static struct harness_att *add_att(struct harness_obs *o, const char *id, uint64_t t, int status)
{
    o->atts = co_realloc(o->atts, (o->n_atts + 1) * sizeof *o->atts);
    struct harness_att *a = &o->atts[o->n_atts++];
    memset(a, 0, sizeof *a);
    snprintf(a->req_id, sizeof a->req_id, "%s", id);
    snprintf(a->env, sizeof a->env, "blue");
    a->t_arrival = t;
    a->t_done = t;
    a->status = status;
    a->prompt_tokens = a->completion_tokens = -1;
    return a;
}

static void mark(struct harness_obs *o, const char *name, uint64_t t)
{
    snprintf(o->marks[o->n_marks].name, sizeof o->marks[0].name, "%s", name);
    o->marks[o->n_marks++].t = t;
}

static void fleet_obs(struct harness_obs *o, int nrep)
{
    memset(o, 0, sizeof *o);
    o->t0 = 1000 * MS;
    o->t_end = 4000 * MS;
    o->n_replicas = nrep;
    o->have_events = 1;
    for (int i = 0; i < nrep; i++)
        o->replica_events[i] = 1;
    o->signals = HARNESS_SIG_EVENTS | HARNESS_SIG_SERVED | HARNESS_SIG_ADMIN | HARNESS_SIG_PROCESS |
                 HARNESS_SIG_IDS;
}

static int run(const char *check, const struct harness_obs *o, struct report_check *v)
{
    json_error_t je;
    json_t *c = json_loads(check, 0, &je);
    assert_non_null(c);
    char err[512];
    if (harness_check_validate(c, "$.expect[0]", NULL, err, sizeof err) != 0)
        fail_msg("%s: %s", check, err);
    harness_check_run(c, o, v);
    json_decref(c);
    return v->status;
}

static void test_fleet_rate_limit_check(void **state)
{
    struct harness_obs o;
    struct report_check v;
    const char *ck = "{\"check\": \"fleet_rate_limit\", \"limit\": 5, \"window_ms\": 1000}";
    /* A shared limit: 5 admitted across 3 replicas, then 429s. */
    fleet_obs(&o, 3);
    for (int i = 0; i < 15; i++)
        add_req(&o, o.t0 + (uint64_t)i * 10 * MS, o.t0 + (uint64_t)i * 10 * MS + 2 * MS,
                i < 5 ? 200 : 429, i % 3, i < 5 ? "blue" : "");
    assert_int_equal(run(ck, &o, &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "admitted 5, 429 10"));
    harness_obs_free(&o);
    /* Three local limits: 15 admitted in one window. */
    fleet_obs(&o, 3);
    for (int i = 0; i < 18; i++)
        add_req(&o, o.t0 + (uint64_t)i * 10 * MS, o.t0 + (uint64_t)i * 10 * MS + 2 * MS,
                i < 15 ? 200 : 429, i % 3, "blue");
    assert_int_equal(run(ck, &o, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "admitted 15 in one window"));
    /* The same observations with one replica are no fleet: inconclusive. */
    o.n_replicas = 1;
    assert_int_equal(run(ck, &o, &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "needs 2 or more replicas"));
    harness_obs_free(&o);
    /* 8 admitted in one second, limit 5: an excess for a sliding window
     * (cutover-relay's), not for a fixed window across its boundary, so a
     * relay whose kind is not known is not failed on it. */
    fleet_obs(&o, 3);
    for (int i = 0; i < 12; i++)
        add_req(&o, o.t0 + (uint64_t)i * 10 * MS, o.t0 + (uint64_t)i * 10 * MS + 2 * MS,
                i < 8 ? 200 : 429, i % 3, i < 8 ? "blue" : "");
    assert_int_equal(run(ck, &o, &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "not for a fixed window or a token bucket"));
    snprintf(o.rl_kind, sizeof o.rl_kind, "sliding");
    assert_int_equal(run(ck, &o, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "admitted 8 in one window"));
    harness_obs_free(&o);
    /* A limit never reached: nothing to judge. */
    fleet_obs(&o, 2);
    for (int i = 0; i < 3; i++)
        add_req(&o, o.t0 + (uint64_t)i * MS, o.t0 + (uint64_t)i * MS + MS, 200, i % 2, "blue");
    assert_int_equal(run(ck, &o, &v), HARNESS_INCONCLUSIVE);
    harness_obs_free(&o);
    /* 401s (no client key) are no admissions: nothing to judge, not a
     * fleet that admits everything. */
    fleet_obs(&o, 3);
    for (int i = 0; i < 30; i++)
        add_req(&o, o.t0 + (uint64_t)i * MS, o.t0 + (uint64_t)i * MS + MS, 401, i % 3, "");
    harness_obs_sort(&o);
    assert_int_equal(run(ck, &o, &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "no limiter decision seen (30 answers without one)"));
    harness_obs_free(&o);
    /* A 429 in an empty window: lost by the limiter. */
    fleet_obs(&o, 2);
    add_req(&o, o.t0, o.t0 + MS, 429, 0, "");
    assert_int_equal(run(ck, &o, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "refused with 429 although"));
    harness_obs_free(&o);

    /* 429s that reached an upstream are the upstream's, passed on: the
     * limiter admitted them (a limit never reached), no 429 lost by it. */
    const char *ck100 = "{\"check\": \"fleet_rate_limit\", \"limit\": 100, \"window_ms\": 1000}";
    fleet_obs(&o, 2);
    for (int i = 0; i < 10; i++) {
        uint64_t t = o.t0 + (uint64_t)i * 10 * MS;
        add_req(&o, t, t + 2 * MS, 429, i % 2, "");
        add_att(&o, o.reqs[i].id, t + MS, 429);
    }
    harness_obs_sort(&o);
    assert_int_equal(run(ck100, &o, &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.measured, "admitted 10, 429 0"));
    harness_obs_free(&o);
    /* No ids, and the mocks answered 429 too: whose 429 it was cannot be
     * told, so none is a limiter's refusal. */
    fleet_obs(&o, 2);
    o.signals &= ~(unsigned)HARNESS_SIG_IDS;
    for (int i = 0; i < 10; i++) {
        uint64_t t = o.t0 + (uint64_t)i * 10 * MS;
        add_req(&o, t, t + 2 * MS, 429, i % 2, "");
        add_att(&o, "", t + MS, 429);
    }
    harness_obs_sort(&o);
    assert_int_equal(run(ck100, &o, &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "10 429s not judged"));
    harness_obs_free(&o);
}

static void test_colour_agreement_check(void **state)
{
    struct harness_obs o;
    struct report_check v;
    const char *ck =
        "{\"check\": \"colour_agreement\", \"to\": \"green\", \"after\": \"sw\", \"within_ms\": "
        "100}";
    /* Shared: replica 1 switches, the two others adopt within 3 ms. */
    fleet_obs(&o, 3);
    for (int i = 0; i < 3; i++)
        add_ev(&o, o.t0 - 50 * MS + (uint64_t)i, "start", "blue", i);
    mark(&o, "sw", o.t0 + 500 * MS);
    add_ev(&o, o.t0 + 501 * MS, "switch", "green", 1);
    add_ev(&o, o.t0 + 503 * MS, "switch", "green", 0);
    add_ev(&o, o.t0 + 504 * MS, "switch", "green", 2);
    assert_int_equal(run(ck, &o, &v), HARNESS_PASS);
    assert_non_null(strstr(v.measured, "4.0 ms after sw (last: replica 2)"));
    assert_non_null(strstr(v.measured, "longest split brain 3.0 ms"));
    /* Unshared: replica 2 never follows. */
    o.n_evs--;
    assert_int_equal(run(ck, &o, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "split brain until the end"));
    /* ... unless the scenario killed it: the fleet that is left agrees. */
    o.replica_gone = 1u << 2;
    assert_int_equal(run(ck, &o, &v), HARNESS_PASS);
    o.replica_gone = 0;
    /* Too slow: the last one 300 ms late. */
    add_ev(&o, o.t0 + 800 * MS, "switch", "green", 2);
    assert_int_equal(run(ck, &o, &v), HARNESS_FAIL);
    assert_true(v.margin < 0);
    harness_obs_free(&o);

    /* No event log: the served view, and it says so. */
    fleet_obs(&o, 2);
    o.have_events = 0;
    mark(&o, "sw", o.t0 + 500 * MS);
    for (int i = 0; i < 20; i++) {
        uint64_t t = o.t0 + (uint64_t)i * 50 * MS;
        add_req(&o, t, t + MS, 200, i % 2, t < o.t0 + 520 * MS ? "blue" : "green");
    }
    assert_int_equal(run(ck, &o, &v), HARNESS_PASS);
    assert_non_null(strstr(v.detail, "served view (no event log)"));
    /* Asked for the events view without a log: inconclusive, naming it. */
    const char *ev_ck = "{\"check\": \"colour_agreement\", \"to\": \"green\", \"after\": \"sw\", "
                        "\"within_ms\": 100, \"view\": \"events\"}";
    assert_int_equal(run(ev_ck, &o, &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "event log"));
    /* Nor a served colour: inconclusive. */
    o.signals &= ~(unsigned)HARNESS_SIG_SERVED;
    assert_int_equal(run(ck, &o, &v), HARNESS_INCONCLUSIVE);
    harness_obs_free(&o);

    /* Served view: replica 1 answers nothing with a colour after the mark
     * (its requests fail): whether it took green is unseen, no verdict. */
    fleet_obs(&o, 2);
    o.have_events = 0;
    mark(&o, "sw", o.t0 + 500 * MS);
    for (int i = 0; i < 20; i++) {
        uint64_t t = o.t0 + (uint64_t)i * 50 * MS;
        int late = t >= o.t0 + 520 * MS;
        add_req(&o, t, t + MS, late && i % 2 ? 502 : 200, i % 2,
                late ? (i % 2 ? "" : "green") : "blue");
    }
    assert_int_equal(run(ck, &o, &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "replica 1 served no answer naming a colour after sw"));
    harness_obs_free(&o);

    /* Events view, nobody switched: a failure, but no split brain named. */
    fleet_obs(&o, 2);
    for (int i = 0; i < 2; i++)
        add_ev(&o, o.t0 - 50 * MS, "start", "blue", i);
    mark(&o, "sw", o.t0 + 500 * MS);
    assert_int_equal(run(ck, &o, &v), HARNESS_FAIL);
    assert_non_null(strstr(v.detail, "no replica switched to green after sw"));
    assert_null(strstr(v.detail, "split brain"));
    harness_obs_free(&o);
}

static void test_probe_load_check(void **state)
{
    struct harness_obs o;
    struct report_check v;
    fleet_obs(&o, 3);
    o.atts = co_calloc(64, sizeof *o.atts);
    /* 3 replicas probing both colours every 100 ms over 1 s. */
    for (int k = 0; k < 10; k++)
        for (int rep = 0; rep < 3; rep++)
            for (int c = 0; c < 2; c++) {
                if (o.n_atts == 64)
                    break;
                struct harness_att *a = &o.atts[o.n_atts++];
                a->health = 1;
                snprintf(a->env, sizeof a->env, "%s", c ? "green" : "blue");
                a->t_arrival = o.t0 + (uint64_t)k * 100 * MS + (uint64_t)rep * MS + 5 * MS;
            }
    o.t_end = o.t0 + 1000 * MS;
    assert_int_equal(
        run("{\"check\": \"probe_load\", \"max_per_interval\": 3, \"interval_ms\": 100}", &o, &v),
        HARNESS_PASS);
    assert_int_equal(
        run("{\"check\": \"probe_load\", \"max_per_interval\": 2, \"interval_ms\": 100}", &o, &v),
        HARNESS_FAIL);
    /* Each replica probes every 100 ms, but the mocks see the three
     * interleaved (gaps of 1 ms): one relay's schedule is not seen, fleet
     * wide or asked of one replica, nor one replica's probe count. */
    const char *hi = "{\"check\": \"health_interval\", \"env\": \"blue\", \"interval_ms\": 100}";
    assert_int_equal(run(hi, &o, &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "cannot be told apart by replica (3 replicas"));
    assert_int_equal(run("{\"check\": \"health_interval\", \"env\": \"blue\", \"interval_ms\": "
                         "100, \"replica\": 1}",
                         &o, &v),
                     HARNESS_INCONCLUSIVE);
    assert_int_equal(run("{\"check\": \"upstream_count\", \"env\": \"blue\", \"health\": true, "
                         "\"exact\": 10, \"replica\": 1}",
                         &o, &v),
                     HARNESS_INCONCLUSIVE);
    add_req(&o, o.t0, o.t0 + MS, 200, 0, "blue");
    assert_int_equal(run("{\"check\": \"upstream_count\", \"env\": \"blue\", \"health\": true, "
                         "\"exact\": 30}",
                         &o, &v),
                     HARNESS_PASS); /* the fleet's count is what the mocks saw */
    o.n_replicas = 1;
    assert_int_equal(run(hi, &o, &v), HARNESS_FAIL); /* one relay probing that fast */
    assert_int_equal(
        run("{\"check\": \"probe_load\", \"max_per_interval\": 3, \"interval_ms\": 100}", &o, &v),
        HARNESS_INCONCLUSIVE);
    harness_obs_free(&o);
}

static void test_check_per_replica(void **state)
{
    struct harness_obs o;
    struct report_check v;
    fleet_obs(&o, 3);
    for (int i = 0; i < 30; i++) {
        add_req(&o, o.t0 + (uint64_t)i * MS, o.t0 + (uint64_t)i * MS + MS, i % 3 == 2 ? 503 : 200,
                i % 3, "blue");
        /* Each answer an upstream's: a 200 no mock journalled is made up. */
        add_att(&o, o.reqs[o.n_reqs - 1].id, o.t0 + (uint64_t)i * MS, i % 3 == 2 ? 503 : 200);
    }
    harness_obs_sort(&o);
    assert_int_equal(run("{\"check\": \"client_success_ratio\", \"min\": 0.99}", &o, &v),
                     HARNESS_FAIL);
    assert_int_equal(
        run("{\"check\": \"client_success_ratio\", \"min\": 0.99, \"replica\": 0}", &o, &v),
        HARNESS_PASS);
    assert_int_equal(
        run("{\"check\": \"client_success_ratio\", \"min\": 0.99, \"replica\": 2}", &o, &v),
        HARNESS_FAIL);
    assert_int_equal(
        run("{\"check\": \"client_count\", \"status\": 503, \"exact\": 10, \"replica\": 2}", &o,
            &v),
        HARNESS_PASS);
    /* Asked of one replica, a check keeps its severity. */
    assert_int_equal(run("{\"check\": \"client_success_ratio\", \"min\": 0.99, \"replica\": 2, "
                         "\"severity\": \"advisory\"}",
                         &o, &v),
                     HARNESS_FAIL);
    assert_int_equal(v.severity, REPORT_ADVISORY);
    /* A replica the run did not have. */
    assert_int_equal(
        run("{\"check\": \"client_success_ratio\", \"min\": 0.99, \"replica\": 5}", &o, &v),
        HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "no replica 5"));
    harness_obs_free(&o);

    /* Replica 0 finds blue unhealthy and sends to green; replica 1 has not
     * and still sends to blue.  Fleet-wide that mix is no verdict; asked of
     * replica 0 it passes. */
    fleet_obs(&o, 2);
    add_ev(&o, o.t0 + 100 * MS, "health", "", 0);
    snprintf(o.evs[0].env, sizeof o.evs[0].env, "blue");
    o.evs[0].healthy = 0;
    for (int i = 0; i < 10; i++) {
        uint64_t t = o.t0 + 200 * MS + (uint64_t)i * 10 * MS;
        add_req(&o, t, t + 2 * MS, 200, i % 2, i % 2 ? "blue" : "green");
        struct harness_att *a = add_att(&o, o.reqs[i].id, t + MS, 200);
        snprintf(a->env, sizeof a->env, "%s", i % 2 ? "blue" : "green");
    }
    harness_obs_sort(&o);
    const char *nt = "{\"check\": \"no_traffic_after_unhealthy\", \"env\": \"blue\"}";
    assert_int_equal(run(nt, &o, &v), HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "each of the 2 replicas finds a colour unhealthy"));
    assert_int_equal(
        run("{\"check\": \"no_traffic_after_unhealthy\", \"env\": \"blue\", \"replica\": 0}", &o,
            &v),
        HARNESS_PASS);
    harness_obs_free(&o);

    /* Without ids a replica's traffic attempts cannot be found: every
     * request reached blue, yet a check counting them on one replica is
     * inconclusive, never a failure ("min") nor a pass ("max"). */
    fleet_obs(&o, 2);
    for (int i = 0; i < 10; i++) {
        uint64_t t = o.t0 + (uint64_t)i * 10 * MS;
        add_req(&o, t, t + 2 * MS, 200, i % 2, "blue");
        add_att(&o, "", t + MS, 200);
    }
    o.signals &= ~(unsigned)HARNESS_SIG_IDS;
    harness_obs_sort(&o);
    assert_int_equal(
        run("{\"check\": \"upstream_count\", \"env\": \"blue\", \"exact\": 10}", &o, &v),
        HARNESS_PASS);
    assert_int_equal(run("{\"check\": \"upstream_count\", \"env\": \"blue\", \"min\": 1, "
                         "\"replica\": 1}",
                         &o, &v),
                     HARNESS_INCONCLUSIVE);
    assert_non_null(strstr(v.detail, "tied to replica 1's requests"));
    assert_int_equal(run("{\"check\": \"upstream_count\", \"env\": \"blue\", \"max\": 3, "
                         "\"replica\": 1}",
                         &o, &v),
                     HARNESS_INCONCLUSIVE);
    assert_int_equal(
        run("{\"check\": \"no_hammering\", \"max\": 100, \"window_ms\": 1000, \"replica\": 0}", &o,
            &v),
        HARNESS_INCONCLUSIVE);
    /* With ids the same counts are judged. */
    for (size_t i = 0; i < o.n_atts; i++)
        snprintf(o.atts[i].req_id, sizeof o.atts[i].req_id, "%s", o.reqs[i].id);
    o.signals |= HARNESS_SIG_IDS;
    harness_obs_sort(&o);
    assert_int_equal(run("{\"check\": \"upstream_count\", \"env\": \"blue\", \"exact\": 5, "
                         "\"replica\": 1}",
                         &o, &v),
                     HARNESS_PASS);
    harness_obs_free(&o);
}

static void test_obs_replica_view(void **state)
{
    struct harness_obs o, r1;
    fleet_obs(&o, 2);
    add_req(&o, o.t0, o.t0 + MS, 200, 0, "blue");
    add_req(&o, o.t0 + MS, o.t0 + 2 * MS, 200, 1, "blue");
    add_ev(&o, o.t0, "start", "blue", 0);
    add_ev(&o, o.t0, "start", "blue", 1);
    add_ev(&o, o.t0 + 5, "switch", "green", 1);
    o.atts = co_calloc(3, sizeof *o.atts);
    o.n_atts = 3;
    snprintf(o.atts[0].req_id, sizeof o.atts[0].req_id, "q0");
    snprintf(o.atts[1].req_id, sizeof o.atts[1].req_id, "q1");
    o.atts[2].health = 1;
    harness_obs_sort(&o);
    harness_fleet_obs_replica(&o, 1, &r1);
    assert_int_equal(r1.n_reqs, 1);
    assert_string_equal(r1.reqs[0].id, "q1");
    assert_int_equal(r1.n_evs, 2);
    assert_int_equal(r1.n_atts, 2); /* its attempt and the probe */
    size_t n;
    assert_non_null(harness_obs_attempts(&r1, "q1", &n));
    assert_int_equal(n, 1);
    assert_null(harness_obs_attempts(&r1, "q0", &n));
    harness_obs_free(&r1);
    harness_obs_free(&o);
}

static void test_traffic_spread(void **state)
{
    struct harness_traffic t;
    memset(&t, 0, sizeof t);
    const char urls[3][96] = {"http://a", "http://b", "http://c"};
    harness_traffic_set_replicas(&t, urls, 3, HARNESS_SPREAD_ROUND_ROBIN, 1);
    assert_int_equal(t.n_replicas, 3);
    assert_string_equal(t.replica_url[2], "http://c");
    /* The random spread is the seed's: two traffics with one seed agree. */
    struct harness_traffic u;
    memset(&u, 0, sizeof u);
    harness_traffic_set_replicas(&t, urls, 3, HARNESS_SPREAD_RANDOM, 7);
    harness_traffic_set_replicas(&u, urls, 3, HARNESS_SPREAD_RANDOM, 7);
    int seen[3] = {0};
    for (int i = 0; i < 300; i++) {
        uint64_t a = co_rng_range(&t.spread_rng, 0, 2), b = co_rng_range(&u.spread_rng, 0, 2);
        assert_int_equal(a, b);
        seen[a]++;
    }
    for (int i = 0; i < 3; i++)
        assert_true(seen[i] > 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fleet_parsed),
        cmocka_unit_test(test_fleet_errors),
        cmocka_unit_test(test_profile_shared),
        cmocka_unit_test(test_fleet_rate_limit_check),
        cmocka_unit_test(test_colour_agreement_check),
        cmocka_unit_test(test_probe_load_check),
        cmocka_unit_test(test_check_per_replica),
        cmocka_unit_test(test_obs_replica_view),
        cmocka_unit_test(test_traffic_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
