/* A mock OpenAI-compatible upstream (one colour), embeddable in any libev
 * loop.  The runner starts blue and green in process through these calls;
 * `cutover mock` runs one standalone; the control API under /_mock/ calls the
 * same functions over HTTP.  Behaviour and journal formats: docs/CONTRACTS.md.
 *
 * Ownership: mock_new returns a mock the caller frees with mock_free.  JSON
 * returned by the getters is a new reference the caller decrefs. */
#ifndef MOCK_H
#define MOCK_H

#include <ev.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct mock;

/* The correlation marker the runner appends to the content of a request's
 * last message ("... [cutover-id:ID]"): the one part of a request every relay
 * forwards.  The mock journals the request id from the X-Request-ID header,
 * else the body's "user", else this marker, and says which ("id_via"). */
#define MOCK_ID_MARKER "[cutover-id:"
/* The header the runner's own readiness probe carries (GET the relay's
 * ready path).  A relay that passes every path on (nginx) forwards that
 * probe to an upstream's /health, where it would look like the relay's
 * health check: the mock journals it as "ready_probe" and does not count
 * it among the /health answers its rules select from. */
#define MOCK_READY_PROBE_HEADER "X-Cutover-Ready-Probe"
/* Answers carry the mock's name in "system_fingerprint" ("fp_cutover_" NAME)
 * and in the completion id ("chatcmpl-" NAME "-..."), so the colour that
 * served an answer is known from its body alone. */
#define MOCK_FINGERPRINT_PREFIX "fp_cutover_"

struct mock_opts {
    const char *name;         /* "blue", "green", ...: recorded in the journal */
    const char *addr;         /* listen address, default 127.0.0.1 */
    uint16_t port;            /* 0 picks a free port */
    uint64_t seed;            /* seeds every random decision */
    size_t journal_cap;       /* records kept; 0 means the default (100000) */
    const char *upstream_url; /* proxy mode: pass through unless a rule fires (may be NULL) */
    /* The upstream key the relay was given (may be NULL).  The journal then
     * says per request whether the Authorization header carried it
     * ("configured"), another key ("other") or none ("missing"); the key
     * itself is never stored. */
    const char *api_key;
    /* Workers, each a libev loop with its own libmicrohttpd daemon on the
     * port (SO_REUSEPORT): 0 or 1 is one, on the caller's loop, as the
     * runner uses it.  More: the first stays on the caller's loop and the
     * others run on threads of their own; decisions and the journal stay
     * one shared state under one lock (mocks/mock_server.c). */
    unsigned threads;
};

/* Starts listening on loop.  Returns NULL with a message in err. */
struct mock *mock_new(struct ev_loop *loop, const struct mock_opts *o, char *err, size_t errlen);
/* Resumes anything suspended, closes every connection, frees; sets *m = NULL. */
void mock_free(struct mock **m);

uint16_t mock_port(const struct mock *m);
/* "http://127.0.0.1:PORT" (no /v1). */
const char *mock_url(const struct mock *m);

/* Validates and applies a behaviour atomically (the old one stays on error).
 * err gets "JSON-PATH: expected X, found Y" with the path relative to the
 * behaviour ("$.rules[0].action.code"). */
int mock_set_behavior(struct mock *m, const json_t *behavior, char *err, size_t errlen);
/* Validation alone, without a mock (for `cutover validate`). */
int mock_behavior_validate(const json_t *behavior, char *err, size_t errlen);
json_t *mock_get_behavior(const struct mock *m);

/* The hash of a chat request's messages (role and content of each, a
 * non-string content as compact sorted JSON), as the journal's
 * "messages_hash" records it: a client hashes what it sent and compares. */
uint64_t mock_messages_hash(const json_t *messages);
/* The body's other fields (all but messages, user, model, stream,
 * max_tokens, max_completion_tokens: tools, temperature, stream_options...)
 * as compact JSON with sorted keys into out, as the journal's "fields"
 * records them: a client compares what it sent.  Returns -1 (out "") when
 * the body is not an object or the JSON does not fit in n. */
int mock_body_fields(const json_t *body, char *out, size_t n);
/* The reply text the mock gives a request whose messages hash to
 * messages_hash, with tokens tokens (the journal's "messages_hash" and
 * "usage.completion_tokens"): the canonical answer a client must receive,
 * whole or as a prefix (caller frees). */
char *mock_reply_string(uint64_t messages_hash, long tokens);

/* Journal records with seq >= since, as a JSON array. */
json_t *mock_journal(const struct mock *m, uint64_t since);
/* Records dropped because the journal was full. */
uint64_t mock_journal_dropped(const struct mock *m);
/* Clears the journal and counters and restores the default behaviour. */
void mock_reset(struct mock *m);

/* The names of the mock's actions, NULL-terminated, from its action table
 * (mock_actions.c): every other list of fault names is derived from it. */
const char *const *mock_action_names(void);

/* `cutover mock`: a standalone mock on a port (mock_cli.c); returns the
 * exit status (CO_EXIT_*). */
int mock_cli_main(int argc, char **argv);

#endif
