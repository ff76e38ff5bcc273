#include "harness/vutil.h"

#include "co_json.h"

#include <stdio.h>
#include <string.h>

void harness_errors_add(struct harness_errors *e, const char *msg)
{
    if (e->n < HARNESS_MAX_ERRORS)
        snprintf(e->msg[e->n++], sizeof e->msg[0], "%s", msg);
    e->total++;
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
