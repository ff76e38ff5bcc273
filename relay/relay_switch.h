/* Which colour is active, and when to change it.  Pure state machine over
 * plain structs with the clock passed in:
 *
 * - Request outcomes: K consecutive switchable failures of the active colour
 *   switch to the other colour, if the other is healthy, is not itself on a
 *   failure streak (that is how the seed flip-flopped under concurrent
 *   failures) and the active colour has been active at least min_dwell.
 *   Failures seen on a colour that is no longer active never switch back.
 * - Health checks: `rise` consecutive good checks make a colour healthy,
 *   `fall` consecutive bad ones unhealthy; an active colour that turns
 *   unhealthy is left at once for a healthy other one (dwell does not hold
 *   us on a dead colour).
 * - Admin: a forced switch, and rollback to the colour before the last
 *   switch.
 * - Fail-back (mode primary-fallback only): after an automatic switch away
 *   from the primary, back to it once `failback_rise` consecutive health
 *   checks of the primary passed since that switch, failback_after has
 *   elapsed since it, and min_dwell too.  Blue-green mode stays where it is
 *   (a cutover is for good); so does an admin switch in either mode.
 * A colour is healthy until a check says otherwise. */
#ifndef RELAY_SWITCH_H
#define RELAY_SWITCH_H

#include <stdint.h>

enum relay_env { RELAY_BLUE, RELAY_GREEN, RELAY_DIRECT, RELAY_NENV };

const char *relay_env_name(enum relay_env e);
/* Returns the colour for "blue"/"green"/"direct", or -1. */
int relay_env_parse(const char *s);

enum relay_mode { RELAY_MODE_BLUE_GREEN, RELAY_MODE_PRIMARY_FALLBACK };
/* "blue-green" / "primary-fallback"; -1 when neither. */
int relay_mode_parse(const char *s);
const char *relay_mode_name(enum relay_mode m);

struct relay_switch_cfg {
    unsigned after_failures; /* K, at least 1 */
    uint64_t min_dwell_us;
    unsigned rise, fall; /* at least 1 each */
    enum relay_mode mode;
    enum relay_env primary; /* primary-fallback: blue or green */
    uint64_t failback_after_us;
    unsigned failback_rise; /* at least 1 */
};

/* What relay_switch_on_health did. */
enum relay_switched { RELAY_SW_NONE, RELAY_SW_HEALTH, RELAY_SW_FAILBACK };

struct relay_env_state {
    int healthy;
    unsigned good_checks, bad_checks; /* consecutive, towards rise/fall */
    unsigned fail_streak;             /* consecutive switchable request failures */
};

struct relay_switch {
    struct relay_switch_cfg cfg;
    enum relay_env active;   /* blue or green */
    enum relay_env previous; /* the colour before the last switch */
    uint64_t since_us;       /* when active became active */
    struct relay_env_state env[2];
    int auto_away;            /* on the fallback by an automatic switch */
    unsigned failback_checks; /* the primary's good checks in a row since */
};

void relay_switch_init(struct relay_switch *s, const struct relay_switch_cfg *cfg,
                       enum relay_env active, uint64_t now_us);

/* An attempt on env finished: ok (a success), or a failure that is
 * switchable or not.  Returns 1 when it switched the active colour. */
int relay_switch_on_result(struct relay_switch *s, enum relay_env env, int ok, int switchable,
                           uint64_t now_us);

/* A health check of env.  *changed is set to 1 when env's health flipped.
 * Returns RELAY_SW_HEALTH when the active colour turned unhealthy and it
 * switched away, RELAY_SW_FAILBACK when it went back to the primary, else
 * RELAY_SW_NONE (0). */
int relay_switch_on_health(struct relay_switch *s, enum relay_env env, int ok, uint64_t now_us,
                           int *changed);

/* Admin switch to env (blue or green): returns 1 when active changed, 0 when
 * it already was env. */
int relay_switch_force(struct relay_switch *s, enum relay_env env, uint64_t now_us);
/* Back to the colour before the last switch; returns 1 when it switched. */
int relay_switch_rollback(struct relay_switch *s, uint64_t now_us);

int relay_switch_healthy(const struct relay_switch *s, enum relay_env env);

/* Primary-fallback: 1 when the relay should go back to the primary now. */
int relay_switch_failback_due(const struct relay_switch *s, uint64_t now_us);

#endif
