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
/* The same with the path of the unknown key itself ("$.rules[0].acton:
 * expected a key among ..."), for an API whose error names the offending
 * member as its param (the mock's 400). */
int co_v_keys_at(const json_t *obj, const char *path, const char *const *allowed, char *err,
                 size_t errlen);
/* A string that must be one of names: "expected one of a, b, found ...". */
int co_v_enum(const json_t *v, const char *path, const char *const *names, char *err,
              size_t errlen);
/* Optional members of obj: each names PATH.key in its message and leaves
 * *out untouched when the key is absent. */
/* A number in [lo, hi] (hi >= 1e15 reads "a number >= lo"). */
int co_v_number(const json_t *obj, const char *path, const char *key, double lo, double hi,
                double *out, char *err, size_t errlen);
/* An integer in [lo, hi]. */
int co_v_long(const json_t *obj, const char *path, const char *key, long lo, long hi, long *out,
              char *err, size_t errlen);
/* A string that fits out (outlen - 1 bytes at most). */
int co_v_string(const json_t *obj, const char *path, const char *key, char *out, size_t outlen,
                char *err, size_t errlen);
/* As co_v_string, for a value that becomes a response header: a control
 * byte (CR, LF, NUL, TAB...) is refused, as an HTTP library would drop the
 * whole header (or worse, a hand-made response would split). */
int co_v_header_value(const json_t *obj, const char *path, const char *key, char *out,
                      size_t outlen, char *err, size_t errlen);
/* true or false, as 1 or 0. */
int co_v_bool(const json_t *obj, const char *path, const char *key, int *out, char *err,
              size_t errlen);

/* snprintf for paths and messages: truncation is acceptable (and silent). */
void co_v_fmt(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* out = base followed by a formatted suffix (".key", "[3]"), truncated. */
void co_v_path(char *out, size_t n, const char *base, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
