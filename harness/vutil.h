/* Small helpers shared by the validators of scenarios and checks: every
 * message has the shape "PATH: expected X, found Y (did you mean 'Z'?)" so a
 * reviewer can go straight to the offending value. */
#ifndef HARNESS_VUTIL_H
#define HARNESS_VUTIL_H

#include <jansson.h>
#include <stddef.h>

/* Writes "PATH: expected EXPECTED, found <co_json_describe(found)>" into err; -1. */
int harness_v_expected(char *err, size_t errlen, const char *path, const char *expected,
                       const json_t *found);
/* The errors of one file, all of them (issue 14: a file's first error hid
 * the rest).  Validation records each independent part's error here and goes
 * on; the first HARNESS_MAX_ERRORS are kept, the rest only counted. */
#define HARNESS_MAX_ERRORS 20
struct harness_errors {
    char msg[HARNESS_MAX_ERRORS][640];
    int n;     /* kept */
    int total; /* found */
};
void harness_errors_add(struct harness_errors *e, const char *msg);
/* key must be in allowed (NULL-terminated); else the error of
 * harness_v_keys for it.  Returns 0 or -1. */
int harness_v_key(const char *key, const char *path, const char *const *allowed, char *err,
                  size_t errlen);
/* Every key of obj must be in allowed (NULL-terminated); else an error
 * naming the key, the allowed ones and the nearest.  Returns 0 or -1. */
int harness_v_keys(const json_t *obj, const char *path, const char *const *allowed, char *err,
                   size_t errlen);
/* A value that must be one of names (NULL-terminated). */
int harness_v_enum(const json_t *v, const char *path, const char *const *names, char *err,
                   size_t errlen);
/* Optional number under key within [lo, hi]; *out untouched when absent.
 * Returns 0 or -1. */
int harness_v_number(const json_t *obj, const char *key, const char *path, double lo, double hi,
                     double *out, char *err, size_t errlen);

/* Non-zero when s is a safe name: 1 or more of [A-Za-z0-9._-] (and inner
 * spaces when spaces is set), starting with a letter or digit. */
int harness_v_safe_name(const char *s, int spaces);
/* A scenario string that may reach a relay's command line or config
 * (admin_token, client_keys[i], direct_url): a token of 1..128 of
 * [A-Za-z0-9._~+/=-], or with url set an http(s) URL of host, port and path
 * characters only.  Returns 0, or -1 with "PATH: expected ..., found ..." */
int harness_v_setting(const json_t *v, const char *path, int url, char *err, size_t errlen);

/* snprintf for paths: truncation is acceptable (and silent). */
void harness_v_fmt(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
