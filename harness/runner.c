/* Orchestration of one scenario.  The order of a run:
 *
 *   mocks up (ephemeral ports) -> relay config written -> relay spawned in its
 *   own process group -> readiness polled (bounded) -> t0: timeline timers and
 *   traffic start -> traffic done and timeline done -> settle -> journals read
 *   -> relay stopped (SIGTERM, then SIGKILL to the group) -> events read ->
 *   checks -> verdict.
 *
 * Everything waits on one libev loop; a hard timeout and the SIGINT flag are
 * polled by a timer on the same loop, so nothing blocks teardown. */
#include "harness/runner.h"

#include "co_clock.h"
#include "co_evcurl.h"
#include "co_json.h"
#include "co_log.h"
#include "co_mem.h"
#include "harness/checks.h"
#include "harness/driver.h"
#include "harness/fleet.h"
#include "harness/obs.h"
#include "harness/portown.h"
#include "harness/probe.h"
#include "harness/spawn.h"
#include "harness/traffic.h"
#include "harness/vutil.h"
#include "mocks/mock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;

void harness_runner_interrupt(void)
{
    interrupted = 1;
}

int harness_runner_interrupted(void)
{
    return interrupted != 0;
}

enum phase { PH_START, PH_RUN, PH_SETTLE, PH_DONE };

struct admin_xfer {
    struct harness_xfer base;
    struct run *run;
    int step;
    struct curl_slist *hdrs;
    CURL *easy;
    struct admin_xfer *next; /* calls in flight, for teardown */
};

struct probe_xfer {
    struct harness_xfer base;
    struct run *run;
    struct replica *rp;
    CURL *easy;
    struct curl_slist *hdrs; /* the ready-probe mark */
    char body[512];          /* the answer's start: is it the relay's own /health? */
    size_t len;
};

/* One relay process of the fleet (the one-relay run is a fleet of one).
 * Replica 0 works in the run's folder; replica i > 0 in dir/replica-i, each
 * with its own port, event log, config, output and process group. */
struct replica {
    int index;
    char dir[512];
    char events_path[600], out_path[600], err_path[600], config_path[600];
    /* The upstream key in a file of its own (mode 0600, removed at
     * teardown): cutover-relay reads it through HOLYSHEEP_API_KEY_FILE, a
     * profile through {api_key_file}. */
    char key_path[600];
    char cwd[600]; /* a profile's working folder ("" the caller's) */
    pid_t pid;
    int port;
    char url[96];
    int exited, status;
    int killed;              /* the scenario sent SIGKILL */
    int ended;               /* the scenario stopped or killed it: not alive by design */
    int stopped;             /* SIGSTOP'd (teardown sends SIGCONT first) */
    uint64_t t_term, t_exit; /* SIGTERM sent, exit seen */
    /* At the start of the traffic its port was listened on by a process
     * outside its group (harness/portown.h). */
    int port_stranger;
    int ready;
    struct probe_xfer *probe;
    uint64_t last_probe;
};

struct run {
    const struct harness_scenario *s;
    const struct harness_run_opts *o;
    struct ev_loop *loop;
    struct co_evcurl curl;
    struct mock *mock[3]; /* blue, green, and direct when the scenario has one */
    char colour_url[3][96];
    char dir[512];
    char api_key[64], admin_token[64];
    char ready_path[128];
    struct replica rep[HARNESS_MAX_REPLICAS];
    int n_rep;
    int spread;
    /* The fleet's Redis (harness_redis_*), when the scenario asks for one. */
    struct harness_redis redis;
    /* Scenario settings the relay cannot express (profiles, --relay-url):
     * names borrowed from the scenario, or static. */
    const char *unmapped[HARNESS_MAX_UNMAPPED];
    size_t n_unmapped;
    int raw_config_checked; /* raw_config_read ran */
    /* Scenario settings other than the value the relay has fixed (a
     * profile's "fixed"): their checks are not applicable to this relay. */
    const char *fixed[HARNESS_MAX_UNMAPPED];
    size_t n_fixed;
    /* timers */
    ev_timer poll;  /* 10 ms: readiness, child, SIGINT, hard timeout */
    ev_timer steps; /* the next timeline step */
    ev_timer settle;
    int next_step;
    int phase;
    uint64_t t_start_deadline, t_hard_deadline, t0;
    uint64_t t_first_probe;
    int ready; /* every replica answered */
    int admin_inflight;
    struct admin_xfer *admins;
    struct harness_traffic traffic;
    int traffic_started;
    struct harness_obs obs;
    struct harness_prober prober; /* the timeline's probes of the relay's endpoints */
    uint64_t t_traffic_done;      /* every client request answered (0: not yet) */
    char error[1024];
    int error_status;
    int port_taken;         /* the error: another process took the relay's port */
    uint64_t last_progress; /* of the progress hook */
};

static void fail(struct run *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct run *r, int status, const char *fmt, ...)
{
    if (!r->error[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->error, sizeof r->error, fmt, ap);
        va_end(ap);
        r->error_status = status;
    }
    r->phase = PH_DONE;
    ev_break(r->loop, EVBREAK_ALL);
}

/* ---- files ----------------------------------------------------------------- */

int harness_mkdirs(const char *path)
{
    char tmp[600];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s", path) >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static char *read_file(const char *path, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = co_malloc(cap + 1);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* The last lines of a file (at most max bytes), redacted. */
static char *tail_of(const char *path, size_t max)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long from = size > (long)max ? size - (long)max : 0;
    fseek(f, from, SEEK_SET);
    char *buf = co_malloc(max + 1);
    size_t n = fread(buf, 1, max, f);
    fclose(f);
    buf[n] = '\0';
    char *start = buf;
    if (from > 0) {
        char *nl = strchr(buf, '\n');
        if (nl)
            start = nl + 1;
    }
    char *out = co_malloc(n + 64);
    co_redact(start, out, n + 64);
    free(buf);
    return out;
}

/* ---- processes ------------------------------------------------------------- */

int harness_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

char *harness_expand_cmd(const char *cmd, const char *blue, const char *green, int port,
                         const char *events)
{
    struct harness_vars *v = co_calloc(1, sizeof *v);
    char portbuf[16];
    snprintf(portbuf, sizeof portbuf, "%d", port);
    harness_vars_set(v, "blue_url", blue);
    harness_vars_set(v, "green_url", green);
    harness_vars_set(v, "port", portbuf);
    harness_vars_set(v, "events", events);
    char *out = harness_render(cmd, v, NULL, 0);
    free(v);
    return out;
}

/* path as an absolute path (against the current folder), not resolved. */
static void absolute(const char *path, char *out, size_t n)
{
    char cwd[PATH_MAX];
    if (path[0] == '/' || !getcwd(cwd, sizeof cwd))
        harness_v_fmt(out, n, "%s", path);
    else
        harness_v_fmt(out, n, "%s/%s", cwd, path);
}

/* The placeholders of a profile (docs/profiles.md): where the mocks are,
 * the relay's port, the work folder and the scenario's settings. */
static void profile_vars(struct run *r, const struct replica *rp, struct harness_vars *v)
{ /* p NULL: a raw --relay command gets the same placeholders */
    const struct harness_profile *p = r->o->profile;
    char buf[600];
    static const char *const names[] = {"blue", "green"};
    for (int c = 0; c < 2; c++) {
        char key[40];
        const char *url = r->colour_url[c];
        const char *hp = strstr(url, "://");
        hp = hp ? hp + 3 : url;
        const char *end = strchr(hp, '/');
        snprintf(buf, sizeof buf, "%.*s", end ? (int)(end - hp) : (int)strlen(hp), hp);
        snprintf(key, sizeof key, "%s_hostport", names[c]);
        harness_vars_set(v, key, buf);
        const char *colon = strrchr(buf, ':');
        snprintf(key, sizeof key, "%s_port", names[c]);
        harness_vars_set(v, key, colon ? colon + 1 : "80");
        snprintf(key, sizeof key, "%s_url", names[c]);
        harness_vars_set(v, key, url);
    }
    snprintf(buf, sizeof buf, "%d", rp->port);
    harness_vars_set(v, "port", buf);
    snprintf(buf, sizeof buf, "%d", rp->index);
    harness_vars_set(v, "replica", buf);
    /* The fleet's store, for a relay that takes one ("" without Redis). */
    harness_vars_set(v, "redis_url", r->redis.pid > 0 ? r->redis.url : "");
    if (r->mock[2])
        harness_vars_set(v, "direct_url", r->colour_url[2]);
    harness_vars_set(v, "relay_url", rp->url);
    /* Absolute paths: the command runs in its own folder (cwd). */
    absolute(rp->events_path, buf, sizeof buf);
    harness_vars_set(v, "events", buf);
    absolute(rp->dir, buf, sizeof buf);
    harness_vars_set(v, "workdir", buf);
    absolute(rp->config_path, buf, sizeof buf);
    harness_vars_set(v, "config", buf);
    if (r->o->relay_bin && strchr(r->o->relay_bin, '/'))
        absolute(r->o->relay_bin, buf, sizeof buf);
    else
        snprintf(buf, sizeof buf, "%s", r->o->relay_bin ? r->o->relay_bin : "cutover-relay");
    harness_vars_set(v, "relay_bin", buf);
    harness_vars_set(v, "admin_token", r->admin_token);
    harness_vars_set(v, "api_key", r->api_key);
    absolute(rp->key_path, buf, sizeof buf);
    harness_vars_set(v, "api_key_file", buf);
    if (p) {
        harness_vars_set(v, "profile_dir", p->dir);
        harness_vars_settings(v, p, r->s->relay);
    }
}

/* The settings write_config gives every relay it configures under the
 * scenario's own, sized for seconds-long scenarios (the relay's own
 * defaults are minutes); each is multiplied by --time-scale. */
static const struct {
    const char *key;
    double ms;
} runner_defaults[] = {
    {"health_interval_ms", 200},
    {"health_timeout_ms", 1000},
    {"backoff_base_ms", HARNESS_RUNNER_BACKOFF_BASE_MS},
    {"backoff_cap_ms", HARNESS_RUNNER_BACKOFF_CAP_MS},
    {"try_timeout_ms", 1000},
    {"deadline_ms", 4000},
    {"drain_timeout_ms", 500},
};

/* Does a raw command name placeholder {name} (or {name+N}, {name-N})? */
static int cmd_names(const char *cmd, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = cmd; (p = strchr(p, '{')) != NULL; p++)
        if (strncmp(p + 1, name, n) == 0 && strchr("}+-", p[1 + n]))
            return 1;
    return 0;
}

/* The scenario settings a raw --relay command cannot be given: those it
 * names neither as {key} nor through {config} (cutover-relay's JSON config
 * with every scenario key), and the admin API unless it gets {config} or
 * {admin_token}.  Their checks turn inconclusive instead of judging a relay
 * that never saw the setting. */
static void raw_unmapped(struct run *r)
{
    const char *cmd = r->o->relay_cmd;
    int all = cmd_names(cmd, "config");
    const char *k;
    json_t *val;
    json_object_foreach(r->s->relay, k, val)
    {
        if (all || strcmp(k, "log_level") == 0 || cmd_names(cmd, k))
            continue;
        if (r->n_unmapped < HARNESS_MAX_UNMAPPED)
            r->unmapped[r->n_unmapped++] = k;
    }
    if (r->s->admin_used && !all && !cmd_names(cmd, "admin_token") &&
        r->n_unmapped < HARNESS_MAX_UNMAPPED)
        r->unmapped[r->n_unmapped++] = "admin API";
    /* The third mock reaches the relay only as {direct_url} or in {config}. */
    if (r->s->direct && !all && !cmd_names(cmd, "direct_url") &&
        r->n_unmapped < HARNESS_MAX_UNMAPPED)
        r->unmapped[r->n_unmapped++] = "direct_url";
    /* The runner's own test-run settings (write_config) are premises of the
     * scenario too: a relay that runs on its own defaults (a 1 s backoff
     * where the scenario expects 20 ms) was not given them. */
    for (size_t i = 0; !all && i < sizeof runner_defaults / sizeof runner_defaults[0]; i++)
        if (!json_object_get(r->s->relay, runner_defaults[i].key) &&
            !cmd_names(cmd, runner_defaults[i].key) && r->n_unmapped < HARNESS_MAX_UNMAPPED)
            r->unmapped[r->n_unmapped++] = runner_defaults[i].key;
}

/* A raw command that reads CUTOVER_CONFIG (cutover-relay does, and says so
 * on its ready line) got every setting after all: nothing is unmapped. */
static void raw_config_read(struct run *r)
{
    if (!r->o->relay_cmd || r->o->profile || r->raw_config_checked)
        return;
    r->raw_config_checked = 1;
    FILE *f = fopen(r->rep[0].out_path, "r");
    if (!f)
        return;
    char line[512];
    int got = 0;
    while (!got && fgets(line, sizeof line, f))
        got = strstr(line, "(settings from CUTOVER_CONFIG)") != NULL;
    fclose(f);
    if (got)
        r->n_unmapped = 0;
}

/* Renders the profile's config into the work folder (a template, or our
 * relay's JSON through write_config). */
static int write_profile_config(struct run *r, const struct replica *rp,
                                const struct harness_vars *v)
{
    const struct harness_profile *p = r->o->profile;
    if (!p->config_file[0] || p->config_json)
        return 0;
    char err[256];
    char *text = harness_render(p->config_template, v, err, sizeof err);
    if (!text) {
        fail(r, REPORT_INVALID, "%s: config template: %s", p->file, err);
        return -1;
    }
    FILE *f = fopen(rp->config_path, "w");
    int rc = f && fputs(text, f) >= 0 ? 0 : -1;
    if (f && fclose(f) != 0)
        rc = -1;
    free(text);
    if (rc != 0)
        fail(r, REPORT_ERROR, "%s: cannot write the relay config", rp->config_path);
    return rc;
}

/* Variables of the seed's .env would override the config file. */
static const char *const clear_env[] = {"HOLYSHEEP_BASE_URL",
                                        "HOLYSHEEP_API_KEY_FILE",
                                        "BLUE_URL",
                                        "GREEN_URL",
                                        "ACTIVE_ENV",
                                        "HEALTH_CHECK_INTERVAL",
                                        "HEALTH_CHECK_TIMEOUT",
                                        "RATE_LIMIT_REQUESTS",
                                        "RATE_LIMIT_WINDOW",
                                        NULL};

/* What to start (harness/spawn.h): an argument vector, or a shell script
 * for a profile with "shell": true and a raw command with shell syntax.
 * Placeholders are substituted per argument, never re-parsed by a shell;
 * in a script every value is single-quoted. */
static int relay_command(struct run *r, struct replica *rp, char ***argv, char **script,
                         char **envs, int *n_env, char *err, size_t errlen)
{
    const struct harness_profile *p = r->o->profile;
    struct harness_vars *v = co_calloc(1, sizeof *v);
    int rc = -1;
    rp->port = harness_free_port();
    snprintf(rp->url, sizeof rp->url, "http://127.0.0.1:%d", rp->port);
    if (p) {
        profile_vars(r, rp, v);
        if (write_profile_config(r, rp, v) != 0)
            goto out;
        /* Its own folder by default: "node server.js" finds server.js. */
        char *dir = harness_render(p->cwd, v, NULL, 0);
        snprintf(rp->cwd, sizeof rp->cwd, "%s", dir);
        free(dir);
        if (p->api_key_env[0])
            envs[(*n_env)++] = co_asprintf("%s=%s", p->api_key_env, r->api_key);
        for (int i = 0; i < p->n_env; i++) {
            char *val = harness_render(p->env[i].value, v, err, errlen);
            if (!val)
                goto bad;
            envs[(*n_env)++] = co_asprintf("%s=%s", p->env[i].name, val);
            free(val);
        }
        if (p->shell)
            *script = harness_script_render(p->command, v, err, errlen);
        else if (harness_argv_render(p->command, v, 1, argv, err, errlen) < 0)
            goto bad;
        if (p->shell && !*script)
            goto bad;
    } else {
        profile_vars(r, rp, v);
        /* {key}: the scenario's value, else the one its config gives the
         * relay (the runner's test-run settings); else no relay is started. */
        json_t *given = json_load_file(rp->config_path, 0, NULL);
        int ok = harness_vars_raw(v, r->o->relay_cmd, r->s->relay, given, err, errlen);
        json_decref(given);
        if (ok != 0) {
            fail(r, REPORT_INVALID, "%s: --relay command: %s", r->s->file, err);
            goto out;
        }
        if (harness_cmd_shell_syntax(r->o->relay_cmd)) {
            *script = harness_script_render(r->o->relay_cmd, v, err, errlen);
            if (!*script)
                goto bad;
        } else if (harness_argv_render(r->o->relay_cmd, v, 0, argv, err, errlen) < 0) {
            goto bad;
        }
    }
    rc = 0;
    goto out;
bad:
    fail(r, REPORT_INVALID, "%s: %s", p ? p->file : "--relay", err);
out:
    free(v);
    return rc;
}

/* The key file as `echo KEY > file` writes it (with its newline), created
 * 0600 and never readable by others, even for a moment. */
static int write_key_file(struct run *r, struct replica *rp, char *err, size_t errlen)
{
    unlink(rp->key_path);
    int fd = open(rp->key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create the key file: %s", rp->key_path, strerror(errno));
        return -1;
    }
    char line[sizeof r->api_key + 1];
    int n = snprintf(line, sizeof line, "%s\n", r->api_key);
    int ok = write(fd, line, (size_t)n) == n;
    memset(line, 0, sizeof line);
    if (close(fd) != 0 || !ok) {
        snprintf(err, errlen, "%s: cannot write the key file", rp->key_path);
        unlink(rp->key_path);
        return -1;
    }
    return 0;
}

static int spawn_relay(struct run *r, struct replica *rp)
{
    char **argv = NULL, *script = NULL;
    char *envs[HARNESS_PROFILE_MAX_ENV + 4] = {0}; /* + api_key_env, the key, the config, NULL */
    int n_env = 0, rc = -1;
    char err[1024];
    if (write_key_file(r, rp, err, sizeof err) != 0) {
        fail(r, REPORT_ERROR, "%s", err);
        goto out;
    }
    if (r->o->profile || r->o->relay_cmd) {
        if (relay_command(r, rp, &argv, &script, envs, &n_env, err, sizeof err) != 0)
            goto out;
    } else {
        char *def[] = {(char *)r->o->relay_bin, "--config", rp->config_path, "--events",
                       rp->events_path,         NULL};
        argv = co_calloc(sizeof def / sizeof def[0], sizeof *argv);
        for (size_t i = 0; def[i]; i++)
            argv[i] = co_strdup(def[i]);
    }
    /* cutover-relay started as the default takes the key from the file
     * only, so a relay that reads the file wrong sends no key or a wrong
     * one (forwarded, part key); other relays get it in the environment
     * too, as they always have. */
    if (r->o->profile || r->o->relay_cmd)
        envs[n_env++] = co_asprintf("HOLYSHEEP_API_KEY=%s", r->api_key);
    else
        envs[n_env++] = co_asprintf("HOLYSHEEP_API_KEY_FILE=%s", rp->key_path);
    /* A raw command gets the scenario's settings file by name too; a relay
     * that reads it (cutover-relay) says so, see raw_config_read. */
    if (!r->o->profile && r->o->relay_cmd)
        envs[n_env++] = co_asprintf("CUTOVER_CONFIG=%s", rp->config_path);
    struct harness_spawn sp = {.argv = argv,
                               .script = script,
                               .out_path = rp->out_path,
                               .err_path = rp->err_path,
                               .env = envs,
                               .unset = clear_env,
                               .cwd = rp->cwd,
                               .stop_signal = r->o->profile ? r->o->profile->stop_signal : SIGTERM};
    pid_t pid = harness_spawn(&sp, err, sizeof err);
    if (pid < 0) {
        const char *hint = argv ? harness_install_hint(argv[0]) : NULL;
        fail(r, REPORT_ERROR, "%s%s%s", err, hint ? "; install it with " : "", hint ? hint : "");
        goto out;
    }
    rp->pid = pid;
    rc = 0;
out:
    harness_argv_free(&argv);
    free(script);
    for (int i = 0; i < n_env; i++)
        free(envs[i]);
    return rc;
}

static void reap_one(struct replica *rp)
{
    if (rp->pid <= 0 || rp->exited)
        return;
    int st;
    pid_t w = waitpid(rp->pid, &st, WNOHANG);
    if (w == rp->pid) {
        rp->exited = 1;
        rp->status = st;
        rp->t_exit = co_now_us();
    }
}

static void reap(struct run *r)
{
    for (int i = 0; i < r->n_rep; i++)
        reap_one(&r->rep[i]);
}

/* SIGTERM to every replica's group, a bounded wait, then SIGKILL; always
 * reaps.  All are asked at once: a fleet drains in parallel. */
static void stop_relay(struct run *r)
{
    int sig = r->o->profile ? r->o->profile->stop_signal : SIGTERM;
    uint64_t now = co_now_us();
    for (int i = 0; i < r->n_rep; i++) {
        struct replica *rp = &r->rep[i];
        if (rp->pid <= 0)
            continue;
        if (rp->stopped)
            kill(-rp->pid, SIGCONT);
        if (rp->exited)
            continue;
        if (!rp->t_term)
            rp->t_term = now;
        /* The profile's graceful stop (nginx: QUIT, HAProxy: USR1). */
        kill(-rp->pid, sig);
    }
    uint64_t until = co_now_us() + 3000000;
    for (int i = 0; i < r->n_rep; i++) {
        struct replica *rp = &r->rep[i];
        while (rp->pid > 0 && !rp->exited && co_now_us() < until) {
            reap_one(rp);
            if (!rp->exited)
                co_sleep_us(5000);
        }
    }
    for (int i = 0; i < r->n_rep; i++) {
        struct replica *rp = &r->rep[i];
        if (rp->pid <= 0)
            continue;
        /* Whatever the relay left in its group goes too. */
        kill(-rp->pid, SIGKILL);
        if (!rp->exited) {
            int st;
            waitpid(rp->pid, &st, 0);
            rp->exited = 1;
            rp->status = st;
            rp->t_exit = co_now_us();
        }
    }
}

static void describe_exit(int st, char *out, size_t n)
{
    if (WIFEXITED(st))
        snprintf(out, n, "exited with status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(out, n, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        snprintf(out, n, "stopped");
}

/* ---- readiness --------------------------------------------------------------- */

static size_t discard(char *d, size_t s, size_t n, void *u)
{
    return s * n;
}

static size_t probe_body(char *d, size_t s, size_t n, void *u)
{
    struct probe_xfer *p = u;
    size_t k = s * n, room = sizeof p->body - 1 - p->len;
    memcpy(p->body + p->len, d, k < room ? k : room);
    p->len += k < room ? k : room;
    p->body[p->len] = '\0';
    return s * n;
}

static void probe_done(struct harness_xfer *x, CURL *easy, CURLcode rc)
{
    struct probe_xfer *p = (struct probe_xfer *)x;
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    /* A health endpoint of the relay's own reports its state (active_env);
     * a relay that forwards /health shows the upstream's answer instead. */
    if (rc == CURLE_OK && strcmp(p->run->ready_path, "/health") == 0 &&
        strstr(p->body, "\"active_env\"") && p->rp->index == 0)
        p->run->obs.seen.health_status = (int)code;
    curl_easy_cleanup(easy);
    curl_slist_free_all(p->hdrs);
    struct run *r = p->run;
    struct replica *rp = p->rp;
    rp->probe = NULL;
    free(p);
    /* A relay that was running before our mocks came up may still think
     * both colours are down: give it up to 2 s to answer 2xx (its health
     * checks catch up), then take any answer as ready. */
    int want_2xx = r->o->relay_url && co_now_us() < r->t_first_probe + 2000000;
    if (rc == CURLE_OK && code > 0 && r->phase == PH_START && (!want_2xx || code / 100 == 2))
        rp->ready = 1;
    int all = 1;
    for (int i = 0; i < r->n_rep; i++)
        all &= r->rep[i].ready;
    r->ready = all;
    if (r->ready)
        raw_config_read(r);
}

static void start_probe(struct run *r, struct replica *rp)
{
    struct probe_xfer *p = co_calloc(1, sizeof *p);
    p->base.done = probe_done;
    p->run = r;
    p->rp = rp;
    char url[160];
    harness_v_fmt(url, sizeof url, "%s%s", rp->url, r->ready_path);
    CURL *e = curl_easy_init();
    p->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, p);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 500L);
    /* Marked, so that a relay that passes it on to an upstream's /health
     * does not show the runner's probe as a health check of its own. */
    p->hdrs = curl_slist_append(NULL, MOCK_READY_PROBE_HEADER ": 1");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, p->hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, probe_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
    rp->probe = p;
    rp->last_probe = co_now_us();
    if (!r->t_first_probe)
        r->t_first_probe = rp->last_probe;
    co_evcurl_add(&r->curl, e);
}

static void find_url(struct replica *rp)
{
    char *out = read_file(rp->out_path, 8192, NULL);
    if (!out)
        return;
    char *p = strstr(out, "http://127.0.0.1:");
    if (p) {
        int port = atoi(p + strlen("http://127.0.0.1:"));
        if (port > 0) {
            rp->port = port;
            snprintf(rp->url, sizeof rp->url, "http://127.0.0.1:%d", port);
        }
    }
    free(out);
}

/* ---- timeline ----------------------------------------------------------------- */

static void admin_done(struct harness_xfer *x, CURL *easy, CURLcode rc)
{
    struct admin_xfer *a = (struct admin_xfer *)x;
    struct run *r = a->run;
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    r->obs.admin_calls++;
    /* A call without the right token must be refused; a refusal that came
     * as 2xx is the relay letting anyone switch it. */
    int refuse = r->s->steps[a->step].admin_token != HARNESS_ADMIN_TOKEN;
    int ok = rc == CURLE_OK && (refuse ? code == 401 || code == 403 : code >= 200 && code <= 299);
    if (!ok) {
        /* The scenario's premise (a cutover, a rollback, a refusal) did not
         * happen: the admin_ok check turns this into a failure instead of a
         * silent pass. */
        if (!r->obs.admin_failed++)
            snprintf(r->obs.admin_error, sizeof r->obs.admin_error, "%s %s (step %d%s) %s %ld",
                     r->s->steps[a->step].admin_method, r->s->steps[a->step].admin_path, a->step,
                     refuse ? ", without the token: expected 401 or 403" : "",
                     rc ? curl_easy_strerror(rc) : "answered", code);
    }
    const char *to = json_string_value(json_object_get(r->s->steps[a->step].admin_body, "to"));
    if (ok && !refuse && to && r->obs.n_admin_switches < 16) {
        int k = r->obs.n_admin_switches++;
        r->obs.admin_switches[k].t = co_now_us();
        snprintf(r->obs.admin_switches[k].to, sizeof r->obs.admin_switches[k].to, "%s", to);
        r->obs.admin_switches[k].replica = r->s->steps[a->step].replica;
    }
    curl_easy_cleanup(easy);
    curl_slist_free_all(a->hdrs);
    for (struct admin_xfer **p = &r->admins; *p; p = &(*p)->next)
        if (*p == a) {
            *p = a->next;
            break;
        }
    r->admin_inflight--;
    free(a);
}

/* When step i is due: at its time, or for one that waits for the traffic
 * ("at": {"after": "traffic"}) its delay after the last answer (UINT64_MAX
 * while requests are outstanding). */
static uint64_t step_due(const struct run *r, int i)
{
    const struct harness_step *st = &r->s->steps[i];
    if (!st->after_traffic)
        return r->t0 + st->at_us;
    return r->t_traffic_done ? r->t_traffic_done + st->after_delay_us : UINT64_MAX;
}

static void signal_replica(struct run *r, struct replica *rp, int kind, uint64_t now)
{
    if (rp->pid <= 0 || rp->exited)
        return;
    int sig = kind == HARNESS_SIG_STOP   ? SIGSTOP
              : kind == HARNESS_SIG_CONT ? SIGCONT
              : kind == HARNESS_SIG_TERM ? SIGTERM
                                         : SIGKILL;
    if (sig == SIGTERM && !rp->t_term)
        rp->t_term = now;
    kill(-rp->pid, sig);
    /* A frozen replica asked to stop is woken to handle it, as systemd
     * does (SIGTERM then SIGCONT): else it stayed frozen until the
     * teardown's SIGKILL and never drained. */
    if (rp->stopped && sig == SIGTERM)
        kill(-rp->pid, SIGCONT);
    rp->stopped = sig == SIGSTOP;
    if (sig == SIGKILL)
        rp->killed = 1;
}

/* A fleet step: one replica's process, or the fleet's Redis. */
static void fleet_step(struct run *r, const struct harness_step *st, uint64_t now)
{
    static const int replica_sig[] = {
        [HARNESS_REPLICA_STOP] = HARNESS_SIG_TERM,
        [HARNESS_REPLICA_KILL] = HARNESS_SIG_KILL,
        [HARNESS_REPLICA_PAUSE] = HARNESS_SIG_STOP,
        [HARNESS_REPLICA_RESUME] = HARNESS_SIG_CONT,
    };
    char err[512];
    switch (st->fleet_action) {
    case HARNESS_REPLICA_STOP:
    case HARNESS_REPLICA_KILL:
        r->rep[st->replica].ended = 1;
        /* fall through */
    case HARNESS_REPLICA_PAUSE:
    case HARNESS_REPLICA_RESUME:
        signal_replica(r, &r->rep[st->replica], replica_sig[st->fleet_action], now);
        break;
    case HARNESS_REDIS_PAUSE:
    case HARNESS_REDIS_RESUME:
        harness_redis_pause(&r->redis, st->fleet_action == HARNESS_REDIS_PAUSE);
        break;
    case HARNESS_REDIS_STOP:
        harness_redis_kill(&r->redis);
        break;
    case HARNESS_REDIS_START:
        /* Same port: the replicas reconnect to the address they were given.
         * Not waited for (the loop must not block); they retry with backoff. */
        if (r->redis.pid <= 0 && harness_redis_start(&r->redis, r->dir, 0, err, sizeof err) != 0)
            co_warn("timeline: redis_start: %s", err);
        break;
    }
}

static void run_step(struct run *r, int i)
{
    const struct harness_step *st = &r->s->steps[i];
    struct harness_obs *o = &r->obs;
    uint64_t now = co_now_us();
    if (o->n_marks < sizeof o->marks / sizeof o->marks[0]) {
        struct harness_mark *m = &o->marks[o->n_marks++];
        if (st->mark[0])
            snprintf(m->name, sizeof m->name, "%s", st->mark);
        else
            snprintf(m->name, sizeof m->name, "step%d", i);
        m->t = now;
    }
    uint64_t planned = step_due(r, i);
    if (now > planned && now - planned > o->step_late_us)
        o->step_late_us = now - planned;
    for (int c = 0; c < 2; c++) {
        if (!st->behavior[c] || !r->mock[c])
            continue;
        char err[512];
        if (mock_set_behavior(r->mock[c], st->behavior[c], err, sizeof err) != 0)
            co_warn("timeline step %d: %s", i, err);
    }
    struct replica *rp = &r->rep[st->replica < r->n_rep ? st->replica : 0];
    if (st->admin_method[0] && rp->url[0]) {
        struct admin_xfer *a = co_calloc(1, sizeof *a);
        a->base.done = admin_done;
        a->run = r;
        a->step = i;
        char url[200], h[128];
        snprintf(url, sizeof url, "%s%s", rp->url, st->admin_path);
        if (st->admin_token == HARNESS_ADMIN_WRONG)
            snprintf(h, sizeof h, "Authorization: Bearer not-%s", r->admin_token);
        else if (st->admin_token == HARNESS_ADMIN_LONGER)
            snprintf(h, sizeof h, "Authorization: Bearer %s-not", r->admin_token);
        else
            snprintf(h, sizeof h, "Authorization: Bearer %s", r->admin_token);
        if (st->admin_token != HARNESS_ADMIN_NONE)
            a->hdrs = curl_slist_append(NULL, h);
        a->hdrs = curl_slist_append(a->hdrs, "Content-Type: application/json");
        char *body = json_dumps(st->admin_body, JSON_COMPACT);
        CURL *e = curl_easy_init();
        a->easy = e;
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, st->admin_method);
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body ? body : "{}");
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, a->hdrs);
        curl_easy_setopt(e, CURLOPT_PRIVATE, a);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 2000L);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
        free(body);
        r->admin_inflight++;
        a->next = r->admins;
        r->admins = a;
        co_evcurl_add(&r->curl, e);
    }
    if (st->probe && rp->url[0]) {
        long answered = 0;
        for (size_t q = 0; q < r->traffic.n_reqs; q++)
            answered += r->traffic.reqs[q].t_done != 0;
        char name[64]; /* the step's mark, as the marks above name it */
        if (st->mark[0])
            snprintf(name, sizeof name, "%s", st->mark);
        else
            snprintf(name, sizeof name, "step%d", i);
        for (int k = 0; k < HARNESS_PROBE_N; k++)
            if (st->probe & (1u << k))
                harness_probe_send(&r->prober, rp->url, k, name, r->traffic.inflight, answered);
    }
    if (st->sig)
        signal_replica(r, rp, st->sig, now);
    if (st->fleet_action)
        fleet_step(r, st, now);
}

static void maybe_settle(struct run *r);

static void arm_steps(struct run *r)
{
    if (r->next_step >= r->s->n_steps) {
        maybe_settle(r);
        return;
    }
    uint64_t at = step_due(r, r->next_step), now = co_now_us();
    if (at == UINT64_MAX)
        return; /* on_traffic_finished arms it */
    ev_timer_set(&r->steps, at > now ? (double)(at - now) / 1e6 : 0, 0);
    ev_timer_start(r->loop, &r->steps);
}

static void on_steps(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct run *r = w->data;
    uint64_t now = co_now_us();
    while (r->next_step < r->s->n_steps && step_due(r, r->next_step) <= now + 200)
        run_step(r, r->next_step++);
    arm_steps(r);
}

static void on_settle(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct run *r = w->data;
    if (r->admin_inflight > 0 || r->prober.inflight > 0) {
        ev_timer_set(w, 0.01, 0);
        ev_timer_start(loop, w);
        return;
    }
    r->phase = PH_DONE;
    ev_break(loop, EVBREAK_ALL);
}

static void maybe_settle(struct run *r)
{
    if (r->phase != PH_RUN || !r->traffic.finished || r->next_step < r->s->n_steps)
        return;
    r->phase = PH_SETTLE;
    ev_timer_set(&r->settle, (double)r->s->settle_us / 1e6, 0);
    ev_timer_start(r->loop, &r->settle);
}

static void on_traffic_finished(struct harness_traffic *t)
{
    struct run *r = t->data;
    r->t_traffic_done = co_now_us();
    /* Steps waiting for the traffic (probes after it) are due now. */
    if (r->next_step < r->s->n_steps && r->s->steps[r->next_step].after_traffic) {
        arm_steps(r);
        return;
    }
    maybe_settle(r);
}

static void begin_run(struct run *r)
{
    /* Who answered the ready probe: the relay, or a process that took the
     * port first (only asked of a relay we started on a port we chose). */
    for (int i = 0; i < r->n_rep; i++)
        if (r->rep[i].pid > 0 && !r->o->relay_url)
            r->rep[i].port_stranger =
                harness_port_owner_in_group(r->rep[i].port, r->rep[i].pid) == 0;
    r->phase = PH_RUN;
    r->t0 = co_now_us() + 20000;
    r->obs.t0 = r->t0;
    r->t_hard_deadline = r->t0 + r->s->timeout_us;
    char prefix[16];
    snprintf(prefix, sizeof prefix, "r%llx", (unsigned long long)(r->o->seed % 0xfffff));
    harness_traffic_init(&r->traffic, r->loop, &r->curl, r->s, r->rep[0].url, prefix, r->o->seed);
    if (r->o->profile) {
        snprintf(r->traffic.chat_path, sizeof r->traffic.chat_path, "%s", r->o->profile->req_path);
        snprintf(r->traffic.chat_method, sizeof r->traffic.chat_method, "%s",
                 r->o->profile->req_method);
    }
    if (r->n_rep > 1) {
        char urls[HARNESS_MAX_REPLICAS][96];
        for (int i = 0; i < r->n_rep; i++)
            snprintf(urls[i], sizeof urls[i], "%s", r->rep[i].url);
        harness_traffic_set_replicas(&r->traffic, (const char(*)[96])urls, r->n_rep, r->spread,
                                     r->o->seed);
    }
    r->traffic.on_finished = on_traffic_finished;
    r->traffic.secret = r->api_key;
    r->traffic.data = r;
    r->traffic_started = 1;
    harness_traffic_start(&r->traffic, r->t0);
    arm_steps(r);
}

/* Progress for the console: counts over the client log so far (at most
 * HARNESS_MAX_REQUESTS entries, a few times a second). */
static void progress_tick(struct run *r, uint64_t now)
{
    struct report_progress p = {.name = r->s->name,
                                .elapsed_us = now > r->t0 ? now - r->t0 : 0,
                                .total_us = harness_scenario_span_us(r->s),
                                .serving = "",
                                .settling = r->phase == PH_SETTLE};
    const struct harness_traffic *t = &r->traffic;
    uint64_t latest = 0;
    p.sent = (long)t->n_reqs;
    for (size_t i = 0; i < t->n_reqs; i++) {
        const struct harness_req *q = &t->reqs[i];
        if (!q->t_done)
            continue;
        p.done++;
        p.failed += q->status != 200 || q->curl_rc != 0;
        if (q->t_done >= latest && q->served[0]) {
            latest = q->t_done;
            p.serving = q->served;
        }
    }
    r->o->progress(r->o->progress_ctx, &p);
}

/* "the relay", or "replica 2" in a fleet. */
static void replica_name(const struct run *r, const struct replica *rp, char *out, size_t n)
{
    if (r->n_rep > 1)
        snprintf(out, n, "replica %d", rp->index);
    else
        snprintf(out, n, "the relay");
}

/* Before t0: every replica must come up; each is probed until it answers. */
static void poll_start(struct run *r, uint64_t now)
{
    for (int i = 0; i < r->n_rep; i++) {
        struct replica *rp = &r->rep[i];
        char who[32];
        replica_name(r, rp, who, sizeof who);
        if (rp->exited) {
            char d[96];
            describe_exit(rp->status, d, sizeof d);
            /* Another process took the port chosen for it before its bind
             * (the relay dies faster than a ready probe finds the
             * stranger): no verdict on the relay, run again (jobs.c). */
            if (rp->pid > 0 && rp->port > 0 && !r->o->relay_url &&
                harness_port_owner_in_group(rp->port, rp->pid) == 0) {
                fail(r, REPORT_ERROR,
                     "%s %s before it was ready while another process listened on its port %d "
                     "(see relay.err)",
                     who, d, rp->port);
                r->port_taken = 1;
                return;
            }
            fail(r, REPORT_ERROR, "%s %s before it was ready", who, d);
            return;
        }
        if (now > r->t_start_deadline) {
            fail(r, REPORT_ERROR, "%s was not ready within %.1f s (no answer on %s/health)", who,
                 5.0 * r->o->time_scale, rp->url[0] ? rp->url : "its port");
            return;
        }
        if (!rp->url[0])
            find_url(rp);
    }
    if (r->ready) {
        begin_run(r);
        return;
    }
    for (int i = 0; i < r->n_rep; i++) {
        struct replica *rp = &r->rep[i];
        if (rp->url[0] && !rp->ready && !rp->probe && now - rp->last_probe > 20000)
            start_probe(r, rp);
    }
}

static void on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct run *r = w->data;
    uint64_t now = co_now_us();
    if (interrupted) {
        fail(r, REPORT_ERROR, "interrupted (SIGINT, SIGTERM or SIGHUP)");
        return;
    }
    reap(r);
    /* A relay that died while another process held its port never served
     * the traffic: whatever answered was the stranger, so no check may
     * judge it (a busy machine reuses ephemeral ports; the relay's bind
     * failed with "Address already in use"). */
    for (int i = 0; r->phase != PH_START && r->phase != PH_DONE && i < r->n_rep; i++) {
        const struct replica *rp = &r->rep[i];
        if (!rp->exited || !rp->port_stranger || rp->killed || rp->ended)
            continue;
        char d[96];
        describe_exit(rp->status, d, sizeof d);
        fail(r, REPORT_ERROR,
             "the relay %s while another process listened on its port %d (the answers "
             "came from that process, not the relay: see relay.err)",
             d, rp->port);
        r->port_taken = 1;
        return;
    }
    if (r->phase == PH_START) {
        poll_start(r, now);
        return;
    }
    if (r->o->progress && r->traffic_started && now - r->last_progress >= 200000) {
        r->last_progress = now;
        progress_tick(r, now);
    }
    if (r->phase != PH_DONE && now > r->t_hard_deadline) {
        fail(r, REPORT_ERROR, "hard timeout: the scenario did not finish within %.1f s",
             (double)r->s->timeout_us / 1e6);
        return;
    }
}

/* ---- collection ---------------------------------------------------------------- */

/* What reached the upstream, for the forwarded and connection_reuse checks.
 * The header id is kept apart from the id the correlation found (which may
 * have come from the body): only a header proves the relay forwarded it. */
static void journal_forwarded(struct harness_att *a, const json_t *rec)
{
    const char *from = json_string_value(json_object_get(rec, "id_via"));
    const char *hid = json_string_value(json_object_get(rec, "request_id"));
    if (hid && (!from || strcmp(from, "header") == 0))
        snprintf(a->hdr_id, sizeof a->hdr_id, "%s", hid);
    const char *user = json_string_value(json_object_get(rec, "user"));
    snprintf(a->user, sizeof a->user, "%s", user ? user : "");
    const char *model = json_string_value(json_object_get(rec, "model"));
    snprintf(a->model, sizeof a->model, "%s", model ? model : "");
    const char *ans_model = json_string_value(json_object_get(rec, "answer_model"));
    snprintf(a->ans_model, sizeof a->ans_model, "%s", ans_model ? ans_model : "");
    a->stream = json_is_true(json_object_get(rec, "stream"));
    json_t *mt = json_object_get(rec, "max_tokens");
    a->max_tokens = json_is_integer(mt) ? (long)json_integer_value(mt) : -1;
    const char *h = json_string_value(json_object_get(rec, "messages_hash"));
    a->msg_hash = h ? strtoull(h, NULL, 16) : 0;
    const char *fields = json_string_value(json_object_get(rec, "fields"));
    snprintf(a->fields, sizeof a->fields, "%s", fields ? fields : "");
    const char *key = json_string_value(json_object_get(rec, "key"));
    snprintf(a->key, sizeof a->key, "%s", key ? key : "");
    a->conn = (uint64_t)json_integer_value(json_object_get(rec, "conn"));
    const char *xenv = json_string_value(json_object_get(rec, "env"));
    snprintf(a->x_env, sizeof a->x_env, "%s", xenv ? xenv : "");
    /* What the mock counted (answer checks); -1 when it says nothing. */
    json_t *u = json_object_get(rec, "usage");
    json_t *pt = json_object_get(u, "prompt_tokens"), *ct = json_object_get(u, "completion_tokens");
    a->prompt_tokens = json_is_integer(pt) ? (long)json_integer_value(pt) : -1;
    a->completion_tokens = json_is_integer(ct) ? (long)json_integer_value(ct) : -1;
    const char *fin = json_string_value(json_object_get(rec, "finish_reason"));
    snprintf(a->finish, sizeof a->finish, "%s", fin ? fin : "");
}

static void collect_journal(struct run *r, int c, const char *name)
{
    if (!r->mock[c])
        return;
    json_t *j = mock_journal(r->mock[c], 0);
    char path[700];
    snprintf(path, sizeof path, "%s/journal-%s.json", r->dir, name);
    json_dump_file(j, path, JSON_INDENT(1));
    struct harness_obs *o = &r->obs;
    size_t n = json_array_size(j);
    o->atts = co_realloc(o->atts, (o->n_atts + n + 1) * sizeof *o->atts);
    size_t i;
    json_t *rec;
    json_array_foreach(j, i, rec)
    {
        /* The runner's own ready probe, passed on by the relay: no attempt
         * and no health check of the relay's (the journal file keeps it). */
        if (json_is_true(json_object_get(rec, "ready_probe"))) {
            o->ready_probes_forwarded++;
            continue;
        }
        struct harness_att *a = &o->atts[o->n_atts++];
        memset(a, 0, sizeof *a);
        const char *id = json_string_value(json_object_get(rec, "request_id"));
        if (!id || !*id)
            id = json_string_value(json_object_get(rec, "user"));
        snprintf(a->req_id, sizeof a->req_id, "%s", id ? id : "");
        const char *via = json_string_value(json_object_get(rec, "id_via"));
        snprintf(a->id_via, sizeof a->id_via, "%s", via ? via : (id && *id ? "user" : ""));
        snprintf(a->env, sizeof a->env, "%s", name);
        const char *path_s = json_string_value(json_object_get(rec, "path"));
        snprintf(a->path, sizeof a->path, "%s", path_s ? path_s : "");
        a->health = strcmp(a->path, "/health") == 0 || strcmp(a->path, "/v1/health") == 0;
        a->attempt = (int)json_integer_value(json_object_get(rec, "attempt"));
        a->status = (int)json_integer_value(json_object_get(rec, "status"));
        a->t_arrival = (uint64_t)json_integer_value(json_object_get(rec, "t_arrival_us"));
        a->t_done = (uint64_t)json_integer_value(json_object_get(rec, "t_done_us"));
        const char *end = json_string_value(json_object_get(rec, "end"));
        snprintf(a->end, sizeof a->end, "%s", end ? end : "");
        const char *act = json_string_value(json_object_get(rec, "action"));
        snprintf(a->action, sizeof a->action, "%s", act ? act : "");
        journal_forwarded(a, rec);
    }
    json_decref(j);
}

struct events_ctx {
    struct harness_obs *o;
    size_t cap; /* of o->evs */
    int replica;
};

/* One event of a replica's log into the observations, marked with it. */
static void on_event(const json_t *e, void *ctx)
{
    struct events_ctx *c = ctx;
    struct harness_obs *o = c->o;
    if (o->n_evs == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        o->evs = co_realloc(o->evs, c->cap * sizeof *o->evs);
    }
    struct harness_ev *ev = &o->evs[o->n_evs++];
    memset(ev, 0, sizeof *ev);
    ev->t = (uint64_t)json_integer_value(json_object_get(e, "t_us"));
    static const struct {
        const char *key;
        size_t off, len;
    } strs[] = {
        {"type", offsetof(struct harness_ev, type), sizeof ev->type},
        {"from", offsetof(struct harness_ev, from), sizeof ev->from},
        {"to", offsetof(struct harness_ev, to), sizeof ev->to},
        {"env", offsetof(struct harness_ev, env), sizeof ev->env},
        {"reason", offsetof(struct harness_ev, reason), sizeof ev->reason},
        {"request_id", offsetof(struct harness_ev, req_id), sizeof ev->req_id},
        {"outcome", offsetof(struct harness_ev, outcome), sizeof ev->outcome},
    };
    for (size_t k = 0; k < sizeof strs / sizeof strs[0]; k++) {
        const char *v = json_string_value(json_object_get(e, strs[k].key));
        if (v)
            snprintf((char *)ev + strs[k].off, strs[k].len, "%s", v);
    }
    ev->healthy = json_is_true(json_object_get(e, "healthy"));
    ev->status = (int)json_integer_value(json_object_get(e, "status"));
    ev->attempt = (int)json_integer_value(json_object_get(e, "attempt"));
    ev->backoff_ms = (long)json_integer_value(json_object_get(e, "backoff_ms"));
    json_t *na = json_object_get(e, "attempts");
    ev->attempts = json_is_integer(na) ? (int)json_integer_value(na) : -1;
    ev->replica = c->replica;
    /* A start names the colour the replica starts on: kept as "to", as if
     * it had switched to it (the fleet checks read both). */
    const char *active = json_string_value(json_object_get(e, "active"));
    if (active && strcmp(ev->type, "start") == 0 && !ev->to[0])
        snprintf(ev->to, sizeof ev->to, "%s", active);
}

/* One replica's event log into o (appended), at most 16 MB of it, through
 * co_jsonl_each (the reader the HTML report uses too).  Returns whether
 * the replica wrote one. */
static int collect_events_of(struct harness_obs *o, const struct replica *rp)
{
    struct events_ctx c = {.o = o, .cap = o->n_evs, .replica = rp->index};
    return co_jsonl_each(rp->events_path, SIZE_MAX, 16u << 20, on_event, &c) == 0;
}

/* Merges the replicas' logs, each in file (time) order, into one time
 * order: a k-way merge keeps each log's own order for equal times, which a
 * sort would not promise. */
static void merge_events(struct harness_obs *o, const size_t *start, int n)
{
    struct harness_ev *out = co_calloc(o->n_evs + 1, sizeof *out);
    size_t pos[HARNESS_MAX_REPLICAS];
    for (int i = 0; i < n; i++)
        pos[i] = start[i];
    for (size_t k = 0; k < o->n_evs; k++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (pos[i] < start[i + 1] && (best < 0 || o->evs[pos[i]].t < o->evs[pos[best]].t))
                best = i;
        out[k] = o->evs[pos[best]++];
    }
    free(o->evs);
    o->evs = out;
}

/* Every replica's event log; have_events when each wrote one. */
static void collect_events(struct run *r)
{
    struct harness_obs *o = &r->obs;
    int all = r->n_rep > 0;
    size_t start[HARNESS_MAX_REPLICAS + 1];
    _Static_assert(HARNESS_MAX_REPLICAS <= sizeof o->replica_events / sizeof o->replica_events[0],
                   "one flag per replica");
    for (int i = 0; i < r->n_rep; i++) {
        start[i] = o->n_evs;
        o->replica_events[i] = collect_events_of(o, &r->rep[i]);
        all &= o->replica_events[i];
    }
    start[r->n_rep] = o->n_evs;
    o->have_events = all;
    if (r->n_rep > 1 && o->n_evs > 1)
        merge_events(o, start, r->n_rep);
}

/* The relay's stderr lines, for relay_stderr_lines (a relay told to log
 * only errors says nothing on a healthy run). */
static void count_stderr(struct run *r, const char *path)
{
    char *buf = read_file(path, 16u << 20, NULL);
    if (!buf)
        return;
    struct harness_obs *o = &r->obs;
    o->stderr_read++;
    for (char *line = buf, *nl; *line; line = nl ? nl + 1 : line + strlen(line)) {
        nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len == 0)
            continue;
        if (o->stderr_lines++ > 0)
            continue;
        /* The whole line is searched, not the copy: a key past the copy's
         * end would leave its start in it, found by no search for the key. */
        if (memmem(line, len, r->api_key, strlen(r->api_key)))
            snprintf(o->stderr_first, sizeof o->stderr_first, "(a line holding the upstream key)");
        else
            snprintf(o->stderr_first, sizeof o->stderr_first, "%.*s",
                     (int)(len < sizeof o->stderr_first ? len : sizeof o->stderr_first - 1), line);
    }
    free(buf);
}

static void scan_leak(struct run *r, const char *path, const char *what)
{
    char *buf = read_file(path, 16u << 20, NULL);
    if (!buf)
        return;
    r->obs.leak_scanned++;
    if (strstr(buf, r->api_key)) {
        r->obs.secret_leaks++;
        size_t len = strlen(r->obs.leak_where);
        snprintf(r->obs.leak_where + len, sizeof r->obs.leak_where - len, "%s%s", len ? ", " : "",
                 what);
    }
    free(buf);
}

/* The key in what a client received (headers or body of any answer). */
static void count_answer_leaks(struct run *r)
{
    long n = 0;
    const char *first = NULL;
    for (size_t i = 0; i < r->obs.n_reqs; i++)
        if (r->obs.reqs[i].leaked) {
            n++;
            if (!first)
                first = r->obs.reqs[i].id;
        }
    if (!n)
        return;
    r->obs.secret_leaks++;
    size_t len = strlen(r->obs.leak_where);
    snprintf(r->obs.leak_where + len, sizeof r->obs.leak_where - len,
             "%s%ld client answers (first: %s)", len ? ", " : "", n, first);
}

/* s as a JSON string literal (malloc'd): the relay's bytes (its X-Served-By,
 * its Content-Type) may hold quotes, backslashes or control characters. */
static char *json_literal(const char *s)
{
    json_t *j = json_string(s);
    char *out = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    return out ? out : co_strdup("\"\"");
}

/* The rest of a client log line: the request's template and the answer as
 * the client read it (the answer checks' evidence), then the line's end. */
static void answer_log(FILE *f, const struct harness_req *q)
{
    json_t *o = json_object();
    json_object_set_new(o, "template", q->tpl >= 0 ? json_string(q->tpl_name) : json_null());
    json_object_set_new(o, "raw_body", json_boolean(q->raw));
    if (q->body_cut)
        json_object_set_new(o, "body_cut", json_true());
    json_object_set_new(o, "error_type", q->err_type[0] ? co_json_str(q->err_type) : json_null());
    json_object_set_new(o, "error_code", q->err_code[0] ? co_json_str(q->err_code) : json_null());
    json_object_set_new(o, "finish_reason", q->finish[0] ? co_json_str(q->finish) : json_null());
    json_object_set_new(o, "model", q->ans_model[0] ? co_json_str(q->ans_model) : json_null());
    json_object_set_new(o, "usage",
                        q->usage_seen
                            ? json_pack("{s:I, s:I}", "prompt_tokens", (json_int_t)q->usage_prompt,
                                        "completion_tokens", (json_int_t)q->usage_completion)
                            : json_null());
    json_object_set_new(o, "text_len", json_integer((json_int_t)q->text_len));
    json_object_set_new(o, "text", co_json_str(q->text));
    char *s = json_dumps(o, JSON_COMPACT);
    /* The object's members, after the fixed ones already written. */
    fprintf(f, "%.*s}\n", s ? (int)strlen(s) - 2 : 0, s ? s + 1 : "");
    free(s);
    json_decref(o);
}

static void write_client_log(struct run *r)
{
    char path[700];
    snprintf(path, sizeof path, "%s/requests.jsonl", r->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    const struct harness_obs *o = &r->obs;
    for (size_t i = 0; i < o->n_reqs; i++) {
        const struct harness_req *q = &o->reqs[i];
        char *ctj = json_literal(q->ctype), *svj = json_literal(q->served);
        fprintf(f,
                "{\"id\":\"%s\",\"phase\":%d,\"t_sched_us\":%llu,\"t_sent_us\":%llu,"
                "\"t_first_us\":%llu,\"t_done_us\":%llu,\"status\":%ld,\"curl\":%d,"
                "\"served\":%s,\"attempts\":%d,\"retry_after_ms\":%ld,\"ratelimit_hdrs\":%d,"
                "\"done_marker\":%s,\"inband_error\":%s,\"outcome\":\"%s\",\"ctype\":%s,"
                "\"should_retry\":%d,\"retry_after_s_hdr\":%ld,\"retry_after_ms_hdr\":%ld,"
                "\"ratelimit_limit\":%ld,\"ratelimit_remaining\":%ld,\"error_shape\":%d,"
                "\"replica\":%d,",
                q->id, q->phase, (unsigned long long)q->t_sched, (unsigned long long)q->t_sent,
                (unsigned long long)q->t_first, (unsigned long long)q->t_done, q->status,
                q->curl_rc, svj, q->attempts_hdr, q->retry_after_ms, q->ratelimit_hdrs,
                q->done_marker ? "true" : "false", q->inband_error ? "true" : "false",
                harness_outcome_name(q->outcome), ctj, q->should_retry, q->ra_s, q->ra_ms,
                q->rl_limit, q->rl_remaining, q->err_shape, q->replica);
        free(ctj);
        free(svj);
        answer_log(f, q);
    }
    fclose(f);
}

/* Whether the replicas are given the fleet's store: a profile that says it
 * takes one ("shared": true), a raw command that names {redis_url}, our own
 * relay; and only when there is a Redis to give. */
static int takes_store(const struct run *r)
{
    if (r->redis.pid <= 0)
        return 0;
    if (r->o->profile)
        return r->o->profile->shared;
    if (r->o->relay_cmd)
        return cmd_names(r->o->relay_cmd, "redis_url") || cmd_names(r->o->relay_cmd, "config");
    return 1;
}

/* A replica's relay config: the scenario's keys over the runner's
 * defaults (runner_defaults). */
static int write_config(struct run *r, const struct replica *rp)
{
    double k = r->o->time_scale > 0 ? r->o->time_scale : 1;
    json_t *cfg =
        json_pack("{s:i, s:s, s:s, s:s, s:s}", "port", 0, "listen", "127.0.0.1", "blue_url",
                  r->colour_url[0], "green_url", r->colour_url[1], "events", rp->events_path);
    for (size_t i = 0; i < sizeof runner_defaults / sizeof runner_defaults[0]; i++)
        json_object_set_new(cfg, runner_defaults[i].key,
                            json_integer((json_int_t)(runner_defaults[i].ms * k)));
    /* The run's seed reaches the relay's jitter and canary picks too, so
     * that --seed reproduces them (the relay takes 0 as "from the clock"). */
    json_int_t relay_seed = (json_int_t)(r->o->seed & INT64_MAX);
    json_object_set_new(cfg, "seed", json_integer(relay_seed ? relay_seed : 1));
    json_object_update(cfg, r->s->relay);
    if (r->mock[2])
        json_object_set_new(cfg, "direct_url", json_string(r->colour_url[2]));
    if (r->s->admin_used && !json_object_get(cfg, "admin_token"))
        json_object_set_new(cfg, "admin_token", json_string(r->admin_token));
    const char *tok = json_string_value(json_object_get(cfg, "admin_token"));
    if (tok)
        snprintf(r->admin_token, sizeof r->admin_token, "%s", tok);
    if (takes_store(r))
        json_object_set_new(cfg, "shared", json_string(r->redis.url));
    int rc = json_dump_file(cfg, rp->config_path, JSON_INDENT(2));
    json_decref(cfg);
    if (rc != 0)
        fail(r, REPORT_ERROR, "%s: cannot write the relay config", rp->config_path);
    return rc;
}

/* Which signals the relay gave (harness/obs.h): the runner knows about the
 * event log, the admin API and the process; the data tells the rest.  The
 * scenario's report carries them as "observability". */
static void observe(struct run *r, struct report_scenario *rs)
{
    struct harness_obs *o = &r->obs;
    const struct harness_profile *p = r->o->profile;
    unsigned base = 0;
    if (o->have_events)
        base |= HARNESS_SIG_EVENTS;
    if (p ? (p->tells & HARNESS_TELLS_ADMIN) != 0 : 1)
        base |= HARNESS_SIG_ADMIN;
    if (!r->o->relay_url)
        base |= HARNESS_SIG_PROCESS;
    /* Our own relay logs on stderr; another says so in its profile. */
    if (!r->o->relay_url && !r->o->relay_cmd && (p ? (p->tells & HARNESS_TELLS_LOG) != 0 : 1))
        base |= HARNESS_SIG_LOG;
    harness_obs_observe(o, base);
    json_decref(rs->observability);
    rs->observability = harness_obs_observability_json(o);
}

/* The runner's own checks judge the process and the harness, not a
 * setting: a setting the relay lacks or has fixed leaves them standing. */
static int runner_own_check(const char *check)
{
    struct harness_check_info k;
    return harness_check_find(check, &k) == 0 && k.about_process;
}

static void status_from_checks(struct report_scenario *rs)
{
    int fail_ = 0, inc = 0, na = 0;
    rs->advisories = 0;
    for (size_t i = 0; i < rs->n_checks; i++) {
        /* The runner's own punctuality explains a failure (and earns a
         * rerun); it is no verdict on the relay by itself. */
        if (strcmp(rs->checks[i].check, HARNESS_ON_TIME_CHECK) == 0)
            continue;
        /* Only required checks decide (docs/scenarios.md, "Severity"): an
         * advisory that did not pass is named, an info check only reports. */
        if (rs->checks[i].severity != REPORT_REQUIRED) {
            rs->advisories += rs->checks[i].severity == REPORT_ADVISORY &&
                              rs->checks[i].status != REPORT_PASS &&
                              rs->checks[i].status != REPORT_NA;
            continue;
        }
        fail_ |= rs->checks[i].status == REPORT_FAIL;
        inc |= rs->checks[i].status == REPORT_INCONCLUSIVE;
        na |= rs->checks[i].status == REPORT_NA;
    }
    /* A scenario passes only when every check about the relay was put to
     * it: one not applicable is a question the relay could not be asked,
     * and the checks that did pass answer a smaller scenario than its name
     * says ("no-failback-in-blue-green-mode" passed on a relay fixed in
     * primary-fallback because its success ratio held).  A failure still
     * fails: what was judged and found wrong stays wrong. */
    rs->status = fail_ ? REPORT_FAIL : inc ? REPORT_INCONCLUSIVE : na ? REPORT_NA : REPORT_PASS;
}

/* A check that depends on a setting the relay has fixed at another value
 * than the scenario needs is not applicable to this relay (docs/profiles.md),
 * distinct from inconclusive: the relay cannot be asked that question. */
static void fixed_not_applicable(struct run *r, struct report_scenario *rs, const char *const *dep)
{
    for (size_t i = 0; i < rs->n_checks; i++) {
        struct report_check *c = &rs->checks[i];
        if (runner_own_check(c->check))
            continue;
        for (size_t u = 0; u < r->n_fixed; u++) {
            const char *kind = dep[i] ? dep[i] : c->fail_as[0] ? c->fail_as : c->check;
            int all = harness_profile_affects(r->fixed[u], kind);
            if (!all && !(c->status == REPORT_FAIL && !c->fail_stands &&
                          harness_check_fail_depends(kind, r->fixed[u])))
                continue;
            char why[160], d[sizeof c->detail];
            harness_profile_fixed_why(r->o->profile, r->fixed[u], why, sizeof why);
            c->status = REPORT_NA;
            harness_v_fmt(d, sizeof d, "not applicable to this relay (%s%s)%s%s", why,
                          all ? "" : ", which can explain this failure", c->detail[0] ? "; " : "",
                          c->detail);
            snprintf(c->detail, sizeof c->detail, "%s", d);
            break;
        }
    }
}

/* A check that depends on a setting the relay could not be given says
 * nothing about the relay: inconclusive, with the setting named, whatever
 * it measured (docs/profiles.md). */
static void unmapped_inconclusive(struct run *r, struct report_scenario *rs, const char *const *dep)
{
    for (size_t i = 0; i < rs->n_checks; i++) {
        struct report_check *c = &rs->checks[i];
        if (runner_own_check(c->check))
            continue;
        for (size_t u = 0; u < r->n_unmapped; u++) {
            const char *k = r->unmapped[u];
            const char *kind = dep[i] ? dep[i] : c->fail_as[0] ? c->fail_as : c->check;
            int all = harness_profile_affects(k, kind);
            if (!all && !(c->status == REPORT_FAIL && !c->fail_stands &&
                          harness_check_fail_depends(kind, k)))
                continue;
            c->status = REPORT_INCONCLUSIVE;
            char d[sizeof c->detail];
            harness_v_fmt(d, sizeof d,
                          "not applicable: relay setting '%s' has no equivalent in %s%s; %s", k,
                          r->o->profile     ? r->o->profile->name
                          : r->o->relay_cmd ? "the --relay command"
                                            : "a running relay",
                          all ? "" : " (it can explain this failure)", c->detail);
            snprintf(c->detail, sizeof c->detail, "%s", d);
            break;
        }
    }
}

/* The relay this run judges, by its profile's name; cutover-relay when the
 * runner starts its own binary without a profile; NULL for a raw command
 * or a relay reached by URL (nobody says what it is). */
static const char *relay_name(const struct run *r)
{
    if (r->o->profile)
        return r->o->profile->name;
    return r->o->relay_cmd || r->o->relay_url ? NULL : "cutover-relay";
}

/* A check with "relay": NAME asks for a promise of that relay's own
 * documentation (its own word for an error, say) that no other relay
 * makes: any other relay cannot be asked it, so it is not applicable there
 * whatever it measured, never a pass or a failure (docs/scenarios.md). */
static void other_relay_not_applicable(struct run *r, struct report_scenario *rs,
                                       const char *const *only)
{
    const char *name = relay_name(r);
    for (size_t i = 0; i < rs->n_checks; i++) {
        struct report_check *c = &rs->checks[i];
        if (!only[i] || (name && strcmp(name, only[i]) == 0))
            continue;
        char d[sizeof c->detail];
        c->status = REPORT_NA;
        harness_v_fmt(d, sizeof d,
                      "not applicable to this relay (%s): a promise of %s's own docs%s%s",
                      name ? name : "a relay without a profile", only[i], c->detail[0] ? "; " : "",
                      c->detail);
        snprintf(c->detail, sizeof c->detail, "%s", d);
    }
}

/* Whether the runner adds check kind k (its row's "added") to this run's
 * scenario: a relay that died, did not shut down cleanly on SIGTERM (the
 * contract: drain, exit 0) or leaked its key fails any scenario; a relay
 * reached by URL is not the runner's process (nothing to watch, and the
 * upstream key it uses is not ours to scan for). */
static int implicit_wanted(const struct run *r, const struct harness_check_info *k, int kills)
{
    switch (k->added) {
    case HARNESS_ADDED_ALWAYS:
        return 1;
    case HARNESS_ADDED_ADMIN:
        return r->s->admin_used;
    case HARNESS_ADDED_LIVE_RELAY:
        return !kills && !r->o->relay_url;
    case HARNESS_ADDED_OWN_RELAY:
        return !r->o->relay_url;
    }
    return 0;
}

static int scenario_asks(const struct harness_scenario *s, const char *kind)
{
    size_t i;
    json_t *c;
    json_array_foreach(s->checks, i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "check")), kind) == 0)
            return 1;
    }
    return 0;
}

/* Runs the checks the runner adds on its own (harness_added): before the
 * scenario's checks those added whatever it asks (harness_on_time: was the
 * runner itself on time?  A stalled runner sends late and reorders steps
 * and traffic: no verdict on the relay), after them the others it does
 * not ask for itself. */
static void run_implicit(struct run *r, struct report_scenario *rs, int before, int kills)
{
    struct harness_check_info k;
    for (size_t i = 0; harness_check_info(i, &k) == 0; i++) {
        int first = k.added == HARNESS_ADDED_ALWAYS || k.added == HARNESS_ADDED_ADMIN;
        if (first != before || !implicit_wanted(r, &k, kills) ||
            (!first && scenario_asks(r->s, k.name)))
            continue;
        json_t *a = json_pack("{s:s}", "check", k.name);
        harness_check_run(a, &r->obs, &rs->checks[rs->n_checks++]);
        json_decref(a);
    }
}

static void run_checks(struct run *r, struct report_scenario *rs)
{
    const struct harness_scenario *s = r->s;
    size_t i;
    json_t *c;
    int kills = 0;
    for (int k = 0; k < s->n_steps; k++)
        kills |= s->steps[k].sig == HARNESS_SIG_KILL;
    /* Each kind is added at most once. */
    rs->checks = co_calloc(json_array_size(s->checks) + harness_check_count(), sizeof *rs->checks);
    /* Per check, the kind the settings table knows it by when that is not
     * its own (NULL: its own). */
    const char **dep = co_calloc(json_array_size(s->checks) + harness_check_count(), sizeof *dep);
    /* Per check, the one relay it is asked of ("relay"; NULL: any). */
    const char **only = co_calloc(json_array_size(s->checks) + harness_check_count(), sizeof *only);
    run_implicit(r, rs, 1, kills);
    /* A relay that wrote no event log (a profile without "events", a relay
     * we only reach by URL, a raw command that ignores {events}) is judged
     * on the served view: switches are read from the colours that served
     * the clients (X-Served-By, else the mock's stamp in the body). */
    int black_box = !(r->obs.signals & HARNESS_SIG_EVENTS);
    json_array_foreach(s->checks, i, c)
    {
        const char *kind = json_string_value(json_object_get(c, "check"));
        /* An explicit "view": "events" asks about the relay's own state, which
         * only its event log shows: that stays inconclusive.  Which kinds
         * read the served colours instead is in their rows. */
        const char *view = json_string_value(json_object_get(c, "view"));
        struct harness_check_info k;
        if (black_box && (!view || strcmp(view, "both") == 0) &&
            harness_check_find(kind, &k) == 0 && k.served_fallback) {
            json_t *bb = json_deep_copy(c);
            json_object_set_new(bb, "view", json_string("served"));
            struct report_check *v = &rs->checks[rs->n_checks++];
            harness_check_run(bb, &r->obs, v);
            json_decref(bb);
            char d[sizeof v->detail];
            harness_v_fmt(d, sizeof d, "served view (the relay writes no event log)%s%s",
                          v->detail[0] ? "; " : "", v->detail);
            snprintf(v->detail, sizeof v->detail, "%s", d);
            continue;
        }
        /* A count of health probes depends on the probe settings, which
         * a count of traffic does not: the settings are health_probes'. */
        if (strcmp(kind, "upstream_count") == 0 && json_is_true(json_object_get(c, "health")))
            dep[rs->n_checks] = "health_probes";
        only[rs->n_checks] = json_string_value(json_object_get(c, "relay"));
        harness_check_run(c, &r->obs, &rs->checks[rs->n_checks++]);
    }
    run_implicit(r, rs, 0, kills);
    unmapped_inconclusive(r, rs, dep);
    fixed_not_applicable(r, rs, dep);
    other_relay_not_applicable(r, rs, only);
    free(dep);
    free(only);
    status_from_checks(rs);
}

/* How to read the relay's endpoints for probe steps: its profile's
 * "probes"; our own relay run without a profile reads as its profile
 * (relays/cutover-relay.json) says; a raw command or a relay reached by URL
 * declares none, and the checks that read probes say so. */
static void probe_map(struct run *r)
{
    struct harness_probe_map *m = &r->obs.probe_map;
    memset(m, 0, sizeof *m);
    if (r->o->profile) {
        *m = r->o->profile->probes;
        if (!m->path[0][0] && !m->path[1][0] && !m->path[2][0])
            harness_v_fmt(m->why_none, sizeof m->why_none,
                          "profile %s declares no endpoints (\"probes\")", r->o->profile->name);
        return;
    }
    char path[PATH_MAX], err[512] = "";
    struct harness_profile *own = NULL;
    if (!r->o->relay_cmd && !r->o->relay_url &&
        harness_profile_find("cutover-relay", path, sizeof path))
        own = harness_profile_load(path, err, sizeof err);
    if (own) {
        *m = own->probes;
        harness_profile_free(&own);
        return;
    }
    if (err[0]) {
        /* Found but not readable (a profile newer than this runner, say):
         * say so, not "not found". */
        harness_v_fmt(m->why_none, sizeof m->why_none, "%s", err);
        return;
    }
    snprintf(m->why_none, sizeof m->why_none, "%s",
             r->o->relay_cmd   ? "a raw --relay command declares no endpoints (use a profile with "
                                 "\"probes\")"
             : r->o->relay_url ? "a relay reached by --relay-url declares no endpoints"
                               : "relays/cutover-relay.json not found: no endpoints declared");
}

/* Whether a profile can point its relay at the direct mock ({direct_url}). */
static int profile_maps_direct(const struct harness_profile *p)
{
    if (p->all_settings)
        return 1;
    for (int i = 0; i < p->n_settings; i++)
        if (strcmp(p->settings[i], "direct_url") == 0)
            return 1;
    return 0;
}

/* The third upstream, for a relay's direct fallback: a mock like the
 * colours, on its own port, its journal read as "direct". */
static int start_direct(struct run *r)
{
    char err[512];
    struct mock_opts mo = {.name = "direct", .seed = r->o->seed * 2 + 2, .api_key = r->api_key};
    r->mock[2] = mock_new(r->loop, &mo, err, sizeof err);
    if (!r->mock[2]) {
        snprintf(r->error, sizeof r->error, "mock direct: %s", err);
        r->error_status = REPORT_ERROR;
        return -1;
    }
    if (mock_set_behavior(r->mock[2], r->s->direct, err, sizeof err) != 0) {
        snprintf(r->error, sizeof r->error, "mock direct behaviour: %s", err);
        r->error_status = REPORT_INVALID;
        return -1;
    }
    snprintf(r->colour_url[2], sizeof r->colour_url[2], "%s/v1", mock_url(r->mock[2]));
    return 0;
}

/* The run's folder, fresh key and token, and an event loop. */
static int run_init(struct run *r, struct report_scenario *rs, uint64_t started)
{
    const struct harness_scenario *s = r->s;
    const struct harness_run_opts *o = r->o;
    char base[256], folder[128];
    const char *slash = strrchr(s->file, '/');
    report_safe_name(slash ? slash + 1 : s->file, base, sizeof base);
    report_safe_name(s->folder, folder, sizeof folder);
    if (o->run_index > 0)
        snprintf(r->dir, sizeof r->dir, "%s/%s/%s.run%d", o->out_dir, folder, base, o->run_index);
    else
        snprintf(r->dir, sizeof r->dir, "%s/%s/%s", o->out_dir, folder, base);
    snprintf(rs->out_dir, sizeof rs->out_dir, "%s", r->dir);
    /* A fresh key per run: if it shows up anywhere, we know where it came from. */
    snprintf(r->api_key, sizeof r->api_key, "sk-cutover-%016llx%08x",
             (unsigned long long)(o->seed * 0x9e3779b97f4a7c15ull ^ started), (unsigned)getpid());
    snprintf(r->admin_token, sizeof r->admin_token, "admin-%llx", (unsigned long long)started);
    co_secret_add(r->api_key);
    if (harness_mkdirs(r->dir) != 0) {
        snprintf(r->error, sizeof r->error, "%s: cannot create: %s", r->dir, strerror(errno));
        r->error_status = REPORT_ERROR;
        return -1;
    }
    r->loop = ev_loop_new(EVFLAG_AUTO);
    if (!r->loop || co_evcurl_init(&r->curl, r->loop, harness_xfer_dispatch, 0, 0) != 0) {
        snprintf(r->error, sizeof r->error, "cannot set up the event loop");
        r->error_status = REPORT_ERROR;
        return -1;
    }
    return 0;
}

/* Blue and green (and direct) on the runner's loop, or a closed port for a
 * colour the scenario says refuses connections. */
static int start_mocks(struct run *r)
{
    static const char *const names[] = {"blue", "green"};
    const struct harness_scenario *s = r->s;
    const struct harness_run_opts *o = r->o;
    for (int c = 0; c < 2; c++) {
        if (s->refused[c]) {
            /* Nothing listens there: the relay sees "connection refused". */
            snprintf(r->colour_url[c], sizeof r->colour_url[c], "http://127.0.0.1:%d/v1",
                     harness_free_port());
            continue;
        }
        char err[512];
        struct mock_opts mo = {.name = names[c],
                               .port = (uint16_t)(c ? o->green_port : o->blue_port),
                               .seed = o->seed * 2 + (uint64_t)c,
                               .api_key = r->api_key};
        r->mock[c] = mock_new(r->loop, &mo, err, sizeof err);
        if (!r->mock[c]) {
            snprintf(r->error, sizeof r->error, "mock %s: %s", names[c], err);
            r->error_status = REPORT_ERROR;
            return -1;
        }
        if (mock_set_behavior(r->mock[c], s->upstream[c], err, sizeof err) != 0) {
            snprintf(r->error, sizeof r->error, "mock %s behaviour: %s", names[c], err);
            r->error_status = REPORT_INVALID;
            return -1;
        }
        snprintf(r->colour_url[c], sizeof r->colour_url[c], "%s/v1", mock_url(r->mock[c]));
    }
    return s->direct ? start_direct(r) : 0;
}

/* Replica i's folder and files: the run's own for replica 0 (the one-relay
 * layout), dir/replica-i for the others. */
static int replica_paths(struct run *r, int i)
{
    struct replica *rp = &r->rep[i];
    const struct harness_profile *p = r->o->profile;
    rp->index = i;
    if (i == 0)
        harness_v_fmt(rp->dir, sizeof rp->dir, "%s", r->dir);
    else
        harness_v_fmt(rp->dir, sizeof rp->dir, "%s/replica-%d", r->dir, i);
    if (harness_mkdirs(rp->dir) != 0) {
        fail(r, REPORT_ERROR, "%s: cannot create: %s", rp->dir, strerror(errno));
        return -1;
    }
    harness_v_fmt(rp->events_path, sizeof rp->events_path, "%s/events.jsonl", rp->dir);
    harness_v_fmt(rp->out_path, sizeof rp->out_path, "%s/relay.out", rp->dir);
    harness_v_fmt(rp->err_path, sizeof rp->err_path, "%s/relay.err", rp->dir);
    harness_v_fmt(rp->key_path, sizeof rp->key_path, "%s/upstream.key", rp->dir);
    harness_v_fmt(rp->config_path, sizeof rp->config_path, "%s/%s", rp->dir,
                  p && p->config_file[0] ? p->config_file : "relay.json");
    /* Stale files of an earlier run in the same --out would mislead us (an
     * old "listening on" line names a dead port). */
    unlink(rp->events_path);
    unlink(rp->out_path);
    unlink(rp->err_path);
    return 0;
}

/* A relay that runs already (--relay-url): nothing to start, stop or signal. */
static int attach_running(struct run *r)
{
    const struct harness_scenario *s = r->s;
    r->n_rep = 1;
    /* Its files stay where a single relay's go (none are written there). */
    if (replica_paths(r, 0) != 0)
        return -1;
    snprintf(r->rep[0].url, sizeof r->rep[0].url, "%s", r->o->relay_url);
    size_t ul = strlen(r->rep[0].url);
    if (ul && r->rep[0].url[ul - 1] == '/')
        r->rep[0].url[ul - 1] = '\0';
    int sigs = 0;
    for (int k = 0; k < s->n_steps; k++)
        sigs |= s->steps[k].sig != HARNESS_SIG_NONE;
    /* Its settings are its own; only the premises the scenario needs
     * from it are listed, so that their checks turn inconclusive. */
    static const char *const premises[] = {"rate_limit_requests", "client_keys", "active_env",
                                           "direct_url"};
    for (size_t k = 0; k < sizeof premises / sizeof premises[0]; k++)
        if (json_object_get(s->relay, premises[k]))
            r->unmapped[r->n_unmapped++] = premises[k];
    if (s->admin_used)
        r->unmapped[r->n_unmapped++] = "admin API";
    if (s->direct)
        r->unmapped[r->n_unmapped++] = "direct_url";
    if (sigs)
        r->unmapped[r->n_unmapped++] = "relay process";
    return 0;
}

/* The settings a profile or raw command cannot give the relay. */
static void find_unmapped(struct run *r)
{
    const struct harness_profile *p = r->o->profile;
    const struct harness_scenario *s = r->s;
    if (p) {
        r->n_unmapped =
            harness_profile_unmapped(p, s->relay, s->admin_used, r->unmapped, HARNESS_MAX_UNMAPPED);
        if (s->direct && !profile_maps_direct(p) && r->n_unmapped < HARNESS_MAX_UNMAPPED)
            r->unmapped[r->n_unmapped++] = "direct_url";
        r->n_fixed = harness_profile_fixed_conflicts(p, s->relay, r->fixed, HARNESS_MAX_UNMAPPED);
    } else if (r->o->relay_cmd) {
        raw_unmapped(r);
    }
}

/* How many replicas, and whether the fleet fits this run: --replicas over
 * the scenario's count, and every step's replica among them. */
static int fleet_size(struct run *r)
{
    const struct harness_scenario *s = r->s;
    int n = r->o->replicas > 0 ? r->o->replicas : s->fleet.replicas;
    if (n > 1 && r->o->relay_url) {
        fail(r, REPORT_INVALID,
             "%s: $.fleet: a fleet of %d replicas needs the runner to start them (not "
             "--relay-url)",
             s->file, n);
        return -1;
    }
    if (s->max_replica_step >= n) {
        fail(r, REPORT_INVALID,
             "%s: $.timeline: a step names replica %d, but the run has %d replica(s) (--replicas)",
             s->file, s->max_replica_step, n);
        return -1;
    }
    if (s->max_replica_check >= n) {
        fail(r, REPORT_INVALID,
             "%s: $.expect: a check names replica %d, but the run has %d replica(s) (--replicas)",
             s->file, s->max_replica_check, n);
        return -1;
    }
    r->n_rep = n < 1 ? 1 : n;
    r->spread = s->fleet.spread;
    return 0;
}

/* Redis when the scenario asks for one (or --replicas makes a fleet of a
 * scenario that says nothing), then every replica from the profile. */
static int start_fleet(struct run *r)
{
    const struct harness_scenario *s = r->s;
    const struct harness_profile *p = r->o->profile;
    /* A relay whose command or config names {redis_url} gets a store even
     * alone: it may not start without one. */
    int needs = p && p->shared && !p->config_json;
    int want_redis = s->fleet.declared ? s->fleet.redis : r->n_rep > 1 || needs;
    char err[512];
    if (want_redis && harness_redis_start(&r->redis, r->dir, 3000, err, sizeof err) != 0) {
        fail(r, REPORT_ERROR, "%s", err);
        return -1;
    }
    r->obs.n_replicas = r->n_rep;
    r->obs.fleet_shared = takes_store(r);
    for (int i = 0; i < r->n_rep; i++) {
        if (replica_paths(r, i) != 0)
            return -1;
        struct replica *rp = &r->rep[i];
        if (((!r->o->profile || r->o->profile->config_json) && write_config(r, rp) != 0) ||
            spawn_relay(r, rp) != 0)
            return -1;
    }
    return 0;
}

/* Starts what the run drives: a running relay, or the fleet. */
static int start_relays(struct run *r)
{
    if (fleet_size(r) != 0)
        return -1;
    if (r->o->relay_url)
        return attach_running(r);
    if (r->o->profile) {
        char abs[PATH_MAX];
        if (realpath(r->dir, abs))
            harness_v_fmt(r->dir, sizeof r->dir, "%s", abs);
    }
    find_unmapped(r);
    return start_fleet(r);
}

/* The scenario's relay "prices" (model -> USD per million tokens), what
 * metrics_truth's "cost" counter is observed with. */
static void prices(struct run *r)
{
    const char *model;
    json_t *v;
    r->obs.n_prices = 0;
    json_object_foreach(json_object_get(r->s->relay, "prices"), model, v)
    {
        double d;
        if (r->obs.n_prices >= sizeof r->obs.prices / sizeof r->obs.prices[0] ||
            co_json_number(v, &d) != 0)
            continue;
        snprintf(r->obs.prices[r->obs.n_prices].model, sizeof r->obs.prices[0].model, "%s", model);
        r->obs.prices[r->obs.n_prices++].usd_per_million = d;
    }
}

/* Readiness, timeline, traffic and settle, all on the loop. */
static void run_loop(struct run *r)
{
    const struct harness_run_opts *o = r->o;
    snprintf(r->ready_path, sizeof r->ready_path, "%s",
             o->profile ? o->profile->ready_path : "/health");
    uint64_t ready_us = o->profile ? o->profile->ready_timeout_us : 5000000;
    r->prober.curl = &r->curl;
    r->prober.obs = &r->obs;
    probe_map(r);
    prices(r);
    /* Our own relay's limiter is a sliding window (docs/relay.md); a raw
     * command or a URL says nothing of its own. */
    snprintf(r->obs.rl_kind, sizeof r->obs.rl_kind, "%s",
             o->profile                       ? o->profile->rl_kind
             : !o->relay_cmd && !o->relay_url ? "sliding"
                                              : "");
    r->obs.rl_burst = o->profile ? o->profile->rl_burst : 0;
    double rl_w = 0;
    if (co_json_number(json_object_get(r->s->relay, "rate_limit_window_ms"), &rl_w) == 0)
        r->obs.rl_window_us = rl_w * 1000.0;
    r->obs.rl_limit = (long)json_integer_value(json_object_get(r->s->relay, "rate_limit_requests"));
    ev_timer_init(&r->poll, on_poll, 0.0, 0.01);
    r->poll.data = r;
    ev_timer_start(r->loop, &r->poll);
    ev_timer_init(&r->steps, on_steps, 0, 0);
    r->steps.data = r;
    ev_timer_init(&r->settle, on_settle, 0, 0);
    r->settle.data = r;
    r->t_start_deadline =
        co_now_us() + (uint64_t)((double)ready_us * (o->time_scale > 0 ? o->time_scale : 1));
    r->t_hard_deadline = UINT64_MAX;
    ev_run(r->loop, 0);
}

/* Whether the fleet is alive at the end: every replica the scenario did
 * not end itself (a --relay-url relay counts as alive). */
static void note_alive(struct run *r)
{
    int alive = 1, killed = 0;
    for (int i = 0; i < r->n_rep; i++) {
        struct replica *rp = &r->rep[i];
        killed |= rp->killed;
        if (rp->ended)
            r->obs.replica_gone |= 1u << i;
        if (rp->pid <= 0 || rp->ended)
            continue;
        if (rp->exited) {
            alive = 0;
            if (!r->obs.relay_exit[0])
                describe_exit(rp->status, r->obs.relay_exit, sizeof r->obs.relay_exit);
        }
    }
    r->obs.relay_alive = r->o->relay_url != NULL || (r->rep[0].pid > 0 && alive);
    r->obs.relay_killed = killed;
}

/* Done, failed or interrupted: the client log and the journals. */
static void collect_run(struct run *r, struct report_scenario *rs)
{
    reap(r);
    note_alive(r);
    r->obs.t_end = co_now_us();
    if (r->traffic_started) {
        harness_traffic_stop(&r->traffic);
        harness_driver_measure(&r->traffic, &rs->driver);
        r->obs.reqs = r->traffic.reqs;
        r->obs.n_reqs = r->traffic.n_reqs;
        r->traffic.reqs = NULL;
        count_answer_leaks(r);
    }
    collect_journal(r, 0, "blue");
    collect_journal(r, 1, "green");
    collect_journal(r, 2, "direct");
    harness_obs_sort(&r->obs);
}

/* How the fleet shut down: the first SIGTERM, the last exit, and clean
 * only when every replica alive at teardown exited 0. */
static void record_exit(struct run *r)
{
    int clean = 1, any = 0;
    for (int i = 0; i < r->n_rep; i++) {
        const struct replica *rp = &r->rep[i];
        if (rp->pid <= 0 || rp->ended)
            continue;
        any = 1;
        if (rp->t_term && (!r->obs.term_t || rp->t_term < r->obs.term_t))
            r->obs.term_t = rp->t_term;
        if (rp->t_exit > r->obs.exit_t)
            r->obs.exit_t = rp->t_exit;
        int ok = WIFEXITED(rp->status) && WEXITSTATUS(rp->status) == 0;
        if ((!ok && clean) || !r->obs.exit_how[0])
            describe_exit(rp->status, r->obs.exit_how, sizeof r->obs.exit_how);
        clean &= ok;
    }
    if (any)
        r->obs.exit_clean = clean;
}

/* Abandons admin calls still in flight (a hung relay), counting them. */
static void drop_admins(struct run *r)
{
    while (r->admins) {
        struct admin_xfer *a = r->admins;
        r->admins = a->next;
        co_evcurl_remove(&r->curl, a->easy);
        curl_easy_cleanup(a->easy);
        curl_slist_free_all(a->hdrs);
        if (!r->obs.admin_failed++)
            snprintf(r->obs.admin_error, sizeof r->obs.admin_error,
                     "%s %s (step %d) never answered", r->s->steps[a->step].admin_method,
                     r->s->steps[a->step].admin_path, a->step);
        r->obs.admin_calls++;
        free(a);
    }
}

/* Leaves no child and no transfer behind: probes, replicas, Redis, timers,
 * admin calls, curl, mocks, loop. */
static void teardown(struct run *r)
{
    for (int i = 0; i < r->n_rep; i++) {
        struct probe_xfer *p = r->rep[i].probe;
        if (!p)
            continue;
        co_evcurl_remove(&r->curl, p->easy);
        curl_easy_cleanup(p->easy);
        curl_slist_free_all(p->hdrs);
        free(p);
        r->rep[i].probe = NULL;
    }
    stop_relay(r);
    for (int i = 0; i < r->n_rep; i++)
        if (r->rep[i].key_path[0])
            unlink(r->rep[i].key_path);
    harness_redis_stop(&r->redis);
    record_exit(r);
    if (r->loop) {
        ev_timer_stop(r->loop, &r->poll);
        ev_timer_stop(r->loop, &r->steps);
        ev_timer_stop(r->loop, &r->settle);
    }
    if (r->traffic_started)
        harness_traffic_free(&r->traffic);
    drop_admins(r);
    if (r->curl.multi) {
        harness_probe_abort(&r->prober);
        co_evcurl_cleanup(&r->curl);
    }
    for (int c = 0; c < 3; c++)
        mock_free(&r->mock[c]);
    if (r->loop)
        ev_loop_destroy(r->loop);
}

/* The key in any file a replica wrote. */
static void scan_leaks(struct run *r)
{
    const struct harness_profile *p = r->o->profile;
    for (int i = 0; i < r->n_rep; i++) {
        const struct replica *rp = &r->rep[i];
        scan_leak(r, rp->events_path, "relay events");
        scan_leak(r, rp->out_path, "relay stdout");
        scan_leak(r, rp->err_path, "relay stderr");
        count_stderr(r, rp->err_path);
        /* A profile may hand the key over in its config ({api_key}): the
         * runner wrote it there, the relay did not leak it. */
        if (!p || !p->config_template || !strstr(p->config_template, "{api_key}"))
            scan_leak(r, rp->config_path, "relay config");
    }
}

/* The report row: identity, observations, verdict. */
static void finish(struct run *r, struct report_scenario *rs, uint64_t started)
{
    const struct harness_scenario *s = r->s;
    collect_events(r);
    scan_leaks(r);
    write_client_log(r);
    /* The key on the relay's own endpoints is a leak; it is blanked before
     * the probes are written out. */
    if (r->obs.n_probes) {
        r->obs.leak_scanned++;
        if (harness_probe_redact(&r->obs, r->api_key)) {
            size_t len = strlen(r->obs.leak_where);
            r->obs.secret_leaks++;
            snprintf(r->obs.leak_where + len, sizeof r->obs.leak_where - len, "%srelay endpoints",
                     len ? ", " : "");
        }
    }
    harness_probe_finish(&r->obs, r->dir);
    observe(r, rs);
    snprintf(rs->name, sizeof rs->name, "%s", s->name);
    snprintf(rs->file, sizeof rs->file, "%s", s->file);
    snprintf(rs->folder, sizeof rs->folder, "%s", s->folder);
    snprintf(rs->description, sizeof rs->description, "%s", s->description);
    harness_scenario_tags(s, rs->tags, sizeof rs->tags);
    rs->seed = r->o->seed;
    rs->t0_us = r->obs.t0; /* the 0 of the HTML report's time axis */
    rs->requests = (long)r->obs.n_reqs;
    rs->doc = json_incref(s->doc);
    rs->log_tail = r->n_rep ? tail_of(r->rep[0].err_path, 2048) : NULL;
    if (r->error[0]) {
        snprintf(rs->error, sizeof rs->error, "%s", r->error);
        rs->status = r->error_status ? r->error_status : REPORT_ERROR;
        rs->port_taken = r->port_taken;
    } else {
        run_checks(r, rs);
        harness_driver_apply(rs);
    }
    rs->duration_s = (double)(co_now_us() - started) / 1e6;
}

int harness_run_scenario(const struct harness_scenario *s, const struct harness_run_opts *o,
                         struct report_scenario *rs)
{
    struct run *r = co_calloc(1, sizeof *r);
    uint64_t started = co_now_us();
    r->s = s;
    r->o = o;
    r->phase = PH_START;
    if (run_init(r, rs, started) == 0 && start_mocks(r) == 0 && start_relays(r) == 0) {
        run_loop(r);
        collect_run(r, rs);
    }
    teardown(r);
    finish(r, rs, started);
    harness_obs_free(&r->obs);
    co_secret_clear();
    int st = rs->status;
    free(r);
    return st;
}
