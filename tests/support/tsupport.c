#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tsupport.h"

#include "co_clock.h"
#include "co_mem.h"

#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

const char *tsup_bin(const char *name)
{
    static char path[512];
    const char *dir = getenv("CUTOVER_BIN");
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "bin", name);
    return path;
}

int tproc_spawn(struct tproc *p, char *const argv[])
{
    return tproc_spawn_in(p, argv, NULL, NULL, NULL);
}

int tproc_spawn_in(struct tproc *p, char *const argv[], const char *cwd, const char *env_name,
                   const char *env_value)
{
    static unsigned seq;
    memset(p, 0, sizeof *p);
    snprintf(p->out_path, sizeof p->out_path, "/tmp/cutover-test-%d-%u.out", (int)getpid(), seq);
    snprintf(p->err_path, sizeof p->err_path, "/tmp/cutover-test-%d-%u.err", (int)getpid(), seq);
    seq++;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setpgid(0, 0);
        int out = open(p->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open(p->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (out < 0 || err < 0 || (cwd && chdir(cwd) != 0))
            _exit(127);
        dup2(out, 1);
        dup2(err, 2);
        close(out);
        close(err);
        if (env_name)
            setenv(env_name, env_value, 1);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    p->pid = pid;
    return 0;
}

char *tsup_read_file(const char *path, size_t *lenp)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = co_malloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0)
            buf = co_realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    fclose(f);
    if (lenp)
        *lenp = len;
    return buf;
}

char *tproc_read(struct tproc *p, int which)
{
    char *s = tsup_read_file(which == 2 ? p->err_path : p->out_path, NULL);
    return s ? s : co_strdup("");
}

int tproc_wait_output(struct tproc *p, int which, const char *needle, int timeout_ms)
{
    uint64_t end = co_clock_monotonic_us() + (uint64_t)timeout_ms * 1000u;
    do {
        int alive = tproc_alive(p); /* before reading: a dying child's last words count */
        char *s = tproc_read(p, which);
        int found = strstr(s, needle) != NULL;
        free(s);
        if (found)
            return 0;
        if (!alive)
            return -1;
        co_sleep_us(5000);
    } while (co_clock_monotonic_us() < end);
    return -1;
}

int tproc_wait_url(struct tproc *p, int timeout_ms)
{
    if (tproc_wait_output(p, 1, "http://127.0.0.1:", timeout_ms) != 0)
        return -1;
    char *s = tproc_read(p, 1);
    char *u = strstr(s, "http://127.0.0.1:");
    size_t n = strcspn(u, " \t\r\n\"'");
    if (n >= sizeof p->url)
        n = sizeof p->url - 1;
    memcpy(p->url, u, n);
    p->url[n] = '\0';
    free(s);
    return 0;
}

int tproc_alive(struct tproc *p)
{
    int st;
    if (p->pid <= 0 || p->reaped)
        return 0;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == p->pid) {
        p->reaped = 1;
        p->status = st;
        return 0;
    }
    return r == 0;
}

int tproc_wait_exit(struct tproc *p, int timeout_ms)
{
    uint64_t end = co_clock_monotonic_us() + (uint64_t)timeout_ms * 1000u;
    if (p->pid <= 0)
        return p->reaped ? p->status : -1;
    while (tproc_alive(p)) {
        if (co_clock_monotonic_us() >= end)
            return -1;
        co_sleep_us(5000);
    }
    return p->reaped ? p->status : -1;
}

int tproc_stop(struct tproc *p, int sig, int timeout_ms)
{
    int st = -1;
    if (p->pid <= 0)
        return p->reaped ? p->status : -1;
    if (p->reaped) { /* exited by itself already; its group may linger */
        kill(-p->pid, SIGKILL);
        st = p->status;
        p->pid = 0;
        unlink(p->out_path);
        unlink(p->err_path);
        return st;
    }
    kill(-p->pid, sig);
    uint64_t end = co_clock_monotonic_us() + (uint64_t)timeout_ms * 1000u;
    for (;;) {
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid || (r < 0 && errno == ECHILD))
            break;
        if (co_clock_monotonic_us() >= end) {
            kill(-p->pid, SIGKILL);
            waitpid(p->pid, &st, 0);
            break;
        }
        co_sleep_us(2000);
    }
    p->pid = 0;
    unlink(p->out_path);
    unlink(p->err_path);
    return st;
}

/* Starts bin with the fixed then the extra arguments, and waits for its URL. */
static int start_with(struct tproc *p, const char *const *fixed, const char *const *extra)
{
    char *argv[64];
    size_t n = 0;
    for (; *fixed && n < 63; fixed++)
        argv[n++] = (char *)*fixed;
    for (; extra && *extra && n < 63; extra++)
        argv[n++] = (char *)*extra;
    argv[n] = NULL;
    return tproc_spawn(p, argv) == 0 && tproc_wait_url(p, 10000) == 0 ? 0 : -1;
}

int tmock_start(struct tproc *p, const char *name, const char *const *extra)
{
    char bin[512];
    snprintf(bin, sizeof bin, "%s", tsup_bin("cutover"));
    const char *fixed[] = {bin, "mock", "--name", name, "--port", "0", NULL};
    return start_with(p, fixed, extra);
}

int tmock_put_behavior(const char *mock_url, const char *json)
{
    char u[300];
    struct thttp_resp r;
    snprintf(u, sizeof u, "%s/_mock/behavior", mock_url);
    const char *h[] = {"Content-Type: application/json", NULL};
    thttp_request("PUT", u, json, h, 5000, &r);
    long st = r.status;
    if (st != 200)
        fprintf(stderr, "PUT behavior %s: %ld %s\n", json, st, r.body ? r.body : "");
    thttp_resp_free(&r);
    return st == 200 ? 0 : -1;
}

int trelay_start(struct tproc *p, const char *blue, const char *green, const char *const *extra)
{
    char bin[512];
    snprintf(bin, sizeof bin, "%s", tsup_bin("cutover-relay"));
    const char *fixed[] = {bin, "--port", "0", "--blue-url", blue, "--green-url", green, NULL};
    return start_with(p, fixed, extra);
}

struct sink {
    char *data;
    size_t len;
};

static size_t sink_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct sink *s = userdata;
    size_t n = size * nmemb;
    s->data = co_realloc(s->data, s->len + n + 1);
    memcpy(s->data + s->len, ptr, n);
    s->len += n;
    s->data[s->len] = '\0';
    return n;
}

CURLcode thttp_request(const char *method, const char *url, const char *body,
                       const char *const *headers, long timeout_ms, struct thttp_resp *r)
{
    memset(r, 0, sizeof *r);
    struct sink b = {NULL, 0}, h = {NULL, 0};
    CURL *e = curl_easy_init();
    struct curl_slist *hl = NULL;
    int has_ctype = 0;
    for (const char *const *hp = headers; hp && *hp; hp++) {
        hl = curl_slist_append(hl, *hp);
        has_ctype |= strncasecmp(*hp, "Content-Type:", 13) == 0;
    }
    /* A body is JSON unless the test says otherwise (libcurl would send
     * application/x-www-form-urlencoded, which the relay refuses with 415). */
    if (body && !has_ctype)
        hl = curl_slist_append(hl, "Content-Type: application/json");
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, sink_write);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    r->rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(e, CURLINFO_TOTAL_TIME, &r->total_s);
    r->body = b.data ? b.data : co_strdup("");
    r->body_len = b.len;
    r->headers = h.data ? h.data : co_strdup("");
    curl_slist_free_all(hl);
    curl_easy_cleanup(e);
    return r->rc;
}

void thttp_resp_free(struct thttp_resp *r)
{
    free(r->body);
    free(r->headers);
    r->body = r->headers = NULL;
}

char *thttp_header(const struct thttp_resp *r, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    char *found = NULL;
    for (const char *line = r->headers; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = len - (size_t)(v - line);
            while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
                vl--;
            if (vl >= n)
                vl = n - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            found = out;
        }
        line = eol ? eol + 1 : NULL;
    }
    return found;
}

int tsup_openai_error(const char *body, const char *code, char *why, size_t n)
{
    int rc = -1;
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    json_t *e = json_object_get(j, "error");
    const char *c = json_string_value(json_object_get(e, "code"));
    if (!j)
        snprintf(why, n, "not JSON: %s", body ? body : "(null)");
    else if (!json_is_object(e) || !json_is_string(json_object_get(e, "message")) ||
             !json_is_string(json_object_get(e, "type")) || !json_object_get(e, "param") ||
             !json_object_get(e, "code"))
        snprintf(why, n, "not an OpenAI error envelope: %s", body);
    else if (code && (!c || strcmp(c, code) != 0))
        snprintf(why, n, "code %s, expected %s in %s", c ? c : "null", code, body);
    else
        rc = 0;
    json_decref(j);
    return rc;
}

/* Runs bin/cutover (tsupport.h). */
int tsup_cutover(int timeout_ms, char **args)
{
    char *argv[40];
    int n = 0;
    argv[n++] = (char *)tsup_bin("cutover");
    for (int i = 0; args[i] && n < 39; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    struct tproc p;
    if (tproc_spawn(&p, argv) != 0)
        return -1;
    int st = tproc_wait_exit(&p, timeout_ms);
    if (st == -1) {
        char *out = tproc_read(&p, 1);
        fprintf(stderr, "cutover did not finish in %d ms; output:\n%s\n", timeout_ms,
                out ? out : "");
        free(out);
        tproc_stop(&p, SIGKILL, 1000);
        return -1;
    }
    char *err = tproc_read(&p, 2);
    if (err && *err)
        fprintf(stderr, "%s", err);
    free(err);
    tproc_stop(&p, SIGKILL, 1000); /* exited: removes the output files */
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int tsup_run_text(const char *dir, const char *name, const char *text, int timeout_ms, char *out,
                  size_t outlen)
{
    char file[512];
    snprintf(file, sizeof file, "%s/%s.json", dir, name);
    snprintf(out, outlen, "%s/%s", dir, name);
    FILE *f = fopen(file, "w");
    if (!f)
        return -1;
    int bad = fputs(text, f) < 0;
    bad |= fclose(f) != 0;
    if (bad)
        return -1;
    char *args[] = {"run", file, "--out", out, "--no-color", NULL};
    return tsup_cutover(timeout_ms, args);
}

int tsup_installed(const char *prog)
{
    char path[256];
    static const char *const dirs[] = {"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin",
                                       "/sbin"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dirs[i], prog);
        if (access(path, X_OK) == 0)
            return 1;
    }
    return 0;
}

json_t *tsup_results(const char *out, char *err, size_t errlen)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/results.json", out);
    json_error_t je;
    json_t *r = json_load_file(path, 0, &je);
    if (!r)
        snprintf(err, errlen, "%s: %s", path, je.text);
    return r;
}

json_t *tsup_results_or_fail(const char *out)
{
    char err[1200];
    json_t *r = tsup_results(out, err, sizeof err);
    if (!r)
        fail_msg("%s", err);
    return r;
}

const json_t *tsup_scenario(const json_t *results, const char *relay, const char *name)
{
    size_t i;
    json_t *sc;
    json_array_foreach(json_object_get(results, "scenarios"), i, sc)
    {
        const char *r = json_string_value(json_object_get(sc, "relay"));
        const char *n = json_string_value(json_object_get(sc, "name"));
        if ((!relay || (r && strcmp(r, relay) == 0)) && n && strcmp(n, name) == 0)
            return sc;
    }
    return NULL;
}
