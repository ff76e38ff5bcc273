/* Hostile input against the relay and the mock (issue 20), through the real
 * binaries over loopback.  One table: each row is an attempt an attacker or
 * a careless operator makes, what a careful operator expects, and the
 * function that makes the attempt and checks the outcome.  Each row runs as
 * its own cmocka test (its name is the attempt), and after every row the
 * shared relay must still answer /health: one request must never take the
 * relay down.  docs/hardening.md ("Relay and mock") shows the same table.
 *
 * Rows that need settings of their own start their own relay; the shared one
 * uses only settings that predate issue 20, so that running this file with
 * CUTOVER_BIN pointing at an older build shows which rows held before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "co_clock.h"
#include "co_json.h"
#include "tests/support/traw.h"
#include "tests/support/tsupport.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEY   "sk-hostile-upstream-key-0123456789abcdef"
#define ADMIN "admin-hostile-token-42"
#define CHAT  "{\"model\":\"gpt-4.1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
#define STREAM                                                                                     \
    "{\"model\":\"gpt-4.1\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]" \
    "}"

static struct tproc blue, green, relay;
static char bu[300], gu[300];
static char tmpdir[64];

/* Timing upper bounds are multiplied by CUTOVER_TIME_MULT (default 2, 4
 * for a SAN build: sanitizers and a loaded machine are slower); lower
 * bounds are not. */
static double mult(void)
{
    const char *m = getenv("CUTOVER_TIME_MULT");
    const char *bin = getenv("CUTOVER_BIN");
    double v = m ? atof(m) : 0;
    return v >= 1 ? v : bin && strstr(bin, "san") ? 4 : 2;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(why, n, __VA_ARGS__);                                                             \
        rc = -1;                                                                                   \
        goto out;                                                                                  \
    } while (0)

struct row;
typedef int (*row_fn)(const struct row *w, char *why, size_t n);

struct row {
    const char *attempt;
    const char *expected;
    row_fn run;
    /* raw_status rows: bytes sent as they are, the status and error code
     * expected, and whether the relay must close the connection. */
    const char *raw;
    size_t raw_len; /* 0: strlen(raw) */
    int status;
    const char *code;
    int must_close;
};

/* ---- helpers ------------------------------------------------------------------ */

static void put_both(const char *behavior)
{
    tmock_put_behavior(blue.url, behavior);
    tmock_put_behavior(green.url, behavior);
}

static int start_relay(struct tproc *p, const char *const *extra)
{
    return trelay_start(p, bu, gu, extra);
}

/* Spawns the relay with argv (after the program name) and returns its exit
 * status when it exits within 5 s, or -1 (and stops it) when it keeps
 * running.  *err gets its stderr (caller frees). */
static int relay_exit(const char *const *args, char **err)
{
    const char *argv[40];
    size_t k = 0;
    argv[k++] = tsup_bin("cutover-relay");
    for (; args && *args && k < 39; args++)
        argv[k++] = *args;
    argv[k] = NULL;
    struct tproc p;
    if (tproc_spawn(&p, (char *const *)argv) != 0)
        return -1;
    int st = tproc_wait_exit(&p, 5000);
    *err = tproc_read(&p, 2);
    tproc_stop(&p, SIGKILL, 2000);
    return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int http_status(const char *raw)
{
    int st = 0;
    return sscanf(raw, "HTTP/1.%*d %d", &st) == 1 ? st : 0;
}

static const char *http_body(const char *raw)
{
    const char *b = strstr(raw, "\r\n\r\n");
    return b ? b + 4 : "";
}

static int check_envelope(const char *body, const char *code, char *why, size_t n)
{
    char w[300];
    if (tsup_openai_error(body, code, w, sizeof w) != 0) {
        snprintf(why, n, "%s (body: %.200s)", w, body);
        return -1;
    }
    return 0;
}

static long api_metric(const char *base, const char *name)
{
    char u[400];
    snprintf(u, sizeof u, "%s/api/metrics", base);
    struct thttp_resp r;
    long v = -1;
    if (thttp_request("GET", u, NULL, NULL, 5000, &r) == CURLE_OK && r.status == 200) {
        json_t *j = json_loads(r.body, 0, NULL);
        json_t *x = json_object_get(j, name);
        if (json_is_integer(x))
            v = (long)json_integer_value(x);
        json_decref(j);
    }
    thttp_resp_free(&r);
    return v;
}

static long chat_status(const char *base, const char *body, const char *const *hdrs)
{
    char u[400];
    const char *h[12];
    size_t k = 0;
    h[k++] = "Content-Type: application/json";
    for (; hdrs && *hdrs && k < 11; hdrs++)
        h[k++] = *hdrs;
    h[k] = NULL;
    snprintf(u, sizeof u, "%s/v1/chat/completions", base);
    struct thttp_resp r;
    thttp_request("POST", u, body, h, 10000, &r);
    long st = r.status;
    thttp_resp_free(&r);
    return st;
}

/* Stops a row's own relay (when it runs): it must exit 0 on SIGTERM, so a
 * crash, a sanitizer report or a leak found at exit fails the row. */
static void stop_relay(struct tproc *p, int *rc, char *why, size_t n)
{
    if (!p->pid)
        return;
    int st = tproc_stop(p, SIGTERM, 5000);
    p->pid = 0;
    if (*rc == 0 && (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
        snprintf(why, n, "the relay did not exit 0 on SIGTERM (wait status %d)", st);
        *rc = -1;
    }
}

/* ---- rows ---------------------------------------------------------------------- */

/* Sends w->raw to the shared relay; checks status, envelope and close. */
static int raw_status(const struct row *w, char *why, size_t n)
{
    char out[16384];
    int closed = 0;
    size_t len = w->raw_len ? w->raw_len : strlen(w->raw);
    traw_exchange(traw_port(relay.url), w->raw, len, out, sizeof out, 3000, &closed);
    int st = http_status(out);
    if (st != w->status) {
        snprintf(why, n, "status %d, expected %d (got: %.200s)", st, w->status, out);
        return -1;
    }
    if (w->code && check_envelope(http_body(out), w->code, why, n) != 0)
        return -1;
    if (w->must_close && !closed) {
        snprintf(why, n, "the connection stayed open after the %d", st);
        return -1;
    }
    return 0;
}

/* A request head trickled a byte at a time: the slot is released at the
 * read deadline, not held for as long as the client keeps trickling. */
static int trickle_head(const struct row *w, char *why, size_t n)
{
    struct tproc p = {0};
    int rc = 0, fd = -1;
    const char *args[] = {"--health-interval-ms", "0", "--request-read-timeout-ms", "1500", NULL};
    if (start_relay(&p, args) != 0)
        FAIL("the relay did not start with --request-read-timeout-ms");
    fd = traw_connect(traw_port(p.url));
    const char head[] = "GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaa";
    uint64_t t0 = co_clock_monotonic_us(), closed_at = 0;
    uint64_t limit_us = (uint64_t)((1.5 + 3 * mult()) * 1e6);
    for (size_t i = 0; co_clock_monotonic_us() - t0 < limit_us; i = (i + 1) % (sizeof head - 1)) {
        if (send(fd, head + i, 1, MSG_NOSIGNAL) < 0) {
            closed_at = co_clock_monotonic_us();
            break;
        }
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 400) > 0) {
            char c[256];
            if (recv(fd, c, sizeof c, 0) <= 0) {
                closed_at = co_clock_monotonic_us();
                break;
            }
        }
    }
    if (!closed_at)
        FAIL("a head trickled a byte per 400 ms held its connection for %.1f s",
             (double)limit_us / 1e6);
    double s = (double)(closed_at - t0) / 1e6;
    if (s < 1.4)
        FAIL("closed after %.2f s, before the 1.5 s deadline", s);
out:
    if (fd >= 0)
        close(fd);
    stop_relay(&p, &rc, why, n);
    return rc;
}

/* Without client keys the window belongs to the address: a fresh bearer or
 * a forged X-Forwarded-For per request does not open a fresh window. */
static int fresh_identity(const struct row *w, char *why, size_t n)
{
    struct tproc p = {0};
    int rc = 0;
    const char *args[] = {"--health-interval-ms", "0", "--rate-limit-requests", "3", NULL};
    if (start_relay(&p, args) != 0)
        FAIL("relay did not start");
    int limited = 0;
    for (int i = 0; i < 8; i++) {
        char auth[64], xff[64];
        snprintf(auth, sizeof auth, "Authorization: Bearer fresh-%d", i);
        snprintf(xff, sizeof xff, "X-Forwarded-For: 10.0.0.%d", i + 1);
        const char *h[] = {auth, xff, NULL};
        long st = chat_status(p.url, CHAT, h);
        if (st == 429)
            limited++;
        else if (st != 200)
            FAIL("request %d: status %ld", i, st);
    }
    if (limited != 5)
        FAIL("%d of 8 fresh identities limited, expected 5 (limit 3)", limited);
out:
    stop_relay(&p, &rc, why, n);
    return rc;
}

/* Behind a trusted proxy the client is the rightmost address it appended;
 * what a client writes to the left of it changes nothing. */
static int trusted_proxy(const struct row *w, char *why, size_t n)
{
    struct tproc p = {0};
    int rc = 0;
    const char *args[] = {"--health-interval-ms",
                          "0",
                          "--rate-limit-requests",
                          "2",
                          "--trusted-proxies",
                          "127.0.0.1",
                          NULL};
    if (start_relay(&p, args) != 0)
        FAIL("relay did not start with --trusted-proxies");
    const char *a1[] = {"X-Forwarded-For: 9.9.9.9, 10.0.0.1", NULL};
    const char *a2[] = {"X-Forwarded-For: 8.8.8.8, 10.0.0.1", NULL};
    const char *a3[] = {"X-Forwarded-For: 10.0.0.1", NULL};
    const char *b1[] = {"X-Forwarded-For: 10.0.0.2", NULL};
    long s1 = chat_status(p.url, CHAT, a1), s2 = chat_status(p.url, CHAT, a2);
    long s3 = chat_status(p.url, CHAT, a3), s4 = chat_status(p.url, CHAT, b1);
    if (s1 != 200 || s2 != 200 || s3 != 429 || s4 != 200)
        FAIL("statuses %ld %ld %ld %ld, expected 200 200 429 (same client 10.0.0.1) 200", s1, s2,
             s3, s4);
out:
    stop_relay(&p, &rc, why, n);
    return rc;
}

/* Malformed requests are refused without being counted or creating a
 * bucket; unknown client keys are refused before the limiter. */
static int malformed_uncounted(const struct row *w, char *why, size_t n)
{
    struct tproc p = {0};
    int rc = 0;
    const char *args[] = {"--health-interval-ms", "0", "--rate-limit-requests", "2", NULL};
    if (start_relay(&p, args) != 0)
        FAIL("relay did not start");
    for (int i = 0; i < 5; i++) {
        long st = chat_status(p.url, "{\"model\": 42", NULL);
        if (st != 400)
            FAIL("bad JSON %d: status %ld, expected 400", i, st);
    }
    long a = chat_status(p.url, CHAT, NULL), b = chat_status(p.url, CHAT, NULL);
    long c = chat_status(p.url, CHAT, NULL);
    if (a != 200 || b != 200 || c != 429)
        FAIL("after 5 malformed: %ld %ld %ld, expected 200 200 429", a, b, c);
out:
    stop_relay(&p, &rc, why, n);
    return rc;
}

static int unknown_keys_first(const struct row *w, char *why, size_t n)
{
    struct tproc p = {0};
    int rc = 0;
    const char *args[] = {
        "--health-interval-ms", "0", "--rate-limit-requests", "1", "--client-keys", "ck-one", NULL};
    if (start_relay(&p, args) != 0)
        FAIL("relay did not start");
    for (int i = 0; i < 5; i++) {
        char auth[64];
        snprintf(auth, sizeof auth, "Authorization: Bearer guess-%d", i);
        const char *h[] = {auth, NULL};
        long st = chat_status(p.url, CHAT, h);
        if (st != 401)
            FAIL("unknown key %d: status %ld, expected 401", i, st);
    }
    const char *ok[] = {"Authorization: Bearer ck-one", NULL};
    long st = chat_status(p.url, CHAT, ok);
    if (st != 200)
        FAIL("the known key after 5 unknown ones: %ld, expected 200", st);
out:
    stop_relay(&p, &rc, why, n);
    return rc;
}

/* Startup refusals: each argv must exit 2 naming the setting. */
static int exits_2(const char *const *args, const char *needle, char *why, size_t n)
{
    const char *full[40];
    size_t k = 0;
    full[k++] = "--port";
    full[k++] = "0";
    full[k++] = "--blue-url";
    full[k++] = bu;
    full[k++] = "--green-url";
    full[k++] = gu;
    for (; *args && k < 39; args++)
        full[k++] = *args;
    full[k] = NULL;
    char *err = NULL;
    int st = relay_exit(full, &err);
    int rc = 0;
    if (st != 2)
        FAIL("exit %d, expected 2 (stderr: %.200s)", st, err ? err : "");
    if (needle && (!err || !strstr(err, needle)))
        FAIL("stderr does not name '%s': %.200s", needle, err ? err : "");
out:
    free(err);
    return rc;
}

static int empty_client_keys(const struct row *w, char *why, size_t n)
{
    const char *a[] = {"--client-keys", ",,,", NULL};
    const char *b[] = {"--client-keys", "", NULL};
    const char *c[] = {"--client-keys", "k1,,k2", NULL};
    if (exits_2(a, "client_keys", why, n) || exits_2(b, "client_keys", why, n) ||
        exits_2(c, "client_keys", why, n))
        return -1;
    return 0;
}

static int bad_prices(const struct row *w, char *why, size_t n)
{
    static const char *const v[] = {"gpt-4.1=nan", "gpt-4.1=inf", "gpt-4.1=-1",
                                    "gpt-4.1=", "gpt-4.1=1e999"};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        const char *a[] = {"--prices", v[i], NULL};
        if (exits_2(a, "prices", why, n)) {
            char t[256];
            snprintf(t, sizeof t, "%s: %s", v[i], why);
            snprintf(why, n, "%s", t);
            return -1;
        }
    }
    return 0;
}

static int events_dev_full(const struct row *w, char *why, size_t n)
{
    const char *a[] = {"--events", "/dev/full", NULL};
    return exits_2(a, "/dev/full", why, n);
}

/* The LRU bound of the limiter's table, live: evictions are counted and
 * shown in both metrics views. */
static int lru_evictions(const struct row *w, char *why, size_t n)
{
    struct tproc p = {0};
    int rc = 0;
    const char *args[] = {"--health-interval-ms",
                          "0",
                          "--rate-limit-requests",
                          "5",
                          "--trusted-proxies",
                          "127.0.0.1",
                          "--rate-limit-max-keys",
                          "100",
                          NULL};
    if (start_relay(&p, args) != 0)
        FAIL("relay did not start with --rate-limit-max-keys");
    char u[400];
    snprintf(u, sizeof u, "%s/v1/models", p.url);
    for (int i = 0; i < 300; i++) {
        char xff[64];
        snprintf(xff, sizeof xff, "X-Forwarded-For: 10.1.%d.%d", i / 250, i % 250 + 1);
        const char *h[] = {xff, NULL};
        struct thttp_resp r;
        thttp_request("GET", u, NULL, h, 5000, &r);
        long st = r.status;
        thttp_resp_free(&r);
        if (st != 200)
            FAIL("client %d: status %ld", i, st);
    }
    long ev = api_metric(p.url, "rate_limit_evictions");
    if (ev != 200)
        FAIL("rate_limit_evictions %ld, expected 200 (300 clients, 100 keys)", ev);
    snprintf(u, sizeof u, "%s/metrics", p.url);
    struct thttp_resp r;
    thttp_request("GET", u, NULL, NULL, 5000, &r);
    int seen = r.body && strstr(r.body, "\nholysheep_rate_limit_evictions_total 200\n");
    thttp_resp_free(&r);
    if (!seen)
        FAIL("/metrics lacks holysheep_rate_limit_evictions_total 200");
out:
    stop_relay(&p, &rc, why, n);
    return rc;
}

/* Searches s for the key and for any 12-byte fragment of it. */
static const char *leak(const char *s)
{
    if (!s)
        return NULL;
    size_t kl = strlen(KEY);
    for (size_t i = 0; i + 12 <= kl; i++) {
        char frag[16];
        memcpy(frag, KEY + i, 12);
        frag[12] = 0;
        const char *hit = strstr(s, frag);
        if (hit)
            return hit;
    }
    return NULL;
}

/* The mock quotes the Authorization header it got in every field that can
 * come back: the key must reach the client in none of them, nor the logs
 * or events.  The streamed case cuts the key between two writes. */
static int key_scrubbed(const struct row *w, char *why, size_t n)
{
    struct tproc p = {0};
    int rc = 0;
    char keyfile[200], events[200];
    snprintf(keyfile, sizeof keyfile, "%s/key", tmpdir);
    snprintf(events, sizeof events, "%s/events-scrub.jsonl", tmpdir);
    FILE *f = fopen(keyfile, "w");
    fprintf(f, "%s\n", KEY);
    fclose(f);
    const char *args[] = {
        "--health-interval-ms", "0",     "--api-key-file", keyfile, "--events", events,
        "--log-level",          "debug", "--max-attempts", "1",     NULL};
    if (start_relay(&p, args) != 0)
        FAIL("relay did not start with --api-key-file");
    static const struct {
        const char *behavior, *body;
        long status;
    } cases[] = {
        {"{\"rules\":[{\"action\":{\"type\":\"echo_auth\"}}]}", CHAT, 401},
        {"{\"rules\":[{\"action\":{\"type\":\"echo_auth\",\"code\":503}}]}", CHAT, 503},
        {"{\"rules\":[{\"action\":{\"type\":\"echo_auth\",\"code\":200}}]}", CHAT, 200},
        {"{\"reply\":{\"tokens_per_s\":20},\"rules\":[{\"action\":{\"type\":\"echo_auth\","
         "\"code\":200}}]}",
         STREAM, 200},
    };
    char u[400];
    snprintf(u, sizeof u, "%s/v1/chat/completions", p.url);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        put_both(cases[i].behavior);
        const char *h[] = {"Content-Type: application/json", NULL};
        struct thttp_resp r;
        thttp_request("POST", u, cases[i].body, h, 10000, &r);
        const char *hit = leak(r.body);
        const char *hh = leak(r.headers);
        int marked = r.body && strstr(r.body, "[REDACTED]") != NULL;
        long st = r.status;
        char hb[300];
        snprintf(hb, sizeof hb, "%.250s", r.headers ? r.headers : "");
        thttp_resp_free(&r);
        if (st != cases[i].status)
            FAIL("case %zu: status %ld, expected %ld", i, st, cases[i].status);
        if (hit || hh)
            FAIL("case %zu: the upstream key reached the client (%s)", i, hit ? "body" : hb);
        if (!marked)
            FAIL("case %zu: the echoed key is not in the answer as [REDACTED] (the mock did not "
                 "echo it?)",
                 i);
    }
    put_both("{}");
    stop_relay(&p, &rc, why, n);
    if (rc)
        return rc;
    char *ev = tsup_read_file(events, NULL);
    if (leak(ev)) {
        free(ev);
        FAIL("the key is in the event log");
    }
    free(ev);
    return 0;
out:
    put_both("{}");
    stop_relay(&p, &rc, why, n);
    return rc;
}

/* The key is not in argv for ps to show: neither with --api-key-file nor
 * with --api-key (overwritten once read). */
static int key_not_in_ps(const struct row *w, char *why, size_t n)
{
    struct tproc p = {0};
    int rc = 0;
    const char *args[] = {"--health-interval-ms", "0", "--api-key", KEY, NULL};
    if (start_relay(&p, args) != 0)
        FAIL("relay did not start");
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)p.pid);
    size_t len = 0;
    char *cmd = tsup_read_file(path, &len);
    for (size_t i = 0; cmd && i < len; i++)
        if (!cmd[i])
            cmd[i] = ' ';
    const char *hit = leak(cmd);
    free(cmd);
    if (hit)
        FAIL("/proc/PID/cmdline shows the key given by --api-key");
    put_both("{\"rules\":[{\"action\":{\"type\":\"echo_auth\"}}]}");
    char u[400];
    snprintf(u, sizeof u, "%s/v1/chat/completions", p.url);
    const char *h[] = {"Content-Type: application/json", NULL};
    struct thttp_resp r;
    thttp_request("POST", u, CHAT, h, 10000, &r);
    /* The upstream still got the real key (the relay recognised it). */
    int ok = r.status == 401 && r.body && strstr(r.body, "Bearer [REDACTED]");
    thttp_resp_free(&r);
    put_both("{}");
    if (!ok)
        FAIL("the upstream did not receive the key from --api-key");
out:
    stop_relay(&p, &rc, why, n);
    return rc;
}

/* A global bound on buffered upstream answers: past it a clean 503. */
static int buffer_budget(const struct row *w, char *why, size_t n)
{
    struct tproc p = {0};
    int rc = 0;
    const char *args[] = {
        "--health-interval-ms", "0", "--max-buffered-bytes", "1500", "--max-attempts", "1", NULL};
    if (start_relay(&p, args) != 0)
        FAIL("relay did not start with --max-buffered-bytes");
    put_both("{\"reply\":{\"tokens\":600}}");
    char u[400];
    snprintf(u, sizeof u, "%s/v1/chat/completions", p.url);
    const char *h[] = {"Content-Type: application/json", NULL};
    struct thttp_resp r;
    thttp_request("POST", u, CHAT, h, 10000, &r);
    long st = r.status;
    int env = st == 503 ? check_envelope(r.body, "relay_overloaded", why, n) : 0;
    thttp_resp_free(&r);
    put_both("{}");
    if (st != 503)
        FAIL("a 600-token answer over a 1500-byte budget: status %ld, expected 503", st);
    if (env) {
        rc = -1;
        goto out;
    }
    st = chat_status(p.url, CHAT, NULL);
    if (st != 200)
        FAIL("a small answer after the refusal: %ld", st);
    if (api_metric(p.url, "buffer_budget_refusals") != 1)
        FAIL("buffer_budget_refusals is not 1");
out:
    put_both("{}");
    stop_relay(&p, &rc, why, n);
    return rc;
}

/* 300 clients that reset their connection mid-answer: the log does not
 * grow a line per connection. */
static int aborted_quiet(const struct row *w, char *why, size_t n)
{
    struct tproc p = {0};
    int rc = 0;
    const char *args[] = {"--health-interval-ms", "0", "--log-level", "warn", NULL};
    if (start_relay(&p, args) != 0)
        FAIL("relay did not start");
    put_both("{\"reply\":{\"tokens\":400,\"tokens_per_s\":200}}");
    char req[512];
    int len = snprintf(req, sizeof req,
                       "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                       "application/json\r\nContent-Length: %zu\r\n\r\n%s",
                       strlen(STREAM), STREAM);
    uint16_t port = traw_port(p.url);
    for (int i = 0; i < 300; i++) {
        int fd = traw_connect(port);
        if (fd < 0)
            FAIL("connect %d failed", i);
        send(fd, req, (size_t)len, MSG_NOSIGNAL);
        char buf[64];
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 2000) > 0)
            (void)recv(fd, buf, sizeof buf, 0);
        struct linger lg = {1, 0}; /* RST */
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(fd);
    }
    usleep(300000);
    put_both("{}");
    char *err = tproc_read(&p, 2);
    size_t lines = 0;
    for (const char *c = err; c && *c; c++)
        lines += *c == '\n';
    free(err);
    if (lines > 40)
        FAIL("%zu log lines for 300 aborted connections (expected a rate-limited few)", lines);
out:
    stop_relay(&p, &rc, why, n);
    return rc;
}

/* Sockets of the relay's port in CLOSE-WAIT, from /proc/net/tcp. */
static int close_waits(uint16_t port)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    char line[512];
    int n = 0;
    while (f && fgets(line, sizeof line, f)) {
        unsigned lport, st;
        if (sscanf(line, " %*d: %*x:%x %*x:%*x %x", &lport, &st) == 2 && lport == port && st == 8)
            n++;
    }
    if (f)
        fclose(f);
    return n;
}

/* A client that gives up on a silent upstream: its request is released at
 * once (in flight back to 0, no CLOSE-WAIT), so SIGTERM does not wait out
 * the drain timeout. */
static int gone_client_released(const struct row *w, char *why, size_t n)
{
    struct tproc p = {0};
    int rc = 0, fd = -1;
    const char *args[] = {"--health-interval-ms",
                          "0",
                          "--admin-token",
                          ADMIN,
                          "--drain-timeout-ms",
                          "10000",
                          "--try-timeout-ms",
                          "60000",
                          "--deadline-ms",
                          "60000",
                          NULL};
    put_both("{\"rules\":[{\"action\":{\"type\":\"timeout\"}}]}");
    if (start_relay(&p, args) != 0)
        FAIL("relay did not start");
    uint16_t port = traw_port(p.url);
    char req[512];
    int len = snprintf(req, sizeof req,
                       "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                       "application/json\r\nContent-Length: %zu\r\n\r\n%s",
                       strlen(CHAT), CHAT);
    fd = traw_connect(port);
    send(fd, req, (size_t)len, MSG_NOSIGNAL);
    usleep(300000);
    close(fd);
    fd = -1;
    char u[400];
    snprintf(u, sizeof u, "%s/admin/state", p.url);
    const char *h[] = {"Authorization: Bearer " ADMIN, NULL};
    long inflight = -1;
    uint64_t t0 = co_clock_monotonic_us();
    while (co_clock_monotonic_us() - t0 < (uint64_t)(1e6 * mult())) {
        struct thttp_resp r;
        thttp_request("GET", u, NULL, h, 5000, &r);
        json_t *j = json_loads(r.body ? r.body : "", 0, NULL);
        inflight = (long)json_integer_value(json_object_get(j, "inflight"));
        json_decref(j);
        thttp_resp_free(&r);
        if (inflight == 0)
            break;
        usleep(50000);
    }
    if (inflight != 0)
        FAIL("inflight %ld after the client left, expected 0", inflight);
    /* Polled: the /admin/state connections just closed pass through
     * CLOSE-WAIT for an instant; the abandoned one stayed there for good. */
    int cw = close_waits(port);
    for (t0 = co_clock_monotonic_us();
         cw && co_clock_monotonic_us() - t0 < (uint64_t)(1e6 * mult()); cw = close_waits(port))
        usleep(50000);
    if (cw)
        FAIL("%d relay socket(s) in CLOSE-WAIT after the client left", cw);
    uint64_t t1 = co_clock_monotonic_us();
    int st = tproc_stop(&p, SIGTERM, 15000);
    double s = (double)(co_clock_monotonic_us() - t1) / 1e6;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        FAIL("SIGTERM: exit status %d", st);
    if (s > 2 * mult())
        FAIL("SIGTERM took %.1f s (drain timeout 10 s): a request was still counted", s);
out:
    if (fd >= 0)
        close(fd);
    put_both("{}");
    stop_relay(&p, &rc, why, n);
    return rc;
}

/* Label values from clients (the model) cut at 64 bytes in the middle of a
 * UTF-8 character or holding escapes: the scrape stays valid. */
static int metrics_labels(const struct row *w, char *why, size_t n)
{
    struct tproc p = {0};
    int rc = 0;
    char *out = NULL;
    const char *args[] = {"--health-interval-ms", "0", NULL};
    if (start_relay(&p, args) != 0)
        FAIL("relay did not start");
    char model[200];
    /* 63 ASCII bytes, then "é": the 64-byte cut falls inside it. */
    memset(model, 'm', 63);
    strcpy(model + 63, "\xc3\xa9tail");
    static const char *const others[] = {"quote\\\" back\\\\slash \\n newline",
                                         "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82"
                                         "\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2"
                                         "\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
                                         "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82"
                                         "\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac",
                                         "tab\\tcontrol\\u0001del\\u007f", "\\ud83d\\ude00emoji"};
    char body[600];
    snprintf(body, sizeof body,
             "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", model);
    chat_status(p.url, body, NULL);
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                 others[i]);
        chat_status(p.url, body, NULL);
    }
    char u[400];
    snprintf(u, sizeof u, "%s/metrics", p.url);
    struct thttp_resp r;
    thttp_request("GET", u, NULL, NULL, 5000, &r);
    out = r.body ? strdup(r.body) : NULL;
    size_t blen = r.body_len;
    thttp_resp_free(&r);
    if (!out)
        FAIL("no /metrics body");
    for (size_t i = 0; i < blen;) {
        size_t k = co_utf8_seq((const unsigned char *)out + i, blen - i);
        if (!k)
            FAIL("/metrics is not valid UTF-8 at byte %zu", i);
        i += k;
    }
    if (!strstr(out, "mmmm\",")) /* the cut dropped the whole "é" */
        FAIL("the 64-byte cut did not end before the split character");
    char mpath[200];
    snprintf(mpath, sizeof mpath, "%s/scrape.txt", tmpdir);
    FILE *f = fopen(mpath, "w");
    fwrite(out, 1, blen, f);
    fclose(f);
    if (access("/usr/bin/promtool", X_OK) != 0 && system("command -v promtool >/dev/null") != 0) {
        printf("SKIP promtool check (promtool not installed): UTF-8 checked only\n");
    } else {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "promtool check metrics < %s > %s.out 2>&1", mpath, mpath);
        int st = system(cmd);
        /* promtool exits 3 for lint warnings only (e.g. naming), 1 for an
         * invalid exposition. */
        if (st == -1 || !WIFEXITED(st) || (WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 3)) {
            char p2[220];
            snprintf(p2, sizeof p2, "%s.out", mpath);
            char *o = tsup_read_file(p2, NULL);
            snprintf(why, n, "promtool check metrics: %.300s", o ? o : "?");
            free(o);
            rc = -1;
            goto out;
        }
        char p2[220];
        snprintf(p2, sizeof p2, "%s.out", mpath);
        char *o = tsup_read_file(p2, NULL);
        int parse_err = o && (strstr(o, "error while linting") || strstr(o, "text format parsing"));
        if (parse_err) {
            snprintf(why, n, "promtool: %.300s", o);
            free(o);
            rc = -1;
            goto out;
        }
        free(o);
    }
out:
    free(out);
    stop_relay(&p, &rc, why, n);
    return rc;
}

/* --env-file: a quoted value followed by a comment, and a comment line
 * longer than any fixed buffer whose tail looks like a setting. */
static int env_file_rows(const struct row *w, char *why, size_t n)
{
    int rc = 0;
    struct tproc p = {0};
    char path[200];
    snprintf(path, sizeof path, "%s/relay.env", tmpdir);
    FILE *f = fopen(path, "w");
    fprintf(f, "ACTIVE_ENV=\"green\"   # the standby colour\n#");
    for (int i = 0; i < 4094; i++)
        fputc('x', f);
    fprintf(f, "LOG_LEVEL=bogus\nHEALTH_CHECK_INTERVAL='0' # off\n");
    fclose(f);
    const char *args[] = {"--env-file", path, NULL};
    if (start_relay(&p, args) != 0) {
        char *e = tproc_read(&p, 2);
        snprintf(why, n, "the relay refused the env file: %.300s", e ? e : "");
        free(e);
        rc = -1;
        goto out;
    }
    char u[400];
    snprintf(u, sizeof u, "%s/health", p.url);
    struct thttp_resp r;
    thttp_request("GET", u, NULL, NULL, 5000, &r);
    int green_active = r.body && strstr(r.body, "\"active_env\":\"green\"");
    thttp_resp_free(&r);
    if (!green_active)
        FAIL("ACTIVE_ENV=\"green\" # comment did not make green active");
out:
    stop_relay(&p, &rc, why, n);
    return rc;
}

static int admin_weights_param(const struct row *w, char *why, size_t n)
{
    char u[400];
    snprintf(u, sizeof u, "%s/admin/weights", relay.url);
    const char *h[] = {"Authorization: Bearer " ADMIN, "Content-Type: application/json", NULL};
    static const struct {
        const char *body, *param;
    } cases[] = {
        {"{\"blue\":-1,\"green\":5}", "blue"},
        {"{\"blue\":5,\"green\":-1}", "green"},
        {"{\"blue\":5,\"green\":\"x\"}", "green"},
        {"{\"blue\":2000000,\"green\":1}", "blue"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct thttp_resp r;
        thttp_request("PUT", u, cases[i].body, h, 5000, &r);
        json_t *j = json_loads(r.body ? r.body : "", 0, NULL);
        const char *param =
            json_string_value(json_object_get(json_object_get(j, "error"), "param"));
        int ok = r.status == 400 && param && strcmp(param, cases[i].param) == 0;
        snprintf(why, n, "%s: status %ld, param %s, expected 400 naming %s", cases[i].body,
                 r.status, param ? param : "null", cases[i].param);
        json_decref(j);
        thttp_resp_free(&r);
        if (!ok)
            return -1;
    }
    return 0;
}

/* The mock's control API: a header value with a control character is
 * refused naming the field, and the behaviour in force is unchanged. */
static int mock_header_crlf(const struct row *w, char *why, size_t n)
{
    /* (A \u0000 never gets this far: the control API's JSON parser
     * refuses it.) */
    static const char *const values[] = {"1s\\r\\nX-Evil: 1", "1s\\n", "1s\\u007f", "a\\tb"};
    char u[400];
    snprintf(u, sizeof u, "%s/_mock/behavior", blue.url);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char body[400];
        snprintf(body, sizeof body,
                 "{\"rules\":[{\"action\":{\"type\":\"status\",\"code\":429,\"ratelimit\":{"
                 "\"reset_requests\":\"%s\"}}}]}",
                 values[i]);
        struct thttp_resp r;
        thttp_request("PUT", u, body, NULL, 5000, &r);
        json_t *j = json_loads(r.body ? r.body : "", 0, NULL);
        const char *param =
            json_string_value(json_object_get(json_object_get(j, "error"), "param"));
        int ok = r.status == 400 && param &&
                 strcmp(param, "$.rules[0].action.ratelimit.reset_requests") == 0;
        snprintf(why, n, "value %s: status %ld, param %s", values[i], r.status,
                 param ? param : "null");
        json_decref(j);
        thttp_resp_free(&r);
        if (!ok)
            return -1;
    }
    return 0;
}

/* The mock answers a method that is not UTF-8 with JSON, and its journal
 * keeps the record (with the method made valid). */
static int mock_bad_method(const struct row *w, char *why, size_t n)
{
    char u[400];
    snprintf(u, sizeof u, "%s/_mock/reset", blue.url);
    struct thttp_resp r;
    thttp_request("POST", u, "", NULL, 5000, &r);
    thttp_resp_free(&r);
    snprintf(u, sizeof u, "%s/_mock/journal", blue.url);
    static const char req[] = "\xff\xfe /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n";
    char out[4096];
    int closed;
    traw_exchange(traw_port(blue.url), req, sizeof req - 1, out, sizeof out, 3000, &closed);
    int st = http_status(out);
    if (st != 405 || check_envelope(http_body(out), "method_not_allowed", why, n) != 0) {
        if (st != 405)
            snprintf(why, n, "mock: status %d for a non-UTF-8 method, expected 405", st);
        return -1;
    }
    thttp_request("GET", u, NULL, NULL, 5000, &r);
    json_t *j = json_loads(r.body ? r.body : "", 0, NULL);
    json_t *recs = json_object_get(j, "records");
    json_t *last = json_array_get(recs, json_array_size(recs) - 1);
    const char *m = json_string_value(json_object_get(last, "method"));
    int ok = m && strcmp(m, "??") == 0;
    snprintf(why, n, "journal record method %s, expected \"??\" (body %.200s)", m ? m : "missing",
             r.body ? r.body : "");
    json_decref(j);
    thttp_resp_free(&r);
    return ok ? 0 : -1;
}

/* ---- the table ------------------------------------------------------------------ */

#define RAW(s) s, sizeof(s) - 1

static const struct row rows[] = {
    {"method 0xFF on /health", "405 method_not_allowed, valid JSON, relay alive", raw_status,
     RAW("\xff /health HTTP/1.1\r\nHost: x\r\n\r\n"), 405, "method_not_allowed", 0},
    {"method 0xFF 0xFE on /v1/chat/completions", "405, valid JSON", raw_status,
     RAW("\xff\xfe /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n"), 405, "method_not_allowed",
     0},
    {"method cut inside a UTF-8 character (0xC3) on /metrics", "405, valid JSON", raw_status,
     RAW("G\xc3 /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), 405, "method_not_allowed", 0},
    {"method holding a UTF-16 surrogate (ED A0 80) on /api/metrics", "405, valid JSON", raw_status,
     RAW("\xed\xa0\x80 /api/metrics HTTP/1.1\r\nHost: x\r\n\r\n"), 405, "method_not_allowed", 0},
    {"a 60-byte method of 0x80 bytes on /v1/models", "405, valid JSON", raw_status,
     RAW("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80"
         "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80"
         "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80"
         " /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"),
     405, "method_not_allowed", 0},
    {"a path that is not UTF-8", "404 unknown_url", raw_status,
     RAW("GET /v1/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n"), 404, "unknown_url", 0},
    {"a Content-Type that is not UTF-8", "415, valid JSON", raw_status,
     RAW("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: \xff\xfe/x\r\n"
         "Content-Length: 2\r\n\r\n{}"),
     415, "unsupported_media_type", 0},
    {"Content-Length with Transfer-Encoding: chunked", "400 invalid_request, connection closed",
     raw_status,
     RAW("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
     400, "invalid_request", 1},
    {"a request head trickled a byte per 400 ms", "closed at the read deadline (1.5 s here)",
     trickle_head, NULL, 0, 0, NULL, 0},
    {"a fresh bearer and X-Forwarded-For per request, no client keys",
     "one window per address: 5 of 8 refused at limit 3", fresh_identity, NULL, 0, 0, NULL, 0},
    {"X-Forwarded-For behind a trusted proxy, client-written entries on the left",
     "the rightmost untrusted address is the client", trusted_proxy, NULL, 0, 0, NULL, 0},
    {"malformed requests before good ones", "400 each, not counted: the limit still allows 2",
     malformed_uncounted, NULL, 0, 0, NULL, 0},
    {"unknown client keys", "401 before the limiter; the known key still admitted",
     unknown_keys_first, NULL, 0, 0, NULL, 0},
    {"--client-keys ',,,' (and '' and 'k1,,k2')", "exit 2 naming client_keys", empty_client_keys,
     NULL, 0, 0, NULL, 0},
    {"300 clients through a 100-key limiter table", "200 LRU evictions, in both metrics views",
     lru_evictions, NULL, 0, 0, NULL, 0},
    {"an upstream quoting the key (401 and 503 message, header, Content-Type, body, split SSE)",
     "never reaches the client, events or logs: [REDACTED]", key_scrubbed, NULL, 0, 0, NULL, 0},
    {"--api-key KEY on the command line", "not in /proc/PID/cmdline; the upstream still gets it",
     key_not_in_ps, NULL, 0, 0, NULL, 0},
    {"an upstream answer past max_buffered_bytes", "503 relay_overloaded, counted, relay serves on",
     buffer_budget, NULL, 0, 0, NULL, 0},
    {"300 client connections reset mid-answer", "at most 40 log lines (warnings rate-limited)",
     aborted_quiet, NULL, 0, 0, NULL, 0},
    {"a client leaving while its upstream is silent",
     "inflight 0, no CLOSE-WAIT, SIGTERM exits at once", gone_client_released, NULL, 0, 0, NULL, 0},
    {"models cut at 64 bytes inside a character, quotes, controls, emoji",
     "/metrics valid UTF-8 and accepted by promtool", metrics_labels, NULL, 0, 0, NULL, 0},
    {"--env-file: quoted value then # comment; a 4 KiB comment whose tail is a setting",
     "value unquoted; the comment stays a comment", env_file_rows, NULL, 0, 0, NULL, 0},
    {"--events /dev/full", "exit 2 naming /dev/full", events_dev_full, NULL, 0, 0, NULL, 0},
    {"--prices gpt-4.1=nan, inf, -1, empty, 1e999", "exit 2 naming prices", bad_prices, NULL, 0, 0,
     NULL, 0},
    {"PUT /admin/weights with one bad weight", "400 whose param names that weight",
     admin_weights_param, NULL, 0, 0, NULL, 0},
    {"mock: CR, LF, DEL or TAB in a header value (ratelimit.reset_requests)",
     "400 whose param is the JSON path", mock_header_crlf, NULL, 0, 0, NULL, 0},
    {"mock: a method that is not UTF-8", "405 JSON; the journal keeps the record", mock_bad_method,
     NULL, 0, 0, NULL, 0},
};

static void run_row(void **state)
{
    const struct row *w = *state;
    char why[1024] = "";
    int rc = w->run(w, why, sizeof why);
    /* Whatever the row did, the shared relay still serves. */
    char u[400];
    snprintf(u, sizeof u, "%s/health", relay.url);
    struct thttp_resp r;
    thttp_request("GET", u, NULL, NULL, 5000, &r);
    long st = r.status;
    thttp_resp_free(&r);
    if (rc != 0)
        fail_msg("%s: expected %s: %s", w->attempt, w->expected, why);
    if (st != 200)
        fail_msg("%s: the shared relay no longer answers /health (%ld)", w->attempt, st);
}

static int group_setup(void **state)
{
    traw_raise_nofile();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cutover-hostile-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    if (tmock_start(&blue, "blue", NULL) || tmock_start(&green, "green", NULL))
        return -1;
    snprintf(bu, sizeof bu, "%s/v1", blue.url);
    snprintf(gu, sizeof gu, "%s/v1", green.url);
    const char *args[] = {
        "--api-key", KEY,           "--admin-token", ADMIN, "--health-interval-ms",
        "0",         "--log-level", "warn",          NULL};
    return trelay_start(&relay, bu, gu, args);
}

static int group_teardown(void **state)
{
    int st = tproc_stop(&relay, SIGTERM, 5000);
    tproc_stop(&blue, SIGTERM, 5000);
    tproc_stop(&green, SIGTERM, 5000);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int main(void)
{
    enum { N = sizeof rows / sizeof rows[0] };
    struct CMUnitTest tests[N];
    for (size_t i = 0; i < N; i++)
        tests[i] = (struct CMUnitTest){rows[i].attempt, run_row, NULL, NULL, (void *)&rows[i]};
    return _cmocka_run_group_tests("hostile_relay", tests, N, group_setup, group_teardown);
}
