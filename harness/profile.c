/* Relay profiles: loading, validation and rendering (harness/profile.h).
 *
 * Validation renders the command, the environment and the config template
 * once with every known placeholder bound to a dummy value, so that a typo
 * in a placeholder is reported when the profile is loaded, with the nearest
 * known name, and never half way through a scorecard run. */
#include "harness/profile.h"

#include "harness/probe.h"

#include "co_buf.h"
#include "co_json.h"
#include "co_mem.h"
#include "harness/checks.h"
#include "harness/scenario.h"
#include "harness/spawn.h"
#include "harness/vutil.h"

#include <ctype.h>
#include <dirent.h>
#include <signal.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const top_keys[] = {
    "name",   "description",       "requires",         "command", "env",   "config",
    "ready",  "settings",          "defaults",         "tells",   "notes", "stop_signal",
    "shell",  "request",           "api_key_env",      "cwd",     "fixed", "shared",
    "probes", "rate_limit_window", "rate_limit_burst", NULL};
static const char *const request_keys[] = {"method", "path", NULL};
static const char *const methods[] = {"POST", "PUT", NULL};
static const char *const config_keys[] = {"file", "template", "template_lines", "format", NULL};
static const char *const ready_keys[] = {"path", "timeout_ms", NULL};
static const char *const tells_names[] = {"events", "admin", "log", NULL};

/* Placeholders the runner always binds (docs/profiles.md). */
static const char *const runner_vars[] = {
    "blue_url",  "green_url", "blue_hostport", "green_hostport", "blue_port", "green_port",
    "port",      "events",    "workdir",       "config",         "relay_bin", "admin_token",
    "relay_url", "api_key",   "profile_dir",   "redis_url",      "replica",   "api_key_file",
    NULL};

/* Premises of a whole scenario (client keys, a rate limit, an admin API,
 * what a fleet's relay does without its store): a relay that cannot be
 * given one makes every check moot.  Which checks any other setting
 * decides is in each check's row (harness/checks.c). */
static const char *const premises[] = {
    "active_env", "rate_limit_requests", "rate_limit_window_ms", "client_keys", "admin_token",
    "admin API", "relay process", /* a relay the runner did not start */
    "direct_url", "shared_fail",
    /* The client behaviours of scenarios/clients: who the client is
     * (forwarded address, how many), how it sends, how many at once. */
    "trusted_proxies", "rate_limit_max_keys", "request_read_timeout_ms", "max_connections",
    "max_clients",
    /* A buffer budget: what the scenarios that set one are about (a 503
     * past it); a relay without one buffers without bound. */
    "max_buffered_bytes", NULL};

int harness_profile_affects(const char *key, const char *check_kind)
{
    for (const char *const *p = premises; *p; p++)
        if (strcmp(*p, key) == 0)
            return 1;
    return harness_check_depends(check_kind, key);
}

void harness_vars_set(struct harness_vars *v, const char *name, const char *value)
{
    for (int i = 0; i < v->n; i++)
        if (strcmp(v->v[i].name, name) == 0) {
            snprintf(v->v[i].value, sizeof v->v[i].value, "%s", value);
            return;
        }
    if (v->n >= HARNESS_PROFILE_MAX_VARS)
        return;
    snprintf(v->v[v->n].name, sizeof v->v[v->n].name, "%s", name);
    snprintf(v->v[v->n].value, sizeof v->v[v->n].value, "%s", value);
    v->n++;
}

static void json_scalar(const json_t *j, char *out, size_t n)
{
    if (json_is_string(j))
        snprintf(out, n, "%s", json_string_value(j));
    else if (json_is_integer(j))
        snprintf(out, n, "%lld", (long long)json_integer_value(j));
    else if (json_is_real(j))
        snprintf(out, n, "%g", json_real_value(j));
    else if (json_is_boolean(j))
        snprintf(out, n, "%s", json_is_true(j) ? "true" : "false");
    else
        snprintf(out, n, "%s", "");
}

static int maps(const struct harness_profile *p, const char *key)
{
    if (p->all_settings)
        return 1;
    for (int i = 0; i < p->n_settings; i++)
        if (strcmp(p->settings[i], key) == 0)
            return 1;
    return 0;
}

void harness_vars_settings(struct harness_vars *v, const struct harness_profile *p,
                           const json_t *relay)
{
    const char *k;
    json_t *val;
    char buf[600];
    /* A list (client_keys) as harness_setting_text writes it, its items
     * joined by commas, the way relays take lists from the environment. */
    json_object_foreach((json_t *)p->defaults, k, val)
    {
        harness_setting_text(val, buf, sizeof buf);
        harness_vars_set(v, k, buf);
    }
    json_object_foreach((json_t *)p->fixed, k, val)
    {
        json_scalar(val, buf, sizeof buf);
        harness_vars_set(v, k, buf);
    }
    if (!relay)
        return;
    json_object_foreach((json_t *)relay, k, val)
    {
        if (!maps(p, k) || json_is_object(val))
            continue;
        harness_setting_text(val, buf, sizeof buf);
        harness_vars_set(v, k, buf);
    }
}

size_t harness_profile_unmapped(const struct harness_profile *p, const json_t *relay,
                                int admin_used, const char **out, size_t cap)
{
    size_t n = 0;
    const char *k;
    json_t *val;
    if (relay)
        json_object_foreach((json_t *)relay, k, val)
        {
            if (maps(p, k) || strcmp(k, "log_level") == 0 || json_object_get(p->fixed, k))
                continue; /* a fixed key is the relay's own: equal, or not applicable */
            if (n < cap)
                out[n++] = k;
        }
    if (admin_used && !(p->tells & HARNESS_TELLS_ADMIN) && n < cap)
        out[n++] = "admin API";
    return n;
}

size_t harness_profile_fixed_conflicts(const struct harness_profile *p, const json_t *relay,
                                       const char **out, size_t cap)
{
    size_t n = 0;
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)relay, k, val)
    {
        const json_t *f = json_object_get(p->fixed, k);
        if (f && !json_equal((json_t *)f, val) && n < cap)
            out[n++] = k;
    }
    return n;
}

void harness_profile_fixed_why(const struct harness_profile *p, const char *key, char *out,
                               size_t n)
{
    char v[64];
    json_scalar(json_object_get(p->fixed, key), v, sizeof v);
    snprintf(out, n, "%s is fixed at %s", key, v);
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

char *harness_render(const char *tmpl, const struct harness_vars *v, char *err, size_t errlen)
{
    struct co_buf out;
    co_buf_init(&out, 0);
    for (const char *p = tmpl; *p;) {
        const char *value = NULL;
        char num[32];
        size_t skip = 0;
        if (*p == '{' && is_name_char(p[1])) {
            const char *q = p + 1;
            while (is_name_char(*q))
                q++;
            size_t nl = (size_t)(q - p - 1);
            long off = 0;
            int arith = 0;
            const char *r = q;
            if ((*r == '+' || *r == '-') && isdigit((unsigned char)r[1])) {
                char *end;
                off = strtol(r, &end, 10);
                r = end;
                arith = 1;
            }
            if (*r == '}' && nl < 40) {
                char name[40];
                memcpy(name, p + 1, nl);
                name[nl] = '\0';
                for (int i = 0; i < v->n; i++)
                    if (strcmp(v->v[i].name, name) == 0)
                        value = v->v[i].value;
                if (!value && err) {
                    const char *cand[HARNESS_PROFILE_MAX_VARS + 1];
                    for (int i = 0; i < v->n; i++)
                        cand[i] = v->v[i].name;
                    cand[v->n] = NULL;
                    const char *near = co_nearest(name, cand);
                    snprintf(err, errlen, "unknown placeholder {%s}%s%s%s", name,
                             near ? " (did you mean {" : "", near ? near : "", near ? "}?)" : "");
                    goto fail;
                }
                if (value && arith) {
                    char *end;
                    errno = 0;
                    long long base = strtoll(value, &end, 10);
                    if (errno || end == value || *end) {
                        if (!err) {
                            value = NULL; /* lenient: left as written */
                        } else {
                            snprintf(err, errlen, "{%s%+ld}: '%s' is not an integer", name, off,
                                     value);
                            goto fail;
                        }
                    } else {
                        snprintf(num, sizeof num, "%lld", base + off);
                        value = num;
                    }
                }
                skip = (size_t)(r + 1 - p);
            }
        }
        if (value) {
            co_buf_puts(&out, value);
            p += skip;
        } else {
            co_buf_append(&out, p++, 1);
        }
    }
    return co_buf_steal(&out, NULL);
fail:
    co_buf_free(&out);
    return NULL;
}

/* One scalar appended to b; 0, or -1 for an array or object. */
static int put_scalar(struct co_buf *b, const json_t *j)
{
    char num[64];
    if (json_is_array(j) || json_is_object(j))
        return -1;
    json_scalar(j, num, sizeof num);
    co_buf_puts(b, json_is_string(j) ? json_string_value(j) : num);
    return 0;
}

int harness_setting_text(const json_t *val, char *out, size_t n)
{
    struct co_buf b;
    co_buf_init(&b, 0);
    int bad = 0;
    /* A list the way relays take one on a command line (cutover-relay's
     * --client-keys a,b and --prices model=price,...): the items are
     * validated tokens and names, so a comma cannot be inside one. */
    if (json_is_array(val)) {
        size_t i;
        json_t *x;
        json_array_foreach(val, i, x)
        {
            co_buf_puts(&b, i ? "," : "");
            bad |= put_scalar(&b, x);
        }
    } else if (json_is_object(val)) {
        const char *k;
        json_t *x;
        int first = 1;
        json_object_foreach((json_t *)val, k, x)
        {
            co_buf_puts(&b, first ? "" : ",");
            co_buf_puts(&b, k);
            co_buf_puts(&b, "=");
            bad |= put_scalar(&b, x);
            first = 0;
        }
    } else {
        put_scalar(&b, val);
    }
    size_t len = 0;
    char *text = co_buf_steal(&b, &len);
    int rc = !bad && len < n ? 0 : -1;
    if (n)
        snprintf(out, n, "%s", rc == 0 && text ? text : "");
    free(text);
    return rc;
}

static const char *var_get(const struct harness_vars *v, const char *name)
{
    for (int i = 0; i < v->n; i++)
        if (strcmp(v->v[i].name, name) == 0)
            return v->v[i].value;
    return NULL;
}

static int is_relay_key(const char *name)
{
    for (const char *const *k = harness_relay_key_names(); *k; k++)
        if (strcmp(*k, name) == 0)
            return 1;
    return 0;
}

/* The known placeholder nearest to name (the runner's and every relay
 * key), or NULL when none is a plausible misspelling. */
static const char *nearest_placeholder(const struct harness_vars *v, const char *name)
{
    const char *const *keys = harness_relay_key_names();
    size_t nk = 0;
    while (keys[nk])
        nk++;
    const char **cand = co_calloc((size_t)v->n + nk + 1, sizeof *cand);
    size_t n = 0;
    for (int i = 0; i < v->n; i++)
        cand[n++] = v->v[i].name;
    for (size_t i = 0; i < nk; i++)
        cand[n++] = keys[i];
    const char *near = co_nearest(name, cand);
    free(cand);
    return near;
}

int harness_vars_raw(struct harness_vars *v, const char *cmd, const json_t *relay,
                     const json_t *given, char *err, size_t errlen)
{
    char buf[sizeof v->v[0].value];
    for (const char *p = cmd; (p = strchr(p, '{')) != NULL; p++) {
        const char *q = p + 1;
        while (is_name_char(*q))
            q++;
        if ((*q == '+' || *q == '-') && isdigit((unsigned char)q[1]))
            while (isdigit((unsigned char)*++q))
                ;
        size_t nl = strcspn(p + 1, "+-}");
        if (*q != '}' || nl == 0 || nl >= sizeof v->v[0].name)
            continue;
        char name[sizeof v->v[0].name];
        memcpy(name, p + 1, nl);
        name[nl] = '\0';
        if (!is_relay_key(name)) {
            /* A runner placeholder, or braces of the command's own; but a
             * near miss of a known name is a typo the relay would get
             * verbatim. */
            const char *near = var_get(v, name) ? NULL : nearest_placeholder(v, name);
            if (near) {
                harness_v_fmt(err, errlen,
                              "unknown placeholder {%s} (did you mean {%s}?); the placeholders "
                              "are listed in docs/profiles.md",
                              name, near);
                return -1;
            }
            continue;
        }
        const json_t *val = json_object_get(relay, name);
        const char *from = "the scenario's value";
        if (!val && var_get(v, name))
            continue; /* the runner's own ({admin_token}, {direct_url}) */
        if (!val) {
            val = json_object_get(given, name);
            from = "the runner's value";
        }
        if (!val) {
            harness_v_fmt(err, errlen,
                          "{%s} is relay setting '%s', which this scenario does not set and the "
                          "runner has no value for (set $.relay.%s in the scenario, or give the "
                          "relay its settings through {config}, or start it from a profile whose "
                          "\"defaults\" give one: docs/profiles.md)",
                          name, name, name);
            return -1;
        }
        if (harness_setting_text(val, buf, sizeof buf) != 0) {
            harness_v_fmt(err, errlen,
                          "{%s}: %s does not fit on a command line (%zu bytes at most)", name, from,
                          sizeof buf - 1);
            return -1;
        }
        harness_vars_set(v, name, buf);
    }
    return 0;
}

void harness_profile_free(struct harness_profile **pp)
{
    struct harness_profile *p = *pp;
    if (!p)
        return;
    free(p->command);
    for (int i = 0; i < p->n_env; i++)
        free(p->env[i].value);
    free(p->config_template);
    free(p->cwd);
    json_decref(p->fixed);
    json_decref(p->defaults);
    json_decref(p->notes);
    free(p);
    *pp = NULL;
}

static char *slurp(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        harness_v_fmt(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = co_malloc(HARNESS_PROFILE_MAX_BYTES + 1);
    size_t n = fread(buf, 1, HARNESS_PROFILE_MAX_BYTES + 1, f);
    fclose(f);
    if (n > HARNESS_PROFILE_MAX_BYTES) {
        harness_v_fmt(err, errlen, "%s: larger than %d bytes", path, HARNESS_PROFILE_MAX_BYTES);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static int get_string(const json_t *obj, const char *key, const char *path, int required, char *out,
                      size_t n, char *err, size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    char p[128];
    harness_v_fmt(p, sizeof p, "%s.%s", path, key);
    if (!v) {
        if (required) {
            snprintf(err, errlen, "%s: missing (expected a string)", p);
            return -1;
        }
        return 0;
    }
    if (!json_is_string(v) || (required && !json_string_length(v)))
        return harness_v_expected(err, errlen, p, "a non-empty string", v);
    if (json_string_length(v) >= n) {
        snprintf(err, errlen, "%s: longer than %zu characters", p, n - 1);
        return -1;
    }
    snprintf(out, n, "%s", json_string_value(v));
    return 0;
}

/* The config template: a file next to the profile, or lines inline. */
static int load_template(struct harness_profile *p, const json_t *cfg, char *err, size_t errlen)
{
    const json_t *file = json_object_get(cfg, "template");
    const json_t *lines = json_object_get(cfg, "template_lines");
    if (file && lines) {
        snprintf(err, errlen,
                 "$.config: give \"template\" (a file) or \"template_lines\", not both");
        return -1;
    }
    if (file) {
        if (!json_is_string(file) || !json_string_length(file))
            return harness_v_expected(err, errlen, "$.config.template",
                                      "a file name relative to the profile", file);
        char path[PATH_MAX];
        const char *t = json_string_value(file);
        const char *slash = strrchr(p->file, '/');
        if (t[0] == '/' || !slash)
            snprintf(path, sizeof path, "%s", t);
        else
            snprintf(path, sizeof path, "%.*s/%s", (int)(slash - p->file), p->file, t);
        char e2[600];
        p->config_template = slurp(path, e2, sizeof e2);
        if (!p->config_template) {
            snprintf(err, errlen, "$.config.template: %s", e2);
            return -1;
        }
        return 0;
    }
    if (lines) {
        if (!json_is_array(lines))
            return harness_v_expected(err, errlen, "$.config.template_lines", "an array of strings",
                                      lines);
        size_t i, total = 1;
        json_t *l;
        json_array_foreach(lines, i, l)
        {
            if (!json_is_string(l)) {
                char pp[64];
                harness_v_fmt(pp, sizeof pp, "$.config.template_lines[%zu]", i);
                return harness_v_expected(err, errlen, pp, "a string", l);
            }
            total += json_string_length(l) + 1;
        }
        p->config_template = co_malloc(total);
        p->config_template[0] = '\0';
        size_t len = 0;
        json_array_foreach(lines, i, l)
        {
            size_t ll = json_string_length(l);
            memcpy(p->config_template + len, json_string_value(l), ll);
            len += ll;
            p->config_template[len++] = '\n';
        }
        p->config_template[len] = '\0';
    }
    return 0;
}

/* Every placeholder must be known: render with dummies. */
static int check_placeholders(const struct harness_profile *p, char *err, size_t errlen)
{
    struct harness_vars v = {.n = 0};
    for (int i = 0; runner_vars[i]; i++)
        harness_vars_set(&v, runner_vars[i], "1");
    harness_vars_settings(&v, p, NULL);
    for (int i = 0; i < p->n_settings; i++)
        harness_vars_set(&v, p->settings[i], "1");
    char e[256];
    char *r = harness_render(p->command, &v, e, sizeof e);
    if (!r) {
        snprintf(err, errlen, "$.command: %s", e);
        return -1;
    }
    free(r);
    for (int i = 0; i < p->n_env; i++) {
        r = harness_render(p->env[i].value, &v, e, sizeof e);
        if (!r) {
            snprintf(err, errlen, "$.env.%s: %s", p->env[i].name, e);
            return -1;
        }
        free(r);
    }
    r = harness_render(p->cwd, &v, e, sizeof e);
    if (!r) {
        snprintf(err, errlen, "$.cwd: %s", e);
        return -1;
    }
    free(r);
    if (p->config_template) {
        r = harness_render(p->config_template, &v, e, sizeof e);
        if (!r) {
            snprintf(err, errlen, "$.config template: %s", e);
            return -1;
        }
        free(r);
    }
    return 0;
}

/* What a relay that is not ours needs: the path and method its clients
 * use, how it gets the upstream key, where it runs, and the settings it has
 * fixed (docs/profiles.md). */
static int parse_black_box(struct harness_profile *p, const json_t *doc, char *err, size_t errlen)
{
    const json_t *req = json_object_get(doc, "request");
    if (req) {
        if (!json_is_object(req))
            return harness_v_expected(err, errlen, "$.request",
                                      "an object {\"method\": \"POST\", \"path\": \"/api/chat\"}",
                                      req);
        if (harness_v_keys(req, "$.request", request_keys, err, errlen) != 0)
            return -1;
        const json_t *m = json_object_get(req, "method");
        if (m && harness_v_enum(m, "$.request.method", methods, err, errlen) != 0)
            return -1;
        if (m)
            snprintf(p->req_method, sizeof p->req_method, "%s", json_string_value(m));
        if (get_string(req, "path", "$.request", 0, p->req_path, sizeof p->req_path, err, errlen) !=
            0)
            return -1;
        if (p->req_path[0] && p->req_path[0] != '/') {
            snprintf(err, errlen, "$.request.path: expected a path starting with '/', found '%s'",
                     p->req_path);
            return -1;
        }
    }
    if (get_string(doc, "api_key_env", "$", 0, p->api_key_env, sizeof p->api_key_env, err,
                   errlen) != 0)
        return -1;
    for (const char *c = p->api_key_env; *c; c++)
        if (!(isalnum((unsigned char)*c) || *c == '_') ||
            isdigit((unsigned char)p->api_key_env[0])) {
            snprintf(err, errlen, "$.api_key_env: '%s' is not an environment variable name",
                     p->api_key_env);
            return -1;
        }
    const json_t *cwd = json_object_get(doc, "cwd");
    if (cwd && (!json_is_string(cwd) || !json_string_length(cwd)))
        return harness_v_expected(err, errlen, "$.cwd", "a folder (placeholders allowed)", cwd);
    p->cwd = co_strdup(cwd ? json_string_value(cwd) : "{profile_dir}");
    const json_t *fixed = json_object_get(doc, "fixed");
    if (fixed) {
        if (!json_is_object(fixed))
            return harness_v_expected(err, errlen, "$.fixed",
                                      "an object of relay settings the relay cannot change", fixed);
        if (harness_relay_validate(fixed, "$.fixed", err, errlen) != 0)
            return -1;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)fixed, k, v)
        {
            if (p->all_settings || maps(p, k)) {
                snprintf(err, errlen,
                         "$.fixed.%s: also in $.settings (a setting is either the scenario's or "
                         "fixed, not both)",
                         k);
                return -1;
            }
            if (json_is_object(v) || json_is_array(v)) {
                char pp[128];
                harness_v_fmt(pp, sizeof pp, "$.fixed.%s", k);
                return harness_v_expected(err, errlen, pp, "a string, number or boolean", v);
            }
        }
        p->fixed = json_deep_copy(fixed);
    }
    return 0;
}

/* A command runs without a shell unless the profile says "shell": true
 * (harness/spawn.h): shell syntax in a plain command would be passed to the
 * program as literal words, so it is refused here with the way out. */
static int check_command(const struct harness_profile *p, char *err, size_t errlen)
{
    char **argv = NULL;
    char e[128];
    if (!p->shell && harness_argv_split(p->command, &argv, e, sizeof e) < 0) {
        snprintf(err, errlen, "$.command: %s", e);
        return -1;
    }
    harness_argv_free(&argv);
    size_t col = p->shell ? 0 : harness_cmd_shell_syntax(p->command);
    if (col == 1 && !strchr("|;&<>`$()*?[]", p->command[0])) {
        snprintf(err, errlen,
                 "$.command: starts with a shell builtin or a VAR=value assignment, but commands "
                 "run without a shell (use \"env\", or set \"shell\": true)");
        return -1;
    }
    if (col) {
        snprintf(err, errlen,
                 "$.command: shell syntax '%c' at column %zu, but commands run without a shell "
                 "(quote it, or set \"shell\": true)",
                 p->command[col - 1], col);
        return -1;
    }
    return 0;
}

/* Does the command, an env value or the config template name {redis_url}? */
static int names_redis_url(const struct harness_profile *p)
{
    static const char var[] = "{redis_url}";
    if (strstr(p->command, var) || (p->config_template && strstr(p->config_template, var)))
        return 1;
    for (int i = 0; i < p->n_env; i++)
        if (strstr(p->env[i].value, var))
            return 1;
    return 0;
}

/* "shared": true says the relay takes a fleet's shared store (docs/fleet.md):
 * as {redis_url} in its command, env or config template, or, for
 * cutover-relay's JSON config, as that config's "shared" key.  Without it
 * the replicas run unshared, and {redis_url} would hand them a store the
 * profile says they do not take. */
static int parse_shared(struct harness_profile *p, const json_t *doc, char *err, size_t errlen)
{
    const json_t *rk = json_object_get(doc, "rate_limit_window");
    if (rk) {
        static const char *const kinds[] = {"sliding", "fixed", "bucket", NULL};
        if (harness_v_enum(rk, "$.rate_limit_window", kinds, err, errlen) != 0)
            return -1;
        snprintf(p->rl_kind, sizeof p->rl_kind, "%s", json_string_value(rk));
    }
    /* A token bucket's size: without it a bucket could explain any burst. */
    if (json_object_get(doc, "rate_limit_burst")) {
        if (strcmp(p->rl_kind, "bucket") != 0)
            return harness_v_expected(err, errlen, "$.rate_limit_burst",
                                      "no bucket size unless \"rate_limit_window\" is \"bucket\"",
                                      json_object_get(doc, "rate_limit_burst"));
        if (harness_v_number(doc, "rate_limit_burst", "$", 1, 1e15, &p->rl_burst, err, errlen) != 0)
            return -1;
    }
    const json_t *sh = json_object_get(doc, "shared");
    if (sh && !json_is_boolean(sh))
        return harness_v_expected(err, errlen, "$.shared",
                                  "true (the relay takes {redis_url}) or false", sh);
    p->shared = json_is_true(sh);
    int named = names_redis_url(p);
    if (p->shared && !named && !p->config_json)
        return harness_v_expected(err, errlen, "$.shared",
                                  "{redis_url} in the command, env or config template (how the "
                                  "relay takes the store)",
                                  sh);
    if (!p->shared && named) {
        snprintf(err, errlen, "$.shared: expected true: the profile uses {redis_url}, found %s",
                 sh ? "false" : "nothing");
        return -1;
    }
    return 0;
}

static int parse(struct harness_profile *p, const json_t *doc, char *err, size_t errlen)
{
    if (!json_is_object(doc))
        return harness_v_expected(err, errlen, "$", "a relay profile object", doc);
    if (harness_v_keys(doc, "$", top_keys, err, errlen) != 0 ||
        get_string(doc, "name", "$", 1, p->name, sizeof p->name, err, errlen) != 0 ||
        get_string(doc, "description", "$", 0, p->description, sizeof p->description, err,
                   errlen) != 0 ||
        get_string(doc, "requires", "$", 0, p->requires, sizeof p->requires, err, errlen) != 0)
        return -1;
    for (const char *c = p->name; *c; c++)
        if (!is_name_char(*c) && *c != '-' && !(*c >= 'A' && *c <= 'Z')) {
            snprintf(err, errlen,
                     "$.name: '%s': use letters, digits, '-' and '_' (it names a folder)", p->name);
            return -1;
        }
    const json_t *cmd = json_object_get(doc, "command");
    if (!json_is_string(cmd) || !json_string_length(cmd)) {
        if (!cmd) {
            snprintf(err, errlen,
                     "$.command: missing (expected a command line with "
                     "{placeholders})");
            return -1;
        }
        return harness_v_expected(err, errlen, "$.command", "a non-empty command line", cmd);
    }
    p->command = co_strdup(json_string_value(cmd));
    const json_t *shell = json_object_get(doc, "shell");
    if (shell && !json_is_boolean(shell))
        return harness_v_expected(err, errlen, "$.shell",
                                  "true (the command is a shell script) or false", shell);
    p->shell = json_is_true(shell);
    if (check_command(p, err, errlen) != 0)
        return -1;

    const json_t *env = json_object_get(doc, "env");
    if (env) {
        if (!json_is_object(env))
            return harness_v_expected(err, errlen, "$.env", "an object of NAME: value", env);
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)env, k, v)
        {
            char pp[128];
            harness_v_fmt(pp, sizeof pp, "$.env.%s", k);
            if (p->n_env >= HARNESS_PROFILE_MAX_ENV) {
                snprintf(err, errlen, "$.env: more than %d variables", HARNESS_PROFILE_MAX_ENV);
                return -1;
            }
            if (!json_is_string(v))
                return harness_v_expected(err, errlen, pp, "a string", v);
            if (!*k || strlen(k) >= sizeof p->env[0].name || strchr(k, '=')) {
                snprintf(err, errlen, "%s: not a variable name", pp);
                return -1;
            }
            snprintf(p->env[p->n_env].name, sizeof p->env[0].name, "%s", k);
            p->env[p->n_env].value = co_strdup(json_string_value(v));
            p->n_env++;
        }
    }

    const json_t *cfg = json_object_get(doc, "config");
    if (cfg) {
        if (!json_is_object(cfg))
            return harness_v_expected(err, errlen, "$.config",
                                      "an object {\"file\", \"template\"|\"template_lines\"|"
                                      "\"format\"}",
                                      cfg);
        if (harness_v_keys(cfg, "$.config", config_keys, err, errlen) != 0 ||
            get_string(cfg, "file", "$.config", 1, p->config_file, sizeof p->config_file, err,
                       errlen) != 0)
            return -1;
        if (strchr(p->config_file, '/')) {
            snprintf(err, errlen,
                     "$.config.file: '%s': a plain file name (it goes into the "
                     "scenario's work folder)",
                     p->config_file);
            return -1;
        }
        const json_t *fmt = json_object_get(cfg, "format");
        static const char *const formats[] = {"template", "cutover-relay-json", NULL};
        if (fmt && harness_v_enum(fmt, "$.config.format", formats, err, errlen) != 0)
            return -1;
        p->config_json = fmt && strcmp(json_string_value(fmt), "cutover-relay-json") == 0;
        if (load_template(p, cfg, err, errlen) != 0)
            return -1;
        if (!p->config_json && !p->config_template) {
            snprintf(err, errlen,
                     "$.config: needs \"template\", \"template_lines\" or "
                     "\"format\": \"cutover-relay-json\"");
            return -1;
        }
    }

    const json_t *ready = json_object_get(doc, "ready");
    snprintf(p->ready_path, sizeof p->ready_path, "/health");
    p->ready_timeout_us = 5000000;
    if (ready) {
        if (!json_is_object(ready))
            return harness_v_expected(err, errlen, "$.ready",
                                      "an object {\"path\": \"/health\", \"timeout_ms\": 5000}",
                                      ready);
        if (harness_v_keys(ready, "$.ready", ready_keys, err, errlen) != 0 ||
            get_string(ready, "path", "$.ready", 0, p->ready_path, sizeof p->ready_path, err,
                       errlen) != 0)
            return -1;
        if (p->ready_path[0] != '/') {
            snprintf(err, errlen, "$.ready.path: expected a path starting with '/', found '%s'",
                     p->ready_path);
            return -1;
        }
        double ms = 5000;
        if (harness_v_number(ready, "timeout_ms", "$.ready", 1, 120000, &ms, err, errlen) != 0)
            return -1;
        p->ready_timeout_us = (uint64_t)(ms * 1000);
    }

    static const char *const sig_names[] = {"TERM", "QUIT", "INT", "USR1", NULL};
    static const int sig_values[] = {SIGTERM, SIGQUIT, SIGINT, SIGUSR1};
    const json_t *stop = json_object_get(doc, "stop_signal");
    p->stop_signal = SIGTERM;
    if (stop) {
        if (harness_v_enum(stop, "$.stop_signal", sig_names, err, errlen) != 0)
            return -1;
        for (int i = 0; sig_names[i]; i++)
            if (strcmp(sig_names[i], json_string_value(stop)) == 0)
                p->stop_signal = sig_values[i];
    }

    const json_t *set = json_object_get(doc, "settings");
    const char *const *known = harness_relay_key_names();
    if (json_is_string(set) && strcmp(json_string_value(set), "all") == 0) {
        p->all_settings = 1;
    } else if (json_is_array(set)) {
        size_t i;
        json_t *s;
        json_array_foreach(set, i, s)
        {
            char pp[64];
            harness_v_fmt(pp, sizeof pp, "$.settings[%zu]", i);
            if (harness_v_enum(s, pp, known, err, errlen) != 0)
                return -1;
            if (p->n_settings >= HARNESS_PROFILE_MAX_SETTINGS) {
                snprintf(err, errlen, "$.settings: more than %d keys",
                         HARNESS_PROFILE_MAX_SETTINGS);
                return -1;
            }
            snprintf(p->settings[p->n_settings++], sizeof p->settings[0], "%s",
                     json_string_value(s));
        }
    } else if (set) {
        return harness_v_expected(err, errlen, "$.settings",
                                  "\"all\" or an array of scenario relay keys it can express", set);
    }

    const json_t *def = json_object_get(doc, "defaults");
    if (def && !json_is_object(def))
        return harness_v_expected(err, errlen, "$.defaults", "an object of setting: value", def);
    p->defaults = def ? json_deep_copy(def) : json_object();
    const char *k;
    json_t *v;
    json_object_foreach(p->defaults, k, v)
    {
        char pp[128];
        harness_v_fmt(pp, sizeof pp, "$.defaults.%s", k);
        if (json_is_array(v)) {
            /* A list setting's default (client_keys: []): strings without
             * commas or blanks, joined by commas when substituted. */
            size_t i;
            json_t *x;
            json_array_foreach(v, i,
                               x) if (!json_is_string(x) || strpbrk(json_string_value(x), ", \t\n"))
            {
                char ip[160];
                harness_v_fmt(ip, sizeof ip, "%s[%zu]", pp, i);
                return harness_v_expected(err, errlen, ip, "a string without commas or blanks", x);
            }
        } else if (!json_is_string(v) && !json_is_number(v) && !json_is_boolean(v)) {
            return harness_v_expected(err, errlen, pp, "a string, number, boolean or list", v);
        }
        if (!maps(p, k)) {
            snprintf(err, errlen,
                     "%s: '%s' is not in $.settings (a default for a setting the "
                     "profile does not express)",
                     pp, k);
            return -1;
        }
    }

    const json_t *tells = json_object_get(doc, "tells");
    if (tells) {
        if (!json_is_array(tells))
            return harness_v_expected(err, errlen, "$.tells",
                                      "an array of \"events\", \"admin\", \"log\" (empty: nothing)",
                                      tells);
        size_t i;
        json_t *t;
        json_array_foreach(tells, i, t)
        {
            char pp[64];
            harness_v_fmt(pp, sizeof pp, "$.tells[%zu]", i);
            if (harness_v_enum(t, pp, tells_names, err, errlen) != 0)
                return -1;
            const char *w = json_string_value(t);
            p->tells |= strcmp(w, "events") == 0  ? HARNESS_TELLS_EVENTS
                        : strcmp(w, "admin") == 0 ? HARNESS_TELLS_ADMIN
                                                  : HARNESS_TELLS_LOG;
        }
    }

    const json_t *notes = json_object_get(doc, "notes");
    if (notes) {
        if (!json_is_object(notes))
            return harness_v_expected(err, errlen, "$.notes",
                                      "an object of scenario name: why it fails", notes);
        json_object_foreach((json_t *)notes, k, v)
        {
            char pp[160];
            harness_v_fmt(pp, sizeof pp, "$.notes.%s", k);
            if (!json_is_string(v))
                return harness_v_expected(err, errlen, pp, "a short string", v);
        }
        p->notes = json_deep_copy(notes);
    }
    if (parse_black_box(p, doc, err, errlen) != 0 || parse_shared(p, doc, err, errlen) != 0)
        return -1;
    /* The relay's own endpoints, for the timeline's probe steps: none
     * declared leaves every check that reads them inconclusive. */
    if (harness_probe_map_parse(json_object_get(doc, "probes"), "$.probes", &p->probes, err,
                                errlen) != 0)
        return -1;
    return check_placeholders(p, err, errlen);
}

struct harness_profile *harness_profile_from_json(const json_t *doc, const char *file, char *err,
                                                  size_t errlen)
{
    struct harness_profile *p = co_calloc(1, sizeof *p);
    snprintf(p->file, sizeof p->file, "%s", file);
    /* {profile_dir}: the profile's folder, absolute, so that a relay started
     * there finds its own files (server.js, app.py). */
    char folder[PATH_MAX], abs[PATH_MAX];
    const char *slash = strrchr(file, '/');
    snprintf(folder, sizeof folder, "%.*s", slash ? (int)(slash - file) : 1, slash ? file : ".");
    if (!folder[0])
        snprintf(folder, sizeof folder, "/");
    harness_v_fmt(p->dir, sizeof p->dir, "%s", realpath(folder, abs) ? abs : folder);
    char e[1024];
    if (parse(p, doc, e, sizeof e) != 0) {
        snprintf(err, errlen, "%s: %s", file, e);
        harness_profile_free(&p);
    }
    return p;
}

struct harness_profile *harness_profile_load(const char *path, char *err, size_t errlen)
{
    json_t *doc = co_json_load_file(path, err, errlen);
    if (!doc)
        return NULL;
    struct harness_profile *p = harness_profile_from_json(doc, path, err, errlen);
    json_decref(doc);
    return p;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int harness_profile_find(const char *arg, char *out, size_t n)
{
    /* A command line has spaces or placeholders; a profile has neither. */
    if (strpbrk(arg, " \t{"))
        return 0;
    size_t al = strlen(arg);
    if (al > 5 && strcmp(arg + al - 5, ".json") == 0 && is_file(arg)) {
        snprintf(out, n, "%s", arg);
        return 1;
    }
    if (strchr(arg, '/'))
        return 0;
    char cand[PATH_MAX];
    snprintf(cand, sizeof cand, "relays/%s.json", arg);
    if (is_file(cand)) {
        snprintf(out, n, "%s", cand);
        return 1;
    }
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0)
        return 0;
    self[len] = '\0';
    static const char *const ups[] = {"/../relays/", "/../../relays/"};
    char *slash = strrchr(self, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    for (size_t i = 0; i < sizeof ups / sizeof ups[0]; i++) {
        harness_v_fmt(cand, sizeof cand, "%s%s%s.json", self, ups[i], arg);
        if (is_file(cand)) {
            snprintf(out, n, "%s", cand);
            return 1;
        }
    }
    return 0;
}

int harness_profile_available(const struct harness_profile *p, char *err, size_t errlen)
{
    if (!p->requires[0])
        return 1;
    char found[PATH_MAX];
    if (harness_which(p->requires, found, sizeof found) == 0)
        return 1;
    if (strchr(p->requires, '/'))
        snprintf(err, errlen, "%s: %s is not installed (%s)", p->name, p->requires,
                 access(p->requires, F_OK) == 0 ? "not executable" : "no such file");
    else
        harness_missing_program(p->requires, err, errlen);
    return 0;
}

/* The profile names we can see (relays/ here and next to the executable),
 * for "did you mean"; n at most cap. */
static size_t profile_names(char names[][64], size_t cap)
{
    char dirs[3][PATH_MAX];
    size_t nd = 0, n = 0;
    snprintf(dirs[nd++], sizeof dirs[0], "relays");
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    char *slash = len > 0 ? (self[len] = '\0', strrchr(self, '/')) : NULL;
    if (slash) {
        *slash = '\0';
        harness_v_fmt(dirs[nd++], sizeof dirs[0], "%s/../relays", self);
        harness_v_fmt(dirs[nd++], sizeof dirs[0], "%s/../../relays", self);
    }
    for (size_t d = 0; d < nd; d++) {
        DIR *dir = opendir(dirs[d]);
        struct dirent *e;
        while (dir && (e = readdir(dir)) != NULL && n < cap) {
            size_t l = strlen(e->d_name);
            if (l <= 5 || l - 5 >= 64 || strcmp(e->d_name + l - 5, ".json") != 0)
                continue;
            snprintf(names[n], 64, "%.*s", (int)(l - 5), e->d_name);
            int dup = 0;
            for (size_t k = 0; k < n; k++)
                dup |= strcmp(names[k], names[n]) == 0;
            n += !dup;
        }
        if (dir)
            closedir(dir);
    }
    return n;
}

int harness_profile_resolve(const char *arg, char *out, size_t n, char *err, size_t errlen)
{
    size_t al = strlen(arg);
    int is_json = al > 5 && strcmp(arg + al - 5, ".json") == 0 && !strpbrk(arg, " \t{");
    int is_name = al > 0;
    for (const char *c = arg; *c; c++)
        is_name &= is_name_char(*c) || *c == '-' || *c == '.' || (*c >= 'A' && *c <= 'Z');
    if (!is_json && !is_name)
        return 0;
    if (harness_profile_find(arg, out, n))
        return 1;
    if (is_json) {
        snprintf(err, errlen, "relay profile %s: %s", arg, strerror(ENOENT));
        return -1;
    }
    char names[32][64];
    size_t nn = profile_names(names, 32);
    const char *cands[33];
    for (size_t i = 0; i < nn; i++)
        cands[i] = names[i];
    cands[nn] = NULL;
    const char *near = co_nearest(arg, cands);
    char list[512] = "";
    for (size_t i = 0; i < nn; i++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", names[i]);
    }
    if (near)
        snprintf(err, errlen, "unknown profile '%s', did you mean %s? (profiles: %s)", arg, near,
                 list);
    else
        snprintf(err, errlen,
                 "unknown profile '%s' (profiles: %s; a relay command needs a space or a '/')", arg,
                 list[0] ? list : "none found");
    return -1;
}
