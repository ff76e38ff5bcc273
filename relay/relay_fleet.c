#include "relay_fleet.h"

#include "co_mem.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int relay_fleet_fail_parse(const char *s)
{
    if (!s)
        return -1;
    if (strcmp(s, "open") == 0)
        return 1;
    if (strcmp(s, "closed") == 0)
        return 0;
    return -1;
}

/* A whole number in [lo, hi] spelt with digits only (a URL's port or DB). */
static int parse_num(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s || strlen(s) > 9)
        return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    long v = strtol(s, NULL, 10);
    if (v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int relay_fleet_parse_url(const char *url, struct relay_fleet_url *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    int rc = -1;
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *pass = NULL, *query = NULL;
    CURLU *h = curl_url();
    if (!h)
        abort();
    if (!url || strncmp(url, "redis://", 8) != 0 ||
        curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
        snprintf(err, errlen, "a redis://HOST:PORT[/DB] URL");
        goto out;
    }
    curl_url_get(h, CURLUPART_SCHEME, &scheme, 0);
    curl_url_get(h, CURLUPART_HOST, &host, 0);
    curl_url_get(h, CURLUPART_PORT, &port, 0);
    curl_url_get(h, CURLUPART_PATH, &path, 0);
    curl_url_get(h, CURLUPART_PASSWORD, &pass, 0);
    curl_url_get(h, CURLUPART_QUERY, &query, 0);
    if (!scheme || strcmp(scheme, "redis") != 0 || !host || !*host ||
        strlen(host) >= sizeof u->host || query) {
        snprintf(err, errlen, "a redis://HOST:PORT[/DB] URL");
        goto out;
    }
    /* An IPv6 literal comes back in brackets; hiredis wants it bare. */
    size_t hl = strlen(host);
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']')
        snprintf(u->host, sizeof u->host, "%.*s", (int)(hl - 2), host + 1);
    else
        snprintf(u->host, sizeof u->host, "%s", host);
    long v = 6379;
    if (port && parse_num(port, 1, 65535, &v) != 0) {
        snprintf(err, errlen, "a port from 1 to 65535 in the redis:// URL");
        goto out;
    }
    u->port = (int)v;
    v = 0;
    if (path && strcmp(path, "/") != 0 && strcmp(path, "") != 0 &&
        parse_num(path + 1, 0, 1000000, &v) != 0) {
        snprintf(err, errlen, "a database number after the / of the redis:// URL");
        goto out;
    }
    u->db = (int)v;
    if (pass && *pass)
        u->password = co_strdup(pass);
    rc = 0;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(pass);
    curl_free(query);
    curl_url_cleanup(h);
    return rc;
}

static int name(char *out, size_t n, const char *prefix, const char *what, const char *tail)
{
    int w = snprintf(out, n, "%s%s%s", prefix ? prefix : "", what, tail ? tail : "");
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

int relay_fleet_rl_key(const char *prefix, const char *client, char *out, size_t n)
{
    return name(out, n, prefix, "rl:", client);
}

int relay_fleet_colour_key(const char *prefix, char *out, size_t n)
{
    return name(out, n, prefix, "colour", NULL);
}

int relay_fleet_channel(const char *prefix, char *out, size_t n)
{
    return name(out, n, prefix, "colour:changed", NULL);
}

/* The local limiter's rules, in Redis: an admission leaves the window at
 * t + window (ZREMRANGEBYSCORE drops t <= now - window), a request is
 * admitted while fewer than limit remain, refusals are not counted, and
 * reset is when the oldest counted admission leaves.  The set expires a
 * while after its window, so idle clients cost Redis nothing. */
const char relay_fleet_rl_script[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local window = tonumber(ARGV[1])\n"
    "local limit = tonumber(ARGV[2])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)\n"
    "local n = redis.call('ZCARD', KEYS[1])\n"
    "local admitted = 0\n"
    "if n < limit then\n"
    "  redis.call('ZADD', KEYS[1], now, ARGV[3])\n"
    "  n = n + 1\n"
    "  admitted = 1\n"
    "end\n"
    "local reset = 0\n"
    "local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')\n"
    "if oldest[2] then reset = tonumber(oldest[2]) + window - now end\n"
    "if reset < 0 then reset = 0 end\n"
    "redis.call('PEXPIRE', KEYS[1], math.floor(window / 1000) + 1000)\n"
    "local left = limit - n\n"
    "if left < 0 then left = 0 end\n"
    "return {admitted, left, math.ceil(reset / 1000)}\n";

const char relay_fleet_colour_script[] =
    "local k = KEYS[1]\n"
    "local mode = ARGV[1]\n"
    "local e = tonumber(ARGV[2])\n"
    "local cur = redis.call('HMGET', k, 'epoch', 'active', 'previous')\n"
    "local ce = tonumber(cur[1]) or 0\n"
    "local wrote = 0\n"
    "local function put(epoch)\n"
    "  redis.call('HSET', k, 'epoch', epoch, 'active', ARGV[3], 'previous', ARGV[4],\n"
    "             'reason', ARGV[5], 'replica', ARGV[6])\n"
    "  redis.call('PUBLISH', ARGV[7], epoch)\n"
    "  ce = epoch\n"
    "  cur = {epoch, ARGV[3], ARGV[4]}\n"
    "  wrote = 1\n"
    "end\n"
    "if mode == 'init' then\n"
    "  if not cur[2] or ce < e then put(e) end\n"
    "elseif mode == 'cas' then\n"
    "  if ce == e and (cur[2] or e == 0) then put(e + 1) end\n"
    "end\n"
    "return {ce, cur[2], cur[3], wrote}\n";

static redisReplyObjectFunctions bounded_fn;
static void *(*hiredis_create_array)(const redisReadTask *, int);

static void *bounded_array(const redisReadTask *t, int n)
{
    if (n < 0 || n > RELAY_FLEET_MAX_ELEMENTS)
        return NULL; /* the reader reports "out of memory" and stops */
    return hiredis_create_array(t, n);
}

void relay_fleet_reader_bound(redisReader *r)
{
    if (r->fn == &bounded_fn)
        return;
    if (!hiredis_create_array) {
        bounded_fn = *r->fn;
        hiredis_create_array = r->fn->createArray;
        bounded_fn.createArray = bounded_array;
    }
    r->fn = &bounded_fn;
}

int relay_fleet_rl_reply(const redisReply *rep, uint64_t limit, struct relay_rl_verdict *v)
{
    memset(v, 0, sizeof *v);
    v->limit = limit;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 3)
        return -1;
    for (size_t i = 0; i < 3; i++)
        if (rep->element[i]->type != REDIS_REPLY_INTEGER || rep->element[i]->integer < 0)
            return -1;
    if (rep->element[0]->integer > 1)
        return -1;
    v->admitted = (int)rep->element[0]->integer;
    v->remaining = (uint64_t)rep->element[1]->integer;
    if (v->remaining > limit)
        v->remaining = limit;
    v->reset_ms = (uint64_t)rep->element[2]->integer;
    if (!v->admitted)
        v->retry_after_ms = v->reset_ms;
    return 0;
}

/* A colour field of the reply: nil (nothing stored) or "blue"/"green". */
static int colour_field(const redisReply *e, enum relay_env *out)
{
    if (e->type != REDIS_REPLY_STRING)
        return -1;
    int c = relay_env_parse(e->str);
    if (c != RELAY_BLUE && c != RELAY_GREEN)
        return -1;
    *out = (enum relay_env)c;
    return 0;
}

int relay_fleet_colour_reply(const redisReply *rep, struct relay_fleet_colour *out)
{
    memset(out, 0, sizeof *out);
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 4)
        return -1;
    const redisReply *ep = rep->element[0], *ac = rep->element[1], *pr = rep->element[2],
                     *wr = rep->element[3];
    if (ep->type != REDIS_REPLY_INTEGER || ep->integer < 0 || wr->type != REDIS_REPLY_INTEGER ||
        (wr->integer != 0 && wr->integer != 1))
        return -1;
    out->epoch = (uint64_t)ep->integer;
    out->wrote = (int)wr->integer;
    if (ac->type == REDIS_REPLY_NIL) {
        out->stored = 0;
        return out->wrote ? -1 : 0;
    }
    if (colour_field(ac, &out->active) != 0)
        return -1;
    /* A previous colour is always the other one; a missing one is tolerated. */
    if (pr->type == REDIS_REPLY_NIL)
        out->previous = out->active == RELAY_BLUE ? RELAY_GREEN : RELAY_BLUE;
    else if (colour_field(pr, &out->previous) != 0)
        return -1;
    out->stored = 1;
    return 0;
}

enum relay_fleet_act relay_fleet_decide(uint64_t epoch, enum relay_env active,
                                        const struct relay_fleet_colour *fleet)
{
    if (!fleet->stored || fleet->epoch < epoch)
        return RELAY_FLEET_PUSH;
    if (fleet->epoch > epoch || fleet->active != active)
        return RELAY_FLEET_ADOPT;
    return RELAY_FLEET_KEEP;
}
