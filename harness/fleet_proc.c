/* The fleet's processes and per-replica views (docs/fleet.md, "Harness
 * design"): the Redis the runner starts for the replicas, and the
 * observations of one replica for checks asked "replica": i. */
#include "harness/fleet.h"
#include "harness/portown.h"

#include "co_clock.h"
#include "co_mem.h"
#include "harness/obs.h"
#include "harness/runner.h"
#include "harness/spawn.h"
#include "harness/vutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Does something accept connections on 127.0.0.1:port right now? */
static int accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* Has the process ended (reaped here)? */
static int gone(struct harness_redis *rd)
{
    int st;
    if (rd->pid <= 0)
        return 1;
    pid_t w = waitpid(rd->pid, &st, WNOHANG);
    if (w == rd->pid || (w < 0 && errno == ECHILD)) {
        rd->pid = 0;
        return 1;
    }
    return 0;
}

/* 0, -1, or -2: the server exited at start (its port taken, say). */
static int redis_start_once(struct harness_redis *rd, const char *dir, int wait_ms, char *err,
                            size_t errlen);

/* A port picked here can be taken by another process before redis-server
 * binds it (a busy machine hands ephemeral ports out fast, and tests run
 * side by side): then the server exits at start, and another free port is
 * tried, up to three.  A port the caller chose (a restart on the same
 * port) is kept. */
int harness_redis_start(struct harness_redis *rd, const char *dir, int wait_ms, char *err,
                        size_t errlen)
{
    int picked = !rd->port;
    for (int tries = 0;; tries++) {
        int rc = redis_start_once(rd, dir, wait_ms, err, errlen);
        if (rc != -2)
            return rc;
        if (!picked || tries == 2)
            return -1;
        rd->port = 0; /* exited at start: try another port */
    }
}

static int redis_start_once(struct harness_redis *rd, const char *dir, int wait_ms, char *err,
                            size_t errlen)
{
    if (!rd->port)
        rd->port = harness_free_port();
    if (rd->port <= 0) {
        snprintf(err, errlen, "redis: no free port on 127.0.0.1");
        return -1;
    }
    harness_v_fmt(rd->dir, sizeof rd->dir, "%s", dir);
    snprintf(rd->url, sizeof rd->url, "redis://127.0.0.1:%d/0", rd->port);
    char port[16], out[600], errp[600];
    snprintf(port, sizeof port, "%d", rd->port);
    rd->starts++;
    harness_v_fmt(out, sizeof out, "%s/redis.%d.out", dir, rd->starts);
    harness_v_fmt(errp, sizeof errp, "%s/redis.%d.err", dir, rd->starts);
    /* Nothing on disk, no daemon, loopback only: a scratch store that dies
     * with the run.  --dir keeps any file it might still write in the
     * run's folder. */
    char *argv[] = {
        "redis-server", "--port",      port, "--bind", "127.0.0.1", "--save",    "", "--appendonly",
        "no",           "--daemonize", "no", "--dir",  (char *)dir, "--logfile", "", NULL};
    struct harness_spawn sp = {.argv = argv,
                               .out_path = out,
                               .err_path = errp,
                               .stop_signal = SIGTERM,
                               /* A paused Redis (SIGSTOP) must die with the runner too; it has
                                * no children of its own to end (--save ''). */
                               .death_signal = SIGKILL};
    pid_t pid = harness_spawn(&sp, err, errlen);
    if (pid < 0) {
        const char *hint = harness_install_hint("redis-server");
        size_t len = strlen(err);
        if (hint && len + 1 < errlen)
            snprintf(err + len, errlen - len, "; install it with %s", hint);
        return -1;
    }
    rd->pid = pid;
    rd->paused = 0;
    uint64_t until = co_now_us() + (uint64_t)wait_ms * 1000;
    /* Ready when the listener on the port is ours: another process may
     * hold it (ours then exits on its failed bind), and its accepting must
     * not pass for the store's.  Owner unknown (/proc unreadable): the
     * accept alone decides, as before. */
    while (wait_ms > 0 && !(accepts(rd->port) && harness_port_owner_in_group(rd->port, rd->pid))) {
        if (gone(rd)) {
            snprintf(err, errlen, "redis-server exited at start (port %d; see %s)", rd->port, errp);
            return -2;
        }
        if (co_now_us() > until) {
            snprintf(err, errlen, "redis-server did not accept connections on port %d within %d ms",
                     rd->port, wait_ms);
            harness_redis_stop(rd);
            return -1;
        }
        co_sleep_us(5000);
    }
    return 0;
}

void harness_redis_pause(struct harness_redis *rd, int pause)
{
    if (rd->pid <= 0)
        return;
    kill(-rd->pid, pause ? SIGSTOP : SIGCONT);
    rd->paused = pause;
}

void harness_redis_kill(struct harness_redis *rd)
{
    if (rd->pid <= 0)
        return;
    kill(-rd->pid, SIGKILL);
    int st;
    waitpid(rd->pid, &st, 0);
    rd->pid = 0;
    rd->paused = 0;
}

void harness_redis_stop(struct harness_redis *rd)
{
    if (rd->pid <= 0)
        return;
    kill(-rd->pid, SIGCONT);
    kill(-rd->pid, SIGTERM);
    uint64_t until = co_now_us() + 2000000;
    while (!gone(rd) && co_now_us() < until)
        co_sleep_us(5000);
    harness_redis_kill(rd);
}

void harness_fleet_obs_replica(const struct harness_obs *in, int replica, struct harness_obs *out)
{
    *out = *in;
    out->reqs = co_calloc(in->n_reqs + 1, sizeof *out->reqs);
    out->n_reqs = 0;
    for (size_t i = 0; i < in->n_reqs; i++)
        if (in->reqs[i].replica == replica)
            out->reqs[out->n_reqs++] = in->reqs[i];
    out->evs = co_calloc(in->n_evs + 1, sizeof *out->evs);
    out->n_evs = 0;
    for (size_t i = 0; i < in->n_evs; i++)
        if (in->evs[i].replica == replica)
            out->evs[out->n_evs++] = in->evs[i];
    out->have_events = replica >= 0 && replica < 8 && in->replica_events[replica];
    /* Attempts: the health probes, and the traffic attempts of this
     * replica's requests (found through the request index). */
    out->atts = co_calloc(in->n_atts + 1, sizeof *out->atts);
    out->n_atts = 0;
    char *keep = co_calloc(in->n_atts + 1, 1);
    for (size_t i = 0; i < in->n_atts; i++)
        keep[i] = (char)in->atts[i].health;
    for (size_t i = 0; i < out->n_reqs; i++) {
        size_t n;
        const size_t *idx = harness_obs_attempts(in, out->reqs[i].id, &n);
        for (size_t k = 0; k < n; k++)
            keep[idx[k]] = 1;
    }
    for (size_t i = 0; i < in->n_atts; i++)
        if (keep[i])
            out->atts[out->n_atts++] = in->atts[i];
    free(keep);
    out->by_req = NULL;
    out->n_by_req = 0;
    harness_obs_index(out);
}
