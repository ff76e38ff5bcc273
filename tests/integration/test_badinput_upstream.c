/* Upstream garbage reaching the relay: bytes that are not HTTP, endless
 * header blocks, bodies shorter than declared, broken chunked framing,
 * malformed JSON and SSE, and silence.  The upstreams here are raw TCP
 * servers in this process (no HTTP library would produce these bytes).  The
 * relay must answer every client with a clear status inside its deadline:
 * a 502/504 in OpenAI's envelope when nothing usable came, the upstream's
 * own answer when it was well framed, an in-band error for a broken stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "co_clock.h"
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

#define CHAT        "{\"model\":\"gpt-4.1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
#define CHAT_STREAM "{\"model\":\"gpt-4.1\",\"stream\":true,\"messages\":[]}"
#define TRY_MS      600
#define DEADLINE_MS 4000

enum mode {
    M_NOT_HTTP,
    M_BINARY,
    M_ENDLESS_HEADERS,
    M_SHORT_BODY,
    M_BAD_CHUNKS,
    M_BAD_JSON_200,
    M_BAD_SSE,
    M_SILENT,
    M_HUGE_STATUS_LINE,
};

static volatile int mode;
static struct traw_server up[2];
static struct tproc relay;
static char chat_url[300];

/* Reads the request head and a Content-Length body, bounded in time. */
static void read_request(int fd)
{
    char buf[65536];
    size_t got = 0;
    uint64_t end = co_clock_monotonic_us() + 2000000;
    while (got < sizeof buf - 1 && co_clock_monotonic_us() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0)
            return;
        got += (size_t)n;
        buf[got] = 0;
        char *e = strstr(buf, "\r\n\r\n");
        if (!e)
            continue;
        char *cl = strcasestr(buf, "content-length:");
        size_t want = (size_t)(e + 4 - buf) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
        if (got >= want)
            return;
    }
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
        if (k <= 0)
            return;
        s += k;
        n -= (size_t)k;
    }
}

/* Waits until the relay closes the connection, up to ms. */
static void hold(int fd, int ms)
{
    uint64_t end = co_clock_monotonic_us() + (uint64_t)ms * 1000;
    char c[512];
    while (co_clock_monotonic_us() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 20) > 0 && recv(fd, c, sizeof c, 0) <= 0)
            return;
    }
}

static void serve(int fd, void *arg)
{
    read_request(fd);
    switch (mode) {
    case M_NOT_HTTP:
        send_all(fd, "SSH-2.0-OpenSSH_9.0\r\nhello there\r\n\r\n", 37);
        break;
    case M_BINARY: {
        char b[4096];
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (char)(i * 131 + 7);
        send_all(fd, b, sizeof b);
        break;
    }
    case M_ENDLESS_HEADERS: {
        /* Headers until the relay gives up (send fails), 4 s or 64 MB. */
        send_all(fd, "HTTP/1.1 200 OK\r\n", 17);
        uint64_t end = co_clock_monotonic_us() + 4000000;
        char line[128];
        for (unsigned i = 0; i < 500000 && co_clock_monotonic_us() < end; i++) {
            int n = snprintf(line, sizeof line, "X-Junk-%u: %0100u\r\n", i, i);
            if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n)
                break;
        }
        break;
    }
    case M_SHORT_BODY: {
        static const char r[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                "Content-Length: 1000\r\n\r\n{\"id\":";
        send_all(fd, r, sizeof r - 1);
        break;
    }
    case M_BAD_CHUNKS: {
        static const char r[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                "Transfer-Encoding: chunked\r\n\r\nzz-not-hex\r\n{}\r\n";
        send_all(fd, r, sizeof r - 1);
        break;
    }
    case M_BAD_JSON_200: {
        static const char r[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                "Content-Length: 12\r\nConnection: close\r\n\r\n{not json!!}";
        send_all(fd, r, sizeof r - 1);
        break;
    }
    case M_BAD_SSE: {
        static const char r[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                "Connection: close\r\n\r\n"
                                "data: {\"choices\":[{\"delta\":{\"content\":\"he\"}}]}\n\n"
                                "data: {broken json\n\nevent: ???\n\x01\x02\xff\ndata: [DO";
        send_all(fd, r, sizeof r - 1);
        break;
    }
    case M_SILENT:
        hold(fd, 5000);
        return;
    case M_HUGE_STATUS_LINE: {
        send_all(fd, "HTTP/1.1 200 ", 13);
        char b[8192];
        memset(b, 'O', sizeof b);
        for (int i = 0; i < 256; i++)
            if (send(fd, b, sizeof b, MSG_NOSIGNAL) <= 0)
                break;
        break;
    }
    }
    hold(fd, 200);
}

static int setup(void **state)
{
    for (int i = 0; i < 2; i++)
        if (traw_server_start(&up[i], serve, NULL) != 0)
            return -1;
    char bu[64], gu[64], tm[16], dm[16];
    snprintf(bu, sizeof bu, "http://127.0.0.1:%u/v1", up[0].port);
    snprintf(gu, sizeof gu, "http://127.0.0.1:%u/v1", up[1].port);
    snprintf(tm, sizeof tm, "%d", TRY_MS);
    snprintf(dm, sizeof dm, "%d", DEADLINE_MS);
    const char *args[] = {"--max-attempts",
                          "2",
                          "--backoff-base-ms",
                          "10",
                          "--jitter",
                          "none",
                          "--try-timeout-ms",
                          tm,
                          "--deadline-ms",
                          dm,
                          "--health-interval-ms",
                          "0",
                          "--log-level",
                          "warn",
                          NULL};
    if (trelay_start(&relay, bu, gu, args) != 0)
        return -1;
    snprintf(chat_url, sizeof chat_url, "%s/v1/chat/completions", relay.url);
    return 0;
}

static int teardown(void **state)
{
    int st = tproc_stop(&relay, SIGTERM, 5000);
    for (int i = 0; i < 2; i++)
        traw_server_stop(&up[i]);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* One request through the relay with the upstreams in mode m; returns the
 * status and checks the time bound. */
static long through(enum mode m, const char *body, struct thttp_resp *r)
{
    mode = m;
    const char *h[] = {"Content-Type: application/json", NULL};
    uint64_t t0 = co_clock_monotonic_us();
    thttp_request("POST", chat_url, body, h, 15000, r);
    uint64_t ms = (co_clock_monotonic_us() - t0) / 1000;
    if (r->rc != CURLE_OK)
        fail_msg("mode %d: transfer failed: %s", m, r->errbuf);
    /* Every answer inside the relay's own deadline (plus slack for a loaded
     * machine). */
    if (ms > DEADLINE_MS * 2)
        fail_msg("mode %d: answered after %llu ms", m, (unsigned long long)ms);
    return r->status;
}

static void assert_code(const struct thttp_resp *r, const char *code)
{
    json_t *j = json_loads(r->body ? r->body : "", 0, NULL);
    if (!j)
        fail_msg("not JSON: %s", r->body ? r->body : "");
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    if (!c || strcmp(c, code) != 0)
        fail_msg("code %s, expected %s: %s", c ? c : "null", code, r->body);
    json_decref(j);
}

static void test_not_http(void **state)
{
    struct thttp_resp r;
    assert_int_equal(through(M_NOT_HTTP, CHAT, &r), 502);
    assert_code(&r, "upstream_reset");
    thttp_resp_free(&r);
    assert_int_equal(through(M_BINARY, CHAT, &r), 502);
    assert_code(&r, "upstream_reset");
    thttp_resp_free(&r);
}

static void test_endless_headers(void **state)
{
    struct thttp_resp r;
    assert_int_equal(through(M_ENDLESS_HEADERS, CHAT, &r), 502);
    assert_code(&r, "upstream_reset");
    thttp_resp_free(&r);
    assert_int_equal(through(M_HUGE_STATUS_LINE, CHAT, &r), 502);
    thttp_resp_free(&r);
}

static void test_broken_framing(void **state)
{
    struct thttp_resp r;
    assert_int_equal(through(M_SHORT_BODY, CHAT, &r), 502);
    assert_code(&r, "upstream_reset");
    thttp_resp_free(&r);
    assert_int_equal(through(M_BAD_CHUNKS, CHAT, &r), 502);
    thttp_resp_free(&r);
}

static void test_malformed_json_is_a_failed_attempt(void **state)
{
    /* A 2xx chat answer that is not JSON is a failed attempt (relay
     * f3dbce0): retried, then our own OpenAI-shaped 502, never the garbage. */
    struct thttp_resp r;
    assert_int_equal(through(M_BAD_JSON_200, CHAT, &r), 502);
    assert_null(strstr(r.body, "{not json!!}"));
    assert_non_null(strstr(r.body, "\"error\""));
    thttp_resp_free(&r);
}

static void test_malformed_stream(void **state)
{
    struct thttp_resp r;
    assert_int_equal(through(M_BAD_SSE, CHAT_STREAM, &r), 200);
    /* The good event came through, the garbage did not: our in-band error
     * ends the stream at the first line that is not JSON, and no [DONE],
     * so the client cannot mistake it for a complete answer. */
    assert_non_null(strstr(r.body, "\"he\""));
    assert_null(strstr(r.body, "broken json"));
    assert_null(strstr(r.body, "[DONE]"));
    assert_non_null(strstr(r.body, "stream_bad_event"));
    thttp_resp_free(&r);
}

static void test_silent_upstream(void **state)
{
    struct thttp_resp r;
    uint64_t t0 = co_clock_monotonic_us();
    assert_int_equal(through(M_SILENT, CHAT, &r), 504);
    uint64_t ms = (co_clock_monotonic_us() - t0) / 1000;
    /* Two attempts, each abandoned at the per-try timeout. */
    assert_true(ms >= 2 * TRY_MS);
    assert_code(&r, "upstream_timeout");
    thttp_resp_free(&r);
}

static void test_still_healthy(void **state)
{
    /* After all that the relay's own endpoints answer, and its memory and
     * descriptors are bounded. */
    char u[300];
    snprintf(u, sizeof u, "%s/api/metrics", relay.url);
    struct thttp_resp r;
    thttp_request("GET", u, NULL, NULL, 5000, &r);
    assert_int_equal(r.status, 200);
    thttp_resp_free(&r);
    long rss = traw_rss_kb(relay.pid), fds = traw_nfds(relay.pid);
    print_message("relay RSS %ld kB, %ld fds\n", rss, fds);
    assert_true(rss > 0 && rss < 64 * 1024);
    assert_true(fds > 0 && fds < 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_http),
        cmocka_unit_test(test_endless_headers),
        cmocka_unit_test(test_broken_framing),
        cmocka_unit_test(test_malformed_json_is_a_failed_attempt),
        cmocka_unit_test(test_malformed_stream),
        cmocka_unit_test(test_silent_upstream),
        cmocka_unit_test(test_still_healthy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
