/* Small JSON helpers on top of jansson: loading with errors that name
 * file:line:column, OpenAI's error envelope, type names for messages, and the
 * "did you mean" suggestion used by every validator. */
#ifndef CO_JSON_H
#define CO_JSON_H

#include <jansson.h>
#include <stddef.h>

/* Loads a JSON file.  On error returns NULL and writes
 * "PATH:LINE:COL: TEXT" into err. */
json_t *co_json_load_file(const char *path, char *err, size_t errlen);
/* Largest file co_json_load_file reads. */
#define CO_JSON_FILE_MAX ((size_t)64 * 1024 * 1024)
/* The same with a cap of max_bytes; a FIFO, device or directory is refused
 * with "PATH: not a regular file (a FIFO)" instead of blocking on it. */
json_t *co_json_load_file_max(const char *path, size_t max_bytes, char *err, size_t errlen);
/* Same for a buffer; name stands in for the path in the message. */
json_t *co_json_loadb(const char *buf, size_t len, const char *name, char *err, size_t errlen);

/* OpenAI's error envelope {"error":{"message","type","param","code"}} as a
 * newly allocated compact string; param and code may be NULL (JSON null).
 * Never NULL: the strings may hold bytes from a client or an upstream, so
 * what is not valid UTF-8 is replaced (co_utf8_clean), where jansson would
 * refuse the whole object. */
char *co_openai_error(const char *message, const char *type, const char *param, const char *code);

/* Copies the first len bytes of s into out (at most n bytes with the NUL) as
 * valid UTF-8: each byte that does not start a well-formed sequence (RFC
 * 3629: no overlongs, surrogates or code points past U+10FFFF) becomes "?",
 * and a cut never splits a character.  NUL bytes end the copy.  Returns the
 * bytes written (without the NUL). */
size_t co_utf8_clean(const char *s, size_t len, char *out, size_t n);
/* The length of the well-formed UTF-8 sequence at s (1 to 4, within len), or
 * 0 when the bytes there are not one. */
size_t co_utf8_seq(const unsigned char *s, size_t len);
/* A JSON string of s that jansson cannot refuse: s (NULL counts as "")
 * through co_utf8_clean when it is not valid UTF-8.  Never NULL. */
json_t *co_json_str(const char *s);

/* "object", "array", "string", "integer", "real", "true", "false", "null". */
const char *co_json_type_name(const json_t *j);

/* A value as a validator's "found ..." shows it: "string \"abc\"",
 * "integer 5", "real 0.5", "array", or "nothing" for NULL.  Strings are cut at
 * 60 bytes.  Writes at most n bytes into out; returns out. */
char *co_json_describe(const json_t *j, char *out, size_t n);

/* The candidate closest to word by edit distance, or NULL when none is close
 * enough to be a plausible misspelling.  candidates ends with NULL. */
const char *co_nearest(const char *word, const char *const *candidates);

/* Scratch parsing for the hot path: json_loadb into a bump arena, for values
 * that are read and dropped before the next scratch parse (an upstream
 * answer, a client request).  jansson allocates a block per value, key and
 * string; the arena turns those into pointer bumps and co_json_scratch_end
 * into a reset instead of a walk of frees.  Still jansson's parser: only its
 * allocator (json_set_alloc_funcs) changes, and only while json_loadb runs.
 * A document too big for the arena, a nested scratch parse, and sanitizer
 * builds fall back to malloc; co_json_scratch_end then decrefs.  Values must
 * not outlive co_json_scratch_end (no json_incref on them). */
json_t *co_json_scratch_loadb(const char *buf, size_t len, size_t flags, json_error_t *e);
void co_json_scratch_end(json_t *root);

/* Reads a number (integer or real) as double; returns 0 on success. */
int co_json_number(const json_t *j, double *out);

/* The one reader of a run's JSON-lines files (the relay's events.jsonl,
 * the runner's requests.jsonl), for the runner and the HTML report alike:
 * calls fn(obj, ctx) on each line that is a JSON object, in order, skipping
 * lines that are not, and stops after max_lines lines or max_bytes bytes (a
 * runaway file must not eat the caller).  Returns 0, or -1 when path cannot
 * be opened. */
int co_jsonl_each(const char *path, size_t max_lines, size_t max_bytes,
                  void (*fn)(const json_t *obj, void *ctx), void *ctx);

#endif
