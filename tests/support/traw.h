/* Raw TCP helpers for the bad-input and load tests: bytes no HTTP library
 * would send (CR in a header, a TLS hello, a request that never ends), a
 * tiny upstream that answers with bytes no HTTP library would produce, and
 * a process's RSS and open fds read from /proc. */
#ifndef TRAW_H
#define TRAW_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The port of "http://127.0.0.1:PORT[/...]", or 0. */
uint16_t traw_port(const char *url);

/* A blocking TCP connection to 127.0.0.1:port, or -1. */
int traw_connect(uint16_t port);

/* Sends req, then reads until the peer closes or timeout_ms passes.  out is
 * NUL-terminated (truncated to cap-1 bytes).  Returns bytes read; *closed is
 * 1 when the peer closed (EOF or reset), 0 on timeout. */
size_t traw_exchange(uint16_t port, const void *req, size_t len, char *out, size_t cap,
                     int timeout_ms, int *closed);

/* Raises RLIMIT_NOFILE to its hard limit; returns the new soft limit. */
long traw_raise_nofile(void);

/* Resident set (kB) and open fd count of a process, or -1. */
long traw_rss_kb(pid_t pid);
long traw_nfds(pid_t pid);

/* A loopback server on a thread: each accepted connection is handed to
 * serve(fd, arg) in turn (serve must return in bounded time; the server
 * closes fd after it).  stop joins the thread. */
struct traw_server {
    int lfd;
    uint16_t port;
    pthread_t th;
    volatile int stop;
    void (*serve)(int fd, void *arg);
    void *arg;
    volatile unsigned accepted;
};

int traw_server_start(struct traw_server *s, void (*serve)(int fd, void *arg), void *arg);
void traw_server_stop(struct traw_server *s);

#endif
