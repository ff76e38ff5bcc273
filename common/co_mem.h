/* Allocation that never returns NULL.  Out of memory is not a condition any
 * caller in cutover can recover from, so, as redis zmalloc and h2o
 * h2o_mem_alloc do, we abort in one place instead of threading OOM checks
 * through every caller. */
#ifndef CO_MEM_H
#define CO_MEM_H

#include <stddef.h>

void *co_malloc(size_t n);
void *co_calloc(size_t count, size_t n);
void *co_realloc(void *p, size_t n);
char *co_strdup(const char *s);
char *co_strndup(const char *s, size_t n);
/* printf into a fresh allocation; the caller frees it. */
char *co_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
