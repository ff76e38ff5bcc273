#include "co_json.h"

#include "co_log.h"
#include "co_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *file_kind(mode_t m)
{
    return S_ISDIR(m)    ? "a directory"
           : S_ISFIFO(m) ? "a FIFO"
           : S_ISSOCK(m) ? "a socket"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
                         : "not a regular file";
}

/* Opened without blocking (a FIFO named x.json must not hang us) and
 * checked with fstat on the same descriptor (no race with a rename): only
 * a regular file of at most max_bytes is read. */
json_t *co_json_load_file_max(const char *path, size_t max_bytes, char *err, size_t errlen)
{
    json_t *j = NULL;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file (%s)", path, file_kind(st.st_mode));
        goto out;
    }
    if ((unsigned long long)st.st_size > max_bytes) {
        snprintf(err, errlen, "%s: file is %lld bytes; at most %zu bytes are read", path,
                 (long long)st.st_size, max_bytes);
        goto out;
    }
    size_t cap = (size_t)st.st_size + 1, len = 0;
    buf = co_malloc(cap);
    for (;;) {
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len == cap) {
            /* It grew while we read: the cap still holds. */
            if (len > max_bytes) {
                snprintf(err, errlen, "%s: file is over %zu bytes", path, max_bytes);
                goto out;
            }
            cap *= 2;
            buf = co_realloc(buf, cap);
        }
    }
    j = co_json_loadb(buf, len, path, err, errlen);
out:
    free(buf);
    close(fd);
    return j;
}

json_t *co_json_load_file(const char *path, char *err, size_t errlen)
{
    return co_json_load_file_max(path, CO_JSON_FILE_MAX, err, errlen);
}

json_t *co_json_loadb(const char *buf, size_t len, const char *name, char *err, size_t errlen)
{
    json_error_t je;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        snprintf(err, errlen, "%s:%d:%d: %s", name, je.line, je.column, je.text);
    return j;
}

#if defined(__SANITIZE_ADDRESS__)
#define SCRATCH_CAP 0 /* let ASan see every jansson block */
#else
#define SCRATCH_CAP (64 * 1024)
#endif

static struct {
    _Alignas(16) char mem[SCRATCH_CAP + 16];
    size_t used;
    int open;     /* json_loadb is running: allocations go to the arena */
    int spilled;  /* an allocation did not fit and went to malloc */
    json_t *root; /* the live scratch document, or NULL */
} scratch;

static int in_scratch(const void *p)
{
    return (const char *)p >= scratch.mem && (const char *)p < scratch.mem + SCRATCH_CAP;
}

static void *scratch_malloc(size_t n)
{
    if (scratch.open) {
        size_t at = (scratch.used + 15) & ~(size_t)15;
        if (n <= SCRATCH_CAP && at <= SCRATCH_CAP - n) {
            scratch.used = at + n;
            return scratch.mem + at;
        }
        scratch.spilled = 1;
    }
    return malloc(n);
}

static void scratch_free(void *p)
{
    if (!in_scratch(p))
        free(p);
}

json_t *co_json_scratch_loadb(const char *buf, size_t len, size_t flags, json_error_t *e)
{
    static int installed;
    if (!installed) {
        json_set_alloc_funcs(scratch_malloc, scratch_free);
        installed = 1;
    }
    if (scratch.root)
        return json_loadb(buf, len, flags, e); /* nested: plain blocks */
    scratch.used = 0;
    scratch.spilled = 0;
    scratch.open = 1;
    json_t *j = json_loadb(buf, len, flags, e);
    scratch.open = 0;
    scratch.root = j;
    return j;
}

void co_json_scratch_end(json_t *root)
{
    if (root && root == scratch.root) {
        scratch.root = NULL; /* the arena is reset by the next parse */
        if (scratch.spilled)
            json_decref(root); /* frees the malloc'd part; arena frees are no-ops */
        return;
    }
    json_decref(root);
}

size_t co_utf8_seq(const unsigned char *s, size_t len)
{
    if (len == 0 || s[0] == 0)
        return 0;
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* past U+10FFFF */
    } else {
        return 0;
    }
    if (len < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

size_t co_utf8_clean(const char *s, size_t len, char *out, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0, i = 0;
    if (n == 0)
        return 0;
    while (i < len && p[i]) {
        size_t k = co_utf8_seq(p + i, len - i);
        size_t w = k ? k : 1;
        if (o + w >= n)
            break;
        if (k)
            memcpy(out + o, p + i, k);
        else
            out[o] = '?';
        o += w;
        i += w;
    }
    out[o] = '\0';
    return o;
}

json_t *co_json_str(const char *s)
{
    if (!s)
        s = "";
    json_t *j = json_string(s);
    if (j)
        return j;
    size_t len = strlen(s);
    char *clean = co_malloc(len + 1);
    co_utf8_clean(s, len, clean, len + 1);
    j = json_string(clean);
    free(clean);
    return j ? j : json_string("");
}

char *co_openai_error(const char *message, const char *type, const char *param, const char *code)
{
    json_t *e =
        json_pack("{s:{s:o, s:o, s:o, s:o}}", "error", "message", co_json_str(message), "type",
                  co_json_str(type), "param", param ? co_json_str(param) : json_null(), "code",
                  code ? co_json_str(code) : json_null());
    char *s = json_dumps(e, JSON_COMPACT);
    json_decref(e);
    return s;
}

const char *co_json_type_name(const json_t *j)
{
    if (!j)
        return "nothing";
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "real";
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

char *co_json_describe(const json_t *j, char *out, size_t n)
{
    if (!j)
        snprintf(out, n, "nothing");
    else if (json_is_string(j)) {
        /* The found value goes to a terminal: no raw escape sequence. */
        char safe[80];
        co_escape_ctl(json_string_value(j), safe, 61);
        snprintf(out, n, "string \"%s\"", safe);
    } else if (json_is_integer(j))
        snprintf(out, n, "integer %lld", (long long)json_integer_value(j));
    else if (json_is_real(j))
        snprintf(out, n, "real %g", json_real_value(j));
    else
        snprintf(out, n, "%s", co_json_type_name(j));
    return out;
}

/* Optimal string alignment distance: Levenshtein plus a swap of two
 * neighbours as one edit, the commonest typo ("--jbos" is one edit from
 * "--jobs", two from "--json"). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return (size_t)-1;
    size_t d[65][65];
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        d[i][0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            size_t m = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < m)
                m = d[i - 2][j - 2] + 1;
            d[i][j] = m;
        }
    }
    return d[la][lb];
}

const char *co_nearest(const char *word, const char *const *candidates)
{
    const char *best = NULL, *prefixed = NULL;
    size_t best_d = (size_t)-1, wl = strlen(word);
    for (; *candidates; candidates++) {
        size_t d = edit_distance(word, *candidates);
        if (d < best_d) {
            best_d = d;
            best = *candidates;
        }
        /* "rate" for "rate_rps": the word is the start of one name. */
        if (!prefixed && wl >= 3 && strncmp(*candidates, word, wl) == 0)
            prefixed = *candidates;
    }
    if (prefixed && best_d > 1)
        return prefixed;
    size_t limit = wl / 3;
    if (limit < 2)
        limit = 2;
    return best_d <= limit ? best : NULL;
}

int co_json_number(const json_t *j, double *out)
{
    if (json_is_integer(j)) {
        *out = (double)json_integer_value(j);
        return 0;
    }
    if (json_is_real(j)) {
        *out = json_real_value(j);
        return 0;
    }
    return -1;
}

int co_jsonl_each(const char *path, size_t max_lines, size_t max_bytes,
                  void (*fn)(const json_t *obj, void *ctx), void *ctx)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0, bytes = 0;
    ssize_t len;
    for (size_t n = 0; n < max_lines && (len = getline(&line, &cap, f)) > 0; n++) {
        bytes += (size_t)len;
        if (bytes > max_bytes)
            break;
        json_t *o = json_loads(line, 0, NULL);
        if (json_is_object(o))
            fn(o, ctx);
        json_decref(o);
    }
    free(line);
    fclose(f);
    return 0;
}
