/* Shared by the relay's integration tests (included, not linked: each test
 * program is one file): two live mocks (`cutover mock`, blue and green) and
 * the relay in front of them, all spawned as processes on ephemeral ports
 * (behaviours are set with tmock_put_behavior, tests/support); helpers to
 * read journals over /_mock/, to read the
 * relay's event log, and to send chat requests.  Everything is observed over
 * sockets and files, as a user would. */
#ifndef RELAY_FIXTURE_H
#define RELAY_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "co_clock.h"
#include "co_mem.h"
#include "tests/support/tsupport.h"

#include <jansson.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Not every test uses every helper. */
#define FX_UNUSED __attribute__((unused))

#define FX_KEY "sk-test-upstream-key-0123456789"

struct fx {
    struct tproc blue, green, relay;
    char url[3][256]; /* mock base URLs (no /v1) */
    char relay_url[256];
    char cfg_path[128], events_path[128];
    int relay_up, mocks_up;
};

/* Starts the relay on the config already at f->cfg_path (a test that needs
 * URLs other than the live mocks' writes its own), with a fresh event log. */
FX_UNUSED static int fx_spawn_relay(struct fx *f)
{
    unlink(f->events_path);
    char bin[512];
    snprintf(bin, sizeof bin, "%s", tsup_bin("cutover-relay"));
    char *argv[] = {bin, "--config", f->cfg_path, NULL};
    if (tproc_spawn(&f->relay, argv) != 0)
        return -1;
    if (tproc_wait_url(&f->relay, 10000) != 0) {
        char *e = tproc_read(&f->relay, 2);
        fprintf(stderr, "relay did not start: %s\n", e);
        free(e);
        return -1;
    }
    snprintf(f->relay_url, sizeof f->relay_url, "%s", f->relay.url);
    f->relay_up = 1;
    return 0;
}

/* Starts blue, green and (unless relay_json is NULL) the relay with a config
 * holding the colours' URLs, the events path, the upstream key and the
 * extra "key": value pairs of relay_json. */
FX_UNUSED static int fx_start_relay(struct fx *f, const char *relay_json)
{
    FILE *c = fopen(f->cfg_path, "w");
    if (!c)
        return -1;
    fprintf(c,
            "{\"port\": 0, \"blue_url\": \"%s/v1\", \"green_url\": \"%s/v1\", \"api_key\": \"%s\","
            " \"events\": \"%s\"%s%s}\n",
            f->url[0], f->url[1], FX_KEY, f->events_path, relay_json && *relay_json ? ", " : "",
            relay_json ? relay_json : "");
    fclose(c);
    return fx_spawn_relay(f);
}

/* Resets both mocks (journal, behaviour) for the next test. */
FX_UNUSED static void fx_reset_mocks(const struct fx *f)
{
    for (int i = 0; i < 2; i++) {
        char u[300];
        struct thttp_resp r;
        snprintf(u, sizeof u, "%s/_mock/reset", f->url[i]);
        thttp_request("POST", u, "", NULL, 5000, &r);
        thttp_resp_free(&r);
    }
}

/* Group setup: the two mocks only; each test starts its own relay. */
FX_UNUSED static int fx_start_mocks(struct fx *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->cfg_path, sizeof f->cfg_path, "/tmp/relay-it-%d.json", (int)getpid());
    snprintf(f->events_path, sizeof f->events_path, "/tmp/relay-it-%d.events", (int)getpid());
    if (tmock_start(&f->blue, "blue", NULL) != 0 || tmock_start(&f->green, "green", NULL) != 0)
        return -1;
    snprintf(f->url[0], sizeof f->url[0], "%s", f->blue.url);
    snprintf(f->url[1], sizeof f->url[1], "%s", f->green.url);
    f->mocks_up = 1;
    return 0;
}

/* Stops the relay with SIGTERM and returns its wait status.  Its stderr is
 * read before it is removed: a sanitizer report there (SAN=1 builds) fails
 * the test that ran it, since the relay's own memory errors and leaks only
 * show in its own output. */
FX_UNUSED static int fx_stop_relay(struct fx *f)
{
    if (!f->relay_up)
        return -1;
    f->relay_up = 0;
    struct tproc *p = &f->relay;
    if (!p->reaped)
        kill(-p->pid, SIGTERM);
    int st = tproc_wait_exit(p, 5000);
    char *err = tproc_read(p, 2);
    int bad = strstr(err, "AddressSanitizer") || strstr(err, "LeakSanitizer") ||
              strstr(err, "runtime error:");
    if (bad)
        fprintf(stderr, "relay stderr:\n%s\n", err);
    free(err);
    int killed = tproc_stop(p, SIGKILL, 1000); /* a relay that ignored SIGTERM */
    if (st == -1)
        st = killed;
    if (bad)
        fail_msg("the relay reported a sanitizer error");
    return st;
}

FX_UNUSED static void fx_stop(struct fx *f)
{
    fx_stop_relay(f);
    if (f->mocks_up) {
        tproc_stop(&f->blue, SIGTERM, 3000);
        tproc_stop(&f->green, SIGTERM, 3000);
        f->mocks_up = 0;
    }
    unlink(f->cfg_path);
    unlink(f->events_path);
}

/* The mock's journal records for chat completions (health checks left out). */
static json_t *fx_journal(const char *mock_url)
{
    char u[300];
    struct thttp_resp r;
    snprintf(u, sizeof u, "%s/_mock/journal", mock_url);
    thttp_request("GET", u, NULL, NULL, 5000, &r);
    json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;
    thttp_resp_free(&r);
    json_t *out = json_array();
    json_t *recs = json_object_get(j, "records");
    size_t i;
    json_t *rec;
    json_array_foreach(recs, i, rec)
    {
        const char *path = json_string_value(json_object_get(rec, "path"));
        if (path && strstr(path, "/chat/completions"))
            json_array_append(out, rec);
    }
    json_decref(j);
    return out;
}

/* The relay's events so far, as an array. */
static json_t *fx_events(const struct fx *f)
{
    json_t *out = json_array();
    FILE *in = fopen(f->events_path, "r");
    if (!in)
        return out;
    char line[16384];
    while (fgets(line, sizeof line, in)) {
        json_t *e = json_loads(line, 0, NULL);
        if (e)
            json_array_append_new(out, e);
    }
    fclose(in);
    return out;
}

/* Events of a type whose field (may be NULL) equals value. */
FX_UNUSED static size_t fx_count_events(const struct fx *f, const char *type, const char *field,
                                        const char *value)
{
    json_t *ev = fx_events(f);
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(ev, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "type")), type) != 0)
            continue;
        const char *v = field ? json_string_value(json_object_get(e, field)) : NULL;
        if (!field || (v && strcmp(v, value) == 0))
            n++;
    }
    json_decref(ev);
    return n;
}

/* Polls until such an event exists; returns 0, or -1 at the timeout. */
FX_UNUSED static int fx_wait_event(const struct fx *f, const char *type, const char *field,
                                   const char *value, int timeout_ms)
{
    uint64_t end = co_clock_monotonic_us() + (uint64_t)timeout_ms * 1000;
    do {
        if (fx_count_events(f, type, field, value) > 0)
            return 0;
        co_sleep_us(10000);
    } while (co_clock_monotonic_us() < end);
    return -1;
}

/* POST a chat completion with request id `id`. */
FX_UNUSED static CURLcode fx_chat(const struct fx *f, const char *id, int stream, long timeout_ms,
                                  struct thttp_resp *r)
{
    char u[300], body[512], hid[200];
    snprintf(u, sizeof u, "%s/v1/chat/completions", f->relay_url);
    snprintf(body, sizeof body,
             "{\"model\":\"gpt-4.1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
             "\"stream\":%s,\"user\":\"%s\"}",
             stream ? "true" : "false", id);
    snprintf(hid, sizeof hid, "X-Request-ID: %s", id);
    const char *h[] = {"Content-Type: application/json", hid, NULL};
    return thttp_request("POST", u, body, h, timeout_ms, r);
}

FX_UNUSED static long fx_header_long(const struct thttp_resp *r, const char *name)
{
    char v[64];
    return thttp_header(r, name, v, sizeof v) ? strtol(v, NULL, 10) : -1;
}

FX_UNUSED static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

FX_UNUSED static long long jint(json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

/* The fixture of a test program and the cmocka hooks most of them use: the
 * two mocks live for the whole group, each test starts from fresh mock state,
 * and the relay a test started is stopped after it. */
FX_UNUSED static struct fx F;

FX_UNUSED static int fx_group_setup(void **state)
{
    return fx_start_mocks(&F);
}

FX_UNUSED static int fx_group_teardown(void **state)
{
    fx_stop(&F);
    return 0;
}

FX_UNUSED static int fx_setup(void **state)
{
    fx_reset_mocks(&F);
    return 0;
}

FX_UNUSED static int fx_teardown(void **state)
{
    fx_stop_relay(&F);
    return 0;
}

/* A loaded machine: upper bounds get this factor (lower bounds stay strict). */
#define FX_SLACK 10

#endif
