/* The validator kit shared by the mock, the harness and the relay: every
 * error has one shape, "PATH: expected EXPECTED, found FOUND (did you mean
 * 'NEAR'?)", where PATH is a JSON path ("$.rules[0].action.code") or a file
 * and key, FOUND describes the value (co_json_describe: 'integer 700',
 * 'string "x"', 'nothing') and the suggestion comes from co_nearest.  Each
 * function writes the message into the caller's err and returns -1, or
 * returns 0 when the value is fine. */
#ifndef CO_VALID_H
#define CO_VALID_H

#include <jansson.h>
#include <stddef.h>

/* The message itself: found is already described, near may be NULL. */
int co_v_error(char *err, size_t errlen, const char *path, const char *expected, const char *found,
               const char *near);
/* found described by co_json_describe (NULL: "nothing"). */
int co_v_expected(char *err, size_t errlen, const char *path, const char *expected,
                  const json_t *found);
/* "PATH: MESSAGE" for what no "expected" says well; -1. */
int co_v_fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* key must be in allowed (NULL-terminated): "PATH: expected a key among
 * a, b, found \"k\" (did you mean 'a'?)". */
int co_v_key(const char *key, const char *path, const char *const *allowed, char *err,
             size_t errlen);
/* Every key of obj must be in allowed. */
int co_v_keys(const json_t *obj, const char *path, const char *const *allowed, char *err,
              size_t errlen);
/* A string that must be one of names: "expected one of a, b, found ...". */
int co_v_enum(const json_t *v, const char *path, const char *const *names, char *err,
              size_t errlen);
/* Optional member key of obj (PATH.key in messages), *out untouched when
 * absent: a number in [lo, hi] (hi >= 1e15 reads "a number >= lo"). */
int co_v_number(const json_t *obj, const char *key, const char *path, double lo, double hi,
                double *out, char *err, size_t errlen);

/* snprintf for paths and messages: truncation is acceptable (and silent). */
void co_v_fmt(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
