/* libcurl's multi interface on a libev loop, after curl's
 * docs/examples/multi-uv.c: curl tells us which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION) and when to time out (CURLMOPT_TIMERFUNCTION);
 * we answer with curl_multi_socket_action from ev_io and ev_timer watchers.
 * Timeouts are kept in milliseconds as doubles: a sub-second timeout never
 * becomes 0 by integer division (the evhiperfifo.c bug).
 *
 * When a transfer finishes, it is removed from the multi handle and on_done is
 * called; the callee owns the easy handle from then on (clean it up or add it
 * again).  The struct is caller-allocated. */
#ifndef CO_EVCURL_H
#define CO_EVCURL_H

#include <curl/curl.h>
#include <ev.h>

struct co_evcurl;
struct sock_watch;
typedef void (*co_evcurl_done_fn)(struct co_evcurl *c, CURL *easy, CURLcode result);

struct co_evcurl {
    CURLM *multi;
    struct ev_loop *loop;
    ev_timer timer;
    co_evcurl_done_fn on_done;
    void *data; /* the owner's */
    int running;
    int in_action; /* re-entrancy guard */
    struct sock_watch *socks;
};

/* max_host_conns caps connections per host (0 = no cap); max_total likewise.
 * Returns 0 or -1. */
int co_evcurl_init(struct co_evcurl *c, struct ev_loop *loop, co_evcurl_done_fn on_done,
                   long max_host_conns, long max_total_conns);
/* Starts a transfer. */
void co_evcurl_add(struct co_evcurl *c, CURL *easy);
/* Aborts a transfer without calling on_done; the caller still owns easy. */
void co_evcurl_remove(struct co_evcurl *c, CURL *easy);
/* Removes every watcher and the multi handle (transfers still running are
 * abandoned: remove them first). */
void co_evcurl_cleanup(struct co_evcurl *c);
/* Process finished transfers now (normally automatic). */
void co_evcurl_check(struct co_evcurl *c);

#endif
