#include "co_evcurl.h"

#include "co_mem.h"

#include <stdlib.h>

/* One per socket curl asks us to watch; assigned to the socket with
 * curl_multi_assign so the socket callback finds it again. */
struct sock_watch {
    ev_io io;
    struct co_evcurl *c;
    curl_socket_t fd;
    struct sock_watch *prev, *next; /* all live watches, freed at cleanup */
};

static void sock_unlink(struct co_evcurl *c, struct sock_watch *sw)
{
    if (sw->prev)
        sw->prev->next = sw->next;
    else
        c->socks = sw->next;
    if (sw->next)
        sw->next->prev = sw->prev;
}

void co_evcurl_check(struct co_evcurl *c)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(c->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode rc = msg->data.result;
        curl_multi_remove_handle(c->multi, easy);
        c->on_done(c, easy, rc);
    }
}

static void action(struct co_evcurl *c, curl_socket_t fd, int flags)
{
    c->in_action++;
    curl_multi_socket_action(c->multi, fd, flags, &c->running);
    c->in_action--;
    co_evcurl_check(c);
}

static void on_sock(struct ev_loop *loop, ev_io *w, int revents)
{
    struct sock_watch *sw = (struct sock_watch *)w;
    int flags = 0;
    if (revents & EV_READ)
        flags |= CURL_CSELECT_IN;
    if (revents & EV_WRITE)
        flags |= CURL_CSELECT_OUT;
    action(sw->c, sw->fd, flags);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct co_evcurl *c = w->data;
    action(c, CURL_SOCKET_TIMEOUT, 0);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct co_evcurl *c = userp;
    struct sock_watch *sw = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (sw) {
            ev_io_stop(c->loop, &sw->io);
            curl_multi_assign(c->multi, fd, NULL);
            sock_unlink(c, sw);
            free(sw);
        }
        return 0;
    }
    if (!sw) {
        sw = co_calloc(1, sizeof *sw);
        sw->c = c;
        sw->fd = fd;
        ev_init(&sw->io, on_sock);
        sw->next = c->socks;
        if (c->socks)
            c->socks->prev = sw;
        c->socks = sw;
        curl_multi_assign(c->multi, fd, sw);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= EV_READ;
    if (what & CURL_POLL_OUT)
        events |= EV_WRITE;
    /* Re-setting an unchanged watcher still costs libev an epoll_ctl. */
    if (ev_is_active(&sw->io) && (sw->io.events & (EV_READ | EV_WRITE)) == events)
        return 0;
    ev_io_stop(c->loop, &sw->io);
    ev_io_set(&sw->io, fd, events);
    ev_io_start(c->loop, &sw->io);
    return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct co_evcurl *c = userp;
    ev_timer_stop(c->loop, &c->timer);
    if (timeout_ms >= 0) {
        /* 0 means "as soon as possible": a zero ev_timer fires on the next
         * loop iteration, outside this callback, as curl requires. */
        ev_timer_set(&c->timer, (double)timeout_ms / 1000.0, 0.);
        ev_timer_start(c->loop, &c->timer);
    }
    return 0;
}

int co_evcurl_init(struct co_evcurl *c, struct ev_loop *loop, co_evcurl_done_fn on_done,
                   long max_host_conns, long max_total_conns)
{
    c->loop = loop;
    c->on_done = on_done;
    c->running = 0;
    c->in_action = 0;
    c->socks = NULL;
    c->multi = curl_multi_init();
    if (!c->multi)
        return -1;
    ev_init(&c->timer, on_timer);
    c->timer.data = c;
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    if (max_host_conns > 0)
        curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, max_host_conns);
    if (max_total_conns > 0)
        curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max_total_conns);
    return 0;
}

void co_evcurl_add(struct co_evcurl *c, CURL *easy)
{
    curl_multi_add_handle(c->multi, easy);
}

void co_evcurl_remove(struct co_evcurl *c, CURL *easy)
{
    curl_multi_remove_handle(c->multi, easy);
}

void co_evcurl_cleanup(struct co_evcurl *c)
{
    if (!c->multi)
        return;
    ev_timer_stop(c->loop, &c->timer);
    curl_multi_cleanup(c->multi);
    c->multi = NULL;
    while (c->socks) {
        struct sock_watch *sw = c->socks;
        ev_io_stop(c->loop, &sw->io);
        sock_unlink(c, sw);
        free(sw);
    }
}
