/* Logging to stderr (or a file), one line per message, with a monotonic
 * timestamp, a level and the component name.  Every message passes through
 * the secret redactor: any string registered with co_secret_add (upstream API
 * keys) is replaced by "[REDACTED]" before it is written, so a key can never
 * reach a log even by accident.  co_redact is exposed for event logs, error
 * bodies and reports, which must obey the same rule. */
#ifndef CO_LOG_H
#define CO_LOG_H

#include <stddef.h>
#include <stdio.h>

enum co_log_level { CO_LOG_DEBUG, CO_LOG_INFO, CO_LOG_WARN, CO_LOG_ERROR };

void co_log_init(const char *component, enum co_log_level min, FILE *out);
void co_log(enum co_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses "debug|info|warn|error"; returns -1 when unknown. */
int co_log_level_parse(const char *s);

/* As co_log, but at most CO_LOG_BURST lines per key in a burst, then one
 * per CO_LOG_EVERY_S seconds; the next line written says how many were
 * suppressed.  key is any stable pointer (a format string): a warning a
 * client can trigger per request (an aborted connection, say) then costs a
 * few lines, not one per request. */
#define CO_LOG_BURST   10
#define CO_LOG_EVERY_S 10
void co_log_limited(const void *key, enum co_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define co_debug(...) co_log(CO_LOG_DEBUG, __VA_ARGS__)
#define co_info(...)  co_log(CO_LOG_INFO, __VA_ARGS__)
/* Warnings are rate-limited per call site (the format string is the key). */
#define co_warn(fmt, ...) co_log_limited(fmt, CO_LOG_WARN, fmt, ##__VA_ARGS__)
#define co_error(...)     co_log(CO_LOG_ERROR, __VA_ARGS__)

/* Register a secret (copied; strings shorter than 4 bytes are ignored). */
void co_secret_add(const char *secret);
void co_secret_clear(void);
/* Replace every registered secret in s, in place where it fits: the result
 * is written to out (at most n bytes, NUL-terminated).  Returns out. */
char *co_redact(const char *s, char *out, size_t n);
/* Non-zero when s contains a registered secret. */
int co_has_secret(const char *s);

/* s made safe for a terminal: control characters (ESC, CR, BEL...), DEL,
 * C1 controls (U+0080..U+009F) and bytes that are not UTF-8 are written as
 * \xNN (\n, \r, \t by name); printable text and valid UTF-8 stay.  Writes
 * at most n bytes into out, never a partial escape.  Returns out. */
char *co_escape_ctl(const char *s, char *out, size_t n);

#endif
