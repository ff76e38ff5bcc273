/* The HTML report's picture of one scenario: everything it draws, in
 * milliseconds after the traffic start, loaded from the artefacts the runner
 * leaves in the scenario's out dir (journal-blue.json, journal-green.json,
 * requests.jsonl, events.jsonl, and in a fleet each replica's
 * replica-i/events.jsonl, docs/fleet.md) and from the scenario document in
 * results.json.  Kept apart from the drawing so a unit test can fill one by
 * hand and render it.
 *
 * Ownership: html_model_load fills a caller's struct; html_model_free frees
 * its arrays. */
#ifndef REPORT_HTML_MODEL_H
#define REPORT_HTML_MODEL_H

#include <jansson.h>
#include <stddef.h>

#define HM_ID_LEN       48
#define HM_MAX_LINES    200000 /* per artefact file: a runaway log must not eat the report */
#define HM_MAX_SWITCHES 256
#define HM_MAX_HEALTH   256
#define HM_MAX_WINDOWS  64
#define HM_MAX_STEPS    64
/* Replicas of a fleet with a lane each (the harness runs at most 8). */
#define HM_MAX_REPLICAS 8

enum { HM_BLUE, HM_GREEN, HM_COLOURS, HM_RELAY = HM_COLOURS };

struct hm_att { /* one upstream attempt */
    double t, dur;
    int env, kind, status, attempt;
    int fired;   /* a rule of the mock answered it (the journal's "rule") */
    int replica; /* whose event log it came from (0 from a journal) */
    char id[HM_ID_LEN];
};

struct hm_req {    /* one client request */
    double t, lat; /* lat < 0: never finished */
    int kind;
    long status;
    char served[8];
    char id[HM_ID_LEN];
};

struct hm_probe { /* one /health probe an upstream answered */
    double t;
    int env, kind;
    int fired; /* a health rule answered it */
};

struct hm_switch {
    double t;
    int replica; /* whose event log says so */
    char from[8], to[8], reason[32];
};

struct hm_health { /* a relay health event: a change of state */
    double t;
    int env, healthy;
    int replica;
};

struct hm_window {     /* a fault an upstream was told to inject, from the timeline */
    double t0, t1;     /* where it is drawn: where its rules fired, when known */
    double set0, set1; /* from the step that set it to the one that replaced it */
    int env;           /* HM_BLUE, HM_GREEN, or HM_RELAY: the relay process was signalled */
    int replica;       /* HM_RELAY: which replica (0 for the one relay); -1 the fleet's Redis */
    int fired;         /* requests its rules answered; -1 unknown (no journal of that colour) */
    char label[80];
};

struct hm_step { /* a timeline step: its mark name and what it did */
    double t;
    char name[64];
    char label[96];
};

struct html_model {
    struct hm_att *atts;
    size_t n_atts;
    struct hm_req *reqs;
    size_t n_reqs;
    struct hm_probe *probes;
    size_t n_probes;
    struct hm_switch sw[HM_MAX_SWITCHES];
    size_t n_sw;
    struct hm_health health[HM_MAX_HEALTH];
    size_t n_health;
    struct hm_window win[HM_MAX_WINDOWS];
    size_t n_win;
    struct hm_step steps[HM_MAX_STEPS];
    size_t n_steps;
    size_t n_limits; /* relay rate_limit events */
    double span;     /* ms: the end of the time axis */
    int have_journal[HM_COLOURS];
    int have_rules[HM_COLOURS]; /* its records say which rule answered (key "rule") */
    int have_events;
    /* Relays whose events were looked for: 1, or a fleet's replica count
     * (replica-i folders); each replica gets its own lane when above 1. */
    int n_replicas;
    int loading; /* the replica whose event log is being read */
};

/* Loads the artefacts of one results.json scenario object.  Missing files
 * leave their part empty (a relay without an event log still gets a
 * timeline from the journals). */
void html_model_load(struct html_model *m, const json_t *scenario);
void html_model_free(struct html_model *m);

/* Fault windows and steps from a scenario document's "upstreams" and
 * "timeline" (also used by load). */
void html_model_timeline(struct html_model *m, const json_t *doc);
/* The time of a step by mark name ("start" is 0); -1 when unknown. */
double html_model_mark(const struct html_model *m, const char *name);
/* Sets span from the data and the planned end (ms). */
void html_model_finish(struct html_model *m, double planned_ms);
/* Narrows each colour's fault window to where its rules fired, from the
 * journal: a `first: 3` rule set at 300 ms is drawn over its three
 * requests, not until the end of the run; a window whose rules never fired
 * keeps its span with fired = 0.  Call after finish. */
void html_model_fired(struct html_model *m);

/* Appends (growing the arrays). */
struct hm_att *html_model_add_att(struct html_model *m);
struct hm_req *html_model_add_req(struct html_model *m);
struct hm_probe *html_model_add_probe(struct html_model *m);

#endif
