/* The validator kit (co_valid.h): one wording of every validation error. */
#include "co_valid.h"

#include "co_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int co_v_error(char *err, size_t errlen, const char *path, const char *expected, const char *found,
               const char *near)
{
    snprintf(err, errlen, "%s: expected %s, found %s%s%s%s", path, expected, found,
             near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
    return -1;
}

int co_v_expected(char *err, size_t errlen, const char *path, const char *expected,
                  const json_t *found)
{
    char d[96];
    return co_v_error(err, errlen, path, expected, co_json_describe(found, d, sizeof d), NULL);
}

int co_v_fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s: %s", path, msg);
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

int co_v_keys(const json_t *obj, const char *path, const char *const *allowed, char *err,
              size_t errlen)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (co_v_key(key, path, allowed, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int co_v_keys_at(const json_t *obj, const char *path, const char *const *allowed, char *err,
                 size_t errlen)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        char p[300];
        co_v_path(p, sizeof p, path, ".%s", key);
        if (co_v_key(key, p, allowed, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int co_v_key(const char *key, const char *path, const char *const *allowed, char *err,
             size_t errlen)
{
    for (const char *const *a = allowed; *a; a++)
        if (strcmp(*a, key) == 0)
            return 0;
    char list[512], exp[540], found[640];
    join(allowed, list, sizeof list);
    snprintf(exp, sizeof exp, "a key among %s", list);
    snprintf(found, sizeof found, "\"%s\"", key);
    return co_v_error(err, errlen, path, exp, found, co_nearest(key, allowed));
}

int co_v_enum(const json_t *v, const char *path, const char *const *names, char *err, size_t errlen)
{
    char list[512], exp[600], found[96];
    join(names, list, sizeof list);
    snprintf(exp, sizeof exp, "one of %s", list);
    if (!json_is_string(v))
        return co_v_expected(err, errlen, path, exp, v);
    for (const char *const *n = names; *n; n++)
        if (strcmp(*n, json_string_value(v)) == 0)
            return 0;
    return co_v_error(err, errlen, path, exp, co_json_describe(v, found, sizeof found),
                      co_nearest(json_string_value(v), names));
}

int co_v_number(const json_t *obj, const char *path, const char *key, double lo, double hi,
                double *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    char p[300], exp[96];
    snprintf(p, sizeof p, "%s.%s", path, key);
    double d;
    if (co_json_number(v, &d) != 0 || !(d >= lo && d <= hi)) {
        if (hi >= 1e15)
            snprintf(exp, sizeof exp, "a number >= %g", lo);
        else
            snprintf(exp, sizeof exp, "a number in [%g, %g]", lo, hi);
        return co_v_expected(err, errlen, p, exp, v);
    }
    *out = d;
    return 0;
}

int co_v_long(const json_t *obj, const char *path, const char *key, long lo, long hi, long *out,
              char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    char p[300], exp[96];
    snprintf(p, sizeof p, "%s.%s", path, key);
    snprintf(exp, sizeof exp, "an integer in [%ld, %ld]", lo, hi);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return co_v_expected(err, errlen, p, exp, v);
    *out = (long)json_integer_value(v);
    return 0;
}

int co_v_string(const json_t *obj, const char *path, const char *key, char *out, size_t outlen,
                char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    char p[300], exp[64];
    snprintf(p, sizeof p, "%s.%s", path, key);
    snprintf(exp, sizeof exp, "a string of at most %zu bytes", outlen - 1);
    if (!json_is_string(v) || json_string_length(v) >= outlen)
        return co_v_expected(err, errlen, p, exp, v);
    snprintf(out, outlen, "%s", json_string_value(v));
    return 0;
}

int co_v_header_value(const json_t *obj, const char *path, const char *key, char *out,
                      size_t outlen, char *err, size_t errlen)
{
    if (co_v_string(obj, path, key, out, outlen, err, errlen))
        return -1;
    json_t *v = json_object_get(obj, key);
    size_t n = v ? json_string_length(v) : 0;
    const char *s = v ? json_string_value(v) : "";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f) {
            char p[300];
            snprintf(p, sizeof p, "%s.%s", path, key);
            return co_v_expected(err, errlen, p,
                                 "a header value without control characters (CR, LF, NUL, TAB)", v);
        }
    return 0;
}

int co_v_bool(const json_t *obj, const char *path, const char *key, int *out, char *err,
              size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    char p[300];
    snprintf(p, sizeof p, "%s.%s", path, key);
    if (!json_is_boolean(v))
        return co_v_expected(err, errlen, p, "true or false", v);
    *out = json_is_true(v);
    return 0;
}

void co_v_path(char *out, size_t n, const char *base, const char *fmt, ...)
{
    va_list ap;
    int k = snprintf(out, n, "%s", base);
    if (k < 0 || (size_t)k >= n)
        return;
    va_start(ap, fmt);
    vsnprintf(out + k, n - (size_t)k, fmt, ap);
    va_end(ap);
}

void co_v_fmt(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}
