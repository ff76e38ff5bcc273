/* The upstream key, the admin token and client keys appear nowhere a person
 * or a scraper can read: not in the relay's stdout, stderr (at debug level),
 * event log, /metrics, /api/metrics, /health or /admin/state; not in the
 * mocks' journals or logs; and not anywhere under a `cutover run --out` dir.
 *
 * Two halves.  A relay with recognisable canary secrets serves a mix that
 * exercises every code path that logs (successes, 401s, 503s with failover,
 * resets, streams cut mid-way, rate limits, admin calls, bad requests).
 * Then the runner runs a slice of the scenario library; it gives the relay
 * a fresh key per run, always "sk-cutover-" and 24 hex digits, so that
 * prefix is the canary there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/tsupport.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEY         "sk-canary-UPSTREAM-7d1e5f0b2a9c4e3d"
#define ADMIN       "adm-canary-TOKEN-41f9e2"
#define CLIENT      "ck-canary-CLIENT-93ab07"
#define CHAT        "{\"model\":\"gpt-4.1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
#define CHAT_STREAM "{\"model\":\"gpt-4.1\",\"stream\":true,\"messages\":[]}"

static const char *const canaries[] = {KEY, ADMIN, CLIENT,
                                       /* fragments: a partial echo is a leak too */
                                       "UPSTREAM-7d1e5f0b", "TOKEN-41f9e2", "CLIENT-93ab07", NULL};

static char dir[128];

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/cutover-secrets-%d", (int)getpid());
    return mkdir(dir, 0700);
}

static int teardown(void **state)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void assert_clean(const char *what, const char *text)
{
    for (const char *const *c = canaries; *c; c++)
        if (text && strstr(text, *c))
            fail_msg("secret \"%s\" found in %s", *c, what);
}

/* A file as text to search: NULs would hide what follows them from strstr. */
static char *slurp(const char *path)
{
    size_t len;
    char *b = tsup_read_file(path, &len);
    for (size_t i = 0; b && i < len; i++)
        if (!b[i])
            b[i] = ' ';
    return b;
}

static long get(const char *base, const char *path, const char *auth, const char *what)
{
    char u[400], h[200];
    snprintf(u, sizeof u, "%s%s", base, path);
    snprintf(h, sizeof h, "Authorization: Bearer %s", auth ? auth : "");
    const char *hs[] = {h, NULL};
    struct thttp_resp r;
    thttp_request("GET", u, NULL, auth ? hs : NULL, 5000, &r);
    assert_clean(what, r.body);
    assert_clean(what, r.headers);
    long st = r.status;
    thttp_resp_free(&r);
    return st;
}

/* SIGTERM to the group and wait up to 10 s (then SIGKILL), keeping the
 * output files (tproc_stop removes them); the caller calls tproc_stop. */
static int stop_keep(struct tproc *p)
{
    kill(-p->pid, SIGTERM);
    int st = tproc_wait_exit(p, 10000);
    if (st == -1) {
        kill(-p->pid, SIGKILL);
        st = tproc_wait_exit(p, 10000);
    }
    return st;
}

static void test_relay_keeps_secrets(void **state)
{
    struct tproc blue, green, relay;
    const char *debug[] = {"--log-level", "debug", NULL};
    assert_int_equal(tmock_start(&blue, "blue", debug), 0);
    assert_int_equal(tmock_start(&green, "green", debug), 0);
    char bu[300], gu[300], ev[200];
    snprintf(bu, sizeof bu, "%s/v1", blue.url);
    snprintf(gu, sizeof gu, "%s/v1", green.url);
    snprintf(ev, sizeof ev, "%s/events.jsonl", dir);
    const char *args[] = {"--api-key",
                          KEY,
                          "--admin-token",
                          ADMIN,
                          "--client-keys",
                          CLIENT,
                          "--events",
                          ev,
                          "--log-level",
                          "debug",
                          "--max-attempts",
                          "3",
                          "--backoff-base-ms",
                          "5",
                          "--jitter",
                          "none",
                          "--health-interval-ms",
                          "100",
                          "--rate-limit-requests",
                          "40",
                          "--rate-limit-window-ms",
                          "60000",
                          "--idle-timeout-ms",
                          "300",
                          NULL};
    assert_int_equal(trelay_start(&relay, bu, gu, args), 0);

    char chat[400];
    snprintf(chat, sizeof chat, "%s/v1/chat/completions", relay.url);
    const char *good[] = {"Content-Type: application/json", "Authorization: Bearer " CLIENT, NULL};
    const char *wrong[] = {"Content-Type: application/json",
                           "Authorization: Bearer " KEY /* a client sending the upstream key */,
                           NULL};
    static const char *const mixes[] = {
        "{}",
        "{\"rules\":[{\"action\":{\"type\":\"status\",\"code\":401}}]}",
        "{\"rules\":[{\"action\":{\"type\":\"status\",\"code\":503}}]}",
        "{\"rules\":[{\"action\":{\"type\":\"reset\"}}]}",
        "{\"rules\":[{\"action\":{\"type\":\"cut\",\"after_chunks\":2}}]}",
        "{\"rules\":[{\"action\":{\"type\":\"status\",\"code\":429,\"retry_after_ms\":10}}]}",
        "{\"rules\":[{\"action\":{\"type\":\"stall\",\"after_chunks\":1,\"stall_ms\":2000}}]}",
    };
    unsigned n = 0;
    for (size_t m = 0; m < sizeof mixes / sizeof mixes[0]; m++) {
        assert_int_equal(tmock_put_behavior(blue.url, mixes[m]), 0);
        assert_int_equal(tmock_put_behavior(green.url, m % 2 ? "{}" : mixes[m]), 0);
        for (int i = 0; i < 4; i++, n++) {
            struct thttp_resp r;
            thttp_request("POST", chat, i % 2 ? CHAT_STREAM : CHAT, i == 3 ? wrong : good, 10000,
                          &r);
            assert_true(r.status >= 200);
            assert_clean("a client answer", r.body);
            assert_clean("a client answer's headers", r.headers);
            thttp_resp_free(&r);
        }
    }
    /* Bad requests, admin calls with right and wrong tokens, a rate limit. */
    struct thttp_resp r;
    thttp_request("POST", chat, "{broken", good, 5000, &r);
    assert_clean("a 400", r.body);
    thttp_resp_free(&r);
    char u[400];
    snprintf(u, sizeof u, "%s/admin/switch", relay.url);
    const char *adm[] = {"Content-Type: application/json", "Authorization: Bearer " ADMIN, NULL};
    thttp_request("POST", u, "{\"to\":\"green\"}", adm, 5000, &r);
    assert_int_equal(r.status, 200);
    assert_clean("an admin answer", r.body);
    thttp_resp_free(&r);
    const char *badadm[] = {"Content-Type: application/json",
                            "Authorization: Bearer " ADMIN "-wrong", NULL};
    thttp_request("POST", u, "{\"to\":\"blue\"}", badadm, 5000, &r);
    assert_int_equal(r.status, 401);
    assert_clean("an admin refusal", r.body);
    thttp_resp_free(&r);
    assert_int_equal(tmock_put_behavior(blue.url, "{}"), 0);
    assert_int_equal(tmock_put_behavior(green.url, "{}"), 0);
    for (int i = 0; i < 40; i++) {
        thttp_request("POST", chat, CHAT, good, 5000, &r);
        assert_clean("a rate-limited answer", r.body);
        thttp_resp_free(&r);
    }
    assert_int_equal(get(relay.url, "/metrics", NULL, "/metrics"), 200);
    assert_int_equal(get(relay.url, "/api/metrics", NULL, "/api/metrics"), 200);
    get(relay.url, "/health", NULL, "/health");
    assert_int_equal(get(relay.url, "/admin/state", ADMIN, "/admin/state"), 200);
    for (int i = 0; i < 2; i++) {
        struct tproc *m = i ? &green : &blue;
        assert_int_equal(get(m->url, "/_mock/journal?since=0", NULL, "a mock journal"), 200);
        get(m->url, "/_mock/behavior", NULL, "a mock behaviour");
    }

    int st = stop_keep(&relay);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    stop_keep(&blue);
    stop_keep(&green);
    char *files[] = {tproc_read(&relay, 1), tproc_read(&relay, 2), tproc_read(&blue, 2),
                     tproc_read(&green, 2), slurp(ev)};
    static const char *const names[] = {"relay stdout", "relay stderr", "blue's log", "green's log",
                                        "the event log"};
    /* The logs are not empty: the check would pass vacuously otherwise. */
    assert_true(strlen(files[1]) > 300);
    assert_non_null(files[4]);
    assert_true(strstr(files[4], "\"type\":\"attempt\"") || strstr(files[4], "\"attempt\""));
    print_message("%u requests; scanned %zu B of relay log, %zu B of events\n", n, strlen(files[1]),
                  strlen(files[4]));
    for (int i = 0; i < 5; i++) {
        assert_clean(names[i], files[i]);
        free(files[i]);
    }
    struct tproc *all[] = {&relay, &blue, &green};
    for (int i = 0; i < 3; i++)
        tproc_stop(all[i], SIGKILL, 1000);
}

/* Every file under path, recursively, scanned for needle; returns the
 * number of files scanned, appends hits to where. */
static int scan_tree(const char *path, const char *needle, char *where, size_t cap, int *hits)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            n += scan_tree(p, needle, where, cap, hits);
            continue;
        }
        char *b = slurp(p);
        n++;
        if (b && strstr(b, needle)) {
            (*hits)++;
            size_t l = strlen(where);
            snprintf(where + l, cap - l, " %s", p);
        }
        free(b);
    }
    closedir(d);
    return n;
}

/* Runs cutover (argv with the program first) for at most timeout_ms; the
 * case fails unless it exited by itself with a code of at most max_exit and
 * its stdout and stderr hold no canary and no part of the runner's key. */
static void run_keeps_key(char *const argv[], int timeout_ms, int max_exit)
{
    struct tproc p;
    assert_int_equal(tproc_spawn(&p, argv), 0);
    int st = tproc_wait_exit(&p, timeout_ms);
    if (st == -1) {
        tproc_stop(&p, SIGKILL, 1000);
        fail_msg("cutover run did not finish in %d ms", timeout_ms);
    }
    char *o = tproc_read(&p, 1), *e = tproc_read(&p, 2);
    if (!WIFEXITED(st) || WEXITSTATUS(st) > max_exit)
        fail_msg("cutover run: status %d: %s %s", st, o, e);
    assert_clean("cutover run's stdout", o);
    assert_clean("cutover run's stderr", e);
    assert_null(strstr(o, "sk-cutover-"));
    assert_null(strstr(e, "sk-cutover-"));
    free(o);
    free(e);
    tproc_stop(&p, SIGKILL, 1000); /* exited: removes the output files */
}

static void test_runner_out_dir_is_clean(void **state)
{
    char out[256];
    snprintf(out, sizeof out, "%s/out", dir);
    char json[300], junit[300];
    snprintf(json, sizeof json, "%s/results.json", out);
    snprintf(junit, sizeof junit, "%s/junit.xml", out);
    /* A slice of the library touching every logging path: failover, 401,
     * Retry-After, a cut stream, a rate limit, admin switches. */
    char *argv[] = {(char *)tsup_bin("cutover"),
                    "run",
                    "scenarios/failover/blue-503-to-green.json",
                    "scenarios/retry/401-not-retried.json",
                    "scenarios/retry/429-retry-after-honoured.json",
                    "scenarios/streaming/stream-cut-inband-error.json",
                    "scenarios/ratelimit/wrong-key-401.json",
                    "scenarios/cutover/manual-cutover-under-load.json",
                    "--out",
                    out,
                    "--json",
                    json,
                    "--junit",
                    junit,
                    NULL};
    /* Pass or fail is the library's business; here it must have run. */
    run_keeps_key(argv, 120000, 1);
    char where[2048] = "";
    int hits = 0;
    int files = scan_tree(out, "sk-cutover-", where, sizeof where, &hits);
    print_message("scanned %d files under %s\n", files, out);
    /* 6 scenarios, each with events, relay log, journals, client log. */
    assert_true(files >= 6 * 4);
    if (hits)
        fail_msg("the runner's upstream key is in%s", where);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* A relay (of this test, a raw command) that writes the upstream key on
 * stderr far into its first line: relay_stderr_lines quotes that line,
 * cut to its field, and a cut that kept the key's start (the whole key
 * was past the cut, so no search for the key found it) put a part of it
 * in results.json and the HTML report. */
static void test_stderr_first_line_keeps_no_key_part(void **state)
{
    char relay[256], scen[256], out[256], json[300], junit[300], html[300], md[300], cmd[400];
    snprintf(relay, sizeof relay, "%s/stderr-relay.py", dir);
    snprintf(scen, sizeof scen, "%s/stderr-first-line.json", dir);
    snprintf(out, sizeof out, "%s/stderr-out", dir);
    snprintf(json, sizeof json, "%s/results.json", out);
    snprintf(junit, sizeof junit, "%s/junit.xml", out);
    snprintf(html, sizeof html, "%s/report.html", out);
    snprintf(md, sizeof md, "%s/summary.md", out);
    write_text(relay,
               "import os, sys, http.server\n"
               "sys.stderr.write('x' * 140 + ' key=' + os.environ.get('HOLYSHEEP_API_KEY', '') + "
               "'\\n')\n"
               "sys.stderr.flush()\n"
               "class H(http.server.BaseHTTPRequestHandler):\n"
               "    def log_message(self, *a): pass\n"
               "    def _ok(self):\n"
               "        n = int(self.headers.get('Content-Length') or 0)\n"
               "        if n: self.rfile.read(n)\n"
               "        b = b'{}'\n"
               "        self.send_response(200)\n"
               "        self.send_header('Content-Type', 'application/json')\n"
               "        self.send_header('Content-Length', str(len(b)))\n"
               "        self.end_headers()\n"
               "        self.wfile.write(b)\n"
               "    do_GET = _ok\n"
               "    do_POST = _ok\n"
               "http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), "
               "H).serve_forever()\n");
    write_text(scen, "{\"name\": \"stderr-first-line\", \"description\": \"x\", "
                     "\"upstreams\": {\"blue\": \"healthy\", \"green\": \"healthy\"}, "
                     "\"traffic\": {\"count\": 1, \"concurrency\": 1}, "
                     "\"expect\": [{\"check\": \"relay_stderr_lines\", \"max\": 0}]}\n");
    snprintf(cmd, sizeof cmd, "python3 %s {port}", relay);
    char *argv[] = {(char *)tsup_bin("cutover"),
                    "run",
                    scen,
                    "--relay",
                    cmd,
                    "--out",
                    out,
                    "--json",
                    json,
                    "--junit",
                    junit,
                    "--md",
                    md,
                    NULL};
    run_keeps_key(argv, 60000, 255);
    const char *const reports[] = {json, junit, html, md, NULL};
    for (const char *const *r = reports; *r; r++) {
        char *t = slurp(*r);
        assert_non_null(t);
        if (strstr(t, "sk-cutover-"))
            fail_msg("a part of the upstream key is in %s", *r);
        free(t);
    }
    /* The line was seen and quoted (the check had a line to quote). */
    char *t = slurp(json);
    assert_non_null(strstr(t, "a line holding the upstream key"));
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relay_keeps_secrets),
        cmocka_unit_test(test_runner_out_dir_is_clean),
        cmocka_unit_test(test_stderr_first_line_keeps_no_key_part),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
