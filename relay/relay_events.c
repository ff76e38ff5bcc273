#include "relay_events.h"

#include "co_buf.h"
#include "co_clock.h"
#include "co_log.h"
#include "co_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Above this much buffered text we write at once instead of waiting for the
 * end of the loop turn. */
#define EVENTS_FLUSH_AT (64 * 1024)
#define EVENTS_LINE_MAX 8192

struct relay_events {
    int fd;
    char *path;
    struct co_buf buf;
    unsigned long dropped;
    uint64_t write_errors; /* failed writes: their bytes are lost */
    int last_errno;
};

struct relay_events *relay_events_open(const char *path, char *err, size_t errlen)
{
    /* Non-blocking: a FIFO or pipe whose reader lags must not stall the
     * loop (every client waits on it); what cannot be written yet stays
     * buffered, and lines beyond the bounded buffer are dropped and
     * counted.  (A regular file ignores the flag.) */
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "events: cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct relay_events *ev = co_calloc(1, sizeof *ev);
    ev->fd = fd;
    ev->path = co_strdup(path);
    co_buf_init(&ev->buf, 4 * EVENTS_FLUSH_AT);
    return ev;
}

/* Writes what it can; returns 1 when bytes are left because the reader
 * is not keeping up (EAGAIN), else 0. */
static int flush_some(struct relay_events *ev)
{
    size_t off = 0;
    int again = 0;
    while (off < ev->buf.len) {
        ssize_t w = write(ev->fd, ev->buf.data + off, ev->buf.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            again = 1;
            break;
        }
        if (w <= 0) {
            /* A full disk must not stop the relay, nor go unnoticed: the
             * bytes are dropped, counted, and warned about (co_warn is
             * rate-limited per call site). */
            ev->write_errors++;
            ev->last_errno = w < 0 ? errno : EIO;
            co_warn("events: cannot write %s: %s (%llu failed writes; events lost)", ev->path,
                    strerror(ev->last_errno), (unsigned long long)ev->write_errors);
            off = ev->buf.len;
            break;
        }
        off += (size_t)w;
    }
    if (off < ev->buf.len)
        memmove(ev->buf.data, ev->buf.data + off, ev->buf.len - off);
    ev->buf.len -= off;
    return again;
}

void relay_events_flush(struct relay_events *ev)
{
    if (!ev || ev->buf.len == 0)
        return;
    flush_some(ev);
}

int relay_events_check(struct relay_events *ev, char *err, size_t errlen)
{
    if (!ev)
        return 0;
    relay_events_flush(ev);
    if (!ev->write_errors)
        return 0;
    snprintf(err, errlen, "events: cannot write %s: %s", ev->path, strerror(ev->last_errno));
    return -1;
}

uint64_t relay_events_write_errors(const struct relay_events *ev)
{
    return ev ? ev->write_errors : 0;
}

void relay_events_emit(struct relay_events *ev, const char *type, json_t *fields)
{
    if (!ev) {
        json_decref(fields);
        return;
    }
    char when[CO_RFC3339_LEN];
    json_t *o = json_object();
    json_object_set_new(o, "t_us", json_integer((json_int_t)co_now_us()));
    json_object_set_new(o, "time", json_string(co_wall_rfc3339(when, sizeof when)));
    json_object_set_new(o, "type", json_string(type));
    if (fields)
        json_object_update(o, fields);
    json_decref(fields);
    char *line = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!line)
        return;
    char clean[EVENTS_LINE_MAX];
    const char *out = line;
    if (co_has_secret(line))
        out = co_redact(line, clean, sizeof clean);
    size_t len = strlen(out);
    if (ev->buf.len + len + 1 > ev->buf.toobig)
        relay_events_flush(ev);
    if (ev->buf.len + len + 1 <= ev->buf.toobig && co_buf_append(&ev->buf, out, len) == 0) {
        co_buf_append(&ev->buf, "\n", 1);
    } else {
        /* The reader lags by a whole buffer, or the line is longer than
         * it: drop the line rather than block the loop. */
        if (ev->dropped++ == 0)
            co_warn("events: the log's reader is not keeping up; dropping events");
    }
    free(line);
    if (ev->buf.len >= EVENTS_FLUSH_AT)
        relay_events_flush(ev);
}

void relay_events_close(struct relay_events **pev)
{
    struct relay_events *ev = *pev;
    if (!ev)
        return;
    /* At exit, wait a bounded time (2 s) for a slow reader to take the
     * rest. */
    for (int i = 0; i < 20 && ev->buf.len && flush_some(ev); i++) {
        struct pollfd p = {.fd = ev->fd, .events = POLLOUT};
        poll(&p, 1, 100);
    }
    if (ev->dropped || ev->buf.len)
        co_warn("events: %lu events dropped, %zu bytes unwritten (slow reader)", ev->dropped,
                ev->buf.len);
    close(ev->fd);
    free(ev->path);
    co_buf_free(&ev->buf);
    free(ev);
    *pev = NULL;
}
