/* The scenario format: one JSON file that reads like a bug report (what the
 * upstreams do, when they change, what traffic flows, what must hold).  The
 * whole file is validated before anything starts; every semantic error names
 * the file, the JSON path, what was expected and what was found, and the
 * nearest known key for a misspelt one.  Format reference: docs/scenarios.md.
 *
 * Upstream behaviours are kept as mock behaviour JSON (docs/CONTRACTS.md):
 * friendly shorthands ("healthy", {"status":503}, {"latency_ms":5}) are
 * translated at parse time, so the runner hands them to mock_set_behavior
 * unchanged.
 *
 * Ownership: harness_scenario_load returns a scenario the caller frees with
 * harness_scenario_free; every json_t inside is owned by the scenario. */
#ifndef HARNESS_SCENARIO_H
#define HARNESS_SCENARIO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define HARNESS_MAX_TIMELINE 64
/* Largest scenario file read (bytes). */
#define HARNESS_SCENARIO_MAX_BYTES (1024 * 1024)
#define HARNESS_MAX_PHASES         16
#define HARNESS_MAX_CHECKS         64
#define HARNESS_MAX_KEYS           8
#define HARNESS_MAX_REQUESTS       20000 /* per scenario, across phases */
/* The backoff the runner gives cutover-relay when a scenario's relay keys
 * leave it out (harness/runner.c), in ms before time scaling; validation
 * checks a scenario's own base and cap against them. */
#define HARNESS_RUNNER_BACKOFF_BASE_MS 10
#define HARNESS_RUNNER_BACKOFF_CAP_MS  200

struct harness_errors;

enum harness_signal_kind {
    HARNESS_SIG_NONE,
    HARNESS_SIG_STOP,
    HARNESS_SIG_CONT,
    HARNESS_SIG_KILL,
    HARNESS_SIG_TERM,
};

/* A fleet (docs/fleet.md): replicas of the relay under test, and a Redis
 * the harness starts for them when the scenario asks. */
#define HARNESS_MAX_REPLICAS 8
/* Driver threads one phase may use ("threads"). */
#define HARNESS_MAX_THREADS 8
enum harness_spread { HARNESS_SPREAD_ROUND_ROBIN, HARNESS_SPREAD_RANDOM };
/* A fleet timeline step: to one replica ("replica": i), or to Redis. */
enum harness_fleet_action {
    HARNESS_FLEET_NONE,
    HARNESS_REPLICA_STOP,   /* SIGTERM: drain and exit */
    HARNESS_REPLICA_KILL,   /* SIGKILL */
    HARNESS_REPLICA_PAUSE,  /* SIGSTOP */
    HARNESS_REPLICA_RESUME, /* SIGCONT */
    HARNESS_REDIS_PAUSE,    /* SIGSTOP: connections stay open, nothing answers */
    HARNESS_REDIS_RESUME,
    HARNESS_REDIS_STOP,  /* SIGKILL: refused connections from then on */
    HARNESS_REDIS_START, /* a fresh, empty Redis on the same port */
};

struct harness_fleet_spec {
    int replicas; /* 1: the one-relay run */
    int spread;   /* enum harness_spread */
    int redis;    /* start a Redis for the replicas */
    int declared; /* the scenario has a "fleet" object */
};

/* The token an admin step sends: the relay's own, none, or a wrong one.
 * Without the right token the relay must refuse (401 or 403). */
/* Which token an admin step sends: the right one, none, a wrong one ("not-" before the
 * right one), or the right one with more after it ("longer": a relay comparing only
 * the token's length of what it got accepts it). */
enum harness_admin_token {
    HARNESS_ADMIN_TOKEN,
    HARNESS_ADMIN_NONE,
    HARNESS_ADMIN_WRONG,
    HARNESS_ADMIN_LONGER
};

struct harness_step {
    uint64_t at_us;       /* after the traffic start */
    char mark[64];        /* the step's name for checks ("after": "fault_on") */
    json_t *behavior[2];  /* new behaviour for blue (0) / green (1), or NULL */
    char admin_method[8]; /* "POST", "PUT" or "" */
    char admin_path[64];  /* "/admin/switch" */
    json_t *admin_body;   /* or NULL */
    int admin_token;      /* enum harness_admin_token: which token the call sends */
    int sig;              /* enum harness_signal_kind */
    int fleet_action;     /* enum harness_fleet_action */
    int replica;          /* the replica an admin call, signal or replica_* step goes to */
    /* "probe": the relay endpoints this step reads, bits 1 << enum
     * harness_probe_kind (harness/obs.h); 0 none. */
    unsigned probe;
    /* "at": {"after": "traffic", "delay_ms": D}: the step runs D after every
     * client request has been answered (at_us then only orders it: such
     * steps come last). */
    int after_traffic;
    uint64_t after_delay_us;
};

enum harness_arrival { HARNESS_ARRIVAL_UNIFORM, HARNESS_ARRIVAL_POISSON };

/* Request templates of a phase ("request" or a weighted "requests" list). */
#define HARNESS_MAX_TEMPLATES 8

/* One request a phase sends: a JSON body sent as written (the request id
 * goes in X-Request-ID, in "user" unless the body has its own, and as the
 * content marker of the last user message with string content), or a raw
 * body with its Content-Type (the id in X-Request-ID only).  What the
 * checks compare (stream, model, max_tokens, include_usage) is read from
 * the body once, here. */
#define HARNESS_TPL_HEADERS 4

struct harness_template {
    char name[32];     /* "" unnamed */
    double weight;     /* > 0; the pick is seeded */
    char method[8];    /* POST, GET, PUT, PATCH or DELETE */
    char path[128];    /* "/v1/chat/completions" */
    json_t *body;      /* the JSON body (owned), NULL with raw */
    json_t *raw;       /* a JSON string: the raw body's bytes (owned), or NULL */
    char ctype[96];    /* Content-Type */
    int stream;        /* body's "stream" is true */
    int include_usage; /* body's stream_options.include_usage is true */
    char model[64];    /* body's "model", "" none */
    long max_tokens;   /* body's max_tokens (or max_completion_tokens), -1 none */
    int own_user;      /* the body has its own "user": the id does not replace it */
    /* A client's own header lines ("X-Forwarded-For: 203.0.113.7"), sent
     * after the runner's (docs/scenarios.md, "headers"). */
    char headers[HARNESS_TPL_HEADERS][256];
    int n_headers;
    /* A stalled sender: Content-Length says declared_length, the client
     * sends the first sent_bytes of its body and then nothing more (0: the
     * whole body, as usual). */
    long declared_length, sent_bytes;
    long trickle_ms;     /* after sent_bytes, one more byte every trickle_ms (0: none) */
    int expect_continue; /* "Expect: 100-continue": wait for the relay's go-ahead */
};

struct harness_phase {
    uint64_t start_us;    /* after the traffic start */
    double rate_rps;      /* open loop when > 0 */
    int concurrency;      /* closed loop when > 0 */
    uint64_t duration_us; /* 0 = bounded by count */
    int count;            /* 0 = bounded by duration */
    int arrival;          /* enum harness_arrival */
    int stream;
    char model[64];
    char prompt[256];
    int max_tokens;
    uint64_t timeout_us;             /* client-side per-request timeout */
    char keys[HARNESS_MAX_KEYS][64]; /* client keys, used round robin */
    int n_keys;
    char path[64]; /* default /v1/chat/completions */
    /* The phase's request templates; none: the request built from model,
     * prompt, max_tokens and stream above. */
    struct harness_template tpl[HARNESS_MAX_TEMPLATES];
    int n_tpl;
    char name[32]; /* "" unnamed: checks name a phase by index or by this */
    /* "start": {"after": "previous", "delay_ms": D}: the phase starts D after
     * the previous one has finished (every request of it answered), at a
     * time only the run knows; start_us then holds an estimate (spans,
     * timeouts). */
    int after_prev;
    uint64_t after_delay_us;
    /* Driver threads that send this phase (1..HARNESS_MAX_THREADS, default
     * 1; harness/traffic.h). */
    int threads;
};

struct harness_scenario {
    char file[512];
    char folder[256]; /* the scenario's folder (JUnit classname) */
    char name[128];
    char description[1024];
    char tags[16][32];
    int n_tags;
    json_t *doc;         /* the scenario as loaded (time-scaled), for results.json */
    json_t *relay;       /* relay config keys from the scenario (without runner keys) */
    json_t *upstream[2]; /* initial behaviour of blue and green */
    int refused[2];      /* the colour's URL points at a closed port */
    json_t *direct;      /* behaviour of a third upstream, the relay's direct_url; or NULL */
    struct harness_step steps[HARNESS_MAX_TIMELINE];
    int n_steps;
    struct harness_phase phases[HARNESS_MAX_PHASES];
    int n_phases;
    json_t *checks;      /* the "expect" array, validated */
    uint64_t timeout_us; /* hard timeout of the whole scenario */
    uint64_t settle_us;  /* wait after traffic before collecting */
    int admin_used;
    struct harness_fleet_spec fleet;
    int max_replica_step;        /* the highest "replica" a step names, -1 none */
    int max_replica_check;       /* the highest "replica" a check names, -1 none */
    struct harness_errors *errs; /* while validating: every error found; NULL after */
};

/* Loads and validates path, multiplying every time by time_scale.  Returns
 * NULL with "FILE: $.PATH: expected X, found Y (did you mean 'Z'?)" or
 * "FILE:LINE:COL: ..." in err: one line per error, every error of the file
 * (the first HARNESS_MAX_ERRORS, then a line saying how many more). */
struct harness_scenario *harness_scenario_load(const char *path, double time_scale, char *err,
                                               size_t errlen);
/* The same from a JSON document (borrowed); file names it in messages. */
struct harness_scenario *harness_scenario_from_json(json_t *doc, const char *file,
                                                    double time_scale, char *err, size_t errlen);
void harness_scenario_free(struct harness_scenario **s);

/* Translates a behaviour in friendly or full form into mock behaviour JSON
 * (new reference), validating it; path names it in errors. */
json_t *harness_behavior_translate(const json_t *in, const char *path, char *err, size_t errlen);

/* Multiplies in place every number under a key ending in "_ms" and divides
 * "rate_rps" by scale. */
void harness_time_scale(json_t *doc, double scale);

/* Non-zero when the scenario carries tag. */
int harness_scenario_has_tag(const struct harness_scenario *s, const char *tag);
/* The tags comma separated into out ("" when none; truncated to n - 1). */
void harness_scenario_tags(const struct harness_scenario *s, char *out, size_t n);

/* The time of the last thing the scenario does (timeline and traffic), µs. */
uint64_t harness_scenario_span_us(const struct harness_scenario *s);

/* Collects scenario files under each path (files or folders, recursively,
 * *.json, sorted).  Returns the count or -1 with err; *out is freed by
 * harness_paths_free. */
int harness_collect_files(char **paths, int n, char ***out, char *err, size_t errlen);
void harness_paths_free(char **files, int n);

/* The relay config keys a scenario may set ("max_attempts", ...),
 * NULL-terminated. */
const char *const *harness_relay_key_names(void);
/* Validates an object of relay keys as a scenario's "relay" is validated;
 * errors name path (a profile's "$.fixed") instead of "$.relay". */
int harness_relay_validate(const json_t *relay, const char *path, char *err, size_t errlen);
/* What the scenario validator takes for relay key name: 1 an integer in
 * [*min, *max], 0 another type (*words: the words it takes, or NULL), -1 a
 * key it does not know.  test_harness_scenario compares it with the relay's
 * own table (relay_config_key_info). */
int harness_relay_key_info(const char *name, int64_t *min, int64_t *max, const char *const **words);

#endif
