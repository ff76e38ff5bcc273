#include "co_mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void co_oom(size_t n)
{
    fprintf(stderr, "cutover: out of memory allocating %zu bytes\n", n);
    abort();
}

void *co_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        co_oom(n);
    return p;
}

void *co_calloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (!p)
        co_oom(count * n);
    return p;
}

void *co_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        co_oom(n);
    return q;
}

char *co_strdup(const char *s)
{
    return co_strndup(s, strlen(s));
}

char *co_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = co_malloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *co_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        co_oom(0);
    char *p = co_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
