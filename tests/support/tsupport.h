/* Helpers shared by the integration tests: spawn a program under test in its
 * own process group (stdout and stderr to files, so a chatty child never
 * blocks on a full pipe), wait for a line it prints, stop it by PID; and make
 * one HTTP request with libcurl's easy interface. */
#ifndef TSUPPORT_H
#define TSUPPORT_H

#include <curl/curl.h>
#include <stddef.h>
#include <sys/types.h>

struct tproc {
    pid_t pid;
    char out_path[256]; /* the child's stdout */
    char err_path[256]; /* the child's stderr */
    char url[256];      /* set by tproc_wait_url */
    int reaped;         /* the child was waited for; status holds its wait status */
    int status;
};

/* Checks body is OpenAI's error envelope {"error":{"message","type","param",
 * "code"}}: message and type strings, param and code present (null allowed),
 * and, when code is not NULL, that code.  Returns 0, or -1 with the reason
 * in why. */
int tsup_openai_error(const char *body, const char *code, char *why, size_t n);

/* Path of a program under test: $CUTOVER_BIN/name (default bin/name).
 * Returns a static buffer. */
const char *tsup_bin(const char *name);

/* Runs bin/cutover with args (NULL-terminated, without the program name)
 * for at most timeout_ms, its stderr copied to ours; returns its exit code
 * (-1 when it had to be killed). */
int tsup_cutover(int timeout_ms, char **args);

/* Writes a scenario's JSON text to dir/NAME.json and runs it as tsup_cutover
 * does, with --out dir/NAME (copied into out) and --no-color.  Returns the
 * exit code, or -1 when the file could not be written or cutover had to be
 * killed.  The scenario's own folder under out is named after dir's last
 * part (the folder the file is in): out/<basename of dir>/NAME_json. */
int tsup_run_text(const char *dir, const char *name, const char *text, int timeout_ms, char *out,
                  size_t outlen);

/* Is prog installed (an executable in the usual bin and sbin folders)? */
int tsup_installed(const char *prog);

/* Starts argv[0] with argv; returns 0 or -1. */
int tproc_spawn(struct tproc *p, char *const argv[]);
/* The same in folder cwd (NULL: ours) with one variable set (NULL: none). */
int tproc_spawn_in(struct tproc *p, char *const argv[], const char *cwd, const char *env_name,
                   const char *env_value);
/* Waits up to timeout_ms for the child's stdout to contain a URL
 * "http://127.0.0.1:PORT" and copies it into p->url; returns 0 or -1. */
int tproc_wait_url(struct tproc *p, int timeout_ms);
/* Waits until the child's stdout or stderr (which: 1 or 2) contains needle. */
int tproc_wait_output(struct tproc *p, int which, const char *needle, int timeout_ms);
/* Reads the whole of the child's stdout (1) or stderr (2); caller frees. */
char *tproc_read(struct tproc *p, int which);
/* The whole of a file, NUL-terminated, its length in *len (may be NULL);
 * NULL when it cannot be opened.  Caller frees. */
char *tsup_read_file(const char *path, size_t *len);

/* A run's results.json under out (a new reference: json_decref it), or NULL
 * with the reason in err. */
struct json_t;
struct json_t *tsup_results(const char *out, char *err, size_t errlen);
/* The same, failing the running cmocka test (with the reason) when there
 * are none. */
struct json_t *tsup_results_or_fail(const char *out);
/* The scenario named name in results, run against relay (its "relay" field;
 * NULL: any), or NULL. */
const struct json_t *tsup_scenario(const struct json_t *results, const char *relay,
                                   const char *name);
/* Sends sig to the child's process group, waits up to timeout_ms, then
 * SIGKILLs.  Returns the wait status, or -1.  Removes the output files. */
int tproc_stop(struct tproc *p, int sig, int timeout_ms);
/* Non-zero while the child runs.  When it has exited, it is reaped and its
 * wait status kept in p->status (so a later tproc_wait_exit still sees it). */
int tproc_alive(struct tproc *p);
/* Waits up to timeout_ms for the child to exit by itself; returns its wait
 * status, or -1 if it is still running.  Its output stays readable: call
 * tproc_stop afterwards in any case (it kills a child still running, and
 * removes the output files). */
int tproc_wait_exit(struct tproc *p, int timeout_ms);

/* Starts `cutover mock --name NAME --port 0` and then the extra arguments
 * (NULL-terminated; extra may be NULL), and waits for its URL (p->url).
 * Returns 0 or -1. */
int tmock_start(struct tproc *p, const char *name, const char *const *extra);
/* Replaces the behaviour of the mock at mock_url (JSON text).  Returns 0, or
 * -1 with the answer on stderr. */
int tmock_put_behavior(const char *mock_url, const char *json);
/* Starts cutover-relay on an ephemeral port with the upstream URLs blue and
 * green (as the relay takes them, with /v1) and then the extra arguments
 * (NULL-terminated; may be NULL), and waits for its URL.  Returns 0 or -1. */
int trelay_start(struct tproc *p, const char *blue, const char *green, const char *const *extra);

struct thttp_resp {
    long status;
    CURLcode rc;
    char *body;
    size_t body_len;
    char *headers; /* raw header block(s) */
    double total_s;
    char errbuf[CURL_ERROR_SIZE];
};

/* One request.  headers ends with NULL (may be NULL).  body may be NULL;
 * with a body and no Content-Type header, application/json is sent.
 * Returns the CURLcode (0 on transfer success, whatever the status). */
CURLcode thttp_request(const char *method, const char *url, const char *body,
                       const char *const *headers, long timeout_ms, struct thttp_resp *r);
void thttp_resp_free(struct thttp_resp *r);
/* Value of the last header called name (case-insensitive) into out; returns
 * out or NULL when absent. */
char *thttp_header(const struct thttp_resp *r, const char *name, char *out, size_t n);

#endif
