/* Integration test of `cutover mock --threads 2` over loopback: two worker
 * loops serve connections in parallel while the decisions and the journal
 * stay one shared state.  Asserted from the client side and from the
 * journal: every request journaled exactly once with its id and the status
 * the client saw, seq one gap-free order; a seeded 30% rule within binomial
 * bounds and deciding exactly as the one-thread mock does for the same ids
 * (per-id streams do not depend on which worker or in which order); both
 * workers doing work; a behaviour change through one connection seen on
 * every connection; delays never shorter than asked; a stop with requests
 * held on every worker that exits 0 and leaves nothing behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "co_clock.h"
#include "tests/support/tsupport.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NREQ  400
#define NCONN 16
#define CHAT  "{\"model\":\"gpt-4.1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"

/* What the client saw for request i (id "mt-<i>"). */
struct seen {
    long status;
    char chat_id[64]; /* the answer's completion id ("" when none) */
    double total_s;
};

struct lane {
    CURL *h;
    struct curl_slist *hdr;
    int req; /* index of the request in flight, -1 idle */
    char body[4096];
    size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct lane *l = ud;
    size_t k = size * n;
    size_t room = sizeof l->body - 1 - l->len;
    size_t c = k < room ? k : room;
    memcpy(l->body + l->len, p, c);
    l->len += c;
    l->body[l->len] = '\0';
    return k;
}

static void lane_start(CURLM *mh, struct lane *l, const char *base, const char *prefix, int i)
{
    char u[300], h[128];
    snprintf(u, sizeof u, "%s/v1/chat/completions", base);
    snprintf(h, sizeof h, "X-Request-ID: %s-%d", prefix, i);
    curl_slist_free_all(l->hdr);
    l->hdr = curl_slist_append(NULL, "Content-Type: application/json");
    l->hdr = curl_slist_append(l->hdr, h);
    l->len = 0;
    l->body[0] = '\0';
    l->req = i;
    curl_easy_setopt(l->h, CURLOPT_URL, u);
    curl_easy_setopt(l->h, CURLOPT_POSTFIELDS, CHAT);
    curl_easy_setopt(l->h, CURLOPT_HTTPHEADER, l->hdr);
    curl_easy_setopt(l->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(l->h, CURLOPT_WRITEDATA, l);
    curl_easy_setopt(l->h, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(l->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(l->h, CURLOPT_PRIVATE, l);
    curl_multi_add_handle(mh, l->h);
}

/* Sends n requests (ids PREFIX-0 .. PREFIX-(n-1)) over at most nconn
 * keep-alive connections, nconn in flight at a time; out[i] gets what the
 * client saw.  Bounded: gives up after 60 s. */
static void send_all(const char *base, const char *prefix, int n, int nconn, struct seen *out)
{
    CURLM *mh = curl_multi_init();
    curl_multi_setopt(mh, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)nconn);
    curl_multi_setopt(mh, CURLMOPT_MAXCONNECTS, (long)nconn);
    struct lane lanes[NCONN];
    assert_true(nconn <= NCONN);
    int next = 0, done = 0;
    for (int k = 0; k < nconn; k++) {
        lanes[k].h = curl_easy_init();
        lanes[k].hdr = NULL;
        lanes[k].req = -1;
        if (next < n)
            lane_start(mh, &lanes[k], base, prefix, next++);
    }
    uint64_t end = co_clock_monotonic_us() + 60000000;
    while (done < n && co_clock_monotonic_us() < end) {
        int running;
        curl_multi_perform(mh, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(mh, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct lane *l;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&l);
            struct seen *s = &out[l->req];
            s->status = 0;
            s->chat_id[0] = '\0';
            if (msg->data.result == CURLE_OK)
                curl_easy_getinfo(l->h, CURLINFO_RESPONSE_CODE, &s->status);
            curl_easy_getinfo(l->h, CURLINFO_TOTAL_TIME, &s->total_s);
            json_t *j = json_loads(l->body, 0, NULL);
            const char *id = json_string_value(json_object_get(j, "id"));
            if (s->status == 200 && id)
                snprintf(s->chat_id, sizeof s->chat_id, "%s", id);
            json_decref(j);
            curl_multi_remove_handle(mh, l->h);
            l->req = -1;
            done++;
            if (next < n)
                lane_start(mh, l, base, prefix, next++);
        }
        if (done < n)
            curl_multi_poll(mh, NULL, 0, 100, NULL);
    }
    for (int k = 0; k < nconn; k++) {
        if (lanes[k].req >= 0)
            curl_multi_remove_handle(mh, lanes[k].h);
        curl_easy_cleanup(lanes[k].h);
        curl_slist_free_all(lanes[k].hdr);
    }
    curl_multi_cleanup(mh);
    assert_int_equal(done, n);
}

/* Timing upper bounds are multiplied by CUTOVER_TIME_MULT (default 2, 4
 * for a SAN build); lower bounds are not. */
static double mult(void)
{
    const char *m = getenv("CUTOVER_TIME_MULT");
    const char *bin = getenv("CUTOVER_BIN");
    double v = m ? atof(m) : 0;
    return v >= 1 ? v : bin && strstr(bin, "san") ? 4 : 2;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    return size * n;
}

static void reset_and_put(const char *base, const char *behavior)
{
    char u[300];
    struct thttp_resp r;
    snprintf(u, sizeof u, "%s/_mock/reset", base);
    assert_int_equal(thttp_request("POST", u, "", NULL, 5000, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    thttp_resp_free(&r);
    if (tmock_put_behavior(base, behavior) != 0)
        fail_msg("PUT behavior %s failed", behavior);
}

/* The journal's records once it holds at least n (a record lands when the
 * mock's worker sees the request completed, just after the client does). */
static json_t *journal_records(const char *base, size_t n)
{
    uint64_t end = co_clock_monotonic_us() + 10000000;
    for (;;) {
        char u[300];
        struct thttp_resp r;
        snprintf(u, sizeof u, "%s/_mock/journal?since=0", base);
        assert_int_equal(thttp_request("GET", u, NULL, NULL, 5000, &r), CURLE_OK);
        assert_int_equal(r.status, 200);
        json_t *j = json_loads(r.body, 0, NULL);
        thttp_resp_free(&r);
        assert_non_null(j);
        json_t *a = json_incref(json_object_get(j, "records"));
        json_decref(j);
        if (json_array_size(a) >= n || co_clock_monotonic_us() > end)
            return a;
        json_decref(a);
        co_sleep_us(10000);
    }
}

/* Checks the journal holds exactly the n requests PREFIX-i, each once, with
 * the status its client saw, in one gap-free seq order. */
static void check_journal(const char *base, const char *prefix, int n, const struct seen *s)
{
    json_t *a = journal_records(base, (size_t)n);
    assert_int_equal(json_array_size(a), (size_t)n);
    int *count = calloc((size_t)n, sizeof *count);
    size_t plen = strlen(prefix);
    for (size_t k = 0; k < json_array_size(a); k++) {
        json_t *rec = json_array_get(a, k);
        assert_int_equal(json_integer_value(json_object_get(rec, "seq")), (json_int_t)k);
        const char *id = json_string_value(json_object_get(rec, "request_id"));
        assert_non_null(id);
        assert_int_equal(strncmp(id, prefix, plen), 0);
        assert_int_equal(id[plen], '-');
        int i = atoi(id + plen + 1);
        assert_true(i >= 0 && i < n);
        count[i]++;
        assert_int_equal(json_integer_value(json_object_get(rec, "status")), s[i].status);
        assert_string_equal(json_string_value(json_object_get(rec, "id_via")), "header");
    }
    for (int i = 0; i < n; i++)
        if (count[i] != 1)
            fail_msg("%s-%d journaled %d times", prefix, i, count[i]);
    free(count);
    json_decref(a);
}

/* Nanoseconds each thread of pid has run (/proc/PID/task/TID/schedstat),
 * into ns[] by thread id order; returns the thread count. */
static int thread_run_ns(pid_t pid, unsigned long long *ns, int max)
{
    char d[64];
    snprintf(d, sizeof d, "/proc/%d/task", (int)pid);
    DIR *dir = opendir(d);
    int n = 0;
    int tids[64];
    if (!dir)
        return -1;
    struct dirent *e;
    while ((e = readdir(dir)) && n < 64)
        if (e->d_name[0] != '.')
            tids[n++] = atoi(e->d_name);
    closedir(dir);
    for (int i = 1; i < n; i++) /* by tid: the main thread first */
        for (int k = i; k > 0 && tids[k] < tids[k - 1]; k--) {
            int t = tids[k];
            tids[k] = tids[k - 1];
            tids[k - 1] = t;
        }
    for (int i = 0; i < n && i < max; i++) {
        char f[96];
        snprintf(f, sizeof f, "/proc/%d/task/%d/schedstat", (int)pid, tids[i]);
        FILE *fp = fopen(f, "r");
        ns[i] = 0;
        if (fp) {
            if (fscanf(fp, "%llu", &ns[i]) != 1)
                ns[i] = 0;
            fclose(fp);
        }
    }
    return n;
}

static struct tproc one, two; /* --threads 1 (the default) and --threads 2, both --seed 11 */

static int setup(void **state)
{
    const char *s1[] = {"--seed", "11", NULL};
    const char *s2[] = {"--seed", "11", "--threads", "2", NULL};
    if (tmock_start(&one, "blue", s1) != 0)
        return -1;
    if (tmock_start(&two, "blue", s2) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    if (one.pid > 0)
        tproc_stop(&one, SIGTERM, 5000);
    if (two.pid > 0)
        tproc_stop(&two, SIGTERM, 5000);
    return 0;
}

static void test_thread_counts(void **state)
{
    unsigned long long ns[8];
    assert_int_equal(thread_run_ns(one.pid, ns, 8), 1);
    assert_int_equal(thread_run_ns(two.pid, ns, 8), 2);
}

/* 400 requests over 16 connections, a 30% 503 rule: every request journaled
 * once with its status, the 503s within binomial bounds, and exactly the
 * decisions (status and completion id per request id) the one-thread mock
 * makes with the same seed.  Both threads did work: with 16 connections
 * spread by SO_REUSEPORT, one worker getting none has odds 2^-15. */
static void test_seeded_faults_journal_and_both_workers(void **state)
{
    const char *beh = "{\"rules\":[{\"name\":\"flaky\",\"when\":{\"p\":0.3},"
                      "\"action\":{\"type\":\"status\",\"code\":503}}]}";
    static struct seen s1[NREQ], s2[NREQ];
    reset_and_put(one.url, beh);
    reset_and_put(two.url, beh);
    unsigned long long before[8], after[8];
    assert_int_equal(thread_run_ns(two.pid, before, 8), 2);
    send_all(one.url, "mt", NREQ, NCONN, s1);
    send_all(two.url, "mt", NREQ, NCONN, s2);
    assert_int_equal(thread_run_ns(two.pid, after, 8), 2);
    int n503 = 0;
    for (int i = 0; i < NREQ; i++) {
        assert_true(s2[i].status == 200 || s2[i].status == 503);
        n503 += s2[i].status == 503;
        if (s1[i].status != s2[i].status || strcmp(s1[i].chat_id, s2[i].chat_id) != 0)
            fail_msg("mt-%d: one thread %ld '%s', two threads %ld '%s'", i, s1[i].status,
                     s1[i].chat_id, s2[i].status, s2[i].chat_id);
    }
    /* n = 400, p = 0.3: mean 120, sd 9.2; 4.5 sd either side. */
    if (n503 < 79 || n503 > 161)
        fail_msg("%d of %d got 503 under a 30%% rule", n503, NREQ);
    check_journal(two.url, "mt", NREQ, s2);
    print_message("threads ran %llu and %llu us for %d requests\n", (after[0] - before[0]) / 1000,
                  (after[1] - before[1]) / 1000, NREQ);
    for (int t = 0; t < 2; t++)
        if (after[t] - before[t] < 50000)
            fail_msg("thread %d ran only %llu ns for %d requests", t, after[t] - before[t], NREQ);
}

/* A behaviour change sent over one connection reaches every worker: the
 * next requests, over the same 16 connections as before (spread over both
 * workers), all see it. */
static void test_control_change_seen_by_every_worker(void **state)
{
    static struct seen s[64];
    reset_and_put(two.url, "{}");
    send_all(two.url, "warm", 64, NCONN, s); /* opens the connections */
    for (int i = 0; i < 64; i++)
        assert_int_equal(s[i].status, 200);
    if (tmock_put_behavior(two.url,
                           "{\"rules\":[{\"action\":{\"type\":\"status\",\"code\":429}}]}") != 0)
        fail_msg("PUT behavior failed");
    send_all(two.url, "after", 64, NCONN, s);
    for (int i = 0; i < 64; i++)
        if (s[i].status != 429)
            fail_msg("after-%d: %ld, not the new behaviour's 429", i, s[i].status);
}

/* A fixed delay on every worker: no answer sooner than asked, by the
 * client's clock and by the journal's. */
static void test_delay_honoured(void **state)
{
    static struct seen s[48];
    reset_and_put(two.url, "{\"latency\":{\"fixed_ms\":100}}");
    uint64_t t0 = co_clock_monotonic_us();
    send_all(two.url, "slow", 48, NCONN, s);
    uint64_t took = co_clock_monotonic_us() - t0;
    for (int i = 0; i < 48; i++) {
        assert_int_equal(s[i].status, 200);
        if (s[i].total_s < 0.100)
            fail_msg("slow-%d answered after %.1f ms, before its 100 ms", i, s[i].total_s * 1e3);
    }
    /* 48 requests, 16 at a time: three waves of 100 ms at the least; the
     * upper bound only catches a delay applied serially (48 x 100 ms). */
    assert_true(took >= 300000);
    assert_true((double)took < 1500000 * mult());
    json_t *a = journal_records(two.url, 48);
    assert_int_equal(json_array_size(a), 48);
    for (size_t k = 0; k < json_array_size(a); k++) {
        json_t *rec = json_array_get(a, k);
        json_int_t arr = json_integer_value(json_object_get(rec, "t_arrival_us"));
        json_int_t dn = json_integer_value(json_object_get(rec, "t_done_us"));
        assert_true(dn - arr >= 100000);
    }
    json_decref(a);
}

/* SIGTERM with requests held (a 30 s delay) on both workers: the mock exits
 * 0 promptly, the clients see their connections end, the process and its
 * threads are gone, and (under the SAN build) nothing leaked or raced. */
static void test_clean_stop_with_held_requests(void **state)
{
    reset_and_put(two.url, "{\"latency\":{\"fixed_ms\":30000}}");
    CURLM *mh = curl_multi_init();
    CURL *h[NCONN];
    char u[300];
    snprintf(u, sizeof u, "%s/v1/chat/completions", two.url);
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    for (int k = 0; k < NCONN; k++) {
        h[k] = curl_easy_init();
        curl_easy_setopt(h[k], CURLOPT_URL, u);
        curl_easy_setopt(h[k], CURLOPT_POSTFIELDS, CHAT);
        curl_easy_setopt(h[k], CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(h[k], CURLOPT_TIMEOUT_MS, 20000L);
        curl_easy_setopt(h[k], CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h[k], CURLOPT_WRITEFUNCTION, discard);
        curl_multi_add_handle(mh, h[k]);
    }
    /* A second for every request to arrive and be held. */
    uint64_t end = co_clock_monotonic_us() + 1000000;
    int running = NCONN;
    while (co_clock_monotonic_us() < end) {
        curl_multi_perform(mh, &running);
        curl_multi_poll(mh, NULL, 0, 20, NULL);
    }
    assert_int_equal(running, NCONN);
    uint64_t t0 = co_clock_monotonic_us();
    assert_int_equal(kill(two.pid, SIGTERM), 0);
    int st = tproc_wait_exit(&two, (int)(10000 * mult()));
    uint64_t stop_us = co_clock_monotonic_us() - t0;
    char *err = tproc_read(&two, 2);
    if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("mock --threads 2 did not exit 0 on SIGTERM (status %d): %s", st, err);
    assert_null(strstr(err ? err : "", "Sanitizer"));
    free(err);
    assert_true((double)stop_us < 5000000 * mult());
    /* The held clients see their connections end, long before 30 s. */
    end = co_clock_monotonic_us() + (uint64_t)(5000000 * mult());
    while (running && co_clock_monotonic_us() < end) {
        curl_multi_perform(mh, &running);
        curl_multi_poll(mh, NULL, 0, 20, NULL);
    }
    assert_int_equal(running, 0);
    int msgs, ok = 0;
    CURLMsg *m;
    while ((m = curl_multi_info_read(mh, &msgs)))
        if (m->msg == CURLMSG_DONE && m->data.result == CURLE_OK)
            ok++;
    assert_int_equal(ok, 0); /* none was answered as if the delay were over */
    for (int k = 0; k < NCONN; k++) {
        curl_multi_remove_handle(mh, h[k]);
        curl_easy_cleanup(h[k]);
    }
    curl_slist_free_all(hdr);
    curl_multi_cleanup(mh);
    errno = 0;
    assert_int_equal(kill(two.pid, 0), -1); /* reaped: no process, no thread left */
    assert_int_equal(errno, ESRCH);
    tproc_stop(&two, SIGTERM, 1000);
}

/* A port held by a --threads mock is not shared with a second mock (one
 * with SO_REUSEPORT could join the group and take half the connections):
 * the second fails as on any port in use, with one thread or two. */
static void test_port_not_shared(void **state)
{
    const char *p = strrchr(two.url, ':');
    assert_non_null(p);
    char port[16];
    snprintf(port, sizeof port, "%s", p + 1);
    char *a2[] = {"mock", "--port", port, "--threads", "2", NULL};
    char *a1[] = {"mock", "--port", port, NULL};
    assert_int_equal(tsup_cutover(5000, a2), 3);
    assert_int_equal(tsup_cutover(5000, a1), 3);
    /* And the first still answers. */
    char u[300];
    struct thttp_resp r;
    snprintf(u, sizeof u, "%s/health", two.url);
    assert_int_equal(thttp_request("GET", u, NULL, NULL, 5000, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    thttp_resp_free(&r);
}

/* A threaded mock restarted on the port its predecessor served: the
 * predecessor closed its clients' connections as it stopped, and those
 * linger on the port (FIN_WAIT_2, TIME_WAIT) with no listener.  The plain
 * bind that checks the port is free must allow them (SO_REUSEADDR), as the
 * one-thread mock's daemon does: before, the restart failed with exit 3
 * "Address already in use" for a minute. */
static void test_restart_on_the_same_port(void **state)
{
    struct tproc a, b;
    const char *s2[] = {"--threads", "2", NULL};
    assert_int_equal(tmock_start(&a, "blue", s2), 0);
    const char *p = strrchr(a.url, ':');
    assert_non_null(p);
    char port[16], u[300];
    snprintf(port, sizeof port, "%s", p + 1);
    snprintf(u, sizeof u, "%s/health", a.url);
    /* A kept-alive connection, open when the mock stops. */
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, u);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    tproc_stop(&a, SIGTERM, 5000);
    curl_easy_cleanup(h);
    const char *again[] = {"--port", port, "--threads", "2", NULL};
    assert_int_equal(tmock_start(&b, "blue", again), 0);
    assert_non_null(strstr(b.url, port));
    tproc_stop(&b, SIGTERM, 5000);
}

/* Bad --threads values are CLI errors: exit 2, nothing started. */
static void test_bad_threads(void **state)
{
    char *a0[] = {"mock", "--threads", "0", NULL};
    char *a1[] = {"mock", "--threads", "65", NULL};
    char *a2[] = {"mock", "--threads", "two", NULL};
    assert_int_equal(tsup_cutover(5000, a0), 2);
    assert_int_equal(tsup_cutover(5000, a1), 2);
    assert_int_equal(tsup_cutover(5000, a2), 2);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thread_counts),
        cmocka_unit_test(test_seeded_faults_journal_and_both_workers),
        cmocka_unit_test(test_control_change_seen_by_every_worker),
        cmocka_unit_test(test_delay_honoured),
        cmocka_unit_test(test_bad_threads),
        cmocka_unit_test(test_port_not_shared),
        cmocka_unit_test(test_restart_on_the_same_port),
        cmocka_unit_test(test_clean_stop_with_held_requests), /* last: it stops the mock */
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
