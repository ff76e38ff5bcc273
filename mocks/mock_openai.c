/* OpenAI-shaped bodies: the request parser, the deterministic reply text, the
 * chat.completion body, the SSE chunks of a streamed reply and the error
 * bodies per status.  All pure: no I/O, no clock (the caller passes
 * `created`).
 *
 * The reply is a function of the request's messages alone, so a test that
 * knows the request knows the complete answer and can tell it from a
 * truncated one: its last token ends with a full stop. */
#include "mock_int.h"
#include "mock.h"

#include "co_json.h"
#include "co_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const words[64] = {
    "amber",   "birch",  "cedar",  "delta",  "ember",   "fjord",   "grove",   "harbor",
    "island",  "jasper", "kelp",   "lagoon", "meadow",  "nectar",  "orchid",  "prairie",
    "quartz",  "river",  "summit", "tundra", "umber",   "valley",  "willow",  "xenon",
    "yarrow",  "zephyr", "anchor", "beacon", "canyon",  "dune",    "estuary", "forest",
    "glacier", "heath",  "inlet",  "jungle", "knoll",   "ledge",   "marsh",   "nova",
    "oasis",   "pebble", "quill",  "reef",   "savanna", "thicket", "upland",  "vista",
    "wharf",   "xylem",  "yonder", "zenith", "atoll",   "bluff",   "cove",    "drift",
    "eddy",    "fern",   "gulch",  "hollow", "isle",    "jetty",   "kestrel", "lichen"};

static uint64_t fnv1a_more(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Called once per token of every reply, so it copies instead of formatting. */
void mock_reply_token(uint64_t hash, long i, long n, char *out, size_t outlen)
{
    const char *w = words[mix(hash + (uint64_t)i) % 64];
    size_t k = 0, wl = strlen(w);
    if (outlen < wl + 3) {
        if (outlen)
            out[0] = '\0';
        return;
    }
    if (i)
        out[k++] = ' ';
    memcpy(out + k, w, wl);
    k += wl;
    if (i == n - 1)
        out[k++] = '.';
    out[k] = '\0';
}

/* Called for every answer: the tokens are gathered in a block on the stack
 * and appended a block at a time (one co_buf_append per token was a third
 * of the body's cost); the bytes are mock_reply_token's, token after token. */
void mock_reply_text(uint64_t hash, long n, struct co_buf *b)
{
    char blk[512];
    size_t k = 0;
    for (long i = 0; i < n; i++) {
        if (k + 32 > sizeof blk) {
            co_buf_append(b, blk, k);
            k = 0;
        }
        mock_reply_token(hash, i, n, blk + k, 32);
        k += strlen(blk + k);
    }
    if (k)
        co_buf_append(b, blk, k);
}

char *mock_reply_string(uint64_t messages_hash, long tokens)
{
    struct co_buf b;
    co_buf_init(&b, 0);
    mock_reply_text(messages_hash, tokens, &b);
    char *s = co_buf_steal(&b, NULL);
    return s ? s : co_strdup("");
}

uint64_t mock_messages_hash(const json_t *msgs)
{
    /* Role and content of each message, with separators so that moving a
     * character between fields changes the hash. */
    uint64_t h = 1469598103934665603ULL;
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        json_t *role = json_object_get(m, "role"), *content = json_object_get(m, "content");
        if (json_is_string(role))
            h = fnv1a_more(h, json_string_value(role), json_string_length(role));
        h = fnv1a_more(h, "\x1f", 1);
        if (json_is_string(content)) {
            h = fnv1a_more(h, json_string_value(content), json_string_length(content));
        } else if (content) {
            char *dump = json_dumps(content, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
            h = fnv1a_more(h, dump ? dump : "", dump ? strlen(dump) : 0);
            free(dump);
        }
        h = fnv1a_more(h, "\x1e", 1);
    }
    return h;
}

int mock_body_fields(const json_t *body, char *out, size_t n)
{
    static const char *const judged_apart[] = {
        "messages", "user", "model", "stream", "max_tokens", "max_completion_tokens", NULL};
    out[0] = '\0';
    if (!json_is_object(body) || n == 0)
        return -1;
    /* Most bodies have no other field: "{}" without the copy and the dump,
     * which were 5% of the mock's CPU under load (issue 17). */
    const char *key;
    json_t *value;
    int other = 0;
    json_object_foreach((json_t *)body, key, value)
    {
        size_t i = 0;
        while (judged_apart[i] && strcmp(judged_apart[i], key) != 0)
            i++;
        if (!judged_apart[i]) {
            other = 1;
            break;
        }
    }
    if (!other) {
        if (n < 3)
            return -1;
        memcpy(out, "{}", 3);
        return 0;
    }
    json_t *rest = json_copy((json_t *)body);
    for (size_t i = 0; judged_apart[i]; i++)
        json_object_del(rest, judged_apart[i]);
    char *dump = json_dumps(rest, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(rest);
    int rc = -1;
    if (dump && strlen(dump) < n) {
        memcpy(out, dump, strlen(dump) + 1);
        rc = 0;
    }
    free(dump);
    return rc;
}

static char *bad_request(const char *msg, const char *param)
{
    return co_openai_error(msg, "invalid_request_error", param, NULL);
}

int mock_find_marker(const char *content, char *out, size_t n)
{
    const char *p = NULL, *q = content;
    size_t ml = strlen(MOCK_ID_MARKER);
    out[0] = '\0';
    while ((q = strstr(q, MOCK_ID_MARKER))) {
        p = q;
        q += ml;
    }
    if (!p)
        return 0;
    p += ml;
    size_t len = strcspn(p, "] \t\r\n");
    if (p[len] != ']' || len == 0 || len >= n)
        return 0;
    memcpy(out, p, len);
    out[len] = '\0';
    return 1;
}

/* UTF-8 code points in s[0..n): every byte that does not continue one. */
static long utf8_chars(const char *s, size_t n)
{
    long c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

char *mock_message_text(const json_t *msg)
{
    json_t *content = json_object_get(msg, "content");
    if (json_is_string(content))
        return co_strndup(json_string_value(content), json_string_length(content));
    struct co_buf b;
    co_buf_init(&b, 0);
    size_t i, n = 0;
    json_t *part;
    json_array_foreach(content, i, part)
    {
        json_t *t = json_object_get(part, "text");
        if (!json_is_string(t))
            continue;
        if (n++)
            co_buf_puts(&b, "\n");
        co_buf_append(&b, json_string_value(t), json_string_length(t));
    }
    char *s = co_buf_steal(&b, NULL);
    return s ? s : co_strdup("");
}

long mock_prompt_chars(const json_t *messages)
{
    long chars = 0;
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m)
    {
        json_t *content = json_object_get(m, "content");
        if (json_is_string(content)) {
            chars += utf8_chars(json_string_value(content), json_string_length(content));
        } else if (json_is_array(content)) {
            char *text = mock_message_text(m); /* the text parts, as a match sees them */
            chars += utf8_chars(text, strlen(text));
            free(text);
        } else if (content && !json_is_null(content)) {
            char *dump = json_dumps(content, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
            chars += dump ? utf8_chars(dump, strlen(dump)) : 0;
            free(dump);
        }
    }
    return chars;
}

int mock_chat_parse(const char *body, size_t len, struct mock_chat_req *q, char **errbody)
{
    return mock_chat_parse_doc(body, len, q, errbody, NULL);
}

int mock_chat_parse_doc(const char *body, size_t len, struct mock_chat_req *q, char **errbody,
                        json_t **doc)
{
    json_error_t je;
    char msg[256];
    int rc = 400;
    memset(q, 0, sizeof *q);
    q->max_tokens = -1;
    json_t *j = json_loadb(body ? body : "", len, 0, &je);
    if (!j) {
        snprintf(msg, sizeof msg,
                 "We could not parse the JSON body of your request (line %d column %d: %s).",
                 je.line, je.column, je.text);
        *errbody = bad_request(msg, NULL);
        goto out;
    }
    if (!json_is_object(j)) {
        *errbody = bad_request("The request body must be a JSON object.", NULL);
        goto out;
    }
    json_t *msgs = json_object_get(j, "messages");
    if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
        *errbody = bad_request(msgs ? "'messages' must be a non-empty array."
                                    : "Missing required parameter: 'messages'.",
                               "messages");
        goto out;
    }
    json_t *v = json_object_get(j, "model");
    if (v && !json_is_string(v)) {
        *errbody = bad_request("'model' must be a string.", "model");
        goto out;
    }
    mock_scopy(q->model, sizeof q->model, v ? json_string_value(v) : "mock-model");
    q->stream = json_is_true(json_object_get(j, "stream"));
    q->include_usage =
        json_is_true(json_object_get(json_object_get(j, "stream_options"), "include_usage"));
    v = json_object_get(j, "max_tokens");
    if (!v)
        v = json_object_get(j, "max_completion_tokens");
    if (json_is_integer(v) && json_integer_value(v) >= 0)
        q->max_tokens = (long)json_integer_value(v);
    v = json_object_get(j, "user");
    if (json_is_string(v))
        mock_scopy(q->user, sizeof q->user, json_string_value(v));
    /* The prompt size estimates its tokens (a non-string content counts as
     * its compact JSON). */
    size_t chars = 0, i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        json_t *content = json_object_get(m, "content");
        if (json_is_string(content)) {
            chars += json_string_length(content);
        } else if (content) {
            char *dump = json_dumps(content, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
            chars += dump ? strlen(dump) : 0;
            free(dump);
        }
    }
    q->hash = mock_messages_hash(msgs);
    q->prompt_tokens = (long)(chars / 4) + 1;
    q->prompt_chars = mock_prompt_chars(msgs);
    q->messages = (long)json_array_size(msgs);
    /* The marker rides in the client's last message; a relay that appends
     * messages of its own (a reminder, a prefill) leaves it further up. */
    for (size_t k = json_array_size(msgs); k-- > 0 && !q->marker[0];) {
        json_t *content = json_object_get(json_array_get(msgs, k), "content");
        if (json_is_string(content))
            mock_find_marker(json_string_value(content), q->marker, sizeof q->marker);
    }
    rc = 0;
    if (doc)
        *doc = json_incref(j);
out:
    json_decref(j);
    return rc;
}

/* The model as a JSON string literal (quotes included). */
static char *json_str(const char *s)
{
    json_t *j = co_json_str(s); /* s may be cut inside a character */
    char *out = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    return out ? out : co_strdup("\"\"");
}

/* Appends s as a JSON string literal.  A model name is printable ASCII
 * nearly always, and then jansson would write exactly its bytes between
 * quotes; only other names pay for a jansson string and a dump. */
static void put_json_str(struct co_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
        p++;
    if (*p) {
        char *lit = json_str(s);
        co_buf_puts(b, lit);
        free(lit);
        return;
    }
    co_buf_append(b, "\"", 1);
    co_buf_append(b, s, (size_t)((const char *)p - s));
    co_buf_append(b, "\"", 1);
}

static void put_long(struct co_buf *b, long v)
{
    char s[24], *e = s + sizeof s, *q = e;
    unsigned long u = v < 0 ? 0ul - (unsigned long)v : (unsigned long)v;
    do
        *--q = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--q = '-';
    co_buf_append(b, q, (size_t)(e - q));
}

/* Built for every answer, so it appends pieces instead of formatting:
 * vsnprintf was half of this function's cost in a profile. */
char *mock_chat_body(const struct mock_chat_req *q, const char *id, long created, long tokens,
                     const char *finish)
{
    struct co_buf b;
    co_buf_init(&b, 0);
    /* The default answer is about 450 bytes: one allocation, no regrowth. */
    co_buf_reserve(&b, 512 + (tokens > 0 ? (size_t)tokens * 9 : 0));
    co_buf_puts(&b, "{\"id\":\"");
    co_buf_puts(&b, id);
    co_buf_puts(&b, "\",\"object\":\"chat.completion\",\"created\":");
    put_long(&b, created);
    co_buf_puts(&b, ",\"model\":");
    put_json_str(&b, q->answer_model[0] ? q->answer_model : q->model);
    co_buf_puts(&b, ",\"system_fingerprint\":\"");
    co_buf_puts(&b, q->stamp[0] ? MOCK_FINGERPRINT_PREFIX : "fp_cutover");
    co_buf_puts(&b, q->stamp);
    co_buf_puts(&b,
                "\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"");
    mock_reply_text(q->hash, tokens, &b);
    co_buf_puts(&b, "\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"");
    co_buf_puts(&b, finish);
    co_buf_puts(&b, "\"}],\"usage\":{\"prompt_tokens\":");
    put_long(&b, q->prompt_tokens);
    co_buf_puts(&b, ",\"completion_tokens\":");
    put_long(&b, tokens);
    co_buf_puts(&b, ",\"total_tokens\":");
    put_long(&b, q->prompt_tokens + tokens);
    co_buf_puts(&b, "}}");
    return co_buf_steal(&b, NULL);
}

char **mock_sse_events(const struct mock_chat_req *q, const char *id, long created, long tokens,
                       const char *finish, size_t *n)
{
    size_t cap = (size_t)tokens + 4, k = 0;
    char **ev = co_calloc(cap, sizeof *ev);
    char *model = json_str(q->answer_model[0] ? q->answer_model : q->model);
    char head[512], tok[32];
    snprintf(head, sizeof head,
             "data: {\"id\":\"%s\",\"object\":\"chat.completion.chunk\",\"created\":%ld,"
             "\"model\":%s,\"system_fingerprint\":\"%s%s\",\"choices\":",
             id, created, model, q->stamp[0] ? MOCK_FINGERPRINT_PREFIX : "fp_cutover", q->stamp);
    ev[k++] = co_asprintf("%s[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\","
                          "\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
                          head);
    for (long i = 0; i < tokens; i++) {
        mock_reply_token(q->hash, i, tokens, tok, sizeof tok);
        ev[k++] = co_asprintf("%s[{\"index\":0,\"delta\":{\"content\":\"%s\"},\"logprobs\":null,"
                              "\"finish_reason\":null}]}\n\n",
                              head, tok);
    }
    ev[k++] = co_asprintf("%s[{\"index\":0,\"delta\":{},\"logprobs\":null,"
                          "\"finish_reason\":\"%s\"}]}\n\n",
                          head, finish);
    if (q->include_usage)
        ev[k++] = co_asprintf("%s[],\"usage\":{\"prompt_tokens\":%ld,\"completion_tokens\":%ld,"
                              "\"total_tokens\":%ld}}\n\n",
                              head, q->prompt_tokens, tokens, q->prompt_tokens + tokens);
    ev[k++] = co_strdup("data: [DONE]\n\n");
    free(model);
    *n = k;
    return ev;
}

struct status_row {
    int status;
    const char *type;
    const char *code;
    const char *message;
};

/* OpenAI's bodies for the statuses a relay must tell apart. */
static const struct status_row status_rows[] = {
    {400, "invalid_request_error", NULL, "Bad request."},
    {401, "invalid_request_error", "invalid_api_key",
     "Incorrect API key provided. You can find your API key at "
     "https://platform.openai.com/account/api-keys."},
    {403, "invalid_request_error", "unsupported_country_region_territory",
     "Country, region, or territory not supported."},
    {404, "invalid_request_error", "model_not_found",
     "The model does not exist or you do not have access to it."},
    {408, "server_error", "timeout", "Request timed out."},
    {409, "invalid_request_error", "conflict", "Conflict."},
    {413, "invalid_request_error", "request_too_large", "Request body too large."},
    {422, "invalid_request_error", NULL, "Unprocessable entity."},
    {429, "requests", "rate_limit_exceeded",
     "Rate limit reached for requests. Please try again later."},
    {500, "server_error", "server_error",
     "The server had an error while processing your request. Sorry about that!"},
    {502, "server_error", "bad_gateway", "Bad gateway."},
    {503, "server_error", "overloaded",
     "The engine is currently overloaded, please try again later."},
    {504, "server_error", "timeout", "Gateway timeout."},
};

char *mock_status_body(int status, const char *code, const char *message)
{
    const struct status_row *row = NULL;
    for (size_t i = 0; i < sizeof status_rows / sizeof status_rows[0]; i++)
        if (status_rows[i].status == status)
            row = &status_rows[i];
    const char *type = row ? row->type : status >= 500 ? "server_error" : "invalid_request_error";
    const char *c = row ? row->code : NULL;
    const char *msg = row ? row->message : "The mock returned this status on purpose.";
    if (code && code[0]) {
        c = code;
        if (strcmp(code, "insufficient_quota") == 0) {
            type = "insufficient_quota";
            msg = "You exceeded your current quota, please check your plan and billing details.";
        }
    }
    if (message && message[0])
        msg = message;
    return co_openai_error(msg, type, NULL, c);
}

char *mock_sse_error_event(const char *message, const char *code)
{
    char *e = co_openai_error(message, "server_error", NULL, code);
    char *ev = co_asprintf("data: %s\n\n", e);
    free(e);
    return ev;
}

char *mock_models_body(const char *model_hint)
{
    static const char *const models[] = {"gpt-4.1", "claude-sonnet-4.5", "gemini-2.5-flash",
                                         "deepseek-v3.2"};
    struct co_buf b;
    co_buf_init(&b, 0);
    co_buf_puts(&b, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        co_buf_printf(&b,
                      "%s{\"id\":\"%s\",\"object\":\"model\",\"created\":1700000000,"
                      "\"owned_by\":\"cutover-mock\"}",
                      i ? "," : "", models[i]);
    co_buf_puts(&b, "]}");
    return co_buf_steal(&b, NULL);
}

void mock_fmt_duration(uint64_t ms, char *out, size_t n)
{
    if (ms < 1000) {
        snprintf(out, n, "%llums", (unsigned long long)ms);
        return;
    }
    uint64_t h = ms / 3600000, m = (ms / 60000) % 60;
    double s = (double)(ms % 60000) / 1000.0;
    if (h)
        snprintf(out, n, "%lluh%llum%gs", (unsigned long long)h, (unsigned long long)m, s);
    else if (m)
        snprintf(out, n, "%llum%gs", (unsigned long long)m, s);
    else
        snprintf(out, n, "%gs", s);
}
