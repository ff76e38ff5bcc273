/* Probes of a relay's own endpoints (/health, /api/metrics, Prometheus
 * /metrics) and what they are judged against (docs/scenarios.md, "Probes of
 * the relay").
 *
 * The pure parts: a profile's "probes" section read into a struct
 * harness_probe_map, the counters the harness observes itself (one const
 * table: name, what it means, how it is counted from the client log and the
 * mock journals), an RFC 6901 JSON pointer, and the sum of the samples of a
 * Prometheus text page that match a selector.  The one piece of I/O,
 * harness_promtool_check, asks a real parser (promtool check metrics)
 * whether the page is valid exposition format: reading values needs only a
 * sample line's name, labels and value; validity is the parser's word.
 *
 * Ownership: nothing returned is allocated, except as said. */
#ifndef HARNESS_PROBE_H
#define HARNESS_PROBE_H

#include "harness/obs.h"

#include <jansson.h>
#include <stddef.h>

/* Endpoint names in enum harness_probe_kind order ("health", "metrics",
 * "prometheus"), NULL-terminated: the words a "probe" step takes. */
extern const char *const harness_probe_kinds[];

/* The counters the harness observes, NULL-terminated ("requests",
 * "retries", "switches", "attempts.blue", "attempts.green", "errors.blue",
 * "errors.green", "tokens", "cost"). */
const char *const *harness_counter_names(void);
/* What counter name means, in a few words ("" unknown). */
const char *harness_counter_what(const char *name);
/* The value of counter name as the client and the mocks saw it.  Returns 0
 * with *out, or -1 with why it cannot be known exactly in why. */
int harness_counter_observed(const char *name, const struct harness_obs *o, double *out, char *why,
                             size_t n);

/* Reads a profile's "probes" object (at path, for errors) into m; j NULL
 * leaves m empty.  Returns 0, or -1 with "path.key: expected ..." in err. */
int harness_probe_map_parse(const json_t *j, const char *path, struct harness_probe_map *m,
                            char *err, size_t errlen);
/* The map's entry for counter name, or -1. */
int harness_probe_map_counter(const struct harness_probe_map *m, const char *name);

/* RFC 6901: the value at ptr in doc ("" the whole document), or NULL. */
json_t *harness_json_pointer(const json_t *doc, const char *ptr);

/* Whether sel is a selector: a metric name, optionally followed by
 * {label="value",...} (values with \" \\ \n escapes).  0 or -1 with err. */
int harness_prom_selector_check(const char *sel, char *err, size_t n);
/* Sums the samples of text (Prometheus exposition format) whose name is the
 * selector's and whose labels include every label of the selector with its
 * value.  Returns the number of samples summed (0: none matched), or -1 when
 * a sample line of that name cannot be read (with the line in err). */
long harness_prom_sum(const char *text, const char *sel, double *sum, char *err, size_t n);

/* The selector of the active-colour gauge for one colour: tmpl (a profile's
 * prometheus.active) with {colour} replaced by word.  0, or -1 when tmpl has
 * no {colour} or out is too small. */
int harness_prom_active_selector(const char *tmpl, const char *word, char *out, size_t n);

/* Runs `promtool check metrics` on the file at path (its stdin), at most
 * timeout_ms.  Returns promtool's exit status (0 valid, 1 not parseable,
 * 3 valid with lint problems), or -1 when promtool is not installed or
 * did not finish; out holds what it printed, or why it did not run. */
int harness_promtool_check(const char *path, int timeout_ms, char *out, size_t n);

/* ---- taking probes (the runner's loop) ---- */

struct co_evcurl;
struct harness_probe_xfer;

/* The probes a run has in flight.  Zeroed before use; every probe lands in
 * obs->probes when sent (a probe of an endpoint the map does not declare is
 * recorded at once with why). */
struct harness_prober {
    struct co_evcurl *curl;
    struct harness_obs *obs;
    int inflight;
    struct harness_probe_xfer *live;
};

/* Sends GET base_url + the map's path for kind, named name; inflight and
 * answered describe the client's traffic at that moment. */
void harness_probe_send(struct harness_prober *p, const char *base_url, int kind, const char *name,
                        int inflight, long answered);
/* Abandons the probes still in flight (recorded as not answered). */
void harness_probe_abort(struct harness_prober *p);
/* Blanks secret (the upstream key) wherever a probe's headers or body carry
 * it, so no artefact keeps it.  Returns how many probes carried it: a relay
 * that shows its key on its own endpoints leaks it (no_secret_leak). */
size_t harness_probe_redact(struct harness_obs *o, const char *secret);
/* After the run: checks each Prometheus page with promtool, and writes every
 * probe (status, headers, body, times) under dir: probes.jsonl, and the
 * bodies as probes/NAME.KIND. */
void harness_probe_finish(struct harness_obs *o, const char *dir);

#endif
