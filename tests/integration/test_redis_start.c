/* The fleet's Redis start (harness/fleet_proc.c) on a busy machine: a port
 * another process holds is never taken for the store (before, the wait
 * for "accepts connections" was met by the stranger while redis-server
 * had exited on its failed bind, and the fleet talked to the stranger), and
 * a free port is found again when none is given.  SKIPPED with the reason
 * when redis-server is not installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness/fleet.h"
#include "tests/support/tsupport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/cutover-redis-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int have_redis(void)
{
    if (tsup_installed("redis-server"))
        return 1;
    printf("SKIP redis-server not installed: the fleet's store\n");
    return 0;
}

/* A listening socket on a free loopback port (the stranger); its port. */
static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

static void test_taken_port_is_no_store(void **state)
{
    if (!have_redis())
        skip();
    int port = 0;
    int fd = listen_any(&port);
    assert_true(fd >= 0);
    struct harness_redis rd = {.port = port};
    char err[700] = "";
    assert_int_equal(harness_redis_start(&rd, dir, 3000, err, sizeof err), -1);
    assert_non_null(strstr(err, "exited at start"));
    assert_int_equal(rd.pid, 0);
    assert_int_equal(rd.port, port); /* the caller's port is kept, not swapped */
    close(fd);
}

static void test_free_port_found(void **state)
{
    if (!have_redis())
        skip();
    struct harness_redis rd = {0};
    char err[700] = "";
    assert_int_equal(harness_redis_start(&rd, dir, 5000, err, sizeof err), 0);
    assert_true(rd.pid > 0);
    assert_true(rd.port > 0);
    harness_redis_stop(&rd);
    assert_int_equal(rd.pid, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_taken_port_is_no_store),
        cmocka_unit_test(test_free_port_found),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
