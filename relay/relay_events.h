/* The relay's event log: one JSON object per line (docs/CONTRACTS.md,
 * "Relay events"), each with t_us (CLOCK_MONOTONIC µs), time (RFC 3339) and
 * type first.  Lines are gathered in a bounded buffer and written once per
 * loop iteration (relay_events_flush from an ev_prepare), so a busy relay
 * makes one write per wake-up rather than one per event, and a reader
 * polling the file sees an event within one loop turn.  Every line passes
 * the secret redactor.  The file is written without blocking: when its
 * reader (a FIFO, say) lags, the bytes wait in the buffer (256 KiB) and
 * lines beyond it are dropped and counted, never a stalled loop; close
 * waits at most 2 s for the rest.
 *
 * A NULL log (no --events) accepts every call and writes nothing. */
#ifndef RELAY_EVENTS_H
#define RELAY_EVENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct relay_events;

/* Opens path for appending; NULL with a message in err on failure. */
struct relay_events *relay_events_open(const char *path, char *err, size_t errlen);
/* Appends one event; fields (may be NULL) is stolen. */
void relay_events_emit(struct relay_events *ev, const char *type, json_t *fields);
/* Writes what is buffered. */
void relay_events_flush(struct relay_events *ev);
/* Writes what is buffered and reports whether any write so far failed
 * (ENOSPC on /dev/full, EIO, EBADF...): 0, or -1 with the reason in err. */
int relay_events_check(struct relay_events *ev, char *err, size_t errlen);
/* Write attempts that failed (lines lost), 0 for a NULL log. */
uint64_t relay_events_write_errors(const struct relay_events *ev);
/* Flushes, closes and frees; sets *ev to NULL. */
void relay_events_close(struct relay_events **ev);

#endif
