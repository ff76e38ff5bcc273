#include "co_buf.h"

#include "co_mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void co_buf_init(struct co_buf *b, size_t toobig)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->toobig = toobig;
}

int co_buf_append(struct co_buf *b, const void *data, size_t len)
{
    if (b->toobig && b->len + len > b->toobig)
        return -1;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1)
            cap *= 2;
        b->data = co_realloc(b->data, cap);
        b->cap = cap;
    }
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int co_buf_puts(struct co_buf *b, const char *s)
{
    return co_buf_append(b, s, strlen(s));
}

int co_buf_printf(struct co_buf *b, const char *fmt, ...)
{
    char stack[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(stack, sizeof stack, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof stack)
        return co_buf_append(b, stack, (size_t)n);
    char *heap = co_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(heap, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = co_buf_append(b, heap, (size_t)n);
    free(heap);
    return rc;
}

void co_buf_reserve(struct co_buf *b, size_t n)
{
    if (n + 1 <= b->cap)
        return;
    b->data = co_realloc(b->data, n + 1);
    if (!b->cap)
        b->data[0] = '\0';
    b->cap = n + 1;
}

void co_buf_reset(struct co_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void co_buf_free(struct co_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *co_buf_steal(struct co_buf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    if (!p)
        p = co_strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
