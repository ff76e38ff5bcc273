/* Unit tests for harness/portown.c: a socket this process listens on is
 * found in our own process group and not in another; a port nobody
 * listens on has no owner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness/portown.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

/* A socket listening on a free loopback port; its port in *port. */
static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void test_owner(void **state)
{
    (void)state;
    if (access("/proc/net/tcp", R_OK) != 0) {
        printf("SKIP no /proc: /proc/net/tcp unreadable\n");
        skip();
    }
    int port;
    int fd = listen_any(&port);
    assert_int_equal(harness_port_owner_in_group(port, getpgrp()), 1);
    /* Not a group of ours: the listener is a stranger's to that group. */
    assert_int_equal(harness_port_owner_in_group(port, (pid_t)0x7ffffff0), 0);
    close(fd);
    /* Closed: nobody listens, no answer either way. */
    assert_int_equal(harness_port_owner_in_group(port, getpgrp()), -1);
    /* A socket bound but not listening is no listener. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    if (bind(s, (struct sockaddr *)&a, sizeof a) == 0)
        assert_int_equal(harness_port_owner_in_group(port, getpgrp()), -1);
    close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_owner)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
