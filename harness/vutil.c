#include "harness/vutil.h"

#include "co_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int harness_v_expected(char *err, size_t errlen, const char *path, const char *expected,
                       const json_t *found)
{
    char d[96];
    snprintf(err, errlen, "%s: expected %s, found %s", path, expected,
             co_json_describe(found, d, sizeof d));
    return -1;
}

static void join(const char *const *names, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (; *names && len + 1 < n; names++) {
        int w = snprintf(out + len, n - len, "%s%s", len ? ", " : "", *names);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

void harness_errors_add(struct harness_errors *e, const char *msg)
{
    if (e->n < HARNESS_MAX_ERRORS)
        snprintf(e->msg[e->n++], sizeof e->msg[0], "%s", msg);
    e->total++;
}

int harness_v_keys(const json_t *obj, const char *path, const char *const *allowed, char *err,
                   size_t errlen)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (harness_v_key(key, path, allowed, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int harness_v_key(const char *key, const char *path, const char *const *allowed, char *err,
                  size_t errlen)
{
    for (const char *const *a = allowed; *a; a++)
        if (strcmp(*a, key) == 0)
            return 0;
    char list[512];
    join(allowed, list, sizeof list);
    const char *near = co_nearest(key, allowed);
    if (near)
        snprintf(err, errlen, "%s: expected a key among %s, found \"%s\" (did you mean '%s'?)",
                 path, list, key, near);
    else
        snprintf(err, errlen, "%s: expected a key among %s, found \"%s\"", path, list, key);
    return -1;
}

int harness_v_enum(const json_t *v, const char *path, const char *const *names, char *err,
                   size_t errlen)
{
    char list[512], exp[600];
    join(names, list, sizeof list);
    snprintf(exp, sizeof exp, "one of %s", list);
    if (!json_is_string(v))
        return harness_v_expected(err, errlen, path, exp, v);
    for (const char *const *n = names; *n; n++)
        if (strcmp(*n, json_string_value(v)) == 0)
            return 0;
    harness_v_expected(err, errlen, path, exp, v);
    const char *near = co_nearest(json_string_value(v), names);
    if (near) {
        size_t len = strlen(err);
        snprintf(err + len, errlen - len, " (did you mean '%s'?)", near);
    }
    return -1;
}

int harness_v_number(const json_t *obj, const char *key, const char *path, double lo, double hi,
                     double *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    char p[300], exp[96];
    snprintf(p, sizeof p, "%s.%s", path, key);
    double d;
    if (co_json_number(v, &d) != 0 || d < lo || d > hi) {
        if (hi >= 1e15)
            snprintf(exp, sizeof exp, "a number >= %g", lo);
        else
            snprintf(exp, sizeof exp, "a number in [%g, %g]", lo, hi);
        return harness_v_expected(err, errlen, p, exp, v);
    }
    *out = d;
    return 0;
}

void harness_v_fmt(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int harness_v_safe_name(const char *s, int spaces)
{
    if (!is_alnum(*s))
        return 0;
    size_t n = strlen(s);
    if (spaces && s[n - 1] == ' ')
        return 0;
    for (; *s; s++)
        if (!is_alnum(*s) && !strchr("._-", *s) && !(spaces && *s == ' '))
            return 0;
    return 1;
}

/* host[:port][/path] of an http(s) URL: an IPv6 literal in brackets or a
 * name of letters, digits, '.' and '-'; a path of unreserved characters,
 * '/' and %-escapes. */
static int url_ok(const char *u)
{
    const char *p = strncmp(u, "http://", 7) == 0    ? u + 7
                    : strncmp(u, "https://", 8) == 0 ? u + 8
                                                     : NULL;
    if (!p)
        return 0;
    const char *h = p;
    if (*p == '[') {
        for (p++; *p && (strchr("0123456789abcdefABCDEF:.", *p)); p++)
            ;
        if (*p++ != ']')
            return 0;
    } else {
        while (is_alnum(*p) || *p == '.' || *p == '-')
            p++;
    }
    if (p == h)
        return 0;
    if (*p == ':') {
        const char *d = ++p;
        while (*p >= '0' && *p <= '9')
            p++;
        if (p == d || p - d > 5)
            return 0;
    }
    for (; *p; p++)
        if (!is_alnum(*p) && !strchr("/._~%-", *p))
            return 0;
    return 1;
}

int harness_v_setting(const json_t *v, const char *path, int url, char *err, size_t errlen)
{
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;
    int ok = s && n >= 1 && n <= (url ? 256 : 128);
    if (ok && url) {
        ok = url_ok(s);
    } else if (ok) {
        for (const char *c = s; *c && ok; c++)
            ok = is_alnum(*c) || strchr("._~+/=-", *c);
    }
    if (ok)
        return 0;
    return harness_v_expected(err, errlen, path,
                              url ? "an http(s) URL of at most 256 characters: host, port and path "
                                    "(letters, digits, '/._~%-'), nothing a shell would expand"
                                  : "a token of 1..128 letters, digits and '._~+/=-' (nothing a "
                                    "shell would expand)",
                              v);
}
