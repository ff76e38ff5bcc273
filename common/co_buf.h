/* A growable byte buffer with a hard size limit (curl's dynbuf with its
 * "toobig").  Request bodies, journals and logs are all bounded: an append
 * past the limit fails and leaves the buffer as it was. */
#ifndef CO_BUF_H
#define CO_BUF_H

#include <stddef.h>

struct co_buf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    size_t toobig; /* maximum len; 0 means no limit */
};

void co_buf_init(struct co_buf *b, size_t toobig);
/* Returns 0, or -1 when the result would exceed the limit. */
int co_buf_append(struct co_buf *b, const void *data, size_t len);
int co_buf_puts(struct co_buf *b, const char *s);
int co_buf_printf(struct co_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void co_buf_reset(struct co_buf *b);
/* Makes room for at least n bytes in all (the limit still applies to
 * appends); saves the regrowths of a buffer whose size is known ahead. */
void co_buf_reserve(struct co_buf *b, size_t n);
/* Frees the storage; the buffer can be used again after co_buf_init. */
void co_buf_free(struct co_buf *b);
/* Hands the storage to the caller (who frees it) and empties the buffer. */
char *co_buf_steal(struct co_buf *b, size_t *len);

#endif
