/* A fleet of cutover-relay replicas sharing state through a real Redis
 * (redis-server on a free loopback port, started and stopped by PID here):
 *   - the rate limit is one window across the replicas (and, as the control,
 *     three replicas without --shared admit three times the limit: the bug
 *     --shared exists to fix);
 *   - an admin switch, or a failure-driven one, on one replica reaches the
 *     others within a bound, and concurrent switch decisions end on one
 *     colour;
 *   - Redis stopped mid-run: shared_fail=open keeps serving on the local
 *     limiter, shared_fail=closed answers 503 in OpenAI's envelope, and both
 *     use Redis again once it is back; a paused Redis costs a request at most
 *     shared_timeout_ms.
 * Without redis-server installed every test is skipped (cmocka counts it as
 * skipped, not passed).  Upper time bounds scale with
 * CUTOVER_TEST_TIMEOUT_MULTIPLIER (default 1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "co_clock.h"
#include "harness/runner.h"
#include "tests/support/tsupport.h"

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NREP         3
#define TOKEN        "fleet-admin-token-0123"
#define LIMIT        20
#define CHAT         "{\"model\":\"gpt-4.1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
#define SLEEP_MS(ms) co_sleep_us((uint64_t)(ms)*1000)

struct fleet {
    struct tproc redis, blue, green, relay[NREP];
    int redis_port;
    char redis_bin[512];
    char shared[64];
    char events[NREP][128];
    int nrelay;
    int redis_up, mocks_up;
};

static struct fleet F;

static double mult(void)
{
    const char *v = getenv("CUTOVER_TEST_TIMEOUT_MULTIPLIER");
    double m = v ? atof(v) : 1.0;
    return m >= 1.0 ? m : 1.0;
}

/* redis-server on PATH, or 0. */
static int find_redis(char *out, size_t n)
{
    const char *path = getenv("PATH");
    char *dup = strdup(path ? path : "/usr/bin:/bin"), *save = NULL;
    int found = 0;
    for (char *d = strtok_r(dup, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, n, "%s/redis-server", d);
        found = access(out, X_OK) == 0;
    }
    free(dup);
    if (!found)
        out[0] = 0;
    return found;
}

static int redis_start(void)
{
    char port[16];
    snprintf(port, sizeof port, "%d", F.redis_port);
    char *argv[] = {F.redis_bin, "--port",       port, "--bind",      "127.0.0.1", "--save",
                    "",          "--appendonly", "no", "--daemonize", "no",        NULL};
    if (tproc_spawn(&F.redis, argv) != 0)
        return -1;
    if (tproc_wait_output(&F.redis, 1, "Ready to accept connections", 10000) != 0) {
        tproc_stop(&F.redis, SIGKILL, 1000);
        return -1;
    }
    F.redis_up = 1;
    return 0;
}

static void redis_stop(void)
{
    if (F.redis_up)
        tproc_stop(&F.redis, SIGTERM, 3000);
    F.redis_up = 0;
}

static int start_relay(int i, const char *const *extra)
{
    char blue[300], green[300];
    snprintf(blue, sizeof blue, "%s/v1", F.blue.url);
    snprintf(green, sizeof green, "%s/v1", F.green.url);
    snprintf(F.events[i], sizeof F.events[i], "/tmp/relay-fleet-%d-%d.events", (int)getpid(), i);
    unlink(F.events[i]);
    const char *args[32];
    size_t n = 0;
    const char *fixed[] = {"--admin-token",
                           TOKEN,
                           "--health-interval-ms",
                           "0",
                           "--rate-limit-requests",
                           "20",
                           "--rate-limit-window-ms",
                           "10000",
                           "--events",
                           F.events[i],
                           "--max-attempts",
                           "1",
                           NULL};
    for (size_t k = 0; fixed[k]; k++)
        args[n++] = fixed[k];
    for (size_t k = 0; extra && extra[k]; k++)
        args[n++] = extra[k];
    args[n] = NULL;
    if (trelay_start(&F.relay[i], blue, green, args) != 0)
        return -1;
    F.nrelay = i + 1;
    return 0;
}

/* Stops every replica; a sanitizer report in one's stderr (SAN=1) fails. */
static void stop_relays(void)
{
    int bad = 0;
    for (int i = 0; i < F.nrelay; i++) {
        struct tproc *p = &F.relay[i];
        if (!p->reaped)
            kill(-p->pid, SIGTERM);
        tproc_wait_exit(p, 5000);
        char *err = tproc_read(p, 2);
        if (err && (strstr(err, "AddressSanitizer") || strstr(err, "LeakSanitizer") ||
                    strstr(err, "runtime error:"))) {
            fprintf(stderr, "replica %d stderr:\n%s\n", i, err);
            bad = 1;
        }
        free(err);
        tproc_stop(p, SIGKILL, 1000);
        unlink(F.events[i]);
    }
    F.nrelay = 0;
    if (bad)
        fail_msg("a replica reported a sanitizer error");
}

/* Redis and the mocks per test, so no state leaks from one test to the next. */
static int setup(void **state)
{
    memset(&F, 0, sizeof F);
    if (!find_redis(F.redis_bin, sizeof F.redis_bin))
        return 0; /* the tests skip */
    F.redis_port = harness_free_port();
    snprintf(F.shared, sizeof F.shared, "redis://127.0.0.1:%d", F.redis_port);
    if (F.redis_port <= 0 || redis_start() != 0)
        return -1;
    if (tmock_start(&F.blue, "blue", NULL) != 0 || tmock_start(&F.green, "green", NULL) != 0)
        return -1;
    F.mocks_up = 1;
    return 0;
}

static int teardown(void **state)
{
    stop_relays();
    if (F.mocks_up) {
        tproc_stop(&F.blue, SIGTERM, 3000);
        tproc_stop(&F.green, SIGTERM, 3000);
    }
    redis_stop();
    return 0;
}

#define NEED_REDIS()                                                                               \
    do {                                                                                           \
        if (!F.redis_bin[0]) {                                                                     \
            printf("SKIP redis-server not installed: the fleet test did not run\n");               \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static int start_fleet(const char *fail)
{
    const char *extra[] = {"--shared", F.shared, "--shared-fail", fail, NULL};
    for (int i = 0; i < NREP; i++)
        if (start_relay(i, extra) != 0)
            return -1;
    return 0;
}

static long chat(int i, struct thttp_resp *r)
{
    char u[300];
    snprintf(u, sizeof u, "%s/v1/chat/completions", F.relay[i].url);
    thttp_request("POST", u, CHAT, NULL, 10000, r);
    return r->status;
}

static long chat_status(int i)
{
    struct thttp_resp r;
    long s = chat(i, &r);
    thttp_resp_free(&r);
    return s;
}

static json_t *get_json(int i, const char *path)
{
    char u[300];
    snprintf(u, sizeof u, "%s%s", F.relay[i].url, path);
    struct thttp_resp r;
    thttp_request("GET", u, NULL, NULL, 5000, &r);
    json_t *j = r.status == 200 || r.status == 503 ? json_loads(r.body, 0, NULL) : NULL;
    thttp_resp_free(&r);
    return j;
}

static char active_of(int i)
{
    json_t *j = get_json(i, "/health");
    const char *a = json_string_value(json_object_get(j, "active_env"));
    char c = a ? a[0] : '?';
    json_decref(j);
    return c;
}

static json_int_t shared_field(int i, const char *a, const char *b)
{
    json_t *j = get_json(i, "/api/metrics");
    json_t *s = json_object_get(json_object_get(j, "shared"), a);
    json_int_t v = b                    ? json_integer_value(json_object_get(s, b))
                   : json_is_boolean(s) ? json_is_true(s)
                                        : json_integer_value(s);
    json_decref(j);
    return v;
}

/* Waits until every replica reports "up" to Redis (the colour is synced). */
static int wait_up(int timeout_ms)
{
    uint64_t end = co_now_us() + (uint64_t)timeout_ms * 1000;
    while (co_now_us() < end) {
        int all = 1;
        for (int i = 0; i < F.nrelay; i++)
            all &= shared_field(i, "up", NULL) == 1;
        if (all)
            return 0;
        SLEEP_MS(10);
    }
    return -1;
}

static int count_events(int i, const char *type, const char *field, const char *value)
{
    char *s = tsup_read_file(F.events[i], NULL);
    int n = 0;
    for (char *line = s ? strtok(s, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, NULL);
        const char *t = json_string_value(json_object_get(j, "type"));
        const char *v = field ? json_string_value(json_object_get(j, field)) : NULL;
        if (t && strcmp(t, type) == 0 && (!field || (v && strcmp(v, value) == 0)))
            n++;
        json_decref(j);
    }
    free(s);
    return n;
}

/* 3 × LIMIT requests spread round robin over the replicas, one client, well
 * inside one window: the fleet admits exactly LIMIT, and every refusal
 * carries the local limiter's headers. */
static void test_rate_limit_across_replicas(void **state)
{
    NEED_REDIS();
    assert_int_equal(start_fleet("closed"), 0);
    assert_int_equal(wait_up(5000), 0);
    int admitted = 0, refused = 0, per[NREP] = {0};
    for (int k = 0; k < 3 * LIMIT; k++) {
        struct thttp_resp r;
        long s = chat(k % NREP, &r);
        if (s == 200) {
            admitted++;
            per[k % NREP]++;
        } else {
            assert_int_equal(s, 429);
            refused++;
            char h[64];
            assert_non_null(thttp_header(&r, "x-ratelimit-limit", h, sizeof h));
            assert_string_equal(h, "20");
            assert_non_null(thttp_header(&r, "x-ratelimit-remaining", h, sizeof h));
            assert_string_equal(h, "0");
            assert_non_null(thttp_header(&r, "Retry-After", h, sizeof h));
            assert_true(atoi(h) >= 1 && atoi(h) <= 10);
            char why[200];
            assert_int_equal(tsup_openai_error(r.body, "rate_limit_exceeded", why, sizeof why), 0);
        }
        thttp_resp_free(&r);
    }
    assert_int_equal(admitted, LIMIT);
    assert_int_equal(refused, 2 * LIMIT);
    /* Round robin: every replica admitted some (one window, not one replica). */
    for (int i = 0; i < NREP; i++)
        assert_true(per[i] > 0);
    json_int_t shared = 0;
    for (int i = 0; i < NREP; i++) {
        shared += shared_field(i, "rate_limit", "shared");
        assert_int_equal(shared_field(i, "rate_limit", "local"), 0);
    }
    assert_int_equal(shared, 3 * LIMIT);
}

/* The window slides across the fleet as it does in one relay: limit 3 per
 * second, three admitted on three replicas, the fourth refused with a
 * retry-after-ms that is honest: not admitted a little before it, admitted
 * once it has passed (on yet another replica). */
static void test_window_slides_across_replicas(void **state)
{
    NEED_REDIS();
    const char *extra[] = {
        "--shared", F.shared, "--rate-limit-requests", "3", "--rate-limit-window-ms", "1000", NULL};
    for (int i = 0; i < NREP; i++)
        assert_int_equal(start_relay(i, extra), 0);
    assert_int_equal(wait_up(5000), 0);
    uint64_t t0 = co_now_us();
    for (int i = 0; i < NREP; i++)
        assert_int_equal(chat_status(i), 200);
    struct thttp_resp r;
    uint64_t t_sent = co_now_us();
    assert_int_equal(chat(0, &r), 429);
    char h[64];
    assert_non_null(thttp_header(&r, "retry-after-ms", h, sizeof h));
    long wait_ms = atol(h);
    assert_non_null(thttp_header(&r, "x-ratelimit-limit", h, sizeof h));
    assert_string_equal(h, "3");
    thttp_resp_free(&r);
    uint64_t spent_ms = (co_now_us() - t0) / 1000;
    assert_true(wait_ms > 0 && wait_ms <= 1000);
    assert_true(wait_ms + (long)spent_ms >= 900); /* the oldest leaves about 1 s after t0 */
    /* The window frees a slot no sooner than t_sent + wait_ms - 1 ms (the
     * refusal was decided after t_sent, and rounded up to the ms): a
     * request answered before that instant was decided before it. */
    uint64_t edge = t_sent + (uint64_t)(wait_ms - 1) * 1000;
    if (wait_ms > 60) {
        SLEEP_MS(wait_ms - 50);
        long st = chat_status(1);
        if (co_now_us() < edge)
            assert_int_equal(st, 429);
        SLEEP_MS(100);
    } else {
        SLEEP_MS(wait_ms + 50);
    }
    assert_int_equal(chat_status(2), 200);
}

/* The control: the same traffic over replicas without --shared admits the
 * limit once per replica. */
static void test_without_shared_each_replica_admits_the_limit(void **state)
{
    NEED_REDIS();
    for (int i = 0; i < NREP; i++)
        assert_int_equal(start_relay(i, NULL), 0);
    int admitted = 0;
    for (int k = 0; k < 3 * LIMIT; k++)
        admitted += chat_status(k % NREP) == 200;
    assert_int_equal(admitted, NREP * LIMIT);
}

static int post_admin(int i, const char *path, const char *body)
{
    char u[300];
    snprintf(u, sizeof u, "%s%s", F.relay[i].url, path);
    const char *h[] = {"Authorization: Bearer " TOKEN, NULL};
    struct thttp_resp r;
    thttp_request("POST", u, body, h, 5000, &r);
    int s = (int)r.status;
    thttp_resp_free(&r);
    return s;
}

/* Milliseconds until every replica serves colour c, or -1 after bound_ms. */
static long wait_colour(char c, long bound_ms)
{
    uint64_t t0 = co_now_us(), end = t0 + (uint64_t)bound_ms * 1000;
    while (co_now_us() < end) {
        int all = 1;
        for (int i = 0; i < F.nrelay; i++)
            all &= active_of(i) == c;
        if (all)
            return (long)((co_now_us() - t0) / 1000);
        SLEEP_MS(2);
    }
    return -1;
}

/* An admin switch on replica 0 is served by every replica within the bound
 * (pub/sub: about a round trip; the bound is two poll periods, what the
 * polling fallback alone would need). */
static void test_admin_switch_propagates(void **state)
{
    NEED_REDIS();
    assert_int_equal(start_fleet("open"), 0);
    assert_int_equal(wait_up(5000), 0);
    for (int i = 0; i < NREP; i++)
        assert_int_equal(active_of(i), 'b');
    assert_int_equal(post_admin(0, "/admin/switch", "{\"to\":\"green\"}"), 200);
    long lag = wait_colour('g', (long)(2000 * mult()));
    assert_true(lag >= 0);
    fprintf(stderr, "admin switch seen by the whole fleet after %ld ms\n", lag);
    for (int i = 0; i < NREP; i++)
        assert_int_equal(shared_field(i, "epoch", NULL), 1);
    assert_int_equal(count_events(0, "shared_switch", "outcome", "won"), 1);
    for (int i = 1; i < NREP; i++) {
        assert_int_equal(count_events(i, "shared_switch", "outcome", "adopted"), 1);
        assert_int_equal(count_events(i, "switch", "reason", "shared"), 1);
    }
    /* And a rollback on another replica comes back the same way. */
    assert_int_equal(post_admin(2, "/admin/rollback", ""), 200);
    assert_true(wait_colour('b', (long)(2000 * mult())) >= 0);
    for (int i = 0; i < NREP; i++)
        assert_int_equal(shared_field(i, "epoch", NULL), 2);
    /* Traffic follows: a request on replica 1 is served by blue. */
    struct thttp_resp r;
    assert_int_equal(chat(1, &r), 200);
    char env[32];
    assert_non_null(thttp_header(&r, "X-Served-By", env, sizeof env));
    assert_string_equal(env, "blue");
    thttp_resp_free(&r);
}

/* A failure-driven switch: blue answers 503, one request through replica 0
 * switches it to green (switch_after_failures 1), and the other replicas,
 * which saw no failure, serve green within the bound. */
static void test_failure_switch_propagates(void **state)
{
    NEED_REDIS();
    assert_int_equal(start_fleet("open"), 0);
    assert_int_equal(wait_up(5000), 0);
    assert_int_equal(
        tmock_put_behavior(F.blue.url,
                           "{\"rules\":[{\"action\":{\"type\":\"status\",\"code\":503}}]}"),
        0);
    assert_int_equal(chat_status(0), 503);
    long lag = wait_colour('g', (long)(2000 * mult()));
    assert_true(lag >= 0);
    assert_int_equal(count_events(0, "switch", "reason", "upstream_503"), 1);
    for (int i = 1; i < NREP; i++)
        assert_int_equal(count_events(i, "shared_switch", "outcome", "adopted"), 1);
    /* The others never tried blue: their next request goes to green. */
    struct thttp_resp r;
    assert_int_equal(chat(2, &r), 200);
    char env[32];
    assert_non_null(thttp_header(&r, "X-Served-By", env, sizeof env));
    assert_string_equal(env, "green");
    thttp_resp_free(&r);
}

/* A health-driven switch that every replica decides for itself, at about
 * the same moment: blue's /health fails, each replica's checker sees it,
 * and the fleet moves to green in one epoch (one proposal won; the others
 * lost, or were not needed because the winner's message came first). */
static void test_health_switch_resolves_to_one_epoch(void **state)
{
    NEED_REDIS();
    const char *extra[] = {"--shared", F.shared, "--health-interval-ms", "100", NULL};
    for (int i = 0; i < NREP; i++)
        assert_int_equal(start_relay(i, extra), 0);
    assert_int_equal(wait_up(5000), 0);
    assert_int_equal(tmock_put_behavior(F.blue.url, "{\"health\":{\"rules\":[{\"action\":{\"type\":"
                                                    "\"status\",\"code\":503}}]}}"),
                     0);
    assert_true(wait_colour('g', (long)(3000 * mult())) >= 0);
    SLEEP_MS(300); /* every replica's checker has run again since */
    int won = 0, health_switches = 0;
    for (int i = 0; i < NREP; i++) {
        assert_int_equal(shared_field(i, "epoch", NULL), 1);
        won += count_events(i, "shared_switch", "outcome", "won");
        health_switches += count_events(i, "switch", "reason", "health");
    }
    assert_int_equal(won, 1);
    assert_true(health_switches >= 1);
    fprintf(stderr, "health: %d replica(s) switched on their own check, 1 proposal won\n",
            health_switches);
    for (int i = 0; i < NREP; i++)
        assert_int_equal(active_of(i), 'g');
}

/* primary-fallback in a fleet: the fail-back to the primary is proposed
 * to the fleet like any switch.  Before, it was local only: the next colour
 * poll read the fleet's fallback colour, adopted it, and the fleet stayed
 * on the fallback with a healthy primary. */
static void test_failback_reaches_the_fleet(void **state)
{
    NEED_REDIS();
    const char *extra[] = {"--shared",
                           F.shared,
                           "--health-interval-ms",
                           "100",
                           "--mode",
                           "primary-fallback",
                           "--primary",
                           "blue",
                           "--failback-after-ms",
                           "300",
                           "--failback-rise",
                           "2",
                           "--shared-poll-ms",
                           "100",
                           NULL};
    for (int i = 0; i < NREP; i++)
        assert_int_equal(start_relay(i, extra), 0);
    assert_int_equal(wait_up(5000), 0);
    assert_int_equal(tmock_put_behavior(F.blue.url, "{\"health\":{\"rules\":[{\"action\":{\"type\":"
                                                    "\"status\",\"code\":503}}]}}"),
                     0);
    assert_true(wait_colour('g', (long)(3000 * mult())) >= 0);
    assert_int_equal(tmock_put_behavior(F.blue.url, "{\"health\":{\"rules\":[]}}"), 0);
    assert_true(wait_colour('b', (long)(3000 * mult())) >= 0);
    /* Several polls later the fleet is still on the primary. */
    SLEEP_MS(600);
    int failbacks = 0;
    for (int i = 0; i < NREP; i++) {
        assert_int_equal(active_of(i), 'b');
        failbacks += count_events(i, "switch", "reason", "failback");
    }
    assert_true(failbacks >= 1);
    assert_int_equal(shared_field(0, "epoch", NULL), 2);
}

struct sw_arg {
    int replica;
    const char *body;
    int status;
};

static void *switch_thread(void *p)
{
    struct sw_arg *a = p;
    a->status = post_admin(a->replica, "/admin/switch", a->body);
    return NULL;
}

/* Two replicas decide the same switch while Redis is paused, so both
 * proposals carry the same epoch: when Redis resumes, the compare-and-set
 * lets exactly one win, the other loses and keeps the winner's colour.  Then
 * rounds of opposite switches sent at once: the fleet always ends on one
 * colour and one epoch. */
static void test_concurrent_switches_resolve_to_one(void **state)
{
    NEED_REDIS();
    const char *extra[] = {"--shared", F.shared, "--shared-timeout-ms", "3000", NULL};
    for (int i = 0; i < NREP; i++)
        assert_int_equal(start_relay(i, extra), 0);
    assert_int_equal(wait_up(5000), 0);
    kill(F.redis.pid, SIGSTOP);
    assert_int_equal(post_admin(0, "/admin/switch", "{\"to\":\"green\"}"), 200);
    assert_int_equal(post_admin(1, "/admin/switch", "{\"to\":\"green\"}"), 200);
    SLEEP_MS(50);
    kill(F.redis.pid, SIGCONT);
    assert_true(wait_colour('g', (long)(2000 * mult())) >= 0);
    SLEEP_MS(50);
    assert_int_equal(count_events(0, "shared_switch", "outcome", "won") +
                         count_events(1, "shared_switch", "outcome", "won"),
                     1);
    assert_int_equal(count_events(0, "shared_switch", "outcome", "lost") +
                         count_events(1, "shared_switch", "outcome", "lost"),
                     1);
    for (int i = 0; i < NREP; i++)
        assert_int_equal(shared_field(i, "epoch", NULL), 1);
    int rounds = 5;
    for (int k = 0; k < rounds; k++) {
        struct sw_arg a = {0, "{\"to\":\"green\"}", 0}, b = {1, "{\"to\":\"blue\"}", 0};
        if (k % 2)
            a.body = "{\"to\":\"blue\"}", b.body = "{\"to\":\"green\"}";
        pthread_t ta, tb;
        assert_int_equal(pthread_create(&ta, NULL, switch_thread, &a), 0);
        assert_int_equal(pthread_create(&tb, NULL, switch_thread, &b), 0);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        assert_int_equal(a.status, 200);
        assert_int_equal(b.status, 200);
        /* Converged: one colour, one epoch everywhere. */
        uint64_t end = co_now_us() + (uint64_t)(2000 * mult()) * 1000;
        int agreed = 0;
        while (!agreed && co_now_us() < end) {
            char c0 = active_of(0);
            json_int_t e0 = shared_field(0, "epoch", NULL);
            agreed = c0 == 'b' || c0 == 'g';
            for (int i = 1; i < NREP; i++)
                agreed &= active_of(i) == c0 && shared_field(i, "epoch", NULL) == e0;
            if (!agreed)
                SLEEP_MS(5);
        }
        assert_true(agreed);
    }
    /* Every proposal either won or lost, and each won one made one epoch. */
    int won = 0, lost = 0;
    for (int i = 0; i < 2; i++) {
        won += count_events(i, "shared_switch", "outcome", "won");
        lost += count_events(i, "shared_switch", "outcome", "lost");
    }
    json_int_t epoch = shared_field(2, "epoch", NULL);
    assert_int_equal(won, (int)epoch);
    assert_true(won >= 1 + rounds);
    fprintf(stderr, "%d rounds: %d proposals won, %d lost, epoch %lld\n", rounds, won, lost,
            (long long)epoch);
}

/* Redis stopped under shared_fail=open: requests are still served (the local
 * limiter decides, counted in metrics, a "shared" down event), and once Redis
 * is back the replicas use it again. */
static void test_redis_down_open(void **state)
{
    NEED_REDIS();
    assert_int_equal(start_fleet("open"), 0);
    assert_int_equal(wait_up(5000), 0);
    for (int i = 0; i < NREP; i++)
        assert_int_equal(chat_status(i), 200);
    redis_stop();
    for (int k = 0; k < 2 * NREP; k++) {
        struct thttp_resp r;
        assert_int_equal(chat(k % NREP, &r), 200);
        assert_true(r.total_s < 2.0 * mult());
        thttp_resp_free(&r);
    }
    for (int i = 0; i < NREP; i++) {
        assert_int_equal(shared_field(i, "up", NULL), 0);
        assert_true(shared_field(i, "rate_limit", "local") >= 2);
        assert_int_equal(count_events(i, "shared", "state", "down"), 1);
    }
    /* The local limiter still limits: 20 per replica per window. */
    int admitted = 0;
    for (int k = 0; k < LIMIT; k++)
        admitted += chat_status(0) == 200;
    assert_int_equal(admitted, LIMIT - 2);
    /* Back: reconnect (backoff capped at 2 s). */
    assert_int_equal(redis_start(), 0);
    assert_int_equal(wait_up((int)(5000 * mult())), 0);
    json_int_t before = shared_field(1, "rate_limit", "shared");
    assert_int_equal(chat_status(1), 200);
    assert_int_equal(shared_field(1, "rate_limit", "shared"), before + 1);
    assert_int_equal(count_events(1, "shared", "state", "up"), 2);
}

/* Redis stopped under shared_fail=closed: requests needing the limiter get a
 * 503 in OpenAI's envelope at once; /health does not need it. */
static void test_redis_down_closed(void **state)
{
    NEED_REDIS();
    assert_int_equal(start_fleet("closed"), 0);
    assert_int_equal(wait_up(5000), 0);
    assert_int_equal(chat_status(0), 200);
    redis_stop();
    for (int i = 0; i < NREP; i++) {
        struct thttp_resp r;
        assert_int_equal(chat(i, &r), 503);
        char why[200];
        assert_int_equal(tsup_openai_error(r.body, "shared_store_unavailable", why, sizeof why), 0);
        thttp_resp_free(&r);
        json_t *h = get_json(i, "/health");
        assert_non_null(h);
        json_decref(h);
        assert_true(shared_field(i, "rate_limit", "refused") >= 1);
    }
    assert_int_equal(redis_start(), 0);
    assert_int_equal(wait_up((int)(5000 * mult())), 0);
    for (int i = 0; i < NREP; i++)
        assert_int_equal(chat_status(i), 200);
}

/* A paused Redis (SIGSTOP: the socket accepts, nothing answers) costs one
 * request the timeout, then the replica stops asking until Redis answers. */
static void test_redis_paused_costs_the_timeout(void **state)
{
    NEED_REDIS();
    const char *extra[] = {"--shared", F.shared, "--shared-fail", "open", "--shared-timeout-ms",
                           "150",      NULL};
    assert_int_equal(start_relay(0, extra), 0);
    assert_int_equal(wait_up(5000), 0);
    assert_int_equal(chat_status(0), 200);
    kill(F.redis.pid, SIGSTOP);
    struct thttp_resp r;
    assert_int_equal(chat(0, &r), 200);
    /* Waited for Redis: at least the timeout, not much more. */
    assert_true(r.total_s >= 0.150);
    assert_true(r.total_s < 0.150 + 1.0 * mult());
    thttp_resp_free(&r);
    assert_int_equal(chat(0, &r), 200);
    assert_true(r.total_s < 0.150);
    thttp_resp_free(&r);
    assert_int_equal(shared_field(0, "timeouts", NULL), 1);
    kill(F.redis.pid, SIGCONT);
    assert_int_equal(wait_up((int)(5000 * mult())), 0);
}

struct chat_arg {
    int replica;
    long status;
};

static void *chat_thread(void *p)
{
    struct chat_arg *a = p;
    a->status = chat_status(a->replica);
    return NULL;
}

/* SIGTERM while a request waits for its Redis verdict: the drain waits for
 * it (it counts as in flight), so it is answered, then the relay exits 0. */
static void test_drain_waits_for_a_pending_verdict(void **state)
{
    NEED_REDIS();
    const char *extra[] = {"--shared", F.shared, "--shared-timeout-ms", "400", NULL};
    assert_int_equal(start_relay(0, extra), 0);
    assert_int_equal(wait_up(5000), 0);
    kill(F.redis.pid, SIGSTOP);
    struct chat_arg a = {0, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, chat_thread, &a), 0);
    SLEEP_MS(100); /* the request now waits for Redis */
    kill(-F.relay[0].pid, SIGTERM);
    pthread_join(t, NULL);
    kill(F.redis.pid, SIGCONT);
    assert_int_equal(a.status, 200);
    int st = tproc_wait_exit(&F.relay[0], (int)(5000 * mult()));
    assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rate_limit_across_replicas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_slides_across_replicas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_without_shared_each_replica_admits_the_limit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_admin_switch_propagates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_switch_propagates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health_switch_resolves_to_one_epoch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failback_reaches_the_fleet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_switches_resolve_to_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_down_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_down_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_paused_costs_the_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain_waits_for_a_pending_verdict, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
