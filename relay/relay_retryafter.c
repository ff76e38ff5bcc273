#include "relay_retryafter.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A non-negative decimal number with nothing but blanks around it. */
static int parse_number(const char *s, double *out)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (!isdigit((unsigned char)*s))
        return -1;
    /* Digits and one optional fraction only: strtod alone would take hex,
     * exponents and "inf". */
    size_t int_len = strspn(s, "0123456789");
    const char *rest = s + int_len;
    if (*rest == '.')
        rest += 1 + strspn(rest + 1, "0123456789");
    if (*rest && *rest != ' ' && *rest != '\t')
        return -1;
    char *end;
    double v = strtod(s, &end);
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end || !isfinite(v) || v < 0)
        return -1;
    *out = v;
    return 0;
}

static const char *const date_formats[] = {
    "%a, %d %b %Y %H:%M:%S GMT", /* IMF-fixdate */
    "%A, %d-%b-%y %H:%M:%S GMT", /* RFC 850 */
    "%a %b %e %H:%M:%S %Y",      /* asctime */
};

static int parse_date(const char *s, uint64_t now_ms, uint64_t *ms)
{
    while (*s == ' ')
        s++;
    for (size_t i = 0; i < sizeof date_formats / sizeof date_formats[0]; i++) {
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *end = strptime(s, date_formats[i], &tm);
        if (!end)
            continue;
        while (*end == ' ')
            end++;
        if (*end)
            continue;
        time_t t = timegm(&tm);
        if (t == (time_t)-1)
            continue;
        /* To the millisecond: a date is an instant, and the wait is from
         * now to it (a whole-second now, as time() gives, lagging a coarse
         * tick behind the second that began, asked a wait a second long). */
        uint64_t at_ms = t > 0 ? (uint64_t)t * 1000 : 0;
        *ms = at_ms > now_ms ? at_ms - now_ms : 0;
        return 0;
    }
    return -1;
}

int relay_retryafter_parse(const char *retry_after, const char *retry_after_ms, uint64_t now_ms,
                           uint64_t *ms)
{
    double v;
    /* Cap absurd values at a day so the arithmetic stays in range; the
     * caller compares against its own, much smaller, cap anyway. */
    const double day_ms = 86400e3;
    if (retry_after_ms && parse_number(retry_after_ms, &v) == 0) {
        *ms = (uint64_t)ceil(v < day_ms ? v : day_ms);
        return 0;
    }
    if (retry_after) {
        if (parse_number(retry_after, &v) == 0) {
            v *= 1000;
            *ms = (uint64_t)ceil(v < day_ms ? v : day_ms);
            return 0;
        }
        if (parse_date(retry_after, now_ms, ms) == 0)
            return 0;
    }
    return -1;
}
