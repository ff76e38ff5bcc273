/* Retry-After as upstreams send it: `retry-after-ms: 250` (OpenAI's own,
 * which wins when both come), `Retry-After: 2` or `Retry-After: 1.5`
 * (seconds), or an HTTP date (RFC 9110 IMF-fixdate, plus the obsolete RFC 850
 * and asctime forms).  Pure: the wall clock is an argument. */
#ifndef RELAY_RETRYAFTER_H
#define RELAY_RETRYAFTER_H

#include <stdint.h>
#include <time.h>

/* Either header may be NULL; now_ms is the wall clock (CLOCK_REALTIME) in
 * milliseconds, against which an HTTP date is read.  Returns 0 with the
 * delay in *ms (a date in the past gives 0), or -1 when neither header
 * holds a usable value. */
int relay_retryafter_parse(const char *retry_after, const char *retry_after_ms, uint64_t now_ms,
                           uint64_t *ms);

#endif
