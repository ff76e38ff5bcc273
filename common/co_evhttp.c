#include "co_evhttp.h"

#include "co_log.h"
#include "co_mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static void arm_timer(struct co_evhttp *h)
{
    MHD_UNSIGNED_LONG_LONG ms;
    ev_timer_stop(h->loop, &h->timer);
    if (MHD_get_timeout(h->daemon, &ms) == MHD_YES) {
        ev_timer_set(&h->timer, (double)ms / 1000.0, 0.);
        ev_timer_start(h->loop, &h->timer);
    }
}

void co_evhttp_run(struct co_evhttp *h)
{
    if (!h->daemon)
        return;
    h->kicked = 0;
    MHD_run(h->daemon);
    arm_timer(h);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    co_evhttp_run(w->data);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    co_evhttp_run(w->data);
}

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
    struct co_evhttp *h = w->data;
    if (h->kicked)
        co_evhttp_run(h);
}

void co_evhttp_kick(struct co_evhttp *h)
{
    h->kicked = 1;
}

/* At its connection limit MHD takes the listen socket out of its epoll set,
 * and puts it back only at the start of a later MHD_run: after the run that
 * closed a connection nothing else may come, and clients waiting in the
 * backlog would wait for the next timeout.  So a closed connection asks for
 * one more run. */
/* A connection's read deadline.  When it passes before the request is in,
 * the socket is shut down: MHD then sees the end of the stream on its next
 * read and closes the connection the ordinary way (MHD 0.9 has no call to
 * close a connection from outside its handler). */
struct read_deadline {
    ev_timer timer;
    struct co_evhttp *h;
    int fd;
};

static void on_read_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct read_deadline *d = w->data;
    d->h->read_timeouts++;
    co_debug("http: request not read within %ums: closing fd %d", d->h->read_timeout_ms, d->fd);
    shutdown(d->fd, SHUT_RDWR);
    d->h->kicked = 1;
}

static struct read_deadline *deadline_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void co_evhttp_request_read(struct MHD_Connection *c)
{
    struct read_deadline *d = deadline_of(c);
    if (d)
        ev_timer_stop(d->h->loop, &d->timer);
}

void co_evhttp_request_next(struct co_evhttp *h, struct MHD_Connection *c)
{
    struct read_deadline *d = deadline_of(c);
    if (d) {
        ev_timer_stop(h->loop, &d->timer);
        ev_timer_set(&d->timer, (double)h->read_timeout_ms / 1000.0, 0.);
        ev_timer_start(h->loop, &d->timer);
    }
}

static void on_conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                           enum MHD_ConnectionNotificationCode toe)
{
    struct co_evhttp *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
        h->kicked = 1;
    if (h->read_timeout_ms && toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct read_deadline *d = co_calloc(1, sizeof *d);
        d->h = h;
        d->fd = co_evhttp_conn_fd(c);
        ev_timer_init(&d->timer, on_read_deadline, (double)h->read_timeout_ms / 1000.0, 0.);
        d->timer.data = d;
        ev_timer_start(h->loop, &d->timer);
        *socket_context = d;
    } else if (h->read_timeout_ms && toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        struct read_deadline *d = *socket_context;
        ev_timer_stop(h->loop, &d->timer);
        free(d);
        *socket_context = NULL;
    }
    if (h->notify_conn)
        h->notify_conn(h->notify_conn_cls, c, socket_context, toe);
}

/* MHD's own messages go through co_log, so they carry a timestamp, obey the
 * log level and pass the secret redactor.  "Application reported internal
 * error" and "Closing connection (application error ...)" are MHD noting
 * that a handler or content reader closed a connection on purpose (a mock's
 * reset, close or cut fault, say): that is not a warning. */
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    int deliberate = strncmp(msg, "Application reported internal error", 35) == 0 ||
                     strncmp(msg, "Closing connection (application error", 37) == 0;
    /* Keyed by MHD's format: one client per request can trigger these
     * (every aborted connection logs one), so they are rate-limited. */
    co_log_limited(fmt, deliberate ? CO_LOG_DEBUG : CO_LOG_WARN, "http: %s", msg);
}

int co_evhttp_start(struct co_evhttp *h, struct ev_loop *loop, const struct co_evhttp_opts *o,
                    char *err, size_t errlen)
{
    struct sockaddr_in sa;
    memset(h, 0, sizeof *h);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(o->port);
    if (inet_pton(AF_INET, o->addr ? o->addr : "127.0.0.1", &sa.sin_addr) != 1) {
        snprintf(err, errlen, "bad listen address '%s'", o->addr);
        return -1;
    }
    h->loop = loop;
    h->notify_conn = o->notify_conn;
    h->notify_conn_cls = o->notify_conn_cls;
    h->read_timeout_ms = o->read_timeout_ms;
    h->daemon = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
            (o->turbo ? MHD_USE_TURBO : 0),
        o->port, NULL, NULL, o->handler, o->handler_cls, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger,
        NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)(o->conn_limit ? o->conn_limit : 10000), MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)(o->conn_timeout_s ? o->conn_timeout_s : 60), MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(o->conn_memory_limit ? o->conn_memory_limit : 64 * 1024),
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)4096, MHD_OPTION_NOTIFY_COMPLETED, o->completed,
        o->completed_cls, MHD_OPTION_NOTIFY_CONNECTION, on_conn_notify, h,
        /* Last, so that without it the call is what it always was. */
        o->reuse_port ? MHD_OPTION_LISTENING_ADDRESS_REUSE : MHD_OPTION_END, (unsigned)1,
        MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, errlen, "cannot listen on %s:%u: %s", o->addr ? o->addr : "127.0.0.1",
                 (unsigned)o->port, errno ? strerror(errno) : "MHD_start_daemon failed");
        return -1;
    }
    const union MHD_DaemonInfo *li = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_in bound;
    socklen_t blen = sizeof bound;
    if (li && getsockname(li->listen_fd, (struct sockaddr *)&bound, &blen) == 0)
        h->port = ntohs(bound.sin_port);
    else
        h->port = o->port;
    const union MHD_DaemonInfo *ei = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    ev_io_init(&h->io, on_io, ei->epoll_fd, EV_READ);
    h->io.data = h;
    ev_io_start(loop, &h->io);
    ev_init(&h->timer, on_timer);
    h->timer.data = h;
    ev_prepare_init(&h->prepare, on_prepare);
    h->prepare.data = h;
    ev_prepare_start(loop, &h->prepare);
    co_evhttp_run(h);
    return 0;
}

void co_evhttp_quiesce(struct co_evhttp *h)
{
    if (!h->daemon)
        return;
    MHD_socket s = MHD_quiesce_daemon(h->daemon);
    if (s != MHD_INVALID_SOCKET)
        close(s);
}

void co_evhttp_stop(struct co_evhttp *h)
{
    if (!h->daemon)
        return;
    ev_io_stop(h->loop, &h->io);
    ev_timer_stop(h->loop, &h->timer);
    ev_prepare_stop(h->loop, &h->prepare);
    MHD_stop_daemon(h->daemon);
    h->daemon = NULL;
}

int co_evhttp_conn_fd(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

struct count_ctx {
    const char *name;
    int n;
};

static enum MHD_Result count_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct count_ctx *cc = cls;
    (void)kind;
    (void)value;
    if (strcasecmp(key, cc->name) == 0)
        cc->n++;
    return MHD_YES;
}

int co_evhttp_count_header(struct MHD_Connection *c, const char *name)
{
    struct count_ctx cc = {name, 0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_field, &cc);
    return cc.n;
}

const char *co_evhttp_framing_error(struct MHD_Connection *c)
{
    int ncl = co_evhttp_count_header(c, "Content-Length");
    if (ncl > 1)
        return "More than one Content-Length header is not allowed";
    if (ncl && MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding"))
        return "Content-Length and Transfer-Encoding together are not allowed";
    return NULL;
}
