/* The relay's configuration: defaults, then a JSON file (--config), then the
 * environment (the seed's .env names, optionally from --env-file), then
 * flags, each layer overriding the one before.  One table lists every key
 * with its type, bounds, flag, environment names and default, so a key is
 * added in one row.  Keys and defaults: docs/CONTRACTS.md.
 *
 * Ownership: relay_config_load fills a caller's struct; relay_config_free
 * releases its strings. */
#ifndef RELAY_CONFIG_H
#define RELAY_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define RELAY_MAX_PRICES      32
#define RELAY_MAX_CLIENT_KEYS 64

struct relay_price {
    char *model;
    double usd_per_million;
};

struct relay_config {
    int config_from_env; /* the settings file came from CUTOVER_CONFIG */
    int64_t port;
    char *listen;
    char *base_url; /* the seed's HOLYSHEEP_BASE_URL: only derives blue/green */
    char *blue_url, *green_url, *direct_url;
    char *api_key;
    char *api_key_file; /* read into api_key at load: a key kept out of argv */
    char *active_env;
    int64_t max_attempts;
    int64_t backoff_base_ms, backoff_cap_ms;
    char *jitter;
    int64_t try_timeout_ms, deadline_ms, ttfb_timeout_ms, idle_timeout_ms;
    int64_t retry_after_cap_ms;
    int64_t switch_after_failures, min_dwell_ms;
    int64_t health_interval_ms, health_timeout_ms, health_rise, health_fall;
    int64_t rate_limit_requests, rate_limit_window_ms;
    char *trusted_proxies; /* addresses whose X-Forwarded-For names the client */
    int64_t rate_limit_max_keys;
    char *admin_token;
    char *client_keys[RELAY_MAX_CLIENT_KEYS];
    size_t nclient_keys;
    int64_t max_body_bytes, drain_timeout_ms;
    int64_t max_buffered_bytes;      /* upstream answers held at once, all requests */
    int64_t request_read_timeout_ms; /* a request's head and body, from its first byte */
    char *events;
    char *log_level;
    struct relay_price prices[RELAY_MAX_PRICES];
    size_t nprices;
    int64_t seed;
    int64_t max_connections;
    int64_t max_clients;
    /* Fleet state in Redis (relay_shared.h). */
    char *shared; /* redis://HOST:PORT[/DB], or NULL: this replica alone */
    char *shared_fail;
    int64_t shared_timeout_ms, shared_poll_ms;
    char *shared_prefix;
    /* Policies (relay_policy.h, relay_switch.h). */
    char *stream_done, *mode, *primary, *on_429_without_retry_after;
    int64_t failback_after_ms, failback_rise, first_byte_timeout_ms;
};

/* Parses argv (argv[0] is the program).  Returns 0, 1 when --help was asked
 * (usage is in err), or 2 with a message naming the key in err.  envp is
 * the process environment (NULL entries end it). */
int relay_config_load(struct relay_config *c, int argc, char **argv, char **envp, char *err,
                      size_t errlen);
void relay_config_free(struct relay_config *c);
/* The price per million tokens of model, or -1 when unknown. */
double relay_config_price(const struct relay_config *c, const char *model);
/* Usage text of the flags. */
void relay_config_usage(char *buf, size_t n);
/* Key name of the table: 1 an integer in [*min, *max], 0 another type, -1
 * no such key. */
int relay_config_key_info(const char *name, int64_t *min, int64_t *max);
/* Whether value is one key name takes (as a flag's value): 0, or -1 with
 * what was expected in why. */
int relay_config_check(const char *name, const char *value, char *why, size_t n);

#endif
