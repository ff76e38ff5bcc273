#include "co_log.h"

#include "co_clock.h"
#include "co_mem.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SECRETS 8

static const char *log_component = "cutover";
static enum co_log_level log_min = CO_LOG_INFO;
static FILE *log_out;
static char *secrets[MAX_SECRETS];
static size_t nsecrets;

static const char *level_names[] = {"debug", "info", "warn", "error"};

void co_log_init(const char *component, enum co_log_level min, FILE *out)
{
    log_component = component;
    log_min = min;
    log_out = out;
}

int co_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

static void vlog(enum co_log_level lvl, unsigned long suppressed, const char *fmt, va_list ap)
{
    char msg[2048], clean[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    co_redact(msg, clean, sizeof clean);
    FILE *out = log_out ? log_out : stderr;
    if (suppressed)
        fprintf(out, "%.3f %s %s: %s (%lu similar lines suppressed)\n", (double)co_now_us() / 1e6,
                level_names[lvl], log_component, clean, suppressed);
    else
        fprintf(out, "%.3f %s %s: %s\n", (double)co_now_us() / 1e6, level_names[lvl], log_component,
                clean);
    fflush(out);
}

void co_log(enum co_log_level lvl, const char *fmt, ...)
{
    if (lvl < log_min)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(lvl, 0, fmt, ap);
    va_end(ap);
}

/* A token bucket per key: CO_LOG_BURST tokens, one back every
 * CO_LOG_EVERY_S seconds.  A small table: past it, keys share the last
 * slot (still bounded, only less precise). */
#define LIMIT_KEYS 64
static struct {
    const void *key;
    double tokens;
    uint64_t last_us;
    unsigned long suppressed;
} limits[LIMIT_KEYS];
/* The mock's worker threads (`cutover mock --threads N`) log through here
 * from several loops at once (libmicrohttpd's messages). */
static pthread_mutex_t limits_mu = PTHREAD_MUTEX_INITIALIZER;

void co_log_limited(const void *key, enum co_log_level lvl, const char *fmt, ...)
{
    if (lvl < log_min)
        return;
    size_t i = 0;
    pthread_mutex_lock(&limits_mu);
    while (i < LIMIT_KEYS - 1 && limits[i].key && limits[i].key != key)
        i++;
    uint64_t now = co_now_us();
    if (limits[i].key != key) {
        limits[i].key = key;
        limits[i].tokens = CO_LOG_BURST;
        limits[i].last_us = now;
        limits[i].suppressed = 0;
    }
    limits[i].tokens += (double)(now - limits[i].last_us) / (CO_LOG_EVERY_S * 1e6);
    if (limits[i].tokens > CO_LOG_BURST)
        limits[i].tokens = CO_LOG_BURST;
    limits[i].last_us = now;
    if (limits[i].tokens < 1) {
        limits[i].suppressed++;
        pthread_mutex_unlock(&limits_mu);
        return;
    }
    limits[i].tokens -= 1;
    unsigned long suppressed = limits[i].suppressed;
    limits[i].suppressed = 0;
    pthread_mutex_unlock(&limits_mu);
    va_list ap;
    va_start(ap, fmt);
    vlog(lvl, suppressed, fmt, ap);
    va_end(ap);
}

void co_secret_add(const char *secret)
{
    if (!secret || strlen(secret) < 4 || nsecrets == MAX_SECRETS)
        return;
    for (size_t i = 0; i < nsecrets; i++)
        if (strcmp(secrets[i], secret) == 0)
            return;
    secrets[nsecrets++] = co_strdup(secret);
}

void co_secret_clear(void)
{
    for (size_t i = 0; i < nsecrets; i++)
        free(secrets[i]);
    nsecrets = 0;
}

int co_has_secret(const char *s)
{
    for (size_t i = 0; i < nsecrets; i++)
        if (strstr(s, secrets[i]))
            return 1;
    return 0;
}

char *co_redact(const char *s, char *out, size_t n)
{
    static const char mark[] = "[REDACTED]";
    size_t o = 0;
    if (n == 0)
        return out;
    while (*s && o + 1 < n) {
        size_t hit = 0;
        for (size_t i = 0; i < nsecrets; i++) {
            size_t len = strlen(secrets[i]);
            if (strncmp(s, secrets[i], len) == 0) {
                hit = len;
                break;
            }
        }
        if (hit) {
            for (const char *m = mark; *m && o + 1 < n; m++)
                out[o++] = *m;
            s += hit;
        } else {
            out[o++] = *s++;
        }
    }
    out[o] = '\0';
    return out;
}

/* Length of the valid UTF-8 sequence at p (2..4), or 0. */
static size_t utf8_len(const unsigned char *p)
{
    size_t n = p[0] >= 0xf0 && p[0] <= 0xf4   ? 4
               : p[0] >= 0xe0                 ? 3
               : p[0] >= 0xc2 && p[0] <= 0xdf ? 2
                                              : 0;
    if (p[0] >= 0xf5)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((n == 3 && p[0] == 0xe0 && p[1] < 0xa0) || (n == 4 && p[0] == 0xf0 && p[1] < 0x90) ||
        (n == 4 && p[0] == 0xf4 && p[1] > 0x8f) || (n == 3 && p[0] == 0xed && p[1] > 0x9f))
        return 0;
    return n;
}

char *co_escape_ctl(const char *s, char *out, size_t n)
{
    size_t w = 0;
    if (!n)
        return out;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        char piece[8];
        size_t k;
        if (*p == '\n' || *p == '\r' || *p == '\t') {
            snprintf(piece, sizeof piece, "\\%c", *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't');
            k = 2;
            p++;
        } else if (*p < 0x20 || *p == 0x7f) {
            k = (size_t)snprintf(piece, sizeof piece, "\\x%02x", *p);
            p++;
        } else if (*p < 0x80) {
            piece[0] = (char)*p++;
            k = 1;
        } else if ((k = utf8_len(p)) == 0) {
            k = (size_t)snprintf(piece, sizeof piece, "\\x%02x", *p);
            p++;
        } else if (k == 2 && p[0] == 0xc2 && p[1] < 0xa0) {
            /* C1 controls: U+009B is a CSI on some terminals. */
            k = (size_t)snprintf(piece, sizeof piece, "\\u%04x", p[1]);
            p += 2;
        } else {
            memcpy(piece, p, k);
            p += k;
        }
        if (w + k >= n)
            break;
        memcpy(out + w, piece, k);
        w += k;
    }
    out[w] = '\0';
    return out;
}
