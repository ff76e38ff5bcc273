/* The relay's resource bounds from the performance work: max_clients caps
 * the client connections open at once (beyond it new ones wait in the
 * listen backlog, and are served as soon as a slot frees), and an event log
 * whose reader stops reading (a FIFO) never stalls the loop: requests keep
 * being answered while events are dropped and counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "co_clock.h"
#include "tests/support/traw.h"
#include "tests/support/tsupport.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHAT "{\"model\":\"gpt-4.1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"

/* Sends a keep-alive GET /health on fd and reads the answer's first bytes
 * within timeout_ms; returns 1 when an HTTP status line came back. */
static int health_on(int fd, int timeout_ms)
{
    static const char req[] = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1))
        return 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) != 1)
        return 0;
    char buf[512];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    return n >= 12 && strncmp(buf, "HTTP/1.1 200", 12) == 0;
}

static void test_max_clients(void **state)
{
    enum { MAX = 4 };
    struct tproc relay;
    const char *ra[] = {"--health-interval-ms", "0", "--max-clients", "4", NULL};
    assert_int_equal(trelay_start(&relay, "http://127.0.0.1:9/v1", "http://127.0.0.1:9/v2", ra), 0);
    uint16_t port = traw_port(relay.url);
    int fds[MAX];
    for (int i = 0; i < MAX; i++) {
        fds[i] = traw_connect(port);
        assert_true(fds[i] >= 0);
        assert_true(health_on(fds[i], 5000));
    }
    /* One more waits in the listen backlog, unanswered... */
    int extra = traw_connect(port);
    assert_true(extra >= 0);
    assert_false(health_on(extra, 1000));
    for (int i = 0; i < MAX; i++)
        assert_true(health_on(fds[i], 5000));
    /* ...until a client leaves: then it is served at once (MHD puts its
     * listen socket back only on a later run, which co_evhttp asks for). */
    close(fds[0]);
    uint64_t t0 = co_clock_monotonic_us();
    struct pollfd p = {.fd = extra, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    char buf[64] = {0};
    assert_true(recv(extra, buf, sizeof buf - 1, 0) >= 12);
    assert_true(strncmp(buf, "HTTP/1.1 200", 12) == 0);
    print_message("waiting client served %llu us after a slot freed\n",
                  (unsigned long long)(co_clock_monotonic_us() - t0));
    fds[0] = extra;
    for (int i = 0; i < MAX; i++)
        close(fds[i]);
    assert_int_equal(tproc_stop(&relay, SIGTERM, 10000) & 0x7f, 0);
}

static void test_stuck_event_reader(void **state)
{
    enum { N = 2000 }; /* ~1 MB of events: more than a pipe's and the relay's buffers */
    char fifo[128];
    snprintf(fifo, sizeof fifo, "/tmp/cutover-limits-%d.fifo", (int)getpid());
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    /* A reader that never reads (the FIFO must have one to be opened for
     * writing without blocking). */
    int rd = open(fifo, O_RDONLY | O_NONBLOCK);
    assert_true(rd >= 0);
    struct tproc mock, relay;
    assert_int_equal(tmock_start(&mock, "blue", NULL), 0);
    char bu[300];
    snprintf(bu, sizeof bu, "%s/v1", mock.url);
    const char *ra[] = {
        "--health-interval-ms", "0", "--rate-limit-requests", "0", "--events", fifo, NULL};
    assert_int_equal(trelay_start(&relay, bu, bu, ra), 0);
    char u[300];
    snprintf(u, sizeof u, "%s/v1/chat/completions", relay.url);
    uint64_t t0 = co_clock_monotonic_us();
    for (int i = 0; i < N; i++) {
        struct thttp_resp r;
        thttp_request("POST", u, CHAT, NULL, 5000, &r);
        if (r.status != 200)
            fail_msg("request %d: status %ld (%s) after %llu ms", i, r.status, r.errbuf,
                     (unsigned long long)(co_clock_monotonic_us() - t0) / 1000);
        thttp_resp_free(&r);
    }
    /* The relay says it drops, and exits promptly (close waits at most
     * 2 s for the reader). */
    assert_int_equal(tproc_wait_output(&relay, 2, "dropping events", 5000), 0);
    uint64_t t1 = co_clock_monotonic_us();
    assert_int_equal(tproc_stop(&relay, SIGTERM, 10000) & 0x7f, 0);
    assert_true(co_clock_monotonic_us() - t1 < 8000000);
    /* What was written is whole lines: the reader can still parse it. */
    char buf[4096];
    ssize_t n = read(rd, buf, sizeof buf);
    assert_true(n > 0);
    assert_true(buf[0] == '{');
    close(rd);
    unlink(fifo);
    tproc_stop(&mock, SIGTERM, 5000);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_clients),
        cmocka_unit_test(test_stuck_event_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
