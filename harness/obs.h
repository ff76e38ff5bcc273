/* What one scenario run observed, on one monotonic clock (µs): the client
 * log, the upstream attempts from both mock journals, the relay's events and
 * the timeline marks.  The runner fills it; the checks only read it, so a
 * unit test can build one by hand.  Ownership: harness_obs_free frees the
 * arrays (the struct itself is the caller's). */
#ifndef HARNESS_OBS_H
#define HARNESS_OBS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define HARNESS_ID_LEN 48

/* The outcome of one client request, most specific first. */
enum harness_outcome {
    HARNESS_OK,           /* 200 and a complete answer */
    HARNESS_HTTP_ERROR,   /* a non-200 status */
    HARNESS_TRANSPORT,    /* curl error: no status at all */
    HARNESS_TRUNCATED,    /* 200 whose body or stream never finished */
    HARNESS_INBAND_ERROR, /* 200 stream carrying an error event */
};

struct harness_req {
    char id[HARNESS_ID_LEN];
    int phase;
    int key_index; /* which client key, -1 none */
    char key[64];  /* the client key itself ("" none) */
    int stream;
    uint64_t t_sched, t_sent, t_first, t_done; /* t_first 0 = no byte */
    long status;                               /* 0 = none */
    int curl_rc;
    char curl_err[96];
    char served[8];      /* who served: X-Served-By, else the answer's body ("" unknown) */
    char served_hdr[8];  /* X-Served-By as sent ("" absent) */
    char served_body[8]; /* the mock name stamped in the body ("" none, "mixed") */
    int served_disagree; /* header and body name different colours */
    int attempts_hdr;    /* X-Attempts, -1 absent */
    long retry_after_ms; /* Retry-After, -1 absent */
    int ratelimit_hdrs;  /* count of x-ratelimit-* headers */
    int done_marker;     /* stream ended with [DONE] */
    int inband_error;    /* an error object inside a 200 body/stream */
    int complete;        /* a full answer arrived */
    int outcome;         /* enum harness_outcome */
    /* What the client sent (the forwarded check compares the upstream's view). */
    char model[64];
    long max_tokens;   /* -1 none */
    uint64_t msg_hash; /* mock_messages_hash of the messages sent */
    /* The answer's exact header values and error shape (-1: absent). */
    char ctype[64];        /* Content-Type */
    char cenc[32];         /* Content-Encoding ("" none) */
    int hop_hdr;           /* X-Mock-Hop came: a header the upstream's Connection named */
    unsigned char head[2]; /* the answer body's first bytes as they came (head_n of them) */
    int head_n;
    int should_retry;  /* x-should-retry: -1 absent, 0 "false", 1 anything else */
    long ra_s, ra_ms;  /* Retry-After (whole seconds; -2 not a number, -3 an HTTP date) and
                          retry-after-ms */
    long rl_limit;     /* x-ratelimit-limit (-2: not a whole number) */
    long rl_remaining; /* x-ratelimit-remaining */
    int err_shape;     /* non-200 body: 1 OpenAI error JSON, 0 not; -1 a 200 */
    char err_why[64];  /* why the error body is not OpenAI's shape */
    int leaked;        /* the upstream key was in this answer's headers or body */
    int replica;       /* the fleet replica it was sent to (0 for one relay) */
    /* Which request template of its phase it was (-1: the phase's own
     * prompt), its name ("" unnamed), and what the template asked for. */
    int tpl;
    char tpl_name[32];
    int raw;           /* a raw body (not JSON): its id went in X-Request-ID only */
    int include_usage; /* the stream asked for stream_options.include_usage */
    /* The answer as the client read it (harness_body_facts), for the answer
     * checks: the OpenAI error it carried (non-200 body or in-band), its
     * text (choice 0's content, or the concatenated deltas of a stream),
     * finish_reason, model and usage. */
    char err_type[40];  /* error.type, "" none */
    char err_code[48];  /* error.code, "" none */
    char finish[16];    /* the last non-null finish_reason, "" none */
    int finish_n;       /* chunks (or choices) that carried one */
    char ans_model[64]; /* the answer's model ("" none, "(mixed)" chunks differ) */
    int usage_seen;     /* a usage object with token counts */
    long usage_prompt, usage_completion, usage_total;
    char text[160];     /* the text's first bytes (NUL-terminated) */
    size_t text_len;    /* the whole text's length */
    uint64_t text_hash; /* harness_text_hash of the whole text */
    int text_bad;       /* a content or delta that was not a string or null */
    int bad_event;      /* a stream event that was not JSON (nor [DONE]) */
    /* The answer ran past the harness's body cap (traffic.c BODY_CAP): the
     * client kept only its start, so its end is the harness's cut, not the
     * relay's, and the answer checks do not judge it. */
    int body_cut;
    /* Stream events that came after the first data: [DONE] (a second
     * [DONE], or data a client that stops at [DONE] never reads). */
    int after_done;
    /* The body's other fields as sent (mock_body_fields: tools, temperature,
     * stream_options...), "" not known; forwarded's "fields" compares. */
    char fields[256];
};

/* FNV-1a over a text, continued from h (start with HARNESS_TEXT_HASH0):
 * the client's text and the mock's canonical one hash alike. */
#define HARNESS_TEXT_HASH0 1469598103934665603ULL
uint64_t harness_text_hash(uint64_t h, const char *s, size_t n);

/* One upstream request recorded by a mock journal. */
struct harness_att {
    char req_id[HARNESS_ID_LEN];
    char id_via[8]; /* how the id reached the mock: header, user, content, "" none */
    char env[8];    /* which mock recorded it: "blue" / "green" */
    char path[64];
    int health;  /* a /health probe */
    int attempt; /* X-Attempt, 0 absent */
    int status;
    uint64_t t_arrival, t_done;
    char end[16];
    char action[24];
    /* What reached the upstream (forwarded, connection_reuse); "" / -1 / 0
     * when the journal did not record it. */
    char hdr_id[HARNESS_ID_LEN]; /* X-Request-ID as the upstream got it */
    char user[HARNESS_ID_LEN];   /* the body's "user" */
    char model[64];
    char ans_model[64]; /* the model the mock's answer named ("" the one asked for) */
    int stream;
    long max_tokens;
    uint64_t msg_hash;
    char key[12];  /* "configured" / "other" / "missing", "" unknown */
    uint64_t conn; /* the mock's serial of the TCP connection, 0 unknown */
    char x_env[8]; /* the X-Env header the upstream got, "" none */
    /* What the mock counted for the answer it built (journal "usage" and
     * "finish_reason"): -1 / "" when the journal says nothing. */
    long prompt_tokens, completion_tokens;
    char finish[16];
    char fields[256]; /* the body's other fields as the mock got them (mock_body_fields), "" none */
};

/* One relay event (docs/CONTRACTS.md). */
struct harness_ev {
    uint64_t t;
    char type[16];
    char from[8], to[8], env[8]; /* a "start" has its "active" colour as to */
    char reason[32];
    char req_id[HARNESS_ID_LEN];
    int healthy;
    int status;
    int attempt;
    long backoff_ms;
    char outcome[12]; /* attempt: ok, retry, failover, fail; "" none */
    int attempts;     /* request: the attempts it made, -1 absent */
    int replica;      /* whose event log it came from */
};

/* The signals a relay gives the checks.  A check row declares the ones it
 * needs; the common evaluator (harness_check_run) turns a missing one into
 * inconclusive with the reason from harness_signals[] (docs/CONTRACTS.md). */
enum harness_signal {
    HARNESS_SIG_IDS = 1 << 0,     /* every upstream attempt carries a request id */
    HARNESS_SIG_SERVED = 1 << 1,  /* every complete answer names the colour that served it */
    HARNESS_SIG_EVENTS = 1 << 2,  /* the relay's JSON-lines event log */
    HARNESS_SIG_ADMIN = 1 << 3,   /* the relay's admin API */
    HARNESS_SIG_PROCESS = 1 << 4, /* the runner started the relay and sees it exit */
    HARNESS_SIG_LOG = 1 << 5,     /* the relay logs on its stderr (its profile tells "log") */
};

struct harness_signal_row {
    unsigned bit;
    const char *name;    /* "ids", "served", ... (results.json) */
    const char *missing; /* why a check that needs it says nothing */
    const char *brief;   /* the same in a few words (scorecard cells) */
};
/* One row per signal, ending with a zero bit. */
extern const struct harness_signal_row harness_signals[];
/* The reason text of the first missing bit of bits ("" none). */
const char *harness_signal_missing(unsigned bits);

/* What the run saw of the relay's observability: how ids travelled to the
 * upstreams, how answers named their colour, and the extra signals of a
 * cooperating relay.  Counted by harness_obs_observe. */
struct harness_seen {
    long ids_header, ids_user, ids_content, ids_none; /* traffic attempts, by id path */
    long served_hdr, served_body, served_none;        /* complete answers (outcome ok) */
    long served_disagree;                             /* X-Served-By and the body differ */
    long ratelimit_hdrs;                              /* answers with x-ratelimit-* headers */
    int health_status;                                /* the relay's GET /health, 0 none */
};

struct harness_mark {
    char name[64];
    uint64_t t;
};

/* The relay endpoints a timeline "probe" step reads (docs/scenarios.md,
 * "Probes of the relay"). */
enum harness_probe_kind {
    HARNESS_PROBE_HEALTH,  /* GET /health: active colour, colours' health */
    HARNESS_PROBE_METRICS, /* GET /api/metrics: counters as JSON */
    HARNESS_PROBE_PROM,    /* GET /metrics: Prometheus text */
    HARNESS_PROBE_N,
};
#define HARNESS_MAX_COUNTERS 16
#define HARNESS_MAX_PROBES   32

/* How to read a relay's endpoints, from its profile's "probes" (harness/
 * probe.h): each endpoint's path ("" the relay declares none), where its
 * /health names the active colour and each colour's health (JSON
 * pointers), and which of its counters stands for each counter the harness
 * observes (harness_counter_names), in JSON (a pointer) and in Prometheus
 * text (a selector, name{label="value",...}: the sum of matching samples). */
struct harness_probe_map {
    char path[HARNESS_PROBE_N][128];
    char active[128];     /* "" none */
    char healthy[2][128]; /* blue, green; "" none */
    /* How the relay spells blue and green where it names the active colour
     * (profile "colours"; default the words themselves). */
    char colour[2][32];
    /* What /health answers with both colours down (profile
     * health.unhealthy_status), 0 undeclared: that item is not judged. */
    int unhealthy_status;
    /* The active colour in /api/metrics (a pointer) and in Prometheus text
     * (a selector with {colour} where the colour's word goes: 1 for the
     * active colour, 0 for the other); "" undeclared. */
    char active_json[128];
    char active_prom[192];
    struct {
        char name[32];  /* "requests", "retries", "switches", "attempts.blue", ... */
        char json[128]; /* pointer into /api/metrics, "" unmapped */
        char prom[192]; /* selector into /metrics, "" unmapped */
    } counters[HARNESS_MAX_COUNTERS];
    int n_counters;
    char why_none[160]; /* no map at all: why (a raw --relay command, ...) */
};

/* One probe the timeline took of the relay, as it answered. */
struct harness_probe {
    char name[64]; /* the step's mark, else "step<N>" */
    int kind;      /* enum harness_probe_kind */
    char path[128];
    uint64_t t_sent, t_done;
    long status; /* 0 none */
    int curl_rc;
    char curl_err[96];
    char ctype[96];
    char *headers; /* the answer's header lines, NUL-terminated (capped); owned */
    char *body;    /* NUL-terminated, at most HARNESS_PROBE_MAX_BODY bytes; owned */
    size_t len;
    int truncated;      /* the body was longer than the cap */
    int inflight;       /* client requests in flight when it was sent */
    long answered;      /* client requests answered when it was sent */
    int prom_rc;        /* promtool check metrics: 0 ok, 1 rejected, 3 lint only, -1 not run */
    char prom_out[384]; /* what promtool said, or why it did not run */
};
#define HARNESS_PROBE_MAX_BODY (256 * 1024)

struct harness_obs {
    uint64_t t0; /* the traffic start */
    uint64_t t_end;
    struct harness_req *reqs;
    size_t n_reqs;
    struct harness_att *atts; /* sorted by arrival */
    size_t n_atts;
    /* The traffic attempts (no health probes) grouped by request id, each
     * group in atts order: indices into atts, built by harness_obs_index. */
    size_t *by_req;
    size_t n_by_req;
    struct harness_ev *evs; /* in file order */
    size_t n_evs;
    int have_events;  /* the relay wrote an event log */
    unsigned signals; /* enum harness_signal bits the relay gave */
    struct harness_seen seen;
    struct harness_mark marks[64];
    size_t n_marks;
    int relay_alive;     /* at the end, before teardown */
    int relay_killed;    /* the scenario itself sent SIGKILL */
    char relay_exit[96]; /* how the relay ended before teardown, "" if it was alive */
    /* Shutdown: when SIGTERM went (by the timeline or the teardown), when the
     * relay was seen gone, and how (0 = exited with status 0). */
    uint64_t term_t, exit_t;
    int exit_clean;
    char exit_how[96];
    uint64_t step_late_us;         /* worst lateness of a timeline step */
    int admin_calls, admin_failed; /* timeline admin API calls */
    char admin_error[160];         /* the first failed one */
    /* Admin switches the relay accepted (2xx with the token): when the
     * answer came, the colour named, the replica asked.  admin_ok looks for
     * their effect in the journals; a 2xx alone is no switch. */
    struct {
        uint64_t t;
        char to[8];
        int replica;
    } admin_switches[16];
    int n_admin_switches;
    /* Journal records of the runner's ready probe (MOCK_READY_PROBE_HEADER)
     * that the relay passed on to an upstream: left out of atts. */
    int ready_probes_forwarded;
    struct harness_probe probes[HARNESS_MAX_PROBES]; /* in the order they were sent */
    size_t n_probes;
    struct harness_probe_map probe_map; /* how to read them (the relay's profile) */
    /* The scenario's relay "prices" (USD per million tokens, by model): what
     * the "cost" counter is observed with.  n_prices 0: none given. */
    struct {
        char model[64];
        double usd_per_million;
    } prices[8];
    size_t n_prices;
    /* How the relay's rate limiter counts its window (harness_rl_kinds):
     * the profile's "rate_limit_window", "sliding" for cutover-relay run
     * without a profile, "" unknown.  Only a sliding window promises at
     * most limit admissions in every span of window_ms; a fixed window or
     * a token bucket admits up to twice that across a boundary. */
    char rl_kind[8];
    /* A token bucket's size (the profile's "rate_limit_burst"), 0 unknown. */
    double rl_burst;
    /* The scenario's rate_limit_window_ms in µs, 0 when it sets none. */
    double rl_window_us;
    /* The scenario's rate_limit_requests (0: the run is not rate limited):
     * a count of admissions in such a run is written for a sliding window. */
    long rl_limit;
    int secret_leaks; /* places the upstream key showed up */
    int leak_scanned; /* artefacts scanned for it */
    char leak_where[128];
    /* The relay's stderr (every replica's): files read, non-empty lines,
     * and the first of them (blanked if it held the key). */
    int stderr_read;
    long stderr_lines;
    char stderr_first[160];
    /* The fleet (docs/fleet.md): replicas run, whether they were given the
     * shared store, and each replica's event log seen (have_events: all). */
    int n_replicas;
    int fleet_shared;
    int replica_events[8];
    unsigned replica_gone; /* bit i: the scenario stopped or killed replica i */
};

/* "sliding", "fixed", "bucket", "any", NULL. */
extern const char *const harness_rl_kinds[];

void harness_obs_free(struct harness_obs *o);
/* The time of a mark, or 0 when absent. */
uint64_t harness_obs_mark(const struct harness_obs *o, const char *name);
/* Sorts atts by arrival (the runner merges two journals), then indexes them
 * (harness_obs_index). */
void harness_obs_sort(struct harness_obs *o);
/* (Re)builds the by-request index of atts; call after atts last changed. */
void harness_obs_index(struct harness_obs *o);
/* The traffic attempts of request id, in atts order: *n indices into atts
 * (NULL when none).  O(log attempts) through the index. */
const size_t *harness_obs_attempts(const struct harness_obs *o, const char *id, size_t *n);
/* Counts o->seen from the requests and attempts and sets o->signals: base
 * (events, admin, process: what the runner knows) plus IDS when every
 * traffic attempt carried an id and SERVED when every complete answer named
 * its colour.  Call after harness_obs_sort. */
void harness_obs_observe(struct harness_obs *o, unsigned base);
/* o->seen and o->signals as results.json's "observability" object (new
 * reference): {"ids": {"header": N, "user": N, "content": N, "none": N},
 * "served": {"header": N, "body": N, "none": N, "disagree": N},
 * "event_log", "admin_api", "health_endpoint", "ratelimit_headers": bool,
 * "signals": [names given], "summary": "one line"}. */
json_t *harness_obs_observability_json(const struct harness_obs *o);
/* The one-line summary: "ids via header; served-by header; event log; admin
 * API; ..." */
void harness_obs_summary(const struct harness_obs *o, char *out, size_t n);
/* Names of the outcomes in enum order, NULL-terminated. */
extern const char *const harness_outcome_names[];
/* Name of an outcome ("ok", "http_error", ...). */
const char *harness_outcome_name(int outcome);

#endif
