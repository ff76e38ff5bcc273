/* The journal: a bounded ring of request records.  Past the cap the oldest
 * record goes and is counted as dropped, so a long run never grows memory
 * and a reader can tell that it missed something.  Sequence numbers never
 * repeat (until a reset), so `?since=` paging stays exact across drops. */
#include "mock_int.h"

#include "co_json.h"
#include "co_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mock_journal_init(struct mock_journal *j, size_t cap)
{
    memset(j, 0, sizeof *j);
    j->cap = cap ? cap : 100000;
    j->ring = co_calloc(j->cap, sizeof *j->ring);
}

void mock_journal_free(struct mock_journal *j)
{
    free(j->ring);
    j->ring = NULL;
}

void mock_journal_clear(struct mock_journal *j)
{
    j->head = j->count = 0;
    j->next_seq = 0;
    j->dropped = 0;
}

void mock_journal_add(struct mock_journal *j, struct mock_record *r)
{
    r->seq = j->next_seq++;
    if (j->count == j->cap) {
        j->ring[j->head] = *r;
        j->head = (j->head + 1) % j->cap;
        j->dropped++;
        return;
    }
    j->ring[(j->head + j->count) % j->cap] = *r;
    j->count++;
}

/* Journal fields hold client bytes (method, path, ids) cut to fixed sizes,
 * so possibly not valid UTF-8: co_json_str keeps them from vanishing. */
static json_t *str_or_null(const char *s)
{
    return s[0] ? co_json_str(s) : json_null();
}

json_t *mock_record_json(const struct mock_record *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "seq", json_integer((json_int_t)r->seq));
    json_object_set_new(o, "t_arrival_us", json_integer((json_int_t)r->t_arrival_us));
    json_object_set_new(o, "t_done_us", json_integer((json_int_t)r->t_done_us));
    json_object_set_new(o, "method", co_json_str(r->method));
    json_object_set_new(o, "path", co_json_str(r->path));
    json_object_set_new(o, "request_id", str_or_null(r->request_id));
    json_object_set_new(o, "id_via", str_or_null(r->id_via));
    if (r->ready_probe)
        json_object_set_new(o, "ready_probe", json_true());
    json_object_set_new(o, "user", str_or_null(r->user));
    json_object_set_new(o, "attempt", r->attempt >= 0 ? json_integer(r->attempt) : json_null());
    json_object_set_new(o, "env", str_or_null(r->env));
    json_object_set_new(o, "model", str_or_null(r->model));
    if (r->answer_model[0]) /* only when the answer named another model */
        json_object_set_new(o, "answer_model", co_json_str(r->answer_model));
    json_object_set_new(o, "stream", json_boolean(r->stream));
    json_object_set_new(o, "rule", str_or_null(r->rule));
    json_object_set_new(o, "action", co_json_str(r->action));
    json_object_set_new(o, "status", json_integer(r->status));
    json_object_set_new(o, "bytes", json_integer((json_int_t)r->bytes));
    json_object_set_new(o, "chunks", json_integer((json_int_t)r->chunks));
    json_object_set_new(o, "end", co_json_str(r->end));
    json_object_set_new(o, "auth", json_boolean(r->auth));
    json_object_set_new(o, "key", r->key ? json_string(r->key) : json_null());
    json_object_set_new(o, "conn", json_integer((json_int_t)r->conn));
    json_object_set_new(o, "prompt_chars",
                        r->prompt_chars >= 0 ? json_integer(r->prompt_chars) : json_null());
    json_object_set_new(o, "messages", r->messages >= 0 ? json_integer(r->messages) : json_null());
    json_object_set_new(o, "max_tokens",
                        r->max_tokens >= 0 ? json_integer(r->max_tokens) : json_null());
    json_object_set_new(o, "fields", str_or_null(r->fields));
    if (r->messages_hash) {
        char h[20];
        snprintf(h, sizeof h, "%016llx", (unsigned long long)r->messages_hash);
        json_object_set_new(o, "messages_hash", json_string(h));
    } else {
        json_object_set_new(o, "messages_hash", json_null());
    }
    if (r->completion_tokens >= 0)
        json_object_set_new(o, "usage",
                            json_pack("{s:I, s:I}", "prompt_tokens", (json_int_t)r->prompt_tokens,
                                      "completion_tokens", (json_int_t)r->completion_tokens));
    else
        json_object_set_new(o, "usage", json_null());
    json_object_set_new(o, "finish_reason", str_or_null(r->finish));
    return o;
}

json_t *mock_journal_json(const struct mock_journal *j, uint64_t since)
{
    return mock_journal_page(j, since, 0, NULL);
}

json_t *mock_journal_page(const struct mock_journal *j, uint64_t since, size_t limit,
                          uint64_t *next)
{
    json_t *a = json_array();
    size_t n = 0;
    if (next)
        *next = j->next_seq;
    /* The ring holds consecutive seqs, the oldest at head: the first record
     * at or after since is found by arithmetic, not by a scan. */
    uint64_t oldest = j->next_seq - j->count;
    uint64_t skip = since > oldest ? since - oldest : 0;
    for (size_t i = skip < j->count ? (size_t)skip : j->count; i < j->count; i++) {
        const struct mock_record *r = &j->ring[(j->head + i) % j->cap];
        if (limit && n == limit) {
            if (next)
                *next = r->seq;
            break;
        }
        json_array_append_new(a, mock_record_json(r));
        n++;
    }
    return a;
}
