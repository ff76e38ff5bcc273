#include "traw.h"

#include "co_clock.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

uint16_t traw_port(const char *url)
{
    const char *p = strstr(url, "127.0.0.1:");
    return p ? (uint16_t)atoi(p + 10) : 0;
}

int traw_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

size_t traw_exchange(uint16_t port, const void *req, size_t len, char *out, size_t cap,
                     int timeout_ms, int *closed)
{
    size_t got = 0;
    *closed = 0;
    out[0] = 0;
    int fd = traw_connect(port);
    if (fd < 0) {
        *closed = 1;
        return 0;
    }
    /* A peer may close before reading everything: that is an answer too. */
    if (len && send(fd, req, len, MSG_NOSIGNAL) < 0) {
        *closed = 1;
        goto out;
    }
    uint64_t end = co_clock_monotonic_us() + (uint64_t)timeout_ms * 1000;
    for (;;) {
        uint64_t now = co_clock_monotonic_us();
        if (now >= end)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)((end - now) / 1000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        char tmp[4096];
        ssize_t n = recv(fd, tmp, sizeof tmp, 0);
        if (n <= 0) {
            *closed = 1;
            break;
        }
        size_t k = got + (size_t)n < cap - 1 ? (size_t)n : cap - 1 - got;
        memcpy(out + got, tmp, k);
        got += k;
        out[got] = 0;
    }
out:
    close(fd);
    return got;
}

long traw_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    return (long)rl.rlim_cur;
}

long traw_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

long traw_nfds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    long n = 0;
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void *server_main(void *arg)
{
    struct traw_server *s = arg;
    while (!s->stop) {
        struct pollfd p = {.fd = s->lfd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        s->accepted++;
        s->serve(fd, s->arg);
        close(fd);
    }
    return NULL;
}

int traw_server_start(struct traw_server *s, void (*serve)(int fd, void *arg), void *arg)
{
    memset(s, 0, sizeof *s);
    s->serve = serve;
    s->arg = arg;
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->lfd < 0)
        return -1;
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(s->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->lfd, 64) != 0 ||
        getsockname(s->lfd, (struct sockaddr *)&a, &al) != 0) {
        close(s->lfd);
        return -1;
    }
    s->port = ntohs(a.sin_port);
    if (pthread_create(&s->th, NULL, server_main, s) != 0) {
        close(s->lfd);
        return -1;
    }
    return 0;
}

void traw_server_stop(struct traw_server *s)
{
    s->stop = 1;
    pthread_join(s->th, NULL);
    close(s->lfd);
}
