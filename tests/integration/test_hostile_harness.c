/* Hostile input against the runner, the reports and the file handling
 * (issue 20, and issue 11 items 5 and 6), through the real binaries.  Each
 * row of the table is one attempt an attacker or a careless user makes, with
 * the outcome a careful operator expects; docs/hardening.md ("Runner,
 * reports and files") lists the same rows.  Every row failed before its fix.
 *
 * Rows that need more than "run cutover with these arguments" (a FIFO, a
 * symlink loop, a SIGKILL in the middle of a run) have a setup and a check
 * function; the rest are data.  Placeholders in arguments: @D the test's
 * temporary folder, @S a short passing scenario in it, @B the folder of the
 * binaries under test (absolute), @R the repository root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "co_clock.h"
#include "tests/support/tsupport.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];
static char bindir[PATH_MAX];
static char root[PATH_MAX];
static int mult = 2; /* upper bounds of waits, scaled (SAN builds are slower) */

static const char short_scenario[] =
    "{\"name\": \"hostile-base\", \"description\": \"a healthy path\",\n"
    " \"traffic\": {\"rate_rps\": 30, \"duration_ms\": 300},\n"
    " \"expect\": [{\"check\": \"client_success_ratio\", \"min\": 1.0}]}\n";

/* A long scenario, for killing the runner in the middle of it. */
static const char long_scenario[] =
    "{\"name\": \"hostile-long\", \"traffic\": {\"rate_rps\": 5, \"duration_ms\": 30000},\n"
    " \"expect\": [{\"check\": \"client_success_ratio\", \"min\": 1.0}]}\n";

static void write_file(const char *name, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void scenario_with(const char *name, const char *relay_or_upstreams)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"name\": \"hostile-x\", %s,\n"
             " \"traffic\": {\"rate_rps\": 10, \"duration_ms\": 100},\n"
             " \"expect\": [{\"check\": \"client_success_ratio\", \"min\": 1.0}]}\n",
             relay_or_upstreams);
    write_file(name, text);
}

static int setup(void **state)
{
    const char *m = getenv("TEST_TIMEOUT_MULTIPLIER");
    if (m && atoi(m) > 0)
        mult = atoi(m);
    snprintf(dir, sizeof dir, "/tmp/cutover-hostile-XXXXXX");
    if (!mkdtemp(dir) || !getcwd(root, sizeof root))
        return -1;
    char b[PATH_MAX];
    snprintf(b, sizeof b, "%s", tsup_bin("cutover"));
    *strrchr(b, '/') = '\0';
    if (!realpath(b, bindir))
        return -1;
    write_file("base.json", short_scenario);
    write_file("long.json", long_scenario);
    return 0;
}

static int teardown(void **state)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* @D, @S and @B expanded in a copy of arg (static ring of buffers). */
static char *expand(const char *arg)
{
    static char bufs[24][PATH_MAX];
    static unsigned next;
    char *out = bufs[next++ % 24];
    size_t w = 0;
    for (const char *p = arg; *p && w + 1 < PATH_MAX; p++) {
        const char *rep = NULL;
        char tmp[PATH_MAX];
        if (p[0] == '@' && p[1] == 'D')
            rep = dir;
        else if (p[0] == '@' && p[1] == 'B')
            rep = bindir;
        else if (p[0] == '@' && p[1] == 'R')
            rep = root;
        else if (p[0] == '@' && p[1] == 'S')
            rep = (snprintf(tmp, sizeof tmp, "%s/base.json", dir), tmp);
        if (rep) {
            w += (size_t)snprintf(out + w, PATH_MAX - w, "%s", rep);
            p++;
        } else {
            out[w++] = *p;
        }
    }
    out[w < PATH_MAX ? w : PATH_MAX - 1] = '\0';
    return out;
}

struct row;
typedef int (*row_fn)(const struct row *row);

struct row {
    const char *name;        /* the attempt, as docs/hardening.md names it */
    const char *args[20];    /* cutover's arguments (NULL-terminated), or NULL: fn does it all */
    const char *program;     /* "gate": ci/gate.sh instead of bin/cutover */
    const char *cwd;         /* working folder (expanded), NULL: the repository root */
    const char *env[2];      /* one variable to set: name, value (expanded) */
    int exit_code;           /* expected */
    int timeout_ms;          /* before the scaled multiplier */
    const char *out_has[3];  /* needles in stdout+stderr */
    const char *out_lacks;   /* a needle that must not appear (raw ESC, "<img") */
    const char *no_file;     /* a path (expanded) that must not exist afterwards */
    const char *file_has[2]; /* a path (expanded) and a needle it must contain */
    row_fn setup, check;
};

/* A row that does not hold is reported and the table goes on: every
 * attempt is tried, and the test fails at the end with the count. */
#define ROW_FAIL(...)                                                                              \
    do {                                                                                           \
        print_error(__VA_ARGS__);                                                                  \
        print_error("\n");                                                                         \
        rc = -1;                                                                                   \
        goto out;                                                                                  \
    } while (0)

/* ---- setups and checks of the rows that need them ---------------------------- */

static int setup_scenario_files(const struct row *row)
{
    scenario_with("admin-token.json", "\"relay\": {\"admin_token\": \"$(touch${IFS}pwned)\"}");
    scenario_with("direct-url.json",
                  "\"relay\": {\"direct_url\": \"http://127.0.0.1:1/v1;$(id)\"}");
    scenario_with("client-keys.json", "\"relay\": {\"client_keys\": [\"k1\", \"k2;rm -rf x\"]}");
    scenario_with(
        "tokens.json",
        "\"upstreams\": {\"blue\": {\"reply\": {\"tokens\": 4, \"tokens_per_s\": 1e-300}}}");
    /* Names with an escape sequence; a description with one. */
    write_file("esc-name.json",
               "{\"name\": \"red\\u001b[31mname\", \"traffic\": {\"rate_rps\": 1, \"count\": 1},\n"
               " \"expect\": [{\"check\": \"relay_alive\"}]}\n");
    mkdir(expand("@D/desc"), 0755);
    write_file(
        "desc/esc-desc.json",
        "{\"name\": \"esc-desc\", \"description\": \"clear\\u001b[2J\\u001b]0;owned\\u0007\","
        " \"traffic\": {\"rate_rps\": 1, \"count\": 1},\n"
        " \"expect\": [{\"check\": \"relay_alive\"}]}\n");
    return 0;
}

static int setup_fifo(const struct row *row)
{
    unlink(expand("@D/fifo/x.json"));
    mkdir(expand("@D/fifo"), 0755);
    assert_int_equal(mkfifo(expand("@D/fifo/x.json"), 0644), 0);
    return 0;
}

static int setup_loop(const struct row *row)
{
    mkdir(expand("@D/loop"), 0755);
    mkdir(expand("@D/loop/a"), 0755);
    write_file("loop/a/one.json", short_scenario);
    symlink("..", expand("@D/loop/a/up"));
    symlink(".", expand("@D/loop/a/self"));
    return 0;
}

static int check_loop(const struct row *row)
{
    return 0; /* run_row counts the listings */
}

static int setup_results(const struct row *row)
{
    /* A results file as a run writes it, then tampered with. */
    const char *doc =
        "{\"version\": \"cutover 0.1.0\", \"seed\": 1, \"scenarios\": [{\"name\": \"x\", "
        "\"status\": \"<script>alert(1)</script>\", \"checks\": []}]}";
    write_file("tampered-status.json", doc);
    write_file("markup.json",
               "{\"scenarios\": [{\"name\": \"<img src=x onerror=alert(1)>\", \"status\": "
               "\"fail\", \"description\": \"a|b`c`\\n<b>\", \"checks\": [{\"check\": "
               "\"<svg onload=alert(1)>\", \"status\": \"fail\", \"label\": \"</td><script>\","
               " \"measured\": \"\\u001b]8;;http://x\\u0007link\"}]}]}");
    write_file("wrong-type.json", "{\"scenarios\": [{\"name\": \"x\", \"status\": \"pass\", "
                                  "\"checks\": [{\"check\": \"c\", \"status\": \"pass\", "
                                  "\"margin\": \"big\"}]}]}");
    return 0;
}

static int check_no_markup(const struct row *row)
{
    static const char *const files[] = {"@D/markup.html", "@D/markup.md"};
    int rc = 0;
    char *text = NULL;
    for (size_t i = 0; i < 2; i++) {
        free(text);
        text = tsup_read_file(expand(files[i]), NULL);
        if (!text)
            ROW_FAIL("%s: %s was not written", row->name, files[i]);
        if (strstr(text, "<img") || strstr(text, "<svg onload") || strstr(text, "<script>") ||
            strstr(text, "</td><script") || strchr(text, '\x1b'))
            ROW_FAIL("%s: %s carries the tampered markup unescaped", row->name, files[i]);
    }
out:
    free(text);
    return rc;
}

/* SIGKILL (or SIGHUP) to `cutover run` in the middle of a scenario: the
 * relay it started must be gone within a bound, never left under PID 1. */
static pid_t relay_pid_of(const char *events, int timeout_ms)
{
    uint64_t until = co_clock_monotonic_us() + (uint64_t)timeout_ms * 1000;
    while (co_clock_monotonic_us() < until) {
        char *text = tsup_read_file(events, NULL);
        const char *p = text ? strstr(text, "\"pid\":") : NULL;
        pid_t pid = p ? (pid_t)atoi(p + 6) : 0;
        free(text);
        if (pid > 0)
            return pid;
        usleep(20000);
    }
    return 0;
}

static int process_gone(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    return rp && (rp[2] == 'Z' || rp[2] == 'X'); /* a zombie waits for init only */
}

static int orphan_case(const struct row *row, int sig, const char *out_dir, const char *relay_arg)
{
    char out[PATH_MAX];
    snprintf(out, sizeof out, "%s", expand(out_dir));
    char *argv[] = {
        (char *)tsup_bin("cutover"), "run", expand("@D/long.json"), "--out", out, "--relay",
        expand(relay_arg),           NULL};
    struct tproc p;
    int rc = 0;
    pid_t relay = 0;
    assert_int_equal(tproc_spawn_in(&p, argv, NULL, NULL, NULL), 0);
    char events[PATH_MAX + 64];
    /* The artefacts of a scenario: OUT/<its folder's name>/<its file's name>
     * (made safe: long.json is long_json). */
    snprintf(events, sizeof events, "%s/%s/long_json/events.jsonl", out, strrchr(dir, '/') + 1);
    relay = relay_pid_of(events, 10000 * mult);
    if (relay <= 0 || process_gone(relay))
        ROW_FAIL("%s: no running relay (pid in %s)", row->name, events);
    kill(p.pid, sig); /* the runner alone, not its group */
    uint64_t t0 = co_clock_monotonic_us();
    int gone = 0;
    while (!gone && co_clock_monotonic_us() - t0 < (uint64_t)(4000 * mult) * 1000) {
        gone = process_gone(relay);
        if (!gone)
            usleep(10000);
    }
    double ms = (double)(co_clock_monotonic_us() - t0) / 1000;
    if (!gone)
        ROW_FAIL("%s: the relay (pid %d) still runs %.0f ms after the runner got signal %d",
                 row->name, (int)relay, ms, sig);
    print_message("%s: relay gone %.0f ms after the runner was signalled\n", row->name, ms);
out:
    tproc_stop(&p, SIGKILL, 1000);
    if (relay > 0 && !process_gone(relay))
        kill(relay, SIGKILL); /* the test leaves nothing behind, even when the row fails */
    return rc;
}

static int check_orphan_kill(const struct row *row)
{
    return orphan_case(row, SIGKILL, "@D/orphan-kill", "cutover-relay");
}

/* A command run by a shell: its supervisor stops the group. */
static int check_orphan_shell(const struct row *row)
{
    return orphan_case(row, SIGKILL, "@D/orphan-shell",
                       "true; @B/cutover-relay --port {port} --blue-url {blue_url} --green-url "
                       "{green_url} --events {events}");
}

static int check_orphan_hup(const struct row *row)
{
    return orphan_case(row, SIGHUP, "@D/orphan-hup", "cutover-relay");
}

/* ---- the table ------------------------------------------------------------- */

#define RAW_RELAY                                                                                  \
    "@B/cutover-relay --port {port} --blue-url {blue_url} --green-url {green_url} --events "       \
    "{events}"

static const struct row rows[] = {
    /* 1. No shell between inputs and processes. */
    {.name = "--out with $(...) and --relay cutover-relay runs no command",
     .args = {"run", "@S", "--out", "o_$(touch${IFS}pwned)", "--relay", "cutover-relay"},
     .cwd = "@D",
     .exit_code = 0,
     .timeout_ms = 20000,
     .no_file = "@D/pwned"},
    {.name = "--out with a space runs",
     .args = {"run", "@S", "--out", "@D/with space", "--relay", "cutover-relay"},
     .exit_code = 0,
     .timeout_ms = 20000,
     .file_has = {"@D/with space/results.json", "\"pass\""}},
    {.name = "relay.admin_token with $(...) is invalid",
     .args = {"validate", "@D/admin-token.json"},
     .setup = setup_scenario_files,
     .exit_code = 2,
     .timeout_ms = 5000,
     .out_has = {"admin-token.json: $.relay.admin_token: expected a token"}},
    {.name = "relay.direct_url with ; and $(...) is invalid",
     .args = {"validate", "@D/direct-url.json"},
     .exit_code = 2,
     .timeout_ms = 5000,
     .out_has = {"$.relay.direct_url: expected an http(s) URL"}},
    {.name = "relay.client_keys item with shell syntax is invalid",
     .args = {"validate", "@D/client-keys.json"},
     .exit_code = 2,
     .timeout_ms = 5000,
     .out_has = {"$.relay.client_keys[1]: expected a token"}},
    /* 2. A raw command is a first-class relay. */
    {.name = "raw --relay command: the relay gets SIGTERM, clean_shutdown passes",
     .args = {"run", "@R/scenarios/process/sigterm-drains.json", "--out", "@D/raw", "--relay",
              RAW_RELAY},
     .exit_code = 0,
     .timeout_ms = 30000,
     .file_has = {"@D/raw/results.json", "\"clean_shutdown\""}},
    /* 3. Nothing run is never a pass. */
    {.name = "--relay ngnix is an unknown profile with did-you-mean",
     .args = {"run", "@S", "--out", "@D/typo", "--relay", "ngnix"},
     .exit_code = 2,
     .timeout_ms = 5000,
     .out_has = {"unknown profile 'ngnix', did you mean nginx?"}},
    {.name = "--relay nginx with nginx absent from PATH is a harness error",
     .args = {"run", "@S", "--out", "@D/nonginx", "--relay", "nginx"},
     .env = {"PATH", "/usr/bin:/bin"},
     .exit_code = 3,
     .timeout_ms = 10000,
     .out_has = {"not run: nginx is not on PATH", "relay nginx not run"},
     .file_has = {"@D/nonginx/junit.xml", "<error type=\"error\" message=\"not run: nginx"}},
    {.name = "raw --relay command whose program is missing is a harness error",
     .args = {"run", "@S", "--out", "@D/nobin", "--relay", "/nonexistent/relay --port {port}"},
     .exit_code = 3,
     .timeout_ms = 10000,
     .out_has = {"/nonexistent/relay is not installed"}},
    {.name = "ci/gate.sh with CUTOVER_RELAY=nginx and no nginx on PATH is red",
     .program = "gate",
     .args = {"@S"},
     .env = {"PATH", "/usr/bin:/bin"},
     .exit_code = 3,
     .timeout_ms = 20000,
     .out_has = {"gate: HARNESS ERROR"}},
    /* 4. Orphan-proof child. */
    {.name = "SIGKILL to cutover run leaves no relay", .check = check_orphan_kill},
    {.name = "SIGHUP to cutover run leaves no relay", .check = check_orphan_hup},
    {.name = "SIGKILL to cutover run leaves no relay started by a shell command",
     .check = check_orphan_shell},
    /* 5. Reports and the terminal. */
    {.name = "report of a results.json with a tampered status is invalid",
     .args = {"report", "@D/tampered-status.json", "--html", "@D/tampered.html"},
     .setup = setup_results,
     .exit_code = 2,
     .timeout_ms = 5000,
     .out_has = {"tampered-status.json: $.scenarios[0].status: expected one of pass"},
     .no_file = "@D/tampered.html"},
    {.name = "report of a results.json with a wrong type names the path",
     .args = {"report", "@D/wrong-type.json", "--html", "@D/wrong.html"},
     .exit_code = 2,
     .timeout_ms = 5000,
     .out_has = {"$.scenarios[0].checks[0].margin: expected a finite number"}},
    {.name = "markup and escape sequences in names and labels are escaped in HTML and Markdown",
     .args = {"report", "@D/markup.json", "--html", "@D/markup.html", "--md", "@D/markup.md"},
     .exit_code = 0,
     .timeout_ms = 5000,
     .check = check_no_markup},
    {.name = "an escape sequence in a scenario name is invalid, and not echoed raw",
     .args = {"validate", "@D/esc-name.json"},
     .exit_code = 2,
     .timeout_ms = 5000,
     .out_has = {"$.name: expected a name of", "red\\x1b[31mname"},
     .out_lacks = "\x1b"},
    {.name = "an escape sequence in a description is escaped by list",
     .args = {"list", "@D/desc"},
     .exit_code = 0,
     .timeout_ms = 5000,
     .out_has = {"clear\\x1b[2J\\x1b]0;owned\\x07"},
     .out_lacks = "\x1b"},
    /* 6. Numbers. */
    {.name = "--time-scale nan is invalid",
     .args = {"run", "@S", "--time-scale", "nan"},
     .exit_code = 2,
     .timeout_ms = 5000,
     .out_has = {"--time-scale: expected 0.1..100, found 'nan'"}},
    {.name = "--time-scale inf is invalid",
     .args = {"run", "@S", "--time-scale", "inf"},
     .exit_code = 2,
     .timeout_ms = 5000,
     .out_has = {"--time-scale"}},
    {.name = "--time-scale 0 is invalid",
     .args = {"run", "@S", "--time-scale", "0"},
     .exit_code = 2,
     .timeout_ms = 5000,
     .out_has = {"--time-scale"}},
    {.name = "--time-scale -2 is invalid",
     .args = {"run", "@S", "--time-scale", "-2"},
     .exit_code = 2,
     .timeout_ms = 5000,
     .out_has = {"--time-scale"}},
    {.name = "--seed -1 is invalid",
     .args = {"run", "@S", "--seed", "-1"},
     .exit_code = 2,
     .timeout_ms = 5000,
     .out_has = {"--seed: expected an integer in [0, 9007199254740991], found '-1'"}},
    {.name = "--seed abc is invalid",
     .args = {"run", "@S", "--seed", "abc"},
     .exit_code = 2,
     .timeout_ms = 5000,
     .out_has = {"--seed"}},
    {.name = "--seed beyond 2^53 is invalid",
     .args = {"run", "@S", "--seed", "18446744073709551615"},
     .exit_code = 2,
     .timeout_ms = 5000,
     .out_has = {"--seed"}},
    {.name = "--seed past 2^64 is invalid",
     .args = {"run", "@S", "--seed", "99999999999999999999999"},
     .exit_code = 2,
     .timeout_ms = 5000,
     .out_has = {"--seed"}},
    {.name = "--blue-port -1 is invalid",
     .args = {"run", "@S", "--relay-url", "http://127.0.0.1:1", "--blue-port", "-1"},
     .exit_code = 2,
     .timeout_ms = 5000,
     .out_has = {"--blue-port: expected 0..65535"}},
    {.name = "cutover mock --seed past 2^64 is invalid",
     .args = {"mock", "--port", "0", "--seed", "99999999999999999999999"},
     .exit_code = 2,
     .timeout_ms = 3000,
     .out_has = {"--seed: expected an integer"}},
    {.name = "cutover mock --port ' 80' (a blank first) is invalid",
     .args = {"mock", "--port", " 80"},
     .exit_code = 2,
     .timeout_ms = 3000,
     .out_has = {"--port: expected 0..65535"}},
    {.name = "cutover mock --name with a quote and a backslash is invalid",
     .args = {"mock", "--port", "0", "--name", "a\"\\"},
     .exit_code = 2,
     .timeout_ms = 3000,
     .out_has = {"--name: expected 1..16 letters, digits or '-'"}},
    {.name = "reply.tokens_per_s 1e-300 is invalid",
     .args = {"validate", "@D/tokens.json"},
     .exit_code = 2,
     .timeout_ms = 5000,
     .out_has = {"tokens_per_s: expected 0 (unpaced) or a number in [0.1, 1e+06]"}},
    /* 7. Files. */
    {.name = "a FIFO named x.json does not hang validate",
     .args = {"validate", "@D/fifo/x.json"},
     .setup = setup_fifo,
     .exit_code = 2,
     .timeout_ms = 5000,
     .out_has = {"x.json: not a regular file (a FIFO)"}},
    {.name = "a FIFO in a scenario folder does not hang list",
     .args = {"list", "@D/fifo"},
     .exit_code = 2,
     .timeout_ms = 5000,
     .out_has = {"not a regular file (a FIFO)"}},
    {.name = "a symlink loop lists each scenario once",
     .args = {"list", "@D/loop"},
     .setup = setup_loop,
     .exit_code = 0,
     .timeout_ms = 5000,
     .out_has = {"loop/a/one.json"},
     .check = check_loop},
};

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static int run_row(const struct row *row)
{
    int rc = 0;
    char *out = NULL, *err = NULL, *all = NULL;
    if (row->setup && row->setup(row) != 0)
        return -1;
    if (!row->args[0])
        return row->check ? row->check(row) : 0;
    char *argv[24];
    int n = 0;
    char gate[PATH_MAX + 16];
    if (row->program && strcmp(row->program, "gate") == 0) {
        snprintf(gate, sizeof gate, "%s/ci/gate.sh", root);
        argv[n++] = "/bin/sh";
        argv[n++] = gate;
        setenv("CUTOVER_SKIP_BUILD", "1", 1);
        setenv("CUTOVER_RELAY", "nginx", 1);
        setenv("CUTOVER_OUT", expand("@D/gate"), 1);
    } else {
        argv[n++] = (char *)tsup_bin("cutover");
    }
    for (int i = 0; row->args[i] && n < 23; i++)
        argv[n++] = expand(row->args[i]);
    argv[n] = NULL;
    struct tproc p;
    char cwd[PATH_MAX] = "";
    if (row->cwd)
        snprintf(cwd, sizeof cwd, "%s", expand(row->cwd));
    /* A relative bin path must survive the change of folder. */
    char abs_bin[PATH_MAX];
    if (argv[0][0] != '/' && realpath(argv[0], abs_bin))
        argv[0] = abs_bin;
    assert_int_equal(tproc_spawn_in(&p, argv, row->cwd ? cwd : NULL, row->env[0],
                                    row->env[1] ? expand(row->env[1]) : NULL),
                     0);
    int st = tproc_wait_exit(&p, row->timeout_ms * mult);
    out = tproc_read(&p, 1);
    err = tproc_read(&p, 2);
    tproc_stop(&p, SIGKILL, 1000);
    unsetenv("CUTOVER_SKIP_BUILD");
    unsetenv("CUTOVER_RELAY");
    unsetenv("CUTOVER_OUT");
    size_t len = strlen(out ? out : "") + strlen(err ? err : "") + 2;
    all = malloc(len);
    snprintf(all, len, "%s\n%s", out ? out : "", err ? err : "");
    if (st == -1)
        ROW_FAIL("%s: did not finish within %d ms\n%s", row->name, row->timeout_ms * mult, all);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != row->exit_code)
        ROW_FAIL("%s: exit %d, expected %d\n%s", row->name, WIFEXITED(st) ? WEXITSTATUS(st) : -1,
                 row->exit_code, all);
    for (int i = 0; i < 3 && row->out_has[i]; i++)
        if (!strstr(all, row->out_has[i]))
            ROW_FAIL("%s: output lacks \"%s\"\n%s", row->name, row->out_has[i], all);
    if (row->out_lacks && strstr(all, row->out_lacks))
        ROW_FAIL("%s: output carries a raw \"%s\"\n%s", row->name, row->out_lacks, all);
    if (row->no_file && access(expand(row->no_file), F_OK) == 0)
        ROW_FAIL("%s: %s exists (a shell ran the input)", row->name, expand(row->no_file));
    if (row->file_has[0]) {
        char *text = tsup_read_file(expand(row->file_has[0]), NULL);
        int ok = text && strstr(text, row->file_has[1]);
        free(text);
        if (!ok)
            ROW_FAIL("%s: %s lacks \"%s\"", row->name, expand(row->file_has[0]), row->file_has[1]);
    }
    if (row->check == check_loop && count(out, "one.json") != 1)
        ROW_FAIL("%s: listed %d times\n%s", row->name, count(out, "one.json"), all);
    if (row->check && row->check != check_loop)
        rc = row->check(row);
out:
    free(all);
    free(out);
    free(err);
    return rc;
}

static void test_hostile_rows(void **state)
{
    int failed = 0;
    size_t n = sizeof rows / sizeof rows[0];
    for (size_t i = 0; i < n; i++) {
        int rc = run_row(&rows[i]);
        print_message("%s: %s\n", rc == 0 ? "held" : "DID NOT HOLD", rows[i].name);
        failed += rc != 0;
    }
    if (failed)
        fail_msg("%d of %zu hostile attempts did not hold", failed, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hostile_rows, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
