/* The pure half of a relay fleet's shared state (relay_shared.c does the
 * I/O): the shared store's URL, the names of the keys and channel, the two
 * server-side Lua scripts, what their replies mean (read from hiredis's
 * redisReply structs, never from raw protocol text), and the rule by which
 * a replica takes the fleet's colour.
 *
 * The fleet's colour is a Redis hash {epoch, active, previous, reason,
 * replica}.  Every change of it goes through the colour script, which
 * compares the epoch the replica last saw with the stored one and writes
 * only when they match (compare-and-set), so two replicas deciding a switch
 * at the same moment resolve to one: the loser reads the winner's state in
 * its reply and takes it. */
#ifndef RELAY_FLEET_H
#define RELAY_FLEET_H

#include "relay_ratelimit.h"
#include "relay_switch.h"

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#define RELAY_FLEET_HOST_MAX 256

struct relay_fleet_url {
    char host[RELAY_FLEET_HOST_MAX];
    int port;       /* 6379 when the URL has none */
    int db;         /* 0 when the URL has no /DB */
    char *password; /* from redis://:PASSWORD@host, or NULL; the caller frees */
};

/* Parses redis://HOST[:PORT][/DB] (libcurl's URL parser does the syntax).
 * Returns 0, or -1 with what was expected in err. */
int relay_fleet_parse_url(const char *url, struct relay_fleet_url *u, char *err, size_t errlen);

/* Key and channel names, all under prefix (default "cutover:"):
 *   PREFIXrl:CLIENT        the sorted set of one client's admissions
 *   PREFIXcolour           the hash of the fleet's colour
 *   PREFIXcolour:changed   the channel a colour change is published on
 * Each returns 0, or -1 when out (n bytes) is too small. */
int relay_fleet_rl_key(const char *prefix, const char *client, char *out, size_t n);
int relay_fleet_colour_key(const char *prefix, char *out, size_t n);
int relay_fleet_channel(const char *prefix, char *out, size_t n);

/* The sliding-window script.  KEYS[1] the client's set; ARGV window_us,
 * limit, a member unique in the fleet.  Redis's own clock (TIME) dates the
 * admission, so replicas with skewed clocks share one window.  Returns
 * {admitted 0|1, remaining, reset_ms}. */
extern const char relay_fleet_rl_script[];
/* The colour script.  KEYS[1] the colour hash; ARGV mode ("read", "init" or
 * "cas"), epoch, active, previous, reason, replica, channel.
 *   read  returns the stored state;
 *   init  stores ours when nothing is stored or the stored epoch is older
 *         (Redis restarted empty, or lost our last write);
 *   cas   stores ours with epoch+1 when the stored epoch is ours.
 * A write publishes the new epoch on the channel.  Returns
 * {epoch, active, previous, wrote 0|1}; active is nil when nothing is stored. */
extern const char relay_fleet_colour_script[];

/* Reads the sliding-window script's reply into v (limit is the configured
 * limit, as the local limiter reports it).  Returns 0, or -1 when the reply
 * is not what the script returns (an error reply included). */
int relay_fleet_rl_reply(const redisReply *rep, uint64_t limit, struct relay_rl_verdict *v);

struct relay_fleet_colour {
    uint64_t epoch;
    int stored;                      /* 0: no colour stored yet */
    enum relay_env active, previous; /* valid when stored */
    int wrote;                       /* the script wrote our state */
};

/* Reads the colour script's reply.  Returns 0, or -1 when malformed (an
 * error reply, a colour that is not blue or green). */
int relay_fleet_colour_reply(const redisReply *rep, struct relay_fleet_colour *out);

enum relay_fleet_act {
    RELAY_FLEET_KEEP,  /* ours is the fleet's */
    RELAY_FLEET_ADOPT, /* take the fleet's epoch (and its colour if it differs) */
    RELAY_FLEET_PUSH,  /* the store is behind us (restarted empty): write ours */
};

/* What a replica at (epoch, active) does with the fleet's state as read.
 * A newer epoch is taken; at the same epoch the store wins a disagreement
 * (a replica switched on its own while the store was down); an older or
 * missing state is pushed. */
enum relay_fleet_act relay_fleet_decide(uint64_t epoch, enum relay_env active,
                                        const struct relay_fleet_colour *fleet);

/* Bounds what a reply may make the relay allocate: hiredis allocates an
 * array as long as the reply's header declares (up to 2^32 elements in
 * 0.14), before any element arrives.  The relay's replies hold at most 4
 * elements; a reader bounded here refuses a header above
 * RELAY_FLEET_MAX_ELEMENTS as an error (the connection then drops, as on
 * any protocol error).  Keeps hiredis's own functions for everything else. */
#define RELAY_FLEET_MAX_ELEMENTS 64
void relay_fleet_reader_bound(redisReader *r);

/* "open" or "closed" (shared_fail) to 1 (open) or 0; -1 when unknown. */
int relay_fleet_fail_parse(const char *s);

#endif
