/* Starting a relay without a shell between its inputs and the process
 * (harness/spawn.h).  The splitter and the quoting are pure string
 * functions; harness_spawn is the only part that forks. */
#include "harness/spawn.h"

#include "co_buf.h"
#include "co_mem.h"
#include "harness/vutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* One pass over cmd as the splitter sees it: calls word_end when a word is
 * complete; on_char for each literal character.  Quoted characters are
 * reported with quoted = 1 (the shell-syntax scan ignores them). */
struct scan {
    struct co_buf word;
    int in_word;
    char **argv;
    int argc;
    size_t shell_col; /* first unquoted shell operator, 1-based */
};

static void end_word(struct scan *s)
{
    if (!s->in_word)
        return;
    if (s->argc < HARNESS_ARGV_MAX) {
        s->argv = co_realloc(s->argv, (size_t)(s->argc + 2) * sizeof *s->argv);
        s->argv[s->argc++] = co_buf_steal(&s->word, NULL);
        s->argv[s->argc] = NULL;
    }
    co_buf_free(&s->word);
    co_buf_init(&s->word, 0);
    s->in_word = 0;
}

static void put(struct scan *s, char c)
{
    co_buf_append(&s->word, &c, 1);
    s->in_word = 1;
}

static int scan(const char *cmd, struct scan *s, char *err, size_t errlen)
{
    co_buf_init(&s->word, 0);
    for (const char *p = cmd; *p; p++) {
        size_t col = (size_t)(p - cmd) + 1;
        if (is_blank(*p)) {
            end_word(s);
        } else if (*p == '\'') {
            const char *q = strchr(p + 1, '\'');
            if (!q) {
                harness_v_fmt(err, errlen, "unterminated ' quote at column %zu", col);
                goto bad;
            }
            s->in_word = 1;
            for (p++; p < q; p++)
                put(s, *p);
        } else if (*p == '"') {
            s->in_word = 1;
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                    p++;
                put(s, *p);
            }
            if (!*p) {
                harness_v_fmt(err, errlen, "unterminated \" quote at column %zu", col);
                goto bad;
            }
        } else if (*p == '\\') {
            if (!p[1]) {
                harness_v_fmt(err, errlen, "a lone '\\' at the end (column %zu)", col);
                goto bad;
            }
            put(s, *++p);
        } else {
            if (!s->shell_col && strchr("|;&<>`$()\n\r*?[]", *p))
                s->shell_col = col;
            put(s, *p);
        }
    }
    end_word(s);
    co_buf_free(&s->word);
    return 0;
bad:
    co_buf_free(&s->word);
    return -1;
}

void harness_argv_free(char ***argv)
{
    if (!*argv)
        return;
    for (char **a = *argv; *a; a++)
        free(*a);
    free(*argv);
    *argv = NULL;
}

int harness_argv_split(const char *cmd, char ***argv, char *err, size_t errlen)
{
    struct scan s = {0};
    if (scan(cmd, &s, err, errlen) != 0) {
        harness_argv_free(&s.argv);
        return -1;
    }
    if (s.argc == 0) {
        harness_v_fmt(err, errlen, "an empty command");
        return -1;
    }
    *argv = s.argv;
    return s.argc;
}

/* Non-zero when cmd starts with a shell builtin or reserved word (exec,
 * cd, if...) or a VAR=value assignment: only a shell can run that. */
static int starts_shell_only(const char *cmd)
{
    static const char *const builtins[] = {
        "exit",  "cd", "if",   "while", "for", "case", "until", "export", "set",  "trap", "true",
        "false", ":",  "eval", "exec",  "{",   "!",    ".",     "wait",   "read", NULL};
    while (is_blank(*cmd))
        cmd++;
    size_t w = strcspn(cmd, " \t");
    for (const char *const *b = builtins; *b; b++)
        if (strlen(*b) == w && strncmp(*b, cmd, w) == 0)
            return 1;
    size_t eq = strcspn(cmd, "= \t/'\"");
    return eq > 0 && eq < w && cmd[eq] == '=';
}

size_t harness_cmd_shell_syntax(const char *cmd)
{
    struct scan s = {0};
    char err[64];
    int rc = scan(cmd, &s, err, sizeof err);
    harness_argv_free(&s.argv);
    /* An unbalanced quote is shell syntax too: sh reports it, we do not guess. */
    if (rc != 0)
        return 1;
    if (s.shell_col)
        return s.shell_col;
    return starts_shell_only(cmd) ? 1 : 0;
}

int harness_cmd_can_exec(const char *cmd)
{
    /* A builtin or a reserved word cannot be exec'd. */
    if (starts_shell_only(cmd))
        return 0;
    char q = 0;
    for (const char *p = cmd; *p; p++) {
        if (q) {
            if (*p == q)
                q = 0;
            else if (q == '"' && *p == '\\' && p[1])
                p++;
            continue;
        }
        if (*p == '\'' || *p == '"')
            q = *p;
        else if (*p == '\\' && p[1])
            p++;
        else if (*p == '&' && p > cmd && (p[-1] == '>' || p[-1] == '<'))
            continue; /* 2>&1 is a redirection */
        else if (strchr("|;&()\n\r", *p))
            return 0;
    }
    return 1;
}

char *harness_sh_quote(const char *s)
{
    int plain = *s != '\0';
    for (const char *p = s; *p && plain; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                strchr("_./:,=+@%-", *p);
    if (plain)
        return co_strdup(s);
    struct co_buf b;
    co_buf_init(&b, 0);
    co_buf_puts(&b, "'");
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            co_buf_puts(&b, "'\\''");
        else
            co_buf_append(&b, p, 1);
    }
    co_buf_puts(&b, "'");
    return co_buf_steal(&b, NULL);
}

int harness_argv_render(const char *cmd, const struct harness_vars *v, int strict, char ***argv,
                        char *err, size_t errlen)
{
    char **words = NULL;
    int n = harness_argv_split(cmd, &words, err, errlen);
    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        char *r = harness_render(words[i], v, strict ? err : NULL, errlen);
        if (!r) {
            harness_argv_free(&words);
            return -1;
        }
        free(words[i]);
        words[i] = r;
    }
    *argv = words;
    return n;
}

char *harness_script_render(const char *cmd, const struct harness_vars *v, char *err, size_t errlen)
{
    struct harness_vars *q = co_calloc(1, sizeof *q);
    q->n = v->n;
    for (int i = 0; i < v->n; i++) {
        char *s = harness_sh_quote(v->v[i].value);
        snprintf(q->v[i].name, sizeof q->v[i].name, "%s", v->v[i].name);
        if (strlen(s) >= sizeof q->v[i].value) {
            harness_v_fmt(err, errlen, "{%s}: the quoted value is too long", v->v[i].name);
            free(s);
            free(q);
            return NULL;
        }
        snprintf(q->v[i].value, sizeof q->v[i].value, "%s", s);
        free(s);
    }
    char *out = harness_render(cmd, q, err, errlen);
    free(q);
    return out;
}

int harness_which(const char *argv0, char *out, size_t n)
{
    if (!*argv0)
        return -1;
    if (strchr(argv0, '/')) {
        struct stat st;
        if (stat(argv0, &st) != 0 || !S_ISREG(st.st_mode) || access(argv0, X_OK) != 0)
            return -1;
        harness_v_fmt(out, n, "%s", argv0);
        return 0;
    }
    const char *path = getenv("PATH");
    char full[4096];
    snprintf(full, sizeof full, "%s", path ? path : "/usr/bin:/bin");
    for (char *save = NULL, *dir = strtok_r(full, ":", &save); dir;
         dir = strtok_r(NULL, ":", &save)) {
        char cand[PATH_MAX];
        harness_v_fmt(cand, sizeof cand, "%s/%s", dir, argv0);
        struct stat st;
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
            harness_v_fmt(out, n, "%s", cand);
            return 0;
        }
    }
    return -1;
}

const char *harness_install_hint(const char *program)
{
    static const struct {
        const char *program, *hint;
    } hints[] = {
        {"nginx", "apt-get install nginx-light"},
        {"haproxy", "apt-get install haproxy"},
        {"node", "apt-get install nodejs"},
        {"python3", "apt-get install python3"},
        {"uvicorn", "pip install uvicorn fastapi"},
        {"redis-server", "apt-get install redis-server"},
    };
    const char *base = strrchr(program, '/');
    base = base ? base + 1 : program;
    for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++)
        if (strcmp(hints[i].program, base) == 0)
            return hints[i].hint;
    return NULL;
}

void harness_missing_program(const char *program, char *out, size_t n)
{
    if (strchr(program, '/')) {
        harness_v_fmt(out, n, "%s is not installed (%s)", program,
                      access(program, F_OK) == 0 ? "not an executable file" : "no such file");
        return;
    }
    /* Debian keeps nginx and haproxy in /usr/sbin, which a user's PATH may lack. */
    static const char *const sbins[] = {"/usr/sbin", "/sbin", "/usr/local/sbin"};
    for (size_t i = 0; i < sizeof sbins / sizeof sbins[0]; i++) {
        char cand[PATH_MAX];
        harness_v_fmt(cand, sizeof cand, "%s/%s", sbins[i], program);
        if (access(cand, X_OK) == 0) {
            harness_v_fmt(out, n, "%s is not on PATH (it is in %s: add %s to PATH)", program,
                          sbins[i], sbins[i]);
            return;
        }
    }
    const char *hint = harness_install_hint(program);
    harness_v_fmt(out, n, "%s is not installed (not on PATH)%s%s", program,
                  hint ? "; install it with " : "", hint ? hint : "");
}

/* ---- the child ------------------------------------------------------------- */

static void tell_parent(int fd, int e)
{
    ssize_t w = write(fd, &e, sizeof e);
    (void)w;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Shell mode: this process stays the group leader and the runner's child.
 * It runs the shell, reaps everything in the group (it is their subreaper),
 * and exits as the shell did.  Signals the runner sends the group reach the
 * relay directly; this process only waits.  When the runner dies (SIGHUP,
 * our parent-death signal) it sends the group the stop signal, and SIGKILL
 * 5 s later. */
static char *volatile kept_script; /* see supervise */

static void supervise(const struct harness_spawn *s, int errfd, char *script)
{
    /* The script was allocated before fork and is never freed here (free
     * is not async-signal-safe in a child of a threaded process): kept
     * reachable, so a leak checker of this process (valgrind follows the
     * fork) does not count it, nor change our exit status. */
    kept_script = script;
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    sigset_t set, none;
    sigemptyset(&set);
    sigemptyset(&none);
    static const int sigs[] = {SIGCHLD, SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&set, sigs[i]);
    sigprocmask(SIG_BLOCK, &set, NULL);
    pid_t g = fork();
    if (g < 0) {
        tell_parent(errfd, errno);
        _exit(127);
    }
    if (g == 0) {
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* Stay alive until the command is done: a trapped signal waits for
         * the foreground command (POSIX), so the shell's status is the
         * command's, not "killed by SIGTERM". */
        char *argv[] = {"sh", "-c", script, NULL};
        execv("/bin/sh", argv);
        tell_parent(errfd, errno);
        _exit(127);
    }
    close(errfd);
    int shell_status = 0, stopping = 0;
    uint64_t kill_at = 0;
    for (;;) {
        int st;
        pid_t w;
        while ((w = waitpid(-1, &st, WNOHANG)) > 0)
            if (w == g)
                shell_status = st;
        if (w < 0 && errno == ECHILD)
            break;
        struct timespec ts = {0, 100 * 1000000};
        siginfo_t si;
        int sig = sigtimedwait(&set, &si, &ts);
        if (sig == SIGHUP && !stopping) {
            stopping = 1;
            kill_at = now_ms() + 5000;
            kill(-getpgrp(), s->stop_signal ? s->stop_signal : SIGTERM);
        }
        if (stopping && now_ms() > kill_at)
            kill(-getpgrp(), SIGKILL);
    }
    if (WIFSIGNALED(shell_status)) {
        signal(WTERMSIG(shell_status), SIG_DFL);
        sigprocmask(SIG_SETMASK, &none, NULL);
        raise(WTERMSIG(shell_status));
        _exit(128 + WTERMSIG(shell_status));
    }
    _exit(WIFEXITED(shell_status) ? WEXITSTATUS(shell_status) : 1);
}

static void child(const struct harness_spawn *s, pid_t parent, int errfd, char *script)
{
    setpgid(0, 0);
    /* The relay must not outlive the runner, whatever ends it (SIGKILL
     * included).  The check after prctl closes the race with a parent that
     * died before it. */
    prctl(PR_SET_PDEATHSIG, !s->argv ? SIGHUP : s->death_signal ? s->death_signal : SIGTERM);
    if (getppid() != parent)
        _exit(127);
    static const int reset[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT, SIGUSR1, SIGCHLD};
    for (size_t i = 0; i < sizeof reset / sizeof reset[0]; i++)
        signal(reset[i], SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int in = open("/dev/null", O_RDONLY);
    int out = open(s->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(s->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) {
        tell_parent(errfd, errno);
        _exit(127);
    }
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    /* The relay gets 0, 1 and 2 only. */
    const int opened[] = {in, out, err};
    for (size_t i = 0; i < 3; i++)
        if (opened[i] > 2)
            close(opened[i]);
    for (const char *const *u = s->unset; u && *u; u++)
        unsetenv(*u);
    for (char *const *e = s->env; e && *e; e++)
        putenv(*e);
    if (s->cwd && s->cwd[0] && chdir(s->cwd) != 0) {
        tell_parent(errfd, errno);
        _exit(127);
    }
    if (!s->argv)
        supervise(s, errfd, script);
    execvp(s->argv[0], s->argv);
    tell_parent(errfd, errno);
    _exit(127);
}

pid_t harness_spawn(const struct harness_spawn *s, char *err, size_t errlen)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        harness_v_fmt(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    /* Made before fork: the child only calls async-signal-safe functions. */
    char *script = s->argv ? NULL
                           : co_asprintf("trap : TERM INT QUIT USR1; %s%s",
                                         harness_cmd_can_exec(s->script) ? "exec " : "", s->script);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        harness_v_fmt(err, errlen, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        free(script);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        child(s, parent, fds[1], script);
    }
    free(script);
    setpgid(pid, pid); /* also in the parent: no race with an early kill */
    close(fds[1]);
    int e = 0;
    ssize_t r;
    do
        r = read(fds[0], &e, sizeof e);
    while (r < 0 && errno == EINTR);
    close(fds[0]);
    if (r == (ssize_t)sizeof e) {
        const char *what = s->argv ? s->argv[0] : "/bin/sh";
        if (s->cwd && s->cwd[0] && access(s->cwd, X_OK) != 0)
            harness_v_fmt(err, errlen, "cannot start '%s' in %s: %s", what, s->cwd, strerror(e));
        else if (e == ENOENT && s->argv && !strchr(what, '/'))
            harness_v_fmt(err, errlen, "cannot start '%s': not found on PATH", what);
        else
            harness_v_fmt(err, errlen, "cannot start '%s': %s", what, strerror(e));
        int st;
        waitpid(pid, &st, 0);
        return -1;
    }
    return pid;
}
