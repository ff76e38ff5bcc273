/* cutover explore, the pure part: a fault model, seeded generation of cases
 * (ordinary scenario documents), the invariants each case is checked
 * against, and the shrinking candidates of a failing case.  No I/O here
 * beyond reading the model file: harness/explore_run.c runs the cases.
 * docs/explore.md describes the model, the invariants and the shrinker. */
#ifndef HARNESS_EXPLORE_H
#define HARNESS_EXPLORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define HARNESS_EXPLORE_MAX_FAULTS 48

/* One fault of the model: a mock behaviour (docs/scenarios.md shorthands
 * allowed) that a timeline step gives a colour for a segment. */
struct harness_explore_fault {
    char name[48];
    double weight;
    json_t *behavior; /* owned */
    char simpler[48]; /* the fault the shrinker tries instead, or "" */
};

/* The model (docs/explore.md).  Owns every json_t it points at. */
struct harness_explore_model {
    json_t *doc; /* the whole model as loaded */
    struct harness_explore_fault faults[HARNESS_EXPLORE_MAX_FAULTS];
    size_t n_faults;
    json_t *relay;    /* key -> array of choices */
    int max_segments; /* fault segments per case */
    int seg_min_ms, seg_max_ms;
    int dur_min_ms, dur_max_ms;
    int rate_min, rate_max; /* requests per second of the plain phase */
    double stream_share;    /* chance of a parallel streaming phase */
    double admin_share;     /* chance of an admin action per case */
    double handoff_share;   /* chance the first fault moves to the other colour */
    double ratelimit_share; /* chance the relay's client rate limit is on */
    json_t *ratelimit;      /* {"requests": [..], "window_ms": [..]} */
    double liveness_min;    /* success ratio while one colour stays healthy */
    json_t *off;            /* invariant names switched off (array) */
};

/* The built-in default model, as JSON text (docs/explore.md shows it). */
extern const char harness_explore_default_model[];

/* Loads path (or the built-in default when path is NULL).  Returns 0, or -1
 * with "FILE: $.path: what" in err. */
int harness_explore_model_load(const char *path, struct harness_explore_model *m, char *err,
                               size_t errlen);
void harness_explore_model_free(struct harness_explore_model *m);

/* Case number `index` of the exploration seeded by `seed`: a scenario
 * document with its expect filled from the invariants that apply.  The same
 * (model, seed, index) gives the same document.  New reference. */
json_t *harness_explore_generate(const struct harness_explore_model *m, uint64_t seed,
                                 unsigned index);

/* One invariant: a name, what it states, and how it becomes a check of the
 * scenario format for a case (NULL when it does not apply to the case). */
struct harness_explore_facts;
struct harness_explore_invariant {
    const char *name;
    const char *states;
    json_t *(*make)(const struct harness_explore_facts *f, const json_t *relay,
                    const struct harness_explore_model *m);
};
extern const struct harness_explore_invariant harness_explore_invariants[];

/* Sets sc's "expect" to every invariant that applies and is not switched
 * off, or only to `only` (an invariant name) when given.  Each check carries
 * the invariant's name in "note".  Returns the number of checks; 0 when
 * `only` no longer applies. */
int harness_explore_set_expect(const struct harness_explore_model *m, json_t *sc, const char *only);

/* The faults a case uses (by name, from its step marks), for coverage. */
size_t harness_explore_case_faults(const json_t *sc, const char **out, size_t cap);

/* Shrinking candidates of sc for invariant inv, simplest first; each is a
 * complete scenario (expect recomputed) with a one-line description of what
 * it removed.  Returns the count; the caller frees each with json_decref and
 * free(). */
struct harness_explore_candidate {
    json_t *sc;
    char *what;
};
size_t harness_explore_candidates(const struct harness_explore_model *m, const json_t *sc,
                                  const char *inv, struct harness_explore_candidate **out);

/* The number of timeline steps of sc. */
size_t harness_explore_steps(const json_t *sc);

/* Parses "90s", "10m", "1h" or plain seconds.  Returns -1 when invalid. */
int harness_explore_parse_budget(const char *s, double *seconds);

#endif
