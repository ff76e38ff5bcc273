/* libmicrohttpd on a libev loop.
 *
 * MHD runs in external mode with its own epoll set: that epoll fd sits in one
 * ev_io, and after every MHD_run we re-arm an ev_timer from MHD_get_timeout.
 * A connection suspended while it waits (for an upstream, a delay, a stall)
 * costs no thread; whoever resumes it calls co_evhttp_kick so that an
 * ev_prepare watcher runs MHD again before the loop next blocks.
 *
 * The struct is caller-allocated (embed it); co_evhttp_stop undoes
 * co_evhttp_start.  The caller must resume every suspended connection before
 * co_evhttp_stop (an MHD rule). */
#ifndef CO_EVHTTP_H
#define CO_EVHTTP_H

#include <ev.h>
#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

struct co_evhttp {
    struct MHD_Daemon *daemon;
    struct ev_loop *loop;
    ev_io io;
    ev_timer timer;
    ev_prepare prepare;
    int kicked;
    uint16_t port; /* the bound port (useful when 0 was asked) */
    unsigned read_timeout_ms;
    unsigned long read_timeouts;              /* connections cut by the read deadline */
    MHD_NotifyConnectionCallback notify_conn; /* the caller's, chained */
    void *notify_conn_cls;
};

struct co_evhttp_opts {
    const char *addr;        /* listen address, default "127.0.0.1" */
    uint16_t port;           /* 0 picks a free port */
    unsigned conn_limit;     /* default 10000 */
    unsigned conn_timeout_s; /* idle connection timeout, default 60 */
    /* A deadline for a whole request head and body (0: none).  MHD's own
     * timeout is an idle timeout that every byte resets, so a client
     * sending a byte every few seconds would hold its slot forever.  The
     * clock starts when the connection opens (and again when a request on
     * it completes); the handler calls co_evhttp_request_read once the
     * request is in.  Uses the connection's socket_context. */
    unsigned read_timeout_ms;
    size_t conn_memory_limit; /* per-connection MHD pool, default 64 KiB */
    int turbo;                /* MHD_USE_TURBO: no shutdown() before close,
                                 optimistic reads (for a proxy's hot path) */
    /* SO_REUSEPORT on the listen socket: several daemons (one per thread,
     * each on its own loop) bind the same port and the kernel spreads new
     * connections over them.  Every one of them must ask for it. */
    int reuse_port;
    MHD_AccessHandlerCallback handler;
    void *handler_cls;
    MHD_RequestCompletedCallback completed; /* may be NULL */
    void *completed_cls;
    MHD_NotifyConnectionCallback notify_conn; /* may be NULL */
    void *notify_conn_cls;
};

/* Returns 0, or -1 with a message in err. */
int co_evhttp_start(struct co_evhttp *h, struct ev_loop *loop, const struct co_evhttp_opts *o,
                    char *err, size_t errlen);
/* Ask for MHD_run before the loop blocks again (after a resume). */
void co_evhttp_kick(struct co_evhttp *h);
/* Run MHD now and re-arm the timer. */
void co_evhttp_run(struct co_evhttp *h);
/* Stop accepting new connections; existing ones go on. */
void co_evhttp_quiesce(struct co_evhttp *h);
/* Stop the daemon and the watchers.  Safe on a zeroed or stopped struct. */
void co_evhttp_stop(struct co_evhttp *h);

/* The request on c is fully read: its read deadline no longer applies. */
void co_evhttp_request_read(struct MHD_Connection *c);
/* The request on c completed: the next one on the connection gets a fresh
 * read deadline. */
void co_evhttp_request_next(struct co_evhttp *h, struct MHD_Connection *c);

/* The client socket of a connection (for SO_LINGER tricks), or -1. */
int co_evhttp_conn_fd(struct MHD_Connection *c);

/* How many fields named name (case-insensitive) the request head holds:
 * MHD keeps each one, and answers a lookup with the first. */
int co_evhttp_count_header(struct MHD_Connection *c, const char *name);

/* RFC 9112 6.3 framing errors a server must refuse and then close the
 * connection on (request smuggling): several Content-Length fields, or
 * Content-Length with Transfer-Encoding.  The message, or NULL when the
 * head is sound. */
const char *co_evhttp_framing_error(struct MHD_Connection *c);

#endif
