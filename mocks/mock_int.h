/* Internals of the mock shared by its modules: the parsed behaviour, the pure
 * rule selection, the OpenAI body builders, the journal ring, the rate
 * limiter and the response plan the action table fills in.  Nothing here is
 * part of the public API (mocks/mock.h); unit tests include it. */
#ifndef MOCK_INT_H
#define MOCK_INT_H

#include "co_buf.h"
#include "co_rng.h"
#include "co_valid.h"
#include "mock.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Copies src into dst[n], truncating, always NUL-terminated.  The hot path
 * fills a journal record per request; snprintf("%s") showed in profiles. */
static inline void mock_scopy(char *dst, size_t n, const char *src)
{
    size_t l = 0;
    if (!n)
        return;
    while (src && src[l] && l + 1 < n)
        l++;
    for (size_t i = 0; i < l; i++)
        dst[i] = src[i];
    dst[l] = '\0';
}

/* Limits that keep every buffer bounded. */
#define MOCK_MAX_TOKENS   100000
#define MOCK_MAX_RULES    256
#define MOCK_MAX_SEQUENCE 1024
#define MOCK_MAX_BODY     (1024 * 1024)
#define MOCK_NAME_LEN     64

/* ---- latency ---------------------------------------------------------- */

enum mock_lat_kind { MOCK_LAT_NONE, MOCK_LAT_FIXED, MOCK_LAT_UNIFORM, MOCK_LAT_LOGNORMAL };

struct mock_latency {
    int kind;
    double a_ms;  /* fixed value, uniform low, lognormal median */
    double b_ms;  /* uniform high, lognormal cap */
    double sigma; /* lognormal */
};

/* ---- actions ------------------------------------------------------------ */

enum mock_action_type {
    MOCK_ACT_OK,
    MOCK_ACT_STATUS,
    MOCK_ACT_TIMEOUT,
    MOCK_ACT_RESET,
    MOCK_ACT_CLOSE,
    MOCK_ACT_STALL,
    MOCK_ACT_CUT,
    MOCK_ACT_INBAND_ERROR,
    MOCK_ACT_MALFORMED,
    MOCK_ACT_SLOW,
    MOCK_ACT_ECHO_AUTH,
    MOCK_ACT_NO_DONE,
    MOCK_ACT_HOLD_BODY,
    MOCK_ACT_INSERT_MALFORMED,
    MOCK_ACT_FINISH_WITHOUT_DONE,
    MOCK_ACT_HEADERS_THEN_SILENCE,
    MOCK_ACT_SILENCE_THEN_CLOSE,
    MOCK_ACT_DUPLICATE_CHUNK,
    MOCK_ACT_ERROR_IN_200,
    MOCK_ACT_DRIP,
    MOCK_ACT_HOP_HEADERS,
    MOCK_ACT_COUNT
};

enum mock_malformed { MOCK_MAL_JSON, MOCK_MAL_SSE_EVENT, MOCK_MAL_HTML };

/* x-ratelimit-* values a status action sends verbatim (-1 / "" = absent). */
struct mock_rl_headers {
    long limit_requests, remaining_requests, limit_tokens, remaining_tokens;
    char reset_requests[24], reset_tokens[24];
    int present;
};

struct mock_action {
    int type;             /* enum mock_action_type */
    int code;             /* status */
    char error_code[48];  /* status: OpenAI error code override ("" = by status) */
    char message[256];    /* status/inband_error message ("" = default) */
    double retry_after_s; /* status: < 0 absent */
    long retry_after_ms;  /* status: < 0 absent */
    /* status: Retry-After as an HTTP date this many seconds after the answer
     * leaves (< 0 absent); exclusive with retry_after_s. */
    long retry_after_date_s;
    struct mock_rl_headers rl;
    long after_ms;        /* timeout: < 0 never */
    long after_chunks;    /* reset/stall/cut/inband_error: < 0 absent */
    long after_bytes;     /* reset: < 0 absent */
    long stall_ms;        /* stall, hold_body */
    int then_continue;    /* stall, hold_body: 1 continue, 0 close */
    int broken_framing;   /* cut */
    int malformed;        /* enum mock_malformed */
    long at;              /* malformed sse_event, insert_malformed, duplicate_chunk position */
    char error_type[48];  /* error_in_200: the error object's type */
    long bytes_per_s;     /* drip */
    long ttft_ms, gap_ms; /* slow: < 0 absent */
};

/* The action table: one row per action type (mock_actions.c). */
struct mock_plan;
struct mock_action_kind {
    const char *name;
    /* Reads the action's own fields from obj; path is the object's JSON path. */
    int (*parse)(const json_t *obj, const char *path, struct mock_action *a, char *err,
                 size_t errlen);
    /* Turns the normal answer already in the plan into this action's answer
     * (mock_server.c carries the plan out).  Pure: no I/O. */
    void (*plan)(const struct mock_action *a, struct mock_plan *p);
    const char *const *keys; /* the fields it accepts, NULL-terminated */
};
const struct mock_action_kind *mock_action_find(const char *name);
const struct mock_action_kind *mock_action_kind(int type);
/* Parses an action object ({"type":...}) or a sequence item string. */
int mock_action_parse(const json_t *j, const char *path, struct mock_action *a, char *err,
                      size_t errlen);
int mock_action_parse_item(const json_t *j, const char *path, struct mock_action *a, char *err,
                           size_t errlen);
void mock_action_default(struct mock_action *a, int type);

/* Validation: the common kit (common/co_valid.h), one wording of errors
 * for mocks, harness and relay ("PATH: expected X, found Y (did you mean
 * 'Z'?)"), so that the behaviour and action parsers share it without
 * reaching into each other.  The mock's own names for it stay while work on
 * these parsers is in flight on other branches; new code may call co_v_*. */
#define mock_path           co_v_path
#define mock_v_fail         co_v_fail
#define mock_v_expect       co_v_expected
#define mock_v_keys         co_v_keys_at
#define mock_v_long         co_v_long
#define mock_v_double       co_v_number
#define mock_v_string       co_v_string
#define mock_v_header_value co_v_header_value
#define mock_v_bool         co_v_bool

/* ---- rules and behaviour -------------------------------------------------- */

enum mock_sel {
    MOCK_SEL_ALWAYS,
    MOCK_SEL_P,
    MOCK_SEL_FIRST,
    MOCK_SEL_EVERY,
    MOCK_SEL_SEQUENCE,
    MOCK_SEL_WINDOW
};

/* A body match: the value at a JSON pointer (RFC 6901) equals a JSON value. */
struct mock_body_eq {
    char *pointer;
    json_t *equals; /* owned */
};

struct mock_rule {
    char name[MOCK_NAME_LEN];
    /* match (NULL / -1 = any) */
    char *m_path, *m_model, *m_hname, *m_hvalue;
    struct mock_body_eq *m_body; /* every one must hold */
    size_t m_nbody;
    char *m_role;                /* the last message's role */
    char *m_contains;            /* substring of the last message's text */
    void *m_regex;               /* regex_t (POSIX ERE) on the last message's text */
    long m_chars_lo, m_chars_hi; /* prompt_chars in [lo, hi]; -1 = unbounded */
    int m_stream;                /* -1 any, 0, 1 */
    long m_idx_lo, m_idx_hi;     /* [lo, hi) request index; lo < 0 = any */
    /* selector */
    int sel;
    double p;
    long n; /* first N / every N */
    long win_lo_ms, win_hi_ms;
    struct mock_action *seq;
    size_t nseq;
    int seq_repeat;
    /* effect */
    struct mock_latency latency; /* kind NONE = the behaviour's */
    struct mock_action action;
    /* state: requests that matched this rule since the behaviour was set */
    uint64_t matched;
};

struct mock_rules {
    struct mock_rule *v;
    size_t n;
};

struct mock_behavior {
    json_t *src; /* the JSON it came from (owned) */
    long reply_tokens;
    double tokens_per_s;
    long ttft_ms;
    /* The model every chat answer names, whatever was asked ("" the one
     * asked for): OpenAI answers gpt-4o-2024-08-06 for gpt-4o. */
    char reply_model[128];
    struct mock_latency latency;
    long rl_requests, rl_window_ms, rl_tpm; /* 0 = off */
    struct mock_rules rules;
    struct mock_latency health_latency;
    struct mock_rules health_rules;
};

/* Parses and validates; on error returns -1 with "PATH: ..." in err and
 * *out untouched.  On success *out owns a new reference to j. */
int mock_behavior_parse(const json_t *j, struct mock_behavior **out, char *err, size_t errlen);
struct mock_behavior *mock_behavior_default(void);
void mock_behavior_free(struct mock_behavior **b);

/* ---- selection (pure) ----------------------------------------------------- */

/* What the selector needs to know about a request. */
struct mock_facts {
    const char *path;
    const char *model; /* NULL when none */
    int stream;
    uint64_t index; /* 0-based request index since the behaviour was set */
    /* header lookup: returns the value or NULL */
    const char *(*header)(void *ctx, const char *name);
    void *header_ctx;
    /* The parsed request body (chat completions only, else NULL): a rule
     * that matches on the body never matches without one. */
    const json_t *body;
};

/* The value at a JSON pointer (RFC 6901: "" is the whole document, "/a/0"
 * a key then an index, "~1" is '/', "~0" is '~'), or NULL. */
const json_t *mock_json_pointer(const json_t *doc, const char *ptr);
/* Whether ptr is a well-formed JSON pointer. */
int mock_json_pointer_valid(const char *ptr);
/* The text of a message's content: a string as is, an array of parts as its
 * "text" parts joined by '\n' (caller frees; "" when none). */
char *mock_message_text(const json_t *msg);
/* Characters (Unicode code points) of all message contents (an array of
 * parts counts its text as mock_message_text joins it, any other non-string
 * content its compact JSON), as the journal's prompt_chars. */
long mock_prompt_chars(const json_t *messages);

struct mock_decision {
    int rule;                  /* index of the rule that fired, -1 none */
    const char *rule_name;     /* "" when none or unnamed */
    struct mock_action action; /* OK when no rule fired */
    uint64_t latency_us;       /* before headers */
};

/* First rule whose match and selector fire decides.  Mutates the rules'
 * counters and draws from rng only for probability selectors and random
 * latencies, so the same seed and request sequence give the same result. */
void mock_select(struct mock_rules *rules, const struct mock_latency *base,
                 const struct mock_facts *f, uint64_t since_set_us, struct co_rng *rng,
                 struct mock_decision *d);
uint64_t mock_latency_sample_us(const struct mock_latency *l, struct co_rng *rng);

/* ---- OpenAI bodies (pure) ---------------------------------------------------- */

struct mock_chat_req {
    char model[128];
    char answer_model[128]; /* the model the answer names ("" model) */
    int stream;
    int include_usage;
    long max_tokens;   /* -1 none */
    char user[160];    /* the body's "user" field */
    char marker[136];  /* the id in the last message's MOCK_ID_MARKER, "" none */
    char stamp[32];    /* the mock's name, stamped into every answer ("" none) */
    long prompt_chars; /* mock_prompt_chars of the messages */
    long messages;     /* how many messages */
    uint64_t hash;     /* of the messages (mock_messages_hash): seeds the reply text */
    long prompt_tokens;
};

/* Parses a chat completion request.  Returns 0, or an HTTP status (400) with
 * an OpenAI error body in *errbody (caller frees). */
int mock_chat_parse(const char *body, size_t len, struct mock_chat_req *q, char **errbody);
/* As mock_chat_parse; on success *doc (when doc is not NULL) gets the parsed
 * body, which the caller decrefs. */
int mock_chat_parse_doc(const char *body, size_t len, struct mock_chat_req *q, char **errbody,
                        json_t **doc);
/* The request id in the last MOCK_ID_MARKER of content ("[cutover-id:ID]")
 * into out; returns 1 when found. */
int mock_find_marker(const char *content, char *out, size_t n);
/* The deterministic reply: token i of a reply seeded by hash.  Tokens are
 * words; the last ends with a full stop so truncation shows. */
void mock_reply_token(uint64_t hash, long i, long n, char *out, size_t outlen);
/* The full reply text into b. */
void mock_reply_text(uint64_t hash, long n, struct co_buf *b);
/* chat.completion JSON (caller frees). */
char *mock_chat_body(const struct mock_chat_req *q, const char *id, long created, long tokens,
                     const char *finish);
/* The SSE events of a streamed reply, each "data: ...\n\n", into a new array
 * (caller frees each and the array); *n gets the count. */
char **mock_sse_events(const struct mock_chat_req *q, const char *id, long created, long tokens,
                       const char *finish, size_t *n);
/* OpenAI's error body for an HTTP status (caller frees); code/message
 * override the defaults when non-empty. */
char *mock_status_body(int status, const char *code, const char *message);
/* An SSE error event (caller frees). */
char *mock_sse_error_event(const char *message, const char *code);
char *mock_models_body(const char *model_hint);
/* Go-style duration ("250ms", "1s", "1m30s") as OpenAI's reset headers use. */
void mock_fmt_duration(uint64_t ms, char *out, size_t n);

/* ---- journal ---------------------------------------------------------------- */

struct mock_record {
    uint64_t seq, t_arrival_us, t_done_us;
    char method[8];
    char path[128];
    char request_id[136]; /* the request id, from header, user or content marker */
    char id_via[8];       /* "header", "user", "content", "" none */
    int ready_probe;      /* carried MOCK_READY_PROBE_HEADER: the runner's, not the relay's */
    char user[160];
    long attempt; /* -1 none */
    char env[32];
    char model[128];
    char answer_model[128]; /* the model the answer named, "" the one asked for */
    int stream;
    char rule[MOCK_NAME_LEN];
    char action[24];
    int status;
    uint64_t bytes, chunks;
    char end[16];
    int auth;
    const char *key;        /* "configured" / "other" / "missing", NULL = no key to compare */
    uint64_t conn;          /* serial of the TCP connection (1, 2, ...) */
    long max_tokens;        /* -1 none */
    uint64_t messages_hash; /* mock_messages_hash of the body's messages, 0 none */
    long prompt_chars;      /* characters of all message contents, -1 no chat body */
    long messages;          /* message count, -1 no chat body */
    /* What the mock counted and ended its answer with (usage and
     * finish_reason of a chat answer; -1 / "" when it built none): the
     * harness derives the canonical text from messages_hash and
     * completion_tokens (mock_reply_text) and compares the client's. */
    long prompt_tokens, completion_tokens;
    char finish[12];
    char fields[256]; /* mock_body_fields of a chat body, "" none or too long */
};

struct mock_journal {
    struct mock_record *ring;
    size_t cap, head, count; /* head: index of the oldest */
    uint64_t next_seq;
    uint64_t dropped;
};

void mock_journal_init(struct mock_journal *j, size_t cap);
void mock_journal_free(struct mock_journal *j);
void mock_journal_clear(struct mock_journal *j);
/* Appends (assigning seq); the oldest is dropped and counted when full. */
void mock_journal_add(struct mock_journal *j, struct mock_record *r);
json_t *mock_record_json(const struct mock_record *r);
/* Records with seq >= since, oldest first. */
json_t *mock_journal_json(const struct mock_journal *j, uint64_t since);
/* At most limit records (0 = all); *next gets the seq to ask for next. */
json_t *mock_journal_page(const struct mock_journal *j, uint64_t since, size_t limit,
                          uint64_t *next);

/* ---- rate limiter (pure, clock passed in) ------------------------------------ */

struct mock_rl {
    long requests, window_ms, tpm;
    uint64_t *req_t; /* ring of admission times, capacity requests */
    size_t req_head, req_n;
    struct {
        uint64_t t;
        long tokens;
    } * tok; /* ring of token spends in the last minute */
    size_t tok_cap, tok_head, tok_n;
    long tok_sum;
};

struct mock_rl_verdict {
    int admitted;
    long limit_requests, remaining_requests;
    uint64_t reset_requests_ms;
    long limit_tokens, remaining_tokens;
    uint64_t reset_tokens_ms;
    uint64_t retry_after_ms; /* when refused */
};

void mock_rl_init(struct mock_rl *rl, long requests, long window_ms, long tpm);
void mock_rl_free(struct mock_rl *rl);
/* Admits or refuses a request that would spend tokens at now_us. */
void mock_rl_admit(struct mock_rl *rl, uint64_t now_us, long tokens, struct mock_rl_verdict *v);

/* ---- proxy mode (mock_proxy.c) -------------------------------------------------- */

struct mock_header {
    char name[64];
    char value[512];
};

/* Called from the loop as the upstream answers; ctx is the caller's. */
struct mock_xfer_cb {
    void (*on_head)(void *ctx, long status); /* status line and headers are in */
    void (*on_data)(void *ctx);              /* more body is buffered */
    void (*on_done)(void *ctx, int ok);      /* finished (ok = 0: failed) */
};

struct mock_proxy;
struct mock_xfer;
struct ev_loop;

/* base: "http://host:port" to which the request path is appended. */
struct mock_proxy *mock_proxy_new(struct ev_loop *loop, const char *base, char *err, size_t errlen);
void mock_proxy_free(struct mock_proxy **p);
/* A transfer of method path to the upstream.  body is borrowed until
 * mock_xfer_free.  Add request headers with mock_xfer_header, then
 * mock_xfer_send starts it. */
struct mock_xfer *mock_proxy_start(struct mock_proxy *p, const char *method, const char *path,
                                   const char *body, size_t body_len, const struct mock_xfer_cb *cb,
                                   void *ctx);
/* One request header (name cut to 63 bytes, value to 511). */
void mock_xfer_header(struct mock_xfer *x, const char *name, const char *value);
void mock_xfer_send(struct mock_xfer *x);
long mock_xfer_status(const struct mock_xfer *x);
const struct mock_header *mock_xfer_headers(const struct mock_xfer *x, size_t *n);
const char *mock_xfer_error(const struct mock_xfer *x);
/* Copies buffered body bytes; 0 when none yet, -1 at a clean end, -2 when
 * the upstream failed. */
ssize_t mock_xfer_read(struct mock_xfer *x, char *out, size_t max);
/* Cancels if still running; sets *x = NULL. */
void mock_xfer_free(struct mock_xfer **x);

/* ---- the response plan an action fills in ------------------------------------ */

enum mock_fault {
    MOCK_FAULT_NONE,
    MOCK_FAULT_RESET,
    MOCK_FAULT_CLOSE,
    MOCK_FAULT_CUT,
    MOCK_FAULT_CUT_BROKEN,
    MOCK_FAULT_STALL,
    MOCK_FAULT_NEVER
};

struct mock_plan {
    int streamed; /* pieces in events (SSE), else one body */
    int status;
    const char *content_type;
    char *body; /* non-streamed body (owned) */
    size_t body_len;
    char **events; /* streamed pieces (owned) */
    size_t nevents;
    int fault;           /* enum mock_fault */
    long fault_at_piece; /* before sending this piece; -1 at once (before headers) */
    long fault_at_byte;  /* body offset for non-streamed faults; -1 none */
    uint64_t stall_us;
    int stall_continue;
    uint64_t extra_delay_us; /* timeout after_ms */
    uint64_t ttft_us, gap_us;
    uint64_t drip_bps; /* drip: body bytes per second, 0 = as fast as it goes */
    char retry_after[24];
    char retry_after_ms[24];
    /* Retry-After as an HTTP date retry_after_date_s after the answer time:
     * the date is made by mock_http_date when the headers go out (the mock's
     * wall clock then), not when the plan is made, since latency comes
     * between. */
    int retry_after_date;
    long retry_after_date_s;
    struct mock_rl_headers rl;
    const char *end; /* journal end when the plan runs to its end */
    /* The request's Authorization header (NULL when none), for echo_auth;
     * set by the server before the action applies, valid for the request. */
    const char *authorization;
    const char *echo_header; /* x-echo-authorization value, or NULL */
    /* hop_headers: Connection names X-Mock-Hop, which then comes too, with a
     * Keep-Alive: headers for this hop only (RFC 9110 7.6.1), never for the
     * relay's client. */
    int hop_headers;
};

/* Builds the action's plan over the normal answer in p (mock_actions.c). */
void mock_plan_apply(const struct mock_action *a, struct mock_plan *p);
void mock_plan_free(struct mock_plan *p);
/* t (seconds since the epoch, UTC) as an RFC 9110 IMF-fixdate ("Sun, 06 Nov
 * 1994 08:49:37 GMT"), whatever the locale.  n >= MOCK_HTTP_DATE_LEN. */
#define MOCK_HTTP_DATE_LEN 32
void mock_http_date(int64_t t, char *buf, size_t n);

#endif
