/* Live test of the mock's later faults, body matches and journal fields: a
 * real `cutover mock` process driven over loopback with libcurl (and a raw
 * socket where a byte count must be exact), each fault asserted from the
 * client side as a relay would see it, and the journal checked against it.
 * The mock is told the upstream key through --key-env; the test then looks
 * for that key in everything the mock wrote or answered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "co_clock.h"
#include "tests/support/tsupport.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define KEY     "sk-mockfaults-9f3a7c1e5b2d"
#define KEY_VAR "MOCKFAULTS_TEST_KEY"

static struct tproc mock;
static char base[256];

#define MSGS        "\"messages\":[{\"role\":\"user\",\"content\":\"tell me\"}]"
#define CHAT        "{\"model\":\"gpt-4.1\"," MSGS "}"
#define CHAT_STREAM "{\"model\":\"gpt-4.1\",\"stream\":true," MSGS "}"
#define CHAT_USAGE                                                                                 \
    "{\"model\":\"gpt-4.1\",\"stream\":true,\"stream_options\":{\"include_usage\":true}," MSGS "}"

/* Upper bounds on time are multiplied by this (a loaded machine, SAN). */
static double slack(void)
{
    const char *s = getenv("CUTOVER_TEST_SLACK");
    double v = s ? atof(s) : 0;
    return v >= 1 ? v : 4;
}

struct got {
    CURLcode rc;
    long status;
    char *body;
    size_t len;
    double first_s, total_s;
};

static size_t sink(char *p, size_t sz, size_t n, void *u)
{
    struct got *g = u;
    g->body = realloc(g->body, g->len + sz * n + 1);
    memcpy(g->body + g->len, p, sz * n);
    g->len += sz * n;
    g->body[g->len] = '\0';
    return sz * n;
}

/* One chat request with the key (auth: "configured", "other", "none"). */
static struct got chat_as(const char *body, long timeout_ms, const char *auth)
{
    struct got g = {0};
    char u[512];
    snprintf(u, sizeof u, "%s/v1/chat/completions", base);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (strcmp(auth, "configured") == 0)
        h = curl_slist_append(h, "Authorization: Bearer " KEY);
    else if (strcmp(auth, "other") == 0)
        h = curl_slist_append(h, "Authorization: Bearer sk-someone-else");
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, u);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &g);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    g.rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &g.status);
    curl_easy_getinfo(e, CURLINFO_STARTTRANSFER_TIME, &g.first_s);
    curl_easy_getinfo(e, CURLINFO_TOTAL_TIME, &g.total_s);
    curl_easy_cleanup(e);
    curl_slist_free_all(h);
    if (!g.body)
        g.body = calloc(1, 1);
    return g;
}

static struct got chat(const char *body, long timeout_ms)
{
    return chat_as(body, timeout_ms, "configured");
}

static void got_free(struct got *g)
{
    free(g->body);
    g->body = NULL;
}

static void put_behavior(const char *json)
{
    struct thttp_resp r;
    char u[512];
    snprintf(u, sizeof u, "%s/_mock/reset", base);
    assert_int_equal(thttp_request("POST", u, "", NULL, 5000, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    thttp_resp_free(&r);
    if (tmock_put_behavior(base, json) != 0)
        fail_msg("PUT behavior %s failed", json);
}

static char *journal_text(void)
{
    struct thttp_resp r;
    char u[512];
    snprintf(u, sizeof u, "%s/_mock/journal?since=0", base);
    assert_int_equal(thttp_request("GET", u, NULL, NULL, 5000, &r), CURLE_OK);
    char *s = strdup(r.body);
    thttp_resp_free(&r);
    return s;
}

/* The journal's records once it holds n (a record lands when the request
 * is over, which for a client that gave up may be a moment later). */
static json_t *records(size_t n)
{
    uint64_t end = co_clock_monotonic_us() + 5000000;
    for (;;) {
        char *s = journal_text();
        json_t *j = json_loads(s, 0, NULL);
        free(s);
        json_t *a = json_incref(json_object_get(j, "records"));
        json_decref(j);
        if (json_array_size(a) >= n || co_clock_monotonic_us() > end)
            return a;
        json_decref(a);
        co_sleep_us(10000);
    }
}

static const char *rec_s(json_t *a, size_t i, const char *k)
{
    const char *s = json_string_value(json_object_get(json_array_get(a, i), k));
    return s ? s : "(null)";
}

static long long rec_i(json_t *a, size_t i, const char *k)
{
    return json_integer_value(json_object_get(json_array_get(a, i), k));
}

/* The SSE events' data payloads, in order; returns the count. */
static size_t sse_split(const char *body, char **out, size_t max)
{
    size_t n = 0;
    const char *p = body;
    while (p && *p && n < max) {
        const char *e = strstr(p, "\n\n");
        if (!e)
            break;
        if (strncmp(p, "data: ", 6) == 0)
            out[n++] = strndup(p + 6, (size_t)(e - p - 6));
        p = e + 2;
    }
    return n;
}

/* What a client makes of a stream: the content text of every parseable
 * chunk, how many events did not parse, whether [DONE] came, the last
 * finish_reason, whether a usage chunk came. */
struct reading {
    char text[4096];
    int unparseable, done, usage;
    char finish[32];
    size_t events;
};

static struct reading read_stream(const char *body)
{
    struct reading r;
    memset(&r, 0, sizeof r);
    char *ev[256];
    r.events = sse_split(body, ev, 256);
    for (size_t i = 0; i < r.events; i++) {
        if (strcmp(ev[i], "[DONE]") == 0) {
            r.done = 1;
        } else {
            json_t *j = json_loads(ev[i], 0, NULL);
            if (!j) {
                r.unparseable++;
            } else {
                json_t *c0 = json_array_get(json_object_get(j, "choices"), 0);
                json_t *t = json_object_get(json_object_get(c0, "delta"), "content");
                if (json_is_string(t))
                    snprintf(r.text + strlen(r.text), sizeof r.text - strlen(r.text), "%s",
                             json_string_value(t));
                json_t *f = json_object_get(c0, "finish_reason");
                if (json_is_string(f))
                    snprintf(r.finish, sizeof r.finish, "%s", json_string_value(f));
                r.usage |= json_is_object(json_object_get(j, "usage"));
                json_decref(j);
            }
        }
        free(ev[i]);
    }
    return r;
}

/* The reply a client gets when nothing goes wrong (the text is a function
 * of the messages, so it is the same under every fault). */
static struct reading reference_stream(void)
{
    put_behavior("{}");
    struct got g = chat(CHAT_USAGE, 5000);
    assert_int_equal(g.rc, CURLE_OK);
    struct reading r = read_stream(g.body);
    got_free(&g);
    assert_true(r.done);
    assert_string_equal(r.finish, "stop");
    return r;
}

static int setup(void **state)
{
    setenv(KEY_VAR, KEY, 1);
    const char *extra[] = {"--seed", "11", "--key-env", KEY_VAR, NULL};
    if (tmock_start(&mock, "blue", extra) != 0)
        return -1;
    snprintf(base, sizeof base, "%s", mock.url);
    return 0;
}

static int teardown(void **state)
{
    if (mock.pid > 0)
        tproc_stop(&mock, SIGTERM, 5000);
    return 0;
}

static void test_insert_malformed(void **state)
{
    struct reading ref = reference_stream();
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"insert_malformed\",\"at\":3}}]}");
    struct got g = chat(CHAT_USAGE, 5000);
    assert_int_equal(g.rc, CURLE_OK);
    assert_int_equal(g.status, 200);
    struct reading r = read_stream(g.body);
    /* One broken event more, every token still there in order, a whole end. */
    assert_int_equal(r.unparseable, 1);
    assert_int_equal(r.events, ref.events + 1);
    assert_string_equal(r.text, ref.text);
    assert_true(r.done);
    assert_true(r.usage);
    assert_string_equal(r.finish, "stop");
    /* It sits between good events: before it, role + 2 tokens. */
    char *ev[256];
    size_t n = sse_split(g.body, ev, 256);
    assert_non_null(strstr(ev[3], "chatcmpl-broken"));
    for (size_t i = 0; i < n; i++)
        free(ev[i]);
    got_free(&g);
    json_t *a = records(1);
    assert_string_equal(rec_s(a, 0, "action"), "insert_malformed");
    assert_string_equal(rec_s(a, 0, "end"), "complete");
    json_decref(a);
}

static void test_finish_without_done(void **state)
{
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"finish_without_done\"}}]}");
    struct got g = chat(CHAT_USAGE, 5000);
    assert_int_equal(g.rc, CURLE_OK); /* a clean end of the chunked body */
    struct reading r = read_stream(g.body);
    assert_string_equal(r.finish, "stop");
    assert_false(r.done);
    assert_false(r.usage);
    assert_int_equal(r.unparseable, 0);
    /* The finish_reason chunk is the very last thing sent. */
    const char *last = strstr(g.body, "\"finish_reason\":\"stop\"");
    assert_non_null(last);
    assert_string_equal(last, "\"finish_reason\":\"stop\"}]}\n\n");
    got_free(&g);
}

static void test_headers_then_silence(void **state)
{
    /* The client gives up first: it saw 200 and headers, no body byte. */
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"headers_then_silence\"}}]}");
    for (int stream = 0; stream < 2; stream++) {
        struct got g = chat(stream ? CHAT_STREAM : CHAT, 600);
        assert_int_equal(g.rc, CURLE_OPERATION_TIMEDOUT);
        assert_int_equal(g.status, 200);
        assert_int_equal(g.len, 0);
        assert_true(g.first_s < 0.5);
        /* TIMEDOUT says the mock was still silent at the client's limit;
         * curl's own clock may stop a hair before 600 ms. */
        assert_true(g.total_s >= 0.55);
        got_free(&g);
    }
    json_t *a = records(2);
    assert_int_equal(rec_i(a, 0, "status"), 200);
    assert_int_equal(rec_i(a, 0, "bytes"), 0);
    assert_string_equal(rec_s(a, 0, "end"), "silence");
    json_decref(a);
    /* The bound: the mock closes after max_ms, short of the promised body. */
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"headers_then_silence\",\"max_ms\":300}}]}");
    for (int stream = 0; stream < 2; stream++) {
        struct got g = chat(stream ? CHAT_STREAM : CHAT, 5000);
        assert_true(g.rc == CURLE_PARTIAL_FILE || g.rc == CURLE_RECV_ERROR);
        assert_int_equal(g.status, 200);
        assert_int_equal(g.len, 0);
        assert_true(g.total_s >= 0.3);
        assert_true(g.total_s < 0.3 * slack() + 0.5);
        got_free(&g);
    }
    a = records(2);
    assert_string_equal(rec_s(a, 1, "end"), "stalled");
    json_decref(a);
}

/* A raw socket: the exact bytes the mock sent before it closed. */
static size_t raw_exchange(const char *body, int timeout_ms, double *elapsed_s, int *eof)
{
    int port = atoi(strrchr(base, ':') + 1);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     strlen(body), body);
    uint64_t t0 = co_clock_monotonic_us();
    assert_int_equal(write(fd, req, (size_t)n), n);
    size_t got = 0;
    char buf[4096];
    *eof = 0;
    for (;;) {
        ssize_t k = read(fd, buf, sizeof buf);
        if (k == 0)
            *eof = 1;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    *elapsed_s = (double)(co_clock_monotonic_us() - t0) / 1e6;
    close(fd);
    return got;
}

static void test_silence_then_close(void **state)
{
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"silence_then_close\",\"after_ms\":400}}]}");
    double el;
    int eof;
    size_t got = raw_exchange(CHAT, 5000, &el, &eof);
    assert_int_equal(got, 0); /* not one byte, not even a status line */
    assert_true(eof);         /* a FIN, not a reset */
    assert_true(el >= 0.4);
    assert_true(el < 0.4 * slack() + 0.5);
    struct got g = chat(CHAT_STREAM, 5000);
    assert_int_equal(g.rc, CURLE_GOT_NOTHING);
    assert_true(g.total_s >= 0.4);
    got_free(&g);
    json_t *a = records(2);
    assert_int_equal(rec_i(a, 0, "status"), 0);
    assert_string_equal(rec_s(a, 0, "end"), "closed");
    assert_string_equal(rec_s(a, 0, "action"), "silence_then_close");
    json_decref(a);
}

static void test_duplicate_chunk(void **state)
{
    struct reading ref = reference_stream();
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"duplicate_chunk\",\"at\":2}}]}");
    struct got g = chat(CHAT_USAGE, 5000);
    assert_int_equal(g.rc, CURLE_OK);
    struct reading r = read_stream(g.body);
    assert_int_equal(r.events, ref.events + 1);
    assert_true(r.done);
    /* The text has token 1 twice: chunks 2 and 3 are the same bytes. */
    char *ev[256];
    size_t n = sse_split(g.body, ev, 256);
    assert_string_equal(ev[2], ev[3]);
    json_t *j = json_loads(ev[2], 0, NULL);
    const char *tok = json_string_value(json_object_get(
        json_object_get(json_array_get(json_object_get(j, "choices"), 0), "delta"), "content"));
    assert_non_null(tok);
    char want[4096];
    const char *at = strstr(ref.text, tok);
    assert_non_null(at);
    snprintf(want, sizeof want, "%.*s%s%s", (int)(at - ref.text), ref.text, tok, at);
    assert_string_equal(r.text, want);
    assert_string_not_equal(r.text, ref.text);
    json_decref(j);
    for (size_t i = 0; i < n; i++)
        free(ev[i]);
    got_free(&g);
}

static void test_error_in_200(void **state)
{
    put_behavior("{\"rules\":[{\"action\":{\"type\":\"error_in_200\",\"code\":\"overloaded\","
                 "\"message\":\"busy\"}}]}");
    struct got g = chat(CHAT, 5000);
    assert_int_equal(g.rc, CURLE_OK);
    assert_int_equal(g.status, 200);
    char why[256];
    if (tsup_openai_error(g.body, "overloaded", why, sizeof why) != 0)
        fail_msg("not an OpenAI error object: %s (%s)", g.body, why);
    got_free(&g);
    g = chat(CHAT_STREAM, 5000);
    assert_int_equal(g.rc, CURLE_OK);
    assert_int_equal(g.status, 200);
    char *ev[8];
    size_t n = sse_split(g.body, ev, 8);
    assert_int_equal(n, 1);
    if (tsup_openai_error(ev[0], "overloaded", why, sizeof why) != 0)
        fail_msg("event is not an OpenAI error object: %s (%s)", ev[0], why);
    free(ev[0]);
    got_free(&g);
}

/* Retry-After as an HTTP date: made from the mock's wall clock when the
 * answer leaves (after its latency), so the date is retry_after_date_s after
 * the answer, truncated to the whole second: between N - 1 and N seconds
 * ahead of the moment the client reads it. */
static void test_retry_after_date(void **state)
{
    put_behavior("{\"latency\":{\"fixed_ms\":300},\"rules\":[{\"action\":{\"type\":\"status\","
                 "\"code\":429,\"retry_after_date_s\":3}}]}");
    const char *h[] = {"Content-Type: application/json", NULL};
    char u[512], ra[64];
    snprintf(u, sizeof u, "%s/v1/chat/completions", base);
    struct timespec before, after;
    struct thttp_resp r;
    clock_gettime(CLOCK_REALTIME, &before);
    assert_int_equal(thttp_request("POST", u, CHAT, h, 5000, &r), CURLE_OK);
    clock_gettime(CLOCK_REALTIME, &after);
    assert_int_equal(r.status, 429);
    if (!thttp_header(&r, "Retry-After", ra, sizeof ra))
        fail_msg("no Retry-After in %s", r.headers);
    thttp_resp_free(&r);
    struct tm tm = {0};
    const char *end = strptime(ra, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end)
        fail_msg("Retry-After '%s' is not an IMF-fixdate", ra);
    double date = (double)timegm(&tm);
    double t0 = (double)before.tv_sec + before.tv_nsec / 1e9;
    double t1 = (double)after.tv_sec + after.tv_nsec / 1e9;
    /* Made after the 300 ms latency, not when the request arrived: the
     * date is later than the request's start + 0.3 s + 2 s. */
    assert_true(date > t0 + 0.3 + 2.0 - 0.001);
    assert_true(date <= t1 + 3.0);
    /* Both spellings of the one header in one action are refused. */
    char err_body[256];
    snprintf(err_body, sizeof err_body,
             "{\"rules\":[{\"action\":{\"type\":\"status\",\"code\":429,"
             "\"retry_after_s\":1,\"retry_after_date_s\":2}}]}");
    assert_int_not_equal(tmock_put_behavior(base, err_body), 0);
}

static void test_drip(void **state)
{
    /* The reference body size first, then the same answer at 1,000 B/s. */
    put_behavior("{\"reply\":{\"tokens\":6}}");
    struct got g = chat(CHAT, 5000);
    size_t len = g.len;
    json_t *ref = json_loads(g.body, 0, NULL);
    got_free(&g);
    assert_true(len > 300);
    put_behavior("{\"reply\":{\"tokens\":6},\"rules\":[{\"action\":{\"type\":\"drip\","
                 "\"bytes_per_s\":1000}}]}");
    g = chat(CHAT, 10000);
    assert_int_equal(g.rc, CURLE_OK);
    assert_int_equal(g.len, len);
    json_t *j = json_loads(g.body, 0, NULL);
    assert_non_null(j);
    assert_true(json_equal(json_object_get(j, "choices"), json_object_get(ref, "choices")));
    json_decref(j);
    double want = (double)(len - 1) / 1000.0;
    assert_true(g.total_s - g.first_s >= want - 0.01); /* the first byte leaves at once */
    assert_true(g.total_s < want * slack() + 0.5);
    got_free(&g);
    json_decref(ref);
    /* Streamed: the same pace over the events. */
    g = chat(CHAT_STREAM, 10000);
    assert_int_equal(g.rc, CURLE_OK);
    struct reading r = read_stream(g.body);
    assert_true(r.done);
    assert_true(g.total_s >= (double)(g.len - 1) / 1000.0);
    got_free(&g);
}

static void test_body_matches(void **state)
{
    put_behavior(
        "{\"rules\":["
        "{\"name\":\"x-model\",\"match\":{\"body\":{\"pointer\":\"/model\",\"equals\":\"gpt-x\"}},"
        "\"action\":{\"type\":\"status\",\"code\":404}},"
        "{\"name\":\"prefill\",\"match\":{\"last_message\":{\"role\":\"assistant\"}},"
        "\"action\":{\"type\":\"status\",\"code\":400}},"
        "{\"name\":\"re\",\"match\":{\"last_message\":{\"regex\":\"^summari[sz]e\"}},"
        "\"action\":{\"type\":\"error_in_200\"}},"
        "{\"name\":\"big\",\"match\":{\"prompt_chars\":{\"min\":50}},"
        "\"action\":{\"type\":\"status\",\"code\":400,\"error_code\":\"context_length_exceeded\"}}"
        "]}");
    struct {
        const char *body;
        long status;
        const char *rule;
    } cases[] = {
        {"{\"model\":\"gpt-x\"," MSGS "}", 404, "x-model"},
        {CHAT, 200, "(null)"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\","
         "\"content\":\"Sure\"}]}",
         400, "prefill"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"summarize this\"}]}", 200, "re"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"please summarize\"}]}", 200, "(null)"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"01234567890123456789012345678901234567"
         "8901234567890\"}]}",
         400, "big"},
    };
    size_t n = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < n; i++) {
        struct got g = chat(cases[i].body, 5000);
        assert_int_equal(g.rc, CURLE_OK);
        if (g.status != cases[i].status)
            fail_msg("case %zu: status %ld, want %ld", i, g.status, cases[i].status);
        got_free(&g);
    }
    json_t *a = records(n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(rec_s(a, i, "rule"), cases[i].rule) != 0)
            fail_msg("case %zu: rule %s, want %s", i, rec_s(a, i, "rule"), cases[i].rule);
    json_decref(a);
    /* A mistake is a 400 whose param is the JSON path. */
    struct thttp_resp r;
    char u[512];
    snprintf(u, sizeof u, "%s/_mock/behavior", base);
    assert_int_equal(thttp_request("PUT", u,
                                   "{\"rules\":[{\"match\":{\"last_message\":{\"regex\":\"(\"}},"
                                   "\"action\":{\"type\":\"ok\"}}]}",
                                   NULL, 5000, &r),
                     CURLE_OK);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "\"param\":\"$.rules[0].match.last_message.regex\""));
    assert_non_null(strstr(r.body, "expected a POSIX extended regular expression"));
    thttp_resp_free(&r);
}

/* prompt_chars, messages, id_via and key; the key itself nowhere. */
static void test_journal_fields_and_key(void **state)
{
    put_behavior("{}");
    const char *bodies[] = {
        "{\"messages\":[{\"role\":\"system\",\"content\":\"s\\u00e9\"},"
        "{\"role\":\"user\",\"content\":\"abc [cutover-id:r-1]\"}]}",
        "{\"user\":\"r-2\",\"messages\":[{\"role\":\"user\",\"content\":\"abcd\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"ab\"},"
        "{\"type\":\"text\",\"text\":\"c\"}]}]}",
    };
    const char *auths[] = {"configured", "other", "none"};
    for (size_t i = 0; i < 3; i++) {
        struct got g = chat_as(bodies[i], 5000, auths[i]);
        assert_int_equal(g.status, 200);
        assert_null(strstr(g.body, KEY));
        got_free(&g);
    }
    json_t *a = records(3);
    assert_int_equal(rec_i(a, 0, "prompt_chars"), 2 + 20);
    assert_int_equal(rec_i(a, 0, "messages"), 2);
    assert_string_equal(rec_s(a, 0, "id_via"), "content");
    assert_string_equal(rec_s(a, 0, "request_id"), "r-1");
    assert_string_equal(rec_s(a, 0, "key"), "configured");
    assert_int_equal(rec_i(a, 1, "prompt_chars"), 4);
    assert_int_equal(rec_i(a, 1, "messages"), 1);
    assert_string_equal(rec_s(a, 1, "id_via"), "user");
    assert_string_equal(rec_s(a, 1, "key"), "other");
    assert_int_equal(rec_i(a, 2, "prompt_chars"), 4); /* "ab\nc" */
    assert_string_equal(rec_s(a, 2, "key"), "missing");
    json_decref(a);
    /* A health check carries no chat body: null, not 0. */
    struct thttp_resp r;
    char u[512];
    snprintf(u, sizeof u, "%s/health", base);
    assert_int_equal(thttp_request("GET", u, NULL, NULL, 5000, &r), CURLE_OK);
    thttp_resp_free(&r);
    a = records(4);
    assert_true(json_is_null(json_object_get(json_array_get(a, 3), "prompt_chars")));
    json_decref(a);
    /* The key is in none of what the mock wrote or answered. */
    char *j = journal_text();
    assert_null(strstr(j, KEY));
    free(j);
    snprintf(u, sizeof u, "%s/_mock/behavior", base);
    assert_int_equal(thttp_request("GET", u, NULL, NULL, 5000, &r), CURLE_OK);
    assert_null(strstr(r.body, KEY));
    thttp_resp_free(&r);
    for (int which = 1; which <= 2; which++) {
        char *out = tproc_read(&mock, which);
        assert_null(strstr(out ? out : "", KEY));
        free(out);
    }
}

static void test_key_env_refused(void **state)
{
    /* The key only ever comes from the environment; a missing one is exit 2. */
    unsetenv("MOCKFAULTS_NO_SUCH_VAR");
    char *args[] = {(char *)tsup_bin("cutover"),
                    "mock",
                    "--key-env",
                    "MOCKFAULTS_NO_SUCH_VAR",
                    "--port",
                    "0",
                    NULL};
    struct tproc p;
    assert_int_equal(tproc_spawn(&p, args), 0);
    int st = tproc_wait_exit(&p, 5000);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 2);
    char *err = tproc_read(&p, 2);
    assert_non_null(strstr(err, "--key-env: the environment variable 'MOCKFAULTS_NO_SUCH_VAR'"));
    free(err);
    tproc_stop(&p, SIGTERM, 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_malformed),
        cmocka_unit_test(test_finish_without_done),
        cmocka_unit_test(test_headers_then_silence),
        cmocka_unit_test(test_silence_then_close),
        cmocka_unit_test(test_duplicate_chunk),
        cmocka_unit_test(test_error_in_200),
        cmocka_unit_test(test_drip),
        cmocka_unit_test(test_retry_after_date),
        cmocka_unit_test(test_body_matches),
        cmocka_unit_test(test_journal_fields_and_key),
        cmocka_unit_test(test_key_env_refused),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
