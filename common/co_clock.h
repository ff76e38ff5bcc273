/* One clock for the whole project: CLOCK_MONOTONIC in microseconds, which on
 * Linux is the same clock in every process, so the runner, the mocks and the
 * relay's event log can be laid on one time axis.  The clock is swappable (as
 * redis does with getMonotonicUs) so unit tests can step time without
 * sleeping; pure decision code takes "now" as an argument instead. */
#ifndef CO_CLOCK_H
#define CO_CLOCK_H

#include <stddef.h>
#include <stdint.h>

typedef uint64_t (*co_clock_fn)(void);

/* The real monotonic clock, in µs. */
uint64_t co_clock_monotonic_us(void);
/* The current clock (monotonic unless a test swapped it). */
uint64_t co_now_us(void);
/* Swap the clock; NULL restores the monotonic one. */
void co_clock_set(co_clock_fn fn);

/* Wall time now as RFC 3339 with milliseconds, UTC ("2026-11-26T06:02:47.123Z").
 * Writes at most n bytes including the NUL; returns buf. */
char *co_wall_rfc3339(char *buf, size_t n);
#define CO_RFC3339_LEN 32

/* The wall clock (CLOCK_REALTIME, precise, not time()'s coarse second) in
 * ms since the epoch: for reading HTTP dates, never for measuring spans. */
uint64_t co_wall_ms(void);

/* Sleep for us microseconds (only for tests and tools, never on a loop). */
void co_sleep_us(uint64_t us);

#endif
