/* Small helpers shared by the validators of scenarios and checks: every
 * message has the shape "PATH: expected X, found Y (did you mean 'Z'?)" so a
 * reviewer can go straight to the offending value. */
#ifndef HARNESS_VUTIL_H
#define HARNESS_VUTIL_H

#include "co_valid.h"

#include <jansson.h>
#include <stddef.h>

/* The generic validators are the common kit's (common/co_valid.h), one
 * wording for mocks, harness and relay.  These names stay for the harness
 * code written against them (several branches at once); new code may call
 * co_v_* directly. */
#define harness_v_expected co_v_expected
#define harness_v_key      co_v_key
#define harness_v_keys     co_v_keys
#define harness_v_enum     co_v_enum
#define harness_v_fmt      co_v_fmt
/* The harness passes the key before the path. */
static inline int harness_v_number(const json_t *obj, const char *key, const char *path, double lo,
                                   double hi, double *out, char *err, size_t errlen)
{
    return co_v_number(obj, path, key, lo, hi, out, err, errlen);
}

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
/* Non-zero when s is a safe name: 1 or more of [A-Za-z0-9._-] (and inner
 * spaces when spaces is set), starting with a letter or digit. */
int harness_v_safe_name(const char *s, int spaces);
/* A scenario string that may reach a relay's command line or config
 * (admin_token, client_keys[i], direct_url): a token of 1..128 of
 * [A-Za-z0-9._~+/=-], or with url set an http(s) URL of host, port and path
 * characters only.  Returns 0, or -1 with "PATH: expected ..., found ..." */
int harness_v_setting(const json_t *v, const char *path, int url, char *err, size_t errlen);

#endif
