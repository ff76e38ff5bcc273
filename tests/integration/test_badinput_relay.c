/* Bad input at the relay's client side: oversized, mistyped and malformed
 * bodies, header injection, garbage and oversized request heads, slowloris
 * clients and thousands of idle connections.  Each must get a clear 4xx in
 * OpenAI's error envelope (or, below HTTP, a clean close) while the relay
 * keeps serving everyone else with bounded memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "co_clock.h"
#include "tests/support/traw.h"
#include "tests/support/tsupport.h"

#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_BODY   65536
#define CHAT       "{\"model\":\"gpt-4.1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
#define IDLE_CONNS 2000

static struct tproc blue, green, relay;
static char chat_url[300], health_url[300];
static uint16_t rport;

static int setup(void **state)
{
    traw_raise_nofile();
    if (tmock_start(&blue, "blue", NULL) || tmock_start(&green, "green", NULL))
        return -1;
    char bu[300], gu[300], mb[32];
    snprintf(bu, sizeof bu, "%s/v1", blue.url);
    snprintf(gu, sizeof gu, "%s/v1", green.url);
    snprintf(mb, sizeof mb, "%d", MAX_BODY);
    const char *args[] = {"--api-key",
                          "sk-badinput-test",
                          "--max-body-bytes",
                          mb,
                          "--health-interval-ms",
                          "0",
                          "--try-timeout-ms",
                          "3000",
                          "--log-level",
                          "warn",
                          NULL};
    if (trelay_start(&relay, bu, gu, args) != 0)
        return -1;
    snprintf(chat_url, sizeof chat_url, "%s/v1/chat/completions", relay.url);
    snprintf(health_url, sizeof health_url, "%s/health", relay.url);
    rport = traw_port(relay.url);
    return 0;
}

static int teardown(void **state)
{
    int st = tproc_stop(&relay, SIGTERM, 5000);
    tproc_stop(&blue, SIGTERM, 5000);
    tproc_stop(&green, SIGTERM, 5000);
    /* The relay must have lived through everything and drained cleanly. */
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Asserts an OpenAI-shaped error body with the given code (NULL: any). */
static void assert_openai_error(const char *body, const char *code)
{
    char why[512];
    if (tsup_openai_error(body, code, why, sizeof why) != 0)
        fail_msg("%s", why);
}

static long post(const char *ctype_hdr, const char *body, struct thttp_resp *r)
{
    const char *h[] = {ctype_hdr, NULL};
    thttp_request("POST", chat_url, body, ctype_hdr ? h : NULL, 10000, r);
    return r->status;
}

static void assert_serving(void)
{
    struct thttp_resp r;
    assert_int_equal(post("Content-Type: application/json", CHAT, &r), 200);
    thttp_resp_free(&r);
}

static void test_oversized_body(void **state)
{
    size_t n = MAX_BODY * 4;
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    big[n] = 0;
    struct thttp_resp r;
    /* Declared by Content-Length: refused before it is read. */
    assert_int_equal(post("Content-Type: application/json", big, &r), 413);
    assert_openai_error(r.body, "request_too_large");
    thttp_resp_free(&r);
    /* Chunked: no length up front, refused once past the limit. */
    const char *h[] = {"Content-Type: application/json", "Transfer-Encoding: chunked", NULL};
    thttp_request("POST", chat_url, big, h, 10000, &r);
    assert_int_equal(r.status, 413);
    assert_openai_error(r.body, "request_too_large");
    thttp_resp_free(&r);
    free(big);
    /* Just under the limit is fine as far as size goes (it is bad JSON). */
    char *edge = malloc(MAX_BODY + 1);
    memset(edge, ' ', MAX_BODY);
    memcpy(edge, CHAT, strlen(CHAT));
    edge[MAX_BODY] = 0;
    assert_int_equal(post("Content-Type: application/json", edge, &r), 200);
    thttp_resp_free(&r);
    free(edge);
    assert_serving();
}

static void test_wrong_content_type(void **state)
{
    static const char *const bad[] = {
        "Content-Type: text/plain", "Content-Type: application/x-www-form-urlencoded",
        "Content-Type: multipart/form-data; boundary=x", "Content-Type: application/jsonp", NULL};
    struct thttp_resp r;
    for (const char *const *c = bad; *c; c++) {
        if (post(*c, CHAT, &r) != 415)
            fail_msg("%s -> %ld", *c, r.status);
        assert_openai_error(r.body, "unsupported_media_type");
        thttp_resp_free(&r);
    }
    static const char *const good[] = {"Content-Type: application/json; charset=utf-8",
                                       "Content-Type: APPLICATION/JSON",
                                       "Content-Type: application/vnd.api+json", NULL};
    for (const char *const *c = good; *c; c++) {
        if (post(*c, CHAT, &r) != 200)
            fail_msg("%s -> %ld", *c, r.status);
        thttp_resp_free(&r);
    }
}

static void test_bad_json(void **state)
{
    static const struct {
        const char *body, *code, *param;
    } cases[] = {
        {"{\"model\":", "invalid_json", NULL},
        {"", "invalid_json", NULL},
        {"\xff\xfe{}", "invalid_json", NULL},
        {"{\"a\":1}{\"b\":2}", "invalid_json", NULL},
        {"[1,2,3]", "invalid_value", NULL},
        {"\"just a string\"", "invalid_json", NULL},
        {"{\"model\":42,\"messages\":[]}", "invalid_value", "model"},
        {"{\"model\":\"gpt-4.1\",\"stream\":\"yes\",\"messages\":[]}", "invalid_value", "stream"},
        {"{\"model\":\"gpt-4.1\",\"n\":1e999}", "invalid_json", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct thttp_resp r;
        if (post("Content-Type: application/json", cases[i].body, &r) != 400)
            fail_msg("case %zu -> %ld %s", i, r.status, r.body ? r.body : "");
        assert_openai_error(r.body, cases[i].code);
        if (cases[i].param) {
            json_t *j = json_loads(r.body, 0, NULL);
            assert_string_equal(
                json_string_value(json_object_get(json_object_get(j, "error"), "param")),
                cases[i].param);
            json_decref(j);
        }
        thttp_resp_free(&r);
    }
    assert_serving();
}

/* The header block of a raw answer, lower-cased for searching. */
static void lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

static void test_header_injection(void **state)
{
    static const char *const ids[] = {
        "abc\rInjected: yes",          /* bare CR inside the value */
        "abc\nSet-Cookie: injected=1", /* bare LF: a second header line */
        "abc\r\nSet-Cookie: injected=1",
        "abc%0d%0aSet-Cookie: injected=1", /* encoded: harmless text */
        "abc\x01\x7f",
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        char req[1024], out[8192];
        int closed;
        int n = snprintf(req, sizeof req,
                         "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "X-Request-ID: %s\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                         ids[i], strlen(CHAT), CHAT);
        traw_exchange(rport, req, (size_t)n, out, sizeof out, 5000, &closed);
        assert_true(closed);
        /* Either answered (200, the junk dropped or a fresh id) or refused
         * with a 4xx; never an injected header in our answer. */
        if (strncmp(out, "HTTP/1.1 200", 12) != 0 && strncmp(out, "HTTP/1.1 4", 10) != 0)
            fail_msg("id %zu: %.200s", i, out);
        char *end = strstr(out, "\r\n\r\n");
        if (end)
            *end = 0;
        lower(out);
        /* No header line of the answer is one the client smuggled in. */
        assert_null(strstr(out, "\r\ninjected"));
        assert_null(strstr(out, "\r\nset-cookie"));
        assert_null(strstr(out, "\ninjected"));
        assert_null(strstr(out, "\nset-cookie"));
        /* Every echoed header line is a clean CRLF-terminated line. */
        for (char *p = out; *p; p++)
            assert_true(*p != '\r' || p[1] == '\n');
    }
    /* An id over 128 bytes is replaced, not truncated or echoed. */
    char longid[300], hdr[320];
    memset(longid, 'x', 200);
    longid[200] = 0;
    snprintf(hdr, sizeof hdr, "X-Request-ID: %s", longid);
    const char *h[] = {"Content-Type: application/json", hdr, NULL};
    struct thttp_resp r;
    thttp_request("POST", chat_url, CHAT, h, 10000, &r);
    assert_int_equal(r.status, 200);
    char got[256];
    assert_non_null(thttp_header(&r, "X-Request-ID", got, sizeof got));
    assert_true(strlen(got) <= 128);
    assert_null(strstr(got, "xxxxxxxxxx"));
    thttp_resp_free(&r);
    assert_serving();
}

static void test_garbage_request_heads(void **state)
{
    static const struct {
        const char *bytes;
        size_t len;
    } cases[] = {
        {"GARBAGE\r\n\r\n", 11},
        {"GET\r\n\r\n", 7},
        {"POST /v1/chat/completions HTTP/9.9\r\nHost: x\r\n\r\n", 47},
        {"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", 15}, /* a TLS hello */
        {"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 67},
        {"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
         "Transfer-Encoding: chunked\r\n\r\nzz\r\n",
         97},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[4096];
        int closed;
        uint64_t t0 = co_clock_monotonic_us();
        traw_exchange(rport, cases[i].bytes, cases[i].len, out, sizeof out, 5000, &closed);
        /* A clean close or a 4xx/5xx status line, within the 5 s bound. */
        if (out[0] && strncmp(out, "HTTP/1.", 7) != 0)
            fail_msg("case %zu: not HTTP: %.100s", i, out);
        if (out[0] && out[9] != '4' && out[9] != '5')
            fail_msg("case %zu: %.100s", i, out);
        if (!closed && !out[0])
            fail_msg("case %zu: neither an answer nor a close in %llu ms", i,
                     (unsigned long long)(co_clock_monotonic_us() - t0) / 1000);
        assert_serving();
    }
    /* A header block larger than the connection's memory: 431, closed. */
    size_t n = 100000;
    char *req = malloc(n + 64);
    int k = sprintf(req, "GET /health HTTP/1.1\r\nHost: x\r\nX-A: ");
    memset(req + k, 'a', n);
    memcpy(req + k + n, "\r\n\r\n", 4);
    char out[4096];
    int closed;
    traw_exchange(rport, req, (size_t)k + n + 4, out, sizeof out, 5000, &closed);
    free(req);
    assert_true(strncmp(out, "HTTP/1.1 431", 12) == 0 || (closed && !out[0]));
    assert_serving();
}

/* Slow clients trickle a request a byte at a time; the others must not
 * notice. */
static void test_slowloris(void **state)
{
    enum { SLOW = 64 };
    int fds[SLOW];
    size_t pos[SLOW];
    static const char head[] =
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/json\r\nContent-Length: 61\r\n"
        "X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    for (int i = 0; i < SLOW; i++) {
        fds[i] = traw_connect(rport);
        assert_true(fds[i] >= 0);
        pos[i] = 0;
    }
    uint64_t t_end = co_clock_monotonic_us() + 2500000, worst = 0;
    unsigned served = 0;
    while (co_clock_monotonic_us() < t_end) {
        for (int i = 0; i < SLOW; i++)
            if (pos[i] < sizeof head - 2 && send(fds[i], head + pos[i], 1, MSG_NOSIGNAL) == 1)
                pos[i]++;
        uint64_t t0 = co_clock_monotonic_us();
        assert_serving();
        uint64_t dt = co_clock_monotonic_us() - t0;
        worst = dt > worst ? dt : worst;
        served++;
        co_sleep_us(50000);
    }
    for (int i = 0; i < SLOW; i++)
        close(fds[i]);
    /* Generous bound: a loaded 2-core machine, but nowhere near the 2.5 s
     * the slow clients spend. */
    if (worst > 1000000)
        fail_msg("a normal request took %llu ms beside %d slow clients",
                 (unsigned long long)worst / 1000, SLOW);
    assert_true(served >= 10);
}

static void test_idle_connections(void **state)
{
    long lim = traw_raise_nofile();
    int want = IDLE_CONNS;
    if (lim < want + 200)
        want = (int)lim - 200; /* CI machines with a low hard limit */
    assert_true(want >= 500);
    long rss0 = traw_rss_kb(relay.pid);
    int *fds = calloc((size_t)want, sizeof *fds);
    int open_n = 0;
    for (int i = 0; i < want; i++) {
        fds[i] = traw_connect(rport);
        if (fds[i] < 0)
            break;
        open_n++;
        /* Half send a partial request head, half send nothing. */
        if (i % 2)
            send(fds[i], "GET /health HTTP/1.1\r\n", 22, MSG_NOSIGNAL);
    }
    assert_int_equal(open_n, want);
    /* The relay accepted them all (its fds grew) and still serves. */
    uint64_t end = co_clock_monotonic_us() + 10000000;
    while (traw_nfds(relay.pid) < want && co_clock_monotonic_us() < end)
        co_sleep_us(20000);
    assert_true(traw_nfds(relay.pid) >= want);
    for (int i = 0; i < 20; i++)
        assert_serving();
    long rss1 = traw_rss_kb(relay.pid);
    for (int i = 0; i < open_n; i++)
        close(fds[i]);
    free(fds);
    /* Bounded memory: a few kB per idle connection at most. */
    long per = (rss1 - rss0) * 1024 / want;
    print_message("relay RSS %ld kB -> %ld kB with %d idle connections (%ld B each)\n", rss0, rss1,
                  want, per);
    assert_true(per < 48 * 1024);
    /* And they are all let go. */
    end = co_clock_monotonic_us() + 10000000;
    while (traw_nfds(relay.pid) > 100 && co_clock_monotonic_us() < end)
        co_sleep_us(20000);
    assert_true(traw_nfds(relay.pid) <= 100);
    assert_serving();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oversized_body),
        cmocka_unit_test(test_wrong_content_type),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_header_injection),
        cmocka_unit_test(test_garbage_request_heads),
        cmocka_unit_test(test_slowloris),
        cmocka_unit_test(test_idle_connections),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
