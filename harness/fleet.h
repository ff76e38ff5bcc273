/* Measurements over a relay fleet's observations (issue 16, item 3): the
 * figures behind the fleet checks fleet_rate_limit, colour_agreement and
 * probe_load.  Pure: plain arrays in, figures out, so each is tested on
 * synthetic data; the runner (replicas, Redis, per-replica observations:
 * docs/fleet.md, "Harness design") fills the arrays.
 *
 * Client times are bounds, not instants: a request's limiter decision
 * happened somewhere between its send and its answer, so every figure here
 * is one the observations prove (a lower bound of a window's admissions, a
 * refusal that no placement of the decisions justifies), never one that a
 * measurement artefact could produce. */
#ifndef HARNESS_FLEET_H
#define HARNESS_FLEET_H

#include <stddef.h>
#include <stdint.h>

/* One client request of the limited client: [lo, hi] brackets the decision
 * (sent, answered), admitted when the relay did not refuse it with 429. */
struct harness_fleet_req {
    uint64_t lo, hi;
    int replica;
    int admitted;
};

struct harness_fleet_rl {
    size_t admitted, refused;
    /* The most admissions certainly inside one window, and the end of that
     * window: more than the limit means the fleet over-admitted. */
    size_t worst;
    uint64_t worst_at;
    /* Refusals no placement justifies: fewer than limit admissions can have
     * been in the window of any instant the decision may have happened at. */
    size_t lost;
    uint64_t first_lost_at; /* lo of the first one, 0 when none */
};

/* Fills out over n requests (any order).  Returns 0, -1 when n is 0 or a
 * request has hi < lo. */
int harness_fleet_rate_limit(const struct harness_fleet_req *r, size_t n, uint64_t window_us,
                             size_t limit, struct harness_fleet_rl *out);

/* What a replica serves from t on: its start (colour at start), a switch,
 * or the colour of a served request.  Colours are 'b' (blue) and 'g'
 * (green); other values are ignored. */
struct harness_fleet_colour {
    uint64_t t;
    int replica;
    char colour;
};

struct harness_fleet_agree {
    /* From t_from (the switch), until every replica serves target: -1 when
     * some never did before the observations end. */
    int64_t lag_us;
    int laggard; /* the replica that took longest, -1 none */
    /* The longest interval in which two replicas served different colours
     * (split brain), and when it began. */
    uint64_t split_us, split_at;
};

/* Replays ev (sorted by t) for nrep replicas.  A replica counts from its
 * first observation on.  Returns 0, -1 on a replica index out of range or
 * events out of order. */
int harness_fleet_agreement(const struct harness_fleet_colour *ev, size_t n, int nrep,
                            uint64_t t_from, char target, uint64_t t_end,
                            struct harness_fleet_agree *out);

/* Health probes the whole fleet sent, per colour. */
struct harness_fleet_probes {
    size_t total[2];        /* blue, green */
    double per_interval[2]; /* mean probes per interval_us over [t0, t1) */
    size_t max_interval[2]; /* most probes in one aligned interval */
};

/* t[i] the arrival of probe i at colour c[i] ('b' or 'g'); probes outside
 * [t0, t1) are ignored.  Returns 0, -1 when t1 <= t0 or interval_us is 0. */
int harness_fleet_probe_load(const uint64_t *t, const char *c, size_t n, uint64_t t0, uint64_t t1,
                             uint64_t interval_us, struct harness_fleet_probes *out);

/* ---- processes and views (harness/fleet_proc.c) ------------------------- */

#include <sys/types.h>

struct harness_obs;

/* The fleet's Redis: Debian's redis-server on a free loopback port, in its
 * own process group, nothing saved (--save '' --appendonly no), never a
 * daemon or a system service; stopped by its PID. */
struct harness_redis {
    pid_t pid; /* 0: not running */
    int port;
    char url[64]; /* redis://127.0.0.1:PORT/0 */
    char dir[512];
    int paused;
    int starts; /* how many times it was started (its output files) */
};

/* Starts redis-server in dir (its output there as redis.N.out/.err) on
 * rd->port, or a free port when 0; waits up to wait_ms for it to accept
 * connections when wait_ms > 0.  A free port another process takes before
 * the server binds it is replaced by another (up to three tries); a port
 * the caller chose that another process holds is an error, never a
 * stranger taken for the store.  Returns 0, -1 with why in err (with the
 * install hint when redis-server is missing). */
int harness_redis_start(struct harness_redis *rd, const char *dir, int wait_ms, char *err,
                        size_t errlen);
/* SIGSTOP / SIGCONT (pause, resume). */
void harness_redis_pause(struct harness_redis *rd, int pause);
/* SIGKILL to its group and reap: Redis down at once (redis_stop). */
void harness_redis_kill(struct harness_redis *rd);
/* Teardown: SIGCONT, SIGTERM, a bounded wait, then SIGKILL; always reaps. */
void harness_redis_stop(struct harness_redis *rd);

/* The observations of one replica: its requests, its events, and the
 * upstream traffic attempts of its requests (health probes cannot be told
 * apart by replica and are all kept).  Fills out (its arrays are copies,
 * freed with harness_obs_free); the scalars are in's. */
void harness_fleet_obs_replica(const struct harness_obs *in, int replica, struct harness_obs *out);

/* The fleet checks (rows of harness/checks.c; docs/scenarios.md):
 * fleet_rate_limit {limit, window_ms, key}, colour_agreement {after, to,
 * within_ms, view}, probe_load {max_per_interval, interval_ms, env}. */
#include <jansson.h>
struct report_check;
void harness_ck_fleet_rate_limit(const json_t *c, const struct harness_obs *o,
                                 struct report_check *v);
void harness_ck_colour_agreement(const json_t *c, const struct harness_obs *o,
                                 struct report_check *v);
void harness_ck_probe_load(const json_t *c, const struct harness_obs *o, struct report_check *v);
/* Non-zero for a fleet-wide check (it takes no "replica"). */
int harness_fleet_is_check(const char *name);

#endif
