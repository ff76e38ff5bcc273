#include "relay_switch.h"

#include <string.h>

static const char *const env_names[] = {"blue", "green", "direct"};

const char *relay_env_name(enum relay_env e)
{
    return (unsigned)e < RELAY_NENV ? env_names[e] : "none";
}

int relay_env_parse(const char *s)
{
    for (int i = 0; i < RELAY_NENV; i++)
        if (strcmp(s, env_names[i]) == 0)
            return i;
    return -1;
}

static const char *const mode_names[] = {"blue-green", "primary-fallback"};

int relay_mode_parse(const char *s)
{
    for (int i = 0; s && i < 2; i++)
        if (strcmp(s, mode_names[i]) == 0)
            return i;
    return -1;
}

const char *relay_mode_name(enum relay_mode m)
{
    return (unsigned)m < 2 ? mode_names[m] : "blue-green";
}

static enum relay_env other(enum relay_env e)
{
    return e == RELAY_BLUE ? RELAY_GREEN : RELAY_BLUE;
}

void relay_switch_init(struct relay_switch *s, const struct relay_switch_cfg *cfg,
                       enum relay_env active, uint64_t now_us)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    if (s->cfg.after_failures < 1)
        s->cfg.after_failures = 1;
    if (s->cfg.rise < 1)
        s->cfg.rise = 1;
    if (s->cfg.fall < 1)
        s->cfg.fall = 1;
    if (s->cfg.failback_rise < 1)
        s->cfg.failback_rise = 1;
    if (s->cfg.primary != RELAY_GREEN)
        s->cfg.primary = RELAY_BLUE;
    s->active = active == RELAY_GREEN ? RELAY_GREEN : RELAY_BLUE;
    s->previous = other(s->active);
    s->since_us = now_us;
    s->env[0].healthy = s->env[1].healthy = 1;
}

int relay_switch_healthy(const struct relay_switch *s, enum relay_env env)
{
    return env < RELAY_DIRECT ? s->env[env].healthy : 1;
}

static void do_switch(struct relay_switch *s, enum relay_env to, uint64_t now_us)
{
    s->previous = s->active;
    s->active = to;
    s->since_us = now_us;
    s->failback_checks = 0;
    s->auto_away = 0;
}

/* A switch the relay decided itself (failures, health): the one a
 * fail-back may undo. */
static void auto_switch(struct relay_switch *s, enum relay_env to, uint64_t now_us)
{
    do_switch(s, to, now_us);
    s->auto_away = to != s->cfg.primary;
}

int relay_switch_failback_due(const struct relay_switch *s, uint64_t now_us)
{
    if (s->cfg.mode != RELAY_MODE_PRIMARY_FALLBACK || !s->auto_away ||
        s->active == s->cfg.primary || !s->env[s->cfg.primary].healthy)
        return 0;
    uint64_t on_fallback = now_us - s->since_us;
    return s->failback_checks >= s->cfg.failback_rise && on_fallback >= s->cfg.failback_after_us &&
           on_fallback >= s->cfg.min_dwell_us;
}

int relay_switch_on_result(struct relay_switch *s, enum relay_env env, int ok, int switchable,
                           uint64_t now_us)
{
    if (env >= RELAY_DIRECT)
        return 0;
    struct relay_env_state *e = &s->env[env];
    if (ok) {
        e->fail_streak = 0;
        return 0;
    }
    if (!switchable)
        return 0;
    e->fail_streak++;
    if (env != s->active || e->fail_streak < s->cfg.after_failures)
        return 0;
    struct relay_env_state *o = &s->env[other(env)];
    if (!o->healthy || o->fail_streak >= s->cfg.after_failures)
        return 0;
    if (now_us - s->since_us < s->cfg.min_dwell_us)
        return 0;
    auto_switch(s, other(env), now_us);
    return 1;
}

int relay_switch_on_health(struct relay_switch *s, enum relay_env env, int ok, uint64_t now_us,
                           int *changed)
{
    *changed = 0;
    if (env >= RELAY_DIRECT)
        return 0;
    struct relay_env_state *e = &s->env[env];
    if (ok) {
        e->bad_checks = 0;
        if (e->good_checks < s->cfg.rise)
            e->good_checks++;
        if (!e->healthy && e->good_checks >= s->cfg.rise) {
            e->healthy = 1;
            *changed = 1;
        }
    } else {
        e->good_checks = 0;
        if (e->bad_checks < s->cfg.fall)
            e->bad_checks++;
        if (e->healthy && e->bad_checks >= s->cfg.fall) {
            e->healthy = 0;
            *changed = 1;
        }
    }
    if (env == s->cfg.primary)
        s->failback_checks = ok ? s->failback_checks + (s->failback_checks < UINT32_MAX) : 0;
    if (!s->env[s->active].healthy && s->env[other(s->active)].healthy) {
        auto_switch(s, other(s->active), now_us);
        return RELAY_SW_HEALTH;
    }
    if (relay_switch_failback_due(s, now_us)) {
        do_switch(s, s->cfg.primary, now_us);
        /* Its failures from before the switch are history. */
        s->env[s->cfg.primary].fail_streak = 0;
        return RELAY_SW_FAILBACK;
    }
    return RELAY_SW_NONE;
}

int relay_switch_force(struct relay_switch *s, enum relay_env env, uint64_t now_us)
{
    if (env >= RELAY_DIRECT || env == s->active)
        return 0;
    do_switch(s, env, now_us);
    s->env[env].fail_streak = 0;
    return 1;
}

int relay_switch_rollback(struct relay_switch *s, uint64_t now_us)
{
    return relay_switch_force(s, s->previous, now_us);
}
