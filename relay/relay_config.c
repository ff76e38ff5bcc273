#include "relay_config.h"

#include "co_json.h"
#include "co_log.h"
#include "co_mem.h"
#include "co_valid.h"
#include "relay_backoff.h"
#include "relay_front.h"
#include "relay_fleet.h"
#include "relay_policy.h"
#include "relay_switch.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum key_type { K_INT, K_STR, K_LIST, K_PRICES };

/* Checks a string value; returns NULL or what was expected. */
typedef const char *(*str_check_fn)(const char *v);

struct key {
    const char *name;
    enum key_type type;
    size_t off;
    int64_t min, max;   /* K_INT bounds */
    str_check_fn check; /* K_STR, may be NULL */
    const char *env[2]; /* environment names, may be NULL */
    const char *help;
    /* The default, as a flag's value would give it (NULL: unset), so that a
     * key and its default are one row and --help shows what is applied. */
    const char *dflt;
};

static const char *check_url(const char *v)
{
    if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
        return "an http:// or https:// URL";
    return NULL;
}

static const char *check_active(const char *v)
{
    return strcmp(v, "blue") == 0 || strcmp(v, "green") == 0 ? NULL : "\"blue\" or \"green\"";
}

static const char *check_jitter(const char *v)
{
    return relay_jitter_parse(v) >= 0 ? NULL : "\"none\", \"full\", \"equal\" or \"decorrelated\"";
}

static const char *check_proxies(const char *v)
{
    static char why[96];
    struct relay_proxies tp;
    return relay_front_proxies_parse(v, &tp, why, sizeof why) == 0 ? NULL : why;
}

static const char *check_shared(const char *v)
{
    return !*v || strncmp(v, "redis://", 8) == 0 ? NULL : "a redis://HOST:PORT[/DB] URL";
}

static const char *check_shared_fail(const char *v)
{
    return relay_fleet_fail_parse(v) >= 0 ? NULL : "\"open\" or \"closed\"";
}

static const char *check_stream_done(const char *v)
{
    return relay_stream_done_parse(v) >= 0 ? NULL : "\"lenient\" or \"strict\"";
}

static const char *check_mode(const char *v)
{
    return relay_mode_parse(v) >= 0 ? NULL : "\"blue-green\" or \"primary-fallback\"";
}

static const char *check_on429(const char *v)
{
    return relay_on429_parse(v) >= 0 ? NULL : "\"retry\" or \"failover\"";
}

static const char *check_level(const char *v)
{
    return co_log_level_parse(v) >= 0 ? NULL : "\"debug\", \"info\", \"warn\" or \"error\"";
}

#define OFF(f) offsetof(struct relay_config, f)
#define MS_MAX ((int64_t)86400000 * 365)

static const struct key keys[] = {
    {"port",
     K_INT,
     OFF(port),
     0,
     65535,
     NULL,
     {NULL, NULL},
     "port to listen on (0 picks one)",
     .dflt = "8080"},
    {"listen", K_STR, OFF(listen), 0, 0, NULL, {NULL, NULL}, "listen address", .dflt = "127.0.0.1"},
    {"base_url",
     K_STR,
     OFF(base_url),
     0,
     0,
     check_url,
     {"HOLYSHEEP_BASE_URL", NULL},
     "seed base URL; blue/green become ...-blue/v1, ...-green/v1",
     .dflt = NULL},
    {"blue_url",
     K_STR,
     OFF(blue_url),
     0,
     0,
     check_url,
     {"BLUE_URL", NULL},
     "blue's base URL with /v1",
     .dflt = NULL},
    {"green_url",
     K_STR,
     OFF(green_url),
     0,
     0,
     check_url,
     {"GREEN_URL", NULL},
     "green's base URL",
     .dflt = NULL},
    {"direct_url",
     K_STR,
     OFF(direct_url),
     0,
     0,
     check_url,
     {"DIRECT_URL", NULL},
     "emergency upstream when both colours are down",
     .dflt = NULL},
    {"api_key",
     K_STR,
     OFF(api_key),
     0,
     0,
     NULL,
     {"HOLYSHEEP_API_KEY", NULL},
     "upstream API key (prefer api_key_file or the environment: ps shows flags)",
     .dflt = NULL},
    {"api_key_file",
     K_STR,
     OFF(api_key_file),
     0,
     0,
     NULL,
     {"HOLYSHEEP_API_KEY_FILE", NULL},
     "file holding the upstream API key (overrides api_key)",
     .dflt = NULL},
    {"active_env",
     K_STR,
     OFF(active_env),
     0,
     0,
     check_active,
     {"ACTIVE_ENV", NULL},
     "colour active at start",
     .dflt = "blue"},
    {"max_attempts",
     K_INT,
     OFF(max_attempts),
     1,
     100,
     NULL,
     {NULL, NULL},
     "attempts per request",
     .dflt = "3"},
    {"backoff_base_ms",
     K_INT,
     OFF(backoff_base_ms),
     0,
     MS_MAX,
     NULL,
     {NULL, NULL},
     "backoff base",
     .dflt = "1000"},
    {"backoff_cap_ms",
     K_INT,
     OFF(backoff_cap_ms),
     0,
     MS_MAX,
     NULL,
     {NULL, NULL},
     "backoff cap",
     .dflt = "30000"},
    {"jitter",
     K_STR,
     OFF(jitter),
     0,
     0,
     check_jitter,
     {NULL, NULL},
     "none|full|equal|decorrelated",
     .dflt = "full"},
    {"try_timeout_ms",
     K_INT,
     OFF(try_timeout_ms),
     1,
     MS_MAX,
     NULL,
     {NULL, NULL},
     "timeout of one attempt",
     .dflt = "30000"},
    {"deadline_ms",
     K_INT,
     OFF(deadline_ms),
     1,
     MS_MAX,
     NULL,
     {NULL, NULL},
     "overall deadline of a request, sleeps included",
     .dflt = "60000"},
    {"ttfb_timeout_ms",
     K_INT,
     OFF(ttfb_timeout_ms),
     0,
     MS_MAX,
     NULL,
     {NULL, NULL},
     "time to first byte of an attempt (0: try_timeout_ms)",
     .dflt = NULL},
    {"idle_timeout_ms",
     K_INT,
     OFF(idle_timeout_ms),
     0,
     MS_MAX,
     NULL,
     {NULL, NULL},
     "longest silence inside a stream (0: try_timeout_ms)",
     .dflt = NULL},
    {"retry_after_cap_ms",
     K_INT,
     OFF(retry_after_cap_ms),
     0,
     MS_MAX,
     NULL,
     {NULL, NULL},
     "longest Retry-After honoured; above it the relay fails over",
     .dflt = "10000"},
    {"switch_after_failures",
     K_INT,
     OFF(switch_after_failures),
     1,
     1000000,
     NULL,
     {NULL, NULL},
     "consecutive failures that switch colour",
     .dflt = "1"},
    {"min_dwell_ms",
     K_INT,
     OFF(min_dwell_ms),
     0,
     MS_MAX,
     NULL,
     {NULL, NULL},
     "least time on a colour before a failure switch",
     .dflt = NULL},
    {"health_interval_ms",
     K_INT,
     OFF(health_interval_ms),
     0,
     MS_MAX,
     NULL,
     {"HEALTH_CHECK_INTERVAL", NULL},
     "health check period (0: off)",
     .dflt = "30000"},
    {"health_timeout_ms",
     K_INT,
     OFF(health_timeout_ms),
     1,
     MS_MAX,
     NULL,
     {"HEALTH_CHECK_TIMEOUT", NULL},
     "health check timeout",
     .dflt = "5000"},
    {"health_rise",
     K_INT,
     OFF(health_rise),
     1,
     1000,
     NULL,
     {NULL, NULL},
     "good checks to be healthy",
     .dflt = "1"},
    {"health_fall",
     K_INT,
     OFF(health_fall),
     1,
     1000,
     NULL,
     {NULL, NULL},
     "bad checks to be unhealthy",
     .dflt = "1"},
    {"rate_limit_requests",
     K_INT,
     OFF(rate_limit_requests),
     0,
     100000000,
     NULL,
     {"RATE_LIMIT_REQUESTS", NULL},
     "requests per window per client (0: off)",
     .dflt = "1000"},
    {"rate_limit_window_ms",
     K_INT,
     OFF(rate_limit_window_ms),
     1,
     MS_MAX,
     NULL,
     {"RATE_LIMIT_WINDOW", NULL},
     "rate limit window",
     .dflt = "60000"},
    {"trusted_proxies",
     K_STR,
     OFF(trusted_proxies),
     0,
     0,
     check_proxies,
     {NULL, NULL},
     "proxy addresses whose X-Forwarded-For names the client (comma list)",
     .dflt = NULL},
    {"rate_limit_max_keys",
     K_INT,
     OFF(rate_limit_max_keys),
     1,
     16777216,
     NULL,
     {NULL, NULL},
     "clients tracked by the rate limit; past it the least recently seen is evicted",
     .dflt = "65536"},
    {"admin_token",
     K_STR,
     OFF(admin_token),
     0,
     0,
     NULL,
     {"ADMIN_TOKEN", NULL},
     "bearer token of the admin API (unset: off)",
     .dflt = NULL},
    {"client_keys",
     K_LIST,
     0,
     0,
     0,
     NULL,
     {NULL, NULL},
     "keys clients must present (comma list)",
     .dflt = NULL},
    {"max_body_bytes",
     K_INT,
     OFF(max_body_bytes),
     1,
     (int64_t)1 << 30,
     NULL,
     {NULL, NULL},
     "largest request body",
     .dflt = "1048576"},
    {"max_buffered_bytes",
     K_INT,
     OFF(max_buffered_bytes),
     1,
     (int64_t)1 << 40,
     NULL,
     {NULL, NULL},
     "upstream answers buffered at once, all requests (past it: 503)",
     .dflt = "268435456"},
    {"request_read_timeout_ms",
     K_INT,
     OFF(request_read_timeout_ms),
     100,
     MS_MAX,
     NULL,
     {NULL, NULL},
     "longest a client may take to send a request's head and body",
     .dflt = "30000"},
    {"drain_timeout_ms",
     K_INT,
     OFF(drain_timeout_ms),
     0,
     MS_MAX,
     NULL,
     {NULL, NULL},
     "SIGTERM: how long requests in flight may finish",
     .dflt = "5000"},
    {"events",
     K_STR,
     OFF(events),
     0,
     0,
     NULL,
     {NULL, NULL},
     "JSON-lines event log file",
     .dflt = NULL},
    {"log_level",
     K_STR,
     OFF(log_level),
     0,
     0,
     check_level,
     {"LOG_LEVEL", NULL},
     "debug|info|warn|error",
     .dflt = "info"},
    {"prices",
     K_PRICES,
     0,
     0,
     0,
     NULL,
     {NULL, NULL},
     "USD per million tokens, model=price,...",
     .dflt = "gpt-4.1=8,claude-sonnet-4.5=15,gemini-2.5-flash=2.5,deepseek-v3.2=0.42"},
    {"seed",
     K_INT,
     OFF(seed),
     0,
     INT64_MAX,
     NULL,
     {NULL, NULL},
     "seed of jitter and canary picks (0: from the clock)",
     .dflt = NULL},
    {"max_connections",
     K_INT,
     OFF(max_connections),
     1,
     100000,
     NULL,
     {NULL, NULL},
     "upstream connections kept per host (the pool)",
     .dflt = "1024"},
    {"max_clients",
     K_INT,
     OFF(max_clients),
     1,
     100000,
     NULL,
     {NULL, NULL},
     "client connections open at once; more wait in the listen backlog until one closes",
     .dflt = "10000"},
    {"shared",
     K_STR,
     OFF(shared),
     0,
     0,
     check_shared,
     {"SHARED_URL", NULL},
     "redis://HOST:PORT[/DB]: rate limit and colour shared by a fleet",
     .dflt = NULL},
    {"shared_fail",
     K_STR,
     OFF(shared_fail),
     0,
     0,
     check_shared_fail,
     {"SHARED_FAIL", NULL},
     "open|closed: with Redis down, local state or 503",
     .dflt = "open"},
    {"shared_timeout_ms",
     K_INT,
     OFF(shared_timeout_ms),
     1,
     60000,
     NULL,
     {NULL, NULL},
     "longest wait for Redis before shared_fail decides",
     .dflt = "200"},
    {"shared_poll_ms",
     K_INT,
     OFF(shared_poll_ms),
     10,
     MS_MAX,
     NULL,
     {NULL, NULL},
     "colour poll period (the fallback of pub/sub)",
     .dflt = "1000"},
    {"shared_prefix",
     K_STR,
     OFF(shared_prefix),
     0,
     0,
     NULL,
     {NULL, NULL},
     "prefix of the fleet's Redis keys",
     .dflt = "cutover:"},
    {"stream_done",
     K_STR,
     OFF(stream_done),
     0,
     0,
     check_stream_done,
     {"STREAM_DONE", NULL},
     "lenient|strict: is a stream closed after finish_reason without [DONE] complete",
     .dflt = "lenient"},
    {"mode",
     K_STR,
     OFF(mode),
     0,
     0,
     check_mode,
     {"RELAY_MODE", NULL},
     "blue-green|primary-fallback (fail back to the primary)",
     .dflt = "blue-green"},
    {"primary",
     K_STR,
     OFF(primary),
     0,
     0,
     check_active,
     {"PRIMARY_ENV", NULL},
     "the colour primary-fallback returns to (default active_env)",
     .dflt = NULL},
    {"failback_after_ms",
     K_INT,
     OFF(failback_after_ms),
     0,
     MS_MAX,
     NULL,
     {"FAILBACK_AFTER", NULL},
     "least time on the fallback before failing back",
     .dflt = "60000"},
    {"failback_rise",
     K_INT,
     OFF(failback_rise),
     1,
     1000,
     NULL,
     {"FAILBACK_RISE", NULL},
     "good checks of the primary in a row to fail back",
     .dflt = "3"},
    {"first_byte_timeout_ms",
     K_INT,
     OFF(first_byte_timeout_ms),
     0,
     MS_MAX,
     NULL,
     {"FIRST_BYTE_TIMEOUT", NULL},
     "time to the first body byte; headers do not count (0: off)",
     .dflt = NULL},
    {"on_429_without_retry_after",
     K_STR,
     OFF(on_429_without_retry_after),
     0,
     0,
     check_on429,
     {"ON_429_WITHOUT_RETRY_AFTER", NULL},
     "retry|failover: a 429 without Retry-After",
     .dflt = "retry"},
};
#define NKEYS (sizeof keys / sizeof keys[0])

static const char *key_names[NKEYS + 1];

/* Keys whose flag value is overwritten in argv once read (ps shows argv).
 * shared is one: its URL may carry the Redis password (redis://:PW@HOST). */
static int is_secret(const struct key *k)
{
    return k->type == K_LIST ||
           (k->type == K_STR &&
            (k->off == OFF(api_key) || k->off == OFF(admin_token) || k->off == OFF(shared)));
}

static void set_str(char **slot, const char *v)
{
    free(*slot);
    *slot = co_strdup(v);
}

static void clear_prices(struct relay_config *c)
{
    for (size_t i = 0; i < c->nprices; i++)
        free(c->prices[i].model);
    c->nprices = 0;
}

static void clear_keys(struct relay_config *c)
{
    for (size_t i = 0; i < c->nclient_keys; i++)
        free(c->client_keys[i]);
    c->nclient_keys = 0;
}

static int parse_int(const char *s, int64_t *out)
{
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* "model=price,model=price" */
static int set_prices_str(struct relay_config *c, const char *v, char *why, size_t n)
{
    clear_prices(c);
    char *dup = co_strdup(v), *save = NULL;
    int rc = 0;
    for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        char *end = NULL;
        double p = eq ? strtod(eq + 1, &end) : -1;
        if (!eq || eq == tok || !end || end == eq + 1 || *end || !isfinite(p) || p < 0 ||
            c->nprices >= RELAY_MAX_PRICES) {
            snprintf(why, n,
                     "model=price pairs separated by commas, each price a finite number >= 0");
            rc = -1;
            break;
        }
        *eq = 0;
        c->prices[c->nprices].model = co_strdup(tok);
        c->prices[c->nprices++].usd_per_million = p;
    }
    free(dup);
    return rc;
}

/* "k1,k2": an empty key anywhere (",,,", "", "a,,b") is refused: it would
 * otherwise leave no keys, which turns client authentication off. */
static int set_keys_str(struct relay_config *c, const char *v, char *why, size_t n)
{
    clear_keys(c);
    const char *p = v;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0 || c->nclient_keys >= RELAY_MAX_CLIENT_KEYS) {
            snprintf(why, n, "a comma list of 1 to %d non-empty keys", RELAY_MAX_CLIENT_KEYS);
            clear_keys(c);
            return -1;
        }
        c->client_keys[c->nclient_keys++] = co_strndup(p, len);
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

/* Sets key k from a string; on error writes what was expected into why. */
static int set_from_str(struct relay_config *c, const struct key *k, const char *v, char *why,
                        size_t n)
{
    switch (k->type) {
    case K_INT: {
        int64_t x;
        if (parse_int(v, &x) != 0 || x < k->min || x > k->max) {
            snprintf(why, n, "an integer from %lld to %lld", (long long)k->min, (long long)k->max);
            return -1;
        }
        *(int64_t *)((char *)c + k->off) = x;
        return 0;
    }
    case K_STR: {
        const char *bad = k->check ? k->check(v) : NULL;
        if (bad) {
            snprintf(why, n, "%s", bad);
            return -1;
        }
        set_str((char **)((char *)c + k->off), v);
        return 0;
    }
    case K_LIST:
        return set_keys_str(c, v, why, n);
    case K_PRICES:
        return set_prices_str(c, v, why, n);
    }
    return -1;
}

/* Every key's default from its row.  A default the key's own check refuses
 * is a bug of the table, caught by test_relay_config. */
static int defaults(struct relay_config *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    char why[256];
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].dflt && set_from_str(c, &keys[i], keys[i].dflt, why, sizeof why) != 0) {
            snprintf(err, errlen, "default of %s (%s): expected %s", keys[i].name, keys[i].dflt,
                     why);
            return -1;
        }
    return 0;
}

static const struct key *find_key(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static const char *suggest(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        key_names[i] = keys[i].name;
    key_names[NKEYS] = NULL;
    return co_nearest(name, key_names);
}

int relay_config_key_info(const char *name, int64_t *min, int64_t *max)
{
    const struct key *k = find_key(name);
    if (!k)
        return -1;
    *min = k->min;
    *max = k->max;
    return k->type == K_INT;
}

int relay_config_check(const char *name, const char *value, char *why, size_t n)
{
    const struct key *k = find_key(name);
    if (!k) {
        snprintf(why, n, "a known key");
        return -1;
    }
    struct relay_config c;
    int rc = defaults(&c, why, n) == 0 ? set_from_str(&c, k, value, why, n) : -1;
    relay_config_free(&c);
    return rc;
}

static int load_file(struct relay_config *c, const char *path, char *err, size_t errlen)
{
    char why[256];
    json_t *root = co_json_load_file(path, err, errlen);
    if (!root)
        return 2;
    int rc = 2;
    if (!json_is_object(root)) {
        snprintf(err, errlen, "%s: expected an object, found %s", path, co_json_type_name(root));
        goto out;
    }
    const char *name;
    json_t *v;
    json_object_foreach(root, name, v)
    {
        const struct key *k = find_key(name);
        if (!k) {
            char found[160];
            snprintf(found, sizeof found, "\"%.120s\"", name);
            co_v_error(err, errlen, path, "a config key (cutover-relay --help)", found,
                       suggest(name));
            goto out;
        }
        char sval[64];
        const char *str = NULL;
        if (k->type == K_INT) {
            if (!json_is_integer(v)) {
                snprintf(err, errlen, "%s: %s: expected an integer, found %s", path, name,
                         co_json_type_name(v));
                goto out;
            }
            snprintf(sval, sizeof sval, "%lld", (long long)json_integer_value(v));
            str = sval;
        } else if (k->type == K_STR) {
            if (json_is_null(v))
                continue;
            if (!json_is_string(v)) {
                snprintf(err, errlen, "%s: %s: expected a string, found %s", path, name,
                         co_json_type_name(v));
                goto out;
            }
            str = json_string_value(v);
        } else if (k->type == K_LIST) {
            if (!json_is_array(v)) {
                snprintf(err, errlen, "%s: client_keys: expected an array of strings, found %s",
                         path, co_json_type_name(v));
                goto out;
            }
            clear_keys(c);
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                if (!json_is_string(e) || json_string_length(e) == 0 ||
                    c->nclient_keys >= RELAY_MAX_CLIENT_KEYS) {
                    snprintf(err, errlen, "%s: client_keys[%zu]: expected a non-empty string", path,
                             i);
                    goto out;
                }
                c->client_keys[c->nclient_keys++] = co_strdup(json_string_value(e));
            }
            continue;
        } else {
            if (!json_is_object(v)) {
                snprintf(err, errlen, "%s: prices: expected an object, found %s", path,
                         co_json_type_name(v));
                goto out;
            }
            clear_prices(c);
            const char *model;
            json_t *p;
            json_object_foreach(v, model, p)
            {
                double d;
                if (co_json_number(p, &d) != 0 || !isfinite(d) || d < 0 ||
                    c->nprices >= RELAY_MAX_PRICES) {
                    snprintf(err, errlen, "%s: prices.%s: expected a number >= 0, found %s", path,
                             model, co_json_type_name(p));
                    goto out;
                }
                c->prices[c->nprices].model = co_strdup(model);
                c->prices[c->nprices++].usd_per_million = d;
            }
            continue;
        }
        if (set_from_str(c, k, str, why, sizeof why) != 0) {
            snprintf(err, errlen, "%s: %s: expected %s, found '%s'", path, name, why, str);
            goto out;
        }
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/* One dotenv value in place: a quoted value ends at its closing quote and
 * may be followed only by blanks and a "# comment"; an unquoted one ends
 * at " #" (an inline comment).  Returns the value, or NULL when a quote is
 * not closed or something other than a comment follows it. */
static char *dotenv_value(char *val)
{
    if (val[0] == '"' || val[0] == '\'') {
        char *close = strchr(val + 1, val[0]);
        if (!close)
            return NULL;
        char *rest = close + 1;
        while (*rest == ' ' || *rest == '\t')
            rest++;
        if (*rest && *rest != '#')
            return NULL;
        *close = 0;
        return val + 1;
    }
    char *hash = strstr(val, " #");
    if (hash)
        *hash = 0;
    size_t l = strlen(val);
    while (l && (val[l - 1] == ' ' || val[l - 1] == '\t'))
        val[--l] = 0;
    return val;
}

/* A dotenv file: KEY=VALUE lines, '#' comments, optional "export ", values
 * optionally quoted.  Lines of any length (getline): a long comment is a
 * comment to its end, never a setting cut out of its tail.  Fills vars (a
 * NULL-terminated array of "K=V"). */
static int load_dotenv(const char *path, char ***vars, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "--env-file %s: %s", path, strerror(errno));
        return 2;
    }
    size_t n = 0, cap = 16;
    char **v = co_calloc(cap, sizeof *v);
    char *line = NULL;
    size_t linecap = 0;
    ssize_t got;
    int lineno = 0, rc = 0;
    while ((got = getline(&line, &linecap, f)) >= 0) {
        lineno++;
        char *s = line;
        size_t len = (size_t)got;
        if (strlen(s) != len) {
            snprintf(err, errlen, "%s:%d: a NUL byte in the line", path, lineno);
            rc = 2;
            break;
        }
        while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
            s[--len] = 0;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '#')
            continue;
        if (strncmp(s, "export ", 7) == 0)
            s += 7;
        char *eq = strchr(s, '=');
        if (!eq || eq == s) {
            snprintf(err, errlen, "%s:%d: expected KEY=VALUE", path, lineno);
            rc = 2;
            break;
        }
        *eq = 0;
        char *val = dotenv_value(eq + 1);
        if (!val) {
            snprintf(err, errlen,
                     "%s:%d: %s: expected a closing quote followed by nothing but a # comment",
                     path, lineno, s);
            rc = 2;
            break;
        }
        if (n + 2 > cap) {
            cap *= 2;
            v = co_realloc(v, cap * sizeof *v);
        }
        v[n++] = co_asprintf("%s=%s", s, val);
        v[n] = NULL;
    }
    free(line);
    fclose(f);
    *vars = v;
    return rc;
}

/* api_key_file: the key is the file's content without its trailing
 * newline; an empty or unreadable file is an error, not "no key". */
static int read_key_file(struct relay_config *c, char *err, size_t errlen)
{
    FILE *f = fopen(c->api_key_file, "r");
    if (!f) {
        snprintf(err, errlen, "api_key_file %s: %s", c->api_key_file, strerror(errno));
        return 2;
    }
    char buf[4096];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    int more = fgetc(f) != EOF;
    fclose(f);
    buf[len] = 0;
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
        buf[--len] = 0;
    if (more || len == 0 || strlen(buf) != len || strpbrk(buf, "\r\n")) {
        snprintf(err, errlen, "api_key_file %s: expected one key of 1 to 4095 bytes on one line",
                 c->api_key_file);
        return 2;
    }
    set_str(&c->api_key, buf);
    memset(buf, 0, sizeof buf);
    return 0;
}

static const char *env_lookup(char **envp, const char *name)
{
    size_t nl = strlen(name);
    for (char **e = envp; e && *e; e++)
        if (strncmp(*e, name, nl) == 0 && (*e)[nl] == '=')
            return *e + nl + 1;
    return NULL;
}

/* Names of the seed article's .env that we read nothing from (blue and green
 * URLs are explicit here): known, so never "unknown". */
static const char *const env_ignored[] = {"BLUE_ENV", "GREEN_ENV", NULL};

/* A variable that starts like one of ours (its first word and '_', taken
 * from the table: HOLYSHEEP_, HEALTH_, RATE_, BLUE_, ...) but is none of
 * them is most likely a typo that would otherwise be ignored in silence
 * (HEALTH_CHECK_INTERVL=5).  Warns on stderr, with the nearest name.  From a
 * --env-file every such name warns; from the process environment, which
 * carries other programs' variables too, only one close to ours. */
static void warn_unknown_env(char **envp, const char *origin, int from_file)
{
    const char *names[2 * NKEYS + 3];
    size_t n = 0;
    for (size_t i = 0; i < NKEYS; i++)
        for (int j = 0; j < 2 && keys[i].env[j]; j++)
            names[n++] = keys[i].env[j];
    names[n] = NULL;
    for (char **e = envp; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
        char name[128];
        if (len == 0 || len >= sizeof name)
            continue;
        memcpy(name, *e, len);
        name[len] = '\0';
        int known = 0, prefixed = 0;
        for (size_t i = 0; names[i] && !known; i++) {
            const char *us = strchr(names[i], '_');
            size_t pl = us ? (size_t)(us - names[i]) + 1 : 0;
            known = strcmp(name, names[i]) == 0;
            prefixed |= pl && strncmp(name, names[i], pl) == 0;
        }
        for (size_t i = 0; env_ignored[i] && !known; i++)
            known = strcmp(name, env_ignored[i]) == 0;
        if (known || !prefixed)
            continue;
        const char *near = co_nearest(name, names);
        if (!near && !from_file)
            continue;
        fprintf(stderr, "cutover-relay: warning: %s %s is not a setting and is ignored%s%s%s\n",
                origin, name, near ? " (did you mean " : "", near ? near : "", near ? "?)" : "");
    }
}

static int apply_env(struct relay_config *c, char **envp, const char *origin, char *err,
                     size_t errlen)
{
    char why[256];
    for (size_t i = 0; i < NKEYS; i++) {
        for (int j = 0; j < 2 && keys[i].env[j]; j++) {
            const char *v = env_lookup(envp, keys[i].env[j]);
            if (!v || !*v)
                continue;
            if (set_from_str(c, &keys[i], v, why, sizeof why) != 0) {
                snprintf(err, errlen, "%s %s (%s): expected %s, found '%s'", origin, keys[i].env[j],
                         keys[i].name, why, v);
                return 2;
            }
        }
    }
    return 0;
}

/* "--max-attempts" -> "max_attempts" into out. */
static void flag_to_key(const char *flag, char *out, size_t n)
{
    size_t i = 0;
    for (; flag[i] && flag[i] != '=' && i + 1 < n; i++)
        out[i] = flag[i] == '-' ? '_' : flag[i];
    out[i] = 0;
}

/* A key's value in c as --help shows it ("1000", "full", "none"). */
static void value_text(const struct relay_config *c, const struct key *k, char *out, size_t n)
{
    switch (k->type) {
    case K_INT:
        snprintf(out, n, "%lld", (long long)*(const int64_t *)((const char *)c + k->off));
        return;
    case K_STR: {
        const char *v = *(char *const *)((const char *)c + k->off);
        snprintf(out, n, "%s", v ? v : "none");
        return;
    }
    case K_LIST:
        snprintf(out, n, "%s", c->nclient_keys ? "set" : "none");
        return;
    case K_PRICES: {
        size_t used = 0;
        out[0] = '\0';
        for (size_t i = 0; i < c->nprices && used < n; i++)
            used += (size_t)snprintf(out + used, n - used, "%s%s=%g", i ? "," : "",
                                     c->prices[i].model, c->prices[i].usd_per_million);
        return;
    }
    }
}

/* One line per key with its default, taken from the rows through
 * defaults() so that the page cannot drift from what the relay does. */
void relay_config_usage(char *buf, size_t n)
{
    struct relay_config d;
    char e[256];
    defaults(&d, e, sizeof e);
    size_t used =
        (size_t)snprintf(buf, n,
                         "usage: cutover-relay [--config FILE] [--env-file FILE] [--KEY VALUE]...\n"
                         "Precedence: flags, environment, config file, defaults.  Keys:\n");
    for (size_t i = 0; i < NKEYS && used < n; i++) {
        char flag[64], def[160];
        size_t j = 0;
        for (; keys[i].name[j] && j + 1 < sizeof flag; j++)
            flag[j] = keys[i].name[j] == '_' ? '-' : keys[i].name[j];
        flag[j] = 0;
        value_text(&d, &keys[i], def, sizeof def);
        used += (size_t)snprintf(buf + used, n - used, "  --%-24s %s (default %s)%s%s%s\n", flag,
                                 keys[i].help, def, keys[i].env[0] ? " [env " : "",
                                 keys[i].env[0] ? keys[i].env[0] : "", keys[i].env[0] ? "]" : "");
    }
    relay_config_free(&d);
}

/* Blue and green from the seed's single base URL: https://h/v1 ->
 * https://h-blue/v1 and https://h-green/v1, as the published relay did. */
static void derive_urls(struct relay_config *c)
{
    const char *base_url = c->base_url;
    if (!base_url)
        return;
    size_t l = strlen(base_url);
    while (l && base_url[l - 1] == '/')
        l--;
    int has_v1 = l >= 3 && strncmp(base_url + l - 3, "/v1", 3) == 0;
    size_t stem = has_v1 ? l - 3 : l;
    if (!c->blue_url)
        c->blue_url = co_asprintf("%.*s-blue/v1", (int)stem, base_url);
    if (!c->green_url)
        c->green_url = co_asprintf("%.*s-green/v1", (int)stem, base_url);
}

static void trim_slash(char *u)
{
    size_t l = u ? strlen(u) : 0;
    while (l && u[l - 1] == '/')
        u[--l] = 0;
}

int relay_config_load(struct relay_config *c, int argc, char **argv, char **envp, char *err,
                      size_t errlen)
{
    const char *config_path = NULL, *env_file = NULL;
    char **dotenv = NULL;
    char why[256];
    int rc = 2;
    if (defaults(c, err, errlen) != 0)
        return 2;
    /* Pass 1: the files, whatever their position among the flags. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            relay_config_usage(err, errlen);
            return 1;
        }
        const char **slot = strcmp(argv[i], "--config") == 0     ? &config_path
                            : strcmp(argv[i], "--env-file") == 0 ? &env_file
                                                                 : NULL;
        if (slot) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "%s: expected a file name", argv[i]);
                return 2;
            }
            *slot = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            config_path = argv[i] + 9;
        } else if (strncmp(argv[i], "--env-file=", 11) == 0) {
            env_file = argv[i] + 11;
        }
    }
    /* A runner that starts this relay from a command it does not know
     * (cutover run --relay 'CMD') names the scenario's settings file in
     * CUTOVER_CONFIG; an explicit --config wins over it. */
    for (char **e = envp; !config_path && e && *e; e++)
        if (strncmp(*e, "CUTOVER_CONFIG=", 15) == 0 && (*e)[15]) {
            config_path = *e + 15;
            c->config_from_env = 1;
        }
    if (config_path && load_file(c, config_path, err, errlen) != 0)
        goto out;
    if (env_file) {
        if (load_dotenv(env_file, &dotenv, err, errlen) != 0)
            goto out;
        if (apply_env(c, dotenv, env_file, err, errlen) != 0)
            goto out;
        warn_unknown_env(dotenv, env_file, 1);
    }
    if (apply_env(c, envp, "environment", err, errlen) != 0)
        goto out;
    warn_unknown_env(envp, "environment", 0);
    /* Pass 2: every other flag. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--config") == 0 || strcmp(a, "--env-file") == 0) {
            i++;
            continue;
        }
        if (strncmp(a, "--config=", 9) == 0 || strncmp(a, "--env-file=", 11) == 0)
            continue;
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s'", a);
            goto out;
        }
        char name[64];
        flag_to_key(a + 2, name, sizeof name);
        const struct key *k = find_key(name);
        if (!k) {
            const char *s = suggest(name);
            snprintf(err, errlen, "unknown flag '%s'%s%s%s", a, s ? " (did you mean '--" : "",
                     s ? s : "", s ? "'?)" : "");
            for (char *p = strchr(err, '\''); p && (p = strstr(p, "--")); p += 2)
                for (char *q = p + 2; *q && *q != '\''; q++)
                    if (*q == '_')
                        *q = '-';
            goto out;
        }
        const char *eq = strchr(a, '=');
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) {
            snprintf(err, errlen, "%s (%s): expected a value", a, k->name);
            goto out;
        }
        if (set_from_str(c, k, v, why, sizeof why) != 0) {
            snprintf(err, errlen, "%.*s (%s): expected %s, found '%s'",
                     eq ? (int)(eq - a) : (int)strlen(a), a, k->name, why,
                     is_secret(k) ? "(hidden)" : v);
            goto out;
        }
        /* The value is copied: blank it in argv, which is what ps and
         * /proc/PID/cmdline show.  (A window remains until here; the
         * file and environment forms have none.) */
        if (is_secret(k))
            memset((char *)v, 'x', strlen(v));
    }
    if (c->api_key_file && *c->api_key_file && read_key_file(c, err, errlen) != 0)
        goto out;
    derive_urls(c);
    trim_slash(c->blue_url);
    trim_slash(c->green_url);
    trim_slash(c->direct_url);
    if (!c->blue_url || !c->green_url) {
        snprintf(err, errlen,
                 "%s: required (set blue_url and green_url, --blue-url/--green-url, "
                 "BLUE_URL/GREEN_URL, or HOLYSHEEP_BASE_URL)",
                 !c->blue_url ? "blue_url" : "green_url");
        goto out;
    }
    if (c->backoff_cap_ms < c->backoff_base_ms) {
        snprintf(err, errlen,
                 "backoff_cap_ms: expected at least backoff_base_ms (%lld), found %lld",
                 (long long)c->backoff_base_ms, (long long)c->backoff_cap_ms);
        goto out;
    }
    if (relay_mode_parse(c->mode) == RELAY_MODE_PRIMARY_FALLBACK && c->health_interval_ms <= 0) {
        snprintf(err, errlen,
                 "mode: primary-fallback fails back on the primary's health checks; "
                 "expected health_interval_ms above 0, found %lld",
                 (long long)c->health_interval_ms);
        goto out;
    }
    if (!c->primary)
        c->primary = co_strdup(c->active_env);
    if (c->ttfb_timeout_ms == 0)
        c->ttfb_timeout_ms = c->try_timeout_ms;
    if (c->idle_timeout_ms == 0)
        c->idle_timeout_ms = c->try_timeout_ms;
    rc = 0;
out:
    if (dotenv) {
        for (char **e = dotenv; *e; e++)
            free(*e);
        free(dotenv);
    }
    return rc;
}

void relay_config_free(struct relay_config *c)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].type == K_STR) {
            char **slot = (char **)((char *)c + keys[i].off);
            free(*slot);
            *slot = NULL;
        }
    clear_prices(c);
    clear_keys(c);
}

double relay_config_price(const struct relay_config *c, const char *model)
{
    for (size_t i = 0; i < c->nprices; i++)
        if (strcmp(c->prices[i].model, model) == 0)
            return c->prices[i].usd_per_million;
    return -1;
}
